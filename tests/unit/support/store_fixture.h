/*
 * tests/unit/support/store_fixture.h — the fixture the store's own tests share (test_store.c,
 * test_store_batch.c): a test CA and a foreign one, four writers, a verifier whose CRL
 * revokes C, one store per test in its own directory, signed objects, and snapshots of
 * everything a caller of the store can see, which is how a test shows that a refusal
 * changed nothing. One piece, so that what "unchanged" means cannot drift between the
 * tests of puts and the tests of batches of puts.
 */
#ifndef CORDON_TEST_STORE_FIXTURE_H
#define CORDON_TEST_STORE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "crypto/crypto.h"
#include "crypto/object.h"
#include "store/store.h"
#include "wire/object.h"
#include "support/check.h"
#include "support/writer.h"

#define OVERLAY "test"
#define T0 INT64_C(1767225600) /* 2026-01-01T00:00:00Z */
#define DAY INT64_C(86400)
#define NODE_NB T0
#define NODE_NA (T0 + 7 * DAY)
#define NOW ((uint64_t)T0 + 3600)
#define LIFE 3600u
#define SNAP_MAX 1024

/* ---- fixture ------------------------------------------------------------------------- */

enum { A, B, C, D, NWRITERS }; /* C is revoked; D's certificate is of another CA */

extern char store_fx_base[64]; /* the group's mkdtemp() directory */
extern cordon_key *ca_key, *foreign_key;
extern cordon_cert *ca_cert, *foreign_ca;
extern struct writer writers[NWRITERS];
extern cordon_object_verifier *verifier; /* with a CRL that revokes C */

/* The group's setup makes its directory /tmp/cordon-test-<name>-XXXXXX: a test that fails
 * leaves it behind, and the name says whose it is. */
int store_fx_group_setup(const char *name);
int store_fx_group_teardown(void **state);

/* One store per test, in its own directory, opened by the test (after it set f->cfg). */
struct fx {
    char dir[128];
    struct cordon_store_config cfg;
    cordon_store *st;
};

int store_fx_setup(void **state);
int store_fx_teardown(void **state);
void fx_open(struct fx *f);
void fx_reopen(struct fx *f);

/* ---- objects ------------------------------------------------------------------------- */

typedef struct obj {
    uint8_t b[CORDON_OBJECT_MAX];
    size_t len;
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
} obj;

void obj_key(obj *x);
void fill(struct cordon_object *o, const struct writer *w, uint8_t kind, const char *name,
          uint64_t seq, uint64_t created, uint32_t lifetime, const void *value, size_t value_len);
obj *sign_obj(const struct writer *w, struct cordon_object *o);
obj *mk(int wi, uint8_t kind, const char *name, uint64_t seq, uint64_t created, uint32_t lifetime,
        const void *value, size_t value_len);
obj *mk_owned(int wi, const char *name, uint64_t seq, const char *value);
obj *tampered(const obj *x);

/* ---- state snapshots ----------------------------------------------------------------- */

struct entry {
    uint8_t key[CORDON_OBJECT_ENTRY_KEY_LEN];
    uint8_t *data;
    size_t len;
};

struct snap {
    struct entry e[SNAP_MAX];
    size_t n;
    uint64_t usage[NWRITERS][2];
    struct cordon_store_stats stats;
};

struct snap *snap_take(cordon_store *st);
void snap_free(struct snap *sn);
void snap_assert_same(const struct snap *a, const struct snap *b);

void refused_at(cordon_store *st, const void *data, size_t len, uint64_t now, cordon_err want,
                int line);
#define refused(st, x, now, want) refused_at((st), (x)->b, (x)->len, (now), (want), __LINE__)

void put_ok(cordon_store *st, const obj *x, uint64_t now);
void assert_usage(cordon_store *st, int wi, uint64_t objects, uint64_t bytes);
void assert_totals(cordon_store *st, uint64_t objects, uint64_t bytes);
void assert_holds(cordon_store *st, const obj *x, uint64_t now);
void assert_absent(cordon_store *st, const uint8_t *key, uint64_t now);

#endif
