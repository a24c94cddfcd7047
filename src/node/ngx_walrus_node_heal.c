/*
 * The keeper's heal phase: goes through this node's certified-blob
 * record, and for each blob whose metadata or sliver files of this
 * node's shards are missing, fetches the metadata from a peer (verified
 * against the blob ID) and rebuilds each missing sliver from recovery
 * symbols that peers send with Merkle proofs (protocol section 11).
 * Every symbol is verified, and the rebuilt sliver too, before it is made
 * durable; only then does the node confirm the blob.  A node downloads
 * about the size of what it rebuilds, not the blob.  This file drives the
 * phase and fetches metadata.
 */

#include <ngx_walrus_node_heal.h>
#include <ngx_walrus_buffer.h>


static ngx_int_t ngx_walrus_heal_blob(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h);
static ngx_int_t ngx_walrus_heal_meta_ask(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h);
static void ngx_walrus_heal_meta_run(void *data, ngx_log_t *log);
static void ngx_walrus_heal_meta_done(ngx_walrus_round_t *rd, void *data);
static void ngx_walrus_heal_cleanup(void *data);


ngx_int_t
ngx_walrus_heal_start(ngx_walrus_round_t *rd)
{
    ngx_int_t             rc;
    ngx_walrus_heal_t    *h;
    ngx_pool_cleanup_t   *cln;
    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;
    h = rd->phase_data;

    if (h == NULL) {
        h = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_heal_t));
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->npeers = kp->committee->nnodes;
        h->peers = ngx_pcalloc(rd->pool, kp->committee->nnodes
                                         * sizeof(ngx_walrus_heal_peer_t));
        cln = ngx_pool_cleanup_add(rd->pool, 0);
        if (h->peers == NULL || cln == NULL) {
            return NGX_ERROR;
        }

        /* the round may end in any step: what the heal holds goes too */
        cln->handler = ngx_walrus_heal_cleanup;
        cln->data = h;
        h->files[0].fd = -1;
        h->files[1].fd = -1;
        h->start = kp->rounds;

        rd->phase_data = h;
    }

    for ( ;; ) {
        switch (h->state) {

        case NGX_WALRUS_HEAL_SCAN_NEXT:
            if (h->scans >= NGX_WALRUS_HEAL_SCANS) {
                rd->phase_data = NULL;
                return NGX_DONE;
            }

            h->scans++;

            if (ngx_walrus_heal_scan(rd, h) != NGX_OK) {
                return NGX_ERROR;
            }

            h->state = NGX_WALRUS_HEAL_WAIT;
            return NGX_AGAIN;

        case NGX_WALRUS_HEAL_BLOB_NEXT:
            if (h->current >= h->nblobs) {
                if (!h->scan_more) {
                    rd->phase_data = NULL;
                    return NGX_DONE;
                }

                h->state = NGX_WALRUS_HEAL_SCAN_NEXT;
                break;
            }

            /* a blob that failed lately waits for its next try */

            if (ngx_walrus_keeper_waits(kp, h->blobs[h->current].id)) {
                h->current++;
                break;
            }

            /* NGX_OK: the state moved on; NGX_AGAIN: a task was posted */

            rc = ngx_walrus_heal_blob(rd, h);

            if (rc != NGX_OK) {
                return rc;
            }

            break;

        case NGX_WALRUS_HEAL_META_ASK:
            rc = ngx_walrus_heal_meta_ask(rd, h);

            /* NGX_DECLINED: the blob was given up, the state moved on */
            if (rc != NGX_DECLINED) {
                return rc;
            }

            break;

        case NGX_WALRUS_HEAL_PAIR_NEXT:
            if (ngx_walrus_heal_pair(rd, h) != NGX_OK) {
                return NGX_ERROR;
            }

            break;

        case NGX_WALRUS_HEAL_PULL_ASK:
            rc = ngx_walrus_heal_pull_ask(rd, h);

            /* NGX_DECLINED: recovery symbols from here on */
            if (rc != NGX_DECLINED) {
                return rc;
            }

            break;

        case NGX_WALRUS_HEAL_BATCH_ASK:
            rc = ngx_walrus_heal_batch_ask(rd, h);

            if (rc != NGX_DECLINED) {
                return rc;
            }

            break;

        case NGX_WALRUS_HEAL_COMMIT:
            if (ngx_walrus_heal_commit(rd, h) != NGX_OK)
            {
                return NGX_ERROR;
            }

            h->state = NGX_WALRUS_HEAL_WAIT;
            return NGX_AGAIN;

        default: /* NGX_WALRUS_HEAL_WAIT: a task ended without a verdict */
            return NGX_ERROR;
        }
    }
}


