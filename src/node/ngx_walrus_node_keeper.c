/*
 * The node's keeper: which process runs it, its rounds, the request a
 * round makes its peer calls from, its thread work and its saved state.
 */

#include <ngx_walrus_node_keeper.h>
#include <walrus_record.h>
#include <walrus_store.h>
#include <sys/eventfd.h>
#include <sys/file.h>


#define NGX_WALRUS_KEEPER_LOCK_POLL  1000
#define NGX_WALRUS_KEEPER_END_POLL   50
#define NGX_WALRUS_KEEPER_STATE_MAX  (1024 * 1024)


typedef struct {
    ngx_walrus_round_t        *round;
    ngx_walrus_round_work_pt   work;
    ngx_walrus_round_done_pt   done;
    void                      *data;
} ngx_walrus_round_job_t;


/* the keeper's state file, read and written in the thread pool */
typedef struct {
    char                       path[WALRUS_PATH_MAX];
    char                       dir[WALRUS_PATH_MAX];
    char                       record[WALRUS_PATH_MAX];
    u_char                    *text;
    size_t                     len;
    u_char                     id[NGX_WALRUS_RECORD_ID_LEN];
    u_char                     loaded_id[NGX_WALRUS_RECORD_ID_LEN];
    unsigned                   has_id:1;      /* the record exists */
    unsigned                   loaded_has_id:1;
    unsigned                   reset:1;       /* saved without cursors */
    int                        err;
} ngx_walrus_state_io_t;


static void ngx_walrus_keeper_tick(ngx_event_t *ev);
static ngx_int_t ngx_walrus_keeper_lock(ngx_walrus_keeper_t *kp);
static ngx_int_t ngx_walrus_keeper_lock_take(ngx_walrus_keeper_t *kp);
static void ngx_walrus_round_start(ngx_walrus_keeper_t *kp);
static ngx_int_t ngx_walrus_round_request(ngx_walrus_round_t *rd);
static u_char *ngx_walrus_round_log_error(ngx_log_t *log, u_char *buf,
    size_t len);
static void ngx_walrus_round_resume(ngx_http_request_t *r);
static void ngx_walrus_round_quit(ngx_event_t *ev);
static void ngx_walrus_round_ignore(ngx_event_t *ev);
static void ngx_walrus_round_request_gone(void *data);
static void ngx_walrus_round_step(ngx_walrus_round_t *rd);
static ngx_int_t ngx_walrus_round_phase(ngx_walrus_round_t *rd);
static void ngx_walrus_round_deadline(ngx_event_t *ev);
static void ngx_walrus_round_abort(ngx_walrus_round_t *rd,
    const char *why);
static void ngx_walrus_round_end(ngx_event_t *ev);
static void ngx_walrus_round_free(ngx_walrus_round_t *rd);
static void ngx_walrus_round_task_run(void *data, ngx_log_t *log);
static void ngx_walrus_round_task_done(ngx_event_t *ev);
static ngx_int_t ngx_walrus_state_load(ngx_walrus_round_t *rd);
static void ngx_walrus_state_read(void *data, ngx_log_t *log);
static void ngx_walrus_state_loaded(ngx_walrus_round_t *rd, void *data);
static void ngx_walrus_state_parse(ngx_walrus_keeper_t *kp, u_char *p,
    u_char *last);
static u_char *ngx_walrus_state_id(u_char *p, const u_char *id);
static ngx_int_t ngx_walrus_state_save(ngx_walrus_round_t *rd);
static void ngx_walrus_state_write(void *data, ngx_log_t *log);
static void ngx_walrus_state_saved(ngx_walrus_round_t *rd, void *data);
static int ngx_walrus_state_record_id(ngx_walrus_state_io_t *io);
static void ngx_walrus_state_forget(ngx_walrus_keeper_t *kp);


static ngx_str_t  ngx_walrus_round_method = ngx_string("GET");
static ngx_str_t  ngx_walrus_round_uri = ngx_string("/");


