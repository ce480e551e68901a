/* wire/frag.c — see frag.h. */
#include "wire/frag.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "wire/reader.h"
#include "wire/writer.h"

_Static_assert(CORDON_RECORD_MAX > CORDON_FRAG_HEADER_LEN, "a fragment must carry data");
_Static_assert(CORDON_FRAG_MSG_MAX <= UINT32_MAX, "total is a u32");
_Static_assert(CORDON_FRAG_COUNT_MAX <= UINT16_MAX, "index and count are u16");
_Static_assert(CORDON_FRAG_BUFFERED_MAX >= CORDON_FRAG_MSG_MAX,
               "the largest message must fit one remote's buffer");
_Static_assert(CORDON_FRAG_RETIRED_MAX >= CORDON_FRAG_INFLIGHT_MAX,
               "every abandoned message in flight must stay retired for a while");

#define GOT_WORDS ((CORDON_FRAG_COUNT_MAX + 63) / 64)

/* One message being reassembled; free when buf is NULL. */
struct slot {
    uint8_t *buf; /* total bytes, reserved on the first fragment */
    uint32_t id;
    uint32_t total;
    uint16_t count;
    uint16_t have;
    uint64_t first_ms; /* arrival of the first fragment: the timeout runs from here */
    uint64_t seq;      /* start order, for eviction of the oldest */
    uint64_t got[GOT_WORDS];
};

struct cordon_frag_rx {
    struct cordon_frag_budget *shared; /* borrowed, may be NULL */
    struct slot slots[CORDON_FRAG_INFLIGHT_MAX];
    size_t buffered;    /* bytes of slot buffers plus the delivered buffer */
    uint8_t *delivered; /* the last reassembled message, released on the next call */
    size_t delivered_len;
    uint64_t seq;
    uint32_t retired[CORDON_FRAG_RETIRED_MAX]; /* ring of completed and abandoned ids */
    size_t retired_n;
    size_t retired_next;
    struct cordon_frag_counters c;
};

/* ---- layout ---------------------------------------------------------------------------- */

size_t cordon_frag_count(size_t len)
{
    if (len > CORDON_FRAG_MSG_MAX)
        return 0;
    if (len <= CORDON_RECORD_PAYLOAD)
        return 1;
    return (len + CORDON_FRAG_DATA_MAX - 1) / CORDON_FRAG_DATA_MAX;
}

/* Data bytes of fragment index of a fragmented message of total bytes. */
static size_t data_len(size_t total, size_t index)
{
    size_t off = index * CORDON_FRAG_DATA_MAX;
    size_t left = total - off;
    return left < CORDON_FRAG_DATA_MAX ? left : CORDON_FRAG_DATA_MAX;
}

/* ---- sending --------------------------------------------------------------------------- */

cordon_err cordon_frag_encode(const uint8_t *msg, size_t len, uint32_t msg_id, size_t index,
                              uint8_t *out, size_t cap, size_t *out_len)
{
    if (!out || !out_len || (!msg && len > 0))
        return CORDON_ERR_INVAL;
    size_t count = cordon_frag_count(len);
    if (count == 0)
        return CORDON_ERR_TOO_LARGE;
    if (index >= count)
        return CORDON_ERR_INVAL;

    cordon_writer w;
    cordon_writer_init(&w, out, cap);
    if (count == 1) {
        cordon_write_u8(&w, CORDON_FRAG_KIND_WHOLE);
        cordon_write_bytes(&w, msg, len);
    } else {
        cordon_write_u8(&w, CORDON_FRAG_KIND_FRAGMENT);
        cordon_write_u32(&w, msg_id);
        cordon_write_u16(&w, (uint16_t)index);
        cordon_write_u16(&w, (uint16_t)count);
        cordon_write_u32(&w, (uint32_t)len);
        cordon_write_bytes(&w, msg + index * CORDON_FRAG_DATA_MAX, data_len(len, index));
    }
    return cordon_writer_finish(&w, out_len);
}

