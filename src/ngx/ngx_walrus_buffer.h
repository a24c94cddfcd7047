/*
 * Large buffers of a worker (captured slivers, decoded segments) are
 * recycled instead of handed back to malloc(): memory that malloc() gives
 * back to the kernel costs a page fault and a page clear per 4 KiB when
 * it is touched again, which for a read of a few MiB takes about as long
 * as the read itself.  Freed buffers are kept up to
 * walrus_worker_spare_buffers bytes.  Main thread only; a thread task may
 * write into a buffer its request owns.
 */

#ifndef _NGX_WALRUS_BUFFER_H_INCLUDED_
#define _NGX_WALRUS_BUFFER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


void ngx_walrus_buffer_init(size_t spare);

/*
 * At least size bytes, 64-byte aligned; NULL when out of memory.  The
 * byte before the buffer is its own too (padding of the allocator's
 * header), so the slivers it holds can be hashed in place: the leaf
 * prefix of walrus_slivers_hash() goes there.
 */
u_char *ngx_walrus_buffer_alloc(size_t size, ngx_log_t *log);

/* p may be NULL */
void ngx_walrus_buffer_free(u_char *p);

/* frees the spare buffers (worker exit) */
void ngx_walrus_buffer_drain(void);


#endif /* _NGX_WALRUS_BUFFER_H_INCLUDED_ */
