/*
 * CPU-heavy work of a request in an nginx thread pool.
 */

#include <ngx_walrus.h>


static void ngx_walrus_thread_resume(ngx_event_t *ev);
static void ngx_walrus_thread_guard_handler(ngx_event_t *ev);
static void ngx_walrus_thread_guard_cleanup(void *data);


/*
 * Posts the task; the request is blocked (it cannot be freed) until the
 * task is done, then its write event handler runs: after a client abort
 * that is nginx's finalizer, otherwise the caller's continuation.
 */

ngx_int_t
ngx_walrus_thread_post(ngx_http_request_t *r, ngx_thread_pool_t *tp,
    ngx_thread_task_t *task)
{
    task->event.data = r;
    task->event.handler = ngx_walrus_thread_resume;

    if (ngx_thread_task_post(tp, task) != NGX_OK) {
        return NGX_ERROR;
    }

    r->main->blocked++;
    r->aio = 1;

    return NGX_OK;
}


static void
ngx_walrus_thread_resume(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ev->data;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    r->main->blocked--;
    r->aio = 0;

    r->write_event_handler(r);
    ngx_http_run_posted_requests(c);
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
