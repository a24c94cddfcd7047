/*
 * The signed audit answer (docs/protocol.md 17.3), built in the thread
 * pool in two passes over the blobs asked.  The first reads each blob's
 * metadata, checked against its ID, and computes this node's positions
 * and the size of its entry, so that an answer over
 * NGX_WALRUS_AUDIT_MAX_ANSWER is refused before anything is allocated.
 * The second reads, per pair, the one segment's slice of each sliver the
 * positions need into a buffer grown to the largest blob, and writes
 * the entries: the core checks each symbol and its proof against the
 * metadata as it computes them, so that this node never signs an entry
 * it knows to be wrong.  A blob without metadata, with a sliver file
 * missing or short, or with a slice that does not verify is answered
 * "not held": the verifier learns which blob is missing, and the rest
 * of the answer still counts.  Nothing is set aside here: the scrubber
 * finds rotten files and the keeper heals them.
 */

#include <ngx_walrus_node_audit_serve.h>
#include <walrus_store.h>
#include <walrus_codec.h>


/* the slices of one blob: sized for the largest blob read so far */
typedef struct {
    u_char                     *data;
    size_t                      size;
} ngx_walrus_audit_slices_t;


static void ngx_walrus_audit_survey(ngx_walrus_audit_answer_t *t,
    ngx_walrus_audit_blob_t *b, size_t *kept);
static int ngx_walrus_audit_metadata(ngx_walrus_audit_answer_t *t,
    ngx_walrus_audit_blob_t *b, char *dir);
static int ngx_walrus_audit_prove(ngx_walrus_audit_answer_t *t,
    ngx_walrus_audit_blob_t *b, walrus_codec_t *codec,
    ngx_walrus_audit_slices_t *buf, u_char *out, size_t *len);
static int ngx_walrus_audit_files(ngx_walrus_audit_blob_t *b,
    const char *dir);
static int ngx_walrus_audit_slice(ngx_walrus_audit_blob_t *b,
    const char *dir, walrus_audit_position_t *pos, walrus_axis_e axis,
    u_char *buf, size_t *len);


/* runs in a thread pool: system calls and the core library only */

void
ngx_walrus_audit_build(void *data, ngx_log_t *log)
{
    int                         rc;
    size_t                      total, kept, len;
    time_t                      mtime;
    u_char                     *p;
    unsigned                    i;
    walrus_codec_t             *codec;
    ngx_walrus_audit_answer_t  *t;
    ngx_walrus_audit_slices_t   buf;

    t = data;
    codec = NULL;
    ngx_memzero(&buf, sizeof(ngx_walrus_audit_slices_t));

    rc = ngx_walrus_audit_beacon_read(t->committee, t->beacon_path,
                                      &t->beacon, &mtime);

    if (rc != WALRUS_OK || t->beacon.round != t->round) {
        if (rc != WALRUS_EIO || errno != ENOENT) {
            t->beacon_rc = rc != WALRUS_OK ? rc : WALRUS_EFORMAT;
        }

        ngx_walrus_node_fail(&t->res, NGX_HTTP_CONFLICT,
                             "AUDIT_UNKNOWN_ROUND", "this node holds no "
                             "valid beacon of round %lu: ask again once it "
                             "takes one", (unsigned long) t->round);
        return;
    }

    total = walrus_audit_answer_head_size() + WALRUS_SIG_LEN;
    kept = 0;

    for (i = 0; i < t->nblobs; i++) {
        ngx_walrus_audit_survey(t, &t->blobs[i], &kept);

        total += t->blobs[i].held ? t->blobs[i].size
                                  : walrus_audit_blob_size(NULL, NULL, 0);
    }

    if (total > NGX_WALRUS_AUDIT_MAX_ANSWER) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                             "AUDIT_ANSWER_TOO_LARGE", "the answer would "
                             "have %zu bytes, more than the %d allowed: ask "
                             "fewer blobs at a time", total,
                             NGX_WALRUS_AUDIT_MAX_ANSWER);
        goto done;
    }

    t->answer = malloc(total);
    codec = walrus_codec_create(t->committee->params.n);

    if (t->answer == NULL || codec == NULL) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                             "NO_MEMORY", "out of memory");
        goto done;
    }

    p = t->answer + walrus_audit_answer_head_size();

    for (i = 0; i < t->nblobs; i++) {
        rc = ngx_walrus_audit_prove(t, &t->blobs[i], codec, &buf, p, &len);

        /* done with it: what this pass reads again is held one at a time */
        walrus_metadata_free(&t->blobs[i].meta);

        if (rc != 0) {
            goto done;
        }

        p += len;
    }

    walrus_audit_answer_head(t->answer, t->beacon.epoch, t->round, t->node,
                             t->beacon.seed, t->nblobs);

    rc = walrus_audit_answer_sign(t->key, t->answer, p - t->answer);

    if (rc != WALRUS_OK) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                             "INTERNAL_ERROR", "signing the answer failed: "
                             "%s", walrus_strerror(rc));
        goto done;
    }

    t->len = p - t->answer + WALRUS_SIG_LEN;

