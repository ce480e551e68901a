/*
 * fuzz/fuzz_frag.c — libFuzzer target for the fragment reassembler (wire/frag.h): an
 * arbitrary sequence of records from one remote, as a link would push them.
 *
 * Input: repeated  u16 advance_ms | u16 length | length bytes  (big-endian; a length past
 * the end of the input is cut to what is left). The clock starts at 0 and moves forward by
 * advance_ms before each record, so timeouts are reached.
 *
 * The same sequence goes into two reassemblers: one alone, and one behind a shared budget
 * of FUZZ_BUDGET bytes (smaller than the largest message, so CORDON_ERR_BUSY is reached).
 *
 * Reaches, on every input:
 *   cordon_frag_rx_new, cordon_frag_rx_push and through it cordon_reader_init,
 *   cordon_read_u8, _u16, _u32, cordon_read_view, cordon_frag_count; every drop path,
 *   eviction, expiry and the retired-id window; cordon_frag_rx_expire,
 *   cordon_frag_rx_deadline, cordon_frag_rx_inflight, cordon_frag_rx_memory,
 *   cordon_frag_rx_counters, cordon_frag_rx_free.
 *
 * Oracles (abort() on failure, so a crash names the input):
 *   - every push returns an error a record can cause (never CORDON_ERR_NOMEM or _INVAL);
 *   - a delivered message is at most CORDON_FRAG_MSG_MAX bytes; a WHOLE one is the record
 *     minus its kind byte, in place; a reassembled one is exactly the total declared by the
 *     fragment that completed it, and each of its CORDON_FRAG_DATA_MAX-byte slices equals
 *     the data of the last fragment the reassembler accepted for that id and index (so its
 *     bytes all came from the input, from the right fragments);
 *   - memory never exceeds cordon_frag_rx_memory_max(), in-flight messages never exceed
 *     CORDON_FRAG_INFLIGHT_MAX, the shared budget's used never exceeds its max and always
 *     equals what its reassembler holds;
 *   - each record is counted exactly once (records == whole + fragments + drops);
 *   - after the last deadline everything is released, and freeing returns every byte.
 *
 * Deterministic: no clock, no randomness, no state carried between inputs.
 * Seeds: fuzz/corpus/frag/, record sequences cut by cordon_frag_split: WHOLE messages
 * (0 and 8 bytes), a 1641-byte message in order, a 5000-byte one reversed with duplicates
 * and replays, five interleaved messages (one evicted), a message that times out, and the
 * largest message (CORDON_FRAG_MSG_MAX) in order.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/frag.h"

#define FUZZ_BUDGET (40 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fragment the reassembler accepted (CORDON_OK): its data lives in the fuzz input. */
struct accepted {
    uint32_t id;
    uint16_t index;
    const uint8_t *data;
    size_t len;
};

