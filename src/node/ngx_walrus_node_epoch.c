/*
 * The keeper's epoch phase: the change to the current epoch
 * (docs/protocol.md 18.6).  A node that holds shards says, signed, that
 * it is ready once a whole pass of its record, begun after its sync read
 * peers holding n - f shards to their end, found nothing missing; it
 * gathers its peers' readiness until nodes holding n - f shards said so,
 * which completes the change; then it deletes the sliver files of the
 * shards it no longer holds (a shard's old owner serves it until then).
 * What it has, it keeps under <store>/epochs/<epoch>/: ready.<node> (the
 * messages, each verified first) and handed-over (the deletions done).
 */

#include <ngx_walrus_node_epoch.h>
#include <walrus_store.h>


static ngx_walrus_epoch_t *ngx_walrus_epoch_create(ngx_walrus_round_t *rd);
static void ngx_walrus_epoch_load_run(void *data, ngx_log_t *log);
static void ngx_walrus_epoch_loaded(ngx_walrus_round_t *rd, void *data);
static void ngx_walrus_epoch_self_run(void *data, ngx_log_t *log);
static void ngx_walrus_epoch_self_done(ngx_walrus_round_t *rd, void *data);
static ngx_int_t ngx_walrus_epoch_ask(ngx_walrus_round_t *rd,
    ngx_walrus_epoch_t *ep);
static void ngx_walrus_epoch_keep_run(void *data, ngx_log_t *log);
static void ngx_walrus_epoch_kept(ngx_walrus_round_t *rd, void *data);
static void ngx_walrus_epoch_weigh(ngx_walrus_round_t *rd);


/*
 * GET /v1/epoch/ready: the 84 bytes this node signed for the current
 * epoch, or 404 NOT_READY while it has not (a node with no shards never
 * says so: it holds nothing the change waits for).
 */

ngx_int_t
ngx_walrus_node_epoch_ready(ngx_http_request_t *r)
{
    u_char                      *last;
    ngx_int_t                    rc;
    walrus_committee_t          *c;
    ngx_walrus_main_conf_t      *wmcf;
    ngx_walrus_node_loc_conf_t  *wlcf;
    u_char                       path[WALRUS_PATH_MAX];

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);
    wlcf = ngx_walrus_node_loc_conf(r);
    c = wmcf->committee;

    last = ngx_snprintf(path, sizeof(path), "%V/epochs/%uD/ready.%ui%Z",
                        &wlcf->store, c->epoch, wlcf->node_index);
    if (last == path + sizeof(path)) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_walrus_node_send_path(r, (char *) path);

    if (rc == NGX_DECLINED) {
        return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                     NGX_WALRUS_DOMAIN_NODE, "NOT_READY",
                                     "node %V is not ready for epoch %uD "
                                     "yet", &wlcf->node_name, c->epoch);
    }

    return rc;
}


