/*
 * Quilts in the gateway (docs/http-api.md G12): PUT /v1/quilts builds a
 * quilt from the multipart body in the thread pool and publishes it as a
 * blob (ngx_walrus_quilt_put.c); reads of a patch or of the patch list
 * are Range reads of the quilt's blob through subrequests to the blob
 * read (ngx_walrus_quilt_read.c).
 */

#ifndef _NGX_WALRUS_QUILT_H_INCLUDED_
#define _NGX_WALRUS_QUILT_H_INCLUDED_


#include <ngx_walrus_publish.h>
#include <walrus_quilt.h>
#include <walrus_http.h>


/*
 * PUT /v1/quilts, before the body is read: the multipart boundary of the
 * request's Content-Type.  NGX_OK, NGX_DECLINED when it is not
 * multipart/form-data with a boundary, NGX_ERROR.
 */
ngx_int_t ngx_walrus_quilt_put_init(ngx_http_request_t *r,
    ngx_walrus_publish_t *ctx);

/* the quilt_version parameter: NGX_OK, or NGX_ERROR and msg */
ngx_int_t ngx_walrus_quilt_put_version(ngx_http_request_t *r, u_char *msg,
    size_t size);

/*
 * Once the body is read: builds the quilt in the thread pool, then
 * ngx_walrus_publish_encode() goes on with it as the blob.  NGX_ERROR
 * when the task could not be posted (an answer was sent).
 */
ngx_int_t ngx_walrus_quilt_put_build(ngx_http_request_t *r,
    ngx_walrus_publish_t *ctx);

/* the storedQuiltBlobs part of the answer: its longest length, its text */
size_t ngx_walrus_quilt_put_answer_len(ngx_walrus_quilt_put_t *qp);
u_char *ngx_walrus_quilt_put_answer(u_char *p, ngx_walrus_quilt_put_t *qp,
    const uint8_t *quilt_id);

/*
 * GET, HEAD /v1/blobs/by-quilt-id/{id}/{identifier},
 * /v1/blobs/by-quilt-patch-id/{patch_id} and /v1/quilts/{id}/patches
 */
ngx_int_t ngx_walrus_quilt_read(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);

/* a quilt read (ngx_walrus_quilt_read.c, ngx_walrus_quilt_http.c) */

#define NGX_WALRUS_QUILT_FIRST  4096


typedef enum {
    NGX_WALRUS_QUILT_INDEX = 0,     /* the first bytes of the blob */
    NGX_WALRUS_QUILT_INDEX_REST,    /* the whole index */
    NGX_WALRUS_QUILT_SNIFF,         /* the file's first bytes */
    NGX_WALRUS_QUILT_PATCH,         /* the file's bytes, to the client */
    NGX_WALRUS_QUILT_DONE
} ngx_walrus_quilt_phase_e;


struct ngx_walrus_quilt_read_s {
    ngx_http_request_t         *request;
    ngx_walrus_route_t          route;
    ngx_walrus_quilt_phase_e    phase;
    ngx_http_request_t         *sr;         /* the running subrequest */
    u_char                     *buf;        /* what it captured */
    size_t                      len;
    size_t                      size;
    off_t                       passed;     /* file bytes sent on */
    off_t                       expected;
    uint64_t                    blob_len;
    walrus_quilt_t              quilt;
    walrus_quilt_patch_t       *patch;
    unsigned                    number;     /* the patch's */
    walrus_range_t              range;      /* within the file */
    char                        pid[WALRUS_QUILT_PATCH_ID_TEXT_LEN + 2];
    unsigned                    partial:1;
    unsigned                    failed:1;   /* the file's stream broke */
};


/* a subrequest to the blob read of bytes start..end of the quilt */
ngx_int_t ngx_walrus_quilt_sub(ngx_walrus_quilt_read_t *q, uint64_t start,
    uint64_t end, ngx_walrus_quilt_phase_e phase);

/*
 * quilt_http.c, once the index is in: the file asked for, conditionals
 * and Range, then a subrequest of its first bytes to sniff its type
 * (NGX_AGAIN) or the answer; the answer (its headers, then NGX_AGAIN
 * while its bytes stream); the headers of a file or the list
 */
ngx_int_t ngx_walrus_quilt_prepare(ngx_walrus_quilt_read_t *q);
ngx_int_t ngx_walrus_quilt_answer(ngx_walrus_quilt_read_t *q);
ngx_int_t ngx_walrus_quilt_headers(ngx_walrus_quilt_read_t *q);

/* the output filter of the quilt reads' subrequests */
ngx_int_t ngx_walrus_quilt_filter_init(ngx_conf_t *cf);


#endif /* _NGX_WALRUS_QUILT_H_INCLUDED_ */
