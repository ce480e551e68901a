/*
 * fuzz/object_seeds.c — writes the seed corpus of fuzz_object: genuine signed objects of
 * every kind, by writers whose certificates the fuzz CA (fuzz/enroll_fuzz_ca.h) issued, so
 * the fuzzer starts past the certificate and signature checks.
 *
 *   ./build-fuzz/fuzz/object_seeds fuzz/corpus/object
 *
 * Each run draws new writer keys (thrown away at exit) and new ECDSA signatures, so the
 * bytes change from run to run; nothing needs pasting anywhere. Run it again whenever
 * enroll_fuzz_ca.h is regenerated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/limits.h"
#include "crypto/crypto.h"
#include "crypto/object.h"
#include "fuzz/object_fuzz.h"
#include "wire/object.h"

static const char *dir;
static cordon_key *ca_key;
static cordon_cert *ca;

static void check(const char *what, cordon_err err)
{
    if (err != CORDON_OK) {
        fprintf(stderr, "object_seeds: %s: %s\n", what, cordon_strerror(err));
        exit(1);
    }
}

static void put(const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

struct writer {
    cordon_key *key;
    uint8_t id[CORDON_NODE_ID_LEN];
    cordon_buf der;
    const char *overlay;
};

static void writer_make(struct writer *w, cordon_key_type type, uint8_t id_byte,
                        uint8_t serial_last, const char *overlay, int64_t nb, int64_t na)
{
    struct cordon_node_cert_params p;
    cordon_csr *csr = NULL;
    cordon_cert *cert = NULL;

    memset(&p, 0, sizeof(p));
    p.overlay = overlay;
    for (size_t i = 0; i < CORDON_NODE_ID_LEN; i++)
        p.node_id[i] = (uint8_t)(id_byte + i);
    of_serial(p.serial, serial_last);
    p.not_before = nb;
    p.not_after = na;
    check("key", cordon_key_generate(type, &w->key));
    check("csr", cordon_csr_create(w->key, &csr));
    check("issue", cordon_cert_issue_node(csr, &p, ca_key, ca, &cert));
    cordon_buf_init(&w->der, CORDON_OBJECT_CERT_MAX, false);
    check("der", cordon_cert_der(cert, &w->der));
    memcpy(w->id, p.node_id, sizeof(w->id));
    w->overlay = overlay;
    cordon_csr_free(csr);
    cordon_cert_free(cert);
}

static void writer_free(struct writer *w)
{
    cordon_key_free(w->key);
    cordon_buf_free(&w->der);
}

/* Signs one object and writes it as a seed. */
static void seed(const char *file, const struct writer *w, uint8_t kind, uint8_t flags,
                 const char *name, const void *value, size_t value_len, uint64_t seq)
{
    static uint8_t out[CORDON_OBJECT_MAX];
    struct cordon_object o;
    size_t len = 0;

    memset(&o, 0, sizeof(o));
    o.kind = kind;
    o.flags = flags;
    snprintf(o.overlay, sizeof(o.overlay), "%s", w->overlay);
    if (name != NULL) {
        o.name = (const uint8_t *)name;
        o.name_len = strlen(name);
    }
    memcpy(o.writer, w->id, sizeof(o.writer));
    o.seq = seq;
    o.created_at = (uint64_t)FUZZ_NOW - 60;
    o.lifetime = 86400;
    o.value = value;
    o.value_len = value_len;
    o.cert = w->der.data;
    o.cert_len = w->der.len;
    check(file, cordon_object_sign(w->key, &o, out, sizeof(out), &len));
    put(file, out, len);
}