ngx_int_t
ngx_walrus_keeper_add(ngx_conf_t *cf, ngx_walrus_node_loc_conf_t *wlcf)
{
    ngx_uint_t                    i;
    ngx_http_conf_ctx_t          *ctx;
    ngx_walrus_keeper_t          *kp, **kpp;
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

    kp->conf = wlcf;
    kp->conf_ctx = ctx;
    kp->lock_fd = NGX_INVALID_FILE;
    *kpp = kp;

    return ngx_walrus_keeper_zone(cf, kp);
}


ngx_int_t
ngx_walrus_keeper_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    ngx_walrus_keeper_t          *kp, **kpp;
    ngx_walrus_main_conf_t       *wmcf;
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

        wmcf = kp->conf_ctx->main_conf[ngx_http_walrus_module.ctx_index];
        clcf = kp->conf_ctx->loc_conf[ngx_http_core_module.ctx_index];

        kp->committee = wmcf->committee;
        kp->log = *clcf->error_log;
        kp->log.handler = NULL;
        kp->log.data = NULL;

        kp->peers = ngx_pcalloc(cycle->pool, kp->committee->nnodes
                                             * sizeof(ngx_walrus_peer_t));
        kp->put_off = ngx_pcalloc(cycle->pool, NGX_WALRUS_PUT_OFF_MAX
                                               * sizeof(ngx_walrus_put_off_t));
        if (kp->peers == NULL || kp->put_off == NULL) {
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


static void
ngx_walrus_round_start(ngx_walrus_keeper_t *kp)
{
    ngx_pool_t          *pool;
    ngx_walrus_round_t  *rd;

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, &kp->log);
    if (pool == NULL) {
        return;
    }

    rd = ngx_pcalloc(pool, sizeof(ngx_walrus_round_t));
    if (rd == NULL) {
        ngx_destroy_pool(pool);
        return;
    }

    rd->keeper = kp;
    rd->pool = pool;
    rd->log = &kp->log;
    kp->rounds++;

    ngx_walrus_fanout_init(&rd->fanout, &kp->conf->peer_location);

    if (ngx_walrus_round_request(rd) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, &kp->log, 0,
                      "walrus: node %V: no connection for a keeper round",
                      &kp->conf->node_name);
        ngx_destroy_pool(pool);
        return;
    }

    kp->round = rd;
    rd->log = rd->request->connection->log;

    rd->deadline.handler = ngx_walrus_round_deadline;
    rd->deadline.data = rd;
    rd->deadline.log = rd->log;
    rd->deadline.cancelable = 1;
    ngx_add_timer(&rd->deadline, kp->conf->keeper_timeout);

    rd->end.handler = ngx_walrus_round_end;
    rd->end.data = rd;
    rd->end.log = rd->log;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "walrus: node %V: keeper round %ui starts",
                   &kp->conf->node_name, kp->rounds);

    rd->phase = NGX_WALRUS_ROUND_LOAD;

    if (ngx_walrus_state_load(rd) != NGX_OK) {
        ngx_walrus_round_abort(rd, "its state cannot be read");
    }
}


/*
 * The round's request: made as nginx makes a client's, on a connection
 * of its own, in the node location's configuration, so that subrequests
 * find the peer location in the node's server.  The connection's
 * descriptor is an eventfd, which nginx may add to epoll and close like
 * a socket; it is marked idle so that a graceful quit tells the round
 * at once (ngx_close_idle_connections calls its read handler).
 */