/* the next blob: its metadata, then its pairs */

static ngx_int_t
ngx_walrus_heal_blob(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h)
{
    ngx_walrus_heal_blob_t  *b;
    ngx_walrus_heal_task_t  *t;

    b = &h->blobs[h->current];

    if (walrus_store_dir(h->dir, (char *) rd->keeper->conf->store.data,
                         rd->keeper->conf->store.len, b->id_text)
        != 0)
    {
        return NGX_ERROR;
    }

    if (h->have_meta) {
        walrus_metadata_free(&h->meta);
        h->have_meta = 0;
    }

    h->meta_tried = 0;
    h->pair_i = 0;

    if (!b->has_meta) {
        h->state = NGX_WALRUS_HEAL_META_ASK;
        return NGX_OK;
    }

    /* the metadata here: read and checked in the thread pool */

    t = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_heal_task_t));
    if (t == NULL) {
        return NGX_ERROR;
    }

    t->heal = h;
    t->segment_size = rd->keeper->committee->segment_size;

    if (ngx_walrus_round_task(rd, ngx_walrus_heal_meta_run,
                              ngx_walrus_heal_meta_done, t)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    h->state = NGX_WALRUS_HEAL_WAIT;

    return NGX_AGAIN;
}


static ngx_int_t
ngx_walrus_heal_meta_ask(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h)
{
    u_char                  *p;
    ngx_str_t                uri;
    ngx_uint_t               node, n;
    ngx_walrus_call_t       *call;
    ngx_walrus_keeper_t     *kp;
    ngx_walrus_heal_blob_t  *b;
    u_char                   buf[sizeof("/v1/blobs//metadata")
                                 + WALRUS_BLOB_ID_TEXT_LEN];

    kp = rd->keeper;
    n = kp->committee->nnodes;
    b = &h->blobs[h->current];

    for ( ;; ) {
        if (h->meta_tried >= n) {
            ngx_walrus_heal_blob_failed(rd, h, "no peer gave its metadata");
            return NGX_DECLINED;
        }

        node = (h->start + h->meta_tried++) % n;

        if ((ngx_int_t) node != kp->conf->node_index) {
            break;
        }
    }

    p = ngx_sprintf(buf, "/v1/blobs/%s/metadata", b->id_text);
    uri.data = buf;
    uri.len = p - buf;

    call = ngx_walrus_round_call(rd, node, &uri, NGX_WALRUS_MAX_METADATA);
    if (call == NULL) {
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


void
ngx_walrus_heal_answer(ngx_walrus_round_t *rd, ngx_walrus_call_t *call)
{
    const char              *name;
    ngx_walrus_heal_t       *h;
    ngx_walrus_heal_task_t  *t;

    h = rd->phase_data;

    if (h == NULL) {
        return;
    }

    if (call->kind == NGX_WALRUS_HEAL_CALL_PULL) {
        ngx_walrus_heal_pull_answer(rd, h, call);
        return;
    }

    name = rd->keeper->committee->nodes[call->node].name;

    if (h->state == NGX_WALRUS_HEAL_META_ASK) {

        if (call->status != NGX_HTTP_OK || call->truncated) {
            ngx_log_debug3(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                           "walrus: peer %s: metadata of %s: status %ui",
                           name, h->blobs[h->current].id_text, call->status);
            return;
        }

        t = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_heal_task_t));
        if (t == NULL) {
            return;
        }

        t->heal = h;
        t->segment_size = rd->keeper->committee->segment_size;
        t->body = call->body;
        t->len = call->body_len;
        h->meta_task = t;
        call->body = NULL;
        call->body_size = 0;
        call->body_len = 0;

        if (ngx_walrus_round_task(rd, ngx_walrus_heal_meta_run,
                                  ngx_walrus_heal_meta_done, t)
            != NGX_OK)
        {
            ngx_walrus_buffer_free(t->body);
            return;
        }

        h->state = NGX_WALRUS_HEAL_WAIT;
        return;
    }

    if (h->state == NGX_WALRUS_HEAL_BATCH_ASK) {
        ngx_walrus_heal_batch_answer(rd, h, call);
    }
}


/* in the thread pool: metadata parsed, checked against the blob ID, kept */

