/*
 * The HTTP API paths: /v1/health, /v1/certified, /v1/blobs,
 * /v1/blobs/{id}[/...], /v1alpha/blobs/{id}/stream and
 * /v1alpha/blobs/concat, the quilts' /v1/quilts[/...] and
 * /v1/blobs/by-quilt-.../..., the audits' /v1/audit/... of nodes and the
 * gateway's /v1/audits[/...].
 */

#include <ngx_walrus.h>
#include <walrus_metadata.h>
#include <walrus_quilt.h>


static ngx_int_t ngx_walrus_route_stream(u_char *p, u_char *last,
    ngx_walrus_route_t *rt);
static ngx_int_t ngx_walrus_route_quilts(u_char *p, u_char *last,
    ngx_walrus_route_t *rt);
static ngx_int_t ngx_walrus_route_by_quilt(u_char *p, u_char *last,
    ngx_walrus_route_t *rt);
static ngx_int_t ngx_walrus_route_pair(u_char *p, u_char *last,
    ngx_walrus_route_t *rt);
static u_char *ngx_walrus_route_number(u_char *p, u_char *last,
    ngx_uint_t *pair);
static ngx_int_t ngx_walrus_route_audit(u_char *p, u_char *last,
    ngx_walrus_route_t *rt);
static ngx_int_t ngx_walrus_route_audits(u_char *p, u_char *last,
    ngx_walrus_route_t *rt);
static u_char *ngx_walrus_route_round(u_char *p, u_char *last,
    uint32_t *round);


