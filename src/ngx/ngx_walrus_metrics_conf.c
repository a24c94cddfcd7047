/*
 * The metrics' configuration: the directives, the names of the blocks a
 * role's locations need (the gateway's, each node it asks, each node
 * served here), and the zone, made when some location shows them.
 */

#include <ngx_walrus.h>


#define NGX_WALRUS_METRICS_ZONE_SIZE  (1024 * 1024)


static ngx_walrus_metrics_conf_t *ngx_walrus_metrics_conf(ngx_conf_t *cf);
static ngx_int_t ngx_walrus_metrics_conf_name(ngx_conf_t *cf,
    ngx_walrus_metric_scope_e scope, u_char *name, size_t len);


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
