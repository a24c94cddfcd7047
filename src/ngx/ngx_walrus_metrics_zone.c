/*
 * The metrics' shared memory zone: its layout, fixed by the roles' lists,
 * its blocks given to the gateway and to each node by name (in the
 * master, before the workers run), and each process's slot for its share
 * of the process gauges.  Processes only ever add to the counters: one
 * that dies in the middle of an update leaves at worst one count
 * missing, never a lock held or a list broken.
 *
 * A reload of the same zone size keeps the zone and every count (the old
 * workers finishing their requests go on counting into it); a new size
 * or a restart starts from zero.
 */

#include <ngx_walrus.h>


static ngx_uint_t ngx_walrus_metrics_layout(ngx_walrus_metric_scope_e scope,
    uint32_t *crc);
static void ngx_walrus_metrics_carve(ngx_walrus_metrics_t *m);
static void ngx_walrus_metrics_give(ngx_walrus_metrics_t *m,
    ngx_walrus_metrics_conf_t *mcf, ngx_log_t *log);


/* blocks of each scope a zone holds */
static const ngx_uint_t  ngx_walrus_metrics_caps[NGX_WALRUS_SCOPES] = {
    1, NGX_WALRUS_METRICS_PEERS, NGX_WALRUS_METRICS_NODES
};


ngx_walrus_metrics_t  *ngx_walrus_metrics;

static ngx_walrus_metrics_proc_t  *ngx_walrus_metrics_proc;


/*
 * The offsets of a scope's metrics in its block, its block's size in
 * counters, and a checksum of the layout: a zone kept over a reload is
 * used as it is only when the lists are the same.
 */

static ngx_uint_t
ngx_walrus_metrics_layout(ngx_walrus_metric_scope_e scope, uint32_t *crc)
{
    ngx_uint_t            size, proc, s;
    ngx_walrus_metric_t  *m;

    size = 0;

    /* the scopes' process gauges share each process's slot, in order */

    proc = 0;

    for (s = 0; s < scope; s++) {
        for (m = ngx_walrus_metrics_list(s); m->name != NULL; m++) {
            proc += m->type == NGX_WALRUS_PROCESS_GAUGE;
        }
    }

    for (m = ngx_walrus_metrics_list(scope); m->name != NULL; m++) {

        switch (m->type) {

        case NGX_WALRUS_HISTOGRAM:
            m->offset = size;
            size += ngx_walrus_metrics_nbuckets + 2;  /* +Inf, sum */
            break;

        case NGX_WALRUS_PROCESS_GAUGE:
            /* more than NGX_WALRUS_METRICS_PROC_GAUGES: raise it */
            m->offset = ngx_min(proc, NGX_WALRUS_METRICS_PROC_GAUGES - 1);
            proc++;
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


size_t
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


ngx_int_t
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


void
ngx_walrus_metric_process_add(ngx_walrus_metric_scope_e scope,
    ngx_uint_t index, ngx_atomic_int_t n)
{
    if (ngx_walrus_metrics_proc != NULL) {
        (void) ngx_atomic_fetch_add(
                   &ngx_walrus_metrics_proc->value[
                        ngx_walrus_metrics_list(scope)[index].offset], n);
    }
}
