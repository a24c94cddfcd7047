/*
 * Walrus module glue: configuration, routes and shared helpers.
 */

#ifndef _NGX_WALRUS_H_INCLUDED_
#define _NGX_WALRUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_thread_pool.h>
#include <ngx_walrus_thread.h>
#include <ngx_walrus_metrics.h>

#include <walrus_types.h>
#include <walrus_committee.h>
#include <walrus_cert.h>
#include <walrus_history.h>


#define NGX_WALRUS_DOMAIN_NODE      "node.walrus"
#define NGX_WALRUS_DOMAIN_GATEWAY   "gateway.walrus"

/* a blob encoded inconsistently (422, which nginx does not name) */
#define NGX_WALRUS_HTTP_INCONSISTENT  422
#define NGX_WALRUS_MAX_METADATA     (64 * 1024 * 1024)
#define NGX_WALRUS_REDIS_PREFIX_MAX  256

/*
 * A node that holds an inconsistency proof of a blob says so in its
 * metadata and certificate answers with this header, value "true"
 */
#define NGX_WALRUS_INCONSISTENT_HEADER  "X-Walrus-Inconsistent"

/*
 * A node's answers of a blob's data carry its stored registration
 * (docs/protocol.md section 15) in this header, base64url: the end
 * epoch a reader checks, and the proof of a 404 BLOB_EXPIRED
 */
#define NGX_WALRUS_REGISTRATION_HEADER  "X-Walrus-Registration"

/* a node's 404 BLOB_DELETED carries the deletion (protocol 19.5) */
#define NGX_WALRUS_DELETION_HEADER      "X-Walrus-Deletion"


/*
 * The module's configuration shared by both roles; each role has a
 * module of its own (ngx_http_walrus_gateway_module,
 * ngx_http_walrus_node_module) with its own configuration and context.
 */

typedef struct {
    walrus_history_t      *history;     /* every epoch's committee */
    walrus_committee_t    *committee;   /* the current one, in history */
    ngx_str_t              committee_file;
    ngx_walrus_metrics_conf_t  *metrics;  /* or NULL */
} ngx_walrus_main_conf_t;


typedef struct {
    ngx_str_t              thread_pool_name;
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
    NGX_WALRUS_ROUTE_REGISTRATION,
    NGX_WALRUS_ROUTE_CERTIFIED,         /* a node's record, after a cursor */
    NGX_WALRUS_ROUTE_RECOVERY,
    NGX_WALRUS_ROUTE_AUDIT_BEACON,      /* the node's latest beacon */
    NGX_WALRUS_ROUTE_AUDIT_STATUS,
    NGX_WALRUS_ROUTE_AUDIT_ROUND,       /* the beacon of a round */
    NGX_WALRUS_ROUTE_AUDIT_SIGNATURE,
    NGX_WALRUS_ROUTE_AUDIT_ANSWER,
    NGX_WALRUS_ROUTE_AUDIT_ATTESTATION,
    NGX_WALRUS_ROUTE_AUDIT_CERTIFICATE,
    NGX_WALRUS_ROUTE_AUDIT_FRAUD,
    NGX_WALRUS_ROUTE_AUDITS,            /* the gateway's view of audits */
    NGX_WALRUS_ROUTE_AUDITS_CERT,       /* ... a certificate it keeps */
    NGX_WALRUS_ROUTE_AUDITS_FRAUD,      /* ... a fraud proof it keeps */
    NGX_WALRUS_ROUTE_INCONSISTENCY,     /* a node's proof (protocol 11.2) */
    NGX_WALRUS_ROUTE_EPOCH_READY,       /* a node's readiness (18.6) */
    NGX_WALRUS_ROUTE_LIVENESS,          /* GET /status: "OK" */
    NGX_WALRUS_ROUTE_API,               /* GET /v1/api: the OpenAPI text */
    NGX_WALRUS_ROUTE_QUILTS,            /* PUT /v1/quilts */
    NGX_WALRUS_ROUTE_QUILT_PATCHES,     /* /v1/quilts/{id}/patches */
    NGX_WALRUS_ROUTE_QUILT_FILE,        /* .../by-quilt-id/{id}/{name} */
    NGX_WALRUS_ROUTE_QUILT_PATCH,       /* .../by-quilt-patch-id/{id} */
    NGX_WALRUS_ROUTE_CONCAT             /* /v1alpha/blobs/concat */
} ngx_walrus_route_e;


