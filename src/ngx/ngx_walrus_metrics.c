/*
 * The metrics' shared memory zone: made at configuration, its blocks
 * given to the gateway and to each node by name (in the master, before
 * the workers run), then counted into by every process with atomic
 * additions only.  A process that dies in the middle of an update leaves
 * at worst one count missing, never a lock held or a list broken.
 *
 * A reload of the same zone size keeps the zone and every count (the old
 * workers finishing their requests go on counting into it); a new size
 * or a restart starts from zero.
 */

#include <ngx_walrus.h>


#define NGX_WALRUS_METRICS_ZONE_SIZE  (1024 * 1024)


static ngx_walrus_metrics_conf_t *ngx_walrus_metrics_conf(ngx_conf_t *cf);
static ngx_int_t ngx_walrus_metrics_conf_name(ngx_conf_t *cf,
    ngx_walrus_metric_scope_e scope, u_char *name, size_t len);
static ngx_int_t ngx_walrus_metrics_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_uint_t ngx_walrus_metrics_layout(ngx_walrus_metric_scope_e scope,
    uint32_t *crc);
static size_t ngx_walrus_metrics_size(void);
static void ngx_walrus_metrics_carve(ngx_walrus_metrics_t *m);
static void ngx_walrus_metrics_give(ngx_walrus_metrics_t *m,
    ngx_walrus_metrics_conf_t *mcf, ngx_log_t *log);
static ngx_atomic_t *ngx_walrus_metrics_counter(
    ngx_walrus_metric_scope_e scope, const u_char *name, size_t len,
    ngx_uint_t index, ngx_uint_t value);
static ngx_uint_t ngx_walrus_metrics_route(ngx_http_request_t *r);
static ngx_uint_t ngx_walrus_metrics_code(ngx_http_request_t *r);


/* bucket bounds of the latency histograms, and their "le" labels */

static const ngx_msec_t  ngx_walrus_metrics_bounds[] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

const char *const  ngx_walrus_metrics_buckets[] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
    "10"
};

const ngx_uint_t  ngx_walrus_metrics_nbuckets =
    sizeof(ngx_walrus_metrics_bounds) / sizeof(ngx_msec_t);


/*
 * The route kinds of ngx_walrus_route_parse (never raw paths: the label
 * set stays bounded), then a malformed blob ID and any other path.
 */

#define NGX_WALRUS_METRICS_ROUTE_KINDS  (NGX_WALRUS_ROUTE_API + 1)

const char *const  ngx_walrus_metrics_routes[NGX_WALRUS_METRICS_ROUTES] = {
    [NGX_WALRUS_ROUTE_HEALTH] = "health",
    [NGX_WALRUS_ROUTE_BLOBS] = "blobs",
    [NGX_WALRUS_ROUTE_BLOB] = "blob",
    [NGX_WALRUS_ROUTE_METADATA] = "metadata",
    [NGX_WALRUS_ROUTE_SLIVER] = "sliver",
    [NGX_WALRUS_ROUTE_CONFIRMATION] = "confirmation",
    [NGX_WALRUS_ROUTE_CERTIFICATE] = "certificate",
    [NGX_WALRUS_ROUTE_STATUS] = "status",
    [NGX_WALRUS_ROUTE_BYTE_RANGE] = "byte_range",
    [NGX_WALRUS_ROUTE_REGISTRATION] = "registration",
    [NGX_WALRUS_ROUTE_CERTIFIED] = "certified",
    [NGX_WALRUS_ROUTE_RECOVERY] = "recovery",
    [NGX_WALRUS_ROUTE_AUDIT_BEACON] = "audit_beacon",
    [NGX_WALRUS_ROUTE_AUDIT_STATUS] = "audit_status",
    [NGX_WALRUS_ROUTE_AUDIT_ROUND] = "audit_round",
    [NGX_WALRUS_ROUTE_AUDIT_SIGNATURE] = "audit_signature",
    [NGX_WALRUS_ROUTE_AUDIT_ANSWER] = "audit_answer",
    [NGX_WALRUS_ROUTE_AUDIT_ATTESTATION] = "audit_attestation",
    [NGX_WALRUS_ROUTE_AUDIT_CERTIFICATE] = "audit_certificate",
    [NGX_WALRUS_ROUTE_AUDIT_FRAUD] = "audit_fraud",
    [NGX_WALRUS_ROUTE_AUDITS] = "audits",
    [NGX_WALRUS_ROUTE_AUDITS_CERT] = "audits_certificate",
    [NGX_WALRUS_ROUTE_AUDITS_FRAUD] = "audits_fraud",
    [NGX_WALRUS_ROUTE_INCONSISTENCY] = "inconsistency",
    [NGX_WALRUS_ROUTE_EPOCH_READY] = "epoch_ready",
    [NGX_WALRUS_ROUTE_LIVENESS] = "liveness",
    [NGX_WALRUS_ROUTE_API] = "api",
    [NGX_WALRUS_METRICS_ROUTE_KINDS] = "invalid_blob_id",
    [NGX_WALRUS_METRICS_ROUTE_KINDS + 1] = "other"
};


