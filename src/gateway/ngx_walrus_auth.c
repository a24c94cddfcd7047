/*
 * Publisher authentication of a write request: the bearer token of its
 * Authorization header is verified (src/core/walrus_jwt.c), its limits
 * checked against the request, its ID marked used (ngx_walrus_auth_replay.c),
 * and only then does the write handler go on and read the body.
 *
 * Statuses (docs/http-api.md, "Publisher authentication"): 401 for a
 * token that is missing, malformed, wrongly signed, expired, issued for
 * later or used before; 403 for a good token whose limits refuse this
 * upload; 503 when the token IDs cannot be checked.
 */

#include <ngx_walrus_auth.h>


static ngx_str_t *ngx_walrus_auth_bearer(ngx_http_request_t *r,
    ngx_str_t *token);
static void ngx_walrus_auth_replayed(ngx_http_request_t *r, ngx_int_t rc);
static ngx_int_t ngx_walrus_auth_verdict(ngx_http_request_t *r,
    ngx_walrus_auth_t *auth, ngx_int_t rc);
static ngx_int_t ngx_walrus_auth_refuse(ngx_http_request_t *r,
    ngx_uint_t status, const char *reason, const char *why);


ngx_int_t
ngx_walrus_auth_upload(ngx_http_request_t *r, ngx_uint_t epochs,
    ngx_walrus_auth_pt next)
{
    int                          rc;
    time_t                       now, ttl;
    ngx_str_t                    token;
    ngx_int_t                    replay;
    const char                  *why;
    ngx_walrus_auth_t           *auth;
    ngx_walrus_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_walrus_auth_module);

    if (!alcf->enable) {
        return next(r);
    }

    auth = ngx_pcalloc(r->pool, sizeof(ngx_walrus_auth_t));
    if (auth == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    auth->epochs = epochs;
    auth->next = next;
    auth->replayed = ngx_walrus_auth_replayed;

    if (ngx_walrus_auth_bearer(r, &token) == NULL) {
        return ngx_walrus_auth_refuse(r, NGX_HTTP_UNAUTHORIZED,
                                      "MISSING_TOKEN",
                                      "uploads here need a token: "
                                      "\"Authorization: Bearer <JWT>\"");
    }

    now = ngx_time();

    rc = walrus_jwt_verify(alcf->keys->elts, alcf->keys->nelts,
                           (char *) token.data, token.len, now,
                           alcf->leeway, &auth->claims, &why);

    if (rc == WALRUS_JWT_OK) {
        rc = walrus_jwt_check_lifetime(&auth->claims, now,
                                       alcf->max_lifetime, alcf->leeway,
                                       &why);
    }

    if (rc == WALRUS_JWT_OK) {
        rc = walrus_jwt_check_upload(&auth->claims,
                                     r->headers_in.content_length_n >= 0
                                     ? r->headers_in.content_length_n
                                     : WALRUS_JWT_UNSET,
                                     epochs, &why);
    }

    if (rc != WALRUS_JWT_OK) {
        return ngx_walrus_auth_refuse(r, walrus_jwt_status(rc),
                                      walrus_jwt_reason(rc), why);
    }

    ngx_http_set_ctx(r, auth, ngx_http_walrus_auth_module);

    /* the ID is kept as long as the token could be accepted */

    ttl = auth->claims.exp + alcf->leeway - now;
    if (ttl < 1) {
        ttl = 1;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: token \"%s\" verified, its ID kept %T s",
                   auth->claims.jti, ttl);

    replay = ngx_walrus_auth_replay(r, auth, ttl);

    if (replay == NGX_AGAIN) {
        /* the reply resumes the request: it holds a reference till then */
        r->main->count++;
        return NGX_DONE;
    }

    return ngx_walrus_auth_verdict(r, auth, replay);
}


/* "Bearer <token>" (the scheme in any case), or NULL */

static ngx_str_t *
ngx_walrus_auth_bearer(ngx_http_request_t *r, ngx_str_t *token)
{
    u_char  *p, *last;

    if (r->headers_in.authorization == NULL) {
        return NULL;
    }

    p = r->headers_in.authorization->value.data;
    last = p + r->headers_in.authorization->value.len;

    if (last - p < 7 || ngx_strncasecmp(p, (u_char *) "Bearer ", 7) != 0) {
        return NULL;
    }

    for (p += 7; p < last && *p == ' '; p++) {
        /* void */
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    if (p == last) {
        return NULL;
    }

    token->data = p;
    token->len = last - p;

    return token;
}


/* Redis answered about the token's ID */

static void
ngx_walrus_auth_replayed(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_walrus_auth_t  *auth;

    auth = ngx_http_get_module_ctx(r, ngx_http_walrus_auth_module);

    ngx_http_finalize_request(r, ngx_walrus_auth_verdict(r, auth, rc));
}


/* the token ID's fate: the upload goes on, or the refusal's answer */

static ngx_int_t
ngx_walrus_auth_verdict(ngx_http_request_t *r, ngx_walrus_auth_t *auth,
    ngx_int_t rc)
{
    switch (rc) {

    case NGX_OK:
        return auth->next(r);

    case NGX_DECLINED:
        return ngx_walrus_auth_refuse(r, NGX_HTTP_UNAUTHORIZED,
                                      "TOKEN_ALREADY_USED",
                                      "the token was used before: each "
                                      "token (its \"jti\") stores one blob");

    case NGX_BUSY:
        return ngx_walrus_auth_refuse(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "REPLAY_CACHE_FULL",
                                      "the gateway remembers as many "
                                      "unexpired tokens as it may; retry "
                                      "later");

    default: /* NGX_ERROR */
        return ngx_walrus_auth_refuse(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "AUTH_UNAVAILABLE",
                                      "the gateway cannot check that the "
                                      "token is unused (Redis is "
                                      "unavailable); retry later");
    }
}


ngx_int_t
ngx_walrus_auth_body(ngx_http_request_t *r, off_t length)
{
    int                 rc;
    const char         *why;
    ngx_walrus_auth_t  *auth;

    auth = ngx_http_get_module_ctx(r, ngx_http_walrus_auth_module);

    if (auth == NULL) {
        return NGX_OK;
    }

    rc = walrus_jwt_check_upload(&auth->claims, length, auth->epochs, &why);

    if (rc == WALRUS_JWT_OK) {
        return NGX_OK;
    }

    return ngx_walrus_auth_refuse(r, walrus_jwt_status(rc),
                                  walrus_jwt_reason(rc), why);
}


static ngx_int_t
ngx_walrus_auth_refuse(ngx_http_request_t *r, ngx_uint_t status,
    const char *reason, const char *why)
{
    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * RFC 6750 section 3: what a client without a good token reads; no
     * error code when it sent none
     */

    if (status == NGX_HTTP_UNAUTHORIZED
        && (ngx_strcmp(reason, "MISSING_TOKEN") == 0
            ? ngx_walrus_header(r, "WWW-Authenticate",
                                "Bearer realm=\"walrus\"")
            : ngx_walrus_header(r, "WWW-Authenticate",
                                "Bearer realm=\"walrus\", "
                                "error=\"invalid_token\""))
           == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_walrus_send_error(r, status, NGX_WALRUS_DOMAIN_GATEWAY,
                                 reason, "%s", why);
}
