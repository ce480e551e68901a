/*
 * bench/storage_put.c — cordon-bench-storage: signed objects accepted per second and
 * fetches served per second by ONE real `cordon-peer run`, over a real DTLS link on
 * loopback (bench/storage drives it; see bench/README.md).
 *
 *   cordon-bench-storage --dir DIR --overlay NAME --server 127.0.0.1:PORT
 *                        [--count N] [--window W] [--value-size S] [--timeout-ms T]
 *                        [--run R]
 *
 * DIR is an enrolled identity (node.key, node.crt, ca.crt, crl.pem), not the peer's. N
 * objects of kind owned (distinct names, a per-run prefix so that a rerun against the same
 * store stores new entries; --run R fixes the prefix, so that a second run names the same
 * entries again, at the same seq: tests/integration/peer_store_burst.sh) are signed and encoded as
 * STORE messages BEFORE anything is timed: the client's signing is not what is measured. Then one
 * link to the peer, opened and proven by a first PING/PONG outside the timing, carries: puts the N
 * STOREs, W in flight (a new one goes as each STORED comes back); counts STORED accepted, STORED
 * refused (by code) and those with no answer within T; fetches  a FETCH of each stored entry, W in
 * flight; counts OBJECT answers that carry exactly the bytes stored, and any other answer. Each
 * phase runs from its first send to its last answer; the rate is answers / time. The link table,
 * the fragmentation and the message codec are the peer's own (peer/link.h, wire/frag.h,
 * wire/msg.h), as bench/dtls_handshake_link.c uses them.
 *
 * Output: one line per phase, "put ..." and "fetch ...", key=value, for the script.
 * Exit status 0 when every put was accepted and every fetch returned its object, 1 when
 * not (the figures are printed either way), 2 for a usage or setup error.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/limits.h"
#include "crypto/crypto.h"
#include "crypto/object.h"
#include "peer/link.h"
#include "wire/frag.h"
#include "wire/msg.h"
#include "wire/object.h"

#define COUNT_MAX 1000000
#define BATCH_DATAGRAMS 64 /* sent with one sendmmsg, read with one recvmmsg */
#define WINDOW_MAX 4096
#define LIFETIME_S 3600

struct item {
    uint8_t *store_msg; /* the encoded STORE message */
    size_t store_len;
    const uint8_t *object; /* inside store_msg */
    size_t object_len;
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    uint64_t sent_ms; /* of the message in flight; 0: none */
    bool done;
};

struct bench {
    int fd;
    struct sockaddr_in server;
    cordon_links *links;
    struct cordon_frag_rx *rx;
    struct cordon_link_identity id;
    uint32_t next_msg_id;
    bool up, failed;

