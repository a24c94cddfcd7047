/*
 * The heal phase's shard migration: a pair whose shard another node held
 * in the previous epoch is taken from that node, its old owner, which
 * keeps serving it until the change is complete (docs/protocol.md 18.6).
 * Batches of segments come as Range requests on the old owner's sliver
 * files; every slice is checked against the metadata before it is
 * written.  When the old owner is gone, slow, lacks the pair or sends a
 * slice that does not verify, the rest of the pair is rebuilt from
 * recovery symbols of the current committee, from the segment reached.
 */

#include <ngx_walrus_node_heal.h>
#include <ngx_walrus_buffer.h>
#include <walrus_codec.h>
#include <walrus_sliver_file.h>


typedef struct {
    ngx_walrus_heal_t         *heal;
    unsigned                   n;
    const u_char              *body[2];
    size_t                     len[2];
    uint32_t                   done;       /* segments written */
    uint64_t                   bad;        /* the first that did not verify */
    int                        rc;
    int                        err;
} ngx_walrus_pull_task_t;


static uint32_t ngx_walrus_pull_count(ngx_walrus_heal_t *h);
static ngx_int_t ngx_walrus_pull_call(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h, unsigned a);
static void ngx_walrus_pull_run(void *data, ngx_log_t *log);
static void ngx_walrus_pull_done(ngx_walrus_round_t *rd, void *data);
static ngx_int_t ngx_walrus_pull_off(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h, ngx_uint_t shun);


/*
 * The node that held the pair's shard in the previous epoch, when it is
 * another node and the blob was certified before this epoch (a blob of
 * this epoch was uploaded to this node's shards, not to the old owner's),
 * and it has not failed this phase already.
 */

const walrus_node_t *
ngx_walrus_heal_old_owner(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h)
{
    unsigned                   shard;
    ngx_uint_t                 i;
    ngx_walrus_keeper_t       *kp;
    const walrus_node_t       *old;
    const walrus_committee_t  *prev;
    ngx_walrus_heal_blob_t    *b;

    kp = rd->keeper;
    b = &h->blobs[h->current];

    if (kp->committee->epoch == 0 || b->epoch >= kp->committee->epoch) {
        return NULL;
    }

    prev = walrus_history_committee(kp->history, kp->committee->epoch - 1);
    if (prev == NULL) {
        return NULL;
    }

    shard = walrus_pair_to_shard(&kp->committee->params, b->id, h->pair);
    old = &prev->nodes[prev->shard_owner[shard]];

    if (ngx_strcmp(old->name, kp->conf->node_name.data) == 0) {
        /* this node held it and lost it: nothing to migrate */
        return NULL;
    }

    for (i = 0; i < h->nshunned; i++) {
        if (h->shunned[i] == old) {
            return NULL;
        }
    }

    return old;
}


/*
 * Asks the old owner for the next batch of the pair's missing slivers,
 * one Range request per sliver; once both answered, checks and writes
 * them.  NGX_DECLINED: the pair goes on from recovery symbols.
 */

ngx_int_t
ngx_walrus_heal_pull_ask(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h)
{
    unsigned                 a;
    ngx_uint_t               ok;
    ngx_walrus_pull_task_t  *t;

    if (!h->pull_asked) {
        if (ngx_walrus_heal_throttle(rd) != NGX_OK) {
            return NGX_AGAIN;
        }

        h->count = ngx_walrus_pull_count(h);

        for (a = 0; a < 2; a++) {
            if ((h->missing & (1 << a))
                && ngx_walrus_pull_call(rd, h, a) != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        h->pull_asked = 1;

        return NGX_AGAIN;
    }

    h->pull_asked = 0;

    /* the answers are in (the round calls back once no call runs) */

    ok = 1;

    for (a = 0; a < 2; a++) {
        h->pull[a] = NULL;

        if ((h->missing & (1 << a)) && h->pull_body[a] == NULL) {
            ok = 0;
        }
    }

    if (!ok) {
        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "walrus: old owner %s gave no slivers of pair %ud of "
                      "blob %s: rebuilding it from recovery symbols",
                      h->old_owner->name, h->pair,
                      h->blobs[h->current].id_text);
        return ngx_walrus_pull_off(rd, h, 1);
    }

    t = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_pull_task_t));
    if (t == NULL) {
        return NGX_ERROR;
    }

    t->heal = h;
    t->n = rd->keeper->committee->params.n;

    for (a = 0; a < 2; a++) {
        t->body[a] = h->pull_body[a];
        t->len[a] = h->pull_len[a];
    }

    if (ngx_walrus_round_task(rd, ngx_walrus_pull_run, ngx_walrus_pull_done,
                              t)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    h->state = NGX_WALRUS_HEAL_WAIT;

    return NGX_AGAIN;
}


