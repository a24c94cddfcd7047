/*
 * walrus_metrics: the Prometheus text exposition (format 0.0.4) of the
 * metrics zone, for the gateway and the nodes this nginx serves.  The
 * answer is built in buffers of NGX_WALRUS_METRICS_BUF bytes as it
 * grows: its memory is what it shows, a few bytes a series.
 */

#include <ngx_walrus.h>


#define NGX_WALRUS_METRICS_BUF   (16 * 1024)

/* a series' line at most: name, labels, value */
#define NGX_WALRUS_METRICS_LINE                                              \
    (128 + 4 * (2 * NGX_WALRUS_METRICS_NAME_LEN + 8) + NGX_INT64_LEN + 8)


typedef struct {
    ngx_http_request_t    *request;
    ngx_chain_t           *first;
    ngx_chain_t          **last;
    ngx_buf_t             *buf;
} ngx_walrus_metrics_out_t;


static ngx_int_t ngx_walrus_metrics_scope(ngx_walrus_metrics_out_t *out,
    ngx_walrus_metric_scope_e scope);
static ngx_int_t ngx_walrus_metrics_series(ngx_walrus_metrics_out_t *out,
    ngx_walrus_metric_t *m, ngx_str_t *node, ngx_atomic_t *block);
static ngx_int_t ngx_walrus_metrics_histogram(ngx_walrus_metrics_out_t *out,
    ngx_walrus_metric_t *m, ngx_str_t *node, ngx_atomic_t *block);
static u_char *ngx_walrus_metrics_reserve(ngx_walrus_metrics_out_t *out);
static u_char *ngx_walrus_metrics_labels(u_char *p, ngx_str_t *node,
    const char *label, const char *value, const char *label2,
    const char *value2);
static u_char *ngx_walrus_metrics_escape(u_char *p, u_char *s, size_t len);


