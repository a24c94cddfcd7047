/*
 * The node's keeper: which process keeps a store (worker 0 of the nginx
 * that holds the flock(2) on <store>/keeper.lock), its schedule, and the
 * blobs it puts off after a failed heal.
 */

#include <ngx_walrus_node_auditor.h>
#include <walrus_store.h>
#include <sys/file.h>


#define NGX_WALRUS_KEEPER_LOCK_POLL  1000


static void ngx_walrus_keeper_tick(ngx_event_t *ev);
static ngx_int_t ngx_walrus_keeper_lock(ngx_walrus_keeper_t *kp);
static ngx_int_t ngx_walrus_keeper_lock_take(ngx_walrus_keeper_t *kp);


ngx_int_t
ngx_walrus_keeper_add(ngx_conf_t *cf, ngx_walrus_node_loc_conf_t *wlcf)
{
    ngx_uint_t                    i;
    ngx_http_conf_ctx_t          *ctx;
    ngx_walrus_keeper_t          *kp, **kpp;
    ngx_walrus_main_conf_t       *wmcf;
    ngx_walrus_node_main_conf_t  *wnmcf;

    wnmcf = ngx_http_conf_get_module_main_conf(cf,
                                               ngx_http_walrus_node_module);

    if (wnmcf->keepers == NULL) {
        wnmcf->keepers = ngx_array_create(cf->pool, 4,
                                          sizeof(ngx_walrus_keeper_t *));
        if (wnmcf->keepers == NULL) {
            return NGX_ERROR;
        }
    }

    /* a location nested in a node's location is the same node */

    kpp = wnmcf->keepers->elts;

    for (i = 0; i < wnmcf->keepers->nelts; i++) {
        if (kpp[i]->conf->store.len == wlcf->store.len
            && ngx_strncmp(kpp[i]->conf->store.data, wlcf->store.data,
                           wlcf->store.len) == 0)
        {
            return NGX_OK;
        }
    }

    kp = ngx_pcalloc(cf->pool, sizeof(ngx_walrus_keeper_t));
    ctx = ngx_palloc(cf->pool, sizeof(ngx_http_conf_ctx_t));
    kpp = ngx_array_push(wnmcf->keepers);
    if (kp == NULL || ctx == NULL || kpp == NULL) {
        return NGX_ERROR;
    }

    /* the merge's context is reused for the next location: copy it */
    *ctx = *(ngx_http_conf_ctx_t *) cf->ctx;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_walrus_module);

    /* every worker shows the keeper's figures: the committee is known */

    kp->conf = wlcf;
    kp->conf_ctx = ctx;
    kp->committee = wmcf->committee;
    kp->history = wmcf->history;
    kp->lock_fd = NGX_INVALID_FILE;
    *kpp = kp;

    return ngx_walrus_keeper_zone(cf, kp);
}


ngx_int_t
ngx_walrus_keeper_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    ngx_walrus_keeper_t          *kp, **kpp;
    ngx_http_core_loc_conf_t     *clcf;
    ngx_walrus_node_main_conf_t  *wnmcf;

    /* one process of an nginx runs keepers; flock picks one of nginxes */

    if ((ngx_process != NGX_PROCESS_WORKER
         && ngx_process != NGX_PROCESS_SINGLE)
        || ngx_worker != 0)
    {
        return NGX_OK;
    }

    wnmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                                ngx_http_walrus_node_module);
    if (wnmcf == NULL || wnmcf->keepers == NULL) {
        return NGX_OK;
    }

    kpp = wnmcf->keepers->elts;

    for (i = 0; i < wnmcf->keepers->nelts; i++) {
        kp = kpp[i];

        if (!kp->conf->keeper) {
            continue;
        }

        clcf = kp->conf_ctx->loc_conf[ngx_http_core_module.ctx_index];

        kp->log = *clcf->error_log;
        kp->log.handler = NULL;
        kp->log.data = NULL;

        kp->peers = ngx_pcalloc(cycle->pool, kp->committee->nnodes
                                             * sizeof(ngx_walrus_peer_t));
        kp->put_off = ngx_pcalloc(cycle->pool, NGX_WALRUS_PUT_OFF_MAX
                                               * sizeof(ngx_walrus_put_off_t));
        if (kp->peers == NULL || kp->put_off == NULL
            || ngx_walrus_auditor_init(kp, cycle->pool) != NGX_OK)
        {
            return NGX_ERROR;
        }

        kp->tick.handler = ngx_walrus_keeper_tick;
        kp->tick.data = kp;
        kp->tick.log = &kp->log;
        kp->tick.cancelable = 1;

        /* never fail the worker for a store problem: log and retry */
        ngx_add_timer(&kp->tick, 1 + ngx_random() % 500);
    }

    return NGX_OK;
}


