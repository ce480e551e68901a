/*
 * tests/unit/test_store.c — store/: acceptance in order with the exact code of every
 * refusal, each refusal leaving what is stored byte-identical (objects, usage, totals),
 * replacement and its accounting, the shared dictionary, tombstones, the crl kind, expiry,
 * restart, scan paging, copies out, a full map; the held seq of an entry; the writer's own
 * records for republishing (order, replacement, delete, restart, cap). Objects are signed with
 * cordon_object_sign() by node certificates of a test CA; forgeries are signed by hand with
 * cordon_sign(). The fixture (the CA, Ed25519 writers, snapshots) is support/store_fixture.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "crypto/crypto.h"
#include "crypto/object.h"
#include "store/store.h"
#include "wire/object.h"

#include "support/store_fixture.h"

/* The fixture is shared with test_store_batch.c; the name goes into its /tmp directory, so that one
 * a failed run left behind says whose it is. */
static int group_setup(void **state)
{
    (void)state;
    return store_fx_group_setup("store");
}

/* ---- objects only these tests make: tombstones, forgeries, CRLs ---------------------- */

static obj *mk_tombstone(int wi, uint8_t kind, const char *name, uint64_t seq)
{
    struct cordon_object o;
    fill(&o, &writers[wi], kind, name, seq, NOW, LIFE, NULL, 0);
    o.flags = CORDON_OBJECT_FLAG_TOMBSTONE;
    return sign_obj(&writers[wi], &o);
}

/* Signs o by hand with signer's key, keeping o->resource, o->writer and o->cert as given:
 * a valid signature over fields that the policy must refuse. */
static obj *forge(const struct writer *signer, struct cordon_object *o)
{
    static const char ctx[] = CORDON_OBJECT_SIG_CONTEXT; /* and its NUL */
    uint8_t *msg = malloc(sizeof(ctx) + CORDON_OBJECT_MAX);
    uint8_t sig[CORDON_SIG_MAX];
    size_t tbs_len, sig_len;
    obj *x = calloc(1, sizeof(*x));
    assert_non_null(msg);
    assert_non_null(x);
    memcpy(msg, ctx, sizeof(ctx));
    must(cordon_object_encode_tbs(o, msg + sizeof(ctx), CORDON_OBJECT_MAX, &tbs_len));
    must(cordon_sign(signer->key, msg, sizeof(ctx) + tbs_len, sig, &sig_len));
    o->sig = sig;
    o->sig_len = sig_len;
    must(cordon_object_encode(o, x->b, sizeof(x->b), &x->len));
    o->sig = NULL;
    free(msg);
    obj_key(x);
    return x;
}

static void crl_der(const cordon_key *cak, const cordon_cert *cac, uint64_t number, cordon_buf *out)
{
    cordon_crl *crl = NULL;
    cordon_buf_init(out, CORDON_CRL_MAX, false);
    must(cordon_crl_create(cak, cac, number, T0 - DAY, T0 + 30 * DAY, NULL, 0, &crl));
    must(cordon_crl_der(crl, out));
    cordon_crl_free(crl);
}

/* cordon_object_sign() refuses a CRL whose number is not seq: such objects are forged. */
static obj *mk_crl(int wi, uint64_t seq, uint64_t number, const cordon_key *cak,
                   const cordon_cert *cac)
{
    struct cordon_object o;
    cordon_buf der;
    obj *x;
    crl_der(cak, cac, number, &der);
    fill(&o, &writers[wi], CORDON_KIND_CRL, NULL, seq, NOW, LIFE, der.data, der.len);
    if (seq == number) {
        x = sign_obj(&writers[wi], &o);
    } else {
        cordon_object_resource_id(CORDON_KIND_CRL, OVERLAY, NULL, NULL, 0, o.resource);
        x = forge(&writers[wi], &o);
    }
    cordon_buf_free(&der);
    return x;
}

/* ---- open ---------------------------------------------------------------------------- */

