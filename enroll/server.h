/*
 * enroll/server.h — `cordon-enroll serve`: the HTTPS front (libmicrohttpd with TLS), the
 * signer process, the issuer, the CRL refresher and the slow-client watchdog.
 */
#ifndef CORDON_ENROLL_SERVER_H
#define CORDON_ENROLL_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/limits.h"

struct cordon_serve_config {
    const char *dir;
    const char *listen; /* "ADDR:PORT", "[V6]:PORT" */
    const char *bootstrap[CORDON_BOOTSTRAP_MAX];
    size_t n_bootstrap;
    double source_rate, source_burst; /* enrollments per second per source address */
    double token_rate, token_burst;   /* enrollments per second per token */
    double renew_rate, renew_burst;   /* renewals per second per node */
    unsigned request_timeout;         /* seconds a request may take, headers to answer */
    const char *ready_file;           /* written with the bound port once serving */
};

void cordon_serve_config_default(struct cordon_serve_config *cfg);

/* Runs until SIGINT or SIGTERM. Returns CORDON_OK after a clean stop. */
CORDON_MUST_CHECK cordon_err cordon_serve(const struct cordon_serve_config *cfg);

/* Parses "A.B.C.D:PORT" or "[V6]:PORT" (port 0 allowed: any free port). */
struct sockaddr_storage;
CORDON_MUST_CHECK cordon_err cordon_parse_listen(const char *text, struct sockaddr_storage *ss,
                                                 unsigned *len);

#endif
