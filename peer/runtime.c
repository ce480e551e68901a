/*
 * peer/runtime.c — one peer instance on a UDP socket, and the `cordon-peer run` loop
 * (see runtime.h). Owns the socket, the link table, the reassemblers of its remotes and
 * the core; the loop owns the epoll and signal descriptors.
 */
#include "peer/runtime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/hex.h"
#include "common/log.h"
#include "crypto/crypto.h"
#include "crypto/object.h"
#include "crypto/overlay.h"
#include "peer/control.h"
#include "peer/core/core.h"
#include "peer/link.h"
#include "peer/refresh.h"
#include "store/store.h"
#include "wire/frag.h"
#include "wire/msg.h"
#include "wire/object.h"
#include "wire/overlay_doc.h"

#define HEX_ID_LEN (2 * CORDON_NODE_ID_LEN + 1)
#define ADDR_LOG_MAX (INET6_ADDRSTRLEN + 8)

/* Group commit: the STORED answers that said "accepted" during a burst of datagrams wait
 * here until the store's batch holding their objects is committed (see read_socket). One
 * per datagram at most, so a burst never fills it; a full queue ends the batch early. The
 * queue grows from RT_HELD_MIN as a burst needs and is let go after a batch that needed
 * more, so that the instances of a swarm do not each keep room for a burst. */
#define RT_HELD_MAX CORDON_RT_BATCH_MAX
#define RT_HELD_MIN 64
#define RT_STORED_LEN (CORDON_MSG_HEADER_LEN + 2 + 8) /* header | u16 code | u64 seq */
struct rt_held {
    struct cordon_contact to;
    uint8_t msg[RT_STORED_LEN];
};

/* One remote address: the reassembler of the records it sends us. */
struct rt_remote {
    struct cordon_addr addr;
    uint8_t id[CORDON_NODE_ID_LEN]; /* the node the link to addr proved */
    struct cordon_frag_rx *rx;
    uint64_t last_ms;
};

/* A node some link proved, with the serial of the certificate it proved it with: what a new
 * CRL is checked against to find the revoked nodes of the routing table (the table keeps
 * node IDs only, and its contacts may have no link at the time). Sorted by id. */
struct rt_proven {
    uint8_t id[CORDON_NODE_ID_LEN]; /* first: the sort key */
    uint8_t serial[CORDON_SERIAL_LEN];
    struct cordon_addr addr;
};

enum boot_state { BOOT_PENDING, BOOT_UP, BOOT_FAILED };

struct rt_boot {
    char text[CORDON_ADDR_TEXT_MAX];
    struct sockaddr_storage ss;
    socklen_t len;
    struct cordon_addr addr;
    enum boot_state state;
    uint8_t id[CORDON_NODE_ID_LEN];
};

enum join_state { JOIN_PROBING, JOIN_WAIT_RETRY, JOIN_JOINING, JOIN_DONE };

/* A lookup started through the control API, waiting for the core's callback (which gets a
 * pointer to it: slots never move). dead: the control gave up on the token, so the
 * callback only frees the slot. */
struct rt_ctl_lookup {
    cordon_runtime *rt;
    uint64_t token;
    bool used;
    bool dead;
};

/* A put, get or delete started through the control API, waiting for the core's callback
 * (which gets a pointer to it: slots never move). dead: the control gave up on the token.
 * A put keeps its value for the one retry after a stale answer. */
struct rt_ctl_object {
    cordon_runtime *rt;
    uint64_t token;
    bool used, dead, retried;
    bool forged;  /* owner= named another node: see sign_object() */
    uint8_t op;   /* enum cordon_control_object_op */
    uint8_t kind; /* CORDON_KIND_OWNED or _SHARED */
    uint8_t owner[CORDON_NODE_ID_LEN];
    uint8_t name[CORDON_OBJECT_NAME_MAX];
    size_t name_len;
    uint32_t lifetime;
    uint8_t *value;
    size_t value_len;
    uint64_t seq;
    uint64_t expires_at;
    uint8_t *obj; /* the signed object of the put started last: republishing records it */
    size_t obj_len;
};

/* A republishing put waiting for the core's callback (which gets a pointer to it: slots
 * never move). superseded: a write through the control API replaced or removed the entry's
 * record meanwhile, so the callback leaves the record alone. */
struct rt_republish {
    cordon_runtime *rt;
    bool used, superseded;
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    uint8_t *obj; /* the new version, signed: its record gets its next time on success */
    size_t len;
    uint64_t seq, created_at;
    uint32_t lifetime;
};

struct cordon_runtime {
    int fd;
    int family; /* AF_INET or AF_INET6 */
    uint16_t port;
    uint64_t rcvbuf; /* the socket's receive buffer, as the kernel reports it */
    uint64_t now_ms; /* of the current handle() call: the callbacks carry no time */
    cordon_err poisoned;

    uint8_t node_id[CORDON_NODE_ID_LEN];
    char node_hex[HEX_ID_LEN];
    char *dir; /* where the identity files are (reloads) */
    struct cordon_link_identity identity;
    uint8_t own_serial[CORDON_SERIAL_LEN]; /* of identity.cert */
    struct rt_proven *proven;
    size_t n_proven, cap_proven, max_proven;
    uint64_t revoked_dropped;  /* routing table contacts dropped because a CRL lists them */
    uint64_t crl_reloads;      /* CRLs taken in by cordon_runtime_reload_crl() */
    uint64_t identity_reloads; /* certificates taken in by cordon_runtime_reload_identity() */
    uint64_t reload_failures;  /* reloads refused (the files are kept as they were) */
    struct cordon_overlay_params params;
    cordon_links *links;
    cordon_core *core;
    bool in_core; /* a core call is on the stack: its callbacks must not re-enter it */

    struct cordon_frag_budget budget;
    struct rt_remote *remotes;
    size_t n_remotes, cap_remotes, max_remotes;
    uint32_t next_msg_id;
    uint64_t sweep_at;
    bool more_input; /* the last handle() stopped reading at its cap */

    struct rt_boot boot[CORDON_BOOTSTRAP_MAX];
    size_t n_boot;
    enum join_state join;
    uint64_t retry_at;

    struct cordon_contact deferred[CORDON_RT_DEFERRED_MAX]; /* failed sends for the core */
    size_t n_deferred;
    size_t table_logged;

    uint64_t send_errors; /* sendto() failures other than a full socket buffer */
    /* The counters of the reassemblers already freed: the status adds those of the live
     * ones, so that its frag_* counters never go back when a remote is dropped. */
    struct cordon_frag_counters frag_freed;

    /* The control API (NULL until opened) and what its status reports. */
    cordon_control *ctl;
    uint64_t started_ms;
    char overlay[CORDON_OVERLAY_NAME_MAX + 1];
    char listen_text[CORDON_ADDR_TEXT_MAX];
    struct rt_ctl_lookup ctl_lookups[CORDON_LOOKUPS_MAX];
    struct rt_ctl_object ctl_objects[CORDON_RT_CTL_OBJECTS_MAX];

    /* The object store (DIR/store), what judges objects, and what this node signs with. */
    cordon_store *store;
    cordon_object_verifier *verifier;
    cordon_buf cert_der;   /* identity.cert in DER, as objects carry it */
    size_t value_max;      /* the store's: the overlay's max_object_size, clamped */
    uint32_t max_lifetime; /* the store's: the overlay's max_lifetime, clamped */
    uint64_t expire_at;    /* the next expiry step (monotonic ms) */

    /* Republishing (runtime.h): the puts running, when the due records are looked at next
     * (monotonic ms; their times are wall-clock seconds, as they outlive the process). */
    struct rt_republish repub[CORDON_RT_REPUBLISH_INFLIGHT];
    uint64_t republish_check_at;
    uint64_t republished, republish_failed;

    /* The CRL in the DHT (runtime.h). Times are monotonic ms; UINT64_MAX: not set. */
    uint64_t crl_dht_ms;     /* between two gets of the crl resource */
    uint64_t crl_poll_at;    /* the next get: set once joined */
    uint64_t crl_publish_at; /* the put of the CRL in use */
    uint64_t crl_save_at;    /* the next try at writing DIR/crl.pem (the refresher had it) */
    uint32_t crl_publish_tries;
    bool crl_getting, crl_putting;
    cordon_crl *crl_dht; /* a higher CRL a get found, taken in outside the core */
    uint64_t crl_published, crl_from_dht;

    /* Group commit (read_socket): in a burst of datagrams, the first STORE opens a store
     * batch; the accepted STOREDs wait in held until the batch is committed. */
    bool in_burst;
    bool batch_open;
    struct rt_held *held; /* held_cap entries (RT_HELD_MIN..RT_HELD_MAX), or NULL */
    size_t n_held, held_cap;
};

uint64_t cordon_runtime_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- addresses ---------------------------------------------------------------------------- */

static bool addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct cordon_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        out->family = 4;
        memcpy(out->ip, &in->sin_addr, 4);
        out->port = ntohs(in->sin_port);
        return true;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        out->family = 6;
        memcpy(out->ip, &in6->sin6_addr, 16);
        out->port = ntohs(in6->sin6_port);
        return true;
    }
    return false;
}

static socklen_t addr_to_sockaddr(const struct cordon_addr *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == 4) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, a->ip, 4);
        in->sin_port = htons(a->port);
        return sizeof(*in);
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    memcpy(&in6->sin6_addr, a->ip, 16);
    in6->sin6_port = htons(a->port);
    return sizeof(*in6);
}

static bool addr_equal(const struct cordon_addr *a, const struct cordon_addr *b)
{
    return a->family == b->family && a->port == b->port &&
           memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16) == 0;
}

/* "1.2.3.4:5" / "[::1]:5" for logs. */
static const char *addr_text(const struct cordon_addr *a, char out[ADDR_LOG_MAX])
{
    char ip[INET6_ADDRSTRLEN];
    if (inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->ip, ip, sizeof(ip)) == NULL)
        snprintf(ip, sizeof(ip), "?");
    snprintf(out, ADDR_LOG_MAX, a->family == 4 ? "%s:%u" : "[%s]:%u", ip, (unsigned)a->port);
    return out;
}

/* Splits "host:port" or "[v6]:port" (text is at most CORDON_ADDR_TEXT_MAX - 1 chars). */
static bool split_host_port(const char *text, char host[CORDON_ADDR_TEXT_MAX],
                            char port[CORDON_ADDR_TEXT_MAX])
{
    size_t len = strlen(text);
    const char *colon = strrchr(text, ':');
    if (len == 0 || len >= CORDON_ADDR_TEXT_MAX || colon == NULL || colon[1] == '\0')
        return false;
    const char *h = text;
    size_t hlen = (size_t)(colon - text);
    if (text[0] == '[') {
        if (hlen < 3 || text[hlen - 1] != ']')
            return false;
        h++;
        hlen -= 2;
    } else if (memchr(text, ':', hlen) != NULL) {
        return false; /* a bare IPv6 address: ambiguous */
    }
    if (hlen == 0)
        return false;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    snprintf(port, CORDON_ADDR_TEXT_MAX, "%s", colon + 1);
    return true;
}

/* Resolves text into an address of family (AF_INET/AF_INET6; AF_UNSPEC: any). */
static cordon_err resolve(const char *text, int family, bool numeric, struct sockaddr_storage *ss,
                          socklen_t *len)
{
    char host[CORDON_ADDR_TEXT_MAX], port[CORDON_ADDR_TEXT_MAX];
    if (!split_host_port(text, host, port))
        return CORDON_ERR_INVAL;
    struct addrinfo hints = {.ai_family = family,
                             .ai_socktype = SOCK_DGRAM,
                             .ai_flags = AI_NUMERICSERV | (numeric ? AI_NUMERICHOST : 0)};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
        return numeric ? CORDON_ERR_INVAL : CORDON_ERR_NETWORK;
    cordon_err err = CORDON_ERR_NETWORK;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
            ai->ai_addrlen <= sizeof(*ss)) {
            memset(ss, 0, sizeof(*ss));
            memcpy(ss, ai->ai_addr, ai->ai_addrlen);
            *len = ai->ai_addrlen;
            err = CORDON_OK;
            break;
        }
    }
    freeaddrinfo(res);
    return err;
}

/* ---- remotes: one reassembler per address ---------------------------------------------------- */

static void frag_counters_add(struct cordon_frag_counters *sum,
                              const struct cordon_frag_counters *c)
{
    sum->records += c->records;
    sum->whole += c->whole;
    sum->fragments += c->fragments;
    sum->reassembled += c->reassembled;
    sum->drop_truncated += c->drop_truncated;
    sum->drop_oversize += c->drop_oversize;
    sum->drop_kind += c->drop_kind;
    sum->drop_too_large += c->drop_too_large;
    sum->drop_malformed += c->drop_malformed;
    sum->drop_mismatch += c->drop_mismatch;
    sum->drop_duplicate += c->drop_duplicate;
    sum->drop_replay += c->drop_replay;
    sum->drop_busy += c->drop_busy;
    sum->drop_nomem += c->drop_nomem;
    sum->expired += c->expired;
    sum->evicted += c->evicted;
}

static void remote_drop(cordon_runtime *rt, size_t i)
{
    frag_counters_add(&rt->frag_freed, cordon_frag_rx_counters(rt->remotes[i].rx));
    cordon_frag_rx_free(rt->remotes[i].rx);
    rt->remotes[i] = rt->remotes[--rt->n_remotes];
}

static void remote_drop_addr(cordon_runtime *rt, const struct cordon_addr *a)
{
    for (size_t i = 0; i < rt->n_remotes; i++) {
        if (addr_equal(&rt->remotes[i].addr, a)) {
            remote_drop(rt, i);
            return;
        }
    }
}

static bool remote_has_link(const cordon_runtime *rt, const struct cordon_addr *a)
{
    struct sockaddr_storage ss;
    socklen_t len = addr_to_sockaddr(a, &ss);
    uint8_t id[CORDON_NODE_ID_LEN];
    return cordon_links_peer(rt->links, (const struct sockaddr *)&ss, len, id);
}

/* The remote at a proven to be node id, created (evicting one without a link, else the
 * least recently used) when missing. NULL when out of memory. */
