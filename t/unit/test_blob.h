/*
 * Test blobs for the unit tests and the test tools: random bytes encoded
 * in memory into the metadata and the sliver files of every pair, as
 * `walrusctl encode` writes them, and a node's audit answer on them.
 * Functions are static inline so that a file may use only some of them.
 */

#ifndef _WALRUS_TEST_BLOB_H_INCLUDED_
#define _WALRUS_TEST_BLOB_H_INCLUDED_


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <walrus_audit.h>
#include <walrus_codec.h>
#include <walrus_metadata.h>


/* what walrusctl encode writes: the sliver files of every pair */
typedef struct {
    walrus_metadata_t   meta;
    uint8_t             id[WALRUS_BLOB_ID_LEN];
    uint8_t            *files[2 * WALRUS_MAX_SHARDS];  /* pair * 2 + axis */
} store_t;


static uint32_t  test_blob_rng = 12345;


static inline uint8_t
next_byte(void)
{
    test_blob_rng = test_blob_rng * 1103515245 + 12345;
    return (uint8_t) (test_blob_rng >> 16);
}


static inline const uint8_t *
slice(const store_t *st, unsigned pair, walrus_axis_e axis, uint64_t g)
{
    return st->files[pair * 2 + axis]
           + walrus_sliver_offset(&st->meta, axis, g);
}


/*
 * Encodes len bytes; with `bad`, as t/tools/bad_parity does: primary
 * sliver p of segment 0 is garbage and the metadata commits to it.
 */

static inline int
store_encode(walrus_codec_t *c, uint64_t len, uint32_t segsize, int bad,
    store_t *st)
{
    size_t                  plen;
    uint8_t                *data, *sliver;
    uint64_t                g, i, glen;
    unsigned                k, n, p;
    walrus_segment_t        seg;
    const walrus_params_t  *wp;

    wp = walrus_codec_params(c);
    n = wp->n;
    p = wp->p;

    memset(st, 0, sizeof(store_t));

    if (walrus_metadata_init(&st->meta, n, segsize, len) != WALRUS_OK) {
        return -1;
    }

    data = malloc(len + 1);
    for (i = 0; i < len; i++) {
        data[i] = next_byte();
    }

    for (k = 0; k < 2 * n; k++) {
        st->files[k] = malloc(walrus_sliver_file_size(&st->meta,
                                                      k % 2 ? WALRUS_SECONDARY
                                                            : WALRUS_PRIMARY)
                              + 1);
    }

    walrus_segment_init(&seg);

    for (g = 0; g < st->meta.nsegments; g++) {
        glen = walrus_segment_length(len, segsize, g);
        walrus_segment_encode(c, data + g * segsize, glen, &seg);

        plen = walrus_sliver_size(wp, WALRUS_PRIMARY, seg.symbol_size);

        if (bad && g == 0) {
            sliver = (uint8_t *) walrus_segment_primary(c, &seg, p);

            for (i = 0; i < plen; i++) {
                sliver[i] = (uint8_t) (i * 131 + 17);
            }

            walrus_sliver_hash(c, WALRUS_PRIMARY, seg.symbol_size, sliver,
                               plen, seg.pair_hashes
                                     + p * WALRUS_PAIR_HASH_LEN);
        }

        memcpy(walrus_metadata_segment(&st->meta, g), seg.pair_hashes,
               n * WALRUS_PAIR_HASH_LEN);

        for (k = 0; k < n; k++) {
            memcpy((uint8_t *) slice(st, k, WALRUS_PRIMARY, g),
                   walrus_segment_primary(c, &seg, k), plen);
            walrus_segment_secondary(c, &seg, n - 1 - k,
                                     (uint8_t *) slice(st, k,
                                                       WALRUS_SECONDARY, g));
        }
    }

    walrus_segment_free(&seg);
    free(data);

    return walrus_metadata_blob_id(&st->meta, st->id);
}


static inline void
store_free(store_t *st)
{
    unsigned  k;

    for (k = 0; k < 2 * st->meta.params.n; k++) {
        free(st->files[k]);
    }

    walrus_metadata_free(&st->meta);
}

/*
 * An audit answer (protocol 17.3) of node `node` on the blobs sts[0..nst-1]
 * from their slices, signed with key: held[i] 0 says blob i is not held;
 * pos_seed gives the positions (the answer's seed, unless a wrong answer
 * is wanted), skip leaves out the last pairs of each blob.  malloc()ed.
 */

static inline uint8_t *
store_answer(walrus_codec_t *codec, EVP_PKEY *key,
    const walrus_committee_t *c, uint32_t epoch, uint32_t round,
    unsigned node, const uint8_t *seed, const uint8_t *pos_seed,
    const store_t *const *sts, unsigned nst, const int *held, unsigned skip,
    size_t *len)
{
    size_t                    size;
    uint8_t                  *buf, *p;
    unsigned                  i, j, np, pass;
    const uint8_t            *prim[WALRUS_MAX_SHARDS];
    const uint8_t            *sec[WALRUS_MAX_SHARDS];
    walrus_audit_position_t   pos[WALRUS_MAX_SHARDS];

    size = walrus_audit_answer_head_size() + WALRUS_SIG_LEN;
    buf = NULL;
    p = NULL;

    /* the sizes first, then the bytes */

    for (pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            buf = malloc(size);
            walrus_audit_answer_head(buf, epoch, round, node, seed, nst);
            p = buf + walrus_audit_answer_head_size();
        }

        for (i = 0; i < nst; i++) {
            np = walrus_audit_positions(c, &sts[i]->meta, pos_seed,
                                        sts[i]->id, node, pos);
            np = held[i] ? np - skip : 0;

            if (pass == 0) {
                size += walrus_audit_blob_size(&sts[i]->meta, pos, np);
                continue;
            }

            if (np == 0) {
                walrus_audit_blob_missing(sts[i]->id, p);
                p += walrus_audit_blob_size(NULL, NULL, 0);
                continue;
            }

            for (j = 0; j < np; j++) {
                prim[j] = slice(sts[i], pos[j].pair, WALRUS_PRIMARY,
                                pos[j].segment);
                sec[j] = slice(sts[i], pos[j].pair, WALRUS_SECONDARY,
                               pos[j].segment);
            }

            if (walrus_audit_blob_write(codec, &sts[i]->meta, sts[i]->id,
                                        pos, np, prim, sec, p)
                != WALRUS_OK)
            {
                printf("# an answer's entries cannot be written\n");
            }

            p += walrus_audit_blob_size(&sts[i]->meta, pos, np);
        }
    }

    walrus_audit_answer_sign(key, buf, size - WALRUS_SIG_LEN);
    *len = size;

    return buf;
}


#endif /* _WALRUS_TEST_BLOB_H_INCLUDED_ */
