/* peer/control.c — see control.h. */
#include "peer/control.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/hex.h"
#include "common/log.h"

#define LOOKUP_PREFIX "/v1/lookup/"
#define OBJECTS_PREFIX "/v1/objects/"
#define OCTETS_TYPE "application/octet-stream"
#define JSON_TYPE "application/json"
#define METRICS_TYPE "text/plain; version=0.0.4"

enum route {
    ROUTE_NONE,
    ROUTE_STATUS,
    ROUTE_PEERS,
    ROUTE_LOOKUP,
    ROUTE_METRICS,
    ROUTE_OBJECT,
};

enum lookup_state {
    LOOKUP_IDLE,
    LOOKUP_WAITING,   /* started; the connection is (or is about to be) suspended */
    LOOKUP_DONE,      /* result holds the answer */
    LOOKUP_ABANDONED, /* timed out or the control is closing */
};
/* (An object request goes through the same states, its answer in req->obj.) */

struct request {
    enum route route;
    bool answered;
    bool suspended;
    int slot; /* index in ctl->pending while the lookup runs, else -1 */
    enum lookup_state state;
    uint64_t start_ms;
    uint8_t target[CORDON_NODE_ID_LEN];
    struct cordon_control_lookup_result result;
    /* ROUTE_OBJECT: the request (its value points into body), the PUT body as it arrives
     * (exactly Content-Length bytes, at most the body cap), and the answer (its value in
     * obj_value, owned). */
    struct cordon_control_object_request oreq;
    uint8_t *body;
    size_t body_len, body_want;
    struct cordon_control_object_result obj;
    uint8_t *obj_value;
};

/* A lookup in progress: the token the host knows it by and the request waiting for it. */
struct pending {
    bool used;
    uint64_t token;
    uint64_t deadline_ms;
    struct request *req;
    struct MHD_Connection *conn;
};

struct cordon_control {
    const struct cordon_control_ops *ops;
    void *ctx;
    struct MHD_Daemon *mhd;
    int epoll_fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    dev_t sock_dev;
    ino_t sock_ino;
    unsigned lookup_timeout_ms;
    unsigned object_timeout_ms;
    size_t body_max;
    uint64_t next_token;
    /* A suspended connection was resumed: libmicrohttpd 0.9.75 does not make its epoll fd
     * readable for that, so cordon_control_timeout_ms() answers 0 until the next run. */
    bool resumed;
    struct pending pending[CORDON_CONTROL_LOOKUPS_MAX];

    uint64_t requests;
    uint64_t refused;
    uint64_t lookups;
    uint64_t lookups_timed_out;
    uint64_t objects;
    uint64_t objects_timed_out;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* jansson integers are signed 64-bit; counters past that are clamped, not wrapped. */
static json_t *json_u64(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* ---- responses ------------------------------------------------------------------------- */

static enum MHD_Result send_bytes(cordon_control *ctl, struct MHD_Connection *c,
                                  struct request *req, unsigned status, const char *type,
                                  const void *data, size_t len, const char *allow)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (allow != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    if (req != NULL)
        req->answered = true;
    if (status >= 400)
        ctl->refused++;
    return rc;
}

static enum MHD_Result send_error(cordon_control *ctl, struct MHD_Connection *c,
                                  struct request *req, unsigned status, const char *message,
                                  const char *allow)
{
    json_t *o = json_pack("{s:s}", "error", message);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    enum MHD_Result rc;
    if (text != NULL) {
        size_t n = strlen(text);
        text[n] = '\n'; /* jansson's buffer holds the NUL there; curl users want a newline */
        rc = send_bytes(ctl, c, req, status, JSON_TYPE, text, n + 1, allow);
    } else {
        static const char fallback[] = "{\"error\":\"internal error\"}\n";
        rc = send_bytes(ctl, c, req, 500, JSON_TYPE, fallback, sizeof(fallback) - 1, NULL);
    }
    free(text);
    json_decref(o);
    return rc;
}

/* Takes a reference to o (decref'd here). */
static enum MHD_Result send_json(cordon_control *ctl, struct MHD_Connection *c, struct request *req,
                                 json_t *o)
{
    if (o == NULL)
        return send_error(ctl, c, req, 500, "out of memory", NULL);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL)
        return send_error(ctl, c, req, 500, "out of memory", NULL);
    size_t n = strlen(text);
    enum MHD_Result rc;
    if (n + 1 > CORDON_CONTROL_RESPONSE_MAX) {
        rc = send_error(ctl, c, req, 500, "response too large", NULL);
    } else {
        text[n] = '\n';
        rc = send_bytes(ctl, c, req, 200, JSON_TYPE, text, n + 1, NULL);
    }
    free(text);
    return rc;
}

/* ---- endpoints ------------------------------------------------------------------------- */

static bool counter_name_ok(const char *name)
{
    size_t n = strnlen(name, CORDON_CONTROL_COUNTER_NAME_MAX + 1);
    if (n == 0 || n > CORDON_CONTROL_COUNTER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return false;
    }
    return true;
}

/* The host's strings are copied into fixed arrays it may not have terminated. */
static void terminate_status(struct cordon_control_status *st)
{
    st->overlay[sizeof(st->overlay) - 1] = '\0';
    st->listen[sizeof(st->listen) - 1] = '\0';
    if (st->n_counters > CORDON_CONTROL_COUNTERS_MAX)
        st->n_counters = CORDON_CONTROL_COUNTERS_MAX;
    for (size_t i = 0; i < st->n_counters; i++)
        st->counters[i].name[CORDON_CONTROL_COUNTER_NAME_MAX] = '\0';
}

static cordon_err get_status(cordon_control *ctl, struct cordon_control_status **out)
{
    struct cordon_control_status *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return CORDON_ERR_NOMEM;
    cordon_err err = ctl->ops->status(ctl->ctx, st);
    if (err != CORDON_OK) {
        free(st);
        return err;
    }
    terminate_status(st);
    *out = st;
    return CORDON_OK;
}

static enum MHD_Result serve_status(cordon_control *ctl, struct MHD_Connection *c,
                                    struct request *req)
{
    struct cordon_control_status *st = NULL;
    if (get_status(ctl, &st) != CORDON_OK)
        return send_error(ctl, c, req, 500, "status unavailable", NULL);
    char id[2 * CORDON_NODE_ID_LEN + 1];
    cordon_hex_encode(st->node_id, sizeof(st->node_id), id);
    json_t *counters = json_object();
    for (size_t i = 0; counters != NULL && i < st->n_counters; i++) {
        if (counter_name_ok(st->counters[i].name) &&
            json_object_set_new(counters, st->counters[i].name, json_u64(st->counters[i].value)) !=
                0) {
            json_decref(counters);
            counters = NULL;
        }
    }
    json_t *o = counters == NULL
                    ? NULL
                    : json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "node_id", id, "overlay",
                                st->overlay, "listen", st->listen, "uptime_s",
                                json_u64(st->uptime_s), "table_size", json_u64(st->table_size),
                                "links", json_u64(st->links), "counters", counters);
    free(st);
    return send_json(ctl, c, req, o);
}

