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
 *   the storage protocol (types 16..31; 22..31 still unused):
 *     STORE (16)        u32 length (1..CORDON_OBJECT_MAX) | object (wire/object.h)
 *     STORED (17)       u16 code (enum cordon_msg_stored_code) | u64 seq
 *     FETCH (18)        entry key[64] (resource ID || entry writer, wire/object.h)
 *     OBJECT (19)       u8 found (0 or 1) | when 1: u32 length (1..CORDON_OBJECT_MAX) | object
 *     SUMMARY (20)      u8 count (1..CORDON_SUMMARY_MAX) | count * (entry key[64] | u64 seq),
 *                       keys strictly increasing (memcmp order)
 *     WANT (21)         u8 count (0..CORDON_SUMMARY_MAX) | count * u8 index, strictly
 *                       increasing, each < CORDON_SUMMARY_MAX
 *
 * flags bit 0 marks a response (PONG, NODES, ERROR, STORED, OBJECT, WANT carry it; requests
 * must not). Other flag bits and the reserved byte must be zero. Decoding is strict: unknown
 * version or type (this codec knows 1..5 and 16..21 only), a body longer or shorter than its
 * type allows, a count or an object length over its cap, an address family other than 4 or
 * 6, port 0, a text over its cap or with a byte outside 0x20..0x7e, an object length of 0,
 * a found byte other than 0 or 1, an empty SUMMARY or one whose keys do not strictly
 * increase, a WANT index not above the one before it or not below CORDON_SUMMARY_MAX is
 * refused; nothing is read past the input. Each message has exactly one encoding, so
 * whatever decodes re-encodes to the same bytes.
 *
 * Why the storage messages look as they do:
 *   - STORE and OBJECT carry an object as its encoded bytes and the decoded message only
 *     borrows them (a pointer into the input): the store decodes and verifies an object in
 *     one place (cordon_store_put, cordon_store_check), so the codec checks only the framing
 *     and the cap, and struct cordon_msg does not grow by 68 KB. The u32 length repeats
 *     what the message length says; it is checked both ways (TRUNCATED, TRAILING) and keeps
 *     the object's framing the same in both messages. No object is empty: length 0 is
 *     refused.
 *   - STORED answers every STORE, accepted or not, with the refusal as a wire code that
 *     maps 1:1 onto the store's refusal errors (cordon_msg_store_code/_err), so a writer
 *     can tell its user exactly why a replica refused. seq is what the replica holds for the
 *     entry after the request (0 if nothing): a writer refused as stale learns the seq to
 *     beat. Codes this codec does not know decode (a newer replica may refuse for a reason
 *     this one does not know; dropping its answer would turn a refusal into a timeout) and
 *     map to CORDON_ERR_REFUSED, as INTERNAL does.
 *   - FETCH names one entry (an owned or crl object: resource ID || 32 zero bytes; a shared
 *     dictionary's entry: resource ID || its writer). OBJECT answers found = 0 when the
 *     replica holds none (or only an expired one); a tombstone is an object (found = 1).
 *   - SUMMARY lists entries a replica holds with their seq; WANT answers with the indexes of
 *     the entries the receiver lacks or holds at a lower seq, and the summary's sender then
 *     STOREs those. CORDON_SUMMARY_MAX = 16 makes the largest SUMMARY 8 + 1 + 16 * 72 =
 *     1161 bytes: one WHOLE record (CORDON_RECORD_PAYLOAD, 1194; also within one fragment's
 *     1182 data bytes), so maintenance, which sends summaries all the time, never costs a
 *     reassembly slot and buffer at the receiver. Keys strictly increase (the order
 *     cordon_store_scan visits them), so a summary names each entry once and an index in
 *     WANT means one entry. WANT uses a list of u8 indexes rather than a bitmap so that a
 *     larger cap (up to 255) would not change its layout. The codec cannot know which
 *     SUMMARY a WANT answers: it checks index < CORDON_SUMMARY_MAX; the requester must check
 *     index < the count of the SUMMARY it sent.
 */
#ifndef CORDON_WIRE_MSG_H
#define CORDON_WIRE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/limits.h"
#include "wire/object.h"

#define CORDON_PROTO_VERSION 1
#define CORDON_MSG_HEADER_LEN 8
#define CORDON_NODES_MAX 32 /* contacts in one NODES answer */
#define CORDON_ERROR_TEXT_MAX 120
#define CORDON_CONTACT_MAX_LEN (CORDON_NODE_ID_LEN + 1 + 16 + 2)
#define CORDON_SUMMARY_MAX 16 /* entries in one SUMMARY: it fits one WHOLE record (see above) */
#define CORDON_SUMMARY_ENTRY_LEN (CORDON_OBJECT_ENTRY_KEY_LEN + 8) /* key | u64 seq */
/* The largest message that carries no object (NODES with 32 IPv6 contacts, 1641 bytes):
 * every type but STORE and OBJECT fits it, so the routing code's stack buffers stay small. */
#define CORDON_MSG_MAX (CORDON_MSG_HEADER_LEN + 1 + CORDON_NODES_MAX * CORDON_CONTACT_MAX_LEN)
/* The largest message of any type: an OBJECT carrying a CORDON_OBJECT_MAX-byte object (68123
 * bytes; a STORE is one byte shorter). Allocate it, do not put it on a stack. */
#define CORDON_MSG_STORAGE_MAX (CORDON_MSG_HEADER_LEN + 1 + 4 + CORDON_OBJECT_MAX)

#define CORDON_MSG_FLAG_RESPONSE 0x01

enum cordon_msg_type {
    CORDON_MSG_PING = 1,
    CORDON_MSG_PONG = 2,
    CORDON_MSG_FIND_NODE = 3,
    CORDON_MSG_NODES = 4,
    CORDON_MSG_ERROR = 5,
    CORDON_MSG_STORE = 16,   /* request: store this object */
    CORDON_MSG_STORED = 17,  /* answers STORE */
    CORDON_MSG_FETCH = 18,   /* request: the object of this entry */
    CORDON_MSG_OBJECT = 19,  /* answers FETCH */
    CORDON_MSG_SUMMARY = 20, /* request: these are the entries I hold */
    CORDON_MSG_WANT = 21,    /* answers SUMMARY: these I lack or hold older */
};

/* Error codes carried in ERROR answers. */
enum cordon_msg_error {
    CORDON_MSGERR_RATE_LIMITED = 1, /* the sender exceeded a per-node or global budget */
    CORDON_MSGERR_UNSUPPORTED = 2,  /* a request this node does not serve */
    CORDON_MSGERR_INTERNAL = 3,
};

/* Codes carried in STORED answers: 0 for an accepted object, else why the replica refused
 * it. Each refusal is one cordon_err of the store's acceptance (store/store.h), named in the
 * comment; the values are the wire's and never change (cordon_err values are not sent). */
enum cordon_msg_stored_code {
    CORDON_STORED_ACCEPTED = 0,            /* CORDON_OK: stored (seq is the object's) */
    CORDON_STORED_INTERNAL = 1,            /* the replica failed (its database, memory...) */
    CORDON_STORED_MALFORMED = 2,           /* CORDON_ERR_MALFORMED */
    CORDON_STORED_TRUNCATED = 3,           /* CORDON_ERR_TRUNCATED */
    CORDON_STORED_TRAILING = 4,            /* CORDON_ERR_TRAILING */
    CORDON_STORED_TOO_LARGE = 5,           /* CORDON_ERR_TOO_LARGE */
    CORDON_STORED_LIFETIME = 6,            /* CORDON_ERR_OBJ_LIFETIME */
    CORDON_STORED_FUTURE = 7,              /* CORDON_ERR_OBJ_FUTURE */
    CORDON_STORED_EXPIRED = 8,             /* CORDON_ERR_OBJ_EXPIRED */
    CORDON_STORED_NOT_ALLOWED = 9,         /* CORDON_ERR_OBJ_NOT_ALLOWED */
    CORDON_STORED_CERT_UNTRUSTED = 10,     /* CORDON_ERR_CERT_UNTRUSTED */
    CORDON_STORED_CERT_EXPIRED = 11,       /* CORDON_ERR_CERT_EXPIRED */
    CORDON_STORED_CERT_NOT_YET_VALID = 12, /* CORDON_ERR_CERT_NOT_YET_VALID */
    CORDON_STORED_CERT_REVOKED = 13,       /* CORDON_ERR_CERT_REVOKED */
    CORDON_STORED_CERT_NODE_ID = 14,       /* CORDON_ERR_CERT_NODE_ID */
    CORDON_STORED_KEY_TYPE = 15,           /* CORDON_ERR_KEY_TYPE */
    CORDON_STORED_BAD_SIGNATURE = 16,      /* CORDON_ERR_BAD_SIGNATURE */
    CORDON_STORED_CRL = 17,                /* CORDON_ERR_CRL */
    CORDON_STORED_STALE = 18,              /* CORDON_ERR_OBJ_STALE */
    CORDON_STORED_QUOTA = 19,              /* CORDON_ERR_OBJ_QUOTA */
    CORDON_STORED_CAPACITY = 20,           /* CORDON_ERR_OBJ_CAPACITY */
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

struct cordon_summary_entry {
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    uint64_t seq;
};

/* A decoded message. The object of STORE and OBJECT is borrowed: after cordon_msg_decode()
 * it points into the decoded input and lives as long as those bytes (copy it out, or hand
 * it to the store, before the input goes); for cordon_msg_encode() it is the caller's. */
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
        struct {
            const uint8_t *object; /* borrowed, len bytes (1..CORDON_OBJECT_MAX) */
            size_t len;
        } store;
        struct {
            uint16_t code; /* enum cordon_msg_stored_code, or one this codec does not know */
            uint64_t seq;
        } stored;
        struct {
            uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
        } fetch;
        struct {
            bool found;
            const uint8_t *object; /* when found: borrowed, len bytes; else NULL and 0 */
            size_t len;
        } object;
        struct {
            uint8_t count;
            struct cordon_summary_entry entries[CORDON_SUMMARY_MAX];
        } summary;
        struct {
            uint8_t count;
            uint8_t index[CORDON_SUMMARY_MAX];
        } want;
    } u;
};

