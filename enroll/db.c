/* enroll/db.c — see db.h. */
#include "enroll/db.h"

#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "wire/reader.h"
#include "wire/writer.h"

#define RECORD_VERSION 1
#define TOKEN_RECORD_MAX (1 + 4 + 4 + 8 + 8 + 1 + CORDON_TOKEN_LABEL_MAX)
#define NODE_RECORD_MAX                                                                            \
    (1 + CORDON_NODE_ID_LEN + CORDON_SERIAL_LEN + 32 + 1 + CORDON_TOKEN_LABEL_MAX + 8 * 3 + 1 +    \
     CORDON_TOKEN_LABEL_MAX + 2 + CORDON_CERT_MAX)
#define META_VALUE_MAX (CORDON_CRL_MAX + 64)
#define SERIAL_VALUE_LEN (CORDON_NODE_ID_LEN + 8)

struct cordon_db {
    MDB_env *env;
    MDB_dbi tokens;  /* sha256(token) -> token record */
    MDB_dbi nodes;   /* node ID -> node record */
    MDB_dbi serials; /* serial -> node ID || not_after (u64; older databases: node ID) */
    MDB_dbi meta;    /* name -> value */
};

struct cordon_db_txn {
    cordon_db *db;
    MDB_txn *txn;
    bool write;
    cordon_err failed; /* first error of a write transaction: it poisons the commit */
};

static cordon_err from_mdb(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return CORDON_OK;
    case MDB_NOTFOUND:
        return CORDON_ERR_NOT_FOUND;
    case MDB_KEYEXIST:
        return CORDON_ERR_EXISTS;
    case MDB_MAP_FULL:
        return CORDON_ERR_BUSY;
    default:
        return CORDON_ERR_DB;
    }
}

/* Records a failure so that a write transaction cannot be committed half-done. */
static cordon_err note(cordon_db_txn *t, cordon_err err)
{
    if (err != CORDON_OK && err != CORDON_ERR_NOT_FOUND && t->write && t->failed == CORDON_OK)
        t->failed = err;
    return err;
}

cordon_err cordon_db_open(const char *path, bool create, cordon_db **out)
{
    cordon_err err = CORDON_ERR_DB;
    MDB_txn *txn = NULL;
    cordon_db *db = calloc(1, sizeof(*db));
    if (db == NULL)
        return CORDON_ERR_NOMEM;
    if (mdb_env_create(&db->env) != MDB_SUCCESS)
        goto err;
    if (mdb_env_set_maxdbs(db->env, 8) != MDB_SUCCESS ||
        mdb_env_set_mapsize(db->env, CORDON_DB_MAP_SIZE) != MDB_SUCCESS ||
        mdb_env_set_maxreaders(db->env, CORDON_HTTP_CONN_MAX + 16) != MDB_SUCCESS)
        goto err;
    /* The file must exist for an open and must not for a create; LMDB alone creates it
     * silently in both cases. */
    bool exists = cordon_path_exists(path);
    if (create && exists) {
        err = CORDON_ERR_EXISTS;
        goto err;
    }
    if (!create && !exists) {
        err = CORDON_ERR_NOT_FOUND;
        goto err;
    }
    /* MDB_NOTLS: read transactions are not tied to threads (the HTTP workers). */
    if (mdb_env_open(db->env, path, MDB_NOSUBDIR | MDB_NOTLS, 0600) != MDB_SUCCESS)
        goto err;
    unsigned flags = create ? MDB_CREATE : 0;
    if (mdb_txn_begin(db->env, NULL, 0, &txn) != MDB_SUCCESS)
        goto err;
    if (mdb_dbi_open(txn, "tokens", flags, &db->tokens) != MDB_SUCCESS ||
        mdb_dbi_open(txn, "nodes", flags, &db->nodes) != MDB_SUCCESS ||
        mdb_dbi_open(txn, "serials", flags, &db->serials) != MDB_SUCCESS ||
        mdb_dbi_open(txn, "meta", flags, &db->meta) != MDB_SUCCESS)
        goto err;
    if (mdb_txn_commit(txn) != MDB_SUCCESS) {
        txn = NULL;
        goto err;
    }
    *out = db;
    return CORDON_OK;
err:
    if (txn != NULL)
        mdb_txn_abort(txn);
    cordon_db_close(db);
    return err;
}

