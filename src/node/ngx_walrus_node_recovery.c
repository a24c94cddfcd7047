/*
 * GET /v1/blobs/{id}/recovery/{pair}?segments=A-B&axes=primary|secondary|both
 * answers the recovery symbols of every sliver pair this node holds
 * (docs/protocol.md section 11) for a node rebuilding pair {pair}.  The
 * answer is built in the thread pool into one buffer of at most
 * WALRUS_RECOVERY_MAX_ANSWER bytes, with a few answers per worker at a
 * time.  Building a symbol's proof extends the node's sliver and so
 * yields its root: a sliver that does not match the metadata is set
 * aside as "<name>.bad", as before a confirmation, and its pair left out
 * of the answer rather than sent with symbols known to be bad.
 */

#include <ngx_walrus_node.h>
#include <walrus_store.h>
#include <walrus_codec.h>
#include <walrus_metadata.h>
#include <walrus_recovery.h>


/* answers a worker builds or sends at a time, each up to 64 MiB */
#define NGX_WALRUS_RECOVERY_ACTIVE  4

/* bits of ngx_walrus_recovery_t.rotten: the files set aside, by axis */
#define NGX_WALRUS_ROTTEN_PRIMARY    1
#define NGX_WALRUS_ROTTEN_SECONDARY  2

/* ngx_walrus_recovery_t.state of a pair */
#define NGX_WALRUS_PAIR_OUT          0    /* not in the answer */
#define NGX_WALRUS_PAIR_IN           1
#define NGX_WALRUS_PAIR_DROPPED      2    /* found rotten while building */


struct ngx_walrus_recovery_s {
    ngx_walrus_route_t        route;
    unsigned                  n;         /* the committee's */
    unsigned                  axes;      /* WALRUS_RECOVERY_* bits */
    ngx_uint_t                all;       /* no segments argument */
    uint64_t                  first;
    uint64_t                  last;
    unsigned                  npairs;
    unsigned                  pairs[WALRUS_MAX_SHARDS];   /* ascending */
    int                       fds[WALRUS_MAX_SHARDS][2];  /* by axis */
    uint8_t                   state[WALRUS_MAX_SHARDS];
    uint8_t                   rotten[WALRUS_MAX_SHARDS];
    ngx_uint_t                metadata_set_aside;
    char                      dir[WALRUS_PATH_MAX];
    u_char                   *answer;    /* malloc()ed */
    size_t                    len;
    ngx_walrus_node_result_t   res;
    ngx_event_t               guard;
};


static ngx_int_t ngx_walrus_recovery_args(ngx_http_request_t *r,
    ngx_walrus_recovery_t *t);
static void ngx_walrus_recovery_cleanup(void *data);
static void ngx_walrus_recovery_thread(void *data, ngx_log_t *log);
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
static void ngx_walrus_recovery_done(ngx_http_request_t *r);


/* answers being built or sent by this worker */
static ngx_uint_t  ngx_walrus_recovery_active;


ngx_int_t
ngx_walrus_node_recovery(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    unsigned                     i, j, pair;
    walrus_node_t               *node;
    ngx_pool_cleanup_t          *cln;
    walrus_committee_t          *c;
    ngx_walrus_recovery_t       *t;
    ngx_walrus_node_loc_conf_t  *wlcf;
    ngx_walrus_main_conf_t      *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);
    wlcf = ngx_walrus_node_loc_conf(r);
    c = wmcf->committee;

    if (rt->pair >= c->params.n) {
        return ngx_walrus_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     NGX_WALRUS_DOMAIN_NODE, "INVALID_PAIR",
                                     "pair %ui is not below n = %ud",
                                     rt->pair, c->params.n);
    }

    t = ngx_pcalloc(r->pool, sizeof(ngx_walrus_recovery_t));

    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->route = *rt;
    t->n = c->params.n;

    if (ngx_walrus_recovery_args(r, t) != NGX_OK) {
        return ngx_walrus_send_error(r, t->res.status,
                                     NGX_WALRUS_DOMAIN_NODE, t->res.reason,
                                     "%s", t->res.message);
    }

    if (ngx_walrus_recovery_active >= NGX_WALRUS_RECOVERY_ACTIVE) {
        return ngx_walrus_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                     NGX_WALRUS_DOMAIN_NODE, "OVERLOADED",
                                     "the node is busy, retry later");
    }

    if (walrus_store_dir(t->dir, (char *) wlcf->store.data,
                         wlcf->store.len, rt->id_text)
        != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* this node's pairs of the blob, ascending as the answer lists them */

    node = &c->nodes[wlcf->node_index];

    for (i = 0; i < node->nshards; i++) {
        pair = walrus_shard_to_pair(&c->params, rt->blob_id,
                                    node->shards[i]);

        for (j = t->npairs; j > 0 && t->pairs[j - 1] > pair; j--) {
            t->pairs[j] = t->pairs[j - 1];
        }

        t->pairs[j] = pair;
        t->npairs++;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_walrus_recovery_cleanup;
    cln->data = t;
    ngx_walrus_recovery_active++;

    ngx_walrus_node_ctx(r)->recovery = t;

    return ngx_walrus_node_post(r, t, ngx_walrus_recovery_thread,
                                ngx_walrus_recovery_done, &t->guard);
}


/*
 * segments=A-B (or A), axes=primary|secondary|both; the range is checked
 * against the metadata in the thread
 */

static ngx_int_t
ngx_walrus_recovery_args(ngx_http_request_t *r, ngx_walrus_recovery_t *t)
{
    u_char     *dash;
    ngx_int_t   first, last;
    ngx_str_t   value;

    t->axes = WALRUS_RECOVERY_BOTH;
    t->all = 1;

    if (ngx_http_arg(r, (u_char *) "axes", 4, &value) == NGX_OK) {
        if (value.len == 7 && ngx_strncmp(value.data, "primary", 7) == 0) {
            t->axes = WALRUS_RECOVERY_PRIMARY;

        } else if (value.len == 9
                   && ngx_strncmp(value.data, "secondary", 9) == 0)
        {
            t->axes = WALRUS_RECOVERY_SECONDARY;

        } else if (value.len != 4 || ngx_strncmp(value.data, "both", 4) != 0)
        {
            ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST,
                                  "INVALID_AXES", "axes must be primary, "
                                  "secondary or both");
            return NGX_DECLINED;
        }
    }

    if (ngx_http_arg(r, (u_char *) "segments", 8, &value) != NGX_OK) {
        return NGX_OK;
    }

    dash = ngx_strlchr(value.data, value.data + value.len, '-');

    if (dash == NULL) {
        first = ngx_atoi(value.data, value.len);
        last = first;

    } else {
        first = ngx_atoi(value.data, dash - value.data);
        last = ngx_atoi(dash + 1, value.data + value.len - dash - 1);
    }

    if (first == NGX_ERROR || last == NGX_ERROR || first > last
        || value.len > 2 * NGX_INT32_LEN)
    {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST,
                              "INVALID_RANGE", "segments must be FIRST-LAST "
                              "or one segment, in decimal, FIRST <= LAST");
        return NGX_DECLINED;
    }

    t->all = 0;
    t->first = first;
    t->last = last;

    return NGX_OK;
}


