/* peer/main.c — `cordon-peer`: argument parsing only; the work is in the library. */
#include <curl/curl.h>
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/hex.h"
#include "common/cli.h"
#include "common/parse.h"
#include "peer/enroll_client.h"
#include "peer/refresh.h"
#include "peer/runtime.h"
#include "peer/swarm.h"

static const char usage_intro[] =
    "usage: cordon-peer COMMAND [OPTIONS]\n"
    "\n"
    "A peer of a Cordon overlay.\n"
    "\n"
    "commands:\n"
    "  enroll --dir DIR --server https://HOST:PORT --token TOKEN\n"
    "         (--ca-fingerprint sha256:HEX | --cacert FILE) [--timeout SECONDS]\n"
    "         Generate this node's key in DIR (mode 0600; it never leaves), enroll with the\n"
    "         server, verify and store the certificate, the signed overlay document and\n"
    "         the CRL in DIR. Prints the node ID the server assigned.\n"
    "         --ca-fingerprint  the CA fingerprint that cordon-enroll init printed\n"
    "         --cacert          the overlay CA certificate, instead of the fingerprint\n"
    "         --timeout         seconds per request (default 30)\n"
    "\n"
    "  run --dir DIR --listen ADDR:PORT [--bootstrap HOST:PORT,...] [--control PATH]\n"
    "      [--ready-file FILE] [--crl-refresh SECONDS] [--renew-before SECONDS]\n"
    "      [--crl-dht SECONDS] [--maintain SECONDS] [--store-rate N] [--store-burst N]\n"
    "      [--store-global-rate N]\n"
    "         Run the peer enrolled in DIR until SIGTERM or SIGINT: join the overlay and\n"
    "         serve it over DTLS on ADDR:PORT (\"127.0.0.1:4000\", \"[::1]:4000\"; port 0\n"
    "         picks one). Logs one logfmt line per event on stderr.\n"
    "         --bootstrap   peers to join through (default: the overlay document's list)\n"
    "         --control     the control API's unix socket, mode 0600, for the `cordon`\n"
    "                       command (default DIR/control.sock)\n"
    "         --ready-file  written with \"PORT NODEID\" once the peer listens\n"
    "         --crl-refresh fetch the CRL from the enrollment server every SECONDS and\n"
    "                       drop the peers it revokes (default 300; 0: never)\n"
    "         --renew-before\n"
    "                       renew the certificate when less than SECONDS of it are left\n"
    "                       (default: a third of its lifetime; 0: never). Both need\n"
    "                       DIR/enrollment.json (a node enrolled by cordon-peer enroll)\n"
    "         --crl-dht     read the CRL from the DHT every SECONDS (and once joined), and\n"
    "                       take it when newer: revocations reach the peer while the\n"
    "                       server is down (default: --crl-refresh's, 300 when that is 0)\n"
    "         --maintain    replica maintenance: a pass over the stored objects every\n"
    "                       SECONDS, pushing them to the nodes that should hold them\n"
    "                       (1..86400, default 60)\n"
    "         --store-rate, --store-burst, --store-global-rate\n"
    "                       STOREs accepted per second from one node, that budget's depth,\n"
    "                       and per second from all nodes (1..100000; defaults 10, 100,\n"
    "                       1000): beyond them a STORE is answered \"rate limited\"\n"
    "\n";

