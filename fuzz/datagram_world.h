/*
 * fuzz/datagram_world.h — the small world fuzz/fuzz_datagram.c runs its inputs in, shared
 * with fuzz/datagram_seeds.c (which writes the seeds by running them here, so that every
 * seed is known to reach what it was made for).
 *
 * The world: a "server" peer (a link table of peer/link.h, one reassembler per remote of
 * wire/frag.h behind a shared budget, and an overlay core of peer/core/core.h, wired
 * together as peer/runtime.c wires them), a "client" link table with another identity of
 * the same overlay, and an in-memory network between them. Both identities are P-256 node
 * certificates issued at start-up by the fixed fuzz CA of fuzz/enroll_fuzz_ca.h; both
 * tables read the fixed wall clock FUZZ_NOW, so certificate validity never depends on when
 * the fuzzer runs.
 *
 * An input is a script read through the bounded reader: u8 op, then by op (u16 lengths are
 * big-endian; every op is bounded, and a script runs at most DW_STEPS_MAX ops):
 *   DW_RAW          u8 source, u16-prefixed bytes: a datagram into the server's
 *                   cordon_links_input() from source (source 0 is the client's address)
 *   DW_CLIENT_SEND  u16-prefixed record: cordon_links_send() on the client, to the server
 *                   (starts a handshake when there is no link)
 *   DW_PUMP         u8 rounds: up to rounds + 1 rounds of the network, each delivering every
 *                   queued datagram client -> server, then server -> client
 *   DW_MUTATE       u8 direction (even: to the server), u16 position, u8 mask: the next
 *                   queued datagram that way, with byte position % length XORed with mask
 *                   (mask 0: the datagram is lost)
 *   DW_TICK         u16 milliseconds: the clock moves on; timers of both tables, the
 *                   reassemblers and the core run
 *   DW_RECORD       u8 source, u16-prefixed record: straight into the server's
 *                   post-authentication path (reassembler -> cordon_core_receive) as if
 *                   the link at source had proven the client's node ID
 *   DW_CLOSE        u8 side (even: the client closes its link, odd: the server)
 *   DW_SERVER_SEND  u16-prefixed record: cordon_links_send() on the server, to the client
 *   DW_LOOKUP       u8 byte: the server's core looks up the ID made of that byte
 * An unknown op is taken modulo DW_OPS.
 *
 * Deterministic as far as the project's code goes: no state survives an input, the clock
 * is the script's. OpenSSL's own randomness (randoms, ephemeral keys, signatures, the
 * tables' cookie secrets) changes the bytes that travel but not which checks they meet,
 * and DTLS retransmission timers read OpenSSL's clock (a script that runs longer than
 * 400 ms of real time may see a retransmission).
 */
#ifndef CORDON_FUZZ_DATAGRAM_WORLD_H
#define CORDON_FUZZ_DATAGRAM_WORLD_H

#include <stddef.h>
#include <stdint.h>

enum dw_op {
    DW_RAW,
    DW_CLIENT_SEND,
    DW_PUMP,
    DW_MUTATE,
    DW_TICK,
    DW_RECORD,
    DW_CLOSE,
    DW_SERVER_SEND,
    DW_LOOKUP,
    DW_OPS
};

#define DW_SOURCES 8      /* source addresses of DW_RAW and DW_RECORD; 0 is the client's */
#define DW_STEPS_MAX 1024 /* ops run per script */

/* What a script achieved, for the seed generator's checks. */
struct dw_stats {
    uint64_t server_links_up, client_links_up;
    uint64_t server_records_in;      /* records the server's links delivered */
    uint64_t client_records_in;      /* records the client's link delivered (answers) */
    uint64_t reassembled;            /* messages the server's reassemblers completed */
    uint64_t core_msgs_in;           /* messages the server's core took in */
    uint64_t core_dropped_malformed; /* of which undecodable */
    uint64_t cookies_sent;           /* HelloVerifyRequests of the server */
    uint64_t handshakes_resumed;     /* server side */
    uint64_t garbage;                /* server: dropped_garbage */
};

/* Once per process: the CA, the two identities. abort()s on failure. */
void dw_init(void);

/* Runs one script in a fresh world; abort()s when an invariant breaks (see datagram_world.c).
 * stats may be NULL. */
void dw_run(const uint8_t *script, size_t len, struct dw_stats *stats);

/* The first datagram a fresh client sends to the server: a real DTLS 1.2 ClientHello.
 * Returns its length (0 if none fits cap). */
size_t dw_client_hello(uint8_t *out, size_t cap);

#endif
