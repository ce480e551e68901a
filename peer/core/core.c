/*
 * peer/core/core.c — the public face of the core (core.h): creating and freeing it,
 * dispatching messages, serving PING and FIND_NODE (storage.c serves STORE, FETCH and
 * SUMMARY, and runs replica maintenance from event_done), join, bucket refresh, status.
 *
 * The order of work on a message is the cheap-checks-first order of STYLE.md practice 6:
 * the global inbound budget (no decoding yet; over it, the message is dropped silently),
 * then decoding, then for requests the sender's request bucket and, for FIND_NODE, its
 * routing bucket, for STORE its store bucket and the global store budget (over them, an
 * ERROR "rate limited" answer tells an honest but busy peer to back off). Only then does
 * the sender touch the routing table.
 *
 * Answers are told from requests by the response flag, not by a list of types: a storage
 * answer (STORED, OBJECT, WANT) taken for a request would be charged to its sender's
 * request budget and answered with an ERROR.
 */
#include <stdlib.h>
#include <string.h>

#include "peer/core/internal.h"

#define RPC_TIMEOUT_MAX_MS 600000 /* with CORDON_RPC_RETRIES_MAX doublings, fits 32 bits */
#define STORE_RATE_MAX 100000
#define MAINTAIN_MS_MAX 86400000 /* a day */

void cordon_core_config_default(struct cordon_core_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cordon_overlay_params_default(&cfg->params);
    cfg->rpc_timeout_ms = 1000;
    cfg->rpc_retries = 1;
    cfg->fail_evict = 2;
    cfg->refresh_ms = 15 * 60 * 1000;
    cfg->check_quiet_ms = 60 * 1000;
    cfg->store_rate = 10;
    cfg->store_burst = 100;
    cfg->store_global_rate = 1000;
    cfg->maintain_ms = 60 * 1000;
    cfg->maintain_soon_ms = 5 * 1000;
    cfg->maintain_watch_ms = 1000;
    cfg->watch_timeout_min_ms = 200;
}

static bool in_range(uint32_t v, uint32_t lo, uint32_t hi)
{
    return v >= lo && v <= hi;
}

static bool config_ok(const struct cordon_core_config *cfg)
{
    return cordon_overlay_params_check(&cfg->params) == CORDON_OK &&
           cfg->params.k <= CORDON_K_MAX && cfg->params.disjoint_paths <= CORDON_PATHS_MAX &&
           cfg->rpc_timeout_ms >= 1 && cfg->rpc_timeout_ms <= RPC_TIMEOUT_MAX_MS &&
           cfg->rpc_retries <= CORDON_RPC_RETRIES_MAX && cfg->fail_evict >= 1 &&
           cfg->fail_evict <= CORDON_FAIL_EVICT_MAX && cfg->refresh_ms >= 1 &&
           cfg->params.replicas >= 1 && cfg->params.replicas <= CORDON_REPLICAS_MAX &&
           in_range(cfg->store_rate, 1, STORE_RATE_MAX) &&
           in_range(cfg->store_burst, 1, STORE_RATE_MAX) &&
           in_range(cfg->store_global_rate, 1, STORE_RATE_MAX) &&
           in_range(cfg->maintain_ms, 1, MAINTAIN_MS_MAX) &&
           in_range(cfg->maintain_soon_ms, 1, cfg->maintain_ms) &&
           in_range(cfg->maintain_watch_ms, 1, cfg->maintain_ms) &&
           in_range(cfg->watch_timeout_min_ms, 1, cfg->rpc_timeout_ms);
}

void cordon_core_fill_random(cordon_core *core, void *out, size_t n)
{
    void (*fill)(void *, void *, size_t) = core->host.random;
    fill(core->host.ctx, out, n);
}

/* Bytes an object-carrying message needs (a STORE is one byte shorter than an OBJECT:
 * the spare byte costs nothing); 0 for the other types, which fit CORDON_MSG_MAX. */
