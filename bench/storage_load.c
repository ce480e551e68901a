/*
 * bench/storage_load.c — `cordon-bench-storage-load`: end-to-end put and get latency of a
 * running swarm (`cordon-peer swarm`), as its users see it through the control API.
 *
 * Reads the swarm's ready file ("INDEX ADDR:PORT NODEID" per instance) as
 * bench/lookup_load.c does. Picks --origins instances (evenly spread over the indexes).
 * Puts: object i (a name of this run and seed, a value of --value-size seeded bytes) is
 * stored by origin i mod origins with PUT /v1/objects/{name}, which signs it, looks up the
 * r closest nodes and stores it there; the request is timed on the monotonic clock, in
 * microseconds, until the answer says it was stored. Gets: each object is then read with
 * GET /v1/objects/{name}?owner=WRITER from another instance drawn at random (never its
 * writer, so the answer comes from the overlay, not from the writer's own store), timed
 * the same way, and its body must be the value stored. Requests are sequential: one in
 * flight at a time, so the figures are latency, not throughput; each origin is paced to
 * --rate requests per second (the overlay's per-node routing budget, as for lookups).
 * --warmup puts and gets of other objects come first and are not timed. Every control
 * socket is asked with its own kept-alive libcurl handle.
 *
 * The draw (origins, readers, values) is seeded (--seed), so two runs ask the same
 * questions of a swarm; the names carry the seed and the start time, so a rerun against
 * the same swarm stores new objects rather than replacing old ones.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/parse.h"
#include "bench/swarm_ready.h"

#define INSTANCES_MAX 4096
#define ORIGINS_MAX 256
#define REQUESTS_MAX 100000
#define VALUE_MAX 65536

static const char usage[] =
    "usage: cordon-bench-storage-load --swarm DIR --ready FILE [OPTIONS]\n"
    "\n"
    "Sequential puts, then gets of the same objects from other instances, through the\n"
    "control sockets of a running `cordon-peer swarm`.\n"
    "  --swarm DIR       the swarm's --dir (instance i serves DIR/<i>/control.sock)\n"
    "  --ready FILE      the swarm's --ready-file\n"
    "  --origins N       instances that put (default 16)\n"
    "  --count N         measured puts, and as many gets (default 1000)\n"
    "  --warmup N        puts and gets before the measurement (default 100)\n"
    "  --value-size B    bytes of each value (default 64)\n"
    "  --rate R          requests per second per instance, at most (default 5)\n"
    "  --seed N          of the draw (default 1)\n"
    "Prints a human summary, then one line 'RESULT key=value ...' for scripts.\n";

struct instance {
    struct swarm_instance at; /* from the ready file */
    CURL *curl;               /* opened at its first request */
    uint64_t next_us;
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* splitmix64: a seeded, reproducible draw. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
    cordon_buf *b = ctx;
    return cordon_buf_append(b, data, size * n) == CORDON_OK ? size * n : 0;
}

/* Waits until the instance may be asked again (--rate), then marks the request. */
static void pace(struct instance *in, uint64_t gap_us)
{
    uint64_t t = now_us();
    if (in->next_us > t)
        usleep((useconds_t)(in->next_us - t));
    in->next_us = now_us() + gap_us;
}

