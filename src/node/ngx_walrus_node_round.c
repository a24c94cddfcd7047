/*
 * A keeper round: the request it makes its peer calls from, on a
 * connection of its own; its phases run in a loop, its thread work, its
 * deadline, and its end once no subrequest of it is left.
 */

#include <ngx_walrus_node_auditor.h>
#include <sys/eventfd.h>


#define NGX_WALRUS_KEEPER_END_POLL   50


typedef struct {
    ngx_walrus_round_t        *round;
    ngx_walrus_round_work_pt   work;
    ngx_walrus_round_done_pt   done;
    void                      *data;
} ngx_walrus_round_job_t;


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
static void ngx_walrus_round_wake(ngx_event_t *ev);
static void ngx_walrus_round_abort(ngx_walrus_round_t *rd,
    const char *why);
static void ngx_walrus_round_end(ngx_event_t *ev);
static void ngx_walrus_round_free(ngx_walrus_round_t *rd);
static void ngx_walrus_round_task_run(void *data, ngx_log_t *log);
static void ngx_walrus_round_task_done(ngx_event_t *ev);


static ngx_str_t  ngx_walrus_round_method = ngx_string("GET");
static ngx_str_t  ngx_walrus_round_uri = ngx_string("/");


void
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

    rd->pause.handler = ngx_walrus_round_wake;
    rd->pause.data = rd;
    rd->pause.log = rd->log;
    rd->pause.cancelable = 1;

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

    if (rd->pause.timer_set) {
        ngx_del_timer(&rd->pause);
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

            } else if (rd->phase == NGX_WALRUS_ROUND_AUDIT) {
                ngx_walrus_audit_answer(rd, call);

            } else if (rd->phase == NGX_WALRUS_ROUND_HEAL) {
                ngx_walrus_heal_answer(rd, call);

            } else if (rd->phase == NGX_WALRUS_ROUND_EPOCH) {
                ngx_walrus_epoch_answer(rd, call);
            }

            ngx_walrus_call_release(call);

            if (rd->aborted) {
                return;
            }
        }

        if (rd->fanout.active > 0 || rd->tasks > 0 || rd->pause.timer_set) {
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
            && !rd->pause.timer_set && ngx_queue_empty(&rd->fanout.done))
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

    case NGX_WALRUS_ROUND_AUDIT:
        return ngx_walrus_audit_start(rd);

    case NGX_WALRUS_ROUND_HEAL:
        return ngx_walrus_heal_start(rd);

    case NGX_WALRUS_ROUND_EPOCH:
        return ngx_walrus_epoch_start(rd);

    case NGX_WALRUS_ROUND_SCRUB:
        return ngx_walrus_scrub_start(rd);

    case NGX_WALRUS_ROUND_GC:
        return ngx_walrus_gc_start(rd);

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


/* a phase that must wait (a rate limit) resumes after ms */

void
ngx_walrus_round_pause(ngx_walrus_round_t *rd, ngx_msec_t ms)
{
    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "walrus: node %V: keeper round pauses %M ms",
                   &rd->keeper->conf->node_name, ms);

    ngx_add_timer(&rd->pause, ms);
}


static void
ngx_walrus_round_wake(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_walrus_round_t  *rd;

    rd = ev->data;

    if (rd->request == NULL || rd->aborted) {
        return;
    }

    c = rd->request->connection;

    ngx_walrus_round_step(rd);

    /* nginx runs a subrequest made here only when told to */
    ngx_http_run_posted_requests(c);
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

    if (rd->pause.timer_set) {
        ngx_del_timer(&rd->pause);
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


ngx_walrus_call_t *
ngx_walrus_round_call(ngx_walrus_round_t *rd, ngx_uint_t node,
    ngx_str_t *uri, size_t body_max)
{
    return ngx_walrus_fanout_call_uri(rd->request, &rd->fanout, NULL, node,
                                      NGX_HTTP_GET, uri, NULL, body_max);
}
