/*
 * peer/control.h — the local control API of a peer: HTTP with JSON bodies on a unix
 * socket (mode 0600), served by libmicrohttpd inside the host's epoll loop.
 *
 *   GET /v1/status              node ID, overlay, listen address, table size, links, counters
 *   GET /v1/peers               the routing table's contacts
 *   GET /v1/lookup/{64 hex}     an overlay lookup; the answer waits for it (suspended)
 *   GET /metrics                Prometheus text from the status counters
 *   PUT /v1/objects/{name}      stores the body as the value of an object (?ttl=, ?kind=)
 *   GET /v1/objects/{name}      reads one (?owner=NODEID, ?kind=shared): the value as
 *                               application/octet-stream, seq and writer in headers
 *   DELETE /v1/objects/{name}   writes a tombstone (?kind=shared)
 *
 * Object names arrive percent-encoded in the path and are decoded here (1..255 bytes, no
 * NUL; libmicrohttpd's own unescaping is turned off, since it would cut a name at %00).
 * A PUT body must come with a Content-Length of at most the body cap
 * (cordon_control_set_body_max(); CORDON_OBJECT_VALUE_MAX by default): a larger one is
 * answered 413 before any of it is read, a chunked one 411. No other route takes a body.
 *
 * Layout of every body and error: docs/protocol.md, "Local control API".
 *
 * Threads: none. libmicrohttpd runs with MHD_USE_EPOLL and no internal thread; its epoll
 * fd is cordon_control_fd(). The host adds that one fd (EPOLLIN, level-triggered) to its
 * own epoll set and calls cordon_control_run() when it is readable and whenever
 * cordon_control_timeout_ms() has elapsed. Every callback below is called from inside
 * cordon_control_run() on the host's thread, never from anywhere else.
 *
 * Lookups complete asynchronously: ops->lookup() starts one and gets a token; the host
 * later calls cordon_control_lookup_done() with that token (also allowed from inside
 * ops->lookup() itself). A token that timed out, was cancelled, or belongs to a closed
 * control is simply unknown: cordon_control_lookup_done() returns CORDON_ERR_NOT_FOUND and
 * touches nothing, so the host needs no bookkeeping beyond the token. When a lookup is
 * abandoned (timeout, cordon_control_free()), ops->lookup_cancel() is called if set.
 *
 * The control owns its socket file: it is created by cordon_control_new() and removed by
 * cordon_control_free() (only if it is still the same file).
 */
#ifndef CORDON_PEER_CONTROL_H
#define CORDON_PEER_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/limits.h"

typedef struct cordon_control cordon_control;

struct cordon_control_counter {
    char name[CORDON_CONTROL_COUNTER_NAME_MAX + 1]; /* [a-z0-9_]; others are skipped */
    uint64_t value; /* monotonic, served as name_total; or, when gauge, a level served as name */
    bool gauge;
};

/* Filled by ops->status() into a zeroed struct owned by the control. */
struct cordon_control_status {
    uint8_t node_id[CORDON_NODE_ID_LEN];
    char overlay[CORDON_OVERLAY_NAME_MAX + 1];
    char listen[CORDON_ADDR_TEXT_MAX]; /* "127.0.0.1:4000", "[::1]:4000" */
    uint64_t uptime_s;
    uint64_t table_size; /* contacts in the routing table */
    uint64_t links;      /* established DTLS links */
    size_t n_counters;   /* at most CORDON_CONTROL_COUNTERS_MAX */
    struct cordon_control_counter counters[CORDON_CONTROL_COUNTERS_MAX];
};

/* One routing-table contact or lookup result. */
struct cordon_control_contact {
    uint8_t node_id[CORDON_NODE_ID_LEN];
    char addr[CORDON_ADDR_TEXT_MAX];
    int64_t last_seen_ms; /* ms since the contact last answered; -1 when never */
    uint32_t failures;    /* consecutive unanswered requests */
};

/* The outcome of one lookup, passed to cordon_control_lookup_done() and copied there. */
struct cordon_control_lookup_result {
    cordon_err err;    /* CORDON_OK, or why the lookup could not run (served as 502) */
    uint32_t queried;  /* nodes asked during the lookup */
    size_t n_contacts; /* at most CORDON_CONTROL_LOOKUP_RESULTS_MAX; more are ignored */
    struct cordon_control_contact contacts[CORDON_CONTROL_LOOKUP_RESULTS_MAX]; /* any order */
};

enum cordon_control_object_op {
    CORDON_CONTROL_OBJECT_PUT = 1,
    CORDON_CONTROL_OBJECT_GET = 2,
    CORDON_CONTROL_OBJECT_DEL = 3,
};

/* One object request, valid only during ops->object(). */
struct cordon_control_object_request {
    enum cordon_control_object_op op;
    uint8_t name[CORDON_OBJECT_NAME_MAX]; /* decoded: 1..255 bytes, none of them NUL */
    size_t name_len;
    bool shared;                       /* kind=shared (else owned) */
    bool has_owner;                    /* owner= was given */
    uint8_t owner[CORDON_NODE_ID_LEN]; /* GET: whose object or entry; PUT/DEL: see below */
    uint32_t ttl;                      /* PUT: seconds, 0 when not given */
    uint64_t seq;         /* PUT, DEL: the seq to write, 0 when not given (the host picks one) */
    const uint8_t *value; /* PUT: the body */
    size_t value_len;
};

