/*
 * The calls of an upload to the nodes: unless forced, a certificate check
 * on every node; then per node its registration (signed with the
 * gateway's publisher key), its metadata, its sliver pairs and a
 * confirmation, verified before it counts; once the confirmations' signers
 * hold n - f shards, the certificate to every node.  Each finished call is
 * handled as it comes (ngx_walrus_publish_step), then the quorums decide.
 */

#include <ngx_walrus_publish.h>
#include <ngx_walrus_sliver_body.h>
#include <walrus_base64.h>
#include <walrus_sign.h>
#include <jansson.h>


#define NGX_WALRUS_CAPTURE_JSON   4096

/* times a node that signed for an earlier epoch is asked again */
#define NGX_WALRUS_CONFIRM_ASKS   3

/*
 * and after how long a registration refused for an epoch the node lacks
 * is sent again: a worker of the node's old configuration answers only
 * for a moment after a reload
 */
#define NGX_WALRUS_RETRY_DELAY    200


typedef enum {
    NGX_WALRUS_CALL_CHECK = 0,
    NGX_WALRUS_CALL_METADATA,
    NGX_WALRUS_CALL_SLIVER,
    NGX_WALRUS_CALL_CONFIRM,
    NGX_WALRUS_CALL_CERT,
    NGX_WALRUS_CALL_REGISTER
} ngx_walrus_call_kind_e;


static void ngx_walrus_publish_handle(ngx_walrus_publish_t *ctx,
    ngx_walrus_call_t *call);
static ngx_int_t ngx_walrus_publish_evaluate(ngx_walrus_publish_t *ctx);
static ngx_int_t ngx_walrus_publish_upload(ngx_walrus_publish_t *ctx);
static ngx_int_t ngx_walrus_publish_register(ngx_walrus_publish_t *ctx);
static ngx_int_t ngx_walrus_publish_metadata(ngx_walrus_publish_t *ctx,
    ngx_uint_t node);
static ngx_int_t ngx_walrus_publish_slivers(ngx_walrus_publish_t *ctx,
    ngx_uint_t node);
static ngx_int_t ngx_walrus_publish_certify(ngx_walrus_publish_t *ctx);
static ngx_int_t ngx_walrus_publish_put_all(ngx_walrus_publish_t *ctx,
    ngx_uint_t kind, const char *path, u_char *data, size_t len);
static ngx_int_t ngx_walrus_publish_call(ngx_walrus_publish_t *ctx,
    ngx_uint_t node, ngx_uint_t kind, ngx_uint_t pair, ngx_uint_t method,
    const char *path, ngx_chain_t *body, size_t capture);
static ngx_chain_t *ngx_walrus_memory_body(ngx_pool_t *pool, u_char *data,
    size_t len);


/*
 * Unless forced, every node is asked for a certificate of the blob first;
 * the registrations follow when none has a valid one.
 */