void
ngx_walrus_keeper_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    ngx_connection_t             *c;
    ngx_walrus_keeper_t          *kp, **kpp;
    ngx_walrus_node_main_conf_t  *wnmcf;

    wnmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                                ngx_http_walrus_node_module);
    if (wnmcf == NULL || wnmcf->keepers == NULL) {
        return;
    }

    kpp = wnmcf->keepers->elts;

    for (i = 0; i < wnmcf->keepers->nelts; i++) {
        kp = kpp[i];

        /* a fast stop leaves a round's request: its descriptor goes */

        if (kp->round != NULL && kp->round->request != NULL) {
            c = kp->round->request->connection;

            if (c->fd != (ngx_socket_t) -1) {
                (void) close(c->fd);
                c->fd = (ngx_socket_t) -1;
            }
        }

        if (kp->lock_fd != NGX_INVALID_FILE) {
            (void) close(kp->lock_fd);
            kp->lock_fd = NGX_INVALID_FILE;
        }
    }
}


static void
ngx_walrus_keeper_tick(ngx_event_t *ev)
{
    ngx_walrus_keeper_t  *kp = ev->data;

    if (ngx_exiting || ngx_terminate) {
        /* the lock goes with the process; a round still ends on its own */
        return;
    }

    if (ngx_walrus_keeper_lock(kp) != NGX_OK) {
        ngx_add_timer(&kp->tick, NGX_WALRUS_KEEPER_LOCK_POLL);
        return;
    }

    if (kp->round == NULL) {
        ngx_walrus_round_start(kp);
    }

    ngx_add_timer(&kp->tick, kp->conf->keeper_interval);
}


/*
 * NGX_OK while this process holds the store's lock.  A store wiped while
 * running loses the lock file: the lock on its old inode guards nothing,
 * so it is taken again on the new file.
 */

static ngx_int_t
ngx_walrus_keeper_lock(ngx_walrus_keeper_t *kp)
{
    char         path[WALRUS_PATH_MAX];
    ngx_err_t    err;
    struct stat  st;

    if (kp->lock_fd != NGX_INVALID_FILE) {
        if (fstat(kp->lock_fd, &st) == 0 && st.st_nlink > 0) {
            return kp->leader ? NGX_OK : ngx_walrus_keeper_lock_take(kp);
        }

        (void) close(kp->lock_fd);
        kp->lock_fd = NGX_INVALID_FILE;

        if (kp->leader) {
            ngx_log_error(NGX_LOG_WARN, &kp->log, 0,
                          "walrus: node %V: the store's lock file is gone "
                          "(store wiped?): taking it again",
                          &kp->conf->node_name);
            kp->leader = 0;
        }
    }

    if (ngx_snprintf((u_char *) path, sizeof(path), "%V/keeper.lock%Z",
                     &kp->conf->store)
        == (u_char *) path + sizeof(path))
    {
        return NGX_ERROR;
    }

    kp->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

    if (kp->lock_fd == NGX_INVALID_FILE) {
        err = ngx_errno;
        ngx_log_error(NGX_LOG_ERR, &kp->log, err,
                      "walrus: node %V: cannot open \"%s\"",
                      &kp->conf->node_name, path);
        return NGX_ERROR;
    }

    return ngx_walrus_keeper_lock_take(kp);
}


