/*
 * fuzz/datagram_seeds.c — writes the seed corpus of fuzz_datagram:
 *
 *   ./build-fuzz/fuzz/datagram_seeds fuzz/corpus/datagram
 *
 * Each seed is a script of fuzz/datagram_world.h, run here in the same world the fuzzer
 * uses before it is written, and checked to reach what it was made for (a handshake that
 * completes, a PING answered, fragments reassembled, a session resumed...): a seed that
 * stops doing its job fails the generator instead of silently shrinking the fuzzer's reach.
 * The ClientHello of client_hello.bin is captured from a real link table. The scripts hold
 * no key material (the identities are made at start-up by both programs).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/datagram_world.h"
#include "wire/frag.h"
#include "wire/msg.h"
#include "wire/writer.h"

#define SCRIPT_MAX 16384

static const char *dir;

struct script {
    cordon_writer w;
    uint8_t buf[SCRIPT_MAX];
};

static void begin(struct script *s)
{
    cordon_writer_init(&s->w, s->buf, sizeof(s->buf));
}

static void op(struct script *s, enum dw_op o)
{
    cordon_write_u8(&s->w, (uint8_t)o);
}

static void raw(struct script *s, uint8_t source, const uint8_t *data, size_t len)
{
    op(s, DW_RAW);
    cordon_write_u8(&s->w, source);
    cordon_write_prefixed(&s->w, 2, data, len);
}

static void with_bytes(struct script *s, enum dw_op o, const uint8_t *data, size_t len)
{
    op(s, o);
    cordon_write_prefixed(&s->w, 2, data, len);
}

static void record(struct script *s, uint8_t source, const uint8_t *data, size_t len)
{
    op(s, DW_RECORD);
    cordon_write_u8(&s->w, source);
    cordon_write_prefixed(&s->w, 2, data, len);
}

static void with_u8(struct script *s, enum dw_op o, uint8_t v)
{
    op(s, o);
    cordon_write_u8(&s->w, v);
}

static void tick(struct script *s, uint16_t ms)
{
    op(s, DW_TICK);
    cordon_write_u16(&s->w, ms);
}

static void mutate(struct script *s, uint8_t direction, uint16_t pos, uint8_t mask)
{
    op(s, DW_MUTATE);
    cordon_write_u8(&s->w, direction);
    cordon_write_u16(&s->w, pos);
    cordon_write_u8(&s->w, mask);
}

/* Runs the script, checks what it reached, writes it as DIR/name. */
static void finish(struct script *s, const char *name, bool (*reached)(const struct dw_stats *))
{
    size_t len;
    struct dw_stats st;
    char path[4096];
    if (cordon_writer_finish(&s->w, &len) != CORDON_OK) {
        fprintf(stderr, "datagram_seeds: %s: script too long\n", name);
        exit(1);
    }
    dw_run(s->buf, len, &st);
    if (!reached(&st)) {
        fprintf(stderr,
                "datagram_seeds: %s does not reach its goal: links up %llu/%llu, records in "
                "%llu/%llu, reassembled %llu, core in %llu, cookies %llu, resumed %llu, "
                "garbage %llu\n",
                name, (unsigned long long)st.server_links_up,
                (unsigned long long)st.client_links_up, (unsigned long long)st.server_records_in,
                (unsigned long long)st.client_records_in, (unsigned long long)st.reassembled,
                (unsigned long long)st.core_msgs_in, (unsigned long long)st.cookies_sent,
                (unsigned long long)st.handshakes_resumed, (unsigned long long)st.garbage);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(s->buf, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* ---- messages and records ---------------------------------------------------------------- */

static size_t encode(const struct cordon_msg *m, uint8_t *out, size_t cap)
{
    size_t len;
    if (cordon_msg_encode(m, out, cap, &len) != CORDON_OK) {
        fprintf(stderr, "datagram_seeds: cannot encode a message\n");
        exit(1);
    }
    return len;
}

/* A WHOLE record of message m. */
static size_t whole(const struct cordon_msg *m, uint8_t *rec)
{
    rec[0] = CORDON_FRAG_KIND_WHOLE;
    return 1 + encode(m, rec + 1, CORDON_RECORD_PAYLOAD);
}

static size_t ping(uint8_t *rec, uint32_t txid)
{
    struct cordon_msg m = {.type = CORDON_MSG_PING, .txid = txid};
    return whole(&m, rec);
}

static size_t find_node(uint8_t *rec, uint32_t txid)
{
    struct cordon_msg m = {.type = CORDON_MSG_FIND_NODE, .txid = txid};
    memset(m.u.find_node.target, 0x3c, sizeof(m.u.find_node.target));
    return whole(&m, rec);
}

/* The largest message without an object (NODES with 32 IPv6 contacts, CORDON_MSG_MAX bytes):
 * two fragments. */
static size_t big_nodes(uint8_t *msg)
{
    static struct cordon_msg m;
    memset(&m, 0, sizeof(m));
    m.type = CORDON_MSG_NODES;
    m.flags = CORDON_MSG_FLAG_RESPONSE;
    m.txid = 0x01020304;
    m.u.nodes.count = CORDON_NODES_MAX;
    for (unsigned i = 0; i < CORDON_NODES_MAX; i++) {
        struct cordon_contact *c = &m.u.nodes.contacts[i];
        memset(c->id, (int)(0x80 + i), sizeof(c->id));
        c->addr.family = 6;
        c->addr.ip[0] = 0x20;
        c->addr.ip[1] = 0x01;
        c->addr.ip[15] = (uint8_t)i;
        c->addr.port = (uint16_t)(7000 + i);
    }
    return encode(&m, msg, CORDON_MSG_MAX);
}

static size_t fragment(const uint8_t *msg, size_t len, uint32_t id, size_t index, uint8_t *rec)
{
    size_t n;
    if (cordon_frag_encode(msg, len, id, index, rec, CORDON_RECORD_MAX, &n) != CORDON_OK) {
        fprintf(stderr, "datagram_seeds: cannot cut a fragment\n");
        exit(1);
    }
    return n;
}

/* ---- what each seed must reach --------------------------------------------------------------- */

static bool hellos_answered(const struct dw_stats *st)
{
    return st->cookies_sent >= 2 && st->garbage >= 1;
}
static bool ping_answered(const struct dw_stats *st)
{
    return st->server_links_up == 1 && st->client_links_up == 1 && st->core_msgs_in >= 1 &&
           st->client_records_in >= 1;
}
static bool reassembled(const struct dw_stats *st)
{
    return st->reassembled >= 1 && st->core_msgs_in >= 1;
}
static bool record_answered(const struct dw_stats *st)
{
    return st->core_msgs_in == 2 && st->client_links_up == 1 && st->client_records_in >= 2;
}
static bool nothing_delivered(const struct dw_stats *st)
{
    return st->core_msgs_in == 0 && st->reassembled == 0;
}
static bool resumed(const struct dw_stats *st)
{
    return st->handshakes_resumed >= 1 && st->client_records_in >= 2;
}
static bool lookup_asked(const struct dw_stats *st)
{
    return st->client_records_in >= 2;
}
static bool server_opened(const struct dw_stats *st)
{
    return st->client_links_up == 1 && st->client_records_in == 1 && st->server_records_in == 0;
}
static bool any(const struct dw_stats *st)
{
    (void)st;
    return true;
}
static bool garbage_counted(const struct dw_stats *st)
{
    return st->garbage >= 4 && st->server_links_up == 0;
}

int main(int argc, char **argv)
{
    struct script s;
    uint8_t rec[CORDON_LINK_DATAGRAM_MAX], hello[CORDON_LINK_DATAGRAM_MAX];
    uint8_t msg[CORDON_MSG_MAX], rec2[CORDON_RECORD_MAX];
    size_t n, n2, hello_len, msg_len;

    if (argc != 2) {
        fprintf(stderr, "usage: datagram_seeds CORPUS_DIR\n");
        return 2;
    }
    dir = argv[1];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        perror(dir);
        return 1;
    }
    dw_init();

    /* A real ClientHello from strangers (IPv4, IPv6), and the same cut short. */
    hello_len = dw_client_hello(hello, sizeof(hello));
    if (hello_len == 0) {
        fprintf(stderr, "datagram_seeds: no ClientHello captured\n");
        return 1;
    }
    begin(&s);
    raw(&s, 1, hello, hello_len);
    raw(&s, 7, hello, hello_len);
    raw(&s, 2, hello, hello_len / 2);
    finish(&s, "client_hello.bin", hellos_answered);

    /* The client handshakes and sends a PING; the server's core answers PONG. */
    begin(&s);
    n = ping(rec, 0x11111111);
    with_bytes(&s, DW_CLIENT_SEND, rec, n);
    with_u8(&s, DW_PUMP, 15);
    tick(&s, 10);
    with_u8(&s, DW_PUMP, 15);
    finish(&s, "handshake_ping.bin", ping_answered);

    begin(&s);
    n = find_node(rec, 0x22222222);
    with_bytes(&s, DW_CLIENT_SEND, rec, n);
    with_u8(&s, DW_PUMP, 15);
    finish(&s, "handshake_find_node.bin", ping_answered);

    /* The largest message in two FRAGMENT records over the link. */
    msg_len = big_nodes(msg);
    begin(&s);
    n = fragment(msg, msg_len, 7, 0, rec);
    with_bytes(&s, DW_CLIENT_SEND, rec, n);
    n = fragment(msg, msg_len, 7, 1, rec);
    with_bytes(&s, DW_CLIENT_SEND, rec, n);
    with_u8(&s, DW_PUMP, 15);
    finish(&s, "handshake_fragments.bin", reassembled);

    /* Records straight into the post-authentication path: PING and FIND_NODE (the answers
     * go back over a link the server opens), the fragments from an IPv6 remote. */
    begin(&s);
    n = ping(rec, 0x33333333);
    record(&s, 0, rec, n);
    n = find_node(rec, 0x44444444);
    record(&s, 0, rec, n);
    with_u8(&s, DW_PUMP, 15);
    finish(&s, "record_ping_find_node.bin", record_answered);

    begin(&s);
    n = fragment(msg, msg_len, 9, 1, rec);
    record(&s, 7, rec, n);
    n = fragment(msg, msg_len, 9, 0, rec);
    record(&s, 7, rec, n);
    finish(&s, "record_fragments.bin", reassembled);

    /* Every refusal of the reassembler once. */
    begin(&s);
    record(&s, 3, rec, 0); /* empty */
    n = fragment(msg, msg_len, 5, 0, rec);
    record(&s, 3, rec, 7); /* truncated header */
    rec2[0] = 9;
    record(&s, 3, rec2, 1); /* unknown kind */
    record(&s, 3, rec, n);  /* stored */
    record(&s, 3, rec, n);  /* duplicate */
    memcpy(rec2, rec, n);
    rec2[12] ^= 0x01;       /* another total */
    record(&s, 3, rec2, n); /* mismatch: abandoned */
    record(&s, 3, rec, n);  /* replay */
    memcpy(rec2, rec, n);
    rec2[9] = 0x7f; /* total far over the cap */
    record(&s, 3, rec2, n);
    memcpy(rec2, rec, n);
    rec2[6] = 9; /* index >= count */
    record(&s, 3, rec2, n);
    memset(rec2, 0x55, sizeof(rec2));
    rec2[0] = CORDON_FRAG_KIND_WHOLE;
    record(&s, 3, rec2, sizeof(rec2)); /* fits: not a message */
    memset(rec, 0x66, CORDON_LINK_PLAINTEXT_MAX + 8);
    record(&s, 4, rec, CORDON_LINK_PLAINTEXT_MAX + 8); /* oversize */
    finish(&s, "record_refused.bin", any);

    /* A handshake whose second ClientHello (with the cookie) is damaged, then time. */
    begin(&s);
    n = ping(rec, 0x55555555);
    with_bytes(&s, DW_CLIENT_SEND, rec, n);
    with_u8(&s, DW_PUMP, 0);
    mutate(&s, 0, 120, 0x40);
    with_u8(&s, DW_PUMP, 15);
    tick(&s, 6000);
    with_u8(&s, DW_PUMP, 15);
    finish(&s, "handshake_mutated.bin", nothing_delivered);

    /* Close and come back: the second handshake resumes the session. */
    begin(&s);
    n = ping(rec, 0x66666666);
    with_bytes(&s, DW_CLIENT_SEND, rec, n);
    with_u8(&s, DW_PUMP, 15);
    with_u8(&s, DW_CLOSE, 0);
    with_u8(&s, DW_PUMP, 15);
    n = ping(rec, 0x77777777);
    with_bytes(&s, DW_CLIENT_SEND, rec, n);
    with_u8(&s, DW_PUMP, 15);
    finish(&s, "handshake_close_resume.bin", resumed);

    /* The server's core, knowing the client from its PING, looks up an ID: FIND_NODE goes
     * to the client over the link, and times out. */
    begin(&s);
    n = ping(rec, 0x12345678);
    with_bytes(&s, DW_CLIENT_SEND, rec, n);
    with_u8(&s, DW_PUMP, 15);
    with_u8(&s, DW_LOOKUP, 0x77);
    with_u8(&s, DW_PUMP, 15);
    tick(&s, 2000);
    tick(&s, 4000);
    with_u8(&s, DW_PUMP, 15);
    finish(&s, "handshake_lookup.bin", lookup_asked);

    /* The server opens the link; the client is the DTLS server. */
    begin(&s);
    n = ping(rec, 0x13572468);
    with_bytes(&s, DW_SERVER_SEND, rec, n);
    with_u8(&s, DW_PUMP, 15);
    finish(&s, "server_opens.bin", server_opened);

    /* Garbage from strangers: short, empty, oversized, hello-shaped with a bad length. */
    begin(&s);
    memset(rec, 0x16, sizeof(rec));
    raw(&s, 1, rec, 5);
    raw(&s, 2, rec, 0);
    memset(rec2, 0, sizeof(rec2));
    raw(&s, 5, rec2, 40);
    raw(&s, 6, hello, hello_len);
    memcpy(rec, hello, hello_len);
    rec[12] = (uint8_t)(rec[12] + 1);
    raw(&s, 6, rec, hello_len);
    n2 = CORDON_LINK_DATAGRAM_MAX + 20;
    {
        static uint8_t big[CORDON_LINK_DATAGRAM_MAX + 64];
        memset(big, 0xee, n2);
        raw(&s, 3, big, n2);
    }
    raw(&s, 0, rec2, 33); /* from the client's address, which has no link */
    finish(&s, "garbage.bin", garbage_counted);
    return 0;
}
