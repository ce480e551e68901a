/*
 * common/cli.h — what every command-line program of the project shares.
 */
#ifndef CORDON_COMMON_CLI_H
#define CORDON_COMMON_CLI_H

/* Prints "PROG: <message>" and a pointer to --help on stderr; returns 2, the exit status
 * of a usage error. */
int cordon_cli_fail(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
