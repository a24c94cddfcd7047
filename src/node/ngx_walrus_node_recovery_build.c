/*
 * The recovery answer of a node's pairs, built in the thread pool: the
 * metadata and the slices of the asked segments read, each entry built
 * and its proof checked against the metadata on the way; a rotten sliver
 * set aside and its pair left out.
 */

#include <ngx_walrus_node_recovery.h>
#include <ngx_walrus_node_audit_serve.h>


static int ngx_walrus_recovery_serves(ngx_walrus_recovery_t *t);
static int ngx_walrus_recovery_metadata(ngx_walrus_recovery_t *t,
    walrus_metadata_t *m);
static unsigned ngx_walrus_recovery_open(ngx_walrus_recovery_t *t,
    walrus_metadata_t *m);
static void ngx_walrus_recovery_build(ngx_walrus_recovery_t *t,
    walrus_metadata_t *m, walrus_recovery_head_t *head);
static int ngx_walrus_recovery_read(ngx_walrus_recovery_t *t,
    walrus_metadata_t *m, unsigned i, uint64_t g, u_char *primary,
    u_char *secondary);
static void ngx_walrus_recovery_keep(ngx_walrus_recovery_t *t,
    walrus_metadata_t *m, walrus_recovery_head_t *head);
static void ngx_walrus_recovery_set_aside(ngx_walrus_recovery_t *t,
    unsigned i, walrus_axis_e axis);
static void ngx_walrus_recovery_close(ngx_walrus_recovery_t *t,
    unsigned i);


/* runs in a thread pool: system calls and the core library only */

void
ngx_walrus_recovery_thread(void *data, ngx_log_t *log)
{
    unsigned                 i;
    uint32_t                 fits;
    uint64_t                 size;
    walrus_metadata_t        m;
    ngx_walrus_recovery_t   *t;
    walrus_recovery_head_t   head;

    t = data;

    for (i = 0; i < t->npairs; i++) {
        t->fds[i][0] = -1;
        t->fds[i][1] = -1;
    }

    if (ngx_walrus_recovery_serves(t) != 0
        || ngx_walrus_recovery_metadata(t, &m) != 0)
    {
        return;
    }

    if (t->all) {
        t->first = 0;
        t->last = m.nsegments - 1;
    }

    if (t->last >= m.nsegments) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST,
                              "INVALID_RANGE", "segments %llu-%llu: blob %s "
                              "has %llu segments",
                              (unsigned long long) t->first,
                              (unsigned long long) t->last, t->route.id_text,
                              (unsigned long long) m.nsegments);
        goto done;
    }

    /*
     * The bound follows from the committee (this node's pairs), not from
     * which files are there, so that a healer can tell it in advance.
     */

    ngx_memzero(&head, sizeof(walrus_recovery_head_t));
    ngx_memcpy(head.blob_id, t->route.blob_id, WALRUS_BLOB_ID_LEN);
    head.target = t->route.pair;
    head.axes = t->axes;
    head.first = (uint32_t) t->first;
    head.count = (uint32_t) (t->last - t->first + 1);
    head.nhelpers = t->npairs;

    size = walrus_recovery_answer_size(&m, &head);

    if (size > WALRUS_RECOVERY_MAX_ANSWER) {
        fits = walrus_recovery_segments_within(&m, t->axes, t->npairs,
                                               t->first,
                                               WALRUS_RECOVERY_MAX_ANSWER);
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST,
                              "ANSWER_TOO_LARGE", "the answer would have "
                              "%llu bytes, more than the %d allowed: ask for "
                              "at most %u segments from segment %llu",
                              (unsigned long long) size,
                              WALRUS_RECOVERY_MAX_ANSWER, (unsigned) fits,
                              (unsigned long long) t->first);
        goto done;
    }

    if (ngx_walrus_recovery_open(t, &m) > 0) {
        ngx_walrus_recovery_build(t, &m, &head);
    }

    if (t->res.status == 0 && t->len == 0) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_NOT_FOUND,
                              "SLIVER_NOT_FOUND", "this node holds no sliver "
                              "of blob %s that verifies", t->route.id_text);
    }

done:

    for (i = 0; i < t->npairs; i++) {
        ngx_walrus_recovery_close(t, i);
    }

    walrus_metadata_free(&m);
}


/*
 * The one place that decides whether this node gives recovery symbols of
 * the blob: only of blobs certified (a certificate is stored only once
 * it verified), and not for a target pair the audits lock (17.5).  A
 * lock file that cannot be read refuses too: rather no symbols for a
 * while than symbols that launder a challenged blob.
 */

