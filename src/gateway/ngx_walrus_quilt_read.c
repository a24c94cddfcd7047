/*
 * Reads of quilts: GET, HEAD /v1/blobs/by-quilt-id/{id}/{identifier},
 * /v1/blobs/by-quilt-patch-id/{patch_id} and /v1/quilts/{id}/patches.
 *
 * A quilt is a blob whose bytes are an index then the files
 * (docs/protocol.md 20), so a file is a byte range of the blob.  Every
 * byte comes through the verified blob read (ngx_walrus_read.c), in
 * subrequests GET /v1/blobs/{id} with a Range, one after the other: the
 * first 4 KiB (the index, when it fits), the rest of the index if not,
 * the first bytes of the file when its type must be sniffed, then the
 * file's range.  The blob read fetches only the segments of each range.
 * The index and the first bytes are captured in memory (bounded by
 * WALRUS_QUILT_MAX_INDEX); the file's bytes stream to the client, after
 * this request's own headers.
 */

#include <ngx_walrus_quilt.h>
#include <ngx_walrus_read.h>


static void ngx_walrus_quilt_cleanup(void *data);
static void ngx_walrus_quilt_step(ngx_http_request_t *r);
static ngx_int_t ngx_walrus_quilt_index(ngx_walrus_quilt_read_t *q);
static ngx_int_t ngx_walrus_quilt_sub_failed(ngx_walrus_quilt_read_t *q);
static ngx_int_t ngx_walrus_quilt_list(ngx_walrus_quilt_read_t *q);
static ngx_int_t ngx_walrus_quilt_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_output_body_filter_pt  ngx_walrus_quilt_next_body_filter;


ngx_int_t
ngx_walrus_quilt_filter_init(ngx_conf_t *cf)
{
    ngx_walrus_quilt_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_walrus_quilt_body_filter;

    return NGX_OK;
}