static size_t storage_msg_size(const struct cordon_msg *m)
{
    size_t obj = 0;
    if (m->type == CORDON_MSG_STORE)
        obj = m->u.store.len;
    else if (m->type == CORDON_MSG_OBJECT && m->u.object.found)
        obj = m->u.object.len;
    else
        return 0;
    return obj <= CORDON_OBJECT_MAX ? CORDON_MSG_HEADER_LEN + 1 + 4 + obj : CORDON_MSG_STORAGE_MAX;
}

void cordon_core_send_msg(cordon_core *core, const struct cordon_contact *to,
                          const struct cordon_msg *m)
{
    uint8_t small[CORDON_MSG_MAX];
    uint8_t *buf = small;
    size_t cap = sizeof(small), len;
    size_t need = storage_msg_size(m);
    if (need > 0) {
        /* Up to 68 KB: never on the stack, and not kept between messages either (a
         * scratch buffer per core would cost every simulated node 68 KB). */
        buf = malloc(need);
        if (buf == NULL)
            return;
        cap = need;
    }
    /* Every message the core builds encodes; nothing to send otherwise. */
    if (cordon_msg_encode(m, buf, cap, &len) == CORDON_OK) {
        core->st.msgs_out++;
        core->host.send(core->host.ctx, to, buf, len);
    }
    if (buf != small)
        free(buf);
}

void cordon_core_set_query_hook(cordon_core *core, cordon_core_query_hook hook, void *ctx)
{
    core->query_hook = hook;
    core->query_hook_ctx = ctx;
}

cordon_err cordon_core_new(const struct cordon_core_config *cfg, const struct cordon_contact *self,
                           const struct cordon_core_host *host, cordon_core **out)
{
    cordon_err err;
    cordon_core *core = NULL;
    if (cfg == NULL || self == NULL || host == NULL || out == NULL || host->send == NULL ||
        host->random == NULL || !config_ok(cfg) ||
        (self->addr.family != 4 && self->addr.family != 6))
        return CORDON_ERR_INVAL;
    core = calloc(1, sizeof(*core));
    if (core == NULL)
        return CORDON_ERR_NOMEM;
    core->cfg = *cfg;
    core->self = *self;
    core->host = *host;
    err = cordon_limits_init(core);
    if (err != CORDON_OK)
        goto err;
    *out = core;
    return CORDON_OK;
err:
    cordon_core_free(core);
    return err;
}

cordon_err cordon_core_set_storage(cordon_core *core, const struct cordon_core_storage *storage)
{
    if (core == NULL || storage == NULL || storage->put == NULL || storage->get == NULL ||
        storage->check == NULL || core->storage.put != NULL)
        return CORDON_ERR_INVAL;
    cordon_err err = cordon_limits_store_init(core);
    if (err != CORDON_OK)
        return err;
    core->storage = *storage;
    return CORDON_OK;
}

void cordon_core_free(cordon_core *core)
{
    if (core == NULL)
        return;
    cordon_storage_free(core);
    cordon_lookups_free(core);
    cordon_rpc_free(core);
    cordon_table_free(core);
    cordon_limits_free(core);
    free(core);
}

/* ---- events -------------------------------------------------------------------------- */

static void note_now(cordon_core *core, uint64_t now_ms)
{
    if (now_ms > core->now_ms)
        core->now_ms = now_ms;
}

static void refresh_step(cordon_core *core, uint64_t now_ms);

/* Run at the end of every event: lookups that found the pending table full try again, a
 * refresh pass whose lookup ended goes on, and replica maintenance notices new nodes,
 * starts a pass when one is due and moves a running one on (its answers arrive as events). */
static void event_done(cordon_core *core, uint64_t now_ms)
{
    if (core->stalled && core->npend < CORDON_PENDING_MAX) {
        cordon_lookups_pump_all(core, now_ms); /* clears stalled: all may set it again */
        cordon_storage_pump_all(core, now_ms);
    }
    if (core->refresh_continue)
        refresh_step(core, now_ms);
    cordon_maint_step(core, now_ms);
}

void cordon_core_answer_error(cordon_core *core, const struct cordon_contact *to, uint32_t txid,
                              uint16_t code, const char *text)
{
    struct cordon_msg r;
    memset(&r, 0, sizeof(r));
    r.type = CORDON_MSG_ERROR;
    r.flags = CORDON_MSG_FLAG_RESPONSE;
    r.txid = txid;
    r.u.error.code = code;
    size_t len = strlen(text);
    memcpy(r.u.error.text, text, len < CORDON_ERROR_TEXT_MAX ? len : CORDON_ERROR_TEXT_MAX);
    cordon_core_send_msg(core, to, &r);
}

