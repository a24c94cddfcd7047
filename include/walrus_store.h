/*
 * The storage node's files: <store>/<blob id>/{metadata, certificate,
 * <pair>.primary, <pair>.secondary}.  Files appear only complete and
 * durable: written to a temporary name, stamped, synced, renamed, and the
 * directory synced.  The stamp (walrus_file_stamp) records in the
 * file's modification time that its bytes were verified; any later write
 * removes it.  These functions use only system calls, so they may run in
 * a thread pool.
 */

#ifndef _WALRUS_STORE_H_INCLUDED_
#define _WALRUS_STORE_H_INCLUDED_


#include <stddef.h>
#include <time.h>
#include <sys/types.h>
#include <sys/stat.h>


#define WALRUS_PATH_MAX    1024

/* the nanoseconds of the modification time of a verified file */
#define WALRUS_STAMP_NSEC  614372819


typedef struct {
    int    fd;
    char   tmp[WALRUS_PATH_MAX];
    char   path[WALRUS_PATH_MAX];
    char   dir[WALRUS_PATH_MAX];
} walrus_file_t;


/* "<store>/<id>" into dir; -1 when it does not fit */
int walrus_store_dir(char *dir, const char *store, size_t store_len,
    const char *id_text);

/* "<dir>/<name>" into path */
int walrus_store_path(char *path, const char *dir, const char *name);

/* the name of a sliver file */
void walrus_store_sliver_name(char *name, size_t size, unsigned pair,
    int secondary);

/* creates dir (and makes its entry durable) unless it exists */
int walrus_store_mkdir(const char *dir);

/* makes the entries of dir durable (fsync of the directory) */
int walrus_sync_dir(const char *dir);

int walrus_file_open(walrus_file_t *f, const char *dir,
    const char *name);
int walrus_file_write(walrus_file_t *f, const void *buf,
    size_t len);
int walrus_file_commit(walrus_file_t *f);
void walrus_file_abort(walrus_file_t *f);

/* "<dir>/<name>" made of buf, durable and stamped: open, write, commit */
int walrus_store_write(const char *dir, const char *name, const void *buf,
    size_t len);

/*
 * makes the open file fd, named src, durable and stamped as
 * "<dir>/<name>" without copying it, replacing a file of that name
 */
int walrus_file_adopt(int fd, const char *src, const char *dir,
    const char *name);

/* marks the bytes of fd as verified; a later write unmarks them */
int walrus_file_stamp(int fd);
int walrus_file_stamped(const struct stat *st);

/* -1 when path is no regular file, 1 when it is stamped, else 0 */
int walrus_store_state(const char *path);

/*
 * renames "<dir>/<name>", if it is still fd's file, to "<name>.bad": 1 when
 * renamed, 0 when that name holds another file now
 */
int walrus_store_set_aside(int fd, const char *dir, const char *name);

/* reads exactly len bytes at off (EIO when the file is shorter) */
int walrus_pread(int fd, void *buf, size_t len, off_t off);

/* writes all of buf at the file offset (EINTR retried) */
int walrus_write(int fd, const void *buf, size_t len);

/* whether fd holds exactly size bytes on the file system of dir */
int walrus_adoptable(int fd, off_t size, const char *dir);

/*
 * Reads a whole regular file of at most max bytes into a malloc()ed
 * buffer, followed by a NUL that *len does not count.  -1 with errno on
 * failure: that of open() or read(), EINVAL when it is not a regular
 * file, EFBIG when it is larger than max, ESTALE when its size changed
 * while it was read.  The one reader of the node store, the committee
 * loader and walrusctl.
 */
int walrus_read_file(const char *path, size_t max, unsigned char **buf,
    size_t *len);
int walrus_read_fd(int fd, size_t max, unsigned char **buf,
    size_t *len);

/*
 * removes nginx's temporary files below dir modified before `before` that
 * no process has open; returns how many
 */
unsigned long walrus_sweep_body_files(const char *dir, time_t before);


#endif /* _WALRUS_STORE_H_INCLUDED_ */
