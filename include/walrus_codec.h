/*
 * Two-dimensional Reed-Solomon coding of one segment (ISA-L, GF(2^8),
 * systematic Cauchy matrices).
 *
 * A segment fills a p x s matrix of symbols row by row.  Every column is
 * extended p -> n with the primary code and every row s -> n with the
 * secondary code, giving the n x n expanded matrix E.  Primary sliver i is
 * E[i][0..s-1], secondary sliver j is E[0..p-1][j].  The hash of a primary
 * sliver is the Merkle root over the row E[i][0..n-1], that of a secondary
 * sliver the root over the column E[0..n-1][j].
 *
 * A codec holds the coding tables and scratch space for one thread.
 */

#ifndef _WALRUS_CODEC_H_INCLUDED_
#define _WALRUS_CODEC_H_INCLUDED_


#include <walrus_types.h>


typedef struct walrus_codec_s  walrus_codec_t;


typedef struct {
    uint64_t   length;        /* bytes of the segment */
    size_t     symbol_size;
    uint8_t   *matrix;        /* n * n * symbol_size, row major */
    uint8_t   *leaves;        /* n * n leaf hashes, row major */
    uint8_t   *pair_hashes;   /* n * (primary hash || secondary hash) */
    uint8_t    root[WALRUS_HASH_LEN];
    size_t     capacity;      /* symbol size the buffers were sized for */
    uint8_t   *loan;          /* the caller's memory for the matrix */
    size_t     loan_size;
    unsigned   matrix_lent:1; /* matrix is in the loan */
} walrus_segment_t;


walrus_codec_t *walrus_codec_create(unsigned n);
void walrus_codec_destroy(walrus_codec_t *c);
const walrus_params_t *walrus_codec_params(const walrus_codec_t *c);

size_t walrus_sliver_size(const walrus_params_t *wp, walrus_axis_e axis,
    size_t symbol_size);

/* bytes `out` of walrus_segment_decode() must hold: p * s * symbol */
size_t walrus_segment_padded_size(const walrus_params_t *wp,
    uint64_t seg_len);

void walrus_segment_init(walrus_segment_t *seg);

/* frees what seg allocated and ends a loan (the memory stays the caller's) */
void walrus_segment_free(walrus_segment_t *seg);

/* bytes of memory for the matrix of a segment of seg_len bytes */
size_t walrus_segment_matrix_size(const walrus_params_t *wp,
    uint64_t seg_len);

/*
 * Lends seg size bytes at buf (the caller's until walrus_segment_free()
 * or another loan) for its matrix when it fits (walrus_segment_matrix_size()),
 * so that a caller recycling large buffers spares the allocation, and the
 * fresh pages, of each blob's encoding; a larger matrix is allocated.
 */
void walrus_segment_lend(walrus_segment_t *seg, uint8_t *buf, size_t size);

/* encode and hash one segment; buffers of seg are reused when large enough */
int walrus_segment_encode(walrus_codec_t *c, const uint8_t *data,
    uint64_t len, walrus_segment_t *seg);

/* primary sliver i: s * symbol_size bytes inside seg->matrix */
const uint8_t *walrus_segment_primary(const walrus_codec_t *c,
    const walrus_segment_t *seg, unsigned i);

/* copies secondary sliver j (p * symbol_size bytes) to out */
void walrus_segment_secondary(const walrus_codec_t *c,
    const walrus_segment_t *seg, unsigned j, uint8_t *out);

/* the hash of a sliver: the root over its n extended symbols */
int walrus_sliver_hash(walrus_codec_t *c, walrus_axis_e axis,
    size_t symbol_size, const uint8_t *sliver, size_t len, uint8_t *hash);

/*
 * The hashes of count slivers of one axis and symbol size at once
 * (count * 32 bytes to hashes), so that their leaves fill the multi-buffer
 * lanes together; sliver i is slivers[i], walrus_sliver_size() bytes.
 * The leaves are hashed where they are: each sliver and the byte before
 * it must be writable and read by no other thread during the call; that
 * byte may be the last byte of the previous sliver of the list (slivers
 * side by side, in order), never a byte of any other sliver of the list.
 * Every byte is as it was when the call returns.  Memory of the
 * codec grows to the batch: count * (n - k) symbols.
 */
int walrus_slivers_hash(walrus_codec_t *c, walrus_axis_e axis,
    size_t symbol_size, uint8_t *const *slivers, size_t count,
    uint8_t *hashes);

/*
 * Bytes of memory for the parity symbols of a batch of count slivers
 * (walrus_slivers_hash(), and decoding's check of up to p rows).
 */
size_t walrus_slivers_scratch(const walrus_params_t *wp, walrus_axis_e axis,
    size_t symbol_size, size_t count);

/*
 * Lends the codec size bytes at buf (64-byte aligned, the caller's until
 * the codec is destroyed or lent other memory) for the parity symbols of
 * batches that fit, so that a caller recycling large buffers spares the
 * allocation (and the fresh pages) of each batch; larger batches use the
 * codec's own memory.  NULL ends the loan.
 */
void walrus_codec_lend(walrus_codec_t *c, uint8_t *buf, size_t size);

/*
 * Checks sliver `index` of `axis` against its hash from the metadata.
 * WALRUS_ELENGTH when len is not the sliver size for symbol_size.
 */
int walrus_sliver_verify(walrus_codec_t *c, walrus_axis_e axis,
    unsigned index, size_t symbol_size, const uint8_t *sliver, size_t len,
    const uint8_t *expected);

/*
 * Rebuilds a segment of seg_len bytes into out (walrus_segment_padded_size
 * bytes) from the primary slivers present in primary[0..n-1] (NULL when
 * absent), which the caller has verified.  With all p systematic slivers
 * present this is a copy.  Systematic slivers that had to be decoded are
 * hashed against pair_hashes (n * 64 bytes of the metadata): a mismatch is
 * WALRUS_EINCONSISTENT.
 */
int walrus_segment_decode(walrus_codec_t *c, const uint8_t *pair_hashes,
    uint64_t seg_len, const uint8_t *const *primary, uint8_t *out);

/*
 * Recovery symbols.  The holder of primary sliver r gives E[r][j] to
 * rebuild secondary sliver j, with a proof against the hash of primary
 * sliver r; the holder of secondary sliver c gives E[i][c] to rebuild
 * primary sliver i, with a proof against the hash of secondary sliver c.
 * Proofs are walrus_merkle_proof_size(n) bytes.
 */
int walrus_recovery_symbol(walrus_codec_t *c, walrus_axis_e helper_axis,
    unsigned helper_index, size_t symbol_size, const uint8_t *helper_sliver,
    unsigned target_index, uint8_t *symbol, uint8_t *proof);

int walrus_recovery_symbol_verify(walrus_codec_t *c,
    walrus_axis_e helper_axis, unsigned helper_index, unsigned target_index,
    size_t symbol_size, const uint8_t *symbol, const uint8_t *proof,
    const uint8_t *helper_hash);

/*
 * Rebuilds sliver target_index of target_axis from verified recovery
 * symbols: symbols[k] is the symbol given by the holder of sliver k of the
 * other axis, NULL when absent.  A primary sliver needs s symbols, a
 * secondary one p.  Verify the result with walrus_sliver_verify().
 */
int walrus_sliver_rebuild(walrus_codec_t *c, walrus_axis_e target_axis,
    unsigned target_index, size_t symbol_size,
    const uint8_t *const *symbols, uint8_t *out);


#endif /* _WALRUS_CODEC_H_INCLUDED_ */