    struct item *items;
    size_t count, window, timeout_ms;
    /* The phase running: which type answers count, and its tally. */
    uint8_t answer_type;
    size_t next, inflight, answered;
    uint64_t ok, refused, lost, wrong;
    uint64_t codes[64]; /* STORED refusals by code (codes >= 63 in the last) */
    double last_answer; /* when the phase's last answer came */
    /* Datagrams the link table sent, waiting for one sendmmsg: on a VM a system call costs
     * as much as the DTLS record, and the client must not be what the figure measures. */
    uint8_t (*out)[CORDON_LINK_DATAGRAM_MAX];
    size_t out_len[BATCH_DATAGRAMS];
    size_t n_out;
    bool pong;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the link ----------------------------------------------------------------------- */

static void flush(struct bench *b)
{
    struct mmsghdr m[BATCH_DATAGRAMS];
    struct iovec iov[BATCH_DATAGRAMS];
    size_t done = 0;
    memset(m, 0, sizeof(m));
    for (size_t i = 0; i < b->n_out; i++) {
        iov[i].iov_base = b->out[i];
        iov[i].iov_len = b->out_len[i];
        m[i].msg_hdr.msg_name = &b->server;
        m[i].msg_hdr.msg_namelen = sizeof(b->server);
        m[i].msg_hdr.msg_iov = &iov[i];
        m[i].msg_hdr.msg_iovlen = 1;
    }
    while (done < b->n_out) {
        int n = sendmmsg(b->fd, m + done, (unsigned)(b->n_out - done), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n <= 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* a full buffer is loss, as for the peer */
        done += (size_t)n;
    }
    b->n_out = 0;
}

/* Every datagram goes to the one server (the table sends nowhere else here). */
static void on_send(void *ctx, const struct sockaddr *to, socklen_t tolen, const uint8_t *data,
                    size_t len)
{
    struct bench *b = ctx;
    (void)to;
    (void)tolen;
    if (len > CORDON_LINK_DATAGRAM_MAX)
        return;
    if (b->n_out == BATCH_DATAGRAMS)
        flush(b);
    memcpy(b->out[b->n_out], data, len);
    b->out_len[b->n_out++] = len;
}

static void on_answer(struct bench *b, const struct cordon_msg *m);

static void on_deliver(void *ctx, const uint8_t node_id[CORDON_NODE_ID_LEN],
                       const struct sockaddr *from, socklen_t fromlen, const uint8_t *data,
                       size_t len)
{
    struct bench *b = ctx;
    const uint8_t *msg = NULL;
    size_t msg_len = 0;
    struct cordon_msg m;
    (void)node_id;
    (void)from;
    (void)fromlen;
    if (cordon_frag_rx_push(b->rx, data, len, now_ms(), &msg, &msg_len) != CORDON_OK || msg == NULL)
        return;
    if (cordon_msg_decode(msg, msg_len, &m) != CORDON_OK) {
        b->wrong++;
        return;
    }
    on_answer(b, &m);
}

static void on_link_up(void *ctx, const uint8_t node_id[CORDON_NODE_ID_LEN],
                       const struct sockaddr *addr, socklen_t addrlen)
{
    struct bench *b = ctx;
    (void)node_id;
    (void)addr;
    (void)addrlen;
    b->up = true;
}

static void on_link_failed(void *ctx, const struct sockaddr *addr, socklen_t addrlen,
                           const uint8_t *expected, cordon_err reason)
{
    struct bench *b = ctx;
    (void)addr;
    (void)addrlen;
    (void)expected;
    fprintf(stderr, "cordon-bench-storage: the link failed: %s\n", cordon_strerror(reason));
    b->failed = true;
}

static int64_t on_wall_time(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

static cordon_err emit_record(void *ctx, const uint8_t *rec, size_t len)
{
    struct bench *b = ctx;
    return cordon_links_send(b->links, now_ms(), (const struct sockaddr *)&b->server,
                             sizeof(b->server), NULL, rec, len);
}

static cordon_err send_msg(struct bench *b, const uint8_t *msg, size_t len)
{
    return cordon_frag_split(msg, len, b->next_msg_id++, emit_record, b);
}

/* Sends what is waiting, reads what the socket holds (recvmmsg) and runs the table's
 * timers; waits at most wait_ms. */
static void pump(struct bench *b, int wait_ms)
{
    static uint8_t bufs[BATCH_DATAGRAMS][CORDON_LINK_DATAGRAM_MAX + 1];
    struct mmsghdr m[BATCH_DATAGRAMS];
    struct iovec iov[BATCH_DATAGRAMS];
    struct sockaddr_storage from[BATCH_DATAGRAMS];
    struct pollfd p = {.fd = b->fd, .events = POLLIN};
    flush(b);
    uint64_t t = now_ms();
    uint64_t d = cordon_links_next_deadline(b->links, t);
    if (d <= t)
        wait_ms = 0;
    else if (d - t < (uint64_t)wait_ms)
        wait_ms = (int)(d - t);
    if (poll(&p, 1, wait_ms) > 0) {
        for (int round = 0; round < 4; round++) {
            memset(m, 0, sizeof(m));
            for (size_t i = 0; i < BATCH_DATAGRAMS; i++) {
                iov[i].iov_base = bufs[i];
                iov[i].iov_len = sizeof(bufs[i]);
                m[i].msg_hdr.msg_name = &from[i];
                m[i].msg_hdr.msg_namelen = sizeof(from[i]);
                m[i].msg_hdr.msg_iov = &iov[i];
                m[i].msg_hdr.msg_iovlen = 1;
            }
            int n = recvmmsg(b->fd, m, BATCH_DATAGRAMS, MSG_DONTWAIT, NULL);
            if (n <= 0)
                break;
            for (int i = 0; i < n; i++)
                cordon_links_input(b->links, now_ms(), (const struct sockaddr *)&from[i],
                                   m[i].msg_hdr.msg_namelen, bufs[i], m[i].msg_len);
            if (n < BATCH_DATAGRAMS)
                break;
        }
    }
    cordon_links_tick(b->links, now_ms());
    flush(b);
}

/* ---- the phases --------------------------------------------------------------------- */

/* txid i + 1 is item i, in both phases. */
static struct item *item_of(struct bench *b, uint32_t txid)
{
    if (txid == 0 || txid > b->count)
        return NULL;
    struct item *it = &b->items[txid - 1];
    return it->sent_ms != 0 && !it->done ? it : NULL;
}

static void on_answer(struct bench *b, const struct cordon_msg *m)
{
    if (m->type == CORDON_MSG_PONG) {
        b->pong = true;
        return;
    }
    if ((m->flags & CORDON_MSG_FLAG_RESPONSE) == 0)
        return; /* the peer's own requests (a PING of a new contact): not answered */
    struct item *it = item_of(b, m->txid);
    if (it == NULL || m->type != b->answer_type) {
        b->wrong++;
        return;
    }
    it->done = true;
    b->inflight--;
    b->answered++;
    b->last_answer = now_s();
    if (m->type == CORDON_MSG_STORED) {
        if (m->u.stored.code == CORDON_STORED_ACCEPTED) {
            b->ok++;
        } else {
            b->refused++;
            b->codes[m->u.stored.code < 63 ? m->u.stored.code : 63]++;
        }
    } else if (m->u.object.found && m->u.object.len == it->object_len &&
               memcmp(m->u.object.object, it->object, it->object_len) == 0) {
        b->ok++;
    } else {
        b->refused++;
    }
}

static bool send_item(struct bench *b, size_t i, uint8_t type)
{
    struct item *it = &b->items[i];
    uint8_t fetch[CORDON_MSG_MAX];
    size_t len;
    cordon_err err;
    it->sent_ms = now_ms();
    it->done = false;
    if (type == CORDON_MSG_STORE) {
        err = send_msg(b, it->store_msg, it->store_len);
    } else {
        struct cordon_msg m;
        memset(&m, 0, sizeof(m));
        m.type = CORDON_MSG_FETCH;
        m.txid = (uint32_t)(i + 1);
        memcpy(m.u.fetch.key, it->key, sizeof(it->key));
        err = cordon_msg_encode(&m, fetch, sizeof(fetch), &len);
        if (err == CORDON_OK)
            err = send_msg(b, fetch, len);
    }
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-bench-storage: send: %s\n", cordon_strerror(err));
        return false;
    }
    b->inflight++;
    return true;
}

/* One phase: every item once, window in flight; seconds from the first send to the last
 * answer (a request that got none is counted lost, and its timeout is not timed). */
static bool run_phase(struct bench *b, uint8_t request, uint8_t answer, double *seconds)
{
    b->answer_type = answer;
    b->next = 0;
    b->inflight = 0;
    b->answered = 0;
    b->ok = b->refused = b->lost = b->wrong = 0;
    memset(b->codes, 0, sizeof(b->codes));
    for (size_t i = 0; i < b->count; i++) {
        b->items[i].sent_ms = 0;
        b->items[i].done = false;
    }
    double t0 = now_s();
    size_t oldest = 0; /* items before it are done or lost */
    while (b->answered + b->lost < b->count && !b->failed) {
        while (b->inflight < b->window && b->next < b->count) {
            if (!send_item(b, b->next, request))
                return false;
            b->next++;
        }
        pump(b, 10);
        /* Items go out in order, so the oldest unanswered one times out first. */
        uint64_t t = now_ms();
        while (oldest < b->next) {
            struct item *it = &b->items[oldest];
            if (it->done) {
                oldest++;
                continue;
            }
            if (t - it->sent_ms < b->timeout_ms)
                break;
            it->done = true; /* a late answer is counted as wrong */
            b->inflight--;
            b->lost++;
            oldest++;
        }
    }
    *seconds = b->answered > 0 ? b->last_answer - t0 : now_s() - t0;
    return !b->failed;
}

/* ---- setup -------------------------------------------------------------------------- */

static bool parse_size(const char *s, size_t min, size_t max, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return false;
    *out = (size_t)v;
    return true;
}

static bool parse_server(const char *s, struct sockaddr_in *out)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    size_t port;
    if (colon == NULL || (size_t)(colon - s) >= sizeof(host) ||
        !parse_size(colon + 1, 1, 65535, &port))
        return false;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &out->sin_addr) == 1;
}

