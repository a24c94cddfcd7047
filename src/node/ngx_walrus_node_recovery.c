/*
 * GET /v1/blobs/{id}/recovery/{pair}?segments=A-B&axes=primary|secondary|both
 * answers the recovery symbols of every sliver pair this node holds
 * (docs/protocol.md section 11) for a node rebuilding pair {pair}.  The
 * answer is built in the thread pool into one buffer of at most
 * WALRUS_RECOVERY_MAX_ANSWER bytes, with a few answers per worker at a
 * time.  Building a symbol's proof extends the node's sliver and so
 * yields its root: a sliver that does not match the metadata is set
 * aside as "<name>.bad", as before a confirmation, and its pair left out
 * of the answer rather than sent with symbols known to be bad.
 */

#include <ngx_walrus_node_recovery.h>
#include <ngx_walrus_node_audit_serve.h>


/* answers a worker builds or sends at a time, each up to 64 MiB */
#define NGX_WALRUS_RECOVERY_ACTIVE  4


static ngx_int_t ngx_walrus_recovery_args(ngx_http_request_t *r,
    ngx_walrus_recovery_t *t);
static void ngx_walrus_recovery_cleanup(void *data);
static void ngx_walrus_recovery_done(ngx_http_request_t *r);


/* answers being built or sent by this worker */
static ngx_uint_t  ngx_walrus_recovery_active;


ngx_int_t
ngx_walrus_node_recovery(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    unsigned                     i, j, pair;
    walrus_node_t               *node;
    ngx_pool_cleanup_t          *cln;
    walrus_committee_t          *c;
    ngx_walrus_recovery_t       *t;
    ngx_walrus_node_loc_conf_t  *wlcf;
    ngx_walrus_main_conf_t      *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);
    wlcf = ngx_walrus_node_loc_conf(r);
    c = wmcf->committee;

    if (rt->pair >= c->params.n) {
        return ngx_walrus_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     NGX_WALRUS_DOMAIN_NODE, "INVALID_PAIR",
                                     "pair %ui is not below n = %ud",
                                     rt->pair, c->params.n);
    }

    t = ngx_pcalloc(r->pool, sizeof(ngx_walrus_recovery_t));

    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->route = *rt;
    t->n = c->params.n;

    if (ngx_walrus_recovery_args(r, t) != NGX_OK) {
        return ngx_walrus_node_send_fail(r, &t->res);
    }

    if (ngx_walrus_recovery_active >= NGX_WALRUS_RECOVERY_ACTIVE) {
        return ngx_walrus_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                     NGX_WALRUS_DOMAIN_NODE, "OVERLOADED",
                                     "the node is busy, retry later");
    }

    if (walrus_store_dir(t->dir, (char *) wlcf->store.data,
                         wlcf->store.len, rt->id_text)
        != 0
        || ngx_walrus_audit_path(t->locks, &wlcf->store, "%s",
                                 NGX_WALRUS_AUDIT_LOCKS)
           != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* this node's pairs of the blob, ascending as the answer lists them */

    node = &c->nodes[wlcf->node_index];

    for (i = 0; i < node->nshards; i++) {
        pair = walrus_shard_to_pair(&c->params, rt->blob_id,
                                    node->shards[i]);

        for (j = t->npairs; j > 0 && t->pairs[j - 1] > pair; j--) {
            t->pairs[j] = t->pairs[j - 1];
        }

        t->pairs[j] = pair;
        t->npairs++;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_walrus_recovery_cleanup;
    cln->data = t;
    ngx_walrus_recovery_active++;

    ngx_walrus_node_ctx(r)->recovery = t;

    return ngx_walrus_node_post(r, t, ngx_walrus_recovery_thread,
                                ngx_walrus_recovery_done, &t->guard);
}


/*
 * segments=A-B (or A), axes=primary|secondary|both; the range is checked
 * against the metadata in the thread
 */

static ngx_int_t
ngx_walrus_recovery_args(ngx_http_request_t *r, ngx_walrus_recovery_t *t)
{
    u_char     *dash;
    ngx_int_t   first, last;
    ngx_str_t   value;

    t->axes = WALRUS_RECOVERY_BOTH;
    t->all = 1;

    if (ngx_http_arg(r, (u_char *) "axes", 4, &value) == NGX_OK) {
        if (value.len == 7 && ngx_strncmp(value.data, "primary", 7) == 0) {
            t->axes = WALRUS_RECOVERY_PRIMARY;

        } else if (value.len == 9
                   && ngx_strncmp(value.data, "secondary", 9) == 0)
        {
            t->axes = WALRUS_RECOVERY_SECONDARY;

        } else if (value.len != 4 || ngx_strncmp(value.data, "both", 4) != 0)
        {
            ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST,
                                  "INVALID_AXES", "axes must be primary, "
                                  "secondary or both");
            return NGX_DECLINED;
        }
    }

    if (ngx_http_arg(r, (u_char *) "segments", 8, &value) != NGX_OK) {
        return NGX_OK;
    }

    dash = ngx_strlchr(value.data, value.data + value.len, '-');

    if (dash == NULL) {
        first = ngx_atoi(value.data, value.len);
        last = first;

    } else {
        first = ngx_atoi(value.data, dash - value.data);
        last = ngx_atoi(dash + 1, value.data + value.len - dash - 1);
    }

    if (first == NGX_ERROR || last == NGX_ERROR || first > last
        || value.len > 2 * NGX_INT32_LEN)
    {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST,
                              "INVALID_RANGE", "segments must be FIRST-LAST "
                              "or one segment, in decimal, FIRST <= LAST");
        return NGX_DECLINED;
    }

    t->all = 0;
    t->first = first;
    t->last = last;

    return NGX_OK;
}