void
ngx_walrus_publish_start(ngx_walrus_publish_t *ctx)
{
    ngx_uint_t           i;
    ngx_http_request_t  *r;

    r = ctx->request;

    ctx->file.fd = ctx->enc.fd;
    ngx_str_set(&ctx->file.name, "walrus sliver file");
    ctx->file.log = r->connection->log;

    ctx->nodes = ngx_pcalloc(r->pool, ctx->committee->nnodes
                                      * sizeof(ngx_walrus_pub_node_t));
    if (ctx->nodes == NULL) {
        ngx_walrus_publish_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    walrus_cert_init(&ctx->cert, ctx->committee->epoch, ctx->enc.blob_id);
    r->write_event_handler = ngx_walrus_publish_step;

    if (ctx->force) {
        ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_UPLOADING);

        if (ngx_walrus_publish_upload(ctx) != NGX_OK) {
            ngx_walrus_publish_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

        return;
    }

    ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_CHECKING);

    for (i = 0; i < ctx->committee->nnodes; i++) {
        if (ngx_walrus_publish_call(ctx, i, NGX_WALRUS_CALL_CHECK, 0,
                                    NGX_HTTP_GET, "certificate", NULL,
                                    WALRUS_CERT_MAX_SIZE)
            != NGX_OK)
        {
            ngx_walrus_publish_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }
}


void
ngx_walrus_publish_step(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_walrus_call_t     *call;
    ngx_walrus_publish_t  *ctx;

    ctx = ngx_walrus_gateway_publish(r);

    if (ctx->phase == NGX_WALRUS_PUB_DONE) {
        return;
    }

    while ((call = ngx_walrus_fanout_next(&ctx->fanout)) != NULL) {
        ngx_walrus_publish_handle(ctx, call);
    }

    rc = ngx_walrus_publish_evaluate(ctx);

    if (rc != NGX_AGAIN) {
        ngx_walrus_publish_finish(ctx, rc);
    }
}


static void
ngx_walrus_publish_handle(ngx_walrus_publish_t *ctx, ngx_walrus_call_t *call)
{
    unsigned                weight;
    ngx_int_t               rc;
    ngx_uint_t              ok;
    ngx_walrus_pub_node_t  *pn;

    pn = &ctx->nodes[call->node];
    weight = ctx->committee->nodes[call->node].nshards;
    ok = call->status == NGX_HTTP_OK || call->status == NGX_HTTP_CREATED;

    if (!ok && call->kind != NGX_WALRUS_CALL_CHECK) {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "walrus: node %s answered %ui to %V",
                      ctx->committee->nodes[call->node].name, call->status,
                      &call->node_uri);
    }

    switch (call->kind) {

    case NGX_WALRUS_CALL_CHECK:
        if (ctx->existing == NULL && ok) {
            ctx->existing = ngx_walrus_publish_existing(ctx, call);
        }

        if (ok) {
            ngx_walrus_publish_end_epoch(ctx, call);
        }

        if (ctx->existing == NULL) {
            ctx->no_cert += weight;
        }

        return;

    case NGX_WALRUS_CALL_REGISTER:
        if (ok && ngx_walrus_publish_metadata(ctx, call->node) == NGX_OK) {
            return;
        }

        /*
         * A node on an earlier epoch than this gateway: being reloaded (a
         * worker of its old configuration answered), or not yet: sent
         * again 200 ms later, a few times (the node's reason for a
         * registration of a later epoch than its own)
         */

        if (call->status == NGX_HTTP_BAD_REQUEST && call->body != NULL
            && ngx_strnstr(call->body,
                           "\"reason\":\"REGISTRATION_EPOCH_AHEAD\"",
                           call->body_len) != NULL
            && pn->registered < NGX_WALRUS_CONFIRM_ASKS)
        {
            pn->registered++;
            pn->register_again = 1;

            if (!ctx->retry.timer_set) {
                ngx_add_timer(&ctx->retry, NGX_WALRUS_RETRY_DELAY);
            }

            return;
        }

        if (call->status == NGX_HTTP_BAD_REQUEST
            || call->status == NGX_HTTP_CONFLICT)
        {
            ctx->refused += weight;
        }

        break;

    case NGX_WALRUS_CALL_METADATA:
        if (ok && ngx_walrus_publish_slivers(ctx, call->node) == NGX_OK) {
            return;
        }

        break;

    case NGX_WALRUS_CALL_SLIVER:
        if (pn->failed) {
            return;
        }

        if (ok) {
            if (--pn->pending == 0
                && ngx_walrus_publish_call(ctx, call->node,
                                           NGX_WALRUS_CALL_CONFIRM, 0,
                                           NGX_HTTP_GET, ctx->confirm_path,
                                           NULL, NGX_WALRUS_CAPTURE_JSON)
                   != NGX_OK)
            {
                break;
            }

            return;
        }

        break;

    case NGX_WALRUS_CALL_CONFIRM:
        rc = ok ? ngx_walrus_publish_confirmation(ctx, call) : NGX_ERROR;

        if (rc == NGX_OK) {
            pn->confirmed = 1;
            ctx->confirmed += weight;
            return;
        }

        /*
         * A node that signed for an earlier epoch is being reloaded (or
         * a worker of its old configuration answered): asked again, on
         * another connection, a few times.
         */

        if (call->status == NGX_HTTP_CONFLICT && call->body != NULL
            && (ngx_strnstr(call->body, "\"UNKNOWN_EPOCH\"",
                            call->body_len) != NULL
                || ngx_strnstr(call->body, "\"NOT_IN_EPOCH\"",
                               call->body_len) != NULL))
        {
            /* the node lacks this gateway's epoch, or is not in it */
            ctx->refused += weight;
        }

        if (rc == NGX_DECLINED
            && pn->asked < NGX_WALRUS_CONFIRM_ASKS
            && ngx_walrus_publish_call(ctx, call->node,
                                       NGX_WALRUS_CALL_CONFIRM, 0,
                                       NGX_HTTP_GET, ctx->confirm_path,
                                       NULL, NGX_WALRUS_CAPTURE_JSON)
               == NGX_OK)
        {
            pn->asked++;
            return;
        }

        break;

    default: /* NGX_WALRUS_CALL_CERT */
        if (ok) {
            ctx->stored += weight;

        } else {
            ctx->not_stored += weight;
        }

        return;
    }

    if (!pn->failed) {
        pn->failed = 1;
        ctx->unconfirmed += weight;
    }
}


