/*
 * fuzz/fuzz_db_records.c — libFuzzer target for the enrollment database's record codecs:
 * LMDB values are read back through the bounded reader and a damaged record must be
 * refused (CORDON_ERR_DB), never trusted.
 *
 * Reaches, on every input:
 *   cordon_token_record_decode, and on success cordon_token_record_encode
 *   cordon_node_record_decode, and on success cordon_node_record_encode and
 *     cordon_node_record_clear
 * and through them cordon_read_u8/u32/u64/bytes/text/sub and cordon_reader_end.
 * Invariant that aborts: the encodings are canonical, so whatever decodes must encode back
 * to exactly the input bytes.
 *
 * Deterministic: pure functions.
 * Seeds: fuzz/corpus/db_records/ (written by fuzz/enroll_seeds.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "enroll/db.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cordon_token_record tok;
    if (cordon_token_record_decode(data, size, &tok) == CORDON_OK) {
        uint8_t out[512];
        size_t len;
        if (cordon_token_record_encode(&tok, out, sizeof(out), &len) != CORDON_OK || len != size ||
            memcmp(out, data, size) != 0)
            abort();
    }

    struct cordon_node_record node;
    if (cordon_node_record_decode(data, size, &node) == CORDON_OK) {
        cordon_buf out;
        cordon_buf_init(&out, 2 * CORDON_CERT_MAX, false);
        if (cordon_node_record_encode(&node, &out) != CORDON_OK || out.len != size ||
            memcmp(out.data, data, size) != 0)
            abort();
        cordon_buf_free(&out);
        cordon_node_record_clear(&node);
    }
    return 0;
}
