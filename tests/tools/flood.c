/*
 * tests/tools/flood.c — `cordon-flood`: floods a running `cordon-peer run` on 127.0.0.1 the
 * way an attacker on the network would, for tests/integration/peer_flood.sh. Every mode
 * prints one JSON object on stdout saying what it sent and what came back; the peer's own
 * counters (control API) say what it made of it.
 *
 *   handshake-flood  real DTLS 1.2 ClientHellos, made by OpenSSL over memory BIOs, from N
 *                    source addresses of 127/8 (Linux routes all of 127/8 to lo, so binding
 *                    127.66.0.1, 127.66.0.2, ... is a spoofed-source flood without raw
 *                    sockets). By default the HelloVerifyRequests are never answered (the
 *                    peer must keep no state); with --answer-cookies every handshake runs
 *                    on its own port, echoes the cookie and then goes silent, to fill the
 *                    half-open slots and spend the per-source handshake budget.
 *   dtls-garbage     malformed DTLS built from a real ClientHello: every truncation, header
 *                    fields changed one at a time, bit flips, fragmented hellos, empty and
 *                    oversized datagrams.
 *   frag-flood       with an enrolled identity (DIR of `cordon-peer enroll`), L authenticated
 *                    links (OpenSSL directly over connected UDP sockets, ChaCha20-Poly1305 so
 *                    that a 1203-byte record still fits a 1232-byte datagram), then records
 *                    that never make a message: large messages left one fragment short, and
 *                    every kind of refused record (wire/frag.h) in fixed proportions.
 *   budget           the peer's memory bounds under these floods, computed from the caps of
 *                    common/limits.h and OpenSSL's own buffer sizes (see budget()).
 *
 * Only 127/8 is ever a target or a source. Every loop is bounded by a count or a deadline.
 * No key material is printed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/cli.h"
#include "common/file.h"
#include "common/limits.h"
#include "common/parse.h"
#include "peer/link.h"
#include "peer/runtime.h"
#include "wire/frag.h"
#include "wire/reader.h"

#define PROG "cordon-flood"

/* Whether this build (and so the peer built with it) runs under AddressSanitizer, whose
 * allocator changes what memory figures mean. */
#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD 1
#endif
#endif
#ifndef ASAN_BUILD
#define ASAN_BUILD 0
#endif

/* DTLS framing the tool builds and reads (RFC 6347 4.1 and 4.2.2). */
#define DTLS_HEADER_LEN 13    /* type, version, epoch, sequence, length */
#define DTLS_HS_HEADER_LEN 12 /* msg_type, length, message_seq, fragment offset, length */
#define CT_ALERT 21
#define CT_HANDSHAKE 22
#define HS_SERVER_HELLO 2
#define HS_HELLO_VERIFY 3

/* The AEAD overhead of a DTLS 1.2 record with ChaCha20-Poly1305 (header + tag, no explicit
 * nonce): the largest plaintext that fits a CORDON_LINK_DATAGRAM_MAX datagram. */
#define CHACHA_RECORD_OVERHEAD (DTLS_HEADER_LEN + 16)
#define CHACHA_PLAINTEXT_MAX (CORDON_LINK_DATAGRAM_MAX - CHACHA_RECORD_OVERHEAD)
/* As link.c: OpenSSL 3.0 packs handshake flights to the MTU without the AEAD expansion. */
#define HANDSHAKE_MTU (CORDON_LINK_DATAGRAM_MAX - 24)

#define SOURCES_MAX 4096
#define HANDSHAKES_MAX 512 /* --answer-cookies: one socket each */
#define LINKS_MAX 64
#define COUNT_MAX 1000000
#define WAIT_REPLY_MS 1000 /* after the last datagram, replies are read this long */

static const char usage[] =
    "usage: cordon-flood MODE [OPTIONS]\n"
    "\n"
    "Floods a cordon-peer on 127.0.0.1 (test tool; targets and sources must be in 127/8).\n"
    "Prints one JSON object: what was sent, what came back.\n"
    "\n"
    "  handshake-flood --target IP:PORT --sources N --count M [--answer-cookies]\n"
    "  dtls-garbage    --target IP:PORT --sources N\n"
    "  frag-flood      --dir DIR --target IP:PORT [--links L] [--rounds R]\n"
    "  budget          [--links L]\n"
    "\n"
    "  --sources N         source addresses, from --first-source up (1..4096)\n"
    "  --count M           ClientHellos (handshakes with --answer-cookies, at most 512)\n"
    "  --answer-cookies    answer each HelloVerifyRequest, then never finish\n"
    "  --links L           authenticated links, each from its own address (1..64, default 1)\n"
    "  --rounds R          frag-flood rounds (default 20; 125 records per link each)\n"
    "  --first-source IP   first source address (default 127.66.0.1)\n"
    "  --pps R             datagrams per second, at most (default 20000)\n";

/* ---- small helpers ----------------------------------------------------------------------- */

struct opts {
    const char *mode;
    const char *dir;
    struct sockaddr_in target;
    bool has_target;
    uint32_t first_source; /* host order */
    uint64_t sources, count, links, rounds, pps;
    bool answer_cookies;
};

static bool in_loopback(uint32_t host_order)
{
    return (host_order >> 24) == 127;
}

static bool parse_ipv4(const char *text, uint32_t *host_order)
{
    struct in_addr a;
    if (inet_pton(AF_INET, text, &a) != 1)
        return false;
    *host_order = ntohl(a.s_addr);
    return true;
}

