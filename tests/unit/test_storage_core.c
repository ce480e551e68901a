/*
 * tests/unit/test_storage_core.c — the storage protocol of the overlay core (puts and gets
 * over r replicas, serving STORE and FETCH: peer/core/storage.c), driven as its hosts drive
 * it, with a real store behind every core: one cordon_store (LMDB) per node in a mkdtemp
 * directory under /tmp, removed afterwards, a test CA, and objects signed with
 * cordon_object_sign() by node certificates (Ed25519) of that CA.
 *
 * Two hosts, as in test_core.c:
 *   - a capture host for one core: the test reads what it sends and writes its answers by
 *     hand (serving, dispatch, how answers are judged and counted, the limits);
 *   - a fake network of cores with a manual clock and a FIFO of packets with a fixed
 *     latency; nodes can be mute, and their storage can lie: acknowledge stores and keep
 *     nothing, or serve tampered objects.
 * Every callback asserts it runs exactly once; counters are asserted exactly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "crypto/crypto.h"
#include "crypto/object.h"
#include "peer/core/core.h"
#include "peer/core/id.h"
#include "peer/core/internal.h"
#include "store/store.h"
#include "wire/msg.h"
#include "wire/object.h"

#include "support/check.h"
#include "support/writer.h"

#define OVERLAY "test"
#define T0 UINT64_C(1767225600) /* 2026-01-01T00:00:00Z: the network's time 0 */
#define DAY UINT64_C(86400)
#define LIFE 3600u

/* ---- randomness ---------------------------------------------------------------------- */

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

static void fill_xorshift(uint64_t *s, void *out, size_t n)
{
    uint8_t *p = out;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(xorshift(s) >> 32);
}

/* ---- the CA, writers and objects ---------------------------------------------------------- */

static char base[64];
static int dir_seq;
static cordon_key *ca_key;
static cordon_cert *ca_cert;
static cordon_object_verifier *verifier; /* shared by every node's store: one thread */

static void writer_make(struct writer *w, const uint8_t id[CORDON_NODE_ID_LEN])
{
    static uint32_t serial;
    uint8_t sn[CORDON_SERIAL_LEN] = {0};
    serial++;
    sn[0] = 0x22;
    memcpy(&sn[CORDON_SERIAL_LEN - sizeof(serial)], &serial, sizeof(serial));
    must(writer_issue(w, OVERLAY, id, sn, (int64_t)(T0 - DAY), (int64_t)(T0 + 7 * DAY), ca_key,
                      ca_cert));
}

typedef struct obj {
    uint8_t *b;
    size_t len;
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    uint64_t seq;
} obj;

static void obj_free(obj *x)
{
    if (x != NULL)
        free(x->b);
    free(x);
}

static obj *obj_of(const uint8_t *b, size_t len)
{
    struct cordon_object o;
    obj *x = calloc(1, sizeof(*x));
    assert_non_null(x);
    x->b = malloc(len);
    assert_non_null(x->b);
    memcpy(x->b, b, len);
    x->len = len;
    must(cordon_object_decode(x->b, x->len, &o));
    cordon_object_entry_key(&o, x->key);
    x->seq = o.seq;
    return x;
}

/* An object of w's: kind, name, seq, created_at (network seconds), value. */
static obj *mk_full(const struct writer *w, uint8_t kind, uint8_t flags, const char *name,
                    uint64_t seq, uint64_t created, const void *value, size_t value_len)
{
    struct cordon_object o;
    uint8_t *buf = malloc(CORDON_OBJECT_MAX);
    size_t len;
    assert_non_null(buf);
    memset(&o, 0, sizeof(o));
    o.kind = kind;
    o.flags = flags;
    snprintf(o.overlay, sizeof(o.overlay), "%s", OVERLAY);
    o.name = (const uint8_t *)name;
    o.name_len = strlen(name);
    memcpy(o.writer, w->id, CORDON_NODE_ID_LEN);
    o.seq = seq;
    o.created_at = created;
    o.lifetime = LIFE;
    o.value = value;
    o.value_len = value_len;
    o.cert = w->der.data;
    o.cert_len = w->der.len;
    must(cordon_object_sign(w->key, &o, buf, CORDON_OBJECT_MAX, &len));
    obj *x = obj_of(buf, len);
    free(buf);
    return x;
}

static obj *mk(const struct writer *w, uint8_t kind, const char *name, uint64_t seq,
               const char *value)
{
    return mk_full(w, kind, 0, name, seq, T0, value, strlen(value));
}

/* B's valid signature over an owned object at A's resource ID (the policy must refuse it). */
static obj *mk_squat(const struct writer *b, const struct writer *a, const char *name, uint64_t seq)
{
    static const char ctx[] = CORDON_OBJECT_SIG_CONTEXT; /* and its NUL */
    struct cordon_object o;
    uint8_t *msg = malloc(sizeof(ctx) + CORDON_OBJECT_MAX), *buf = malloc(CORDON_OBJECT_MAX);
    uint8_t sig[CORDON_SIG_MAX];
    size_t tbs_len, sig_len, len;
    assert_non_null(msg);
    assert_non_null(buf);
    memset(&o, 0, sizeof(o));
    o.kind = CORDON_KIND_OWNED;
    snprintf(o.overlay, sizeof(o.overlay), "%s", OVERLAY);
    o.name = (const uint8_t *)name;
    o.name_len = strlen(name);
    memcpy(o.writer, b->id, CORDON_NODE_ID_LEN);
    cordon_object_resource_id(CORDON_KIND_OWNED, OVERLAY, a->id, o.name, o.name_len, o.resource);
    o.seq = seq;
    o.created_at = T0;
    o.lifetime = LIFE;
    o.value = (const uint8_t *)"squat";
    o.value_len = 5;
    o.cert = b->der.data;
    o.cert_len = b->der.len;
    memcpy(msg, ctx, sizeof(ctx));
    must(cordon_object_encode_tbs(&o, msg + sizeof(ctx), CORDON_OBJECT_MAX, &tbs_len));
    must(cordon_sign(b->key, msg, sizeof(ctx) + tbs_len, sig, &sig_len));
    o.sig = sig;
    o.sig_len = sig_len;
    must(cordon_object_encode(&o, buf, CORDON_OBJECT_MAX, &len));
    obj *x = obj_of(buf, len);
    free(msg);
    free(buf);
    return x;
}

/* Flips one byte of the value (or of the signature when there is none) in place: the
 * object still decodes, its signature no longer verifies. */
static void tamper(uint8_t *b, size_t len)
{
    struct cordon_object o;
    must(cordon_object_decode(b, len, &o));
    if (o.value_len > 0)
        b[o.value - b] ^= 0x01;
    else
        b[o.sig - b + o.sig_len - 1] ^= 0x01;
}

static obj *tampered(const obj *x)
{
    obj *y = obj_of(x->b, x->len);
    tamper(y->b, y->len);
    return y;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(base, sizeof(base), "/tmp/cordon-test-storage-core-XXXXXX");
    if (mkdtemp(base) == NULL)
        return -1;
    if (cordon_key_generate(CORDON_KEY_P256, &ca_key) != CORDON_OK ||
        cordon_ca_create(ca_key, OVERLAY, (int64_t)(T0 - DAY), (int64_t)(T0 + 3650 * DAY),
                         &ca_cert) != CORDON_OK ||
        cordon_object_verifier_new(ca_cert, OVERLAY, CORDON_OBJECT_CERT_CACHE, &verifier) !=
            CORDON_OK)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cordon_object_verifier_free(verifier);
    cordon_cert_free(ca_cert);
    cordon_key_free(ca_key);
    (void)rmdir(base);
    return 0;
}

/* ---- a storage backend: a real store, that may lie --------------------------------------- */

enum mode {
    HONEST = 0,
    ACK_AND_DROP, /* answers every STORE "accepted" and keeps nothing */
    FORGE,        /* serves its objects tampered */
    FORGETFUL,    /* held says 0 for everything: it wants whatever a SUMMARY names */
};

struct backend {
    char dir[128];
    cordon_store *store;
    uint8_t mode;
    bool maintain;                             /* offers scan and held: replica maintenance */
    uint64_t puts, gets, checks, scans, helds; /* calls made by the core */
};

static void backend_open(struct backend *be, const struct cordon_store_config *tmpl)
{
    struct cordon_store_config cfg;
    memset(be, 0, sizeof(*be));
    snprintf(be->dir, sizeof(be->dir), "%s/s%d", base, dir_seq++);
    if (tmpl != NULL)
        cfg = *tmpl;
    else
        memset(&cfg, 0, sizeof(cfg));
    cfg.path = be->dir;
    if (cfg.map_size == 0)
        cfg.map_size = 8u * 1024 * 1024; /* 64 environments in one process */
    if (cfg.node_bytes == 0)
        cfg.node_bytes = 4u * 1024 * 1024;
    if (cfg.writer_bytes == 0)
        cfg.writer_bytes = 1024u * 1024;
    must(cordon_store_open(&cfg, &be->store));
}

static void backend_close(struct backend *be)
{
    if (be->store == NULL)
        return;
    must(cordon_store_audit(be->store));
    cordon_store_close(be->store);
    be->store = NULL;
    store_dir_remove(be->dir);
}

static uint64_t unix_now(uint64_t now_ms)
{
    return T0 + now_ms / 1000;
}

/* The seq the store holds for key (0: none). */
static uint64_t stored_seq(cordon_store *st, const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                           uint64_t now_ms)
{
    struct cordon_object o;
    cordon_buf b;
    uint64_t seq = 0;
    cordon_buf_init(&b, CORDON_OBJECT_MAX, false);
    if (cordon_store_get(st, key, unix_now(now_ms), &b) == CORDON_OK &&
        cordon_object_decode(b.data, b.len, &o) == CORDON_OK)
        seq = o.seq;
    cordon_buf_free(&b);
    return seq;
}

/* What the runtime will do: cordon_store_put, and on a refusal the seq it holds. */
static cordon_err backend_put(void *ctx, uint64_t now_ms, const uint8_t *b, size_t len,
                              uint64_t *held)
{
    struct backend *be = ctx;
    struct cordon_object o;
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    be->puts++;
    if (be->mode == ACK_AND_DROP) {
        *held = cordon_object_decode(b, len, &o) == CORDON_OK ? o.seq : 0;
        return CORDON_OK;
    }
    cordon_err err = cordon_store_put(be->store, verifier, b, len, unix_now(now_ms), &o);
    if (err == CORDON_OK) {
        *held = o.seq;
    } else if (len <= CORDON_OBJECT_MAX && cordon_object_decode(b, len, &o) == CORDON_OK) {
        cordon_object_entry_key(&o, key);
        *held = stored_seq(be->store, key, now_ms);
    }
    return err;
}

static cordon_err backend_get(void *ctx, uint64_t now_ms,
                              const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN], cordon_buf *out)
{
    struct backend *be = ctx;
    be->gets++;
    cordon_err err = cordon_store_get(be->store, key, unix_now(now_ms), out);
    if (err == CORDON_OK && be->mode == FORGE)
        tamper(out->data, out->len);
    return err;
}

static cordon_err backend_check(void *ctx, uint64_t now_ms, const uint8_t *b, size_t len)
{
    struct backend *be = ctx;
    be->checks++;
    return cordon_store_check(be->store, verifier, b, len, unix_now(now_ms), NULL);
}

struct scan_out {
    struct cordon_summary_entry *out;
    size_t n, max;
};

static bool scan_one(void *ctx, const struct cordon_store_summary *s)
{
    struct scan_out *so = ctx;
    assert_true(so->n < so->max); /* the store visits at most max */
    memcpy(so->out[so->n].key, s->key, CORDON_OBJECT_ENTRY_KEY_LEN);
    so->out[so->n].seq = s->seq;
    so->n++;
    return true;
}

/* What the runtime will do: cordon_store_scan pages on past runs of expired entries (they
 * count toward its max), since the core takes an empty batch for the end of the walk. */
static cordon_err backend_scan(void *ctx, uint64_t now_ms, const uint8_t *after,
                               struct cordon_summary_entry *out, size_t max, size_t *n)
{
    struct backend *be = ctx;
    struct scan_out so = {.out = out, .n = 0, .max = max};
    uint8_t cursor[CORDON_OBJECT_ENTRY_KEY_LEN], next[CORDON_OBJECT_ENTRY_KEY_LEN];
    const uint8_t *from = after;
    be->scans++;
    *n = 0;
    for (;;) {
        cordon_err err =
            cordon_store_scan(be->store, from, max, unix_now(now_ms), scan_one, &so, next);
        if (err == CORDON_ERR_NOT_FOUND)
            break;
        if (err != CORDON_OK)
            return err;
        if (so.n > 0)
            break;
        memcpy(cursor, next, sizeof(cursor));
        from = cursor;
    }
    *n = so.n;
    return CORDON_OK;
}

/* cordon_store_get and a decoding for now: store/ is getting cordon_store_seq, which reads
 * the seq without copying the object out. */
static cordon_err backend_held(void *ctx, uint64_t now_ms,
                               const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN], uint64_t *seq)
{
    struct backend *be = ctx;
    be->helds++;
    *seq = be->mode == FORGETFUL ? 0 : stored_seq(be->store, key, now_ms);
    return CORDON_OK;
}

static struct cordon_core_storage storage_of(struct backend *be)
{
    struct cordon_core_storage s = {
        .ctx = be, .put = backend_put, .get = backend_get, .check = backend_check};
    if (be->maintain) {
        s.scan = backend_scan;
        s.held = backend_held;
    }
    return s;
}

/* ---- callbacks ---------------------------------------------------------------------------- */

struct put_res {
    int calls;
    cordon_err err;
    struct cordon_put_result r;
};

static void on_put(void *arg, cordon_err err, const struct cordon_put_result *r)
{
    struct put_res *p = arg;
    assert_int_equal(p->calls, 0); /* exactly once */
    p->calls++;
    p->err = err;
    p->r = *r;
    assert_int_equal(r->accepted + r->refused + r->failed, r->replicas);
}

struct get_res {
    int calls;
    cordon_err err;
    struct cordon_get_result r;
    uint8_t *obj;
    size_t len;
};

static void on_get(void *arg, cordon_err err, const uint8_t *b, size_t len,
                   const struct cordon_get_result *r)
{
    struct get_res *g = arg;
    assert_int_equal(g->calls, 0); /* exactly once */
    g->calls++;
    g->err = err;
    g->r = *r;
    assert_true(r->asked >= r->found + r->not_found + r->forged + r->failed);
    if (err == CORDON_OK) {
        assert_non_null(b);
        assert_true(len >= 1 && len <= CORDON_OBJECT_MAX);
        g->obj = malloc(len);
        assert_non_null(g->obj);
        memcpy(g->obj, b, len);
        g->len = len;
    } else {
        assert_null(b);
        assert_int_equal(len, 0);
    }
}

static void get_res_clear(struct get_res *g)
{
    free(g->obj);
    memset(g, 0, sizeof(*g));
}

static struct cordon_core_status status_of(const cordon_core *core)
{
    struct cordon_core_status st;
    cordon_core_status(core, &st);
    return st;
}

/* ---- the capture host ----------------------------------------------------------------------- */

#define SENT_MAX 512

struct sent {
    struct cordon_contact to;
    struct cordon_msg m; /* object views point into obj */
    uint8_t *obj;        /* a copy of the object of a STORE or OBJECT */
};

struct capture {
    uint64_t rng;
    size_t n;
    struct sent sent[SENT_MAX];
    struct backend be;
    cordon_core *core;
};

static void capture_send(void *ctx, const struct cordon_contact *to, const uint8_t *msg, size_t len)
{
    struct capture *cap = ctx;
    assert_true(cap->n < SENT_MAX);
    struct sent *s = &cap->sent[cap->n++];
    s->to = *to;
    assert_int_equal(cordon_msg_decode(msg, len, &s->m), CORDON_OK);
    s->obj = NULL;
    const uint8_t *o = NULL;
    size_t olen = 0;
    if (s->m.type == CORDON_MSG_STORE) {
        o = s->m.u.store.object;
        olen = s->m.u.store.len;
    } else if (s->m.type == CORDON_MSG_OBJECT && s->m.u.object.found) {
        o = s->m.u.object.object;
        olen = s->m.u.object.len;
    }
    if (o != NULL) {
        s->obj = malloc(olen);
        assert_non_null(s->obj);
        memcpy(s->obj, o, olen);
        if (s->m.type == CORDON_MSG_STORE)
            s->m.u.store.object = s->obj;
        else
            s->m.u.object.object = s->obj;
    }
}

