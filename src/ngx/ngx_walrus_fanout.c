/*
 * Gateway to node requests: background subrequests, their arenas and
 * their ends (the capture of their answers is the filter module's,
 * ngx_walrus_fanout_module.c).
 */

#include <ngx_walrus_fanout.h>
#include <ngx_walrus_body.h>
#include <ngx_walrus_buffer.h>


static ngx_walrus_call_t *ngx_walrus_fanout_add(ngx_http_request_t *r,
    ngx_walrus_fanout_t *fo, ngx_walrus_arena_t *arena, ngx_str_t *prefix,
    const char *name, ngx_uint_t node, ngx_uint_t method, ngx_str_t *uri,
    ngx_chain_t *body, size_t body_max, ngx_uint_t local);
static ngx_int_t ngx_walrus_fanout_start(ngx_http_request_t *r,
    ngx_walrus_call_t *call);
static ngx_uint_t ngx_walrus_fanout_stale(ngx_http_request_t *sr,
    ngx_walrus_call_t *call, ngx_int_t rc);
static ngx_int_t ngx_walrus_fanout_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc);
static void ngx_walrus_call_cleanup(void *data);
static ngx_uint_t ngx_walrus_arena_closed(ngx_walrus_arena_t *arena);


/* a stale connection fails at once; each retry may meet another one */
#define NGX_WALRUS_STALE_RETRIES  8


static ngx_str_t  ngx_walrus_get = ngx_string("GET");
static ngx_str_t  ngx_walrus_put = ngx_string("PUT");
static ngx_str_t  ngx_walrus_head = ngx_string("HEAD");


void
ngx_walrus_fanout_init(ngx_walrus_fanout_t *fo, ngx_str_t *node_location)
{
    fo->node_location = node_location;
    ngx_queue_init(&fo->done);
    ngx_queue_init(&fo->arenas);
    ngx_queue_init(&fo->running);
    fo->active = 0;
    fo->closed = 0;
}


ngx_walrus_call_t *
ngx_walrus_fanout_call(ngx_http_request_t *r, ngx_walrus_fanout_t *fo,
    ngx_walrus_arena_t *arena, ngx_uint_t node, ngx_uint_t method,
    const char *id_text, const char *path, ngx_chain_t *body,
    size_t body_max)
{
    u_char     buf[sizeof("/v1/blobs//") + WALRUS_BLOB_ID_TEXT_LEN + 64];
    ngx_str_t  uri;

    uri.data = buf;
    uri.len = ngx_snprintf(buf, sizeof(buf), "/v1/blobs/%s/%s", id_text,
                           path)
              - buf;

    return ngx_walrus_fanout_call_uri(r, fo, arena, node, method, &uri, body,
                                      body_max);
}


ngx_walrus_call_t *
ngx_walrus_fanout_call_uri(ngx_http_request_t *r, ngx_walrus_fanout_t *fo,
    ngx_walrus_arena_t *arena, ngx_uint_t node, ngx_uint_t method,
    ngx_str_t *uri, ngx_chain_t *body, size_t body_max)
{
    ngx_walrus_main_conf_t  *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);

    return ngx_walrus_fanout_call_to(r, fo, arena,
                                     wmcf->committee->nodes[node].name, node,
                                     method, uri, body, body_max);
}


/*
 * A call to the node called name, which may be a node of an earlier
 * epoch's committee (the old owner of a shard); node is the caller's tag
 * for it.  The name is the upstream's, as in the current committee.
 */

ngx_walrus_call_t *
ngx_walrus_fanout_call_to(ngx_http_request_t *r, ngx_walrus_fanout_t *fo,
    ngx_walrus_arena_t *arena, const char *name, ngx_uint_t node,
    ngx_uint_t method, ngx_str_t *uri, ngx_chain_t *body, size_t body_max)
{
    return ngx_walrus_fanout_add(r, fo, arena, fo->node_location, name, node,
                                 method, uri, body, body_max, 0);
}


/*
 * A call to a route of the request's own location (the gateway's): the
 * subrequest is a clone of r with the URI `uri`, captured like a node's
 * answer; it is never sent again.
 */

ngx_walrus_call_t *
ngx_walrus_fanout_call_local(ngx_http_request_t *r, ngx_walrus_fanout_t *fo,
    ngx_uint_t method, ngx_str_t *uri, size_t body_max)
{
    return ngx_walrus_fanout_add(r, fo, NULL, uri, "", 0, method, uri, NULL,
                                 body_max, 1);
}


/* the call to location prefix + name, URI uri */