/* The second half (one string literal may not exceed 4095 characters). */
static const char usage_more[] =
    "  swarm --dir DIR --count N --listen ADDR:BASEPORT [--spread] [--bootstrap HOST:PORT,...]\n"
    "        [--wave N] [--ready-file FILE] [--crl-refresh SECONDS] [--renew-before SECONDS]\n"
    "        [--crl-dht SECONDS] [--maintain SECONDS] [--store-rate N] [--store-burst N]\n"
    "        [--store-global-rate N] [--server https://HOST:PORT --token TOKEN\n"
    "        (--ca-fingerprint sha256:HEX | --cacert FILE) [--timeout SECONDS]]\n"
    "         Run N complete peers in one process on one event loop, for large local tests\n"
    "         and benchmarks. Peer i is enrolled in DIR/<i>/, listens on ADDR:BASEPORT+i\n"
    "         (BASEPORT 0: any free port) and serves its control API on DIR/<i>/control.sock.\n"
    "         Peers start in waves; without --bootstrap, peer 0 joins through the overlay\n"
    "         document's list and peer i through peers 0, i/2 and i-1.\n"
    "         --count       1..4096 peers\n"
    "         --spread      peer i listens on 127.(1+i/256).(i%256).1 instead of ADDR (which\n"
    "                       must be 127.0.0.1): one /24 per peer, as on a real network, so\n"
    "                       per-address handshake rates and per-prefix table limits apply\n"
    "                       to each peer rather than to the swarm as a whole\n"
    "         --wave        peers started together before waiting for them to join (16)\n"
    "         --ready-file  written once all peers joined: \"INDEX ADDR:PORT NODEID\" per peer\n"
    "         --crl-refresh, --renew-before: as for run, for every peer (one background\n"
    "                       thread for all; the CRL is fetched once per interval)\n"
    "         --crl-dht, --maintain, --store-rate, --store-burst, --store-global-rate:\n"
    "                       as for run, for every peer\n"
    "         --server, --token, --ca-fingerprint, --cacert, --timeout: as for enroll; peers\n"
    "                       without an identity in DIR/<i>/ are enrolled first (the token's\n"
    "                       quota must cover them)\n"
    "\n"
    "  renew --dir DIR [--timeout SECONDS]\n"
    "         Renew the certificate of the node enrolled in DIR before it expires: the\n"
    "         same node ID and key, a new serial and expiry. Authenticated by the current\n"
    "         DIR/node.crt (no token needed); the server is the one in enrollment.json,\n"
    "         trusted through DIR/ca.crt. Refreshes DIR/crl.pem first. Replaces\n"
    "         DIR/node.crt only once the new certificate verifies, and prints\n"
    "         node_id=HEX serial=HEX not_after=TIME.\n"
    "\n"
    "  crl --dir DIR [--timeout SECONDS]\n"
    "         Fetch the overlay's CRL once from the server in enrollment.json, verify it\n"
    "         with DIR/ca.crt, and replace DIR/crl.pem if it is newer. Prints whether it\n"
    "         changed.\n";

static void print_usage(FILE *f)
{
    fputs(usage_intro, f);
    fputs(usage_more, f);
}

enum {
    OPT_DIR = 1,
    OPT_SERVER,
    OPT_TOKEN,
    OPT_FP,
    OPT_CACERT,
    OPT_TIMEOUT,
    OPT_HELP,
    OPT_LISTEN,
    OPT_BOOTSTRAP,
    OPT_READY,
    OPT_CONTROL,
    OPT_CRL_REFRESH,
    OPT_RENEW_BEFORE,
    OPT_COUNT,
    OPT_SPREAD,
    OPT_WAVE,
    OPT_CRL_DHT,
    OPT_MAINTAIN,
    OPT_STORE_RATE,
    OPT_STORE_BURST,
    OPT_STORE_GLOBAL_RATE,
};

static const struct option options[] = {
    {"dir", required_argument, NULL, OPT_DIR},
    {"server", required_argument, NULL, OPT_SERVER},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"ca-fingerprint", required_argument, NULL, OPT_FP},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

#define fail(...) cordon_cli_fail("cordon-peer", __VA_ARGS__)

