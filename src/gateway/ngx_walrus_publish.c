/*
 * Gateway write path, PUT /v1/blobs and /v1/quilts: the request.  Its
 * parameters (ngx_walrus_publish_args.c), token, size and upload slot are
 * checked, nginx reads the body (into a spare file,
 * ngx_walrus_body_filter.c), the encoder encodes it (ngx_walrus_encode.c),
 * the calls to the nodes store it and the quorums decide
 * (ngx_walrus_publish_upload.c), the answer goes out
 * (ngx_walrus_publish_answer.c); requests to slower nodes may then
 * linger a little.
 */

#include <ngx_walrus_publish.h>
#include <ngx_walrus_auth.h>
#include <ngx_walrus_quilt.h>
#include <ngx_walrus_spare_file.h>


static ngx_int_t ngx_walrus_publish_admitted(ngx_http_request_t *r);
static void ngx_walrus_publish_cleanup(void *data);
static void ngx_walrus_publish_body(ngx_http_request_t *r);
static void ngx_walrus_publish_encoded(ngx_http_request_t *r);
static void ngx_walrus_publish_timeout(ngx_event_t *ev);
static void ngx_walrus_publish_linger(ngx_walrus_publish_t *ctx);
static void ngx_walrus_publish_linger_timeout(ngx_event_t *ev);
static void ngx_walrus_publish_linger_read(ngx_http_request_t *r);
static void ngx_walrus_publish_linger_end(ngx_walrus_publish_t *ctx);


static ngx_uint_t  ngx_walrus_uploads;

/*
 * Answered uploads whose requests to slow nodes still run, oldest first:
 * they hold no upload slot, and at most max_uploads of them linger.
 */
static ngx_queue_t  ngx_walrus_lingering;
static ngx_uint_t   ngx_walrus_nlingering;


ngx_int_t
ngx_walrus_publish(ngx_http_request_t *r, ngx_uint_t quilt)
{
    u_char                          msg[256];
    const char                     *reason;
    ngx_walrus_publish_t           *ctx;
    ngx_walrus_gateway_loc_conf_t  *wlcf;
    ngx_walrus_main_conf_t         *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);
    wlcf = ngx_walrus_gateway_loc_conf(r);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_walrus_publish_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->committee = wmcf->committee;
    ctx->history = wmcf->history;

    /* confirmations of this gateway's epoch, whatever a node's is */
    ngx_sprintf((u_char *) ctx->confirm_path, "confirmation?epoch=%uD%Z",
                ctx->committee->epoch);

    ctx->enc.fd = NGX_INVALID_FILE;
    ctx->body_file.file.fd = NGX_INVALID_FILE;
    ctx->epochs = 1;
    ctx->quilt_upload = quilt ? 1 : 0;
    ngx_walrus_fanout_init(&ctx->fanout, &wlcf->node_location);

    if (ngx_walrus_publish_args(r, ctx, quilt, msg, sizeof(msg), &reason)
        != NGX_OK)
    {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_walrus_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     NGX_WALRUS_DOMAIN_GATEWAY, reason,
                                     "%s", msg);
    }

    ngx_walrus_gateway_ctx(r)->publish = ctx;

    /* the publisher's token, when the location asks for one */
    return ngx_walrus_auth_upload(r, ctx->epochs,
                                  ngx_walrus_publish_admitted);
}


/* an upload whose parameters and token are good: its size, a slot */

static ngx_int_t
ngx_walrus_publish_admitted(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_pool_cleanup_t             *cln;
    ngx_walrus_publish_t           *ctx;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    ctx = ngx_walrus_gateway_publish(r);
    wlcf = ngx_walrus_gateway_loc_conf(r);

    if (r->headers_in.content_length_n > wlcf->max_blob_size) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_walrus_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "BLOB_TOO_LARGE",
                                     "the blob is larger than the limit of "
                                     "%O bytes", wlcf->max_blob_size);
    }

    if (ngx_walrus_uploads >= wlcf->max_uploads) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_walrus_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "TOO_MANY_UPLOADS",
                                     "the gateway is busy storing %ui "
                                     "blobs; retry later", ngx_walrus_uploads);
    }

    rc = ctx->quilt_upload ? ngx_walrus_quilt_put_init(r, ctx) : NGX_OK;

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_walrus_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "INVALID_MULTIPART",
                                     "a quilt is uploaded as "
                                     "multipart/form-data with a boundary");
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_walrus_publish_cleanup;
    cln->data = ctx;

    ngx_walrus_uploads++;
    ngx_walrus_metric_process_add(NGX_WALRUS_SCOPE_GATEWAY,
                                  NGX_WALRUS_GM_UPLOADS, 1);
    ctx->counted = 1;

    rc = ngx_http_read_client_request_body(r, ngx_walrus_publish_body);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