static void test_open_modes(void **state)
{
    struct fx *f = *state;
    struct stat sb;
    char path[192];
    mode_t old = umask(0); /* the modes must come from the store, not from the umask */
    fx_open(f);
    umask(old);
    assert_int_equal(stat(f->dir, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0700);
    snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    snprintf(path, sizeof(path), "%s/lock.mdb", f->dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_totals(f->st, 0, 0);
    must(cordon_store_audit(f->st));
}

static void test_open_refusals(void **state)
{
    struct fx *f = *state;
    cordon_store *st = NULL;
    struct cordon_store_config cfg = f->cfg;
    char file[192];

    expect_err(cordon_store_open(NULL, &st), CORDON_ERR_INVAL);
    cfg.value_max = CORDON_OBJECT_VALUE_MAX + 1;
    expect_err(cordon_store_open(&cfg, &st), CORDON_ERR_INVAL);
    cfg = f->cfg;
    cfg.max_lifetime = CORDON_OBJECT_LIFETIME_MAX + 1;
    expect_err(cordon_store_open(&cfg, &st), CORDON_ERR_INVAL);
    cfg = f->cfg;
    cfg.map_size = 1024 * 1024;
    cfg.node_bytes = 1024 * 1024 + 1;
    expect_err(cordon_store_open(&cfg, &st), CORDON_ERR_INVAL);
    assert_null(st);
    assert_false(access(f->dir, F_OK) == 0); /* refused before anything was made */

    /* A path that is a file, not a directory. */
    snprintf(file, sizeof(file), "%s/file", store_fx_base);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    cfg = f->cfg;
    cfg.path = file;
    expect_err(cordon_store_open(&cfg, &st), CORDON_ERR_IO);
    assert_int_equal(unlink(file), 0);
}

/* ---- acceptance ---------------------------------------------------------------------- */

static void test_put_get(void **state)
{
    struct fx *f = *state;
    struct cordon_object out;
    fx_open(f);
    obj *x = mk_owned(A, "greeting", 1, "hello");

    /* check accepts and stores nothing. */
    must(cordon_store_check(f->st, verifier, x->b, x->len, NOW, &out));
    assert_int_equal(out.seq, 1);
    assert_absent(f->st, x->key, NOW);
    assert_totals(f->st, 0, 0);

    memset(&out, 0, sizeof(out));
    must(cordon_store_put(f->st, verifier, x->b, x->len, NOW, &out));
    assert_int_equal(out.kind, CORDON_KIND_OWNED);
    assert_memory_equal(out.writer, writers[A].id, CORDON_NODE_ID_LEN);
    assert_true(out.value >= x->b && out.value < x->b + x->len); /* borrows the input */
    assert_holds(f->st, x, NOW);
    assert_usage(f->st, A, 1, x->len);
    assert_usage(f->st, B, 0, 0);
    assert_totals(f->st, 1, x->len);

    struct cordon_store_stats s;
    cordon_store_stats(f->st, &s);
    assert_int_equal(s.accepted, 1);
    assert_int_equal(s.refused, 0);
    must(cordon_store_audit(f->st));

    /* The entry key of an owned object is resource || zeros. */
    uint8_t zero[CORDON_NODE_ID_LEN] = {0};
    assert_memory_equal(x->key + CORDON_NODE_ID_LEN, zero, CORDON_NODE_ID_LEN);
    free(x);
}

static void test_refuse_malformed(void **state)
{
    struct fx *f = *state;
    struct cordon_object o;
    fx_open(f);
    obj *held = mk_owned(A, "held", 1, "kept");
    put_ok(f->st, held, NOW);
    obj *x = mk_owned(A, "other", 1, "value");

    /* Truncated, trailing, a bad version: the decoder's own code. */
    cordon_err want = cordon_object_decode(x->b, x->len - 1, &o);
    assert_int_not_equal(want, CORDON_OK);
    refused_at(f->st, x->b, x->len - 1, NOW, want, __LINE__);
    expect_err(cordon_store_check(f->st, verifier, x->b, x->len - 1, NOW, &o), want);

    x->b[x->len] = 0;
    want = cordon_object_decode(x->b, x->len + 1, &o);
    expect_err(want, CORDON_ERR_TRAILING);
    refused_at(f->st, x->b, x->len + 1, NOW, want, __LINE__);

    x->b[0] ^= 0xff;
    want = cordon_object_decode(x->b, x->len, &o);
    expect_err(want, CORDON_ERR_MALFORMED);
    refused_at(f->st, x->b, x->len, NOW, want, __LINE__);
    x->b[0] ^= 0xff;

    refused_at(f->st, "\x01\x01", 2, NOW, CORDON_ERR_TRUNCATED, __LINE__);
    refused_at(f->st, x->b, 0, NOW, CORDON_ERR_TRUNCATED, __LINE__);

    /* More than any object can be: refused before decoding. */
    uint8_t *big = calloc(1, CORDON_OBJECT_MAX + 1);
    assert_non_null(big);
    memcpy(big, x->b, x->len);
    refused_at(f->st, big, CORDON_OBJECT_MAX + 1, NOW, CORDON_ERR_TOO_LARGE, __LINE__);
    free(big);

    /* Every truncation is refused. */
    for (size_t n = 0; n < x->len; n += 7)
        assert_int_not_equal(cordon_store_put(f->st, verifier, x->b, n, NOW, NULL), CORDON_OK);
    assert_holds(f->st, held, NOW);
    assert_totals(f->st, 1, held->len);
    put_ok(f->st, x, NOW); /* the untouched bytes were fine all along */
    free(held);
    free(x);
}

static void test_refuse_too_large(void **state)
{
    struct fx *f = *state;
    uint8_t value[101];
    memset(value, 'v', sizeof(value));
    f->cfg.value_max = 100;
    fx_open(f);
    obj *over = mk(A, CORDON_KIND_OWNED, "big", 1, NOW, LIFE, value, 101);
    refused(f->st, over, NOW, CORDON_ERR_TOO_LARGE);
    struct cordon_object o;
    expect_err(cordon_store_check(f->st, verifier, over->b, over->len, NOW, &o),
               CORDON_ERR_TOO_LARGE);
    obj *shared = mk(B, CORDON_KIND_SHARED, "big", 1, NOW, LIFE, value, 101);
    refused(f->st, shared, NOW, CORDON_ERR_TOO_LARGE);
    obj *fits = mk(A, CORDON_KIND_OWNED, "big", 1, NOW, LIFE, value, 100);
    put_ok(f->st, fits, NOW);
    /* Kind crl is bounded by the hard cap only: a CRL is larger than value_max here. */
    obj *crl = mk_crl(A, 5, 5, ca_key, ca_cert);
    put_ok(f->st, crl, NOW);
    free(over);
    free(shared);
    free(fits);
    free(crl);
}

static void test_refuse_lifetime(void **state)
{
    struct fx *f = *state;
    f->cfg.max_lifetime = 7200;
    fx_open(f);
    obj *zero = mk(A, CORDON_KIND_OWNED, "x", 1, NOW, 0, "v", 1);
    refused(f->st, zero, NOW, CORDON_ERR_OBJ_LIFETIME);
    obj *over = mk(A, CORDON_KIND_OWNED, "x", 1, NOW, 7201, "v", 1);
    refused(f->st, over, NOW, CORDON_ERR_OBJ_LIFETIME);
    obj *huge = mk(A, CORDON_KIND_OWNED, "x", 1, NOW, UINT32_MAX, "v", 1);
    refused(f->st, huge, NOW, CORDON_ERR_OBJ_LIFETIME);
    obj *max = mk(A, CORDON_KIND_OWNED, "x", 1, NOW, 7200, "v", 1);
    put_ok(f->st, max, NOW);
    obj *one = mk(B, CORDON_KIND_OWNED, "x", 1, NOW, 1, "v", 1);
    put_ok(f->st, one, NOW);
    free(zero);
    free(over);
    free(huge);
    free(max);
    free(one);
}

static void test_refuse_time(void **state)
{
    struct fx *f = *state;
    f->cfg.skew = 60;
    fx_open(f);
    obj *future = mk(A, CORDON_KIND_OWNED, "f", 2, NOW + 61, LIFE, "v", 1);
    refused(f->st, future, NOW, CORDON_ERR_OBJ_FUTURE);
    obj *edge = mk(A, CORDON_KIND_OWNED, "f", 1, NOW + 60, LIFE, "v", 1);
    put_ok(f->st, edge, NOW);
    put_ok(f->st, future, NOW + 1); /* the clock caught up */

    /* Expired: created_at + lifetime <= now. */
    obj *expired = mk(A, CORDON_KIND_OWNED, "e", 1, NOW - LIFE, LIFE, "v", 1);
    refused(f->st, expired, NOW, CORDON_ERR_OBJ_EXPIRED);
    obj *old = mk(A, CORDON_KIND_OWNED, "e", 1, NOW - LIFE, LIFE + 1, "v", 1);
    put_ok(f->st, old, NOW);
    free(future);
    free(edge);
    free(expired);
    free(old);
}

static void test_refuse_not_allowed(void **state)
{
    struct fx *f = *state;
    struct cordon_object o;
    fx_open(f);
    obj *mine = mk_owned(A, "profile", 1, "A's");
    put_ok(f->st, mine, NOW);

    /* B signs (validly) an owned object at A's resource ID. */
    fill(&o, &writers[B], CORDON_KIND_OWNED, "profile", 2, NOW, LIFE, "B's", 3);
    cordon_object_resource_id(CORDON_KIND_OWNED, OVERLAY, writers[A].id, o.name, o.name_len,
                              o.resource);
    obj *squat = forge(&writers[B], &o);
    assert_memory_equal(squat->key, mine->key, CORDON_OBJECT_ENTRY_KEY_LEN);
    refused(f->st, squat, NOW, CORDON_ERR_OBJ_NOT_ALLOWED);

    /* B claims to be A: writer A, B's certificate, B's signature. */
    fill(&o, &writers[A], CORDON_KIND_OWNED, "profile", 3, NOW, LIFE, "B's", 3);
    o.cert = writers[B].der.data;
    o.cert_len = writers[B].der.len;
    cordon_object_resource_id(CORDON_KIND_OWNED, OVERLAY, writers[A].id, o.name, o.name_len,
                              o.resource);
    obj *impostor = forge(&writers[B], &o);
    assert_memory_equal(impostor->key, mine->key, CORDON_OBJECT_ENTRY_KEY_LEN);
    refused(f->st, impostor, NOW, CORDON_ERR_OBJ_NOT_ALLOWED);

    /* Another overlay's object. */
    fill(&o, &writers[A], CORDON_KIND_OWNED, "profile", 4, NOW, LIFE, "A's", 3);
    snprintf(o.overlay, sizeof(o.overlay), "other");
    cordon_object_resource_id(CORDON_KIND_OWNED, "other", writers[A].id, o.name, o.name_len,
                              o.resource);
    obj *foreign = forge(&writers[A], &o);
    refused(f->st, foreign, NOW, CORDON_ERR_OBJ_NOT_ALLOWED);

    /* The forging helper itself makes objects that pass when the fields are right. */
    fill(&o, &writers[B], CORDON_KIND_OWNED, "profile", 1, NOW, LIFE, "B's", 3);
    cordon_object_resource_id(CORDON_KIND_OWNED, OVERLAY, writers[B].id, o.name, o.name_len,
                              o.resource);
    obj *honest = forge(&writers[B], &o);
    put_ok(f->st, honest, NOW);
    assert_holds(f->st, mine, NOW);
    free(mine);
    free(squat);
    free(impostor);
    free(foreign);
    free(honest);
}

static void test_refuse_signature_and_cert(void **state)
{
    struct fx *f = *state;
    struct cordon_object o;
    fx_open(f);
    obj *held = mk_owned(A, "doc", 1, "original");
    put_ok(f->st, held, NOW);

    obj *good = mk_owned(A, "doc", 2, "replaced");
    obj *forged = tampered(good);
    refused(f->st, forged, NOW, CORDON_ERR_BAD_SIGNATURE);
    expect_err(cordon_store_check(f->st, verifier, forged->b, forged->len, NOW, &o),
               CORDON_ERR_BAD_SIGNATURE);

    /* A flipped signature byte. */
    obj *badsig = malloc(sizeof(*badsig));
    assert_non_null(badsig);
    memcpy(badsig, good, sizeof(*badsig));
    badsig->b[badsig->len - 1] ^= 0x01;
    refused(f->st, badsig, NOW, CORDON_ERR_BAD_SIGNATURE);

    /* Revoked (C is in the verifier's CRL) and foreign-CA (D) certificates. */
    obj *revoked = mk_owned(C, "doc", 1, "c");
    refused(f->st, revoked, NOW, CORDON_ERR_CERT_REVOKED);
    obj *foreign = mk_owned(D, "doc", 1, "d");
    refused(f->st, foreign, NOW, CORDON_ERR_CERT_UNTRUSTED);

    /* A certificate expired at now. */
    uint64_t late = (uint64_t)NODE_NA + 10;
    obj *stale_cert = mk(B, CORDON_KIND_OWNED, "doc", 1, late, LIFE, "b", 1);
    refused(f->st, stale_cert, late, CORDON_ERR_CERT_EXPIRED);

    put_ok(f->st, good, NOW);
    assert_holds(f->st, good, NOW);
    free(held);
    free(forged);
    free(good);
    free(badsig);
    free(revoked);
    free(foreign);
    free(stale_cert);
}

static void test_refuse_stale(void **state)
{
    struct fx *f = *state;
    fx_open(f);
    obj *v5 = mk_owned(A, "counter", 5, "five");
    put_ok(f->st, v5, NOW);
    refused(f->st, v5, NOW, CORDON_ERR_OBJ_STALE); /* the same object again */
    obj *v5b = mk_owned(A, "counter", 5, "another five");
    refused(f->st, v5b, NOW, CORDON_ERR_OBJ_STALE);
    obj *v4 = mk_owned(A, "counter", 4, "four");
    refused(f->st, v4, NOW, CORDON_ERR_OBJ_STALE);
    obj *v0 = mk_owned(A, "counter", 0, "zero");
    refused(f->st, v0, NOW, CORDON_ERR_OBJ_STALE);

    /* Seq is checked before the signature (store.h): stale and forged -> stale; a forgery
     * with a higher seq still meets the signature check. */
    obj *v4_forged = tampered(v4);
    refused(f->st, v4_forged, NOW, CORDON_ERR_OBJ_STALE);
    obj *v6 = mk_owned(A, "counter", 6, "six, a longer value than before");
    obj *v6_forged = tampered(v6);
    refused(f->st, v6_forged, NOW, CORDON_ERR_BAD_SIGNATURE);

    /* A reader's check does not know the stored seq. */
    struct cordon_object o;
    must(cordon_store_check(f->st, verifier, v4->b, v4->len, NOW, &o));

    put_ok(f->st, v6, NOW);
    assert_holds(f->st, v6, NOW);
    assert_usage(f->st, A, 1, v6->len);
    assert_totals(f->st, 1, v6->len);
    obj *big_seq = mk_owned(A, "counter", UINT64_MAX, "last");
    put_ok(f->st, big_seq, NOW);
    refused(f->st, big_seq, NOW, CORDON_ERR_OBJ_STALE);
    free(v5);
    free(v5b);
    free(v4);
    free(v0);
    free(v4_forged);
    free(v6);
    free(v6_forged);
    free(big_seq);
}

/* An object both stale and expired, both forged and out of lifetime...: the first step's
 * code. */
static void test_refusal_order(void **state)
{
    struct fx *f = *state;
    uint8_t value[101];
    memset(value, 'v', sizeof(value));
    f->cfg.value_max = 100;
    fx_open(f);
    obj *big_lifeless = mk(A, CORDON_KIND_OWNED, "o", 1, NOW, 0, value, 101);
    refused(f->st, big_lifeless, NOW, CORDON_ERR_TOO_LARGE);
    obj *lifeless_future = mk(A, CORDON_KIND_OWNED, "o", 1, NOW + 3600, 0, "v", 1);
    refused(f->st, lifeless_future, NOW, CORDON_ERR_OBJ_LIFETIME);
    obj *future = mk(A, CORDON_KIND_OWNED, "o", 1, NOW + 3600, LIFE, "v", 1);
    obj *future_forged = tampered(future);
    refused(f->st, future_forged, NOW, CORDON_ERR_OBJ_FUTURE);
    obj *expired_revoked = mk(C, CORDON_KIND_OWNED, "o", 1, NOW - 2 * LIFE, LIFE, "v", 1);
    refused(f->st, expired_revoked, NOW, CORDON_ERR_OBJ_EXPIRED);
    obj *revoked = mk_owned(C, "o", 1, "v");
    refused(f->st, revoked, NOW, CORDON_ERR_CERT_REVOKED);
    free(big_lifeless);
    free(lifeless_future);
    free(future);
    free(future_forged);
    free(expired_revoked);
    free(revoked);
}

/* ---- accounting ---------------------------------------------------------------------- */

static void test_replace_usage(void **state)
{
    struct fx *f = *state;
    uint8_t value[3000];
    memset(value, 'r', sizeof(value));
    fx_open(f);
    obj *a1 = mk(A, CORDON_KIND_OWNED, "r", 1, NOW, LIFE, value, 10);
    obj *a2 = mk(A, CORDON_KIND_OWNED, "r", 2, NOW, LIFE, value, 3000);
    obj *a3 = mk(A, CORDON_KIND_OWNED, "r", 3, NOW, 2 * LIFE, value, 1);
    obj *other = mk_owned(A, "s", 1, "other");
    put_ok(f->st, other, NOW);
    put_ok(f->st, a1, NOW);
    assert_usage(f->st, A, 2, other->len + a1->len);
    put_ok(f->st, a2, NOW); /* grows */
    assert_usage(f->st, A, 2, other->len + a2->len);
    assert_totals(f->st, 2, other->len + a2->len);
    put_ok(f->st, a3, NOW); /* shrinks, later expiry */
    assert_usage(f->st, A, 2, other->len + a3->len);
    assert_totals(f->st, 2, other->len + a3->len);
    assert_holds(f->st, a3, NOW);
    /* The old expiry entry went with the old object: nothing is due at its time. */
    size_t removed = 99;
    must(cordon_store_expire(f->st, NOW + LIFE, 10, &removed));
    assert_int_equal(removed, 1); /* "s" only */
    assert_holds(f->st, a3, NOW + LIFE);
    assert_usage(f->st, A, 1, a3->len);
    must(cordon_store_audit(f->st));
    free(a1);
    free(a2);
    free(a3);
    free(other);
}

static void test_writer_quota_objects(void **state)
{
    struct fx *f = *state;
    char name[16];
    obj *x[4];
    f->cfg.writer_objects = 3;
    fx_open(f);
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "n%d", i);
        x[i] = mk_owned(A, name, 1, "v");
    }
    for (int i = 0; i < 3; i++)
        put_ok(f->st, x[i], NOW);
    refused(f->st, x[3], NOW, CORDON_ERR_OBJ_QUOTA);
    assert_usage(f->st, A, 3, x[0]->len + x[1]->len + x[2]->len);
    /* A replacement does not add an object; another writer has its own quota. */
    obj *again = mk_owned(A, "n0", 2, "w");
    put_ok(f->st, again, NOW);
    obj *b = mk_owned(B, "n0", 1, "v");
    put_ok(f->st, b, NOW);
    /* Crl objects are not charged to their writer. */
    obj *crl = mk_crl(A, 5, 5, ca_key, ca_cert);
    put_ok(f->st, crl, NOW);
    assert_usage(f->st, A, 3, again->len + x[1]->len + x[2]->len);
    /* A deletion frees nothing until it expires: the tombstone holds the place. */
    obj *del = mk_tombstone(A, CORDON_KIND_OWNED, "n1", 2);
    put_ok(f->st, del, NOW);
    refused(f->st, x[3], NOW, CORDON_ERR_OBJ_QUOTA);
    for (int i = 0; i < 4; i++)
        free(x[i]);
    free(again);
    free(b);
    free(crl);
    free(del);
}

