/*
 * tests/unit/test_sim.c — the simulator: determinism, and small overlays (a few hundred
 * nodes) under each adversary reaching the success rates the overlay issue asks of the
 * 10,000-node runs (those are measured by bench/sim, not asserted here).
 *
 * Storage: 300 nodes, 100 owned objects put and then updated (200 puts), 300 reads from
 * random honest nodes, each judged byte for byte against the newest version its writer
 * put; with 20% of the nodes `refuse`, `stale` or `forge`. What must hold whatever the
 * seed: no read ever returns an altered object, and a read that misses the newest version
 * is explained by capture (none of the object's r live closest nodes is honest, so no
 * reader could do better). The success threshold: with 20% adversaries dealt independently
 * and r = 3, a share 0.2^3 = 0.8% of the objects is captured; 95% leaves room for six times
 * that (five captured objects of 100 has a probability near 0.1%).
 *
 * Churn: 300 nodes, 100 owned objects put and updated, then two rounds of 10 virtual
 * minutes in each of which 30% of the nodes leave for good, one at a time, and as many new
 * ones join. Without replica maintenance the run loses objects (the second test proves the
 * churn is harsh enough to, so that the first cannot pass for want of churn); with it, no
 * object loses its last copy and every read after each round returns the newest version.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sim/sim.h"

#define NODES 300
#define LOOKUPS 300

static struct cordon_sim_result run(uint64_t seed, enum cordon_sim_kind kind, double share,
                                    uint32_t disjoint)
{
    struct cordon_sim_config cfg;
    struct cordon_sim_result r;
    cordon_sim_config_default(&cfg);
    cfg.nodes = NODES;
    cfg.lookups = LOOKUPS;
    cfg.seed = seed;
    cfg.disjoint = disjoint;
    cfg.settle_ms = 30000;
    cfg.share[kind] = share;
    assert_int_equal(cordon_sim_run(&cfg, &r), CORDON_OK);
    assert_int_equal(r.lookups, LOOKUPS);
    return r;
}

static struct cordon_sim_result run_storage(uint64_t seed, uint32_t nodes,
                                            enum cordon_sim_kind kind, double share,
                                            uint32_t objects, uint32_t value_size)
{
    struct cordon_sim_config cfg;
    struct cordon_sim_result r;
    cordon_sim_config_default(&cfg);
    cfg.nodes = nodes;
    cfg.lookups = 0;
    cfg.seed = seed;
    cfg.settle_ms = 30000;
    cfg.share[kind] = share;
    cfg.objects = objects;
    cfg.value_size = value_size;
    cfg.updates = 1;
    cfg.reads = 3 * objects;
    assert_int_equal(cordon_sim_run(&cfg, &r), CORDON_OK);
    assert_int_equal(r.puts, 2 * objects);
    assert_int_equal(r.reads, 3 * objects);
    assert_int_equal(r.reads, r.reads_newest + r.reads_failed + r.reads_wrong);
    print_message("%s %.0f%%: %u/%u reads newest (%.2f%%), %u failed, %u wrong (%u older), %u "
                  "captured; outvoted %llu stale, %llu forged\n",
                  cordon_sim_kind_name(kind), 100 * share, r.reads_newest, r.reads,
                  100 * r.read_success_rate, r.reads_failed, r.reads_wrong, r.reads_wrong_old,
                  r.reads_captured, (unsigned long long)r.get_stale,
                  (unsigned long long)r.get_forged);
    /* Never an altered object: a wrong answer can only be a genuine older version. */
    assert_int_equal(r.reads_wrong, r.reads_wrong_old);
    /* Every miss is of a captured object. */
    assert_true(r.reads_newest + r.reads_captured >= r.reads);
    assert_true(r.read_success_rate >= 0.95);
    return r;
}

static void test_storage_honest(void **state)
{
    (void)state;
    struct cordon_sim_result r = run_storage(21, NODES, CORDON_SIM_HONEST, 0, 100, 64);
    assert_int_equal(r.puts_ok, r.puts);
    assert_int_equal(r.reads_newest, r.reads);
    assert_int_equal(r.reads_captured, 0);
    assert_int_equal(r.get_stale + r.get_forged, 0);
    /* Every put reached r = 3 replicas, the writer's own copy aside. */
    assert_true(r.stores_accepted >= 2 * r.puts);
}

