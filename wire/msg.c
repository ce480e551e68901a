/*
 * wire/msg.c — see msg.h. Every byte goes through the bounded reader and writer. The
 * decoder fills a zeroed local and copies it out only when the whole input was accepted,
 * so a caller never sees half a message and the bytes a message does not use (ip[4..15]
 * of an IPv4 address, text after its NUL, contacts past count) are always zero. The
 * encoder refuses exactly what the decoder refuses, and the decoder accepts only the one
 * encoding the encoder writes, so bytes -> message -> bytes is the identity. An object in
 * STORE and OBJECT is only framed here, never decoded: the store judges it.
 */
#include "wire/msg.h"

#include <stdbool.h>
#include <string.h>

#include "wire/frag.h"
#include "wire/reader.h"
#include "wire/writer.h"

#define ADDR4_LEN 4
#define ADDR6_LEN 16
/* The shortest contact (IPv4), for the count check before the loop. */
#define CONTACT_MIN_LEN (CORDON_NODE_ID_LEN + 1 + ADDR4_LEN + 2)

_Static_assert(CORDON_CONTACT_MAX_LEN == CORDON_NODE_ID_LEN + 1 + ADDR6_LEN + 2,
               "CORDON_CONTACT_MAX_LEN must be the size of an IPv6 contact");
_Static_assert(CORDON_NODES_MAX <= UINT8_MAX, "NODES count is a u8");
_Static_assert(CORDON_ERROR_TEXT_MAX <= UINT8_MAX, "ERROR text length is a u8");
_Static_assert(CORDON_SUMMARY_MAX >= 1 && CORDON_SUMMARY_MAX <= UINT8_MAX,
               "SUMMARY and WANT counts are a u8, WANT indexes too");
_Static_assert(CORDON_MSG_HEADER_LEN + 1 + CORDON_SUMMARY_MAX * CORDON_SUMMARY_ENTRY_LEN <=
                   CORDON_RECORD_PAYLOAD,
               "the largest SUMMARY must go as one WHOLE record");
_Static_assert(CORDON_MSG_HEADER_LEN + 1 + CORDON_SUMMARY_MAX * CORDON_SUMMARY_ENTRY_LEN <=
                   CORDON_MSG_MAX,
               "CORDON_MSG_MAX must hold every message without an object");
_Static_assert(CORDON_OBJECT_MAX <= UINT32_MAX, "object length is a u32");
_Static_assert(CORDON_MSG_STORAGE_MAX <= CORDON_FRAG_MSG_MAX,
               "the largest message must fit the reassembler");

/* The one table behind cordon_msg_store_code() and cordon_msg_store_err(), so the two
 * cannot disagree: each refusal of the store's acceptance and its wire code. */
static const struct {
    cordon_err err;
    uint16_t code;
} stored_codes[] = {
    {CORDON_OK, CORDON_STORED_ACCEPTED},
    {CORDON_ERR_MALFORMED, CORDON_STORED_MALFORMED},
    {CORDON_ERR_TRUNCATED, CORDON_STORED_TRUNCATED},
    {CORDON_ERR_TRAILING, CORDON_STORED_TRAILING},
    {CORDON_ERR_TOO_LARGE, CORDON_STORED_TOO_LARGE},
    {CORDON_ERR_OBJ_LIFETIME, CORDON_STORED_LIFETIME},
    {CORDON_ERR_OBJ_FUTURE, CORDON_STORED_FUTURE},
    {CORDON_ERR_OBJ_EXPIRED, CORDON_STORED_EXPIRED},
    {CORDON_ERR_OBJ_NOT_ALLOWED, CORDON_STORED_NOT_ALLOWED},
    {CORDON_ERR_CERT_UNTRUSTED, CORDON_STORED_CERT_UNTRUSTED},
    {CORDON_ERR_CERT_EXPIRED, CORDON_STORED_CERT_EXPIRED},
    {CORDON_ERR_CERT_NOT_YET_VALID, CORDON_STORED_CERT_NOT_YET_VALID},
    {CORDON_ERR_CERT_REVOKED, CORDON_STORED_CERT_REVOKED},
    {CORDON_ERR_CERT_NODE_ID, CORDON_STORED_CERT_NODE_ID},
    {CORDON_ERR_KEY_TYPE, CORDON_STORED_KEY_TYPE},
    {CORDON_ERR_BAD_SIGNATURE, CORDON_STORED_BAD_SIGNATURE},
    {CORDON_ERR_CRL, CORDON_STORED_CRL},
    {CORDON_ERR_OBJ_STALE, CORDON_STORED_STALE},
    {CORDON_ERR_OBJ_QUOTA, CORDON_STORED_QUOTA},
    {CORDON_ERR_OBJ_CAPACITY, CORDON_STORED_CAPACITY},
};

