/*
 * Sliver uploads, streamed.  The body is taken as it arrives into one of
 * the worker's spare buffers, a batch of segments at a time
 * (walrus_sliver_batch()).  Each full batch is verified against the
 * metadata and written to the sliver's temporary file in the thread pool,
 * past the page cache when the file system allows (walrus_spool.h);
 * meanwhile reading waits: nginx's body buffer fills and TCP holds the
 * sender back.  The last batch commits the file, stamped as verified.
 *
 * No byte goes through a body file: a node used to write each sliver into
 * the page cache as nginx's body file, read it back to verify it, and
 * flush it to disk; now it copies it once, from nginx's buffer into the
 * batch, and the disk takes it from there.  A byte is written only after
 * its batch verified, and nothing is stored unless all of them did.
 *
 * The steps, each a thread task of the request (ngx_walrus_thread.h):
 * OPEN checks the registration, loads the metadata, checks the declared
 * length and creates the temporary file; then the body is read, and each
 * BATCH is verified and written.
 *
 * An upload holds its batch until it ends: the worker's memory for them
 * is bounded (ngx_walrus_node_stream_memory.c).
 */

#include <ngx_walrus_node.h>
#include <ngx_walrus_node_store.h>
#include <ngx_walrus_node_stream.h>
#include <ngx_walrus_buffer.h>
#include <walrus_codec.h>
#include <walrus_sliver_file.h>
#include <walrus_spool.h>


static void ngx_walrus_stream_task(void *data, ngx_log_t *log);
static void ngx_walrus_stream_open(ngx_walrus_stream_t *s);
static void ngx_walrus_stream_batch(ngx_walrus_stream_t *s);
static void ngx_walrus_stream_resume(ngx_http_request_t *r);
static void ngx_walrus_stream_opened(ngx_http_request_t *r,
    ngx_walrus_stream_t *s);
static void ngx_walrus_stream_next(ngx_walrus_stream_t *s);
static void ngx_walrus_stream_body(ngx_http_request_t *r);
static void ngx_walrus_stream_read(ngx_http_request_t *r);
static void ngx_walrus_stream_take(ngx_http_request_t *r);
static ngx_int_t ngx_walrus_stream_post(ngx_http_request_t *r,
    ngx_walrus_stream_t *s);
static void ngx_walrus_stream_end(ngx_http_request_t *r,
    ngx_walrus_stream_t *s);
static void ngx_walrus_stream_stop(ngx_http_request_t *r,
    ngx_walrus_stream_t *s);
static void ngx_walrus_stream_cleanup(void *data);


