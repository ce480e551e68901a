/* sim/objects.c — see objects.h. */
#include "sim/objects.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define HOUR 3600
#define DAY 86400

uint64_t sim_unix(uint64_t now_ms)
{
    return SIM_T0 + now_ms / 1000;
}

/* ---- the CA and the writers --------------------------------------------------------------- */

cordon_err sim_ca_init(struct sim_ca *ca)
{
    memset(ca, 0, sizeof(*ca));
    /* Ed25519 throughout: fixed-length signatures, so an object's length (and the core's
     * memory figure) does not vary between runs of one seed, though the keys do. */
    cordon_err err = cordon_key_generate(CORDON_KEY_ED25519, &ca->key);
    if (err == CORDON_OK)
        err = cordon_ca_create(ca->key, SIM_OVERLAY, (int64_t)(SIM_T0 - DAY),
                               (int64_t)(SIM_T0 + 3650 * DAY), &ca->cert);
    if (err == CORDON_OK)
        err = cordon_object_verifier_new(ca->cert, SIM_OVERLAY, CORDON_OBJECT_CERT_CACHE,
                                         &ca->verifier);
    if (err != CORDON_OK)
        sim_ca_free(ca);
    return err;
}

void sim_ca_free(struct sim_ca *ca)
{
    cordon_object_verifier_free(ca->verifier);
    cordon_cert_free(ca->cert);
    cordon_key_free(ca->key);
    memset(ca, 0, sizeof(*ca));
}

cordon_err sim_identity_issue(struct sim_ca *ca, const uint8_t id[CORDON_NODE_ID_LEN],
                              struct sim_identity *out)
{
    struct cordon_node_cert_params p;
    cordon_csr *csr = NULL;
    cordon_cert *cert = NULL;
    memset(out, 0, sizeof(*out));
    memset(&p, 0, sizeof(p));
    cordon_buf_init(&out->der, CORDON_CERT_MAX, false);
    p.overlay = SIM_OVERLAY;
    memcpy(p.node_id, id, CORDON_NODE_ID_LEN);
    uint32_t serial = ++ca->serials;
    p.serial[0] = 0x11;
    for (int i = 0; i < 4; i++)
        p.serial[CORDON_SERIAL_LEN - 1 - i] = (uint8_t)(serial >> (8 * i));
    p.not_before = (int64_t)(SIM_T0 - HOUR);
    p.not_after = (int64_t)(SIM_T0 + 30 * DAY);
    cordon_err err = cordon_key_generate(CORDON_KEY_ED25519, &out->key);
    if (err == CORDON_OK)
        err = cordon_csr_create(out->key, &csr);
    if (err == CORDON_OK)
        err = cordon_cert_issue_node(csr, &p, ca->key, ca->cert, &cert);
    if (err == CORDON_OK)
        err = cordon_cert_der(cert, &out->der);
    cordon_csr_free(csr);
    cordon_cert_free(cert);
    if (err != CORDON_OK)
        sim_identity_free(out);
    return err;
}

void sim_identity_free(struct sim_identity *idt)
{
    cordon_key_free(idt->key);
    cordon_buf_free(&idt->der);
    idt->key = NULL;
}

cordon_err sim_object_sign(const struct sim_identity *idt, const uint8_t id[CORDON_NODE_ID_LEN],
                           const char *name, uint64_t seq, uint64_t created_at, uint32_t lifetime,
                           const uint8_t *value, size_t value_len, cordon_buf *out)
{
    struct cordon_object o;
    size_t len;
    memset(&o, 0, sizeof(o));
    o.kind = CORDON_KIND_OWNED;
    memcpy(o.overlay, SIM_OVERLAY, sizeof(SIM_OVERLAY));
    o.name = (const uint8_t *)name;
    o.name_len = strlen(name);
    memcpy(o.writer, id, CORDON_NODE_ID_LEN);
    o.seq = seq;
    o.created_at = created_at;
    o.lifetime = lifetime;
    o.value = value;
    o.value_len = value_len;
    o.cert = idt->der.data;
    o.cert_len = idt->der.len;
    cordon_buf_reset(out);
    uint8_t *buf = malloc(CORDON_OBJECT_MAX);
    if (buf == NULL)
        return CORDON_ERR_NOMEM;
    cordon_err err = cordon_object_sign(idt->key, &o, buf, CORDON_OBJECT_MAX, &len);
    if (err == CORDON_OK)
        err = cordon_buf_append(out, buf, len);
    free(buf);
    return err;
}

