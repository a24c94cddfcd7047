/*
 * Storage node role: its content handler and uploads; signing
 * confirmations, after checking the stored files whose verification stamp
 * is gone; removing left request body files.
 */

#ifndef _NGX_WALRUS_NODE_H_INCLUDED_
#define _NGX_WALRUS_NODE_H_INCLUDED_


#include <ngx_walrus.h>
#include <ngx_walrus_node_metrics.h>
#include <walrus_registration.h>
#include <walrus_metadata.h>


typedef struct {
    ngx_array_t           *body_dirs;   /* to sweep */
    ngx_array_t           *keepers;     /* ngx_walrus_keeper_t *, by store */
} ngx_walrus_node_main_conf_t;


typedef struct {
    ngx_flag_t             node;
    ngx_str_t              node_name;
    ngx_int_t              node_index;
    ngx_str_t              store;
    off_t                  min_free_space;
    ngx_flag_t             direct_io;       /* uploads past the cache */
    size_t                 upload_buffers;  /* a worker's, for batches */
    time_t                 stale_body_time;
    ngx_str_t              key_file;
    EVP_PKEY              *key;
    ngx_thread_pool_t     *thread_pool;
    ngx_flag_t             keeper;
    ngx_msec_t             keeper_interval;
    ngx_msec_t             keeper_timeout;
    ngx_str_t              peer_location;
    size_t                 scrub_rate;
    size_t                 heal_rate;       /* recovery bytes/s */
    ngx_int_t              gc_rate;         /* expired blobs/s reclaimed */
    ngx_msec_t             audit_interval;  /* between rounds (17.6) */
    ngx_flag_t             client_cert;     /* writes need a TLS client */
    ngx_int_t              client_verify;   /* $ssl_client_verify index */
} ngx_walrus_node_loc_conf_t;


/* the failure a thread task reports, answered once the task is done */
typedef struct {
    ngx_uint_t             status;      /* 0: none */
    const char            *reason;
    char                   message[256];
} ngx_walrus_node_result_t;


typedef struct ngx_walrus_put_s       ngx_walrus_put_t;
typedef struct ngx_walrus_verify_s    ngx_walrus_verify_t;
typedef struct ngx_walrus_recovery_s  ngx_walrus_recovery_t;
typedef struct ngx_walrus_list_s      ngx_walrus_list_t;
typedef struct ngx_walrus_round_s     ngx_walrus_round_t;


/* what a node request keeps in the module's context slot */
typedef struct {
    ngx_walrus_put_t       *put;        /* PUT */
    ngx_walrus_verify_t    *verify;     /* GET confirmation */
    ngx_walrus_list_t      *list;       /* GET /v1/certified */
    ngx_walrus_recovery_t  *recovery;   /* GET recovery */
    ngx_walrus_round_t     *round;      /* a keeper round's own request */
    void                   *audit;      /* GET /v1/audit/...: its task */
    walrus_committee_t     *confirm;    /* the epoch a confirmation is of */
    ngx_uint_t              confirm_node;   /* this node's index in it */
} ngx_walrus_node_ctx_t;


extern ngx_module_t  ngx_http_walrus_node_module;


#define ngx_walrus_node_loc_conf(r)                                          \
    ((ngx_walrus_node_loc_conf_t *)                                          \
        ngx_http_get_module_loc_conf(r, ngx_http_walrus_node_module))

/* the request's context: ngx_walrus_node_handler makes it first */
#define ngx_walrus_node_ctx(r)                                               \
    ((ngx_walrus_node_ctx_t *)                                               \
        ngx_http_get_module_ctx(r, ngx_http_walrus_node_module))


ngx_int_t ngx_walrus_node_handler(ngx_http_request_t *r);

/*
 * Adds the blob's stored registration to the answer's headers, and when
 * it expired answers 404 BLOB_EXPIRED: NGX_DECLINED when the answer goes
 * on, else what ended it (ngx_walrus_node_lifetime.c)
 */
ngx_int_t ngx_walrus_node_lifetime(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);

/*
 * walrus_node_client_cert: writes and peer routes need a verified client
 * certificate.  The check answers 403 (what it returns) or NGX_DECLINED
 * when the request goes on (ngx_walrus_node_client.c).
 */
ngx_int_t ngx_walrus_node_client_conf(ngx_conf_t *cf,
    ngx_walrus_node_loc_conf_t *wlcf);
ngx_int_t ngx_walrus_node_client_check(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);

/* PUT of a registration, metadata, a sliver or a certificate */
ngx_int_t ngx_walrus_node_put(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);

