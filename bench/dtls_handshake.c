/*
 * bench/dtls_handshake.c — `cordon-bench-dtls`: closed-loop DTLS 1.2 handshakes against
 * one server on 127.0.0.1, counted and timed, with one of the clients of
 * bench/dtls_handshake.h (Cordon's link table, plain OpenSSL, or s_client processes).
 *
 * N slots each run one handshake at a time and start the next as soon as the last one
 * ended (closed loop). A handshake is timed from the moment the client starts it (socket,
 * SSL object, first ClientHello) to the moment the client side is complete; only those
 * that complete inside the measured window (after the warm-up) count. Source addresses:
 * each handshake leaves from one of --sources addresses (127.x.y.z, all on the loopback
 * interface), taken in turn; with --source-rate, each address is paced by a token bucket
 * (rate, burst) so that a server's per-source handshake limiter never has to refuse one,
 * and the time slots spent waiting for a token is reported ("paced").
 *
 * CPU: the client's own (getrusage, children included for s_client) and, with
 * --server-pid, the server's (utime + stime from /proc/PID/stat), over the window.
 * Every loop is bounded by the run's deadline; the run ends by itself.
 */
#include "bench/dtls_handshake.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/parse.h"

#define SLOTS_MAX 1024
#define SOURCES_MAX 65536
#define EVENTS_MAX 64
#define TURN_MAX_MS 50     /* the loop turns at least this often (housekeeping, pacing) */
#define STARTS_PER_TURN 8  /* handshakes one slot may start in one turn */
#define BLOCKED_RETRY_MS 5 /* a client that could not start one is asked again after */

static const char usage[] =
    "usage: cordon-bench-dtls --client link|openssl|s_client --server 127.0.0.1:PORT\n"
    "                         --dir DIR [OPTIONS]\n"
    "\n"
    "Closed-loop DTLS 1.2 handshakes against one server; prints a summary and one line\n"
    "'RESULT key=value ...' for scripts.\n"
    "  --client NAME       link (Cordon's link table), openssl (plain OpenSSL DTLS API),\n"
    "                      s_client (one `openssl s_client -dtls1_2` process per handshake)\n"
    "  --server ADDR:PORT  the server (IPv4 loopback)\n"
    "  --dir DIR           the client identity: node.key, node.crt, ca.crt, crl.pem\n"
    "  --overlay NAME      the overlay name (link client)\n"
    "  --resume            resumed handshakes (each slot's first one is full, and falls\n"
    "                      in the warm-up); not with s_client\n"
    "  --hold              each slot makes one handshake and keeps the link open until\n"
    "                      the end: established links for the server to carry while\n"
    "                      another run measures; not with s_client\n"
    "  --concurrency N     slots, one handshake each at a time (default 1)\n"
    "  --duration S        measured seconds (default 10)\n"
    "  --warmup S          seconds before the measurement (default 2)\n"
    "  --sources N         source addresses SOURCE-NET + 0..N-1 (default 1)\n"
    "  --source-net ADDR   first source address (default 127.0.0.1)\n"
    "  --source-rate R     handshakes per second per source address, 0: unpaced (default 0)\n"
    "  --source-burst B    bucket depth of that pacing (default 1)\n"
    "  --server-pid PID    count this process's CPU over the window\n"
    "  --timeout-ms MS     a handshake not complete after MS fails (default 5000)\n"
    "  --openssl PATH      the openssl program (default openssl)\n";

/* HELD: with --hold, a slot whose handshake completed keeps its link open to the end. */
enum slot_state { SLOT_IDLE, SLOT_BUSY, SLOT_DONE, SLOT_HELD };

struct hs_slot {
    struct driver *d;
    void *state; /* the client's */
    enum slot_state st;
    int udp;     /* the driver-owned socket, or -1 */
    int watched; /* the descriptor in epoll (udp or the client's), or -1 */
    struct sockaddr_in source;
    uint64_t t0_us;
    bool ok, resumed;
    const char *why;
};

