/*
 * Gateway audits, the driver: GET/HEAD /v1/audits and the certificates
 * and fraud proofs the gateway keeps.  A request answers from the
 * worker's memory when it can (a view younger than
 * NGX_WALRUS_AUDITS_FRESH, a kept item); otherwise it refreshes: every
 * node is asked for its newest beacon and its audit status, both read
 * in the thread pool (the newest valid beacon gives the newest round),
 * Redis is asked for what it keeps, every node for its certificates of
 * the newest rounds the worker lacks and its peers for the fraud proofs
 * they hold against it, all verified in the thread pool and kept.  Each
 * round of node requests ends at walrus_gateway_read_timeout.
 */

#include <ngx_walrus_audits.h>


static ngx_int_t ngx_walrus_audits_start(ngx_walrus_audits_t *ctx);
static ngx_int_t ngx_walrus_audits_run(ngx_walrus_audits_t *ctx);
static void ngx_walrus_audits_arm(ngx_walrus_audits_t *ctx);
static void ngx_walrus_audits_timer(ngx_event_t *ev);
static void ngx_walrus_audits_uncount(ngx_walrus_audits_t *ctx);
static void ngx_walrus_audits_cleanup(void *data);


ngx_int_t
ngx_walrus_audits(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    ngx_str_t                 view;
    ngx_msec_t                age;
    ngx_uint_t                fresh, *refreshing;
    ngx_pool_cleanup_t       *cln;
    ngx_walrus_audits_t      *ctx;
    ngx_walrus_main_conf_t   *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);

    if (rt->kind != NGX_WALRUS_ROUTE_AUDITS
        && rt->node >= wmcf->committee->nnodes)
    {
        return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "NO_SUCH_PATH",
                                     "no node %ui in the committee",
                                     rt->node);
    }

    refreshing = ngx_walrus_audits_refreshing();
    fresh = ngx_walrus_audits_view(&view, &age) == NGX_OK
            && (age < NGX_WALRUS_AUDITS_FRESH || *refreshing > 0);

    /* a view another request is refreshing is served meanwhile */

    if (rt->kind == NGX_WALRUS_ROUTE_AUDITS && fresh) {
        return ngx_walrus_audits_send_view(r, &view);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_walrus_audits_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ctx == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->committee = wmcf->committee;
    ctx->kind = rt->kind == NGX_WALRUS_ROUTE_AUDITS_CERT
                ? NGX_WALRUS_AUDITS_CERT
                : rt->kind == NGX_WALRUS_ROUTE_AUDITS_FRAUD
                  ? NGX_WALRUS_AUDITS_FRAUD : NGX_WALRUS_AUDITS_VIEW;
    ctx->node = rt->node;
    ctx->round = rt->round;
    ctx->picked = -1;

    if (ctx->kind != NGX_WALRUS_AUDITS_VIEW
        && ngx_walrus_audits_held(ctx, ctx->kind == NGX_WALRUS_AUDITS_FRAUD,
                                  ctx->node, ctx->round))
    {
        return ngx_walrus_audits_send_kept(ctx);
    }

    if (ngx_array_init(&ctx->items, r->pool, 8,
                       sizeof(ngx_walrus_audits_item_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->newest = ngx_walrus_audits_beacon(&ctx->leader);

    cln->handler = ngx_walrus_audits_cleanup;
    cln->data = ctx;

    ngx_walrus_fanout_init(&ctx->fanout,
                           &ngx_walrus_gateway_loc_conf(r)->node_location);
    ngx_walrus_gateway_ctx(r)->audits = ctx;

    ctx->timer.handler = ngx_walrus_audits_timer;
    ctx->timer.data = r;
    ctx->timer.log = r->connection->log;

    r->write_event_handler = ngx_walrus_audits_step;
    r->read_event_handler = ngx_http_test_reading;
    r->main->count++;

    /* a certificate or proof asked for while the view is fresh: Redis */

    ctx->refresh = !fresh;

    if (ngx_walrus_audits_start(ctx) != NGX_OK) {
        ngx_walrus_audits_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_DONE;
    }

    ngx_walrus_audits_step(r);

    return NGX_DONE;
}


static ngx_int_t
ngx_walrus_audits_start(ngx_walrus_audits_t *ctx)
{
    ngx_uint_t  i, *refreshing;

    if (!ctx->refresh) {
        ngx_walrus_audits_phase(ctx, NGX_WALRUS_AUDITS_READ);
        return NGX_OK;
    }

    refreshing = ngx_walrus_audits_refreshing();
    (*refreshing)++;
    ctx->counted = 1;

    ctx->nodes = ngx_pcalloc(ctx->request->pool, ctx->committee->nnodes
                                           * sizeof(ngx_walrus_audits_node_t));
    if (ctx->nodes == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < ctx->committee->nnodes; i++) {
        ngx_memset(ctx->nodes[i].fraud_from, 0xff,
                   sizeof(ctx->nodes[i].fraud_from));
    }

    return ngx_walrus_audits_ask(ctx);
}


void
ngx_walrus_audits_step(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    ngx_walrus_audits_t  *ctx;

    ctx = ngx_walrus_gateway_ctx(r)->audits;

    if (ctx->phase == NGX_WALRUS_AUDITS_DONE) {
        return;
    }

    rc = ngx_walrus_audits_run(ctx);

    if (rc == NGX_AGAIN) {
        ngx_walrus_audits_arm(ctx);
        return;
    }

    if (rc == NGX_DONE) {
        /* a thread task or Redis steps the request on */
        return;
    }

    ngx_walrus_audits_finish(ctx, rc);
}


/*
 * Moves the request through its phases until it waits: NGX_AGAIN for
 * nodes (with a deadline), NGX_DONE for a thread task or Redis; or it
 * is over (what ends the request).
 */

static ngx_int_t
ngx_walrus_audits_run(ngx_walrus_audits_t *ctx)
{
    ngx_int_t                       rc;
    ngx_uint_t                      over;
    ngx_walrus_call_t              *call;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_gateway_loc_conf(ctx->request);

    for ( ;; ) {
        while ((call = ngx_walrus_fanout_next(&ctx->fanout)) != NULL) {
            ngx_walrus_audits_handle(ctx, call);
        }

        over = ngx_current_msec - ctx->started >= wlcf->read_timeout;

        switch (ctx->phase) {

        case NGX_WALRUS_AUDITS_ASK:
        case NGX_WALRUS_AUDITS_FETCH:
            if (ctx->fanout.active > 0 && !over) {
                return NGX_AGAIN;
            }

            /* the nodes that have not answered by now count as silent */

            ngx_walrus_fanout_cancel_all(&ctx->fanout);

            if (ctx->phase == NGX_WALRUS_AUDITS_ASK) {
                ngx_walrus_audits_phase(ctx, NGX_WALRUS_AUDITS_READ);
                rc = ngx_walrus_audits_read(ctx);

            } else {
                ngx_walrus_audits_phase(ctx, NGX_WALRUS_AUDITS_CHECK);
                rc = ngx_walrus_audits_check(ctx);
            }

            if (rc == NGX_BUSY) {
                return ngx_walrus_send_error(ctx->request,
                                             NGX_HTTP_TOO_MANY_REQUESTS,
                                             NGX_WALRUS_DOMAIN_GATEWAY,
                                             "OVERLOADED",
                                             "the thread pool's queue is "
                                             "full; retry later");
            }

            if (rc == NGX_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            break;

        case NGX_WALRUS_AUDITS_READ:
            if (ctx->working) {
                return NGX_DONE;
            }

            ngx_walrus_audits_phase(ctx, NGX_WALRUS_AUDITS_REDIS_LOAD);
            (void) ngx_walrus_audits_redis_load(ctx);
            break;

        case NGX_WALRUS_AUDITS_REDIS_LOAD:
            if (ctx->redis_pending > 0) {
                return NGX_DONE;
            }

            ngx_walrus_audits_phase(ctx, NGX_WALRUS_AUDITS_FETCH);

            if (ctx->refresh && ngx_walrus_audits_fetch(ctx) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            break;

        case NGX_WALRUS_AUDITS_CHECK:
            if (ctx->working) {
                return NGX_DONE;
            }

            ngx_walrus_audits_phase(ctx, NGX_WALRUS_AUDITS_DONE);

            return ngx_walrus_audits_answer(ctx);

        default: /* NGX_WALRUS_AUDITS_DONE */
            return NGX_DONE;
        }
    }
}


static void
ngx_walrus_audits_arm(ngx_walrus_audits_t *ctx)
{
    ngx_msec_t                      t;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_gateway_loc_conf(ctx->request);
    t = ngx_current_msec - ctx->started;

    ngx_add_timer(&ctx->timer, t < wlcf->read_timeout
                               ? wlcf->read_timeout - t : 1);
}


static void
ngx_walrus_audits_timer(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ev->data;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ngx_walrus_audits_step(r);
    ngx_http_run_posted_requests(c);
}


void
ngx_walrus_audits_phase(ngx_walrus_audits_t *ctx,
    ngx_walrus_audits_phase_e phase)
{
#if (NGX_DEBUG)
    static const char  *names[] = {
        "ask", "read", "redis", "fetch", "check", "done"
    };

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "walrus: audits at round %uD: %s -> %s", ctx->newest,
                   names[ctx->phase], names[phase]);
#endif

    ctx->phase = phase;
}


void
ngx_walrus_audits_finish(ngx_walrus_audits_t *ctx, ngx_int_t rc)
{
    ngx_http_request_t  *r;

    r = ctx->request;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: audits request ends: %i", rc);

    ngx_walrus_audits_phase(ctx, NGX_WALRUS_AUDITS_DONE);
    ngx_walrus_audits_uncount(ctx);
    ctx->fanout.closed = 1;
    ngx_walrus_fanout_cancel_all(&ctx->fanout);

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_http_finalize_request(r, rc);
}


/* the view is another request's to refresh from now on */

static void
ngx_walrus_audits_uncount(ngx_walrus_audits_t *ctx)
{
    ngx_uint_t  *refreshing;

    if (ctx->counted) {
        refreshing = ngx_walrus_audits_refreshing();
        (*refreshing)--;
        ctx->counted = 0;
    }
}


static void
ngx_walrus_audits_cleanup(void *data)
{
    ngx_walrus_audits_t  *ctx = data;

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    ngx_walrus_audits_uncount(ctx);
    ctx->fanout.closed = 1;
    ngx_walrus_fanout_free(&ctx->fanout);
}
