/* peer/enroll_client.c — see enroll_client.h. */
#include "peer/enroll_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/hex.h"
#include "common/mem.h"
#include "crypto/crypto.h"
#include "crypto/overlay.h"
#include "wire/overlay_doc.h"

struct http_reply {
    long status;
    cordon_buf body;
    char error[CURL_ERROR_SIZE];
};

cordon_err cordon_parse_fingerprint(const char *text, uint8_t out[32])
{
    static const char prefix[] = "sha256:";
    char hex[65];
    size_t n = 0;
    if (text == NULL || strncasecmp(text, prefix, sizeof(prefix) - 1) != 0)
        return CORDON_ERR_INVAL;
    for (const char *p = text + sizeof(prefix) - 1; *p; p++) {
        if (*p == ':')
            continue;
        if (n == 64)
            return CORDON_ERR_INVAL;
        hex[n++] = *p;
    }
    if (n != 64)
        return CORDON_ERR_INVAL;
    return cordon_hex_decode(hex, 64, out, 32) == CORDON_OK ? CORDON_OK : CORDON_ERR_INVAL;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    cordon_buf *b = userdata;
    size_t n = size * nmemb;
    /* Returning less than n makes libcurl abort the transfer: the reply is over its cap. */
    return cordon_buf_append(b, ptr, n) == CORDON_OK ? n : 0;
}

/* Where requests go: the server's base URL, the per-request timeout, and the CA that
 * authenticates the server (NULL: no TLS verification, only for fetching the CA that is then
 * checked against the pin). */
struct endpoint {
    const char *server;
    long timeout;
    const cordon_buf *ca_pem;
};

/* A one-line reason for a caller that may have passed no buffer. */
static void say(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (why == NULL || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

/* One HTTPS request; body (with its content type) makes it a POST. */
static cordon_err request(const struct endpoint *ep, const char *path, const char *auth,
                          const char *content_type, const cordon_buf *body, size_t reply_max,
                          struct http_reply *reply)
{
    char url[2048];
    struct curl_slist *headers = NULL;
    cordon_err err = CORDON_OK;
    cordon_buf_init(&reply->body, reply_max, false);
    reply->status = 0;
    reply->error[0] = '\0';
    int n = snprintf(url, sizeof(url), "%s%s", ep->server, path);
    if (n < 0 || (size_t)n >= sizeof(url)) {
        snprintf(reply->error, sizeof(reply->error), "server URL too long");
        return CORDON_ERR_INVAL;
    }
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(reply->error, sizeof(reply->error), "cannot initialize libcurl");
        return CORDON_ERR_NOMEM;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, ep->timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, ep->timeout);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, reply->error);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply->body);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (ep->ca_pem != NULL) {
        struct curl_blob blob = {
            .data = ep->ca_pem->data, .len = ep->ca_pem->len, .flags = CURL_BLOB_COPY};
        curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    } else {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (auth != NULL)
        headers = curl_slist_append(headers, auth);
    if (body != NULL) {
        char ct[64];
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        headers = curl_slist_append(headers, ct);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body->len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_WRITE_ERROR) {
        snprintf(reply->error, sizeof(reply->error), "reply larger than %zu bytes", reply_max);
        err = CORDON_ERR_TOO_LARGE;
    } else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
               rc == CURLE_SSL_CONNECT_ERROR) {
        if (reply->error[0] == '\0')
            snprintf(reply->error, sizeof(reply->error), "%s", curl_easy_strerror(rc));
        err = CORDON_ERR_CERT_UNTRUSTED;
    } else if (rc != CURLE_OK) {
        if (reply->error[0] == '\0')
            snprintf(reply->error, sizeof(reply->error), "%s", curl_easy_strerror(rc));
        err = CORDON_ERR_NETWORK;
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->status);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return err;
}

static void reply_free(struct http_reply *r)
{
    cordon_buf_free(&r->body);
}

/* The server's {"error": "..."} message, or a placeholder. */
static void server_message(const struct http_reply *r, char *out, size_t len)
{
    json_error_t jerr;
    json_t *o = json_loadb((const char *)r->body.data, r->body.len, 0, &jerr);
    const char *msg = o ? json_string_value(json_object_get(o, "error")) : NULL;
    snprintf(out, len, "%s", msg ? msg : "(no message)");
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
            *p = '?'; /* never print control characters a server sent */
    json_decref(o);
}

