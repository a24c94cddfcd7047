/*
 * The storage node role's module: its directives, configuration and the
 * sweep of leftover request body files at start and in worker 0.
 */

#include <ngx_walrus_node_keeper.h>
#include <walrus_sign.h>


static void *ngx_walrus_node_create_main_conf(ngx_conf_t *cf);
static void *ngx_walrus_node_create_loc_conf(ngx_conf_t *cf);
static char *ngx_walrus_node_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_walrus_node_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_walrus_node_init_process(ngx_cycle_t *cycle);
static void ngx_walrus_node_exit_process(ngx_cycle_t *cycle);
static char *ngx_walrus_node(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_walrus_node_check(ngx_conf_t *cf,
    ngx_walrus_node_loc_conf_t *wlcf);


static ngx_command_t  ngx_walrus_node_commands[] = {

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
      offsetof(ngx_walrus_node_loc_conf_t, node_name),
      NULL },

    { ngx_string("walrus_node_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_node_loc_conf_t, key_file),
      NULL },

    { ngx_string("walrus_node_store"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_node_loc_conf_t, store),
      NULL },

    { ngx_string("walrus_node_min_free_space"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_node_loc_conf_t, min_free_space),
      NULL },

    { ngx_string("walrus_node_direct_io"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_node_loc_conf_t, direct_io),
      NULL },

    { ngx_string("walrus_node_upload_buffers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_node_loc_conf_t, upload_buffers),
      NULL },

    { ngx_string("walrus_node_stale_body_time"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_node_loc_conf_t, stale_body_time),
      NULL },

    { ngx_string("walrus_node_keeper"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_node_loc_conf_t, keeper),
      NULL },

    { ngx_string("walrus_node_keeper_interval"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_node_loc_conf_t, keeper_interval),
      NULL },

    { ngx_string("walrus_node_keeper_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_node_loc_conf_t, keeper_timeout),
      NULL },

    { ngx_string("walrus_node_scrub_rate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_node_loc_conf_t, scrub_rate),
      NULL },

    { ngx_string("walrus_node_heal_rate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_node_loc_conf_t, heal_rate),
      NULL },

    { ngx_string("walrus_node_gc_rate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_node_loc_conf_t, gc_rate),
      NULL },

    { ngx_string("walrus_node_audit_interval"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_node_loc_conf_t, audit_interval),
      NULL },

    { ngx_string("walrus_node_client_cert"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_node_loc_conf_t, client_cert),
      NULL },

    { ngx_string("walrus_node_peer_location"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_node_loc_conf_t, peer_location),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_walrus_node_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_walrus_node_metrics_init,          /* postconfiguration */

    ngx_walrus_node_create_main_conf,      /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_walrus_node_create_loc_conf,       /* create location configuration */
    ngx_walrus_node_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_walrus_node_module = {
    NGX_MODULE_V1,
    &ngx_walrus_node_module_ctx,           /* module context */
    ngx_walrus_node_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_walrus_node_init_module,           /* init module */
    ngx_walrus_node_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_walrus_node_exit_process,          /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_walrus_node_create_main_conf(ngx_conf_t *cf)
{
    return  ngx_pcalloc(cf->pool, sizeof(ngx_walrus_node_main_conf_t));
}


static ngx_int_t
ngx_walrus_node_init_module(ngx_cycle_t *cycle)
{
    ngx_walrus_node_sweep_start(cycle);

    return NGX_OK;
}


static ngx_int_t
ngx_walrus_node_init_process(ngx_cycle_t *cycle)
{
    if (ngx_walrus_node_sweep_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_walrus_node_audit_init_process();

    return ngx_walrus_keeper_init_process(cycle);
}


static void
ngx_walrus_node_exit_process(ngx_cycle_t *cycle)
{
    ngx_walrus_keeper_exit_process(cycle);
}


static void *
ngx_walrus_node_create_loc_conf(ngx_conf_t *cf)
{
    ngx_walrus_node_loc_conf_t  *wlcf;

    wlcf = ngx_pcalloc(cf->pool, sizeof(ngx_walrus_node_loc_conf_t));
    if (wlcf == NULL) {
        return NULL;
    }

    wlcf->node = NGX_CONF_UNSET;
    wlcf->node_index = NGX_CONF_UNSET;
    wlcf->min_free_space = NGX_CONF_UNSET;
    wlcf->direct_io = NGX_CONF_UNSET;
    wlcf->upload_buffers = NGX_CONF_UNSET_SIZE;
    wlcf->stale_body_time = NGX_CONF_UNSET;
    wlcf->keeper = NGX_CONF_UNSET;
    wlcf->keeper_interval = NGX_CONF_UNSET_MSEC;
    wlcf->keeper_timeout = NGX_CONF_UNSET_MSEC;
    wlcf->scrub_rate = NGX_CONF_UNSET_SIZE;
    wlcf->heal_rate = NGX_CONF_UNSET_SIZE;
    wlcf->gc_rate = NGX_CONF_UNSET;
    wlcf->audit_interval = NGX_CONF_UNSET_MSEC;
    wlcf->client_cert = NGX_CONF_UNSET;
    wlcf->client_verify = NGX_CONF_UNSET;

    return wlcf;
}


static char *
ngx_walrus_node_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_walrus_node_loc_conf_t  *prev = parent;
    ngx_walrus_node_loc_conf_t  *conf = child;

    ngx_conf_merge_value(conf->node, prev->node, 0);
    ngx_conf_merge_str_value(conf->node_name, prev->node_name, "");
    ngx_conf_merge_str_value(conf->store, prev->store, "");
    ngx_conf_merge_str_value(conf->key_file, prev->key_file, "");
    ngx_conf_merge_off_value(conf->min_free_space, prev->min_free_space,
                             256 * 1024 * 1024);
    ngx_conf_merge_value(conf->direct_io, prev->direct_io, 1);
    ngx_conf_merge_size_value(conf->upload_buffers, prev->upload_buffers,
                              64 * 1024 * 1024);
    ngx_conf_merge_sec_value(conf->stale_body_time, prev->stale_body_time,
                             3600);
    ngx_conf_merge_value(conf->keeper, prev->keeper, 1);
    ngx_conf_merge_msec_value(conf->keeper_interval, prev->keeper_interval,
                              5000);
    ngx_conf_merge_msec_value(conf->keeper_timeout, prev->keeper_timeout,
                              300000);
    ngx_conf_merge_str_value(conf->peer_location, prev->peer_location,
                             "/_walrus_node/");
    ngx_conf_merge_size_value(conf->scrub_rate, prev->scrub_rate,
                              8 * 1024 * 1024);

    /* recovery bytes a second a healing node fetches; 0: no limit */
    ngx_conf_merge_size_value(conf->heal_rate, prev->heal_rate,
                              100 * 1024 * 1024);

    /* expired blobs reclaimed a second; 0 turns the collection off */
    ngx_conf_merge_value(conf->gc_rate, prev->gc_rate, 20);

    /* 0 turns the audit rounds off (answers are still given) */
    ngx_conf_merge_msec_value(conf->audit_interval, prev->audit_interval,
                              600000);

    ngx_conf_merge_value(conf->client_cert, prev->client_cert, 0);

    if (conf->node && conf->client_cert
        && ngx_walrus_node_client_conf(cf, conf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (conf->node) {
        return ngx_walrus_node_check(cf, conf);
    }

    return NGX_CONF_OK;
}


static char *
ngx_walrus_node(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_walrus_node_loc_conf_t  *wlcf = conf;

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
ngx_walrus_node_check(ngx_conf_t *cf, ngx_walrus_node_loc_conf_t *wlcf)
{
    int                      idx;
    ngx_file_info_t          fi;
    walrus_committee_t      *committee;
    ngx_walrus_main_conf_t  *wmcf;

    wmcf = ngx_walrus_conf_committee(cf, "walrus_node");
    if (wmcf == NULL) {
        return NGX_CONF_ERROR;
    }

    committee = wmcf->committee;

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

    if (ngx_walrus_conf_load_key(cf, &wlcf->key_file, &wlcf->key)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
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

    if (committee->npublishers == 0) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "the committee \"%V\" lists no publishers: node "
                           "\"%V\" will refuse every upload",
                           &wmcf->committee_file, &wlcf->node_name);
    }

    if (ngx_file_info(wlcf->store.data, &fi) == NGX_FILE_ERROR
        || !ngx_is_dir(&fi))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "store \"%V\" is not a directory", &wlcf->store);
        return NGX_CONF_ERROR;
    }

    wlcf->thread_pool = ngx_walrus_conf_thread_pool(cf);
    if (wlcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_walrus_node_body_dir(cf, wlcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_walrus_keeper_add(cf, wlcf) != NGX_OK
        || ngx_walrus_metrics_conf_node(cf, &wlcf->node_name) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
