/*
 * peer/refresh.c — the CRL and certificate refresher (see refresh.h): one thread, a schedule
 * per CA group (CRL) and per instance (renewal), results posted through an eventfd.
 *
 * Threads: after cordon_refresher_start() the entries and groups belong to the thread,
 * except the fields marked "mu" (the results waiting for a drain, and the stop flag), which
 * the mutex guards. The thread holds no lock of the refresher's while it talks to a server
 * or writes a file; it holds crl_file_mu (below) while it may write a crl.pem.
 */
#include "peer/refresh.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/hex.h"
#include "common/log.h"
#include "crypto/crypto.h"
#include "peer/enroll_client.h"

#define HEX_ID_LEN (2 * CORDON_NODE_ID_LEN + 1)
#define WHY_MAX 512

/* Every writer of a DIR/crl.pem in this process: the refresher's thread (a fetch, a copy to
 * the members, a renewal that refreshes it first) and the loop taking a CRL from the DHT
 * (cordon_refresh_write_crl). cordon_write_file() names its temporary file after the
 * process, so two writers of one file at once would share it; and each must see the
 * number the other wrote, so that neither puts back an older list. The loop only tries
 * the lock: it must not wait behind a request to a server. */
static pthread_mutex_t crl_file_mu = PTHREAD_MUTEX_INITIALIZER;

struct entry {
    char *dir;
    size_t index; /* the caller's */
    size_t group;
    char node_hex[HEX_ID_LEN];
    uint64_t crl_number;           /* of DIR/crl.pem as last written or read (0: none) */
    int64_t not_before, not_after; /* of DIR/node.crt */
    int64_t renew_at;              /* wall-clock seconds; INT64_MAX: never */
    uint64_t retry_ms;             /* monotonic: no attempt before (after a failure) */
    uint32_t failures;
    unsigned pending; /* mu: what changed since the last drain */
    bool queued;      /* mu: listed in dirty */
};

struct group {
    cordon_cert *ca;   /* the members' DIR/ca.crt */
    uint8_t ca_fp[32]; /* its fingerprint: the key of the group */
    size_t *members;   /* entry indexes */
    size_t n, cap;
    size_t leader;   /* position in members of the one that fetches */
    uint64_t due_ms; /* monotonic */
    uint32_t failures;
};

struct drained {
    size_t entry;
    unsigned what;
};

struct cordon_refresher {
    struct cordon_refresher_config cfg;
    struct entry *e;
    size_t n, cap;
    struct group *g;
    size_t ng, gcap;
    int efd;
    bool curl;
    bool started;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* on CLOCK_MONOTONIC */
    bool stop;               /* mu */
    size_t *dirty;           /* mu: entries with results, at most n */
    size_t n_dirty;          /* mu */
    struct drained *drained; /* the drain's copy */
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int64_t wall_s(void)
{
    return (int64_t)time(NULL);
}

void cordon_refresher_config_default(struct cordon_refresher_config *c)
{
    c->crl_interval_s = CORDON_REFRESH_CRL_DEFAULT_S;
    c->renew_before_s = -1;
    c->timeout_s = CORDON_REFRESH_TIMEOUT_DEFAULT_S;
}

/* ---- creation --------------------------------------------------------------------------- */

cordon_err cordon_refresher_new(const struct cordon_refresher_config *c, cordon_refresher **out)
{
    if (out == NULL)
        return CORDON_ERR_INVAL;
    *out = NULL;
    if (c == NULL || c->crl_interval_s > CORDON_REFRESH_CRL_MAX_S || c->timeout_s < 1 ||
        c->timeout_s > 600)
        return CORDON_ERR_INVAL;
    cordon_refresher *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return CORDON_ERR_NOMEM;
    r->cfg = *c;
    r->efd = -1;
    pthread_condattr_t ca;
    bool attr = pthread_condattr_init(&ca) == 0;
    if (!attr || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&r->cv, &ca) != 0) {
        if (attr)
            pthread_condattr_destroy(&ca);
        free(r);
        return CORDON_ERR_NOMEM;
    }
    pthread_condattr_destroy(&ca);
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        pthread_cond_destroy(&r->cv);
        free(r);
        return CORDON_ERR_NOMEM;
    }
    r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    r->curl = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    if (r->efd < 0 || !r->curl) {
        cordon_refresher_free(r);
        return CORDON_ERR_IO;
    }
    *out = r;
    return CORDON_OK;
}

