/*
 * Storage node: the lifetime of a blob in its answers.  The answers of a
 * blob's data (metadata, certificate, slivers, recovery symbols,
 * confirmation) carry the blob's stored registration in a header, so
 * that a reader can check the end epoch it claims; once the registration
 * has expired (its end epoch is the node's current epoch or before) they
 * are 404 BLOB_EXPIRED with that header, whether or not the garbage
 * collection (ngx_walrus_node_gc.c) has reclaimed the files yet; once
 * its publisher deleted it, 404 BLOB_DELETED with the deletion too.
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
#define NGX_WALRUS_DELETION_TEXT_LEN                                         \
    walrus_base64url_encoded_len(WALRUS_DELETION_LEN)


static ngx_int_t ngx_walrus_node_deleted(ngx_http_request_t *r,
    ngx_walrus_route_t *rt, const char *dir);


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

    if (reg.deletable) {
        rc = ngx_walrus_node_deleted(r, rt, dir);

        if (rc != NGX_DECLINED) {
            return rc;
        }
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


/*
 * A deletable blob its publisher deleted: 404 BLOB_DELETED with the
 * deletion (X-Walrus-Deletion), which the registration's key signed.
 * NGX_DECLINED when there is none.
 */

static ngx_int_t
ngx_walrus_node_deleted(ngx_http_request_t *r, ngx_walrus_route_t *rt,
    const char *dir)
{
    char      path[WALRUS_PATH_MAX];
    size_t    len;
    u_char   *text;
    uint8_t  *del;

    if (walrus_store_path(path, dir, WALRUS_DELETED_FILE) != 0
        || walrus_read_file(path, WALRUS_DELETION_LEN, &del, &len) != 0)
    {
        return NGX_DECLINED;
    }

    text = ngx_pnalloc(r->pool, NGX_WALRUS_DELETION_TEXT_LEN);

    if (text == NULL
        || ngx_walrus_add_header(r, NGX_WALRUS_DELETION_HEADER, text,
                                 walrus_base64url_encode(del, len,
                                                         (char *) text))
           == NULL)
    {
        free(del);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    free(del);

    return ngx_walrus_send_error(r, NGX_HTTP_NOT_FOUND,
                                 NGX_WALRUS_DOMAIN_NODE, "BLOB_DELETED",
                                 "blob %s was deleted by its publisher",
                                 rt->id_text);
}

