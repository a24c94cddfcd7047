/*
 * Blob metadata: wire form, strict parsing, blob IDs and sliver layout.
 */

#include <stdlib.h>
#include <string.h>
#include <walrus_metadata.h>
#include <walrus_base64.h>
#include <walrus_codec.h>
#include <walrus_sha256.h>


static void walrus_metadata_header(const walrus_metadata_t *m, uint8_t *out);


int
walrus_metadata_init(walrus_metadata_t *m, unsigned n,
    uint32_t segment_size, uint64_t length)
{
    memset(m, 0, sizeof(walrus_metadata_t));

    if (walrus_params_init(&m->params, n) != WALRUS_OK
        || segment_size < WALRUS_MIN_SEGMENT_SIZE
        || segment_size > WALRUS_MAX_SEGMENT_SIZE
        || length > WALRUS_MAX_BLOB_SIZE)
    {
        return WALRUS_EINVAL;
    }

    m->segment_size = segment_size;
    m->length = length;
    m->nsegments = walrus_segment_count(length, segment_size);

    m->hashes = calloc(m->nsegments, (size_t) n * WALRUS_PAIR_HASH_LEN);
    if (m->hashes == NULL) {
        return WALRUS_ENOMEM;
    }

    return WALRUS_OK;
}


void
walrus_metadata_free(walrus_metadata_t *m)
{
    free(m->hashes);
    m->hashes = NULL;
}


uint8_t *
walrus_metadata_segment(const walrus_metadata_t *m, uint64_t seg)
{
    return m->hashes + seg * m->params.n * WALRUS_PAIR_HASH_LEN;
}


size_t
walrus_metadata_size(const walrus_metadata_t *m)
{
    return WALRUS_METADATA_HEADER_LEN
           + m->nsegments * m->params.n * WALRUS_PAIR_HASH_LEN;
}


uint64_t
walrus_get_le(const uint8_t *p, unsigned len)
{
    uint64_t  v;

    v = 0;

    while (len--) {
        v = v << 8 | p[len];
    }

    return v;
}


void
walrus_put_le(uint8_t *p, uint64_t v, unsigned len)
{
    unsigned  i;

    for (i = 0; i < len; i++) {
        p[i] = (uint8_t) (v >> (8 * i));
    }
}


static void
walrus_metadata_header(const walrus_metadata_t *m, uint8_t *out)
{
    out[0] = WALRUS_FORMAT_VERSION;
    out[1] = WALRUS_ENCODING_RS2_GF8;
    walrus_put_le(out + 2, m->params.n, 2);
    walrus_put_le(out + 4, m->segment_size, 4);
    walrus_put_le(out + 8, m->length, 8);
}


void
walrus_metadata_serialize(const walrus_metadata_t *m, uint8_t *out)
{
    walrus_metadata_header(m, out);
    memcpy(out + WALRUS_METADATA_HEADER_LEN, m->hashes,
           walrus_metadata_size(m) - WALRUS_METADATA_HEADER_LEN);
}


int
walrus_metadata_parse(walrus_metadata_t *m, const uint8_t *buf, size_t len)
{
    int       rc;
    uint64_t  length, body;
    uint32_t  segment_size;
    unsigned  n;

    memset(m, 0, sizeof(walrus_metadata_t));

    if (len < WALRUS_METADATA_HEADER_LEN
        || buf[0] != WALRUS_FORMAT_VERSION
        || buf[1] != WALRUS_ENCODING_RS2_GF8)
    {
        return WALRUS_EFORMAT;
    }

    n = (unsigned) walrus_get_le(buf + 2, 2);
    segment_size = (uint32_t) walrus_get_le(buf + 4, 4);
    length = walrus_get_le(buf + 8, 8);

    if (n < WALRUS_MIN_SHARDS || n > WALRUS_MAX_SHARDS
        || segment_size < WALRUS_MIN_SEGMENT_SIZE
        || segment_size > WALRUS_MAX_SEGMENT_SIZE
        || length > WALRUS_MAX_BLOB_SIZE)
    {
        return WALRUS_EFORMAT;
    }

    /* no overflow: segments <= 2^40 / 2^10, n * 64 < 2^14 */

    body = walrus_segment_count(length, segment_size) * n
           * WALRUS_PAIR_HASH_LEN;

    if (body != len - WALRUS_METADATA_HEADER_LEN) {
        return WALRUS_EFORMAT;
    }

    rc = walrus_metadata_init(m, n, segment_size, length);
    if (rc != WALRUS_OK) {
        walrus_metadata_free(m);
        return rc;
    }

    memcpy(m->hashes, buf + WALRUS_METADATA_HEADER_LEN, body);

    return WALRUS_OK;
}


