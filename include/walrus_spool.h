/*
 * A file written batch by batch from one buffer, past the page cache when
 * the file system allows it.
 *
 * A node stores an upload's sliver as it verifies it, and makes it
 * durable before it answers: through the page cache every byte would be
 * copied into fresh cache pages and then flushed by that fsync anyway,
 * which costs more CPU than the hashing.  Direct I/O (O_DIRECT) writes
 * the buffer itself.  Direct writes are whole blocks at aligned offsets:
 * the partial block at the end of a batch stays in the buffer, in front
 * of the next batch, and the last block is written padded with zeros,
 * the file then truncated to its length.  On a file system that refuses
 * direct I/O the same calls write through the page cache.
 *
 * System calls only: runs in a thread pool.
 */

#ifndef _WALRUS_SPOOL_H_INCLUDED_
#define _WALRUS_SPOOL_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* the alignment of direct writes: the page, a multiple of any block */
#define WALRUS_SPOOL_BLOCK  4096


typedef struct {
    uint8_t   *base;     /* block-aligned: the carried bytes, the batch */
    size_t     carry;    /* bytes at base from the batch before */
    size_t     room;     /* the largest batch */
    uint64_t   offset;   /* the file offset of base[0] */
    int        fd;
    int        direct;   /* writes bypass the page cache */
} walrus_spool_t;


/* bytes of memory (any alignment) a spool of batches of room bytes needs */
size_t walrus_spool_size(size_t room);

/*
 * Sets up sp over mem (walrus_spool_size(room) bytes) to write the file
 * open as fd from its start; direct: whether fd has O_DIRECT
 * (walrus_file_direct()).
 */
void walrus_spool_init(walrus_spool_t *sp, uint8_t *mem, size_t room,
    int fd, int direct);

/*
 * Where the caller puts the next batch, at most room bytes.  The byte
 * before it is writable too (it may be the batch before's last byte):
 * slices there can be hashed in place.
 */
uint8_t *walrus_spool_batch(walrus_spool_t *sp);

/*
 * Writes the batch of len bytes the caller put at walrus_spool_batch();
 * last: the file ends with it (it is then truncated to its length).
 * -1 with errno, EINVAL for len over room.
 */
int walrus_spool_write(walrus_spool_t *sp, size_t len, int last);


#endif /* _WALRUS_SPOOL_H_INCLUDED_ */
