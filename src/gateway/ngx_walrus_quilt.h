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


/*
 * PUT /v1/quilts, before the body is read: the multipart boundary of the
 * request's Content-Type.  NGX_OK, or the status of the error answer
 * already sent.
 */
ngx_int_t ngx_walrus_quilt_put_init(ngx_http_request_t *r,
    ngx_walrus_publish_t *ctx);

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


#endif /* _NGX_WALRUS_QUILT_H_INCLUDED_ */
