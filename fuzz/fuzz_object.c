/*
 * fuzz/fuzz_object.c — libFuzzer target for the signed object (wire/object.h,
 * crypto/object.h): the bytes a replica or a reader receives from any peer, and what the
 * store reads back from LMDB.
 *
 * Reaches, on every input:
 *   cordon_object_decode  and through it cordon_read_u8, _u32, _u64, cordon_read_bytes,
 *                         cordon_read_sub, cordon_overlay_name_check, cordon_reader_end
 * and on every input that decodes:
 *   cordon_object_encode, cordon_object_encode_tbs (with room, and one byte short),
 *   cordon_object_entry_key, cordon_object_expires_at, cordon_object_is_tombstone,
 *   cordon_object_verifier_new, _set_crl, cordon_object_verify three times (a cache miss,
 *   a hit, a hit at another time) and once more on a fresh verifier, and through it
 *   cordon_object_resource_id, cordon_cert_parse, cordon_cert_verify_node, cordon_cert_serial,
 *   cordon_cert_validity, cordon_crl_lists, cordon_verify and, for kind crl,
 *   cordon_crl_parse, cordon_crl_verify, cordon_crl_number.
 *
 * Oracles (abort() on failure, so a crash names the input):
 *   - round trip: whatever decodes encodes back to exactly the input, and its tbs is the
 *     input up to the signature (one encoding per object);
 *   - a failed decode returns a decoding error and leaves the output struct untouched;
 *   - encoding into one byte too few fails with CORDON_ERR_TOO_LARGE inside its cap;
 *   - the certificate cache changes nothing but cost: a hit gives the result the miss
 *     gave, and a hit at another time the result a fresh verifier gives at that time;
 *   - verification returns only its documented errors (never CORDON_ERR_INVAL on a decoded
 *     object), and an accepted object's writer certificate was cached on its miss.
 *
 * Deterministic: the CA is the fixed fuzz CA (fuzz/enroll_fuzz_ca.h); its CRL, made once
 * in LLVMFuzzerInitialize, revokes one seed writer (its ECDSA signature differs between
 * runs, not any result); each input gets new verifiers, so no state is carried between
 * inputs; the second time is drawn from the input's bytes.
 * Seeds: fuzz/corpus/object/ (written by fuzz/object_seeds.c).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "crypto/crypto.h"
#include "crypto/object.h"
#include "fuzz/object_fuzz.h"
#include "wire/object.h"

#define POISON 0xA5
#define CANARY 0xCC

static cordon_cert *ca;
static cordon_crl *crl;
static uint8_t out[CORDON_OBJECT_MAX + 1];

/* Times around the seed writers' validity, edges included. */
static const int64_t later_times[] = {
    OF_NODE_NB - 1, OF_NODE_NB, FUZZ_NOW, OF_NODE_NA - 1, OF_NODE_NA, FUZZ_NOW + 365 * OF_DAY,
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct cordon_revoked r;
    cordon_key *key = of_ca_key();
    if (key == NULL ||
        cordon_cert_parse(FUZZ_CA_CERT_PEM, sizeof(FUZZ_CA_CERT_PEM) - 1, &ca) != CORDON_OK)
        abort();
    of_serial(r.serial, OF_REVOKED_SERIAL_LAST);
    r.revoked_at = FUZZ_NOW - OF_DAY;
    if (cordon_crl_create(key, ca, OF_CRL_NUMBER, FUZZ_NOW - OF_DAY, FUZZ_NOW + OF_DAY, &r, 1,
                          &crl) != CORDON_OK)
        abort();
    cordon_key_free(key);
    return 0;
}

static bool verify_err_ok(cordon_err err)
{
    switch (err) {
    case CORDON_OK:
    case CORDON_ERR_OBJ_NOT_ALLOWED:
    case CORDON_ERR_MALFORMED:
    case CORDON_ERR_CERT_UNTRUSTED:
    case CORDON_ERR_CERT_EXPIRED:
    case CORDON_ERR_CERT_NOT_YET_VALID:
    case CORDON_ERR_CERT_REVOKED:
    case CORDON_ERR_CERT_NODE_ID:
    case CORDON_ERR_KEY_TYPE:
    case CORDON_ERR_BAD_SIGNATURE:
    case CORDON_ERR_CRL:
        return true;
    default:
        return false;
    }
}

