/* common/cli.c — see cli.h. */
#include "common/cli.h"

#include <stdarg.h>
#include <stdio.h>

int cordon_cli_fail(const char *prog, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(%s --help lists the commands and options)\n", prog);
    return 2;
}