/* Signs every object and encodes its STORE message; the names carry run, so that objects
 * of another run are other entries. */
static bool presign(struct bench *b, const char *overlay, size_t value_size, uint64_t run)
{
    cordon_buf der;
    uint8_t writer[CORDON_NODE_ID_LEN];
    uint8_t *obj = malloc(CORDON_OBJECT_MAX);
    uint8_t *value = malloc(value_size ? value_size : 1);
    bool ok = false;
    cordon_buf_init(&der, CORDON_CERT_MAX, false);
    if (obj == NULL || value == NULL || cordon_cert_der(b->id.cert, &der) != CORDON_OK ||
        cordon_cert_node_id(b->id.cert, overlay, writer) != CORDON_OK)
        goto out;
    memset(value, 'v', value_size);
    uint64_t created = (uint64_t)time(NULL);
    for (size_t i = 0; i < b->count; i++) {
        char name[64];
        struct cordon_object o;
        struct cordon_msg m;
        size_t len, mlen;
        snprintf(name, sizeof(name), "bench-%016" PRIx64 "-%zu", run, i);
        memset(&o, 0, sizeof(o));
        o.kind = CORDON_KIND_OWNED;
        snprintf(o.overlay, sizeof(o.overlay), "%s", overlay);
        o.name = (const uint8_t *)name;
        o.name_len = strlen(name);
        memcpy(o.writer, writer, sizeof(writer));
        o.seq = 1;
        o.created_at = created;
        o.lifetime = LIFETIME_S;
        o.value = value;
        o.value_len = value_size;
        o.cert = der.data;
        o.cert_len = der.len;
        if (cordon_object_sign(b->id.key, &o, obj, CORDON_OBJECT_MAX, &len) != CORDON_OK)
            goto out;
        cordon_object_entry_key(&o, b->items[i].key);
        memset(&m, 0, sizeof(m));
        m.type = CORDON_MSG_STORE;
        m.txid = (uint32_t)(i + 1);
        m.u.store.object = obj;
        m.u.store.len = len;
        b->items[i].store_msg = malloc(CORDON_MSG_HEADER_LEN + 4 + len);
        if (b->items[i].store_msg == NULL ||
            cordon_msg_encode(&m, b->items[i].store_msg, CORDON_MSG_HEADER_LEN + 4 + len, &mlen) !=
                CORDON_OK)
            goto out;
        b->items[i].store_len = mlen;
        b->items[i].object = b->items[i].store_msg + CORDON_MSG_HEADER_LEN + 4;
        b->items[i].object_len = len;
    }
    ok = true;
out:
    cordon_buf_free(&der);
    free(obj);
    free(value);
    return ok;
}