/*
 * NGX_AGAIN while waiting, otherwise the status (or NGX_OK after a
 * response was sent) to finish with.
 */

static ngx_int_t
ngx_walrus_publish_evaluate(ngx_walrus_publish_t *ctx)
{
    unsigned             n, f;
    ngx_uint_t           over;
    ngx_http_request_t  *r;

    r = ctx->request;
    n = ctx->committee->params.n;
    f = ctx->committee->params.f;

    /* past the deadline, or nothing left running that could help */
    over = ctx->timed_out
           || (ctx->fanout.active == 0 && ngx_queue_empty(&ctx->fanout.done)
               && !ctx->retry.timer_set);

    switch (ctx->phase) {

    case NGX_WALRUS_PUB_CHECKING:
        if (ctx->existing != NULL) {
            ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_DONE);
            return ngx_walrus_publish_respond(ctx, ctx->existing, 0);
        }

        /* a stored certificate is on f + 1 shards: one must have answered */

        if (ctx->no_cert >= n - f || over) {
            ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_UPLOADING);

            if (ngx_walrus_publish_upload(ctx) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        return NGX_AGAIN;

    case NGX_WALRUS_PUB_UPLOADING:
        if (ctx->confirmed >= n - f) {
            ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_CERTIFYING);

            if (ngx_walrus_publish_certify(ctx) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return NGX_AGAIN;
        }

        if ((ctx->unconfirmed > f || over) && ctx->refused > f) {
            ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_DONE);
            return ngx_walrus_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         NGX_WALRUS_DOMAIN_GATEWAY,
                                         "REGISTRATION_REFUSED",
                                         "nodes holding %ud shards refused "
                                         "the registration of blob %s in "
                                         "epoch %uD: they are on an earlier "
                                         "epoch than this gateway (reload "
                                         "them), or its key is not one of "
                                         "their publishers", ctx->refused,
                                         ctx->enc.id_text,
                                         ctx->committee->epoch);
        }

        if (ctx->unconfirmed > f || over) {
            ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_DONE);
            return ngx_walrus_send_error(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                         NGX_WALRUS_DOMAIN_GATEWAY,
                                         "INSUFFICIENT_CONFIRMATIONS",
                                         "only %ud of the %ud shards needed "
                                         "confirmed blob %s",
                                         ctx->confirmed, n - f,
                                         ctx->enc.id_text);
        }

        return NGX_AGAIN;

    case NGX_WALRUS_PUB_CERTIFYING:
        if (ctx->stored >= f + 1) {
            ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_DONE);
            return ngx_walrus_publish_respond(ctx, &ctx->cert, 1);
        }

        if (ctx->not_stored > n - f - 1 || over) {
            ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_DONE);
            return ngx_walrus_send_error(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                         NGX_WALRUS_DOMAIN_GATEWAY,
                                         "CERTIFICATE_NOT_STORED",
                                         "the certificate of blob %s reached "
                                         "only %ud shards", ctx->enc.id_text,
                                         ctx->stored);
        }

        return NGX_AGAIN;

    default:
        return NGX_AGAIN;
    }
}