static const struct option run_options[] = {
    {"dir", required_argument, NULL, OPT_DIR},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"bootstrap", required_argument, NULL, OPT_BOOTSTRAP},
    {"ready-file", required_argument, NULL, OPT_READY},
    {"control", required_argument, NULL, OPT_CONTROL},
    {"crl-refresh", required_argument, NULL, OPT_CRL_REFRESH},
    {"renew-before", required_argument, NULL, OPT_RENEW_BEFORE},
    {"crl-dht", required_argument, NULL, OPT_CRL_DHT},
    {"maintain", required_argument, NULL, OPT_MAINTAIN},
    {"store-rate", required_argument, NULL, OPT_STORE_RATE},
    {"store-burst", required_argument, NULL, OPT_STORE_BURST},
    {"store-global-rate", required_argument, NULL, OPT_STORE_GLOBAL_RATE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static const struct option dir_options[] = {
    {"dir", required_argument, NULL, OPT_DIR},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* `renew` and `crl`: both take only the enrolled directory and a timeout. */
static int renew_or_crl_main(int argc, char **argv)
{
    const char *cmd = argv[1], *dir = NULL;
    long timeout = 30;
    uint64_t u;
    char why[512] = "";
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, "", dir_options, NULL)) != -1) {
        switch (c) {
        case OPT_DIR:
            dir = optarg;
            break;
        case OPT_TIMEOUT:
            if (cordon_parse_u64(optarg, 1, 600, &u) != CORDON_OK)
                return fail("--timeout '%s': expected 1..600 seconds", optarg);
            timeout = (long)u;
            break;
        case OPT_HELP:
            print_usage(stdout);
            return 0;
        default:
            return fail("bad option for '%s'", cmd);
        }
    }
    if (optind != argc)
        return fail("unexpected argument '%s'", argv[optind]);
    if (dir == NULL)
        return fail("%s needs --dir DIR (the directory cordon-peer enroll wrote)", cmd);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "cordon-peer: cannot initialize libcurl\n");
        return 1;
    }
    cordon_err err;
    if (strcmp(cmd, "renew") == 0) {
        struct cordon_enroll_identity id;
        char node[2 * CORDON_NODE_ID_LEN + 1], serial[2 * CORDON_SERIAL_LEN + 1], when[32];
        err = cordon_enroll_renew(dir, timeout, why, sizeof(why));
        if (err == CORDON_OK)
            err = cordon_enroll_identity(dir, &id, why, sizeof(why));
        if (err == CORDON_OK) {
            time_t t = (time_t)id.not_after;
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
            cordon_hex_encode(id.node_id, sizeof(id.node_id), node);
            cordon_hex_encode(id.serial, sizeof(id.serial), serial);
            fprintf(stderr, "cordon-peer: renewed; %s/node.crt replaced\n", dir);
            printf("node_id=%s serial=%s not_after=%s\n", node, serial, when);
        }
    } else {
        bool changed = false;
        err = cordon_enroll_fetch_crl(dir, timeout, &changed, why, sizeof(why));
        if (err == CORDON_OK)
            printf("%s\n", changed ? "crl.pem replaced by a newer CRL" : "crl.pem is up to date");
    }
    if (err != CORDON_OK)
        fprintf(stderr, "cordon-peer: %s: %s\n", cmd, why);
    curl_global_cleanup();
    return err == CORDON_OK ? 0 : 1;
}

/* Where a command keeps the options it shares with others (NULL: it has none of them). */
struct shared_opts {
    struct cordon_enroll_options *enroll;    /* --server --token --ca-fingerprint --cacert
                                              * --timeout */
    struct cordon_refresher_config *refresh; /* --crl-refresh --renew-before */
    const char **boot;                       /* --bootstrap: room for CORDON_BOOTSTRAP_MAX */
    const char *const **bootstrap;
    size_t *n_bootstrap;
};

/* Parses c if it is a shared option of the command: 1 when it was (stored), 0 when it is
 * not, -1 when its value is bad (said on stderr). */
