/*
 * tests/unit/test_object.c — the signed object: its encoding (wire/object.h) and its
 * resource IDs, signing and verification (crypto/object.h).
 *
 * Encoding: known-answer bytes that pin the layout, round trips at every field's bounds,
 * each refusal with its exact error (every length cap, version, kind, flags, reserved,
 * overlay name, name length per kind, tombstone with a value, trailing bytes), truncation
 * at every length, bit-flip sweeps (whatever still decodes re-encodes to the same bytes),
 * the encoder refusing what the decoder refuses, canaries around its output.
 *
 * Crypto: resource IDs against their documented inputs; sign + verify with a real CA made
 * with the crypto API (P-256 and Ed25519 writers, every kind, a tombstone); every refusal
 * of verification (other overlay, wrong resource ID, foreign CA, expired and not yet valid
 * certificates, revoked ones, writer not the certificate's node, tampered bytes or fields,
 * CRL objects with a wrong number or a foreign CA); a bit-flip sweep over a signed object
 * that nothing survives; the certificate cache (hits counted, LRU bound, a certificate
 * revoked after it was cached); the verifier's CRL policy (stale CRLs still revoke, older
 * ones are refused).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/limits.h"
#include "crypto/crypto.h"
#include "crypto/object.h"
#include "wire/object.h"

#define OVERLAY "test"
#define T0 INT64_C(1767225600) /* 2026-01-01T00:00:00Z */
#define DAY INT64_C(86400)
#define NODE_NB T0
#define NODE_NA (T0 + 7 * DAY)
#define NOW (T0 + 3600)
#define CTX "cordon-object-v1" /* the signature context, as docs/protocol.md spells it */
#define CTX_LEN 17             /* with its 0x00 */
#define CANARY 0xCC
#define POISON 0xA5

static void must(cordon_err err)
{
    if (err != CORDON_OK)
        fail_msg("unexpected error %s", cordon_errname(err));
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    assert_non_null(p);
    return p;
}

/* ---- identities: a CA and its nodes -------------------------------------------------- */

struct ident {
    cordon_key *key;
    cordon_cert *cert;
    uint8_t id[CORDON_NODE_ID_LEN];
    uint8_t serial[CORDON_SERIAL_LEN];
    uint8_t der[CORDON_OBJECT_CERT_MAX];
    size_t der_len;
};

static cordon_key *ca_key, *foreign_key, *other_key;
static cordon_cert *ca_cert;      /* overlay "test" */
static cordon_cert *foreign_cert; /* another CA that also calls its overlay "test" */
static cordon_cert *other_cert;   /* the CA of overlay "other" */
static struct ident id_a;         /* P-256, serial ...01 */
static struct ident id_b;         /* Ed25519, serial ...02 */
static struct ident id_c;         /* P-256, serial ...03 */
static struct ident id_d;         /* P-256, serial ...04 */
static struct ident id_foreign;   /* issued by foreign_cert for overlay "test" */
static struct ident id_other;     /* issued by other_cert for overlay "other" */

static void ident_make(struct ident *w, cordon_key_type type, uint8_t id_byte, uint8_t serial_byte,
                       const char *overlay, const cordon_key *cak, const cordon_cert *cac)
{
    struct cordon_node_cert_params p;
    cordon_csr *csr = NULL;
    cordon_buf der;

    memset(w, 0, sizeof(*w));
    must(cordon_key_generate(type, &w->key));
    memset(&p, 0, sizeof(p));
    p.overlay = overlay;
    for (size_t i = 0; i < CORDON_NODE_ID_LEN; i++)
        p.node_id[i] = (uint8_t)(id_byte + i);
    p.serial[0] = 0x12;
    p.serial[CORDON_SERIAL_LEN - 1] = serial_byte;
    p.not_before = NODE_NB;
    p.not_after = NODE_NA;
    memcpy(w->id, p.node_id, sizeof(w->id));
    memcpy(w->serial, p.serial, sizeof(w->serial));
    must(cordon_csr_create(w->key, &csr));
    must(cordon_cert_issue_node(csr, &p, cak, cac, &w->cert));
    cordon_csr_free(csr);
    cordon_buf_init(&der, CORDON_CERT_MAX, false);
    must(cordon_cert_der(w->cert, &der));
    assert_true(der.len <= sizeof(w->der));
    memcpy(w->der, der.data, der.len);
    w->der_len = der.len;
    cordon_buf_free(&der);
}

static void ident_free(struct ident *w)
{
    cordon_key_free(w->key);
    cordon_cert_free(w->cert);
}

static int group_setup(void **state)
{
    (void)state;
    must(cordon_key_generate(CORDON_KEY_P256, &ca_key));
    must(cordon_key_generate(CORDON_KEY_P256, &foreign_key));
    must(cordon_key_generate(CORDON_KEY_ED25519, &other_key));
    must(cordon_ca_create(ca_key, OVERLAY, T0 - DAY, T0 + 3650 * DAY, &ca_cert));
    must(cordon_ca_create(foreign_key, OVERLAY, T0 - DAY, T0 + 3650 * DAY, &foreign_cert));
    must(cordon_ca_create(other_key, "other", T0 - DAY, T0 + 3650 * DAY, &other_cert));
    ident_make(&id_a, CORDON_KEY_P256, 0x10, 1, OVERLAY, ca_key, ca_cert);
    ident_make(&id_b, CORDON_KEY_ED25519, 0x40, 2, OVERLAY, ca_key, ca_cert);
    ident_make(&id_c, CORDON_KEY_P256, 0x60, 3, OVERLAY, ca_key, ca_cert);
    ident_make(&id_d, CORDON_KEY_P256, 0x80, 4, OVERLAY, ca_key, ca_cert);
    /* The foreign node has the same node ID and serial as id_a: only the CA tells them
     * apart. */
    ident_make(&id_foreign, CORDON_KEY_P256, 0x10, 1, OVERLAY, foreign_key, foreign_cert);
    ident_make(&id_other, CORDON_KEY_P256, 0x90, 5, "other", other_key, other_cert);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    ident_free(&id_a);
    ident_free(&id_b);
    ident_free(&id_c);
    ident_free(&id_d);
    ident_free(&id_foreign);
    ident_free(&id_other);
    cordon_cert_free(ca_cert);
    cordon_cert_free(foreign_cert);
    cordon_cert_free(other_cert);
    cordon_key_free(ca_key);
    cordon_key_free(foreign_key);
    cordon_key_free(other_key);
    return 0;
}

/* A CRL of the test CA (or another) listing the given identities' serials. */
static cordon_crl *crl_make(const cordon_key *k, const cordon_cert *ca, uint64_t number,
                            int64_t this_update, int64_t next_update,
                            const struct ident *const *who, size_t n)
{
    struct cordon_revoked r[4];
    cordon_crl *crl = NULL;
    assert_true(n <= 4);
    for (size_t i = 0; i < n; i++) {
        memcpy(r[i].serial, who[i]->serial, CORDON_SERIAL_LEN);
        r[i].revoked_at = this_update - 60;
    }
    must(cordon_crl_create(k, ca, number, this_update, next_update, r, n, &crl));
    return crl;
}

/* The DER of a CRL, in a cordon_buf the caller frees. */
static void crl_der(const cordon_crl *crl, cordon_buf *out)
{
    cordon_buf_init(out, CORDON_CRL_MAX, false);
    must(cordon_crl_der(crl, out));
}

/* ---- objects ------------------------------------------------------------------------- */

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 31u + i * 7u + 1u);
}

/* An object of kind by w, named name, ready to sign (resource computed by the signer). */
static void obj_init(struct cordon_object *o, uint8_t kind, const struct ident *w, const char *name,
                     const void *value, size_t value_len, uint64_t seq)
{
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    memcpy(o->overlay, OVERLAY, sizeof(OVERLAY));
    if (name != NULL) {
        o->name = (const uint8_t *)name;
        o->name_len = strlen(name);
    }
    memcpy(o->writer, w->id, CORDON_NODE_ID_LEN);
    o->seq = seq;
    o->created_at = (uint64_t)NOW;
    o->lifetime = (uint32_t)DAY;
    o->value = value;
    o->value_len = value_len;
    o->cert = w->der;
    o->cert_len = w->der_len;
}

/* Signs o with cordon_object_sign into a new buffer (*out, free it); returns the length. */
static size_t sign_obj(const struct ident *w, struct cordon_object *o, uint8_t **out)
{
    size_t len = 0;
    *out = xmalloc(CORDON_OBJECT_MAX);
    must(cordon_object_sign(w->key, o, *out, CORDON_OBJECT_MAX, &len));
    return len;
}

/* Signs o as the documentation says, bypassing cordon_object_sign's checks (o->resource is
 * taken as it is): "cordon-object-v1" 0x00 || tbs. */
static size_t sign_raw(const cordon_key *key, struct cordon_object *o, uint8_t **out)
{
    uint8_t *msg = xmalloc(CTX_LEN + CORDON_OBJECT_MAX);
    uint8_t sig[CORDON_SIG_MAX];
    size_t tbs_len, sig_len, len;

    memcpy(msg, CTX, CTX_LEN);
    assert_int_equal(msg[CTX_LEN - 1], 0);
    must(cordon_object_encode_tbs(o, msg + CTX_LEN, CORDON_OBJECT_MAX, &tbs_len));
    must(cordon_sign(key, msg, CTX_LEN + tbs_len, sig, &sig_len));
    o->sig = sig;
    o->sig_len = sig_len;
    *out = xmalloc(CORDON_OBJECT_MAX);
    must(cordon_object_encode(o, *out, CORDON_OBJECT_MAX, &len));
    o->sig = NULL;
    o->sig_len = 0;
    free(msg);
    return len;
}

static void set_resource(struct cordon_object *o)
{
    cordon_object_resource_id(o->kind, o->overlay, o->writer, o->name, o->name_len, o->resource);
}

static cordon_object_verifier *verifier(size_t cache_max)
{
    cordon_object_verifier *v = NULL;
    must(cordon_object_verifier_new(ca_cert, OVERLAY, cache_max, &v));
    assert_non_null(v);
    return v;
}

/* Decodes the bytes (which must decode) and verifies them at now. */
static cordon_err verify_bytes(cordon_object_verifier *v, const uint8_t *data, size_t len,
                               int64_t now)
{
    struct cordon_object d;
    must(cordon_object_decode(data, len, &d));
    return cordon_object_verify(v, &d, now);
}