static bool parse_target(const char *text, struct sockaddr_in *out)
{
    char host[INET_ADDRSTRLEN];
    const char *colon = strrchr(text, ':');
    uint64_t port;
    uint32_t ip;
    if (colon == NULL || (size_t)(colon - text) >= sizeof(host))
        return false;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    if (!parse_ipv4(host, &ip) || !in_loopback(ip) ||
        cordon_parse_u64(colon + 1, 1, 65535, &port) != CORDON_OK)
        return false;
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_addr.s_addr = htonl(ip);
    out->sin_port = htons((uint16_t)port);
    return true;
}

/* A UDP socket bound to source address number i (port 0: any). -1 on failure. */
static int source_socket(const struct opts *o, uint64_t i, bool nonblock)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(o->first_source + (uint32_t)i);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (const struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Keeps the send rate at or under pps: before datagram number n, waits until n / pps
 * seconds have passed since start_ms. */
static void pace(const struct opts *o, uint64_t start_ms, uint64_t n)
{
    uint64_t due = start_ms + n * 1000u / o->pps;
    uint64_t now = cordon_runtime_now_ms();
    if (due > now)
        sleep_ms(due - now);
}

static bool send_to(int fd, const struct sockaddr_in *to, const uint8_t *data, size_t len)
{
    ssize_t n;
    do {
        n = sendto(fd, data, len, 0, (const struct sockaddr *)to, sizeof(*to));
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)len;
}

/* What came back from the peer, by the DTLS header of each datagram's first record. */
struct replies {
    uint64_t datagrams;
    uint64_t hello_verify;
    uint64_t server_hello; /* the first datagram of a server flight */
    uint64_t handshake_other;
    uint64_t alerts;
    uint64_t other;
};

/* Classifies one datagram from the peer. Untrusted bytes: read through the bounded reader. */
static void classify(struct replies *r, const uint8_t *data, size_t len)
{
    cordon_reader rd, rec;
    uint8_t type, seq[6], msg_type;
    uint16_t version, epoch;

    r->datagrams++;
    cordon_reader_init(&rd, data, len);
    if (cordon_read_u8(&rd, &type) != CORDON_OK || cordon_read_u16(&rd, &version) != CORDON_OK ||
        cordon_read_u16(&rd, &epoch) != CORDON_OK ||
        cordon_read_bytes(&rd, seq, sizeof(seq)) != CORDON_OK ||
        cordon_read_sub(&rd, 2, CORDON_LINK_DATAGRAM_MAX, &rec) != CORDON_OK) {
        r->other++;
        return;
    }
    if (type == CT_ALERT) {
        r->alerts++;
    } else if (type == CT_HANDSHAKE && epoch == 0 && cordon_read_u8(&rec, &msg_type) == CORDON_OK) {
        if (msg_type == HS_HELLO_VERIFY)
            r->hello_verify++;
        else if (msg_type == HS_SERVER_HELLO)
            r->server_hello++;
        else
            r->handshake_other++;
    } else {
        r->other++;
    }
}

/* Reads (and classifies) whatever waits on fd without blocking; bounded by a count. */
static void drain(int fd, struct replies *r)
{
    uint8_t buf[CORDON_LINK_DATAGRAM_MAX + 1];
    for (int i = 0; i < 4096; i++) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return; /* EAGAIN, or an ICMP error of an earlier send */
        classify(r, buf, (size_t)n);
    }
}

/* Reads replies on every socket until ms passed. */
static void collect(const int *fds, size_t nfds, struct replies *r, uint64_t ms)
{
    uint64_t until = cordon_runtime_now_ms() + ms;
    while (cordon_runtime_now_ms() < until) {
        for (size_t i = 0; i < nfds; i++)
            if (fds[i] >= 0)
                drain(fds[i], r);
        sleep_ms(5);
    }
}

static json_t *replies_json(const struct replies *r)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "datagrams", (json_int_t)r->datagrams,
                     "hello_verify_requests", (json_int_t)r->hello_verify, "server_hellos",
                     (json_int_t)r->server_hello, "handshake_other", (json_int_t)r->handshake_other,
                     "alerts", (json_int_t)r->alerts, "other", (json_int_t)r->other);
}

static int print_json(json_t *o)
{
    if (o == NULL || json_dumpf(o, stdout, JSON_COMPACT) != 0) {
        json_decref(o);
        fprintf(stderr, "%s: could not write the result\n", PROG);
        return 1;
    }
    json_decref(o);
    printf("\n");
    return fflush(stdout) == 0 ? 0 : 1;
}

static void openssl_errors(const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "no detail";
    if (e != 0)
        ERR_error_string_n(e, buf, sizeof(buf));
    fprintf(stderr, "%s: %s: %s\n", PROG, what, buf);
    ERR_clear_error();
}

/* ---- ClientHellos made by OpenSSL in memory ------------------------------------------------ */

/* A DTLS 1.2 client context offering what a cordon peer accepts. certificate: none (a
 * flood never gets that far). */
static SSL_CTX *hello_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());
    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256:"
                                     "ECDHE-ECDSA-AES256-GCM-SHA384:"
                                     "ECDHE-ECDSA-CHACHA20-POLY1305") != 1 ||
        SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    return ctx;
}

