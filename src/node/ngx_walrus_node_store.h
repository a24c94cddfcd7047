/*
 * A storage node's upload, verified and stored in the thread pool
 * (ngx_walrus_node_store.c, ngx_walrus_node_store_lifetime.c) once the
 * request (ngx_walrus_node_put.c) read its body.
 */

#ifndef _NGX_WALRUS_NODE_STORE_H_INCLUDED_
#define _NGX_WALRUS_NODE_STORE_H_INCLUDED_


#include <ngx_walrus_node.h>
#include <walrus_history.h>
#include <walrus_registration.h>
#include <walrus_store.h>


/* a sliver upload's state (ngx_walrus_node_stream.c) */
typedef struct ngx_walrus_stream_s  ngx_walrus_stream_t;


struct ngx_walrus_put_s {
    ngx_walrus_route_t         route;
    const walrus_committee_t  *committee;  /* the current one */
    const walrus_history_t    *history;    /* checks certificates */
    ngx_chain_t               *body;       /* not of slivers: streamed */
    off_t                      body_len;
    ngx_walrus_stream_t       *stream;
    walrus_registration_t      registration;
    char                       dir[WALRUS_PATH_MAX];
    ngx_walrus_node_result_t   res;
    ngx_http_request_t        *request;
    ngx_walrus_thread_t        thread;
    ngx_event_t                guard;
};


/*
 * The task of an upload but a sliver's (its data is the ngx_walrus_put_t):
 * verifies and stores the body, and says how in t->res.  System calls and
 * the core library only.
 */
void ngx_walrus_node_store(void *data, ngx_log_t *log);

/*
 * A sliver's upload, its body streamed into the store batch by batch
 * (ngx_walrus_node_stream.c): NGX_DONE, or the handler's status.
 */
ngx_int_t ngx_walrus_node_stream(ngx_http_request_t *r, ngx_walrus_put_t *t);

/* answers t->res: the stored JSON, or the error (ngx_walrus_node_put.c) */
void ngx_walrus_put_respond(ngx_http_request_t *r);

/* the parts the upload's kinds share (ngx_walrus_node_store.c) */
void ngx_walrus_put_store_fail(ngx_walrus_put_t *t, const char *fmt, ...);
u_char *ngx_walrus_body_slurp(ngx_walrus_put_t *t);
int ngx_walrus_put_small(ngx_walrus_put_t *t, const char *name,
    const u_char *data, size_t len);

/* the blob's stored metadata, checked: 0, or -1 with t->res set */
int ngx_walrus_put_load_metadata(ngx_walrus_put_t *t, walrus_metadata_t *m);

/*
 * Lifetime (ngx_walrus_node_store_lifetime.c): 0 when the blob's stored
 * registration is in force (it is then in t->registration); a
 * registration's and a deletion's upload.
 */
int ngx_walrus_put_registered(ngx_walrus_put_t *t);
void ngx_walrus_put_registration(ngx_walrus_put_t *t);
void ngx_walrus_put_deletion(ngx_walrus_put_t *t);


#endif /* _NGX_WALRUS_NODE_STORE_H_INCLUDED_ */