/* the statuses the roles answer; "other" for the rest */

static const ngx_uint_t  ngx_walrus_metrics_statuses[] = {
    200, 201, 204, 206, 304, 400, 401, 403, 404, 405, 408, 409, 411, 412,
    413, 414, 416, 422, 429, 499, 500, 502, 503, 504, 507
};

const char *const  ngx_walrus_metrics_codes[NGX_WALRUS_METRICS_CODES] = {
    "200", "201", "204", "206", "304", "400", "401", "403", "404", "405",
    "408", "409", "411", "412", "413", "414", "416", "422", "429", "499",
    "500", "502", "503", "504", "507", "other"
};


/* blocks of each scope a zone holds */
static const ngx_uint_t  ngx_walrus_metrics_caps[NGX_WALRUS_SCOPES] = {
    1, NGX_WALRUS_METRICS_PEERS, NGX_WALRUS_METRICS_NODES
};


ngx_walrus_metrics_t  *ngx_walrus_metrics;

static ngx_walrus_metrics_proc_t  *ngx_walrus_metrics_proc;


char *
ngx_walrus_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t   *clcf;
    ngx_walrus_metrics_conf_t  *mcf;

    mcf = ngx_walrus_metrics_conf(cf);
    if (mcf == NULL) {
        return NGX_CONF_ERROR;
    }

    mcf->enabled = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_walrus_metrics_handler;

    return NGX_CONF_OK;
}


char *
ngx_walrus_metrics_zone_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ssize_t                     size;
    ngx_str_t                  *value;
    ngx_walrus_metrics_conf_t  *mcf;

    mcf = ngx_walrus_metrics_conf(cf);
    if (mcf == NULL) {
        return NGX_CONF_ERROR;
    }

    if (mcf->size != 0) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[1]);
    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        return "is invalid (at least 8 pages, e.g. 64k)";
    }

    mcf->size = size;

    return NGX_CONF_OK;
}


static ngx_walrus_metrics_conf_t *
ngx_walrus_metrics_conf(ngx_conf_t *cf)
{
    ngx_uint_t               i;
    ngx_walrus_main_conf_t  *wmcf;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_walrus_module);

    if (wmcf->metrics != NULL) {
        return wmcf->metrics;
    }

    wmcf->metrics = ngx_pcalloc(cf->pool, sizeof(ngx_walrus_metrics_conf_t));
    if (wmcf->metrics == NULL) {
        return NULL;
    }

    for (i = 0; i < NGX_WALRUS_SCOPES; i++) {
        if (ngx_array_init(&wmcf->metrics->names[i], cf->pool, 8,
                           sizeof(ngx_str_t))
            != NGX_OK)
        {
            return NULL;
        }
    }

    return wmcf->metrics;
}


/* the gateway's block, and one for each node of every epoch it asks */

