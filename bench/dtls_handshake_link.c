/*
 * bench/dtls_handshake_link.c — the "link" client of cordon-bench-dtls: Cordon's own link
 * table (peer/link.h), exactly as cordon-peer drives it, one table per slot.
 *
 * A handshake: a fresh UDP socket, cordon_links_send() of a one-byte record (which opens
 * the link; the record is flushed once it is up, and a peer's reassembler drops it, so the
 * server's overlay core never answers), datagrams fed in with cordon_links_input(), and
 * link_up as the end. Then cordon_links_close() (close_notify) and the socket is closed.
 * Full handshakes: the table stores no sessions (max_sessions 0). Resumed: it stores one,
 * keyed by the server address, so each handshake after the first resumes the last
 * session. Whether a completed one was resumed comes from the table's own counters.
 */
#include "bench/dtls_handshake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/limits.h"
#include "peer/link.h"

#define DATAGRAMS_PER_READ 64

struct link_client {
    const struct hs_options *o;
    struct cordon_link_identity id;
};

struct link_slot {
    struct link_client *c;
    struct hs_slot *slot;
    cordon_links *links;
    int fd;
    uint64_t resumed0; /* the table's handshakes_resumed when this handshake started */
};

static void on_send(void *ctx, const struct sockaddr *to, socklen_t tolen, const uint8_t *data,
                    size_t len)
{
    struct link_slot *ls = ctx;
    if (ls->fd >= 0)
        (void)sendto(ls->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, to, tolen);
}

static void on_deliver(void *ctx, const uint8_t node_id[CORDON_NODE_ID_LEN],
                       const struct sockaddr *from, socklen_t fromlen, const uint8_t *data,
                       size_t len)
{
    /* Servers send nothing on these links; whatever comes is not counted. */
    (void)ctx;
    (void)node_id;
    (void)from;
    (void)fromlen;
    (void)data;
    (void)len;
}

static void on_link_up(void *ctx, const uint8_t node_id[CORDON_NODE_ID_LEN],
                       const struct sockaddr *addr, socklen_t addrlen)
{
    struct link_slot *ls = ctx;
    (void)node_id;
    (void)addr;
    (void)addrlen;
    /* link_established() counts the handshake before it calls link_up. */
    const struct cordon_link_counters *lc = cordon_links_counters(ls->links);
    hs_slot_done(ls->slot, true, lc->handshakes_resumed > ls->resumed0, NULL);
}

static void on_link_failed(void *ctx, const struct sockaddr *addr, socklen_t addrlen,
                           const uint8_t *expected, cordon_err reason)
{
    struct link_slot *ls = ctx;
    (void)addr;
    (void)addrlen;
    (void)expected;
    hs_slot_done(ls->slot, false, false, cordon_errname(reason));
}

static int64_t on_wall_time(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

static cordon_err link_open(const struct hs_options *o, void **out)
{
    struct link_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return CORDON_ERR_NOMEM;
    c->o = o;
    cordon_err err = cordon_link_identity_load(o->dir, o->overlay, &c->id);
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-bench-dtls: cannot load the identity in %s: %s\n", o->dir,
                cordon_strerror(err));
        free(c);
        return err;
    }
    *out = c;
    return CORDON_OK;
}

static void link_close(void *client)
{
    struct link_client *c = client;
    if (c == NULL)
        return;
    cordon_link_identity_clear(&c->id);
    free(c);
}

static cordon_err link_slot_new(void *client, struct hs_slot *s, void **out)
{
    struct link_client *c = client;
    struct link_slot *ls = calloc(1, sizeof(*ls));
    if (ls == NULL)
        return CORDON_ERR_NOMEM;
    ls->c = c;
    ls->slot = s;
    ls->fd = -1;
    struct cordon_link_config cfg;
    cordon_link_config_default(&cfg);
    cfg.max_links = 4;
    cfg.max_half_open = 4;
    cfg.max_sessions = c->o->resume ? 1 : 0;
    /* The driver times handshakes out itself; the table's own limit stays out of its way. */
    cfg.handshake_timeout_ms = 60000;
    struct cordon_link_host host = {.ctx = ls,
                                    .send_datagram = on_send,
                                    .deliver = on_deliver,
                                    .link_up = on_link_up,
                                    .link_failed = on_link_failed,
                                    .wall_time = on_wall_time};
    cordon_err err = cordon_links_new(&cfg, &c->id, &host, &ls->links);
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-bench-dtls: cordon_links_new: %s\n", cordon_strerror(err));
        free(ls);
        return err;
    }
    *out = ls;
    return CORDON_OK;
}

static void link_slot_free(void *state)
{
    struct link_slot *ls = state;
    if (ls == NULL)
        return;
    cordon_links_free(ls->links);
    free(ls);
}

static cordon_err link_start(void *state, uint64_t now_ms)
{
    struct link_slot *ls = state;
    const struct hs_options *o = ls->c->o;
    static const uint8_t one[1] = {0};

    ls->resumed0 = cordon_links_counters(ls->links)->handshakes_resumed;
    ls->fd = hs_slot_udp(ls->slot);
    if (ls->fd < 0)
        return CORDON_ERR_NETWORK;
    return cordon_links_send(ls->links, now_ms, (const struct sockaddr *)&o->server,
                             sizeof(o->server), NULL, one, sizeof(one));
}

static void link_readable(void *state, uint64_t now_ms)
{
    struct link_slot *ls = state;
    uint8_t buf[CORDON_LINK_DATAGRAM_MAX + 1];
    for (int i = 0; i < DATAGRAMS_PER_READ && ls->fd >= 0; i++) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof(from);
        ssize_t n =
            recvfrom(ls->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
        if (n < 0) {
            if (errno == EINTR || errno == ECONNREFUSED)
                continue;
            return;
        }
        cordon_links_input(ls->links, now_ms, (const struct sockaddr *)&from, fromlen, buf,
                           (size_t)n);
    }
}

static uint64_t link_deadline(void *state, uint64_t now_ms)
{
    struct link_slot *ls = state;
    return cordon_links_next_deadline(ls->links, now_ms);
}

static void link_tick(void *state, uint64_t now_ms)
{
    struct link_slot *ls = state;
    cordon_links_tick(ls->links, now_ms);
}

static void link_finish(void *state, uint64_t now_ms, bool ok)
{
    struct link_slot *ls = state;
    const struct hs_options *o = ls->c->o;
    (void)ok;
    /* close_notify when it is up (the session stays stored); a half-open link is dropped. */
    cordon_err err = cordon_links_close(ls->links, now_ms, (const struct sockaddr *)&o->server,
                                        sizeof(o->server));
    (void)err; /* CORDON_ERR_NOT_FOUND: the table had dropped it already */
    hs_slot_release(ls->slot);
    ls->fd = -1;
}

static void link_describe(void *client, char *out, size_t len)
{
    (void)client;
    /* The link table does not expose its SSL objects: the openssl client, against the same
     * server, reports what it negotiates (link.c's server prefers the same suite). */
    snprintf(out, len, "%s", "");
}

const struct hs_client hs_client_link = {
    .name = "link",
    .open = link_open,
    .close = link_close,
    .slot_new = link_slot_new,
    .slot_free = link_slot_free,
    .start = link_start,
    .readable = link_readable,
    .deadline = link_deadline,
    .tick = link_tick,
    .finish = link_finish,
    .housekeep = NULL,
    .describe = link_describe,
};