static json_t *contact_json(const struct cordon_control_contact *ct)
{
    char id[2 * CORDON_NODE_ID_LEN + 1];
    char addr[CORDON_ADDR_TEXT_MAX];
    cordon_hex_encode(ct->node_id, sizeof(ct->node_id), id);
    memcpy(addr, ct->addr, sizeof(addr));
    addr[sizeof(addr) - 1] = '\0';
    return json_pack("{s:s, s:s, s:I, s:I}", "node_id", id, "addr", addr, "last_seen_ms",
                     (json_int_t)(ct->last_seen_ms < 0 ? -1 : ct->last_seen_ms), "failures",
                     (json_int_t)ct->failures);
}

struct peers_walk {
    json_t *list;
    bool truncated;
    bool failed;
};

static cordon_err visit_peer(void *visit_ctx, const struct cordon_control_contact *contact)
{
    struct peers_walk *w = visit_ctx;
    if (json_array_size(w->list) >= CORDON_CONTROL_PEERS_MAX) {
        w->truncated = true;
        return CORDON_ERR_TOO_LARGE;
    }
    if (json_array_append_new(w->list, contact_json(contact)) != 0) {
        w->failed = true;
        return CORDON_ERR_NOMEM;
    }
    return CORDON_OK;
}

static enum MHD_Result serve_peers(cordon_control *ctl, struct MHD_Connection *c,
                                   struct request *req)
{
    struct peers_walk w = {.list = json_array()};
    if (w.list == NULL)
        return send_error(ctl, c, req, 500, "out of memory", NULL);
    cordon_err err = ctl->ops->peers(ctl->ctx, visit_peer, &w);
    if (w.failed || (err != CORDON_OK && !w.truncated)) {
        json_decref(w.list);
        return send_error(ctl, c, req, 500, "routing table unavailable", NULL);
    }
    json_t *o = json_pack("{s:I, s:b, s:o}", "count", (json_int_t)json_array_size(w.list),
                          "truncated", w.truncated, "peers", w.list);
    return send_json(ctl, c, req, o);
}

/* Common prefix length of a and b in bits (256 when equal). */
static unsigned prefix_bits(const uint8_t *a, const uint8_t *b)
{
    for (unsigned i = 0; i < CORDON_NODE_ID_LEN; i++) {
        unsigned x = (unsigned)(a[i] ^ b[i]);
        if (x != 0) {
            unsigned n = 0;
            while ((x & 0x80u) == 0) {
                x <<= 1;
                n++;
            }
            return i * 8 + n;
        }
    }
    return CORDON_NODE_ID_LEN * 8;
}

/* < 0 when a is closer to target than b in the XOR metric. */
static int closer(const uint8_t *target, const uint8_t *a, const uint8_t *b)
{
    for (size_t i = 0; i < CORDON_NODE_ID_LEN; i++) {
        int da = a[i] ^ target[i];
        int db = b[i] ^ target[i];
        if (da != db)
            return da < db ? -1 : 1;
    }
    return 0;
}