static void capture_random(void *ctx, void *out, size_t n)
{
    fill_xorshift(&((struct capture *)ctx)->rng, out, n);
}

static void capture_clear(struct capture *cap)
{
    for (size_t i = 0; i < cap->n; i++)
        free(cap->sent[i].obj);
    cap->n = 0;
}

static struct cordon_contact contact4(const uint8_t id[CORDON_NODE_ID_LEN], uint8_t a, uint8_t b)
{
    struct cordon_contact c;
    memset(&c, 0, sizeof(c));
    memcpy(c.id, id, CORDON_NODE_ID_LEN);
    c.addr.family = 4;
    c.addr.ip[0] = 10;
    c.addr.ip[1] = a;
    c.addr.ip[2] = b;
    c.addr.ip[3] = 1;
    c.addr.port = 4000;
    return c;
}

/* A core with ID self on a capture host, with a store unless bare. */
static struct capture *capture_new(const struct cordon_core_config *cfg,
                                   const uint8_t self_id[CORDON_NODE_ID_LEN], bool bare)
{
    struct capture *cap = calloc(1, sizeof(*cap));
    assert_non_null(cap);
    cap->rng = 0x9e3779b97f4a7c15ULL;
    struct cordon_contact self = contact4(self_id, 200, 0);
    struct cordon_core_host host = {.ctx = cap, .send = capture_send, .random = capture_random};
    must(cordon_core_new(cfg, &self, &host, &cap->core));
    if (!bare) {
        backend_open(&cap->be, NULL);
        struct cordon_core_storage s = storage_of(&cap->be);
        must(cordon_core_set_storage(cap->core, &s));
    }
    return cap;
}

static void capture_free(struct capture *cap)
{
    cordon_core_free(cap->core);
    capture_clear(cap);
    backend_close(&cap->be);
    free(cap);
}

static void deliver(cordon_core *core, uint64_t now, const struct cordon_contact *from,
                    const struct cordon_msg *m)
{
    uint8_t *buf = malloc(CORDON_MSG_STORAGE_MAX);
    size_t len;
    assert_non_null(buf);
    must(cordon_msg_encode(m, buf, CORDON_MSG_STORAGE_MAX, &len));
    cordon_core_receive(core, now, from, buf, len);
    free(buf);
}

static void deliver_store(cordon_core *core, uint64_t now, const struct cordon_contact *from,
                          uint32_t txid, const obj *x)
{
    struct cordon_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CORDON_MSG_STORE;
    m.txid = txid;
    m.u.store.object = x->b;
    m.u.store.len = x->len;
    deliver(core, now, from, &m);
}

static void deliver_fetch(cordon_core *core, uint64_t now, const struct cordon_contact *from,
                          uint32_t txid, const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN])
{
    struct cordon_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CORDON_MSG_FETCH;
    m.txid = txid;
    memcpy(m.u.fetch.key, key, CORDON_OBJECT_ENTRY_KEY_LEN);
    deliver(core, now, from, &m);
}

static void answer_stored(cordon_core *core, uint64_t now, const struct cordon_contact *from,
                          uint32_t txid, uint16_t code, uint64_t seq)
{
    struct cordon_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CORDON_MSG_STORED;
    m.flags = CORDON_MSG_FLAG_RESPONSE;
    m.txid = txid;
    m.u.stored.code = code;
    m.u.stored.seq = seq;
    deliver(core, now, from, &m);
}

static void answer_object(cordon_core *core, uint64_t now, const struct cordon_contact *from,
                          uint32_t txid, const obj *x)
{
    struct cordon_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CORDON_MSG_OBJECT;
    m.flags = CORDON_MSG_FLAG_RESPONSE;
    m.txid = txid;
    if (x != NULL) {
        m.u.object.found = true;
        m.u.object.object = x->b;
        m.u.object.len = x->len;
    }
    deliver(core, now, from, &m);
}

static void answer_simple(cordon_core *core, uint64_t now, const struct cordon_contact *from,
                          uint8_t type, uint32_t txid)
{
    struct cordon_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.flags = CORDON_MSG_FLAG_RESPONSE;
    m.txid = txid;
    if (type == CORDON_MSG_ERROR) {
        m.u.error.code = CORDON_MSGERR_RATE_LIMITED;
        memcpy(m.u.error.text, "slow down", 9);
    }
    deliver(core, now, from, &m);
}

static void send_ping(cordon_core *core, uint64_t now, const struct cordon_contact *from,
                      uint32_t txid)
{
    struct cordon_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CORDON_MSG_PING;
    m.txid = txid;
    deliver(core, now, from, &m);
}

/* The only message the core sent since the capture was cleared. */
static const struct sent *only_sent(const struct capture *cap)
{
    assert_int_equal(cap->n, 1);
    return &cap->sent[0];
}

/* Answers every FIND_NODE sent with an empty NODES: the lookup ends with the nodes asked. */
static void answer_finds(struct capture *cap, uint64_t now)
{
    for (int round = 0; round < 8; round++) {
        size_t n = cap->n;
        struct sent copy[SENT_MAX];
        memcpy(copy, cap->sent, n * sizeof(copy[0]));
        size_t finds = 0;
        for (size_t i = 0; i < n; i++)
            if (copy[i].m.type == CORDON_MSG_FIND_NODE)
                finds++;
        if (finds == 0)
            return;
        /* Keep the storage requests, drop the finds: they are being answered. */
        size_t keep = 0;
        for (size_t i = 0; i < n; i++) {
            if (copy[i].m.type == CORDON_MSG_FIND_NODE)
                continue;
            cap->sent[keep++] = copy[i];
        }
        cap->n = keep;
        for (size_t i = 0; i < n; i++)
            if (copy[i].m.type == CORDON_MSG_FIND_NODE)
                answer_simple(cap->core, now, &copy[i].to, CORDON_MSG_NODES, copy[i].m.txid);
    }
    fail_msg("lookups do not end");
}

/* The index of the message of that type sent to id, or SIZE_MAX. */
static size_t sent_to(const struct capture *cap, const uint8_t id[CORDON_NODE_ID_LEN], uint8_t type)
{
    for (size_t i = 0; i < cap->n; i++)
        if (cap->sent[i].m.type == type && cordon_id_equal(cap->sent[i].to.id, id))
            return i;
    return SIZE_MAX;
}

static size_t count_type(const struct capture *cap, uint8_t type)
{
    size_t n = 0;
    for (size_t i = 0; i < cap->n; i++)
        if (cap->sent[i].m.type == type)
            n++;
    return n;
}

static bool contact_in_table(const cordon_core *core, const uint8_t id[CORDON_NODE_ID_LEN])
{
    struct cordon_contact all[256];
    size_t n = cordon_core_contacts(core, all, 256);
    for (size_t i = 0; i < n && i < 256; i++)
        if (cordon_id_equal(all[i].id, id))
            return true;
    return false;
}

/* ---- serving and dispatch ------------------------------------------------------------------- */

static void test_serve_without_storage(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    uint8_t self[CORDON_NODE_ID_LEN] = {0}, pid[CORDON_NODE_ID_LEN];
    memset(pid, 0x42, sizeof(pid));
    struct capture *cap = capture_new(&cfg, self, true);
    struct cordon_contact peer = contact4(pid, 1, 1);
    struct writer w;
    writer_make(&w, pid);
    obj *x = mk(&w, CORDON_KIND_OWNED, "a", 1, "v");

    /* A node that does not serve storage says so (docs/protocol.md 7.4). */
    deliver_store(cap->core, 1, &peer, 7, x);
    const struct sent *s = only_sent(cap);
    assert_int_equal(s->m.type, CORDON_MSG_ERROR);
    assert_int_equal(s->m.txid, 7);
    assert_int_equal(s->m.u.error.code, CORDON_MSGERR_UNSUPPORTED);
    capture_clear(cap);
    deliver_fetch(cap->core, 2, &peer, 8, x->key);
    s = only_sent(cap);
    assert_int_equal(s->m.type, CORDON_MSG_ERROR);
    assert_int_equal(s->m.u.error.code, CORDON_MSGERR_UNSUPPORTED);
    capture_clear(cap);

    /* Puts and gets need the storage. */
    struct put_res pr = {0};
    struct get_res gr = {0};
    expect_err(cordon_core_put(cap->core, 3, x->b, x->len, on_put, &pr), CORDON_ERR_INVAL);
    expect_err(cordon_core_get(cap->core, 3, x->key, on_get, &gr), CORDON_ERR_INVAL);
    assert_int_equal(cap->n, 0);

    /* A storage without all three functions is refused; a second one too. */
    struct backend be;
    backend_open(&be, NULL);
    struct cordon_core_storage st = storage_of(&be);
    st.check = NULL;
    expect_err(cordon_core_set_storage(cap->core, &st), CORDON_ERR_INVAL);
    st = storage_of(&be);
    size_t before = cordon_core_memory(cap->core);
    must(cordon_core_set_storage(cap->core, &st));
    assert_true(cordon_core_memory(cap->core) > before); /* the store buckets */
    expect_err(cordon_core_set_storage(cap->core, &st), CORDON_ERR_INVAL);
    struct cordon_core_status cs = status_of(cap->core);
    assert_int_equal(cs.stores_served, 0);
    assert_int_equal(cs.fetches_served, 0);
    capture_free(cap);
    backend_close(&be);
    obj_free(x);
    writer_free(&w);
}

/* Storage answers are answers: unsolicited ones are counted and dropped, never charged to
 * the sender's request budget nor answered with an ERROR. */
static void test_storage_answers_dispatch(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    cfg.params.request_rate = 1;
    cfg.params.request_burst = 1;
    uint8_t self[CORDON_NODE_ID_LEN] = {0}, pid[CORDON_NODE_ID_LEN];
    memset(pid, 0x42, sizeof(pid));
    struct capture *cap = capture_new(&cfg, self, false);
    struct cordon_contact peer = contact4(pid, 1, 1);

    answer_stored(cap->core, 1, &peer, 11, CORDON_STORED_ACCEPTED, 5);
    answer_object(cap->core, 1, &peer, 12, NULL);
    struct cordon_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CORDON_MSG_WANT;
    m.flags = CORDON_MSG_FLAG_RESPONSE;
    m.txid = 13;
    m.u.want.count = 1;
    deliver(cap->core, 1, &peer, &m);
    struct cordon_core_status st = status_of(cap->core);
    assert_int_equal(st.dropped_unsolicited, 3);
    assert_int_equal(st.dropped_rate_node, 0);
    assert_int_equal(cap->n, 0);

    /* The one request token is still there: a PING is answered with a PONG. */
    send_ping(cap->core, 1, &peer, 14);
    assert_int_equal(only_sent(cap)->m.type, CORDON_MSG_PONG);
    capture_clear(cap);

    /* A SUMMARY is a request: it pays a token, and this one is over the budget. Then, from
     * a storage without scan and held (no maintenance), it is unsupported. */
    memset(&m, 0, sizeof(m));
    m.type = CORDON_MSG_SUMMARY;
    m.txid = 15;
    m.u.summary.count = 1;
    deliver(cap->core, 1, &peer, &m);
    assert_int_equal(only_sent(cap)->m.u.error.code, CORDON_MSGERR_RATE_LIMITED);
    capture_clear(cap);
    deliver(cap->core, 5000, &peer, &m);
    assert_int_equal(only_sent(cap)->m.u.error.code, CORDON_MSGERR_UNSUPPORTED);
    capture_free(cap);
}

static void test_serve_store_and_fetch(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    uint8_t self[CORDON_NODE_ID_LEN] = {0}, pid[CORDON_NODE_ID_LEN];
    memset(pid, 0x42, sizeof(pid));
    struct capture *cap = capture_new(&cfg, self, false);
    struct cordon_contact peer = contact4(pid, 1, 1);
    struct writer w;
    writer_make(&w, pid);
    obj *v1 = mk(&w, CORDON_KIND_OWNED, "a", 1, "one");
    obj *v2 = mk(&w, CORDON_KIND_OWNED, "a", 2, "two");
    obj *forged = tampered(v2);
    obj *big = mk_full(&w, CORDON_KIND_SHARED, 0, "big", 1, T0, NULL, 0);
    {
        /* The largest value the store takes, so STORE and OBJECT go past CORDON_MSG_MAX. */
        uint8_t *val = malloc(CORDON_OBJECT_VALUE_MAX);
        assert_non_null(val);
        memset(val, 0x5a, CORDON_OBJECT_VALUE_MAX);
        obj_free(big);
        big = mk_full(&w, CORDON_KIND_SHARED, 0, "big", 1, T0, val, CORDON_OBJECT_VALUE_MAX);
        free(val);
        assert_true(big->len > CORDON_MSG_MAX);
    }

    deliver_store(cap->core, 1000, &peer, 1, v2);
    const struct sent *s = only_sent(cap);
    assert_int_equal(s->m.type, CORDON_MSG_STORED);
    assert_int_equal(s->m.txid, 1);
    assert_int_equal(s->m.u.stored.code, CORDON_STORED_ACCEPTED);
    assert_int_equal(s->m.u.stored.seq, 2);
    capture_clear(cap);
    /* Older: stale, and the seq to beat. */
    deliver_store(cap->core, 1000, &peer, 2, v1);
    s = only_sent(cap);
    assert_int_equal(s->m.u.stored.code, CORDON_STORED_STALE);
    assert_int_equal(s->m.u.stored.seq, 2);
    capture_clear(cap);
    /* Bytes that are no object, and a forgery. */
    uint8_t head[3] = {CORDON_OBJECT_VERSION, CORDON_KIND_OWNED, 0}; /* ends after 3 bytes */
    obj junk = {.b = head, .len = sizeof(head)};
    deliver_store(cap->core, 1000, &peer, 3, &junk);
    s = only_sent(cap);
    assert_int_equal(s->m.u.stored.code, CORDON_STORED_TRUNCATED);
    assert_int_equal(s->m.u.stored.seq, 0);
    capture_clear(cap);
    obj *forged3 = mk(&w, CORDON_KIND_OWNED, "a", 3, "three");
    tamper(forged3->b, forged3->len);
    deliver_store(cap->core, 1000, &peer, 4, forged3);
    s = only_sent(cap);
    assert_int_equal(s->m.u.stored.code, CORDON_STORED_BAD_SIGNATURE);
    assert_int_equal(s->m.u.stored.seq, 2);
    capture_clear(cap);
    /* The largest object travels both ways. */
    deliver_store(cap->core, 1000, &peer, 5, big);
    assert_int_equal(only_sent(cap)->m.u.stored.code, CORDON_STORED_ACCEPTED);
    capture_clear(cap);

    deliver_fetch(cap->core, 1000, &peer, 6, v2->key);
    s = only_sent(cap);
    assert_int_equal(s->m.type, CORDON_MSG_OBJECT);
    assert_int_equal(s->m.txid, 6);
    assert_true(s->m.u.object.found);
    assert_int_equal(s->m.u.object.len, v2->len);
    assert_memory_equal(s->m.u.object.object, v2->b, v2->len);
    capture_clear(cap);
    deliver_fetch(cap->core, 1000, &peer, 7, big->key);
    s = only_sent(cap);
    assert_int_equal(s->m.u.object.len, big->len);
    assert_memory_equal(s->m.u.object.object, big->b, big->len);
    capture_clear(cap);
    uint8_t none[CORDON_OBJECT_ENTRY_KEY_LEN];
    memset(none, 0x77, sizeof(none));
    deliver_fetch(cap->core, 1000, &peer, 8, none);
    s = only_sent(cap);
    assert_int_equal(s->m.type, CORDON_MSG_OBJECT);
    assert_false(s->m.u.object.found);
    capture_clear(cap);
    /* After the object expired, it is not found either. */
    deliver_fetch(cap->core, (LIFE + 1) * 1000ull, &peer, 9, v2->key);
    assert_false(only_sent(cap)->m.u.object.found);
    capture_clear(cap);

    struct cordon_core_status st = status_of(cap->core);
    assert_int_equal(st.stores_served, 5);
    assert_int_equal(st.stores_accepted, 2);
    assert_int_equal(st.fetches_served, 4);
    assert_int_equal(st.msgs_out, 9);
    assert_true(contact_in_table(cap->core, pid));
    capture_free(cap);
    obj_free(v1);
    obj_free(v2);
    obj_free(forged);
    obj_free(forged3);
    obj_free(big);
    writer_free(&w);
}

