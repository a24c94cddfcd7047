/*
 * Storage node role: its content handler and uploads; signing
 * confirmations, after checking the stored files whose verification stamp
 * is gone; removing left request body files.
 */

#ifndef _NGX_WALRUS_NODE_H_INCLUDED_
#define _NGX_WALRUS_NODE_H_INCLUDED_


#include <ngx_walrus.h>


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

/* answers the signed confirmation of rt's blob */
ngx_int_t ngx_walrus_node_sign(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);

/* registers the client_body_temp_path of a node location for sweeping */
ngx_int_t ngx_walrus_node_body_dir(ngx_conf_t *cf,
    ngx_walrus_loc_conf_t *wlcf);

/* removes left request body files: on a fresh start, and in worker 0 */
void ngx_walrus_node_sweep_start(ngx_cycle_t *cycle);
ngx_int_t ngx_walrus_node_sweep_init_process(ngx_cycle_t *cycle);


#endif /* _NGX_WALRUS_NODE_H_INCLUDED_ */
