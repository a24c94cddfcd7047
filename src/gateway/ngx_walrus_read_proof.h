/*
 * Gateway read path: a blob proven encoded inconsistently
 * (ngx_walrus_read_proof.c).  A node that holds an inconsistency proof of
 * the blob says so in its metadata and certificate answers; the read
 * fetches the proof from it and checks it in the thread pool, and only a
 * proof that holds for this blob makes the read answer INCONSISTENT_BLOB.
 * A claim is never believed, never remembered: a byzantine node costs a
 * fetch and a check, and cannot make a good blob unreadable.
 */

#ifndef _NGX_WALRUS_READ_PROOF_H_INCLUDED_
#define _NGX_WALRUS_READ_PROOF_H_INCLUDED_


#include <ngx_walrus_gateway.h>
#include <ngx_walrus_fanout.h>


/* the sender of a proof that came from Redis */
#define NGX_WALRUS_PROOF_CACHED  ((ngx_uint_t) -1)


/* what a read knows of a node's claim (claims[node]) */

typedef enum {
    NGX_WALRUS_CLAIM_NONE = 0,
    NGX_WALRUS_CLAIM_MADE,          /* the node says it holds a proof */
    NGX_WALRUS_CLAIM_ASKED          /* its proof was asked for */
} ngx_walrus_claim_e;


typedef struct {
    ngx_walrus_thread_t    thread;      /* the checks, one at a time */
    ngx_thread_task_t     *task;
    u_char                *claims;      /* n, ngx_walrus_claim_e; or NULL */
    ngx_walrus_call_t     *call;        /* the proof asked for, or NULL */
    ngx_str_t              cached;      /* Redis's proof, not checked yet */
    const u_char          *bytes;       /* the proof to check, or NULL */
    size_t                 len;
    ngx_uint_t             from;        /* its node, or ..._PROOF_CACHED */
    uint8_t                blob_id[WALRUS_BLOB_ID_LEN];
    int                    rc;          /* set by the check */
    unsigned               target;      /* what a proof that held is about */
    unsigned               axis;
    uint64_t               segment;
    unsigned               working:1;   /* a check runs */
    unsigned               proven:1;    /* the blob is inconsistent */
    unsigned               fresh:1;     /* proven by this read */
    unsigned               late:1;      /* out of time: claims ignored */
} ngx_walrus_proof_t;


/* the answer to this metadata or certificate request may carry a claim */
void ngx_walrus_proof_listen(ngx_walrus_call_t *call);

/* a node's metadata or certificate answer: notes its claim, if any */
void ngx_walrus_proof_claim(ngx_walrus_read_t *ctx, ngx_walrus_call_t *call);

/* a node's answer to the request for its proof */
void ngx_walrus_proof_call(ngx_walrus_read_t *ctx, ngx_walrus_call_t *call);

/*
 * Once the metadata and certificate are in: NGX_AGAIN while a claim is
 * checked, NGX_OK when the blob is proven inconsistent, NGX_DECLINED when
 * no claim (left) holds, NGX_BUSY when the thread pool's queue is full,
 * NGX_ERROR.  Claims are checked for up to walrus_gateway_read_timeout
 * from then.
 */
ngx_int_t ngx_walrus_proof_done(ngx_walrus_read_t *ctx);

/* milliseconds until a proof asked for is given up, or NGX_TIMER_INFINITE */
ngx_msec_t ngx_walrus_proof_wait(ngx_walrus_read_t *ctx);

/*
 * Answers INCONSISTENT_BLOB; a verdict new to this read goes to the
 * worker's memory and its proof, if a node sent it, to Redis.
 */
ngx_int_t ngx_walrus_proof_answer(ngx_walrus_read_t *ctx);

/* the read ends: the proof asked for is not needed any more */
void ngx_walrus_proof_cancel(ngx_walrus_read_t *ctx);


#endif /* _NGX_WALRUS_READ_PROOF_H_INCLUDED_ */
