/*
 * Storage node uploads, in the thread pool: metadata and certificates,
 * taken only when the blob's stored registration is in force
 * (ngx_walrus_node_store_lifetime.c, with registrations and deletions),
 * and each checked against what the node holds of the blob (the committee
 * certificates).  What verifies is stored durably and stamped.  Slivers
 * are streamed (ngx_walrus_node_stream.c), checked against the metadata
 * loaded here.
 */

#include <ngx_walrus_node.h>
#include <ngx_walrus_node_store.h>
#include <ngx_walrus_body.h>
#include <walrus_cert.h>
#include <walrus_lifetime.h>
#include <walrus_metadata.h>


static void ngx_walrus_put_metadata(ngx_walrus_put_t *t);
static void ngx_walrus_put_certificate(ngx_walrus_put_t *t);


/*
 * A failed system call of the store, with strerror() appended ("No space
 * left on device", "Disk quota exceeded"): 507 when the file system is
 * full, which the node's operator must see apart from other failures.
 */

void
ngx_walrus_put_store_fail(ngx_walrus_put_t *t, const char *fmt, ...)
{
    int      err;
    size_t   len;
    va_list  args;

    err = errno;

    t->res.reason = "STORE_ERROR";
    t->res.status = (err == ENOSPC || err == EDQUOT)
                    ? NGX_HTTP_INSUFFICIENT_STORAGE
                    : NGX_HTTP_INTERNAL_SERVER_ERROR;

    va_start(args, fmt);
    vsnprintf(t->res.message, sizeof(t->res.message), fmt, args);
    va_end(args);

    len = strlen(t->res.message);
    snprintf(t->res.message + len, sizeof(t->res.message) - len, ": %s",
             strerror(err));
}


/* runs in a thread pool: system calls and the core library only */

void
ngx_walrus_node_store(void *data, ngx_log_t *log)
{
    ngx_walrus_put_t  *t;

    t = data;

    if (t->route.kind == NGX_WALRUS_ROUTE_REGISTRATION) {
        ngx_walrus_put_registration(t);
        return;
    }

    if (t->route.kind == NGX_WALRUS_ROUTE_BLOB) {
        ngx_walrus_put_deletion(t);
        return;
    }

    if (ngx_walrus_put_registered(t) != 0) {
        return;
    }

    switch (t->route.kind) {

    case NGX_WALRUS_ROUTE_METADATA:
        ngx_walrus_put_metadata(t);
        break;

    default:
        ngx_walrus_put_certificate(t);
        break;
    }
}


u_char *
ngx_walrus_body_slurp(ngx_walrus_put_t *t)
{
    u_char             *buf;
    ngx_walrus_body_t   bd;

    buf = malloc(t->body_len ? t->body_len : 1);
    if (buf == NULL) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                             "NO_MEMORY", "out of memory");
        return NULL;
    }

    ngx_walrus_body_init(&bd, t->body);

    if (ngx_walrus_body_read(&bd, buf, t->body_len) != 0) {
        free(buf);
        ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                             "INTERNAL_ERROR", "cannot read the request body");
        return NULL;
    }

    return buf;
}


/* stores a small verified object unless it is there already */

int
ngx_walrus_put_small(ngx_walrus_put_t *t, const char *name,
    const u_char *data, size_t len)
{
    char           path[WALRUS_PATH_MAX];
    walrus_file_t  f;

    if (walrus_store_mkdir(t->dir) != 0
        || walrus_store_path(path, t->dir, name) != 0)
    {
        ngx_walrus_put_store_fail(t, "cannot create the blob directory");
        return -1;
    }

    /* a stored copy whose stamp is gone is replaced by this verified one */

    if (walrus_store_state(path) == 1) {
        t->res.status = NGX_HTTP_OK;
        t->res.reason = name;
        return 0;
    }

    if (walrus_store_open(&f, t->dir, name) != 0) {
        ngx_walrus_put_store_fail(t, "cannot create %s", name);
        return -1;
    }

    if (walrus_file_write(&f, data, len) != 0
        || walrus_store_commit(&f) != 0)
    {
        ngx_walrus_put_store_fail(t, "cannot store %s", name);
        walrus_file_abort(&f);
        return -1;
    }

    t->res.status = NGX_HTTP_CREATED;
    t->res.reason = name;

    return 0;
}