static struct cordon_object_verifier_stats stats_of(const cordon_object_verifier *v)
{
    struct cordon_object_verifier_stats s;
    cordon_object_verifier_stats(v, &s);
    return s;
}

/* ---- encodings for the codec tests (no crypto: the certificate and signature are bytes) */

static uint8_t name_max[CORDON_OBJECT_NAME_MAX];
static uint8_t value_max[CORDON_OBJECT_VALUE_MAX];
static uint8_t cert_max[CORDON_OBJECT_CERT_MAX];
static uint8_t sig_max[CORDON_SIG_MAX];
static const char overlay_max[] =
    "abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnopqrstuvwxyz"; /* 63 */

static void wire_obj(struct cordon_object *o, uint8_t kind, unsigned seed)
{
    fill(name_max, sizeof(name_max), 1);
    fill(value_max, sizeof(value_max), 2);
    fill(cert_max, sizeof(cert_max), 3);
    fill(sig_max, sizeof(sig_max), 4);
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    memcpy(o->overlay, OVERLAY, sizeof(OVERLAY));
    fill(o->resource, sizeof(o->resource), seed);
    if (kind != CORDON_KIND_CRL) {
        o->name = name_max;
        o->name_len = 1 + seed % 20;
    }
    fill(o->writer, sizeof(o->writer), seed + 100);
    o->seq = seed;
    o->created_at = (uint64_t)NOW + seed;
    o->lifetime = 3600;
    o->value = value_max;
    o->value_len = seed * 3;
    o->cert = cert_max;
    o->cert_len = 1 + seed * 11;
    o->sig = sig_max;
    o->sig_len = 64 + seed % 8;
}

enum { N_WIRE = 12 };

/* Good objects at every field's bounds. */
static struct cordon_object *wire_objs(void)
{
    struct cordon_object *v = calloc(N_WIRE, sizeof(*v));
    assert_non_null(v);
    size_t i = 0;
    wire_obj(&v[i++], CORDON_KIND_OWNED, 1);
    wire_obj(&v[i++], CORDON_KIND_SHARED, 2);
    wire_obj(&v[i++], CORDON_KIND_CRL, 3);
    wire_obj(&v[i], CORDON_KIND_OWNED, 4); /* tombstone */
    v[i].flags = CORDON_OBJECT_FLAG_TOMBSTONE;
    v[i++].value_len = 0;
    wire_obj(&v[i], CORDON_KIND_SHARED, 5); /* tombstone, shared */
    v[i].flags = CORDON_OBJECT_FLAG_TOMBSTONE;
    v[i++].value_len = 0;
    wire_obj(&v[i], CORDON_KIND_OWNED, 6); /* every length at its minimum */
    memcpy(v[i].overlay, "a", 2);
    v[i].name_len = 1;
    v[i].value_len = 0;
    v[i].cert_len = 1;
    v[i].sig_len = 1;
    v[i].seq = 0;
    v[i].created_at = 0;
    v[i++].lifetime = 0;
    wire_obj(&v[i], CORDON_KIND_SHARED, 7); /* every length at its maximum */
    memcpy(v[i].overlay, overlay_max, sizeof(overlay_max));
    v[i].name_len = CORDON_OBJECT_NAME_MAX;
    v[i].value_len = CORDON_OBJECT_VALUE_MAX;
    v[i].cert_len = CORDON_OBJECT_CERT_MAX;
    v[i].sig_len = CORDON_SIG_MAX;
    v[i].seq = UINT64_MAX;
    v[i].created_at = UINT64_MAX;
    v[i++].lifetime = UINT32_MAX;
    wire_obj(&v[i], CORDON_KIND_CRL, 8); /* a CRL at the maximum */
    memcpy(v[i].overlay, overlay_max, sizeof(overlay_max));
    v[i].value_len = CORDON_OBJECT_VALUE_MAX;
    v[i].cert_len = CORDON_OBJECT_CERT_MAX;
    v[i++].sig_len = CORDON_SIG_MAX;
    wire_obj(&v[i], CORDON_KIND_OWNED, 9); /* names with every byte value, NULs too */
    v[i].name_len = CORDON_OBJECT_NAME_MAX;
    v[i++].name = value_max + 1000;
    wire_obj(&v[i], CORDON_KIND_CRL, 10); /* a CRL with an empty value still decodes */
    v[i++].value_len = 0;
    wire_obj(&v[i], CORDON_KIND_SHARED, 11);
    memcpy(v[i++].overlay, "0-9", 4);
    wire_obj(&v[i], CORDON_KIND_OWNED, 12);
    v[i++].flags = 0;
    assert_int_equal(i, N_WIRE);
    return v;
}

static size_t expected_len(const struct cordon_object *o)
{
    return 4 + 1 + strlen(o->overlay) + 32 + 1 + o->name_len + 32 + 8 + 8 + 4 + 4 + o->value_len +
           2 + o->cert_len + 1 + o->sig_len;
}

static size_t encode(const struct cordon_object *o, uint8_t *out)
{
    size_t len = 0;
    must(cordon_object_encode(o, out, CORDON_OBJECT_MAX, &len));
    assert_int_equal(len, expected_len(o));
    return len;
}

static void assert_obj_equal(const struct cordon_object *a, const struct cordon_object *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->flags, b->flags);
    assert_string_equal(a->overlay, b->overlay);
    assert_memory_equal(a->resource, b->resource, CORDON_NODE_ID_LEN);
    assert_int_equal(a->name_len, b->name_len);
    if (a->name_len)
        assert_memory_equal(a->name, b->name, a->name_len);
    assert_memory_equal(a->writer, b->writer, CORDON_NODE_ID_LEN);
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->created_at, b->created_at);
    assert_int_equal(a->lifetime, b->lifetime);
    assert_int_equal(a->value_len, b->value_len);
    if (a->value_len)
        assert_memory_equal(a->value, b->value, a->value_len);
    assert_int_equal(a->cert_len, b->cert_len);
    assert_memory_equal(a->cert, b->cert, a->cert_len);
    assert_int_equal(a->sig_len, b->sig_len);
    assert_memory_equal(a->sig, b->sig, a->sig_len);
}

/* Decoding must fail with err and leave the output as it was. */
static void expect_decode(const uint8_t *data, size_t len, cordon_err err)
{
    struct cordon_object o, before;
    memset(&o, POISON, sizeof(o));
    memcpy(&before, &o, sizeof(o));
    assert_int_equal(cordon_object_decode(data, len, &o), err);
    assert_memory_equal(&o, &before, sizeof(o));
}

/* Offsets of the length-prefixed fields in an encoding of o. */
struct offsets {
    size_t overlay_len, resource, name_len, writer, seq, value_len, cert_len, sig_len;
};

static struct offsets offsets_of(const struct cordon_object *o)
{
    struct offsets f;
    f.overlay_len = 4;
    f.resource = f.overlay_len + 1 + strlen(o->overlay);
    f.name_len = f.resource + 32;
    f.writer = f.name_len + 1 + o->name_len;
    f.seq = f.writer + 32;
    f.value_len = f.seq + 8 + 8 + 4;
    f.cert_len = f.value_len + 4 + o->value_len;
    f.sig_len = f.cert_len + 2 + o->cert_len;
    return f;
}

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- codec tests --------------------------------------------------------------------- */

static void test_known_answer(void **state)
{
    (void)state;
    static const uint8_t cert[] = {0x30, 0x00};
    static const uint8_t sig[] = {0x55};
    struct cordon_object o;
    memset(&o, 0, sizeof(o));
    o.kind = CORDON_KIND_OWNED;
    memcpy(o.overlay, "ab", 3);
    memset(o.resource, 0x11, sizeof(o.resource));
    o.name = (const uint8_t *)"n";
    o.name_len = 1;
    memset(o.writer, 0x22, sizeof(o.writer));
    o.seq = UINT64_C(0x0102030405060708);
    o.created_at = UINT64_C(0x1112131415161718);
    o.lifetime = 0x21222324u;
    o.value = (const uint8_t *)"v";
    o.value_len = 1;
    o.cert = cert;
    o.cert_len = sizeof(cert);
    o.sig = sig;
    o.sig_len = sizeof(sig);

    uint8_t want[128];
    size_t n = 0;
    static const uint8_t head[] = {0x01, 0x01, 0x00, 0x00, 0x02, 'a', 'b'};
    memcpy(want + n, head, sizeof(head));
    n += sizeof(head);
    memset(want + n, 0x11, 32);
    n += 32;
    want[n++] = 0x01;
    want[n++] = 'n';
    memset(want + n, 0x22, 32);
    n += 32;
    static const uint8_t tail[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* seq */
                                   0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, /* created */
                                   0x21, 0x22, 0x23, 0x24,                         /* lifetime */
                                   0x00, 0x00, 0x00, 0x01, 'v',                    /* value */
                                   0x00, 0x02, 0x30, 0x00,                         /* cert */
                                   0x01, 0x55};                                    /* sig */
    memcpy(want + n, tail, sizeof(tail));
    n += sizeof(tail);

    uint8_t out[128];
    size_t len = 0;
    must(cordon_object_encode(&o, out, sizeof(out), &len));
    assert_int_equal(len, n);
    assert_memory_equal(out, want, n);
    /* The tbs is everything before the signature's length byte. */
    must(cordon_object_encode_tbs(&o, out, sizeof(out), &len));
    assert_int_equal(len, n - 2);
    assert_memory_equal(out, want, n - 2);

    struct cordon_object d;
    must(cordon_object_decode(want, n, &d));
    assert_obj_equal(&o, &d);
    assert_ptr_equal(d.tbs, want);
    assert_int_equal(d.tbs_len, n - 2);
    assert_ptr_equal(d.sig, want + n - 1);
    assert_ptr_equal(d.name, want + 7 + 32 + 1);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct cordon_object *v = wire_objs();
    uint8_t *buf = xmalloc(CORDON_OBJECT_MAX);
    uint8_t *again = xmalloc(CORDON_OBJECT_MAX);
    for (size_t j = 0; j < N_WIRE; j++) {
        size_t len = encode(&v[j], buf);
        struct cordon_object d;
        must(cordon_object_decode(buf, len, &d));
        assert_obj_equal(&v[j], &d);
        assert_ptr_equal(d.tbs, buf);
        assert_int_equal(d.tbs_len, len - 1 - v[j].sig_len);
        size_t len2 = 0;
        must(cordon_object_encode(&d, again, CORDON_OBJECT_MAX, &len2));
        assert_int_equal(len2, len);
        assert_memory_equal(again, buf, len);
        must(cordon_object_encode_tbs(&d, again, CORDON_OBJECT_MAX, &len2));
        assert_int_equal(len2, d.tbs_len);
        assert_memory_equal(again, buf, len2);
        assert_int_equal(cordon_object_is_tombstone(&d), v[j].flags != 0);
    }
    /* The largest object there can be fits CORDON_OBJECT_MAX. */
    assert_true(expected_len(&v[6]) <= CORDON_OBJECT_MAX);
    free(again);
    free(buf);
    free(v);
}

