/* enroll/server.c — see server.h. */
#include "enroll/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/parse.h"
#include "crypto/crypto.h"
#include "crypto/overlay.h"
#include "enroll/audit.h"
#include "enroll/db.h"
#include "enroll/files.h"
#include "enroll/issuer.h"
#include "enroll/request.h"
#include "enroll/signer.h"
#include "wire/overlay_doc.h"

#define TICK_MS 250
#define CRL_CHECK_EVERY_MS 30000
#define CONN_SLOTS (CORDON_HTTP_CONN_MAX + 16)

/* Outcomes of POST /v1/enroll and of POST /v1/renew, for /metrics. */
enum outcome {
    OUT_ISSUED,
    OUT_BAD_REQUEST,
    OUT_UNAUTHORIZED,
    OUT_FORBIDDEN,
    OUT_TOO_LARGE,
    OUT_UNSUPPORTED,
    OUT_RATE_LIMITED,
    OUT_ERROR,
    OUT__COUNT
};
static const char *const outcome_names[OUT__COUNT] = {"issued",       "bad_request",
                                                      "unauthorized", "forbidden",
                                                      "too_large",    "unsupported_media_type",
                                                      "rate_limited", "error"};

static const double latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,   0.25,   0.5,   1.0,  2.5,   10.0};
#define N_BOUNDS (sizeof(latency_bounds) / sizeof(latency_bounds[0]))

struct conn_slot {
    bool used;
    int fd;
    uint64_t deadline_ms; /* the request in progress must be answered by then */
};

struct server {
    const struct cordon_serve_config *cfg;
    char overlay[CORDON_OVERLAY_NAME_MAX + 1];
    struct cordon_overlay_params params;
    cordon_db *db;
    cordon_signer *signer;
    cordon_audit *audit;
    cordon_issuer *issuer;
    struct MHD_Daemon *mhd;
    cordon_buf tls_key;  /* secret: the server's TLS key, PEM */
    cordon_buf tls_cert; /* server certificate followed by the CA certificate */
    cordon_buf ca_pem;
    cordon_key_type ca_key_type;
    int64_t ca_not_after;
    cordon_buf envelope; /* the signed overlay document, as served */
    cordon_cert *ca;     /* parsed once: renewals verify against it */

    /* The CRL renewals are checked with: the database's, parsed again only when its number
     * changes (revoke, refresh). Readers hold crl_lock shared for the whole check. */
    pthread_rwlock_t crl_lock;
    cordon_crl *crl;
    uint64_t crl_number;

    pthread_mutex_t conn_lock;
    struct conn_slot conns[CONN_SLOTS];

    atomic_ulong outcomes[OUT__COUNT];
    atomic_ulong renew_outcomes[OUT__COUNT];
    atomic_ulong http_requests;
    atomic_ulong http_refused;
    atomic_ulong slow_cut;
    atomic_ulong latency_buckets[N_BOUNDS + 1];
    atomic_ulong latency_count;
    atomic_ulong latency_sum_us;
    atomic_ulong crl_refreshes;
};

struct request {
    enum cordon_route route;
    cordon_buf body;
    bool too_large;
    bool answered;
    uint64_t start_us;
    char source[INET6_ADDRSTRLEN];
};

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void cordon_serve_config_default(struct cordon_serve_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->listen = "127.0.0.1:8443";
    cfg->source_rate = 5;
    cfg->source_burst = 20;
    cfg->token_rate = 5;
    cfg->token_burst = 50;
    cfg->renew_rate = 0.001;
    cfg->renew_burst = 3;
    cfg->request_timeout = 15;
}

cordon_err cordon_parse_listen(const char *text, struct sockaddr_storage *ss, unsigned *len)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon;
    memset(ss, 0, sizeof(*ss));
    if (text == NULL || strlen(text) >= sizeof(host) + 6)
        return CORDON_ERR_INVAL;
    if (text[0] == '[') {
        const char *end = strchr(text, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - text - 1) >= sizeof(host))
            return CORDON_ERR_INVAL;
        memcpy(host, text + 1, (size_t)(end - text - 1));
        host[end - text - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL || (size_t)(colon - text) >= sizeof(host))
            return CORDON_ERR_INVAL;
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
    }
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || port > 65535)
        return CORDON_ERR_INVAL;
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof(*v4);
        return CORDON_OK;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*v6);
        return CORDON_OK;
    }
    return CORDON_ERR_INVAL;
}