ngx_int_t
ngx_walrus_epoch_start(ngx_walrus_round_t *rd)
{
    ngx_int_t             rc;
    ngx_walrus_epoch_t   *ep;
    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;
    ep = rd->phase_data;

    if (ep == NULL) {
        ep = ngx_walrus_epoch_create(rd);
        if (ep == NULL) {
            return NGX_ERROR;
        }

        rd->phase_data = ep;
    }

    for ( ;; ) {
        switch (ep->step) {

        case NGX_WALRUS_EPOCH_LOAD:
            if (kp->epoch_loaded) {
                ep->step = NGX_WALRUS_EPOCH_SELF;
                break;
            }

            ep->step = NGX_WALRUS_EPOCH_WAIT;

            return ngx_walrus_round_task(rd, ngx_walrus_epoch_load_run,
                                         ngx_walrus_epoch_loaded, ep)
                   == NGX_OK ? NGX_AGAIN : NGX_ERROR;

        case NGX_WALRUS_EPOCH_SELF:
            ep->step = NGX_WALRUS_EPOCH_ASK;

            /*
             * Ready: a whole pass of the record found nothing missing,
             * and it began once this node knew every certified blob.
             */

            if (kp->ready || ep->committee->nodes[ep->me].nshards == 0
                || !kp->whole_synced || kp->pending != 0)
            {
                break;
            }

            ep->step = NGX_WALRUS_EPOCH_WAIT;

            return ngx_walrus_round_task(rd, ngx_walrus_epoch_self_run,
                                         ngx_walrus_epoch_self_done, ep)
                   == NGX_OK ? NGX_AGAIN : NGX_ERROR;

        case NGX_WALRUS_EPOCH_ASK:
            /*
             * Until the change is complete and the new owners of the
             * shards this node held are ready, peers not ready yet are
             * asked every round; past it, every ten keeper intervals:
             * audits challenge a node on the shards it gained only once
             * it said it is ready (protocol 17.2).
             */

            if (kp->complete
                && (kp->handed_over || ngx_walrus_epoch_lost_ready(kp))
                && ngx_current_msec - kp->ready_asked
                   < NGX_WALRUS_READY_ASK_LATE * kp->conf->keeper_interval)
            {
                ep->step = NGX_WALRUS_EPOCH_HANDOVER;
                break;
            }

            kp->ready_asked = ngx_current_msec;
            ep->step = NGX_WALRUS_EPOCH_KEEP;

            rc = ngx_walrus_epoch_ask(rd, ep);

            if (rc != NGX_OK) {
                return rc;
            }

            break;

        case NGX_WALRUS_EPOCH_KEEP:
            ep->step = NGX_WALRUS_EPOCH_HANDOVER;

            if (!ep->wrote) {
                break;
            }

            ep->step = NGX_WALRUS_EPOCH_WAIT;

            return ngx_walrus_round_task(rd, ngx_walrus_epoch_keep_run,
                                         ngx_walrus_epoch_kept, ep)
                   == NGX_OK ? NGX_AGAIN : NGX_ERROR;

        case NGX_WALRUS_EPOCH_HANDOVER:
            if (!kp->complete || kp->handed_over
                || !ngx_walrus_epoch_lost_ready(kp))
            {
                rd->phase_data = NULL;
                return NGX_DONE;
            }

            ep->cursor = kp->handover_cursor;
            ep->step = NGX_WALRUS_EPOCH_WAIT;

            return ngx_walrus_round_task(rd, ngx_walrus_epoch_handover_run,
                                         ngx_walrus_epoch_handed, ep)
                   == NGX_OK ? NGX_AGAIN : NGX_ERROR;

        default: /* END, or WAIT: a task ended without a verdict */
            rd->phase_data = NULL;
            return NGX_DONE;
        }
    }
}


static ngx_walrus_epoch_t *
ngx_walrus_epoch_create(ngx_walrus_round_t *rd)
{
    ngx_walrus_epoch_t   *ep;
    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;

    ep = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_epoch_t));
    if (ep == NULL) {
        return NULL;
    }

    ep->committee = kp->committee;
    ep->key = kp->conf->key;
    ep->me = (unsigned) kp->conf->node_index;

    if (ngx_snprintf((u_char *) ep->store, sizeof(ep->store), "%V%Z",
                     &kp->conf->store)
        == (u_char *) ep->store + sizeof(ep->store)
        || ngx_snprintf((u_char *) ep->dir, sizeof(ep->dir),
                        "%V/epochs/%uD%Z", &kp->conf->store,
                        kp->committee->epoch)
           == (u_char *) ep->dir + sizeof(ep->dir)
        || walrus_record_path(ep->record, (char *) kp->conf->store.data,
                              kp->conf->store.len) != 0)
    {
        return NULL;
    }

    return ep;
}


/*
 * In the thread pool: the readiness messages kept for this epoch, each
 * verified again (a file is the node's own word only once checked), and
 * whether the handover was done.
 */