static void sort_closest(const uint8_t *target, struct cordon_control_contact *v, size_t n)
{
    /* At most CORDON_CONTROL_LOOKUP_RESULTS_MAX entries: insertion sort. */
    for (size_t i = 1; i < n; i++) {
        struct cordon_control_contact t = v[i];
        size_t j = i;
        while (j > 0 && closer(target, t.node_id, v[j - 1].node_id) < 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = t;
    }
}

static enum MHD_Result answer_lookup(cordon_control *ctl, struct MHD_Connection *c,
                                     struct request *req)
{
    if (req->state == LOOKUP_ABANDONED)
        return send_error(ctl, c, req, 504, "lookup timed out", NULL);
    struct cordon_control_lookup_result *r = &req->result;
    if (r->err != CORDON_OK) {
        char msg[160];
        snprintf(msg, sizeof(msg), "lookup failed: %s", cordon_strerror(r->err));
        return send_error(ctl, c, req, 502, msg, NULL);
    }
    if (r->n_contacts > CORDON_CONTROL_LOOKUP_RESULTS_MAX)
        r->n_contacts = CORDON_CONTROL_LOOKUP_RESULTS_MAX;
    sort_closest(req->target, r->contacts, r->n_contacts);
    json_t *list = json_array();
    bool found = false;
    for (size_t i = 0; list != NULL && i < r->n_contacts; i++) {
        json_t *ct = contact_json(&r->contacts[i]);
        unsigned cpl = prefix_bits(req->target, r->contacts[i].node_id);
        if (cpl == CORDON_NODE_ID_LEN * 8)
            found = true;
        if (ct == NULL || json_object_set_new(ct, "common_prefix_bits", json_integer(cpl)) != 0 ||
            json_array_append_new(list, ct) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    char id[2 * CORDON_NODE_ID_LEN + 1];
    cordon_hex_encode(req->target, sizeof(req->target), id);
    json_t *o = list == NULL ? NULL
                             : json_pack("{s:s, s:b, s:I, s:I, s:o}", "target", id, "found", found,
                                         "queried", (json_int_t)r->queried, "elapsed_ms",
                                         (json_int_t)(mono_ms() - req->start_ms), "closest", list);
    return send_json(ctl, c, req, o);
}

static void release_slot(cordon_control *ctl, struct request *req)
{
    if (req->slot >= 0) {
        memset(&ctl->pending[req->slot], 0, sizeof(ctl->pending[req->slot]));
        req->slot = -1;
    }
}

static enum MHD_Result start_lookup(cordon_control *ctl, struct MHD_Connection *c,
                                    struct request *req)
{
    int slot = -1;
    for (int i = 0; i < CORDON_CONTROL_LOOKUPS_MAX; i++) {
        if (!ctl->pending[i].used) {
            slot = i;
            break;
        }
    }
    if (slot < 0)
        return send_error(ctl, c, req, 503, "too many lookups in progress; retry later", NULL);
    struct pending *p = &ctl->pending[slot];
    p->used = true;
    p->token = ++ctl->next_token;
    p->deadline_ms = mono_ms() + ctl->lookup_timeout_ms;
    p->req = req;
    p->conn = c;
    req->slot = slot;
    req->state = LOOKUP_WAITING;
    ctl->lookups++;

    cordon_err err = ctl->ops->lookup(ctl->ctx, req->target, p->token);
    if (err != CORDON_OK) {
        release_slot(ctl, req);
        req->state = LOOKUP_IDLE;
        if (err == CORDON_ERR_BUSY)
            return send_error(ctl, c, req, 503, "the peer is busy; retry later", NULL);
        char msg[160];
        snprintf(msg, sizeof(msg), "lookup failed: %s", cordon_strerror(err));
        return send_error(ctl, c, req, 502, msg, NULL);
    }
    if (req->state == LOOKUP_DONE) /* completed inside ops->lookup() */
        return answer_lookup(ctl, c, req);
    req->suspended = true;
    MHD_suspend_connection(c);
    return MHD_YES;
}

static enum MHD_Result serve_metrics(cordon_control *ctl, struct MHD_Connection *c,
                                     struct request *req)
{
    struct cordon_control_status *st = NULL;
    if (get_status(ctl, &st) != CORDON_OK)
        return send_error(ctl, c, req, 500, "status unavailable", NULL);
    char id[2 * CORDON_NODE_ID_LEN + 1];
    cordon_hex_encode(st->node_id, sizeof(st->node_id), id);
    bool overlay_ok = true;
    for (const char *p = st->overlay; *p != '\0'; p++)
        overlay_ok =
            overlay_ok && ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-');
    cordon_buf b;
    cordon_buf_init(&b, CORDON_CONTROL_RESPONSE_MAX, false);
    cordon_err err =
        cordon_buf_printf(&b,
                          "# HELP cordon_peer_info The node ID and overlay of this peer.\n"
                          "# TYPE cordon_peer_info gauge\n"
                          "cordon_peer_info{node_id=\"%s\",overlay=\"%s\"} 1\n"
                          "# HELP cordon_peer_uptime_seconds Seconds since the peer started.\n"
                          "# TYPE cordon_peer_uptime_seconds gauge\n"
                          "cordon_peer_uptime_seconds %llu\n"
                          "# HELP cordon_peer_table_size Contacts in the routing table.\n"
                          "# TYPE cordon_peer_table_size gauge\n"
                          "cordon_peer_table_size %llu\n"
                          "# HELP cordon_peer_links Established DTLS links.\n"
                          "# TYPE cordon_peer_links gauge\n"
                          "cordon_peer_links %llu\n",
                          id, overlay_ok ? st->overlay : "", (unsigned long long)st->uptime_s,
                          (unsigned long long)st->table_size, (unsigned long long)st->links);
    for (size_t i = 0; err == CORDON_OK && i < st->n_counters; i++) {
        const struct cordon_control_counter *k = &st->counters[i];
        if (!counter_name_ok(k->name))
            continue;
        const char *suffix = k->gauge ? "" : "_total";
        err = cordon_buf_printf(&b, "# TYPE cordon_peer_%s%s %s\ncordon_peer_%s%s %llu\n", k->name,
                                suffix, k->gauge ? "gauge" : "counter", k->name, suffix,
                                (unsigned long long)k->value);
    }
    if (err == CORDON_OK)
        err = cordon_buf_printf(
            &b,
            "# HELP cordon_control_requests_total Requests to the control API.\n"
            "# TYPE cordon_control_requests_total counter\n"
            "cordon_control_requests_total %llu\n"
            "# HELP cordon_control_refused_total Control requests answered with an error.\n"
            "# TYPE cordon_control_refused_total counter\n"
            "cordon_control_refused_total %llu\n"
            "# HELP cordon_control_lookups_total Lookups started through the control API.\n"
            "# TYPE cordon_control_lookups_total counter\n"
            "cordon_control_lookups_total %llu\n"
            "# HELP cordon_control_lookups_timed_out_total Control lookups answered 504.\n"
            "# TYPE cordon_control_lookups_timed_out_total counter\n"
            "cordon_control_lookups_timed_out_total %llu\n"
            "# HELP cordon_control_objects_total Puts, gets and deletes through the control API.\n"
            "# TYPE cordon_control_objects_total counter\n"
            "cordon_control_objects_total %llu\n"
            "# HELP cordon_control_objects_timed_out_total Control object requests answered 504.\n"
            "# TYPE cordon_control_objects_timed_out_total counter\n"
            "cordon_control_objects_timed_out_total %llu\n",
            (unsigned long long)ctl->requests, (unsigned long long)ctl->refused,
            (unsigned long long)ctl->lookups, (unsigned long long)ctl->lookups_timed_out,
            (unsigned long long)ctl->objects, (unsigned long long)ctl->objects_timed_out);
    free(st);
    enum MHD_Result rc = err == CORDON_OK
                             ? send_bytes(ctl, c, req, 200, METRICS_TYPE, b.data, b.len, NULL)
                             : send_error(ctl, c, req, 500, "metrics too large", NULL);
    cordon_buf_free(&b);
    return rc;
}

/* ---- objects --------------------------------------------------------------------------- */

/* The HTTP status and the machine-readable code of an object request's outcome
 * (docs/operations.md, "Objects"): what was refused and why, so a client can act on it. */
static unsigned object_status(cordon_err err, bool deleted, const char **code)
{
    if (err == CORDON_OK && deleted) {
        *code = "deleted";
        return 410;
    }
    switch (err) {
    case CORDON_OK:
        *code = "ok";
        return 200;
    case CORDON_ERR_NOT_FOUND:
        *code = "not_found";
        return 404;
    case CORDON_ERR_OBJ_NOT_ALLOWED:
        *code = "not_allowed";
        return 403;
    case CORDON_ERR_CERT_UNTRUSTED:
    case CORDON_ERR_CERT_EXPIRED:
    case CORDON_ERR_CERT_NOT_YET_VALID:
    case CORDON_ERR_CERT_REVOKED:
    case CORDON_ERR_CERT_NODE_ID:
    case CORDON_ERR_KEY_TYPE:
    case CORDON_ERR_BAD_SIGNATURE:
    case CORDON_ERR_CRL:
        *code = "certificate";
        return 403;
    case CORDON_ERR_OBJ_STALE:
        *code = "stale";
        return 409;
    case CORDON_ERR_OBJ_FUTURE:
        *code = "clock_skew";
        return 409;
    case CORDON_ERR_TOO_LARGE:
        *code = "too_large";
        return 413;
    case CORDON_ERR_OBJ_LIFETIME:
        *code = "lifetime";
        return 400;
    case CORDON_ERR_OBJ_EXPIRED:
        *code = "expired";
        return 400;
    case CORDON_ERR_OBJ_QUOTA:
        *code = "quota_exceeded";
        return 507;
    case CORDON_ERR_OBJ_CAPACITY:
        *code = "capacity";
        return 507;
    case CORDON_ERR_NETWORK:
        *code = "network";
        return 503;
    case CORDON_ERR_BUSY:
        *code = "busy";
        return 503;
    case CORDON_ERR_REFUSED:
        *code = "refused";
        return 502;
    case CORDON_ERR_INVAL:
        *code = "invalid";
        return 400;
    default:
        *code = "internal";
        return 500;
    }
}

/* An error answer of an object request: {"error": message, "code": code, ...counts}. */
static enum MHD_Result send_object_error(cordon_control *ctl, struct MHD_Connection *c,
                                         struct request *req, unsigned status, const char *code,
                                         const char *message)
{
    const struct cordon_control_object_result *r = &req->obj;
    json_t *o = json_pack("{s:s, s:s}", "error", message, "code", code);
    if (o != NULL && req->oreq.op == CORDON_CONTROL_OBJECT_GET)
        (void)json_object_update_new(
            o, json_pack("{s:I, s:I, s:I, s:I, s:I}", "asked", (json_int_t)r->asked, "found",
                         (json_int_t)r->found, "stale", (json_int_t)r->stale, "forged",
                         (json_int_t)r->forged, "failed", (json_int_t)r->failed));
    else if (o != NULL)
        (void)json_object_update_new(
            o, json_pack("{s:I, s:I, s:I, s:I, s:o}", "replicas", (json_int_t)r->replicas,
                         "accepted", (json_int_t)r->accepted, "refused", (json_int_t)r->refused,
                         "failed", (json_int_t)r->failed, "held", json_u64(r->held)));
    if (o != NULL)
        (void)json_object_set_new(
            o, "lookup",
            json_pack("{s:I, s:I, s:I}", "messages", (json_int_t)r->lookup_messages, "answered",
                      (json_int_t)r->lookup_answered, "failed", (json_int_t)r->lookup_failed));
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return send_error(ctl, c, req, status, message, NULL);
    size_t n = strlen(text);
    text[n] = '\n';
    enum MHD_Result rc = send_bytes(ctl, c, req, status, JSON_TYPE, text, n + 1, NULL);
    free(text);
    return rc;
}

static enum MHD_Result answer_object(cordon_control *ctl, struct MHD_Connection *c,
                                     struct request *req)
{
    const struct cordon_control_object_result *r = &req->obj;
    const char *code = NULL;
    if (req->state == LOOKUP_ABANDONED)
        return send_object_error(ctl, c, req, 504, "timeout",
                                 "the overlay did not answer in time; retry later");
    unsigned status = object_status(r->err, r->deleted, &code);
    if (status != 200) {
        char msg[200];
        if (r->err == CORDON_OK)
            snprintf(msg, sizeof(msg), "deleted: the newest object is a tombstone");
        else if (r->err == CORDON_ERR_NOT_FOUND)
            snprintf(msg, sizeof(msg), "not found: no replica holds this object");
        else
            snprintf(msg, sizeof(msg), "%s: %s", code, cordon_strerror(r->err));
        return send_object_error(ctl, c, req, status, code, msg);
    }
    char writer[2 * CORDON_NODE_ID_LEN + 1];
    cordon_hex_encode(r->writer, sizeof(r->writer), writer);
    if (req->oreq.op != CORDON_CONTROL_OBJECT_GET) {
        json_t *o =
            json_pack("{s:s, s:s, s:o, s:s, s:o, s:I, s:I, s:I, s:I}", "result",
                      req->oreq.op == CORDON_CONTROL_OBJECT_PUT ? "stored" : "deleted", "kind",
                      req->oreq.shared ? "shared" : "owned", "seq", json_u64(r->seq), "writer",
                      writer, "expires_at", json_u64(r->expires_at), "replicas",
                      (json_int_t)r->replicas, "accepted", (json_int_t)r->accepted, "refused",
                      (json_int_t)r->refused, "failed", (json_int_t)r->failed);
        return send_json(ctl, c, req, o);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r->value_len, req->obj_value != NULL ? req->obj_value : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    char num[24];
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, OCTETS_TYPE);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    snprintf(num, sizeof(num), "%llu", (unsigned long long)r->seq);
    MHD_add_response_header(resp, "X-Cordon-Seq", num);
    MHD_add_response_header(resp, "X-Cordon-Writer", writer);
    snprintf(num, sizeof(num), "%llu", (unsigned long long)r->expires_at);
    MHD_add_response_header(resp, "X-Cordon-Expires", num);
    MHD_add_response_header(resp, "X-Cordon-Kind", req->oreq.shared ? "shared" : "owned");
    enum MHD_Result rc = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    req->answered = true;
    return rc;
}

static enum MHD_Result start_object(cordon_control *ctl, struct MHD_Connection *c,
                                    struct request *req)
{
    int slot = -1;
    if (ctl->ops->object == NULL)
        return send_error(ctl, c, req, 501, "this peer serves no objects", NULL);
    for (int i = 0; i < CORDON_CONTROL_LOOKUPS_MAX; i++) {
        if (!ctl->pending[i].used) {
            slot = i;
            break;
        }
    }
    if (slot < 0)
        return send_object_error(ctl, c, req, 503, "busy",
                                 "too many requests in progress; retry later");
    struct pending *p = &ctl->pending[slot];
    p->used = true;
    p->token = ++ctl->next_token;
    p->deadline_ms = mono_ms() + ctl->object_timeout_ms;
    p->req = req;
    p->conn = c;
    req->slot = slot;
    req->state = LOOKUP_WAITING;
    ctl->objects++;
    req->oreq.value = req->body;
    req->oreq.value_len = req->body_len;

    cordon_err err = ctl->ops->object(ctl->ctx, &req->oreq, p->token);
    if (err != CORDON_OK) {
        release_slot(ctl, req);
        req->state = LOOKUP_DONE;
        memset(&req->obj, 0, sizeof(req->obj));
        req->obj.err = err;
        return answer_object(ctl, c, req);
    }
    if (req->state == LOOKUP_DONE) /* completed inside ops->object() */
        return answer_object(ctl, c, req);
    req->suspended = true;
    MHD_suspend_connection(c);
    return MHD_YES;
}

/* Percent-decodes an object name (the path after /v1/objects/): 1..CORDON_OBJECT_NAME_MAX
 * bytes, no NUL, every '%' followed by two hex digits. */
static bool decode_name(const char *s, uint8_t *out, size_t *len)
{
    size_t n = 0;
    while (*s != '\0') {
        uint8_t b;
        if (*s == '%') {
            uint8_t v[1];
            if (s[1] == '\0' || s[2] == '\0' || cordon_hex_decode(s + 1, 2, v, 1) != CORDON_OK)
                return false;
            b = v[0];
            s += 3;
        } else {
            b = (uint8_t)*s++;
        }
        if (b == 0 || n == CORDON_OBJECT_NAME_MAX)
            return false;
        out[n++] = b;
    }
    *len = n;
    return n > 0;
}

struct args_check {
    struct request *req;
    const char *bad; /* the first refusal */
};

/* Checks one query argument of an object request and stores it in req->oreq. */
static enum MHD_Result object_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    struct args_check *a = cls;
    struct cordon_control_object_request *o = &a->req->oreq;
    (void)kind;
    if (a->bad != NULL)
        return MHD_NO;
    if (value == NULL)
        value = "";
    if (strcmp(key, "ttl") == 0 && o->op == CORDON_CONTROL_OBJECT_PUT) {
        uint64_t v = 0;
        size_t n = strlen(value);
        for (size_t i = 0; i < n && v <= UINT32_MAX; i++) {
            if (value[i] < '0' || value[i] > '9') {
                v = 0;
                break;
            }
            v = v * 10 + (uint64_t)(value[i] - '0');
        }
        if (n == 0 || n > 10 || v == 0 || v > UINT32_MAX)
            a->bad = "bad ttl: expected whole seconds, at least 1";
        else
            o->ttl = (uint32_t)v;
    } else if (strcmp(key, "seq") == 0 && o->op != CORDON_CONTROL_OBJECT_GET) {
        uint64_t v = 0;
        size_t n = strlen(value);
        bool ok = n > 0 && n <= 19;
        for (size_t i = 0; ok && i < n; i++) {
            ok = value[i] >= '0' && value[i] <= '9';
            v = v * 10 + (uint64_t)(value[i] - '0');
        }
        if (!ok || v == 0)
            a->bad = "bad seq: expected 1..9999999999999999999";
        else
            o->seq = v;
    } else if (strcmp(key, "kind") == 0) {
        if (strcmp(value, "shared") == 0)
            o->shared = true;
        else if (strcmp(value, "owned") == 0)
            o->shared = false;
        else
            a->bad = "bad kind: expected owned or shared";
    } else if (strcmp(key, "owner") == 0) {
        if (cordon_hex_decode(value, strlen(value), o->owner, sizeof(o->owner)) != CORDON_OK)
            a->bad = "bad owner: expected a node ID of 64 hex digits";
        else
            o->has_owner = true;
    } else {
        a->bad = "unknown query parameter (kind, owner; ttl on PUT; seq on PUT and DELETE)";
    }
    return a->bad == NULL ? MHD_YES : MHD_NO;
}

/* The first call of an object request: its arguments and, for PUT, the body's size.
 * Answers the refusals itself; MHD_YES with nothing queued to go on. */
static enum MHD_Result object_begin(cordon_control *ctl, struct MHD_Connection *c,
                                    struct request *req)
{
    struct args_check a = {.req = req, .bad = NULL};
    (void)MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, object_arg, &a);
    if (a.bad != NULL)
        return send_object_error(ctl, c, req, 400, "invalid", a.bad);
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (req->oreq.op != CORDON_CONTROL_OBJECT_PUT) {
        if (te != NULL || (cl != NULL && strcmp(cl, "0") != 0))
            return send_error(ctl, c, req, 413, "only PUT takes a request body", NULL);
        return MHD_YES;
    }
    if (te != NULL || cl == NULL)
        return send_object_error(ctl, c, req, 411, "length_required",
                                 "a PUT needs a Content-Length (no chunked bodies)");
    uint64_t want = 0;
    size_t n = strlen(cl);
    for (size_t i = 0; i < n && want <= ctl->body_max; i++) {
        if (cl[i] < '0' || cl[i] > '9')
            return send_object_error(ctl, c, req, 400, "invalid", "bad Content-Length");
        want = want * 10 + (uint64_t)(cl[i] - '0');
    }
    if (n == 0)
        return send_object_error(ctl, c, req, 400, "invalid", "bad Content-Length");
    if (want > ctl->body_max) {
        char msg[120];
        snprintf(msg, sizeof(msg), "too_large: a value holds at most %zu bytes", ctl->body_max);
        return send_object_error(ctl, c, req, 413, "too_large", msg);
    }
    req->body_want = (size_t)want;
    req->body = malloc(want > 0 ? (size_t)want : 1);
    if (req->body == NULL)
        return send_error(ctl, c, req, 500, "out of memory", NULL);
    return MHD_YES;
}

/* ---- routing --------------------------------------------------------------------------- */

/* Decides the route from the path alone; on refusal fills status/message/allow. */
static enum route route_of(const char *method, const char *url, struct request *req,
                           unsigned *status, const char **message, const char **allow)
{
    enum route r = ROUTE_NONE;
    *allow = NULL;
    if (strcmp(url, "/v1/status") == 0) {
        r = ROUTE_STATUS;
    } else if (strcmp(url, "/v1/peers") == 0) {
        r = ROUTE_PEERS;
    } else if (strcmp(url, "/metrics") == 0) {
        r = ROUTE_METRICS;
    } else if (strncmp(url, LOOKUP_PREFIX, strlen(LOOKUP_PREFIX)) == 0 ||
               strcmp(url, "/v1/lookup") == 0) {
        r = ROUTE_LOOKUP;
    } else if (strncmp(url, OBJECTS_PREFIX, strlen(OBJECTS_PREFIX)) == 0 ||
               strcmp(url, "/v1/objects") == 0) {
        r = ROUTE_OBJECT;
        if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
            req->oreq.op = CORDON_CONTROL_OBJECT_GET;
        else if (strcmp(method, MHD_HTTP_METHOD_PUT) == 0)
            req->oreq.op = CORDON_CONTROL_OBJECT_PUT;
        else if (strcmp(method, MHD_HTTP_METHOD_DELETE) == 0)
            req->oreq.op = CORDON_CONTROL_OBJECT_DEL;
        else {
            *status = 405;
            *message = "method not allowed: objects answer GET, HEAD, PUT and DELETE";
            *allow = "GET, HEAD, PUT, DELETE";
            return ROUTE_NONE;
        }
        const char *name = url + strlen("/v1/objects");
        name += *name == '/';
        if (!decode_name(name, req->oreq.name, &req->oreq.name_len)) {
            *status = 400;
            *message = "bad object name: 1..255 bytes, percent-encoded, no NUL (%00)";
            return ROUTE_NONE;
        }
        return r;
    } else {
        *status = 404;
        *message = "no such endpoint";
        return ROUTE_NONE;
    }
    /* HEAD as wherever GET is, like the enrollment server (libmicrohttpd drops the body). */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        *status = 405;
        *message = "method not allowed: the control API answers GET and HEAD only";
        *allow = "GET, HEAD";
        return ROUTE_NONE;
    }
    if (r == ROUTE_LOOKUP) {
        const char *hex = url + strlen("/v1/lookup");
        hex += *hex == '/';
        if (cordon_hex_decode(hex, strlen(hex), req->target, sizeof(req->target)) != CORDON_OK) {
            *status = 400;
            *message = "bad node ID: expected 64 hex digits";
            return ROUTE_NONE;
        }
    }
    return r;
}