/* STOREs pay a per-node store bucket and a global store budget besides the request bucket;
 * FETCHes pay only the request bucket. */
static void test_store_limits(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    cfg.store_rate = 1;
    cfg.store_burst = 2;
    cfg.store_global_rate = 3;
    uint8_t self[CORDON_NODE_ID_LEN] = {0}, aid[CORDON_NODE_ID_LEN], bid[CORDON_NODE_ID_LEN];
    memset(aid, 0x42, sizeof(aid));
    memset(bid, 0x43, sizeof(bid));
    struct capture *cap = capture_new(&cfg, self, false);
    struct cordon_contact a = contact4(aid, 1, 1), b = contact4(bid, 2, 1);
    obj junk = {.b = (uint8_t *)"abc", .len = 3}; /* refused as truncated: cheap to serve */

    deliver_store(cap->core, 1000, &a, 1, &junk);
    deliver_store(cap->core, 1000, &a, 2, &junk);
    deliver_store(cap->core, 1000, &a, 3, &junk); /* a's bucket is empty */
    assert_int_equal(cap->n, 3);
    assert_int_equal(cap->sent[0].m.type, CORDON_MSG_STORED);
    assert_int_equal(cap->sent[1].m.type, CORDON_MSG_STORED);
    assert_int_equal(cap->sent[2].m.type, CORDON_MSG_ERROR);
    assert_int_equal(cap->sent[2].m.u.error.code, CORDON_MSGERR_RATE_LIMITED);
    capture_clear(cap);
    deliver_store(cap->core, 1000, &b, 4, &junk);
    deliver_store(cap->core, 1000, &b, 5, &junk); /* the global budget is spent */
    assert_int_equal(cap->n, 2);
    assert_int_equal(cap->sent[0].m.type, CORDON_MSG_STORED);
    assert_int_equal(cap->sent[1].m.u.error.code, CORDON_MSGERR_RATE_LIMITED);
    capture_clear(cap);
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN] = {0};
    deliver_fetch(cap->core, 1000, &b, 6, key); /* reads are not held back */
    assert_int_equal(only_sent(cap)->m.type, CORDON_MSG_OBJECT);
    capture_clear(cap);
    struct cordon_core_status st = status_of(cap->core);
    assert_int_equal(st.dropped_rate_store, 2);
    assert_int_equal(st.dropped_rate_node, 0);
    assert_int_equal(st.stores_served, 3);
    /* A second later both refilled. */
    deliver_store(cap->core, 2000, &a, 7, &junk);
    deliver_store(cap->core, 2000, &b, 8, &junk);
    assert_int_equal(count_type(cap, CORDON_MSG_STORED), 2);
    capture_free(cap);
}

/* ---- a get and a put against answers written by hand -------------------------------------- */

struct four_peers {
    struct writer w;
    struct cordon_contact peer[4]; /* by distance to the resource: peer[0] is the closest */
    obj *o;
    struct capture *cap;
};

static int cmp_target_peer(const uint8_t *target, const struct cordon_contact *a,
                           const struct cordon_contact *b)
{
    return cordon_id_distance_cmp(target, a->id, b->id);
}

/* A core with four peers in its table and an object whose resource ID is as far from the
 * core's own ID as can be (this node is never a replica of it but the last candidate). */
static void four_peers_new(struct four_peers *f, const struct cordon_core_config *cfg,
                           uint64_t seed)
{
    uint8_t wid[CORDON_NODE_ID_LEN], self[CORDON_NODE_ID_LEN];
    uint64_t rng = seed;
    memset(f, 0, sizeof(*f));
    fill_xorshift(&rng, wid, sizeof(wid));
    writer_make(&f->w, wid);
    f->o = mk(&f->w, CORDON_KIND_OWNED, "doc", 5, "genuine");
    for (size_t i = 0; i < CORDON_NODE_ID_LEN; i++)
        self[i] = (uint8_t)~f->o->key[i];
    f->cap = capture_new(cfg, self, false);
    for (uint8_t i = 0; i < 4; i++) {
        uint8_t id[CORDON_NODE_ID_LEN];
        fill_xorshift(&rng, id, sizeof(id));
        f->peer[i] = contact4(id, (uint8_t)(10 + i), 1);
    }
    for (size_t i = 1; i < 4; i++)
        for (size_t j = i; j > 0 && cmp_target_peer(f->o->key, &f->peer[j], &f->peer[j - 1]) < 0;
             j--) {
            struct cordon_contact t = f->peer[j];
            f->peer[j] = f->peer[j - 1];
            f->peer[j - 1] = t;
        }
    for (uint32_t i = 0; i < 4; i++)
        send_ping(f->cap->core, 10, &f->peer[i], 100 + i);
    for (size_t i = 0; i < 4; i++)
        assert_true(contact_in_table(f->cap->core, f->peer[i].id));
    capture_clear(f->cap);
}

static void four_peers_free(struct four_peers *f)
{
    capture_free(f->cap);
    obj_free(f->o);
    writer_free(&f->w);
}

static uint32_t txid_to(const struct capture *cap, const struct cordon_contact *c, uint8_t type)
{
    size_t i = sent_to(cap, c->id, type);
    assert_true(i != SIZE_MAX);
    return cap->sent[i].m.txid;
}

static void test_get_judges_answers(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    struct four_peers f;
    four_peers_new(&f, &cfg, 77);
    cordon_core *core = f.cap->core;
    const struct cordon_contact *p = f.peer;
    obj *other = mk(&f.w, CORDON_KIND_OWNED, "other", 9, "another entry");
    obj *forged = tampered(f.o);
    obj *older = mk(&f.w, CORDON_KIND_OWNED, "doc", 4, "older");
    uint64_t now = 1000;

    struct get_res g = {0};
    must(cordon_core_get(core, now, f.o->key, on_get, &g));
    assert_int_equal(status_of(core).storage_ops, 1);
    answer_finds(f.cap, now += 10);
    /* The r = 3 closest that answered, in parallel; nothing to the fourth yet. */
    assert_int_equal(count_type(f.cap, CORDON_MSG_FETCH), 3);
    uint32_t t0 = txid_to(f.cap, &p[0], CORDON_MSG_FETCH);
    uint32_t t1 = txid_to(f.cap, &p[1], CORDON_MSG_FETCH);
    uint32_t t2 = txid_to(f.cap, &p[2], CORDON_MSG_FETCH);
    assert_memory_equal(f.cap->sent[sent_to(f.cap, p[0].id, CORDON_MSG_FETCH)].m.u.fetch.key,
                        f.o->key, CORDON_OBJECT_ENTRY_KEY_LEN);
    capture_clear(f.cap);

    /* A STORED does not answer a FETCH, nor does another node's OBJECT. */
    answer_stored(core, now, &p[0], t0, CORDON_STORED_ACCEPTED, 5);
    answer_object(core, now, &p[3], t0, f.o);
    assert_int_equal(status_of(core).dropped_unsolicited, 2);
    assert_int_equal(f.cap->n, 0);
    answer_object(core, now, &p[0], t0, f.o);                 /* genuine */
    answer_object(core, now, &p[1], t1, other);               /* genuine, of another entry: a lie */
    assert_int_equal(count_type(f.cap, CORDON_MSG_FETCH), 1); /* the fourth replaces it */
    uint32_t t3 = txid_to(f.cap, &p[3], CORDON_MSG_FETCH);
    capture_clear(f.cap);
    answer_object(core, now, &p[2], t2, forged); /* tampered; this node's store is next */
    assert_int_equal(f.cap->n, 0);
    assert_int_equal(f.cap->be.gets, 1);
    assert_int_equal(g.calls, 0);
    /* Rate limited: busy, not gone. The same FETCH again after the try's timeout... */
    answer_simple(core, now, &p[3], CORDON_MSG_ERROR, t3);
    assert_int_equal(g.calls, 0);
    assert_int_equal(f.cap->n, 0);
    assert_int_equal(status_of(core).retried_limited, 1);
    cordon_core_tick(core, now + cfg.rpc_timeout_ms - 1);
    assert_int_equal(f.cap->n, 0);
    cordon_core_tick(core, now += cfg.rpc_timeout_ms);
    assert_int_equal(count_type(f.cap, CORDON_MSG_FETCH), 1);
    assert_int_equal(txid_to(f.cap, &p[3], CORDON_MSG_FETCH), t3);
    capture_clear(f.cap);
    /* ...and rate limited on its last try: a failure. */
    answer_simple(core, now, &p[3], CORDON_MSG_ERROR, t3);
    assert_int_equal(g.calls, 1);
    must(g.err);
    assert_int_equal(g.len, f.o->len);
    assert_memory_equal(g.obj, f.o->b, f.o->len);
    assert_int_equal(g.r.seq, 5);
    assert_int_equal(g.r.asked, 5);
    assert_int_equal(g.r.found, 1);
    assert_int_equal(g.r.forged, 2);
    assert_int_equal(g.r.not_found, 1);
    assert_int_equal(g.r.failed, 1);
    assert_int_equal(g.r.stale, 0);
    assert_true(g.r.lookup.answered >= 4);
    /* Only answers that decoded as the entry asked for cost a check. */
    assert_int_equal(f.cap->be.checks, 2);
    answer_object(core, now, &p[0], t0, f.o); /* once more: unsolicited */
    struct cordon_core_status st = status_of(core);
    assert_int_equal(st.dropped_unsolicited, 3);
    assert_int_equal(st.get_forged, 2);
    assert_int_equal(st.get_stale, 0);
    assert_int_equal(st.storage_ops, 0);
    assert_int_equal(st.pending, 0);
    get_res_clear(&g);

    /* Newest wins; the older valid answers are counted stale, whatever their order. */
    must(cordon_core_get(core, now, f.o->key, on_get, &g));
    answer_finds(f.cap, now += 10);
    t0 = txid_to(f.cap, &p[0], CORDON_MSG_FETCH);
    t1 = txid_to(f.cap, &p[1], CORDON_MSG_FETCH);
    t2 = txid_to(f.cap, &p[2], CORDON_MSG_FETCH);
    capture_clear(f.cap);
    answer_object(core, now, &p[0], t0, older);
    answer_object(core, now, &p[1], t1, f.o);
    answer_object(core, now, &p[2], t2, older);
    assert_int_equal(f.cap->n, 0); /* three valid answers: no one else is asked */
    assert_int_equal(g.calls, 1);
    must(g.err);
    assert_memory_equal(g.obj, f.o->b, f.o->len);
    assert_int_equal(g.r.asked, 3);
    assert_int_equal(g.r.found, 3);
    assert_int_equal(g.r.stale, 2);
    assert_int_equal(status_of(core).get_stale, 2);
    get_res_clear(&g);

    /* Nothing anywhere: 2r asked at most (here the four peers and this node), and "not
     * found"; no answer at all: "network". */
    must(cordon_core_get(core, now, other->key, on_get, &g));
    answer_finds(f.cap, now += 10);
    for (int round = 0; round < 4 && f.cap->n > 0; round++) {
        struct sent copy[8];
        size_t n = f.cap->n;
        assert_true(n <= 8);
        memcpy(copy, f.cap->sent, n * sizeof(copy[0]));
        f.cap->n = 0;
        for (size_t i = 0; i < n; i++)
            answer_object(core, now, &copy[i].to, copy[i].m.txid, NULL);
    }
    assert_int_equal(g.calls, 1);
    expect_err(g.err, CORDON_ERR_NOT_FOUND);
    assert_int_equal(g.r.asked, 5);
    assert_int_equal(g.r.not_found, 5);
    get_res_clear(&g);

    obj_free(other);
    obj_free(forged);
    obj_free(older);
    four_peers_free(&f);
}

/* Ticks until the core has nothing in flight. */
static uint64_t quiesce(cordon_core *core, uint64_t now, struct capture *cap)
{
    for (int i = 0; i < 1000 && (status_of(core).pending > 0 || status_of(core).lookups > 0); i++) {
        uint64_t d = cordon_core_next_deadline(core);
        if (d > now)
            now = d;
        cordon_core_tick(core, now);
        if (cap != NULL)
            capture_clear(cap);
    }
    assert_int_equal(status_of(core).pending, 0);
    return now;
}

static void test_put_reports_refusals(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    struct four_peers f;
    four_peers_new(&f, &cfg, 78);
    cordon_core *core = f.cap->core;
    const struct cordon_contact *p = f.peer;
    uint64_t now = 1000;
    uint32_t t[3];
    struct put_res r;

#define START_PUT()                                                                                \
    do {                                                                                           \
        memset(&r, 0, sizeof(r));                                                                  \
        must(cordon_core_put(core, now, f.o->b, f.o->len, on_put, &r));                            \
        answer_finds(f.cap, now += 10);                                                            \
        assert_int_equal(count_type(f.cap, CORDON_MSG_STORE), 3);                                  \
        assert_true(sent_to(f.cap, p[3].id, CORDON_MSG_STORE) == SIZE_MAX);                        \
        for (int i_ = 0; i_ < 3; i_++)                                                             \
            t[i_] = txid_to(f.cap, &p[i_], CORDON_MSG_STORE);                                      \
    } while (0)

    /* The STORE carries the object, byte for byte. */
    START_PUT();
    const struct sent *s = &f.cap->sent[sent_to(f.cap, p[0].id, CORDON_MSG_STORE)];
    assert_int_equal(s->m.u.store.len, f.o->len);
    assert_memory_equal(s->m.u.store.object, f.o->b, f.o->len);
    capture_clear(f.cap);
    /* One accepts: that is a success, with the refusals reported beside it. */
    answer_object(core, now, &p[0], t[0], NULL); /* an OBJECT does not answer a STORE */
    answer_stored(core, now, &p[0], t[0], CORDON_STORED_ACCEPTED, 5);
    answer_stored(core, now, &p[1], t[1], CORDON_STORED_STALE, 9);
    answer_stored(core, now, &p[2], t[2], CORDON_STORED_QUOTA, 0);
    assert_int_equal(r.calls, 1);
    must(r.err);
    assert_int_equal(r.r.replicas, 3);
    assert_int_equal(r.r.accepted, 1);
    assert_int_equal(r.r.refused, 2);
    assert_int_equal(r.r.code, CORDON_STORED_STALE); /* first among equals */
    assert_int_equal(r.r.held, 9);
    assert_false(r.r.self);
    assert_int_equal(status_of(core).dropped_unsolicited, 1);

    /* None accepts: the most common refusal, as its own error. */
    START_PUT();
    capture_clear(f.cap);
    answer_stored(core, now, &p[0], t[0], CORDON_STORED_QUOTA, 0);
    answer_stored(core, now, &p[1], t[1], CORDON_STORED_STALE, 7);
    answer_stored(core, now, &p[2], t[2], CORDON_STORED_QUOTA, 0);
    assert_int_equal(r.calls, 1);
    expect_err(r.err, CORDON_ERR_OBJ_QUOTA);
    assert_int_equal(r.r.code, CORDON_STORED_QUOTA);
    assert_int_equal(r.r.refused, 3);
    assert_int_equal(r.r.held, 7);

    /* Every refusal code comes back as its own error. */
    static const uint16_t codes[] = {CORDON_STORED_NOT_ALLOWED, CORDON_STORED_TOO_LARGE,
                                     CORDON_STORED_EXPIRED, CORDON_STORED_CAPACITY,
                                     CORDON_STORED_CERT_REVOKED};
    for (size_t c = 0; c < sizeof(codes) / sizeof(codes[0]); c++) {
        START_PUT();
        capture_clear(f.cap);
        for (int i = 0; i < 3; i++)
            answer_stored(core, now, &p[i], t[i], codes[c], 0);
        assert_int_equal(r.calls, 1);
        expect_err(r.err, cordon_msg_store_err(codes[c]));
        assert_int_equal(r.r.code, codes[c]);
    }

    /* A code this version does not know is a refusal ("refused"), rate limited and silent
     * replicas are failures. */
    START_PUT();
    capture_clear(f.cap);
    answer_simple(core, now, &p[0], CORDON_MSG_ERROR, t[0]);
    answer_stored(core, now, &p[2], t[2], 999, 0);
    assert_int_equal(r.calls, 0);
    now = quiesce(core, now, f.cap);
    assert_int_equal(r.calls, 1);
    expect_err(r.err, CORDON_ERR_REFUSED);
    assert_int_equal(r.r.code, 999);
    assert_int_equal(r.r.refused, 1);
    assert_int_equal(r.r.failed, 2);

    /* Nobody answers: every STORE is sent again once (with its object), then "network". */
    START_PUT();
    capture_clear(f.cap);
    now = cordon_core_next_deadline(core);
    cordon_core_tick(core, now);
    assert_int_equal(count_type(f.cap, CORDON_MSG_STORE), 3);
    for (size_t i = 0; i < f.cap->n; i++)
        assert_memory_equal(f.cap->sent[i].m.u.store.object, f.o->b, f.o->len);
    capture_clear(f.cap);
    now = quiesce(core, now, f.cap);
    assert_int_equal(r.calls, 1);
    expect_err(r.err, CORDON_ERR_NETWORK);
    assert_int_equal(r.r.failed, 3);
    assert_int_equal(r.r.code, 0);

    /* After a retry, "stale" at exactly this seq is this object stored by the first try
     * whose answer was lost; without a retry it is a refusal. */
    START_PUT();
    capture_clear(f.cap);
    answer_stored(core, now, &p[1], t[1], CORDON_STORED_ACCEPTED, 5);
    answer_stored(core, now, &p[2], t[2], CORDON_STORED_STALE, 5);
    now = cordon_core_next_deadline(core);
    cordon_core_tick(core, now); /* p[0]'s STORE is sent again */
    assert_int_equal(count_type(f.cap, CORDON_MSG_STORE), 1);
    capture_clear(f.cap);
    answer_stored(core, now, &p[0], t[0], CORDON_STORED_STALE, 5);
    assert_int_equal(r.calls, 1);
    must(r.err);
    assert_int_equal(r.r.accepted, 2);
    assert_int_equal(r.r.refused, 1);
    assert_int_equal(r.r.code, CORDON_STORED_STALE);
#undef START_PUT

    struct cordon_core_status st = status_of(core);
    assert_int_equal(st.storage_ops, 0);
    assert_int_equal(st.pending, 0);
    assert_int_equal(f.cap->be.puts, 0); /* this node was never a replica */
    four_peers_free(&f);
}

