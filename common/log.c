/* common/log.c — see log.h. */
#include "common/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static atomic_int threshold = CORDON_LOG_INFO;

void cordon_log_set_level(enum cordon_log_level level)
{
    atomic_store(&threshold, (int)level);
}

void cordon_log(enum cordon_log_level level, const char *event, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if ((int)level < atomic_load(&threshold))
        return;
    char ts[32];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);

    char line[1024];
    int n = snprintf(line, sizeof(line), "ts=%s level=%s event=%s", ts, names[level & 3], event);
    if (n < 0)
        return;
    size_t used = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    if (fmt != NULL && used + 1 < sizeof(line)) {
        va_list ap;
        va_start(ap, fmt);
        n = vsnprintf(line + used + 1, sizeof(line) - used - 1, fmt, ap);
        va_end(ap);
        if (n > 0) {
            line[used] = ' ';
            used += 1 + ((size_t)n < sizeof(line) - used - 1 ? (size_t)n : sizeof(line) - used - 2);
        }
    }
    line[used] = '\0';
    /* One fputs per line keeps lines whole when threads log at once. */
    flockfile(stderr);
    fputs(line, stderr);
    fputc('\n', stderr);
    funlockfile(stderr);
}

void cordon_log_event(enum cordon_log_level level, const char *event)
{
    cordon_log(level, event, "%s", "");
}

const char *cordon_log_quote(const char *s, char *out, size_t outlen)
{
    if (outlen < 3) {
        if (outlen)
            out[0] = '\0';
        return out;
    }
    int plain = s[0] != '\0';
    for (const char *p = s; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p >= 0x7f)
            plain = 0;
    size_t o = 0;
    if (plain) {
        for (const char *p = s; *p && o + 1 < outlen; p++)
            out[o++] = *p;
        out[o] = '\0';
        return out;
    }
    out[o++] = '"';
    for (const char *p = s; *p && o + 3 < outlen; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < ' ' || c >= 0x7f) {
            out[o++] = '?';
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}