/* Values of 64 KiB: STOREs and OBJECTs of about 68 KB cross the virtual network whole. */
static void test_storage_big_values(void **state)
{
    (void)state;
    struct cordon_sim_result r = run_storage(22, 100, CORDON_SIM_HONEST, 0, 8, 65536);
    assert_int_equal(r.puts_ok, r.puts);
    assert_int_equal(r.reads_newest, r.reads);
}

static void test_storage_refuse_20(void **state)
{
    (void)state;
    struct cordon_sim_result r = run_storage(23, NODES, CORDON_SIM_REFUSE, 0.2, 100, 64);
    assert_int_equal(r.reads_wrong, 0); /* a refuser holds nothing: it cannot mislead */
    assert_true(r.reads_failed <= r.reads_captured);
}

static void test_storage_stale_20(void **state)
{
    (void)state;
    struct cordon_sim_result r = run_storage(24, NODES, CORDON_SIM_STALE, 0.2, 100, 64);
    assert_true(r.get_stale > 0); /* stale answers were met, and outvoted */
    assert_int_equal(r.get_forged, 0);
    assert_true(r.reads_wrong <= r.reads_captured);
}

static void test_storage_forge_20(void **state)
{
    (void)state;
    struct cordon_sim_result r = run_storage(25, NODES, CORDON_SIM_FORGE, 0.2, 100, 64);
    assert_true(r.get_forged > 0); /* forged answers were met, and refused */
    assert_int_equal(r.reads_wrong, 0);
}

/* Keys and signatures differ from run to run (OpenSSL's generator); the digest does not. */
static void test_storage_same_seed_same_run(void **state)
{
    (void)state;
    struct cordon_sim_result a = run_storage(26, 200, CORDON_SIM_STALE, 0.2, 40, 64);
    struct cordon_sim_result b = run_storage(26, 200, CORDON_SIM_STALE, 0.2, 40, 64);
    struct cordon_sim_result c = run_storage(27, 200, CORDON_SIM_STALE, 0.2, 40, 64);
    assert_true(a.digest == b.digest);
    assert_true(a.events == b.events);
    assert_int_equal(a.reads_newest, b.reads_newest);
    assert_true(a.get_stale == b.get_stale);
    assert_true(a.digest != c.digest);
}

static struct cordon_sim_result run_churn(uint64_t seed, bool maintain)
{
    struct cordon_sim_config cfg;
    struct cordon_sim_result r;
    cordon_sim_config_default(&cfg);
    cfg.nodes = NODES;
    cfg.lookups = 0;
    cfg.seed = seed;
    cfg.settle_ms = 30000;
    cfg.objects = 100;
    cfg.updates = 1;
    cfg.reads = 100; /* each check reads every object once */
    cfg.maintain = maintain;
    cfg.churn_rounds = 2;
    cfg.churn_fraction = 0.3;
    cfg.churn_period_ms = 600000;
    assert_int_equal(cordon_sim_run(&cfg, &r), CORDON_OK);
    assert_int_equal(r.puts_ok, 200);
    assert_int_equal(r.checks_done, 3);
    /* 30% of the 300 honest nodes live at each round's start: 90 a round. */
    assert_int_equal(r.replaced, 180);
    for (uint32_t i = 0; i < r.checks_done; i++) {
        const struct cordon_sim_check *c = &r.checks[i];
        print_message("maintenance %s, round %u: %u replaced, %u/%u objects lost, %u under 3 "
                      "copies (min %u, avg %.2f); reads %u/%u newest, %u failed, %u wrong\n",
                      maintain ? "on" : "off", i, c->replaced, c->lost, c->stored, c->under,
                      c->copies_min, c->copies_avg, c->reads_newest, c->reads, c->reads_failed,
                      c->reads_wrong);
        assert_int_equal(c->stored, 100);
        assert_int_equal(c->live, NODES);
        assert_int_equal(c->reads, 100);
        /* A lost object cannot be read, and nothing wrong is ever returned. */
        assert_true(c->reads_newest <= c->stored - c->lost);
        assert_int_equal(c->reads_wrong, 0);
    }
    /* Before the churn, every object has its r copies and is read. */
    assert_int_equal(r.checks[0].lost, 0);
    assert_int_equal(r.checks[0].copies_min, 3);
    assert_int_equal(r.checks[0].reads_newest, 100);
    return r;
}

