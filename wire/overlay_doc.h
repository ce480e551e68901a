/*
 * wire/overlay_doc.h — the overlay document: what every peer must agree on (overlay name,
 * CA certificate, protocol parameters, bootstrap peers), as JSON signed by the overlay CA.
 *
 * Two layers:
 *   document  the exact JSON bytes the CA signs (cordon_overlay_doc_encode/_decode):
 *             {"bootstrap":["host:port",...],"ca":"<PEM>","issued_at":N,
 *              "overlay":"<name>","params":{...},"version":1}
 *   envelope  what GET /v1/overlay serves and peers store:
 *             {"alg":"ecdsa-p256-sha256"|"ed25519","document":"<the document JSON as a
 *              JSON string>","signature":"<hex>","version":1}
 *             The document travels as a string so that the verifier checks the very bytes
 *             that were signed, then parses them.
 *
 * This module only encodes and decodes; verifying the signature is the caller's job
 * (crypto/overlay.h does both). Decoders take untrusted bytes with a length (no NUL
 * needed after them), refuse more than the caps of common/limits.h before parsing, and
 * validate every field's type and range. They are strict: duplicate keys, unknown keys,
 * missing keys, wrong JSON types and numbers written as reals are refused.
 *
 * Errors of the decoders:
 *   CORDON_ERR_TOO_LARGE  the input, or a string or list inside it, is over its cap;
 *   CORDON_ERR_MALFORMED  not JSON, duplicate/unknown/missing key, wrong type, version
 *                         other than 1, bad overlay name, address, alg, hex or CA text;
 *   CORDON_ERR_INVAL      a parameter out of the range below (or NULL arguments);
 *   CORDON_ERR_NOMEM.
 * On failure a decoder leaves its output untouched; on success it overwrites all of it
 * (without releasing what it held: pass a zeroed or cleared struct).
 *
 * Encoders append compact JSON with sorted keys to out (plus a NUL not counted in
 * out->len, so out->data is a C string). They validate first and refuse what the
 * decoders would refuse (CORDON_ERR_INVAL; CORDON_ERR_TOO_LARGE over a cap, including
 * out's own), so whatever they produce decodes. A failed append poisons out (buf.h).
 *
 * Parameter ranges (the table in overlay_doc.c is authoritative; params_check, the
 * decoders and the encoders all use it, and tests/unit/test_overlay_doc.c pins it):
 *
 *   parameter             min        max               default    also
 *   k                     1          64                20
 *   alpha                 1          16                3          <= k
 *   disjoint_paths        1          16                4          <= k
 *   replicas              1          16                3          <= k
 *   max_object_size       1          1 MiB             65536      <= writer_quota_bytes
 *   max_lifetime          60         31536000 (1 y)    604800
 *   writer_quota_objects  1          1000000           1024
 *   writer_quota_bytes    1          1 TiB             16 MiB     <= node_capacity_bytes
 *   node_capacity_bytes   1 MiB      16 TiB            1 GiB
 *   clock_skew            0          3600              300
 *   cert_validity         300        CORDON_CERT_VALIDITY_MAX (30 d)   259200
 *   crl_validity          600        2592000 (30 d)    172800
 *   prefix_limit_v4       8          32                24
 *   prefix_limit_v6       16         128               64
 *   per_prefix_contacts   1          64                2          <= k
 *   request_rate          1          100000            50
 *   request_burst         1          1000000           100
 *   routing_rate          1          100000            20
 *   routing_burst         1          1000000           40
 *   inbound_rate          1          10000000          20000
 *   churn_max_rejoins     1          1000              4
 *   churn_window          60         86400             3600
 */
#ifndef CORDON_WIRE_OVERLAY_DOC_H
#define CORDON_WIRE_OVERLAY_DOC_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/limits.h"

/* Protocol parameters. Every limit of the overlay is one of these; the defaults are
 * documented in docs/protocol.md and set by cordon_overlay_params_default(). A field
 * added here needs its row in the table of overlay_doc.c, or it is neither checked nor
 * encoded (the unit test counts the rows). */
struct cordon_overlay_params {
    uint32_t k;                    /* bucket size and lookup result size (20) */
    uint32_t alpha;                /* parallel requests per lookup path (3) */
    uint32_t disjoint_paths;       /* d, disjoint lookup paths (4) */
    uint32_t replicas;             /* r, replicas per object (3) */
    uint32_t max_object_size;      /* bytes of value per object (65536) */
    uint32_t max_lifetime;         /* seconds an object may live (604800) */
    uint32_t writer_quota_objects; /* objects one writer may hold on one node (1024) */
    uint64_t writer_quota_bytes;   /* bytes one writer may hold on one node (16 MiB) */
    uint64_t node_capacity_bytes;  /* bytes one node stores in all (1 GiB) */
    uint32_t clock_skew;           /* seconds of created_at in the future tolerated (300) */
    uint32_t cert_validity;        /* seconds a node certificate is valid (259200) */
    uint32_t crl_validity;         /* seconds between a CRL's lastUpdate and nextUpdate (172800) */
    uint32_t prefix_limit_v4;      /* prefix length of the per-bucket IP limit, IPv4 (24) */
    uint32_t prefix_limit_v6;      /* prefix length of the per-bucket IP limit, IPv6 (64) */
    uint32_t per_prefix_contacts;  /* contacts per prefix per bucket (2) */
    uint32_t request_rate;         /* requests per second per remote node (50) */
    uint32_t request_burst;        /* token bucket depth for requests (100) */
    uint32_t routing_rate;         /* routing queries per second per remote node (20) */
    uint32_t routing_burst;        /* token bucket depth for routing queries (40) */
    uint32_t inbound_rate;         /* messages per second accepted from all remotes (20000) */
    uint32_t churn_max_rejoins;    /* rejoins per node ID tolerated per churn window (4) */
    uint32_t churn_window;         /* seconds of the churn window (3600) */
};