ngx_int_t
ngx_walrus_route_parse(ngx_str_t *uri, ngx_walrus_route_t *rt)
{
    u_char     *p, *last, *slash;
    ngx_str_t   rest;
    ngx_uint_t  i;

    static ngx_str_t  blobs = ngx_string("/v1/blobs");
    static ngx_str_t  alpha = ngx_string("/v1alpha/blobs/");
    static ngx_str_t  audit = ngx_string("/v1/audit/");
    static ngx_str_t  audits = ngx_string("/v1/audits/");
    static ngx_str_t  quilts = ngx_string("/v1/quilts");

    static const struct {
        ngx_str_t            path;
        ngx_walrus_route_e   kind;
    } fixed[] = {
        { ngx_string("/v1/health"), NGX_WALRUS_ROUTE_HEALTH },
        { ngx_string("/v1/certified"), NGX_WALRUS_ROUTE_CERTIFIED },
        { ngx_string("/v1/audit/beacon"), NGX_WALRUS_ROUTE_AUDIT_BEACON },
        { ngx_string("/v1/audit/status"), NGX_WALRUS_ROUTE_AUDIT_STATUS },
        { ngx_string("/v1/audits"), NGX_WALRUS_ROUTE_AUDITS },
        { ngx_string("/v1/epoch/ready"), NGX_WALRUS_ROUTE_EPOCH_READY },
        { ngx_string("/status"), NGX_WALRUS_ROUTE_LIVENESS },
        { ngx_string("/v1/api"), NGX_WALRUS_ROUTE_API },
        { ngx_string("/v1alpha/blobs/concat"), NGX_WALRUS_ROUTE_CONCAT }
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

    if (uri->len > audit.len
        && ngx_strncmp(p, audit.data, audit.len) == 0)
    {
        return ngx_walrus_route_audit(p + audit.len, last, rt);
    }

    if (uri->len > audits.len
        && ngx_strncmp(p, audits.data, audits.len) == 0)
    {
        return ngx_walrus_route_audits(p + audits.len, last, rt);
    }

    if (uri->len > alpha.len
        && ngx_strncmp(p, alpha.data, alpha.len) == 0)
    {
        return ngx_walrus_route_stream(p + alpha.len, last, rt);
    }

    if (uri->len >= quilts.len
        && ngx_strncmp(p, quilts.data, quilts.len) == 0)
    {
        return ngx_walrus_route_quilts(p + quilts.len, last, rt);
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

    if ((size_t) (last - p) > sizeof("by-quilt-") - 1
        && ngx_strncmp(p, "by-quilt-", sizeof("by-quilt-") - 1) == 0)
    {
        return ngx_walrus_route_by_quilt(p + sizeof("by-quilt-") - 1, last,
                                         rt);
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


/*
 * "{id}/stream" after "/v1alpha/blobs/": Walrus aggregators' streaming
 * read, the same answer as GET /v1/blobs/{id} (which streams already)
 */

static ngx_int_t
ngx_walrus_route_stream(u_char *p, u_char *last, ngx_walrus_route_t *rt)
{
    u_char  *slash;

    slash = ngx_strlchr(p, last, '/');
    if (slash == NULL) {
        return NGX_DECLINED;
    }

    if (walrus_blob_id_parse((char *) p, slash - p, rt->blob_id)
        != WALRUS_OK)
    {
        return NGX_ERROR;
    }

    if ((size_t) (last - slash) != sizeof("/stream") - 1
        || ngx_strncmp(slash, "/stream", sizeof("/stream") - 1) != 0)
    {
        return NGX_DECLINED;
    }

    walrus_blob_id_format(rt->blob_id, rt->id_text);
    rt->kind = NGX_WALRUS_ROUTE_BLOB;
    rt->stream = 1;

    return NGX_OK;
}


/* after "/v1/quilts": nothing, "/" or "/{quilt_id}/patches" */

static ngx_int_t
ngx_walrus_route_quilts(u_char *p, u_char *last, ngx_walrus_route_t *rt)
{
    u_char  *slash;

    if (p == last || (p + 1 == last && *p == '/')) {
        rt->kind = NGX_WALRUS_ROUTE_QUILTS;
        return NGX_OK;
    }

    if (*p++ != '/') {
        return NGX_DECLINED;
    }

    slash = ngx_strlchr(p, last, '/');

    if (slash == NULL
        || (size_t) (last - slash) != sizeof("/patches") - 1
        || ngx_strncmp(slash, "/patches", sizeof("/patches") - 1) != 0)
    {
        return NGX_DECLINED;
    }

    rt->kind = NGX_WALRUS_ROUTE_QUILT_PATCHES;

    if (walrus_blob_id_parse((char *) p, slash - p, rt->blob_id)
        != WALRUS_OK)
    {
        return NGX_ERROR;
    }

    walrus_blob_id_format(rt->blob_id, rt->id_text);

    return NGX_OK;
}


/*
 * After "/v1/blobs/by-quilt-": "id/{quilt_id}/{identifier}" (the rest of
 * the path, slashes included) or "patch-id/{patch_id}"
 */

static ngx_int_t
ngx_walrus_route_by_quilt(u_char *p, u_char *last, ngx_walrus_route_t *rt)
{
    u_char  *slash;

    if ((size_t) (last - p) > sizeof("patch-id/") - 1
        && ngx_strncmp(p, "patch-id/", sizeof("patch-id/") - 1) == 0)
    {
        p += sizeof("patch-id/") - 1;
        rt->kind = NGX_WALRUS_ROUTE_QUILT_PATCH;

        if (walrus_quilt_patch_id_parse((char *) p, last - p, rt->blob_id,
                                        &rt->patch)
            != WALRUS_OK)
        {
            return NGX_ERROR;
        }

        walrus_blob_id_format(rt->blob_id, rt->id_text);

        return NGX_OK;
    }

    if ((size_t) (last - p) <= sizeof("id/") - 1
        || ngx_strncmp(p, "id/", sizeof("id/") - 1) != 0)
    {
        return NGX_DECLINED;
    }

    p += sizeof("id/") - 1;

    slash = ngx_strlchr(p, last, '/');
    if (slash == NULL || slash + 1 == last) {
        return NGX_DECLINED;
    }

    rt->kind = NGX_WALRUS_ROUTE_QUILT_FILE;

    if (walrus_blob_id_parse((char *) p, slash - p, rt->blob_id)
        != WALRUS_OK)
    {
        return NGX_ERROR;
    }

    walrus_blob_id_format(rt->blob_id, rt->id_text);
    rt->identifier.data = slash + 1;
    rt->identifier.len = last - slash - 1;

    return NGX_OK;
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


/*
 * After "/v1/audit/": "rounds/{r}/" and beacon, signature, answer,
 * certificate, attestations/{X} or frauds/{X}; {X} is checked against
 * the committee by the handler, as a pair is
 */

static ngx_int_t
ngx_walrus_route_audit(u_char *p, u_char *last, ngx_walrus_route_t *rt)
{
    size_t      len;
    ngx_uint_t  i;

    static const struct {
        ngx_str_t            name;
        ngx_walrus_route_e   kind;
    } leaves[] = {
        { ngx_string("beacon"), NGX_WALRUS_ROUTE_AUDIT_ROUND },
        { ngx_string("signature"), NGX_WALRUS_ROUTE_AUDIT_SIGNATURE },
        { ngx_string("answer"), NGX_WALRUS_ROUTE_AUDIT_ANSWER },
        { ngx_string("certificate"), NGX_WALRUS_ROUTE_AUDIT_CERTIFICATE },
        { ngx_string("attestations/"), NGX_WALRUS_ROUTE_AUDIT_ATTESTATION },
        { ngx_string("frauds/"), NGX_WALRUS_ROUTE_AUDIT_FRAUD }
    };

    len = sizeof("rounds/") - 1;

    if ((size_t) (last - p) <= len
        || ngx_strncmp(p, "rounds/", len) != 0)
    {
        return NGX_DECLINED;
    }

    p = ngx_walrus_route_round(p + len, last, &rt->round);

    if (p == NULL || p == last || *p++ != '/') {
        return NGX_DECLINED;
    }

    for (i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
        len = leaves[i].name.len;

        if (leaves[i].name.data[len - 1] == '/') {
            if ((size_t) (last - p) <= len
                || ngx_strncmp(p, leaves[i].name.data, len) != 0)
            {
                continue;
            }

            rt->kind = leaves[i].kind;

            return ngx_walrus_route_number(p + len, last, &rt->node) == last
                   ? NGX_OK : NGX_DECLINED;
        }

        if ((size_t) (last - p) == len
            && ngx_strncmp(p, leaves[i].name.data, len) == 0)
        {
            rt->kind = leaves[i].kind;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/*
 * After "/v1/audits/": "{X}/rounds/{r}/certificate" or "{X}/frauds/{r}";
 * {X} is checked against the committee by the handler, as a pair is
 */

static ngx_int_t
ngx_walrus_route_audits(u_char *p, u_char *last, ngx_walrus_route_t *rt)
{
    size_t  len;

    p = ngx_walrus_route_number(p, last, &rt->node);

    if (p == NULL || p == last || *p++ != '/') {
        return NGX_DECLINED;
    }

    len = sizeof("frauds/") - 1;

    if ((size_t) (last - p) > len && ngx_strncmp(p, "frauds/", len) == 0) {
        rt->kind = NGX_WALRUS_ROUTE_AUDITS_FRAUD;
        return ngx_walrus_route_round(p + len, last, &rt->round) == last
               ? NGX_OK : NGX_DECLINED;
    }

    len = sizeof("rounds/") - 1;

    if ((size_t) (last - p) <= len || ngx_strncmp(p, "rounds/", len) != 0) {
        return NGX_DECLINED;
    }

    p = ngx_walrus_route_round(p + len, last, &rt->round);

    if (p == NULL
        || (size_t) (last - p) != sizeof("/certificate") - 1
        || ngx_strncmp(p, "/certificate", last - p) != 0)
    {
        return NGX_DECLINED;
    }

    rt->kind = NGX_WALRUS_ROUTE_AUDITS_CERT;

    return NGX_OK;
}


/* a round in canonical decimal, 1 to 2^32 - 1: the end of its digits */

static u_char *
ngx_walrus_route_round(u_char *p, u_char *last, uint32_t *round)
{
    u_char    *start;
    uint64_t   value;

    start = p;
    value = 0;

    while (p < last && *p >= '0' && *p <= '9' && p - start < 10) {
        value = value * 10 + (*p++ - '0');
    }

    if (p == start || *start == '0' || value > 0xffffffff
        || (p < last && *p >= '0' && *p <= '9'))
    {
        return NULL;
    }

    *round = (uint32_t) value;

    return p;
}