static void
ngx_walrus_recovery_cleanup(void *data)
{
    ngx_walrus_recovery_t  *t = data;

    free(t->answer);
    t->answer = NULL;
    ngx_walrus_recovery_active--;
}


static void
ngx_walrus_recovery_done(ngx_http_request_t *r)
{
    unsigned                i;
    ngx_walrus_recovery_t  *t;

    t = ngx_walrus_node_ctx(r)->recovery;

    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_walrus_thread_unguard(&t->guard);

    if (t->metadata_set_aside) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "walrus: the stored metadata of blob %s does not "
                      "verify, renamed to metadata.bad", t->route.id_text);
    }

    for (i = 0; i < t->npairs; i++) {
        if (t->rotten[i] == 0) {
            continue;
        }

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "walrus: the stored %s%s%s of pair %ud of blob %s "
                      "do%s not verify, set aside as .bad and left out of "
                      "a recovery answer",
                      t->rotten[i] & NGX_WALRUS_ROTTEN_PRIMARY
                      ? "primary sliver" : "",
                      t->rotten[i] == (NGX_WALRUS_ROTTEN_PRIMARY
                                       | NGX_WALRUS_ROTTEN_SECONDARY)
                      ? " and " : "",
                      t->rotten[i] & NGX_WALRUS_ROTTEN_SECONDARY
                      ? "secondary sliver" : "",
                      t->pairs[i], t->route.id_text,
                      t->rotten[i] == (NGX_WALRUS_ROTTEN_PRIMARY
                                       | NGX_WALRUS_ROTTEN_SECONDARY)
                      ? "" : "es");
    }

    if (t->res.status >= NGX_HTTP_BAD_REQUEST) {
        ngx_http_finalize_request(r, ngx_walrus_node_send_fail(r, &t->res));
        return;
    }

    /* the cleanup frees the answer with the request, once it is sent */

    ngx_http_finalize_request(r, ngx_walrus_node_send_bytes(r, t->answer,
                                                            t->len));
}