/* A client SSL over two memory BIOs, not yet started. */
static SSL *hello_ssl(SSL_CTX *ctx)
{
    SSL *ssl = SSL_new(ctx);
    BIO *rb = BIO_new(BIO_s_mem());
    BIO *wb = BIO_new(BIO_s_mem());
    if (ssl == NULL || rb == NULL || wb == NULL) {
        SSL_free(ssl);
        BIO_free(rb);
        BIO_free(wb);
        return NULL;
    }
    BIO_set_mem_eof_return(rb, -1);
    SSL_set_bio(ssl, rb, wb);
    SSL_set_connect_state(ssl);
    if (SSL_set_mtu(ssl, HANDSHAKE_MTU) <= 0) {
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

/* Runs the client one step and takes what it wrote: one flight of the handshake (the
 * ClientHello, or the ClientHello with the cookie after the HelloVerifyRequest was fed in).
 * Returns its length, 0 when nothing came out or it does not fit cap. */
static size_t hello_step(SSL *ssl, uint8_t *out, size_t cap)
{
    int r = SSL_connect(ssl);
    if (r != 1 && SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ)
        return 0;
    BIO *wb = SSL_get_wbio(ssl);
    size_t pending = BIO_ctrl_pending(wb);
    if (pending == 0 || pending > cap)
        return 0;
    int n = BIO_read(wb, out, (int)pending);
    return n == (int)pending ? (size_t)n : 0;
}

/* One fresh ClientHello (a new client random each time). */
static size_t make_hello(SSL_CTX *ctx, uint8_t *out, size_t cap)
{
    SSL *ssl = hello_ssl(ctx);
    size_t n = ssl != NULL ? hello_step(ssl, out, cap) : 0;
    SSL_free(ssl);
    return n;
}

/* ---- handshake-flood ---------------------------------------------------------------------- */

static int handshake_flood_silent(const struct opts *o, SSL_CTX *ctx)
{
    int *fds = calloc(o->sources, sizeof(*fds));
    struct replies r = {0};
    uint64_t sent = 0, failed = 0;
    int rc = 1;
    if (fds == NULL)
        goto out;
    for (uint64_t i = 0; i < o->sources; i++)
        fds[i] = -1;
    for (uint64_t i = 0; i < o->sources; i++) {
        fds[i] = source_socket(o, i, true);
        if (fds[i] < 0) {
            fprintf(stderr, "%s: cannot bind source %" PRIu64 ": %s\n", PROG, i, strerror(errno));
            goto out;
        }
    }
    uint64_t start = cordon_runtime_now_ms();
    for (uint64_t j = 0; j < o->count; j++) {
        uint8_t hello[CORDON_LINK_DATAGRAM_MAX];
        size_t len = make_hello(ctx, hello, sizeof(hello));
        if (len == 0) {
            openssl_errors("no ClientHello came out of OpenSSL");
            goto out;
        }
        pace(o, start, j);
        if (send_to(fds[j % o->sources], &o->target, hello, len))
            sent++;
        else
            failed++;
        drain(fds[j % o->sources], &r);
    }
    collect(fds, o->sources, &r, WAIT_REPLY_MS);
    rc = print_json(json_pack("{s:s, s:I, s:I, s:I, s:o}", "mode", "handshake-flood", "sources",
                              (json_int_t)o->sources, "sent", (json_int_t)sent, "send_failed",
                              (json_int_t)failed, "received", replies_json(&r)));
out:
    for (uint64_t i = 0; fds != NULL && i < o->sources; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    return rc;
}

struct hs {
    int fd;
    SSL *ssl;
    bool answered;
};

/* Reads what waits on one handshake's socket; the first HelloVerifyRequest is answered with
 * the ClientHello that carries its cookie. Returns false when OpenSSL fails. */
static bool hs_read(const struct opts *o, struct hs *h, struct replies *r, uint64_t *replies)
{
    uint8_t buf[CORDON_LINK_DATAGRAM_MAX + 1], out[CORDON_LINK_DATAGRAM_MAX];
    for (int i = 0; i < 256; i++) {
        ssize_t n = recv(h->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return true;
        uint64_t before = r->hello_verify;
        classify(r, buf, (size_t)n);
        if (r->hello_verify == before || h->answered || (size_t)n > CORDON_LINK_DATAGRAM_MAX)
            continue;
        h->answered = true;
        if (BIO_write(SSL_get_rbio(h->ssl), buf, (int)n) != (int)n)
            return false;
        size_t len = hello_step(h->ssl, out, sizeof(out));
        if (len == 0)
            return false;
        if (send_to(h->fd, &o->target, out, len))
            (*replies)++;
    }
    return true;
}

/* All ClientHellos first (each handshake on its own port, sources taking turns), then for
 * WAIT_REPLY_MS every HelloVerifyRequest that comes back is answered with its cookie; after
 * that the clients say nothing more, and what the peer sends (its flight, retransmitted)
 * is counted for as long again. */
static int handshake_flood_cookies(const struct opts *o, SSL_CTX *ctx)
{
    struct hs *hs = calloc(o->count, sizeof(*hs));
    struct pollfd *p = calloc(o->count, sizeof(*p));
    int *fds = calloc(o->count, sizeof(*fds));
    struct replies r = {0};
    uint64_t hellos = 0, cookie_replies = 0, answered = 0;
    int rc = 1;
    if (hs == NULL || p == NULL || fds == NULL)
        goto out;
    for (uint64_t j = 0; j < o->count; j++)
        hs[j].fd = -1;
    uint64_t start = cordon_runtime_now_ms();
    for (uint64_t j = 0; j < o->count; j++) {
        uint8_t buf[CORDON_LINK_DATAGRAM_MAX];
        hs[j].fd = source_socket(o, j % o->sources, true);
        hs[j].ssl = hello_ssl(ctx);
        if (hs[j].fd < 0 || hs[j].ssl == NULL) {
            fprintf(stderr, "%s: handshake %" PRIu64 ": no socket or SSL\n", PROG, j);
            goto out;
        }
        size_t len = hello_step(hs[j].ssl, buf, sizeof(buf));
        pace(o, start, j);
        if (len == 0 || !send_to(hs[j].fd, &o->target, buf, len)) {
            openssl_errors("ClientHello");
            goto out;
        }
        hellos++;
        p[j].fd = hs[j].fd;
        p[j].events = POLLIN;
    }
    for (uint64_t until = cordon_runtime_now_ms() + WAIT_REPLY_MS;;) {
        uint64_t now = cordon_runtime_now_ms();
        if (now >= until)
            break;
        if (poll(p, (nfds_t)o->count, (int)(until - now)) <= 0)
            continue;
        for (uint64_t j = 0; j < o->count; j++) {
            if ((p[j].revents & POLLIN) && !hs_read(o, &hs[j], &r, &cookie_replies)) {
                openssl_errors("ClientHello with the cookie");
                goto out;
            }
        }
    }
    for (uint64_t j = 0; j < o->count; j++)
        answered += hs[j].answered;
    for (uint64_t j = 0; j < o->count; j++)
        fds[j] = hs[j].fd;
    collect(fds, o->count, &r, WAIT_REPLY_MS);
    rc = print_json(json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:o}", "mode", "handshake-flood",
                              "answer_cookies", 1, "sources", (json_int_t)o->sources, "hellos",
                              (json_int_t)hellos, "no_hello_verify",
                              (json_int_t)(hellos - answered), "cookie_replies",
                              (json_int_t)cookie_replies, "received", replies_json(&r)));
out:
    for (uint64_t j = 0; hs != NULL && j < o->count; j++) {
        SSL_free(hs[j].ssl);
        if (hs[j].fd >= 0)
            close(hs[j].fd);
    }
    free(hs);
    free(p);
    free(fds);
    return rc;
}

/* ---- dtls-garbage ------------------------------------------------------------------------- */

/* Datagrams by what they are. must_garbage: refused before OpenSSL sees them (the link's
 * is_client_hello parse fails); hello_like: still shaped like a ClientHello, so OpenSSL's
 * DTLSv1_listen judges them (a HelloVerifyRequest or a drop); oversize: over
 * CORDON_LINK_DATAGRAM_MAX. */
struct garbage {
    const struct opts *o;
    int *fds;
    uint64_t start;
    uint64_t n;
    uint64_t must_garbage, hello_like, oversize, failed;
    struct replies r;
};

static void g_send(struct garbage *g, const uint8_t *data, size_t len, uint64_t *category)
{
    int fd = g->fds[g->n % g->o->sources];
    pace(g->o, g->start, g->n);
    g->n++;
    if (send_to(fd, &g->o->target, data, len))
        (*category)++;
    else
        g->failed++;
    drain(fd, &g->r);
}

/* A copy of hello with the 16-bit field at off set to v. */
static void g_field16(struct garbage *g, const uint8_t *hello, size_t len, size_t off, uint16_t v,
                      uint64_t *category)
{
    uint8_t b[CORDON_LINK_DATAGRAM_MAX];
    memcpy(b, hello, len);
    b[off] = (uint8_t)(v >> 8);
    b[off + 1] = (uint8_t)v;
    g_send(g, b, len, category);
}

static int dtls_garbage(const struct opts *o, SSL_CTX *ctx)
{
    struct garbage g = {.o = o};
    uint8_t hello[CORDON_LINK_DATAGRAM_MAX], b[CORDON_LINK_DATAGRAM_MAX + 512];
    size_t len;
    int rc = 1;

    g.fds = calloc(o->sources, sizeof(*g.fds));
    if (g.fds == NULL)
        return 1;
    for (uint64_t i = 0; i < o->sources; i++)
        g.fds[i] = -1;
    for (uint64_t i = 0; i < o->sources; i++) {
        g.fds[i] = source_socket(o, i, true);
        if (g.fds[i] < 0)
            goto out;
    }
    len = make_hello(ctx, hello, sizeof(hello));
    if (len <= DTLS_HEADER_LEN + DTLS_HS_HEADER_LEN + 2 + 32) {
        openssl_errors("no ClientHello came out of OpenSSL");
        goto out;
    }
    g.start = cordon_runtime_now_ms();

    /* Every truncation: the record's length field then claims more than is there. */
    for (size_t cut = 1; cut < len; cut++)
        g_send(&g, hello, cut, &g.must_garbage);
    /* The empty datagram. */
    g_send(&g, hello, 0, &g.must_garbage);
    /* Header fields, one at a time: content type, record version, epoch, record length
     * (too long and too short), handshake type, fragment offset, fragment length. */
    for (uint8_t t = 0; t < 8; t++) {
        uint8_t types[8] = {0, 20, 21, 23, 24, 25, 0x80, 0xff};
        memcpy(b, hello, len);
        b[0] = types[t];
        g_send(&g, b, len, &g.must_garbage);
    }
    g_field16(&g, hello, len, 1, 0x0303, &g.must_garbage); /* TLS 1.2, not DTLS */
    g_field16(&g, hello, len, 1, 0xfefc, &g.must_garbage); /* DTLS 1.3 */
    g_field16(&g, hello, len, 3, 1, &g.must_garbage);      /* epoch 1 */
    g_field16(&g, hello, len, 3, 0xffff, &g.must_garbage);
    g_field16(&g, hello, len, 11, (uint16_t)(len - DTLS_HEADER_LEN + 1), &g.must_garbage);
    g_field16(&g, hello, len, 11, 0xffff, &g.must_garbage);
    g_field16(&g, hello, len, 11, 0, &g.must_garbage);
    for (uint8_t t = 0; t < 4; t++) {
        uint8_t hs_types[4] = {0, HS_SERVER_HELLO, HS_HELLO_VERIFY, 16};
        memcpy(b, hello, len);
        b[DTLS_HEADER_LEN] = hs_types[t];
        g_send(&g, b, len, &g.must_garbage);
    }
    memcpy(b, hello, len);
    b[DTLS_HEADER_LEN + 8] = 1; /* fragment offset 1 */
    g_send(&g, b, len, &g.must_garbage);
    memcpy(b, hello, len);
    b[DTLS_HEADER_LEN + 11] ^= 1; /* fragment length differs from the message length */
    g_send(&g, b, len, &g.must_garbage);
    /* The hello cut into two handshake fragments, sent as two datagrams. */
    {
        size_t body = len - DTLS_HEADER_LEN - DTLS_HS_HEADER_LEN, half = body / 2;
        for (int part = 0; part < 2; part++) {
            size_t off = part == 0 ? 0 : half, flen = part == 0 ? half : body - half;
            size_t rlen = DTLS_HS_HEADER_LEN + flen;
            memcpy(b, hello, DTLS_HEADER_LEN + DTLS_HS_HEADER_LEN);
            b[11] = (uint8_t)(rlen >> 8);
            b[12] = (uint8_t)rlen;
            b[DTLS_HEADER_LEN + 6] = 0;
            b[DTLS_HEADER_LEN + 7] = (uint8_t)(off >> 8);
            b[DTLS_HEADER_LEN + 8] = (uint8_t)off;
            b[DTLS_HEADER_LEN + 9] = 0;
            b[DTLS_HEADER_LEN + 10] = (uint8_t)(flen >> 8);
            b[DTLS_HEADER_LEN + 11] = (uint8_t)flen;
            memcpy(b + DTLS_HEADER_LEN + DTLS_HS_HEADER_LEN,
                   hello + DTLS_HEADER_LEN + DTLS_HS_HEADER_LEN + off, flen);
            g_send(&g, b, DTLS_HEADER_LEN + rlen, &g.must_garbage);
        }
    }
    /* Still hello-shaped: one bit flipped in every byte past the fields checked above
     * (version, random, session id, cookie, suites, extensions), and trailing bytes. */
    for (size_t i = DTLS_HEADER_LEN + DTLS_HS_HEADER_LEN; i < len; i++) {
        memcpy(b, hello, len);
        b[i] ^= (uint8_t)(1u << (i % 8));
        g_send(&g, b, len, &g.hello_like);
    }
    memcpy(b, hello, len);
    memset(b + len, 0xa5, 64);
    g_send(&g, b, len + 64, &g.hello_like);
    /* Over the datagram cap: the hello padded to 1233 bytes and to more. */
    for (size_t extra = 1; extra <= 257; extra += 64) {
        size_t n = CORDON_LINK_DATAGRAM_MAX + extra;
        memcpy(b, hello, len);
        memset(b + len, 0, n - len);
        g_send(&g, b, n, &g.oversize);
    }

    collect(g.fds, o->sources, &g.r, WAIT_REPLY_MS);
    rc = print_json(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "mode",
                              "dtls-garbage", "sources", (json_int_t)o->sources, "hello_len",
                              (json_int_t)len, "sent", (json_int_t)(g.n - g.failed),
                              "must_be_garbage", (json_int_t)g.must_garbage, "hello_like",
                              (json_int_t)g.hello_like, "oversize", (json_int_t)g.oversize,
                              "send_failed", (json_int_t)g.failed, "received", replies_json(&g.r)));
out:
    for (uint64_t i = 0; i < o->sources; i++)
        if (g.fds[i] >= 0)
            close(g.fds[i]);
    free(g.fds);
    return rc;
}

/* ---- frag-flood ----------------------------------------------------------------------------- */

/* What a round sends, by the counter of wire/frag.h each record must land in. */
enum fcat {
    F_FRAGMENT,  /* stored into a reassembly */
    F_DUPLICATE, /* an index already stored */
    F_MALFORMED, /* index out of range, count or length not the one total gives, total fits WHOLE */
    F_TOO_LARGE, /* declared total over CORDON_FRAG_MSG_MAX */
    F_TRUNCATED, /* shorter than the fragment header */
    F_KIND,      /* unknown kind byte */
    F_OVERSIZE,  /* a record over CORDON_RECORD_MAX (it still fits the datagram) */
    F_MISMATCH,  /* another total for a msg_id being reassembled */
    F_REPLAY,    /* a msg_id retired by the mismatch */
    F_COUNT
};

static const char *const fcat_names[F_COUNT] = {
    "fragments", "duplicate", "malformed", "too_large", "truncated",
    "kind",      "oversize",  "mismatch",  "replay",
};

struct flink {
    int fd;
    SSL *ssl;
    uint32_t next_id;
    uint64_t cats[F_COUNT];
    uint64_t records, write_failed, read_records;
};

struct fflood {
    const struct opts *o;
    struct flink *links;
    size_t n;
    uint64_t start, sent;
};

/* FRAGMENT header + data_len bytes of filler into rec; returns the record length. */
static size_t frag_record(uint8_t *rec, uint32_t id, uint16_t index, uint16_t count, uint32_t total,
                          size_t data_len)
{
    rec[0] = CORDON_FRAG_KIND_FRAGMENT;
    rec[1] = (uint8_t)(id >> 24);
    rec[2] = (uint8_t)(id >> 16);
    rec[3] = (uint8_t)(id >> 8);
    rec[4] = (uint8_t)id;
    rec[5] = (uint8_t)(index >> 8);
    rec[6] = (uint8_t)index;
    rec[7] = (uint8_t)(count >> 8);
    rec[8] = (uint8_t)count;
    rec[9] = (uint8_t)(total >> 24);
    rec[10] = (uint8_t)(total >> 16);
    rec[11] = (uint8_t)(total >> 8);
    rec[12] = (uint8_t)total;
    memset(rec + CORDON_FRAG_HEADER_LEN, (int)(0x40 + (index & 0x3f)), data_len);
    return CORDON_FRAG_HEADER_LEN + data_len;
}

/* Reads (and counts) whatever records wait on the link, without blocking. */
static void f_drain(struct flink *l)
{
    uint8_t buf[CORDON_LINK_DATAGRAM_MAX];
    for (int i = 0; i < 256; i++) {
        struct pollfd p = {.fd = l->fd, .events = POLLIN};
        if (poll(&p, 1, 0) <= 0)
            return;
        int n = SSL_read(l->ssl, buf, (int)sizeof(buf));
        if (n > 0)
            l->read_records++;
        else if (SSL_get_error(l->ssl, n) != SSL_ERROR_WANT_READ)
            return;
        ERR_clear_error();
    }
}

static void f_send(struct fflood *f, struct flink *l, const uint8_t *rec, size_t len, enum fcat c)
{
    pace(f->o, f->start, f->sent);
    f->sent++;
    if (SSL_write(l->ssl, rec, (int)len) == (int)len) {
        l->records++;
        l->cats[c]++;
    } else {
        l->write_failed++;
        ERR_clear_error();
    }
    if (f->sent % 64 == 0)
        f_drain(l);
}

/* The first part of a round, on every link at once: a fresh message of the largest size,
 * sent one fragment short (its buffer reserved and filled, never delivered). The links take
 * turns fragment by fragment, so that every remote holds its previous message and fills the
 * new one at the same time: 2 * CORDON_FRAG_MSG_MAX per remote. */
static void f_round_big(struct fflood *f)
{
    static uint8_t rec[CORDON_LINK_DATAGRAM_MAX];
    const uint32_t big = CORDON_FRAG_MSG_MAX;
    const uint16_t big_count = (uint16_t)cordon_frag_count(big);

    for (uint16_t i = 0; i + 1 < big_count; i++)
        for (size_t k = 0; k < f->n; k++)
            f_send(f, &f->links[k], rec,
                   frag_record(rec, f->links[k].next_id, i, big_count, big, CORDON_FRAG_DATA_MAX),
                   F_FRAGMENT);
}

/* The rest of a round, link by link: one record of every refused kind, aimed at the message
 * f_round_big just sent (its id is next_id), then a small message abandoned and replayed. */
static void f_round_refused(struct fflood *f, struct flink *l, uint64_t round)
{
    static uint8_t rec[CORDON_LINK_DATAGRAM_MAX];
    const uint32_t big = CORDON_FRAG_MSG_MAX;
    const uint16_t big_count = (uint16_t)cordon_frag_count(big);
    uint32_t a = l->next_id++, b = l->next_id++;
    size_t n;

    /* Duplicates of the first fragment. */
    n = frag_record(rec, a, 0, big_count, big, CORDON_FRAG_DATA_MAX);
    f_send(f, l, rec, n, F_DUPLICATE);
    f_send(f, l, rec, n, F_DUPLICATE);
    /* Out of range and inconsistent: index = count, a count that total does not give, a
     * total that fits a WHOLE record, a data length that is not the one index gives. */
    f_send(f, l, rec, frag_record(rec, a, big_count, big_count, big, CORDON_FRAG_DATA_MAX),
           F_MALFORMED);
    f_send(f, l, rec, frag_record(rec, a, 0, (uint16_t)(big_count + 1), big, CORDON_FRAG_DATA_MAX),
           F_MALFORMED);
    f_send(f, l, rec, frag_record(rec, a + 0x10000, 0, 2, CORDON_RECORD_PAYLOAD, 100), F_MALFORMED);
    f_send(f, l, rec, frag_record(rec, a, 1, big_count, big, 17), F_MALFORMED);
    /* Declared totals over the cap, up to the largest a u32 can say. */
    f_send(f, l, rec, frag_record(rec, a + 0x20000, 0, 112, big + 1, CORDON_FRAG_DATA_MAX),
           F_TOO_LARGE);
    f_send(f, l, rec, frag_record(rec, a + 0x20000, 0, 0xffff, 0xffffffffu, CORDON_FRAG_DATA_MAX),
           F_TOO_LARGE);
    /* Cut inside the 13-byte header. */
    frag_record(rec, a, 0, big_count, big, 0);
    f_send(f, l, rec, 1 + round % (CORDON_FRAG_HEADER_LEN - 1), F_TRUNCATED);
    /* Unknown kinds. */
    memset(rec, 0x33, 64);
    rec[0] = 0;
    f_send(f, l, rec, 64, F_KIND);
    rec[0] = 0xff;
    f_send(f, l, rec, 64, F_KIND);
    /* A WHOLE record over CORDON_RECORD_MAX, as long as the datagram allows. */
    memset(rec, 0x5a, sizeof(rec));
    rec[0] = CORDON_FRAG_KIND_WHOLE;
    f_send(f, l, rec, CORDON_RECORD_MAX + 1 + round % (CHACHA_PLAINTEXT_MAX - CORDON_RECORD_MAX),
           F_OVERSIZE);
    /* A small fragmented message (two fragments): the first is stored, the second declares
     * another total (the message is abandoned and b retired), then b comes back (replay). */
    f_send(f, l, rec, frag_record(rec, b, 0, 2, 2000, CORDON_FRAG_DATA_MAX), F_FRAGMENT);
    f_send(f, l, rec, frag_record(rec, b, 1, 3, 3000, CORDON_FRAG_DATA_MAX), F_MISMATCH);
    f_send(f, l, rec, frag_record(rec, b, 1, 2, 2000, 2000 - CORDON_FRAG_DATA_MAX), F_REPLAY);
}

/* A DTLS 1.2 link to the peer with the identity in DIR, from source address number i. */
static bool f_connect(const struct opts *o, SSL_CTX *ctx, uint64_t i, struct flink *l)
{
    l->fd = source_socket(o, i, false);
    if (l->fd < 0 || connect(l->fd, (const struct sockaddr *)&o->target, sizeof(o->target)) != 0)
        return false;
    BIO *bio = BIO_new_dgram(l->fd, BIO_NOCLOSE);
    l->ssl = SSL_new(ctx);
    if (bio == NULL || l->ssl == NULL) {
        BIO_free(bio);
        return false;
    }
    BIO_ADDR *peer = BIO_ADDR_new();
    bool set = peer != NULL &&
               BIO_ADDR_rawmake(peer, AF_INET, &o->target.sin_addr, sizeof(o->target.sin_addr),
                                o->target.sin_port) == 1 &&
               BIO_ctrl_set_connected(bio, peer) == 1;
    BIO_ADDR_free(peer);
    if (!set) {
        BIO_free(bio);
        return false;
    }
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_RECV_TIMEOUT, 0, &tv);
    SSL_set_bio(l->ssl, bio, bio);
    if (SSL_set_mtu(l->ssl, HANDSHAKE_MTU) <= 0)
        return false;
    /* Bounded: 150 waits of at most 100 ms, retransmitting as OpenSSL's timer says. */
    for (int tries = 0; tries < 150; tries++) {
        int r = SSL_connect(l->ssl);
        if (r == 1) {
            tv.tv_usec = 1000; /* from now on reads only take what is waiting */
            BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_RECV_TIMEOUT, 0, &tv);
            return true;
        }
        if (SSL_get_error(l->ssl, r) != SSL_ERROR_WANT_READ)
            return false;
        (void)DTLSv1_handle_timeout(l->ssl);
    }
    return false;
}

