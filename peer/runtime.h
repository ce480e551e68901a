/*
 * peer/runtime.h — one peer instance on the real network: a UDP socket, its DTLS link
 * table (peer/link.h), a fragment reassembler per remote (wire/frag.h) and the overlay
 * core (peer/core/core.h), plus the `cordon-peer run` loop that drives one instance.
 *
 * An instance owns no loop and no globals: it exposes its socket (cordon_runtime_fd), the
 * next time it needs attention (cordon_runtime_next_deadline) and one entry point
 * (cordon_runtime_handle) that reads whatever is waiting on the socket and runs every
 * timer that is due. Any loop that polls the fd for input and calls handle() when it is
 * readable or the deadline passed drives it, so several instances can share one loop
 * (swarm mode). Time is milliseconds of the monotonic clock (cordon_runtime_now_ms).
 *
 * Data path: the core's send(contact, message) -> cordon_frag_split() -> one
 * cordon_links_send() per record, to the contact's address, expecting the contact's node
 * ID. The links' deliver(node ID, address, record) -> the reassembler of that address
 * -> cordon_core_receive() with the proven node ID. A link that fails is reported to the
 * core with cordon_core_link_failed() (deferred: the core's send must not re-enter it).
 *
 * Bootstrap: addresses without node IDs. The runtime sends each a PING over a link that
 * expects no particular node (the link proves the node ID with the overlay CA, the PONG is
 * counted by the core as unsolicited), and once every bootstrap address has come up or
 * failed it calls cordon_core_join() with the contacts whose IDs the handshakes proved.
 * When none came up it tries again after CORDON_RT_BOOTSTRAP_RETRY_MS.
 *
 * Revocation and renewal: the instance reads its files again when told to
 * (cordon_runtime_reload_crl(), cordon_runtime_reload_identity()); a refresher
 * (peer/refresh.h) is what keeps those files current and says when. A new CRL closes the
 * links of the nodes it lists and drops them from the routing table (for that the instance
 * remembers, per node a link proved, the serial of the certificate it proved it with); the
 * link table refuses them from then on. A renewed certificate is presented by new
 * handshakes; links made before keep theirs.
 *
 * Storage: the core's storage (struct cordon_core_storage) is DIR/store (store/store.h)
 * with a verifier of the overlay's CA and the CRL in use; scan and held serve replica
 * maintenance (every maintain_s).
 *
 * Republishing: a writer keeps each object it wrote through the control API, the latest
 * per entry, in its store (cordon_store_mine_put: they survive a restart) and puts a new
 * version of it before half its lifetime is spent: the same value, kind and lifetime, seq
 * + 1, created_at now, signed again with the certificate in use. Each is due at a time
 * drawn in [created_at + lifetime/4, created_at + lifetime/2], so that writers restarted
 * together do not republish together; at most CORDON_RT_REPUBLISH_PER_TICK records are
 * taken per handle() and CORDON_RT_REPUBLISH_INFLIGHT puts run at once; after a (re)start,
 * what came due meanwhile goes within CORDON_RT_REPUBLISH_START_JITTER_MS of joining, for
 * the same reason. A put that fails
 * is tried again within CORDON_RT_REPUBLISH_RETRY_MAX_S (an eighth of the lifetime when
 * less); one refused as stale (the node holds a newer version this instance did not
 * write) ends that record's republishing. A DELETE ends it too: the tombstone is not
 * republished, it already lives the overlay's max_lifetime, which no object it deletes
 * outlives. Lifetimes under CORDON_RT_REPUBLISH_MIN_LIFETIME_S are not republished: a put
 * can take seconds, so those could not be kept reliably, and they are how a client stores
 * what should go away by itself. Counters: republished, republish_failed, mine_records.
 *
 * The CRL in the DHT: a CRL taken from DIR/crl.pem (cordon_runtime_reload_crl(): fetched
 * from the enrollment server) is put into the DHT as an object of kind crl (its value the
 * DER CRL, seq its crlNumber, signed as a wrapper by this node; what peers trust is the
 * CA's signature on the CRL, which acceptance checks), within
 * CORDON_RT_CRL_PUBLISH_JITTER_MS. Every crl_dht_s (and once joined) the instance gets the
 * crl resource from the DHT, and a higher number than the one in use is taken exactly as
 * a reload takes one (links closed, table dropped, verifier updated), then written to
 * DIR/crl.pem (cordon_refresh_write_crl(), atomically) so a restart keeps it. Counters:
 * crl_number, crl_published, crl_from_dht.
 *
 * Logging (common/log.h, logfmt): peer.started, peer.link_refused, peer.bootstrap_failed,
 * peer.joined, peer.table (on every change of the routing table's size), peer.crl_reloaded,
 * peer.revoked_dropped, peer.self_revoked, peer.identity_reloaded, peer.*_reload_failed,
 * peer.republish_failed, peer.republish_superseded, peer.crl_published, peer.crl_from_dht,
 * peer.crl_publish_failed, peer.crl_save_failed,
 * and the loop's peer.refresh / peer.refresh_off, peer.stopping / peer.stopped. No key
 * material, ever.
 */
