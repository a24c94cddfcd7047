/*
 * Gateway read path: a segment's decode.  The slivers that arrived are
 * verified in one batch and the segment rebuilt from the good ones, in
 * the thread pool for a segment over walrus_gateway_inline_size (one
 * task per window slot, an EACH group of the read), else at once; the
 * verdicts and the result are applied to the segment in the worker.
 */

#include <ngx_walrus_read.h>
#include <ngx_walrus_buffer.h>
#include <walrus_codec.h>


/* a decode's input and result, apart from the segment while it runs */

typedef struct {
    ngx_walrus_seg_t      *seg;
    unsigned               n;
    const uint8_t         *pair_hashes;
    const uint8_t         *slivers[WALRUS_MAX_SHARDS];
    u_char                 verdict[WALRUS_MAX_SHARDS];
    u_char                *scratch;     /* the codec's parity cells */
    size_t                 scratch_size;
    int                    rc;
} ngx_walrus_decode_t;


static void ngx_walrus_decode_thread(void *data, ngx_log_t *log);
static void ngx_walrus_decode_done(ngx_walrus_thread_t *th,
    ngx_thread_task_t *task);
static void ngx_walrus_decode_apply(ngx_walrus_seg_t *seg,
    ngx_walrus_decode_t *d);


ngx_int_t
ngx_walrus_seg_decode(ngx_walrus_seg_t *seg)
{
    unsigned                        i, n, arrived;
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
    arrived = 0;

    for (i = 0; i < n; i++) {
        d->slivers[i] = NULL;
        d->verdict[i] = seg->state[i];

        if (seg->state[i] == NGX_WALRUS_SLOT_ARRIVED
            || seg->state[i] == NGX_WALRUS_SLOT_GOOD)
        {
            d->slivers[i] = seg->calls[i]->body;
            arrived += seg->state[i] == NGX_WALRUS_SLOT_ARRIVED;
        }
    }

    /*
     * The parity symbols of the batch (the slivers that arrived, or the
     * p decoded rows) go into a recycled buffer: a codec's own memory
     * would be fresh pages at every read.  Without one the codec
     * allocates its own.
     */

    d->scratch_size = walrus_slivers_scratch(&ctx->meta.params,
                                             WALRUS_PRIMARY, seg->sym,
                                             ngx_max(arrived,
                                                     ctx->meta.params.p));
    d->scratch = ngx_walrus_buffer_alloc(d->scratch_size,
                                         r->connection->log);

    if (task == NULL) {
        ngx_walrus_decode_thread(d, r->connection->log);
        ngx_walrus_decode_apply(seg, d);
        return NGX_AGAIN;
    }

    task->handler = ngx_walrus_decode_thread;

    /* the read goes on at each decode's end: it never holds r->aio */

    if (ctx->decode.request == NULL) {
        ngx_walrus_thread_init(&ctx->decode, r, wlcf->thread_pool,
                               NGX_WALRUS_THREAD_EACH);
        ctx->decode.done = ngx_walrus_decode_done;
    }

    if (ngx_walrus_thread_post(&ctx->decode, task) != NGX_OK) {
        ngx_walrus_buffer_free(d->scratch);
        d->scratch = NULL;

        if (ctx->header_sent) {
            return NGX_ERROR;
        }

        return ngx_walrus_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "OVERLOADED", "the decoder queue is "
                                     "full; retry later");
    }

    seg->working = 1;

    return NGX_AGAIN;
}


/* runs in the thread pool: verify what arrived, then decode */

static void
ngx_walrus_decode_thread(void *data, ngx_log_t *log)
{
    ngx_walrus_decode_t  *d = data;

    int                rc;
    uint8_t           *batch[WALRUS_MAX_SHARDS],
                       hashes[WALRUS_MAX_SHARDS * WALRUS_HASH_LEN];
    unsigned           i, j, good, count, index[WALRUS_MAX_SHARDS];
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

    walrus_codec_lend(codec, d->scratch, d->scratch_size);

    /*
     * The slivers that arrived are hashed in one batch, in place: they
     * are capture buffers of this request (ngx_walrus_buffer_alloc(), with
     * a spare byte before each), which nothing else reads meanwhile.
     */

    count = 0;

    for (i = 0; i < d->n; i++) {
        if (d->verdict[i] == NGX_WALRUS_SLOT_ARRIVED) {
            index[count] = i;
            batch[count++] = (uint8_t *) d->slivers[i];
        }
    }

    rc = walrus_slivers_hash(codec, WALRUS_PRIMARY, seg->sym, batch, count,
                             hashes);

    /* our own failure (memory) is not the nodes' */

    if (rc != WALRUS_OK) {
        d->rc = rc;
        walrus_codec_destroy(codec);
        return;
    }

    for (j = 0; j < count; j++) {
        i = index[j];

        d->verdict[i] = ngx_memcmp(hashes + j * WALRUS_HASH_LEN,
                                   d->pair_hashes
                                   + (size_t) i * WALRUS_PAIR_HASH_LEN,
                                   WALRUS_HASH_LEN)
                        == 0 ? NGX_WALRUS_SLOT_GOOD : NGX_WALRUS_SLOT_BAD;
    }

    for (i = 0; i < d->n; i++) {
        present[i] = NULL;

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
ngx_walrus_decode_done(ngx_walrus_thread_t *th, ngx_thread_task_t *task)
{
    ngx_walrus_seg_t     *seg;
    ngx_walrus_decode_t  *d;

    d = task->ctx;
    seg = d->seg;
    seg->working = 0;

    ngx_walrus_decode_apply(seg, d);
}


static void
ngx_walrus_decode_apply(ngx_walrus_seg_t *seg, ngx_walrus_decode_t *d)
{
    unsigned            i;
    ngx_walrus_read_t  *ctx;

    ctx = seg->ctx;

    ngx_walrus_buffer_free(d->scratch);
    d->scratch = NULL;

    for (i = 0; i < d->n; i++) {
        if (seg->state[i] == NGX_WALRUS_SLOT_ARRIVED
            && d->verdict[i] == NGX_WALRUS_SLOT_BAD)
        {
            ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                          "walrus: node %s sent a primary sliver %ud of "
                          "segment %uL of blob %s that does not match the "
                          "metadata; skipped",
                          seg->calls[i]->name, i, seg->index,
                          ctx->route.id_text);

            ngx_walrus_peer_count(seg->calls[i]->name,
                                  NGX_WALRUS_PM_BAD_SLIVERS, 0);

            if (seg->calls[i]->kind != NGX_WALRUS_READ_CALL_OLD_OWNER) {
                ngx_walrus_health_bad(ctx, seg->calls[i]->node);
            }

            ngx_walrus_call_release(seg->calls[i]);
        }

        /* a sliver that arrived while the task ran waits for the next */

        if (seg->state[i] == NGX_WALRUS_SLOT_ARRIVED
            && d->verdict[i] != NGX_WALRUS_SLOT_REQUESTED)
        {
            seg->state[i] = d->verdict[i];
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "walrus: segment %uL decoded: %d", seg->index, d->rc);

    seg->rc = d->rc;
    seg->decoded = d->rc == WALRUS_OK;
    seg->retry = d->rc == WALRUS_ENOTENOUGH;
}