/* segments from h->first whose missing slices fit in a batch: one or more */

static uint32_t
ngx_walrus_pull_count(ngx_walrus_heal_t *h)
{
    size_t    size, total;
    uint64_t  g;
    unsigned  a;

    total = 0;

    for (g = h->first; g < h->meta.nsegments; g++) {
        size = 0;

        for (a = 0; a < 2; a++) {
            if (h->missing & (1 << a)) {
                size += walrus_sliver_slice_size(&h->meta,
                                                 a ? WALRUS_SECONDARY
                                                   : WALRUS_PRIMARY, g);
            }
        }

        if (total > 0 && total + size > NGX_WALRUS_HEAL_BATCH) {
            break;
        }

        total += size;
    }

    return (uint32_t) (g - h->first);
}


static ngx_int_t
ngx_walrus_pull_call(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h,
    unsigned a)
{
    u_char                  *p;
    uint64_t                 from, to;
    ngx_str_t                uri;
    walrus_axis_e            axis;
    ngx_walrus_call_t       *call;
    ngx_walrus_heal_blob_t  *b;
    u_char                   buf[sizeof("/v1/blobs//slivers//secondary")
                                 + WALRUS_BLOB_ID_TEXT_LEN
                                 + NGX_INT32_LEN];

    b = &h->blobs[h->current];
    axis = a ? WALRUS_SECONDARY : WALRUS_PRIMARY;

    from = walrus_sliver_offset(&h->meta, axis, h->first);
    to = walrus_sliver_offset(&h->meta, axis, h->first + h->count - 1)
         + walrus_sliver_slice_size(&h->meta, axis, h->first + h->count - 1);

    p = ngx_sprintf(buf, "/v1/blobs/%s/slivers/%ud/%s", b->id_text, h->pair,
                    a ? "secondary" : "primary");
    uri.data = buf;
    uri.len = p - buf;

    call = ngx_walrus_fanout_call_to(rd->request, &rd->fanout, NULL,
                                     h->old_owner->name, 0, NGX_HTTP_GET,
                                     &uri, NULL, (size_t) (to - from));
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->kind = NGX_WALRUS_HEAL_CALL_PULL;
    call->data = h;

    call->range.data = ngx_pnalloc(call->pool, sizeof("bytes=-") - 1
                                               + 2 * NGX_INT64_LEN);
    if (call->range.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(call->range.data, "bytes=%uL-%uL", from, to - 1);
    call->range.len = p - call->range.data;

    h->pull[a] = call;

    return NGX_OK;
}


/* an answer of the old owner: kept when it is the whole range */

void
ngx_walrus_heal_pull_answer(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h,
    ngx_walrus_call_t *call)
{
    unsigned  a;

    for (a = 0; a < 2; a++) {
        if (h->pull[a] == call) {
            break;
        }
    }

    if (a == 2 || h->state != NGX_WALRUS_HEAL_PULL_ASK) {
        return;
    }

    h->pull[a] = NULL;

    if ((call->status != NGX_HTTP_OK
         && call->status != NGX_HTTP_PARTIAL_CONTENT)
        || call->truncated || call->body_len != call->body_max)
    {
        ngx_log_debug5(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                       "walrus: old owner %s: pair %ud of %s: status %ui, "
                       "%uz bytes", h->old_owner->name, h->pair,
                       h->blobs[h->current].id_text, call->status,
                       call->body_len);
        return;
    }

    h->pull_body[a] = ngx_walrus_heal_take(rd, call, &h->pull_len[a]);
    h->pulled += h->pull_len[a];
}


/*
 * In the thread pool: each segment's slices checked against the metadata,
 * then appended to the pair's files; the first slice that does not
 * verify ends the batch there.
 */

static void
ngx_walrus_pull_run(void *data, ngx_log_t *log)
{
    ngx_walrus_pull_task_t  *t = data;

    int                 rc;
    size_t              off[2], size[2];
    uint64_t            g;
    unsigned            a;
    walrus_codec_t     *codec;
    ngx_walrus_heal_t  *h;

    h = t->heal;
    t->rc = WALRUS_OK;

    codec = walrus_codec_create(t->n);
    if (codec == NULL) {
        t->rc = WALRUS_ENOMEM;
        return;
    }

    t->err = ngx_walrus_heal_open_files(h);

    if (t->err) {
        t->rc = WALRUS_EIO;
        goto done;
    }

    off[0] = 0;
    off[1] = 0;

    for (g = h->first; g < h->first + h->count; g++) {
        for (a = 0; a < 2; a++) {
            if (!(h->missing & (1 << a))) {
                continue;
            }

            size[a] = walrus_sliver_slice_size(&h->meta,
                                               a ? WALRUS_SECONDARY
                                                 : WALRUS_PRIMARY, g);

            rc = off[a] + size[a] > t->len[a] ? WALRUS_ELENGTH
                 : walrus_sliver_slice_verify(codec, &h->meta, h->pair,
                                              a ? WALRUS_SECONDARY
                                                : WALRUS_PRIMARY,
                                              g, t->body[a] + off[a],
                                              size[a]);
            if (rc != WALRUS_OK) {
                t->rc = rc;
                t->bad = g;
                goto done;
            }
        }

        for (a = 0; a < 2; a++) {
            if (!(h->missing & (1 << a))) {
                continue;
            }

            if (walrus_file_write(&h->files[a], t->body[a] + off[a],
                                  size[a])
                != 0)
            {
                t->err = errno;
                t->rc = WALRUS_EIO;
                goto done;
            }

            off[a] += size[a];
        }

        t->done++;
    }

done:

    walrus_codec_destroy(codec);
}


static void
ngx_walrus_pull_done(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_pull_task_t  *t = data;

    ngx_walrus_heal_t       *h;
    ngx_walrus_heal_blob_t  *b;

    h = t->heal;
    b = &h->blobs[h->current];

    ngx_walrus_heal_pull_drop(h);

    h->first += t->done;
    h->count = 0;

    if (t->rc == WALRUS_OK) {
        h->state = h->first >= h->meta.nsegments ? NGX_WALRUS_HEAL_COMMIT
                                                 : NGX_WALRUS_HEAL_PULL_ASK;
        return;
    }

    if (t->rc == WALRUS_EIO || t->rc == WALRUS_ENOMEM) {
        if (t->err) {
            ngx_log_error(NGX_LOG_ERR, rd->log, t->err,
                          "walrus: cannot write the slivers of blob %s",
                          b->id_text);
        }

        ngx_walrus_heal_blob_failed(rd, h, walrus_strerror(t->rc));
        return;
    }

    /* a slice the metadata does not commit to: the old owner lies */

    ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                  "walrus: old owner %s sent segment %uL of pair %ud of "
                  "blob %s that does not verify (%s): rebuilding the rest "
                  "from recovery symbols", h->old_owner->name, t->bad,
                  h->pair, b->id_text, walrus_strerror(t->rc));

    (void) ngx_walrus_pull_off(rd, h, 1);
}


/* no more from the old owner: recovery symbols from h->first on */

static ngx_int_t
ngx_walrus_pull_off(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h,
    ngx_uint_t shun)
{
    ngx_walrus_heal_pull_drop(h);

    if (shun && h->nshunned < NGX_WALRUS_HEAL_SHUNNED) {
        h->shunned[h->nshunned++] = h->old_owner;
    }

    h->count = 0;
    h->state = NGX_WALRUS_HEAL_BATCH_ASK;

    return NGX_DECLINED;
}


void
ngx_walrus_heal_pull_drop(ngx_walrus_heal_t *h)
{
    unsigned  a;

    for (a = 0; a < 2; a++) {
        h->pull[a] = NULL;

        if (h->pull_body[a] != NULL) {
            ngx_walrus_buffer_free(h->pull_body[a]);
            h->pull_body[a] = NULL;
        }
    }
}