/* ---- acceptance ----------------------------------------------------------------------------
 *
 * store/store.h's steps, in its order, with its error codes, and no others:
 *   1. more than CORDON_OBJECT_MAX bytes: _TOO_LARGE; then cordon_object_decode();
 *   2. the value within CORDON_OBJECT_VALUE_MAX (the store's default value_max): _TOO_LARGE;
 *   3. lifetime in 1..CORDON_OBJECT_LIFETIME_MAX (_OBJ_LIFETIME), created_at at most
 *      CORDON_OBJECT_SKEW_S ahead (_OBJ_FUTURE), not expired at now (_OBJ_EXPIRED);
 *   5. (put) seq strictly above the stored entry's (_OBJ_STALE), an entry expired at now
 *      counting as absent; checked before 4, as the store does;
 *   4. cordon_object_verify() with the shared verifier.
 * Left out: the quotas and capacity of steps 6 and 7 (a simulated node holds a handful of
 * objects) and the expiry sweep (an expired entry is absent to get and put, and is
 * replaced in place). Anything more belongs in store/, not here.
 */

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static cordon_err check_fields(const uint8_t *obj, size_t len, uint64_t now,
                               struct cordon_object *o)
{
    if (len > CORDON_OBJECT_MAX)
        return CORDON_ERR_TOO_LARGE;
    cordon_err err = cordon_object_decode(obj, len, o);
    if (err != CORDON_OK)
        return err;
    if (o->value_len > CORDON_OBJECT_VALUE_MAX)
        return CORDON_ERR_TOO_LARGE;
    if (o->lifetime == 0 || o->lifetime > CORDON_OBJECT_LIFETIME_MAX)
        return CORDON_ERR_OBJ_LIFETIME;
    if (o->created_at > add_sat(now, CORDON_OBJECT_SKEW_S))
        return CORDON_ERR_OBJ_FUTURE;
    if (cordon_object_expires_at(o) <= now)
        return CORDON_ERR_OBJ_EXPIRED;
    return CORDON_OK;
}

/* Entries are kept sorted by key (memcmp order), so that a lookup is a binary search and
 * scan walks them in the order the core asks for; a node holds a handful to a few hundred
 * entries, and an insertion's memmove costs less than keeping a tree. */
static size_t lower_bound(const struct sim_store *st, const uint8_t *key)
{
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(st->entries[mid].key, key, CORDON_OBJECT_ENTRY_KEY_LEN) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct sim_entry *find(struct sim_store *st, const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN])
{
    size_t i = lower_bound(st, key);
    if (i < st->n && memcmp(st->entries[i].key, key, CORDON_OBJECT_ENTRY_KEY_LEN) == 0)
        return &st->entries[i];
    return NULL;
}

/* The entry of key, live at now, or NULL. */
static struct sim_entry *live(struct sim_store *st, const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                              uint64_t now)
{
    struct sim_entry *e = find(st, key);
    return e != NULL && e->expires_at > now ? e : NULL;
}

static cordon_err keep(struct sim_store *st, const struct cordon_object *o, const uint8_t *obj,
                       size_t len)
{
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    cordon_object_entry_key(o, key);
    /* The copy first: a failure leaves the store as it was. */
    uint8_t *copy = malloc(len);
    if (copy == NULL)
        return CORDON_ERR_NOMEM;
    memcpy(copy, obj, len);
    size_t i = lower_bound(st, key);
    bool present = i < st->n && memcmp(st->entries[i].key, key, sizeof(key)) == 0;
    if (!present) {
        if (st->n == st->cap) {
            size_t cap = st->cap ? 2 * st->cap : 4;
            struct sim_entry *grown = realloc(st->entries, cap * sizeof(*grown));
            if (grown == NULL) {
                free(copy);
                return CORDON_ERR_NOMEM;
            }
            st->entries = grown;
            st->cap = cap;
        }
        memmove(&st->entries[i + 1], &st->entries[i], (st->n - i) * sizeof(st->entries[0]));
        memset(&st->entries[i], 0, sizeof(st->entries[0]));
        memcpy(st->entries[i].key, key, sizeof(key));
        st->n++;
    }
    struct sim_entry *e = &st->entries[i];
    free(e->obj);
    e->obj = copy;
    e->len = len;
    e->seq = o->seq;
    e->expires_at = cordon_object_expires_at(o);
    return CORDON_OK;
}

