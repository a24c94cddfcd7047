/*
 * Gateway audits: what the nodes sent, read and verified in the thread
 * pool, and the results applied in the worker.  The first task takes the
 * newest beacon that verifies (the highest round any node claims first,
 * so that one valid beacon is usually all that is verified) and reads
 * the nodes' status JSON for what their peers report of the window; the
 * second verifies the certificates and fraud proofs fetched from the
 * nodes and Redis.  The request is blocked while a task runs, so the
 * tasks work on its state directly; they use the core and jansson only.
 */

#include <ngx_walrus_audits.h>
#include <jansson.h>


static void ngx_walrus_audits_read_thread(void *data, ngx_log_t *log);
static void ngx_walrus_audits_pick(ngx_walrus_audits_t *ctx,
    walrus_audit_beacon_t *b);
static void ngx_walrus_audits_status(ngx_walrus_audits_t *ctx,
    ngx_uint_t reporter);
static void ngx_walrus_audits_round(ngx_walrus_audits_t *ctx,
    ngx_uint_t reporter, json_t *rd);
static void ngx_walrus_audits_report(ngx_walrus_audits_t *ctx,
    ngx_uint_t reporter, uint32_t round, json_t *entry);
static void ngx_walrus_audits_read_done(ngx_walrus_thread_t *th,
    ngx_thread_task_t *task);
static void ngx_walrus_audits_check_thread(void *data, ngx_log_t *log);
static void ngx_walrus_audits_check_done(ngx_walrus_thread_t *th,
    ngx_thread_task_t *task);
static ngx_int_t ngx_walrus_audits_post(ngx_walrus_audits_t *ctx,
    ngx_walrus_thread_handler_pt handler, ngx_walrus_thread_done_pt done);


ngx_int_t
ngx_walrus_audits_read(ngx_walrus_audits_t *ctx)
{
    ngx_uint_t                    i, n;
    ngx_walrus_audits_missing_t  *missing;

    n = ctx->committee->nnodes;

    missing = ngx_palloc(ctx->request->pool, n * NGX_WALRUS_AUDITS_REPORTED
                                    * sizeof(ngx_walrus_audits_missing_t));
    if (missing == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        ctx->nodes[i].missing = missing + i * NGX_WALRUS_AUDITS_REPORTED;
    }

    return ngx_walrus_audits_post(ctx, ngx_walrus_audits_read_thread,
                                  ngx_walrus_audits_read_done);
}


static ngx_int_t
ngx_walrus_audits_post(ngx_walrus_audits_t *ctx,
    ngx_walrus_thread_handler_pt handler, ngx_walrus_thread_done_pt done)
{
    ngx_thread_task_t              *task;
    ngx_http_request_t             *r;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    r = ctx->request;
    wlcf = ngx_walrus_gateway_loc_conf(r);

    task = ngx_walrus_thread_task(r->pool, handler, ctx);
    if (task == NULL) {
        return NGX_ERROR;
    }

    ngx_walrus_thread_init(&ctx->thread, r, wlcf->thread_pool,
                           NGX_WALRUS_THREAD_JOIN);
    ctx->thread.done = done;

    if (ngx_walrus_thread_post(&ctx->thread, task) != NGX_OK) {
        return NGX_BUSY;
    }

    ctx->working = 1;

    return NGX_OK;
}


/* in the thread pool */

static void
ngx_walrus_audits_read_thread(void *data, ngx_log_t *log)
{
    ngx_walrus_audits_t  *ctx = data;

    ngx_uint_t              i;
    walrus_audit_beacon_t  *b;

    b = malloc(sizeof(walrus_audit_beacon_t));

    if (b != NULL) {
        ngx_walrus_audits_pick(ctx, b);
        free(b);
    }

    for (i = 0; i < ctx->committee->nnodes; i++) {
        ngx_walrus_audits_status(ctx, i);
    }
}


/*
 * Beacons are tried from the highest round a node claims down to the
 * newest the worker holds: a node that claims a round it has no valid
 * beacon of costs one verification, and the same bytes are never
 * verified twice.
 */

static void
ngx_walrus_audits_pick(ngx_walrus_audits_t *ctx, walrus_audit_beacon_t *b)
{
    uint32_t            r, best;
    ngx_int_t           k;
    ngx_uint_t          i, j, n, again;
    ngx_walrus_call_t  *call, *other;
    u_char              tried[WALRUS_MAX_SHARDS];

    n = ctx->committee->nnodes;
    ngx_memzero(tried, sizeof(tried));

    for ( ;; ) {
        k = -1;
        best = ctx->newest;

        for (i = 0; i < n; i++) {
            call = ctx->nodes[i].beacon;

            if (tried[i] || call == NULL || call->body == NULL
                || call->body_len < WALRUS_AUDIT_BEACON_HEADER)
            {
                continue;
            }

            r = (uint32_t) walrus_get_le(call->body + 5, 4);

            if (r > best) {
                best = r;
                k = i;
            }
        }

        if (k < 0) {
            return;
        }

        tried[k] = 1;
        call = ctx->nodes[k].beacon;
        again = 0;

        for (j = 0; j < n; j++) {
            other = ctx->nodes[j].beacon;

            if (tried[j] == 2 && other->body_len == call->body_len
                && ngx_memcmp(other->body, call->body, call->body_len) == 0)
            {
                again = 1;
                break;
            }
        }

        if (!again
            && walrus_audit_beacon_verify(ctx->committee, call->body,
                                          call->body_len, b)
               == WALRUS_OK)
        {
            ctx->picked = k;
            ctx->newest = b->round;
            ctx->leader = b->leader;
            return;
        }

        tried[k] = 2;
    }
}


