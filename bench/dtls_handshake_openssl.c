/*
 * bench/dtls_handshake_openssl.c — the "openssl" client of cordon-bench-dtls: the same
 * handshake as the link table's, written the textbook way with OpenSSL's DTLS API and
 * nothing of Cordon's, as the in-process reference.
 *
 * What it shares with peer/link.c, so that the two compare like with like: DTLS 1.2 only,
 * the same cipher list and groups, the same MTU (HS_MTU, no MTU queries), a client
 * certificate (the node's P-256 certificate and key), the server's certificate verified
 * against the overlay CA alone with the CRL checked (X509_V_FLAG_CRL_CHECK, X509_STRICT),
 * session tickets. What it does not do: extract and compare the node ID.
 * A handshake: a fresh UDP socket connected to the server, BIO_new_dgram() on it, SSL_new()
 * from the one SSL_CTX, SSL_do_handshake() until it completes. Then SSL_shutdown() (one
 * close_notify, no wait for the server's) and SSL_free(). Resumed: SSL_set_session() with
 * the slot's last session.
 *
 * It includes OpenSSL's headers (as crypto/ and peer/link.c do, and some tests and tools)
 * because it is the reference the link table is measured against.
 */
#include "bench/dtls_handshake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/file.h"
#include "common/limits.h"

/* As peer/link.c's SSL_CTX. */
#define REF_CIPHERS                                                                                \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305"
#define REF_GROUPS "X25519:P-256"

struct ossl_client {
    const struct hs_options *o;
    SSL_CTX *ctx;
    BIO_ADDR *server;
    char negotiated[200];
    char error[160];
};

struct ossl_slot {
    struct ossl_client *c;
    struct hs_slot *slot;
    SSL *ssl;
    SSL_SESSION *sess; /* the last one, for --resume */
    bool up;
};

/* The first OpenSSL error, for the report (the client owns the buffer). */
static const char *ossl_error(struct ossl_client *c, const char *what)
{
    unsigned long e = ERR_peek_error();
    char reason[120] = "";
    if (e != 0)
        ERR_error_string_n(e, reason, sizeof(reason));
    snprintf(c->error, sizeof(c->error), "%s: %s", what, reason[0] ? reason : "no detail");
    ERR_clear_error();
    return c->error;
}

