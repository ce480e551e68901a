/*
 * peer/enroll_client.h — `cordon-peer enroll`: obtain this node's identity from the
 * enrollment server.
 *
 * The server is authenticated by the CA the operator gave: a pinned SHA-256 fingerprint
 * of the CA certificate (checked against GET /v1/ca, fetched once without TLS
 * verification and trusted only if it matches the pin) or a CA file. Every other request
 * verifies the server's certificate chain and name against that CA.
 *
 * The private key is generated here and never leaves DIR/node.key (0600). What the node
 * receives is verified before it is stored: the certificate chain against the CA (with
 * the CRL), the node ID in it, that it certifies our key; the overlay document's
 * signature; the CRL's signature.
 *
 * Files written in DIR: node.key, ca.crt, overlay.json (the signed envelope), crl.pem,
 * enrollment.json (server URL and node ID), node.crt (written last: its presence means
 * the node is enrolled).
 *
 * After enrollment, the same directory is enough to talk to the server again: the URL comes
 * from DIR/enrollment.json and the server is authenticated with DIR/ca.crt (no pin, no
 * token). cordon_enroll_fetch_crl() and cordon_enroll_renew() print nothing: they return the
 * error and fill a one-line reason, so that the running peer can call them from a
 * background thread. libcurl must have been initialized once (curl_global_init) by the
 * program before any thread calls them.
 */
#ifndef CORDON_PEER_ENROLL_CLIENT_H
#define CORDON_PEER_ENROLL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "common/limits.h"

struct cordon_enroll_options {
    const char *dir;
    char *server;               /* https://HOST:PORT, without a trailing slash */
    const char *token;          /* cdt_... */
    const char *ca_fingerprint; /* "sha256:HEX" (colons allowed), or NULL */
    const char *cacert;         /* path, or NULL */
    long timeout;               /* seconds per request */
};

/* Enrolls; on success node_id holds the node ID. Every failure has been explained on
 * stderr in words an operator can act on. */
CORDON_MUST_CHECK cordon_err cordon_enroll_node(const struct cordon_enroll_options *o,
                                                uint8_t node_id[CORDON_NODE_ID_LEN]);

/* Fetches GET /v1/crl from the server recorded in DIR/enrollment.json, verifying the server
 * with DIR/ca.crt; verifies the CRL's signature with DIR/ca.crt (and that it is current);
 * writes it to DIR/crl.pem (atomically, as canonical PEM) only when its CRL number is higher
 * than the stored one's (or none is stored, or the stored one does not parse). *changed
 * (may be NULL) says whether it wrote. why (may be NULL) gets a one-line reason on failure.
 * Errors: CORDON_ERR_NOT_FOUND/IO/MALFORMED (DIR is not an enrolled node's directory),
 * CORDON_ERR_NETWORK, CORDON_ERR_CERT_UNTRUSTED (the server's TLS certificate is not of
 * this CA), CORDON_ERR_REFUSED (an HTTP error), CORDON_ERR_TOO_LARGE, CORDON_ERR_CRL (the
 * CRL is not signed by the CA or is out of date), CORDON_ERR_INVAL. */
CORDON_MUST_CHECK cordon_err cordon_enroll_fetch_crl(const char *dir, long timeout_s, bool *changed,
                                                     char *why, size_t why_len);

/* Renews DIR/node.crt at the server in DIR/enrollment.json with a CSR for the current key
 * (DIR/node.key), authenticated by the current certificate (POST /v1/renew, signed with the
 * key). Refreshes DIR/crl.pem first (as cordon_enroll_fetch_crl). Verifies the answer (chain
 * with the CA and CRL, same node ID, certifies our key, a new serial) before replacing
 * DIR/node.crt atomically. why (may be NULL) gets a one-line reason on failure.
 * Errors: those of cordon_enroll_fetch_crl(); CORDON_ERR_CERT_UNTRUSTED (node.crt does not
 * certify node.key, the server refused the certificate (401), or the answer does not
 * verify), CORDON_ERR_CERT_NODE_ID, CORDON_ERR_RATE_LIMITED (429), CORDON_ERR_REFUSED (any
 * other refusal: unknown, revoked or superseded node, 403), CORDON_ERR_PROTOCOL (the server
 * answered the old certificate). On any failure DIR/node.crt is left as it was. */
CORDON_MUST_CHECK cordon_err cordon_enroll_renew(const char *dir, long timeout_s, char *why,
                                                 size_t why_len);

/* What DIR/node.crt says, read with DIR/ca.crt and DIR/overlay.json. */
struct cordon_enroll_identity {
    uint8_t node_id[CORDON_NODE_ID_LEN];
    uint8_t serial[CORDON_SERIAL_LEN];
    int64_t not_after;
};
CORDON_MUST_CHECK cordon_err cordon_enroll_identity(const char *dir,
                                                    struct cordon_enroll_identity *out, char *why,
                                                    size_t why_len);

/* Parses "sha256:" followed by 64 hex digits, optionally separated by colons (as
 * `openssl x509 -fingerprint -sha256` prints them). */
CORDON_MUST_CHECK cordon_err cordon_parse_fingerprint(const char *text, uint8_t out[32]);

#endif
