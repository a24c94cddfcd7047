/*
 * The metrics' hooks: one call per event, counted into the zone with an
 * atomic addition (nothing when metrics are off), and the requests of
 * both roles counted by route and status in the log phase.
 */

#include <ngx_walrus.h>


static ngx_atomic_t *ngx_walrus_metrics_counter(
    ngx_walrus_metric_scope_e scope, const u_char *name, size_t len,
    ngx_uint_t index, ngx_uint_t value);
static ngx_uint_t ngx_walrus_metrics_route(ngx_http_request_t *r);
static ngx_uint_t ngx_walrus_metrics_code(ngx_http_request_t *r);


/* bucket bounds of the latency histograms, and their "le" labels */

static const ngx_msec_t  ngx_walrus_metrics_bounds[] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

const char *const  ngx_walrus_metrics_buckets[] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
    "10"
};

const ngx_uint_t  ngx_walrus_metrics_nbuckets =
    sizeof(ngx_walrus_metrics_bounds) / sizeof(ngx_msec_t);


/*
 * The route kinds of ngx_walrus_route_parse (never raw paths: the label
 * set stays bounded), then a malformed blob ID and any other path.
 */

#define NGX_WALRUS_METRICS_ROUTE_KINDS  (NGX_WALRUS_METRICS_LAST_ROUTE + 1)

const char *const  ngx_walrus_metrics_routes[NGX_WALRUS_METRICS_ROUTES] = {
    [NGX_WALRUS_ROUTE_HEALTH] = "health",
    [NGX_WALRUS_ROUTE_BLOBS] = "blobs",
    [NGX_WALRUS_ROUTE_BLOB] = "blob",
    [NGX_WALRUS_ROUTE_METADATA] = "metadata",
    [NGX_WALRUS_ROUTE_SLIVER] = "sliver",
    [NGX_WALRUS_ROUTE_CONFIRMATION] = "confirmation",
    [NGX_WALRUS_ROUTE_CERTIFICATE] = "certificate",
    [NGX_WALRUS_ROUTE_STATUS] = "status",
    [NGX_WALRUS_ROUTE_BYTE_RANGE] = "byte_range",
    [NGX_WALRUS_ROUTE_REGISTRATION] = "registration",
    [NGX_WALRUS_ROUTE_CERTIFIED] = "certified",
    [NGX_WALRUS_ROUTE_RECOVERY] = "recovery",
    [NGX_WALRUS_ROUTE_AUDIT_BEACON] = "audit_beacon",
    [NGX_WALRUS_ROUTE_AUDIT_STATUS] = "audit_status",
    [NGX_WALRUS_ROUTE_AUDIT_ROUND] = "audit_round",
    [NGX_WALRUS_ROUTE_AUDIT_SIGNATURE] = "audit_signature",
    [NGX_WALRUS_ROUTE_AUDIT_ANSWER] = "audit_answer",
    [NGX_WALRUS_ROUTE_AUDIT_ATTESTATION] = "audit_attestation",
    [NGX_WALRUS_ROUTE_AUDIT_CERTIFICATE] = "audit_certificate",
    [NGX_WALRUS_ROUTE_AUDIT_FRAUD] = "audit_fraud",
    [NGX_WALRUS_ROUTE_AUDITS] = "audits",
    [NGX_WALRUS_ROUTE_AUDITS_CERT] = "audits_certificate",
    [NGX_WALRUS_ROUTE_AUDITS_FRAUD] = "audits_fraud",
    [NGX_WALRUS_ROUTE_INCONSISTENCY] = "inconsistency",
    [NGX_WALRUS_ROUTE_EPOCH_READY] = "epoch_ready",
    [NGX_WALRUS_ROUTE_LIVENESS] = "liveness",
    [NGX_WALRUS_ROUTE_API] = "api",
    [NGX_WALRUS_ROUTE_QUILTS] = "quilts",
    [NGX_WALRUS_ROUTE_QUILT_PATCHES] = "quilt_patches",
    [NGX_WALRUS_ROUTE_QUILT_FILE] = "quilt_file",
    [NGX_WALRUS_ROUTE_QUILT_PATCH] = "quilt_patch",
    [NGX_WALRUS_ROUTE_CONCAT] = "concat",
    [NGX_WALRUS_METRICS_ROUTE_KINDS] = "invalid_blob_id",
    [NGX_WALRUS_METRICS_ROUTE_KINDS + 1] = "other"
};


/* the statuses the roles answer; "other" for the rest */

static const ngx_uint_t  ngx_walrus_metrics_statuses[] = {
    200, 201, 204, 206, 304, 400, 401, 403, 404, 405, 408, 409, 411, 412,
    413, 414, 416, 422, 429, 499, 500, 502, 503, 504, 507
};

const char *const  ngx_walrus_metrics_codes[NGX_WALRUS_METRICS_CODES] = {
    "200", "201", "204", "206", "304", "400", "401", "403", "404", "405",
    "408", "409", "411", "412", "413", "414", "416", "422", "429", "499",
    "500", "502", "503", "504", "507", "other"
};


ngx_walrus_metric_t *
ngx_walrus_metrics_list(ngx_walrus_metric_scope_e scope)
{
    switch (scope) {

    case NGX_WALRUS_SCOPE_GATEWAY:
        return ngx_walrus_gateway_metrics;

    case NGX_WALRUS_SCOPE_PEER:
        return ngx_walrus_peer_metrics;

    default:
        return ngx_walrus_node_metrics;
    }
}


