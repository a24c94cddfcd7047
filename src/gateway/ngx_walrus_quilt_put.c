/*
 * PUT /v1/quilts: the multipart body is parsed and the quilt (index then
 * files, docs/protocol.md section 20) written into a spare file of the
 * worker by one task in the thread pool, then that file is the blob the
 * write path encodes and stores (ngx_walrus_publish.c).  The answer adds
 * the patch IDs to the blob's.
 */

#include <sys/mman.h>
#include <ngx_walrus_publish.h>
#include <ngx_walrus_quilt.h>
#include <ngx_walrus_spare_file.h>
#include <walrus_file.h>


#define NGX_WALRUS_QUILT_STORED_JSON  ",\"storedQuiltBlobs\":["
#define NGX_WALRUS_QUILT_ITEM_JSON                                           \
    "{\"identifier\":\"\",\"quiltPatchId\":\"\"},"


struct ngx_walrus_quilt_put_s {
    ngx_walrus_thread_t         thread;
    ngx_chain_t                *body;
    off_t                       length;
    u_char                      boundary[72];
    size_t                      blen;
    ngx_fd_t                    fd;         /* the quilt file */
    ngx_str_t                  *dir;        /* its spare files' */
    ngx_log_t                  *log;

    /* set by the task */
    u_char                     *copy;       /* a body in several buffers */
    void                       *map;        /* a body in one file */
    size_t                      map_len;
    walrus_multipart_part_t    *parts;
    walrus_quilt_t              quilt;
    int                         rc;
    const char                 *reason;     /* the error answer's */
    char                        error[WALRUS_QUILT_ERROR_LEN];
};


static void ngx_walrus_quilt_put_cleanup(void *data);
static void ngx_walrus_quilt_put_task(void *data, ngx_log_t *log);
static const u_char *ngx_walrus_quilt_put_bytes(ngx_walrus_quilt_put_t *qp);
static int ngx_walrus_quilt_put_write(ngx_walrus_quilt_put_t *qp);
static void ngx_walrus_quilt_put_built(ngx_http_request_t *r);