ngx_int_t
ngx_walrus_metrics_handler(ngx_http_request_t *r)
{
    off_t                      len;
    ngx_int_t                  rc;
    ngx_uint_t                 s;
    ngx_chain_t               *cl;
    ngx_walrus_metrics_out_t   out;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        if (ngx_walrus_header(r, "Allow", "GET, HEAD") == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_walrus_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                     NGX_WALRUS_DOMAIN_GATEWAY,
                                     "METHOD_NOT_ALLOWED",
                                     "method %V is not allowed here; use "
                                     "GET, HEAD", &r->method_name);
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&out, sizeof(ngx_walrus_metrics_out_t));
    out.request = r;
    out.last = &out.first;

    if (ngx_walrus_metrics != NULL) {
        for (s = 0; s < NGX_WALRUS_SCOPES; s++) {
            if (ngx_walrus_metrics_scope(&out, s) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }

    len = 0;

    for (cl = out.first; cl != NULL; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus metrics: %O bytes", len);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = len;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;

    if (ngx_walrus_header(r, "Cache-Control", "no-store") == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (len == 0 || r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf->last_buf = 1;
    out.buf->last_in_chain = 1;

    return ngx_http_output_filter(r, out.first);
}


/*
 * Every metric of a scope: its HELP and TYPE lines once, then its series
 * for each block of the configuration (the gateway's, or a node's).
 */

static ngx_int_t
ngx_walrus_metrics_scope(ngx_walrus_metrics_out_t *out,
    ngx_walrus_metric_scope_e scope)
{
    u_char                     *p;
    ngx_str_t                  *names, none;
    ngx_uint_t                  i;
    ngx_atomic_t               *block;
    ngx_walrus_metric_t        *m;
    ngx_walrus_main_conf_t     *wmcf;
    ngx_walrus_metrics_conf_t  *mcf;

    wmcf = ngx_http_get_module_main_conf(out->request,
                                         ngx_http_walrus_module);
    mcf = wmcf->metrics;

    if (mcf->names[scope].nelts == 0) {
        return NGX_OK;
    }

    names = mcf->names[scope].elts;
    ngx_str_null(&none);

    for (m = ngx_walrus_metrics_list(scope); m->name != NULL; m++) {
        p = ngx_walrus_metrics_reserve(out);
        if (p == NULL) {
            return NGX_ERROR;
        }

        p = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help,
                        m->name,
                        m->type == NGX_WALRUS_COUNTER ? "counter"
                        : m->type == NGX_WALRUS_HISTOGRAM ? "histogram"
                        : "gauge");
        out->buf->last = p;

        if (m->type == NGX_WALRUS_PROCESS_GAUGE) {
            p = ngx_walrus_metrics_reserve(out);
            if (p == NULL) {
                return NGX_ERROR;
            }

            out->buf->last = ngx_sprintf(p, "%s %A\n", m->name,
                                         ngx_walrus_metrics_process_sum(
                                             m->offset));
            continue;
        }

        for (i = 0; i < mcf->names[scope].nelts; i++) {
            block = ngx_walrus_metrics_block(scope, names[i].data,
                                             names[i].len);
            if (block == NULL) {
                continue;
            }

            if (ngx_walrus_metrics_series(out, m,
                                          scope == NGX_WALRUS_SCOPE_GATEWAY
                                          ? &none : &names[i], block)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/*
 * A metric's series of one block.  With two labels only the pairs met
 * are shown (most routes never answer most statuses); with one or none,
 * every series, zero included, so that rates start from the first scrape.
 */

static ngx_int_t
ngx_walrus_metrics_series(ngx_walrus_metrics_out_t *out,
    ngx_walrus_metric_t *m, ngx_str_t *node, ngx_atomic_t *block)
{
    u_char             *p;
    ngx_uint_t          i, k, n1, n2;
    ngx_atomic_uint_t   v;

    if (m->type == NGX_WALRUS_HISTOGRAM) {
        return ngx_walrus_metrics_histogram(out, m, node, block);
    }

    block += m->offset;
    n1 = ngx_max(m->nvalues, 1);
    n2 = ngx_max(m->nvalues2, 1);

    for (i = 0; i < n1; i++) {
        for (k = 0; k < n2; k++) {
            v = block[i * n2 + k];

            if (m->label2 != NULL && v == 0) {
                continue;
            }

            p = ngx_walrus_metrics_reserve(out);
            if (p == NULL) {
                return NGX_ERROR;
            }

            p = ngx_sprintf(p, "%s", m->name);
            p = ngx_walrus_metrics_labels(p, node, m->label,
                                          m->label ? m->values[i] : NULL,
                                          m->label2,
                                          m->label2 ? m->values2[k] : NULL);
            out->buf->last = ngx_sprintf(p, " %uA\n", v);
        }
    }

    return NGX_OK;
}


/*
 * The buckets are kept apart and summed here, so that the count is the
 * +Inf bucket whatever the processes add while the lines are written.
 */

static ngx_int_t
ngx_walrus_metrics_histogram(ngx_walrus_metrics_out_t *out,
    ngx_walrus_metric_t *m, ngx_str_t *node, ngx_atomic_t *block)
{
    u_char             *p;
    ngx_uint_t          b, nb;
    ngx_atomic_uint_t   total, sum;

    block += m->offset;
    nb = ngx_walrus_metrics_nbuckets;
    total = 0;

    for (b = 0; b <= nb; b++) {
        total += block[b];

        p = ngx_walrus_metrics_reserve(out);
        if (p == NULL) {
            return NGX_ERROR;
        }

        p = ngx_sprintf(p, "%s_bucket", m->name);
        p = ngx_walrus_metrics_labels(p, node, "le",
                                      b < nb ? ngx_walrus_metrics_buckets[b]
                                             : "+Inf",
                                      NULL, NULL);
        out->buf->last = ngx_sprintf(p, " %uA\n", total);
    }

    sum = block[nb + 1];

    p = ngx_walrus_metrics_reserve(out);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(p, "%s_sum", m->name);
    p = ngx_walrus_metrics_labels(p, node, NULL, NULL, NULL, NULL);
    p = ngx_sprintf(p, " %uA.%03uA\n", sum / 1000, sum % 1000);

    p = ngx_sprintf(p, "%s_count", m->name);
    p = ngx_walrus_metrics_labels(p, node, NULL, NULL, NULL, NULL);
    out->buf->last = ngx_sprintf(p, " %uA\n", total);

    return NGX_OK;
}


/* room for two lines in the last buffer, a new one when it is full */

static u_char *
ngx_walrus_metrics_reserve(ngx_walrus_metrics_out_t *out)
{
    ngx_chain_t  *cl;

    if (out->buf != NULL
        && (size_t) (out->buf->end - out->buf->last)
           >= 2 * NGX_WALRUS_METRICS_LINE)
    {
        return out->buf->last;
    }

    cl = ngx_alloc_chain_link(out->request->pool);
    if (cl == NULL) {
        return NULL;
    }

    cl->buf = ngx_create_temp_buf(out->request->pool,
                                  NGX_WALRUS_METRICS_BUF);
    if (cl->buf == NULL) {
        return NULL;
    }

    cl->next = NULL;
    *out->last = cl;
    out->last = &cl->next;
    out->buf = cl->buf;

    return out->buf->last;
}


static u_char *
ngx_walrus_metrics_labels(u_char *p, ngx_str_t *node, const char *label,
    const char *value, const char *label2, const char *value2)
{
    u_char  sep;

    sep = '{';

    if (node->len > 0) {
        p = ngx_cpymem(p, "{node=\"", sizeof("{node=\"") - 1);
        p = ngx_walrus_metrics_escape(p, node->data, node->len);
        *p++ = '"';
        sep = ',';
    }

    if (label != NULL) {
        p = ngx_sprintf(p, "%c%s=\"%s\"", sep, label, value);
        sep = ',';
    }

    if (label2 != NULL) {
        p = ngx_sprintf(p, ",%s=\"%s\"", label2, value2);
    }

    if (sep == ',') {
        *p++ = '}';
    }

    return p;
}


/* a label value: backslash, double quote and line feed escaped */

static u_char *
ngx_walrus_metrics_escape(u_char *p, u_char *s, size_t len)
{
    while (len--) {
        switch (*s) {

        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = *s;
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = *s;
        }

        s++;
    }

    return p;
}