struct source {
    struct in_addr ip;
    double tokens;
    uint64_t last_us;
};

struct driver {
    const struct hs_client *client;
    void *cl;
    int ep;
    struct hs_slot *slots;
    size_t n_slots;
    struct source *sources;
    size_t n_sources, next_source;
    double rate, burst; /* per source, per second; rate 0: unpaced */
    bool hold;          /* one handshake per slot, kept open (--hold) */
    size_t held;        /* slots holding a link when the run ended */
    uint64_t timeout_us;
    uint64_t start_us, end_us; /* the measured window */
    uint64_t next_token_us;    /* when some source has a token again (paced, all empty) */

    /* results: in the window */
    uint64_t ok, full, resumed, failed, timeouts;
    uint32_t *lat_us;
    size_t n_lat, cap_lat;
    uint64_t paced_us; /* slot time spent waiting for a source token */
    /* over the whole run */
    uint64_t all_full, all_resumed, all_failed, all_timeouts, start_errors;
    char first_error[160];
};

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- services for the clients --------------------------------------------------------- */

static bool watch(struct hs_slot *s, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
    if (s->watched >= 0)
        (void)epoll_ctl(s->d->ep, EPOLL_CTL_DEL, s->watched, NULL);
    s->watched = -1;
    if (epoll_ctl(s->d->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        return false;
    s->watched = fd;
    return true;
}

void hs_slot_release(struct hs_slot *s)
{
    if (s->watched >= 0 && s->watched != s->udp)
        (void)epoll_ctl(s->d->ep, EPOLL_CTL_DEL, s->watched, NULL);
    s->watched = -1;
    if (s->udp >= 0)
        close(s->udp); /* also leaves the epoll set */
    s->udp = -1;
}

int hs_slot_udp(struct hs_slot *s)
{
    hs_slot_release(s);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (const struct sockaddr *)&s->source, sizeof(s->source)) != 0 || !watch(s, fd)) {
        close(fd);
        return -1;
    }
    s->udp = fd;
    return fd;
}

bool hs_slot_watch(struct hs_slot *s, int fd)
{
    return watch(s, fd);
}

void hs_slot_done(struct hs_slot *s, bool ok, bool resumed, const char *why)
{
    if (s->st != SLOT_BUSY)
        return;
    s->st = SLOT_DONE;
    s->ok = ok;
    s->resumed = resumed;
    s->why = why;
}

/* ---- results -------------------------------------------------------------------------------- */

static void note_error(struct driver *d, const char *why)
{
    if (d->first_error[0] == '\0')
        snprintf(d->first_error, sizeof(d->first_error), "%s", why != NULL ? why : "?");
}

