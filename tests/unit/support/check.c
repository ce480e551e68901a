/*
 * tests/unit/support/check.c — see check.h.
 */
#include "support/check.h"

void must_at(cordon_err err, int line)
{
    if (err != CORDON_OK)
        fail_msg("line %d: unexpected error %s", line, cordon_errname(err));
}
