/*
 * tests/unit/support/check.h — the two checks every store and storage test makes on a
 * cordon_err: that a call succeeded, or that it failed with exactly the code wanted. Both
 * name the line and the code, so a failure says which call gave what without a debugger.
 */
#ifndef CORDON_TEST_CHECK_H
#define CORDON_TEST_CHECK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/error.h"

void must_at(cordon_err err, int line);
#define must(err) must_at((err), __LINE__)

#define expect_err(got, want)                                                                      \
    do {                                                                                           \
        cordon_err got_ = (got), want_ = (want);                                                   \
        if (got_ != want_)                                                                         \
            fail_msg("%s:%d: got %s, wanted %s", __FILE__, __LINE__, cordon_errname(got_),         \
                     cordon_errname(want_));                                                       \
    } while (0)

#endif