/* The outcome of an object request, passed to cordon_control_object_done() and copied. */
struct cordon_control_object_result {
    cordon_err err; /* CORDON_OK, or the refusal (see docs/operations.md for statuses) */
    bool deleted;   /* GET: the newest object is a tombstone (410) */
    uint64_t seq;   /* the seq written (PUT, DEL) or read (GET) */
    uint64_t held;  /* a refusal as stale: the highest seq a replica holds */
    uint8_t writer[CORDON_NODE_ID_LEN];
    uint64_t expires_at;                          /* Unix seconds */
    uint32_t replicas, accepted, refused, failed; /* PUT, DEL: what the replicas said */
    uint32_t asked, found, stale, forged;         /* GET */
    /* The lookup of the replicas: FIND_NODE requests sent, answered, failed. A read or
     * write that reached no replica often says why here (no node answered the lookup). */
    uint32_t lookup_messages, lookup_answered, lookup_failed;
    const uint8_t *value; /* GET: the value (copied by done()) */
    size_t value_len;
};

/* Called by ops->peers() once per contact; a non-OK return asks it to stop (and is
 * returned by ops->peers()). The contact is copied before visit returns. */
typedef cordon_err (*cordon_control_visit_fn)(void *visit_ctx,
                                              const struct cordon_control_contact *contact);

/* Implemented by the host (the runtime). ctx is the pointer given to cordon_control_new(). */
struct cordon_control_ops {
    /* Fills st. A non-OK return is served as 500. Required. */
    cordon_err (*status)(void *ctx, struct cordon_control_status *st);
    /* Calls visit() for each contact of the routing table, in any order. Required. */
    cordon_err (*peers)(void *ctx, cordon_control_visit_fn visit, void *visit_ctx);
    /* Starts a lookup of target and returns CORDON_OK; its result arrives later through
     * cordon_control_lookup_done(ctl, token, ...). CORDON_ERR_BUSY is served as 503, any
     * other error as 502. Required. */
    cordon_err (*lookup)(void *ctx, const uint8_t target[CORDON_NODE_ID_LEN], uint64_t token);
    /* The lookup or object request of token is no longer wanted. Optional (NULL). */
    void (*lookup_cancel)(void *ctx, uint64_t token);
    /* Starts an object request; its result arrives later through
     * cordon_control_object_done(ctl, token, ...) (also allowed from inside this call).
     * An error returned here is answered at once, as a result with that error would be.
     * Optional: without it the object routes answer 501. */
    cordon_err (*object)(void *ctx, const struct cordon_control_object_request *r, uint64_t token);
};

/* Creates the unix socket at path (mode 0600, set through the umask before bind and by
 * chmod before listen) and the HTTP daemon on it. ops and ctx are borrowed and must stay
 * valid until cordon_control_free(). path is copied.
 * Errors: CORDON_ERR_INVAL (NULL argument, missing op, path too long for a unix socket),
 * CORDON_ERR_EXISTS (path is a live socket — another peer serves it — or not a socket at
 * all; a stale socket nobody listens on is removed and replaced), CORDON_ERR_IO (socket,
 * bind, listen or libmicrohttpd failed), CORDON_ERR_NOMEM. *out is NULL on failure. */
CORDON_MUST_CHECK cordon_err cordon_control_new(const char *path,
                                                const struct cordon_control_ops *ops, void *ctx,
                                                cordon_control **out);

/* Stops serving: abandoned lookups are cancelled, connections closed, the socket file
 * removed. Accepts NULL. */
void cordon_control_free(cordon_control *ctl);

/* The fd to watch for EPOLLIN (libmicrohttpd's epoll fd). Valid until cordon_control_free. */
int cordon_control_fd(const cordon_control *ctl);

/* Milliseconds until cordon_control_run() must be called even without activity on the fd;
 * -1 when nothing is due (the epoll_wait convention), 0 when it is due now. It is 0 after a
 * lookup was answered: libmicrohttpd does not make its epoll fd readable when it resumes a
 * suspended connection, so the host must run the control again itself. */
int cordon_control_timeout_ms(const cordon_control *ctl);

/* Accepts, reads, answers; answers expired lookups with 504. Never blocks.
 * Errors: CORDON_ERR_IO when libmicrohttpd reports a failure of its event loop. */
CORDON_MUST_CHECK cordon_err cordon_control_run(cordon_control *ctl);

/* Delivers the result of the lookup started with token. res is copied.
 * Errors: CORDON_ERR_NOT_FOUND when token is unknown (timed out, cancelled, answered). */
CORDON_MUST_CHECK cordon_err cordon_control_lookup_done(
    cordon_control *ctl, uint64_t token, const struct cordon_control_lookup_result *res);

/* Delivers the result of the object request started with token. res and its value are
 * copied. Errors: CORDON_ERR_NOT_FOUND when token is unknown, CORDON_ERR_NOMEM (the request
 * is then answered 500). */
CORDON_MUST_CHECK cordon_err cordon_control_object_done(
    cordon_control *ctl, uint64_t token, const struct cordon_control_object_result *res);

/* The largest PUT body accepted (1..CORDON_OBJECT_VALUE_MAX; others are ignored): the
 * overlay's max_object_size. */
void cordon_control_set_body_max(cordon_control *ctl, size_t max);

/* Changes the lookup timeout (default CORDON_CONTROL_LOOKUP_TIMEOUT_MS) for later lookups,
 * and the object timeout (default CORDON_CONTROL_OBJECT_TIMEOUT_MS) to the same; for tests. */
void cordon_control_set_lookup_timeout(cordon_control *ctl, unsigned ms);

#endif
