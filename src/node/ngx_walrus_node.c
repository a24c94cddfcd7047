/*
 * Storage node role: request dispatch and the read side of its API.
 */

#include <ngx_walrus_node_keeper.h>
#include <walrus_store.h>
#include <walrus_base64.h>
#include <walrus_sign.h>


#define NGX_WALRUS_HEALTH_JSON                                               \
    "{\"status\":\"ready\",\"node\":\"%V\",\"epoch\":%uD,\"nShards\":%ud,"   \
    "\"shards\":["

#define NGX_WALRUS_NODE_STATUS_JSON                                          \
    "{\"blobId\":\"%s\",\"metadata\":%s,\"certified\":%s,"                   \
    "\"inconsistent\":%s,\"slivers\":["

#define NGX_WALRUS_NODE_SLIVER_JSON                                          \
    "%s{\"shard\":%ud,\"pair\":%ud,\"primary\":%s,\"secondary\":%s}"

#define NGX_WALRUS_NODE_STORED_JSON  "],\"stored\":%s}"



static ngx_int_t ngx_walrus_node_get(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);
static ngx_int_t ngx_walrus_node_send_file(ngx_http_request_t *r,
    ngx_walrus_route_t *rt, const char *name, const char *reason);
static ngx_int_t ngx_walrus_node_health(ngx_http_request_t *r);
static ngx_int_t ngx_walrus_node_status(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);
static ngx_uint_t ngx_walrus_node_has(ngx_http_request_t *r,
    ngx_walrus_route_t *rt, const char *name);
static ngx_int_t ngx_walrus_node_flag(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);
static ngx_int_t ngx_walrus_node_assigned(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);


ngx_int_t
ngx_walrus_node_handler(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_table_elt_t         *allow;
    ngx_walrus_route_t       rt;
    ngx_walrus_node_ctx_t   *ctx;
    ngx_walrus_main_conf_t  *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_walrus_node_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_walrus_node_module);

    rc = ngx_walrus_route_parse(&r->uri, &rt);

    if (rc == NGX_OK && rt.kind == NGX_WALRUS_ROUTE_SLIVER
        && rt.pair >= wmcf->committee->params.n)
    {
        rc = NGX_DECLINED;
    }

    if (rc == NGX_OK) {
        rc = ngx_walrus_node_client_check(r, &rt);

        if (rc != NGX_DECLINED) {
            return rc;
        }

        rc = NGX_OK;
    }

    /* DELETE /v1/blobs/{id}: a deletion by the blob's publisher (19.5) */

    if (rc == NGX_OK && rt.kind == NGX_WALRUS_ROUTE_BLOB
        && r->method == NGX_HTTP_DELETE)
    {
        return ngx_walrus_node_put(r, &rt);
    }

    /* the gateway's routes are no node endpoints */

    if (rc != NGX_OK || rt.kind == NGX_WALRUS_ROUTE_BLOBS
        || rt.kind == NGX_WALRUS_ROUTE_BLOB
        || rt.kind == NGX_WALRUS_ROUTE_BYTE_RANGE
        || rt.kind == NGX_WALRUS_ROUTE_AUDITS
        || rt.kind == NGX_WALRUS_ROUTE_AUDITS_CERT
        || rt.kind == NGX_WALRUS_ROUTE_AUDITS_FRAUD
        || rt.kind == NGX_WALRUS_ROUTE_LIVENESS
        || rt.kind == NGX_WALRUS_ROUTE_API)
    {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_ERROR) {
            return ngx_walrus_send_error(r, NGX_HTTP_BAD_REQUEST,
                                         NGX_WALRUS_DOMAIN_NODE,
                                         "INVALID_BLOB_ID",
                                         "the blob ID is not 43 characters "
                                         "of URL-safe base64");
        }

        return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                     NGX_WALRUS_DOMAIN_NODE, "NO_SUCH_PATH",
                                     "no such storage node endpoint");
    }

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_walrus_node_get(r, &rt);
    }

    if (r->method == NGX_HTTP_PUT
        && (rt.kind == NGX_WALRUS_ROUTE_METADATA
            || rt.kind == NGX_WALRUS_ROUTE_SLIVER
            || rt.kind == NGX_WALRUS_ROUTE_CERTIFICATE
            || rt.kind == NGX_WALRUS_ROUTE_REGISTRATION))
    {
        if (rt.kind == NGX_WALRUS_ROUTE_SLIVER
            && ngx_walrus_node_assigned(r, &rt) != NGX_OK)
        {
            if (ngx_http_discard_request_body(r) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_walrus_send_error(r, NGX_HTTP_BAD_REQUEST,
                                         NGX_WALRUS_DOMAIN_NODE,
                                         "SHARD_NOT_ASSIGNED",
                                         "sliver pair %ui of this blob "
                                         "belongs to another node's shard",
                                         rt.pair);
        }

        return ngx_walrus_node_put(r, &rt);
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rt.kind == NGX_WALRUS_ROUTE_METADATA
        || rt.kind == NGX_WALRUS_ROUTE_SLIVER
        || rt.kind == NGX_WALRUS_ROUTE_CERTIFICATE
        || rt.kind == NGX_WALRUS_ROUTE_REGISTRATION)
    {
        allow = ngx_walrus_header(r, "Allow", "GET, HEAD, PUT");

    } else {
        allow = ngx_walrus_header(r, "Allow", "GET, HEAD");
    }

    if (allow == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_walrus_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                 NGX_WALRUS_DOMAIN_NODE, "METHOD_NOT_ALLOWED",
                                 "method %V is not allowed here",
                                 &r->method_name);
}


