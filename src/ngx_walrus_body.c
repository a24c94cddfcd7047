/*
 * Sequential reads of a buffered request body (thread safe).
 */

#include <ngx_walrus_body.h>


#define ngx_walrus_buf_size(b)                                               \
    (ngx_buf_in_memory(b) ? (off_t) ((b)->last - (b)->pos)                   \
                          : (b)->file_last - (b)->file_pos)


off_t
ngx_walrus_body_length(ngx_chain_t *bufs)
{
    off_t  len;

    for (len = 0; bufs != NULL; bufs = bufs->next) {
        len += ngx_walrus_buf_size(bufs->buf);
    }

    return len;
}


void
ngx_walrus_body_init(ngx_walrus_body_t *bd, ngx_chain_t *bufs)
{
    bd->cl = bufs;
    bd->offset = 0;
}


int
ngx_walrus_body_read(ngx_walrus_body_t *bd, u_char *dst, size_t len)
{
    off_t       avail;
    size_t      n;
    ssize_t     got;
    ngx_buf_t  *b;

    while (len > 0) {
        if (bd->cl == NULL) {
            return -1;
        }

        b = bd->cl->buf;
        avail = ngx_walrus_buf_size(b) - bd->offset;

        if (avail <= 0) {
            bd->cl = bd->cl->next;
            bd->offset = 0;
            continue;
        }

        n = (off_t) len < avail ? len : (size_t) avail;

        if (ngx_buf_in_memory(b)) {
            ngx_memcpy(dst, b->pos + bd->offset, n);

        } else {
            got = pread(b->file->fd, dst, n, b->file_pos + bd->offset);
            if (got <= 0) {
                return -1;
            }

            n = got;
        }

        dst += n;
        len -= n;
        bd->offset += n;
    }

    return 0;
}
