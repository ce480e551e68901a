/* enroll/audit.c — see audit.h. */
#include "enroll/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/hex.h"

struct cordon_audit {
    int fd;
};

cordon_err cordon_audit_open(const char *path, cordon_audit **out)
{
    cordon_audit *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return CORDON_ERR_NOMEM;
    a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (a->fd < 0) {
        free(a);
        return CORDON_ERR_IO;
    }
    *out = a;
    return CORDON_OK;
}

void cordon_audit_close(cordon_audit *a)
{
    if (a == NULL)
        return;
    close(a->fd);
    free(a);
}

static int set_str(json_t *o, const char *key, const char *value)
{
    if (value == NULL)
        return 0;
    return json_object_set_new(o, key, json_string(value));
}

static int set_hex(json_t *o, const char *key, const uint8_t *value, size_t n)
{
    char hex[2 * CORDON_NODE_ID_LEN + 1];
    if (value == NULL)
        return 0;
    cordon_hex_encode(value, n, hex);
    return json_object_set_new(o, key, json_string(hex));
}

cordon_err cordon_audit_write(cordon_audit *a, int64_t now, const struct cordon_audit_event *ev)
{
    char ts[32];
    struct tm tm;
    time_t t = (time_t)now;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    cordon_err err = CORDON_ERR_NOMEM;
    char *line = NULL;
    json_t *o = json_object();
    if (o == NULL)
        return CORDON_ERR_NOMEM;
    /* json_string() refuses invalid UTF-8 and yields NULL, which set_new reports. */
    if (set_str(o, "ts", ts) || set_str(o, "event", ev->event) ||
        set_str(o, "outcome", ev->outcome) || set_str(o, "token", ev->token_label) ||
        set_hex(o, "node", ev->node_id, CORDON_NODE_ID_LEN) ||
        set_hex(o, "serial", ev->serial, CORDON_SERIAL_LEN) ||
        set_hex(o, "old_serial", ev->old_serial, CORDON_SERIAL_LEN) ||
        set_str(o, "source", ev->source) || set_str(o, "detail", ev->detail))
        goto out;
    line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (line == NULL)
        goto out;
    size_t len = strlen(line);
    line[len] = '\n'; /* replaces the NUL: one write carries the whole line */
    ssize_t put;
    do
        put = write(a->fd, line, len + 1);
    while (put < 0 && errno == EINTR);
    err = put == (ssize_t)(len + 1) ? CORDON_OK : CORDON_ERR_IO;
out:
    free(line);
    json_decref(o);
    return err;
}

cordon_err cordon_audit_sync(cordon_audit *a)
{
    return fdatasync(a->fd) == 0 ? CORDON_OK : CORDON_ERR_IO;
}
