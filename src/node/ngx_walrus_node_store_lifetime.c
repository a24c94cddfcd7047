/*
 * Storage node uploads, in the thread pool: what decides a blob's
 * lifetime at the node.  A registration is verified against the
 * committee's publishers and kept when it extends the stored one; a
 * deletion signed by the registration's publisher is kept with it and
 * reclaims the files; other uploads go on only while the stored
 * registration is in force (docs/protocol.md 15, 19).
 */

#include <ngx_walrus_node.h>
#include <ngx_walrus_node_store.h>
#include <walrus_lifetime.h>


/*
 * 0 when the blob has a stored registration that is in force and signed
 * by a publisher of the committee; it is then in t->registration
 */

int
ngx_walrus_put_registered(ngx_walrus_put_t *t)
{
    int      rc;
    char     path[WALRUS_PATH_MAX];
    size_t   len;
    u_char  *buf;

    if (walrus_store_path(path, t->dir, "registration") != 0) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                             "STORE_ERROR", "the store path is too long");
        return -1;
    }

    if (walrus_read_file(path, WALRUS_REGISTRATION_LEN, &buf, &len)
        != 0)
    {
        if (errno == ENOENT) {
            ngx_walrus_node_fail(&t->res, NGX_HTTP_UNAUTHORIZED,
                                 "REGISTRATION_REQUIRED", "blob %s is not "
                                 "registered: PUT a registration signed by a "
                                 "publisher of the committee first",
                                 t->route.id_text);

        } else if (errno == EFBIG) {
            ngx_walrus_node_fail(&t->res, NGX_HTTP_FORBIDDEN,
                                 "REGISTRATION_INVALID", "the stored "
                                 "registration of blob %s does not parse",
                                 t->route.id_text);

        } else {
            ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                 "STORE_ERROR", "cannot read the registration: "
                                 "%s", strerror(errno));
        }

        return -1;
    }

    rc = walrus_registration_parse(&t->registration, buf, len);
    free(buf);

    /*
     * A certificate goes to the record: its registration is checked as
     * the record sync checks the entries its peers list (in force now,
     * signed by a publisher of its own epoch), so that a blob is taken
     * in the same whether it comes by upload or from a peer.  New data
     * needs a publisher of the current committee.
     */

    if (rc == WALRUS_OK
        && t->route.kind == NGX_WALRUS_ROUTE_CERTIFICATE)
    {
        rc = walrus_registration_verify_history(t->history, &t->registration,
                                                t->route.blob_id);

    } else if (rc == WALRUS_OK) {
        rc = walrus_registration_verify(t->committee, &t->registration,
                                        t->route.blob_id);
    }

    /* an expired blob comes back only with a later registration */

    if (rc == WALRUS_EEPOCH
        && walrus_registration_expired(&t->registration,
                                       t->committee->epoch))
    {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_FORBIDDEN, "BLOB_EXPIRED",
                             "blob %s was stored until epoch %u; this node "
                             "is in epoch %u: PUT a registration with a "
                             "later end epoch to store it again",
                             t->route.id_text,
                             (unsigned) t->registration.end_epoch - 1,
                             (unsigned) t->committee->epoch);
        return -1;
    }

    /* deleted by its publisher: back only with a new registration */

    if (rc == WALRUS_OK && walrus_store_path(path, t->dir,
                                             WALRUS_DELETED_FILE) == 0
        && access(path, F_OK) == 0)
    {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_FORBIDDEN, "BLOB_DELETED",
                             "blob %s was deleted by its publisher: PUT a "
                             "new registration to store it again",
                             t->route.id_text);
        return -1;
    }

    /* the committee may have dropped its publisher */

    if (rc != WALRUS_OK) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_FORBIDDEN,
                             "REGISTRATION_INVALID", "the stored registration "
                             "of blob %s is not valid now: %s",
                             t->route.id_text, walrus_strerror(rc));
        return -1;
    }

    return 0;
}