static bool has_body(struct MHD_Connection *c)
{
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    return te != NULL || (cl != NULL && strcmp(cl, "0") != 0);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    cordon_control *ctl = cls;
    struct request *req = *con_cls;
    (void)version;

    if (req == NULL) {
        req = calloc(1, sizeof(*req));
        if (req == NULL)
            return MHD_NO;
        req->slot = -1;
        req->start_ms = mono_ms();
        *con_cls = req;
        ctl->requests++;
        unsigned status = 0;
        const char *message = NULL;
        const char *allow = NULL;
        req->route = route_of(method, url, req, &status, &message, &allow);
        if (req->route == ROUTE_NONE)
            return send_error(ctl, c, req, status, message, allow);
        if (req->route == ROUTE_OBJECT)
            return object_begin(ctl, c, req);
        if (has_body(c))
            return send_error(ctl, c, req, 413, "the control API accepts no request body", NULL);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        /* A PUT's body, at most the Content-Length checked against the cap; anything else
         * is only reachable after a refusal: drop what is sent anyway. */
        if (!req->answered && req->body != NULL) {
            if (*upload_data_size > req->body_want - req->body_len)
                return send_error(ctl, c, req, 400, "body longer than its Content-Length", NULL);
            memcpy(req->body + req->body_len, upload_data, *upload_data_size);
            req->body_len += *upload_data_size;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->answered)
        return MHD_YES;
    switch (req->route) {
    case ROUTE_STATUS:
        return serve_status(ctl, c, req);
    case ROUTE_PEERS:
        return serve_peers(ctl, c, req);
    case ROUTE_METRICS:
        return serve_metrics(ctl, c, req);
    case ROUTE_LOOKUP:
        if (req->state == LOOKUP_IDLE)
            return start_lookup(ctl, c, req);
        if (req->state == LOOKUP_WAITING) /* woken without an answer: keep waiting */
            return MHD_YES;
        return answer_lookup(ctl, c, req);
    case ROUTE_OBJECT:
        if (req->state == LOOKUP_IDLE) {
            if (req->body_len != req->body_want)
                return send_error(ctl, c, req, 400, "body shorter than its Content-Length", NULL);
            return start_object(ctl, c, req);
        }
        if (req->state == LOOKUP_WAITING)
            return MHD_YES;
        return answer_object(ctl, c, req);
    default:
        return send_error(ctl, c, req, 404, "no such endpoint", NULL);
    }
}

static void abandon(cordon_control *ctl, struct pending *p)
{
    struct request *req = p->req;
    struct MHD_Connection *conn = p->conn;
    uint64_t token = p->token;
    release_slot(ctl, req);
    req->state = LOOKUP_ABANDONED;
    if (req->suspended) {
        req->suspended = false;
        MHD_resume_connection(conn);
        ctl->resumed = true;
    }
    if (ctl->ops->lookup_cancel != NULL)
        ctl->ops->lookup_cancel(ctl->ctx, token);
}

static void request_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                              enum MHD_RequestTerminationCode code)
{
    cordon_control *ctl = cls;
    struct request *req = *con_cls;
    (void)c;
    (void)code;
    if (req == NULL)
        return;
    if (req->slot >= 0) { /* the connection died under a running lookup */
        req->suspended = false;
        uint64_t token = ctl->pending[req->slot].token;
        release_slot(ctl, req);
        if (ctl->ops->lookup_cancel != NULL)
            ctl->ops->lookup_cancel(ctl->ctx, token);
    }
    free(req->body);
    free(req->obj_value);
    free(req);
    *con_cls = NULL;
}

