/*
 * The storage node's files: <store>/<blob id>/{metadata, certificate,
 * <pair>.primary, <pair>.secondary}.  Files appear only complete and
 * durable (the writer of walrus_file.h) and stamped: the stamp
 * (walrus_file_stamp) records in the file's modification time that its
 * bytes were verified; any later write removes it.  These functions use
 * only system calls, so they may run in a thread pool.
 */

#ifndef _WALRUS_STORE_H_INCLUDED_
#define _WALRUS_STORE_H_INCLUDED_


#include <stddef.h>
#include <time.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <walrus_file.h>


/* the nanoseconds of the modification time of a verified file */
#define WALRUS_STAMP_NSEC  614372819


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

/*
 * The writer of walrus_file.h for "<dir>/<name>", once the temporary
 * files that processes gone (a crashed worker) left in dir are removed;
 * written with walrus_file_write(), dropped with walrus_file_abort().
 */
int walrus_store_open(walrus_file_t *f, const char *dir, const char *name);

/* stamps the file as verified, then walrus_file_commit() */
int walrus_store_commit(walrus_file_t *f);

/* "<dir>/<name>" made of buf, durable and stamped: open, write, commit */
int walrus_store_write(const char *dir, const char *name, const void *buf,
    size_t len);

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

/*
 * removes nginx's temporary files below dir modified before `before` that
 * no process has open; returns how many
 */
unsigned long walrus_sweep_body_files(const char *dir, time_t before);


#endif /* _WALRUS_STORE_H_INCLUDED_ */