/* ---- slow-client watchdog ---------------------------------------------------------------
 * libmicrohttpd's timeout is for idleness only: a client that trickles a byte every few
 * seconds would hold its connection for ever. Each connection gets a deadline for the
 * request in progress (reset when an answer completes); the main loop shuts down the
 * socket of any connection past it. MHD reports a close before it closes the socket, and
 * both sides hold conn_lock, so a reused descriptor is never touched. */

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode code)
{
    struct server *s = cls;
    pthread_mutex_lock(&s->conn_lock);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = NULL;
        for (size_t i = 0; info != NULL && i < CONN_SLOTS; i++) {
            if (!s->conns[i].used) {
                s->conns[i].used = true;
                s->conns[i].fd = info->connect_fd;
                s->conns[i].deadline_ms =
                    mono_us() / 1000 + (uint64_t)s->cfg->request_timeout * 1000;
                *socket_context = &s->conns[i];
                break;
            }
        }
    } else if (*socket_context != NULL) {
        struct conn_slot *slot = *socket_context;
        slot->used = false;
        *socket_context = NULL;
    }
    pthread_mutex_unlock(&s->conn_lock);
}

static void watchdog_tick(struct server *s)
{
    uint64_t now = mono_us() / 1000;
    pthread_mutex_lock(&s->conn_lock);
    for (size_t i = 0; i < CONN_SLOTS; i++) {
        struct conn_slot *slot = &s->conns[i];
        if (slot->used && slot->deadline_ms != 0 && now > slot->deadline_ms) {
            shutdown(slot->fd, SHUT_RDWR);
            slot->deadline_ms = 0; /* once */
            atomic_fetch_add(&s->slow_cut, 1);
            cordon_log(CORDON_LOG_WARN, "http.slow_client_cut", "timeout_s=%u",
                       s->cfg->request_timeout);
        }
    }
    pthread_mutex_unlock(&s->conn_lock);
}

static void request_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                              enum MHD_RequestTerminationCode code)
{
    struct server *s = cls;
    struct request *req = *con_cls;
    (void)code;
    if (req != NULL) {
        cordon_buf_free(&req->body);
        free(req);
        *con_cls = NULL;
    }
    /* The next request on a kept-alive connection gets a fresh deadline. */
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (info != NULL && info->socket_context != NULL) {
        pthread_mutex_lock(&s->conn_lock);
        struct conn_slot *slot = info->socket_context;
        if (slot->used && slot->deadline_ms != 0)
            slot->deadline_ms = mono_us() / 1000 + (uint64_t)s->cfg->request_timeout * 1000;
        pthread_mutex_unlock(&s->conn_lock);
    }
}

/* ---- responses ------------------------------------------------------------------------- */

static void observe_latency(struct server *s, struct request *req)
{
    double secs = (double)(mono_us() - req->start_us) / 1e6;
    size_t i = 0;
    while (i < N_BOUNDS && secs > latency_bounds[i])
        i++;
    atomic_fetch_add(&s->latency_buckets[i], 1);
    atomic_fetch_add(&s->latency_count, 1);
    atomic_fetch_add(&s->latency_sum_us, (unsigned long)(secs * 1e6));
}

static enum MHD_Result send_bytes(struct server *s, struct MHD_Connection *c, struct request *req,
                                  unsigned status, const char *type, const void *data, size_t len,
                                  const char *allow)
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
    if (req != NULL) {
        req->answered = true;
        observe_latency(s, req);
    }
    if (status >= 400)
        atomic_fetch_add(&s->http_refused, 1);
    return rc;
}

static enum MHD_Result send_error(struct server *s, struct MHD_Connection *c, struct request *req,
                                  unsigned status, const char *message, const char *allow)
{
    json_t *o = json_pack("{s:s}", "error", message);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    enum MHD_Result rc;
    if (text != NULL) {
        size_t n = strlen(text);
        text[n] = '\n'; /* a trailing newline for people reading it with curl */
        rc = send_bytes(s, c, req, status, "application/json", text, n + 1, allow);
    } else {
        static const char fallback[] = "{\"error\":\"internal error\"}\n";
        rc = send_bytes(s, c, req, 500, "application/json", fallback, sizeof(fallback) - 1, NULL);
    }
    free(text);
    json_decref(o);
    return rc;
}

static enum outcome outcome_of(unsigned status)
{
    switch (status) {
    case 201:
        return OUT_ISSUED;
    case 400:
        return OUT_BAD_REQUEST;
    case 401:
        return OUT_UNAUTHORIZED;
    case 403:
        return OUT_FORBIDDEN;
    case 413:
        return OUT_TOO_LARGE;
    case 415:
        return OUT_UNSUPPORTED;
    case 429:
        return OUT_RATE_LIMITED;
    default:
        return OUT_ERROR;
    }
}

/* ---- endpoints ------------------------------------------------------------------------- */