cordon_err cordon_frag_split(const uint8_t *msg, size_t len, uint32_t msg_id,
                             cordon_frag_emit_fn emit, void *ctx)
{
    if (!emit || (!msg && len > 0))
        return CORDON_ERR_INVAL;
    size_t count = cordon_frag_count(len);
    if (count == 0)
        return CORDON_ERR_TOO_LARGE;
    uint8_t rec[CORDON_RECORD_MAX];
    for (size_t i = 0; i < count; i++) {
        size_t n = 0;
        cordon_err err = cordon_frag_encode(msg, len, msg_id, i, rec, sizeof(rec), &n);
        if (err == CORDON_OK)
            err = emit(ctx, rec, n);
        if (err != CORDON_OK)
            return err;
    }
    return CORDON_OK;
}

/* ---- receiving: bookkeeping ------------------------------------------------------------ */

static void reserve(struct cordon_frag_rx *rx, size_t n)
{
    rx->buffered += n;
    if (rx->shared)
        rx->shared->used += n;
}

static void release(struct cordon_frag_rx *rx, size_t n)
{
    rx->buffered -= n;
    if (rx->shared)
        rx->shared->used -= n;
}

static void retire(struct cordon_frag_rx *rx, uint32_t id)
{
    rx->retired[rx->retired_next] = id;
    rx->retired_next = (rx->retired_next + 1) % CORDON_FRAG_RETIRED_MAX;
    if (rx->retired_n < CORDON_FRAG_RETIRED_MAX)
        rx->retired_n++;
}

static bool is_retired(const struct cordon_frag_rx *rx, uint32_t id)
{
    for (size_t i = 0; i < rx->retired_n; i++) {
        if (rx->retired[i] == id)
            return true;
    }
    return false;
}

/* Frees a slot's message unfinished and retires its id, so that its stragglers cannot
 * start a new reassembly that would only take a slot until it times out. */
static void abandon(struct cordon_frag_rx *rx, struct slot *s)
{
    release(rx, s->total);
    free(s->buf);
    retire(rx, s->id);
    memset(s, 0, sizeof(*s));
}

static void release_delivered(struct cordon_frag_rx *rx)
{
    if (!rx->delivered)
        return;
    release(rx, rx->delivered_len);
    free(rx->delivered);
    rx->delivered = NULL;
    rx->delivered_len = 0;
}

static bool too_old(const struct slot *s, uint64_t now_ms)
{
    /* A clock that went backwards counts as no time passed. */
    return now_ms > s->first_ms && now_ms - s->first_ms >= CORDON_FRAG_TIMEOUT_MS;
}

static void expire_old(struct cordon_frag_rx *rx, uint64_t now_ms)
{
    for (size_t i = 0; i < CORDON_FRAG_INFLIGHT_MAX; i++) {
        struct slot *s = &rx->slots[i];
        if (s->buf && too_old(s, now_ms)) {
            abandon(rx, s);
            rx->c.expired++;
        }
    }
}

static struct slot *find_slot(struct cordon_frag_rx *rx, uint32_t id)
{
    for (size_t i = 0; i < CORDON_FRAG_INFLIGHT_MAX; i++) {
        if (rx->slots[i].buf && rx->slots[i].id == id)
            return &rx->slots[i];
    }
    return NULL;
}

/* A free slot, or NULL; *oldest is set to the oldest busy slot (NULL when none). */
static struct slot *free_slot(struct cordon_frag_rx *rx, struct slot **oldest)
{
    struct slot *empty = NULL;
    *oldest = NULL;
    for (size_t i = 0; i < CORDON_FRAG_INFLIGHT_MAX; i++) {
        struct slot *s = &rx->slots[i];
        if (!s->buf) {
            if (!empty)
                empty = s;
        } else if (!*oldest || s->seq < (*oldest)->seq) {
            *oldest = s;
        }
    }
    return empty;
}

static bool fits(const struct cordon_frag_rx *rx, size_t total)
{
    if (rx->buffered + total > CORDON_FRAG_BUFFERED_MAX)
        return false;
    return !rx->shared || rx->shared->used + total <= rx->shared->max;
}

