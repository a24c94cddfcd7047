/*
 * Publisher authentication's module: its directives, the keys read at
 * configuration, and the worker's token IDs freed at its exit.
 */

#include <ngx_walrus_auth.h>


static void *ngx_walrus_auth_create_main_conf(ngx_conf_t *cf);
static char *ngx_walrus_auth_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_walrus_auth_create_loc_conf(ngx_conf_t *cf);
static char *ngx_walrus_auth_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_walrus_auth_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_walrus_auth_key_cleanup(void *data);
static void ngx_walrus_auth_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_walrus_auth_commands[] = {

    { ngx_string("walrus_gateway_jwt"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_auth_loc_conf_t, enable),
      NULL },

    { ngx_string("walrus_gateway_jwt_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_walrus_auth_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("walrus_gateway_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_auth_loc_conf_t, leeway),
      NULL },

    { ngx_string("walrus_gateway_jwt_max_lifetime"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_walrus_auth_loc_conf_t, max_lifetime),
      NULL },

    { ngx_string("walrus_gateway_jwt_replay_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_walrus_auth_main_conf_t, replay_cache),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_walrus_auth_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_walrus_auth_create_main_conf,      /* create main configuration */
    ngx_walrus_auth_init_main_conf,        /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_walrus_auth_create_loc_conf,       /* create location configuration */
    ngx_walrus_auth_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_walrus_auth_module = {
    NGX_MODULE_V1,
    &ngx_walrus_auth_module_ctx,           /* module context */
    ngx_walrus_auth_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_walrus_auth_exit_process,          /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_walrus_auth_create_main_conf(ngx_conf_t *cf)
{
    ngx_walrus_auth_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_walrus_auth_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    amcf->replay_cache = NGX_CONF_UNSET_UINT;

    return amcf;
}


static char *
ngx_walrus_auth_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_walrus_auth_main_conf_t  *amcf = conf;

    /* as many as a Walrus publisher keeps */
    ngx_conf_init_uint_value(amcf->replay_cache, 10000);

    return NGX_CONF_OK;
}


static void *
ngx_walrus_auth_create_loc_conf(ngx_conf_t *cf)
{
    ngx_walrus_auth_loc_conf_t  *alcf;

    alcf = ngx_pcalloc(cf->pool, sizeof(ngx_walrus_auth_loc_conf_t));
    if (alcf == NULL) {
        return NULL;
    }

    alcf->enable = NGX_CONF_UNSET;
    alcf->leeway = NGX_CONF_UNSET;
    alcf->max_lifetime = NGX_CONF_UNSET;

    return alcf;
}


static char *
ngx_walrus_auth_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_walrus_auth_loc_conf_t  *prev = parent;
    ngx_walrus_auth_loc_conf_t  *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    /* clocks of token issuers and gateways differ; as jsonwebtoken */
    ngx_conf_merge_sec_value(conf->leeway, prev->leeway, 60);
    ngx_conf_merge_sec_value(conf->max_lifetime, prev->max_lifetime, 0);

    /* keys set here replace the inherited ones, as nginx's arrays do */
    if (conf->keys == NULL) {
        conf->keys = prev->keys;
    }

    if (conf->enable && conf->keys == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"walrus_gateway_jwt on\" needs "
                           "\"walrus_gateway_jwt_key ALGORITHM FILE\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * walrus_gateway_jwt_key HS256 file | EdDSA file.pem | RS256 ...; given
 * several times, tokens signed with any of the keys pass (rotation)
 */

static char *
ngx_walrus_auth_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_walrus_auth_loc_conf_t  *alcf = conf;

    int                  rc;
    ngx_str_t           *value, file;
    const char          *why;
    walrus_jwt_key_t    *key, **kp;
    ngx_pool_cleanup_t  *cln;

    if (alcf->keys == NULL) {
        alcf->keys = ngx_array_create(cf->pool, 2,
                                      sizeof(walrus_jwt_key_t *));
        if (alcf->keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (alcf->keys->nelts == NGX_WALRUS_AUTH_MAX_KEYS) {
        return "is given more than 8 times here";
    }

    value = cf->args->elts;
    file = value[2];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    rc = walrus_jwt_key_load((char *) value[1].data, (char *) file.data,
                             &key, &why);

    if (rc != WALRUS_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf,
                           rc == WALRUS_EIO ? ngx_errno : 0,
                           "cannot load the %V key \"%V\": %s",
                           &value[1], &file,
                           rc == WALRUS_EIO ? "cannot read it" : why);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        walrus_jwt_key_free(key);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_walrus_auth_key_cleanup;
    cln->data = key;

    kp = ngx_array_push(alcf->keys);
    if (kp == NULL) {
        return NGX_CONF_ERROR;
    }

    *kp = key;

    return NGX_CONF_OK;
}


static void
ngx_walrus_auth_key_cleanup(void *data)
{
    walrus_jwt_key_free(data);
}


static void
ngx_walrus_auth_exit_process(ngx_cycle_t *cycle)
{
    ngx_walrus_auth_replay_drain();
}