ngx_int_t
ngx_walrus_quilt_read(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    ngx_pool_cleanup_t       *cln;
    ngx_walrus_quilt_read_t  *q;

    q = ngx_pcalloc(r->pool, sizeof(ngx_walrus_quilt_read_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (q == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_walrus_quilt_cleanup;
    cln->data = q;

    q->request = r;
    q->route = *rt;
    ngx_walrus_gateway_ctx(r)->quilt = q;

    r->write_event_handler = ngx_walrus_quilt_step;
    r->read_event_handler = ngx_http_test_reading;

    if (ngx_walrus_quilt_sub(q, 0, NGX_WALRUS_QUILT_FIRST - 1,
                             NGX_WALRUS_QUILT_INDEX)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_walrus_quilt_cleanup(void *data)
{
    ngx_walrus_quilt_read_t  *q = data;

    walrus_quilt_free(&q->quilt);
}


/*
 * A subrequest to the blob read of bytes start..end of the quilt: only
 * Range is its own, no conditional of the client's applies to the blob
 */

ngx_int_t
ngx_walrus_quilt_sub(ngx_walrus_quilt_read_t *q, uint64_t start,
    uint64_t end, ngx_walrus_quilt_phase_e phase)
{
    u_char              *p;
    ngx_str_t            uri;
    ngx_table_elt_t     *range;
    ngx_http_request_t  *r, *sr;

    r = q->request;

    uri.data = ngx_pnalloc(r->pool, sizeof("/v1/blobs/") - 1
                                    + WALRUS_BLOB_ID_TEXT_LEN);
    range = ngx_pcalloc(r->pool, sizeof(ngx_table_elt_t));
    p = ngx_pnalloc(r->pool, sizeof("bytes=-") - 1 + 2 * NGX_INT64_LEN);
    if (uri.data == NULL || range == NULL || p == NULL) {
        return NGX_ERROR;
    }

    uri.len = ngx_sprintf(uri.data, "/v1/blobs/%s", q->route.id_text)
              - uri.data;

    if (ngx_http_subrequest(r, &uri, NULL, &sr, NULL,
                            NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&range->key, "Range");
    range->value.data = p;
    range->value.len = ngx_sprintf(p, "bytes=%uL-%uL", start, end) - p;
    range->hash = 1;

    sr->headers_in.range = range;
    sr->headers_in.if_range = NULL;
    sr->headers_in.if_match = NULL;
    sr->headers_in.if_none_match = NULL;
    sr->headers_in.if_modified_since = NULL;
    sr->headers_in.if_unmodified_since = NULL;

    q->sr = sr;
    q->phase = phase;
    q->len = 0;
    q->passed = 0;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: quilt %s: bytes %uL-%uL asked",
                   q->route.id_text, start, end);

    return NGX_OK;
}


/* the main request's write handler: after each subrequest */

static void
ngx_walrus_quilt_step(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_walrus_quilt_read_t  *q;

    q = ngx_walrus_gateway_ctx(r)->quilt;

    if (q->phase == NGX_WALRUS_QUILT_DONE || q->sr == NULL || !q->sr->done)
    {
        return;
    }

    switch (q->phase) {

    case NGX_WALRUS_QUILT_INDEX:
    case NGX_WALRUS_QUILT_INDEX_REST:
        rc = ngx_walrus_quilt_index(q);
        break;

    case NGX_WALRUS_QUILT_SNIFF:
        rc = q->sr->headers_out.status == NGX_HTTP_PARTIAL_CONTENT
             ? ngx_walrus_quilt_answer(q) : ngx_walrus_quilt_sub_failed(q);
        break;

    default: /* NGX_WALRUS_QUILT_PATCH */

        if (q->failed || q->passed != q->expected) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "walrus: quilt %s: file \"%*s\" broke off after "
                          "%O of %O bytes", q->route.id_text,
                          (size_t) q->patch->id_len, q->patch->id, q->passed,
                          q->expected);
            rc = NGX_ERROR;

        } else {
            rc = ngx_http_send_special(r, NGX_HTTP_LAST);
        }

        break;
    }

    if (rc == NGX_AGAIN) {
        /* another subrequest runs */
        return;
    }

    q->phase = NGX_WALRUS_QUILT_DONE;
    ngx_http_finalize_request(r, rc);
}


/* the index read: another read, or the answer */

static ngx_int_t
ngx_walrus_quilt_index(ngx_walrus_quilt_read_t *q)
{
    unsigned             npatches;
    uint32_t             index_len;
    ngx_walrus_read_t   *read;
    ngx_http_request_t  *r;

    r = q->request;

    if (q->sr->headers_out.status != NGX_HTTP_PARTIAL_CONTENT) {
        return ngx_walrus_quilt_sub_failed(q);
    }

    read = ngx_walrus_gateway_read(q->sr);
    if (read == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    q->blob_len = read->meta.length;

    if (walrus_quilt_header(q->buf, q->len, &npatches, &index_len)
        != WALRUS_OK)
    {
        goto not_quilt;
    }

    if (index_len > q->len) {
        if (q->phase == NGX_WALRUS_QUILT_INDEX_REST
            || index_len > q->blob_len)
        {
            goto not_quilt;
        }

        q->buf = NULL;
        q->size = index_len;

        return ngx_walrus_quilt_sub(q, 0, index_len - 1,
                                    NGX_WALRUS_QUILT_INDEX_REST) == NGX_OK
               ? NGX_AGAIN : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (walrus_quilt_parse(&q->quilt, q->buf, index_len, q->blob_len)
        != WALRUS_OK)
    {
        goto not_quilt;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: quilt %s: index of %uD bytes, %ud files",
                   q->route.id_text, index_len, q->quilt.npatches);

    return q->route.kind == NGX_WALRUS_ROUTE_QUILT_PATCHES
           ? ngx_walrus_quilt_list(q) : ngx_walrus_quilt_prepare(q);

not_quilt:

    return ngx_walrus_send_error(r, NGX_WALRUS_HTTP_INCONSISTENT,
                                 NGX_WALRUS_DOMAIN_GATEWAY, "NOT_A_QUILT",
                                 "blob %s is not a quilt", q->route.id_text);
}


/*
 * The blob read answered an error: the client gets it (an unknown quilt
 * is the blob's 404), or NOT_A_QUILT when the blob has no such bytes
 */

static ngx_int_t
ngx_walrus_quilt_sub_failed(ngx_walrus_quilt_read_t *q)
{
    ngx_uint_t           status;
    ngx_http_request_t  *r;

    r = q->request;
    status = q->sr->headers_out.status;

    if (status == NGX_HTTP_RANGE_NOT_SATISFIABLE) {
        return ngx_walrus_send_error(r, NGX_WALRUS_HTTP_INCONSISTENT,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "NOT_A_QUILT", "blob %s is not a "
                                     "quilt: it is empty", q->route.id_text);
    }

    if (status >= NGX_HTTP_BAD_REQUEST && q->len > 0 && q->buf[0] == '{') {
        if (r->method == NGX_HTTP_HEAD) {
            r->header_only = 1;
        }

        return ngx_walrus_send_memory(r, status, "application/json", q->buf,
                                      q->len);
    }

    return ngx_walrus_send_error(r, NGX_HTTP_BAD_GATEWAY,
                                 NGX_WALRUS_DOMAIN_GATEWAY, "INTERNAL_ERROR",
                                 "the read of quilt %s failed (%ui)",
                                 q->route.id_text, status);
}


/* GET /v1/quilts/{id}/patches */

static ngx_int_t
ngx_walrus_quilt_list(ngx_walrus_quilt_read_t *q)
{
    char                *json;
    size_t               len;
    u_char              *p;
    ngx_http_request_t  *r;

    r = q->request;

    json = walrus_quilt_patches_json(&q->quilt, q->route.blob_id);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_strlen(json);
    p = ngx_pnalloc(r->pool, len);
    if (p != NULL) {
        ngx_memcpy(p, json, len);
    }

    free(json);

    if (p == NULL || ngx_walrus_quilt_headers(q) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    return ngx_walrus_send_memory(r, NGX_HTTP_OK, "application/json", p,
                                  len);
}


/*
 * The output of a quilt read's subrequest: captured while the index or
 * first bytes are read (and an error answer of the blob read, which the
 * client may get), passed on while the file is streamed unless the blob
 * read failed: its error answer must not follow the file's headers.
 */

static ngx_int_t
ngx_walrus_quilt_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    size_t                     n;
    ngx_buf_t                 *b;
    ngx_chain_t               *cl;
    ngx_walrus_gateway_ctx_t  *pctx;
    ngx_walrus_quilt_read_t   *q;

    if (r == r->main || r->parent == NULL
        || (pctx = ngx_walrus_gateway_ctx(r->parent)) == NULL
        || (q = pctx->quilt) == NULL || q->sr != r)
    {
        return ngx_walrus_quilt_next_body_filter(r, in);
    }

    if (q->phase == NGX_WALRUS_QUILT_PATCH
        && r->headers_out.status == NGX_HTTP_PARTIAL_CONTENT)
    {
        for (cl = in; cl != NULL; cl = cl->next) {
            q->passed += ngx_buf_size(cl->buf);
        }

        return ngx_walrus_quilt_next_body_filter(r, in);
    }

    /* the file's headers are out: the rest of the answer is dropped */

    if (q->phase == NGX_WALRUS_QUILT_PATCH) {
        q->failed = 1;
        q->size = 0;
    }

    if (q->buf == NULL && q->phase != NGX_WALRUS_QUILT_PATCH) {
        q->size = ngx_max(q->size, NGX_WALRUS_QUILT_FIRST);
        q->buf = ngx_pnalloc(r->pool, q->size);
        if (q->buf == NULL) {
            return NGX_ERROR;
        }
    }

    for (cl = in; cl != NULL; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            if (q->size > 0) {
                n = ngx_min((size_t) (b->last - b->pos), q->size - q->len);
                ngx_memcpy(q->buf + q->len, b->pos, n);
                q->len += n;
            }

            b->pos = b->last;
        }

        if (b->in_file) {
            b->file_pos = b->file_last;
        }
    }

    return NGX_OK;
}
