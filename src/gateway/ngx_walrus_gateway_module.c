/*
 * The gateway role's module: its directives, configuration and worker
 * life cycle (Redis, the worker's memories, spare buffers and files).
 */

#include <ngx_walrus_gateway.h>
#include <ngx_walrus_audits.h>
#include <ngx_walrus_buffer.h>
#include <ngx_walrus_memo.h>
#include <ngx_walrus_quilt.h>
#include <ngx_walrus_redis.h>
#include <ngx_walrus_spare_file.h>
#include <walrus_sign.h>


static ngx_int_t ngx_walrus_gateway_postconfiguration(ngx_conf_t *cf);
static void *ngx_walrus_gateway_create_main_conf(ngx_conf_t *cf);
static char *ngx_walrus_gateway_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_walrus_gateway_create_loc_conf(ngx_conf_t *cf);
static char *ngx_walrus_gateway_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_walrus_gateway_init_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_walrus_gateway_filters(ngx_conf_t *cf);
static void ngx_walrus_gateway_exit_process(ngx_cycle_t *cycle);
static char *ngx_walrus_gateway(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_walrus_gateway_check(ngx_conf_t *cf,
    ngx_walrus_gateway_loc_conf_t *wlcf);
static char *ngx_walrus_gateway_key(ngx_conf_t *cf,
    ngx_walrus_gateway_loc_conf_t *wlcf);


static ngx_command_t  ngx_walrus_gateway_commands[] = {

    { ngx_string("walrus_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_walrus_redis_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("walrus_redis_password"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_main_conf_t, redis.password),
      NULL },

    { ngx_string("walrus_redis_db"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_main_conf_t, redis.db),
      NULL },

    { ngx_string("walrus_redis_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_main_conf_t, redis.prefix),
      NULL },

    { ngx_string("walrus_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_main_conf_t, redis.timeout),
      NULL },

    { ngx_string("walrus_redis_metadata_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_main_conf_t, redis.metadata_ttl),
      NULL },

    { ngx_string("walrus_redis_certificate_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_main_conf_t, redis.certificate_ttl),
      NULL },

    { ngx_string("walrus_redis_negative_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_main_conf_t, redis.negative_ttl),
      NULL },

    { ngx_string("walrus_redis_audit_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_main_conf_t, redis.audit_ttl),
      NULL },

    { ngx_string("walrus_worker_cache_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_main_conf_t, worker_cache_size),
      NULL },

    { ngx_string("walrus_worker_spare_buffers"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_main_conf_t, spare_buffers),
      NULL },

    { ngx_string("walrus_worker_spare_files"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_main_conf_t, spare_files),
      NULL },

    { ngx_string("walrus_gateway"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_walrus_gateway,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("walrus_gateway_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_loc_conf_t, gateway_key_file),
      NULL },

    { ngx_string("walrus_gateway_node_location"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_loc_conf_t, node_location),
      NULL },

    { ngx_string("walrus_gateway_temp_path"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_path_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_loc_conf_t, temp_path),
      NULL },

    { ngx_string("walrus_gateway_max_blob_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_loc_conf_t, max_blob_size),
      NULL },

    { ngx_string("walrus_gateway_inline_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_loc_conf_t, inline_size),
      NULL },

    { ngx_string("walrus_gateway_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_loc_conf_t, timeout),
      NULL },

    { ngx_string("walrus_gateway_max_uploads"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_loc_conf_t, max_uploads),
      NULL },

    { ngx_string("walrus_gateway_hedge_delay"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_loc_conf_t, hedge_delay),
      NULL },

    { ngx_string("walrus_gateway_slow_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_loc_conf_t, slow_timeout),
      NULL },

    { ngx_string("walrus_gateway_read_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_loc_conf_t, read_timeout),
      NULL },

    { ngx_string("walrus_gateway_epoch_duration"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_loc_conf_t, epoch_duration),
      NULL },

    { ngx_string("walrus_gateway_short_max_age"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_loc_conf_t, short_max_age),
      NULL },

    { ngx_string("walrus_gateway_straggler_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_gateway_loc_conf_t, straggler_timeout),
      NULL },

      ngx_null_command
};


static ngx_path_init_t  ngx_walrus_temp_path = {
    ngx_string("walrus_temp"), { 0, 0, 0 }
};


static ngx_http_module_t  ngx_walrus_gateway_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_walrus_gateway_postconfiguration,  /* postconfiguration */

    ngx_walrus_gateway_create_main_conf,   /* create main configuration */
    ngx_walrus_gateway_init_main_conf,     /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_walrus_gateway_create_loc_conf,    /* create location configuration */
    ngx_walrus_gateway_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_walrus_gateway_module = {
    NGX_MODULE_V1,
    &ngx_walrus_gateway_module_ctx,        /* module context */
    ngx_walrus_gateway_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_walrus_gateway_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_walrus_gateway_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_walrus_gateway_postconfiguration(ngx_conf_t *cf)
{
    if (ngx_walrus_gateway_filters(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_walrus_gateway_metrics_init(cf);
}


static void *
ngx_walrus_gateway_create_main_conf(ngx_conf_t *cf)
{
    ngx_walrus_gateway_main_conf_t  *wmcf;

    wmcf = ngx_pcalloc(cf->pool, sizeof(ngx_walrus_gateway_main_conf_t));
    if (wmcf == NULL) {
        return NULL;
    }

    wmcf->redis.db = NGX_CONF_UNSET;
    wmcf->redis.timeout = NGX_CONF_UNSET_MSEC;
    wmcf->redis.metadata_ttl = NGX_CONF_UNSET;
    wmcf->redis.certificate_ttl = NGX_CONF_UNSET;
    wmcf->redis.negative_ttl = NGX_CONF_UNSET;
    wmcf->redis.audit_ttl = NGX_CONF_UNSET;
    wmcf->worker_cache_size = NGX_CONF_UNSET_SIZE;
    wmcf->spare_buffers = NGX_CONF_UNSET_SIZE;
    wmcf->spare_files = NGX_CONF_UNSET;

    return wmcf;
}


static char *
ngx_walrus_gateway_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_walrus_gateway_main_conf_t  *wmcf = conf;

    ngx_conf_init_value(wmcf->redis.db, 0);
    ngx_conf_init_msec_value(wmcf->redis.timeout, 200);
    ngx_conf_init_value(wmcf->redis.metadata_ttl, 30 * 86400);
    ngx_conf_init_value(wmcf->redis.certificate_ttl, 86400);
    ngx_conf_init_value(wmcf->redis.negative_ttl, 2);
    ngx_conf_init_value(wmcf->redis.audit_ttl, 30 * 86400);
    ngx_conf_init_size_value(wmcf->worker_cache_size, 8 * 1024 * 1024);
    ngx_conf_init_size_value(wmcf->spare_buffers, 32 * 1024 * 1024);
    ngx_conf_init_value(wmcf->spare_files, 256 * 1024 * 1024);

    if (wmcf->redis.prefix.data == NULL) {
        ngx_str_set(&wmcf->redis.prefix, "walrus:");
    }

    /* cache keys are built in buffers of a fixed size */

    if (wmcf->redis.prefix.len > NGX_WALRUS_REDIS_PREFIX_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"walrus_redis_prefix\" is longer than %d bytes",
                           NGX_WALRUS_REDIS_PREFIX_MAX);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* an upload's body into a spare file; the quilt reads' subrequests */

static ngx_int_t
ngx_walrus_gateway_filters(ngx_conf_t *cf)
{
    if (ngx_walrus_body_filter_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_walrus_quilt_filter_init(cf);
}


static ngx_int_t
ngx_walrus_gateway_init_process(ngx_cycle_t *cycle)
{
    ngx_walrus_gateway_main_conf_t  *wmcf;

    wmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_walrus_gateway_module);

    if (wmcf != NULL) {
        ngx_walrus_buffer_init(wmcf->spare_buffers);
        ngx_walrus_spare_file_init(wmcf->spare_files);
    }

    return ngx_walrus_redis_init_process(cycle);
}


static void
ngx_walrus_gateway_exit_process(ngx_cycle_t *cycle)
{
    ngx_walrus_redis_exit_process(cycle);
    ngx_walrus_memo_drain();
    ngx_walrus_audits_drain();
    ngx_walrus_buffer_drain();
    ngx_walrus_spare_file_drain();
}


static void *
ngx_walrus_gateway_create_loc_conf(ngx_conf_t *cf)
{
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    wlcf = ngx_pcalloc(cf->pool, sizeof(ngx_walrus_gateway_loc_conf_t));
    if (wlcf == NULL) {
        return NULL;
    }

    wlcf->gateway = NGX_CONF_UNSET;
    wlcf->max_blob_size = NGX_CONF_UNSET;
    wlcf->inline_size = NGX_CONF_UNSET_SIZE;
    wlcf->timeout = NGX_CONF_UNSET_MSEC;
    wlcf->max_uploads = NGX_CONF_UNSET_UINT;
    wlcf->hedge_delay = NGX_CONF_UNSET_MSEC;
    wlcf->slow_timeout = NGX_CONF_UNSET_MSEC;
    wlcf->read_timeout = NGX_CONF_UNSET_MSEC;
    wlcf->straggler_timeout = NGX_CONF_UNSET_MSEC;
    wlcf->epoch_duration = NGX_CONF_UNSET;
    wlcf->short_max_age = NGX_CONF_UNSET;

    return wlcf;
}


static char *
ngx_walrus_gateway_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_walrus_gateway_loc_conf_t  *prev = parent;
    ngx_walrus_gateway_loc_conf_t  *conf = child;

    ngx_conf_merge_value(conf->gateway, prev->gateway, 0);
    ngx_conf_merge_str_value(conf->gateway_key_file, prev->gateway_key_file,
                             "");
    ngx_conf_merge_str_value(conf->node_location, prev->node_location,
                             "/_walrus_node/");
    ngx_conf_merge_off_value(conf->max_blob_size, prev->max_blob_size,
                             128 * 1024 * 1024);
    ngx_conf_merge_size_value(conf->inline_size, prev->inline_size,
                              256 * 1024);
    ngx_conf_merge_msec_value(conf->timeout, prev->timeout, 60000);
    ngx_conf_merge_uint_value(conf->max_uploads, prev->max_uploads, 64);
    ngx_conf_merge_msec_value(conf->hedge_delay, prev->hedge_delay, 300);
    ngx_conf_merge_msec_value(conf->slow_timeout, prev->slow_timeout, 10000);
    ngx_conf_merge_msec_value(conf->read_timeout, prev->read_timeout, 30000);
    ngx_conf_merge_msec_value(conf->straggler_timeout,
                              prev->straggler_timeout, 10000);

    /* the shortest epoch the operator declares (http-api.md G4) */
    ngx_conf_merge_sec_value(conf->epoch_duration, prev->epoch_duration,
                             86400);
    ngx_conf_merge_sec_value(conf->short_max_age, prev->short_max_age, 60);

    if (ngx_conf_merge_path_value(cf, &conf->temp_path, prev->temp_path,
                                  &ngx_walrus_temp_path)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (conf->gateway) {
        return ngx_walrus_gateway_check(cf, conf);
    }

    return NGX_CONF_OK;
}


static char *
ngx_walrus_gateway(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_walrus_gateway_loc_conf_t  *wlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (wlcf->gateway != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    wlcf->gateway = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_walrus_gateway_handler;

    return NGX_CONF_OK;
}


/*
 * A gateway needs the committee and an upstream{} named walrus_<node> for
 * every node, which the internal node location proxies to.
 */

static char *
ngx_walrus_gateway_check(ngx_conf_t *cf, ngx_walrus_gateway_loc_conf_t *wlcf)
{
    size_t                           len;
    ngx_uint_t                       i, k;
    walrus_committee_t              *committee;
    ngx_walrus_main_conf_t          *wmcf;
    ngx_http_upstream_srv_conf_t   **uscfp;
    ngx_http_upstream_main_conf_t   *umcf;

    wmcf = ngx_walrus_conf_committee(cf, "walrus_gateway");
    if (wmcf == NULL) {
        return NGX_CONF_ERROR;
    }

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);
    committee = wmcf->committee;

    uscfp = umcf->upstreams.elts;

    for (i = 0; i < committee->nnodes; i++) {
        len = ngx_strlen(committee->nodes[i].name);

        for (k = 0; k < umcf->upstreams.nelts; k++) {
            if ((uscfp[k]->flags & NGX_HTTP_UPSTREAM_CREATE)
                && uscfp[k]->host.len == sizeof("walrus_") - 1 + len
                && ngx_strncmp(uscfp[k]->host.data, "walrus_", 7) == 0
                && ngx_strncmp(uscfp[k]->host.data + 7,
                               committee->nodes[i].name, len) == 0)
            {
                break;
            }
        }

        if (k == umcf->upstreams.nelts) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "no \"upstream walrus_%s\" block for "
                               "committee node \"%s\"",
                               committee->nodes[i].name,
                               committee->nodes[i].name);
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_walrus_gateway_key(cf, wlcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    wlcf->thread_pool = ngx_walrus_conf_thread_pool(cf);
    if (wlcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_walrus_metrics_conf_gateway(cf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * Nodes store only blobs registered by a publisher of the committee: the
 * gateway signs its registrations with a publisher's key.
 */

static char *
ngx_walrus_gateway_key(ngx_conf_t *cf, ngx_walrus_gateway_loc_conf_t *wlcf)
{
    uint8_t                  raw[WALRUS_PUBLIC_KEY_LEN];
    ngx_walrus_main_conf_t  *wmcf;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_walrus_module);

    if (wlcf->gateway_key_file.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"walrus_gateway\" needs \"walrus_gateway_key\": "
                           "an Ed25519 private key whose public key is "
                           "listed in the committee's \"publishers\" "
                           "(make one with \"walrusctl keygen NAME\")");
        return NGX_CONF_ERROR;
    }

    if (ngx_walrus_conf_load_key(cf, &wlcf->gateway_key_file,
                                 &wlcf->gateway_key)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (walrus_key_raw_public(wlcf->gateway_key, raw) != WALRUS_OK
        || walrus_committee_find_publisher(wmcf->committee, raw) < 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the key \"%V\" is not the key of a publisher in "
                           "the committee \"%V\": add its public key to the "
                           "committee's \"publishers\"",
                           &wlcf->gateway_key_file, &wmcf->committee_file);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
