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
 * WALRUS_OK when the file open as fd holds pair's sliver of `axis`
 * exactly as the metadata commits to it; WALRUS_ELENGTH when it is
 * shorter, else the error of the first slice that does not verify.  buf
 * holds a slice: walrus_sliver_file_buffer() bytes.
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

/* bytes of the largest slice of a sliver of this blob */
size_t walrus_sliver_file_buffer(const walrus_metadata_t *m);


#endif /* _WALRUS_SLIVER_FILE_H_INCLUDED_ */
