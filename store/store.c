/* store/store.c — see store.h. */
#include "store/store.h"

#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "wire/reader.h"
#include "wire/writer.h"

#define STORE_FORMAT 1
#define USAGE_LEN 16 /* u64 objects | u64 bytes */
#define EXPIRY_KEY_LEN (8 + CORDON_OBJECT_ENTRY_KEY_LEN)
#define META_VERSION "version"
#define META_TOTALS "totals"

struct cordon_store {
    MDB_env *env;
    MDB_dbi objects; /* entry key -> encoded object */
    MDB_dbi usage;   /* writer -> u64 objects | u64 bytes (absent: 0, 0) */
    MDB_dbi expiry;  /* u64 expires_at (BE) || entry key -> empty */
    MDB_dbi meta;    /* "version" -> u32; "totals" -> u64 objects | u64 bytes */
    MDB_dbi mine;    /* entry key -> u64 republish_at | the writer's own encoded object */
    MDB_dbi due;     /* u64 republish_at (BE) || entry key -> empty */
    uint64_t max_lifetime;
    uint64_t skew;
    size_t value_max;
    uint64_t writer_objects, writer_bytes;
    uint64_t node_objects, node_bytes;
    uint64_t mine_max;
    /* Totals as committed (meta "totals"), kept here so stats cost no transaction. */
    uint64_t objects_total, bytes_total;
    uint64_t accepted, refused, expired;
    bool touched; /* the last commit was touch(): a full map is full indeed */
    /* Group commit (cordon_store_batch_begin). batch is the batch's write transaction: NULL
     * outside one, in a direct batch, and once the batch is lost. Puts write into it
     * directly, other writes in a child of it; what follows is what the batch changed in
     * memory, undone when it is lost. */
    MDB_txn *batch;
    bool batch_open;                     /* between batch_begin and batch_end */
    cordon_err batch_err;                /* the batch was lost: what its writes and end return */
    size_t batch_writes;                 /* writes in it: none ends with no commit */
    uint64_t batch_objects, batch_bytes; /* the totals as committed before it */
    uint64_t batch_accepted, batch_expired;
    /* A batch was lost to a full map: until an expiry step frees pages, batches are direct
     * (each put commits alone, as outside one), so that a nearly full node keeps taking
     * what fits instead of losing every batch. */
    bool batch_direct;
};

/* What put and expire keep of a stored object once its bytes may move (a write in the same
 * transaction can reuse the page a value was read from). */
struct stored {
    bool present;
    uint8_t kind;
    uint8_t writer[CORDON_NODE_ID_LEN];
    uint64_t seq;
    uint64_t expires_at;
    uint64_t len;
};

/* MDB_MAP_FULL is the node being full (put) or, where nothing is added, a broken store.
 * Inside put it is first MAP_FULL, which put retries once (see touch()) and then returns
 * as CORDON_ERR_OBJ_CAPACITY: CORDON_ERR_BUSY never leaves this file. */
#define MAP_FULL CORDON_ERR_BUSY
static cordon_err from_mdb(int rc, cordon_err full)
{
    switch (rc) {
    case MDB_SUCCESS:
        return CORDON_OK;
    case MDB_NOTFOUND:
        return CORDON_ERR_NOT_FOUND;
    case MDB_MAP_FULL:
        return full;
    default:
        return CORDON_ERR_DB;
    }
}

/* Errors of the store itself or of its caller, as opposed to a refused object. */
static bool is_refusal(cordon_err err)
{
    switch (err) {
    case CORDON_OK:
    case CORDON_ERR_NOMEM:
    case CORDON_ERR_INVAL:
    case CORDON_ERR_IO:
    case CORDON_ERR_CRYPTO:
    case CORDON_ERR_DB:
        return false;
    default:
        return true;
    }
}

/* ---- records ------------------------------------------------------------------------- */

static cordon_err pair_encode(uint64_t a, uint64_t b, uint8_t out[USAGE_LEN])
{
    cordon_writer w;
    size_t len;
    cordon_writer_init(&w, out, USAGE_LEN);
    cordon_write_u64(&w, a);
    cordon_write_u64(&w, b);
    return cordon_writer_finish(&w, &len);
}

static cordon_err pair_decode(const MDB_val *v, uint64_t *a, uint64_t *b)
{
    cordon_reader r;
    uint64_t x, y;
    cordon_reader_init(&r, v->mv_data, v->mv_size);
    if (cordon_read_u64(&r, &x) != CORDON_OK || cordon_read_u64(&r, &y) != CORDON_OK ||
        cordon_reader_end(&r) != CORDON_OK)
        return CORDON_ERR_DB;
    *a = x;
    *b = y;
    return CORDON_OK;
}

static cordon_err expiry_key(uint64_t expires_at, const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                             uint8_t out[EXPIRY_KEY_LEN])
{
    cordon_writer w;
    size_t len;
    cordon_writer_init(&w, out, EXPIRY_KEY_LEN);
    cordon_write_u64(&w, expires_at);
    cordon_write_bytes(&w, key, CORDON_OBJECT_ENTRY_KEY_LEN);
    return cordon_writer_finish(&w, &len);
}

/* Decodes a stored value: bytes that were accepted once and no longer decode mean the
 * database is damaged, not that a writer sent something wrong. */
static cordon_err stored_decode(const MDB_val *v, struct cordon_object *o)
{
    if (cordon_object_decode(v->mv_data, v->mv_size, o) != CORDON_OK)
        return CORDON_ERR_DB;
    return CORDON_OK;
}

/* Reads the object under key into *s (s->present false when there is none). */
static cordon_err stored_read(MDB_txn *txn, MDB_dbi dbi,
                              const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN], struct stored *s)
{
    MDB_val k = {.mv_size = CORDON_OBJECT_ENTRY_KEY_LEN, .mv_data = (void *)key};
    MDB_val v;
    struct cordon_object o;
    memset(s, 0, sizeof(*s));
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return CORDON_OK;
    if (rc != MDB_SUCCESS)
        return CORDON_ERR_DB;
    if (stored_decode(&v, &o) != CORDON_OK)
        return CORDON_ERR_DB;
    s->present = true;
    s->kind = o.kind;
    memcpy(s->writer, o.writer, CORDON_NODE_ID_LEN);
    s->seq = o.seq;
    s->expires_at = cordon_object_expires_at(&o);
    s->len = v.mv_size;
    return CORDON_OK;
}

/* Kind crl is the overlay's, not its writer's: it counts toward the node only. */
static bool charged(uint8_t kind)
{
    return kind != CORDON_KIND_CRL;
}

