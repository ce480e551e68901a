/*
 * tests/tools/relay.c — `cordon-relay`: an eavesdropper on the path to one running peer, for
 * tests/integration/peer_eavesdrop.sh (threat-model row 2, RFC 5694 section 7).
 *
 *   run    a UDP relay on 127/8 in front of a target peer. Datagrams from any source that
 *          reach --listen are sent on to --target from an upstream socket of that source's
 *          own (bound to the listen address, connected to the target, so the kernel hands it
 *          only what the target sends); what comes back on it goes back to that source from
 *          the listen socket. The target sees each source as one address of the relay, the
 *          source sees the target as the relay's listen address, and every datagram passes
 *          here. Each one, both ways, is written to the capture file before it is forwarded.
 *          The relay reads nothing of a datagram but its length: it never parses what it
 *          carries. After --max-datagrams frames or --max-bytes bytes of capture it stops
 *          recording and goes on relaying. SIGTERM or SIGINT ends it (exit status 0) with one
 *          JSON object on stdout: what it relayed, what it recorded, and its flows.
 *   check  reads a capture back as an on-path observer would, structurally (every byte
 *          through the bounded reader of wire/reader.h): every datagram must be whole DTLS
 *          1.2 records, handshake messages are reassembled from their fragments, the
 *          ServerHello says which suite each flow negotiated, encrypted records are sized
 *          against that suite's AEAD overhead, and the byte strings given with --find are
 *          searched for (raw, and as hex in either case) in everything that went by and in
 *          the handshake messages. It prints one JSON object (see check_report()); its exit
 *          status is 0 when the capture could be read and judged, whatever it found: the
 *          script asserts on the report.
 *
 * Capture format (all integers big-endian):
 *
 *   capture = "CORDCAP1" (8 bytes), then frames to the end of the file
 *   frame   = u8  direction   1: from a source to the target, 2: from the target to a source
 *             u16 flow        the source, numbered from 0 in order of its first datagram
 *             u64 time_ms     CLOCK_REALTIME milliseconds when the relay read the datagram
 *             u16 length      the datagram's length (0..65535)
 *             length bytes    the datagram, as it was read
 *
 * Each frame is written with one writev() as the datagram is read, so the file ends on a
 * frame boundary whenever the relay is between datagrams; a failed write truncates the file
 * back to the last whole frame and stops recording.
 *
 * Only 127/8 is ever listened on or relayed to. Every loop is bounded by a count. The tool
 * never prints the bytes it finds or searches for: the report names a --find string by its
 * position on the command line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/cli.h"
#include "common/file.h"
#include "common/hex.h"
#include "common/parse.h"
#include "wire/reader.h"

#define PROG "cordon-relay"

/* ---- the capture format -------------------------------------------------------------------- */

#define CAPTURE_MAGIC "CORDCAP1"
#define CAPTURE_MAGIC_LEN 8
#define FRAME_HEADER_LEN 13 /* direction, flow, time_ms, length */
#define DIR_TO_TARGET 1
#define DIR_FROM_TARGET 2
#define DATAGRAM_MAX 65535 /* what a frame's length can say, and more than UDP carries */

/* ---- caps ---------------------------------------------------------------------------------- */

#define FLOWS_MAX 1024
#define FLOWS_DEFAULT 64
#define DATAGRAMS_DEFAULT 100000u
#define DATAGRAMS_MAX 10000000u
#define CAPTURE_BYTES_DEFAULT (64u * 1024u * 1024u)
#define CAPTURE_BYTES_MAX (256u * 1024u * 1024u) /* also what check reads at most */
#define CAPTURE_BYTES_MIN 64u
#define BATCH 64         /* datagrams read from one socket per wake-up */
#define FIND_MAX 16      /* --find strings */
#define FIND_LEN_MAX 256 /* bytes in one --find string: a node URI fits */
#define VIOLATIONS_SHOWN 10

/* ---- DTLS 1.2 as an observer sees it (RFC 6347 4.1, 4.2.2; RFC 5246 7.4) -------------------- */

#define DTLS_HEADER_LEN 13
#define DTLS_HS_HEADER_LEN 12
#define DTLS_RECORD_MAX (16384 + 2048) /* the largest DTLSCiphertext fragment */
#define DTLS_1_2 0xfefd
#define DTLS_1_0 0xfeff /* allowed on ClientHello and HelloVerifyRequest records (4.2.1) */
#define CT_CHANGE_CIPHER_SPEC 20
#define CT_ALERT 21
#define CT_HANDSHAKE 22
#define CT_APPLICATION_DATA 23
#define HS_CLIENT_HELLO 1
#define HS_SERVER_HELLO 2
#define HS_HELLO_VERIFY_REQUEST 3
#define HS_NEW_SESSION_TICKET 4
#define HS_CERTIFICATE 11
#define HS_SERVER_KEY_EXCHANGE 12
#define HS_CERTIFICATE_REQUEST 13
#define HS_SERVER_HELLO_DONE 14
#define HS_CERTIFICATE_VERIFY 15
#define HS_CLIENT_KEY_EXCHANGE 16
#define HS_MSG_MAX 65536 /* a reassembled handshake message; ours are a few hundred bytes */
#define HS_SLOTS 16      /* messages being reassembled, per flow and direction */
#define FINISHED_PLAINTEXT (DTLS_HS_HEADER_LEN + 12) /* header + verify_data */
#define ALERT_PLAINTEXT 2

/* The suites a cordon link offers (peer/link.c) and their per-record expansion. */
#define SUITE_AES128_GCM 0xc02b
#define SUITE_AES256_GCM 0xc02c
#define SUITE_CHACHA20 0xcca9
#define GCM_OVERHEAD (8 + 16) /* explicit nonce + tag */
#define CHACHA_OVERHEAD 16    /* tag; the nonce is implicit */
#define SUITES_SEEN_MAX 8