static cordon_err load_in(const char *dir, const char *name, cordon_cert **out)
{
    char path[CORDON_PATH_MAX];
    cordon_err err = cordon_path_join(path, dir, name);
    return err == CORDON_OK ? cordon_cert_load(path, out) : err;
}

/* The CRL number of DIR/crl.pem; 0 when there is none that reads. */
static uint64_t stored_crl_number(const char *dir)
{
    char path[CORDON_PATH_MAX];
    cordon_crl *crl = NULL;
    uint64_t n = 0;
    if (cordon_path_join(path, dir, "crl.pem") == CORDON_OK &&
        cordon_crl_load(path, &crl) == CORDON_OK && cordon_crl_number(crl, &n) != CORDON_OK)
        n = 0;
    cordon_crl_free(crl);
    return n;
}

/* When to renew a certificate valid from nb to na. */
static int64_t renew_time(const cordon_refresher *r, int64_t nb, int64_t na)
{
    if (r->cfg.renew_before_s == 0)
        return INT64_MAX;
    int64_t before = r->cfg.renew_before_s > 0 ? r->cfg.renew_before_s : (na - nb) / 3;
    return na - before;
}

/* What DIR/node.crt says (cordon_enroll_identity(), which also checks that DIR is an
 * enrolled node's: enrollment.json, ca.crt, overlay.json), with its notBefore. */
static cordon_err read_identity(const char *dir, struct entry *e, struct cordon_enroll_identity *id,
                                char *why, size_t why_len)
{
    cordon_cert *cert = NULL;
    int64_t not_after;
    cordon_err err = cordon_enroll_identity(dir, id, why, why_len);
    if (err == CORDON_OK) {
        err = load_in(dir, "node.crt", &cert);
        if (err == CORDON_OK)
            err = cordon_cert_validity(cert, &e->not_before, &not_after);
        if (err != CORDON_OK)
            snprintf(why, why_len, "cannot read node.crt: %s", cordon_strerror(err));
        cordon_cert_free(cert);
    }
    if (err == CORDON_OK) {
        e->not_after = id->not_after;
        cordon_hex_encode(id->node_id, CORDON_NODE_ID_LEN, e->node_hex);
    }
    return err;
}

static cordon_err group_join(cordon_refresher *r, size_t entry, cordon_cert **ca, size_t *out)
{
    uint8_t fp[32];
    cordon_err err = cordon_cert_fingerprint(*ca, fp);
    if (err != CORDON_OK)
        return err;
    size_t gi = 0;
    while (gi < r->ng && memcmp(r->g[gi].ca_fp, fp, sizeof(fp)) != 0)
        gi++;
    if (gi == r->ng) {
        if (r->ng == r->gcap) {
            size_t cap = r->gcap == 0 ? 4 : 2 * r->gcap;
            struct group *grown = realloc(r->g, cap * sizeof(*grown));
            if (grown == NULL)
                return CORDON_ERR_NOMEM;
            r->g = grown;
            r->gcap = cap;
        }
        memset(&r->g[gi], 0, sizeof(r->g[gi]));
        memcpy(r->g[gi].ca_fp, fp, sizeof(fp));
        r->ng++;
    }
    struct group *g = &r->g[gi];
    if (g->n == g->cap) {
        size_t cap = g->cap == 0 ? 4 : 2 * g->cap;
        size_t *grown = realloc(g->members, cap * sizeof(*grown));
        if (grown == NULL) {
            if (g->n == 0)
                r->ng--; /* the group just made: gone again */
            return CORDON_ERR_NOMEM;
        }
        g->members = grown;
        g->cap = cap;
    }
    g->members[g->n++] = entry;
    if (g->ca == NULL) {
        g->ca = *ca; /* taken */
        *ca = NULL;
    }
    *out = gi;
    return CORDON_OK;
}