static void
ngx_walrus_heal_meta_run(void *data, ngx_log_t *log)
{
    ngx_walrus_heal_task_t  *t = data;

    u_char                  *buf;
    size_t                   len;
    char                     path[WALRUS_PATH_MAX];
    walrus_file_t            f;
    ngx_walrus_heal_t       *h;
    ngx_walrus_heal_blob_t  *b;

    h = t->heal;
    b = &h->blobs[h->current];
    buf = t->body;
    len = t->len;

    if (buf == NULL) {
        if (walrus_store_path(path, h->dir, "metadata") != 0
            || walrus_read_file(path, NGX_WALRUS_MAX_METADATA, &buf, &len)
               != 0)
        {
            t->err = errno;
            t->rc = WALRUS_EIO;
            return;
        }
    }

    t->rc = walrus_metadata_parse(&h->meta, buf, len);

    if (t->rc == WALRUS_OK) {
        t->rc = walrus_metadata_check(&h->meta, b->id);

        if (t->rc == WALRUS_OK && h->meta.segment_size != t->segment_size) {
            t->rc = WALRUS_EFORMAT;
        }

        if (t->rc != WALRUS_OK) {
            walrus_metadata_free(&h->meta);
        }
    }

    if (t->rc == WALRUS_OK && t->body != NULL) {
        /* from a peer: kept, verified, before any sliver is rebuilt */

        if (walrus_store_open(&f, h->dir, "metadata") != 0) {
            t->err = errno;

        } else if (walrus_file_write(&f, buf, len) != 0
                   || walrus_store_commit(&f) != 0)
        {
            t->err = errno;
            walrus_file_abort(&f);
        }

        if (t->err) {
            walrus_metadata_free(&h->meta);
            t->rc = WALRUS_EIO;
        }
    }

    if (t->body == NULL) {
        free(buf);
    }
}


static void
ngx_walrus_heal_meta_done(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_heal_task_t  *t = data;

    ngx_walrus_heal_t       *h;
    ngx_walrus_heal_blob_t  *b;

    h = t->heal;
    b = &h->blobs[h->current];

    if (t->body != NULL) {
        ngx_walrus_buffer_free(t->body);
        t->body = NULL;
    }

    if (t->rc == WALRUS_OK) {
        h->have_meta = 1;
        h->state = NGX_WALRUS_HEAL_PAIR_NEXT;
        return;
    }

    if (t->err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, t->err,
                      "walrus: cannot keep the metadata of blob %s",
                      b->id_text);
        ngx_walrus_heal_blob_failed(rd, h, "of a store error");
        return;
    }

    if (!b->has_meta) {
        /* a peer's that does not verify: the next peer's */
        ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                      "walrus: a peer sent metadata of blob %s that does "
                      "not verify (%s): dropped", b->id_text,
                      walrus_strerror(t->rc));
        h->state = NGX_WALRUS_HEAL_META_ASK;
        return;
    }

    /* the file here is bad: it goes aside and comes from a peer */

    ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                  "walrus: the metadata file of blob %s does not verify: "
                  "fetching it from a peer", b->id_text);
    b->has_meta = 0;
    h->state = NGX_WALRUS_HEAL_META_ASK;
}


void
ngx_walrus_heal_drop_answers(ngx_walrus_heal_t *h, ngx_uint_t nnodes)
{
    ngx_uint_t  i;

    for (i = 0; i < nnodes; i++) {
        if (h->peers[i].body != NULL) {
            ngx_walrus_buffer_free(h->peers[i].body);
            h->peers[i].body = NULL;
        }

        if (h->peers[i].state == NGX_WALRUS_PEER_ANSWERED
            || h->peers[i].state == NGX_WALRUS_PEER_BUSY)
        {
            h->peers[i].state = NGX_WALRUS_PEER_UNASKED;
        }
    }
}


/*
 * Peers refuse the pair while an audit round challenges this node on the
 * blob and they have not its answer yet (docs/protocol.md 17.5): the lock
 * lifts once this node answered, within a few keeper rounds, so the
 * blob is tried again after a fixed short wait rather than the backoff
 * of a failure, which would grow with every round the blob is challenged
 * in.  Said once at info, while it lasts at debug.
 */

void
ngx_walrus_heal_blob_locked(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h,
    ngx_uint_t locked)
{
    time_t                delay, wait;
    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;
    wait = (time_t) ngx_max(kp->conf->keeper_interval / 1000, 1);

    delay = ngx_walrus_keeper_put_off_by(kp, h->blobs[h->current].id, wait);

    if (ngx_walrus_keeper_put_off_fails(kp, h->blobs[h->current].id) == 1) {
        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "walrus: node %V cannot heal blob %s while %ui peers "
                      "lock it for an audit of this node; next try in %T s",
                      &kp->conf->node_name, h->blobs[h->current].id_text,
                      locked, delay);
    }

    ngx_walrus_heal_blob_failed(rd, h, NULL);
}


/* the blob waits for a later pass; what was begun for it goes */

