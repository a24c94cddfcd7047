/*
 * Gateway read path: HTTP semantics (ETag and 304, Range and 416, HEAD,
 * byte-range endpoint, content type, disposition, caching, CORS) and the
 * blob status endpoint.
 */

#include <ngx_walrus_read.h>
#include <walrus_base64.h>
#include <walrus_http.h>


static ngx_int_t ngx_walrus_read_status(ngx_walrus_read_t *ctx);
static ngx_int_t ngx_walrus_read_byte_range(ngx_walrus_read_t *ctx);
static ngx_int_t ngx_walrus_read_range(ngx_walrus_read_t *ctx);
static ngx_uint_t ngx_walrus_etag_matches(ngx_walrus_read_t *ctx,
    ngx_str_t *value, ngx_uint_t weak);
static ngx_int_t ngx_walrus_read_headers(ngx_walrus_read_t *ctx);
static ngx_int_t ngx_walrus_read_disposition(ngx_walrus_read_t *ctx);


#define NGX_WALRUS_STATUS_JSON                                               \
    "{\"blobId\":\"%s\",\"size\":%uL,\"segmentSize\":%uD,\"segments\":%uL,"  \
    "\"nShards\":%ud,\"encodingType\":\"%s\",\"certified\":true,"            \
    "\"certificate\":{\"epoch\":%uD,"

/* the values of NGX_WALRUS_STATUS_JSON at their longest */
#define NGX_WALRUS_STATUS_VALUES                                             \
    (WALRUS_BLOB_ID_TEXT_LEN + 2 * NGX_INT64_LEN + 3 * NGX_INT32_LEN         \
     + sizeof(WALRUS_ENCODING_NAME))


