/* sim/main.c — `cordon-sim`: argument parsing and the summary; the work is in sim.c. */
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/parse.h"
#include "sim/sim.h"

static const char usage[] =
    "usage: cordon-sim --nodes N --lookups L --seed S [options]\n"
    "\n"
    "Runs N overlay cores (the same code as cordon-peer) on a virtual network with a\n"
    "virtual clock, then L lookups from random honest nodes to random targets, and prints\n"
    "a summary. The same seed and options give the same run, event for event (compare the\n"
    "digest). A lookup succeeds when its result holds the live honest node closest to the\n"
    "target.\n"
    "\n"
    "  --nodes N            nodes that join, one every --join-interval (default 1000)\n"
    "  --lookups L          lookups after the overlay settled (default 1000)\n"
    "  --seed S             seed of every random choice (default 1)\n"
    "  --k K                bucket size and lookup result size (default 20)\n"
    "  --alpha A            parallel requests per lookup path (default 3)\n"
    "  --disjoint D         disjoint lookup paths (default 4)\n"
    "  --adversary KIND:SHARE  a share (0..1) of the nodes behaves as KIND; repeatable:\n"
    "                       drop     joins, then answers nothing\n"
    "                       eclipse  answers lookups only with colluders closest to the target\n"
    "                       flood    sends requests far above the limits (--flood-rate)\n"
    "                       flap     leaves and rejoins as fast as it can (--flap-period)\n"
    "                       refuse   acknowledges every STORE as accepted, keeps nothing\n"
    "                       stale    keeps the first version it is sent, serves it ever after\n"
    "                       forge    stores honestly, serves objects with a value byte flipped\n"
    "                       (adversaries route honestly while the overlay forms, and switch\n"
    "                       on when the lookups and puts begin)\n"
    "  --loss P             probability (0..1) that a message is lost (default 0)\n"
    "  --churn PER_MINUTE   honest nodes replaced per virtual minute while lookups, puts\n"
    "                       and gets run\n"
    "  --latency MIN:MAX    one-way latency in ms, uniform (default 10:60)\n"
    "  --join-interval MS   time between two joins (default 10)\n"
    "  --settle MS          quiet time after the last join (default 60000)\n"
    "  --lookup-interval MS time between two lookup starts (default 5)\n"
    "  --flood-rate R       requests per second per flooder, 1..1000 (default 200)\n"
    "  --flap-period MS     a flapper's up+down cycle (default 10000)\n"
    "  --partition SHARE:START:END  cut SHARE of the nodes off from START to END ms after\n"
    "                       the lookups begin\n"
    "\n";