/* GET path, expecting 200. On failure why says what went wrong. */
static cordon_err fetch(const struct endpoint *ep, const char *path, size_t max,
                        struct http_reply *reply, char *why, size_t why_len)
{
    cordon_err err = request(ep, path, NULL, NULL, NULL, max, reply);
    if (err != CORDON_OK) {
        say(why, why_len, "cannot fetch %s%s: %s", ep->server, path, reply->error);
        return err;
    }
    if (reply->status != 200) {
        char msg[256];
        server_message(reply, msg, sizeof(msg));
        say(why, why_len, "%s%s answered HTTP %ld: %s", ep->server, path, reply->status, msg);
        return CORDON_ERR_REFUSED;
    }
    return CORDON_OK;
}

/* Establishes the CA to trust: the --cacert file, or /v1/ca checked against the pin. */
static cordon_err trust_ca(const struct cordon_enroll_options *o, cordon_cert **ca,
                           cordon_buf *ca_pem)
{
    cordon_err err;
    if (o->cacert != NULL) {
        err = cordon_cert_load(o->cacert, ca);
        if (err != CORDON_OK) {
            fprintf(stderr, "cordon-peer: cannot read the CA certificate %s: %s\n", o->cacert,
                    cordon_strerror(err));
            return err;
        }
    } else {
        uint8_t pin[32], fp[32];
        char hex[65];
        struct http_reply r;
        if (cordon_parse_fingerprint(o->ca_fingerprint, pin) != CORDON_OK) {
            fprintf(stderr, "cordon-peer: --ca-fingerprint must be sha256:<64 hex digits>, as "
                            "cordon-enroll init prints it\n");
            return CORDON_ERR_INVAL;
        }
        char why[512];
        struct endpoint plain = {.server = o->server, .timeout = o->timeout, .ca_pem = NULL};
        err = fetch(&plain, "/v1/ca", CORDON_CERT_MAX, &r, why, sizeof(why));
        if (err != CORDON_OK)
            fprintf(stderr, "cordon-peer: %s\n", why);
        if (err == CORDON_OK) {
            err = cordon_cert_parse(r.body.data, r.body.len, ca);
            if (err != CORDON_OK)
                fprintf(stderr, "cordon-peer: the server's /v1/ca is not a certificate\n");
        }
        reply_free(&r);
        if (err != CORDON_OK)
            return err;
        err = cordon_cert_fingerprint(*ca, fp);
        if (err != CORDON_OK)
            return err;
        if (!cordon_ct_equal(fp, pin, sizeof(pin))) {
            cordon_hex_encode(fp, sizeof(fp), hex);
            fprintf(stderr,
                    "cordon-peer: the server's CA has fingerprint sha256:%s, which does not "
                    "match --ca-fingerprint; refusing to enroll (wrong server, or someone in "
                    "between)\n",
                    hex);
            cordon_cert_free(*ca);
            *ca = NULL;
            return CORDON_ERR_FINGERPRINT;
        }
    }
    err = cordon_cert_pem(*ca, ca_pem);
    return err;
}

static cordon_err load_or_make_key(const char *path, cordon_key **key)
{
    cordon_err err = cordon_key_load(path, key);
    if (err != CORDON_ERR_NOT_FOUND && err != CORDON_ERR_IO)
        return err; /* loaded, or a key file we must not silently replace */
    if (cordon_path_exists(path))
        return err;
    err = cordon_key_generate(CORDON_KEY_P256, key);
    if (err == CORDON_OK)
        err = cordon_key_save(*key, path);
    return err;
}

static cordon_err write_enrollment_json(const char *path, const char *server,
                                        const uint8_t node_id[CORDON_NODE_ID_LEN])
{
    char hex[65];
    cordon_hex_encode(node_id, CORDON_NODE_ID_LEN, hex);
    json_t *o = json_pack("{s:s,s:s}", "server", server, "node_id", hex);
    char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    cordon_err err = text ? cordon_write_file(path, text, strlen(text), 0644) : CORDON_ERR_NOMEM;
    free(text);
    json_decref(o);
    return err;
}

