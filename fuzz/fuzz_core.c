/*
 * fuzz/fuzz_core.c — the overlay core as a state machine under arbitrary events.
 *
 * Reaches: cordon_core_receive (and through it cordon_msg_decode, the limiters, the
 * routing table, RPC matching, lookup progress), cordon_core_tick, cordon_core_link_failed,
 * cordon_core_lookup, cordon_core_find_node, cordon_core_forget, cordon_core_join.
 *
 * The input is a script of events read through the bounded reader:
 *   u8 op, then by op:
 *     0 receive:     u8 sender (one of 8 fixed contacts), u16-prefixed message bytes
 *     1 answer:      u8 sender, u8 type; an answer to the last request sent to that
 *                    sender (its txid), with a NODES body naming the other contacts
 *     2 tick:        u16 milliseconds to advance
 *     3 link failed: u8 contact
 *     4 lookup:      u8 b: b < 0x80, a lookup of b repeated; else a find_node of
 *                    contact b % 8 (ends when that contact answers)
 *     5 forget:      u8 contact
 * Deterministic: the host's randomness is a counter, its clock the script's.
 * Checks: no crash or sanitizer report, every lookup callback at most once, the core's
 * memory within its documented caps.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "peer/core/core.h"
#include "wire/msg.h"
#include "wire/reader.h"

#define CONTACTS 8

struct host {
    uint64_t counter;
    uint32_t last_txid[CONTACTS];
    struct cordon_contact contacts[CONTACTS];
    unsigned callbacks[CORDON_LOOKUPS_MAX * 4];
    unsigned started;
};

static int contact_index(const struct host *h, const struct cordon_contact *c)
{
    for (int i = 0; i < CONTACTS; i++)
        if (memcmp(h->contacts[i].id, c->id, CORDON_NODE_ID_LEN) == 0)
            return i;
    return -1;
}

static void host_send(void *ctx, const struct cordon_contact *to, const uint8_t *msg, size_t len)
{
    struct host *h = ctx;
    struct cordon_msg m;
    int i = contact_index(h, to);
    if (i >= 0 && cordon_msg_decode(msg, len, &m) == CORDON_OK)
        h->last_txid[i] = m.txid;
}

static void host_random(void *ctx, void *out, size_t n)
{
    struct host *h = ctx;
    uint8_t *p = out;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((h->counter++ * 0x9e3779b97f4a7c15ULL) >> 56);
}

static void on_lookup(void *arg, cordon_err result, const struct cordon_contact *closest, size_t n,
                      const struct cordon_lookup_stats *stats)
{
    unsigned *calls = arg;
    (void)result, (void)closest, (void)stats;
    if (n > CORDON_K_MAX || ++*calls > 1)
        abort(); /* at most k results, and one call per lookup */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct host h;
    struct cordon_core_config cfg;
    struct cordon_contact self;
    cordon_core *core = NULL;
    uint64_t now = 1000;
    memset(&h, 0, sizeof(h));
    memset(&self, 0, sizeof(self));
    self.addr.family = 4;
    self.addr.ip[0] = 10;
    self.addr.port = 7000;
    for (int i = 0; i < CONTACTS; i++) {
        memset(h.contacts[i].id, 0x11 * (i + 1), CORDON_NODE_ID_LEN);
        h.contacts[i].addr.family = 4;
        h.contacts[i].addr.ip[0] = 10;
        h.contacts[i].addr.ip[1] = (uint8_t)(i & 1); /* two per /24 share a prefix */
        h.contacts[i].addr.ip[3] = (uint8_t)(i + 2);
        h.contacts[i].addr.port = 7000;
    }
    cordon_core_config_default(&cfg);
    cfg.params.k = 4;
    cfg.params.disjoint_paths = 2;
    struct cordon_core_host host = {.ctx = &h, .send = host_send, .random = host_random};
    if (cordon_core_new(&cfg, &self, &host, &core) != CORDON_OK)
        abort();
    if (cordon_core_join(core, now, h.contacts, 2) != CORDON_OK)
        abort();

    cordon_reader r;
    cordon_reader_init(&r, data, size);
    for (int steps = 0; steps < 4096; steps++) {
        uint8_t op, a, b;
        uint16_t ms;
        cordon_reader msg;
        if (cordon_read_u8(&r, &op) != CORDON_OK)
            break;
        switch (op % 6) {
        case 0:
            if (cordon_read_u8(&r, &a) != CORDON_OK ||
                cordon_read_sub(&r, 2, CORDON_MSG_MAX + 16, &msg) != CORDON_OK)
                goto out;
            cordon_core_receive(core, now, &h.contacts[a % CONTACTS], msg.data, msg.len);
            break;
        case 1: {
            struct cordon_msg m;
            uint8_t buf[CORDON_MSG_MAX];
            size_t len;
            if (cordon_read_u8(&r, &a) != CORDON_OK || cordon_read_u8(&r, &b) != CORDON_OK)
                goto out;
            memset(&m, 0, sizeof(m));
            m.flags = CORDON_MSG_FLAG_RESPONSE;
            m.txid = h.last_txid[a % CONTACTS];
            m.type = b & 1 ? CORDON_MSG_NODES : CORDON_MSG_PONG;
            if (m.type == CORDON_MSG_NODES) {
                m.u.nodes.count = (uint8_t)(b >> 1) % CONTACTS;
                for (unsigned i = 0; i < m.u.nodes.count; i++)
                    m.u.nodes.contacts[i] = h.contacts[(a + 1 + i) % CONTACTS];
            }
            if (cordon_msg_encode(&m, buf, sizeof(buf), &len) == CORDON_OK)
                cordon_core_receive(core, now, &h.contacts[a % CONTACTS], buf, len);
            break;
        }
        case 2:
            if (cordon_read_u16(&r, &ms) != CORDON_OK)
                goto out;
            now += ms;
            cordon_core_tick(core, now);
            break;
        case 3:
            if (cordon_read_u8(&r, &a) != CORDON_OK)
                goto out;
            cordon_core_link_failed(core, now, &h.contacts[a % CONTACTS]);
            break;
        case 4: {
            uint8_t target[CORDON_NODE_ID_LEN];
            if (cordon_read_u8(&r, &a) != CORDON_OK)
                goto out;
            /* Bit 7: a find of one of the contacts (it ends when that contact answers);
             * else a lookup of the byte repeated. */
            bool find = (a & 0x80) != 0;
            if (find)
                memcpy(target, h.contacts[a % CONTACTS].id, sizeof(target));
            else
                memset(target, a, sizeof(target));
            if (h.started < sizeof(h.callbacks) / sizeof(h.callbacks[0]) &&
                (find ? cordon_core_find_node(core, now, target, on_lookup, &h.callbacks[h.started])
                      : cordon_core_lookup(core, now, target, on_lookup,
                                           &h.callbacks[h.started])) == CORDON_OK)
                h.started++;
            break;
        }
        default:
            if (cordon_read_u8(&r, &a) != CORDON_OK)
                goto out;
            cordon_core_forget(core, h.contacts[a % CONTACTS].id);
            break;
        }
        /* Generous bound: the table, the pending requests, the lookups and the limiters at
         * their caps stay well under 1 MiB for k = 4. */
        if (cordon_core_memory(core) > 1024 * 1024)
            abort();
    }
out:
    cordon_core_free(core);
    return 0;
}