static enum MHD_Result serve_crl(struct server *s, struct MHD_Connection *c, struct request *req)
{
    cordon_buf der, pem;
    cordon_crl *crl = NULL;
    cordon_db_txn *txn = NULL;
    enum MHD_Result rc;
    cordon_buf_init(&der, CORDON_CRL_MAX, false);
    cordon_buf_init(&pem, 2 * CORDON_CRL_MAX, false);
    cordon_err err = cordon_db_begin(s->db, false, &txn);
    if (err == CORDON_OK)
        err = cordon_db_meta_get(txn, "crl", &der);
    cordon_db_abort(txn);
    if (err == CORDON_OK)
        err = cordon_crl_parse(der.data, der.len, &crl);
    if (err == CORDON_OK)
        err = cordon_crl_pem(crl, &pem);
    if (err == CORDON_OK)
        rc = send_bytes(s, c, req, 200, "application/x-pem-file", pem.data, pem.len, NULL);
    else
        rc = send_error(s, c, req, 500, "no CRL available", NULL);
    cordon_crl_free(crl);
    cordon_buf_free(&der);
    cordon_buf_free(&pem);
    return rc;
}

static enum MHD_Result serve_metrics(struct server *s, struct MHD_Connection *c,
                                     struct request *req)
{
    cordon_buf out;
    cordon_db_txn *txn = NULL;
    size_t tokens = 0, nodes = 0;
    uint64_t revoked = 0, crl_number = 0;
    cordon_buf_init(&out, 64 * 1024, false);
    cordon_err err = cordon_db_begin(s->db, false, &txn);
    if (err == CORDON_OK)
        err = cordon_db_token_count(txn, &tokens);
    if (err == CORDON_OK)
        err = cordon_db_node_count(txn, &nodes);
    if (err == CORDON_OK && cordon_db_meta_get_u64(txn, "revocations", &revoked) != CORDON_OK)
        revoked = 0;
    if (err == CORDON_OK && cordon_db_meta_get_u64(txn, "crl_number", &crl_number) != CORDON_OK)
        crl_number = 0;
    cordon_db_abort(txn);
    if (err != CORDON_OK)
        return send_error(s, c, req, 500, "database error", NULL);

    err = cordon_buf_append_str(&out, "# HELP cordon_enroll_enrollments_total Enrollment "
                                      "requests by outcome.\n"
                                      "# TYPE cordon_enroll_enrollments_total counter\n");
    for (size_t i = 0; i < OUT__COUNT && err == CORDON_OK; i++)
        err = cordon_buf_printf(&out, "cordon_enroll_enrollments_total{outcome=\"%s\"} %lu\n",
                                outcome_names[i], atomic_load(&s->outcomes[i]));
    if (err == CORDON_OK)
        err = cordon_buf_append_str(&out, "# HELP cordon_enroll_renewals_total Renewal requests "
                                          "by outcome.\n"
                                          "# TYPE cordon_enroll_renewals_total counter\n");
    for (size_t i = 0; i < OUT__COUNT && err == CORDON_OK; i++)
        err = cordon_buf_printf(&out, "cordon_enroll_renewals_total{outcome=\"%s\"} %lu\n",
                                outcome_names[i], atomic_load(&s->renew_outcomes[i]));
    if (err == CORDON_OK)
        err = cordon_buf_printf(
            &out,
            "# HELP cordon_enroll_tokens Enrollment tokens in the database.\n"
            "# TYPE cordon_enroll_tokens gauge\ncordon_enroll_tokens %zu\n"
            "# HELP cordon_enroll_certificates Node certificates issued (all time).\n"
            "# TYPE cordon_enroll_certificates gauge\ncordon_enroll_certificates %zu\n"
            "# HELP cordon_enroll_revocations Node certificates revoked (all time).\n"
            "# TYPE cordon_enroll_revocations gauge\ncordon_enroll_revocations %llu\n"
            "# HELP cordon_enroll_crl_number Number of the CRL being served.\n"
            "# TYPE cordon_enroll_crl_number gauge\ncordon_enroll_crl_number %llu\n"
            "# HELP cordon_enroll_http_requests_total HTTP requests received.\n"
            "# TYPE cordon_enroll_http_requests_total counter\n"
            "cordon_enroll_http_requests_total %lu\n"
            "# HELP cordon_enroll_http_refused_total HTTP requests answered with an error.\n"
            "# TYPE cordon_enroll_http_refused_total counter\n"
            "cordon_enroll_http_refused_total %lu\n"
            "# HELP cordon_enroll_slow_clients_cut_total Connections cut for exceeding the "
            "request deadline.\n"
            "# TYPE cordon_enroll_slow_clients_cut_total counter\n"
            "cordon_enroll_slow_clients_cut_total %lu\n"
            "# HELP cordon_enroll_crl_refreshes_total CRLs re-signed by the server.\n"
            "# TYPE cordon_enroll_crl_refreshes_total counter\n"
            "cordon_enroll_crl_refreshes_total %lu\n"
            "# HELP cordon_enroll_request_duration_seconds Time from request to answer.\n"
            "# TYPE cordon_enroll_request_duration_seconds histogram\n",
            tokens, nodes, (unsigned long long)revoked, (unsigned long long)crl_number,
            atomic_load(&s->http_requests), atomic_load(&s->http_refused),
            atomic_load(&s->slow_cut), atomic_load(&s->crl_refreshes));
    unsigned long cumulative = 0;
    for (size_t i = 0; i < N_BOUNDS && err == CORDON_OK; i++) {
        cumulative += atomic_load(&s->latency_buckets[i]);
        err = cordon_buf_printf(&out,
                                "cordon_enroll_request_duration_seconds_bucket{le=\"%g\"} %lu\n",
                                latency_bounds[i], cumulative);
    }
    cumulative += atomic_load(&s->latency_buckets[N_BOUNDS]);
    if (err == CORDON_OK)
        err = cordon_buf_printf(&out,
                                "cordon_enroll_request_duration_seconds_bucket{le=\"+Inf\"} %lu\n"
                                "cordon_enroll_request_duration_seconds_sum %.6f\n"
                                "cordon_enroll_request_duration_seconds_count %lu\n",
                                cumulative, (double)atomic_load(&s->latency_sum_us) / 1e6,
                                atomic_load(&s->latency_count));
    enum MHD_Result rc = err == CORDON_OK ? send_bytes(s, c, req, 200, "text/plain; version=0.0.4",
                                                       out.data, out.len, NULL)
                                          : send_error(s, c, req, 500, "metrics too large", NULL);
    cordon_buf_free(&out);
    return rc;
}