static void on_lookup_count(void *arg, cordon_err err, const struct cordon_contact *closest,
                            size_t n, const struct cordon_lookup_stats *stats)
{
    (void)err, (void)closest, (void)n, (void)stats;
    assert_int_equal(++*(int *)arg, 1);
}

/* Operations are capped, accounted, end in bounded time, call back exactly once, and are
 * dropped without a call when the core is freed. */
static void test_bounds(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    uint8_t self[CORDON_NODE_ID_LEN] = {0}, pid[CORDON_NODE_ID_LEN];
    memset(pid, 0x42, sizeof(pid));
    struct writer w;
    writer_make(&w, pid);
    obj *x = mk(&w, CORDON_KIND_OWNED, "a", 1, "v");

    /* Alone: this node is the only replica, and the put ends within the call. */
    struct capture *cap = capture_new(&cfg, self, false);
    struct put_res pr = {0};
    must(cordon_core_put(cap->core, 1000, x->b, x->len, on_put, &pr));
    assert_int_equal(pr.calls, 1);
    must(pr.err);
    assert_int_equal(pr.r.replicas, 1);
    assert_int_equal(pr.r.accepted, 1);
    assert_true(pr.r.self);
    assert_int_equal(cap->n, 0);
    assert_int_equal(stored_seq(cap->be.store, x->key, 1000), 1);
    struct get_res gr = {0};
    must(cordon_core_get(cap->core, 1000, x->key, on_get, &gr));
    assert_int_equal(gr.calls, 1);
    must(gr.err);
    assert_memory_equal(gr.obj, x->b, x->len);
    get_res_clear(&gr);

    /* Refused before anything starts, with no callback. */
    uint8_t *huge = calloc(1, CORDON_OBJECT_MAX + 1);
    assert_non_null(huge);
    memset(&pr, 0, sizeof(pr));
    expect_err(cordon_core_put(cap->core, 1000, huge, CORDON_OBJECT_MAX + 1, on_put, &pr),
               CORDON_ERR_TOO_LARGE);
    expect_err(cordon_core_put(cap->core, 1000, huge, 100, on_put, &pr), CORDON_ERR_MALFORMED);
    expect_err(cordon_core_put(cap->core, 1000, x->b, x->len - 1, on_put, &pr),
               CORDON_ERR_TRUNCATED);
    expect_err(cordon_core_put(cap->core, 1000, x->b, x->len, NULL, &pr), CORDON_ERR_INVAL);
    expect_err(cordon_core_get(cap->core, 1000, NULL, on_get, &gr), CORDON_ERR_INVAL);
    free(huge);
    assert_int_equal(pr.calls, 0);

    /* With one silent peer in the table (never evicted here): lookups fill up first, and a
     * get that finds no lookup slot is refused and leaves nothing behind. */
    capture_free(cap);
    cfg.fail_evict = CORDON_FAIL_EVICT_MAX;
    cap = capture_new(&cfg, self, false);
    struct cordon_contact peer = contact4(pid, 1, 1);
    send_ping(cap->core, 1000, &peer, 1);
    capture_clear(cap);
    int looked[CORDON_LOOKUPS_MAX] = {0};
    for (int i = 0; i < CORDON_LOOKUPS_MAX; i++) {
        uint8_t target[CORDON_NODE_ID_LEN];
        memset(target, i, sizeof(target));
        must(cordon_core_lookup(cap->core, 1000, target, on_lookup_count, &looked[i]));
    }
    expect_err(cordon_core_get(cap->core, 1000, x->key, on_get, &gr), CORDON_ERR_BUSY);
    expect_err(cordon_core_put(cap->core, 1000, x->b, x->len, on_put, &pr), CORDON_ERR_BUSY);
    assert_int_equal(status_of(cap->core).storage_ops, 0);
    uint64_t now = quiesce(cap->core, 1000, cap);
    for (int i = 0; i < CORDON_LOOKUPS_MAX; i++)
        assert_int_equal(looked[i], 1);
    size_t idle = cordon_core_memory(cap->core);

    /* Then operations: CORDON_STORAGE_OPS_MAX of them, each accounted. */
    struct get_res *gs = calloc(CORDON_STORAGE_OPS_MAX, sizeof(*gs));
    assert_non_null(gs);
    for (int i = 0; i < CORDON_STORAGE_OPS_MAX; i++) {
        uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
        memcpy(key, x->key, sizeof(key));
        key[CORDON_OBJECT_ENTRY_KEY_LEN - 1] = (uint8_t)(i + 1); /* none holds these */
        must(cordon_core_get(cap->core, now, key, on_get, &gs[i]));
    }
    expect_err(cordon_core_get(cap->core, now, x->key, on_get, &gr), CORDON_ERR_BUSY);
    expect_err(cordon_core_put(cap->core, now, x->b, x->len, on_put, &pr), CORDON_ERR_BUSY);
    struct cordon_core_status st = status_of(cap->core);
    assert_int_equal(st.storage_ops, CORDON_STORAGE_OPS_MAX);
    assert_int_equal(st.lookups, CORDON_LOOKUPS_MAX);
    size_t busy = cordon_core_memory(cap->core);
    assert_true(busy >= idle + CORDON_STORAGE_OPS_MAX * sizeof(struct storage_op));
    printf("core memory: %zu bytes idle, %zu with %d gets running (%zu bytes each)\n", idle, busy,
           CORDON_STORAGE_OPS_MAX, sizeof(struct storage_op));
    /* Their lookups time out, this node is the only replica left, and it holds nothing:
     * with no node answering, that is no answer for the overlay ("network", not "not
     * found"). */
    now = quiesce(cap->core, now, cap);
    for (int i = 0; i < CORDON_STORAGE_OPS_MAX; i++) {
        assert_int_equal(gs[i].calls, 1);
        expect_err(gs[i].err, CORDON_ERR_NETWORK);
        assert_int_equal(gs[i].r.lookup.answered, 0);
        assert_int_equal(gs[i].r.asked, 1);
        assert_int_equal(gs[i].r.not_found, 1);
        assert_true(gs[i].r.lookup.failed >= 1);
    }
    st = status_of(cap->core);
    assert_int_equal(st.storage_ops, 0);
    assert_int_equal(st.lookups, 0);
    assert_true(cordon_core_memory(cap->core) <= idle);
    free(gs);

    /* Freed while puts run: no callback (as for lookups), nothing leaks (ASan). */
    struct put_res prs[8];
    memset(prs, 0, sizeof(prs));
    size_t before = cordon_core_memory(cap->core);
    for (int i = 0; i < 8; i++)
        must(cordon_core_put(cap->core, now, x->b, x->len, on_put, &prs[i]));
    assert_true(cordon_core_memory(cap->core) >= before + 8 * (sizeof(struct storage_op) + x->len));
    assert_int_equal(status_of(cap->core).storage_ops, 8);
    capture_free(cap);
    for (int i = 0; i < 8; i++)
        assert_int_equal(prs[i].calls, 0);
    obj_free(x);
    writer_free(&w);
}

/* A put whose STORE finds the pending table full waits for room and sends it then. */
static void test_put_waits_for_pending_room(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    cfg.fail_evict = CORDON_FAIL_EVICT_MAX;
    uint8_t self[CORDON_NODE_ID_LEN] = {0}, pid[CORDON_NODE_ID_LEN], qid[CORDON_NODE_ID_LEN];
    memset(pid, 0x42, sizeof(pid));
    memset(qid, 0x43, sizeof(qid));
    struct writer w;
    writer_make(&w, pid);
    obj *x = mk(&w, CORDON_KIND_OWNED, "a", 1, "v");
    struct capture *cap = capture_new(&cfg, self, false);
    cordon_core *core = cap->core;
    struct cordon_contact pq[2] = {contact4(pid, 1, 1), contact4(qid, 2, 1)};
    send_ping(core, 1000, &pq[0], 1);
    send_ping(core, 1000, &pq[1], 2);
    capture_clear(cap);
    /* Fill the pending table but for the lookup's two FIND_NODEs, with requests to a third
     * node (most of them held by pacing, in the table all the same): pq's own budgets stay
     * whole, so nothing the put sends them is held. */
    uint8_t fid[CORDON_NODE_ID_LEN];
    memset(fid, 0x44, sizeof(fid));
    struct cordon_contact filler = contact4(fid, 3, 1);
    for (int i = 0; i < CORDON_PENDING_MAX - 2; i++)
        must(cordon_rpc_request(core, 1000, &filler, CORDON_MSG_PING, NULL, PURPOSE_PLAIN, 0, 0));
    assert_true(status_of(core).paced > 0);
    struct put_res r = {0};
    must(cordon_core_put(core, 1000, x->b, x->len, on_put, &r));
    assert_int_equal(status_of(core).pending, CORDON_PENDING_MAX);
    uint32_t fp = txid_to(cap, &pq[0], CORDON_MSG_FIND_NODE);
    uint32_t fq = txid_to(cap, &pq[1], CORDON_MSG_FIND_NODE);
    capture_clear(cap);
    answer_simple(core, 1010, &pq[0], CORDON_MSG_NODES, fp);
    must(cordon_rpc_request(core, 1010, &pq[0], CORDON_MSG_PING, NULL, PURPOSE_PLAIN, 0, 0));
    uint32_t ping = cap->sent[cap->n - 1].m.txid;
    capture_clear(cap);
    /* The lookup ends: three replicas (the two peers and this node), room for one STORE. */
    answer_simple(core, 1020, &pq[1], CORDON_MSG_NODES, fq);
    assert_int_equal(count_type(cap, CORDON_MSG_STORE), 1);
    assert_int_equal(cap->be.puts, 1);
    assert_int_equal(status_of(core).pending, CORDON_PENDING_MAX);
    size_t first = sent_to(cap, pq[0].id, CORDON_MSG_STORE) != SIZE_MAX ? 0 : 1;
    uint32_t t_first = txid_to(cap, &pq[first], CORDON_MSG_STORE);
    capture_clear(cap);
    /* A request resolves: the other STORE goes out at the end of that event. */
    answer_simple(core, 1030, &pq[0], CORDON_MSG_PONG, ping);
    assert_int_equal(count_type(cap, CORDON_MSG_STORE), 1);
    uint32_t t_second = txid_to(cap, &pq[1 - first], CORDON_MSG_STORE);
    capture_clear(cap);
    answer_stored(core, 1040, &pq[first], t_first, CORDON_STORED_ACCEPTED, 1);
    assert_int_equal(r.calls, 0);
    answer_stored(core, 1040, &pq[1 - first], t_second, CORDON_STORED_ACCEPTED, 1);
    assert_int_equal(r.calls, 1);
    must(r.err);
    assert_int_equal(r.r.replicas, 3);
    assert_int_equal(r.r.accepted, 3);
    assert_true(r.r.self);
    capture_free(cap);
    obj_free(x);
    writer_free(&w);
}

/* ---- the fake network ---------------------------------------------------------------------- */

#define NET_MAX 64
#define QUEUE_MAX 65536
#define LATENCY_MS 10

enum packet_kind { PKT_MSG, PKT_LINK_FAILED };

struct packet {
    uint64_t at;
    size_t from;
    uint8_t kind;
    struct cordon_contact to;
    size_t len;
    uint8_t *data;
};

struct net;

struct node {
    struct net *net;
    size_t idx;
    cordon_core *core;
    struct cordon_contact me;
    struct writer w;    /* its certificate: it signs its own objects */
    struct backend be;  /* its store */
    bool mute;          /* receives nothing, answers nothing */
    bool dead;          /* gone: links to it fail, its core runs no more */
    bool deaf_storage;  /* drops STORE and FETCH (routes, but serves no storage) */
    uint64_t stores_in; /* STOREs delivered to it */
    uint64_t fetches_in;
};

struct net {
    uint64_t now;
    uint64_t rng;
    size_t n;
    struct node nodes[NET_MAX];
    struct packet *q;
    size_t qhead, qlen;
};

static void push(struct net *net, struct packet p)
{
    assert_true(net->qlen < QUEUE_MAX);
    net->q[(net->qhead + net->qlen) % QUEUE_MAX] = p;
    net->qlen++;
}

static void net_send(void *ctx, const struct cordon_contact *to, const uint8_t *msg, size_t len)
{
    struct node *from = ctx;
    /* No node ever sends to itself: its own copy goes through its storage. */
    assert_memory_not_equal(to->id, from->me.id, CORDON_NODE_ID_LEN);
    struct packet p = {.at = from->net->now + LATENCY_MS,
                       .from = from->idx,
                       .kind = PKT_MSG,
                       .to = *to,
                       .len = len};
    p.data = malloc(len);
    assert_non_null(p.data);
    memcpy(p.data, msg, len);
    push(from->net, p);
}

static void net_random(void *ctx, void *out, size_t n)
{
    fill_xorshift(&((struct node *)ctx)->net->rng, out, n);
}

static struct node *node_by_id(struct net *net, const uint8_t id[CORDON_NODE_ID_LEN])
{
    for (size_t i = 0; i < net->n; i++)
        if (cordon_id_equal(net->nodes[i].me.id, id))
            return &net->nodes[i];
    return NULL;
}

/* n nodes; their storage offers scan and held (replica maintenance) when maintain. */
static struct net *net_make(size_t n, const struct cordon_core_config *cfg, uint64_t seed,
                            const struct cordon_store_config *store, bool maintain)
{
    struct net *net = calloc(1, sizeof(*net));
    assert_non_null(net);
    net->q = calloc(QUEUE_MAX, sizeof(*net->q));
    assert_non_null(net->q);
    net->rng = seed;
    net->n = n;
    for (size_t i = 0; i < n; i++) {
        struct node *node = &net->nodes[i];
        uint8_t id[CORDON_NODE_ID_LEN];
        fill_xorshift(&net->rng, id, sizeof(id));
        node->net = net;
        node->idx = i;
        node->me = contact4(id, (uint8_t)(i >> 8), (uint8_t)i);
        writer_make(&node->w, id);
        backend_open(&node->be, store);
        node->be.maintain = maintain;
        struct cordon_core_host host = {.ctx = node, .send = net_send, .random = net_random};
        must(cordon_core_new(cfg, &node->me, &host, &node->core));
        struct cordon_core_storage st = storage_of(&node->be);
        must(cordon_core_set_storage(node->core, &st));
    }
    return net;
}

