/*
 * A stored sliver file checked against the metadata, segment by segment:
 * what a node does before it signs for files it has not verified yet, and
 * what its scrubber does to find files that rotted.  System calls and the
 * core only, so it runs in a thread pool.
 */

#ifndef _WALRUS_SLIVER_FILE_H_INCLUDED_
#define _WALRUS_SLIVER_FILE_H_INCLUDED_


#include <walrus_codec.h>
#include <walrus_metadata.h>


/*
 * Slices are verified in batches of segments (walrus_sliver_batch()), so
 * that the leaves of several fill the multi-buffer lanes: up to
 * WALRUS_SLIVER_BATCH_LEAVES leaves' worth of slices, at most
 * WALRUS_SLIVER_BATCH_BYTES unless one slice is larger.
 */
#define WALRUS_SLIVER_BATCH_LEAVES  24
#define WALRUS_SLIVER_BATCH_BYTES   (8 * 1024 * 1024)


/*
 * WALRUS_OK when the file open as fd holds pair's sliver of `axis`
 * exactly as the metadata commits to it; WALRUS_ELENGTH when it is
 * shorter, else the error of the first batch that does not verify.  buf
 * holds walrus_sliver_file_buffer() bytes and the byte before it is
 * writable too (the slices are hashed in place).
 */
int walrus_sliver_file_verify(int fd, const walrus_metadata_t *m,
    walrus_codec_t *codec, uint8_t *buf, unsigned pair, walrus_axis_e axis);

/*
 * WALRUS_OK when buf (len bytes) is segment seg's slice of pair's sliver
 * of `axis` as the metadata commits to it: what a node checks of a slice
 * another node sent (a shard's old owner during a migration).
 */
int walrus_sliver_slice_verify(walrus_codec_t *codec,
    const walrus_metadata_t *m, unsigned pair, walrus_axis_e axis,
    uint64_t seg, const uint8_t *buf, size_t len);

/* bytes of segment seg's slice of a sliver of `axis` */
size_t walrus_sliver_slice_size(const walrus_metadata_t *m,
    walrus_axis_e axis, uint64_t seg);

/*
 * The number of segments from seg on whose slices of `axis` are verified
 * together: at least 1, all of one size.
 */
uint64_t walrus_sliver_batch(const walrus_metadata_t *m, walrus_axis_e axis,
    uint64_t seg);

/*
 * Verifies the slices of `count` segments from seg on (a batch of
 * walrus_sliver_batch() at most), laid one after the other in buf, whose
 * preceding byte is writable: the leaves are hashed in place (see
 * walrus_slivers_hash()).  WALRUS_EHASH with *bad the first segment whose
 * slice does not match the metadata.
 */
int walrus_sliver_batch_verify(walrus_codec_t *codec,
    const walrus_metadata_t *m, unsigned pair, walrus_axis_e axis,
    uint64_t seg, uint64_t count, uint8_t *buf, uint64_t *bad);

/* bytes of the largest batch of slices of this blob, either axis */
size_t walrus_sliver_file_buffer(const walrus_metadata_t *m);


#endif /* _WALRUS_SLIVER_FILE_H_INCLUDED_ */
