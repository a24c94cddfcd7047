/*
 * A worker's spare temporary files.  An upload writes its body and its
 * parity slivers into unlinked temporary files; writing into pages that a
 * file already has in the page cache is a copy, while every new page is
 * an allocation (on a virtual machine whose host backs memory lazily, a
 * host fault too) that made these writes the largest cost of a PUT.  So a
 * file an upload used is kept open and overwritten from its start by the
 * next upload in the same directory, up to walrus_worker_spare_files
 * bytes for all of a worker's spare files; a larger file is cut to what
 * fits.  Main thread only.
 */

#ifndef _NGX_WALRUS_SPARE_FILE_H_INCLUDED_
#define _NGX_WALRUS_SPARE_FILE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


void ngx_walrus_spare_file_init(off_t max);

/* a spare file of dir, or a new unlinked one; NGX_INVALID_FILE on error */
ngx_fd_t ngx_walrus_spare_file_open(ngx_str_t *dir, ngx_log_t *log);

/* keeps an open fd as a spare file of dir, or closes it */
void ngx_walrus_spare_file_close(ngx_str_t *dir, ngx_fd_t fd,
    ngx_log_t *log);

/* closes the spare files (worker exit) */
void ngx_walrus_spare_file_drain(void);


#endif /* _NGX_WALRUS_SPARE_FILE_H_INCLUDED_ */