#define FILE_ERR(what)                                                                             \
    do {                                                                                           \
        if (err != CORDON_OK) {                                                                    \
            fprintf(stderr, "cordon-peer: %s: %s\n", what, cordon_strerror(err));                  \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

cordon_err cordon_enroll_node(const struct cordon_enroll_options *o,
                              uint8_t node_id[CORDON_NODE_ID_LEN])
{
    char path[CORDON_PATH_MAX], auth[32 + CORDON_TOKEN_TEXT_LEN];
    cordon_cert *ca = NULL, *leaf = NULL;
    cordon_key *key = NULL;
    cordon_csr *csr = NULL;
    cordon_crl *crl = NULL;
    struct cordon_overlay_doc doc;
    struct http_reply overlay = {0}, crl_reply = {0}, chain = {0};
    cordon_buf ca_pem, csr_pem, leaf_pem;
    cordon_buf_init(&ca_pem, CORDON_CERT_MAX, false);
    cordon_buf_init(&csr_pem, CORDON_CSR_MAX, false);
    cordon_buf_init(&leaf_pem, CORDON_CERT_MAX, false);
    cordon_buf_init(&overlay.body, 0, false);
    cordon_buf_init(&crl_reply.body, 0, false);
    cordon_buf_init(&chain.body, 0, false);
    memset(&doc, 0, sizeof(doc));
    struct endpoint ep = {.server = o->server, .timeout = o->timeout, .ca_pem = &ca_pem};
    char why[512];
    cordon_err err = CORDON_ERR_INVAL;

    if (o->server == NULL || strncmp(o->server, "https://", 8) != 0) {
        fprintf(stderr, "cordon-peer: --server must be an https:// URL\n");
        goto out;
    }
    if (o->token == NULL || strlen(o->token) != CORDON_TOKEN_TEXT_LEN ||
        strncmp(o->token, CORDON_TOKEN_PREFIX, 4) != 0) {
        fprintf(stderr, "cordon-peer: --token must be the cdt_... token that cordon-enroll "
                        "token printed\n");
        goto out;
    }
    if ((o->ca_fingerprint == NULL) == (o->cacert == NULL)) {
        fprintf(stderr, "cordon-peer: give exactly one of --ca-fingerprint and --cacert\n");
        goto out;
    }
    if (mkdir(o->dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "cordon-peer: cannot create %s: %s\n", o->dir, strerror(errno));
        err = CORDON_ERR_IO;
        goto out;
    }
    err = cordon_path_join(path, o->dir, "node.crt");
    FILE_ERR("directory path");
    if (cordon_path_exists(path)) {
        fprintf(stderr, "cordon-peer: %s is already enrolled (%s exists)\n", o->dir, path);
        err = CORDON_ERR_EXISTS;
        goto out;
    }

    err = trust_ca(o, &ca, &ca_pem);
    if (err != CORDON_OK)
        goto out;

    /* The overlay document first: its name is what the certificate must carry. */
    err = fetch(&ep, "/v1/overlay", CORDON_OVERLAY_ENVELOPE_MAX, &overlay, why, sizeof(why));
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-peer: %s\n", why);
        goto out;
    }
    err = cordon_overlay_open(overlay.body.data, overlay.body.len, ca, &doc);
    if (err != CORDON_OK) {
        fprintf(stderr,
                "cordon-peer: the overlay document does not verify against the CA: "
                "%s\n",
                cordon_strerror(err));
        goto out;
    }
    err = fetch(&ep, "/v1/crl", CORDON_CRL_MAX, &crl_reply, why, sizeof(why));
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-peer: %s\n", why);
        goto out;
    }
    int64_t now = (int64_t)time(NULL);
    err = cordon_crl_parse(crl_reply.body.data, crl_reply.body.len, &crl);
    if (err == CORDON_OK)
        err = cordon_crl_verify(crl, ca, now);
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-peer: the server's CRL is not valid for this CA: %s\n",
                cordon_strerror(err));
        goto out;
    }

    err = cordon_path_join(path, o->dir, "node.key");
    FILE_ERR("directory path");
    err = load_or_make_key(path, &key);
    FILE_ERR("node key (DIR/node.key)");
    err = cordon_csr_create(key, &csr);
    if (err == CORDON_OK)
        err = cordon_csr_pem(csr, &csr_pem);
    FILE_ERR("certificate request");

    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->token);
    err =
        request(&ep, "/v1/enroll", auth, "application/pkcs10", &csr_pem, CORDON_CHAIN_MAX, &chain);
    cordon_wipe(auth, sizeof(auth));
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-peer: enrollment request to %s failed: %s\n", o->server,
                chain.error);
        goto out;
    }
    if (chain.status != 201) {
        char msg[256];
        server_message(&chain, msg, sizeof(msg));
        fprintf(stderr, "cordon-peer: the server refused the enrollment (HTTP %ld): %s\n",
                chain.status, msg);
        err = chain.status == 401   ? CORDON_ERR_TOKEN_UNKNOWN
              : chain.status == 403 ? CORDON_ERR_TOKEN_EXHAUSTED
              : chain.status == 429 ? CORDON_ERR_RATE_LIMITED
                                    : CORDON_ERR_REFUSED;
        goto out;
    }
    err = cordon_cert_parse(chain.body.data, chain.body.len, &leaf);
    if (err == CORDON_OK)
        err = cordon_cert_verify_node(leaf, ca, crl, doc.overlay, now, node_id);
    if (err == CORDON_OK && !cordon_cert_matches_key(leaf, key))
        err = CORDON_ERR_CERT_UNTRUSTED;
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-peer: the certificate the server issued does not verify: %s\n",
                cordon_strerror(err));
        goto out;
    }

    /* Everything checks: store, with node.crt last as the mark of a finished enrollment. */
    err = cordon_path_join(path, o->dir, "ca.crt");
    if (err == CORDON_OK)
        err = cordon_write_file(path, ca_pem.data, ca_pem.len, 0644);
    FILE_ERR("writing ca.crt");
    err = cordon_path_join(path, o->dir, "overlay.json");
    if (err == CORDON_OK)
        err = cordon_write_file(path, overlay.body.data, overlay.body.len, 0644);
    FILE_ERR("writing overlay.json");
    err = cordon_path_join(path, o->dir, "crl.pem");
    if (err == CORDON_OK)
        err = cordon_write_file(path, crl_reply.body.data, crl_reply.body.len, 0644);
    FILE_ERR("writing crl.pem");
    err = cordon_path_join(path, o->dir, "enrollment.json");
    if (err == CORDON_OK)
        err = write_enrollment_json(path, o->server, node_id);
    FILE_ERR("writing enrollment.json");
    err = cordon_cert_pem(leaf, &leaf_pem);
    if (err == CORDON_OK)
        err = cordon_path_join(path, o->dir, "node.crt");
    if (err == CORDON_OK)
        err = cordon_write_file(path, leaf_pem.data, leaf_pem.len, 0644);
    FILE_ERR("writing node.crt");
