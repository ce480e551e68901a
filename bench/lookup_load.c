/*
 * bench/lookup_load.c — `cordon-bench-lookup`: lookup latency of a running swarm
 * (`cordon-peer swarm`), as its users see it through the control API, and the DTLS
 * handshakes the lookups cost.
 *
 * Reads the swarm's ready file ("INDEX ADDR:PORT NODEID" per instance). Picks --origins
 * instances (evenly spread over the indexes); each lookup asks one origin (round-robin) for
 * one node ID drawn from the whole swarm (never the origin's own), over the origin's unix
 * control socket with a kept-alive libcurl handle, and times the request on the monotonic
 * clock, in microseconds. Lookups are sequential: one in flight at a time, so the figure is
 * latency, not throughput.
 *
 * Targets: by default any node of the swarm; with --targets T, a seeded set of T nodes, and
 * the warm-up first has every origin look up every one of them once (then --warmup more
 * lookups), so that the measured lookups are repeated ones: what the link LRU and session
 * resumption are for. Without it, a lookup's target is often a node the origin never
 * linked with: that costs a handshake, which the figures then show.
 *
 * Phases: (--settle) waiting for a quiet swarm, --warmup lookups (not timed), then
 * --lookups timed ones. Around the timed phase the counters link_handshakes_full and
 * link_handshakes_resumed of every instance are read from GET /v1/status. The figure per
 * lookup is the handshakes the origins started (link_handshakes_full_out, _resumed_out):
 * a lookup's messages all go from its origin to the nodes it asks, so every handshake a
 * lookup costs is one its origin starts. The whole swarm's sum (halved: both ends count a
 * handshake) is printed too; it also holds what the overlay does on its own meanwhile
 * (bucket refreshes, liveness pings, other nodes' handshakes with the origins). A lookup that does
 * not find its target, or fails, is counted and reported (its time is still in the distribution).
 *
 * Reference, measured in the same run: the round-trip time of a 64-byte UDP datagram on
 * 127.0.0.1 between this process and an echo thread (--rtts round trips), the floor under
 * any message exchange of the overlay.
 *
 * The draw of origins and targets is seeded (--seed), so two runs ask the same questions.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/parse.h"
#include "bench/swarm_ready.h"

#define INSTANCES_MAX 4096
#define ORIGINS_MAX 256
#define LOOKUPS_MAX 1000000
#define ANSWER_MAX (64 * 1024)

static const char usage[] =
    "usage: cordon-bench-lookup --swarm DIR --ready FILE [OPTIONS]\n"
    "\n"
    "Sequential lookups through the control sockets of a running `cordon-peer swarm`.\n"
    "  --swarm DIR     the swarm's --dir (instance i serves DIR/<i>/control.sock)\n"
    "  --ready FILE    the swarm's --ready-file\n"
    "  --origins N     instances that start lookups (default 16)\n"
    "  --warmup N      lookups before the measurement (default 1000)\n"
    "  --lookups N     measured lookups (default 2000)\n"
    "  --rate R        lookups per second per origin, at most (default 5): each node\n"
    "                  answers at most routing_rate (20) routing queries per second from\n"
    "                  any one node, and a lookup asks a few of the same close nodes\n"
    "  --rtts N        UDP round trips of the reference (default 20000)\n"
    "  --targets T     look up only T nodes (a seeded set), each once from every origin\n"
    "                  before the warm-up (default: any node)\n"
    "  --seed N        of the draw of origins and targets (default 1)\n"
    "  --settle S      first wait, at most S seconds, until the swarm is quiet: no more\n"
    "                  than one full handshake per 64 instances in 5 s (a swarm that just\n"
    "                  became ready still fills its tables; default 0: no wait)\n"
    "Prints a human summary, then one line 'RESULT key=value ...' for scripts.\n";

struct origin {
    size_t index;
    CURL *curl;
    uint64_t next_us; /* pacing: not before */
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