static void
ngx_walrus_recovery_cleanup(void *data)
{
    ngx_walrus_recovery_t  *t = data;

    free(t->answer);
    t->answer = NULL;
    ngx_walrus_recovery_active--;
}


static void
ngx_walrus_recovery_done(ngx_http_request_t *r)
{
    unsigned                i;
    ngx_int_t               rc;
    ngx_buf_t              *b;
    ngx_chain_t             out;
    ngx_walrus_recovery_t  *t;

    t = ngx_walrus_node_ctx(r)->recovery;

    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_walrus_thread_unguard(&t->guard);

    if (t->metadata_set_aside) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "walrus: the stored metadata of blob %s does not "
                      "verify, renamed to metadata.bad", t->route.id_text);
    }

    for (i = 0; i < t->npairs; i++) {
        if (t->rotten[i] == 0) {
            continue;
        }

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "walrus: the stored %s%s%s of pair %ud of blob %s "
                      "do%s not verify, set aside as .bad and left out of "
                      "a recovery answer",
                      t->rotten[i] & NGX_WALRUS_ROTTEN_PRIMARY
                      ? "primary sliver" : "",
                      t->rotten[i] == (NGX_WALRUS_ROTTEN_PRIMARY
                                       | NGX_WALRUS_ROTTEN_SECONDARY)
                      ? " and " : "",
                      t->rotten[i] & NGX_WALRUS_ROTTEN_SECONDARY
                      ? "secondary sliver" : "",
                      t->pairs[i], t->route.id_text,
                      t->rotten[i] == (NGX_WALRUS_ROTTEN_PRIMARY
                                       | NGX_WALRUS_ROTTEN_SECONDARY)
                      ? "" : "es");
    }

    if (t->res.status >= NGX_HTTP_BAD_REQUEST) {
        ngx_http_finalize_request(r,
            ngx_walrus_send_error(r, t->res.status, NGX_WALRUS_DOMAIN_NODE,
                                  t->res.reason, "%s", t->res.message));
        return;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = t->len;
    ngx_str_set(&r->headers_out.content_type, "application/octet-stream");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    /* the cleanup frees the answer with the request, once it is sent */

    b->pos = t->answer;
    b->last = t->answer + t->len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    ngx_http_finalize_request(r, ngx_http_output_filter(r, &out));
}


/* runs in a thread pool: system calls and the core library only */

static void
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
 * it verified).  Audits will refuse here too: no recovery symbols of a
 * node's challenge set during its round.
 */

static int
ngx_walrus_recovery_serves(ngx_walrus_recovery_t *t)
{
    char  path[WALRUS_PATH_MAX];

    if (walrus_store_path(path, t->dir, "certificate") != 0
        || walrus_store_state(path) == -1)
    {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_NOT_FOUND, "NOT_CERTIFIED",
                              "this node holds no certificate of blob %s: "
                              "it gives recovery symbols of certified "
                              "blobs only", t->route.id_text);
        return -1;
    }

    return 0;
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
