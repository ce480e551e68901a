/*
 * bench/enroll_load.c — `cordon-bench-enroll`: a closed-loop load generator for
 * POST /v1/enroll over HTTPS with keep-alive.
 *
 * N threads (default 16), each with one libcurl easy handle that it reuses, so each
 * thread holds one TLS connection for the whole run (checked with CURLINFO_NUM_CONNECTS
 * and reported). The CSRs are made before the run (P-256, with the project's crypto) and
 * sent round-robin. After a warm-up, the answers that complete within the measured window
 * are counted; 201 answers are enrollments, every other status or transfer failure is an
 * error. Every 201 answer of the whole run (warm-up and drain included) is counted
 * separately, so that the caller can compare it with the certificates on disk.
 *
 * Talks only to the URL it is given; the run is bounded by --warmup + --duration plus one
 * request per thread.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/buf.h"
#include "common/parse.h"
#include "crypto/crypto.h"

#define THREADS_MAX 256
#define CSRS_MAX 4096
#define STATUS_SLOTS 600 /* HTTP statuses 0..599; 0 is a transfer failure */

static const char usage[] =
    "usage: cordon-bench-enroll --url URL --token-file FILE --cacert FILE [OPTIONS]\n"
    "\n"
    "Closed-loop load on POST /v1/enroll over HTTPS with keep-alive.\n"
    "  --url URL          e.g. https://127.0.0.1:8443/v1/enroll\n"
    "  --token-file FILE  file whose first line is the enrollment token\n"
    "  --cacert FILE      CA certificate that the server's chain verifies against\n"
    "  --threads N        concurrent clients, one kept-alive connection each (default 16)\n"
    "  --duration S       measured seconds (default 10)\n"
    "  --warmup S         seconds of load before the measurement (default 2)\n"
    "  --csrs N           P-256 CSRs generated before the run (default 64)\n"
    "Prints a human summary, then one line 'RESULT key=value ...' for scripts.\n";

struct shared {
    const char *url;
    const char *cacert;
    char auth[256];
    cordon_buf *csrs;
    size_t n_csrs;
    uint64_t start_us; /* measured window: [start_us, end_us) of completion times */
    uint64_t end_us;
    atomic_bool stop;
};

struct worker {
    struct shared *sh;
    pthread_t thread;
    unsigned index;
    /* results */
    uint64_t ok;       /* 201 in the window */
    uint64_t ok_total; /* 201 over the whole run */
    uint64_t total;    /* answers in the window */
    uint64_t statuses[STATUS_SLOTS];
    uint64_t bad_body; /* 201 whose body is not a PEM chain */
    long connects;     /* connections opened over the whole run */
    uint64_t requests; /* requests sent over the whole run */
    uint32_t *lat_us;  /* latencies of the answers in the window */
    size_t n_lat, cap_lat;
    char first_error[CURL_ERROR_SIZE];
};

struct body {
    char head[32];
    size_t len;
};

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct body *b = arg;
    size_t len = size * n;
    if (b->len < sizeof(b->head) - 1) {
        size_t k = sizeof(b->head) - 1 - b->len;
        memcpy(b->head + b->len, data, len < k ? len : k);
    }
    b->len += len;
    return len;
}