/* libmicrohttpd's messages (its own format strings) go to the debug log. */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    char quoted[300];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    cordon_log(CORDON_LOG_DEBUG, "control.mhd", "msg=%s",
               cordon_log_quote(msg, quoted, sizeof(quoted)));
}

/* The path and the query arguments reach the handler as they were sent: object names are
 * decoded by decode_name(), which refuses %00 (libmicrohttpd's unescaping would cut the
 * name there); the other routes and arguments use no escapes. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* ---- socket ---------------------------------------------------------------------------- */

/* true when something accepts connections on the socket at path. */
static bool socket_is_live(const struct sockaddr_un *sa)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return true; /* cannot tell: do not remove it */
    bool live = connect(s, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno != ECONNREFUSED;
    close(s);
    return live;
}

static cordon_err open_socket(cordon_control *ctl, int *out)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, ctl->path, strlen(ctl->path) + 1);

    struct stat st;
    if (lstat(ctl->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode) || socket_is_live(&sa))
            return CORDON_ERR_EXISTS;
        if (unlink(ctl->path) != 0 && errno != ENOENT)
            return CORDON_ERR_IO;
        cordon_log_event(CORDON_LOG_INFO, "control.stale_socket_removed");
    } else if (errno != ENOENT) {
        return CORDON_ERR_IO;
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return CORDON_ERR_IO;
    /* The umask makes the file 0600 from its first moment; chmod makes sure of it. */
    mode_t old = umask(0177);
    int rc = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
    int bind_errno = errno;
    umask(old);
    if (rc != 0) {
        close(fd);
        return bind_errno == EADDRINUSE ? CORDON_ERR_EXISTS : CORDON_ERR_IO;
    }
    if (chmod(ctl->path, 0600) != 0 || stat(ctl->path, &st) != 0 ||
        listen(fd, CORDON_CONTROL_CONN_MAX) != 0) {
        unlink(ctl->path);
        close(fd);
        return CORDON_ERR_IO;
    }
    ctl->sock_dev = st.st_dev;
    ctl->sock_ino = st.st_ino;
    *out = fd;
    return CORDON_OK;
}

