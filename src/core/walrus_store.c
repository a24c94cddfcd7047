/*
 * Durable files of the storage node (system calls only: thread safe):
 * the atomic writer of walrus_file.c, with the verification stamp.
 */

/* F_SETLEASE */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <walrus_store.h>


static void walrus_store_sweep(const char *dir);
static unsigned long walrus_sweep_dirfd(int fd, time_t before,
    int depth);
static int walrus_file_in_use(int dirfd, const char *name);


int
walrus_store_dir(char *dir, const char *store, size_t store_len,
    const char *id_text)
{
    int  n;

    n = snprintf(dir, WALRUS_PATH_MAX, "%.*s/%s", (int) store_len, store,
                 id_text);

    return (n < 0 || n >= WALRUS_PATH_MAX) ? -1 : 0;
}


int
walrus_store_path(char *path, const char *dir, const char *name)
{
    int  n;

    n = snprintf(path, WALRUS_PATH_MAX, "%s/%s", dir, name);

    return (n < 0 || n >= WALRUS_PATH_MAX) ? -1 : 0;
}


void
walrus_store_sliver_name(char *name, size_t size, unsigned pair,
    int secondary)
{
    snprintf(name, size, "%u.%s", pair, secondary ? "secondary" : "primary");
}


int
walrus_store_mkdir(const char *dir)
{
    char  *slash, parent[WALRUS_PATH_MAX];

    if (mkdir(dir, 0755) == -1) {
        return errno == EEXIST ? 0 : -1;
    }

    strcpy(parent, dir);
    slash = strrchr(parent, '/');

    if (slash != NULL && slash != parent) {
        *slash = '\0';
        return walrus_sync_dir(parent);
    }

    return 0;
}


int
walrus_store_open(walrus_file_t *f, const char *dir, const char *name)
{
    char  path[WALRUS_PATH_MAX];

    if (walrus_store_path(path, dir, name) != 0) {
        walrus_file_init(f);
        errno = ENAMETOOLONG;
        return -1;
    }

    walrus_store_sweep(dir);

    return walrus_file_open(f, path, 0644);
}


/*
 * Removes the temporary files (".tmp.<name>.<pid>.<seq>") that a process
 * which no longer runs, such as a crashed worker, left in dir.
 */

static void
walrus_store_sweep(const char *dir)
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
walrus_store_commit(walrus_file_t *f)
{
    /* without its stamp a file is only verified again before signing */
    (void) walrus_file_stamp(f->fd);

    return walrus_file_commit(f);
}


/*
 * The stamp: the modification time set to now with a fixed nanosecond
 * part.  Any later write through the file system sets the modification
 * time to the time of that write, which (but once in 10^9) has another
 * nanosecond part, so the stamp says "not written since verified".
 */

int
walrus_file_stamp(int fd)
{
    struct timespec  ts[2];

    ts[0].tv_sec = 0;
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_sec = time(NULL);
    ts[1].tv_nsec = WALRUS_STAMP_NSEC;

    return futimens(fd, ts);
}


int
walrus_file_stamped(const struct stat *st)
{
    return st->st_mtim.tv_nsec == WALRUS_STAMP_NSEC;
}


int
walrus_store_state(const char *path)
{
    struct stat  st;

    if (stat(path, &st) == -1 || !S_ISREG(st.st_mode)) {
        return -1;
    }

    return walrus_file_stamped(&st);
}


/*
 * Renames "<dir>/<name>" to "<name>.bad", replacing an older one, when it
 * is still the file open as fd: a concurrent upload may have replaced it
 * with a good copy since fd was opened.
 */

int
walrus_store_set_aside(int fd, const char *dir, const char *name)
{
    int          n;
    struct stat  a, b;
    char         path[WALRUS_PATH_MAX], bad[WALRUS_PATH_MAX];

    n = snprintf(bad, sizeof(bad), "%s/%s.bad", dir, name);

    if (n < 0 || n >= (int) sizeof(bad)
        || walrus_store_path(path, dir, name) != 0)
    {
        errno = ENAMETOOLONG;
        return -1;
    }

    if (fstat(fd, &a) == -1 || stat(path, &b) == -1) {
        return -1;
    }

    if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
        return 0;
    }

    if (rename(path, bad) == -1) {
        return -1;
    }

    (void) walrus_sync_dir(dir);

    return 1;
}


/*
 * Removes below dir (nginx's temporary file names: digits only, at most
 * three levels of subdirectories) the regular files modified before
 * `before` that no process has open; returns how many.
 */

unsigned long
walrus_sweep_body_files(const char *dir, time_t before)
{
    int  fd;

    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1) {
        return 0;
    }

    return walrus_sweep_dirfd(fd, before, 3);
}


static unsigned long
walrus_sweep_dirfd(int fd, time_t before, int depth)
{
    int             sub;
    DIR            *d;
    struct stat     st;
    unsigned long   n;
    struct dirent  *de;

    d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return 0;
    }

    n = 0;

    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9'
            || strspn(de->d_name, "0123456789") != strlen(de->d_name)
            || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
        {
            continue;
        }

        if (S_ISDIR(st.st_mode)) {
            sub = depth > 0 ? openat(dirfd(d), de->d_name,
                                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                                     | O_CLOEXEC)
                            : -1;
            if (sub != -1) {
                n += walrus_sweep_dirfd(sub, before, depth - 1);
            }

            continue;
        }

        if (S_ISREG(st.st_mode) && st.st_mtime < before
            && !walrus_file_in_use(dirfd(d), de->d_name)
            && unlinkat(dirfd(d), de->d_name, 0) == 0)
        {
            n++;
        }
    }

    closedir(d);

    return n;
}


/*
 * Whether a process has the file open: a write lease is granted only when
 * no other descriptor of the file is open, in this process or another.
 * Where leases are not supported, the file's age decides alone.
 */

static int
walrus_file_in_use(int dirfd, const char *name)
{
    int  fd, busy;

    fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1) {
        return errno == EWOULDBLOCK;
    }

    busy = 0;

    if (fcntl(fd, F_SETLEASE, F_WRLCK) == 0) {
        (void) fcntl(fd, F_SETLEASE, F_UNLCK);

    } else {
        busy = (errno == EAGAIN || errno == EBUSY);
    }

    close(fd);

    return busy;
}


int
walrus_store_write(const char *dir, const char *name, const void *buf,
    size_t len)
{
    walrus_file_t  f;

    if (walrus_store_open(&f, dir, name) != 0) {
        return -1;
    }

    if (walrus_file_write(&f, buf, len) != 0 || walrus_store_commit(&f) != 0) {
        walrus_file_abort(&f);
        return -1;
    }

    return 0;
}

