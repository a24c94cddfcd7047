/*
 * Before a node signs a confirmation: the stored files whose verification
 * stamp is gone (written since they were verified, or stored by an older
 * version) are verified again in the thread pool.  A file that fails is
 * renamed "<name>.bad", kept as evidence (one per name), and the node
 * answers as if it were missing, so that the blob's writer or the node's
 * healing stores a good copy again.
 */

#include <ngx_walrus.h>
#include <ngx_walrus_node.h>
#include <walrus_store.h>
#include <walrus_codec.h>
#include <walrus_metadata.h>
#include <walrus_sliver_file.h>


struct ngx_walrus_verify_s {
    ngx_walrus_route_t        route;
    ngx_uint_t               *pairs;
    ngx_uint_t                npairs;
    char                      dir[WALRUS_PATH_MAX];
    ngx_walrus_node_result_t   res;
    char                      set_aside[32];
    ngx_event_t               guard;
};


static void ngx_walrus_verify_thread(void *data, ngx_log_t *log);
static int ngx_walrus_verify_metadata(ngx_walrus_verify_t *t,
    walrus_metadata_t *m);
static int ngx_walrus_verify_sliver(ngx_walrus_verify_t *t,
    walrus_metadata_t *m, walrus_codec_t *codec, u_char *buf,
    ngx_uint_t pair, walrus_axis_e axis);
static void ngx_walrus_verify_keep(ngx_walrus_verify_t *t, int fd,
    const struct stat *st);
static void ngx_walrus_verify_reject(ngx_walrus_verify_t *t, int fd,
    const char *name);
static void ngx_walrus_verify_done(ngx_http_request_t *r);


ngx_int_t
ngx_walrus_node_verify(ngx_http_request_t *r, ngx_walrus_route_t *rt,
    ngx_uint_t *pairs, ngx_uint_t npairs)
{
    ngx_walrus_verify_t         *t;
    ngx_walrus_node_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_node_loc_conf(r);

    t = ngx_pcalloc(r->pool, sizeof(ngx_walrus_verify_t));
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->route = *rt;
    t->pairs = pairs;
    t->npairs = npairs;

    if (walrus_store_dir(t->dir, (char *) wlcf->store.data,
                         wlcf->store.len, rt->id_text)
        != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_walrus_node_ctx(r)->verify = t;

    return ngx_walrus_node_post(r, t, ngx_walrus_verify_thread,
                                ngx_walrus_verify_done, &t->guard);
}


static void
ngx_walrus_verify_done(ngx_http_request_t *r)
{
    ngx_walrus_verify_t  *t;

    t = ngx_walrus_node_ctx(r)->verify;

    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_walrus_thread_unguard(&t->guard);

    if (t->set_aside[0] != '\0') {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "walrus: the stored %s of blob %s does not verify, "
                      "renamed to %s.bad", t->set_aside, t->route.id_text,
                      t->set_aside);
    }

    if (t->res.status >= NGX_HTTP_BAD_REQUEST) {
        ngx_http_finalize_request(r,
            ngx_walrus_send_error(r, t->res.status, NGX_WALRUS_DOMAIN_NODE,
                                  t->res.reason, "%s", t->res.message));
        return;
    }

    ngx_http_finalize_request(r, ngx_walrus_node_sign(r, &t->route));
}


/* runs in a thread pool: system calls and the core library only */

static void
ngx_walrus_verify_thread(void *data, ngx_log_t *log)
{
    size_t                size;
    u_char               *buf;
    ngx_uint_t            i;
    walrus_codec_t       *codec;
    walrus_metadata_t     m;
    ngx_walrus_verify_t  *t;

    t = data;

    if (ngx_walrus_verify_metadata(t, &m) != 0) {
        return;
    }

    /* one byte more before the slices, which are hashed in place */
    size = walrus_sliver_file_buffer(&m);
    buf = malloc(size + 1);
    codec = walrus_codec_create(m.params.n);

    if (buf == NULL || codec == NULL) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                              "NO_MEMORY", "out of memory");
        goto done;
    }

    for (i = 0; i < t->npairs; i++) {
        if (ngx_walrus_verify_sliver(t, &m, codec, buf + 1, t->pairs[i],
                                     WALRUS_PRIMARY)
            != 0
            || ngx_walrus_verify_sliver(t, &m, codec, buf + 1, t->pairs[i],
                                        WALRUS_SECONDARY)
               != 0)
        {
            break;
        }
    }

done:

    walrus_codec_destroy(codec);
    free(buf);
    walrus_metadata_free(&m);
}


/* the stored metadata must hash to the blob ID, stamped or not */

static int
ngx_walrus_verify_metadata(ngx_walrus_verify_t *t, walrus_metadata_t *m)
{
    int          fd, rc;
    struct stat  st;

    fd = ngx_walrus_node_metadata(&t->route, t->dir, m, &st, &rc,
                                  &t->res);
    if (fd == -1) {
        return -1;
    }

    if (rc == WALRUS_OK) {
        ngx_walrus_verify_keep(t, fd, &st);

    } else {
        ngx_walrus_verify_reject(t, fd, "metadata");
        ngx_walrus_node_fail(&t->res, NGX_HTTP_NOT_FOUND,
                              "METADATA_NOT_FOUND", "the stored metadata of "
                              "blob %s does not verify; it was set aside",
                              t->route.id_text);
    }

    close(fd);

    return rc == WALRUS_OK ? 0 : -1;
}