cordon_err cordon_refresher_add(cordon_refresher *r, const char *dir, size_t index)
{
    if (r == NULL || dir == NULL || r->started || strlen(dir) >= CORDON_PATH_MAX)
        return CORDON_ERR_INVAL;
    if (r->n >= CORDON_REFRESH_INSTANCES_MAX)
        return CORDON_ERR_TOO_LARGE;
    if (r->n == r->cap) {
        size_t cap = r->cap == 0 ? 8 : 2 * r->cap;
        struct entry *grown = realloc(r->e, cap * sizeof(*grown));
        if (grown == NULL)
            return CORDON_ERR_NOMEM;
        r->e = grown;
        r->cap = cap;
    }
    struct entry *e = &r->e[r->n];
    memset(e, 0, sizeof(*e));
    char path[CORDON_PATH_MAX], why[WHY_MAX] = "", q[2 * WHY_MAX];
    struct cordon_enroll_identity id;
    cordon_cert *ca = NULL;
    cordon_err err = cordon_path_join(path, dir, "enrollment.json");
    if (err != CORDON_OK)
        return CORDON_ERR_INVAL;
    if (!cordon_path_exists(path))
        return CORDON_ERR_NOT_FOUND; /* enrolled by hand: nothing to ask a server */
    err = read_identity(dir, e, &id, why, sizeof(why));
    if (err == CORDON_ERR_NOT_FOUND)
        err = CORDON_ERR_IO; /* NOT_FOUND says "no enrollment.json" only */
    if (err == CORDON_OK)
        err = load_in(dir, "ca.crt", &ca);
    if (err == CORDON_OK) {
        e->dir = strdup(dir);
        if (e->dir == NULL)
            err = CORDON_ERR_NOMEM;
    }
    if (err == CORDON_OK)
        err = group_join(r, r->n, &ca, &e->group);
    cordon_cert_free(ca);
    if (err != CORDON_OK) {
        cordon_log(CORDON_LOG_ERROR, "peer.refresh_failed", "dir=%s reason=%s why=%s",
                   cordon_log_quote(dir, path, sizeof(path)), cordon_errname(err),
                   cordon_log_quote(why, q, sizeof(q)));
        free(e->dir);
        return err;
    }
    e->index = index;
    e->crl_number = stored_crl_number(dir);
    e->renew_at = renew_time(r, e->not_before, e->not_after);
    r->n++;
    return CORDON_OK;
}

/* ---- results ---------------------------------------------------------------------------- */

static void post(cordon_refresher *r, size_t i, unsigned what)
{
    uint64_t one = 1;
    pthread_mutex_lock(&r->mu);
    r->e[i].pending |= what;
    if (!r->e[i].queued) {
        r->e[i].queued = true;
        r->dirty[r->n_dirty++] = i;
    }
    /* Cannot fail short of a counter overflow, which draining prevents. */
    ssize_t w = write(r->efd, &one, sizeof(one));
    (void)w;
    pthread_mutex_unlock(&r->mu);
}

int cordon_refresher_fd(const cordon_refresher *r)
{
    return r == NULL ? -1 : r->efd;
}

void cordon_refresher_drain(cordon_refresher *r, void (*cb)(void *ctx, size_t index, unsigned what),
                            void *ctx)
{
    uint64_t v;
    size_t n;
    if (r == NULL || !r->started)
        return;
    pthread_mutex_lock(&r->mu);
    /* Emptied under the lock: a post after it makes the fd readable again. */
    ssize_t got = read(r->efd, &v, sizeof(v));
    (void)got;
    n = r->n_dirty;
    for (size_t i = 0; i < n; i++) {
        struct entry *e = &r->e[r->dirty[i]];
        r->drained[i].entry = r->dirty[i];
        r->drained[i].what = e->pending;
        e->pending = 0;
        e->queued = false;
    }
    r->n_dirty = 0;
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < n && cb != NULL; i++)
        cb(ctx, r->e[r->drained[i].entry].index, r->drained[i].what);
}

