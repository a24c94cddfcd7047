/*
 * Gateway role: request dispatch.
 */

#include <ngx_walrus_gateway.h>
#include <ngx_walrus_quilt.h>


#define NGX_WALRUS_GATEWAY_HEALTH_JSON                                       \
    "{\"status\":\"ready\",\"role\":\"gateway\",\"epoch\":%uD,\"nShards\":%ud}"


static ngx_int_t ngx_walrus_gateway_not_allowed(ngx_http_request_t *r,
    const char *allow);
static ngx_int_t ngx_walrus_gateway_preflight(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);
static ngx_int_t ngx_walrus_gateway_liveness(ngx_http_request_t *r);


ngx_int_t
ngx_walrus_gateway_handler(ngx_http_request_t *r)
{
    u_char                    *p;
    ngx_int_t                  rc;
    ngx_str_t                  data;
    ngx_walrus_route_t         rt;
    ngx_walrus_main_conf_t    *wmcf;
    ngx_walrus_gateway_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_walrus_gateway_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_walrus_gateway_module);

    /* browsers may read every answer, errors included */

    if (ngx_walrus_header(r, "Access-Control-Allow-Origin", "*") == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_walrus_route_parse(&r->uri, &rt);

    if (rc == NGX_OK && r->method == NGX_HTTP_PUT
        && (rt.kind == NGX_WALRUS_ROUTE_BLOBS
            || rt.kind == NGX_WALRUS_ROUTE_QUILTS))
    {
        return ngx_walrus_publish(r, rt.kind == NGX_WALRUS_ROUTE_QUILTS);
    }

    if (rc == NGX_OK && rt.kind == NGX_WALRUS_ROUTE_CONCAT
        && r->method == NGX_HTTP_POST)
    {
        return ngx_walrus_concat(r);
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_ERROR && rt.kind == NGX_WALRUS_ROUTE_QUILT_PATCH) {
        return ngx_walrus_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "INVALID_QUILT_PATCH_ID",
                                     "the patch ID is not 47 characters of "
                                     "URL-safe base64 naming a patch");
    }

    if (rc == NGX_ERROR) {
        return ngx_walrus_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "INVALID_BLOB_ID",
                                     "the blob ID is not 43 characters of "
                                     "URL-safe base64");
    }

    if (rc == NGX_DECLINED
        || (rt.kind != NGX_WALRUS_ROUTE_HEALTH
            && rt.kind != NGX_WALRUS_ROUTE_BLOBS
            && rt.kind != NGX_WALRUS_ROUTE_BLOB
            && rt.kind != NGX_WALRUS_ROUTE_BYTE_RANGE
            && rt.kind != NGX_WALRUS_ROUTE_STATUS
            && rt.kind != NGX_WALRUS_ROUTE_AUDITS
            && rt.kind != NGX_WALRUS_ROUTE_AUDITS_CERT
            && rt.kind != NGX_WALRUS_ROUTE_AUDITS_FRAUD
            && rt.kind != NGX_WALRUS_ROUTE_LIVENESS
            && rt.kind != NGX_WALRUS_ROUTE_API
            && rt.kind != NGX_WALRUS_ROUTE_QUILTS
            && rt.kind != NGX_WALRUS_ROUTE_QUILT_PATCHES
            && rt.kind != NGX_WALRUS_ROUTE_QUILT_FILE
            && rt.kind != NGX_WALRUS_ROUTE_QUILT_PATCH
            && rt.kind != NGX_WALRUS_ROUTE_CONCAT))
    {
        return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "NO_SUCH_PATH",
                                     "no such gateway endpoint");
    }

    if (r->method == NGX_HTTP_OPTIONS) {
        return ngx_walrus_gateway_preflight(r, &rt);
    }

    if (rt.kind == NGX_WALRUS_ROUTE_BLOBS
        || rt.kind == NGX_WALRUS_ROUTE_QUILTS)
    {
        return ngx_walrus_gateway_not_allowed(r, "PUT, OPTIONS");
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_walrus_gateway_not_allowed(r,
                                    rt.kind == NGX_WALRUS_ROUTE_CONCAT
                                    ? "GET, HEAD, POST, OPTIONS"
                                    : "GET, HEAD, OPTIONS");
    }

    if (rt.kind == NGX_WALRUS_ROUTE_CONCAT) {
        return ngx_walrus_concat(r);
    }

    if (rt.kind == NGX_WALRUS_ROUTE_AUDITS
        || rt.kind == NGX_WALRUS_ROUTE_AUDITS_CERT
        || rt.kind == NGX_WALRUS_ROUTE_AUDITS_FRAUD)
    {
        return ngx_walrus_audits(r, &rt);
    }

    if (rt.kind == NGX_WALRUS_ROUTE_LIVENESS) {
        return ngx_walrus_gateway_liveness(r);
    }

    if (rt.kind == NGX_WALRUS_ROUTE_API) {
        return ngx_walrus_gateway_api(r);
    }

    if (rt.kind == NGX_WALRUS_ROUTE_QUILT_PATCHES
        || rt.kind == NGX_WALRUS_ROUTE_QUILT_FILE
        || rt.kind == NGX_WALRUS_ROUTE_QUILT_PATCH)
    {
        return ngx_walrus_quilt_read(r, &rt);
    }

    if (rt.kind != NGX_WALRUS_ROUTE_HEALTH) {
        return ngx_walrus_read(r, &rt);
    }

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);

    data.data = ngx_pnalloc(r->pool, sizeof(NGX_WALRUS_GATEWAY_HEALTH_JSON)
                                     + 2 * NGX_INT32_LEN);
    if (data.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(data.data, NGX_WALRUS_GATEWAY_HEALTH_JSON,
                    wmcf->committee->epoch, wmcf->committee->params.n);
    data.len = p - data.data;

    return ngx_walrus_send_success(r, NGX_HTTP_OK, &data);
}