static const char *route_event(enum cordon_route route)
{
    return route == CORDON_ROUTE_RENEW ? "renew" : "enroll";
}

/* The answer to an issuance (enrollment or renewal): the new certificate and the CA
 * certificate, PEM. The certificate is armoured from its DER (RFC 7468: 64-character
 * lines): the same bytes as cordon_cert_pem() of the parsed certificate, without decoding
 * it again. Under OpenSSL 3.0 decoding a certificate's public key costs several times an
 * ECDSA signature. */
static enum MHD_Result send_issued(struct server *s, struct MHD_Connection *c, struct request *req,
                                   const char *event, atomic_ulong *outcomes,
                                   const cordon_buf *cert_der,
                                   const uint8_t node_id[CORDON_NODE_ID_LEN])
{
    cordon_buf chain;
    enum MHD_Result rc;
    cordon_buf_init(&chain, CORDON_CHAIN_MAX, false);
    cordon_err err = cordon_cert_pem_from_der(cert_der->data, cert_der->len, &chain);
    if (err == CORDON_OK)
        err = cordon_buf_append(&chain, s->ca_pem.data, s->ca_pem.len);
    if (err != CORDON_OK) {
        /* Recorded but not answered: the client may retry. */
        atomic_fetch_add(&outcomes[OUT_ERROR], 1);
        rc = send_error(s, c, req, 500, "internal error encoding the certificate", NULL);
    } else {
        char hex[2 * CORDON_NODE_ID_LEN + 1];
        cordon_hex_encode(node_id, CORDON_NODE_ID_LEN, hex);
        cordon_log(CORDON_LOG_INFO, event, "node=%s source=%s", hex, req->source);
        atomic_fetch_add(&outcomes[OUT_ISSUED], 1);
        rc = send_bytes(s, c, req, 201, "application/pem-certificate-chain", chain.data, chain.len,
                        NULL);
    }
    cordon_buf_free(&chain);
    return rc;
}

static enum MHD_Result serve_enroll(struct server *s, struct MHD_Connection *c, struct request *req)
{
    struct cordon_enroll_request er;
    struct cordon_http_refusal refusal = {0, NULL, NULL};
    cordon_buf cert_der;
    uint8_t node_id[CORDON_NODE_ID_LEN];
    enum MHD_Result rc;
    unsigned status;
    cordon_buf_init(&cert_der, CORDON_CERT_MAX, false);

    if (req->too_large) {
        status = 413;
        refusal.message = "request body too large: a CSR is at most 8192 bytes";
        cordon_issuer_audit_refusal(s->issuer, "enroll", req->source, status, refusal.message);
        goto refused;
    }
    status = cordon_enroll_request_parse(
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        req->body.data, req->body.len, &er, &refusal);
    if (status != 0) {
        cordon_issuer_audit_refusal(s->issuer, "enroll", req->source, status, refusal.message);
        goto refused;
    }
    status = cordon_issuer_enroll(s->issuer, &er, req->source, &cert_der, node_id, &refusal);
    cordon_enroll_request_clear(&er);
    if (status != 201)
        goto refused;

