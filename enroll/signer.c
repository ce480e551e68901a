/* enroll/signer.c — see signer.h. */
#include "enroll/signer.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "wire/overlay_doc.h"
#include "wire/reader.h"
#include "wire/writer.h"

#define HEADER_REQ 5         /* u8 type, u32 length */
#define HEADER_RESP 6        /* u16 status, u32 length */
#define NOT_BEFORE_SKEW 3600 /* how far before now the front may backdate notBefore */
#define FUTURE_SKEW 300      /* how far after now any time may start */
#define CHANNEL_TIMEOUT_MS 10000

/* ---- request encoders ------------------------------------------------------------------ */

static cordon_err frame(uint8_t type, const cordon_buf *payload, cordon_buf *out)
{
    uint8_t hdr[HEADER_REQ];
    cordon_writer w;
    cordon_writer_init(&w, hdr, sizeof(hdr));
    cordon_write_u8(&w, type);
    cordon_write_u32(&w, (uint32_t)payload->len);
    if (payload->len > CORDON_IPC_MSG_MAX)
        return CORDON_ERR_TOO_LARGE;
    cordon_err err = cordon_writer_finish(&w, NULL);
    if (err == CORDON_OK)
        err = cordon_buf_append(out, hdr, sizeof(hdr));
    if (err == CORDON_OK)
        err = cordon_buf_append(out, payload->data, payload->len);
    return err;
}

cordon_err cordon_signer_encode_node_cert(const uint8_t *csr_der, size_t csr_len,
                                          const struct cordon_node_cert_params *p, cordon_buf *out)
{
    uint8_t tmp[CORDON_NODE_ID_LEN + CORDON_SERIAL_LEN + 16 + 2 + CORDON_CSR_MAX];
    size_t len;
    cordon_writer w;
    if (csr_len > CORDON_CSR_MAX || p->not_before < 0 || p->not_after < 0)
        return CORDON_ERR_INVAL;
    cordon_writer_init(&w, tmp, sizeof(tmp));
    cordon_write_bytes(&w, p->node_id, CORDON_NODE_ID_LEN);
    cordon_write_bytes(&w, p->serial, CORDON_SERIAL_LEN);
    cordon_write_u64(&w, (uint64_t)p->not_before);
    cordon_write_u64(&w, (uint64_t)p->not_after);
    cordon_write_prefixed(&w, 2, csr_der, csr_len);
    cordon_err err = cordon_writer_finish(&w, &len);
    if (err != CORDON_OK)
        return err;
    cordon_buf payload = {.data = tmp, .len = len};
    return frame(CORDON_SIGNER_NODE_CERT, &payload, out);
}

cordon_err cordon_signer_encode_document(const void *doc, size_t len, cordon_buf *out)
{
    cordon_buf payload;
    cordon_buf_init(&payload, 4 + CORDON_OVERLAY_DOC_MAX, false);
    uint8_t hdr[4];
    cordon_writer w;
    if (len > CORDON_OVERLAY_DOC_MAX)
        return CORDON_ERR_TOO_LARGE;
    cordon_writer_init(&w, hdr, sizeof(hdr));
    cordon_write_u32(&w, (uint32_t)len);
    cordon_err err = cordon_writer_finish(&w, NULL);
    if (err == CORDON_OK)
        err = cordon_buf_append(&payload, hdr, sizeof(hdr));
    if (err == CORDON_OK)
        err = cordon_buf_append(&payload, doc, len);
    if (err == CORDON_OK)
        err = frame(CORDON_SIGNER_DOCUMENT, &payload, out);
    cordon_buf_free(&payload);
    return err;
}

