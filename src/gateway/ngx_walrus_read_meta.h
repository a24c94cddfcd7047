/*
 * Gateway read path: a blob's metadata and certificate, verified, from
 * the worker's memory, Redis or the nodes (ngx_walrus_read_meta.c).
 */

#ifndef _NGX_WALRUS_READ_META_H_INCLUDED_
#define _NGX_WALRUS_READ_META_H_INCLUDED_


#include <ngx_walrus_read.h>
#include <ngx_walrus_cache.h>


/*
 * Looks in the worker's memory, then asks Redis, else the nodes: NGX_OK
 * when metadata and certificate are at hand, NGX_AGAIN when asked for
 * (the read steps on when they come), NGX_ERROR.
 */
ngx_int_t ngx_walrus_meta_start(ngx_walrus_read_t *ctx);

/* a node's answer to a request for metadata or a certificate */
void ngx_walrus_meta_call(ngx_walrus_read_t *ctx, ngx_walrus_call_t *call);

/*
 * NGX_AGAIN while metadata or certificate is awaited, NGX_DECLINED when
 * slivers are needed, otherwise what finished the request.
 */
ngx_int_t ngx_walrus_meta_done(ngx_walrus_read_t *ctx);

/*
 * Milliseconds until the metadata phase's next deadline: the read's
 * timeout or a hedge delay while nodes are awaited, a proof asked for
 */
ngx_msec_t ngx_walrus_meta_wait(ngx_walrus_read_t *ctx);

/* cancels the requests for metadata and certificate still running */
void ngx_walrus_meta_cancel(ngx_walrus_read_t *ctx);

/*
 * The caches' side (ngx_walrus_read_meta_cache.c): a cache entry's
 * metadata and certificate used if they verify, metadata and
 * certificate from the nodes remembered once verified.
 */
/* the metadata and certificate asked of the nodes: a cache miss */
ngx_int_t ngx_walrus_meta_fetch(ngx_walrus_read_t *ctx);

void ngx_walrus_meta_cached(ngx_http_request_t *r, void *data,
    ngx_walrus_cache_entry_t *entry);
ngx_int_t ngx_walrus_meta_use(ngx_walrus_read_t *ctx, u_char *meta,
    size_t meta_len, u_char *cert, size_t cert_len);
ngx_uint_t ngx_walrus_meta_fits(ngx_walrus_read_t *ctx);
void ngx_walrus_meta_remember(ngx_walrus_read_t *ctx);

/* a content type sniffed anew goes to the worker's memory and Redis */
void ngx_walrus_meta_remember_type(ngx_walrus_read_t *ctx,
    const char *type);


#endif /* _NGX_WALRUS_READ_META_H_INCLUDED_ */
