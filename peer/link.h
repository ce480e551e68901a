/*
 * peer/link.h — the link table: DTLS 1.2 links with mutual certificate authentication
 * against the overlay CA, demultiplexed by remote address, driven by datagrams.
 *
 * Sans-socket: the host reads datagrams from its UDP socket and feeds them in with
 * cordon_links_input(); records leave through host->send_datagram(); authenticated
 * plaintext comes up through host->deliver() together with the node ID that the peer's
 * certificate proved. Time is passed in (now_ms: any monotonic clock in milliseconds);
 * certificate checks use the host's wall clock (host->wall_time, Unix seconds).
 * One table per peer instance; any number of tables per process (no globals).
 *
 * What a table owns:
 * - one SSL_CTX (DTLS 1.2 only, AEAD ECDHE-ECDSA suites, groups X25519:P-256, peer
 *   certificate required both ways, session tickets, no server-side session cache);
 * - one "listener" SSL that answers ClientHellos from unknown addresses statelessly with
 *   a HelloVerifyRequest (HMAC cookie over the source address and a time epoch, keyed by
 *   a random per-table secret); a per-link SSL exists only once a ClientHello came back
 *   with a valid cookie, i.e. from an address that receives our datagrams;
 * - the links: at most config.max_links, of which at most config.max_half_open still
 *   handshaking; when the table is full, the least recently used established link is
 *   closed to make room; established links idle for config.idle_timeout_ms are closed
 *   (CORDON_LINK_BRIEF_IDLE_MS, when shorter, for a link not used again since it first
 *   went quiet);
 *   handshakes older than config.handshake_timeout_ms are abandoned;
 * - a per-source-IP token bucket for handshakes (checked once the cookie proved the
 *   address, so a spoofer cannot spend a victim's budget);
 * - a client session store (config.max_sessions entries, keyed by remote address) for
 *   resumption. A resumed session is checked again (CA, validity, CRL, node ID) against
 *   the current CRL and time before the link counts as up; a session whose server
 *   certificate has expired is not tried (a full handshake is).
 *
 * Verification: the peer's leaf certificate goes through cordon_cert_verify_node() with
 * the table's CA, current CRL and the host's wall time; OpenSSL's own chain check is
 * replaced by it (the SSL_CTX trusts nothing else: its store holds only the overlay CA).
 * If the sender of cordon_links_send() named the node it expects, a handshake that proves
 * another node ID fails and host->link_failed() is called. The verifier runs at the
 * handshake only, so the table checks the peer certificates of established links again:
 * all of them when the CRL is replaced (cordon_links_set_crl), and each one's notAfter on
 * the wall clock from cordon_links_tick() (an expired one is closed: links_expired).
 *
 * Callbacks: the host may call cordon_links_send() and cordon_links_close() from inside
 * any callback; never cordon_links_free(). Links are freed only when the outermost call
 * into the table returns, so callbacks never see a dangling link.
 *
 * OpenSSL's error queue of the calling thread is cleared on entry to and exit from every
 * function here that drives SSL objects (SSL_get_error() needs an empty queue).
 *
 * Timers: DTLS retransmission timing is OpenSSL's (it reads its own clock);
 * cordon_links_tick() must be called at cordon_links_next_deadline() or sooner. Idle
 * timeouts, handshake timeouts, cookie epochs and rate limits follow now_ms.
 */
#ifndef CORDON_PEER_LINK_H
#define CORDON_PEER_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/error.h"
#include "common/limits.h"
#include "crypto/crypto.h"

typedef struct cordon_links cordon_links;

/* The peer's identity as `cordon-peer enroll` stored it. Owned by whoever filled it;
 * cordon_link_identity_clear() frees the handles. */
struct cordon_link_identity {
    cordon_key *key;   /* DIR/node.key */
    cordon_cert *cert; /* DIR/node.crt */
    cordon_cert *ca;   /* DIR/ca.crt: the only trust anchor */
    cordon_crl *crl;   /* DIR/crl.pem (may be NULL: no revocation check) */
    char overlay[CORDON_OVERLAY_NAME_MAX + 1];
};

/* Loads node.key, node.crt, ca.crt and crl.pem from dir. The overlay name is passed in
 * (the caller has opened DIR/overlay.json with cordon_overlay_open() and knows it).
 * Errors: those of cordon_key_load/cordon_cert_load/cordon_crl_load, CORDON_ERR_INVAL
 * (bad overlay name, path too long), CORDON_ERR_KEY_TYPE (node.crt does not certify
 * node.key). On failure id is left cleared. */
CORDON_MUST_CHECK cordon_err cordon_link_identity_load(const char *dir, const char *overlay,
                                                       struct cordon_link_identity *id);
void cordon_link_identity_clear(struct cordon_link_identity *id);

