/*
 * Gateway read path, GET/HEAD /v1/blobs/{id}: metadata and certificate
 * from the nodes, then segment by segment the systematic primary slivers
 * (hedged with others when late), verified and decoded in the thread pool,
 * streamed to the client with a window of NGX_WALRUS_WINDOW segments.
 */

#include <ngx_walrus_gateway.h>
#include <ngx_walrus_read.h>
#include <ngx_walrus_read_meta.h>
#include <ngx_walrus_buffer.h>
#include <walrus_codec.h>


typedef struct {
    ngx_walrus_seg_t      *seg;
    unsigned               n;
    const uint8_t         *pair_hashes;
    const uint8_t         *slivers[WALRUS_MAX_SHARDS];
    u_char                 verdict[WALRUS_MAX_SHARDS];
    int                    rc;
} ngx_walrus_decode_t;


static void ngx_walrus_read_cleanup(void *data);
static void ngx_walrus_read_timer(ngx_event_t *ev);
static ngx_int_t ngx_walrus_read_run(ngx_walrus_read_t *ctx);
static void ngx_walrus_read_handle(ngx_walrus_read_t *ctx,
    ngx_walrus_call_t *call);
static void ngx_walrus_seg_call(ngx_walrus_seg_t *seg,
    ngx_walrus_call_t *call);
static ngx_int_t ngx_walrus_seg_start(ngx_walrus_read_t *ctx, uint64_t g);
static ngx_int_t ngx_walrus_seg_request(ngx_walrus_seg_t *seg,
    ngx_uint_t count);
static ngx_int_t ngx_walrus_seg_ask(ngx_walrus_seg_t *seg, unsigned pair,
    unsigned node, ngx_walrus_read_call_e kind);
static ngx_int_t ngx_walrus_seg_probe(ngx_walrus_seg_t *seg);
static ngx_int_t ngx_walrus_seg_progress(ngx_walrus_seg_t *seg);
static void ngx_walrus_seg_reset(ngx_walrus_seg_t *seg);
static void ngx_walrus_seg_mark_slow(ngx_walrus_seg_t *seg);
static ngx_int_t ngx_walrus_seg_decode(ngx_walrus_seg_t *seg);
static void ngx_walrus_decode_thread(void *data, ngx_log_t *log);
static void ngx_walrus_decode_done(ngx_event_t *ev);
static void ngx_walrus_decode_apply(ngx_walrus_seg_t *seg,
    ngx_walrus_decode_t *d);
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
    ngx_walrus_call_t  *call;

    call = ngx_walrus_fanout_call(ctx->request, &ctx->fanout, arena, node,
                                  NGX_HTTP_GET, ctx->route.id_text, path,
                                  NULL, max);
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->kind = kind;

    if (out != NULL) {
        *out = call;
    }

    return NGX_OK;
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

    default: /* NGX_WALRUS_READ_CALL_SLIVER, NGX_WALRUS_READ_CALL_PROBE */
        ngx_walrus_seg_call(call->data, call);
        break;
    }
}


static void
ngx_walrus_seg_call(ngx_walrus_seg_t *seg, ngx_walrus_call_t *call)
{
    ngx_walrus_read_t  *ctx;

    ctx = seg->ctx;

    if (!seg->active || seg->calls[call->pair] != call) {
        ngx_walrus_call_release(call);
        return;
    }

    if (call->kind == NGX_WALRUS_READ_CALL_PROBE) {
        seg->probing--;

    } else {
        seg->outstanding--;
    }

    if ((call->status == NGX_HTTP_OK
         || call->status == NGX_HTTP_PARTIAL_CONTENT)
        && !call->truncated && call->body_len == seg->sliver_size)
    {
        seg->state[call->pair] = NGX_WALRUS_SLOT_ARRIVED;

        if (call->kind == NGX_WALRUS_READ_CALL_PROBE) {
            ngx_walrus_health_answered(ctx, call->node);
        }

        /* the sliver stays in the call until its segment is out */
        return;
    }

    ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                  "walrus: node %s answered %ui with %uz bytes for %V",
                  ctx->committee->nodes[call->node].name, call->status,
                  call->body_len, &call->node_uri);

    seg->state[call->pair] = NGX_WALRUS_SLOT_BAD;
    ngx_walrus_health_bad(ctx, call->node);
    ngx_walrus_call_release(call);
}


