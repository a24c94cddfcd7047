/*
 * Gateway write path, PUT /v1/blobs: read the body, encode it, check for
 * an existing certificate, send a registration signed with the gateway's
 * publisher key, the metadata and sliver pairs to every node,
 * collect confirmations until their signers hold n - f shards, then store
 * the certificate on the nodes and answer.
 */

#include <ngx_walrus_gateway.h>
#include <ngx_walrus_cache.h>
#include <ngx_walrus_memo.h>
#include <ngx_walrus_encode.h>
#include <ngx_walrus_fanout.h>
#include <ngx_walrus_sliver_body.h>
#include <ngx_walrus_spare_file.h>
#include <walrus_base64.h>
#include <walrus_cert.h>
#include <walrus_registration.h>
#include <walrus_sign.h>
#include <jansson.h>


#define NGX_WALRUS_MAX_EPOCHS     53
#define NGX_WALRUS_CAPTURE_JSON   4096

#define NGX_WALRUS_CREATED_JSON                                              \
    "{\"newlyCreated\":{\"blobObject\":{\"id\":\"%s\","                      \
    "\"registeredEpoch\":%uD,\"blobId\":\"%s\",\"size\":%O,"                 \
    "\"encodingType\":\"%s\",\"certifiedEpoch\":%uD,"                        \
    "\"storage\":{\"id\":\"%s\",\"startEpoch\":%uD,"                         \
    "\"endEpoch\":%uD,\"storageSize\":%uL},\"deletable\":%s},"               \
    "\"resourceOperation\":{\"registerFromScratch\":"                        \
    "{\"encodedLength\":%uL,\"epochsAhead\":%ui}},\"cost\":0,"

/* the values of NGX_WALRUS_CREATED_JSON at their longest */
#define NGX_WALRUS_CREATED_VALUES                                            \
    (3 * WALRUS_BLOB_ID_TEXT_LEN + 4 * NGX_INT32_LEN + NGX_OFF_T_LEN         \
     + 2 * NGX_INT64_LEN + NGX_INT_T_LEN + sizeof(WALRUS_ENCODING_NAME)      \
     + sizeof("false"))

#define NGX_WALRUS_CERTIFIED_JSON                                            \
    "{\"alreadyCertified\":{\"blobId\":\"%s\",\"size\":%O,\"endEpoch\":%uD,"

#define NGX_WALRUS_CERTIFIED_VALUES                                          \
    (WALRUS_BLOB_ID_TEXT_LEN + NGX_OFF_T_LEN + NGX_INT32_LEN)

#define NGX_WALRUS_CERT_JSON_HEAD   "\"certificate\":{\"epoch\":%uD,"
#define NGX_WALRUS_CERT_JSON_BYTES  ",\"bytes\":\""
#define NGX_WALRUS_CERT_JSON_END    "\"}}}\n"


typedef enum {
    NGX_WALRUS_CALL_CHECK = 0,
    NGX_WALRUS_CALL_METADATA,
    NGX_WALRUS_CALL_SLIVER,
    NGX_WALRUS_CALL_CONFIRM,
    NGX_WALRUS_CALL_CERT,
    NGX_WALRUS_CALL_REGISTER
} ngx_walrus_call_kind_e;


typedef enum {
    NGX_WALRUS_PUB_CHECKING = 0,
    NGX_WALRUS_PUB_UPLOADING,
    NGX_WALRUS_PUB_CERTIFYING,
    NGX_WALRUS_PUB_DONE
} ngx_walrus_pub_phase_e;


typedef struct {
    ngx_uint_t                pending;    /* sliver uploads running */
    unsigned                  failed:1;
    unsigned                  confirmed:1;
} ngx_walrus_pub_node_t;


struct ngx_walrus_publish_s {
    ngx_http_request_t       *request;
    walrus_committee_t       *committee;
    ngx_walrus_fanout_t       fanout;
    ngx_walrus_encode_t       enc;
    ngx_file_t                file;
    ngx_temp_file_t           body_file;
    ngx_walrus_pub_phase_e    phase;
    ngx_uint_t                epochs;
    ngx_flag_t                permanent;
    ngx_flag_t                force;
    ngx_walrus_pub_node_t    *nodes;
    walrus_cert_t             cert;
    walrus_cert_t            *existing;
    u_char                   *cert_bytes;
    size_t                    cert_len;
    unsigned                  confirmed;  /* shards of valid signers */
    unsigned                  unconfirmed; /* shards of failed nodes */
    unsigned                  no_cert;    /* shards that hold none */
    unsigned                  stored;     /* shards holding the cert */
    unsigned                  not_stored;
    ngx_event_t               deadline;   /* then the stragglers' end */
    ngx_queue_t               lingering;  /* in ngx_walrus_lingering */
    u_char                    registration[WALRUS_REGISTRATION_LEN];
    unsigned                  timed_out:1;
    unsigned                  counted:1;
    unsigned                  is_lingering:1;
};


static ngx_int_t ngx_walrus_publish_args(ngx_http_request_t *r,
    ngx_walrus_publish_t *ctx, u_char *msg, size_t size,
    const char **reason);