/* ---- lifecycle ------------------------------------------------------------------------- */

cordon_err cordon_control_new(const char *path, const struct cordon_control_ops *ops, void *ctx,
                              cordon_control **out)
{
    if (out == NULL)
        return CORDON_ERR_INVAL;
    *out = NULL;
    if (path == NULL || ops == NULL || ops->status == NULL || ops->peers == NULL ||
        ops->lookup == NULL)
        return CORDON_ERR_INVAL;
    size_t len = strlen(path);
    cordon_control *ctl = NULL;
    if (len == 0 || len >= sizeof(ctl->path))
        return CORDON_ERR_INVAL;
    ctl = calloc(1, sizeof(*ctl));
    if (ctl == NULL)
        return CORDON_ERR_NOMEM;
    ctl->ops = ops;
    ctl->ctx = ctx;
    ctl->epoll_fd = -1;
    ctl->lookup_timeout_ms = CORDON_CONTROL_LOOKUP_TIMEOUT_MS;
    ctl->object_timeout_ms = CORDON_CONTROL_OBJECT_TIMEOUT_MS;
    ctl->body_max = CORDON_OBJECT_VALUE_MAX;
    memcpy(ctl->path, path, len + 1);

    int fd = -1;
    cordon_err err = open_socket(ctl, &fd);
    if (err != CORDON_OK) {
        free(ctl);
        return err;
    }
    ctl->mhd = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, ctl,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)CORDON_CONTROL_CONN_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)CORDON_CONTROL_CONN_TIMEOUT, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CORDON_CONTROL_CONN_MEMORY, MHD_OPTION_NOTIFY_COMPLETED, request_completed, ctl,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, ctl, MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, ctl,
        MHD_OPTION_END);
    const union MHD_DaemonInfo *info =
        ctl->mhd != NULL ? MHD_get_daemon_info(ctl->mhd, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
    if (info == NULL) {
        if (ctl->mhd != NULL)
            MHD_stop_daemon(ctl->mhd); /* closes fd */
        else
            close(fd);
        unlink(ctl->path);
        free(ctl);
        return CORDON_ERR_IO;
    }
    ctl->epoll_fd = info->epoll_fd;
    *out = ctl;
    return CORDON_OK;
}

