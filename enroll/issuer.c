/* enroll/issuer.c — see issuer.h. */
#include "enroll/issuer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/ratelimit.h"

#define BACKDATE 60 /* seconds notBefore lies in the past, for peers with slow clocks */

/* An enrollment draws a node ID and spends a token's quota; a renewal keeps the node ID and
 * replaces the node's newest certificate, which must still be the one it presented. */
enum kind { KIND_ENROLL, KIND_RENEW };

struct pending {
    struct pending *next;
    enum kind kind;
    uint8_t token_hash[32];                /* enrollment */
    uint8_t old_serial[CORDON_SERIAL_LEN]; /* renewal: the serial it presented */
    uint8_t node_id[CORDON_NODE_ID_LEN];
    uint8_t serial[CORDON_SERIAL_LEN];
    int64_t issued_at;
    int64_t not_after;
    const cordon_buf *cert_der;
    const char *source;
    /* set by the committer, which then signals wake (under the issuer's lock) */
    bool done;
    pthread_cond_t wake;
    unsigned status;
    const char *message;
};

struct cordon_issuer {
    cordon_db *db;
    cordon_signer *signer;
    cordon_audit *audit;
    struct cordon_issuer_config cfg;

    pthread_mutex_t rate_lock;
    cordon_ratelimit *per_source;
    cordon_ratelimit *per_token;
    cordon_ratelimit *per_node; /* renewals */