static ngx_walrus_call_t *
ngx_walrus_fanout_add(ngx_http_request_t *r, ngx_walrus_fanout_t *fo,
    ngx_walrus_arena_t *arena, ngx_str_t *prefix, const char *name,
    ngx_uint_t node, ngx_uint_t method, ngx_str_t *uri, ngx_chain_t *body,
    size_t body_max, ngx_uint_t local)
{
    u_char              *p;
    size_t               len;
    ngx_pool_t          *pool;
    ngx_walrus_call_t   *call;
    ngx_pool_cleanup_t  *cln;

    pool = arena != NULL ? arena->pool : r->pool;
    len = ngx_strlen(name);

    call = ngx_pcalloc(pool, sizeof(ngx_walrus_call_t));
    if (call == NULL) {
        return NULL;
    }

    call->location.data = ngx_pnalloc(pool, prefix->len + len);
    call->node_uri.data = ngx_pnalloc(pool, uri->len);
    if (call->location.data == NULL || call->node_uri.data == NULL) {
        return NULL;
    }

    p = ngx_cpymem(call->location.data, prefix->data, prefix->len);
    p = ngx_cpymem(p, name, len);
    call->location.len = p - call->location.data;

    ngx_memcpy(call->node_uri.data, uri->data, uri->len);
    call->node_uri.len = uri->len;
    call->fanout = fo;
    call->pool = pool;
    call->arena = arena;
    call->node = node;
    call->name = name;
    call->start = ngx_current_msec;
    call->method = method;
    call->request_body = body;
    call->body_max = body_max;
    call->local = local;

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_walrus_call_cleanup;
    cln->data = call;

    if (ngx_walrus_fanout_start(r, call) != NGX_OK) {
        return NULL;
    }

    fo->active++;
    ngx_queue_insert_tail(&fo->running, &call->running);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: %s %V%V",
                   method == NGX_HTTP_PUT ? "PUT"
                   : method == NGX_HTTP_HEAD ? "HEAD" : "GET",
                   &call->location, &call->node_uri);

    if (arena != NULL) {
        ngx_queue_insert_tail(&arena->calls, &call->link);
    }

    return call;
}


/* a subrequest for the call: it fails only before one is made */

static ngx_int_t
ngx_walrus_fanout_start(ngx_http_request_t *r, ngx_walrus_call_t *call)
{
    size_t                        vars;
    ngx_int_t                     rc;
    ngx_pool_t                   *parent_pool;
    ngx_http_request_t           *sr;
    ngx_http_request_body_t      *rb;
    ngx_http_variable_value_t    *values;
    ngx_http_core_main_conf_t    *cmcf;
    ngx_http_post_subrequest_t   *ps;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);
    vars = cmcf->variables.nelts * sizeof(ngx_http_variable_value_t);

    ps = ngx_palloc(call->pool, sizeof(ngx_http_post_subrequest_t));
    rb = ngx_pcalloc(call->pool, sizeof(ngx_http_request_body_t));
    values = call->arena != NULL ? ngx_palloc(call->pool, vars) : NULL;

    if (ps == NULL || rb == NULL || (call->arena != NULL && values == NULL)) {
        return NGX_ERROR;
    }

    ps->handler = ngx_walrus_fanout_done;
    ps->data = call;

    /* nginx allocates a subrequest and all it uses in its parent's pool */

    parent_pool = r->pool;
    r->pool = call->pool;

    rc = ngx_http_subrequest(r, &call->location, NULL, &sr, ps,
                             NGX_HTTP_SUBREQUEST_BACKGROUND
                             | (call->local ? NGX_HTTP_SUBREQUEST_CLONE : 0));

    r->pool = parent_pool;

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    call->request = sr;
    ngx_http_set_ctx(sr, call, ngx_http_walrus_fanout_module);

    /*
     * A subrequest in an arena starts with the values its parent has
     * computed; what it computes itself points into the arena, so it
     * stays out of the parent's, which outlives the arena.
     */

    if (values != NULL) {
        ngx_memcpy(values, r->variables, vars);
        sr->variables = values;
    }

    /* the subrequest shares the client's headers: set its own body */

    sr->request_body = rb;
    sr->headers_in.chunked = 0;
    sr->headers_in.content_length = NULL;
    sr->headers_in.transfer_encoding = NULL;

    if (call->local) {
        /* the client's Range and conditions are for the caller's answer */
        ngx_walrus_fanout_unconditional(sr);
    }

    if (call->method == NGX_HTTP_PUT) {
        sr->method = NGX_HTTP_PUT;
        sr->method_name = ngx_walrus_put;

    } else if (call->method == NGX_HTTP_HEAD) {
        sr->method = NGX_HTTP_HEAD;
        sr->method_name = ngx_walrus_head;

    } else {
        sr->method = NGX_HTTP_GET;
        sr->method_name = ngx_walrus_get;
    }

    if (call->request_body == NULL) {
        sr->headers_in.content_length_n = call->method == NGX_HTTP_PUT
                                          ? 0 : -1;
        return NGX_OK;
    }

    rb->bufs = call->request_body;
    sr->headers_in.content_length_n =
                                ngx_walrus_body_length(call->request_body);

    return NGX_OK;
}


