/*
 * SHA-256 through OpenSSL EVP and the Merkle trees built from it.
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