    pthread_mutex_t lock;
    pthread_cond_t work;
    struct pending *head, *tail;
    size_t queued;
    bool stopping;
    pthread_t committer;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int64_t wall_now(void)
{
    return (int64_t)time(NULL);
}

static const char *status_outcome(unsigned status)
{
    switch (status) {
    case 201:
        return "issued";
    case 400:
        return "bad_request";
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 413:
        return "too_large";
    case 415:
        return "unsupported_media_type";
    case 429:
        return "rate_limited";
    default:
        return "error";
    }
}

static void audit(cordon_issuer *is, const struct cordon_audit_event *ev)
{
    cordon_err err = cordon_audit_write(is->audit, wall_now(), ev);
    if (err != CORDON_OK)
        cordon_log(CORDON_LOG_ERROR, "audit.write_failed", "error=%s", cordon_errname(err));
}

static const char *kind_event(enum kind kind)
{
    return kind == KIND_RENEW ? "renew" : "enroll";
}

void cordon_issuer_audit_refusal(cordon_issuer *is, const char *event, const char *source,
                                 unsigned status, const char *message)
{
    struct cordon_audit_event ev = {
        .event = event, .outcome = status_outcome(status), .source = source, .detail = message};
    audit(is, &ev);
}

/* Why a node may not renew with the certificate whose serial it presented: NULL if it may. */
static const char *renew_refusal(const struct cordon_node_record *rec,
                                 const uint8_t presented[CORDON_SERIAL_LEN])
{
    if (rec->revoked_at != 0)
        return "node revoked";
    if (memcmp(rec->serial, presented, CORDON_SERIAL_LEN) != 0)
        return "certificate superseded by a newer one: renew with the newest certificate";
    return NULL;
}

/* A renewal inside the batch's write transaction: the node must still be unrevoked and
 * still hold the presented certificate as its newest (two renewals racing with the same
 * certificate: the first wins, the second is superseded). The new serial is reserved by
 * cordon_db_node_update(), so serials never repeat. */
static void commit_renew(cordon_db_txn *txn, struct pending *p, char *label, size_t label_len)
{
    struct cordon_node_record rec;
    cordon_err err = cordon_db_node_get(txn, p->node_id, &rec);
    if (err != CORDON_OK) {
        p->status = err == CORDON_ERR_NOT_FOUND ? 403 : 500;
        p->message = err == CORDON_ERR_NOT_FOUND ? "unknown node" : "database error";
        return;
    }
    snprintf(label, label_len, "%s", rec.token_label);
    const char *why = renew_refusal(&rec, p->old_serial);
    if (why != NULL) {
        p->status = 403;
        p->message = why;
        cordon_node_record_clear(&rec);
        return;
    }
    uint8_t *old_der = rec.cert_der;
    size_t old_len = rec.cert_der_len;
    memcpy(rec.serial, p->serial, sizeof(rec.serial));
    rec.issued_at = p->issued_at;
    rec.not_after = p->not_after;
    rec.cert_der = (uint8_t *)p->cert_der->data;
    rec.cert_der_len = p->cert_der->len;
    err = cordon_db_node_update(txn, &rec);
    rec.cert_der = old_der;
    rec.cert_der_len = old_len;
    cordon_node_record_clear(&rec);
    if (err == CORDON_ERR_EXISTS) {
        cordon_log_event(CORDON_LOG_ERROR, "renew.serial_collision");
        p->status = 500;
        p->message = "internal error: identifier collision";
        return;
    }
    if (err != CORDON_OK) {
        p->status = 500;
        p->message = "database error";
        return;
    }
    p->status = 201;
    p->message = NULL;
}

/* Checks one pending issuance inside the batch's write transaction and records it. */
static void commit_one(cordon_db_txn *txn, struct pending *p, char *label, size_t label_len)
{
    if (p->kind == KIND_RENEW) {
        label[0] = '\0';
        commit_renew(txn, p, label, label_len);
        return;
    }
    struct cordon_token_record tok;
    label[0] = '\0';
    cordon_err err = cordon_db_token_get(txn, p->token_hash, &tok);
    if (err == CORDON_ERR_NOT_FOUND) {
        p->status = 401;
        p->message = "unknown enrollment token";
        return;
    }
    if (err != CORDON_OK) {
        p->status = 500;
        p->message = "database error";
        return;
    }
    snprintf(label, label_len, "%s", tok.label);
    if (tok.expires_at <= p->issued_at) {
        p->status = 403;
        p->message = "enrollment token has expired";
        return;
    }
    if (tok.used >= tok.max_nodes) {
        p->status = 403;
        p->message = "enrollment token has no node enrollments left";
        return;
    }
    struct cordon_node_record rec;
    memset(&rec, 0, sizeof(rec));
    memcpy(rec.node_id, p->node_id, sizeof(rec.node_id));
    memcpy(rec.serial, p->serial, sizeof(rec.serial));
    memcpy(rec.token_hash, p->token_hash, sizeof(rec.token_hash));
    snprintf(rec.token_label, sizeof(rec.token_label), "%s", tok.label);
    rec.issued_at = p->issued_at;
    rec.not_after = p->not_after;
    rec.cert_der = p->cert_der->data;
    rec.cert_der_len = p->cert_der->len;
    err = cordon_db_node_add(txn, &rec);
    if (err == CORDON_OK) {
        tok.used++;
        err = cordon_db_token_put(txn, p->token_hash, &tok);
    }
    if (err == CORDON_ERR_EXISTS) {
        /* A repeated 256-bit ID or 126-bit serial: the CSPRNG is broken. Refuse. */
        cordon_log_event(CORDON_LOG_ERROR, "enroll.id_collision");
        p->status = 500;
        p->message = "internal error: identifier collision";
        return;
    }
    if (err != CORDON_OK) {
        p->status = 500;
        p->message = "database error";
        return;
    }
    p->status = 201;
    p->message = NULL;
}

static void commit_batch(cordon_issuer *is, struct pending *batch)
{
    char labels[CORDON_COMMIT_BATCH_MAX][CORDON_TOKEN_LABEL_MAX + 1];
    size_t n = 0;
    cordon_db_txn *txn = NULL;
    cordon_err err = cordon_db_begin(is->db, true, &txn);
    for (struct pending *p = batch; p != NULL; p = p->next, n++) {
        if (err != CORDON_OK) {
            p->status = 500;
            p->message = "database error";
            labels[n][0] = '\0';
            continue;
        }
        commit_one(txn, p, labels[n], sizeof(labels[n]));
    }
    if (err == CORDON_OK)
        err = cordon_db_commit(txn);
    if (err != CORDON_OK) {
        cordon_log(CORDON_LOG_ERROR, "enroll.commit_failed", "error=%s", cordon_errname(err));
        for (struct pending *p = batch; p != NULL; p = p->next) {
            p->status = err == CORDON_ERR_BUSY ? 503 : 500;
            p->message = err == CORDON_ERR_BUSY ? "database full" : "database error";
        }
    }
    n = 0;
    for (struct pending *p = batch; p != NULL; p = p->next, n++) {
        bool renew = p->kind == KIND_RENEW;
        struct cordon_audit_event ev = {
            .event = kind_event(p->kind),
            .outcome = status_outcome(p->status),
            .token_label = labels[n][0] ? labels[n] : NULL,
            .node_id = p->status == 201 || renew ? p->node_id : NULL,
            .serial = p->status == 201 ? p->serial : NULL,
            .old_serial = renew ? p->old_serial : NULL,
            .source = p->source,
            .detail = p->message,
        };
        audit(is, &ev);
    }
    err = cordon_audit_sync(is->audit);
    if (err != CORDON_OK)
        cordon_log(CORDON_LOG_ERROR, "audit.sync_failed", "error=%s", cordon_errname(err));
}

static void *committer_main(void *arg)
{
    cordon_issuer *is = arg;
    pthread_mutex_lock(&is->lock);
    for (;;) {
        while (is->head == NULL && !is->stopping)
            pthread_cond_wait(&is->work, &is->lock);
        if (is->head == NULL)
            break;
        /* Take up to a batch off the queue; the rest waits for the next commit. */
        struct pending *batch = is->head, *last = is->head;
        size_t n = 1;
        while (last->next != NULL && n < CORDON_COMMIT_BATCH_MAX) {
            last = last->next;
            n++;
        }
        is->head = last->next;
        if (is->head == NULL)
            is->tail = NULL;
        last->next = NULL;
        is->queued -= n;
        pthread_mutex_unlock(&is->lock);

        commit_batch(is, batch);

        /* Each waiter is woken alone: a broadcast would also wake, for nothing, every
         * thread whose issuance waits for a later commit. The pending lives on its
         * waiter's stack, which cannot return before the lock is released. */
        pthread_mutex_lock(&is->lock);
        for (struct pending *p = batch, *next; p != NULL; p = next) {
            next = p->next;
            p->done = true;
            pthread_cond_signal(&p->wake);
        }
    }
    pthread_mutex_unlock(&is->lock);
    return NULL;
}

cordon_err cordon_issuer_new(cordon_db *db, cordon_signer *signer, cordon_audit *audit_log,
                             const struct cordon_issuer_config *cfg, cordon_issuer **out)
{
    uint64_t seed;
    if (cfg->cert_validity == 0 || cfg->cert_validity > CORDON_CERT_VALIDITY_MAX)
        return CORDON_ERR_INVAL;
    cordon_err err = cordon_random(&seed, sizeof(seed));
    if (err != CORDON_OK)
        return err;
    cordon_issuer *is = calloc(1, sizeof(*is));
    if (is == NULL)
        return CORDON_ERR_NOMEM;
    is->db = db;
    is->signer = signer;
    is->audit = audit_log;
    is->cfg = *cfg;
    err = cordon_ratelimit_new(cfg->source_rate, cfg->source_burst, CORDON_RATE_SOURCES_MAX, seed,
                               &is->per_source);
    if (err == CORDON_OK)
        err = cordon_ratelimit_new(cfg->token_rate, cfg->token_burst, CORDON_RATE_TOKENS_MAX,
                                   seed ^ 0x9e3779b97f4a7c15ULL, &is->per_token);
    if (err == CORDON_OK)
        err = cordon_ratelimit_new(cfg->renew_rate, cfg->renew_burst, CORDON_RATE_RENEW_NODES_MAX,
                                   seed ^ 0xc2b2ae3d27d4eb4fULL, &is->per_node);
    if (err != CORDON_OK) {
        cordon_ratelimit_free(is->per_source);
        cordon_ratelimit_free(is->per_token);
        cordon_ratelimit_free(is->per_node);
        free(is);
        return err;
    }
    pthread_mutex_init(&is->rate_lock, NULL);
    pthread_mutex_init(&is->lock, NULL);
    pthread_cond_init(&is->work, NULL);
    if (pthread_create(&is->committer, NULL, committer_main, is) != 0) {
        cordon_ratelimit_free(is->per_source);
        cordon_ratelimit_free(is->per_token);
        cordon_ratelimit_free(is->per_node);
        free(is);
        return CORDON_ERR_IO;
    }
    *out = is;
    return CORDON_OK;
}

void cordon_issuer_free(cordon_issuer *is)
{
    if (is == NULL)
        return;
    pthread_mutex_lock(&is->lock);
    is->stopping = true;
    pthread_cond_broadcast(&is->work);
    pthread_mutex_unlock(&is->lock);
    pthread_join(is->committer, NULL);
    cordon_ratelimit_free(is->per_source);
    cordon_ratelimit_free(is->per_token);
    cordon_ratelimit_free(is->per_node);
    pthread_mutex_destroy(&is->rate_lock);
    pthread_mutex_destroy(&is->lock);
    pthread_cond_destroy(&is->work);
    free(is);
}

static bool take(cordon_issuer *is, cordon_ratelimit *rl, const void *key, size_t len)
{
    pthread_mutex_lock(&is->rate_lock);
    bool allowed = cordon_ratelimit_take(rl, key, len, now_ms());
    pthread_mutex_unlock(&is->rate_lock);
    return allowed;
}

bool cordon_issuer_allow_source(cordon_issuer *is, const void *key, size_t len)
{
    return take(is, is->per_source, key, len);
}

static unsigned refuse(struct cordon_http_refusal *r, unsigned status, const char *message)
{
    r->status = status;
    r->message = message;
    return status;
}

/* The early token check, in a read transaction: most refusals never reach the signer. */
static unsigned check_token(cordon_issuer *is, const uint8_t hash[32], int64_t now,
                            struct cordon_http_refusal *refusal, char *label, size_t label_len)
{
    cordon_db_txn *txn;
    struct cordon_token_record tok;
    cordon_err err = cordon_db_begin(is->db, false, &txn);
    if (err == CORDON_OK) {
        err = cordon_db_token_get(txn, hash, &tok);
        cordon_db_abort(txn);
    }
    if (err == CORDON_ERR_NOT_FOUND)
        return refuse(refusal, 401, "unknown enrollment token");
    if (err != CORDON_OK)
        return refuse(refusal, 500, "database error");
    snprintf(label, label_len, "%s", tok.label);
    if (tok.expires_at <= now)
        return refuse(refusal, 403, "enrollment token has expired");
    if (tok.used >= tok.max_nodes)
        return refuse(refusal, 403, "enrollment token has no node enrollments left");
    return 0;
}

static void audit_refused(cordon_issuer *is, const struct pending *p, unsigned status,
                          const char *label, const char *message)
{
    bool renew = p->kind == KIND_RENEW;
    struct cordon_audit_event ev = {.event = kind_event(p->kind),
                                    .outcome = status_outcome(status),
                                    .token_label = label[0] ? label : NULL,
                                    .node_id = renew ? p->node_id : NULL,
                                    .old_serial = renew ? p->old_serial : NULL,
                                    .source = p->source,
                                    .detail = message};
    audit(is, &ev);
}

/* The one issuance path, for enrollments and renewals alike: a fresh serial (and, for an
 * enrollment, a node ID) from the CSPRNG, the validity, the signer, then the commit queue;
 * blocks until the committer has decided and made it durable. p holds the kind and what the
 * kind needs (token hash; or node ID and presented serial) and the source. Refusals before
 * the queue are audited here, the committer audits the rest. */
static unsigned issue(cordon_issuer *is, struct pending *p, const cordon_csr *csr, int64_t now,
                      const char *label, cordon_buf *cert_der, struct cordon_http_refusal *refusal)
{
    cordon_buf csr_der;
    struct cordon_node_cert_params params;
    unsigned status;
    cordon_buf_init(&csr_der, CORDON_CSR_MAX, false);
    memset(&params, 0, sizeof(params));
    if (p->kind == KIND_ENROLL && cordon_random(p->node_id, sizeof(p->node_id)) != CORDON_OK) {
        status = refuse(refusal, 500, "random number generator failed");
        goto audit_refusal;
    }
    if (cordon_random(params.serial, sizeof(params.serial)) != CORDON_OK) {
        status = refuse(refusal, 500, "random number generator failed");
        goto audit_refusal;
    }
    memcpy(params.node_id, p->node_id, sizeof(params.node_id));
    params.serial[0] &= 0x7f; /* a positive INTEGER */
    params.serial[0] |= 0x01; /* and never zero */
    params.not_before = now - BACKDATE;
    params.not_after = now + is->cfg.cert_validity;
    if (params.not_after > is->cfg.ca_not_after)
        params.not_after = is->cfg.ca_not_after;
    if (params.not_after <= now) {
        status = refuse(refusal, 503, "the overlay CA has expired; the operator must renew it");
        goto audit_refusal;
    }
    cordon_err err = cordon_csr_der(csr, &csr_der);
    if (err == CORDON_OK)
        err = cordon_signer_node_cert(is->signer, csr_der.data, csr_der.len, &params, cert_der);
    if (err != CORDON_OK) {
        cordon_log(CORDON_LOG_ERROR, "enroll.sign_failed", "error=%s", cordon_errname(err));
        status =
            refuse(refusal, err == CORDON_ERR_PROTOCOL ? 503 : 500, "certificate signing failed");
        goto audit_refusal;
    }

    memcpy(p->serial, params.serial, sizeof(p->serial));
    p->issued_at = now;
    p->not_after = params.not_after;
    p->cert_der = cert_der;

    pthread_mutex_lock(&is->lock);
    if (is->queued >= CORDON_ISSUE_QUEUE_MAX || is->stopping) {
        pthread_mutex_unlock(&is->lock);
        status = refuse(refusal, 503, "server busy; retry later");
        goto audit_refusal;
    }
    pthread_cond_init(&p->wake, NULL);
    if (is->tail != NULL)
        is->tail->next = p;
    else
        is->head = p;
    is->tail = p;
    is->queued++;
    pthread_cond_signal(&is->work);
    while (!p->done)
        pthread_cond_wait(&p->wake, &is->lock);
    pthread_mutex_unlock(&is->lock);
    pthread_cond_destroy(&p->wake);

    status = p->status; /* the committer wrote the audit line */
    if (status != 201)
        refuse(refusal, p->status, p->message);
    goto out;

audit_refusal:
    audit_refused(is, p, status, label, refusal->message);
out:
    cordon_buf_free(&csr_der);
    return status;
}

unsigned cordon_issuer_enroll(cordon_issuer *is, const struct cordon_enroll_request *req,
                              const char *source, cordon_buf *cert_der,
                              uint8_t node_id[CORDON_NODE_ID_LEN],
                              struct cordon_http_refusal *refusal)
{
    char label[CORDON_TOKEN_LABEL_MAX + 1] = "";
    struct pending p;
    int64_t now = wall_now();
    memset(&p, 0, sizeof(p));
    p.kind = KIND_ENROLL;
    p.source = source;
    memcpy(p.token_hash, req->token_hash, sizeof(p.token_hash));