static void
ngx_walrus_put_metadata(ngx_walrus_put_t *t)
{
    int                rc;
    u_char            *buf;
    walrus_metadata_t  m;

    buf = ngx_walrus_body_slurp(t);
    if (buf == NULL) {
        return;
    }

    rc = walrus_metadata_parse(&m, buf, t->body_len);

    if (rc != WALRUS_OK) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST, "INVALID_METADATA",
                             "the metadata does not parse: %s",
                             walrus_strerror(rc));

    } else if (m.params.n != t->committee->params.n) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST, "INVALID_METADATA",
                             "the metadata is for %u shards, the committee has "
                             "%u", m.params.n, t->committee->params.n);

    } else if (m.segment_size != t->committee->segment_size) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST, "INVALID_METADATA",
                             "the metadata has segments of %u bytes, the "
                             "committee's are of %u", m.segment_size,
                             t->committee->segment_size);

    } else if (walrus_metadata_check(&m, t->route.blob_id) != WALRUS_OK) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST, "BLOB_ID_MISMATCH",
                             "the metadata does not hash to the blob ID");

    } else if (m.length != t->registration.length) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST,
                             "REGISTRATION_MISMATCH", "the metadata is of a "
                             "blob of %llu bytes, its registration of %llu "
                             "bytes", (unsigned long long) m.length,
                             (unsigned long long) t->registration.length);

    } else {
        (void) ngx_walrus_put_small(t, "metadata", buf, t->body_len);
    }

    walrus_metadata_free(&m);
    free(buf);
}


int
ngx_walrus_put_load_metadata(ngx_walrus_put_t *t, walrus_metadata_t *m)
{
    int      rc;
    char     path[WALRUS_PATH_MAX];
    size_t   len;
    u_char  *buf;

    if (walrus_store_path(path, t->dir, "metadata") != 0
        || walrus_read_file(path, NGX_WALRUS_MAX_METADATA, &buf, &len)
           != 0)
    {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_CONFLICT, "METADATA_NOT_STORED",
                             "store the blob's metadata first");
        return -1;
    }

    rc = walrus_metadata_parse(m, buf, len);

    if (rc == WALRUS_OK) {
        rc = walrus_metadata_check(m, t->route.blob_id);
    }

    free(buf);

    if (rc != WALRUS_OK) {
        walrus_metadata_free(m);
        ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                             "CORRUPT_METADATA",
                             "the stored metadata does not verify");
        return -1;
    }

    return 0;
}


static void
ngx_walrus_put_certificate(ngx_walrus_put_t *t)
{
    int             rc;
    u_char         *buf;
    walrus_cert_t  *cert;

    buf = ngx_walrus_body_slurp(t);
    cert = malloc(sizeof(walrus_cert_t));

    if (buf == NULL || cert == NULL) {
        if (cert == NULL) {
            ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                 "NO_MEMORY", "out of memory");
        }

        free(buf);
        free(cert);
        return;
    }

    rc = walrus_cert_parse(cert, buf, t->body_len);

    /* checked against the committee of the epoch it names */

    if (rc == WALRUS_OK) {
        rc = walrus_cert_verify_history(t->history, cert, t->route.blob_id);
    }

    if (rc == WALRUS_ENOEPOCH) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_CONFLICT, "UNKNOWN_EPOCH",
                             "the certificate is of epoch %u, which this "
                             "node's committee history (epochs %u to %u) "
                             "does not hold", (unsigned) cert->epoch,
                             (unsigned) t->history->first,
                             (unsigned) t->history->current);

    } else if (rc != WALRUS_OK) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST,
                             "INVALID_CERTIFICATE", "the certificate is not "
                             "valid for this blob and committee: %s",
                             walrus_strerror(rc));

    } else if (ngx_walrus_put_small(t, "certificate", buf, t->body_len) == 0
               && t->res.status == NGX_HTTP_CREATED
               && ngx_walrus_node_record_add(t->dir, buf, t->body_len,
                                             &t->registration)
                  != 0)
    {
        ngx_walrus_put_store_fail(t, "cannot add blob %s to the record of "
                                  "certified blobs", t->route.id_text);
    }

    free(cert);
    free(buf);
}
