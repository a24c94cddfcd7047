/*
 * Gateway role: request dispatch.
 */

#include <ngx_walrus.h>


ngx_int_t
ngx_walrus_gateway_handler(ngx_http_request_t *r)
{
    u_char                  *p;
    ngx_int_t                rc;
    ngx_str_t                data;
    ngx_walrus_route_t       rt;
    ngx_walrus_main_conf_t  *wmcf;

    rc = ngx_walrus_route_parse(&r->uri, &rt);

    if (rc == NGX_OK && rt.kind == NGX_WALRUS_ROUTE_BLOBS
        && r->method == NGX_HTTP_PUT)
    {
        return ngx_walrus_publish(r);
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_ERROR) {
        return ngx_walrus_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "INVALID_BLOB_ID",
                                     "the blob ID is not 43 characters of "
                                     "URL-safe base64");
    }

    if (rc == NGX_OK && rt.kind == NGX_WALRUS_ROUTE_HEALTH
        && (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)))
    {
        wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);

        data.data = ngx_pnalloc(r->pool, 128);
        if (data.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_sprintf(data.data, "{\"status\":\"ready\",\"role\":"
                        "\"gateway\",\"epoch\":%uD,\"nShards\":%ud}",
                        wmcf->committee->epoch, wmcf->committee->params.n);
        data.len = p - data.data;

        return ngx_walrus_send_success(r, NGX_HTTP_OK, &data);
    }

    if (rc == NGX_OK && (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))
        && (rt.kind == NGX_WALRUS_ROUTE_BLOB
            || rt.kind == NGX_WALRUS_ROUTE_BYTE_RANGE
            || rt.kind == NGX_WALRUS_ROUTE_STATUS))
    {
        return ngx_walrus_read(r, &rt);
    }

    if (rc == NGX_OK && rt.kind == NGX_WALRUS_ROUTE_BLOBS) {
        return ngx_walrus_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "METHOD_NOT_ALLOWED",
                                     "store blobs with PUT /v1/blobs");
    }

    return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                 NGX_WALRUS_DOMAIN_GATEWAY, "NO_SUCH_PATH",
                                 "no such gateway endpoint");
}