ngx_temp_file_t *
ngx_walrus_publish_body_file(ngx_http_request_t *r)
{
    ngx_walrus_publish_t  *ctx;

    ctx = ngx_walrus_gateway_publish(r);

    return ctx != NULL ? &ctx->body_file : NULL;
}


static void
ngx_walrus_publish_cleanup(void *data)
{
    ngx_walrus_publish_t           *ctx = data;
    ngx_log_t                      *log;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }

    ngx_walrus_publish_retry_cancel(ctx);

    if (ctx->counted) {
        ngx_walrus_uploads--;
        ngx_walrus_metric_process_add(NGX_WALRUS_SCOPE_GATEWAY,
                                      NGX_WALRUS_GM_UPLOADS, -1);
    }

    if (ctx->is_lingering) {
        ngx_queue_remove(&ctx->lingering);
        ngx_walrus_nlingering--;
    }

    ctx->fanout.closed = 1;
    ngx_walrus_encode_free(&ctx->enc);

    log = ctx->request->connection->log;
    wlcf = ngx_walrus_gateway_loc_conf(ctx->request);

    if (ctx->enc.fd != NGX_INVALID_FILE) {
        ngx_walrus_spare_file_close(&wlcf->temp_path->name, ctx->enc.fd,
                                    log);
    }

    if (ctx->body_file.file.fd != NGX_INVALID_FILE) {
        ngx_walrus_spare_file_close(&ctx->body_file.path->name,
                                    ctx->body_file.file.fd, log);
    }
}


static void
ngx_walrus_publish_body(ngx_http_request_t *r)
{
    off_t                           len;
    ngx_int_t                       rc;
    ngx_walrus_publish_t           *ctx;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    ctx = ngx_walrus_gateway_publish(r);
    wlcf = ngx_walrus_gateway_loc_conf(r);

    if (r->request_body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    len = ngx_walrus_body_length(r->request_body->bufs);

    if (len > wlcf->max_blob_size) {
        ngx_http_finalize_request(r,
            ngx_walrus_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                  NGX_WALRUS_DOMAIN_GATEWAY, "BLOB_TOO_LARGE",
                                  "the blob is larger than the limit of %O "
                                  "bytes", wlcf->max_blob_size));
        return;
    }

    /* a chunked body's length is known only now */

    rc = ngx_walrus_auth_body(r, len);
    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: upload body of %O bytes read%s", len,
                   r->request_body->temp_file != NULL ? " into a file" : "");

    /* a client that goes away ends the request and its subrequests */
    r->read_event_handler = ngx_http_test_reading;

    ctx->deadline.handler = ngx_walrus_publish_timeout;
    ctx->deadline.data = r;
    ctx->deadline.log = r->connection->log;
    ctx->retry.handler = ngx_walrus_publish_retry;
    ctx->retry.data = ctx;
    ctx->retry.log = r->connection->log;
    ngx_add_timer(&ctx->deadline, wlcf->timeout);

    /* a quilt is built first, in the thread pool; it is the blob */

    if (ctx->quilt != NULL) {
        (void) ngx_walrus_quilt_put_build(r, ctx);
        return;
    }

    ngx_walrus_publish_encode(r, r->request_body->bufs, len);
}


void
ngx_walrus_publish_encode(ngx_http_request_t *r, ngx_chain_t *body,
    off_t len)
{
    ngx_uint_t                      inline_encode;
    ngx_walrus_publish_t           *ctx;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    ctx = ngx_walrus_gateway_publish(r);
    wlcf = ngx_walrus_gateway_loc_conf(r);

    ctx->enc.body = body;
    ctx->enc.length = len;
    ctx->enc.n = ctx->committee->params.n;
    ctx->enc.segment_size = ctx->committee->segment_size;

    r->write_event_handler = ngx_walrus_publish_encoded;

    inline_encode = (size_t) len <= wlcf->inline_size;

    ctx->enc.fd = ngx_walrus_spare_file_open(&wlcf->temp_path->name,
                                             r->connection->log);
    if (ctx->enc.fd == NGX_INVALID_FILE) {
        ngx_walrus_publish_finish(ctx,
            ngx_walrus_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                  NGX_WALRUS_DOMAIN_GATEWAY, "INTERNAL_ERROR",
                                  "the gateway cannot create a temp file"));
        return;
    }

    if (ngx_walrus_encode_run(&ctx->enc, r, wlcf->thread_pool, inline_encode)
        == NGX_OK)
    {
        ngx_walrus_publish_encoded(r);
    }
}


static void
ngx_walrus_publish_encoded(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_walrus_publish_t  *ctx;

    ctx = ngx_walrus_gateway_publish(r);

    rc = ngx_walrus_encode_join(&ctx->enc);

    if (rc == NGX_AGAIN) {
        return;
    }

    if (rc == NGX_BUSY) {
        ngx_walrus_publish_finish(ctx,
            ngx_walrus_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                  NGX_WALRUS_DOMAIN_GATEWAY,
                                  "OVERLOADED", "the encoder queue is full; "
                                  "retry later"));
        return;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "walrus: %s", ctx->enc.error);
        ngx_walrus_publish_finish(ctx,
            ngx_walrus_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                  NGX_WALRUS_DOMAIN_GATEWAY, "INTERNAL_ERROR",
                                  "the blob could not be encoded"));
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: upload encoded: blob %s, %uz bytes of metadata",
                   ctx->enc.id_text, ctx->enc.metadata_len);

    ngx_walrus_publish_start(ctx);
}


