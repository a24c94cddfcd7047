/*
 * Encoding of an uploaded blob: metadata, and the parity slivers into the
 * caller's temporary file, by parts in the thread pool.
 */

#include <ngx_walrus_encode.h>
#include <ngx_walrus_buffer.h>
#include <walrus_codec.h>
#include <walrus_http.h>


static int ngx_walrus_encode_start(ngx_walrus_encode_t *e,
    ngx_uint_t max_parts);
static int ngx_walrus_encode_buffers(ngx_walrus_encode_t *e, ngx_log_t *log);
static void ngx_walrus_encode_release(ngx_walrus_encode_t *e);
static void ngx_walrus_encode_part(void *data, ngx_log_t *log);
static void ngx_walrus_encode_finish(ngx_walrus_encode_t *e);
static int ngx_walrus_encode_write(int fd, const u_char *buf, size_t len,
    off_t off);
static void ngx_walrus_encode_error(char *error, int rc, const char *what);


ngx_int_t
ngx_walrus_encode_run(ngx_walrus_encode_t *e, ngx_http_request_t *r,
    ngx_thread_pool_t *tp, ngx_uint_t inline_encode)
{
    ngx_uint_t          i;
    ngx_thread_task_t  *task;

    ngx_walrus_thread_init(&e->thread, r, tp, NGX_WALRUS_THREAD_JOIN);

    if (ngx_walrus_encode_start(e, inline_encode ? 1 : ngx_ncpu)
        != WALRUS_OK
        || ngx_walrus_encode_buffers(e, r->connection->log) != WALRUS_OK)
    {
        return NGX_OK;
    }

    if (inline_encode) {
        ngx_walrus_encode_part(&e->parts[0], r->connection->log);
        return NGX_OK;
    }

    /* the parts of the blob are encoded at the same time */

    for (i = 0; i < e->nparts; i++) {
        task = ngx_walrus_thread_task(r->pool, ngx_walrus_encode_part,
                                      &e->parts[i]);

        if (task == NULL || ngx_walrus_thread_post(&e->thread, task) != NGX_OK)
        {
            e->overloaded = 1;
            break;
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: encoding %ui parts of %O bytes in threads",
                   e->thread.running, e->length);

    return e->thread.running > 0 ? NGX_AGAIN : NGX_OK;
}


ngx_int_t
ngx_walrus_encode_join(ngx_walrus_encode_t *e)
{
    if (e->thread.running > 0) {
        return NGX_AGAIN;
    }

    ngx_walrus_encode_release(e);

    if (e->overloaded) {
        return NGX_BUSY;
    }

    if (e->rc == WALRUS_OK) {
        ngx_walrus_encode_finish(e);
    }

    return e->rc == WALRUS_OK ? NGX_OK : NGX_ERROR;
}


/*
 * Sets up the metadata and splits the segments into at most max_parts
 * parts: WALRUS_OK, or e->rc and e->error.
 */

static int
ngx_walrus_encode_start(ngx_walrus_encode_t *e, ngx_uint_t max_parts)
{
    int                        rc;
    uint64_t                   g, per_part;
    ngx_uint_t                 i;
    ngx_walrus_encode_part_t  *part;

    e->metadata = NULL;
    e->type = NULL;
    e->nparts = 0;

    rc = walrus_params_init(&e->params, e->n);

    if (rc == WALRUS_OK) {
        rc = walrus_metadata_init(&e->meta, e->n, e->segment_size,
                                  e->length);
        e->meta_ready = rc == WALRUS_OK;
    }

    if (rc != WALRUS_OK) {
        e->rc = rc;
        ngx_walrus_encode_error(e->error, rc, "cannot set up the encoder");
        return rc;
    }

    e->primary_size = walrus_sliver_file_size(&e->meta, WALRUS_PRIMARY);
    e->secondary_size = walrus_sliver_file_size(&e->meta, WALRUS_SECONDARY);

    max_parts = ngx_max(1, ngx_min(max_parts, NGX_WALRUS_ENCODE_MAX_PARTS));
    max_parts = ngx_min(max_parts, e->meta.nsegments);
    per_part = (e->meta.nsegments + max_parts - 1) / max_parts;

    for (g = 0, i = 0; g < e->meta.nsegments; g += per_part, i++) {
        part = &e->parts[i];
        part->encode = e;
        part->first = g;
        part->last = ngx_min(g + per_part, e->meta.nsegments);
        part->rc = WALRUS_EINVAL;
        part->error[0] = '\0';
    }

    e->nparts = i;
    e->rc = WALRUS_OK;

    return WALRUS_OK;
}


/*
 * Each part's large buffers from the worker's spare ones: memory given
 * back to the kernel would cost a page fault and a page clear per 4 KiB
 * at every upload (the matrix alone is 3.3 times a segment at n = 7).
 */

static int
ngx_walrus_encode_buffers(ngx_walrus_encode_t *e, ngx_log_t *log)
{
    size_t                     sym;
    uint64_t                   len;
    ngx_uint_t                 i;
    ngx_walrus_encode_part_t  *part;

    /* the first segment is the largest: a small blob's is all of it */

    len = walrus_segment_length(e->meta.length, e->segment_size, 0);
    sym = walrus_symbol_size(&e->params, len);
    e->matrix_size = walrus_segment_matrix_size(&e->params, len);

    for (i = 0; i < e->nparts; i++) {
        part = &e->parts[i];

        part->matrix = ngx_walrus_buffer_alloc(e->matrix_size, log);
        part->data = ngx_walrus_buffer_alloc(len + 1, log);
        part->secondary = ngx_walrus_buffer_alloc(
                              walrus_sliver_size(&e->params,
                                                 WALRUS_SECONDARY, sym),
                              log);

        if (part->matrix == NULL || part->data == NULL
            || part->secondary == NULL)
        {
            ngx_walrus_encode_release(e);
            e->rc = WALRUS_ENOMEM;
            ngx_walrus_encode_error(e->error, WALRUS_ENOMEM, "out of memory");
            return WALRUS_ENOMEM;
        }
    }

    return WALRUS_OK;
}


static void
ngx_walrus_encode_release(ngx_walrus_encode_t *e)
{
    ngx_uint_t                 i;
    ngx_walrus_encode_part_t  *part;

    for (i = 0; i < e->nparts; i++) {
        part = &e->parts[i];

        ngx_walrus_buffer_free(part->matrix);
        ngx_walrus_buffer_free(part->data);
        ngx_walrus_buffer_free(part->secondary);
        part->matrix = NULL;
        part->data = NULL;
        part->secondary = NULL;
    }
}


/* one part's segments, in a pool thread: system calls and the core only */

static void
ngx_walrus_encode_part(void *data, ngx_log_t *log)
{
    int                        rc;
    u_char                    *seg_buf, *sec_buf;
    size_t                     plen, slen;
    uint64_t                   g, glen;
    unsigned                   k, n;
    walrus_codec_t            *codec;
    walrus_segment_t           seg;
    walrus_metadata_t         *m;
    ngx_walrus_body_t          bd;
    ngx_walrus_encode_t       *e;
    ngx_walrus_encode_part_t  *part;

    part = data;
    e = part->encode;
    m = &e->meta;
    n = e->n;

    walrus_segment_init(&seg);
    walrus_segment_lend(&seg, part->matrix, e->matrix_size);
    codec = walrus_codec_create(n);
    seg_buf = part->data;
    sec_buf = part->secondary;

    if (codec == NULL) {
        part->rc = WALRUS_ENOMEM;
        ngx_walrus_encode_error(part->error, WALRUS_ENOMEM, "out of memory");
        goto done;
    }

    ngx_walrus_body_init(&bd, e->body);

    if (ngx_walrus_body_seek(&bd, (off_t) (part->first * e->segment_size))
        != 0)
    {
        part->rc = WALRUS_EIO;
        ngx_walrus_encode_error(part->error, WALRUS_EIO,
                                "cannot read the body");
        goto done;
    }

    for (g = part->first; g < part->last; g++) {
        glen = walrus_segment_length(m->length, m->segment_size, g);

        if (ngx_walrus_body_read(&bd, seg_buf, glen) != 0) {
            part->rc = WALRUS_EIO;
            ngx_walrus_encode_error(part->error, WALRUS_EIO,
                                    "cannot read the body");
            goto done;
        }

        if (g == 0) {
            e->type = walrus_sniff_content_type(seg_buf, glen);
        }

        rc = walrus_segment_encode(codec, seg_buf, glen, &seg);
        if (rc != WALRUS_OK) {
            part->rc = rc;
            ngx_walrus_encode_error(part->error, rc, "encoding failed");
            goto done;
        }

        memcpy(walrus_metadata_segment(m, g), seg.pair_hashes,
               (size_t) n * WALRUS_PAIR_HASH_LEN);

        plen = walrus_sliver_size(&e->params, WALRUS_PRIMARY,
                                  seg.symbol_size);
        slen = walrus_sliver_size(&e->params, WALRUS_SECONDARY,
                                  seg.symbol_size);

        for (k = 0; k < n; k++) {
            rc = 0;

            if (!ngx_walrus_encode_systematic(e, k, WALRUS_PRIMARY)) {
                rc = ngx_walrus_encode_write(e->fd,
                         walrus_segment_primary(codec, &seg, k), plen,
                         ngx_walrus_encode_offset(e, k, WALRUS_PRIMARY)
                         + walrus_sliver_offset(m, WALRUS_PRIMARY, g));
            }

            if (rc == 0
                && !ngx_walrus_encode_systematic(e, k, WALRUS_SECONDARY))
            {
                walrus_segment_secondary(codec, &seg, n - 1 - k, sec_buf);
                rc = ngx_walrus_encode_write(e->fd, sec_buf, slen,
                         ngx_walrus_encode_offset(e, k, WALRUS_SECONDARY)
                         + walrus_sliver_offset(m, WALRUS_SECONDARY, g));
            }

            if (rc != 0) {
                part->rc = WALRUS_EIO;
                ngx_walrus_encode_error(part->error, WALRUS_EIO,
                                        "cannot write the temp file");
                goto done;
            }
        }
    }

    part->rc = WALRUS_OK;

done:

    walrus_segment_free(&seg);
    walrus_codec_destroy(codec);
}


/* after every part: the metadata bytes and the blob ID, or the error */

static void
ngx_walrus_encode_finish(ngx_walrus_encode_t *e)
{
    int         rc;
    ngx_uint_t  i;

    for (i = 0; i < e->nparts; i++) {
        if (e->parts[i].rc != WALRUS_OK) {
            e->rc = e->parts[i].rc;
            ngx_memcpy(e->error, e->parts[i].error, sizeof(e->error));
            goto failed;
        }
    }

    e->metadata_len = walrus_metadata_size(&e->meta);
    e->metadata = malloc(e->metadata_len);
    if (e->metadata == NULL) {
        e->rc = WALRUS_ENOMEM;
        ngx_walrus_encode_error(e->error, WALRUS_ENOMEM, "out of memory");
        goto failed;
    }

    walrus_metadata_serialize(&e->meta, e->metadata);

    rc = walrus_metadata_blob_id(&e->meta, e->blob_id);
    if (rc != WALRUS_OK) {
        e->rc = rc;
        ngx_walrus_encode_error(e->error, rc, "cannot compute the blob ID");
        goto failed;
    }

    walrus_blob_id_format(e->blob_id, e->id_text);
    e->encoded_size = walrus_encoded_size(&e->meta);
    e->rc = WALRUS_OK;

    return;

failed:

    ngx_walrus_encode_free(e);
}


static void
ngx_walrus_encode_error(char *error, int rc, const char *what)
{
    snprintf(error, NGX_WALRUS_ENCODE_ERROR_LEN, "%s: %s", what,
             walrus_strerror(rc));
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
    ngx_walrus_encode_release(e);

    free(e->metadata);
    e->metadata = NULL;

    if (e->meta_ready) {
        walrus_metadata_free(&e->meta);
        e->meta_ready = 0;
    }
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