#ifndef CORDON_PEER_RUNTIME_H
#define CORDON_PEER_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/limits.h"

typedef struct cordon_runtime cordon_runtime;
struct cordon_refresher_config; /* peer/refresh.h */

struct cordon_runtime_options {
    const char *dir;    /* what `cordon-peer enroll` stored: node.key, node.crt, ca.crt,
                         * crl.pem, overlay.json */
    const char *listen; /* "IPv4:PORT" or "[IPv6]:PORT", numeric; port 0 picks a free one */
    /* "host:port" entries (DNS names allowed, resolved once at start). n_bootstrap == 0:
     * the overlay document's bootstrap list. At most CORDON_BOOTSTRAP_MAX. */
    const char *const *bootstrap;
    size_t n_bootstrap;
    const char *ready_file; /* optional: "PORT NODEID\n" is written once listening */
    const char *control;    /* the control API's unix socket; NULL: DIR/control.sock */
    /* cordon_runtime_run() only: refresh DIR/crl.pem and DIR/node.crt in the background
     * with this configuration and reload them; NULL: no refresher. Instances made with
     * cordon_runtime_new() ignore it (their loop owns the refresher). */
    const struct cordon_refresher_config *refresh;
    /* Local policy of this node (0: the default of each). */
    uint32_t maintain_s; /* replica maintenance pass period, seconds (core maintain_ms; 60).
                          * 1..CORDON_RT_MAINTAIN_MAX_S */
    /* STORE budgets of the core (struct cordon_core_config): per remote node per second
     * (10), that bucket's depth (100), from all remotes per second (1000). Each
     * 1..CORDON_RT_STORE_BUDGET_MAX. */
    uint32_t store_rate, store_burst, store_global_rate;
    /* Seconds between two reads of the CRL object in the DHT (and the first right after
     * joining); 0: CORDON_RT_CRL_DHT_DEFAULT_S. 1..CORDON_RT_CRL_DHT_MAX_S. */
    uint32_t crl_dht_s;
};

/* Ranges of the options above (cordon-peer checks them; cordon_runtime_new() refuses
 * values outside them with CORDON_ERR_INVAL). */
#define CORDON_RT_MAINTAIN_MAX_S 86400
#define CORDON_RT_STORE_BUDGET_MAX 100000
#define CORDON_RT_CRL_DHT_DEFAULT_S 300
#define CORDON_RT_CRL_DHT_MAX_S 86400

/* Republishing (see "Republishing" above). */
#define CORDON_RT_REPUBLISH_MIN_LIFETIME_S 10    /* shorter lifetimes are not republished */
#define CORDON_RT_REPUBLISH_INFLIGHT 8           /* republishing puts running at once */
#define CORDON_RT_REPUBLISH_PER_TICK 8           /* records taken per handle() at most */
#define CORDON_RT_REPUBLISH_RETRY_MAX_S 30       /* a failed republish is tried again within */
#define CORDON_RT_REPUBLISH_IDLE_MS 60000        /* due records are looked at least this often */
#define CORDON_RT_REPUBLISH_START_JITTER_MS 5000 /* once joined, the first look within */
#define CORDON_RT_CRL_PUBLISH_JITTER_MS 10000    /* a new CRL goes to the DHT within this */
#define CORDON_RT_CRL_PUBLISH_TRIES 3            /* puts of one CRL that failed on the network */
#define CORDON_RT_CRL_RETRY_MS 10000             /* between those tries */
#define CORDON_RT_SCAN_ROUNDS 16 /* store scans of one maintenance step (expired skipped) */

/* The monotonic clock in milliseconds. */
uint64_t cordon_runtime_now_ms(void);

/* Creates an instance: opens and verifies DIR/overlay.json with DIR/ca.crt, loads the
 * identity, binds the socket, creates the link table and the core, resolves the
 * bootstrap addresses, logs peer.started, opens the control socket (o->control, else
 * DIR/control.sock; logs peer.control), writes the ready file and starts joining.
 * Errors (logged as peer.start_failed with the reason before returning):
 * CORDON_ERR_INVAL (options: listen address, bootstrap entries), CORDON_ERR_IO (files,
 * socket, bind, the ready file), CORDON_ERR_EXISTS (the control socket is served by
 * another process, or its path is not a socket), CORDON_ERR_NETWORK (a bootstrap name that does not
 * resolve), those of cordon_overlay_open(), cordon_link_identity_load(),
 * cordon_links_new(), cordon_core_new(), CORDON_ERR_NOMEM. */
