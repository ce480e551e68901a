/*
 * fuzz/fuzz_cert_intake.c — libFuzzer target for the certificates, CRLs and CSRs that
 * arrive from outside: a peer's certificate on a link, a CRL fetched from the server or
 * the DHT, a CSR in an enrollment request. Every input is tried as all three (PEM or DER:
 * a PEM input may hold a certificate and a CRL, and then both are parsed).
 *
 * Reaches, on every input:
 *   cordon_cert_parse, and on success cordon_cert_node_id, cordon_cert_serial,
 *     cordon_cert_validity, cordon_cert_fingerprint, cordon_cert_verify_node (without a
 *     CRL, and with the input's CRL when it holds one), cordon_cert_der -> cordon_cert_parse
 *     (round trip: must parse again)
 *   cordon_crl_parse, and on success cordon_crl_verify, cordon_crl_number, cordon_crl_lists
 *     (the input certificate's serial, or a fixed one), cordon_crl_der -> cordon_crl_parse
 *   cordon_csr_parse, and on success cordon_csr_der -> cordon_csr_parse
 * and with them the PEM framing (cordon_crypto_frame), the time and serial helpers.
 * Invariants that abort: a node ID that verification returns but cordon_cert_node_id does
 * not; anything parsed whose own DER encoding does not parse back.
 *
 * Deterministic: the CA is a fixed certificate (fuzz/enroll_fuzz_ca.h) parsed once in
 * LLVMFuzzerInitialize, and time is fixed at FUZZ_NOW, so the seeds it signed verify.
 * Seeds: fuzz/corpus/cert_intake/ (written by fuzz/enroll_seeds.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/limits.h"
#include "crypto/crypto.h"
#include "fuzz/enroll_fuzz_ca.h"

static cordon_cert *ca;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (cordon_cert_parse(FUZZ_CA_CERT_PEM, sizeof(FUZZ_CA_CERT_PEM) - 1, &ca) != CORDON_OK)
        abort();
    return 0;
}

static void cert_checks(const cordon_cert *cert, const cordon_crl *crl,
                        uint8_t serial[CORDON_SERIAL_LEN])
{
    uint8_t id[CORDON_NODE_ID_LEN], verified[CORDON_NODE_ID_LEN], fp[32];
    int64_t nb, na;
    cordon_err id_err = cordon_cert_node_id(cert, FUZZ_OVERLAY, id);
    (void)cordon_cert_node_id(cert, "other-overlay", id);
    if (cordon_cert_serial(cert, serial) != CORDON_OK)
        memset(serial, 0, CORDON_SERIAL_LEN);
    (void)cordon_cert_validity(cert, &nb, &na);
    if (cordon_cert_fingerprint(cert, fp) != CORDON_OK)
        abort();
    if (cordon_cert_verify_node(cert, ca, NULL, FUZZ_OVERLAY, FUZZ_NOW, verified) == CORDON_OK) {
        if (id_err != CORDON_OK || cordon_cert_node_id(cert, FUZZ_OVERLAY, id) != CORDON_OK ||
            memcmp(id, verified, sizeof(id)) != 0)
            abort();
    }
    if (crl != NULL)
        (void)cordon_cert_verify_node(cert, ca, crl, FUZZ_OVERLAY, FUZZ_NOW, verified);

    cordon_buf der;
    cordon_cert *again = NULL;
    cordon_buf_init(&der, CORDON_CERT_MAX, false);
    if (cordon_cert_der(cert, &der) == CORDON_OK &&
        cordon_cert_parse(der.data, der.len, &again) != CORDON_OK)
        abort();
    cordon_cert_free(again);
    cordon_buf_free(&der);
}

static void crl_checks(const cordon_crl *crl, const uint8_t serial[CORDON_SERIAL_LEN])
{
    static const uint8_t fixed[CORDON_SERIAL_LEN] = {0x17};
    uint64_t number;
    (void)cordon_crl_verify(crl, ca, FUZZ_NOW);
    (void)cordon_crl_number(crl, &number);
    (void)cordon_crl_lists(crl, serial);
    (void)cordon_crl_lists(crl, fixed);

    cordon_buf der;
    cordon_crl *again = NULL;
    cordon_buf_init(&der, CORDON_CRL_MAX, false);
    if (cordon_crl_der(crl, &der) == CORDON_OK &&
        cordon_crl_parse(der.data, der.len, &again) != CORDON_OK)
        abort();
    cordon_crl_free(again);
    cordon_buf_free(&der);
}

static void csr_checks(const uint8_t *data, size_t size)
{
    cordon_csr *csr = NULL, *again = NULL;
    if (cordon_csr_parse(data, size, &csr) != CORDON_OK)
        return;
    cordon_buf der;
    cordon_buf_init(&der, CORDON_CSR_MAX, false);
    if (cordon_csr_der(csr, &der) == CORDON_OK &&
        cordon_csr_parse(der.data, der.len, &again) != CORDON_OK)
        abort();
    cordon_csr_free(again);
    cordon_buf_free(&der);
    cordon_csr_free(csr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cordon_cert *cert = NULL;
    cordon_crl *crl = NULL;
    uint8_t serial[CORDON_SERIAL_LEN] = {0};
    if (cordon_crl_parse(data, size, &crl) != CORDON_OK)
        crl = NULL;
    if (cordon_cert_parse(data, size, &cert) == CORDON_OK)
        cert_checks(cert, crl, serial);
    if (crl != NULL)
        crl_checks(crl, serial);
    csr_checks(data, size);
    cordon_cert_free(cert);
    cordon_crl_free(crl);
    return 0;
}