static ngx_int_t
ngx_walrus_round_request(ngx_walrus_round_t *rd)
{
    int                     fd;
    ngx_log_t              *log;
    ngx_connection_t       *c;
    ngx_http_request_t     *r;
    ngx_pool_cleanup_t     *cln;
    ngx_http_log_ctx_t     *ctx;
    ngx_walrus_keeper_t    *kp;
    ngx_walrus_node_ctx_t  *nctx;
    ngx_http_connection_t  *hc;

    kp = rd->keeper;

    fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd == -1) {
        ngx_log_error(NGX_LOG_ERR, &kp->log, ngx_errno, "eventfd() failed");
        return NGX_ERROR;
    }

    c = ngx_get_connection(fd, &kp->log);
    if (c == NULL) {
        (void) close(fd);
        return NGX_ERROR;
    }

    c->pool = ngx_create_pool(1024, &kp->log);
    if (c->pool == NULL) {
        goto failed;
    }

    log = ngx_palloc(c->pool, sizeof(ngx_log_t));
    ctx = ngx_pcalloc(c->pool, sizeof(ngx_http_log_ctx_t));
    hc = ngx_pcalloc(c->pool, sizeof(ngx_http_connection_t));
    c->buffer = ngx_create_temp_buf(c->pool, 1);
    if (log == NULL || ctx == NULL || hc == NULL || c->buffer == NULL) {
        goto failed;
    }

    *log = kp->log;
    log->data = ctx;
    log->handler = ngx_walrus_round_log_error;
    log->action = NULL;
    ctx->connection = c;

    c->log = log;
    c->log_error = NGX_ERROR_INFO;
    c->read->log = log;
    c->write->log = log;
    c->read->handler = ngx_walrus_round_quit;
    c->write->handler = ngx_walrus_round_ignore;
    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);
    c->start_time = ngx_current_msec;
    c->idle = 1;

    /* as for a client that is no socket: no socket options to set */
    c->tcp_nodelay = NGX_TCP_NODELAY_DISABLED;
    c->tcp_nopush = NGX_TCP_NOPUSH_DISABLED;

    hc->conf_ctx = kp->conf_ctx;
    c->data = hc;

#if (NGX_STAT_STUB)
    /* ngx_http_close_connection() counts it out */
    (void) ngx_atomic_fetch_add(ngx_stat_active, 1);
#endif

    r = ngx_http_create_request(c);
    if (r == NULL) {
        ngx_http_close_connection(c);
        return NGX_ERROR;
    }

    c->data = r;

    if (ngx_list_init(&r->headers_in.headers, r->pool, 1,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        goto close;
    }

    r->method = NGX_HTTP_GET;
    r->method_name = ngx_walrus_round_method;
    r->uri = ngx_walrus_round_uri;
    r->unparsed_uri = ngx_walrus_round_uri;
    r->http_version = NGX_HTTP_VERSION_11;
    r->logged = 1;
    r->write_event_handler = ngx_walrus_round_resume;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        goto close;
    }

    cln->handler = ngx_walrus_round_request_gone;
    cln->data = rd;

    nctx = ngx_pcalloc(r->pool, sizeof(ngx_walrus_node_ctx_t));
    if (nctx == NULL) {
        goto close;
    }

    nctx->round = rd;
    ngx_http_set_ctx(r, nctx, ngx_http_walrus_node_module);

    rd->request = r;

    return NGX_OK;

close:

    ngx_http_free_request(r, 0);
    ngx_http_close_connection(c);
    return NGX_ERROR;

failed:

    if (c->pool != NULL) {
        ngx_destroy_pool(c->pool);
    }

    ngx_close_connection(c);
    return NGX_ERROR;
}


static u_char *
ngx_walrus_round_log_error(ngx_log_t *log, u_char *buf, size_t len)
{
    ngx_http_log_ctx_t          *ctx;
    ngx_walrus_node_loc_conf_t  *wlcf;

    ctx = log->data;

    if (ctx->request == NULL) {
        return buf;
    }

    wlcf = ngx_walrus_node_loc_conf(ctx->request);

    return ngx_snprintf(buf, len, ", keeper of node %V", &wlcf->node_name);
}


/* subrequests that end post the round's request: this runs */

static void
ngx_walrus_round_resume(ngx_http_request_t *r)
{
    ngx_walrus_node_ctx_t  *nctx;

    nctx = ngx_walrus_node_ctx(r);

    if (nctx != NULL && nctx->round != NULL) {
        ngx_walrus_round_step(nctx->round);
    }
}