/* Encodes m into out (cap bytes; CORDON_MSG_MAX suffices for every type but STORE and
 * OBJECT, CORDON_MSG_STORAGE_MAX for every type) and sets *len.
 * CORDON_ERR_INVAL for m or len NULL, or a message that could not be decoded back: unknown
 * type, flags other than the type's (CORDON_MSG_FLAG_RESPONSE exactly for PONG, NODES,
 * ERROR, STORED, OBJECT and WANT, 0 otherwise), count over CORDON_NODES_MAX, family not 4
 * or 6, port 0, an IPv4 address with a nonzero byte in ip[4..15], a text not NUL-terminated
 * within its array or with a byte outside 0x20..0x7e, an object (STORE, or OBJECT with
 * found) NULL or of a length not in 1..CORDON_OBJECT_MAX, an OBJECT without found whose
 * object is not NULL and 0 long, a SUMMARY count not in 1..CORDON_SUMMARY_MAX or keys that
 * do not strictly increase, a WANT count over CORDON_SUMMARY_MAX or indexes that do not
 * strictly increase or reach CORDON_SUMMARY_MAX. Entries past count are not part of the
 * message and are not looked at. Any STORED code encodes. CORDON_ERR_TOO_LARGE when cap is
 * too small. Nothing is written past cap; on failure *len is untouched and out holds no
 * usable message. */