cordon_err cordon_signer_encode_crl(uint64_t number, int64_t this_update, int64_t next_update,
                                    const struct cordon_revoked *revoked, size_t n, cordon_buf *out)
{
    if (n > CORDON_CRL_ENTRIES_MAX || this_update < 0 || next_update < 0)
        return CORDON_ERR_INVAL;
    cordon_buf payload;
    cordon_buf_init(&payload, CORDON_IPC_MSG_MAX, false);
    uint8_t tmp[8 * 3 + 4];
    cordon_writer w;
    cordon_writer_init(&w, tmp, sizeof(tmp));
    cordon_write_u64(&w, number);
    cordon_write_u64(&w, (uint64_t)this_update);
    cordon_write_u64(&w, (uint64_t)next_update);
    cordon_write_u32(&w, (uint32_t)n);
    cordon_err err = cordon_writer_finish(&w, NULL);
    if (err == CORDON_OK)
        err = cordon_buf_append(&payload, tmp, sizeof(tmp));
    for (size_t i = 0; i < n && err == CORDON_OK; i++) {
        uint8_t e[CORDON_SERIAL_LEN + 8];
        cordon_writer_init(&w, e, sizeof(e));
        cordon_write_bytes(&w, revoked[i].serial, CORDON_SERIAL_LEN);
        cordon_write_u64(&w, (uint64_t)(revoked[i].revoked_at < 0 ? 0 : revoked[i].revoked_at));
        err = cordon_writer_finish(&w, NULL);
        if (err == CORDON_OK)
            err = cordon_buf_append(&payload, e, sizeof(e));
    }
    if (err == CORDON_OK)
        err = frame(CORDON_SIGNER_CRL, &payload, out);
    cordon_buf_free(&payload);
    return err;
}

/* ---- the signer's checks ---------------------------------------------------------------- */

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static bool time_ok(uint64_t t)
{
    return t <= (uint64_t)INT64_MAX / 2;
}

static cordon_err handle_node_cert(struct cordon_signer_state *st, cordon_reader *r, int64_t now,
                                   cordon_buf *out)
{
    struct cordon_node_cert_params p;
    uint64_t nb, na;
    cordon_reader csr_r;
    cordon_csr *csr = NULL;
    cordon_cert *cert = NULL;
    memset(&p, 0, sizeof(p));
    if (cordon_read_bytes(r, p.node_id, CORDON_NODE_ID_LEN) != CORDON_OK ||
        cordon_read_bytes(r, p.serial, CORDON_SERIAL_LEN) != CORDON_OK ||
        cordon_read_u64(r, &nb) != CORDON_OK || cordon_read_u64(r, &na) != CORDON_OK ||
        cordon_read_sub(r, 2, CORDON_CSR_MAX, &csr_r) != CORDON_OK ||
        cordon_reader_end(r) != CORDON_OK)
        return CORDON_ERR_PROTOCOL;
    if (!time_ok(nb) || !time_ok(na))
        return CORDON_ERR_INVAL;
    p.not_before = (int64_t)nb;
    p.not_after = (int64_t)na;
    p.overlay = st->policy.overlay;
    if (all_zero(p.node_id, sizeof(p.node_id)) || all_zero(p.serial, sizeof(p.serial)) ||
        (p.serial[0] & 0x80) != 0)
        return CORDON_ERR_INVAL;
    if (p.not_before < now - NOT_BEFORE_SKEW || p.not_before > now + FUTURE_SKEW ||
        p.not_after <= p.not_before ||
        p.not_after - p.not_before > (int64_t)st->policy.max_validity + NOT_BEFORE_SKEW)
        return CORDON_ERR_INVAL;
    int64_t ca_nb, ca_na;
    cordon_err err = cordon_cert_validity(st->ca_cert, &ca_nb, &ca_na);
    if (err != CORDON_OK)
        return err;
    if (p.not_after > ca_na)
        return CORDON_ERR_INVAL; /* no node certificate outlives its CA */
    err = cordon_csr_parse(csr_r.data, csr_r.len, &csr);
    if (err != CORDON_OK)
        goto out;
    err = cordon_cert_issue_node(csr, &p, st->ca_key, st->ca_cert, &cert);
    if (err != CORDON_OK)
        goto out;
    err = cordon_cert_der(cert, out);
out:
    cordon_cert_free(cert);
    cordon_csr_free(csr);
    return err;
}

