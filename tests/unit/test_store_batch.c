/*
 * tests/unit/test_store_batch.c — store/'s group commit (cordon_store_batch_begin/end):
 * refusals inside a batch leave its earlier puts intact, quota and capacity counted exactly
 * across a batch, reads inside a batch see its puts, a batch lost whole when its process
 * dies or its store closes before end, a failed commit (the file may not grow: RLIMIT_FSIZE)
 * undoing the batch's stats and leaving a store that works, expiry and a full map inside a
 * batch. The fixture (a test CA, Ed25519 writers, snapshots) is support/store_fixture.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "crypto/crypto.h"
#include "crypto/object.h"
#include "store/store.h"
#include "wire/object.h"

#include "support/store_fixture.h"

/* The fixture is shared with test_store.c; the name goes into its /tmp directory, so that one
 * a failed run left behind says whose it is. */
static int group_setup(void **state)
{
    (void)state;
    return store_fx_group_setup("store-batch");
}

/* ---- batches ------------------------------------------------------------------------ */

static void test_batch_misuse(void **state)
{
    struct fx *f = *state;
    fx_open(f);
    expect_err(cordon_store_batch_begin(NULL), CORDON_ERR_INVAL);
    expect_err(cordon_store_batch_end(NULL), CORDON_ERR_INVAL);
    expect_err(cordon_store_batch_end(f->st), CORDON_ERR_INVAL); /* none open */
    assert_false(cordon_store_in_batch(f->st));
    assert_false(cordon_store_in_batch(NULL));
    must(cordon_store_batch_begin(f->st));
    assert_true(cordon_store_in_batch(f->st));
    expect_err(cordon_store_batch_begin(f->st), CORDON_ERR_INVAL); /* no nesting */
    assert_true(cordon_store_in_batch(f->st));
    must(cordon_store_batch_end(f->st)); /* empty: ends without a commit */
    assert_false(cordon_store_in_batch(f->st));
    expect_err(cordon_store_batch_end(f->st), CORDON_ERR_INVAL);
}

/* Refusals of every kind between accepted puts: each leaves the batch as it was, and the
 * batch commits exactly its accepted puts. */
static void test_batch_refusals_keep_earlier(void **state)
{
    struct fx *f = *state;
    obj *a1 = mk_owned(A, "a", 1, "first");
    obj *b1 = mk_owned(B, "b", 1, "second");
    obj *c1 = mk_owned(C, "c", 1, "revoked writer");
    obj *bad = tampered(a1);
    obj *a1_again = mk_owned(A, "a", 1, "replayed");
    obj *late = mk(A, CORDON_KIND_OWNED, "late", 1, NOW - 2 * LIFE, LIFE, "x", 1);
    fx_open(f);
    must(cordon_store_batch_begin(f->st));
    put_ok(f->st, a1, NOW);
    refused(f->st, bad, NOW, CORDON_ERR_OBJ_STALE); /* same seq: stale before the crypto */
    refused(f->st, a1_again, NOW, CORDON_ERR_OBJ_STALE);
    refused(f->st, c1, NOW, CORDON_ERR_CERT_REVOKED);
    refused(f->st, late, NOW, CORDON_ERR_OBJ_EXPIRED);
    put_ok(f->st, b1, NOW);
    obj *bad_b = tampered(b1);
    bad_b->b[bad_b->len - 1] ^= 0x80; /* the signature's last byte, seq untouched */
    refused(f->st, bad_b, NOW, CORDON_ERR_OBJ_STALE);
    free(bad_b);
    assert_holds(f->st, a1, NOW);
    assert_holds(f->st, b1, NOW);
    assert_usage(f->st, A, 1, a1->len);
    must(cordon_store_batch_end(f->st));

    struct cordon_store_stats s;
    cordon_store_stats(f->st, &s);
    assert_int_equal(s.accepted, 2);
    assert_int_equal(s.refused, 5);
    assert_totals(f->st, 2, a1->len + b1->len);
    fx_reopen(f);
    must(cordon_store_audit(f->st));
    assert_holds(f->st, a1, NOW);
    assert_holds(f->st, b1, NOW);
    assert_absent(f->st, c1->key, NOW);
    assert_absent(f->st, late->key, NOW);
    assert_totals(f->st, 2, a1->len + b1->len);
    free(a1);
    free(b1);
    free(c1);
    free(bad);
    free(a1_again);
    free(late);
}

