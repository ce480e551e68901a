/*
 * peer/link.c — DTLS 1.2 links over memory BIOs, demultiplexed by remote address (see
 * link.h for the contract). Besides crypto/, the only file that includes OpenSSL headers.
 *
 * Shape of the code:
 * - every public entry point brackets its work with enter()/leave(); links that die during
 *   a call are unlinked at once but freed only by the outermost leave(), so host callbacks
 *   may re-enter the table without leaving dangling pointers behind;
 * - a datagram from an address without a link is parsed just far enough (wire/reader.h) to
 *   see a plain ClientHello; only then does the shared listener SSL run DTLSv1_listen()
 *   on it (HelloVerifyRequest or cookie check). When the cookie checks out, the listener
 *   SSL itself, with the ClientHello buffered inside, becomes the new link's SSL and a
 *   fresh listener is made;
 * - records go out through a per-table BIO method whose write hands each datagram to the
 *   host (one BIO_write = one datagram, which a memory BIO would not preserve);
 * - the peer's certificate is checked by cordon_cert_verify_node() in place of OpenSSL's
 *   own chain check; resumed sessions are checked again when they come up.
 */
#include "peer/link.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/ratelimit.h"
#include "wire/reader.h"

/* Our BIO type: a source/sink with a number no built-in BIO uses. A fixed number rather
 * than BIO_get_new_index(), which draws from a small process-wide pool. */
#define LINK_BIO_TYPE (0x7e | BIO_TYPE_SOURCE_SINK)

/* DTLS retransmission: first after 400 ms, doubling up to 6.4 s. */
#define LINK_TIMER_FIRST_US 400000u
#define LINK_TIMER_MAX_US 6400000u

/* OpenSSL 3.0 packs handshake records into a datagram up to the MTU without counting the
 * AEAD expansion of the records sent under the new epoch (8 explicit nonce + 16 tag bytes
 * for GCM), so the client's Certificate..Finished flight came out 12 bytes over. The MTU
 * given to OpenSSL leaves that slack; application records are capped by us
 * (CORDON_LINK_PLAINTEXT_MAX) and fill CORDON_LINK_DATAGRAM_MAX exactly. */
#define LINK_AEAD_SLACK 24

#define DTLS_CT_HANDSHAKE 22
#define DTLS_HS_CLIENT_HELLO 1
#define DTLS_RANDOM_LEN 32

enum link_state { LINK_HANDSHAKE, LINK_UP, LINK_DEAD };

struct link {
    struct cordon_links *table;
    struct sockaddr_storage addr; /* normalized: family, port, address (and v6 scope) */
    socklen_t addrlen;
    SSL *ssl;
    enum link_state state;
    bool initiated;    /* the host sent through it before it came up: report failures */
    bool has_expected; /* the host named the node it expects */
    bool verified;     /* the verify callback accepted the peer certificate */
    bool wrong_node;   /* refused because the node ID was not the expected one */
    bool quiet;        /* established and idle: its record buffers are given back */
    bool reused;       /* used again after a quiet spell: keeps the whole idle timeout */
    bool offered;      /* the client offered a stored session */
    uint8_t expected[CORDON_NODE_ID_LEN];
    uint8_t peer_id[CORDON_NODE_ID_LEN];
    uint8_t peer_serial[CORDON_SERIAL_LEN]; /* of the certificate that proved peer_id */
    int64_t peer_not_after;                 /* its notAfter, wall-clock seconds */
    uint64_t expire_ms;    /* now_ms at which it should have expired (checked on the wall) */
    cordon_err verify_err; /* why the peer certificate was refused */
    uint64_t created_ms;
    uint64_t last_ms;
    cordon_buf pending; /* [u16 length][bytes]... queued while handshaking */
    struct link *hnext; /* hash chain */
    struct link *prev;  /* LRU order: head = least recently used */
    struct link *next;
    struct link *gnext; /* graveyard */
};

/* A stored client session, kept serialized (i2d_SSL_SESSION: the master secret, the
 * server's certificate, the ticket; about 1.6 KB) rather than as a live SSL_SESSION, which
 * holds the parsed certificate and costs several times that: a node linked with hundreds
 * of others keeps a session for each. The bytes live in the table's session arena (one
 * buffer for all, each session at its own size) rather than in mallocs of their own:
 * sessions are made one per link as links come up, all through a join, between the
 * handshakes' short-lived allocations, and live on after those are freed, so a few hundred
 * small chunks per peer instance would each pin a heap page that the trim cannot return
 * (bench/swarm: the RSS of an idle swarm); past glibc's mmap threshold the arena leaves
 * the heap altogether. They were fixed slots of CORDON_LINK_SESSION_DER_MAX bytes, 2.2 KB
 * each with the address, until a swarm of 1,000 held 0.36 MiB of them per peer. Session
 * bytes hold the master secret: wiped when dropped, moved or grown out of. */
struct session {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint16_t der_len;
    uint32_t der_off; /* in the arena */
    uint64_t used_ms;
    int64_t peer_not_after; /* the server certificate inside expires then: no resumption */
};

/* A peer certificate that passed cordon_cert_verify_node(), by the SHA-256 of its DER. A
 * handshake (full or resumed) that shows it again re-checks only what can change: the
 * time against its validity (and the CA's), the CRL's window and whether the CRL lists
 * its serial. The chain check, the certificate parse and the CRL's signature check cost
 * most of a resumed handshake, and a node meets the same few hundred peers again and
 * again. */
struct cert_memo {
    uint8_t fp[32];
    uint8_t id[CORDON_NODE_ID_LEN];
    uint8_t serial[CORDON_SERIAL_LEN];
    int64_t not_before, not_after; /* the leaf's, narrowed to the CA's */
    int64_t leaf_not_after;
    uint64_t used_ms;
};

struct cordon_links {
    struct cordon_link_config cfg;
    struct cordon_link_host host;
    const cordon_cert *ca;
    const cordon_crl *crl;
    char overlay[CORDON_OVERLAY_NAME_MAX + 1];
    SSL_CTX *ctx;
    BIO_METHOD *wmeth;
    SSL *listener;
    struct link listen_link; /* the listener's pseudo-link: its addr is the current source */
    BIO_ADDR *listen_peer;
    uint8_t cookie_secret[32];
    uint64_t now_ms;
    unsigned depth;
    struct link **buckets;
    size_t nbuckets;
    uint64_t hash_seed;
    struct link *lru_head;
    struct link *lru_tail;
    size_t count;
    size_t half_open;
    struct link *graveyard;
    /* The earliest deadline of any link, from the last walk over them all; valid until a
     * link is added, starts or moves a handshake, comes up, or the CRL or certificate
     * changes (traffic on an established link only moves its deadline later, so the cached
     * one stays early enough). tick and next_deadline walk the links only when it is due
     * or stale: a node with hundreds of links otherwise walked them all on every datagram. */
    uint64_t due_ms;
    bool due_valid;
    struct cert_memo *memo; /* [0, nmemo) in use; grown up to CORDON_LINK_CERTS_MEMO */
    size_t nmemo, memo_cap;
    const cordon_crl *window_of; /* the CRL whose window (checked signature) is below */
    int64_t crl_last, crl_next;
    bool crl_window_ok;
    struct session *sessions; /* [0, nsessions) in use; grown up to cfg.max_sessions */
    size_t nsessions;
    size_t sessions_cap;
    uint8_t *arena;   /* the sessions' bytes: [0, arena_len) written, holes included */
    size_t arena_len; /* at most (max_sessions + 1) * CORDON_LINK_SESSION_DER_MAX */
    size_t arena_cap;
    size_t arena_holes; /* bytes of dropped sessions (wiped) not reclaimed yet */
    cordon_ratelimit *rate;
    struct cordon_link_counters c;
};

/* ---- identity ------------------------------------------------------------------------ */

