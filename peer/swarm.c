/*
 * peer/swarm.c — many peer instances on one epoll loop (see swarm.h). Owns the instances,
 * the epoll and signal descriptors; each instance owns its socket and state.
 */
#include "peer/swarm.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/parse.h"
#include "peer/runtime.h"

#define SWARM_EVENTS 256
#define SWARM_IP_MAX (CORDON_ADDR_TEXT_MAX - 8) /* room for ":65535" */
#define SWARM_BOOT_PER_INSTANCE 3               /* instances 0, i / 2 and i - 1 */
/* epoll data: instance index * 2 + kind; the signalfd has its own value. */
#define EV_UDP 0u
#define EV_CONTROL 1u
#define EV_SIGNAL UINT64_MAX
#define EV_REFRESH (UINT64_MAX - 1)

struct swarm_inst {
    cordon_runtime *rt;
    uint64_t due; /* cached cordon_runtime_next_deadline() */
    bool failed;
    char ip[SWARM_IP_MAX]; /* where it listens: ip and the port of listen */
    char listen[CORDON_ADDR_TEXT_MAX];
    char dir[CORDON_PATH_MAX];
};

struct swarm {
    const struct cordon_swarm_options *o;
    struct swarm_inst *inst;
    size_t started; /* instances 0..started-1 exist (some may have failed) */
    size_t failed;
    int ep, sfd;
    cordon_refresher *refresher;
    int signo;
    bool ready; /* every wave started: from then on the heap is trimmed */
    uint64_t trim_at;
    size_t trim_free;     /* the least free heap bytes seen since the last trim */
    uint64_t trim_period; /* the next trim whatever the gain */
    uint16_t base_port;
    char host[SWARM_IP_MAX];
};

/* ---- options ----------------------------------------------------------------------------------
 */

/* Splits "ADDR:BASEPORT" and checks that count ports fit above BASEPORT. */
static cordon_err parse_listen(struct swarm *s)
{
    const struct cordon_swarm_options *o = s->o;
    const char *colon = strrchr(o->listen, ':');
    size_t hlen = colon != NULL ? (size_t)(colon - o->listen) : 0;
    uint64_t port;
    if (colon == NULL || hlen == 0 || hlen >= sizeof(s->host) ||
        cordon_parse_u64(colon + 1, 0, 65535, &port) != CORDON_OK)
        return CORDON_ERR_INVAL;
    if (port != 0 && port + o->count - 1 > 65535)
        return CORDON_ERR_INVAL;
    memcpy(s->host, o->listen, hlen);
    s->host[hlen] = '\0';
    if (o->spread && strcmp(s->host, "127.0.0.1") != 0)
        return CORDON_ERR_INVAL; /* spreading is defined over IPv4 loopback only */
    s->base_port = (uint16_t)port;
    return CORDON_OK;
}

static void instance_listen(const struct swarm *s, size_t i, struct swarm_inst *in)
{
    uint16_t port = s->base_port == 0 ? 0 : (uint16_t)(s->base_port + i);
    if (s->o->spread)
        snprintf(in->ip, sizeof(in->ip), "127.%u.%u.1", (unsigned)(1 + i / 256),
                 (unsigned)(i % 256));
    else
        snprintf(in->ip, sizeof(in->ip), "%s", s->host);
    snprintf(in->listen, sizeof(in->listen), "%s:%u", in->ip, (unsigned)port);
}

/* Raises the soft descriptor limit to what count instances need (at most the hard one). */
static cordon_err ensure_fds(size_t count)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)count * CORDON_SWARM_FDS_PER_INSTANCE + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return CORDON_ERR_IO;
    if (rl.rlim_cur >= need)
        return CORDON_OK;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        cordon_log(CORDON_LOG_ERROR, "swarm.fd_limit", "count=%zu need=%llu hard_limit=%llu", count,
                   (unsigned long long)need, (unsigned long long)rl.rlim_max);
        return CORDON_ERR_TOO_LARGE;
    }
    rl.rlim_cur = need;
    return setrlimit(RLIMIT_NOFILE, &rl) == 0 ? CORDON_OK : CORDON_ERR_IO;
}