out:
    cordon_overlay_doc_clear(&doc);
    cordon_cert_free(ca);
    cordon_cert_free(leaf);
    cordon_key_free(key);
    cordon_csr_free(csr);
    cordon_crl_free(crl);
    reply_free(&overlay);
    reply_free(&crl_reply);
    reply_free(&chain);
    cordon_buf_free(&ca_pem);
    cordon_buf_free(&csr_pem);
    cordon_buf_free(&leaf_pem);
    return err;
}

/* ---- an enrolled node's directory ------------------------------------------------------ */

#define ENROLLMENT_JSON_MAX 4096
#define SERVER_URL_MAX 1024

/* What DIR/enrollment.json and DIR/ca.crt say: where the server is and whom to trust. */
struct enrolled {
    char server[SERVER_URL_MAX];
    uint8_t node_id[CORDON_NODE_ID_LEN];
    cordon_cert *ca;
    cordon_buf ca_pem;
};

static void enrolled_clear(struct enrolled *e)
{
    cordon_cert_free(e->ca);
    e->ca = NULL;
    cordon_buf_free(&e->ca_pem);
}

static cordon_err read_enrollment_json(const char *path, struct enrolled *e, char *why,
                                       size_t why_len)
{
    cordon_buf text;
    json_error_t jerr;
    cordon_buf_init(&text, ENROLLMENT_JSON_MAX, false);
    cordon_err err = cordon_read_file(path, ENROLLMENT_JSON_MAX, &text);
    if (err != CORDON_OK) {
        say(why, why_len, "cannot read %s: %s (is the directory enrolled?)", path,
            cordon_strerror(err));
        cordon_buf_free(&text);
        return err;
    }
    json_t *o = json_loadb((const char *)text.data, text.len, JSON_REJECT_DUPLICATES, &jerr);
    const char *server = json_string_value(json_object_get(o, "server"));
    const char *node = json_string_value(json_object_get(o, "node_id"));
    err = CORDON_ERR_MALFORMED;
    if (!json_is_object(o) || server == NULL || node == NULL)
        say(why, why_len, "%s is not an enrollment record (server, node_id)", path);
    else if (strncmp(server, "https://", 8) != 0 || strlen(server) >= sizeof(e->server))
        say(why, why_len, "%s: the server is not an https:// URL of at most %d bytes", path,
            SERVER_URL_MAX - 1);
    else if (cordon_hex_decode(node, strlen(node), e->node_id, sizeof(e->node_id)) != CORDON_OK)
        say(why, why_len, "%s: node_id is not 64 hex digits", path);
    else {
        snprintf(e->server, sizeof(e->server), "%s", server);
        err = CORDON_OK;
    }
    json_decref(o);
    cordon_buf_free(&text);
    return err;
}