static ngx_int_t ngx_walrus_flag(ngx_str_t *value, ngx_flag_t *flag);
static void ngx_walrus_publish_body(ngx_http_request_t *r);
static void ngx_walrus_publish_encoded(ngx_http_request_t *r);
static void ngx_walrus_publish_cleanup(void *data);
static ngx_int_t ngx_walrus_publish_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static void ngx_walrus_publish_timeout(ngx_event_t *ev);
static void ngx_walrus_publish_step(ngx_http_request_t *r);
static void ngx_walrus_publish_handle(ngx_walrus_publish_t *ctx,
    ngx_walrus_call_t *call);
static ngx_int_t ngx_walrus_publish_evaluate(ngx_walrus_publish_t *ctx);
static ngx_int_t ngx_walrus_publish_call(ngx_walrus_publish_t *ctx,
    ngx_uint_t node, ngx_uint_t kind, ngx_uint_t pair, ngx_uint_t method,
    const char *path, ngx_chain_t *body, size_t capture);
static ngx_int_t ngx_walrus_publish_upload(ngx_walrus_publish_t *ctx);
static ngx_int_t ngx_walrus_publish_register(ngx_walrus_publish_t *ctx);
static ngx_int_t ngx_walrus_publish_metadata(ngx_walrus_publish_t *ctx,
    ngx_uint_t node);
static ngx_int_t ngx_walrus_publish_slivers(ngx_walrus_publish_t *ctx,
    ngx_uint_t node);
static ngx_int_t ngx_walrus_publish_certify(ngx_walrus_publish_t *ctx);
static ngx_int_t ngx_walrus_publish_confirmation(ngx_walrus_publish_t *ctx,
    ngx_walrus_call_t *call);
static walrus_cert_t *ngx_walrus_publish_existing(ngx_walrus_publish_t *ctx,
    ngx_walrus_call_t *call);
static ngx_chain_t *ngx_walrus_memory_body(ngx_pool_t *pool, u_char *data,
    size_t len);
static void ngx_walrus_publish_phase(ngx_walrus_publish_t *ctx,
    ngx_walrus_pub_phase_e phase);
static void ngx_walrus_publish_finish(ngx_walrus_publish_t *ctx,
    ngx_int_t rc);
static void ngx_walrus_publish_linger(ngx_walrus_publish_t *ctx);
static void ngx_walrus_publish_linger_timeout(ngx_event_t *ev);
static void ngx_walrus_publish_linger_read(ngx_http_request_t *r);
static void ngx_walrus_publish_linger_end(ngx_walrus_publish_t *ctx);
static ngx_int_t ngx_walrus_publish_respond(ngx_walrus_publish_t *ctx,
    walrus_cert_t *cert, ngx_uint_t created);
static u_char *ngx_walrus_publish_cert_json(ngx_walrus_publish_t *ctx,
    u_char *p, walrus_cert_t *cert, u_char *bytes, size_t len);


static ngx_uint_t  ngx_walrus_uploads;

/*
 * Answered uploads whose requests to slow nodes still run, oldest first:
 * they hold no upload slot, and at most max_uploads of them linger.
 */
static ngx_queue_t  ngx_walrus_lingering;
static ngx_uint_t   ngx_walrus_nlingering;

static ngx_http_request_body_filter_pt  ngx_walrus_next_body_filter;


ngx_int_t
ngx_walrus_publish(ngx_http_request_t *r)
{
    u_char                         *p, msg[256];
    ngx_int_t                       rc;
    const char                     *reason;
    ngx_pool_cleanup_t             *cln;
    ngx_walrus_publish_t           *ctx;
    ngx_walrus_gateway_loc_conf_t  *wlcf;
    ngx_walrus_main_conf_t         *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);
    wlcf = ngx_walrus_gateway_loc_conf(r);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_walrus_publish_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->committee = wmcf->committee;
    ctx->enc.fd = NGX_INVALID_FILE;
    ctx->body_file.file.fd = NGX_INVALID_FILE;
    ctx->epochs = 1;
    ngx_walrus_fanout_init(&ctx->fanout, &wlcf->node_location);

    p = ngx_walrus_publish_args(r, ctx, msg, sizeof(msg), &reason) == NGX_OK
        ? NULL : msg;

    if (p != NULL) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_walrus_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     NGX_WALRUS_DOMAIN_GATEWAY, reason,
                                     "%s", msg);
    }

    if (r->headers_in.content_length_n > wlcf->max_blob_size) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_walrus_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "BLOB_TOO_LARGE",
                                     "the blob is larger than the limit of "
                                     "%O bytes", wlcf->max_blob_size);
    }

    if (ngx_walrus_uploads >= wlcf->max_uploads) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_walrus_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "TOO_MANY_UPLOADS",
                                     "the gateway is busy storing %ui "
                                     "blobs; retry later", ngx_walrus_uploads);
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_walrus_publish_cleanup;
    cln->data = ctx;

    ngx_walrus_uploads++;
    ctx->counted = 1;

    ngx_walrus_gateway_ctx(r)->publish = ctx;

    rc = ngx_http_read_client_request_body(r, ngx_walrus_publish_body);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* Walrus publisher parameters: epochs, permanent, deletable, force */

