/*
 * CPU-heavy work of a request in an nginx thread pool.
 */

#include <ngx_walrus.h>


static void ngx_walrus_thread_resume(ngx_event_t *ev);


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
