/*
 * common/mem.h — wiping secrets and comparing them in constant time.
 */
#ifndef CORDON_COMMON_MEM_H
#define CORDON_COMMON_MEM_H

#include <stdbool.h>
#include <stddef.h>

/* Overwrite n bytes with zeros in a way the compiler may not elide. NULL is allowed when n == 0. */
void cordon_wipe(void *p, size_t n);

/* true when a and b hold the same n bytes; time depends only on n. */
bool cordon_ct_equal(const void *a, const void *b, size_t n);

/* free() that wipes n bytes first; accepts NULL. */
void cordon_free_secret(void *p, size_t n);

#endif
