/*
 * wire/object.h — the signed object: what a writer stores in the overlay and what replicas
 * and readers accept. Byte-by-byte layout in docs/protocol.md, "Objects".
 *
 *   u8  version (1)
 *   u8  kind          1 owned, 2 shared, 3 crl
 *   u8  flags         bit 0: tombstone (a delete; value must be empty; not for kind crl,
 *                     which is only ever superseded); other bits zero
 *   u8  reserved (0)
 *   u8  overlay length (1..63) | overlay name ([a-z0-9-], not starting with '-', as
 *                     cordon_overlay_name_check())   domain separation
 *   id[32]  resource ID  (cordon_object_resource_id() of kind, overlay, writer, name)
 *   u8  name length (1..255 owned/shared; 0 for crl) | name (any bytes)
 *   id[32]  writer node ID
 *   u64 seq           strictly increasing per entry; for kind crl, the CRL's crlNumber
 *   u64 created_at    seconds since the epoch (writer's clock)
 *   u32 lifetime      seconds (1..the overlay maximum)
 *   u32 value length (<= CORDON_OBJECT_VALUE_MAX) | value   (kind crl: the CRL in DER)
 *   u16 cert length (1..CORDON_OBJECT_CERT_MAX) | the writer's certificate, DER
 *   --- the bytes above are the "to be signed" part (tbs) ---
 *   u8  signature length (1..CORDON_SIG_MAX) | signature
 *
 * The signature is the writer's key over "cordon-object-v1" || 0x00 || tbs (ECDSA P-256
 * with SHA-256 in DER, or Ed25519), made and checked by crypto/ (cordon_object_sign(),
 * cordon_object_verify()). Decoding here is strict and pure: unknown version or kind, a
 * flag or reserved bit set (or a tombstone of kind crl), a length over its cap or past the
 * input, a bad overlay name, a name length that the kind does not allow, a zero-length
 * certificate or signature, a tombstone with a value, trailing bytes — all refused;
 * nothing is read past the input, nothing is allocated. Each object has exactly one
 * encoding, so what decodes re-encodes to the same bytes. Decoding does not judge seq,
 * created_at or lifetime (any value decodes: the store refuses them with its own codes),
 * nor does it parse the certificate, the signature or a CRL value (crypto/ does).
 *
 * Entries. An object is stored under its entry key: resource ID || entry writer, where the
 * entry writer is the writer for kind shared (a dictionary: one entry per writer under one
 * resource ID) and all zero for kinds owned and crl (one entry per resource ID).
 */
#ifndef CORDON_WIRE_OBJECT_H
#define CORDON_WIRE_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/limits.h"

#define CORDON_OBJECT_VERSION 1
#define CORDON_OBJECT_FLAG_TOMBSTONE 0x01
#define CORDON_OBJECT_ENTRY_KEY_LEN (2 * CORDON_NODE_ID_LEN)
#define CORDON_OBJECT_SIG_CONTEXT "cordon-object-v1" /* followed by one 0x00 byte */

enum cordon_object_kind {
    CORDON_KIND_OWNED = 1,  /* resource ID bound to the writer and the name: only it writes */
    CORDON_KIND_SHARED = 2, /* a dictionary under one name: each writer owns its entry */
    CORDON_KIND_CRL = 3,    /* the overlay's CRL: accepted when signed by the overlay CA with
                               a higher crlNumber (= seq) than the stored one */
};

/* A decoded object. The pointers borrow the decoded input (or, for encoding, the caller's
 * bytes); tbs/tbs_len are set by cordon_object_decode() and cordon_object_sign() only. */
struct cordon_object {
    uint8_t kind;
    uint8_t flags;
    char overlay[CORDON_OVERLAY_NAME_MAX + 1];
    uint8_t resource[CORDON_NODE_ID_LEN];
    const uint8_t *name;
    size_t name_len;
    uint8_t writer[CORDON_NODE_ID_LEN];
    uint64_t seq;
    uint64_t created_at;
    uint32_t lifetime;
    const uint8_t *value;
    size_t value_len;
    const uint8_t *cert; /* DER */
    size_t cert_len;
    const uint8_t *sig;
    size_t sig_len;
    const uint8_t *tbs; /* the signed part of the decoded input */
    size_t tbs_len;
};

/* Decodes one object that must fill data exactly. Errors: CORDON_ERR_TRUNCATED (the input
 * ends inside a field, or a length runs past it), CORDON_ERR_TOO_LARGE (a length over its
 * cap), CORDON_ERR_TRAILING (bytes after the signature), CORDON_ERR_MALFORMED (every other
 * rule above), CORDON_ERR_INVAL (out NULL, or data NULL with len != 0). On error *out is
 * unspecified (this implementation leaves it untouched). */
CORDON_MUST_CHECK cordon_err cordon_object_decode(const void *data, size_t len,
                                                  struct cordon_object *out);

/* Encodes the signed part (tbs) of o into out (cap bytes); *len gets its length (and is
 * left alone on failure). CORDON_ERR_INVAL for a field the decoder would refuse (o->overlay
 * must be NUL-terminated inside its array; a pointer may be NULL only with a length of 0),
 * CORDON_ERR_TOO_LARGE when out is too small; o->sig and o->tbs are not read. */
CORDON_MUST_CHECK cordon_err cordon_object_encode_tbs(const struct cordon_object *o, uint8_t *out,
                                                      size_t cap, size_t *len);

/* Encodes the whole object (tbs and o->sig). Same errors. */
CORDON_MUST_CHECK cordon_err cordon_object_encode(const struct cordon_object *o, uint8_t *out,
                                                  size_t cap, size_t *len);

/* The entry key of o (see above). o->kind is trusted: call it on a decoded object. */
void cordon_object_entry_key(const struct cordon_object *o,
                             uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN]);

/* true for a tombstone. */
bool cordon_object_is_tombstone(const struct cordon_object *o);

/* created_at + lifetime, saturating. */
uint64_t cordon_object_expires_at(const struct cordon_object *o);

#endif