static cordon_err handle_document(struct cordon_signer_state *st, cordon_reader *r, cordon_buf *out)
{
    cordon_reader doc_r;
    struct cordon_overlay_doc doc;
    cordon_cert *named = NULL;
    uint8_t fp_named[32], fp_ca[32], sig[CORDON_SIG_MAX];
    size_t sig_len;
    if (cordon_read_sub(r, 4, CORDON_OVERLAY_DOC_MAX, &doc_r) != CORDON_OK ||
        cordon_reader_end(r) != CORDON_OK)
        return CORDON_ERR_PROTOCOL;
    cordon_err err = cordon_overlay_doc_decode(doc_r.data, doc_r.len, &doc);
    if (err != CORDON_OK)
        return err;
    if (strcmp(doc.overlay, st->policy.overlay) != 0) {
        err = CORDON_ERR_INVAL;
        goto out;
    }
    err = cordon_cert_parse(doc.ca_pem, strlen(doc.ca_pem), &named);
    if (err == CORDON_OK)
        err = cordon_cert_fingerprint(named, fp_named);
    if (err == CORDON_OK)
        err = cordon_cert_fingerprint(st->ca_cert, fp_ca);
    if (err != CORDON_OK)
        goto out;
    if (memcmp(fp_named, fp_ca, 32) != 0) {
        err = CORDON_ERR_CERT_UNTRUSTED;
        goto out;
    }
    err = cordon_sign(st->ca_key, doc_r.data, doc_r.len, sig, &sig_len);
    if (err == CORDON_OK)
        err = cordon_buf_append(out, sig, sig_len);
out:
    cordon_cert_free(named);
    cordon_overlay_doc_clear(&doc);
    return err;
}

static cordon_err handle_crl(struct cordon_signer_state *st, cordon_reader *r, int64_t now,
                             cordon_buf *out)
{
    uint64_t number, tu, nu;
    uint32_t n;
    struct cordon_revoked *list = NULL;
    cordon_crl *crl = NULL;
    if (cordon_read_u64(r, &number) != CORDON_OK || cordon_read_u64(r, &tu) != CORDON_OK ||
        cordon_read_u64(r, &nu) != CORDON_OK || cordon_read_u32(r, &n) != CORDON_OK)
        return CORDON_ERR_PROTOCOL;
    /* The count is checked against what is left before anything is allocated. */
    if (n > CORDON_CRL_ENTRIES_MAX || cordon_reader_left(r) != (size_t)n * (CORDON_SERIAL_LEN + 8))
        return CORDON_ERR_PROTOCOL;
    if (!time_ok(tu) || !time_ok(nu))
        return CORDON_ERR_INVAL;
    if (number <= st->last_crl_number || (int64_t)tu > now + FUTURE_SKEW ||
        (int64_t)tu < now - FUTURE_SKEW || nu <= tu || nu - tu > st->policy.max_crl_validity)
        return CORDON_ERR_INVAL;
    list = calloc(n ? n : 1, sizeof(*list));
    if (list == NULL)
        return CORDON_ERR_NOMEM;
    cordon_err err = CORDON_OK;
    for (uint32_t i = 0; i < n && err == CORDON_OK; i++) {
        uint64_t at = 0;
        if (cordon_read_bytes(r, list[i].serial, CORDON_SERIAL_LEN) != CORDON_OK ||
            cordon_read_u64(r, &at) != CORDON_OK || !time_ok(at))
            err = CORDON_ERR_PROTOCOL;
        list[i].revoked_at = (int64_t)at;
    }
    if (err == CORDON_OK)
        err = cordon_crl_create(st->ca_key, st->ca_cert, number, (int64_t)tu, (int64_t)nu, list, n,
                                &crl);
    if (err == CORDON_OK)
        err = cordon_crl_der(crl, out);
    if (err == CORDON_OK)
        st->last_crl_number = number;
    cordon_crl_free(crl);
    free(list);
    return err;
}

