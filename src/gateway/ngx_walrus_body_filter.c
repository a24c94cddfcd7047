/*
 * The gateway's request body filter: an upload's body that does not fit
 * client_body_buffer_size goes to a spare file of the worker
 * (ngx_walrus_spare_file.c) instead of a new temporary file.  The file is
 * the upload's temp file (ngx_walrus_publish_body_file), which gives it
 * back to the spare files when the request ends.
 */

#include <ngx_walrus_gateway.h>
#include <ngx_walrus_spare_file.h>


static ngx_int_t ngx_walrus_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_request_body_filter_pt  ngx_walrus_next_body_filter;


ngx_int_t
ngx_walrus_body_filter_init(ngx_conf_t *cf)
{
    ngx_walrus_next_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_walrus_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_walrus_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_temp_file_t                *tf;
    ngx_walrus_gateway_loc_conf_t  *wlcf;
    ngx_http_core_loc_conf_t       *clcf;

    wlcf = ngx_walrus_gateway_loc_conf(r);
    tf = ngx_walrus_publish_body_file(r);

    /* a gateway reads no other body than an upload's */

    if (!wlcf->gateway || tf == NULL || r != r->main
        || r->request_body->temp_file != NULL)
    {
        return ngx_walrus_next_body_filter(r, in);
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r->headers_in.content_length_n >= 0
        && r->headers_in.content_length_n
           <= (off_t) clcf->client_body_buffer_size)
    {
        return ngx_walrus_next_body_filter(r, in);
    }

    tf->file.fd = ngx_walrus_spare_file_open(&clcf->client_body_temp_path->name,
                                             r->connection->log);
    if (tf->file.fd == NGX_INVALID_FILE) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    tf->file.name = clcf->client_body_temp_path->name;
    tf->file.log = r->connection->log;
    tf->path = clcf->client_body_temp_path;
    tf->pool = r->pool;
    r->request_body->temp_file = tf;

    return ngx_walrus_next_body_filter(r, in);
}
