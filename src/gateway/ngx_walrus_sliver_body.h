/*
 * The request body of a sliver upload, without copying: a parity sliver
 * is a range of the encoder's temporary file; a systematic one is made of
 * ranges of the blob itself (the client's request body), segment by
 * segment, with each segment's zero padding.
 */

#ifndef _NGX_WALRUS_SLIVER_BODY_H_INCLUDED_
#define _NGX_WALRUS_SLIVER_BODY_H_INCLUDED_


#include <ngx_walrus_encode.h>


/* NULL when out of memory */
ngx_chain_t *ngx_walrus_sliver_body(ngx_pool_t *pool,
    ngx_walrus_encode_t *e, ngx_file_t *parity, unsigned pair,
    walrus_axis_e axis);


#endif /* _NGX_WALRUS_SLIVER_BODY_H_INCLUDED_ */