static struct rt_remote *remote_get(cordon_runtime *rt, const struct cordon_addr *a,
                                    const uint8_t id[CORDON_NODE_ID_LEN])
{
    struct rt_remote *r = NULL;
    for (size_t i = 0; i < rt->n_remotes; i++) {
        if (addr_equal(&rt->remotes[i].addr, a)) {
            r = &rt->remotes[i];
            break;
        }
    }
    if (r != NULL && memcmp(r->id, id, CORDON_NODE_ID_LEN) != 0) {
        /* Another node at this address now: nothing of the old one's messages survives. */
        remote_drop(rt, (size_t)(r - rt->remotes));
        r = NULL;
    }
    if (r != NULL)
        return r;
    if (rt->n_remotes == rt->max_remotes) {
        size_t victim = 0;
        bool found = false;
        for (size_t i = 0; i < rt->n_remotes && !found; i++) {
            if (!remote_has_link(rt, &rt->remotes[i].addr)) {
                victim = i;
                found = true;
            }
        }
        for (size_t i = 1; i < rt->n_remotes && !found; i++) {
            if (rt->remotes[i].last_ms < rt->remotes[victim].last_ms)
                victim = i;
        }
        remote_drop(rt, victim);
    }
    if (rt->n_remotes == rt->cap_remotes) {
        size_t cap = rt->cap_remotes == 0 ? CORDON_RT_REMOTES_INITIAL : 2 * rt->cap_remotes;
        if (cap > rt->max_remotes)
            cap = rt->max_remotes;
        struct rt_remote *grown = realloc(rt->remotes, cap * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        rt->remotes = grown;
        rt->cap_remotes = cap;
    }
    r = &rt->remotes[rt->n_remotes];
    memset(r, 0, sizeof(*r));
    if (cordon_frag_rx_new(&rt->budget, &r->rx) != CORDON_OK)
        return NULL;
    r->addr = *a;
    memcpy(r->id, id, CORDON_NODE_ID_LEN);
    rt->n_remotes++;
    return r;
}

/* ---- deferred link failures ------------------------------------------------------------------ */

static void defer_failure(cordon_runtime *rt, const struct cordon_contact *c)
{
    for (size_t i = 0; i < rt->n_deferred; i++) {
        if (memcmp(rt->deferred[i].id, c->id, CORDON_NODE_ID_LEN) == 0 &&
            addr_equal(&rt->deferred[i].addr, &c->addr))
            return;
    }
    /* Beyond the cap the core's own request timeout reports the failure. */
    if (rt->n_deferred < CORDON_RT_DEFERRED_MAX)
        rt->deferred[rt->n_deferred++] = *c;
}

static void run_deferred(cordon_runtime *rt)
{
    /* Failures reported while these run wait for the next round (next deadline: now). */
    size_t n = rt->n_deferred;
    struct cordon_contact batch[CORDON_RT_DEFERRED_MAX];
    memcpy(batch, rt->deferred, n * sizeof(batch[0]));
    rt->n_deferred = 0;
    for (size_t i = 0; i < n; i++) {
        rt->in_core = true;
        cordon_core_link_failed(rt->core, rt->now_ms, &batch[i]);
        rt->in_core = false;
    }
}

/* ---- proven nodes and their certificates ------------------------------------------------------
 */

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, CORDON_NODE_ID_LEN); /* both start with a node ID */
}

static int contact_cmp(const void *a, const void *b)
{
    const struct cordon_contact *x = a, *y = b;
    return memcmp(x->id, y->id, CORDON_NODE_ID_LEN);
}

/* The position of id in the sorted list, or where it would go. */
static size_t proven_pos(const cordon_runtime *rt, const uint8_t id[CORDON_NODE_ID_LEN],
                         bool *found)
{
    size_t lo = 0, hi = rt->n_proven;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(rt->proven[mid].id, id, CORDON_NODE_ID_LEN);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Keeps only the nodes of the routing table and those with an established link: the only
 * ones a CRL could still find here. */
static void proven_prune(cordon_runtime *rt)
{
    size_t n = cordon_core_contacts(rt->core, NULL, 0);
    struct cordon_contact *list = n == 0 ? NULL : calloc(n, sizeof(*list));
    if (n != 0 && list == NULL)
        return;
    size_t got = n == 0 ? 0 : cordon_core_contacts(rt->core, list, n);
    if (got > n)
        got = n;
    qsort(list, got, sizeof(*list), contact_cmp);
    size_t kept = 0;
    for (size_t i = 0; i < rt->n_proven; i++) {
        const struct rt_proven *p = &rt->proven[i];
        struct sockaddr_storage ss;
        socklen_t len = addr_to_sockaddr(&p->addr, &ss);
        uint8_t at[CORDON_NODE_ID_LEN];
        bool keep = (got > 0 && bsearch(p->id, list, got, sizeof(*list), id_cmp) != NULL) ||
                    (cordon_links_peer(rt->links, (const struct sockaddr *)&ss, len, at) &&
                     memcmp(at, p->id, CORDON_NODE_ID_LEN) == 0);
        if (keep)
            rt->proven[kept++] = *p;
    }
    rt->n_proven = kept;
    free(list);
}

/* A link proved node pc->node_id at a with the certificate pc->serial. */
static void proven_note(cordon_runtime *rt, const struct cordon_link_peer_cert *pc,
                        const struct cordon_addr *a)
{
    bool found;
    size_t i = proven_pos(rt, pc->node_id, &found);
    if (!found && rt->n_proven == rt->max_proven) {
        proven_prune(rt);
        i = proven_pos(rt, pc->node_id, &found);
    }
    if (!found && rt->n_proven == rt->max_proven)
        return; /* cannot happen: the cap holds a full table and every link */
    if (!found && rt->n_proven == rt->cap_proven) {
        size_t cap = rt->cap_proven == 0 ? CORDON_RT_REMOTES_INITIAL : 2 * rt->cap_proven;
        if (cap > rt->max_proven)
            cap = rt->max_proven;
        struct rt_proven *grown = realloc(rt->proven, cap * sizeof(*grown));
        if (grown == NULL)
            return;
        rt->proven = grown;
        rt->cap_proven = cap;
    }
    if (!found) {
        memmove(&rt->proven[i + 1], &rt->proven[i], (rt->n_proven - i) * sizeof(rt->proven[0]));
        rt->n_proven++;
        memcpy(rt->proven[i].id, pc->node_id, CORDON_NODE_ID_LEN);
    }
    memcpy(rt->proven[i].serial, pc->serial, CORDON_SERIAL_LEN);
    rt->proven[i].addr = *a;
}

/* ---- link host callbacks -------------------------------------------------------------------- */

static void on_send_datagram(void *ctx, const struct sockaddr *to, socklen_t tolen,
                             const uint8_t *data, size_t len)
{
    cordon_runtime *rt = ctx;
    ssize_t n;
    do {
        n = sendto(rt->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, to, tolen);
    } while (n < 0 && errno == EINTR);
    /* Loss is fine (DTLS retransmits, the core retries); a full buffer is just loss. */
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        rt->send_errors++;
}

static void on_deliver(void *ctx, const uint8_t node_id[CORDON_NODE_ID_LEN],
                       const struct sockaddr *from, socklen_t fromlen, const uint8_t *data,
                       size_t len)
{
    cordon_runtime *rt = ctx;
    struct cordon_contact c;
    if (rt->in_core || !addr_from_sockaddr(from, fromlen, &c.addr))
        return; /* links deliver only from input(): never while the core is running */
    memcpy(c.id, node_id, CORDON_NODE_ID_LEN);
    struct rt_remote *r = remote_get(rt, &c.addr, node_id);
    if (r == NULL)
        return;
    r->last_ms = rt->now_ms;
    const uint8_t *msg = NULL;
    size_t msg_len = 0;
    if (cordon_frag_rx_push(r->rx, data, len, rt->now_ms, &msg, &msg_len) != CORDON_OK ||
        msg == NULL)
        return; /* dropped and counted by the reassembler, or a fragment stored */
    rt->in_core = true;
    cordon_core_receive(rt->core, rt->now_ms, &c, msg, msg_len);
    rt->in_core = false;
}

static void on_link_up(void *ctx, const uint8_t node_id[CORDON_NODE_ID_LEN],
                       const struct sockaddr *addr, socklen_t addrlen)
{
    cordon_runtime *rt = ctx;
    struct cordon_addr a;
    struct cordon_link_peer_cert pc;
    if (!addr_from_sockaddr(addr, addrlen, &a))
        return;
    if (cordon_links_peer_cert(rt->links, addr, addrlen, &pc))
        proven_note(rt, &pc, &a);
    for (size_t i = 0; i < rt->n_boot; i++) {
        if (rt->boot[i].state == BOOT_PENDING && addr_equal(&rt->boot[i].addr, &a)) {
            rt->boot[i].state = BOOT_UP;
            memcpy(rt->boot[i].id, node_id, CORDON_NODE_ID_LEN);
        }
    }
}

static void on_link_failed(void *ctx, const struct sockaddr *addr, socklen_t addrlen,
                           const uint8_t *expected, cordon_err reason)
{
    cordon_runtime *rt = ctx;
    struct cordon_contact c;
    if (!addr_from_sockaddr(addr, addrlen, &c.addr))
        return;
    char at[ADDR_LOG_MAX], hex[HEX_ID_LEN] = "-";
    if (expected != NULL)
        cordon_hex_encode(expected, CORDON_NODE_ID_LEN, hex);
    /* A timeout is routine churn; a refusal is what an operator wants to see. */
    cordon_log(reason == CORDON_ERR_NETWORK ? CORDON_LOG_DEBUG : CORDON_LOG_WARN,
               "peer.link_refused", "node=%s addr=%s expected=%s reason=%s", rt->node_hex,
               addr_text(&c.addr, at), hex, cordon_errname(reason));
    remote_drop_addr(rt, &c.addr);
    for (size_t i = 0; i < rt->n_boot; i++) {
        if (rt->boot[i].state == BOOT_PENDING && addr_equal(&rt->boot[i].addr, &c.addr))
            rt->boot[i].state = BOOT_FAILED;
    }
    if (expected != NULL) {
        memcpy(c.id, expected, CORDON_NODE_ID_LEN);
        defer_failure(rt, &c);
    }
}

static int64_t on_wall_time(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

/* ---- core host callbacks -------------------------------------------------------------------- */

struct send_ctx {
    cordon_runtime *rt;
    const struct sockaddr *to;
    socklen_t tolen;
    const uint8_t *expected;
};

static cordon_err emit_record(void *ctx, const uint8_t *rec, size_t len)
{
    struct send_ctx *s = ctx;
    return cordon_links_send(s->rt->links, s->rt->now_ms, s->to, s->tolen, s->expected, rec, len);
}

/* Frames msg into records and hands them to the link table. */
static cordon_err send_message(cordon_runtime *rt, const struct cordon_addr *to,
                               const uint8_t *expected, const uint8_t *msg, size_t len)
{
    struct sockaddr_storage ss;
    struct send_ctx s = {.rt = rt, .expected = expected};
    s.tolen = addr_to_sockaddr(to, &ss);
    s.to = (const struct sockaddr *)&ss;
    if (to->family != (rt->family == AF_INET ? 4 : 6))
        return CORDON_ERR_INVAL; /* our socket cannot reach that family */
    return cordon_frag_split(msg, len, rt->next_msg_id++, emit_record, &s);
}

static void batch_flush(cordon_runtime *rt);

/* An accepted STORED answer while a batch is open: the object is not on disk yet. */
static bool held_stored(const cordon_runtime *rt, const uint8_t *msg, size_t len)
{
    struct cordon_msg m;
    if (!rt->batch_open || len != RT_STORED_LEN || msg[1] != CORDON_MSG_STORED)
        return false; /* the header's type byte: only STOREDs are decoded */
    return cordon_msg_decode(msg, len, &m) == CORDON_OK &&
           m.u.stored.code == CORDON_STORED_ACCEPTED;
}

static void on_core_send(void *ctx, const struct cordon_contact *to, const uint8_t *msg, size_t len)
{
    cordon_runtime *rt = ctx;
    /* A writer must never hear "stored" of an object that a failed commit then loses:
     * accepted STOREDs wait for the batch's commit. Refusals go now (they depend on no
     * commit). */
    if (held_stored(rt, msg, len)) {
        if (rt->n_held == rt->held_cap) {
            size_t cap = rt->held_cap == 0 ? RT_HELD_MIN : 2 * rt->held_cap;
            struct rt_held *h = realloc(rt->held, cap * sizeof(*h));
            if (h != NULL) {
                rt->held = h;
                rt->held_cap = cap;
            }
        }
        if (rt->n_held < rt->held_cap) {
            rt->held[rt->n_held].to = *to;
            memcpy(rt->held[rt->n_held].msg, msg, RT_STORED_LEN);
            if (++rt->n_held == RT_HELD_MAX)
                batch_flush(rt); /* commits, then sends them all; the next STORE reopens */
            return;
        }
        batch_flush(rt); /* no memory to hold it: commit now, this object included */
    }
    if (send_message(rt, &to->addr, to->id, msg, len) != CORDON_OK)
        defer_failure(rt, to);
}

static void on_core_random(void *ctx, void *out, size_t n)
{
    cordon_runtime *rt = ctx;
    if (cordon_random(out, n) != CORDON_OK) {
        memset(out, 0, n);
        rt->poisoned = CORDON_ERR_CRYPTO;
    }
}

/* ---- bootstrap and join ------------------------------------------------------------------------
 */

/* Sends every pending bootstrap address a PING over a link that expects no node ID. */
static void boot_probe(cordon_runtime *rt)
{
    for (size_t i = 0; i < rt->n_boot; i++) {
        struct rt_boot *b = &rt->boot[i];
        b->state = BOOT_PENDING;
        struct cordon_msg m = {.type = CORDON_MSG_PING};
        uint8_t buf[CORDON_MSG_HEADER_LEN + 8];
        size_t len = 0;
        on_core_random(rt, &m.txid, sizeof(m.txid));
        if (cordon_msg_encode(&m, buf, sizeof(buf), &len) != CORDON_OK ||
            send_message(rt, &b->addr, NULL, buf, len) != CORDON_OK)
            b->state = BOOT_FAILED;
    }
    rt->join = JOIN_PROBING;
}

static void boot_step(cordon_runtime *rt)
{
    if (rt->join == JOIN_WAIT_RETRY && rt->now_ms >= rt->retry_at)
        boot_probe(rt);
    if (rt->join != JOIN_PROBING)
        return;
    struct cordon_contact contacts[CORDON_BOOTSTRAP_MAX];
    size_t n = 0;
    for (size_t i = 0; i < rt->n_boot; i++) {
        const struct rt_boot *b = &rt->boot[i];
        if (b->state == BOOT_PENDING)
            return; /* the handshake timeout bounds the wait */
        if (b->state != BOOT_UP || memcmp(b->id, rt->node_id, CORDON_NODE_ID_LEN) == 0)
            continue;
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = memcmp(contacts[j].id, b->id, CORDON_NODE_ID_LEN) == 0;
        if (!dup) {
            memcpy(contacts[n].id, b->id, CORDON_NODE_ID_LEN);
            contacts[n++].addr = b->addr;
        }
    }
    if (rt->n_boot > 0 && n == 0) {
        cordon_log(CORDON_LOG_WARN, "peer.bootstrap_failed", "node=%s tried=%zu retry_ms=%u",
                   rt->node_hex, rt->n_boot, (unsigned)CORDON_RT_BOOTSTRAP_RETRY_MS);
        rt->join = JOIN_WAIT_RETRY;
        rt->retry_at = rt->now_ms + CORDON_RT_BOOTSTRAP_RETRY_MS;
        return;
    }
    rt->in_core = true;
    cordon_err err = cordon_core_join(rt->core, rt->now_ms, contacts, n);
    rt->in_core = false;
    if (err != CORDON_OK) {
        cordon_log(CORDON_LOG_ERROR, "peer.join_failed", "node=%s reason=%s", rt->node_hex,
                   cordon_errname(err));
        rt->poisoned = err;
        return;
    }
    cordon_log(CORDON_LOG_INFO, "peer.joining", "node=%s bootstrap=%zu", rt->node_hex, n);
    rt->join = JOIN_JOINING;
}

/* Logs what changed in the core that an operator cares about. */
static void observe(cordon_runtime *rt)
{
    struct cordon_core_status st;
    cordon_core_status(rt->core, &st);
    if (rt->join == JOIN_JOINING && st.lookups == 0 && st.pending == 0) {
        rt->join = JOIN_DONE;
        rt->crl_poll_at = rt->now_ms; /* what was revoked while this node was away */
        /* What came due while the node was down goes first, after a random delay: writers
         * restarted together (a power cut, an upgrade) do not all republish at once. */
        uint32_t r = 0;
        on_core_random(rt, &r, sizeof(r));
        rt->republish_check_at = rt->now_ms + r % CORDON_RT_REPUBLISH_START_JITTER_MS;
        cordon_log(CORDON_LOG_INFO, "peer.joined", "node=%s table=%zu", rt->node_hex,
                   st.table_size);
    }
    if (st.table_size != rt->table_logged) {
        rt->table_logged = st.table_size;
        cordon_log(CORDON_LOG_INFO, "peer.table", "node=%s size=%zu links=%zu", rt->node_hex,
                   st.table_size, cordon_links_count(rt->links));
    }
}

/* ---- the object store (struct cordon_core_storage) ------------------------------------------ */

/* Wall-clock seconds, as acceptance judges created_at and lifetime (the core's now_ms is
 * the monotonic clock and says nothing of the date). */
static uint64_t wall_s(void)
{
    time_t t = time(NULL);
    return t > 0 ? (uint64_t)t : 0;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec > 0 ? (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u : 0;
}

/* The seq the store holds for key (0: none, expired, or unreadable). */
static uint64_t held_seq(cordon_runtime *rt, const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN])
{
    struct cordon_object o;
    uint64_t seq = 0;
    cordon_buf b;
    /* Not kept: a refusal is rare, and a swarm's instances would each hold 70 KiB. */
    cordon_buf_init(&b, CORDON_OBJECT_MAX, false);
    if (cordon_store_get(rt->store, key, wall_s(), &b) == CORDON_OK &&
        cordon_object_decode(b.data, b.len, &o) == CORDON_OK)
        seq = o.seq;
    cordon_buf_free(&b);
    return seq;
}

static void batch_begin(cordon_runtime *rt);

static cordon_err on_store_put(void *ctx, uint64_t now_ms, const uint8_t *obj, size_t len,
                               uint64_t *held)
{
    cordon_runtime *rt = ctx;
    struct cordon_object o;
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    (void)now_ms;
    *held = 0;
    if (rt->in_burst)
        batch_begin(rt); /* the burst's first STORE: its puts commit together */
    cordon_err err = cordon_store_put(rt->store, rt->verifier, obj, len, wall_s(), &o);
    if (err == CORDON_OK) {
        *held = o.seq;
    } else if (len <= CORDON_OBJECT_MAX && cordon_object_decode(obj, len, &o) == CORDON_OK) {
        /* A writer refused as stale learns the seq to beat. */
        cordon_object_entry_key(&o, key);
        *held = held_seq(rt, key);
    }
    if (err == CORDON_ERR_DB)
        cordon_log(CORDON_LOG_ERROR, "peer.store_failed", "node=%s op=put reason=%s", rt->node_hex,
                   cordon_errname(err));
    return err;
}

static cordon_err on_store_get(void *ctx, uint64_t now_ms,
                               const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN], cordon_buf *out)
{
    cordon_runtime *rt = ctx;
    (void)now_ms;
    cordon_err err = cordon_store_get(rt->store, key, wall_s(), out);
    if (err != CORDON_OK && err != CORDON_ERR_NOT_FOUND)
        cordon_log(CORDON_LOG_ERROR, "peer.store_failed", "node=%s op=get reason=%s", rt->node_hex,
                   cordon_errname(err));
    return err;
}

static cordon_err on_store_check(void *ctx, uint64_t now_ms, const uint8_t *obj, size_t len)
{
    cordon_runtime *rt = ctx;
    (void)now_ms;
    return cordon_store_check(rt->store, rt->verifier, obj, len, wall_s(), NULL);
}

/* Replica maintenance's walk: the store's scan counts expired entries toward its max (so
 * each call is bounded), the core's contract skips them and reads an empty answer as the
 * end; so scan again after them, a bounded number of times. A stretch of more expired
 * entries than that (an expiry sweep far behind) ends the pass early, and the next pass
 * starts over: nothing is lost but that pass's tail. */
struct scan_fill {
    struct cordon_summary_entry *out;
    size_t max, n;
};

static bool scan_fill_one(void *ctx, const struct cordon_store_summary *s)
{
    struct scan_fill *f = ctx;
    memcpy(f->out[f->n].key, s->key, CORDON_OBJECT_ENTRY_KEY_LEN);
    f->out[f->n].seq = s->seq;
    f->n++;
    return f->n < f->max;
}

static cordon_err on_store_scan(void *ctx, uint64_t now_ms, const uint8_t *after,
                                struct cordon_summary_entry *out, size_t max, size_t *n)
{
    cordon_runtime *rt = ctx;
    struct scan_fill f = {.out = out, .max = max, .n = 0};
    uint8_t from[CORDON_OBJECT_ENTRY_KEY_LEN], next[CORDON_OBJECT_ENTRY_KEY_LEN];
    const uint64_t now = wall_s();
    (void)now_ms;
    *n = 0;
    if (max == 0)
        return CORDON_ERR_INVAL;
    for (size_t round = 0; round < CORDON_RT_SCAN_ROUNDS && f.n == 0; round++) {
        cordon_err err = cordon_store_scan(rt->store, after, max, now, scan_fill_one, &f, next);
        if (err == CORDON_ERR_NOT_FOUND)
            break;
        if (err != CORDON_OK) {
            cordon_log(CORDON_LOG_ERROR, "peer.store_failed", "node=%s op=scan reason=%s",
                       rt->node_hex, cordon_errname(err));
            return err;
        }
        memcpy(from, next, sizeof(from));
        after = from;
    }
    *n = f.n;
    return CORDON_OK;
}

static cordon_err on_store_held(void *ctx, uint64_t now_ms,
                                const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN], uint64_t *seq)
{
    cordon_runtime *rt = ctx;
    (void)now_ms;
    cordon_err err = cordon_store_seq(rt->store, key, wall_s(), seq);
    if (err != CORDON_OK)
        cordon_log(CORDON_LOG_ERROR, "peer.store_failed", "node=%s op=held reason=%s", rt->node_hex,
                   cordon_errname(err));
    return err;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* DIR/store with the overlay's limits, clamped to what the store can hold (logged once as
 * peer.store_clamped), and the verifier of objects with the CA and the CRL in use. */