/*
 * Opens "<dir>/metadata" and reads it, checked against the blob ID: the
 * file, for the caller to stamp or set aside and close, its stat from
 * before the read in *st and the verdict in *rc (m is freed unless it is
 * WALRUS_OK); -1 with e set when the file cannot be opened.  Runs in a
 * thread.
 */

int
ngx_walrus_node_metadata(ngx_walrus_route_t *rt, const char *dir,
    walrus_metadata_t *m, struct stat *st, int *rc,
    ngx_walrus_node_result_t *e)
{
    int      fd;
    char     path[WALRUS_PATH_MAX];
    size_t   len;
    u_char  *buf;

    ngx_memzero(m, sizeof(walrus_metadata_t));

    if (walrus_store_path(path, dir, "metadata") != 0) {
        errno = ENAMETOOLONG;
        fd = -1;

    } else {
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }

    if (fd == -1) {
        if (errno == ENOENT) {
            ngx_walrus_node_fail(e, NGX_HTTP_NOT_FOUND, "METADATA_NOT_FOUND",
                                  "this node holds no metadata for blob %s",
                                  rt->id_text);

        } else {
            ngx_walrus_node_fail(e, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                  "STORE_ERROR", "cannot open the metadata: "
                                  "%s", strerror(errno));
        }

        return -1;
    }

    if (fstat(fd, st) == -1) {
        *rc = WALRUS_EIO;

    } else if (walrus_read_fd(fd, NGX_WALRUS_MAX_METADATA, &buf, &len)
               != 0)
    {
        /* too large to be metadata, or unreadable: not good either way */
        *rc = WALRUS_EFORMAT;

    } else {
        *rc = walrus_metadata_parse(m, buf, len);

        if (*rc == WALRUS_OK) {
            *rc = walrus_metadata_check(m, rt->blob_id);
        }

        free(buf);
    }

    if (*rc != WALRUS_OK) {
        walrus_metadata_free(m);
    }

    return fd;
}


static int
ngx_walrus_verify_sliver(ngx_walrus_verify_t *t, walrus_metadata_t *m,
    walrus_codec_t *codec, u_char *buf, ngx_uint_t pair, walrus_axis_e axis)
{
    int          fd, rc;
    char         name[32], path[WALRUS_PATH_MAX];
    struct stat  st;

    walrus_store_sliver_name(name, sizeof(name), pair,
                             axis == WALRUS_SECONDARY);

    if (walrus_store_path(path, t->dir, name) != 0) {
        errno = ENAMETOOLONG;
        fd = -1;

    } else {
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }

    if (fd == -1 || fstat(fd, &st) == -1) {
        if (errno == ENOENT) {
            ngx_walrus_node_fail(&t->res, NGX_HTTP_CONFLICT,
                                  "SLIVERS_MISSING", "sliver %s of blob %s "
                                  "is not stored yet", name,
                                  t->route.id_text);

        } else {
            ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                  "STORE_ERROR", "cannot open %s: %s", name,
                                  strerror(errno));
        }

        if (fd != -1) {
            close(fd);
        }

        return -1;
    }

    if (walrus_file_stamped(&st)) {
        close(fd);
        return 0;
    }

    rc = walrus_sliver_file_verify(fd, m, codec, buf, pair, axis);

    if (rc == WALRUS_OK) {
        ngx_walrus_verify_keep(t, fd, &st);

    } else if (rc == WALRUS_ENOMEM || rc == WALRUS_ECRYPTO) {

        /* the node's own failure says nothing of the file: it stays */

        ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                              "INTERNAL_ERROR", "cannot verify sliver %s of "
                              "blob %s: %s", name, t->route.id_text,
                              walrus_strerror(rc));

    } else {
        ngx_walrus_verify_reject(t, fd, name);
        ngx_walrus_node_fail(&t->res, NGX_HTTP_CONFLICT,
                              "SLIVERS_MISSING", "sliver %s of blob %s does "
                              "not verify (%s); it was set aside", name,
                              t->route.id_text, walrus_strerror(rc));
    }

    close(fd);

    return rc == WALRUS_OK ? 0 : -1;
}


/*
 * Stamps a file that verified, unless it was written while it was read:
 * its stamp is then left off, and the next confirmation reads it again.
 */

static void
ngx_walrus_verify_keep(ngx_walrus_verify_t *t, int fd, const struct stat *st)
{
    struct stat  now;

    if (walrus_file_stamped(st)) {
        return;
    }

    if (fstat(fd, &now) == 0
        && now.st_mtim.tv_sec == st->st_mtim.tv_sec
        && now.st_mtim.tv_nsec == st->st_mtim.tv_nsec)
    {
        /* a lost stamp (no fsync) only costs a verification */
        (void) walrus_file_stamp(fd);
    }
}


static void
ngx_walrus_verify_reject(ngx_walrus_verify_t *t, int fd, const char *name)
{
    if (walrus_store_set_aside(fd, t->dir, name) == 1) {
        ngx_cpystrn((u_char *) t->set_aside, (u_char *) name,
                    sizeof(t->set_aside));
    }
}
