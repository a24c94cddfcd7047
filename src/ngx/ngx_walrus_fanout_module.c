/*
 * The fan-out's filter module: the capture of node answers into the
 * calls' buffers (bounded, never passed to the client), and the variables
 * the node location's proxy_pass uses ($walrus_node, $walrus_node_uri,
 * $walrus_node_range).
 */

#include <ngx_walrus_fanout.h>
#include <ngx_walrus_buffer.h>


/* an answer up to this size gets its whole capture buffer at once */
#define NGX_WALRUS_CAPTURE_WHOLE  (16 * 1024 * 1024)


static ngx_int_t ngx_walrus_capture_header(ngx_http_request_t *r);
static void ngx_walrus_capture_keep_header(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value, ngx_pool_t *pool);
static ngx_int_t ngx_walrus_capture_body(ngx_http_request_t *r,
    ngx_chain_t *in);
static void ngx_walrus_capture_cut(ngx_http_request_t *r,
    ngx_walrus_call_t *call);
static ngx_walrus_call_t *ngx_walrus_call_of(ngx_http_request_t *r);
static ngx_int_t ngx_walrus_variable_node(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_walrus_variable_call_str(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_walrus_capture_grow(ngx_walrus_call_t *call,
    size_t need);
static ngx_int_t ngx_walrus_fanout_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_walrus_fanout_init_filters(ngx_conf_t *cf);


/*
 * A filter module of its own: its context slot holds the call of a
 * subrequest, and as a dynamic filter module it sits where nginx puts
 * filters (before the copy filter, config says), whatever the order the
 * modules are loaded in.
 */

static ngx_http_module_t  ngx_walrus_fanout_module_ctx = {
    ngx_walrus_fanout_add_variables,       /* preconfiguration */
    ngx_walrus_fanout_init_filters,        /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_walrus_fanout_module = {
    NGX_MODULE_V1,
    &ngx_walrus_fanout_module_ctx,         /* module context */
    NULL,                                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_walrus_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_walrus_next_body_filter;


static ngx_http_variable_t  ngx_walrus_variables[] = {

    { ngx_string("walrus_node"), NULL, ngx_walrus_variable_node, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("walrus_node_uri"), NULL, ngx_walrus_variable_call_str,
      offsetof(ngx_walrus_call_t, node_uri), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("walrus_node_range"), NULL, ngx_walrus_variable_call_str,
      offsetof(ngx_walrus_call_t, range), NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_walrus_call_t *
ngx_walrus_call_of(ngx_http_request_t *r)
{
    if (r == r->main) {
        return NULL;
    }

    return ngx_http_get_module_ctx(r, ngx_http_walrus_fanout_module);
}


static ngx_int_t
ngx_walrus_capture_header(ngx_http_request_t *r)
{
    ngx_walrus_call_t  *call;

    call = ngx_walrus_call_of(r);

    if (call != NULL && call->status == 0) {
        call->status = r->headers_out.status;
        call->length = r->headers_out.content_length_n;

        if (call->header.len) {
            ngx_walrus_capture_keep_header(r, &call->header,
                                           &call->header_value, call->pool);
        }

        if (call->header2.len) {
            ngx_walrus_capture_keep_header(r, &call->header2,
                                           &call->header2_value, call->pool);
        }

        /*
         * an answer announced too long is cut before its first byte (a
         * HEAD's length announces none)
         */

        if (r->method != NGX_HTTP_HEAD
            && r->headers_out.content_length_n > (off_t) call->body_max)
        {
            ngx_walrus_capture_cut(r, call);
        }
    }

    return ngx_walrus_next_header_filter(r);
}


/* the value of the answer header the caller asked for, if any */

static void
ngx_walrus_capture_keep_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value, ngx_pool_t *pool)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0 || h[i].key.len != name->len
            || ngx_strncasecmp(h[i].key.data, name->data, name->len) != 0)
        {
            continue;
        }

        value->data = ngx_pstrdup(pool, &h[i].value);
        if (value->data != NULL) {
            value->len = h[i].value.len;
        }

        return;
    }
}


/* keeps up to body_max bytes of a node's answer; nothing goes further */

static ngx_int_t
ngx_walrus_capture_body(ngx_http_request_t *r, ngx_chain_t *in)
{
    size_t              n;
    ngx_buf_t          *b;
    ngx_walrus_call_t  *call;

    call = ngx_walrus_call_of(r);

    if (call == NULL) {
        return ngx_walrus_next_body_filter(r, in);
    }

    for ( /* void */ ; in != NULL; in = in->next) {
        b = in->buf;

        if (ngx_buf_in_memory(b)) {
            n = b->last - b->pos;

            if (call->body_len + n > call->body_max) {
                ngx_walrus_capture_cut(r, call);
                n = call->body_max - call->body_len;
            }

            if (n && ngx_walrus_capture_grow(call, call->body_len + n)
                     != NGX_OK)
            {
                call->truncated = 1;
                n = 0;
            }

            if (n) {
                ngx_memcpy(call->body + call->body_len, b->pos, n);
                call->body_len += n;
            }

            b->pos = b->last;

        } else if (b->in_file) {
            call->truncated = 1;
            b->file_pos = b->file_last;
        }
    }

    return NGX_OK;
}


/* the capture buffer doubles as needed, up to body_max */

static ngx_int_t
ngx_walrus_capture_grow(ngx_walrus_call_t *call, size_t need)
{
    size_t   size;
    u_char  *p;

    if (need <= call->body_size) {
        return NGX_OK;
    }

    /* an answer of known, moderate size gets its whole buffer at once */

    size = call->body_size ? call->body_size
           : (call->body_max <= NGX_WALRUS_CAPTURE_WHOLE ? call->body_max
                                                          : 4096);

    while (size < need) {
        size *= 2;
    }

    if (size > call->body_max) {
        size = call->body_max;
    }

    p = ngx_walrus_buffer_alloc(size, ngx_cycle->log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (call->body_len) {
        ngx_memcpy(p, call->body, call->body_len);
    }

    ngx_walrus_buffer_free(call->body);
    call->body = p;
    call->body_size = size;

    return NGX_OK;
}


/*
 * A successful answer longer than any valid one comes from a node that
 * lies or serves another protocol: it is kept only up to body_max and
 * said once.  A straggler's or a stale subrequest's (body_max 0) is not.
 */

static void
ngx_walrus_capture_cut(ngx_http_request_t *r, ngx_walrus_call_t *call)
{
    if (call->truncated) {
        return;
    }

    call->truncated = 1;

    if (call->body_max == 0 || call->status < NGX_HTTP_OK
        || call->status >= NGX_HTTP_SPECIAL_RESPONSE)
    {
        return;
    }

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "walrus: node %s answered %V with more than %uz bytes, "
                  "more than a valid answer has; dropped",
                  call->name, &call->node_uri, call->body_max);
}


static ngx_int_t
ngx_walrus_fanout_init_filters(ngx_conf_t *cf)
{
    ngx_walrus_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_walrus_capture_header;

    ngx_walrus_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_walrus_capture_body;

    return NGX_OK;
}


static ngx_int_t
ngx_walrus_fanout_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_walrus_variables; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_walrus_variable_node(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_walrus_call_t  *call;

    call = ngx_walrus_call_of(r);

    if (call == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = (u_char *) call->name;
    v->len = ngx_strlen(call->name);
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* $walrus_node_uri, $walrus_node_range: a string of the call, by offset */

static ngx_int_t
ngx_walrus_variable_call_str(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t          *str;
    ngx_walrus_call_t  *call;

    call = ngx_walrus_call_of(r);

    if (call == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    str = (ngx_str_t *) ((u_char *) call + data);

    if (str->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = str->data;
    v->len = str->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
