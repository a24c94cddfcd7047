/*
 * Gateway read path: claims that a blob was encoded inconsistently.
 * Nodes' claims come as a header of their metadata and certificate
 * answers.  Once the read has the metadata and certificate, the proof
 * Redis had is checked first, then each claimant's in turn: asked for
 * (no longer than any proof about the blob), checked in the thread pool
 * against the blob ID.  The first that holds proves the blob
 * inconsistent; one that does not is logged at warn with its sender and
 * ignored, and the read goes on as if no claim had been made.
 */

#include <ngx_walrus_read.h>
#include <ngx_walrus_read_proof.h>
#include <ngx_walrus_cache.h>
#include <ngx_walrus_memo.h>
#include <walrus_recovery.h>


static ngx_int_t ngx_walrus_proof_next(ngx_walrus_read_t *ctx);
static ngx_int_t ngx_walrus_proof_check(ngx_walrus_read_t *ctx);
static void ngx_walrus_proof_thread(void *data, ngx_log_t *log);
static void ngx_walrus_proof_checked(ngx_walrus_thread_t *th,
    ngx_thread_task_t *task);
static void ngx_walrus_proof_drop(ngx_walrus_read_t *ctx);
static const char *ngx_walrus_proof_sender(ngx_walrus_read_t *ctx);


void
ngx_walrus_proof_listen(ngx_walrus_call_t *call)
{
    ngx_str_set(&call->header, NGX_WALRUS_INCONSISTENT_HEADER);
}


void
ngx_walrus_proof_claim(ngx_walrus_read_t *ctx, ngx_walrus_call_t *call)
{
    ngx_walrus_proof_t  *pf;

    pf = &ctx->proof;

    if (call->header_value.len != sizeof("true") - 1
        || ngx_strncmp(call->header_value.data, "true", 4) != 0)
    {
        return;
    }

    if (pf->claims == NULL) {
        pf->claims = ngx_pcalloc(ctx->request->pool, ctx->committee->nnodes);
        if (pf->claims == NULL) {
            return;
        }
    }

    if (pf->claims[call->node] == NGX_WALRUS_CLAIM_NONE) {
        pf->claims[call->node] = NGX_WALRUS_CLAIM_MADE;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "walrus: node %s says blob %s is inconsistent",
                       ctx->committee->nodes[call->node].name,
                       ctx->route.id_text);
    }
}


void
ngx_walrus_proof_call(ngx_walrus_read_t *ctx, ngx_walrus_call_t *call)
{
    ngx_walrus_proof_t  *pf;

    pf = &ctx->proof;

    if (call->status == NGX_HTTP_OK && !call->truncated
        && call->body_len > 0)
    {
        pf->bytes = call->body;
        pf->len = call->body_len;
        pf->from = call->node;
        return;
    }

    ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                  "walrus: node %s says it holds an inconsistency proof of "
                  "blob %s, but answered %ui%s when asked for it; ignored",
                  ctx->committee->nodes[call->node].name, ctx->route.id_text,
                  call->status,
                  call->truncated ? " with more bytes than any proof of "
                                    "the blob has" : "");

    ngx_walrus_health_bad(ctx, call->node);
    ngx_walrus_proof_drop(ctx);
}


ngx_int_t
ngx_walrus_proof_done(ngx_walrus_read_t *ctx)
{
    ngx_int_t                       rc;
    ngx_walrus_proof_t             *pf;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    pf = &ctx->proof;
    wlcf = ngx_walrus_gateway_loc_conf(ctx->request);

    for ( ;; ) {
        if (pf->proven) {
            return NGX_OK;
        }

        if (pf->working) {
            return NGX_AGAIN;
        }

        if (pf->bytes != NULL) {
            rc = ngx_walrus_proof_check(ctx);
            if (rc != NGX_DECLINED) {
                return rc;
            }

            continue;
        }

        if (pf->late) {
            return NGX_DECLINED;
        }

        if (ngx_current_msec - ctx->complete >= wlcf->read_timeout) {
            pf->late = 1;

            if (pf->call != NULL) {
                ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                              "walrus: node %s did not send the "
                              "inconsistency proof of blob %s it says it "
                              "holds within %M ms; ignored",
                              ctx->committee->nodes[pf->call->node].name,
                              ctx->route.id_text, wlcf->read_timeout);
                ngx_walrus_proof_drop(ctx);
            }

            return NGX_DECLINED;
        }

        if (pf->call != NULL) {
            return NGX_AGAIN;
        }

        if (pf->cached.len == 0) {
            return ngx_walrus_proof_next(ctx);
        }

        pf->bytes = pf->cached.data;
        pf->len = pf->cached.len;
        pf->from = NGX_WALRUS_PROOF_CACHED;
        ngx_str_null(&pf->cached);
    }
}