static void test_truncation_sweep(void **state)
{
    (void)state;
    struct cordon_object *v = wire_objs();
    uint8_t *buf = xmalloc(CORDON_OBJECT_MAX);
    for (size_t j = 0; j < N_WIRE; j++) {
        size_t len = encode(&v[j], buf);
        for (size_t cut = 0; cut < len; cut++)
            expect_decode(buf, cut, CORDON_ERR_TRUNCATED);
    }
    expect_decode(NULL, 0, CORDON_ERR_TRUNCATED);
    free(buf);
    free(v);
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    struct cordon_object *v = wire_objs();
    uint8_t *buf = xmalloc(CORDON_OBJECT_MAX + 2);
    for (size_t j = 0; j < N_WIRE; j++) {
        size_t len = encode(&v[j], buf);
        buf[len] = 0;
        buf[len + 1] = 0xff;
        expect_decode(buf, len + 1, CORDON_ERR_TRAILING);
        expect_decode(buf, len + 2, CORDON_ERR_TRAILING);
    }
    free(buf);
    free(v);
}

/* Flips every bit of the small encodings (and of the large ones' fixed fields): nothing
 * crashes, and what decodes re-encodes to the mutated bytes. */
static void test_bit_flip_sweep(void **state)
{
    (void)state;
    struct cordon_object *v = wire_objs();
    uint8_t *buf = xmalloc(CORDON_OBJECT_MAX);
    uint8_t *again = xmalloc(CORDON_OBJECT_MAX);
    size_t decoded = 0, refused = 0;
    for (size_t j = 0; j < N_WIRE; j++) {
        size_t len = encode(&v[j], buf);
        struct offsets f = offsets_of(&v[j]);
        for (size_t i = 0; i < len; i++) {
            /* Inside a long value or certificate every byte is alike: sample them. */
            bool in_value = i >= f.value_len + 4 && i < f.cert_len;
            bool in_cert = i >= f.cert_len + 2 && i < f.sig_len;
            if ((in_value || in_cert) && i % 97 != 0)
                continue;
            for (unsigned bit = 0; bit < 8; bit++) {
                buf[i] ^= (uint8_t)(1u << bit);
                struct cordon_object d;
                cordon_err err = cordon_object_decode(buf, len, &d);
                if (err == CORDON_OK) {
                    size_t len2 = 0;
                    must(cordon_object_encode(&d, again, CORDON_OBJECT_MAX, &len2));
                    assert_int_equal(len2, len);
                    assert_memory_equal(again, buf, len);
                    decoded++;
                } else {
                    assert_true(err == CORDON_ERR_TRUNCATED || err == CORDON_ERR_TRAILING ||
                                err == CORDON_ERR_TOO_LARGE || err == CORDON_ERR_MALFORMED);
                    refused++;
                }
                buf[i] ^= (uint8_t)(1u << bit);
            }
        }
    }
    assert_true(decoded > 0 && refused > 0);
    free(again);
    free(buf);
    free(v);
}

/* Patches one byte of a good encoding and expects err. */
static void expect_patched(const struct cordon_object *o, size_t at, uint8_t byte, cordon_err err)
{
    uint8_t *buf = xmalloc(CORDON_OBJECT_MAX);
    size_t len = encode(o, buf);
    assert_true(at < len);
    buf[at] = byte;
    expect_decode(buf, len, err);
    free(buf);
}

static void test_header_bytes(void **state)
{
    (void)state;
    struct cordon_object o;
    wire_obj(&o, CORDON_KIND_OWNED, 1);
    for (unsigned b = 0; b < 256; b++) {
        if (b != CORDON_OBJECT_VERSION)
            expect_patched(&o, 0, (uint8_t)b, CORDON_ERR_MALFORMED);
        if (b < 1 || b > 3)
            expect_patched(&o, 1, (uint8_t)b, CORDON_ERR_MALFORMED);
        if (b > 1)
            expect_patched(&o, 2, (uint8_t)b, CORDON_ERR_MALFORMED);
        if (b != 0)
            expect_patched(&o, 3, (uint8_t)b, CORDON_ERR_MALFORMED);
    }
    /* Kind crl carries no tombstone; the others do. */
    wire_obj(&o, CORDON_KIND_CRL, 2);
    o.value_len = 0;
    expect_patched(&o, 2, CORDON_OBJECT_FLAG_TOMBSTONE, CORDON_ERR_MALFORMED);
    /* The version is checked before the rest is read. */
    static const uint8_t v2[] = {2};
    expect_decode(v2, sizeof(v2), CORDON_ERR_MALFORMED);
    static const uint8_t v1[] = {1};
    expect_decode(v1, sizeof(v1), CORDON_ERR_TRUNCATED);
}

static void test_overlay_name(void **state)
{
    (void)state;
    struct cordon_object o;
    wire_obj(&o, CORDON_KIND_SHARED, 1);
    struct offsets f = offsets_of(&o); /* overlay "test": 4 bytes at offset 5 */
    expect_patched(&o, f.overlay_len, 0, CORDON_ERR_MALFORMED);
    expect_patched(&o, f.overlay_len, CORDON_OVERLAY_NAME_MAX + 1, CORDON_ERR_TOO_LARGE);
    expect_patched(&o, f.overlay_len, 0xff, CORDON_ERR_TOO_LARGE);
    static const uint8_t bad[] = {'A', 'Z', '_', '.', ' ', 0, 0x80, 0xff, '/'};
    for (size_t i = 0; i < sizeof(bad); i++) {
        expect_patched(&o, f.overlay_len + 1, bad[i], CORDON_ERR_MALFORMED);
        expect_patched(&o, f.overlay_len + 4, bad[i], CORDON_ERR_MALFORMED);
    }
    /* '-' inside a name is fine, not at its start (cordon_overlay_name_check). */
    expect_patched(&o, f.overlay_len + 1, '-', CORDON_ERR_MALFORMED);
    uint8_t *buf = xmalloc(CORDON_OBJECT_MAX);
    size_t len = encode(&o, buf);
    buf[f.overlay_len + 2] = '-';
    struct cordon_object d;
    must(cordon_object_decode(buf, len, &d));
    assert_string_equal(d.overlay, "t-st");
    free(buf);
}

static void test_name_length(void **state)
{
    (void)state;
    struct cordon_object o;
    /* owned and shared need 1..255 bytes */
    for (uint8_t kind = CORDON_KIND_OWNED; kind <= CORDON_KIND_SHARED; kind++) {
        wire_obj(&o, kind, 1);
        struct offsets f = offsets_of(&o);
        expect_patched(&o, f.name_len, 0, CORDON_ERR_MALFORMED);
    }
    /* crl has no name: any length but 0 is refused */
    wire_obj(&o, CORDON_KIND_CRL, 1);
    struct offsets f = offsets_of(&o);
    expect_patched(&o, f.name_len, 1, CORDON_ERR_MALFORMED);
    expect_patched(&o, f.name_len, 32, CORDON_ERR_MALFORMED);
    expect_patched(&o, f.name_len, 0xff, CORDON_ERR_TRUNCATED); /* more than is left */
}

static void test_value_cert_sig_lengths(void **state)
{
    (void)state;
    struct cordon_object o;
    uint8_t *buf = xmalloc(CORDON_OBJECT_MAX);
    wire_obj(&o, CORDON_KIND_OWNED, 3);
    size_t len = encode(&o, buf);
    struct offsets f = offsets_of(&o);

    /* value: over the cap, then past the input */
    put_u32(buf + f.value_len, CORDON_OBJECT_VALUE_MAX + 1);
    expect_decode(buf, len, CORDON_ERR_TOO_LARGE);
    put_u32(buf + f.value_len, UINT32_MAX);
    expect_decode(buf, len, CORDON_ERR_TOO_LARGE);
    put_u32(buf + f.value_len, (uint32_t)(len - f.value_len - 4 + 1));
    expect_decode(buf, len, CORDON_ERR_TRUNCATED);
    put_u32(buf + f.value_len, (uint32_t)o.value_len);

    /* certificate: 1..CORDON_OBJECT_CERT_MAX */
    put_u16(buf + f.cert_len, 0);
    expect_decode(buf, len, CORDON_ERR_MALFORMED);
    put_u16(buf + f.cert_len, CORDON_OBJECT_CERT_MAX + 1);
    expect_decode(buf, len, CORDON_ERR_TOO_LARGE);
    put_u16(buf + f.cert_len, UINT16_MAX);
    expect_decode(buf, len, CORDON_ERR_TOO_LARGE);
    put_u16(buf + f.cert_len, (uint16_t)(len - f.cert_len - 2 + 1));
    expect_decode(buf, len, CORDON_ERR_TRUNCATED);
    put_u16(buf + f.cert_len, (uint16_t)o.cert_len);

    /* signature: 1..CORDON_SIG_MAX, and it ends the object */
    buf[f.sig_len] = 0;
    expect_decode(buf, len, CORDON_ERR_MALFORMED);
    buf[f.sig_len] = CORDON_SIG_MAX + 1;
    expect_decode(buf, len, CORDON_ERR_TOO_LARGE);
    buf[f.sig_len] = (uint8_t)(o.sig_len + 1);
    expect_decode(buf, len, CORDON_ERR_TRUNCATED);
    buf[f.sig_len] = (uint8_t)(o.sig_len - 1);
    expect_decode(buf, len, CORDON_ERR_TRAILING);
    buf[f.sig_len] = (uint8_t)o.sig_len;
    struct cordon_object d;
    must(cordon_object_decode(buf, len, &d));

    /* a tombstone carries no value */
    buf[2] = CORDON_OBJECT_FLAG_TOMBSTONE;
    expect_decode(buf, len, CORDON_ERR_MALFORMED);
    free(buf);
}

