/*
 * tests/unit/support/store_fixture.c — see store_fixture.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/store_fixture.h"

/* ---- fixture ------------------------------------------------------------------------- */

char store_fx_base[64];
static int dir_seq;
cordon_key *ca_key, *foreign_key;
cordon_cert *ca_cert, *foreign_ca;
struct writer writers[NWRITERS];
cordon_object_verifier *verifier;

static int make_writer(struct writer *w, uint8_t id_byte, uint8_t serial_byte,
                       const cordon_key *cak, const cordon_cert *cac)
{
    uint8_t id[CORDON_NODE_ID_LEN];
    uint8_t serial[CORDON_SERIAL_LEN] = {0};
    for (size_t i = 0; i < CORDON_NODE_ID_LEN; i++)
        id[i] = (uint8_t)(id_byte + i);
    serial[0] = 0x11;
    serial[CORDON_SERIAL_LEN - 1] = serial_byte;
    return writer_issue(w, OVERLAY, id, serial, NODE_NB, NODE_NA, cak, cac) == CORDON_OK ? 0 : -1;
}

int store_fx_group_setup(const char *name)
{
    cordon_crl *crl = NULL;
    struct cordon_revoked rev;
    snprintf(store_fx_base, sizeof(store_fx_base), "/tmp/cordon-test-%s-XXXXXX", name);
    if (mkdtemp(store_fx_base) == NULL)
        return -1;
    if (cordon_key_generate(CORDON_KEY_P256, &ca_key) != CORDON_OK ||
        cordon_key_generate(CORDON_KEY_P256, &foreign_key) != CORDON_OK ||
        cordon_ca_create(ca_key, OVERLAY, T0 - DAY, T0 + 3650 * DAY, &ca_cert) != CORDON_OK ||
        cordon_ca_create(foreign_key, OVERLAY, T0 - DAY, T0 + 3650 * DAY, &foreign_ca) != CORDON_OK)
        return -1;
    if (make_writer(&writers[A], 0x10, 1, ca_key, ca_cert) != 0 ||
        make_writer(&writers[B], 0x20, 2, ca_key, ca_cert) != 0 ||
        make_writer(&writers[C], 0x30, 3, ca_key, ca_cert) != 0 ||
        make_writer(&writers[D], 0x40, 4, foreign_key, foreign_ca) != 0)
        return -1;
    memset(&rev, 0, sizeof(rev));
    if (cordon_cert_serial(writers[C].cert, rev.serial) != CORDON_OK)
        return -1;
    rev.revoked_at = T0;
    if (cordon_crl_create(ca_key, ca_cert, 1, T0 - DAY, T0 + 30 * DAY, &rev, 1, &crl) !=
            CORDON_OK ||
        cordon_object_verifier_new(ca_cert, OVERLAY, 64, &verifier) != CORDON_OK ||
        cordon_object_verifier_set_crl(verifier, crl) != CORDON_OK) {
        cordon_crl_free(crl);
        return -1;
    }
    cordon_crl_free(crl);
    return 0;
}

int store_fx_group_teardown(void **state)
{
    (void)state;
    cordon_object_verifier_free(verifier);
    for (int i = 0; i < NWRITERS; i++)
        writer_free(&writers[i]);
    cordon_cert_free(ca_cert);
    cordon_cert_free(foreign_ca);
    cordon_key_free(ca_key);
    cordon_key_free(foreign_key);
    (void)rmdir(store_fx_base);
    return 0;
}

int store_fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "%s/s%d", store_fx_base, dir_seq++);
    f->cfg.path = f->dir;
    *state = f;
    return 0;
}

int store_fx_teardown(void **state)
{
    struct fx *f = *state;
    cordon_store_close(f->st);
    store_dir_remove(f->dir);
    free(f);
    return 0;
}

void fx_open(struct fx *f)
{
    must(cordon_store_open(&f->cfg, &f->st));
}

void fx_reopen(struct fx *f)
{
    cordon_store_close(f->st);
    f->st = NULL;
    fx_open(f);
}

/* ---- objects ------------------------------------------------------------------------- */

void obj_key(obj *x)
{
    struct cordon_object o;
    must(cordon_object_decode(x->b, x->len, &o));
    cordon_object_entry_key(&o, x->key);
}

void fill(struct cordon_object *o, const struct writer *w, uint8_t kind, const char *name,
          uint64_t seq, uint64_t created, uint32_t lifetime, const void *value, size_t value_len)
{
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    snprintf(o->overlay, sizeof(o->overlay), "%s", OVERLAY);
    o->name = (const uint8_t *)name;
    o->name_len = name != NULL ? strlen(name) : 0;
    memcpy(o->writer, w->id, CORDON_NODE_ID_LEN);
    o->seq = seq;
    o->created_at = created;
    o->lifetime = lifetime;
    o->value = value;
    o->value_len = value_len;
    o->cert = w->der.data;
    o->cert_len = w->der.len;
}

/* Signs o as w (cordon_object_sign computes the resource ID). */
obj *sign_obj(const struct writer *w, struct cordon_object *o)
{
    obj *x = calloc(1, sizeof(*x));
    assert_non_null(x);
    must(cordon_object_sign(w->key, o, x->b, sizeof(x->b), &x->len));
    obj_key(x);
    return x;
}

obj *mk(int wi, uint8_t kind, const char *name, uint64_t seq, uint64_t created, uint32_t lifetime,
        const void *value, size_t value_len)
{
    struct cordon_object o;
    fill(&o, &writers[wi], kind, name, seq, created, lifetime, value, value_len);
    return sign_obj(&writers[wi], &o);
}

