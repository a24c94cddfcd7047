/*
 * Stored sliver files checked against the metadata.
 */

#include <string.h>
#include <sys/stat.h>
#include <walrus_sliver_file.h>
#include <walrus_store.h>


int
walrus_sliver_file_verify(int fd, const walrus_metadata_t *m,
    walrus_codec_t *codec, uint8_t *buf, unsigned pair, walrus_axis_e axis)
{
    int          rc;
    uint64_t     g, count, bad;
    struct stat  st;

    /* a file longer than the sliver is not it either */

    if (fstat(fd, &st) != 0) {
        return WALRUS_EIO;
    }

    if ((uint64_t) st.st_size != walrus_sliver_file_size(m, axis)) {
        return WALRUS_ELENGTH;
    }

    for (g = 0; g < m->nsegments; g += count) {
        count = walrus_sliver_batch(m, axis, g);

        if (walrus_pread(fd, buf, count * walrus_sliver_slice_size(m, axis, g),
                         walrus_sliver_offset(m, axis, g))
            != 0)
        {
            return WALRUS_ELENGTH;
        }

        rc = walrus_sliver_batch_verify(codec, m, pair, axis, g, count, buf,
                                        &bad);
        if (rc != WALRUS_OK) {
            return rc;
        }
    }

    return WALRUS_OK;
}


uint64_t
walrus_sliver_batch(const walrus_metadata_t *m, walrus_axis_e axis,
    uint64_t seg)
{
    size_t    size, total;
    uint64_t  count;

    size = walrus_sliver_slice_size(m, axis, seg);
    total = size;

    /*
     * Slices of one symbol size (all but maybe the last segment's) until
     * their leaves fill the multi-buffer lanes
     */

    for (count = 1;
         seg + count < m->nsegments
         && count * m->params.n < WALRUS_SLIVER_BATCH_LEAVES
         && total + size <= WALRUS_SLIVER_BATCH_BYTES
         && walrus_sliver_slice_size(m, axis, seg + count) == size;
         count++)
    {
        total += size;
    }

    return count;
}


int
walrus_sliver_batch_verify(walrus_codec_t *codec,
    const walrus_metadata_t *m, unsigned pair, walrus_axis_e axis,
    uint64_t seg, uint64_t count, uint8_t *buf, uint64_t *bad)
{
    int        rc;
    size_t     size, sym;
    uint8_t   *slivers[WALRUS_SLIVER_BATCH_LEAVES],
               hashes[WALRUS_SLIVER_BATCH_LEAVES * WALRUS_HASH_LEN];
    uint64_t   j;

    *bad = seg;

    if (pair >= m->params.n || count == 0
        || count > WALRUS_SLIVER_BATCH_LEAVES || seg >= m->nsegments
        || count > m->nsegments - seg)
    {
        return WALRUS_EINVAL;
    }

    size = walrus_sliver_slice_size(m, axis, seg);
    sym = walrus_symbol_size(&m->params,
                             walrus_segment_length(m->length,
                                                   m->segment_size, seg));

    for (j = 0; j < count; j++) {
        if (walrus_sliver_slice_size(m, axis, seg + j) != size) {
            return WALRUS_EINVAL;
        }

        slivers[j] = buf + j * size;
    }

    rc = walrus_slivers_hash(codec, axis, sym, slivers, count, hashes);
    if (rc != WALRUS_OK) {
        return rc;
    }

    for (j = 0; j < count; j++) {
        if (memcmp(hashes + j * WALRUS_HASH_LEN,
                   walrus_metadata_segment(m, seg + j)
                   + (size_t) pair * WALRUS_PAIR_HASH_LEN
                   + (axis == WALRUS_PRIMARY ? 0 : WALRUS_HASH_LEN),
                   WALRUS_HASH_LEN)
            != 0)
        {
            *bad = seg + j;
            return WALRUS_EHASH;
        }
    }

    return WALRUS_OK;
}


int
walrus_sliver_slice_verify(walrus_codec_t *codec, const walrus_metadata_t *m,
    unsigned pair, walrus_axis_e axis, uint64_t seg, const uint8_t *buf,
    size_t len)
{
    size_t          sym;
    unsigned        index;
    const uint8_t  *hash;

    if (pair >= m->params.n || seg >= m->nsegments) {
        return WALRUS_EINVAL;
    }

    index = axis == WALRUS_PRIMARY ? pair : m->params.n - 1 - pair;
    sym = walrus_symbol_size(&m->params,
                             walrus_segment_length(m->length,
                                                   m->segment_size, seg));
    hash = walrus_metadata_segment(m, seg) + pair * WALRUS_PAIR_HASH_LEN
           + (axis == WALRUS_PRIMARY ? 0 : WALRUS_HASH_LEN);

    return walrus_sliver_verify(codec, axis, index, sym, buf, len, hash);
}


size_t
walrus_sliver_slice_size(const walrus_metadata_t *m, walrus_axis_e axis,
    uint64_t seg)
{
    return walrus_sliver_size(&m->params, axis,
               walrus_symbol_size(&m->params,
                   walrus_segment_length(m->length, m->segment_size, seg)));
}


size_t
walrus_sliver_file_buffer(const walrus_metadata_t *m)
{
    size_t         size, most;
    walrus_axis_e  axis;

    /* the first segment's batches are the largest: full segments */

    most = 0;

    for (axis = WALRUS_PRIMARY; axis <= WALRUS_SECONDARY; axis++) {
        if (m->nsegments == 0) {
            break;
        }

        size = walrus_sliver_batch(m, axis, 0)
               * walrus_sliver_slice_size(m, axis, 0);
        most = size > most ? size : most;
    }

    return most;
}