/* Loads DIR/enrollment.json and DIR/ca.crt. */
static cordon_err enrolled_load(const char *dir, struct enrolled *e, char *why, size_t why_len)
{
    char path[CORDON_PATH_MAX];
    memset(e, 0, sizeof(*e));
    cordon_buf_init(&e->ca_pem, CORDON_CERT_MAX, false);
    cordon_err err = cordon_path_join(path, dir, "enrollment.json");
    if (err != CORDON_OK) {
        say(why, why_len, "directory path too long");
        return err;
    }
    err = read_enrollment_json(path, e, why, why_len);
    if (err != CORDON_OK)
        return err;
    err = cordon_path_join(path, dir, "ca.crt");
    if (err == CORDON_OK)
        err = cordon_read_file(path, CORDON_CERT_MAX, &e->ca_pem);
    if (err == CORDON_OK)
        err = cordon_cert_parse(e->ca_pem.data, e->ca_pem.len, &e->ca);
    if (err != CORDON_OK)
        say(why, why_len, "cannot load the CA certificate %s: %s", path, cordon_strerror(err));
    return err;
}

/* The overlay name, from DIR/overlay.json opened with the CA. */
static cordon_err load_overlay_name(const char *dir, const cordon_cert *ca,
                                    char name[CORDON_OVERLAY_NAME_MAX + 1], char *why,
                                    size_t why_len)
{
    char path[CORDON_PATH_MAX];
    struct cordon_overlay_doc doc;
    cordon_buf env;
    memset(&doc, 0, sizeof(doc));
    cordon_buf_init(&env, CORDON_OVERLAY_ENVELOPE_MAX, false);
    cordon_err err = cordon_path_join(path, dir, "overlay.json");
    if (err == CORDON_OK)
        err = cordon_read_file(path, CORDON_OVERLAY_ENVELOPE_MAX, &env);
    if (err == CORDON_OK)
        err = cordon_overlay_open(env.data, env.len, ca, &doc);
    if (err == CORDON_OK)
        snprintf(name, CORDON_OVERLAY_NAME_MAX + 1, "%s", doc.overlay);
    else
        say(why, why_len, "cannot open the overlay document %s: %s", path, cordon_strerror(err));
    cordon_overlay_doc_clear(&doc);
    cordon_buf_free(&env);
    return err;
}

/* Fetches the CRL, verifies it with the CA at now, and replaces DIR/crl.pem when its number
 * is higher than the stored one's (or none is stored, or the stored one does not parse). */