static void test_decode_args(void **state)
{
    (void)state;
    struct cordon_object o;
    uint8_t buf[4] = {1, 1, 0, 0};
    assert_int_equal(cordon_object_decode(buf, sizeof(buf), NULL), CORDON_ERR_INVAL);
    assert_int_equal(cordon_object_decode(NULL, 4, &o), CORDON_ERR_INVAL);
}

static void expect_encode_fails(const struct cordon_object *o, cordon_err err)
{
    uint8_t *out = xmalloc(CORDON_OBJECT_MAX);
    size_t len = 12345;
    assert_int_equal(cordon_object_encode(o, out, CORDON_OBJECT_MAX, &len), err);
    assert_int_equal(len, 12345);
    if (o != NULL) {
        assert_int_equal(cordon_object_encode_tbs(o, out, CORDON_OBJECT_MAX, &len), err);
        assert_int_equal(len, 12345);
    }
    free(out);
}

static void test_encode_refuses_invalid(void **state)
{
    (void)state;
    struct cordon_object o;
    size_t len;
    uint8_t out[16];

    assert_int_equal(cordon_object_encode(NULL, out, sizeof(out), &len), CORDON_ERR_INVAL);
    assert_int_equal(cordon_object_encode_tbs(NULL, out, sizeof(out), &len), CORDON_ERR_INVAL);
    wire_obj(&o, CORDON_KIND_OWNED, 1);
    assert_int_equal(cordon_object_encode(&o, out, sizeof(out), NULL), CORDON_ERR_INVAL);

#define EXPECT_INVAL(kind, seed, change)                                                           \
    do {                                                                                           \
        wire_obj(&o, kind, seed);                                                                  \
        change;                                                                                    \
        expect_encode_fails(&o, CORDON_ERR_INVAL);                                                 \
    } while (0)
    EXPECT_INVAL(CORDON_KIND_OWNED, 1, o.kind = 0);
    EXPECT_INVAL(CORDON_KIND_OWNED, 1, o.kind = 4);
    EXPECT_INVAL(CORDON_KIND_OWNED, 1, o.flags = 2);
    EXPECT_INVAL(CORDON_KIND_OWNED, 1, o.flags = 0x81);
    EXPECT_INVAL(CORDON_KIND_OWNED, 1, o.flags = CORDON_OBJECT_FLAG_TOMBSTONE); /* with a value */
    EXPECT_INVAL(CORDON_KIND_CRL, 3, (o.flags = CORDON_OBJECT_FLAG_TOMBSTONE, o.value_len = 0));
    EXPECT_INVAL(CORDON_KIND_OWNED, 1, o.overlay[0] = '\0');
    EXPECT_INVAL(CORDON_KIND_OWNED, 1, o.overlay[0] = 'T');
    EXPECT_INVAL(CORDON_KIND_OWNED, 1, o.overlay[0] = '-');
    EXPECT_INVAL(CORDON_KIND_OWNED, 1, memset(o.overlay, 'a', sizeof(o.overlay))); /* no NUL */
    EXPECT_INVAL(CORDON_KIND_OWNED, 1, o.name_len = 0);
    EXPECT_INVAL(CORDON_KIND_SHARED, 1, o.name_len = 0);
    EXPECT_INVAL(CORDON_KIND_SHARED, 1, o.name_len = CORDON_OBJECT_NAME_MAX + 1);
    EXPECT_INVAL(CORDON_KIND_SHARED, 1, o.name = NULL);
    EXPECT_INVAL(CORDON_KIND_CRL, 1, (o.name = name_max, o.name_len = 1));
    EXPECT_INVAL(CORDON_KIND_OWNED, 1, o.value_len = CORDON_OBJECT_VALUE_MAX + 1);
    EXPECT_INVAL(CORDON_KIND_OWNED, 1, o.value = NULL);
    EXPECT_INVAL(CORDON_KIND_OWNED, 1, o.cert_len = 0);
    EXPECT_INVAL(CORDON_KIND_OWNED, 1, o.cert_len = CORDON_OBJECT_CERT_MAX + 1);
    EXPECT_INVAL(CORDON_KIND_OWNED, 1, o.cert = NULL);
#undef EXPECT_INVAL

    /* The signature is the whole encoding's only: tbs does not read it. */
    uint8_t *buf = xmalloc(CORDON_OBJECT_MAX);
    size_t sizes[] = {0, CORDON_SIG_MAX + 1};
    for (size_t i = 0; i < 2; i++) {
        wire_obj(&o, CORDON_KIND_OWNED, 1);
        o.sig_len = sizes[i];
        len = 12345;
        assert_int_equal(cordon_object_encode(&o, buf, CORDON_OBJECT_MAX, &len), CORDON_ERR_INVAL);
        assert_int_equal(len, 12345);
        must(cordon_object_encode_tbs(&o, buf, CORDON_OBJECT_MAX, &len));
    }
    wire_obj(&o, CORDON_KIND_OWNED, 1);
    o.sig = NULL;
    assert_int_equal(cordon_object_encode(&o, buf, CORDON_OBJECT_MAX, &len), CORDON_ERR_INVAL);
    free(buf);
}

static void test_encode_cap(void **state)
{
    (void)state;
    enum { SLACK = 16 };
    struct cordon_object o;
    uint8_t *ref = xmalloc(CORDON_OBJECT_MAX);
    uint8_t *out = xmalloc(CORDON_OBJECT_MAX + SLACK);
    wire_obj(&o, CORDON_KIND_SHARED, 5);
    size_t want = encode(&o, ref);
    for (size_t cap = 0; cap < want; cap++) {
        memset(out, CANARY, want + SLACK);
        size_t len = 12345;
        assert_int_equal(cordon_object_encode(&o, out, cap, &len), CORDON_ERR_TOO_LARGE);
        assert_int_equal(len, 12345);
        for (size_t i = cap; i < want + SLACK; i++)
            assert_int_equal(out[i], CANARY);
    }
    memset(out, CANARY, want + SLACK);
    size_t len = 0;
    must(cordon_object_encode(&o, out, want, &len));
    assert_int_equal(len, want);
    assert_memory_equal(out, ref, want);
    for (size_t i = want; i < want + SLACK; i++)
        assert_int_equal(out[i], CANARY);
    /* tbs: one byte short fails, exactly enough fits */
    size_t tbs_want = want - 1 - o.sig_len;
    len = 12345;
    assert_int_equal(cordon_object_encode_tbs(&o, out, tbs_want - 1, &len), CORDON_ERR_TOO_LARGE);
    assert_int_equal(len, 12345);
    must(cordon_object_encode_tbs(&o, out, tbs_want, &len));
    assert_int_equal(len, tbs_want);
    free(out);
    free(ref);
}

static void test_entry_key_expiry(void **state)
{
    (void)state;
    struct cordon_object o;
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    static const uint8_t zero[CORDON_NODE_ID_LEN];

    wire_obj(&o, CORDON_KIND_SHARED, 1);
    cordon_object_entry_key(&o, key);
    assert_memory_equal(key, o.resource, CORDON_NODE_ID_LEN);
    assert_memory_equal(key + CORDON_NODE_ID_LEN, o.writer, CORDON_NODE_ID_LEN);
    for (uint8_t kind = CORDON_KIND_OWNED; kind <= CORDON_KIND_CRL; kind += 2) {
        wire_obj(&o, kind, 2);
        cordon_object_entry_key(&o, key);
        assert_memory_equal(key, o.resource, CORDON_NODE_ID_LEN);
        assert_memory_equal(key + CORDON_NODE_ID_LEN, zero, CORDON_NODE_ID_LEN);
    }

    o.created_at = 1000;
    o.lifetime = 60;
    assert_int_equal(cordon_object_expires_at(&o), 1060);
    o.created_at = UINT64_MAX - 10;
    assert_int_equal(cordon_object_expires_at(&o), UINT64_MAX);
    o.lifetime = UINT32_MAX;
    assert_int_equal(cordon_object_expires_at(&o), UINT64_MAX);
    o.created_at = UINT64_MAX - UINT32_MAX;
    assert_int_equal(cordon_object_expires_at(&o), UINT64_MAX);
    o.created_at = 0;
    o.lifetime = 0;
    assert_int_equal(cordon_object_expires_at(&o), 0);

    o.flags = 0;
    assert_false(cordon_object_is_tombstone(&o));
    o.flags = CORDON_OBJECT_FLAG_TOMBSTONE;
    assert_true(cordon_object_is_tombstone(&o));
}

/* ---- resource IDs -------------------------------------------------------------------- */

/* SHA-256 of the parts, concatenated: the documented derivation, written out. */
static void sha_parts(uint8_t out[32], const void *a, size_t an, const void *b, size_t bn,
                      const void *c, size_t cn, const void *d, size_t dn)
{
    uint8_t in[1024];
    size_t n = 0;
    memcpy(in + n, a, an);
    n += an;
    memcpy(in + n, b, bn);
    n += bn;
    memcpy(in + n, c, cn);
    n += cn;
    memcpy(in + n, d, dn);
    n += dn;
    cordon_sha256(in, n, out);
}