int
walrus_metadata_blob_id(const walrus_metadata_t *m, uint8_t *id)
{
    int               rc;
    uint8_t          *roots, *scratch, *leaves, root[WALRUS_HASH_LEN];
    uint8_t           header[WALRUS_METADATA_HEADER_LEN];
    uint64_t          g;
    unsigned          n;
    walrus_sha256_t  *h;

    n = m->params.n;
    h = walrus_sha256_create();
    roots = malloc(m->nsegments * WALRUS_HASH_LEN);
    leaves = malloc((size_t) n * WALRUS_HASH_LEN);
    scratch = malloc((m->nsegments > n ? m->nsegments : n)
                     * WALRUS_HASH_LEN);

    if (h == NULL || roots == NULL || scratch == NULL || leaves == NULL) {
        rc = WALRUS_ENOMEM;
        goto done;
    }

    for (g = 0; g < m->nsegments; g++) {
        rc = walrus_merkle_pairs_root(h, walrus_metadata_segment(m, g), n,
                                      leaves, scratch, root);
        if (rc != WALRUS_OK) {
            goto done;
        }

        rc = walrus_merkle_leaf(h, root, WALRUS_HASH_LEN,
                                roots + g * WALRUS_HASH_LEN);
        if (rc != WALRUS_OK) {
            goto done;
        }
    }

    rc = walrus_merkle_root(h, roots, m->nsegments, WALRUS_HASH_LEN,
                            scratch, root);
    if (rc != WALRUS_OK) {
        goto done;
    }

    walrus_metadata_header(m, header);
    rc = walrus_sha256(h, header, sizeof(header), root, WALRUS_HASH_LEN, id);

done:

    walrus_sha256_destroy(h);
    free(roots);
    free(leaves);
    free(scratch);

    return rc;
}


int
walrus_metadata_check(const walrus_metadata_t *m, const uint8_t *id)
{
    int      rc;
    uint8_t  got[WALRUS_BLOB_ID_LEN];

    rc = walrus_metadata_blob_id(m, got);
    if (rc != WALRUS_OK) {
        return rc;
    }

    return memcmp(got, id, WALRUS_BLOB_ID_LEN) == 0 ? WALRUS_OK
                                                    : WALRUS_EBLOBID;
}


uint64_t
walrus_sliver_offset(const walrus_metadata_t *m, walrus_axis_e axis,
    uint64_t seg)
{
    size_t  sym;

    sym = walrus_symbol_size(&m->params, m->segment_size);

    return seg * walrus_sliver_size(&m->params, axis, sym);
}


uint64_t
walrus_sliver_file_size(const walrus_metadata_t *m, walrus_axis_e axis)
{
    uint64_t  last;
    size_t    sym;

    last = m->nsegments - 1;
    sym = walrus_symbol_size(&m->params,
                             walrus_segment_length(m->length,
                                                   m->segment_size, last));

    return walrus_sliver_offset(m, axis, last)
           + walrus_sliver_size(&m->params, axis, sym);
}


uint64_t
walrus_encoded_size(const walrus_metadata_t *m)
{
    uint64_t  n;

    n = m->params.n;

    return n * walrus_metadata_size(m)
           + n * walrus_sliver_file_size(m, WALRUS_PRIMARY)
           + n * walrus_sliver_file_size(m, WALRUS_SECONDARY);
}


void
walrus_blob_id_format(const uint8_t *id, char *text)
{
    walrus_base64url_encode(id, WALRUS_BLOB_ID_LEN, text);
    text[WALRUS_BLOB_ID_TEXT_LEN] = '\0';
}


int
walrus_blob_id_parse(const char *text, size_t len, uint8_t *id)
{
    if (len != WALRUS_BLOB_ID_TEXT_LEN) {
        return WALRUS_EFORMAT;
    }

    return walrus_base64url_decode(text, len, id, NULL);
}