CORDON_MUST_CHECK cordon_err cordon_msg_encode(const struct cordon_msg *m, uint8_t *out, size_t cap,
                                               size_t *len);
/* Decodes exactly len bytes. CORDON_ERR_TRUNCATED, CORDON_ERR_TRAILING,
 * CORDON_ERR_TOO_LARGE (a NODES, SUMMARY or WANT count, an ERROR text length or an object
 * length over its cap, whether or not the bytes follow), CORDON_ERR_MALFORMED (anything
 * else), CORDON_ERR_INVAL for m NULL. m is written only on success, and then in full: bytes
 * it does not use (ip[4..15] of an IPv4 address, contacts, entries and indexes past count,
 * text after its NUL, the whole union for PING and PONG, the object view of an OBJECT not
 * found) are zero. The object views of STORE and OBJECT point into in. */
CORDON_MUST_CHECK cordon_err cordon_msg_decode(const uint8_t *in, size_t len, struct cordon_msg *m);

/* The STORED code for a result of the store's acceptance (cordon_store_put): 0 for
 * CORDON_OK, the code of each refusal listed in enum cordon_msg_stored_code, and
 * CORDON_STORED_INTERNAL for every other error (the replica's failure, not the object's:
 * CORDON_ERR_DB, _NOMEM, _INVAL...). Pure. */
uint16_t cordon_msg_store_code(cordon_err err);

/* The error a writer reports for a STORED code: CORDON_OK for 0, the refusal's own
 * cordon_err for each refusal code (so cordon_msg_store_err(cordon_msg_store_code(e)) == e
 * for every refusal e), and CORDON_ERR_REFUSED for CORDON_STORED_INTERNAL and for any code
 * this codec does not know (a newer replica's; keep the code itself to show the user).
 * Pure. */
CORDON_MUST_CHECK cordon_err cordon_msg_store_err(uint16_t code);

#endif
