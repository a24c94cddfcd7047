/*
 * Gateway read path: the worker's memory of slow nodes and a read's view
 * of every node (ngx_walrus_node_health_e).
 */

#include <ngx_walrus_read.h>


/*
 * Per worker: a node is slow from a hedge over it until an answer to a
 * probe.  From `until` on, the next segment of a read asks it once on the
 * side of its p requests (a probe no read waits for).
 */

typedef struct {
    ngx_msec_t             until;
    unsigned               slow:1;
} ngx_walrus_slow_t;

static ngx_walrus_slow_t  ngx_walrus_slow[WALRUS_MAX_SHARDS];


ngx_int_t
ngx_walrus_health_init(ngx_walrus_read_t *ctx)
{
    ngx_uint_t  i, n;

    n = ctx->committee->nnodes;

    ctx->health = ngx_palloc(ctx->request->pool,
                             n * sizeof(ngx_walrus_node_health_e));
    if (ctx->health == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        ctx->health[i] = ngx_walrus_slow[i].slow ? NGX_WALRUS_NODE_SLOW
                                                 : NGX_WALRUS_NODE_GOOD;
    }

    return NGX_OK;
}


void
ngx_walrus_health_slow(ngx_walrus_read_t *ctx, ngx_uint_t node)
{
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    /* a node that sent wrong data stays last */

    if (ctx->health[node] != NGX_WALRUS_NODE_GOOD) {
        return;
    }

    wlcf = ngx_walrus_gateway_loc_conf(ctx->request);

    ctx->health[node] = NGX_WALRUS_NODE_SLOW;
    ngx_walrus_slow[node].slow = 1;
    ngx_walrus_slow[node].until = ngx_current_msec + wlcf->slow_timeout;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "walrus: node %s is slow for %M ms",
                   ctx->committee->nodes[node].name, wlcf->slow_timeout);
}


void
ngx_walrus_health_bad(ngx_walrus_read_t *ctx, ngx_uint_t node)
{
    ctx->health[node] = NGX_WALRUS_NODE_BAD;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "walrus: node %s is asked last by this read",
                   ctx->committee->nodes[node].name);
}


ngx_uint_t
ngx_walrus_health_probe(ngx_walrus_read_t *ctx, ngx_uint_t node)
{
    ngx_walrus_slow_t              *slow;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    slow = &ngx_walrus_slow[node];

    if (!slow->slow || ctx->health[node] != NGX_WALRUS_NODE_SLOW
        || (ngx_msec_int_t) (slow->until - ngx_current_msec) > 0)
    {
        return 0;
    }

    /* other reads keep avoiding it until the answer or another time */

    wlcf = ngx_walrus_gateway_loc_conf(ctx->request);
    slow->until = ngx_current_msec + wlcf->slow_timeout;

    return 1;
}


void
ngx_walrus_health_answered(ngx_walrus_read_t *ctx, ngx_uint_t node)
{
    ngx_walrus_slow[node].slow = 0;

    if (ctx->health[node] == NGX_WALRUS_NODE_SLOW) {
        ctx->health[node] = NGX_WALRUS_NODE_GOOD;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "walrus: node %s answered a probe: no longer slow",
                   ctx->committee->nodes[node].name);
}


/*
 * A node that had a hedge delay to answer stays slow; otherwise a read a
 * hedge delay on asks again.
 */

void
ngx_walrus_health_probe_cut(ngx_walrus_read_t *ctx, ngx_uint_t node,
    ngx_msec_t asked)
{
    ngx_msec_t                      wait;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_gateway_loc_conf(ctx->request);

    wait = ngx_current_msec - asked >= wlcf->hedge_delay
           ? wlcf->slow_timeout : wlcf->hedge_delay;

    ngx_walrus_slow[node].until = ngx_current_msec + wait;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "walrus: probe of node %s cut; the next in %M ms",
                   ctx->committee->nodes[node].name, wait);
}
