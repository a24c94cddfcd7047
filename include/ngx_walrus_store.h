/*
 * The storage node's files: <store>/<blob id>/{metadata, certificate,
 * <pair>.primary, <pair>.secondary}.  Files appear only complete and
 * durable: written to a temporary name, stamped, synced, renamed, and the
 * directory synced.  The stamp (ngx_walrus_file_stamp) records in the
 * file's modification time that its bytes were verified; any later write
 * removes it.  These functions use only system calls, so they may run in
 * a thread pool.
 */

#ifndef _NGX_WALRUS_STORE_H_INCLUDED_
#define _NGX_WALRUS_STORE_H_INCLUDED_


#include <stddef.h>
#include <time.h>
#include <sys/types.h>
#include <sys/stat.h>


#define NGX_WALRUS_PATH_MAX    1024

/* the nanoseconds of the modification time of a verified file */
#define NGX_WALRUS_STAMP_NSEC  614372819


typedef struct {
    int    fd;
    char   tmp[NGX_WALRUS_PATH_MAX];
    char   path[NGX_WALRUS_PATH_MAX];
    char   dir[NGX_WALRUS_PATH_MAX];
} ngx_walrus_file_t;


/* "<store>/<id>" into dir; -1 when it does not fit */
int ngx_walrus_store_dir(char *dir, const char *store, size_t store_len,
    const char *id_text);

/* "<dir>/<name>" into path */
int ngx_walrus_store_path(char *path, const char *dir, const char *name);

/* the name of a sliver file */
void ngx_walrus_store_sliver_name(char *name, size_t size, unsigned pair,
    int secondary);

/* creates dir (and makes its entry durable) unless it exists */
int ngx_walrus_store_mkdir(const char *dir);

int ngx_walrus_file_open(ngx_walrus_file_t *f, const char *dir,
    const char *name);
int ngx_walrus_file_write(ngx_walrus_file_t *f, const void *buf,
    size_t len);
int ngx_walrus_file_commit(ngx_walrus_file_t *f);
void ngx_walrus_file_abort(ngx_walrus_file_t *f);

/*
 * makes the open file fd, named src, durable and stamped as
 * "<dir>/<name>" without copying it, replacing a file of that name
 */
int ngx_walrus_file_adopt(int fd, const char *src, const char *dir,
    const char *name);

/* marks the bytes of fd as verified; a later write unmarks them */
int ngx_walrus_file_stamp(int fd);
int ngx_walrus_file_stamped(const struct stat *st);

/* -1 when path is no regular file, 1 when it is stamped, else 0 */
int ngx_walrus_store_state(const char *path);

/*
 * renames "<dir>/<name>", if it is still fd's file, to "<name>.bad": 1 when
 * renamed, 0 when that name holds another file now
 */
int ngx_walrus_store_set_aside(int fd, const char *dir, const char *name);

/* reads exactly len bytes at off (EIO when the file is shorter) */
int ngx_walrus_pread(int fd, void *buf, size_t len, off_t off);

/* whether fd holds exactly size bytes on the file system of dir */
int ngx_walrus_adoptable(int fd, off_t size, const char *dir);

/* reads a whole file of at most max bytes into a malloc()ed buffer */
int ngx_walrus_read_file(const char *path, size_t max, unsigned char **buf,
    size_t *len);
int ngx_walrus_read_fd(int fd, size_t max, unsigned char **buf,
    size_t *len);

/*
 * removes nginx's temporary files below dir modified before `before` that
 * no process has open; returns how many
 */
unsigned long ngx_walrus_sweep_body_files(const char *dir, time_t before);


#endif /* _NGX_WALRUS_STORE_H_INCLUDED_ */
