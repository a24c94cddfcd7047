/*
 * Reads of quilts: HTTP semantics of a file (its ETag, conditionals,
 * Range, type and headers), after the index is in
 * (ngx_walrus_quilt_read.c).
 */

#include <ngx_walrus_quilt.h>
#include <ngx_walrus_read.h>


static void ngx_walrus_quilt_type(ngx_walrus_quilt_read_t *q,
    ngx_str_t *type);


/* the file asked for, conditionals, Range; the first bytes to sniff */

ngx_int_t
ngx_walrus_quilt_prepare(ngx_walrus_quilt_read_t *q)
{
    int                  k, rc;
    u_char              *p;
    ngx_str_t            type;
    ngx_http_request_t  *r;

    r = q->request;

    if (q->route.kind == NGX_WALRUS_ROUTE_QUILT_FILE) {
        k = walrus_quilt_find(&q->quilt, q->route.identifier.data,
                              q->route.identifier.len);

    } else {
        k = q->route.patch < q->quilt.npatches ? (int) q->route.patch : -1;
    }

    if (k < 0) {
        return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "QUILT_PATCH_NOT_FOUND",
                                     "quilt %s has no such file",
                                     q->route.id_text);
    }

    q->number = k;
    q->patch = &q->quilt.patches[k];

    /* the ETag: the patch ID, quoted */

    q->pid[0] = '"';
    walrus_quilt_patch_id_format(q->route.blob_id, q->number, q->pid + 1);
    q->pid[WALRUS_QUILT_PATCH_ID_TEXT_LEN + 1] = '"';

    if (r->headers_in.if_match != NULL
        && !ngx_walrus_etag_match(&r->headers_in.if_match->value,
                                  (u_char *) q->pid, sizeof(q->pid), 0))
    {
        return ngx_walrus_send_error(r, NGX_HTTP_PRECONDITION_FAILED,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "PRECONDITION_FAILED",
                                     "If-Match does not name this file's "
                                     "ETag %*s", sizeof(q->pid), q->pid);
    }

    if (r->headers_in.if_none_match != NULL
        && ngx_walrus_etag_match(&r->headers_in.if_none_match->value,
                                 (u_char *) q->pid, sizeof(q->pid), 1))
    {
        if (ngx_walrus_quilt_headers(q) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        r->headers_out.status = NGX_HTTP_NOT_MODIFIED;
        r->header_only = 1;
        return ngx_http_send_header(r);
    }

    q->range.start = 0;
    q->range.end = q->patch->length ? q->patch->length - 1 : 0;

    if (r->headers_in.range != NULL
        && (r->headers_in.if_range == NULL
            || ngx_walrus_etag_match(&r->headers_in.if_range->value,
                                     (u_char *) q->pid, sizeof(q->pid), 0)))
    {
        rc = walrus_range_parse((char *) r->headers_in.range->value.data,
                                r->headers_in.range->value.len,
                                q->patch->length, &q->range);

        if (rc == WALRUS_RANGE_UNSATISFIABLE) {
            p = ngx_pnalloc(r->pool, sizeof("bytes */") + NGX_INT64_LEN);
            if (p == NULL
                || ngx_walrus_add_header(r, "Content-Range", p,
                                         ngx_sprintf(p, "bytes */%uL",
                                                     q->patch->length) - p)
                   == NULL)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_walrus_send_error(r, NGX_HTTP_RANGE_NOT_SATISFIABLE,
                                         NGX_WALRUS_DOMAIN_GATEWAY,
                                         "RANGE_NOT_SATISFIABLE",
                                         "the range is outside the %uL "
                                         "bytes of the file",
                                         q->patch->length);
        }

        q->partial = rc == WALRUS_RANGE_OK;
    }

    ngx_walrus_quilt_type(q, &type);

    if (type.len > 0 || q->patch->length == 0) {
        return ngx_walrus_quilt_answer(q);
    }

    /* no type given: the file's first bytes (verified as all) say it */

    q->buf = NULL;
    q->size = ngx_min(q->patch->length, WALRUS_SNIFF_LEN);

    return ngx_walrus_quilt_sub(q, q->patch->offset,
                                q->patch->offset + q->size - 1,
                                NGX_WALRUS_QUILT_SNIFF) == NGX_OK
           ? NGX_AGAIN : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/* the headers, then the file's range streamed from the blob read */

ngx_int_t
ngx_walrus_quilt_answer(ngx_walrus_quilt_read_t *q)
{
    u_char              *p;
    ngx_int_t            rc;
    ngx_str_t            type;
    const char          *sniffed;
    ngx_http_request_t  *r;

    r = q->request;

    ngx_walrus_quilt_type(q, &type);

    if (type.len == 0) {
        sniffed = q->len > 0 ? ngx_walrus_read_sniff(q->buf, q->len)
                             : "application/octet-stream";
        type.data = (u_char *) sniffed;
        type.len = ngx_strlen(sniffed);
    }

    if (ngx_walrus_quilt_headers(q) != NGX_OK
        || ngx_walrus_add_header(r, "X-Quilt-Patch-Identifier",
                                 (u_char *) q->patch->id, q->patch->id_len)
           == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a file's own scripts never run with the gateway's origin */

    if (((type.len >= 9 && ngx_strncasecmp(type.data, (u_char *) "text/html",
                                           9) == 0)
         || (type.len >= 13
             && ngx_strncasecmp(type.data, (u_char *) "image/svg+xml", 13)
                == 0))
        && ngx_walrus_header(r, "Content-Security-Policy", "sandbox") == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.content_type = type;
    r->headers_out.content_type_len = type.len;
    r->headers_out.status = q->partial ? NGX_HTTP_PARTIAL_CONTENT
                                       : NGX_HTTP_OK;
    r->headers_out.content_length_n = q->patch->length
                                      ? q->range.end - q->range.start + 1
                                      : 0;

    if (q->partial) {
        p = ngx_pnalloc(r->pool, sizeof("bytes -/") + 3 * NGX_INT64_LEN);
        if (p == NULL
            || ngx_walrus_add_header(r, "Content-Range", p,
                                     ngx_sprintf(p, "bytes %uL-%uL/%uL",
                                                 q->range.start, q->range.end,
                                                 q->patch->length) - p)
               == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (q->patch->length == 0) {
        return ngx_http_send_special(r, NGX_HTTP_LAST);
    }

    q->expected = r->headers_out.content_length_n;

    return ngx_walrus_quilt_sub(q, q->patch->offset + q->range.start,
                                q->patch->offset + q->range.end,
                                NGX_WALRUS_QUILT_PATCH) == NGX_OK
           ? NGX_AGAIN : NGX_ERROR;
}


/*
 * What every answer about a file or the list carries: the blob's
 * Cache-Control (a quilt lives as its blob), and for a file its ETag
 */

ngx_int_t
ngx_walrus_quilt_headers(ngx_walrus_quilt_read_t *q)
{
    ngx_uint_t           i;
    ngx_list_part_t     *part;
    ngx_table_elt_t     *h, *etag;
    ngx_http_request_t  *r;

    r = q->request;

    part = &q->sr->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash != 0 && h[i].key.len == sizeof("Cache-Control") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Cache-Control",
                               h[i].key.len) == 0
            && ngx_walrus_add_header(r, "Cache-Control", h[i].value.data,
                                     h[i].value.len) == NULL)
        {
            return NGX_ERROR;
        }
    }

    if (q->patch != NULL) {
        etag = ngx_walrus_add_header(r, "ETag", (u_char *) q->pid,
                                     sizeof(q->pid));
        if (etag == NULL) {
            return NGX_ERROR;
        }

        r->headers_out.etag = etag;
    }

    r->disable_not_modified = 1;

    if (ngx_walrus_header(r, "Accept-Ranges", "bytes") == NULL
        || ngx_walrus_header(r, "X-Content-Type-Options", "nosniff") == NULL
        || ngx_walrus_header(r, "Access-Control-Expose-Headers",
                             "ETag, Content-Range, Content-Length, "
                             "Accept-Ranges, X-Quilt-Patch-Identifier")
           == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The file's type: its tag "content-type", else the type its part had,
 * else "" when it must be sniffed (application/octet-stream is what
 * clients send for a file when they do not know)
 */

static void
ngx_walrus_quilt_type(ngx_walrus_quilt_read_t *q, ngx_str_t *type)
{
    const walrus_quilt_tag_t  *tag;

    tag = walrus_quilt_tag(q->patch, "content-type");

    if (tag != NULL && tag->value_len > 0) {
        type->data = (u_char *) tag->value;
        type->len = tag->value_len;
        return;
    }

    type->data = (u_char *) q->patch->type;
    type->len = q->patch->type_len;

    if (type->len == sizeof("application/octet-stream") - 1
        && ngx_strncasecmp(type->data, (u_char *) "application/octet-stream",
                           type->len) == 0)
    {
        type->len = 0;
    }
}
