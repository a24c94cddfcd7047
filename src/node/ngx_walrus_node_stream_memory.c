/*
 * The worker's memory for the batches of sliver uploads.  An upload holds
 * its batch (and the codec's parity cells) until it ends, a few MiB for
 * large segments: the uploads of a worker hold at most
 * walrus_node_upload_buffers together.  An upload that does not fit
 * waits, its body unread (its sender held back by TCP), in a queue, until
 * others end or its client_body_timeout passes (429 OVERLOADED).  One
 * upload always fits.
 */

#include <ngx_walrus_node.h>
#include <ngx_walrus_node_stream.h>
#include <ngx_walrus_buffer.h>


static void ngx_walrus_stream_wake(ngx_event_t *ev);
static void ngx_walrus_stream_hold(ngx_int_t bytes, ngx_int_t waiting);


/* the worker's uploads: the memory they hold, those waiting for some */
static size_t       ngx_walrus_stream_held;
static ngx_queue_t  ngx_walrus_stream_queue;


void
ngx_walrus_stream_reserve(ngx_http_request_t *r, ngx_walrus_stream_t *s,
    size_t need)
{
    ngx_http_core_loc_conf_t    *clcf;
    ngx_walrus_node_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_node_loc_conf(r);

    s->wait.handler = ngx_walrus_stream_wake;
    s->wait.data = r;
    s->wait.log = r->connection->log;

    if (ngx_walrus_stream_queue.next == NULL) {
        ngx_queue_init(&ngx_walrus_stream_queue);
    }

    /* in order: a large upload is not passed over by smaller ones */

    if (ngx_walrus_stream_held > 0
        && (ngx_walrus_stream_held + need > wlcf->upload_buffers
            || !ngx_queue_empty(&ngx_walrus_stream_queue)))
    {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "walrus: sliver upload waits for %uz bytes, %uz held",
                       need, ngx_walrus_stream_held);

        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        s->held = need;
        s->waiting = 1;
        ngx_queue_insert_tail(&ngx_walrus_stream_queue, &s->queue);
        ngx_walrus_stream_hold(0, 1);
        ngx_add_timer(&s->wait, clcf->client_body_timeout);
        return;
    }

    s->held = need;
    ngx_walrus_stream_hold(need, 0);

    if (ngx_walrus_stream_admit(r, s) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


/* a waiting upload's turn came (posted), or its deadline (the timer) */

static void
ngx_walrus_stream_wake(ngx_event_t *ev)
{
    ngx_connection_t     *c;
    ngx_http_request_t   *r;
    ngx_walrus_stream_t  *s;

    r = ev->data;
    c = r->connection;
    s = ngx_walrus_node_ctx(r)->put->stream;

    ngx_http_set_log_request(c->log, r);

    if (ev->timedout) {
        ev->timedout = 0;
        ngx_walrus_node_count(&ngx_walrus_node_loc_conf(r)->node_name,
                              NGX_WALRUS_NM_UPLOAD_WAITS_EXPIRED, 0, 1);
        ngx_walrus_stream_fail(r, s, NGX_HTTP_TOO_MANY_REQUESTS, "OVERLOADED",
                               "the node's upload buffers stayed busy, "
                               "retry later");

    } else if (ngx_walrus_stream_admit(r, s) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }

    ngx_http_run_posted_requests(c);
}


/*
 * The upload's memory goes back; waiting uploads that now fit get their
 * turn, in order, each in its own event.
 */

void
ngx_walrus_stream_release(ngx_walrus_stream_t *s)
{
    ngx_queue_t          *q;
    ngx_walrus_stream_t  *w;

    if (s->waiting) {
        ngx_queue_remove(&s->queue);
        ngx_walrus_stream_hold(0, -1);
        s->waiting = 0;
        s->held = 0;
    }

    if (s->wait.timer_set) {
        ngx_del_timer(&s->wait);
    }

    if (s->wait.posted) {
        ngx_delete_posted_event(&s->wait);
    }

    ngx_walrus_buffer_free(s->mem);
    ngx_walrus_buffer_free(s->scratch);
    s->mem = NULL;
    s->scratch = NULL;

    ngx_walrus_stream_hold(-(ngx_int_t) s->held, 0);
    s->held = 0;

    while (ngx_walrus_stream_queue.next != NULL
           && !ngx_queue_empty(&ngx_walrus_stream_queue))
    {
        q = ngx_queue_head(&ngx_walrus_stream_queue);
        w = ngx_queue_data(q, ngx_walrus_stream_t, queue);

        if (ngx_walrus_stream_held > 0
            && ngx_walrus_stream_held + w->held
               > ngx_walrus_node_loc_conf(w->put->request)->upload_buffers)
        {
            break;
        }

        ngx_queue_remove(q);
        w->waiting = 0;
        ngx_walrus_stream_hold(w->held, -1);

        if (w->wait.timer_set) {
            ngx_del_timer(&w->wait);
        }

        ngx_post_event(&w->wait, &ngx_posted_events);
    }
}


/* the memory held and the uploads waiting, counted for the metrics too */

static void
ngx_walrus_stream_hold(ngx_int_t bytes, ngx_int_t waiting)
{
    ngx_walrus_stream_held += bytes;

    ngx_walrus_metric_process_add(NGX_WALRUS_SCOPE_NODE,
                                  NGX_WALRUS_NM_UPLOAD_BUFFER_BYTES, bytes);
    ngx_walrus_metric_process_add(NGX_WALRUS_SCOPE_NODE,
                                  NGX_WALRUS_NM_UPLOADS_WAITING, waiting);
}