ngx_int_t
ngx_walrus_metrics_conf_gateway(ngx_conf_t *cf)
{
    ngx_uint_t                  e, i;
    walrus_history_t           *h;
    walrus_committee_t         *c;
    ngx_walrus_main_conf_t     *wmcf;
    ngx_walrus_metrics_conf_t  *mcf;

    mcf = ngx_walrus_metrics_conf(cf);
    if (mcf == NULL) {
        return NGX_ERROR;
    }

    if (mcf->gateway) {
        return NGX_OK;
    }

    mcf->gateway = 1;

    if (ngx_walrus_metrics_conf_name(cf, NGX_WALRUS_SCOPE_GATEWAY,
                                     (u_char *) "", 0)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_walrus_module);
    h = wmcf->history;

    for (e = h->count; e > 0; e--) {
        c = &h->committees[e - 1];

        for (i = 0; i < c->nnodes; i++) {
            if (ngx_walrus_metrics_conf_name(cf, NGX_WALRUS_SCOPE_PEER,
                                             (u_char *) c->nodes[i].name,
                                             ngx_strlen(c->nodes[i].name))
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_walrus_metrics_conf_node(ngx_conf_t *cf, ngx_str_t *name)
{
    return ngx_walrus_metrics_conf_name(cf, NGX_WALRUS_SCOPE_NODE,
                                        name->data, name->len);
}


static ngx_int_t
ngx_walrus_metrics_conf_name(ngx_conf_t *cf, ngx_walrus_metric_scope_e scope,
    u_char *name, size_t len)
{
    ngx_str_t                  *names;
    ngx_uint_t                  i;
    ngx_walrus_metrics_conf_t  *mcf;

    mcf = ngx_walrus_metrics_conf(cf);
    if (mcf == NULL) {
        return NGX_ERROR;
    }

    names = mcf->names[scope].elts;

    for (i = 0; i < mcf->names[scope].nelts; i++) {
        if (names[i].len == len && ngx_strncmp(names[i].data, name, len) == 0)
        {
            return NGX_OK;
        }
    }

    if (len > NGX_WALRUS_METRICS_NAME_LEN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "walrus metrics: the node name \"%*s\" is longer "
                           "than %d bytes", len, name,
                           NGX_WALRUS_METRICS_NAME_LEN);
        return NGX_ERROR;
    }

    names = ngx_array_push(&mcf->names[scope]);
    if (names == NULL) {
        return NGX_ERROR;
    }

    names->data = name;
    names->len = len;

    return NGX_OK;
}


ngx_int_t
ngx_walrus_metrics_postconfiguration(ngx_conf_t *cf)
{
    size_t                      need;
    ngx_str_t                   name;
    ngx_uint_t                  i;
    ngx_walrus_main_conf_t     *wmcf;
    ngx_walrus_metrics_conf_t  *mcf;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_walrus_module);
    mcf = wmcf->metrics;

    if (mcf == NULL || !mcf->enabled) {
        return NGX_OK;
    }

    /* a route added to ngx_walrus_route_e needs a name for its label */

    for (i = 0; i < NGX_WALRUS_METRICS_ROUTES; i++) {
        if (ngx_walrus_metrics_routes[i] == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "walrus metrics: route kind %ui has no name "
                               "in ngx_walrus_metrics_routes", i);
            return NGX_ERROR;
        }
    }

    if (mcf->names[NGX_WALRUS_SCOPE_NODE].nelts > NGX_WALRUS_METRICS_NODES) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "walrus metrics: more than %d storage nodes in "
                           "one nginx", NGX_WALRUS_METRICS_NODES);
        return NGX_ERROR;
    }

    if (mcf->size == 0) {
        mcf->size = NGX_WALRUS_METRICS_ZONE_SIZE;
    }

    /* the slab pool's own pages and page descriptors take their share */

    need = ngx_walrus_metrics_size();

    if (need + need / 8 + 8 * ngx_pagesize > mcf->size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"walrus_metrics_zone\" is too small: the "
                           "metrics need %uz bytes and more",
                           need + need / 8 + 8 * ngx_pagesize);
        return NGX_ERROR;
    }

    ngx_str_set(&name, "walrus_metrics");

    mcf->zone = ngx_shared_memory_add(cf, &name, mcf->size,
                                      &ngx_http_walrus_module);
    if (mcf->zone == NULL) {
        return NGX_ERROR;
    }

    mcf->zone->init = ngx_walrus_metrics_init_zone;
    mcf->zone->data = mcf;

    return NGX_OK;
}