ngx_int_t
ngx_walrus_node_stream(ngx_http_request_t *r, ngx_walrus_put_t *t)
{
    ngx_pool_cleanup_t          *cln;
    ngx_walrus_stream_t         *s;
    ngx_walrus_node_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_node_loc_conf(r);

    s = ngx_pcalloc(r->pool, sizeof(ngx_walrus_stream_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (s == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    s->put = t;
    t->stream = s;
    s->declared = r->headers_in.chunked ? -1
                                        : r->headers_in.content_length_n;
    s->direct = wlcf->direct_io ? 1 : 0;
    s->step = NGX_WALRUS_STREAM_OPEN;
    walrus_file_init(&s->file);

    cln->handler = ngx_walrus_stream_cleanup;
    cln->data = s;

    s->task = ngx_walrus_thread_task(r->pool, ngx_walrus_stream_task, s);
    if (s->task == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_walrus_thread_init(&t->thread, r, wlcf->thread_pool,
                           NGX_WALRUS_THREAD_JOIN);

    if (ngx_walrus_thread_post(&t->thread, s->task) != NGX_OK) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_walrus_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                     NGX_WALRUS_DOMAIN_NODE, "OVERLOADED",
                                     "the node is busy, retry later");
    }

    r->write_event_handler = ngx_walrus_stream_resume;
    ngx_walrus_thread_guard(r, &t->guard);

    /* the request lives on until the answer: ngx_walrus_put_respond() */
    r->main->count++;

    return NGX_DONE;
}


/* in a pool thread: system calls and the core library only */

static void
ngx_walrus_stream_task(void *data, ngx_log_t *log)
{
    ngx_walrus_stream_t  *s;

    s = data;

    if (s->step == NGX_WALRUS_STREAM_OPEN) {
        ngx_walrus_stream_open(s);

    } else {
        ngx_walrus_stream_batch(s);
    }
}


static void
ngx_walrus_stream_open(ngx_walrus_stream_t *s)
{
    ngx_walrus_put_t  *t;

    t = s->put;

    if (ngx_walrus_put_registered(t) != 0
        || ngx_walrus_put_load_metadata(t, &s->meta) != 0)
    {
        return;
    }

    s->meta_ready = 1;

    s->expect = walrus_sliver_file_size(&s->meta, t->route.axis);

    if (s->declared >= 0 && (uint64_t) s->declared != s->expect) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST,
                             "INVALID_SLIVER_SIZE", "the sliver has %lld "
                             "bytes, the metadata says %llu",
                             (long long) s->declared,
                             (unsigned long long) s->expect);
        return;
    }

    s->codec = walrus_codec_create(s->meta.params.n);
    if (s->codec == NULL) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                             "NO_MEMORY", "out of memory");
        return;
    }

    walrus_store_sliver_name(s->name, sizeof(s->name), t->route.pair,
                             t->route.axis == WALRUS_SECONDARY);

    if (walrus_store_open(&s->file, t->dir, s->name) != 0) {
        ngx_walrus_put_store_fail(t, "cannot create %s", s->name);
        return;
    }

    s->direct = s->direct && walrus_file_direct(s->file.fd, 1);
}


/* the batch in the spool: verified, written, and the last one committed */

static void
ngx_walrus_stream_batch(ngx_walrus_stream_t *s)
{
    int                rc;
    char               path[WALRUS_PATH_MAX];
    uint64_t           bad;
    ngx_walrus_put_t  *t;

    t = s->put;

    rc = walrus_sliver_batch_verify(s->codec, &s->meta, t->route.pair,
                                    t->route.axis, s->seg, s->count,
                                    walrus_spool_batch(&s->spool), &bad);

    if (rc == WALRUS_ENOMEM) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                             "NO_MEMORY", "out of memory");
        return;
    }

    if (rc != WALRUS_OK) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST, "INVALID_SLIVER",
                             "segment %llu of the sliver does not match the "
                             "metadata: %s", (unsigned long long) bad,
                             walrus_strerror(rc));
        return;
    }

    if (walrus_spool_write(&s->spool, s->want, s->last) != 0) {
        ngx_walrus_put_store_fail(t, "cannot write %s", s->name);
        return;
    }

    if (!s->last) {
        return;
    }

    /*
     * a copy stamped as verified is kept; one written since it was
     * verified, which may have rotted, is replaced by this verified one
     */

    if (walrus_store_path(path, t->dir, s->name) == 0
        && walrus_store_state(path) == 1)
    {
        t->res.status = NGX_HTTP_OK;
        t->res.reason = "sliver";
        return;
    }

    if (walrus_store_commit(&s->file) != 0) {
        ngx_walrus_put_store_fail(t, "cannot store %s", s->name);
        return;
    }

    t->res.status = NGX_HTTP_CREATED;
    t->res.reason = "sliver";
}


/* in the worker, after each task */

static void
ngx_walrus_stream_resume(ngx_http_request_t *r)
{
    ngx_walrus_put_t     *t;
    ngx_walrus_stream_t  *s;

    t = ngx_walrus_node_ctx(r)->put;
    s = t->stream;

    /*
     * a write event of the connection (epoll reports it with the client's
     * next bytes) runs this handler too: only the task's end goes on
     */

    if (t->thread.running > 0) {
        return;
    }

    ngx_walrus_thread_unguard(&t->guard);
    r->write_event_handler = ngx_http_request_empty_handler;

    if (t->res.status != 0) {
        /* a failure, or the last batch stored */
        ngx_walrus_stream_end(r, s);
        return;
    }

    if (s->step == NGX_WALRUS_STREAM_OPEN) {
        ngx_walrus_stream_opened(r, s);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: sliver segments %uL-%uL stored",
                   s->seg, s->seg + s->count - 1);

    s->seg += s->count;
    ngx_walrus_stream_next(s);

    ngx_walrus_stream_take(r);
}


