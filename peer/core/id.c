/* peer/core/id.c — see id.h. */
#include "peer/core/id.h"

#include <string.h>

bool cordon_id_equal(const uint8_t a[CORDON_NODE_ID_LEN], const uint8_t b[CORDON_NODE_ID_LEN])
{
    return memcmp(a, b, CORDON_NODE_ID_LEN) == 0;
}

unsigned cordon_id_cpl(const uint8_t a[CORDON_NODE_ID_LEN], const uint8_t b[CORDON_NODE_ID_LEN])
{
    for (unsigned i = 0; i < CORDON_NODE_ID_LEN; i++) {
        unsigned x = (unsigned)(a[i] ^ b[i]);
        if (x == 0)
            continue;
        unsigned bits = 0;
        while ((x & 0x80u) == 0) {
            x <<= 1;
            bits++;
        }
        return i * 8 + bits;
    }
    return CORDON_ID_BITS;
}

int cordon_id_distance_cmp(const uint8_t target[CORDON_NODE_ID_LEN],
                           const uint8_t a[CORDON_NODE_ID_LEN], const uint8_t b[CORDON_NODE_ID_LEN])
{
    for (unsigned i = 0; i < CORDON_NODE_ID_LEN; i++) {
        unsigned da = (unsigned)(a[i] ^ target[i]);
        unsigned db = (unsigned)(b[i] ^ target[i]);
        if (da != db)
            return da < db ? -1 : 1;
    }
    return 0;
}

void cordon_id_distance(uint8_t out[CORDON_NODE_ID_LEN], const uint8_t a[CORDON_NODE_ID_LEN],
                        const uint8_t b[CORDON_NODE_ID_LEN])
{
    for (unsigned i = 0; i < CORDON_NODE_ID_LEN; i++)
        out[i] = (uint8_t)(a[i] ^ b[i]);
}

void cordon_id_in_bucket(uint8_t out[CORDON_NODE_ID_LEN], const uint8_t self[CORDON_NODE_ID_LEN],
                         unsigned bucket, const uint8_t rnd[CORDON_NODE_ID_LEN])
{
    if (bucket >= CORDON_ID_BITS)
        bucket = CORDON_ID_BITS - 1;
    unsigned byte = bucket / 8;
    uint8_t bit = (uint8_t)(0x80u >> (bucket % 8));
    uint8_t keep = (uint8_t) ~(0xffu >> (bucket % 8)); /* bits of self before `bit` */
    memcpy(out, self, byte);
    out[byte] = (uint8_t)((self[byte] & keep) | ((self[byte] ^ bit) & bit) |
                          (rnd[byte] & (uint8_t)(bit - 1)));
    memcpy(out + byte + 1, rnd + byte + 1, CORDON_NODE_ID_LEN - byte - 1);
}

bool cordon_addr_same_prefix(const struct cordon_addr *a, const struct cordon_addr *b,
                             unsigned v4_bits, unsigned v6_bits)
{
    if (a->family != b->family)
        return false;
    unsigned bits = a->family == 4 ? v4_bits : v6_bits;
    unsigned max = a->family == 4 ? 32 : 128;
    if (bits > max)
        bits = max;
    unsigned whole = bits / 8;
    if (memcmp(a->ip, b->ip, whole) != 0)
        return false;
    if (bits % 8 == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - bits % 8));
    return ((a->ip[whole] ^ b->ip[whole]) & mask) == 0;
}
