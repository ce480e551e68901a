/*
 * common/hash.h — a seeded 64-bit hash for hash tables keyed by bytes that others choose
 * (addresses, node IDs, token hashes). Not cryptographic: the random seed only keeps an
 * outsider from predicting collisions. FNV-1a over the bytes, then splitmix64's finalizer.
 */
#ifndef CORDON_COMMON_HASH_H
#define CORDON_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t cordon_hash64(uint64_t seed, const void *data, size_t len);

#endif
