/*
 * Gateway encoding of an uploaded blob: the metadata and blob ID, and
 * segment by segment the parity slivers into a temporary file that the
 * caller opens and closes.
 * The systematic slivers (primary 0..p-1, secondary 0..s-1) are ranges of
 * the request body and are sent from there.
 *
 * The segments are split into parts that are encoded at the same time in
 * the thread pool, as counted parts of the request (ngx_walrus_thread.h);
 * a small blob is encoded at once in the worker.
 */

#ifndef _NGX_WALRUS_ENCODE_H_INCLUDED_
#define _NGX_WALRUS_ENCODE_H_INCLUDED_


#include <ngx_walrus_body.h>
#include <ngx_walrus_thread.h>
#include <walrus_types.h>
#include <walrus_metadata.h>


#define NGX_WALRUS_ENCODE_MAX_PARTS  4
#define NGX_WALRUS_ENCODE_ERROR_LEN  128


typedef struct ngx_walrus_encode_s  ngx_walrus_encode_t;


typedef struct {
    ngx_walrus_encode_t  *encode;
    uint64_t              first;        /* segments [first, last) */
    uint64_t              last;
    int                   rc;           /* WALRUS_OK or a WALRUS_ error */
    char                  error[NGX_WALRUS_ENCODE_ERROR_LEN];
    u_char               *matrix;       /* spare buffers: the segment's */
    u_char               *data;         /* bytes, */
    u_char               *secondary;    /* a secondary sliver */
} ngx_walrus_encode_part_t;


struct ngx_walrus_encode_s {
    ngx_chain_t              *body;
    off_t                     length;
    unsigned                  n;
    uint32_t                  segment_size;
    int                       fd;           /* the parity file */

    int                       rc;
    char                      error[NGX_WALRUS_ENCODE_ERROR_LEN];
    uint8_t                   blob_id[WALRUS_BLOB_ID_LEN];
    char                      id_text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    u_char                   *metadata;     /* malloc()ed */
    size_t                    metadata_len;
    const char               *type;         /* sniffed, static string */
    walrus_params_t           params;
    uint64_t                  primary_size; /* of one pair's primary file */
    uint64_t                  secondary_size;
    uint64_t                  encoded_size;
    size_t                    matrix_size;  /* of a part's spare buffer */

    walrus_metadata_t         meta;
    unsigned                  meta_ready:1;
    unsigned                  overloaded:1; /* a part was not posted */
    ngx_walrus_thread_t       thread;       /* the parts being encoded */
    ngx_uint_t                nparts;
    ngx_walrus_encode_part_t  parts[NGX_WALRUS_ENCODE_MAX_PARTS];
};


/*
 * Encodes the blob of request r (body, length, n, segment_size and fd
 * set): at once when inline_encode, else in parts at the same time in the
 * thread pool tp.  NGX_AGAIN while parts run: the request's write event
 * handler runs after the last one; NGX_OK when nothing runs.  Then
 * ngx_walrus_encode_join() says how it went.
 */
ngx_int_t ngx_walrus_encode_run(ngx_walrus_encode_t *e,
    ngx_http_request_t *r, ngx_thread_pool_t *tp, ngx_uint_t inline_encode);

/*
 * NGX_AGAIN while parts still run; NGX_BUSY when the thread pool's queue
 * was full; NGX_ERROR when encoding failed (e->error says why); NGX_OK:
 * the metadata and the blob ID are ready.  Once NGX_OK or NGX_ERROR was
 * returned, it is not called again.
 */
ngx_int_t ngx_walrus_encode_join(ngx_walrus_encode_t *e);

void ngx_walrus_encode_free(ngx_walrus_encode_t *e);

/* whether a sliver is raw blob bytes (not in the temporary file) */
ngx_uint_t ngx_walrus_encode_systematic(ngx_walrus_encode_t *e,
    unsigned pair, walrus_axis_e axis);

/* where the parity sliver file of pair `pair` and `axis` starts in e->fd */
off_t ngx_walrus_encode_offset(ngx_walrus_encode_t *e, unsigned pair,
    walrus_axis_e axis);


#endif /* _NGX_WALRUS_ENCODE_H_INCLUDED_ */