static SSL_CTX *frag_ctx(const char *dir)
{
    char crt[CORDON_PATH_MAX], key[CORDON_PATH_MAX];
    if (cordon_path_join(crt, dir, "node.crt") != CORDON_OK ||
        cordon_path_join(key, dir, "node.key") != CORDON_OK)
        return NULL;
    SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());
    /* ChaCha20-Poly1305 only: its records carry 8 bytes less overhead than AES-GCM's, so a
     * record over CORDON_RECORD_MAX still fits one datagram and reaches the reassembler. */
    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-CHACHA20-POLY1305") != 1 ||
        SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1 ||
        SSL_CTX_use_certificate_file(ctx, crt, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
    /* The attacker does not care who the peer is. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    return ctx;
}

static int frag_flood(const struct opts *o)
{
    struct fflood f = {.o = o};
    SSL_CTX *ctx = frag_ctx(o->dir);
    int rc = 1;
    size_t up = 0;

    if (ctx == NULL) {
        openssl_errors("cannot load DIR/node.crt and DIR/node.key");
        return 1;
    }
    f.links = calloc(o->links, sizeof(*f.links));
    if (f.links == NULL)
        goto out;
    for (uint64_t i = 0; i < o->links; i++) {
        f.links[i].fd = -1;
        f.links[i].next_id = 1;
    }
    f.n = o->links;
    for (uint64_t i = 0; i < o->links; i++) {
        if (!f_connect(o, ctx, i, &f.links[i])) {
            openssl_errors("handshake with the peer failed");
            goto out;
        }
        up++;
    }
    f.start = cordon_runtime_now_ms();
    for (uint64_t round = 0; round < o->rounds; round++) {
        f_round_big(&f);
        for (size_t i = 0; i < f.n; i++)
            f_round_refused(&f, &f.links[i], round);
    }
    uint64_t elapsed = cordon_runtime_now_ms() - f.start;
    for (size_t i = 0; i < f.n; i++)
        f_drain(&f.links[i]);

    json_t *cats = json_object();
    uint64_t total[F_COUNT] = {0}, records = 0, failed = 0, read_records = 0;
    for (size_t i = 0; i < f.n; i++) {
        for (int c = 0; c < F_COUNT; c++)
            total[c] += f.links[i].cats[c];
        records += f.links[i].records;
        failed += f.links[i].write_failed;
        read_records += f.links[i].read_records;
    }
    for (int c = 0; cats != NULL && c < F_COUNT; c++)
        json_object_set_new(cats, fcat_names[c], json_integer((json_int_t)total[c]));
    rc = print_json(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "mode", "frag-flood",
                              "links", (json_int_t)up, "rounds", (json_int_t)o->rounds, "records",
                              (json_int_t)records, "write_failed", (json_int_t)failed,
                              "records_received", (json_int_t)read_records, "elapsed_ms",
                              (json_int_t)elapsed, "sent", cats));
out:
    for (size_t i = 0; f.links != NULL && i < o->links; i++) {
        if (f.links[i].ssl != NULL) {
            SSL_set_quiet_shutdown(f.links[i].ssl, 1);
            SSL_free(f.links[i].ssl);
        }
        if (f.links[i].fd >= 0)
            close(f.links[i].fd);
    }
    free(f.links);
    SSL_CTX_free(ctx);
    return rc;
}

/* ---- budget -----------------------------------------------------------------------------------
 */

/*
 * The memory a peer may add under these floods, from the caps (common/limits.h, the link
 * table's defaults) and the buffers OpenSSL allocates per DTLS connection:
 *
 *   link: one DTLS SSL object. OpenSSL sizes its read and its write record buffer for the
 *         largest record it could meet (SSL3_RT_MAX_PACKET_SIZE each, whatever our 1232-byte
 *         datagrams), and grows its handshake message buffer to SSL3_RT_MAX_PLAIN_LENGTH
 *         when a handshake starts. The peer's certificate is at most CORDON_CERT_MAX (held
 *         as DER and parsed); a link queues at most CORDON_LINK_PENDING_MAX bytes. All of
 *         that, doubled for OpenSSL's own structures (handshake transcript, keys, the
 *         retransmission queue) and the allocator's rounding.
 *   handshake flood, silent: no state per source (cookies are stateless); the one listener
 *         SSL the table keeps anyway is a link.
 *   handshake flood, answering cookies: at most max_half_open links at once, plus the
 *         listener.
 *   frag flood with L links: L links, their remotes' reassemblers (struct + at most
 *         CORDON_FRAG_BUFFERED_MAX each), all buffers together within
 *         CORDON_FRAG_PEER_BUFFERED_MAX (the shared budget).
 */
static json_t *budget(uint64_t links)
{
    struct cordon_link_config lc;
    cordon_link_config_default(&lc);
    uint64_t link = 2 * (2 * (uint64_t)SSL3_RT_MAX_PACKET_SIZE + SSL3_RT_MAX_PLAIN_LENGTH +
                         2 * CORDON_CERT_MAX + CORDON_LINK_PENDING_MAX);
    uint64_t rx_struct = cordon_frag_rx_memory_max() - CORDON_FRAG_BUFFERED_MAX;
    uint64_t per_remote = cordon_frag_rx_memory_max();
    uint64_t frag = links * per_remote;
    if (frag > CORDON_FRAG_PEER_BUFFERED_MAX + links * rx_struct)
        frag = CORDON_FRAG_PEER_BUFFERED_MAX + links * rx_struct;
    return json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "asan", ASAN_BUILD,
                     "link_bytes", (json_int_t)link, "max_half_open", (json_int_t)lc.max_half_open,
                     "max_links", (json_int_t)lc.max_links, "frag_peer_max",
                     (json_int_t)CORDON_FRAG_PEER_BUFFERED_MAX, "frag_remote_max",
                     (json_int_t)per_remote, "handshake_silent_bytes", (json_int_t)link,
                     "handshake_cookies_bytes", (json_int_t)((lc.max_half_open + 1) * link),
                     "frag_bytes", (json_int_t)(links * link + frag));
}

