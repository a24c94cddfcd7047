/*
 * A storage node's metrics (its list: ngx_walrus_node_metrics.c), a set
 * per node this nginx serves, labelled "node".
 */

#ifndef _NGX_WALRUS_NODE_METRICS_H_INCLUDED_
#define _NGX_WALRUS_NODE_METRICS_H_INCLUDED_


#include <ngx_walrus.h>


/* ngx_walrus_node_metrics[], in this order */
typedef enum {
    NGX_WALRUS_NM_REQUESTS = 0,         /* route, code */
    NGX_WALRUS_NM_RECEIVED,             /* route: request bytes */
    NGX_WALRUS_NM_SENT,                 /* route: response body bytes */
    NGX_WALRUS_NM_SLIVERS,              /* gauges of the last heal scan */
    NGX_WALRUS_NM_SLIVER_BYTES,
    NGX_WALRUS_NM_BLOBS,                /* state */
    NGX_WALRUS_NM_HEALED,
    NGX_WALRUS_NM_MIGRATED,
    NGX_WALRUS_NM_HEAL_BYTES,
    NGX_WALRUS_NM_HEAL_FAILURES,
    NGX_WALRUS_NM_SCRUB_BYTES,
    NGX_WALRUS_NM_SCRUB_BAD,
    NGX_WALRUS_NM_SCRUB_PASSES,
    NGX_WALRUS_NM_AUDIT_ROUNDS,
    NGX_WALRUS_NM_AUDIT_CERTIFICATES,
    NGX_WALRUS_NM_AUDIT_VERDICTS,       /* verdict */
    NGX_WALRUS_NM_GC_BLOBS,
    NGX_WALRUS_NM_GC_PASSES,
    NGX_WALRUS_NM_UPLOAD_WAITS_EXPIRED,
    NGX_WALRUS_NM_UPLOAD_BUFFER_BYTES,  /* process gauges */
    NGX_WALRUS_NM_UPLOADS_WAITING
} ngx_walrus_node_metric_e;


/* the values of NGX_WALRUS_NM_BLOBS's label */
#define NGX_WALRUS_BLOBS_HELD          0
#define NGX_WALRUS_BLOBS_PENDING       1
#define NGX_WALRUS_BLOBS_INCONSISTENT  2

/* the values of NGX_WALRUS_NM_AUDIT_VERDICTS's label */
#define NGX_WALRUS_VERDICT_VALUE_PASSED   0
#define NGX_WALRUS_VERDICT_VALUE_MISSING  1
#define NGX_WALRUS_VERDICT_VALUE_FRAUD    2


/* of node `name` (an ngx_str_t *) */
#define ngx_walrus_node_count(name, index, value, n)                         \
    ngx_walrus_metric_add(NGX_WALRUS_SCOPE_NODE, (name)->data, (name)->len,  \
                          index, value, n)

#define ngx_walrus_node_gauge(name, index, value, n)                         \
    ngx_walrus_metric_set(NGX_WALRUS_SCOPE_NODE, (name)->data, (name)->len,  \
                          index, value, n)


/* the log phase's handler, counting the nodes' requests */
ngx_int_t ngx_walrus_node_metrics_init(ngx_conf_t *cf);


#endif /* _NGX_WALRUS_NODE_METRICS_H_INCLUDED_ */