/* GET path on sock with handle c; the body (NUL-terminated) in b. The HTTP status goes to
 * *status_out when not NULL (0: no answer). */
static bool get_status(CURL *c, const char *sock, const char *path, cordon_buf *b, long *status_out)
{
    char url[256];
    long status = 0;
    snprintf(url, sizeof(url), "http://peer%s", path);
    cordon_buf_reset(b);
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (curl_easy_perform(c) != CURLE_OK ||
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        status = 0;
    if (status_out != NULL)
        *status_out = status;
    return status == 200 && cordon_buf_terminate(b) == CORDON_OK;
}

static bool get(CURL *c, const char *sock, const char *path, cordon_buf *b)
{
    return get_status(c, sock, path, b, NULL);
}

/* Handshake counters: the whole swarm's, and the origins' own. */
struct hs {
    uint64_t full, resumed;                /* every instance's (both ends count each) */
    uint64_t o_full, o_resumed, o_offered; /* those the origins started; of o_full, those
                                              that offered a stored session */
};

/* Reads every instance's counters into h (the origins' part only when origin is not
 * NULL). */
static bool handshakes(CURL *c, const struct swarm_instance *inst, size_t n, const bool *origin,
                       struct hs *h)
{
    static const char *const names[] = {"link_handshakes_full", "link_handshakes_resumed",
                                        "link_handshakes_full_out", "link_handshakes_resumed_out",
                                        "link_handshakes_full_offered"};
    cordon_buf b;
    cordon_buf_init(&b, ANSWER_MAX, false);
    bool ok = true;
    memset(h, 0, sizeof(*h));
    for (size_t i = 0; i < n && ok; i++) {
        json_t *o = NULL;
        ok = get(c, inst[i].sock, "/v1/status", &b) &&
             (o = json_loads((const char *)b.data, 0, NULL)) != NULL;
        json_t *counters = o != NULL ? json_object_get(o, "counters") : NULL;
        uint64_t v[5] = {0};
        for (size_t k = 0; ok && k < 5; k++) {
            json_t *x = json_object_get(counters, names[k]);
            ok = json_is_integer(x);
            v[k] = ok ? (uint64_t)json_integer_value(x) : 0;
        }
        if (ok) {
            h->full += v[0];
            h->resumed += v[1];
            if (origin != NULL && origin[i]) {
                h->o_full += v[2];
                h->o_resumed += v[3];
                h->o_offered += v[4];
            }
        }
        json_decref(o);
    }
    cordon_buf_free(&b);
    return ok;
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

/* ---- the reference: UDP round trips on loopback ------------------------------------------ */

struct echo {
    int fd;
    size_t count;
};

static void *echo_main(void *arg)
{
    struct echo *e = arg;
    uint8_t buf[64];
    for (size_t i = 0; i < e->count; i++) {
        struct sockaddr_in from;
        socklen_t len = sizeof(from);
        ssize_t n = recvfrom(e->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
        if (n <= 0 || sendto(e->fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len) != n)
            break;
    }
    return NULL;
}

/* p50 and p99 of count UDP round trips, in microseconds (0 on failure). */
static bool udp_rtt(size_t count, uint64_t *p50, uint64_t *p99)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    struct echo e = {.fd = socket(AF_INET, SOCK_DGRAM, 0), .count = count};
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    uint64_t *t = calloc(count, sizeof(*t));
    pthread_t th;
    bool ok = e.fd >= 0 && fd >= 0 && t != NULL &&
              bind(e.fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
              getsockname(e.fd, (struct sockaddr *)&a, &len) == 0 &&
              pthread_create(&th, NULL, echo_main, &e) == 0;
    if (ok) {
        struct timeval tv = {.tv_sec = 2};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        uint8_t buf[64] = {0};
        size_t done = 0;
        for (; done < count; done++) {
            uint64_t t0 = now_us();
            if (sendto(fd, buf, sizeof(buf), 0, (struct sockaddr *)&a, sizeof(a)) != sizeof(buf) ||
                recv(fd, buf, sizeof(buf), 0) != sizeof(buf))
                break;
            t[done] = now_us() - t0;
        }
        if (done < count) {
            ok = false;
            shutdown(e.fd, SHUT_RDWR);
            pthread_cancel(th);
        }
        pthread_join(th, NULL);
        qsort(t, count, sizeof(*t), cmp_u64);
        *p50 = ok ? pct(t, count, 0.50) : 0;
        *p99 = ok ? pct(t, count, 0.99) : 0;
    }
    free(t);
    if (fd >= 0)
        close(fd);
    if (e.fd >= 0)
        close(e.fd);
    return ok;
}

/* ---- main ------------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    static struct swarm_instance inst[INSTANCES_MAX];
    static struct origin origins[ORIGINS_MAX];
    const char *dir = NULL, *ready = NULL;
    uint64_t n_origins = 16, warmup = 1000, lookups = 2000, rtts = 20000, seed = 1;
    double rate = 5.0;
    uint64_t n_targets = 0; /* 0: any node */
    uint64_t settle = 0;
    static size_t targets[INSTANCES_MAX];
    uint64_t statuses[600] = {0};
    static const struct option opts[] = {
        {"swarm", required_argument, NULL, 's'},   {"ready", required_argument, NULL, 'r'},
        {"origins", required_argument, NULL, 'o'}, {"warmup", required_argument, NULL, 'w'},
        {"lookups", required_argument, NULL, 'l'}, {"rtts", required_argument, NULL, 't'},
        {"seed", required_argument, NULL, 'S'},    {"rate", required_argument, NULL, 'R'},
        {"targets", required_argument, NULL, 'T'}, {"settle", required_argument, NULL, 'Q'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        cordon_err err = CORDON_OK;
        switch (c) {
        case 's':
            dir = optarg;
            break;
        case 'r':
            ready = optarg;
            break;
        case 'o':
            err = cordon_parse_u64(optarg, 1, ORIGINS_MAX, &n_origins);
            break;
        case 'Q':
            err = cordon_parse_u64(optarg, 0, 3600, &settle);
            break;
        case 'w':
            err = cordon_parse_u64(optarg, 0, LOOKUPS_MAX, &warmup);
            break;
        case 'l':
            err = cordon_parse_u64(optarg, 1, LOOKUPS_MAX, &lookups);
            break;
        case 't':
            err = cordon_parse_u64(optarg, 1, LOOKUPS_MAX, &rtts);
            break;
        case 'S':
            err = cordon_parse_u64(optarg, 0, UINT64_MAX, &seed);
            break;
        case 'R':
            err = cordon_parse_double(optarg, 0.01, 1000, &rate);
            break;
        case 'T':
            err = cordon_parse_u64(optarg, 2, INSTANCES_MAX, &n_targets);
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
        if (err != CORDON_OK) {
            fprintf(stderr, "cordon-bench-lookup: bad value '%s' (see --help)\n", optarg);
            return 2;
        }
    }
    if (dir == NULL || ready == NULL || optind != argc) {
        fputs(usage, stderr);
        return 2;
    }
    size_t n = 0;
    if (!swarm_read_ready(dir, ready, inst, INSTANCES_MAX, &n)) {
        fprintf(stderr, "cordon-bench-lookup: %s is not a swarm ready file of 2+ instances\n",
                ready);
        return 1;
    }
    if (n_origins > n)
        n_origins = n;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    CURL *counter = curl_easy_init();
    for (size_t i = 0; i < n_origins; i++) {
        origins[i].index = i * n / n_origins;
        origins[i].curl = curl_easy_init();
        if (origins[i].curl == NULL || counter == NULL)
            return 1;
    }
    uint64_t *lat = calloc(lookups, sizeof(*lat));
    cordon_buf b;
    cordon_buf_init(&b, ANSWER_MAX, false);
    if (lat == NULL)
        return 1;

    uint64_t rtt50 = 0, rtt99 = 0;
    bool rtt_ok = udp_rtt(rtts, &rtt50, &rtt99);

    uint64_t state = seed, not_found = 0, failed = 0;
    struct hs h0 = {0}, h1 = {0}, bg;
    static bool is_origin[INSTANCES_MAX];
    for (size_t i = 0; i < n_origins; i++)
        is_origin[origins[i].index] = true;
    bool counted = true;

    /* Settle: the background that the measurement would otherwise count as its own. */
    uint64_t settled_s = 0, bg_full = 0, bg_prev = 0;
    bool quiet = settle == 0;
    if (!quiet) {
        counted = handshakes(counter, inst, n, NULL, &bg);
        bg_prev = bg.full;
    }
    while (!quiet && counted && settled_s < settle) {
        sleep(5);
        settled_s += 5;
        counted = handshakes(counter, inst, n, NULL, &bg);
        bg_full = bg.full - bg_prev; /* both ends count each: halved when printed */
        bg_prev = bg.full;
        quiet = bg_full / 2 <= n / 64;
    }
    if (settle > 0)
        printf("settled after %llu s (%s): %.1f full handshakes in the last 5 s\n",
               (unsigned long long)settled_s, quiet ? "quiet" : "NOT QUIET, went on",
               (double)bg_full / 2.0);
    if (n_targets > n)
        n_targets = n;
    for (size_t i = 0; i < n; i++)
        targets[i] = i;
    for (size_t i = 0; i + 1 < n; i++) { /* seeded shuffle; the set is its first n_targets */
        size_t j = i + (size_t)(next_rand(&state) % (n - i));
        size_t t = targets[i];
        targets[i] = targets[j];
        targets[j] = t;
    }
    /* Every origin looks up every target once (not timed), then the warm-up proper. */
    uint64_t first = n_targets > 0 ? n_origins * n_targets : 0;
    warmup += first;
    for (uint64_t k = 0; k < warmup + lookups; k++) {
        if (k == warmup)
            counted = handshakes(counter, inst, n, is_origin, &h0);
        struct origin *o = &origins[k % n_origins];
        uint64_t wait = o->next_us > now_us() ? o->next_us - now_us() : 0;
        if (wait > 0)
            usleep((useconds_t)wait);
        size_t target;
        if (n_targets == 0) {
            target = (size_t)(next_rand(&state) % (n - 1));
            if (target >= o->index)
                target++; /* never the origin itself */
        } else {
            size_t pick =
                k < first ? (size_t)(k / n_origins) : (size_t)(next_rand(&state) % n_targets);
            target = targets[pick];
            if (target == o->index)
                target = targets[(pick + 1) % n_targets]; /* never the origin itself */
            if (target == o->index)
                continue; /* a set of one: the origin itself */
        }
        char path[128];
        snprintf(path, sizeof(path), "/v1/lookup/%s", inst[target].id);
        uint64_t t0 = now_us();
        long status = 0;
        bool ok = get_status(o->curl, inst[o->index].sock, path, &b, &status);
        uint64_t dt = now_us() - t0;
        o->next_us = t0 + (uint64_t)(1e6 / rate);
        if (k < warmup)
            continue;
        statuses[status >= 0 && status < 600 ? status : 0]++;
        lat[k - warmup] = dt;
        json_t *j = ok ? json_loads((const char *)b.data, 0, NULL) : NULL;
        if (j == NULL)
            failed++;
        else if (!json_is_true(json_object_get(j, "found")))
            not_found++;
        json_decref(j);
    }
    counted = counted && handshakes(counter, inst, n, is_origin, &h1);

    qsort(lat, lookups, sizeof(*lat), cmp_u64);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < lookups; i++)
        sum += lat[i];
    double full = counted ? (double)(h1.full - h0.full) / 2.0 : -1.0;
    double resumed = counted ? (double)(h1.resumed - h0.resumed) / 2.0 : -1.0;
    double ofull = counted ? (double)(h1.o_full - h0.o_full) : -1.0;
    double oresumed = counted ? (double)(h1.o_resumed - h0.o_resumed) : -1.0;
    double offered = counted ? (double)(h1.o_offered - h0.o_offered) : -1.0;
    printf("swarm of %zu instances, %llu origins at most %.1f lookups/s each, %llu warm-up + "
           "%llu measured lookups, targets: %s%llu\n",
           n, (unsigned long long)n_origins, rate, (unsigned long long)warmup,
           (unsigned long long)lookups, n_targets == 0 ? "any of " : "a set of ",
           (unsigned long long)(n_targets == 0 ? n : n_targets));
    printf("  lookup latency (us): p50 %llu  p90 %llu  p99 %llu  max %llu  mean %.0f\n",
           (unsigned long long)pct(lat, lookups, 0.50), (unsigned long long)pct(lat, lookups, 0.90),
           (unsigned long long)pct(lat, lookups, 0.99), (unsigned long long)lat[lookups - 1],
           (double)sum / (double)lookups);
    printf("  not found %llu, failed %llu; HTTP statuses:", (unsigned long long)not_found,
           (unsigned long long)failed);
    for (int i = 0; i < 600; i++) {
        if (statuses[i] > 0)
            printf(" %d x%llu", i, (unsigned long long)statuses[i]);
    }
    printf("\n");
    printf("  handshakes the origins started during the measurement: full %.0f (%.3f per lookup; "
           "%.0f of them offered a stored session the other end did not resume, the rest were "
           "with nodes the origin held no session for), resumed %.0f (%.3f per lookup)\n",
           ofull, ofull / (double)lookups, offered, oresumed, oresumed / (double)lookups);
    printf("  handshakes in the whole swarm meanwhile, the overlay's own upkeep included: full "
           "%.1f (%.3f per lookup), resumed %.1f (%.3f per lookup)\n",
           full, full / (double)lookups, resumed, resumed / (double)lookups);
    printf("  reference: UDP round trip on 127.0.0.1 p50 %llu us, p99 %llu us (%s)\n",
           (unsigned long long)rtt50, (unsigned long long)rtt99, rtt_ok ? "ok" : "FAILED");
    printf("RESULT instances=%zu targets=%llu lookups=%llu p50_us=%llu p90_us=%llu p99_us=%llu "
           "max_us=%llu "
           "not_found=%llu failed=%llu full_per_lookup=%.3f full_offered=%.0f "
           "resumed_per_lookup=%.3f swarm_full_per_lookup=%.3f swarm_resumed_per_lookup=%.3f "
           "udp_rtt_p50_us=%llu udp_rtt_p99_us=%llu settled_s=%llu background_full_5s=%.1f\n",
           n, (unsigned long long)(n_targets == 0 ? n : n_targets), (unsigned long long)lookups,
           (unsigned long long)pct(lat, lookups, 0.50), (unsigned long long)pct(lat, lookups, 0.90),
           (unsigned long long)pct(lat, lookups, 0.99), (unsigned long long)lat[lookups - 1],
           (unsigned long long)not_found, (unsigned long long)failed, ofull / (double)lookups,
           offered, oresumed / (double)lookups, full / (double)lookups, resumed / (double)lookups,
           (unsigned long long)rtt50, (unsigned long long)rtt99, (unsigned long long)settled_s,
           (double)bg_full / 2.0);

    for (size_t i = 0; i < n_origins; i++)
        curl_easy_cleanup(origins[i].curl);
    curl_easy_cleanup(counter);
    cordon_buf_free(&b);
    free(lat);
    curl_global_cleanup();
    return failed == 0 && counted && rtt_ok ? 0 : 1;
}
