/*
 * The keeper's challenges of its peers (the challenge sets are picked
 * in ngx_walrus_node_audit_pick.c): the answers asked and checked, and
 * what is kept of them: an attestation, the blobs a peer said it lacks,
 * or a fraud proof.  A peer that does not answer, or answers bytes that prove
 * nothing, is asked again later: nothing here follows from lateness.
 */

#include <ngx_walrus_node_auditor.h>
#include <ngx_walrus_buffer.h>
#include <walrus_file.h>
#include <walrus_store.h>


/* one answer, checked in the thread pool */
typedef struct {
    ngx_walrus_keeper_t        *keeper;
    const walrus_committee_t   *committee;
    EVP_PKEY                   *key;
    uint32_t                    round;
    ngx_uint_t                  node;
    uint8_t                     seed[32];
    unsigned                    npicked;
    uint8_t                   (*picked)[WALRUS_BLOB_ID_LEN];
    u_char                     *body;
    size_t                      len;
    ngx_walrus_verdict_e        verdict;    /* NONE: ask again */
    const char                 *why;        /* of a NONE */
    unsigned                    nmissing;
    uint8_t                     bad[WALRUS_BLOB_ID_LEN];   /* of a fraud */
    int                         err;
} ngx_walrus_audit_check_job_t;


static ngx_int_t ngx_walrus_audit_ask_peer(ngx_walrus_round_t *rd,
    ngx_walrus_audit_round_t *slot, ngx_uint_t node);
static time_t ngx_walrus_audit_backoff(ngx_walrus_keeper_t *kp,
    ngx_uint_t asks);
static void ngx_walrus_audit_check_run(void *data, ngx_log_t *log);
static int ngx_walrus_audit_metadata(ngx_walrus_keeper_t *kp,
    const uint8_t *id, walrus_metadata_t *m, uint8_t **raw, size_t *len);
static int ngx_walrus_audit_keep_verdict(ngx_walrus_audit_check_job_t *job,
    const walrus_audit_answer_t *a);
static int ngx_walrus_audit_keep_fraud(ngx_walrus_audit_check_job_t *job,
    const char *dir);
static void ngx_walrus_audit_check_done(ngx_walrus_round_t *rd, void *data);


/*
 * Asks the peers whose answer is due, a few at a time, oldest open round
 * first; the step is called again once they are checked, and ends when
 * every peer was asked in this keeper round or is not due.
 */

ngx_int_t
ngx_walrus_audit_ask(ngx_walrus_round_t *rd)
{
    uint32_t                   r;
    ngx_uint_t                 x, asked;
    ngx_walrus_keeper_t       *kp;
    ngx_walrus_auditor_t      *au;
    ngx_walrus_audit_peer_t   *peer;
    ngx_walrus_audit_round_t  *slot;

    kp = rd->keeper;
    au = kp->auditor;
    asked = 0;

    r = au->newest >= NGX_WALRUS_AUDIT_WINDOW
        ? au->newest - NGX_WALRUS_AUDIT_WINDOW + 1 : 1;

    for ( /* void */ ; r <= au->newest; r++) {
        slot = ngx_walrus_audit_slot(au, r);

        if (slot == NULL || !slot->picked) {
            continue;
        }

        for (x = 0; x < kp->committee->nnodes; x++) {
            peer = &slot->peers[x];

            if ((ngx_int_t) x == kp->conf->node_index
                || peer->npicked == 0
                || peer->verdict != NGX_WALRUS_VERDICT_NONE
                || peer->next_ask > ngx_time())
            {
                continue;
            }

            if (ngx_walrus_audit_ask_peer(rd, slot, x) != NGX_OK) {
                return NGX_ERROR;
            }

            if (++asked == NGX_WALRUS_AUDIT_PARALLEL) {
                return NGX_AGAIN;
            }
        }
    }

    return asked ? NGX_AGAIN : NGX_DONE;
}


