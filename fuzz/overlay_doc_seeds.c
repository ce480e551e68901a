/*
 * fuzz/overlay_doc_seeds.c — writes the seed corpus of fuzz_overlay_doc and prints the CA
 * certificates that fuzz_overlay_doc.c must embed to verify it.
 *
 *   ./build-fuzz/fuzz/overlay_doc_seeds fuzz/corpus/overlay_doc > /tmp/ca.txt
 *
 * Each run draws new CA keys and throws them away at exit (no private key is ever
 * written), so after a run paste the two PEM blocks it prints into CA_P256_PEM and
 * CA_ED25519_PEM of fuzz_overlay_doc.c, or the signed seeds no longer verify there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "crypto/crypto.h"
#include "crypto/overlay.h"
#include "wire/overlay_doc.h"

#define NOW 1700000000
#define YEARS_100 (INT64_C(100) * 365 * 86400)

static const char *dir;

static void die(const char *what, cordon_err err)
{
    fprintf(stderr, "overlay_doc_seeds: %s: %s\n", what, cordon_strerror(err));
    exit(1);
}

static void check(const char *what, cordon_err err)
{
    if (err != CORDON_OK)
        die(what, err);
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

static void put_str(const char *name, const char *s)
{
    put(name, s, strlen(s));
}

struct ca {
    cordon_key *key;
    cordon_cert *cert;
    char *pem;
};

static void ca_make(struct ca *ca, cordon_key_type type)
{
    cordon_buf b;
    cordon_buf_init(&b, CORDON_CERT_MAX, false);
    check("key", cordon_key_generate(type, &ca->key));
    check("ca", cordon_ca_create(ca->key, "fuzz-net", NOW, NOW + YEARS_100, &ca->cert));
    check("pem", cordon_cert_pem(ca->cert, &b));
    check("pem", cordon_buf_terminate(&b));
    ca->pem = (char *)cordon_buf_take(&b, NULL);
}

static void ca_free(struct ca *ca)
{
    cordon_key_free(ca->key);
    cordon_cert_free(ca->cert);
    free(ca->pem);
}

static void doc_make(struct cordon_overlay_doc *doc, const char *ca_pem, size_t n_bootstrap)
{
    static const char *const addrs[] = {"10.0.0.1:4500", "[2001:db8::1]:4500",
                                        "seed.example.org:4500", "[::ffff:192.0.2.7]:65535"};
    memset(doc, 0, sizeof(*doc));
    doc->version = 1;
    strcpy(doc->overlay, "fuzz-net");
    doc->issued_at = NOW;
    doc->ca_pem = strdup(ca_pem);
    if (doc->ca_pem == NULL)
        die("strdup", CORDON_ERR_NOMEM);
    cordon_overlay_params_default(&doc->params);
    doc->n_bootstrap = n_bootstrap;
    for (size_t i = 0; i < n_bootstrap; i++) {
        if (i < 4)
            strcpy(doc->bootstrap[i], addrs[i]);
        else
            snprintf(doc->bootstrap[i], sizeof(doc->bootstrap[i]), "peer-%zu.example:%zu", i,
                     4500 + i);
    }
}

/* Writes the document and its envelope signed by signer under alg (the key's own if NULL). */
static void seal(const char *doc_name, const char *env_name, const struct cordon_overlay_doc *doc,
                 const cordon_key *signer, const char *alg)
{
    cordon_buf d, e;
    uint8_t sig[CORDON_SIG_MAX];
    size_t sig_len = 0;
    cordon_buf_init(&d, CORDON_OVERLAY_DOC_MAX, false);
    cordon_buf_init(&e, CORDON_OVERLAY_ENVELOPE_MAX, false);
    check("doc", cordon_overlay_doc_encode(doc, &d));
    check("sign", cordon_sign(signer, d.data, d.len, sig, &sig_len));
    if (alg == NULL)
        alg = cordon_overlay_alg(cordon_key_type_of(signer));
    check("envelope", cordon_overlay_envelope_encode(alg, d.data, d.len, sig, sig_len, &e));
    if (doc_name)
        put(doc_name, d.data, d.len);
    put(env_name, e.data, e.len);
    cordon_buf_free(&e);
    cordon_buf_free(&d);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    struct ca p256, ed, other;
    ca_make(&p256, CORDON_KEY_P256);
    ca_make(&ed, CORDON_KEY_ED25519);
    ca_make(&other, CORDON_KEY_P256);
    struct cordon_overlay_doc doc;

    /* verify against the embedded CAs: reach document decoding and the CA comparison */
    doc_make(&doc, p256.pem, 4);
    seal("document.json", "envelope_p256.json", &doc, p256.key, NULL);
    seal(NULL, "envelope_alg_mismatch.json", &doc, p256.key, "ed25519");
    cordon_overlay_doc_clear(&doc);
    doc_make(&doc, ed.pem, 0);
    seal("document_no_bootstrap.json", "envelope_ed25519.json", &doc, ed.key, NULL);
    cordon_overlay_doc_clear(&doc);
    doc_make(&doc, other.pem, CORDON_BOOTSTRAP_MAX);
    doc.params.k = 64;
    doc.params.replicas = 16;
    doc.params.clock_skew = 0;
    seal("document_max_bootstrap.json", "envelope_names_other_ca.json", &doc, p256.key, NULL);
    seal(NULL, "envelope_other_ca.json", &doc, other.key, NULL);
    cordon_overlay_doc_clear(&doc);

    cordon_buf b;
    cordon_buf_init(&b, CORDON_OVERLAY_DOC_MAX, false);
    cordon_overlay_params_default(&doc.params);
    check("params", cordon_overlay_params_encode(&doc.params, &b));
    put("params.json", b.data, b.len);
    cordon_buf_free(&b);

    /* edge cases: accepted oddities and near misses */
    put_str("params_partial.json", "{\"k\": 30, \"churn_window\": 600}\n");
    put_str("params_unknown_key.json", "{\"kk\": 20}");
    put_str("params_duplicate_key.json", "{\"k\": 20, \"k\": 21}");
    put_str("params_out_of_range.json", "{\"writer_quota_bytes\": 4294967316, \"k\": -1}");
    put_str("params_real.json", "{\"k\": 2e1, \"alpha\": -0, \"replicas\": 1e400}");
    put_str("envelope_upper_hex.json", "{\"version\":1,\"alg\":\"ecdsa-p256-sha256\",\"document\":"
                                       "\"{\\\"a\\\":\\\"\\\\u00e9\\\\n\\\"}\","
                                       "\"signature\":\"ABCDEF0123\"}");
    put_str("envelope_escapes.json",
            "{\"signature\":\"00\",\"document\":\"\\u007b\\ud83d\\ude00\\/\\u0000\","
            "\"alg\":\"ed25519\",\"version\":1}");
    put_str("nested.json",
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{\"version\":1}]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");

    printf("/* P-256 CA */\n%s\n/* Ed25519 CA */\n%s", p256.pem, ed.pem);
    ca_free(&other);
    ca_free(&ed);
    ca_free(&p256);
    return 0;
}
