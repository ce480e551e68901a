/*
 * tests/unit/support/writer.h — a writer of objects as the store and storage tests make
 * them: an Ed25519 key and a node certificate of a test CA. Ed25519 because its signatures
 * have one length, so objects that differ only in seq have the same length and byte counts
 * can be written down exactly. Each test chooses the node ID, serial and validity, which
 * are what its assertions depend on.
 */
#ifndef CORDON_TEST_WRITER_H
#define CORDON_TEST_WRITER_H

#include <stdint.h>

#include "common/buf.h"
#include "crypto/crypto.h"

struct writer {
    cordon_key *key;
    cordon_cert *cert;
    uint8_t id[CORDON_NODE_ID_LEN];
    cordon_buf der;
};

/* Makes w's key and has cak/cac issue its certificate; the first error is returned, and
 * what was made so far is left in w for writer_free(). */
cordon_err writer_issue(struct writer *w, const char *overlay, const uint8_t id[CORDON_NODE_ID_LEN],
                        const uint8_t serial[CORDON_SERIAL_LEN], int64_t not_before,
                        int64_t not_after, const cordon_key *cak, const cordon_cert *cac);
void writer_free(struct writer *w);

/* Removes a store's directory and the two files LMDB keeps in it; the tests make one per
 * store under a mkdtemp() directory, and leave nothing behind in /tmp. */
void store_dir_remove(const char *dir);

#endif
