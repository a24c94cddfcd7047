/*
 * SHA-256 and the Merkle trees built from it.  Batches of leaves go
 * through Intel's multi-buffer library (libipsec-mb) when it is built in,
 * the CPU runs it and the start-up self-test agrees with OpenSSL; anything
 * else, inner nodes and single leaves go through OpenSSL.
 *
 * Leaves are SHA-256(0x00 || data), inner nodes SHA-256(0x01 || l || r).
 * A level with an odd number of nodes is completed with a node of 32 zero
 * bytes, which is used as it is (not hashed).  A tree of one leaf has that
 * leaf's hash as its root.
 */

#ifndef _WALRUS_SHA256_H_INCLUDED_
#define _WALRUS_SHA256_H_INCLUDED_


#include <walrus_types.h>


typedef struct walrus_sha256_s  walrus_sha256_t;


walrus_sha256_t *walrus_sha256_create(void);
void walrus_sha256_destroy(walrus_sha256_t *h);

/* out = SHA-256(a || b); b may be NULL with blen 0 */
int walrus_sha256(walrus_sha256_t *h, const void *a, size_t alen,
    const void *b, size_t blen, uint8_t *out);

int walrus_merkle_leaf(walrus_sha256_t *h, const uint8_t *data, size_t len,
    uint8_t *out);

/*
 * Leaf hashes of count leaves of len bytes each: out + i * out_stride gets
 * SHA-256(0x00 || data[i]).  Multi-buffer SHA-256 has no incremental
 * update, so the prefix must sit in memory right before each leaf: the
 * byte data[i][-1] must be writable; it is set to 0x00 while the leaf is
 * hashed and restored before the call returns.  That byte may be the last
 * byte of the previous leaf of the list (contiguous symbols), never a byte
 * of any other leaf; the buffers must not be read by another thread during
 * the call.
 */
int walrus_merkle_leaves(walrus_sha256_t *h, uint8_t *const *data,
    size_t count, size_t len, uint8_t *out, size_t out_stride);

/*
 * The same for leaves the caller cannot write before (read only, or the
 * first byte of a buffer): through multi-buffer, each is copied after its
 * prefix into a staging area kept with the library's managers (at most
 * 2 MiB at a time, reused, so bounded memory and no fresh pages per call);
 * OpenSSL hashes them where they are.
 */
int walrus_merkle_leaves_copy(walrus_sha256_t *h, const uint8_t *const *data,
    size_t count, size_t len, uint8_t *out, size_t out_stride);

/*
 * The leaf engine of this process: the first call runs the self-test
 * (multi-buffer against OpenSSL on every leaf-size class, both lane
 * widths), which disables the multi-buffer path on any mismatch.  Safe to
 * call from any thread; later calls return the same answer.  Returns
 * WALRUS_OK when the multi-buffer path is on, WALRUS_ECRYPTO after a
 * mismatch, WALRUS_EINVAL when it is not available (not built in, CPU
 * features missing, WALRUS_SHA256=openssl in the environment).
 * WALRUS_SHA256=test-mismatch makes the self-test fail, for tests.
 */
int walrus_sha256_self_test(void);

/*
 * Prepares the multi-buffer managers of this process (as many pairs as
 * CPUs, each hashing a few leaves), so that a process forked after the
 * self-test (an nginx worker) pays for them when it starts, not in its
 * first requests: about 400 KB per pair, and some 4.5 MB of the library's
 * code (shared pages of the file, counted in RSS) run by their set-up.
 */
void walrus_sha256_warm_up(void);

/*
 * Frees the multi-buffer managers no thread is using (they are kept for
 * the next batch).  For code that unloads this library, such as an nginx
 * module whose cycle ends: the list that holds them goes away with it.
 */
void walrus_sha256_cleanup(void);

/* one line for logs: the engine and why, e.g. "multi-buffer avx512 ..." */
const char *walrus_sha256_engine(void);

/*
 * Batches of leaves the process hashed with OpenSSL because every pair of
 * multi-buffer managers it may have was busy (more threads hashing at
 * once than it keeps pairs for).
 */
uint64_t walrus_sha256_busy_fallbacks(void);

/*
 * Benchmarks and tests only, not thread safe: 0 sends every leaf through
 * OpenSSL, 1 restores what the self-test decided.
 */
void walrus_sha256_use_multibuffer(int on);

/*
 * Root over `count` leaf hashes found `stride` bytes apart; scratch holds
 * count * 32 bytes.
 */
int walrus_merkle_root(walrus_sha256_t *h, const uint8_t *leaves,
    size_t count, size_t stride, uint8_t *scratch, uint8_t *root);

/* bytes of a proof in a tree of `count` leaves: 32 per level */
size_t walrus_merkle_proof_size(size_t count);

int walrus_merkle_proof(walrus_sha256_t *h, const uint8_t *leaves,
    size_t count, size_t stride, size_t index, uint8_t *scratch,
    uint8_t *proof);

/*
 * Segment root: the tree over the leaves SHA-256(0x00 || primary hash ||
 * secondary hash) of the n sliver pairs.  leaves and scratch hold n * 32
 * bytes each.
 */
int walrus_merkle_pairs_root(walrus_sha256_t *h, const uint8_t *pair_hashes,
    unsigned n, uint8_t *leaves, uint8_t *scratch, uint8_t *root);

/* WALRUS_OK when leaf `index` of `count` hashes up to `root` */
int walrus_merkle_verify(walrus_sha256_t *h, const uint8_t *leaf,
    size_t index, size_t count, const uint8_t *proof, const uint8_t *root);


#endif /* _WALRUS_SHA256_H_INCLUDED_ */
