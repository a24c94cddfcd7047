/*
 * Sequential reads of a request body held in memory buffers and/or a
 * temporary file.  Uses only pread(), so it may run in a thread pool
 * while the request is blocked.
 */

#ifndef _NGX_WALRUS_BODY_H_INCLUDED_
#define _NGX_WALRUS_BODY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


typedef struct {
    ngx_chain_t  *cl;
    off_t         offset;     /* consumed from cl->buf */
} ngx_walrus_body_t;


off_t ngx_walrus_body_length(ngx_chain_t *bufs);
void ngx_walrus_body_init(ngx_walrus_body_t *bd, ngx_chain_t *bufs);

/* reads exactly len bytes; -1 when the body is shorter or a read fails */
int ngx_walrus_body_read(ngx_walrus_body_t *bd, u_char *dst, size_t len);


#endif /* _NGX_WALRUS_BODY_H_INCLUDED_ */