static ngx_int_t
ngx_walrus_audit_ask_peer(ngx_walrus_round_t *rd,
    ngx_walrus_audit_round_t *slot, ngx_uint_t node)
{
    u_char                   *p;
    unsigned                  b;
    ngx_str_t                 uri;
    ngx_walrus_call_t        *call;
    ngx_walrus_audit_peer_t  *peer;

    peer = &slot->peers[node];

    uri.data = ngx_pnalloc(rd->pool, sizeof("/v1/audit/rounds//answer?blobs=")
                                     + NGX_INT32_LEN
                                     + peer->npicked
                                       * (WALRUS_BLOB_ID_TEXT_LEN + 1));
    if (uri.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(uri.data, "/v1/audit/rounds/%uD/answer?blobs=",
                    slot->round);

    for (b = 0; b < peer->npicked; b++) {
        if (b > 0) {
            *p++ = ',';
        }

        walrus_blob_id_format(peer->picked[b], (char *) p);
        p += WALRUS_BLOB_ID_TEXT_LEN;
    }

    uri.len = p - uri.data;

    call = ngx_walrus_round_call(rd, node, &uri, NGX_WALRUS_AUDIT_MAX_ANSWER);
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->kind = NGX_WALRUS_AUDIT_STEP_ASK;
    call->pair = slot->round;

    /* asked once per keeper round at most; an answer sets the next */
    peer->next_ask = ngx_time()
                     + ngx_max((time_t) (rd->keeper->conf->keeper_interval
                                         / 1000), 1);
    peer->asks++;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "walrus: audit round %uD: challenging %s on %ud blobs",
                   slot->round, rd->keeper->committee->nodes[node].name,
                   peer->npicked);

    return NGX_OK;
}


/*
 * A peer that failed to answer is asked again after the keeper's backoff,
 * but never more than a quarter of an interval later: a round stays open
 * for K intervals, and an answer that comes late must still find it
 * open (17.6).
 */

static time_t
ngx_walrus_audit_backoff(ngx_walrus_keeper_t *kp, ngx_uint_t asks)
{
    time_t  wait, most;

    wait = ngx_walrus_keeper_backoff(asks);
    most = (time_t) (kp->conf->audit_interval / 4000);

    return ngx_max(ngx_min(wait, most), 1);
}


void
ngx_walrus_audit_checked(ngx_walrus_round_t *rd, ngx_walrus_call_t *call)
{
    time_t                         wait;
    ngx_walrus_keeper_t           *kp;
    ngx_walrus_audit_peer_t       *peer;
    ngx_walrus_audit_round_t      *slot;
    ngx_walrus_audit_check_job_t  *job;

    kp = rd->keeper;
    slot = ngx_walrus_audit_slot(kp->auditor, (uint32_t) call->pair);

    if (slot == NULL) {
        return;
    }

    peer = &slot->peers[call->node];

    if (call->status != NGX_HTTP_OK || call->truncated) {
        /*
         * Down, slow, or not at this round yet (409): asked again later,
         * sooner while the peer only lacks the beacon.
         */
        wait = call->status == NGX_HTTP_CONFLICT
               ? (time_t) (kp->conf->keeper_interval / 1000)
               : ngx_walrus_audit_backoff(kp, peer->asks);

        peer->next_ask = ngx_time() + ngx_max(wait, 1);

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                       "walrus: audit round %uD: %s answered %ui",
                       slot->round, kp->committee->nodes[call->node].name,
                       call->status);
        return;
    }

    job = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_audit_check_job_t));
    if (job == NULL) {
        return;
    }

    job->keeper = kp;
    job->committee = kp->committee;
    job->key = kp->conf->key;
    job->round = slot->round;
    job->node = call->node;
    ngx_memcpy(job->seed, slot->seed, 32);
    job->npicked = peer->npicked;
    job->picked = peer->picked;

    /* the body goes to the task: the call no longer frees it */

    job->body = call->body;
    job->len = call->body_len;
    call->body = NULL;
    call->body_size = 0;
    call->body_len = 0;

    if (ngx_walrus_round_task(rd, ngx_walrus_audit_check_run,
                              ngx_walrus_audit_check_done, job)
        != NGX_OK)
    {
        ngx_walrus_buffer_free(job->body);
    }
}


/* in the thread pool: the answer checked blob by blob, its verdict kept */