static cordon_object_verifier *new_verifier(void)
{
    cordon_object_verifier *v = NULL;
    if (cordon_object_verifier_new(ca, FUZZ_OVERLAY, 4, &v) != CORDON_OK ||
        cordon_object_verifier_set_crl(v, crl) != CORDON_OK)
        abort();
    return v;
}

static void codec_checks(const uint8_t *data, size_t size, const struct cordon_object *o)
{
    size_t len = 0;
    if (size > CORDON_OBJECT_MAX)
        abort();
    if (cordon_object_encode(o, out, sizeof(out) - 1, &len) != CORDON_OK || len != size ||
        memcmp(out, data, size) != 0)
        abort();
    if (o->tbs != data || o->tbs_len + 1 + o->sig_len != size || o->sig != data + o->tbs_len + 1)
        abort();
    if (cordon_object_encode_tbs(o, out, sizeof(out) - 1, &len) != CORDON_OK || len != o->tbs_len ||
        memcmp(out, data, len) != 0)
        abort();

    /* size >= 1 here, so size - 1 is a real, too-small cap. */
    memset(out, CANARY, sizeof(out));
    size_t short_len = 0;
    if (cordon_object_encode(o, out, size - 1, &short_len) != CORDON_ERR_TOO_LARGE ||
        short_len != 0)
        abort();
    for (size_t i = size - 1; i < sizeof(out); i++) {
        if (out[i] != CANARY)
            abort();
    }

    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    static const uint8_t zero[CORDON_NODE_ID_LEN];
    cordon_object_entry_key(o, key);
    if (memcmp(key, o->resource, CORDON_NODE_ID_LEN) != 0 ||
        memcmp(key + CORDON_NODE_ID_LEN, o->kind == CORDON_KIND_SHARED ? o->writer : zero,
               CORDON_NODE_ID_LEN) != 0)
        abort();
    if (cordon_object_expires_at(o) < o->created_at)
        abort();
    if (cordon_object_is_tombstone(o) && (o->value_len != 0 || o->kind == CORDON_KIND_CRL))
        abort();
}

static void verify_checks(const uint8_t *data, size_t size, const struct cordon_object *o)
{
    cordon_object_verifier *v = new_verifier();
    cordon_err miss = cordon_object_verify(v, o, FUZZ_NOW);
    cordon_err hit = cordon_object_verify(v, o, FUZZ_NOW);
    if (!verify_err_ok(miss) || hit != miss)
        abort();
    struct cordon_object_verifier_stats s;
    cordon_object_verifier_stats(v, &s);
    if (s.verified + s.refused != 2 || s.cert_hits + s.cert_misses > 2)
        abort();
    if (miss == CORDON_OK && (s.cert_misses != 1 || s.cert_hits != 1 || s.verified != 2))
        abort();

    int64_t later =
        later_times[cordon_hash64(0, data, size) % (sizeof(later_times) / sizeof(later_times[0]))];
    cordon_err cached = cordon_object_verify(v, o, later);
    cordon_object_verifier *fresh = new_verifier();
    cordon_err fresh_err = cordon_object_verify(fresh, o, later);
    if (!verify_err_ok(cached) || cached != fresh_err)
        abort();
    cordon_object_verifier_free(fresh);
    cordon_object_verifier_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cordon_object o, before;
    memset(&o, POISON, sizeof(o));
    memcpy(&before, &o, sizeof(before));

    cordon_err err = cordon_object_decode(data, size, &o);
    if (err != CORDON_OK) {
        if (err != CORDON_ERR_TRUNCATED && err != CORDON_ERR_TRAILING &&
            err != CORDON_ERR_TOO_LARGE && err != CORDON_ERR_MALFORMED)
            abort();
        if (memcmp(&o, &before, sizeof(o)) != 0)
            abort();
        return 0;
    }
    codec_checks(data, size, &o);
    verify_checks(data, size, &o);
    return 0;
}