static cordon_err open_store(cordon_runtime *rt, const struct cordon_overlay_params *p)
{
    char path[CORDON_PATH_MAX];
    cordon_err err = cordon_path_join(path, rt->dir, "store");
    if (err != CORDON_OK)
        return err;
    struct cordon_store_config sc;
    memset(&sc, 0, sizeof(sc));
    sc.path = path;
    /* LMDB pages hold less than the map's size of objects: the map is about twice the
     * capacity (store.h), at least the usual size. It is address space, not memory or
     * disk: the file grows with what is stored. */
    sc.node_bytes = min_u64(p->node_capacity_bytes, CORDON_RT_STORE_BYTES_MAX);
    sc.map_size =
        sc.node_bytes * 2 > CORDON_STORE_MAP_SIZE ? sc.node_bytes * 2 : CORDON_STORE_MAP_SIZE;
    sc.value_max = min_u64(p->max_object_size, CORDON_OBJECT_VALUE_MAX);
    sc.max_lifetime = (uint32_t)min_u64(p->max_lifetime, CORDON_OBJECT_LIFETIME_MAX);
    /* The store reads 0 as its default (300 s): an overlay that tolerates no skew at all
     * gets the nearest the store can express. */
    sc.skew = p->clock_skew == 0 ? 1 : p->clock_skew;
    sc.writer_objects = p->writer_quota_objects;
    sc.writer_bytes = min_u64(p->writer_quota_bytes, sc.node_bytes);
    if (sc.value_max != p->max_object_size || sc.max_lifetime != p->max_lifetime ||
        sc.node_bytes != p->node_capacity_bytes || sc.writer_bytes != p->writer_quota_bytes ||
        sc.skew != p->clock_skew)
        cordon_log(
            CORDON_LOG_WARN, "peer.store_clamped",
            "node=%s max_object_size=%u/%zu max_lifetime=%u/%u node_capacity_bytes=%llu/%llu "
            "writer_quota_bytes=%llu/%llu clock_skew=%u/%u",
            rt->node_hex, (unsigned)p->max_object_size, sc.value_max, (unsigned)p->max_lifetime,
            (unsigned)sc.max_lifetime, (unsigned long long)p->node_capacity_bytes,
            (unsigned long long)sc.node_bytes, (unsigned long long)p->writer_quota_bytes,
            (unsigned long long)sc.writer_bytes, (unsigned)p->clock_skew, (unsigned)sc.skew);
    rt->value_max = sc.value_max;
    rt->max_lifetime = sc.max_lifetime;
    err = cordon_store_open(&sc, &rt->store);
    if (err == CORDON_OK)
        err = cordon_object_verifier_new(rt->identity.ca, rt->overlay, CORDON_OBJECT_CERT_CACHE,
                                         &rt->verifier);
    if (err == CORDON_OK && rt->identity.crl != NULL)
        err = cordon_object_verifier_set_crl(rt->verifier, rt->identity.crl);
    if (err == CORDON_OK)
        err = cordon_cert_der(rt->identity.cert, &rt->cert_der);
    if (err != CORDON_OK)
        return err;
    struct cordon_store_stats ss;
    cordon_store_stats(rt->store, &ss);
    char q[2 * CORDON_PATH_MAX];
    cordon_log(CORDON_LOG_INFO, "peer.store", "node=%s path=%s objects=%llu bytes=%llu",
               rt->node_hex, cordon_log_quote(path, q, sizeof(q)), (unsigned long long)ss.objects,
               (unsigned long long)ss.bytes);
    return CORDON_OK;
}

/* One bounded expiry step when due; the next comes soon when the batch was full. */
static void expire_step(cordon_runtime *rt)
{
    if (rt->store == NULL || rt->now_ms < rt->expire_at)
        return;
    size_t removed = 0;
    cordon_err err = cordon_store_expire(rt->store, wall_s(), CORDON_STORE_EXPIRE_BATCH, &removed);
    if (err != CORDON_OK)
        cordon_log(CORDON_LOG_ERROR, "peer.store_failed", "node=%s op=expire reason=%s",
                   rt->node_hex, cordon_errname(err));
    if (removed > 0)
        cordon_log(CORDON_LOG_DEBUG, "peer.store_expired", "node=%s removed=%zu", rt->node_hex,
                   removed);
    rt->expire_at = rt->now_ms + (removed >= CORDON_STORE_EXPIRE_BATCH ? CORDON_RT_EXPIRE_BUSY_MS
                                                                       : CORDON_RT_EXPIRE_MS);
}

/* ---- republishing (runtime.h) ---------------------------------------------------------- */

/* When a version created at created_at is republished: a random point of
 * [created_at + lifetime/4, created_at + lifetime/2], so that writers restarted together
 * spread their puts over a quarter of the lifetime instead of sending them at once. */
static uint64_t republish_time(cordon_runtime *rt, uint64_t created_at, uint32_t lifetime)
{
    uint32_t r = 0;
    on_core_random(rt, &r, sizeof(r));
    uint32_t span = lifetime / 4;
    return created_at + lifetime / 2 - r % (span + 1);
}

/* A republish that failed is tried again this much later: well within the half of the
 * lifetime that is left when it was due. */
static uint64_t republish_retry_s(uint32_t lifetime)
{
    uint32_t s = lifetime / 8;
    if (s > CORDON_RT_REPUBLISH_RETRY_MAX_S)
        s = CORDON_RT_REPUBLISH_RETRY_MAX_S;
    return s > 0 ? s : 1;
}

static void repub_free(struct rt_republish *p)
{
    free(p->obj);
    memset(p, 0, sizeof(*p));
}

/* A write through the control API replaced or removed key's record: a republish running
 * for the older version must not write its record back. */
static void republish_supersede(cordon_runtime *rt, const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN])
{
    for (size_t i = 0; i < CORDON_RT_REPUBLISH_INFLIGHT; i++) {
        if (rt->repub[i].used && memcmp(rt->repub[i].key, key, CORDON_OBJECT_ENTRY_KEY_LEN) == 0)
            rt->repub[i].superseded = true;
    }
}

static void log_store_failed(const cordon_runtime *rt, const char *op, cordon_err err)
{
    cordon_log(CORDON_LOG_ERROR, "peer.store_failed", "node=%s op=%s reason=%s", rt->node_hex, op,
               cordon_errname(err));
}

/* The control API's put or delete of s succeeded: the entry's record becomes its object,
 * to be republished (a put that lives long enough) or none (a delete, a short lifetime). */
static void mine_note(cordon_runtime *rt, const struct rt_ctl_object *s)
{
    struct cordon_object o;
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    if (s->forged || s->obj == NULL || cordon_object_decode(s->obj, s->obj_len, &o) != CORDON_OK)
        return;
    cordon_object_entry_key(&o, key);
    republish_supersede(rt, key);
    cordon_err err;
    if (s->op == CORDON_CONTROL_OBJECT_PUT && o.lifetime >= CORDON_RT_REPUBLISH_MIN_LIFETIME_S)
        err = cordon_store_mine_put(rt->store, key, s->obj, s->obj_len,
                                    republish_time(rt, o.created_at, o.lifetime));
    else
        err = cordon_store_mine_del(rt->store, key);
    if (err == CORDON_ERR_OBJ_QUOTA)
        cordon_log(CORDON_LOG_WARN, "peer.republish_failed",
                   "node=%s seq=%llu reason=%s records_max=%u", rt->node_hex,
                   (unsigned long long)o.seq, cordon_errname(err), (unsigned)CORDON_STORE_MINE_MAX);
    else if (err != CORDON_OK)
        log_store_failed(rt, "mine", err);
    rt->republish_check_at = rt->now_ms;
}

static void repub_done(void *arg, cordon_err result, const struct cordon_put_result *res)
{
    struct rt_republish *p = arg;
    cordon_runtime *rt = p->rt;
    cordon_err err = CORDON_OK;
    if (result == CORDON_OK) {
        rt->republished++;
        if (!p->superseded)
            err = cordon_store_mine_put(rt->store, p->key, p->obj, p->len,
                                        republish_time(rt, p->created_at, p->lifetime));
        cordon_log(CORDON_LOG_DEBUG, "peer.republished", "node=%s seq=%llu accepted=%u",
                   rt->node_hex, (unsigned long long)p->seq,
                   res != NULL ? (unsigned)res->accepted : 0u);
    } else if (result == CORDON_ERR_OBJ_STALE && res != NULL && res->held >= p->seq) {
        /* A replica holds a newer version of this node's entry that this instance did not
         * write (another process with this identity, a store restored from a backup): it
         * wins, and republishing the older value would undo it. */
        rt->republish_failed++;
        cordon_log(CORDON_LOG_WARN, "peer.republish_superseded", "node=%s seq=%llu held=%llu",
                   rt->node_hex, (unsigned long long)p->seq, (unsigned long long)res->held);
        if (!p->superseded)
            err = cordon_store_mine_del(rt->store, p->key);
    } else {
        /* The record holds this version with its retry time already (republish_one). */
        rt->republish_failed++;
        cordon_log(CORDON_LOG_WARN, "peer.republish_failed",
                   "node=%s seq=%llu reason=%s retry_s=%llu", rt->node_hex,
                   (unsigned long long)p->seq, cordon_errname(result),
                   (unsigned long long)republish_retry_s(p->lifetime));
    }
    if (err != CORDON_OK)
        log_store_failed(rt, "mine", err);
    repub_free(p);
    rt->republish_check_at = rt->now_ms; /* a slot is free */
}

/* Starts the republish of the record (key, old) in slot p: a new version of it, written
 * as the record first (with its retry time, so that a put that fails, or dies with the
 * process, is done again) and then put. A record that cannot be republished (it does not
 * decode, a tombstone, a short lifetime: none is written so) is removed; one that cannot
 * be signed now waits its retry time. CORDON_OK when the put started, else why not. */