static cordon_err store_put(void *ctx, uint64_t now_ms, const uint8_t *obj, size_t len,
                            uint64_t *held)
{
    struct sim_store *st = ctx;
    struct cordon_object o;
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    uint64_t now = sim_unix(now_ms);
    *held = 0;
    if (st->mode == SIM_STORE_REFUSE) {
        if (len <= CORDON_OBJECT_MAX && cordon_object_decode(obj, len, &o) == CORDON_OK)
            *held = o.seq;
        return CORDON_OK;
    }
    cordon_err err = check_fields(obj, len, now, &o);
    if (err != CORDON_OK)
        return err;
    cordon_object_entry_key(&o, key);
    struct sim_entry *e = live(st, key, now);
    if (e != NULL && st->mode == SIM_STORE_STALE) {
        *held = o.seq; /* "stored", and the first version kept */
        return CORDON_OK;
    }
    if (e != NULL && o.seq <= e->seq) {
        *held = e->seq;
        return CORDON_ERR_OBJ_STALE;
    }
    err = cordon_object_verify(st->ca->verifier, &o, (int64_t)now);
    if (err == CORDON_OK)
        err = keep(st, &o, obj, len);
    if (err == CORDON_OK)
        *held = o.seq;
    else if (e != NULL)
        *held = e->seq;
    return err;
}

static cordon_err store_get(void *ctx, uint64_t now_ms,
                            const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN], cordon_buf *out)
{
    struct sim_store *st = ctx;
    struct cordon_object o;
    struct sim_entry *e = live(st, key, sim_unix(now_ms));
    if (e == NULL)
        return CORDON_ERR_NOT_FOUND;
    cordon_buf_reset(out);
    cordon_err err = cordon_buf_append(out, e->obj, e->len);
    if (err != CORDON_OK || st->mode != SIM_STORE_FORGE)
        return err;
    /* One flipped byte of the value (of the signature when there is none): the copy still
     * decodes and names its entry, and no longer verifies. */
    if (cordon_object_decode(out->data, out->len, &o) != CORDON_OK)
        return CORDON_OK;
    if (o.value_len > 0)
        out->data[o.value - out->data] ^= 0x01;
    else
        out->data[o.sig - out->data + o.sig_len - 1] ^= 0x01;
    return CORDON_OK;
}

static cordon_err store_check(void *ctx, uint64_t now_ms, const uint8_t *obj, size_t len)
{
    struct sim_store *st = ctx;
    struct cordon_object o;
    uint64_t now = sim_unix(now_ms);
    cordon_err err = check_fields(obj, len, now, &o);
    if (err == CORDON_OK)
        err = cordon_object_verify(st->ca->verifier, &o, (int64_t)now);
    return err;
}

/* Maintenance sees the store as it is, lies included: a refuser holds nothing, so it lists
 * nothing and wants whatever it is offered (and keeps none of it); a stale node lists and
 * claims the first version it kept, so it is offered newer ones and keeps ignoring them.
 * Either way its neighbours' maintenance is what it would be with any other lost replica. */
static cordon_err store_scan(void *ctx, uint64_t now_ms, const uint8_t *after,
                             struct cordon_summary_entry *out, size_t max, size_t *n)
{
    struct sim_store *st = ctx;
    uint64_t now = sim_unix(now_ms);
    size_t i = 0;
    *n = 0;
    if (after != NULL) {
        i = lower_bound(st, after);
        if (i < st->n && memcmp(st->entries[i].key, after, CORDON_OBJECT_ENTRY_KEY_LEN) == 0)
            i++; /* strictly after */
    }
    for (; i < st->n && *n < max; i++) {
        const struct sim_entry *e = &st->entries[i];
        if (e->expires_at <= now)
            continue;
        memcpy(out[*n].key, e->key, CORDON_OBJECT_ENTRY_KEY_LEN);
        out[*n].seq = e->seq;
        (*n)++;
    }
    return CORDON_OK;
}

static cordon_err store_held(void *ctx, uint64_t now_ms,
                             const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN], uint64_t *seq)
{
    struct sim_store *st = ctx;
    struct sim_entry *e = live(st, key, sim_unix(now_ms));
    *seq = e != NULL ? e->seq : 0;
    return CORDON_OK;
}

struct cordon_core_storage sim_store_storage(struct sim_store *st, bool maintain)
{
    struct cordon_core_storage s = {
        .ctx = st, .put = store_put, .get = store_get, .check = store_check};
    if (maintain) {
        s.scan = store_scan;
        s.held = store_held;
    }
    return s;
}

void sim_store_free(struct sim_store *st)
{
    for (size_t i = 0; i < st->n; i++)
        free(st->entries[i].obj);
    free(st->entries);
    st->entries = NULL;
    st->n = st->cap = 0;
}
