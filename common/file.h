/*
 * common/file.h — whole-file reads with a cap, and durable atomic writes.
 */
#ifndef CORDON_COMMON_FILE_H
#define CORDON_COMMON_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

#define CORDON_PATH_MAX 4096

/* Appends the whole file (at most max bytes: CORDON_ERR_TOO_LARGE beyond) to out.
 * CORDON_ERR_NOT_FOUND when it does not exist, CORDON_ERR_IO on other failures. */
CORDON_MUST_CHECK cordon_err cordon_read_file(const char *path, size_t max, cordon_buf *out);

/* Writes a file durably and atomically: a temporary file beside it with the given mode,
 * fsync, rename, fsync of the directory. Readers see the old or the new content. */
CORDON_MUST_CHECK cordon_err cordon_write_file(const char *path, const void *data, size_t len,
                                               unsigned mode);

/* Joins dir and name into out (CORDON_PATH_MAX bytes); CORDON_ERR_TOO_LARGE if too long. */
CORDON_MUST_CHECK cordon_err cordon_path_join(char *out, const char *dir, const char *name);

/* true when path exists (any type). */
bool cordon_path_exists(const char *path);

#endif
