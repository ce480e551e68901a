/*
 * fuzz/fuzz_core.c — the overlay core as a state machine under arbitrary events.
 *
 * Reaches: cordon_core_receive (and through it cordon_msg_decode, the limiters, the
 * routing table, RPC matching, lookup progress, serving STORE, FETCH and SUMMARY, the
 * answers of puts and gets, replica maintenance: its passes, SUMMARYs, the WANTs that
 * answer them and the pushes they start), cordon_core_tick, cordon_core_link_failed,
 * cordon_core_lookup, cordon_core_find_node, cordon_core_forget, cordon_core_join,
 * cordon_core_put, cordon_core_get.
 *
 * The input is a script of events read through the bounded reader:
 *   u8 op, then by op (op % 12):
 *     0 receive:     u8 sender (one of 8 fixed contacts), u16-prefixed message bytes
 *     1 answer:      u8 sender, u8 type; an answer to the last request sent to that
 *                    sender (its txid), with a NODES body naming the other contacts
 *     2 tick:        u16 milliseconds to advance
 *     3 link failed: u8 contact
 *     4 lookup:      u8 b: b < 0x80, a lookup of b repeated; else a find_node of
 *                    contact b % 8 (ends when that contact answers)
 *     5 forget:      u8 contact
 *     6 put:         u8 b: object b % OBJECTS
 *     7 get:         u8 b: b < 0x80, the entry of object b % OBJECTS; else a key of b repeated
 *     8 storage answer: u8 sender, u8 b; an answer to the last request sent to that sender:
 *                    b % 4 == 0 STORED with code b >> 2 (any u8 value, known or not),
 *                    1 OBJECT not found, 2 OBJECT with object (b >> 2) % OBJECTS,
 *                    3 OBJECT with a forged one
 *     9 storage request: u8 sender, u8 b: a STORE of object b % OBJECTS (forged when
 *                    bit 7), or a FETCH of its entry (bit 6)
 *    10 want:        u8 sender, u8 b; a WANT answering the last request sent to that
 *                    sender: b % 5 indexes from b >> 4 on (up to 15: some past the count
 *                    of the SUMMARY it answers, or answering no SUMMARY at all)
 *    11 summary:     u8 sender, u8 b: a SUMMARY of the entries of objects 0..2 whose bit
 *                    is set in b at seq (b >> 3) % 4, or (no bit) of a key of b repeated
 * The storage offers scan and held, so maintenance passes run on the ticks (the first
 * within a period, an early one 5 s after the table gains a node).
 * The objects are made with the wire encoder only (no crypto): the host's storage is a
 * small table in memory whose "signature check" accepts a signature byte of 0x55, so forged
 * objects (0x56) decode but fail the check.
 * Deterministic: the host's randomness is a counter, its clock the script's.
 * Checks: no crash or sanitizer report; every lookup, put and get callback at most once, and
 * exactly once after the script ends and the core has been ticked until they are over; a
 * get returns only an object that passes the check; a put's counts add up; the core's
 * memory within its documented caps.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "peer/core/core.h"
#include "wire/msg.h"
#include "wire/object.h"
#include "wire/reader.h"

#define CONTACTS 8
#define OBJECTS 6 /* three entries, two versions each */
#define SLOTS 4   /* entries the host's storage holds */
#define OPS_MAX 256
#define SIG_GOOD 0x55

struct slot {
    bool used;
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    uint64_t seq;
    size_t len;
    uint8_t bytes[512];
};

struct host {
    uint64_t counter;
    uint32_t last_txid[CONTACTS];
    struct cordon_contact contacts[CONTACTS];
    unsigned callbacks[CORDON_LOOKUPS_MAX * 4];
    unsigned started;
    unsigned op_calls[OPS_MAX];
    unsigned ops_started;
    struct slot slots[SLOTS];
    uint8_t objects[OBJECTS][512];
    size_t object_len[OBJECTS];
    uint8_t forged[OBJECTS][512];
};

static int contact_index(const struct host *h, const struct cordon_contact *c)
{
    for (int i = 0; i < CONTACTS; i++)
        if (memcmp(h->contacts[i].id, c->id, CORDON_NODE_ID_LEN) == 0)
            return i;
    return -1;
}

static void host_send(void *ctx, const struct cordon_contact *to, const uint8_t *msg, size_t len)
{
    struct host *h = ctx;
    struct cordon_msg m;
    int i = contact_index(h, to);
    if (i >= 0 && cordon_msg_decode(msg, len, &m) == CORDON_OK)
        h->last_txid[i] = m.txid;
}

