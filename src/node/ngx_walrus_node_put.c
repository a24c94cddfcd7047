/*
 * Storage node uploads, the request: registrations, metadata, slivers and
 * certificates within their size limits and the store's free space are
 * read, handed to the thread pool to be verified and stored
 * (ngx_walrus_node_store.c), and answered.
 */

#include <ngx_walrus_node.h>
#include <ngx_walrus_node_store.h>
#include <ngx_walrus_body.h>
#include <walrus_cert.h>
#include <walrus_registration.h>
#include <walrus_lifetime.h>


#define NGX_WALRUS_STORED_JSON                                               \
    "{\"blobId\":\"%s\",\"stored\":\"%s\",\"created\":%s}"


static off_t ngx_walrus_node_put_limit(ngx_walrus_route_t *rt);
static ngx_int_t ngx_walrus_node_put_space(ngx_http_request_t *r,
    ngx_walrus_route_t *rt, off_t *avail, off_t *need);
static void ngx_walrus_put_body_done(ngx_http_request_t *r);


static off_t
ngx_walrus_node_put_limit(ngx_walrus_route_t *rt)
{
    switch (rt->kind) {

    case NGX_WALRUS_ROUTE_METADATA:
        return NGX_WALRUS_MAX_METADATA;

    case NGX_WALRUS_ROUTE_CERTIFICATE:
        return WALRUS_CERT_MAX_SIZE;

    case NGX_WALRUS_ROUTE_REGISTRATION:
        return WALRUS_REGISTRATION_LEN;

    case NGX_WALRUS_ROUTE_BLOB:
        return WALRUS_DELETION_LEN;

    default:
        return NGX_MAX_OFF_T_VALUE;
    }
}


