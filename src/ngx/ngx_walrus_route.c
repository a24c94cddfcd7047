/*
 * The HTTP API paths: /v1/health, /v1/certified, /v1/blobs,
 * /v1/blobs/{id}[/...].
 */

#include <ngx_walrus.h>
#include <walrus_metadata.h>


static ngx_int_t ngx_walrus_route_pair(u_char *p, u_char *last,
    ngx_walrus_route_t *rt);
static u_char *ngx_walrus_route_number(u_char *p, u_char *last,
    ngx_uint_t *pair);


ngx_int_t
ngx_walrus_route_parse(ngx_str_t *uri, ngx_walrus_route_t *rt)
{
    u_char     *p, *last, *slash;
    ngx_str_t   rest;
    ngx_uint_t  i;

    static ngx_str_t  blobs = ngx_string("/v1/blobs");

    static const struct {
        ngx_str_t            path;
        ngx_walrus_route_e   kind;
    } fixed[] = {
        { ngx_string("/v1/health"), NGX_WALRUS_ROUTE_HEALTH },
        { ngx_string("/v1/certified"), NGX_WALRUS_ROUTE_CERTIFIED }
    };

    ngx_memzero(rt, sizeof(ngx_walrus_route_t));

    p = uri->data;
    last = uri->data + uri->len;

    for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (uri->len == fixed[i].path.len
            && ngx_strncmp(p, fixed[i].path.data, uri->len) == 0)
        {
            rt->kind = fixed[i].kind;
            return NGX_OK;
        }
    }

    if (uri->len < blobs.len
        || ngx_strncmp(p, blobs.data, blobs.len) != 0)
    {
        return NGX_DECLINED;
    }

    p += blobs.len;

    if (p == last || (p + 1 == last && *p == '/')) {
        rt->kind = NGX_WALRUS_ROUTE_BLOBS;
        return NGX_OK;
    }

    if (*p++ != '/') {
        return NGX_DECLINED;
    }

    slash = ngx_strlchr(p, last, '/');
    if (slash == NULL) {
        slash = last;
    }

    if (walrus_blob_id_parse((char *) p, slash - p, rt->blob_id)
        != WALRUS_OK)
    {
        return NGX_ERROR;
    }

    walrus_blob_id_format(rt->blob_id, rt->id_text);

    if (slash == last) {
        rt->kind = NGX_WALRUS_ROUTE_BLOB;
        return NGX_OK;
    }

    rest.data = slash;
    rest.len = last - slash;

#define ngx_walrus_is(s)                                                     \
    (rest.len == sizeof(s) - 1 && ngx_strncmp(rest.data, s, rest.len) == 0)

    if (ngx_walrus_is("/metadata")) {
        rt->kind = NGX_WALRUS_ROUTE_METADATA;
        return NGX_OK;
    }

    if (ngx_walrus_is("/confirmation")) {
        rt->kind = NGX_WALRUS_ROUTE_CONFIRMATION;
        return NGX_OK;
    }

    if (ngx_walrus_is("/certificate")) {
        rt->kind = NGX_WALRUS_ROUTE_CERTIFICATE;
        return NGX_OK;
    }

    if (ngx_walrus_is("/status")) {
        rt->kind = NGX_WALRUS_ROUTE_STATUS;
        return NGX_OK;
    }

    if (ngx_walrus_is("/byte-range")) {
        rt->kind = NGX_WALRUS_ROUTE_BYTE_RANGE;
        return NGX_OK;
    }

    if (ngx_walrus_is("/registration")) {
        rt->kind = NGX_WALRUS_ROUTE_REGISTRATION;
        return NGX_OK;
    }

    if (ngx_walrus_is("/inconsistency")) {
        rt->kind = NGX_WALRUS_ROUTE_INCONSISTENCY;
        return NGX_OK;
    }

#undef ngx_walrus_is

    if (rest.len > sizeof("/slivers/") - 1
        && ngx_strncmp(rest.data, "/slivers/", sizeof("/slivers/") - 1) == 0)
    {
        rt->kind = NGX_WALRUS_ROUTE_SLIVER;
        return ngx_walrus_route_pair(rest.data + sizeof("/slivers/") - 1,
                                     last, rt);
    }

    if (rest.len > sizeof("/recovery/") - 1
        && ngx_strncmp(rest.data, "/recovery/", sizeof("/recovery/") - 1)
           == 0)
    {
        rt->kind = NGX_WALRUS_ROUTE_RECOVERY;
        return ngx_walrus_route_number(rest.data + sizeof("/recovery/") - 1,
                                       last, &rt->pair) == last
               ? NGX_OK : NGX_DECLINED;
    }

    return NGX_DECLINED;
}


/* "{pair}/primary" or "{pair}/secondary", pair in canonical decimal */

static ngx_int_t
ngx_walrus_route_pair(u_char *p, u_char *last, ngx_walrus_route_t *rt)
{
    p = ngx_walrus_route_number(p, last, &rt->pair);

    if (p == NULL || p == last || *p != '/') {
        return NGX_DECLINED;
    }

    p++;

    if ((size_t) (last - p) == sizeof("primary") - 1
        && ngx_strncmp(p, "primary", last - p) == 0)
    {
        rt->axis = WALRUS_PRIMARY;

    } else if ((size_t) (last - p) == sizeof("secondary") - 1
               && ngx_strncmp(p, "secondary", last - p) == 0)
    {
        rt->axis = WALRUS_SECONDARY;

    } else {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* a pair in canonical decimal: the end of its digits, or NULL */

static u_char *
ngx_walrus_route_number(u_char *p, u_char *last, ngx_uint_t *pair)
{
    u_char  *start;

    start = p;
    *pair = 0;

    while (p < last && *p >= '0' && *p <= '9' && p - start < 3) {
        *pair = *pair * 10 + (*p++ - '0');
    }

    if (p == start || (*start == '0' && p - start > 1)
        || *pair >= WALRUS_MAX_SHARDS)
    {
        return NULL;
    }

    return p;
}
