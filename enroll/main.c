/* enroll/main.c — `cordon-enroll`: argument parsing only; the work is in the library. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/cli.h"
#include "common/parse.h"
#include "enroll/admin.h"
#include "enroll/server.h"
#include "wire/overlay_doc.h"

static const char usage[] =
    "usage: cordon-enroll COMMAND [OPTIONS]\n"
    "\n"
    "The enrollment server and certificate authority of a Cordon overlay.\n"
    "\n"
    "commands:\n"
    "  init   --dir DIR --overlay NAME [--server-name HOST,...]\n"
    "         Create the overlay CA (key mode 0600), the HTTPS server certificate, the\n"
    "         database and default parameters (DIR/params.json) in DIR. Prints the CA\n"
    "         fingerprint that nodes pin. Refuses to overwrite an existing overlay.\n"
    "         --server-name  names and addresses in the server certificate\n"
    "                        (default localhost,127.0.0.1,::1)\n"
    "  token  --dir DIR [--max-nodes N] [--ttl SECONDS] [--label TEXT]\n"
    "         Mint an enrollment token and print it once on stdout; only its hash is\n"
    "         stored. Defaults: --max-nodes 1, --ttl 86400.\n"
    "  revoke --dir DIR --node NODEID [--reason TEXT]\n"
    "         Revoke a node's certificate and publish a new CRL.\n"
    "  list   --dir DIR\n"
    "         Print every issued certificate as one JSON object per line.\n"
    "  serve  --dir DIR [--listen ADDR:PORT] [--bootstrap HOST:PORT,...]\n"
    "         [--source-rate R] [--source-burst B] [--token-rate R] [--token-burst B]\n"
    "         [--renew-rate R] [--renew-burst B]\n"
    "         [--request-timeout SECONDS] [--ready-file PATH] [--verbose]\n"
    "         Serve enrollment over HTTPS until SIGINT or SIGTERM.\n"
    "         --listen        address and port (default 127.0.0.1:8443), or [::1]:8443\n"
    "                         (port 0 picks a free port; see --ready-file)\n"
    "         --bootstrap     peers named in the overlay document\n"
    "         --source-rate   enrollments per second per client address (default 5)\n"
    "         --source-burst  burst allowed per client address (default 20)\n"
    "         --token-rate    enrollments per second per token (default 5)\n"
    "         --token-burst   burst allowed per token (default 50)\n"
    "         --renew-rate    renewals per second per node (default 0.001: one per\n"
    "                         1000 s once the burst is spent)\n"
    "         --renew-burst   renewals a node may make in a row (default 3)\n"
    "         --request-timeout  seconds a request may take from connection to answer\n"
    "                         (default 15); slower clients are cut off\n"
    "         --ready-file    write the bound port to PATH once listening\n"
    "\n"
    "  cordon-enroll COMMAND --help shows this text. See docs/operations.md.\n";

enum {
    OPT_DIR = 1,
    OPT_OVERLAY,
    OPT_SERVER_NAME,
    OPT_MAX_NODES,
    OPT_TTL,
    OPT_LABEL,
    OPT_NODE,
    OPT_REASON,
    OPT_LISTEN,
    OPT_BOOTSTRAP,
    OPT_SOURCE_RATE,
    OPT_SOURCE_BURST,
    OPT_TOKEN_RATE,
    OPT_TOKEN_BURST,
    OPT_RENEW_RATE,
    OPT_RENEW_BURST,
    OPT_REQUEST_TIMEOUT,
    OPT_READY_FILE,
    OPT_VERBOSE,
    OPT_HELP,
};

static const struct option options[] = {
    {"dir", required_argument, NULL, OPT_DIR},
    {"overlay", required_argument, NULL, OPT_OVERLAY},
    {"server-name", required_argument, NULL, OPT_SERVER_NAME},
    {"max-nodes", required_argument, NULL, OPT_MAX_NODES},
    {"ttl", required_argument, NULL, OPT_TTL},
    {"label", required_argument, NULL, OPT_LABEL},
    {"node", required_argument, NULL, OPT_NODE},
    {"reason", required_argument, NULL, OPT_REASON},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"bootstrap", required_argument, NULL, OPT_BOOTSTRAP},
    {"source-rate", required_argument, NULL, OPT_SOURCE_RATE},
    {"source-burst", required_argument, NULL, OPT_SOURCE_BURST},
    {"token-rate", required_argument, NULL, OPT_TOKEN_RATE},
    {"token-burst", required_argument, NULL, OPT_TOKEN_BURST},
    {"renew-rate", required_argument, NULL, OPT_RENEW_RATE},
    {"renew-burst", required_argument, NULL, OPT_RENEW_BURST},
    {"request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT},
    {"ready-file", required_argument, NULL, OPT_READY_FILE},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

#define fail(...) cordon_cli_fail("cordon-enroll", __VA_ARGS__)

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "init") != 0 && strcmp(cmd, "token") != 0 && strcmp(cmd, "revoke") != 0 &&
        strcmp(cmd, "list") != 0 && strcmp(cmd, "serve") != 0)
        return fail("unknown command '%s'", cmd);

    struct cordon_init_options init = {.ca_validity_days = 3650};
    struct cordon_token_options token = {.max_nodes = 1, .ttl = 86400, .label = ""};
    struct cordon_serve_config serve;
    cordon_serve_config_default(&serve);
    const char *dir = NULL, *node = NULL, *reason = NULL;
    char *names = NULL, *bootstrap = NULL;
    uint64_t u;

    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case OPT_DIR:
            dir = optarg;
            break;
        case OPT_OVERLAY:
            init.overlay = optarg;
            break;
        case OPT_SERVER_NAME:
            names = optarg;
            break;
        case OPT_MAX_NODES:
            if (cordon_parse_u64(optarg, 1, CORDON_TOKEN_MAX_NODES, &u) != CORDON_OK)
                return fail("--max-nodes '%s': expected 1..1000000", optarg);
            token.max_nodes = (uint32_t)u;
            break;
        case OPT_TTL:
            if (cordon_parse_u64(optarg, 1, 10ULL * 365 * 86400, &token.ttl) != CORDON_OK)
                return fail("--ttl '%s': expected seconds, 1..315360000", optarg);
            break;
        case OPT_LABEL:
            token.label = optarg;
            break;
        case OPT_NODE:
            node = optarg;
            break;
        case OPT_REASON:
            reason = optarg;
            break;
        case OPT_LISTEN:
            serve.listen = optarg;
            break;
        case OPT_BOOTSTRAP:
            bootstrap = optarg;
            break;
        case OPT_SOURCE_RATE:
            if (cordon_parse_double(optarg, 0.001, 1e6, &serve.source_rate) != CORDON_OK)
                return fail("--source-rate '%s': expected a number > 0", optarg);
            break;
        case OPT_SOURCE_BURST:
            if (cordon_parse_double(optarg, 1, 1e7, &serve.source_burst) != CORDON_OK)
                return fail("--source-burst '%s': expected a number >= 1", optarg);
            break;
        case OPT_TOKEN_RATE:
            if (cordon_parse_double(optarg, 0.001, 1e6, &serve.token_rate) != CORDON_OK)
                return fail("--token-rate '%s': expected a number > 0", optarg);
            break;
        case OPT_TOKEN_BURST:
            if (cordon_parse_double(optarg, 1, 1e7, &serve.token_burst) != CORDON_OK)
                return fail("--token-burst '%s': expected a number >= 1", optarg);
            break;
        case OPT_RENEW_RATE:
            if (cordon_parse_double(optarg, 0.0001, 1e6, &serve.renew_rate) != CORDON_OK)
                return fail("--renew-rate '%s': expected a number >= 0.0001", optarg);
            break;
        case OPT_RENEW_BURST:
            if (cordon_parse_double(optarg, 1, 1e7, &serve.renew_burst) != CORDON_OK)
                return fail("--renew-burst '%s': expected a number >= 1", optarg);
            break;
        case OPT_REQUEST_TIMEOUT:
            if (cordon_parse_u64(optarg, 1, 3600, &u) != CORDON_OK)
                return fail("--request-timeout '%s': expected 1..3600 seconds", optarg);
            serve.request_timeout = (unsigned)u;
            break;
        case OPT_READY_FILE:
            serve.ready_file = optarg;
            break;
        case OPT_VERBOSE:
            cordon_log_set_level(CORDON_LOG_DEBUG);
            break;
        case OPT_HELP:
            fputs(usage, stdout);
            return 0;
        default:
            return fail("bad option for '%s'", cmd);
        }
    }
    if (optind != argc)
        return fail("unexpected argument '%s'", argv[optind]);
    if (dir == NULL)
        return fail("%s needs --dir DIR", cmd);

    cordon_err err;
    if (strcmp(cmd, "init") == 0) {
        if (init.overlay == NULL)
            return fail("%s needs --overlay NAME", cmd);
        static char default_names[] = "localhost,127.0.0.1,::1";
        if (names == NULL)
            names = default_names;
        if (cordon_parse_list(names, init.server_names, CORDON_SERVER_NAMES_MAX,
                              &init.n_server_names) != CORDON_OK)
            return fail("--server-name: expected up to 16 names separated by commas");
        init.dir = dir;
        err = cordon_admin_init(&init, stdout);
    } else if (strcmp(cmd, "token") == 0) {
        token.dir = dir;
        err = cordon_admin_token(&token, stdout);
    } else if (strcmp(cmd, "revoke") == 0) {
        if (node == NULL)
            return fail("%s needs --node NODEID", cmd);
        err = cordon_admin_revoke(dir, node, reason, stdout);
    } else if (strcmp(cmd, "list") == 0) {
        err = cordon_admin_list(dir, stdout);
    } else {
        if (bootstrap != NULL) {
            if (cordon_parse_list(bootstrap, serve.bootstrap, CORDON_BOOTSTRAP_MAX,
                                  &serve.n_bootstrap) != CORDON_OK)
                return fail("--bootstrap: expected up to 64 HOST:PORT separated by commas");
            for (size_t i = 0; i < serve.n_bootstrap; i++)
                if (cordon_overlay_addr_check(serve.bootstrap[i]) != CORDON_OK)
                    return fail("--bootstrap '%s': expected HOST:PORT or [V6]:PORT of at most %d "
                                "characters",
                                serve.bootstrap[i], CORDON_ADDR_TEXT_MAX - 1);
        }
        serve.dir = dir;
        err = cordon_serve(&serve);
    }
    return err == CORDON_OK ? 0 : 1;
}
