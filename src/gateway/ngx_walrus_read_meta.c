/*
 * Gateway read path: a blob's metadata and certificate, from the worker's
 * memory, Redis or a quorum of the nodes, each verified against the blob
 * ID before use (the caches' side is in ngx_walrus_read_meta_cache.c).
 * Once both are in, the nodes' claims that the blob is inconsistent are
 * heard and checked (ngx_walrus_read_proof.c) before the read goes on.
 */

#include <ngx_walrus_read.h>
#include <ngx_walrus_read_meta.h>
#include <ngx_walrus_cache.h>
#include <ngx_walrus_memo.h>


static size_t ngx_walrus_meta_max(ngx_walrus_read_t *ctx);
static void ngx_walrus_meta_complete(ngx_walrus_read_t *ctx);
static ngx_uint_t ngx_walrus_meta_settling(ngx_walrus_read_t *ctx);
static void ngx_walrus_meta_cancel_calls(ngx_walrus_read_t *ctx,
    ngx_uint_t step);


ngx_int_t
ngx_walrus_meta_start(ngx_walrus_read_t *ctx)
{
    u_char               reg[WALRUS_REGISTRATION_LEN];
    ngx_str_t            meta, cert;
    ngx_uint_t           inconsistent;
    ngx_http_request_t  *r;

    r = ctx->request;

    if (ngx_walrus_memo_get(r, ctx->route.blob_id, &meta, &cert, reg,
                            &ctx->type, &inconsistent)
        == NGX_OK)
    {
        if (ngx_walrus_lifetime_take(ctx, reg, sizeof(reg), 1) == NGX_OK
            && ngx_walrus_meta_use(ctx, meta.data, meta.len, cert.data,
                                   cert.len)
               == NGX_OK)
        {
            ctx->from_cache = 1;
            ctx->proof.proven = inconsistent;
            ngx_walrus_cache_count(NGX_WALRUS_CACHE_WORKER, 1);
            return NGX_OK;
        }

        ctx->type = NULL;
        ctx->has_reg = 0;
    }

    ngx_walrus_cache_count(NGX_WALRUS_CACHE_WORKER, 0);

    if (ngx_walrus_cache_lookup(r, ctx->route.id_text, ngx_walrus_meta_cached,
                                ctx)
        == NGX_OK)
    {
        ngx_walrus_read_phase(ctx, NGX_WALRUS_READ_CACHE);
        return NGX_AGAIN;
    }

    if (ngx_walrus_meta_fetch(ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


ngx_int_t
ngx_walrus_meta_fetch(ngx_walrus_read_t *ctx)
{
    size_t      max;
    ngx_uint_t  i, n;

    n = ctx->committee->nnodes;
    max = ngx_walrus_meta_max(ctx);

    ctx->meta_calls = ngx_pcalloc(ctx->request->pool,
                                  2 * n * sizeof(ngx_walrus_call_t *));
    if (ctx->meta_calls == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (ngx_walrus_read_call(ctx, NULL, i, NGX_WALRUS_READ_CALL_META,
                                 "metadata", max, &ctx->meta_calls[2 * i])
            != NGX_OK
            || ngx_walrus_read_call(ctx, NULL, i, NGX_WALRUS_READ_CALL_CERT,
                                    "certificate", WALRUS_CERT_MAX_SIZE,
                                    &ctx->meta_calls[2 * i + 1])
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_walrus_proof_listen(ctx->meta_calls[2 * i]);
        ngx_walrus_proof_listen(ctx->meta_calls[2 * i + 1]);
        ngx_walrus_lifetime_listen(ctx->meta_calls[2 * i]);
        ngx_walrus_lifetime_listen(ctx->meta_calls[2 * i + 1]);
    }

    ngx_walrus_read_arm(ctx);

    return NGX_OK;
}


/*
 * The size of the metadata of the largest blob this gateway stores
 * (protocol section 6), and no node stores more than
 * NGX_WALRUS_MAX_METADATA: a node's longer answer cannot be valid, so it
 * is cut there, and a lying node costs a read no more memory than an
 * honest one.
 */

static size_t
ngx_walrus_meta_max(ngx_walrus_read_t *ctx)
{
    uint64_t                        size;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_gateway_loc_conf(ctx->request);

    size = WALRUS_METADATA_HEADER_LEN
           + walrus_segment_count((uint64_t) wlcf->max_blob_size,
                                  ctx->committee->segment_size)
             * ctx->committee->params.n * WALRUS_PAIR_HASH_LEN;

    return (size_t) ngx_min(size, NGX_WALRUS_MAX_METADATA);
}


void
ngx_walrus_meta_call(ngx_walrus_read_t *ctx, ngx_walrus_call_t *call)
{
    unsigned        weight;
    ngx_int_t       rc;
    ngx_uint_t      ok;
    walrus_cert_t  *cert;

    weight = ctx->committee->nodes[call->node].nshards;
    ok = call->status == NGX_HTTP_OK && !call->truncated;

    ngx_walrus_proof_claim(ctx, call);
    ngx_walrus_lifetime_claim(ctx, call);

    if (call->kind == NGX_WALRUS_READ_CALL_META) {
        if (!ctx->have_meta && ok
            && walrus_metadata_parse(&ctx->meta, call->body, call->body_len)
               != WALRUS_OK)
        {
            ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                          "walrus: node %s sent %uz bytes of metadata for "
                          "blob %s that do not parse; dropped",
                          ctx->committee->nodes[call->node].name,
                          call->body_len, ctx->route.id_text);

        } else if (!ctx->have_meta && ok) {
            if (ngx_walrus_meta_fits(ctx)) {
                ctx->have_meta = 1;

            } else {
                ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                              "walrus: node %s sent metadata (n %ud, "
                              "segments of %uD bytes) that does not fit "
                              "blob %s and the committee",
                              ctx->committee->nodes[call->node].name,
                              ctx->meta.params.n, ctx->meta.segment_size,
                              ctx->route.id_text);
                walrus_metadata_free(&ctx->meta);
            }
        }

        if (!ctx->have_meta) {
            if (call->status == NGX_HTTP_NOT_FOUND) {
                ctx->meta_missing += weight;

            } else {
                ctx->meta_failed += weight;
            }
        }

    } else { /* NGX_WALRUS_READ_CALL_CERT */
        if (ctx->cert == NULL && ok) {
            cert = ngx_palloc(ctx->request->pool, sizeof(walrus_cert_t));
            rc = cert == NULL ? NGX_ERROR
                 : ngx_walrus_cert_check(ctx->history, cert, call->body,
                                         call->body_len, ctx->route.blob_id);

            if (rc == NGX_OK) {
                ctx->cert = cert;

            } else if (rc == NGX_DECLINED) {
                ctx->cert_epoch = cert->epoch;
                ctx->cert_unknown = 1;
                ngx_walrus_cert_unknown_epoch(ctx->request->connection->log,
                                              ctx->history, cert,
                                              ctx->committee->nodes[call->node]
                                              .name, ctx->route.id_text);

            } else if (cert != NULL) {
                ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                              "walrus: node %s sent a certificate that is "
                              "not a valid one of blob %s; dropped",
                              ctx->committee->nodes[call->node].name,
                              ctx->route.id_text);
            }
        }

        if (ctx->cert == NULL) {
            if (call->status == NGX_HTTP_NOT_FOUND) {
                ctx->cert_missing += weight;

                /* a claim, believed from f + 1 shards (below) */

                if (call->body != NULL
                    && ngx_strnstr(call->body, "\"BLOB_DELETED\"",
                                   call->body_len)
                       != NULL)
                {
                    ctx->deleted += weight;
                }

            } else {
                ctx->cert_failed += weight;
            }
        }
    }

    /* what counts is copied out: the answer is not needed any more */

    ngx_walrus_call_release(call);
}


ngx_int_t
ngx_walrus_meta_done(ngx_walrus_read_t *ctx)
{
    unsigned                        n, f;
    ngx_int_t                       rc;
    ngx_uint_t                      over;
    ngx_http_request_t             *r;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    r = ctx->request;
    n = ctx->committee->params.n;
    f = ctx->committee->params.f;
    wlcf = ngx_walrus_gateway_loc_conf(r);
    over = ngx_current_msec - ctx->started >= wlcf->read_timeout;

    if (ctx->have_meta && ctx->cert != NULL) {
        if (!ctx->complete_seen) {
            ngx_walrus_meta_complete(ctx);
        }

        rc = ngx_walrus_proof_done(ctx);

        if (rc == NGX_AGAIN
            || (rc == NGX_DECLINED && ngx_walrus_meta_settling(ctx)))
        {
            return NGX_AGAIN;
        }

        /*
         * The registrations came with the certificates, the latest
         * valid one is kept: an expired blob is not served, from a
         * cache or not, and not remembered.
         */

        if (ngx_walrus_lifetime_expired(ctx)) {
            ngx_walrus_meta_cancel(ctx);
            return ngx_walrus_lifetime_answer(ctx);
        }

        /* remembered once the claims are settled, with the verdict */

        if (!ctx->from_cache && (rc == NGX_OK || rc == NGX_DECLINED)) {
            ngx_walrus_meta_remember(ctx);
        }

        ngx_walrus_meta_cancel(ctx);

        switch (rc) {

        case NGX_OK:
            return ngx_walrus_proof_answer(ctx);

        case NGX_DECLINED:
            return ngx_walrus_read_prepare(ctx);

        case NGX_BUSY:
            return ngx_walrus_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                         NGX_WALRUS_DOMAIN_GATEWAY,
                                         "OVERLOADED", "the thread pool's "
                                         "queue is full; retry later");

        default: /* NGX_ERROR */
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /*
     * A certificate that verifies proves the blob certified: however many
     * nodes lost it, it is unavailable, never unknown (as for a read that
     * found it in a cache).
     */

    if (ctx->cert != NULL) {
        if (ctx->fanout.active > 0 && !over) {
            return NGX_AGAIN;
        }

        if (ngx_walrus_lifetime_expired(ctx)) {
            return ngx_walrus_lifetime_answer(ctx);
        }

        return ngx_walrus_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "BLOB_UNAVAILABLE",
                                     "blob %s is certified, but no storage "
                                     "node sent its metadata",
                                     ctx->route.id_text);
    }

    /*
     * Nodes holding n - f shards do not know the blob, or hold no
     * certificate: it is not found, unless another node proves it
     * certified within a hedge delay (the faster nodes may be the ones
     * that lost it).
     */

    if ((!ctx->have_meta && ctx->meta_missing >= n - f)
        || ctx->cert_missing >= n - f)
    {
        if (!ctx->missing_seen) {
            ctx->missing_seen = 1;
            ctx->missing_since = ngx_current_msec;
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "walrus: blob %s unknown to n - f shards",
                           ctx->route.id_text);
        }

        if (ctx->fanout.active > 0 && !over
            && ngx_current_msec - ctx->missing_since < wlcf->hedge_delay)
        {
            return NGX_AGAIN;
        }

        /* nodes that reclaimed it answer 404 with its registration */

        if (ngx_walrus_lifetime_expired(ctx)) {
            return ngx_walrus_lifetime_answer(ctx);
        }

        /*
         * Nodes of f + 1 shards, one honest at least, say that its
         * publisher deleted it (protocol 19.5); it is gone either way
         */

        if (ctx->deleted > f) {
            return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                         NGX_WALRUS_DOMAIN_GATEWAY,
                                         "BLOB_DELETED",
                                         "blob %s was deleted by its "
                                         "publisher", ctx->route.id_text);
        }

        ngx_walrus_cache_store_negative(r, ctx->route.id_text);

        return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "BLOB_NOT_FOUND",
                                     "blob %s is not stored or not certified",
                                     ctx->route.id_text);
    }

    if (ctx->fanout.active > 0 && !over) {
        return NGX_AGAIN;
    }

    if (ngx_walrus_lifetime_expired(ctx)) {
        return ngx_walrus_lifetime_answer(ctx);
    }

    /*
     * Certificates of an epoch this gateway's history lacks: the blob may
     * well be certified, the gateway cannot tell (its committee files are
     * behind the nodes', or the oldest were dropped).
     */

    if (ctx->cert_unknown) {
        return ngx_walrus_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "UNKNOWN_EPOCH",
                                     "blob %s is certified in epoch %uD, "
                                     "which this gateway's committee history "
                                     "(epochs %uD to %uD) does not hold",
                                     ctx->route.id_text, ctx->cert_epoch,
                                     ctx->history->first,
                                     ctx->history->current);
    }

    /* a node that failed both requests counts once */

    if (ngx_max(ctx->meta_failed, ctx->cert_failed) <= f && !over) {
        return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "BLOB_NOT_FOUND",
                                     "blob %s is not stored or not certified",
                                     ctx->route.id_text);
    }

    return ngx_walrus_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                 NGX_WALRUS_DOMAIN_GATEWAY, "BLOB_UNAVAILABLE",
                                 "too few storage nodes answered for blob %s",
                                 ctx->route.id_text);
}


