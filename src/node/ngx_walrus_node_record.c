/*
 * The node's record of certified blobs (docs/protocol.md section 16):
 * the entry of each certificate it stores, and GET /v1/certified, which
 * lists the entries after a cursor for its peers.  The file is read and
 * written in the thread pool only.
 */

#include <ngx_walrus_node.h>
#include <walrus_record.h>
#include <walrus_store.h>


#define NGX_WALRUS_LIST_LIMIT      (1024 * 1024)
#define NGX_WALRUS_LIST_LIMIT_MAX  (4 * 1024 * 1024)

/* the identity header when the node has no record yet */
#define NGX_WALRUS_RECORD_NONE     "none"


struct ngx_walrus_list_s {
    char                    path[WALRUS_PATH_MAX];
    uint64_t                after;
    size_t                  limit;
    ngx_fd_t                fd;         /* the record, or -1 */
    int                     rc;         /* walrus_rc_e */
    ngx_err_t               err;
    walrus_record_range_t   range;
    ngx_event_t             guard;
};


static ngx_int_t ngx_walrus_list_args(ngx_http_request_t *r,
    ngx_walrus_list_t *t, ngx_int_t *answer);
static void ngx_walrus_list_thread(void *data, ngx_log_t *log);
static void ngx_walrus_list_done(ngx_http_request_t *r);
static ngx_int_t ngx_walrus_list_send(ngx_http_request_t *r,
    ngx_walrus_list_t *t);
static ngx_int_t ngx_walrus_list_identity(ngx_http_request_t *r,
    ngx_walrus_list_t *t);
static void ngx_walrus_list_cleanup(void *data);


/*
 * Runs in the upload's thread, once the certificate is durable in
 * blob_dir ("<store>/<id>"): a certificate the node did not hold goes
 * into the record of the store with the blob's registration.  When that
 * fails the certificate is removed again, so that the node never holds
 * a certificate its record lacks but after a crash between the two (the
 * blob then comes back from the peers' records), and a new PUT adds it.
 */

int
ngx_walrus_node_record_add(const char *blob_dir, const u_char *cert,
    size_t cert_len, const walrus_registration_t *reg)
{
    int      rc, err;
    char     path[WALRUS_PATH_MAX];
    size_t   len;
    uint8_t  bytes[WALRUS_REGISTRATION_LEN];

    len = ngx_strlen(blob_dir);

    if (len <= WALRUS_BLOB_ID_TEXT_LEN + 1
        || walrus_record_path(path, blob_dir,
                              len - WALRUS_BLOB_ID_TEXT_LEN - 1)
           != 0)
    {
        errno = ENAMETOOLONG;
        return -1;
    }

    walrus_registration_serialize(reg, bytes);

    rc = walrus_record_append(path, cert, cert_len, bytes, sizeof(bytes));

    switch (rc) {

    case WALRUS_OK:
        /* the keeper's sync takes the blob for recorded */
        (void) walrus_record_mark(blob_dir, path);
        return 0;

    case WALRUS_EIO:
        err = errno;
        break;

    case WALRUS_ENOMEM:
        err = ENOMEM;
        break;

    default:
        /* the file is no record */
        err = EBADMSG;
        break;
    }

    if (walrus_store_path(path, blob_dir, "certificate") == 0
        && unlink(path) == 0)
    {
        (void) walrus_sync_dir(blob_dir);
    }

    errno = err;

    return -1;
}