static void test_writer_quota_bytes(void **state)
{
    struct fx *f = *state;
    uint8_t value[6000];
    memset(value, 'q', sizeof(value));
    obj *a = mk(A, CORDON_KIND_OWNED, "a", 1, NOW, LIFE, value, 5000);
    obj *b = mk(A, CORDON_KIND_OWNED, "b", 1, NOW, LIFE, value, 5000);
    obj *c = mk(A, CORDON_KIND_OWNED, "c", 1, NOW, LIFE, value, 5000);
    size_t unit = a->len;
    assert_int_equal(b->len, unit);
    f->cfg.writer_bytes = 2 * unit + 100;
    fx_open(f);

    put_ok(f->st, a, NOW);
    put_ok(f->st, b, NOW);
    refused(f->st, c, NOW, CORDON_ERR_OBJ_QUOTA);
    /* A replacement counts its new size instead of the old one. */
    obj *b_grown = mk(A, CORDON_KIND_OWNED, "b", 2, NOW, LIFE, value, 5101);
    refused(f->st, b_grown, NOW, CORDON_ERR_OBJ_QUOTA);
    obj *b_fits = mk(A, CORDON_KIND_OWNED, "b", 2, NOW, LIFE, value, 5100);
    put_ok(f->st, b_fits, NOW);
    assert_usage(f->st, A, 2, 2 * unit + 100);
    obj *b_small = mk(A, CORDON_KIND_OWNED, "b", 3, NOW, LIFE, value, 10);
    put_ok(f->st, b_small, NOW);
    obj *c_small = mk(A, CORDON_KIND_OWNED, "c", 1, NOW, LIFE, value, 10);
    put_ok(f->st, c_small, NOW);
    assert_usage(f->st, A, 3, unit + b_small->len + c_small->len);
    /* B is not affected by A's use. */
    obj *bb = mk(B, CORDON_KIND_OWNED, "a", 1, NOW, LIFE, value, 5000);
    put_ok(f->st, bb, NOW);
    assert_usage(f->st, B, 1, bb->len);
    free(a);
    free(b);
    free(c);
    free(b_grown);
    free(b_fits);
    free(b_small);
    free(c_small);
    free(bb);
}

