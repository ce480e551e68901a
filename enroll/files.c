/* enroll/files.c — see files.h. */
#include "enroll/files.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cordon_err cordon_enroll_paths(const char *dir, struct cordon_enroll_paths *p)
{
    static const struct {
        size_t offset;
        const char *name;
    } files[] = {
        {offsetof(struct cordon_enroll_paths, ca_key), "ca.key"},
        {offsetof(struct cordon_enroll_paths, ca_cert), "ca.crt"},
        {offsetof(struct cordon_enroll_paths, server_key), "server.key"},
        {offsetof(struct cordon_enroll_paths, server_cert), "server.crt"},
        {offsetof(struct cordon_enroll_paths, params), "params.json"},
        {offsetof(struct cordon_enroll_paths, db), "enroll.db"},
        {offsetof(struct cordon_enroll_paths, audit), "audit.log"},
    };
    if (dir == NULL || dir[0] == '\0' || strlen(dir) >= sizeof(p->dir) - 32)
        return CORDON_ERR_TOO_LARGE;
    memset(p, 0, sizeof(*p));
    memcpy(p->dir, dir, strlen(dir) + 1);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        cordon_err err = cordon_path_join((char *)p + files[i].offset, dir, files[i].name);
        if (err != CORDON_OK)
            return err;
    }
    return CORDON_OK;
}

cordon_err cordon_enroll_load_state(const struct cordon_enroll_paths *paths,
                                    char overlay[CORDON_OVERLAY_NAME_MAX + 1],
                                    struct cordon_overlay_params *params, cordon_buf *ca_pem)
{
    cordon_db *db = NULL;
    cordon_db_txn *txn = NULL;
    cordon_buf name, text;
    cordon_cert *ca = NULL;
    cordon_buf_init(&name, CORDON_OVERLAY_NAME_MAX, false);
    cordon_buf_init(&text, CORDON_OVERLAY_DOC_MAX, false);
    cordon_err err = cordon_db_open(paths->db, false, &db);
    if (err == CORDON_OK)
        err = cordon_db_begin(db, false, &txn);
    if (err == CORDON_OK)
        err = cordon_db_meta_get(txn, "overlay", &name);
    cordon_db_abort(txn);
    cordon_db_close(db);
    if (err == CORDON_OK && cordon_buf_terminate(&name) == CORDON_OK &&
        cordon_overlay_name_check((const char *)name.data) == CORDON_OK)
        memcpy(overlay, name.data, name.len + 1);
    else if (err == CORDON_OK)
        err = CORDON_ERR_DB;
    if (err == CORDON_OK)
        err = cordon_read_file(paths->params, CORDON_OVERLAY_DOC_MAX, &text);
    if (err == CORDON_OK)
        err = cordon_overlay_params_decode(text.data, text.len, params);
    /* The CA certificate is re-encoded from its parsed form: what is served is canonical. */
    if (err == CORDON_OK)
        err = cordon_cert_load(paths->ca_cert, &ca);
    if (err == CORDON_OK)
        err = cordon_cert_pem(ca, ca_pem);
    if (err == CORDON_OK)
        err = cordon_buf_terminate(ca_pem);
    cordon_cert_free(ca);
    cordon_buf_free(&name);
    cordon_buf_free(&text);
    return err;
}

/* The revoked nodes, in node ID order (the walk's order), each with its newest
 * certificate's notAfter and the time of its revocation. */
struct revoked_node {
    uint8_t node_id[CORDON_NODE_ID_LEN];
    int64_t not_after;
    int64_t revoked_at;
};

struct revoked_list {
    struct revoked_node *nodes;
    size_t n_nodes, cap_nodes;
    struct cordon_revoked *items;
    size_t n, cap;
    int64_t now;
};

static cordon_err collect_revoked_node(const struct cordon_node_record *rec, void *arg)
{
    struct revoked_list *l = arg;
    if (rec->revoked_at == 0)
        return CORDON_OK;
    if (l->n_nodes == l->cap_nodes) {
        if (l->cap_nodes >= CORDON_CRL_ENTRIES_MAX)
            return CORDON_ERR_TOO_LARGE;
        size_t cap = l->cap_nodes ? l->cap_nodes * 2 : 64;
        struct revoked_node *nodes = realloc(l->nodes, cap * sizeof(*nodes));
        if (nodes == NULL)
            return CORDON_ERR_NOMEM;
        l->nodes = nodes;
        l->cap_nodes = cap;
    }
    struct revoked_node *n = &l->nodes[l->n_nodes++];
    memcpy(n->node_id, rec->node_id, sizeof(n->node_id));
    n->not_after = rec->not_after;
    n->revoked_at = rec->revoked_at;
    return CORDON_OK;
}

