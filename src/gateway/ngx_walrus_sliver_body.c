/*
 * Sliver upload bodies as buffers over the blob and the parity file.
 */

#include <ngx_walrus_sliver_body.h>


static ngx_int_t ngx_walrus_systematic_body(ngx_pool_t *pool,
    ngx_walrus_encode_t *e, unsigned index, walrus_axis_e axis,
    ngx_chain_t ***last);


ngx_chain_t *
ngx_walrus_sliver_body(ngx_pool_t *pool, ngx_walrus_encode_t *e,
    ngx_file_t *parity, unsigned pair, walrus_axis_e axis)
{
    ngx_buf_t    *b;
    ngx_chain_t  *body, **last, *cl;

    body = NULL;
    last = &body;

    if (ngx_walrus_encode_systematic(e, pair, axis)) {
        if (ngx_walrus_systematic_body(pool, e,
                                       axis == WALRUS_PRIMARY
                                       ? pair : e->n - 1 - pair,
                                       axis, &last)
            != NGX_OK)
        {
            return NULL;
        }

    } else {
        b = ngx_calloc_buf(pool);
        cl = ngx_alloc_chain_link(pool);
        if (b == NULL || cl == NULL) {
            return NULL;
        }

        b->in_file = 1;
        b->file = parity;
        b->file_pos = ngx_walrus_encode_offset(e, pair, axis);
        b->file_last = b->file_pos + (axis == WALRUS_PRIMARY
                                      ? e->primary_size
                                      : e->secondary_size);

        cl->buf = b;
        cl->next = NULL;
        body = cl;
    }

    for (cl = body; cl->next != NULL; cl = cl->next) { /* void */ }

    cl->buf->last_buf = 1;

    return body;
}


/*
 * A segment is a p x s matrix of symbols, row by row: primary sliver i
 * (i < p) is row i, secondary sliver j (j < s) is column j.
 */

static ngx_int_t
ngx_walrus_systematic_body(ngx_pool_t *pool, ngx_walrus_encode_t *e,
    unsigned index, walrus_axis_e axis, ngx_chain_t ***last)
{
    off_t       base, end;
    size_t      sym;
    uint64_t    g, nsegments, seg_len;
    unsigned    r, p, s;
    ngx_int_t   rc;

    p = e->params.p;
    s = e->params.s;
    nsegments = walrus_segment_count(e->length, e->segment_size);

    for (g = 0; g < nsegments; g++) {
        base = (off_t) (g * e->segment_size);
        seg_len = walrus_segment_length(e->length, e->segment_size, g);
        sym = walrus_symbol_size(&e->params, seg_len);
        end = base + (off_t) seg_len;

        if (axis == WALRUS_PRIMARY) {
            rc = ngx_walrus_body_slice(pool, e->body, end,
                                       base + (off_t) (index * s * sym),
                                       s * sym, last);
            if (rc != NGX_OK) {
                return NGX_ERROR;
            }

            continue;
        }

        for (r = 0; r < p; r++) {
            rc = ngx_walrus_body_slice(pool, e->body, end,
                                       base + (off_t) ((r * s + index) * sym),
                                       sym, last);
            if (rc != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}