/* A forged object with a higher seq reaches the signature check inside a batch, and its
 * refusal does not undo the replacement the batch made before it. */
static void test_batch_forged_after_replace(void **state)
{
    struct fx *f = *state;
    obj *a1 = mk_owned(A, "a", 1, "v1");
    obj *a2 = mk_owned(A, "a", 2, "v2-longer");
    obj *a3 = mk_owned(A, "a", 3, "v3");
    obj *forged = tampered(a3);
    fx_open(f);
    put_ok(f->st, a1, NOW);
    must(cordon_store_batch_begin(f->st));
    put_ok(f->st, a2, NOW);
    refused(f->st, forged, NOW, CORDON_ERR_BAD_SIGNATURE);
    refused(f->st, a1, NOW, CORDON_ERR_OBJ_STALE); /* the batch's seq 2 is the one held */
    assert_holds(f->st, a2, NOW);
    assert_usage(f->st, A, 1, a2->len);
    must(cordon_store_batch_end(f->st));
    fx_reopen(f);
    must(cordon_store_audit(f->st));
    assert_holds(f->st, a2, NOW);
    assert_usage(f->st, A, 1, a2->len);
    assert_totals(f->st, 1, a2->len);
    free(a1);
    free(a2);
    free(a3);
    free(forged);
}

/* The writer's quota and the node's capacity count the batch's earlier puts, replacements
 * included, exactly as separate commits would. */
static void test_batch_quota_exact(void **state)
{
    struct fx *f = *state;
    obj *x[4], *x0b, *b1, *b2;
    char name[8];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "q%d", i);
        x[i] = mk_owned(A, name, 1, "quota value");
    }
    x0b = mk_owned(A, "q0", 2, "shorter");
    b1 = mk_owned(B, "b1", 1, "node capacity");
    b2 = mk_owned(B, "b2", 1, "node capacity");
    f->cfg.writer_objects = 3;
    f->cfg.node_objects = 4;
    fx_open(f);
    put_ok(f->st, x[0], NOW); /* committed before the batch */
    must(cordon_store_batch_begin(f->st));
    put_ok(f->st, x[1], NOW);
    put_ok(f->st, x[2], NOW);
    refused(f->st, x[3], NOW, CORDON_ERR_OBJ_QUOTA); /* the batch's two count */
    put_ok(f->st, x0b, NOW);                         /* a replacement does not grow the count */
    uint64_t a_bytes = x0b->len + x[1]->len + x[2]->len;
    assert_usage(f->st, A, 3, a_bytes);
    put_ok(f->st, b1, NOW);
    refused(f->st, b2, NOW, CORDON_ERR_OBJ_CAPACITY); /* node: 4 with the batch's */
    assert_totals(f->st, 4, a_bytes + b1->len);
    must(cordon_store_batch_end(f->st));
    assert_usage(f->st, A, 3, a_bytes);
    assert_usage(f->st, B, 1, b1->len);
    assert_totals(f->st, 4, a_bytes + b1->len);
    fx_reopen(f);
    must(cordon_store_audit(f->st));
    assert_usage(f->st, A, 3, a_bytes);
    assert_usage(f->st, B, 1, b1->len);
    assert_totals(f->st, 4, a_bytes + b1->len);
    assert_holds(f->st, x0b, NOW);
    assert_absent(f->st, x[3]->key, NOW);
    assert_absent(f->st, b2->key, NOW);
    for (int i = 0; i < 4; i++)
        free(x[i]);
    free(x0b);
    free(b1);
    free(b2);
}

