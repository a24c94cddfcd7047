/*
 * Durable files of the storage node (system calls only: thread safe).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <ngx_walrus_store.h>


static int ngx_walrus_sync_dir(const char *dir);
static void ngx_walrus_store_sweep(const char *dir);


static unsigned long  ngx_walrus_tmp_seq;


int
ngx_walrus_store_dir(char *dir, const char *store, size_t store_len,
    const char *id_text)
{
    int  n;

    n = snprintf(dir, NGX_WALRUS_PATH_MAX, "%.*s/%s", (int) store_len, store,
                 id_text);

    return (n < 0 || n >= NGX_WALRUS_PATH_MAX) ? -1 : 0;
}


int
ngx_walrus_store_path(char *path, const char *dir, const char *name)
{
    int  n;

    n = snprintf(path, NGX_WALRUS_PATH_MAX, "%s/%s", dir, name);

    return (n < 0 || n >= NGX_WALRUS_PATH_MAX) ? -1 : 0;
}


void
ngx_walrus_store_sliver_name(char *name, size_t size, unsigned pair,
    int secondary)
{
    snprintf(name, size, "%u.%s", pair, secondary ? "secondary" : "primary");
}


static int
ngx_walrus_sync_dir(const char *dir)
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
ngx_walrus_store_mkdir(const char *dir)
{
    char  *slash, parent[NGX_WALRUS_PATH_MAX];

    if (mkdir(dir, 0755) == -1) {
        return errno == EEXIST ? 0 : -1;
    }

    strcpy(parent, dir);
    slash = strrchr(parent, '/');

    if (slash != NULL && slash != parent) {
        *slash = '\0';
        return ngx_walrus_sync_dir(parent);
    }

    return 0;
}


int
ngx_walrus_file_open(ngx_walrus_file_t *f, const char *dir,
    const char *name)
{
    int            n;
    unsigned long  seq;

    seq = __sync_fetch_and_add(&ngx_walrus_tmp_seq, 1);

    n = snprintf(f->tmp, sizeof(f->tmp), "%s/.tmp.%s.%ld.%lu", dir, name,
                 (long) getpid(), seq);
    if (n < 0 || n >= (int) sizeof(f->tmp)
        || ngx_walrus_store_path(f->path, dir, name) != 0
        || strlen(dir) >= sizeof(f->dir))
    {
        errno = ENAMETOOLONG;
        return -1;
    }

    strcpy(f->dir, dir);
    ngx_walrus_store_sweep(dir);

    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

    return f->fd == -1 ? -1 : 0;
}


/*
 * Removes the temporary files (".tmp.<name>.<pid>.<seq>") that a process
 * which no longer runs, such as a crashed worker, left in dir.
 */

static void
ngx_walrus_store_sweep(const char *dir)
{
    DIR            *d;
    long            pid;
    char           *end, *dot;
    struct dirent  *de;

    d = opendir(dir);
    if (d == NULL) {
        return;
    }

    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, ".tmp.", 5) != 0) {
            continue;
        }

        dot = strrchr(de->d_name, '.');

        while (dot > de->d_name + 4 && dot[-1] != '.') {
            dot--;
        }

        pid = strtol(dot, &end, 10);

        if (dot > de->d_name + 4 && pid > 0 && *end == '.'
            && kill((pid_t) pid, 0) == -1 && errno == ESRCH)
        {
            (void) unlinkat(dirfd(d), de->d_name, 0);
        }
    }

    closedir(d);
}


int
ngx_walrus_file_write(ngx_walrus_file_t *f, const void *buf, size_t len)
{
    ssize_t        n;
    const char    *p;

    p = buf;

    while (len > 0) {
        n = write(f->fd, p, len);

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
ngx_walrus_file_commit(ngx_walrus_file_t *f)
{
    int  rc;

    rc = fsync(f->fd);

    if (close(f->fd) == -1) {
        rc = -1;
    }

    f->fd = -1;

    if (rc == -1 || rename(f->tmp, f->path) == -1) {
        unlink(f->tmp);
        return -1;
    }

    return ngx_walrus_sync_dir(f->dir);
}


int
ngx_walrus_file_adopt(int fd, const char *src, const char *dir,
    const char *name)
{
    char  path[NGX_WALRUS_PATH_MAX];

    if (ngx_walrus_store_path(path, dir, name) != 0) {
        errno = ENAMETOOLONG;
        return -1;
    }

    if (access(path, F_OK) == 0) {
        return 1;
    }

    if (fchmod(fd, 0644) == -1 || fsync(fd) == -1) {
        return -1;
    }

    if (link(src, path) == -1) {
        return errno == EEXIST ? 1 : -1;
    }

    return ngx_walrus_sync_dir(dir);
}


int
ngx_walrus_adoptable(int fd, off_t size, const char *dir)
{
    struct stat  a, b;

    return fstat(fd, &a) == 0 && stat(dir, &b) == 0 && a.st_dev == b.st_dev
           && a.st_size == size;
}


void
ngx_walrus_file_abort(ngx_walrus_file_t *f)
{
    if (f->fd != -1) {
        close(f->fd);
        f->fd = -1;
    }

    unlink(f->tmp);
}


int
ngx_walrus_read_file(const char *path, size_t max, unsigned char **buf,
    size_t *len)
{
    int             fd;
    size_t          got;
    ssize_t         n;
    struct stat     st;
    unsigned char  *p;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return -1;
    }

    if (fstat(fd, &st) == -1 || (size_t) st.st_size > max) {
        close(fd);
        errno = EFBIG;
        return -1;
    }

    p = malloc(st.st_size ? st.st_size : 1);
    if (p == NULL) {
        close(fd);
        return -1;
    }

    for (got = 0; got < (size_t) st.st_size; got += n) {
        n = pread(fd, p + got, st.st_size - got, got);

        if (n <= 0) {
            if (n == -1 && errno == EINTR) {
                n = 0;
                continue;
            }

            free(p);
            close(fd);
            errno = EIO;
            return -1;
        }
    }

    close(fd);
    *buf = p;
    *len = got;

    return 0;
}