/* ---- main -------------------------------------------------------------------------------------
 */

int main(int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"target", required_argument, NULL, 't'},
        {"sources", required_argument, NULL, 's'},
        {"count", required_argument, NULL, 'c'},
        {"answer-cookies", no_argument, NULL, 'a'},
        {"dir", required_argument, NULL, 'd'},
        {"links", required_argument, NULL, 'l'},
        {"rounds", required_argument, NULL, 'r'},
        {"first-source", required_argument, NULL, 'f'},
        {"pps", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct opts o = {.sources = 1, .count = 1, .links = 1, .rounds = 20, .pps = 20000};
    int c;

    if (!parse_ipv4("127.66.0.1", &o.first_source))
        return 1;
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc < 2)
        return cordon_cli_fail(PROG, "a mode is required");
    o.mode = argv[1];
    optind = 2;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (!parse_target(optarg, &o.target))
                return cordon_cli_fail(PROG, "--target: expected 127.x.y.z:PORT");
            o.has_target = true;
            break;
        case 's':
            if (cordon_parse_u64(optarg, 1, SOURCES_MAX, &o.sources) != CORDON_OK)
                return cordon_cli_fail(PROG, "--sources: 1..%d", SOURCES_MAX);
            break;
        case 'c':
            if (cordon_parse_u64(optarg, 1, COUNT_MAX, &o.count) != CORDON_OK)
                return cordon_cli_fail(PROG, "--count: 1..%d", COUNT_MAX);
            break;
        case 'a':
            o.answer_cookies = true;
            break;
        case 'd':
            o.dir = optarg;
            break;
        case 'l':
            if (cordon_parse_u64(optarg, 1, LINKS_MAX, &o.links) != CORDON_OK)
                return cordon_cli_fail(PROG, "--links: 1..%d", LINKS_MAX);
            break;
        case 'r':
            if (cordon_parse_u64(optarg, 1, 100000, &o.rounds) != CORDON_OK)
                return cordon_cli_fail(PROG, "--rounds: 1..100000");
            break;
        case 'f':
            if (!parse_ipv4(optarg, &o.first_source) || !in_loopback(o.first_source))
                return cordon_cli_fail(PROG, "--first-source: an address in 127/8");
            break;
        case 'p':
            if (cordon_parse_u64(optarg, 1, 10000000, &o.pps) != CORDON_OK)
                return cordon_cli_fail(PROG, "--pps: 1..10000000");
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            return cordon_cli_fail(PROG, "unknown option");
        }
    }
    if (optind != argc)
        return cordon_cli_fail(PROG, "unexpected argument '%s'", argv[optind]);
    /* The last source must stay inside 127/8 (and never wrap). */
    uint64_t span = strcmp(o.mode, "frag-flood") == 0 ? o.links : o.sources;
    if ((uint64_t)o.first_source + span - 1 > 0x7fffffffu)
        return cordon_cli_fail(PROG, "the source addresses leave 127/8");

    if (strcmp(o.mode, "budget") == 0)
        return print_json(budget(o.links));
    if (!o.has_target)
        return cordon_cli_fail(PROG, "%s needs --target", o.mode);
    if (strcmp(o.mode, "frag-flood") == 0) {
        if (o.dir == NULL)
            return cordon_cli_fail(PROG, "frag-flood needs --dir");
        return frag_flood(&o);
    }
    if (strcmp(o.mode, "handshake-flood") != 0 && strcmp(o.mode, "dtls-garbage") != 0)
        return cordon_cli_fail(PROG, "unknown mode '%s'", o.mode);
    if (o.answer_cookies && o.count > HANDSHAKES_MAX)
        return cordon_cli_fail(PROG, "--answer-cookies: --count at most %d", HANDSHAKES_MAX);
    SSL_CTX *ctx = hello_ctx();
    if (ctx == NULL) {
        openssl_errors("DTLS client context");
        return 1;
    }
    int rc = strcmp(o.mode, "dtls-garbage") == 0 ? dtls_garbage(&o, ctx)
             : o.answer_cookies                  ? handshake_flood_cookies(&o, ctx)
                                                 : handshake_flood_silent(&o, ctx);
    SSL_CTX_free(ctx);
    return rc;
}