struct cordon_link_config {
    size_t max_links;              /* 1..CORDON_LINK_MAX */
    size_t max_half_open;          /* 1..CORDON_LINK_HALF_OPEN_MAX, <= max_links */
    size_t max_sessions;           /* 0..CORDON_LINK_SESSIONS_MAX (0: no resumption) */
    uint64_t idle_timeout_ms;      /* > 0 */
    uint64_t handshake_timeout_ms; /* > 0 */
    double handshake_rate;         /* handshakes per second per source IP (> 0) */
    double handshake_burst;        /* >= 1 */
};

/* The defaults (CORDON_LINK_DEFAULT_* of common/limits.h). */
void cordon_link_config_default(struct cordon_link_config *config);

/* Host callbacks. addr/addrlen is the remote UDP address (AF_INET or AF_INET6), borrowed
 * for the call. ctx is the host's own pointer. */
struct cordon_link_host {
    void *ctx;
    /* One datagram (at most CORDON_LINK_DATAGRAM_MAX bytes) to send; loss is fine. */
    void (*send_datagram)(void *ctx, const struct sockaddr *to, socklen_t tolen,
                          const uint8_t *data, size_t len);
    /* Plaintext from an authenticated peer (at most CORDON_LINK_PLAINTEXT_MAX bytes). */
    void (*deliver)(void *ctx, const uint8_t node_id[CORDON_NODE_ID_LEN],
                    const struct sockaddr *from, socklen_t fromlen, const uint8_t *data,
                    size_t len);
    /* Optional: a handshake completed; node_id is proven. */
    void (*link_up)(void *ctx, const uint8_t node_id[CORDON_NODE_ID_LEN],
                    const struct sockaddr *addr, socklen_t addrlen);
    /* Optional: a link that we initiated (cordon_links_send) failed before it came up:
     * refused certificate, other node ID than expected, handshake timeout, cap. Its
     * queued data is dropped. expected is NULL when the sender named none. reason is
     * CORDON_ERR_CERT_* / CORDON_ERR_KEY_TYPE / CORDON_ERR_CRL for a refused certificate,
     * CORDON_ERR_CERT_NODE_ID also for a wrong node, CORDON_ERR_NETWORK for a timeout,
     * CORDON_ERR_PROTOCOL for any other handshake failure. */
    void (*link_failed)(void *ctx, const struct sockaddr *addr, socklen_t addrlen,
                        const uint8_t *expected, cordon_err reason);
    /* Required: wall-clock Unix seconds, for certificate and CRL validity. */
    int64_t (*wall_time)(void *ctx);
};

struct cordon_link_counters {
    uint64_t handshakes_full;         /* completed with certificates */
    uint64_t handshakes_resumed;      /* completed by session resumption */
    uint64_t sessions_too_large;      /* client sessions not stored: over
                                       * CORDON_LINK_SESSION_DER_MAX serialized */
    uint64_t handshakes_full_out;     /* of handshakes_full, those this node started */
    uint64_t handshakes_resumed_out;  /* of handshakes_resumed, those this node started */
    uint64_t handshakes_full_offered; /* of handshakes_full_out, those that offered a stored
                                       * session the server did not resume: once a pair is
                                       * warm, every full handshake it costs counts here */
    uint64_t handshakes_failed;       /* any handshake that did not complete (refusals too) */
    uint64_t handshakes_timeout;      /* abandoned after handshake_timeout_ms */
    uint64_t cookies_sent;            /* HelloVerifyRequests (stateless) */
    uint64_t cookies_verified;        /* ClientHellos that came back with a valid cookie */
    uint64_t refused_untrusted;       /* foreign CA, bad signature, wrong purpose */
    uint64_t refused_expired;         /* past notAfter */
    uint64_t refused_not_yet;         /* before notBefore */
    uint64_t refused_revoked;         /* listed in the CRL */
    uint64_t refused_node_id;         /* no node ID of this overlay, or several */
    uint64_t refused_wrong_node;      /* a valid node, but not the one the sender expected */
    uint64_t refused_no_cert;         /* peer sent no certificate */
    uint64_t refused_other;           /* key type, stale CRL, internal failure */
    uint64_t dropped_garbage;         /* not DTLS, truncated, not a ClientHello from a stranger */
    uint64_t dropped_oversize;        /* datagrams over CORDON_LINK_DATAGRAM_MAX */
    uint64_t dropped_half_open;       /* ClientHellos refused: half-open cap */
    uint64_t dropped_rate;            /* handshakes refused: per-source rate */
    uint64_t dropped_full;            /* handshakes refused: table full of busy links */
    uint64_t dropped_queue;           /* sends refused: pending queue of a handshaking link full */
    uint64_t links_opened;            /* links created (client or server side) */
    uint64_t links_closed;            /* links freed for any reason */
    uint64_t links_evicted;           /* established links closed to make room (LRU) */
    uint64_t links_idle;              /* established links closed for idleness */
    uint64_t links_quieted;           /* times an idle link gave its record buffers back */
    uint64_t links_revoked;           /* established links closed by cordon_links_set_crl() */
    uint64_t links_expired;           /* established links closed when the peer cert expired */
    uint64_t records_in;              /* plaintext records delivered */
    uint64_t records_out;             /* plaintext records encrypted and sent */
};

