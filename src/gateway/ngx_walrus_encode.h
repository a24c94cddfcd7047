/*
 * Gateway encoding of an uploaded blob: the metadata and blob ID, and
 * segment by segment the parity slivers into a temporary file that the
 * caller opens and closes.
 * The systematic slivers (primary 0..p-1, secondary 0..s-1) are ranges of
 * the request body and are sent from there.
 *
 * The segments are split into parts that may be encoded at the same time
 * in a thread pool; start and finish run in the worker.  Parts use system
 * calls and the core library only.
 */

#ifndef _NGX_WALRUS_ENCODE_H_INCLUDED_
#define _NGX_WALRUS_ENCODE_H_INCLUDED_


#include <ngx_walrus_body.h>
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

    walrus_metadata_t         meta;
    unsigned                  meta_ready:1;
    ngx_uint_t                nparts;
    ngx_walrus_encode_part_t  parts[NGX_WALRUS_ENCODE_MAX_PARTS];
};


/*
 * Sets up the metadata and splits the segments into at most max_parts
 * parts: WALRUS_OK, or e->rc and e->error.
 */
int ngx_walrus_encode_start(ngx_walrus_encode_t *e, ngx_uint_t max_parts);

/* encodes one part's segments (thread safe) */
void ngx_walrus_encode_part(ngx_walrus_encode_part_t *part);

/* after every part: the metadata bytes and the blob ID, or the error */
void ngx_walrus_encode_finish(ngx_walrus_encode_t *e);

void ngx_walrus_encode_free(ngx_walrus_encode_t *e);

/* whether a sliver is raw blob bytes (not in the temporary file) */
ngx_uint_t ngx_walrus_encode_systematic(ngx_walrus_encode_t *e,
    unsigned pair, walrus_axis_e axis);

/* where the parity sliver file of pair `pair` and `axis` starts in e->fd */
off_t ngx_walrus_encode_offset(ngx_walrus_encode_t *e, unsigned pair,
    walrus_axis_e axis);


#endif /* _NGX_WALRUS_ENCODE_H_INCLUDED_ */