/* The flags byte a type must carry: the response bit for answers, nothing for requests.
 * -1 for a type this codec does not know. */
static int type_flags(uint8_t type)
{
    switch (type) {
    case CORDON_MSG_PING:
    case CORDON_MSG_FIND_NODE:
    case CORDON_MSG_STORE:
    case CORDON_MSG_FETCH:
    case CORDON_MSG_SUMMARY:
        return 0;
    case CORDON_MSG_PONG:
    case CORDON_MSG_NODES:
    case CORDON_MSG_ERROR:
    case CORDON_MSG_STORED:
    case CORDON_MSG_OBJECT:
    case CORDON_MSG_WANT:
        return CORDON_MSG_FLAG_RESPONSE;
    default:
        return -1;
    }
}

/* Address bytes on the wire for a family; 0 for a family that is not 4 or 6. */
static size_t addr_len(uint8_t family)
{
    switch (family) {
    case 4:
        return ADDR4_LEN;
    case 6:
        return ADDR6_LEN;
    default:
        return 0;
    }
}

/* Printable ASCII only: the text ends up in logs, where control bytes could forge lines
 * or drive a terminal. */
static bool text_char_ok(unsigned char c)
{
    return c >= 0x20 && c <= 0x7e;
}

/* ---- decoding ------------------------------------------------------------------------ */

static cordon_err decode_contact(cordon_reader *r, struct cordon_contact *c)
{
    cordon_err err = cordon_read_bytes(r, c->id, sizeof(c->id));
    if (err != CORDON_OK)
        return err;
    if ((err = cordon_read_u8(r, &c->addr.family)) != CORDON_OK)
        return err;
    size_t n = addr_len(c->addr.family);
    if (n == 0)
        return CORDON_ERR_MALFORMED;
    /* The rest of ip[] stays as the caller zeroed it. */
    if ((err = cordon_read_bytes(r, c->addr.ip, n)) != CORDON_OK)
        return err;
    if ((err = cordon_read_u16(r, &c->addr.port)) != CORDON_OK)
        return err;
    if (c->addr.port == 0)
        return CORDON_ERR_MALFORMED;
    return CORDON_OK;
}

static cordon_err decode_nodes(cordon_reader *r, struct cordon_msg *d)
{
    uint8_t count;
    cordon_err err = cordon_read_u8(r, &count);
    if (err != CORDON_OK)
        return err;
    if (count > CORDON_NODES_MAX)
        return CORDON_ERR_TOO_LARGE;
    /* A count the input cannot hold is refused before any contact is decoded. */
    if ((size_t)count * CONTACT_MIN_LEN > cordon_reader_left(r))
        return CORDON_ERR_TRUNCATED;
    for (unsigned i = 0; i < count; i++) {
        if ((err = decode_contact(r, &d->u.nodes.contacts[i])) != CORDON_OK)
            return err;
    }
    d->u.nodes.count = count;
    return CORDON_OK;
}

static cordon_err decode_error(cordon_reader *r, struct cordon_msg *d)
{
    cordon_err err = cordon_read_u16(r, &d->u.error.code);
    if (err != CORDON_OK)
        return err;
    cordon_reader text;
    if ((err = cordon_read_sub(r, 1, CORDON_ERROR_TEXT_MAX, &text)) != CORDON_OK)
        return err;
    size_t n = cordon_reader_left(&text);
    /* text[] is zeroed and one byte longer than the cap: the NUL is already there. */
    if ((err = cordon_read_bytes(&text, d->u.error.text, n)) != CORDON_OK)
        return err;
    for (size_t i = 0; i < n; i++) {
        if (!text_char_ok((unsigned char)d->u.error.text[i]))
            return CORDON_ERR_MALFORMED;
    }
    /* Unknown codes pass: a newer peer may send codes this one does not know. */
    return CORDON_OK;
}

/* u32 length | object: framed and capped, borrowed in place, not decoded. */
static cordon_err decode_object(cordon_reader *r, const uint8_t **object, size_t *len)
{
    cordon_reader sub;
    cordon_err err = cordon_read_sub(r, 4, CORDON_OBJECT_MAX, &sub);
    if (err != CORDON_OK)
        return err;
    if (sub.len == 0)
        return CORDON_ERR_MALFORMED;
    *len = sub.len;
    return cordon_read_view(&sub, sub.len, object);
}

