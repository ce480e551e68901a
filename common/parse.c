/* common/parse.c — see parse.h. */
#include "common/parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

cordon_err cordon_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    if (text == NULL || text[0] < '0' || text[0] > '9')
        return CORDON_ERR_INVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return CORDON_ERR_INVAL;
    *out = v;
    return CORDON_OK;
}

cordon_err cordon_parse_double(const char *text, double min, double max, double *out)
{
    /* Plain decimal only: strtod() would also take "0x1p3", "inf" and exponents. */
    size_t dots = 0, digits = 0;
    if (text == NULL)
        return CORDON_ERR_INVAL;
    for (const char *p = text; *p; p++) {
        if (*p == '.')
            dots++;
        else if (*p >= '0' && *p <= '9')
            digits++;
        else
            return CORDON_ERR_INVAL;
    }
    if (digits == 0 || dots > 1)
        return CORDON_ERR_INVAL;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v) || v < min || v > max)
        return CORDON_ERR_INVAL;
    *out = v;
    return CORDON_OK;
}

cordon_err cordon_parse_list(char *text, const char **items, size_t max, size_t *n)
{
    size_t count = 0;
    char *save = NULL;
    if (text == NULL || text[0] == '\0' || text[0] == ',' || text[strlen(text) - 1] == ',' ||
        strstr(text, ",,") != NULL)
        return CORDON_ERR_INVAL;
    for (char *tok = strtok_r(text, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (count == max)
            return CORDON_ERR_TOO_LARGE;
        items[count++] = tok;
    }
    *n = count;
    return CORDON_OK;
}