static void host_random(void *ctx, void *out, size_t n)
{
    struct host *h = ctx;
    uint8_t *p = out;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((h->counter++ * 0x9e3779b97f4a7c15ULL) >> 56);
}

static void on_lookup(void *arg, cordon_err result, const struct cordon_contact *closest, size_t n,
                      const struct cordon_lookup_stats *stats)
{
    unsigned *calls = arg;
    (void)result, (void)closest, (void)stats;
    if (n > CORDON_K_MAX || ++*calls > 1)
        abort(); /* at most k results, and one call per lookup */
}

/* The host's "acceptance": decodes, and the signature's first byte is SIG_GOOD. */
static cordon_err fake_check(const uint8_t *obj, size_t len, struct cordon_object *o)
{
    cordon_err err = cordon_object_decode(obj, len, o);
    if (err != CORDON_OK)
        return err;
    return o->sig[0] == SIG_GOOD ? CORDON_OK : CORDON_ERR_BAD_SIGNATURE;
}

static struct slot *slot_find(struct host *h, const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN])
{
    for (int i = 0; i < SLOTS; i++)
        if (h->slots[i].used && memcmp(h->slots[i].key, key, CORDON_OBJECT_ENTRY_KEY_LEN) == 0)
            return &h->slots[i];
    return NULL;
}

static cordon_err storage_put(void *ctx, uint64_t now_ms, const uint8_t *obj, size_t len,
                              uint64_t *held)
{
    struct host *h = ctx;
    struct cordon_object o;
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    (void)now_ms;
    if (obj == NULL || len == 0 || len > CORDON_OBJECT_MAX)
        abort(); /* the core hands over only what STORE framing allows */
    cordon_err err = cordon_object_decode(obj, len, &o);
    if (err != CORDON_OK)
        return err;
    cordon_object_entry_key(&o, key);
    struct slot *sl = slot_find(h, key);
    if (sl != NULL && o.seq <= sl->seq) {
        *held = sl->seq;
        return CORDON_ERR_OBJ_STALE;
    }
    err = fake_check(obj, len, &o);
    if (err != CORDON_OK) {
        *held = sl != NULL ? sl->seq : 0;
        return err;
    }
    if (len > sizeof(sl->bytes))
        return CORDON_ERR_TOO_LARGE;
    for (int i = 0; sl == NULL && i < SLOTS; i++)
        if (!h->slots[i].used)
            sl = &h->slots[i];
    if (sl == NULL)
        return CORDON_ERR_OBJ_CAPACITY;
    sl->used = true;
    memcpy(sl->key, key, sizeof(key));
    sl->seq = o.seq;
    sl->len = len;
    memcpy(sl->bytes, obj, len);
    *held = o.seq;
    return CORDON_OK;
}

static cordon_err storage_get(void *ctx, uint64_t now_ms,
                              const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN], cordon_buf *out)
{
    struct host *h = ctx;
    (void)now_ms;
    const struct slot *sl = slot_find(h, key);
    if (sl == NULL)
        return CORDON_ERR_NOT_FOUND;
    return cordon_buf_append(out, sl->bytes, sl->len);
}

/* The slots held, in key order, strictly after `after`. */
static cordon_err storage_scan(void *ctx, uint64_t now_ms, const uint8_t *after,
                               struct cordon_summary_entry *out, size_t max, size_t *n)
{
    struct host *h = ctx;
    const uint8_t *last = after;
    (void)now_ms;
    if (max == 0 || max > CORDON_SUMMARY_MAX)
        abort(); /* the contract: 1..CORDON_SUMMARY_MAX */
    *n = 0;
    while (*n < max) {
        const struct slot *next = NULL;
        for (int i = 0; i < SLOTS; i++) {
            const struct slot *sl = &h->slots[i];
            if (sl->used &&
                (last == NULL || memcmp(sl->key, last, CORDON_OBJECT_ENTRY_KEY_LEN) > 0) &&
                (next == NULL || memcmp(sl->key, next->key, CORDON_OBJECT_ENTRY_KEY_LEN) < 0))
                next = sl;
        }
        if (next == NULL)
            break;
        memcpy(out[*n].key, next->key, CORDON_OBJECT_ENTRY_KEY_LEN);
        out[*n].seq = next->seq;
        last = out[*n].key;
        (*n)++;
    }
    return CORDON_OK;
}

static cordon_err storage_held(void *ctx, uint64_t now_ms,
                               const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN], uint64_t *seq)
{
    const struct slot *sl = slot_find(ctx, key);
    (void)now_ms;
    *seq = sl != NULL ? sl->seq : 0;
    return CORDON_OK;
}