static cordon_err decode_found(cordon_reader *r, struct cordon_msg *d)
{
    uint8_t found;
    cordon_err err = cordon_read_u8(r, &found);
    if (err != CORDON_OK)
        return err;
    if (found > 1)
        return CORDON_ERR_MALFORMED;
    d->u.object.found = found == 1;
    if (!d->u.object.found)
        return CORDON_OK; /* the view stays NULL, 0 */
    return decode_object(r, &d->u.object.object, &d->u.object.len);
}

static cordon_err decode_stored(cordon_reader *r, struct cordon_msg *d)
{
    /* Unknown codes pass, as in ERROR: a newer replica may refuse for a reason this one
     * does not know, and its answer is still an answer (cordon_msg_store_err). */
    cordon_err err = cordon_read_u16(r, &d->u.stored.code);
    if (err != CORDON_OK)
        return err;
    return cordon_read_u64(r, &d->u.stored.seq);
}

static cordon_err decode_summary(cordon_reader *r, struct cordon_msg *d)
{
    uint8_t count;
    cordon_err err = cordon_read_u8(r, &count);
    if (err != CORDON_OK)
        return err;
    if (count > CORDON_SUMMARY_MAX)
        return CORDON_ERR_TOO_LARGE;
    if (count == 0)
        return CORDON_ERR_MALFORMED;
    if ((size_t)count * CORDON_SUMMARY_ENTRY_LEN > cordon_reader_left(r))
        return CORDON_ERR_TRUNCATED;
    for (unsigned i = 0; i < count; i++) {
        struct cordon_summary_entry *e = &d->u.summary.entries[i];
        if ((err = cordon_read_bytes(r, e->key, sizeof(e->key))) != CORDON_OK)
            return err;
        if ((err = cordon_read_u64(r, &e->seq)) != CORDON_OK)
            return err;
        if (i > 0 && memcmp(d->u.summary.entries[i - 1].key, e->key, sizeof(e->key)) >= 0)
            return CORDON_ERR_MALFORMED;
    }
    d->u.summary.count = count;
    return CORDON_OK;
}

static cordon_err decode_want(cordon_reader *r, struct cordon_msg *d)
{
    uint8_t count;
    cordon_err err = cordon_read_u8(r, &count);
    if (err != CORDON_OK)
        return err;
    if (count > CORDON_SUMMARY_MAX)
        return CORDON_ERR_TOO_LARGE;
    if (count > cordon_reader_left(r))
        return CORDON_ERR_TRUNCATED;
    uint8_t *index = d->u.want.index;
    for (unsigned i = 0; i < count; i++) {
        if ((err = cordon_read_u8(r, &index[i])) != CORDON_OK)
            return err;
        /* Increasing: one encoding per set of entries, each named once. */
        if (index[i] >= CORDON_SUMMARY_MAX || (i > 0 && index[i] <= index[i - 1]))
            return CORDON_ERR_MALFORMED;
    }
    d->u.want.count = count;
    return CORDON_OK;
}

/* Decodes into d, which the caller has zeroed. */
static cordon_err decode(cordon_reader *r, struct cordon_msg *d)
{
    /* Each header field is checked as soon as it is read: a later version may lay out the
     * rest differently, so nothing after a wrong version byte means anything. */
    uint8_t version, reserved;
    cordon_err err = cordon_read_u8(r, &version);
    if (err != CORDON_OK)
        return err;
    if (version != CORDON_PROTO_VERSION)
        return CORDON_ERR_MALFORMED;
    if ((err = cordon_read_u8(r, &d->type)) != CORDON_OK)
        return err;
    int want_flags = type_flags(d->type);
    if (want_flags < 0)
        return CORDON_ERR_MALFORMED;
    if ((err = cordon_read_u8(r, &d->flags)) != CORDON_OK)
        return err;
    if (d->flags != want_flags)
        return CORDON_ERR_MALFORMED;
    if ((err = cordon_read_u8(r, &reserved)) != CORDON_OK)
        return err;
    if (reserved != 0)
        return CORDON_ERR_MALFORMED;
    if ((err = cordon_read_u32(r, &d->txid)) != CORDON_OK)
        return err;

    switch (d->type) {
    case CORDON_MSG_FIND_NODE:
        err = cordon_read_bytes(r, d->u.find_node.target, sizeof(d->u.find_node.target));
        break;
    case CORDON_MSG_NODES:
        err = decode_nodes(r, d);
        break;
    case CORDON_MSG_ERROR:
        err = decode_error(r, d);
        break;
    case CORDON_MSG_STORE:
        err = decode_object(r, &d->u.store.object, &d->u.store.len);
        break;
    case CORDON_MSG_STORED:
        err = decode_stored(r, d);
        break;
    case CORDON_MSG_FETCH:
        err = cordon_read_bytes(r, d->u.fetch.key, sizeof(d->u.fetch.key));
        break;
    case CORDON_MSG_OBJECT:
        err = decode_found(r, d);
        break;
    case CORDON_MSG_SUMMARY:
        err = decode_summary(r, d);
        break;
    case CORDON_MSG_WANT:
        err = decode_want(r, d);
        break;
    default: /* PING, PONG: no body */
        break;
    }
    if (err != CORDON_OK)
        return err;
    return cordon_reader_end(r);
}