static int shared_option(int c, const struct shared_opts *so)
{
    uint64_t u;
    struct cordon_enroll_options *eo = so->enroll;
    if (eo != NULL &&
        (c == OPT_SERVER || c == OPT_TOKEN || c == OPT_FP || c == OPT_CACERT || c == OPT_TIMEOUT)) {
        if (c == OPT_SERVER)
            eo->server = optarg; /* argv is ours to trim */
        else if (c == OPT_TOKEN)
            eo->token = optarg;
        else if (c == OPT_FP)
            eo->ca_fingerprint = optarg;
        else if (c == OPT_CACERT)
            eo->cacert = optarg;
        else if (cordon_parse_u64(optarg, 1, 600, &u) != CORDON_OK) {
            fail("--timeout '%s': expected 1..600 seconds", optarg);
            return -1;
        } else {
            eo->timeout = (long)u;
        }
        return 1;
    }
    if (so->refresh != NULL && c == OPT_CRL_REFRESH) {
        if (cordon_parse_u64(optarg, 0, CORDON_REFRESH_CRL_MAX_S, &u) != CORDON_OK) {
            fail("--crl-refresh '%s': expected 0..%d seconds", optarg, CORDON_REFRESH_CRL_MAX_S);
            return -1;
        }
        so->refresh->crl_interval_s = (uint32_t)u;
        return 1;
    }
    if (so->refresh != NULL && c == OPT_RENEW_BEFORE) {
        if (cordon_parse_u64(optarg, 0, CORDON_CERT_VALIDITY_MAX, &u) != CORDON_OK) {
            fail("--renew-before '%s': expected 0..%d seconds", optarg, CORDON_CERT_VALIDITY_MAX);
            return -1;
        }
        so->refresh->renew_before_s = (int64_t)u;
        return 1;
    }
    if (so->boot != NULL && c == OPT_BOOTSTRAP) {
        if (cordon_parse_list(optarg, so->boot, CORDON_BOOTSTRAP_MAX, so->n_bootstrap) !=
            CORDON_OK) {
            fail("--bootstrap: expected 1..%d comma-separated HOST:PORT entries",
                 CORDON_BOOTSTRAP_MAX);
            return -1;
        }
        *so->bootstrap = so->boot;
        return 1;
    }
    return 0;
}

/* "https://host:port/" and "https://host:port" name the same server. */
static void trim_server(char *server)
{
    for (size_t n = strlen(server); n > 8 && server[n - 1] == '/'; n--)
        server[n - 1] = '\0';
}

/* The runtime's local policy options of `run`: 1 when c was one (stored), 0 when not, -1
 * when its value is out of range (said on stderr). */
static int policy_option(int c, struct cordon_runtime_options *o)
{
    uint64_t u;
    const char *name = c == OPT_CRL_DHT             ? "--crl-dht"
                       : c == OPT_MAINTAIN          ? "--maintain"
                       : c == OPT_STORE_RATE        ? "--store-rate"
                       : c == OPT_STORE_BURST       ? "--store-burst"
                       : c == OPT_STORE_GLOBAL_RATE ? "--store-global-rate"
                                                    : NULL;
    if (name == NULL)
        return 0;
    bool seconds = c == OPT_CRL_DHT || c == OPT_MAINTAIN;
    uint64_t max = c == OPT_CRL_DHT    ? CORDON_RT_CRL_DHT_MAX_S
                   : c == OPT_MAINTAIN ? CORDON_RT_MAINTAIN_MAX_S
                                       : CORDON_RT_STORE_BUDGET_MAX;
    if (cordon_parse_u64(optarg, 1, max, &u) != CORDON_OK) {
        fail("%s '%s': expected 1..%llu%s", name, optarg, (unsigned long long)max,
             seconds ? " seconds" : "");
        return -1;
    }
    uint32_t v = (uint32_t)u;
    if (c == OPT_CRL_DHT)
        o->crl_dht_s = v;
    else if (c == OPT_MAINTAIN)
        o->maintain_s = v;
    else if (c == OPT_STORE_RATE)
        o->store_rate = v;
    else if (c == OPT_STORE_BURST)
        o->store_burst = v;
    else
        o->store_global_rate = v;
    return 1;
}

