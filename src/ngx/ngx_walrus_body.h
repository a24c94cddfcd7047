/*
 * A request body held in memory buffers and/or a temporary file:
 * sequential reads (only pread(), so they may run in a thread pool while
 * the request is blocked), and buffers that refer to ranges of it.
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

/* skips off bytes from the start; -1 when the body is shorter */
int ngx_walrus_body_seek(ngx_walrus_body_t *bd, off_t off);

/* reads exactly len bytes; -1 when the body is shorter or a read fails */
int ngx_walrus_body_read(ngx_walrus_body_t *bd, u_char *dst, size_t len);

/*
 * Appends at *last buffers referring to bytes [off, off + len) of the
 * body, without copying; bytes at or past `end` read as zeros.  The body
 * must outlive them.  Main thread only.
 */
ngx_int_t ngx_walrus_body_slice(ngx_pool_t *pool, ngx_chain_t *body,
    off_t end, off_t off, size_t len, ngx_chain_t ***last);


#endif /* _NGX_WALRUS_BODY_H_INCLUDED_ */