static ngx_int_t
ngx_walrus_publish_args(ngx_http_request_t *r, ngx_walrus_publish_t *ctx,
    u_char *msg, size_t size, const char **reason)
{
    u_char      *p, *last, *amp, *eq;
    ngx_int_t    n;
    ngx_str_t    name, value;
    ngx_flag_t   deletable;

    deletable = NGX_CONF_UNSET;
    p = r->args.data;
    last = r->args.data + r->args.len;

    while (p < last) {
        amp = ngx_strlchr(p, last, '&');
        if (amp == NULL) {
            amp = last;
        }

        eq = ngx_strlchr(p, amp, '=');

        name.data = p;
        name.len = (eq ? eq : amp) - p;
        value.data = eq ? eq + 1 : amp;
        value.len = eq ? (size_t) (amp - eq - 1) : 0;
        p = amp + 1;

        if (name.len == 0) {
            continue;
        }

        if (name.len == 6 && ngx_strncmp(name.data, "epochs", 6) == 0) {
            n = ngx_atoi(value.data, value.len);
            if (n < 1 || n > NGX_WALRUS_MAX_EPOCHS) {
                goto invalid;
            }

            ctx->epochs = n;

        } else if (name.len == 9
                   && ngx_strncmp(name.data, "permanent", 9) == 0)
        {
            if (ngx_walrus_flag(&value, &ctx->permanent) != NGX_OK) {
                goto invalid;
            }

        } else if (name.len == 9
                   && ngx_strncmp(name.data, "deletable", 9) == 0)
        {
            if (ngx_walrus_flag(&value, &deletable) != NGX_OK) {
                goto invalid;
            }

        } else if (name.len == 5 && ngx_strncmp(name.data, "force", 5) == 0) {
            if (ngx_walrus_flag(&value, &ctx->force) != NGX_OK) {
                goto invalid;
            }

        } else {
            *reason = "UNKNOWN_PARAMETER";
            ngx_snprintf(msg, size, "unknown query parameter \"%V\"; known: "
                         "epochs, permanent, deletable, force%Z", &name);
            return NGX_ERROR;
        }

        continue;

    invalid:

        *reason = "INVALID_PARAMETER";
        ngx_snprintf(msg, size, "invalid value \"%V\" for \"%V\" (epochs: "
                     "1..%d; flags: true or false)%Z", &value, &name,
                     NGX_WALRUS_MAX_EPOCHS);
        return NGX_ERROR;
    }

    if (deletable == 1 && ctx->permanent == 1) {
        *reason = "INVALID_BLOB_PERSISTENCE";
        ngx_snprintf(msg, size, "a blob cannot be both deletable and "
                     "permanent%Z");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_walrus_flag(ngx_str_t *value, ngx_flag_t *flag)
{
    if (value->len == 4 && ngx_strncmp(value->data, "true", 4) == 0) {
        *flag = 1;
        return NGX_OK;
    }

    if (value->len == 5 && ngx_strncmp(value->data, "false", 5) == 0) {
        *flag = 0;
        return NGX_OK;
    }

    return NGX_ERROR;
}


static void
ngx_walrus_publish_cleanup(void *data)
{
    ngx_walrus_publish_t           *ctx = data;
    ngx_log_t                      *log;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }

    if (ctx->counted) {
        ngx_walrus_uploads--;
    }

    if (ctx->is_lingering) {
        ngx_queue_remove(&ctx->lingering);
        ngx_walrus_nlingering--;
    }

    ctx->fanout.closed = 1;
    ngx_walrus_encode_free(&ctx->enc);

    log = ctx->request->connection->log;
    wlcf = ngx_walrus_gateway_loc_conf(ctx->request);

    if (ctx->enc.fd != NGX_INVALID_FILE) {
        ngx_walrus_spare_file_close(&wlcf->temp_path->name, ctx->enc.fd,
                                    log);
    }

    if (ctx->body_file.file.fd != NGX_INVALID_FILE) {
        ngx_walrus_spare_file_close(&ctx->body_file.path->name,
                                    ctx->body_file.file.fd, log);
    }
}


ngx_int_t
ngx_walrus_publish_init_filter(ngx_conf_t *cf)
{
    ngx_walrus_next_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_walrus_publish_body_filter;

    return NGX_OK;
}


/*
 * An upload's body that does not fit client_body_buffer_size goes to a
 * spare file of the worker instead of a new temporary file.
 */

static ngx_int_t
ngx_walrus_publish_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_temp_file_t                *tf;
    ngx_walrus_publish_t           *ctx;
    ngx_walrus_gateway_loc_conf_t  *wlcf;
    ngx_http_core_loc_conf_t       *clcf;

    wlcf = ngx_walrus_gateway_loc_conf(r);
    ctx = ngx_walrus_gateway_publish(r);

    /* a gateway reads no other body than an upload's */

    if (!wlcf->gateway || ctx == NULL || r != r->main
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

    tf = &ctx->body_file;
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


static void
ngx_walrus_publish_body(ngx_http_request_t *r)
{
    off_t                           len;
    ngx_uint_t                      inline_encode;
    ngx_walrus_publish_t           *ctx;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    ctx = ngx_walrus_gateway_publish(r);
    wlcf = ngx_walrus_gateway_loc_conf(r);

    if (r->request_body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    len = ngx_walrus_body_length(r->request_body->bufs);

    if (len > wlcf->max_blob_size) {
        ngx_http_finalize_request(r,
            ngx_walrus_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                  NGX_WALRUS_DOMAIN_GATEWAY, "BLOB_TOO_LARGE",
                                  "the blob is larger than the limit of %O "
                                  "bytes", wlcf->max_blob_size));
        return;
    }

    /* a client that goes away ends the request and its subrequests */
    r->read_event_handler = ngx_http_test_reading;

    ctx->enc.body = r->request_body->bufs;
    ctx->enc.length = len;
    ctx->enc.n = ctx->committee->params.n;
    ctx->enc.segment_size = ctx->committee->segment_size;

    ctx->deadline.handler = ngx_walrus_publish_timeout;
    ctx->deadline.data = r;
    ctx->deadline.log = r->connection->log;
    ngx_add_timer(&ctx->deadline, wlcf->timeout);

    r->write_event_handler = ngx_walrus_publish_encoded;

    inline_encode = (size_t) len <= wlcf->inline_size;

    ctx->enc.fd = ngx_walrus_spare_file_open(&wlcf->temp_path->name,
                                             r->connection->log);
    if (ctx->enc.fd == NGX_INVALID_FILE) {
        ngx_http_finalize_request(r,
            ngx_walrus_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                  NGX_WALRUS_DOMAIN_GATEWAY, "INTERNAL_ERROR",
                                  "the gateway cannot create a temp file"));
        return;
    }

    if (ngx_walrus_encode_run(&ctx->enc, r, wlcf->thread_pool, inline_encode)
        == NGX_OK)
    {
        ngx_walrus_publish_encoded(r);
    }
}


static void
ngx_walrus_publish_encoded(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_uint_t             i;
    ngx_walrus_publish_t  *ctx;

    ctx = ngx_walrus_gateway_publish(r);

    rc = ngx_walrus_encode_join(&ctx->enc);

    if (rc == NGX_AGAIN) {
        return;
    }

    if (rc == NGX_BUSY) {
        ngx_walrus_publish_finish(ctx,
            ngx_walrus_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                  NGX_WALRUS_DOMAIN_GATEWAY,
                                  "OVERLOADED", "the encoder queue is full; "
                                  "retry later"));
        return;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "walrus: %s", ctx->enc.error);
        ngx_walrus_publish_finish(ctx,
            ngx_walrus_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                  NGX_WALRUS_DOMAIN_GATEWAY, "INTERNAL_ERROR",
                                  "the blob could not be encoded"));
        return;
    }

    ctx->file.fd = ctx->enc.fd;
    ngx_str_set(&ctx->file.name, "walrus sliver file");
    ctx->file.log = r->connection->log;

    ctx->nodes = ngx_pcalloc(r->pool, ctx->committee->nnodes
                                      * sizeof(ngx_walrus_pub_node_t));
    if (ctx->nodes == NULL) {
        ngx_walrus_publish_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    walrus_cert_init(&ctx->cert, ctx->committee->epoch, ctx->enc.blob_id);
    r->write_event_handler = ngx_walrus_publish_step;

    if (ctx->force) {
        ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_UPLOADING);

        if (ngx_walrus_publish_upload(ctx) != NGX_OK) {
            ngx_walrus_publish_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

        return;
    }

    ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_CHECKING);

    for (i = 0; i < ctx->committee->nnodes; i++) {
        if (ngx_walrus_publish_call(ctx, i, NGX_WALRUS_CALL_CHECK, 0,
                                    NGX_HTTP_GET, "certificate", NULL,
                                    WALRUS_CERT_MAX_SIZE)
            != NGX_OK)
        {
            ngx_walrus_publish_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }
}