ngx_walrus_metric_t *
ngx_walrus_metrics_list(ngx_walrus_metric_scope_e scope)
{
    switch (scope) {

    case NGX_WALRUS_SCOPE_GATEWAY:
        return ngx_walrus_gateway_metrics;

    case NGX_WALRUS_SCOPE_PEER:
        return ngx_walrus_peer_metrics;

    default:
        return ngx_walrus_node_metrics;
    }
}


/*
 * The offsets of a scope's metrics in its block, its block's size in
 * counters, and a checksum of the layout: a zone kept over a reload is
 * used as it is only when the lists are the same.
 */

static ngx_uint_t
ngx_walrus_metrics_layout(ngx_walrus_metric_scope_e scope, uint32_t *crc)
{
    ngx_uint_t            size, proc;
    ngx_walrus_metric_t  *m;

    size = 0;
    proc = 0;

    for (m = ngx_walrus_metrics_list(scope); m->name != NULL; m++) {

        switch (m->type) {

        case NGX_WALRUS_HISTOGRAM:
            m->offset = size;
            size += ngx_walrus_metrics_nbuckets + 2;  /* +Inf, sum */
            break;

        case NGX_WALRUS_PROCESS_GAUGE:
            m->offset = proc++;
            break;

        default:
            m->offset = size;
            size += ngx_max(m->nvalues, 1) * ngx_max(m->nvalues2, 1);
        }

        ngx_crc32_update(crc, (u_char *) m->name, ngx_strlen(m->name));
        ngx_crc32_update(crc, (u_char *) &m->offset, sizeof(ngx_uint_t));
    }

    ngx_crc32_update(crc, (u_char *) &size, sizeof(ngx_uint_t));

    return size;
}


static size_t
ngx_walrus_metrics_size(void)
{
    size_t      size;
    uint32_t    crc;
    ngx_uint_t  s;

    size = sizeof(ngx_walrus_metrics_t);
    ngx_crc32_init(crc);

    for (s = 0; s < NGX_WALRUS_SCOPES; s++) {
        size += ngx_walrus_metrics_caps[s]
                * (NGX_WALRUS_METRICS_NAME_LEN + 1
                   + ngx_walrus_metrics_layout(s, &crc)
                     * sizeof(ngx_atomic_t));
    }

    return ngx_align(size, sizeof(ngx_atomic_t)) + sizeof(ngx_atomic_t);
}


static ngx_int_t
ngx_walrus_metrics_init_zone(ngx_shm_zone_t *zone, void *data)
{
    size_t                      size;
    uint32_t                    crc;
    ngx_uint_t                  s;
    ngx_slab_pool_t            *shpool;
    ngx_walrus_metrics_t       *m;
    ngx_walrus_metrics_conf_t  *mcf;

    mcf = zone->data;
    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    ngx_crc32_init(crc);

    for (s = 0; s < NGX_WALRUS_SCOPES; s++) {
        (void) ngx_walrus_metrics_layout(s, &crc);
    }

    ngx_crc32_final(crc);

    m = (data != NULL || zone->shm.exists) ? shpool->data : NULL;

    ngx_log_debug2(NGX_LOG_DEBUG_CORE, zone->shm.log, 0,
                   "walrus metrics: zone %p, %s", m,
                   m != NULL ? "kept" : "new");

    if (m != NULL && m->layout != crc) {
        ngx_log_error(NGX_LOG_NOTICE, zone->shm.log, 0,
                      "walrus metrics: the metrics changed, counting from "
                      "zero");
        ngx_slab_free(shpool, m);
        m = NULL;
    }

    if (m == NULL) {
        size = ngx_walrus_metrics_size();

        m = ngx_slab_calloc(shpool, size);
        if (m == NULL) {
            ngx_log_error(NGX_LOG_EMERG, zone->shm.log, 0,
                          "walrus metrics: no room for %uz bytes in "
                          "\"walrus_metrics_zone\"", size);
            return NGX_ERROR;
        }

        m->layout = crc;
        ngx_walrus_metrics_carve(m);
        shpool->data = m;
    }

    ngx_walrus_metrics_give(m, mcf, zone->shm.log);

    return NGX_OK;
}