/* the file is open: the batch's size, then the upload's memory */

static void
ngx_walrus_stream_opened(ngx_http_request_t *r, ngx_walrus_stream_t *s)
{
    size_t         sym;
    walrus_axis_e  axis;

    axis = s->put->route.axis;

    /* the first batch is the largest: full segments */

    s->room = walrus_sliver_batch(&s->meta, axis, 0)
              * walrus_sliver_slice_size(&s->meta, axis, 0);
    sym = walrus_symbol_size(&s->meta.params,
                             walrus_segment_length(s->meta.length,
                                                   s->meta.segment_size, 0));
    s->scratch_size = walrus_slivers_scratch(&s->meta.params, axis, sym,
                                             walrus_sliver_batch(&s->meta,
                                                                 axis, 0));
    s->step = NGX_WALRUS_STREAM_BATCH;

    ngx_walrus_stream_reserve(r, s,
                              walrus_spool_size(s->room) + s->scratch_size);
}


/* the upload's turn (its memory counted in): the batch, then the body */

ngx_int_t
ngx_walrus_stream_admit(ngx_http_request_t *r, ngx_walrus_stream_t *s)
{
    ngx_int_t  rc;

    s->mem = ngx_walrus_buffer_alloc(walrus_spool_size(s->room),
                                     r->connection->log);
    s->scratch = ngx_walrus_buffer_alloc(s->scratch_size,
                                         r->connection->log);

    if (s->mem == NULL || s->scratch == NULL) {
        return NGX_ERROR;
    }

    walrus_codec_lend(s->codec, s->scratch, s->scratch_size);
    walrus_spool_init(&s->spool, s->mem, s->room, s->file.fd, s->direct);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: sliver %s of %uL segments streamed, direct I/O "
                   "%s, batches of %uz bytes", s->name, s->meta.nsegments,
                   s->direct ? "on" : "off", s->room);

    s->seg = 0;
    ngx_walrus_stream_next(s);

    r->request_body_no_buffering = 1;

    rc = ngx_http_read_client_request_body(r, ngx_walrus_stream_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_http_finalize_request(r, rc);
        return NGX_OK;
    }

    /* the reference the read took is the body's, as a handler's NGX_DONE */
    ngx_http_finalize_request(r, NGX_DONE);

    return NGX_OK;
}


static void
ngx_walrus_stream_next(ngx_walrus_stream_t *s)
{
    walrus_axis_e  axis;

    axis = s->put->route.axis;

    s->count = walrus_sliver_batch(&s->meta, axis, s->seg);
    s->want = s->count * walrus_sliver_slice_size(&s->meta, axis, s->seg);
    s->filled = 0;
    s->last = s->seg + s->count == s->meta.nsegments;
}


/* the body's post handler: called once, early (unbuffered reading) */

static void
ngx_walrus_stream_body(ngx_http_request_t *r)
{
    r->read_event_handler = ngx_walrus_stream_read;

    ngx_walrus_stream_take(r);
}


static void
ngx_walrus_stream_read(ngx_http_request_t *r)
{
    ngx_walrus_put_t  *t;

    t = ngx_walrus_node_ctx(r)->put;

    if (t->thread.running > 0 || t->stream->ended) {
        /* the batch is being stored: the data waits in the socket */
        return;
    }

    ngx_walrus_stream_take(r);
}


/*
 * Takes body bytes into the batch until it is full, reading more as it
 * arrives; a full batch goes to the thread pool.
 */

