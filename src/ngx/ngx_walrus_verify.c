/*
 * Certificate checks with a per-worker memory of the certificates whose
 * signatures already verified: a certificate is immutable, so its
 * signatures need checking once per worker, not once per request.
 */

#include <ngx_walrus.h>
#include <walrus_cert.h>
#include <openssl/evp.h>


#define NGX_WALRUS_VERIFIED_SLOTS  4096


/*
 * SHA-256 of certificate bytes whose signatures verified in this worker.
 * The bytes hold the epoch, so a verdict is that of the committee of
 * that epoch and never stands for a certificate of another one; and a
 * worker's history never changes (a reload starts new workers, with
 * this memory empty).
 */
static u_char  ngx_walrus_verified[NGX_WALRUS_VERIFIED_SLOTS][32];


ngx_int_t
ngx_walrus_cert_check(const walrus_history_t *h, walrus_cert_t *cert,
    const u_char *bytes, size_t len, const uint8_t *blob_id)
{
    u_char        digest[EVP_MAX_MD_SIZE];
    ngx_uint_t    slot;
    unsigned int  dlen;

    if (walrus_cert_parse(cert, bytes, len) != WALRUS_OK
        || ngx_memcmp(cert->blob_id, blob_id, WALRUS_BLOB_ID_LEN) != 0)
    {
        return NGX_ERROR;
    }

    /* a later history may hold it: not a bad certificate */

    if (walrus_history_committee(h, cert->epoch) == NULL) {
        return NGX_DECLINED;
    }

    if (EVP_Digest(bytes, len, digest, &dlen, EVP_sha256(), NULL) != 1) {
        return walrus_cert_verify_history(h, cert, blob_id) == WALRUS_OK
               ? NGX_OK : NGX_ERROR;
    }

    slot = ((ngx_uint_t) digest[0] << 8 | digest[1])
           % NGX_WALRUS_VERIFIED_SLOTS;

    if (ngx_memcmp(ngx_walrus_verified[slot], digest, 32) == 0) {
        return NGX_OK;
    }

    if (walrus_cert_verify_history(h, cert, blob_id) != WALRUS_OK) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_walrus_verified[slot], digest, 32);

    return NGX_OK;
}


/*
 * Most likely this configuration has not been reloaded with a new
 * epoch's file yet (or another one holds it): the certificate may well
 * be good, so it is said apart from one that does not verify.
 */

void
ngx_walrus_cert_unknown_epoch(ngx_log_t *log, const walrus_history_t *h,
    walrus_cert_t *cert, const char *node, const char *id_text)
{
    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "walrus: node %s sent a certificate of blob %s of epoch "
                  "%uD, which the committee history (epochs %uD to %uD) "
                  "does not hold; dropped", node, id_text, cert->epoch,
                  h->first, h->current);
}