static cordon_err usage_read(MDB_txn *txn, MDB_dbi dbi, const uint8_t writer[CORDON_NODE_ID_LEN],
                             uint64_t *objects, uint64_t *bytes)
{
    MDB_val k = {.mv_size = CORDON_NODE_ID_LEN, .mv_data = (void *)writer};
    MDB_val v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *objects = 0;
        *bytes = 0;
        return CORDON_OK;
    }
    if (rc != MDB_SUCCESS)
        return CORDON_ERR_DB;
    return pair_decode(&v, objects, bytes);
}

/* A writer with nothing left has no record, so usage does not grow with every writer
 * ever seen. */
static cordon_err usage_write(MDB_txn *txn, MDB_dbi dbi, const uint8_t writer[CORDON_NODE_ID_LEN],
                              uint64_t objects, uint64_t bytes, cordon_err full)
{
    MDB_val k = {.mv_size = CORDON_NODE_ID_LEN, .mv_data = (void *)writer};
    if (objects == 0 && bytes == 0) {
        int rc = mdb_del(txn, dbi, &k, NULL);
        return rc == MDB_NOTFOUND ? CORDON_OK : from_mdb(rc, full);
    }
    uint8_t rec[USAGE_LEN];
    cordon_err err = pair_encode(objects, bytes, rec);
    if (err != CORDON_OK)
        return err;
    MDB_val v = {.mv_size = USAGE_LEN, .mv_data = rec};
    return from_mdb(mdb_put(txn, dbi, &k, &v, 0), full);
}

/* Removes one object's charge from its writer's usage. */
static cordon_err usage_release(MDB_txn *txn, MDB_dbi dbi, const struct stored *s, cordon_err full)
{
    uint64_t objects, bytes;
    if (!charged(s->kind))
        return CORDON_OK;
    cordon_err err = usage_read(txn, dbi, s->writer, &objects, &bytes);
    if (err != CORDON_OK)
        return err;
    if (objects < 1 || bytes < s->len)
        return CORDON_ERR_DB; /* usage disagrees with the objects */
    return usage_write(txn, dbi, s->writer, objects - 1, bytes - s->len, full);
}

static cordon_err totals_write(MDB_txn *txn, MDB_dbi dbi, uint64_t objects, uint64_t bytes,
                               cordon_err full)
{
    uint8_t rec[USAGE_LEN];
    cordon_err err = pair_encode(objects, bytes, rec);
    if (err != CORDON_OK)
        return err;
    MDB_val k = {.mv_size = strlen(META_TOTALS), .mv_data = (void *)META_TOTALS};
    MDB_val v = {.mv_size = USAGE_LEN, .mv_data = rec};
    return from_mdb(mdb_put(txn, dbi, &k, &v, 0), full);
}

/* Reads inside a batch go through the batch's write transaction, and see its puts: LMDB
 * gives a thread one transaction at a time, so a read transaction next to the batch's is
 * not allowed. Outside a batch, a read transaction that the caller ends with read_end. */
static int read_begin(cordon_store *st, MDB_txn **txn)
{
    if (st->batch != NULL) {
        *txn = st->batch;
        return MDB_SUCCESS;
    }
    return mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
}

static void read_end(cordon_store *st, MDB_txn *txn)
{
    if (txn != st->batch)
        mdb_txn_abort(txn);
}

/* The batch is lost (its transaction aborted, what it changed in memory undone): its later
 * writes and its end return err. Reads see the committed store again. A full map makes the
 * next batches direct. */
static void batch_lose(cordon_store *st, cordon_err err)
{
    if (st->batch != NULL)
        mdb_txn_abort(st->batch);
    st->batch = NULL;
    st->batch_err = err;
    if (err == CORDON_ERR_OBJ_CAPACITY)
        st->batch_direct = true;
    st->objects_total = st->batch_objects;
    st->bytes_total = st->batch_bytes;
    st->accepted -= st->batch_accepted;
    st->expired -= st->batch_expired;
    st->batch_accepted = 0;
    st->batch_expired = 0;
}

/* Inside a batch, a write other than a put is a child transaction of the batch's (it
 * commits into it with no sync, or aborts leaving it as it was); outside, a transaction of
 * its own. A child that cannot begin or commit loses the batch. */
static int write_begin(cordon_store *st, MDB_txn **txn)
{
    if (st->batch_open && st->batch_err != CORDON_OK)
        return MDB_BAD_TXN;
    int rc = mdb_txn_begin(st->env, st->batch, 0, txn);
    if (rc != MDB_SUCCESS && st->batch != NULL)
        batch_lose(st, CORDON_ERR_DB);
    return rc;
}

/* Commits a write of write_begin(); true when it reached the disk, not only its batch. */
static int write_commit(cordon_store *st, MDB_txn *txn, bool *durable)
{
    bool in_batch = st->batch != NULL;
    int rc = mdb_txn_commit(txn);
    *durable = rc == MDB_SUCCESS && !in_batch;
    if (in_batch) {
        if (rc == MDB_SUCCESS)
            st->batch_writes++;
        else
            batch_lose(st, CORDON_ERR_DB);
    }
    return rc;
}

/* ---- open and close ------------------------------------------------------------------ */

static cordon_err configure(cordon_store *st, const struct cordon_store_config *cfg,
                            uint64_t *map_size)
{
    *map_size = cfg->map_size ? cfg->map_size : CORDON_STORE_MAP_SIZE;
    st->max_lifetime = cfg->max_lifetime ? cfg->max_lifetime : CORDON_OBJECT_LIFETIME_MAX;
    st->skew = cfg->skew ? cfg->skew : CORDON_OBJECT_SKEW_S;
    st->value_max = cfg->value_max ? cfg->value_max : CORDON_OBJECT_VALUE_MAX;
    st->writer_objects = cfg->writer_objects ? cfg->writer_objects : CORDON_STORE_WRITER_OBJECTS;
    st->writer_bytes = cfg->writer_bytes ? cfg->writer_bytes : CORDON_STORE_WRITER_BYTES;
    st->node_objects = cfg->node_objects ? cfg->node_objects : CORDON_STORE_NODE_OBJECTS;
    st->node_bytes = cfg->node_bytes ? cfg->node_bytes : CORDON_STORE_NODE_BYTES;
    st->mine_max = cfg->mine_max ? cfg->mine_max : CORDON_STORE_MINE_MAX;
    if (st->max_lifetime > CORDON_OBJECT_LIFETIME_MAX || st->skew > CORDON_OBJECT_LIFETIME_MAX ||
        st->value_max > CORDON_OBJECT_VALUE_MAX || st->node_bytes > *map_size)
        return CORDON_ERR_INVAL;
#if SIZE_MAX < UINT64_MAX
    if (*map_size > SIZE_MAX)
        return CORDON_ERR_INVAL;
#endif
    return CORDON_OK;
}