/* a graceful quit (or worker_shutdown_timeout) closes idle connections */

static void
ngx_walrus_round_quit(ngx_event_t *ev)
{
    ngx_connection_t       *c;
    ngx_http_request_t     *r;
    ngx_walrus_node_ctx_t  *nctx;

    c = ev->data;

    if (!c->close) {
        return;
    }

    c->close = 0;
    r = c->data;
    nctx = ngx_walrus_node_ctx(r);

    if (nctx != NULL && nctx->round != NULL) {
        ngx_walrus_round_abort(nctx->round, "the worker is quitting");
    }
}


static void
ngx_walrus_round_ignore(ngx_event_t *ev)
{
    /* nothing is ever written to the round's own connection */
}


/* nginx freed the request: after an end, or when it terminated it */

static void
ngx_walrus_round_request_gone(void *data)
{
    ngx_walrus_round_t  *rd = data;

    rd->request = NULL;

    ngx_walrus_fanout_free(&rd->fanout);

    if (!rd->aborted && rd->phase != NGX_WALRUS_ROUND_DONE) {
        rd->aborted = 1;
        ngx_log_error(NGX_LOG_WARN, rd->keeper->tick.log, 0,
                      "walrus: node %V: a keeper round was ended early",
                      &rd->keeper->conf->node_name);
    }

    if (rd->deadline.timer_set) {
        ngx_del_timer(&rd->deadline);
    }

    if (rd->end.timer_set) {
        ngx_del_timer(&rd->end);
    }

    if (rd->end.posted) {
        ngx_delete_posted_event(&rd->end);
    }

    if (rd->tasks == 0) {
        ngx_walrus_round_free(rd);
    }
}


/* handles the answers that came, then starts what is next: a loop */

static void
ngx_walrus_round_step(ngx_walrus_round_t *rd)
{
    ngx_int_t           rc;
    ngx_walrus_call_t  *call;

    for ( ;; ) {
        if (rd->aborted || rd->phase == NGX_WALRUS_ROUND_DONE) {
            return;
        }

        while ((call = ngx_walrus_fanout_next(&rd->fanout)) != NULL) {

            if (rd->phase == NGX_WALRUS_ROUND_SYNC) {
                ngx_walrus_sync_answer(rd, call);

            } else if (rd->phase == NGX_WALRUS_ROUND_HEAL) {
                ngx_walrus_heal_answer(rd, call);
            }

            ngx_walrus_call_release(call);

            if (rd->aborted) {
                return;
            }
        }

        if (rd->fanout.active > 0 || rd->tasks > 0) {
            return;
        }

        rc = ngx_walrus_round_phase(rd);

        if (rc == NGX_ERROR) {
            ngx_walrus_round_abort(rd, "of an error");
            return;
        }

        if (rc == NGX_DONE) {
            rd->phase++;

            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                           "walrus: node %V: keeper phase %d",
                           &rd->keeper->conf->node_name, (int) rd->phase);

            if (rd->phase == NGX_WALRUS_ROUND_DONE) {
                ngx_walrus_round_end(&rd->end);
                return;
            }

            continue;
        }

        /* NGX_AGAIN: work was started, unless the phase made none */

        if (rd->fanout.active == 0 && rd->tasks == 0
            && ngx_queue_empty(&rd->fanout.done))
        {
            ngx_walrus_round_abort(rd, "a phase started nothing");
            return;
        }
    }
}


static ngx_int_t
ngx_walrus_round_phase(ngx_walrus_round_t *rd)
{
    switch (rd->phase) {

    case NGX_WALRUS_ROUND_LOAD:
        /* the state was applied when it was read */
        return NGX_DONE;

    case NGX_WALRUS_ROUND_SYNC:
        return ngx_walrus_sync_start(rd);

    case NGX_WALRUS_ROUND_HEAL:
        return ngx_walrus_heal_start(rd);

    case NGX_WALRUS_ROUND_SCRUB:
        return ngx_walrus_scrub_start(rd);

    case NGX_WALRUS_ROUND_SAVE:
        if (!rd->changed) {
            return NGX_DONE;
        }

        rd->changed = 0;

        return ngx_walrus_state_save(rd) == NGX_OK ? NGX_AGAIN : NGX_ERROR;

    default:
        return NGX_DONE;
    }
}


