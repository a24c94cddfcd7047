/*
 * What the node sends: a whole stored file or a range of an open file
 * (with sendfile), and the failure a thread task reported, in the node's
 * error model.
 */

#include <ngx_walrus_node.h>


ngx_int_t
ngx_walrus_node_send_path(ngx_http_request_t *r, const char *path)
{
    size_t                       len;
    ngx_fd_t                     fd;
    ngx_file_info_t              fi;
    ngx_pool_cleanup_t          *cln;
    ngx_pool_cleanup_file_t     *clnf;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_pool_cleanup_file_t));
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        return NGX_DECLINED;
    }

    cln->handler = ngx_pool_cleanup_file;
    clnf = cln->data;
    clnf->fd = fd;
    clnf->log = r->connection->log;

    len = ngx_strlen(path);
    clnf->name = ngx_pnalloc(r->pool, len + 1);

    if (clnf->name == NULL || ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(clnf->name, path, len + 1);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = ngx_file_size(&fi);
    r->headers_out.last_modified_time = ngx_file_mtime(&fi);
    ngx_str_set(&r->headers_out.content_type, "application/octet-stream");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->allow_ranges = 1;

    if (ngx_http_set_etag(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_walrus_node_send_range(r, fd, clnf->name, len, 0,
                                      ngx_file_size(&fi));
}


ngx_int_t
ngx_walrus_node_send_range(ngx_http_request_t *r, ngx_fd_t fd, u_char *name,
    size_t len, off_t start, off_t end)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->file = ngx_pcalloc(r->pool, sizeof(ngx_file_t));
    if (b->file == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->file_pos = start;
    b->file_last = end;
    b->in_file = end > start ? 1 : 0;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    b->sync = b->in_file ? 0 : 1;

    b->file->fd = fd;
    b->file->name.data = name;
    b->file->name.len = len;
    b->file->log = r->connection->log;
    b->file->directio = 0;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_walrus_node_send_fail(ngx_http_request_t *r, ngx_walrus_node_result_t *e)
{
    return ngx_walrus_send_error(r, e->status, NGX_WALRUS_DOMAIN_NODE,
                                 e->reason, "%s", e->message);
}
