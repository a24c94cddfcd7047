/*
 * Request body files that nobody removes.  Versions before sliver uploads
 * were streamed (ngx_walrus_node_stream.c) had nginx keep each sliver
 * upload's body file under its name in client_body_temp_path, to link the
 * verified file into the store; a process killed during an upload left
 * the file behind, and an upgraded node may still hold such files.  (A
 * streamed upload leaves a temporary file in the store instead, removed
 * by the next write into that blob's directory.)  So: on a fresh start
 * (not a reload or a binary upgrade, whose old workers may still be
 * writing such files) the master removes the files nobody has open; and
 * while nginx runs, worker 0 removes in the thread pool, every tenth of
 * walrus_node_stale_body_time, the files nobody has open that were not
 * written for that long.
 */

#include <ngx_walrus.h>
#include <ngx_walrus_node.h>
#include <walrus_store.h>


typedef struct {
    ngx_path_t          *path;
    time_t               stale;
    ngx_thread_pool_t   *thread_pool;
} ngx_walrus_body_dir_t;


typedef struct {
    ngx_array_t         *dirs;
    time_t               now;
    unsigned long        removed;
} ngx_walrus_sweep_t;


static void ngx_walrus_sweep_timer(ngx_event_t *ev);
static void ngx_walrus_sweep_thread(void *data, ngx_log_t *log);
static void ngx_walrus_sweep_done(ngx_event_t *ev);


static ngx_event_t         ngx_walrus_sweep_event;
static ngx_msec_t          ngx_walrus_sweep_interval;
static ngx_thread_task_t  *ngx_walrus_sweep_task;


/* at configuration: the body directory of a node location */

ngx_int_t
ngx_walrus_node_body_dir(ngx_conf_t *cf, ngx_walrus_node_loc_conf_t *wlcf)
{
    ngx_uint_t                    i;
    ngx_walrus_body_dir_t        *bd;
    ngx_walrus_node_main_conf_t  *wmcf;
    ngx_http_core_loc_conf_t     *clcf;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_walrus_node_module);
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (wmcf->body_dirs == NULL) {
        wmcf->body_dirs = ngx_array_create(cf->pool, 2,
                                           sizeof(ngx_walrus_body_dir_t));
        if (wmcf->body_dirs == NULL) {
            return NGX_ERROR;
        }
    }

    bd = wmcf->body_dirs->elts;

    for (i = 0; i < wmcf->body_dirs->nelts; i++) {
        if (bd[i].path->name.len == clcf->client_body_temp_path->name.len
            && ngx_strcmp(bd[i].path->name.data,
                          clcf->client_body_temp_path->name.data) == 0)
        {
            bd[i].stale = ngx_min(bd[i].stale, wlcf->stale_body_time);
            return NGX_OK;
        }
    }

    bd = ngx_array_push(wmcf->body_dirs);
    if (bd == NULL) {
        return NGX_ERROR;
    }

    bd->path = clcf->client_body_temp_path;
    bd->stale = wlcf->stale_body_time;
    bd->thread_pool = wlcf->thread_pool;

    return NGX_OK;
}


/* in the master (or the single process) when nginx starts afresh */

void
ngx_walrus_node_sweep_start(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    unsigned long                 n;
    ngx_walrus_body_dir_t        *bd;
    ngx_walrus_node_main_conf_t  *wmcf;

    wmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_walrus_node_module);

    if (ngx_test_config || ngx_inherited
        || !ngx_is_init_cycle(cycle->old_cycle)
        || wmcf == NULL || wmcf->body_dirs == NULL)
    {
        return;
    }

    bd = wmcf->body_dirs->elts;

    for (i = 0; i < wmcf->body_dirs->nelts; i++) {
        n = walrus_sweep_body_files((char *) bd[i].path->name.data,
                                    ngx_time() + 1);
        if (n > 0) {
            ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                          "walrus: removed %ul request body files left in "
                          "\"%V\"", n, &bd[i].path->name);
        }
    }
}


/* in worker 0: the periodic sweep */

ngx_int_t
ngx_walrus_node_sweep_init_process(ngx_cycle_t *cycle)
{
    time_t                        stale;
    ngx_uint_t                    i;
    ngx_walrus_sweep_t           *sw;
    ngx_walrus_body_dir_t        *bd;
    ngx_walrus_node_main_conf_t  *wmcf;

    wmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_walrus_node_module);

    if ((ngx_process != NGX_PROCESS_WORKER || ngx_worker != 0)
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    if (wmcf == NULL || wmcf->body_dirs == NULL) {
        return NGX_OK;
    }

    bd = wmcf->body_dirs->elts;
    stale = bd[0].stale;

    for (i = 1; i < wmcf->body_dirs->nelts; i++) {
        stale = ngx_min(stale, bd[i].stale);
    }

    ngx_walrus_sweep_task = ngx_thread_task_alloc(cycle->pool,
                                                  sizeof(ngx_walrus_sweep_t));
    if (ngx_walrus_sweep_task == NULL) {
        /* no reason to stop the worker: only the sweep is lost */
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "walrus: no memory for the sweep of request body "
                      "files");
        return NGX_OK;
    }

    sw = ngx_walrus_sweep_task->ctx;
    sw->dirs = wmcf->body_dirs;

    ngx_walrus_sweep_task->handler = ngx_walrus_sweep_thread;
    ngx_walrus_sweep_task->event.handler = ngx_walrus_sweep_done;
    ngx_walrus_sweep_task->event.data = sw;
    ngx_walrus_sweep_task->event.log = cycle->log;

    /* cancelable: a worker that shuts down does not wait for it */
    ngx_walrus_sweep_event.handler = ngx_walrus_sweep_timer;
    ngx_walrus_sweep_event.data = bd[0].thread_pool;
    ngx_walrus_sweep_event.log = cycle->log;
    ngx_walrus_sweep_event.cancelable = 1;

    ngx_walrus_sweep_interval = (ngx_msec_t) ngx_max(stale * 100, 1000);
    ngx_add_timer(&ngx_walrus_sweep_event, ngx_walrus_sweep_interval);

    return NGX_OK;
}


static void
ngx_walrus_sweep_timer(ngx_event_t *ev)
{
    ngx_walrus_sweep_t  *sw;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(ev, ngx_walrus_sweep_interval);

    sw = ngx_walrus_sweep_task->ctx;

    if (ngx_walrus_sweep_task->event.active) {
        return;
    }

    sw->now = ngx_time();
    sw->removed = 0;

    if (ngx_thread_task_post(ev->data, ngx_walrus_sweep_task) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "walrus: cannot post the sweep of request body files; "
                      "trying again later");
    }
}


/* runs in a thread pool: system calls only */

static void
ngx_walrus_sweep_thread(void *data, ngx_log_t *log)
{
    ngx_walrus_sweep_t  *sw = data;

    ngx_uint_t              i;
    ngx_walrus_body_dir_t  *bd;

    bd = sw->dirs->elts;

    for (i = 0; i < sw->dirs->nelts; i++) {
        sw->removed += walrus_sweep_body_files(
                           (char *) bd[i].path->name.data,
                           sw->now - bd[i].stale);
    }
}


static void
ngx_walrus_sweep_done(ngx_event_t *ev)
{
    ngx_walrus_sweep_t  *sw = ev->data;

    if (sw->removed > 0) {
        ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                      "walrus: removed %ul stale request body files",
                      sw->removed);
    }
}
