/*
 * fuzz/fuzz_overlay_doc.c — libFuzzer target for the overlay document (untrusted: a peer
 * fetches it from the enrollment server or a cache, and an operator's params.json).
 *
 * Reaches, on every input:
 *   cordon_overlay_params_decode   (then _encode and _decode again: round trip)
 *   cordon_overlay_doc_decode      (then _encode, _decode, _encode: round trip, canonical)
 *   cordon_overlay_envelope_decode (then _encode and _decode again: round trip; and
 *                                   cordon_overlay_doc_decode on the document it carries,
 *                                   signed or not)
 *   cordon_overlay_open            against a P-256 and an Ed25519 CA: envelope decoding,
 *                                   the alg check, cordon_verify, document decoding,
 *                                   cordon_cert_parse of the document's CA and the
 *                                   fingerprint comparison
 * and with them cordon_overlay_params_check, cordon_overlay_name_check,
 * cordon_overlay_addr_check and cordon_hex_decode. A round trip that fails or changes a
 * value aborts: whatever a decoder accepts, the encoders must write back unchanged.
 *
 * Deterministic: the CAs are fixed certificates embedded below (public halves only; the
 * keys that signed the seed envelopes were thrown away by fuzz/overlay_doc_seeds.c), so
 * the seeds verify and the fuzzer starts past the signature check, and jansson's hash
 * seed is fixed. No clock, no randomness, no state carried between inputs.
 *
 * Seeds: fuzz/corpus/overlay_doc/ (regenerate with overlay_doc_seeds, then paste the CA
 * certificates it prints over the two below).
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "crypto/crypto.h"
#include "crypto/overlay.h"
#include "wire/overlay_doc.h"

static const char CA_P256_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBgTCCASegAwIBAgIQNzPlvjNbkUya9K2gXdjxszAKBggqhkjOPQQDAjAeMRww\n"
    "GgYDVQQDDBNmdXp6LW5ldCBvdmVybGF5IENBMCAXDTIzMTExNDIyMTMyMFoYDzIx\n"
    "MjMxMDIxMjIxMzIwWjAeMRwwGgYDVQQDDBNmdXp6LW5ldCBvdmVybGF5IENBMFkw\n"
    "EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAERj7XMFoBuzdkDeqSGP2PgqdfZDMFhQeT\n"
    "YWUlYeTllCZW7CyshJnbeKyTEc6rrCUePWZPTSA0EVdbzTizVFDn76NFMEMwEgYD\n"
    "VR0TAQH/BAgwBgEB/wIBADAOBgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYEFCJKQkED\n"
    "N5FxkUg6ah085bl8YzKeMAoGCCqGSM49BAMCA0gAMEUCIQDVQ+3c2m4nGrESt66l\n"
    "WcH2uDJtKGwdzXBzd1lkSe48QAIgDhv9O5EhAvFRQ3Q3nHFz0wscTyT86TphzyhB\n"
    "rAYDjQg=\n"
    "-----END CERTIFICATE-----\n";

static const char CA_ED25519_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBQDCB86ADAgECAhB+7IrUqalJO6DQ2Y9Bhn6eMAUGAytlcDAeMRwwGgYDVQQD\n"
    "DBNmdXp6LW5ldCBvdmVybGF5IENBMCAXDTIzMTExNDIyMTMyMFoYDzIxMjMxMDIx\n"
    "MjIxMzIwWjAeMRwwGgYDVQQDDBNmdXp6LW5ldCBvdmVybGF5IENBMCowBQYDK2Vw\n"
    "AyEABnRNCOqo4zTF39icBm/m8Z0vnJkz75EqSBpbZirGqB+jRTBDMBIGA1UdEwEB\n"
    "/wQIMAYBAf8CAQAwDgYDVR0PAQH/BAQDAgEGMB0GA1UdDgQWBBQ0sY7avkAYMbnF\n"
    "+KSqiRDa1NZW9jAFBgMrZXADQQCEh8gTv6avuU+MplFEDrfOhoWZD6LBvgP+2Zhl\n"
    "GDzrZeXPnaDJT17nB93OqLbo624jOREQ+0dj/3p5RWAYiAEM\n"
    "-----END CERTIFICATE-----\n";

static cordon_cert *ca_p256;
static cordon_cert *ca_ed25519;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_object_seed(1);
    if (cordon_cert_parse(CA_P256_PEM, sizeof(CA_P256_PEM) - 1, &ca_p256) != CORDON_OK ||
        cordon_cert_parse(CA_ED25519_PEM, sizeof(CA_ED25519_PEM) - 1, &ca_ed25519) != CORDON_OK)
        abort();
    return 0;
}

static void same_doc(const struct cordon_overlay_doc *a, const struct cordon_overlay_doc *b)
{
    if (a->version != b->version || strcmp(a->overlay, b->overlay) != 0 ||
        a->issued_at != b->issued_at || strcmp(a->ca_pem, b->ca_pem) != 0 ||
        memcmp(&a->params, &b->params, sizeof(a->params)) != 0 || a->n_bootstrap != b->n_bootstrap)
        abort();
    for (size_t i = 0; i < a->n_bootstrap; i++)
        if (strcmp(a->bootstrap[i], b->bootstrap[i]) != 0)
            abort();
}

static void params_round_trip(const uint8_t *data, size_t size)
{
    struct cordon_overlay_params p, q;
    if (cordon_overlay_params_decode(data, size, &p) != CORDON_OK)
        return;
    cordon_buf b;
    cordon_buf_init(&b, CORDON_OVERLAY_DOC_MAX, false);
    if (cordon_overlay_params_encode(&p, &b) != CORDON_OK ||
        cordon_overlay_params_decode(b.data, b.len, &q) != CORDON_OK ||
        memcmp(&p, &q, sizeof(p)) != 0)
        abort();
    cordon_buf_free(&b);
}

static void doc_round_trip(const uint8_t *data, size_t size)
{
    /* static: the bootstrap table makes these large for a fuzzer's stack */
    static struct cordon_overlay_doc doc, back;
    if (cordon_overlay_doc_decode(data, size, &doc) != CORDON_OK)
        return;
    cordon_buf b, again;
    cordon_buf_init(&b, CORDON_OVERLAY_DOC_MAX, false);
    cordon_buf_init(&again, CORDON_OVERLAY_DOC_MAX, false);
    if (cordon_overlay_doc_encode(&doc, &b) != CORDON_OK ||
        cordon_overlay_doc_decode(b.data, b.len, &back) != CORDON_OK)
        abort();
    same_doc(&doc, &back);
    if (cordon_overlay_doc_encode(&back, &again) != CORDON_OK || again.len != b.len ||
        memcmp(again.data, b.data, b.len) != 0)
        abort();
    cordon_buf_free(&again);
    cordon_buf_free(&b);
    cordon_overlay_doc_clear(&back);
    cordon_overlay_doc_clear(&doc);
}