/* the names and blocks of each scope, after the zone's head */

static void
ngx_walrus_metrics_carve(ngx_walrus_metrics_t *m)
{
    u_char      *p;
    uint32_t     crc;
    ngx_uint_t   s;

    p = (u_char *) (m + 1);
    ngx_crc32_init(crc);

    for (s = 0; s < NGX_WALRUS_SCOPES; s++) {
        m->part[s].max = ngx_walrus_metrics_caps[s];
        m->part[s].size = ngx_walrus_metrics_layout(s, &crc);
        m->part[s].names = (void *) p;
        p += ngx_walrus_metrics_caps[s] * (NGX_WALRUS_METRICS_NAME_LEN + 1);
    }

    p = ngx_align_ptr(p, sizeof(ngx_atomic_t));

    for (s = 0; s < NGX_WALRUS_SCOPES; s++) {
        m->part[s].blocks = (ngx_atomic_t *) p;
        p += ngx_walrus_metrics_caps[s] * m->part[s].size
             * sizeof(ngx_atomic_t);
    }
}


/*
 * Each name of the configuration gets a block, once: names are written
 * before the count that shows them, so a process reading the zone never
 * meets a half-written one.
 */

static void
ngx_walrus_metrics_give(ngx_walrus_metrics_t *m,
    ngx_walrus_metrics_conf_t *mcf, ngx_log_t *log)
{
    ngx_str_t                  *names;
    ngx_uint_t                  s, i, k;
    ngx_walrus_metrics_part_t  *part;

    for (s = 0; s < NGX_WALRUS_SCOPES; s++) {
        part = &m->part[s];
        names = mcf->names[s].elts;

        for (i = 0; i < mcf->names[s].nelts; i++) {
            for (k = 0; k < part->count; k++) {
                if (ngx_strlen(part->names[k]) == names[i].len
                    && ngx_strncmp(part->names[k], names[i].data,
                                   names[i].len) == 0)
                {
                    break;
                }
            }

            if (k < part->count) {
                continue;
            }

            if (part->count == part->max) {
                ngx_log_error(NGX_LOG_WARN, log, 0,
                              "walrus metrics: no room left for node "
                              "\"%V\": it is not counted until a restart",
                              &names[i]);
                continue;
            }

            ngx_memcpy(part->names[k], names[i].data, names[i].len);
            part->names[k][names[i].len] = '\0';

            ngx_memory_barrier();
            part->count++;

            ngx_log_debug3(NGX_LOG_DEBUG_CORE, log, 0,
                           "walrus metrics: block %ui of scope %ui for "
                           "\"%V\"", k, s, &names[i]);
        }
    }
}


