/*
 * Thread work of a request: posting, resuming, and the shutdown guard.
 */

#include <ngx_walrus.h>


static void ngx_walrus_thread_done(ngx_event_t *ev);
static void ngx_walrus_thread_held(ngx_http_request_t *r);
static void ngx_walrus_thread_guard_handler(ngx_event_t *ev);
static void ngx_walrus_thread_guard_cleanup(void *data);


void
ngx_walrus_thread_init(ngx_walrus_thread_t *th, ngx_http_request_t *r,
    ngx_thread_pool_t *tp, ngx_walrus_thread_mode_e mode)
{
    th->request = r;
    th->pool = tp;
    th->done = NULL;
    th->data = NULL;
    th->running = 0;
    th->mode = mode;
    th->resume = NULL;
}


/*
 * The task's own context area is not used: the handler gets the caller's
 * data, which knows its request's state.
 */

ngx_thread_task_t *
ngx_walrus_thread_task(ngx_pool_t *pool, ngx_walrus_thread_handler_pt handler,
    void *data)
{
    ngx_thread_task_t  *task;

    task = ngx_thread_task_alloc(pool, 0);
    if (task == NULL) {
        return NULL;
    }

    task->ctx = data;
    task->handler = handler;

    return task;
}


ngx_int_t
ngx_walrus_thread_post(ngx_walrus_thread_t *th, ngx_thread_task_t *task)
{
    ngx_http_request_t  *r;

    r = th->request;

    task->event.data = th;
    task->event.handler = ngx_walrus_thread_done;

    if (ngx_thread_task_post(th->pool, task) != NGX_OK) {
        return NGX_ERROR;
    }

    th->running++;
    r->main->blocked++;

    if (th->mode == NGX_WALRUS_THREAD_JOIN) {
        r->aio = 1;
    }

    return NGX_OK;
}


/* the one way a request goes on after thread work */

static void
ngx_walrus_thread_done(ngx_event_t *ev)
{
    ngx_connection_t     *c;
    ngx_thread_task_t    *task;
    ngx_http_request_t   *r;
    ngx_walrus_thread_t  *th;

    th = ev->data;
    task = (ngx_thread_task_t *)
               ((u_char *) ev - offsetof(ngx_thread_task_t, event));
    r = th->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    r->main->blocked--;
    th->running--;

    if (th->done != NULL) {
        th->done(th, task);
    }

    if (th->mode == NGX_WALRUS_THREAD_JOIN) {
        if (th->running > 0) {
            /* the last task of the group resumes the request */
            return;
        }

        r->aio = 0;
    }

    /* nginx may have put its own handler there (a request terminated) */

    if (r->write_event_handler == ngx_walrus_thread_held) {
        r->write_event_handler = th->resume;
    }

    r->write_event_handler(r);
    ngx_http_run_posted_requests(c);
}


void
ngx_walrus_thread_hold(ngx_walrus_thread_t *th,
    ngx_http_event_handler_pt resume)
{
    th->resume = resume;
    th->request->write_event_handler = ngx_walrus_thread_held;
}


static void
ngx_walrus_thread_held(ngx_http_request_t *r)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: a write event while a thread task runs");
}


/*
 * A worker that shuts down waits only for requests with timers: the guard
 * is a timer for the time a request's task runs, which warns every minute
 * (storage or verification that slow needs looking at).  It goes with the
 * request's pool if ngx_walrus_thread_unguard() is not called first.
 */

void
ngx_walrus_thread_guard(ngx_http_request_t *r, ngx_event_t *ev)
{
    ngx_pool_cleanup_t  *cln;

    /*
     * a request that posts task after task (a streamed upload, a batch
     * at a time) has its cleanup already: only the timer again, so that
     * its pool does not grow with its body
     */

    if (ev->handler == ngx_walrus_thread_guard_handler && ev->data == r) {
        ngx_add_timer(ev, 60000);
        return;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        /* without the guard a shutdown may only cut the request short */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "walrus: no memory for the guard of a thread task");
        return;
    }

    cln->handler = ngx_walrus_thread_guard_cleanup;
    cln->data = ev;

    ev->handler = ngx_walrus_thread_guard_handler;
    ev->data = r;
    ev->log = r->connection->log;
    ngx_add_timer(ev, 60000);
}


void
ngx_walrus_thread_unguard(ngx_event_t *ev)
{
    if (ev->timer_set) {
        ngx_del_timer(ev);
    }
}


static void
ngx_walrus_thread_guard_handler(ngx_event_t *ev)
{
    ngx_http_request_t  *r = ev->data;

    ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                  "walrus: %V %V takes over a minute", &r->method_name,
                  &r->uri);

    ngx_add_timer(ev, 60000);
}


static void
ngx_walrus_thread_guard_cleanup(void *data)
{
    ngx_walrus_thread_unguard(data);
}