/* ---- the work --------------------------------------------------------------------------- */

static bool stopping(cordon_refresher *r)
{
    pthread_mutex_lock(&r->mu);
    bool s = r->stop;
    pthread_mutex_unlock(&r->mu);
    return s;
}

static uint32_t backoff_s(uint32_t failures)
{
    uint32_t s = CORDON_REFRESH_RETRY_FIRST_S;
    for (uint32_t i = 1; i < failures && s < CORDON_REFRESH_RETRY_MAX_S; i++)
        s *= 2;
    return s < CORDON_REFRESH_RETRY_MAX_S ? s : CORDON_REFRESH_RETRY_MAX_S;
}

/* Copies the leader's verified DIR/crl.pem to every member of g holding a lower number.
 * Returns the number of directories that got a new CRL (the leader's own fetch included). */
static cordon_err crl_spread(cordon_refresher *r, struct group *g, bool leader_changed,
                             uint64_t *number, size_t *written, char *why, size_t why_len)
{
    char path[CORDON_PATH_MAX];
    size_t li = g->members[g->leader];
    struct entry *lead = &r->e[li];
    cordon_crl *crl = NULL;
    cordon_buf pem;
    cordon_buf_init(&pem, CORDON_CRL_MAX, false);
    *written = 0;
    cordon_err err = cordon_path_join(path, lead->dir, "crl.pem");
    if (err == CORDON_OK)
        err = cordon_read_file(path, CORDON_CRL_MAX, &pem);
    if (err == CORDON_OK)
        err = cordon_crl_parse(pem.data, pem.len, &crl);
    /* The fetch verified it with the leader's CA, which is the group's; checked again here
     * because these are the bytes that go to the others. */
    if (err == CORDON_OK)
        err = cordon_crl_verify(crl, g->ca, wall_s());
    if (err == CORDON_OK)
        err = cordon_crl_number(crl, number);
    cordon_crl_free(crl);
    if (err != CORDON_OK) {
        snprintf(why, why_len, "the fetched crl.pem does not read back as a CRL of the CA: %s",
                 cordon_strerror(err));
        cordon_buf_free(&pem);
        return err;
    }
    lead->crl_number = *number;
    if (leader_changed) {
        post(r, li, CORDON_REFRESH_CRL);
        (*written)++;
    }
    for (size_t m = 0; m < g->n; m++) {
        struct entry *e = &r->e[g->members[m]];
        if (m == g->leader || e->crl_number >= *number)
            continue;
        /* The loop may have written a newer one from the DHT since. */
        e->crl_number = stored_crl_number(e->dir);
        if (e->crl_number >= *number)
            continue;
        cordon_err werr = cordon_path_join(path, e->dir, "crl.pem");
        if (werr == CORDON_OK)
            werr = cordon_write_file(path, pem.data, pem.len, 0644);
        if (werr != CORDON_OK) {
            /* This member only; it is tried again at the next fetch. */
            cordon_log(CORDON_LOG_WARN, "peer.crl_refresh_failed",
                       "node=%s reason=%s why=\"cannot write its crl.pem\"", e->node_hex,
                       cordon_errname(werr));
            continue;
        }
        e->crl_number = *number;
        post(r, g->members[m], CORDON_REFRESH_CRL);
        (*written)++;
    }
    cordon_buf_free(&pem);
    return CORDON_OK;
}

