/*
 * fuzz/fuzz_msg.c — libFuzzer target for the overlay messages (wire/msg.h), the bytes a
 * peer takes out of every DTLS record it receives.
 *
 * Reaches, on every input:
 *   cordon_msg_decode  and through it cordon_reader_init, cordon_read_u8, _u16, _u32,
 *                      cordon_read_bytes, cordon_read_sub (ERROR text) and
 *                      cordon_reader_end
 * and on every input that decodes:
 *   cordon_msg_encode  and through it cordon_writer_init, cordon_write_u8, _u16, _u32,
 *                      cordon_write_bytes, cordon_write_prefixed, cordon_writer_finish,
 *                      once with room and once with one byte too few.
 *
 * Oracles (abort() on failure, so a crash names the input):
 *   - round trip: whatever decodes encodes back to exactly the input bytes (the codec has
 *     one encoding per message, so an accepted input that re-encodes differently means the
 *     decoder ignored or normalised something);
 *   - a failed decode leaves the output struct untouched and returns a decoding error;
 *   - an encode into one byte less than needed fails with CORDON_ERR_TOO_LARGE without
 *     writing past its cap.
 *
 * Deterministic: no clock, no randomness, no state carried between inputs.
 * Seeds: fuzz/corpus/msg/, one valid encoding per message type.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/msg.h"

#define POISON 0xA5
#define CANARY 0xCC

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

    uint8_t out[CORDON_MSG_MAX + 1];
    size_t len = 0;
    if (size > CORDON_MSG_MAX)
        abort();
    if (cordon_msg_encode(&m, out, sizeof(out) - 1, &len) != CORDON_OK)
        abort();
    if (len != size || memcmp(out, data, size) != 0)
        abort();

    /* size >= CORDON_MSG_HEADER_LEN here, so size - 1 is a real, too-small cap. */
    memset(out, CANARY, sizeof(out));
    size_t short_len = 0;
    if (cordon_msg_encode(&m, out, size - 1, &short_len) != CORDON_ERR_TOO_LARGE)
        abort();
    if (short_len != 0)
        abort();
    for (size_t i = size - 1; i < sizeof(out); i++) {
        if (out[i] != CANARY)
            abort();
    }
    return 0;
}
