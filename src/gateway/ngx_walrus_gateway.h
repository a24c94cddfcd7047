/*
 * Gateway role: its content handler, the write path (PUT /v1/blobs) and
 * the read path (GET/HEAD /v1/blobs/{id}).
 */

#ifndef _NGX_WALRUS_GATEWAY_H_INCLUDED_
#define _NGX_WALRUS_GATEWAY_H_INCLUDED_


#include <ngx_walrus.h>


ngx_int_t ngx_walrus_gateway_handler(ngx_http_request_t *r);

ngx_int_t ngx_walrus_publish(ngx_http_request_t *r);

/* an upload's body goes to a spare file of the worker */
ngx_int_t ngx_walrus_publish_init_filter(ngx_conf_t *cf);

ngx_int_t ngx_walrus_read(ngx_http_request_t *r, ngx_walrus_route_t *rt);


#endif /* _NGX_WALRUS_GATEWAY_H_INCLUDED_ */
