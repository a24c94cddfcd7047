/*
 * Encoding of an uploaded blob: metadata, and the parity slivers into a
 * temporary file (thread safe).
 */

#include <ngx_walrus_encode.h>
#include <walrus_codec.h>
#include <walrus_metadata.h>


static int ngx_walrus_encode_tmpfile(ngx_walrus_encode_t *e);
static int ngx_walrus_encode_write(int fd, const u_char *buf, size_t len,
    off_t off);
static void ngx_walrus_encode_error(ngx_walrus_encode_t *e, int rc,
    const char *what);


void
ngx_walrus_encode(ngx_walrus_encode_t *e)
{
    int                 rc;
    u_char             *seg_buf, *sec_buf;
    size_t              sym0, plen, slen;
    uint64_t            g, glen;
    unsigned            k, n;
    walrus_codec_t     *codec;
    walrus_segment_t    seg;
    walrus_metadata_t   m;
    ngx_walrus_body_t   bd;
    const walrus_params_t  *wp;

    e->fd = -1;
    e->metadata = NULL;
    e->rc = WALRUS_EINVAL;
    n = e->n;

    walrus_segment_init(&seg);
    codec = walrus_codec_create(n);
    rc = walrus_metadata_init(&m, n, e->segment_size, e->length);

    if (rc == WALRUS_OK) {
        rc = walrus_params_init(&e->params, n);
    }

    if (codec == NULL || rc != WALRUS_OK) {
        ngx_walrus_encode_error(e, codec == NULL ? WALRUS_ENOMEM : rc,
                                "cannot set up the encoder");
        walrus_codec_destroy(codec);
        walrus_metadata_free(&m);
        return;
    }

    wp = walrus_codec_params(codec);
    sym0 = walrus_symbol_size(wp, e->segment_size);
    seg_buf = malloc(e->segment_size);
    sec_buf = malloc(walrus_sliver_size(wp, WALRUS_SECONDARY, sym0));

    e->primary_size = walrus_sliver_file_size(&m, WALRUS_PRIMARY);
    e->secondary_size = walrus_sliver_file_size(&m, WALRUS_SECONDARY);

    if (seg_buf == NULL || sec_buf == NULL) {
        ngx_walrus_encode_error(e, WALRUS_ENOMEM, "out of memory");
        goto done;
    }

    if (ngx_walrus_encode_tmpfile(e) != 0) {
        ngx_walrus_encode_error(e, WALRUS_EIO, "cannot create a temp file");
        goto done;
    }

    ngx_walrus_body_init(&bd, e->body);

    for (g = 0; g < m.nsegments; g++) {
        glen = walrus_segment_length(m.length, m.segment_size, g);

        if (ngx_walrus_body_read(&bd, seg_buf, glen) != 0) {
            ngx_walrus_encode_error(e, WALRUS_EIO, "cannot read the body");
            goto done;
        }

        rc = walrus_segment_encode(codec, seg_buf, glen, &seg);
        if (rc != WALRUS_OK) {
            ngx_walrus_encode_error(e, rc, "encoding failed");
            goto done;
        }

        memcpy(walrus_metadata_segment(&m, g), seg.pair_hashes,
               (size_t) n * WALRUS_PAIR_HASH_LEN);

        plen = walrus_sliver_size(wp, WALRUS_PRIMARY, seg.symbol_size);
        slen = walrus_sliver_size(wp, WALRUS_SECONDARY, seg.symbol_size);

        for (k = 0; k < n; k++) {
            rc = 0;

            if (!ngx_walrus_encode_systematic(e, k, WALRUS_PRIMARY)) {
                rc = ngx_walrus_encode_write(e->fd,
                         walrus_segment_primary(codec, &seg, k), plen,
                         ngx_walrus_encode_offset(e, k, WALRUS_PRIMARY)
                         + walrus_sliver_offset(&m, WALRUS_PRIMARY, g));
            }

            if (rc == 0
                && !ngx_walrus_encode_systematic(e, k, WALRUS_SECONDARY))
            {
                walrus_segment_secondary(codec, &seg, n - 1 - k, sec_buf);
                rc = ngx_walrus_encode_write(e->fd, sec_buf, slen,
                         ngx_walrus_encode_offset(e, k, WALRUS_SECONDARY)
                         + walrus_sliver_offset(&m, WALRUS_SECONDARY, g));
            }

            if (rc != 0) {
                ngx_walrus_encode_error(e, WALRUS_EIO,
                                        "cannot write the temp file");
                goto done;
            }
        }
    }

    e->metadata_len = walrus_metadata_size(&m);
    e->metadata = malloc(e->metadata_len);
    if (e->metadata == NULL) {
        ngx_walrus_encode_error(e, WALRUS_ENOMEM, "out of memory");
        goto done;
    }

    walrus_metadata_serialize(&m, e->metadata);

    rc = walrus_metadata_blob_id(&m, e->blob_id);
    if (rc != WALRUS_OK) {
        ngx_walrus_encode_error(e, rc, "cannot compute the blob ID");
        goto done;
    }

    walrus_blob_id_format(e->blob_id, e->id_text);
    e->encoded_size = walrus_encoded_size(&m);
    e->rc = WALRUS_OK;

done:

    if (e->rc != WALRUS_OK) {
        ngx_walrus_encode_free(e);
    }

    free(seg_buf);
    free(sec_buf);
    walrus_segment_free(&seg);
    walrus_codec_destroy(codec);
    walrus_metadata_free(&m);
}


static void
ngx_walrus_encode_error(ngx_walrus_encode_t *e, int rc, const char *what)
{
    e->rc = rc;
    snprintf(e->error, sizeof(e->error), "%s: %s", what,
             walrus_strerror(rc));
}


/* an unlinked file: nothing is left behind whatever happens */

static int
ngx_walrus_encode_tmpfile(ngx_walrus_encode_t *e)
{
    char  path[1024];

    if (snprintf(path, sizeof(path), "%s/walrus.XXXXXX", e->temp_dir)
        >= (int) sizeof(path))
    {
        return -1;
    }

    e->fd = mkostemp(path, O_CLOEXEC);
    if (e->fd == -1) {
        return -1;
    }

    unlink(path);

    return 0;
}


static int
ngx_walrus_encode_write(int fd, const u_char *buf, size_t len, off_t off)
{
    ssize_t  n;

    while (len > 0) {
        n = pwrite(fd, buf, len, off);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            return -1;
        }

        buf += n;
        len -= n;
        off += n;
    }

    return 0;
}


void
ngx_walrus_encode_free(ngx_walrus_encode_t *e)
{
    if (e->fd != -1) {
        close(e->fd);
        e->fd = -1;
    }

    free(e->metadata);
    e->metadata = NULL;
}


ngx_uint_t
ngx_walrus_encode_systematic(ngx_walrus_encode_t *e, unsigned pair,
    walrus_axis_e axis)
{
    if (axis == WALRUS_PRIMARY) {
        return pair < e->params.p;
    }

    return e->n - 1 - pair < e->params.s;
}


/*
 * The file holds the parity primary slivers (pairs p..n-1), then the
 * parity secondary slivers (secondary n-1..s, pairs 0..n-1-s).
 */

off_t
ngx_walrus_encode_offset(ngx_walrus_encode_t *e, unsigned pair,
    walrus_axis_e axis)
{
    off_t  parity_primaries;

    if (axis == WALRUS_PRIMARY) {
        return (off_t) (pair - e->params.p) * e->primary_size;
    }

    parity_primaries = (off_t) (e->n - e->params.p) * e->primary_size;

    return parity_primaries + (off_t) pair * e->secondary_size;
}