obj *mk_owned(int wi, const char *name, uint64_t seq, const char *value)
{
    return mk(wi, CORDON_KIND_OWNED, name, seq, NOW, LIFE, value, strlen(value));
}

/* A copy of x with one byte of its value flipped (the signature no longer matches). */
obj *tampered(const obj *x)
{
    struct cordon_object o;
    obj *y = malloc(sizeof(*y));
    assert_non_null(y);
    memcpy(y, x, sizeof(*y));
    must(cordon_object_decode(y->b, y->len, &o));
    assert_true(o.value_len > 0);
    y->b[o.value - y->b] ^= 0x01;
    return y;
}

/* ---- state snapshots ----------------------------------------------------------------- */

static bool collect_key(void *ctx, const struct cordon_store_summary *s)
{
    struct snap *sn = ctx;
    assert_true(sn->n < SNAP_MAX);
    memcpy(sn->e[sn->n++].key, s->key, CORDON_OBJECT_ENTRY_KEY_LEN);
    return true;
}

/* Everything a caller can see: every entry (expired ones too: now = 0) and its bytes,
 * every writer's usage, the stats. */
struct snap *snap_take(cordon_store *st)
{
    struct snap *sn = calloc(1, sizeof(*sn));
    uint8_t next[CORDON_OBJECT_ENTRY_KEY_LEN], after[CORDON_OBJECT_ENTRY_KEY_LEN];
    const uint8_t *from = NULL;
    cordon_buf b;
    cordon_err err;
    assert_non_null(sn);
    while ((err = cordon_store_scan(st, from, 100, 0, collect_key, sn, next)) == CORDON_OK) {
        memcpy(after, next, sizeof(after));
        from = after;
    }
    expect_err(err, CORDON_ERR_NOT_FOUND);
    cordon_buf_init(&b, CORDON_OBJECT_MAX, false);
    for (size_t i = 0; i < sn->n; i++) {
        must(cordon_store_get(st, sn->e[i].key, 0, &b));
        sn->e[i].data = cordon_buf_take(&b, &sn->e[i].len);
    }
    cordon_buf_free(&b);
    for (int w = 0; w < NWRITERS; w++)
        must(cordon_store_usage(st, writers[w].id, &sn->usage[w][0], &sn->usage[w][1]));
    cordon_store_stats(st, &sn->stats);
    return sn;
}

void snap_free(struct snap *sn)
{
    if (sn == NULL)
        return;
    for (size_t i = 0; i < sn->n; i++)
        free(sn->e[i].data);
    free(sn);
}

void snap_assert_same(const struct snap *a, const struct snap *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_memory_equal(a->e[i].key, b->e[i].key, CORDON_OBJECT_ENTRY_KEY_LEN);
        assert_int_equal(a->e[i].len, b->e[i].len);
        assert_memory_equal(a->e[i].data, b->e[i].data, a->e[i].len);
    }
    assert_memory_equal(a->usage, b->usage, sizeof(a->usage));
    assert_int_equal(a->stats.objects, b->stats.objects);
    assert_int_equal(a->stats.bytes, b->stats.bytes);
}

/* put must fail with want, change nothing but the refused counter, and leave the
 * databases in agreement. */
void refused_at(cordon_store *st, const void *data, size_t len, uint64_t now, cordon_err want,
                int line)
{
    struct snap *before = snap_take(st);
    cordon_err err = cordon_store_put(st, verifier, data, len, now, NULL);
    if (err != want)
        fail_msg("line %d: put gave %s, wanted %s", line, cordon_errname(err),
                 cordon_errname(want));
    struct snap *after = snap_take(st);
    snap_assert_same(before, after);
    assert_int_equal(after->stats.refused, before->stats.refused + 1);
    assert_int_equal(after->stats.accepted, before->stats.accepted);
    assert_int_equal(after->stats.expired, before->stats.expired);
    must(cordon_store_audit(st));
    snap_free(before);
    snap_free(after);
}

void put_ok(cordon_store *st, const obj *x, uint64_t now)
{
    must(cordon_store_put(st, verifier, x->b, x->len, now, NULL));
    must(cordon_store_audit(st));
}

void assert_usage(cordon_store *st, int wi, uint64_t objects, uint64_t bytes)
{
    uint64_t o = 99, b = 99;
    must(cordon_store_usage(st, writers[wi].id, &o, &b));
    assert_int_equal(o, objects);
    assert_int_equal(b, bytes);
}

void assert_totals(cordon_store *st, uint64_t objects, uint64_t bytes)
{
    struct cordon_store_stats s;
    cordon_store_stats(st, &s);
    assert_int_equal(s.objects, objects);
    assert_int_equal(s.bytes, bytes);
}

/* The entry holds exactly x. */
void assert_holds(cordon_store *st, const obj *x, uint64_t now)
{
    cordon_buf b;
    cordon_buf_init(&b, CORDON_OBJECT_MAX, false);
    must(cordon_store_get(st, x->key, now, &b));
    assert_int_equal(b.len, x->len);
    assert_memory_equal(b.data, x->b, x->len);
    cordon_buf_free(&b);
}

void assert_absent(cordon_store *st, const uint8_t *key, uint64_t now)
{
    cordon_buf b;
    cordon_buf_init(&b, CORDON_OBJECT_MAX, false);
    expect_err(cordon_store_get(st, key, now, &b), CORDON_ERR_NOT_FOUND);
    cordon_buf_free(&b);
}