/* One request; the HTTP status (0: no answer) and the body in b; *us its time. */
static long request(struct instance *in, const char *path, const uint8_t *body, size_t body_len,
                    cordon_buf *b, uint64_t *us)
{
    char url[512];
    long status = 0;
    if (in->curl == NULL && (in->curl = curl_easy_init()) == NULL)
        return 0;
    CURL *c = in->curl;
    snprintf(url, sizeof(url), "http://peer%s", path);
    cordon_buf_reset(b);
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, in->at.sock);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    uint64_t t0 = now_us();
    if (curl_easy_perform(c) != CURLE_OK ||
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        status = 0;
    *us = now_us() - t0;
    return status;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *sorted, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

struct tally {
    uint64_t *us;
    size_t n, failed;
};

static void report(const char *name, struct tally *t)
{
    if (t->n == 0) {
        printf("%s: none succeeded (%zu failed)\n", name, t->failed);
        return;
    }
    qsort(t->us, t->n, sizeof(*t->us), cmp_u64);
    printf("%s: %zu ok, %zu failed; p50 %" PRIu64 " us, p90 %" PRIu64 " us, p99 %" PRIu64
           " us, max %" PRIu64 " us\n",
           name, t->n, t->failed, pct(t->us, t->n, 0.5), pct(t->us, t->n, 0.9),
           pct(t->us, t->n, 0.99), t->us[t->n - 1]);
}

static void result_fields(const char *name, const struct tally *t)
{
    if (t->n == 0) {
        printf(" %s_ok=0 %s_failed=%zu", name, name, t->failed);
        return;
    }
    printf(" %s_ok=%zu %s_failed=%zu %s_p50_us=%" PRIu64 " %s_p90_us=%" PRIu64 " %s_p99_us=%" PRIu64
           " %s_max_us=%" PRIu64,
           name, t->n, name, t->failed, name, pct(t->us, t->n, 0.5), name, pct(t->us, t->n, 0.9),
           name, pct(t->us, t->n, 0.99), name, t->us[t->n - 1]);
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *ready = NULL;
    size_t n_origins = 16, count = 1000, warmup = 100, value_size = 64, rate = 5;
    uint64_t seed = 1;
    int rc = 2;
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t x = 0;
        bool ok = v != NULL;
        if (ok && strcmp(a, "--swarm") == 0)
            dir = v;
        else if (ok && strcmp(a, "--ready") == 0)
            ready = v;
        else if (ok && strcmp(a, "--seed") == 0)
            ok = cordon_parse_u64(v, 0, UINT64_MAX, &seed) == CORDON_OK;
        else if (ok && (strcmp(a, "--origins") == 0 || strcmp(a, "--count") == 0 ||
                        strcmp(a, "--warmup") == 0 || strcmp(a, "--value-size") == 0 ||
                        strcmp(a, "--rate") == 0)) {
            uint64_t lo = strcmp(a, "--warmup") == 0 ? 0 : 1;
            uint64_t hi = strcmp(a, "--origins") == 0      ? ORIGINS_MAX
                          : strcmp(a, "--value-size") == 0 ? VALUE_MAX
                          : strcmp(a, "--rate") == 0       ? 1000
                                                           : REQUESTS_MAX;
            ok = cordon_parse_u64(v, lo, hi, &x) == CORDON_OK;
            if (strcmp(a, "--origins") == 0)
                n_origins = (size_t)x;
            else if (strcmp(a, "--count") == 0)
                count = (size_t)x;
            else if (strcmp(a, "--warmup") == 0)
                warmup = (size_t)x;
            else if (strcmp(a, "--value-size") == 0)
                value_size = (size_t)x;
            else
                rate = (size_t)x;
        } else {
            ok = false;
        }
        if (!ok) {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (dir == NULL || ready == NULL) {
        fputs(usage, stderr);
        return 2;
    }
    struct instance *inst = calloc(INSTANCES_MAX, sizeof(*inst));
    size_t total = warmup + count;
    size_t *writer = calloc(total, sizeof(*writer));
    uint8_t *values = malloc(total * (value_size ? value_size : 1));
    struct tally put_t = {.us = calloc(count, sizeof(uint64_t))};
    struct tally get_t = {.us = calloc(count, sizeof(uint64_t))};
    cordon_buf b;
    size_t n = 0;
    cordon_buf_init(&b, VALUE_MAX + 4096, false);
    if (inst == NULL || writer == NULL || values == NULL || put_t.us == NULL || get_t.us == NULL)
        goto out;
    struct swarm_instance *at = calloc(INSTANCES_MAX, sizeof(*at));
    bool read = at != NULL && swarm_read_ready(dir, ready, at, INSTANCES_MAX, &n);
    for (size_t i = 0; read && i < n; i++)
        inst[i].at = at[i];
    free(at);
    if (!read) {
        fprintf(stderr, "cordon-bench-storage-load: cannot read %s\n", ready);
        goto out;
    }
    if (n_origins > n)
        n_origins = n;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        goto out;
    uint64_t rs = seed;
    for (size_t i = 0; i < total * value_size; i++)
        values[i] = (uint8_t)('a' + next_rand(&rs) % 26);
    uint64_t gap_us = 1000000u / rate;
    uint64_t run = (uint64_t)time(NULL);
    char path[512];
    uint64_t us;

    /* Puts: warm-up ones first, untimed. */
    for (size_t i = 0; i < total; i++) {
        writer[i] = (i % n_origins) * n / n_origins;
        struct instance *in = &inst[writer[i]];
        snprintf(path, sizeof(path), "/v1/objects/lat-%" PRIu64 "-%" PRIu64 "-%zu", seed, run, i);
        pace(in, gap_us);
        long st = request(in, path, values + i * value_size, value_size, &b, &us);
        bool ok = st == 200 || st == 201;
        if (!ok)
            fprintf(stderr, "put %zu from %zu: HTTP %ld\n", i, writer[i], st);
        if (i < warmup)
            continue;
        if (ok)
            put_t.us[put_t.n++] = us;
        else
            put_t.failed++;
    }
    /* Gets, from another instance than the writer. */
    for (size_t i = 0; i < total; i++) {
        size_t r;
        do {
            r = (size_t)(next_rand(&rs) % n);
        } while (r == writer[i]);
        struct instance *in = &inst[r];
        snprintf(path, sizeof(path), "/v1/objects/lat-%" PRIu64 "-%" PRIu64 "-%zu?owner=%s", seed,
                 run, i, inst[writer[i]].at.id);
        pace(in, gap_us);
        long st = request(in, path, NULL, 0, &b, &us);
        bool ok = st == 200 && b.len == value_size &&
                  memcmp(b.data, values + i * value_size, value_size) == 0;
        if (!ok)
            fprintf(stderr, "get %zu from %zu: HTTP %ld, %zu bytes\n", i, r, st, b.len);
        if (i < warmup)
            continue;
        if (ok)
            get_t.us[get_t.n++] = us;
        else
            get_t.failed++;
    }
    printf("swarm of %zu instances, %zu origins, %zu puts then %zu gets (after %zu of each"
           " untimed), %zu value bytes, sequential, %zu requests/s per instance at most\n",
           n, n_origins, count, count, warmup, value_size, rate);
    report("put", &put_t);
    report("get", &get_t);
    printf("RESULT instances=%zu count=%zu value_size=%zu", n, count, value_size);
    result_fields("put", &put_t);
    result_fields("get", &get_t);
    printf("\n");
    rc = put_t.failed == 0 && get_t.failed == 0 ? 0 : 1;
    for (size_t i = 0; i < n; i++) {
        if (inst[i].curl != NULL)
            curl_easy_cleanup(inst[i].curl);
    }
    curl_global_cleanup();
out:
    cordon_buf_free(&b);
    free(inst);
    free(writer);
    free(values);
    free(put_t.us);
    free(get_t.us);
    return rc;
}