/* Opens a slot for a new message of total bytes, evicting this remote's oldest messages
 * while a slot or the bytes are short. */
static cordon_err open_slot(struct cordon_frag_rx *rx, uint32_t id, uint32_t total, uint16_t count,
                            uint64_t now_ms, struct slot **out)
{
    /* Evicting is pointless when the shared budget cannot hold the message even without
     * this remote's own bytes: refuse at once and keep them. */
    if (rx->shared && rx->shared->used - rx->buffered + total > rx->shared->max) {
        rx->c.drop_busy++;
        return CORDON_ERR_BUSY;
    }
    struct slot *oldest;
    struct slot *s = free_slot(rx, &oldest);
    while ((!s || !fits(rx, total)) && oldest) {
        abandon(rx, oldest);
        rx->c.evicted++;
        s = free_slot(rx, &oldest);
    }
    if (!s || !fits(rx, total)) { /* unreachable: total <= CORDON_FRAG_BUFFERED_MAX */
        rx->c.drop_busy++;
        return CORDON_ERR_BUSY;
    }
    uint8_t *buf = malloc(total);
    if (!buf) {
        rx->c.drop_nomem++;
        return CORDON_ERR_NOMEM;
    }
    memset(s, 0, sizeof(*s));
    s->buf = buf;
    s->id = id;
    s->total = total;
    s->count = count;
    s->first_ms = now_ms;
    s->seq = rx->seq++;
    reserve(rx, total);
    *out = s;
    return CORDON_OK;
}

/* ---- receiving: API -------------------------------------------------------------------- */

cordon_err cordon_frag_rx_new(struct cordon_frag_budget *shared, struct cordon_frag_rx **out)
{
    if (!out)
        return CORDON_ERR_INVAL;
    struct cordon_frag_rx *rx = calloc(1, sizeof(*rx));
    if (!rx)
        return CORDON_ERR_NOMEM;
    rx->shared = shared;
    *out = rx;
    return CORDON_OK;
}

void cordon_frag_rx_free(struct cordon_frag_rx *rx)
{
    if (!rx)
        return;
    release_delivered(rx);
    for (size_t i = 0; i < CORDON_FRAG_INFLIGHT_MAX; i++) {
        struct slot *s = &rx->slots[i];
        if (s->buf) {
            release(rx, s->total);
            free(s->buf);
        }
    }
    free(rx);
}

/* Checks one fragment on its own; the counters are the caller's. */
static cordon_err parse_fragment(cordon_reader *r, uint32_t *id, uint16_t *index, uint16_t *count,
                                 uint32_t *total, const uint8_t **data, size_t *len)
{
    if (cordon_read_u32(r, id) != CORDON_OK || cordon_read_u16(r, index) != CORDON_OK ||
        cordon_read_u16(r, count) != CORDON_OK || cordon_read_u32(r, total) != CORDON_OK)
        return CORDON_ERR_TRUNCATED;
    /* Before anything else, and before any allocation. */
    if (*total > CORDON_FRAG_MSG_MAX)
        return CORDON_ERR_TOO_LARGE;
    if (cordon_frag_count(*total) < 2 || *count != cordon_frag_count(*total) || *index >= *count)
        return CORDON_ERR_MALFORMED;
    *len = cordon_reader_left(r);
    if (*len != data_len(*total, *index))
        return CORDON_ERR_MALFORMED;
    return cordon_read_view(r, *len, data);
}