static void test_node_capacity_objects(void **state)
{
    struct fx *f = *state;
    f->cfg.node_objects = 3;
    fx_open(f);
    obj *a1 = mk_owned(A, "1", 1, "v");
    obj *a2 = mk_owned(A, "2", 1, "v");
    obj *b1 = mk_owned(B, "1", 1, "v");
    obj *b2 = mk_owned(B, "2", 1, "v");
    put_ok(f->st, a1, NOW);
    put_ok(f->st, a2, NOW);
    put_ok(f->st, b1, NOW);
    refused(f->st, b2, NOW, CORDON_ERR_OBJ_CAPACITY);
    /* Crl objects count toward the node. */
    obj *crl = mk_crl(B, 5, 5, ca_key, ca_cert);
    refused(f->st, crl, NOW, CORDON_ERR_OBJ_CAPACITY);
    /* Quota is checked before capacity. */
    cordon_store_close(f->st);
    f->st = NULL;
    f->cfg.writer_objects = 2;
    fx_open(f);
    obj *a3 = mk_owned(A, "3", 1, "v");
    refused(f->st, a3, NOW, CORDON_ERR_OBJ_QUOTA);
    /* Replacing does not add. */
    obj *b1b = mk_owned(B, "1", 2, "w");
    put_ok(f->st, b1b, NOW);
    assert_totals(f->st, 3, a1->len + a2->len + b1b->len);
    free(a1);
    free(a2);
    free(b1);
    free(b2);
    free(crl);
    free(a3);
    free(b1b);
}

static void test_node_capacity_bytes(void **state)
{
    struct fx *f = *state;
    uint8_t value[1100];
    memset(value, 'n', sizeof(value));
    obj *a = mk(A, CORDON_KIND_OWNED, "a", 1, NOW, LIFE, value, 1000);
    obj *b = mk(B, CORDON_KIND_OWNED, "b", 1, NOW, LIFE, value, 1000);
    obj *c = mk(C, CORDON_KIND_OWNED, "c", 1, NOW, LIFE, value, 1000); /* revoked */
    obj *a_over = mk(A, CORDON_KIND_OWNED, "a", 2, NOW, LIFE, value, 1051);
    obj *a_fits = mk(A, CORDON_KIND_OWNED, "a", 2, NOW, LIFE, value, 1050);
    obj *b_new = mk(B, CORDON_KIND_OWNED, "b2", 1, NOW, LIFE, value, 0);
    f->cfg.node_bytes = a->len + b->len + 50;
    fx_open(f);
    put_ok(f->st, a, NOW);
    put_ok(f->st, b, NOW);
    refused(f->st, a_over, NOW, CORDON_ERR_OBJ_CAPACITY); /* 51 bytes more */
    refused(f->st, b_new, NOW, CORDON_ERR_OBJ_CAPACITY);  /* a whole new object */
    /* Step 4 comes before 7: a revoked writer is told so, not that the node is full. */
    refused(f->st, c, NOW, CORDON_ERR_CERT_REVOKED);
    assert_totals(f->st, 2, a->len + b->len);
    put_ok(f->st, a_fits, NOW); /* exactly full */
    assert_totals(f->st, 2, f->cfg.node_bytes);
    free(a);
    free(b);
    free(c);
    free(a_over);
    free(a_fits);
    free(b_new);
}

/* Caps lowered below what is held: nothing may grow, but shrinking and deleting still
 * work. */
static void test_lowered_caps(void **state)
{
    struct fx *f = *state;
    char name[16];
    obj *x[3];
    fx_open(f);
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "k%d", i);
        x[i] = mk_owned(A, name, 1, "a value of some length");
        put_ok(f->st, x[i], NOW);
    }
    cordon_store_close(f->st);
    f->st = NULL;
    f->cfg.writer_objects = 2;
    f->cfg.writer_bytes = x[0]->len;
    f->cfg.node_objects = 2;
    fx_open(f);
    obj *more = mk_owned(A, "k3", 1, "v");
    refused(f->st, more, NOW, CORDON_ERR_OBJ_QUOTA);
    obj *grown = mk_owned(A, "k0", 2, "a longer value than the one before");
    refused(f->st, grown, NOW, CORDON_ERR_OBJ_QUOTA);
    obj *del = mk_tombstone(A, CORDON_KIND_OWNED, "k0", 2);
    put_ok(f->st, del, NOW);
    obj *shrunk = mk_owned(A, "k1", 2, "short");
    put_ok(f->st, shrunk, NOW);
    obj *b = mk_owned(B, "k", 1, "v");
    refused(f->st, b, NOW, CORDON_ERR_OBJ_CAPACITY);
    for (int i = 0; i < 3; i++)
        free(x[i]);
    free(more);
    free(grown);
    free(del);
    free(shrunk);
    free(b);
}

/* ---- kinds --------------------------------------------------------------------------- */

