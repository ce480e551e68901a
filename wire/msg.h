/*
 * wire/msg.h — the overlay's messages, as carried inside DTLS records between peers (and
 * between simulated cores). Byte-by-byte layout in docs/protocol.md, "Overlay messages".
 *
 *   header  u8 version (1) | u8 type | u8 flags | u8 reserved (0) | u32 txid
 *   body    by type:
 *     PING, PONG        empty
 *     FIND_NODE         target[32]
 *     NODES             u8 count (<= CORDON_NODES_MAX), count * contact
 *                       contact = id[32] | u8 family (4 or 6) | addr (4 or 16) | u16 port
 *     ERROR             u16 code | u8 length | text (printable ASCII)
 *   Types 16..31 are reserved for the storage protocol.
 *
 * flags bit 0 marks a response (PONG, NODES, ERROR carry it; requests must not). Other flag
 * bits and the reserved byte must be zero. Decoding is strict: unknown version or type
 * (this codec knows 1..5 only), a body longer or shorter than its type allows, a count over
 * the cap, an address family other than 4 or 6, port 0, or a text over its cap or with a
 * byte outside 0x20..0x7e is refused; nothing is read past the input. Each message has
 * exactly one encoding, so whatever decodes re-encodes to the same bytes.
 */
#ifndef CORDON_WIRE_MSG_H
#define CORDON_WIRE_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/limits.h"

#define CORDON_PROTO_VERSION 1
#define CORDON_MSG_HEADER_LEN 8
#define CORDON_NODES_MAX 32 /* contacts in one NODES answer */
#define CORDON_ERROR_TEXT_MAX 120
#define CORDON_CONTACT_MAX_LEN (CORDON_NODE_ID_LEN + 1 + 16 + 2)
#define CORDON_MSG_MAX (CORDON_MSG_HEADER_LEN + 1 + CORDON_NODES_MAX * CORDON_CONTACT_MAX_LEN)

#define CORDON_MSG_FLAG_RESPONSE 0x01

enum cordon_msg_type {
    CORDON_MSG_PING = 1,
    CORDON_MSG_PONG = 2,
    CORDON_MSG_FIND_NODE = 3,
    CORDON_MSG_NODES = 4,
    CORDON_MSG_ERROR = 5,
};

/* Error codes carried in ERROR answers. */
enum cordon_msg_error {
    CORDON_MSGERR_RATE_LIMITED = 1, /* the sender exceeded a per-node or global budget */
    CORDON_MSGERR_UNSUPPORTED = 2,  /* a request this node does not serve */
    CORDON_MSGERR_INTERNAL = 3,
};

struct cordon_addr {
    uint8_t family; /* 4 or 6 */
    uint8_t ip[16]; /* first 4 bytes for IPv4 */
    uint16_t port;
};

struct cordon_contact {
    uint8_t id[CORDON_NODE_ID_LEN];
    struct cordon_addr addr;
};

struct cordon_msg {
    uint8_t type;
    uint8_t flags;
    uint32_t txid;
    union {
        struct {
            uint8_t target[CORDON_NODE_ID_LEN];
        } find_node;
        struct {
            uint8_t count;
            struct cordon_contact contacts[CORDON_NODES_MAX];
        } nodes;
        struct {
            uint16_t code;
            char text[CORDON_ERROR_TEXT_MAX + 1];
        } error;
    } u;
};

/* Encodes m into out (cap bytes; CORDON_MSG_MAX always suffices) and sets *len.
 * CORDON_ERR_INVAL for m or len NULL, or a message that could not be decoded back: unknown
 * type, flags other than the type's (CORDON_MSG_FLAG_RESPONSE exactly for PONG, NODES and
 * ERROR, 0 otherwise), count over CORDON_NODES_MAX, family not 4 or 6, port 0, an IPv4
 * address with a nonzero byte in ip[4..15], a text not NUL-terminated within its array or
 * with a byte outside 0x20..0x7e. CORDON_ERR_TOO_LARGE when cap is too small. Nothing is
 * written past cap; on failure *len is untouched and out holds no usable message. */
CORDON_MUST_CHECK cordon_err cordon_msg_encode(const struct cordon_msg *m, uint8_t *out, size_t cap,
                                               size_t *len);
/* Decodes exactly len bytes. CORDON_ERR_TRUNCATED, CORDON_ERR_TRAILING,
 * CORDON_ERR_TOO_LARGE (NODES count or ERROR text length over its cap),
 * CORDON_ERR_MALFORMED (anything else), CORDON_ERR_INVAL for m NULL. m is written only on
 * success, and then in full: bytes it does not use (ip[4..15] of an IPv4 address, contacts
 * past count, text after its NUL, the whole union for PING and PONG) are zero. */
CORDON_MUST_CHECK cordon_err cordon_msg_decode(const uint8_t *in, size_t len, struct cordon_msg *m);

#endif