static struct net *net_new(size_t n, const struct cordon_core_config *cfg, uint64_t seed,
                           const struct cordon_store_config *store)
{
    return net_make(n, cfg, seed, store, false);
}

static void net_free(struct net *net)
{
    for (size_t i = 0; i < net->n; i++) {
        cordon_core_free(net->nodes[i].core);
        backend_close(&net->nodes[i].be);
        writer_free(&net->nodes[i].w);
    }
    for (size_t i = 0; i < net->qlen; i++)
        free(net->q[(net->qhead + i) % QUEUE_MAX].data);
    free(net->q);
    free(net);
}

static void net_deliver_one(struct net *net)
{
    struct packet p = net->q[net->qhead];
    net->qhead = (net->qhead + 1) % QUEUE_MAX;
    net->qlen--;
    struct node *from = &net->nodes[p.from];
    if (p.kind == PKT_LINK_FAILED) {
        if (!from->dead)
            cordon_core_link_failed(from->core, net->now, &p.to);
    } else {
        struct node *to = node_by_id(net, p.to.id);
        uint8_t type = p.len > 1 ? p.data[1] : 0;
        bool storage = type == CORDON_MSG_STORE || type == CORDON_MSG_FETCH;
        if (to == NULL || to->dead) {
            struct packet f = {
                .at = net->now + LATENCY_MS, .from = p.from, .kind = PKT_LINK_FAILED, .to = p.to};
            push(net, f);
        } else if (!to->mute && !(storage && to->deaf_storage)) {
            to->stores_in += type == CORDON_MSG_STORE;
            to->fetches_in += type == CORDON_MSG_FETCH;
            cordon_core_receive(to->core, net->now, &from->me, p.data, p.len);
        }
    }
    free(p.data);
}

/* Runs events in time order until `until`. */
static void net_run(struct net *net, uint64_t until)
{
    for (;;) {
        uint64_t next = UINT64_MAX;
        if (net->qlen > 0)
            next = net->q[net->qhead].at;
        for (size_t i = 0; i < net->n; i++) {
            uint64_t d = cordon_core_next_deadline(net->nodes[i].core);
            if (d < next && !net->nodes[i].dead)
                next = d;
        }
        if (next > until) {
            net->now = until;
            return;
        }
        if (next > net->now)
            net->now = next;
        if (net->qlen > 0 && net->q[net->qhead].at <= net->now) {
            net_deliver_one(net);
            continue;
        }
        for (size_t i = 0; i < net->n; i++)
            if (!net->nodes[i].dead && cordon_core_next_deadline(net->nodes[i].core) <= net->now)
                cordon_core_tick(net->nodes[i].core, net->now);
    }
}

static void net_join_all(struct net *net)
{
    must(cordon_core_join(net->nodes[0].core, net->now, NULL, 0));
    for (size_t i = 1; i < net->n; i++) {
        net_run(net, net->now + 20);
        must(cordon_core_join(net->nodes[i].core, net->now, &net->nodes[0].me, 1));
    }
    net_run(net, net->now + 30000);
}

/* The indexes of the `want` nodes closest to target, closest first. */
static void closest_nodes(const struct net *net, const uint8_t target[CORDON_NODE_ID_LEN],
                          size_t *out, size_t want)
{
    size_t n = 0;
    for (size_t i = 0; i < net->n; i++) {
        size_t at = n;
        while (at > 0 && cordon_id_distance_cmp(target, net->nodes[i].me.id,
                                                net->nodes[out[at - 1]].me.id) < 0)
            at--;
        if (at >= want)
            continue;
        size_t last = n < want ? n : want - 1;
        memmove(&out[at + 1], &out[at], (last - at) * sizeof(out[0]));
        out[at] = i;
        if (n < want)
            n++;
    }
    assert_int_equal(n, want);
}

static bool among(const size_t *set, size_t n, size_t i)
{
    for (size_t j = 0; j < n; j++)
        if (set[j] == i)
            return true;
    return false;
}

static struct put_res net_put(struct net *net, size_t writer, const obj *x)
{
    struct put_res r = {0};
    must(cordon_core_put(net->nodes[writer].core, net->now, x->b, x->len, on_put, &r));
    net_run(net, net->now + 60000);
    assert_int_equal(r.calls, 1);
    return r;
}

static void net_get(struct net *net, size_t reader, const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                    struct get_res *g)
{
    memset(g, 0, sizeof(*g));
    must(cordon_core_get(net->nodes[reader].core, net->now, key, on_get, g));
    net_run(net, net->now + 60000);
    assert_int_equal(g->calls, 1);
    assert_true(g->r.asked <= CORDON_GET_ASK_PER_R * 3);
}

/* Exactly the nodes of `holders` hold key, at seq. */
static void expect_holders(struct net *net, const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                           const size_t *holders, size_t n, uint64_t seq)
{
    for (size_t i = 0; i < net->n; i++) {
        uint64_t have = stored_seq(net->nodes[i].be.store, key, net->now);
        if (among(holders, n, i))
            assert_int_equal(have, seq);
        else
            assert_int_equal(have, 0);
    }
}

static void net_quiet(struct net *net)
{
    for (size_t i = 0; i < net->n; i++) {
        struct cordon_core_status st = status_of(net->nodes[i].core);
        assert_int_equal(st.storage_ops, 0);
        assert_int_equal(st.pending, 0);
    }
}

/* ---- puts and gets on a network -------------------------------------------------------------- */

static void test_put_reaches_r_closest(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg); /* r = 3 */
    struct net *net = net_new(32, &cfg, 4242, NULL);
    net_join_all(net);
    enum { PUTS = 32 };
    obj *x[PUTS];
    struct put_res r[PUTS];
    size_t closest[3];
    uint64_t stores_before = 0, stores_after = 0, remote = 0;
    for (size_t i = 0; i < net->n; i++)
        stores_before += net->nodes[i].stores_in;

    /* Every node puts one owned object, all at once. */
    memset(r, 0, sizeof(r));
    for (size_t i = 0; i < PUTS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "obj-%zu", i);
        x[i] = mk(&net->nodes[i].w, CORDON_KIND_OWNED, name, 1, name);
        must(cordon_core_put(net->nodes[i].core, net->now, x[i]->b, x[i]->len, on_put, &r[i]));
    }
    net_run(net, net->now + 60000);
    for (size_t i = 0; i < PUTS; i++) {
        assert_int_equal(r[i].calls, 1);
        must(r[i].err);
        assert_int_equal(r[i].r.replicas, 3);
        assert_int_equal(r[i].r.accepted, 3);
        closest_nodes(net, x[i]->key, closest, 3);
        assert_int_equal(r[i].r.self, among(closest, 3, i));
        remote += 3 - r[i].r.self;
        expect_holders(net, x[i]->key, closest, 3, 1);
    }
    for (size_t i = 0; i < net->n; i++)
        stores_after += net->nodes[i].stores_in;
    assert_int_equal(stores_after - stores_before, remote); /* one STORE per remote replica */
    net_quiet(net);

    /* A shared name whose resource ID has its writer among the three closest: the writer
     * keeps its own copy without a message. */
    size_t placed = 0;
    for (int n = 0; n < 200 && placed < 3; n++) {
        char name[16];
        uint8_t rid[CORDON_NODE_ID_LEN];
        snprintf(name, sizeof(name), "shared-%d", n);
        cordon_object_resource_id(CORDON_KIND_SHARED, OVERLAY, NULL, (const uint8_t *)name,
                                  strlen(name), rid);
        closest_nodes(net, rid, closest, 3);
        size_t wi = closest[placed]; /* the closest, then the second, then the third */
        obj *s = mk(&net->nodes[wi].w, CORDON_KIND_SHARED, name, 1, "mine");
        uint64_t own_before = net->nodes[wi].be.puts, in_before = 0, in_after = 0;
        for (size_t i = 0; i < net->n; i++)
            in_before += net->nodes[i].stores_in;
        struct put_res sr = net_put(net, wi, s);
        must(sr.err);
        assert_true(sr.r.self);
        assert_int_equal(sr.r.accepted, 3);
        assert_int_equal(net->nodes[wi].be.puts, own_before + 1);
        for (size_t i = 0; i < net->n; i++)
            in_after += net->nodes[i].stores_in;
        assert_int_equal(in_after - in_before, 2);
        expect_holders(net, s->key, closest, 3, 1);
        obj_free(s);
        placed++;
    }
    assert_int_equal(placed, 3);
    net_quiet(net);
    for (size_t i = 0; i < PUTS; i++)
        obj_free(x[i]);
    net_free(net);

    /* r comes from the overlay parameters. */
    cordon_core_config_default(&cfg);
    cfg.params.replicas = 5;
    net = net_new(16, &cfg, 99, NULL);
    net_join_all(net);
    size_t five[5];
    obj *y = mk(&net->nodes[3].w, CORDON_KIND_OWNED, "five", 1, "5");
    struct put_res yr = net_put(net, 3, y);
    must(yr.err);
    assert_int_equal(yr.r.replicas, 5);
    assert_int_equal(yr.r.accepted, 5);
    closest_nodes(net, y->key, five, 5);
    expect_holders(net, y->key, five, 5, 1);
    obj_free(y);
    net_free(net);
}

static void test_get_newest(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    struct net *net = net_new(32, &cfg, 777, NULL);
    net_join_all(net);
    const size_t writer = 5;
    size_t closest[3];
    struct get_res g;
    obj *v1 = mk(&net->nodes[writer].w, CORDON_KIND_OWNED, "doc", 1, "first");
    obj *v2 = mk(&net->nodes[writer].w, CORDON_KIND_OWNED, "doc", 2, "second");
    obj *gone = mk_full(&net->nodes[writer].w, CORDON_KIND_OWNED, CORDON_OBJECT_FLAG_TOMBSTONE,
                        "doc", 3, T0, NULL, 0);
    closest_nodes(net, v1->key, closest, 3);

    must(net_put(net, writer, v1).err);
    for (size_t i = 0; i < net->n; i += 3) {
        net_get(net, i, v1->key, &g);
        must(g.err);
        assert_int_equal(g.len, v1->len);
        assert_memory_equal(g.obj, v1->b, v1->len);
        assert_int_equal(g.r.seq, 1);
        assert_int_equal(g.r.found, 3);
        assert_int_equal(g.r.stale + g.r.forged + g.r.failed, 0);
        get_res_clear(&g);
    }

    /* A newer put replaces the older on every replica. */
    struct put_res r = net_put(net, writer, v2);
    must(r.err);
    assert_int_equal(r.r.accepted, 3);
    expect_holders(net, v2->key, closest, 3, 2);
    for (size_t i = 0; i < net->n; i++) {
        net_get(net, i, v2->key, &g);
        must(g.err);
        assert_memory_equal(g.obj, v2->b, v2->len);
        assert_int_equal(g.r.asked, 3);
        assert_int_equal(g.r.stale, 0);
        get_res_clear(&g);
    }

    /* A delete is a newer object too, and a get returns it as such. */
    must(net_put(net, writer, gone).err);
    expect_holders(net, gone->key, closest, 3, 3);
    net_get(net, 20, gone->key, &g);
    must(g.err);
    struct cordon_object o;
    must(cordon_object_decode(g.obj, g.len, &o));
    assert_true(cordon_object_is_tombstone(&o));
    get_res_clear(&g);

    /* An entry nobody wrote: "not found" after 2r asked. */
    uint8_t none[CORDON_OBJECT_ENTRY_KEY_LEN] = {0};
    none[0] = 0x5a;
    net_get(net, 7, none, &g);
    expect_err(g.err, CORDON_ERR_NOT_FOUND);
    assert_int_equal(g.r.asked, CORDON_GET_ASK_PER_R * 3);
    assert_int_equal(g.r.not_found, CORDON_GET_ASK_PER_R * 3);
    get_res_clear(&g);
    for (size_t i = 0; i < net->n; i++) {
        struct cordon_core_status st = status_of(net->nodes[i].core);
        assert_int_equal(st.get_stale + st.get_forged, 0);
    }
    net_quiet(net);
    obj_free(v1);
    obj_free(v2);
    obj_free(gone);
    net_free(net);
}

static void test_put_refused_exactly(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    struct cordon_store_config sc;
    memset(&sc, 0, sizeof(sc));
    sc.value_max = 4096;
    sc.writer_bytes = 3000; /* a 3500-byte value is within value_max but over the quota */
    struct net *net = net_new(32, &cfg, 31337, &sc);
    net_join_all(net);
    const size_t a = 3, b = 7;
    size_t closest[3];
    obj *v2 = mk(&net->nodes[a].w, CORDON_KIND_OWNED, "home", 2, "two");
    obj *v1 = mk(&net->nodes[a].w, CORDON_KIND_OWNED, "home", 1, "one");
    closest_nodes(net, v2->key, closest, 3);
    must(net_put(net, a, v2).err);

    /* Stale: the writer learns the seq to beat. */
    struct put_res r = net_put(net, a, v1);
    expect_err(r.err, CORDON_ERR_OBJ_STALE);
    assert_int_equal(r.r.code, CORDON_STORED_STALE);
    assert_int_equal(r.r.accepted, 0);
    assert_int_equal(r.r.refused, 3);
    assert_int_equal(r.r.held, 2);

    /* Another node's owned resource: not allowed, and what is stored stays. */
    obj *squat = mk_squat(&net->nodes[b].w, &net->nodes[a].w, "home", 9);
    assert_memory_equal(squat->key, v2->key, CORDON_OBJECT_ENTRY_KEY_LEN);
    r = net_put(net, b, squat);
    expect_err(r.err, CORDON_ERR_OBJ_NOT_ALLOWED);
    assert_int_equal(r.r.code, CORDON_STORED_NOT_ALLOWED);
    assert_int_equal(r.r.refused, 3);
    expect_holders(net, v2->key, closest, 3, 2);
    /* At a seq not above the stored one it is stale first (the store checks seq before the
     * signature: store/store.h, step 5). */
    obj *low = mk_squat(&net->nodes[b].w, &net->nodes[a].w, "home", 2);
    r = net_put(net, b, low);
    expect_err(r.err, CORDON_ERR_OBJ_STALE);
    assert_int_equal(r.r.held, 2);

    /* Quota, size and time: each its own refusal. */
    uint8_t *val = malloc(5000);
    assert_non_null(val);
    memset(val, 'q', 5000);
    obj *quota = mk_full(&net->nodes[a].w, CORDON_KIND_OWNED, 0, "quota", 1, T0, val, 3500);
    obj *large = mk_full(&net->nodes[a].w, CORDON_KIND_OWNED, 0, "large", 1, T0, val, 5000);
    obj *old = mk_full(&net->nodes[a].w, CORDON_KIND_OWNED, 0, "old", 1, T0 - 2 * LIFE, "o", 1);
    obj *future = mk_full(&net->nodes[a].w, CORDON_KIND_OWNED, 0, "future", 1, T0 + 3600, "f", 1);
    free(val);
    static const struct {
        uint16_t code;
        cordon_err err;
    } want[] = {{CORDON_STORED_QUOTA, CORDON_ERR_OBJ_QUOTA},
                {CORDON_STORED_TOO_LARGE, CORDON_ERR_TOO_LARGE},
                {CORDON_STORED_EXPIRED, CORDON_ERR_OBJ_EXPIRED},
                {CORDON_STORED_FUTURE, CORDON_ERR_OBJ_FUTURE}};
    const obj *objs[] = {quota, large, old, future};
    for (size_t i = 0; i < 4; i++) {
        r = net_put(net, a, objs[i]);
        expect_err(r.err, want[i].err);
        assert_int_equal(r.r.code, want[i].code);
        assert_int_equal(r.r.refused + r.r.failed, 3);
        assert_int_equal(r.r.accepted, 0);
        closest_nodes(net, objs[i]->key, closest, 3);
        expect_holders(net, objs[i]->key, closest, 0, 0);
    }
    for (size_t i = 0; i < net->n; i++)
        must(cordon_store_audit(net->nodes[i].be.store));
    net_quiet(net);
    obj_free(v1);
    obj_free(v2);
    obj_free(squat);
    obj_free(low);
    obj_free(quota);
    obj_free(large);
    obj_free(old);
    obj_free(future);
    net_free(net);
}