static void crl_step(cordon_refresher *r, struct group *g)
{
    char why[WHY_MAX] = "", q[2 * WHY_MAX];
    struct entry *lead = &r->e[g->members[g->leader]];
    bool changed = false;
    uint64_t number = 0;
    size_t written = 0;
    pthread_mutex_lock(&crl_file_mu);
    cordon_err err =
        cordon_enroll_fetch_crl(lead->dir, r->cfg.timeout_s, &changed, why, sizeof(why));
    if (err == CORDON_OK)
        err = crl_spread(r, g, changed, &number, &written, why, sizeof(why));
    pthread_mutex_unlock(&crl_file_mu);
    if (err == CORDON_OK) {
        g->failures = 0;
        g->due_ms = mono_ms() + (uint64_t)r->cfg.crl_interval_s * 1000u;
        cordon_log(written > 0 ? CORDON_LOG_INFO : CORDON_LOG_DEBUG, "peer.crl_refreshed",
                   "node=%s crl=%llu written=%zu members=%zu", lead->node_hex,
                   (unsigned long long)number, written, g->n);
        return;
    }
    g->failures++;
    uint32_t retry = backoff_s(g->failures);
    g->due_ms = mono_ms() + (uint64_t)retry * 1000u;
    cordon_log(CORDON_LOG_WARN, "peer.crl_refresh_failed", "node=%s reason=%s why=%s retry_s=%u",
               lead->node_hex, cordon_errname(err), cordon_log_quote(why, q, sizeof(q)), retry);
    g->leader = (g->leader + 1) % g->n; /* the next try goes through another member */
}

static void renew_step(cordon_refresher *r, size_t i)
{
    struct entry *e = &r->e[i];
    char why[WHY_MAX] = "", q[2 * WHY_MAX], serial[2 * CORDON_SERIAL_LEN + 1] = "";
    struct cordon_enroll_identity id;
    pthread_mutex_lock(&crl_file_mu); /* the renewal refreshes crl.pem first */
    cordon_err err = cordon_enroll_renew(e->dir, r->cfg.timeout_s, why, sizeof(why));
    pthread_mutex_unlock(&crl_file_mu);
    if (err == CORDON_OK) {
        /* node.crt was replaced: whatever it now holds is for the instance to load. The
         * renewal refreshed crl.pem first, which may be newer too. */
        unsigned what = CORDON_REFRESH_IDENTITY;
        uint64_t number = stored_crl_number(e->dir);
        if (number > e->crl_number) {
            e->crl_number = number;
            what |= CORDON_REFRESH_CRL;
        }
        post(r, i, what);
        err = read_identity(e->dir, e, &id, why, sizeof(why));
        if (err == CORDON_OK)
            cordon_hex_encode(id.serial, CORDON_SERIAL_LEN, serial);
    }
    int64_t now = wall_s();
    if (err == CORDON_OK) {
        e->failures = 0;
        e->retry_ms = 0;
        e->renew_at = renew_time(r, e->not_before, e->not_after);
        if (e->renew_at < now + CORDON_REFRESH_RENEW_GAP_S)
            e->renew_at = now + CORDON_REFRESH_RENEW_GAP_S;
        cordon_log(CORDON_LOG_INFO, "peer.renewed", "node=%s not_after=%lld serial=%s", e->node_hex,
                   (long long)e->not_after, serial);
        return;
    }
    e->failures++;
    uint32_t retry = backoff_s(e->failures);
    e->retry_ms = mono_ms() + (uint64_t)retry * 1000u;
    cordon_log(CORDON_LOG_WARN, "peer.renew_failed", "node=%s reason=%s why=%s retry_s=%u",
               e->node_hex, cordon_errname(err), cordon_log_quote(why, q, sizeof(q)), retry);
}