void
ngx_walrus_fanout_unconditional(ngx_http_request_t *sr)
{
    sr->headers_in.range = NULL;
    sr->headers_in.if_range = NULL;
    sr->headers_in.if_match = NULL;
    sr->headers_in.if_none_match = NULL;
    sr->headers_in.if_modified_since = NULL;
    sr->headers_in.if_unmodified_since = NULL;
}


void
ngx_walrus_fanout_cancel(ngx_walrus_call_t *call)
{
    ngx_http_upstream_t  *u;

    ngx_walrus_call_release(call);

    if (call->queued) {
        ngx_queue_remove(&call->queue);
        call->queued = 0;
    }

    if (call->done) {
        return;
    }

    call->done = 1;
    call->fanout->active--;
    ngx_queue_remove(&call->running);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, call->request->connection->log, 0,
                   "walrus: cancel %V %V", &call->location, &call->node_uri);

    /*
     * The upstream's own cleanup closes the node connection and finalizes
     * the subrequest; a subrequest that has not reached its upstream yet
     * runs to its end, its answer dropped.
     */

    u = call->request->upstream;

    if (u != NULL && u->cleanup != NULL && *u->cleanup != NULL) {
        (*u->cleanup)(call->request);
        call->closed = 1;
    }
}


void
ngx_walrus_fanout_cancel_all(ngx_walrus_fanout_t *fo)
{
    ngx_walrus_call_t  *call;

    while (!ngx_queue_empty(&fo->running)) {
        call = ngx_queue_data(ngx_queue_head(&fo->running), ngx_walrus_call_t,
                              running);
        ngx_walrus_fanout_cancel(call);
    }
}


static void
ngx_walrus_call_cleanup(void *data)
{
    ngx_walrus_call_release(data);
}


void
ngx_walrus_call_release(ngx_walrus_call_t *call)
{
    ngx_walrus_buffer_free(call->body);
    call->body = NULL;
    call->body_size = 0;
    call->body_len = 0;

    /* a straggler's late bytes are dropped, not captured again */
    call->body_max = 0;
}


ngx_walrus_call_t *
ngx_walrus_fanout_next(ngx_walrus_fanout_t *fo)
{
    ngx_queue_t        *q;
    ngx_walrus_call_t  *call;

    if (ngx_queue_empty(&fo->done)) {
        return NULL;
    }

    q = ngx_queue_head(&fo->done);
    ngx_queue_remove(q);

    call = ngx_queue_data(q, ngx_walrus_call_t, queue);
    call->queued = 0;

    return call;
}


ngx_walrus_arena_t *
ngx_walrus_arena_create(ngx_walrus_fanout_t *fo, ngx_log_t *log)
{
    ngx_pool_t          *pool;
    ngx_walrus_arena_t  *arena;

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);
    if (pool == NULL) {
        return NULL;
    }

    arena = ngx_palloc(pool, sizeof(ngx_walrus_arena_t));
    if (arena == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    arena->pool = pool;
    arena->retired = 0;
    ngx_queue_init(&arena->calls);
    ngx_queue_insert_tail(&fo->arenas, &arena->link);

    return arena;
}


void
ngx_walrus_arena_retire(ngx_http_request_t *r, ngx_walrus_fanout_t *fo,
    ngx_walrus_arena_t *arena)
{
    arena->retired = 1;
    ngx_walrus_fanout_sweep(r, fo);
}


void
ngx_walrus_fanout_sweep(ngx_http_request_t *r, ngx_walrus_fanout_t *fo)
{
    ngx_queue_t         *q, *next;
    ngx_walrus_arena_t  *arena;

    for (q = ngx_queue_head(&fo->arenas);
         q != ngx_queue_sentinel(&fo->arenas);
         q = next)
    {
        next = ngx_queue_next(q);
        arena = ngx_queue_data(q, ngx_walrus_arena_t, link);

        if (!arena->retired || !ngx_walrus_arena_closed(arena)) {
            continue;
        }

        /* the log must not name a subrequest that is about to go */
        ngx_http_set_log_request(r->connection->log, r->main);

        ngx_queue_remove(q);
        ngx_destroy_pool(arena->pool);
    }
}


