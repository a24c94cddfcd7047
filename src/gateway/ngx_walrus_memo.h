/*
 * A per-worker memory of verified blob metadata and certificates, in
 * front of Redis, so that reads of a hot blob need no round trip.  It
 * is bounded by walrus_worker_cache_size; the least recently used
 * entries go first, and an entry lives no longer than the Redis
 * certificate entry would.  Callers verify what they get, as for Redis;
 * an entry also says whether the worker proved the blob inconsistent,
 * which is not checked again.
 */

#ifndef _NGX_WALRUS_MEMO_H_INCLUDED_
#define _NGX_WALRUS_MEMO_H_INCLUDED_


#include <ngx_walrus_gateway.h>
#include <walrus_registration.h>


/*
 * NGX_OK with copies in r's pool, the blob's registration (its lifetime,
 * WALRUS_REGISTRATION_LEN bytes into reg), its sniffed content type (a
 * static string, NULL when not known yet) and whether it was proven
 * inconsistent; or NGX_DECLINED.  The caller checks the end epoch: an
 * entry is kept across epochs.
 */
ngx_int_t ngx_walrus_memo_get(ngx_http_request_t *r, const uint8_t *blob_id,
    ngx_str_t *metadata, ngx_str_t *certificate, u_char *reg,
    const char **type, ngx_uint_t *inconsistent);

/*
 * reg: the blob's registration, verified; NULL (not known) drops the
 * entry instead.  ttl: its life in seconds, 0 for the Redis certificate
 * TTL.  type: a static string or NULL.
 */
void ngx_walrus_memo_put(ngx_http_request_t *r, const uint8_t *blob_id,
    const u_char *metadata, size_t metadata_len, const u_char *cert,
    size_t cert_len, const u_char *reg, time_t ttl, const char *type);

/* remembers the sniffed type of a blob the memory holds */
void ngx_walrus_memo_set_type(const uint8_t *blob_id, const char *type);

/*
 * The blob the memory holds was proven inconsistent: a proof of it held,
 * or a decode of the read found it.  Putting the blob again forgets it.
 */
void ngx_walrus_memo_set_inconsistent(const uint8_t *blob_id);

/* frees every entry: when the worker exits */
void ngx_walrus_memo_drain(void);


#endif /* _NGX_WALRUS_MEMO_H_INCLUDED_ */