/* ---- enrollment -------------------------------------------------------------------------------
 */

static cordon_err enroll_missing(struct swarm *s)
{
    const struct cordon_swarm_options *o = s->o;
    size_t enrolled = 0;
    for (size_t i = 0; i < o->count; i++) {
        char crt[CORDON_PATH_MAX];
        cordon_err err = cordon_path_join(crt, s->inst[i].dir, "node.crt");
        if (err != CORDON_OK)
            return err;
        if (cordon_path_exists(crt))
            continue;
        char q[CORDON_PATH_MAX];
        if (o->enroll == NULL) {
            cordon_log(CORDON_LOG_ERROR, "swarm.not_enrolled",
                       "index=%zu dir=%s hint=\"give --server, --token and --ca-fingerprint\"", i,
                       cordon_log_quote(s->inst[i].dir, q, sizeof(q)));
            return CORDON_ERR_NOT_FOUND;
        }
        struct cordon_enroll_options eo = *o->enroll;
        eo.dir = s->inst[i].dir;
        uint8_t id[CORDON_NODE_ID_LEN];
        err = cordon_enroll_node(&eo, id);
        if (err != CORDON_OK) {
            cordon_log(CORDON_LOG_ERROR, "swarm.enroll_failed", "index=%zu dir=%s reason=%s", i,
                       cordon_log_quote(s->inst[i].dir, q, sizeof(q)), cordon_errname(err));
            return err;
        }
        enrolled++;
    }
    if (enrolled > 0)
        cordon_log(CORDON_LOG_INFO, "swarm.enrolled", "count=%zu", enrolled);
    return CORDON_OK;
}

/* ---- instances --------------------------------------------------------------------------------
 */

static cordon_err watch(struct swarm *s, int fd, uint64_t data)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = data};
    return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) == 0 ? CORDON_OK : CORDON_ERR_IO;
}

static cordon_err start_instance(struct swarm *s, size_t i, uint64_t now)
{
    const struct cordon_swarm_options *o = s->o;
    struct swarm_inst *in = &s->inst[i];
    char boot_text[SWARM_BOOT_PER_INSTANCE][CORDON_ADDR_TEXT_MAX];
    const char *boot[SWARM_BOOT_PER_INSTANCE];
    struct cordon_runtime_options ro = {.dir = in->dir, .listen = in->listen};
    if (o->policy != NULL) {
        ro.maintain_s = o->policy->maintain_s;
        ro.store_rate = o->policy->store_rate;
        ro.store_burst = o->policy->store_burst;
        ro.store_global_rate = o->policy->store_global_rate;
        ro.crl_dht_s = o->policy->crl_dht_s;
    }
    if (o->n_bootstrap > 0) {
        ro.bootstrap = o->bootstrap;
        ro.n_bootstrap = o->n_bootstrap;
    } else if (i > 0) {
        /* Earlier instances that are running, each once. */
        size_t cand[SWARM_BOOT_PER_INSTANCE] = {0, i / 2, i - 1};
        size_t n = 0;
        for (size_t k = 0; k < SWARM_BOOT_PER_INSTANCE; k++) {
            const struct swarm_inst *b = &s->inst[cand[k]];
            bool dup = false;
            for (size_t j = 0; j < k && !dup; j++)
                dup = cand[j] == cand[k];
            if (dup || b->failed || b->rt == NULL)
                continue;
            snprintf(boot_text[n], sizeof(boot_text[n]), "%s:%u", b->ip,
                     (unsigned)cordon_runtime_port(b->rt));
            boot[n] = boot_text[n];
            n++;
        }
        ro.bootstrap = boot;
        ro.n_bootstrap = n; /* 0 only when every candidate failed: the document's list */
    }
    cordon_err err = cordon_runtime_new(&ro, now, &in->rt);
    if (err != CORDON_OK)
        return err;
    err = watch(s, cordon_runtime_fd(in->rt), (uint64_t)i * 2 + EV_UDP);
    if (err == CORDON_OK && cordon_runtime_control_fd(in->rt) >= 0)
        err = watch(s, cordon_runtime_control_fd(in->rt), (uint64_t)i * 2 + EV_CONTROL);
    in->due = now;
    return err;
}