static cordon_err republish_one(cordon_runtime *rt, struct rt_republish *p,
                                const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                                const cordon_buf *old, uint64_t now_s)
{
    struct cordon_object o;
    size_t len = 0;
    cordon_err err = cordon_object_decode(old->data, old->len, &o);
    if (err == CORDON_OK &&
        (cordon_object_is_tombstone(&o) || o.kind == CORDON_KIND_CRL || o.seq == UINT64_MAX ||
         o.lifetime < CORDON_RT_REPUBLISH_MIN_LIFETIME_S))
        err = CORDON_ERR_INVAL;
    if (err != CORDON_OK) {
        rt->republish_failed++;
        cordon_log(CORDON_LOG_WARN, "peer.republish_failed", "node=%s reason=%s dropped=1",
                   rt->node_hex, cordon_errname(err));
        err = cordon_store_mine_del(rt->store, key);
        if (err != CORDON_OK)
            log_store_failed(rt, "mine", err);
        return CORDON_ERR_INVAL;
    }
    uint64_t retry_at = now_s + republish_retry_s(o.lifetime);
    uint8_t *buf = malloc(CORDON_OBJECT_MAX);
    if (buf == NULL) {
        err = CORDON_ERR_NOMEM;
    } else {
        /* The value, name and kind stay; the certificate is the one in use (renewed ones
         * too), and so a replica judges it like any fresh write. */
        o.seq++;
        o.created_at = now_s;
        o.cert = rt->cert_der.data;
        o.cert_len = rt->cert_der.len;
        err = cordon_object_sign(rt->identity.key, &o, buf, CORDON_OBJECT_MAX, &len);
    }
    if (err == CORDON_OK)
        err = cordon_store_mine_put(rt->store, key, buf, len, retry_at);
    else if (cordon_store_mine_put(rt->store, key, old->data, old->len, retry_at) != CORDON_OK)
        log_store_failed(rt, "mine", CORDON_ERR_DB);
    uint8_t *kept = err == CORDON_OK ? realloc(buf, len) : NULL;
    if (err == CORDON_OK && kept == NULL)
        err = CORDON_ERR_NOMEM;
    if (err == CORDON_OK) {
        buf = NULL;
        *p = (struct rt_republish){.rt = rt,
                                   .used = true,
                                   .obj = kept,
                                   .len = len,
                                   .seq = o.seq,
                                   .created_at = o.created_at,
                                   .lifetime = o.lifetime};
        memcpy(p->key, key, CORDON_OBJECT_ENTRY_KEY_LEN);
        bool was = rt->in_core;
        rt->in_core = true;
        err = cordon_core_put(rt->core, rt->now_ms, p->obj, p->len, repub_done, p);
        rt->in_core = was;
        if (err != CORDON_OK)
            repub_free(p); /* the callback was not and will not be called */
    }
    free(buf);
    if (err == CORDON_OK)
        return CORDON_OK;
    rt->republish_failed++;
    cordon_log(CORDON_LOG_WARN, "peer.republish_failed", "node=%s seq=%llu reason=%s retry_s=%llu",
               rt->node_hex, (unsigned long long)o.seq, cordon_errname(err),
               (unsigned long long)(retry_at - now_s));
    return err;
}

/* Takes the records that are due, a bounded number per call and per slots free, and
 * sets when to look again. */
static void republish_step(cordon_runtime *rt)
{
    if (rt->store == NULL || rt->now_ms < rt->republish_check_at)
        return;
    rt->republish_check_at = rt->now_ms + CORDON_RT_REPUBLISH_IDLE_MS;
    if (rt->join != JOIN_DONE) {
        /* A put before the join would find no replica but this node. */
        rt->republish_check_at = rt->now_ms + 1000;
        return;
    }
    cordon_buf b;
    cordon_buf_init(&b, CORDON_OBJECT_MAX, false);
    const uint64_t now_s = wall_s();
    for (size_t taken = 0; taken < CORDON_RT_REPUBLISH_PER_TICK; taken++) {
        struct rt_republish *p = NULL;
        for (size_t i = 0; i < CORDON_RT_REPUBLISH_INFLIGHT && p == NULL; i++) {
            if (!rt->repub[i].used)
                p = &rt->repub[i];
        }
        if (p == NULL)
            break; /* repub_done looks again when a slot frees */
        uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
        uint64_t at = 0;
        cordon_err err = cordon_store_mine_first(rt->store, key, &at, &b);
        if (err == CORDON_ERR_NOT_FOUND)
            break;
        if (err != CORDON_OK) {
            log_store_failed(rt, "mine", err);
            break;
        }
        if (at > now_s) {
            uint64_t wait_ms = (at - now_s) * 1000u;
            if (wait_ms < CORDON_RT_REPUBLISH_IDLE_MS)
                rt->republish_check_at = rt->now_ms + wait_ms;
            break;
        }
        bool running = false;
        for (size_t i = 0; i < CORDON_RT_REPUBLISH_INFLIGHT && !running; i++)
            running = rt->repub[i].used &&
                      memcmp(rt->repub[i].key, key, CORDON_OBJECT_ENTRY_KEY_LEN) == 0;
        if (running) {
            /* Its put outlasted its retry time (lookups can): wait for it, not twice. */
            struct cordon_object o;
            uint32_t life = cordon_object_decode(b.data, b.len, &o) == CORDON_OK ? o.lifetime : 8;
            err = cordon_store_mine_put(rt->store, key, b.data, b.len,
                                        now_s + republish_retry_s(life));
            if (err != CORDON_OK) {
                log_store_failed(rt, "mine", err);
                break;
            }
            continue;
        }
        cordon_err err1 = republish_one(rt, p, key, &b, now_s);
        /* The core is full of operations (or the instance failed): the rest wait. */
        if (err1 == CORDON_ERR_BUSY || rt->poisoned != CORDON_OK)
            break;
    }
    cordon_buf_free(&b);
}

/* ---- the CRL in the DHT (runtime.h) ----------------------------------------------------- */

static uint64_t crl_in_use(const cordon_runtime *rt)
{
    uint64_t n = 0;
    if (rt->identity.crl == NULL || cordon_crl_number(rt->identity.crl, &n) != CORDON_OK)
        return 0;
    return n;
}

static void crl_put_done(void *arg, cordon_err result, const struct cordon_put_result *res)
{
    cordon_runtime *rt = arg;
    rt->crl_putting = false;
    if (result == CORDON_OK) {
        rt->crl_published++;
        cordon_log(CORDON_LOG_INFO, "peer.crl_published", "node=%s crl=%llu accepted=%u",
                   rt->node_hex, (unsigned long long)crl_in_use(rt),
                   res != NULL ? (unsigned)res->accepted : 0u);
    } else if (result == CORDON_ERR_OBJ_STALE) {
        /* The DHT holds this number or a higher one already: another peer was first. */
        cordon_log(CORDON_LOG_DEBUG, "peer.crl_published", "node=%s crl=%llu held=%llu",
                   rt->node_hex, (unsigned long long)crl_in_use(rt),
                   res != NULL ? (unsigned long long)res->held : 0ull);
    } else {
        bool again = ++rt->crl_publish_tries < CORDON_RT_CRL_PUBLISH_TRIES;
        if (again && rt->crl_publish_at == UINT64_MAX)
            rt->crl_publish_at = rt->now_ms + CORDON_RT_CRL_RETRY_MS;
        cordon_log(CORDON_LOG_WARN, "peer.crl_publish_failed",
                   "node=%s crl=%llu reason=%s retry=%d", rt->node_hex,
                   (unsigned long long)crl_in_use(rt), cordon_errname(result), again ? 1 : 0);
    }
}

/* Puts the CRL in use into the DHT as a kind crl object. This node signs the wrapper (any
 * enrolled node may: crypto/object.h); what a reader trusts is the CA's signature on the
 * CRL inside, whose crlNumber the seq must be. */
static void crl_publish(cordon_runtime *rt)
{
    cordon_buf der;
    struct cordon_object o;
    size_t len = 0;
    uint8_t *buf = NULL;
    rt->crl_publish_at = UINT64_MAX;
    if (rt->identity.crl == NULL)
        return;
    cordon_buf_init(&der, CORDON_OBJECT_VALUE_MAX, false);
    memset(&o, 0, sizeof(o));
    cordon_err err = cordon_crl_der(rt->identity.crl, &der);
    if (err == CORDON_OK)
        err = cordon_crl_number(rt->identity.crl, &o.seq);
    if (err == CORDON_OK) {
        buf = malloc(CORDON_OBJECT_MAX);
        err = buf == NULL ? CORDON_ERR_NOMEM : CORDON_OK;
    }
    if (err == CORDON_OK) {
        o.kind = CORDON_KIND_CRL;
        snprintf(o.overlay, sizeof(o.overlay), "%s", rt->overlay);
        memcpy(o.writer, rt->node_id, CORDON_NODE_ID_LEN);
        o.created_at = wall_s();
        /* As long as the overlay lets anything live: the newest CRL stays the best there
         * is while the server is down; a newer one replaces it by its higher seq. */
        o.lifetime = rt->max_lifetime;
        o.value = der.data;
        o.value_len = der.len;
        o.cert = rt->cert_der.data;
        o.cert_len = rt->cert_der.len;
        err = cordon_object_sign(rt->identity.key, &o, buf, CORDON_OBJECT_MAX, &len);
    }
    if (err == CORDON_OK) {
        bool was = rt->in_core;
        rt->in_core = true;
        err = cordon_core_put(rt->core, rt->now_ms, buf, len, crl_put_done, rt);
        rt->in_core = was;
    }
    if (err == CORDON_OK) {
        rt->crl_putting = true;
    } else {
        bool again =
            err == CORDON_ERR_BUSY && ++rt->crl_publish_tries < CORDON_RT_CRL_PUBLISH_TRIES;
        if (again)
            rt->crl_publish_at = rt->now_ms + CORDON_RT_CRL_RETRY_MS;
        cordon_log(CORDON_LOG_WARN, "peer.crl_publish_failed",
                   "node=%s crl=%llu reason=%s retry=%d", rt->node_hex, (unsigned long long)o.seq,
                   cordon_errname(err), again ? 1 : 0);
    }
    free(buf);
    cordon_buf_free(&der);
}

/* A get of the crl resource ended. A higher CRL than the one in use is kept for crl_step,
 * which takes it in outside the core (taking one forgets nodes and fails links). The core
 * has checked the object (storage->check): a CRL signed by the overlay CA whose crlNumber
 * is its seq. */
static void crl_get_done(void *arg, cordon_err result, const uint8_t *obj, size_t len,
                         const struct cordon_get_result *res)
{
    cordon_runtime *rt = arg;
    struct cordon_object o;
    cordon_crl *crl = NULL;
    uint64_t number = 0;
    (void)res;
    rt->crl_getting = false;
    if (result != CORDON_OK)
        return; /* none stored yet, or no answer: the next poll */
    cordon_err err = cordon_object_decode(obj, len, &o);
    if (err == CORDON_OK && o.kind != CORDON_KIND_CRL)
        err = CORDON_ERR_CRL;
    if (err == CORDON_OK)
        err = cordon_crl_parse(o.value, o.value_len, &crl);
    if (err == CORDON_OK)
        err = cordon_crl_number(crl, &number);
    if (err == CORDON_OK && number != o.seq)
        err = CORDON_ERR_CRL;
    /* Current too, as a fetched one must be: the link table checks handshakes against the
     * CRL in use, and a stale one would refuse them all. */
    if (err == CORDON_OK)
        err = cordon_crl_verify(crl, rt->identity.ca, on_wall_time(rt));
    if (err != CORDON_OK) {
        cordon_crl_free(crl);
        cordon_log(CORDON_LOG_WARN, "peer.crl_reload_failed", "node=%s file=dht reason=%s",
                   rt->node_hex, cordon_errname(err));
        return;
    }
    uint64_t pending = 0;
    if (number <= crl_in_use(rt) ||
        (rt->crl_dht != NULL && cordon_crl_number(rt->crl_dht, &pending) == CORDON_OK &&
         number <= pending)) {
        cordon_crl_free(crl);
        return;
    }
    cordon_crl_free(rt->crl_dht);
    rt->crl_dht = crl;
}

/* Writes the CRL in use to DIR/crl.pem, so that a restart starts with it; the refresher
 * thread may be writing it (CORDON_ERR_BUSY): then again in a second. */
static void crl_save(cordon_runtime *rt)
{
    cordon_err err = cordon_refresh_write_crl(rt->dir, rt->identity.crl);
    rt->crl_save_at = UINT64_MAX;
    if (err == CORDON_ERR_BUSY)
        rt->crl_save_at = rt->now_ms + 1000;
    else if (err != CORDON_OK && err != CORDON_ERR_EXISTS)
        cordon_log(CORDON_LOG_ERROR, "peer.crl_save_failed", "node=%s crl=%llu reason=%s",
                   rt->node_hex, (unsigned long long)crl_in_use(rt), cordon_errname(err));
}

static cordon_err crl_take(cordon_runtime *rt, cordon_crl *crl, uint64_t number,
                           const char *source);

/* What is due of the CRL in the DHT: taking in what a get found, saving it, publishing
 * the CRL in use, the next get. Once joined only. */
static void crl_step(cordon_runtime *rt)
{
    if (rt->crl_dht != NULL) {
        cordon_crl *crl = rt->crl_dht;
        uint64_t number = 0;
        rt->crl_dht = NULL;
        if (cordon_crl_number(crl, &number) == CORDON_OK && number > crl_in_use(rt) &&
            crl_take(rt, crl, number, "dht") == CORDON_OK) {
            rt->crl_from_dht++;
            crl_save(rt);
        } else {
            cordon_crl_free(crl);
        }
    }
    if (rt->now_ms >= rt->crl_save_at)
        crl_save(rt);
    if (rt->join != JOIN_DONE)
        return;
    if (rt->now_ms >= rt->crl_publish_at && !rt->crl_putting)
        crl_publish(rt);
    if (rt->now_ms >= rt->crl_poll_at && !rt->crl_getting) {
        uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
        uint32_t r = 0;
        on_core_random(rt, &r, sizeof(r));
        /* A little jitter, so that peers started together do not poll together forever. */
        rt->crl_poll_at = rt->now_ms + rt->crl_dht_ms + r % (rt->crl_dht_ms / 8 + 1);
        memset(key, 0, sizeof(key));
        cordon_object_resource_id(CORDON_KIND_CRL, rt->overlay, NULL, NULL, 0, key);
        bool was = rt->in_core;
        rt->in_core = true;
        cordon_err err = cordon_core_get(rt->core, rt->now_ms, key, crl_get_done, rt);
        rt->in_core = was;
        if (err == CORDON_OK)
            rt->crl_getting = true;
        else
            cordon_log(CORDON_LOG_DEBUG, "peer.crl_poll_failed", "node=%s reason=%s", rt->node_hex,
                       cordon_errname(err));
    }
}

/* ---- puts, gets and deletes of the control API ------------------------------------------ */

static const char *op_name(uint8_t op)
{
    return op == CORDON_CONTROL_OBJECT_PUT   ? "put"
           : op == CORDON_CONTROL_OBJECT_GET ? "get"
                                             : "del";
}

static void ctl_object_free(struct rt_ctl_object *s)
{
    free(s->obj);
    free(s->value);
    memset(s, 0, sizeof(*s));
}

/* Signs the object of a put or delete at seq into out (CORDON_OBJECT_MAX bytes). A request
 * with an owner that is not this node is signed as asked and left for the replicas to
 * judge: an owned object at the owner's resource ID with this node as writer, or a
 * dictionary entry naming the owner as writer with this node's certificate. No node can
 * make either valid (the resource ID is bound to the writer; the certificate must name it),
 * and that is what PUT ?owner= lets an operator check against the live overlay. */