static void test_resource_id(void **state)
{
    (void)state;
    uint8_t w1[32], w2[32], r1[32], r2[32], want[32];
    static const uint8_t zero[32];
    const uint8_t *name = (const uint8_t *)"photos";
    fill(w1, 32, 1);
    fill(w2, 32, 2);

    /* owned: SHA-256("cordon-owned-v1" 0x00 || overlay || 0x00 || writer || name) */
    cordon_object_resource_id(CORDON_KIND_OWNED, "test", w1, name, 6, r1);
    sha_parts(want, "cordon-owned-v1", 16, "test", 5, w1, 32, name, 6);
    assert_memory_equal(r1, want, 32);
    cordon_object_resource_id(CORDON_KIND_OWNED, "test", w2, name, 6, r2);
    assert_memory_not_equal(r1, r2, 32); /* depends on the writer */
    cordon_object_resource_id(CORDON_KIND_OWNED, "test", w1, name, 5, r2);
    assert_memory_not_equal(r1, r2, 32);
    cordon_object_resource_id(CORDON_KIND_OWNED, "tes", w1, name, 6, r2);
    assert_memory_not_equal(r1, r2, 32);

    /* shared: SHA-256("cordon-shared-v1" 0x00 || overlay || 0x00 || name), any writer */
    cordon_object_resource_id(CORDON_KIND_SHARED, "test", w1, name, 6, r1);
    sha_parts(want, "cordon-shared-v1", 17, "test", 5, name, 6, "", 0);
    assert_memory_equal(r1, want, 32);
    cordon_object_resource_id(CORDON_KIND_SHARED, "test", w2, name, 6, r2);
    assert_memory_equal(r1, r2, 32);
    cordon_object_resource_id(CORDON_KIND_SHARED, "test", NULL, name, 6, r2);
    assert_memory_equal(r1, r2, 32);
    cordon_object_resource_id(CORDON_KIND_SHARED, "other", w1, name, 6, r2);
    assert_memory_not_equal(r1, r2, 32);
    cordon_object_resource_id(CORDON_KIND_OWNED, "test", w1, name, 6, r2);
    assert_memory_not_equal(r1, r2, 32); /* kinds are apart */

    /* crl: SHA-256("cordon-crl-v1" 0x00 || overlay), nothing else */
    cordon_object_resource_id(CORDON_KIND_CRL, "test", w1, name, 6, r1);
    sha_parts(want, "cordon-crl-v1", 14, "test", 4, "", 0, "", 0);
    assert_memory_equal(r1, want, 32);
    cordon_object_resource_id(CORDON_KIND_CRL, "test", NULL, NULL, 0, r2);
    assert_memory_equal(r1, r2, 32);
    cordon_object_resource_id(CORDON_KIND_CRL, "test", w2, name, 3, r2);
    assert_memory_equal(r1, r2, 32);
    cordon_object_resource_id(CORDON_KIND_CRL, "other", w1, name, 6, r2);
    assert_memory_not_equal(r1, r2, 32);

    /* out of range: all zero */
    uint8_t big[CORDON_OBJECT_NAME_MAX + 1];
    memset(big, 'x', sizeof(big));
    cordon_object_resource_id(CORDON_KIND_OWNED, "test", w1, big, CORDON_OBJECT_NAME_MAX, r1);
    assert_memory_not_equal(r1, zero, 32);
    cordon_object_resource_id(CORDON_KIND_OWNED, "test", w1, big, sizeof(big), r1);
    assert_memory_equal(r1, zero, 32);
    cordon_object_resource_id(CORDON_KIND_OWNED, "test", w1, name, 0, r1);
    assert_memory_equal(r1, zero, 32);
    cordon_object_resource_id(CORDON_KIND_OWNED, "test", NULL, name, 6, r1);
    assert_memory_equal(r1, zero, 32);
    cordon_object_resource_id(CORDON_KIND_SHARED, "test", w1, NULL, 6, r1);
    assert_memory_equal(r1, zero, 32);
    cordon_object_resource_id(0, "test", w1, name, 6, r1);
    assert_memory_equal(r1, zero, 32);
    cordon_object_resource_id(4, "test", w1, name, 6, r1);
    assert_memory_equal(r1, zero, 32);
    cordon_object_resource_id(CORDON_KIND_CRL, "", w1, name, 6, r1);
    assert_memory_equal(r1, zero, 32);
    cordon_object_resource_id(CORDON_KIND_CRL, "Test", w1, name, 6, r1);
    assert_memory_equal(r1, zero, 32);
    cordon_object_resource_id(CORDON_KIND_CRL, NULL, w1, name, 6, r1);
    assert_memory_equal(r1, zero, 32);
    cordon_object_resource_id(CORDON_KIND_CRL, overlay_max, w1, name, 6, r1);
    assert_memory_not_equal(r1, zero, 32);
    char long_overlay[CORDON_OVERLAY_NAME_MAX + 2];
    memset(long_overlay, 'a', CORDON_OVERLAY_NAME_MAX + 1);
    long_overlay[CORDON_OVERLAY_NAME_MAX + 1] = '\0';
    cordon_object_resource_id(CORDON_KIND_CRL, long_overlay, w1, name, 6, r1);
    assert_memory_equal(r1, zero, 32);
}

/* ---- sign and verify ----------------------------------------------------------------- */

/* Signs, decodes and verifies one object; returns its bytes (free them). */
static uint8_t *sign_verify_ok(cordon_object_verifier *v, const struct ident *w,
                               struct cordon_object *o, size_t *len_out)
{
    uint8_t *buf = NULL;
    size_t len = sign_obj(w, o, &buf);
    assert_ptr_equal(o->tbs, buf);
    assert_ptr_equal(o->sig, buf + o->tbs_len + 1);
    assert_int_equal(len, o->tbs_len + 1 + o->sig_len);
    must(cordon_object_verify(v, o, NOW)); /* as sign left it */

    struct cordon_object d;
    must(cordon_object_decode(buf, len, &d));
    must(cordon_object_verify(v, &d, NOW));
    uint8_t rid[32];
    cordon_object_resource_id(d.kind, d.overlay, d.writer, d.name, d.name_len, rid);
    assert_memory_equal(d.resource, rid, 32);

    /* The signature is the writer's over the documented context and the tbs. */
    uint8_t *msg = xmalloc(CTX_LEN + d.tbs_len);
    memcpy(msg, CTX, CTX_LEN);
    memcpy(msg + CTX_LEN, d.tbs, d.tbs_len);
    must(cordon_verify(w->cert, msg, CTX_LEN + d.tbs_len, d.sig, d.sig_len));
    assert_int_equal(cordon_verify(w->cert, msg + CTX_LEN, d.tbs_len, d.sig, d.sig_len),
                     CORDON_ERR_BAD_SIGNATURE);
    free(msg);
    if (len_out)
        *len_out = len;
    return buf;
}

static void test_sign_verify(void **state)
{
    (void)state;
    cordon_object_verifier *v = verifier(CORDON_OBJECT_CERT_CACHE);
    const struct ident *writers[] = {&id_a, &id_b};
    struct cordon_object o;
    cordon_crl *crl = crl_make(ca_key, ca_cert, 42, T0, T0 + DAY, NULL, 0);
    cordon_buf der;
    crl_der(crl, &der);

    for (size_t i = 0; i < 2; i++) {
        const struct ident *w = writers[i];
        obj_init(&o, CORDON_KIND_OWNED, w, "profile", "hello", 5, 1);
        free(sign_verify_ok(v, w, &o, NULL));
        obj_init(&o, CORDON_KIND_SHARED, w, "room", "hi", 2, 7);
        free(sign_verify_ok(v, w, &o, NULL));
        obj_init(&o, CORDON_KIND_OWNED, w, "profile", NULL, 0, 2); /* tombstone */
        o.flags = CORDON_OBJECT_FLAG_TOMBSTONE;
        free(sign_verify_ok(v, w, &o, NULL));
        obj_init(&o, CORDON_KIND_SHARED, w, "big", value_max, CORDON_OBJECT_VALUE_MAX, 3);
        free(sign_verify_ok(v, w, &o, NULL));
        obj_init(&o, CORDON_KIND_CRL, w, NULL, der.data, der.len, 42);
        free(sign_verify_ok(v, w, &o, NULL));
    }
    /* A stale CRL is still a good CRL object: the newest there is. */
    obj_init(&o, CORDON_KIND_CRL, &id_a, NULL, der.data, der.len, 42);
    uint8_t *buf = NULL;
    size_t len = sign_obj(&id_a, &o, &buf);
    must(verify_bytes(v, buf, len, T0 + 5 * DAY));
    free(buf);

    struct cordon_object_verifier_stats s = stats_of(v);
    assert_int_equal(s.refused, 0);
    assert_int_equal(s.verified, 21);
    assert_int_equal(s.cert_misses, 2);
    assert_int_equal(s.cert_hits, 19);
    cordon_buf_free(&der);
    cordon_crl_free(crl);
    cordon_object_verifier_free(v);
}

static void test_sign_refusals(void **state)
{
    (void)state;
    struct cordon_object o;
    uint8_t *out = xmalloc(CORDON_OBJECT_MAX);
    size_t len = 12345;

    obj_init(&o, CORDON_KIND_OWNED, &id_a, "x", "v", 1, 1);
    assert_int_equal(cordon_object_sign(NULL, &o, out, CORDON_OBJECT_MAX, &len), CORDON_ERR_INVAL);
    assert_int_equal(cordon_object_sign(id_a.key, NULL, out, CORDON_OBJECT_MAX, &len),
                     CORDON_ERR_INVAL);
    assert_int_equal(cordon_object_sign(id_a.key, &o, NULL, CORDON_OBJECT_MAX, &len),
                     CORDON_ERR_INVAL);
    assert_int_equal(cordon_object_sign(id_a.key, &o, out, CORDON_OBJECT_MAX, NULL),
                     CORDON_ERR_INVAL);
    /* a key that is not the certificate's */
    assert_int_equal(cordon_object_sign(id_b.key, &o, out, CORDON_OBJECT_MAX, &len),
                     CORDON_ERR_INVAL);
    /* a writer that is not the certificate's node */
    obj_init(&o, CORDON_KIND_OWNED, &id_a, "x", "v", 1, 1);
    memcpy(o.writer, id_b.id, 32);
    assert_int_equal(cordon_object_sign(id_a.key, &o, out, CORDON_OBJECT_MAX, &len),
                     CORDON_ERR_INVAL);
    /* an overlay the certificate is not of */
    obj_init(&o, CORDON_KIND_OWNED, &id_a, "x", "v", 1, 1);
    memcpy(o.overlay, "other", 6);
    assert_int_equal(cordon_object_sign(id_a.key, &o, out, CORDON_OBJECT_MAX, &len),
                     CORDON_ERR_INVAL);
    /* a certificate as PEM, or not a certificate */
    cordon_buf pem;
    cordon_buf_init(&pem, CORDON_CERT_MAX, false);
    must(cordon_cert_pem(id_a.cert, &pem));
    obj_init(&o, CORDON_KIND_OWNED, &id_a, "x", "v", 1, 1);
    o.cert = pem.data;
    o.cert_len = pem.len;
    assert_int_equal(cordon_object_sign(id_a.key, &o, out, CORDON_OBJECT_MAX, &len),
                     CORDON_ERR_INVAL);
    cordon_buf_free(&pem);
    o.cert = (const uint8_t *)"\x30\x03\x02\x01\x01";
    o.cert_len = 5;
    assert_int_equal(cordon_object_sign(id_a.key, &o, out, CORDON_OBJECT_MAX, &len),
                     CORDON_ERR_INVAL);
    /* a field out of range */
    obj_init(&o, CORDON_KIND_OWNED, &id_a, NULL, "v", 1, 1);
    assert_int_equal(cordon_object_sign(id_a.key, &o, out, CORDON_OBJECT_MAX, &len),
                     CORDON_ERR_INVAL);
    obj_init(&o, CORDON_KIND_OWNED, &id_a, "x", "v", 1, 1);
    o.flags = 4;
    assert_int_equal(cordon_object_sign(id_a.key, &o, out, CORDON_OBJECT_MAX, &len),
                     CORDON_ERR_INVAL);
    /* kind crl: the value must be a CRL numbered seq */
    cordon_crl *crl = crl_make(ca_key, ca_cert, 9, T0, T0 + DAY, NULL, 0);
    cordon_buf der;
    crl_der(crl, &der);
    obj_init(&o, CORDON_KIND_CRL, &id_a, NULL, der.data, der.len, 8);
    assert_int_equal(cordon_object_sign(id_a.key, &o, out, CORDON_OBJECT_MAX, &len),
                     CORDON_ERR_INVAL);
    obj_init(&o, CORDON_KIND_CRL, &id_a, NULL, "junk", 4, 9);
    assert_int_equal(cordon_object_sign(id_a.key, &o, out, CORDON_OBJECT_MAX, &len),
                     CORDON_ERR_INVAL);
    assert_int_equal(len, 12345);

    /* out too small, at every size up to what it needs, canary after cap */
    obj_init(&o, CORDON_KIND_CRL, &id_a, NULL, der.data, der.len, 9);
    size_t want = 0;
    must(cordon_object_sign(id_a.key, &o, out, CORDON_OBJECT_MAX, &want));
    for (size_t cap = 0; cap < want - 80; cap += 37) {
        memset(out, CANARY, want);
        len = 12345;
        assert_int_equal(cordon_object_sign(id_a.key, &o, out, cap, &len), CORDON_ERR_TOO_LARGE);
        assert_int_equal(len, 12345);
        for (size_t i = cap; i < want; i++)
            assert_int_equal(out[i], CANARY);
    }
    /* ECDSA signatures vary in length: the exact fit is checked by the Ed25519 writer. */
    obj_init(&o, CORDON_KIND_OWNED, &id_b, "x", "v", 1, 1);
    must(cordon_object_sign(id_b.key, &o, out, CORDON_OBJECT_MAX, &want));
    memset(out, CANARY, want + 1);
    assert_int_equal(cordon_object_sign(id_b.key, &o, out, want - 1, &len), CORDON_ERR_TOO_LARGE);
    assert_int_equal(out[want - 1], CANARY);
    must(cordon_object_sign(id_b.key, &o, out, want, &len));
    assert_int_equal(len, want);
    assert_int_equal(out[want], CANARY);

    cordon_buf_free(&der);
    cordon_crl_free(crl);
    free(out);
}