/* Frees a failed instance; the others go on. */
static void fail_instance(struct swarm *s, size_t i, cordon_err err)
{
    struct swarm_inst *in = &s->inst[i];
    cordon_log(CORDON_LOG_ERROR, "swarm.instance_failed", "index=%zu reason=%s", i,
               cordon_errname(err));
    cordon_runtime_free(in->rt); /* closing its descriptors takes them out of the epoll set */
    in->rt = NULL;
    in->failed = true;
    in->due = UINT64_MAX;
    s->failed++;
}

/* ---- the loop ---------------------------------------------------------------------------------
 */

static void run_instance(struct swarm *s, size_t i, bool control, uint64_t now)
{
    struct swarm_inst *in = &s->inst[i];
    if (in->rt == NULL)
        return;
    cordon_err err = cordon_runtime_handle(in->rt, now);
    if (err == CORDON_OK && (control || cordon_runtime_control_due(in->rt)))
        err = cordon_runtime_control_run(in->rt, now);
    if (err != CORDON_OK) {
        fail_instance(s, i, err);
        return;
    }
    in->due = cordon_runtime_next_deadline(in->rt, now);
}

/* The refresher replaced an instance's CRL or certificate: reload it. An instance not yet
 * started reads the new files when it starts. A refused reload is logged and counted by
 * the instance, which goes on with what it has. */
static void on_refreshed(void *ctx, size_t index, unsigned what)
{
    struct swarm *s = ctx;
    if (index >= s->started || s->inst[index].rt == NULL)
        return;
    cordon_runtime *rt = s->inst[index].rt;
    uint64_t now = cordon_runtime_now_ms();
    cordon_err err = CORDON_OK;
    if ((what & CORDON_REFRESH_CRL) != 0)
        err = cordon_runtime_reload_crl(rt, now);
    if ((what & CORDON_REFRESH_IDENTITY) != 0)
        err = cordon_runtime_reload_identity(rt, now);
    (void)err;                /* logged and counted by the instance */
    s->inst[index].due = now; /* a reload may have closed links: run it now */
}

/* One refresher for every instance that has an enrollment.json; none when not asked for or
 * none has. */
static cordon_err open_refresher(struct swarm *s)
{
    const struct cordon_refresher_config *c = s->o->refresh;
    if (c == NULL || (c->crl_interval_s == 0 && c->renew_before_s == 0))
        return CORDON_OK;
    cordon_err err = cordon_refresher_new(c, &s->refresher);
    size_t added = 0, skipped = 0;
    for (size_t i = 0; i < s->o->count && err == CORDON_OK; i++) {
        err = cordon_refresher_add(s->refresher, s->inst[i].dir, i);
        if (err == CORDON_ERR_NOT_FOUND) {
            skipped++; /* enrolled by hand: nothing to refresh from */
            err = CORDON_OK;
        } else if (err == CORDON_OK) {
            added++;
        }
    }
    if (err == CORDON_OK && added > 0)
        err = cordon_refresher_start(s->refresher);
    if (err == CORDON_OK && added > 0)
        err = watch(s, cordon_refresher_fd(s->refresher), EV_REFRESH);
    if (err != CORDON_OK || added == 0) {
        cordon_refresher_free(s->refresher);
        s->refresher = NULL;
    }
    if (err != CORDON_OK)
        cordon_log(CORDON_LOG_ERROR, "swarm.refresh_failed", "reason=%s", cordon_errname(err));
    else
        cordon_log(CORDON_LOG_INFO, "swarm.refresh",
                   "instances=%zu without_enrollment=%zu crl_interval_s=%u renew_before_s=%lld",
                   added, skipped, (unsigned)c->crl_interval_s, (long long)c->renew_before_s);
    return err;
}