cordon_err cordon_frag_rx_push(struct cordon_frag_rx *rx, const uint8_t *rec, size_t len,
                               uint64_t now_ms, const uint8_t **msg, size_t *msg_len)
{
    if (!rx || !msg || !msg_len || (!rec && len > 0))
        return CORDON_ERR_INVAL;
    *msg = NULL;
    *msg_len = 0;
    release_delivered(rx);
    expire_old(rx, now_ms);
    rx->c.records++;

    if (len > CORDON_RECORD_MAX) {
        rx->c.drop_oversize++;
        return CORDON_ERR_TOO_LARGE;
    }
    cordon_reader r;
    cordon_reader_init(&r, rec, len);
    uint8_t kind;
    if (cordon_read_u8(&r, &kind) != CORDON_OK) {
        rx->c.drop_truncated++;
        return CORDON_ERR_TRUNCATED;
    }
    if (kind == CORDON_FRAG_KIND_WHOLE) {
        rx->c.whole++;
        *msg = rec + CORDON_FRAG_WHOLE_HEADER_LEN;
        *msg_len = len - CORDON_FRAG_WHOLE_HEADER_LEN;
        return CORDON_OK;
    }
    if (kind != CORDON_FRAG_KIND_FRAGMENT) {
        rx->c.drop_kind++;
        return CORDON_ERR_MALFORMED;
    }

    uint32_t id, total;
    uint16_t index, count;
    const uint8_t *data;
    size_t data_n;
    cordon_err err = parse_fragment(&r, &id, &index, &count, &total, &data, &data_n);
    if (err != CORDON_OK) {
        if (err == CORDON_ERR_TRUNCATED)
            rx->c.drop_truncated++;
        else if (err == CORDON_ERR_TOO_LARGE)
            rx->c.drop_too_large++;
        else
            rx->c.drop_malformed++;
        return err;
    }
    if (is_retired(rx, id)) {
        rx->c.drop_replay++;
        return CORDON_ERR_EXISTS;
    }

    struct slot *s = find_slot(rx, id);
    if (s) {
        /* count follows from total (checked above), so comparing totals is enough. */
        if (s->total != total) {
            abandon(rx, s);
            rx->c.drop_mismatch++;
            return CORDON_ERR_MALFORMED;
        }
        if (s->got[index / 64] >> (index % 64) & 1) {
            rx->c.drop_duplicate++;
            return CORDON_ERR_EXISTS;
        }
    } else {
        err = open_slot(rx, id, total, count, now_ms, &s);
        if (err != CORDON_OK)
            return err;
    }

    memcpy(s->buf + (size_t)index * CORDON_FRAG_DATA_MAX, data, data_n);
    s->got[index / 64] |= (uint64_t)1 << (index % 64);
    s->have++;
    rx->c.fragments++;
    if (s->have < s->count)
        return CORDON_OK;

    /* Complete: the buffer moves to delivered and stays counted in buffered until the next
     * call releases it, so memory never exceeds the per-remote cap in between. */
    rx->delivered = s->buf;
    rx->delivered_len = s->total;
    retire(rx, s->id);
    memset(s, 0, sizeof(*s));
    rx->c.reassembled++;
    *msg = rx->delivered;
    *msg_len = rx->delivered_len;
    return CORDON_OK;
}

void cordon_frag_rx_expire(struct cordon_frag_rx *rx, uint64_t now_ms)
{
    if (!rx)
        return;
    release_delivered(rx);
    expire_old(rx, now_ms);
}

uint64_t cordon_frag_rx_deadline(const struct cordon_frag_rx *rx)
{
    uint64_t deadline = UINT64_MAX;
    for (size_t i = 0; rx && i < CORDON_FRAG_INFLIGHT_MAX; i++) {
        const struct slot *s = &rx->slots[i];
        if (s->buf && s->first_ms < deadline - CORDON_FRAG_TIMEOUT_MS)
            deadline = s->first_ms + CORDON_FRAG_TIMEOUT_MS;
    }
    return deadline;
}

size_t cordon_frag_rx_inflight(const struct cordon_frag_rx *rx)
{
    size_t n = 0;
    for (size_t i = 0; rx && i < CORDON_FRAG_INFLIGHT_MAX; i++)
        n += rx->slots[i].buf != NULL;
    return n;
}

size_t cordon_frag_rx_memory(const struct cordon_frag_rx *rx)
{
    return rx ? sizeof(*rx) + rx->buffered : 0;
}

size_t cordon_frag_rx_memory_max(void)
{
    return sizeof(struct cordon_frag_rx) + CORDON_FRAG_BUFFERED_MAX;
}

const struct cordon_frag_counters *cordon_frag_rx_counters(const struct cordon_frag_rx *rx)
{
    return &rx->c;
}
