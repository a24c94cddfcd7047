/*
 * JSON responses: the success wrapper and the Walrus error model.
 *
 * Every buffer is sized from what it will hold: the length of the
 * format (its literal text and a little more for the conversions) plus
 * the largest text of each value, never a guess.
 */

#include <ngx_walrus.h>
#include <walrus_base64.h>


#define NGX_WALRUS_SUCCESS_JSON  "{\"success\":{\"code\":%ui,\"data\":%V}}\n"

#define NGX_WALRUS_ERROR_HEAD                                                \
    "{\"error\":{\"code\":%ui,\"status\":\"%s\",\"message\":\""

#define NGX_WALRUS_ERROR_TAIL                                                \
    "\",\"details\":[{\"@type\":\"ErrorInfo\",\"reason\":\"%s\","            \
    "\"domain\":\"%s\",\"metadata\":{}}]}}\n"

#define NGX_WALRUS_SIGNERS_HEAD  "\"signers\":["
#define NGX_WALRUS_SIGNERS_TAIL  "],\"weight\":%ud,\"quorum\":%ud"

#define NGX_WALRUS_CERT_HEAD     "\"certificate\":{\"epoch\":%uD,"
#define NGX_WALRUS_CERT_BYTES    ",\"bytes\":\""
#define NGX_WALRUS_CERT_TAIL     "\"}"


static const char *ngx_walrus_status_name(ngx_uint_t status);


ngx_int_t
ngx_walrus_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body)
{
    return ngx_walrus_send_memory(r, status, "application/json", body->data,
                                  body->len);
}


ngx_int_t
ngx_walrus_send_success(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *data)
{
    u_char     *p;
    ngx_str_t   body;

    body.data = ngx_pnalloc(r->pool, sizeof(NGX_WALRUS_SUCCESS_JSON)
                                     + NGX_INT_T_LEN + data->len);
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body.data, NGX_WALRUS_SUCCESS_JSON, status, data);
    body.len = p - body.data;

    return ngx_walrus_send_json(r, status, &body);
}


static const char *
ngx_walrus_status_name(ngx_uint_t status)
{
    switch (status) {

    case NGX_HTTP_BAD_REQUEST:
        return "INVALID_ARGUMENT";

    case NGX_HTTP_UNAUTHORIZED:
        return "UNAUTHENTICATED";

    case NGX_HTTP_FORBIDDEN:
        return "PERMISSION_DENIED";

    case NGX_HTTP_NOT_FOUND:
        return "NOT_FOUND";

    case NGX_HTTP_NOT_ALLOWED:
        return "METHOD_NOT_ALLOWED";

    case NGX_HTTP_CONFLICT:
        return "FAILED_PRECONDITION";

    case NGX_HTTP_LENGTH_REQUIRED:
        return "LENGTH_REQUIRED";

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        return "SIZE_EXCEEDED";

    case NGX_HTTP_RANGE_NOT_SATISFIABLE:
        return "RANGE_NOT_SATISFIABLE";

    case 429:
        return "RESOURCE_EXHAUSTED";

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        return "UNAVAILABLE";

    case NGX_HTTP_INSUFFICIENT_STORAGE:
        return "RESOURCE_EXHAUSTED";

    case NGX_HTTP_GATEWAY_TIME_OUT:
        return "DEADLINE_EXCEEDED";

    default:
        return "INTERNAL";
    }
}


ngx_int_t
ngx_walrus_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *domain, const char *reason, const char *fmt, ...)
{
    u_char           *p, msg[512];
    size_t            len;
    va_list           args;
    ngx_str_t         body;
    const char       *name;

    /* a longer message is cut: it is text for people, and bounded */

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args);
    va_end(args);

    len = p - msg;
    name = ngx_walrus_status_name(status);

    /* reason, domain and the status name are constants: no escaping */

    body.data = ngx_pnalloc(r->pool, sizeof(NGX_WALRUS_ERROR_HEAD)
                                     + NGX_INT_T_LEN + ngx_strlen(name)
                                     + len + ngx_escape_json(NULL, msg, len)
                                     + sizeof(NGX_WALRUS_ERROR_TAIL)
                                     + ngx_strlen(reason)
                                     + ngx_strlen(domain));
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body.data, NGX_WALRUS_ERROR_HEAD, status, name);
    p = (u_char *) ngx_escape_json(p, msg, len);
    p = ngx_sprintf(p, NGX_WALRUS_ERROR_TAIL, reason, domain);
    body.len = p - body.data;

    if (status >= NGX_HTTP_BAD_REQUEST) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "walrus: %ui %s: %*s", status, reason, len, msg);
    }

    if ((status == NGX_HTTP_TOO_MANY_REQUESTS
         || status == NGX_HTTP_SERVICE_UNAVAILABLE)
        && ngx_walrus_header(r, "Retry-After", "1") == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->keepalive = r->keepalive && status < NGX_HTTP_INTERNAL_SERVER_ERROR;

    return ngx_walrus_send_json(r, status, &body);
}


