/*
 * common/log.h — one line per event, in logfmt, on stderr:
 *   ts=2026-11-25T10:00:00Z level=info event=enroll.issued node=ab12... serial=...
 *
 * Callers pass the key=value pairs after the event name. Values that may hold spaces or
 * quotes must go through cordon_log_quote(). Never pass keys, tokens or other secrets.
 * The level threshold is process-wide state: it belongs to the process's stderr, not
 * to any one library object.
 */
#ifndef CORDON_COMMON_LOG_H
#define CORDON_COMMON_LOG_H

#include <stddef.h>

enum cordon_log_level {
    CORDON_LOG_DEBUG = 0,
    CORDON_LOG_INFO = 1,
    CORDON_LOG_WARN = 2,
    CORDON_LOG_ERROR = 3,
};

void cordon_log_set_level(enum cordon_log_level level);

void cordon_log(enum cordon_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An event with no key=value pairs. */
void cordon_log_event(enum cordon_log_level level, const char *event);

/* Writes s as a logfmt value into out (quoted and escaped when needed, cut to fit).
 * Returns out. */
const char *cordon_log_quote(const char *s, char *out, size_t outlen);

#endif