/* Creates a table. identity and host are borrowed: identity's handles must outlive the
 * table (the CRL until replaced with cordon_links_set_crl()); host is copied. seed_ms is
 * the current now_ms. Errors: CORDON_ERR_INVAL (config out of range, missing callback,
 * key or certificate not usable), CORDON_ERR_NOMEM, CORDON_ERR_CRYPTO. */
CORDON_MUST_CHECK cordon_err cordon_links_new(const struct cordon_link_config *config,
                                              const struct cordon_link_identity *identity,
                                              const struct cordon_link_host *host,
                                              cordon_links **out);
/* Frees every link without sending anything. Accepts NULL. Not from a callback. */
void cordon_links_free(cordon_links *links);

/* Feeds one datagram received from `from`. Never fails: whatever is wrong with the
 * datagram is counted and the datagram dropped. */
void cordon_links_input(cordon_links *links, uint64_t now_ms, const struct sockaddr *from,
                        socklen_t fromlen, const uint8_t *data, size_t len);

/* Sends len bytes (1..CORDON_LINK_PLAINTEXT_MAX) to `to` as one record. Without a
 * link, starts a handshake (resuming a stored session when there is one) and queues the
 * bytes (at most CORDON_LINK_PENDING_MAX bytes per link) until it completes. expected:
 * the node ID the sender believes is at `to`, or NULL for any valid node.
 * Returns CORDON_OK when sent or queued. Errors: CORDON_ERR_INVAL, CORDON_ERR_TOO_LARGE
 * (len), CORDON_ERR_CERT_NODE_ID (the link at `to` proved or expects another node ID),
 * CORDON_ERR_BUSY (queue full, half-open or link cap reached), CORDON_ERR_NOMEM,
 * CORDON_ERR_CRYPTO. */
CORDON_MUST_CHECK cordon_err cordon_links_send(cordon_links *links, uint64_t now_ms,
                                               const struct sockaddr *to, socklen_t tolen,
                                               const uint8_t *expected, const uint8_t *data,
                                               size_t len);

/* Closes the link to `to` (sending close_notify when established). The client session
 * stays stored, so the next send resumes. CORDON_ERR_NOT_FOUND when there is none. */
CORDON_MUST_CHECK cordon_err cordon_links_close(cordon_links *links, uint64_t now_ms,
                                                const struct sockaddr *to, socklen_t tolen);

/* Retransmissions, handshake and idle timeouts, and the expiry of the peer certificates of
 * established links (closed with close_notify, their stored session forgotten). */
void cordon_links_tick(cordon_links *links, uint64_t now_ms);

/* The next now_ms at which cordon_links_tick() has work; UINT64_MAX when none. */
uint64_t cordon_links_next_deadline(cordon_links *links, uint64_t now_ms);

/* Replaces the CRL (borrowed like the identity's) and closes every established link whose
 * peer certificate no longer verifies with it (counted in links_revoked; in links_expired
 * when the reason is that the certificate expired). */
void cordon_links_set_crl(cordon_links *links, uint64_t now_ms, const cordon_crl *crl);

/* Replaces our own certificate (a renewed one, for the same key): every handshake from now
 * on presents it; established links keep going with the one they were made with. Stored
 * client sessions are dropped, so that the next handshake with each server is a full one
 * that shows it the new certificate. cert is copied (the caller may free it afterwards);
 * the caller checks that it is a valid certificate of our node ID. Errors: CORDON_ERR_INVAL,
 * CORDON_ERR_KEY_TYPE (it does not certify the table's key; nothing changed),
 * CORDON_ERR_CRYPTO, CORDON_ERR_NOMEM. */
CORDON_MUST_CHECK cordon_err cordon_links_set_cert(cordon_links *links, uint64_t now_ms,
                                                   const cordon_cert *cert);

/* Links in the table (established and half-open) and those still handshaking. */
size_t cordon_links_count(const cordon_links *links);
size_t cordon_links_half_open(const cordon_links *links);
/* Stored client sessions. */
size_t cordon_links_sessions(const cordon_links *links);

/* true and the node ID when an established link to addr exists. */
bool cordon_links_peer(const cordon_links *links, const struct sockaddr *addr, socklen_t addrlen,
                       uint8_t node_id[CORDON_NODE_ID_LEN]);

/* What the certificate of an established link's peer proved, as of its handshake. */
struct cordon_link_peer_cert {
    uint8_t node_id[CORDON_NODE_ID_LEN];
    uint8_t serial[CORDON_SERIAL_LEN];
    int64_t not_after; /* wall-clock Unix seconds */
};

/* true and out filled when an established link to addr exists (from link_up on). */
bool cordon_links_peer_cert(const cordon_links *links, const struct sockaddr *addr,
                            socklen_t addrlen, struct cordon_link_peer_cert *out);

const struct cordon_link_counters *cordon_links_counters(const cordon_links *links);

#endif
