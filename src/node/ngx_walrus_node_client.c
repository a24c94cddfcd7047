/*
 * Storage node role: who may write.  With walrus_node_client_cert on,
 * uploads, deletions and the routes only gateways and peers use answer
 * 403 CLIENT_CERTIFICATE_REQUIRED unless the client showed a certificate
 * the server's TLS configuration verified ($ssl_client_verify SUCCESS);
 * reads of what the node stores stay open to anyone.
 */

#include <ngx_walrus_node.h>


static ngx_uint_t ngx_walrus_node_peer_only(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);


static ngx_str_t  ngx_walrus_node_verify_name =
    ngx_string("ssl_client_verify");

static ngx_str_t  ngx_walrus_node_no_tls = ngx_string("NONE (not TLS)");


/*
 * The variable is looked up by name, not through OpenSSL: nginx sets it
 * from the verification its ssl_verify_client asked for, and refuses the
 * configuration when its ssl module is missing.
 */

ngx_int_t
ngx_walrus_node_client_conf(ngx_conf_t *cf, ngx_walrus_node_loc_conf_t *wlcf)
{
    wlcf->client_verify = ngx_http_get_variable_index(cf,
                                                &ngx_walrus_node_verify_name);

    return wlcf->client_verify == NGX_ERROR ? NGX_ERROR : NGX_OK;
}


ngx_int_t
ngx_walrus_node_client_check(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    ngx_str_t                    result;
    ngx_http_variable_value_t   *v;
    ngx_walrus_node_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_node_loc_conf(r);

    if (!wlcf->client_cert || !ngx_walrus_node_peer_only(r, rt)) {
        return NGX_DECLINED;
    }

    v = ngx_http_get_indexed_variable(r, wlcf->client_verify);

    if (v == NULL || v->not_found || v->len == 0) {
        result = ngx_walrus_node_no_tls;

    } else if (v->len == sizeof("SUCCESS") - 1
               && ngx_strncmp(v->data, "SUCCESS", v->len) == 0)
    {
        return NGX_DECLINED;

    } else {
        result.data = v->data;
        result.len = v->len;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: client certificate refused: %V", &result);

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_walrus_send_error(r, NGX_HTTP_FORBIDDEN,
                                 NGX_WALRUS_DOMAIN_NODE,
                                 "CLIENT_CERTIFICATE_REQUIRED",
                                 "%V %V needs a client certificate this "
                                 "node trusts (walrus_node_client_cert); "
                                 "the client's: %V", &r->method_name,
                                 &r->uri, &result);
}


/*
 * Writes, and the reads that make the node sign or work for a gateway or
 * a peer: a confirmation, the record after a cursor, recovery symbols,
 * audit round signatures and answers.  Stored files, the node's health,
 * status, readiness and audit files stay public.
 */

static ngx_uint_t
ngx_walrus_node_peer_only(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    switch (rt->kind) {

    case NGX_WALRUS_ROUTE_METADATA:
    case NGX_WALRUS_ROUTE_SLIVER:
    case NGX_WALRUS_ROUTE_CERTIFICATE:
    case NGX_WALRUS_ROUTE_REGISTRATION:
        return (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) == 0;

    case NGX_WALRUS_ROUTE_BLOB:
        return r->method == NGX_HTTP_DELETE;

    case NGX_WALRUS_ROUTE_CONFIRMATION:
    case NGX_WALRUS_ROUTE_CERTIFIED:
    case NGX_WALRUS_ROUTE_RECOVERY:
    case NGX_WALRUS_ROUTE_AUDIT_SIGNATURE:
    case NGX_WALRUS_ROUTE_AUDIT_ANSWER:
        return 1;

    default:
        return 0;
    }
}
