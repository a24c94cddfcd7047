/*
 * Whole files: the atomic writer and the whole-file reader (system calls
 * only: thread safe).
 */

/* O_DIRECT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <walrus_file.h>


static int walrus_file_dir(char *dir, const char *path);


static unsigned long  walrus_tmp_seq;


void
walrus_file_init(walrus_file_t *f)
{
    f->fd = -1;
    f->tmp[0] = '\0';
    f->path[0] = '\0';
    f->dir[0] = '\0';
}


int
walrus_file_open(walrus_file_t *f, const char *path, mode_t mode)
{
    walrus_file_init(f);

    if (strlen(path) >= sizeof(f->path)
        || walrus_file_dir(f->dir, path) != 0
        || walrus_file_tmp_name(f->tmp, path) != 0)
    {
        f->tmp[0] = '\0';
        errno = ENAMETOOLONG;
        return -1;
    }

    strcpy(f->path, path);

    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

    if (f->fd == -1) {
        /* the name is another's if it exists: never removed */
        f->tmp[0] = '\0';
        return -1;
    }

    return 0;
}


/* the directory of path: "." for a bare name, "/" for one in the root */

static int
walrus_file_dir(char *dir, const char *path)
{
    size_t       len;
    const char  *slash;

    slash = strrchr(path, '/');

    if (slash == NULL) {
        strcpy(dir, ".");
        return 0;
    }

    len = (slash == path) ? 1 : (size_t) (slash - path);

    if (len >= WALRUS_PATH_MAX) {
        return -1;
    }

    memcpy(dir, path, len);
    dir[len] = '\0';

    return 0;
}


int
walrus_file_tmp_name(char *tmp, const char *path)
{
    int             n;
    const char     *name;
    unsigned long   seq;

    seq = __sync_fetch_and_add(&walrus_tmp_seq, 1);

    name = strrchr(path, '/');
    name = (name == NULL) ? path : name + 1;

    n = snprintf(tmp, WALRUS_PATH_MAX, "%.*s.tmp.%s.%ld.%lu",
                 (int) (name - path), path, name, (long) getpid(), seq);

    return (n < 0 || n >= WALRUS_PATH_MAX) ? -1 : 0;
}


int
walrus_file_write(walrus_file_t *f, const void *buf, size_t len)
{
    return walrus_write(f->fd, buf, len);
}


int
walrus_file_direct(int fd, int on)
{
    int  flags;

    flags = fcntl(fd, F_GETFL);

    if (flags == -1) {
        return 0;
    }

    flags = on ? flags | O_DIRECT : flags & ~O_DIRECT;

    /* EINVAL: the file system does not do direct I/O (tmpfs before 6.6) */

    if (fcntl(fd, F_SETFL, flags) == -1) {
        return !on;
    }

    return on;
}


int
walrus_write(int fd, const void *buf, size_t len)
{
    ssize_t        n;
    const char    *p;

    p = buf;

    while (len > 0) {
        n = write(fd, p, len);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            return -1;
        }

        p += n;
        len -= n;
    }

    return 0;
}


int
walrus_file_commit(walrus_file_t *f)
{
    int  rc;

    rc = fsync(f->fd);

    if (close(f->fd) == -1) {
        rc = -1;
    }

    f->fd = -1;

    if (rc == -1 || rename(f->tmp, f->path) == -1) {
        unlink(f->tmp);
        f->tmp[0] = '\0';
        return -1;
    }

    f->tmp[0] = '\0';

    return walrus_sync_dir(f->dir);
}


void
walrus_file_abort(walrus_file_t *f)
{
    if (f->fd != -1) {
        close(f->fd);
        f->fd = -1;
    }

    if (f->tmp[0] != '\0') {
        unlink(f->tmp);
        f->tmp[0] = '\0';
    }
}


int
walrus_sync_dir(const char *dir)
{
    int  fd, rc;

    fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd == -1) {
        return -1;
    }

    rc = fsync(fd);
    close(fd);

    return rc;
}


int
walrus_pread(int fd, void *buf, size_t len, off_t off)
{
    char     *p;
    ssize_t   n;

    for (p = buf; len > 0; p += n, off += n, len -= n) {
        n = pread(fd, p, len, off);

        if (n <= 0) {
            if (n == -1 && errno == EINTR) {
                n = 0;
                continue;
            }

            if (n == 0) {
                errno = EIO;
            }

            return -1;
        }
    }

    return 0;
}


int
walrus_read_file(const char *path, size_t max, unsigned char **buf,
    size_t *len)
{
    int  fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return -1;
    }

    rc = walrus_read_fd(fd, max, buf, len);
    close(fd);

    return rc;
}


int
walrus_read_fd(int fd, size_t max, unsigned char **buf, size_t *len)
{
    size_t          size, got;
    ssize_t         n = 0;
    struct stat     st;
    unsigned char  *p;

    if (fstat(fd, &st) == -1) {
        return -1;
    }

    if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        return -1;
    }

    if ((uint64_t) st.st_size > max) {
        errno = EFBIG;
        return -1;
    }

    size = (size_t) st.st_size;

    p = malloc(size + 1);
    if (p == NULL) {
        return -1;
    }

    /* up to one byte more than expected tells a file that grew */

    for (got = 0; got <= size; got += (size_t) n) {
        n = pread(fd, p + got, size + 1 - got, (off_t) got);

        if (n == -1 && errno == EINTR) {
            n = 0;
            continue;
        }

        if (n <= 0) {
            break;
        }
    }

    if (n == -1 || got != size) {
        if (n != -1) {
            errno = ESTALE;
        }

        free(p);
        return -1;
    }

    p[size] = '\0';
    *buf = p;
    *len = size;

    return 0;
}