static cordon_err storage_check(void *ctx, uint64_t now_ms, const uint8_t *obj, size_t len)
{
    struct cordon_object o;
    (void)ctx, (void)now_ms;
    return fake_check(obj, len, &o);
}

static void on_put(void *arg, cordon_err result, const struct cordon_put_result *res)
{
    unsigned *calls = arg;
    (void)result;
    if (++*calls > 1 || res->accepted + res->refused + res->failed != res->replicas ||
        res->replicas > CORDON_REPLICAS_MAX || (result == CORDON_OK) != (res->accepted > 0))
        abort();
}

static void on_get(void *arg, cordon_err result, const uint8_t *obj, size_t len,
                   const struct cordon_get_result *res)
{
    unsigned *calls = arg;
    struct cordon_object o;
    if (++*calls > 1 || res->asked > CORDON_GET_ASK_PER_R * CORDON_REPLICAS_MAX)
        abort();
    /* Only a genuine object comes back, and only with CORDON_OK. */
    if (result == CORDON_OK ? fake_check(obj, len, &o) != CORDON_OK || o.seq != res->seq
                            : obj != NULL || len != 0)
        abort();
}

/* Owned objects of one writer, names "n0".."n2", seq 1 and 2; their forged twins carry a
 * signature byte the check refuses. */
static void make_objects(struct host *h)
{
    static const uint8_t cert[2] = {0x30, 0x00};
    for (int i = 0; i < OBJECTS; i++) {
        struct cordon_object o;
        uint8_t name[2] = {'n', (uint8_t)('0' + i % 3)}, sig = SIG_GOOD;
        memset(&o, 0, sizeof(o));
        o.kind = CORDON_KIND_OWNED;
        memcpy(o.overlay, "fuzz", 5);
        memset(o.resource, 0x30 + i % 3, sizeof(o.resource));
        o.name = name;
        o.name_len = sizeof(name);
        memset(o.writer, 0x77, sizeof(o.writer));
        o.seq = 1 + (uint64_t)(i / 3);
        o.created_at = 1000;
        o.lifetime = 3600;
        o.value = name;
        o.value_len = sizeof(name);
        o.cert = cert;
        o.cert_len = sizeof(cert);
        o.sig = &sig;
        o.sig_len = 1;
        if (cordon_object_encode(&o, h->objects[i], sizeof(h->objects[i]), &h->object_len[i]) !=
            CORDON_OK)
            abort();
        memcpy(h->forged[i], h->objects[i], h->object_len[i]);
        h->forged[i][h->object_len[i] - 1] = SIG_GOOD + 1;
    }
}

static void object_key(const struct host *h, int i, uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN])
{
    struct cordon_object o;
    if (cordon_object_decode(h->objects[i], h->object_len[i], &o) != CORDON_OK)
        abort();
    cordon_object_entry_key(&o, key);
}

