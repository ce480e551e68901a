/*
 * wire/object.c — see object.h. Every byte goes through the bounded reader and writer.
 * The decoder fills a zeroed local and copies it out only when the whole input was
 * accepted; the encoder refuses exactly what the decoder refuses, and the decoder accepts
 * only the one encoding the encoder writes, so bytes -> object -> bytes is the identity
 * (fuzz/fuzz_object.c checks it on every input).
 */
#include "wire/object.h"

#include <string.h>

#include "wire/overlay_doc.h"
#include "wire/reader.h"
#include "wire/writer.h"

_Static_assert(CORDON_OBJECT_NAME_MAX <= UINT8_MAX, "name length is a u8");
_Static_assert(CORDON_SIG_MAX <= UINT8_MAX, "signature length is a u8");
_Static_assert(CORDON_OBJECT_CERT_MAX <= UINT16_MAX, "certificate length is a u16");
_Static_assert(CORDON_OBJECT_VALUE_MAX <= UINT32_MAX, "value length is a u32");
_Static_assert(CORDON_OVERLAY_NAME_MAX <= UINT8_MAX, "overlay length is a u8");
/* The fixed part: version, kind, flags, reserved, the five length prefixes (1+1+4+2+1),
 * resource, writer, seq, created_at, lifetime. CORDON_OBJECT_MAX must hold it. */
#define FIXED_LEN (4 + 9 + 2 * CORDON_NODE_ID_LEN + 8 + 8 + 4)
_Static_assert(FIXED_LEN <= 128, "CORDON_OBJECT_MAX counts 128 bytes of fixed fields");

static bool kind_known(uint8_t kind)
{
    return kind == CORDON_KIND_OWNED || kind == CORDON_KIND_SHARED || kind == CORDON_KIND_CRL;
}

/* The flags a kind may carry. A CRL is never deleted, only superseded by a higher
 * crlNumber, so kind crl has no tombstone. */
static uint8_t kind_flags(uint8_t kind)
{
    return kind == CORDON_KIND_CRL ? 0 : CORDON_OBJECT_FLAG_TOMBSTONE;
}

/* Kind crl has one object per overlay and no name; the others need one. */
static bool name_len_ok(uint8_t kind, size_t n)
{
    if (kind == CORDON_KIND_CRL)
        return n == 0;
    return n >= 1 && n <= CORDON_OBJECT_NAME_MAX;
}

/* ---- decoding ------------------------------------------------------------------------ */

/* A length-prefixed field of min..max bytes, borrowed in place. Over max is TOO_LARGE (from
 * the reader, before the input is consulted); under min is MALFORMED. */
static cordon_err read_field(cordon_reader *r, unsigned prefix, size_t min, size_t max,
                             const uint8_t **p, size_t *n)
{
    cordon_reader sub;
    cordon_err err = cordon_read_sub(r, prefix, max, &sub);
    if (err != CORDON_OK)
        return err;
    if (sub.len < min)
        return CORDON_ERR_MALFORMED;
    *p = sub.data;
    *n = sub.len;
    return CORDON_OK;
}

/* Decodes into d, which the caller has zeroed. */
static cordon_err decode(cordon_reader *r, struct cordon_object *d)
{
    /* Each header field is checked as soon as it is read: another version may lay out the
     * rest differently, so nothing after a wrong version byte means anything. */
    uint8_t version, reserved;
    cordon_err err = cordon_read_u8(r, &version);
    if (err != CORDON_OK)
        return err;
    if (version != CORDON_OBJECT_VERSION)
        return CORDON_ERR_MALFORMED;
    if ((err = cordon_read_u8(r, &d->kind)) != CORDON_OK)
        return err;
    if (!kind_known(d->kind))
        return CORDON_ERR_MALFORMED;
    if ((err = cordon_read_u8(r, &d->flags)) != CORDON_OK)
        return err;
    if ((d->flags & ~kind_flags(d->kind)) != 0)
        return CORDON_ERR_MALFORMED;
    if ((err = cordon_read_u8(r, &reserved)) != CORDON_OK)
        return err;
    if (reserved != 0)
        return CORDON_ERR_MALFORMED;

    /* overlay[] is zeroed and one byte longer than the cap: the NUL is already there. */
    const uint8_t *overlay;
    size_t overlay_len;
    if ((err = read_field(r, 1, 1, CORDON_OVERLAY_NAME_MAX, &overlay, &overlay_len)) != CORDON_OK)
        return err;
    memcpy(d->overlay, overlay, overlay_len);
    /* A NUL inside would end the name early, and it would re-encode shorter. */
    if (strlen(d->overlay) != overlay_len || cordon_overlay_name_check(d->overlay) != CORDON_OK)
        return CORDON_ERR_MALFORMED;

    if ((err = cordon_read_bytes(r, d->resource, sizeof(d->resource))) != CORDON_OK)
        return err;
    if ((err = read_field(r, 1, 0, CORDON_OBJECT_NAME_MAX, &d->name, &d->name_len)) != CORDON_OK)
        return err;
    if (!name_len_ok(d->kind, d->name_len))
        return CORDON_ERR_MALFORMED;
    if ((err = cordon_read_bytes(r, d->writer, sizeof(d->writer))) != CORDON_OK ||
        (err = cordon_read_u64(r, &d->seq)) != CORDON_OK ||
        (err = cordon_read_u64(r, &d->created_at)) != CORDON_OK ||
        (err = cordon_read_u32(r, &d->lifetime)) != CORDON_OK)
        return err;
    /* lifetime is the store's to judge against the overlay's maximum (CORDON_ERR_OBJ_LIFETIME),
     * not a matter of encoding. */
    if ((err = read_field(r, 4, 0, CORDON_OBJECT_VALUE_MAX, &d->value, &d->value_len)) != CORDON_OK)
        return err;
    if (cordon_object_is_tombstone(d) && d->value_len != 0)
        return CORDON_ERR_MALFORMED;
    if ((err = read_field(r, 2, 1, CORDON_OBJECT_CERT_MAX, &d->cert, &d->cert_len)) != CORDON_OK)
        return err;
    d->tbs = r->data;
    d->tbs_len = r->pos;
    if ((err = read_field(r, 1, 1, CORDON_SIG_MAX, &d->sig, &d->sig_len)) != CORDON_OK)
        return err;
    return cordon_reader_end(r);
}

