/*
 * The gateway's metrics: what it answers, what it asks the nodes and how
 * they answer, its caches.  Names, units and labels follow Prometheus'
 * conventions; every label has a fixed set of values.
 */

#include <ngx_walrus_gateway.h>


static ngx_int_t ngx_walrus_gateway_metrics_log(ngx_http_request_t *r);


static const char *const  ngx_walrus_cache_layers[] = { "worker", "redis" };
static const char *const  ngx_walrus_cache_results[] = { "hit", "miss" };
static const char *const  ngx_walrus_fetch_results[] = { "ok", "failed" };


ngx_walrus_metric_t  ngx_walrus_gateway_metrics[] = {

    { "walrus_gateway_requests_total",
      "Requests the gateway answered, by route and status code.",
      NGX_WALRUS_COUNTER, ngx_walrus_metric_routes,
      "code", ngx_walrus_metrics_codes, NGX_WALRUS_METRICS_CODES, 0 },

    { "walrus_gateway_received_bytes_total",
      "Bytes of the requests the gateway answered (headers and body), "
      "by route.",
      NGX_WALRUS_COUNTER, ngx_walrus_metric_routes, NULL, NULL, 0, 0 },

    { "walrus_gateway_sent_bytes_total",
      "Bytes of the response bodies the gateway sent, by route.",
      NGX_WALRUS_COUNTER, ngx_walrus_metric_routes, NULL, NULL, 0, 0 },

    { "walrus_gateway_hedges_total",
      "Times a read asked other nodes for slivers that were late.",
      ngx_walrus_metric_plain(NGX_WALRUS_COUNTER) },

    { "walrus_gateway_cache_lookups_total",
      "Lookups of blob metadata and certificates in the worker's memory "
      "and in Redis, by layer and result.",
      NGX_WALRUS_COUNTER,
      "layer", ngx_walrus_metric_values(ngx_walrus_cache_layers),
      "result", ngx_walrus_metric_values(ngx_walrus_cache_results), 0 },

    { "walrus_gateway_redis_errors_total",
      "Redis commands that failed or timed out, and lost connections.",
      ngx_walrus_metric_plain(NGX_WALRUS_COUNTER) },

    { "walrus_gateway_uploads_in_flight",
      "Uploads (PUT /v1/blobs) the gateway is working on.",
      ngx_walrus_metric_plain(NGX_WALRUS_PROCESS_GAUGE) },

    { NULL, NULL, ngx_walrus_metric_plain(0) }
};


ngx_walrus_metric_t  ngx_walrus_peer_metrics[] = {

    { "walrus_gateway_node_sliver_fetches_total",
      "Slivers the gateway asked a node for, by result: ok (the whole "
      "sliver came) or failed (an error, no answer, a short body).",
      NGX_WALRUS_COUNTER,
      "result", ngx_walrus_metric_values(ngx_walrus_fetch_results),
      NULL, NULL, 0, 0 },

    { "walrus_gateway_node_bad_slivers_total",
      "Slivers of a node that did not verify against the blob's metadata.",
      ngx_walrus_metric_plain(NGX_WALRUS_COUNTER) },

    { "walrus_gateway_node_latency_seconds",
      "Time from asking a node for a sliver to having it whole.",
      ngx_walrus_metric_plain(NGX_WALRUS_HISTOGRAM) },

    { NULL, NULL, ngx_walrus_metric_plain(0) }
};


ngx_int_t
ngx_walrus_gateway_metrics_init(ngx_conf_t *cf)
{
    return ngx_walrus_metrics_log_phase(cf, ngx_walrus_gateway_metrics_log);
}


static ngx_int_t
ngx_walrus_gateway_metrics_log(ngx_http_request_t *r)
{
    ngx_str_t                       none;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_gateway_loc_conf(r);

    if (ngx_walrus_metrics != NULL && wlcf->gateway) {
        ngx_str_null(&none);
        ngx_walrus_metrics_request(r, NGX_WALRUS_SCOPE_GATEWAY, &none,
                                   NGX_WALRUS_GM_REQUESTS);
    }

    return NGX_OK;
}
