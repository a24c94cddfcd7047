/*
 * A storage node's metrics: what it answers, what it stores (as its
 * keeper's last heal scan found it: no walk of the store per scrape),
 * and what its keeper did (healing, scrubbing, audits, collection).
 */

#include <ngx_walrus_node.h>


static ngx_int_t ngx_walrus_node_metrics_log(ngx_http_request_t *r);


static const char *const  ngx_walrus_blob_states[] = {
    "held", "pending", "inconsistent"
};

static const char *const  ngx_walrus_verdicts[] = {
    "passed", "missing", "fraud"
};


ngx_walrus_metric_t  ngx_walrus_node_metrics[] = {

    { "walrus_node_requests_total",
      "Requests the node answered, by route and status code.",
      NGX_WALRUS_COUNTER, ngx_walrus_metric_routes,
      "code", ngx_walrus_metrics_codes, NGX_WALRUS_METRICS_CODES, 0 },

    { "walrus_node_received_bytes_total",
      "Bytes of the requests the node answered (headers and body), by "
      "route.",
      NGX_WALRUS_COUNTER, ngx_walrus_metric_routes, NULL, NULL, 0, 0 },

    { "walrus_node_sent_bytes_total",
      "Bytes of the response bodies the node sent, by route.",
      NGX_WALRUS_COUNTER, ngx_walrus_metric_routes, NULL, NULL, 0, 0 },

    { "walrus_node_stored_slivers",
      "Sliver files of certified blobs in the store, as the keeper's last "
      "whole heal scan found them.",
      ngx_walrus_metric_plain(NGX_WALRUS_GAUGE) },

    { "walrus_node_stored_sliver_bytes",
      "Bytes of those sliver files.",
      ngx_walrus_metric_plain(NGX_WALRUS_GAUGE) },

    { "walrus_node_blobs",
      "Certified blobs of the node's record, by state: held whole, pending "
      "(slivers to heal) or inconsistent (an inconsistency proof kept).",
      NGX_WALRUS_GAUGE,
      "state", ngx_walrus_metric_values(ngx_walrus_blob_states),
      NULL, NULL, 0, 0 },

    { "walrus_node_healed_pairs_total",
      "Sliver pairs rebuilt from recovery symbols of the peers.",
      ngx_walrus_metric_plain(NGX_WALRUS_COUNTER) },

    { "walrus_node_migrated_pairs_total",
      "Sliver pairs taken from the shard's owner of the previous epoch.",
      ngx_walrus_metric_plain(NGX_WALRUS_COUNTER) },

    { "walrus_node_heal_downloaded_bytes_total",
      "Bytes downloaded from peers to heal and migrate sliver pairs.",
      ngx_walrus_metric_plain(NGX_WALRUS_COUNTER) },

    { "walrus_node_heal_failures_total",
      "Blobs the keeper could not heal and put off for a later round.",
      ngx_walrus_metric_plain(NGX_WALRUS_COUNTER) },

    { "walrus_node_scrubbed_bytes_total",
      "Bytes of stored files read again and checked by the scrubber.",
      ngx_walrus_metric_plain(NGX_WALRUS_COUNTER) },

    { "walrus_node_scrub_bad_files_total",
      "Stored files that did not verify and were set aside for healing.",
      ngx_walrus_metric_plain(NGX_WALRUS_COUNTER) },

    { "walrus_node_scrub_passes_total",
      "Passes of the scrubber over the whole record.",
      ngx_walrus_metric_plain(NGX_WALRUS_COUNTER) },

    { "walrus_node_audit_rounds_total",
      "Audit rounds this node opened (led or followed).",
      ngx_walrus_metric_plain(NGX_WALRUS_COUNTER) },

    { "walrus_node_audit_certificates_total",
      "Audit certificates of this node made from its peers' attestations.",
      ngx_walrus_metric_plain(NGX_WALRUS_COUNTER) },

    { "walrus_node_audit_answers_total",
      "Peers' audit answers this node checked, by verdict: passed "
      "(attested), missing (blobs not held) or fraud (a fraud proof kept).",
      NGX_WALRUS_COUNTER,
      "verdict", ngx_walrus_metric_values(ngx_walrus_verdicts),
      NULL, NULL, 0, 0 },

    { "walrus_node_gc_reclaimed_blobs_total",
      "Expired or deleted blobs whose files the collector removed.",
      ngx_walrus_metric_plain(NGX_WALRUS_COUNTER) },

    { "walrus_node_gc_passes_total",
      "Passes of the collector over the whole record.",
      ngx_walrus_metric_plain(NGX_WALRUS_COUNTER) },

    { "walrus_node_upload_waits_expired_total",
      "Sliver uploads answered 429 after waiting client_body_timeout for "
      "the worker's upload buffers.",
      ngx_walrus_metric_plain(NGX_WALRUS_COUNTER) },

    { "walrus_node_upload_buffer_bytes",
      "Memory the sliver uploads of the workers hold for their batches "
      "(walrus_node_upload_buffers each), all nodes served here.",
      ngx_walrus_metric_plain(NGX_WALRUS_PROCESS_GAUGE) },

    { "walrus_node_uploads_waiting",
      "Sliver uploads waiting for the workers' upload buffers, all nodes "
      "served here.",
      ngx_walrus_metric_plain(NGX_WALRUS_PROCESS_GAUGE) },

    { NULL, NULL, ngx_walrus_metric_plain(0) }
};


ngx_int_t
ngx_walrus_node_metrics_init(ngx_conf_t *cf)
{
    return ngx_walrus_metrics_log_phase(cf, ngx_walrus_node_metrics_log);
}


static ngx_int_t
ngx_walrus_node_metrics_log(ngx_http_request_t *r)
{
    ngx_walrus_node_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_node_loc_conf(r);

    if (ngx_walrus_metrics != NULL && wlcf->node) {
        ngx_walrus_metrics_request(r, NGX_WALRUS_SCOPE_NODE,
                                   &wlcf->node_name, NGX_WALRUS_NM_REQUESTS);
    }

    return NGX_OK;
}
