/*
 * Prometheus metrics of both roles: counters, gauges and histograms in
 * one shared memory zone (walrus_metrics_zone), counted by every worker
 * with atomic additions and shown by any of them in the text format
 * 0.0.4 (walrus_metrics).  The lists of metrics are the roles' own
 * (src/gateway/ngx_walrus_gateway_metrics.c,
 * src/node/ngx_walrus_node_metrics.c); this is the machinery.
 */

#ifndef _NGX_WALRUS_METRICS_H_INCLUDED_
#define _NGX_WALRUS_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* nodes a gateway asks (of every epoch) and nodes served here, at most */
#define NGX_WALRUS_METRICS_PEERS    256
#define NGX_WALRUS_METRICS_NODES    64

/* processes that count a per-process gauge at the same time, at most */
#define NGX_WALRUS_METRICS_PROCS    64
/* the process gauges of all the lists together */
#define NGX_WALRUS_METRICS_PROC_GAUGES  4

#define NGX_WALRUS_METRICS_NAME_LEN  64

/*
 * The values of the "route" label: the route kinds up to the last one
 * named (a route added after it is counted as "other" until it is), a
 * malformed blob ID, any other path; of the "code" label: the statuses
 * listed, "other"
 */
#define NGX_WALRUS_METRICS_LAST_ROUTE  NGX_WALRUS_ROUTE_CONCAT
#define NGX_WALRUS_METRICS_ROUTES   (NGX_WALRUS_METRICS_LAST_ROUTE + 3)
#define NGX_WALRUS_METRICS_CODES    26


/* in the lists: a label's values, the "route" label, no label */
#define ngx_walrus_metric_values(a)  a, sizeof(a) / sizeof(a[0])
#define ngx_walrus_metric_routes                                             \
    "route", ngx_walrus_metrics_routes, NGX_WALRUS_METRICS_ROUTES
#define ngx_walrus_metric_plain(type)                                        \
    type, NULL, NULL, 0, NULL, NULL, 0, 0


typedef enum {
    NGX_WALRUS_COUNTER = 0,
    NGX_WALRUS_GAUGE,
    NGX_WALRUS_HISTOGRAM,               /* of the latency buckets */

    /*
     * A gauge each process keeps a share of (e.g. uploads in flight),
     * summed over the live ones: a process that dies takes its share
     * with it, where a shared gauge would stay up forever.
     */
    NGX_WALRUS_PROCESS_GAUGE
} ngx_walrus_metric_type_e;


/*
 * A metric of a scope: one series, one per value of a label, or one per
 * pair of values of two labels; the scopes of nodes add a "node" label.
 */
typedef struct {
    const char            *name;
    const char            *help;
    ngx_walrus_metric_type_e  type;
    const char            *label;       /* or NULL */
    const char   *const   *values;
    ngx_uint_t             nvalues;
    const char            *label2;      /* or NULL */
    const char   *const   *values2;
    ngx_uint_t             nvalues2;
    ngx_uint_t             offset;      /* in the scope's block, computed */
} ngx_walrus_metric_t;


typedef enum {
    NGX_WALRUS_SCOPE_GATEWAY = 0,       /* one block */
    NGX_WALRUS_SCOPE_PEER,              /* a block per node a gateway asks */
    NGX_WALRUS_SCOPE_NODE,              /* a block per node served here */
    NGX_WALRUS_SCOPES
} ngx_walrus_metric_scope_e;


typedef struct {
    ngx_atomic_t           pid;         /* 0: free */
    ngx_atomic_t           value[NGX_WALRUS_METRICS_PROC_GAUGES];
} ngx_walrus_metrics_proc_t;


/* the blocks of a scope in the zone: given to names, never taken back */
typedef struct {
    ngx_atomic_t           count;
    ngx_uint_t             max;
    ngx_uint_t             size;        /* counters a block */
    u_char               (*names)[NGX_WALRUS_METRICS_NAME_LEN + 1];
    ngx_atomic_t          *blocks;
} ngx_walrus_metrics_part_t;


/* the zone (its slab pool's data) */
typedef struct {
    uint32_t               layout;      /* of the lists it was made for */
    ngx_walrus_metrics_part_t  part[NGX_WALRUS_SCOPES];
    ngx_walrus_metrics_proc_t  procs[NGX_WALRUS_METRICS_PROCS];
} ngx_walrus_metrics_t;


