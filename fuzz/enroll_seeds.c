/*
 * fuzz/enroll_seeds.c — writes the seed corpora of the enrollment fuzzers and prints the
 * fuzz-only CA they share:
 *
 *   ./build-fz/fuzz/enroll_seeds fuzz/corpus > fuzz/enroll_fuzz_ca.h
 *
 * writes fuzz/corpus/{enroll_request,cert_intake,signer_msg,db_records}/ and, on stdout,
 * the header with the CA's certificate and private key. Both must be committed together:
 * the certificates and CRLs among the seeds are signed by that CA (so fuzz_cert_intake
 * starts past the signature checks), and the signer's document seed names it (so
 * fuzz_signer_msg reaches the signing). The key is a throwaway made for fuzzing only; it
 * certifies nothing outside the fuzzers.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/hex.h"
#include "common/limits.h"
#include "crypto/crypto.h"
#include "enroll/db.h"
#include "enroll/request.h"
#include "enroll/signer.h"
#include "wire/overlay_doc.h"
#include "wire/writer.h"

/* Must match the fuzzers (enroll_fuzz_ca.h carries them too). */
#define NOW INT64_C(1767225600) /* 2026-01-01T00:00:00Z */
#define OVERLAY "fuzz-overlay"
#define CA_NOT_BEFORE INT64_C(1577836800) /* 2020-01-01 */
#define CA_NOT_AFTER INT64_C(2208988800)  /* 2040-01-01 */

static const char *root;

static void check(const char *what, cordon_err err)
{
    if (err != CORDON_OK) {
        fprintf(stderr, "enroll_seeds: %s: %s\n", what, cordon_strerror(err));
        exit(1);
    }
}

static void put(const char *corpus, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root, corpus);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/%s", root, corpus, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void put_buf(const char *corpus, const char *name, const cordon_buf *b)
{
    put(corpus, name, b->data, b->len);
}

/* A PEM text as a C string literal, one line per line. */
static void print_literal(const char *name, const char *pem)
{
    printf("static const char %s[] =", name);
    for (const char *p = pem; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        printf("\n    \"%.*s%s\"", (int)n, p, nl ? "\\n" : "");
        p += n + (nl ? 1 : 0);
    }
    printf(";\n\n");
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 29);
}

/* enroll_request framing: four u8-length-prefixed strings, then the body. */
static void put_request(const char *name, const char *method, const char *path, const char *auth,
                        const char *ct, const void *body, size_t body_len)
{
    uint8_t tmp[16384];
    size_t len;
    cordon_writer w;
    cordon_writer_init(&w, tmp, sizeof(tmp));
    cordon_write_prefixed(&w, 1, method, strlen(method));
    cordon_write_prefixed(&w, 1, path, strlen(path));
    cordon_write_prefixed(&w, 1, auth ? auth : "", auth ? strlen(auth) : 0);
    cordon_write_prefixed(&w, 1, ct ? ct : "", ct ? strlen(ct) : 0);
    cordon_write_bytes(&w, body, body_len);
    check("request seed", cordon_writer_finish(&w, &len));
    put("enroll_request", name, tmp, len);
}

/* Renewal seeds (POST /v1/renew, JSON): a node of the CA renewing with its P-256 key and with
 * an Ed25519 key, one with a bad signature, one truncated. The certificates are signed by
 * ca_key and valid at NOW, so the fuzzer's checks run past the certificate. */
static void put_renew_seed(const char *name, const cordon_key *node_key, const cordon_key *ca_key,
                           const cordon_cert *ca, uint8_t id_seed, bool bad_sig, size_t cut)
{
    cordon_csr *csr;
    cordon_cert *cert;
    cordon_buf cert_pem, csr_pem;
    uint8_t msg[CORDON_RENEW_MSG_LEN], sig[CORDON_SIG_MAX];
    char hex[2 * CORDON_SIG_MAX + 1];
    size_t sig_len;
    struct cordon_node_cert_params p;
    memset(&p, 0, sizeof(p));
    p.overlay = OVERLAY;
    fill(p.node_id, sizeof(p.node_id), id_seed);
    fill(p.serial, sizeof(p.serial), (uint8_t)(id_seed + 1));
    p.serial[0] &= 0x7f;
    p.serial[0] |= 0x01;
    p.not_before = NOW - 3600;
    p.not_after = NOW + 3 * 86400;
    cordon_buf_init(&cert_pem, CORDON_CERT_MAX, false);
    cordon_buf_init(&csr_pem, CORDON_CSR_MAX, false);
    check("renew csr", cordon_csr_create(node_key, &csr));
    check("renew cert", cordon_cert_issue_node(csr, &p, ca_key, ca, &cert));
    check("renew pem", cordon_cert_pem(cert, &cert_pem));
    check("renew pem", cordon_csr_pem(csr, &csr_pem));
    check("renew msg", cordon_renew_message(csr, NOW, msg));
    check("renew sign", cordon_sign(node_key, msg, sizeof(msg), sig, &sig_len));
    if (bad_sig)
        sig[sig_len / 2] ^= 0x10;
    cordon_hex_encode(sig, sig_len, hex);
    json_t *o = json_pack("{s:s,s:s,s:I,s:s}", "certificate", (const char *)cert_pem.data, "csr",
                          (const char *)csr_pem.data, "time", (json_int_t)NOW, "signature", hex);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (text == NULL)
        check("renew json", CORDON_ERR_NOMEM);
    size_t len = strlen(text);
    put_request(name, "POST", "/v1/renew", NULL, "application/json", text,
                cut != 0 && cut < len ? cut : len);
    free(text);
    json_decref(o);
    cordon_csr_free(csr);
    cordon_cert_free(cert);
    cordon_buf_free(&cert_pem);
    cordon_buf_free(&csr_pem);
}