static ngx_int_t
ngx_walrus_publish_call(ngx_walrus_publish_t *ctx, ngx_uint_t node,
    ngx_uint_t kind, ngx_uint_t pair, ngx_uint_t method, const char *path,
    ngx_chain_t *body, size_t capture)
{
    ngx_walrus_call_t  *call;

    call = ngx_walrus_fanout_call(ctx->request, &ctx->fanout, NULL, node,
                                  method, ctx->enc.id_text, path, body,
                                  capture);
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->kind = kind;
    call->pair = pair;

    return NGX_OK;
}


static ngx_chain_t *
ngx_walrus_memory_body(ngx_pool_t *pool, u_char *data, size_t len)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    b = ngx_calloc_buf(pool);
    cl = ngx_alloc_chain_link(pool);
    if (b == NULL || cl == NULL) {
        return NULL;
    }

    b->pos = data;
    b->last = data + len;
    b->memory = 1;
    b->last_buf = 1;

    cl->buf = b;
    cl->next = NULL;

    return cl;
}


/*
 * The registration to every node; a node's metadata follows its
 * registration, its slivers its metadata
 */

static ngx_int_t
ngx_walrus_publish_upload(ngx_walrus_publish_t *ctx)
{
    ngx_uint_t    i;
    ngx_chain_t  *b;

    if (ngx_walrus_publish_register(ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = 0; i < ctx->committee->nnodes; i++) {
        b = ngx_walrus_memory_body(ctx->request->pool, ctx->registration,
                                   WALRUS_REGISTRATION_LEN);
        if (b == NULL
            || ngx_walrus_publish_call(ctx, i, NGX_WALRUS_CALL_REGISTER, 0,
                                       NGX_HTTP_PUT, "registration", b,
                                       NGX_WALRUS_CAPTURE_JSON)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* nodes store only blobs that a publisher of the committee registered */

static ngx_int_t
ngx_walrus_publish_register(ngx_walrus_publish_t *ctx)
{
    int                             rc;
    ngx_walrus_gateway_loc_conf_t  *wlcf;
    walrus_registration_t           reg;

    wlcf = ngx_walrus_gateway_loc_conf(ctx->request);

    ngx_memzero(&reg, sizeof(walrus_registration_t));
    reg.epoch = ctx->committee->epoch;
    ngx_memcpy(reg.blob_id, ctx->enc.blob_id, WALRUS_BLOB_ID_LEN);
    reg.length = ctx->enc.length;
    reg.end_epoch = reg.epoch + (uint32_t) ctx->epochs;
    reg.deletable = ctx->permanent ? 0 : 1;

    rc = walrus_registration_sign(&reg, wlcf->gateway_key);
    if (rc != WALRUS_OK) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "walrus: signing the registration of %s failed: %s",
                      ctx->enc.id_text, walrus_strerror(rc));
        return NGX_ERROR;
    }

    walrus_registration_serialize(&reg, ctx->registration);

    return NGX_OK;
}


static ngx_int_t
ngx_walrus_publish_metadata(ngx_walrus_publish_t *ctx, ngx_uint_t node)
{
    ngx_chain_t  *b;

    b = ngx_walrus_memory_body(ctx->request->pool, ctx->enc.metadata,
                               ctx->enc.metadata_len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    return ngx_walrus_publish_call(ctx, node, NGX_WALRUS_CALL_METADATA, 0,
                                   NGX_HTTP_PUT, "metadata", b,
                                   NGX_WALRUS_CAPTURE_JSON);
}


static ngx_int_t
ngx_walrus_publish_slivers(ngx_walrus_publish_t *ctx, ngx_uint_t node)
{
    char            path[64];
    unsigned        i, pair, axis;
    ngx_chain_t    *b;
    walrus_node_t  *wn;

    wn = &ctx->committee->nodes[node];

    for (i = 0; i < wn->nshards; i++) {
        pair = walrus_shard_to_pair(&ctx->committee->params,
                                    ctx->enc.blob_id, wn->shards[i]);

        for (axis = 0; axis < 2; axis++) {
            b = ngx_walrus_sliver_body(ctx->request->pool, &ctx->enc,
                                       &ctx->file, pair, axis);
            if (b == NULL) {
                return NGX_ERROR;
            }

            ngx_snprintf((u_char *) path, sizeof(path), "slivers/%ud/%s%Z",
                         pair, axis == WALRUS_PRIMARY ? "primary"
                                                      : "secondary");

            if (ngx_walrus_publish_call(ctx, node, NGX_WALRUS_CALL_SLIVER,
                                        pair, NGX_HTTP_PUT, path, b,
                                        NGX_WALRUS_CAPTURE_JSON)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            ctx->nodes[node].pending++;
        }
    }

    return NGX_OK;
}


static void
ngx_walrus_publish_timeout(ngx_event_t *ev)
{
    ngx_connection_t      *c;
    ngx_http_request_t    *r;
    ngx_walrus_publish_t  *ctx;

    r = ev->data;
    c = r->connection;
    ctx = ngx_walrus_gateway_publish(r);

    ngx_http_set_log_request(c->log, r);

    ctx->timed_out = 1;
    ngx_walrus_publish_step(r);
    ngx_http_run_posted_requests(c);
}


static void
ngx_walrus_publish_step(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_walrus_call_t     *call;
    ngx_walrus_publish_t  *ctx;

    ctx = ngx_walrus_gateway_publish(r);

    if (ctx->phase == NGX_WALRUS_PUB_DONE) {
        return;
    }

    while ((call = ngx_walrus_fanout_next(&ctx->fanout)) != NULL) {
        ngx_walrus_publish_handle(ctx, call);
    }

    rc = ngx_walrus_publish_evaluate(ctx);

    if (rc != NGX_AGAIN) {
        ngx_walrus_publish_finish(ctx, rc);
    }
}


static void
ngx_walrus_publish_handle(ngx_walrus_publish_t *ctx, ngx_walrus_call_t *call)
{
    unsigned                weight;
    ngx_uint_t              ok;
    ngx_walrus_pub_node_t  *pn;

    pn = &ctx->nodes[call->node];
    weight = ctx->committee->nodes[call->node].nshards;
    ok = call->status == NGX_HTTP_OK || call->status == NGX_HTTP_CREATED;

    if (!ok && call->kind != NGX_WALRUS_CALL_CHECK) {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "walrus: node %s answered %ui to %V",
                      ctx->committee->nodes[call->node].name, call->status,
                      &call->node_uri);
    }

    switch (call->kind) {

    case NGX_WALRUS_CALL_CHECK:
        if (ctx->existing == NULL && ok) {
            ctx->existing = ngx_walrus_publish_existing(ctx, call);
        }

        if (ctx->existing == NULL) {
            ctx->no_cert += weight;
        }

        return;

    case NGX_WALRUS_CALL_REGISTER:
        if (ok && ngx_walrus_publish_metadata(ctx, call->node) == NGX_OK) {
            return;
        }

        break;

    case NGX_WALRUS_CALL_METADATA:
        if (ok && ngx_walrus_publish_slivers(ctx, call->node) == NGX_OK) {
            return;
        }

        break;

    case NGX_WALRUS_CALL_SLIVER:
        if (pn->failed) {
            return;
        }

        if (ok) {
            if (--pn->pending == 0
                && ngx_walrus_publish_call(ctx, call->node,
                                           NGX_WALRUS_CALL_CONFIRM, 0,
                                           NGX_HTTP_GET, "confirmation",
                                           NULL, NGX_WALRUS_CAPTURE_JSON)
                   != NGX_OK)
            {
                break;
            }

            return;
        }

        break;

    case NGX_WALRUS_CALL_CONFIRM:
        if (ok && ngx_walrus_publish_confirmation(ctx, call) == NGX_OK) {
            pn->confirmed = 1;
            ctx->confirmed += weight;
            return;
        }

        break;

    default: /* NGX_WALRUS_CALL_CERT */
        if (ok) {
            ctx->stored += weight;

        } else {
            ctx->not_stored += weight;
        }

        return;
    }

    if (!pn->failed) {
        pn->failed = 1;
        ctx->unconfirmed += weight;
    }
}


/* a node's confirmation counts only when its signature verifies */

static ngx_int_t
ngx_walrus_publish_confirmation(ngx_walrus_publish_t *ctx,
    ngx_walrus_call_t *call)
{
    size_t          len;
    json_t         *root, *sig;
    uint8_t         raw[WALRUS_SIG_LEN + 3];
    ngx_int_t       rc;
    const char     *text;
    json_error_t    err;
    walrus_node_t  *wn;

    wn = &ctx->committee->nodes[call->node];
    rc = NGX_ERROR;

    if (call->truncated) {
        return NGX_ERROR;
    }

    root = json_loadb((char *) call->body, call->body_len, 0, &err);
    if (root == NULL) {
        goto invalid;
    }

    sig = json_object_get(json_object_get(json_object_get(
              json_object_get(root, "success"), "data"), "signed"),
              "signature");
    text = json_string_value(sig);

    /* once certified, the certificate stays as it was stored */

    if (text != NULL
        && walrus_base64url_encoded_len(WALRUS_SIG_LEN) == strlen(text)
        && walrus_base64url_decode(text, strlen(text), raw, &len) == WALRUS_OK
        && len == WALRUS_SIG_LEN
        && walrus_confirmation_verify(wn->public_key, ctx->committee->epoch,
                                      ctx->enc.blob_id, raw) == WALRUS_OK
        && (ctx->phase != NGX_WALRUS_PUB_UPLOADING
            || walrus_cert_add(&ctx->cert, (uint16_t) call->node, raw)
               == WALRUS_OK))
    {
        rc = NGX_OK;
    }

    json_decref(root);

    if (rc == NGX_OK) {
        return NGX_OK;
    }

invalid:

    ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                  "walrus: node %s sent an invalid confirmation for %s",
                  wn->name, ctx->enc.id_text);

    return NGX_ERROR;
}


static walrus_cert_t *
ngx_walrus_publish_existing(ngx_walrus_publish_t *ctx,
    ngx_walrus_call_t *call)
{
    walrus_cert_t  *cert;

    if (call->truncated) {
        return NULL;
    }

    cert = ngx_palloc(ctx->request->pool, sizeof(walrus_cert_t));
    if (cert == NULL) {
        return NULL;
    }

    if (ngx_walrus_cert_check(ctx->committee, cert, call->body,
                              call->body_len, ctx->enc.blob_id)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "walrus: node %s sent a certificate that is not a "
                      "valid one of blob %s; dropped",
                      ctx->committee->nodes[call->node].name,
                      ctx->enc.id_text);
        return NULL;
    }

    return cert;
}


/*
 * NGX_AGAIN while waiting, otherwise the status (or NGX_OK after a
 * response was sent) to finish with.
 */

static ngx_int_t
ngx_walrus_publish_evaluate(ngx_walrus_publish_t *ctx)
{
    unsigned             n, f;
    ngx_uint_t           over;
    ngx_http_request_t  *r;

    r = ctx->request;
    n = ctx->committee->params.n;
    f = ctx->committee->params.f;

    /* past the deadline, or nothing left running that could help */
    over = ctx->timed_out
           || (ctx->fanout.active == 0 && ngx_queue_empty(&ctx->fanout.done));

    switch (ctx->phase) {

    case NGX_WALRUS_PUB_CHECKING:
        if (ctx->existing != NULL) {
            ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_DONE);
            return ngx_walrus_publish_respond(ctx, ctx->existing, 0);
        }

        /* a stored certificate is on f + 1 shards: one must have answered */

        if (ctx->no_cert >= n - f || over) {
            ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_UPLOADING);

            if (ngx_walrus_publish_upload(ctx) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        return NGX_AGAIN;

    case NGX_WALRUS_PUB_UPLOADING:
        if (ctx->confirmed >= n - f) {
            ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_CERTIFYING);

            if (ngx_walrus_publish_certify(ctx) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return NGX_AGAIN;
        }

        if (ctx->unconfirmed > f || over) {
            ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_DONE);
            return ngx_walrus_send_error(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                         NGX_WALRUS_DOMAIN_GATEWAY,
                                         "INSUFFICIENT_CONFIRMATIONS",
                                         "only %ud of the %ud shards needed "
                                         "confirmed blob %s",
                                         ctx->confirmed, n - f,
                                         ctx->enc.id_text);
        }

        return NGX_AGAIN;

    case NGX_WALRUS_PUB_CERTIFYING:
        if (ctx->stored >= f + 1) {
            ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_DONE);
            return ngx_walrus_publish_respond(ctx, &ctx->cert, 1);
        }

        if (ctx->not_stored > n - f - 1 || over) {
            ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_DONE);
            return ngx_walrus_send_error(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                         NGX_WALRUS_DOMAIN_GATEWAY,
                                         "CERTIFICATE_NOT_STORED",
                                         "the certificate of blob %s reached "
                                         "only %ud shards", ctx->enc.id_text,
                                         ctx->stored);
        }

        return NGX_AGAIN;

    default:
        return NGX_AGAIN;
    }
}