static cordon_err sign_object(cordon_runtime *rt, const struct rt_ctl_object *s, uint64_t seq,
                              uint8_t *out, size_t *len)
{
    struct cordon_object o;
    memset(&o, 0, sizeof(o));
    o.kind = s->kind;
    o.flags = s->op == CORDON_CONTROL_OBJECT_DEL ? CORDON_OBJECT_FLAG_TOMBSTONE : 0;
    snprintf(o.overlay, sizeof(o.overlay), "%s", rt->overlay);
    o.name = s->name;
    o.name_len = s->name_len;
    memcpy(o.writer, rt->node_id, CORDON_NODE_ID_LEN);
    o.seq = seq;
    o.created_at = wall_s();
    o.lifetime = s->lifetime;
    o.value = s->value;
    o.value_len = s->op == CORDON_CONTROL_OBJECT_PUT ? s->value_len : 0;
    o.cert = rt->cert_der.data;
    o.cert_len = rt->cert_der.len;
    if (!s->forged)
        return cordon_object_sign(rt->identity.key, &o, out, CORDON_OBJECT_MAX, len);
    static const char ctx_text[] = CORDON_OBJECT_SIG_CONTEXT; /* and its NUL */
    uint8_t sig[CORDON_SIG_MAX];
    size_t tbs_len = 0, sig_len = 0;
    cordon_object_resource_id(s->kind, rt->overlay, s->owner, s->name, s->name_len, o.resource);
    if (s->kind == CORDON_KIND_SHARED)
        memcpy(o.writer, s->owner, CORDON_NODE_ID_LEN);
    memcpy(out, ctx_text, sizeof(ctx_text));
    cordon_err err = cordon_object_encode_tbs(&o, out + sizeof(ctx_text),
                                              CORDON_OBJECT_MAX - sizeof(ctx_text), &tbs_len);
    if (err == CORDON_OK)
        err = cordon_sign(rt->identity.key, out, sizeof(ctx_text) + tbs_len, sig, &sig_len);
    if (err != CORDON_OK)
        return err;
    o.sig = sig;
    o.sig_len = sig_len;
    return cordon_object_encode(&o, out, CORDON_OBJECT_MAX, len);
}

static void ctl_put_done(void *arg, cordon_err result, const struct cordon_put_result *res);

/* Signs and starts the put of s at seq. */
static cordon_err start_put(cordon_runtime *rt, struct rt_ctl_object *s, uint64_t seq)
{
    size_t len = 0;
    uint8_t *buf = malloc(CORDON_OBJECT_MAX);
    if (buf == NULL)
        return CORDON_ERR_NOMEM;
    s->seq = seq;
    cordon_err err = sign_object(rt, s, seq, buf, &len);
    if (err == CORDON_OK && !s->forged) {
        /* Kept for the record of republishing, once a replica accepted it. */
        free(s->obj);
        s->obj_len = 0;
        s->obj = malloc(len);
        if (s->obj != NULL) {
            memcpy(s->obj, buf, len);
            s->obj_len = len;
        }
    }
    if (err == CORDON_OK) {
        struct cordon_object o;
        if (cordon_object_decode(buf, len, &o) == CORDON_OK)
            s->expires_at = cordon_object_expires_at(&o);
        bool was = rt->in_core;
        rt->in_core = true;
        err = cordon_core_put(rt->core, rt->now_ms, buf, len, ctl_put_done, s);
        rt->in_core = was;
    }
    free(buf);
    return err;
}

static void ctl_object_log(const cordon_runtime *rt, const struct rt_ctl_object *s,
                           const struct cordon_control_object_result *r)
{
    cordon_log(r->err == CORDON_OK ? CORDON_LOG_INFO : CORDON_LOG_WARN, "peer.object",
               "node=%s op=%s kind=%s name_len=%zu seq=%llu result=%s replicas=%u accepted=%u "
               "refused=%u failed=%u found=%u stale=%u forged=%u",
               rt->node_hex, op_name(s->op), s->kind == CORDON_KIND_SHARED ? "shared" : "owned",
               s->name_len, (unsigned long long)r->seq,
               r->err == CORDON_OK ? (r->deleted ? "deleted" : "ok") : cordon_errname(r->err),
               (unsigned)r->replicas, (unsigned)r->accepted, (unsigned)r->refused,
               (unsigned)r->failed, (unsigned)r->found, (unsigned)r->stale, (unsigned)r->forged);
}

static void ctl_object_finish(cordon_runtime *rt, struct rt_ctl_object *s,
                              const struct cordon_control_object_result *r)
{
    ctl_object_log(rt, s, r);
    if (!s->dead && rt->ctl != NULL &&
        cordon_control_object_done(rt->ctl, s->token, r) == CORDON_ERR_NOT_FOUND)
        cordon_log(CORDON_LOG_DEBUG, "peer.control_object_late", "node=%s", rt->node_hex);
    ctl_object_free(s);
}

static void ctl_put_done(void *arg, cordon_err result, const struct cordon_put_result *res)
{
    struct rt_ctl_object *s = arg;
    cordon_runtime *rt = s->rt;
    if (s->dead) {
        ctl_object_free(s);
        return;
    }
    /* A replica holds a seq at or above ours (a clock that went back, or a write from
     * another instance of this node): beat it once. */
    if (result == CORDON_ERR_OBJ_STALE && !s->retried && res != NULL && res->held >= s->seq &&
        res->held < UINT64_MAX) {
        s->retried = true;
        cordon_err err = start_put(rt, s, res->held + 1);
        if (err == CORDON_OK)
            return;
        result = err;
    }
    if (result == CORDON_OK)
        mine_note(rt, s);
    struct cordon_control_object_result r;
    memset(&r, 0, sizeof(r));
    r.err = result;
    r.seq = s->seq;
    memcpy(r.writer, s->kind == CORDON_KIND_SHARED && s->forged ? s->owner : rt->node_id,
           CORDON_NODE_ID_LEN);
    r.expires_at = s->expires_at;
    if (res != NULL) {
        r.held = res->held;
        r.replicas = res->replicas;
        r.accepted = res->accepted;
        r.refused = res->refused;
        r.failed = res->failed;
        r.lookup_messages = res->lookup.messages;
        r.lookup_answered = res->lookup.answered;
        r.lookup_failed = res->lookup.failed;
    }
    ctl_object_finish(rt, s, &r);
}

static void ctl_get_done(void *arg, cordon_err result, const uint8_t *obj, size_t len,
                         const struct cordon_get_result *res)
{
    struct rt_ctl_object *s = arg;
    cordon_runtime *rt = s->rt;
    if (s->dead) {
        ctl_object_free(s);
        return;
    }
    struct cordon_control_object_result r;
    struct cordon_object o;
    memset(&r, 0, sizeof(r));
    r.err = result;
    if (result == CORDON_OK) {
        /* The core checked it (storage->check): it decodes. */
        r.err = cordon_object_decode(obj, len, &o);
        if (r.err == CORDON_OK) {
            r.deleted = cordon_object_is_tombstone(&o);
            r.seq = o.seq;
            memcpy(r.writer, o.writer, CORDON_NODE_ID_LEN);
            r.expires_at = cordon_object_expires_at(&o);
            r.value = o.value;
            r.value_len = o.value_len;
        }
    }
    if (res != NULL) {
        r.asked = res->asked;
        r.found = res->found;
        r.stale = res->stale;
        r.forged = res->forged;
        r.failed = res->failed;
        r.lookup_messages = res->lookup.messages;
        r.lookup_answered = res->lookup.answered;
        r.lookup_failed = res->lookup.failed;
    }
    ctl_object_finish(rt, s, &r);
}

static cordon_err ctl_object(void *ctx, const struct cordon_control_object_request *req,
                             uint64_t token)
{
    cordon_runtime *rt = ctx;
    if (rt->poisoned != CORDON_OK)
        return rt->poisoned;
    if (req->name_len == 0 || req->name_len > CORDON_OBJECT_NAME_MAX)
        return CORDON_ERR_INVAL;
    bool forged = req->has_owner && memcmp(req->owner, rt->node_id, CORDON_NODE_ID_LEN) != 0;
    if (forged && req->op == CORDON_CONTROL_OBJECT_DEL)
        return CORDON_ERR_INVAL;          /* a forged tombstone is a forged put: use PUT */
    uint32_t lifetime = rt->max_lifetime; /* deletes: see below */
    if (req->op == CORDON_CONTROL_OBJECT_PUT) {
        if (req->value_len > rt->value_max)
            return CORDON_ERR_TOO_LARGE;
        lifetime = req->ttl != 0
                       ? req->ttl
                       : (uint32_t)min_u64(CORDON_OBJECT_LIFETIME_DEFAULT, rt->max_lifetime);
        if (lifetime > rt->max_lifetime)
            return CORDON_ERR_OBJ_LIFETIME;
    }
    struct rt_ctl_object *s = NULL;
    for (size_t i = 0; i < CORDON_RT_CTL_OBJECTS_MAX && s == NULL; i++) {
        if (!rt->ctl_objects[i].used)
            s = &rt->ctl_objects[i];
    }
    if (s == NULL)
        return CORDON_ERR_BUSY; /* abandoned requests hold slots until the core ends them */
    memset(s, 0, sizeof(*s));
    s->rt = rt;
    s->token = token;
    s->used = true;
    s->op = (uint8_t)req->op;
    s->kind = req->shared ? CORDON_KIND_SHARED : CORDON_KIND_OWNED;
    s->forged = forged;
    memcpy(s->owner, req->has_owner ? req->owner : rt->node_id, CORDON_NODE_ID_LEN);
    memcpy(s->name, req->name, req->name_len);
    s->name_len = req->name_len;
    /* A tombstone must outlive every copy of what it deletes: a replica that missed it and
     * still holds the object would otherwise serve it again (and push it back) once the
     * tombstone expired. Which copies exist, and with which lifetimes, this node cannot
     * know (an older version may live longer than the newest), so it takes the overlay's
     * maximum, which no object outlives. */
    s->lifetime = lifetime;
    s->retried = req->seq != 0; /* a seq the client chose is not replaced behind its back */
    if (req->op == CORDON_CONTROL_OBJECT_PUT && req->value_len > 0) {
        s->value = malloc(req->value_len);
        if (s->value == NULL) {
            ctl_object_free(s);
            return CORDON_ERR_NOMEM;
        }
        memcpy(s->value, req->value, req->value_len);
        s->value_len = req->value_len;
    }
    uint64_t now = cordon_runtime_now_ms();
    if (now > rt->now_ms)
        rt->now_ms = now;
    cordon_err err;
    if (req->op == CORDON_CONTROL_OBJECT_GET) {
        uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
        memset(key, 0, sizeof(key));
        cordon_object_resource_id(s->kind, rt->overlay, s->owner, s->name, s->name_len, key);
        if (s->kind == CORDON_KIND_SHARED)
            memcpy(key + CORDON_NODE_ID_LEN, s->owner, CORDON_NODE_ID_LEN);
        rt->in_core = true;
        err = cordon_core_get(rt->core, rt->now_ms, key, ctl_get_done, s);
        rt->in_core = false;
    } else {
        err = start_put(rt, s, req->seq != 0 ? req->seq : wall_ms());
    }
    if (err != CORDON_OK)
        ctl_object_free(s); /* the callback was not and will not be called */
    return err;
}

/* ---- the control API ------------------------------------------------------------------------- */

static void add_counter(struct cordon_control_status *st, const char *name, uint64_t value)
{
    if (st->n_counters >= CORDON_CONTROL_COUNTERS_MAX)
        return;
    struct cordon_control_counter *c = &st->counters[st->n_counters++];
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->value = value;
}

/* A level rather than a count: /metrics serves it without _total. */
static void add_gauge(struct cordon_control_status *st, const char *name, uint64_t value)
{
    size_t n = st->n_counters;
    add_counter(st, name, value);
    if (st->n_counters > n)
        st->counters[n].gauge = true;
}

static cordon_err ctl_status(void *ctx, struct cordon_control_status *st)
{
    cordon_runtime *rt = ctx;
    struct cordon_core_status cs;
    cordon_core_status(rt->core, &cs);
    const struct cordon_link_counters *lc = cordon_links_counters(rt->links);
    memcpy(st->node_id, rt->node_id, CORDON_NODE_ID_LEN);
    snprintf(st->overlay, sizeof(st->overlay), "%s", rt->overlay);
    snprintf(st->listen, sizeof(st->listen), "%s", rt->listen_text);
    uint64_t now = cordon_runtime_now_ms();
    st->uptime_s = now > rt->started_ms ? (now - rt->started_ms) / 1000u : 0;
    st->table_size = cs.table_size;
    st->links = cordon_links_count(rt->links) - cordon_links_half_open(rt->links);

    add_counter(st, "core_msgs_in", cs.msgs_in);
    add_counter(st, "core_msgs_out", cs.msgs_out);
    add_counter(st, "core_dropped_malformed", cs.dropped_malformed);
    add_counter(st, "core_dropped_unsolicited", cs.dropped_unsolicited);
    add_counter(st, "core_dropped_rate_node", cs.dropped_rate_node);
    add_counter(st, "core_dropped_rate_global", cs.dropped_rate_global);
    add_counter(st, "core_refused_prefix", cs.refused_prefix);
    add_counter(st, "core_refused_churn", cs.refused_churn);
    add_counter(st, "core_refused_full", cs.refused_full);
    add_counter(st, "core_timeouts", cs.timeouts);
    add_counter(st, "core_paced", cs.paced);
    add_counter(st, "core_retried_limited", cs.retried_limited);
    add_counter(st, "core_evictions", cs.evictions);

    add_counter(st, "link_handshakes_full", lc->handshakes_full);
    add_counter(st, "link_handshakes_resumed", lc->handshakes_resumed);
    add_counter(st, "link_handshakes_full_out", lc->handshakes_full_out);
    add_counter(st, "link_handshakes_resumed_out", lc->handshakes_resumed_out);
    add_counter(st, "link_handshakes_full_offered", lc->handshakes_full_offered);
    add_counter(st, "link_handshakes_failed", lc->handshakes_failed);
    add_counter(st, "link_handshakes_timeout", lc->handshakes_timeout);
    add_counter(st, "link_cookies_sent", lc->cookies_sent);
    add_counter(st, "link_cookies_verified", lc->cookies_verified);
    add_counter(st, "link_refused_untrusted", lc->refused_untrusted);
    add_counter(st, "link_refused_expired", lc->refused_expired);
    add_counter(st, "link_refused_not_yet", lc->refused_not_yet);
    add_counter(st, "link_refused_revoked", lc->refused_revoked);
    add_counter(st, "link_refused_node_id", lc->refused_node_id);
    add_counter(st, "link_refused_wrong_node", lc->refused_wrong_node);
    add_counter(st, "link_refused_no_cert", lc->refused_no_cert);
    add_counter(st, "link_refused_other", lc->refused_other);
    add_counter(st, "link_dropped_garbage", lc->dropped_garbage);
    add_counter(st, "link_dropped_oversize", lc->dropped_oversize);
    add_counter(st, "link_dropped_half_open", lc->dropped_half_open);
    add_counter(st, "link_dropped_rate", lc->dropped_rate);
    add_counter(st, "link_dropped_full", lc->dropped_full);
    add_counter(st, "link_dropped_queue", lc->dropped_queue);
    add_counter(st, "link_links_opened", lc->links_opened);
    add_counter(st, "link_links_closed", lc->links_closed);
    add_counter(st, "link_links_evicted", lc->links_evicted);
    add_counter(st, "link_links_idle", lc->links_idle);
    add_counter(st, "link_links_quieted", lc->links_quieted);
    add_counter(st, "link_links_revoked", lc->links_revoked);
    add_counter(st, "link_links_expired", lc->links_expired);
    add_counter(st, "link_records_in", lc->records_in);
    add_counter(st, "link_records_out", lc->records_out);
    add_gauge(st, "link_sessions", cordon_links_sessions(rt->links));

    struct cordon_frag_counters fc = rt->frag_freed;
    for (size_t i = 0; i < rt->n_remotes; i++)
        frag_counters_add(&fc, cordon_frag_rx_counters(rt->remotes[i].rx));
    add_counter(st, "frag_records", fc.records);
    add_counter(st, "frag_whole", fc.whole);
    add_counter(st, "frag_fragments", fc.fragments);
    add_counter(st, "frag_reassembled", fc.reassembled);
    add_counter(st, "frag_drop_truncated", fc.drop_truncated);
    add_counter(st, "frag_drop_oversize", fc.drop_oversize);
    add_counter(st, "frag_drop_kind", fc.drop_kind);
    add_counter(st, "frag_drop_too_large", fc.drop_too_large);
    add_counter(st, "frag_drop_malformed", fc.drop_malformed);
    add_counter(st, "frag_drop_mismatch", fc.drop_mismatch);
    add_counter(st, "frag_drop_duplicate", fc.drop_duplicate);
    add_counter(st, "frag_drop_replay", fc.drop_replay);
    add_counter(st, "frag_drop_busy", fc.drop_busy);
    add_counter(st, "frag_drop_nomem", fc.drop_nomem);
    add_counter(st, "frag_expired", fc.expired);
    add_counter(st, "frag_evicted", fc.evicted);

    struct cordon_store_stats ss;
    struct cordon_object_verifier_stats vs;
    cordon_store_stats(rt->store, &ss);
    cordon_object_verifier_stats(rt->verifier, &vs);
    add_counter(st, "core_stores_served", cs.stores_served);
    add_counter(st, "core_stores_accepted", cs.stores_accepted);
    add_counter(st, "core_fetches_served", cs.fetches_served);
    add_counter(st, "core_dropped_rate_store", cs.dropped_rate_store);
    add_counter(st, "core_get_stale", cs.get_stale);
    add_counter(st, "core_get_forged", cs.get_forged);
    add_counter(st, "store_accepted", ss.accepted);
    add_counter(st, "store_refused", ss.refused);
    add_counter(st, "store_expired", ss.expired);
    add_counter(st, "verifier_cert_hits", vs.cert_hits);
    add_counter(st, "verifier_cert_misses", vs.cert_misses);

    add_counter(st, "send_errors", rt->send_errors);
    add_counter(st, "revoked_dropped", rt->revoked_dropped);
    add_counter(st, "crl_reloads", rt->crl_reloads);
    add_counter(st, "identity_reloads", rt->identity_reloads);
    add_counter(st, "reload_failures", rt->reload_failures);

    add_counter(st, "core_maintain_passes", cs.maintain_passes);
    add_counter(st, "core_summaries_sent", cs.summaries_sent);
    add_counter(st, "core_summaries_served", cs.summaries_served);
    add_counter(st, "core_maintain_pushed", cs.maintain_pushed);
    add_counter(st, "core_maintain_accepted", cs.maintain_accepted);
    add_gauge(st, "socket_rcvbuf_bytes", rt->rcvbuf);
    add_counter(st, "core_maintain_retargeted", cs.maintain_retargeted);
    add_counter(st, "core_maintain_watched", cs.maintain_watched);
    add_counter(st, "core_maintain_watch_failed", cs.maintain_watch_failed);
    uint64_t mine = 0;
    if (cordon_store_mine_count(rt->store, &mine) != CORDON_OK)
        mine = 0;
    add_counter(st, "republished", rt->republished);
    add_counter(st, "republish_failed", rt->republish_failed);
    add_counter(st, "mine_records", mine);
    add_counter(st, "crl_number", crl_in_use(rt));
    add_counter(st, "crl_published", rt->crl_published);
    add_counter(st, "crl_from_dht", rt->crl_from_dht);
    return CORDON_OK;
}