/*
 * "signers":[names],"weight":W,"quorum":Q of a certificate: the length
 * first, then the text.  Its signer indexes are places in the node list
 * of its own epoch, which may have other nodes now.  A node index
 * outside that committee is left out; a certificate of an epoch the
 * history lacks (never verified, so never shown) would have no signers.
 */

size_t
ngx_walrus_signers_json_len(const walrus_history_t *h, walrus_cert_t *cert)
{
    size_t                     size;
    unsigned                   i;
    const walrus_committee_t  *c;

    size = sizeof(NGX_WALRUS_SIGNERS_HEAD) - 1
           + sizeof(NGX_WALRUS_SIGNERS_TAIL) - 1 + 2 * NGX_INT32_LEN;

    c = walrus_history_committee(h, cert->epoch);

    for (i = 0; c != NULL && i < cert->nsigners; i++) {
        if (cert->signers[i].node < c->nnodes) {
            size += sizeof(",\"\"") - 1
                    + ngx_strlen(c->nodes[cert->signers[i].node].name);
        }
    }

    return size;
}


u_char *
ngx_walrus_signers_json(u_char *p, const walrus_history_t *h,
    walrus_cert_t *cert)
{
    unsigned                   i, k;
    const walrus_committee_t  *c;

    p = ngx_cpymem(p, NGX_WALRUS_SIGNERS_HEAD,
                   sizeof(NGX_WALRUS_SIGNERS_HEAD) - 1);

    c = walrus_history_committee(h, cert->epoch);

    if (c == NULL) {
        c = walrus_history_current(h);
        return ngx_sprintf(p, NGX_WALRUS_SIGNERS_TAIL, 0,
                           c->params.n - c->params.f);
    }

    for (i = 0, k = 0; i < cert->nsigners; i++) {
        if (cert->signers[i].node < c->nnodes) {
            p = ngx_sprintf(p, "%s\"%s\"", k++ ? "," : "",
                            c->nodes[cert->signers[i].node].name);
        }
    }

    return ngx_sprintf(p, NGX_WALRUS_SIGNERS_TAIL, walrus_cert_weight(c, cert),
                       c->params.n - c->params.f);
}


/*
 * "certificate":{"epoch":E,"signers":[...],"weight":W,"quorum":Q,
 * "bytes":"<base64url of bytes>"} of a certificate and its len serialized
 * bytes: the length first, then the text.
 */

size_t
ngx_walrus_cert_json_len(const walrus_history_t *h, walrus_cert_t *cert,
    size_t len)
{
    return sizeof(NGX_WALRUS_CERT_HEAD) - 1 + NGX_INT32_LEN
           + ngx_walrus_signers_json_len(h, cert)
           + sizeof(NGX_WALRUS_CERT_BYTES) - 1
           + walrus_base64url_encoded_len(len)
           + sizeof(NGX_WALRUS_CERT_TAIL) - 1;
}


u_char *
ngx_walrus_cert_json(u_char *p, const walrus_history_t *h,
    walrus_cert_t *cert, u_char *bytes, size_t len)
{
    p = ngx_sprintf(p, NGX_WALRUS_CERT_HEAD, cert->epoch);
    p = ngx_walrus_signers_json(p, h, cert);
    p = ngx_cpymem(p, NGX_WALRUS_CERT_BYTES,
                   sizeof(NGX_WALRUS_CERT_BYTES) - 1);
    p += walrus_base64url_encode(bytes, len, (char *) p);

    return ngx_cpymem(p, NGX_WALRUS_CERT_TAIL,
                      sizeof(NGX_WALRUS_CERT_TAIL) - 1);
}