/* One round: waits for input or the earliest deadline (at most max_wait_ms), then runs every
 * instance that has input or is due. */
static cordon_err round_once(struct swarm *s, uint64_t max_wait_ms)
{
    uint64_t now = cordon_runtime_now_ms();
    uint64_t due = now + max_wait_ms;
    for (size_t i = 0; i < s->started; i++) {
        if (s->inst[i].due < due)
            due = s->inst[i].due;
    }
    int timeout = due <= now ? 0 : (int)(due - now);
    struct epoll_event evs[SWARM_EVENTS];
    int n = epoll_wait(s->ep, evs, SWARM_EVENTS, timeout);
    if (n < 0 && errno != EINTR)
        return CORDON_ERR_IO;
    now = cordon_runtime_now_ms();
    for (int k = 0; k < n; k++) {
        uint64_t d = evs[k].data.u64;
        if (d == EV_REFRESH) {
            cordon_refresher_drain(s->refresher, on_refreshed, s);
            continue;
        }
        if (d == EV_SIGNAL) {
            struct signalfd_siginfo si;
            if (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                s->signo = (int)si.ssi_signo;
            continue;
        }
        size_t i = (size_t)(d / 2);
        if (i < s->started)
            run_instance(s, i, (d % 2) == EV_CONTROL, now);
    }
    if (s->signo != 0)
        return CORDON_OK;
    for (size_t i = 0; i < s->started; i++) {
        if (s->inst[i].due <= now)
            run_instance(s, i, false, now);
    }
    if (s->ready && now >= s->trim_at) {
        /* Links that idled out free tens of kilobytes each, scattered over the heap: give
         * the free pages back, or the swarm's RSS would stay at its peak forever. A trim
         * walks every free chunk (one madvise per free page run: some 100,000 in a swarm
         * of 512 that did lookups, a few hundred milliseconds in which no instance runs),
         * so it runs only when the heap holds CORDON_SWARM_TRIM_GAIN more free bytes than
         * the least it held since the last trim — links were freed, there is memory to
         * return — and the next one waits at least CORDON_SWARM_TRIM_FACTOR times as long
         * as this one took. A busy swarm in a steady state reuses what it frees and is
         * not stalled; one whose links idle out is trimmed. Not while the waves start: the
         * joins reuse at once what they free, and a trim at 1,000 instances took 0.5–2.7 s,
         * longer than a request's first timeout (1 s): requests in flight at a trim time
         * out, and the joins it slows hold their links longer.
         * The free bytes count pages trimmed before, so a heap that keeps reusing and
         * freeing them (links that open and idle out all the time) makes no gain and was
         * never trimmed again for minutes (bench/README.md, run 12: 1.43 MiB per instance
         * in use, 1.68 resident). So it is also trimmed once every
         * CORDON_SWARM_TRIM_PERIOD_MS, at most 0.12 s of stall a minute at 1,000 instances;
         * what stays resident beyond use then is mostly free space within used pages. */
        s->trim_at = now + CORDON_SWARM_TRIM_MS;
        if (s->trim_period == 0)
            s->trim_period = now + CORDON_SWARM_TRIM_PERIOD_MS;
#ifdef __GLIBC__
        size_t free_bytes = mallinfo2().fordblks;
        if (free_bytes < s->trim_free)
            s->trim_free = free_bytes;
        if (free_bytes >= s->trim_free + CORDON_SWARM_TRIM_GAIN || now >= s->trim_period) {
            s->trim_period = now + CORDON_SWARM_TRIM_PERIOD_MS;
            uint64_t t0 = cordon_runtime_now_ms();
            (void)malloc_trim(0);
            uint64_t took = cordon_runtime_now_ms() - t0;
            struct mallinfo2 mi = mallinfo2();
            s->trim_free = mi.fordblks; /* trimmed pages stay free chunks */
            cordon_log(CORDON_LOG_INFO, "swarm.trim",
                       "took_ms=%llu heap_bytes=%zu in_use_bytes=%zu free_bytes=%zu "
                       "mmapped_bytes=%zu",
                       (unsigned long long)took, mi.arena, mi.uordblks, mi.fordblks, mi.hblkhd);
            if (took * CORDON_SWARM_TRIM_FACTOR > CORDON_SWARM_TRIM_MS)
                s->trim_at = now + took * CORDON_SWARM_TRIM_FACTOR;
        }
#endif
    }
    return s->failed == s->started && s->started > 0 ? CORDON_ERR_IO : CORDON_OK;
}

static bool wave_joined(const struct swarm *s, size_t from)
{
    for (size_t i = from; i < s->started; i++) {
        if (s->inst[i].rt != NULL && !cordon_runtime_joined(s->inst[i].rt))
            return false;
    }
    return true;
}

static cordon_err write_ready(const struct swarm *s)
{
    cordon_buf b;
    cordon_buf_init(&b, (size_t)s->o->count * (CORDON_ADDR_TEXT_MAX + 96), false);
    cordon_err err = CORDON_OK;
    for (size_t i = 0; i < s->started && err == CORDON_OK; i++) {
        const struct swarm_inst *in = &s->inst[i];
        if (in->rt == NULL)
            continue;
        char hex[2 * CORDON_NODE_ID_LEN + 1];
        cordon_hex_encode(cordon_runtime_node_id(in->rt), CORDON_NODE_ID_LEN, hex);
        err = cordon_buf_printf(&b, "%zu %s:%u %s\n", i, in->ip,
                                (unsigned)cordon_runtime_port(in->rt), hex);
    }
    if (err == CORDON_OK)
        err = cordon_write_file(s->o->ready_file, b.data, b.len, 0644);
    cordon_buf_free(&b);
    return err;
}

/* Starts the instances wave by wave, serving the ones already started meanwhile. */
static cordon_err start_all(struct swarm *s)
{
    const struct cordon_swarm_options *o = s->o;
    size_t wave = o->wave == 0 ? CORDON_SWARM_WAVE_DEFAULT : o->wave;
    size_t slow = 0;
    while (s->started < o->count && s->signo == 0) {
        size_t from = s->started;
        uint64_t now = cordon_runtime_now_ms();
        for (size_t i = from; i < o->count && i < from + wave; i++) {
            cordon_err err = start_instance(s, i, now);
            s->started = i + 1;
            if (err != CORDON_OK) {
                char q[CORDON_PATH_MAX];
                cordon_log(CORDON_LOG_ERROR, "swarm.start_failed", "index=%zu dir=%s reason=%s", i,
                           cordon_log_quote(s->inst[i].dir, q, sizeof(q)), cordon_errname(err));
                return err; /* a configuration problem: the next ones would fail alike */
            }
        }
        uint64_t deadline = now + CORDON_SWARM_WAVE_TIMEOUT_MS;
        while (s->signo == 0 && !wave_joined(s, from)) {
            now = cordon_runtime_now_ms();
            if (now >= deadline) {
                slow++;
                cordon_log(CORDON_LOG_WARN, "swarm.wave_slow", "from=%zu to=%zu waited_ms=%u", from,
                           s->started - 1, (unsigned)CORDON_SWARM_WAVE_TIMEOUT_MS);
                break;
            }
            cordon_err err = round_once(s, deadline - now);
            if (err != CORDON_OK)
                return err;
        }
    }
    if (s->signo != 0)
        return CORDON_OK;
    cordon_log(CORDON_LOG_INFO, "swarm.ready", "count=%zu failed=%zu slow_waves=%zu", s->started,
               s->failed, slow);
    s->ready = true;
    if (o->ready_file != NULL) {
        cordon_err err = write_ready(s);
        if (err != CORDON_OK) {
            cordon_log(CORDON_LOG_ERROR, "swarm.ready_file_failed", "reason=%s",
                       cordon_errname(err));
            return err;
        }
    }
    return CORDON_OK;
}

static cordon_err prepare(struct swarm *s)
{
    const struct cordon_swarm_options *o = s->o;
    if (mkdir(o->dir, 0700) != 0 && errno != EEXIST)
        return CORDON_ERR_IO;
    for (size_t i = 0; i < o->count; i++) {
        char name[24];
        snprintf(name, sizeof(name), "%zu", i);
        cordon_err err = cordon_path_join(s->inst[i].dir, o->dir, name);
        if (err != CORDON_OK)
            return err;
        instance_listen(s, i, &s->inst[i]);
        s->inst[i].due = UINT64_MAX;
    }
    return CORDON_OK;
}

cordon_err cordon_swarm_run(const struct cordon_swarm_options *o)
{
    struct swarm s = {.o = o, .ep = -1, .sfd = -1};
    sigset_t mask, old;
    bool masked = false;
    cordon_err err = CORDON_ERR_INVAL;
    if (o == NULL || o->dir == NULL || o->listen == NULL || o->count == 0 ||
        o->count > CORDON_SWARM_MAX || (o->n_bootstrap > 0 && o->bootstrap == NULL))
        return err;
    err = parse_listen(&s);
    if (err != CORDON_OK) {
        char q[2 * CORDON_ADDR_TEXT_MAX];
        cordon_log(CORDON_LOG_ERROR, "swarm.bad_listen", "listen=%s count=%zu spread=%d",
                   cordon_log_quote(o->listen, q, sizeof(q)), o->count, o->spread);
        return err;
    }
    err = ensure_fds(o->count);
    if (err != CORDON_OK)
        return err;
    err = CORDON_ERR_NOMEM;
    s.inst = calloc(o->count, sizeof(*s.inst));
    if (s.inst == NULL)
        goto out;
    err = prepare(&s);
    if (err == CORDON_OK)
        err = enroll_missing(&s);
    if (err != CORDON_OK)
        goto out;

    err = CORDON_ERR_IO;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, &old) != 0)
        goto out;
    masked = true;
    s.sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    s.ep = epoll_create1(EPOLL_CLOEXEC);
    if (s.sfd < 0 || s.ep < 0 || watch(&s, s.sfd, EV_SIGNAL) != CORDON_OK)
        goto out;

    err = open_refresher(&s);
    if (err != CORDON_OK)
        goto out;
    cordon_log(CORDON_LOG_INFO, "swarm.starting", "count=%zu spread=%d", o->count, o->spread);
    err = start_all(&s);
    while (err == CORDON_OK && s.signo == 0)
        err = round_once(&s, 60000);
    if (s.signo != 0)
        cordon_log(CORDON_LOG_INFO, "swarm.stopping", "signal=%s",
                   s.signo == SIGTERM ? "TERM" : "INT");
    else
        cordon_log(CORDON_LOG_ERROR, "swarm.failed", "reason=%s", cordon_errname(err));
out:
    cordon_refresher_free(s.refresher); /* joins its thread first: it may be writing files */
    if (s.inst != NULL) {
        for (size_t i = 0; i < o->count; i++)
            cordon_runtime_free(s.inst[i].rt);
        if (s.started > 0)
            cordon_log(CORDON_LOG_INFO, "swarm.stopped", "count=%zu failed=%zu", s.started,
                       s.failed);
    }
    free(s.inst);
    if (s.ep >= 0)
        close(s.ep);
    if (s.sfd >= 0)
        close(s.sfd);
    if (masked)
        sigprocmask(SIG_SETMASK, &old, NULL);
    return err;
}
