/*
 * Test blobs for the unit tests and the test tools: random bytes encoded
 * in memory into the metadata and the sliver files of every pair, as
 * `walrusctl encode` writes them.  Functions are static inline so that a
 * file may use only some of them.
 */

#ifndef _WALRUS_TEST_BLOB_H_INCLUDED_
#define _WALRUS_TEST_BLOB_H_INCLUDED_


#include <stdlib.h>
#include <string.h>

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


#endif /* _WALRUS_TEST_BLOB_H_INCLUDED_ */