/* A core contact as the control reports it. The core keeps no per-contact timing that it
 * exposes, so last_seen_ms is the last message from that node at that address (-1 when its
 * reassembler entry is gone) and failures is 0. */
static void ctl_contact(const cordon_runtime *rt, const struct cordon_contact *c,
                        struct cordon_control_contact *out)
{
    char at[ADDR_LOG_MAX];
    memset(out, 0, sizeof(*out));
    memcpy(out->node_id, c->id, CORDON_NODE_ID_LEN);
    snprintf(out->addr, sizeof(out->addr), "%s", addr_text(&c->addr, at));
    out->last_seen_ms = -1;
    for (size_t i = 0; i < rt->n_remotes; i++) {
        const struct rt_remote *r = &rt->remotes[i];
        if (addr_equal(&r->addr, &c->addr) && memcmp(r->id, c->id, CORDON_NODE_ID_LEN) == 0) {
            out->last_seen_ms = r->last_ms <= rt->now_ms ? (int64_t)(rt->now_ms - r->last_ms) : 0;
            break;
        }
    }
}

static cordon_err ctl_peers(void *ctx, cordon_control_visit_fn visit, void *visit_ctx)
{
    cordon_runtime *rt = ctx;
    size_t n = cordon_core_contacts(rt->core, NULL, 0);
    if (n == 0)
        return CORDON_OK;
    struct cordon_contact *list = calloc(n, sizeof(*list));
    if (list == NULL)
        return CORDON_ERR_NOMEM;
    size_t got = cordon_core_contacts(rt->core, list, n);
    if (got > n)
        got = n;
    cordon_err err = CORDON_OK;
    for (size_t i = 0; i < got && err == CORDON_OK; i++) {
        struct cordon_control_contact c;
        ctl_contact(rt, &list[i], &c);
        err = visit(visit_ctx, &c);
    }
    free(list);
    return err;
}

static void ctl_lookup_done(void *arg, cordon_err result, const struct cordon_contact *closest,
                            size_t n, const struct cordon_lookup_stats *stats)
{
    struct rt_ctl_lookup *l = arg;
    cordon_runtime *rt = l->rt;
    bool dead = l->dead;
    uint64_t token = l->token;
    l->used = false;
    l->dead = false;
    if (dead || rt->ctl == NULL)
        return;
    struct cordon_control_lookup_result *res = calloc(1, sizeof(*res));
    if (res == NULL) {
        /* The control answers it 504 at its timeout. */
        cordon_log(CORDON_LOG_WARN, "peer.control_lookup_dropped", "node=%s reason=%s",
                   rt->node_hex, cordon_errname(CORDON_ERR_NOMEM));
        return;
    }
    res->err = result;
    res->queried = stats != NULL ? stats->answered + stats->failed : 0;
    for (size_t i = 0; i < n && i < CORDON_CONTROL_LOOKUP_RESULTS_MAX; i++)
        ctl_contact(rt, &closest[i], &res->contacts[res->n_contacts++]);
    /* CORDON_ERR_NOT_FOUND: the control gave up on it meanwhile; nothing else to do. */
    if (cordon_control_lookup_done(rt->ctl, token, res) != CORDON_OK)
        cordon_log(CORDON_LOG_DEBUG, "peer.control_lookup_late", "node=%s", rt->node_hex);
    free(res);
}

static cordon_err ctl_lookup(void *ctx, const uint8_t target[CORDON_NODE_ID_LEN], uint64_t token)
{
    cordon_runtime *rt = ctx;
    if (rt->poisoned != CORDON_OK)
        return rt->poisoned;
    struct rt_ctl_lookup *l = NULL;
    for (size_t i = 0; i < CORDON_LOOKUPS_MAX && l == NULL; i++) {
        if (!rt->ctl_lookups[i].used)
            l = &rt->ctl_lookups[i];
    }
    if (l == NULL)
        return CORDON_ERR_BUSY; /* cancelled lookups still hold slots until the core ends them */
    *l = (struct rt_ctl_lookup){.rt = rt, .token = token, .used = true, .dead = false};
    uint64_t now = cordon_runtime_now_ms();
    if (now > rt->now_ms)
        rt->now_ms = now;
    rt->in_core = true;
    /* The user asks for a node: the lookup may stop when that node itself answers. */
    cordon_err err = cordon_core_find_node(rt->core, rt->now_ms, target, ctl_lookup_done, l);
    rt->in_core = false;
    if (err != CORDON_OK)
        l->used = false; /* the callback was not and will not be called */
    return err;
}

static void ctl_lookup_cancel(void *ctx, uint64_t token)
{
    cordon_runtime *rt = ctx;
    for (size_t i = 0; i < CORDON_LOOKUPS_MAX; i++) {
        if (rt->ctl_lookups[i].used && rt->ctl_lookups[i].token == token)
            rt->ctl_lookups[i].dead = true;
    }
    for (size_t i = 0; i < CORDON_RT_CTL_OBJECTS_MAX; i++) {
        if (rt->ctl_objects[i].used && rt->ctl_objects[i].token == token)
            rt->ctl_objects[i].dead = true;
    }
}

static const struct cordon_control_ops ctl_ops = {
    .status = ctl_status,
    .peers = ctl_peers,
    .lookup = ctl_lookup,
    .lookup_cancel = ctl_lookup_cancel,
    .object = ctl_object,
};

static cordon_err open_control(cordon_runtime *rt, const struct cordon_runtime_options *o)
{
    char path[CORDON_PATH_MAX];
    const char *at = o->control;
    if (at == NULL) {
        cordon_err err = cordon_path_join(path, o->dir, "control.sock");
        if (err != CORDON_OK)
            return err;
        at = path;
    }
    cordon_err err = cordon_control_new(at, &ctl_ops, rt, &rt->ctl);
    char q[2 * CORDON_PATH_MAX];
    if (err != CORDON_OK) {
        cordon_log(CORDON_LOG_ERROR, "peer.control_failed", "path=%s reason=%s",
                   cordon_log_quote(at, q, sizeof(q)), cordon_errname(err));
        return err;
    }
    cordon_log(CORDON_LOG_INFO, "peer.control", "node=%s path=%s", rt->node_hex,
               cordon_log_quote(at, q, sizeof(q)));
    return CORDON_OK;
}

/* ---- the instance ---------------------------------------------------------------------------- */