/*
 * Verifies, in the thread pool, the metadata and the given sliver files
 * of rt's blob that are not stamped, sets aside those that fail, then
 * answers: the signed confirmation when all are good, else the error.
 * Returns NGX_DONE, or an HTTP status when nothing was posted.
 */
ngx_int_t ngx_walrus_node_verify(ngx_http_request_t *r,
    ngx_walrus_route_t *rt, ngx_uint_t *pairs, ngx_uint_t npairs);

/*
 * Answers, from the thread pool, the recovery symbols this node's pairs
 * give for rebuilding pair rt->pair (docs/protocol.md section 11).
 * Returns NGX_DONE, or an HTTP status when nothing was posted.
 */
ngx_int_t ngx_walrus_node_recovery(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);

/*
 * GET /v1/audit/...: the node's answers to its auditors and its audit
 * status (docs/protocol.md section 17, ngx_walrus_node_audit_*.c)
 */
ngx_int_t ngx_walrus_node_audit(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);

/* when this worker started: the rounds' clock before any beacon (17.6) */
void ngx_walrus_node_audit_init_process(void);

/*
 * The stored metadata of rt's blob in dir, read and checked in a thread:
 * its open file, or -1 with e set (ngx_walrus_node_verify.c)
 */
int ngx_walrus_node_metadata(ngx_walrus_route_t *rt, const char *dir,
    walrus_metadata_t *m, struct stat *st, int *rc,
    ngx_walrus_node_result_t *e);

/* answers the signed confirmation of rt's blob */
/* GET /v1/blobs/{id}/confirmation[?epoch=E] (ngx_walrus_node_confirm.c) */
ngx_int_t ngx_walrus_node_confirm(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);

/* a stored file: -1 none, 0 written since it was verified, 1 verified */
ngx_int_t ngx_walrus_node_state(ngx_http_request_t *r,
    ngx_walrus_route_t *rt, const char *name);

ngx_int_t ngx_walrus_node_sign(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);

/*
 * Runs handler(data) in the node's thread pool, then done(r): NGX_DONE,
 * or the answer that the node is busy
 */
ngx_int_t ngx_walrus_node_post(ngx_http_request_t *r, void *data,
    void (*handler)(void *data, ngx_log_t *log),
    ngx_http_event_handler_pt done, ngx_event_t *guard);

/* an answer built in memory: len bytes at data, living with the request */
#define ngx_walrus_node_send_bytes(r, data, len)                             \
    ngx_walrus_send_memory(r, NGX_HTTP_OK, "application/octet-stream",       \
                           data, len)

/*
 * Sends the whole file at path, or NGX_DECLINED when it cannot be
 * opened (nothing sent)
 */
/* GET /v1/epoch/ready: this node's readiness for the current epoch */
ngx_int_t ngx_walrus_node_epoch_ready(ngx_http_request_t *r);

ngx_int_t ngx_walrus_node_send_path(ngx_http_request_t *r,
    const char *path);

/*
 * Sends bytes [start, end) of the open file fd, named name (len bytes,
 * living as long as the request), after the response header.
 */
ngx_int_t ngx_walrus_node_send_range(ngx_http_request_t *r, ngx_fd_t fd,
    u_char *name, size_t len, off_t start, off_t end);

/* sends the error a thread task reported (ngx_walrus_node_fail) */
ngx_int_t ngx_walrus_node_send_fail(ngx_http_request_t *r,
    ngx_walrus_node_result_t *e);

/*
 * The record of certified blobs: adding the certificate just stored in
 * blob_dir (in the thread of the upload: 0, or -1 with errno), and
 * GET /v1/certified.
 */
int ngx_walrus_node_record_add(const char *blob_dir, const u_char *cert,
    size_t cert_len, const walrus_registration_t *reg);
ngx_int_t ngx_walrus_node_record_list(ngx_http_request_t *r);
/* sets e; safe in a thread (no nginx call) */
void ngx_walrus_node_fail(ngx_walrus_node_result_t *e, ngx_uint_t status,
    const char *reason, const char *fmt, ...);

/* registers the client_body_temp_path of a node location for sweeping */
ngx_int_t ngx_walrus_node_body_dir(ngx_conf_t *cf,
    ngx_walrus_node_loc_conf_t *wlcf);

/* removes left request body files: on a fresh start, and in worker 0 */
void ngx_walrus_node_sweep_start(ngx_cycle_t *cycle);
ngx_int_t ngx_walrus_node_sweep_init_process(ngx_cycle_t *cycle);


#endif /* _NGX_WALRUS_NODE_H_INCLUDED_ */
