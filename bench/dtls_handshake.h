/*
 * bench/dtls_handshake.h — the parts of `cordon-bench-dtls`: a driver (dtls_handshake.c)
 * that starts, paces, times and counts DTLS 1.2 client handshakes on one epoll loop, and
 * the clients it can drive, one handshake per slot at a time:
 *
 * - "link"     Cordon's link table (peer/link.h), one table per slot, over real UDP
 *              sockets (dtls_handshake_link.c);
 * - "openssl"  plain OpenSSL DTLS: SSL_new() per handshake on a connected datagram BIO,
 *              as a textbook client does it (dtls_handshake_openssl.c);
 * - "s_client" one `openssl s_client -dtls1_2` process per handshake
 *              (dtls_handshake_sclient.c).
 *
 * Each handshake of the link and openssl clients runs on a fresh UDP socket (a new source
 * port) bound to one of the driver's source addresses, which the driver picks and paces.
 */
#ifndef CORDON_BENCH_DTLS_HANDSHAKE_H
#define CORDON_BENCH_DTLS_HANDSHAKE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* The DTLS payload MTU of the link table: CORDON_LINK_DATAGRAM_MAX less the AEAD slack
 * that peer/link.c (LINK_AEAD_SLACK) leaves; the reference clients use the same, so that
 * both fragment their flights alike. */
#define HS_MTU 1208

/* What every client needs to know. Borrowed for the life of the client. */
struct hs_options {
    const char *dir;     /* the client's identity: node.key, node.crt, ca.crt, crl.pem */
    const char *overlay; /* the overlay name (link client) */
    struct sockaddr_in server;
    const char *server_text; /* "127.0.0.1:PORT" */
    bool resume;             /* resume the slot's last session (the first one is full) */
    const char *openssl;     /* the openssl program (s_client client) */
};

/* One slot: at most one handshake at a time. Owned by the driver. */
struct hs_slot;

/* Driver services for the clients. */

/* A new non-blocking UDP socket bound to the slot's source address (port 0), watched for
 * input; the previous one of the slot, if any, is closed. -1 on failure. */
int hs_slot_udp(struct hs_slot *s);
/* Watches fd (owned by the client) for input on behalf of the slot. */
bool hs_slot_watch(struct hs_slot *s, int fd);
/* Stops watching: closes the slot's UDP socket, forgets a watched descriptor. */
void hs_slot_release(struct hs_slot *s);
/* The handshake of the slot ended: ok (completed), resumed (by session resumption), why
 * (a failure's reason, a static string or one that lives as long as the client). Called
 * from inside the client's callbacks; the driver calls finish() afterwards. */
void hs_slot_done(struct hs_slot *s, bool ok, bool resumed, const char *why);

/* A client. Every function but open() receives what open() or slot_new() returned. */
struct hs_client {
    const char *name;
    /* Loads the identity etc. Errors are printed on stderr. */
    cordon_err (*open)(const struct hs_options *o, void **client);
    void (*close)(void *client);
    /* Per slot state, made once before the run. */
    cordon_err (*slot_new)(void *client, struct hs_slot *s, void **state);
    void (*slot_free)(void *state);
    /* Starts a handshake. CORDON_ERR_BUSY: not now, try again later (nothing counted);
     * other errors: a failed attempt. */
    cordon_err (*start)(void *state, uint64_t now_ms);
    /* The watched descriptor is readable. */
    void (*readable)(void *state, uint64_t now_ms);
    /* The next now_ms at which tick() has work (UINT64_MAX: none). */
    uint64_t (*deadline)(void *state, uint64_t now_ms);
    void (*tick)(void *state, uint64_t now_ms);
    /* After hs_slot_done() or the driver's own timeout (ok false): tear the handshake
     * down (close_notify when it completed) and release the slot. */
    void (*finish)(void *state, uint64_t now_ms, bool ok);
    /* Called on every turn of the loop (may be NULL). */
    void (*housekeep)(void *client);
    /* What the client's first completed handshake negotiated, "key=value ..." ("" if
     * unknown). */
    void (*describe)(void *client, char *out, size_t len);
};

extern const struct hs_client hs_client_link;
extern const struct hs_client hs_client_openssl;
extern const struct hs_client hs_client_sclient;

#endif