ngx_int_t
ngx_walrus_metrics_init_process(ngx_cycle_t *cycle)
{
    ngx_err_t                   err;
    ngx_pid_t                   pid;
    ngx_uint_t                  i;
    ngx_slab_pool_t            *shpool;
    ngx_walrus_main_conf_t     *wmcf;
    ngx_walrus_metrics_proc_t  *proc;

    ngx_walrus_metrics = NULL;
    ngx_walrus_metrics_proc = NULL;

    wmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_walrus_module);

    if (wmcf == NULL || wmcf->metrics == NULL
        || wmcf->metrics->zone == NULL)
    {
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) wmcf->metrics->zone->shm.addr;
    ngx_walrus_metrics = shpool->data;

    /*
     * A slot for this process's share of the process gauges: a free one,
     * or one of a process gone (a crashed worker's share goes with it)
     */

    for (i = 0; i < NGX_WALRUS_METRICS_PROCS; i++) {
        proc = &ngx_walrus_metrics->procs[i];
        pid = proc->pid;

        if (pid != 0) {
            if (kill(pid, 0) == 0) {
                continue;
            }

            err = ngx_errno;

            if (err != NGX_ESRCH) {
                continue;
            }
        }

        if (ngx_atomic_cmp_set(&proc->pid, pid, ngx_pid)) {
            ngx_memzero((void *) proc->value, sizeof(proc->value));
            ngx_walrus_metrics_proc = proc;

            ngx_log_debug2(NGX_LOG_DEBUG_CORE, cycle->log, 0,
                           "walrus metrics: process slot %ui (was %P)",
                           i, pid);
            break;
        }
    }

    if (ngx_walrus_metrics_proc == NULL) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "walrus metrics: more than %d processes: this one's "
                      "gauges are not counted", NGX_WALRUS_METRICS_PROCS);
    }

    return NGX_OK;
}


void
ngx_walrus_metrics_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_walrus_metrics_proc != NULL) {
        ngx_memzero((void *) ngx_walrus_metrics_proc->value,
                    sizeof(ngx_walrus_metrics_proc->value));
        ngx_memory_barrier();
        ngx_walrus_metrics_proc->pid = 0;
        ngx_walrus_metrics_proc = NULL;
    }

    ngx_walrus_metrics = NULL;
}


ngx_atomic_int_t
ngx_walrus_metrics_process_sum(ngx_uint_t index)
{
    ngx_pid_t         pid;
    ngx_uint_t        i;
    ngx_atomic_int_t  sum;

    sum = 0;

    for (i = 0; i < NGX_WALRUS_METRICS_PROCS; i++) {
        pid = ngx_walrus_metrics->procs[i].pid;

        if (pid == 0 || (kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH)) {
            continue;
        }

        sum += (ngx_atomic_int_t) ngx_walrus_metrics->procs[i].value[index];
    }

    return sum;
}


ngx_atomic_t *
ngx_walrus_metrics_block(ngx_walrus_metric_scope_e scope, const u_char *name,
    size_t len)
{
    ngx_uint_t                  i, n;
    ngx_walrus_metrics_part_t  *part;

    if (ngx_walrus_metrics == NULL) {
        return NULL;
    }

    part = &ngx_walrus_metrics->part[scope];

    if (scope == NGX_WALRUS_SCOPE_GATEWAY) {
        return part->blocks;
    }

    n = part->count;

    for (i = 0; i < n; i++) {
        if (part->names[i][0] == name[0]
            && ngx_strncmp(part->names[i], name, len) == 0
            && part->names[i][len] == '\0')
        {
            return part->blocks + i * part->size;
        }
    }

    return NULL;
}


/* the counter of a metric's label values in a block, or NULL */

static ngx_atomic_t *
ngx_walrus_metrics_counter(ngx_walrus_metric_scope_e scope,
    const u_char *name, size_t len, ngx_uint_t index, ngx_uint_t value)
{
    ngx_atomic_t  *block;

    block = ngx_walrus_metrics_block(scope, name, len);

    return block != NULL
           ? &block[ngx_walrus_metrics_list(scope)[index].offset + value]
           : NULL;
}


void
ngx_walrus_metric_add(ngx_walrus_metric_scope_e scope, const u_char *name,
    size_t len, ngx_uint_t index, ngx_uint_t value, ngx_atomic_int_t n)
{
    ngx_atomic_t  *counter;

    counter = ngx_walrus_metrics_counter(scope, name, len, index, value);

    if (counter != NULL) {
        (void) ngx_atomic_fetch_add(counter, n);
    }
}


