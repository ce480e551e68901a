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
 */
#ifndef CORDON_PEER_ENROLL_CLIENT_H
#define CORDON_PEER_ENROLL_CLIENT_H

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

/* Parses "sha256:" followed by 64 hex digits, optionally separated by colons (as
 * `openssl x509 -fingerprint -sha256` prints them). */
CORDON_MUST_CHECK cordon_err cordon_parse_fingerprint(const char *text, uint8_t out[32]);

#endif