/*
 * The registration to every node; a node's metadata follows its
 * registration, its slivers its metadata
 */

static ngx_int_t
ngx_walrus_publish_upload(ngx_walrus_publish_t *ctx)
{
    if (ngx_walrus_publish_register(ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_walrus_publish_put_all(ctx, NGX_WALRUS_CALL_REGISTER,
                                      "registration", ctx->registration,
                                      WALRUS_REGISTRATION_LEN);
}


/* nodes store only blobs that a publisher of the committee registered */

static ngx_int_t
ngx_walrus_publish_register(ngx_walrus_publish_t *ctx)
{
    int                             rc;
    ngx_walrus_gateway_loc_conf_t  *wlcf;
    walrus_registration_t           reg;

    wlcf = ngx_walrus_gateway_loc_conf(ctx->request);

    ngx_memzero(&reg, sizeof(walrus_registration_t));
    reg.epoch = ctx->committee->epoch;
    ngx_memcpy(reg.blob_id, ctx->enc.blob_id, WALRUS_BLOB_ID_LEN);
    reg.length = ctx->enc.length;
    reg.end_epoch = reg.epoch + (uint32_t) ctx->epochs;
    reg.deletable = ctx->permanent ? 0 : 1;

    rc = walrus_registration_sign(&reg, wlcf->gateway_key);
    if (rc != WALRUS_OK) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "walrus: signing the registration of %s failed: %s",
                      ctx->enc.id_text, walrus_strerror(rc));
        return NGX_ERROR;
    }

    walrus_registration_serialize(&reg, ctx->registration);

    return NGX_OK;
}


