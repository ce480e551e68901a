/*
 * peer/core/storage.c — the storage protocol in the core: puts and gets over r replicas,
 * and serving STORE and FETCH (docs/protocol.md 7.5, 7.7). The host's object store does the
 * accepting and the file I/O (struct cordon_core_storage); this file decides who is asked
 * and what the answers add up to.
 *
 * A put or get is one operation in a table of at most CORDON_STORAGE_OPS_MAX:
 *   1. a disjoint-path lookup (LOOKUP_USER) of the resource ID, the first 32 bytes of the
 *      entry key, finds the closest nodes that answer;
 *   2. its replicas are those nodes and this one, closest first: r for a put,
 *      CORDON_GET_ASK_PER_R * r for a get (r = params.replicas). This node is a replica
 *      when it is closer than the last of them, and is served by the host's storage at once,
 *      with no message;
 *   3. a put sends STORE to all r; a get keeps r FETCHes going at a time, and a replica
 *      that fails, has nothing or answers an invalid object makes room for the next one, so
 *      refusing, mute or lying replicas cost a read its parallelism but not its answer;
 *   4. the operation ends when no request is in flight and no replica is left to ask, and
 *      its callback runs exactly once, after it has left the table.
 * Every request ends by an answer, its last timeout or a link failure, and an operation
 * sends at most 2r of them once its lookup (which ends in bounded time) is done, so every
 * operation ends in bounded time without a timer of its own. The object a put sends is
 * copied for the operation (STORE and its retries read it from there); the object a get
 * keeps is the best valid answer so far, copied out of the answer before the receive call
 * that carried it returns.
 *
 * Answers to a get are judged cheap checks first: the object must decode and be of the
 * entry asked for (a replica that answers another entry's genuine object is lying), then
 * the host's check (signature, certificate, CRL, lifetime). The highest valid seq wins;
 * valid answers below it are counted stale, failed checks forged.
 */
#include <stdlib.h>
#include <string.h>

#include "peer/core/internal.h"

/* ---- the table of operations ------------------------------------------------------------- */

static struct storage_op *op_by_serial(const cordon_core *core, uint32_t serial)
{
    for (size_t i = 0; serial != 0 && i < CORDON_STORAGE_OPS_MAX; i++)
        if (core->ops[i] != NULL && core->ops[i]->serial == serial)
            return core->ops[i];
    return NULL;
}

static cordon_err op_add(cordon_core *core, uint8_t kind, struct storage_op **out)
{
    if (core->nops >= CORDON_STORAGE_OPS_MAX)
        return CORDON_ERR_BUSY;
    struct storage_op *op = calloc(1, sizeof(*op));
    if (op == NULL)
        return CORDON_ERR_NOMEM;
    if (++core->next_op_serial == 0)
        core->next_op_serial = 1;
    op->serial = core->next_op_serial;
    op->kind = kind;
    size_t slot = 0;
    while (core->ops[slot] != NULL)
        slot++;
    core->ops[slot] = op;
    core->nops++;
    *out = op;
    return CORDON_OK;
}

static void op_remove(cordon_core *core, const struct storage_op *op)
{
    for (size_t i = 0; i < CORDON_STORAGE_OPS_MAX; i++)
        if (core->ops[i] == op) {
            core->ops[i] = NULL;
            core->nops--;
        }
}

static void op_free(struct storage_op *op)
{
    if (op == NULL)
        return;
    free(op->obj);
    free(op);
}

/* ---- serving ------------------------------------------------------------------------------ */

