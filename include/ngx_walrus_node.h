/*
 * Storage node: signing confirmations, after checking the stored files
 * whose verification stamp is gone.
 */

#ifndef _NGX_WALRUS_NODE_H_INCLUDED_
#define _NGX_WALRUS_NODE_H_INCLUDED_


#include <ngx_walrus.h>


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


#endif /* _NGX_WALRUS_NODE_H_INCLUDED_ */