static cordon_err ossl_open(const struct hs_options *o, void **out)
{
    char key[CORDON_PATH_MAX], crt[CORDON_PATH_MAX], ca[CORDON_PATH_MAX], crl[CORDON_PATH_MAX];
    struct ossl_client *c = calloc(1, sizeof(*c));
    cordon_err err = CORDON_ERR_CRYPTO;
    X509_CRL *x = NULL;
    BIO *bio = NULL;

    if (c == NULL)
        return CORDON_ERR_NOMEM;
    c->o = o;
    if (cordon_path_join(key, o->dir, "node.key") != CORDON_OK ||
        cordon_path_join(crt, o->dir, "node.crt") != CORDON_OK ||
        cordon_path_join(ca, o->dir, "ca.crt") != CORDON_OK ||
        cordon_path_join(crl, o->dir, "crl.pem") != CORDON_OK) {
        err = CORDON_ERR_INVAL;
        goto fail;
    }
    c->ctx = SSL_CTX_new(DTLS_client_method());
    c->server = BIO_ADDR_new();
    if (c->ctx == NULL || c->server == NULL ||
        SSL_CTX_set_min_proto_version(c->ctx, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(c->ctx, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(c->ctx, REF_CIPHERS) != 1 ||
        SSL_CTX_set1_groups_list(c->ctx, REF_GROUPS) != 1 ||
        SSL_CTX_use_certificate_chain_file(c->ctx, crt) != 1 ||
        SSL_CTX_use_PrivateKey_file(c->ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(c->ctx) != 1 ||
        SSL_CTX_load_verify_locations(c->ctx, ca, NULL) != 1)
        goto fail;
    bio = BIO_new_file(crl, "r");
    x = bio == NULL ? NULL : PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
    if (x == NULL || X509_STORE_add_crl(SSL_CTX_get_cert_store(c->ctx), x) != 1 ||
        X509_STORE_set_flags(SSL_CTX_get_cert_store(c->ctx),
                             X509_V_FLAG_CRL_CHECK | X509_V_FLAG_X509_STRICT) != 1)
        goto fail;
    SSL_CTX_set_options(c->ctx,
                        SSL_OP_NO_QUERY_MTU | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    /* Sessions are kept by the slots themselves. */
    SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    if (BIO_ADDR_rawmake(c->server, AF_INET, &o->server.sin_addr, sizeof(o->server.sin_addr),
                         o->server.sin_port) != 1)
        goto fail;
    X509_CRL_free(x);
    BIO_free(bio);
    *out = c;
    return CORDON_OK;
fail:
    fprintf(stderr, "cordon-bench-dtls: %s\n", ossl_error(c, "cannot set up the SSL_CTX"));
    X509_CRL_free(x);
    BIO_free(bio);
    SSL_CTX_free(c->ctx);
    BIO_ADDR_free(c->server);
    free(c);
    return err;
}

static void ossl_close(void *client)
{
    struct ossl_client *c = client;
    if (c == NULL)
        return;
    SSL_CTX_free(c->ctx);
    BIO_ADDR_free(c->server);
    free(c);
}

static cordon_err ossl_slot_new(void *client, struct hs_slot *s, void **out)
{
    struct ossl_slot *os = calloc(1, sizeof(*os));
    if (os == NULL)
        return CORDON_ERR_NOMEM;
    os->c = client;
    os->slot = s;
    *out = os;
    return CORDON_OK;
}

static void ossl_slot_free(void *state)
{
    struct ossl_slot *os = state;
    if (os == NULL)
        return;
    SSL_free(os->ssl);
    SSL_SESSION_free(os->sess);
    free(os);
}

/* What the first completed handshake negotiated. */
static void note_negotiated(struct ossl_client *c, SSL *ssl)
{
    char group[64] = "?";
    const char *g = SSL_group_to_name(ssl, SSL_get_negotiated_group(ssl));
    X509 *peer = SSL_get0_peer_certificate(ssl);
    EVP_PKEY *pk = peer == NULL ? NULL : X509_get0_pubkey(peer);
    size_t glen = 0;

    if (c->negotiated[0] != '\0')
        return;
    if (pk == NULL || EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) != 1)
        snprintf(group, sizeof(group), "?");
    snprintf(c->negotiated, sizeof(c->negotiated), "version=%s cipher=%s group=%s peer_key=%s-%s",
             SSL_get_version(ssl), SSL_get_cipher_name(ssl), g != NULL ? g : "?",
             pk != NULL ? EVP_PKEY_get0_type_name(pk) : "?", group);
}

static void drive(struct ossl_slot *os)
{
    struct ossl_client *c = os->c;
    int r = SSL_do_handshake(os->ssl);
    if (r == 1) {
        if (SSL_get_verify_result(os->ssl) != X509_V_OK) {
            hs_slot_done(os->slot, false, false, "server certificate did not verify");
            return;
        }
        os->up = true;
        note_negotiated(c, os->ssl);
        if (c->o->resume) {
            SSL_SESSION_free(os->sess);
            os->sess = SSL_get1_session(os->ssl);
        }
        hs_slot_done(os->slot, true, SSL_session_reused(os->ssl) == 1, NULL);
        return;
    }
    int e = SSL_get_error(os->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return;
    hs_slot_done(os->slot, false, false, ossl_error(c, "handshake"));
}

static cordon_err ossl_start(void *state, uint64_t now_ms)
{
    struct ossl_slot *os = state;
    struct ossl_client *c = os->c;
    BIO *bio;
    (void)now_ms;

    ERR_clear_error();
    int fd = hs_slot_udp(os->slot);
    if (fd < 0 || connect(fd, (const struct sockaddr *)&c->o->server, sizeof(c->o->server)) != 0)
        return CORDON_ERR_NETWORK;
    os->up = false;
    os->ssl = SSL_new(c->ctx);
    bio = BIO_new_dgram(fd, BIO_NOCLOSE);
    if (os->ssl == NULL || bio == NULL) {
        BIO_free(bio);
        return CORDON_ERR_CRYPTO;
    }
    BIO_ctrl_set_connected(bio, c->server);
    SSL_set_bio(os->ssl, bio, bio);
    if (SSL_set_mtu(os->ssl, HS_MTU) <= 0)
        return CORDON_ERR_CRYPTO;
    if (c->o->resume && os->sess != NULL && SSL_set_session(os->ssl, os->sess) != 1)
        return CORDON_ERR_CRYPTO;
    SSL_set_connect_state(os->ssl);
    drive(os);
    return CORDON_OK;
}

static void ossl_readable(void *state, uint64_t now_ms)
{
    struct ossl_slot *os = state;
    (void)now_ms;
    if (!os->up) {
        drive(os);
        return;
    }
    /* A held link (--hold): read what comes (a close_notify), so that it is consumed. */
    for (int i = 0; i < 16; i++) {
        uint8_t buf[CORDON_LINK_DATAGRAM_MAX];
        if (SSL_read(os->ssl, buf, (int)sizeof(buf)) <= 0)
            break;
    }
    ERR_clear_error();
}

static uint64_t ossl_deadline(void *state, uint64_t now_ms)
{
    struct ossl_slot *os = state;
    struct timeval tv;
    if (os->ssl == NULL || os->up || DTLSv1_get_timeout(os->ssl, &tv) != 1)
        return UINT64_MAX;
    return now_ms + (uint64_t)tv.tv_sec * 1000u + ((uint64_t)tv.tv_usec + 999u) / 1000u;
}

static void ossl_tick(void *state, uint64_t now_ms)
{
    struct ossl_slot *os = state;
    (void)now_ms;
    if (os->ssl == NULL || os->up)
        return;
    if (DTLSv1_handle_timeout(os->ssl) < 0)
        hs_slot_done(os->slot, false, false, ossl_error(os->c, "retransmission"));
}

static void ossl_finish(void *state, uint64_t now_ms, bool ok)
{
    struct ossl_slot *os = state;
    (void)now_ms;
    if (os->ssl != NULL && ok && os->up)
        (void)SSL_shutdown(os->ssl); /* sends close_notify; the answer is not awaited */
    SSL_free(os->ssl);
    os->ssl = NULL;
    os->up = false;
    ERR_clear_error();
    hs_slot_release(os->slot);
}

static void ossl_describe(void *client, char *out, size_t len)
{
    struct ossl_client *c = client;
    snprintf(out, len, "%s", c->negotiated);
}

const struct hs_client hs_client_openssl = {
    .name = "openssl",
    .open = ossl_open,
    .close = ossl_close,
    .slot_new = ossl_slot_new,
    .slot_free = ossl_slot_free,
    .start = ossl_start,
    .readable = ossl_readable,
    .deadline = ossl_deadline,
    .tick = ossl_tick,
    .finish = ossl_finish,
    .housekeep = NULL,
    .describe = ossl_describe,
};
