/*
 * The blob IDs of a concatenation: ?ids=a,b,c of a GET or HEAD, or the
 * JSON body {"ids": [...]} of a POST (with Walrus's optional
 * strict_consistency_check and skip_consistency_check booleans, taken
 * and ignored: every read here runs the consistency check of the read
 * path).  Each ID is checked to be canonical before any node is asked;
 * the same ID may come more than once.
 */

#include <ngx_walrus_concat.h>
#include <jansson.h>


static ngx_int_t ngx_walrus_concat_ids_alloc(ngx_pool_t *pool,
    ngx_uint_t n, ngx_walrus_concat_ids_t *ids);
static ngx_int_t ngx_walrus_concat_id(ngx_walrus_concat_ids_t *ids,
    const u_char *text, size_t len);
static ngx_int_t ngx_walrus_concat_refuse(ngx_walrus_concat_ids_t *ids,
    const char *reason, const char *fmt, ...);
static ngx_int_t ngx_walrus_concat_ids_array(ngx_pool_t *pool,
    json_t *array, ngx_walrus_concat_ids_t *ids);


ngx_int_t
ngx_walrus_concat_ids_query(ngx_pool_t *pool, ngx_str_t *value,
    ngx_walrus_concat_ids_t *ids)
{
    u_char      *text, *dst, *src, *p, *last, *comma;
    ngx_uint_t   n;

    /* commas may come percent-encoded (%2C): the value is decoded first */

    text = ngx_pnalloc(pool, value->len);
    if (text == NULL && value->len) {
        return NGX_ERROR;
    }

    dst = text;
    src = value->data;
    ngx_unescape_uri(&dst, &src, value->len, 0);
    last = dst;

    if (last == text) {
        return ngx_walrus_concat_refuse(ids, "INVALID_PARAMETER",
                                        "ids names no blob");
    }

    for (n = 1, p = text; p < last; p++) {
        n += (*p == ',');
    }

    if (ngx_walrus_concat_ids_alloc(pool, n, ids) != NGX_OK) {
        return NGX_ERROR;
    }

    for (p = text; /* void */ ; p = comma + 1) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        if (ngx_walrus_concat_id(ids, p, comma - p) != NGX_OK) {
            return NGX_ERROR;
        }

        if (comma == last) {
            return NGX_OK;
        }
    }
}


ngx_int_t
ngx_walrus_concat_ids_json(ngx_pool_t *pool, u_char *body, size_t len,
    ngx_walrus_concat_ids_t *ids)
{
    json_t        *root, *value, *list;
    ngx_int_t      rc;
    const char    *key;
    json_error_t   err;

    root = json_loadb((char *) body, len, JSON_REJECT_DUPLICATES, &err);

    if (root == NULL || !json_is_object(root)) {
        if (root != NULL) {
            json_decref(root);
        }

        return ngx_walrus_concat_refuse(ids, "INVALID_JSON",
                                        "the body is not a JSON object "
                                        "{\"ids\": [...]}");
    }

    list = NULL;
    rc = NGX_OK;

    json_object_foreach(root, key, value) {

        if (ngx_strcmp(key, "ids") == 0) {
            list = value;
            continue;
        }

        if (ngx_strcmp(key, "strict_consistency_check") == 0
            || ngx_strcmp(key, "skip_consistency_check") == 0)
        {
            if (!json_is_boolean(value)) {
                rc = ngx_walrus_concat_refuse(ids, "INVALID_PARAMETER",
                                              "%s must be true or false",
                                              key);
                goto done;
            }

            continue;
        }

        rc = ngx_walrus_concat_refuse(ids, "UNKNOWN_PARAMETER",
                                      "unknown field \"%*s\": the body "
                                      "takes ids, strict_consistency_check "
                                      "and skip_consistency_check",
                                      ngx_min(ngx_strlen(key), 64), key);
        goto done;
    }

    if (list == NULL) {
        rc = ngx_walrus_concat_refuse(ids, "INVALID_PARAMETER",
                                      "ids is missing");
        goto done;
    }

    rc = ngx_walrus_concat_ids_array(pool, list, ids);

done:

    json_decref(root);

    return rc;
}


static ngx_int_t
ngx_walrus_concat_ids_array(ngx_pool_t *pool, json_t *array,
    ngx_walrus_concat_ids_t *ids)
{
    size_t   i;
    json_t  *item;

    if (!json_is_array(array)) {
        return ngx_walrus_concat_refuse(ids, "INVALID_PARAMETER",
                                        "ids must be an array of blob IDs");
    }

    if (json_array_size(array) == 0) {
        return ngx_walrus_concat_refuse(ids, "INVALID_PARAMETER",
                                        "ids names no blob");
    }

    if (ngx_walrus_concat_ids_alloc(pool, json_array_size(array), ids)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    json_array_foreach(array, i, item) {

        if (!json_is_string(item)) {
            return ngx_walrus_concat_refuse(ids, "INVALID_PARAMETER",
                                            "ids[%uz] is not a string", i);
        }

        if (ngx_walrus_concat_id(ids, (u_char *) json_string_value(item),
                                 json_string_length(item))
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* room for n IDs, or a refusal when n is over the bound */

static ngx_int_t
ngx_walrus_concat_ids_alloc(ngx_pool_t *pool, ngx_uint_t n,
    ngx_walrus_concat_ids_t *ids)
{
    if (n > NGX_WALRUS_CONCAT_MAX_IDS) {
        return ngx_walrus_concat_refuse(ids, "TOO_MANY_BLOBS",
                                        "ids names %ui blobs; at most %d "
                                        "are concatenated", n,
                                        NGX_WALRUS_CONCAT_MAX_IDS);
    }

    ids->ids = ngx_palloc(pool, n * sizeof(ngx_walrus_id_text_t));
    ids->n = 0;

    return ids->ids != NULL ? NGX_OK : NGX_ERROR;
}


/* the next ID, in canonical form, or a refusal naming its place */

static ngx_int_t
ngx_walrus_concat_id(ngx_walrus_concat_ids_t *ids, const u_char *text,
    size_t len)
{
    uint8_t  id[WALRUS_BLOB_ID_LEN];

    if (walrus_blob_id_parse((const char *) text, len, id) != WALRUS_OK) {
        return ngx_walrus_concat_refuse(ids, "INVALID_BLOB_ID",
                                        "ids[%ui] is not a blob ID (43 "
                                        "characters of URL-safe base64)",
                                        ids->n);
    }

    walrus_blob_id_format(id, ids->ids[ids->n++]);

    return NGX_OK;
}


static ngx_int_t
ngx_walrus_concat_refuse(ngx_walrus_concat_ids_t *ids, const char *reason,
    const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(ids->message, ids->message + sizeof(ids->message) - 1,
                      fmt, args);
    va_end(args);

    *p = '\0';
    ids->reason = reason;

    return NGX_ERROR;
}