/* Byte quota: the batch's bytes count, to the byte. */
static void test_batch_quota_bytes(void **state)
{
    struct fx *f = *state;
    obj *p = mk_owned(A, "p", 1, "0123456789");
    obj *q = mk_owned(A, "q", 1, "0123456789");
    obj *r = mk_owned(A, "r", 1, "0123456789");
    assert_int_equal(p->len, q->len);
    f->cfg.writer_bytes = p->len + q->len; /* exactly two */
    fx_open(f);
    must(cordon_store_batch_begin(f->st));
    put_ok(f->st, p, NOW);
    put_ok(f->st, q, NOW);
    refused(f->st, r, NOW, CORDON_ERR_OBJ_QUOTA);
    assert_usage(f->st, A, 2, p->len + q->len);
    must(cordon_store_batch_end(f->st));
    fx_reopen(f);
    assert_usage(f->st, A, 2, p->len + q->len);
    must(cordon_store_audit(f->st));
    free(p);
    free(q);
    free(r);
}

/* Reads inside a batch (get, usage, scan, stats, audit) see its puts, before end. */
static void test_batch_reads_see_batch(void **state)
{
    struct fx *f = *state;
    obj *a1 = mk_owned(A, "a", 1, "in the batch");
    obj *b1 = mk_owned(B, "b", 1, "committed");
    fx_open(f);
    put_ok(f->st, b1, NOW);
    must(cordon_store_batch_begin(f->st));
    assert_absent(f->st, a1->key, NOW);
    must(cordon_store_put(f->st, verifier, a1->b, a1->len, NOW, NULL));
    assert_holds(f->st, a1, NOW);
    assert_holds(f->st, b1, NOW);
    assert_usage(f->st, A, 1, a1->len);
    assert_totals(f->st, 2, a1->len + b1->len);
    struct snap *sn = snap_take(f->st); /* scans and gets every entry */
    assert_int_equal(sn->n, 2);
    snap_free(sn);
    must(cordon_store_audit(f->st));
    must(cordon_store_batch_end(f->st));
    assert_holds(f->st, a1, NOW);
    free(a1);
    free(b1);
}

/* Closing the store with a batch open loses the batch and only it. */
static void test_batch_close_without_end(void **state)
{
    struct fx *f = *state;
    obj *a1 = mk_owned(A, "a", 1, "committed");
    obj *a2 = mk_owned(A, "a", 2, "replacement in the batch");
    obj *b1 = mk_owned(B, "b", 1, "new in the batch");
    fx_open(f);
    put_ok(f->st, a1, NOW);
    must(cordon_store_batch_begin(f->st));
    put_ok(f->st, a2, NOW);
    put_ok(f->st, b1, NOW);
    fx_reopen(f); /* closes with the batch open */
    assert_false(cordon_store_in_batch(f->st));
    must(cordon_store_audit(f->st));
    assert_holds(f->st, a1, NOW);
    assert_absent(f->st, b1->key, NOW);
    assert_usage(f->st, A, 1, a1->len);
    assert_usage(f->st, B, 0, 0);
    assert_totals(f->st, 1, a1->len);
    free(a1);
    free(a2);
    free(b1);
}

/* A process that dies inside a batch: a child commits one put, opens a batch, puts two
 * more and exits without ending it. The parent finds the first put only. */
static void test_batch_crash(void **state)
{
    struct fx *f = *state;
    obj *a1 = mk_owned(A, "a", 1, "committed");
    obj *a2 = mk_owned(A, "a", 2, "lost");
    obj *b1 = mk_owned(B, "b", 1, "lost");
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cordon_store *st = NULL;
        int code = 0;
        if (cordon_store_open(&f->cfg, &st) != CORDON_OK ||
            cordon_store_put(st, verifier, a1->b, a1->len, NOW, NULL) != CORDON_OK ||
            cordon_store_batch_begin(st) != CORDON_OK ||
            cordon_store_put(st, verifier, a2->b, a2->len, NOW, NULL) != CORDON_OK ||
            cordon_store_put(st, verifier, b1->b, b1->len, NOW, NULL) != CORDON_OK)
            code = 1;
        _exit(code); /* no end, no close: as a kill */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    fx_open(f);
    must(cordon_store_audit(f->st));
    assert_holds(f->st, a1, NOW);
    assert_absent(f->st, b1->key, NOW);
    assert_totals(f->st, 1, a1->len);
    free(a1);
    free(a2);
    free(b1);
}

