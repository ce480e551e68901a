/*
 * peer/core/storage.c — the storage protocol in the core: puts and gets over r replicas,
 * serving STORE, FETCH and SUMMARY, and replica maintenance (docs/protocol.md 7.5, 7.7,
 * 7.8). The host's object store does the accepting and the file I/O (struct
 * cordon_core_storage); this file decides who is asked and what the answers add up to.
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
 *
 * Replica maintenance (when the storage has scan and held) runs from the end of every
 * event (cordon_maint_step): a pass walks the store in batches of CORDON_SUMMARY_MAX
 * entries; each entry's r closest nodes by the table (this node aside) get a SUMMARY of
 * the batch's entries they should hold, and the entries a WANT names go out as OP_PUSH
 * operations: a STORE to one replica, sent, retried and judged like a put's, without a
 * lookup or a callback. The caps in internal.h ("replica maintenance") bound what a pass
 * holds and has in flight, so a pass needs no timer but a short pause when it scanned its
 * share for one event. SUMMARY is served with cheap checks first: whether this node should
 * replicate the resource at all (its table), and only then the store (held).
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

static bool maint_enabled(const cordon_core *core)
{
    return core->storage.scan != NULL && core->storage.held != NULL;
}

/* The nodes other than this one among the `limit` closest to rid of the table and this
 * node, closest first, into out (limit entries); *self_in says whether this node is one of
 * the limit. Suspect contacts (a failure not yet cleared) count only when !healthy_only. */
static size_t closest_with_self(const cordon_core *core, const uint8_t rid[CORDON_NODE_ID_LEN],
                                size_t limit, bool healthy_only, struct cordon_contact *out,
                                bool *self_in)
{
    size_t n = cordon_table_closest(core, rid, core->self.id, healthy_only, out, limit);
    size_t closer = 0;
    while (closer < n && cordon_id_distance_cmp(rid, out[closer].id, core->self.id) < 0)
        closer++;
    *self_in = closer < limit;
    if (*self_in && n == limit)
        n--; /* this node takes the last place */
    return n;
}

/* The other replicas of an entry this node is among the r closest for join the watch. */
static void watch_add(cordon_core *core, const struct cordon_contact *reps, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        size_t k = 0;
        while (k < core->nwatch && !cordon_id_equal(core->watch[k], reps[j].id))
            k++;
        if (k == core->nwatch && core->nwatch < MAINT_WATCH_MAX)
            memcpy(core->watch[core->nwatch++], reps[j].id, CORDON_NODE_ID_LEN);
    }
}

/* An object this node just accepted from a STORE (a put's or a push's), or its own put
 * kept: if it is among the r closest, the other replicas join the watch now rather than
 * at its next pass, up to a period away. A node that just became a replica because
 * another departed may soon hold the last copy, and only the watch or a pass would tell it
 * that its partners went too. */
static void watch_object(cordon_core *core, const uint8_t *obj, size_t len)
{
    struct cordon_object o;
    if (!maint_enabled(core) || cordon_object_decode(obj, len, &o) != CORDON_OK)
        return;
    struct cordon_contact reps[CORDON_REPLICAS_MAX];
    bool self_in = false;
    size_t nr =
        closest_with_self(core, o.resource, core->cfg.params.replicas, true, reps, &self_in);
    if (self_in)
        watch_add(core, reps, nr);
}

/* SUMMARY: WANT the entries held at a lower seq or not at all. The sender chose this node
 * by its own table, and this node does not second-guess it with its own: an empty WANT
 * says "nothing to send", so a node that declined entries it judged another's (it used to
 * want only resources whose 2r closest it was among) left the sender believing they were
 * placed. Under churn, where tables are full of departed nodes, that declined three
 * entries for every one pushed, and objects went on with fewer than r live copies until
 * they had none (bench/sim SUITE=churn, 2,000 nodes, 85% replaced every 10 min, r = 3:
 * 59 of 2,000 lost in three rounds with the check, 8 without). Nothing is given away by
 * wanting: what the sender STOREs then is what it could STORE here unasked, and pays the
 * full acceptance and the STORE budgets the same. An entry at seq 0 is never wanted: held
 * cannot tell it from none. */