static int node_cmp(const void *key, const void *elem)
{
    return memcmp(key, ((const struct revoked_node *)elem)->node_id, CORDON_NODE_ID_LEN);
}

/* Every certificate of a revoked node goes on the CRL, the ones its renewals superseded
 * too, until it expires: an expired certificate fails on its own. A serial of unknown
 * expiry expires, at the latest, with the node's newest certificate. */
static cordon_err collect_revoked_serial(const uint8_t serial[CORDON_SERIAL_LEN],
                                         const uint8_t node_id[CORDON_NODE_ID_LEN],
                                         int64_t not_after, void *arg)
{
    struct revoked_list *l = arg;
    const struct revoked_node *n =
        bsearch(node_id, l->nodes, l->n_nodes, sizeof(*l->nodes), node_cmp);
    if (n == NULL)
        return CORDON_OK;
    if ((not_after >= 0 ? not_after : n->not_after) < l->now)
        return CORDON_OK;
    if (l->n == l->cap) {
        if (l->cap >= CORDON_CRL_ENTRIES_MAX)
            return CORDON_ERR_TOO_LARGE;
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct cordon_revoked *items = realloc(l->items, cap * sizeof(*items));
        if (items == NULL)
            return CORDON_ERR_NOMEM;
        l->items = items;
        l->cap = cap;
    }
    memcpy(l->items[l->n].serial, serial, CORDON_SERIAL_LEN);
    l->items[l->n].revoked_at = n->revoked_at;
    l->n++;
    return CORDON_OK;
}

cordon_err cordon_enroll_write_crl(cordon_db *db, int64_t now, uint32_t validity,
                                   const cordon_key *ca_key, const cordon_cert *ca_cert,
                                   cordon_signer *signer, cordon_crl_mark_fn mark, void *arg)
{
    struct revoked_list list = {.now = now};
    cordon_db_txn *txn = NULL;
    cordon_buf der;
    cordon_crl *crl = NULL;
    uint64_t number = 0;
    cordon_buf_init(&der, CORDON_CRL_MAX, false);
    cordon_err err = cordon_db_begin(db, true, &txn);
    if (err != CORDON_OK)
        goto out;
    if (mark != NULL && (err = mark(txn, arg)) != CORDON_OK)
        goto out;
    if (cordon_db_meta_get_u64(txn, "crl_number", &number) != CORDON_OK)
        number = 0;
    number++;
    err = cordon_db_node_each(txn, collect_revoked_node, &list);
    if (err == CORDON_OK && list.n_nodes > 0)
        err = cordon_db_serial_each(txn, collect_revoked_serial, &list);
    if (err != CORDON_OK)
        goto out;
    /* lastUpdate lies a minute back, as certificates' notBefore does, so that a peer
     * whose clock runs a little slow accepts a CRL signed just now. */
    int64_t this_update = now - 60;
    if (signer != NULL) {
        err = cordon_signer_crl(signer, number, this_update, now + validity, list.items, list.n,
                                &der);
    } else {
        err = cordon_crl_create(ca_key, ca_cert, number, this_update, now + validity, list.items,
                                list.n, &crl);
        if (err == CORDON_OK)
            err = cordon_crl_der(crl, &der);
    }
    if (err == CORDON_OK)
        err = cordon_db_meta_put(txn, "crl", der.data, der.len);
    if (err == CORDON_OK)
        err = cordon_db_meta_put_u64(txn, "crl_number", number);
    if (err == CORDON_OK)
        err = cordon_db_meta_put_u64(txn, "crl_next_update", (uint64_t)(now + validity));
    if (err == CORDON_OK) {
        err = cordon_db_commit(txn);
        txn = NULL;
    }
out:
    cordon_db_abort(txn);
    cordon_crl_free(crl);
    cordon_buf_free(&der);
    free(list.items);
    free(list.nodes);
    return err;
}