ngx_int_t
ngx_walrus_node_record_list(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_walrus_list_t           *t;
    ngx_pool_cleanup_t          *cln;
    ngx_walrus_node_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_node_loc_conf(r);

    t = ngx_pcalloc(r->pool, sizeof(ngx_walrus_list_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (t == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the record opened in the thread is closed with the request */

    t->fd = NGX_INVALID_FILE;
    cln->handler = ngx_walrus_list_cleanup;
    cln->data = t;

    if (ngx_walrus_list_args(r, t, &rc) != NGX_OK) {
        return rc;
    }

    if (walrus_record_path(t->path, (char *) wlcf->store.data,
                           wlcf->store.len)
        != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_walrus_node_ctx(r)->list = t;

    return ngx_walrus_node_post(r, t, ngx_walrus_list_thread,
                                ngx_walrus_list_done, &t->guard);
}


/*
 * after=<cursor> (absent: the first entry), limit=<bytes>: NGX_OK, or
 * NGX_DECLINED when they do not parse, *answer then being the result of
 * sending the error
 */

static ngx_int_t
ngx_walrus_list_args(ngx_http_request_t *r, ngx_walrus_list_t *t,
    ngx_int_t *answer)
{
    off_t      n;
    ngx_str_t  value;

    t->after = WALRUS_RECORD_HEADER_LEN;
    t->limit = NGX_WALRUS_LIST_LIMIT;

    if (ngx_http_arg(r, (u_char *) "after", 5, &value) == NGX_OK) {
        n = ngx_atoof(value.data, value.len);

        if (n == NGX_ERROR) {
            *answer = ngx_walrus_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            NGX_WALRUS_DOMAIN_NODE,
                                            "BAD_CURSOR",
                                            "after=%V is no cursor: a "
                                            "decimal offset is expected",
                                            &value);
            return NGX_DECLINED;
        }

        t->after = (uint64_t) n;
    }

    if (ngx_http_arg(r, (u_char *) "limit", 5, &value) == NGX_OK) {
        n = ngx_atoof(value.data, value.len);

        if (n == NGX_ERROR || n == 0) {
            *answer = ngx_walrus_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            NGX_WALRUS_DOMAIN_NODE,
                                            "BAD_LIMIT",
                                            "limit=%V is no positive number "
                                            "of bytes", &value);
            return NGX_DECLINED;
        }

        t->limit = (size_t) ngx_min(n, NGX_WALRUS_LIST_LIMIT_MAX);
    }

    return NGX_OK;
}


/* runs in a thread pool: system calls and the core library only */

static void
ngx_walrus_list_thread(void *data, ngx_log_t *log)
{
    ngx_walrus_list_t  *t;

    t = data;

    t->fd = open(t->path, O_RDONLY | O_CLOEXEC);

    if (t->fd == NGX_INVALID_FILE) {
        t->err = errno;

        /* no record yet: empty, and only its first cursor is one */

        if (t->err == ENOENT) {
            t->range.start = t->range.end = WALRUS_RECORD_HEADER_LEN;
            t->rc = (t->after == WALRUS_RECORD_HEADER_LEN) ? WALRUS_OK
                                                           : WALRUS_ECURSOR;
            return;
        }

        t->rc = WALRUS_EIO;
        return;
    }

    t->rc = walrus_record_range(t->fd, t->after, t->limit, &t->range);
    t->err = errno;
}


static void
ngx_walrus_list_done(ngx_http_request_t *r)
{
    ngx_walrus_list_t  *t;

    t = ngx_walrus_node_ctx(r)->list;

    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_walrus_thread_unguard(&t->guard);

    ngx_http_finalize_request(r, ngx_walrus_list_send(r, t));
}


static ngx_int_t
ngx_walrus_list_send(ngx_http_request_t *r, ngx_walrus_list_t *t)
{
    u_char           *next;
    ngx_table_elt_t  *h;

    switch (t->rc) {

    case WALRUS_OK:
        break;

    case WALRUS_ECURSOR:
        if (ngx_walrus_list_identity(r, t) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_walrus_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     NGX_WALRUS_DOMAIN_NODE, "BAD_CURSOR",
                                     "%uL is not the start of an entry of "
                                     "this node's record, nor its end",
                                     t->after);

    case WALRUS_EFORMAT:
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "walrus: \"%s\" is not a record of certified blobs",
                      t->path);
        return ngx_walrus_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     NGX_WALRUS_DOMAIN_NODE, "STORE_ERROR",
                                     "the record of certified blobs does "
                                     "not parse");

    default:
        ngx_log_error(NGX_LOG_ERR, r->connection->log, t->err,
                      "walrus: reading \"%s\" failed: %s", t->path,
                      walrus_strerror(t->rc));
        return ngx_walrus_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     NGX_WALRUS_DOMAIN_NODE, "STORE_ERROR",
                                     "cannot read the record of certified "
                                     "blobs");
    }

    next = ngx_pnalloc(r->pool, NGX_OFF_T_LEN);
    if (next == NULL || ngx_walrus_list_identity(r, t) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h = ngx_walrus_add_header(r, "X-Walrus-Next", next,
                              ngx_sprintf(next, "%uL", t->range.end) - next);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = t->range.end - t->range.start;
    ngx_str_set(&r->headers_out.content_type, "application/octet-stream");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    return ngx_walrus_node_send_range(r, t->fd, (u_char *) t->path,
                                      ngx_strlen(t->path),
                                      (off_t) t->range.start,
                                      (off_t) t->range.end);
}


/* X-Walrus-Record: the log's identity in hex, or "none" without a log */

static ngx_int_t
ngx_walrus_list_identity(ngx_http_request_t *r, ngx_walrus_list_t *t)
{
    u_char  *hex;

    if (t->fd == NGX_INVALID_FILE) {
        return ngx_walrus_header(r, "X-Walrus-Record", NGX_WALRUS_RECORD_NONE)
               != NULL ? NGX_OK : NGX_ERROR;
    }

    hex = ngx_pnalloc(r->pool, 2 * WALRUS_RECORD_ID_LEN);
    if (hex == NULL) {
        return NGX_ERROR;
    }

    ngx_hex_dump(hex, t->range.id, WALRUS_RECORD_ID_LEN);

    return ngx_walrus_add_header(r, "X-Walrus-Record", hex,
                                 2 * WALRUS_RECORD_ID_LEN)
           != NULL ? NGX_OK : NGX_ERROR;
}


static void
ngx_walrus_list_cleanup(void *data)
{
    ngx_walrus_list_t  *t = data;

    if (t->fd != NGX_INVALID_FILE) {
        (void) close(t->fd);
        t->fd = NGX_INVALID_FILE;
    }
}