cordon_err cordon_signer_handle(struct cordon_signer_state *st, const uint8_t *req, size_t len,
                                int64_t now, cordon_buf *resp)
{
    cordon_reader r, body;
    uint8_t type;
    cordon_buf payload;
    cordon_buf_init(&payload, CORDON_IPC_MSG_MAX, false);
    cordon_err status;
    cordon_reader_init(&r, req, len);
    if (cordon_read_u8(&r, &type) != CORDON_OK ||
        cordon_read_sub(&r, 4, CORDON_IPC_MSG_MAX, &body) != CORDON_OK ||
        cordon_reader_end(&r) != CORDON_OK) {
        status = CORDON_ERR_PROTOCOL;
    } else {
        switch (type) {
        case CORDON_SIGNER_NODE_CERT:
            status = handle_node_cert(st, &body, now, &payload);
            break;
        case CORDON_SIGNER_DOCUMENT:
            status = handle_document(st, &body, &payload);
            break;
        case CORDON_SIGNER_CRL:
            status = handle_crl(st, &body, now, &payload);
            break;
        default:
            status = CORDON_ERR_PROTOCOL;
        }
    }
    if (status != CORDON_OK)
        payload.len = 0;
    uint8_t hdr[HEADER_RESP];
    cordon_writer w;
    cordon_writer_init(&w, hdr, sizeof(hdr));
    cordon_write_u16(&w, (uint16_t)status);
    cordon_write_u32(&w, (uint32_t)payload.len);
    cordon_err err = cordon_writer_finish(&w, NULL);
    if (err == CORDON_OK)
        err = cordon_buf_append(resp, hdr, sizeof(hdr));
    if (err == CORDON_OK)
        err = cordon_buf_append(resp, payload.data, payload.len);
    cordon_buf_free(&payload);
    return err == CORDON_OK ? status : err;
}

/* ---- the channel ----------------------------------------------------------------------- */

/* A caller whose request is on the channel and whose answer is still to be read. */
struct turn {
    struct turn *next;
    pthread_cond_t wake; /* signalled when this caller becomes the head of the queue */
};

/* Requests are pipelined: a caller writes its request at once, even while earlier ones are
 * being signed, so that the signer never waits for the next one. The signer answers in
 * order, so the callers queue in the order of their requests and only the head reads. */
struct cordon_signer {
    pthread_mutex_t send_lock; /* one writer at a time; never held by a reader */
    pthread_mutex_t lock;      /* the queue and broken */
    struct turn *head, *tail;
    int fd;
    pid_t pid;
    bool broken;
};

/* Reads exactly n bytes, waiting at most timeout_ms in all (-1: no limit). */
static cordon_err read_full(int fd, void *buf, size_t n, int timeout_ms)
{
    uint8_t *p = buf;
    while (n > 0) {
        if (timeout_ms >= 0) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            int rc = poll(&pfd, 1, timeout_ms);
            if (rc < 0 && errno == EINTR)
                continue;
            if (rc <= 0)
                return CORDON_ERR_PROTOCOL;
        }
        ssize_t got = read(fd, p, n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return CORDON_ERR_PROTOCOL;
        p += got;
        n -= (size_t)got;
    }
    return CORDON_OK;
}

static cordon_err write_full(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t put = send(fd, p, n, MSG_NOSIGNAL);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return CORDON_ERR_PROTOCOL;
        p += put;
        n -= (size_t)put;
    }
    return CORDON_OK;
}

/* Reads one framed message (header of hdr_len bytes whose last four are the length). */
static cordon_err read_message(int fd, size_t hdr_len, int timeout_ms, cordon_buf *out)
{
    uint8_t hdr[HEADER_RESP];
    cordon_err err = read_full(fd, hdr, hdr_len, timeout_ms);
    if (err != CORDON_OK)
        return err;
    uint32_t len = (uint32_t)hdr[hdr_len - 4] << 24 | (uint32_t)hdr[hdr_len - 3] << 16 |
                   (uint32_t)hdr[hdr_len - 2] << 8 | hdr[hdr_len - 1];
    if (len > CORDON_IPC_MSG_MAX)
        return CORDON_ERR_PROTOCOL;
    err = cordon_buf_append(out, hdr, hdr_len);
    if (err == CORDON_OK && len > 0) {
        uint8_t *tmp = malloc(len);
        if (tmp == NULL)
            return CORDON_ERR_NOMEM;
        err = read_full(fd, tmp, len, timeout_ms);
        if (err == CORDON_OK)
            err = cordon_buf_append(out, tmp, len);
        free(tmp);
    }
    return err;
}

