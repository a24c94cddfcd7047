/*
 * A worker's spare large buffers, in size classes of a quarter of a power
 * of two (at most 25 % more than asked), each class a LIFO list so that
 * the buffer reused is the one whose pages are most likely still cached.
 */

#include <ngx_walrus_buffer.h>


#define NGX_WALRUS_BUFFER_HEADER  64
#define NGX_WALRUS_BUFFER_MIN     (64 * 1024)
#define NGX_WALRUS_BUFFER_CLASSES 256
#define NGX_WALRUS_BUFFER_NONE    ((ngx_uint_t) -1)


typedef struct {
    ngx_queue_t   queue;
    size_t        size;
    ngx_uint_t    class;
} ngx_walrus_buffer_t;


static ngx_uint_t ngx_walrus_buffer_class(size_t size, size_t *class_size);

/* the header leaves the byte before each buffer free (see the .h) */
typedef char  ngx_walrus_buffer_spare_byte_t[
    sizeof(ngx_walrus_buffer_t) < NGX_WALRUS_BUFFER_HEADER ? 1 : -1];


static size_t       ngx_walrus_buffer_spare_max;
static size_t       ngx_walrus_buffer_spare;
static ngx_uint_t   ngx_walrus_buffer_ready;
static ngx_queue_t  ngx_walrus_buffer_free_lists[NGX_WALRUS_BUFFER_CLASSES];


void
ngx_walrus_buffer_init(size_t spare)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_WALRUS_BUFFER_CLASSES; i++) {
        ngx_queue_init(&ngx_walrus_buffer_free_lists[i]);
    }

    ngx_walrus_buffer_spare_max = spare;
    ngx_walrus_buffer_spare = 0;
    ngx_walrus_buffer_ready = 1;
}


u_char *
ngx_walrus_buffer_alloc(size_t size, ngx_log_t *log)
{
    size_t                class_size;
    ngx_uint_t            class;
    ngx_queue_t          *q;
    ngx_walrus_buffer_t  *b;

    class = ngx_walrus_buffer_class(size, &class_size);

    if (class != NGX_WALRUS_BUFFER_NONE && ngx_walrus_buffer_ready
        && !ngx_queue_empty(&ngx_walrus_buffer_free_lists[class]))
    {
        q = ngx_queue_head(&ngx_walrus_buffer_free_lists[class]);
        ngx_queue_remove(q);

        b = ngx_queue_data(q, ngx_walrus_buffer_t, queue);
        ngx_walrus_buffer_spare -= b->size;

        return (u_char *) b + NGX_WALRUS_BUFFER_HEADER;
    }

    if (class_size > NGX_MAX_SIZE_T_VALUE - NGX_WALRUS_BUFFER_HEADER) {
        return NULL;
    }

    b = ngx_memalign(NGX_WALRUS_BUFFER_HEADER,
                     NGX_WALRUS_BUFFER_HEADER + class_size, log);
    if (b == NULL) {
        return NULL;
    }

    b->size = class_size;
    b->class = class;

    return (u_char *) b + NGX_WALRUS_BUFFER_HEADER;
}


void
ngx_walrus_buffer_free(u_char *p)
{
    ngx_walrus_buffer_t  *b;

    if (p == NULL) {
        return;
    }

    b = (ngx_walrus_buffer_t *) (p - NGX_WALRUS_BUFFER_HEADER);

    if (b->class == NGX_WALRUS_BUFFER_NONE || !ngx_walrus_buffer_ready
        || ngx_walrus_buffer_spare + b->size > ngx_walrus_buffer_spare_max)
    {
        ngx_free(b);
        return;
    }

    ngx_queue_insert_head(&ngx_walrus_buffer_free_lists[b->class],
                          &b->queue);
    ngx_walrus_buffer_spare += b->size;
}


void
ngx_walrus_buffer_drain(void)
{
    ngx_uint_t            i;
    ngx_queue_t          *q;
    ngx_walrus_buffer_t  *b;

    if (!ngx_walrus_buffer_ready) {
        return;
    }

    for (i = 0; i < NGX_WALRUS_BUFFER_CLASSES; i++) {
        while (!ngx_queue_empty(&ngx_walrus_buffer_free_lists[i])) {
            q = ngx_queue_head(&ngx_walrus_buffer_free_lists[i]);
            ngx_queue_remove(q);

            b = ngx_queue_data(q, ngx_walrus_buffer_t, queue);
            ngx_free(b);
        }
    }

    ngx_walrus_buffer_spare = 0;
    ngx_walrus_buffer_ready = 0;
}


/* sizes below the minimum are not kept: malloc() reuses those itself */

static ngx_uint_t
ngx_walrus_buffer_class(size_t size, size_t *class_size)
{
    size_t      base, step;
    ngx_uint_t  bits, quarter;

    *class_size = size;

    if (size < NGX_WALRUS_BUFFER_MIN) {
        return NGX_WALRUS_BUFFER_NONE;
    }

    bits = 0;

    while ((size >> bits) > 1) {
        bits++;
    }

    if (bits >= NGX_WALRUS_BUFFER_CLASSES / 4 - 1) {
        return NGX_WALRUS_BUFFER_NONE;
    }

    base = (size_t) 1 << bits;
    step = base / 4;
    quarter = (size - base + step - 1) / step;

    *class_size = base + quarter * step;

    return bits * 4 + quarter;
}
