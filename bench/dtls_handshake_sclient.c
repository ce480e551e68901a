/*
 * bench/dtls_handshake_sclient.c — the "s_client" client of cordon-bench-dtls: one
 * `openssl s_client -dtls1_2` process per handshake, the way a shell script would measure
 * a DTLS server. Process start-up, configuration and loading of the key, certificate, CA
 * and CRL are part of every handshake; that is the point of this client, and why its
 * figure is not the fair one.
 *
 * s_client runs with the same suites, groups and MTU as the other clients, -brief, and its
 * stdin on /dev/null: once the handshake completed it prints its summary, reads EOF on
 * stdin, prints "DONE" and sends close_notify. A handshake counts when "DONE" comes with
 * "Verification: OK" before it. s_client then lingers about 0.5 s (it waits for the
 * socket to drain before it exits); that wait is not part of the handshake, so the next
 * process starts at "DONE" and the lingering ones are reaped in the background (at most
 * LINGER_MAX at a time). A run's deadline kills those left.
 */
#include "bench/dtls_handshake.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "common/limits.h"

#define OUTPUT_MAX 8192
#define LINGER_MAX 256
#define REAP_WAIT_MS 3000 /* at the end, for the lingering processes to exit */

/* As peer/link.c's SSL_CTX. */
#define REF_CIPHERS                                                                                \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305"
#define REF_GROUPS "X25519:P-256"

extern char **environ;

struct lingering {
    pid_t pid;
    int fd;
};

struct sc_client {
    const struct hs_options *o;
    char key[CORDON_PATH_MAX], crt[CORDON_PATH_MAX], ca[CORDON_PATH_MAX], crl[CORDON_PATH_MAX];
    char mtu[16];
    char *argv[32];
    struct lingering linger[LINGER_MAX];
    size_t n_linger;
    char negotiated[200];
    char error[200];
};

struct sc_slot {
    struct sc_client *c;
    struct hs_slot *slot;
    pid_t pid;
    int fd;
    char out[OUTPUT_MAX + 1];
    size_t len;
};

static cordon_err sc_open(const struct hs_options *o, void **out)
{
    struct sc_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return CORDON_ERR_NOMEM;
    c->o = o;
    if (cordon_path_join(c->key, o->dir, "node.key") != CORDON_OK ||
        cordon_path_join(c->crt, o->dir, "node.crt") != CORDON_OK ||
        cordon_path_join(c->ca, o->dir, "ca.crt") != CORDON_OK ||
        cordon_path_join(c->crl, o->dir, "crl.pem") != CORDON_OK) {
        free(c);
        return CORDON_ERR_INVAL;
    }
    /* s_client's -mtu is the link MTU: the DTLS payload plus the IPv4 and UDP headers. */
    snprintf(c->mtu, sizeof(c->mtu), "%d", HS_MTU + 28);
    size_t n = 0;
    char **a = c->argv;
    a[n++] = (char *)o->openssl;
    a[n++] = "s_client";
    a[n++] = "-dtls1_2";
    a[n++] = "-connect";
    a[n++] = (char *)o->server_text;
    a[n++] = "-cert";
    a[n++] = c->crt;
    a[n++] = "-key";
    a[n++] = c->key;
    a[n++] = "-CAfile";
    a[n++] = c->ca;
    a[n++] = "-CRL";
    a[n++] = c->crl;
    a[n++] = "-crl_check";
    a[n++] = "-verify_return_error";
    a[n++] = "-cipher";
    a[n++] = REF_CIPHERS;
    a[n++] = "-groups";
    a[n++] = REF_GROUPS;
    a[n++] = "-mtu";
    a[n++] = c->mtu;
    a[n++] = "-brief";
    a[n] = NULL;
    *out = c;
    return CORDON_OK;
}

/* Reaps the lingering processes that exited; with force, kills and waits for all. */
static void reap(struct sc_client *c, bool force)
{
    for (size_t i = 0; i < c->n_linger;) {
        struct lingering *l = &c->linger[i];
        if (force)
            kill(l->pid, SIGKILL);
        int status;
        pid_t r = waitpid(l->pid, &status, force ? 0 : WNOHANG);
        if (r == 0) {
            i++;
            continue;
        }
        close(l->fd);
        *l = c->linger[--c->n_linger];
    }
}

static void sc_close(void *client)
{
    struct sc_client *c = client;
    if (c == NULL)
        return;
    /* Let the last ones send their close_notify and exit by themselves (a server that
     * serves one client at a time would wait for it forever); then kill what is left. */
    for (int i = 0; i < REAP_WAIT_MS / 10 && c->n_linger > 0; i++) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000000L};
        nanosleep(&ts, NULL);
        reap(c, false);
    }
    reap(c, true);
    free(c);
}

static void sc_housekeep(void *client)
{
    reap(client, false);
}

static cordon_err sc_slot_new(void *client, struct hs_slot *s, void **out)
{
    struct sc_slot *ss = calloc(1, sizeof(*ss));
    if (ss == NULL)
        return CORDON_ERR_NOMEM;
    ss->c = client;
    ss->slot = s;
    ss->pid = -1;
    ss->fd = -1;
    *out = ss;
    return CORDON_OK;
}