struct lane {
    struct cordon_frag_rx *rx;
    struct cordon_frag_budget *budget; /* NULL for the lone reassembler */
    struct accepted *log;
    size_t n;
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void check_state(const struct lane *l)
{
    const struct cordon_frag_counters *c = cordon_frag_rx_counters(l->rx);
    uint64_t drops = c->drop_truncated + c->drop_oversize + c->drop_kind + c->drop_too_large +
                     c->drop_malformed + c->drop_mismatch + c->drop_duplicate + c->drop_replay +
                     c->drop_busy + c->drop_nomem;
    if (c->records != c->whole + c->fragments + drops || c->drop_nomem != 0)
        abort();
    size_t mem = cordon_frag_rx_memory(l->rx);
    size_t base = cordon_frag_rx_memory_max() - CORDON_FRAG_BUFFERED_MAX;
    if (mem > cordon_frag_rx_memory_max() || mem < base)
        abort();
    if (cordon_frag_rx_inflight(l->rx) > CORDON_FRAG_INFLIGHT_MAX)
        abort();
    if (l->budget && (l->budget->used > l->budget->max || l->budget->used != mem - base))
        abort();
}

/* The reassembled message m (total bytes) of id: every slice must equal the data of the
 * last accepted fragment of that id and index. */
static void check_reassembled(const struct lane *l, uint32_t id, const uint8_t *m, size_t total)
{
    size_t count = cordon_frag_count(total);
    if (count < 2 || count > CORDON_FRAG_COUNT_MAX)
        abort();
    bool seen[CORDON_FRAG_COUNT_MAX] = {false};
    size_t found = 0;
    for (size_t i = l->n; i-- > 0 && found < count;) {
        const struct accepted *a = &l->log[i];
        if (a->id != id || a->index >= count || seen[a->index])
            continue;
        seen[a->index] = true;
        found++;
        size_t off = (size_t)a->index * CORDON_FRAG_DATA_MAX;
        size_t want = total - off < CORDON_FRAG_DATA_MAX ? total - off : CORDON_FRAG_DATA_MAX;
        if (a->len != want || memcmp(m + off, a->data, a->len) != 0)
            abort();
    }
    if (found != count)
        abort();
}

static void feed(struct lane *l, const uint8_t *rec, size_t len, uint64_t now)
{
    const uint8_t *m = NULL;
    size_t mlen = 0;
    cordon_err err = cordon_frag_rx_push(l->rx, rec, len, now, &m, &mlen);
    switch (err) {
    case CORDON_OK:
        break;
    case CORDON_ERR_TRUNCATED:
    case CORDON_ERR_TOO_LARGE:
    case CORDON_ERR_MALFORMED:
    case CORDON_ERR_EXISTS:
        if (m || mlen)
            abort();
        check_state(l);
        return;
    case CORDON_ERR_BUSY:
        if (!l->budget || m || mlen)
            abort();
        check_state(l);
        return;
    default:
        abort();
    }
    if (len < 1 || len > CORDON_RECORD_MAX)
        abort();
    if (rec[0] == CORDON_FRAG_KIND_WHOLE) {
        if (m != rec + 1 || mlen != len - 1)
            abort();
    } else {
        /* Accepted, so the header is all there: read it without the library. */
        if (rec[0] != CORDON_FRAG_KIND_FRAGMENT || len < CORDON_FRAG_HEADER_LEN)
            abort();
        struct accepted *a = &l->log[l->n++];
        a->id = be32(rec + 1);
        a->index = be16(rec + 5);
        a->data = rec + CORDON_FRAG_HEADER_LEN;
        a->len = len - CORDON_FRAG_HEADER_LEN;
        uint32_t total = be32(rec + 9);
        if (m) {
            if (mlen != total || mlen > CORDON_FRAG_MSG_MAX)
                abort();
            check_reassembled(l, a->id, m, mlen);
        }
    }
    check_state(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cordon_frag_budget budget = {.used = 0, .max = FUZZ_BUDGET};
    struct lane lanes[2] = {{.budget = NULL}, {.budget = &budget}};
    size_t max_records = size / 4 + 1;
    for (size_t i = 0; i < 2; i++) {
        if (cordon_frag_rx_new(lanes[i].budget, &lanes[i].rx) != CORDON_OK)
            abort();
        lanes[i].log = malloc(max_records * sizeof(struct accepted));
        if (!lanes[i].log)
            abort();
    }

    uint64_t now = 0;
    size_t pos = 0;
    while (size - pos >= 4) {
        now += be16(data + pos);
        size_t len = be16(data + pos + 2);
        pos += 4;
        if (len > size - pos)
            len = size - pos;
        for (size_t i = 0; i < 2; i++)
            feed(&lanes[i], data + pos, len, now);
        pos += len;
    }

    for (size_t i = 0; i < 2; i++) {
        struct lane *l = &lanes[i];
        uint64_t deadline = cordon_frag_rx_deadline(l->rx);
        if (cordon_frag_rx_inflight(l->rx) == 0 ? deadline != UINT64_MAX
                                                : deadline > now + CORDON_FRAG_TIMEOUT_MS)
            abort();
        cordon_frag_rx_expire(l->rx, now + CORDON_FRAG_TIMEOUT_MS);
        if (cordon_frag_rx_inflight(l->rx) != 0 ||
            cordon_frag_rx_memory(l->rx) != cordon_frag_rx_memory_max() - CORDON_FRAG_BUFFERED_MAX)
            abort();
        check_state(l);
        cordon_frag_rx_free(l->rx);
        free(l->log);
    }
    if (budget.used != 0)
        abort();
    return 0;
}