static int
ngx_walrus_recovery_serves(ngx_walrus_recovery_t *t)
{
    char      path[WALRUS_PATH_MAX];
    unsigned  node;
    uint32_t  round;

    if (walrus_store_path(path, t->dir, "certificate") != 0
        || walrus_store_state(path) == -1)
    {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_NOT_FOUND, "NOT_CERTIFIED",
                              "this node holds no certificate of blob %s: "
                              "it gives recovery symbols of certified "
                              "blobs only", t->route.id_text);
        return -1;
    }

    switch (ngx_walrus_audit_locked(t->locks, t->route.blob_id,
                                    t->route.pair, &node, &round))
    {

    case 0:
        return 0;

    case 1:
        ngx_walrus_node_fail(&t->res, NGX_HTTP_CONFLICT, "AUDIT_LOCKED",
                              "pair %u of blob %s is challenged in audit "
                              "round %lu of node %u: no recovery symbols "
                              "for it until that node is attested or the "
                              "round is old", (unsigned) t->route.pair,
                              t->route.id_text, (unsigned long) round,
                              node);
        return -1;

    default:
        ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                              "STORE_ERROR", "cannot read the audit locks: "
                              "%s", strerror(errno));
        return -1;
    }
}


/* the stored metadata, verified against the blob ID, or set aside */

static int
ngx_walrus_recovery_metadata(ngx_walrus_recovery_t *t, walrus_metadata_t *m)
{
    int          fd, rc;
    struct stat  st;

    fd = ngx_walrus_node_metadata(&t->route, t->dir, m, &st, &rc,
                                  &t->res);
    if (fd == -1) {
        return -1;
    }

    if (rc == WALRUS_OK && m->params.n != t->n) {
        walrus_metadata_free(m);
        rc = WALRUS_EFORMAT;
    }

    if (rc != WALRUS_OK) {
        t->metadata_set_aside = (walrus_store_set_aside(fd, t->dir,
                                                         "metadata") == 1);

        ngx_walrus_node_fail(&t->res, NGX_HTTP_NOT_FOUND,
                              "METADATA_NOT_FOUND", "the stored metadata of "
                              "blob %s does not verify; it was set aside",
                              t->route.id_text);
    }

    close(fd);

    return rc == WALRUS_OK ? 0 : -1;
}


/*
 * Opens the sliver files the asked axes need: the secondary sliver
 * serves the primary axis, the primary sliver the secondary one.  A pair
 * with a file missing is left out; one of the wrong size is set aside.
 * Returns how many pairs are left.
 */

static unsigned
ngx_walrus_recovery_open(ngx_walrus_recovery_t *t, walrus_metadata_t *m)
{
    int            fd;
    char           name[32], path[WALRUS_PATH_MAX];
    unsigned       i, axis, left;
    struct stat    st;

    left = 0;

    for (i = 0; i < t->npairs; i++) {
        for (axis = WALRUS_PRIMARY; axis <= WALRUS_SECONDARY; axis++) {
            if (!(t->axes & (axis == WALRUS_PRIMARY
                             ? WALRUS_RECOVERY_SECONDARY
                             : WALRUS_RECOVERY_PRIMARY)))
            {
                continue;
            }

            walrus_store_sliver_name(name, sizeof(name), t->pairs[i],
                                     axis == WALRUS_SECONDARY);

            fd = -1;

            if (walrus_store_path(path, t->dir, name) == 0) {
                fd = open(path, O_RDONLY | O_CLOEXEC);
            }

            t->fds[i][axis] = fd;

            if (fd == -1 || fstat(fd, &st) == -1) {
                break;
            }

            if ((uint64_t) st.st_size != walrus_sliver_file_size(m, axis)) {
                ngx_walrus_recovery_set_aside(t, i, axis);
                break;
            }
        }

        if (axis <= WALRUS_SECONDARY) {
            /* left out: a file is missing or bad */
            ngx_walrus_recovery_close(t, i);
            continue;
        }

        t->state[i] = NGX_WALRUS_PAIR_IN;
        left++;
    }

    return left;
}


static void
ngx_walrus_recovery_close(ngx_walrus_recovery_t *t, unsigned i)
{
    unsigned  axis;

    for (axis = WALRUS_PRIMARY; axis <= WALRUS_SECONDARY; axis++) {
        if (t->fds[i][axis] != -1) {
            close(t->fds[i][axis]);
            t->fds[i][axis] = -1;
        }
    }
}


static void
ngx_walrus_recovery_set_aside(ngx_walrus_recovery_t *t, unsigned i,
    walrus_axis_e axis)
{
    char  name[32];

    walrus_store_sliver_name(name, sizeof(name), t->pairs[i],
                             axis == WALRUS_SECONDARY);

    if (walrus_store_set_aside(t->fds[i][axis], t->dir, name) == 1) {
        t->rotten[i] |= axis == WALRUS_PRIMARY ? NGX_WALRUS_ROTTEN_PRIMARY
                                               : NGX_WALRUS_ROTTEN_SECONDARY;
    }
}


/*
 * Builds the entries of the pairs in the answer, segment by segment, into
 * t->answer laid out for all of them; a pair found rotten on the way is
 * dropped from there on and its entries removed at the end.
 */