static void serve(cordon_core *core, uint64_t now_ms, const struct cordon_contact *from,
                  const struct cordon_msg *m)
{
    bool limited = false;
    if (!cordon_limits_node(core, now_ms, from->id, m->type == CORDON_MSG_FIND_NODE)) {
        core->st.dropped_rate_node++;
        limited = true;
    } else if (m->type == CORDON_MSG_STORE && !cordon_limits_store(core, now_ms, from->id)) {
        core->st.dropped_rate_store++;
        limited = true;
    }
    if (limited) {
        cordon_core_answer_error(core, from, m->txid, CORDON_MSGERR_RATE_LIMITED, "rate limited");
        return;
    }
    cordon_table_seen(core, now_ms, from);
    if (m->type == CORDON_MSG_STORE || m->type == CORDON_MSG_FETCH ||
        m->type == CORDON_MSG_SUMMARY) {
        cordon_storage_serve(core, now_ms, from, m);
        return;
    }
    if (m->type != CORDON_MSG_PING && m->type != CORDON_MSG_FIND_NODE) {
        cordon_core_answer_error(core, from, m->txid, CORDON_MSGERR_UNSUPPORTED,
                                 "unsupported request");
        return;
    }
    struct cordon_msg r;
    memset(&r, 0, sizeof(r));
    r.flags = CORDON_MSG_FLAG_RESPONSE;
    r.txid = m->txid;
    if (m->type == CORDON_MSG_PING) {
        r.type = CORDON_MSG_PONG;
    } else {
        /* The asker knows itself; suspect contacts (a failure not yet cleared) are not
         * handed out. */
        size_t max = core->cfg.params.k < CORDON_NODES_MAX ? core->cfg.params.k : CORDON_NODES_MAX;
        r.type = CORDON_MSG_NODES;
        r.u.nodes.count = (uint8_t)cordon_table_closest(core, m->u.find_node.target, from->id, true,
                                                        r.u.nodes.contacts, max);
    }
    cordon_core_send_msg(core, from, &r);
}

void cordon_core_receive(cordon_core *core, uint64_t now_ms, const struct cordon_contact *from,
                         const uint8_t *msg, size_t len)
{
    if (core == NULL || from == NULL || (msg == NULL && len > 0))
        return;
    note_now(core, now_ms);
    core->st.msgs_in++;
    if (!cordon_limits_global(core, now_ms)) {
        core->st.dropped_rate_global++;
        return;
    }
    struct cordon_msg m;
    if (cordon_msg_decode(msg, len, &m) != CORDON_OK) {
        core->st.dropped_malformed++;
        return;
    }
    /* The codec ties the flag to the type (PONG, NODES, ERROR, STORED, OBJECT, WANT carry
     * it, requests must not), so this is every answer type, present and future. */
    if (m.flags & CORDON_MSG_FLAG_RESPONSE)
        cordon_rpc_answer(core, now_ms, from, &m);
    else
        serve(core, now_ms, from, &m);
    event_done(core, now_ms);
}

void cordon_core_link_failed(cordon_core *core, uint64_t now_ms, const struct cordon_contact *to)
{
    if (core == NULL || to == NULL)
        return;
    note_now(core, now_ms);
    cordon_rpc_link_failed(core, now_ms, to);
    event_done(core, now_ms);
}

static void start_self_lookup(cordon_core *core, uint64_t now_ms)
{
    /* Retried on the next tick if every lookup slot is taken. */
    core->self_lookup_due =
        cordon_lookups_start(core, now_ms, core->self.id, LOOKUP_SELF, NULL, NULL) != CORDON_OK;
}

void cordon_core_join_pinged(cordon_core *core, uint64_t now_ms)
{
    if (core->join_pings > 0 && --core->join_pings == 0)
        start_self_lookup(core, now_ms);
}