void cordon_storage_serve(cordon_core *core, uint64_t now_ms, const struct cordon_contact *from,
                          const struct cordon_msg *m)
{
    if (core->storage.put == NULL) {
        cordon_core_answer_error(core, from, m->txid, CORDON_MSGERR_UNSUPPORTED,
                                 "storage not served");
        return;
    }
    struct cordon_msg r;
    memset(&r, 0, sizeof(r));
    r.flags = CORDON_MSG_FLAG_RESPONSE;
    r.txid = m->txid;
    if (m->type == CORDON_MSG_STORE) {
        /* The object is borrowed from the received bytes: the host stores or refuses it
         * within this call. */
        uint64_t held = 0;
        cordon_err err =
            core->storage.put(core->storage.ctx, now_ms, m->u.store.object, m->u.store.len, &held);
        r.type = CORDON_MSG_STORED;
        r.u.stored.code = cordon_msg_store_code(err);
        r.u.stored.seq = held;
        core->st.stores_served++;
        if (err == CORDON_OK)
            core->st.stores_accepted++;
        cordon_core_send_msg(core, from, &r);
        return;
    }
    /* FETCH: the copy lives until the answer is sent (68 KB at most, on the heap). */
    cordon_buf obj;
    cordon_buf_init(&obj, CORDON_OBJECT_MAX, false);
    cordon_err err = core->storage.get(core->storage.ctx, now_ms, m->u.fetch.key, &obj);
    if (err == CORDON_OK && !obj.failed && obj.len >= 1 && obj.len <= CORDON_OBJECT_MAX) {
        r.u.object.found = true;
        r.u.object.object = obj.data;
        r.u.object.len = obj.len;
    } else if (err != CORDON_ERR_NOT_FOUND) {
        cordon_buf_free(&obj);
        cordon_core_answer_error(core, from, m->txid, CORDON_MSGERR_INTERNAL, "storage failed");
        return;
    }
    r.type = CORDON_MSG_OBJECT;
    core->st.fetches_served++;
    cordon_core_send_msg(core, from, &r);
    cordon_buf_free(&obj);
}

bool cordon_storage_request(const cordon_core *core, const struct pending *p, struct cordon_msg *m)
{
    const struct storage_op *op = op_by_serial(core, p->lookup);
    if (op == NULL)
        return false;
    if (m->type == CORDON_MSG_STORE) {
        m->u.store.object = op->obj;
        m->u.store.len = op->len;
    } else {
        memcpy(m->u.fetch.key, op->key, CORDON_OBJECT_ENTRY_KEY_LEN);
    }
    return true;
}

/* ---- outcomes ----------------------------------------------------------------------------- */

static void put_refused(struct storage_op *op, struct replica *rep, uint16_t code, uint64_t held)
{
    rep->state = REPLICA_BAD;
    if (op->put.refused < CORDON_REPLICAS_MAX)
        op->codes[op->put.refused] = code;
    op->put.refused++;
    if (held > op->put.held)
        op->put.held = held;
}

static void put_failed(struct storage_op *op, struct replica *rep)
{
    rep->state = REPLICA_BAD;
    op->put.failed++;
}

/* An object a replica (or this node's storage) answered a get with. */
static void get_answer(cordon_core *core, uint64_t now_ms, struct storage_op *op,
                       struct replica *rep, const uint8_t *obj, size_t len)
{
    struct cordon_object o;
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    bool ok =
        len >= 1 && len <= CORDON_OBJECT_MAX && cordon_object_decode(obj, len, &o) == CORDON_OK;
    if (ok) {
        cordon_object_entry_key(&o, key);
        ok = memcmp(key, op->key, sizeof(key)) == 0;
    }
    if (ok)
        ok = core->storage.check(core->storage.ctx, now_ms, obj, len) == CORDON_OK;
    if (!ok) {
        rep->state = REPLICA_BAD;
        op->get.forged++;
        core->st.get_forged++;
        return;
    }
    rep->state = REPLICA_GOOD;
    if (op->get.found < OP_REPLICAS_MAX)
        op->valid_seq[op->get.found] = o.seq;
    op->get.found++;
    if (op->obj != NULL && o.seq <= op->seq)
        return; /* not newer; an equal seq keeps the first */
    uint8_t *copy = malloc(len);
    if (copy == NULL)
        return; /* keep the best so far */
    memcpy(copy, obj, len);
    free(op->obj);
    op->obj = copy;
    op->len = len;
    op->seq = o.seq;
}