/* Opens the link with a PING and waits for its PONG (at most 10 s): the handshake and
 * the peer's first look at this node are not part of any phase. */
static bool open_link(struct bench *b)
{
    struct cordon_msg m;
    uint8_t ping[CORDON_MSG_MAX];
    size_t len;
    memset(&m, 0, sizeof(m));
    m.type = CORDON_MSG_PING;
    m.txid = UINT32_MAX;
    if (cordon_msg_encode(&m, ping, sizeof(ping), &len) != CORDON_OK ||
        send_msg(b, ping, len) != CORDON_OK)
        return false;
    uint64_t until = now_ms() + 10000;
    while (!b->pong && !b->failed && now_ms() < until)
        pump(b, 50);
    return b->pong;
}

static void usage(void)
{
    fprintf(stderr, "usage: cordon-bench-storage --dir DIR --overlay NAME --server IPV4:PORT\n"
                    "       [--count N] [--window W] [--value-size BYTES] [--timeout-ms MS]\n"
                    "       [--run N]\n");
}

static void print_phase(const char *name, const struct bench *b, double seconds)
{
    printf("%s count=%zu window=%zu ok=%" PRIu64 " refused=%" PRIu64 " lost=%" PRIu64
           " wrong=%" PRIu64 " seconds=%.3f rate=%.0f",
           name, b->count, b->window, b->ok, b->refused, b->lost, b->wrong, seconds,
           seconds > 0 ? (double)b->ok / seconds : 0.0);
    for (size_t c = 0; c < 64; c++) {
        if (b->codes[c] > 0)
            printf(" code%zu=%" PRIu64, c, b->codes[c]);
    }
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *overlay = NULL, *server = NULL;
    size_t value_size = 64, fixed_run = 0;
    bool has_run = false;
    struct bench b;
    int rc = 2;
    memset(&b, 0, sizeof(b));
    b.fd = -1;
    b.count = 10000;
    b.window = 64;
    b.timeout_ms = 5000;
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = v != NULL;
        if (ok && strcmp(a, "--dir") == 0)
            dir = v;
        else if (ok && strcmp(a, "--overlay") == 0)
            overlay = v;
        else if (ok && strcmp(a, "--server") == 0)
            server = v;
        else if (ok && strcmp(a, "--count") == 0)
            ok = parse_size(v, 1, COUNT_MAX, &b.count);
        else if (ok && strcmp(a, "--window") == 0)
            ok = parse_size(v, 1, WINDOW_MAX, &b.window);
        else if (ok && strcmp(a, "--value-size") == 0)
            ok = parse_size(v, 0, 1000, &value_size);
        else if (ok && strcmp(a, "--timeout-ms") == 0)
            ok = parse_size(v, 1, 600000, &b.timeout_ms);
        else if (ok && strcmp(a, "--run") == 0)
            ok = has_run = parse_size(v, 0, SIZE_MAX, &fixed_run);
        else
            ok = false;
        if (!ok) {
            usage();
            return 2;
        }
    }
    if (dir == NULL || overlay == NULL || server == NULL || !parse_server(server, &b.server)) {
        usage();
        return 2;
    }
    if (cordon_link_identity_load(dir, overlay, &b.id) != CORDON_OK) {
        fprintf(stderr, "cordon-bench-storage: cannot load the identity in %s\n", dir);
        return 2;
    }
    b.items = calloc(b.count, sizeof(*b.items));
    b.out = malloc(BATCH_DATAGRAMS * sizeof(*b.out));
    uint64_t run = fixed_run;
    if (b.items == NULL || b.out == NULL ||
        (!has_run && cordon_random(&run, sizeof(run)) != CORDON_OK))
        goto out;
    double t0 = now_s();
    if (!presign(&b, overlay, value_size, run)) {
        fprintf(stderr, "cordon-bench-storage: signing the objects failed\n");
        goto out;
    }
    fprintf(stderr,
            "cordon-bench-storage: %zu objects of %zu value bytes (%zu bytes each) "
            "signed in %.1f s, before the timing\n",
            b.count, value_size, b.items[0].object_len, now_s() - t0);

    b.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in any = {.sin_family = AF_INET};
    any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (b.fd < 0 || bind(b.fd, (const struct sockaddr *)&any, sizeof(any)) != 0)
        goto out;
    int sz = 4 << 20; /* the window's answers arrive together */
    (void)setsockopt(b.fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    struct cordon_link_config cfg;
    cordon_link_config_default(&cfg);
    cfg.max_links = 4;
    cfg.max_half_open = 4;
    cfg.max_sessions = 0;
    struct cordon_link_host host = {.ctx = &b,
                                    .send_datagram = on_send,
                                    .deliver = on_deliver,
                                    .link_up = on_link_up,
                                    .link_failed = on_link_failed,
                                    .wall_time = on_wall_time};
    if (cordon_links_new(&cfg, &b.id, &host, &b.links) != CORDON_OK ||
        cordon_frag_rx_new(NULL, &b.rx) != CORDON_OK)
        goto out;
    if (!open_link(&b)) {
        fprintf(stderr, "cordon-bench-storage: no PONG from %s\n", server);
        goto out;
    }

    double put_s = 0, fetch_s = 0;
    if (!run_phase(&b, CORDON_MSG_STORE, CORDON_MSG_STORED, &put_s))
        goto out;
    print_phase("put", &b, put_s);
    bool all = b.ok == b.count;
    if (!run_phase(&b, CORDON_MSG_FETCH, CORDON_MSG_OBJECT, &fetch_s))
        goto out;
    print_phase("fetch", &b, fetch_s);
    all = all && b.ok == b.count;
    rc = all ? 0 : 1;
out:
    if (b.links != NULL) {
        cordon_err err = cordon_links_close(b.links, now_ms(), (const struct sockaddr *)&b.server,
                                            sizeof(b.server));
        (void)err; /* CORDON_ERR_NOT_FOUND: the link was gone already */
        cordon_links_free(b.links);
    }
    cordon_frag_rx_free(b.rx);
    if (b.fd >= 0)
        close(b.fd);
    for (size_t i = 0; b.items != NULL && i < b.count; i++)
        free(b.items[i].store_msg);
    free(b.items);
    free(b.out);
    cordon_link_identity_clear(&b.id);
    return rc;
}