/* A commit that fails (the data file may not grow: RLIMIT_FSIZE, SIGXFSZ ignored so that
 * the write fails with EFBIG): end returns CORDON_ERR_DB, the batch's puts are gone and
 * the stats say so, and the store goes on working. */
static void test_batch_commit_fails(void **state)
{
    struct fx *f = *state;
    uint8_t value[3000];
    char name[16], path[192];
    obj *first = mk_owned(A, "first", 1, "committed");
    obj *x[16];
    struct stat sb;
    struct rlimit old, lim;
    memset(value, 'f', sizeof(value));
    for (int i = 0; i < 16; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        x[i] = mk(B, CORDON_KIND_OWNED, name, 1, NOW, LIFE, value, sizeof(value));
    }
    fx_open(f);
    put_ok(f->st, first, NOW);
    struct cordon_store_stats before, after;
    cordon_store_stats(f->st, &before);
    snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
    assert_int_equal(stat(path, &sb), 0);

    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)sb.st_size;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    must(cordon_store_batch_begin(f->st));
    for (int i = 0; i < 16; i++)
        must(cordon_store_put(f->st, verifier, x[i]->b, x[i]->len, NOW, NULL));
    cordon_err end = cordon_store_batch_end(f->st);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    expect_err(end, CORDON_ERR_DB);
    assert_false(cordon_store_in_batch(f->st));

    cordon_store_stats(f->st, &after);
    assert_int_equal(after.objects, before.objects);
    assert_int_equal(after.bytes, before.bytes);
    assert_int_equal(after.accepted, before.accepted);
    must(cordon_store_audit(f->st));
    assert_absent(f->st, x[0]->key, NOW);
    assert_holds(f->st, first, NOW);
    put_ok(f->st, x[0], NOW); /* the store still works, in and out of batches */
    must(cordon_store_batch_begin(f->st));
    put_ok(f->st, x[1], NOW);
    must(cordon_store_batch_end(f->st));
    fx_reopen(f);
    must(cordon_store_audit(f->st));
    assert_holds(f->st, x[0], NOW);
    assert_holds(f->st, x[1], NOW);
    assert_absent(f->st, x[2]->key, NOW);
    assert_totals(f->st, 3, first->len + x[0]->len + x[1]->len);
    free(first);
    for (int i = 0; i < 16; i++)
        free(x[i]);
}

/* An expiry step inside a batch is part of it: kept by end, lost with the batch. */
static void test_batch_expire(void **state)
{
    struct fx *f = *state;
    obj *old1 = mk(A, CORDON_KIND_OWNED, "old1", 1, NOW, 10, "o", 1);
    obj *old2 = mk(A, CORDON_KIND_OWNED, "old2", 1, NOW, 10, "o", 1);
    obj *fresh = mk(A, CORDON_KIND_OWNED, "fresh", 1, NOW + 20, LIFE, "f", 1);
    size_t removed = 0;
    fx_open(f);
    put_ok(f->st, old1, NOW);
    put_ok(f->st, old2, NOW);

    must(cordon_store_batch_begin(f->st));
    must(cordon_store_expire(f->st, NOW + 20, 1, &removed));
    assert_int_equal(removed, 1);
    put_ok(f->st, fresh, NOW + 20);
    fx_reopen(f); /* lost: both old objects are still there, fresh is not */
    assert_totals(f->st, 2, old1->len + old2->len);
    assert_absent(f->st, fresh->key, NOW + 20);

    must(cordon_store_batch_begin(f->st));
    must(cordon_store_expire(f->st, NOW + 20, 16, &removed));
    assert_int_equal(removed, 2);
    put_ok(f->st, fresh, NOW + 20);
    must(cordon_store_batch_end(f->st));
    struct cordon_store_stats s;
    cordon_store_stats(f->st, &s);
    assert_int_equal(s.expired, 2);
    fx_reopen(f);
    must(cordon_store_audit(f->st));
    assert_totals(f->st, 1, fresh->len);
    assert_holds(f->st, fresh, NOW + 20);
    assert_usage(f->st, A, 1, fresh->len);
    free(old1);
    free(old2);
    free(fresh);
}