static void test_storage_churn_maintained(void **state)
{
    (void)state;
    struct cordon_sim_result r = run_churn(31, true);
    assert_true(r.maintain_passes > 0);
    assert_true(r.maintain_accepted > 0); /* replicas were made anew */
    for (uint32_t i = 1; i < r.checks_done; i++) {
        assert_int_equal(r.checks[i].lost, 0);
        assert_int_equal(r.checks[i].reads_newest, 100);
    }
}

/* The same run without maintenance: the churn alone loses objects. */
static void test_storage_churn_unmaintained(void **state)
{
    (void)state;
    struct cordon_sim_result r = run_churn(31, false);
    assert_true(r.maintain_passes + r.summaries_sent + r.maintain_pushed == 0);
    assert_true(r.checks[2].lost > 0);
    assert_true(r.checks[2].lost >= r.checks[1].lost); /* a lost object stays lost */
    assert_true(r.checks[2].reads_newest < 100);
}

static void test_same_seed_same_run(void **state)
{
    (void)state;
    struct cordon_sim_result a = run(11, CORDON_SIM_DROP, 0.1, 4);
    struct cordon_sim_result b = run(11, CORDON_SIM_DROP, 0.1, 4);
    assert_true(a.digest == b.digest);
    assert_true(a.events == b.events);
    assert_true(a.messages == b.messages);
    assert_int_equal(a.succeeded, b.succeeded);
}

static void test_other_seed_other_run(void **state)
{
    (void)state;
    struct cordon_sim_result a = run(11, CORDON_SIM_HONEST, 0, 4);
    struct cordon_sim_result b = run(12, CORDON_SIM_HONEST, 0, 4);
    assert_true(a.digest != b.digest);
}

static void test_honest_overlay(void **state)
{
    (void)state;
    struct cordon_sim_result r = run(1, CORDON_SIM_HONEST, 0, 4);
    assert_int_equal(r.succeeded, LOOKUPS);
    assert_true(r.hops_median <= 4);
    assert_true(r.memory_max <= 64 * 1024);
}

static void test_drop_20(void **state)
{
    (void)state;
    struct cordon_sim_result r = run(2, CORDON_SIM_DROP, 0.2, 4);
    assert_true(r.success_rate >= 0.99);
    assert_true(r.timeouts > 0); /* the droppers were asked, and did not answer */
}

static void test_eclipse_20(void **state)
{
    (void)state;
    struct cordon_sim_result r = run(3, CORDON_SIM_ECLIPSE, 0.2, 4);
    assert_true(r.success_rate >= 0.99);
}

static void test_flood_10(void **state)
{
    (void)state;
    struct cordon_sim_result quiet = run(4, CORDON_SIM_HONEST, 0, 4);
    struct cordon_sim_result flood = run(4, CORDON_SIM_FLOOD, 0.1, 4);
    /* The flood shows in the limiters, and honest lookups do not notice it. */
    assert_true(flood.dropped_rate_node + flood.dropped_rate_global > 100);
    assert_int_equal(quiet.dropped_rate_node + quiet.dropped_rate_global, 0);
    assert_true(flood.success_rate >= quiet.success_rate - 0.001);
}

static void test_flap_10(void **state)
{
    (void)state;
    struct cordon_sim_result r = run(5, CORDON_SIM_FLAP, 0.1, 4);
    assert_true(r.success_rate >= 0.99);
    assert_true(r.evictions > 0); /* the honest nodes noticed the flappers go */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_run),
        cmocka_unit_test(test_other_seed_other_run),
        cmocka_unit_test(test_honest_overlay),
        cmocka_unit_test(test_drop_20),
        cmocka_unit_test(test_eclipse_20),
        cmocka_unit_test(test_flood_10),
        cmocka_unit_test(test_flap_10),
        cmocka_unit_test(test_storage_honest),
        cmocka_unit_test(test_storage_big_values),
        cmocka_unit_test(test_storage_refuse_20),
        cmocka_unit_test(test_storage_stale_20),
        cmocka_unit_test(test_storage_forge_20),
        cmocka_unit_test(test_storage_same_seed_same_run),
        cmocka_unit_test(test_storage_churn_maintained),
        cmocka_unit_test(test_storage_churn_unmaintained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
