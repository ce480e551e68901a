/*
 * wire/frag.h — records and fragments: how a message travels in DTLS records of at most
 * CORDON_RECORD_MAX bytes, and the per-remote reassembler that puts large messages back
 * together under hard caps. Byte-by-byte layout in docs/protocol.md, "Fragments".
 *
 *   WHOLE     u8 kind (1) | message                          (message <= CORDON_RECORD_PAYLOAD)
 *   FRAGMENT  u8 kind (2) | u32 msg_id | u16 index | u16 count | u32 total | data
 *
 * The layout of a fragmented message is fixed by its total length alone: every fragment
 * but the last carries exactly CORDON_FRAG_DATA_MAX bytes, fragment i sits at offset
 * i * CORDON_FRAG_DATA_MAX, count = ceil(total / CORDON_FRAG_DATA_MAX), and a message that
 * fits a WHOLE record must be sent WHOLE (so total > CORDON_RECORD_PAYLOAD and count >= 2).
 * A receiver therefore checks each fragment on its own (count, index and data length all
 * follow from total) and never deals with overlaps or gaps; each message has exactly one
 * encoding. count is redundant on purpose: a fragment whose count disagrees with its total
 * is refused before any state is touched.
 *
 * msg_id is chosen by the sender, unique per link (a counter is enough); WHOLE records carry
 * none. DTLS already drops replayed records; the reassembler's window of retired ids is
 * defence in depth against duplicates and stragglers from the sender itself.
 *
 * No I/O, no clock (time comes in as now_ms, any monotonic milliseconds), no globals.
 */
#ifndef CORDON_WIRE_FRAG_H
#define CORDON_WIRE_FRAG_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/limits.h"

#define CORDON_FRAG_KIND_WHOLE 1
#define CORDON_FRAG_KIND_FRAGMENT 2
#define CORDON_FRAG_WHOLE_HEADER_LEN 1
#define CORDON_FRAG_HEADER_LEN 13 /* kind, msg_id, index, count, total */
/* The largest message sent as one WHOLE record (1194). */
#define CORDON_RECORD_PAYLOAD (CORDON_RECORD_MAX - CORDON_FRAG_WHOLE_HEADER_LEN)
/* Data bytes in every fragment but the last (1182). */
#define CORDON_FRAG_DATA_MAX (CORDON_RECORD_MAX - CORDON_FRAG_HEADER_LEN)
/* Fragments of the largest message (111). */
#define CORDON_FRAG_COUNT_MAX                                                                      \
    ((CORDON_FRAG_MSG_MAX + CORDON_FRAG_DATA_MAX - 1) / CORDON_FRAG_DATA_MAX)

/* ---- sending --------------------------------------------------------------------------- */

/* Records needed for a message of len bytes: 1 up to CORDON_RECORD_PAYLOAD, else
 * ceil(len / CORDON_FRAG_DATA_MAX); 0 when len exceeds CORDON_FRAG_MSG_MAX. */
size_t cordon_frag_count(size_t len);

/* Encodes record number index (0 .. cordon_frag_count(len) - 1) of the message msg (len
 * bytes; msg may be NULL when len is 0) into out (cap bytes; CORDON_RECORD_MAX always
 * suffices) and sets *out_len. msg_id is ignored when the message goes WHOLE.
 * CORDON_ERR_INVAL for out or out_len NULL, msg NULL with len > 0, or index out of range;
 * CORDON_ERR_TOO_LARGE when len exceeds CORDON_FRAG_MSG_MAX or the record does not fit cap.
 * Nothing is written past cap; on failure *out_len is untouched. */
CORDON_MUST_CHECK cordon_err cordon_frag_encode(const uint8_t *msg, size_t len, uint32_t msg_id,
                                                size_t index, uint8_t *out, size_t cap,
                                                size_t *out_len);

/* Receives each record in turn. rec is borrowed for the duration of the call only. A
 * return other than CORDON_OK stops the split and is passed back to its caller. */
typedef cordon_err (*cordon_frag_emit_fn)(void *ctx, const uint8_t *rec, size_t len);

/* Cuts msg into records (in index order) and hands each to emit, through one stack buffer
 * of CORDON_RECORD_MAX bytes: nothing is allocated. Errors as cordon_frag_encode (emit NULL
 * is CORDON_ERR_INVAL), or the first error emit returns; records already emitted stay
 * emitted. */
CORDON_MUST_CHECK cordon_err cordon_frag_split(const uint8_t *msg, size_t len, uint32_t msg_id,
                                               cordon_frag_emit_fn emit, void *ctx);

/* ---- receiving ------------------------------------------------------------------------- */

/* What happened to every record pushed: each record lands in exactly one of whole,
 * fragments and the drop_* fields, so records == whole + fragments + sum(drop_*).
 * The message-level fields (reassembled, expired, evicted, abandoned) count messages. */
