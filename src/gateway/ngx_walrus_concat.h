/*
 * Gateway GET, HEAD, POST /v1alpha/blobs/concat: the bytes of the blobs
 * named, one after the other (ngx_walrus_concat.c), and the list of
 * their IDs a request gives (ngx_walrus_concat_ids.c).
 */

#ifndef _NGX_WALRUS_CONCAT_H_INCLUDED_
#define _NGX_WALRUS_CONCAT_H_INCLUDED_


#include <ngx_walrus_gateway.h>
#include <walrus_metadata.h>


/* the most blobs one request concatenates (docs/http-api.md G14) */
#define NGX_WALRUS_CONCAT_MAX_IDS   100

/* the largest POST body: 100 IDs with room for any JSON layout */
#define NGX_WALRUS_CONCAT_MAX_BODY  (16 * 1024)


typedef char  ngx_walrus_id_text_t[WALRUS_BLOB_ID_TEXT_LEN + 1];


typedef struct {
    ngx_walrus_id_text_t  *ids;        /* canonical texts, in order */
    ngx_uint_t             n;
    const char            *reason;     /* of a refusal: a 400 */
    u_char                 message[160];
} ngx_walrus_concat_ids_t;


/*
 * The IDs of ?ids=a,b,c (value as in the query, percent-encoded) or of a
 * JSON body {"ids": [...]}; NGX_ERROR with ids->reason and ids->message
 * set when the request is to be refused, or when memory runs out
 * (ids->reason NULL).
 */
ngx_int_t ngx_walrus_concat_ids_query(ngx_pool_t *pool, ngx_str_t *value,
    ngx_walrus_concat_ids_t *ids);
ngx_int_t ngx_walrus_concat_ids_json(ngx_pool_t *pool, u_char *body,
    size_t len, ngx_walrus_concat_ids_t *ids);


#endif /* _NGX_WALRUS_CONCAT_H_INCLUDED_ */