static void
ngx_walrus_round_deadline(ngx_event_t *ev)
{
    ngx_walrus_round_abort(ev->data, "it took longer than "
                                     "walrus_node_keeper_timeout");
}


/* stops a round: its calls are cancelled, its tasks left to finish */

static void
ngx_walrus_round_abort(ngx_walrus_round_t *rd, const char *why)
{
    if (rd->aborted) {
        return;
    }

    rd->aborted = 1;

    ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                  "walrus: node %V: keeper round %ui stopped because %s",
                  &rd->keeper->conf->node_name, rd->keeper->rounds, why);

    ngx_walrus_round_end(&rd->end);
}


/*
 * Frees the round's request once no subrequest of it is left: cancelled
 * calls that had not reached their upstream yet close on their own, so
 * this looks again shortly.  The timer is not cancelable: a quitting
 * worker waits for the subrequests, which their proxy timeouts bound.
 */

static void
ngx_walrus_round_end(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;
    ngx_walrus_round_t  *rd;

    rd = ev->data;
    r = rd->request;

    if (rd->deadline.timer_set) {
        ngx_del_timer(&rd->deadline);
    }

    if (r == NULL) {
        return;
    }

    rd->fanout.closed = 1;
    ngx_walrus_fanout_cancel_all(&rd->fanout);

    if (r->count > 1 || r->blocked) {
        /* subrequests cancelled before they ran must run to their end */
        ngx_add_timer(&rd->end, NGX_WALRUS_KEEPER_END_POLL);
        ngx_http_run_posted_requests(r->connection);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "walrus: node %V: keeper round %ui ends",
                   &rd->keeper->conf->node_name, rd->keeper->rounds);

    if (!rd->aborted) {
        rd->phase = NGX_WALRUS_ROUND_DONE;
    }

    ngx_walrus_keeper_publish(rd->keeper);

    /* the request's cleanup frees the round when no task runs */

    c = r->connection;
    ngx_http_free_request(r, 0);
    ngx_http_close_connection(c);
}


static void
ngx_walrus_round_free(ngx_walrus_round_t *rd)
{
    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;

    if (kp->round == rd) {
        kp->round = NULL;
    }

    ngx_destroy_pool(rd->pool);
}