ngx_walrus_read_t *
ngx_walrus_gateway_read(ngx_http_request_t *r)
{
    ngx_walrus_gateway_ctx_t  *ctx;

    ctx = ngx_walrus_gateway_ctx(r);

    return ctx != NULL ? ctx->read : NULL;
}


ngx_walrus_publish_t *
ngx_walrus_gateway_publish(ngx_http_request_t *r)
{
    ngx_walrus_gateway_ctx_t  *ctx;

    ctx = ngx_walrus_gateway_ctx(r);

    return ctx != NULL ? ctx->publish : NULL;
}


static ngx_int_t
ngx_walrus_gateway_not_allowed(ngx_http_request_t *r, const char *allow)
{
    if (ngx_walrus_add_header(r, "Allow", (u_char *) allow,
                              ngx_strlen(allow))
        == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_walrus_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                 NGX_WALRUS_DOMAIN_GATEWAY,
                                 "METHOD_NOT_ALLOWED",
                                 "method %V is not allowed here; use %s",
                                 &r->method_name, allow);
}


/* CORS preflight: what a page may send (Range, conditionals, uploads) */

static ngx_int_t
ngx_walrus_gateway_preflight(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    ngx_int_t    rc;
    const char  *methods;

    methods = rt->kind == NGX_WALRUS_ROUTE_BLOBS
              || rt->kind == NGX_WALRUS_ROUTE_QUILTS
              ? "PUT, OPTIONS"
              : rt->kind == NGX_WALRUS_ROUTE_CONCAT
              ? "GET, HEAD, POST, OPTIONS" : "GET, HEAD, OPTIONS";

    if (ngx_walrus_add_header(r, "Access-Control-Allow-Methods",
                              (u_char *) methods, ngx_strlen(methods))
        == NULL
        || ngx_walrus_header(r, "Access-Control-Allow-Headers",
                             "Range, If-Match, If-None-Match, If-Range, "
                             "If-Modified-Since, Cache-Control, "
                             "Content-Type, Authorization") == NULL
        || ngx_walrus_header(r, "Access-Control-Max-Age", "86400") == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    rc = ngx_http_send_header(r);

    return rc == NGX_ERROR || rc > NGX_OK ? rc : NGX_OK;
}


/*
 * GET /status: "OK", as Walrus aggregators and publishers answer load
 * balancers, with no node asked (a gateway whose nodes are down is up;
 * /v1/health says more)
 */

static ngx_int_t
ngx_walrus_gateway_liveness(ngx_http_request_t *r)
{
    if (ngx_walrus_header(r, "Cache-Control", "no-store") == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_walrus_send_memory(r, NGX_HTTP_OK, "text/plain",
                                  (u_char *) "OK", 2);
}