static int run_main(int argc, char **argv)
{
    struct cordon_runtime_options o = {0};
    struct cordon_refresher_config refresh;
    const char *boot[CORDON_BOOTSTRAP_MAX];
    cordon_refresher_config_default(&refresh);
    o.refresh = &refresh;
    const struct shared_opts so = {.refresh = &refresh,
                                   .boot = boot,
                                   .bootstrap = &o.bootstrap,
                                   .n_bootstrap = &o.n_bootstrap};
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, "", run_options, NULL)) != -1) {
        int shared = shared_option(c, &so);
        if (shared == 0)
            shared = policy_option(c, &o);
        if (shared < 0)
            return 2;
        if (shared > 0)
            continue;
        switch (c) {
        case OPT_DIR:
            o.dir = optarg;
            break;
        case OPT_LISTEN:
            o.listen = optarg;
            break;
        case OPT_READY:
            o.ready_file = optarg;
            break;
        case OPT_CONTROL:
            if (optarg[0] == '\0')
                return fail("--control: expected a path");
            o.control = optarg;
            break;
        case OPT_HELP:
            print_usage(stdout);
            return 0;
        default:
            return fail("bad option for 'run'");
        }
    }
    if (optind != argc)
        return fail("unexpected argument '%s'", argv[optind]);
    if (o.dir == NULL || o.listen == NULL)
        return fail("run needs --dir and --listen");
    /* The DHT's copy is read as often as the server's by default. */
    if (o.crl_dht_s == 0 && refresh.crl_interval_s != 0)
        o.crl_dht_s = refresh.crl_interval_s;
    return cordon_runtime_run(&o) == CORDON_OK ? 0 : 1;
}

static const struct option swarm_options[] = {
    {"dir", required_argument, NULL, OPT_DIR},
    {"count", required_argument, NULL, OPT_COUNT},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"spread", no_argument, NULL, OPT_SPREAD},
    {"bootstrap", required_argument, NULL, OPT_BOOTSTRAP},
    {"wave", required_argument, NULL, OPT_WAVE},
    {"ready-file", required_argument, NULL, OPT_READY},
    {"server", required_argument, NULL, OPT_SERVER},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"ca-fingerprint", required_argument, NULL, OPT_FP},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"crl-refresh", required_argument, NULL, OPT_CRL_REFRESH},
    {"renew-before", required_argument, NULL, OPT_RENEW_BEFORE},
    {"crl-dht", required_argument, NULL, OPT_CRL_DHT},
    {"maintain", required_argument, NULL, OPT_MAINTAIN},
    {"store-rate", required_argument, NULL, OPT_STORE_RATE},
    {"store-burst", required_argument, NULL, OPT_STORE_BURST},
    {"store-global-rate", required_argument, NULL, OPT_STORE_GLOBAL_RATE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int swarm_main(int argc, char **argv)
{
    struct cordon_swarm_options o = {0};
    struct cordon_runtime_options policy = {0};
    struct cordon_enroll_options eo = {.timeout = 30};
    struct cordon_refresher_config refresh;
    cordon_refresher_config_default(&refresh);
    o.refresh = &refresh;
    o.policy = &policy;
    const char *boot[CORDON_BOOTSTRAP_MAX];
    uint64_t u;
    const struct shared_opts so = {.enroll = &eo,
                                   .refresh = &refresh,
                                   .boot = boot,
                                   .bootstrap = &o.bootstrap,
                                   .n_bootstrap = &o.n_bootstrap};
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, "", swarm_options, NULL)) != -1) {
        int shared = shared_option(c, &so);
        if (shared == 0)
            shared = policy_option(c, &policy);
        if (shared < 0)
            return 2;
        if (shared > 0)
            continue;
        switch (c) {
        case OPT_DIR:
            o.dir = optarg;
            break;
        case OPT_COUNT:
            if (cordon_parse_u64(optarg, 1, CORDON_SWARM_MAX, &u) != CORDON_OK)
                return fail("--count '%s': expected 1..%d", optarg, CORDON_SWARM_MAX);
            o.count = (size_t)u;
            break;
        case OPT_LISTEN:
            o.listen = optarg;
            break;
        case OPT_SPREAD:
            o.spread = true;
            break;
        case OPT_WAVE:
            if (cordon_parse_u64(optarg, 1, CORDON_SWARM_MAX, &u) != CORDON_OK)
                return fail("--wave '%s': expected 1..%d", optarg, CORDON_SWARM_MAX);
            o.wave = (size_t)u;
            break;
        case OPT_READY:
            o.ready_file = optarg;
            break;
        case OPT_HELP:
            print_usage(stdout);
            return 0;
        default:
            return fail("bad option for 'swarm'");
        }
    }
    if (optind != argc)
        return fail("unexpected argument '%s'", argv[optind]);
    if (o.dir == NULL || o.count == 0 || o.listen == NULL)
        return fail("swarm needs --dir, --count and --listen");
    if ((eo.server != NULL) != (eo.token != NULL))
        return fail("swarm: --server and --token go together");
    if (eo.server != NULL) {
        trim_server(eo.server);
        o.enroll = &eo;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "cordon-peer: cannot initialize libcurl\n");
        return 1;
    }
    if (policy.crl_dht_s == 0 && refresh.crl_interval_s != 0)
        policy.crl_dht_s = refresh.crl_interval_s;
    cordon_err err = cordon_swarm_run(&o);
    curl_global_cleanup();
    if (err == CORDON_ERR_INVAL)
        return fail("swarm: --listen '%s' must be ADDR:BASEPORT with room for %zu ports%s",
                    o.listen, o.count, o.spread ? ", and ADDR 127.0.0.1 with --spread" : "");
    return err == CORDON_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