ngx_int_t
ngx_walrus_round_task(ngx_walrus_round_t *rd, ngx_walrus_round_work_pt work,
    ngx_walrus_round_done_pt done, void *data)
{
    ngx_thread_task_t       *task;
    ngx_walrus_round_job_t  *job;

    task = ngx_thread_task_alloc(rd->pool, sizeof(ngx_walrus_round_job_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    job = task->ctx;
    job->round = rd;
    job->work = work;
    job->done = done;
    job->data = data;

    task->handler = ngx_walrus_round_task_run;
    task->event.handler = ngx_walrus_round_task_done;
    task->event.data = job;

    if (ngx_thread_task_post(rd->keeper->conf->thread_pool, task) != NGX_OK) {
        return NGX_ERROR;
    }

    rd->tasks++;

    return NGX_OK;
}


static void
ngx_walrus_round_task_run(void *data, ngx_log_t *log)
{
    ngx_walrus_round_job_t  *job = data;

    job->work(job->data, log);
}


static void
ngx_walrus_round_task_done(ngx_event_t *ev)
{
    ngx_connection_t        *c;
    ngx_walrus_round_t      *rd;
    ngx_walrus_round_job_t  *job;

    job = ev->data;
    rd = job->round;
    rd->tasks--;

    if (rd->request == NULL) {
        /* the request went while the task ran: the round goes now */
        if (rd->tasks == 0) {
            ngx_walrus_round_free(rd);
        }

        return;
    }

    if (rd->aborted) {
        return;
    }

    /* the round may end and go in the step: only c is used after it */
    c = rd->request->connection;

    job->done(rd, job->data);

    ngx_walrus_round_step(rd);

    /* nginx runs a subrequest made here only when told to */
    ngx_http_run_posted_requests(c);
}


time_t
ngx_walrus_keeper_put_off(ngx_walrus_keeper_t *kp, const uint8_t *id)
{
    time_t                 delay;
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
    delay = slot->fails < 10 ? (time_t) 1 << (slot->fails - 1) : 300;
    delay = ngx_min(delay, 300);
    slot->next = ngx_time() + delay;

    return delay;
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


ngx_walrus_call_t *
ngx_walrus_round_call(ngx_walrus_round_t *rd, ngx_uint_t node,
    ngx_str_t *uri, size_t body_max)
{
    return ngx_walrus_fanout_call_uri(rd->request, &rd->fanout, NULL, node,
                                      NGX_HTTP_GET, uri, NULL, body_max);
}


/*
 * The state file: text, one fact per line, rewritten whole.
 *
 *     walrus-keeper 1
 *     record <this node's record identity, hex: what the cursors go with>
 *     heal <this node's record identity, hex> <cursor of the heal's pass>
 *     peer <node name> <record identity, hex> <cursor in its record>
 *
 * Losing it costs work, never data: every step it records is repeated
 * harmlessly (entries already held are skipped).
 */

static ngx_int_t
ngx_walrus_state_load(ngx_walrus_round_t *rd)
{
    ngx_walrus_state_io_t  *io;

    io = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_state_io_t));
    if (io == NULL) {
        return NGX_ERROR;
    }

    if (ngx_snprintf((u_char *) io->path, sizeof(io->path),
                     "%V/keeper.state%Z", &rd->keeper->conf->store)
        == (u_char *) io->path + sizeof(io->path)
        || walrus_record_path(io->record,
                              (char *) rd->keeper->conf->store.data,
                              rd->keeper->conf->store.len)
           != 0)
    {
        return NGX_ERROR;
    }

    rd->state = io;

    return ngx_walrus_round_task(rd, ngx_walrus_state_read,
                                 ngx_walrus_state_loaded, io);
}


static void
ngx_walrus_state_read(void *data, ngx_log_t *log)
{
    ngx_walrus_state_io_t  *io = data;

    io->err = walrus_read_file(io->path, NGX_WALRUS_KEEPER_STATE_MAX,
                               &io->text, &io->len) == 0 ? 0 : errno;

    io->has_id = ngx_walrus_state_record_id(io);
}


/* the identity of this node's own record, which the cursors go with */

static int
ngx_walrus_state_record_id(ngx_walrus_state_io_t *io)
{
    return walrus_record_identity(io->record, io->id) == 1;
}


static void
ngx_walrus_state_loaded(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_state_io_t  *io = data;

    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;

    /* what the file does not say is unknown: a wiped store starts over */

    ngx_walrus_state_forget(kp);

    if (io->err != 0 && io->err != ENOENT) {
        ngx_log_error(NGX_LOG_ERR, rd->log, io->err,
                      "walrus: cannot read \"%s\": starting over", io->path);
    }

    if (io->text != NULL) {
        ngx_walrus_state_parse(kp, io->text, io->text + io->len);
        free(io->text);
        io->text = NULL;
    }

    /*
     * The cursors hold for the record they were saved with: a store
     * wiped, or its record lost, starts over from every peer's start.
     */

    if (kp->state_has_record != io->has_id
        || (io->has_id
            && ngx_memcmp(kp->state_record, io->id, NGX_WALRUS_RECORD_ID_LEN)
               != 0))
    {
        if (kp->state_has_record || io->has_id) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                           "walrus: node %V: its record changed: cursors "
                           "start over", &kp->conf->node_name);
        }

        ngx_walrus_state_forget(kp);
    }

    io->loaded_has_id = io->has_id;
    ngx_memcpy(io->loaded_id, io->id, NGX_WALRUS_RECORD_ID_LEN);
}


