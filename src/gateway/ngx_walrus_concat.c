/*
 * Gateway GET, HEAD, POST /v1alpha/blobs/concat: the bytes of the blobs
 * named, one after the other, as Walrus aggregators answer it.
 *
 * Every blob is read by the read path itself, through subrequests of the
 * request's own location:
 *
 *   1. the check: a HEAD /v1/blobs/{id} per ID, NGX_WALRUS_CONCAT_CHECKS
 *      at a time (background subrequests captured by the fan-out): the
 *      metadata and certificate of every blob verified, and its length,
 *      before the status line.  The first blob that cannot be served
 *      answers for the whole request, with its own error;
 *   2. the answer: 200 with the sum of the lengths as Content-Length;
 *   3. a GET /v1/blobs/{id} per blob, one after the other: each streams
 *      verified segments with the read path's bounded window, so the
 *      request holds one blob's window at a time, never the whole set.
 *      nginx writes a subrequest's output in its place in the answer.
 *      A blob that fails now ends the connection (the client sees fewer
 *      bytes than the Content-Length), never a short answer that looks
 *      whole.
 */

#include <ngx_walrus_concat.h>
#include <ngx_walrus_read.h>
#include <ngx_walrus_fanout.h>
#include <ngx_walrus_body.h>
#include <walrus_base64.h>
#include <openssl/evp.h>


/* checks running at a time */
#define NGX_WALRUS_CONCAT_CHECKS     8

/* a check's error answer, relayed as it is */
#define NGX_WALRUS_CONCAT_ERROR_MAX  4096


struct ngx_walrus_concat_s {
    ngx_http_request_t        *request;
    ngx_walrus_concat_ids_t    ids;
    ngx_walrus_fanout_t        fanout;      /* the checks */
    off_t                     *lengths;     /* per ID, once checked */
    off_t                      total;
    ngx_uint_t                 next_check;
    ngx_uint_t                 checked;
    ngx_uint_t                 next_part;
    ngx_http_request_t        *part;        /* the blob being sent */
    unsigned                   header_sent:1;
    unsigned                   done:1;
};


static ngx_int_t ngx_walrus_concat_init(ngx_http_request_t *r);
static void ngx_walrus_concat_body(ngx_http_request_t *r);
static ngx_int_t ngx_walrus_concat_refused(ngx_http_request_t *r,
    ngx_walrus_concat_ids_t *ids);
static void ngx_walrus_concat_cleanup(void *data);
static void ngx_walrus_concat_step(ngx_http_request_t *r);
static ngx_int_t ngx_walrus_concat_run(ngx_walrus_concat_t *ctx);
static ngx_int_t ngx_walrus_concat_check(ngx_walrus_concat_t *ctx);
static ngx_int_t ngx_walrus_concat_checked(ngx_walrus_concat_t *ctx,
    ngx_walrus_call_t *call);
static ngx_int_t ngx_walrus_concat_send_header(ngx_walrus_concat_t *ctx);
static ngx_int_t ngx_walrus_concat_etag(ngx_walrus_concat_t *ctx);
static ngx_int_t ngx_walrus_concat_part(ngx_walrus_concat_t *ctx);
static ngx_int_t ngx_walrus_concat_part_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_walrus_concat_finish(ngx_walrus_concat_t *ctx,
    ngx_int_t rc);


static ngx_str_t  ngx_walrus_concat_get = ngx_string("GET");