static cordon_err make_dir(const char *path)
{
    struct stat sb;
    if (mkdir(path, 0700) == 0)
        return CORDON_OK;
    if (errno != EEXIST)
        return CORDON_ERR_IO;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return CORDON_ERR_IO;
    return CORDON_OK;
}

/* A new store gets its format and zero totals; an existing one must be of this format
 * and its totals must count the objects it holds. */
static cordon_err load_meta(cordon_store *st, MDB_txn *txn)
{
    MDB_val k = {.mv_size = strlen(META_VERSION), .mv_data = (void *)META_VERSION};
    MDB_val v;
    MDB_stat ms;
    int rc = mdb_get(txn, st->meta, &k, &v);
    if (mdb_stat(txn, st->objects, &ms) != MDB_SUCCESS)
        return CORDON_ERR_DB;
    if (rc == MDB_NOTFOUND) {
        if (ms.ms_entries != 0)
            return CORDON_ERR_DB;
        uint8_t ver[4];
        cordon_writer w;
        size_t len;
        cordon_writer_init(&w, ver, sizeof(ver));
        cordon_write_u32(&w, STORE_FORMAT);
        if (cordon_writer_finish(&w, &len) != CORDON_OK)
            return CORDON_ERR_DB;
        v.mv_size = sizeof(ver);
        v.mv_data = ver;
        if (mdb_put(txn, st->meta, &k, &v, 0) != MDB_SUCCESS)
            return CORDON_ERR_DB;
        st->objects_total = 0;
        st->bytes_total = 0;
        return totals_write(txn, st->meta, 0, 0, CORDON_ERR_DB);
    }
    if (rc != MDB_SUCCESS)
        return CORDON_ERR_DB;
    cordon_reader r;
    uint32_t version;
    cordon_reader_init(&r, v.mv_data, v.mv_size);
    if (cordon_read_u32(&r, &version) != CORDON_OK || cordon_reader_end(&r) != CORDON_OK ||
        version != STORE_FORMAT)
        return CORDON_ERR_DB;
    k.mv_size = strlen(META_TOTALS);
    k.mv_data = (void *)META_TOTALS;
    if (mdb_get(txn, st->meta, &k, &v) != MDB_SUCCESS ||
        pair_decode(&v, &st->objects_total, &st->bytes_total) != CORDON_OK ||
        st->objects_total != ms.ms_entries)
        return CORDON_ERR_DB;
    return CORDON_OK;
}

cordon_err cordon_store_open(const struct cordon_store_config *cfg, cordon_store **out)
{
    cordon_err err = CORDON_ERR_DB;
    MDB_txn *txn = NULL;
    uint64_t map_size;
    if (cfg == NULL || cfg->path == NULL || out == NULL)
        return CORDON_ERR_INVAL;
    cordon_store *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return CORDON_ERR_NOMEM;
    err = configure(st, cfg, &map_size);
    if (err != CORDON_OK)
        goto err;
    err = make_dir(cfg->path);
    if (err != CORDON_OK)
        goto err;
    err = CORDON_ERR_DB;
    if (mdb_env_create(&st->env) != MDB_SUCCESS) {
        st->env = NULL;
        goto err;
    }
    if (mdb_env_set_maxdbs(st->env, 6) != MDB_SUCCESS ||
        mdb_env_set_mapsize(st->env, (size_t)map_size) != MDB_SUCCESS)
        goto err;
    /* No MDB_NOTLS: the store is used by one thread (store.h), and its read transactions
     * never outlive a call. */
    if (mdb_env_open(st->env, cfg->path, 0, 0600) != MDB_SUCCESS)
        goto err;
    if (mdb_txn_begin(st->env, NULL, 0, &txn) != MDB_SUCCESS) {
        txn = NULL;
        goto err;
    }
    if (mdb_dbi_open(txn, "objects", MDB_CREATE, &st->objects) != MDB_SUCCESS ||
        mdb_dbi_open(txn, "usage", MDB_CREATE, &st->usage) != MDB_SUCCESS ||
        mdb_dbi_open(txn, "expiry", MDB_CREATE, &st->expiry) != MDB_SUCCESS ||
        mdb_dbi_open(txn, "meta", MDB_CREATE, &st->meta) != MDB_SUCCESS ||
        mdb_dbi_open(txn, "mine", MDB_CREATE, &st->mine) != MDB_SUCCESS ||
        mdb_dbi_open(txn, "mine_due", MDB_CREATE, &st->due) != MDB_SUCCESS)
        goto err;
    err = load_meta(st, txn);
    if (err != CORDON_OK)
        goto err;
    err = CORDON_ERR_DB;
    int rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != MDB_SUCCESS)
        goto err;
    *out = st;
    return CORDON_OK;
err:
    if (txn != NULL)
        mdb_txn_abort(txn);
    cordon_store_close(st);
    return err;
}

void cordon_store_close(cordon_store *st)
{
    if (st == NULL)
        return;
    if (st->batch != NULL)
        mdb_txn_abort(st->batch); /* a batch not ended is lost, as in a crash */
    if (st->env != NULL)
        mdb_env_close(st->env);
    free(st);
}

/* ---- acceptance ---------------------------------------------------------------------- */

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Steps 1-3: what the bytes say, against the configuration and the clock. */
static cordon_err check_fields(const cordon_store *st, const void *data, size_t len, uint64_t now,
                               struct cordon_object *o)
{
    if (len > CORDON_OBJECT_MAX)
        return CORDON_ERR_TOO_LARGE;
    cordon_err err = cordon_object_decode(data, len, o);
    if (err != CORDON_OK)
        return err;
    size_t value_max = o->kind == CORDON_KIND_CRL ? CORDON_OBJECT_VALUE_MAX : st->value_max;
    if (o->value_len > value_max)
        return CORDON_ERR_TOO_LARGE;
    if (o->lifetime == 0 || o->lifetime > st->max_lifetime)
        return CORDON_ERR_OBJ_LIFETIME;
    if (o->created_at > add_sat(now, st->skew))
        return CORDON_ERR_OBJ_FUTURE;
    if (cordon_object_expires_at(o) <= now)
        return CORDON_ERR_OBJ_EXPIRED;
    return CORDON_OK;
}

static cordon_err check_crypto(cordon_object_verifier *v, const struct cordon_object *o,
                               uint64_t now)
{
    return cordon_object_verify(v, o, (int64_t)now);
}