static cordon_err refresh_crl(const char *dir, const struct endpoint *ep, const cordon_cert *ca,
                              int64_t now, bool *changed, char *why, size_t why_len)
{
    char path[CORDON_PATH_MAX];
    struct http_reply reply;
    cordon_crl *fresh = NULL, *stored = NULL;
    uint64_t fresh_number = 0, stored_number = 0;
    cordon_buf pem;
    cordon_buf_init(&pem, 2 * CORDON_CRL_MAX, false);
    *changed = false;
    cordon_err err = cordon_path_join(path, dir, "crl.pem");
    if (err != CORDON_OK) {
        say(why, why_len, "directory path too long");
        cordon_buf_free(&pem);
        return err;
    }
    err = fetch(ep, "/v1/crl", CORDON_CRL_MAX, &reply, why, why_len);
    if (err != CORDON_OK)
        goto out;
    err = cordon_crl_parse(reply.body.data, reply.body.len, &fresh);
    if (err == CORDON_OK)
        err = cordon_crl_verify(fresh, ca, now);
    if (err == CORDON_OK)
        err = cordon_crl_number(fresh, &fresh_number);
    if (err != CORDON_OK) {
        say(why, why_len, "the server's CRL does not verify against the overlay CA: %s",
            cordon_strerror(err));
        goto out;
    }
    /* A stored CRL that is missing or damaged is replaced by this verified one; a readable
     * one only by a higher number (no rollback to an older list). */
    bool have_stored = cordon_crl_load(path, &stored) == CORDON_OK &&
                       cordon_crl_number(stored, &stored_number) == CORDON_OK;
    if (have_stored && fresh_number <= stored_number)
        goto out;
    err = cordon_crl_pem(fresh, &pem);
    if (err == CORDON_OK)
        err = cordon_write_file(path, pem.data, pem.len, 0644);
    if (err != CORDON_OK) {
        say(why, why_len, "cannot write %s: %s", path, cordon_strerror(err));
        goto out;
    }
    *changed = true;
out:
    reply_free(&reply);
    cordon_crl_free(fresh);
    cordon_crl_free(stored);
    cordon_buf_free(&pem);
    return err;
}

cordon_err cordon_enroll_fetch_crl(const char *dir, long timeout_s, bool *changed, char *why,
                                   size_t why_len)
{
    struct enrolled e;
    bool dummy;
    if (changed == NULL)
        changed = &dummy;
    *changed = false;
    if (dir == NULL || timeout_s <= 0) {
        say(why, why_len, "no directory, or a timeout that is not positive");
        return CORDON_ERR_INVAL;
    }
    cordon_err err = enrolled_load(dir, &e, why, why_len);
    if (err == CORDON_OK) {
        struct endpoint ep = {.server = e.server, .timeout = timeout_s, .ca_pem = &e.ca_pem};
        err = refresh_crl(dir, &ep, e.ca, (int64_t)time(NULL), changed, why, why_len);
    }
    enrolled_clear(&e);
    return err;
}

/* ---- renewal ---------------------------------------------------------------------------- */

/* The JSON body of POST /v1/renew: the current certificate, a CSR for the same key, the
 * time, and the key's signature over cordon_renew_message(). */
static cordon_err renew_body(const cordon_key *key, const cordon_cert *cert, int64_t now,
                             cordon_buf *body)
{
    uint8_t msg[CORDON_RENEW_MSG_LEN], sig[CORDON_SIG_MAX];
    char sig_hex[2 * CORDON_SIG_MAX + 1];
    size_t sig_len = 0;
    cordon_csr *csr = NULL;
    cordon_buf cert_pem, csr_pem;
    char *text = NULL;
    json_t *o = NULL;
    cordon_buf_init(&cert_pem, CORDON_CERT_MAX, false);
    cordon_buf_init(&csr_pem, CORDON_CSR_MAX, false);
    cordon_err err = cordon_csr_create(key, &csr);
    if (err == CORDON_OK)
        err = cordon_csr_pem(csr, &csr_pem);
    if (err == CORDON_OK)
        err = cordon_cert_pem(cert, &cert_pem);
    if (err == CORDON_OK)
        err = cordon_renew_message(csr, now, msg);
    if (err == CORDON_OK)
        err = cordon_sign(key, msg, sizeof(msg), sig, &sig_len);
    if (err != CORDON_OK)
        goto out;
    cordon_hex_encode(sig, sig_len, sig_hex);
    o = json_pack("{s:s%,s:s%,s:I,s:s}", "certificate", (const char *)cert_pem.data, cert_pem.len,
                  "csr", (const char *)csr_pem.data, csr_pem.len, "time", (json_int_t)now,
                  "signature", sig_hex);
    text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    err = text ? cordon_buf_append_str(body, text) : CORDON_ERR_NOMEM;
out:
    free(text);
    json_decref(o);
    cordon_csr_free(csr);
    cordon_buf_free(&cert_pem);
    cordon_buf_free(&csr_pem);
    return err;
}