static void test_shared_dictionary(void **state)
{
    struct fx *f = *state;
    struct cordon_object o;
    fx_open(f);
    obj *ea = mk(A, CORDON_KIND_SHARED, "guestbook", 1, NOW, LIFE, "from A", 6);
    obj *eb = mk(B, CORDON_KIND_SHARED, "guestbook", 1, NOW, LIFE, "from B", 6);
    put_ok(f->st, ea, NOW);
    put_ok(f->st, eb, NOW);
    /* One resource, two entries. */
    assert_memory_equal(ea->key, eb->key, CORDON_NODE_ID_LEN);
    assert_memory_equal(ea->key + CORDON_NODE_ID_LEN, writers[A].id, CORDON_NODE_ID_LEN);
    assert_memory_equal(eb->key + CORDON_NODE_ID_LEN, writers[B].id, CORDON_NODE_ID_LEN);
    assert_holds(f->st, ea, NOW);
    assert_holds(f->st, eb, NOW);
    assert_usage(f->st, A, 1, ea->len);
    assert_usage(f->st, B, 1, eb->len);

    /* B cannot replace A's entry: as B its object lands in its own entry, and claiming to
     * be A is refused. */
    fill(&o, &writers[A], CORDON_KIND_SHARED, "guestbook", 9, NOW, LIFE, "by B", 4);
    o.cert = writers[B].der.data;
    o.cert_len = writers[B].der.len;
    cordon_object_resource_id(CORDON_KIND_SHARED, OVERLAY, writers[A].id, o.name, o.name_len,
                              o.resource);
    obj *takeover = forge(&writers[B], &o);
    assert_memory_equal(takeover->key, ea->key, CORDON_OBJECT_ENTRY_KEY_LEN);
    refused(f->st, takeover, NOW, CORDON_ERR_OBJ_NOT_ALLOWED);
    obj *eb2 = mk(B, CORDON_KIND_SHARED, "guestbook", 9, NOW, LIFE, "B again", 7);
    put_ok(f->st, eb2, NOW);
    assert_holds(f->st, ea, NOW);
    assert_holds(f->st, eb2, NOW);
    /* A's entry keeps its own seq. */
    obj *ea_old = mk(A, CORDON_KIND_SHARED, "guestbook", 1, NOW, LIFE, "again", 5);
    refused(f->st, ea_old, NOW, CORDON_ERR_OBJ_STALE);
    obj *ea2 = mk(A, CORDON_KIND_SHARED, "guestbook", 2, NOW, LIFE, "A again", 7);
    put_ok(f->st, ea2, NOW);
    assert_totals(f->st, 2, ea2->len + eb2->len);
    free(ea);
    free(eb);
    free(takeover);
    free(eb2);
    free(ea_old);
    free(ea2);
}

static void test_tombstone(void **state)
{
    struct fx *f = *state;
    struct cordon_object o;
    cordon_buf b;
    fx_open(f);
    obj *v1 = mk_owned(A, "doomed", 1, "still here");
    obj *t2 = mk_tombstone(A, CORDON_KIND_OWNED, "doomed", 2);
    put_ok(f->st, v1, NOW);
    put_ok(f->st, t2, NOW);
    assert_memory_equal(t2->key, v1->key, CORDON_OBJECT_ENTRY_KEY_LEN);
    cordon_buf_init(&b, CORDON_OBJECT_MAX, false);
    must(cordon_store_get(f->st, v1->key, NOW, &b));
    must(cordon_object_decode(b.data, b.len, &o));
    assert_true(cordon_object_is_tombstone(&o));
    assert_int_equal(o.seq, 2);
    cordon_buf_free(&b);
    assert_usage(f->st, A, 1, t2->len); /* a tombstone is charged like any object */
    assert_totals(f->st, 1, t2->len);
    refused(f->st, v1, NOW, CORDON_ERR_OBJ_STALE); /* the replay of the deleted object */
    refused(f->st, t2, NOW, CORDON_ERR_OBJ_STALE);
    /* A shared entry is deleted the same way. */
    obj *s1 = mk(B, CORDON_KIND_SHARED, "dict", 1, NOW, LIFE, "entry", 5);
    obj *s2 = mk_tombstone(B, CORDON_KIND_SHARED, "dict", 2);
    put_ok(f->st, s1, NOW);
    put_ok(f->st, s2, NOW);
    refused(f->st, s1, NOW, CORDON_ERR_OBJ_STALE);
    /* A higher seq brings the entry back. */
    obj *v3 = mk_owned(A, "doomed", 3, "back");
    put_ok(f->st, v3, NOW);
    assert_holds(f->st, v3, NOW);
    free(v1);
    free(t2);
    free(s1);
    free(s2);
    free(v3);
}

static void test_crl_kind(void **state)
{
    struct fx *f = *state;
    fx_open(f);
    obj *c5 = mk_crl(A, 5, 5, ca_key, ca_cert);
    put_ok(f->st, c5, NOW);
    assert_holds(f->st, c5, NOW);
    assert_usage(f->st, A, 0, 0); /* not charged to its writer */
    assert_totals(f->st, 1, c5->len);

    obj *c4 = mk_crl(B, 4, 4, ca_key, ca_cert);
    refused(f->st, c4, NOW, CORDON_ERR_OBJ_STALE);
    obj *c5b = mk_crl(B, 5, 5, ca_key, ca_cert);
    refused(f->st, c5b, NOW, CORDON_ERR_OBJ_STALE);
    /* seq must be the CRL's number; the CRL must be the overlay CA's. */
    obj *mismatch = mk_crl(B, 8, 7, ca_key, ca_cert);
    refused(f->st, mismatch, NOW, CORDON_ERR_CRL);
    obj *foreign = mk_crl(B, 9, 9, foreign_key, foreign_ca);
    refused(f->st, foreign, NOW, CORDON_ERR_CRL);
    /* A newer CRL replaces it, whoever pushes it. */
    obj *c7 = mk_crl(B, 7, 7, ca_key, ca_cert);
    put_ok(f->st, c7, NOW);
    assert_memory_equal(c7->key, c5->key, CORDON_OBJECT_ENTRY_KEY_LEN);
    assert_holds(f->st, c7, NOW);
    assert_usage(f->st, A, 0, 0);
    assert_usage(f->st, B, 0, 0);
    assert_totals(f->st, 1, c7->len);
    free(c5);
    free(c4);
    free(c5b);
    free(mismatch);
    free(foreign);
    free(c7);
}

/* ---- expiry -------------------------------------------------------------------------- */

static void test_expire(void **state)
{
    struct fx *f = *state;
    struct cordon_store_stats s;
    size_t removed = 99;
    char name[16];
    obj *x[6];
    fx_open(f);
    /* Lifetimes 600, 500, ..., 100, so key order is not expiry order. */
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof(name), "e%d", i);
        x[i] =
            mk(i % 2 ? B : A, CORDON_KIND_OWNED, name, 1, NOW, (uint32_t)(600 - 100 * i), "v", 1);
        put_ok(f->st, x[i], NOW);
    }
    obj *crl = mk_crl(A, 5, 5, ca_key, ca_cert); /* lifetime LIFE: outlives the others */
    put_ok(f->st, crl, NOW);
    uint64_t all = crl->len;
    for (int i = 0; i < 6; i++)
        all += x[i]->len;

    expect_err(cordon_store_expire(f->st, NOW, 0, &removed), CORDON_ERR_INVAL);
    must(cordon_store_expire(f->st, NOW + 99, 10, &removed));
    assert_int_equal(removed, 0);

    /* Expired at now but not swept: not returned, still counted. */
    assert_absent(f->st, x[5]->key, NOW + 100);
    assert_holds(f->st, x[5], NOW + 99);
    assert_totals(f->st, 7, all);

    /* Due: x5 (100), x4 (200), x3 (300) at NOW + 300; partial batches, oldest first. */
    must(cordon_store_expire(f->st, NOW + 300, 1, &removed));
    assert_int_equal(removed, 1);
    assert_absent(f->st, x[5]->key, 0);
    assert_holds(f->st, x[4], 0);
    assert_usage(f->st, B, 2, x[1]->len + x[3]->len);
    must(cordon_store_audit(f->st));
    must(cordon_store_expire(f->st, NOW + 300, 1, &removed));
    assert_int_equal(removed, 1);
    assert_absent(f->st, x[4]->key, 0);
    assert_holds(f->st, x[3], 0);
    assert_usage(f->st, A, 2, x[0]->len + x[2]->len);
    must(cordon_store_expire(f->st, NOW + 300, 5, &removed));
    assert_int_equal(removed, 1);
    must(cordon_store_expire(f->st, NOW + 300, 5, &removed));
    assert_int_equal(removed, 0);
    assert_usage(f->st, B, 1, x[1]->len);
    assert_usage(f->st, A, 2, x[0]->len + x[2]->len);
    assert_totals(f->st, 4, x[0]->len + x[1]->len + x[2]->len + crl->len);
    cordon_store_stats(f->st, &s);
    assert_int_equal(s.expired, 3);
    must(cordon_store_audit(f->st));

    /* An expired, unswept entry counts as absent: a lower seq takes its place. */
    obj *x2_old = mk(A, CORDON_KIND_OWNED, "e2", 0, NOW + 400, LIFE, "w", 1);
    refused(f->st, x2_old, NOW + 399, CORDON_ERR_OBJ_STALE);
    put_ok(f->st, x2_old, NOW + 400);
    assert_holds(f->st, x2_old, NOW + 400);

    /* The rest, with a batch larger than the cap (clamped, not refused). */
    must(cordon_store_expire(f->st, NOW + 10 * LIFE, 100000, &removed));
    assert_int_equal(removed, 4);
    assert_totals(f->st, 0, 0);
    assert_usage(f->st, A, 0, 0);
    assert_usage(f->st, B, 0, 0);
    cordon_store_stats(f->st, &s);
    assert_int_equal(s.expired, 7);
    must(cordon_store_audit(f->st));
    for (int i = 0; i < 6; i++)
        free(x[i]);
    free(crl);
    free(x2_old);
}