cordon_err cordon_store_check(const cordon_store *st, cordon_object_verifier *v, const void *data,
                              size_t len, uint64_t now, struct cordon_object *out)
{
    struct cordon_object o;
    if (st == NULL || v == NULL || (data == NULL && len != 0) || now > INT64_MAX)
        return CORDON_ERR_INVAL;
    cordon_err err = check_fields(st, data, len, now, &o);
    if (err == CORDON_OK)
        err = check_crypto(v, &o, now);
    if (err == CORDON_OK && out != NULL)
        *out = o;
    return err;
}

/* Steps 6 and 7 for one count: refused when the put makes it grow past its cap. A put that
 * does not grow a count is never refused by it, so a writer over a lowered cap can still
 * shrink and delete. */
static bool grows_past(uint64_t before, uint64_t after, uint64_t cap)
{
    return after > cap && after > before;
}

/* Steps 5-7 and the write, in one transaction (see put). */
static cordon_err put_txn(cordon_store *st, MDB_txn *txn, cordon_object_verifier *v,
                          const struct cordon_object *o, const void *data, size_t len, uint64_t now,
                          uint64_t *objects_total, uint64_t *bytes_total, bool *writing)
{
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    uint8_t ekey[EXPIRY_KEY_LEN];
    struct stored old;
    cordon_object_entry_key(o, key);
    cordon_err err = stored_read(txn, st->objects, key, &old);
    if (err != CORDON_OK)
        return err;

    /* 5 before 4: a replay (another replica pushing what is held) costs a lookup, not a
     * signature check. An expired entry not yet swept counts as absent, as for get. */
    if (old.present && old.expires_at > now && o->seq <= old.seq)
        return CORDON_ERR_OBJ_STALE;
    err = check_crypto(v, o, now);
    if (err == MAP_FULL)
        err = CORDON_ERR_CRYPTO; /* not ours to retry (crypto/ never returns it) */
    if (err != CORDON_OK)
        return err;

    /* 6: the writer's usage after the replacement. */
    uint64_t w_objects = 0, w_bytes = 0;
    if (charged(o->kind)) {
        err = usage_read(txn, st->usage, o->writer, &w_objects, &w_bytes);
        if (err != CORDON_OK)
            return err;
        uint64_t after_objects = w_objects, after_bytes = w_bytes;
        if (old.present && charged(old.kind) &&
            memcmp(old.writer, o->writer, CORDON_NODE_ID_LEN) == 0) {
            if (after_objects < 1 || after_bytes < old.len)
                return CORDON_ERR_DB;
            after_objects -= 1;
            after_bytes -= old.len;
        }
        after_objects += 1;
        after_bytes += len;
        if (grows_past(w_objects, after_objects, st->writer_objects) ||
            grows_past(w_bytes, after_bytes, st->writer_bytes))
            return CORDON_ERR_OBJ_QUOTA;
    }

    /* 7: the node's totals after the replacement. */
    uint64_t n_objects = st->objects_total, n_bytes = st->bytes_total;
    if (old.present) {
        if (n_objects < 1 || n_bytes < old.len)
            return CORDON_ERR_DB;
        n_objects -= 1;
        n_bytes -= old.len;
    }
    n_objects += 1;
    n_bytes += len;
    if (grows_past(st->objects_total, n_objects, st->node_objects) ||
        grows_past(st->bytes_total, n_bytes, st->node_bytes))
        return CORDON_ERR_OBJ_CAPACITY;

    /* The write: object, expiry index, usage and totals together. Every refusal above left
     * txn untouched; a failure from here on leaves it half-written. */
    *writing = true;
    if (old.present) {
        err = expiry_key(old.expires_at, key, ekey);
        if (err != CORDON_OK)
            return err;
        MDB_val ek = {.mv_size = EXPIRY_KEY_LEN, .mv_data = ekey};
        int rc = mdb_del(txn, st->expiry, &ek, NULL);
        if (rc != MDB_SUCCESS) /* NOTFOUND too: the index lost an object */
            return rc == MDB_MAP_FULL ? MAP_FULL : CORDON_ERR_DB;
        err = usage_release(txn, st->usage, &old, MAP_FULL);
        if (err != CORDON_OK)
            return err;
    }
    MDB_val k = {.mv_size = CORDON_OBJECT_ENTRY_KEY_LEN, .mv_data = key};
    MDB_val val = {.mv_size = len, .mv_data = (void *)data};
    err = from_mdb(mdb_put(txn, st->objects, &k, &val, 0), MAP_FULL);
    if (err != CORDON_OK)
        return err;
    err = expiry_key(cordon_object_expires_at(o), key, ekey);
    if (err != CORDON_OK)
        return err;
    MDB_val ek = {.mv_size = EXPIRY_KEY_LEN, .mv_data = ekey};
    MDB_val empty = {.mv_size = 0, .mv_data = ekey}; /* no NULL to memcpy */
    err = from_mdb(mdb_put(txn, st->expiry, &ek, &empty, 0), MAP_FULL);
    if (err != CORDON_OK)
        return err;
    if (charged(o->kind)) {
        /* Read again: releasing the old object may have changed this writer's record. */
        err = usage_read(txn, st->usage, o->writer, &w_objects, &w_bytes);
        if (err == CORDON_OK)
            err = usage_write(txn, st->usage, o->writer, w_objects + 1, w_bytes + len, MAP_FULL);
        if (err != CORDON_OK)
            return err;
    }
    err = totals_write(txn, st->meta, n_objects, n_bytes, MAP_FULL);
    if (err != CORDON_OK)
        return err;
    *objects_total = n_objects;
    *bytes_total = n_bytes;
    return CORDON_OK;
}

/* One attempt at steps 5-7 and the write, committed. */
static cordon_err put_once(cordon_store *st, cordon_object_verifier *v,
                           const struct cordon_object *o, const void *data, size_t len,
                           uint64_t now)
{
    MDB_txn *txn;
    uint64_t objects_total = 0, bytes_total = 0;
    bool durable, writing = false;
    cordon_err err;
    if (st->batch_open && st->batch_err != CORDON_OK)
        return st->batch_err;
    if (st->batch != NULL) {
        /* In the batch's transaction itself, not a child: LMDB allocates some 3 MiB for
         * each child, and a child per put cost more than the signature check. A refusal
         * (steps 5-7) writes nothing, so the batch is as it was; a failure while writing
         * (a full map, damage) loses the batch, which its end reports. */
        err = put_txn(st, st->batch, v, o, data, len, now, &objects_total, &bytes_total, &writing);
        if (err != CORDON_OK) {
            if (writing)
                batch_lose(st, err == MAP_FULL ? CORDON_ERR_OBJ_CAPACITY : CORDON_ERR_DB);
            return err;
        }
        st->batch_writes++;
        st->objects_total = objects_total;
        st->bytes_total = bytes_total;
        return CORDON_OK;
    }
    int rc = write_begin(st, &txn);
    if (rc != MDB_SUCCESS)
        return from_mdb(rc, MAP_FULL);
    err = put_txn(st, txn, v, o, data, len, now, &objects_total, &bytes_total, &writing);
    if (err != CORDON_OK) {
        mdb_txn_abort(txn);
        return err;
    }
    err = from_mdb(write_commit(st, txn, &durable), MAP_FULL);
    if (err != CORDON_OK)
        return err;
    st->objects_total = objects_total;
    st->bytes_total = bytes_total;
    if (durable)
        st->touched = false;
    return CORDON_OK;
}

