/*
 * A sliver upload streamed into the store (ngx_walrus_node_stream.c) and
 * the worker's memory for the batches of such uploads
 * (ngx_walrus_node_stream_memory.c).
 */

#ifndef _NGX_WALRUS_NODE_STREAM_H_INCLUDED_
#define _NGX_WALRUS_NODE_STREAM_H_INCLUDED_


#include <ngx_walrus_node.h>
#include <ngx_walrus_node_store.h>
#include <walrus_codec.h>
#include <walrus_spool.h>


typedef enum {
    NGX_WALRUS_STREAM_OPEN = 0,
    NGX_WALRUS_STREAM_BATCH
} ngx_walrus_stream_step_e;


struct ngx_walrus_stream_s {
    ngx_walrus_put_t         *put;
    walrus_metadata_t         meta;
    walrus_codec_t           *codec;
    walrus_file_t             file;
    walrus_spool_t            spool;
    char                      name[32];
    u_char                   *mem;        /* the spool's: a spare buffer */
    u_char                   *scratch;    /* lent to the codec */
    off_t                     declared;   /* Content-Length, or -1 */
    uint64_t                  expect;     /* the sliver's bytes */
    uint64_t                  received;   /* of them taken */
    uint64_t                  seg;        /* the batch's first segment */
    uint64_t                  count;      /* its segments */
    size_t                    want;       /* its bytes */
    size_t                    filled;     /* of them received */
    ngx_chain_t              *pending;    /* body buffers not all taken */
    u_char                   *buf_start;  /* nginx's body buffer, while */
    u_char                   *buf_end;    /* it is aimed at the batch */
    ngx_thread_task_t        *task;
    size_t                    held;       /* of walrus_node_upload_buffers */
    size_t                    room;       /* the largest batch */
    size_t                    scratch_size;
    ngx_queue_t               queue;      /* waiting for memory */
    ngx_event_t               wait;       /* its deadline, or its turn */
    ngx_walrus_stream_step_e  step;
    unsigned                  meta_ready:1;
    unsigned                  direct:1;   /* asked for direct I/O */
    unsigned                  last:1;     /* the batch ends the sliver */
    unsigned                  waiting:1;  /* in the queue */
    unsigned                  ended:1;    /* takes no more of the body */
};


/*
 * The upload's file is open: it gets need bytes of the worker's upload
 * memory and goes on (ngx_walrus_stream_admit()), or waits for them.
 */
void ngx_walrus_stream_reserve(ngx_http_request_t *r, ngx_walrus_stream_t *s,
    size_t need);

/* gives the upload's memory back (any time, more than once) */
void ngx_walrus_stream_release(ngx_walrus_stream_t *s);

/* the memory is the upload's: its batch, then its body is read */
ngx_int_t ngx_walrus_stream_admit(ngx_http_request_t *r,
    ngx_walrus_stream_t *s);

/*
 * The body into the batch (ngx_walrus_node_stream_body.c): before a read,
 * nginx's body buffer is aimed at the batch's free room when it can be;
 * unaim gives nginx its buffer back.  Copy moves the body's new buffers
 * to the pending ones and takes their bytes into the batch.
 */
void ngx_walrus_stream_aim(ngx_http_request_t *r, ngx_walrus_stream_t *s);
void ngx_walrus_stream_unaim(ngx_http_request_t *r, ngx_walrus_stream_t *s);
ngx_int_t ngx_walrus_stream_copy(ngx_walrus_stream_t *s);

/* answers a failure of the upload (fmt as printf(3)) */
void ngx_walrus_stream_fail(ngx_http_request_t *r, ngx_walrus_stream_t *s,
    ngx_uint_t status, const char *reason, const char *fmt, ...);


#endif /* _NGX_WALRUS_NODE_STREAM_H_INCLUDED_ */