void
ngx_walrus_put_registration(ngx_walrus_put_t *t)
{
    int                    rc, deleted;
    char                   path[WALRUS_PATH_MAX];
    u_char                *buf;
    walrus_registration_t  reg;

    buf = ngx_walrus_body_slurp(t);
    if (buf == NULL) {
        return;
    }

    deleted = 0;
    rc = walrus_registration_parse(&reg, buf, t->body_len);

    if (rc == WALRUS_OK) {
        rc = walrus_registration_verify(t->committee, &reg, t->route.blob_id);
    }

    switch (rc) {

    case WALRUS_OK:
        break;

    case WALRUS_EBLOBID:
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST, "BLOB_ID_MISMATCH",
                             "the registration is for another blob");
        goto done;

    case WALRUS_EEPOCH:
        /*
         * A registration of a later epoch than this node's has its own
         * reason: the publisher's gateway is ahead of this node (or this
         * node is being reloaded) and may send it again (protocol 15).
         */
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST,
                             reg.epoch > t->committee->epoch
                             ? "REGISTRATION_EPOCH_AHEAD"
                             : "INVALID_REGISTRATION",
                             "the registration is in "
                             "force from epoch %u until epoch %u, the "
                             "committee is at epoch %u", (unsigned) reg.epoch,
                             (unsigned) reg.end_epoch,
                             (unsigned) t->committee->epoch);
        goto done;

    case WALRUS_EPUBLISHER:
        ngx_walrus_node_fail(&t->res, NGX_HTTP_FORBIDDEN, "UNKNOWN_PUBLISHER",
                             "%s", t->committee->npublishers == 0
                             ? "the committee lists no publishers: this node "
                               "stores no blob"
                             : "the registration is not signed by a "
                               "publisher of the committee");
        goto done;

    case WALRUS_ESIGNATURE:
        ngx_walrus_node_fail(&t->res, NGX_HTTP_FORBIDDEN, "INVALID_SIGNATURE",
                             "the registration's signature does not verify");
        goto done;

    default:
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST,
                             "INVALID_REGISTRATION", "the registration does "
                             "not parse (%d bytes expected): %s",
                             WALRUS_REGISTRATION_LEN, walrus_strerror(rc));
        goto done;
    }

    /*
     * A registration in force gives way only to one that keeps the same
     * blob longer and no less permanent; one that is no longer in force
     * (its publisher left the committee, or it expired) to any.
     */

    if (walrus_store_path(path, t->dir, WALRUS_DELETED_FILE) == 0
        && access(path, F_OK) == 0)
    {
        /* deleted: any valid registration brings the blob back */
        deleted = 1;

    } else if (ngx_walrus_put_registered(t) == 0
        && (reg.end_epoch <= t->registration.end_epoch
            || reg.length != t->registration.length
            || reg.deletable > t->registration.deletable))
    {
        t->res.status = NGX_HTTP_OK;
        t->res.reason = "registration";
        goto done;
    }

    t->res.status = 0;

    if (walrus_store_path(path, t->dir, "registration") == 0) {
        (void) unlink(path);
    }

    if (ngx_walrus_put_small(t, "registration", buf, t->body_len) == 0
        && deleted && walrus_store_path(path, t->dir, WALRUS_DELETED_FILE)
                      == 0)
    {
        (void) unlink(path);
    }

done:

    free(buf);
}


/*
 * DELETE /v1/blobs/{id}: a deletion signed by the publisher of the
 * blob's stored registration (protocol 19.5) is kept as part of the
 * tombstone, and the blob's files are reclaimed at once.
 */

void
ngx_walrus_put_deletion(ngx_walrus_put_t *t)
{
    int        rc;
    u_char    *buf;
    unsigned   removed;

    buf = ngx_walrus_body_slurp(t);
    if (buf == NULL) {
        return;
    }

    rc = walrus_lifetime_read(t->dir, &t->registration);

    if (rc == WALRUS_OK) {
        rc = walrus_deletion_verify(buf, t->body_len, &t->registration,
                                    t->committee->epoch);

    } else if (rc == WALRUS_EIO && errno == ENOENT) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_NOT_FOUND,
                             "REGISTRATION_NOT_FOUND", "this node holds no "
                             "registration of blob %s", t->route.id_text);
        goto done;
    }

    switch (rc) {

    case WALRUS_OK:
        break;

    case WALRUS_EINVAL:
        ngx_walrus_node_fail(&t->res, NGX_HTTP_FORBIDDEN, "NOT_DELETABLE",
                             "blob %s is registered as permanent",
                             t->route.id_text);
        goto done;

    case WALRUS_ESIGNATURE:
        ngx_walrus_node_fail(&t->res, NGX_HTTP_FORBIDDEN, "INVALID_SIGNATURE",
                             "the deletion is not signed by the publisher "
                             "that registered blob %s", t->route.id_text);
        goto done;

    case WALRUS_EEPOCH:
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST,
                             "INVALID_DELETION", "the deletion's epoch is "
                             "not from epoch %u (the registration's) to %u "
                             "(this node's), nor %u or later",
                             (unsigned) t->registration.epoch,
                             (unsigned) t->committee->epoch,
                             (unsigned) (t->committee->epoch - 1));
        goto done;

    case WALRUS_EBLOBID:
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST,
                             "BLOB_ID_MISMATCH",
                             "the deletion is for another blob");
        goto done;

    default:
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST,
                             "INVALID_DELETION", "the deletion does not parse "
                             "(%d bytes expected): %s", WALRUS_DELETION_LEN,
                             walrus_strerror(rc));
        goto done;
    }

    if (ngx_walrus_put_small(t, WALRUS_DELETED_FILE, buf, t->body_len) != 0)
    {
        goto done;
    }

    if (walrus_lifetime_reclaim(t->dir, &removed) != 0) {
        ngx_walrus_put_store_fail(t, "cannot remove the files of blob %s",
                                  t->route.id_text);
    }

done:

    free(buf);
}
