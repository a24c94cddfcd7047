/*
 * Gateway write path: the Walrus publisher's query parameters of an
 * upload, checked before its body is read.
 */

#include <ngx_walrus_publish.h>
#include <ngx_walrus_quilt.h>


#define NGX_WALRUS_MAX_EPOCHS     53


static ngx_int_t ngx_walrus_publish_names(ngx_http_request_t *r,
    ngx_uint_t quilt, ngx_str_t *name);
static ngx_int_t ngx_walrus_publish_flag(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value, ngx_flag_t *flag);


/*
 * Walrus publisher parameters: epochs, permanent, deletable, force,
 * encoding_type, and quilt_version for quilts.
 * nginx finds a parameter by its name (ngx_http_arg(), the first one of
 * that name) but lists none: the names are checked here first, or a
 * misspelt one would be ignored silently.
 */

ngx_int_t
ngx_walrus_publish_args(ngx_http_request_t *r, ngx_walrus_publish_t *ctx,
    ngx_uint_t quilt, u_char *msg, size_t size, const char **reason)
{
    ngx_int_t    n;
    ngx_str_t    name, value;
    ngx_flag_t   deletable;

    switch (ngx_walrus_publish_names(r, quilt, &name)) {

    case NGX_DECLINED:
        *reason = "UNKNOWN_PARAMETER";
        ngx_snprintf(msg, size, "unknown query parameter \"%V\"; known: "
                     "epochs, permanent, deletable, force, "
                     "encoding_type%s%Z", &name,
                     quilt ? ", quilt_version" : "");
        return NGX_ERROR;

    case NGX_ERROR:
        ngx_str_null(&value);
        goto invalid;

    default: /* NGX_OK */
        break;
    }

    ngx_str_set(&name, "epochs");

    if (ngx_http_arg(r, name.data, name.len, &value) == NGX_OK) {
        n = ngx_atoi(value.data, value.len);
        if (n < 1 || n > NGX_WALRUS_MAX_EPOCHS) {
            goto invalid;
        }

        ctx->epochs = n;
    }

    deletable = NGX_CONF_UNSET;

    ngx_str_set(&name, "permanent");

    if (ngx_walrus_publish_flag(r, &name, &value, &ctx->permanent)
        != NGX_OK)
    {
        goto invalid;
    }

    ngx_str_set(&name, "deletable");

    if (ngx_walrus_publish_flag(r, &name, &value, &deletable) != NGX_OK) {
        goto invalid;
    }

    ngx_str_set(&name, "force");

    if (ngx_walrus_publish_flag(r, &name, &value, &ctx->force) != NGX_OK) {
        goto invalid;
    }

    /*
     * Walrus clients may name the encoding: ours is the only one, and
     * another name is refused rather than ignored (the blob ID would not
     * be the one the client computes)
     */

    ngx_str_set(&name, "encoding_type");

    if (ngx_http_arg(r, name.data, name.len, &value) == NGX_OK
        && (value.len != sizeof(WALRUS_ENCODING_NAME) - 1
            || ngx_strncasecmp(value.data, (u_char *) WALRUS_ENCODING_NAME,
                               value.len)
               != 0))
    {
        *reason = "UNSUPPORTED_ENCODING";
        ngx_snprintf(msg, size, "encoding type \"%V\" is not supported; "
                     "this gateway encodes " WALRUS_ENCODING_NAME " only%Z",
                     &value);
        return NGX_ERROR;
    }

    if (quilt && ngx_walrus_quilt_put_version(r, msg, size) != NGX_OK) {
        *reason = "UNSUPPORTED_QUILT_VERSION";
        return NGX_ERROR;
    }

    if (deletable == 1 && ctx->permanent == 1) {
        *reason = "INVALID_BLOB_PERSISTENCE";
        ngx_snprintf(msg, size, "a blob cannot be both deletable and "
                     "permanent%Z");
        return NGX_ERROR;
    }

    return NGX_OK;

invalid:

    *reason = "INVALID_PARAMETER";
    ngx_snprintf(msg, size, "invalid value \"%V\" for \"%V\" (epochs: "
                 "1..%d; flags: true or false)%Z", &value, &name,
                 NGX_WALRUS_MAX_EPOCHS);
    return NGX_ERROR;
}


/*
 * NGX_OK when every parameter's name is known; NGX_DECLINED with the
 * first unknown one, NGX_ERROR with the first known one without a value
 * (ngx_http_arg() takes only "name=value").  Empty names are skipped.
 */

static ngx_int_t
ngx_walrus_publish_names(ngx_http_request_t *r, ngx_uint_t quilt,
    ngx_str_t *name)
{
    u_char      *p, *last, *amp, *eq;
    ngx_uint_t   i, nknown;

    /* the last one for quilts only */

    static ngx_str_t  known[] = {
        ngx_string("epochs"), ngx_string("permanent"),
        ngx_string("deletable"), ngx_string("force"),
        ngx_string("encoding_type"), ngx_string("quilt_version")
    };

    nknown = sizeof(known) / sizeof(ngx_str_t) - (quilt ? 0 : 1);

    last = r->args.data + r->args.len;

    for (p = r->args.data; p < last; p = amp + 1) {
        amp = ngx_strlchr(p, last, '&');
        if (amp == NULL) {
            amp = last;
        }

        eq = ngx_strlchr(p, amp, '=');

        name->data = p;
        name->len = (eq != NULL ? eq : amp) - p;

        if (name->len == 0) {
            continue;
        }

        for (i = 0; i < nknown; i++) {
            if (name->len == known[i].len
                && ngx_strncmp(name->data, known[i].data, name->len) == 0)
            {
                break;
            }
        }

        if (i == nknown) {
            return NGX_DECLINED;
        }

        if (eq == NULL) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* a flag takes "true" or "false"; *flag stays as it is when absent */

static ngx_int_t
ngx_walrus_publish_flag(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value, ngx_flag_t *flag)
{
    if (ngx_http_arg(r, name->data, name->len, value) != NGX_OK) {
        return NGX_OK;
    }

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