/* Encodes and delivers m from contact a (into a buffer of the exact size). */
static void deliver(cordon_core *core, uint64_t now, const struct host *h, uint8_t a,
                    const struct cordon_msg *m)
{
    static uint8_t buf[CORDON_MSG_STORAGE_MAX];
    size_t len;
    if (cordon_msg_encode(m, buf, sizeof(buf), &len) == CORDON_OK)
        cordon_core_receive(core, now, &h->contacts[a % CONTACTS], buf, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct host h;
    struct cordon_core_config cfg;
    struct cordon_contact self;
    cordon_core *core = NULL;
    uint64_t now = 1000;
    memset(&h, 0, sizeof(h));
    memset(&self, 0, sizeof(self));
    self.addr.family = 4;
    self.addr.ip[0] = 10;
    self.addr.port = 7000;
    for (int i = 0; i < CONTACTS; i++) {
        memset(h.contacts[i].id, 0x11 * (i + 1), CORDON_NODE_ID_LEN);
        h.contacts[i].addr.family = 4;
        h.contacts[i].addr.ip[0] = 10;
        h.contacts[i].addr.ip[1] = (uint8_t)(i & 1); /* two per /24 share a prefix */
        h.contacts[i].addr.ip[3] = (uint8_t)(i + 2);
        h.contacts[i].addr.port = 7000;
    }
    cordon_core_config_default(&cfg);
    cfg.params.k = 4;
    cfg.params.disjoint_paths = 2;
    struct cordon_core_host host = {.ctx = &h, .send = host_send, .random = host_random};
    struct cordon_core_storage storage = {.ctx = &h,
                                          .put = storage_put,
                                          .get = storage_get,
                                          .check = storage_check,
                                          .scan = storage_scan,
                                          .held = storage_held};
    make_objects(&h);
    if (cordon_core_new(&cfg, &self, &host, &core) != CORDON_OK ||
        cordon_core_set_storage(core, &storage) != CORDON_OK)
        abort();
    if (cordon_core_join(core, now, h.contacts, 2) != CORDON_OK)
        abort();

    cordon_reader r;
    cordon_reader_init(&r, data, size);
    for (int steps = 0; steps < 4096; steps++) {
        uint8_t op, a, b;
        uint16_t ms;
        cordon_reader msg;
        if (cordon_read_u8(&r, &op) != CORDON_OK)
            break;
        switch (op % 12) {
        case 0:
            if (cordon_read_u8(&r, &a) != CORDON_OK ||
                cordon_read_sub(&r, 2, CORDON_MSG_STORAGE_MAX, &msg) != CORDON_OK)
                goto out;
            cordon_core_receive(core, now, &h.contacts[a % CONTACTS], msg.data, msg.len);
            break;
        case 1: {
            struct cordon_msg m;
            uint8_t buf[CORDON_MSG_MAX];
            size_t len;
            if (cordon_read_u8(&r, &a) != CORDON_OK || cordon_read_u8(&r, &b) != CORDON_OK)
                goto out;
            memset(&m, 0, sizeof(m));
            m.flags = CORDON_MSG_FLAG_RESPONSE;
            m.txid = h.last_txid[a % CONTACTS];
            m.type = b & 1 ? CORDON_MSG_NODES : CORDON_MSG_PONG;
            if (m.type == CORDON_MSG_NODES) {
                m.u.nodes.count = (uint8_t)(b >> 1) % CONTACTS;
                for (unsigned i = 0; i < m.u.nodes.count; i++)
                    m.u.nodes.contacts[i] = h.contacts[(a + 1 + i) % CONTACTS];
            }
            if (cordon_msg_encode(&m, buf, sizeof(buf), &len) == CORDON_OK)
                cordon_core_receive(core, now, &h.contacts[a % CONTACTS], buf, len);
            break;
        }
        case 2:
            if (cordon_read_u16(&r, &ms) != CORDON_OK)
                goto out;
            now += ms;
            cordon_core_tick(core, now);
            break;
        case 3:
            if (cordon_read_u8(&r, &a) != CORDON_OK)
                goto out;
            cordon_core_link_failed(core, now, &h.contacts[a % CONTACTS]);
            break;
        case 4: {
            uint8_t target[CORDON_NODE_ID_LEN];
            if (cordon_read_u8(&r, &a) != CORDON_OK)
                goto out;
            /* Bit 7: a find of one of the contacts (it ends when that contact answers);
             * else a lookup of the byte repeated. */
            bool find = (a & 0x80) != 0;
            if (find)
                memcpy(target, h.contacts[a % CONTACTS].id, sizeof(target));
            else
                memset(target, a, sizeof(target));
            if (h.started < sizeof(h.callbacks) / sizeof(h.callbacks[0]) &&
                (find ? cordon_core_find_node(core, now, target, on_lookup, &h.callbacks[h.started])
                      : cordon_core_lookup(core, now, target, on_lookup,
                                           &h.callbacks[h.started])) == CORDON_OK)
                h.started++;
            break;
        }
        case 5:
            if (cordon_read_u8(&r, &a) != CORDON_OK)
                goto out;
            cordon_core_forget(core, h.contacts[a % CONTACTS].id);
            break;
        case 6:
            if (cordon_read_u8(&r, &a) != CORDON_OK)
                goto out;
            if (h.ops_started < OPS_MAX &&
                cordon_core_put(core, now, h.objects[a % OBJECTS], h.object_len[a % OBJECTS],
                                on_put, &h.op_calls[h.ops_started]) == CORDON_OK)
                h.ops_started++;
            break;
        case 7: {
            uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
            if (cordon_read_u8(&r, &a) != CORDON_OK)
                goto out;
            if (a & 0x80)
                memset(key, a, sizeof(key));
            else
                object_key(&h, a % OBJECTS, key);
            if (h.ops_started < OPS_MAX &&
                cordon_core_get(core, now, key, on_get, &h.op_calls[h.ops_started]) == CORDON_OK)
                h.ops_started++;
            break;
        }
        case 8: {
            struct cordon_msg m;
            if (cordon_read_u8(&r, &a) != CORDON_OK || cordon_read_u8(&r, &b) != CORDON_OK)
                goto out;
            memset(&m, 0, sizeof(m));
            m.flags = CORDON_MSG_FLAG_RESPONSE;
            m.txid = h.last_txid[a % CONTACTS];
            m.type = b % 4 == 0 ? CORDON_MSG_STORED : CORDON_MSG_OBJECT;
            if (b % 4 == 0) {
                m.u.stored.code = (uint16_t)(b >> 2);
                m.u.stored.seq = b >> 5;
            } else if (b % 4 >= 2) {
                int i = (b >> 2) % OBJECTS;
                m.u.object.found = true;
                m.u.object.object = b % 4 == 2 ? h.objects[i] : h.forged[i];
                m.u.object.len = h.object_len[i];
            }
            deliver(core, now, &h, a, &m);
            break;
        }
        case 10: {
            struct cordon_msg m;
            if (cordon_read_u8(&r, &a) != CORDON_OK || cordon_read_u8(&r, &b) != CORDON_OK)
                goto out;
            memset(&m, 0, sizeof(m));
            m.type = CORDON_MSG_WANT;
            m.flags = CORDON_MSG_FLAG_RESPONSE;
            m.txid = h.last_txid[a % CONTACTS];
            for (unsigned i = b >> 4; m.u.want.count < b % 5 && i < CORDON_SUMMARY_MAX; i++)
                m.u.want.index[m.u.want.count++] = (uint8_t)i;
            deliver(core, now, &h, a, &m);
            break;
        }
        case 11: {
            struct cordon_msg m;
            if (cordon_read_u8(&r, &a) != CORDON_OK || cordon_read_u8(&r, &b) != CORDON_OK)
                goto out;
            memset(&m, 0, sizeof(m));
            m.type = CORDON_MSG_SUMMARY;
            m.txid = (uint32_t)h.counter;
            /* Objects 0..2 have resources 0x30.., 0x31.., 0x32..: their keys increase. */
            for (int i = 0; i < 3; i++)
                if (b & (1u << i)) {
                    object_key(&h, i, m.u.summary.entries[m.u.summary.count].key);
                    m.u.summary.entries[m.u.summary.count++].seq = (b >> 3) % 4;
                }
            if (m.u.summary.count == 0) {
                memset(m.u.summary.entries[0].key, b, CORDON_OBJECT_ENTRY_KEY_LEN);
                m.u.summary.entries[0].seq = b;
                m.u.summary.count = 1;
            }
            deliver(core, now, &h, a, &m);
            break;
        }
        default: {
            struct cordon_msg m;
            if (cordon_read_u8(&r, &a) != CORDON_OK || cordon_read_u8(&r, &b) != CORDON_OK)
                goto out;
            int i = b % OBJECTS;
            memset(&m, 0, sizeof(m));
            m.txid = (uint32_t)h.counter;
            if (b & 0x40) {
                m.type = CORDON_MSG_FETCH;
                object_key(&h, i, m.u.fetch.key);
            } else {
                m.type = CORDON_MSG_STORE;
                m.u.store.object = b & 0x80 ? h.forged[i] : h.objects[i];
                m.u.store.len = h.object_len[i];
            }
            deliver(core, now, &h, a, &m);
            break;
        }
        }
        /* Generous bound: the table, the pending requests, the lookups, the puts and gets,
         * the maintenance batches and pushes and the limiters at their caps stay well under
         * 1 MiB for k = 4. Every push answers a WANT, and every WANT a SUMMARY. */
        struct cordon_core_status cs;
        cordon_core_status(core, &cs);
        if (cordon_core_memory(core) > 1024 * 1024 || cs.maintain_accepted > cs.maintain_pushed ||
            (cs.maintain_pushed > 0 && cs.summaries_sent == 0))
            abort();
    }
out:
    /* Every operation ends, exactly once: tick until they have (each tick resolves at least
     * one timer, and a put or get sends at most 2r requests after its lookup). */
    for (int i = 0; i < 20000; i++) {
        struct cordon_core_status st;
        unsigned called = 0;
        cordon_core_status(core, &st);
        for (unsigned j = 0; j < h.started; j++)
            called += h.callbacks[j];
        if (st.storage_ops == 0 && called == h.started)
            break;
        uint64_t next = cordon_core_next_deadline(core);
        if (next == UINT64_MAX)
            abort(); /* something runs with no timer to end it */
        if (next > now)
            now = next;
        cordon_core_tick(core, now);
    }
    for (unsigned j = 0; j < h.started; j++)
        if (h.callbacks[j] != 1)
            abort();
    for (unsigned j = 0; j < h.ops_started; j++)
        if (h.op_calls[j] != 1)
            abort();
    cordon_core_free(core);
    return 0;
}
