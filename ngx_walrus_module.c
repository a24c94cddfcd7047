/*
 * Walrus gateway and storage node: the module of what both roles share
 * (the committee history, the thread pool).  The roles are modules of their own
 * in the same shared object: ngx_http_walrus_gateway_module
 * (src/gateway), ngx_http_walrus_node_module (src/node), and the filter
 * module of the gateway's requests to nodes, ngx_http_walrus_fanout_module
 * (src/ngx).
 */

#include <ngx_walrus.h>
#include <walrus_sha256.h>
#include <walrus_sign.h>
#include <openssl/evp.h>


static void *ngx_walrus_create_main_conf(ngx_conf_t *cf);
static void *ngx_walrus_create_loc_conf(ngx_conf_t *cf);
static char *ngx_walrus_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_walrus_committee(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_walrus_committee_cleanup(void *data);
static ngx_int_t ngx_walrus_postconfiguration(ngx_conf_t *cf);
static void ngx_walrus_sha256_cleanup(void *data);
static ngx_int_t ngx_walrus_init_process(ngx_cycle_t *cycle);
static void ngx_walrus_exit_process(ngx_cycle_t *cycle);
static void ngx_walrus_key_cleanup(void *data);


static ngx_command_t  ngx_walrus_commands[] = {

    { ngx_string("walrus_committee"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_walrus_committee,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("walrus_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_loc_conf_t, thread_pool_name),
      NULL },

    { ngx_string("walrus_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_walrus_metrics_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("walrus_metrics_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_walrus_metrics_zone_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_walrus_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_walrus_postconfiguration,          /* postconfiguration */

    ngx_walrus_create_main_conf,           /* create main configuration */
    NULL,                                  /* init main configuration */

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
    return ngx_pcalloc(cf->pool, sizeof(ngx_walrus_main_conf_t));
}


static void *
ngx_walrus_create_loc_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_walrus_loc_conf_t));
}


static char *
ngx_walrus_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_walrus_loc_conf_t  *prev = parent;
    ngx_walrus_loc_conf_t  *conf = child;

    ngx_conf_merge_str_value(conf->thread_pool_name, prev->thread_pool_name,
                             "default");

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

    return ngx_walrus_metrics_postconfiguration(cf);
}


static void
ngx_walrus_sha256_cleanup(void *data)
{
    walrus_sha256_cleanup();
}


/*
 * A worker maps the hashing library's code and takes its managers at
 * start: the cost is fixed per process, not per request.
 */

static ngx_int_t
ngx_walrus_init_process(ngx_cycle_t *cycle)
{
    walrus_sha256_warm_up();

    return ngx_walrus_metrics_init_process(cycle);
}


static void
ngx_walrus_exit_process(ngx_cycle_t *cycle)
{
    ngx_walrus_metrics_exit_process(cycle);
}


/*
 * The roles' modules are merged after this one (config orders them so):
 * their checks find its settings of the location merged already.
 */

ngx_thread_pool_t *
ngx_walrus_conf_thread_pool(ngx_conf_t *cf)
{
    ngx_walrus_loc_conf_t  *wlcf;

    wlcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_walrus_module);

    return ngx_thread_pool_add(cf, &wlcf->thread_pool_name);
}


ngx_walrus_main_conf_t *
ngx_walrus_conf_committee(ngx_conf_t *cf, const char *directive)
{
    ngx_walrus_main_conf_t  *wmcf;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_walrus_module);

    if (wmcf->committee == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" needs \"walrus_committee\" in the http "
                           "block", directive);
        return NULL;
    }

    return wmcf;
}


/*
 * A committee file or a directory of them, one per epoch (the committee
 * history, docs/protocol.md section 18).  It is read at configuration
 * time, so a reload picks up a new epoch's file, and a history that
 * breaks a rule fails "nginx -t" and the reload: the workers of the old
 * configuration go on with the old history.
 */

static char *
ngx_walrus_committee(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_walrus_main_conf_t  *wmcf = conf;

    char                 err[512];
    ngx_str_t           *value;
    walrus_history_t    *h;
    ngx_pool_cleanup_t  *cln;

    if (wmcf->history != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    wmcf->committee_file = value[1];

    if (ngx_conf_full_name(cf->cycle, &wmcf->committee_file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    h = ngx_pcalloc(cf->pool, sizeof(walrus_history_t));
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (h == NULL || cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_walrus_committee_cleanup;
    cln->data = h;

    if (walrus_history_load(h, (char *) wmcf->committee_file.data, err,
                            sizeof(err))
        != WALRUS_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid committee file \"%V\": %s",
                           &wmcf->committee_file, err);
        return NGX_CONF_ERROR;
    }

    wmcf->history = h;
    wmcf->committee = &h->committees[h->count - 1];

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, cf->log, 0,
                   "walrus committee history: epochs %uD to %uD from \"%V\"",
                   h->first, h->current, &wmcf->committee_file);

    return NGX_CONF_OK;
}


static void
ngx_walrus_committee_cleanup(void *data)
{
    walrus_history_free(data);
}


/*
 * A private key file, read by the master process at configuration time
 * (so it need not be readable by the worker user), once per location.
 */

char *
ngx_walrus_conf_load_key(ngx_conf_t *cf, ngx_str_t *file, EVP_PKEY **key)
{
    ngx_pool_cleanup_t  *cln;

    if (*key != NULL) {
        return NGX_CONF_OK;
    }

    if (ngx_conf_full_name(cf->cycle, file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (walrus_key_load_private((char *) file->data, key) != WALRUS_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cannot load the Ed25519 private key \"%V\"",
                           file);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_walrus_key_cleanup;
    cln->data = *key;

    return NGX_CONF_OK;
}


static void
ngx_walrus_key_cleanup(void *data)
{
    EVP_PKEY_free(data);
}