/* ---- restart, scan, copies ----------------------------------------------------------- */

static void test_restart(void **state)
{
    struct fx *f = *state;
    char name[16];
    fx_open(f);
    obj *objs[8];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        objs[i] = mk_owned(i % 2 ? A : B, name, (uint64_t)i + 1, "persisted");
        put_ok(f->st, objs[i], NOW);
    }
    objs[4] = mk(A, CORDON_KIND_SHARED, "dict", 3, NOW, LIFE, "entry", 5);
    objs[5] = mk_tombstone(B, CORDON_KIND_OWNED, "p0", 9);
    objs[6] = mk_crl(B, 5, 5, ca_key, ca_cert);
    objs[7] = mk(A, CORDON_KIND_OWNED, "short", 1, NOW, 10, "v", 1);
    for (int i = 4; i < 8; i++)
        put_ok(f->st, objs[i], NOW);
    size_t removed = 0;
    must(cordon_store_expire(f->st, NOW + 10, 10, &removed)); /* "short" goes */
    assert_int_equal(removed, 1);
    struct snap *before = snap_take(f->st);

    fx_reopen(f);
    struct snap *after = snap_take(f->st);
    snap_assert_same(before, after);
    assert_int_equal(after->n, 6);
    assert_int_equal(after->stats.accepted, 0); /* counters are since open */
    assert_int_equal(after->stats.expired, 0);
    must(cordon_store_audit(f->st));
    /* Seqs survived: a replay is still refused, a newer version still accepted. */
    refused(f->st, objs[0], NOW, CORDON_ERR_OBJ_STALE);
    obj *newer = mk_owned(A, "p1", 3, "newer");
    put_ok(f->st, newer, NOW);
    snap_free(before);
    snap_free(after);
    for (int i = 0; i < 8; i++)
        free(objs[i]);
    free(newer);
}

struct scan_log {
    uint8_t keys[32][CORDON_OBJECT_ENTRY_KEY_LEN];
    struct cordon_store_summary last;
    size_t n;
    size_t stop_after; /* 0: never stop */
};

static bool log_key(void *ctx, const struct cordon_store_summary *s)
{
    struct scan_log *log = ctx;
    assert_true(log->n < 32);
    memcpy(log->keys[log->n++], s->key, CORDON_OBJECT_ENTRY_KEY_LEN);
    log->last = *s;
    return log->stop_after == 0 || log->n < log->stop_after;
}

static int key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, CORDON_OBJECT_ENTRY_KEY_LEN);
}

/* Pages through the whole store max entries at a time; returns how many calls it took. */
static size_t scan_all(cordon_store *st, size_t max, uint64_t now, struct scan_log *log)
{
    uint8_t next[CORDON_OBJECT_ENTRY_KEY_LEN], after[CORDON_OBJECT_ENTRY_KEY_LEN];
    const uint8_t *from = NULL;
    size_t calls = 0;
    cordon_err err;
    while ((err = cordon_store_scan(st, from, max, now, log_key, log, next)) == CORDON_OK) {
        memcpy(after, next, sizeof(after));
        from = after;
        calls++;
        assert_true(calls < 100);
    }
    expect_err(err, CORDON_ERR_NOT_FOUND);
    return calls;
}

static void test_scan(void **state)
{
    struct fx *f = *state;
    uint8_t expected[10][CORDON_OBJECT_ENTRY_KEY_LEN];
    uint8_t next[CORDON_OBJECT_ENTRY_KEY_LEN];
    struct scan_log *log = calloc(1, sizeof(*log));
    char name[16];
    obj *x[10];
    assert_non_null(log);
    fx_open(f);

    expect_err(cordon_store_scan(f->st, NULL, 5, NOW, log_key, log, next), CORDON_ERR_NOT_FOUND);
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "s%d", i);
        uint32_t life = (i == 3 || i == 7) ? 10 : LIFE;
        x[i] = mk(A, CORDON_KIND_OWNED, name, (uint64_t)i + 100, NOW, life, "v", 1);
        put_ok(f->st, x[i], NOW);
        memcpy(expected[i], x[i]->key, CORDON_OBJECT_ENTRY_KEY_LEN);
    }
    qsort(expected, 10, CORDON_OBJECT_ENTRY_KEY_LEN, key_cmp);
    expect_err(cordon_store_scan(f->st, NULL, 0, NOW, log_key, log, next), CORDON_ERR_INVAL);

    /* Pages of 3: every entry once, in key order. */
    assert_int_equal(scan_all(f->st, 3, NOW, log), 4);
    assert_int_equal(log->n, 10);
    assert_memory_equal(log->keys, expected, sizeof(expected));
    /* One page holds them all. */
    memset(log, 0, sizeof(*log));
    assert_int_equal(scan_all(f->st, 100, NOW, log), 1);
    assert_int_equal(log->n, 10);

    /* The summary of one entry. */
    memset(log, 0, sizeof(*log));
    must(cordon_store_scan(f->st, NULL, 10, NOW, log_key, log, next));
    for (size_t i = 0; i < log->n; i++) {
        if (memcmp(log->keys[i], x[3]->key, CORDON_OBJECT_ENTRY_KEY_LEN) == 0) {
            memset(log, 0, sizeof(*log));
            log->stop_after = 1;
            if (i > 0) {
                must(cordon_store_scan(f->st, expected[i - 1], 1, NOW, log_key, log, next));
            } else {
                must(cordon_store_scan(f->st, NULL, 1, NOW, log_key, log, next));
            }
            assert_int_equal(log->last.seq, 103);
            assert_int_equal(log->last.expires_at, NOW + 10);
            break;
        }
    }

    /* Expired entries are skipped, but count toward max. */
    memset(log, 0, sizeof(*log));
    assert_int_equal(scan_all(f->st, 3, NOW + 10, log), 4);
    assert_int_equal(log->n, 8);
    for (size_t i = 0; i < log->n; i++) {
        assert_int_not_equal(memcmp(log->keys[i], x[3]->key, CORDON_OBJECT_ENTRY_KEY_LEN), 0);
        assert_int_not_equal(memcmp(log->keys[i], x[7]->key, CORDON_OBJECT_ENTRY_KEY_LEN), 0);
    }
    /* A page of expired entries only: no call, but the cursor moves on. */
    for (size_t i = 0; i < 10; i++) {
        if (memcmp(expected[i], x[7]->key, CORDON_OBJECT_ENTRY_KEY_LEN) != 0)
            continue;
        memset(log, 0, sizeof(*log));
        must(cordon_store_scan(f->st, i ? expected[i - 1] : NULL, 1, NOW + 10, log_key, log, next));
        assert_int_equal(log->n, 0);
        assert_memory_equal(next, expected[i], CORDON_OBJECT_ENTRY_KEY_LEN);
    }

    /* Early stop: fn's false ends the call; next is the entry it refused to go past. */
    memset(log, 0, sizeof(*log));
    log->stop_after = 2;
    must(cordon_store_scan(f->st, NULL, 10, NOW, log_key, log, next));
    assert_int_equal(log->n, 2);
    assert_memory_equal(next, expected[1], CORDON_OBJECT_ENTRY_KEY_LEN);
    memset(log, 0, sizeof(*log));
    log->stop_after = 1;
    must(cordon_store_scan(f->st, next, 10, NOW, log_key, log, next));
    assert_memory_equal(log->keys[0], expected[2], CORDON_OBJECT_ENTRY_KEY_LEN);

    /* After the last key: nothing left, next untouched. A key between entries works. */
    uint8_t marker[CORDON_OBJECT_ENTRY_KEY_LEN];
    memset(marker, 0xee, sizeof(marker));
    memcpy(next, marker, sizeof(next));
    expect_err(cordon_store_scan(f->st, expected[9], 10, NOW, log_key, log, next),
               CORDON_ERR_NOT_FOUND);
    assert_memory_equal(next, marker, sizeof(marker));
    uint8_t between[CORDON_OBJECT_ENTRY_KEY_LEN];
    memcpy(between, expected[4], sizeof(between));
    between[CORDON_OBJECT_ENTRY_KEY_LEN - 1] ^= 0x01; /* zeros: a key just after expected[4] */
    memset(log, 0, sizeof(*log));
    log->stop_after = 1;
    must(cordon_store_scan(f->st, between, 10, NOW, log_key, log, next));
    assert_memory_equal(log->keys[0], expected[5], CORDON_OBJECT_ENTRY_KEY_LEN);

    for (int i = 0; i < 10; i++)
        free(x[i]);
    free(log);
}