struct cordon_overlay_doc {
    uint32_t version; /* 1 */
    char overlay[CORDON_OVERLAY_NAME_MAX + 1];
    int64_t issued_at; /* Unix seconds, 0..253402300799 */
    char *ca_pem;      /* owned; NUL-terminated PEM */
    struct cordon_overlay_params params;
    size_t n_bootstrap;
    char bootstrap[CORDON_BOOTSTRAP_MAX][CORDON_ADDR_TEXT_MAX]; /* "host:port", "[v6]:port" */
};

void cordon_overlay_params_default(struct cordon_overlay_params *p);
/* CORDON_OK when every parameter is within its documented range (the table above, with
 * its cross-checks), else CORDON_ERR_INVAL. */
CORDON_MUST_CHECK cordon_err cordon_overlay_params_check(const struct cordon_overlay_params *p);

/* Parameters as a JSON object text (the params.json an operator edits: indented, sorted
 * keys, a final newline), and back. The decoder starts from the defaults, so a file may
 * name only what it changes; an unknown key (a typo) or a non-integer value is refused
 * with CORDON_ERR_MALFORMED, a value out of range with CORDON_ERR_INVAL. Input is capped
 * at CORDON_OVERLAY_DOC_MAX bytes. */
CORDON_MUST_CHECK cordon_err cordon_overlay_params_encode(const struct cordon_overlay_params *p,
                                                          cordon_buf *out);
CORDON_MUST_CHECK cordon_err cordon_overlay_params_decode(const void *json, size_t len,
                                                          struct cordon_overlay_params *p);

/* Checks overlay names: 1..CORDON_OVERLAY_NAME_MAX of [a-z0-9-], not starting with '-'.
 * CORDON_OK or CORDON_ERR_INVAL. */
CORDON_MUST_CHECK cordon_err cordon_overlay_name_check(const char *name);
/* Checks "host:port" / "[v6]:port" bootstrap entries: at most CORDON_ADDR_TEXT_MAX - 1
 * characters; host a DNS name (labels of [A-Za-z0-9-], not starting or ending with '-'),
 * a dotted-quad IPv4 address, or a bracketed IPv6 address; port 1..65535 in decimal
 * without leading zeros. CORDON_OK or CORDON_ERR_INVAL. */
CORDON_MUST_CHECK cordon_err cordon_overlay_addr_check(const char *addr);

/* Document <-> JSON bytes (at most CORDON_OVERLAY_DOC_MAX). decode fills doc, which the
 * caller releases with _clear. In the document every parameter must be present (peers
 * must not fill a gap with their own build's default); ca must be printable ASCII PEM
 * starting with "-----BEGIN CERTIFICATE-----", at most CORDON_CERT_MAX bytes (it is not
 * parsed here: crypto/overlay.h does that); bootstrap holds at most CORDON_BOOTSTRAP_MAX
 * entries. */
CORDON_MUST_CHECK cordon_err cordon_overlay_doc_encode(const struct cordon_overlay_doc *doc,
                                                       cordon_buf *out);
CORDON_MUST_CHECK cordon_err cordon_overlay_doc_decode(const void *json, size_t len,
                                                       struct cordon_overlay_doc *doc);
/* Frees ca_pem and zeroes doc; accepts NULL. */
void cordon_overlay_doc_clear(struct cordon_overlay_doc *doc);

/* Envelope (at most CORDON_OVERLAY_ENVELOPE_MAX bytes). alg is "ecdsa-p256-sha256" or
 * "ed25519"; document is 1..CORDON_OVERLAY_DOC_MAX bytes of UTF-8 without NUL (decode
 * does not parse it: verify it first, then call cordon_overlay_doc_decode); the signature
 * is 1..CORDON_SIG_MAX bytes, hex in either case on input, lower case on output.
 * decode copies the document into env->document, which env owns (NUL-terminated, the NUL
 * not counted in document_len): call cordon_overlay_envelope_clear() when done. */
struct cordon_overlay_envelope {
    char alg[24];
    uint8_t *document; /* owned, exactly the signed bytes */
    size_t document_len;
    uint8_t signature[CORDON_SIG_MAX];
    size_t signature_len;
};
CORDON_MUST_CHECK cordon_err cordon_overlay_envelope_encode(const char *alg, const void *document,
                                                            size_t document_len, const uint8_t *sig,
                                                            size_t sig_len, cordon_buf *out);
CORDON_MUST_CHECK cordon_err cordon_overlay_envelope_decode(const void *json, size_t len,
                                                            struct cordon_overlay_envelope *env);
/* Frees the document and zeroes env; accepts NULL. */
void cordon_overlay_envelope_clear(struct cordon_overlay_envelope *env);

#endif
