/*
 * tests/unit/test_sim.c — the simulator: determinism, and small overlays (a few hundred
 * nodes) under each adversary reaching the success rates the overlay issue asks of the
 * 10,000-node runs (those are measured by bench/sim, not asserted here).
 */
#include <setjmp.h>
#include <stdarg.h>
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