static ngx_int_t
ngx_walrus_publish_certify(ngx_walrus_publish_t *ctx)
{
    ngx_uint_t    i;
    ngx_chain_t  *b;

    ctx->cert_len = walrus_cert_size(&ctx->cert);
    ctx->cert_bytes = ngx_pnalloc(ctx->request->pool, ctx->cert_len);
    if (ctx->cert_bytes == NULL) {
        return NGX_ERROR;
    }

    walrus_cert_serialize(&ctx->cert, ctx->cert_bytes);

    for (i = 0; i < ctx->committee->nnodes; i++) {
        b = ngx_walrus_memory_body(ctx->request->pool, ctx->cert_bytes,
                                   ctx->cert_len);
        if (b == NULL
            || ngx_walrus_publish_call(ctx, i, NGX_WALRUS_CALL_CERT, 0,
                                       NGX_HTTP_PUT, "certificate", b,
                                       NGX_WALRUS_CAPTURE_JSON)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static void
ngx_walrus_publish_phase(ngx_walrus_publish_t *ctx,
    ngx_walrus_pub_phase_e phase)
{
#if (NGX_DEBUG)
    static const char  *names[] = {
        "checking", "uploading", "certifying", "done"
    };

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "walrus: upload of %s: %s -> %s", ctx->enc.id_text,
                   names[ctx->phase], names[phase]);
#endif

    ctx->phase = phase;
}


static void
ngx_walrus_publish_finish(ngx_walrus_publish_t *ctx, ngx_int_t rc)
{
    ngx_http_request_t  *r;

    r = ctx->request;

    ngx_walrus_publish_phase(ctx, NGX_WALRUS_PUB_DONE);

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }

    /* the upload is over for the client: its slot is free at once */

    if (ctx->counted) {
        ngx_walrus_uploads--;
        ctx->counted = 0;
    }

    ctx->fanout.closed = 1;
    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: upload of %s finished: %i, %ui node requests "
                   "running", ctx->enc.id_text, rc, ctx->fanout.active);

    if (ctx->fanout.active == 0) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    /* the requests still running hold the request: it stays valid */

    ngx_walrus_publish_linger(ctx);
    ngx_http_finalize_request(r, rc);

    if (!ctx->is_lingering) {
        return;
    }

    /*
     * Finalizing set nginx's own read handler; a request already
     * pipelined, or bytes already there, end the lingering soon.
     */

    r->read_event_handler = ngx_walrus_publish_linger_read;

    if (r->stream == NULL
        && (r->connection->read->ready
            || r->header_in->pos < r->header_in->last))
    {
        ngx_post_event(r->connection->read, &ngx_posted_events);
    }
}