static void __attribute__((noreturn))
signer_main(int fd, const char *key_path, const char *cert_path,
            const struct cordon_signer_policy *policy)
{
    struct cordon_signer_state st = {.policy = *policy};
    cordon_key *key = NULL;
    cordon_cert *cert = NULL;
    cordon_buf req, resp;
    cordon_buf_init(&req, CORDON_IPC_MSG_MAX + HEADER_REQ, false);
    cordon_buf_init(&resp, CORDON_IPC_MSG_MAX + HEADER_RESP, false);

    /* No core dumps or ptrace of the process that holds the key, and no life after the
     * front. */
    prctl(PR_SET_DUMPABLE, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    signal(SIGINT, SIG_IGN);

    cordon_err err = cordon_key_load(key_path, &key);
    if (err == CORDON_OK)
        err = cordon_cert_load(cert_path, &cert);
    if (err == CORDON_OK && !cordon_cert_matches_key(cert, key)) {
        fprintf(stderr, "cordon-enroll: signer: %s does not match %s\n", key_path, cert_path);
        err = CORDON_ERR_INVAL;
    } else if (err != CORDON_OK) {
        fprintf(stderr, "cordon-enroll: signer: cannot load %s and %s: %s\n", key_path, cert_path,
                cordon_strerror(err));
    }
    uint8_t ready[2] = {(uint8_t)(err >> 8), (uint8_t)err};
    if (write_full(fd, ready, sizeof(ready)) != CORDON_OK || err != CORDON_OK)
        goto out;
    st.ca_key = key;
    st.ca_cert = cert;
    for (;;) {
        cordon_buf_reset(&req);
        cordon_buf_reset(&resp);
        if (read_message(fd, HEADER_REQ, -1, &req) != CORDON_OK)
            break; /* the front closed the channel or broke the framing */
        (void)cordon_signer_handle(&st, req.data, req.len, (int64_t)time(NULL), &resp);
        if (resp.len == 0 || write_full(fd, resp.data, resp.len) != CORDON_OK)
            break;
    }
out:
    cordon_key_free(key);
    cordon_cert_free(cert);
    cordon_buf_free(&req);
    cordon_buf_free(&resp);
    close(fd);
    _exit(0);
}

cordon_err cordon_signer_start(const char *key_path, const char *cert_path,
                               const struct cordon_signer_policy *policy, cordon_signer **out)
{
    int sv[2];
    if (policy->max_validity == 0 || policy->max_validity > CORDON_CERT_VALIDITY_MAX)
        return CORDON_ERR_INVAL;
    cordon_signer *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return CORDON_ERR_NOMEM;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        free(s);
        return CORDON_ERR_IO;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        free(s);
        return CORDON_ERR_IO;
    }
    if (pid == 0) {
        close(sv[0]);
        signer_main(sv[1], key_path, cert_path, policy);
    }
    close(sv[1]);
    pthread_mutex_init(&s->send_lock, NULL);
    pthread_mutex_init(&s->lock, NULL);
    s->fd = sv[0];
    s->pid = pid;
    uint8_t ready[2];
    cordon_err err = read_full(s->fd, ready, sizeof(ready), CHANNEL_TIMEOUT_MS);
    if (err == CORDON_OK)
        err = (cordon_err)(ready[0] << 8 | ready[1]);
    if (err != CORDON_OK) {
        cordon_signer_stop(s);
        return err;
    }
    *out = s;
    return CORDON_OK;
}

bool cordon_signer_alive(cordon_signer *s)
{
    int status;
    if (s->pid <= 0)
        return false;
    if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
        s->pid = 0;
        return false;
    }
    return true;
}