void cordon_db_close(cordon_db *db)
{
    if (db == NULL)
        return;
    if (db->env != NULL)
        mdb_env_close(db->env);
    free(db);
}

cordon_err cordon_db_begin(cordon_db *db, bool write, cordon_db_txn **out)
{
    cordon_db_txn *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return CORDON_ERR_NOMEM;
    int rc = mdb_txn_begin(db->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (rc != MDB_SUCCESS) {
        free(t);
        return from_mdb(rc);
    }
    t->db = db;
    t->write = write;
    *out = t;
    return CORDON_OK;
}

cordon_err cordon_db_commit(cordon_db_txn *t)
{
    cordon_err err = t->failed;
    if (err != CORDON_OK)
        mdb_txn_abort(t->txn);
    else
        err = from_mdb(mdb_txn_commit(t->txn));
    free(t);
    return err;
}

void cordon_db_abort(cordon_db_txn *t)
{
    if (t == NULL)
        return;
    mdb_txn_abort(t->txn);
    free(t);
}

static cordon_err get(cordon_db_txn *t, MDB_dbi dbi, const void *key, size_t klen, MDB_val *v)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    return note(t, from_mdb(mdb_get(t->txn, dbi, &k, v)));
}

static cordon_err put(cordon_db_txn *t, MDB_dbi dbi, const void *key, size_t klen, const void *val,
                      size_t vlen, unsigned flags)
{
    if (!t->write)
        return CORDON_ERR_INVAL;
    if (t->failed != CORDON_OK)
        return t->failed;
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    MDB_val v = {.mv_size = vlen, .mv_data = (void *)val};
    cordon_err err = from_mdb(mdb_put(t->txn, dbi, &k, &v, flags));
    /* An existing key under MDB_NOOVERWRITE is an answer, not a broken transaction. */
    if (err == CORDON_ERR_EXISTS)
        return err;
    return note(t, err);
}

/* ---- record codecs ------------------------------------------------------------------- */

cordon_err cordon_token_record_encode(const struct cordon_token_record *rec, uint8_t *out,
                                      size_t cap, size_t *len)
{
    cordon_writer w;
    cordon_writer_init(&w, out, cap);
    cordon_write_u8(&w, RECORD_VERSION);
    cordon_write_u32(&w, rec->max_nodes);
    cordon_write_u32(&w, rec->used);
    cordon_write_u64(&w, (uint64_t)rec->created_at);
    cordon_write_u64(&w, (uint64_t)rec->expires_at);
    cordon_write_prefixed(&w, 1, rec->label, strnlen(rec->label, sizeof(rec->label) - 1));
    return cordon_writer_finish(&w, len);
}

cordon_err cordon_token_record_decode(const void *data, size_t len, struct cordon_token_record *rec)
{
    struct cordon_token_record tmp;
    cordon_reader r;
    uint8_t version;
    uint64_t created, expires;
    cordon_reader_init(&r, data, len);
    if (cordon_read_u8(&r, &version) != CORDON_OK || version != RECORD_VERSION ||
        cordon_read_u32(&r, &tmp.max_nodes) != CORDON_OK ||
        cordon_read_u32(&r, &tmp.used) != CORDON_OK || cordon_read_u64(&r, &created) != CORDON_OK ||
        cordon_read_u64(&r, &expires) != CORDON_OK ||
        cordon_read_text(&r, 1, tmp.label, sizeof(tmp.label)) != CORDON_OK ||
        cordon_reader_end(&r) != CORDON_OK)
        return CORDON_ERR_DB;
    if (tmp.used > tmp.max_nodes || created > INT64_MAX || expires > INT64_MAX)
        return CORDON_ERR_DB;
    tmp.created_at = (int64_t)created;
    tmp.expires_at = (int64_t)expires;
    *rec = tmp;
    return CORDON_OK;
}