/*
 * Nodes slower than the quorum may still take their slivers and the
 * certificate: they get straggler_timeout for it, or until the client
 * sends its next request or goes away, then their requests are cancelled
 * (such nodes heal later).  The client is never made to wait for them.
 */

static void
ngx_walrus_publish_linger(ngx_walrus_publish_t *ctx)
{
    ngx_queue_t                    *q;
    ngx_http_request_t             *r;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    r = ctx->request;
    wlcf = ngx_walrus_gateway_loc_conf(r);

    if (ngx_walrus_lingering.next == NULL) {
        ngx_queue_init(&ngx_walrus_lingering);
    }

    ctx->deadline.handler = ngx_walrus_publish_linger_timeout;
    ctx->deadline.data = ctx;
    ctx->deadline.log = r->connection->log;
    ngx_add_timer(&ctx->deadline, wlcf->straggler_timeout);

    ngx_queue_insert_tail(&ngx_walrus_lingering, &ctx->lingering);
    ngx_walrus_nlingering++;
    ctx->is_lingering = 1;

    /* the bound: the oldest lingering upload gives up first */

    while (ngx_walrus_nlingering > wlcf->max_uploads) {
        q = ngx_queue_head(&ngx_walrus_lingering);
        ngx_walrus_publish_linger_end(ngx_queue_data(q, ngx_walrus_publish_t,
                                                     lingering));
    }
}