ngx_int_t
ngx_walrus_quilt_put_init(ngx_http_request_t *r, ngx_walrus_publish_t *ctx)
{
    size_t                   blen;
    ngx_table_elt_t         *type;
    const uint8_t           *boundary;
    ngx_pool_cleanup_t      *cln;
    ngx_walrus_quilt_put_t  *qp;

    type = r->headers_in.content_type;

    if (type == NULL
        || walrus_multipart_boundary(type->value.data, type->value.len,
                                     &boundary, &blen)
           != WALRUS_OK)
    {
        return NGX_DECLINED;
    }

    qp = ngx_pcalloc(r->pool, sizeof(ngx_walrus_quilt_put_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (qp == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(qp->boundary, boundary, blen);
    qp->blen = blen;
    qp->fd = NGX_INVALID_FILE;
    qp->dir = &ngx_walrus_gateway_loc_conf(r)->temp_path->name;
    qp->log = r->connection->log;

    cln->handler = ngx_walrus_quilt_put_cleanup;
    cln->data = qp;

    ctx->quilt = qp;

    return NGX_OK;
}


/*
 * quilt_version: Walrus's names of the one quilt layout it has (v1, V1,
 * 1); ours has one too.  NGX_ERROR with msg for another.
 */

ngx_int_t
ngx_walrus_quilt_put_version(ngx_http_request_t *r, u_char *msg,
    size_t size)
{
    ngx_str_t  value;

    if (ngx_http_arg(r, (u_char *) "quilt_version", 13, &value) != NGX_OK
        || (value.len == 2 && (value.data[0] | 0x20) == 'v'
            && value.data[1] == '1')
        || (value.len == 1 && value.data[0] == '1'))
    {
        return NGX_OK;
    }

    ngx_snprintf(msg, size, "quilt version \"%V\" is not supported; this "
                 "gateway builds version 1 (v1, V1 or 1)%Z", &value);

    return NGX_ERROR;
}


static void
ngx_walrus_quilt_put_cleanup(void *data)
{
    ngx_walrus_quilt_put_t  *qp = data;

    walrus_quilt_free(&qp->quilt);
    free(qp->parts);
    free(qp->copy);

    if (qp->map != NULL) {
        munmap(qp->map, qp->map_len);
    }

    if (qp->fd != NGX_INVALID_FILE) {
        ngx_walrus_spare_file_close(qp->dir, qp->fd, qp->log);
    }
}


ngx_int_t
ngx_walrus_quilt_put_build(ngx_http_request_t *r, ngx_walrus_publish_t *ctx)
{
    ngx_thread_task_t               *task;
    ngx_walrus_quilt_put_t          *qp;
    ngx_walrus_gateway_loc_conf_t   *wlcf;

    qp = ctx->quilt;
    wlcf = ngx_walrus_gateway_loc_conf(r);

    qp->body = r->request_body->bufs;
    qp->length = ngx_walrus_body_length(qp->body);

    qp->fd = ngx_walrus_spare_file_open(qp->dir, r->connection->log);
    if (qp->fd == NGX_INVALID_FILE) {
        ngx_walrus_publish_finish(ctx,
            ngx_walrus_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                  NGX_WALRUS_DOMAIN_GATEWAY, "INTERNAL_ERROR",
                                  "the gateway cannot create a temp file"));
        return NGX_ERROR;
    }

    ngx_walrus_thread_init(&qp->thread, r, wlcf->thread_pool,
                           NGX_WALRUS_THREAD_JOIN);

    task = ngx_walrus_thread_task(r->pool, ngx_walrus_quilt_put_task, qp);

    if (task == NULL || ngx_walrus_thread_post(&qp->thread, task) != NGX_OK)
    {
        ngx_walrus_publish_finish(ctx,
            ngx_walrus_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                  NGX_WALRUS_DOMAIN_GATEWAY, "OVERLOADED",
                                  "the thread pool's queue is full; retry "
                                  "later"));
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: building a quilt of a %O byte body", qp->length);

    r->write_event_handler = ngx_walrus_quilt_put_built;

    return NGX_OK;
}


/* in a pool thread: parse, check, write the quilt file */

static void
ngx_walrus_quilt_put_task(void *data, ngx_log_t *log)
{
    ngx_walrus_quilt_put_t  *qp = data;

    unsigned       nparts;
    const u_char  *body;

    body = ngx_walrus_quilt_put_bytes(qp);
    if (body == NULL) {
        qp->rc = WALRUS_EIO;
        return;
    }

    /* the parts are one more than the files: _metadata */

    qp->parts = malloc((WALRUS_QUILT_MAX_PATCHES + 1)
                       * sizeof(walrus_multipart_part_t));
    if (qp->parts == NULL) {
        qp->rc = WALRUS_ENOMEM;
        return;
    }

    qp->reason = "INVALID_MULTIPART";
    qp->rc = walrus_multipart_parse(body, qp->length, qp->boundary,
                                    qp->blen, qp->parts,
                                    WALRUS_QUILT_MAX_PATCHES + 1, &nparts,
                                    qp->error);

    if (qp->rc == WALRUS_ELENGTH) {
        qp->reason = "TOO_MANY_PATCHES";
    }

    if (qp->rc != WALRUS_OK) {
        return;
    }

    qp->reason = "INVALID_QUILT";
    qp->rc = walrus_quilt_from_parts(&qp->quilt, qp->parts, nparts,
                                     qp->error);

    if (qp->rc == WALRUS_ELENGTH) {
        qp->reason = nparts > WALRUS_QUILT_MAX_PATCHES ? "TOO_MANY_PATCHES"
                                                       : "QUILT_TOO_LARGE";
    }

    if (qp->rc != WALRUS_OK) {
        return;
    }

    qp->rc = ngx_walrus_quilt_put_write(qp);
}


/*
 * The body as one run of bytes: a body in one file is mapped, one in
 * several buffers (small: a larger one goes to a file) is copied
 */

static const u_char *
ngx_walrus_quilt_put_bytes(ngx_walrus_quilt_put_t *qp)
{
    ngx_buf_t          *b;
    ngx_walrus_body_t   bd;

    b = qp->body != NULL ? qp->body->buf : NULL;

    if (qp->length == 0) {
        return (const u_char *) "";
    }

    if (qp->body->next == NULL && ngx_buf_in_memory(b)) {
        return b->pos;
    }

    if (qp->body->next == NULL && b->in_file) {
        qp->map_len = (size_t) b->file_last;
        qp->map = mmap(NULL, qp->map_len, PROT_READ, MAP_PRIVATE,
                       b->file->fd, 0);
        if (qp->map == MAP_FAILED) {
            qp->map = NULL;
            return NULL;
        }

        return (u_char *) qp->map + b->file_pos;
    }

    qp->copy = malloc(qp->length);
    if (qp->copy == NULL) {
        return NULL;
    }

    ngx_walrus_body_init(&bd, qp->body);

    if (ngx_walrus_body_read(&bd, qp->copy, qp->length) != 0) {
        return NULL;
    }

    return qp->copy;
}


static int
ngx_walrus_quilt_put_write(ngx_walrus_quilt_put_t *qp)
{
    uint8_t               *index;
    unsigned               i;
    walrus_quilt_patch_t  *p;

    index = malloc(qp->quilt.index_len);
    if (index == NULL) {
        return WALRUS_ENOMEM;
    }

    walrus_quilt_index_write(&qp->quilt, index);

    if (lseek(qp->fd, 0, SEEK_SET) != 0
        || walrus_write(qp->fd, index, qp->quilt.index_len) != 0)
    {
        free(index);
        return WALRUS_EIO;
    }

    free(index);

    for (i = 0; i < qp->quilt.npatches; i++) {
        p = &qp->quilt.patches[i];

        if (walrus_write(qp->fd, p->data, p->length) != 0) {
            return WALRUS_EIO;
        }
    }

    return WALRUS_OK;
}


static void
ngx_walrus_quilt_put_built(ngx_http_request_t *r)
{
    ngx_uint_t                      status;
    ngx_walrus_publish_t           *ctx;
    ngx_walrus_quilt_put_t         *qp;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    ctx = ngx_walrus_gateway_publish(r);
    qp = ctx->quilt;
    wlcf = ngx_walrus_gateway_loc_conf(r);

    if (qp->thread.running > 0) {
        return;
    }

    switch (qp->rc) {

    case WALRUS_OK:
        break;

    case WALRUS_ELENGTH:
    case WALRUS_EFORMAT:
        status = qp->rc == WALRUS_ELENGTH ? NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
                                          : NGX_HTTP_BAD_REQUEST;
        ngx_walrus_publish_finish(ctx,
            ngx_walrus_send_error(r, status, NGX_WALRUS_DOMAIN_GATEWAY,
                                  qp->reason, "%s", qp->error));
        return;

    default:
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      "walrus: a quilt could not be built: error %d",
                      qp->rc);
        ngx_walrus_publish_finish(ctx,
            ngx_walrus_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                  NGX_WALRUS_DOMAIN_GATEWAY, "INTERNAL_ERROR",
                                  "the quilt could not be built"));
        return;
    }

    if ((off_t) qp->quilt.length > wlcf->max_blob_size) {
        status = NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
        ngx_walrus_publish_finish(ctx,
            ngx_walrus_send_error(r, status, NGX_WALRUS_DOMAIN_GATEWAY,
                                  "BLOB_TOO_LARGE", "the quilt takes %uL "
                                  "bytes, more than the limit of %O",
                                  qp->quilt.length, wlcf->max_blob_size));
        return;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: quilt of %ud files built: %uD bytes of index, "
                   "%uL in all", qp->quilt.npatches, qp->quilt.index_len,
                   qp->quilt.length);

    ctx->quilt_file.fd = qp->fd;
    ngx_str_set(&ctx->quilt_file.name, "quilt");
    ctx->quilt_file.log = r->connection->log;

    ctx->quilt_buf.in_file = 1;
    ctx->quilt_buf.file = &ctx->quilt_file;
    ctx->quilt_buf.file_pos = 0;
    ctx->quilt_buf.file_last = (off_t) qp->quilt.length;
    ctx->quilt_chain.buf = &ctx->quilt_buf;
    ctx->quilt_chain.next = NULL;

    ngx_walrus_publish_encode(r, &ctx->quilt_chain,
                              (off_t) qp->quilt.length);
}