/*
 * nginx is done with a background subrequest once it is marked done (it
 * is closed in the same call) or its upstream was torn down by a cancel.
 */

static ngx_uint_t
ngx_walrus_arena_closed(ngx_walrus_arena_t *arena)
{
    ngx_queue_t        *q;
    ngx_walrus_call_t  *call;

    for (q = ngx_queue_head(&arena->calls);
         q != ngx_queue_sentinel(&arena->calls);
         q = ngx_queue_next(q))
    {
        call = ngx_queue_data(q, ngx_walrus_call_t, link);

        if (!call->closed && !call->request->done) {
            return 0;
        }
    }

    return 1;
}


void
ngx_walrus_fanout_free(ngx_walrus_fanout_t *fo)
{
    ngx_queue_t         *q;
    ngx_walrus_arena_t  *arena;

    while (!ngx_queue_empty(&fo->arenas)) {
        q = ngx_queue_head(&fo->arenas);
        ngx_queue_remove(q);

        arena = ngx_queue_data(q, ngx_walrus_arena_t, link);
        ngx_destroy_pool(arena->pool);
    }
}


/* may run more than once per subrequest: only the first run counts */

static ngx_int_t
ngx_walrus_fanout_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_walrus_call_t  *call = data;
    ngx_walrus_call_t  *ghost;

    if (call->done) {
        return rc;
    }

    if (ngx_walrus_fanout_stale(sr, call, rc)) {
        ngx_log_error(NGX_LOG_INFO, sr->connection->log, 0,
                      "walrus: %V closed a kept-alive connection before "
                      "answering; sending the request again",
                      &call->location);

        /*
         * The old subrequest ends on its own: what it still outputs (an
         * error page) goes to a capture of nothing, so that nginx has no
         * output of it to wait for.
         */

        ghost = ngx_palloc(call->pool, sizeof(ngx_walrus_call_t));
        if (ghost == NULL) {
            goto done;
        }

        *ghost = *call;
        ghost->body = NULL;
        ghost->body_size = 0;
        ghost->body_len = 0;
        ghost->body_max = 0;

        sr->post_subrequest = NULL;
        ngx_http_set_ctx(sr, ghost, ngx_http_walrus_fanout_module);
        call->retries++;

        if (ngx_walrus_fanout_start(sr->parent, call) == NGX_OK) {
            return rc;
        }

        call->request = sr;
    }

done:

    call->done = 1;
    call->fanout->active--;
    ngx_queue_remove(&call->running);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, sr->connection->log, 0,
                   "walrus: %V%V done: rc %i, status %ui", &call->location,
                   &call->node_uri, rc, sr->headers_out.status);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE || rc == NGX_ERROR) {
        call->status = rc == NGX_ERROR ? NGX_HTTP_BAD_GATEWAY : (ngx_uint_t) rc;

    } else if (call->status == 0) {
        call->status = sr->headers_out.status ? sr->headers_out.status
                                              : NGX_HTTP_BAD_GATEWAY;
    }

    if (call->fanout->closed) {
        return rc;
    }

    ngx_queue_insert_tail(&call->fanout->done, &call->queue);
    call->queued = 1;

    /* the caller: the main request, or a subrequest reading a blob (quilt
     * and concat reads) */

    return ngx_http_post_request(sr->parent, NULL) == NGX_OK ? rc : NGX_ERROR;
}


/*
 * The node closed the kept-alive connection the request went on before
 * it answered anything (its keepalive_timeout, a reload): nginx does not
 * send the request again with proxy_next_upstream off, which must stay
 * off because nginx would resend a body made of file ranges wrongly.
 */

static ngx_uint_t
ngx_walrus_fanout_stale(ngx_http_request_t *sr, ngx_walrus_call_t *call,
    ngx_int_t rc)
{
    ngx_http_upstream_t  *u;

    u = sr->upstream;

    return rc == NGX_HTTP_BAD_GATEWAY && u != NULL && u->peer.cached
           && u->headers_in.status_n == 0 && call->status == 0
           && !call->fanout->closed && !sr->connection->error
           && call->retries < NGX_WALRUS_STALE_RETRIES;
}