static void test_get_copies_out(void **state)
{
    struct fx *f = *state;
    cordon_buf b, small;
    char name[16];
    size_t removed;
    fx_open(f);
    obj *x = mk(A, CORDON_KIND_OWNED, "kept", 1, NOW, 10, "the first version", 17);
    put_ok(f->st, x, NOW);
    cordon_buf_init(&b, CORDON_OBJECT_MAX, false);
    must(cordon_buf_append(&b, "old contents", 12)); /* replaced, not appended to */
    must(cordon_store_get(f->st, x->key, NOW, &b));
    assert_int_equal(b.len, x->len);

    /* Not found leaves the buffer alone. */
    obj *missing = mk_owned(B, "missing", 1, "v");
    expect_err(cordon_store_get(f->st, missing->key, NOW, &b), CORDON_ERR_NOT_FOUND);
    assert_int_equal(b.len, x->len);
    /* A buffer too small for the object. */
    cordon_buf_init(&small, 16, false);
    expect_err(cordon_store_get(f->st, x->key, NOW, &small), CORDON_ERR_TOO_LARGE);
    cordon_buf_free(&small);

    /* Replace it, write much more, sweep it away, close the map: the copy stays. */
    obj *x2 = mk_owned(A, "kept", 2, "the second version");
    put_ok(f->st, x2, NOW);
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "fill%d", i);
        obj *y = mk(B, CORDON_KIND_OWNED, name, 1, NOW, 5, "filler", 6);
        put_ok(f->st, y, NOW);
        free(y);
    }
    must(cordon_store_expire(f->st, NOW + 5, 100, &removed));
    assert_int_equal(removed, 40);
    cordon_store_close(f->st);
    f->st = NULL;
    assert_int_equal(b.len, x->len);
    assert_memory_equal(b.data, x->b, x->len);
    cordon_buf_free(&b);
    free(x);
    free(x2);
    free(missing);
}

/* The LMDB map fills before node_bytes does (pages hold less than they are worth):
 * refused as capacity, nothing harmed, and expiry makes room again. */
static void test_map_full(void **state)
{
    struct fx *f = *state;
    uint8_t value[2100];
    char name[16];
    size_t removed, stored = 0;
    cordon_err err = CORDON_OK;
    obj *y = NULL;
    memset(value, 'm', sizeof(value));
    f->cfg.map_size = 1024 * 1024;
    f->cfg.node_bytes = 1024 * 1024;
    fx_open(f);
    for (int i = 0; i < 1000 && err == CORDON_OK; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        free(y);
        y = mk(A, CORDON_KIND_OWNED, name, 1, NOW, LIFE, value, sizeof(value));
        err = cordon_store_put(f->st, verifier, y->b, y->len, NOW, NULL);
        if (err == CORDON_OK)
            stored++;
    }
    expect_err(err, CORDON_ERR_OBJ_CAPACITY);
    assert_true(stored > 10);
    struct cordon_store_stats s;
    cordon_store_stats(f->st, &s);
    assert_int_equal(s.objects, stored);
    assert_true(s.bytes < f->cfg.node_bytes); /* the map, not the count, was full */
    must(cordon_store_audit(f->st));
    refused(f->st, y, NOW, CORDON_ERR_OBJ_CAPACITY);

    /* Expiry works in a full map, and makes room. */
    must(cordon_store_expire(f->st, NOW + LIFE, 16, &removed));
    assert_int_equal(removed, 16);
    put_ok(f->st, y, NOW);
    fx_reopen(f);
    must(cordon_store_audit(f->st));
    assert_holds(f->st, y, NOW);
    free(y);
}

/* seq: the held seq without the object, 0 for none and for an expired entry (as get sees
 * it), a tombstone's own seq, and the replacement's. */
static void test_seq(void **state)
{
    struct fx *f = *state;
    uint64_t seq = 99;
    fx_open(f);
    obj *x = mk(A, CORDON_KIND_OWNED, "s", 7, NOW, 10, "v", 1);
    must(cordon_store_seq(f->st, x->key, NOW, &seq));
    assert_int_equal(seq, 0);
    put_ok(f->st, x, NOW);
    must(cordon_store_seq(f->st, x->key, NOW, &seq));
    assert_int_equal(seq, 7);
    must(cordon_store_seq(f->st, x->key, NOW + 9, &seq));
    assert_int_equal(seq, 7);
    seq = 99;
    must(cordon_store_seq(f->st, x->key, NOW + 10, &seq)); /* expired, not yet swept */
    assert_int_equal(seq, 0);
    obj *t = mk_tombstone(A, CORDON_KIND_OWNED, "s", 8);
    put_ok(f->st, t, NOW);
    must(cordon_store_seq(f->st, x->key, NOW, &seq));
    assert_int_equal(seq, 8);
    /* Another entry of the same resource: a dictionary entry per writer. */
    obj *da = mk(A, CORDON_KIND_SHARED, "d", 3, NOW, LIFE, "a", 1);
    obj *db = mk(B, CORDON_KIND_SHARED, "d", 4, NOW, LIFE, "b", 1);
    put_ok(f->st, da, NOW);
    must(cordon_store_seq(f->st, db->key, NOW, &seq));
    assert_int_equal(seq, 0);
    put_ok(f->st, db, NOW);
    must(cordon_store_seq(f->st, da->key, NOW, &seq));
    assert_int_equal(seq, 3);
    must(cordon_store_seq(f->st, db->key, NOW, &seq));
    assert_int_equal(seq, 4);
    fx_reopen(f);
    must(cordon_store_seq(f->st, db->key, NOW, &seq));
    assert_int_equal(seq, 4);
    expect_err(cordon_store_seq(NULL, db->key, NOW, &seq), CORDON_ERR_INVAL);
    expect_err(cordon_store_seq(f->st, NULL, NOW, &seq), CORDON_ERR_INVAL);
    expect_err(cordon_store_seq(f->st, db->key, NOW, NULL), CORDON_ERR_INVAL);
    free(x);
    free(t);
    free(da);
    free(db);
}