static void
ngx_walrus_state_forget(ngx_walrus_keeper_t *kp)
{
    ngx_uint_t  i;

    kp->scan_known = 0;
    kp->scan_cursor = 0;
    kp->state_has_record = 0;

    for (i = 0; i < kp->committee->nnodes; i++) {
        kp->peers[i].known = 0;
        kp->peers[i].cursor = 0;
    }
}


static void
ngx_walrus_state_parse(ngx_walrus_keeper_t *kp, u_char *p, u_char *last)
{
    int                 idx;
    u_char             *eol, *end;
    unsigned long long  cursor;
    char                name[WALRUS_MAX_NAME_LEN + 1];
    char                hex[2 * NGX_WALRUS_RECORD_ID_LEN + 1];
    char                line[256];

    for ( /* void */ ; p < last; p = eol + 1) {
        eol = ngx_strlchr(p, last, '\n');
        end = eol != NULL ? eol : last;

        if ((size_t) (end - p) >= sizeof(line)) {
            goto bad;
        }

        ngx_memcpy(line, p, end - p);
        line[end - p] = '\0';

        if (ngx_strncmp(line, "walrus-keeper 1", 15) == 0) {
            /* the version line */

        } else if (sscanf(line, "record %32s", hex) == 1) {
            kp->state_has_record =
                ngx_walrus_record_id_parse((u_char *) hex, ngx_strlen(hex),
                                           kp->state_record)
                == NGX_OK;

        } else if (sscanf(line, "heal %32s %llu", hex, &cursor) == 2) {
            if (ngx_walrus_record_id_parse((u_char *) hex, ngx_strlen(hex),
                                           kp->scan_record)
                == NGX_OK)
            {
                kp->scan_cursor = cursor;
                kp->scan_known = 1;
            }

        } else if (sscanf(line, "peer %64s %32s %llu", name, hex, &cursor)
                   == 3)
        {
            idx = walrus_committee_find(kp->committee, name);

            /* a node that left the committee is forgotten */

            if (idx >= 0
                && ngx_walrus_record_id_parse((u_char *) hex,
                                              ngx_strlen(hex),
                                              kp->peers[idx].record)
                   == NGX_OK)
            {
                kp->peers[idx].cursor = cursor;
                kp->peers[idx].known = 1;
            }

        } else if (line[0] != '\0') {
            goto bad;
        }

        if (eol == NULL) {
            break;
        }
    }

    return;

bad:

    ngx_log_error(NGX_LOG_WARN, &kp->log, 0,
                  "walrus: node %V: a line of keeper.state is not "
                  "understood: ignored", &kp->conf->node_name);
}


ngx_int_t
ngx_walrus_record_id_parse(const u_char *hex, size_t len, u_char *id)
{
    ngx_int_t   b;
    ngx_uint_t  i;

    if (len != 2 * NGX_WALRUS_RECORD_ID_LEN) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_WALRUS_RECORD_ID_LEN; i++) {
        b = ngx_hextoi((u_char *) hex + 2 * i, 2);
        if (b == NGX_ERROR) {
            return NGX_ERROR;
        }

        id[i] = (u_char) b;
    }

    return NGX_OK;
}


static u_char *
ngx_walrus_state_id(u_char *p, const u_char *id)
{
    return ngx_hex_dump(p, (u_char *) id, NGX_WALRUS_RECORD_ID_LEN);
}