static void
ngx_walrus_publish_timeout(ngx_event_t *ev)
{
    ngx_connection_t      *c;
    ngx_http_request_t    *r;
    ngx_walrus_publish_t  *ctx;

    r = ev->data;
    c = r->connection;
    ctx = ngx_walrus_gateway_publish(r);

    ngx_http_set_log_request(c->log, r);

    ctx->timed_out = 1;
    ngx_walrus_publish_step(r);
    ngx_http_run_posted_requests(c);
}


void
ngx_walrus_publish_finish(ngx_walrus_publish_t *ctx, ngx_int_t rc)
{
    ngx_http_request_t  *r;

    r = ctx->request;

    ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_DONE);

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }

    ngx_walrus_publish_retry_cancel(ctx);

    /* the upload is over for the client: its slot is free at once */

    if (ctx->counted) {
        ngx_walrus_uploads--;
        ngx_walrus_metric_process_add(NGX_WALRUS_SCOPE_GATEWAY,
                                      NGX_WALRUS_GM_UPLOADS, -1);
        ctx->counted = 0;
    }

    ctx->fanout.closed = 1;
    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: upload of %s finished: %i, %ui node requests "
                   "running", ctx->enc.id_text, rc, ctx->fanout.active);

    if (ctx->fanout.active == 0) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    /* the requests still running hold the request: it stays valid */

    ngx_walrus_publish_linger(ctx);
    ngx_http_finalize_request(r, rc);

    if (!ctx->is_lingering) {
        return;
    }

    /*
     * Finalizing set nginx's own read handler; a request already
     * pipelined, or bytes already there, end the lingering soon.
     */

    r->read_event_handler = ngx_walrus_publish_linger_read;

    if (r->stream == NULL
        && (r->connection->read->ready
            || r->header_in->pos < r->header_in->last))
    {
        ngx_post_event(r->connection->read, &ngx_posted_events);
    }
}


/*
 * Nodes slower than the quorum may still take their slivers and the
 * certificate: they get straggler_timeout for it, or until the client
 * sends its next request or goes away, then their requests are cancelled
 * (such nodes heal later).  The client is never made to wait for them.
 */

static void
ngx_walrus_publish_linger(ngx_walrus_publish_t *ctx)
{
    ngx_queue_t                    *q;
    ngx_http_request_t             *r;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    r = ctx->request;
    wlcf = ngx_walrus_gateway_loc_conf(r);

    if (ngx_walrus_lingering.next == NULL) {
        ngx_queue_init(&ngx_walrus_lingering);
    }

    ctx->deadline.handler = ngx_walrus_publish_linger_timeout;
    ctx->deadline.data = ctx;
    ctx->deadline.log = r->connection->log;
    ngx_add_timer(&ctx->deadline, wlcf->straggler_timeout);

    ngx_queue_insert_tail(&ngx_walrus_lingering, &ctx->lingering);
    ngx_walrus_nlingering++;
    ctx->is_lingering = 1;

    /* the bound: the oldest lingering upload gives up first */

    while (ngx_walrus_nlingering > wlcf->max_uploads) {
        q = ngx_queue_head(&ngx_walrus_lingering);
        ngx_walrus_publish_linger_end(ngx_queue_data(q, ngx_walrus_publish_t,
                                                     lingering));
    }
}


static void
ngx_walrus_publish_linger_timeout(ngx_event_t *ev)
{
    ngx_walrus_publish_linger_end(ev->data);
}


static void
ngx_walrus_publish_linger_read(ngx_http_request_t *r)
{
    ngx_walrus_publish_t  *ctx;

    ctx = ngx_walrus_gateway_publish(r);

    if (ctx != NULL && ctx->is_lingering) {
        ngx_walrus_publish_linger_end(ctx);
        return;
    }

    ngx_http_block_reading(r);
}


static void
ngx_walrus_publish_linger_end(ngx_walrus_publish_t *ctx)
{
    ngx_http_request_t  *r;

    r = ctx->request;

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }

    ngx_queue_remove(&ctx->lingering);
    ngx_walrus_nlingering--;
    ctx->is_lingering = 0;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "walrus: upload of %s answered; cancelling %ui requests to "
                  "slow nodes", ctx->enc.id_text, ctx->fanout.active);

    /* the last subrequest to close would free the request under us */

    r->main->count++;
    ngx_walrus_fanout_cancel_all(&ctx->fanout);
    ngx_http_finalize_request(r, NGX_DONE);
}