cordon_err cordon_object_decode(const void *data, size_t len, struct cordon_object *out)
{
    if (out == NULL || (data == NULL && len != 0))
        return CORDON_ERR_INVAL;
    struct cordon_object d;
    memset(&d, 0, sizeof(d));
    cordon_reader r;
    cordon_reader_init(&r, data, len);
    cordon_err err = decode(&r, &d);
    if (err == CORDON_OK)
        *out = d;
    return err;
}

/* ---- encoding ------------------------------------------------------------------------ */

/* A field the decoder would hand back: within its bounds, and bytes behind any length. */
static bool field_ok(const uint8_t *p, size_t n, size_t min, size_t max)
{
    return n >= min && n <= max && (p != NULL || n == 0);
}

/* Every rule of the decoder for the signed part, on the struct, before a byte is written. */
static cordon_err check_tbs(const struct cordon_object *o)
{
    if (!kind_known(o->kind) || (o->flags & ~kind_flags(o->kind)) != 0)
        return CORDON_ERR_INVAL;
    /* The overlay must end inside its array (the check reads at most cap + 1 bytes). */
    if (memchr(o->overlay, '\0', sizeof(o->overlay)) == NULL ||
        cordon_overlay_name_check(o->overlay) != CORDON_OK)
        return CORDON_ERR_INVAL;
    if (!name_len_ok(o->kind, o->name_len) || (o->name == NULL && o->name_len != 0))
        return CORDON_ERR_INVAL;
    if (!field_ok(o->value, o->value_len, 0, CORDON_OBJECT_VALUE_MAX) ||
        (cordon_object_is_tombstone(o) && o->value_len != 0))
        return CORDON_ERR_INVAL;
    if (!field_ok(o->cert, o->cert_len, 1, CORDON_OBJECT_CERT_MAX))
        return CORDON_ERR_INVAL;
    return CORDON_OK;
}

static void write_tbs(cordon_writer *w, const struct cordon_object *o)
{
    cordon_write_u8(w, CORDON_OBJECT_VERSION);
    cordon_write_u8(w, o->kind);
    cordon_write_u8(w, o->flags);
    cordon_write_u8(w, 0); /* reserved */
    cordon_write_prefixed(w, 1, o->overlay, strlen(o->overlay));
    cordon_write_bytes(w, o->resource, sizeof(o->resource));
    cordon_write_prefixed(w, 1, o->name, o->name_len);
    cordon_write_bytes(w, o->writer, sizeof(o->writer));
    cordon_write_u64(w, o->seq);
    cordon_write_u64(w, o->created_at);
    cordon_write_u32(w, o->lifetime);
    cordon_write_prefixed(w, 4, o->value, o->value_len);
    cordon_write_prefixed(w, 2, o->cert, o->cert_len);
}

cordon_err cordon_object_encode_tbs(const struct cordon_object *o, uint8_t *out, size_t cap,
                                    size_t *len)
{
    if (o == NULL || len == NULL)
        return CORDON_ERR_INVAL;
    cordon_err err = check_tbs(o);
    if (err != CORDON_OK)
        return err;
    cordon_writer w;
    cordon_writer_init(&w, out, cap);
    write_tbs(&w, o);
    return cordon_writer_finish(&w, len);
}

cordon_err cordon_object_encode(const struct cordon_object *o, uint8_t *out, size_t cap,
                                size_t *len)
{
    if (o == NULL || len == NULL)
        return CORDON_ERR_INVAL;
    cordon_err err = check_tbs(o);
    if (err != CORDON_OK)
        return err;
    if (!field_ok(o->sig, o->sig_len, 1, CORDON_SIG_MAX))
        return CORDON_ERR_INVAL;
    cordon_writer w;
    cordon_writer_init(&w, out, cap);
    write_tbs(&w, o);
    cordon_write_prefixed(&w, 1, o->sig, o->sig_len);
    return cordon_writer_finish(&w, len);
}

/* ---- entries and time ------------------------------------------------------------------ */

void cordon_object_entry_key(const struct cordon_object *o,
                             uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN])
{
    memcpy(key, o->resource, CORDON_NODE_ID_LEN);
    if (o->kind == CORDON_KIND_SHARED)
        memcpy(key + CORDON_NODE_ID_LEN, o->writer, CORDON_NODE_ID_LEN);
    else
        memset(key + CORDON_NODE_ID_LEN, 0, CORDON_NODE_ID_LEN);
}

bool cordon_object_is_tombstone(const struct cordon_object *o)
{
    return (o->flags & CORDON_OBJECT_FLAG_TOMBSTONE) != 0;
}

uint64_t cordon_object_expires_at(const struct cordon_object *o)
{
    uint64_t end = o->created_at + o->lifetime;
    return end < o->created_at ? UINT64_MAX : end;
}