static void
ngx_walrus_publish_linger_timeout(ngx_event_t *ev)
{
    ngx_walrus_publish_linger_end(ev->data);
}


static void
ngx_walrus_publish_linger_read(ngx_http_request_t *r)
{
    ngx_walrus_publish_t  *ctx;

    ctx = ngx_walrus_gateway_publish(r);

    if (ctx != NULL && ctx->is_lingering) {
        ngx_walrus_publish_linger_end(ctx);
        return;
    }

    ngx_http_block_reading(r);
}


static void
ngx_walrus_publish_linger_end(ngx_walrus_publish_t *ctx)
{
    ngx_http_request_t  *r;

    r = ctx->request;

    if (ctx->deadline.timer_set) {
        ngx_del_timer(&ctx->deadline);
    }

    ngx_queue_remove(&ctx->lingering);
    ngx_walrus_nlingering--;
    ctx->is_lingering = 0;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "walrus: upload of %s answered; cancelling %ui requests to "
                  "slow nodes", ctx->enc.id_text, ctx->fanout.active);

    /* the last subrequest to close would free the request under us */

    r->main->count++;
    ngx_walrus_fanout_cancel_all(&ctx->fanout);
    ngx_http_finalize_request(r, NGX_DONE);
}


static u_char *
ngx_walrus_publish_cert_json(ngx_walrus_publish_t *ctx, u_char *p,
    walrus_cert_t *cert, u_char *bytes, size_t len)
{
    p = ngx_sprintf(p, NGX_WALRUS_CERT_JSON_HEAD, cert->epoch);
    p = ngx_walrus_signers_json(p, ctx->committee, cert);
    p = ngx_cpymem(p, NGX_WALRUS_CERT_JSON_BYTES,
                   sizeof(NGX_WALRUS_CERT_JSON_BYTES) - 1);
    p += walrus_base64url_encode(bytes, len, (char *) p);

    return ngx_cpymem(p, NGX_WALRUS_CERT_JSON_END,
                      sizeof(NGX_WALRUS_CERT_JSON_END) - 1);
}