void
ngx_walrus_heal_blob_failed(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h,
    const char *why)
{
    time_t      delay;
    unsigned    a;
    ngx_uint_t  level;

    if (why != NULL) {
        delay = ngx_walrus_keeper_put_off(rd->keeper,
                                          h->blobs[h->current].id);

        /* said once loud; while it keeps failing, quietly */

        level = delay <= 2 ? NGX_LOG_WARN : NGX_LOG_INFO;

        ngx_log_error(level, rd->log, 0,
                      "walrus: node %V cannot heal blob %s for now: %s; "
                      "next try in %T s", &rd->keeper->conf->node_name,
                      h->blobs[h->current].id_text, why, delay);
        rd->keeper->failed++;
        ngx_walrus_node_count(&rd->keeper->conf->node_name,
                              NGX_WALRUS_NM_HEAL_FAILURES, 0, 1);
    }

    for (a = 0; a < 2; a++) {
        if (h->files[a].fd != -1) {
            walrus_file_abort(&h->files[a]);
            h->files[a].fd = -1;
        }
    }

    h->open = 0;
    ngx_walrus_heal_drop_answers(h, rd->keeper->committee->nnodes);

    h->current++;
    h->state = NGX_WALRUS_HEAL_BLOB_NEXT;
}


/*
 * Peers are too busy to answer (429): the phase ends for this round, and
 * the next round's scan starts at this blob.
 */

void
ngx_walrus_heal_later(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h)
{
    unsigned              a;
    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "walrus: peers busy: blob %s waits for the next round",
                   h->blobs[h->current].id_text);

    for (a = 0; a < 2; a++) {
        if (h->files[a].fd != -1) {
            walrus_file_abort(&h->files[a]);
            h->files[a].fd = -1;
        }
    }

    h->open = 0;
    ngx_walrus_heal_drop_answers(h, kp->committee->nnodes);

    if (kp->scan_known) {
        kp->scan_cursor = h->blobs[h->current].cursor;
    }

    rd->phase_data = NULL;
}


static void
ngx_walrus_heal_cleanup(void *data)
{
    ngx_walrus_heal_t  *h = data;

    unsigned    a;
    ngx_uint_t  i;

    for (a = 0; a < 2; a++) {
        if (h->files[a].fd != -1) {
            walrus_file_abort(&h->files[a]);
            h->files[a].fd = -1;
        }
    }

    for (i = 0; i < h->npeers; i++) {
        if (h->peers[i].body != NULL) {
            ngx_walrus_buffer_free(h->peers[i].body);
            h->peers[i].body = NULL;
        }
    }

    ngx_walrus_heal_pull_drop(h);

    if (h->meta_task != NULL && h->meta_task->body != NULL) {
        ngx_walrus_buffer_free(h->meta_task->body);
        h->meta_task->body = NULL;
    }

    if (h->have_meta) {
        walrus_metadata_free(&h->meta);
        h->have_meta = 0;
    }
}


u_char *
ngx_walrus_heal_take(ngx_walrus_round_t *rd, ngx_walrus_call_t *call,
    size_t *len)
{
    u_char  *body;

    body = call->body;
    *len = call->body_len;
    rd->keeper->heal_credit -= (int64_t) call->body_len;
    ngx_walrus_node_count(&rd->keeper->conf->node_name,
                          NGX_WALRUS_NM_HEAL_BYTES, 0, call->body_len);

    call->body = NULL;
    call->body_size = 0;
    call->body_len = 0;

    return body;
}


/*
 * walrus_node_heal_rate: a token bucket of recovery bytes, one second
 * deep, which answers may overdraw (a batch's size is known only once
 * it came); a batch is asked only when the bucket is not in debt, else
 * the round pauses until it is.  NGX_OK to ask now.
 */

ngx_int_t
ngx_walrus_heal_throttle(ngx_walrus_round_t *rd)
{
    int64_t               rate;
    ngx_msec_t            now, wait;
    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;
    rate = (int64_t) kp->conf->heal_rate;

    if (rate == 0) {
        return NGX_OK;
    }

    now = ngx_current_msec;

    if (kp->heal_last != 0) {
        kp->heal_credit += rate * (int64_t) (now - kp->heal_last) / 1000;
    }

    kp->heal_last = now;

    if (kp->heal_credit > rate) {
        kp->heal_credit = rate;
    }

    if (kp->heal_credit >= 0) {
        return NGX_OK;
    }

    wait = (ngx_msec_t) (-kp->heal_credit * 1000 / rate) + 1;

    ngx_walrus_round_pause(rd, wait);

    return NGX_AGAIN;
}