/* the proof of the next node that claims one is asked for */

static ngx_int_t
ngx_walrus_proof_next(ngx_walrus_read_t *ctx)
{
    ngx_uint_t           i;
    ngx_walrus_proof_t  *pf;

    pf = &ctx->proof;

    for (i = 0; pf->claims != NULL && i < ctx->committee->nnodes; i++) {
        if (pf->claims[i] != NGX_WALRUS_CLAIM_MADE) {
            continue;
        }

        pf->claims[i] = NGX_WALRUS_CLAIM_ASKED;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "walrus: read of %s asks node %s for its "
                       "inconsistency proof", ctx->route.id_text,
                       ctx->committee->nodes[i].name);

        /* no proof about the blob is longer: a liar's answer is cut */

        if (ngx_walrus_read_call(ctx, NULL, i, NGX_WALRUS_READ_CALL_PROOF,
                                 "inconsistency",
                                 walrus_inconsistency_max_size(&ctx->meta),
                                 &pf->call)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        return NGX_AGAIN;
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_walrus_proof_check(ngx_walrus_read_t *ctx)
{
    ngx_http_request_t             *r;
    ngx_walrus_proof_t             *pf;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    r = ctx->request;
    pf = &ctx->proof;
    wlcf = ngx_walrus_gateway_loc_conf(r);

    /* only Redis's can be longer: a node's answer is cut there */

    if (pf->len > walrus_inconsistency_max_size(&ctx->meta)) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "walrus: the inconsistency proof of blob %s in Redis "
                      "has %uz bytes, more than any proof of the blob; "
                      "ignored", ctx->route.id_text, pf->len);
        ngx_walrus_proof_drop(ctx);
        return NGX_DECLINED;
    }

    if (pf->task == NULL) {
        pf->task = ngx_walrus_thread_task(r->pool, ngx_walrus_proof_thread,
                                          pf);
        if (pf->task == NULL) {
            return NGX_ERROR;
        }

        /* the read goes on after the check, as after a segment's decode */

        ngx_walrus_thread_init(&pf->thread, r, wlcf->thread_pool,
                               NGX_WALRUS_THREAD_EACH);
        pf->thread.done = ngx_walrus_proof_checked;
        pf->thread.data = ctx;
        ngx_memcpy(pf->blob_id, ctx->route.blob_id, WALRUS_BLOB_ID_LEN);
    }

    if (ngx_walrus_thread_post(&pf->thread, pf->task) != NGX_OK) {
        return NGX_BUSY;
    }

    pf->working = 1;

    return NGX_AGAIN;
}


/* in the thread pool: the core only */

static void
ngx_walrus_proof_thread(void *data, ngx_log_t *log)
{
    ngx_walrus_proof_t  *pf = data;

    walrus_inconsistency_t  info;

    pf->rc = walrus_inconsistency_verify(pf->bytes, pf->len, &info);

    if (pf->rc != WALRUS_OK) {
        return;
    }

    /* a proof that holds, but of another blob, proves nothing here */

    if (memcmp(info.blob_id, pf->blob_id, WALRUS_BLOB_ID_LEN) != 0) {
        pf->rc = WALRUS_EBLOBID;

    } else {
        pf->target = info.target;
        pf->axis = info.axis;
        pf->segment = info.segment;
    }

    walrus_inconsistency_free(&info);
}