static ngx_int_t
ngx_walrus_publish_metadata(ngx_walrus_publish_t *ctx, ngx_uint_t node)
{
    ngx_chain_t  *b;

    b = ngx_walrus_memory_body(ctx->request->pool, ctx->enc.metadata,
                               ctx->enc.metadata_len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    return ngx_walrus_publish_call(ctx, node, NGX_WALRUS_CALL_METADATA, 0,
                                   NGX_HTTP_PUT, "metadata", b,
                                   NGX_WALRUS_CAPTURE_JSON);
}


static ngx_int_t
ngx_walrus_publish_slivers(ngx_walrus_publish_t *ctx, ngx_uint_t node)
{
    char            path[64];
    unsigned        i, pair, axis;
    ngx_chain_t    *b;
    walrus_node_t  *wn;

    wn = &ctx->committee->nodes[node];

    for (i = 0; i < wn->nshards; i++) {
        pair = walrus_shard_to_pair(&ctx->committee->params,
                                    ctx->enc.blob_id, wn->shards[i]);

        for (axis = 0; axis < 2; axis++) {
            b = ngx_walrus_sliver_body(ctx->request->pool, &ctx->enc,
                                       &ctx->file, pair, axis);
            if (b == NULL) {
                return NGX_ERROR;
            }

            ngx_snprintf((u_char *) path, sizeof(path), "slivers/%ud/%s%Z",
                         pair, axis == WALRUS_PRIMARY ? "primary"
                                                      : "secondary");

            if (ngx_walrus_publish_call(ctx, node, NGX_WALRUS_CALL_SLIVER,
                                        pair, NGX_HTTP_PUT, path, b,
                                        NGX_WALRUS_CAPTURE_JSON)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            ctx->nodes[node].pending++;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_walrus_publish_certify(ngx_walrus_publish_t *ctx)
{
    ctx->cert_len = walrus_cert_size(&ctx->cert);
    ctx->cert_bytes = ngx_pnalloc(ctx->request->pool, ctx->cert_len);
    if (ctx->cert_bytes == NULL) {
        return NGX_ERROR;
    }

    walrus_cert_serialize(&ctx->cert, ctx->cert_bytes);

    return ngx_walrus_publish_put_all(ctx, NGX_WALRUS_CALL_CERT,
                                      "certificate", ctx->cert_bytes,
                                      ctx->cert_len);
}


/* the same bytes to every node */

static ngx_int_t
ngx_walrus_publish_put_all(ngx_walrus_publish_t *ctx, ngx_uint_t kind,
    const char *path, u_char *data, size_t len)
{
    ngx_uint_t    i;
    ngx_chain_t  *b;

    for (i = 0; i < ctx->committee->nnodes; i++) {
        b = ngx_walrus_memory_body(ctx->request->pool, data, len);

        if (b == NULL
            || ngx_walrus_publish_call(ctx, i, kind, 0, NGX_HTTP_PUT, path, b,
                                       NGX_WALRUS_CAPTURE_JSON)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_walrus_publish_call(ngx_walrus_publish_t *ctx, ngx_uint_t node,
    ngx_uint_t kind, ngx_uint_t pair, ngx_uint_t method, const char *path,
    ngx_chain_t *body, size_t capture)
{
    ngx_walrus_call_t  *call;

    call = ngx_walrus_fanout_call(ctx->request, &ctx->fanout, NULL, node,
                                  method, ctx->enc.id_text, path, body,
                                  capture);
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->kind = kind;
    call->pair = pair;

    if (kind == NGX_WALRUS_CALL_CHECK) {
        /* the end epoch of a blob already certified is in it */
        ngx_str_set(&call->header2, NGX_WALRUS_REGISTRATION_HEADER);
    }

    return NGX_OK;
}


static ngx_chain_t *
ngx_walrus_memory_body(ngx_pool_t *pool, u_char *data, size_t len)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    b = ngx_calloc_buf(pool);
    cl = ngx_alloc_chain_link(pool);
    if (b == NULL || cl == NULL) {
        return NULL;
    }

    b->pos = data;
    b->last = data + len;
    b->memory = 1;
    b->last_buf = 1;

    cl->buf = b;
    cl->next = NULL;

    return cl;
}


void
ngx_walrus_publish_phase(ngx_walrus_publish_t *ctx,
    ngx_walrus_pub_phase_e phase)
{
#if (NGX_DEBUG)
    static const char  *names[] = {
        "checking", "uploading", "certifying", "done"
    };

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "walrus: upload of %s: %s -> %s", ctx->enc.id_text,
                   names[ctx->phase], names[phase]);
#endif

    ctx->phase = phase;
}


/* the registrations refused for an epoch the node lacked, sent again */

void
ngx_walrus_publish_retry(ngx_event_t *ev)
{
    ngx_walrus_publish_t *ctx = ev->data;

    ngx_uint_t              i;
    ngx_chain_t            *b;
    ngx_connection_t       *c;
    ngx_http_request_t     *r;
    ngx_walrus_pub_node_t  *pn;

    r = ctx->request;
    c = r->connection;

    for (i = 0; i < ctx->committee->nnodes; i++) {
        pn = &ctx->nodes[i];

        if (!pn->register_again) {
            continue;
        }

        pn->register_again = 0;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "walrus: registration sent again to node %s",
                       ctx->committee->nodes[i].name);

        b = ngx_walrus_memory_body(r->pool, ctx->registration,
                                   WALRUS_REGISTRATION_LEN);

        if (b == NULL
            || ngx_walrus_publish_call(ctx, i, NGX_WALRUS_CALL_REGISTER, 0,
                                       NGX_HTTP_PUT, "registration", b,
                                       NGX_WALRUS_CAPTURE_JSON)
               != NGX_OK)
        {
            pn->failed = 1;
            ctx->unconfirmed += ctx->committee->nodes[i].nshards;
        }
    }

    /* a call that could not be made changes the verdict */
    ngx_walrus_publish_step(r);
    ngx_http_run_posted_requests(c);
}


void
ngx_walrus_publish_retry_cancel(ngx_walrus_publish_t *ctx)
{
    if (ctx->retry.timer_set) {
        ngx_del_timer(&ctx->retry);
    }
}