static void serve_summary(cordon_core *core, uint64_t now_ms, const struct cordon_contact *from,
                          const struct cordon_msg *m)
{
    struct cordon_msg r;
    memset(&r, 0, sizeof(r));
    r.type = CORDON_MSG_WANT;
    r.flags = CORDON_MSG_FLAG_RESPONSE;
    r.txid = m->txid;
    for (size_t i = 0; i < m->u.summary.count && i < CORDON_SUMMARY_MAX; i++) {
        const struct cordon_summary_entry *e = &m->u.summary.entries[i];
        uint64_t held = 0;
        if (core->storage.held(core->storage.ctx, now_ms, e->key, &held) != CORDON_OK) {
            cordon_core_answer_error(core, from, m->txid, CORDON_MSGERR_INTERNAL, "storage failed");
            return;
        }
        if (held < e->seq)
            r.u.want.index[r.u.want.count++] = (uint8_t)i;
    }
    core->st.summaries_served++;
    cordon_core_send_msg(core, from, &r);
}

void cordon_storage_serve(cordon_core *core, uint64_t now_ms, const struct cordon_contact *from,
                          const struct cordon_msg *m)
{
    if (core->storage.put == NULL) {
        cordon_core_answer_error(core, from, m->txid, CORDON_MSGERR_UNSUPPORTED,
                                 "storage not served");
        return;
    }
    if (m->type == CORDON_MSG_SUMMARY) {
        if (!maint_enabled(core))
            cordon_core_answer_error(core, from, m->txid, CORDON_MSGERR_UNSUPPORTED,
                                     "maintenance not served");
        else
            serve_summary(core, now_ms, from, m);
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
        if (err == CORDON_OK) {
            core->st.stores_accepted++;
            watch_object(core, m->u.store.object, m->u.store.len);
        }
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

static struct maint_target *target_by_serial(const cordon_core *core, uint32_t serial,
                                             struct maint_batch **batch)
{
    for (size_t b = 0; serial != 0 && b < MAINT_BATCHES_MAX; b++) {
        struct maint_batch *bt = core->maint_batch[b];
        for (size_t i = 0; bt != NULL && i < bt->nt; i++)
            if (bt->t[i].serial == serial) {
                *batch = bt;
                return &bt->t[i];
            }
    }
    return NULL;
}

bool cordon_storage_request(const cordon_core *core, const struct pending *p, struct cordon_msg *m)
{
    if (m->type == CORDON_MSG_SUMMARY) {
        struct maint_batch *b = NULL;
        const struct maint_target *t = target_by_serial(core, p->lookup, &b);
        if (t == NULL || t->state != TARGET_ASKED)
            return false;
        m->u.summary.count = 0;
        for (size_t i = 0; i < b->n; i++)
            if (t->entries & (1u << i))
                m->u.summary.entries[m->u.summary.count++] = b->e[i];
        return m->u.summary.count > 0;
    }
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
            watch_object(core, op->obj, op->len);
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
    if (op->kind == OP_PUSH) {
        core->maint_pushes--;
        if (op->put.accepted > 0)
            core->st.maintain_accepted++;
        op_free(op);
        return;
    }
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
    } else if (res.found + res.not_found + res.forged > 0 &&
               !(res.lookup.messages > 0 && res.lookup.answered == 0)) {
        /* When the lookup asked nodes and none answered, this node was the only replica
         * asked, and its "not found" says nothing of the overlay's: that is "network". A
         * node alone in its overlay (an empty table, nothing asked) does answer. */
        result = CORDON_ERR_NOT_FOUND;
    }
    op->get_cb(op->arg, result, op->obj, op->obj != NULL ? op->len : 0, &res);
    op_free(op);
}

/* Sends what the operation may send, and ends it when nothing is left (op is freed then).
 * A put (or push) asks all its replicas; a get keeps r of them asked or answered well at a
 * time. */
static void pump(cordon_core *core, uint64_t now_ms, struct storage_op *op)
{
    if (op->looking)
        return;
    size_t width = op->kind != OP_GET ? op->nrep : core->cfg.params.replicas;
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
        uint8_t type = op->kind != OP_GET ? CORDON_MSG_STORE : CORDON_MSG_FETCH;
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
            if (op->kind != OP_GET) {
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
        if (op->kind == OP_PUSH)
            core->st.maintain_pushed++;
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

static void maint_resolved(cordon_core *core, const struct pending *p, enum rpc_outcome outcome,
                           const struct cordon_msg *m);

void cordon_storage_resolved(cordon_core *core, uint64_t now_ms, const struct pending *p,
                             enum rpc_outcome outcome, const struct cordon_msg *m)
{
    if (p->type == CORDON_MSG_SUMMARY) {
        maint_resolved(core, p, outcome, m);
        return;
    }
    struct storage_op *op = op_by_serial(core, p->lookup);
    if (op == NULL || p->path >= op->nrep || op->rep[p->path].state != REPLICA_ASKED)
        return;
    struct replica *rep = &op->rep[p->path];
    op->inflight--;
    bool answered = outcome == RPC_ANSWERED && m != NULL;
    if (op->kind != OP_GET) {
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

/* ---- replica maintenance ------------------------------------------------------------------ */

static void batch_free(struct maint_batch *b)
{
    if (b != NULL)
        free(b->t);
    free(b);
}

/* A pass is over (done, or stopped by the host's failure): its batches go. SUMMARYs still
 * in flight find no target when they resolve, and their WANTs are dropped. */
static void pass_end(cordon_core *core, bool completed)
{
    for (size_t b = 0; b < MAINT_BATCHES_MAX; b++) {
        batch_free(core->maint_batch[b]);
        core->maint_batch[b] = NULL;
    }
    core->maint_running = false;
    core->maint_resume_at = 0;
    core->watch_at = core->now_ms + core->cfg.maintain_watch_ms;
    if (completed)
        core->st.maintain_passes++;
}

/* Adds the target of the batch for entry i that is node c: into a target not asked yet,
 * or a new one. false when the batch is at its cap or out of memory. */
static bool target_add(struct maint_batch *b, size_t i, const struct cordon_contact *c)
{
    for (size_t k = 0; k < b->nt; k++)
        if (b->t[k].state == TARGET_NEW && cordon_id_equal(b->t[k].c.id, c->id)) {
            b->t[k].entries |= (uint16_t)(1u << i);
            return true;
        }
    if (b->nt == b->cap)
        return false;
    memset(&b->t[b->nt], 0, sizeof(b->t[b->nt]));
    b->t[b->nt].c = *c;
    b->t[b->nt].entries = (uint16_t)(1u << i);
    b->nt++;
    return true;
}

/* A SUMMARY failed: its target is suspect now (rpc.c counted the failure) or gone from the
 * table, so its entries go to the nodes now among their r closest that this batch has not
 * named for them, at once rather than a pass later. The replica that stopped answering may
 * have been one of an entry's last copies: under churn the time from a replica's departure
 * to a new copy is what decides whether the last copy departs first (bench/sim
 * SUITE=churn). Bounded by the batch's cap (MAINT_RETARGETS). */
static void retarget(cordon_core *core, struct maint_batch *b, uint16_t entries)
{
    size_t r = core->cfg.params.replicas;
    struct cordon_contact reps[CORDON_REPLICAS_MAX];
    for (size_t i = 0; i < b->n; i++) {
        if (!(entries & (1u << i)))
            continue;
        bool self_in = false;
        size_t nr = closest_with_self(core, b->e[i].key, r, true, reps, &self_in);
        for (size_t j = 0; j < nr; j++) {
            bool named = false;
            for (size_t k = 0; k < b->nt && !named; k++)
                named = (b->t[k].entries & (1u << i)) && cordon_id_equal(b->t[k].c.id, reps[j].id);
            if (!named && !target_add(b, i, &reps[j]))
                return;
            if (!named)
                core->st.maintain_retargeted++;
        }
    }
}

static void maint_resolved(cordon_core *core, const struct pending *p, enum rpc_outcome outcome,
                           const struct cordon_msg *m)
{
    /* Every SUMMARY sent resolves here exactly once, whether or not its pass still runs. */
    core->maint_summaries--;
    struct maint_batch *b = NULL;
    struct maint_target *t = target_by_serial(core, p->lookup, &b);
    if (t == NULL || t->state != TARGET_ASKED)
        return;
    t->state = TARGET_DONE;
    if (outcome == RPC_FAILED) {
        retarget(core, b, t->entries); /* t is not used after: the batch may have grown */
        return;
    }
    if (outcome != RPC_ANSWERED || m == NULL || m->type != CORDON_MSG_WANT)
        return; /* refused: the next pass tries again */
    /* Index j of the WANT is the j-th entry of our SUMMARY, which named the batch's entries
     * in t->entries in order. The codec checked j < CORDON_SUMMARY_MAX and the order; the
     * count is ours to check. */
    uint8_t of[CORDON_SUMMARY_MAX];
    size_t count = 0;
    for (size_t i = 0; i < b->n; i++)
        if (t->entries & (1u << i))
            of[count++] = (uint8_t)i;
    uint16_t want = 0;
    for (size_t j = 0; j < m->u.want.count; j++) {
        if (m->u.want.index[j] >= count) {
            core->st.dropped_unsolicited++; /* names an entry we did not send: all of it goes */
            return;
        }
        want |= (uint16_t)(1u << of[m->u.want.index[j]]);
    }
    if (want != 0) {
        t->want = want;
        t->state = TARGET_WANTS;
    }
}

/* One wanted entry to its target: the object as stored now (a newer seq than the summary's
 * is as good), copied into an OP_PUSH, whose STORE goes out like a put's. An entry that
 * expired or went meanwhile is skipped, as is one the host fails to read. */
static void push_entry(cordon_core *core, uint64_t now_ms, const struct cordon_contact *to,
                       const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN])
{
    cordon_buf obj;
    struct cordon_object o;
    struct storage_op *op = NULL;
    cordon_buf_init(&obj, CORDON_OBJECT_MAX, false);
    cordon_err err = core->storage.get(core->storage.ctx, now_ms, key, &obj);
    uint8_t *copy = NULL;
    if (err == CORDON_OK && !obj.failed && obj.len >= 1 && obj.len <= CORDON_OBJECT_MAX &&
        cordon_object_decode(obj.data, obj.len, &o) == CORDON_OK)
        copy = malloc(obj.len);
    if (copy == NULL || op_add(core, OP_PUSH, &op) != CORDON_OK) {
        free(copy);
        cordon_buf_free(&obj);
        return;
    }
    memcpy(copy, obj.data, obj.len);
    op->core = core;
    op->obj = copy;
    op->len = obj.len;
    op->seq = o.seq;
    cordon_object_entry_key(&o, op->key);
    op->rep[0].c = *to;
    op->nrep = 1;
    op->put.replicas = 1;
    cordon_buf_free(&obj);
    core->maint_pushes++;
    pump(core, now_ms, op);
}

/* Sends what the held batches may send within the caps: SUMMARYs to new targets, then the
 * pushes that WANTs asked for. false when the pending table is full (event_done calls
 * again when it has room). */
static bool maint_send(cordon_core *core, uint64_t now_ms)
{
    for (size_t b = 0; b < MAINT_BATCHES_MAX; b++) {
        struct maint_batch *bt = core->maint_batch[b];
        for (size_t i = 0; bt != NULL && i < bt->nt; i++) {
            struct maint_target *t = &bt->t[i];
            if (t->state == TARGET_NEW && core->maint_summaries < MAINT_SUMMARIES_MAX) {
                if (++core->maint_serial == 0)
                    core->maint_serial = 1;
                t->serial = core->maint_serial;
                t->state = TARGET_ASKED; /* the request reads the target back to fill itself */
                cordon_err err = cordon_rpc_request(core, now_ms, &t->c, CORDON_MSG_SUMMARY, NULL,
                                                    PURPOSE_STORAGE, t->serial, 0);
                if (err == CORDON_ERR_BUSY) {
                    t->state = TARGET_NEW;
                    core->stalled = true;
                    return false;
                }
                if (err != CORDON_OK) {
                    t->state = TARGET_DONE; /* out of memory: the next pass tries again */
                    continue;
                }
                core->maint_summaries++;
                core->st.summaries_sent++;
            }
            while (t->state == TARGET_WANTS && t->want != 0 &&
                   core->maint_pushes < MAINT_PUSHES_MAX && core->nops < CORDON_STORAGE_OPS_MAX) {
                unsigned e = 0;
                while (!(t->want & (1u << e)))
                    e++;
                t->want &= (uint16_t) ~(1u << e);
                push_entry(core, now_ms, &t->c, bt->e[e].key);
            }
            if (t->state == TARGET_WANTS && t->want == 0)
                t->state = TARGET_DONE;
        }
    }
    return true;
}

/* Frees the batches whose targets are all done; how many are left. */
static size_t maint_reap(cordon_core *core)
{
    size_t held = 0;
    for (size_t b = 0; b < MAINT_BATCHES_MAX; b++) {
        struct maint_batch *bt = core->maint_batch[b];
        if (bt == NULL)
            continue;
        bool done = true;
        for (size_t i = 0; i < bt->nt && done; i++)
            done = bt->t[i].state == TARGET_DONE;
        if (done) {
            batch_free(bt);
            core->maint_batch[b] = NULL;
        } else {
            held++;
        }
    }
    return held;
}

/* Scans the next batch into a free slot and works out its targets. CORDON_OK with
 * maint_end set when the walk is over. A host that breaks the scan contract (more than
 * asked, keys not strictly increasing after the last one) fails the pass like a host
 * error: a SUMMARY of its entries would not even encode. */
static cordon_err maint_scan(cordon_core *core, uint64_t now_ms)
{
    size_t slot = 0, n = 0, r = core->cfg.params.replicas;
    while (core->maint_batch[slot] != NULL)
        slot++;
    struct maint_batch *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return CORDON_ERR_NOMEM;
    cordon_err err = core->storage.scan(core->storage.ctx, now_ms,
                                        core->maint_has_after ? core->maint_after : NULL, b->e,
                                        CORDON_SUMMARY_MAX, &n);
    if (err == CORDON_OK && n > CORDON_SUMMARY_MAX)
        err = CORDON_ERR_INVAL;
    for (size_t i = 0; err == CORDON_OK && i < n; i++) {
        const uint8_t *prev = i > 0                   ? b->e[i - 1].key
                              : core->maint_has_after ? core->maint_after
                                                      : NULL;
        if (prev != NULL && memcmp(prev, b->e[i].key, CORDON_OBJECT_ENTRY_KEY_LEN) >= 0)
            err = CORDON_ERR_INVAL;
    }
    if (err != CORDON_OK || n == 0) {
        free(b);
        core->maint_end = err == CORDON_OK;
        return err;
    }
    b->n = n;
    memcpy(core->maint_after, b->e[n - 1].key, CORDON_OBJECT_ENTRY_KEY_LEN);
    core->maint_has_after = true;
    /* Each entry has at most r targets (this node is one of the r, or it is not) at first,
     * more after failures (retarget). */
    b->cap = MAINT_RETARGETS * n * r;
    b->t = calloc(b->cap, sizeof(*b->t));
    if (b->t == NULL) {
        free(b);
        return CORDON_ERR_NOMEM;
    }
    struct cordon_contact reps[CORDON_REPLICAS_MAX];
    for (size_t i = 0; i < n; i++) {
        bool self_in = false;
        /* Suspect contacts are passed over: the next closest takes the place of a replica
         * that stopped answering, which is what maintenance is for. */
        size_t nr = closest_with_self(core, b->e[i].key, r, true, reps, &self_in);
        if (self_in)
            watch_add(core, reps, nr);
        for (size_t j = 0; j < nr; j++) {
            size_t k = 0;
            while (k < b->nt && !cordon_id_equal(b->t[k].c.id, reps[j].id))
                k++;
            if (k == b->nt)
                b->t[b->nt++].c = reps[j];
            b->t[k].entries |= (uint16_t)(1u << i);
        }
    }
    core->maint_batch[slot] = b;
    return CORDON_OK;
}

/* Moves a running pass on: send, reap, scan while there is room, at most
 * MAINT_SCANS_PER_STEP scans an event. */
static void maint_run(cordon_core *core, uint64_t now_ms)
{
    size_t scans = 0;
    core->maint_resume_at = 0;
    for (;;) {
        if (!maint_send(core, now_ms))
            return;
        size_t held = maint_reap(core);
        if (core->maint_end) {
            if (held == 0)
                pass_end(core, true);
            return;
        }
        if (held == MAINT_BATCHES_MAX)
            return; /* answers wake us */
        if (scans == MAINT_SCANS_PER_STEP) {
            core->maint_resume_at = now_ms + MAINT_PACE_MS;
            return;
        }
        scans++;
        if (maint_scan(core, now_ms) != CORDON_OK) {
            pass_end(core, false); /* the host failed: start over next period */
            return;
        }
    }
}

/* Between passes: pings the watched replicas not heard from within half of
 * maintain_watch_ms (the answer to the last round's ping comes a round trip after it, so
 * a whole period would skip every other round). A replica that departed is otherwise
 * noticed only by the next pass, up to a period later, and meanwhile the copies left may
 * depart too: at 10,000 nodes and half of them replaced every 10 minutes, the last copy
 * of five objects stayed 21 s alone after its two partners left 2.6 s apart, and left in
 * turn before a pass (bench/README.md, churn). A node no longer in the table, or suspect
 * already, has a pass coming for it. */
static void watch_step(cordon_core *core, uint64_t now_ms)
{
    if (core->maint_running || core->nwatch == 0 || now_ms < core->watch_at)
        return;
    core->watch_at = now_ms + core->cfg.maintain_watch_ms;
    for (size_t i = 0; i < core->nwatch; i++) {
        const struct table_entry *e = cordon_table_find(core, core->watch[i]);
        if (e == NULL || e->fails > 0 || e->last_seen_ms + core->cfg.maintain_watch_ms / 2 > now_ms)
            continue;
        struct cordon_contact to = e->c;
        if (cordon_rpc_request(core, now_ms, &to, CORDON_MSG_PING, NULL, PURPOSE_WATCH, 0, 0) ==
            CORDON_OK)
            core->st.maintain_watched++;
    }
}

void cordon_maint_watch_resolved(cordon_core *core, enum rpc_outcome outcome)
{
    /* A failure went through the table first (cordon_maint_suspect started the pass). */
    if (outcome == RPC_FAILED)
        core->st.maintain_watch_failed++;
}

void cordon_maint_suspect(cordon_core *core, uint64_t now_ms, const uint8_t id[CORDON_NODE_ID_LEN])
{
    /* A watched replica that fails any request, a watch ping or another, is one of the
     * copies of something this node holds: the pass that replaces it starts at the end
     * of this event rather than maintain_soon_ms later. It passes the suspect over. Under
     * churn the copies left may depart within seconds (bench/README.md, churn). While a
     * pass runs, its own failed SUMMARYs are retargeted within it, and any other failure
     * schedules the usual early pass. */
    if (core->maint_running)
        return;
    for (size_t i = 0; i < core->nwatch; i++)
        if (cordon_id_equal(core->watch[i], id)) {
            core->maint_soon_at = now_ms;
            return;
        }
}

void cordon_maint_step(cordon_core *core, uint64_t now_ms)
{
    if (!maint_enabled(core) || !core->joined)
        return;
    uint32_t rnd = 0;
    /* Every node that entered the table is in table_size, or left it by eviction or
     * forget: so this rises exactly when a node was admitted, even one that took the place
     * of an evicted one within the same event, and when a node turned suspect. Both change
     * the closest set of some resources: a joiner should get what it is now among the r
     * closest for, and a replica that stopped answering should be replaced before the
     * others go too (bench/README.md, churn). */
    uint64_t changes =
        core->table_size + core->st.evictions + core->maint_removed + core->maint_suspects;
    if (changes > core->maint_changes && core->maint_soon_at == 0) {
        /* Up to half again, drawn: a swarm that restarts together does not pass in step. */
        cordon_core_fill_random(core, &rnd, sizeof(rnd));
        core->maint_soon_at =
            now_ms + core->cfg.maintain_soon_ms +
            (core->cfg.maintain_soon_ms / 2 > 0 ? rnd % (core->cfg.maintain_soon_ms / 2) : 0);
    }
    core->maint_changes = changes;
    if (core->maint_at == 0) {
        cordon_core_fill_random(core, &rnd, sizeof(rnd));
        core->maint_at = now_ms + 1 + rnd % core->cfg.maintain_ms;
    }
    watch_step(core, now_ms);
    if (!core->maint_running) {
        bool due = now_ms >= core->maint_at;
        if (!due && (core->maint_soon_at == 0 || now_ms < core->maint_soon_at))
            return;
        if (due)
            core->maint_at = now_ms + core->cfg.maintain_ms;
        core->maint_soon_at = 0; /* this pass meets the new nodes */
        core->nwatch = 0;        /* and finds the replicas to watch afresh */
        core->maint_running = true;
        core->maint_end = false;
        core->maint_has_after = false;
    }
    maint_run(core, now_ms);
}

uint64_t cordon_maint_next_deadline(const cordon_core *core)
{
    if (!maint_enabled(core) || !core->joined || core->maint_at == 0)
        return UINT64_MAX;
    if (core->maint_running)
        return core->maint_resume_at != 0 ? core->maint_resume_at : UINT64_MAX;
    uint64_t d = core->maint_at;
    if (core->maint_soon_at != 0 && core->maint_soon_at < d)
        d = core->maint_soon_at;
    if (core->nwatch > 0 && core->watch_at < d)
        d = core->watch_at;
    return d;
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
            if (op->kind != OP_GET)
                put_failed(op, rep);
            else
                rep->state = REPLICA_BAD; /* never asked: not counted */
        }
    }
    /* Targets not asked yet, or not pushed to yet, are dropped: the host bans the node. */
    for (size_t b = 0; b < MAINT_BATCHES_MAX; b++) {
        struct maint_batch *bt = core->maint_batch[b];
        for (size_t i = 0; bt != NULL && i < bt->nt; i++) {
            struct maint_target *t = &bt->t[i];
            if ((t->state == TARGET_NEW || t->state == TARGET_WANTS) &&
                cordon_id_equal(t->c.id, id)) {
                t->state = TARGET_DONE;
                t->want = 0;
            }
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
    for (size_t b = 0; b < MAINT_BATCHES_MAX; b++)
        if (core->maint_batch[b] != NULL)
            bytes += sizeof(struct maint_batch) +
                     core->maint_batch[b]->cap * sizeof(struct maint_target);
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
    for (size_t b = 0; b < MAINT_BATCHES_MAX; b++) {
        if (core->maint_batch[b] != NULL)
            free(core->maint_batch[b]->t);
        free(core->maint_batch[b]);
        core->maint_batch[b] = NULL;
    }
}