/* This node as a replica: the host's storage, no message. */
static void serve_self(cordon_core *core, uint64_t now_ms, struct storage_op *op,
                       struct replica *rep)
{
    if (op->kind == OP_PUT) {
        uint64_t held = 0;
        cordon_err err = core->storage.put(core->storage.ctx, now_ms, op->obj, op->len, &held);
        if (err == CORDON_OK) {
            rep->state = REPLICA_GOOD;
            op->put.accepted++;
        } else {
            put_refused(op, rep, cordon_msg_store_code(err), held);
        }
        return;
    }
    op->get.asked++;
    cordon_buf obj;
    cordon_buf_init(&obj, CORDON_OBJECT_MAX, false);
    cordon_err err = core->storage.get(core->storage.ctx, now_ms, op->key, &obj);
    if (err == CORDON_OK && !obj.failed) {
        get_answer(core, now_ms, op, rep, obj.data, obj.len);
    } else if (err == CORDON_ERR_NOT_FOUND) {
        rep->state = REPLICA_BAD;
        op->get.not_found++;
    } else {
        rep->state = REPLICA_BAD;
        op->get.failed++;
    }
    cordon_buf_free(&obj);
}

/* The most common refusal code, the first seen among equals. */
static uint16_t common_code(const struct storage_op *op)
{
    size_t n = op->put.refused < CORDON_REPLICAS_MAX ? op->put.refused : CORDON_REPLICAS_MAX;
    uint16_t best = 0;
    size_t best_n = 0;
    for (size_t i = 0; i < n; i++) {
        size_t same = 0;
        for (size_t j = 0; j < n; j++)
            if (op->codes[j] == op->codes[i])
                same++;
        if (same > best_n) {
            best = op->codes[i];
            best_n = same;
        }
    }
    return best;
}

/* The operation is over: out of the table, then its callback, then freed. */
static void finish(cordon_core *core, struct storage_op *op)
{
    op_remove(core, op);
    if (op->kind == OP_PUT) {
        struct cordon_put_result res = op->put;
        cordon_err result = CORDON_ERR_NETWORK;
        res.code = common_code(op);
        if (res.accepted > 0)
            result = CORDON_OK;
        else if (res.refused > 0)
            result = cordon_msg_store_err(res.code);
        cordon_put_cb cb = op->put_cb;
        void *arg = op->arg;
        op_free(op);
        cb(arg, result, &res);
        return;
    }
    struct cordon_get_result res = op->get;
    size_t n = res.found < OP_REPLICAS_MAX ? res.found : OP_REPLICAS_MAX;
    cordon_err result = CORDON_ERR_NETWORK;
    if (op->obj != NULL) {
        result = CORDON_OK;
        res.seq = op->seq;
        for (size_t i = 0; i < n; i++)
            if (op->valid_seq[i] < op->seq)
                res.stale++;
        core->st.get_stale += res.stale;
    } else if (res.found + res.not_found + res.forged > 0) {
        result = CORDON_ERR_NOT_FOUND;
    }
    op->get_cb(op->arg, result, op->obj, op->obj != NULL ? op->len : 0, &res);
    op_free(op);
}

/* Sends what the operation may send, and ends it when nothing is left (op is freed then).
 * A put asks all its replicas; a get keeps r of them asked or answered well at a time. */