/* The writer's records: earliest due first, a replacement moves its record in the index,
 * a delete removes it, they survive a restart, and they are not objects (no FETCH, no
 * totals, no scan, the audit still holds). */
static void test_mine(void **state)
{
    struct fx *f = *state;
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    uint64_t at = 0, n = 99;
    cordon_buf b;
    cordon_buf_init(&b, CORDON_OBJECT_MAX, false);
    fx_open(f);
    obj *x = mk_owned(A, "m1", 1, "one");
    obj *y = mk_owned(A, "m2", 1, "two");
    obj *z = mk_owned(A, "m3", 1, "three");
    expect_err(cordon_store_mine_first(f->st, key, &at, &b), CORDON_ERR_NOT_FOUND);
    must(cordon_store_mine_count(f->st, &n));
    assert_int_equal(n, 0);
    must(cordon_store_mine_del(f->st, x->key)); /* none: fine */
    must(cordon_store_mine_put(f->st, x->key, x->b, x->len, NOW + 30));
    must(cordon_store_mine_put(f->st, y->key, y->b, y->len, NOW + 10));
    must(cordon_store_mine_put(f->st, z->key, z->b, z->len, NOW + 20));
    must(cordon_store_mine_count(f->st, &n));
    assert_int_equal(n, 3);
    must(cordon_store_mine_first(f->st, key, &at, &b));
    assert_memory_equal(key, y->key, sizeof(key));
    assert_int_equal(at, NOW + 10);
    assert_int_equal(b.len, y->len);
    assert_memory_equal(b.data, y->b, y->len);

    /* y republished: its newer version replaces the record and goes to the back. */
    obj *y2 = mk_owned(A, "m2", 2, "two");
    must(cordon_store_mine_put(f->st, y2->key, y2->b, y2->len, NOW + 40));
    must(cordon_store_mine_count(f->st, &n));
    assert_int_equal(n, 3);
    must(cordon_store_mine_first(f->st, key, &at, NULL));
    assert_memory_equal(key, z->key, sizeof(key));
    assert_int_equal(at, NOW + 20);
    /* z deleted: x is next. */
    must(cordon_store_mine_del(f->st, z->key));
    must(cordon_store_mine_first(f->st, key, &at, &b));
    assert_memory_equal(key, x->key, sizeof(key));
    assert_int_equal(at, NOW + 30);
    assert_memory_equal(b.data, x->b, x->len);

    /* Not objects: nothing stored, nothing to fetch or scan, and the audit agrees. */
    struct cordon_store_stats ss;
    cordon_store_stats(f->st, &ss);
    assert_int_equal(ss.objects, 0);
    assert_int_equal(ss.bytes, 0);
    assert_absent(f->st, x->key, NOW);
    uint8_t next[CORDON_OBJECT_ENTRY_KEY_LEN];
    struct scan_log *log = calloc(1, sizeof(*log));
    assert_non_null(log);
    expect_err(cordon_store_scan(f->st, NULL, 5, NOW, log_key, log, next), CORDON_ERR_NOT_FOUND);
    free(log);
    must(cordon_store_audit(f->st));

    /* A restart keeps them, in order, with their objects. */
    fx_reopen(f);
    must(cordon_store_mine_count(f->st, &n));
    assert_int_equal(n, 2);
    must(cordon_store_mine_first(f->st, key, &at, &b));
    assert_memory_equal(key, x->key, sizeof(key));
    must(cordon_store_mine_del(f->st, x->key));
    must(cordon_store_mine_first(f->st, key, &at, &b));
    assert_memory_equal(key, y2->key, sizeof(key));
    assert_int_equal(at, NOW + 40);
    assert_int_equal(b.len, y2->len);
    assert_memory_equal(b.data, y2->b, y2->len);
    must(cordon_store_mine_del(f->st, y2->key));
    expect_err(cordon_store_mine_first(f->st, key, &at, &b), CORDON_ERR_NOT_FOUND);

    expect_err(cordon_store_mine_put(f->st, x->key, x->b, 0, NOW), CORDON_ERR_INVAL);
    expect_err(cordon_store_mine_put(f->st, x->key, NULL, 1, NOW), CORDON_ERR_INVAL);
    expect_err(cordon_store_mine_put(f->st, x->key, x->b, CORDON_OBJECT_MAX + 1, NOW),
               CORDON_ERR_INVAL);
    expect_err(cordon_store_mine_put(NULL, x->key, x->b, x->len, NOW), CORDON_ERR_INVAL);
    expect_err(cordon_store_mine_del(f->st, NULL), CORDON_ERR_INVAL);
    expect_err(cordon_store_mine_first(f->st, NULL, &at, &b), CORDON_ERR_INVAL);
    cordon_buf_free(&b);
    free(x);
    free(y);
    free(y2);
    free(z);
}

/* The cap (mine_max): then a new entry is refused with the quota code while replacing a
 * held one and deleting still work; records are opaque bytes to the store. */
static void test_mine_cap(void **state)
{
    struct fx *f = *state;
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    uint8_t rec[64];
    uint64_t n = 0, at = 0;
    memset(rec, 0x5a, sizeof(rec));
    memset(key, 0, sizeof(key));
    f->cfg.mine_max = 8;
    fx_open(f);
    for (uint8_t i = 0; i < 8; i++) {
        key[0] = i;
        must(cordon_store_mine_put(f->st, key, rec, sizeof(rec), NOW + i));
    }
    must(cordon_store_mine_count(f->st, &n));
    assert_int_equal(n, 8);
    key[0] = 8;
    expect_err(cordon_store_mine_put(f->st, key, rec, sizeof(rec), NOW), CORDON_ERR_OBJ_QUOTA);
    key[0] = 0;
    must(cordon_store_mine_put(f->st, key, rec, sizeof(rec), NOW + 100));
    must(cordon_store_mine_first(f->st, key, &at, NULL));
    assert_int_equal(key[0], 1);
    assert_int_equal(at, NOW + 1);
    must(cordon_store_mine_del(f->st, key));
    key[0] = 8;
    must(cordon_store_mine_put(f->st, key, rec, sizeof(rec), NOW));
    must(cordon_store_mine_count(f->st, &n));
    assert_int_equal(n, 8);
    /* A restart with a larger cap takes more. */
    f->cfg.mine_max = 9;
    fx_reopen(f);
    key[0] = 9;
    must(cordon_store_mine_put(f->st, key, rec, sizeof(rec), NOW));
    key[0] = 10;
    expect_err(cordon_store_mine_put(f->st, key, rec, sizeof(rec), NOW), CORDON_ERR_OBJ_QUOTA);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, store_fx_setup, store_fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_open_modes),
        T(test_open_refusals),
        T(test_put_get),
        T(test_refuse_malformed),
        T(test_refuse_too_large),
        T(test_refuse_lifetime),
        T(test_refuse_time),
        T(test_refuse_not_allowed),
        T(test_refuse_signature_and_cert),
        T(test_refuse_stale),
        T(test_refusal_order),
        T(test_replace_usage),
        T(test_writer_quota_objects),
        T(test_writer_quota_bytes),
        T(test_node_capacity_objects),
        T(test_node_capacity_bytes),
        T(test_lowered_caps),
        T(test_shared_dictionary),
        T(test_tombstone),
        T(test_crl_kind),
        T(test_expire),
        T(test_restart),
        T(test_scan),
        T(test_get_copies_out),
        T(test_map_full),
        T(test_seq),
        T(test_mine),
        T(test_mine_cap),
    };
    return cmocka_run_group_tests(tests, group_setup, store_fx_group_teardown);
}