static ngx_int_t
ngx_walrus_publish_respond(ngx_walrus_publish_t *ctx, walrus_cert_t *cert,
    ngx_uint_t created)
{
    u_char              *p, *bytes;
    size_t               size, len;
    uint32_t             epoch;
    ngx_str_t            body;
    ngx_http_request_t  *r;

    r = ctx->request;
    epoch = ctx->committee->epoch;

    len = walrus_cert_size(cert);
    bytes = ngx_pnalloc(r->pool, len);
    if (bytes == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    walrus_cert_serialize(cert, bytes);

    /* what was just certified is read soon: the cache has it first */
    ngx_walrus_cache_store(r, ctx->enc.id_text, ctx->enc.metadata,
                           ctx->enc.metadata_len, bytes, len);
    ngx_walrus_memo_put(r, ctx->enc.blob_id, ctx->enc.metadata,
                        ctx->enc.metadata_len, bytes, len, ctx->enc.type);

    if (ctx->enc.type != NULL) {
        ngx_walrus_cache_store_type(r, ctx->enc.id_text, ctx->enc.type);
    }

    size = (created ? sizeof(NGX_WALRUS_CREATED_JSON)
                      + NGX_WALRUS_CREATED_VALUES
                    : sizeof(NGX_WALRUS_CERTIFIED_JSON)
                      + NGX_WALRUS_CERTIFIED_VALUES)
           + sizeof(NGX_WALRUS_CERT_JSON_HEAD) + NGX_INT32_LEN
           + ngx_walrus_signers_json_len(ctx->committee, cert)
           + sizeof(NGX_WALRUS_CERT_JSON_BYTES)
           + walrus_base64url_encoded_len(len)
           + sizeof(NGX_WALRUS_CERT_JSON_END);

    body.data = ngx_pnalloc(r->pool, size);
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (created) {
        p = ngx_sprintf(body.data, NGX_WALRUS_CREATED_JSON, ctx->enc.id_text,
                        epoch, ctx->enc.id_text, ctx->enc.length,
                        WALRUS_ENCODING_NAME, epoch, ctx->enc.id_text, epoch,
                        epoch + (uint32_t) ctx->epochs, ctx->enc.encoded_size,
                        ctx->permanent ? "false" : "true",
                        ctx->enc.encoded_size, ctx->epochs);

    } else {
        p = ngx_sprintf(body.data, NGX_WALRUS_CERTIFIED_JSON,
                        ctx->enc.id_text, ctx->enc.length,
                        cert->epoch + (uint32_t) ctx->epochs);
    }

    p = ngx_walrus_publish_cert_json(ctx, p, cert, bytes, len);
    body.len = p - body.data;

    return ngx_walrus_send_json(r, NGX_HTTP_OK, &body);
}
