/*
 * The answer to an upload, in the Walrus publisher's JSON: newlyCreated
 * or alreadyCertified, with the certificate; the cache and the worker's
 * memory of verified metadata learn the blob first, as it is read soon.
 */

#include <ngx_walrus_publish.h>
#include <ngx_walrus_cache.h>
#include <ngx_walrus_memo.h>


#define NGX_WALRUS_CREATED_JSON                                              \
    "{\"newlyCreated\":{\"blobObject\":{\"id\":\"%s\","                      \
    "\"registeredEpoch\":%uD,\"blobId\":\"%s\",\"size\":%O,"                 \
    "\"encodingType\":\"%s\",\"certifiedEpoch\":%uD,"                        \
    "\"storage\":{\"id\":\"%s\",\"startEpoch\":%uD,"                         \
    "\"endEpoch\":%uD,\"storageSize\":%uL},\"deletable\":%s},"               \
    "\"resourceOperation\":{\"registerFromScratch\":"                        \
    "{\"encodedLength\":%uL,\"epochsAhead\":%ui}},\"cost\":0,"

/* the values of NGX_WALRUS_CREATED_JSON at their longest */
#define NGX_WALRUS_CREATED_VALUES                                            \
    (3 * WALRUS_BLOB_ID_TEXT_LEN + 4 * NGX_INT32_LEN + NGX_OFF_T_LEN         \
     + 2 * NGX_INT64_LEN + NGX_INT_T_LEN + sizeof(WALRUS_ENCODING_NAME)      \
     + sizeof("false"))

#define NGX_WALRUS_CERTIFIED_JSON                                            \
    "{\"alreadyCertified\":{\"blobId\":\"%s\",\"size\":%O,\"endEpoch\":%uD,"

#define NGX_WALRUS_CERTIFIED_VALUES                                          \
    (WALRUS_BLOB_ID_TEXT_LEN + NGX_OFF_T_LEN + NGX_INT32_LEN)

/* closes the blob's object and the answer after the certificate */
#define NGX_WALRUS_ANSWER_END  "}}\n"


/*
 * The answer of a Walrus publisher: each buffer is sized from the longest
 * text of its values, the certificate's by ngx_walrus_cert_json_len().
 */

ngx_int_t
ngx_walrus_publish_respond(ngx_walrus_publish_t *ctx, walrus_cert_t *cert,
    ngx_uint_t created)
{
    u_char              *p, *bytes;
    size_t               size, len;
    uint32_t             epoch;
    ngx_str_t            body;
    ngx_http_request_t  *r;

    r = ctx->request;
    epoch = ctx->committee->epoch;

    len = walrus_cert_size(cert);
    bytes = ngx_pnalloc(r->pool, len);
    if (bytes == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    walrus_cert_serialize(cert, bytes);

    /* what was just certified is read soon: the cache has it first */
    ngx_walrus_cache_store(r, ctx->enc.id_text, ctx->enc.metadata,
                           ctx->enc.metadata_len, bytes, len,
                           created ? ctx->registration : NULL);
    ngx_walrus_memo_put(r, ctx->enc.blob_id, ctx->enc.metadata,
                        ctx->enc.metadata_len, bytes, len,
                        created ? ctx->registration : NULL,
                        ngx_walrus_cache_ttl(r, ctx->registration,
                            ngx_walrus_gateway_main_conf(r)
                            ->redis.certificate_ttl),
                        ctx->enc.type);

    if (ctx->enc.type != NULL) {
        ngx_walrus_cache_store_type(r, ctx->enc.id_text, ctx->enc.type);
    }

    size = (created ? sizeof(NGX_WALRUS_CREATED_JSON)
                      + NGX_WALRUS_CREATED_VALUES
                    : sizeof(NGX_WALRUS_CERTIFIED_JSON)
                      + NGX_WALRUS_CERTIFIED_VALUES)
           + ngx_walrus_cert_json_len(ctx->history, cert, len)
           + sizeof(NGX_WALRUS_ANSWER_END);

    body.data = ngx_pnalloc(r->pool, size);
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (created) {
        p = ngx_sprintf(body.data, NGX_WALRUS_CREATED_JSON, ctx->enc.id_text,
                        epoch, ctx->enc.id_text, ctx->enc.length,
                        WALRUS_ENCODING_NAME, epoch, ctx->enc.id_text, epoch,
                        epoch + (uint32_t) ctx->epochs, ctx->enc.encoded_size,
                        ctx->permanent ? "false" : "true",
                        ctx->enc.encoded_size, ctx->epochs);

    } else {
        p = ngx_sprintf(body.data, NGX_WALRUS_CERTIFIED_JSON,
                        ctx->enc.id_text, ctx->enc.length,
                        cert->epoch + (uint32_t) ctx->epochs);
    }

    p = ngx_walrus_cert_json(p, ctx->history, cert, bytes, len);
    p = ngx_cpymem(p, NGX_WALRUS_ANSWER_END,
                   sizeof(NGX_WALRUS_ANSWER_END) - 1);
    body.len = p - body.data;

    return ngx_walrus_send_json(r, NGX_HTTP_OK, &body);
}