CORDON_MUST_CHECK cordon_err cordon_runtime_new(const struct cordon_runtime_options *o,
                                                uint64_t now_ms, cordon_runtime **out);
/* Closes the control socket (removing its file), the UDP socket and frees everything (no
 * close_notify is sent). Accepts NULL. */
void cordon_runtime_free(cordon_runtime *rt);

/* The non-blocking UDP socket: poll it for input. Owned by the instance. */
int cordon_runtime_fd(const cordon_runtime *rt);
/* The bound port (the chosen one when listen said port 0). */
uint16_t cordon_runtime_port(const cordon_runtime *rt);
/* This node's ID (CORDON_NODE_ID_LEN bytes, valid as long as rt). */
const uint8_t *cordon_runtime_node_id(const cordon_runtime *rt);

/* True once the instance has joined: its bootstrap handshakes finished and the join's
 * self-lookup and bucket refreshes completed (logged as peer.joined). */
bool cordon_runtime_joined(const cordon_runtime *rt);

/* The control API's fd (peer/control.h): poll it for EPOLLIN and call
 * cordon_runtime_control_run() when it is readable or cordon_runtime_control_due() says so
 * (cordon_runtime_next_deadline() includes that time). -1 when the instance has none. */
int cordon_runtime_control_fd(const cordon_runtime *rt);
bool cordon_runtime_control_due(const cordon_runtime *rt);
/* Serves the control API (never blocks). Errors: CORDON_ERR_IO (libmicrohttpd failed;
 * logged as peer.control_failed). */
CORDON_MUST_CHECK cordon_err cordon_runtime_control_run(cordon_runtime *rt, uint64_t now_ms);

/* Reads the datagrams waiting on the socket (at most CORDON_RT_DATAGRAMS_PER_HANDLE per
 * call, so that instances sharing a loop take turns) and runs every timer due at now_ms.
 * Calling it early or with nothing to do is harmless. Errors: CORDON_ERR_IO (the socket
 * failed), CORDON_ERR_CRYPTO (no randomness): the instance is poisoned and returns the
 * same error from then on. */
CORDON_MUST_CHECK cordon_err cordon_runtime_handle(cordon_runtime *rt, uint64_t now_ms);

/* The next now_ms at which handle() has timer work (now_ms itself when it has work right
 * away, e.g. datagrams left unread); UINT64_MAX when none. */
uint64_t cordon_runtime_next_deadline(const cordon_runtime *rt, uint64_t now_ms);

/* Loads DIR/crl.pem and, when it verifies with the overlay CA now and its CRL number is
 * higher than the one in use, takes it: the link table closes every established link whose
 * peer it lists (links_revoked) and refuses them from then on; each node of the routing
 * table whose proven certificate it lists is forgotten by the core (counted in the
 * revoked_dropped counter, logged as peer.revoked_dropped). The same number again is
 * CORDON_OK and changes nothing. Logs peer.crl_reloaded; peer.self_revoked when it lists
 * this node. Errors (logged as peer.crl_reload_failed, counted in reload_failures; the CRL
 * in use stays): those of cordon_crl_load(), CORDON_ERR_CRL (does not verify, is stale, or
 * has a lower number than the one in use: no rollback), CORDON_ERR_TOO_LARGE. */
CORDON_MUST_CHECK cordon_err cordon_runtime_reload_crl(cordon_runtime *rt, uint64_t now_ms);

/* Loads DIR/node.crt and, when it is another certificate that proves this node's ID, for
 * this node's key, and verifies with the CA and the CRL now, makes every handshake from
 * now on present it (cordon_links_set_cert()); established links keep working. The same
 * certificate again is CORDON_OK. Logs peer.identity_reloaded (serial, not_after).
 * Errors (logged as peer.identity_reload_failed, counted; the certificate in use stays):
 * those of cordon_cert_load(), CORDON_ERR_KEY_TYPE (not our key), CORDON_ERR_CERT_NODE_ID
 * (another node), those of cordon_cert_verify_node() and cordon_links_set_cert(). */
CORDON_MUST_CHECK cordon_err cordon_runtime_reload_identity(cordon_runtime *rt, uint64_t now_ms);

/* `cordon-peer run`: one instance on one epoll loop, with SIGTERM and SIGINT taken through
 * a signalfd, and when o->refresh asks for it a refresher whose results are reloaded (a
 * DIR without enrollment.json runs without, logging peer.refresh_off); returns after a
 * signal asked it to stop (CORDON_OK) or on an error of cordon_runtime_new()/handle(), of
 * the refresher (peer.start_failed stage=refresh) or of the loop itself (CORDON_ERR_IO). */
CORDON_MUST_CHECK cordon_err cordon_runtime_run(const struct cordon_runtime_options *o);

#endif
