/*
 * What the nodes answer an upload, checked before it counts: a node's
 * confirmation (its signature over the gateway's epoch and the blob ID),
 * and a certificate a node already holds for the blob.
 */

#include <ngx_walrus_publish.h>
#include <walrus_base64.h>
#include <walrus_sign.h>
#include <jansson.h>


/*
 * A node's confirmation counts only when its signature verifies.
 * NGX_DECLINED: the node says it signed for an earlier epoch.
 */

ngx_int_t
ngx_walrus_publish_confirmation(ngx_walrus_publish_t *ctx,
    ngx_walrus_call_t *call)
{
    size_t          len;
    json_t         *root, *sig, *epoch;
    uint8_t         raw[WALRUS_SIG_LEN + 3];
    ngx_int_t       rc;
    const char     *text;
    json_error_t    err;
    walrus_node_t  *wn;

    wn = &ctx->committee->nodes[call->node];
    rc = NGX_ERROR;

    if (call->truncated) {
        return NGX_ERROR;
    }

    root = json_loadb((char *) call->body, call->body_len, 0, &err);
    if (root == NULL) {
        goto invalid;
    }

    sig = json_object_get(json_object_get(json_object_get(
              json_object_get(root, "success"), "data"), "signed"),
              "signature");
    text = json_string_value(sig);
    epoch = json_object_get(json_object_get(json_object_get(
                json_object_get(root, "success"), "data"), "signed"),
                "epoch");

    /* once certified, the certificate stays as it was stored */

    if (text != NULL
        && walrus_base64url_encoded_len(WALRUS_SIG_LEN) == strlen(text)
        && walrus_base64url_decode(text, strlen(text), raw, &len) == WALRUS_OK
        && len == WALRUS_SIG_LEN
        && walrus_confirmation_verify(wn->public_key, ctx->committee->epoch,
                                      ctx->enc.blob_id, raw) == WALRUS_OK
        && (ctx->phase != NGX_WALRUS_PUB_UPLOADING
            || walrus_cert_add(&ctx->cert, (uint16_t) call->node, raw)
               == WALRUS_OK))
    {
        rc = NGX_OK;
    }

    if (rc != NGX_OK && json_is_integer(epoch)
        && json_integer_value(epoch) >= 0
        && json_integer_value(epoch) < (json_int_t) ctx->committee->epoch)
    {
        ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                      "walrus: node %s confirmed %s for epoch %d, not %uD: "
                      "asking again", wn->name, ctx->enc.id_text,
                      (int) json_integer_value(epoch),
                      ctx->committee->epoch);
        rc = NGX_DECLINED;
    }

    json_decref(root);

    if (rc != NGX_ERROR) {
        return rc;
    }

invalid:

    ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                  "walrus: node %s sent an invalid confirmation for %s",
                  wn->name, ctx->enc.id_text);

    return NGX_ERROR;
}


walrus_cert_t *
ngx_walrus_publish_existing(ngx_walrus_publish_t *ctx,
    ngx_walrus_call_t *call)
{
    ngx_int_t       rc;
    walrus_cert_t  *cert;

    if (call->truncated) {
        return NULL;
    }

    cert = ngx_palloc(ctx->request->pool, sizeof(walrus_cert_t));
    if (cert == NULL) {
        return NULL;
    }

    rc = ngx_walrus_cert_check(ctx->history, cert, call->body,
                               call->body_len, ctx->enc.blob_id);

    if (rc == NGX_DECLINED) {
        ngx_walrus_cert_unknown_epoch(ctx->request->connection->log,
                                      ctx->history, cert,
                                      ctx->committee->nodes[call->node].name,
                                      ctx->enc.id_text);
        return NULL;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "walrus: node %s sent a certificate that is not a "
                      "valid one of blob %s; dropped",
                      ctx->committee->nodes[call->node].name,
                      ctx->enc.id_text);
        return NULL;
    }

    return cert;
}
