/*
 * common/parse.h — strict parsing of command-line numbers and lists (no atoi).
 */
#ifndef CORDON_COMMON_PARSE_H
#define CORDON_COMMON_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Decimal digits only, within [min, max]; CORDON_ERR_INVAL otherwise. */
CORDON_MUST_CHECK cordon_err cordon_parse_u64(const char *text, uint64_t min, uint64_t max,
                                              uint64_t *out);
/* A positive decimal number such as "5" or "0.5", within [min, max]. */
CORDON_MUST_CHECK cordon_err cordon_parse_double(const char *text, double min, double max,
                                                 double *out);
/* Splits a comma-separated list in place (text is modified): at most max items, none
 * empty. CORDON_ERR_TOO_LARGE for too many, CORDON_ERR_INVAL for an empty item. */
CORDON_MUST_CHECK cordon_err cordon_parse_list(char *text, const char **items, size_t max,
                                               size_t *n);

#endif