ngx_atomic_t *
ngx_walrus_metrics_block(ngx_walrus_metric_scope_e scope, const u_char *name,
    size_t len)
{
    ngx_uint_t                  i, n;
    ngx_walrus_metrics_part_t  *part;

    if (ngx_walrus_metrics == NULL) {
        return NULL;
    }

    part = &ngx_walrus_metrics->part[scope];

    if (scope == NGX_WALRUS_SCOPE_GATEWAY) {
        return part->blocks;
    }

    n = part->count;

    for (i = 0; i < n; i++) {
        if (part->names[i][0] == name[0]
            && ngx_strncmp(part->names[i], name, len) == 0
            && part->names[i][len] == '\0')
        {
            return part->blocks + i * part->size;
        }
    }

    return NULL;
}


/* the counter of a metric's label values in a block, or NULL */

static ngx_atomic_t *
ngx_walrus_metrics_counter(ngx_walrus_metric_scope_e scope,
    const u_char *name, size_t len, ngx_uint_t index, ngx_uint_t value)
{
    ngx_atomic_t  *block;

    block = ngx_walrus_metrics_block(scope, name, len);

    return block != NULL
           ? &block[ngx_walrus_metrics_list(scope)[index].offset + value]
           : NULL;
}


void
ngx_walrus_metric_add(ngx_walrus_metric_scope_e scope, const u_char *name,
    size_t len, ngx_uint_t index, ngx_uint_t value, ngx_atomic_int_t n)
{
    ngx_atomic_t  *counter;

    counter = ngx_walrus_metrics_counter(scope, name, len, index, value);

    if (counter != NULL) {
        (void) ngx_atomic_fetch_add(counter, n);
    }
}


void
ngx_walrus_metric_set(ngx_walrus_metric_scope_e scope, const u_char *name,
    size_t len, ngx_uint_t index, ngx_uint_t value, ngx_atomic_uint_t n)
{
    ngx_atomic_t  *gauge;

    gauge = ngx_walrus_metrics_counter(scope, name, len, index, value);

    if (gauge != NULL) {
        *gauge = n;
    }
}


void
ngx_walrus_metric_observe(ngx_walrus_metric_scope_e scope,
    const u_char *name, size_t len, ngx_uint_t index, ngx_msec_t ms)
{
    ngx_uint_t     b;
    ngx_atomic_t  *block;

    block = ngx_walrus_metrics_block(scope, name, len);

    if (block == NULL) {
        return;
    }

    block += ngx_walrus_metrics_list(scope)[index].offset;

    for (b = 0; b < ngx_walrus_metrics_nbuckets; b++) {
        if (ms <= ngx_walrus_metrics_bounds[b]) {
            break;
        }
    }

    /* buckets of their own (b == nbuckets: +Inf); the sum after them */

    (void) ngx_atomic_fetch_add(&block[b], 1);
    (void) ngx_atomic_fetch_add(&block[ngx_walrus_metrics_nbuckets + 1],
                                (ngx_atomic_int_t) ms);
}


/* a role's handler of the log phase, where its requests are counted */

ngx_int_t
ngx_walrus_metrics_log_phase(ngx_conf_t *cf, ngx_http_handler_pt handler)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = handler;

    return NGX_OK;
}


void
ngx_walrus_metrics_request(ngx_http_request_t *r,
    ngx_walrus_metric_scope_e scope, ngx_str_t *name, ngx_uint_t index)
{
    off_t                 sent;
    ngx_uint_t            route;
    ngx_atomic_t         *block;
    ngx_walrus_metric_t  *list;

    if (ngx_walrus_metrics == NULL) {
        return;
    }

    block = ngx_walrus_metrics_block(scope, name->data, name->len);
    if (block == NULL) {
        return;
    }

    list = ngx_walrus_metrics_list(scope);
    route = ngx_walrus_metrics_route(r);

    /* the body sent: what $body_bytes_sent logs */

    sent = r->connection->sent - r->header_size;

    (void) ngx_atomic_fetch_add(&block[list[index].offset
                                       + route * NGX_WALRUS_METRICS_CODES
                                       + ngx_walrus_metrics_code(r)], 1);
    (void) ngx_atomic_fetch_add(&block[list[index + 1].offset + route],
                                r->request_length);
    (void) ngx_atomic_fetch_add(&block[list[index + 2].offset + route],
                                sent > 0 ? sent : 0);
}


static ngx_uint_t
ngx_walrus_metrics_route(ngx_http_request_t *r)
{
    ngx_int_t           rc;
    ngx_walrus_route_t  rt;

    rc = ngx_walrus_route_parse(&r->uri, &rt);

    if (rc == NGX_ERROR) {
        return NGX_WALRUS_METRICS_ROUTE_KINDS;
    }

    if (rc != NGX_OK || rt.kind >= NGX_WALRUS_METRICS_ROUTE_KINDS) {
        return NGX_WALRUS_METRICS_ROUTE_KINDS + 1;
    }

    return rt.kind;
}


/* the status the access log shows */

static ngx_uint_t
ngx_walrus_metrics_code(ngx_http_request_t *r)
{
    ngx_uint_t  i, status;

    status = r->err_status ? r->err_status : r->headers_out.status;

    for (i = 0; i < NGX_WALRUS_METRICS_CODES - 1; i++) {
        if (ngx_walrus_metrics_statuses[i] == status) {
            return i;
        }
    }

    return NGX_WALRUS_METRICS_CODES - 1;
}