static bool overlay_name_ok(const char *s)
{
    size_t n = s == NULL ? 0 : strlen(s);
    if (n == 0 || n > CORDON_OVERLAY_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

void cordon_link_identity_clear(struct cordon_link_identity *id)
{
    if (id == NULL)
        return;
    cordon_key_free(id->key);
    cordon_cert_free(id->cert);
    cordon_cert_free(id->ca);
    cordon_crl_free(id->crl);
    memset(id, 0, sizeof(*id));
}

cordon_err cordon_link_identity_load(const char *dir, const char *overlay,
                                     struct cordon_link_identity *id)
{
    char path[CORDON_PATH_MAX];
    cordon_err err;

    if (id == NULL)
        return CORDON_ERR_INVAL;
    memset(id, 0, sizeof(*id));
    if (dir == NULL || !overlay_name_ok(overlay))
        return CORDON_ERR_INVAL;
    snprintf(id->overlay, sizeof(id->overlay), "%s", overlay);
#define LOAD(name, fn, field)                                                                      \
    do {                                                                                           \
        err = cordon_path_join(path, dir, name);                                                   \
        if (err == CORDON_OK)                                                                      \
            err = fn(path, &id->field);                                                            \
        if (err != CORDON_OK)                                                                      \
            goto fail;                                                                             \
    } while (0)
    LOAD("node.key", cordon_key_load, key);
    LOAD("node.crt", cordon_cert_load, cert);
    LOAD("ca.crt", cordon_cert_load, ca);
    LOAD("crl.pem", cordon_crl_load, crl);
#undef LOAD
    if (!cordon_cert_matches_key(id->cert, id->key)) {
        err = CORDON_ERR_KEY_TYPE;
        goto fail;
    }
    return CORDON_OK;
fail:
    cordon_link_identity_clear(id);
    return err;
}

void cordon_link_config_default(struct cordon_link_config *config)
{
    config->max_links = CORDON_LINK_DEFAULT_MAX;
    config->max_half_open = CORDON_LINK_DEFAULT_HALF_OPEN;
    config->max_sessions = CORDON_LINK_DEFAULT_SESSIONS;
    config->idle_timeout_ms = CORDON_LINK_DEFAULT_IDLE_MS;
    config->handshake_timeout_ms = CORDON_LINK_DEFAULT_HANDSHAKE_MS;
    config->handshake_rate = CORDON_LINK_DEFAULT_RATE;
    config->handshake_burst = CORDON_LINK_DEFAULT_BURST;
}

/* ---- addresses and the hash ------------------------------------------------------------ */

/* Copies only what identifies a UDP endpoint, so that equal endpoints compare equal. */
static bool addr_norm(const struct sockaddr *sa, socklen_t len, struct sockaddr_storage *out,
                      socklen_t *outlen)
{
    memset(out, 0, sizeof(*out));
    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        struct sockaddr_in *o = (struct sockaddr_in *)(void *)out;
        o->sin_family = AF_INET;
        o->sin_port = in->sin_port;
        o->sin_addr = in->sin_addr;
        *outlen = sizeof(*o);
        return true;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in = (const struct sockaddr_in6 *)(const void *)sa;
        struct sockaddr_in6 *o = (struct sockaddr_in6 *)(void *)out;
        o->sin6_family = AF_INET6;
        o->sin6_port = in->sin6_port;
        o->sin6_addr = in->sin6_addr;
        o->sin6_scope_id = in->sin6_scope_id;
        *outlen = sizeof(*o);
        return true;
    }
    return false;
}

static bool addr_eq(const struct sockaddr_storage *a, socklen_t alen,
                    const struct sockaddr_storage *b, socklen_t blen)
{
    return alen == blen && memcmp(a, b, (size_t)alen) == 0;
}

/* The source IP without the port: the key of the handshake rate limiter. */
static size_t addr_ip_key(const struct sockaddr_storage *a, uint8_t key[17])
{
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)a;
        key[0] = 4;
        memcpy(key + 1, &in->sin_addr, 4);
        return 5;
    }
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)a;
    key[0] = 6;
    memcpy(key + 1, &in6->sin6_addr, 16);
    return 17;
}

static size_t addr_hash(const struct cordon_links *t, const struct sockaddr_storage *a,
                        socklen_t alen)
{
    /* Seeded: chosen addresses cannot be made to collide without knowing the seed. */
    uint64_t h = cordon_hash64(t->hash_seed, a, (size_t)alen);
    return (size_t)(h & (t->nbuckets - 1));
}

static struct link *link_find(const struct cordon_links *t, const struct sockaddr_storage *a,
                              socklen_t alen)
{
    for (struct link *l = t->buckets[addr_hash(t, a, alen)]; l != NULL; l = l->hnext)
        if (addr_eq(&l->addr, l->addrlen, a, alen))
            return l;
    return NULL;
}

/* ---- LRU and lifetime -------------------------------------------------------------------- */

static void lru_unlink(struct cordon_links *t, struct link *l)
{
    if (l->prev != NULL)
        l->prev->next = l->next;
    else
        t->lru_head = l->next;
    if (l->next != NULL)
        l->next->prev = l->prev;
    else
        t->lru_tail = l->prev;
    /* l->next is left as it was: an iteration standing on l can still move on. */
    l->prev = NULL;
}

static void lru_append(struct cordon_links *t, struct link *l)
{
    l->prev = t->lru_tail;
    l->next = NULL;
    if (t->lru_tail != NULL)
        t->lru_tail->next = l;
    else
        t->lru_head = l;
    t->lru_tail = l;
}

/* Before any call that may read or write records on an established link: a quiet link
 * gets its record buffers again. libssl sets them up itself for a handshake and for TLS,
 * but its DTLS record writer expects the write buffer to be there. false: out of memory,
 * and the link must not be driven. */
static bool link_buffers(struct cordon_links *t, struct link *l)
{
    if (!l->quiet)
        return true;
    if (SSL_alloc_buffers(l->ssl) != 1)
        return false;
    l->quiet = false;
    l->reused = true;
    t->due_valid = false; /* its next quiet time may come before the deadline known */
    return true;
}

/* An established link idle for CORDON_LINK_QUIET_MS gives its record buffers back; the
 * next record in or out takes them again (link_buffers). libssl refuses while a record
 * is half read or written, and the link stays as it is until its next quiet time. */
static void link_quiet(struct cordon_links *t, struct link *l)
{
    if (l->quiet || SSL_free_buffers(l->ssl) != 1)
        return;
    l->quiet = true;
    t->c.links_quieted++;
}

/* How long an established link may go without records before it closes. */
static uint64_t link_idle_ms(const struct cordon_links *t, const struct link *l)
{
    uint64_t ms = t->cfg.idle_timeout_ms;
    return l->reused || ms < CORDON_LINK_BRIEF_IDLE_MS ? ms : CORDON_LINK_BRIEF_IDLE_MS;
}

static void link_touch(struct cordon_links *t, struct link *l)
{
    l->last_ms = t->now_ms;
    if (t->lru_tail != l) {
        lru_unlink(t, l);
        lru_append(t, l);
    }
}

static void link_free(struct link *l)
{
    if (l == NULL)
        return;
    SSL_free(l->ssl);
    cordon_buf_free(&l->pending);
    free(l);
}

/* Unlinks l from the table; it is freed when the outermost call returns. notify: send
 * close_notify (established links only). An established link is always shut down before
 * it is freed, even quietly: OpenSSL marks the session of an SSL freed without a shutdown
 * as not resumable, and the stored client session is that very object. */
static void link_kill(struct cordon_links *t, struct link *l, bool notify)
{
    struct link **pp;

    if (l->state == LINK_DEAD)
        return;
    if (l->state == LINK_UP) {
        if (!notify || !link_buffers(t, l))
            SSL_set_quiet_shutdown(l->ssl, 1);
        (void)SSL_shutdown(l->ssl);
    } else {
        t->half_open--;
    }
    for (pp = &t->buckets[addr_hash(t, &l->addr, l->addrlen)]; *pp != NULL; pp = &(*pp)->hnext) {
        if (*pp == l) {
            *pp = l->hnext;
            break;
        }
    }
    lru_unlink(t, l);
    t->count--;
    t->c.links_closed++;
    l->state = LINK_DEAD;
    l->gnext = t->graveyard;
    t->graveyard = l;
}

static void enter(struct cordon_links *t, uint64_t now_ms)
{
    if (t->depth++ == 0) {
        ERR_clear_error();
        t->now_ms = now_ms;
    }
}

static void leave(struct cordon_links *t)
{
    if (--t->depth != 0)
        return;
    while (t->graveyard != NULL) {
        struct link *l = t->graveyard;
        t->graveyard = l->gnext;
        link_free(l);
    }
    ERR_clear_error();
}

/* Grows an array of elem-byte entries from *cap entries to twice as many (16 at first), at
 * most max. The new entries are not zeroed (a caller fills every field of a slot it takes):
 * past the mmap threshold the pages of slots never taken are never touched. Returns the array,
 * perhaps moved, with *cap updated; NULL when it holds max already or memory is short, the array
 * unchanged. */
static void *array_grow(void *arr, size_t *cap, size_t max, size_t elem)
{
    if (*cap >= max)
        return NULL;
    size_t n = *cap == 0 ? 16 : 2 * *cap;
    if (n > max)
        n = max;
    uint8_t *grown = realloc(arr, n * elem);
    if (grown == NULL)
        return NULL;
    *cap = n;
    return grown;
}

/* ---- client sessions ------------------------------------------------------------------- */

static struct session *session_find(struct cordon_links *t, const struct sockaddr_storage *a,
                                    socklen_t alen)
{
    for (size_t i = 0; i < t->nsessions; i++)
        if (addr_eq(&t->sessions[i].addr, t->sessions[i].addrlen, a, alen))
            return &t->sessions[i];
    return NULL;
}

