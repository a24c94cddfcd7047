/*
 * A buffered request body: sequential reads (thread safe) and slices.
 */

#include <ngx_walrus_body.h>


#define ngx_walrus_buf_size(b)                                               \
    (ngx_buf_in_memory(b) ? (off_t) ((b)->last - (b)->pos)                   \
                          : (b)->file_last - (b)->file_pos)


static ngx_int_t ngx_walrus_chain_append(ngx_pool_t *pool,
    ngx_chain_t ***last, ngx_buf_t *b);


/* never written: its pages stay the kernel's shared zero page */
static u_char  ngx_walrus_zeros[65536];


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
ngx_walrus_body_seek(ngx_walrus_body_t *bd, off_t off)
{
    off_t  avail;

    while (off > 0) {
        if (bd->cl == NULL) {
            return -1;
        }

        avail = ngx_walrus_buf_size(bd->cl->buf) - bd->offset;

        if (off < avail) {
            bd->offset += off;
            return 0;
        }

        off -= avail;
        bd->cl = bd->cl->next;
        bd->offset = 0;
    }

    return 0;
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


ngx_int_t
ngx_walrus_body_slice(ngx_pool_t *pool, ngx_chain_t *body, off_t end,
    off_t off, size_t len, ngx_chain_t ***last)
{
    off_t        start, size, skip;
    size_t       n;
    ngx_buf_t   *b, *src;

    for (start = 0; body != NULL && len > 0 && off < end; body = body->next) {
        src = body->buf;
        size = ngx_walrus_buf_size(src);

        if (off >= start + size) {
            start += size;
            continue;
        }

        skip = off - start;
        n = ngx_min((off_t) len, ngx_min(size - skip, end - off));

        b = ngx_calloc_buf(pool);
        if (b == NULL) {
            return NGX_ERROR;
        }

        if (ngx_buf_in_memory(src)) {
            b->pos = src->pos + skip;
            b->last = b->pos + n;
            b->memory = 1;

        } else {
            b->file = src->file;
            b->file_pos = src->file_pos + skip;
            b->file_last = b->file_pos + n;
            b->in_file = 1;
        }

        if (ngx_walrus_chain_append(pool, last, b) != NGX_OK) {
            return NGX_ERROR;
        }

        off += n;
        len -= n;
        start += size;
    }

    /* a segment's padding */

    while (len > 0) {
        n = ngx_min(len, sizeof(ngx_walrus_zeros));

        b = ngx_calloc_buf(pool);
        if (b == NULL) {
            return NGX_ERROR;
        }

        b->pos = ngx_walrus_zeros;
        b->last = ngx_walrus_zeros + n;
        b->memory = 1;

        if (ngx_walrus_chain_append(pool, last, b) != NGX_OK) {
            return NGX_ERROR;
        }

        len -= n;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_walrus_chain_append(ngx_pool_t *pool, ngx_chain_t ***last, ngx_buf_t *b)
{
    ngx_chain_t  *cl;

    cl = ngx_alloc_chain_link(pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    cl->next = NULL;
    **last = cl;
    *last = &cl->next;

    return NGX_OK;
}