/*
 * Metadata and certificate are in.  The certificate answers of the other
 * nodes are small and may say that the blob is inconsistent: they are
 * awaited (ngx_walrus_meta_settling); the metadata answers, which may be
 * large, are not needed any more.
 */

static void
ngx_walrus_meta_complete(ngx_walrus_read_t *ctx)
{
    ctx->complete = ngx_current_msec;
    ctx->complete_seen = 1;
    ctx->settled = ctx->from_cache || ctx->meta_calls == NULL;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "walrus: read of %s: metadata and certificate in%s",
                   ctx->route.id_text,
                   ctx->settled ? "" : ", awaiting the other certificates");

    ngx_walrus_meta_cancel_calls(ctx, 2);
}


/*
 * 1 while the certificate answers of nodes this worker does not know as
 * slow are awaited, for at most a hedge delay once the metadata and
 * certificate are in: a node that holds an inconsistency proof says so
 * in them, and the fastest answers need not be its.  Nodes still silent
 * then turn slow for the worker, as a hedge over them would make them.
 */

static ngx_uint_t
ngx_walrus_meta_settling(ngx_walrus_read_t *ctx)
{
    ngx_uint_t                      i, n, late;
    ngx_walrus_call_t              *call;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    if (ctx->settled) {
        return 0;
    }

    wlcf = ngx_walrus_gateway_loc_conf(ctx->request);
    n = ctx->committee->nnodes;
    late = ngx_current_msec - ctx->complete >= wlcf->hedge_delay;

    for (i = 0; i < n; i++) {
        call = ctx->meta_calls[2 * i + 1];

        if (call == NULL || call->done
            || ctx->health[i] != NGX_WALRUS_NODE_GOOD)
        {
            continue;
        }

        if (!late) {
            return 1;
        }

        ngx_walrus_health_slow(ctx, i);
    }

    ctx->settled = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "walrus: read of %s: certificates settled",
                   ctx->route.id_text);

    return 0;
}


