/*
 * Gateway read path: a blob's metadata and certificate in and out of the
 * caches.  An entry of the worker's memory or Redis is used only if it
 * verifies like an answer from the nodes; what the nodes sent, once
 * verified, is remembered in both, for as long as others may cache the
 * blob, with its content type once it is sniffed.
 */

#include <ngx_walrus_read.h>
#include <ngx_walrus_read_meta.h>
#include <ngx_walrus_cache.h>
#include <ngx_walrus_memo.h>


static time_t ngx_walrus_meta_ttl(ngx_walrus_read_t *ctx, const u_char *reg);


/* a cache entry is used only if it verifies like an answer from a node */

void
ngx_walrus_meta_cached(ngx_http_request_t *r, void *data,
    ngx_walrus_cache_entry_t *entry)
{
    ngx_walrus_read_t  *ctx = data;

    if (ctx->phase == NGX_WALRUS_READ_DONE) {
        return;
    }

    ngx_walrus_read_phase(ctx, NGX_WALRUS_READ_METADATA);
    ngx_walrus_cache_count(NGX_WALRUS_CACHE_REDIS,
                           entry->negative || entry->registration.len);

    /* checked once the metadata and certificate are in, as a node's */
    ctx->proof.cached = entry->proof;

    if (entry->negative && entry->metadata.len == 0) {
        ngx_walrus_read_finish(ctx,
            ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                  NGX_WALRUS_DOMAIN_GATEWAY, "BLOB_NOT_FOUND",
                                  "blob %s is not stored or not certified",
                                  ctx->route.id_text));
        return;
    }

    /* an entry without the blob's lifetime is fetched again */

    if (entry->metadata.len && entry->certificate.len
        && entry->registration.len == 0)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "walrus: the cached entry of blob %s has no "
                       "registration", ctx->route.id_text);

    } else if (entry->metadata.len && entry->certificate.len) {
        if (ngx_walrus_lifetime_take(ctx, entry->registration.data,
                                     entry->registration.len, 0)
            == NGX_OK
            && ngx_walrus_meta_use(ctx, entry->metadata.data,
                                   entry->metadata.len,
                                   entry->certificate.data,
                                   entry->certificate.len)
               == NGX_OK)
        {
            ctx->from_cache = 1;
            ctx->type = entry->type;
            ngx_walrus_memo_put(r, ctx->route.blob_id, entry->metadata.data,
                                entry->metadata.len, entry->certificate.data,
                                entry->certificate.len,
                                entry->registration.data,
                                ngx_walrus_meta_ttl(ctx,
                                                    entry->registration.data),
                                entry->type);

        } else {
            ctx->has_reg = 0;

            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "walrus: the cached entry of blob %s does not "
                          "verify; ignored", ctx->route.id_text);
        }
    }

    if (!ctx->from_cache && ngx_walrus_meta_fetch(ctx) != NGX_OK) {
        ngx_walrus_read_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_walrus_read_step(r);
}


ngx_int_t
ngx_walrus_meta_use(ngx_walrus_read_t *ctx, u_char *meta, size_t meta_len,
    u_char *cert, size_t cert_len)
{
    walrus_cert_t  *c;

    c = ngx_palloc(ctx->request->pool, sizeof(walrus_cert_t));
    if (c == NULL
        || ngx_walrus_cert_check(ctx->history, c, cert, cert_len,
                                 ctx->route.blob_id) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (walrus_metadata_parse(&ctx->meta, meta, meta_len) != WALRUS_OK) {
        return NGX_ERROR;
    }

    if (!ngx_walrus_meta_fits(ctx)) {
        walrus_metadata_free(&ctx->meta);
        return NGX_ERROR;
    }

    ctx->have_meta = 1;
    ctx->cert = c;

    return NGX_OK;
}


/*
 * Parsed metadata is used when it hashes to the blob ID and is for the
 * committee's shards and segment size: a larger segment would make the
 * read hold more memory than the configuration allows for.
 */

ngx_uint_t
ngx_walrus_meta_fits(ngx_walrus_read_t *ctx)
{
    return ctx->meta.params.n == ctx->committee->params.n
           && ctx->meta.segment_size == ctx->committee->segment_size
           && walrus_metadata_check(&ctx->meta, ctx->route.blob_id)
              == WALRUS_OK;
}


/* verified metadata and certificate from the nodes go to the cache */

void
ngx_walrus_meta_remember(ngx_walrus_read_t *ctx)
{
    u_char  *meta, *cert, *reg;
    size_t   meta_len, cert_len;

    meta_len = walrus_metadata_size(&ctx->meta);
    cert_len = walrus_cert_size(ctx->cert);
    meta = ngx_pnalloc(ctx->request->pool, meta_len);
    cert = ngx_pnalloc(ctx->request->pool, cert_len);

    if (meta == NULL || cert == NULL) {
        return;
    }

    walrus_metadata_serialize(&ctx->meta, meta);
    walrus_cert_serialize(ctx->cert, cert);

    reg = ngx_walrus_lifetime_bytes(ctx);

    ngx_walrus_cache_store(ctx->request, ctx->route.id_text, meta, meta_len,
                           cert, cert_len, reg);
    ngx_walrus_memo_put(ctx->request, ctx->route.blob_id, meta, meta_len,
                        cert, cert_len, reg, ngx_walrus_meta_ttl(ctx, reg),
                        ctx->type);
}


/* a deletable blob is remembered as long as others may cache it */

static time_t
ngx_walrus_meta_ttl(ngx_walrus_read_t *ctx, const u_char *reg)
{
    ngx_walrus_gateway_main_conf_t  *wmcf;

    wmcf = ngx_walrus_gateway_main_conf(ctx->request);

    return ngx_walrus_cache_ttl(ctx->request, reg,
                                wmcf->redis.certificate_ttl);
}


/* a type sniffed anew goes to the worker's memory and to Redis */

void
ngx_walrus_meta_remember_type(ngx_walrus_read_t *ctx, const char *type)
{
    if (ctx->type != NULL && ngx_strcmp(ctx->type, type) == 0) {
        return;
    }

    ctx->type = type;
    ngx_walrus_memo_set_type(ctx->route.blob_id, type);
    ngx_walrus_cache_store_type(ctx->request, ctx->route.id_text, type);
}