static cordon_err open_socket(cordon_runtime *rt, const char *listen)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    cordon_err err = resolve(listen, AF_UNSPEC, true, &ss, &len);
    if (err != CORDON_OK)
        return err;
    rt->family = ss.ss_family;
    rt->fd = socket(rt->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (rt->fd < 0)
        return CORDON_ERR_IO;
    int one = 1;
    if (rt->family == AF_INET6 &&
        setsockopt(rt->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
        return CORDON_ERR_IO;
    if (bind(rt->fd, (const struct sockaddr *)&ss, len) != 0)
        return CORDON_ERR_IO;
    /* Best effort: the kernel caps the size at net.core.rmem_max without an error, and a
     * peer works (drops more under bursts) with the default. What it got is in /metrics. */
    int want = CORDON_RT_RCVBUF, got = 0;
    socklen_t glen = sizeof(got);
    (void)setsockopt(rt->fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
    if (getsockopt(rt->fd, SOL_SOCKET, SO_RCVBUF, &got, &glen) == 0 && got > 0)
        rt->rcvbuf = (uint64_t)got;
    len = sizeof(ss);
    if (getsockname(rt->fd, (struct sockaddr *)&ss, &len) != 0)
        return CORDON_ERR_IO;
    struct cordon_addr a;
    if (!addr_from_sockaddr((const struct sockaddr *)&ss, len, &a))
        return CORDON_ERR_IO;
    rt->port = a.port;
    return CORDON_OK;
}

/* DIR/overlay.json, verified with the CA loaded from DIR/ca.crt. */
static cordon_err open_overlay(const char *dir, struct cordon_overlay_doc *doc)
{
    char path[CORDON_PATH_MAX];
    cordon_cert *ca = NULL;
    cordon_buf env;
    cordon_buf_init(&env, CORDON_OVERLAY_ENVELOPE_MAX, false);
    cordon_err err = cordon_path_join(path, dir, "ca.crt");
    if (err == CORDON_OK)
        err = cordon_cert_load(path, &ca);
    if (err == CORDON_OK)
        err = cordon_path_join(path, dir, "overlay.json");
    if (err == CORDON_OK)
        err = cordon_read_file(path, CORDON_OVERLAY_ENVELOPE_MAX, &env);
    if (err == CORDON_OK)
        err = cordon_overlay_open(env.data, env.len, ca, doc);
    cordon_cert_free(ca);
    cordon_buf_free(&env);
    return err;
}

static cordon_err setup_bootstrap(cordon_runtime *rt, const struct cordon_runtime_options *o,
                                  const struct cordon_overlay_doc *doc)
{
    size_t n = o->n_bootstrap > 0 ? o->n_bootstrap : doc->n_bootstrap;
    if (n > CORDON_BOOTSTRAP_MAX)
        return CORDON_ERR_TOO_LARGE;
    for (size_t i = 0; i < n; i++) {
        const char *text = o->n_bootstrap > 0 ? o->bootstrap[i] : doc->bootstrap[i];
        struct rt_boot *b = &rt->boot[rt->n_boot];
        if (strlen(text) >= sizeof(b->text))
            return CORDON_ERR_INVAL;
        cordon_err err = resolve(text, rt->family, false, &b->ss, &b->len);
        if (err != CORDON_OK) {
            char q[2 * CORDON_ADDR_TEXT_MAX];
            cordon_log(CORDON_LOG_ERROR, "peer.bootstrap_unresolved", "entry=%s reason=%s",
                       cordon_log_quote(text, q, sizeof(q)), cordon_errname(err));
            return err;
        }
        snprintf(b->text, sizeof(b->text), "%s", text);
        if (!addr_from_sockaddr((const struct sockaddr *)&b->ss, b->len, &b->addr))
            return CORDON_ERR_INVAL;
        rt->n_boot++;
    }
    return CORDON_OK;
}

static cordon_err write_ready(const cordon_runtime *rt, const char *path)
{
    char line[16 + HEX_ID_LEN];
    int n = snprintf(line, sizeof(line), "%u %s\n", (unsigned)rt->port, rt->node_hex);
    return cordon_write_file(path, line, (size_t)n, 0644);
}

cordon_err cordon_runtime_new(const struct cordon_runtime_options *o, uint64_t now_ms,
                              cordon_runtime **out)
{
    cordon_err err = CORDON_ERR_INVAL;
    const char *stage = "options";
    struct cordon_overlay_doc doc;
    memset(&doc, 0, sizeof(doc));
    cordon_runtime *rt = NULL;
    if (o == NULL || o->dir == NULL || o->listen == NULL || out == NULL ||
        (o->n_bootstrap > 0 && o->bootstrap == NULL) || o->maintain_s > CORDON_RT_MAINTAIN_MAX_S ||
        o->store_rate > CORDON_RT_STORE_BUDGET_MAX || o->store_burst > CORDON_RT_STORE_BUDGET_MAX ||
        o->store_global_rate > CORDON_RT_STORE_BUDGET_MAX || o->crl_dht_s > CORDON_RT_CRL_DHT_MAX_S)
        goto out;
    err = CORDON_ERR_NOMEM;
    rt = calloc(1, sizeof(*rt));
    if (rt == NULL)
        goto out;
    rt->fd = -1;
    rt->now_ms = now_ms;
    rt->started_ms = now_ms;
    rt->crl_dht_ms =
        (uint64_t)(o->crl_dht_s != 0 ? o->crl_dht_s : CORDON_RT_CRL_DHT_DEFAULT_S) * 1000u;
    rt->crl_poll_at = UINT64_MAX; /* once joined */
    rt->crl_publish_at = UINT64_MAX;
    rt->crl_save_at = UINT64_MAX;
    rt->republish_check_at = now_ms; /* what came due while the peer was down goes first */
    cordon_buf_init(&rt->cert_der, CORDON_OBJECT_CERT_MAX, false);
    rt->dir = strdup(o->dir);
    if (rt->dir == NULL)
        goto out;

    stage = "overlay.json";
    err = open_overlay(o->dir, &doc);
    if (err != CORDON_OK)
        goto out;
    rt->params = doc.params;
    snprintf(rt->overlay, sizeof(rt->overlay), "%s", doc.overlay);
    stage = "identity";
    err = cordon_link_identity_load(o->dir, doc.overlay, &rt->identity);
    if (err != CORDON_OK)
        goto out;
    err = cordon_cert_node_id(rt->identity.cert, doc.overlay, rt->node_id);
    if (err == CORDON_OK)
        err = cordon_cert_serial(rt->identity.cert, rt->own_serial);
    if (err != CORDON_OK)
        goto out;
    cordon_hex_encode(rt->node_id, CORDON_NODE_ID_LEN, rt->node_hex);
    stage = "store";
    err = open_store(rt, &doc.params);
    if (err != CORDON_OK)
        goto out;

    stage = "listen";
    err = open_socket(rt, o->listen);
    if (err != CORDON_OK)
        goto out;
    stage = "bootstrap";
    err = setup_bootstrap(rt, o, &doc);
    if (err != CORDON_OK)
        goto out;

    stage = "links";
    struct cordon_link_config lc;
    cordon_link_config_default(&lc);
    struct cordon_link_host lh = {.ctx = rt,
                                  .send_datagram = on_send_datagram,
                                  .deliver = on_deliver,
                                  .link_up = on_link_up,
                                  .link_failed = on_link_failed,
                                  .wall_time = on_wall_time};
    err = cordon_links_new(&lc, &rt->identity, &lh, &rt->links);
    if (err != CORDON_OK)
        goto out;
    rt->max_remotes = lc.max_links;
    /* A full routing table (one bucket per prefix length) and every link. */
    rt->max_proven = (size_t)doc.params.k * 8 * CORDON_NODE_ID_LEN + lc.max_links;
    rt->budget.max = CORDON_FRAG_PEER_BUFFERED_MAX;

    stage = "core";
    struct cordon_core_config cc;
    cordon_core_config_default(&cc);
    cc.params = doc.params;
    if (o->maintain_s != 0) {
        cc.maintain_ms = o->maintain_s * 1000u;
        if (cc.maintain_soon_ms > cc.maintain_ms)
            cc.maintain_soon_ms = cc.maintain_ms;
        if (cc.maintain_watch_ms > cc.maintain_ms)
            cc.maintain_watch_ms = cc.maintain_ms;
    }
    if (o->store_rate != 0)
        cc.store_rate = o->store_rate;
    if (o->store_burst != 0)
        cc.store_burst = o->store_burst;
    if (o->store_global_rate != 0)
        cc.store_global_rate = o->store_global_rate;
    struct cordon_contact self;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    memcpy(self.id, rt->node_id, CORDON_NODE_ID_LEN);
    if (getsockname(rt->fd, (struct sockaddr *)&ss, &sl) != 0 ||
        !addr_from_sockaddr((const struct sockaddr *)&ss, sl, &self.addr)) {
        err = CORDON_ERR_IO;
        goto out;
    }
    char at[ADDR_LOG_MAX];
    snprintf(rt->listen_text, sizeof(rt->listen_text), "%s", addr_text(&self.addr, at));
    struct cordon_core_host ch = {.ctx = rt, .send = on_core_send, .random = on_core_random};
    err = cordon_core_new(&cc, &self, &ch, &rt->core);
    struct cordon_core_storage cs = {.ctx = rt,
                                     .put = on_store_put,
                                     .get = on_store_get,
                                     .check = on_store_check,
                                     .scan = on_store_scan,
                                     .held = on_store_held};
    if (err == CORDON_OK)
        err = cordon_core_set_storage(rt->core, &cs);
    if (err == CORDON_OK)
        err = rt->poisoned;
    if (err != CORDON_OK)
        goto out;

    char q[2 * CORDON_ADDR_TEXT_MAX];
    cordon_log(CORDON_LOG_INFO, "peer.started",
               "node=%s overlay=%s listen=%s port=%u bootstrap=%zu", rt->node_hex, doc.overlay,
               cordon_log_quote(o->listen, q, sizeof(q)), (unsigned)rt->port, rt->n_boot);
    stage = "control";
    err = open_control(rt, o);
    if (err != CORDON_OK)
        goto out;
    cordon_control_set_body_max(rt->ctl, rt->value_max);
    if (o->ready_file != NULL) {
        stage = "ready-file";
        err = write_ready(rt, o->ready_file);
        if (err != CORDON_OK)
            goto out;
    }
    rt->sweep_at = now_ms + CORDON_RT_SWEEP_MS;
    rt->expire_at = now_ms; /* what expired while the peer was down goes first */
    boot_probe(rt);
    boot_step(rt); /* no bootstrap: join at once */
    observe(rt);
    err = rt->poisoned;
out:
    if (err != CORDON_OK) {
        if (o != NULL && o->dir != NULL) {
            char q2[CORDON_PATH_MAX];
            cordon_log(CORDON_LOG_ERROR, "peer.start_failed", "dir=%s stage=%s reason=%s",
                       cordon_log_quote(o->dir, q2, sizeof(q2)), stage, cordon_errname(err));
        }
        cordon_runtime_free(rt);
        rt = NULL;
    }
    cordon_overlay_doc_clear(&doc);
    if (out != NULL)
        *out = rt;
    return err;
}

void cordon_runtime_free(cordon_runtime *rt)
{
    if (rt == NULL)
        return;
    /* First: abandoned lookups are cancelled through ops that still see the core. */
    cordon_control_free(rt->ctl);
    rt->ctl = NULL;
    cordon_core_free(rt->core); /* drops its puts and gets without their callbacks */
    for (size_t i = 0; i < CORDON_RT_CTL_OBJECTS_MAX; i++)
        ctl_object_free(&rt->ctl_objects[i]);
    for (size_t i = 0; i < CORDON_RT_REPUBLISH_INFLIGHT; i++)
        repub_free(&rt->repub[i]);
    cordon_crl_free(rt->crl_dht);
    free(rt->held);
    cordon_store_close(rt->store);
    cordon_object_verifier_free(rt->verifier);
    cordon_buf_free(&rt->cert_der);
    cordon_links_free(rt->links);
    for (size_t i = 0; i < rt->n_remotes; i++)
        cordon_frag_rx_free(rt->remotes[i].rx);
    free(rt->remotes);
    free(rt->proven);
    free(rt->dir);
    cordon_link_identity_clear(&rt->identity);
    if (rt->fd >= 0)
        close(rt->fd);
    free(rt);
}

int cordon_runtime_fd(const cordon_runtime *rt)
{
    return rt->fd;
}

uint16_t cordon_runtime_port(const cordon_runtime *rt)
{
    return rt->port;
}

const uint8_t *cordon_runtime_node_id(const cordon_runtime *rt)
{
    return rt->node_id;
}

bool cordon_runtime_joined(const cordon_runtime *rt)
{
    return rt->join == JOIN_DONE;
}

int cordon_runtime_control_fd(const cordon_runtime *rt)
{
    return rt->ctl != NULL ? cordon_control_fd(rt->ctl) : -1;
}

bool cordon_runtime_control_due(const cordon_runtime *rt)
{
    return rt->ctl != NULL && cordon_control_timeout_ms(rt->ctl) == 0;
}

cordon_err cordon_runtime_control_run(cordon_runtime *rt, uint64_t now_ms)
{
    if (rt->ctl == NULL)
        return CORDON_OK;
    if (now_ms > rt->now_ms)
        rt->now_ms = now_ms;
    cordon_err err = cordon_control_run(rt->ctl);
    if (err != CORDON_OK)
        cordon_log(CORDON_LOG_ERROR, "peer.control_failed", "node=%s reason=%s", rt->node_hex,
                   cordon_errname(err));
    return err;
}

/* Opens the store batch of a burst of datagrams (at its first STORE, so that a burst of
 * other messages costs no write transaction). Without one (LMDB refused), each put of the
 * burst commits alone, as before group commit: slower, never wrong. */
static void batch_begin(cordon_runtime *rt)
{
    if (rt->store == NULL || rt->batch_open)
        return;
    cordon_err err = cordon_store_batch_begin(rt->store);
    if (err != CORDON_OK) {
        cordon_log(CORDON_LOG_ERROR, "peer.store_failed", "node=%s op=batch_begin reason=%s",
                   rt->node_hex, cordon_errname(err));
        return;
    }
    rt->batch_open = true;
}

/* Commits the batch (one sync for the burst's puts), then sends the STOREDs it held. When
 * the commit failed, the objects are gone: each answer becomes the refusal the store gave
 * (CORDON_STORED_INTERNAL for a database failure, _CAPACITY for a full map), seq 0. */
static void batch_flush(cordon_runtime *rt)
{
    if (!rt->batch_open)
        return;
    rt->batch_open = false;
    cordon_err err = cordon_store_batch_end(rt->store);
    if (err != CORDON_OK) {
        cordon_log(CORDON_LOG_ERROR, "peer.store_failed", "node=%s op=batch reason=%s lost=%zu",
                   rt->node_hex, cordon_errname(err), rt->n_held);
    }
    for (size_t i = 0; i < rt->n_held; i++) {
        struct rt_held *h = &rt->held[i];
        uint8_t *msg = h->msg;
        size_t len = RT_STORED_LEN;
        struct cordon_msg m;
        uint8_t refusal[RT_STORED_LEN];
        if (err != CORDON_OK) {
            /* Re-encoded rather than patched: the codec owns the layout. */
            if (cordon_msg_decode(h->msg, RT_STORED_LEN, &m) != CORDON_OK)
                continue;
            m.u.stored.code = cordon_msg_store_code(err);
            m.u.stored.seq = 0;
            if (cordon_msg_encode(&m, refusal, sizeof(refusal), &len) != CORDON_OK)
                continue;
            msg = refusal;
        }
        if (send_message(rt, &h->to.addr, h->to.id, msg, len) != CORDON_OK)
            defer_failure(rt, &h->to);
    }
    rt->n_held = 0;
    if (rt->held_cap > RT_HELD_MIN) {
        free(rt->held);
        rt->held = NULL;
        rt->held_cap = 0;
    }
}

static cordon_err read_socket(cordon_runtime *rt)
{
    /* One byte more than any valid datagram, so that the links see and count oversize. */
    uint8_t bufs[CORDON_RT_RECV_BATCH][CORDON_LINK_DATAGRAM_MAX + 1];
    struct sockaddr_storage from[CORDON_RT_RECV_BATCH];
    struct iovec iov[CORDON_RT_RECV_BATCH];
    struct mmsghdr mm[CORDON_RT_RECV_BATCH];
    cordon_err err = CORDON_OK;
    rt->more_input = true;
    /* Group commit: the puts of a burst share one store transaction and one sync (a sync
     * costs as much as ~15 signature checks on a fast disk, far more on a slow one). A
     * FETCH later in the burst reads the batch's objects (store.h): genuine objects, if
     * not yet durable, as a replica that loses one after serving it. */
    rt->in_burst = true;
    /* A burst that opened a store batch reads on past CORDON_RT_DATAGRAMS_PER_HANDLE, up to
     * CORDON_RT_BATCH_MAX datagrams: a commit's sync writes every page its batch touched,
     * and the inner pages of the objects' B-tree are shared by all the batch's puts, so one
     * batch of 1,024 costs the disk far less than four of 256 (bench/README.md, storage).
     * Timers and the other instances of a swarm wait that much longer, ~0.1 s at most. */
    for (size_t done = 0;;) {
        size_t cap = rt->batch_open ? CORDON_RT_BATCH_MAX : CORDON_RT_DATAGRAMS_PER_HANDLE;
        if (done >= cap)
            break;
        size_t want = cap - done;
        if (want > CORDON_RT_RECV_BATCH)
            want = CORDON_RT_RECV_BATCH;
        for (size_t i = 0; i < want; i++) {
            iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = sizeof(bufs[i])};
            mm[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &from[i],
                                                 .msg_namelen = sizeof(from[i]),
                                                 .msg_iov = &iov[i],
                                                 .msg_iovlen = 1}};
        }
        int n = recvmmsg(rt->fd, mm, (unsigned)want, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EINTR || errno == ECONNREFUSED) {
                done++; /* ICMP errors of earlier sends surface here: loss (bounded) */
                continue;
            }
            rt->more_input = false;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                err = CORDON_ERR_IO;
            break;
        }
        for (int i = 0; i < n; i++)
            cordon_links_input(rt->links, rt->now_ms, (const struct sockaddr *)&from[i],
                               mm[i].msg_hdr.msg_namelen, bufs[i], mm[i].msg_len);
        done += (size_t)n;
        if ((size_t)n < want) {
            rt->more_input = false; /* the queue is empty: epoll says when more comes */
            break;
        }
    }
    rt->in_burst = false;
    batch_flush(rt);
    return err;
}

cordon_err cordon_runtime_handle(cordon_runtime *rt, uint64_t now_ms)
{
    if (rt->poisoned != CORDON_OK)
        return rt->poisoned;
    if (now_ms > rt->now_ms)
        rt->now_ms = now_ms;
    cordon_err err = read_socket(rt);
    if (err != CORDON_OK) {
        rt->poisoned = err;
        return err;
    }
    cordon_links_tick(rt->links, rt->now_ms);
    /* A reassembly in progress holds bytes of the shared budget (at least two fragments'
     * worth): with none held, no remote has a deadline, and the walk is skipped. */
    for (size_t i = 0; rt->budget.used > 0 && i < rt->n_remotes; i++) {
        if (cordon_frag_rx_deadline(rt->remotes[i].rx) <= rt->now_ms)
            cordon_frag_rx_expire(rt->remotes[i].rx, rt->now_ms);
    }
    run_deferred(rt);
    rt->in_core = true;
    cordon_core_tick(rt->core, rt->now_ms);
    rt->in_core = false;
    run_deferred(rt);
    boot_step(rt);
    expire_step(rt);
    republish_step(rt);
    crl_step(rt);
    if (rt->now_ms >= rt->sweep_at) {
        rt->sweep_at = rt->now_ms + CORDON_RT_SWEEP_MS;
        for (size_t i = rt->n_remotes; i-- > 0;) {
            if (cordon_frag_rx_inflight(rt->remotes[i].rx) == 0 &&
                !remote_has_link(rt, &rt->remotes[i].addr))
                remote_drop(rt, i);
        }
    }
    observe(rt);
    return rt->poisoned;
}

uint64_t cordon_runtime_next_deadline(const cordon_runtime *rt, uint64_t now_ms)
{
    if (rt->poisoned != CORDON_OK || rt->more_input || rt->n_deferred > 0)
        return now_ms;
    uint64_t t = cordon_core_next_deadline(rt->core);
    uint64_t l = cordon_links_next_deadline(rt->links, now_ms);
    if (l < t)
        t = l;
    for (size_t i = 0; rt->budget.used > 0 && i < rt->n_remotes; i++) {
        uint64_t f = cordon_frag_rx_deadline(rt->remotes[i].rx);
        if (f < t)
            t = f;
    }
    if (rt->join == JOIN_WAIT_RETRY && rt->retry_at < t)
        t = rt->retry_at;
    if (rt->n_remotes > 0 && rt->sweep_at < t)
        t = rt->sweep_at;
    if (rt->store != NULL && rt->expire_at < t)
        t = rt->expire_at;
    if (rt->store != NULL && rt->republish_check_at < t)
        t = rt->republish_check_at;
    if (rt->crl_dht != NULL)
        t = now_ms;
    if (rt->crl_save_at < t)
        t = rt->crl_save_at;
    if (rt->join == JOIN_DONE) {
        if (rt->crl_publish_at < t)
            t = rt->crl_publish_at;
        if (!rt->crl_getting && rt->crl_poll_at < t)
            t = rt->crl_poll_at;
    }
    if (rt->ctl != NULL) {
        int c = cordon_control_timeout_ms(rt->ctl);
        if (c >= 0 && now_ms + (uint64_t)c < t)
            t = now_ms + (uint64_t)c;
    }
    return t;
}