typedef struct {
    ngx_walrus_route_e     kind;
    ngx_uint_t             pair;
    walrus_axis_e          axis;
    uint32_t               round;       /* audit routes: 1 and more */
    ngx_uint_t             node;        /* audit routes: a node index */
    uint8_t                blob_id[WALRUS_BLOB_ID_LEN];
    char                   id_text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    ngx_str_t              identifier;  /* QUILT_FILE: a file's name */
    unsigned               patch;       /* QUILT_PATCH: its number */
    unsigned               stream:1;    /* /v1alpha/blobs/{id}/stream */
} ngx_walrus_route_t;


extern ngx_module_t  ngx_http_walrus_module;


/*
 * For a role's location at configuration: its walrus_thread_pool, made
 * to exist; the committee, or an error naming the role's directive.
 */
ngx_thread_pool_t *ngx_walrus_conf_thread_pool(ngx_conf_t *cf);
ngx_walrus_main_conf_t *ngx_walrus_conf_committee(ngx_conf_t *cf,
    const char *directive);

/* an Ed25519 private key file, read once at configuration */
char *ngx_walrus_conf_load_key(ngx_conf_t *cf, ngx_str_t *file,
    EVP_PKEY **key);


/*
 * NGX_OK, NGX_DECLINED (no such path) or NGX_ERROR (bad blob ID, or bad
 * patch ID when rt->kind is NGX_WALRUS_ROUTE_QUILT_PATCH)
 */
ngx_int_t ngx_walrus_route_parse(ngx_str_t *uri, ngx_walrus_route_t *rt);

/* sends len bytes at data (living as long as the request) of type */
ngx_int_t ngx_walrus_send_memory(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, u_char *data, size_t len);

ngx_int_t ngx_walrus_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body);
ngx_int_t ngx_walrus_send_success(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *data);
ngx_int_t ngx_walrus_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *domain, const char *reason, const char *fmt, ...);

/*
 * The signers, weight and quorum members of a certificate's JSON, named
 * and weighed by the committee of the certificate's epoch.
 */
size_t ngx_walrus_signers_json_len(const walrus_history_t *h,
    walrus_cert_t *cert);
u_char *ngx_walrus_signers_json(u_char *p, const walrus_history_t *h,
    walrus_cert_t *cert);

/* the certificate's JSON object, with its len serialized bytes */
size_t ngx_walrus_cert_json_len(const walrus_history_t *h,
    walrus_cert_t *cert, size_t len);
u_char *ngx_walrus_cert_json(u_char *p, const walrus_history_t *h,
    walrus_cert_t *cert, u_char *bytes, size_t len);

/*
 * Parses and verifies a certificate of blob_id against the committee of
 * the epoch it names, remembering good ones: NGX_OK, NGX_DECLINED when
 * the history lacks its epoch, NGX_ERROR when it is not valid.
 */
ngx_int_t ngx_walrus_cert_check(const walrus_history_t *h,
    walrus_cert_t *cert, const u_char *bytes, size_t len,
    const uint8_t *blob_id);

/*
 * Logs that node sent a certificate of blob id_text whose epoch the
 * history lacks: the configuration, not the node, is behind or ahead.
 */
void ngx_walrus_cert_unknown_epoch(ngx_log_t *log, const walrus_history_t *h,
    walrus_cert_t *cert, const char *node, const char *id_text);

/* adds "key: value" to the response (both must outlive it), or NULL */
ngx_table_elt_t *ngx_walrus_add_header(ngx_http_request_t *r,
    const char *key, u_char *value, size_t len);

/* the same for a string literal */
#define ngx_walrus_header(r, key, value)                                     \
    ngx_walrus_add_header(r, key, (u_char *) value, sizeof(value) - 1)


#endif /* _NGX_WALRUS_H_INCLUDED_ */
