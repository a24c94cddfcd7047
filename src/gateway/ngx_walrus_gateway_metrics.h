/*
 * The gateway's metrics (its list: ngx_walrus_gateway_metrics.c): its
 * own, and those of each node it asks (label "node").
 */

#ifndef _NGX_WALRUS_GATEWAY_METRICS_H_INCLUDED_
#define _NGX_WALRUS_GATEWAY_METRICS_H_INCLUDED_


#include <ngx_walrus.h>


/* ngx_walrus_gateway_metrics[], in this order */
typedef enum {
    NGX_WALRUS_GM_REQUESTS = 0,         /* route, code */
    NGX_WALRUS_GM_RECEIVED,             /* route: request bytes */
    NGX_WALRUS_GM_SENT,                 /* route: response body bytes */
    NGX_WALRUS_GM_HEDGES,
    NGX_WALRUS_GM_CACHE,                /* layer, result */
    NGX_WALRUS_GM_REDIS_ERRORS,
    NGX_WALRUS_GM_UPLOADS               /* in flight, a process gauge */
} ngx_walrus_gateway_metric_e;


/* ngx_walrus_peer_metrics[], in this order */
typedef enum {
    NGX_WALRUS_PM_FETCHES = 0,          /* result */
    NGX_WALRUS_PM_BAD_SLIVERS,
    NGX_WALRUS_PM_LATENCY               /* histogram */
} ngx_walrus_peer_metric_e;


/* the values of NGX_WALRUS_GM_CACHE's labels: layer * 2 + result */
#define NGX_WALRUS_CACHE_WORKER      0
#define NGX_WALRUS_CACHE_REDIS       2
#define NGX_WALRUS_CACHE_HIT         0
#define NGX_WALRUS_CACHE_MISS        1

/* the values of NGX_WALRUS_PM_FETCHES's label */
#define NGX_WALRUS_FETCH_OK          0
#define NGX_WALRUS_FETCH_FAILED      1


#define ngx_walrus_gateway_count(index, value)                               \
    ngx_walrus_metric_add(NGX_WALRUS_SCOPE_GATEWAY, NULL, 0, index, value, 1)

/* a lookup in a cache layer: hit or miss */
#define ngx_walrus_cache_count(layer, hit)                                   \
    ngx_walrus_gateway_count(NGX_WALRUS_GM_CACHE, (layer)                    \
                             + ((hit) ? NGX_WALRUS_CACHE_HIT                 \
                                      : NGX_WALRUS_CACHE_MISS))

/* a node's (its name, a C string) */
#define ngx_walrus_peer_count(name, index, value)                            \
    ngx_walrus_metric_add(NGX_WALRUS_SCOPE_PEER, (u_char *) (name),          \
                          ngx_strlen(name), index, value, 1)

#define ngx_walrus_peer_observe(name, ms)                                    \
    ngx_walrus_metric_observe(NGX_WALRUS_SCOPE_PEER, (u_char *) (name),      \
                              ngx_strlen(name), NGX_WALRUS_PM_LATENCY, ms)


/* the log phase's handler, counting the gateway's requests */
ngx_int_t ngx_walrus_gateway_metrics_init(ngx_conf_t *cf);


#endif /* _NGX_WALRUS_GATEWAY_METRICS_H_INCLUDED_ */
