/*
 * Walrus gateway and storage node module: directives, configuration and
 * role dispatch.
 */

#include <ngx_walrus.h>
#include <ngx_walrus_buffer.h>
#include <ngx_walrus_fanout.h>
#include <ngx_walrus_memo.h>
#include <ngx_walrus_redis.h>
#include <ngx_walrus_spare_file.h>
#include <walrus_sha256.h>
#include <walrus_sign.h>
#include <openssl/evp.h>


static void *ngx_walrus_create_main_conf(ngx_conf_t *cf);
static char *ngx_walrus_init_main_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_walrus_init_process(ngx_cycle_t *cycle);
static void ngx_walrus_exit_process(ngx_cycle_t *cycle);
static void *ngx_walrus_create_loc_conf(ngx_conf_t *cf);
static char *ngx_walrus_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_walrus_committee(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_walrus_node(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_walrus_node_check(ngx_conf_t *cf,
    ngx_walrus_loc_conf_t *wlcf);
static char *ngx_walrus_gateway(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_walrus_gateway_check(ngx_conf_t *cf,
    ngx_walrus_loc_conf_t *wlcf);
static ngx_int_t ngx_walrus_postconfiguration(ngx_conf_t *cf);
static void ngx_walrus_sha256_cleanup(void *data);
static void ngx_walrus_committee_cleanup(void *data);
static void ngx_walrus_key_cleanup(void *data);


static ngx_command_t  ngx_walrus_commands[] = {

    { ngx_string("walrus_committee"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_walrus_committee,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

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
      offsetof(ngx_walrus_main_conf_t, redis.password),
      NULL },

    { ngx_string("walrus_redis_db"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_main_conf_t, redis.db),
      NULL },

    { ngx_string("walrus_redis_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_main_conf_t, redis.prefix),
      NULL },

    { ngx_string("walrus_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_main_conf_t, redis.timeout),
      NULL },

    { ngx_string("walrus_redis_metadata_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_main_conf_t, redis.metadata_ttl),
      NULL },

    { ngx_string("walrus_redis_certificate_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_main_conf_t, redis.certificate_ttl),
      NULL },

    { ngx_string("walrus_redis_negative_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_main_conf_t, redis.negative_ttl),
      NULL },

    { ngx_string("walrus_worker_cache_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_main_conf_t, worker_cache_size),
      NULL },

    { ngx_string("walrus_worker_spare_buffers"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_main_conf_t, spare_buffers),
      NULL },

    { ngx_string("walrus_worker_spare_files"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_main_conf_t, spare_files),
      NULL },

    { ngx_string("walrus_node"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_walrus_node,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("walrus_node_name"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_loc_conf_t, node_name),
      NULL },

    { ngx_string("walrus_node_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_loc_conf_t, key_file),
      NULL },

    { ngx_string("walrus_node_store"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_loc_conf_t, store),
      NULL },

    { ngx_string("walrus_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_loc_conf_t, thread_pool_name),
      NULL },

    { ngx_string("walrus_gateway"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_walrus_gateway,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("walrus_gateway_node_location"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_loc_conf_t, node_location),
      NULL },

    { ngx_string("walrus_gateway_temp_path"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_path_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_loc_conf_t, temp_path),
      NULL },

    { ngx_string("walrus_gateway_max_blob_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_loc_conf_t, max_blob_size),
      NULL },

    { ngx_string("walrus_gateway_inline_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_loc_conf_t, inline_size),
      NULL },

    { ngx_string("walrus_gateway_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_loc_conf_t, timeout),
      NULL },

    { ngx_string("walrus_gateway_max_uploads"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_loc_conf_t, max_uploads),
      NULL },

    { ngx_string("walrus_gateway_hedge_delay"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_loc_conf_t, hedge_delay),
      NULL },

    { ngx_string("walrus_gateway_slow_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_loc_conf_t, slow_timeout),
      NULL },

    { ngx_string("walrus_gateway_read_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_loc_conf_t, read_timeout),
      NULL },

    { ngx_string("walrus_gateway_straggler_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_loc_conf_t, straggler_timeout),
      NULL },

      ngx_null_command
};


static ngx_path_init_t  ngx_walrus_temp_path = {
    ngx_string("walrus_temp"), { 0, 0, 0 }
};


static ngx_http_module_t  ngx_walrus_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_walrus_postconfiguration,          /* postconfiguration */

    ngx_walrus_create_main_conf,           /* create main configuration */
    ngx_walrus_init_main_conf,             /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_walrus_create_loc_conf,            /* create location configuration */
    ngx_walrus_merge_loc_conf              /* merge location configuration */
};


ngx_module_t  ngx_http_walrus_module = {
    NGX_MODULE_V1,
    &ngx_walrus_module_ctx,                /* module context */
    ngx_walrus_commands,                   /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_walrus_init_process,               /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_walrus_exit_process,               /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_walrus_create_main_conf(ngx_conf_t *cf)
{
    ngx_walrus_main_conf_t  *wmcf;

    wmcf = ngx_pcalloc(cf->pool, sizeof(ngx_walrus_main_conf_t));
    if (wmcf == NULL) {
        return NULL;
    }

    wmcf->redis.db = NGX_CONF_UNSET;
    wmcf->redis.timeout = NGX_CONF_UNSET_MSEC;
    wmcf->redis.metadata_ttl = NGX_CONF_UNSET;
    wmcf->redis.certificate_ttl = NGX_CONF_UNSET;
    wmcf->redis.negative_ttl = NGX_CONF_UNSET;
    wmcf->worker_cache_size = NGX_CONF_UNSET_SIZE;
    wmcf->spare_buffers = NGX_CONF_UNSET_SIZE;
    wmcf->spare_files = NGX_CONF_UNSET;

    return wmcf;
}


static char *
ngx_walrus_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_walrus_main_conf_t  *wmcf = conf;

    ngx_conf_init_value(wmcf->redis.db, 0);
    ngx_conf_init_msec_value(wmcf->redis.timeout, 200);
    ngx_conf_init_value(wmcf->redis.metadata_ttl, 30 * 86400);
    ngx_conf_init_value(wmcf->redis.certificate_ttl, 86400);
    ngx_conf_init_value(wmcf->redis.negative_ttl, 2);
    ngx_conf_init_size_value(wmcf->worker_cache_size, 8 * 1024 * 1024);
    ngx_conf_init_size_value(wmcf->spare_buffers, 32 * 1024 * 1024);
    ngx_conf_init_value(wmcf->spare_files, 256 * 1024 * 1024);

    if (wmcf->redis.prefix.data == NULL) {
        ngx_str_set(&wmcf->redis.prefix, "walrus:");
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_walrus_init_process(ngx_cycle_t *cycle)
{
    ngx_walrus_main_conf_t  *wmcf;

    wmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_walrus_module);

    if (wmcf != NULL) {
        ngx_walrus_buffer_init(wmcf->spare_buffers);
        ngx_walrus_spare_file_init(wmcf->spare_files);
    }

    return ngx_walrus_redis_init_process(cycle);
}


static void
ngx_walrus_exit_process(ngx_cycle_t *cycle)
{
    ngx_walrus_redis_exit_process(cycle);
    ngx_walrus_memo_drain();
    ngx_walrus_buffer_drain();
    ngx_walrus_spare_file_drain();
}


static void *
ngx_walrus_create_loc_conf(ngx_conf_t *cf)
{
    ngx_walrus_loc_conf_t  *wlcf;

    wlcf = ngx_pcalloc(cf->pool, sizeof(ngx_walrus_loc_conf_t));
    if (wlcf == NULL) {
        return NULL;
    }

    wlcf->node = NGX_CONF_UNSET;
    wlcf->node_index = NGX_CONF_UNSET;
    wlcf->gateway = NGX_CONF_UNSET;
    wlcf->max_blob_size = NGX_CONF_UNSET;
    wlcf->inline_size = NGX_CONF_UNSET_SIZE;
    wlcf->timeout = NGX_CONF_UNSET_MSEC;
    wlcf->max_uploads = NGX_CONF_UNSET_UINT;
    wlcf->hedge_delay = NGX_CONF_UNSET_MSEC;
    wlcf->slow_timeout = NGX_CONF_UNSET_MSEC;
    wlcf->read_timeout = NGX_CONF_UNSET_MSEC;
    wlcf->straggler_timeout = NGX_CONF_UNSET_MSEC;

    return wlcf;
}


static char *
ngx_walrus_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_walrus_loc_conf_t  *prev = parent;
    ngx_walrus_loc_conf_t  *conf = child;

    ngx_conf_merge_value(conf->node, prev->node, 0);
    ngx_conf_merge_str_value(conf->node_name, prev->node_name, "");
    ngx_conf_merge_str_value(conf->store, prev->store, "");
    ngx_conf_merge_str_value(conf->key_file, prev->key_file, "");
    ngx_conf_merge_str_value(conf->thread_pool_name, prev->thread_pool_name,
                             "default");

    ngx_conf_merge_value(conf->gateway, prev->gateway, 0);
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

    if (ngx_conf_merge_path_value(cf, &conf->temp_path, prev->temp_path,
                                  &ngx_walrus_temp_path)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (conf->node && ngx_walrus_node_check(cf, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (conf->gateway) {
        return ngx_walrus_gateway_check(cf, conf);
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_walrus_postconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t           level;
    ngx_pool_cleanup_t  *cln;

    /*
     * The hashing self-test runs once per process, here in the master
     * before the workers are forked, so that they inherit its verdict.
     * The multi-buffer managers it and the threads keep are freed with the
     * cycle, before nginx unloads the module (and the list holding them).
     */

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_walrus_sha256_cleanup;

    level = walrus_sha256_self_test() == WALRUS_ECRYPTO ? NGX_LOG_WARN
                                                         : NGX_LOG_NOTICE;

    ngx_log_error(level, cf->log, 0, "walrus: %s", walrus_sha256_engine());

    if (ngx_walrus_fanout_add_variables(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_walrus_publish_init_filter(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_walrus_fanout_init_filters(cf);
}


static void
ngx_walrus_sha256_cleanup(void *data)
{
    walrus_sha256_cleanup();
}


static char *
ngx_walrus_gateway(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_walrus_loc_conf_t  *wlcf = conf;

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
ngx_walrus_gateway_check(ngx_conf_t *cf, ngx_walrus_loc_conf_t *wlcf)
{
    size_t                           len;
    ngx_uint_t                       i, k;
    walrus_committee_t              *committee;
    ngx_walrus_main_conf_t          *wmcf;
    ngx_http_upstream_srv_conf_t   **uscfp;
    ngx_http_upstream_main_conf_t   *umcf;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_walrus_module);
    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);
    committee = wmcf->committee;

    if (committee == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"walrus_gateway\" needs \"walrus_committee\" in "
                           "the http block");
        return NGX_CONF_ERROR;
    }

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

    wlcf->thread_pool = ngx_thread_pool_add(cf, &wlcf->thread_pool_name);
    if (wlcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_walrus_committee(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_walrus_main_conf_t  *wmcf = conf;

    char                 err[256];
    ngx_str_t           *value;
    ngx_pool_cleanup_t  *cln;

    if (wmcf->committee != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    wmcf->committee_file = value[1];

    if (ngx_conf_full_name(cf->cycle, &wmcf->committee_file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    wmcf->committee = ngx_pcalloc(cf->pool, sizeof(walrus_committee_t));
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (wmcf->committee == NULL || cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_walrus_committee_cleanup;
    cln->data = wmcf->committee;

    if (walrus_committee_load(wmcf->committee,
                              (char *) wmcf->committee_file.data, err,
                              sizeof(err))
        != WALRUS_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid committee file \"%V\": %s",
                           &wmcf->committee_file, err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void
ngx_walrus_committee_cleanup(void *data)
{
    walrus_committee_free(data);
}


static char *
ngx_walrus_node(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_walrus_loc_conf_t  *wlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (wlcf->node != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    wlcf->node = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_walrus_node_handler;

    return NGX_CONF_OK;
}


/* a storage node needs the committee, its name in it, its key and store */

static char *
ngx_walrus_node_check(ngx_conf_t *cf, ngx_walrus_loc_conf_t *wlcf)
{
    int                      idx;
    ngx_file_info_t          fi;
    ngx_pool_cleanup_t      *cln;
    walrus_committee_t      *committee;
    ngx_walrus_main_conf_t  *wmcf;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_walrus_module);
    committee = wmcf->committee;

    if (committee == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"walrus_node\" needs \"walrus_committee\" in the "
                           "http block");
        return NGX_CONF_ERROR;
    }

    if (wlcf->node_name.len == 0 || wlcf->key_file.len == 0
        || wlcf->store.len == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"walrus_node\" needs \"walrus_node_name\", "
                           "\"walrus_node_key\" and \"walrus_node_store\"");
        return NGX_CONF_ERROR;
    }

    idx = walrus_committee_find(committee, (char *) wlcf->node_name.data);
    if (idx < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "node \"%V\" is not in the committee \"%V\"",
                           &wlcf->node_name, &wmcf->committee_file);
        return NGX_CONF_ERROR;
    }

    wlcf->node_index = idx;

    if (wlcf->key == NULL) {
        if (ngx_conf_full_name(cf->cycle, &wlcf->key_file, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        if (walrus_key_load_private((char *) wlcf->key_file.data, &wlcf->key)
            != WALRUS_OK)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cannot load the Ed25519 private key \"%V\"",
                               &wlcf->key_file);
            return NGX_CONF_ERROR;
        }

        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            return NGX_CONF_ERROR;
        }

        cln->handler = ngx_walrus_key_cleanup;
        cln->data = wlcf->key;
    }

    if (EVP_PKEY_eq(wlcf->key, committee->nodes[idx].public_key) != 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the key \"%V\" is not the key of node \"%V\" in "
                           "the committee", &wlcf->key_file,
                           &wlcf->node_name);
        return NGX_CONF_ERROR;
    }

    if (ngx_conf_full_name(cf->cycle, &wlcf->store, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_file_info(wlcf->store.data, &fi) == NGX_FILE_ERROR
        || !ngx_is_dir(&fi))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "store \"%V\" is not a directory", &wlcf->store);
        return NGX_CONF_ERROR;
    }

    wlcf->thread_pool = ngx_thread_pool_add(cf, &wlcf->thread_pool_name);
    if (wlcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void
ngx_walrus_key_cleanup(void *data)
{
    EVP_PKEY_free(data);
}