void
ngx_walrus_metric_set(ngx_walrus_metric_scope_e scope, const u_char *name,
    size_t len, ngx_uint_t index, ngx_uint_t value, ngx_atomic_uint_t n)
{
    ngx_atomic_t  *gauge;

    gauge = ngx_walrus_metrics_counter(scope, name, len, index, value);

    if (gauge != NULL) {
        *gauge = n;
    }
}


void
ngx_walrus_metric_observe(ngx_walrus_metric_scope_e scope,
    const u_char *name, size_t len, ngx_uint_t index, ngx_msec_t ms)
{
    ngx_uint_t     b;
    ngx_atomic_t  *block;

    block = ngx_walrus_metrics_block(scope, name, len);

    if (block == NULL) {
        return;
    }

    block += ngx_walrus_metrics_list(scope)[index].offset;

    for (b = 0; b < ngx_walrus_metrics_nbuckets; b++) {
        if (ms <= ngx_walrus_metrics_bounds[b]) {
            break;
        }
    }

    /* buckets of their own (b == nbuckets: +Inf); the sum after them */

    (void) ngx_atomic_fetch_add(&block[b], 1);
    (void) ngx_atomic_fetch_add(&block[ngx_walrus_metrics_nbuckets + 1],
                                (ngx_atomic_int_t) ms);
}


void
ngx_walrus_metric_process_add(ngx_uint_t index, ngx_atomic_int_t n)
{
    if (ngx_walrus_metrics_proc != NULL) {
        (void) ngx_atomic_fetch_add(
                   &ngx_walrus_metrics_proc->value[
                        ngx_walrus_gateway_metrics[index].offset], n);
    }
}


/* a role's handler of the log phase, where its requests are counted */

ngx_int_t
ngx_walrus_metrics_log_phase(ngx_conf_t *cf, ngx_http_handler_pt handler)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = handler;

    return NGX_OK;
}


void
ngx_walrus_metrics_request(ngx_http_request_t *r,
    ngx_walrus_metric_scope_e scope, ngx_str_t *name, ngx_uint_t index)
{
    off_t                 sent;
    ngx_uint_t            route;
    ngx_atomic_t         *block;
    ngx_walrus_metric_t  *list;

    if (ngx_walrus_metrics == NULL) {
        return;
    }

    block = ngx_walrus_metrics_block(scope, name->data, name->len);
    if (block == NULL) {
        return;
    }

    list = ngx_walrus_metrics_list(scope);
    route = ngx_walrus_metrics_route(r);

    /* the body sent: what $body_bytes_sent logs */

    sent = r->connection->sent - r->header_size;

    (void) ngx_atomic_fetch_add(&block[list[index].offset
                                       + route * NGX_WALRUS_METRICS_CODES
                                       + ngx_walrus_metrics_code(r)], 1);
    (void) ngx_atomic_fetch_add(&block[list[index + 1].offset + route],
                                r->request_length);
    (void) ngx_atomic_fetch_add(&block[list[index + 2].offset + route],
                                sent > 0 ? sent : 0);
}


static ngx_uint_t
ngx_walrus_metrics_route(ngx_http_request_t *r)
{
    ngx_int_t           rc;
    ngx_walrus_route_t  rt;

    rc = ngx_walrus_route_parse(&r->uri, &rt);

    if (rc == NGX_ERROR) {
        return NGX_WALRUS_METRICS_ROUTE_KINDS;
    }

    if (rc != NGX_OK || rt.kind >= NGX_WALRUS_METRICS_ROUTE_KINDS) {
        return NGX_WALRUS_METRICS_ROUTE_KINDS + 1;
    }

    return rt.kind;
}


/* the status the access log shows */

static ngx_uint_t
ngx_walrus_metrics_code(ngx_http_request_t *r)
{
    ngx_uint_t  i, status;

    status = r->err_status ? r->err_status : r->headers_out.status;

    for (i = 0; i < NGX_WALRUS_METRICS_CODES - 1; i++) {
        if (ngx_walrus_metrics_statuses[i] == status) {
            return i;
        }
    }

    return NGX_WALRUS_METRICS_CODES - 1;
}