static void pump(cordon_core *core, uint64_t now_ms, struct storage_op *op)
{
    if (op->looking)
        return;
    size_t width = op->kind == OP_PUT ? op->nrep : core->cfg.params.replicas;
    size_t busy = 0;
    bool stalled = false;
    for (size_t i = 0; i < op->nrep; i++)
        if (op->rep[i].state == REPLICA_ASKED || op->rep[i].state == REPLICA_GOOD)
            busy++;
    for (size_t i = 0; i < op->nrep && busy < width; i++) {
        struct replica *rep = &op->rep[i];
        if (rep->state != REPLICA_NEW)
            continue;
        if (rep->self) {
            serve_self(core, now_ms, op, rep);
            if (rep->state == REPLICA_GOOD)
                busy++;
            continue;
        }
        uint8_t type = op->kind == OP_PUT ? CORDON_MSG_STORE : CORDON_MSG_FETCH;
        cordon_err err = cordon_rpc_request(core, now_ms, &rep->c, type, NULL, PURPOSE_STORAGE,
                                            op->serial, (uint8_t)i);
        if (err == CORDON_ERR_BUSY) {
            /* The pending table is full: event_done pumps again as requests resolve. */
            core->stalled = true;
            stalled = true;
            break;
        }
        if (err != CORDON_OK) {
            /* Out of memory: nothing may be in flight to wake us, so count it failed. */
            if (op->kind == OP_PUT) {
                put_failed(op, rep);
            } else {
                rep->state = REPLICA_BAD;
                op->get.asked++;
                op->get.failed++;
            }
            continue;
        }
        rep->state = REPLICA_ASKED;
        op->inflight++;
        busy++;
        if (op->kind == OP_GET)
            op->get.asked++;
    }
    if (op->inflight == 0 && !stalled)
        finish(core, op);
}

/* The lookup of the resource ID ended: choose the replicas and start asking. */
static void lookup_done(void *arg, cordon_err result, const struct cordon_contact *closest,
                        size_t n, const struct cordon_lookup_stats *stats)
{
    struct storage_op *op = arg; /* lives until its lookup has ended */
    cordon_core *core = op->core;
    const uint8_t *target = op->key; /* the resource ID */
    size_t limit = core->cfg.params.replicas;
    (void)result; /* no node answered: this one is the only replica known */
    if (op->kind == OP_GET)
        limit *= CORDON_GET_ASK_PER_R;
    if (limit > OP_REPLICAS_MAX)
        limit = OP_REPLICAS_MAX;
    op->looking = false;
    if (op->kind == OP_PUT)
        op->put.lookup = *stats;
    else
        op->get.lookup = *stats;
    bool self_placed = false;
    size_t j = 0;
    while (op->nrep < limit && (j < n || !self_placed)) {
        struct replica *rep = &op->rep[op->nrep];
        if (j < n && cordon_id_equal(closest[j].id, core->self.id)) {
            j++; /* never: a lookup leaves this node out */
            continue;
        }
        if (!self_placed &&
            (j >= n || cordon_id_distance_cmp(target, core->self.id, closest[j].id) < 0)) {
            rep->c = core->self;
            rep->self = true;
            self_placed = true;
        } else {
            rep->c = closest[j++];
        }
        op->nrep++;
    }
    if (op->kind == OP_PUT) {
        op->put.replicas = op->nrep;
        for (size_t i = 0; i < op->nrep; i++)
            if (op->rep[i].self)
                op->put.self = true;
    }
    pump(core, core->now_ms, op);
}

void cordon_storage_resolved(cordon_core *core, uint64_t now_ms, const struct pending *p,
                             enum rpc_outcome outcome, const struct cordon_msg *m)
{
    struct storage_op *op = op_by_serial(core, p->lookup);
    if (op == NULL || p->path >= op->nrep || op->rep[p->path].state != REPLICA_ASKED)
        return;
    struct replica *rep = &op->rep[p->path];
    op->inflight--;
    bool answered = outcome == RPC_ANSWERED && m != NULL;
    if (op->kind == OP_PUT) {
        if (answered && m->type == CORDON_MSG_STORED) {
            uint16_t code = m->u.stored.code;
            /* After a retry, "stale" at exactly our seq means that the first try was
             * stored and only its answer was lost: no one else signs this writer's seq. */
            bool ours = code == CORDON_STORED_STALE && p->tries > 0 && m->u.stored.seq == op->seq;
            if (code == CORDON_STORED_ACCEPTED || ours) {
                rep->state = REPLICA_GOOD;
                op->put.accepted++;
            } else {
                put_refused(op, rep, code, m->u.stored.seq);
            }
        } else {
            put_failed(op, rep);
        }
    } else if (answered && m->type == CORDON_MSG_OBJECT) {
        if (m->u.object.found) {
            get_answer(core, now_ms, op, rep, m->u.object.object, m->u.object.len);
        } else {
            rep->state = REPLICA_BAD;
            op->get.not_found++;
        }
    } else {
        rep->state = REPLICA_BAD;
        op->get.failed++;
    }
    pump(core, now_ms, op);
}