cordon_err cordon_node_record_encode(const struct cordon_node_record *rec, cordon_buf *out)
{
    uint8_t tmp[NODE_RECORD_MAX];
    size_t len;
    cordon_writer w;
    cordon_writer_init(&w, tmp, sizeof(tmp));
    cordon_write_u8(&w, RECORD_VERSION);
    cordon_write_bytes(&w, rec->node_id, CORDON_NODE_ID_LEN);
    cordon_write_bytes(&w, rec->serial, CORDON_SERIAL_LEN);
    cordon_write_bytes(&w, rec->token_hash, 32);
    cordon_write_prefixed(&w, 1, rec->token_label,
                          strnlen(rec->token_label, sizeof(rec->token_label) - 1));
    cordon_write_u64(&w, (uint64_t)rec->issued_at);
    cordon_write_u64(&w, (uint64_t)rec->not_after);
    cordon_write_u64(&w, (uint64_t)rec->revoked_at);
    cordon_write_prefixed(&w, 1, rec->reason, strnlen(rec->reason, sizeof(rec->reason) - 1));
    if (rec->cert_der_len > CORDON_CERT_MAX)
        return CORDON_ERR_TOO_LARGE;
    cordon_write_prefixed(&w, 2, rec->cert_der, rec->cert_der_len);
    cordon_err err = cordon_writer_finish(&w, &len);
    if (err != CORDON_OK)
        return err;
    return cordon_buf_append(out, tmp, len);
}

cordon_err cordon_node_record_decode(const void *data, size_t len, struct cordon_node_record *rec)
{
    struct cordon_node_record tmp;
    cordon_reader r, cert;
    uint8_t version;
    uint64_t issued, not_after, revoked;
    memset(&tmp, 0, sizeof(tmp));
    cordon_reader_init(&r, data, len);
    if (cordon_read_u8(&r, &version) != CORDON_OK || version != RECORD_VERSION ||
        cordon_read_bytes(&r, tmp.node_id, CORDON_NODE_ID_LEN) != CORDON_OK ||
        cordon_read_bytes(&r, tmp.serial, CORDON_SERIAL_LEN) != CORDON_OK ||
        cordon_read_bytes(&r, tmp.token_hash, 32) != CORDON_OK ||
        cordon_read_text(&r, 1, tmp.token_label, sizeof(tmp.token_label)) != CORDON_OK ||
        cordon_read_u64(&r, &issued) != CORDON_OK || cordon_read_u64(&r, &not_after) != CORDON_OK ||
        cordon_read_u64(&r, &revoked) != CORDON_OK ||
        cordon_read_text(&r, 1, tmp.reason, sizeof(tmp.reason)) != CORDON_OK ||
        cordon_read_sub(&r, 2, CORDON_CERT_MAX, &cert) != CORDON_OK ||
        cordon_reader_end(&r) != CORDON_OK)
        return CORDON_ERR_DB;
    if (issued > INT64_MAX || not_after > INT64_MAX || revoked > INT64_MAX || cert.len == 0)
        return CORDON_ERR_DB;
    tmp.issued_at = (int64_t)issued;
    tmp.not_after = (int64_t)not_after;
    tmp.revoked_at = (int64_t)revoked;
    tmp.cert_der = malloc(cert.len);
    if (tmp.cert_der == NULL)
        return CORDON_ERR_NOMEM;
    memcpy(tmp.cert_der, cert.data, cert.len);
    tmp.cert_der_len = cert.len;
    *rec = tmp;
    return CORDON_OK;
}

void cordon_node_record_clear(struct cordon_node_record *rec)
{
    if (rec == NULL)
        return;
    free(rec->cert_der);
    rec->cert_der = NULL;
    rec->cert_der_len = 0;
}

/* ---- tokens ---------------------------------------------------------------------------- */

cordon_err cordon_db_token_get(cordon_db_txn *t, const uint8_t hash[32],
                               struct cordon_token_record *out)
{
    MDB_val v;
    cordon_err err = get(t, t->db->tokens, hash, 32, &v);
    if (err != CORDON_OK)
        return err;
    return note(t, cordon_token_record_decode(v.mv_data, v.mv_size, out));
}

