/*
 * Gateway read path, GET/HEAD /v1/blobs/{id}: the driver.  It moves a
 * read through its phases (metadata and certificate, then segment by
 * segment the systematic primary slivers, verified and decoded) whenever
 * a node answers, a decode ends, a timer fires or the client can take
 * more; hands node answers to the metadata (ngx_walrus_read_meta.c) or
 * the segment window (ngx_walrus_read_segment.c); and sends the decoded
 * segments in order, fetching up to NGX_WALRUS_WINDOW of them at a time.
 */

#include <ngx_walrus_gateway.h>
#include <ngx_walrus_read.h>
#include <ngx_walrus_read_meta.h>
#include <ngx_walrus_buffer.h>
#include <ngx_walrus_memo.h>


static void ngx_walrus_read_cleanup(void *data);
static void ngx_walrus_read_timer(ngx_event_t *ev);
static ngx_int_t ngx_walrus_read_run(ngx_walrus_read_t *ctx);
static void ngx_walrus_read_handle(ngx_walrus_read_t *ctx,
    ngx_walrus_call_t *call);
static ngx_int_t ngx_walrus_read_output(ngx_walrus_read_t *ctx);


ngx_int_t
ngx_walrus_read(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    ngx_int_t                rc;
    ngx_str_t                value;
    ngx_pool_cleanup_t      *cln;
    ngx_walrus_read_t       *ctx;
    ngx_walrus_main_conf_t  *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_walrus_read_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ctx == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->phase = NGX_WALRUS_READ_METADATA;
    ctx->committee = wmcf->committee;
    ctx->history = wmcf->history;
    ctx->route = *rt;
    ctx->started = ngx_current_msec;
    ngx_walrus_fanout_init(&ctx->fanout,
                           &ngx_walrus_gateway_loc_conf(r)->node_location);

    if (ngx_walrus_health_init(ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_walrus_read_cleanup;
    cln->data = ctx;

    if (ngx_http_arg(r, (u_char *) "filename", 8, &value) == NGX_OK) {
        ctx->filename = value;
    }

    if (ngx_http_arg(r, (u_char *) "download", 8, &value) == NGX_OK
        && value.len == 4 && ngx_strncmp(value.data, "true", 4) == 0)
    {
        ctx->download = 1;
    }

    ngx_walrus_gateway_ctx(r)->read = ctx;

    ctx->timer.handler = ngx_walrus_read_timer;
    ctx->timer.data = r;
    ctx->timer.log = r->connection->log;

    r->write_event_handler = ngx_walrus_read_step;
    r->read_event_handler = ngx_http_test_reading;
    r->main->count++;

    /* this worker's memory, then Redis, then the nodes */

    rc = ngx_walrus_meta_start(ctx);

    if (rc == NGX_OK) {
        ngx_walrus_read_step(r);

    } else if (rc == NGX_ERROR) {
        ngx_walrus_read_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }

    return NGX_DONE;
}


ngx_int_t
ngx_walrus_read_call(ngx_walrus_read_t *ctx, ngx_walrus_arena_t *arena,
    ngx_uint_t node, ngx_walrus_read_call_e kind, const char *path,
    size_t max, ngx_walrus_call_t **out)
{
    return ngx_walrus_read_call_to(ctx, arena,
                                   ctx->committee->nodes[node].name, node,
                                   kind, path, max, out);
}


/* the same to the node called name, tagged node (the shard's owner now) */

ngx_int_t
ngx_walrus_read_call_to(ngx_walrus_read_t *ctx, ngx_walrus_arena_t *arena,
    const char *name, ngx_uint_t node, ngx_walrus_read_call_e kind,
    const char *path, size_t max, ngx_walrus_call_t **out)
{
    u_char              buf[sizeof("/v1/blobs//") + WALRUS_BLOB_ID_TEXT_LEN
                            + 64];
    ngx_str_t           uri;
    ngx_walrus_call_t  *call;

    uri.data = buf;
    uri.len = ngx_snprintf(buf, sizeof(buf), "/v1/blobs/%s/%s",
                           ctx->route.id_text, path)
              - buf;

    /*
     * The metadata and certificate requests (2n node subrequests, some
     * KiB each) go in an arena freed when the read ends, not with the
     * request: a concatenation checks up to 100 blobs in one request.
     */

    if (arena == NULL
        && (kind == NGX_WALRUS_READ_CALL_META
            || kind == NGX_WALRUS_READ_CALL_CERT))
    {
        if (ctx->meta_arena == NULL) {
            ctx->meta_arena = ngx_walrus_arena_create(&ctx->fanout,
                                             ctx->request->connection->log);
            if (ctx->meta_arena == NULL) {
                return NGX_ERROR;
            }
        }

        arena = ctx->meta_arena;
    }

    call = ngx_walrus_fanout_call_to(ctx->request, &ctx->fanout, arena, name,
                                     node, NGX_HTTP_GET, &uri, NULL, max);
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->kind = kind;

    if (out != NULL) {
        *out = call;
    }

    return NGX_OK;
}


const walrus_node_t *
ngx_walrus_read_old_owner(ngx_walrus_read_t *ctx, unsigned pair)
{
    unsigned                   shard;
    const walrus_node_t       *old, *now;
    const walrus_committee_t  *prev;

    if (ctx->cert == NULL || ctx->committee->epoch == 0
        || ctx->cert->epoch >= ctx->committee->epoch)
    {
        return NULL;
    }

    prev = walrus_history_committee(ctx->history,
                                    ctx->committee->epoch - 1);
    if (prev == NULL) {
        return NULL;
    }

    shard = walrus_pair_to_shard(&ctx->committee->params, ctx->route.blob_id,
                                 pair);
    old = &prev->nodes[prev->shard_owner[shard]];
    now = &ctx->committee->nodes[ctx->committee->shard_owner[shard]];

    return ngx_strcmp(old->name, now->name) == 0 ? NULL : old;
}


static void
ngx_walrus_read_cleanup(void *data)
{
    ngx_walrus_read_t  *ctx = data;

    ngx_uint_t  i;

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    ctx->fanout.closed = 1;

    for (i = 0; i < NGX_WALRUS_WINDOW; i++) {
        ngx_walrus_buffer_free(ctx->window[i].out);
        ctx->window[i].out = NULL;
    }

    ngx_walrus_fanout_free(&ctx->fanout);
    walrus_metadata_free(&ctx->meta);
}


static void
ngx_walrus_read_timer(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ev->data;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ngx_walrus_read_step(r);
    ngx_http_run_posted_requests(c);
}


void
ngx_walrus_read_step(ngx_http_request_t *r)
{
    ngx_int_t           rc;
    ngx_walrus_read_t  *ctx;

    ctx = ngx_walrus_gateway_read(r);

    if (ctx->phase == NGX_WALRUS_READ_CACHE
        || ctx->phase == NGX_WALRUS_READ_DONE)
    {
        return;
    }

    if (r->connection->write->timedout) {
        r->connection->timedout = 1;
        ngx_walrus_read_finish(ctx, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }

    rc = ngx_walrus_read_run(ctx);

    if (rc == NGX_AGAIN) {
        ngx_walrus_read_arm(ctx);
        return;
    }

    ngx_walrus_read_finish(ctx, rc);
}


/*
 * Takes in what the nodes answered and moves the read on until it has to
 * wait (NGX_AGAIN) or is over (what ends the request).
 */

static ngx_int_t
ngx_walrus_read_run(ngx_walrus_read_t *ctx)
{
    ngx_int_t            rc;
    ngx_uint_t           i;
    ngx_walrus_seg_t    *seg;
    ngx_walrus_call_t   *call;

    for ( ;; ) {
        while ((call = ngx_walrus_fanout_next(&ctx->fanout)) != NULL) {
            ngx_walrus_read_handle(ctx, call);
        }

        ngx_walrus_fanout_sweep(ctx->request, &ctx->fanout);

        if (ctx->phase == NGX_WALRUS_READ_METADATA) {
            rc = ngx_walrus_meta_done(ctx);
            if (rc != NGX_DECLINED) {
                return rc;
            }

            ngx_walrus_read_phase(ctx, NGX_WALRUS_READ_SEGMENTS);
            ctx->next_fetch = ctx->start / ctx->meta.segment_size;
            ctx->next_send = ctx->next_fetch;
            ctx->last_seg = ctx->end / ctx->meta.segment_size;
        }

        while (ctx->next_fetch <= ctx->last_seg
               && ctx->next_fetch < ctx->next_send + NGX_WALRUS_WINDOW)
        {
            if (ngx_walrus_seg_start(ctx, ctx->next_fetch) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ctx->next_fetch++;
        }

        for (i = 0; i < NGX_WALRUS_WINDOW; i++) {
            seg = &ctx->window[i];

            if (seg->active && !seg->decoded) {
                rc = ngx_walrus_seg_progress(seg);
                if (rc != NGX_AGAIN) {
                    return rc;
                }
            }
        }

        rc = ngx_walrus_read_output(ctx);
        if (rc != NGX_DECLINED) {
            return rc;
        }

        /* a window slot came free, or a segment wants more slivers */
    }
}


static void
ngx_walrus_read_handle(ngx_walrus_read_t *ctx, ngx_walrus_call_t *call)
{
    switch (call->kind) {

    case NGX_WALRUS_READ_CALL_META:
    case NGX_WALRUS_READ_CALL_CERT:
        ngx_walrus_meta_call(ctx, call);
        break;

    case NGX_WALRUS_READ_CALL_PROOF:
        ngx_walrus_proof_call(ctx, call);
        break;

    default: /* NGX_WALRUS_READ_CALL_SLIVER, NGX_WALRUS_READ_CALL_PROBE */
        ngx_walrus_seg_call(call->data, call);
        break;
    }
}


/*
 * Sends decoded segments in order; a segment that cannot be decoded is an
 * error before the headers went out and an abort after.  NGX_DECLINED:
 * the window is to run again.
 */

static ngx_int_t
ngx_walrus_read_output(ngx_walrus_read_t *ctx)
{
    off_t                      from, to;
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    const char                *type;
    ngx_chain_t                out;
    ngx_walrus_seg_t          *seg;
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_core_loc_conf_t  *clcf;

    r = ctx->request;
    c = r->connection;

    for ( ;; ) {
        seg = &ctx->window[ctx->next_send % NGX_WALRUS_WINDOW];

        if (seg->buf != NULL) {
            rc = ngx_http_output_filter(r, NULL);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (seg->buf->pos != seg->buf->last) {
                break;
            }

            /* the segment went out: its slot takes the next one */

            ngx_walrus_seg_reset(seg);

            if (ctx->next_send++ == ctx->last_seg) {
                return NGX_OK;
            }

            return NGX_DECLINED;
        }

        if (seg->rc == WALRUS_EINCONSISTENT) {
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "walrus: blob %s is inconsistently encoded "
                          "(segment %uL)", ctx->route.id_text, seg->index);

            /*
             * The decode verified the slivers: the worker's later reads
             * answer so whatever their range (Redis gets no proof).
             */

            ngx_walrus_memo_set_inconsistent(ctx->route.blob_id);

            if (ctx->header_sent) {
                return NGX_ERROR;
            }

            return ngx_walrus_read_inconsistent(ctx);
        }

        if (!seg->decoded) {
            if (seg->rc != WALRUS_OK && seg->rc != WALRUS_ENOTENOUGH) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (seg->retry) {
                seg->retry = 0;
                return NGX_DECLINED;
            }

            return NGX_AGAIN;
        }

        from = ctx->next_send == ctx->start / ctx->meta.segment_size
               ? (off_t) (ctx->start % ctx->meta.segment_size) : 0;
        to = ctx->next_send == ctx->last_seg
             ? (off_t) (ctx->end % ctx->meta.segment_size) + 1
             : (off_t) seg->length;

        if (!ctx->header_sent) {
            ctx->header_sent = 1;

            /* the type comes from the blob's first bytes, if at hand */

            type = NULL;

            if (seg->index == 0) {
                type = ngx_walrus_read_sniff(seg->out, seg->length);
                ngx_walrus_meta_remember_type(ctx, type);
            }

            rc = ngx_walrus_read_send_header(ctx, type);
            if (rc == NGX_ERROR || rc > NGX_OK) {
                return rc;
            }
        }

        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }

        b->pos = seg->out + from;
        b->last = seg->out + to;
        b->memory = 1;
        b->flush = 1;

        /* a subrequest's last byte is not its parent's (a concatenation) */

        if (ctx->next_send == ctx->last_seg) {
            b->last_buf = (r == r->main);
            b->last_in_chain = 1;
        }

        seg->buf = b;
        out.buf = b;
        out.next = NULL;

        rc = ngx_http_output_filter(r, &out);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    /* the client is slower than the nodes: wait until it can take more */

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (!c->write->ready && !c->write->timer_set) {
        ngx_add_timer(c->write, clcf->send_timeout);
    }

    if (ngx_handle_write_event(c->write, clcf->send_lowat) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


void
ngx_walrus_read_arm(ngx_walrus_read_t *ctx)
{
    ngx_uint_t                      i;
    ngx_msec_t                      wait, t, left;
    ngx_walrus_seg_t               *seg;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_gateway_loc_conf(ctx->request);
    wait = wlcf->read_timeout;

    if (ctx->phase == NGX_WALRUS_READ_METADATA) {
        wait = ngx_walrus_meta_wait(ctx);
    }

    for (i = 0; i < NGX_WALRUS_WINDOW; i++) {
        seg = &ctx->window[i];

        if (!seg->active || seg->decoded || seg->working) {
            continue;
        }

        t = ngx_current_msec - seg->started;

        if (seg->outstanding > 0) {
            t = ngx_current_msec - seg->hedged;
            left = t < wlcf->hedge_delay ? wlcf->hedge_delay - t : 1;
            wait = ngx_min(wait, left);
            t = ngx_current_msec - seg->started;
        }

        left = t < wlcf->read_timeout ? wlcf->read_timeout - t : 1;
        wait = ngx_min(wait, left);
    }

    ngx_add_timer(&ctx->timer, wait);
}


void
ngx_walrus_read_phase(ngx_walrus_read_t *ctx, ngx_walrus_read_phase_e phase)
{
#if (NGX_DEBUG)
    static const char  *names[] = {
        "metadata", "cache", "segments", "done"
    };

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "walrus: read of %s: %s -> %s", ctx->route.id_text,
                   names[ctx->phase], names[phase]);
#endif

    ctx->phase = phase;
}


void
ngx_walrus_read_finish(ngx_walrus_read_t *ctx, ngx_int_t rc)
{
    ngx_uint_t           i;
    ngx_http_request_t  *r;

    r = ctx->request;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: read of %s ends: %i", ctx->route.id_text, rc);

    ngx_walrus_read_phase(ctx, NGX_WALRUS_READ_DONE);
    ctx->fanout.closed = 1;

    ngx_walrus_meta_cancel(ctx);
    ngx_walrus_proof_cancel(ctx);

    /* destroyed once its subrequests have closed, now or at the end */

    if (ctx->meta_arena != NULL) {
        ngx_walrus_arena_retire(r, &ctx->fanout, ctx->meta_arena);
        ctx->meta_arena = NULL;
    }

    /*
     * A segment a decode task still works on keeps its buffers: the task
     * holds the request, and its pool frees them after the task.
     */

    for (i = 0; i < NGX_WALRUS_WINDOW; i++) {
        if (ctx->window[i].calls != NULL && !ctx->window[i].working) {
            ngx_walrus_seg_reset(&ctx->window[i]);
        }
    }

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_http_finalize_request(r, rc);
}
