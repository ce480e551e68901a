/*
 * common/ratelimit.h — token buckets keyed by short byte strings (a source address, a
 * token hash, a node ID), in a table of fixed capacity. Pure logic: the caller passes the
 * time (milliseconds on any monotonic clock) and does any locking.
 *
 * A key whose bucket has refilled completely is indistinguishable from an unknown key, so
 * when the table is full such entries are dropped to make room. When every entry is busy,
 * a new key is refused (the caller answers "rate limited"): a flood of fresh sources can
 * fill the table but cannot reset the buckets of the keys already in it.
 */
#ifndef CORDON_COMMON_RATELIMIT_H
#define CORDON_COMMON_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define CORDON_RATE_KEY_MAX 32

typedef struct cordon_ratelimit cordon_ratelimit;

/* rate: tokens added per second (> 0); burst: bucket depth (>= 1); capacity: keys tracked.
 * seed: randomizes the hash so that chosen keys cannot be made to collide. */
CORDON_MUST_CHECK cordon_err cordon_ratelimit_new(double rate, double burst, size_t capacity,
                                                  uint64_t seed, cordon_ratelimit **out);
void cordon_ratelimit_free(cordon_ratelimit *rl);

/* Takes one token from key's bucket at time now_ms. true: allowed. false: the bucket is
 * empty, or the table is full of busy keys. key_len <= CORDON_RATE_KEY_MAX. */
bool cordon_ratelimit_take(cordon_ratelimit *rl, const void *key, size_t key_len, uint64_t now_ms);

/* Milliseconds until a take of key at now_ms or later would find a token: 0 when one would
 * now. A key without a bucket has a full one (0), whether or not the table has room for it
 * (take tells). For a sender that keeps to a receiver's limit, counting as it does. */
uint64_t cordon_ratelimit_wait_ms(const cordon_ratelimit *rl, const void *key, size_t key_len,
                                  uint64_t now_ms);

/* true when key has a bucket in the table. After a refusal it tells the two cases apart:
 * a tracked key has emptied its bucket; an untracked one found the table full. */
bool cordon_ratelimit_has(const cordon_ratelimit *rl, const void *key, size_t key_len);

/* Keys currently tracked. */
size_t cordon_ratelimit_size(const cordon_ratelimit *rl);

/* Bytes of heap the table holds (fixed at creation: about 2 * capacity entries). */
size_t cordon_ratelimit_memory(const cordon_ratelimit *rl);

#endif
