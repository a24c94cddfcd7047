/*
 * Gateway read path: the segments of a read's window.  Each asks the
 * nodes of its p systematic primary slivers first (no decoding when they
 * all arrive), replaces failed requests, hedges late ones with other
 * nodes every walrus_gateway_hedge_delay, probes slow nodes on the side,
 * and has what arrived verified and decoded (ngx_walrus_read_decode.c).
 */

#include <ngx_walrus_read.h>
#include <ngx_walrus_buffer.h>
#include <walrus_codec.h>




static ngx_int_t ngx_walrus_seg_request(ngx_walrus_seg_t *seg,
    ngx_uint_t count);
static ngx_int_t ngx_walrus_seg_probe(ngx_walrus_seg_t *seg);
static ngx_int_t ngx_walrus_seg_ask(ngx_walrus_seg_t *seg, unsigned pair,
    unsigned node, ngx_walrus_read_call_e kind);
static void ngx_walrus_seg_mark_slow(ngx_walrus_seg_t *seg);


ngx_int_t
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


void
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

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
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
    const char         *name;
    ngx_walrus_call_t  *call;
    ngx_walrus_read_t  *ctx;

    ctx = seg->ctx;

    ngx_snprintf((u_char *) path, sizeof(path), "slivers/%ud/primary%Z",
                 pair);

    /* tagged with the shard's owner now, sent to its old owner by name */

    name = kind == NGX_WALRUS_READ_CALL_OLD_OWNER
           ? ngx_walrus_read_old_owner(ctx, pair)->name
           : ctx->committee->nodes[node].name;

    if (ngx_walrus_read_call_to(ctx, seg->arena, name, node, kind, path,
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
        if (seg->state[i] == NGX_WALRUS_SLOT_REQUESTED
            && seg->calls[i]->kind != NGX_WALRUS_READ_CALL_OLD_OWNER)
        {
            ngx_walrus_health_slow(seg->ctx, seg->calls[i]->node);
        }
    }
}


void
ngx_walrus_seg_call(ngx_walrus_seg_t *seg, ngx_walrus_call_t *call)
{
    unsigned            pair, node;
    ngx_walrus_read_t  *ctx;

    ctx = seg->ctx;

    /* a request cancelled with its segment (the slot may be reused) */

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

        ngx_walrus_peer_count(call->name, NGX_WALRUS_PM_FETCHES,
                              NGX_WALRUS_FETCH_OK);
        ngx_walrus_peer_observe(call->name, ngx_current_msec - call->start);

        if (call->kind == NGX_WALRUS_READ_CALL_PROBE) {
            ngx_walrus_health_answered(ctx, call->node);
        }

        /* the sliver stays in the call until its segment is out */
        return;
    }

    ngx_walrus_peer_count(call->name, NGX_WALRUS_PM_FETCHES,
                          NGX_WALRUS_FETCH_FAILED);

    /*
     * The shard may be in flight: its new owner may not hold the pair yet
     * while its old owner still does (docs/protocol.md 18.6)
     */

    if (call->kind == NGX_WALRUS_READ_CALL_SLIVER
        && ngx_walrus_read_old_owner(ctx, call->pair) != NULL)
    {
        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "walrus: node %s answered %ui for %V: asking the "
                       "shard's old owner %s", call->name, call->status,
                       &call->node_uri,
                       ngx_walrus_read_old_owner(ctx, call->pair)->name);

        pair = call->pair;
        node = call->node;
        seg->calls[pair] = NULL;
        ngx_walrus_call_release(call);

        if (ngx_walrus_seg_ask(seg, pair, node,
                               NGX_WALRUS_READ_CALL_OLD_OWNER)
            == NGX_OK)
        {
            seg->outstanding++;
            return;
        }

        seg->state[pair] = NGX_WALRUS_SLOT_BAD;
        return;
    }

    ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                  "walrus: node %s answered %ui with %uz bytes for %V",
                  call->name, call->status, call->body_len,
                  &call->node_uri);

    seg->state[call->pair] = NGX_WALRUS_SLOT_BAD;

    if (call->kind != NGX_WALRUS_READ_CALL_OLD_OWNER) {
        ngx_walrus_health_bad(ctx, call->node);
    }

    ngx_walrus_call_release(call);
}


/* NGX_AGAIN while the segment is on its way, else what ends the request */

ngx_int_t
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
        ngx_walrus_gateway_count(NGX_WALRUS_GM_HEDGES, 0);

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
