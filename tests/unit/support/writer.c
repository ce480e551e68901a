/*
 * tests/unit/support/writer.c — see writer.h.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "support/writer.h"

cordon_err writer_issue(struct writer *w, const char *overlay, const uint8_t id[CORDON_NODE_ID_LEN],
                        const uint8_t serial[CORDON_SERIAL_LEN], int64_t not_before,
                        int64_t not_after, const cordon_key *cak, const cordon_cert *cac)
{
    struct cordon_node_cert_params p;
    cordon_csr *csr = NULL;
    cordon_err err;
    memset(&p, 0, sizeof(p));
    p.overlay = overlay;
    memcpy(p.node_id, id, CORDON_NODE_ID_LEN);
    memcpy(p.serial, serial, CORDON_SERIAL_LEN);
    p.not_before = not_before;
    p.not_after = not_after;
    memcpy(w->id, id, CORDON_NODE_ID_LEN);
    cordon_buf_init(&w->der, CORDON_CERT_MAX, false);
    if ((err = cordon_key_generate(CORDON_KEY_ED25519, &w->key)) == CORDON_OK &&
        (err = cordon_csr_create(w->key, &csr)) == CORDON_OK &&
        (err = cordon_cert_issue_node(csr, &p, cak, cac, &w->cert)) == CORDON_OK)
        err = cordon_cert_der(w->cert, &w->der);
    cordon_csr_free(csr);
    return err;
}

void writer_free(struct writer *w)
{
    cordon_key_free(w->key);
    cordon_cert_free(w->cert);
    cordon_buf_free(&w->der);
    memset(w, 0, sizeof(*w));
}

void store_dir_remove(const char *dir)
{
    static const char *const files[] = {"data.mdb", "lock.mdb"};
    char path[192];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        (void)unlink(path);
    }
    (void)rmdir(dir);
}