static ngx_int_t
ngx_walrus_seg_start(ngx_walrus_read_t *ctx, uint64_t g)
{
    unsigned             n;
    ngx_walrus_seg_t    *seg;
    ngx_http_request_t  *r;

    r = ctx->request;
    n = ctx->committee->params.n;
    seg = &ctx->window[g % NGX_WALRUS_WINDOW];

    if (seg->calls == NULL) {
        seg->ctx = ctx;
        seg->calls = ngx_pcalloc(r->pool, n * sizeof(ngx_walrus_call_t *));
        seg->state = ngx_pcalloc(r->pool, n);
        seg->verdict = ngx_pcalloc(r->pool, n);

        if (seg->calls == NULL || seg->state == NULL
            || seg->verdict == NULL)
        {
            return NGX_ERROR;
        }
    }

    ngx_walrus_seg_reset(seg);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: segment %uL starts", g);

    seg->arena = ngx_walrus_arena_create(&ctx->fanout, r->connection->log);
    if (seg->arena == NULL) {
        return NGX_ERROR;
    }

    seg->index = g;
    seg->length = walrus_segment_length(ctx->meta.length,
                                        ctx->meta.segment_size, g);
    seg->sym = walrus_symbol_size(&ctx->meta.params, seg->length);
    seg->sliver_size = walrus_sliver_size(&ctx->meta.params, WALRUS_PRIMARY,
                                          seg->sym);
    seg->started = ngx_current_msec;
    seg->hedged = seg->started;
    seg->active = 1;

    seg->out = ngx_walrus_buffer_alloc(
                   walrus_segment_padded_size(&ctx->meta.params, seg->length),
                   r->connection->log);
    if (seg->out == NULL) {
        return NGX_ERROR;
    }

    if (ngx_walrus_seg_probe(seg) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the p systematic slivers: no decoding when they all arrive */

    return ngx_walrus_seg_request(seg, ctx->meta.params.p);
}


static void
ngx_walrus_seg_reset(ngx_walrus_seg_t *seg)
{
    unsigned  i, n;

    n = seg->ctx->committee->params.n;

    for (i = 0; i < n; i++) {
        if (seg->calls[i] != NULL) {
            if (seg->state[i] == NGX_WALRUS_SLOT_REQUESTED
                && seg->calls[i]->kind == NGX_WALRUS_READ_CALL_PROBE)
            {
                ngx_walrus_health_probe_cut(seg->ctx, seg->calls[i]->node,
                                            seg->started);
            }

            ngx_walrus_fanout_cancel(seg->calls[i]);
            seg->calls[i] = NULL;
        }

        seg->state[i] = NGX_WALRUS_SLOT_IDLE;
        seg->verdict[i] = 0;
    }

    if (seg->arena != NULL) {
        ngx_walrus_arena_retire(seg->ctx->request, &seg->ctx->fanout,
                                seg->arena);
        seg->arena = NULL;
    }

    ngx_walrus_buffer_free(seg->out);
    seg->out = NULL;
    seg->buf = NULL;
    seg->outstanding = 0;
    seg->probing = 0;
    seg->rc = WALRUS_OK;
    seg->active = 0;
    seg->working = 0;
    seg->decoded = 0;
    seg->retry = 0;
}


/*
 * Asks for `count` more primary slivers, lowest pairs first, from nodes
 * that have not been slow, then slow ones, then ones that sent bad data.
 */

static ngx_int_t
ngx_walrus_seg_request(ngx_walrus_seg_t *seg, ngx_uint_t count)
{
    unsigned            pair, shard, node, n;
    ngx_uint_t          pass;
    ngx_walrus_read_t  *ctx;

    ctx = seg->ctx;
    n = ctx->committee->params.n;

    for (pass = NGX_WALRUS_NODE_GOOD; pass <= NGX_WALRUS_NODE_BAD; pass++) {
        for (pair = 0; pair < n && count > 0; pair++) {
            if (seg->state[pair] != NGX_WALRUS_SLOT_IDLE) {
                continue;
            }

            shard = walrus_pair_to_shard(&ctx->committee->params,
                                         ctx->route.blob_id, pair);
            node = ctx->committee->shard_owner[shard];

            if (ctx->health[node] != pass) {
                continue;
            }

            if (ngx_walrus_seg_ask(seg, pair, node,
                                   NGX_WALRUS_READ_CALL_SLIVER)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            seg->outstanding++;
            count--;
        }
    }

    return NGX_OK;
}


/* a slow node whose time is up gets one request this segment needs not */

static ngx_int_t
ngx_walrus_seg_probe(ngx_walrus_seg_t *seg)
{
    unsigned            pair, shard, node, n;
    ngx_walrus_read_t  *ctx;

    ctx = seg->ctx;
    n = ctx->committee->params.n;

    for (pair = 0; pair < n; pair++) {
        if (seg->state[pair] != NGX_WALRUS_SLOT_IDLE) {
            continue;
        }

        shard = walrus_pair_to_shard(&ctx->committee->params,
                                     ctx->route.blob_id, pair);
        node = ctx->committee->shard_owner[shard];

        if (!ngx_walrus_health_probe(ctx, node)) {
            continue;
        }

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP,
                       seg->ctx->request->connection->log, 0,
                       "walrus: segment %uL probes slow node %ud",
                       seg->index, node);

        if (ngx_walrus_seg_ask(seg, pair, node, NGX_WALRUS_READ_CALL_PROBE)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        seg->probing++;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_walrus_seg_ask(ngx_walrus_seg_t *seg, unsigned pair, unsigned node,
    ngx_walrus_read_call_e kind)
{
    u_char             *p;
    char                path[sizeof("slivers//primary") + NGX_INT32_LEN];
    uint64_t            off;
    ngx_walrus_call_t  *call;
    ngx_walrus_read_t  *ctx;

    ctx = seg->ctx;

    ngx_snprintf((u_char *) path, sizeof(path), "slivers/%ud/primary%Z",
                 pair);

    if (ngx_walrus_read_call(ctx, seg->arena, node, kind, path,
                             seg->sliver_size, &call)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    off = walrus_sliver_offset(&ctx->meta, WALRUS_PRIMARY, seg->index);

    call->range.data = ngx_pnalloc(call->pool, sizeof("bytes=-") - 1
                                               + 2 * NGX_INT64_LEN);
    if (call->range.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(call->range.data, "bytes=%uL-%uL", off,
                    off + seg->sliver_size - 1);
    call->range.len = p - call->range.data;

    call->pair = pair;
    call->data = seg;

    seg->calls[pair] = call;
    seg->state[pair] = NGX_WALRUS_SLOT_REQUESTED;

    return NGX_OK;
}


/* nodes still working on a segment when it is hedged count as slow */

static void
ngx_walrus_seg_mark_slow(ngx_walrus_seg_t *seg)
{
    unsigned  i;

    for (i = 0; i < seg->ctx->committee->params.n; i++) {
        if (seg->state[i] == NGX_WALRUS_SLOT_REQUESTED) {
            ngx_walrus_health_slow(seg->ctx, seg->calls[i]->node);
        }
    }
}


/* NGX_AGAIN while the segment is on its way, else what ends the request */

static ngx_int_t
ngx_walrus_seg_progress(ngx_walrus_seg_t *seg)
{
    unsigned                        i, n, p, have, bad;
    ngx_walrus_read_t              *ctx;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    ctx = seg->ctx;
    n = ctx->committee->params.n;
    p = ctx->committee->params.p;
    wlcf = ngx_walrus_gateway_loc_conf(ctx->request);

    if (seg->working || seg->rc == WALRUS_EINCONSISTENT) {
        return NGX_AGAIN;
    }

    if (seg->rc != WALRUS_OK && seg->rc != WALRUS_ENOTENOUGH) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    have = 0;
    bad = 0;

    for (i = 0; i < n; i++) {
        have += seg->state[i] == NGX_WALRUS_SLOT_ARRIVED
                || seg->state[i] == NGX_WALRUS_SLOT_GOOD;
        bad += seg->state[i] == NGX_WALRUS_SLOT_BAD;
    }

    if (have >= p) {
        return ngx_walrus_seg_decode(seg);
    }

    /* replace failed requests; hedge late ones every hedge delay */

    if (have + seg->outstanding < p
        && ngx_walrus_seg_request(seg, p - have - seg->outstanding)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (seg->outstanding > 0
        && ngx_current_msec - seg->hedged >= wlcf->hedge_delay)
    {
        seg->hedged = ngx_current_msec;
        ngx_walrus_seg_mark_slow(seg);

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "walrus: segment %uL hedges: %ui slivers late, "
                       "%ud verified", seg->index, seg->outstanding, have);

        if (ngx_walrus_seg_request(seg, ngx_min(seg->outstanding, p - have))
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (seg->outstanding + seg->probing > 0
        && ngx_current_msec - seg->started < wlcf->read_timeout)
    {
        return NGX_AGAIN;
    }

    ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                  "walrus: only %ud of %ud good slivers for segment %uL of "
                  "blob %s (%ud bad)", have, p, seg->index,
                  ctx->route.id_text, bad);

    if (ctx->header_sent) {
        return NGX_ERROR;
    }

    return ngx_walrus_send_error(ctx->request, NGX_HTTP_SERVICE_UNAVAILABLE,
                                 NGX_WALRUS_DOMAIN_GATEWAY,
                                 "NOT_ENOUGH_SLIVERS",
                                 "too few verified slivers of blob %s could "
                                 "be had", ctx->route.id_text);
}


static ngx_int_t
ngx_walrus_seg_decode(ngx_walrus_seg_t *seg)
{
    unsigned                        i, n;
    ngx_thread_task_t              *task;
    ngx_walrus_read_t              *ctx;
    ngx_http_request_t             *r;
    ngx_walrus_decode_t            *d, dd;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    ctx = seg->ctx;
    r = ctx->request;
    n = ctx->committee->params.n;
    wlcf = ngx_walrus_gateway_loc_conf(r);

    if (seg->length <= wlcf->inline_size) {
        d = &dd;
        task = NULL;

    } else {
        /* a window slot has one task at a time: it is made once */

        if (seg->task == NULL) {
            seg->task = ngx_thread_task_alloc(r->pool,
                                              sizeof(ngx_walrus_decode_t));
            if (seg->task == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        task = seg->task;
        d = task->ctx;
    }

    d->seg = seg;
    d->n = n;
    d->pair_hashes = walrus_metadata_segment(&ctx->meta, seg->index);

    for (i = 0; i < n; i++) {
        d->slivers[i] = NULL;
        d->verdict[i] = seg->state[i];

        if (seg->state[i] == NGX_WALRUS_SLOT_ARRIVED
            || seg->state[i] == NGX_WALRUS_SLOT_GOOD)
        {
            d->slivers[i] = seg->calls[i]->body;
        }
    }

    if (task == NULL) {
        ngx_walrus_decode_thread(d, r->connection->log);
        ngx_walrus_decode_apply(seg, d);
        return NGX_AGAIN;
    }

    task->handler = ngx_walrus_decode_thread;
    task->event.data = d;
    task->event.handler = ngx_walrus_decode_done;

    if (ngx_thread_task_post(wlcf->thread_pool, task) != NGX_OK) {
        if (ctx->header_sent) {
            return NGX_ERROR;
        }

        return ngx_walrus_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "OVERLOADED", "the decoder queue is "
                                     "full; retry later");
    }

    seg->working = 1;
    r->main->blocked++;

    return NGX_AGAIN;
}


/* runs in the thread pool: verify what arrived, then decode */

static void
ngx_walrus_decode_thread(void *data, ngx_log_t *log)
{
    ngx_walrus_decode_t  *d = data;

    unsigned           i, good;
    const uint8_t     *present[WALRUS_MAX_SHARDS];
    walrus_codec_t    *codec;
    ngx_walrus_seg_t  *seg;

    seg = d->seg;
    good = 0;

    codec = walrus_codec_create(d->n);
    if (codec == NULL) {
        d->rc = WALRUS_ENOMEM;
        return;
    }

    for (i = 0; i < d->n; i++) {
        present[i] = NULL;

        if (d->verdict[i] == NGX_WALRUS_SLOT_ARRIVED) {
            d->verdict[i] = walrus_sliver_verify(codec, WALRUS_PRIMARY, i,
                                                 seg->sym, d->slivers[i],
                                                 seg->sliver_size,
                                                 d->pair_hashes
                                                 + (size_t) i
                                                   * WALRUS_PAIR_HASH_LEN)
                            == WALRUS_OK ? NGX_WALRUS_SLOT_GOOD
                                         : NGX_WALRUS_SLOT_BAD;
        }

        if (d->verdict[i] == NGX_WALRUS_SLOT_GOOD) {
            present[i] = d->slivers[i];
            good++;
        }
    }

    d->rc = good < walrus_codec_params(codec)->p
            ? WALRUS_ENOTENOUGH
            : walrus_segment_decode(codec, d->pair_hashes, seg->length,
                                    present, seg->out);

    walrus_codec_destroy(codec);
}


static void
ngx_walrus_decode_done(ngx_event_t *ev)
{
    ngx_connection_t     *c;
    ngx_walrus_seg_t     *seg;
    ngx_http_request_t   *r;
    ngx_walrus_decode_t  *d;

    d = ev->data;
    seg = d->seg;
    r = seg->ctx->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    r->main->blocked--;
    seg->working = 0;

    ngx_walrus_decode_apply(seg, d);

    r->write_event_handler(r);
    ngx_http_run_posted_requests(c);
}


static void
ngx_walrus_decode_apply(ngx_walrus_seg_t *seg, ngx_walrus_decode_t *d)
{
    unsigned            i;
    ngx_walrus_read_t  *ctx;

    ctx = seg->ctx;

    for (i = 0; i < d->n; i++) {
        if (seg->state[i] == NGX_WALRUS_SLOT_ARRIVED
            && d->verdict[i] == NGX_WALRUS_SLOT_BAD)
        {
            ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                          "walrus: node %s sent a primary sliver %ud of "
                          "segment %uL of blob %s that does not match the "
                          "metadata; skipped",
                          ctx->committee->nodes[seg->calls[i]->node].name,
                          i, seg->index, ctx->route.id_text);
            ngx_walrus_health_bad(ctx, seg->calls[i]->node);
            ngx_walrus_call_release(seg->calls[i]);
        }

        /* a sliver that arrived while the task ran waits for the next */

        if (seg->state[i] == NGX_WALRUS_SLOT_ARRIVED
            && d->verdict[i] != NGX_WALRUS_SLOT_REQUESTED)
        {
            seg->state[i] = d->verdict[i];
        }
    }

    seg->rc = d->rc;
    seg->decoded = d->rc == WALRUS_OK;
    seg->retry = d->rc == WALRUS_ENOTENOUGH;
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
    ngx_chain_t                out;
    const char                *type;
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

            if (ctx->header_sent) {
                return NGX_ERROR;
            }

            return ngx_walrus_send_error(r, NGX_WALRUS_HTTP_INCONSISTENT,
                                         NGX_WALRUS_DOMAIN_GATEWAY,
                                         "INCONSISTENT_BLOB",
                                         "blob %s was encoded "
                                         "inconsistently and cannot be "
                                         "served", ctx->route.id_text);
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
        b->last_buf = ctx->next_send == ctx->last_seg;

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
        t = ngx_current_msec - ctx->started;
        wait = t < wait ? wait - t : 1;

        if (ctx->missing_seen) {
            t = ngx_current_msec - ctx->missing_since;
            left = t < wlcf->hedge_delay ? wlcf->hedge_delay - t : 1;
            wait = ngx_min(wait, left);
        }
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
