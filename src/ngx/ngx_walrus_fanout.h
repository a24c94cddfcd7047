/*
 * Requests from the gateway to storage nodes: background subrequests to
 * an internal location that proxies to the node's upstream{}, with their
 * responses captured by the module's own filters (bounded, never passed
 * to the client).
 */

#ifndef _NGX_WALRUS_FANOUT_H_INCLUDED_
#define _NGX_WALRUS_FANOUT_H_INCLUDED_


#include <ngx_walrus.h>


extern ngx_module_t  ngx_http_walrus_fanout_module;


typedef struct {
    ngx_queue_t            done;       /* finished calls not yet handled */
    ngx_queue_t            arenas;     /* ngx_walrus_arena_t */
    ngx_queue_t            running;    /* ngx_walrus_call_t not done */
    ngx_str_t             *node_location;
    ngx_uint_t             active;     /* calls running */
    ngx_uint_t             closed;     /* the caller stopped listening */
} ngx_walrus_fanout_t;


/*
 * A pool for a group of calls (a segment's) and their subrequests, which
 * nginx would otherwise allocate in the main request's pool until the
 * request ends.  It is destroyed once the group is retired and all its
 * subrequests have closed, so that a read's memory does not grow with
 * the number of segments.
 */
typedef struct {
    ngx_pool_t            *pool;
    ngx_queue_t            calls;      /* ngx_walrus_call_t, in pool */
    ngx_queue_t            link;       /* in the fanout's arenas */
    unsigned               retired:1;
} ngx_walrus_arena_t;


typedef struct {
    ngx_queue_t            queue;      /* in the fanout's done */
    ngx_queue_t            link;       /* in the arena's calls */
    ngx_queue_t            running;    /* in the fanout's running */
    ngx_walrus_fanout_t   *fanout;
    ngx_pool_t            *pool;       /* where the call lives */
    ngx_http_request_t    *request;    /* the subrequest */
    ngx_uint_t             node;
    const char            *name;       /* the node's ($walrus_node) */
    ngx_uint_t             method;
    ngx_chain_t           *request_body; /* or NULL */
    ngx_walrus_arena_t    *arena;
    ngx_uint_t             retries;    /* sent again after a stale close */
    ngx_msec_t             start;      /* when it was first sent */
    ngx_uint_t             kind;       /* the caller's tag */
    ngx_uint_t             pair;
    void                  *data;       /* the caller's, e.g. its owner */
    ngx_str_t              location;   /* of the subrequest */
    ngx_str_t              node_uri;
    ngx_str_t              range;      /* Range header for the node */
    ngx_str_t              header;     /* an answer header to keep */
    ngx_str_t              header_value;
    ngx_str_t              header2;    /* and a second one */
    ngx_str_t              header2_value;
    ngx_uint_t             status;     /* HTTP status, 502 when unreachable */
    u_char                *body;       /* captured response body (heap) */
    size_t                 body_len;
    size_t                 body_size;  /* allocated */
    size_t                 body_max;
    off_t                  length;     /* its Content-Length, or -1 */
    unsigned               local:1;    /* to the request's own location */
    unsigned               done:1;
    unsigned               queued:1;   /* in the fanout's done */
    unsigned               closed:1;   /* the subrequest was torn down */
    unsigned               truncated:1;
} ngx_walrus_call_t;


/* requests go to <node_location><node name>, an internal location */
void ngx_walrus_fanout_init(ngx_walrus_fanout_t *fo,
    ngx_str_t *node_location);

/*
 * Starts `method` /v1/blobs/<id_text>/<path> on committee node `node`.
 * body is a chain of buffers (in memory or in files) sent as the request
 * body, or NULL; up to body_max bytes of the response are kept.  When the
 * call ends it is queued on fo->done and r (the caller) is posted.
 * The call lives in `arena`, or in the request's pool when it is NULL.
 * A call that fails because the node closed the kept-alive connection it
 * was sent on, before any answer, is sent again on another connection.
 */
ngx_walrus_call_t *ngx_walrus_fanout_call(ngx_http_request_t *r,
    ngx_walrus_fanout_t *fo, ngx_walrus_arena_t *arena, ngx_uint_t node,
    ngx_uint_t method, const char *id_text, const char *path,
    ngx_chain_t *body, size_t body_max);

/* the same for any URI of the node API */
ngx_walrus_call_t *ngx_walrus_fanout_call_uri(ngx_http_request_t *r,
    ngx_walrus_fanout_t *fo, ngx_walrus_arena_t *arena, ngx_uint_t node,
    ngx_uint_t method, ngx_str_t *uri, ngx_chain_t *body, size_t body_max);
ngx_walrus_call_t *ngx_walrus_fanout_call_to(ngx_http_request_t *r,
    ngx_walrus_fanout_t *fo, ngx_walrus_arena_t *arena, const char *name,
    ngx_uint_t node, ngx_uint_t method, ngx_str_t *uri, ngx_chain_t *body,
    size_t body_max);

/*
 * A HEAD or GET of a route of r's own location (a gateway route such as
 * /v1/blobs/{id}), without the client's Range and conditions; its answer
 * is captured as a node's is.
 */
ngx_walrus_call_t *ngx_walrus_fanout_call_local(ngx_http_request_t *r,
    ngx_walrus_fanout_t *fo, ngx_uint_t method, ngx_str_t *uri,
    size_t body_max);

/* drops Range and the conditional headers a subrequest shares with r */
void ngx_walrus_fanout_unconditional(ngx_http_request_t *sr);

ngx_walrus_arena_t *ngx_walrus_arena_create(ngx_walrus_fanout_t *fo,
    ngx_log_t *log);

/*
 * The caller has cancelled or handled every call of the arena and keeps
 * no pointer into it; it is destroyed as soon as its subrequests closed.
 */
void ngx_walrus_arena_retire(ngx_http_request_t *r, ngx_walrus_fanout_t *fo,
    ngx_walrus_arena_t *arena);

/* destroys the retired arenas whose subrequests have all closed */
void ngx_walrus_fanout_sweep(ngx_http_request_t *r, ngx_walrus_fanout_t *fo);

/* destroys every arena: only when the main request is freed */
void ngx_walrus_fanout_free(ngx_walrus_fanout_t *fo);

/*
 * Abandons a call that is no longer needed: its connection to the node is
 * closed now, so a slow node cannot hold the client's connection.
 */
void ngx_walrus_fanout_cancel(ngx_walrus_call_t *call);

/*
 * Cancels every call still running.  The caller holds a reference of the
 * main request: the last subrequest to close may otherwise free it.
 */
void ngx_walrus_fanout_cancel_all(ngx_walrus_fanout_t *fo);

/* frees the captured body before the request ends */
void ngx_walrus_call_release(ngx_walrus_call_t *call);

/* next finished call, or NULL */
ngx_walrus_call_t *ngx_walrus_fanout_next(ngx_walrus_fanout_t *fo);



#endif /* _NGX_WALRUS_FANOUT_H_INCLUDED_ */