/* The first node of `closest` that is not `but`. */
static size_t reader_not_in(const struct net *net, const size_t *closest, size_t n, size_t but)
{
    for (size_t i = 0; i < net->n; i++)
        if (i != but && !among(closest, n, i))
            return i;
    fail_msg("no reader");
    return 0;
}

static void test_get_with_silent_replicas(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    struct net *net = net_new(32, &cfg, 2718, NULL);
    net_join_all(net);
    const size_t writer = 9;
    size_t closest[3];
    struct get_res g;
    obj *x = mk(&net->nodes[writer].w, CORDON_KIND_OWNED, "kept", 1, "value");
    closest_nodes(net, x->key, closest, 3);
    must(net_put(net, writer, x).err);
    size_t reader = reader_not_in(net, closest, 3, writer);

    /* A replica that routes but drops every FETCH (a refusing replica): its request fails,
     * the next closest is asked instead, and the two others answer. */
    net->nodes[closest[0]].deaf_storage = true;
    net_get(net, reader, x->key, &g);
    must(g.err);
    assert_memory_equal(g.obj, x->b, x->len);
    assert_int_equal(g.r.found, 2);
    assert_int_equal(g.r.failed, 1);
    assert_true(g.r.asked >= 4);
    get_res_clear(&g);

    /* A mute replica (down): the lookup goes around it. */
    net->nodes[closest[0]].deaf_storage = false;
    net->nodes[closest[1]].mute = true;
    net_get(net, reader, x->key, &g);
    must(g.err);
    assert_memory_equal(g.obj, x->b, x->len);
    assert_int_equal(g.r.found, 2);
    get_res_clear(&g);

    /* Two of three silent: one is enough. */
    net->nodes[closest[0]].deaf_storage = true;
    net_get(net, reader, x->key, &g);
    must(g.err);
    assert_int_equal(g.r.found, 1);
    get_res_clear(&g);

    /* All three: "not found" from those who answer (the nodes after them hold nothing). */
    net->nodes[closest[2]].mute = true;
    net_get(net, reader, x->key, &g);
    expect_err(g.err, CORDON_ERR_NOT_FOUND);
    assert_int_equal(g.r.found, 0);
    get_res_clear(&g);
    obj_free(x);
    net_free(net);
}

static void test_get_outvotes_stale_and_forged(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    struct net *net = net_new(32, &cfg, 1618, NULL);
    net_join_all(net);
    const size_t writer = 11;
    size_t closest[3];
    struct get_res g;
    obj *v1 = mk(&net->nodes[writer].w, CORDON_KIND_OWNED, "news", 1, "yesterday");
    obj *v2 = mk(&net->nodes[writer].w, CORDON_KIND_OWNED, "news", 2, "today");
    closest_nodes(net, v1->key, closest, 3);
    must(net_put(net, writer, v1).err);

    /* closest[0] acknowledges the newer version and keeps the older one. */
    net->nodes[closest[0]].be.mode = ACK_AND_DROP;
    struct put_res r = net_put(net, writer, v2);
    must(r.err);
    assert_int_equal(r.r.accepted, 3); /* it lied */
    assert_int_equal(stored_seq(net->nodes[closest[0]].be.store, v1->key, net->now), 1);
    assert_int_equal(stored_seq(net->nodes[closest[1]].be.store, v1->key, net->now), 2);
    /* closest[1] serves a tampered copy of what it holds. */
    net->nodes[closest[1]].be.mode = FORGE;

    size_t reader = reader_not_in(net, closest, 3, writer);
    net_get(net, reader, v2->key, &g);
    must(g.err);
    assert_int_equal(g.len, v2->len);
    assert_memory_equal(g.obj, v2->b, v2->len);
    assert_int_equal(g.r.seq, 2);
    assert_int_equal(g.r.stale, 1);
    assert_int_equal(g.r.forged, 1);
    assert_int_equal(g.r.found, 2);
    struct cordon_core_status st = status_of(net->nodes[reader].core);
    assert_int_equal(st.get_stale, 1);
    assert_int_equal(st.get_forged, 1);
    get_res_clear(&g);

    /* Every node reads the genuine newest, the two liars among the readers too. */
    for (size_t i = 0; i < net->n; i++) {
        net_get(net, i, v2->key, &g);
        must(g.err);
        assert_memory_equal(g.obj, v2->b, v2->len);
        if (i != closest[1]) /* the forger's own copy goes through its own backend */
            assert_int_equal(g.r.forged, 1);
        get_res_clear(&g);
    }
    net_quiet(net);
    obj_free(v1);
    obj_free(v2);
    net_free(net);
}

/* ---- replica maintenance ---------------------------------------------------------------------
 */

/* A core on a capture host whose storage offers scan and held. */
static struct capture *capture_new_maint(const struct cordon_core_config *cfg,
                                         const uint8_t self_id[CORDON_NODE_ID_LEN])
{
    struct capture *cap = capture_new(cfg, self_id, true);
    backend_open(&cap->be, NULL);
    cap->be.maintain = true;
    struct cordon_core_storage s = storage_of(&cap->be);
    must(cordon_core_set_storage(cap->core, &s));
    return cap;
}

static void store_directly(cordon_store *st, const obj *x, uint64_t now_ms)
{
    struct cordon_object o;
    must(cordon_store_put(st, verifier, x->b, x->len, unix_now(now_ms), &o));
}

/* The indexes of the `want` live nodes closest to target, closest first. */
static void closest_alive(const struct net *net, const uint8_t target[CORDON_NODE_ID_LEN],
                          size_t *out, size_t want)
{
    size_t n = 0;
    for (size_t i = 0; i < net->n; i++) {
        if (net->nodes[i].dead)
            continue;
        size_t at = n;
        while (at > 0 && cordon_id_distance_cmp(target, net->nodes[i].me.id,
                                                net->nodes[out[at - 1]].me.id) < 0)
            at--;
        if (at >= want)
            continue;
        size_t last = n < want ? n : want - 1;
        memmove(&out[at + 1], &out[at], (last - at) * sizeof(out[0]));
        out[at] = i;
        if (n < want)
            n++;
    }
    assert_int_equal(n, want);
}

/* Runs on until no request is in flight anywhere (a pass that started is then over). */
static void net_settle(struct net *net)
{
    for (int i = 0; i < 1000; i++) {
        bool busy = false;
        for (size_t j = 0; j < net->n; j++)
            busy |= !net->nodes[j].dead && status_of(net->nodes[j].core).pending > 0;
        if (!busy && net->qlen == 0)
            return;
        net_run(net, net->now + 100);
    }
    fail_msg("the network does not settle");
}

/* A joined network of 32 in which `writer` has put one object, placed on its 3 closest and
 * settled; closest gets the n nodes closest to its key, closest first. */
static struct net *net_with_object(const struct cordon_core_config *cfg, uint64_t seed,
                                   size_t writer, const char *name, const char *value,
                                   size_t *closest, size_t n, obj **out)
{
    struct net *net = net_make(32, cfg, seed, NULL, true);
    net_join_all(net);
    obj *x = mk(&net->nodes[writer].w, CORDON_KIND_OWNED, name, 1, value);
    closest_nodes(net, x->key, closest, n);
    must(net_put(net, writer, x).err);
    net_settle(net);
    *out = x;
    return net;
}

/* (a) Two of three replicas die: a maintenance pass of the third gives the object to the
 * nodes now closest (the dead ones, suspect after their failed SUMMARY, are passed over),
 * and a get finds it there. */
static void test_maintain_replaces_dead_replicas(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg); /* r = 3, a pass a minute */
    const size_t writer = 5;
    size_t c[5], now_closest[3];
    obj *x = NULL;
    struct net *net = net_with_object(&cfg, 5150, writer, "survivor", "still here", c, 5, &x);
    expect_holders(net, x->key, c, 3, 1); /* maintenance moved nothing: all in place */
    uint64_t pushed = 0, accepted = 0;
    for (size_t i = 0; i < net->n; i++) {
        pushed += status_of(net->nodes[i].core).maintain_pushed;
        accepted += status_of(net->nodes[i].core).maintain_accepted;
    }
    assert_int_equal(pushed, 0);
    assert_int_equal(accepted, 0);

    net->nodes[c[0]].dead = true;
    net->nodes[c[1]].dead = true;
    net_run(net, net->now + 4 * 60000);
    net_settle(net);
    closest_alive(net, x->key, now_closest, 3);
    assert_int_equal(now_closest[0], c[2]);
    assert_int_equal(now_closest[1], c[3]);
    assert_int_equal(now_closest[2], c[4]);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(stored_seq(net->nodes[now_closest[i]].be.store, x->key, net->now), 1);
    struct cordon_core_status st = status_of(net->nodes[c[2]].core);
    assert_true(st.maintain_passes >= 2);
    assert_int_equal(st.maintain_pushed, 2); /* one STORE to each newcomer, once */
    assert_int_equal(st.maintain_accepted, 2);

    struct get_res g;
    size_t reader = reader_not_in(net, c, 5, writer);
    net_get(net, reader, x->key, &g);
    must(g.err);
    assert_int_equal(g.len, x->len);
    assert_memory_equal(g.obj, x->b, x->len);
    get_res_clear(&g);
    obj_free(x);
    net_free(net);
}

/* (a2) The same loss, met by one pass: the SUMMARYs to the two dead replicas fail, and the
 * pass hands their entry at once to the next closest nodes (retarget) instead of leaving
 * it on one live copy until the next pass, an hour later here. */
static void test_maintain_retargets_within_a_pass(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    cfg.maintain_ms = 3600 * 1000;           /* one periodic pass in the window below */
    cfg.maintain_watch_ms = cfg.maintain_ms; /* nor a watch ping (the next test) */
    cfg.refresh_ms = 24 * 3600 * 1000;       /* no refresh finds the dead before the pass does */
    size_t c[5];
    obj *x = NULL;
    struct net *net = net_with_object(&cfg, 5151, 5, "one pass", "soon placed", c, 5, &x);
    expect_holders(net, x->key, c, 3, 1);

    net->nodes[c[0]].dead = true;
    net->nodes[c[1]].dead = true;
    uint64_t passes = status_of(net->nodes[c[2]].core).maintain_passes;
    /* Steps of 0.5 s until the survivor's next pass is over (the first one is jittered
     * within the hour); the pass ends only when its SUMMARYs have resolved. Its failed
     * SUMMARYs schedule an early pass maintain_soon_ms later: what is checked here is
     * done before that one. */
    for (int i = 0; i < 8000 && status_of(net->nodes[c[2]].core).maintain_passes == passes; i++)
        net_run(net, net->now + 500);
    net_run(net, net->now + 500); /* the pushes' STOREDs */
    struct cordon_core_status st = status_of(net->nodes[c[2]].core);
    assert_int_equal(st.maintain_passes, passes + 1); /* still the one pass */
    assert_int_equal(st.maintain_retargeted, 2);      /* c[3] and c[4], once each */
    assert_int_equal(st.maintain_pushed, 2);
    assert_int_equal(st.maintain_accepted, 2);
    assert_int_equal(stored_seq(net->nodes[c[3]].be.store, x->key, net->now), 1);
    assert_int_equal(stored_seq(net->nodes[c[4]].be.store, x->key, net->now), 1);
    obj_free(x);
    net_free(net);
}

/* Runs until c's next pass is over (at most 4,000 s, in steps of 0.5 s); its count. */
static uint64_t net_until_pass(struct net *net, size_t c)
{
    uint64_t passes = status_of(net->nodes[c].core).maintain_passes;
    for (int i = 0; i < 8000 && status_of(net->nodes[c].core).maintain_passes == passes; i++)
        net_run(net, net->now + 500);
    assert_int_equal(status_of(net->nodes[c].core).maintain_passes, passes + 1);
    return passes + 1;
}

/* (a2b) Between passes a holder pings the other replicas it met in its last pass, or in
 * the STOREs that made it a replica: two of three depart, and the third, an hour from its
 * next periodic pass, replaces them within maintain_watch_ms and a round trip. watch 2:
 * after a pass; 1: right after the put, no pass since; 0: the watch as slow as the period,
 * and nothing happens in that time: the watch is what notices. */
static void test_maintain_watch_notices_departures(void **state)
{
    (void)state;
    for (int watch = 2; watch >= 0; watch--) {
        struct cordon_core_config cfg;
        cordon_core_config_default(&cfg);
        cfg.maintain_ms = 3600 * 1000;
        cfg.refresh_ms = 24 * 3600 * 1000;
        if (!watch)
            cfg.maintain_watch_ms = cfg.maintain_ms;
        size_t c[5];
        obj *x = NULL;
        struct net *net = net_with_object(&cfg, 5153, 5, "watched", "kept", c, 5, &x);
        /* The survivor's first pass (jittered within the hour) finds the replicas to watch;
         * or the put's STORE told it already. */
        uint64_t passes = status_of(net->nodes[c[2]].core).maintain_passes;
        if (watch != 1)
            passes = net_until_pass(net, c[2]);
        net_run(net, net->now + 1000);
        assert_int_equal(status_of(net->nodes[c[2]].core).maintain_passes, passes);
        struct cordon_core_status before = status_of(net->nodes[c[2]].core);
        net->nodes[c[0]].dead = true;
        net->nodes[c[1]].dead = true;
        net_run(net, net->now + cfg.maintain_watch_ms / (watch ? 1 : 720) + 1000);
        struct cordon_core_status st = status_of(net->nodes[c[2]].core);
        uint64_t held3 = stored_seq(net->nodes[c[3]].be.store, x->key, net->now);
        uint64_t held4 = stored_seq(net->nodes[c[4]].be.store, x->key, net->now);
        if (watch) {
            /* A partner heard from within half a period is not pinged that round: the pass
             * the other's failed ping starts may meet it first (its SUMMARY fails and is
             * retargeted), so one or two watch failures, and one pass per failure at most. */
            uint64_t failed = st.maintain_watch_failed - before.maintain_watch_failed;
            assert_true(failed >= 1 && failed <= 2);
            assert_true(failed == 2 || st.maintain_retargeted > before.maintain_retargeted);
            assert_true(st.maintain_watched - before.maintain_watched >= failed);
            assert_true(st.maintain_passes >= passes + 1 && st.maintain_passes <= passes + failed);
            assert_int_equal(st.maintain_pushed - before.maintain_pushed, 2);
            assert_int_equal(held3, 1);
            assert_int_equal(held4, 1);
        } else {
            assert_int_equal(st.maintain_watched, 0);
            assert_int_equal(st.maintain_passes, passes);
            assert_int_equal(held3 + held4, 0);
        }
        obj_free(x);
        net_free(net);
    }
}

/* A replica that goes silent (a crash: no link fails, nothing answers) is noticed a few
 * round trips after the watch's ping to it, not rpc_timeout_ms after: the pings and the
 * pass's SUMMARYs and WANTs gave the survivor round-trip samples of 20 ms here, so the ping
 * fails after watch_timeout_min_ms, and the entry has its third copy again within a watch
 * period, that timeout and a few round trips. With the floor at rpc_timeout_ms, the ping
 * waits the whole second, as every ping did before. */