static void
ngx_walrus_recovery_build(ngx_walrus_recovery_t *t, walrus_metadata_t *m,
    walrus_recovery_head_t *head)
{
    int              rc;
    size_t           sym, entry;
    u_char          *p, *primary, *secondary;
    uint64_t         g;
    unsigned         i, bad;
    walrus_codec_t  *codec;

    head->nhelpers = 0;

    for (i = 0; i < t->npairs; i++) {
        if (t->state[i] == NGX_WALRUS_PAIR_IN) {
            head->helpers[head->nhelpers++] = t->pairs[i];
        }
    }

    /* the slices of a full segment are the largest */

    sym = walrus_symbol_size(&m->params, m->segment_size);
    primary = malloc(walrus_sliver_size(&m->params, WALRUS_PRIMARY, sym));
    secondary = malloc(walrus_sliver_size(&m->params, WALRUS_SECONDARY, sym));
    t->answer = malloc(walrus_recovery_answer_size(m, head));
    codec = walrus_codec_create(m->params.n);

    if (primary == NULL || secondary == NULL || t->answer == NULL
        || codec == NULL)
    {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                              "NO_MEMORY", "out of memory");
        goto done;
    }

    p = t->answer + walrus_recovery_head_size(head->nhelpers);

    for (g = t->first; g <= t->last; g++) {
        entry = walrus_recovery_entry_size(m, t->axes, g);

        for (i = 0; i < t->npairs; i++) {
            if (t->state[i] == NGX_WALRUS_PAIR_OUT) {
                continue;
            }

            if (t->state[i] == NGX_WALRUS_PAIR_DROPPED
                || ngx_walrus_recovery_read(t, m, i, g, primary, secondary)
                   != 0)
            {
                p += entry;
                continue;
            }

            rc = walrus_recovery_build(codec, m, head, g, t->pairs[i],
                                       primary, secondary, p, &bad);

            if (rc == WALRUS_EHASH) {
                if (bad & WALRUS_RECOVERY_PRIMARY) {
                    ngx_walrus_recovery_set_aside(t, i, WALRUS_SECONDARY);
                }

                if (bad & WALRUS_RECOVERY_SECONDARY) {
                    ngx_walrus_recovery_set_aside(t, i, WALRUS_PRIMARY);
                }

                t->state[i] = NGX_WALRUS_PAIR_DROPPED;

            } else if (rc != WALRUS_OK) {
                ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "INTERNAL_ERROR", "building the "
                                      "answer failed: %s",
                                      walrus_strerror(rc));
                goto done;
            }

            p += entry;
        }
    }

    ngx_walrus_recovery_keep(t, m, head);

done:

    walrus_codec_destroy(codec);
    free(secondary);
    free(primary);
}


/*
 * Reads the slices of pair i in segment g that the asked axes need; a
 * pair whose file cannot be read is dropped (not set aside: the error
 * may pass).
 */

static int
ngx_walrus_recovery_read(ngx_walrus_recovery_t *t, walrus_metadata_t *m,
    unsigned i, uint64_t g, u_char *primary, u_char *secondary)
{
    size_t         sym;
    unsigned       axis;
    u_char        *buf;

    sym = walrus_symbol_size(&m->params,
                             walrus_segment_length(m->length,
                                                   m->segment_size, g));

    for (axis = WALRUS_PRIMARY; axis <= WALRUS_SECONDARY; axis++) {
        if (t->fds[i][axis] == -1) {
            continue;
        }

        buf = axis == WALRUS_PRIMARY ? primary : secondary;

        if (walrus_pread(t->fds[i][axis], buf,
                         walrus_sliver_size(&m->params, axis, sym),
                         walrus_sliver_offset(m, axis, g))
            != 0)
        {
            t->state[i] = NGX_WALRUS_PAIR_DROPPED;
            return -1;
        }
    }

    return 0;
}


/*
 * Moves the entries of the pairs kept over those of the pairs dropped and
 * writes the header: t->len is 0 when no pair is left.
 */

static void
ngx_walrus_recovery_keep(ngx_walrus_recovery_t *t, walrus_metadata_t *m,
    walrus_recovery_head_t *head)
{
    size_t     entry;
    u_char    *src, *dst;
    uint64_t   g;
    unsigned   i;

    src = t->answer + walrus_recovery_head_size(head->nhelpers);
    head->nhelpers = 0;

    for (i = 0; i < t->npairs; i++) {
        if (t->state[i] == NGX_WALRUS_PAIR_IN) {
            head->helpers[head->nhelpers++] = t->pairs[i];
        }
    }

    if (head->nhelpers == 0) {
        return;
    }

    dst = t->answer + walrus_recovery_head_size(head->nhelpers);

    for (g = t->first; g <= t->last; g++) {
        entry = walrus_recovery_entry_size(m, t->axes, g);

        for (i = 0; i < t->npairs; i++) {
            if (t->state[i] == NGX_WALRUS_PAIR_OUT) {
                continue;
            }

            if (t->state[i] == NGX_WALRUS_PAIR_IN) {
                if (dst != src) {
                    ngx_memmove(dst, src, entry);
                }

                dst += entry;
            }

            src += entry;
        }
    }

    walrus_recovery_head_write(head, t->answer);
    t->len = dst - t->answer;
}
