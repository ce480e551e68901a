/*
 * fuzz/fuzz_msg.c — libFuzzer target for the overlay messages (wire/msg.h), the bytes a
 * peer takes out of every DTLS record it receives.
 *
 * Reaches, on every input:
 *   cordon_msg_decode  and through it cordon_reader_init, cordon_read_u8, _u16, _u32, _u64,
 *                      cordon_read_bytes, cordon_read_sub (ERROR text, STORE and OBJECT
 *                      objects), cordon_read_view and cordon_reader_end
 * and on every input that decodes:
 *   cordon_msg_encode  and through it cordon_writer_init, cordon_write_u8, _u16, _u32, _u64,
 *                      cordon_write_bytes, cordon_write_prefixed, cordon_writer_finish,
 *                      once with room and once with one byte too few, each into a buffer
 *                      of exactly that size (ASan sees any write past the cap);
 *   cordon_msg_store_code, cordon_msg_store_err on every STORED code.
 *
 * Oracles (abort() on failure, so a crash names the input):
 *   - round trip: whatever decodes encodes back to exactly the input bytes (the codec has
 *     one encoding per message, so an accepted input that re-encodes differently means the
 *     decoder ignored or normalised something);
 *   - a failed decode leaves the output struct untouched and returns a decoding error;
 *   - an encode into one byte less than needed fails with CORDON_ERR_TOO_LARGE without
 *     writing past its cap;
 *   - sizes: only STORE and OBJECT exceed CORDON_MSG_MAX, nothing exceeds
 *     CORDON_MSG_STORAGE_MAX;
 *   - the object of STORE and OBJECT is borrowed from the input: it lies inside it and ends
 *     where it ends; OBJECT not found has no view;
 *   - counts within their caps, SUMMARY keys and WANT indexes strictly increasing;
 *   - a STORED code maps to an error that maps back to it, or to CORDON_ERR_REFUSED.
 *
 * Deterministic: no clock, no randomness, no state carried between inputs.
 * Seeds: fuzz/corpus/msg/, one valid encoding per message type or more, written by hand
 * (bytes as in docs/protocol.md section 7); store.bin, store_big.bin and object.bin carry
 * owned_p256.bin, shared_ed25519_big.bin and tombstone_shared.bin of fuzz/corpus/object/ so
 * that the fuzzer meets real objects, though this codec only frames them.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/msg.h"

#define POISON 0xA5
#define CANARY 0xCC

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The borrowed object lies inside the input and runs to its end. */
static bool view_ok(const uint8_t *object, size_t len, const uint8_t *data, size_t size)
{
    return object != NULL && len >= 1 && len <= CORDON_OBJECT_MAX && len <= size &&
           object == data + size - len;
}

/* What a decoded message must look like, beyond re-encoding to its bytes. */
static bool structure_ok(const struct cordon_msg *m, const uint8_t *data, size_t size)
{
    switch (m->type) {
    case CORDON_MSG_STORE:
        return view_ok(m->u.store.object, m->u.store.len, data, size);
    case CORDON_MSG_OBJECT:
        if (!m->u.object.found)
            return m->u.object.object == NULL && m->u.object.len == 0 && size <= CORDON_MSG_MAX;
        return view_ok(m->u.object.object, m->u.object.len, data, size);
    case CORDON_MSG_SUMMARY:
        if (m->u.summary.count < 1 || m->u.summary.count > CORDON_SUMMARY_MAX)
            return false;
        for (unsigned i = 1; i < m->u.summary.count; i++) {
            if (memcmp(m->u.summary.entries[i - 1].key, m->u.summary.entries[i].key,
                       CORDON_OBJECT_ENTRY_KEY_LEN) >= 0)
                return false;
        }
        return size <= CORDON_MSG_MAX;
    case CORDON_MSG_WANT:
        if (m->u.want.count > CORDON_SUMMARY_MAX)
            return false;
        for (unsigned i = 0; i < m->u.want.count; i++) {
            if (m->u.want.index[i] >= CORDON_SUMMARY_MAX ||
                (i > 0 && m->u.want.index[i] <= m->u.want.index[i - 1]))
                return false;
        }
        return size <= CORDON_MSG_MAX;
    case CORDON_MSG_NODES:
        return m->u.nodes.count <= CORDON_NODES_MAX && size <= CORDON_MSG_MAX;
    default:
        return size <= CORDON_MSG_MAX;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cordon_msg m, before;
    memset(&m, POISON, sizeof(m));
    memcpy(&before, &m, sizeof(before));

    cordon_err err = cordon_msg_decode(data, size, &m);
    if (err != CORDON_OK) {
        if (err != CORDON_ERR_TRUNCATED && err != CORDON_ERR_TRAILING &&
            err != CORDON_ERR_TOO_LARGE && err != CORDON_ERR_MALFORMED)
            abort();
        if (memcmp(&m, &before, sizeof(m)) != 0)
            abort();
        return 0;
    }

    if (size > CORDON_MSG_STORAGE_MAX)
        abort();
    if (!structure_ok(&m, data, size))
        abort();
    if (m.type == CORDON_MSG_STORED) {
        cordon_err e = cordon_msg_store_err(m.u.stored.code);
        if (e != CORDON_ERR_REFUSED && cordon_msg_store_code(e) != m.u.stored.code)
            abort();
    }

    /* size >= CORDON_MSG_HEADER_LEN here, so both buffers are real. */
    uint8_t *out = malloc(size);
    if (out == NULL)
        abort();
    size_t len = 0;
    if (cordon_msg_encode(&m, out, size, &len) != CORDON_OK)
        abort();
    if (len != size || memcmp(out, data, size) != 0)
        abort();

    memset(out, CANARY, size);
    size_t short_len = 0;
    if (cordon_msg_encode(&m, out, size - 1, &short_len) != CORDON_ERR_TOO_LARGE)
        abort();
    if (short_len != 0 || out[size - 1] != CANARY)
        abort();
    free(out);
    return 0;
}