/* Refresh: a lookup of a random ID in every non-empty bucket that saw no traffic (no
 * lookup into its range, no message from a resident) for refresh_ms. Busy buckets, which
 * in a large overlay are all but the few closest to us, cost nothing, and the pass runs
 * one lookup at a time, so a refresh never bursts (10,000 simulated nodes refresh too). */
static void refresh_step(cordon_core *core, uint64_t now_ms)
{
    core->refresh_continue = false;
    /* After join, every bucket down to the deepest one in use is looked up once: the
     * self-lookup filled the buckets near us, this fills the far ones. */
    unsigned deepest = 0;
    if (core->refresh_all)
        for (unsigned b = 0; b < CORDON_ID_BITS; b++)
            if (core->buckets[b] != NULL && core->buckets[b]->n > 0)
                deepest = b;
    while (!core->refresh_running && core->refresh_bucket < CORDON_ID_BITS) {
        unsigned b = core->refresh_bucket++;
        const struct bucket *bk = core->buckets[b];
        if (core->refresh_all) {
            if (b >= deepest) {
                core->refresh_all = false;
                core->refresh_bucket = CORDON_ID_BITS;
                break;
            }
        } else if (bk == NULL || bk->n == 0 || bk->last_active_ms + core->cfg.refresh_ms > now_ms) {
            continue;
        }
        uint8_t rnd[CORDON_NODE_ID_LEN], target[CORDON_NODE_ID_LEN];
        cordon_core_fill_random(core, rnd, sizeof(rnd));
        cordon_id_in_bucket(target, core->self.id, b, rnd);
        core->refresh_running = true;
        if (cordon_lookups_start(core, now_ms, target, LOOKUP_REFRESH, NULL, NULL) != CORDON_OK) {
            core->refresh_running = false; /* no room: the next period tries again */
            core->refresh_bucket = CORDON_ID_BITS;
            core->refresh_all = false;
        }
    }
}

void cordon_core_refresh_done(cordon_core *core)
{
    core->refresh_running = false;
    core->refresh_continue = true;
}

void cordon_core_self_lookup_done(cordon_core *core)
{
    core->refresh_all = true;
    core->refresh_bucket = 0;
    if (!core->refresh_running)
        core->refresh_continue = true;
}

/* The time of the next refresh pass: refresh_ms and up to half of it again, drawn anew each
 * time, so that nodes that joined together (a swarm, a mass restart) do not run their
 * passes, and open their links, in step for ever. */
static uint64_t next_refresh(cordon_core *core, uint64_t now_ms)
{
    uint32_t r = 0;
    uint64_t spread = core->cfg.refresh_ms / 2;
    cordon_core_fill_random(core, &r, sizeof(r));
    return now_ms + core->cfg.refresh_ms + (spread > 0 ? r % spread : 0);
}

void cordon_core_tick(cordon_core *core, uint64_t now_ms)
{
    if (core == NULL)
        return;
    note_now(core, now_ms);
    cordon_rpc_tick(core, now_ms);
    if (core->self_lookup_due)
        start_self_lookup(core, now_ms);
    if (core->joined && now_ms >= core->refresh_at) {
        core->refresh_at = next_refresh(core, now_ms);
        core->refresh_bucket = 0; /* a pass still running starts over after its lookup */
        refresh_step(core, now_ms);
    }
    event_done(core, now_ms);
}

uint64_t cordon_core_next_deadline(const cordon_core *core)
{
    if (core == NULL)
        return UINT64_MAX;
    uint64_t t = cordon_rpc_next_deadline(core);
    uint64_t m = cordon_maint_next_deadline(core);
    if (core->joined && core->refresh_at < t)
        t = core->refresh_at;
    return m < t ? m : t;
}

/* ---- local requests ------------------------------------------------------------------ */

cordon_err cordon_core_join(cordon_core *core, uint64_t now_ms,
                            const struct cordon_contact *bootstrap, size_t n)
{
    if (core == NULL || (bootstrap == NULL && n > 0) || n > CORDON_BOOTSTRAP_MAX)
        return CORDON_ERR_INVAL;
    note_now(core, now_ms);
    core->joined = true;
    core->refresh_at = next_refresh(core, now_ms);
    for (size_t i = 0; i < n; i++) {
        if (cordon_id_equal(bootstrap[i].id, core->self.id))
            continue;
        if (cordon_rpc_request(core, now_ms, &bootstrap[i], CORDON_MSG_PING, NULL, PURPOSE_JOIN, 0,
                               0) == CORDON_OK)
            core->join_pings++;
    }
    if (core->join_pings == 0)
        start_self_lookup(core, now_ms);
    event_done(core, now_ms);
    return CORDON_OK;
}