    rc = send_issued(s, c, req, "enroll.issued", s->outcomes, &cert_der, node_id);
    goto out;
refused:
    atomic_fetch_add(&s->outcomes[outcome_of(status)], 1);
    rc = send_error(s, c, req, status, refusal.message, NULL);
out:
    cordon_buf_free(&cert_der);
    return rc;
}

/* The CRL to check renewals with, current with the database; taken shared (release with
 * crl_release), NULL when the database has none that parses. */
static const cordon_crl *crl_acquire(struct server *s)
{
    uint64_t number = 0;
    cordon_buf der;
    cordon_crl *fresh = NULL;
    cordon_db_txn *txn = NULL;
    cordon_err err = cordon_db_begin(s->db, false, &txn);
    if (err == CORDON_OK)
        err = cordon_db_meta_get_u64(txn, "crl_number", &number);
    pthread_rwlock_rdlock(&s->crl_lock);
    if (err != CORDON_OK || (s->crl != NULL && s->crl_number == number)) {
        cordon_db_abort(txn);
        return s->crl; /* a database error keeps the one we have */
    }
    pthread_rwlock_unlock(&s->crl_lock);
    /* Parsed outside the lock, from the same read transaction as the number. */
    cordon_buf_init(&der, CORDON_CRL_MAX, false);
    if (cordon_db_meta_get(txn, "crl", &der) == CORDON_OK &&
        cordon_crl_parse(der.data, der.len, &fresh) == CORDON_OK) {
        pthread_rwlock_wrlock(&s->crl_lock);
        if (s->crl == NULL || number > s->crl_number) {
            cordon_crl_free(s->crl);
            s->crl = fresh;
            s->crl_number = number;
            fresh = NULL;
        }
        pthread_rwlock_unlock(&s->crl_lock);
    }
    cordon_db_abort(txn);
    cordon_crl_free(fresh);
    cordon_buf_free(&der);
    pthread_rwlock_rdlock(&s->crl_lock);
    return s->crl;
}

static void crl_release(struct server *s)
{
    pthread_rwlock_unlock(&s->crl_lock);
}

static enum MHD_Result serve_renew(struct server *s, struct MHD_Connection *c, struct request *req)
{
    struct cordon_renew_request rr;
    struct cordon_renew_proof proof;
    struct cordon_http_refusal refusal = {0, NULL, NULL};
    cordon_buf cert_der;
    enum MHD_Result rc;
    unsigned status;
    memset(&rr, 0, sizeof(rr));
    memset(&proof, 0, sizeof(proof));
    cordon_buf_init(&cert_der, CORDON_CERT_MAX, false);

    if (req->too_large) {
        status = 413;
        refusal.message = "request body too large: a renewal is at most 8192 bytes";
        cordon_issuer_audit_refusal(s->issuer, "renew", req->source, status, refusal.message);
        goto refused;
    }
    status = cordon_renew_request_parse(
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        req->body.data, req->body.len, &rr, &refusal);
    if (status == 0) {
        const cordon_crl *crl = crl_acquire(s);
        if (crl == NULL)
            status = 503, refusal.message = "the server has no CRL; retry later";
        else
            status = cordon_renew_request_check(&rr, s->ca, crl, s->overlay, (int64_t)time(NULL),
                                                &proof, &refusal);
        crl_release(s);
    }
    cordon_renew_request_clear(&rr);
    if (status != 0) {
        cordon_issuer_audit_refusal(s->issuer, "renew", req->source, status, refusal.message);
        goto refused;
    }
    status = cordon_issuer_renew(s->issuer, &proof, req->source, &cert_der, &refusal);
    if (status != 201)
        goto refused;
    rc = send_issued(s, c, req, "renew.issued", s->renew_outcomes, &cert_der, proof.node_id);
    goto out;
refused:
    atomic_fetch_add(&s->renew_outcomes[outcome_of(status)], 1);
    rc = send_error(s, c, req, status, refusal.message, NULL);
out:
    cordon_renew_proof_clear(&proof);
    cordon_buf_free(&cert_der);
    return rc;
}