done:

    for (i = 0; i < t->nblobs; i++) {
        walrus_metadata_free(&t->blobs[i].meta);
    }

    walrus_codec_destroy(codec);
    free(buf.data);
}


/*
 * The first pass over a blob: its metadata, this node's positions, the
 * size of its entry and of the slices it needs; the metadata kept for
 * the second pass while they fit NGX_WALRUS_AUDIT_META_KEEP
 */

static void
ngx_walrus_audit_survey(ngx_walrus_audit_answer_t *t,
    ngx_walrus_audit_blob_t *b, size_t *kept)
{
    char      dir[WALRUS_PATH_MAX];
    size_t    size, primary, secondary;
    unsigned  i;

    if (ngx_walrus_audit_metadata(t, b, dir) != 0) {
        return;
    }

    b->npairs = walrus_audit_positions(t->committee, &b->meta,
                                       t->beacon.seed, b->route.blob_id,
                                       t->node, b->pos);

    if (b->npairs == 0) {
        snprintf(b->why, sizeof(b->why), "this node holds no pair of it");
        walrus_metadata_free(&b->meta);
        return;
    }

    b->held = 1;
    b->size = walrus_audit_blob_size(&b->meta, b->pos, b->npairs);

    for (i = 0; i < b->npairs; i++) {
        (void) walrus_audit_slice(&b->meta, &b->pos[i], WALRUS_PRIMARY,
                                  &primary);
        (void) walrus_audit_slice(&b->meta, &b->pos[i], WALRUS_SECONDARY,
                                  &secondary);
        b->slices += primary + secondary;
    }

    size = walrus_metadata_size(&b->meta);

    if (*kept + size <= NGX_WALRUS_AUDIT_META_KEEP) {
        *kept += size;
        b->kept = 1;

    } else {
        walrus_metadata_free(&b->meta);
    }
}


/* the blob's metadata, checked against its ID and the committee's n */

static int
ngx_walrus_audit_metadata(ngx_walrus_audit_answer_t *t,
    ngx_walrus_audit_blob_t *b, char *dir)
{
    int                        fd, rc;
    struct stat                st;
    ngx_walrus_node_result_t   e;

    if (walrus_store_dir(dir, (char *) t->store.data, t->store.len,
                         b->route.id_text)
        != 0)
    {
        snprintf(b->why, sizeof(b->why), "its directory name is too long");
        return -1;
    }

    fd = ngx_walrus_node_metadata(&b->route, dir, &b->meta, &st, &rc, &e);

    if (fd == -1) {
        snprintf(b->why, sizeof(b->why), "%s", e.message);
        return -1;
    }

    close(fd);

    if (rc == WALRUS_OK && b->meta.params.n != t->committee->params.n) {
        walrus_metadata_free(&b->meta);
        rc = WALRUS_EFORMAT;
    }

    if (rc != WALRUS_OK) {
        snprintf(b->why, sizeof(b->why), "its stored metadata does not "
                 "verify (%s)", walrus_strerror(rc));
        return -1;
    }

    return 0;
}


/*
 * The second pass over a blob: its entry, or "not held", at out, *len
 * its size; -1 (t->res set) only on a failure that is not the blob's.
 * The files are looked at before the buffer of its slices is grown: a
 * blob whose slivers are gone costs no memory.
 */