    /* The token must exist before it gets a rate-limit entry: unknown tokens cannot crowd
     * the table (they are bounded by the per-source limit instead). */
    unsigned status = check_token(is, req->token_hash, now, refusal, label, sizeof(label));
    if (status != 0) {
        audit_refused(is, &p, status, label, refusal->message);
    } else if (!take(is, is->per_token, req->token_hash, 32)) {
        /* not audited: a flood must not fill the disk (counted in /metrics) */
        status = refuse(refusal, 429, "too many enrollments with this token; retry later");
    } else {
        status = issue(is, &p, req->csr, now, label, cert_der, refusal);
        if (status == 201)
            memcpy(node_id, p.node_id, CORDON_NODE_ID_LEN);
    }
    if (status != 201)
        cordon_buf_reset(cert_der);
    return status;
}

/* The early node check, in a read transaction, before any rate-limit entry or signing. */
static unsigned check_node(cordon_issuer *is, const struct cordon_renew_proof *proof,
                           struct cordon_http_refusal *refusal, char *label, size_t label_len)
{
    cordon_db_txn *txn;
    struct cordon_node_record rec;
    cordon_err err = cordon_db_begin(is->db, false, &txn);
    if (err == CORDON_OK) {
        err = cordon_db_node_get(txn, proof->node_id, &rec);
        cordon_db_abort(txn);
    }
    if (err == CORDON_ERR_NOT_FOUND)
        return refuse(refusal, 403, "unknown node");
    if (err != CORDON_OK)
        return refuse(refusal, 500, "database error");
    snprintf(label, label_len, "%s", rec.token_label);
    const char *why = proof->revoked ? "node revoked" : renew_refusal(&rec, proof->serial);
    cordon_node_record_clear(&rec);
    return why != NULL ? refuse(refusal, 403, why) : 0;
}

unsigned cordon_issuer_renew(cordon_issuer *is, const struct cordon_renew_proof *proof,
                             const char *source, cordon_buf *cert_der,
                             struct cordon_http_refusal *refusal)
{
    char label[CORDON_TOKEN_LABEL_MAX + 1] = "";
    struct pending p;
    int64_t now = wall_now();
    memset(&p, 0, sizeof(p));
    p.kind = KIND_RENEW;
    p.source = source;
    memcpy(p.node_id, proof->node_id, sizeof(p.node_id));
    memcpy(p.old_serial, proof->serial, sizeof(p.old_serial));

    unsigned status = check_node(is, proof, refusal, label, sizeof(label));
    if (status != 0) {
        audit_refused(is, &p, status, label, refusal->message);
    } else if (!take(is, is->per_node, proof->node_id, CORDON_NODE_ID_LEN)) {
        /* not audited, as for enrollments; counted in /metrics */
        status = refuse(refusal, 429, "too many renewals for this node; retry later");
    } else {
        status = issue(is, &p, proof->csr, now, label, cert_der, refusal);
    }
    if (status != 201)
        cordon_buf_reset(cert_der);
    return status;
}
