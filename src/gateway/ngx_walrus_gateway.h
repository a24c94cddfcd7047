/*
 * Gateway role: its module's configuration and request context, its
 * content handler, the write path (PUT /v1/blobs), the read path
 * (GET/HEAD /v1/blobs/{id}), the concatenation of blobs
 * (/v1alpha/blobs/concat) and the audits (GET/HEAD /v1/audits...).
 */

#ifndef _NGX_WALRUS_GATEWAY_H_INCLUDED_
#define _NGX_WALRUS_GATEWAY_H_INCLUDED_


#include <ngx_walrus.h>
#include <ngx_walrus_gateway_metrics.h>


typedef struct {
    ngx_str_t              address;     /* host:port (numeric) or unix:path */
    ngx_str_t              password;
    ngx_int_t              db;
    ngx_str_t              prefix;
    ngx_msec_t             timeout;
    time_t                 metadata_ttl;
    time_t                 certificate_ttl;
    time_t                 negative_ttl;
    time_t                 audit_ttl;
} ngx_walrus_redis_conf_t;


typedef struct {
    ngx_walrus_redis_conf_t  redis;
    size_t                 worker_cache_size;
    size_t                 spare_buffers;
    off_t                  spare_files;
} ngx_walrus_gateway_main_conf_t;


typedef struct {
    ngx_flag_t             gateway;
    ngx_str_t              gateway_key_file;
    EVP_PKEY              *gateway_key;  /* a publisher's */
    ngx_str_t              node_location;
    ngx_path_t            *temp_path;
    off_t                  max_blob_size;
    size_t                 inline_size;
    ngx_msec_t             timeout;
    ngx_uint_t             max_uploads;
    ngx_msec_t             hedge_delay;
    ngx_msec_t             slow_timeout;
    ngx_msec_t             read_timeout;
    ngx_msec_t             straggler_timeout;
    time_t                 epoch_duration;  /* the operator's word */
    time_t                 short_max_age;   /* last epoch, deletable */
    ngx_thread_pool_t     *thread_pool;
} ngx_walrus_gateway_loc_conf_t;


typedef struct ngx_walrus_read_s     ngx_walrus_read_t;
typedef struct ngx_walrus_publish_s  ngx_walrus_publish_t;
typedef struct ngx_walrus_quilt_put_s  ngx_walrus_quilt_put_t;
typedef struct ngx_walrus_quilt_read_s  ngx_walrus_quilt_read_t;
typedef struct ngx_walrus_audits_s   ngx_walrus_audits_t;
typedef struct ngx_walrus_concat_s   ngx_walrus_concat_t;


/* what a gateway request keeps in the module's context slot */
typedef struct {
    ngx_walrus_read_t     *read;        /* GET, HEAD */
    ngx_walrus_publish_t  *publish;     /* PUT */
    ngx_walrus_audits_t   *audits;      /* GET, HEAD /v1/audits... */
    ngx_walrus_quilt_read_t  *quilt;    /* GET, HEAD of quilts */
    ngx_walrus_concat_t      *concat;   /* /v1alpha/blobs/concat */
} ngx_walrus_gateway_ctx_t;


extern ngx_module_t  ngx_http_walrus_gateway_module;


#define ngx_walrus_gateway_loc_conf(r)                                       \
    ((ngx_walrus_gateway_loc_conf_t *)                                       \
        ngx_http_get_module_loc_conf(r, ngx_http_walrus_gateway_module))

#define ngx_walrus_gateway_main_conf(r)                                      \
    ((ngx_walrus_gateway_main_conf_t *)                                      \
        ngx_http_get_module_main_conf(r, ngx_http_walrus_gateway_module))

/* the request's context: ngx_walrus_gateway_handler makes it first */
#define ngx_walrus_gateway_ctx(r)                                            \
    ((ngx_walrus_gateway_ctx_t *)                                            \
        ngx_http_get_module_ctx(r, ngx_http_walrus_gateway_module))

/* GET /v1/api: the OpenAPI document (ngx_walrus_gateway_api.c) */
ngx_int_t ngx_walrus_gateway_api(ngx_http_request_t *r);

/* the read or upload of a request, or NULL */
ngx_walrus_read_t *ngx_walrus_gateway_read(ngx_http_request_t *r);
ngx_walrus_publish_t *ngx_walrus_gateway_publish(ngx_http_request_t *r);

ngx_int_t ngx_walrus_gateway_handler(ngx_http_request_t *r);

/* PUT /v1/blobs, or PUT /v1/quilts when quilt */
ngx_int_t ngx_walrus_publish(ngx_http_request_t *r, ngx_uint_t quilt);

/* the temp file of an upload's body, or NULL when r is no upload */
ngx_temp_file_t *ngx_walrus_publish_body_file(ngx_http_request_t *r);

/* an upload's body goes to a spare file of the worker (body_filter.c) */
ngx_int_t ngx_walrus_body_filter_init(ngx_conf_t *cf);

ngx_int_t ngx_walrus_read(ngx_http_request_t *r, ngx_walrus_route_t *rt);

/* GET, HEAD, POST /v1alpha/blobs/concat (ngx_walrus_concat.c) */
ngx_int_t ngx_walrus_concat(ngx_http_request_t *r);

/* GET /v1/audits and the certificates and fraud proofs kept */
ngx_int_t ngx_walrus_audits(ngx_http_request_t *r, ngx_walrus_route_t *rt);


#endif /* _NGX_WALRUS_GATEWAY_H_INCLUDED_ */