static void
ngx_walrus_epoch_load_run(void *data, ngx_log_t *log)
{
    ngx_walrus_epoch_t  *ep = data;

    u_char          *buf;
    char             path[WALRUS_PATH_MAX], name[32];
    size_t           len;
    unsigned         i;
    struct stat      st;
    walrus_ready_t   r;

    for (i = 0; i < ep->committee->nnodes; i++) {
        snprintf(name, sizeof(name), "ready.%u", i);

        if (walrus_store_path(path, ep->dir, name) != 0
            || walrus_read_file(path, WALRUS_READY_LEN, &buf, &len) != 0)
        {
            continue;
        }

        ep->ready[i] = walrus_ready_parse(&r, buf, len) == WALRUS_OK
                       && r.node == i
                       && walrus_ready_verify(ep->committee, &r)
                          == WALRUS_OK;
        free(buf);
    }

    ep->handed_over = walrus_store_path(path, ep->dir, NGX_WALRUS_HANDED_OVER)
                      == 0
                      && stat(path, &st) == 0;
}


static void
ngx_walrus_epoch_loaded(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_epoch_t  *ep = data;

    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;

    ngx_memcpy(kp->ready_nodes, ep->ready, sizeof(kp->ready_nodes));
    kp->ready = ep->ready[ep->me];
    kp->handed_over = ep->handed_over;
    kp->epoch_loaded = 1;

    ngx_walrus_epoch_weigh(rd);

    ep->step = NGX_WALRUS_EPOCH_SELF;
}


/* in the thread pool: this node's readiness, signed and made durable */

static void
ngx_walrus_epoch_self_run(void *data, ngx_log_t *log)
{
    ngx_walrus_epoch_t  *ep = data;

    char            name[32];
    walrus_ready_t  r;

    ngx_memzero(&r, sizeof(walrus_ready_t));
    r.epoch = ep->committee->epoch;
    r.node = ep->me;

    if (walrus_ready_sign(&r, ep->key) != WALRUS_OK) {
        ep->err = EINVAL;
        return;
    }

    walrus_ready_serialize(&r, ep->got[ep->me]);
    snprintf(name, sizeof(name), "ready.%u", ep->me);

    if (ngx_walrus_epoch_mkdir(ep) != 0
        || walrus_store_write(ep->dir, name, ep->got[ep->me],
                              WALRUS_READY_LEN)
           != 0)
    {
        ep->err = errno;
    }
}


static void
ngx_walrus_epoch_self_done(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_epoch_t  *ep = data;

    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;
    ep->step = NGX_WALRUS_EPOCH_ASK;

    if (ep->err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, ep->err,
                      "walrus: node %V cannot keep its readiness for "
                      "epoch %uD in %s", &kp->conf->node_name,
                      ep->committee->epoch, ep->dir);
        ep->err = 0;
        return;
    }

    kp->ready = 1;
    kp->ready_nodes[ep->me] = 1;

    ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                  "walrus: node %V is ready for epoch %uD: it holds the "
                  "pairs of its shards of every blob it knows",
                  &kp->conf->node_name, ep->committee->epoch);

    ngx_walrus_epoch_weigh(rd);
}


/* the readiness of the peers holding shards that did not say so yet */

static ngx_int_t
ngx_walrus_epoch_ask(ngx_walrus_round_t *rd, ngx_walrus_epoch_t *ep)
{
    ngx_str_t             uri;
    ngx_uint_t            i, asked;
    ngx_walrus_call_t    *call;
    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;
    asked = 0;
    ngx_str_set(&uri, "/v1/epoch/ready");

    for (i = 0; i < ep->committee->nnodes; i++) {
        if (i == ep->me || kp->ready_nodes[i]
            || ep->committee->nodes[i].nshards == 0)
        {
            continue;
        }

        call = ngx_walrus_round_call(rd, i, &uri, WALRUS_READY_LEN);
        if (call == NULL) {
            return NGX_ERROR;
        }

        asked++;
    }

    return asked ? NGX_AGAIN : NGX_OK;
}