static ngx_int_t
ngx_walrus_keeper_lock_take(ngx_walrus_keeper_t *kp)
{
    ngx_err_t  err;

    if (flock(kp->lock_fd, LOCK_EX | LOCK_NB) == 0) {
        kp->leader = 1;

        ngx_log_error(NGX_LOG_INFO, &kp->log, 0,
                      "walrus: node %V: this process keeps the store",
                      &kp->conf->node_name);
        return NGX_OK;
    }

    err = ngx_errno;

    if (err != EWOULDBLOCK && err != EINTR) {
        ngx_log_error(NGX_LOG_ERR, &kp->log, err,
                      "walrus: node %V: flock() of the keeper's lock failed",
                      &kp->conf->node_name);
    }

    /* another process (an old worker during a reload) keeps the store */
    return NGX_DECLINED;
}


time_t
ngx_walrus_keeper_put_off(ngx_walrus_keeper_t *kp, const uint8_t *id)
{
    return ngx_walrus_keeper_put_off_by(kp, id, 0);
}


/* delay 0: the blob's own backoff, which grows with its failures */

time_t
ngx_walrus_keeper_put_off_by(ngx_walrus_keeper_t *kp, const uint8_t *id,
    time_t delay)
{
    ngx_uint_t             i;
    ngx_walrus_put_off_t  *po, *slot;

    slot = &kp->put_off[0];

    for (i = 0; i < NGX_WALRUS_PUT_OFF_MAX; i++) {
        po = &kp->put_off[i];

        if (po->fails && ngx_memcmp(po->id, id, WALRUS_BLOB_ID_LEN) == 0) {
            slot = po;
            break;
        }

        /* when full, the entry due soonest makes room */
        if (slot->fails && (po->fails == 0 || po->next < slot->next)) {
            slot = po;
        }
    }

    if (slot->fails == 0 || ngx_memcmp(slot->id, id, WALRUS_BLOB_ID_LEN)) {
        ngx_memcpy(slot->id, id, WALRUS_BLOB_ID_LEN);
        slot->fails = 0;
    }

    slot->fails++;

    if (delay == 0) {
        delay = ngx_walrus_keeper_backoff(slot->fails);
    }

    slot->next = ngx_time() + delay;

    return delay;
}


ngx_uint_t
ngx_walrus_keeper_put_off_fails(ngx_walrus_keeper_t *kp, const uint8_t *id)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_WALRUS_PUT_OFF_MAX; i++) {
        if (kp->put_off[i].fails
            && ngx_memcmp(kp->put_off[i].id, id, WALRUS_BLOB_ID_LEN) == 0)
        {
            return kp->put_off[i].fails;
        }
    }

    return 0;
}


time_t
ngx_walrus_keeper_backoff(ngx_uint_t fails)
{
    return fails < 10 ? (time_t) 1 << (fails - 1) : 300;
}


ngx_uint_t
ngx_walrus_keeper_waits(ngx_walrus_keeper_t *kp, const uint8_t *id)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_WALRUS_PUT_OFF_MAX; i++) {
        if (kp->put_off[i].fails
            && ngx_memcmp(kp->put_off[i].id, id, WALRUS_BLOB_ID_LEN) == 0)
        {
            return ngx_time() < kp->put_off[i].next;
        }
    }

    return 0;
}


void
ngx_walrus_keeper_forget(ngx_walrus_keeper_t *kp, const uint8_t *id)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_WALRUS_PUT_OFF_MAX; i++) {
        if (kp->put_off[i].fails
            && ngx_memcmp(kp->put_off[i].id, id, WALRUS_BLOB_ID_LEN) == 0)
        {
            kp->put_off[i].fails = 0;
        }
    }
}