static void test_verify_overlay_and_resource(void **state)
{
    (void)state;
    cordon_object_verifier *v = verifier(8);
    struct cordon_object o;
    uint8_t *buf = NULL;
    size_t len;

    /* another overlay's object, well signed there */
    obj_init(&o, CORDON_KIND_OWNED, &id_other, "x", "v", 1, 1);
    memcpy(o.overlay, "other", 6);
    len = sign_obj(&id_other, &o, &buf);
    assert_int_equal(verify_bytes(v, buf, len, NOW), CORDON_ERR_OBJ_NOT_ALLOWED);
    free(buf);
    cordon_object_verifier *vo = NULL;
    must(cordon_object_verifier_new(other_cert, "other", 8, &vo));
    len = sign_obj(&id_other, &o, &buf);
    must(verify_bytes(vo, buf, len, NOW));
    free(buf);
    cordon_object_verifier_free(vo);

    /* an owned object placed at another writer's resource ID */
    obj_init(&o, CORDON_KIND_OWNED, &id_b, "x", "v", 1, 1);
    cordon_object_resource_id(CORDON_KIND_OWNED, OVERLAY, id_a.id, o.name, o.name_len, o.resource);
    len = sign_raw(id_b.key, &o, &buf);
    assert_int_equal(verify_bytes(v, buf, len, NOW), CORDON_ERR_OBJ_NOT_ALLOWED);
    free(buf);
    /* a resource ID of the wrong kind, of another name, or of nothing */
    uint8_t kinds[] = {CORDON_KIND_SHARED, CORDON_KIND_CRL};
    for (size_t i = 0; i < 2; i++) {
        obj_init(&o, CORDON_KIND_OWNED, &id_b, "x", "v", 1, 1);
        cordon_object_resource_id(kinds[i], OVERLAY, id_b.id, o.name, o.name_len, o.resource);
        len = sign_raw(id_b.key, &o, &buf);
        assert_int_equal(verify_bytes(v, buf, len, NOW), CORDON_ERR_OBJ_NOT_ALLOWED);
        free(buf);
    }
    obj_init(&o, CORDON_KIND_SHARED, &id_b, "x", "v", 1, 1);
    cordon_object_resource_id(CORDON_KIND_SHARED, OVERLAY, id_b.id, (const uint8_t *)"y", 1,
                              o.resource);
    len = sign_raw(id_b.key, &o, &buf);
    assert_int_equal(verify_bytes(v, buf, len, NOW), CORDON_ERR_OBJ_NOT_ALLOWED);
    free(buf);
    obj_init(&o, CORDON_KIND_SHARED, &id_b, "x", "v", 1, 1);
    len = sign_raw(id_b.key, &o, &buf); /* resource all zero */
    assert_int_equal(verify_bytes(v, buf, len, NOW), CORDON_ERR_OBJ_NOT_ALLOWED);
    free(buf);
    /* the right resource ID signed the same way passes: the refusals above are the IDs' */
    obj_init(&o, CORDON_KIND_SHARED, &id_b, "x", "v", 1, 1);
    set_resource(&o);
    len = sign_raw(id_b.key, &o, &buf);
    must(verify_bytes(v, buf, len, NOW));
    free(buf);

    /* A shared entry under the same resource ID by two writers: both pass, two entries. */
    struct cordon_object d1, d2;
    uint8_t *b1 = NULL, *b2 = NULL;
    obj_init(&o, CORDON_KIND_SHARED, &id_a, "room", "a", 1, 1);
    size_t l1 = sign_obj(&id_a, &o, &b1);
    obj_init(&o, CORDON_KIND_SHARED, &id_b, "room", "b", 1, 1);
    size_t l2 = sign_obj(&id_b, &o, &b2);
    must(cordon_object_decode(b1, l1, &d1));
    must(cordon_object_decode(b2, l2, &d2));
    must(cordon_object_verify(v, &d1, NOW));
    must(cordon_object_verify(v, &d2, NOW));
    assert_memory_equal(d1.resource, d2.resource, 32);
    uint8_t k1[CORDON_OBJECT_ENTRY_KEY_LEN], k2[CORDON_OBJECT_ENTRY_KEY_LEN];
    cordon_object_entry_key(&d1, k1);
    cordon_object_entry_key(&d2, k2);
    assert_memory_not_equal(k1, k2, sizeof(k1));
    free(b1);
    free(b2);
    cordon_object_verifier_free(v);
}

static void test_verify_certificate(void **state)
{
    (void)state;
    cordon_object_verifier *v = verifier(8);
    struct cordon_object o;
    uint8_t *buf = NULL;
    size_t len;

    /* a foreign CA's node, same overlay name, same node ID and serial */
    obj_init(&o, CORDON_KIND_OWNED, &id_foreign, "x", "v", 1, 1);
    len = sign_obj(&id_foreign, &o, &buf);
    assert_int_equal(verify_bytes(v, buf, len, NOW), CORDON_ERR_CERT_UNTRUSTED);
    assert_int_equal(verify_bytes(v, buf, len, NOW), CORDON_ERR_CERT_UNTRUSTED);
    free(buf);
    assert_int_equal(stats_of(v).cert_misses, 2); /* never cached */
    assert_int_equal(stats_of(v).cert_hits, 0);

    /* the validity window, first on a miss then on hits */
    obj_init(&o, CORDON_KIND_OWNED, &id_a, "x", "v", 1, 1);
    len = sign_obj(&id_a, &o, &buf);
    assert_int_equal(verify_bytes(v, buf, len, NODE_NA), CORDON_ERR_CERT_EXPIRED);
    assert_int_equal(verify_bytes(v, buf, len, NODE_NB - 1), CORDON_ERR_CERT_NOT_YET_VALID);
    must(verify_bytes(v, buf, len, NODE_NB));
    assert_int_equal(stats_of(v).cert_hits, 0);
    must(verify_bytes(v, buf, len, NODE_NA - 1));
    assert_int_equal(verify_bytes(v, buf, len, NODE_NA), CORDON_ERR_CERT_EXPIRED);
    assert_int_equal(verify_bytes(v, buf, len, NODE_NB - 1), CORDON_ERR_CERT_NOT_YET_VALID);
    assert_int_equal(stats_of(v).cert_hits, 3);
    free(buf);

    /* the CA's own validity bounds a cached certificate's: a CA that expires before the
     * node certificate does */
    cordon_cert *short_ca = NULL;
    must(cordon_ca_create(ca_key, OVERLAY, T0 - DAY, T0 + DAY, &short_ca));
    cordon_object_verifier *vs = NULL;
    must(cordon_object_verifier_new(short_ca, OVERLAY, 8, &vs));
    obj_init(&o, CORDON_KIND_OWNED, &id_a, "x", "v", 1, 1);
    len = sign_obj(&id_a, &o, &buf);
    must(verify_bytes(vs, buf, len, NOW));
    assert_int_equal(verify_bytes(vs, buf, len, T0 + DAY), CORDON_ERR_CERT_EXPIRED);
    assert_int_equal(stats_of(vs).cert_hits, 1);
    free(buf);
    cordon_object_verifier_free(vs);
    cordon_cert_free(short_ca);

    /* the writer is not the certificate's node: signed by id_a's key with its certificate,
     * as id_b (the resource ID matches the claimed writer) */
    obj_init(&o, CORDON_KIND_OWNED, &id_a, "x", "v", 1, 1);
    memcpy(o.writer, id_b.id, 32);
    set_resource(&o);
    len = sign_raw(id_a.key, &o, &buf);
    assert_int_equal(verify_bytes(v, buf, len, NOW), CORDON_ERR_OBJ_NOT_ALLOWED);
    free(buf);
    /* and the other way: id_b's certificate, id_a's key */
    obj_init(&o, CORDON_KIND_OWNED, &id_b, "x", "v", 1, 1);
    set_resource(&o);
    len = sign_raw(id_a.key, &o, &buf);
    assert_int_equal(verify_bytes(v, buf, len, NOW), CORDON_ERR_BAD_SIGNATURE);
    free(buf);

    /* certificates that are not one DER node certificate */
    cordon_buf pem;
    cordon_buf_init(&pem, CORDON_CERT_MAX, false);
    must(cordon_cert_pem(id_a.cert, &pem));
    assert_true(pem.len <= CORDON_OBJECT_CERT_MAX);
    obj_init(&o, CORDON_KIND_OWNED, &id_a, "x", "v", 1, 1);
    o.cert = pem.data;
    o.cert_len = pem.len;
    set_resource(&o);
    len = sign_raw(id_a.key, &o, &buf);
    assert_int_equal(verify_bytes(v, buf, len, NOW), CORDON_ERR_MALFORMED);
    free(buf);
    cordon_buf_free(&pem);
    uint8_t der_plus[CORDON_OBJECT_CERT_MAX];
    memcpy(der_plus, id_a.der, id_a.der_len);
    der_plus[id_a.der_len] = 0;
    o.cert = der_plus;
    o.cert_len = id_a.der_len + 1; /* trailing byte */
    len = sign_raw(id_a.key, &o, &buf);
    assert_int_equal(verify_bytes(v, buf, len, NOW), CORDON_ERR_MALFORMED);
    free(buf);
    o.cert = id_a.der;
    o.cert_len = id_a.der_len - 1; /* truncated */
    len = sign_raw(id_a.key, &o, &buf);
    assert_int_equal(verify_bytes(v, buf, len, NOW), CORDON_ERR_MALFORMED);
    free(buf);
    /* the CA's own certificate is never a writer */
    cordon_buf cader;
    cordon_buf_init(&cader, CORDON_CERT_MAX, false);
    must(cordon_cert_der(ca_cert, &cader));
    o.cert = cader.data;
    o.cert_len = cader.len;
    len = sign_raw(ca_key, &o, &buf);
    assert_int_equal(verify_bytes(v, buf, len, NOW), CORDON_ERR_CERT_UNTRUSTED);
    free(buf);
    cordon_buf_free(&cader);
    cordon_object_verifier_free(v);
}