cordon_err cordon_db_token_put(cordon_db_txn *t, const uint8_t hash[32],
                               const struct cordon_token_record *rec)
{
    uint8_t tmp[TOKEN_RECORD_MAX];
    size_t len;
    cordon_err err = cordon_token_record_encode(rec, tmp, sizeof(tmp), &len);
    if (err != CORDON_OK)
        return note(t, err);
    return put(t, t->db->tokens, hash, 32, tmp, len, 0);
}

static cordon_err count_entries(cordon_db_txn *t, MDB_dbi dbi, size_t *count)
{
    MDB_stat st;
    int rc = mdb_stat(t->txn, dbi, &st);
    if (rc != MDB_SUCCESS)
        return note(t, from_mdb(rc));
    *count = st.ms_entries;
    return CORDON_OK;
}

cordon_err cordon_db_token_count(cordon_db_txn *t, size_t *count)
{
    return count_entries(t, t->db->tokens, count);
}

/* ---- nodes ----------------------------------------------------------------------------- */

static cordon_err node_put(cordon_db_txn *t, const struct cordon_node_record *rec, unsigned flags)
{
    cordon_buf b;
    cordon_buf_init(&b, NODE_RECORD_MAX, false);
    cordon_err err = cordon_node_record_encode(rec, &b);
    if (err == CORDON_OK)
        err = put(t, t->db->nodes, rec->node_id, CORDON_NODE_ID_LEN, b.data, b.len, flags);
    else
        note(t, err);
    cordon_buf_free(&b);
    return err;
}

/* Reserves rec's serial for good (MDB_NOOVERWRITE: CORDON_ERR_EXISTS if taken), with the
 * node it belongs to and when its certificate expires, so that a revocation can list every
 * certificate of the node that is still valid, superseded ones included. */
static cordon_err serial_put(cordon_db_txn *t, const struct cordon_node_record *rec)
{
    uint8_t v[SERIAL_VALUE_LEN];
    cordon_writer w;
    size_t len;
    cordon_writer_init(&w, v, sizeof(v));
    cordon_write_bytes(&w, rec->node_id, CORDON_NODE_ID_LEN);
    cordon_write_u64(&w, (uint64_t)rec->not_after);
    cordon_err err = cordon_writer_finish(&w, &len);
    if (err != CORDON_OK)
        return note(t, err);
    return put(t, t->db->serials, rec->serial, CORDON_SERIAL_LEN, v, len, MDB_NOOVERWRITE);
}

cordon_err cordon_db_node_add(cordon_db_txn *t, const struct cordon_node_record *rec)
{
    /* Serial first: both must be new, and a refusal must leave nothing behind. */
    cordon_err err = serial_put(t, rec);
    if (err != CORDON_OK)
        return err;
    err = node_put(t, rec, MDB_NOOVERWRITE);
    if (err == CORDON_ERR_EXISTS) {
        MDB_val k = {.mv_size = CORDON_SERIAL_LEN, .mv_data = (void *)rec->serial};
        if (mdb_del(t->txn, t->db->serials, &k, NULL) != MDB_SUCCESS)
            note(t, CORDON_ERR_DB);
    }
    return err;
}

cordon_err cordon_db_node_update(cordon_db_txn *t, const struct cordon_node_record *rec)
{
    struct cordon_node_record old;
    cordon_err err = cordon_db_node_get(t, rec->node_id, &old);
    if (err != CORDON_OK)
        return err;
    bool new_serial = memcmp(old.serial, rec->serial, CORDON_SERIAL_LEN) != 0;
    cordon_node_record_clear(&old);
    /* A renewal brings a new serial: it must be unused, and the old one stays reserved
     * (it may still be listed in a CRL), so serials never repeat. */
    if (new_serial) {
        err = serial_put(t, rec);
        if (err != CORDON_OK)
            return err;
    }
    return node_put(t, rec, 0);
}

cordon_err cordon_db_node_get(cordon_db_txn *t, const uint8_t node_id[CORDON_NODE_ID_LEN],
                              struct cordon_node_record *out)
{
    MDB_val v;
    cordon_err err = get(t, t->db->nodes, node_id, CORDON_NODE_ID_LEN, &v);
    if (err != CORDON_OK)
        return err;
    return note(t, cordon_node_record_decode(v.mv_data, v.mv_size, out));
}