/* Apart from the above: C99 compilers need take no string over 4095 bytes. */
static const char usage_storage[] =
    "Storage (with --objects; the objects are signed by certificates of a test CA and\n"
    "verified by every replica and reader with the real code): honest writers put the\n"
    "objects, then --updates newer versions of each; then --reads gets from random honest\n"
    "nodes for random objects, each judged against the newest version its writer put.\n"
    "  --objects N          owned objects to put (default 0: no storage)\n"
    "  --value-size B       bytes of each value, 1..65536 (default 64)\n"
    "  --updates U          newer versions put of each object (default 1)\n"
    "  --reads R            gets once every put has ended (default: --objects)\n"
    "  --replicas R         r, replicas per object, 1..min(k, 16) (default 3)\n"
    "  --put-interval MS    time between two put starts (default 10)\n"
    "  --read-interval MS   time between two get starts (default 5)\n"
    "  --maintain-period MS replica maintenance: a pass over each node's store every MS\n"
    "                       (default: the core's, 60000)\n"
    "  --maintain-soon MS   and one MS after a node's routing table gains a node\n"
    "                       (default: the core's, 5000, at most --maintain-period)\n"
    "  --maintain-watch MS  between passes, each node pings the other replicas of what it\n"
    "                       holds every MS unless heard from; a failed ping starts a pass\n"
    "                       (default: the core's, 1000, at most --maintain-period)\n"
    "  --watch-timeout-min MS\n"
    "                       a watch ping waits a few of its receiver's round trips, at least\n"
    "                       MS, 1..1000 (default: the core's, 200; 1000: a second, as any\n"
    "                       request)\n"
    "  --no-maintain        no replica maintenance: objects stay where their puts left them\n"
    "\n"
    "Churn rounds (with --objects): once every put has ended, --churn-rounds periods of\n"
    "--churn-period ms follow. In each, --churn-fraction of the honest nodes live at its\n"
    "start leave for good (their stores with them), one at a time at even intervals, and as\n"
    "many new honest nodes with fresh IDs join through random live nodes. Before the first\n"
    "round and after each, the live genuine copies of every object's newest version are\n"
    "counted (an object with none is lost: no reader and no maintenance can bring it back;\n"
    "objects live 24 h and writers do not republish within a run), and --reads gets start\n"
    "for the objects in turn while the next round runs.\n"
    "  --churn-rounds N     rounds, 0..16 (default 0: none)\n"
    "  --churn-fraction F   share of the honest nodes replaced per round, 0..1 (default 0.5)\n"
    "  --churn-period MS    length of a round (default 600000: 10 virtual minutes)\n"
    "\n"
    "  --json               print the summary as one JSON object on stdout\n"
    "  --help               this text\n";

#define fail(...) cordon_cli_fail("cordon-sim", __VA_ARGS__)

enum {
    OPT_NODES = 1,
    OPT_LOOKUPS,
    OPT_SEED,
    OPT_K,
    OPT_ALPHA,
    OPT_DISJOINT,
    OPT_ADVERSARY,
    OPT_LOSS,
    OPT_CHURN,
    OPT_LATENCY,
    OPT_JOIN_INTERVAL,
    OPT_SETTLE,
    OPT_LOOKUP_INTERVAL,
    OPT_FLOOD_RATE,
    OPT_FLAP_PERIOD,
    OPT_PARTITION,
    OPT_OBJECTS,
    OPT_VALUE_SIZE,
    OPT_UPDATES,
    OPT_READS,
    OPT_REPLICAS,
    OPT_PUT_INTERVAL,
    OPT_READ_INTERVAL,
    OPT_MAINTAIN_PERIOD,
    OPT_MAINTAIN_SOON,
    OPT_MAINTAIN_WATCH,
    OPT_WATCH_TIMEOUT_MIN,
    OPT_NO_MAINTAIN,
    OPT_CHURN_ROUNDS,
    OPT_CHURN_FRACTION,
    OPT_CHURN_PERIOD,
    OPT_JSON,
    OPT_HELP,
};