static void
ngx_walrus_stream_take(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_walrus_put_t         *t;
    ngx_walrus_stream_t      *s;
    ngx_http_request_body_t  *rb;

    t = ngx_walrus_node_ctx(r)->put;
    s = t->stream;
    rb = r->request_body;

    if (s->ended) {
        return;
    }

    for ( ;; ) {
        if (ngx_walrus_stream_copy(s) != NGX_OK) {
            ngx_walrus_stream_stop(r, s);
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        /* a chunked body's length is known only at its end */

        if (s->last && s->filled == s->want && s->pending != NULL) {
            ngx_walrus_stream_fail(r, s, NGX_HTTP_BAD_REQUEST,
                                   "INVALID_SLIVER_SIZE", "the body is "
                                   "longer than the sliver's %llu bytes",
                                   (unsigned long long) s->expect);
            return;
        }

        if (s->filled == s->want && (!s->last || !r->reading_body)) {
            if (ngx_walrus_stream_post(r, s) != NGX_OK) {
                ngx_walrus_stream_fail(r, s, NGX_HTTP_TOO_MANY_REQUESTS,
                                       "OVERLOADED",
                                       "the node is busy, retry later");
            }

            return;
        }

        if (!r->reading_body) {
            ngx_walrus_stream_fail(r, s, NGX_HTTP_BAD_REQUEST,
                                   "INVALID_SLIVER_SIZE", "the body ended "
                                   "after %llu bytes, the sliver has %llu",
                                   (unsigned long long) s->received,
                                   (unsigned long long) s->expect);
            return;
        }

        ngx_walrus_stream_aim(r, s);

        rc = ngx_http_read_unbuffered_request_body(r);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            ngx_walrus_stream_stop(r, s);
            ngx_http_finalize_request(r, rc);
            return;
        }

        if (rb->bufs == NULL && r->reading_body) {
            /* more comes with a read event */
            return;
        }
    }
}


static ngx_int_t
ngx_walrus_stream_post(ngx_http_request_t *r, ngx_walrus_stream_t *s)
{
    ngx_connection_t  *c;
    ngx_walrus_put_t  *t;

    t = s->put;
    c = r->connection;

    ngx_walrus_stream_unaim(r, s);

    if (ngx_walrus_thread_post(&t->thread, s->task) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the wait is the task's now, not the client's */

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    r->write_event_handler = ngx_walrus_stream_resume;
    ngx_walrus_thread_guard(r, &t->guard);

    return NGX_OK;
}


void
ngx_walrus_stream_fail(ngx_http_request_t *r, ngx_walrus_stream_t *s,
    ngx_uint_t status, const char *reason, const char *fmt, ...)
{
    va_list            args;
    ngx_walrus_put_t  *t;

    t = s->put;

    t->res.status = status;
    t->res.reason = reason;

    va_start(args, fmt);
    (void) vsnprintf(t->res.message, sizeof(t->res.message), fmt, args);
    va_end(args);

    ngx_walrus_stream_end(r, s);
}


/* answers t->res; a body not read yet goes first */

static void
ngx_walrus_stream_end(ngx_http_request_t *r, ngx_walrus_stream_t *s)
{
    ngx_walrus_stream_stop(r, s);

    if (r->request_body == NULL) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

    } else if (r->reading_body) {
        /*
         * the rest of the body is not read: the answer says the
         * connection ends with it (nginx then lingers on the close)
         */
        r->keepalive = 0;
    }

    ngx_walrus_put_respond(r);
}


/*
 * The upload takes no more of the body, whatever events come before the
 * request ends (an answer still being sent, a lingering close): its
 * memory goes back now.
 */

static void
ngx_walrus_stream_stop(ngx_http_request_t *r, ngx_walrus_stream_t *s)
{
    s->ended = 1;
    r->read_event_handler = ngx_http_block_reading;

    ngx_walrus_stream_unaim(r, s);
    ngx_walrus_stream_release(s);
}


/* with the request: no task runs any more */

static void
ngx_walrus_stream_cleanup(void *data)
{
    ngx_walrus_stream_t  *s = data;

    walrus_file_abort(&s->file);
    walrus_codec_destroy(s->codec);

    if (s->meta_ready) {
        walrus_metadata_free(&s->meta);
    }

    ngx_walrus_stream_release(s);
}