ngx_msec_t
ngx_walrus_meta_wait(ngx_walrus_read_t *ctx)
{
    ngx_msec_t                      t, wait, left;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_gateway_loc_conf(ctx->request);

    if (!ctx->complete_seen) {
        t = ngx_current_msec - ctx->started;
        wait = t < wlcf->read_timeout ? wlcf->read_timeout - t : 1;

        if (ctx->missing_seen) {
            t = ngx_current_msec - ctx->missing_since;
            left = t < wlcf->hedge_delay ? wlcf->hedge_delay - t : 1;
            wait = ngx_min(wait, left);
        }

        return wait;
    }

    /* the other certificates, a proof asked for */

    wait = ngx_walrus_proof_wait(ctx);

    if (!ctx->settled) {
        t = ngx_current_msec - ctx->complete;
        left = t < wlcf->hedge_delay ? wlcf->hedge_delay - t : 1;
        wait = ngx_min(wait, left);
    }

    return wait != NGX_TIMER_INFINITE ? wait : wlcf->read_timeout;
}


/* what the nodes have not answered yet is not needed any more */

void
ngx_walrus_meta_cancel(ngx_walrus_read_t *ctx)
{
    ngx_walrus_meta_cancel_calls(ctx, 1);
}


/* every request (step 1), or the metadata requests only (step 2) */

static void
ngx_walrus_meta_cancel_calls(ngx_walrus_read_t *ctx, ngx_uint_t step)
{
    ngx_uint_t  i;

    if (ctx->meta_calls == NULL) {
        return;
    }

    for (i = 0; i < 2 * ctx->committee->nnodes; i += step) {
        if (ctx->meta_calls[i] != NULL) {
            ngx_walrus_fanout_cancel(ctx->meta_calls[i]);
            ctx->meta_calls[i] = NULL;
        }
    }
}
