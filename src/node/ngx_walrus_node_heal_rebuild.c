/*
 * The heal phase's rebuilding of a sliver pair: batches of segments whose
 * recovery symbols are asked of just enough peers, verified, decoded into
 * the pair's files and checked against the metadata; the files made
 * durable at the end.  Verified symbols that rebuild a sliver the
 * metadata does not commit to make an inconsistency proof.
 */

#include <ngx_walrus_node_heal.h>
#include <ngx_walrus_buffer.h>
#include <walrus_codec.h>


static unsigned ngx_walrus_heal_peer_pairs(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h, ngx_uint_t node, unsigned *pairs);
static ngx_int_t ngx_walrus_heal_call(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h, ngx_uint_t node, unsigned axes);
static ngx_int_t ngx_walrus_heal_rebuild(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h);
static void ngx_walrus_heal_rebuild_run(void *data, ngx_log_t *log);
static void ngx_walrus_heal_rebuilt(ngx_walrus_round_t *rd, void *data);


/* the next missing pair of the blob, or the next blob */

ngx_int_t
ngx_walrus_heal_pair(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h)
{
    ngx_uint_t               i;
    ngx_walrus_heal_blob_t  *b;

    b = &h->blobs[h->current];

    if (h->pair_i >= b->npairs) {
        h->current++;
        h->state = NGX_WALRUS_HEAL_BLOB_NEXT;
        return NGX_OK;
    }

    h->pair = b->pairs[h->pair_i];
    h->missing = b->missing[h->pair];
    h->first = 0;
    h->count = 0;
    h->busy_retries = 0;
    h->busy_have = 0;
    h->received = 0;

    ngx_walrus_heal_drop_answers(h, rd->keeper->committee->nnodes);
    ngx_walrus_heal_pull_drop(h);

    for (i = 0; i < rd->keeper->committee->nnodes; i++) {
        h->peers[i].state = NGX_WALRUS_PEER_UNASKED;
        h->peers[i].bad = 0;
    }

    h->pulled = 0;
    h->pull_asked = 0;
    h->old_owner = ngx_walrus_heal_old_owner(rd, h);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "walrus: rebuilding pair %ud of blob %s%s", h->pair,
                   b->id_text,
                   h->old_owner ? " from its old owner first" : "");

    h->state = h->old_owner ? NGX_WALRUS_HEAL_PULL_ASK
                            : NGX_WALRUS_HEAL_BATCH_ASK;

    return NGX_OK;
}


/*
 * Asks peers for the batch's recovery symbols until the peers asked hold
 * enough helper slivers: s for a primary sliver, p for a secondary one.
 * The first peers give both axes, the others only what is still short,
 * so that the bytes downloaded are about those rebuilt.  When the
 * answers are in, the batch is rebuilt.
 */

