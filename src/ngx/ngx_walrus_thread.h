/*
 * CPU-heavy or blocking work of a request in an nginx thread pool: the
 * one way the module runs thread work.
 *
 * A task handler runs in a pool thread: system calls and the core library
 * only (no nginx API, no pool, no logging).  While a task runs the main
 * request is blocked (r->main->blocked), so that it cannot be freed under
 * the task.  When a task is done, in the worker: the group's done
 * callback, if any, applies the task's result, then the request resumes:
 * its write event handler runs (after a client abort that is nginx's
 * finalizer, otherwise the caller's continuation), then the posted
 * subrequests.
 *
 * A group (ngx_walrus_thread_t) is the tasks of one request posted the
 * same way; it lives as long as the request (in its context).
 *
 *   NGX_WALRUS_THREAD_JOIN   r->aio is set while any task of the group
 *                            runs, and the request resumes once, after
 *                            the last.  One task is the plain post (node
 *                            uploads and verification); several are
 *                            counted parts (the encoder's parts).
 *
 *   NGX_WALRUS_THREAD_EACH   r->aio is left alone and the request resumes
 *                            at the end of every task.  For a request
 *                            that goes on sending output while tasks run:
 *                            r->aio would stop nginx's copy filter.
 *
 * The gateway's segment decode (read_decode.c) is the EACH kind: a read
 * keeps one group, set up at its first decode with
 *
 *     ngx_walrus_thread_init(&ctx->decode, r, wlcf->thread_pool,
 *                            NGX_WALRUS_THREAD_EACH);
 *     ctx->decode.done = ngx_walrus_decode_done;
 *
 * and per segment posts the window slot's task (allocated once with
 * ngx_thread_task_alloc(r->pool, sizeof(ngx_walrus_decode_t)), its
 * handler ngx_walrus_decode_thread) with
 *
 *     if (ngx_walrus_thread_post(&ctx->decode, task) != NGX_OK) {
 *         ... 429 OVERLOADED, or an abort after the header ...
 *     }
 *     seg->working = 1;
 *
 * The done callback gets the task: task->ctx is the ngx_walrus_decode_t,
 * whose segment it marks not working and applies the verdicts and the
 * result to (ngx_walrus_decode_apply) before the read's write handler
 * sends what is decoded.
 */

#ifndef _NGX_WALRUS_THREAD_H_INCLUDED_
#define _NGX_WALRUS_THREAD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_thread_pool.h>


typedef enum {
    NGX_WALRUS_THREAD_JOIN = 0,
    NGX_WALRUS_THREAD_EACH
} ngx_walrus_thread_mode_e;


typedef struct ngx_walrus_thread_s  ngx_walrus_thread_t;

/* in the worker when a task of th is done, before the request goes on */
typedef void (*ngx_walrus_thread_done_pt)(ngx_walrus_thread_t *th,
    ngx_thread_task_t *task);

/* in a pool thread: system calls and the core library only */
typedef void (*ngx_walrus_thread_handler_pt)(void *data, ngx_log_t *log);


struct ngx_walrus_thread_s {
    ngx_http_request_t         *request;
    ngx_thread_pool_t          *pool;
    ngx_walrus_thread_done_pt   done;       /* or NULL */
    void                       *data;       /* the caller's, for done */
    ngx_uint_t                  running;    /* tasks posted, not done */
    ngx_walrus_thread_mode_e    mode;
    ngx_http_event_handler_pt   resume;     /* ngx_walrus_thread_hold() */
};


void ngx_walrus_thread_init(ngx_walrus_thread_t *th, ngx_http_request_t *r,
    ngx_thread_pool_t *tp, ngx_walrus_thread_mode_e mode);

/*
 * A task of pool that runs handler(data, log): data is the caller's and
 * must outlive the task.  NULL when out of memory.
 */
ngx_thread_task_t *ngx_walrus_thread_task(ngx_pool_t *pool,
    ngx_walrus_thread_handler_pt handler, void *data);

/*
 * Posts a task of th; its event belongs to th from now on.  NGX_ERROR
 * when the pool's queue is full: nothing was posted.
 */
ngx_int_t ngx_walrus_thread_post(ngx_walrus_thread_t *th,
    ngx_thread_task_t *task);

/*
 * The continuation of a JOIN group, run when its last task is done and
 * not before: until then the request's write events (epoll reports one
 * with any event of the connection, a client's half-close for one) are
 * ignored.  Call it after the post.
 */
void ngx_walrus_thread_hold(ngx_walrus_thread_t *th,
    ngx_http_event_handler_pt resume);

/* a timer that holds a worker's shutdown while a task runs; warns */
void ngx_walrus_thread_guard(ngx_http_request_t *r, ngx_event_t *ev);
void ngx_walrus_thread_unguard(ngx_event_t *ev);


#endif /* _NGX_WALRUS_THREAD_H_INCLUDED_ */
