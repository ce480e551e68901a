/* common/ratelimit.c — see ratelimit.h. Open addressing with linear probing; the table is
 * rebuilt (dropping refilled entries) when it reaches its capacity. */
#include "common/ratelimit.h"

#include "common/hash.h"

#include <stdlib.h>
#include <string.h>

struct entry {
    uint8_t used;
    uint8_t key_len;
    uint8_t key[CORDON_RATE_KEY_MAX];
    double tokens;
    uint64_t last_ms;
};

struct cordon_ratelimit {
    double rate_per_ms;
    double burst;
    size_t capacity; /* keys tracked at most */
    size_t slots;    /* a power of two, at least 2 * capacity */
    size_t count;
    uint64_t seed;
    uint64_t next_sweep_ms; /* no entry can have refilled before then: a sweep would free
                               nothing, so a full table refuses new keys at once */
    struct entry *table;
};

static uint64_t hash(const cordon_ratelimit *rl, const uint8_t *key, size_t len)
{
    return cordon_hash64(rl->seed, key, len);
}

cordon_err cordon_ratelimit_new(double rate, double burst, size_t capacity, uint64_t seed,
                                cordon_ratelimit **out)
{
    if (!(rate > 0) || !(burst >= 1) || capacity == 0 ||
        capacity > (SIZE_MAX / 4) / sizeof(struct entry))
        return CORDON_ERR_INVAL;
    cordon_ratelimit *rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return CORDON_ERR_NOMEM;
    rl->slots = 16;
    while (rl->slots < 2 * capacity)
        rl->slots *= 2;
    rl->table = calloc(rl->slots, sizeof(struct entry));
    if (rl->table == NULL) {
        free(rl);
        return CORDON_ERR_NOMEM;
    }
    rl->rate_per_ms = rate / 1000.0;
    rl->burst = burst;
    rl->capacity = capacity;
    rl->seed = seed;
    *out = rl;
    return CORDON_OK;
}

void cordon_ratelimit_free(cordon_ratelimit *rl)
{
    if (rl == NULL)
        return;
    free(rl->table);
    free(rl);
}

size_t cordon_ratelimit_size(const cordon_ratelimit *rl)
{
    return rl->count;
}

size_t cordon_ratelimit_memory(const cordon_ratelimit *rl)
{
    return sizeof(*rl) + rl->slots * sizeof(struct entry);
}

static void refill(const cordon_ratelimit *rl, struct entry *e, uint64_t now_ms)
{
    if (now_ms > e->last_ms) {
        e->tokens += (double)(now_ms - e->last_ms) * rl->rate_per_ms;
        if (e->tokens > rl->burst)
            e->tokens = rl->burst;
    }
    e->last_ms = now_ms > e->last_ms ? now_ms : e->last_ms;
}

static struct entry *probe(const cordon_ratelimit *rl, const uint8_t *key, size_t len, bool *found)
{
    size_t mask = rl->slots - 1;
    for (size_t i = hash(rl, key, len) & mask;; i = (i + 1) & mask) {
        struct entry *e = &rl->table[i];
        if (!e->used) {
            *found = false;
            return e;
        }
        if (e->key_len == len && memcmp(e->key, key, len) == 0) {
            *found = true;
            return e;
        }
    }
}

/* Drops every entry whose bucket is full again; such a key behaves as a new one. Also
 * notes when the next entry could refill, so that a flood of new keys against a full
 * table costs one comparison each, not a rebuild. */
static void sweep(cordon_ratelimit *rl, uint64_t now_ms)
{
    if (now_ms < rl->next_sweep_ms)
        return;
    struct entry *old = rl->table;
    struct entry *fresh = calloc(rl->slots, sizeof(struct entry));
    if (fresh == NULL)
        return; /* keep the table as it is: new keys are refused until memory returns */
    rl->table = fresh;
    rl->count = 0;
    double soonest = -1;
    for (size_t i = 0; i < rl->slots; i++) {
        if (!old[i].used)
            continue;
        refill(rl, &old[i], now_ms);
        if (old[i].tokens >= rl->burst)
            continue;
        double wait_ms = (rl->burst - old[i].tokens) / rl->rate_per_ms;
        if (soonest < 0 || wait_ms < soonest)
            soonest = wait_ms;
        bool found;
        struct entry *e = probe(rl, old[i].key, old[i].key_len, &found);
        *e = old[i];
        rl->count++;
    }
    free(old);
    rl->next_sweep_ms = soonest < 0 ? now_ms : now_ms + (uint64_t)soonest + 1;
}

bool cordon_ratelimit_has(const cordon_ratelimit *rl, const void *key, size_t key_len)
{
    if (key_len > CORDON_RATE_KEY_MAX)
        return false;
    bool found;
    probe(rl, key, key_len, &found);
    return found;
}

bool cordon_ratelimit_take(cordon_ratelimit *rl, const void *key, size_t key_len, uint64_t now_ms)
{
    if (key_len > CORDON_RATE_KEY_MAX)
        return false;
    bool found;
    struct entry *e = probe(rl, key, key_len, &found);
    if (!found) {
        if (rl->count >= rl->capacity) {
            sweep(rl, now_ms);
            if (rl->count >= rl->capacity)
                return false;
            e = probe(rl, key, key_len, &found);
        }
        memset(e, 0, sizeof(*e));
        e->used = 1;
        e->key_len = (uint8_t)key_len;
        memcpy(e->key, key, key_len);
        e->tokens = rl->burst;
        e->last_ms = now_ms;
        rl->count++;
    }
    refill(rl, e, now_ms);
    if (e->tokens < 1.0)
        return false;
    e->tokens -= 1.0;
    return true;
}

uint64_t cordon_ratelimit_wait_ms(const cordon_ratelimit *rl, const void *key, size_t key_len,
                                  uint64_t now_ms)
{
    if (key_len > CORDON_RATE_KEY_MAX)
        return 0;
    bool found;
    struct entry e = *probe(rl, key, key_len, &found);
    if (!found)
        return 0;
    refill(rl, &e, now_ms); /* on a copy: waiting takes nothing */
    if (e.tokens >= 1.0)
        return 0;
    double ms = (1.0 - e.tokens) / rl->rate_per_ms;
    return (uint64_t)ms + 1; /* rounded up: at that time the token is there */
}