/* Drops s's bytes (wiped); s itself stays, empty. */
static void session_clear(struct cordon_links *t, struct session *s)
{
    if (s->der_len > 0) {
        cordon_wipe(t->arena + s->der_off, s->der_len);
        t->arena_holes += s->der_len;
    }
    s->der_len = 0;
    s->addrlen = 0;
}

/* Drops slot s: the last slot takes its place (its bytes stay where they are). */
static void slot_drop(struct cordon_links *t, struct session *s)
{
    session_clear(t, s);
    struct session *last = &t->sessions[--t->nsessions];
    if (s != last) {
        *s = *last;
        memset(last, 0, sizeof(*last));
    }
}

static void session_forget(struct cordon_links *t, const struct sockaddr_storage *a, socklen_t alen)
{
    struct session *s = session_find(t, a, alen);
    if (s != NULL)
        slot_drop(t, s);
}

static void session_forget_all(struct cordon_links *t)
{
    for (size_t i = 0; i < t->nsessions; i++)
        session_clear(t, &t->sessions[i]);
    t->nsessions = 0;
    t->arena_len = 0;
    t->arena_holes = 0;
}

/* Moves the live sessions' bytes into a new arena of cap bytes, in slot order and without
 * holes, and wipes the old one before freeing it (realloc would leave copies of master
 * secrets in freed memory). false when memory is short: nothing changed. */
static bool arena_rebuild(struct cordon_links *t, size_t cap)
{
    uint8_t *fresh = malloc(cap);
    if (fresh == NULL)
        return false;
    size_t len = 0;
    for (size_t i = 0; i < t->nsessions; i++) {
        struct session *s = &t->sessions[i];
        if (s->der_len == 0)
            continue;
        memcpy(fresh + len, t->arena + s->der_off, s->der_len);
        s->der_off = (uint32_t)len;
        len += s->der_len;
    }
    if (t->arena != NULL) {
        cordon_wipe(t->arena, t->arena_len);
        free(t->arena);
    }
    t->arena = fresh;
    t->arena_cap = cap;
    t->arena_len = len;
    t->arena_holes = 0;
    return true;
}

/* Room for n more bytes at the arena's end: reclaiming the holes when they are at least a
 * quarter of it (and make the room), else growing it (doubling, from 16 sessions' worth,
 * up to max_sessions + 1 of CORDON_LINK_SESSION_DER_MAX: a full store plus the one that
 * takes the least recently used one's place). Rebuilding costs a copy of the live bytes,
 * at most once per quarter of them dropped or per doubling. */
static bool arena_room(struct cordon_links *t, size_t n)
{
    if (t->arena_len + n <= t->arena_cap)
        return true;
    size_t max = (t->cfg.max_sessions + 1) * CORDON_LINK_SESSION_DER_MAX;
    size_t live = t->arena_len - t->arena_holes;
    if (t->arena_holes >= t->arena_len / 4 && live + n <= t->arena_cap)
        return arena_rebuild(t, t->arena_cap);
    size_t cap = t->arena_cap == 0 ? 16 * CORDON_LINK_SESSION_DER_MAX : 2 * t->arena_cap;
    while (cap < live + n)
        cap *= 2;
    if (cap > max)
        cap = max;
    return live + n <= cap && arena_rebuild(t, cap);
}

/* The slot for a new session: a free one (growing the array), else the least recently
 * used. NULL when no session may be stored or memory is short. */
static struct session *session_slot(struct cordon_links *t)
{
    if (t->nsessions == t->sessions_cap) {
        struct session *grown =
            array_grow(t->sessions, &t->sessions_cap, t->cfg.max_sessions, sizeof(*grown));
        if (grown != NULL)
            t->sessions = grown;
    }
    if (t->nsessions < t->sessions_cap) {
        struct session *s = &t->sessions[t->nsessions++];
        memset(s, 0, sizeof(*s));
        return s;
    }
    if (t->nsessions == 0)
        return NULL;
    struct session *s = &t->sessions[0];
    for (size_t i = 1; i < t->nsessions; i++)
        if (t->sessions[i].used_ms < s->used_ms)
            s = &t->sessions[i];
    session_clear(t, s);
    return s;
}

static void session_store(struct cordon_links *t, struct link *l)
{
    if (t->cfg.max_sessions == 0)
        return;
    SSL_SESSION *sess = SSL_get1_session(l->ssl);
    if (sess == NULL)
        return;
    int n = SSL_SESSION_is_resumable(sess) ? i2d_SSL_SESSION(sess, NULL) : 0;
    struct session *s = NULL;
    if (n > 0 && (size_t)n <= CORDON_LINK_SESSION_DER_MAX) {
        session_forget(t, &l->addr, l->addrlen); /* the one it replaces, if any */
        /* Room at the arena's end, then a slot (perhaps the least recently used one,
         * whose bytes become a hole: the room stays). */
        if (arena_room(t, (size_t)n))
            s = session_slot(t);
    } else if (n > 0) {
        t->c.sessions_too_large++;
    }
    if (s != NULL) {
        uint8_t *p = t->arena + t->arena_len;
        if (i2d_SSL_SESSION(sess, &p) == n) {
            s->addr = l->addr;
            s->addrlen = l->addrlen;
            s->der_off = (uint32_t)t->arena_len;
            s->der_len = (uint16_t)n;
            s->used_ms = t->now_ms;
            s->peer_not_after = l->peer_not_after;
            t->arena_len += (size_t)n;
        } else {
            cordon_wipe(t->arena + t->arena_len, (size_t)n);
            slot_drop(t, s);
        }
    }
    SSL_SESSION_free(sess);
}

/* ---- the output BIO ---------------------------------------------------------------------- */

static int wbio_write(BIO *b, const char *data, int len)
{
    struct link *l = BIO_get_data(b);
    struct cordon_links *t;

    if (l == NULL || len <= 0)
        return 0;
    t = l->table;
    /* The MTU set on every SSL keeps OpenSSL below the cap; a bigger datagram would be a
     * bug, and the host is promised never to see one. */
    if ((size_t)len <= CORDON_LINK_DATAGRAM_MAX)
        t->host.send_datagram(t->host.ctx, (const struct sockaddr *)&l->addr, l->addrlen,
                              (const uint8_t *)data, (size_t)len);
    return len;
}

static long wbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
        return CORDON_LINK_DATAGRAM_MAX;
    default:
        return 0;
    }
}

static int wbio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* ---- certificate checks ------------------------------------------------------------------ */

/* What a peer certificate that verified proved. */
struct peer_cert {
    uint8_t id[CORDON_NODE_ID_LEN];
    uint8_t serial[CORDON_SERIAL_LEN];
    int64_t not_after;
};

static struct cert_memo *memo_find(struct cordon_links *t, const uint8_t fp[32])
{
    for (size_t i = 0; i < t->nmemo; i++)
        if (memcmp(t->memo[i].fp, fp, 32) == 0)
            return &t->memo[i];
    return NULL;
}

/* A slot for a newly verified certificate: a free one (growing the array), else the least
 * recently used. NULL when memory is short: the certificate is simply not remembered. */
static struct cert_memo *memo_slot(struct cordon_links *t)
{
    if (t->nmemo == t->memo_cap) {
        struct cert_memo *grown =
            array_grow(t->memo, &t->memo_cap, CORDON_LINK_CERTS_MEMO, sizeof(*grown));
        if (grown != NULL)
            t->memo = grown;
    }
    if (t->nmemo < t->memo_cap)
        return &t->memo[t->nmemo++];
    if (t->nmemo == 0)
        return NULL;
    struct cert_memo *m = &t->memo[0];
    for (size_t i = 1; i < t->nmemo; i++)
        if (t->memo[i].used_ms < m->used_ms)
            m = &t->memo[i];
    return m;
}

/* What cordon_cert_verify_node() would say now of a certificate it accepted before, in its
 * order: the CRL (its window; its signature was checked once), the validity, revocation. */
static cordon_err memo_check(struct cordon_links *t, const struct cert_memo *m, int64_t now)
{
    if (t->crl != NULL) {
        if (t->window_of != t->crl) {
            int64_t last = 0, next = 0;
            t->crl_window_ok = cordon_crl_window(t->crl, &last, &next) == CORDON_OK &&
                               cordon_crl_verify(t->crl, t->ca, last) == CORDON_OK;
            t->crl_last = last;
            t->crl_next = next;
            t->window_of = t->crl;
        }
        if (!t->crl_window_ok || now < t->crl_last || now >= t->crl_next)
            return CORDON_ERR_CRL;
    }
    if (now < m->not_before)
        return CORDON_ERR_CERT_NOT_YET_VALID;
    if (now >= m->not_after)
        return CORDON_ERR_CERT_EXPIRED;
    if (t->crl != NULL && cordon_crl_lists(t->crl, m->serial))
        return CORDON_ERR_CERT_REVOKED;
    return CORDON_OK;
}

