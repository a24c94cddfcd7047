/*
 * Gateway audits: the answers.  The view of GET /v1/audits is made of
 * what the worker verified (certificates, fraud proofs, the newest
 * round) and of what the refresh learned from the nodes (who answered,
 * what peers report); it is kept as the worker's view and served until
 * it is NGX_WALRUS_AUDITS_FRESH old.  A kept certificate or fraud proof
 * is served as its bytes, for anyone to check with walrusctl.
 */

#include <ngx_walrus_audits.h>


#define NGX_WALRUS_AUDITS_HEAD_JSON                                          \
    "{\"epoch\":%uD,\"round\":%uD,\"leader\":%s,\"oldestRound\":%uD,"        \
    "\"updated\":%T,\"nodes\":["

#define NGX_WALRUS_AUDITS_NODE_JSON                                          \
    "{\"node\":%ui,\"name\":\""

#define NGX_WALRUS_AUDITS_STATE_JSON                                         \
    "\",\"shards\":%ud,\"answered\":%s,\"certified\":%s,"                    \
    "\"certifiedRound\":%s,\"certificates\":["

#define NGX_WALRUS_AUDITS_FRAUD_JSON                                         \
    "{\"round\":%uD,\"blob\":\"%s\"}"

#define NGX_WALRUS_AUDITS_MISSING_JSON                                       \
    "{\"round\":%uD,\"reporter\":%ui,\"blob\":\"%s\"}"

/* the separators and closings of a node's lists and object */
#define NGX_WALRUS_AUDITS_NODE_TAIL                                          \
    sizeof("],\"frauds\":[],\"reportedMissing\":[]},")


static size_t ngx_walrus_audits_view_len(ngx_walrus_audits_t *ctx);
static u_char *ngx_walrus_audits_node(ngx_walrus_audits_t *ctx, u_char *p,
    ngx_uint_t x);
static const char *ngx_walrus_audits_certified(ngx_walrus_audits_t *ctx,
    ngx_uint_t x);
static ngx_int_t ngx_walrus_audits_send_bytes(ngx_http_request_t *r,
    u_char *bytes, size_t len);


ngx_int_t
ngx_walrus_audits_answer(ngx_walrus_audits_t *ctx)
{
    u_char      *p, leader[NGX_INT_T_LEN + 1];
    ngx_str_t    view;
    ngx_uint_t   x;

    if (!ctx->refresh) {
        return ngx_walrus_audits_send_kept(ctx);
    }

    view.data = ngx_pnalloc(ctx->request->pool,
                            ngx_walrus_audits_view_len(ctx));
    if (view.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->newest > 0) {
        *ngx_sprintf(leader, "%ui", ctx->leader) = '\0';

    } else {
        ngx_cpystrn(leader, (u_char *) "null", sizeof(leader));
    }

    p = ngx_sprintf(view.data, NGX_WALRUS_AUDITS_HEAD_JSON,
                    ctx->committee->epoch, ctx->newest, leader,
                    ngx_walrus_audits_oldest(ctx), ngx_time());

    for (x = 0; x < ctx->committee->nnodes; x++) {
        if (x > 0) {
            *p++ = ',';
        }

        p = ngx_walrus_audits_node(ctx, p, x);
    }

    *p++ = ']';
    *p++ = '}';
    view.len = p - view.data;

    ngx_walrus_audits_keep_view(ctx->request->connection->log, &view);

    if (ctx->kind != NGX_WALRUS_AUDITS_VIEW) {
        return ngx_walrus_audits_send_kept(ctx);
    }

    return ngx_walrus_audits_send_view(ctx->request, &view);
}


/* every value at its longest: the view is sized from what it holds */

static size_t
ngx_walrus_audits_view_len(ngx_walrus_audits_t *ctx)
{
    size_t                        len, name;
    ngx_uint_t                    x, frauds;
    ngx_queue_t                  *q, *list;
    walrus_node_t                *wn;

    list = ngx_walrus_audits_frauds();
    frauds = 0;

    for (q = ngx_queue_head(list); q != ngx_queue_sentinel(list);
         q = ngx_queue_next(q))
    {
        frauds++;
    }

    len = sizeof(NGX_WALRUS_AUDITS_HEAD_JSON) + 5 * NGX_INT64_LEN
          + sizeof("]}")
          + frauds * (sizeof(NGX_WALRUS_AUDITS_FRAUD_JSON) + NGX_INT32_LEN
                      + WALRUS_BLOB_ID_TEXT_LEN + 1);

    for (x = 0; x < ctx->committee->nnodes; x++) {
        wn = &ctx->committee->nodes[x];
        name = ngx_strlen(wn->name);

        len += sizeof(NGX_WALRUS_AUDITS_NODE_JSON) + NGX_INT_T_LEN
               + name + ngx_escape_json(NULL, (u_char *) wn->name, name)
               + sizeof(NGX_WALRUS_AUDITS_STATE_JSON) + NGX_INT32_LEN
               + 3 * sizeof("false") + NGX_INT32_LEN
               + NGX_WALRUS_AUDITS_KEEP * (NGX_INT32_LEN + 1)
               + NGX_WALRUS_AUDITS_NODE_TAIL
               + ctx->nodes[x].nmissing
                 * (sizeof(NGX_WALRUS_AUDITS_MISSING_JSON) + NGX_INT32_LEN
                    + NGX_INT_T_LEN + WALRUS_BLOB_ID_TEXT_LEN + 1);
    }

    return len;
}


