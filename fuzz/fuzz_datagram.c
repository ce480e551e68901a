/*
 * fuzz/fuzz_datagram.c — libFuzzer target for a peer's datagram-to-message path: what
 * arrives on its UDP socket, from strangers and from an authenticated peer, up to the
 * overlay core. The input is a script of events in the world of fuzz/datagram_world.h
 * (format there): raw datagrams from eight sources (IPv4 and IPv6, one of them the client's
 * address), a real client's handshake and records with its datagrams delivered, damaged or
 * lost, records straight into the post-authentication path, closes, timers and lookups.
 *
 * Reaches:
 *   pre-authentication: cordon_links_input -> is_client_hello (the bounded reader over the
 *     DTLS record and handshake headers), listen_input -> DTLSv1_listen (OpenSSL's
 *     ClientHello parsing, cookie_generate / cookie_verify), the half-open cap, the
 *     per-source handshake rate (cordon_ratelimit_take), make_room; garbage and oversize;
 *   the handshake: link_drive, verify_cb -> verify_x509 -> cordon_cert_parse,
 *     cordon_cert_verify_node (fixed clock, with a CRL), link_established, session_store and
 *     resumption, simultaneous open, link_fail, cordon_links_tick (timeouts);
 *   post-authentication: records -> cordon_frag_rx_push (every drop path, eviction, expiry,
 *     the shared budget) -> cordon_core_receive -> cordon_msg_decode and the core's
 *     handling; the core's answers -> cordon_frag_split -> cordon_links_send back over the
 *     link (the server opening links itself when it has none);
 *   cordon_links_close, cordon_core_lookup, cordon_core_link_failed.
 *
 * Oracles: the invariants listed at the top of datagram_world.c (authentication: nothing
 * but the client's proven node ID from the client's address is ever delivered; caps of the
 * link tables and reassemblers; exact counting; the shared budget's bookkeeping), plus
 * AddressSanitizer/UndefinedBehaviorSanitizer and leak checks.
 *
 * Deterministic as far as the project's code goes (see datagram_world.h): no clock, no
 * state between inputs; the identities are issued once per process by the fixed fuzz CA
 * (fuzz/enroll_fuzz_ca.h) and checked against the fixed time FUZZ_NOW.
 * Seeds: fuzz/corpus/datagram/, written and checked by fuzz/datagram_seeds.c: a captured
 * ClientHello, handshakes carrying WHOLE PING and FIND_NODE and a two-FRAGMENT NODES
 * message, the same records straight into the post-authentication path, every refusal of
 * the reassembler, a damaged handshake, a resumed session, a lookup over the link, a link
 * the server opens, garbage.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/datagram_world.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    dw_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dw_run(data, size, NULL);
    return 0;
}
