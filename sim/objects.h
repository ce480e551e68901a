/*
 * sim/objects.h — signed objects in the simulator (internal to sim/): a test CA, one
 * identity (key and node certificate) per writing node, and an in-memory object store per
 * node behind struct cordon_core_storage, which may lie as the storage adversaries do.
 *
 * Why in memory and not a cordon_store (LMDB) per node: an environment costs a map and two
 * file descriptors, so ten thousand nodes would need twenty thousand descriptors and as
 * many maps. What must not differ from the runtime is judged by the real code: every
 * object is decoded by cordon_object_decode() and verified by cordon_object_verify() with
 * one verifier shared by all nodes (so its certificate cache is shared too), against
 * certificates that the CA issued (cordon_cert_issue_node). Of the store's stateful rules
 * only those a simulated replica needs are kept, in store/store.h's order (see objects.c).
 *
 * Time: objects and certificates live on a virtual wall clock, SIM_T0 plus the simulator's
 * milliseconds.
 */
#ifndef CORDON_SIM_OBJECTS_H
#define CORDON_SIM_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "crypto/crypto.h"
#include "crypto/object.h"
#include "peer/core/core.h"

#define SIM_OVERLAY "sim"
#define SIM_T0 UINT64_C(1767225600) /* 2026-01-01T00:00:00Z: virtual time 0 */

/* How a node's store behaves (the storage adversaries of sim.h). */
enum sim_store_mode {
    SIM_STORE_HONEST = 0,
    SIM_STORE_REFUSE, /* acknowledges every STORE as accepted and keeps nothing */
    SIM_STORE_STALE,  /* accepts honestly the first version of an entry, then acknowledges
                         newer ones and keeps serving that first one */
    SIM_STORE_FORGE,  /* stores honestly, serves every object with one value byte flipped */
};

/* The CA, the shared verifier. */
struct sim_ca {
    cordon_key *key;
    cordon_cert *cert;
    cordon_object_verifier *verifier;
    uint32_t serials;
};

/* A writer: its key and the DER of its certificate. */
struct sim_identity {
    cordon_key *key;
    cordon_buf der;
};

struct sim_entry {
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    uint64_t seq, expires_at;
    uint8_t *obj; /* owned, len bytes */
    size_t len;
};

struct sim_store {
    struct sim_ca *ca;         /* borrowed */
    uint8_t mode;              /* enum sim_store_mode; HONEST until the adversaries switch on */
    struct sim_entry *entries; /* sorted by key (memcmp order), each key once */
    size_t n, cap;
};

CORDON_MUST_CHECK cordon_err sim_ca_init(struct sim_ca *ca);
void sim_ca_free(struct sim_ca *ca);

/* Issues id a key and a node certificate valid from SIM_T0 - 1 h for 30 days. */
CORDON_MUST_CHECK cordon_err sim_identity_issue(struct sim_ca *ca,
                                                const uint8_t id[CORDON_NODE_ID_LEN],
                                                struct sim_identity *out);
void sim_identity_free(struct sim_identity *idt);

/* Signs an owned object of writer id named name into out (reset first). */
CORDON_MUST_CHECK cordon_err sim_object_sign(const struct sim_identity *idt,
                                             const uint8_t id[CORDON_NODE_ID_LEN], const char *name,
                                             uint64_t seq, uint64_t created_at, uint32_t lifetime,
                                             const uint8_t *value, size_t value_len,
                                             cordon_buf *out);

/* The storage of a node; st must stay where it is while a core uses it. With maintain, it
 * has scan and held (entries walked in key order: the store keeps them sorted), and the
 * core runs replica maintenance; without, the core runs none. */
struct cordon_core_storage sim_store_storage(struct sim_store *st, bool maintain);
void sim_store_free(struct sim_store *st);

/* The virtual wall clock, in seconds, at simulator time now_ms. */
uint64_t sim_unix(uint64_t now_ms);

#endif