static int
ngx_walrus_audit_prove(ngx_walrus_audit_answer_t *t,
    ngx_walrus_audit_blob_t *b, walrus_codec_t *codec,
    ngx_walrus_audit_slices_t *buf, u_char *out, size_t *len)
{
    int             rc;
    char            dir[WALRUS_PATH_MAX];
    size_t          n;
    u_char         *p;
    unsigned        i;
    const uint8_t  *primary[WALRUS_MAX_SHARDS];
    const uint8_t  *secondary[WALRUS_MAX_SHARDS];

    if (!b->held) {
        goto missing;
    }

    if (b->kept) {
        /* the same name as in the first pass: it fits */
        (void) walrus_store_dir(dir, (char *) t->store.data, t->store.len,
                                b->route.id_text);

    } else if (ngx_walrus_audit_metadata(t, b, dir) != 0) {
        goto missing;
    }

    if (ngx_walrus_audit_files(b, dir) != 0) {
        goto missing;
    }

    if (b->slices > buf->size) {
        free(buf->data);
        buf->size = 0;

        buf->data = malloc(b->slices);
        if (buf->data == NULL) {
            ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                 "NO_MEMORY", "out of memory");
            return -1;
        }

        buf->size = b->slices;
    }

    p = buf->data;

    for (i = 0; i < b->npairs; i++) {
        if (ngx_walrus_audit_slice(b, dir, &b->pos[i], WALRUS_PRIMARY, p,
                                   &n)
            != 0)
        {
            goto missing;
        }

        primary[i] = p;
        p += n;

        if (ngx_walrus_audit_slice(b, dir, &b->pos[i], WALRUS_SECONDARY, p,
                                   &n)
            != 0)
        {
            goto missing;
        }

        secondary[i] = p;
        p += n;
    }

    rc = walrus_audit_blob_write(codec, &b->meta, b->route.blob_id, b->pos,
                                 b->npairs, primary, secondary, out);

    if (rc == WALRUS_OK) {
        *len = b->size;
        return 0;
    }

    if (rc != WALRUS_EHASH) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                             "INTERNAL_ERROR", "building the entry of blob "
                             "%s failed: %s", b->route.id_text,
                             walrus_strerror(rc));
        return -1;
    }

    snprintf(b->why, sizeof(b->why), "a sliver slice of its pairs does not "
             "match the metadata");

missing:

    b->held = 0;
    walrus_audit_blob_missing(b->route.blob_id, out);
    *len = walrus_audit_blob_size(NULL, NULL, 0);

    return 0;
}


/* whether every sliver file the positions need is there, of its size */

static int
ngx_walrus_audit_files(ngx_walrus_audit_blob_t *b, const char *dir)
{
    char          name[32], path[WALRUS_PATH_MAX];
    uint64_t      size;
    unsigned      i, axis;
    struct stat   st;

    for (i = 0; i < b->npairs; i++) {
        for (axis = WALRUS_PRIMARY; axis <= WALRUS_SECONDARY; axis++) {
            walrus_store_sliver_name(name, sizeof(name), b->pos[i].pair,
                                     axis == WALRUS_SECONDARY);

            if (walrus_store_path(path, dir, name) != 0
                || stat(path, &st) == -1)
            {
                snprintf(b->why, sizeof(b->why), "sliver %s: %s", name,
                         strerror(errno));
                return -1;
            }

            size = walrus_sliver_file_size(&b->meta, axis);

            if ((uint64_t) st.st_size != size) {
                snprintf(b->why, sizeof(b->why), "sliver %s has %lld "
                         "bytes, not %llu", name, (long long) st.st_size,
                         (unsigned long long) size);
                return -1;
            }
        }
    }

    return 0;
}


/* reads a position's slice of one sliver file into buf, *len its size */

static int
ngx_walrus_audit_slice(ngx_walrus_audit_blob_t *b, const char *dir,
    walrus_audit_position_t *pos, walrus_axis_e axis, u_char *buf,
    size_t *len)
{
    int       fd, rc;
    char      name[32], path[WALRUS_PATH_MAX];
    uint64_t  off;

    walrus_store_sliver_name(name, sizeof(name), pos->pair,
                             axis == WALRUS_SECONDARY);

    /* the name fitted in ngx_walrus_audit_files() */
    (void) walrus_store_path(path, dir, name);

    fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd == -1) {
        snprintf(b->why, sizeof(b->why), "sliver %s: %s", name,
                 strerror(errno));
        return -1;
    }

    off = walrus_audit_slice(&b->meta, pos, axis, len);
    rc = walrus_pread(fd, buf, *len, off);

    if (rc != 0) {
        snprintf(b->why, sizeof(b->why), "sliver %s: %s", name,
                 strerror(errno));
    }

    close(fd);

    return rc == 0 ? 0 : -1;
}