static void test_verify_tampered(void **state)
{
    (void)state;
    cordon_object_verifier *v = verifier(8);
    struct cordon_object o, d;
    uint8_t *buf = NULL;
    const struct ident *writers[] = {&id_a, &id_b};

    for (size_t i = 0; i < 2; i++) {
        obj_init(&o, CORDON_KIND_SHARED, writers[i], "room", "value", 5, 1000);
        size_t len = sign_obj(writers[i], &o, &buf);
        struct offsets f = offsets_of(&o);
        must(verify_bytes(v, buf, len, NOW));

        /* bytes: value, seq, created_at, lifetime, signature */
        size_t at[] = {f.value_len + 4, f.seq + 7, f.seq + 8, f.seq + 19, f.sig_len + 5, len - 1};
        for (size_t j = 0; j < sizeof(at) / sizeof(at[0]); j++) {
            buf[at[j]] ^= 0x01;
            assert_int_equal(verify_bytes(v, buf, len, NOW), CORDON_ERR_BAD_SIGNATURE);
            buf[at[j]] ^= 0x01;
        }
        /* fields changed after decoding: the signature covers what is judged */
        must(cordon_object_decode(buf, len, &d));
        d.seq++;
        assert_int_equal(cordon_object_verify(v, &d, NOW), CORDON_ERR_BAD_SIGNATURE);
        must(cordon_object_decode(buf, len, &d));
        d.value_len--;
        assert_int_equal(cordon_object_verify(v, &d, NOW), CORDON_ERR_BAD_SIGNATURE);
        must(cordon_object_decode(buf, len, &d));
        d.lifetime = 1;
        assert_int_equal(cordon_object_verify(v, &d, NOW), CORDON_ERR_BAD_SIGNATURE);
        must(cordon_object_decode(buf, len, &d));
        d.flags = CORDON_OBJECT_FLAG_TOMBSTONE;
        d.value_len = 0;
        assert_int_equal(cordon_object_verify(v, &d, NOW), CORDON_ERR_BAD_SIGNATURE);
        /* another signature of the writer, over other bytes */
        must(cordon_object_decode(buf, len, &d));
        uint8_t *other = NULL;
        struct cordon_object o2;
        obj_init(&o2, CORDON_KIND_SHARED, writers[i], "room", "value", 5, 1001);
        size_t len2 = sign_obj(writers[i], &o2, &other);
        struct cordon_object d2;
        must(cordon_object_decode(other, len2, &d2));
        d.sig = d2.sig;
        d.sig_len = d2.sig_len;
        assert_int_equal(cordon_object_verify(v, &d, NOW), CORDON_ERR_BAD_SIGNATURE);
        /* a struct that does not encode */
        must(cordon_object_decode(buf, len, &d));
        d.kind = 9;
        assert_int_equal(cordon_object_verify(v, &d, NOW), CORDON_ERR_OBJ_NOT_ALLOWED);
        must(cordon_object_decode(buf, len, &d));
        d.value_len = CORDON_OBJECT_VALUE_MAX + 1;
        assert_int_equal(cordon_object_verify(v, &d, NOW), CORDON_ERR_INVAL);
        free(other);
        free(buf);
    }
    assert_int_equal(cordon_object_verify(NULL, &o, NOW), CORDON_ERR_INVAL);
    assert_int_equal(cordon_object_verify(v, NULL, NOW), CORDON_ERR_INVAL);
    cordon_object_verifier_free(v);
}

/* Every bit of a signed object, flipped: nothing verifies any more, and what decodes
 * re-encodes to the flipped bytes. */
