/*
 * SHA-256 (OpenSSL EVP) and domain-separated Merkle trees.
 */

#include <string.h>
#include <stdlib.h>
#include <openssl/evp.h>
#include <walrus_sha256.h>


#define WALRUS_MERKLE_LEAF   0x00
#define WALRUS_MERKLE_INNER  0x01

/*
 * Long leaves are fed in pieces, each time prefetching the bytes
 * WALRUS_SHA_AHEAD further on: SHA-256 does not keep up with the hardware
 * prefetcher alone when its input comes from memory (about 1/3 slower).
 */
#define WALRUS_SHA_PIECE     1024
#define WALRUS_SHA_AHEAD     4096
#define WALRUS_CACHE_LINE    64


struct walrus_sha256_s {
    EVP_MD      *md;
    EVP_MD_CTX  *ctx;
    EVP_MD_CTX  *leaf;     /* already fed the leaf prefix */
    EVP_MD_CTX  *inner;    /* already fed the inner node prefix */
};


static int walrus_merkle_inner(walrus_sha256_t *h, const uint8_t *left,
    const uint8_t *right, uint8_t *out);
static int walrus_merkle_level(walrus_sha256_t *h, uint8_t *nodes,
    size_t count);
static void walrus_prefetch(const uint8_t *p, size_t len);


static const uint8_t  walrus_zero_node[WALRUS_HASH_LEN];


walrus_sha256_t *
walrus_sha256_create(void)
{
    walrus_sha256_t       *h;
    static const uint8_t   leaf = WALRUS_MERKLE_LEAF;
    static const uint8_t   inner = WALRUS_MERKLE_INNER;

    h = calloc(1, sizeof(walrus_sha256_t));
    if (h == NULL) {
        return NULL;
    }

    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->ctx = EVP_MD_CTX_new();
    h->leaf = EVP_MD_CTX_new();
    h->inner = EVP_MD_CTX_new();

    /*
     * Tree hashes start from a copy of a context that has seen the prefix:
     * cheaper than EVP_DigestInit_ex2() and one EVP_DigestUpdate() call.
     */

    if (h->md == NULL || h->ctx == NULL || h->leaf == NULL
        || h->inner == NULL
        || EVP_DigestInit_ex2(h->leaf, h->md, NULL) != 1
        || EVP_DigestUpdate(h->leaf, &leaf, 1) != 1
        || EVP_DigestInit_ex2(h->inner, h->md, NULL) != 1
        || EVP_DigestUpdate(h->inner, &inner, 1) != 1)
    {
        walrus_sha256_destroy(h);
        return NULL;
    }

    return h;
}


void
walrus_sha256_destroy(walrus_sha256_t *h)
{
    if (h == NULL) {
        return;
    }

    EVP_MD_CTX_free(h->ctx);
    EVP_MD_CTX_free(h->leaf);
    EVP_MD_CTX_free(h->inner);
    EVP_MD_free(h->md);
    free(h);
}


int
walrus_sha256(walrus_sha256_t *h, const void *a, size_t alen,
    const void *b, size_t blen, uint8_t *out)
{
    if (EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1
        || EVP_DigestUpdate(h->ctx, a, alen) != 1
        || (blen && EVP_DigestUpdate(h->ctx, b, blen) != 1)
        || EVP_DigestFinal_ex(h->ctx, out, NULL) != 1)
    {
        return WALRUS_ECRYPTO;
    }

    return WALRUS_OK;
}


static void
walrus_prefetch(const uint8_t *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i += WALRUS_CACHE_LINE) {
        __builtin_prefetch(p + i);
    }
}


int
walrus_merkle_leaf(walrus_sha256_t *h, const uint8_t *data, size_t len,
    uint8_t *out)
{
    size_t  off, piece, ahead;

    if (EVP_MD_CTX_copy_ex(h->ctx, h->leaf) != 1) {
        return WALRUS_ECRYPTO;
    }

    /*
     * The first WALRUS_SHA_AHEAD bytes at once, then one piece further on
     * before each piece is hashed; the last WALRUS_SHA_AHEAD bytes (all of
     * a short leaf) in one call.
     */

    walrus_prefetch(data, len < WALRUS_SHA_AHEAD ? len : WALRUS_SHA_AHEAD);

    for (off = 0; off < len; off += piece) {
        piece = len - off;

        if (piece > WALRUS_SHA_AHEAD) {
            ahead = piece - WALRUS_SHA_AHEAD;
            piece = WALRUS_SHA_PIECE;
            walrus_prefetch(data + off + WALRUS_SHA_AHEAD,
                            ahead < piece ? ahead : piece);
        }

        if (EVP_DigestUpdate(h->ctx, data + off, piece) != 1) {
            return WALRUS_ECRYPTO;
        }
    }

    if (EVP_DigestFinal_ex(h->ctx, out, NULL) != 1) {
        return WALRUS_ECRYPTO;
    }

    return WALRUS_OK;
}