/* The process of the slot goes to the lingering list (or is killed when that is full). */
static void sc_let_go(struct sc_slot *ss, bool kill_it)
{
    struct sc_client *c = ss->c;
    if (ss->pid <= 0)
        return;
    hs_slot_release(ss->slot);
    if (kill_it || c->n_linger == LINGER_MAX) {
        kill(ss->pid, SIGKILL);
        (void)waitpid(ss->pid, NULL, 0);
        close(ss->fd);
    } else {
        c->linger[c->n_linger].pid = ss->pid;
        c->linger[c->n_linger].fd = ss->fd; /* kept open: s_client may still write */
        c->n_linger++;
    }
    ss->pid = -1;
    ss->fd = -1;
}

static void sc_slot_free(void *state)
{
    struct sc_slot *ss = state;
    if (ss == NULL)
        return;
    sc_let_go(ss, true);
    free(ss);
}

static cordon_err sc_start(void *state, uint64_t now_ms)
{
    struct sc_slot *ss = state;
    struct sc_client *c = ss->c;
    posix_spawn_file_actions_t fa;
    int p[2];
    (void)now_ms;

    if (c->n_linger == LINGER_MAX)
        return CORDON_ERR_BUSY;
    if (pipe2(p, O_CLOEXEC) != 0)
        return CORDON_ERR_IO;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        close(p[0]);
        close(p[1]);
        return CORDON_ERR_NOMEM;
    }
    int rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    pid_t pid = -1;
    if (rc == 0)
        rc = posix_spawnp(&pid, c->argv[0], &fa, NULL, c->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        return CORDON_ERR_IO;
    }
    (void)fcntl(p[0], F_SETFL, O_NONBLOCK);
    ss->pid = pid;
    ss->fd = p[0];
    ss->len = 0;
    if (!hs_slot_watch(ss->slot, p[0])) {
        sc_let_go(ss, true);
        return CORDON_ERR_IO;
    }
    return CORDON_OK;
}

/* The value after "label" on its line of s_client's summary, or "?". */
static void summary_field(const char *out, const char *label, char *val, size_t len)
{
    const char *p = strstr(out, label);
    size_t n = 0;
    if (p != NULL) {
        p += strlen(label);
        n = strcspn(p, "\r\n");
    }
    if (n == 0 || n >= len) {
        snprintf(val, len, "?");
        return;
    }
    /* One word per value: "X25519, 253 bits" becomes "X25519_253_bits". */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] != ',')
            val[k++] = p[i] == ' ' ? '_' : p[i];
    val[k] = '\0';
}

static void sc_readable(void *state, uint64_t now_ms)
{
    struct sc_slot *ss = state;
    struct sc_client *c = ss->c;
    (void)now_ms;
    for (int i = 0; i < 16; i++) {
        char discard[512];
        char *to = ss->len < OUTPUT_MAX ? ss->out + ss->len : discard;
        size_t room = ss->len < OUTPUT_MAX ? OUTPUT_MAX - ss->len : sizeof(discard);
        ssize_t n = read(ss->fd, to, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break; /* EAGAIN: more later */
        if (n == 0) {
            snprintf(c->error, sizeof(c->error), "s_client ended without a handshake: %.120s",
                     ss->out);
            hs_slot_done(ss->slot, false, false, c->error);
            return;
        }
        if (to == ss->out + ss->len)
            ss->len += (size_t)n;
        ss->out[ss->len] = '\0';
    }
    if (strstr(ss->out, "\nDONE") == NULL && strncmp(ss->out, "DONE", 4) != 0)
        return;
    if (strstr(ss->out, "Verification: OK") == NULL) {
        snprintf(c->error, sizeof(c->error), "s_client: no verified handshake: %.120s", ss->out);
        hs_slot_done(ss->slot, false, false, c->error);
        return;
    }
    if (c->negotiated[0] == '\0') {
        char version[32], cipher[64], key[64];
        summary_field(ss->out, "Protocol version: ", version, sizeof(version));
        summary_field(ss->out, "Ciphersuite: ", cipher, sizeof(cipher));
        summary_field(ss->out, "Server Temp Key: ", key, sizeof(key));
        snprintf(c->negotiated, sizeof(c->negotiated), "version=%s cipher=%s temp_key=%s", version,
                 cipher, key);
    }
    hs_slot_done(ss->slot, true, false, NULL);
}

static uint64_t sc_deadline(void *state, uint64_t now_ms)
{
    (void)state;
    (void)now_ms;
    return UINT64_MAX; /* s_client times itself; the driver's timeout bounds it */
}

static void sc_tick(void *state, uint64_t now_ms)
{
    (void)state;
    (void)now_ms;
}

static void sc_finish(void *state, uint64_t now_ms, bool ok)
{
    (void)now_ms;
    sc_let_go(state, !ok);
}

static void sc_describe(void *client, char *out, size_t len)
{
    struct sc_client *c = client;
    snprintf(out, len, "%s", c->negotiated);
}

const struct hs_client hs_client_sclient = {
    .name = "s_client",
    .open = sc_open,
    .close = sc_close,
    .slot_new = sc_slot_new,
    .slot_free = sc_slot_free,
    .start = sc_start,
    .readable = sc_readable,
    .deadline = sc_deadline,
    .tick = sc_tick,
    .finish = sc_finish,
    .housekeep = sc_housekeep,
    .describe = sc_describe,
};