cordon_err cordon_db_node_each(cordon_db_txn *t, cordon_db_node_fn fn, void *arg)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(t->txn, t->db->nodes, &cur);
    if (rc != MDB_SUCCESS)
        return note(t, from_mdb(rc));
    cordon_err err = CORDON_OK;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct cordon_node_record rec;
        err = cordon_node_record_decode(v.mv_data, v.mv_size, &rec);
        if (err != CORDON_OK)
            break;
        err = fn(&rec, arg);
        cordon_node_record_clear(&rec);
        if (err != CORDON_OK)
            break;
    }
    if (err == CORDON_OK && rc != MDB_NOTFOUND)
        err = from_mdb(rc);
    mdb_cursor_close(cur);
    return err;
}

cordon_err cordon_db_serial_each(cordon_db_txn *t, cordon_db_serial_fn fn, void *arg)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(t->txn, t->db->serials, &cur);
    if (rc != MDB_SUCCESS)
        return note(t, from_mdb(rc));
    cordon_err err = CORDON_OK;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint8_t node_id[CORDON_NODE_ID_LEN];
        uint64_t not_after = 0;
        cordon_reader r;
        cordon_reader_init(&r, v.mv_data, v.mv_size);
        if (k.mv_size != CORDON_SERIAL_LEN ||
            cordon_read_bytes(&r, node_id, sizeof(node_id)) != CORDON_OK ||
            (cordon_reader_left(&r) != 0 && cordon_read_u64(&r, &not_after) != CORDON_OK) ||
            cordon_reader_end(&r) != CORDON_OK || not_after > INT64_MAX) {
            err = CORDON_ERR_DB;
            break;
        }
        /* A serial reserved by an older version carries no expiry: -1, unknown. */
        err = fn(k.mv_data, node_id, v.mv_size == SERIAL_VALUE_LEN ? (int64_t)not_after : -1, arg);
        if (err != CORDON_OK)
            break;
    }
    if (err == CORDON_OK && rc != MDB_NOTFOUND)
        err = from_mdb(rc);
    mdb_cursor_close(cur);
    return note(t, err);
}

cordon_err cordon_db_node_count(cordon_db_txn *t, size_t *count)
{
    return count_entries(t, t->db->nodes, count);
}

/* ---- metadata -------------------------------------------------------------------------- */

cordon_err cordon_db_meta_get(cordon_db_txn *t, const char *key, cordon_buf *out)
{
    MDB_val v;
    cordon_err err = get(t, t->db->meta, key, strlen(key), &v);
    if (err != CORDON_OK)
        return err;
    if (v.mv_size > META_VALUE_MAX)
        return note(t, CORDON_ERR_DB);
    return cordon_buf_append(out, v.mv_data, v.mv_size);
}

cordon_err cordon_db_meta_put(cordon_db_txn *t, const char *key, const void *value, size_t len)
{
    if (len > META_VALUE_MAX)
        return note(t, CORDON_ERR_TOO_LARGE);
    return put(t, t->db->meta, key, strlen(key), value, len, 0);
}

cordon_err cordon_db_meta_get_u64(cordon_db_txn *t, const char *key, uint64_t *out)
{
    MDB_val v;
    cordon_err err = get(t, t->db->meta, key, strlen(key), &v);
    if (err != CORDON_OK)
        return err;
    cordon_reader r;
    cordon_reader_init(&r, v.mv_data, v.mv_size);
    if (cordon_read_u64(&r, out) != CORDON_OK || cordon_reader_end(&r) != CORDON_OK)
        return note(t, CORDON_ERR_DB);
    return CORDON_OK;
}

cordon_err cordon_db_meta_put_u64(cordon_db_txn *t, const char *key, uint64_t v)
{
    uint8_t tmp[8];
    cordon_writer w;
    cordon_writer_init(&w, tmp, sizeof(tmp));
    cordon_write_u64(&w, v);
    return cordon_db_meta_put(t, key, tmp, sizeof(tmp));
}
