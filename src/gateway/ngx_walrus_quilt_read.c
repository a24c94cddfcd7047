/*
 * Reads of quilts: placeholder.
 */

#include <ngx_walrus_quilt.h>


ngx_int_t
ngx_walrus_quilt_read(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                 NGX_WALRUS_DOMAIN_GATEWAY, "NO_SUCH_PATH",
                                 "not yet");
}
