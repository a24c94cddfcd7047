/*
 * Stored sliver files checked against the metadata.
 */

#include <sys/stat.h>
#include <walrus_sliver_file.h>
#include <walrus_store.h>


int
walrus_sliver_file_verify(int fd, const walrus_metadata_t *m,
    walrus_codec_t *codec, uint8_t *buf, unsigned pair, walrus_axis_e axis)
{
    int          rc;
    size_t       size;
    uint64_t     g;
    struct stat  st;

    /* a file longer than the sliver is not it either */

    if (fstat(fd, &st) != 0) {
        return WALRUS_EIO;
    }

    if ((uint64_t) st.st_size != walrus_sliver_file_size(m, axis)) {
        return WALRUS_ELENGTH;
    }

    for (g = 0; g < m->nsegments; g++) {
        size = walrus_sliver_slice_size(m, axis, g);

        if (walrus_pread(fd, buf, size, walrus_sliver_offset(m, axis, g))
            != 0)
        {
            return WALRUS_ELENGTH;
        }

        rc = walrus_sliver_slice_verify(codec, m, pair, axis, g, buf, size);
        if (rc != WALRUS_OK) {
            return rc;
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
    size_t  sym;

    sym = walrus_symbol_size(&m->params,
                             walrus_segment_length(m->length,
                                                   m->segment_size, 0));

    /* the primary slice (s symbols) is the larger */
    return walrus_sliver_size(&m->params, WALRUS_PRIMARY, sym);
}