static void source_of(struct MHD_Connection *c, char *text, size_t len, uint8_t key[16],
                      size_t *key_len)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(text, len, "unknown");
    *key_len = 0;
    if (info == NULL || info->client_addr == NULL)
        return;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &v4->sin_addr, text, (socklen_t)len);
        memcpy(key, &v4->sin_addr, 4);
        *key_len = 4;
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &v6->sin6_addr, text, (socklen_t)len);
        if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
            memcpy(key, &v6->sin6_addr.s6_addr[12], 4);
            *key_len = 4;
        } else {
            /* One /64 is one source: a host owns the whole prefix. */
            memcpy(key, &v6->sin6_addr, 8);
            *key_len = 8;
        }
    }
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    struct server *s = cls;
    struct request *req = *con_cls;
    (void)version;

    if (req == NULL) {
        req = calloc(1, sizeof(*req));
        if (req == NULL)
            return MHD_NO;
        *con_cls = req;
        req->start_us = mono_us();
        cordon_buf_init(&req->body, CORDON_HTTP_BODY_MAX, false);
        atomic_fetch_add(&s->http_requests, 1);
        uint8_t key[16];
        size_t key_len;
        source_of(c, req->source, sizeof(req->source), key, &key_len);

        struct cordon_http_refusal refusal;
        req->route = cordon_enroll_route(method, url, &refusal);
        if (req->route == CORDON_ROUTE_NONE)
            return send_error(s, c, req, refusal.status, refusal.message, refusal.allow);
        if (req->route == CORDON_ROUTE_ENROLL || req->route == CORDON_ROUTE_RENEW) {
            atomic_ulong *outcomes =
                req->route == CORDON_ROUTE_RENEW ? s->renew_outcomes : s->outcomes;
            /* Cheap checks first: the source's rate, then the declared size. */
            if (!cordon_issuer_allow_source(s->issuer, key, key_len)) {
                atomic_fetch_add(&outcomes[OUT_RATE_LIMITED], 1);
                return send_error(s, c, req, 429,
                                  "too many enrollment requests from this address; retry later",
                                  NULL);
            }
            const char *cl =
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            uint64_t declared;
            if (cl != NULL &&
                cordon_parse_u64(cl, 0, CORDON_HTTP_BODY_MAX, &declared) != CORDON_OK) {
                {
                    atomic_fetch_add(&outcomes[OUT_TOO_LARGE], 1);
                    cordon_issuer_audit_refusal(s->issuer, route_event(req->route), req->source,
                                                413, "declared body too large");
                    return send_error(
                        s, c, req, 413,
                        req->route == CORDON_ROUTE_RENEW
                            ? "request body too large: a renewal is at most 8192 bytes"
                            : "request body too large: a CSR is at most 8192 bytes",
                        NULL);
                }
            }
        }
        return MHD_YES;
    }
    if (req->answered) {
        *upload_data_size = 0; /* the rest of a refused body is read and dropped */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if ((req->route != CORDON_ROUTE_ENROLL && req->route != CORDON_ROUTE_RENEW) ||
            req->too_large ||
            cordon_buf_append(&req->body, upload_data, *upload_data_size) != CORDON_OK)
            req->too_large = true; /* keep reading (bounded by the deadline), answer 413 */
        *upload_data_size = 0;
        return MHD_YES;
    }
    switch (req->route) {
    case CORDON_ROUTE_CA:
        return send_bytes(s, c, req, 200, "application/x-pem-file", s->ca_pem.data, s->ca_pem.len,
                          NULL);
    case CORDON_ROUTE_OVERLAY:
        return send_bytes(s, c, req, 200, "application/json", s->envelope.data, s->envelope.len,
                          NULL);
    case CORDON_ROUTE_CRL:
        return serve_crl(s, c, req);
    case CORDON_ROUTE_METRICS:
        return serve_metrics(s, c, req);
    case CORDON_ROUTE_ENROLL:
        return serve_enroll(s, c, req);
    case CORDON_ROUTE_RENEW:
        return serve_renew(s, c, req);
    default:
        return send_error(s, c, req, 404, "no such endpoint", NULL);
    }
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
    cordon_log(CORDON_LOG_DEBUG, "http.mhd", "msg=%s",
               cordon_log_quote(msg, quoted, sizeof(quoted)));
}

/* ---- start-up -------------------------------------------------------------------------- */

static cordon_err build_envelope(struct server *s)
{
    struct cordon_overlay_doc doc;
    cordon_buf text;
    uint8_t sig[CORDON_SIG_MAX];
    size_t sig_len;
    cordon_buf_init(&text, CORDON_OVERLAY_DOC_MAX, false);
    memset(&doc, 0, sizeof(doc));
    doc.version = 1;
    snprintf(doc.overlay, sizeof(doc.overlay), "%s", s->overlay);
    doc.issued_at = (int64_t)time(NULL);
    doc.ca_pem = (char *)s->ca_pem.data;
    doc.params = s->params;
    doc.n_bootstrap = s->cfg->n_bootstrap;
    for (size_t i = 0; i < s->cfg->n_bootstrap; i++)
        snprintf(doc.bootstrap[i], sizeof(doc.bootstrap[i]), "%s", s->cfg->bootstrap[i]);
    cordon_err err = cordon_overlay_doc_encode(&doc, &text);
    if (err == CORDON_OK)
        err = cordon_signer_document(s->signer, text.data, text.len, sig, &sig_len);
    if (err == CORDON_OK)
        err = cordon_overlay_envelope_encode(cordon_overlay_alg(s->ca_key_type), text.data,
                                             text.len, sig, sig_len, &s->envelope);
    cordon_buf_free(&text);
    return err;
}

