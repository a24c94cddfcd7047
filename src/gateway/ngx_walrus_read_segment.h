/*
 * Gateway read path: a segment of a read's window, fetched from the
 * nodes, hedged (ngx_walrus_read_segment.c), verified and decoded
 * (ngx_walrus_read_decode.c).
 */

#ifndef _NGX_WALRUS_READ_SEGMENT_H_INCLUDED_
#define _NGX_WALRUS_READ_SEGMENT_H_INCLUDED_


#include <ngx_walrus_gateway.h>
#include <ngx_walrus_fanout.h>


/* where a segment's sliver of a pair is */

typedef enum {
    NGX_WALRUS_SLOT_IDLE = 0,
    NGX_WALRUS_SLOT_REQUESTED,
    NGX_WALRUS_SLOT_ARRIVED,        /* not verified yet */
    NGX_WALRUS_SLOT_GOOD,           /* verified by a decode task */
    NGX_WALRUS_SLOT_BAD             /* failed, or did not verify */
} ngx_walrus_slot_e;


/* a slot of the window: the segment `index` on its way */

typedef struct {
    ngx_walrus_read_t     *ctx;
    uint64_t               index;
    uint64_t               length;
    size_t                 sym;
    size_t                 sliver_size;
    ngx_walrus_call_t    **calls;       /* n, by pair */
    ngx_walrus_arena_t    *arena;       /* where the calls live */
    ngx_thread_task_t     *task;        /* decodes the segment */
    u_char                *state;       /* n, ngx_walrus_slot_e */
    u_char                *verdict;     /* n, set by the decode task */
    u_char                *out;         /* decoded segment (heap) */
    ngx_buf_t             *buf;         /* the part being sent */
    ngx_msec_t             started;
    ngx_msec_t             hedged;      /* when slivers were last added */
    ngx_uint_t             outstanding; /* requested, not arrived */
    ngx_uint_t             probing;     /* slow nodes asked on the side */
    int                    rc;          /* of the last decode task */
    unsigned               active:1;
    unsigned               working:1;
    unsigned               decoded:1;
    unsigned               retry:1;     /* it had too few good slivers:
                                           the window runs once more */
} ngx_walrus_seg_t;


/* takes window slot g % NGX_WALRUS_WINDOW and asks for segment g */
ngx_int_t ngx_walrus_seg_start(ngx_walrus_read_t *ctx, uint64_t g);

/* a node's answer to a request for a sliver of the segment */
void ngx_walrus_seg_call(ngx_walrus_seg_t *seg, ngx_walrus_call_t *call);

/*
 * Asks for more slivers, hedges, decodes: NGX_AGAIN while the segment is
 * on its way, else what ends the request.
 */
ngx_int_t ngx_walrus_seg_progress(ngx_walrus_seg_t *seg);

/*
 * Verifies what arrived and decodes the segment, in the thread pool or at
 * once (ngx_walrus_read_decode.c): NGX_AGAIN, or what ends the request
 * (429 OVERLOADED when the pool's queue is full).
 */
ngx_int_t ngx_walrus_seg_decode(ngx_walrus_seg_t *seg);

/* cancels the segment's requests and frees its slot */
void ngx_walrus_seg_reset(ngx_walrus_seg_t *seg);


#endif /* _NGX_WALRUS_READ_SEGMENT_H_INCLUDED_ */
