/*
 * The body of a streamed sliver upload into its batch: nginx reads it
 * into the batch itself when it can, or its buffers are copied there.
 */

#include <ngx_walrus_node.h>
#include <ngx_walrus_node_stream.h>


/*
 * nginx reads the body into its buffer, whose bytes the length filter has
 * all passed on when a read returns: before the next read the buffer is
 * the batch's free room, so that the bytes arrive where they belong and
 * are not copied.  Not for a chunked body (its framing is in the buffer)
 * nor HTTP/2 (whose streams fill the buffer their own way).
 */

void
ngx_walrus_stream_aim(ngx_http_request_t *r, ngx_walrus_stream_t *s)
{
    u_char                   *batch;
    ngx_buf_t                *b;
    ngx_http_request_body_t  *rb;

    rb = r->request_body;
    b = rb->buf;

    if (b == NULL || b->pos != b->last || r->headers_in.chunked) {
        return;
    }

    /* a full batch waits for the body's end: nginx reads into its own */

    if (s->filled >= s->want) {
        ngx_walrus_stream_unaim(r, s);
        return;
    }

#if (NGX_HTTP_V2)
    if (r->stream != NULL) {
        return;
    }
#endif

    if (s->buf_start == NULL) {
        s->buf_start = b->start;
        s->buf_end = b->end;
    }

    batch = walrus_spool_batch(&s->spool);

    b->start = batch + s->filled;
    b->pos = b->start;
    b->last = b->start;
    b->end = batch + s->want;
}


/*
 * nginx's buffer is its own again: while a task has the batch (no read
 * of nginx may write there), and when the batch's memory goes
 */

void
ngx_walrus_stream_unaim(ngx_http_request_t *r, ngx_walrus_stream_t *s)
{
    ngx_buf_t  *b;

    if (s->buf_start == NULL) {
        return;
    }

    b = r->request_body->buf;
    b->start = s->buf_start;
    b->end = s->buf_end;
    b->pos = b->start;
    b->last = b->start;
    s->buf_start = NULL;
}


/* moves the body's new buffers to the pending ones, and copies them */

ngx_int_t
ngx_walrus_stream_copy(ngx_walrus_stream_t *s)
{
    size_t                    n;
    u_char                   *batch;
    ngx_buf_t                *b;
    ngx_chain_t              *cl, **ll;
    ngx_http_request_body_t  *rb;

    rb = s->put->request->request_body;

    for (ll = &s->pending; *ll != NULL; ll = &(*ll)->next) {
        /* void */
    }

    *ll = rb->bufs;
    rb->bufs = NULL;

    batch = walrus_spool_batch(&s->spool);

    while (s->pending != NULL && s->filled < s->want) {
        cl = s->pending;
        b = cl->buf;

        if (ngx_buf_special(b)) {
            /* the body's end mark */
            s->pending = cl->next;
            continue;
        }

        if (!ngx_buf_in_memory(b)) {
            /* unbuffered reading gives memory only */
            return NGX_ERROR;
        }

        n = ngx_min((size_t) (b->last - b->pos), s->want - s->filled);

        /* read into the batch where they belong: ngx_walrus_stream_aim() */

        if (b->pos != batch + s->filled) {
            ngx_memcpy(batch + s->filled, b->pos, n);
        }

        b->pos += n;
        s->filled += n;
        s->received += n;

        if (b->pos == b->last) {
            s->pending = cl->next;
        }
    }

    /* empty buffers (the last one's mark) are not the sliver's bytes */

    while (s->pending != NULL && s->pending->buf->pos == s->pending->buf->last)
    {
        s->pending = s->pending->next;
    }

    return NGX_OK;
}
