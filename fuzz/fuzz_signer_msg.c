/*
 * fuzz/fuzz_signer_msg.c — libFuzzer target for the signer's side of the privilege-
 * separated channel: the process that holds the CA key must survive, and sign nothing
 * outside its policy, whatever a compromised HTTP front sends it.
 *
 * Reaches, on every input:
 *   cordon_signer_handle: the request framing (u8 type, u32 length, payload), then
 *     node certificates: the field reads, the policy checks (node ID, serial, validity
 *       against FUZZ_NOW and the policy), cordon_csr_parse, cordon_cert_issue_node,
 *       cordon_cert_der;
 *     documents: cordon_overlay_doc_decode, the overlay name check, cordon_cert_parse and
 *       cordon_cert_fingerprint of the named CA, cordon_sign;
 *     CRLs: the count check against the payload length, the number and time checks,
 *       cordon_crl_create, cordon_crl_der.
 * Invariants that abort: a response that is not one frame (u16 status equal to the return
 * value, u32 length equal to what follows, nothing after a refusal); a node certificate
 * that does not carry the requested node ID or does not verify against the CA at its own
 * notBefore; a document signature that does not verify over the requested bytes; a CRL
 * whose number is not the requested one.
 *
 * Deterministic: the CA (key and certificate) is fixed (fuzz/enroll_fuzz_ca.h) and loaded
 * once in LLVMFuzzerInitialize; now is FUZZ_NOW; the signer's memory of the last CRL
 * number starts at 0 for every input; jansson's hash seed is fixed. (ECDSA signatures
 * are randomized by OpenSSL, which changes bytes of the output, never the paths taken.)
 * Seeds: fuzz/corpus/signer_msg/ (written by fuzz/enroll_seeds.c), one valid request of
 * each type.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/limits.h"
#include "crypto/crypto.h"
#include "enroll/signer.h"
#include "fuzz/enroll_fuzz_ca.h"
#include "wire/reader.h"

static cordon_key *ca_key;
static cordon_cert *ca_cert;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* cordon_key_load() reads only files: the key goes through a private temporary one. */
static cordon_key *load_key(void)
{
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/cordon-fuzz-ca-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    size_t n = sizeof(FUZZ_CA_KEY_PEM) - 1;
    if (write(fd, FUZZ_CA_KEY_PEM, n) != (ssize_t)n || close(fd) != 0)
        abort();
    cordon_key *key = NULL;
    cordon_err err = cordon_key_load(path, &key);
    unlink(path);
    if (err != CORDON_OK)
        abort();
    return key;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_object_seed(1);
    ca_key = load_key();
    if (cordon_cert_parse(FUZZ_CA_CERT_PEM, sizeof(FUZZ_CA_CERT_PEM) - 1, &ca_cert) != CORDON_OK ||
        !cordon_cert_matches_key(ca_cert, ca_key))
        abort();
    return 0;
}

static void check_node_cert(const uint8_t *data, const uint8_t *der, size_t len)
{
    /* data: u8 type, u32 length, node_id[32], serial[16], u64 not_before, ... */
    cordon_reader r;
    uint64_t nb;
    uint8_t id[CORDON_NODE_ID_LEN];
    cordon_cert *cert = NULL;
    cordon_reader_init(&r, data + 5 + CORDON_NODE_ID_LEN + CORDON_SERIAL_LEN, 8);
    if (cordon_read_u64(&r, &nb) != CORDON_OK || cordon_cert_parse(der, len, &cert) != CORDON_OK ||
        cordon_cert_verify_node(cert, ca_cert, NULL, FUZZ_OVERLAY, (int64_t)nb, id) != CORDON_OK ||
        memcmp(id, data + 5, CORDON_NODE_ID_LEN) != 0)
        abort();
    cordon_cert_free(cert);
}

static void check_document(const uint8_t *data, size_t size, const uint8_t *sig, size_t len)
{
    /* data: u8 type, u32 length, u32 document length, document */
    cordon_reader r, doc;
    cordon_reader_init(&r, data + 5, size - 5);
    if (cordon_read_sub(&r, 4, CORDON_OVERLAY_DOC_MAX, &doc) != CORDON_OK ||
        cordon_verify(ca_cert, doc.data, doc.len, sig, len) != CORDON_OK)
        abort();
}

static void check_crl(const uint8_t *data, const uint8_t *der, size_t len)
{
    /* data: u8 type, u32 length, u64 number, ... */
    cordon_reader r;
    uint64_t want, got;
    cordon_crl *crl = NULL;
    cordon_reader_init(&r, data + 5, 8);
    if (cordon_read_u64(&r, &want) != CORDON_OK || cordon_crl_parse(der, len, &crl) != CORDON_OK ||
        cordon_crl_number(crl, &got) != CORDON_OK || got != want)
        abort();
    cordon_crl_free(crl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cordon_signer_state st;
    memset(&st, 0, sizeof(st));
    st.ca_key = ca_key;
    st.ca_cert = ca_cert;
    snprintf(st.policy.overlay, sizeof(st.policy.overlay), "%s", FUZZ_OVERLAY);
    st.policy.max_validity = 259200;
    st.policy.max_crl_validity = 172800;
    st.last_crl_number = 0;

    cordon_buf resp;
    cordon_buf_init(&resp, CORDON_IPC_MSG_MAX + 6, false);
    cordon_err ret = cordon_signer_handle(&st, data, size, FUZZ_NOW, &resp);

    cordon_reader r;
    uint16_t status;
    uint32_t len;
    const uint8_t *payload;
    cordon_reader_init(&r, resp.data, resp.len);
    if (cordon_read_u16(&r, &status) != CORDON_OK || cordon_read_u32(&r, &len) != CORDON_OK ||
        status != (uint16_t)ret || len != cordon_reader_left(&r) ||
        cordon_read_view(&r, len, &payload) != CORDON_OK)
        abort();
    if (ret != CORDON_OK) {
        if (len != 0)
            abort();
    } else {
        /* Only a well-framed request can have succeeded, so the reads below are in bounds. */
        if (len == 0 || size < 5 + 8 ||
            (data[0] == CORDON_SIGNER_NODE_CERT && size < 5 + 32 + 16 + 8))
            abort();
        switch (data[0]) {
        case CORDON_SIGNER_NODE_CERT:
            check_node_cert(data, payload, len);
            break;
        case CORDON_SIGNER_DOCUMENT:
            check_document(data, size, payload, len);
            break;
        case CORDON_SIGNER_CRL:
            check_crl(data, payload, len);
            if (st.last_crl_number == 0)
                abort();
            break;
        default:
            abort();
        }
    }
    cordon_buf_free(&resp);
    return 0;
}