static void
ngx_walrus_proof_checked(ngx_walrus_thread_t *th, ngx_thread_task_t *task)
{
    ngx_walrus_read_t   *ctx = th->data;

    ngx_uint_t           level;
    ngx_log_t           *log;
    ngx_walrus_proof_t  *pf;

    pf = &ctx->proof;
    pf->working = 0;
    log = ctx->request->connection->log;

    if (ctx->phase == NGX_WALRUS_READ_DONE) {
        ngx_walrus_proof_drop(ctx);
        return;
    }

    if (pf->rc == WALRUS_OK) {
        pf->proven = 1;
        pf->fresh = 1;

        /* news from a node; Redis's is known, and checked at each read */

        level = pf->from == NGX_WALRUS_PROOF_CACHED ? NGX_LOG_INFO
                                                    : NGX_LOG_ERR;

        ngx_log_error(level, log, 0,
                      "walrus: blob %s is inconsistently encoded: the proof "
                      "from %s holds (pair %ud, %s sliver, segment %uL)",
                      ctx->route.id_text, ngx_walrus_proof_sender(ctx),
                      pf->target,
                      pf->axis == WALRUS_PRIMARY ? "primary" : "secondary",
                      pf->segment);
        return;
    }

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "walrus: the inconsistency proof of blob %s from %s does "
                  "not hold (%s); ignored", ctx->route.id_text,
                  ngx_walrus_proof_sender(ctx), walrus_strerror(pf->rc));

    if (pf->from != NGX_WALRUS_PROOF_CACHED) {
        ngx_walrus_health_bad(ctx, pf->from);
    }

    ngx_walrus_proof_drop(ctx);
}


static const char *
ngx_walrus_proof_sender(ngx_walrus_read_t *ctx)
{
    ngx_uint_t  from;

    from = ctx->proof.from;

    return from == NGX_WALRUS_PROOF_CACHED
           ? "Redis" : ctx->committee->nodes[from].name;
}


ngx_msec_t
ngx_walrus_proof_wait(ngx_walrus_read_t *ctx)
{
    ngx_msec_t                      t;
    ngx_walrus_proof_t             *pf;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    pf = &ctx->proof;
    wlcf = ngx_walrus_gateway_loc_conf(ctx->request);

    if (pf->call == NULL || pf->bytes != NULL || pf->working) {
        return NGX_TIMER_INFINITE;
    }

    t = ngx_current_msec - ctx->complete;

    return t < wlcf->read_timeout ? wlcf->read_timeout - t : 1;
}


ngx_int_t
ngx_walrus_proof_answer(ngx_walrus_read_t *ctx)
{
    ngx_walrus_proof_t  *pf;

    pf = &ctx->proof;

    /*
     * Only what this read checked is remembered: a proof that held, which
     * Redis keeps for other gateways to check again; the worker's memory
     * keeps the verdict.
     */

    if (pf->fresh) {
        pf->fresh = 0;
        ngx_walrus_memo_set_inconsistent(ctx->route.blob_id);

        if (pf->from != NGX_WALRUS_PROOF_CACHED) {
            ngx_walrus_cache_store_proof(ctx->request, ctx->route.id_text,
                                         pf->bytes, pf->len);
        }

        ngx_walrus_proof_drop(ctx);
    }

    return ngx_walrus_read_inconsistent(ctx);
}


void
ngx_walrus_proof_cancel(ngx_walrus_read_t *ctx)
{
    /* a check that runs reads the proof: its end drops it */

    if (!ctx->proof.working) {
        ngx_walrus_proof_drop(ctx);
    }
}


static void
ngx_walrus_proof_drop(ngx_walrus_read_t *ctx)
{
    ngx_walrus_proof_t  *pf;

    pf = &ctx->proof;

    if (pf->call != NULL) {
        ngx_walrus_fanout_cancel(pf->call);
        pf->call = NULL;
    }

    pf->bytes = NULL;
    pf->len = 0;
}