/* Does one due piece of work (true), or says how long until the next (false, *wait_ms). */
static bool step(cordon_refresher *r, uint64_t *wait_ms)
{
    uint64_t now = mono_ms();
    int64_t wall = wall_s();
    uint64_t wait = (uint64_t)CORDON_REFRESH_WAIT_MAX_S * 1000u;
    if (r->cfg.crl_interval_s > 0) {
        for (size_t gi = 0; gi < r->ng; gi++) {
            struct group *g = &r->g[gi];
            if (g->due_ms <= now) {
                crl_step(r, g);
                return true;
            }
            if (g->due_ms - now < wait)
                wait = g->due_ms - now;
        }
    }
    for (size_t i = 0; i < r->n; i++) {
        struct entry *e = &r->e[i];
        if (e->renew_at == INT64_MAX)
            continue;
        uint64_t until = 0;
        if (e->renew_at > wall)
            until = (uint64_t)(e->renew_at - wall) * 1000u;
        if (e->retry_ms > now && e->retry_ms - now > until)
            until = e->retry_ms - now;
        if (until == 0) {
            renew_step(r, i);
            return true;
        }
        if (until < wait)
            wait = until;
    }
    *wait_ms = wait;
    return false;
}

static void *thread_main(void *arg)
{
    cordon_refresher *r = arg;
    while (!stopping(r)) {
        uint64_t wait_ms = 0;
        if (step(r, &wait_ms))
            continue; /* the stop is checked before the next request */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += (time_t)(wait_ms / 1000u);
        ts.tv_nsec += (long)(wait_ms % 1000u) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&r->mu);
        /* Woken early by free(), or by nothing: the loop looks again either way. */
        if (!r->stop)
            (void)pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        pthread_mutex_unlock(&r->mu);
    }
    return NULL;
}

cordon_err cordon_refresher_start(cordon_refresher *r)
{
    if (r == NULL || r->started)
        return CORDON_ERR_INVAL;
    size_t n = r->n == 0 ? 1 : r->n;
    r->dirty = calloc(n, sizeof(*r->dirty));
    r->drained = calloc(n, sizeof(*r->drained));
    if (r->dirty == NULL || r->drained == NULL)
        return CORDON_ERR_NOMEM;
    uint64_t now = mono_ms();
    for (size_t gi = 0; gi < r->ng; gi++)
        r->g[gi].due_ms = now; /* the stored CRL may be old: fetch at once */
    /* The thread takes no signal: they stay with the loop (its signalfd). */
    sigset_t all, old;
    sigfillset(&all);
    if (pthread_sigmask(SIG_BLOCK, &all, &old) != 0)
        return CORDON_ERR_IO;
    int rc = pthread_create(&r->thread, NULL, thread_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return CORDON_ERR_IO;
    r->started = true;
    return CORDON_OK;
}

void cordon_refresher_free(cordon_refresher *r)
{
    if (r == NULL)
        return;
    if (r->started) {
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
    }
    for (size_t i = 0; i < r->n; i++)
        free(r->e[i].dir);
    free(r->e);
    for (size_t gi = 0; gi < r->ng; gi++) {
        cordon_cert_free(r->g[gi].ca);
        free(r->g[gi].members);
    }
    free(r->g);
    free(r->dirty);
    free(r->drained);
    if (r->efd >= 0)
        close(r->efd);
    if (r->curl)
        curl_global_cleanup();
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

cordon_err cordon_refresh_write_crl(const char *dir, const cordon_crl *crl)
{
    char path[CORDON_PATH_MAX];
    uint64_t number = 0;
    cordon_buf pem;
    if (dir == NULL || crl == NULL)
        return CORDON_ERR_INVAL;
    cordon_err err = cordon_crl_number(crl, &number);
    if (err != CORDON_OK)
        return err;
    if (pthread_mutex_trylock(&crl_file_mu) != 0)
        return CORDON_ERR_BUSY;
    cordon_buf_init(&pem, CORDON_CRL_MAX, false);
    err = cordon_path_join(path, dir, "crl.pem");
    if (err == CORDON_OK && stored_crl_number(dir) >= number)
        err = CORDON_ERR_EXISTS; /* as new or newer already: never back */
    if (err == CORDON_OK)
        err = cordon_crl_pem(crl, &pem);
    if (err == CORDON_OK)
        err = cordon_write_file(path, pem.data, pem.len, 0644);
    pthread_mutex_unlock(&crl_file_mu);
    cordon_buf_free(&pem);
    return err;
}
