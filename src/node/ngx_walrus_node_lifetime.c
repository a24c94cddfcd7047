/*
 * Storage node: the lifetime of a blob in its answers.  The answers of a
 * blob's data (metadata, certificate, slivers, recovery symbols,
 * confirmation) carry the blob's stored registration in a header, so
 * that a reader can check the end epoch it claims; once the registration
 * has expired (its end epoch is the node's current epoch or before) they
 * are 404 BLOB_EXPIRED with that header, whether or not the garbage
 * collection (ngx_walrus_node_gc.c) has reclaimed the files yet.
 *
 * The registration is read in the worker: a file of 162 bytes in the
 * directory of the file the answer opens anyway, a cost of the order of
 * that open(2), not disk-heavy work for the thread pool.
 */

#include <ngx_walrus_node.h>
#include <walrus_base64.h>
#include <walrus_lifetime.h>
#include <walrus_store.h>


#define NGX_WALRUS_REGISTRATION_TEXT_LEN                                     \
    walrus_base64url_encoded_len(WALRUS_REGISTRATION_LEN)


ngx_int_t
ngx_walrus_node_lifetime(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    int                          rc;
    char                         dir[WALRUS_PATH_MAX];
    u_char                      *text;
    uint8_t                      raw[WALRUS_REGISTRATION_LEN];
    uint32_t                     now;
    walrus_registration_t        reg;
    ngx_walrus_main_conf_t      *wmcf;
    ngx_walrus_node_loc_conf_t  *wlcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);
    wlcf = ngx_walrus_node_loc_conf(r);
    now = wmcf->committee->epoch;

    if (walrus_store_dir(dir, (char *) wlcf->store.data, wlcf->store.len,
                         rt->id_text)
        != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = walrus_lifetime_read(dir, &reg);

    if (rc != WALRUS_OK) {
        /* none (the answer says what is missing), or not readable */
        return NGX_DECLINED;
    }

    text = ngx_pnalloc(r->pool, NGX_WALRUS_REGISTRATION_TEXT_LEN);
    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    walrus_registration_serialize(&reg, raw);

    if (ngx_walrus_add_header(r, NGX_WALRUS_REGISTRATION_HEADER, text,
                              walrus_base64url_encode(raw, sizeof(raw),
                                                      (char *) text))
        == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!walrus_registration_expired(&reg, now)) {
        return NGX_DECLINED;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: blob %s expired: end epoch %uD, epoch %uD",
                   rt->id_text, reg.end_epoch, now);

    return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                 NGX_WALRUS_DOMAIN_NODE, "BLOB_EXPIRED",
                                 "blob %s was stored until epoch %uD (its "
                                 "registration's end epoch is %uD); this "
                                 "node is in epoch %uD", rt->id_text,
                                 reg.end_epoch - 1, reg.end_epoch, now);
}