static const char usage[] =
    "usage: cordon-relay run --listen IP:PORT --target IP:PORT --capture FILE [OPTIONS]\n"
    "       cordon-relay check --capture FILE [--find HEX]... [--window FROM_MS,TO_MS]\n"
    "\n"
    "An eavesdropper on the path to one peer (test tool; addresses in 127/8 only).\n"
    "\n"
    "run: relays UDP between any source and the target, one upstream socket per source, and\n"
    "writes every datagram both ways to FILE (created, mode 0600; it must not exist). SIGTERM\n"
    "ends it with a JSON summary on stdout.\n"
    "  --listen IP:PORT       where sources reach the relay (port 0: any free port)\n"
    "  --target IP:PORT       the peer behind the relay\n"
    "  --capture FILE         the capture file (format: see tests/tools/relay.c)\n"
    "  --ready-file FILE      written with the listen port once the relay is ready\n"
    "  --max-datagrams N      stop recording after N frames (default 100000)\n"
    "  --max-bytes N          stop recording before the file exceeds N bytes (64..268435456,\n"
    "                         default 67108864)\n"
    "  --max-flows N          sources relayed at once (1..1024, default 64); datagrams of\n"
    "                         further sources are dropped and counted\n"
    "\n"
    "check: reads FILE as DTLS 1.2 and prints a JSON report (violations, suites, records by\n"
    "type and epoch, handshake messages, where each --find string appears).\n"
    "  --find HEX             a byte string (1..256 bytes as hex) to look for: raw, and as\n"
    "                         lower- or upper-case hex text (repeatable, at most 16)\n"
    "  --window FROM,TO       also count application-data records read between these\n"
    "                         CLOCK_REALTIME milliseconds, by plaintext length\n";

/* ---- shared helpers ------------------------------------------------------------------------ */

static int print_json(json_t *o)
{
    if (o == NULL || json_dumpf(o, stdout, JSON_COMPACT) != 0) {
        json_decref(o);
        fprintf(stderr, "%s: could not write the result\n", PROG);
        return 1;
    }
    json_decref(o);
    printf("\n");
    return fflush(stdout) == 0 ? 0 : 1;
}

static bool parse_addr(const char *text, struct sockaddr_in *out, bool port_zero_ok)
{
    char host[INET_ADDRSTRLEN];
    const char *colon = strrchr(text, ':');
    struct in_addr a;
    uint64_t port;
    if (colon == NULL || (size_t)(colon - text) >= sizeof(host))
        return false;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    if (inet_pton(AF_INET, host, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127 ||
        cordon_parse_u64(colon + 1, port_zero_ok ? 0 : 1, 65535, &port) != CORDON_OK)
        return false;
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_addr = a;
    out->sin_port = htons((uint16_t)port);
    return true;
}

static json_t *addr_json(const struct sockaddr_in *a)
{
    char host[INET_ADDRSTRLEN], text[INET_ADDRSTRLEN + 8];
    if (inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host)) == NULL)
        return json_string("?");
    snprintf(text, sizeof(text), "%s:%u", host, (unsigned)ntohs(a->sin_port));
    return json_string(text);
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- run: the relay ------------------------------------------------------------------------ */

struct flow {
    struct sockaddr_in src; /* the source, answered from the listen socket */
    struct sockaddr_in up;  /* the upstream socket's own address, as the target sees it */
    int fd;                 /* upstream: connected to the target */
    uint64_t to_target, from_target;
};

struct relay {
    struct sockaddr_in listen, target;
    int lfd;
    int cap_fd;
    struct flow *flows;
    size_t n_flows, max_flows;
    uint64_t max_datagrams, max_bytes;
    bool recording;
    const char *stopped_by; /* why recording stopped, NULL while it goes on */
    uint64_t recorded, recorded_bytes, not_recorded;
    uint64_t to_target, from_target, bytes_to_target, bytes_from_target;
    uint64_t refused_flows; /* datagrams of sources beyond --max-flows */
    uint64_t send_errors, recv_errors;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

/* Writes one frame, or stops recording for good when it would pass a cap or fails. */
static void record(struct relay *r, uint8_t dir, uint16_t flow, const uint8_t *data, size_t len)
{
    uint8_t h[FRAME_HEADER_LEN];
    uint64_t t = wall_ms();
    if (!r->recording) {
        r->not_recorded++;
        return;
    }
    if (r->recorded >= r->max_datagrams ||
        r->recorded_bytes + FRAME_HEADER_LEN + len > r->max_bytes) {
        r->recording = false;
        r->stopped_by = r->recorded >= r->max_datagrams ? "max_datagrams" : "max_bytes";
        r->not_recorded++;
        return;
    }
    h[0] = dir;
    h[1] = (uint8_t)(flow >> 8);
    h[2] = (uint8_t)flow;
    for (int i = 0; i < 8; i++)
        h[3 + i] = (uint8_t)(t >> (56 - 8 * i));
    h[11] = (uint8_t)(len >> 8);
    h[12] = (uint8_t)len;
    struct iovec iov[2] = {{.iov_base = h, .iov_len = sizeof(h)},
                           {.iov_base = (void *)data, .iov_len = len}};
    ssize_t n;
    do {
        n = writev(r->cap_fd, iov, len > 0 ? 2 : 1);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)(sizeof(h) + len)) {
        /* Keep the file whole: back to the last complete frame. */
        if (ftruncate(r->cap_fd, (off_t)r->recorded_bytes) != 0 ||
            lseek(r->cap_fd, (off_t)r->recorded_bytes, SEEK_SET) < 0)
            fprintf(stderr, "%s: cannot truncate the capture: %s\n", PROG, strerror(errno));
        fprintf(stderr, "%s: capture write failed; recording stops\n", PROG);
        r->recording = false;
        r->stopped_by = "write_error";
        r->not_recorded++;
        return;
    }
    r->recorded++;
    r->recorded_bytes += sizeof(h) + len;
}

/* The flow of src, made on its first datagram; NULL when the table is full or the upstream
 * socket cannot be made. */