/* Commits a transaction that changes nothing but must write (the totals again). LMDB reuses
 * the pages a commit freed only two commits later (the previous snapshot stays intact), so
 * in a full map the put right after an expiry step, or after a replacement that shrank,
 * would find no page although there is room. */
static cordon_err touch(cordon_store *st)
{
    MDB_txn *txn;
    if (mdb_txn_begin(st->env, NULL, 0, &txn) != MDB_SUCCESS)
        return CORDON_ERR_DB;
    cordon_err err = totals_write(txn, st->meta, st->objects_total, st->bytes_total, MAP_FULL);
    if (err != CORDON_OK) {
        mdb_txn_abort(txn);
        return err;
    }
    return from_mdb(mdb_txn_commit(txn), MAP_FULL);
}

cordon_err cordon_store_put(cordon_store *st, cordon_object_verifier *v, const void *data,
                            size_t len, uint64_t now, struct cordon_object *out)
{
    struct cordon_object o;
    if (st == NULL || v == NULL || (data == NULL && len != 0) || now > INT64_MAX)
        return CORDON_ERR_INVAL;
    cordon_err err = check_fields(st, data, len, now, &o);
    if (err == CORDON_OK)
        err = put_once(st, v, &o, data, len, now);
    /* A full map: once per commit that freed pages, make them usable and try again. A node
     * that stays full then refuses at the cost of a lookup, with no extra commit. Not inside
     * a batch, which cannot commit halfway (nor in one just lost): its loss makes the next
     * batches direct, which retry. */
    if (err == MAP_FULL && !st->touched && !(st->batch_open && st->batch_err != CORDON_OK) &&
        st->batch == NULL) {
        err = touch(st);
        if (err == CORDON_OK) {
            st->touched = true;
            err = put_once(st, v, &o, data, len, now);
        }
    }
    if (err == MAP_FULL)
        err = CORDON_ERR_OBJ_CAPACITY;
    if (err == CORDON_OK && out != NULL)
        *out = o;
    if (err == CORDON_OK) {
        st->accepted++;
        if (st->batch != NULL)
            st->batch_accepted++;
    } else if (is_refusal(err)) {
        st->refused++;
    }
    return err;
}

cordon_err cordon_store_batch_begin(cordon_store *st)
{
    MDB_txn *txn = NULL;
    if (st == NULL || st->batch_open)
        return CORDON_ERR_INVAL;
    if (!st->batch_direct && mdb_txn_begin(st->env, NULL, 0, &txn) != MDB_SUCCESS)
        return CORDON_ERR_DB;
    st->batch = txn; /* NULL: direct */
    st->batch_open = true;
    st->batch_err = CORDON_OK;
    st->batch_writes = 0;
    st->batch_objects = st->objects_total;
    st->batch_bytes = st->bytes_total;
    st->batch_accepted = 0;
    st->batch_expired = 0;
    return CORDON_OK;
}

bool cordon_store_in_batch(const cordon_store *st)
{
    return st != NULL && st->batch_open;
}

cordon_err cordon_store_batch_end(cordon_store *st)
{
    if (st == NULL || !st->batch_open)
        return CORDON_ERR_INVAL;
    cordon_err err = st->batch_err;
    MDB_txn *txn = st->batch;
    st->batch_open = false;
    st->batch_err = CORDON_OK;
    st->batch = NULL;
    if (err != CORDON_OK)
        return err; /* lost already, and undone */
    if (txn == NULL)
        return CORDON_OK; /* direct: its puts are committed */
    if (st->batch_writes == 0) {
        mdb_txn_abort(txn); /* nothing to write: no commit, no fsync */
        return CORDON_OK;
    }
    /* One commit, one sync, for every put of the batch. The commit writes the pages the
     * batch freed into LMDB's free list and needs pages for it: in a map that the batch
     * filled it fails, and the batch is lost. */
    int rc = mdb_txn_commit(txn);
    if (rc == MDB_SUCCESS) {
        st->touched = false;
        return CORDON_OK;
    }
    err = rc == MDB_MAP_FULL ? CORDON_ERR_OBJ_CAPACITY : CORDON_ERR_DB;
    batch_lose(st, err); /* the transaction is freed by the failed commit */
    return err;
}

/* ---- reads --------------------------------------------------------------------------- */

cordon_err cordon_store_get(cordon_store *st, const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                            uint64_t now, cordon_buf *out)
{
    MDB_txn *txn;
    MDB_val v;
    struct cordon_object o;
    if (st == NULL || key == NULL || out == NULL)
        return CORDON_ERR_INVAL;
    if (read_begin(st, &txn) != MDB_SUCCESS)
        return CORDON_ERR_DB;
    MDB_val k = {.mv_size = CORDON_OBJECT_ENTRY_KEY_LEN, .mv_data = (void *)key};
    cordon_err err = from_mdb(mdb_get(txn, st->objects, &k, &v), CORDON_ERR_DB);
    if (err == CORDON_OK)
        err = stored_decode(&v, &o);
    if (err == CORDON_OK && cordon_object_expires_at(&o) <= now)
        err = CORDON_ERR_NOT_FOUND;
    if (err == CORDON_OK) {
        cordon_buf_reset(out);
        err = cordon_buf_append(out, v.mv_data, v.mv_size); /* copied out before the abort */
    }
    read_end(st, txn);
    return err;
}

cordon_err cordon_store_usage(cordon_store *st, const uint8_t writer[CORDON_NODE_ID_LEN],
                              uint64_t *objects, uint64_t *bytes)
{
    MDB_txn *txn;
    uint64_t o, b;
    if (st == NULL || writer == NULL || objects == NULL || bytes == NULL)
        return CORDON_ERR_INVAL;
    if (read_begin(st, &txn) != MDB_SUCCESS)
        return CORDON_ERR_DB;
    cordon_err err = usage_read(txn, st->usage, writer, &o, &b);
    read_end(st, txn);
    if (err == CORDON_OK) {
        *objects = o;
        *bytes = b;
    }
    return err;
}

void cordon_store_stats(const cordon_store *st, struct cordon_store_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (st == NULL)
        return;
    out->objects = st->objects_total;
    out->bytes = st->bytes_total;
    out->accepted = st->accepted;
    out->refused = st->refused;
    out->expired = st->expired;
}