/* NGX_OK when the shard holding pair rt->pair of the blob is this node's */

static ngx_int_t
ngx_walrus_node_assigned(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    unsigned                     shard;
    walrus_committee_t          *c;
    ngx_walrus_node_loc_conf_t  *wlcf;
    ngx_walrus_main_conf_t      *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);
    wlcf = ngx_walrus_node_loc_conf(r);
    c = wmcf->committee;

    shard = walrus_pair_to_shard(&c->params, rt->blob_id, rt->pair);

    return c->shard_owner[shard] == wlcf->node_index ? NGX_OK
                                                     : NGX_DECLINED;
}


static ngx_int_t
ngx_walrus_node_get(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    char       name[32];
    ngx_int_t  rc;

    /* the blob's data, not its registration: gone once it expired */

    if (rt->kind == NGX_WALRUS_ROUTE_METADATA
        || rt->kind == NGX_WALRUS_ROUTE_CERTIFICATE
        || rt->kind == NGX_WALRUS_ROUTE_SLIVER
        || rt->kind == NGX_WALRUS_ROUTE_RECOVERY
        || rt->kind == NGX_WALRUS_ROUTE_CONFIRMATION)
    {
        rc = ngx_walrus_node_lifetime(r, rt);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    switch (rt->kind) {

    case NGX_WALRUS_ROUTE_HEALTH:
        return ngx_walrus_node_health(r);

    case NGX_WALRUS_ROUTE_METADATA:
        if (ngx_walrus_node_flag(r, rt) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_walrus_node_send_file(r, rt, "metadata",
                                         "METADATA_NOT_FOUND");

    case NGX_WALRUS_ROUTE_CERTIFICATE:
        if (ngx_walrus_node_flag(r, rt) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_walrus_node_send_file(r, rt, "certificate",
                                         "CERTIFICATE_NOT_FOUND");

    case NGX_WALRUS_ROUTE_INCONSISTENCY:
        return ngx_walrus_node_send_file(r, rt, "inconsistency",
                                         "INCONSISTENCY_NOT_FOUND");

    case NGX_WALRUS_ROUTE_REGISTRATION:
        return ngx_walrus_node_send_file(r, rt, "registration",
                                         "REGISTRATION_NOT_FOUND");

    case NGX_WALRUS_ROUTE_SLIVER:
        walrus_store_sliver_name(name, sizeof(name), rt->pair,
                                 rt->axis == WALRUS_SECONDARY);
        return ngx_walrus_node_send_file(r, rt, name, "SLIVER_NOT_FOUND");

    case NGX_WALRUS_ROUTE_STATUS:
        return ngx_walrus_node_status(r, rt);

    case NGX_WALRUS_ROUTE_CERTIFIED:
        return ngx_walrus_node_record_list(r);

    case NGX_WALRUS_ROUTE_RECOVERY:
        return ngx_walrus_node_recovery(r, rt);

    case NGX_WALRUS_ROUTE_EPOCH_READY:
        return ngx_walrus_node_epoch_ready(r);

    case NGX_WALRUS_ROUTE_AUDIT_BEACON:
    case NGX_WALRUS_ROUTE_AUDIT_STATUS:
    case NGX_WALRUS_ROUTE_AUDIT_ROUND:
    case NGX_WALRUS_ROUTE_AUDIT_SIGNATURE:
    case NGX_WALRUS_ROUTE_AUDIT_ANSWER:
    case NGX_WALRUS_ROUTE_AUDIT_ATTESTATION:
    case NGX_WALRUS_ROUTE_AUDIT_CERTIFICATE:
    case NGX_WALRUS_ROUTE_AUDIT_FRAUD:
        return ngx_walrus_node_audit(r, rt);

    default: /* NGX_WALRUS_ROUTE_CONFIRMATION */
        return ngx_walrus_node_confirm(r, rt);
    }
}


static ngx_int_t
ngx_walrus_node_send_file(ngx_http_request_t *r, ngx_walrus_route_t *rt,
    const char *name, const char *reason)
{
    char                         dir[WALRUS_PATH_MAX];
    char                         path[WALRUS_PATH_MAX];
    ngx_int_t                    rc;
    ngx_walrus_node_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_node_loc_conf(r);

    if (walrus_store_dir(dir, (char *) wlcf->store.data, wlcf->store.len,
                         rt->id_text) != 0
        || walrus_store_path(path, dir, name) != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_walrus_node_send_path(r, path);

    if (rc == NGX_DECLINED) {
        return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                     NGX_WALRUS_DOMAIN_NODE, reason,
                                     "this node holds no %s for blob %s",
                                     name, rt->id_text);
    }

    return rc;
}


static ngx_int_t
ngx_walrus_node_health(ngx_http_request_t *r)
{
    u_char                      *p;
    unsigned                     i;
    ngx_str_t                    data;
    walrus_node_t               *node;
    ngx_walrus_keeper_t         *kp;
    ngx_walrus_node_loc_conf_t  *wlcf;
    ngx_walrus_main_conf_t      *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);
    wlcf = ngx_walrus_node_loc_conf(r);
    node = &wmcf->committee->nodes[wlcf->node_index];
    kp = ngx_walrus_keeper_of(r);

    data.data = ngx_pnalloc(r->pool, sizeof(NGX_WALRUS_HEALTH_JSON)
                                     + wlcf->node_name.len + 2 * NGX_INT32_LEN
                                     + node->nshards * (1 + NGX_INT32_LEN)
                                     + ngx_walrus_keeper_json_len(kp)
                                     + sizeof("]}"));
    if (data.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(data.data, NGX_WALRUS_HEALTH_JSON, &wlcf->node_name,
                    wmcf->committee->epoch, wmcf->committee->params.n);

    for (i = 0; i < node->nshards; i++) {
        p = ngx_sprintf(p, "%s%ud", i ? "," : "", node->shards[i]);
    }

    *p++ = ']';
    p = ngx_walrus_keeper_json(p, kp);
    *p++ = '}';
    data.len = p - data.data;

    return ngx_walrus_send_success(r, NGX_HTTP_OK, &data);
}


static ngx_uint_t
ngx_walrus_node_has(ngx_http_request_t *r, ngx_walrus_route_t *rt,
    const char *name)
{
    return ngx_walrus_node_state(r, rt, name) != -1;
}


/*
 * A node that holds an inconsistency proof of the blob says so in its
 * metadata and certificate answers, which every gateway read without a
 * cache asks for: the gateway fetches the proof and checks it itself
 * (docs/internals.md section 4).  A stat(2) per answer.
 */

static ngx_int_t
ngx_walrus_node_flag(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    if (!ngx_walrus_node_has(r, rt, "inconsistency")) {
        return NGX_OK;
    }

    return ngx_walrus_header(r, NGX_WALRUS_INCONSISTENT_HEADER, "true")
           != NULL ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_walrus_node_status(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    char                         name[32];
    u_char                      *p;
    unsigned                     i, pair;
    ngx_str_t                    data;
    ngx_uint_t                   prim, sec, complete;
    walrus_node_t               *node;
    walrus_committee_t          *c;
    ngx_walrus_node_loc_conf_t  *wlcf;
    ngx_walrus_main_conf_t      *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);
    wlcf = ngx_walrus_node_loc_conf(r);
    c = wmcf->committee;
    node = &c->nodes[wlcf->node_index];

    data.data = ngx_pnalloc(r->pool, sizeof(NGX_WALRUS_NODE_STATUS_JSON)
                                     + WALRUS_BLOB_ID_TEXT_LEN
                                     + 3 * sizeof("false")
                                     + node->nshards
                                       * (sizeof(NGX_WALRUS_NODE_SLIVER_JSON)
                                          + 2 * NGX_INT32_LEN
                                          + 2 * sizeof("false"))
                                     + sizeof(NGX_WALRUS_NODE_STORED_JSON)
                                     + sizeof("false"));
    if (data.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    complete = ngx_walrus_node_has(r, rt, "metadata");

    p = ngx_sprintf(data.data, NGX_WALRUS_NODE_STATUS_JSON, rt->id_text,
                    complete ? "true" : "false",
                    ngx_walrus_node_has(r, rt, "certificate")
                    ? "true" : "false",
                    ngx_walrus_node_has(r, rt, "inconsistency")
                    ? "true" : "false");

    for (i = 0; i < node->nshards; i++) {
        pair = walrus_shard_to_pair(&c->params, rt->blob_id,
                                    node->shards[i]);

        walrus_store_sliver_name(name, sizeof(name), pair, 0);
        prim = ngx_walrus_node_has(r, rt, name);
        walrus_store_sliver_name(name, sizeof(name), pair, 1);
        sec = ngx_walrus_node_has(r, rt, name);
        complete = complete && prim && sec;

        p = ngx_sprintf(p, NGX_WALRUS_NODE_SLIVER_JSON, i ? "," : "",
                        node->shards[i], pair, prim ? "true" : "false",
                        sec ? "true" : "false");
    }

    p = ngx_sprintf(p, NGX_WALRUS_NODE_STORED_JSON,
                    complete ? "true" : "false");
    data.len = p - data.data;

    return ngx_walrus_send_success(r, NGX_HTTP_OK, &data);
}


/* -1: no such file, 0: stored, but written since it was verified, 1: good */

ngx_int_t
ngx_walrus_node_state(ngx_http_request_t *r, ngx_walrus_route_t *rt,
    const char *name)
{
    char                         dir[WALRUS_PATH_MAX];
    char                         path[WALRUS_PATH_MAX];
    ngx_walrus_node_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_node_loc_conf(r);

    if (walrus_store_dir(dir, (char *) wlcf->store.data, wlcf->store.len,
                         rt->id_text) != 0
        || walrus_store_path(path, dir, name) != 0)
    {
        return -1;
    }

    return walrus_store_state(path);
}


/*
 * Runs handler in the thread pool with the pointer data as its context,
 * then done(r), with the guard timer of ngx_walrus_thread_guard() set
 * meanwhile: NGX_DONE, or the answer that the node is busy.
 */

ngx_int_t
ngx_walrus_node_post(ngx_http_request_t *r, void *data,
    void (*handler)(void *data, ngx_log_t *log),
    ngx_http_event_handler_pt done, ngx_event_t *guard)
{
    ngx_thread_task_t           *task;
    ngx_walrus_thread_t         *th;
    ngx_walrus_node_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_node_loc_conf(r);

    th = ngx_palloc(r->pool, sizeof(ngx_walrus_thread_t));
    task = ngx_walrus_thread_task(r->pool, handler, data);
    if (th == NULL || task == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_walrus_thread_init(th, r, wlcf->thread_pool, NGX_WALRUS_THREAD_JOIN);

    if (ngx_walrus_thread_post(th, task) != NGX_OK) {
        return ngx_walrus_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                     NGX_WALRUS_DOMAIN_NODE,
                                     "OVERLOADED",
                                     "the node is busy, retry later");
    }

    ngx_walrus_thread_hold(th, done);
    r->main->count++;

    ngx_walrus_thread_guard(r, guard);

    return NGX_DONE;
}


void
ngx_walrus_node_fail(ngx_walrus_node_result_t *e, ngx_uint_t status,
    const char *reason, const char *fmt, ...)
{
    va_list  args;

    e->status = status;
    e->reason = reason;

    va_start(args, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, args);
    va_end(args);
}