static struct flow *flow_of(struct relay *r, const struct sockaddr_in *src)
{
    for (size_t i = 0; i < r->n_flows; i++)
        if (r->flows[i].src.sin_addr.s_addr == src->sin_addr.s_addr &&
            r->flows[i].src.sin_port == src->sin_port)
            return &r->flows[i];
    if (r->n_flows >= r->max_flows) {
        r->refused_flows++;
        return NULL;
    }
    struct flow *f = &r->flows[r->n_flows];
    struct sockaddr_in bind_to = r->listen;
    socklen_t alen = sizeof(f->up);
    bind_to.sin_port = 0;
    memset(f, 0, sizeof(*f));
    f->src = *src;
    f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (f->fd < 0 || bind(f->fd, (const struct sockaddr *)&bind_to, sizeof(bind_to)) != 0 ||
        connect(f->fd, (const struct sockaddr *)&r->target, sizeof(r->target)) != 0 ||
        getsockname(f->fd, (struct sockaddr *)&f->up, &alen) != 0) {
        fprintf(stderr, "%s: cannot open an upstream socket: %s\n", PROG, strerror(errno));
        if (f->fd >= 0)
            close(f->fd);
        r->refused_flows++;
        return NULL;
    }
    r->n_flows++;
    return f;
}

static void from_sources(struct relay *r, uint8_t *buf)
{
    for (int i = 0; i < BATCH; i++) {
        struct sockaddr_in src;
        socklen_t slen = sizeof(src);
        ssize_t n = recvfrom(r->lfd, buf, DATAGRAM_MAX, MSG_TRUNC, (struct sockaddr *)&src, &slen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                r->recv_errors++;
            return;
        }
        if (n > DATAGRAM_MAX || slen != sizeof(src) || src.sin_family != AF_INET) {
            r->recv_errors++; /* cannot be relayed whole */
            continue;
        }
        struct flow *f = flow_of(r, &src);
        if (f == NULL)
            continue;
        r->to_target++;
        r->bytes_to_target += (uint64_t)n;
        f->to_target++;
        record(r, DIR_TO_TARGET, (uint16_t)(f - r->flows), buf, (size_t)n);
        if (send(f->fd, buf, (size_t)n, 0) != n)
            r->send_errors++;
    }
}

static void from_target(struct relay *r, struct flow *f, uint8_t *buf)
{
    for (int i = 0; i < BATCH; i++) {
        ssize_t n = recv(f->fd, buf, DATAGRAM_MAX, MSG_TRUNC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            /* ECONNREFUSED: an ICMP error for an earlier send (the target was not there). */
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                r->recv_errors++;
            return;
        }
        if (n > DATAGRAM_MAX) {
            r->recv_errors++;
            continue;
        }
        r->from_target++;
        r->bytes_from_target += (uint64_t)n;
        f->from_target++;
        record(r, DIR_FROM_TARGET, (uint16_t)(f - r->flows), buf, (size_t)n);
        if (sendto(r->lfd, buf, (size_t)n, 0, (const struct sockaddr *)&f->src, sizeof(f->src)) !=
            n)
            r->send_errors++;
    }
}

static json_t *relay_summary(const struct relay *r)
{
    json_t *flows = json_array();
    for (size_t i = 0; flows != NULL && i < r->n_flows; i++) {
        const struct flow *f = &r->flows[i];
        json_t *o = json_pack("{s:I, s:o, s:o, s:I, s:I}", "flow", (json_int_t)i, "source",
                              addr_json(&f->src), "upstream", addr_json(&f->up), "to_target",
                              (json_int_t)f->to_target, "from_target", (json_int_t)f->from_target);
        if (o == NULL || json_array_append_new(flows, o) != 0) {
            json_decref(flows);
            flows = NULL;
        }
    }
    if (flows == NULL)
        return NULL;
    return json_pack(
        "{s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s?, s:I, s:I, s:I, s:o}", "mode",
        "run", "listen", addr_json(&r->listen), "target", addr_json(&r->target),
        "datagrams_to_target", (json_int_t)r->to_target, "datagrams_from_target",
        (json_int_t)r->from_target, "bytes_to_target", (json_int_t)r->bytes_to_target,
        "bytes_from_target", (json_int_t)r->bytes_from_target, "recorded", (json_int_t)r->recorded,
        "recorded_bytes", (json_int_t)r->recorded_bytes, "not_recorded",
        (json_int_t)r->not_recorded, "recording", r->recording, "recording_stopped_by",
        r->stopped_by, "refused_flows", (json_int_t)r->refused_flows, "send_errors",
        (json_int_t)r->send_errors, "recv_errors", (json_int_t)r->recv_errors, "flows", flows);
}

static int relay_run(struct relay *r, const char *capture, const char *ready)
{
    struct pollfd *p = calloc(FLOWS_MAX + 1, sizeof(*p));
    uint8_t *buf = malloc(DATAGRAM_MAX + 1);
    sigset_t block, old;
    struct sigaction sa = {.sa_handler = on_signal};
    int rc = 1;

    r->lfd = -1;
    r->cap_fd = -1;
    r->flows = calloc(r->max_flows, sizeof(*r->flows));
    if (p == NULL || buf == NULL || r->flows == NULL)
        goto out;
    /* The signals are blocked except inside ppoll(), so none is lost between checks. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigemptyset(&sa.sa_mask);
    if (sigprocmask(SIG_BLOCK, &block, &old) != 0 || sigaction(SIGTERM, &sa, NULL) != 0 ||
        sigaction(SIGINT, &sa, NULL) != 0)
        goto out;
    sigdelset(&old, SIGTERM);
    sigdelset(&old, SIGINT);

    r->cap_fd = open(capture, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (r->cap_fd < 0) {
        fprintf(stderr, "%s: cannot create %s: %s\n", PROG, capture, strerror(errno));
        goto out;
    }
    if (write(r->cap_fd, CAPTURE_MAGIC, CAPTURE_MAGIC_LEN) != CAPTURE_MAGIC_LEN) {
        fprintf(stderr, "%s: cannot write %s: %s\n", PROG, capture, strerror(errno));
        goto out;
    }
    r->recorded_bytes = CAPTURE_MAGIC_LEN;
    r->recording = true;

    socklen_t alen = sizeof(r->listen);
    r->lfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (r->lfd < 0 || bind(r->lfd, (const struct sockaddr *)&r->listen, sizeof(r->listen)) != 0 ||
        getsockname(r->lfd, (struct sockaddr *)&r->listen, &alen) != 0) {
        fprintf(stderr, "%s: cannot listen: %s\n", PROG, strerror(errno));
        goto out;
    }
    if (ready != NULL) {
        char text[16];
        int len = snprintf(text, sizeof(text), "%u\n", (unsigned)ntohs(r->listen.sin_port));
        if (cordon_write_file(ready, text, (size_t)len, 0600) != CORDON_OK) {
            fprintf(stderr, "%s: cannot write %s\n", PROG, ready);
            goto out;
        }
    }

    while (stop_signal == 0) {
        struct timespec tick = {.tv_sec = 1, .tv_nsec = 0};
        nfds_t n = 0;
        p[n].fd = r->lfd;
        p[n++].events = POLLIN;
        for (size_t i = 0; i < r->n_flows; i++) {
            p[n].fd = r->flows[i].fd;
            p[n++].events = POLLIN;
        }
        int ready_n = ppoll(p, n, &tick, &old);
        if (ready_n < 0 && errno != EINTR) {
            fprintf(stderr, "%s: ppoll: %s\n", PROG, strerror(errno));
            goto out;
        }
        if (ready_n <= 0)
            continue;
        /* Flows made while reading the listen socket are polled from the next round. */
        size_t flows_polled = n - 1;
        if (p[0].revents != 0)
            from_sources(r, buf);
        for (size_t i = 0; i < flows_polled; i++)
            if (p[i + 1].revents != 0)
                from_target(r, &r->flows[i], buf);
    }
    rc = print_json(relay_summary(r));