/* A full map inside a batch: the put that meets it is refused CORDON_ERR_OBJ_CAPACITY and
 * the batch is lost at once (a half-written put cannot be undone without a child
 * transaction per put): reads see the committed store, later puts of the batch and its end
 * return the same error. The next batches commit put by put, so that the node takes what
 * fits; an expiry step that frees pages brings real batches back. */
static void test_batch_map_full(void **state)
{
    struct fx *f = *state;
    uint8_t value[2100];
    char name[16];
    size_t stored = 0, removed = 0;
    cordon_err err = CORDON_OK;
    obj *y[1000] = {NULL};
    memset(value, 'm', sizeof(value));
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        y[i] = mk(A, CORDON_KIND_OWNED, name, 1, NOW, i < 16 ? 10 : LIFE, value, sizeof(value));
    }
    f->cfg.map_size = 1024 * 1024;
    f->cfg.node_bytes = 1024 * 1024;
    fx_open(f);
    must(cordon_store_batch_begin(f->st));
    for (int i = 0; i < 1000 && err == CORDON_OK; i++) {
        err = cordon_store_put(f->st, verifier, y[i]->b, y[i]->len, NOW, NULL);
        if (err == CORDON_OK)
            stored++;
    }
    expect_err(err, CORDON_ERR_OBJ_CAPACITY);
    assert_true(stored > 10);
    assert_true(cordon_store_in_batch(f->st));
    must(cordon_store_audit(f->st)); /* the committed store: empty */
    assert_totals(f->st, 0, 0);
    assert_absent(f->st, y[0]->key, NOW);
    struct cordon_store_stats s;
    cordon_store_stats(f->st, &s);
    assert_int_equal(s.accepted, 0);
    expect_err(cordon_store_put(f->st, verifier, y[0]->b, y[0]->len, NOW, NULL),
               CORDON_ERR_OBJ_CAPACITY);
    expect_err(cordon_store_expire(f->st, NOW + 10, 16, &removed), CORDON_ERR_DB);
    expect_err(cordon_store_batch_end(f->st), CORDON_ERR_OBJ_CAPACITY);
    assert_false(cordon_store_in_batch(f->st));
    must(cordon_store_audit(f->st));
    assert_totals(f->st, 0, 0);

    /* Direct: each put is committed when it returns. */
    must(cordon_store_batch_begin(f->st));
    assert_true(cordon_store_in_batch(f->st));
    for (int i = 0; i < 40; i++)
        must(cordon_store_put(f->st, verifier, y[i]->b, y[i]->len, NOW, NULL));
    must(cordon_store_batch_end(f->st));
    must(cordon_store_batch_begin(f->st));
    must(cordon_store_put(f->st, verifier, y[40]->b, y[40]->len, NOW, NULL));

    /* Expiry frees pages; batches are batches again (their puts are lost with them). */
    must(cordon_store_batch_end(f->st)); /* direct: its put is committed already */
    must(cordon_store_expire(f->st, NOW + 10, 16, &removed));
    assert_int_equal(removed, 16);
    obj *z = mk(A, CORDON_KIND_OWNED, "z", 1, NOW, LIFE, "z", 1);
    must(cordon_store_batch_begin(f->st));
    must(cordon_store_put(f->st, verifier, z->b, z->len, NOW + 10, NULL));
    fx_reopen(f); /* closed without end */
    must(cordon_store_audit(f->st));
    assert_absent(f->st, z->key, NOW + 10); /* a batch again: lost with it */
    assert_holds(f->st, y[40], NOW + 10);   /* direct: durable */
    assert_holds(f->st, y[16], NOW + 10);
    assert_totals(f->st, 25, 25 * y[16]->len);
    free(z);
    for (int i = 0; i < 1000; i++)
        free(y[i]);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, store_fx_setup, store_fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_batch_misuse),
        T(test_batch_refusals_keep_earlier),
        T(test_batch_forged_after_replace),
        T(test_batch_quota_exact),
        T(test_batch_quota_bytes),
        T(test_batch_reads_see_batch),
        T(test_batch_close_without_end),
        T(test_batch_crash),
        T(test_batch_commit_fails),
        T(test_batch_expire),
        T(test_batch_map_full),
    };
    return cmocka_run_group_tests(tests, group_setup, store_fx_group_teardown);
}