cordon_err cordon_store_scan(cordon_store *st, const uint8_t *after, size_t max, uint64_t now,
                             bool (*fn)(void *ctx, const struct cordon_store_summary *s), void *ctx,
                             uint8_t next[CORDON_OBJECT_ENTRY_KEY_LEN])
{
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint8_t last[CORDON_OBJECT_ENTRY_KEY_LEN];
    size_t visited = 0;
    cordon_err err = CORDON_OK;
    int rc;
    if (st == NULL || max == 0 || fn == NULL || next == NULL)
        return CORDON_ERR_INVAL;
    if (read_begin(st, &txn) != MDB_SUCCESS)
        return CORDON_ERR_DB;
    if (mdb_cursor_open(txn, st->objects, &cur) != MDB_SUCCESS) {
        cur = NULL;
        err = CORDON_ERR_DB;
        goto out;
    }
    if (after != NULL) {
        k.mv_size = CORDON_OBJECT_ENTRY_KEY_LEN;
        k.mv_data = (void *)after;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_SUCCESS && k.mv_size == CORDON_OBJECT_ENTRY_KEY_LEN &&
            memcmp(k.mv_data, after, CORDON_OBJECT_ENTRY_KEY_LEN) == 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    } else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    while (rc == MDB_SUCCESS && visited < max) {
        struct cordon_object o;
        struct cordon_store_summary s;
        if (k.mv_size != CORDON_OBJECT_ENTRY_KEY_LEN || stored_decode(&v, &o) != CORDON_OK) {
            err = CORDON_ERR_DB;
            goto out;
        }
        memcpy(s.key, k.mv_data, CORDON_OBJECT_ENTRY_KEY_LEN);
        s.seq = o.seq;
        s.expires_at = cordon_object_expires_at(&o);
        memcpy(last, s.key, sizeof(last));
        visited++;
        if (s.expires_at > now && !fn(ctx, &s))
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
        err = CORDON_ERR_DB;
        goto out;
    }
    if (visited == 0) {
        err = CORDON_ERR_NOT_FOUND;
        goto out;
    }
    memcpy(next, last, sizeof(last));
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    read_end(st, txn);
    return err;
}

cordon_err cordon_store_seq(cordon_store *st, const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                            uint64_t now, uint64_t *seq)
{
    MDB_txn *txn;
    struct stored s;
    if (st == NULL || key == NULL || seq == NULL)
        return CORDON_ERR_INVAL;
    if (read_begin(st, &txn) != MDB_SUCCESS)
        return CORDON_ERR_DB;
    cordon_err err = stored_read(txn, st->objects, key, &s);
    read_end(st, txn);
    if (err == CORDON_OK)
        *seq = s.present && s.expires_at > now ? s.seq : 0;
    return err;
}

/* ---- the writer's own objects (republishing) ----------------------------------------- */

/* The due index key of a record: republish_at first, so the earliest comes first. */
static cordon_err due_key(uint64_t at, const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                          uint8_t out[EXPIRY_KEY_LEN])
{
    return expiry_key(at, key, out);
}

/* Reads the republish time of key's record (*found false when there is none). */
static cordon_err mine_read_at(MDB_txn *txn, MDB_dbi dbi,
                               const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN], bool *found,
                               uint64_t *at)
{
    MDB_val k = {.mv_size = CORDON_OBJECT_ENTRY_KEY_LEN, .mv_data = (void *)key};
    MDB_val v;
    cordon_reader r;
    *found = false;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return CORDON_OK;
    if (rc != MDB_SUCCESS)
        return CORDON_ERR_DB;
    cordon_reader_init(&r, v.mv_data, v.mv_size);
    if (v.mv_size <= 8 || cordon_read_u64(&r, at) != CORDON_OK)
        return CORDON_ERR_DB;
    *found = true;
    return CORDON_OK;
}

/* Removes key's record and its index entry, if there is one. */
static cordon_err mine_remove(cordon_store *st, MDB_txn *txn,
                              const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN], cordon_err full)
{
    uint8_t dkey[EXPIRY_KEY_LEN];
    bool found;
    uint64_t at = 0;
    cordon_err err = mine_read_at(txn, st->mine, key, &found, &at);
    if (err != CORDON_OK || !found)
        return err;
    err = due_key(at, key, dkey);
    if (err != CORDON_OK)
        return err;
    MDB_val dk = {.mv_size = EXPIRY_KEY_LEN, .mv_data = dkey};
    MDB_val k = {.mv_size = CORDON_OBJECT_ENTRY_KEY_LEN, .mv_data = (void *)key};
    int rc = mdb_del(txn, st->due, &dk, NULL);
    if (rc != MDB_SUCCESS) /* NOTFOUND too: the index lost a record */
        return rc == MDB_MAP_FULL ? full : CORDON_ERR_DB;
    return from_mdb(mdb_del(txn, st->mine, &k, NULL), full);
}

cordon_err cordon_store_mine_put(cordon_store *st, const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                                 const void *obj, size_t len, uint64_t republish_at)
{
    MDB_txn *txn;
    MDB_stat ms = {0};
    bool found = false;
    uint64_t at = 0;
    uint8_t dkey[EXPIRY_KEY_LEN];
    if (st == NULL || key == NULL || obj == NULL || len == 0 || len > CORDON_OBJECT_MAX)
        return CORDON_ERR_INVAL;
    uint8_t *rec = malloc(8 + len);
    if (rec == NULL)
        return CORDON_ERR_NOMEM;
    cordon_writer w;
    size_t rec_len = 0;
    cordon_writer_init(&w, rec, 8 + len);
    cordon_write_u64(&w, republish_at);
    cordon_write_bytes(&w, obj, len);
    cordon_err err = cordon_writer_finish(&w, &rec_len);
    if (err != CORDON_OK) {
        free(rec);
        return err;
    }
    if (write_begin(st, &txn) != MDB_SUCCESS) {
        free(rec);
        return CORDON_ERR_DB;
    }
    err = mine_read_at(txn, st->mine, key, &found, &at);
    /* Bounded like the objects of others: a writer cannot fill its own disk through the
     * control API with records that are never released. */
    if (err == CORDON_OK && !found)
        err = mdb_stat(txn, st->mine, &ms) == MDB_SUCCESS ? CORDON_OK : CORDON_ERR_DB;
    if (err == CORDON_OK && !found && ms.ms_entries >= st->mine_max)
        err = CORDON_ERR_OBJ_QUOTA;
    if (err == CORDON_OK)
        err = mine_remove(st, txn, key, CORDON_ERR_OBJ_CAPACITY);
    if (err == CORDON_OK)
        err = due_key(republish_at, key, dkey);
    if (err == CORDON_OK) {
        MDB_val k = {.mv_size = CORDON_OBJECT_ENTRY_KEY_LEN, .mv_data = (void *)key};
        MDB_val v = {.mv_size = rec_len, .mv_data = rec};
        MDB_val dk = {.mv_size = EXPIRY_KEY_LEN, .mv_data = dkey};
        MDB_val empty = {.mv_size = 0, .mv_data = dkey};
        err = from_mdb(mdb_put(txn, st->mine, &k, &v, 0), CORDON_ERR_OBJ_CAPACITY);
        if (err == CORDON_OK)
            err = from_mdb(mdb_put(txn, st->due, &dk, &empty, 0), CORDON_ERR_OBJ_CAPACITY);
    }
    free(rec);
    if (err != CORDON_OK) {
        mdb_txn_abort(txn); /* in a batch: the batch is as it was */
        return err;
    }
    bool durable;
    return from_mdb(write_commit(st, txn, &durable), CORDON_ERR_OBJ_CAPACITY);
}