/* Re-signs the CRL when less than half of its validity is left, so that peers always
 * find a current one. The revoke command writes a fresh CRL itself. */
static cordon_err refresh_crl(struct server *s, bool force)
{
    int64_t now = (int64_t)time(NULL);
    uint64_t next_update = 0;
    cordon_db_txn *txn;
    cordon_err err = cordon_db_begin(s->db, false, &txn);
    if (err != CORDON_OK)
        return err;
    if (cordon_db_meta_get_u64(txn, "crl_next_update", &next_update) != CORDON_OK)
        next_update = 0;
    cordon_db_abort(txn);
    if (!force && (int64_t)next_update - now > (int64_t)s->params.crl_validity / 2)
        return CORDON_OK;
    err = cordon_enroll_write_crl(s->db, now, s->params.crl_validity, NULL, NULL, s->signer, NULL,
                                  NULL);
    if (err == CORDON_OK) {
        atomic_fetch_add(&s->crl_refreshes, 1);
        cordon_log_event(CORDON_LOG_INFO, "crl.refreshed");
    } else {
        cordon_log(CORDON_LOG_ERROR, "crl.refresh_failed", "error=%s", cordon_errname(err));
    }
    return err;
}

static cordon_err write_ready_file(const char *path, unsigned port)
{
    char text[16];
    int n = snprintf(text, sizeof(text), "%u\n", port);
    return cordon_write_file(path, text, (size_t)n, 0644);
}