/* A CRL of the fuzz CA in DER. */
static void crl_make(cordon_buf *out, uint64_t number, int64_t this_update, int64_t next_update)
{
    struct cordon_revoked r;
    cordon_crl *crl = NULL;
    of_serial(r.serial, OF_REVOKED_SERIAL_LAST);
    r.revoked_at = this_update - 60;
    check("crl", cordon_crl_create(ca_key, ca, number, this_update, next_update, &r, 1, &crl));
    cordon_buf_init(out, CORDON_OBJECT_VALUE_MAX, false);
    check("crl der", cordon_crl_der(crl, out));
    cordon_crl_free(crl);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    ca_key = of_ca_key();
    if (ca_key == NULL) {
        fprintf(stderr, "object_seeds: cannot load the fuzz CA key\n");
        return 1;
    }
    check("ca", cordon_cert_parse(FUZZ_CA_CERT_PEM, sizeof(FUZZ_CA_CERT_PEM) - 1, &ca));

    struct writer a, b, revoked, expired, other;
    writer_make(&a, CORDON_KEY_P256, 0xa0, 0xa1, FUZZ_OVERLAY, OF_NODE_NB, OF_NODE_NA);
    writer_make(&b, CORDON_KEY_ED25519, 0xb0, 0xb1, FUZZ_OVERLAY, OF_NODE_NB, OF_NODE_NA);
    writer_make(&revoked, CORDON_KEY_P256, 0xc0, OF_REVOKED_SERIAL_LAST, FUZZ_OVERLAY, OF_NODE_NB,
                OF_NODE_NA);
    writer_make(&expired, CORDON_KEY_P256, 0xd0, 0xd1, FUZZ_OVERLAY, FUZZ_NOW - 10 * OF_DAY,
                FUZZ_NOW - OF_DAY);
    writer_make(&other, CORDON_KEY_P256, 0xe0, 0xe1, "other-overlay", OF_NODE_NB, OF_NODE_NA);

    static uint8_t big[2000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7 + 3);

    /* accepted by the fuzzer's verifier */
    seed("owned_p256.bin", &a, CORDON_KIND_OWNED, 0, "profile", "hello", 5, 1);
    seed("owned_ed25519.bin", &b, CORDON_KIND_OWNED, 0, "profile", "hello", 5, 2);
    seed("shared_p256.bin", &a, CORDON_KIND_SHARED, 0, "room", "hi", 2, 3);
    seed("shared_ed25519_big.bin", &b, CORDON_KIND_SHARED, 0, "room", big, sizeof(big), 4);
    seed("tombstone_owned.bin", &a, CORDON_KIND_OWNED, CORDON_OBJECT_FLAG_TOMBSTONE, "profile",
         NULL, 0, 5);
    seed("tombstone_shared.bin", &b, CORDON_KIND_SHARED, CORDON_OBJECT_FLAG_TOMBSTONE, "room", NULL,
         0, 6);
    cordon_buf crl, stale;
    crl_make(&crl, OF_CRL_NUMBER, FUZZ_NOW - OF_DAY, FUZZ_NOW + OF_DAY);
    seed("crl.bin", &a, CORDON_KIND_CRL, 0, NULL, crl.data, crl.len, OF_CRL_NUMBER);
    crl_make(&stale, 3, FUZZ_NOW - 10 * OF_DAY, FUZZ_NOW - 9 * OF_DAY);
    seed("crl_stale_ed25519.bin", &b, CORDON_KIND_CRL, 0, NULL, stale.data, stale.len, 3);

    /* refused by it, each for its own reason */
    seed("revoked_writer.bin", &revoked, CORDON_KIND_OWNED, 0, "x", "v", 1, 1);
    seed("expired_writer.bin", &expired, CORDON_KIND_SHARED, 0, "room", "v", 1, 1);
    seed("other_overlay.bin", &other, CORDON_KIND_OWNED, 0, "x", "v", 1, 1);

    cordon_buf_free(&stale);
    cordon_buf_free(&crl);
    writer_free(&other);
    writer_free(&expired);
    writer_free(&revoked);
    writer_free(&b);
    writer_free(&a);
    cordon_cert_free(ca);
    cordon_key_free(ca_key);
    return 0;
}