#ifdef __GLIBC__
    /* Large blocks always come fresh from mmap, whose pages stay out of memory until they
     * are written: LMDB callocs 2.5 MiB per store for its write transaction and touches a
     * few pages of it. glibc's default raises this threshold after the first large free,
     * and a large calloc served from the heap is zeroed, page by page: 2.5 MiB resident per
     * peer (1,000 idle swarm peers: 4.2 MiB each instead of 2). */
    (void)mallopt(M_MMAP_THRESHOLD, CORDON_PEER_MMAP_THRESHOLD);
#endif
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "run") == 0)
        return run_main(argc, argv);
    if (strcmp(argv[1], "swarm") == 0)
        return swarm_main(argc, argv);
    if (strcmp(argv[1], "crl") == 0 || strcmp(argv[1], "renew") == 0)
        return renew_or_crl_main(argc, argv);
    if (strcmp(argv[1], "enroll") != 0)
        return fail("unknown command '%s'", argv[1]);

    struct cordon_enroll_options o = {.timeout = 30};
    optind = 2;
    int c;
    const struct shared_opts so = {.enroll = &o};
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int shared = shared_option(c, &so);
        if (shared < 0)
            return 2;
        if (shared > 0)
            continue;
        switch (c) {
        case OPT_DIR:
            o.dir = optarg;
            break;
        case OPT_HELP:
            print_usage(stdout);
            return 0;
        default:
            return fail("bad option for '%s'", argv[1]);
        }
    }
    if (optind != argc)
        return fail("unexpected argument '%s'", argv[optind]);
    if (o.dir == NULL || o.server == NULL || o.token == NULL)
        return fail("enroll needs --dir, --server and --token");
    trim_server(o.server);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "cordon-peer: cannot initialize libcurl\n");
        return 1;
    }
    uint8_t node_id[CORDON_NODE_ID_LEN];
    char hex[2 * CORDON_NODE_ID_LEN + 1];
    cordon_err err = cordon_enroll_node(&o, node_id);
    if (err == CORDON_OK) {
        cordon_hex_encode(node_id, sizeof(node_id), hex);
        fprintf(stderr, "cordon-peer: enrolled; identity stored in %s\n", o.dir);
        printf("%s\n", hex);
    }
    curl_global_cleanup();
    return err == CORDON_OK ? 0 : 1;
}