cordon_err cordon_msg_decode(const uint8_t *in, size_t len, struct cordon_msg *m)
{
    if (m == NULL)
        return CORDON_ERR_INVAL;
    struct cordon_msg d;
    memset(&d, 0, sizeof(d));
    cordon_reader r;
    cordon_reader_init(&r, in, len);
    cordon_err err = decode(&r, &d);
    if (err == CORDON_OK)
        *m = d;
    return err;
}

/* ---- encoding ------------------------------------------------------------------------ */

static cordon_err check_contact(const struct cordon_contact *c)
{
    size_t n = addr_len(c->addr.family);
    if (n == 0 || c->addr.port == 0)
        return CORDON_ERR_INVAL;
    /* The decoder hands these bytes back as zero; anything else would not round-trip. */
    for (size_t i = n; i < sizeof(c->addr.ip); i++) {
        if (c->addr.ip[i] != 0)
            return CORDON_ERR_INVAL;
    }
    return CORDON_OK;
}

/* The length of the error text, or CORDON_ERR_INVAL for a text that is not NUL-terminated
 * inside its array or holds a byte the decoder refuses. */
static cordon_err check_text(const char *text, size_t size, size_t *len)
{
    const char *nul = memchr(text, '\0', size);
    if (nul == NULL)
        return CORDON_ERR_INVAL;
    size_t n = (size_t)(nul - text);
    for (size_t i = 0; i < n; i++) {
        if (!text_char_ok((unsigned char)text[i]))
            return CORDON_ERR_INVAL;
    }
    *len = n;
    return CORDON_OK;
}

static cordon_err check_object(const uint8_t *object, size_t len)
{
    if (object == NULL || len == 0 || len > CORDON_OBJECT_MAX)
        return CORDON_ERR_INVAL;
    return CORDON_OK;
}

static cordon_err check_summary(const struct cordon_msg *m)
{
    if (m->u.summary.count == 0 || m->u.summary.count > CORDON_SUMMARY_MAX)
        return CORDON_ERR_INVAL;
    for (unsigned i = 1; i < m->u.summary.count; i++) {
        if (memcmp(m->u.summary.entries[i - 1].key, m->u.summary.entries[i].key,
                   CORDON_OBJECT_ENTRY_KEY_LEN) >= 0)
            return CORDON_ERR_INVAL;
    }
    return CORDON_OK;
}

static cordon_err check_want(const struct cordon_msg *m)
{
    if (m->u.want.count > CORDON_SUMMARY_MAX)
        return CORDON_ERR_INVAL;
    for (unsigned i = 0; i < m->u.want.count; i++) {
        uint8_t idx = m->u.want.index[i];
        if (idx >= CORDON_SUMMARY_MAX || (i > 0 && idx <= m->u.want.index[i - 1]))
            return CORDON_ERR_INVAL;
    }
    return CORDON_OK;
}

