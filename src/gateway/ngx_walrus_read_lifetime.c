/*
 * Gateway read path: a blob's lifetime.  Nodes send the blob's
 * registration with their metadata and certificate answers (and with
 * their 404 BLOB_EXPIRED); each one is verified (a publisher of the
 * committee of its own epoch signed it, for this blob) and the latest end
 * epoch among them is kept: a lying node can only send an older genuine
 * registration, which a later one overrides.  The caches keep the
 * registration with the entry.  Once the current epoch reaches the end
 * epoch the read answers 404 BLOB_EXPIRED, whatever a cache holds.
 *
 * Caching headers follow the end epoch (docs/http-api.md G4, "Caching
 * and the blob's lifetime"): with epochs lasting
 * walrus_gateway_epoch_duration at least, a blob ending
 * with epoch E-1, read in epoch C, is there for (E - C - 1) whole epochs
 * more; max-age is that, up to a year.  A blob in its last epoch, or
 * deletable, gets walrus_gateway_short_max_age, without "immutable".
 */

#include <ngx_walrus_read.h>
#include <walrus_base64.h>


#define NGX_WALRUS_YEAR  31536000

#define NGX_WALRUS_REGISTRATION_TEXT_LEN                                     \
    walrus_base64url_encoded_len(WALRUS_REGISTRATION_LEN)


void
ngx_walrus_lifetime_listen(ngx_walrus_call_t *call)
{
    ngx_str_set(&call->header2, NGX_WALRUS_REGISTRATION_HEADER);
}


void
ngx_walrus_lifetime_claim(ngx_walrus_read_t *ctx, ngx_walrus_call_t *call)
{
    size_t   len;
    uint8_t  raw[WALRUS_REGISTRATION_LEN + 3];

    if (call->header2_value.len == 0) {
        return;
    }

    if (call->header2_value.len != NGX_WALRUS_REGISTRATION_TEXT_LEN
        || walrus_base64url_decode((char *) call->header2_value.data,
                                   call->header2_value.len, raw, &len)
           != WALRUS_OK
        || ngx_walrus_lifetime_take(ctx, raw, len, 0) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "walrus: node %s sent a registration of blob %s that "
                      "is not valid; ignored",
                      ctx->committee->nodes[call->node].name,
                      ctx->route.id_text);
    }
}


/*
 * trusted: the worker's memory, which holds only what this worker
 * verified (as a certificate it verified is not verified again): a
 * signature check less on every read of a hot blob
 */

ngx_int_t
ngx_walrus_lifetime_take(ngx_walrus_read_t *ctx, const u_char *raw,
    size_t len, ngx_uint_t trusted)
{
    int                    rc;
    walrus_registration_t  reg;

    rc = walrus_registration_parse(&reg, raw, len);

    /*
     * One that would not raise the end epoch kept changes nothing: only
     * a later one costs a signature check (about 0.1 ms), not each of
     * the 2n answers of a read
     */

    if (rc == WALRUS_OK && ctx->has_reg
        && reg.end_epoch <= ctx->reg.end_epoch)
    {
        return NGX_OK;
    }

    if (rc == WALRUS_OK && !trusted) {
        rc = walrus_registration_verify_signed(ctx->history, &reg,
                                               ctx->route.blob_id);
    }

    if (rc != WALRUS_OK) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "walrus: registration of %s refused: %s",
                       ctx->route.id_text, walrus_strerror(rc));
        return NGX_DECLINED;
    }

    if (!ctx->has_reg || reg.end_epoch > ctx->reg.end_epoch) {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "walrus: blob %s registered until end epoch %uD%s",
                       ctx->route.id_text, reg.end_epoch,
                       ctx->has_reg ? " (later)" : "");
        ctx->reg = reg;
        ctx->has_reg = 1;
    }

    return NGX_OK;
}


ngx_uint_t
ngx_walrus_lifetime_expired(ngx_walrus_read_t *ctx)
{
    return ctx->has_reg
           && walrus_registration_expired(&ctx->reg, ctx->history->current);
}


/* the registration raw, for the caches, or NULL when none is known */

u_char *
ngx_walrus_lifetime_bytes(ngx_walrus_read_t *ctx)
{
    u_char  *p;

    if (!ctx->has_reg) {
        return NULL;
    }

    p = ngx_pnalloc(ctx->request->pool, WALRUS_REGISTRATION_LEN);
    if (p == NULL) {
        return NULL;
    }

    walrus_registration_serialize(&ctx->reg, p);

    return p;
}


/* 404 BLOB_EXPIRED, with the registration that shows it */

ngx_int_t
ngx_walrus_lifetime_answer(ngx_walrus_read_t *ctx)
{
    u_char              *raw, *text;
    ngx_http_request_t  *r;

    r = ctx->request;
    raw = ngx_walrus_lifetime_bytes(ctx);
    text = ngx_pnalloc(r->pool, NGX_WALRUS_REGISTRATION_TEXT_LEN);

    if (raw == NULL || text == NULL
        || ngx_walrus_add_header(r, NGX_WALRUS_REGISTRATION_HEADER, text,
                                 walrus_base64url_encode(raw,
                                     WALRUS_REGISTRATION_LEN, (char *) text))
           == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                 NGX_WALRUS_DOMAIN_GATEWAY, "BLOB_EXPIRED",
                                 "blob %s was stored until epoch %uD; the "
                                 "current epoch is %uD", ctx->route.id_text,
                                 ctx->reg.end_epoch - 1,
                                 ctx->history->current);
}


/*
 * Never longer than the whole epochs left after the current one, whose
 * end the gateway does not know; a blob it knows no registration of is
 * treated as one in its last epoch.
 */

ngx_int_t
ngx_walrus_lifetime_cache_control(ngx_walrus_read_t *ctx)
{
    u_char                         *p;
    time_t                          age;
    uint32_t                        left;
    ngx_uint_t                      immutable;
    ngx_http_request_t             *r;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    r = ctx->request;
    wlcf = ngx_walrus_gateway_loc_conf(r);

    left = ctx->has_reg && ctx->reg.end_epoch > ctx->history->current
           ? ctx->reg.end_epoch - ctx->history->current : 1;

    if (left <= 1 || ctx->reg.deletable) {
        age = wlcf->short_max_age;
        immutable = 0;

    } else {
        age = (uint64_t) (left - 1) * wlcf->epoch_duration
              < NGX_WALRUS_YEAR
              ? (time_t) ((left - 1) * wlcf->epoch_duration)
              : NGX_WALRUS_YEAR;
        immutable = 1;
    }

    p = ngx_pnalloc(r->pool, sizeof("public, max-age=, immutable")
                             + NGX_TIME_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    return ngx_walrus_add_header(r, "Cache-Control", p,
                                 ngx_sprintf(p, "public, max-age=%T%s", age,
                                             immutable ? ", immutable" : "")
                                 - p)
           != NULL ? NGX_OK : NGX_ERROR;
}