out:
    for (size_t i = 0; r->flows != NULL && i < r->n_flows; i++)
        close(r->flows[i].fd);
    if (r->lfd >= 0)
        close(r->lfd);
    if (r->cap_fd >= 0 && close(r->cap_fd) != 0) {
        fprintf(stderr, "%s: closing the capture: %s\n", PROG, strerror(errno));
        rc = 1;
    }
    free(r->flows);
    r->flows = NULL;
    free(buf);
    free(p);
    return rc;
}

/* ---- check: the observer ------------------------------------------------------------------- */

/* A byte string looked for, and where it was seen. */
struct needle {
    uint8_t raw[FIND_LEN_MAX];
    size_t len;
    char lower[2 * FIND_LEN_MAX + 1], upper[2 * FIND_LEN_MAX + 1];
    uint64_t raw_in_stream, hex_in_stream; /* occurrences in all datagrams, end to end */
    uint64_t in_handshake;                 /* reassembled handshake messages holding it */
    uint64_t in_certificates[2];           /* Certificate messages holding it, by direction */
};

struct hs_slot {
    bool used;
    uint8_t type;
    uint16_t seq;
    uint32_t len, have;
    uint64_t frame; /* of its first fragment: the oldest slot is evicted */
    uint8_t *buf;
    uint8_t *covered; /* one byte per message byte */
};

/* One flow as the observer follows it; index [dir - 1] for each direction. */
struct flow_view {
    bool seen;
    uint16_t suite; /* of the last ServerHello, 0 before any */
    uint64_t datagrams[2], app[2], server_hellos;
    struct hs_slot slots[2][HS_SLOTS];
};

struct checker {
    struct flow_view *flows; /* FLOWS_MAX */
    size_t n_flows;          /* 1 + the highest flow seen */
    struct needle needles[FIND_MAX];
    size_t n_needles;
    bool window;
    uint64_t win_from, win_to;
    uint64_t *win_len[2]; /* application-data records in the window, by plaintext length */
    uint64_t win_app[2];

    uint64_t frames, records, by_type[4];
    uint64_t dtls10_hello_records;
    uint64_t hs_messages, hs_evicted, certificates[2];
    uint64_t server_hellos;
    uint16_t suites[SUITES_SEEN_MAX];
    size_t n_suites;
    uint64_t enc_finished, enc_alerts;
    uint64_t app_epoch0, app[2];
    int app_min_epoch, max_epoch;

    uint64_t violations;
    json_t *examples;  /* the first VIOLATIONS_SHOWN, as text */
    cordon_buf stream; /* every datagram, end to end */
};

static void violation(struct checker *c, uint64_t frame, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void violation(struct checker *c, uint64_t frame, const char *fmt, ...)
{
    char text[200];
    int off = snprintf(text, sizeof(text), "frame %" PRIu64 ": ", frame);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text + off, sizeof(text) - (size_t)off, fmt, ap);
    va_end(ap);
    c->violations++;
    if (c->examples != NULL && json_array_size(c->examples) < VIOLATIONS_SHOWN)
        json_array_append_new(c->examples, json_string(text));
}

static uint64_t count_in(const uint8_t *hay, size_t hlen, const void *needle, size_t nlen)
{
    uint64_t n = 0;
    const uint8_t *p = hay, *end = hay + hlen;
    while (nlen > 0 && (size_t)(end - p) >= nlen) { /* each step moves p forward */
        const uint8_t *hit = memmem(p, (size_t)(end - p), needle, nlen);
        if (hit == NULL)
            break;
        n++;
        p = hit + 1;
    }
    return n;
}

static bool holds(const struct needle *nd, const uint8_t *data, size_t len)
{
    return count_in(data, len, nd->raw, nd->len) > 0 ||
           count_in(data, len, nd->lower, 2 * nd->len) > 0 ||
           count_in(data, len, nd->upper, 2 * nd->len) > 0;
}

static bool suite_aead(uint16_t s)
{
    return s == SUITE_AES128_GCM || s == SUITE_AES256_GCM || s == SUITE_CHACHA20;
}

static size_t suite_overhead(uint16_t s)
{
    return s == SUITE_CHACHA20 ? CHACHA_OVERHEAD : GCM_OVERHEAD;
}