static void test_maintain_watch_times_out_in_round_trips(void **state)
{
    (void)state;
    for (int slow = 0; slow <= 1; slow++) {
        struct cordon_core_config cfg;
        cordon_core_config_default(&cfg);
        cfg.maintain_ms = 3600 * 1000;
        cfg.refresh_ms = 24 * 3600 * 1000;
        if (slow)
            cfg.watch_timeout_min_ms = cfg.rpc_timeout_ms;
        size_t c[4];
        obj *x = NULL;
        struct net *net = net_with_object(&cfg, 5155, 5, "silent", "kept", c, 4, &x);
        net_until_pass(net, c[2]);
        net_run(net, net->now + 1000);
        net->nodes[c[0]].mute = true;
        uint64_t muted = net->now;
        /* Steps of 1 ms: when c[2] sent watch pings, and when one failed. */
        struct cordon_core_status st = status_of(net->nodes[c[2]].core);
        uint64_t watched = st.maintain_watched, failed = st.maintain_watch_failed;
        uint64_t rounds[8], failed_at = 0;
        size_t nrounds = 0;
        for (int i = 0; i < 8000 && failed_at == 0; i++) {
            net_run(net, net->now + 1);
            st = status_of(net->nodes[c[2]].core);
            if (st.maintain_watched != watched && nrounds < 8)
                rounds[nrounds++] = net->now;
            watched = st.maintain_watched;
            if (st.maintain_watch_failed != failed)
                failed_at = net->now;
        }
        assert_true(failed_at != 0);
        /* The failing ping went out a timeout before, in a round of pings. */
        uint64_t timeout = slow ? cfg.rpc_timeout_ms : cfg.watch_timeout_min_ms;
        size_t k = 0;
        while (k < nrounds && rounds[k] + timeout != failed_at)
            k++;
        assert_true(k < nrounds);
        /* c[0], deaf, still sends until its own ping to c[2] fails (up to a period and
         * that timeout after the mute); c[2] pings it in its first round that finds it
         * quiet for half a period (up to one and a half periods later). */
        assert_true(failed_at - muted <= 3 * cfg.maintain_watch_ms + 2 * timeout);
        net_run(net, failed_at + 6 * LATENCY_MS); /* SUMMARY, WANT, STORE */
        assert_int_equal(stored_seq(net->nodes[c[3]].be.store, x->key, net->now), 1);
        obj_free(x);
        net_free(net);
    }
}

/* The replicas of an object watch each other, and a replica that answers is pinged at most
 * once per maintain_watch_ms by each other replica, less when it shows itself alive (a
 * ping it sends counts): three replicas, 60 s, no other traffic. With passes every 2 s
 * (SUMMARYs and WANTs both ways, so every replica heard from every other within half the
 * watch period), none at all. */
static void test_maintain_watch_is_quiet(void **state)
{
    (void)state;
    for (int busy = 0; busy <= 1; busy++) {
        struct cordon_core_config cfg;
        cordon_core_config_default(&cfg);
        cfg.maintain_ms = busy ? 2000 : 3600 * 1000;
        cfg.maintain_soon_ms = busy ? 2000 : cfg.maintain_soon_ms;
        cfg.maintain_watch_ms = busy ? 2000 : 5000;
        cfg.refresh_ms = 24 * 3600 * 1000;
        size_t c[3];
        obj *x = NULL;
        struct net *net = net_with_object(&cfg, 5154, 5, "quiet", "alive", c, 3, &x);
        net_until_pass(net, c[2]);
        uint64_t pings = 0;
        for (size_t i = 0; i < 3; i++)
            pings += status_of(net->nodes[c[i]].core).maintain_watched;
        net_run(net, net->now + 60000);
        uint64_t after = 0;
        for (size_t i = 0; i < 3; i++) {
            struct cordon_core_status st = status_of(net->nodes[c[i]].core);
            after += st.maintain_watched;
            assert_int_equal(st.maintain_watch_failed, 0);
        }
        if (busy) {
            assert_int_equal(after, pings);
        } else {
            /* Three pairs, twelve periods: at least one ping per pair and period but the
             * first, at most one each way and a round more. */
            assert_true(after - pings >= 3 * 11);
            assert_true(after - pings <= 3 * 2 * 13);
        }
        obj_free(x);
        net_free(net);
    }
}

/* (a3) A replica's failure that any other request meets (here a get's FETCH) schedules an
 * early pass maintain_soon_ms later, as a join does: the holder replaces it long before
 * its next periodic pass, an hour away. */
static void test_maintain_soon_after_a_failure(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    cfg.maintain_ms = 3600 * 1000;
    cfg.refresh_ms = 24 * 3600 * 1000;
    size_t c[4];
    obj *x = NULL;
    struct net *net = net_with_object(&cfg, 5152, 5, "noticed", "replaced soon", c, 4, &x);
    uint64_t passes = status_of(net->nodes[c[2]].core).maintain_passes;
    assert_int_equal(stored_seq(net->nodes[c[3]].be.store, x->key, net->now), 0);

    net->nodes[c[0]].dead = true;
    struct get_res g;
    memset(&g, 0, sizeof(g));
    uint64_t t0 = net->now;
    must(cordon_core_get(net->nodes[c[2]].core, net->now, x->key, on_get, &g));
    /* The FETCH to c[0] fails at once (its link), then maintain_soon_ms and up to half of
     * it, then a SUMMARY, a WANT and a STORE. */
    net_run(net, t0 + cfg.maintain_soon_ms * 3 / 2 + 2000);
    assert_int_equal(g.calls, 1);
    get_res_clear(&g);
    assert_int_equal(status_of(net->nodes[c[2]].core).maintain_passes, passes + 1);
    assert_int_equal(stored_seq(net->nodes[c[3]].be.store, x->key, net->now), 1);
    obj_free(x);
    net_free(net);
}

/* (b) A node that joins closest to a resource gets its object from the early pass that its
 * arrival in the replicas' tables schedules, maintain_soon_ms (and up to half again) later,
 * not a period later. */
static void test_maintain_joiner_gets_objects_soon(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    cfg.maintain_ms = 3600 * 1000; /* an hour: the periodic pass is not what delivers it */
    struct net *net = net_make(32, &cfg, 8080, NULL, true);
    const size_t writer = 3, joiner = 31;
    /* A name whose resource ID is closer to the joiner than to any other node. */
    char name[32];
    size_t c[1] = {0};
    uint8_t rid[CORDON_NODE_ID_LEN];
    int tries = 0;
    for (;; tries++) {
        assert_true(tries < 2000);
        snprintf(name, sizeof(name), "near-%d", tries);
        cordon_object_resource_id(CORDON_KIND_OWNED, OVERLAY, net->nodes[writer].w.id,
                                  (const uint8_t *)name, strlen(name), rid);
        closest_nodes(net, rid, c, 1);
        if (c[0] == joiner)
            break;
    }
    net->n = 31; /* the joiner is not there yet */
    net_join_all(net);
    obj *x = mk(&net->nodes[writer].w, CORDON_KIND_OWNED, name, 1, "for the newcomer");
    must(net_put(net, writer, x).err);
    net_settle(net);
    assert_int_equal(stored_seq(net->nodes[joiner].be.store, x->key, net->now), 0);

    net->n = 32;
    uint64_t joined = net->now;
    must(cordon_core_join(net->nodes[joiner].core, net->now, &net->nodes[0].me, 1));
    /* The join's lookups, then maintain_soon_ms + up to half of it, then a SUMMARY, a WANT
     * and a STORE of 10 ms each. */
    net_run(net, joined + cfg.maintain_soon_ms * 3 / 2 + 1000);
    assert_int_equal(stored_seq(net->nodes[joiner].be.store, x->key, net->now), 1);
    assert_true(net->nodes[joiner].stores_in >= 1);
    assert_true(status_of(net->nodes[joiner].core).stores_accepted >= 1);
    obj_free(x);
    net_free(net);
}

/* (c) Replicas that hold the same seq exchange SUMMARYs and empty WANTs, and no STORE: two
 * SUMMARYs a pass from each of the three holders (one to each other holder), none from
 * the other nodes, whose stores are empty. */
static void test_maintain_sends_nothing_held(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    size_t c[3];
    obj *x = NULL;
    struct net *net = net_with_object(&cfg, 6502, 17, "steady", "same everywhere", c, 3, &x);
    struct cordon_core_status before[32];
    uint64_t stores_before = 0, stores_after = 0;
    for (size_t i = 0; i < net->n; i++) {
        before[i] = status_of(net->nodes[i].core);
        stores_before += net->nodes[i].stores_in;
    }
    net_run(net, net->now + 3 * 60000);
    net_settle(net);
    uint64_t sent = 0, served = 0;
    for (size_t i = 0; i < net->n; i++) {
        struct cordon_core_status st = status_of(net->nodes[i].core);
        uint64_t d_sent = st.summaries_sent - before[i].summaries_sent;
        uint64_t d_passes = st.maintain_passes - before[i].maintain_passes;
        stores_after += net->nodes[i].stores_in;
        assert_int_equal(st.maintain_pushed, 0);
        assert_int_equal(st.maintain_accepted, 0);
        assert_true(d_passes >= 2); /* three periods: every node passed, holder or not */
        if (among(c, 3, i))
            assert_int_equal(d_sent, 2 * d_passes);
        else
            assert_int_equal(d_sent, 0);
        sent += d_sent;
        served += st.summaries_served - before[i].summaries_served;
    }
    assert_true(sent >= 3 * 2 * 2);
    assert_int_equal(served, sent);                /* each answered with a WANT, and... */
    assert_int_equal(stores_after, stores_before); /* ...every WANT empty */
    expect_holders(net, x->key, c, 3, 1);
    obj_free(x);
    net_free(net);
}

/* A core that joined through peers[0] and knows every peer of peers[0..n). */
static void capture_join(struct capture *cap, uint64_t *now, const struct cordon_contact *peers,
                         size_t n)
{
    must(cordon_core_join(cap->core, *now, &peers[0], 1));
    answer_simple(cap->core, *now, &peers[0], CORDON_MSG_PONG, only_sent(cap)->m.txid);
    answer_finds(cap, *now);
    for (size_t i = 1; i < n; i++)
        send_ping(cap->core, *now, &peers[i], 100 + (uint32_t)i);
    assert_int_equal(status_of(cap->core).table_size, n);
    capture_clear(cap);
}

/* Ticks the core at its deadlines until it sends SUMMARYs (answering lookups on the way). */
static void tick_until_summary(struct capture *cap, uint64_t *now)
{
    for (int i = 0; i < 100; i++) {
        *now = cordon_core_next_deadline(cap->core);
        assert_true(*now != UINT64_MAX);
        cordon_core_tick(cap->core, *now);
        answer_finds(cap, *now);
        if (count_type(cap, CORDON_MSG_SUMMARY) > 0)
            return;
        capture_clear(cap);
    }
    fail_msg("no maintenance pass");
}

static void answer_want(cordon_core *core, uint64_t now, const struct cordon_contact *from,
                        uint32_t txid, const uint8_t *index, uint8_t count)
{
    struct cordon_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CORDON_MSG_WANT;
    m.flags = CORDON_MSG_FLAG_RESPONSE;
    m.txid = txid;
    m.u.want.count = count;
    memcpy(m.u.want.index, index, count);
    deliver(core, now, from, &m);
}

/* (d) The requester checks WANTs: an index at or past the count of the SUMMARY it sent, or
 * a WANT it never asked for, is dropped and counted, and pushes nothing; a good one gets
 * its STORE, whose STORED counts as accepted. */
static void test_maintain_checks_wants(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    uint64_t rng = 31337, now = 1000;
    enum { PEERS = 4 };
    uint8_t self[CORDON_NODE_ID_LEN];
    fill_xorshift(&rng, self, sizeof(self));
    /* The periods' ranges: 1..a day, and an early pass not later than a periodic one. */
    struct cordon_core_config bad = cfg;
    struct cordon_contact me = contact4(self, 200, 0);
    struct cordon_core_host nohost = {.ctx = NULL, .send = capture_send, .random = capture_random};
    cordon_core *none = NULL;
    bad.maintain_ms = 0;
    expect_err(cordon_core_new(&bad, &me, &nohost, &none), CORDON_ERR_INVAL);
    bad.maintain_ms = 86400001;
    expect_err(cordon_core_new(&bad, &me, &nohost, &none), CORDON_ERR_INVAL);
    bad = cfg;
    bad.maintain_soon_ms = 0;
    expect_err(cordon_core_new(&bad, &me, &nohost, &none), CORDON_ERR_INVAL);
    bad.maintain_soon_ms = cfg.maintain_ms + 1;
    expect_err(cordon_core_new(&bad, &me, &nohost, &none), CORDON_ERR_INVAL);
    assert_null(none);
    struct capture *cap = capture_new_maint(&cfg, self);
    struct cordon_contact peer[PEERS];
    for (size_t i = 0; i < PEERS; i++) {
        uint8_t id[CORDON_NODE_ID_LEN];
        fill_xorshift(&rng, id, sizeof(id));
        peer[i] = contact4(id, 1, (uint8_t)i);
    }
    struct writer w;
    writer_make(&w, peer[0].id);
    obj *x = mk(&w, CORDON_KIND_OWNED, "checked", 1, "v");
    store_directly(cap->be.store, x, now);
    capture_join(cap, &now, peer, PEERS);

    /* The replicas: the 3 closest of the 4 peers and this node, but this node. */
    size_t closer = 0;
    for (size_t i = 0; i < PEERS; i++)
        closer += cordon_id_distance_cmp(x->key, peer[i].id, self) < 0;
    size_t targets = closer >= 3 ? 3 : 2;
    tick_until_summary(cap, &now);
    assert_int_equal(count_type(cap, CORDON_MSG_SUMMARY), targets);
    struct sent sum[3];
    size_t ns = 0;
    for (size_t i = 0; i < cap->n; i++) {
        if (cap->sent[i].m.type != CORDON_MSG_SUMMARY)
            continue;
        sum[ns++] = cap->sent[i];
        assert_int_equal(cap->sent[i].m.u.summary.count, 1);
        assert_memory_equal(cap->sent[i].m.u.summary.entries[0].key, x->key,
                            CORDON_OBJECT_ENTRY_KEY_LEN);
        assert_int_equal(cap->sent[i].m.u.summary.entries[0].seq, 1);
    }
    capture_clear(cap);
    struct cordon_core_status st = status_of(cap->core);
    assert_int_equal(st.summaries_sent, targets);
    uint64_t unsolicited = st.dropped_unsolicited;

    /* Index 1 of a one-entry SUMMARY: dropped, counted, nothing pushed. */
    const uint8_t one[1] = {1}, zero[1] = {0};
    answer_want(cap->core, now, &sum[0].to, sum[0].m.txid, one, 1);
    assert_int_equal(cap->n, 0);
    st = status_of(cap->core);
    assert_int_equal(st.dropped_unsolicited, unsolicited + 1);
    /* Its SUMMARY is answered: a second WANT for it was never asked for. So is a WANT from
     * another node than the one asked, and one with a txid no one used. */
    answer_want(cap->core, now, &sum[0].to, sum[0].m.txid, zero, 1);
    answer_want(cap->core, now, &sum[0].to, sum[1].m.txid, zero, 1);
    answer_want(cap->core, now, &sum[1].to, sum[1].m.txid ^ 0x5a5a5a5a, zero, 1);
    assert_int_equal(cap->n, 0);
    st = status_of(cap->core);
    assert_int_equal(st.dropped_unsolicited, unsolicited + 4);
    assert_int_equal(st.maintain_pushed, 0);
    assert_int_equal(st.maintain_passes, 0);

    /* A good WANT: the object goes to that node in a STORE; its STORED counts accepted. */
    answer_want(cap->core, now, &sum[1].to, sum[1].m.txid, zero, 1);
    const struct sent *store = only_sent(cap);
    assert_int_equal(store->m.type, CORDON_MSG_STORE);
    assert_memory_equal(store->to.id, sum[1].to.id, CORDON_NODE_ID_LEN);
    assert_int_equal(store->m.u.store.len, x->len);
    assert_memory_equal(store->m.u.store.object, x->b, x->len);
    uint32_t store_txid = store->m.txid;
    capture_clear(cap);
    assert_int_equal(status_of(cap->core).maintain_pushed, 1);
    answer_stored(cap->core, now, &sum[1].to, store_txid, CORDON_STORED_ACCEPTED, 1);
    /* The third target, if any, wants nothing: the pass is over. */
    if (ns == 3)
        answer_want(cap->core, now, &sum[2].to, sum[2].m.txid, zero, 0);
    assert_int_equal(cap->n, 0);
    st = status_of(cap->core);
    assert_int_equal(st.maintain_pushed, 1);
    assert_int_equal(st.maintain_accepted, 1);
    assert_int_equal(st.maintain_passes, 1);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.storage_ops, 0);
    obj_free(x);
    writer_free(&w);
    capture_free(cap);
}

