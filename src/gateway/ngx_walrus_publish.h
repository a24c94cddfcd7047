/*
 * An upload of the gateway (PUT /v1/blobs), shared by the files of the
 * write path: ngx_walrus_publish.c (the request: parameters, body,
 * encoding, the end and the lingering after it), ngx_walrus_publish_upload.c
 * (the calls to the nodes and the quorums) and ngx_walrus_publish_answer.c
 * (the JSON answer).
 */

#ifndef _NGX_WALRUS_PUBLISH_H_INCLUDED_
#define _NGX_WALRUS_PUBLISH_H_INCLUDED_


#include <ngx_walrus_gateway.h>
#include <ngx_walrus_encode.h>
#include <ngx_walrus_fanout.h>
#include <walrus_cert.h>
#include <walrus_registration.h>


typedef enum {
    NGX_WALRUS_PUB_CHECKING = 0,
    NGX_WALRUS_PUB_UPLOADING,
    NGX_WALRUS_PUB_CERTIFYING,
    NGX_WALRUS_PUB_DONE
} ngx_walrus_pub_phase_e;


typedef struct {
    ngx_uint_t                pending;    /* sliver uploads running */
    ngx_uint_t                asked;      /* confirmations asked */
    ngx_uint_t                registered; /* registrations sent again */
    unsigned                  register_again:1;  /* at the retry timer */
    unsigned                  failed:1;
    unsigned                  confirmed:1;
} ngx_walrus_pub_node_t;


struct ngx_walrus_publish_s {
    ngx_http_request_t       *request;
    walrus_committee_t       *committee;    /* the current one */
    walrus_history_t         *history;      /* checks certificates */
    char                      confirm_path[sizeof("confirmation?epoch=")
                                           + NGX_INT32_LEN];
    ngx_walrus_fanout_t       fanout;
    ngx_walrus_encode_t       enc;
    ngx_file_t                file;
    ngx_temp_file_t           body_file;
    ngx_walrus_quilt_put_t   *quilt;      /* PUT /v1/quilts */
    ngx_file_t                quilt_file;  /* the quilt, the blob */
    ngx_buf_t                 quilt_buf;
    ngx_chain_t               quilt_chain;
    ngx_walrus_pub_phase_e    phase;
    ngx_uint_t                epochs;
    ngx_flag_t                permanent;
    ngx_flag_t                force;
    ngx_walrus_pub_node_t    *nodes;
    walrus_cert_t             cert;
    walrus_cert_t            *existing;
    u_char                   *cert_bytes;
    size_t                    cert_len;
    unsigned                  confirmed;  /* shards of valid signers */
    unsigned                  unconfirmed; /* shards of failed nodes */
    unsigned                  no_cert;    /* shards that hold none */
    unsigned                  refused;    /* shards refusing the registration,
                                             or this gateway's epoch */
    unsigned                  stored;     /* shards holding the cert */
    unsigned                  not_stored;
    ngx_event_t               deadline;   /* then the stragglers' end */
    ngx_event_t               retry;      /* registrations sent again */
    ngx_queue_t               lingering;  /* in ngx_walrus_lingering */
    u_char                    registration[WALRUS_REGISTRATION_LEN];
    uint32_t                  existing_end;  /* its registrations' latest */
    unsigned                  existing_end_known:1;
    unsigned                  quilt_upload:1;  /* PUT /v1/quilts */
    unsigned                  timed_out:1;
    unsigned                  counted:1;
    unsigned                  is_lingering:1;
};


/* publish_upload.c: once encoded, the calls to the nodes begin */
void ngx_walrus_publish_start(ngx_walrus_publish_t *ctx);

/* publish_upload.c: handles finished calls and decides (write handler) */
void ngx_walrus_publish_step(ngx_http_request_t *r);

void ngx_walrus_publish_phase(ngx_walrus_publish_t *ctx,
    ngx_walrus_pub_phase_e phase);

/* publish.c: encodes the blob of len bytes in body, then uploads it */
/*
 * The upload's query parameters into ctx (ngx_walrus_publish_args.c):
 * NGX_ERROR with the reason and a message in msg for a refusal
 */
ngx_int_t ngx_walrus_publish_args(ngx_http_request_t *r,
    ngx_walrus_publish_t *ctx, ngx_uint_t quilt, u_char *msg, size_t size,
    const char **reason);

void ngx_walrus_publish_encode(ngx_http_request_t *r, ngx_chain_t *body,
    off_t len);

/* publish.c: the answer is out (rc); the upload's slot is freed at once */
void ngx_walrus_publish_finish(ngx_walrus_publish_t *ctx, ngx_int_t rc);

/*
 * publish_answer.c: the cache and the worker's memory learn the blob, the
 * client its certificate: newly created (created) or already certified
 */
/*
 * publish_check.c: a node's confirmation, NGX_OK when it counts,
 * NGX_DECLINED when the node signed for an earlier epoch; a certificate
 * a node holds of the blob, or NULL
 */
ngx_int_t ngx_walrus_publish_confirmation(ngx_walrus_publish_t *ctx,
    ngx_walrus_call_t *call);
walrus_cert_t *ngx_walrus_publish_existing(ngx_walrus_publish_t *ctx,
    ngx_walrus_call_t *call);

/* publish_upload.c: the retry timer's handler, and its cancellation */
void ngx_walrus_publish_retry(ngx_event_t *ev);
void ngx_walrus_publish_retry_cancel(ngx_walrus_publish_t *ctx);

/*
 * publish_answer.c: a node's registration of a blob already certified
 * (its X-Walrus-Registration), for the answer's end epoch once verified
 */
void ngx_walrus_publish_end_epoch(ngx_walrus_publish_t *ctx,
    ngx_walrus_call_t *call);

ngx_int_t ngx_walrus_publish_respond(ngx_walrus_publish_t *ctx,
    walrus_cert_t *cert, ngx_uint_t created);


#endif /* _NGX_WALRUS_PUBLISH_H_INCLUDED_ */