struct cordon_frag_counters {
    uint64_t records;        /* records pushed */
    uint64_t whole;          /* WHOLE records, each delivered at once */
    uint64_t fragments;      /* fragments stored into a reassembly */
    uint64_t reassembled;    /* messages delivered from fragments */
    uint64_t drop_truncated; /* record shorter than its header (CORDON_ERR_TRUNCATED) */
    uint64_t drop_oversize;  /* record longer than CORDON_RECORD_MAX (CORDON_ERR_TOO_LARGE) */
    uint64_t drop_kind;      /* unknown kind byte (CORDON_ERR_MALFORMED) */
    uint64_t drop_too_large; /* declared total over CORDON_FRAG_MSG_MAX, refused before any
                                allocation (CORDON_ERR_TOO_LARGE) */
    uint64_t drop_malformed; /* count, index or data length that do not follow from total,
                                or a total that fits WHOLE (CORDON_ERR_MALFORMED) */
    uint64_t drop_mismatch;  /* total/count differ from the first fragment of that msg_id: the
                                whole message is abandoned (CORDON_ERR_MALFORMED) */
    uint64_t drop_duplicate; /* index already stored, first copy kept (CORDON_ERR_EXISTS) */
    uint64_t drop_replay;    /* msg_id retired: completed or abandoned (CORDON_ERR_EXISTS) */
    uint64_t drop_busy;      /* shared budget full (CORDON_ERR_BUSY) */
    uint64_t drop_nomem;     /* allocation failed (CORDON_ERR_NOMEM) */
    uint64_t expired;        /* messages abandoned after CORDON_FRAG_TIMEOUT_MS */
    uint64_t evicted;        /* messages abandoned to make room for a newer one */
};

/* A byte budget shared by the reassemblers of one peer instance (all its remotes), so that
 * many remotes together cannot hold more than max bytes (CORDON_FRAG_PEER_BUFFERED_MAX is
 * the intended value). Owned by the caller, not thread-safe, and it must outlive every
 * reassembler that borrows it; used is maintained by them. */
struct cordon_frag_budget {
    size_t used;
    size_t max;
};

/* One reassembler per remote (a link keeps one next to its DTLS state). Opaque. */
struct cordon_frag_rx;

/* Creates an empty reassembler. shared may be NULL (no budget beyond the per-remote caps);
 * otherwise it is borrowed for the reassembler's lifetime. CORDON_ERR_INVAL for out NULL,
 * CORDON_ERR_NOMEM. */
CORDON_MUST_CHECK cordon_err cordon_frag_rx_new(struct cordon_frag_budget *shared,
                                                struct cordon_frag_rx **out);

/* Frees everything, returns its bytes to the shared budget. Accepts NULL. */
void cordon_frag_rx_free(struct cordon_frag_rx *rx);

/* Takes one record (len bytes, borrowed for the call) received at now_ms.
 *
 * First any message older than CORDON_FRAG_TIMEOUT_MS (counted from its first fragment, so
 * dribbling fragments cannot extend it) is abandoned, and the message delivered by the
 * previous call is released. Then:
 *   CORDON_OK, *msg != NULL: a complete message of *msg_len bytes (0 is possible). *msg is
 *       borrowed: it points into rec (WHOLE) or into the reassembler (fragments), and is
 *       valid until the next call on rx (push, expire or free) and, for WHOLE, no longer
 *       than rec. Copy it out to keep it.
 *   CORDON_OK, *msg == NULL: a fragment was stored; the message is not complete yet.
 *   an error: the record was dropped and counted (see cordon_frag_counters for which error
 *       goes with which counter); CORDON_ERR_INVAL (nothing counted) for rx, msg or msg_len
 *       NULL or rec NULL with len > 0.
 *
 * A new message needs a free slot (CORDON_FRAG_INFLIGHT_MAX) and its declared total within
 * CORDON_FRAG_BUFFERED_MAX: when either is short, the oldest message being reassembled is
 * evicted (a stalled message is the likeliest to have lost a fragment, and the remote only
 * ever evicts its own messages). Its buffer of total bytes is reserved on its first
 * fragment. With a shared budget, the message is refused (CORDON_ERR_BUSY) when the budget
 * cannot hold it even after this remote's own older messages were evicted.
 * Completed and abandoned msg_ids are retired: the last CORDON_FRAG_RETIRED_MAX of them are
 * remembered, and any later fragment with one of them is dropped as a replay. */
CORDON_MUST_CHECK cordon_err cordon_frag_rx_push(struct cordon_frag_rx *rx, const uint8_t *rec,
                                                 size_t len, uint64_t now_ms, const uint8_t **msg,
                                                 size_t *msg_len);

/* Abandons the messages that are too old at now_ms and releases the last delivered
 * message, for a link's timer when no records arrive. Accepts NULL. */
void cordon_frag_rx_expire(struct cordon_frag_rx *rx, uint64_t now_ms);

/* The earliest time at which cordon_frag_rx_expire has something to abandon, or
 * UINT64_MAX when nothing is being reassembled. */
uint64_t cordon_frag_rx_deadline(const struct cordon_frag_rx *rx);

/* Messages being reassembled (0 .. CORDON_FRAG_INFLIGHT_MAX). */
size_t cordon_frag_rx_inflight(const struct cordon_frag_rx *rx);

/* Bytes the reassembler holds: its own struct plus its message buffers (allocator overhead
 * not counted). Never more than cordon_frag_rx_memory_max(). */
size_t cordon_frag_rx_memory(const struct cordon_frag_rx *rx);
size_t cordon_frag_rx_memory_max(void);

/* Borrowed; valid as long as rx. */
const struct cordon_frag_counters *cordon_frag_rx_counters(const struct cordon_frag_rx *rx);

#endif