static u_char *
ngx_walrus_audits_node(ngx_walrus_audits_t *ctx, u_char *p, ngx_uint_t x)
{
    char                          text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    size_t                        name;
    u_char                        newest[NGX_INT32_LEN + 1];
    uint32_t                      rounds[NGX_WALRUS_AUDITS_KEEP];
    ngx_uint_t                    i, n, first;
    ngx_queue_t                  *q, *list;
    walrus_node_t                *wn;
    ngx_walrus_audits_node_t     *an;
    ngx_walrus_audits_fraud_t    *f;
    ngx_walrus_audits_missing_t  *m;

    wn = &ctx->committee->nodes[x];
    an = &ctx->nodes[x];
    name = ngx_strlen(wn->name);
    n = ngx_walrus_audits_cert_rounds(x, rounds);

    if (n > 0) {
        *ngx_sprintf(newest, "%uD", rounds[0]) = '\0';

    } else {
        ngx_cpystrn(newest, (u_char *) "null", sizeof(newest));
    }

    p = ngx_sprintf(p, NGX_WALRUS_AUDITS_NODE_JSON, x);
    p = (u_char *) ngx_escape_json(p, (u_char *) wn->name, name);
    p = ngx_sprintf(p, NGX_WALRUS_AUDITS_STATE_JSON, wn->nshards,
                    an->answered ? "true" : "false",
                    ngx_walrus_audits_certified(ctx, x), newest);

    for (i = 0; i < n; i++) {
        p = ngx_sprintf(p, i ? ",%uD" : "%uD", rounds[i]);
    }

    p = ngx_cpymem(p, "],\"frauds\":[", sizeof("],\"frauds\":[") - 1);

    list = ngx_walrus_audits_frauds();
    first = 1;

    for (q = ngx_queue_head(list); q != ngx_queue_sentinel(list);
         q = ngx_queue_next(q))
    {
        f = ngx_queue_data(q, ngx_walrus_audits_fraud_t, queue);

        if (f->node != x) {
            continue;
        }

        if (!first) {
            *p++ = ',';
        }

        first = 0;
        walrus_blob_id_format(f->blob_id, text);
        p = ngx_sprintf(p, NGX_WALRUS_AUDITS_FRAUD_JSON, f->round, text);
    }

    p = ngx_cpymem(p, "],\"reportedMissing\":[",
                   sizeof("],\"reportedMissing\":[") - 1);

    for (i = 0; i < an->nmissing; i++) {
        m = &an->missing[i];

        if (i > 0) {
            *p++ = ',';
        }

        walrus_blob_id_format(m->blob_id, text);
        p = ngx_sprintf(p, NGX_WALRUS_AUDITS_MISSING_JSON, m->round,
                        m->reporter, text);
    }

    *p++ = ']';
    *p++ = '}';

    return p;
}


/*
 * "true" only with a certificate of the newest round that verified;
 * "false" when a verified fraud proof names the node for that round or
 * the node itself says it holds none; otherwise nothing is known (the
 * node is down, slow, or sent what does not verify): "null", never a
 * failure.
 */

static const char *
ngx_walrus_audits_certified(ngx_walrus_audits_t *ctx, ngx_uint_t x)
{
    ngx_str_t  bytes;

    if (ctx->newest == 0) {
        return "null";
    }

    if (ngx_walrus_audits_cert(x, ctx->newest, &bytes) == NGX_OK) {
        return "true";
    }

    if (ngx_walrus_audits_fraud(x, ctx->newest) != NULL
        || ctx->nodes[x].cert_status == NGX_HTTP_NOT_FOUND)
    {
        return "false";
    }

    return "null";
}


ngx_int_t
ngx_walrus_audits_send_view(ngx_http_request_t *r, ngx_str_t *view)
{
    /* the wrapper copies the view: the worker's may change meanwhile */
    return ngx_walrus_send_success(r, NGX_HTTP_OK, view);
}


ngx_int_t
ngx_walrus_audits_send_kept(ngx_walrus_audits_t *ctx)
{
    ngx_str_t                   bytes;
    ngx_walrus_audits_fraud_t  *f;

    if (ctx->kind == NGX_WALRUS_AUDITS_CERT) {
        if (ngx_walrus_audits_cert(ctx->node, ctx->round, &bytes) == NGX_OK) {
            return ngx_walrus_audits_send_bytes(ctx->request, bytes.data,
                                                bytes.len);
        }

        return ngx_walrus_send_error(ctx->request, NGX_HTTP_NOT_FOUND,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "AUDIT_NO_CERTIFICATE",
                                     "the gateway holds no verified audit "
                                     "certificate of node %ui for round %uD",
                                     ctx->node, ctx->round);
    }

    f = ngx_walrus_audits_fraud(ctx->node, ctx->round);

    if (f != NULL && f->bytes != NULL) {
        return ngx_walrus_audits_send_bytes(ctx->request, f->bytes, f->len);
    }

    return ngx_walrus_send_error(ctx->request, NGX_HTTP_NOT_FOUND,
                                 NGX_WALRUS_DOMAIN_GATEWAY, "AUDIT_NO_FRAUD",
                                 "the gateway holds no verified fraud proof "
                                 "against node %ui for round %uD", ctx->node,
                                 ctx->round);
}


/* a copy is sent: the worker's memory may let the bytes go meanwhile */

static ngx_int_t
ngx_walrus_audits_send_bytes(ngx_http_request_t *r, u_char *bytes,
    size_t len)
{
    u_char  *copy;

    copy = ngx_pnalloc(r->pool, len);
    if (copy == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(copy, bytes, len);

    return ngx_walrus_send_memory(r, NGX_HTTP_OK, "application/octet-stream",
                                  copy, len);
}