static void
ngx_walrus_audit_check_run(void *data, ngx_log_t *log)
{
    ngx_walrus_audit_check_job_t  *job = data;

    int                     rc, verdict;
    size_t                  len;
    uint8_t                *raw;
    unsigned                i;
    walrus_codec_t         *codec;
    walrus_metadata_t       m;
    walrus_audit_answer_t  *a;

    a = malloc(sizeof(walrus_audit_answer_t));
    if (a == NULL) {
        job->err = ENOMEM;
        return;
    }

    rc = walrus_audit_answer_parse(job->committee, job->body, job->len, a);

    if (rc != WALRUS_OK) {
        job->why = walrus_strerror(rc);
        goto done;
    }

    if (a->epoch != job->committee->epoch || a->round != job->round
        || a->node != job->node || ngx_memcmp(a->seed, job->seed, 32) != 0)
    {
        /* an answer under another beacon of the round: not ours */
        job->why = "it is not for this round's beacon";
        goto done;
    }

    if (a->nblobs != job->npicked) {
        job->why = "it is not about the blobs asked";
        goto done;
    }

    for (i = 0; i < a->nblobs; i++) {
        if (ngx_memcmp(a->blobs[i].blob_id, job->picked[i],
                       WALRUS_BLOB_ID_LEN)
            != 0)
        {
            job->why = "it is not about the blobs asked";
            goto done;
        }
    }

    codec = walrus_codec_create(job->committee->params.n);
    if (codec == NULL) {
        job->err = ENOMEM;
        goto done;
    }

    job->verdict = NGX_WALRUS_VERDICT_PASSED;

    for (i = 0; i < a->nblobs; i++) {
        if (!a->blobs[i].held) {
            job->nmissing++;
            continue;
        }

        if (ngx_walrus_audit_metadata(job->keeper, a->blobs[i].blob_id, &m,
                                      &raw, &len)
            != 0)
        {
            /* this node lost the metadata meanwhile: it cannot judge */
            job->verdict = NGX_WALRUS_VERDICT_NONE;
            job->why = "this node lacks a blob's metadata";
            break;
        }

        verdict = walrus_audit_blob_check(codec, job->committee, a, i, &m);

        walrus_metadata_free(&m);
        free(raw);

        if (verdict == WALRUS_AUDIT_FRAUD) {
            job->verdict = NGX_WALRUS_VERDICT_FRAUD;
            ngx_memcpy(job->bad, a->blobs[i].blob_id, WALRUS_BLOB_ID_LEN);
            break;
        }

        if (verdict == WALRUS_AUDIT_MISSING) {
            job->nmissing++;
        }
    }

    walrus_codec_destroy(codec);

    if (job->verdict == NGX_WALRUS_VERDICT_PASSED && job->nmissing) {
        job->verdict = NGX_WALRUS_VERDICT_MISSING;
    }

    if (job->verdict != NGX_WALRUS_VERDICT_NONE
        && ngx_walrus_audit_keep_verdict(job, a) != 0)
    {
        job->err = errno;
        job->verdict = NGX_WALRUS_VERDICT_NONE;
    }

done:

    free(a);
}


/* the blob's metadata from this node's store, checked against its ID */

static int
ngx_walrus_audit_metadata(ngx_walrus_keeper_t *kp, const uint8_t *id,
    walrus_metadata_t *m, uint8_t **raw, size_t *len)
{
    char  id_text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    char  dir[WALRUS_PATH_MAX], path[WALRUS_PATH_MAX];

    walrus_blob_id_format(id, id_text);

    if (walrus_store_dir(dir, (char *) kp->conf->store.data,
                         kp->conf->store.len, id_text)
        != 0
        || walrus_store_path(path, dir, "metadata") != 0
        || walrus_read_file(path, NGX_WALRUS_MAX_METADATA, raw, len) != 0)
    {
        return -1;
    }

    if (walrus_metadata_parse(m, *raw, *len) != WALRUS_OK) {
        free(*raw);
        return -1;
    }

    if (walrus_metadata_check(m, id) != WALRUS_OK) {
        walrus_metadata_free(m);
        free(*raw);
        return -1;
    }

    return 0;
}


/* the attestation, the missing blobs or the fraud proof, made durable */

static int
ngx_walrus_audit_keep_verdict(ngx_walrus_audit_check_job_t *job,
    const walrus_audit_answer_t *a)
{
    char      dir[WALRUS_PATH_MAX], name[32];
    u_char   *text, *p;
    uint8_t   sig[WALRUS_SIG_LEN];
    unsigned  i;
    int       rc;

    if (ngx_walrus_audit_round_dir(job->keeper, job->round, dir) != NGX_OK
        || walrus_store_mkdir(dir) != 0)
    {
        return -1;
    }

    switch (job->verdict) {

    case NGX_WALRUS_VERDICT_PASSED:
        if (walrus_audit_attest_sign(job->key, job->committee->epoch,
                                     job->round, job->node, job->seed, sig)
            != WALRUS_OK)
        {
            errno = EINVAL;
            return -1;
        }

        (void) ngx_snprintf((u_char *) name, sizeof(name), "attest.%ui%Z",
                            job->node);

        return walrus_store_write(dir, name, sig, sizeof(sig));

    case NGX_WALRUS_VERDICT_MISSING:
        text = malloc(a->nblobs * (WALRUS_BLOB_ID_TEXT_LEN + 1) + 1);
        if (text == NULL) {
            return -1;
        }

        p = text;

        for (i = 0; i < a->nblobs; i++) {
            if (!a->blobs[i].held) {
                walrus_blob_id_format(a->blobs[i].blob_id, (char *) p);
                p += WALRUS_BLOB_ID_TEXT_LEN;
                *p++ = '\n';
            }
        }

        (void) ngx_snprintf((u_char *) name, sizeof(name), "missing.%ui%Z",
                            job->node);

        rc = walrus_store_write(dir, name, text, p - text);
        free(text);

        return rc;

    default: /* NGX_WALRUS_VERDICT_FRAUD */
        return ngx_walrus_audit_keep_fraud(job, dir);
    }
}


