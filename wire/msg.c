/*
 * wire/msg.c — see msg.h. Every byte goes through the bounded reader and writer. The
 * decoder fills a zeroed local and copies it out only when the whole input was accepted,
 * so a caller never sees half a message and the bytes a message does not use (ip[4..15]
 * of an IPv4 address, text after its NUL, contacts past count) are always zero. The
 * encoder refuses exactly what the decoder refuses, and the decoder accepts only the one
 * encoding the encoder writes, so bytes -> message -> bytes is the identity.
 */
#include "wire/msg.h"

#include <stdbool.h>
#include <string.h>

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

/* The flags byte a type must carry: the response bit for answers, nothing for requests.
 * -1 for a type this codec does not know. */
static int type_flags(uint8_t type)
{
    switch (type) {
    case CORDON_MSG_PING:
    case CORDON_MSG_FIND_NODE:
        return 0;
    case CORDON_MSG_PONG:
    case CORDON_MSG_NODES:
    case CORDON_MSG_ERROR:
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
    default: /* PING, PONG: no body */
        break;
    }
    return cordon_writer_finish(&w, len);
}