static cordon_err renew_refused(const struct http_reply *r, char *why, size_t why_len)
{
    char msg[256];
    server_message(r, msg, sizeof(msg));
    say(why, why_len, "the server refused the renewal (HTTP %ld): %s", r->status, msg);
    switch (r->status) {
    case 401:
        return CORDON_ERR_CERT_UNTRUSTED;
    case 429:
        return CORDON_ERR_RATE_LIMITED;
    default:
        return CORDON_ERR_REFUSED;
    }
}

cordon_err cordon_enroll_renew(const char *dir, long timeout_s, char *why, size_t why_len)
{
    char path[CORDON_PATH_MAX], overlay[CORDON_OVERLAY_NAME_MAX + 1];
    struct enrolled e;
    struct http_reply reply;
    cordon_key *key = NULL;
    cordon_cert *cert = NULL, *fresh = NULL;
    cordon_crl *crl = NULL;
    uint8_t id[CORDON_NODE_ID_LEN], new_id[CORDON_NODE_ID_LEN];
    uint8_t old_serial[CORDON_SERIAL_LEN], new_serial[CORDON_SERIAL_LEN];
    bool changed;
    cordon_buf body, pem;
    cordon_buf_init(&body, CORDON_HTTP_BODY_MAX, false);
    cordon_buf_init(&pem, CORDON_CERT_MAX, false);
    cordon_buf_init(&reply.body, 0, false);
    memset(&e, 0, sizeof(e));
    cordon_err err = CORDON_ERR_INVAL;
    if (dir == NULL || timeout_s <= 0) {
        say(why, why_len, "no directory, or a timeout that is not positive");
        goto out;
    }
    err = enrolled_load(dir, &e, why, why_len);
    if (err == CORDON_OK)
        err = load_overlay_name(dir, e.ca, overlay, why, why_len);
    if (err != CORDON_OK)
        goto out;
    err = cordon_path_join(path, dir, "node.key");
    if (err == CORDON_OK)
        err = cordon_key_load(path, &key);
    if (err != CORDON_OK) {
        say(why, why_len, "cannot load the node key %s/node.key: %s", dir, cordon_strerror(err));
        goto out;
    }
    err = cordon_path_join(path, dir, "node.crt");
    if (err == CORDON_OK)
        err = cordon_cert_load(path, &cert);
    if (err != CORDON_OK) {
        say(why, why_len, "cannot load the certificate %s/node.crt: %s", dir, cordon_strerror(err));
        goto out;
    }
    /* The local state must hang together before the server is asked. */
    if (!cordon_cert_matches_key(cert, key)) {
        err = CORDON_ERR_CERT_UNTRUSTED;
        say(why, why_len, "%s/node.crt does not certify %s/node.key", dir, dir);
        goto out;
    }
    err = cordon_cert_node_id(cert, overlay, id);
    if (err == CORDON_OK && !cordon_ct_equal(id, e.node_id, sizeof(id)))
        err = CORDON_ERR_CERT_NODE_ID;
    if (err == CORDON_OK)
        err = cordon_cert_serial(cert, old_serial);
    if (err != CORDON_OK) {
        say(why, why_len, "%s/node.crt does not carry the node ID of enrollment.json: %s", dir,
            cordon_strerror(err));
        goto out;
    }

    /* A current CRL first: the new certificate is verified with it. */
    struct endpoint ep = {.server = e.server, .timeout = timeout_s, .ca_pem = &e.ca_pem};
    int64_t now = (int64_t)time(NULL);
    err = refresh_crl(dir, &ep, e.ca, now, &changed, why, why_len);
    if (err != CORDON_OK)
        goto out;
    err = cordon_path_join(path, dir, "crl.pem");
    if (err == CORDON_OK)
        err = cordon_crl_load(path, &crl);
    if (err != CORDON_OK) {
        say(why, why_len, "cannot load %s: %s", path, cordon_strerror(err));
        goto out;
    }

    err = renew_body(key, cert, now, &body);
    if (err != CORDON_OK) {
        say(why, why_len, "cannot build the renewal request: %s", cordon_strerror(err));
        goto out;
    }
    reply_free(&reply);
    err = request(&ep, "/v1/renew", NULL, "application/json", &body, CORDON_CHAIN_MAX, &reply);
    if (err != CORDON_OK) {
        say(why, why_len, "renewal request to %s failed: %s", e.server, reply.error);
        goto out;
    }
    if (reply.status != 201) {
        err = renew_refused(&reply, why, why_len);
        goto out;
    }
    err = cordon_cert_parse(reply.body.data, reply.body.len, &fresh);
    if (err == CORDON_OK)
        err = cordon_cert_verify_node(fresh, e.ca, crl, overlay, (int64_t)time(NULL), new_id);
    if (err == CORDON_OK && !cordon_ct_equal(new_id, e.node_id, sizeof(new_id)))
        err = CORDON_ERR_CERT_NODE_ID;
    if (err == CORDON_OK && !cordon_cert_matches_key(fresh, key))
        err = CORDON_ERR_CERT_UNTRUSTED;
    if (err == CORDON_OK)
        err = cordon_cert_serial(fresh, new_serial);
    if (err == CORDON_OK && memcmp(new_serial, old_serial, sizeof(new_serial)) == 0)
        err = CORDON_ERR_PROTOCOL;
    if (err != CORDON_OK) {
        say(why, why_len,
            "the certificate the server issued does not verify (chain, CRL, node ID, key, new "
            "serial): %s",
            cordon_strerror(err));
        goto out;
    }
    err = cordon_cert_pem(fresh, &pem);
    if (err == CORDON_OK)
        err = cordon_path_join(path, dir, "node.crt");
    if (err == CORDON_OK)
        err = cordon_write_file(path, pem.data, pem.len, 0644);
    if (err != CORDON_OK)
        say(why, why_len, "cannot write %s/node.crt: %s", dir, cordon_strerror(err));
out:
    enrolled_clear(&e);
    reply_free(&reply);
    cordon_key_free(key);
    cordon_cert_free(cert);
    cordon_cert_free(fresh);
    cordon_crl_free(crl);
    cordon_buf_free(&body);
    cordon_buf_free(&pem);
    return err;
}

cordon_err cordon_enroll_identity(const char *dir, struct cordon_enroll_identity *out, char *why,
                                  size_t why_len)
{
    char path[CORDON_PATH_MAX], overlay[CORDON_OVERLAY_NAME_MAX + 1];
    struct enrolled e;
    cordon_cert *cert = NULL;
    int64_t not_before;
    cordon_err err = enrolled_load(dir, &e, why, why_len);
    if (err == CORDON_OK)
        err = load_overlay_name(dir, e.ca, overlay, why, why_len);
    if (err != CORDON_OK)
        goto out;
    err = cordon_path_join(path, dir, "node.crt");
    if (err == CORDON_OK)
        err = cordon_cert_load(path, &cert);
    if (err == CORDON_OK)
        err = cordon_cert_node_id(cert, overlay, out->node_id);
    if (err == CORDON_OK)
        err = cordon_cert_serial(cert, out->serial);
    if (err == CORDON_OK)
        err = cordon_cert_validity(cert, &not_before, &out->not_after);
    if (err != CORDON_OK)
        say(why, why_len, "cannot read %s/node.crt: %s", dir, cordon_strerror(err));
out:
    enrolled_clear(&e);
    cordon_cert_free(cert);
    return err;
}