static bool read_u24(cordon_reader *r, uint32_t *out)
{
    uint8_t b[3];
    if (cordon_read_bytes(r, b, sizeof(b)) != CORDON_OK)
        return false;
    *out = (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
    return true;
}

/* A complete handshake message: what the observer learns from it. */
static void hs_message(struct checker *c, uint64_t frame, struct flow_view *fv, unsigned dir,
                       uint8_t type, const uint8_t *body, size_t len)
{
    cordon_reader r, sid;
    uint16_t version, suite;
    uint8_t random[32], compression;

    c->hs_messages++;
    for (size_t i = 0; i < c->n_needles; i++) {
        if (holds(&c->needles[i], body, len)) {
            c->needles[i].in_handshake++;
            if (type == HS_CERTIFICATE)
                c->needles[i].in_certificates[dir - 1]++;
        }
    }
    cordon_reader_init(&r, body, len);
    switch (type) {
    case HS_CLIENT_HELLO:
        if (cordon_read_u16(&r, &version) != CORDON_OK || version != DTLS_1_2)
            violation(c, frame, "a ClientHello that does not offer DTLS 1.2");
        break;
    case HS_SERVER_HELLO:
        if (cordon_read_u16(&r, &version) != CORDON_OK ||
            cordon_read_bytes(&r, random, sizeof(random)) != CORDON_OK ||
            cordon_read_sub(&r, 1, 32, &sid) != CORDON_OK ||
            cordon_read_u16(&r, &suite) != CORDON_OK ||
            cordon_read_u8(&r, &compression) != CORDON_OK) {
            violation(c, frame, "a ServerHello that does not parse");
            break;
        }
        if (version != DTLS_1_2)
            violation(c, frame, "a ServerHello for version 0x%04x, not DTLS 1.2", version);
        if (compression != 0)
            violation(c, frame, "a ServerHello with compression %u", compression);
        fv->suite = suite;
        fv->server_hellos++;
        c->server_hellos++;
        bool known = false;
        for (size_t i = 0; i < c->n_suites && !known; i++)
            known = c->suites[i] == suite;
        if (!known && c->n_suites < SUITES_SEEN_MAX)
            c->suites[c->n_suites++] = suite;
        break;
    case HS_CERTIFICATE:
        c->certificates[dir - 1]++;
        break;
    default:
        break;
    }
}

static void slot_free(struct hs_slot *s)
{
    free(s->buf);
    free(s->covered);
    memset(s, 0, sizeof(*s));
}

/* One handshake fragment (already checked against its message length). */
static void hs_fragment(struct checker *c, uint64_t frame, struct flow_view *fv, unsigned dir,
                        uint8_t type, uint16_t seq, uint32_t len, uint32_t off, const uint8_t *data,
                        uint32_t flen)
{
    struct hs_slot *slots = fv->slots[dir - 1], *s = NULL;
    for (size_t i = 0; i < HS_SLOTS && s == NULL; i++)
        if (slots[i].used && slots[i].type == type && slots[i].seq == seq && slots[i].len == len)
            s = &slots[i];
    if (s == NULL) {
        for (size_t i = 0; i < HS_SLOTS && s == NULL; i++)
            if (!slots[i].used)
                s = &slots[i];
        if (s == NULL) { /* all busy: the oldest was never completed */
            s = &slots[0];
            for (size_t i = 1; i < HS_SLOTS; i++)
                if (slots[i].frame < s->frame)
                    s = &slots[i];
            slot_free(s);
            c->hs_evicted++;
        }
        s->buf = malloc(len > 0 ? len : 1);
        s->covered = calloc(len > 0 ? len : 1, 1);
        if (s->buf == NULL || s->covered == NULL) {
            slot_free(s);
            violation(c, frame, "out of memory reassembling a handshake message");
            return;
        }
        s->used = true;
        s->type = type;
        s->seq = seq;
        s->len = len;
        s->frame = frame;
    }
    if (flen > 0)
        memcpy(s->buf + off, data, flen);
    for (uint32_t i = off; i < off + flen; i++) {
        if (!s->covered[i]) {
            s->covered[i] = 1;
            s->have++;
        }
    }
    if (s->have == s->len) {
        hs_message(c, frame, fv, dir, s->type, s->buf, s->len);
        slot_free(s);
    }
}

static bool hs_type_plaintext(uint8_t t)
{
    switch (t) {
    case HS_CLIENT_HELLO:
    case HS_SERVER_HELLO:
    case HS_HELLO_VERIFY_REQUEST:
    case HS_NEW_SESSION_TICKET:
    case HS_CERTIFICATE:
    case HS_SERVER_KEY_EXCHANGE:
    case HS_CERTIFICATE_REQUEST:
    case HS_SERVER_HELLO_DONE:
    case HS_CERTIFICATE_VERIFY:
    case HS_CLIENT_KEY_EXCHANGE:
        return true;
    default:
        return false; /* Finished among them: it must never travel in the clear */
    }
}

/* An epoch-0 handshake record: its fragments, one after another. Returns whether every
 * fragment belongs to a ClientHello or a HelloVerifyRequest (the records RFC 6347 4.2.1
 * lets carry version 1.0), false as well when it does not parse. */
static bool hs_record(struct checker *c, uint64_t frame, struct flow_view *fv, unsigned dir,
                      cordon_reader *body)
{
    bool hello_only = true;
    if (cordon_reader_left(body) == 0) {
        violation(c, frame, "an empty handshake record");
        return false;
    }
    while (cordon_reader_left(body) > 0) {
        uint8_t type;
        uint16_t seq;
        uint32_t len, off, flen;
        const uint8_t *data;
        if (cordon_read_u8(body, &type) != CORDON_OK || !read_u24(body, &len) ||
            cordon_read_u16(body, &seq) != CORDON_OK || !read_u24(body, &off) ||
            !read_u24(body, &flen)) {
            violation(c, frame, "a handshake fragment header cut short");
            return false;
        }
        if (cordon_read_view(body, flen, &data) != CORDON_OK) {
            violation(c, frame, "a handshake fragment longer than its record");
            return false;
        }
        if (len > HS_MSG_MAX || off > len || flen > len - off) {
            violation(c, frame,
                      "a handshake fragment outside its message (%" PRIu32 "+%" PRIu32
                      " of %" PRIu32 ")",
                      off, flen, len);
            return false;
        }
        if (!hs_type_plaintext(type)) {
            violation(c, frame, "handshake message type %u in the clear", type);
            return false;
        }
        if (type != HS_CLIENT_HELLO && type != HS_HELLO_VERIFY_REQUEST)
            hello_only = false;
        hs_fragment(c, frame, fv, dir, type, seq, len, off, data, flen);
    }
    return hello_only;
}

static void window_count(struct checker *c, unsigned dir, uint64_t t, size_t plaintext)
{
    if (!c->window || t < c->win_from || t > c->win_to)
        return;
    c->win_app[dir - 1]++;
    if (plaintext <= DTLS_RECORD_MAX)
        c->win_len[dir - 1][plaintext]++;
}

static void check_record(struct checker *c, uint64_t frame, struct flow_view *fv, unsigned dir,
                         uint64_t t, uint8_t type, uint16_t version, uint16_t epoch,
                         cordon_reader *body)
{
    size_t len = cordon_reader_left(body);
    if (type < CT_CHANGE_CIPHER_SPEC || type > CT_APPLICATION_DATA) {
        violation(c, frame, "content type %u is not DTLS 1.2's", type);
        return;
    }
    c->by_type[type - CT_CHANGE_CIPHER_SPEC]++;
    if (epoch > c->max_epoch)
        c->max_epoch = epoch;
    if (type == CT_APPLICATION_DATA) {
        if (c->app_min_epoch < 0 || epoch < c->app_min_epoch)
            c->app_min_epoch = epoch;
    }
    if (epoch > 1) {
        violation(c, frame, "epoch %u: a renegotiation, which links refuse", epoch);
        return;
    }
    if (epoch == 0) {
        bool hello_only = false;
        switch (type) {
        case CT_APPLICATION_DATA:
            c->app_epoch0++;
            violation(c, frame, "application data in epoch 0 (in the clear)");
            return;
        case CT_CHANGE_CIPHER_SPEC: {
            uint8_t one;
            if (len != 1 || cordon_read_u8(body, &one) != CORDON_OK || one != 1)
                violation(c, frame, "a ChangeCipherSpec that is not the single byte 1");
            break;
        }
        case CT_ALERT:
            if (len != ALERT_PLAINTEXT)
                violation(c, frame, "a plaintext alert of %zu bytes", len);
            break;
        default:
            hello_only = hs_record(c, frame, fv, dir, body);
            break;
        }
        if (version == DTLS_1_0 && hello_only)
            c->dtls10_hello_records++;
        else if (version != DTLS_1_2)
            violation(c, frame, "record version 0x%04x in epoch 0 (content type %u)", version,
                      type);
        return;
    }
    /* Epoch 1: protected by the suite of the flow's last ServerHello. */
    if (version != DTLS_1_2)
        violation(c, frame, "record version 0x%04x in epoch 1", version);
    if (fv->suite == 0 || !suite_aead(fv->suite)) {
        violation(c, frame, "an epoch-1 record under suite 0x%04x", fv->suite);
        return;
    }
    size_t overhead = suite_overhead(fv->suite);
    if (len < overhead) {
        violation(c, frame, "an epoch-1 record of %zu bytes, under the AEAD overhead", len);
        return;
    }
    size_t plaintext = len - overhead;
    switch (type) {
    case CT_APPLICATION_DATA:
        c->app[dir - 1]++;
        fv->app[dir - 1]++;
        window_count(c, dir, t, plaintext);
        break;
    case CT_HANDSHAKE:
        c->enc_finished++;
        if (plaintext != FINISHED_PLAINTEXT)
            violation(c, frame, "an encrypted handshake record of %zu bytes, not a Finished",
                      plaintext);
        break;
    case CT_ALERT:
        c->enc_alerts++;
        if (plaintext != ALERT_PLAINTEXT)
            violation(c, frame, "an encrypted alert of %zu bytes", plaintext);
        break;
    default:
        violation(c, frame, "a ChangeCipherSpec in epoch 1");
        break;
    }
}

static void check_datagram(struct checker *c, uint64_t frame, struct flow_view *fv, unsigned dir,
                           uint64_t t, const uint8_t *data, size_t len)
{
    cordon_reader r;
    cordon_reader_init(&r, data, len);
    if (len == 0)
        violation(c, frame, "an empty datagram");
    while (cordon_reader_left(&r) > 0) {
        uint8_t type, seq[6];
        uint16_t version, epoch;
        cordon_reader body;
        if (cordon_read_u8(&r, &type) != CORDON_OK || cordon_read_u16(&r, &version) != CORDON_OK ||
            cordon_read_u16(&r, &epoch) != CORDON_OK ||
            cordon_read_bytes(&r, seq, sizeof(seq)) != CORDON_OK) {
            violation(c, frame, "%zu bytes after the last record, short of a record header",
                      cordon_reader_left(&r));
            return;
        }
        cordon_err err = cordon_read_sub(&r, 2, DTLS_RECORD_MAX, &body);
        if (err != CORDON_OK) {
            violation(c, frame, "a record length %s",
                      err == CORDON_ERR_TOO_LARGE ? "over the DTLS maximum"
                                                  : "past the end of the datagram");
            return;
        }
        c->records++;
        check_record(c, frame, fv, dir, t, type, version, epoch, &body);
    }
}

static json_t *lengths_json(const uint64_t *counts)
{
    json_t *o = json_object();
    for (size_t i = 0; o != NULL && i <= DTLS_RECORD_MAX; i++) {
        char key[16];
        if (counts[i] == 0)
            continue;
        snprintf(key, sizeof(key), "%zu", i);
        if (json_object_set_new(o, key, json_integer((json_int_t)counts[i])) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

/*
 * The report: frames and records (by content type), the DTLS 1.0 hello records, handshake
 * messages (reassembled; evicted or left incomplete; Certificates by direction),
 * ServerHellos and the suites they chose (aead_only: every one is one of the three a link
 * offers), encrypted Finished and alert records, application data by direction (in epoch 0:
 * always a violation; min_epoch), per flow, the window, and for each --find string where it
 * was seen. violations counts every rule broken; violation_examples says what the first were.
 */
static json_t *check_report(struct checker *c)
{
    json_t *suites = json_array(), *flows = json_array(), *finds = json_array();
    bool aead_only = c->n_suites > 0;
    uint64_t incomplete = 0; /* handshake messages still missing fragments at the end */
    for (size_t i = 0; suites != NULL && i < c->n_suites; i++) {
        char hex[8];
        snprintf(hex, sizeof(hex), "0x%04x", c->suites[i]);
        aead_only = aead_only && suite_aead(c->suites[i]);
        json_array_append_new(suites, json_string(hex));
    }
    for (size_t i = 0; flows != NULL && i < c->n_flows; i++) {
        const struct flow_view *f = &c->flows[i];
        char suite[8];
        if (!f->seen)
            continue;
        snprintf(suite, sizeof(suite), "0x%04x", f->suite);
        for (int d = 0; d < 2; d++)
            for (size_t k = 0; k < HS_SLOTS; k++)
                incomplete += f->slots[d][k].used;
        json_array_append_new(
            flows, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "flow", (json_int_t)i,
                             "datagrams_to_target", (json_int_t)f->datagrams[0],
                             "datagrams_from_target", (json_int_t)f->datagrams[1], "app_to_target",
                             (json_int_t)f->app[0], "app_from_target", (json_int_t)f->app[1],
                             "server_hellos", (json_int_t)f->server_hellos, "suite", suite));
    }
    for (size_t i = 0; finds != NULL && i < c->n_needles; i++) {
        const struct needle *n = &c->needles[i];
        json_array_append_new(
            finds,
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "index", (json_int_t)i, "raw_in_stream",
                      (json_int_t)n->raw_in_stream, "hex_in_stream", (json_int_t)n->hex_in_stream,
                      "in_handshake_messages", (json_int_t)n->in_handshake,
                      "in_certificates_to_target", (json_int_t)n->in_certificates[0],
                      "in_certificates_from_target", (json_int_t)n->in_certificates[1]));
    }
    json_t *window = json_null();
    if (c->window)
        window = json_pack("{s:I, s:I, s:I, s:I, s:o, s:o}", "from_ms", (json_int_t)c->win_from,
                           "to_ms", (json_int_t)c->win_to, "app_to_target",
                           (json_int_t)c->win_app[0], "app_from_target", (json_int_t)c->win_app[1],
                           "plaintext_lengths_to_target", lengths_json(c->win_len[0]),
                           "plaintext_lengths_from_target", lengths_json(c->win_len[1]));
    json_t *examples = c->examples;
    c->examples = NULL;
    return json_pack(
        "{s:s, s:I, s:I, s:{s:I, s:I, s:I, s:I}, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:b, s:I,"
        " s:I, s:{s:I, s:I, s:I, s:i}, s:i, s:o, s:o, s:o, s:I, s:o}",
        "mode", "check", "frames", (json_int_t)c->frames, "records", (json_int_t)c->records,
        "records_by_type", "change_cipher_spec", (json_int_t)c->by_type[0], "alert",
        (json_int_t)c->by_type[1], "handshake", (json_int_t)c->by_type[2], "application_data",
        (json_int_t)c->by_type[3], "dtls10_hello_records", (json_int_t)c->dtls10_hello_records,
        "handshake_messages", (json_int_t)c->hs_messages, "handshake_evicted",
        (json_int_t)c->hs_evicted, "handshake_incomplete", (json_int_t)incomplete,
        "certificates_to_target", (json_int_t)c->certificates[0], "certificates_from_target",
        (json_int_t)c->certificates[1], "server_hellos", (json_int_t)c->server_hellos, "suites",
        suites, "aead_only", aead_only, "encrypted_finished", (json_int_t)c->enc_finished,
        "encrypted_alerts", (json_int_t)c->enc_alerts, "application_data", "to_target",
        (json_int_t)c->app[0], "from_target", (json_int_t)c->app[1], "epoch0",
        (json_int_t)c->app_epoch0, "min_epoch", c->app_min_epoch, "max_epoch", c->max_epoch,
        "flows", flows, "window", window, "find", finds, "violations", (json_int_t)c->violations,
        "violation_examples", examples);
}

static int check_capture(struct checker *c, const char *capture)
{
    cordon_buf file;
    cordon_reader r;
    int rc = 1;

    cordon_buf_init(&file, CAPTURE_BYTES_MAX, false);
    cordon_buf_init(&c->stream, CAPTURE_BYTES_MAX, false);
    c->flows = calloc(FLOWS_MAX, sizeof(*c->flows));
    c->win_len[0] = calloc(DTLS_RECORD_MAX + 1, sizeof(uint64_t));
    c->win_len[1] = calloc(DTLS_RECORD_MAX + 1, sizeof(uint64_t));
    c->examples = json_array();
    c->app_min_epoch = -1;
    if (c->flows == NULL || c->win_len[0] == NULL || c->win_len[1] == NULL || c->examples == NULL)
        goto out;
    cordon_err err = cordon_read_file(capture, CAPTURE_BYTES_MAX, &file);
    if (err != CORDON_OK) {
        fprintf(stderr, "%s: cannot read %s: %s\n", PROG, capture, cordon_strerror(err));
        goto out;
    }
    cordon_reader_init(&r, file.data, file.len);
    uint8_t magic[CAPTURE_MAGIC_LEN];
    if (cordon_read_bytes(&r, magic, sizeof(magic)) != CORDON_OK ||
        memcmp(magic, CAPTURE_MAGIC, CAPTURE_MAGIC_LEN) != 0) {
        fprintf(stderr, "%s: %s is not a cordon-relay capture\n", PROG, capture);
        goto out;
    }
    while (cordon_reader_left(&r) > 0) { /* every pass consumes a frame or ends */
        uint8_t dir;
        uint16_t flow;
        uint64_t t;
        cordon_reader dgram;
        if (cordon_read_u8(&r, &dir) != CORDON_OK || cordon_read_u16(&r, &flow) != CORDON_OK ||
            cordon_read_u64(&r, &t) != CORDON_OK ||
            cordon_read_sub(&r, 2, DATAGRAM_MAX, &dgram) != CORDON_OK) {
            violation(c, c->frames, "the capture ends inside a frame");
            break;
        }
        const uint8_t *data = dgram.data + dgram.pos;
        size_t len = cordon_reader_left(&dgram);
        if ((dir != DIR_TO_TARGET && dir != DIR_FROM_TARGET) || flow >= FLOWS_MAX) {
            violation(c, c->frames, "a frame with direction %u and flow %u", dir, flow);
            break;
        }
        if (cordon_buf_append(&c->stream, data, len) != CORDON_OK)
            goto out;
        struct flow_view *fv = &c->flows[flow];
        fv->seen = true;
        fv->datagrams[dir - 1]++;
        if ((size_t)flow + 1 > c->n_flows)
            c->n_flows = (size_t)flow + 1;
        check_datagram(c, c->frames, fv, dir, t, data, len);
        c->frames++;
    }
    for (size_t i = 0; i < c->n_needles; i++) {
        struct needle *n = &c->needles[i];
        n->raw_in_stream = count_in(c->stream.data, c->stream.len, n->raw, n->len);
        n->hex_in_stream = count_in(c->stream.data, c->stream.len, n->lower, 2 * n->len) +
                           count_in(c->stream.data, c->stream.len, n->upper, 2 * n->len);
    }
    rc = print_json(check_report(c));
out:
    for (size_t i = 0; c->flows != NULL && i < FLOWS_MAX; i++)
        for (int d = 0; d < 2; d++)
            for (size_t s = 0; s < HS_SLOTS; s++)
                slot_free(&c->flows[i].slots[d][s]);
    free(c->flows);
    free(c->win_len[0]);
    free(c->win_len[1]);
    json_decref(c->examples);
    cordon_buf_free(&c->stream);
    cordon_buf_free(&file);
    return rc;
}

static bool add_needle(struct checker *c, const char *hex)
{
    size_t hlen = strlen(hex);
    if (c->n_needles >= FIND_MAX || hlen < 2 || hlen > 2 * FIND_LEN_MAX || hlen % 2 != 0)
        return false;
    struct needle *n = &c->needles[c->n_needles];
    memset(n, 0, sizeof(*n));
    n->len = hlen / 2;
    if (cordon_hex_decode(hex, hlen, n->raw, n->len) != CORDON_OK)
        return false;
    cordon_hex_encode(n->raw, n->len, n->lower);
    for (size_t i = 0; i < hlen; i++)
        n->upper[i] = (n->lower[i] >= 'a' && n->lower[i] <= 'f') ? (char)(n->lower[i] - 'a' + 'A')
                                                                 : n->lower[i];
    n->upper[hlen] = '\0';
    c->n_needles++;
    return true;
}

static bool parse_window(const char *text, struct checker *c)
{
    char from[24];
    const char *comma = strchr(text, ',');
    if (comma == NULL || (size_t)(comma - text) >= sizeof(from))
        return false;
    memcpy(from, text, (size_t)(comma - text));
    from[comma - text] = '\0';
    if (cordon_parse_u64(from, 0, UINT64_MAX, &c->win_from) != CORDON_OK ||
        cordon_parse_u64(comma + 1, 0, UINT64_MAX, &c->win_to) != CORDON_OK ||
        c->win_from > c->win_to)
        return false;
    c->window = true;
    return true;
}

/* ---- main ---------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"target", required_argument, NULL, 't'},
        {"capture", required_argument, NULL, 'c'},
        {"ready-file", required_argument, NULL, 'r'},
        {"max-datagrams", required_argument, NULL, 'd'},
        {"max-bytes", required_argument, NULL, 'b'},
        {"max-flows", required_argument, NULL, 'f'},
        {"find", required_argument, NULL, 'x'},
        {"window", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static struct checker checker; /* large: not on the stack */
    struct relay relay = {.max_flows = FLOWS_DEFAULT,
                          .max_datagrams = DATAGRAMS_DEFAULT,
                          .max_bytes = CAPTURE_BYTES_DEFAULT};
    const char *capture = NULL, *ready = NULL;
    bool has_listen = false, has_target = false, run_only = false, check_only = false;
    uint64_t v;
    int c;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc < 2)
        return cordon_cli_fail(PROG, "a mode is required (run or check)");
    const char *mode = argv[1];
    bool run = strcmp(mode, "run") == 0;
    if (!run && strcmp(mode, "check") != 0)
        return cordon_cli_fail(PROG, "unknown mode '%s'", mode);
    optind = 2;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            run_only = true;
            if (!parse_addr(optarg, &relay.listen, true))
                return cordon_cli_fail(PROG, "--listen: expected 127.x.y.z:PORT");
            has_listen = true;
            break;
        case 't':
            run_only = true;
            if (!parse_addr(optarg, &relay.target, false))
                return cordon_cli_fail(PROG, "--target: expected 127.x.y.z:PORT (port 1..65535)");
            has_target = true;
            break;
        case 'c':
            capture = optarg;
            break;
        case 'r':
            run_only = true;
            ready = optarg;
            break;
        case 'd':
            run_only = true;
            if (cordon_parse_u64(optarg, 1, DATAGRAMS_MAX, &relay.max_datagrams) != CORDON_OK)
                return cordon_cli_fail(PROG, "--max-datagrams: 1..%u", DATAGRAMS_MAX);
            break;
        case 'b':
            run_only = true;
            if (cordon_parse_u64(optarg, CAPTURE_BYTES_MIN, CAPTURE_BYTES_MAX, &relay.max_bytes) !=
                CORDON_OK)
                return cordon_cli_fail(PROG, "--max-bytes: %u..%u", CAPTURE_BYTES_MIN,
                                       CAPTURE_BYTES_MAX);
            break;
        case 'f':
            run_only = true;
            if (cordon_parse_u64(optarg, 1, FLOWS_MAX, &v) != CORDON_OK)
                return cordon_cli_fail(PROG, "--max-flows: 1..%d", FLOWS_MAX);
            relay.max_flows = (size_t)v;
            break;
        case 'x':
            check_only = true;
            if (!add_needle(&checker, optarg))
                return cordon_cli_fail(PROG, "--find: 1..%d bytes as hex, at most %d times",
                                       FIND_LEN_MAX, FIND_MAX);
            break;
        case 'w':
            check_only = true;
            if (!parse_window(optarg, &checker))
                return cordon_cli_fail(PROG, "--window: FROM_MS,TO_MS with FROM <= TO");
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            return cordon_cli_fail(PROG, "unknown option");
        }
    }
    if (optind != argc)
        return cordon_cli_fail(PROG, "unexpected argument '%s'", argv[optind]);
    if (capture == NULL)
        return cordon_cli_fail(PROG, "%s needs --capture", mode);
    if ((run && check_only) || (!run && run_only))
        return cordon_cli_fail(PROG, "an option of the other mode was given to %s", mode);
    if (!run)
        return check_capture(&checker, capture);
    if (!has_listen || !has_target)
        return cordon_cli_fail(PROG, "run needs --listen and --target");
    return relay_run(&relay, capture, ready);
}