static bool add_latency(struct driver *d, uint64_t us)
{
    if (d->n_lat == d->cap_lat) {
        size_t cap = d->cap_lat ? 2 * d->cap_lat : 4096;
        uint32_t *p = realloc(d->lat_us, cap * sizeof(*p));
        if (p == NULL)
            return false;
        d->lat_us = p;
        d->cap_lat = cap;
    }
    d->lat_us[d->n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    return true;
}

/* Counts the ended handshake of s and lets the client tear it down. */
static void settle(struct driver *d, struct hs_slot *s, uint64_t now_us, bool timed_out)
{
    bool in_window = now_us >= d->start_us && now_us < d->end_us;
    bool ok = !timed_out && s->ok;
    if (ok) {
        if (s->resumed)
            d->all_resumed++;
        else
            d->all_full++;
        if (in_window) {
            d->ok++;
            if (s->resumed)
                d->resumed++;
            else
                d->full++;
            (void)add_latency(d, now_us - s->t0_us);
        }
    } else if (timed_out) {
        d->all_timeouts++;
        d->timeouts += in_window;
        note_error(d, "handshake timeout");
    } else {
        d->all_failed++;
        d->failed += in_window;
        note_error(d, s->why);
    }
    if (ok && d->hold) {
        s->st = SLOT_HELD;
        return;
    }
    s->st = SLOT_IDLE;
    d->client->finish(s->state, now_us / 1000u, ok);
}

/* ---- pacing ---------------------------------------------------------------------------------- */

static void refill(const struct driver *d, struct source *src, uint64_t now_us)
{
    if (now_us > src->last_us) {
        src->tokens += (double)(now_us - src->last_us) * d->rate / 1e6;
        if (src->tokens > d->burst)
            src->tokens = d->burst;
        src->last_us = now_us;
    }
}

/* The next source with a token, taken in turn; NULL when every bucket is empty (then
 * next_token_us says when one will not be). */
static const struct source *take_source(struct driver *d, uint64_t now_us)
{
    if (d->rate <= 0) {
        const struct source *src = &d->sources[d->next_source];
        d->next_source = (d->next_source + 1) % d->n_sources;
        return src;
    }
    if (now_us < d->next_token_us)
        return NULL;
    double best_wait = -1;
    for (size_t k = 0; k < d->n_sources; k++) {
        struct source *src = &d->sources[d->next_source];
        d->next_source = (d->next_source + 1) % d->n_sources;
        refill(d, src, now_us);
        if (src->tokens >= 1.0) {
            src->tokens -= 1.0;
            return src;
        }
        double wait = (1.0 - src->tokens) / d->rate * 1e6;
        if (best_wait < 0 || wait < best_wait)
            best_wait = wait;
    }
    d->next_token_us = now_us + (uint64_t)best_wait + 1;
    return NULL;
}

/* ---- the loop ----------------------------------------------------------------------------------
 */

/* Starts a handshake on every idle slot that gets a source token. A handshake can end
 * inside start() (a failure, or a loaded machine that let the server answer every flight
 * before the client read), so a slot may start again at once, a few times per turn.
 * Returns the idle slots left waiting for a token; *blocked counts those whose client
 * said "not now" (CORDON_ERR_BUSY). */
static size_t start_idle(struct driver *d, uint64_t now_us, size_t *blocked)
{
    size_t waiting = 0;
    *blocked = 0;
    for (size_t i = 0; i < d->n_slots; i++) {
        struct hs_slot *s = &d->slots[i];
        for (int tries = 0; tries < STARTS_PER_TURN && s->st == SLOT_IDLE; tries++) {
            const struct source *src = take_source(d, now_us);
            if (src == NULL) {
                waiting++;
                break;
            }
            s->source.sin_addr = src->ip;
            s->t0_us = now_us;
            s->st = SLOT_BUSY;
            s->why = NULL;
            cordon_err err = d->client->start(s->state, now_us / 1000u);
            if (err == CORDON_ERR_BUSY) {
                s->st = SLOT_IDLE; /* the token is lost: pacing errs on the safe side */
                (*blocked)++;
                break;
            }
            if (err != CORDON_OK) {
                d->start_errors++;
                hs_slot_done(s, false, false, cordon_errname(err));
            }
            if (s->st == SLOT_DONE) {
                settle(d, s, mono_us(), false);
                now_us = mono_us();
            }
        }
    }
    return waiting;
}

static double cpu_seconds(int who)
{
    struct rusage ru;
    if (getrusage(who, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of pid in seconds, or -1. */
static double proc_cpu_seconds(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name, which may hold anything but ends with the last ')':
     * state is field 3, utime 14, stime 15. */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    unsigned long long v[13] = {0};
    int got = 0;
    char *save = NULL;
    for (char *tok = strtok_r(p + 1, " ", &save); tok != NULL && got < 13;
         tok = strtok_r(NULL, " ", &save)) {
        v[got++] = strtoull(tok, NULL, 10);
    }
    if (got < 13)
        return -1;
    long tck = sysconf(_SC_CLK_TCK);
    return (double)(v[11] + v[12]) / (double)(tck > 0 ? tck : 100);
}

static void run(struct driver *d, long server_pid, double cpu[2], double server_cpu[2])
{
    bool in_window = false;
    bool drained = false;
    uint64_t last_turn_us = 0;
    size_t waiting = 0; /* idle slots that found no source token on the last turn */
    size_t blocked = 0; /* idle slots whose client could not start one on the last turn */

    while (true) {
        uint64_t now = mono_us();
        if (!in_window && now >= d->start_us) {
            in_window = true;
            cpu[0] = cpu_seconds(RUSAGE_SELF) + cpu_seconds(RUSAGE_CHILDREN);
            server_cpu[0] = server_pid > 0 ? proc_cpu_seconds(server_pid) : -1;
        }
        size_t idle = 0;
        if (now >= d->end_us) {
            /* Drain: the handshakes under way may finish (uncounted) and close properly,
             * so that a server that serves one client at a time is not left waiting for
             * a client that went away. Bounded by one handshake timeout. */
            if (!drained) {
                drained = true;
                cpu[1] = cpu_seconds(RUSAGE_SELF) + cpu_seconds(RUSAGE_CHILDREN);
                server_cpu[1] = server_pid > 0 ? proc_cpu_seconds(server_pid) : -1;
            }
            size_t held = 0;
            for (size_t i = 0; i < d->n_slots; i++) {
                idle += d->slots[i].st == SLOT_IDLE;
                held += d->slots[i].st == SLOT_HELD;
            }
            if (idle + held == d->n_slots || now >= d->end_us + d->timeout_us)
                break;
        } else {
            /* Slot time lost to pacing: idle slots wait for the next turn to try again. */
            if (in_window && last_turn_us != 0)
                d->paced_us += (now - last_turn_us) * waiting;
            waiting = start_idle(d, now, &blocked);
            for (size_t i = 0; i < d->n_slots; i++)
                idle += d->slots[i].st == SLOT_IDLE;
            last_turn_us = now;
        }

        uint64_t now_ms = now / 1000u;
        uint64_t due_us = now + TURN_MAX_MS * 1000u;
        if (!drained && waiting > 0 && d->next_token_us < due_us)
            due_us = d->next_token_us;
        if (!drained && blocked > 0 && now + BLOCKED_RETRY_MS * 1000u < due_us)
            due_us = now + BLOCKED_RETRY_MS * 1000u;
        if (!drained && idle > waiting + blocked)
            due_us = now; /* a slot can start again at once */
        if (!drained && d->end_us < due_us)
            due_us = d->end_us;
        for (size_t i = 0; i < d->n_slots; i++) {
            const struct hs_slot *s = &d->slots[i];
            if (s->st != SLOT_BUSY && s->st != SLOT_HELD)
                continue;
            uint64_t t = d->client->deadline(s->state, now_ms);
            if (t != UINT64_MAX && t * 1000u < due_us)
                due_us = t * 1000u;
            if (s->st == SLOT_BUSY && s->t0_us + d->timeout_us < due_us)
                due_us = s->t0_us + d->timeout_us;
        }
        int timeout = due_us <= now ? 0 : (int)((due_us - now + 999) / 1000);
        struct epoll_event evs[EVENTS_MAX];
        int n = epoll_wait(d->ep, evs, EVENTS_MAX, timeout);
        if (n < 0 && errno != EINTR)
            break;
        now = mono_us();
        now_ms = now / 1000u;
        for (int i = 0; i < n; i++) {
            struct hs_slot *s = evs[i].data.ptr;
            if (s->st == SLOT_BUSY || s->st == SLOT_HELD)
                d->client->readable(s->state, now_ms);
            if (s->st == SLOT_DONE)
                settle(d, s, mono_us(), false);
        }
        for (size_t i = 0; i < d->n_slots; i++) {
            struct hs_slot *s = &d->slots[i];
            if (s->st == SLOT_BUSY || s->st == SLOT_HELD) {
                uint64_t t = d->client->deadline(s->state, now_ms);
                if (t <= now_ms)
                    d->client->tick(s->state, now_ms);
            }
            if (s->st == SLOT_BUSY && now >= s->t0_us + d->timeout_us)
                settle(d, s, now, true);
            else if (s->st == SLOT_DONE)
                settle(d, s, mono_us(), false);
        }
        if (d->client->housekeep != NULL)
            d->client->housekeep(d->cl);
    }
    if (!drained) { /* the loop failed */
        cpu[1] = cpu_seconds(RUSAGE_SELF) + cpu_seconds(RUSAGE_CHILDREN);
        server_cpu[1] = server_pid > 0 ? proc_cpu_seconds(server_pid) : -1;
    }
    /* Held links are closed; handshakes still running after the drain are abandoned, not
     * counted. */
    for (size_t i = 0; i < d->n_slots; i++) {
        if (d->slots[i].st != SLOT_IDLE) {
            bool held = d->slots[i].st == SLOT_HELD;
            d->held += held;
            d->slots[i].st = SLOT_IDLE;
            d->client->finish(d->slots[i].state, mono_us() / 1000u, held);
        }
    }
}

/* ---- main ---------------------------------------------------------------------------------- */

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

static int fail(const char *msg)
{
    fprintf(stderr, "cordon-bench-dtls: %s\n", msg);
    return 2;
}

static bool parse_server(const char *text, struct sockaddr_in *out)
{
    char host[INET_ADDRSTRLEN];
    const char *colon = strrchr(text, ':');
    uint64_t port;
    if (colon == NULL || (size_t)(colon - text) >= sizeof(host))
        return false;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    if (inet_pton(AF_INET, host, &out->sin_addr) != 1 ||
        cordon_parse_u64(colon + 1, 1, 65535, &port) != CORDON_OK)
        return false;
    out->sin_port = htons((uint16_t)port);
    /* The benchmark talks to this machine only. */
    return (ntohl(out->sin_addr.s_addr) >> 24) == 127;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"client", required_argument, NULL, 'c'},
        {"server", required_argument, NULL, 's'},
        {"dir", required_argument, NULL, 'D'},
        {"overlay", required_argument, NULL, 'o'},
        {"resume", no_argument, NULL, 'r'},
        {"hold", no_argument, NULL, 'H'},
        {"concurrency", required_argument, NULL, 'n'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},
        {"sources", required_argument, NULL, 'S'},
        {"source-net", required_argument, NULL, 'N'},
        {"source-rate", required_argument, NULL, 'R'},
        {"source-burst", required_argument, NULL, 'B'},
        {"server-pid", required_argument, NULL, 'p'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"openssl", required_argument, NULL, 'O'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static struct driver d;
    struct hs_options o = {.openssl = "openssl"};
    const char *client = NULL, *source_net = "127.0.0.1";
    uint64_t conc = 1, duration = 10, warmup = 2, n_sources = 1, server_pid = 0, timeout_ms = 5000;
    double rate = 0, burst = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'c':
            client = optarg;
            break;
        case 's':
            if (!parse_server(optarg, &o.server))
                return fail("--server: expected 127.x.y.z:PORT");
            o.server_text = optarg;
            break;
        case 'D':
            o.dir = optarg;
            break;
        case 'o':
            o.overlay = optarg;
            break;
        case 'r':
            o.resume = true;
            break;
        case 'H':
            d.hold = true;
            break;
        case 'n':
            if (cordon_parse_u64(optarg, 1, SLOTS_MAX, &conc) != CORDON_OK)
                return fail("--concurrency: expected 1..1024");
            break;
        case 'd':
            if (cordon_parse_u64(optarg, 1, 3600, &duration) != CORDON_OK)
                return fail("--duration: expected 1..3600 seconds");
            break;
        case 'w':
            if (cordon_parse_u64(optarg, 0, 600, &warmup) != CORDON_OK)
                return fail("--warmup: expected 0..600 seconds");
            break;
        case 'S':
            if (cordon_parse_u64(optarg, 1, SOURCES_MAX, &n_sources) != CORDON_OK)
                return fail("--sources: expected 1..65536");
            break;
        case 'N':
            source_net = optarg;
            break;
        case 'R':
            if (strcmp(optarg, "0") != 0 &&
                cordon_parse_double(optarg, 0.001, 1e9, &rate) != CORDON_OK)
                return fail("--source-rate: expected 0 or a positive number");
            break;
        case 'B':
            if (cordon_parse_double(optarg, 1, 1e9, &burst) != CORDON_OK)
                return fail("--source-burst: expected a number >= 1");
            break;
        case 'p':
            if (cordon_parse_u64(optarg, 1, 1u << 30, &server_pid) != CORDON_OK)
                return fail("--server-pid: expected a process ID");
            break;
        case 't':
            if (cordon_parse_u64(optarg, 100, 600000, &timeout_ms) != CORDON_OK)
                return fail("--timeout-ms: expected 100..600000");
            break;
        case 'O':
            o.openssl = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (client == NULL || o.server_text == NULL || o.dir == NULL || optind != argc) {
        fputs(usage, stderr);
        return 2;
    }

    if (strcmp(client, "link") == 0)
        d.client = &hs_client_link;
    else if (strcmp(client, "openssl") == 0)
        d.client = &hs_client_openssl;
    else if (strcmp(client, "s_client") == 0)
        d.client = &hs_client_sclient;
    else
        return fail("--client: expected link, openssl or s_client");
    if (d.client == &hs_client_link && o.overlay == NULL)
        return fail("--overlay is needed with --client link");
    if (d.client == &hs_client_sclient && (o.resume || d.hold))
        return fail("--resume and --hold are not measured with s_client");

    struct in_addr net;
    if (inet_pton(AF_INET, source_net, &net) != 1 || (ntohl(net.s_addr) >> 24) != 127 ||
        ((ntohl(net.s_addr) & 0xffffffu) + n_sources - 1) > 0xfffffeu)
        return fail("--source-net: expected 127.x.y.z with room for --sources addresses");
    d.n_sources = n_sources;
    d.sources = calloc(n_sources, sizeof(*d.sources));
    d.n_slots = conc;
    d.slots = calloc(conc, sizeof(*d.slots));
    d.ep = epoll_create1(EPOLL_CLOEXEC);
    if (d.sources == NULL || d.slots == NULL || d.ep < 0)
        return fail("out of memory or descriptors");
    uint64_t t0 = mono_us();
    for (size_t i = 0; i < n_sources; i++) {
        d.sources[i].ip.s_addr = htonl(ntohl(net.s_addr) + (uint32_t)i);
        d.sources[i].tokens = burst;
        d.sources[i].last_us = t0;
    }
    d.rate = rate;
    d.burst = burst;
    d.timeout_us = timeout_ms * 1000u;

    if (d.client->open(&o, &d.cl) != CORDON_OK)
        return fail("cannot set the client up");
    int rc = 0;
    size_t made = 0;
    for (; made < conc; made++) {
        struct hs_slot *s = &d.slots[made];
        s->d = &d;
        s->udp = -1;
        s->watched = -1;
        s->source.sin_family = AF_INET;
        if (d.client->slot_new(d.cl, s, &s->state) != CORDON_OK) {
            rc = fail("cannot set a slot up");
            break;
        }
    }

    double cpu[2] = {0, 0}, server_cpu[2] = {-1, -1};
    if (rc == 0) {
        d.start_us = mono_us() + warmup * 1000000u;
        d.end_us = d.start_us + duration * 1000000u;
        run(&d, (long)server_pid, cpu, server_cpu);
    }
    char negotiated[256] = "";
    d.client->describe(d.cl, negotiated, sizeof(negotiated));
    for (size_t i = 0; i < made; i++) {
        hs_slot_release(&d.slots[i]);
        d.client->slot_free(d.slots[i].state);
    }
    d.client->close(d.cl);
    close(d.ep);
    if (rc != 0)
        return rc;

    if (d.n_lat > 0)
        qsort(d.lat_us, d.n_lat, sizeof(*d.lat_us), cmp_u32);
    double rate_s = (double)d.ok / (double)duration;
    double p50 = percentile_ms(d.lat_us, d.n_lat, 0.50);
    double p99 = percentile_ms(d.lat_us, d.n_lat, 0.99);
    double max = d.n_lat ? (double)d.lat_us[d.n_lat - 1] / 1000.0 : 0;
    double client_cpu = cpu[1] - cpu[0];
    double srv_cpu = server_cpu[0] >= 0 && server_cpu[1] >= 0 ? server_cpu[1] - server_cpu[0] : -1;
    double paced = d.rate > 0 ? (double)d.paced_us / ((double)duration * 1e6 * (double)conc) : 0;
    double per = d.ok ? 1e6 / (double)d.ok : 0;

    printf("client %s, %s handshakes, %zu slot(s), %zu source address(es)%s, %llu s after "
           "%llu s warm-up, server %s\n",
           d.client->name, o.resume ? "resumed" : "full", d.n_slots, d.n_sources,
           d.rate > 0 ? " paced" : "", (unsigned long long)duration, (unsigned long long)warmup,
           o.server_text);
    printf("handshakes          %llu in window (%llu full, %llu resumed), %.1f/s\n",
           (unsigned long long)d.ok, (unsigned long long)d.full, (unsigned long long)d.resumed,
           rate_s);
    printf("latency             p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", p50, p99, max);
    printf("failures            %llu failed, %llu timed out in window%s%s\n",
           (unsigned long long)d.failed, (unsigned long long)d.timeouts,
           d.first_error[0] ? "; first: " : "", d.first_error);
    printf("whole run           %llu full, %llu resumed, %llu failed, %llu timed out\n",
           (unsigned long long)d.all_full, (unsigned long long)d.all_resumed,
           (unsigned long long)d.all_failed, (unsigned long long)d.all_timeouts);
    if (d.hold)
        printf("held links          %zu of %zu slots held a link at the end\n", d.held, d.n_slots);
    printf("CPU in window       client %.2f s (%.0f us/handshake)", client_cpu, client_cpu * per);
    if (srv_cpu >= 0)
        printf(", server %.2f s (%.0f us/handshake)", srv_cpu, srv_cpu * per);
    printf("\n");
    if (d.rate > 0)
        printf("pacing              %.1f%% of slot time waited for a source token\n", 100 * paced);
    if (negotiated[0] != '\0')
        printf("negotiated          %s\n", negotiated);
    printf("RESULT client=%s mode=%s conc=%zu sources=%zu duration=%llu handshakes=%llu "
           "rate=%.1f full=%llu resumed=%llu p50_ms=%.3f p99_ms=%.3f max_ms=%.3f failed=%llu "
           "timeouts=%llu all_full=%llu all_resumed=%llu all_failed=%llu all_timeouts=%llu "
           "paced=%.4f client_cpu_s=%.3f client_cpu_us=%.1f server_cpu_s=%.3f "
           "server_cpu_us=%.1f client_cpu_total_s=%.3f %s\n",
           d.client->name, o.resume ? "resumed" : "full", d.n_slots, d.n_sources,
           (unsigned long long)duration, (unsigned long long)d.ok, rate_s,
           (unsigned long long)d.full, (unsigned long long)d.resumed, p50, p99, max,
           (unsigned long long)d.failed, (unsigned long long)d.timeouts,
           (unsigned long long)d.all_full, (unsigned long long)d.all_resumed,
           (unsigned long long)d.all_failed, (unsigned long long)d.all_timeouts, paced, client_cpu,
           client_cpu * per, srv_cpu, srv_cpu >= 0 ? srv_cpu * per : -1.0,
           cpu_seconds(RUSAGE_SELF) + cpu_seconds(RUSAGE_CHILDREN), negotiated);
    fflush(stdout);
    free(d.lat_us);
    free(d.sources);
    free(d.slots);
    /* --hold: what counts is that every slot ended up holding a link. */
    if (d.hold)
        return d.held == d.n_slots ? 0 : 1;
    return d.ok > 0 && d.failed == 0 && d.timeouts == 0 ? 0 : 1;
}