cordon_err cordon_serve(const struct cordon_serve_config *cfg)
{
    struct server *s = calloc(1, sizeof(*s));
    struct cordon_enroll_paths paths;
    struct sockaddr_storage ss;
    unsigned ss_len;
    sigset_t sigs;
    cordon_err err;
    if (s == NULL)
        return CORDON_ERR_NOMEM;
    s->cfg = cfg;
    pthread_mutex_init(&s->conn_lock, NULL);
    pthread_rwlock_init(&s->crl_lock, NULL);
    cordon_buf_init(&s->tls_key, CORDON_CERT_MAX, true);
    cordon_buf_init(&s->tls_cert, CORDON_CHAIN_MAX, false);
    cordon_buf_init(&s->ca_pem, CORDON_CERT_MAX, false);
    cordon_buf_init(&s->envelope, CORDON_OVERLAY_ENVELOPE_MAX, false);

    err = cordon_parse_listen(cfg->listen, &ss, &ss_len);
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-enroll: --listen %s: expected ADDR:PORT or [V6]:PORT\n",
                cfg->listen);
        goto out;
    }
    err = cordon_enroll_paths(cfg->dir, &paths);
    if (err == CORDON_OK)
        err = cordon_enroll_load_state(&paths, s->overlay, &s->params, &s->ca_pem);
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-enroll: cannot load the overlay in %s: %s\n", cfg->dir,
                cordon_strerror(err));
        goto out;
    }

    {
        int64_t nb;
        err = cordon_cert_parse(s->ca_pem.data, s->ca_pem.len, &s->ca);
        if (err == CORDON_OK)
            err = cordon_cert_validity(s->ca, &nb, &s->ca_not_after);
        if (err == CORDON_OK)
            s->ca_key_type = cordon_cert_key_type(s->ca);
        if (err != CORDON_OK) {
            fprintf(stderr, "cordon-enroll: cannot read the CA certificate: %s\n",
                    cordon_strerror(err));
            goto out;
        }
    }

    /* The signer forks before any thread exists and before the front reads a key. */
    struct cordon_signer_policy policy;
    memset(&policy, 0, sizeof(policy));
    snprintf(policy.overlay, sizeof(policy.overlay), "%s", s->overlay);
    policy.max_validity = s->params.cert_validity;
    policy.max_crl_validity = s->params.crl_validity;
    err = cordon_signer_start(paths.ca_key, paths.ca_cert, &policy, &s->signer);
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-enroll: cannot start the signer: %s\n", cordon_strerror(err));
        goto out;
    }

    /* Signals are taken by the main loop only; no thread sees them. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    err = cordon_db_open(paths.db, false, &s->db);
    if (err == CORDON_OK)
        err = cordon_audit_open(paths.audit, &s->audit);
    if (err == CORDON_OK)
        err = cordon_read_file(paths.server_key, CORDON_CERT_MAX, &s->tls_key);
    if (err == CORDON_OK)
        err = cordon_read_file(paths.server_cert, CORDON_CERT_MAX, &s->tls_cert);
    if (err == CORDON_OK)
        err = cordon_buf_append(&s->tls_cert, s->ca_pem.data, s->ca_pem.len);
    if (err == CORDON_OK)
        err = cordon_buf_terminate(&s->tls_key);
    if (err == CORDON_OK)
        err = cordon_buf_terminate(&s->tls_cert);
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-enroll: cannot open the database, audit log or TLS files: %s\n",
                cordon_strerror(err));
        goto out;
    }
    err = build_envelope(s);
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-enroll: cannot sign the overlay document: %s\n",
                cordon_strerror(err));
        goto out;
    }
    (void)refresh_crl(s, false);

    struct cordon_issuer_config icfg = {
        .cert_validity = s->params.cert_validity,
        .ca_not_after = s->ca_not_after,
        .source_rate = cfg->source_rate,
        .source_burst = cfg->source_burst,
        .token_rate = cfg->token_rate,
        .token_burst = cfg->token_burst,
        .renew_rate = cfg->renew_rate,
        .renew_burst = cfg->renew_burst,
    };
    err = cordon_issuer_new(s->db, s->signer, s->audit, &icfg, &s->issuer);
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-enroll: bad rate limits: %s\n", cordon_strerror(err));
        goto out;
    }

    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_TLS |
                     MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_HTTPS_MEM_KEY, (const char *)s->tls_key.data, MHD_OPTION_HTTPS_MEM_CERT,
        (const char *)s->tls_cert.data, MHD_OPTION_HTTPS_PRIORITIES,
        "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)CORDON_HTTP_CONN_MAX, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)CORDON_HTTP_CONN_PER_IP_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)CORDON_HTTP_CONN_TIMEOUT, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
        MHD_OPTION_NOTIFY_CONNECTION, notify_connection, s, MHD_OPTION_NOTIFY_COMPLETED,
        request_completed, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1, MHD_OPTION_END);
    if (s->mhd == NULL) {
        fprintf(stderr,
                "cordon-enroll: cannot listen on %s (address in use, or TLS set-up "
                "failed)\n",
                cfg->listen);
        err = CORDON_ERR_IO;
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : 0;
    cordon_log(CORDON_LOG_INFO, "serve.started", "overlay=%s listen=%s port=%u", s->overlay,
               cfg->listen, port);
    if (cfg->ready_file != NULL && (err = write_ready_file(cfg->ready_file, port)) != CORDON_OK) {
        fprintf(stderr, "cordon-enroll: cannot write --ready-file %s: %s\n", cfg->ready_file,
                cordon_strerror(err));
        goto out;
    }

    uint64_t next_crl_check = mono_us() / 1000 + CRL_CHECK_EVERY_MS;
    for (;;) {
        struct timespec wait = {.tv_sec = 0, .tv_nsec = TICK_MS * 1000000L};
        int sig = sigtimedwait(&sigs, NULL, &wait);
        if (sig == SIGINT || sig == SIGTERM) {
            cordon_log(CORDON_LOG_INFO, "serve.stopping", "signal=%d", sig);
            break;
        }
        watchdog_tick(s);
        if (!cordon_signer_alive(s->signer)) {
            /* Fail closed and loudly: a supervisor restarts the whole service. */
            cordon_log_event(CORDON_LOG_ERROR, "signer.died");
            err = CORDON_ERR_PROTOCOL;
            goto out;
        }
        if (mono_us() / 1000 >= next_crl_check) {
            (void)refresh_crl(s, false);
            next_crl_check = mono_us() / 1000 + CRL_CHECK_EVERY_MS;
        }
    }
    err = CORDON_OK;
out:
    if (s->mhd != NULL)
        MHD_stop_daemon(s->mhd); /* waits for every connection thread */
    cordon_issuer_free(s->issuer);
    cordon_signer_stop(s->signer);
    cordon_audit_close(s->audit);
    cordon_db_close(s->db);
    cordon_buf_free(&s->tls_key);
    cordon_buf_free(&s->tls_cert);
    cordon_buf_free(&s->ca_pem);
    cordon_buf_free(&s->envelope);
    cordon_cert_free(s->ca);
    cordon_crl_free(s->crl);
    pthread_rwlock_destroy(&s->crl_lock);
    pthread_mutex_destroy(&s->conn_lock);
    if (err == CORDON_OK)
        cordon_log_event(CORDON_LOG_INFO, "serve.stopped");
    free(s);
    return err;
}
