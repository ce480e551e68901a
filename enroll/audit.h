/*
 * enroll/audit.h — the audit log: one JSON object per line, appended to DIR/audit.log
 * (mode 0600) by the server and the admin commands alike. Keys: ts (RFC 3339 UTC), event
 * (init, token, enroll, renew, revoke), outcome (created, issued, revoked, or for a refused
 * enrollment the HTTP status as a word: bad_request, unauthorized, forbidden, too_large,
 * unsupported_media_type, error), token (the token's label, never the token), node, serial
 * (hex), old_serial (a renewal's presented certificate, hex), source (client address),
 * detail. Absent values are left out.
 */
#ifndef CORDON_ENROLL_AUDIT_H
#define CORDON_ENROLL_AUDIT_H

#include <stdint.h>

#include "common/error.h"
#include "common/limits.h"

typedef struct cordon_audit cordon_audit;

struct cordon_audit_event {
    const char *event;
    const char *outcome;
    const char *token_label;   /* may be NULL */
    const uint8_t *node_id;    /* CORDON_NODE_ID_LEN bytes, may be NULL */
    const uint8_t *serial;     /* CORDON_SERIAL_LEN bytes, may be NULL */
    const uint8_t *old_serial; /* CORDON_SERIAL_LEN bytes, may be NULL (renewals) */
    const char *source;        /* may be NULL */
    const char *detail;        /* may be NULL */
};

CORDON_MUST_CHECK cordon_err cordon_audit_open(const char *path, cordon_audit **out);
void cordon_audit_close(cordon_audit *a); /* accepts NULL */
/* Appends one line with a single write(2) (O_APPEND keeps concurrent writers' lines whole). */
CORDON_MUST_CHECK cordon_err cordon_audit_write(cordon_audit *a, int64_t now,
                                                const struct cordon_audit_event *ev);
/* Makes every line written so far durable (fdatasync). */
CORDON_MUST_CHECK cordon_err cordon_audit_sync(cordon_audit *a);

#endif
