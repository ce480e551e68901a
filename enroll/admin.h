/*
 * enroll/admin.h — the operator's commands: init, token, revoke, list. Each prints what
 * an operator needs on stdout (a token only once), explains refusals on stderr, and
 * returns a cordon_err.
 */
#ifndef CORDON_ENROLL_ADMIN_H
#define CORDON_ENROLL_ADMIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "common/limits.h"

struct cordon_init_options {
    const char *dir;
    const char *overlay;
    const char *server_names[CORDON_SERVER_NAMES_MAX];
    size_t n_server_names;
    uint32_t ca_validity_days; /* 3650 */
};

struct cordon_token_options {
    const char *dir;
    uint32_t max_nodes; /* 1 */
    uint64_t ttl;       /* seconds, 86400 */
    const char *label;  /* "" */
};

CORDON_MUST_CHECK cordon_err cordon_admin_init(const struct cordon_init_options *o, FILE *out);
CORDON_MUST_CHECK cordon_err cordon_admin_token(const struct cordon_token_options *o, FILE *out);
CORDON_MUST_CHECK cordon_err cordon_admin_revoke(const char *dir, const char *node_hex,
                                                 const char *reason, FILE *out);
CORDON_MUST_CHECK cordon_err cordon_admin_list(const char *dir, FILE *out);

#endif