/* a peer's readiness, kept once it verifies */

void
ngx_walrus_epoch_answer(ngx_walrus_round_t *rd, ngx_walrus_call_t *call)
{
    walrus_ready_t       r;
    ngx_walrus_epoch_t  *ep;

    ep = rd->phase_data;

    if (ep == NULL || ep->step != NGX_WALRUS_EPOCH_KEEP
        || call->status != NGX_HTTP_OK || call->truncated)
    {
        return;
    }

    if (walrus_ready_parse(&r, call->body, call->body_len) != WALRUS_OK
        || r.node != call->node
        || walrus_ready_verify(ep->committee, &r) != WALRUS_OK)
    {
        ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                      "walrus: peer %s sent a readiness for epoch %uD "
                      "that does not verify: dropped",
                      ep->committee->nodes[call->node].name,
                      ep->committee->epoch);
        return;
    }

    ngx_memcpy(ep->got[call->node], call->body, WALRUS_READY_LEN);
    ep->have[call->node] = 1;
    ep->wrote = 1;
}


/* in the thread pool: the peers' readiness that came, made durable */

static void
ngx_walrus_epoch_keep_run(void *data, ngx_log_t *log)
{
    ngx_walrus_epoch_t  *ep = data;

    char      name[32];
    unsigned  i;

    if (ngx_walrus_epoch_mkdir(ep) != 0) {
        ep->err = errno;
        return;
    }

    for (i = 0; i < ep->committee->nnodes; i++) {
        if (!ep->have[i]) {
            continue;
        }

        snprintf(name, sizeof(name), "ready.%u", i);

        if (walrus_store_write(ep->dir, name, ep->got[i], WALRUS_READY_LEN)
            != 0)
        {
            ep->err = errno;
            ep->have[i] = 0;
        }
    }
}


static void
ngx_walrus_epoch_kept(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_epoch_t  *ep = data;

    unsigned              i;
    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;
    ep->step = NGX_WALRUS_EPOCH_HANDOVER;

    if (ep->err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, ep->err,
                      "walrus: node %V cannot keep its peers' readiness "
                      "in %s", &kp->conf->node_name, ep->dir);
        ep->err = 0;
    }

    for (i = 0; i < ep->committee->nnodes; i++) {
        if (ep->have[i]) {
            kp->ready_nodes[i] = 1;

            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                           "walrus: peer %s is ready for epoch %uD",
                           ep->committee->nodes[i].name,
                           ep->committee->epoch);
        }
    }

    ngx_walrus_epoch_weigh(rd);
}


/* the shards of the ready nodes; at n - f the change is complete */

static void
ngx_walrus_epoch_weigh(ngx_walrus_round_t *rd)
{
    unsigned                   weight;
    ngx_uint_t                 i;
    ngx_walrus_keeper_t       *kp;
    const walrus_committee_t  *c;

    kp = rd->keeper;
    c = kp->committee;
    weight = 0;

    for (i = 0; i < c->nnodes; i++) {
        if (kp->ready_nodes[i]) {
            weight += c->nodes[i].nshards;
        }
    }

    kp->ready_weight = weight;

    if (!kp->complete && weight >= c->params.n - c->params.f) {
        kp->complete = 1;

        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "walrus: node %V: the change to epoch %uD is "
                      "complete (nodes holding %ud of %ud shards are "
                      "ready)", &kp->conf->node_name, c->epoch, weight,
                      c->params.n);
    }
}


/* <store>/epochs/<epoch>, made durable */

int
ngx_walrus_epoch_mkdir(ngx_walrus_epoch_t *ep)
{
    char  parent[WALRUS_PATH_MAX], *slash;

    strcpy(parent, ep->dir);
    slash = strrchr(parent, '/');

    if (slash == NULL) {
        errno = EINVAL;
        return -1;
    }

    *slash = '\0';

    return walrus_store_mkdir(parent) == 0 && walrus_store_mkdir(ep->dir) == 0
           ? 0 : -1;
}
