/* common/file.c — see file.h. */
#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"

cordon_err cordon_read_file(const char *path, size_t max, cordon_buf *out)
{
    cordon_err err = CORDON_OK;
    uint8_t chunk[4096];
    size_t total = 0;
    struct stat st;
    int fd;

    if (path == NULL)
        return CORDON_ERR_INVAL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? CORDON_ERR_NOT_FOUND : CORDON_ERR_IO;
    /* A FIFO or a device would block or never end; only regular files are read. */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        err = CORDON_ERR_IO;
        goto out;
    }
    if (st.st_size > 0 && (uintmax_t)st.st_size > max) {
        err = CORDON_ERR_TOO_LARGE;
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = CORDON_ERR_IO;
            goto out;
        }
        if (n == 0)
            break;
        /* The file may grow between fstat and read. */
        if ((size_t)n > max - total) {
            err = CORDON_ERR_TOO_LARGE;
            goto out;
        }
        total += (size_t)n;
        err = cordon_buf_append(out, chunk, (size_t)n);
        if (err != CORDON_OK)
            goto out;
    }
out:
    explicit_bzero(chunk, sizeof(chunk)); /* key files pass through here */
    close(fd);
    return err;
}

static cordon_err fsync_dir(const char *path)
{
    char copy[CORDON_PATH_MAX];
    if (strlen(path) >= sizeof(copy))
        return CORDON_ERR_TOO_LARGE;
    memcpy(copy, path, strlen(path) + 1);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return CORDON_ERR_IO;
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? CORDON_OK : CORDON_ERR_IO;
}

cordon_err cordon_write_file(const char *path, const void *data, size_t len, unsigned mode)
{
    char tmp[CORDON_PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return CORDON_ERR_TOO_LARGE;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
    if (fd < 0)
        return CORDON_ERR_IO;
    const uint8_t *p = data;
    size_t left = len;
    cordon_err err = CORDON_OK;
    while (left > 0) {
        ssize_t put = write(fd, p, left);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0) {
            err = CORDON_ERR_IO;
            break;
        }
        p += put;
        left -= (size_t)put;
    }
    if (err == CORDON_OK && (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0))
        err = CORDON_ERR_IO;
    if (close(fd) != 0 && err == CORDON_OK)
        err = CORDON_ERR_IO;
    if (err == CORDON_OK && rename(tmp, path) != 0)
        err = CORDON_ERR_IO;
    if (err != CORDON_OK) {
        unlink(tmp);
        return err;
    }
    return fsync_dir(path);
}

cordon_err cordon_path_join(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, CORDON_PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || n >= CORDON_PATH_MAX)
        return CORDON_ERR_TOO_LARGE;
    return CORDON_OK;
}

bool cordon_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}