/* ---- reloads: a newer CRL, a renewed certificate ------------------------------------------ */

static void reload_refused(cordon_runtime *rt, const char *event, const char *what, cordon_err err)
{
    rt->reload_failures++;
    cordon_log(CORDON_LOG_ERROR, event, "node=%s file=%s reason=%s", rt->node_hex, what,
               cordon_errname(err));
}

cordon_err cordon_runtime_reload_crl(cordon_runtime *rt, uint64_t now_ms)
{
    char path[CORDON_PATH_MAX];
    cordon_crl *crl = NULL;
    uint64_t number = 0, current = 0;
    if (now_ms > rt->now_ms)
        rt->now_ms = now_ms;
    cordon_err err = cordon_path_join(path, rt->dir, "crl.pem");
    if (err == CORDON_OK)
        err = cordon_crl_load(path, &crl);
    if (err == CORDON_OK)
        err = cordon_crl_verify(crl, rt->identity.ca, on_wall_time(rt));
    if (err == CORDON_OK)
        err = cordon_crl_number(crl, &number);
    if (err != CORDON_OK) {
        cordon_crl_free(crl);
        reload_refused(rt, "peer.crl_reload_failed", "crl.pem", err);
        return err;
    }
    if (rt->identity.crl != NULL && cordon_crl_number(rt->identity.crl, &current) == CORDON_OK &&
        number <= current) {
        cordon_crl_free(crl);
        if (number == current)
            return CORDON_OK; /* the one in use */
        /* Never back to a list that may omit revocations (threat model, limit 2). */
        reload_refused(rt, "peer.crl_reload_failed", "crl.pem", CORDON_ERR_CRL);
        return CORDON_ERR_CRL;
    }
    err = crl_take(rt, crl, number, "file");
    if (err == CORDON_OK) {
        /* Fetched from the server (or put there by an operator): the DHT gets it too, so
         * that peers learn it while the server is down (runtime.h). Within a random delay:
         * the peers of a swarm, or an operator's many, take the same CRL at once. */
        uint32_t r = 0;
        on_core_random(rt, &r, sizeof(r));
        rt->crl_publish_at = rt->now_ms + r % CORDON_RT_CRL_PUBLISH_JITTER_MS;
        rt->crl_publish_tries = 0;
    }
    return err;
}

/* Takes crl (verified by the caller, with a number higher than the one in use; owned from
 * now on) as the CRL in use: links, routing table, verifier. source is for the log. */
static cordon_err crl_take(cordon_runtime *rt, cordon_crl *crl, uint64_t number, const char *source)
{
    char hex[HEX_ID_LEN];
    if (cordon_crl_lists(crl, rt->own_serial))
        cordon_log(CORDON_LOG_ERROR, "peer.self_revoked", "node=%s crl=%llu", rt->node_hex,
                   (unsigned long long)number);

    /* The links first: every established link whose peer this CRL lists closes now. */
    const struct cordon_link_counters *lc = cordon_links_counters(rt->links);
    uint64_t closed = lc->links_revoked;
    cordon_crl *old = rt->identity.crl;
    rt->identity.crl = crl;
    cordon_links_set_crl(rt->links, rt->now_ms, crl);
    cordon_crl_free(old);
    /* Objects are judged against it too: a revoked writer's objects are refused from now
     * on, at puts and at reads (those already stored stay until they expire). */
    cordon_err err = cordon_object_verifier_set_crl(rt->verifier, crl);
    if (err != CORDON_OK)
        cordon_log(CORDON_LOG_ERROR, "peer.crl_objects_failed", "node=%s crl=%llu reason=%s",
                   rt->node_hex, (unsigned long long)number, cordon_errname(err));
    closed = lc->links_revoked - closed;

    /* Then the routing table: every proven node whose certificate it lists. Links refuse
     * them from now on (the handshake checks this CRL), so they cannot come back. */
    size_t dropped = 0;
    for (size_t i = 0; i < rt->n_proven;) {
        struct rt_proven p = rt->proven[i];
        if (!cordon_crl_lists(crl, p.serial)) {
            i++;
            continue;
        }
        memmove(&rt->proven[i], &rt->proven[i + 1], (rt->n_proven - i - 1) * sizeof(p));
        rt->n_proven--;
        struct cordon_core_status before, after;
        cordon_core_status(rt->core, &before);
        rt->in_core = true;
        cordon_core_forget(rt->core, p.id);
        rt->in_core = false;
        cordon_core_status(rt->core, &after);
        if (after.table_size < before.table_size) {
            dropped++;
            rt->revoked_dropped++;
            char at[ADDR_LOG_MAX];
            cordon_hex_encode(p.id, CORDON_NODE_ID_LEN, hex);
            cordon_log(CORDON_LOG_WARN, "peer.revoked_dropped", "node=%s peer=%s addr=%s crl=%llu",
                       rt->node_hex, hex, addr_text(&p.addr, at), (unsigned long long)number);
        }
    }
    rt->crl_reloads++;
    cordon_log(CORDON_LOG_INFO, "peer.crl_reloaded",
               "node=%s crl=%llu links_closed=%llu table_dropped=%zu source=%s", rt->node_hex,
               (unsigned long long)number, (unsigned long long)closed, dropped, source);
    run_deferred(rt);
    observe(rt);
    return CORDON_OK;
}

cordon_err cordon_runtime_reload_identity(cordon_runtime *rt, uint64_t now_ms)
{
    char path[CORDON_PATH_MAX], serial_hex[2 * CORDON_SERIAL_LEN + 1];
    cordon_cert *cert = NULL;
    uint8_t id[CORDON_NODE_ID_LEN], serial[CORDON_SERIAL_LEN];
    int64_t not_before = 0, not_after = 0;
    if (now_ms > rt->now_ms)
        rt->now_ms = now_ms;
    cordon_err err = cordon_path_join(path, rt->dir, "node.crt");
    if (err == CORDON_OK)
        err = cordon_cert_load(path, &cert);
    /* The same node, the same key, and a certificate every peer would accept now. */
    if (err == CORDON_OK && !cordon_cert_matches_key(cert, rt->identity.key))
        err = CORDON_ERR_KEY_TYPE;
    if (err == CORDON_OK)
        err = cordon_cert_verify_node(cert, rt->identity.ca, rt->identity.crl, rt->overlay,
                                      on_wall_time(rt), id);
    if (err == CORDON_OK && memcmp(id, rt->node_id, CORDON_NODE_ID_LEN) != 0)
        err = CORDON_ERR_CERT_NODE_ID;
    if (err == CORDON_OK)
        err = cordon_cert_serial(cert, serial);
    if (err == CORDON_OK)
        err = cordon_cert_validity(cert, &not_before, &not_after);
    if (err == CORDON_OK && memcmp(serial, rt->own_serial, CORDON_SERIAL_LEN) == 0) {
        cordon_cert_free(cert);
        return CORDON_OK; /* the one in use */
    }
    if (err == CORDON_OK)
        err = cordon_links_set_cert(rt->links, rt->now_ms, cert);
    if (err != CORDON_OK) {
        cordon_cert_free(cert);
        reload_refused(rt, "peer.identity_reload_failed", "node.crt", err);
        return err;
    }
    cordon_buf_reset(&rt->cert_der);
    if (cordon_cert_der(cert, &rt->cert_der) != CORDON_OK)
        cordon_log(CORDON_LOG_ERROR, "peer.identity_der_failed", "node=%s", rt->node_hex);
    cordon_cert_free(rt->identity.cert);
    rt->identity.cert = cert;
    memcpy(rt->own_serial, serial, CORDON_SERIAL_LEN);
    rt->identity_reloads++;
    cordon_hex_encode(serial, CORDON_SERIAL_LEN, serial_hex);
    cordon_log(CORDON_LOG_INFO, "peer.identity_reloaded", "node=%s serial=%s not_after=%lld",
               rt->node_hex, serial_hex, (long long)not_after);
    return CORDON_OK;
}

/* ---- `cordon-peer run` ------------------------------------------------------------------------
 */

static void log_counters(const cordon_runtime *rt)
{
    const struct cordon_link_counters *c = cordon_links_counters(rt->links);
    struct cordon_core_status st;
    cordon_core_status(rt->core, &st);
    cordon_log(CORDON_LOG_INFO, "peer.stopped",
               "node=%s table=%zu links=%zu handshakes_full=%llu handshakes_resumed=%llu "
               "handshakes_failed=%llu refused_untrusted=%llu refused_no_cert=%llu "
               "refused_expired=%llu refused_revoked=%llu links_revoked=%llu "
               "links_expired=%llu revoked_dropped=%llu "
               "refused_prefix=%llu msgs_in=%llu msgs_out=%llu send_errors=%llu",
               rt->node_hex, st.table_size, cordon_links_count(rt->links),
               (unsigned long long)c->handshakes_full, (unsigned long long)c->handshakes_resumed,
               (unsigned long long)c->handshakes_failed, (unsigned long long)c->refused_untrusted,
               (unsigned long long)c->refused_no_cert, (unsigned long long)c->refused_expired,
               (unsigned long long)c->refused_revoked, (unsigned long long)c->links_revoked,
               (unsigned long long)c->links_expired, (unsigned long long)rt->revoked_dropped,
               (unsigned long long)st.refused_prefix, (unsigned long long)st.msgs_in,
               (unsigned long long)st.msgs_out, (unsigned long long)rt->send_errors);
}

static void on_refreshed(void *ctx, size_t index, unsigned what)
{
    cordon_runtime *rt = ctx;
    cordon_err err = CORDON_OK;
    (void)index; /* one instance */
    /* A refused reload is logged and counted; the peer goes on with what it has. */
    if ((what & CORDON_REFRESH_CRL) != 0)
        err = cordon_runtime_reload_crl(rt, cordon_runtime_now_ms());
    if ((what & CORDON_REFRESH_IDENTITY) != 0)
        err = cordon_runtime_reload_identity(rt, cordon_runtime_now_ms());
    (void)err;
}

/* The refresher of `cordon-peer run` (NULL in *out when o asks for none, or DIR has no
 * enrollment.json), started. */
static cordon_err refresher_open(const cordon_runtime *rt, const struct cordon_runtime_options *o,
                                 cordon_refresher **out)
{
    const struct cordon_refresher_config *c = o->refresh;
    *out = NULL;
    if (c == NULL || (c->crl_interval_s == 0 && c->renew_before_s == 0)) {
        cordon_log(CORDON_LOG_INFO, "peer.refresh_off", "node=%s reason=disabled", rt->node_hex);
        return CORDON_OK;
    }
    cordon_refresher *r = NULL;
    cordon_err err = cordon_refresher_new(c, &r);
    if (err == CORDON_OK)
        err = cordon_refresher_add(r, o->dir, 0);
    if (err == CORDON_ERR_NOT_FOUND) {
        cordon_refresher_free(r);
        cordon_log(CORDON_LOG_WARN, "peer.refresh_off", "node=%s reason=no_enrollment_json",
                   rt->node_hex);
        return CORDON_OK;
    }
    if (err == CORDON_OK)
        err = cordon_refresher_start(r);
    if (err != CORDON_OK) {
        cordon_refresher_free(r);
        return err;
    }
    cordon_log(CORDON_LOG_INFO, "peer.refresh", "node=%s crl_interval_s=%u renew_before_s=%lld",
               rt->node_hex, (unsigned)c->crl_interval_s, (long long)c->renew_before_s);
    *out = r;
    return CORDON_OK;
}

cordon_err cordon_runtime_run(const struct cordon_runtime_options *o)
{
    cordon_runtime *rt = NULL;
    cordon_refresher *refresher = NULL;
    int ep = -1, sfd = -1;
    sigset_t mask, old;
    bool masked = false;
    cordon_err err = CORDON_ERR_IO;

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, &old) != 0)
        goto out;
    masked = true;
    sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (sfd < 0 || ep < 0)
        goto out;
    err = cordon_runtime_new(o, cordon_runtime_now_ms(), &rt);
    if (err != CORDON_OK)
        goto out;
    err = CORDON_ERR_IO;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) != 0)
        goto out;
    ev.data.u32 = 1;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, cordon_runtime_fd(rt), &ev) != 0)
        goto out;
    ev.data.u32 = 2;
    if (cordon_runtime_control_fd(rt) >= 0 &&
        epoll_ctl(ep, EPOLL_CTL_ADD, cordon_runtime_control_fd(rt), &ev) != 0)
        goto out;
    err = refresher_open(rt, o, &refresher);
    if (err != CORDON_OK) {
        char q[CORDON_PATH_MAX];
        cordon_log(CORDON_LOG_ERROR, "peer.start_failed", "dir=%s stage=refresh reason=%s",
                   cordon_log_quote(o->dir, q, sizeof(q)), cordon_errname(err));
        goto out;
    }
    err = CORDON_ERR_IO;
    ev.data.u32 = 3;
    if (refresher != NULL && epoll_ctl(ep, EPOLL_CTL_ADD, cordon_refresher_fd(refresher), &ev) != 0)
        goto out;

    int signo = 0;
    err = CORDON_OK;
    while (signo == 0 && err == CORDON_OK) {
        uint64_t now = cordon_runtime_now_ms();
        uint64_t due = cordon_runtime_next_deadline(rt, now);
        int timeout = -1;
        if (due != UINT64_MAX)
            timeout = due <= now ? 0 : (due - now > 60000 ? 60000 : (int)(due - now));
        struct epoll_event evs[4];
        int n = epoll_wait(ep, evs, 4, timeout);
        if (n < 0 && errno != EINTR) {
            err = CORDON_ERR_IO;
            break;
        }
        bool control = false, refreshed = false;
        for (int i = 0; i < n; i++) {
            struct signalfd_siginfo si;
            if (evs[i].data.u32 == 0 && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                signo = (int)si.ssi_signo;
            if (evs[i].data.u32 == 2)
                control = true;
            if (evs[i].data.u32 == 3)
                refreshed = true;
        }
        if (signo == 0 && refreshed)
            cordon_refresher_drain(refresher, on_refreshed, rt);
        if (signo == 0)
            err = cordon_runtime_handle(rt, cordon_runtime_now_ms());
        if (signo == 0 && err == CORDON_OK && (control || cordon_runtime_control_due(rt)))
            err = cordon_runtime_control_run(rt, cordon_runtime_now_ms());
    }
    if (signo != 0)
        cordon_log(CORDON_LOG_INFO, "peer.stopping", "node=%s signal=%s", rt->node_hex,
                   signo == SIGTERM ? "TERM" : "INT");
    else
        cordon_log(CORDON_LOG_ERROR, "peer.failed", "node=%s reason=%s", rt->node_hex,
                   cordon_errname(err));
    log_counters(rt);
out:
    cordon_refresher_free(refresher); /* joins its thread first: it may be writing files */
    cordon_runtime_free(rt);
    if (ep >= 0)
        close(ep);
    if (sfd >= 0)
        close(sfd);
    if (masked)
        sigprocmask(SIG_SETMASK, &old, NULL);
    return err;
}
