/* common/mem.c — see mem.h. */
#include "common/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void cordon_wipe(void *p, size_t n)
{
    if (p == NULL || n == 0)
        return;
    explicit_bzero(p, n);
}

bool cordon_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a;
    const volatile uint8_t *y = b;
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= (uint8_t)(x[i] ^ y[i]);
    return acc == 0;
}

void cordon_free_secret(void *p, size_t n)
{
    if (p == NULL)
        return;
    cordon_wipe(p, n);
    free(p);
}
