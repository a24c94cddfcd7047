/*
 * Gateway encoding of an uploaded blob: the metadata and blob ID, and
 * segment by segment the parity slivers into one unlinked temporary file.
 * The systematic slivers (primary 0..p-1, secondary 0..s-1) are ranges of
 * the request body and are sent from there.  System calls and the core
 * library only: it runs in a thread pool (or inline for small blobs).
 */

#ifndef _NGX_WALRUS_ENCODE_H_INCLUDED_
#define _NGX_WALRUS_ENCODE_H_INCLUDED_


#include <ngx_walrus_body.h>
#include <walrus_types.h>


typedef struct {
    ngx_chain_t     *body;
    off_t            length;
    unsigned         n;
    uint32_t         segment_size;
    const char      *temp_dir;          /* NUL terminated */

    int              rc;                /* WALRUS_OK or a WALRUS_ error */
    char             error[128];
    uint8_t          blob_id[WALRUS_BLOB_ID_LEN];
    char             id_text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    u_char          *metadata;          /* malloc()ed */
    size_t           metadata_len;
    int              fd;                /* -1 when none */
    walrus_params_t  params;
    uint64_t         primary_size;      /* of one pair's primary file */
    uint64_t         secondary_size;
    uint64_t         encoded_size;
} ngx_walrus_encode_t;


void ngx_walrus_encode(ngx_walrus_encode_t *e);
void ngx_walrus_encode_free(ngx_walrus_encode_t *e);

/* whether a sliver is raw blob bytes (not in the temporary file) */
ngx_uint_t ngx_walrus_encode_systematic(ngx_walrus_encode_t *e,
    unsigned pair, walrus_axis_e axis);

/* where the parity sliver file of pair `pair` and `axis` starts in e->fd */
off_t ngx_walrus_encode_offset(ngx_walrus_encode_t *e, unsigned pair,
    walrus_axis_e axis);


#endif /* _NGX_WALRUS_ENCODE_H_INCLUDED_ */