static cordon_err verify_x509(struct cordon_links *t, X509 *x, struct peer_cert *out)
{
    uint8_t der[CORDON_CERT_MAX], fp[32];
    unsigned char *p = der;
    cordon_cert *cert = NULL;
    cordon_err err;
    int64_t not_before, now = t->host.wall_time(t->host.ctx);
    int n;

    if (x == NULL)
        return CORDON_ERR_CERT_UNTRUSTED;
    n = i2d_X509(x, NULL);
    if (n <= 0 || (size_t)n > sizeof(der))
        return CORDON_ERR_CERT_UNTRUSTED;
    if (i2d_X509(x, &p) != n)
        return CORDON_ERR_CRYPTO;
    cordon_sha256(der, (size_t)n, fp);
    struct cert_memo *m = memo_find(t, fp);
    if (m != NULL) {
        m->used_ms = t->now_ms;
        err = memo_check(t, m, now);
        if (err == CORDON_OK) {
            memcpy(out->id, m->id, sizeof(out->id));
            memcpy(out->serial, m->serial, sizeof(out->serial));
            out->not_after = m->leaf_not_after;
        }
        return err;
    }
    err = cordon_cert_parse(der, (size_t)n, &cert);
    if (err == CORDON_OK)
        err = cordon_cert_verify_node(cert, t->ca, t->crl, t->overlay, now, out->id);
    else
        err = CORDON_ERR_CERT_UNTRUSTED;
    /* A certificate that verified has both; one without them is not ours to trust. */
    if (err == CORDON_OK && (cordon_cert_serial(cert, out->serial) != CORDON_OK ||
                             cordon_cert_validity(cert, &not_before, &out->not_after) != CORDON_OK))
        err = CORDON_ERR_CERT_UNTRUSTED;
    cordon_cert_free(cert);
    int64_t ca_nb, ca_na;
    if (err == CORDON_OK && cordon_cert_validity(t->ca, &ca_nb, &ca_na) == CORDON_OK &&
        (m = memo_slot(t)) != NULL) {
        memcpy(m->fp, fp, sizeof(m->fp));
        memcpy(m->id, out->id, sizeof(m->id));
        memcpy(m->serial, out->serial, sizeof(m->serial));
        m->not_before = not_before > ca_nb ? not_before : ca_nb;
        m->not_after = out->not_after < ca_na ? out->not_after : ca_na;
        m->leaf_not_after = out->not_after;
        m->used_ms = t->now_ms;
    }
    return err;
}

static void link_prove(struct link *l, const struct peer_cert *pc)
{
    memcpy(l->peer_id, pc->id, sizeof(l->peer_id));
    memcpy(l->peer_serial, pc->serial, sizeof(l->peer_serial));
    l->peer_not_after = pc->not_after;
    l->verified = true;
}

/* The now_ms at which a certificate valid until not_after (wall-clock seconds) expires, by
 * the wall clock of now. Only a hint for the deadline: expiry is decided on the wall clock
 * when it comes (link_expired). */
static uint64_t expiry_ms(const struct cordon_links *t, int64_t not_after)
{
    int64_t left = not_after - t->host.wall_time(t->host.ctx);
    if (left <= 0)
        return t->now_ms;
    if ((uint64_t)left > (UINT64_MAX - t->now_ms) / 1000u)
        return UINT64_MAX;
    return t->now_ms + (uint64_t)left * 1000u;
}

/* true when the peer certificate of an established link has passed its notAfter (the
 * verifier checked it only at the handshake); else moves the hint forward. */
static bool link_expired(struct cordon_links *t, struct link *l)
{
    if (t->host.wall_time(t->host.ctx) >= l->peer_not_after)
        return true;
    l->expire_ms = expiry_ms(t, l->peer_not_after);
    if (l->expire_ms <= t->now_ms)
        l->expire_ms = t->now_ms + 1; /* the wall clock says not yet: never a busy loop */
    return false;
}

