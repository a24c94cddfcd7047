/*
 * Storage node role: its content handler and uploads; signing
 * confirmations, after checking the stored files whose verification stamp
 * is gone; removing left request body files.
 */

#ifndef _NGX_WALRUS_NODE_H_INCLUDED_
#define _NGX_WALRUS_NODE_H_INCLUDED_


#include <ngx_walrus.h>


typedef struct {
    ngx_array_t           *body_dirs;   /* to sweep */
} ngx_walrus_node_main_conf_t;


typedef struct {
    ngx_flag_t             node;
    ngx_str_t              node_name;
    ngx_int_t              node_index;
    ngx_str_t              store;
    off_t                  min_free_space;
    time_t                 stale_body_time;
    ngx_str_t              key_file;
    EVP_PKEY              *key;
    ngx_thread_pool_t     *thread_pool;
} ngx_walrus_node_loc_conf_t;


/*
 * What a node's thread task found: the status to answer with and, for an
 * error, its reason and message.
 */
typedef struct {
    ngx_uint_t             status;
    const char            *reason;
    char                   message[256];
} ngx_walrus_node_result_t;


typedef struct ngx_walrus_put_s     ngx_walrus_put_t;
typedef struct ngx_walrus_verify_s  ngx_walrus_verify_t;


/* what a node request keeps in the module's context slot */
typedef struct {
    ngx_walrus_put_t      *put;         /* PUT */
    ngx_walrus_verify_t   *verify;      /* GET confirmation */
} ngx_walrus_node_ctx_t;


extern ngx_module_t  ngx_http_walrus_node_module;


#define ngx_walrus_node_loc_conf(r)                                          \
    ((ngx_walrus_node_loc_conf_t *)                                          \
        ngx_http_get_module_loc_conf(r, ngx_http_walrus_node_module))

/* the request's context: ngx_walrus_node_handler makes it first */
#define ngx_walrus_node_ctx(r)                                               \
    ((ngx_walrus_node_ctx_t *)                                               \
        ngx_http_get_module_ctx(r, ngx_http_walrus_node_module))


ngx_int_t ngx_walrus_node_handler(ngx_http_request_t *r);

/* PUT of a registration, metadata, a sliver or a certificate */
ngx_int_t ngx_walrus_node_put(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);

/*
 * Verifies, in the thread pool, the metadata and the given sliver files
 * of rt's blob that are not stamped, sets aside those that fail, then
 * answers: the signed confirmation when all are good, else the error.
 * Returns NGX_DONE, or an HTTP status when nothing was posted.
 */
ngx_int_t ngx_walrus_node_verify(ngx_http_request_t *r,
    ngx_walrus_route_t *rt, ngx_uint_t *pairs, ngx_uint_t npairs);

/* sets an error result; thread safe (no nginx API) */
void ngx_walrus_node_fail(ngx_walrus_node_result_t *res, ngx_uint_t status,
    const char *reason, const char *fmt, ...);

/* answers the signed confirmation of rt's blob */
ngx_int_t ngx_walrus_node_sign(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);

/* registers the client_body_temp_path of a node location for sweeping */
ngx_int_t ngx_walrus_node_body_dir(ngx_conf_t *cf,
    ngx_walrus_node_loc_conf_t *wlcf);

/* removes left request body files: on a fresh start, and in worker 0 */
void ngx_walrus_node_sweep_start(ngx_cycle_t *cycle);
ngx_int_t ngx_walrus_node_sweep_init_process(ngx_cycle_t *cycle);


#endif /* _NGX_WALRUS_NODE_H_INCLUDED_ */
