/*
 * Gateway read path: state shared by the request driver
 * (ngx_walrus_read.c) and the HTTP semantics (ngx_walrus_read_http.c).
 */

#ifndef _NGX_WALRUS_READ_H_INCLUDED_
#define _NGX_WALRUS_READ_H_INCLUDED_


#include <ngx_walrus_gateway.h>
#include <ngx_walrus_fanout.h>
#include <ngx_walrus_read_health.h>
#include <walrus_cert.h>
#include <walrus_metadata.h>


#define NGX_WALRUS_WINDOW  2


typedef enum {
    NGX_WALRUS_SLOT_IDLE = 0,
    NGX_WALRUS_SLOT_REQUESTED,
    NGX_WALRUS_SLOT_ARRIVED,
    NGX_WALRUS_SLOT_GOOD,
    NGX_WALRUS_SLOT_BAD
} ngx_walrus_slot_e;


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


/*
 * Where a read is.  Memory hits go from METADATA straight on; a Redis
 * lookup is CACHE until its answer, then the nodes are asked (METADATA)
 * unless it had what was needed.
 */

typedef enum {
    NGX_WALRUS_READ_METADATA = 0,   /* metadata and certificate awaited */
    NGX_WALRUS_READ_CACHE,          /* Redis is asked first */
    NGX_WALRUS_READ_SEGMENTS,       /* slivers fetched, decoded and sent */
    NGX_WALRUS_READ_DONE
} ngx_walrus_read_phase_e;


struct ngx_walrus_read_s {
    ngx_http_request_t         *request;
    ngx_walrus_read_phase_e     phase;
    walrus_committee_t         *committee;
    ngx_walrus_route_t          route;
    ngx_walrus_fanout_t         fanout;
    walrus_metadata_t           meta;
    walrus_cert_t              *cert;
    unsigned                    meta_missing;  /* shards answering 404 */
    unsigned                    meta_failed;   /* shards failing otherwise */
    unsigned                    cert_missing;
    unsigned                    cert_failed;
    ngx_msec_t                  missing_since; /* n - f shards said 404 */
    uint64_t                    start;         /* served bytes, inclusive */
    uint64_t                    end;
    ngx_uint_t                  partial;       /* 206 */
    uint64_t                    next_fetch;
    uint64_t                    next_send;
    uint64_t                    last_seg;
    ngx_walrus_seg_t            window[NGX_WALRUS_WINDOW];
    ngx_walrus_node_health_e   *health;        /* per node */
    ngx_walrus_call_t         **meta_calls;    /* 2n: metadata, cert */
    ngx_event_t                 timer;
    ngx_msec_t                  started;
    ngx_str_t                   filename;
    ngx_flag_t                  download;
    const char                 *type;          /* remembered content type */
    unsigned                    have_meta:1;
    unsigned                    missing_seen:1; /* missing_since is set */
    unsigned                    from_cache:1;
    unsigned                    header_sent:1;
};


/*
 * Once metadata and certificate are in: answers what needs no sliver
 * (HEAD, 304, 416, status, errors) and returns the status it sent, or
 * NGX_DECLINED when the bytes start..end must be fetched.
 */
ngx_int_t ngx_walrus_read_prepare(ngx_walrus_read_t *ctx);

/* response headers of a GET, sniffing the type from the first bytes */
ngx_int_t ngx_walrus_read_send_header(ngx_walrus_read_t *ctx,
    const u_char *first, size_t len);


#endif /* _NGX_WALRUS_READ_H_INCLUDED_ */