static ngx_int_t
ngx_walrus_state_save(ngx_walrus_round_t *rd)
{
    u_char                 *p;
    size_t                  size;
    ngx_uint_t              i;
    ngx_walrus_keeper_t    *kp;
    ngx_walrus_state_io_t  *io, *loaded;

    kp = rd->keeper;

    io = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_state_io_t));
    if (io == NULL) {
        return NGX_ERROR;
    }

    size = sizeof("heal  \n") + NGX_INT64_LEN
           + 2 * NGX_WALRUS_RECORD_ID_LEN
           + kp->committee->nnodes
             * (sizeof("peer   \n") + WALRUS_MAX_NAME_LEN
                + 2 * NGX_WALRUS_RECORD_ID_LEN + NGX_INT64_LEN);

    io->text = ngx_pnalloc(rd->pool, size);
    if (io->text == NULL) {
        return NGX_ERROR;
    }

    loaded = rd->state;

    if (loaded != NULL) {
        io->loaded_has_id = loaded->loaded_has_id;
        ngx_memcpy(io->loaded_id, loaded->loaded_id,
                   NGX_WALRUS_RECORD_ID_LEN);
    }

    if (walrus_record_path(io->record, (char *) kp->conf->store.data,
                           kp->conf->store.len)
        != 0)
    {
        return NGX_ERROR;
    }

    /* the version and record lines are written by the task */
    p = io->text;

    if (kp->scan_known) {
        p = ngx_walrus_state_id(ngx_cpymem(p, "heal ", 5), kp->scan_record);
        p = ngx_sprintf(p, " %uL\n", kp->scan_cursor);
    }

    for (i = 0; i < kp->committee->nnodes; i++) {
        if (!kp->peers[i].known) {
            continue;
        }

        p = ngx_sprintf(p, "peer %s ", kp->committee->nodes[i].name);
        p = ngx_walrus_state_id(p, kp->peers[i].record);
        p = ngx_sprintf(p, " %uL\n", kp->peers[i].cursor);
    }

    io->len = p - io->text;

    if (ngx_snprintf((u_char *) io->dir, sizeof(io->dir), "%V%Z",
                     &kp->conf->store)
        == (u_char *) io->dir + sizeof(io->dir))
    {
        return NGX_ERROR;
    }

    return ngx_walrus_round_task(rd, ngx_walrus_state_write,
                                 ngx_walrus_state_saved, io);
}


static void
ngx_walrus_state_write(void *data, ngx_log_t *log)
{
    ngx_walrus_state_io_t  *io = data;

    u_char         head[sizeof("walrus-keeper 1\nrecord \n")
                        + 2 * NGX_WALRUS_RECORD_ID_LEN];
    u_char        *p;
    walrus_file_t  f;

    io->err = 0;
    io->has_id = ngx_walrus_state_record_id(io);

    /*
     * The record changed while the round ran (the store was wiped): the
     * cursors found before are of the old one, and none are kept.  A
     * record made in the round, where there was none, holds what the
     * round took in.
     */

    io->reset = io->loaded_has_id
                && (!io->has_id
                    || memcmp(io->id, io->loaded_id,
                              NGX_WALRUS_RECORD_ID_LEN) != 0);

    p = ngx_cpymem(head, "walrus-keeper 1\n", 16);

    if (io->has_id && !io->reset) {
        p = ngx_cpymem(p, "record ", 7);
        p = ngx_hex_dump(p, io->id, NGX_WALRUS_RECORD_ID_LEN);
        *p++ = '\n';
    }

    if (walrus_file_open(&f, io->dir, "keeper.state") != 0) {
        io->err = errno;
        return;
    }

    if (walrus_file_write(&f, head, p - head) != 0
        || (!io->reset && walrus_file_write(&f, io->text, io->len) != 0)
        || walrus_file_commit(&f) != 0)
    {
        io->err = errno;
        walrus_file_abort(&f);
    }
}


static void
ngx_walrus_state_saved(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_state_io_t  *io = data;

    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;

    if (io->err != 0) {
        ngx_log_error(NGX_LOG_ERR, rd->log, io->err,
                      "walrus: node %V: cannot write keeper.state",
                      &kp->conf->node_name);
        return;
    }

    if (io->reset) {
        ngx_walrus_state_forget(kp);
        return;
    }

    kp->state_has_record = io->has_id;
    ngx_memcpy(kp->state_record, io->id, NGX_WALRUS_RECORD_ID_LEN);
}