ngx_int_t
ngx_walrus_read_prepare(ngx_walrus_read_t *ctx)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = ctx->request;

    if (ctx->route.kind == NGX_WALRUS_ROUTE_STATUS) {
        return ngx_walrus_read_status(ctx);
    }

    /*
     * If-Match first, by strong comparison (RFC 9110 13.1.1, 13.2.2): a
     * client that asks for another version of the blob than this one
     * gets none of it
     */

    if (r->headers_in.if_match != NULL
        && !ngx_walrus_etag_matches(ctx, &r->headers_in.if_match->value, 0))
    {
        return ngx_walrus_send_error(r, NGX_HTTP_PRECONDITION_FAILED,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "PRECONDITION_FAILED",
                                     "If-Match does not name this blob's "
                                     "ETag \"%s\"", ctx->route.id_text);
    }

    if (r->headers_in.if_none_match != NULL
        && ngx_walrus_etag_matches(ctx, &r->headers_in.if_none_match->value,
                                   1))
    {
        if (ngx_walrus_read_headers(ctx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        r->headers_out.status = NGX_HTTP_NOT_MODIFIED;
        r->header_only = 1;
        return ngx_http_send_header(r);
    }

    ctx->start = 0;
    ctx->end = ctx->meta.length ? ctx->meta.length - 1 : 0;

    /* NGX_DECLINED: the bytes start..end are to be sent */

    rc = ctx->route.kind == NGX_WALRUS_ROUTE_BYTE_RANGE
         ? ngx_walrus_read_byte_range(ctx) : ngx_walrus_read_range(ctx);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (r->method == NGX_HTTP_HEAD || ctx->meta.length == 0) {
        /* HEAD, or an empty blob: nothing to fetch */
        rc = ngx_walrus_read_send_header(ctx, NULL);

        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            return rc;
        }

        return ngx_http_send_special(r, NGX_HTTP_LAST);
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_walrus_read_byte_range(ngx_walrus_read_t *ctx)
{
    ngx_str_t            value;
    walrus_range_t       range;
    ngx_http_request_t  *r;
    off_t                start, length;

    r = ctx->request;
    start = -1;
    length = -1;

    if (ngx_http_arg(r, (u_char *) "start", 5, &value) == NGX_OK) {
        start = ngx_atoof(value.data, value.len);
    }

    if (ngx_http_arg(r, (u_char *) "length", 6, &value) == NGX_OK) {
        length = ngx_atoof(value.data, value.len);
    }

    if (start < 0 || length < 0
        || walrus_byte_range_query(start, length, ctx->meta.length, &range)
           != WALRUS_OK)
    {
        return ngx_walrus_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "INVALID_BYTE_RANGE",
                                     "start and length must give a "
                                     "non-empty range inside the %uL bytes "
                                     "of the blob", ctx->meta.length);
    }

    ctx->start = range.start;
    ctx->end = range.end;

    return NGX_DECLINED;
}


/* Range and If-Range (RFC 9110 sections 14 and 13.1.5) */

static ngx_int_t
ngx_walrus_read_range(ngx_walrus_read_t *ctx)
{
    int                  rc;
    u_char              *p;
    walrus_range_t       range;
    ngx_http_request_t  *r;

    r = ctx->request;

    if (r->headers_in.range == NULL
        || (r->headers_in.if_range != NULL
            && !ngx_walrus_etag_matches(ctx, &r->headers_in.if_range->value,
                                        0)))
    {
        return NGX_DECLINED;
    }

    rc = walrus_range_parse((char *) r->headers_in.range->value.data,
                            r->headers_in.range->value.len, ctx->meta.length,
                            &range);

    if (rc == WALRUS_RANGE_NONE) {
        return NGX_DECLINED;
    }

    if (rc == WALRUS_RANGE_UNSATISFIABLE) {
        p = ngx_pnalloc(r->pool, sizeof("bytes */") - 1 + NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_walrus_add_header(r, "Content-Range", p,
                                  ngx_sprintf(p, "bytes */%uL",
                                              ctx->meta.length) - p)
            == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_walrus_send_error(r, NGX_HTTP_RANGE_NOT_SATISFIABLE,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "RANGE_NOT_SATISFIABLE",
                                     "the range is outside the %uL bytes of "
                                     "the blob", ctx->meta.length);
    }

    ctx->start = range.start;
    ctx->end = range.end;
    ctx->partial = 1;

    return NGX_DECLINED;
}


/* the quoted blob ID, a list of them, or "*" (W/ only where weak is 1) */

static ngx_uint_t
ngx_walrus_etag_matches(ngx_walrus_read_t *ctx, ngx_str_t *value,
    ngx_uint_t weak)
{
    u_char  tag[WALRUS_BLOB_ID_TEXT_LEN + 2];

    tag[0] = '"';
    ngx_memcpy(tag + 1, ctx->route.id_text, WALRUS_BLOB_ID_TEXT_LEN);
    tag[WALRUS_BLOB_ID_TEXT_LEN + 1] = '"';

    return ngx_walrus_etag_match(value, tag, sizeof(tag), weak);
}


/* an entity tag `tag` (quoted) in a list of them, or "*" */

ngx_uint_t
ngx_walrus_etag_match(ngx_str_t *value, u_char *tag, size_t len,
    ngx_uint_t weak)
{
    u_char  *p, *last;

    p = value->data;
    last = p + value->len;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        if (p < last && *p == '*') {
            return 1;
        }

        if (weak && last - p > 2 && p[0] == 'W' && p[1] == '/') {
            p += 2;
        }

        if ((size_t) (last - p) >= len && ngx_strncmp(p, tag, len) == 0
            && (p + len == last || p[len] == ',' || p[len] == ' '
                || p[len] == '\t'))
        {
            return 1;
        }

        while (p < last && *p != ',') {
            p++;
        }
    }

    return 0;
}


/* what every answer about a certified blob carries */

static ngx_int_t
ngx_walrus_read_headers(ngx_walrus_read_t *ctx)
{
    u_char              *p;
    ngx_table_elt_t     *etag;
    ngx_http_request_t  *r;

    r = ctx->request;

    p = ngx_pnalloc(r->pool, WALRUS_BLOB_ID_TEXT_LEN + 2);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p[0] = '"';
    ngx_memcpy(p + 1, ctx->route.id_text, WALRUS_BLOB_ID_TEXT_LEN);
    p[WALRUS_BLOB_ID_TEXT_LEN + 1] = '"';

    etag = ngx_walrus_add_header(r, "ETag", p, WALRUS_BLOB_ID_TEXT_LEN + 2);
    if (etag == NULL) {
        return NGX_ERROR;
    }

    r->headers_out.etag = etag;
    r->disable_not_modified = 1;

    if (ngx_walrus_lifetime_cache_control(ctx) != NGX_OK
        || ngx_walrus_header(r, "Accept-Ranges", "bytes") == NULL
        || ngx_walrus_header(r, "X-Content-Type-Options", "nosniff")
           == NULL
        || ngx_walrus_header(r, "Access-Control-Expose-Headers",
                             "ETag, Content-Range, Content-Length, "
                             "Accept-Ranges") == NULL)
    {
        return NGX_ERROR;
    }

    /* the name Walrus clients look for on the streaming route */

    if (ctx->route.stream
        && ngx_walrus_header(r, "X-Walrus-Streaming", "true") == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a blob proven inconsistent, whatever the range, method or endpoint */

ngx_int_t
ngx_walrus_read_inconsistent(ngx_walrus_read_t *ctx)
{
    return ngx_walrus_send_error(ctx->request, NGX_WALRUS_HTTP_INCONSISTENT,
                                 NGX_WALRUS_DOMAIN_GATEWAY,
                                 "INCONSISTENT_BLOB",
                                 "blob %s was encoded inconsistently and "
                                 "cannot be served", ctx->route.id_text);
}


const char *
ngx_walrus_read_sniff(const u_char *first, size_t len)
{
    return walrus_sniff_content_type(first, ngx_min(len, WALRUS_SNIFF_LEN));
}


ngx_int_t
ngx_walrus_read_send_header(ngx_walrus_read_t *ctx, const char *type)
{
    u_char              *p;
    ngx_http_request_t  *r;

    r = ctx->request;

    /* only a success is cacheable for ever: errors carry none of this */

    if (ngx_walrus_read_headers(ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    r->headers_out.status = ctx->partial ? NGX_HTTP_PARTIAL_CONTENT
                                         : NGX_HTTP_OK;
    r->headers_out.content_length_n = ctx->meta.length
                                      ? ctx->end - ctx->start + 1 : 0;

    if (ctx->partial) {
        p = ngx_pnalloc(r->pool, sizeof("bytes -/") - 1 + 3 * NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (ngx_walrus_add_header(r, "Content-Range", p,
                                  ngx_sprintf(p, "bytes %uL-%uL/%uL",
                                              ctx->start, ctx->end,
                                              ctx->meta.length) - p)
            == NULL)
        {
            return NGX_ERROR;
        }
    }

    /*
     * The type is sniffed from the verified first bytes of the blob.  A
     * response that starts elsewhere, or a HEAD, does not have them: it
     * gets the type remembered from an earlier read or the upload, if any.
     */

    if (type == NULL) {
        type = ctx->type;
    }

    if (type == NULL && r->method != NGX_HTTP_HEAD) {
        type = "application/octet-stream";
    }

    /* a blob's own scripts never run with the gateway's origin */

    if (type != NULL
        && (ngx_strncmp(type, "text/html", 9) == 0
            || ngx_strncmp(type, "image/svg+xml", 13) == 0)
        && ngx_walrus_header(r, "Content-Security-Policy", "sandbox")
           == NULL)
    {
        return NGX_ERROR;
    }

    if (type != NULL) {
        r->headers_out.content_type.data = (u_char *) type;
        r->headers_out.content_type.len = ngx_strlen(type);
        r->headers_out.content_type_len = r->headers_out.content_type.len;
    }

    if ((ctx->filename.len || ctx->download)
        && ngx_walrus_read_disposition(ctx) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_send_header(r);
}


/* ?filename= (percent-encoded) and ?download=true */

static ngx_int_t
ngx_walrus_read_disposition(ngx_walrus_read_t *ctx)
{
    u_char              *name, *dst, *src, *p;
    size_t               n, size;
    ngx_http_request_t  *r;

    r = ctx->request;
    /* each byte of the name: once in filename="", up to 3 in filename* */
    size = sizeof("attachment; filename=\"\"; filename*=UTF-8''") - 1
           + 4 * ctx->filename.len;

    name = ngx_pnalloc(r->pool, ctx->filename.len + 1);
    p = ngx_pnalloc(r->pool, size);
    if (name == NULL || p == NULL) {
        return NGX_ERROR;
    }

    dst = name;
    src = ctx->filename.data;
    ngx_unescape_uri(&dst, &src, ctx->filename.len, NGX_UNESCAPE_URI);

    n = walrus_content_disposition((char *) name, dst - name, ctx->download,
                                   (char *) p, size);

    if (n == 0 && ctx->download) {
        n = ngx_sprintf(p, "attachment") - p;
    }

    if (n == 0) {
        return NGX_OK;
    }

    return ngx_walrus_add_header(r, "Content-Disposition", p, n) != NULL
           ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_walrus_read_status(ngx_walrus_read_t *ctx)
{
    u_char              *p;
    ngx_str_t            data;
    walrus_cert_t       *cert;
    ngx_http_request_t  *r;

    r = ctx->request;
    cert = ctx->cert;

    data.data = ngx_pnalloc(r->pool, sizeof(NGX_WALRUS_STATUS_JSON)
                                     + NGX_WALRUS_STATUS_VALUES
                                     + ngx_walrus_signers_json_len(
                                           ctx->history, cert)
                                     + sizeof("}}"));
    if (data.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(data.data, NGX_WALRUS_STATUS_JSON, ctx->route.id_text,
                    ctx->meta.length, ctx->meta.segment_size,
                    ctx->meta.nsegments, ctx->meta.params.n,
                    WALRUS_ENCODING_NAME, cert->epoch);
    p = ngx_walrus_signers_json(p, ctx->history, cert);
    p = ngx_cpymem(p, "}}", 2);
    data.len = p - data.data;

    return ngx_walrus_send_success(r, NGX_HTTP_OK, &data);
}