static const struct option options[] = {
    {"nodes", required_argument, NULL, OPT_NODES},
    {"lookups", required_argument, NULL, OPT_LOOKUPS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"k", required_argument, NULL, OPT_K},
    {"alpha", required_argument, NULL, OPT_ALPHA},
    {"disjoint", required_argument, NULL, OPT_DISJOINT},
    {"adversary", required_argument, NULL, OPT_ADVERSARY},
    {"loss", required_argument, NULL, OPT_LOSS},
    {"churn", required_argument, NULL, OPT_CHURN},
    {"latency", required_argument, NULL, OPT_LATENCY},
    {"join-interval", required_argument, NULL, OPT_JOIN_INTERVAL},
    {"settle", required_argument, NULL, OPT_SETTLE},
    {"lookup-interval", required_argument, NULL, OPT_LOOKUP_INTERVAL},
    {"flood-rate", required_argument, NULL, OPT_FLOOD_RATE},
    {"flap-period", required_argument, NULL, OPT_FLAP_PERIOD},
    {"partition", required_argument, NULL, OPT_PARTITION},
    {"objects", required_argument, NULL, OPT_OBJECTS},
    {"value-size", required_argument, NULL, OPT_VALUE_SIZE},
    {"updates", required_argument, NULL, OPT_UPDATES},
    {"reads", required_argument, NULL, OPT_READS},
    {"replicas", required_argument, NULL, OPT_REPLICAS},
    {"put-interval", required_argument, NULL, OPT_PUT_INTERVAL},
    {"read-interval", required_argument, NULL, OPT_READ_INTERVAL},
    {"maintain-period", required_argument, NULL, OPT_MAINTAIN_PERIOD},
    {"maintain-soon", required_argument, NULL, OPT_MAINTAIN_SOON},
    {"maintain-watch", required_argument, NULL, OPT_MAINTAIN_WATCH},
    {"watch-timeout-min", required_argument, NULL, OPT_WATCH_TIMEOUT_MIN},
    {"no-maintain", no_argument, NULL, OPT_NO_MAINTAIN},
    {"churn-rounds", required_argument, NULL, OPT_CHURN_ROUNDS},
    {"churn-fraction", required_argument, NULL, OPT_CHURN_FRACTION},
    {"churn-period", required_argument, NULL, OPT_CHURN_PERIOD},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Splits "A:B" or "A:B:C" in place. */
static int split(char *text, char **parts, int n)
{
    for (int i = 0; i < n; i++) {
        parts[i] = text;
        char *colon = strchr(text, ':');
        if (i < n - 1) {
            if (colon == NULL)
                return -1;
            *colon = '\0';
            text = colon + 1;
        } else if (colon != NULL) {
            return -1;
        }
    }
    return 0;
}

static int u32_opt(const char *name, const char *text, uint64_t min, uint64_t max, uint32_t *out)
{
    uint64_t v;
    if (cordon_parse_u64(text, min, max, &v) != CORDON_OK)
        return fail("%s '%s': expected a whole number in %llu..%llu", name, text,
                    (unsigned long long)min, (unsigned long long)max);
    *out = (uint32_t)v;
    return 0;
}

static void set_int(json_t *o, const char *key, uint64_t v)
{
    json_object_set_new(o, key, json_integer((json_int_t)v));
}

static void set_real(json_t *o, const char *key, double v)
{
    json_object_set_new(o, key, json_real(v));
}

static void print_json(const struct cordon_sim_config *c, const struct cordon_sim_result *r)
{
    char digest[17];
    snprintf(digest, sizeof(digest), "%016llx", (unsigned long long)r->digest);
    json_t *o = json_object();
    json_t *adv = json_object();
    if (o == NULL || adv == NULL) {
        json_decref(o);
        json_decref(adv);
        return;
    }
    for (int k = 1; k < CORDON_SIM_KINDS; k++)
        set_real(adv, cordon_sim_kind_name((enum cordon_sim_kind)k), c->share[k]);
    set_int(o, "nodes", r->nodes);
    set_int(o, "lookups", r->lookups);
    set_int(o, "succeeded", r->succeeded);
    set_real(o, "success_rate", r->success_rate);
    set_real(o, "hops_median", r->hops_median);
    set_real(o, "hops_p99", r->hops_p99);
    set_real(o, "rounds_median", r->rounds_median);
    set_real(o, "rounds_p99", r->rounds_p99);
    set_real(o, "messages_per_lookup", r->messages_per_lookup);
    json_object_set_new(o, "digest", json_string(digest));
    set_real(o, "wall_seconds", r->wall_seconds);
    set_int(o, "seed", c->seed);
    set_int(o, "k", c->k);
    set_int(o, "alpha", c->alpha);
    set_int(o, "disjoint", c->disjoint);
    json_object_set_new(o, "adversary", adv);
    set_real(o, "loss", c->loss);
    set_real(o, "churn_per_minute", c->churn_per_minute);
    set_int(o, "churn_crashed", r->crashed);
    set_int(o, "churn_joined", r->joined_late);
    set_int(o, "virtual_ms", r->virtual_ms);
    set_int(o, "events", r->events);
    set_int(o, "messages", r->messages);
    set_int(o, "limiter_drops_node", r->dropped_rate_node);
    set_int(o, "limiter_drops_global", r->dropped_rate_global);
    set_int(o, "churn_refusals", r->refused_churn);
    set_int(o, "prefix_refusals", r->refused_prefix);
    set_int(o, "evictions", r->evictions);
    set_int(o, "unsolicited_drops", r->dropped_unsolicited);
    set_int(o, "timeouts", r->timeouts);
    set_int(o, "paced", r->paced);
    set_int(o, "retried_limited", r->retried_limited);
    set_int(o, "memory_per_node_avg", (uint64_t)r->memory_avg);
    set_int(o, "memory_per_node_max", (uint64_t)r->memory_max);
    if (c->objects > 0) {
        set_int(o, "objects", c->objects);
        set_int(o, "value_size", c->value_size);
        set_int(o, "updates", c->updates);
        set_int(o, "replicas", c->replicas);
        set_int(o, "puts", r->puts);
        set_int(o, "puts_ok", r->puts_ok);
        set_int(o, "reads", r->reads);
        set_int(o, "reads_newest", r->reads_newest);
        set_int(o, "reads_failed", r->reads_failed);
        set_int(o, "reads_wrong", r->reads_wrong);
        set_int(o, "reads_wrong_old", r->reads_wrong_old);
        set_int(o, "reads_captured", r->reads_captured);
        set_real(o, "read_success_rate", r->read_success_rate);
        set_int(o, "get_stale", r->get_stale);
        set_int(o, "get_forged", r->get_forged);
        set_int(o, "stores_accepted", r->stores_accepted);
        json_object_set_new(o, "maintain", json_boolean(c->maintain));
        set_int(o, "maintain_period_ms", r->maintain_ms);
        set_int(o, "maintain_soon_ms", r->maintain_soon_ms);
        set_int(o, "maintain_passes", r->maintain_passes);
        set_int(o, "summaries_sent", r->summaries_sent);
        set_int(o, "summaries_served", r->summaries_served);
        set_int(o, "maintain_pushed", r->maintain_pushed);
        set_int(o, "maintain_accepted", r->maintain_accepted);
        set_int(o, "maintain_retargeted", r->maintain_retargeted);
        set_int(o, "maintain_watch_ms", r->maintain_watch_ms);
        set_int(o, "watch_timeout_min_ms", r->watch_timeout_min_ms);
        set_int(o, "maintain_watched", r->maintain_watched);
        set_int(o, "maintain_watch_failed", r->maintain_watch_failed);
    }
    if (c->objects > 0 && c->churn_rounds > 0) {
        json_t *checks = json_array();
        set_real(o, "churn_fraction", c->churn_fraction);
        set_int(o, "churn_period_ms", c->churn_period_ms);
        set_int(o, "churn_rounds", c->churn_rounds);
        set_int(o, "replaced", r->replaced);
        for (uint32_t i = 0; checks != NULL && i < r->checks_done; i++) {
            const struct cordon_sim_check *k = &r->checks[i];
            json_t *e = json_object();
            if (e == NULL)
                break;
            set_int(e, "round", i);
            set_int(e, "at_ms", k->at_ms);
            set_int(e, "replaced", k->replaced);
            set_int(e, "live", k->live);
            set_int(e, "stored", k->stored);
            set_int(e, "lost", k->lost);
            set_int(e, "under_replicated", k->under);
            set_int(e, "copies_min", k->copies_min);
            set_real(e, "copies_avg", k->copies_avg);
            set_int(e, "reads", k->reads);
            set_int(e, "reads_newest", k->reads_newest);
            set_int(e, "reads_failed", k->reads_failed);
            set_int(e, "reads_wrong", k->reads_wrong);
            json_array_append_new(checks, e);
        }
        json_object_set_new(o, "checks", checks);
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text != NULL)
        printf("%s\n", text);
    free(text);
    json_decref(o);
}

int main(int argc, char **argv)
{
    struct cordon_sim_config c;
    struct cordon_sim_result r;
    bool json = false, reads_set = false;
    uint64_t v;
    cordon_sim_config_default(&c);
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        char *parts[3];
        int rc = 0;
        switch (opt) {
        case OPT_NODES:
            rc = u32_opt("--nodes", optarg, 2, 1000000, &c.nodes);
            break;
        case OPT_LOOKUPS:
            rc = u32_opt("--lookups", optarg, 0, 10000000, &c.lookups);
            break;
        case OPT_SEED:
            if (cordon_parse_u64(optarg, 0, UINT64_MAX, &v) != CORDON_OK)
                return fail("--seed '%s': expected a whole number", optarg);
            c.seed = v;
            break;
        case OPT_K:
            rc = u32_opt("--k", optarg, 1, 64, &c.k);
            break;
        case OPT_ALPHA:
            rc = u32_opt("--alpha", optarg, 1, 16, &c.alpha);
            break;
        case OPT_DISJOINT:
            rc = u32_opt("--disjoint", optarg, 1, 16, &c.disjoint);
            break;
        case OPT_ADVERSARY: {
            double share;
            int kind;
            if (split(optarg, parts, 2) != 0)
                return fail("--adversary: expected KIND:SHARE, e.g. eclipse:0.2");
            for (kind = 1; kind < CORDON_SIM_KINDS; kind++)
                if (strcmp(parts[0], cordon_sim_kind_name((enum cordon_sim_kind)kind)) == 0)
                    break;
            if (kind == CORDON_SIM_KINDS)
                return fail("--adversary: unknown kind '%s' (drop, eclipse, flood, flap, "
                            "refuse, stale, forge)",
                            parts[0]);
            if (cordon_parse_double(parts[1], 0, 0.99, &share) != CORDON_OK)
                return fail("--adversary: share '%s' must be within 0..0.99", parts[1]);
            c.share[kind] = share;
            break;
        }
        case OPT_LOSS:
            if (cordon_parse_double(optarg, 0, 0.99, &c.loss) != CORDON_OK)
                return fail("--loss '%s': expected 0..0.99", optarg);
            break;
        case OPT_CHURN:
            if (cordon_parse_double(optarg, 0, 1e6, &c.churn_per_minute) != CORDON_OK)
                return fail("--churn '%s': expected nodes per minute", optarg);
            break;
        case OPT_LATENCY:
            if (split(optarg, parts, 2) != 0)
                return fail("--latency: expected MIN:MAX in ms");
            rc = u32_opt("--latency MIN", parts[0], 0, 10000, &c.latency_min_ms);
            if (rc == 0)
                rc = u32_opt("--latency MAX", parts[1], c.latency_min_ms, 10000, &c.latency_max_ms);
            break;
        case OPT_JOIN_INTERVAL:
            rc = u32_opt("--join-interval", optarg, 0, 600000, &c.join_interval_ms);
            break;
        case OPT_SETTLE:
            rc = u32_opt("--settle", optarg, 0, 86400000, &c.settle_ms);
            break;
        case OPT_LOOKUP_INTERVAL:
            rc = u32_opt("--lookup-interval", optarg, 0, 600000, &c.lookup_interval_ms);
            break;
        case OPT_FLOOD_RATE:
            rc = u32_opt("--flood-rate", optarg, 1, 1000, &c.flood_rate);
            break;
        case OPT_FLAP_PERIOD:
            rc = u32_opt("--flap-period", optarg, 2, 86400000, &c.flap_period_ms);
            break;
        case OPT_PARTITION:
            if (split(optarg, parts, 3) != 0 ||
                cordon_parse_double(parts[0], 0, 0.99, &c.partition_share) != CORDON_OK)
                return fail("--partition: expected SHARE:START:END (share 0..0.99, ms)");
            rc = u32_opt("--partition START", parts[1], 0, 86400000, &c.partition_start_ms);
            if (rc == 0)
                rc = u32_opt("--partition END", parts[2], c.partition_start_ms, 86400000,
                             &c.partition_end_ms);
            break;
        case OPT_OBJECTS:
            rc = u32_opt("--objects", optarg, 0, 1000000, &c.objects);
            break;
        case OPT_VALUE_SIZE:
            rc = u32_opt("--value-size", optarg, 1, 65536, &c.value_size);
            break;
        case OPT_UPDATES:
            rc = u32_opt("--updates", optarg, 0, 1000, &c.updates);
            break;
        case OPT_READS:
            rc = u32_opt("--reads", optarg, 0, 10000000, &c.reads);
            reads_set = true;
            break;
        case OPT_REPLICAS:
            rc = u32_opt("--replicas", optarg, 1, 16, &c.replicas);
            break;
        case OPT_PUT_INTERVAL:
            rc = u32_opt("--put-interval", optarg, 0, 600000, &c.put_interval_ms);
            break;
        case OPT_READ_INTERVAL:
            rc = u32_opt("--read-interval", optarg, 0, 600000, &c.read_interval_ms);
            break;
        case OPT_MAINTAIN_PERIOD:
            rc = u32_opt("--maintain-period", optarg, 1, 86400000, &c.maintain_ms);
            break;
        case OPT_MAINTAIN_SOON:
            rc = u32_opt("--maintain-soon", optarg, 1, 86400000, &c.maintain_soon_ms);
            break;
        case OPT_MAINTAIN_WATCH:
            rc = u32_opt("--maintain-watch", optarg, 1, 86400000, &c.maintain_watch_ms);
            break;
        case OPT_WATCH_TIMEOUT_MIN:
            rc = u32_opt("--watch-timeout-min", optarg, 1, 1000, &c.watch_timeout_min_ms);
            break;
        case OPT_NO_MAINTAIN:
            c.maintain = false;
            break;
        case OPT_CHURN_ROUNDS:
            rc = u32_opt("--churn-rounds", optarg, 0, CORDON_SIM_ROUNDS_MAX, &c.churn_rounds);
            break;
        case OPT_CHURN_FRACTION:
            if (cordon_parse_double(optarg, 0, 1, &c.churn_fraction) != CORDON_OK)
                return fail("--churn-fraction '%s': expected 0..1", optarg);
            break;
        case OPT_CHURN_PERIOD:
            rc = u32_opt("--churn-period", optarg, 1, 86400000, &c.churn_period_ms);
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_HELP:
            fputs(usage, stdout);
            fputs(usage_storage, stdout);
            return 0;
        default:
            return fail("unknown option");
        }
        if (rc != 0)
            return rc;
    }
    if (optind != argc)
        return fail("unexpected argument '%s'", argv[optind]);
    if (c.disjoint > c.k)
        return fail("--disjoint must not exceed --k");
    if (c.replicas > c.k)
        return fail("--replicas must not exceed --k");
    if (!reads_set)
        c.reads = c.objects;
    if (c.maintain_ms > 0 && c.maintain_soon_ms > c.maintain_ms)
        return fail("--maintain-soon must not exceed --maintain-period");
    if (c.maintain_ms > 0 && c.maintain_watch_ms > c.maintain_ms)
        return fail("--maintain-watch must not exceed --maintain-period");
    if (c.churn_rounds > 0 && c.objects == 0)
        return fail("--churn-rounds needs --objects");
    if ((uint64_t)c.reads * (c.churn_rounds + 1) > 10000000)
        return fail("--reads times (--churn-rounds + 1) must stay within 10,000,000 gets");
    if ((uint64_t)c.objects * (c.updates + 1) > 10000000)
        return fail("--objects times (--updates + 1) must stay within 10,000,000 puts");
    double adv = 0;
    for (int k = 1; k < CORDON_SIM_KINDS; k++)
        adv += c.share[k];
    if (adv >= 1)
        return fail("adversary shares add up to %.2f; they must stay below 1", adv);

    cordon_err err = cordon_sim_run(&c, &r);
    if (err != CORDON_OK) {
        fprintf(stderr, "cordon-sim: the run failed: %s\n", cordon_strerror(err));
        return 1;
    }
    if (json) {
        print_json(&c, &r);
    } else {
        printf("nodes %u, lookups %u, succeeded %u (%.4f%%)\n", r.nodes, r.lookups, r.succeeded,
               100.0 * r.success_rate);
        printf("hops to the closest node: median %.0f, p99 %.0f; rounds to the end: median "
               "%.0f, p99 %.0f; %.1f messages per lookup\n",
               r.hops_median, r.hops_p99, r.rounds_median, r.rounds_p99, r.messages_per_lookup);
        printf("core memory per node: %.0f bytes average, %.0f max\n", r.memory_avg, r.memory_max);
        printf("limiter: %llu per-node drops, %llu global drops, %llu churn refusals; %llu "
               "evictions; %llu requests paced, %llu retried after rate limited\n",
               (unsigned long long)r.dropped_rate_node, (unsigned long long)r.dropped_rate_global,
               (unsigned long long)r.refused_churn, (unsigned long long)r.evictions,
               (unsigned long long)r.paced, (unsigned long long)r.retried_limited);
        if (c.objects > 0) {
            printf("puts %u, accepted %u; reads %u: newest %u (%.4f%%), failed %u, wrong %u (%u "
                   "of them an older version); %u reads of captured objects\n",
                   r.puts, r.puts_ok, r.reads, r.reads_newest, 100.0 * r.read_success_rate,
                   r.reads_failed, r.reads_wrong, r.reads_wrong_old, r.reads_captured);
            printf("answers outvoted: %llu stale, %llu forged; %llu STOREs accepted by honest "
                   "nodes\n",
                   (unsigned long long)r.get_stale, (unsigned long long)r.get_forged,
                   (unsigned long long)r.stores_accepted);
            printf("maintenance %s (%u ms, %u ms after a new contact, watch %u ms with timeouts "
                   "from %u ms): %llu passes, %llu summaries sent, %llu served, %llu retargeted, "
                   "%llu objects pushed, %llu accepted; %llu watch pings, %llu failed\n",
                   c.maintain ? "on" : "off", r.maintain_ms, r.maintain_soon_ms,
                   r.maintain_watch_ms, r.watch_timeout_min_ms,
                   (unsigned long long)r.maintain_passes, (unsigned long long)r.summaries_sent,
                   (unsigned long long)r.summaries_served,
                   (unsigned long long)r.maintain_retargeted, (unsigned long long)r.maintain_pushed,
                   (unsigned long long)r.maintain_accepted, (unsigned long long)r.maintain_watched,
                   (unsigned long long)r.maintain_watch_failed);
        }
        for (uint32_t i = 0; c.churn_rounds > 0 && i < r.checks_done; i++) {
            const struct cordon_sim_check *k = &r.checks[i];
            printf("round %u at %.0f s: %u replaced in all, %u live; %u of %u objects lost, %u "
                   "under %u copies (min %u, avg %.2f); reads %u: newest %u, failed %u, wrong "
                   "%u\n",
                   i, (double)k->at_ms / 1000, k->replaced, k->live, k->lost, k->stored, k->under,
                   c.replicas, k->copies_min, k->copies_avg, k->reads, k->reads_newest,
                   k->reads_failed, k->reads_wrong);
        }
        printf("%llu events, %llu messages, %.1f s virtual, %.2f s wall\n",
               (unsigned long long)r.events, (unsigned long long)r.messages,
               (double)r.virtual_ms / 1000, r.wall_seconds);
        printf("digest %016llx\n", (unsigned long long)r.digest);
    }
    return 0;
}