static int
walrus_merkle_inner(walrus_sha256_t *h, const uint8_t *left,
    const uint8_t *right, uint8_t *out)
{
    uint8_t  buf[2 * WALRUS_HASH_LEN];

    memcpy(buf, left, WALRUS_HASH_LEN);
    memcpy(buf + WALRUS_HASH_LEN, right, WALRUS_HASH_LEN);

    if (EVP_MD_CTX_copy_ex(h->ctx, h->inner) != 1
        || EVP_DigestUpdate(h->ctx, buf, sizeof(buf)) != 1
        || EVP_DigestFinal_ex(h->ctx, out, NULL) != 1)
    {
        return WALRUS_ECRYPTO;
    }

    return WALRUS_OK;
}


/* replaces count nodes by the (count + 1) / 2 nodes of the next level */

static int
walrus_merkle_level(walrus_sha256_t *h, uint8_t *nodes, size_t count)
{
    int             rc;
    size_t          i;
    const uint8_t  *right;

    for (i = 0; 2 * i < count; i++) {
        right = 2 * i + 1 < count ? nodes + (2 * i + 1) * WALRUS_HASH_LEN
                                  : walrus_zero_node;

        rc = walrus_merkle_inner(h, nodes + 2 * i * WALRUS_HASH_LEN, right,
                                 nodes + i * WALRUS_HASH_LEN);
        if (rc != WALRUS_OK) {
            return rc;
        }
    }

    return WALRUS_OK;
}


int
walrus_merkle_root(walrus_sha256_t *h, const uint8_t *leaves,
    size_t count, size_t stride, uint8_t *scratch, uint8_t *root)
{
    int     rc;
    size_t  i;

    if (count == 0) {
        memset(root, 0, WALRUS_HASH_LEN);
        return WALRUS_OK;
    }

    for (i = 0; i < count; i++) {
        memcpy(scratch + i * WALRUS_HASH_LEN, leaves + i * stride,
               WALRUS_HASH_LEN);
    }

    while (count > 1) {
        rc = walrus_merkle_level(h, scratch, count);
        if (rc != WALRUS_OK) {
            return rc;
        }

        count = (count + 1) / 2;
    }

    memcpy(root, scratch, WALRUS_HASH_LEN);

    return WALRUS_OK;
}


size_t
walrus_merkle_proof_size(size_t count)
{
    size_t  levels;

    for (levels = 0; count > 1; levels++) {
        count = (count + 1) / 2;
    }

    return levels * WALRUS_HASH_LEN;
}


int
walrus_merkle_proof(walrus_sha256_t *h, const uint8_t *leaves,
    size_t count, size_t stride, size_t index, uint8_t *scratch,
    uint8_t *proof)
{
    int             rc;
    size_t          i, sibling;
    const uint8_t  *node;

    if (index >= count) {
        return WALRUS_EINVAL;
    }

    for (i = 0; i < count; i++) {
        memcpy(scratch + i * WALRUS_HASH_LEN, leaves + i * stride,
               WALRUS_HASH_LEN);
    }

    while (count > 1) {
        sibling = index ^ 1;
        node = sibling < count ? scratch + sibling * WALRUS_HASH_LEN
                               : walrus_zero_node;

        memcpy(proof, node, WALRUS_HASH_LEN);
        proof += WALRUS_HASH_LEN;

        rc = walrus_merkle_level(h, scratch, count);
        if (rc != WALRUS_OK) {
            return rc;
        }

        count = (count + 1) / 2;
        index /= 2;
    }

    return WALRUS_OK;
}


int
walrus_merkle_verify(walrus_sha256_t *h, const uint8_t *leaf,
    size_t index, size_t count, const uint8_t *proof, const uint8_t *root)
{
    int      rc;
    uint8_t  node[WALRUS_HASH_LEN];

    if (index >= count) {
        return WALRUS_EINVAL;
    }

    memcpy(node, leaf, WALRUS_HASH_LEN);

    while (count > 1) {
        if (index % 2 == 0) {
            rc = walrus_merkle_inner(h, node, proof, node);

        } else {
            rc = walrus_merkle_inner(h, proof, node, node);
        }

        if (rc != WALRUS_OK) {
            return rc;
        }

        proof += WALRUS_HASH_LEN;
        count = (count + 1) / 2;
        index /= 2;
    }

    return memcmp(node, root, WALRUS_HASH_LEN) == 0 ? WALRUS_OK
                                                    : WALRUS_EHASH;
}


int
walrus_merkle_pairs_root(walrus_sha256_t *h, const uint8_t *pair_hashes,
    unsigned n, uint8_t *leaves, uint8_t *scratch, uint8_t *root)
{
    int       rc;
    unsigned  k;

    for (k = 0; k < n; k++) {
        rc = walrus_merkle_leaf(h, pair_hashes + (size_t) k * 2
                                                 * WALRUS_HASH_LEN,
                                2 * WALRUS_HASH_LEN,
                                leaves + (size_t) k * WALRUS_HASH_LEN);
        if (rc != WALRUS_OK) {
            return rc;
        }
    }

    return walrus_merkle_root(h, leaves, n, WALRUS_HASH_LEN, scratch, root);
}
