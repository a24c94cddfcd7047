/*
 * The answer to an upload, in the Walrus publisher's JSON: newlyCreated
 * or alreadyCertified, with the certificate; the cache and the worker's
 * memory of verified metadata learn the blob first, as it is read soon.
 */

#include <ngx_walrus_publish.h>
#include <ngx_walrus_quilt.h>
#include <ngx_walrus_cache.h>
#include <ngx_walrus_memo.h>
#include <walrus_base64.h>


/*
 * Walrus's shape, but no field that only a chain has a value for: its
 * blobObject.id and storage.id are Sui object IDs, which do not exist
 * here (docs/http-api.md G10 lists the differences field by field)
 */

#define NGX_WALRUS_CREATED_JSON                                              \
    "{\"newlyCreated\":{\"blobObject\":{"                                    \
    "\"registeredEpoch\":%uD,\"blobId\":\"%s\",\"size\":%O,"                 \
    "\"encodingType\":\"%s\",\"certifiedEpoch\":%uD,"                        \
    "\"storage\":{\"startEpoch\":%uD,"                                       \
    "\"endEpoch\":%uD,\"storageSize\":%uL},\"deletable\":%s},"               \
    "\"resourceOperation\":{\"registerFromScratch\":"                        \
    "{\"encodedLength\":%uL,\"epochsAhead\":%ui}},\"cost\":0,"

/* the values of NGX_WALRUS_CREATED_JSON at their longest */
#define NGX_WALRUS_CREATED_VALUES                                            \
    (WALRUS_BLOB_ID_TEXT_LEN + 4 * NGX_INT32_LEN + NGX_OFF_T_LEN             \
     + 2 * NGX_INT64_LEN + NGX_INT_T_LEN + sizeof(WALRUS_ENCODING_NAME)      \
     + sizeof("false"))

#define NGX_WALRUS_CERTIFIED_JSON                                            \
    "{\"alreadyCertified\":{\"blobId\":\"%s\",\"size\":%O,"

#define NGX_WALRUS_END_EPOCH_JSON  "\"endEpoch\":%uD,"

#define NGX_WALRUS_CERTIFIED_VALUES                                          \
    (WALRUS_BLOB_ID_TEXT_LEN + NGX_OFF_T_LEN                                \
     + sizeof(NGX_WALRUS_END_EPOCH_JSON) + NGX_INT32_LEN)

/* closes the blob's object and the answer after the certificate */
#define NGX_WALRUS_ANSWER_END  "}}\n"

/* a quilt's answer: the blob's in it, then the patches */
#define NGX_WALRUS_QUILT_ANSWER  "{\"blobStoreResult\":"


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

    if (ctx->quilt != NULL) {
        size += sizeof(NGX_WALRUS_QUILT_ANSWER)
                + ngx_walrus_quilt_put_answer_len(ctx->quilt);
    }

    body.data = ngx_pnalloc(r->pool, size);
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = body.data;

    if (ctx->quilt != NULL) {
        p = ngx_cpymem(p, NGX_WALRUS_QUILT_ANSWER,
                       sizeof(NGX_WALRUS_QUILT_ANSWER) - 1);
    }

    if (created) {
        p = ngx_sprintf(p, NGX_WALRUS_CREATED_JSON, epoch,
                        ctx->enc.id_text, ctx->enc.length,
                        WALRUS_ENCODING_NAME, epoch, epoch,
                        epoch + (uint32_t) ctx->epochs, ctx->enc.encoded_size,
                        ctx->permanent ? "false" : "true",
                        ctx->enc.encoded_size, ctx->epochs);

    } else {
        p = ngx_sprintf(p, NGX_WALRUS_CERTIFIED_JSON,
                        ctx->enc.id_text, ctx->enc.length);

        /* the stored registrations say it, not this request's epochs */

        if (ctx->existing_end_known) {
            p = ngx_sprintf(p, NGX_WALRUS_END_EPOCH_JSON, ctx->existing_end);
        }
    }

    p = ngx_walrus_cert_json(p, ctx->history, cert, bytes, len);

    if (ctx->quilt != NULL) {
        p = ngx_cpymem(p, "}}", 2);
        p = ngx_walrus_quilt_put_answer(p, ctx->quilt, ctx->enc.blob_id);
        *p++ = '\n';

    } else {
        p = ngx_cpymem(p, NGX_WALRUS_ANSWER_END,
                       sizeof(NGX_WALRUS_ANSWER_END) - 1);
    }

    body.len = p - body.data;

    return ngx_walrus_send_json(r, NGX_HTTP_OK, &body);
}


/*
 * The latest end epoch among the registrations the nodes holding the
 * certified blob send: each checked (its publisher in the committee of
 * its epoch, its signature, the blob ID) before it counts, and one that
 * would not raise the end epoch is not checked at all.
 */

void
ngx_walrus_publish_end_epoch(ngx_walrus_publish_t *ctx,
    ngx_walrus_call_t *call)
{
    size_t                 len;
    uint8_t                raw[WALRUS_REGISTRATION_LEN + 3];
    walrus_registration_t  reg;

    if (call->header2_value.len
        != walrus_base64url_encoded_len(WALRUS_REGISTRATION_LEN)
        || walrus_base64url_decode((char *) call->header2_value.data,
                                   call->header2_value.len, raw, &len)
           != WALRUS_OK
        || walrus_registration_parse(&reg, raw, len) != WALRUS_OK
        || (ctx->existing_end_known && reg.end_epoch <= ctx->existing_end))
    {
        return;
    }

    if (walrus_registration_verify_signed(ctx->history, &reg,
                                          ctx->enc.blob_id)
        != WALRUS_OK)
    {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "walrus: node %s sent a registration of blob %s that "
                      "is not valid; ignored",
                      ctx->committee->nodes[call->node].name,
                      ctx->enc.id_text);
        return;
    }

    ctx->existing_end = reg.end_epoch;
    ctx->existing_end_known = 1;
}
