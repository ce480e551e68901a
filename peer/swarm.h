/*
 * peer/swarm.h — `cordon-peer swarm`: N complete peer instances (peer/runtime.h) in one
 * process, driven by one epoll loop, for large local tests and benchmarks.
 *
 * Instance i lives in DIR/<i>/ (its own identity, socket, DTLS state and control socket
 * DIR/<i>/control.sock) and listens on ADDR:(BASEPORT + i) (BASEPORT 0: each picks a free
 * port). With spread (IPv4 loopback only) instance i listens on 127.(1 + i / 256).(i % 256).1
 * instead of ADDR, so that every instance sits in its own /24 as peers of a real network do:
 * the per-source-IP handshake rate and the per-prefix table limits then act on each instance
 * as they would between machines, rather than on the whole swarm as one source.
 *
 * Enrollment: given enroll options, every instance without DIR/<i>/node.crt is enrolled first
 * (sequentially, with the same token: its quota must cover them).
 *
 * Start: instances are created in waves of `wave`; the next wave starts once every instance
 * of this one has joined or CORDON_SWARM_WAVE_TIMEOUT_MS passed (logged swarm.wave_slow), so
 * that newcomers bootstrap from nodes already in the overlay. Without a bootstrap list,
 * instance 0 uses the overlay document's list and instance i > 0 the already started
 * instances 0, i / 2 and i - 1.
 *
 * Loop: every instance's UDP and control descriptors are in one epoll set; each instance's
 * next deadline is cached and recomputed only after it ran; SIGTERM/SIGINT (signalfd) stop it.
 * With a refresher, its descriptor is in the set too, and an instance whose CRL or
 * certificate it renewed is reloaded (cordon_runtime_reload_crl/_identity).
 *
 * Logs (logfmt): swarm.enrolled, swarm.starting, swarm.refresh (instances refreshed),
 * swarm.wave_slow, swarm.ready (all joined), swarm.instance_failed, swarm.stopping,
 * swarm.stopped; and every instance's own peer.* lines.
 */
#ifndef CORDON_PEER_SWARM_H
#define CORDON_PEER_SWARM_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "peer/enroll_client.h"
#include "peer/refresh.h"

#define CORDON_SWARM_MAX 4096              /* instances in one process */
#define CORDON_SWARM_WAVE_DEFAULT 16       /* instances started together */
#define CORDON_SWARM_WAVE_TIMEOUT_MS 30000 /* longest wait for a wave to join */
#define CORDON_SWARM_FDS_PER_INSTANCE 8    /* UDP, control listener + epoll, LMDB (3), slack */
#define CORDON_SWARM_TRIM_MS 10000 /* the heap is looked at this often; it is trimmed when */
#define CORDON_SWARM_TRIM_GAIN (64u * 1024 * 1024) /* it holds this many more free bytes, */
#define CORDON_SWARM_TRIM_FACTOR 20       /* at most once per 20 times the last trim's duration */
#define CORDON_SWARM_TRIM_PERIOD_MS 60000 /* and at least this often, gain or not */

struct cordon_swarm_options {
    const char *dir;    /* the swarm's root: DIR/<i>/ per instance (created 0700) */
    size_t count;       /* 1..CORDON_SWARM_MAX */
    const char *listen; /* "ADDR:BASEPORT" (numeric; "[v6]:PORT" for IPv6) */
    bool spread;        /* IPv4 loopback: one /24 per instance (see above) */
    const char *const *bootstrap;
    size_t n_bootstrap; /* 0: see "Start" above */
    size_t wave;        /* 0: CORDON_SWARM_WAVE_DEFAULT */
    /* Optional: written once every instance has joined (or its wave timed out), one line
     * per instance: "INDEX ADDR:PORT NODEID\n". */
    const char *ready_file;
    /* Optional: enroll instances without an identity (dir is set per instance). */
    const struct cordon_enroll_options *enroll;
    /* Optional: one refresher (peer/refresh.h) keeps every instance's CRL and certificate
     * current and the loop reloads them; instances without enrollment.json are left out. */
    const struct cordon_refresher_config *refresh;
    /* Optional: the local policy every instance runs with (maintain_s, store_rate,
     * store_burst, store_global_rate, crl_dht_s of struct cordon_runtime_options; its
     * other fields are ignored). NULL: the defaults. */
    const struct cordon_runtime_options *policy;
};

/* Enrolls what needs enrolling, runs the swarm until SIGTERM/SIGINT and frees it.
 * Errors: CORDON_ERR_INVAL (options), CORDON_ERR_NOT_FOUND (an instance has no identity and
 * no enrollment was asked for), CORDON_ERR_TOO_LARGE (the descriptor limit is too low for
 * count), those of cordon_enroll_node() and cordon_runtime_new(), CORDON_ERR_IO (the loop),
 * CORDON_ERR_NOMEM. Each is logged with what it concerns before returning. */
CORDON_MUST_CHECK cordon_err cordon_swarm_run(const struct cordon_swarm_options *o);

#endif