static void test_signed_bit_flip_sweep(void **state)
{
    (void)state;
    cordon_object_verifier *v = verifier(8);
    struct cordon_object o;
    uint8_t *buf = NULL;
    uint8_t *again = xmalloc(CORDON_OBJECT_MAX);
    obj_init(&o, CORDON_KIND_OWNED, &id_a, "n", "value", 5, 3);
    size_t len = sign_obj(&id_a, &o, &buf);
    size_t decoded = 0;
    for (size_t i = 0; i < len; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            struct cordon_object d;
            if (cordon_object_decode(buf, len, &d) == CORDON_OK) {
                size_t len2 = 0;
                must(cordon_object_encode(&d, again, CORDON_OBJECT_MAX, &len2));
                assert_int_equal(len2, len);
                assert_memory_equal(again, buf, len);
                if (cordon_object_verify(v, &d, NOW) == CORDON_OK)
                    fail_msg("byte %zu bit %u flipped and still verified", i, bit);
                decoded++;
            }
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_true(decoded > len);
    must(verify_bytes(v, buf, len, NOW));
    free(buf);
    free(again);
    cordon_object_verifier_free(v);
}

static void test_verify_crl_kind(void **state)
{
    (void)state;
    cordon_object_verifier *v = verifier(8);
    struct cordon_object o;
    uint8_t *buf = NULL;
    size_t len;
    cordon_crl *crl = crl_make(ca_key, ca_cert, 5, T0, T0 + DAY, NULL, 0);
    cordon_crl *foreign = crl_make(foreign_key, foreign_cert, 5, T0, T0 + DAY, NULL, 0);
    cordon_buf der, fder, pem;
    crl_der(crl, &der);
    crl_der(foreign, &fder);
    cordon_buf_init(&pem, CORDON_CRL_MAX, false);
    must(cordon_crl_pem(crl, &pem));

    /* good, at its number */
    obj_init(&o, CORDON_KIND_CRL, &id_a, NULL, der.data, der.len, 5);
    len = sign_obj(&id_a, &o, &buf);
    must(verify_bytes(v, buf, len, NOW));
    free(buf);
    /* a crlNumber that is not seq, either way */
    uint64_t seqs[] = {4, 6, 0, UINT64_MAX};
    for (size_t i = 0; i < 4; i++) {
        obj_init(&o, CORDON_KIND_CRL, &id_a, NULL, der.data, der.len, seqs[i]);
        set_resource(&o);
        len = sign_raw(id_a.key, &o, &buf);
        assert_int_equal(verify_bytes(v, buf, len, NOW), CORDON_ERR_CRL);
        free(buf);
    }
    /* a foreign CA's CRL, a PEM CRL, bytes that are no CRL, an empty value, a CRL
     * truncated by one byte or with one byte more */
    struct {
        const uint8_t *p;
        size_t n;
    } bad[] = {{fder.data, fder.len},
               {pem.data, pem.len},
               {(const uint8_t *)"\x30\x03\x02\x01\x05", 5},
               {NULL, 0},
               {der.data, der.len - 1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        obj_init(&o, CORDON_KIND_CRL, &id_a, NULL, bad[i].p, bad[i].n, 5);
        set_resource(&o);
        len = sign_raw(id_a.key, &o, &buf);
        assert_int_equal(verify_bytes(v, buf, len, NOW), CORDON_ERR_CRL);
        free(buf);
    }
    uint8_t *plus = xmalloc(der.len + 1);
    memcpy(plus, der.data, der.len);
    plus[der.len] = 0;
    obj_init(&o, CORDON_KIND_CRL, &id_a, NULL, plus, der.len + 1, 5);
    set_resource(&o);
    len = sign_raw(id_a.key, &o, &buf);
    assert_int_equal(verify_bytes(v, buf, len, NOW), CORDON_ERR_CRL);
    free(buf);
    free(plus);
    /* a CRL value is checked after the writer's signature: a bad signature is reported
     * as such first */
    obj_init(&o, CORDON_KIND_CRL, &id_a, NULL, fder.data, fder.len, 5);
    set_resource(&o);
    len = sign_raw(id_b.key, &o, &buf);
    assert_int_equal(verify_bytes(v, buf, len, NOW), CORDON_ERR_BAD_SIGNATURE);
    free(buf);

    cordon_buf_free(&pem);
    cordon_buf_free(&fder);
    cordon_buf_free(&der);
    cordon_crl_free(foreign);
    cordon_crl_free(crl);
    cordon_object_verifier_free(v);
}

/* ---- revocation and the certificate cache -------------------------------------------- */

static void test_revocation(void **state)
{
    (void)state;
    cordon_object_verifier *v = verifier(8);
    struct cordon_object o;
    uint8_t *ba = NULL, *bb = NULL;
    const struct ident *a[] = {&id_a};
    const struct ident *ab[] = {&id_a, &id_b};

    obj_init(&o, CORDON_KIND_OWNED, &id_a, "x", "v", 1, 1);
    size_t la = sign_obj(&id_a, &o, &ba);
    obj_init(&o, CORDON_KIND_OWNED, &id_b, "x", "v", 1, 1);
    size_t lb = sign_obj(&id_b, &o, &bb);

    /* revoked before it is ever seen: refused on the miss */
    cordon_crl *c1 = crl_make(ca_key, ca_cert, 1, T0, T0 + DAY, a, 1);
    must(cordon_object_verifier_set_crl(v, c1));
    assert_int_equal(verify_bytes(v, ba, la, NOW), CORDON_ERR_CERT_REVOKED);
    assert_int_equal(verify_bytes(v, ba, la, NOW), CORDON_ERR_CERT_REVOKED);
    must(verify_bytes(v, bb, lb, NOW));

    /* cached, then revoked: caught on the next hit once the new CRL is set */
    must(verify_bytes(v, bb, lb, NOW));
    uint64_t hits = stats_of(v).cert_hits;
    cordon_crl *c2 = crl_make(ca_key, ca_cert, 2, T0 + 60, T0 + DAY, ab, 2);
    must(cordon_object_verifier_set_crl(v, c2));
    assert_int_equal(verify_bytes(v, bb, lb, NOW), CORDON_ERR_CERT_REVOKED);
    assert_int_equal(stats_of(v).cert_hits, hits + 1);

    /* the verifier keeps its own reference: the caller may free its CRL */
    cordon_crl_free(c2);
    c2 = NULL;
    assert_int_equal(verify_bytes(v, bb, lb, NOW), CORDON_ERR_CERT_REVOKED);

    /* an older CRL would un-revoke id_b: refused, and the held one stays */
    assert_int_equal(cordon_object_verifier_set_crl(v, c1), CORDON_ERR_CRL);
    assert_int_equal(verify_bytes(v, bb, lb, NOW), CORDON_ERR_CERT_REVOKED);
    /* a foreign CA's CRL, even numbered higher: refused */
    cordon_crl *cf = crl_make(foreign_key, foreign_cert, 99, T0, T0 + DAY, NULL, 0);
    assert_int_equal(cordon_object_verifier_set_crl(v, cf), CORDON_ERR_CRL);
    assert_int_equal(verify_bytes(v, bb, lb, NOW), CORDON_ERR_CERT_REVOKED);
    /* a stale CRL still revokes what it lists (see crypto/object.h) */
    assert_int_equal(verify_bytes(v, bb, lb, T0 + 6 * DAY), CORDON_ERR_CERT_REVOKED);
    assert_int_equal(verify_bytes(v, ba, la, T0 + 6 * DAY), CORDON_ERR_CERT_REVOKED);
    /* and one that does not list a certificate lets its objects pass, stale or not */
    cordon_crl *c3 = crl_make(ca_key, ca_cert, 3, T0 + 120, T0 + DAY, a, 1);
    must(cordon_object_verifier_set_crl(v, c3));
    must(verify_bytes(v, bb, lb, NOW));
    must(verify_bytes(v, bb, lb, T0 + 6 * DAY));
    assert_int_equal(verify_bytes(v, ba, la, T0 + 6 * DAY), CORDON_ERR_CERT_REVOKED);
    /* the same number again is taken */
    must(cordon_object_verifier_set_crl(v, c3));

    assert_int_equal(cordon_object_verifier_set_crl(NULL, c3), CORDON_ERR_INVAL);
    assert_int_equal(cordon_object_verifier_set_crl(v, NULL), CORDON_ERR_INVAL);
    must(verify_bytes(v, bb, lb, NOW));

    cordon_crl_free(c1);
    cordon_crl_free(c3);
    cordon_crl_free(cf);
    free(ba);
    free(bb);
    cordon_object_verifier_free(v);
}

static void test_cache(void **state)
{
    (void)state;
    const struct ident *w[] = {&id_a, &id_b, &id_c, &id_d};
    uint8_t *buf[4];
    size_t len[4];
    struct cordon_object o;
    for (size_t i = 0; i < 4; i++) {
        obj_init(&o, CORDON_KIND_OWNED, w[i], "x", "v", 1, 1);
        len[i] = sign_obj(w[i], &o, &buf[i]);
    }

    /* one writer, many objects: one chain verification */
    cordon_object_verifier *v = verifier(CORDON_OBJECT_CERT_CACHE);
    for (int n = 0; n < 50; n++)
        must(verify_bytes(v, buf[0], len[0], NOW + n));
    struct cordon_object_verifier_stats s = stats_of(v);
    assert_int_equal(s.cert_misses, 1);
    assert_int_equal(s.cert_hits, 49);
    assert_int_equal(s.verified, 50);
    assert_int_equal(s.refused, 0);
    cordon_object_verifier_free(v);

    /* no cache: every object pays */
    v = verifier(0);
    for (int n = 0; n < 5; n++)
        must(verify_bytes(v, buf[n % 2], len[n % 2], NOW));
    assert_int_equal(stats_of(v).cert_misses, 5);
    assert_int_equal(stats_of(v).cert_hits, 0);
    cordon_object_verifier_free(v);

    /* two slots, least recently used evicted */
    v = verifier(2);
    must(verify_bytes(v, buf[0], len[0], NOW)); /* miss: [a] */
    must(verify_bytes(v, buf[1], len[1], NOW)); /* miss: [b a] */
    must(verify_bytes(v, buf[0], len[0], NOW)); /* hit:  [a b] */
    must(verify_bytes(v, buf[2], len[2], NOW)); /* miss, b evicted: [c a] */
    must(verify_bytes(v, buf[0], len[0], NOW)); /* hit:  [a c] */
    s = stats_of(v);
    assert_int_equal(s.cert_misses, 3);
    assert_int_equal(s.cert_hits, 2);
    must(verify_bytes(v, buf[1], len[1], NOW)); /* miss, c evicted: [b a] */
    must(verify_bytes(v, buf[2], len[2], NOW)); /* miss, a evicted: [c b] */
    must(verify_bytes(v, buf[1], len[1], NOW)); /* hit */
    s = stats_of(v);
    assert_int_equal(s.cert_misses, 5);
    assert_int_equal(s.cert_hits, 3);
    cordon_object_verifier_free(v);
    /* round robin over more writers than slots: all misses, and the cache stays bounded */
    v = verifier(2);
    for (int n = 0; n < 40; n++)
        must(verify_bytes(v, buf[n % 4], len[n % 4], NOW));
    s = stats_of(v);
    assert_int_equal(s.cert_misses, 40);
    assert_int_equal(s.cert_hits, 0);
    cordon_object_verifier_free(v);

    /* one slot: refusals that are not the certificate's leave it cached */
    v = verifier(1);
    must(verify_bytes(v, buf[3], len[3], NOW));
    buf[3][len[3] - 1] ^= 1;
    assert_int_equal(verify_bytes(v, buf[3], len[3], NOW), CORDON_ERR_BAD_SIGNATURE);
    buf[3][len[3] - 1] ^= 1;
    assert_int_equal(stats_of(v).cert_hits, 1);
    assert_int_equal(stats_of(v).refused, 1);
    cordon_object_verifier_free(v);

    for (size_t i = 0; i < 4; i++)
        free(buf[i]);
}

static void test_verifier_args(void **state)
{
    (void)state;
    cordon_object_verifier *v = (cordon_object_verifier *)&v;
    assert_int_equal(cordon_object_verifier_new(NULL, OVERLAY, 1, &v), CORDON_ERR_INVAL);
    assert_null(v);
    assert_int_equal(cordon_object_verifier_new(ca_cert, "", 1, &v), CORDON_ERR_INVAL);
    assert_int_equal(cordon_object_verifier_new(ca_cert, "Test", 1, &v), CORDON_ERR_INVAL);
    assert_int_equal(cordon_object_verifier_new(ca_cert, NULL, 1, &v), CORDON_ERR_INVAL);
    assert_int_equal(
        cordon_object_verifier_new(ca_cert, OVERLAY, CORDON_OBJECT_CERT_CACHE_MAX + 1, &v),
        CORDON_ERR_INVAL);
    assert_int_equal(cordon_object_verifier_new(ca_cert, OVERLAY, 1, NULL), CORDON_ERR_INVAL);
    must(cordon_object_verifier_new(ca_cert, OVERLAY, CORDON_OBJECT_CERT_CACHE_MAX, &v));
    cordon_object_verifier_free(v);
    cordon_object_verifier_free(NULL);

    /* the CA is copied: the caller may free its own */
    cordon_cert *ca = NULL;
    cordon_buf der;
    cordon_buf_init(&der, CORDON_CERT_MAX, false);
    must(cordon_cert_der(ca_cert, &der));
    must(cordon_cert_parse(der.data, der.len, &ca));
    cordon_buf_free(&der);
    must(cordon_object_verifier_new(ca, OVERLAY, 4, &v));
    cordon_cert_free(ca);
    struct cordon_object o;
    uint8_t *buf = NULL;
    obj_init(&o, CORDON_KIND_OWNED, &id_a, "x", "v", 1, 1);
    size_t len = sign_obj(&id_a, &o, &buf);
    must(verify_bytes(v, buf, len, NOW));
    free(buf);

    struct cordon_object_verifier_stats s;
    memset(&s, 0xff, sizeof(s));
    cordon_object_verifier_stats(NULL, &s);
    assert_int_equal(s.verified, 0);
    cordon_object_verifier_stats(v, NULL);
    cordon_object_verifier_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncation_sweep),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_bit_flip_sweep),
        cmocka_unit_test(test_header_bytes),
        cmocka_unit_test(test_overlay_name),
        cmocka_unit_test(test_name_length),
        cmocka_unit_test(test_value_cert_sig_lengths),
        cmocka_unit_test(test_decode_args),
        cmocka_unit_test(test_encode_refuses_invalid),
        cmocka_unit_test(test_encode_cap),
        cmocka_unit_test(test_entry_key_expiry),
        cmocka_unit_test(test_resource_id),
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_sign_refusals),
        cmocka_unit_test(test_verify_overlay_and_resource),
        cmocka_unit_test(test_verify_certificate),
        cmocka_unit_test(test_verify_tampered),
        cmocka_unit_test(test_signed_bit_flip_sweep),
        cmocka_unit_test(test_verify_crl_kind),
        cmocka_unit_test(test_revocation),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_verifier_args),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
