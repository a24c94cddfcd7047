/*
 * Storage node confirmations: a node signs that it holds a blob (its
 * metadata and every sliver pair of its shards, verified) for the
 * current epoch, or for an earlier one a gateway asks for.
 */

#include <ngx_walrus_node.h>
#include <walrus_base64.h>
#include <walrus_sign.h>
#include <walrus_store.h>


#define NGX_WALRUS_CONFIRM_JSON                                              \
    "{\"signed\":{\"serializedMessage\":\"%s\",\"signature\":\"%s\","        \
    "\"node\":\"%V\",\"nodeIndex\":%i,\"epoch\":%uD,\"blobId\":\"%s\"}}"

#define NGX_WALRUS_SIG_TEXT_LEN  walrus_base64url_encoded_len(WALRUS_SIG_LEN)
#define NGX_WALRUS_MSG_TEXT_LEN                                              \
    walrus_base64url_encoded_len(WALRUS_CONFIRM_MSG_LEN)


static ngx_int_t ngx_walrus_confirm_epoch(ngx_http_request_t *r,
    ngx_int_t *answer);


/*
 * Signs only when the metadata and every pair of this node are stored and
 * stamped as verified since they were last written; files whose stamp is
 * gone are verified again first, in the thread pool.
 */

ngx_int_t
ngx_walrus_node_confirm(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    char                    name[32];
    unsigned                i, axis;
    ngx_int_t               state, rc;
    ngx_uint_t             *pairs, verify;
    walrus_node_t          *node;
    walrus_committee_t     *c;
    ngx_walrus_node_ctx_t  *ctx;

    /* NGX_DECLINED: the epoch asked for was refused, rc is the answer */

    if (ngx_walrus_confirm_epoch(r, &rc) != NGX_OK) {
        return rc;
    }

    ctx = ngx_walrus_node_ctx(r);
    c = ctx->confirm;
    node = &c->nodes[ctx->confirm_node];

    state = ngx_walrus_node_state(r, rt, "metadata");

    if (state == -1) {
        return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                     NGX_WALRUS_DOMAIN_NODE,
                                     "METADATA_NOT_FOUND",
                                     "this node holds no metadata for blob "
                                     "%s", rt->id_text);
    }

    verify = (state == 0);

    pairs = ngx_palloc(r->pool, node->nshards * sizeof(ngx_uint_t));
    if (pairs == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < node->nshards; i++) {
        pairs[i] = walrus_shard_to_pair(&c->params, rt->blob_id,
                                        node->shards[i]);

        for (axis = 0; axis < 2; axis++) {
            walrus_store_sliver_name(name, sizeof(name), pairs[i], axis);

            state = ngx_walrus_node_state(r, rt, name);

            if (state == -1) {
                return ngx_walrus_send_error(r, NGX_HTTP_CONFLICT,
                                             NGX_WALRUS_DOMAIN_NODE,
                                             "SLIVERS_MISSING",
                                             "sliver %s of blob %s is not "
                                             "stored yet", name, rt->id_text);
            }

            verify = verify || state == 0;
        }
    }

    if (verify) {
        return ngx_walrus_node_verify(r, rt, pairs, node->nshards);
    }

    return ngx_walrus_node_sign(r, rt);
}


/*
 * The committee a confirmation is of: the current one, or with
 * ?epoch=E an earlier epoch of the history this node was a member of
 * with the same key.  A gateway asks for its own epoch, so that a
 * gateway still on the previous epoch, or an upload it began before its
 * reload, is confirmed in the epoch it uploaded for (its certificate of
 * that epoch stays valid; the shards that moved since are migrated from
 * the nodes it uploaded to, docs/protocol.md 18.6).  A later epoch than
 * this node's is refused: the node, not the gateway, is behind.
 */