cordon_err cordon_store_mine_del(cordon_store *st, const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN])
{
    MDB_txn *txn;
    if (st == NULL || key == NULL)
        return CORDON_ERR_INVAL;
    if (write_begin(st, &txn) != MDB_SUCCESS)
        return CORDON_ERR_DB;
    /* A full map can always delete (LMDB keeps room for it); a failure here is damage. */
    cordon_err err = mine_remove(st, txn, key, CORDON_ERR_DB);
    if (err != CORDON_OK) {
        mdb_txn_abort(txn);
        return err;
    }
    bool durable;
    return from_mdb(write_commit(st, txn, &durable), CORDON_ERR_DB);
}

cordon_err cordon_store_mine_first(cordon_store *st, uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN],
                                   uint64_t *republish_at, cordon_buf *obj)
{
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    MDB_val dk, dv, v;
    cordon_reader r;
    uint64_t at = 0, rec_at = 0;
    if (st == NULL || key == NULL || republish_at == NULL)
        return CORDON_ERR_INVAL;
    if (read_begin(st, &txn) != MDB_SUCCESS)
        return CORDON_ERR_DB;
    cordon_err err = CORDON_ERR_DB;
    if (mdb_cursor_open(txn, st->due, &cur) != MDB_SUCCESS) {
        cur = NULL;
        goto out;
    }
    err = from_mdb(mdb_cursor_get(cur, &dk, &dv, MDB_FIRST), CORDON_ERR_DB);
    if (err != CORDON_OK)
        goto out;
    err = CORDON_ERR_DB;
    cordon_reader_init(&r, dk.mv_data, dk.mv_size);
    if (dk.mv_size != EXPIRY_KEY_LEN || cordon_read_u64(&r, &at) != CORDON_OK)
        goto out;
    MDB_val k = {.mv_size = CORDON_OBJECT_ENTRY_KEY_LEN, .mv_data = (uint8_t *)dk.mv_data + 8};
    if (mdb_get(txn, st->mine, &k, &v) != MDB_SUCCESS || v.mv_size <= 8)
        goto out; /* the index names a record that is not there */
    cordon_reader_init(&r, v.mv_data, v.mv_size);
    if (cordon_read_u64(&r, &rec_at) != CORDON_OK || rec_at != at)
        goto out;
    memcpy(key, k.mv_data, CORDON_OBJECT_ENTRY_KEY_LEN);
    *republish_at = at;
    err = CORDON_OK;
    if (obj != NULL) { /* copied out before the transaction ends */
        cordon_buf_reset(obj);
        err = cordon_buf_append(obj, (const uint8_t *)v.mv_data + 8, v.mv_size - 8);
    }
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    read_end(st, txn);
    return err;
}

cordon_err cordon_store_mine_count(cordon_store *st, uint64_t *n)
{
    MDB_txn *txn;
    MDB_stat ms;
    if (st == NULL || n == NULL)
        return CORDON_ERR_INVAL;
    if (read_begin(st, &txn) != MDB_SUCCESS)
        return CORDON_ERR_DB;
    int rc = mdb_stat(txn, st->mine, &ms);
    read_end(st, txn);
    if (rc != MDB_SUCCESS)
        return CORDON_ERR_DB;
    *n = ms.ms_entries;
    return CORDON_OK;
}

/* ---- expiry -------------------------------------------------------------------------- */

/* Removes the oldest index entry if it is due; *done when none is. */
static cordon_err expire_one(cordon_store *st, MDB_txn *txn, MDB_cursor *cur, uint64_t now,
                             uint64_t *objects_total, uint64_t *bytes_total, bool *done)
{
    MDB_val k, v;
    uint8_t ekey[EXPIRY_KEY_LEN];
    const uint8_t *key = ekey + 8;
    struct stored s;
    cordon_reader r;
    uint64_t at;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (rc == MDB_NOTFOUND) {
        *done = true;
        return CORDON_OK;
    }
    if (rc != MDB_SUCCESS || k.mv_size != EXPIRY_KEY_LEN)
        return CORDON_ERR_DB;
    memcpy(ekey, k.mv_data, EXPIRY_KEY_LEN); /* the deletes below may move it */
    cordon_reader_init(&r, ekey, 8);
    if (cordon_read_u64(&r, &at) != CORDON_OK)
        return CORDON_ERR_DB;
    if (at > now) {
        *done = true;
        return CORDON_OK;
    }
    cordon_err err = stored_read(txn, st->objects, key, &s);
    if (err != CORDON_OK)
        return err;
    /* Both are written in one transaction: an index entry without its object is damage. */
    if (!s.present || s.expires_at != at || *objects_total < 1 || *bytes_total < s.len)
        return CORDON_ERR_DB;
    rc = mdb_cursor_del(cur, 0);
    if (rc != MDB_SUCCESS)
        return CORDON_ERR_DB;
    MDB_val ok = {.mv_size = CORDON_OBJECT_ENTRY_KEY_LEN, .mv_data = (void *)key};
    if (mdb_del(txn, st->objects, &ok, NULL) != MDB_SUCCESS)
        return CORDON_ERR_DB;
    err = usage_release(txn, st->usage, &s, CORDON_ERR_DB);
    if (err != CORDON_OK)
        return err;
    *objects_total -= 1;
    *bytes_total -= s.len;
    return CORDON_OK;
}