ngx_int_t
ngx_walrus_node_put(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    off_t                        limit, declared, avail, need;
    ngx_int_t                    rc;
    ngx_walrus_put_t            *t;
    ngx_walrus_node_loc_conf_t  *wlcf;
    ngx_walrus_main_conf_t      *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);
    wlcf = ngx_walrus_node_loc_conf(r);

    limit = ngx_walrus_node_put_limit(rt);

    /*
     * discarding the body lowers content_length_n by the part of it read
     * already (to 0 when the whole body came with the header)
     */
    declared = r->headers_in.content_length_n;

    if (declared > limit || (declared < 0 && !r->headers_in.chunked)) {
        /* the body must go, or it would be read as the next request */
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (declared > limit) {
            return ngx_walrus_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         NGX_WALRUS_DOMAIN_NODE,
                                         "BODY_TOO_LARGE",
                                         "the body is larger than %O bytes",
                                         limit);
        }

        return ngx_walrus_send_error(r, NGX_HTTP_LENGTH_REQUIRED,
                                     NGX_WALRUS_DOMAIN_NODE,
                                     "LENGTH_REQUIRED",
                                     "a body with Content-Length or chunked "
                                     "transfer encoding is required");
    }

    need = declared > 0 ? declared : 0;

    if (ngx_walrus_node_put_space(r, rt, &avail, &need) != NGX_OK) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_walrus_send_error(r, NGX_HTTP_INSUFFICIENT_STORAGE,
                                     NGX_WALRUS_DOMAIN_NODE, "STORE_ERROR",
                                     "no space for this upload: the store "
                                     "has %O bytes free, it needs %O (the "
                                     "body and walrus_node_min_free_space)",
                                     avail, need);
    }

    t = ngx_pcalloc(r->pool, sizeof(ngx_walrus_put_t));
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->route = *rt;
    t->committee = wmcf->committee;
    t->history = wmcf->history;
    t->request = r;

    if (walrus_store_dir(t->dir, (char *) wlcf->store.data,
                         wlcf->store.len, rt->id_text)
        != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_walrus_node_ctx(r)->put = t;

    if (rt->kind == NGX_WALRUS_ROUTE_SLIVER) {
        return ngx_walrus_node_stream(r, t);
    }

    r->request_body_in_file_only = 0;

    rc = ngx_http_read_client_request_body(r, ngx_walrus_put_body_done);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * NGX_DECLINED when the store's file system would keep less than
 * walrus_node_min_free_space after a new metadata or sliver upload of
 * *need bytes, which is then refused before its body is read (statfs(2)
 * reads the file system's counters, it does not wait for the disk).
 * Certificates are small and complete blobs stored already: they pass.
 */

static ngx_int_t
ngx_walrus_node_put_space(ngx_http_request_t *r, ngx_walrus_route_t *rt,
    off_t *avail, off_t *need)
{
    ngx_walrus_node_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_node_loc_conf(r);

    if (rt->kind != NGX_WALRUS_ROUTE_METADATA
        && rt->kind != NGX_WALRUS_ROUTE_SLIVER)
    {
        return NGX_OK;
    }

    /* NGX_MAX_OFF_T_VALUE when statfs() fails: the writes will tell */
    *avail = ngx_fs_available(wlcf->store.data);
    *need += wlcf->min_free_space;

    return *avail >= *need ? NGX_OK : NGX_DECLINED;
}


static void
ngx_walrus_put_body_done(ngx_http_request_t *r)
{
    off_t                        len;
    ngx_walrus_put_t            *t;
    ngx_thread_task_t           *task;
    ngx_walrus_node_loc_conf_t  *wlcf;

    t = ngx_walrus_node_ctx(r)->put;
    wlcf = ngx_walrus_node_loc_conf(r);

    if (r->request_body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    len = ngx_walrus_body_length(r->request_body->bufs);

    if (len > ngx_walrus_node_put_limit(&t->route)) {
        ngx_http_finalize_request(r,
            ngx_walrus_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                  NGX_WALRUS_DOMAIN_NODE, "BODY_TOO_LARGE",
                                  "the body is larger than %O bytes",
                                  ngx_walrus_node_put_limit(&t->route)));
        return;
    }

    t->body = r->request_body->bufs;
    t->body_len = len;

    task = ngx_walrus_thread_task(r->pool, ngx_walrus_node_store, t);
    if (task == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->write_event_handler = ngx_walrus_put_respond;
    ngx_walrus_thread_init(&t->thread, r, wlcf->thread_pool,
                           NGX_WALRUS_THREAD_JOIN);

    if (ngx_walrus_thread_post(&t->thread, task) != NGX_OK) {
        ngx_http_finalize_request(r,
            ngx_walrus_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                  NGX_WALRUS_DOMAIN_NODE,
                                  "OVERLOADED",
                                  "the node is busy, retry later"));
        return;
    }

    ngx_walrus_thread_guard(r, &t->guard);
}


void
ngx_walrus_put_respond(ngx_http_request_t *r)
{
    u_char            *p;
    ngx_str_t          data;
    ngx_walrus_put_t  *t;

    t = ngx_walrus_node_ctx(r)->put;

    /* a write event of the connection while the task runs: not yet */

    if (t->thread.running > 0) {
        return;
    }

    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_walrus_thread_unguard(&t->guard);

    if (t->res.status >= NGX_HTTP_BAD_REQUEST) {
        ngx_http_finalize_request(r,
            ngx_walrus_send_error(r, t->res.status, NGX_WALRUS_DOMAIN_NODE,
                                  t->res.reason, "%s", t->res.message));
        return;
    }

    data.data = ngx_pnalloc(r->pool, sizeof(NGX_WALRUS_STORED_JSON)
                                     + WALRUS_BLOB_ID_TEXT_LEN
                                     + ngx_strlen(t->res.reason)
                                     + sizeof("false"));
    if (data.data == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_sprintf(data.data, NGX_WALRUS_STORED_JSON, t->route.id_text,
                    t->res.reason,
                    t->res.status == NGX_HTTP_CREATED ? "true" : "false");
    data.len = p - data.data;

    ngx_http_finalize_request(r, ngx_walrus_send_success(r, t->res.status,
                                                         &data));
}