static ngx_int_t
ngx_walrus_confirm_epoch(ngx_http_request_t *r, ngx_int_t *answer)
{
    int                          idx;
    ngx_int_t                    epoch;
    ngx_str_t                    value;
    walrus_committee_t          *c;
    ngx_walrus_node_ctx_t       *ctx;
    ngx_walrus_main_conf_t      *wmcf;
    ngx_walrus_node_loc_conf_t  *wlcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);
    wlcf = ngx_walrus_node_loc_conf(r);
    ctx = ngx_walrus_node_ctx(r);

    ctx->confirm = wmcf->committee;
    ctx->confirm_node = wlcf->node_index;

    if (ngx_http_arg(r, (u_char *) "epoch", 5, &value) != NGX_OK) {
        return NGX_OK;
    }

    epoch = ngx_atoi(value.data, value.len);

    if (epoch == NGX_ERROR || epoch > (ngx_int_t) 0xffffffff) {
        *answer = ngx_walrus_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        NGX_WALRUS_DOMAIN_NODE, "INVALID_EPOCH",
                                        "epoch must be a number");
        return NGX_DECLINED;
    }

    if ((uint32_t) epoch == wmcf->committee->epoch) {
        return NGX_OK;
    }

    c = (walrus_committee_t *)
        walrus_history_committee(wmcf->history, (uint32_t) epoch);

    if (c == NULL) {
        *answer = ngx_walrus_send_error(r, NGX_HTTP_CONFLICT,
                                        NGX_WALRUS_DOMAIN_NODE, "UNKNOWN_EPOCH",
                                        "epoch %i is not in this node's "
                                        "committee history (epochs %uD to "
                                        "%uD)", epoch, wmcf->history->first,
                                        wmcf->history->current);
        return NGX_DECLINED;
    }

    idx = walrus_committee_find(c, (char *) wlcf->node_name.data);

    if (idx < 0 || EVP_PKEY_eq(wlcf->key, c->nodes[idx].public_key) != 1) {
        *answer = ngx_walrus_send_error(r, NGX_HTTP_CONFLICT,
                                        NGX_WALRUS_DOMAIN_NODE,
                                        "NOT_IN_EPOCH",
                                        "node %V with this key is not in the "
                                        "committee of epoch %i",
                                        &wlcf->node_name, epoch);
        return NGX_DECLINED;
    }

    ctx->confirm = c;
    ctx->confirm_node = idx;

    return NGX_OK;
}


ngx_int_t
ngx_walrus_node_sign(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    char                         sig_text[NGX_WALRUS_SIG_TEXT_LEN + 1];
    char                         msg_text[NGX_WALRUS_MSG_TEXT_LEN + 1];
    u_char                      *p;
    uint8_t                      sig[WALRUS_SIG_LEN];
    uint8_t                      msg[WALRUS_CONFIRM_MSG_LEN];
    ngx_str_t                    data;
    walrus_committee_t          *c;
    ngx_walrus_node_ctx_t       *ctx;
    ngx_walrus_node_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_node_loc_conf(r);
    ctx = ngx_walrus_node_ctx(r);
    c = ctx->confirm;

    walrus_confirmation_message(c->epoch, rt->blob_id, msg);

    if (walrus_confirmation_sign(wlcf->key, c->epoch, rt->blob_id, sig)
        != WALRUS_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "walrus: signing a confirmation failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sig_text[walrus_base64url_encode(sig, sizeof(sig), sig_text)] = '\0';
    msg_text[walrus_base64url_encode(msg, sizeof(msg), msg_text)] = '\0';

    data.data = ngx_pnalloc(r->pool, sizeof(NGX_WALRUS_CONFIRM_JSON)
                                     + NGX_WALRUS_MSG_TEXT_LEN
                                     + NGX_WALRUS_SIG_TEXT_LEN
                                     + wlcf->node_name.len + NGX_INT_T_LEN
                                     + NGX_INT32_LEN
                                     + WALRUS_BLOB_ID_TEXT_LEN);
    if (data.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(data.data, NGX_WALRUS_CONFIRM_JSON, msg_text, sig_text,
                    &wlcf->node_name, ctx->confirm_node, c->epoch,
                    rt->id_text);
    data.len = p - data.data;

    return ngx_walrus_send_success(r, NGX_HTTP_OK, &data);
}