static void put_renew_seeds(const cordon_key *node_key, const cordon_key *ed_key,
                            const cordon_key *ca_key, const cordon_cert *ca)
{
    json_object_seed(1); /* the member order of the bodies does not depend on the run */
    put_renew_seed("renew-p256.bin", node_key, ca_key, ca, 0x52, false, 0);
    put_renew_seed("renew-ed25519.bin", ed_key, ca_key, ca, 0x53, false, 0);
    put_renew_seed("renew-bad-signature.bin", node_key, ca_key, ca, 0x54, true, 0);
    put_renew_seed("renew-truncated.bin", node_key, ca_key, ca, 0x55, false, 200);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: enroll_seeds CORPUS_DIR > enroll_fuzz_ca.h\n");
        return 2;
    }
    root = argv[1];

    /* ---- the CA ---- */
    cordon_key *ca_key, *node_key, *ed_key;
    cordon_cert *ca;
    check("ca key", cordon_key_generate(CORDON_KEY_P256, &ca_key));
    check("ca", cordon_ca_create(ca_key, OVERLAY, CA_NOT_BEFORE, CA_NOT_AFTER, &ca));
    cordon_buf ca_pem, key_pem;
    cordon_buf_init(&ca_pem, CORDON_CERT_MAX, false);
    cordon_buf_init(&key_pem, 16384, true);
    check("ca pem", cordon_cert_pem(ca, &ca_pem));
    check("ca pem", cordon_buf_terminate(&ca_pem));
    check("key pem", cordon_key_private_pem(ca_key, &key_pem));
    printf("/*\n * fuzz/enroll_fuzz_ca.h — GENERATED by fuzz/enroll_seeds.c with the seeds in\n"
           " * fuzz/corpus/{enroll_request,cert_intake,signer_msg,db_records}/; regenerate "
           "both\n * together. A throwaway CA for the fuzzers only: it certifies nothing else.\n"
           " */\n#ifndef CORDON_FUZZ_ENROLL_FUZZ_CA_H\n#define CORDON_FUZZ_ENROLL_FUZZ_CA_H\n\n");
    printf("#define FUZZ_NOW INT64_C(%lld)\n#define FUZZ_OVERLAY \"%s\"\n\n", (long long)NOW,
           OVERLAY);
    print_literal("FUZZ_CA_CERT_PEM", (const char *)ca_pem.data);
    print_literal("FUZZ_CA_KEY_PEM", (const char *)key_pem.data);
    printf("#endif\n");
    cordon_buf_free(&key_pem);

    /* ---- CSRs ---- */
    cordon_csr *csr, *ed_csr;
    cordon_buf csr_pem, csr_der, ed_der;
    cordon_buf_init(&csr_pem, CORDON_CSR_MAX, false);
    cordon_buf_init(&csr_der, CORDON_CSR_MAX, false);
    cordon_buf_init(&ed_der, CORDON_CSR_MAX, false);
    check("node key", cordon_key_generate(CORDON_KEY_P256, &node_key));
    check("ed key", cordon_key_generate(CORDON_KEY_ED25519, &ed_key));
    check("csr", cordon_csr_create(node_key, &csr));
    check("ed csr", cordon_csr_create(ed_key, &ed_csr));
    check("csr pem", cordon_csr_pem(csr, &csr_pem));
    check("csr der", cordon_csr_der(csr, &csr_der));
    check("ed csr der", cordon_csr_der(ed_csr, &ed_der));

    /* ---- a node certificate and a CRL that lists it ---- */
    struct cordon_node_cert_params p;
    memset(&p, 0, sizeof(p));
    p.overlay = OVERLAY;
    fill(p.node_id, sizeof(p.node_id), 0x42);
    fill(p.serial, sizeof(p.serial), 0x17);
    p.serial[0] &= 0x7f;
    p.not_before = NOW - 3600;
    p.not_after = NOW + 3 * 86400;
    cordon_cert *cert;
    check("issue", cordon_cert_issue_node(csr, &p, ca_key, ca, &cert));
    cordon_buf cert_pem, cert_der;
    cordon_buf_init(&cert_pem, CORDON_CERT_MAX, false);
    cordon_buf_init(&cert_der, CORDON_CERT_MAX, false);
    check("cert pem", cordon_cert_pem(cert, &cert_pem));
    check("cert der", cordon_cert_der(cert, &cert_der));

    struct cordon_revoked revoked[2];
    memcpy(revoked[0].serial, p.serial, CORDON_SERIAL_LEN);
    revoked[0].revoked_at = NOW - 600;
    fill(revoked[1].serial, CORDON_SERIAL_LEN, 0x61);
    revoked[1].serial[0] &= 0x7f;
    revoked[1].revoked_at = NOW - 7200;
    cordon_crl *crl, *empty_crl;
    check("crl", cordon_crl_create(ca_key, ca, 7, NOW - 60, NOW + 86400, revoked, 2, &crl));
    check("crl", cordon_crl_create(ca_key, ca, 1, NOW - 60, NOW + 86400, NULL, 0, &empty_crl));
    cordon_buf crl_pem, crl_der, empty_crl_der;
    cordon_buf_init(&crl_pem, CORDON_CRL_MAX, false);
    cordon_buf_init(&crl_der, CORDON_CRL_MAX, false);
    cordon_buf_init(&empty_crl_der, CORDON_CRL_MAX, false);
    check("crl pem", cordon_crl_pem(crl, &crl_pem));
    check("crl der", cordon_crl_der(crl, &crl_der));
    check("crl der", cordon_crl_der(empty_crl, &empty_crl_der));

    put_buf("cert_intake", "node-cert.pem", &cert_pem);
    put_buf("cert_intake", "node-cert.der", &cert_der);
    put_buf("cert_intake", "crl.pem", &crl_pem);
    put_buf("cert_intake", "crl.der", &crl_der);
    put_buf("cert_intake", "crl-empty.der", &empty_crl_der);
    put_buf("cert_intake", "csr.pem", &csr_pem);
    put_buf("cert_intake", "csr.der", &csr_der);
    put_buf("cert_intake", "csr-ed25519.der", &ed_der);
    put_buf("cert_intake", "ca.pem", &ca_pem);
    /* A certificate and a CRL in one PEM input: both parse, so verification with the CRL
     * (the certificate is revoked in it) is reached. */
    cordon_buf both;
    cordon_buf_init(&both, CORDON_CRL_MAX, false);
    check("both", cordon_buf_append(&both, cert_pem.data, cert_pem.len));
    check("both", cordon_buf_append(&both, crl_pem.data, crl_pem.len));
    put_buf("cert_intake", "cert-and-crl.pem", &both);
    cordon_buf_free(&both);

    /* ---- signer requests ---- */
    cordon_buf req;
    cordon_buf_init(&req, CORDON_IPC_MSG_MAX + 5, false);
    struct cordon_node_cert_params rp = p;
    rp.not_before = NOW;
    rp.not_after = NOW + 86400;
    check("node req", cordon_signer_encode_node_cert(csr_der.data, csr_der.len, &rp, &req));
    put_buf("signer_msg", "node-cert.bin", &req);
    cordon_buf_reset(&req);
    check("node req", cordon_signer_encode_node_cert(ed_der.data, ed_der.len, &rp, &req));
    put_buf("signer_msg", "node-cert-ed25519.bin", &req);
    cordon_buf_reset(&req);

    static struct cordon_overlay_doc doc;
    doc.version = 1;
    snprintf(doc.overlay, sizeof(doc.overlay), "%s", OVERLAY);
    doc.issued_at = NOW;
    doc.ca_pem = (char *)ca_pem.data;
    cordon_overlay_params_default(&doc.params);
    doc.n_bootstrap = 1;
    snprintf(doc.bootstrap[0], sizeof(doc.bootstrap[0]), "192.0.2.1:7000");
    cordon_buf json;
    cordon_buf_init(&json, CORDON_OVERLAY_DOC_MAX, false);
    check("doc", cordon_overlay_doc_encode(&doc, &json));
    check("doc req", cordon_signer_encode_document(json.data, json.len, &req));
    put_buf("signer_msg", "document.bin", &req);
    cordon_buf_reset(&req);

    check("crl req", cordon_signer_encode_crl(3, NOW, NOW + 86400, revoked, 2, &req));
    put_buf("signer_msg", "crl.bin", &req);
    cordon_buf_reset(&req);
    check("crl req", cordon_signer_encode_crl(1, NOW - 100, NOW + 3600, NULL, 0, &req));
    put_buf("signer_msg", "crl-empty.bin", &req);
    cordon_buf_free(&req);

    /* ---- enrollment requests ---- */
    uint8_t raw[CORDON_TOKEN_BYTES];
    char token[CORDON_TOKEN_TEXT_LEN + 1], auth[CORDON_TOKEN_TEXT_LEN + 8];
    fill(raw, sizeof(raw), 0x5a);
    cordon_token_format(raw, token);
    snprintf(auth, sizeof(auth), "Bearer %s", token);
    put_request("enroll-pem.bin", "POST", "/v1/enroll", auth, "application/pkcs10", csr_pem.data,
                csr_pem.len);
    put_request("enroll-der.bin", "POST", "/v1/enroll", auth, NULL, csr_der.data, csr_der.len);
    put_request("enroll-ed25519.bin", "POST", "/v1/enroll", auth, "application/pkcs10", ed_der.data,
                ed_der.len);
    put_request("enroll-garbage.bin", "POST", "/v1/enroll", auth, "text/plain", "this is not a CSR",
                17);
    put_request("enroll-no-token.bin", "POST", "/v1/enroll", NULL, NULL, csr_der.data, csr_der.len);
    put_request("get-ca.bin", "GET", "/v1/ca", NULL, NULL, "", 0);
    put_request("head-crl.bin", "HEAD", "/v1/crl", NULL, NULL, "", 0);
    put_renew_seeds(node_key, ed_key, ca_key, ca);

    /* ---- database records ---- */
    struct cordon_token_record tok;
    memset(&tok, 0, sizeof(tok));
    tok.max_nodes = 10;
    tok.used = 3;
    tok.created_at = NOW - 86400;
    tok.expires_at = NOW + 86400;
    snprintf(tok.label, sizeof(tok.label), "rack 12");
    uint8_t tbuf[256];
    size_t tlen;
    check("token rec", cordon_token_record_encode(&tok, tbuf, sizeof(tbuf), &tlen));
    put("db_records", "token.bin", tbuf, tlen);
    tok.label[0] = '\0';
    tok.used = tok.max_nodes;
    check("token rec", cordon_token_record_encode(&tok, tbuf, sizeof(tbuf), &tlen));
    put("db_records", "token-exhausted.bin", tbuf, tlen);

    struct cordon_node_record node;
    memset(&node, 0, sizeof(node));
    memcpy(node.node_id, p.node_id, sizeof(node.node_id));
    memcpy(node.serial, p.serial, sizeof(node.serial));
    fill(node.token_hash, sizeof(node.token_hash), 0x33);
    snprintf(node.token_label, sizeof(node.token_label), "rack 12");
    node.issued_at = NOW - 3600;
    node.not_after = p.not_after;
    node.cert_der = cert_der.data;
    node.cert_der_len = cert_der.len;
    cordon_buf nbuf;
    cordon_buf_init(&nbuf, 16384, false);
    check("node rec", cordon_node_record_encode(&node, &nbuf));
    put_buf("db_records", "node.bin", &nbuf);
    cordon_buf_reset(&nbuf);
    node.revoked_at = NOW - 600;
    snprintf(node.reason, sizeof(node.reason), "key compromise");
    node.cert_der = (uint8_t *)"\x30\x03\x02\x01\x01";
    node.cert_der_len = 5;
    check("node rec", cordon_node_record_encode(&node, &nbuf));
    put_buf("db_records", "node-revoked-small.bin", &nbuf);
    cordon_buf_free(&nbuf);

    cordon_buf_free(&json);
    cordon_buf_free(&crl_pem);
    cordon_buf_free(&crl_der);
    cordon_buf_free(&empty_crl_der);
    cordon_buf_free(&cert_pem);
    cordon_buf_free(&cert_der);
    cordon_buf_free(&csr_pem);
    cordon_buf_free(&csr_der);
    cordon_buf_free(&ed_der);
    cordon_buf_free(&ca_pem);
    cordon_crl_free(crl);
    cordon_crl_free(empty_crl);
    cordon_cert_free(cert);
    cordon_csr_free(csr);
    cordon_csr_free(ed_csr);
    cordon_cert_free(ca);
    cordon_key_free(ca_key);
    cordon_key_free(node_key);
    cordon_key_free(ed_key);
    return 0;
}
