/*
 * Gateway audits: the node requests.  Every node is asked for its newest
 * beacon and its audit status; then each node that answered for its
 * certificates of the window the worker lacks, and the peers that say
 * they hold fraud proofs for those, a few per refresh.  What comes back
 * is taken as it is (ngx_walrus_audits_check.c verifies it).
 */

#include <ngx_walrus_audits.h>


static ngx_int_t ngx_walrus_audits_fetch_frauds(ngx_walrus_audits_t *ctx,
    uint32_t oldest, ngx_uint_t *left);
static ngx_int_t ngx_walrus_audits_call(ngx_walrus_audits_t *ctx,
    ngx_uint_t node, ngx_walrus_audits_call_e kind, uint32_t round,
    ngx_uint_t target);
static ngx_uint_t ngx_walrus_audits_pending(ngx_walrus_audits_t *ctx,
    ngx_uint_t fraud, ngx_uint_t node, uint32_t round);


/* every node's newest beacon and audit status */

ngx_int_t
ngx_walrus_audits_ask(ngx_walrus_audits_t *ctx)
{
    ngx_uint_t  i;

    ctx->started = ngx_current_msec;

    for (i = 0; i < ctx->committee->nnodes; i++) {
        if (ngx_walrus_audits_call(ctx, i, NGX_WALRUS_AUDITS_CALL_BEACON, 0,
                                   i)
            != NGX_OK
            || ngx_walrus_audits_call(ctx, i, NGX_WALRUS_AUDITS_CALL_STATUS,
                                      0, i)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The certificates of the window the worker lacks, from each node that
 * answered (one that did not would only make the request wait for it
 * again), and fraud proofs the peers hold, a few per refresh: the one
 * asked for first.
 */

ngx_int_t
ngx_walrus_audits_fetch(ngx_walrus_audits_t *ctx)
{
    uint32_t    r, oldest;
    ngx_uint_t  x, left;

    ctx->started = ngx_current_msec;
    oldest = ngx_walrus_audits_oldest(ctx);
    left = NGX_WALRUS_AUDITS_FRAUD_FETCH;

    if (ngx_walrus_audits_fetch_frauds(ctx, oldest, &left) != NGX_OK) {
        return NGX_ERROR;
    }

    for (x = 0; x < ctx->committee->nnodes; x++) {
        if (!ctx->nodes[x].reachable) {
            continue;
        }

        for (r = oldest; oldest > 0 && r <= ctx->newest; r++) {
            if (!ngx_walrus_audits_held(ctx, 0, x, r)
                && ngx_walrus_audits_call(ctx, x, NGX_WALRUS_AUDITS_CALL_CERT,
                                          r, x)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        if (ctx->kind == NGX_WALRUS_AUDITS_CERT && ctx->node == x
            && (ctx->round < oldest || ctx->round > ctx->newest)
            && !ngx_walrus_audits_held(ctx, 0, x, ctx->round)
            && ngx_walrus_audits_call(ctx, x, NGX_WALRUS_AUDITS_CALL_CERT,
                                      ctx->round, x)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* from the first peer whose status says it holds one */

static ngx_int_t
ngx_walrus_audits_fetch_frauds(ngx_walrus_audits_t *ctx, uint32_t oldest,
    ngx_uint_t *left)
{
    uint32_t    r;
    ngx_int_t   from;
    ngx_uint_t  x, i, pass;

    if (oldest == 0) {
        return NGX_OK;
    }

    for (pass = 0; pass < 2; pass++) {
        for (x = 0; x < ctx->committee->nnodes; x++) {
            for (i = 0; i < NGX_WALRUS_AUDITS_ROUNDS; i++) {
                r = oldest + i;
                from = ctx->nodes[x].fraud_from[i];

                if (r > ctx->newest || from < 0 || *left == 0) {
                    continue;
                }

                /* the first pass is for the one the request asks for */

                if (pass == 0
                    && (ctx->kind != NGX_WALRUS_AUDITS_FRAUD
                        || ctx->node != x || ctx->round != r))
                {
                    continue;
                }

                if (ngx_walrus_audits_held(ctx, 1, x, r)) {
                    continue;
                }

                if (ngx_walrus_audits_call(ctx, from,
                                           NGX_WALRUS_AUDITS_CALL_FRAUD, r, x)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

                (*left)--;
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_walrus_audits_call(ngx_walrus_audits_t *ctx, ngx_uint_t node,
    ngx_walrus_audits_call_e kind, uint32_t round, ngx_uint_t target)
{
    u_char             *p;
    size_t              max;
    ngx_str_t           uri;
    ngx_walrus_call_t  *call;
    u_char              buf[sizeof("/v1/audit/rounds//frauds/")
                            + 2 * NGX_INT32_LEN];

    p = buf;

    switch (kind) {

    case NGX_WALRUS_AUDITS_CALL_BEACON:
        p = ngx_sprintf(p, "/v1/audit/beacon");
        max = WALRUS_AUDIT_BEACON_MAX;
        break;

    case NGX_WALRUS_AUDITS_CALL_STATUS:
        p = ngx_sprintf(p, "/v1/audit/status");
        max = NGX_WALRUS_AUDITS_STATUS_MAX;
        break;

    case NGX_WALRUS_AUDITS_CALL_CERT:
        p = ngx_sprintf(p, "/v1/audit/rounds/%uD/certificate", round);
        max = WALRUS_AUDIT_CERT_MAX;
        break;

    default: /* NGX_WALRUS_AUDITS_CALL_FRAUD */
        p = ngx_sprintf(p, "/v1/audit/rounds/%uD/frauds/%ui", round, target);
        max = NGX_WALRUS_AUDITS_FRAUD_MAX;
        break;
    }

    uri.data = buf;
    uri.len = p - buf;

    call = ngx_walrus_fanout_call_uri(ctx->request, &ctx->fanout, NULL, node,
                                      NGX_HTTP_GET, &uri, NULL, max);
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->kind = kind;
    call->pair = round;
    call->data = &ctx->nodes[target];

    if (kind == NGX_WALRUS_AUDITS_CALL_BEACON) {
        ctx->nodes[target].beacon = call;

    } else if (kind == NGX_WALRUS_AUDITS_CALL_STATUS) {
        ctx->nodes[target].status = call;
    }

    return NGX_OK;
}


void
ngx_walrus_audits_handle(ngx_walrus_audits_t *ctx, ngx_walrus_call_t *call)
{
    ngx_uint_t                 ok, target;
    ngx_walrus_audits_item_t  *it;
    ngx_walrus_audits_node_t  *an;

    an = &ctx->nodes[call->node];
    ok = call->status == NGX_HTTP_OK && !call->truncated
         && call->body_len > 0;

    /* nginx's 502 and 504 are for nodes that did not answer */

    if (call->status >= NGX_HTTP_OK
        && call->status < NGX_HTTP_INTERNAL_SERVER_ERROR)
    {
        an->reachable = 1;
    }

    switch (call->kind) {

    case NGX_WALRUS_AUDITS_CALL_BEACON:
    case NGX_WALRUS_AUDITS_CALL_STATUS:
        /* read in the thread pool */
        if (!ok) {
            ngx_walrus_call_release(call);
        }

        return;

    case NGX_WALRUS_AUDITS_CALL_CERT:
        if (call->pair == ctx->newest) {
            an->cert_status = call->truncated ? NGX_HTTP_OK : call->status;
        }

        target = call->node;
        break;

    default: /* NGX_WALRUS_AUDITS_CALL_FRAUD */
        target = (ngx_walrus_audits_node_t *) call->data - ctx->nodes;
        break;
    }

    it = ok ? ngx_walrus_audits_item(ctx,
                                     call->kind == NGX_WALRUS_AUDITS_CALL_FRAUD,
                                     target, (uint32_t) call->pair)
            : NULL;

    if (it == NULL) {
        ngx_walrus_call_release(call);
        return;
    }

    it->from = call->node;
    it->bytes = call->body;
    it->len = call->body_len;
    it->call = call;
}


ngx_walrus_audits_item_t *
ngx_walrus_audits_item(ngx_walrus_audits_t *ctx, ngx_uint_t fraud,
    ngx_uint_t node, uint32_t round)
{
    ngx_walrus_audits_item_t  *it;

    it = ngx_array_push(&ctx->items);
    if (it == NULL) {
        return NULL;
    }

    ngx_memzero(it, sizeof(ngx_walrus_audits_item_t));
    it->fraud = fraud;
    it->node = node;
    it->round = round;
    it->from = NGX_WALRUS_AUDITS_REDIS;
    it->rc = WALRUS_EINVAL;

    return it;
}


static ngx_uint_t
ngx_walrus_audits_pending(ngx_walrus_audits_t *ctx, ngx_uint_t fraud,
    ngx_uint_t node, uint32_t round)
{
    ngx_uint_t                 i;
    ngx_walrus_audits_item_t  *it;

    it = ctx->items.elts;

    for (i = 0; i < ctx->items.nelts; i++) {
        if (it[i].fraud == fraud && it[i].node == node
            && it[i].round == round)
        {
            return 1;
        }
    }

    return 0;
}


/* kept by the worker, or about to be verified */

ngx_uint_t
ngx_walrus_audits_held(ngx_walrus_audits_t *ctx, ngx_uint_t fraud,
    ngx_uint_t node, uint32_t round)
{
    ngx_str_t                   bytes;
    ngx_walrus_audits_fraud_t  *f;

    if (fraud) {
        f = ngx_walrus_audits_fraud(node, round);

        /* a proof listed whose bytes the worker let go is asked again */

        if (f != NULL && f->bytes != NULL) {
            return 1;
        }

    } else if (ngx_walrus_audits_cert(node, round, &bytes) == NGX_OK) {
        return 1;
    }

    return ctx->items.elts != NULL
           && ngx_walrus_audits_pending(ctx, fraud, node, round);
}


uint32_t
ngx_walrus_audits_oldest(ngx_walrus_audits_t *ctx)
{
    if (ctx->newest == 0) {
        return 0;
    }

    return ctx->newest >= NGX_WALRUS_AUDITS_ROUNDS
           ? ctx->newest - NGX_WALRUS_AUDITS_ROUNDS + 1 : 1;
}