void cordon_control_free(cordon_control *ctl)
{
    if (ctl == NULL)
        return;
    for (size_t i = 0; i < CORDON_CONTROL_LOOKUPS_MAX; i++)
        if (ctl->pending[i].used)
            abandon(ctl, &ctl->pending[i]);
    MHD_stop_daemon(ctl->mhd);
    /* Remove the socket file only if it is still ours: a successor may have replaced it. */
    struct stat st;
    if (lstat(ctl->path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == ctl->sock_dev &&
        st.st_ino == ctl->sock_ino)
        unlink(ctl->path);
    free(ctl);
}

int cordon_control_fd(const cordon_control *ctl)
{
    return ctl->epoll_fd;
}

int cordon_control_timeout_ms(const cordon_control *ctl)
{
    uint64_t best = UINT64_MAX;
    MHD_UNSIGNED_LONG_LONG t = 0;
    if (ctl->resumed)
        return 0;
    if (MHD_get_timeout(ctl->mhd, &t) == MHD_YES)
        best = (uint64_t)t;
    uint64_t now = mono_ms();
    for (size_t i = 0; i < CORDON_CONTROL_LOOKUPS_MAX; i++) {
        const struct pending *p = &ctl->pending[i];
        if (p->used) {
            uint64_t left = p->deadline_ms > now ? p->deadline_ms - now : 0;
            if (left < best)
                best = left;
        }
    }
    if (best == UINT64_MAX)
        return -1;
    return best > INT32_MAX ? INT32_MAX : (int)best;
}

cordon_err cordon_control_run(cordon_control *ctl)
{
    uint64_t now = mono_ms();
    ctl->resumed = false;
    for (size_t i = 0; i < CORDON_CONTROL_LOOKUPS_MAX; i++) {
        if (ctl->pending[i].used && ctl->pending[i].deadline_ms <= now) {
            if (ctl->pending[i].req->route == ROUTE_OBJECT)
                ctl->objects_timed_out++;
            else
                ctl->lookups_timed_out++;
            abandon(ctl, &ctl->pending[i]);
        }
    }
    return MHD_run(ctl->mhd) == MHD_YES ? CORDON_OK : CORDON_ERR_IO;
}

/* The slot of the request waiting on route with token, or NULL. */
static struct pending *pending_of(cordon_control *ctl, uint64_t token, enum route route)
{
    for (size_t i = 0; i < CORDON_CONTROL_LOOKUPS_MAX; i++) {
        struct pending *p = &ctl->pending[i];
        if (p->used && p->token == token && p->req->route == route)
            return p;
    }
    return NULL;
}

/* The request of slot p has its answer: the slot is freed and its connection woken. */
static void pending_done(cordon_control *ctl, struct pending *p)
{
    struct request *req = p->req;
    struct MHD_Connection *conn = p->conn;
    req->state = LOOKUP_DONE;
    release_slot(ctl, req);
    if (req->suspended) {
        req->suspended = false;
        MHD_resume_connection(conn);
        ctl->resumed = true;
    }
}

cordon_err cordon_control_lookup_done(cordon_control *ctl, uint64_t token,
                                      const struct cordon_control_lookup_result *res)
{
    if (ctl == NULL || res == NULL)
        return CORDON_ERR_INVAL;
    struct pending *p = pending_of(ctl, token, ROUTE_LOOKUP);
    if (p == NULL)
        return CORDON_ERR_NOT_FOUND;
    p->req->result = *res;
    pending_done(ctl, p);
    return CORDON_OK;
}

void cordon_control_set_lookup_timeout(cordon_control *ctl, unsigned ms)
{
    ctl->lookup_timeout_ms = ms;
    ctl->object_timeout_ms = ms;
}

void cordon_control_set_body_max(cordon_control *ctl, size_t max)
{
    if (max >= 1 && max <= CORDON_OBJECT_VALUE_MAX)
        ctl->body_max = max;
}

cordon_err cordon_control_object_done(cordon_control *ctl, uint64_t token,
                                      const struct cordon_control_object_result *res)
{
    if (ctl == NULL || res == NULL)
        return CORDON_ERR_INVAL;
    struct pending *p = pending_of(ctl, token, ROUTE_OBJECT);
    if (p == NULL)
        return CORDON_ERR_NOT_FOUND;
    struct request *req = p->req;
    cordon_err err = CORDON_OK;
    req->obj = *res;
    req->obj.value = NULL;
    if (res->err == CORDON_OK && res->value_len > 0) {
        req->obj_value = malloc(res->value_len);
        if (req->obj_value == NULL) {
            req->obj.err = err = CORDON_ERR_NOMEM;
            req->obj.value_len = 0;
        } else {
            memcpy(req->obj_value, res->value, res->value_len);
        }
    }
    pending_done(ctl, p);
    return err;
}
