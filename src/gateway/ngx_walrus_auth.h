/*
 * Publisher authentication: a Walrus-style JWT (Authorization: Bearer)
 * on the gateway's write routes, turned on per location.  Every write
 * handler calls ngx_walrus_auth_upload() before it reads the body, and
 * ngx_walrus_auth_body() once the body's length is known.
 *
 * ngx_walrus_auth_module.c: directives and keys; ngx_walrus_auth.c: the
 * check of a request; ngx_walrus_auth_replay.c: each token ID used once,
 * in Redis (shared by gateways) or in the worker's memory.
 */

#ifndef _NGX_WALRUS_AUTH_H_INCLUDED_
#define _NGX_WALRUS_AUTH_H_INCLUDED_


#include <ngx_walrus_gateway.h>
#include <walrus_jwt.h>


/* keys a location accepts tokens of: bounds the signature checks */
#define NGX_WALRUS_AUTH_MAX_KEYS  8


typedef struct {
    ngx_flag_t             enable;
    ngx_array_t           *keys;        /* of walrus_jwt_key_t * */
    time_t                 leeway;
    time_t                 max_lifetime;  /* 0: any */
} ngx_walrus_auth_loc_conf_t;


typedef struct {
    ngx_uint_t             replay_cache;   /* entries, per worker */
} ngx_walrus_auth_main_conf_t;


/* the continuation of a write handler: returns what a handler returns */
typedef ngx_int_t (*ngx_walrus_auth_pt)(ngx_http_request_t *r);

typedef void (*ngx_walrus_auth_replay_pt)(ngx_http_request_t *r,
    ngx_int_t rc);


/* a request's accepted token, kept for ngx_walrus_auth_body() */
typedef struct {
    walrus_jwt_claims_t        claims;
    ngx_uint_t                 epochs;
    ngx_walrus_auth_pt         next;
    ngx_walrus_auth_replay_pt  replayed;    /* Redis answered */
} ngx_walrus_auth_t;


extern ngx_module_t  ngx_http_walrus_auth_module;


/*
 * Checks the token of an upload of epochs epochs (and of Content-Length
 * bytes when given) and calls next(r) once it is accepted, at once or
 * after Redis answered.  Returns what a content handler returns: next's
 * result, NGX_DONE while Redis is asked, or the refusal's answer.
 * Without walrus_gateway_jwt on, next(r) at once.
 */
ngx_int_t ngx_walrus_auth_upload(ngx_http_request_t *r, ngx_uint_t epochs,
    ngx_walrus_auth_pt next);

/*
 * The body is read, length bytes: NGX_OK, or the answer (sent) of a
 * token whose size or max_size it does not fit.
 */
ngx_int_t ngx_walrus_auth_body(ngx_http_request_t *r, off_t length);

/*
 * ngx_walrus_auth_replay.c: marks the request's token ID used for ttl
 * seconds: NGX_OK (first use, in the worker's memory), NGX_AGAIN (Redis
 * asked: auth->replayed(r, rc) will be called with NGX_OK, NGX_DECLINED
 * for an ID used before or NGX_ERROR when Redis failed or was late),
 * NGX_DECLINED (used), NGX_BUSY (the worker's memory is full of live
 * IDs) or NGX_ERROR (Redis is configured but not connected).
 */
ngx_int_t ngx_walrus_auth_replay(ngx_http_request_t *r,
    ngx_walrus_auth_t *auth, time_t ttl);
void ngx_walrus_auth_replay_drain(void);


#endif /* _NGX_WALRUS_AUTH_H_INCLUDED_ */
