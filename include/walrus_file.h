/*
 * Whole files: the one atomic writer and the one whole-file reader of the
 * node store, the committee loader and walrusctl.
 *
 * The writer makes a file appear only complete and durable: written under
 * a temporary name beside it (".tmp.<name>.<pid>.<seq>"), synced, renamed
 * over the final name, and its directory synced.  These functions use
 * only system calls, so they may run in a thread pool.
 */

#ifndef _WALRUS_FILE_H_INCLUDED_
#define _WALRUS_FILE_H_INCLUDED_


#include <stddef.h>
#include <sys/types.h>


#define WALRUS_PATH_MAX    1024


typedef struct {
    int    fd;                          /* -1 when not open */
    char   tmp[WALRUS_PATH_MAX];        /* "" when nothing to remove */
    char   path[WALRUS_PATH_MAX];
    char   dir[WALRUS_PATH_MAX];
} walrus_file_t;


/* a file that is not open: walrus_file_abort() does nothing to it */
void walrus_file_init(walrus_file_t *f);

/*
 * Creates the temporary file of path with mode (less the umask).  -1 with
 * errno: ENAMETOOLONG, or that of open().
 */
int walrus_file_open(walrus_file_t *f, const char *path, mode_t mode);

int walrus_file_write(walrus_file_t *f, const void *buf, size_t len);

/*
 * Asks that writes to fd bypass the page cache, or no longer (on: 1 or
 * 0; O_DIRECT, see walrus_spool.h for how to write such a file): 1 when
 * they will bypass it, 0 when they go through it (the file system may not
 * allow direct I/O).
 */
int walrus_file_direct(int fd, int on);

/* writes all of buf at the file offset (EINTR retried) */
int walrus_write(int fd, const void *buf, size_t len);

/*
 * Syncs, closes and renames the file to its path, then syncs the
 * directory.  -1 with errno on failure, the temporary file then removed.
 */
int walrus_file_commit(walrus_file_t *f);

/* closes and removes the temporary file of a file not committed */
void walrus_file_abort(walrus_file_t *f);

/* "<dir of path>/.tmp.<name of path>.<pid>.<seq>": unique per call */
int walrus_file_tmp_name(char *tmp, const char *path);

/* makes the entries of dir durable */
int walrus_sync_dir(const char *dir);

/* reads exactly len bytes at off (EIO when the file is shorter) */
int walrus_pread(int fd, void *buf, size_t len, off_t off);

/*
 * Reads a whole regular file of at most max bytes into a malloc()ed
 * buffer, followed by a NUL that *len does not count.  -1 with errno on
 * failure: that of open() or read(), EINVAL when it is not a regular
 * file, EFBIG when it is larger than max, ESTALE when its size changed
 * while it was read.
 */
int walrus_read_file(const char *path, size_t max, unsigned char **buf,
    size_t *len);
int walrus_read_fd(int fd, size_t max, unsigned char **buf,
    size_t *len);


#endif /* _WALRUS_FILE_H_INCLUDED_ */