/*
 * A status is read when it is the node's own (its index and the epoch)
 * and has a list of rounds: then the node counts as answered.  Of the
 * rounds of the window, what it says of its peers is taken, entry by
 * entry, what does not parse skipped.
 */

static void
ngx_walrus_audits_status(ngx_walrus_audits_t *ctx, ngx_uint_t reporter)
{
    size_t              i;
    json_t             *root, *data, *node, *epoch, *rounds, *rd;
    json_error_t        err;
    ngx_walrus_call_t  *call;

    call = ctx->nodes[reporter].status;

    if (call == NULL || call->body == NULL) {
        return;
    }

    root = json_loadb((char *) call->body, call->body_len,
                      JSON_REJECT_DUPLICATES, &err);
    if (root == NULL) {
        return;
    }

    data = json_object_get(json_object_get(root, "success"), "data");
    node = json_object_get(data, "node");
    epoch = json_object_get(data, "epoch");
    rounds = json_object_get(data, "rounds");

    if (json_is_integer(node) && json_is_integer(epoch)
        && json_is_array(rounds)
        && json_integer_value(node) == (json_int_t) reporter
        && json_integer_value(epoch) == (json_int_t) ctx->committee->epoch)
    {
        ctx->nodes[reporter].answered = 1;

        json_array_foreach(rounds, i, rd) {
            ngx_walrus_audits_round(ctx, reporter, rd);
        }
    }

    json_decref(root);
}


static void
ngx_walrus_audits_round(ngx_walrus_audits_t *ctx, ngx_uint_t reporter,
    json_t *rd)
{
    size_t       i;
    json_t      *v, *frauds, *missing;
    uint32_t     oldest, r;
    json_int_t   x;
    ngx_int_t   *from;

    oldest = ngx_walrus_audits_oldest(ctx);
    v = json_object_get(rd, "round");

    if (oldest == 0 || !json_is_integer(v)
        || json_integer_value(v) < (json_int_t) oldest
        || json_integer_value(v) > (json_int_t) ctx->newest)
    {
        return;
    }

    r = (uint32_t) json_integer_value(v);
    frauds = json_object_get(rd, "frauds");
    missing = json_object_get(rd, "missing");

    json_array_foreach(frauds, i, v) {
        x = json_is_integer(v) ? json_integer_value(v) : -1;

        if (x < 0 || x >= (json_int_t) ctx->committee->nnodes
            || x == (json_int_t) reporter)
        {
            continue;
        }

        from = &ctx->nodes[x].fraud_from[r - oldest];

        if (*from < 0) {
            *from = reporter;
        }
    }

    json_array_foreach(missing, i, v) {
        ngx_walrus_audits_report(ctx, reporter, r, v);
    }
}


/* {"node":X,"blobs":[ID,...]}: up to NGX_WALRUS_AUDITS_REPORTED per X */

static void
ngx_walrus_audits_report(ngx_walrus_audits_t *ctx, ngx_uint_t reporter,
    uint32_t round, json_t *entry)
{
    size_t                        i;
    json_t                       *node, *blobs, *v;
    uint8_t                       id[WALRUS_BLOB_ID_LEN];
    ngx_uint_t                    k;
    json_int_t                    x;
    ngx_walrus_audits_node_t     *an;
    ngx_walrus_audits_missing_t  *m;

    node = json_object_get(entry, "node");
    blobs = json_object_get(entry, "blobs");
    x = json_is_integer(node) ? json_integer_value(node) : -1;

    if (x < 0 || x >= (json_int_t) ctx->committee->nnodes
        || x == (json_int_t) reporter)
    {
        return;
    }

    an = &ctx->nodes[x];

    json_array_foreach(blobs, i, v) {
        if (an->nmissing == NGX_WALRUS_AUDITS_REPORTED) {
            return;
        }

        if (!json_is_string(v)
            || walrus_blob_id_parse(json_string_value(v),
                                    json_string_length(v), id)
               != WALRUS_OK)
        {
            continue;
        }

        for (k = 0; k < an->nmissing; k++) {
            m = &an->missing[k];

            if (m->round == round && m->reporter == reporter
                && ngx_memcmp(m->blob_id, id, WALRUS_BLOB_ID_LEN) == 0)
            {
                break;
            }
        }

        if (k < an->nmissing) {
            continue;
        }

        m = &an->missing[an->nmissing++];
        m->round = round;
        m->reporter = reporter;
        ngx_memcpy(m->blob_id, id, WALRUS_BLOB_ID_LEN);
    }
}


