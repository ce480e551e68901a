/*
 * peer/refresh.h — keeps enrolled peers' files current while they run: the CRL (fetched
 * from the enrollment server every crl_interval_s) and the node certificate (renewed when
 * little of its lifetime is left), for any number of peer instances of one process.
 *
 * One background thread per refresher, whatever the number of instances (swarm mode runs
 * up to thousands in one process), because the enrollment client is blocking (libcurl
 * easy). The thread never touches an instance: it works only on the files of the
 * instances' directories (DIR/crl.pem, DIR/node.crt, each replaced atomically) and posts
 * what changed; the loop that owns the instances polls cordon_refresher_fd(), calls
 * cordon_refresher_drain() and reloads those instances (cordon_runtime_reload_crl(),
 * cordon_runtime_reload_identity()).
 *
 * The CRL is the CA's: instances whose DIR/ca.crt is the same certificate form one group,
 * and a group fetches it ONCE per interval (cordon_enroll_fetch_crl() into one member's
 * directory, its "leader", which verifies it with the CA and keeps only a higher CRL
 * number), then copies the verified file to every member holding a lower number. A failed
 * fetch is retried with backoff (CORDON_REFRESH_RETRY_FIRST_S doubling up to
 * CORDON_REFRESH_RETRY_MAX_S), the next time through the next member (its server may be
 * another name of the same CA). Renewal is per instance (cordon_enroll_renew(), which
 * keeps the node ID and key), when the certificate has less than renew_before_s left, at
 * most once per CORDON_REFRESH_RENEW_GAP_S after a success, retried with the same backoff.
 *
 * Logging (common/log.h; reasons only, never key material): peer.crl_refreshed (info
 * when a CRL number rose: node of the leader, crl number, dirs written; debug otherwise),
 * peer.crl_refresh_failed (warn: server, reason, why, retry_s), peer.renewed (info: node,
 * not_after, serial), peer.renew_failed (warn: node, reason, why, retry_s).
 *
 * Stopping: cordon_refresher_free() wakes the thread (a condition variable, no sleep
 * loops) and joins it; a request in progress ends first, within the configured timeout_s
 * (the thread checks for the stop before every request).
 *
 * libcurl: the refresher calls curl_global_init() in cordon_refresher_new() and
 * curl_global_cleanup() in cordon_refresher_free() (reference-counted and thread-safe in
 * the libcurl of Debian 12).
 */
#ifndef CORDON_PEER_REFRESH_H
#define CORDON_PEER_REFRESH_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define CORDON_REFRESH_CRL_DEFAULT_S 300    /* CRL fetch interval by default */
#define CORDON_REFRESH_CRL_MAX_S 86400      /* longest interval accepted */
#define CORDON_REFRESH_TIMEOUT_DEFAULT_S 10 /* seconds per request by default */
#define CORDON_REFRESH_RETRY_FIRST_S 2      /* first retry after a failure */
#define CORDON_REFRESH_RETRY_MAX_S 300      /* retries back off up to this */
#define CORDON_REFRESH_RENEW_GAP_S 60       /* at least this between two renewals */
#define CORDON_REFRESH_WAIT_MAX_S 60        /* the wall clock is read again this often */
#define CORDON_REFRESH_INSTANCES_MAX 65536  /* instances per refresher */

typedef struct cordon_refresher cordon_refresher;

/* What changed in an instance's directory (the `what` of the drain callback). */
#define CORDON_REFRESH_CRL 1u      /* DIR/crl.pem holds a higher CRL number */
#define CORDON_REFRESH_IDENTITY 2u /* DIR/node.crt holds a renewed certificate */

struct cordon_refresher_config {
    uint32_t crl_interval_s; /* 0: no CRL refresh; else 1..CORDON_REFRESH_CRL_MAX_S */
    /* Renew when the certificate has less than this left (seconds). 0: never renew;
     * < 0: when a third of its lifetime (notBefore to notAfter) is left. */
    int64_t renew_before_s;
    long timeout_s; /* per request, 1..600 */
};

/* The defaults: CRL every 300 s, renewal at a third of the lifetime, 10 s per request. */
void cordon_refresher_config_default(struct cordon_refresher_config *c);

/* Errors: CORDON_ERR_INVAL (config out of range), CORDON_ERR_NOMEM, CORDON_ERR_IO (no
 * eventfd, or libcurl would not initialize). */
CORDON_MUST_CHECK cordon_err cordon_refresher_new(const struct cordon_refresher_config *c,
                                                  cordon_refresher **out);

/* Adds the instance enrolled in dir (copied); index is the caller's name for it, handed back
 * by the drain callback. Only before cordon_refresher_start(). Reads what
 * cordon_enroll_identity() reads (DIR/enrollment.json: the instance must have been enrolled
 * by `cordon-peer enroll`; ca.crt, overlay.json, node.crt) and DIR/crl.pem (missing or
 * unreadable: number 0). Errors: CORDON_ERR_NOT_FOUND (no DIR/enrollment.json: enrolled by
 * hand, nothing to refresh from; not logged), those of cordon_enroll_identity() and
 * cordon_cert_load() but with CORDON_ERR_IO for any other missing file (logged as
 * peer.refresh_failed with the reason), CORDON_ERR_INVAL
 * (started already, path too long), CORDON_ERR_TOO_LARGE (more than
 * CORDON_REFRESH_INSTANCES_MAX), CORDON_ERR_NOMEM. Nothing is added on error. */
CORDON_MUST_CHECK cordon_err cordon_refresher_add(cordon_refresher *r, const char *dir,
                                                  size_t index);

/* Starts the thread (with every signal blocked: signals stay the loop's). Once only.
 * Errors: CORDON_ERR_INVAL (started already), CORDON_ERR_NOMEM, CORDON_ERR_IO. */
CORDON_MUST_CHECK cordon_err cordon_refresher_start(cordon_refresher *r);

/* Readable (EPOLLIN) while results wait for cordon_refresher_drain(). Owned by r. */
int cordon_refresher_fd(const cordon_refresher *r);

/* Calls cb once for each instance whose files changed since the last drain, with what
 * changed (CORDON_REFRESH_CRL and/or CORDON_REFRESH_IDENTITY), on the calling thread and
 * without any lock held (cb may take its time). Not concurrently with itself. */
void cordon_refresher_drain(cordon_refresher *r, void (*cb)(void *ctx, size_t index, unsigned what),
                            void *ctx);

/* Writes crl (already verified by the caller) to DIR/crl.pem, atomically (mode 0644, as
 * enrollment writes it), unless that file holds the same or a higher CRL number
 * (CORDON_ERR_EXISTS: nothing written). Serialized with the refresher threads' writes of
 * crl.pem in this process; CORDON_ERR_BUSY when one is in progress (it may be waiting on a
 * server): try again later. For the loop that took a CRL from the DHT, so that a restart
 * keeps it. Also CORDON_ERR_INVAL, CORDON_ERR_CRL (no number), the errors of
 * cordon_crl_pem() and cordon_write_file(). */
typedef struct cordon_crl cordon_crl;
CORDON_MUST_CHECK cordon_err cordon_refresh_write_crl(const char *dir, const cordon_crl *crl);

/* Stops and joins the thread (within timeout_s when a request is in progress), frees
 * everything. Accepts NULL. */
void cordon_refresher_free(cordon_refresher *r);

#endif