ngx_int_t
ngx_walrus_heal_batch_ask(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h)
{
    unsigned                 np, need_p, need_s, have_p, have_s, axes;
    ngx_uint_t               busy, locked, have;
    unsigned                 pairs[WALRUS_MAX_SHARDS];
    uint32_t                 count;
    ngx_uint_t               i, node, n, planned;
    ngx_uint_t               plan[WALRUS_MAX_SHARDS];
    unsigned                 plan_axes[WALRUS_MAX_SHARDS];
    ngx_walrus_keeper_t     *kp;
    ngx_walrus_heal_peer_t  *wp;
    const walrus_params_t   *params;

    kp = rd->keeper;
    n = kp->committee->nnodes;
    params = &h->meta.params;

    need_p = (h->missing & NGX_WALRUS_MISSING_PRIMARY) ? params->s : 0;
    need_s = (h->missing & NGX_WALRUS_MISSING_SECONDARY) ? params->p : 0;
    have_p = 0;
    have_s = 0;

    for (i = 0; i < n; i++) {
        wp = &h->peers[i];

        if (wp->state != NGX_WALRUS_PEER_ANSWERED) {
            continue;
        }

        np = ngx_walrus_heal_peer_pairs(rd, h, i, pairs);
        have_p += (wp->axes & WALRUS_RECOVERY_PRIMARY) ? np : 0;
        have_s += (wp->axes & WALRUS_RECOVERY_SECONDARY) ? np : 0;
    }

    have = have_p + have_s;

    if (have_p >= need_p && have_s >= need_s) {
        return ngx_walrus_heal_rebuild(rd, h) == NGX_OK ? NGX_AGAIN
                                                         : NGX_ERROR;
    }

    planned = 0;

    for (i = 0; i < n && (have_p < need_p || have_s < need_s); i++) {
        node = (h->start + i) % n;
        wp = &h->peers[node];

        if ((ngx_int_t) node == kp->conf->node_index
            || wp->state != NGX_WALRUS_PEER_UNASKED)
        {
            continue;
        }

        np = ngx_walrus_heal_peer_pairs(rd, h, node, pairs);
        axes = 0;

        if (have_p < need_p) {
            axes |= WALRUS_RECOVERY_PRIMARY;
            have_p += np;
        }

        if (have_s < need_s) {
            axes |= WALRUS_RECOVERY_SECONDARY;
            have_s += np;
        }

        plan[planned] = node;
        plan_axes[planned++] = axes;
    }

    if (have_p < need_p || have_s < need_s) {

        busy = 0;

        for (i = 0; i < n; i++) {
            if (h->peers[i].state == NGX_WALRUS_PEER_BUSY) {
                busy++;
            }
        }

        /*
         * A wave that brought answers starts the count again: busy
         * peers answer in turn, and what is in hand is kept.  (Counting
         * every wave gave up on a batch needing more peers than answer
         * at once, dropped its answers and asked for them all again in
         * the next round, over and over.)
         */

        if (have > h->busy_have) {
            h->busy_have = have;
            h->busy_retries = 0;
        }

        if (busy && h->busy_retries < NGX_WALRUS_HEAL_BUSY_RETRIES) {
            /* a busy peer (429) is free again once others answered */

            h->busy_retries++;

            for (i = 0; i < n; i++) {
                if (h->peers[i].state == NGX_WALRUS_PEER_BUSY) {
                    h->peers[i].state = NGX_WALRUS_PEER_UNASKED;
                }
            }

            return NGX_DECLINED;
        }

        if (busy) {
            /* not a failure of the blob: the next round asks again */
            ngx_walrus_heal_later(rd, h);
            return NGX_DONE;
        }

        locked = 0;

        for (i = 0; i < n; i++) {
            if (h->peers[i].state == NGX_WALRUS_PEER_LOCKED) {
                locked++;
            }
        }

        if (locked) {
            ngx_walrus_heal_blob_locked(rd, h, locked);
            return NGX_DECLINED;
        }

        ngx_walrus_heal_blob_failed(rd, h, "too few peers sent recovery "
                                           "symbols that verify");
        return NGX_DECLINED;
    }

    if (h->count == 0) {
        /* a new batch: as many segments as the answers' budget allows */

        h->count = (uint32_t) (h->meta.nsegments - h->first);

        for (i = 0; i < planned; i++) {
            np = ngx_walrus_heal_peer_pairs(rd, h, plan[i], pairs);
            count = walrus_recovery_segments_within(&h->meta, plan_axes[i],
                                                    np, h->first,
                                                    NGX_WALRUS_HEAL_BATCH
                                                    / planned);
            if (count < h->count) {
                h->count = count > 0 ? count : 1;
            }
        }
    }

    if (ngx_walrus_heal_throttle(rd) != NGX_OK) {
        return NGX_AGAIN;
    }

    for (i = 0; i < planned; i++) {
        if (ngx_walrus_heal_call(rd, h, plan[i], plan_axes[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_AGAIN;
}


/* the pairs of the blob a committee node holds, ascending */

static unsigned
ngx_walrus_heal_peer_pairs(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h,
    ngx_uint_t node, unsigned *pairs)
{
    unsigned                 i, j, k, pair, np;
    const walrus_node_t     *wn;
    ngx_walrus_heal_blob_t  *b;

    b = &h->blobs[h->current];
    wn = &rd->keeper->committee->nodes[node];
    np = 0;

    for (i = 0; i < wn->nshards; i++) {
        pair = walrus_shard_to_pair(&rd->keeper->committee->params, b->id,
                                    wn->shards[i]);

        for (j = np; j > 0 && pairs[j - 1] > pair; j--) {
            /* void */
        }

        for (k = np; k > j; k--) {
            pairs[k] = pairs[k - 1];
        }

        pairs[j] = pair;
        np++;
    }

    return np;
}


static ngx_int_t
ngx_walrus_heal_call(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h,
    ngx_uint_t node, unsigned axes)
{
    u_char                  *p;
    uint64_t                 size;
    ngx_str_t                uri;
    ngx_walrus_call_t       *call;
    walrus_recovery_head_t   head;
    ngx_walrus_heal_blob_t  *b;
    u_char                   buf[sizeof("/v1/blobs//recovery/"
                                        "?segments=-&axes=secondary")
                                 + WALRUS_BLOB_ID_TEXT_LEN
                                 + 3 * NGX_INT64_LEN];

    b = &h->blobs[h->current];

    ngx_memzero(&head, sizeof(walrus_recovery_head_t));
    ngx_memcpy(head.blob_id, b->id, WALRUS_BLOB_ID_LEN);
    head.target = h->pair;
    head.axes = axes;
    head.first = (uint32_t) h->first;
    head.count = h->count;
    head.nhelpers = ngx_walrus_heal_peer_pairs(rd, h, node, head.helpers);

    /* a peer may leave out a pair it cannot vouch for: never more */
    size = walrus_recovery_answer_size(&h->meta, &head);

    p = ngx_sprintf(buf, "/v1/blobs/%s/recovery/%ud?segments=%uL-%uL&axes=%s",
                    b->id_text, h->pair, h->first,
                    h->first + h->count - 1,
                    axes == WALRUS_RECOVERY_BOTH ? "both"
                    : axes == WALRUS_RECOVERY_PRIMARY ? "primary"
                                                      : "secondary");
    uri.data = buf;
    uri.len = p - buf;

    call = ngx_walrus_round_call(rd, node, &uri, (size_t) size);
    if (call == NULL) {
        return NGX_ERROR;
    }

    h->peers[node].state = NGX_WALRUS_PEER_ASKED;
    h->peers[node].axes = axes;

    return NGX_OK;
}


/* a peer's recovery answer for the batch, kept for the rebuild */

void
ngx_walrus_heal_batch_answer(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h,
    ngx_walrus_call_t *call)
{
    const char              *name;
    ngx_walrus_heal_peer_t  *wp;

    name = rd->keeper->committee->nodes[call->node].name;

    wp = &h->peers[call->node];

    if (call->status == NGX_HTTP_TOO_MANY_REQUESTS) {
        wp->state = NGX_WALRUS_PEER_BUSY;
        return;
    }

    if (call->status == NGX_HTTP_CONFLICT) {
        /* 409 AUDIT_LOCKED (docs/protocol.md 17.5): not the peer's fault */
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                       "walrus: peer %s locks pair %ud of blob %s for an "
                       "audit", name, h->pair, h->blobs[h->current].id_text);
        wp->state = NGX_WALRUS_PEER_LOCKED;
        return;
    }

    if (call->status != NGX_HTTP_OK || call->truncated) {
        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "walrus: peer %s gave no recovery symbols for pair "
                      "%ud of blob %s (status %ui%s)", name, h->pair,
                      h->blobs[h->current].id_text, call->status,
                      call->truncated ? ", answer too long" : "");
        wp->state = NGX_WALRUS_PEER_FAILED;
        return;
    }

    wp->state = NGX_WALRUS_PEER_ANSWERED;
    wp->body = ngx_walrus_heal_take(rd, call, &wp->len);
    h->received += wp->len;
}


static ngx_int_t
ngx_walrus_heal_rebuild(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h)
{
    ngx_uint_t               i;
    ngx_walrus_heal_task_t  *t;

    t = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_heal_task_t));
    if (t == NULL) {
        return NGX_ERROR;
    }

    t->heal = h;
    t->n = rd->keeper->committee->params.n;

    for (i = 0; i < rd->keeper->committee->nnodes; i++) {
        if (h->peers[i].state == NGX_WALRUS_PEER_ANSWERED) {
            t->peer[t->npeers++] = i;
        }
    }

    t->answers = ngx_pcalloc(rd->pool, t->npeers
                                       * sizeof(walrus_recovery_answer_t));
    if (t->answers == NULL) {
        return NGX_ERROR;
    }

    if (ngx_walrus_round_task(rd, ngx_walrus_heal_rebuild_run,
                              ngx_walrus_heal_rebuilt, t)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    h->state = NGX_WALRUS_HEAL_WAIT;

    return NGX_OK;
}


/*
 * In the thread pool: every answer parsed and each symbol verified, then
 * the batch's slices rebuilt, verified against the metadata and appended
 * to the temporary sliver files.  Symbols that verify but rebuild a
 * sliver the metadata does not commit to prove the blob inconsistent:
 * the proof is kept beside it.
 */

static void
ngx_walrus_heal_rebuild_run(void *data, ngx_log_t *log)
{
    ngx_walrus_heal_task_t  *t = data;

    int                               rc;
    u_char                           *out, *proof;
    size_t                            size, proof_len;
    unsigned                          a, k;
    uint64_t                          g;
    walrus_axis_e                     axis;
    walrus_file_t                     f;
    walrus_codec_t                   *codec;
    ngx_walrus_heal_t                *h;
    const walrus_recovery_answer_t   *answers[WALRUS_MAX_SHARDS];
    const walrus_recovery_head_t     *head;

    h = t->heal;
    out = NULL;
    t->rc = WALRUS_OK;

    codec = walrus_codec_create(t->n);
    if (codec == NULL) {
        t->rc = WALRUS_ENOMEM;
        return;
    }

    k = 0;

    for (a = 0; a < t->npeers; a++) {
        rc = walrus_recovery_parse(codec, &h->meta, h->blobs[h->current].id,
                                   h->peers[t->peer[a]].body,
                                   h->peers[t->peer[a]].len,
                                   &t->answers[a]);
        head = &t->answers[a].head;

        if (rc == WALRUS_OK
            && (head->target != h->pair || head->first > h->first
                || (uint64_t) head->first + head->count
                   < h->first + h->count))
        {
            rc = WALRUS_EFORMAT;
        }

        t->format[a] = rc;
        t->lied[a] = rc == WALRUS_OK && t->answers[a].nfailed > 0;

        if (rc == WALRUS_OK) {
            answers[k++] = &t->answers[a];
        }
    }

    size = walrus_sliver_size(&h->meta.params, WALRUS_PRIMARY,
                              walrus_symbol_size(&h->meta.params,
                                                 h->meta.segment_size));
    out = malloc(size);
    if (out == NULL) {
        t->rc = WALRUS_ENOMEM;
        goto done;
    }

    t->err = ngx_walrus_heal_open_files(h);

    if (t->err) {
        t->rc = WALRUS_EIO;
        goto done;
    }

    for (g = h->first; g < h->first + h->count; g++) {
        for (a = 0; a < 2; a++) {
            if (!(h->missing & (1 << a))) {
                continue;
            }

            axis = a == 0 ? WALRUS_PRIMARY : WALRUS_SECONDARY;

            rc = walrus_recovery_rebuild(codec, &h->meta, answers, k, axis,
                                         g, out);

            if (rc == WALRUS_EINCONSISTENT) {
                if (walrus_inconsistency_build(codec, &h->meta, answers, k,
                                               axis, g, &proof, &proof_len)
                    == WALRUS_OK)
                {
                    if (walrus_store_open(&f, h->dir, "inconsistency") != 0
                        || walrus_file_write(&f, proof, proof_len) != 0
                        || walrus_file_commit(&f) != 0)
                    {
                        t->err = errno;
                        walrus_file_abort(&f);
                    }

                    free(proof);
                }
            }

            if (rc != WALRUS_OK) {
                t->rc = rc;
                goto done;
            }

            size = walrus_sliver_size(&h->meta.params, axis,
                       walrus_symbol_size(&h->meta.params,
                           walrus_segment_length(h->meta.length,
                                                 h->meta.segment_size, g)));

            if (walrus_file_write(&h->files[a], out, size) != 0) {
                t->err = errno;
                t->rc = WALRUS_EIO;
                goto done;
            }
        }

        t->done++;
    }

done:

    free(out);

    for (a = 0; a < t->npeers; a++) {
        walrus_recovery_answer_free(&t->answers[a]);
    }

    walrus_codec_destroy(codec);
}


static void
ngx_walrus_heal_rebuilt(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_heal_task_t  *t = data;

    const char              *name;
    ngx_uint_t               a, node;
    ngx_walrus_heal_t       *h;
    ngx_walrus_heal_peer_t  *wp;
    ngx_walrus_heal_blob_t  *b;

    h = t->heal;
    b = &h->blobs[h->current];

    /* a peer whose answer does not verify is not asked again */

    for (a = 0; a < t->npeers; a++) {
        node = t->peer[a];
        wp = &h->peers[node];
        name = rd->keeper->committee->nodes[node].name;

        if (t->format[a] != WALRUS_OK) {
            ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                          "walrus: peer %s sent a recovery answer for pair "
                          "%ud of blob %s that is not one (%s): dropped",
                          name, h->pair, b->id_text,
                          walrus_strerror(t->format[a]));

        } else if (t->lied[a]) {
            ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                          "walrus: peer %s sent recovery symbols for pair "
                          "%ud of blob %s that do not verify: dropped",
                          name, h->pair, b->id_text);

        } else {
            continue;
        }

        wp->bad = 1;
        wp->state = NGX_WALRUS_PEER_FAILED;
        ngx_walrus_buffer_free(wp->body);
        wp->body = NULL;
    }

    h->first += t->done;
    h->count -= t->done;

    switch (t->rc) {

    case WALRUS_OK:
        ngx_walrus_heal_drop_answers(h, rd->keeper->committee->nnodes);
        h->count = 0;
        h->busy_retries = 0;
        h->busy_have = 0;
        h->state = h->first >= h->meta.nsegments ? NGX_WALRUS_HEAL_COMMIT
                                                 : NGX_WALRUS_HEAL_BATCH_ASK;
        return;

    case WALRUS_ENOTENOUGH:
        /* more peers for the same segments */
        h->state = NGX_WALRUS_HEAL_BATCH_ASK;
        return;

    case WALRUS_EINCONSISTENT:
        ngx_log_error(NGX_LOG_WARN, rd->log, t->err,
                      "walrus: blob %s was encoded inconsistently: its "
                      "proof is kept in %s/inconsistency", b->id_text,
                      h->dir);
        ngx_walrus_heal_blob_failed(rd, h, NULL);
        return;

    default:
        if (t->err) {
            ngx_log_error(NGX_LOG_ERR, rd->log, t->err,
                          "walrus: cannot write the slivers of blob %s",
                          b->id_text);
        }

        ngx_walrus_heal_blob_failed(rd, h, walrus_strerror(t->rc));
        return;
    }
}