void cordon_signer_stop(cordon_signer *s)
{
    if (s == NULL)
        return;
    close(s->fd);
    int status;
    while (s->pid > 0 && waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
        ;
    pthread_mutex_destroy(&s->send_lock);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Poisons the handle for good (s->lock held). */
static void set_broken(cordon_signer *s, cordon_err err)
{
    if (!s->broken) {
        s->broken = true;
        cordon_log(CORDON_LOG_ERROR, "signer.broken", "error=%s", cordon_errname(err));
    }
}

/* Sends a request and returns the response payload in out, or the signer's refusal. */
static cordon_err call(cordon_signer *s, const cordon_buf *req, cordon_buf *out)
{
    cordon_buf resp;
    struct turn me = {.next = NULL};
    cordon_err err = CORDON_OK;
    cordon_buf_init(&resp, CORDON_IPC_MSG_MAX + HEADER_RESP, false);
    pthread_cond_init(&me.wake, NULL);

    /* Queued before writing, under the send lock: the queue's order is the requests'. A
     * writer waiting for room in the channel holds no lock that the head needs, so the
     * answers keep draining and the signer keeps reading. */
    pthread_mutex_lock(&s->send_lock);
    pthread_mutex_lock(&s->lock);
    bool queued = !s->broken;
    if (queued) {
        if (s->tail != NULL)
            s->tail->next = &me;
        else
            s->head = &me;
        s->tail = &me;
    }
    pthread_mutex_unlock(&s->lock);
    err = queued ? write_full(s->fd, req->data, req->len) : CORDON_ERR_PROTOCOL;
    if (queued && err != CORDON_OK) {
        pthread_mutex_lock(&s->lock);
        set_broken(s, err); /* a torn request: no later one may follow it */
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&s->send_lock);

    if (queued) {
        pthread_mutex_lock(&s->lock);
        while (s->head != &me)
            pthread_cond_wait(&me.wake, &s->lock);
        if (err == CORDON_OK && s->broken)
            err = CORDON_ERR_PROTOCOL; /* an earlier answer went wrong: this one is lost */
        pthread_mutex_unlock(&s->lock);
        if (err == CORDON_OK)
            err = read_message(s->fd, HEADER_RESP, CHANNEL_TIMEOUT_MS, &resp);
        pthread_mutex_lock(&s->lock);
        if (err != CORDON_OK)
            set_broken(s, err);
        /* The next caller's cond is signalled under the lock, before it can return. */
        s->head = me.next;
        if (s->head != NULL)
            pthread_cond_signal(&s->head->wake);
        else
            s->tail = NULL;
        pthread_mutex_unlock(&s->lock);
    }
    pthread_cond_destroy(&me.wake);
    if (err == CORDON_OK) {
        cordon_reader r;
        uint16_t status;
        uint32_t len;
        cordon_reader_init(&r, resp.data, resp.len);
        if (cordon_read_u16(&r, &status) != CORDON_OK || cordon_read_u32(&r, &len) != CORDON_OK)
            err = CORDON_ERR_PROTOCOL;
        else if (status >= CORDON_ERR__COUNT)
            err = CORDON_ERR_PROTOCOL;
        else
            err = (cordon_err)status;
        if (err == CORDON_OK)
            err = cordon_buf_append(out, resp.data + r.pos, cordon_reader_left(&r));
    }
    cordon_buf_free(&resp);
    return err;
}

cordon_err cordon_signer_node_cert(cordon_signer *s, const uint8_t *csr_der, size_t csr_len,
                                   const struct cordon_node_cert_params *p, cordon_buf *cert_der)
{
    cordon_buf req;
    cordon_buf_init(&req, CORDON_IPC_MSG_MAX + HEADER_REQ, false);
    cordon_err err = cordon_signer_encode_node_cert(csr_der, csr_len, p, &req);
    if (err == CORDON_OK)
        err = call(s, &req, cert_der);
    cordon_buf_free(&req);
    return err;
}

cordon_err cordon_signer_document(cordon_signer *s, const void *doc, size_t len,
                                  uint8_t sig[CORDON_SIG_MAX], size_t *sig_len)
{
    cordon_buf req, out;
    cordon_buf_init(&req, CORDON_IPC_MSG_MAX + HEADER_REQ, false);
    cordon_buf_init(&out, CORDON_SIG_MAX, false);
    cordon_err err = cordon_signer_encode_document(doc, len, &req);
    if (err == CORDON_OK)
        err = call(s, &req, &out);
    if (err == CORDON_OK) {
        memcpy(sig, out.data, out.len);
        *sig_len = out.len;
    }
    cordon_buf_free(&req);
    cordon_buf_free(&out);
    return err;
}

cordon_err cordon_signer_crl(cordon_signer *s, uint64_t number, int64_t this_update,
                             int64_t next_update, const struct cordon_revoked *revoked, size_t n,
                             cordon_buf *crl_der)
{
    cordon_buf req;
    cordon_buf_init(&req, CORDON_IPC_MSG_MAX + HEADER_REQ, false);
    cordon_err err = cordon_signer_encode_crl(number, this_update, next_update, revoked, n, &req);
    if (err == CORDON_OK)
        err = call(s, &req, crl_der);
    cordon_buf_free(&req);
    return err;
}