/* in the worker: a newer beacon is the worker's; the answers are read */

static void
ngx_walrus_audits_read_done(ngx_walrus_thread_t *th, ngx_thread_task_t *task)
{
    ngx_walrus_audits_t  *ctx = task->ctx;

    ngx_uint_t  i;

    ctx->working = 0;

    if (ctx->picked >= 0) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "walrus: audits: round %uD from the beacon of node "
                       "%i", ctx->newest, ctx->picked);

        ngx_walrus_audits_keep_beacon(ctx->request->connection->log,
                                      ctx->newest, ctx->leader);
    }

    for (i = 0; i < ctx->committee->nnodes; i++) {
        if (ctx->nodes[i].beacon != NULL) {
            ngx_walrus_call_release(ctx->nodes[i].beacon);
        }

        if (ctx->nodes[i].status != NULL) {
            ngx_walrus_call_release(ctx->nodes[i].status);
        }
    }
}


ngx_int_t
ngx_walrus_audits_check(ngx_walrus_audits_t *ctx)
{
    if (ctx->items.nelts == 0) {
        return NGX_DECLINED;
    }

    return ngx_walrus_audits_post(ctx, ngx_walrus_audits_check_thread,
                                  ngx_walrus_audits_check_done);
}


/* in the thread pool */

static void
ngx_walrus_audits_check_thread(void *data, ngx_log_t *log)
{
    ngx_walrus_audits_t  *ctx = data;

    unsigned                   node;
    ngx_uint_t                 i;
    walrus_audit_cert_t       *cert;
    ngx_walrus_audits_item_t  *it;

    it = ctx->items.elts;
    cert = malloc(sizeof(walrus_audit_cert_t));

    for (i = 0; i < ctx->items.nelts; i++) {
        if (it[i].fraud) {
            it[i].rc = walrus_audit_fraud_verify(ctx->committee, it[i].bytes,
                                                 it[i].len, &node,
                                                 &it[i].vround,
                                                 it[i].blob_id);
            it[i].vnode = node;

        } else if (cert == NULL) {
            it[i].rc = WALRUS_ENOMEM;

        } else {
            it[i].rc = walrus_audit_cert_verify(ctx->committee, it[i].bytes,
                                                it[i].len, cert);
            it[i].vnode = cert->node;
            it[i].vround = cert->round;
        }
    }

    free(cert);
}


/*
 * In the worker: what verified is kept, in its memory and in Redis,
 * under what it proves (a node may send a valid certificate of another
 * round than asked: it still proves that one); what did not is said.
 */

static void
ngx_walrus_audits_check_done(ngx_walrus_thread_t *th,
    ngx_thread_task_t *task)
{
    ngx_walrus_audits_t  *ctx = task->ctx;

    ngx_uint_t                 i;
    ngx_log_t                 *log;
    const char                *what;
    ngx_walrus_audits_item_t  *it;

    ctx->working = 0;
    log = ctx->request->connection->log;
    it = ctx->items.elts;

    for (i = 0; i < ctx->items.nelts; i++) {
        what = it[i].fraud ? "a fraud proof" : "an audit certificate";

        if (it[i].rc != WALRUS_OK) {
            if (it[i].from == NGX_WALRUS_AUDITS_REDIS) {
                ngx_log_error(NGX_LOG_WARN, log, 0,
                              "walrus: %s of node %ui, round %uD, kept in "
                              "Redis does not verify (%s); ignored", what,
                              it[i].node, it[i].round,
                              walrus_strerror(it[i].rc));

            } else {
                ngx_log_error(NGX_LOG_WARN, log, 0,
                              "walrus: node %s sent %s of node %ui, round "
                              "%uD, that does not verify (%s); not kept",
                              ctx->committee->nodes[it[i].from].name, what,
                              it[i].node, it[i].round,
                              walrus_strerror(it[i].rc));
            }

        } else {
            ngx_log_debug4(NGX_LOG_DEBUG_HTTP, log, 0,
                           "walrus: audits: %s of node %ui, round %uD, "
                           "verified (from %i)", what, it[i].vnode,
                           it[i].vround, (ngx_int_t) it[i].from);

            if (it[i].fraud) {
                ngx_walrus_audits_keep_fraud(log, it[i].vnode, it[i].vround,
                                             it[i].blob_id, it[i].bytes,
                                             it[i].len);

            } else {
                ngx_walrus_audits_keep_cert(ctx->committee, log, it[i].vnode,
                                            it[i].vround, it[i].bytes,
                                            it[i].len);
            }

            if (it[i].from != NGX_WALRUS_AUDITS_REDIS) {
                ngx_walrus_audits_redis_save(ctx, &it[i]);
            }
        }

        /* kept and sent to Redis as copies */

        if (it[i].call != NULL) {
            ngx_walrus_call_release(it[i].call);
            it[i].call = NULL;
            it[i].bytes = NULL;
        }
    }
}
