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

struct pending {
    struct pending *next;
    uint8_t token_hash[32];
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

void cordon_issuer_audit_refusal(cordon_issuer *is, const char *source, unsigned status,
                                 const char *message)
{
    struct cordon_audit_event ev = {
        .event = "enroll", .outcome = status_outcome(status), .source = source, .detail = message};
    audit(is, &ev);
}

/* Checks one pending issuance inside the batch's write transaction and records it. */
static void commit_one(cordon_db_txn *txn, struct pending *p, char *label, size_t label_len)
{
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
        struct cordon_audit_event ev = {
            .event = "enroll",
            .outcome = status_outcome(p->status),
            .token_label = labels[n][0] ? labels[n] : NULL,
            .node_id = p->status == 201 ? p->node_id : NULL,
            .serial = p->status == 201 ? p->serial : NULL,
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
    if (err != CORDON_OK) {
        cordon_ratelimit_free(is->per_source);
        cordon_ratelimit_free(is->per_token);
        free(is);
        return err;
    }
    pthread_mutex_init(&is->rate_lock, NULL);
    pthread_mutex_init(&is->lock, NULL);
    pthread_cond_init(&is->work, NULL);
    if (pthread_create(&is->committer, NULL, committer_main, is) != 0) {
        cordon_ratelimit_free(is->per_source);
        cordon_ratelimit_free(is->per_token);
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
    pthread_mutex_destroy(&is->rate_lock);
    pthread_mutex_destroy(&is->lock);
    pthread_cond_destroy(&is->work);
    free(is);
}

bool cordon_issuer_allow_source(cordon_issuer *is, const void *key, size_t len)
{
    pthread_mutex_lock(&is->rate_lock);
    bool ok = cordon_ratelimit_take(is->per_source, key, len, now_ms());
    pthread_mutex_unlock(&is->rate_lock);
    return ok;
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

unsigned cordon_issuer_enroll(cordon_issuer *is, const struct cordon_enroll_request *req,
                              const char *source, cordon_buf *cert_der,
                              uint8_t node_id[CORDON_NODE_ID_LEN],
                              struct cordon_http_refusal *refusal)
{
    char label[CORDON_TOKEN_LABEL_MAX + 1] = "";
    cordon_buf csr_der;
    struct pending p;
    struct cordon_node_cert_params params;
    unsigned status = 0;
    int64_t now = wall_now();
    cordon_buf_init(&csr_der, CORDON_CSR_MAX, false);
    memset(&p, 0, sizeof(p));

    /* The token must exist before it gets a rate-limit entry: unknown tokens cannot crowd
     * the table (they are bounded by the per-source limit instead). */
    status = check_token(is, req->token_hash, now, refusal, label, sizeof(label));
    if (status != 0)
        goto audit_refusal;
    pthread_mutex_lock(&is->rate_lock);
    bool allowed = cordon_ratelimit_take(is->per_token, req->token_hash, 32, now_ms());
    pthread_mutex_unlock(&is->rate_lock);
    if (!allowed) {
        status = refuse(refusal, 429, "too many enrollments with this token; retry later");
        goto out; /* not audited: a flood must not fill the disk (counted in /metrics) */
    }

    memset(&params, 0, sizeof(params));
    if (cordon_random(params.node_id, sizeof(params.node_id)) != CORDON_OK ||
        cordon_random(params.serial, sizeof(params.serial)) != CORDON_OK) {
        status = refuse(refusal, 500, "random number generator failed");
        goto audit_refusal;
    }
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
    cordon_err err = cordon_csr_der(req->csr, &csr_der);
    if (err == CORDON_OK)
        err = cordon_signer_node_cert(is->signer, csr_der.data, csr_der.len, &params, cert_der);
    if (err != CORDON_OK) {
        cordon_log(CORDON_LOG_ERROR, "enroll.sign_failed", "error=%s", cordon_errname(err));
        status =
            refuse(refusal, err == CORDON_ERR_PROTOCOL ? 503 : 500, "certificate signing failed");
        goto audit_refusal;
    }

    memcpy(p.token_hash, req->token_hash, sizeof(p.token_hash));
    memcpy(p.node_id, params.node_id, sizeof(p.node_id));
    memcpy(p.serial, params.serial, sizeof(p.serial));
    p.issued_at = now;
    p.not_after = params.not_after;
    p.cert_der = cert_der;
    p.source = source;

    pthread_mutex_lock(&is->lock);
    if (is->queued >= CORDON_ISSUE_QUEUE_MAX || is->stopping) {
        pthread_mutex_unlock(&is->lock);
        status = refuse(refusal, 503, "server busy; retry later");
        goto audit_refusal;
    }
    pthread_cond_init(&p.wake, NULL);
    if (is->tail != NULL)
        is->tail->next = &p;
    else
        is->head = &p;
    is->tail = &p;
    is->queued++;
    pthread_cond_signal(&is->work);
    while (!p.done)
        pthread_cond_wait(&p.wake, &is->lock);
    pthread_mutex_unlock(&is->lock);
    pthread_cond_destroy(&p.wake);

    status = p.status; /* the committer wrote the audit line */
    if (status == 201)
        memcpy(node_id, p.node_id, CORDON_NODE_ID_LEN);
    else
        refuse(refusal, p.status, p.message);
    goto out;

audit_refusal:;
    struct cordon_audit_event ev = {.event = "enroll",
                                    .outcome = status_outcome(status),
                                    .token_label = label[0] ? label : NULL,
                                    .source = source,
                                    .detail = refusal->message};
    audit(is, &ev);
out:
    cordon_buf_free(&csr_der);
    if (status != 201)
        cordon_buf_reset(cert_der);
    return status;
}
