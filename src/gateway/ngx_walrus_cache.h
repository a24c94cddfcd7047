/*
 * The Redis cache of verified blob metadata and certificates, of proofs
 * that a blob was encoded inconsistently, and of short-lived "not found"
 * answers.  Everything read back is verified again by the caller before
 * use.
 */

#ifndef _NGX_WALRUS_CACHE_H_INCLUDED_
#define _NGX_WALRUS_CACHE_H_INCLUDED_


#include <ngx_walrus_gateway.h>
#include <hiredis/hiredis.h>


typedef struct {
    ngx_str_t              metadata;
    ngx_str_t              certificate;
    ngx_str_t              proof;       /* an inconsistency proof */
    ngx_str_t              registration;
    const char            *type;        /* a sniffed type, or NULL */
    ngx_uint_t             negative;
    ngx_uint_t             answered;    /* 0 when Redis failed */
} ngx_walrus_cache_entry_t;


typedef void (*ngx_walrus_cache_pt)(ngx_http_request_t *r, void *data,
    ngx_walrus_cache_entry_t *entry);


typedef void (*ngx_walrus_cache_reply_pt)(ngx_http_request_t *r,
    void *data, redisReply *reply);


/* NGX_OK: handler runs later (not if r ends first); NGX_DECLINED: no cache */
ngx_int_t ngx_walrus_cache_lookup(ngx_http_request_t *r,
    const char *id_text, ngx_walrus_cache_pt handler, void *data);

/*
 * A Redis command of request r, which may end before the reply:
 * handler(r, data, reply) runs only if r is still there (reply NULL when
 * Redis failed), then r's connection's posted requests.  NGX_OK, or
 * NGX_DECLINED when Redis is not available: nothing will run.
 */
ngx_int_t ngx_walrus_cache_command(ngx_http_request_t *r,
    ngx_walrus_cache_reply_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen);

/*
 * The TTL of an entry of the blob of registration reg (NULL: not known):
 * ttl, or walrus_gateway_short_max_age for a deletable blob
 */
time_t ngx_walrus_cache_ttl(ngx_http_request_t *r, const u_char *reg,
    time_t ttl);

/* reg: the blob's registration, or NULL when not known */
void ngx_walrus_cache_store(ngx_http_request_t *r, const char *id_text,
    u_char *metadata, size_t metadata_len, u_char *cert, size_t cert_len,
    const u_char *reg);
void ngx_walrus_cache_store_negative(ngx_http_request_t *r,
    const char *id_text);

/* an inconsistency proof of the blob that held */
void ngx_walrus_cache_store_proof(ngx_http_request_t *r, const char *id_text,
    const u_char *proof, size_t len);

/* the blob's sniffed content type (a static string) */
void ngx_walrus_cache_store_type(ngx_http_request_t *r, const char *id_text,
    const char *type);


#endif /* _NGX_WALRUS_CACHE_H_INCLUDED_ */