size_t
ngx_walrus_quilt_put_answer_len(ngx_walrus_quilt_put_t *qp)
{
    size_t                 len;
    unsigned               i;
    walrus_quilt_patch_t  *p;

    len = sizeof(NGX_WALRUS_QUILT_STORED_JSON) + sizeof("]}");

    for (i = 0; i < qp->quilt.npatches; i++) {
        p = &qp->quilt.patches[i];
        len += sizeof(NGX_WALRUS_QUILT_ITEM_JSON) + p->id_len
               + ngx_escape_json(NULL, (u_char *) p->id, p->id_len)
               + WALRUS_QUILT_PATCH_ID_TEXT_LEN;
    }

    return len;
}


u_char *
ngx_walrus_quilt_put_answer(u_char *p, ngx_walrus_quilt_put_t *qp,
    const uint8_t *quilt_id)
{
    unsigned               i;
    walrus_quilt_patch_t  *patch;

    p = ngx_cpymem(p, NGX_WALRUS_QUILT_STORED_JSON,
                   sizeof(NGX_WALRUS_QUILT_STORED_JSON) - 1);

    for (i = 0; i < qp->quilt.npatches; i++) {
        patch = &qp->quilt.patches[i];

        p = ngx_cpymem(p, "{\"identifier\":\"", 15);
        p = (u_char *) ngx_escape_json(p, (u_char *) patch->id,
                                       patch->id_len);
        p = ngx_cpymem(p, "\",\"quiltPatchId\":\"", 18);
        walrus_quilt_patch_id_format(quilt_id, i, (char *) p);
        p += WALRUS_QUILT_PATCH_ID_TEXT_LEN;
        *p++ = '"';
        *p++ = '}';

        if (i + 1 < qp->quilt.npatches) {
            *p++ = ',';
        }
    }

    return ngx_cpymem(p, "]}", 2);
}
