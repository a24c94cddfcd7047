/*
 * Walrus module glue: configuration, routes and shared helpers.
 */

#ifndef _NGX_WALRUS_H_INCLUDED_
#define _NGX_WALRUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_thread_pool.h>

#include <walrus_types.h>
#include <walrus_committee.h>
#include <walrus_cert.h>


#define NGX_WALRUS_DOMAIN_NODE      "node.walrus"
#define NGX_WALRUS_DOMAIN_GATEWAY   "gateway.walrus"

/* a blob encoded inconsistently (422, which nginx does not name) */
#define NGX_WALRUS_HTTP_INCONSISTENT  422
#define NGX_WALRUS_MAX_METADATA     (64 * 1024 * 1024)
#define NGX_WALRUS_REDIS_PREFIX_MAX  256


typedef struct {
    ngx_str_t              address;     /* host:port (numeric) or unix:path */
    ngx_str_t              password;
    ngx_int_t              db;
    ngx_str_t              prefix;
    ngx_msec_t             timeout;
    time_t                 metadata_ttl;
    time_t                 certificate_ttl;
    time_t                 negative_ttl;
} ngx_walrus_redis_conf_t;


typedef struct {
    walrus_committee_t    *committee;
    ngx_str_t              committee_file;
    ngx_walrus_redis_conf_t  redis;
    size_t                 worker_cache_size;
    size_t                 spare_buffers;
    off_t                  spare_files;
    ngx_array_t           *body_dirs;   /* of nodes, to sweep */
} ngx_walrus_main_conf_t;


typedef struct {
    ngx_flag_t             node;
    ngx_str_t              node_name;
    ngx_int_t              node_index;
    ngx_str_t              store;
    off_t                  min_free_space;
    time_t                 stale_body_time;
    ngx_str_t              key_file;
    EVP_PKEY              *key;
    ngx_str_t              thread_pool_name;
    ngx_thread_pool_t     *thread_pool;

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
} ngx_walrus_loc_conf_t;


typedef enum {
    NGX_WALRUS_ROUTE_HEALTH = 0,
    NGX_WALRUS_ROUTE_BLOBS,
    NGX_WALRUS_ROUTE_BLOB,
    NGX_WALRUS_ROUTE_METADATA,
    NGX_WALRUS_ROUTE_SLIVER,
    NGX_WALRUS_ROUTE_CONFIRMATION,
    NGX_WALRUS_ROUTE_CERTIFICATE,
    NGX_WALRUS_ROUTE_STATUS,
    NGX_WALRUS_ROUTE_BYTE_RANGE,
    NGX_WALRUS_ROUTE_REGISTRATION
} ngx_walrus_route_e;


typedef struct {
    ngx_walrus_route_e     kind;
    ngx_uint_t             pair;
    walrus_axis_e          axis;
    uint8_t                blob_id[WALRUS_BLOB_ID_LEN];
    char                   id_text[WALRUS_BLOB_ID_TEXT_LEN + 1];
} ngx_walrus_route_t;


extern ngx_module_t  ngx_http_walrus_module;


/* NGX_OK, NGX_DECLINED (no such path) or NGX_ERROR (bad blob ID) */
ngx_int_t ngx_walrus_route_parse(ngx_str_t *uri, ngx_walrus_route_t *rt);

ngx_int_t ngx_walrus_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body);
ngx_int_t ngx_walrus_send_success(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *data);
ngx_int_t ngx_walrus_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *domain, const char *reason, const char *fmt, ...);

/* the signers, weight and quorum members of a certificate's JSON */
size_t ngx_walrus_signers_json_len(walrus_committee_t *c,
    walrus_cert_t *cert);
u_char *ngx_walrus_signers_json(u_char *p, walrus_committee_t *c,
    walrus_cert_t *cert);

/* parses and verifies a certificate of blob_id, remembering good ones */
ngx_int_t ngx_walrus_cert_check(walrus_committee_t *committee,
    walrus_cert_t *cert, const u_char *bytes, size_t len,
    const uint8_t *blob_id);

/* adds "key: value" to the response (both must outlive it), or NULL */
ngx_table_elt_t *ngx_walrus_add_header(ngx_http_request_t *r,
    const char *key, u_char *value, size_t len);

/* the same for a string literal */
#define ngx_walrus_header(r, key, value)                                     \
    ngx_walrus_add_header(r, key, (u_char *) value, sizeof(value) - 1)

ngx_int_t ngx_walrus_thread_post(ngx_http_request_t *r,
    ngx_thread_pool_t *tp, ngx_thread_task_t *task);
/* a timer that holds a worker's shutdown while a task runs; warns */
void ngx_walrus_thread_guard(ngx_http_request_t *r, ngx_event_t *ev);
void ngx_walrus_thread_unguard(ngx_event_t *ev);


#endif /* _NGX_WALRUS_H_INCLUDED_ */