/* ---- starting ----------------------------------------------------------------------------- */

static cordon_err start(cordon_core *core, uint64_t now_ms, struct storage_op *op)
{
    op->core = core;
    op->looking = true;
    cordon_err err = cordon_lookups_start(core, now_ms, op->key, LOOKUP_USER, lookup_done, op);
    if (err != CORDON_OK) {
        op_remove(core, op);
        op_free(op);
    }
    /* On CORDON_OK the operation may already be over (an empty table: only this node). */
    return err;
}

cordon_err cordon_storage_put(cordon_core *core, uint64_t now_ms, const uint8_t *obj, size_t len,
                              cordon_put_cb cb, void *arg)
{
    struct cordon_object o;
    struct storage_op *op = NULL;
    if (len > CORDON_OBJECT_MAX)
        return CORDON_ERR_TOO_LARGE;
    cordon_err err = cordon_object_decode(obj, len, &o);
    if (err != CORDON_OK)
        return err;
    uint8_t *copy = malloc(len);
    if (copy == NULL)
        return CORDON_ERR_NOMEM;
    err = op_add(core, OP_PUT, &op);
    if (err != CORDON_OK) {
        free(copy);
        return err;
    }
    memcpy(copy, obj, len);
    op->obj = copy;
    op->len = len;
    op->seq = o.seq;
    cordon_object_entry_key(&o, op->key);
    op->put_cb = cb;
    op->arg = arg;
    return start(core, now_ms, op);
}

cordon_err cordon_storage_get(cordon_core *core, uint64_t now_ms,
                              const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN], cordon_get_cb cb,
                              void *arg)
{
    struct storage_op *op = NULL;
    cordon_err err = op_add(core, OP_GET, &op);
    if (err != CORDON_OK)
        return err;
    memcpy(op->key, key, CORDON_OBJECT_ENTRY_KEY_LEN);
    op->get_cb = cb;
    op->arg = arg;
    return start(core, now_ms, op);
}

/* ---- the rest ----------------------------------------------------------------------------- */

void cordon_storage_forget(cordon_core *core, const uint8_t id[CORDON_NODE_ID_LEN])
{
    for (size_t l = 0; l < CORDON_STORAGE_OPS_MAX; l++) {
        struct storage_op *op = core->ops[l];
        for (size_t i = 0; op != NULL && i < op->nrep; i++) {
            struct replica *rep = &op->rep[i];
            if (rep->state != REPLICA_NEW || rep->self || !cordon_id_equal(rep->c.id, id))
                continue;
            if (op->kind == OP_PUT)
                put_failed(op, rep);
            else
                rep->state = REPLICA_BAD; /* never asked: not counted */
        }
    }
}

void cordon_storage_pump_all(cordon_core *core, uint64_t now_ms)
{
    /* pump may end an operation, and its callback start another in any free slot: a
     * second pump of one operation in a pass is harmless. */
    for (size_t l = 0; l < CORDON_STORAGE_OPS_MAX; l++)
        if (core->ops[l] != NULL)
            pump(core, now_ms, core->ops[l]);
}

size_t cordon_storage_memory(const cordon_core *core)
{
    size_t bytes = 0;
    for (size_t l = 0; l < CORDON_STORAGE_OPS_MAX; l++)
        if (core->ops[l] != NULL)
            bytes +=
                sizeof(struct storage_op) + (core->ops[l]->obj != NULL ? core->ops[l]->len : 0);
    return bytes;
}

void cordon_storage_free(cordon_core *core)
{
    for (size_t l = 0; l < CORDON_STORAGE_OPS_MAX; l++) {
        op_free(core->ops[l]);
        core->ops[l] = NULL;
    }
    core->nops = 0;
}