/* Every rule of the decoder, on the struct, before a byte is written. */
static cordon_err check(const struct cordon_msg *m, size_t *text_len)
{
    int want_flags = type_flags(m->type);
    if (want_flags < 0 || m->flags != want_flags)
        return CORDON_ERR_INVAL;
    switch (m->type) {
    case CORDON_MSG_NODES:
        if (m->u.nodes.count > CORDON_NODES_MAX)
            return CORDON_ERR_INVAL;
        for (unsigned i = 0; i < m->u.nodes.count; i++) {
            cordon_err err = check_contact(&m->u.nodes.contacts[i]);
            if (err != CORDON_OK)
                return err;
        }
        return CORDON_OK;
    case CORDON_MSG_ERROR:
        return check_text(m->u.error.text, sizeof(m->u.error.text), text_len);
    case CORDON_MSG_STORE:
        return check_object(m->u.store.object, m->u.store.len);
    case CORDON_MSG_OBJECT:
        if (m->u.object.found)
            return check_object(m->u.object.object, m->u.object.len);
        /* The decoder hands back NULL, 0: a view here is a caller that forgot found. */
        if (m->u.object.object != NULL || m->u.object.len != 0)
            return CORDON_ERR_INVAL;
        return CORDON_OK;
    case CORDON_MSG_SUMMARY:
        return check_summary(m);
    case CORDON_MSG_WANT:
        return check_want(m);
    default:
        return CORDON_OK;
    }
}

cordon_err cordon_msg_encode(const struct cordon_msg *m, uint8_t *out, size_t cap, size_t *len)
{
    if (m == NULL || len == NULL)
        return CORDON_ERR_INVAL;
    size_t text_len = 0;
    cordon_err err = check(m, &text_len);
    if (err != CORDON_OK)
        return err;

    cordon_writer w;
    cordon_writer_init(&w, out, cap);
    cordon_write_u8(&w, CORDON_PROTO_VERSION);
    cordon_write_u8(&w, m->type);
    cordon_write_u8(&w, m->flags);
    cordon_write_u8(&w, 0); /* reserved */
    cordon_write_u32(&w, m->txid);
    switch (m->type) {
    case CORDON_MSG_FIND_NODE:
        cordon_write_bytes(&w, m->u.find_node.target, sizeof(m->u.find_node.target));
        break;
    case CORDON_MSG_NODES:
        cordon_write_u8(&w, m->u.nodes.count);
        for (unsigned i = 0; i < m->u.nodes.count; i++) {
            const struct cordon_contact *c = &m->u.nodes.contacts[i];
            cordon_write_bytes(&w, c->id, sizeof(c->id));
            cordon_write_u8(&w, c->addr.family);
            cordon_write_bytes(&w, c->addr.ip, addr_len(c->addr.family));
            cordon_write_u16(&w, c->addr.port);
        }
        break;
    case CORDON_MSG_ERROR:
        cordon_write_u16(&w, m->u.error.code);
        cordon_write_prefixed(&w, 1, m->u.error.text, text_len);
        break;
    case CORDON_MSG_STORE:
        cordon_write_prefixed(&w, 4, m->u.store.object, m->u.store.len);
        break;
    case CORDON_MSG_STORED:
        cordon_write_u16(&w, m->u.stored.code);
        cordon_write_u64(&w, m->u.stored.seq);
        break;
    case CORDON_MSG_FETCH:
        cordon_write_bytes(&w, m->u.fetch.key, sizeof(m->u.fetch.key));
        break;
    case CORDON_MSG_OBJECT:
        cordon_write_u8(&w, m->u.object.found ? 1 : 0);
        if (m->u.object.found)
            cordon_write_prefixed(&w, 4, m->u.object.object, m->u.object.len);
        break;
    case CORDON_MSG_SUMMARY:
        cordon_write_u8(&w, m->u.summary.count);
        for (unsigned i = 0; i < m->u.summary.count; i++) {
            const struct cordon_summary_entry *e = &m->u.summary.entries[i];
            cordon_write_bytes(&w, e->key, sizeof(e->key));
            cordon_write_u64(&w, e->seq);
        }
        break;
    case CORDON_MSG_WANT:
        cordon_write_u8(&w, m->u.want.count);
        cordon_write_bytes(&w, m->u.want.index, m->u.want.count);
        break;
    default: /* PING, PONG: no body */
        break;
    }
    return cordon_writer_finish(&w, len);
}

/* ---- STORED codes --------------------------------------------------------------------- */

uint16_t cordon_msg_store_code(cordon_err err)
{
    for (size_t i = 0; i < sizeof(stored_codes) / sizeof(stored_codes[0]); i++) {
        if (stored_codes[i].err == err)
            return stored_codes[i].code;
    }
    return CORDON_STORED_INTERNAL;
}

cordon_err cordon_msg_store_err(uint16_t code)
{
    for (size_t i = 0; i < sizeof(stored_codes) / sizeof(stored_codes[0]); i++) {
        if (stored_codes[i].code == code)
            return stored_codes[i].err;
    }
    return CORDON_ERR_REFUSED; /* CORDON_STORED_INTERNAL, or a code from a newer replica */
}