/* what the configuration says of the metrics (in the main conf) */
typedef struct {
    ngx_shm_zone_t        *zone;
    size_t                 size;        /* walrus_metrics_zone */
    ngx_array_t            names[NGX_WALRUS_SCOPES];  /* ngx_str_t */
    unsigned               enabled:1;   /* some location shows them */
    unsigned               gateway:1;   /* a gateway location exists */
} ngx_walrus_metrics_conf_t;


/*
 * The roles' lists (and the routes and statuses their requests are
 * counted by): arrays in the role folders, terminated by a NULL name.
 */
extern ngx_walrus_metric_t  ngx_walrus_gateway_metrics[];
extern ngx_walrus_metric_t  ngx_walrus_peer_metrics[];
extern ngx_walrus_metric_t  ngx_walrus_node_metrics[];

extern const char *const  ngx_walrus_metrics_routes[];
extern const char *const  ngx_walrus_metrics_codes[];
extern const char *const  ngx_walrus_metrics_buckets[];
extern const ngx_uint_t   ngx_walrus_metrics_nbuckets;

/* the zone of this process's cycle, or NULL when metrics are off */
extern ngx_walrus_metrics_t  *ngx_walrus_metrics;


/* directives: walrus_metrics (a location), walrus_metrics_zone (http) */
char *ngx_walrus_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_walrus_metrics_zone_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* a role's location names what it counts, at configuration */
ngx_int_t ngx_walrus_metrics_conf_gateway(ngx_conf_t *cf);
ngx_int_t ngx_walrus_metrics_conf_node(ngx_conf_t *cf, ngx_str_t *name);

/* makes the zone when some location shows the metrics */
ngx_int_t ngx_walrus_metrics_postconfiguration(ngx_conf_t *cf);

/* the bytes the zone's blocks take, and its init (metrics_zone.c) */
size_t ngx_walrus_metrics_size(void);
ngx_int_t ngx_walrus_metrics_init_zone(ngx_shm_zone_t *zone, void *data);

ngx_int_t ngx_walrus_metrics_init_process(ngx_cycle_t *cycle);
void ngx_walrus_metrics_exit_process(ngx_cycle_t *cycle);

/* the counters of a scope's block: NULL when metrics are off */
ngx_atomic_t *ngx_walrus_metrics_block(ngx_walrus_metric_scope_e scope,
    const u_char *name, size_t len);

/* adds a role's handler of the log phase (postconfiguration) */
ngx_int_t ngx_walrus_metrics_log_phase(ngx_conf_t *cf,
    ngx_http_handler_pt handler);

/*
 * A request of a role ends (its log phase): counted by route and status
 * code in the metric at index of the scope's list, its bytes in and out
 * by route in the two next ones.
 */
void ngx_walrus_metrics_request(ngx_http_request_t *r,
    ngx_walrus_metric_scope_e scope, ngx_str_t *name, ngx_uint_t index);

/* the exposition (ngx_walrus_metrics_text.c) */
ngx_int_t ngx_walrus_metrics_handler(ngx_http_request_t *r);

/* a scope's metric list */
ngx_walrus_metric_t *ngx_walrus_metrics_list(ngx_walrus_metric_scope_e s);

/* the sum of a process gauge over the live processes */
ngx_atomic_int_t ngx_walrus_metrics_process_sum(ngx_uint_t index);


/*
 * The hooks: one call per event, nothing when metrics are off.  name
 * (len bytes) is the node of the scopes of nodes, NULL for the gateway's;
 * index is the metric's in its scope's list, value the label values'
 * (0 without labels, value1 * nvalues2 + value2 with two).
 */
void ngx_walrus_metric_add(ngx_walrus_metric_scope_e scope,
    const u_char *name, size_t len, ngx_uint_t index, ngx_uint_t value,
    ngx_atomic_int_t n);
void ngx_walrus_metric_set(ngx_walrus_metric_scope_e scope,
    const u_char *name, size_t len, ngx_uint_t index, ngx_uint_t value,
    ngx_atomic_uint_t n);

/* a histogram of the latency buckets: one observation of ms */
void ngx_walrus_metric_observe(ngx_walrus_metric_scope_e scope,
    const u_char *name, size_t len, ngx_uint_t index, ngx_msec_t ms);

/* this process's share of a process gauge of the scope's list */
void ngx_walrus_metric_process_add(ngx_walrus_metric_scope_e scope,
    ngx_uint_t index, ngx_atomic_int_t n);


#endif /* _NGX_WALRUS_METRICS_H_INCLUDED_ */