/* Replaces OpenSSL's chain verification: the leaf must be a node of this overlay. */
static int verify_cb(X509_STORE_CTX *sctx, void *arg)
{
    struct cordon_links *t = arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct link *l = ssl == NULL ? NULL : SSL_get_app_data(ssl);
    struct peer_cert pc;
    cordon_err err;

    if (l == NULL || l == &t->listen_link)
        return 0;
    err = verify_x509(t, X509_STORE_CTX_get0_cert(sctx), &pc);
    if (err == CORDON_OK && l->has_expected && memcmp(pc.id, l->expected, sizeof(pc.id)) != 0) {
        err = CORDON_ERR_CERT_NODE_ID;
        l->wrong_node = true;
    }
    if (err != CORDON_OK) {
        l->verify_err = err;
        X509_STORE_CTX_set_error(sctx, err == CORDON_ERR_CERT_EXPIRED ? X509_V_ERR_CERT_HAS_EXPIRED
                                       : err == CORDON_ERR_CERT_REVOKED
                                           ? X509_V_ERR_CERT_REVOKED
                                           : X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    link_prove(l, &pc);
    return 1;
}

/* ---- cookies ----------------------------------------------------------------------------- */

static void cookie_compute(const struct cordon_links *t, const struct link *l, uint64_t epoch,
                           uint8_t out[CORDON_LINK_COOKIE_LEN])
{
    uint8_t msg[8 + sizeof(struct sockaddr_storage)];
    unsigned int n = 0;
    uint8_t md[EVP_MAX_MD_SIZE];

    for (int i = 0; i < 8; i++)
        msg[i] = (uint8_t)(epoch >> (56 - 8 * i));
    memcpy(msg + 8, &l->addr, (size_t)l->addrlen);
    if (HMAC(EVP_sha256(), t->cookie_secret, (int)sizeof(t->cookie_secret), msg,
             8 + (size_t)l->addrlen, md, &n) == NULL ||
        n < CORDON_LINK_COOKIE_LEN) {
        /* Never a usable cookie: a random one fails verification. */
        (void)RAND_bytes(out, CORDON_LINK_COOKIE_LEN);
        return;
    }
    memcpy(out, md, CORDON_LINK_COOKIE_LEN);
}

static int cookie_generate(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
    struct link *l = SSL_get_app_data(ssl);
    struct cordon_links *t = l->table;

    cookie_compute(t, l, t->now_ms / CORDON_LINK_COOKIE_EPOCH_MS, cookie);
    *len = CORDON_LINK_COOKIE_LEN;
    t->c.cookies_sent++;
    return 1;
}

static int cookie_verify(SSL *ssl, const unsigned char *cookie, unsigned int len)
{
    struct link *l = SSL_get_app_data(ssl);
    struct cordon_links *t = l->table;
    uint64_t epoch = t->now_ms / CORDON_LINK_COOKIE_EPOCH_MS;
    uint8_t want[CORDON_LINK_COOKIE_LEN];
    bool ok = false;

    if (len != CORDON_LINK_COOKIE_LEN)
        return 0;
    cookie_compute(t, l, epoch, want);
    ok = cordon_ct_equal(want, cookie, sizeof(want));
    if (!ok && epoch > 0) {
        cookie_compute(t, l, epoch - 1, want);
        ok = cordon_ct_equal(want, cookie, sizeof(want));
    }
    return ok ? 1 : 0;
}

static unsigned int timer_cb(SSL *ssl, unsigned int timer_us)
{
    (void)ssl;
    if (timer_us == 0)
        return LINK_TIMER_FIRST_US;
    return timer_us >= LINK_TIMER_MAX_US / 2 ? LINK_TIMER_MAX_US : 2 * timer_us;
}

/* ---- SSL objects ------------------------------------------------------------------------- */

static SSL *ssl_new(struct cordon_links *t, struct link *l)
{
    SSL *ssl = SSL_new(t->ctx);
    BIO *rb = BIO_new(BIO_s_mem());
    BIO *wb = BIO_new(t->wmeth);

    if (ssl == NULL || rb == NULL || wb == NULL)
        goto fail;
    BIO_set_mem_eof_return(rb, -1); /* empty means "try again", not EOF */
    BIO_set_data(wb, l);
    SSL_set_bio(ssl, rb, wb);
    SSL_set_app_data(ssl, l);
    DTLS_set_timer_cb(ssl, timer_cb);
    if (SSL_set_mtu(ssl, CORDON_LINK_DATAGRAM_MAX - LINK_AEAD_SLACK) <=
        0) { /* returns the MTU set */
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
fail:
    SSL_free(ssl);
    BIO_free(rb);
    BIO_free(wb);
    return NULL;
}

static void ssl_rebind(SSL *ssl, struct link *l)
{
    BIO_set_data(SSL_get_wbio(ssl), l);
    SSL_set_app_data(ssl, l);
}

static bool listener_make(struct cordon_links *t)
{
    t->listener = ssl_new(t, &t->listen_link);
    if (t->listener == NULL)
        return false;
    SSL_set_options(t->listener, SSL_OP_COOKIE_EXCHANGE);
    SSL_set_accept_state(t->listener);
    return true;
}

static cordon_err ctx_setup(struct cordon_links *t, const struct cordon_link_identity *id)
{
    cordon_buf pem, der;
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    X509 *cert = NULL, *ca = NULL;
    const unsigned char *p;
    uint8_t sid[32];
    char sid_in[80];
    cordon_err err = CORDON_ERR_CRYPTO;

    cordon_buf_init(&pem, CORDON_KEY_FILE_MAX, true);
    cordon_buf_init(&der, CORDON_CERT_MAX, false);
    t->ctx = SSL_CTX_new(DTLS_method());
    if (t->ctx == NULL)
        goto out;
    if (SSL_CTX_set_min_proto_version(t->ctx, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(t->ctx, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(t->ctx, "ECDHE-ECDSA-AES128-GCM-SHA256:"
                                        "ECDHE-ECDSA-AES256-GCM-SHA384:"
                                        "ECDHE-ECDSA-CHACHA20-POLY1305") != 1 ||
        SSL_CTX_set1_groups_list(t->ctx, "X25519:P-256") != 1)
        goto out;
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_RENEGOTIATION |
                                    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    /* Send the node certificate alone: every peer holds the CA, and sending it too (as
     * libssl's automatic chain building does) cost 381 bytes and a certificate parse on
     * the other side in every full handshake (bench/dtls). */
    SSL_CTX_set_mode(t->ctx, SSL_MODE_NO_AUTO_CHAIN);
    /* No record we write carries more than CORDON_LINK_PLAINTEXT_MAX bytes: sized by this,
     * each link's write buffer is 1.3 KB instead of 16.7 KB (a link end cost ~70 KB of heap,
     * 55 KB with this; a swarm peer holds dozens of links while the overlay forms). */
    if (SSL_CTX_set_max_send_fragment(t->ctx, CORDON_LINK_DATAGRAM_MAX) != 1)
        goto out;
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_cert_verify_callback(t->ctx, verify_cb, t);
    SSL_CTX_set_cookie_generate_cb(t->ctx, cookie_generate);
    SSL_CTX_set_cookie_verify_cb(t->ctx, cookie_verify);
    /* Clients keep their sessions in our store; servers resume from tickets only, so there
     * is no server cache to fill. The sid context is required with peer verification. */
    SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_set_timeout(t->ctx, CORDON_LINK_SESSION_LIFETIME);
    snprintf(sid_in, sizeof(sid_in), "cordon-link/%s", t->overlay);
    cordon_sha256(sid_in, strlen(sid_in), sid);
    if (SSL_CTX_set_session_id_context(t->ctx, sid, sizeof(sid)) != 1)
        goto out;

    /* Our certificate and the CA (the only entry of the store, and the name listed in
     * CertificateRequest). */
    err = cordon_cert_der(id->cert, &der);
    if (err != CORDON_OK)
        goto out;
    err = CORDON_ERR_CRYPTO;
    p = der.data;
    cert = d2i_X509(NULL, &p, (long)der.len);
    cordon_buf_reset(&der);
    err = cordon_cert_der(id->ca, &der);
    if (err != CORDON_OK)
        goto out;
    err = CORDON_ERR_CRYPTO;
    p = der.data;
    ca = d2i_X509(NULL, &p, (long)der.len);
    if (cert == NULL || ca == NULL || SSL_CTX_use_certificate(t->ctx, cert) != 1 ||
        X509_STORE_add_cert(SSL_CTX_get_cert_store(t->ctx), ca) != 1 ||
        SSL_CTX_add_client_CA(t->ctx, ca) != 1)
        goto out;

    /* The key crosses as PEM in a wiped buffer. */
    err = cordon_key_private_pem(id->key, &pem);
    if (err != CORDON_OK)
        goto out;
    err = CORDON_ERR_CRYPTO;
    bio = BIO_new_mem_buf(pem.data, (int)pem.len);
    if (bio == NULL)
        goto out;
    pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    if (pkey == NULL || SSL_CTX_use_PrivateKey(t->ctx, pkey) != 1 ||
        SSL_CTX_check_private_key(t->ctx) != 1) {
        err = CORDON_ERR_INVAL;
        goto out;
    }
    err = CORDON_OK;
out:
    BIO_free(bio);
    cordon_buf_free(&pem);
    cordon_buf_free(&der);
    EVP_PKEY_free(pkey);
    X509_free(cert);
    X509_free(ca);
    return err;
}

/* ---- creation and teardown ----------------------------------------------------------------- */

static bool config_ok(const struct cordon_link_config *c)
{
    return c->max_links >= 1 && c->max_links <= CORDON_LINK_MAX && c->max_half_open >= 1 &&
           c->max_half_open <= CORDON_LINK_HALF_OPEN_MAX && c->max_half_open <= c->max_links &&
           c->max_sessions <= CORDON_LINK_SESSIONS_MAX && c->idle_timeout_ms > 0 &&
           c->handshake_timeout_ms > 0 && c->handshake_rate > 0 && c->handshake_burst >= 1;
}

cordon_err cordon_links_new(const struct cordon_link_config *config,
                            const struct cordon_link_identity *identity,
                            const struct cordon_link_host *host, cordon_links **out)
{
    struct cordon_links *t = NULL;
    cordon_err err = CORDON_ERR_NOMEM;
    uint64_t seed;

    if (out == NULL)
        return CORDON_ERR_INVAL;
    *out = NULL;
    /* OpenSSL (3.0 to 3.5 at least) negotiates no cipher suite for an Ed25519 certificate
     * under DTLS 1.2 (openssl/openssl#20122): links need P-256 node keys. */
    if (identity != NULL && identity->key != NULL &&
        cordon_key_type_of(identity->key) != CORDON_KEY_P256)
        return CORDON_ERR_KEY_TYPE;
    if (config == NULL || identity == NULL || host == NULL || !config_ok(config) ||
        identity->key == NULL || identity->cert == NULL || identity->ca == NULL ||
        !overlay_name_ok(identity->overlay) || host->send_datagram == NULL ||
        host->deliver == NULL || host->wall_time == NULL)
        return CORDON_ERR_INVAL;
    ERR_clear_error();
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return CORDON_ERR_NOMEM;
    t->cfg = *config;
    t->host = *host;
    t->ca = identity->ca;
    t->crl = identity->crl;
    memcpy(t->overlay, identity->overlay, sizeof(t->overlay));
    t->listen_link.table = t;
    t->listen_link.state = LINK_HANDSHAKE;
    for (t->nbuckets = 16; t->nbuckets < t->cfg.max_links; t->nbuckets *= 2)
        ;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    if (t->buckets == NULL)
        goto fail;
    err = cordon_random(t->cookie_secret, sizeof(t->cookie_secret));
    if (err == CORDON_OK)
        err = cordon_random(&t->hash_seed, sizeof(t->hash_seed));
    if (err == CORDON_OK)
        err = cordon_random(&seed, sizeof(seed));
    if (err == CORDON_OK)
        err = cordon_ratelimit_new(t->cfg.handshake_rate, t->cfg.handshake_burst,
                                   CORDON_LINK_RATE_SOURCES, seed, &t->rate);
    if (err != CORDON_OK)
        goto fail;
    err = CORDON_ERR_CRYPTO;
    t->wmeth = BIO_meth_new(LINK_BIO_TYPE, "cordon-link");
    t->listen_peer = BIO_ADDR_new();
    if (t->wmeth == NULL || t->listen_peer == NULL ||
        BIO_meth_set_write(t->wmeth, wbio_write) != 1 ||
        BIO_meth_set_ctrl(t->wmeth, wbio_ctrl) != 1 ||
        BIO_meth_set_create(t->wmeth, wbio_create) != 1)
        goto fail;
    err = ctx_setup(t, identity);
    if (err != CORDON_OK)
        goto fail;
    err = CORDON_ERR_NOMEM;
    if (!listener_make(t))
        goto fail;
    ERR_clear_error();
    *out = t;
    return CORDON_OK;
fail:
    cordon_links_free(t);
    ERR_clear_error();
    return err;
}

void cordon_links_free(cordon_links *t)
{
    if (t == NULL)
        return;
    for (struct link *l = t->lru_head, *next; l != NULL; l = next) {
        next = l->next;
        if (l->state == LINK_UP) {
            SSL_set_quiet_shutdown(l->ssl, 1);
            (void)SSL_shutdown(l->ssl);
        }
        link_free(l);
    }
    while (t->graveyard != NULL) {
        struct link *l = t->graveyard;
        t->graveyard = l->gnext;
        link_free(l);
    }
    session_forget_all(t);
    free(t->sessions);
    free(t->arena); /* wiped by session_forget_all */
    free(t->memo);
    SSL_free(t->listener);
    SSL_CTX_free(t->ctx);
    BIO_meth_free(t->wmeth);
    BIO_ADDR_free(t->listen_peer);
    cordon_ratelimit_free(t->rate);
    free(t->buckets);
    cordon_wipe(t->cookie_secret, sizeof(t->cookie_secret));
    free(t);
    ERR_clear_error();
}

/* ---- link events ------------------------------------------------------------------------- */

static void count_refusal(struct cordon_links *t, const struct link *l)
{
    switch (l->verify_err) {
    case CORDON_OK:
        break;
    case CORDON_ERR_CERT_UNTRUSTED:
        t->c.refused_untrusted++;
        break;
    case CORDON_ERR_CERT_EXPIRED:
        t->c.refused_expired++;
        break;
    case CORDON_ERR_CERT_NOT_YET_VALID:
        t->c.refused_not_yet++;
        break;
    case CORDON_ERR_CERT_REVOKED:
        t->c.refused_revoked++;
        break;
    case CORDON_ERR_CERT_NODE_ID:
        if (l->wrong_node)
            t->c.refused_wrong_node++;
        else
            t->c.refused_node_id++;
        break;
    default:
        t->c.refused_other++;
        break;
    }
}

/* A handshake that will not complete: count, tell the host if it was waiting, drop. */
static void link_fail(struct cordon_links *t, struct link *l, cordon_err reason)
{
    if (l->state == LINK_DEAD)
        return;
    t->c.handshakes_failed++;
    if (l->verify_err != CORDON_OK) {
        count_refusal(t, l);
        reason = l->verify_err;
    } else if (ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        t->c.refused_no_cert++;
    }
    cordon_log(CORDON_LOG_DEBUG, "link.handshake_failed", "reason=%s", cordon_errname(reason));
    /* A stored session that led here is no good any more. */
    session_forget(t, &l->addr, l->addrlen);
    link_kill(t, l, false);
    if (l->initiated && t->host.link_failed != NULL)
        t->host.link_failed(t->host.ctx, (const struct sockaddr *)&l->addr, l->addrlen,
                            l->has_expected ? l->expected : NULL, reason);
}

static void link_write(struct cordon_links *t, struct link *l, const uint8_t *data, size_t len)
{
    if (!link_buffers(t, l)) {
        link_kill(t, l, false);
        return;
    }
    int r = SSL_write(l->ssl, data, (int)len);
    if (r == (int)len) {
        t->c.records_out++;
        link_touch(t, l);
        return;
    }
    /* Memory BIOs never block, so any other outcome is fatal for the link. */
    link_kill(t, l, false);
}

/* The handshake finished: make sure of the peer, then flush what waited. */
static void link_established(struct cordon_links *t, struct link *l)
{
    bool resumed = SSL_session_reused(l->ssl) == 1;
    cordon_reader r;

    if (resumed) {
        /* No certificate crossed the wire: check the one in the session against the CRL
         * and time of now, as a full handshake would have. */
        struct peer_cert pc;
        cordon_err err = verify_x509(t, SSL_get0_peer_certificate(l->ssl), &pc);
        if (err == CORDON_OK && l->has_expected && memcmp(pc.id, l->expected, sizeof(pc.id)) != 0) {
            err = CORDON_ERR_CERT_NODE_ID;
            l->wrong_node = true;
        }
        if (err != CORDON_OK) {
            l->verify_err = err;
            link_fail(t, l, err);
            return;
        }
        link_prove(l, &pc);
    }
    if (!l->verified) {
        /* Cannot happen with SSL_VERIFY_FAIL_IF_NO_PEER_CERT; refuse all the same. */
        l->verify_err = CORDON_ERR_CERT_UNTRUSTED;
        link_fail(t, l, CORDON_ERR_CERT_UNTRUSTED);
        return;
    }
    bool out = SSL_is_server(l->ssl) == 0;
    if (resumed) {
        t->c.handshakes_resumed++;
        t->c.handshakes_resumed_out += out;
    } else {
        t->c.handshakes_full++;
        t->c.handshakes_full_out += out;
        t->c.handshakes_full_offered += out && l->offered;
    }
    l->state = LINK_UP;
    l->expire_ms = expiry_ms(t, l->peer_not_after);
    t->due_valid = false;
    t->half_open--;
    link_touch(t, l);
    if (!SSL_is_server(l->ssl))
        session_store(t, l);
    if (t->host.link_up != NULL)
        t->host.link_up(t->host.ctx, l->peer_id, (const struct sockaddr *)&l->addr, l->addrlen);
    cordon_reader_init(&r, l->pending.data, l->pending.len);
    while (l->state == LINK_UP && cordon_reader_left(&r) > 0) {
        uint16_t n;
        const uint8_t *p;
        if (cordon_read_u16(&r, &n) != CORDON_OK || cordon_read_view(&r, n, &p) != CORDON_OK)
            break;
        link_write(t, l, p, n);
    }
    cordon_buf_free(&l->pending);
}

/* Runs the handshake and reads records after a datagram went into the link's BIO. */
static void link_drive(struct cordon_links *t, struct link *l)
{
    uint8_t buf[CORDON_LINK_DATAGRAM_MAX];

    if (l->state == LINK_HANDSHAKE) {
        t->due_valid = false; /* its retransmission timer moves */
        int r = SSL_do_handshake(l->ssl);
        if (r != 1) {
            int e = SSL_get_error(l->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                link_fail(t, l, CORDON_ERR_PROTOCOL);
            return;
        }
        link_established(t, l);
    }
    if (l->state == LINK_UP && !link_buffers(t, l)) {
        link_kill(t, l, false);
        return;
    }
    for (int i = 0; i < CORDON_LINK_RECORDS_PER_INPUT && l->state == LINK_UP; i++) {
        int n = SSL_read(l->ssl, buf, (int)sizeof(buf));
        if (n > 0) {
            t->c.records_in++;
            link_touch(t, l);
            t->host.deliver(t->host.ctx, l->peer_id, (const struct sockaddr *)&l->addr, l->addrlen,
                            buf, (size_t)n);
            continue;
        }
        int e = SSL_get_error(l->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        /* close_notify answers with ours (so the session stays resumable); anything else
         * fatal drops the link. */
        link_kill(t, l, e == SSL_ERROR_ZERO_RETURN);
        break;
    }
}

static struct link *link_alloc(struct cordon_links *t, const struct sockaddr_storage *a,
                               socklen_t alen)
{
    struct link *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->table = t;
    l->addr = *a;
    l->addrlen = alen;
    l->state = LINK_HANDSHAKE;
    l->created_ms = t->now_ms;
    l->last_ms = t->now_ms;
    cordon_buf_init(&l->pending, CORDON_LINK_PENDING_MAX, false);
    return l;
}

static void link_insert(struct cordon_links *t, struct link *l)
{
    t->due_valid = false;
    size_t h = addr_hash(t, &l->addr, l->addrlen);
    l->hnext = t->buckets[h];
    t->buckets[h] = l;
    lru_append(t, l);
    t->count++;
    t->half_open++;
    t->c.links_opened++;
}

/* Room for one more link: closes the least recently used established link if needed. */
static bool make_room(struct cordon_links *t)
{
    if (t->count < t->cfg.max_links)
        return true;
    for (struct link *l = t->lru_head; l != NULL; l = l->next) {
        if (l->state == LINK_UP) {
            t->c.links_evicted++;
            link_kill(t, l, true);
            return true;
        }
    }
    return false;
}

/* ---- input ---------------------------------------------------------------------------------- */

/* true when data starts with a whole, unfragmented epoch-0 ClientHello record; its
 * random goes to random_out. Nothing else from an unknown address deserves a look. */
static bool is_client_hello(const uint8_t *data, size_t len, uint8_t random_out[DTLS_RANDOM_LEN])
{
    cordon_reader r, rec;
    uint8_t type, msg_type, seq[6], mlen[3], foff[3], flen[3];
    uint16_t version, epoch, msg_seq, hello_version;

    cordon_reader_init(&r, data, len);
    if (cordon_read_u8(&r, &type) != CORDON_OK || type != DTLS_CT_HANDSHAKE ||
        cordon_read_u16(&r, &version) != CORDON_OK || (version != 0xfefd && version != 0xfeff) ||
        cordon_read_u16(&r, &epoch) != CORDON_OK || epoch != 0 ||
        cordon_read_bytes(&r, seq, sizeof(seq)) != CORDON_OK ||
        cordon_read_sub(&r, 2, CORDON_LINK_DATAGRAM_MAX, &rec) != CORDON_OK)
        return false;
    if (cordon_read_u8(&rec, &msg_type) != CORDON_OK || msg_type != DTLS_HS_CLIENT_HELLO ||
        cordon_read_bytes(&rec, mlen, 3) != CORDON_OK ||
        cordon_read_u16(&rec, &msg_seq) != CORDON_OK ||
        cordon_read_bytes(&rec, foff, 3) != CORDON_OK ||
        cordon_read_bytes(&rec, flen, 3) != CORDON_OK)
        return false;
    (void)msg_seq;
    if (foff[0] != 0 || foff[1] != 0 || foff[2] != 0 || memcmp(mlen, flen, 3) != 0)
        return false;
    size_t body = ((size_t)flen[0] << 16) | ((size_t)flen[1] << 8) | flen[2];
    if (body != cordon_reader_left(&rec) || cordon_read_u16(&rec, &hello_version) != CORDON_OK ||
        cordon_read_bytes(&rec, random_out, DTLS_RANDOM_LEN) != CORDON_OK)
        return false;
    return true;
}

/* A ClientHello that may lead to a new link at addr (existing: the link it would replace).
 * Stateless until the cookie checks out. */
static void listen_input(struct cordon_links *t, const struct sockaddr_storage *a, socklen_t alen,
                         const uint8_t *data, size_t len, struct link *existing)
{
    uint64_t cookies_before = t->c.cookies_sent;
    uint8_t key[17];
    size_t klen;
    struct link *l;
    BIO *rb;
    int r;

    if (t->half_open >= t->cfg.max_half_open &&
        (existing == NULL || existing->state != LINK_HANDSHAKE)) {
        t->c.dropped_half_open++;
        return;
    }
    if (t->listener == NULL && !listener_make(t))
        return;
    t->listen_link.addr = *a;
    t->listen_link.addrlen = alen;
    rb = SSL_get_rbio(t->listener);
    (void)BIO_reset(rb);
    if (BIO_write(rb, data, (int)len) != (int)len)
        return;
    r = DTLSv1_listen(t->listener, t->listen_peer);
    (void)BIO_reset(rb);
    if (r <= 0) {
        if (t->c.cookies_sent == cookies_before)
            t->c.dropped_garbage++;
        ERR_clear_error();
        /* Stateless between ClientHellos: its 18 KB of record buffers go back until the
         * next one, which sets them up again (DTLSv1_listen does, as on a new SSL). */
        (void)SSL_free_buffers(t->listener);
        return;
    }
    t->c.cookies_verified++;
    /* The address is proven: now its handshake budget counts. */
    klen = addr_ip_key(a, key);
    if (!cordon_ratelimit_take(t->rate, key, klen, t->now_ms)) {
        t->c.dropped_rate++;
        (void)SSL_clear(t->listener);
        return;
    }
    if (existing != NULL && existing->state == LINK_HANDSHAKE) {
        /* Simultaneous open and we yield: our client SSL goes, the link (its queue, its
         * expected node) stays and continues as the server side. */
        SSL_free(existing->ssl);
        existing->ssl = t->listener;
        t->listener = NULL;
        ssl_rebind(existing->ssl, existing);
        existing->created_ms = t->now_ms;
        l = existing;
    } else {
        if (existing != NULL)
            link_kill(t, existing, false); /* the peer started over */
        if (!make_room(t)) {
            t->c.dropped_full++;
            (void)SSL_clear(t->listener);
            return;
        }
        l = link_alloc(t, a, alen);
        if (l == NULL) {
            (void)SSL_clear(t->listener);
            return;
        }
        l->ssl = t->listener;
        t->listener = NULL;
        ssl_rebind(l->ssl, l);
        link_insert(t, l);
    }
    (void)listener_make(t); /* if this fails, the next ClientHello tries again */
    link_drive(t, l);
}

void cordon_links_input(cordon_links *t, uint64_t now_ms, const struct sockaddr *from,
                        socklen_t fromlen, const uint8_t *data, size_t len)
{
    struct sockaddr_storage a;
    socklen_t alen;
    uint8_t random[DTLS_RANDOM_LEN];
    struct link *l;

    if (t == NULL)
        return;
    enter(t, now_ms);
    if (!addr_norm(from, fromlen, &a, &alen) || data == NULL || len == 0) {
        t->c.dropped_garbage++;
        goto out;
    }
    if (len > CORDON_LINK_DATAGRAM_MAX) {
        t->c.dropped_oversize++;
        goto out;
    }
    l = link_find(t, &a, alen);
    if (l == NULL) {
        if (is_client_hello(data, len, random))
            listen_input(t, &a, alen, data, len, NULL);
        else
            t->c.dropped_garbage++;
        goto out;
    }
    if (is_client_hello(data, len, random)) {
        uint8_t ours[DTLS_RANDOM_LEN];
        if (l->state == LINK_UP) {
            /* The same handshake's ClientHello late, or the peer starting over (it lost
             * the link). SSL_get_client_random() is the hello that made this link. */
            if (SSL_get_client_random(l->ssl, ours, sizeof(ours)) == sizeof(ours) &&
                memcmp(ours, random, sizeof(ours)) == 0)
                goto out;
            listen_input(t, &a, alen, data, len, l);
            goto out;
        }
        if (!SSL_is_server(l->ssl)) {
            /* Both sides opened at once. The lower ClientHello random yields and serves;
             * the other ignores the peer's hello and waits for its own answer. */
            if (SSL_get_client_random(l->ssl, ours, sizeof(ours)) == sizeof(ours) &&
                memcmp(ours, random, sizeof(ours)) < 0)
                listen_input(t, &a, alen, data, len, l);
            goto out;
        }
    }
    {
        BIO *rb = SSL_get_rbio(l->ssl);
        (void)BIO_reset(rb); /* one datagram at a time */
        if (BIO_write(rb, data, (int)len) != (int)len)
            goto out;
        link_drive(t, l);
    }
out:
    leave(t);
}

/* ---- sending -------------------------------------------------------------------------------- */

static cordon_err link_new_client(struct cordon_links *t, const struct sockaddr_storage *a,
                                  socklen_t alen, struct link **out)
{
    struct session *s;
    struct link *l;

    if (t->half_open >= t->cfg.max_half_open) {
        t->c.dropped_half_open++;
        return CORDON_ERR_BUSY;
    }
    if (!make_room(t)) {
        t->c.dropped_full++;
        return CORDON_ERR_BUSY;
    }
    l = link_alloc(t, a, alen);
    if (l == NULL)
        return CORDON_ERR_NOMEM;
    l->ssl = ssl_new(t, l);
    if (l->ssl == NULL) {
        link_free(l);
        return CORDON_ERR_CRYPTO;
    }
    SSL_set_connect_state(l->ssl);
    s = session_find(t, a, alen);
    if (s != NULL && t->host.wall_time(t->host.ctx) >= s->peer_not_after) {
        /* Its server certificate has expired: resuming could only fail. A full handshake
         * fetches the one the server holds now (renewed, perhaps). */
        session_forget(t, a, alen);
        s = NULL;
    }
    if (s != NULL) {
        s->used_ms = t->now_ms;
        const uint8_t *p = t->arena + s->der_off;
        SSL_SESSION *sess = d2i_SSL_SESSION(NULL, &p, (long)s->der_len);
        if (sess == NULL || SSL_set_session(l->ssl, sess) != 1)
            session_forget(t, a, alen);
        else
            l->offered = true;
        SSL_SESSION_free(sess); /* the SSL holds its own reference */
    }
    link_insert(t, l);
    *out = l;
    return CORDON_OK;
}

static cordon_err link_queue(struct cordon_links *t, struct link *l, const uint8_t *data,
                             size_t len)
{
    uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    if (l->pending.len + sizeof(hdr) + len > CORDON_LINK_PENDING_MAX) {
        t->c.dropped_queue++;
        return CORDON_ERR_BUSY;
    }
    if (cordon_buf_append(&l->pending, hdr, sizeof(hdr)) != CORDON_OK ||
        cordon_buf_append(&l->pending, data, len) != CORDON_OK) {
        cordon_buf_reset(&l->pending);
        return CORDON_ERR_NOMEM;
    }
    l->initiated = true;
    return CORDON_OK;
}

cordon_err cordon_links_send(cordon_links *t, uint64_t now_ms, const struct sockaddr *to,
                             socklen_t tolen, const uint8_t *expected, const uint8_t *data,
                             size_t len)
{
    struct sockaddr_storage a;
    socklen_t alen;
    struct link *l;
    cordon_err err = CORDON_OK;

    if (t == NULL || data == NULL || len == 0) /* an empty record would read as a failure */
        return CORDON_ERR_INVAL;
    if (len > CORDON_LINK_PLAINTEXT_MAX)
        return CORDON_ERR_TOO_LARGE;
    if (!addr_norm(to, tolen, &a, &alen))
        return CORDON_ERR_INVAL;
    enter(t, now_ms);
    l = link_find(t, &a, alen);
    if (l != NULL && expected != NULL) {
        if ((l->verified && memcmp(l->peer_id, expected, CORDON_NODE_ID_LEN) != 0) ||
            (l->has_expected && memcmp(l->expected, expected, CORDON_NODE_ID_LEN) != 0)) {
            err = CORDON_ERR_CERT_NODE_ID;
            goto out;
        }
        if (l->state == LINK_HANDSHAKE && !l->has_expected) {
            memcpy(l->expected, expected, CORDON_NODE_ID_LEN);
            l->has_expected = true;
        }
    }
    if (l != NULL && l->state == LINK_UP) {
        link_write(t, l, data, len);
        if (l->state != LINK_UP)
            err = CORDON_ERR_CRYPTO;
        goto out;
    }
    if (l != NULL) {
        err = link_queue(t, l, data, len);
        goto out;
    }
    err = link_new_client(t, &a, alen, &l);
    if (err != CORDON_OK)
        goto out;
    if (expected != NULL) {
        memcpy(l->expected, expected, CORDON_NODE_ID_LEN);
        l->has_expected = true;
    }
    err = link_queue(t, l, data, len);
    if (err != CORDON_OK) {
        link_kill(t, l, false);
        goto out;
    }
    link_drive(t, l); /* sends the ClientHello */
out:
    leave(t);
    return err;
}

cordon_err cordon_links_close(cordon_links *t, uint64_t now_ms, const struct sockaddr *to,
                              socklen_t tolen)
{
    struct sockaddr_storage a;
    socklen_t alen;
    struct link *l;

    if (t == NULL || !addr_norm(to, tolen, &a, &alen))
        return CORDON_ERR_INVAL;
    enter(t, now_ms);
    l = link_find(t, &a, alen);
    if (l != NULL)
        link_kill(t, l, true);
    leave(t);
    return l != NULL ? CORDON_OK : CORDON_ERR_NOT_FOUND;
}

/* ---- timers ------------------------------------------------------------------------------------
 */

void cordon_links_tick(cordon_links *t, uint64_t now_ms)
{
    size_t budget;

    if (t == NULL)
        return;
    if (t->due_valid && now_ms < t->due_ms)
        return;
    enter(t, now_ms);
    t->due_valid = false;
    /* Callbacks may close or open links meanwhile: a dead link keeps its next pointer, and
     * the budget bounds the walk whatever they do. */
    budget = 2 * t->cfg.max_links + 16;
    for (struct link *l = t->lru_head, *next; l != NULL && budget > 0; l = next, budget--) {
        next = l->next;
        if (l->state == LINK_HANDSHAKE) {
            if (now_ms - l->created_ms >= t->cfg.handshake_timeout_ms) {
                t->c.handshakes_timeout++;
                link_fail(t, l, CORDON_ERR_NETWORK);
            } else if (DTLSv1_handle_timeout(l->ssl) < 0) {
                link_fail(t, l, CORDON_ERR_NETWORK);
            }
        } else if (l->state == LINK_UP) {
            if (now_ms - l->last_ms >= link_idle_ms(t, l)) {
                t->c.links_idle++;
                link_kill(t, l, true);
            } else if (now_ms >= l->expire_ms && link_expired(t, l)) {
                t->c.links_expired++;
                session_forget(t, &l->addr, l->addrlen);
                link_kill(t, l, true);
            } else if (now_ms - l->last_ms >= CORDON_LINK_QUIET_MS) {
                link_quiet(t, l);
            } else if (link_buffers(t, l)) {
                (void)DTLSv1_handle_timeout(l->ssl);
            }
        }
    }
    leave(t);
}

uint64_t cordon_links_next_deadline(cordon_links *t, uint64_t now_ms)
{
    uint64_t best = UINT64_MAX;

    if (t == NULL)
        return best;
    if (t->due_valid)
        return t->due_ms;
    for (const struct link *l = t->lru_head; l != NULL; l = l->next) {
        uint64_t d;
        if (l->state == LINK_HANDSHAKE) {
            struct timeval tv;
            d = l->created_ms + t->cfg.handshake_timeout_ms;
            if (DTLSv1_get_timeout(l->ssl, &tv) == 1) {
                uint64_t in = (uint64_t)tv.tv_sec * 1000 + ((uint64_t)tv.tv_usec + 999) / 1000;
                if (now_ms + in < d)
                    d = now_ms + in;
            }
        } else {
            d = l->last_ms + (l->quiet ? link_idle_ms(t, l) : CORDON_LINK_QUIET_MS);
            if (l->expire_ms < d)
                d = l->expire_ms;
        }
        if (d < best)
            best = d;
    }
    t->due_ms = best;
    t->due_valid = true;
    return best;
}

void cordon_links_set_crl(cordon_links *t, uint64_t now_ms, const cordon_crl *crl)
{
    size_t budget;

    if (t == NULL)
        return;
    enter(t, now_ms);
    t->crl = crl;
    t->window_of = NULL; /* a new CRL may sit where a freed one was */
    t->due_valid = false;
    budget = 2 * t->cfg.max_links + 16;
    for (struct link *l = t->lru_head, *next; l != NULL && budget > 0; l = next, budget--) {
        struct peer_cert pc;
        next = l->next;
        if (l->state != LINK_UP)
            continue;
        cordon_err err = verify_x509(t, SSL_get0_peer_certificate(l->ssl), &pc);
        if (err != CORDON_OK) {
            /* Expiry found on the way is counted as such, not as a revocation. */
            if (err == CORDON_ERR_CERT_EXPIRED)
                t->c.links_expired++;
            else
                t->c.links_revoked++;
            session_forget(t, &l->addr, l->addrlen);
            link_kill(t, l, true);
        }
    }
    leave(t);
}

cordon_err cordon_links_set_cert(cordon_links *t, uint64_t now_ms, const cordon_cert *cert)
{
    cordon_buf der;
    X509 *x = NULL;
    const unsigned char *p;
    cordon_err err;

    if (t == NULL || cert == NULL)
        return CORDON_ERR_INVAL;
    enter(t, now_ms);
    cordon_buf_init(&der, CORDON_CERT_MAX, false);
    err = cordon_cert_der(cert, &der);
    if (err != CORDON_OK)
        goto out;
    p = der.data;
    x = d2i_X509(NULL, &p, (long)der.len);
    err = CORDON_ERR_CRYPTO;
    if (x == NULL)
        goto out;
    /* Checked first: OpenSSL would drop the table's key to keep a certificate it does not
     * match, and the table would serve no handshake at all. */
    if (X509_check_private_key(x, SSL_CTX_get0_privatekey(t->ctx)) != 1) {
        err = CORDON_ERR_KEY_TYPE;
        goto out;
    }
    if (SSL_CTX_use_certificate(t->ctx, x) != 1)
        goto out;
    /* SSL objects copy the certificate when they are made: the listener (which becomes the
     * next server-side link) is made again, client links made from now on get it. */
    SSL_free(t->listener);
    t->listener = NULL;
    (void)listener_make(t); /* if this fails, the next ClientHello tries again */
    /* Stored sessions would resume without sending a certificate, and the servers keep the
     * old one in their tickets: the next handshake with each shows the new one. */
    session_forget_all(t);
    err = CORDON_OK;
out:
    X509_free(x);
    cordon_buf_free(&der);
    leave(t);
    return err;
}

/* ---- queries ------------------------------------------------------------------------------------
 */

size_t cordon_links_count(const cordon_links *t)
{
    return t == NULL ? 0 : t->count;
}

size_t cordon_links_half_open(const cordon_links *t)
{
    return t == NULL ? 0 : t->half_open;
}

size_t cordon_links_sessions(const cordon_links *t)
{
    return t == NULL ? 0 : t->nsessions;
}

bool cordon_links_peer(const cordon_links *t, const struct sockaddr *addr, socklen_t addrlen,
                       uint8_t node_id[CORDON_NODE_ID_LEN])
{
    struct sockaddr_storage a;
    socklen_t alen;
    const struct link *l;

    if (t == NULL || !addr_norm(addr, addrlen, &a, &alen))
        return false;
    l = link_find(t, &a, alen);
    if (l == NULL || l->state != LINK_UP)
        return false;
    if (node_id != NULL)
        memcpy(node_id, l->peer_id, CORDON_NODE_ID_LEN);
    return true;
}

bool cordon_links_peer_cert(const cordon_links *t, const struct sockaddr *addr, socklen_t addrlen,
                            struct cordon_link_peer_cert *out)
{
    struct sockaddr_storage a;
    socklen_t alen;
    const struct link *l;

    if (t == NULL || out == NULL || !addr_norm(addr, addrlen, &a, &alen))
        return false;
    l = link_find(t, &a, alen);
    if (l == NULL || l->state != LINK_UP)
        return false;
    memcpy(out->node_id, l->peer_id, sizeof(out->node_id));
    memcpy(out->serial, l->peer_serial, sizeof(out->serial));
    out->not_after = l->peer_not_after;
    return true;
}

const struct cordon_link_counters *cordon_links_counters(const cordon_links *t)
{
    return t == NULL ? NULL : &t->c;
}