cordon_err cordon_store_expire(cordon_store *st, uint64_t now, size_t max, size_t *removed)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    size_t n = 0;
    bool done = false;
    uint64_t objects_total, bytes_total;
    if (st == NULL || max == 0 || removed == NULL)
        return CORDON_ERR_INVAL;
    if (max > CORDON_STORE_EXPIRE_BATCH)
        max = CORDON_STORE_EXPIRE_BATCH;
    objects_total = st->objects_total;
    bytes_total = st->bytes_total;
    cordon_err err = CORDON_ERR_DB;
    bool durable;
    if (write_begin(st, &txn) != MDB_SUCCESS) {
        txn = NULL;
        goto out;
    }
    if (mdb_cursor_open(txn, st->expiry, &cur) != MDB_SUCCESS) {
        cur = NULL;
        goto out;
    }
    err = CORDON_OK;
    while (n < max && err == CORDON_OK) {
        err = expire_one(st, txn, cur, now, &objects_total, &bytes_total, &done);
        if (err != CORDON_OK || done)
            break;
        n++;
    }
    if (err != CORDON_OK)
        goto out;
    mdb_cursor_close(cur);
    cur = NULL;
    if (n == 0) {
        mdb_txn_abort(txn); /* nothing due: no commit, no fsync */
        txn = NULL;
    } else {
        err = totals_write(txn, st->meta, objects_total, bytes_total, CORDON_ERR_DB);
        if (err != CORDON_OK)
            goto out;
        int rc = write_commit(st, txn, &durable);
        txn = NULL;
        err = from_mdb(rc, CORDON_ERR_DB);
        if (err != CORDON_OK)
            goto out;
        if (durable)
            st->touched = false;
    }
    st->objects_total = objects_total;
    st->bytes_total = bytes_total;
    st->expired += n;
    if (st->batch != NULL)
        st->batch_expired += n;
    if (n > 0 && st->batch == NULL)
        st->batch_direct = false; /* pages freed: batches may try again */
    *removed = n;
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    return err;
}

/* ---- audit --------------------------------------------------------------------------- */

struct charge {
    uint8_t writer[CORDON_NODE_ID_LEN];
    uint64_t len;
};

static int charge_cmp(const void *a, const void *b)
{
    return memcmp(((const struct charge *)a)->writer, ((const struct charge *)b)->writer,
                  CORDON_NODE_ID_LEN);
}

/* Every object decodes under its own entry key and has its index entry; the index holds
 * nothing else; the totals count the objects. Collects each charged object's writer. */
static cordon_err audit_objects(cordon_store *st, MDB_txn *txn, struct charge *charges, size_t cap,
                                size_t *n_charges)
{
    MDB_cursor *cur;
    MDB_val k, v;
    MDB_stat ms;
    uint64_t objects = 0, bytes = 0;
    size_t n = 0;
    cordon_err err = CORDON_OK;
    if (mdb_cursor_open(txn, st->objects, &cur) != MDB_SUCCESS)
        return CORDON_ERR_DB;
    int rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct cordon_object o;
        uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
        uint8_t ekey[EXPIRY_KEY_LEN];
        MDB_val ev;
        if (k.mv_size != CORDON_OBJECT_ENTRY_KEY_LEN || stored_decode(&v, &o) != CORDON_OK) {
            err = CORDON_ERR_DB;
            break;
        }
        cordon_object_entry_key(&o, key);
        if (expiry_key(cordon_object_expires_at(&o), key, ekey) != CORDON_OK) {
            err = CORDON_ERR_DB;
            break;
        }
        MDB_val ek = {.mv_size = EXPIRY_KEY_LEN, .mv_data = ekey};
        if (memcmp(key, k.mv_data, sizeof(key)) != 0 ||
            mdb_get(txn, st->expiry, &ek, &ev) != MDB_SUCCESS || n >= cap) {
            err = CORDON_ERR_DB;
            break;
        }
        if (charged(o.kind)) {
            memcpy(charges[n].writer, o.writer, CORDON_NODE_ID_LEN);
            charges[n].len = v.mv_size;
            n++;
        }
        objects++;
        bytes += v.mv_size;
    }
    mdb_cursor_close(cur);
    if (err == CORDON_OK && rc != MDB_NOTFOUND)
        err = CORDON_ERR_DB;
    if (err == CORDON_OK &&
        (mdb_stat(txn, st->expiry, &ms) != MDB_SUCCESS || ms.ms_entries != objects ||
         objects != st->objects_total || bytes != st->bytes_total))
        err = CORDON_ERR_DB;
    *n_charges = n;
    return err;
}

/* The usage records are exactly the per-writer sums of the charges (sorted by writer, the
 * usage database's key order). */
static cordon_err audit_usage(cordon_store *st, MDB_txn *txn, const struct charge *charges,
                              size_t n)
{
    MDB_cursor *cur;
    MDB_val k, v;
    size_t i = 0;
    cordon_err err = CORDON_OK;
    if (mdb_cursor_open(txn, st->usage, &cur) != MDB_SUCCESS)
        return CORDON_ERR_DB;
    int rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t objects, bytes, sum_objects = 0, sum_bytes = 0;
        if (k.mv_size != CORDON_NODE_ID_LEN || pair_decode(&v, &objects, &bytes) != CORDON_OK ||
            i >= n || memcmp(charges[i].writer, k.mv_data, CORDON_NODE_ID_LEN) != 0) {
            err = CORDON_ERR_DB;
            break;
        }
        for (; i < n && memcmp(charges[i].writer, k.mv_data, CORDON_NODE_ID_LEN) == 0; i++) {
            sum_objects++;
            sum_bytes += charges[i].len;
        }
        if (sum_objects != objects || sum_bytes != bytes) {
            err = CORDON_ERR_DB;
            break;
        }
    }
    mdb_cursor_close(cur);
    if (err == CORDON_OK && (rc != MDB_NOTFOUND || i != n))
        err = CORDON_ERR_DB;
    return err;
}

cordon_err cordon_store_audit(cordon_store *st)
{
    MDB_txn *txn;
    MDB_stat ms;
    struct charge *charges = NULL;
    size_t n = 0;
    if (st == NULL)
        return CORDON_ERR_INVAL;
    if (read_begin(st, &txn) != MDB_SUCCESS)
        return CORDON_ERR_DB;
    cordon_err err = CORDON_ERR_DB;
    if (mdb_stat(txn, st->objects, &ms) != MDB_SUCCESS)
        goto out;
    err = CORDON_ERR_NOMEM;
    charges = calloc(ms.ms_entries ? ms.ms_entries : 1, sizeof(*charges));
    if (charges == NULL)
        goto out;
    err = audit_objects(st, txn, charges, ms.ms_entries, &n);
    if (err != CORDON_OK)
        goto out;
    qsort(charges, n, sizeof(*charges), charge_cmp);
    err = audit_usage(st, txn, charges, n);
out:
    free(charges);
    read_end(st, txn);
    return err;
}
