/*
 * Blob metadata and blob IDs.
 *
 * Wire form: a 16-byte header (format version u8, encoding type u8,
 * n u16 LE, segment size u32 LE, blob length u64 LE) followed, for every
 * segment and every sliver pair, by the primary and the secondary sliver
 * hash (64 bytes).  The blob ID is SHA-256 over the header and the Merkle
 * root over the segment roots.
 */

#ifndef _WALRUS_METADATA_H_INCLUDED_
#define _WALRUS_METADATA_H_INCLUDED_


#include <walrus_types.h>


#define WALRUS_METADATA_HEADER_LEN  16


typedef struct {
    walrus_params_t   params;
    uint32_t          segment_size;
    uint64_t          length;
    uint64_t          nsegments;
    uint8_t          *hashes;      /* nsegments * n * 64 bytes */
} walrus_metadata_t;


int walrus_metadata_init(walrus_metadata_t *m, unsigned n,
    uint32_t segment_size, uint64_t length);
void walrus_metadata_free(walrus_metadata_t *m);

/* the n * 64 bytes of pair hashes of segment seg */
uint8_t *walrus_metadata_segment(const walrus_metadata_t *m, uint64_t seg);

size_t walrus_metadata_size(const walrus_metadata_t *m);
void walrus_metadata_serialize(const walrus_metadata_t *m, uint8_t *out);

/*
 * Strict parse of untrusted bytes: the length must be exact and every
 * field in range.  On success m owns a copy of the hashes.
 */
int walrus_metadata_parse(walrus_metadata_t *m, const uint8_t *buf,
    size_t len);

/* the blob ID that the metadata commits to */
int walrus_metadata_blob_id(const walrus_metadata_t *m, uint8_t *id);

/* WALRUS_EBLOBID unless the metadata hashes to id */
int walrus_metadata_check(const walrus_metadata_t *m, const uint8_t *id);

/* byte offset and size of segment seg's slice of a sliver file */
uint64_t walrus_sliver_offset(const walrus_metadata_t *m, walrus_axis_e axis,
    uint64_t seg);
uint64_t walrus_sliver_file_size(const walrus_metadata_t *m,
    walrus_axis_e axis);

/* bytes stored over all nodes: n metadata copies and all slivers */
uint64_t walrus_encoded_size(const walrus_metadata_t *m);

/* little-endian integers of len bytes, as every wire form has them */
uint64_t walrus_get_le(const uint8_t *p, unsigned len);
void walrus_put_le(uint8_t *p, uint64_t v, unsigned len);

/* 43 characters and a NUL */
void walrus_blob_id_format(const uint8_t *id, char *text);

/* strict: exactly 43 URL-safe base64 characters, canonical */
int walrus_blob_id_parse(const char *text, size_t len, uint8_t *id);


#endif /* _WALRUS_METADATA_H_INCLUDED_ */
