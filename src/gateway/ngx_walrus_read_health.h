/*
 * Gateway read path: which nodes a read asks first.  Per worker, nodes a
 * read hedged over are remembered as slow, so that later reads ask them
 * last and do not wait a hedge delay for them again; now and then such a
 * node is probed, and an answer makes it a first choice again.  Per
 * read, nodes that sent wrong data are asked only when no other is left.
 */

#ifndef _NGX_WALRUS_READ_HEALTH_H_INCLUDED_
#define _NGX_WALRUS_READ_HEALTH_H_INCLUDED_


#include <ngx_walrus_gateway.h>


/* a read's view of a node, in the order it asks nodes for slivers */

typedef enum {
    NGX_WALRUS_NODE_GOOD = 0,
    NGX_WALRUS_NODE_SLOW,       /* hedged over, by this or another read */
    NGX_WALRUS_NODE_BAD         /* sent this read a wrong answer */
} ngx_walrus_node_health_e;


/* the read's view of every node, from what the worker remembers */
ngx_int_t ngx_walrus_health_init(ngx_walrus_read_t *ctx);

/* the node was hedged over: slow for walrus_gateway_slow_timeout */
void ngx_walrus_health_slow(ngx_walrus_read_t *ctx, ngx_uint_t node);

/* the node sent a wrong answer: this read asks it last */
void ngx_walrus_health_bad(ngx_walrus_read_t *ctx, ngx_uint_t node);

/*
 * 1 when a slow node's time is up and this read is to probe it; other
 * reads then wait for this probe instead of sending their own.
 */
ngx_uint_t ngx_walrus_health_probe(ngx_walrus_read_t *ctx, ngx_uint_t node);

/* the node answered a probe: a first choice again */
void ngx_walrus_health_answered(ngx_walrus_read_t *ctx, ngx_uint_t node);

/* a probe sent at `asked` ended unanswered with its segment */
void ngx_walrus_health_probe_cut(ngx_walrus_read_t *ctx, ngx_uint_t node,
    ngx_msec_t asked);


#endif /* _NGX_WALRUS_READ_HEALTH_H_INCLUDED_ */