static void send_summary(cordon_core *core, uint64_t now, const struct cordon_contact *from,
                         uint32_t txid, const struct cordon_summary_entry *e, size_t n)
{
    struct cordon_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CORDON_MSG_SUMMARY;
    m.txid = txid;
    m.u.summary.count = (uint8_t)n;
    memcpy(m.u.summary.entries, e, n * sizeof(*e));
    deliver(core, now, from, &m);
}

/* (e) A node wants the entries it holds at a lower seq or not at all, whatever its own
 * table says of their resources: the sender's table chose it, and a node that declined
 * what it thought another's would leave the sender believing it held them (an empty WANT
 * says nothing else). It never wants what it holds at the same or a higher seq. */
static void test_maintain_wants_what_it_lacks(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg); /* r = 3: "near" is among the 6 closest */
    enum { PEERS = 8 };
    uint8_t wid[CORDON_NODE_ID_LEN];
    memset(wid, 0x33, sizeof(wid));
    struct writer w;
    writer_make(&w, wid);
    obj *x = mk(&w, CORDON_KIND_OWNED, "mine", 1, "v");
    /* This node's ID is x's resource ID; the peers are at the far end of the ID space. */
    uint8_t self[CORDON_NODE_ID_LEN], far[CORDON_NODE_ID_LEN];
    memcpy(self, x->key, CORDON_NODE_ID_LEN);
    for (size_t i = 0; i < CORDON_NODE_ID_LEN; i++)
        far[i] = (uint8_t)~self[i];
    struct capture *cap = capture_new_maint(&cfg, self);
    uint64_t now = 1000;
    store_directly(cap->be.store, x, now);
    struct cordon_contact peer[PEERS];
    for (size_t i = 0; i < PEERS; i++) {
        uint8_t id[CORDON_NODE_ID_LEN];
        memcpy(id, far, sizeof(id));
        id[CORDON_NODE_ID_LEN - 1] ^= (uint8_t)(i + 1);
        peer[i] = contact4(id, 2, (uint8_t)i);
        send_ping(cap->core, now, &peer[i], 200 + (uint32_t)i);
    }
    assert_int_equal(status_of(cap->core).table_size, PEERS);
    capture_clear(cap);

    /* x's entry (held at 1), another writer's entry of the same resource (not held), and
     * an entry of a resource the 8 peers are all closer to: sorted by key. */
    struct cordon_summary_entry e[3], t;
    memset(e, 0, sizeof(e));
    memcpy(e[0].key, x->key, CORDON_OBJECT_ENTRY_KEY_LEN);
    e[0].seq = 1;
    memcpy(e[1].key, x->key, CORDON_OBJECT_ENTRY_KEY_LEN);
    e[1].key[CORDON_OBJECT_ENTRY_KEY_LEN - 1] = 1;
    e[1].seq = 4;
    memcpy(e[2].key, far, CORDON_NODE_ID_LEN);
    e[2].seq = 4;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i + 1 < 3; i++)
            if (memcmp(e[i].key, e[i + 1].key, CORDON_OBJECT_ENTRY_KEY_LEN) > 0) {
                t = e[i];
                e[i] = e[i + 1];
                e[i + 1] = t;
            }
    size_t held = 0;
    while (e[held].seq != 1)
        held++;

    send_summary(cap->core, now, &peer[0], 77, e, 3);
    const struct sent *s = only_sent(cap);
    assert_int_equal(s->m.type, CORDON_MSG_WANT);
    assert_int_equal(s->m.txid, 77);
    assert_int_equal(s->m.u.want.count, 2); /* all but x's, held at its seq */
    for (size_t j = 0; j < 2; j++)
        assert_int_not_equal(s->m.u.want.index[j], held);
    assert_int_equal(cap->be.helds, 3);
    capture_clear(cap);

    /* A newer seq of x: wanted. */
    struct cordon_summary_entry newer = {.seq = 2};
    memcpy(newer.key, x->key, CORDON_OBJECT_ENTRY_KEY_LEN);
    send_summary(cap->core, now, &peer[1], 78, &newer, 1);
    s = only_sent(cap);
    assert_int_equal(s->m.u.want.count, 1);
    assert_int_equal(s->m.u.want.index[0], 0);
    capture_clear(cap);

    /* Only far entries, not held: both wanted (the sender's table put them here). */
    struct cordon_summary_entry far_only[2];
    memset(far_only, 0, sizeof(far_only));
    memcpy(far_only[0].key, far, CORDON_NODE_ID_LEN);
    far_only[0].seq = 9;
    memcpy(far_only[1].key, peer[3].id, CORDON_NODE_ID_LEN);
    far_only[1].seq = 9;
    if (memcmp(far_only[0].key, far_only[1].key, CORDON_OBJECT_ENTRY_KEY_LEN) > 0) {
        t = far_only[0];
        far_only[0] = far_only[1];
        far_only[1] = t;
    }
    send_summary(cap->core, now, &peer[2], 79, far_only, 2);
    s = only_sent(cap);
    assert_int_equal(s->m.type, CORDON_MSG_WANT);
    assert_int_equal(s->m.u.want.count, 2);
    assert_int_equal(cap->be.helds, 6);
    capture_clear(cap);
    struct cordon_core_status st = status_of(cap->core);
    assert_int_equal(st.summaries_served, 3);
    assert_int_equal(st.stores_served, 0);
    assert_int_equal(stored_seq(cap->be.store, x->key, now), 1);
    obj_free(x);
    writer_free(&w);
    capture_free(cap);
}

/* (f) Maintenance never takes an entry back: a replica that holds a newer seq than the
 * others pushes it to them, and a replica that wants what it already holds newer (its held
 * forgets) gets STOREs that its store refuses as stale, and keeps the newer object. */
static void test_maintain_never_regresses(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    struct net *net = net_make(32, &cfg, 1234, NULL, true);
    net_join_all(net);
    const size_t writer = 20;
    size_t c[3];
    obj *v1 = mk(&net->nodes[writer].w, CORDON_KIND_OWNED, "news", 1, "yesterday");
    obj *v2 = mk(&net->nodes[writer].w, CORDON_KIND_OWNED, "news", 2, "today");
    closest_nodes(net, v1->key, c, 3);
    must(net_put(net, writer, v1).err);
    net_settle(net);
    expect_holders(net, v1->key, c, 3, 1);
    struct node *r = &net->nodes[c[0]];
    store_directly(r->be.store, v2, net->now);
    r->be.mode = FORGETFUL;
    uint64_t r_stores = r->stores_in, r_accepted = status_of(r->core).stores_accepted;
    net_run(net, net->now + 3 * 60000);
    net_settle(net);
    expect_holders(net, v1->key, c, 3, 2); /* the newer one reached the two others */
    assert_true(r->stores_in > r_stores);  /* the others pushed to it... */
    assert_int_equal(status_of(r->core).stores_accepted, r_accepted); /* ...in vain */
    struct cordon_core_status st = status_of(r->core);
    assert_int_equal(st.maintain_pushed, 2);
    assert_int_equal(st.maintain_accepted, 2);
    obj_free(v1);
    obj_free(v2);
    net_free(net);
}

/* ---- random events ----------------------------------------------------------------------------
 */

/* One core under random traffic: requests of every kind from many peers, answers of the right
 * and the wrong types (good, stale, forged and foreign objects, every STORED code, errors),
 * link failures, forgets, ticks, and puts and gets started at random. Every operation ends
 * with exactly one callback; caps hold throughout. */
static void test_random_storage_events(void **state)
{
    (void)state;
    struct cordon_core_config cfg;
    cordon_core_config_default(&cfg);
    cfg.params.k = 4;
    cfg.params.disjoint_paths = 2;
    cfg.params.replicas = 2;
    cfg.rpc_timeout_ms = 200;
    uint64_t rng = 99991, now = 1000;
    enum { PEERS = 24, OBJS = 6, OPS = 400 };
    uint8_t self[CORDON_NODE_ID_LEN];
    fill_xorshift(&rng, self, sizeof(self));
    struct capture *cap = capture_new(&cfg, self, false);
    cordon_core *core = cap->core;
    struct cordon_contact peer[PEERS];
    for (unsigned i = 0; i < PEERS; i++) {
        uint8_t id[CORDON_NODE_ID_LEN];
        fill_xorshift(&rng, id, sizeof(id));
        peer[i] = contact4(id, (uint8_t)(i % 5), (uint8_t)i);
    }
    struct writer w;
    writer_make(&w, peer[0].id);
    obj *good[OBJS], *bad[OBJS];
    for (int i = 0; i < OBJS; i++) {
        char name[8];
        snprintf(name, sizeof(name), "r%d", i % 3); /* three entries, two versions each */
        good[i] = mk(&w, CORDON_KIND_OWNED, name, (uint64_t)(1 + i / 3), name);
        bad[i] = tampered(good[i]);
    }
    struct put_res *pr = calloc(OPS, sizeof(*pr));
    struct get_res *gr = calloc(OPS, sizeof(*gr));
    assert_non_null(pr);
    assert_non_null(gr);
    size_t puts = 0, gets = 0;
    uint64_t answered = 0;

    for (int step = 0; step < 20000; step++) {
        uint64_t r = xorshift(&rng);
        const struct cordon_contact *from = &peer[r % PEERS];
        int what = (int)((r >> 8) % 16);
        if (what < 6 && core->npend > 0) {
            /* Answer a pending request, usually from the node asked, usually in kind. */
            const struct pending *p = &core->pend[(r >> 12) % core->npend];
            struct cordon_contact to = p->to;
            uint32_t txid = p->txid;
            uint8_t type = p->type;
            if ((r >> 20) % 8 == 0)
                to = peer[(r >> 24) % PEERS];
            unsigned how = (unsigned)((r >> 28) % 8);
            if (how == 0) {
                answer_simple(core, now, &to, CORDON_MSG_ERROR, txid);
            } else if (type == CORDON_MSG_FIND_NODE || how == 1) {
                struct cordon_msg m;
                memset(&m, 0, sizeof(m));
                m.type = CORDON_MSG_NODES;
                m.flags = CORDON_MSG_FLAG_RESPONSE;
                m.txid = txid;
                m.u.nodes.count = (uint8_t)((r >> 32) % 5);
                for (unsigned j = 0; j < m.u.nodes.count; j++)
                    m.u.nodes.contacts[j] = peer[(r >> (36 + j)) % PEERS];
                deliver(core, now, &to, &m);
            } else if (type == CORDON_MSG_STORE || how == 2) {
                static const uint16_t codes[] = {0, 0, 0, 18, 19, 9, 1, 999};
                answer_stored(core, now, &to, txid, codes[(r >> 32) % 8], (r >> 40) % 4);
            } else {
                unsigned pick = (unsigned)((r >> 32) % (2 * OBJS + 1));
                const obj *x = pick == 2 * OBJS ? NULL
                               : pick < OBJS    ? good[pick]
                                                : bad[pick - OBJS];
                answer_object(core, now, &to, txid, x);
            }
            answered++;
        } else if (what < 9) {
            /* A request from a peer. */
            unsigned pick = (unsigned)((r >> 16) % OBJS);
            switch ((r >> 24) % 4) {
            case 0:
                deliver_store(core, now, from, (uint32_t)(r >> 32), good[pick]);
                break;
            case 1:
                deliver_store(core, now, from, (uint32_t)(r >> 32), bad[pick]);
                break;
            case 2:
                deliver_fetch(core, now, from, (uint32_t)(r >> 32), good[pick]->key);
                break;
            default:
                send_ping(core, now, from, (uint32_t)(r >> 32));
                break;
            }
        } else if (what < 11) {
            unsigned pick = (unsigned)((r >> 16) % OBJS);
            cordon_err err;
            if ((r >> 24) % 2 == 0 && puts < OPS) {
                err = cordon_core_put(core, now, good[pick]->b, good[pick]->len, on_put, &pr[puts]);
                assert_true(err == CORDON_OK || err == CORDON_ERR_BUSY);
                if (err == CORDON_OK)
                    puts++;
            } else if (gets < OPS) {
                err = cordon_core_get(core, now, good[pick]->key, on_get, &gr[gets]);
                assert_true(err == CORDON_OK || err == CORDON_ERR_BUSY);
                if (err == CORDON_OK)
                    gets++;
            }
        } else if (what == 11) {
            cordon_core_link_failed(core, now, from);
        } else if (what == 12 && (r >> 16) % 8 == 0) {
            cordon_core_forget(core, from->id);
        } else {
            now += (r >> 16) % 150;
            if (cordon_core_next_deadline(core) <= now)
                cordon_core_tick(core, now);
        }
        if (step == 0)
            must(cordon_core_join(core, now, &peer[1], 1));
        capture_clear(cap);
        struct cordon_core_status st = status_of(core);
        assert_true(st.storage_ops <= CORDON_STORAGE_OPS_MAX);
        assert_true(st.pending <= CORDON_PENDING_MAX);
        assert_true(cordon_core_memory(core) < 1024 * 1024);
    }
    /* Quiet: every operation ends, once. */
    for (int i = 0; i < 2000 && (status_of(core).storage_ops > 0 || status_of(core).lookups > 0);
         i++) {
        now = cordon_core_next_deadline(core);
        cordon_core_tick(core, now);
        capture_clear(cap);
    }
    struct cordon_core_status st = status_of(core);
    assert_int_equal(st.storage_ops, 0);
    assert_int_equal(st.lookups, 0);
    size_t ok_puts = 0, ok_gets = 0;
    for (size_t i = 0; i < puts; i++) {
        assert_int_equal(pr[i].calls, 1);
        ok_puts += pr[i].err == CORDON_OK;
    }
    for (size_t i = 0; i < gets; i++) {
        assert_int_equal(gr[i].calls, 1);
        if (gr[i].err == CORDON_OK) {
            /* Only genuine objects come back. */
            must(cordon_store_check(cap->be.store, verifier, gr[i].obj, gr[i].len, T0, NULL));
            ok_gets++;
        }
        get_res_clear(&gr[i]);
    }
    printf("random storage events: %zu puts (%zu ok), %zu gets (%zu ok), %llu answers, "
           "stores served %llu, fetches served %llu, stale %llu, forged %llu, unsolicited "
           "%llu\n",
           puts, ok_puts, gets, ok_gets, (unsigned long long)answered,
           (unsigned long long)st.stores_served, (unsigned long long)st.fetches_served,
           (unsigned long long)st.get_stale, (unsigned long long)st.get_forged,
           (unsigned long long)st.dropped_unsolicited);
    assert_true(puts > 50 && gets > 50 && ok_puts > 0 && ok_gets > 0);
    assert_true(st.get_forged > 0 && st.get_stale > 0 && st.stores_served > 0 &&
                st.fetches_served > 0 && st.dropped_unsolicited > 0);
    must(cordon_store_audit(cap->be.store));
    free(pr);
    free(gr);
    for (int i = 0; i < OBJS; i++) {
        obj_free(good[i]);
        obj_free(bad[i]);
    }
    writer_free(&w);
    capture_free(cap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serve_without_storage),
        cmocka_unit_test(test_storage_answers_dispatch),
        cmocka_unit_test(test_serve_store_and_fetch),
        cmocka_unit_test(test_store_limits),
        cmocka_unit_test(test_get_judges_answers),
        cmocka_unit_test(test_put_reports_refusals),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_put_waits_for_pending_room),
        cmocka_unit_test(test_put_reaches_r_closest),
        cmocka_unit_test(test_get_newest),
        cmocka_unit_test(test_put_refused_exactly),
        cmocka_unit_test(test_get_with_silent_replicas),
        cmocka_unit_test(test_get_outvotes_stale_and_forged),
        cmocka_unit_test(test_maintain_replaces_dead_replicas),
        cmocka_unit_test(test_maintain_retargets_within_a_pass),
        cmocka_unit_test(test_maintain_watch_notices_departures),
        cmocka_unit_test(test_maintain_watch_times_out_in_round_trips),
        cmocka_unit_test(test_maintain_watch_is_quiet),
        cmocka_unit_test(test_maintain_soon_after_a_failure),
        cmocka_unit_test(test_maintain_joiner_gets_objects_soon),
        cmocka_unit_test(test_maintain_sends_nothing_held),
        cmocka_unit_test(test_maintain_checks_wants),
        cmocka_unit_test(test_maintain_wants_what_it_lacks),
        cmocka_unit_test(test_maintain_never_regresses),
        cmocka_unit_test(test_random_storage_events),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