ngx_int_t
ngx_walrus_concat(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_str_t                 value;
    ngx_walrus_concat_t      *ctx;

    if (ngx_walrus_concat_init(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = ngx_walrus_gateway_ctx(r)->concat;

    if (r->method == NGX_HTTP_POST) {
        if (r->headers_in.content_length_n > NGX_WALRUS_CONCAT_MAX_BODY) {
            if (ngx_http_discard_request_body(r) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_walrus_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         NGX_WALRUS_DOMAIN_GATEWAY,
                                         "BODY_TOO_LARGE",
                                         "the body is over %d bytes",
                                         NGX_WALRUS_CONCAT_MAX_BODY);
        }

        rc = ngx_http_read_client_request_body(r, ngx_walrus_concat_body);

        return rc >= NGX_HTTP_SPECIAL_RESPONSE ? rc : NGX_DONE;
    }

    if (ngx_http_arg(r, (u_char *) "ids", 3, &value) != NGX_OK) {
        return ngx_walrus_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "INVALID_PARAMETER",
                                     "ids is missing: give ?ids=a,b,c or "
                                     "POST {\"ids\": [...]}");
    }

    if (ngx_walrus_concat_ids_query(r->pool, &value, &ctx->ids) != NGX_OK) {
        return ngx_walrus_concat_refused(r, &ctx->ids);
    }

    /* the IDs are good: the write handler moves the checks on from now */

    r->write_event_handler = ngx_walrus_concat_step;
    r->main->count++;
    ngx_walrus_concat_step(r);

    return NGX_DONE;
}


static ngx_int_t
ngx_walrus_concat_init(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t   *cln;
    ngx_walrus_concat_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_walrus_concat_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ctx == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    ctx->request = r;
    ngx_walrus_fanout_init(&ctx->fanout,
                           &ngx_walrus_gateway_loc_conf(r)->node_location);

    cln->handler = ngx_walrus_concat_cleanup;
    cln->data = ctx;

    ngx_walrus_gateway_ctx(r)->concat = ctx;

    return NGX_OK;
}


/* the POST body is in: its IDs, then as a GET */

static void
ngx_walrus_concat_body(ngx_http_request_t *r)
{
    u_char               *text;
    off_t                 len;
    ngx_int_t             rc;
    ngx_walrus_body_t     bd;
    ngx_walrus_concat_t  *ctx;

    ctx = ngx_walrus_gateway_ctx(r)->concat;
    len = 0;

    if (r->request_body != NULL && r->request_body->bufs != NULL) {
        len = ngx_walrus_body_length(r->request_body->bufs);
    }

    /* a chunked body has no length to refuse it by before it is read */

    if (len > NGX_WALRUS_CONCAT_MAX_BODY) {
        ngx_http_finalize_request(r,
            ngx_walrus_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                  NGX_WALRUS_DOMAIN_GATEWAY,
                                  "BODY_TOO_LARGE",
                                  "the body is over %d bytes",
                                  NGX_WALRUS_CONCAT_MAX_BODY));
        return;
    }

    text = ngx_pnalloc(r->pool, len + 1);
    if (text == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* at most 16 KiB, in memory or in a temp file nginx just wrote */

    if (len > 0) {
        ngx_walrus_body_init(&bd, r->request_body->bufs);

        if (ngx_walrus_body_read(&bd, text, len) != 0) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    if (ngx_walrus_concat_ids_json(r->pool, text, len, &ctx->ids)
        != NGX_OK)
    {
        ngx_http_finalize_request(r,
                                  ngx_walrus_concat_refused(r, &ctx->ids));
        return;
    }

    r->write_event_handler = ngx_walrus_concat_step;

    rc = ngx_walrus_concat_run(ctx);

    if (rc != NGX_AGAIN) {
        ngx_walrus_concat_finish(ctx, rc);
    }
}


static ngx_int_t
ngx_walrus_concat_refused(ngx_http_request_t *r,
    ngx_walrus_concat_ids_t *ids)
{
    if (ids->reason == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_walrus_send_error(r, NGX_HTTP_BAD_REQUEST,
                                 NGX_WALRUS_DOMAIN_GATEWAY, ids->reason,
                                 "%s", ids->message);
}


static void
ngx_walrus_concat_cleanup(void *data)
{
    ngx_walrus_concat_t  *ctx = data;

    ctx->fanout.closed = 1;
    ngx_walrus_fanout_free(&ctx->fanout);
}


/* the write handler: node answers, checks and blobs ending move it on */

static void
ngx_walrus_concat_step(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    ngx_walrus_concat_t  *ctx;

    ctx = ngx_walrus_gateway_ctx(r)->concat;

    if (ctx->done) {
        return;
    }

    rc = ngx_walrus_concat_run(ctx);

    if (rc != NGX_AGAIN) {
        ngx_walrus_concat_finish(ctx, rc);
    }
}


/*
 * NGX_AGAIN while checks or a blob run; else what ends the request (an
 * answer that did not go out whole is sent on by the finalization)
 */

static ngx_int_t
ngx_walrus_concat_run(ngx_walrus_concat_t *ctx)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = ctx->request;

    if (!ctx->header_sent) {
        rc = ngx_walrus_concat_check(ctx);
        if (rc != NGX_DONE) {
            return rc;
        }

        ctx->header_sent = 1;

        rc = ngx_walrus_concat_send_header(ctx);
        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            return rc == NGX_AGAIN ? NGX_OK : rc;
        }
    }

    if (ctx->part != NULL) {
        return NGX_AGAIN;
    }

    /* an empty blob has nothing to send */

    while (ctx->next_part < ctx->ids.n && ctx->lengths[ctx->next_part] == 0)
    {
        ctx->next_part++;
    }

    if (ctx->next_part < ctx->ids.n) {
        return ngx_walrus_concat_part(ctx);
    }

    rc = ngx_http_send_special(r, NGX_HTTP_LAST);

    /* what the client has not taken yet goes out after the finalization */

    return rc == NGX_AGAIN ? NGX_OK : rc;
}


/*
 * NGX_DONE once every blob checked out; NGX_AGAIN meanwhile; else what
 * ends the request
 */

static ngx_int_t
ngx_walrus_concat_check(ngx_walrus_concat_t *ctx)
{
    u_char               buf[sizeof("/v1/blobs/") + WALRUS_BLOB_ID_TEXT_LEN];
    ngx_int_t            rc;
    ngx_str_t            uri;
    ngx_walrus_call_t   *call;
    ngx_http_request_t  *r;

    r = ctx->request;

    if (ctx->lengths == NULL) {
        ctx->lengths = ngx_pcalloc(r->pool, ctx->ids.n * sizeof(off_t));
        if (ctx->lengths == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    while ((call = ngx_walrus_fanout_next(&ctx->fanout)) != NULL) {
        rc = ngx_walrus_concat_checked(ctx, call);
        if (rc != NGX_DECLINED) {
            return rc == NGX_AGAIN ? NGX_OK : rc;
        }
    }

    while (ctx->next_check < ctx->ids.n
           && ctx->fanout.active < NGX_WALRUS_CONCAT_CHECKS)
    {
        uri.data = buf;
        uri.len = ngx_sprintf(buf, "/v1/blobs/%s",
                              ctx->ids.ids[ctx->next_check])
                  - buf;

        call = ngx_walrus_fanout_call_local(r, &ctx->fanout, NGX_HTTP_HEAD,
                                            &uri,
                                            NGX_WALRUS_CONCAT_ERROR_MAX);
        if (call == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        call->kind = ctx->next_check++;
    }

    if (ctx->checked < ctx->ids.n) {
        return NGX_AGAIN;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: concat of %ui blobs checked, %O bytes",
                   ctx->ids.n, ctx->total);

    return NGX_DONE;
}


/*
 * A check's answer: the blob's length (NGX_DECLINED: on to the others),
 * or its error, which becomes the concatenation's answer (Walrus answers
 * a missing blob's 404 so)
 */

static ngx_int_t
ngx_walrus_concat_checked(ngx_walrus_concat_t *ctx, ngx_walrus_call_t *call)
{
    u_char              *body;
    ngx_http_request_t  *r;

    r = ctx->request;

    if (call->status == NGX_HTTP_OK && call->length >= 0) {
        ctx->lengths[call->kind] = call->length;
        ctx->total += call->length;
        ctx->checked++;
        ngx_walrus_call_release(call);
        return NGX_DECLINED;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: concat: blob %s answered %ui",
                   ctx->ids.ids[call->kind], call->status);

    /* the other checks run to their end, their answers dropped */

    ngx_walrus_fanout_cancel_all(&ctx->fanout);

    if (call->status < NGX_HTTP_BAD_REQUEST || call->truncated
        || call->body_len < sizeof("{\"error\"") - 1
        || ngx_strncmp(call->body, "{\"error\"", sizeof("{\"error\"") - 1)
           != 0)
    {
        return ngx_walrus_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "INTERNAL_ERROR",
                                     "blob %s could not be checked",
                                     ctx->ids.ids[call->kind]);
    }

    body = ngx_pnalloc(r->pool, call->body_len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(body, call->body, call->body_len);

    if ((call->status == NGX_HTTP_TOO_MANY_REQUESTS
         || call->status == NGX_HTTP_SERVICE_UNAVAILABLE)
        && ngx_walrus_header(r, "Retry-After", "1") == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->keepalive = r->keepalive
                   && call->status < NGX_HTTP_INTERNAL_SERVER_ERROR;

    return ngx_walrus_send_memory(r, call->status, "application/json", body,
                                  call->body_len);
}


static ngx_int_t
ngx_walrus_concat_send_header(ngx_walrus_concat_t *ctx)
{
    ngx_table_elt_t     *inm;
    ngx_http_request_t  *r;

    r = ctx->request;

    if (ngx_walrus_concat_etag(ctx) != NGX_OK
        || ngx_walrus_header(r, "X-Content-Type-Options", "nosniff") == NULL
        || ngx_walrus_header(r, "Cache-Control", "no-cache") == NULL
        || ngx_walrus_header(r, "Accept-Ranges", "none") == NULL
        || ngx_walrus_header(r, "Access-Control-Expose-Headers",
                             "ETag, Content-Length") == NULL)
    {
        return NGX_ERROR;
    }

    /*
     * The blobs are checked again on every request, so the client's
     * copy is confirmed only while all of them can be served.
     */

    inm = r->headers_in.if_none_match;

    if (inm != NULL
        && ngx_walrus_etag_match(&inm->value, r->headers_out.etag->value.data,
                                 r->headers_out.etag->value.len, 1))
    {
        r->headers_out.status = NGX_HTTP_NOT_MODIFIED;
        r->header_only = 1;
        return ngx_http_send_header(r);
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = ctx->total;
    ngx_str_set(&r->headers_out.content_type, "application/octet-stream");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    return ngx_http_send_header(r);
}


/*
 * The ETag Walrus gives a concatenation, SHA-256 of the IDs joined by
 * commas in URL-safe base64, here in double quotes as every ETag of the
 * gateway: the same IDs, in the same order, are the same bytes
 */

static ngx_int_t
ngx_walrus_concat_etag(ngx_walrus_concat_t *ctx)
{
    u_char              *p, *joined, md[EVP_MAX_MD_SIZE];
    size_t               len;
    ngx_uint_t           i;
    unsigned int         mdlen;
    ngx_table_elt_t     *etag;
    ngx_http_request_t  *r;

    r = ctx->request;
    len = ctx->ids.n * (WALRUS_BLOB_ID_TEXT_LEN + 1);

    joined = ngx_pnalloc(r->pool, len);
    p = ngx_pnalloc(r->pool, walrus_base64url_encoded_len(32) + 2);
    if (joined == NULL || p == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < ctx->ids.n; i++) {
        ngx_memcpy(joined + i * (WALRUS_BLOB_ID_TEXT_LEN + 1),
                   ctx->ids.ids[i], WALRUS_BLOB_ID_TEXT_LEN);
        joined[i * (WALRUS_BLOB_ID_TEXT_LEN + 1) + WALRUS_BLOB_ID_TEXT_LEN]
            = ',';
    }

    if (EVP_Digest(joined, len - 1, md, &mdlen, EVP_sha256(), NULL) != 1) {
        return NGX_ERROR;
    }

    p[0] = '"';
    len = walrus_base64url_encode(md, mdlen, (char *) p + 1);
    p[len + 1] = '"';

    etag = ngx_walrus_add_header(r, "ETag", p, len + 2);
    if (etag == NULL) {
        return NGX_ERROR;
    }

    r->headers_out.etag = etag;
    r->disable_not_modified = 1;

    return NGX_OK;
}


/*
 * The next blob: a GET /v1/blobs/{id} subrequest that writes into this
 * answer, without the client's Range and conditions
 */

static ngx_int_t
ngx_walrus_concat_part(ngx_walrus_concat_t *ctx)
{
    ngx_str_t                    uri;
    ngx_http_request_t          *r, *sr;
    ngx_http_post_subrequest_t  *ps;

    r = ctx->request;

    uri.data = ngx_pnalloc(r->pool, sizeof("/v1/blobs/")
                                    + WALRUS_BLOB_ID_TEXT_LEN);
    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (uri.data == NULL || ps == NULL) {
        return NGX_ERROR;
    }

    uri.len = ngx_sprintf(uri.data, "/v1/blobs/%s",
                          ctx->ids.ids[ctx->next_part])
              - uri.data;

    ps->handler = ngx_walrus_concat_part_done;
    ps->data = ctx;

    if (ngx_http_subrequest(r, &uri, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_CLONE)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->method = NGX_HTTP_GET;
    sr->method_name = ngx_walrus_concat_get;
    sr->header_only = 0;
    sr->headers_in.content_length_n = -1;
    ngx_walrus_fanout_unconditional(sr);

    ctx->part = sr;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: concat: blob %ui of %ui, %s", ctx->next_part + 1,
                   ctx->ids.n, ctx->ids.ids[ctx->next_part]);

    return NGX_AGAIN;
}


/* may run more than once per subrequest: only the first run counts */

static ngx_int_t
ngx_walrus_concat_part_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_walrus_concat_t  *ctx = data;

    if (ctx->part != sr) {
        return rc;
    }

    if (rc != NGX_OK || sr->headers_out.status != NGX_HTTP_OK) {
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "walrus: concat: blob %s failed (%i, status %ui) "
                      "after the answer's header went out: closing the "
                      "connection", ctx->ids.ids[ctx->next_part], rc,
                      sr->headers_out.status);

        ctx->done = 1;
        sr->connection->error = 1;

        return NGX_ERROR;
    }

    ctx->part = NULL;
    ctx->next_part++;

    return rc;
}


static void
ngx_walrus_concat_finish(ngx_walrus_concat_t *ctx, ngx_int_t rc)
{
    ngx_http_request_t  *r;

    r = ctx->request;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: concat ends: %i", rc);

    ctx->done = 1;
    ctx->fanout.closed = 1;
    ngx_walrus_fanout_cancel_all(&ctx->fanout);

    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_http_finalize_request(r, rc);
}
