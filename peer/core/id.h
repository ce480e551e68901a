/*
 * peer/core/id.h — node IDs and addresses as the routing table sees them: the XOR metric,
 * common-prefix lengths (bucket indexes), IDs drawn inside a bucket's range, and IP prefix
 * comparison for the per-prefix limit. Pure functions, internal to the core.
 */
#ifndef CORDON_PEER_CORE_ID_H
#define CORDON_PEER_CORE_ID_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/msg.h"

#define CORDON_ID_BITS (CORDON_NODE_ID_LEN * 8)

bool cordon_id_equal(const uint8_t a[CORDON_NODE_ID_LEN], const uint8_t b[CORDON_NODE_ID_LEN]);

/* Length of the common prefix of a and b in bits: 0..255, or 256 when a == b. The routing
 * table files a contact under cpl(self, id). */
unsigned cordon_id_cpl(const uint8_t a[CORDON_NODE_ID_LEN], const uint8_t b[CORDON_NODE_ID_LEN]);

/* Compares the XOR distances of a and b to target: < 0 when a is closer, 0 when a == b. */
int cordon_id_distance_cmp(const uint8_t target[CORDON_NODE_ID_LEN],
                           const uint8_t a[CORDON_NODE_ID_LEN],
                           const uint8_t b[CORDON_NODE_ID_LEN]);

/* out = a XOR b. */
void cordon_id_distance(uint8_t out[CORDON_NODE_ID_LEN], const uint8_t a[CORDON_NODE_ID_LEN],
                        const uint8_t b[CORDON_NODE_ID_LEN]);

/* An ID in bucket `bucket` (0..255) of self: self's first `bucket` bits, the next bit
 * flipped, the rest taken from rnd. */
void cordon_id_in_bucket(uint8_t out[CORDON_NODE_ID_LEN], const uint8_t self[CORDON_NODE_ID_LEN],
                         unsigned bucket, const uint8_t rnd[CORDON_NODE_ID_LEN]);

/* true when a and b have the same family and share their first v4_bits (IPv4) or v6_bits
 * (IPv6) bits. */
bool cordon_addr_same_prefix(const struct cordon_addr *a, const struct cordon_addr *b,
                             unsigned v4_bits, unsigned v6_bits);

#endif