static bool add_latency(struct worker *w, uint64_t us)
{
    if (w->n_lat == w->cap_lat) {
        size_t cap = w->cap_lat ? 2 * w->cap_lat : 4096;
        uint32_t *p = realloc(w->lat_us, cap * sizeof(*p));
        if (p == NULL)
            return false;
        w->lat_us = p;
        w->cap_lat = cap;
    }
    w->lat_us[w->n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    return true;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    char errbuf[CURL_ERROR_SIZE];
    struct body body;
    CURL *h = curl_easy_init();
    struct curl_slist *headers = NULL;
    if (h == NULL)
        return NULL;
    headers = curl_slist_append(headers, sh->auth);
    headers = curl_slist_append(headers, "Content-Type: application/pkcs10");
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(h, CURLOPT_URL, sh->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_CAINFO, sh->cacert);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");

    for (size_t i = w->index; !atomic_load(&sh->stop); i++) {
        const cordon_buf *csr = &sh->csrs[i % sh->n_csrs];
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)csr->data);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)csr->len);
        memset(&body, 0, sizeof(body));
        errbuf[0] = '\0';
        uint64_t t0 = mono_us();
        CURLcode rc = curl_easy_perform(h);
        uint64_t t1 = mono_us();
        long status = 0, connects = 0;
        if (rc == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        else if (w->first_error[0] == '\0')
            snprintf(w->first_error, sizeof(w->first_error), "%s",
                     errbuf[0] ? errbuf : curl_easy_strerror(rc));
        if (rc != CURLE_OK) {
            /* No hot loop against a server that is gone. */
            struct timespec pause = {.tv_sec = 0, .tv_nsec = 10 * 1000000L};
            nanosleep(&pause, NULL);
        }
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
        w->connects += connects;
        w->requests++;
        bool pem = strncmp(body.head, "-----BEGIN CERTIFICATE-----", 27) == 0;
        if (status == 201)
            w->ok_total++;
        if (t1 < sh->start_us || t1 >= sh->end_us)
            continue;
        w->total++;
        w->statuses[status >= 0 && status < STATUS_SLOTS ? status : 0]++;
        if (status == 201 && !pem)
            w->bad_body++;
        if (status == 201 && pem) {
            w->ok++;
            if (!add_latency(w, t1 - t0))
                break;
        }
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double percentile_ms(const uint32_t *sorted, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return (double)sorted[i] / 1000.0;
}

static bool read_token(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    bool ok = fgets(out, (int)len, f) != NULL;
    fclose(f);
    if (ok)
        out[strcspn(out, "\r\n")] = '\0';
    return ok && out[0] != '\0';
}

static void sleep_until(uint64_t when_us)
{
    for (uint64_t now = mono_us(); now < when_us; now = mono_us()) {
        uint64_t d = when_us - now;
        struct timespec ts = {.tv_sec = (time_t)(d / 1000000),
                              .tv_nsec = (long)(d % 1000000) * 1000};
        nanosleep(&ts, NULL);
    }
}

static int fail(const char *msg)
{
    fprintf(stderr, "cordon-bench-enroll: %s\n", msg);
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"url", required_argument, NULL, 'u'},
        {"token-file", required_argument, NULL, 't'},
        {"cacert", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 'n'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},
        {"csrs", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *url = NULL, *token_file = NULL, *cacert = NULL;
    uint64_t threads = 16, duration = 10, warmup = 2, n_csrs = 64;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'u':
            url = optarg;
            break;
        case 't':
            token_file = optarg;
            break;
        case 'c':
            cacert = optarg;
            break;
        case 'n':
            if (cordon_parse_u64(optarg, 1, THREADS_MAX, &threads) != CORDON_OK)
                return fail("--threads: expected 1..256");
            break;
        case 'd':
            if (cordon_parse_u64(optarg, 1, 3600, &duration) != CORDON_OK)
                return fail("--duration: expected 1..3600 seconds");
            break;
        case 'w':
            if (cordon_parse_u64(optarg, 0, 600, &warmup) != CORDON_OK)
                return fail("--warmup: expected 0..600 seconds");
            break;
        case 's':
            if (cordon_parse_u64(optarg, 1, CSRS_MAX, &n_csrs) != CORDON_OK)
                return fail("--csrs: expected 1..4096");
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (url == NULL || token_file == NULL || cacert == NULL || optind != argc) {
        fputs(usage, stderr);
        return 2;
    }

    static struct shared sh;
    char token[160];
    if (!read_token(token_file, token, sizeof(token)))
        return fail("cannot read the token file");
    snprintf(sh.auth, sizeof(sh.auth), "Authorization: Bearer %s", token);
    sh.url = url;
    sh.cacert = cacert;

    sh.csrs = calloc(n_csrs, sizeof(*sh.csrs));
    if (sh.csrs == NULL)
        return fail("out of memory");
    for (size_t i = 0; i < n_csrs; i++) {
        cordon_key *key = NULL;
        cordon_csr *csr = NULL;
        cordon_buf_init(&sh.csrs[i], CORDON_CSR_MAX, false);
        cordon_err err = cordon_key_generate(CORDON_KEY_P256, &key);
        if (err == CORDON_OK)
            err = cordon_csr_create(key, &csr);
        if (err == CORDON_OK)
            err = cordon_csr_pem(csr, &sh.csrs[i]);
        cordon_csr_free(csr);
        cordon_key_free(key);
        if (err != CORDON_OK)
            return fail("cannot make the CSRs");
    }
    sh.n_csrs = n_csrs;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return fail("curl_global_init failed");
    struct worker *ws = calloc(threads, sizeof(*ws));
    if (ws == NULL)
        return fail("out of memory");
    uint64_t t0 = mono_us();
    sh.start_us = t0 + warmup * 1000000;
    sh.end_us = sh.start_us + duration * 1000000;
    size_t started = 0;
    for (; started < threads; started++) {
        ws[started].sh = &sh;
        ws[started].index = (unsigned)started;
        if (pthread_create(&ws[started].thread, NULL, worker_main, &ws[started]) != 0)
            break;
    }
    if (started < threads)
        fprintf(stderr, "cordon-bench-enroll: started only %zu threads\n", started);
    sleep_until(sh.end_us);
    atomic_store(&sh.stop, true);
    for (size_t i = 0; i < started; i++)
        pthread_join(ws[i].thread, NULL);

    uint64_t ok = 0, ok_total = 0, total = 0, bad_body = 0, requests = 0;
    long connects = 0;
    uint64_t statuses[STATUS_SLOTS] = {0};
    size_t n_lat = 0;
    const char *first_error = NULL;
    for (size_t i = 0; i < started; i++) {
        ok += ws[i].ok;
        ok_total += ws[i].ok_total;
        total += ws[i].total;
        bad_body += ws[i].bad_body;
        requests += ws[i].requests;
        connects += ws[i].connects;
        n_lat += ws[i].n_lat;
        for (size_t s = 0; s < STATUS_SLOTS; s++)
            statuses[s] += ws[i].statuses[s];
        if (first_error == NULL && ws[i].first_error[0] != '\0')
            first_error = ws[i].first_error;
    }
    uint32_t *lat = malloc((n_lat ? n_lat : 1) * sizeof(*lat));
    if (lat == NULL)
        return fail("out of memory");
    for (size_t i = 0, k = 0; i < started; i++) {
        if (ws[i].n_lat)
            memcpy(lat + k, ws[i].lat_us, ws[i].n_lat * sizeof(*lat));
        k += ws[i].n_lat;
    }
    qsort(lat, n_lat, sizeof(*lat), cmp_u32);
    double rate = (double)ok / (double)duration;
    double p50 = percentile_ms(lat, n_lat, 0.50), p99 = percentile_ms(lat, n_lat, 0.99);
    double max = n_lat ? (double)lat[n_lat - 1] / 1000.0 : 0;
    uint64_t errors = total - ok;
    struct rusage ru;
    double cpu_s = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;

    printf("clients %zu, duration %llu s after %llu s warm-up, %zu CSRs\n", started,
           (unsigned long long)duration, (unsigned long long)warmup, sh.n_csrs);
    printf("enrollments (201)   %llu in window, %.1f/s\n", (unsigned long long)ok, rate);
    printf("latency of 201      p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", p50, p99, max);
    printf("errors              %llu", (unsigned long long)errors);
    for (size_t s = 0; s < STATUS_SLOTS; s++) {
        if (statuses[s] == 0 || s == 201)
            continue;
        if (s == 0)
            printf(" [transfer failed: %llu]", (unsigned long long)statuses[s]);
        else
            printf(" [%zu: %llu]", s, (unsigned long long)statuses[s]);
    }
    if (bad_body)
        printf(" [201 without a PEM chain: %llu]", (unsigned long long)bad_body);
    printf("\n");
    if (first_error != NULL)
        printf("first transfer error: %s\n", first_error);
    printf("connections         %ld opened for %llu requests (%s)\n", connects,
           (unsigned long long)requests,
           connects <= (long)started ? "kept alive" : "NOT all kept alive");
    printf("201 over whole run  %llu (warm-up and drain included)\n", (unsigned long long)ok_total);
    printf("RESULT rate=%.1f ok=%llu errors=%llu p50_ms=%.3f p99_ms=%.3f max_ms=%.3f "
           "ok_total=%llu requests=%llu connects=%ld threads=%zu duration=%llu cpu_s=%.2f\n",
           rate, (unsigned long long)ok, (unsigned long long)errors, p50, p99, max,
           (unsigned long long)ok_total, (unsigned long long)requests, connects, started,
           (unsigned long long)duration, cpu_s);
    fflush(stdout);

    for (size_t i = 0; i < started; i++)
        free(ws[i].lat_us);
    free(ws);
    free(lat);
    for (size_t i = 0; i < sh.n_csrs; i++)
        cordon_buf_free(&sh.csrs[i]);
    free(sh.csrs);
    curl_global_cleanup();
    return errors == 0 && ok > 0 && started == threads ? 0 : 1;
}