static int
ngx_walrus_audit_keep_fraud(ngx_walrus_audit_check_job_t *job,
    const char *dir)
{
    int                 rc;
    char                path[WALRUS_PATH_MAX], name[32];
    size_t              beacon_len, meta_len, len;
    uint8_t            *beacon, *meta, *proof;
    walrus_metadata_t   m;

    if (walrus_store_path(path, dir, "beacon") != 0
        || walrus_read_file(path, WALRUS_AUDIT_BEACON_MAX, &beacon,
                            &beacon_len)
           != 0)
    {
        return -1;
    }

    if (ngx_walrus_audit_metadata(job->keeper, job->bad, &m, &meta,
                                  &meta_len)
        != 0)
    {
        free(beacon);
        return -1;
    }

    walrus_metadata_free(&m);

    rc = walrus_audit_fraud_build(beacon, beacon_len, job->body, job->len,
                                  meta, meta_len, &proof, &len);
    free(beacon);
    free(meta);

    if (rc != WALRUS_OK) {
        errno = EINVAL;
        return -1;
    }

    (void) ngx_snprintf((u_char *) name, sizeof(name), "fraud.%ui%Z",
                        job->node);

    rc = walrus_store_write(dir, name, proof, len);
    free(proof);

    return rc;
}


static void
ngx_walrus_audit_check_done(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_audit_check_job_t  *job = data;

    char                       id_text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    const char                *name;
    ngx_walrus_keeper_t       *kp;
    ngx_walrus_auditor_t      *au;
    ngx_walrus_audit_peer_t   *peer;
    ngx_walrus_audit_round_t  *slot;

    kp = rd->keeper;
    au = kp->auditor;
    name = kp->committee->nodes[job->node].name;

    ngx_walrus_buffer_free(job->body);
    job->body = NULL;

    slot = ngx_walrus_audit_slot(au, job->round);
    if (slot == NULL) {
        return;
    }

    peer = &slot->peers[job->node];

    if (job->err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, job->err,
                      "walrus: node %V: cannot keep the audit of %s in "
                      "round %uD", &kp->conf->node_name, name, job->round);
    }

    switch (job->verdict) {

    case NGX_WALRUS_VERDICT_PASSED:
        peer->verdict = job->verdict;
        au->attested++;
        au->locks_dirty = 1;
        ngx_walrus_node_count(&kp->conf->node_name,
                              NGX_WALRUS_NM_AUDIT_VERDICTS,
                              NGX_WALRUS_VERDICT_VALUE_PASSED, 1);

        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "walrus: audit round %uD: %s passed (%ud blobs); "
                      "attested", job->round, name, job->npicked);
        return;

    case NGX_WALRUS_VERDICT_MISSING:

        /*
         * Final for the round: a node that said it lacks a challenged
         * blob is not asked again, so it cannot heal the blob and pass
         * the same round; its pairs are unlocked and it may heal for
         * the next ones.
         */

        peer->verdict = job->verdict;
        au->missing++;
        au->locks_dirty = 1;
        ngx_walrus_node_count(&kp->conf->node_name,
                              NGX_WALRUS_NM_AUDIT_VERDICTS,
                              NGX_WALRUS_VERDICT_VALUE_MISSING, 1);

        ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                      "walrus: audit round %uD: %s lacks %ud of the %ud "
                      "blobs asked", job->round, name, job->nmissing,
                      job->npicked);
        return;

    case NGX_WALRUS_VERDICT_FRAUD:
        peer->verdict = job->verdict;
        au->frauds++;
        au->locks_dirty = 1;
        ngx_walrus_node_count(&kp->conf->node_name,
                              NGX_WALRUS_NM_AUDIT_VERDICTS,
                              NGX_WALRUS_VERDICT_VALUE_FRAUD, 1);
        walrus_blob_id_format(job->bad, id_text);

        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "walrus: audit round %uD: %s signed a wrong answer "
                      "for blob %s; fraud proof kept", job->round, name,
                      id_text);
        return;

    default:
        peer->next_ask = ngx_time() + ngx_walrus_audit_backoff(kp, peer->asks);

        if (job->why != NULL) {
            ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                          "walrus: audit round %uD: the answer of %s "
                          "proves nothing (%s); asked again later",
                          job->round, name, job->why);
        }
    }
}