cordon_err cordon_core_lookup(cordon_core *core, uint64_t now_ms,
                              const uint8_t target[CORDON_NODE_ID_LEN], cordon_lookup_cb cb,
                              void *arg)
{
    if (core == NULL || target == NULL || cb == NULL)
        return CORDON_ERR_INVAL;
    note_now(core, now_ms);
    cordon_err err = cordon_lookups_start(core, now_ms, target, LOOKUP_USER, cb, arg);
    event_done(core, now_ms);
    return err;
}

cordon_err cordon_core_find_node(cordon_core *core, uint64_t now_ms,
                                 const uint8_t target[CORDON_NODE_ID_LEN], cordon_lookup_cb cb,
                                 void *arg)
{
    if (core == NULL || target == NULL || cb == NULL)
        return CORDON_ERR_INVAL;
    note_now(core, now_ms);
    cordon_err err = cordon_lookups_start(core, now_ms, target, LOOKUP_FIND, cb, arg);
    event_done(core, now_ms);
    return err;
}

cordon_err cordon_core_put(cordon_core *core, uint64_t now_ms, const uint8_t *obj, size_t len,
                           cordon_put_cb cb, void *arg)
{
    if (core == NULL || obj == NULL || cb == NULL || core->storage.put == NULL)
        return CORDON_ERR_INVAL;
    note_now(core, now_ms);
    cordon_err err = cordon_storage_put(core, now_ms, obj, len, cb, arg);
    event_done(core, now_ms);
    return err;
}

cordon_err cordon_core_get(cordon_core *core, uint64_t now_ms,
                           const uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN], cordon_get_cb cb,
                           void *arg)
{
    if (core == NULL || key == NULL || cb == NULL || core->storage.put == NULL)
        return CORDON_ERR_INVAL;
    note_now(core, now_ms);
    cordon_err err = cordon_storage_get(core, now_ms, key, cb, arg);
    event_done(core, now_ms);
    return err;
}

void cordon_core_status(const cordon_core *core, struct cordon_core_status *out)
{
    if (core == NULL) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = core->st;
    out->table_size = core->table_size;
    out->buckets_used = core->buckets_used;
    out->pending = core->npend;
    out->lookups = core->nlookups;
    out->storage_ops = core->nops;
}

size_t cordon_core_contacts(const cordon_core *core, struct cordon_contact *out, size_t max)
{
    size_t n = 0;
    if (core == NULL)
        return 0;
    for (unsigned b = 0; b < CORDON_ID_BITS; b++) {
        const struct bucket *bk = core->buckets[b];
        for (size_t i = 0; bk != NULL && i < bk->n && n < max; i++)
            out[n++] = bk->e[i].c;
    }
    return core->table_size;
}

void cordon_core_forget(cordon_core *core, const uint8_t id[CORDON_NODE_ID_LEN])
{
    if (core == NULL || id == NULL)
        return;
    uint64_t now_ms = core->now_ms;
    cordon_lookups_forget(core, now_ms, id);
    cordon_storage_forget(core, id);
    cordon_rpc_forget(core, now_ms, id);
    if (cordon_table_remove(core, now_ms, id))
        core->maint_removed++; /* so that a replacement it promotes counts as new */
    /* A path that lost its last candidate may be over now, and so may a put or get. */
    cordon_lookups_pump_all(core, now_ms);
    cordon_storage_pump_all(core, now_ms);
    event_done(core, now_ms);
}

size_t cordon_core_memory(const cordon_core *core)
{
    if (core == NULL)
        return 0;
    return sizeof(*core) + core->table_bytes + cordon_rpc_memory(core) +
           cordon_lookups_memory(core) + cordon_storage_memory(core) + cordon_limits_memory(core);
}