static void envelope_round_trip(const uint8_t *data, size_t size)
{
    struct cordon_overlay_envelope env, back;
    if (cordon_overlay_envelope_decode(data, size, &env) != CORDON_OK)
        return;
    cordon_buf b;
    cordon_buf_init(&b, CORDON_OVERLAY_ENVELOPE_MAX, false);
    if (cordon_overlay_envelope_encode(env.alg, env.document, env.document_len, env.signature,
                                       env.signature_len, &b) != CORDON_OK ||
        cordon_overlay_envelope_decode(b.data, b.len, &back) != CORDON_OK)
        abort();
    if (strcmp(env.alg, back.alg) != 0 || env.document_len != back.document_len ||
        memcmp(env.document, back.document, env.document_len) != 0 ||
        env.signature_len != back.signature_len ||
        memcmp(env.signature, back.signature, env.signature_len) != 0)
        abort();
    /* the carried document, whether or not anyone signed it */
    doc_round_trip(env.document, env.document_len);
    cordon_buf_free(&b);
    cordon_overlay_envelope_clear(&back);
    cordon_overlay_envelope_clear(&env);
}

static void open_with(const uint8_t *data, size_t size, const cordon_cert *ca)
{
    static struct cordon_overlay_doc doc;
    if (cordon_overlay_open(data, size, ca, &doc) == CORDON_OK)
        cordon_overlay_doc_clear(&doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    params_round_trip(data, size);
    doc_round_trip(data, size);
    envelope_round_trip(data, size);
    open_with(data, size, ca_p256);
    open_with(data, size, ca_ed25519);
    return 0;
}
