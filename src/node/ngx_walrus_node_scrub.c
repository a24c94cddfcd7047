/*
 * The keeper's scrub phase: reads the node's stored files again at a
 * bounded rate (walrus_node_scrub_rate) and checks them against the
 * metadata, whatever their verification stamp says (a disk can rot a
 * byte without touching a file's time).  A file that does not verify is
 * set aside as <name>.bad, so that the heal phase rebuilds it from the
 * peers.  It goes through the node's record of certified blobs in
 * passes, from a cursor of its own.
 */

#include <ngx_walrus_node_keeper.h>
#include <walrus_codec.h>
#include <walrus_lifetime.h>
#include <walrus_metadata.h>
#include <walrus_record.h>
#include <walrus_sliver_file.h>
#include <walrus_store.h>


/* record bytes a scrub task looks at, at most */
#define NGX_WALRUS_SCRUB_RECORD  (64 * 1024)

/* files set aside a task reports by name */
#define NGX_WALRUS_SCRUB_NAMES   8


typedef struct {
    const walrus_committee_t  *committee;
    ngx_uint_t                 node;
    char                       store[WALRUS_PATH_MAX];
    char                       record[WALRUS_PATH_MAX];
    uint64_t                   cursor;     /* in: from, out: next */
    uint64_t                   budget;     /* bytes to read, at most */
    uint64_t                   read;
    ngx_uint_t                 files;
    ngx_uint_t                 bad;
    char                       names[NGX_WALRUS_SCRUB_NAMES][80];
    unsigned                   end:1;
    int                        err;
} ngx_walrus_scrub_t;


static void ngx_walrus_scrub_run(void *data, ngx_log_t *log);
static int ngx_walrus_scrub_blob(void *data,
    const walrus_record_entry_t *e);
static void ngx_walrus_scrub_file(ngx_walrus_scrub_t *sc, const char *dir,
    const char *id_text, const char *name, const walrus_metadata_t *m,
    walrus_codec_t *codec, unsigned pair, walrus_axis_e axis);
static void ngx_walrus_scrub_done(ngx_walrus_round_t *rd, void *data);


ngx_int_t
ngx_walrus_scrub_start(ngx_walrus_round_t *rd)
{
    ngx_msec_t           now;
    ngx_walrus_keeper_t  *kp;
    ngx_walrus_scrub_t   *sc;

    kp = rd->keeper;

    if (kp->conf->scrub_rate == 0 || rd->phase_data != NULL) {
        rd->phase_data = NULL;
        return NGX_DONE;
    }

    /* the rate is kept as credit: bytes read beyond it are paid back */

    now = ngx_current_msec;

    if (kp->scrub_last != 0) {
        kp->scrub_credit += (int64_t) (kp->conf->scrub_rate
                                       * (now - kp->scrub_last) / 1000);
    }

    kp->scrub_last = now;

    if (kp->scrub_credit > (int64_t) kp->conf->scrub_rate) {
        kp->scrub_credit = kp->conf->scrub_rate;
    }

    if (kp->scrub_credit <= 0) {
        return NGX_DONE;
    }

    sc = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_scrub_t));
    if (sc == NULL) {
        return NGX_ERROR;
    }

    sc->committee = kp->committee;
    sc->node = kp->conf->node_index;
    sc->cursor = kp->scrub_cursor;
    sc->budget = kp->scrub_credit;

    if (ngx_snprintf((u_char *) sc->store, sizeof(sc->store), "%V%Z",
                     &kp->conf->store)
        == (u_char *) sc->store + sizeof(sc->store)
        || walrus_record_path(sc->record, (char *) kp->conf->store.data,
                              kp->conf->store.len) != 0)
    {
        return NGX_ERROR;
    }

    if (ngx_walrus_round_task(rd, ngx_walrus_scrub_run,
                              ngx_walrus_scrub_done, sc)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* one task per round: the phase ends when it is done */
    rd->phase_data = sc;

    return NGX_AGAIN;
}


/* in the thread pool: whole blobs from the cursor until the budget */

static void
ngx_walrus_scrub_run(void *data, ngx_log_t *log)
{
    ngx_walrus_scrub_t  *sc = data;

    sc->end = ngx_walrus_record_walk(sc->record, &sc->cursor,
                                     NGX_WALRUS_SCRUB_RECORD,
                                     ngx_walrus_scrub_blob, sc, &sc->err);
}


int
ngx_walrus_record_walk(const char *path, uint64_t *cursor, size_t limit,
    int (*entry)(void *data, const walrus_record_entry_t *e), void *data,
    int *err)
{
    int                     rc, restarted;
    u_char                 *buf, *p, *last;
    walrus_record_range_t   rg;
    walrus_record_entry_t   e;

    rc = walrus_record_read_from(path, cursor, limit, NULL, &rg, &buf,
                                 &restarted);

    if (rc != WALRUS_OK || buf == NULL) {
        *err = (rc == WALRUS_OK || (rc == WALRUS_EIO && errno == ENOENT))
               ? 0 : (rc == WALRUS_EIO ? errno : EINVAL);
        return 1;
    }

    p = buf;
    last = buf + (rg.end - rg.start);

    while (p < last) {
        if (walrus_record_entry_parse(NULL, &e, p, last - p) != WALRUS_OK) {
            *err = EINVAL;
            break;
        }

        if (entry(data, &e) != 0) {
            break;
        }

        p += e.size;
    }

    *cursor = rg.start + (p - buf);

    free(buf);

    return 0;
}


/*
 * The blob's metadata (against its ID) and this node's sliver files of
 * it.  Files that are missing are the heal's business, not this.
 */

static int
ngx_walrus_scrub_blob(void *data, const walrus_record_entry_t *e)
{
    ngx_walrus_scrub_t  *sc = data;

    int                   fd, rc;
    u_char               *meta;
    char                  id_text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    char                  dir[WALRUS_PATH_MAX], path[WALRUS_PATH_MAX];
    char                  name[32];
    size_t                meta_len;
    unsigned              i, pair;
    walrus_cert_t         cert;
    walrus_codec_t       *codec;
    walrus_metadata_t     m;
    const walrus_node_t  *node;

    if (sc->read >= sc->budget) {
        return 1;
    }

    if (walrus_cert_parse(&cert, e->cert, e->cert_len) != WALRUS_OK) {
        return 0;
    }

    walrus_blob_id_format(cert.blob_id, id_text);

    if (walrus_store_dir(dir, sc->store, strlen(sc->store), id_text) != 0
        || walrus_store_path(path, dir, "metadata") != 0)
    {
        return 0;
    }

    /* an expired blob is not read again: it is about to be reclaimed */

    if (walrus_lifetime_entry_expired(dir, e, sc->committee->epoch)) {
        return 0;
    }

    if (walrus_read_file(path, 64 * 1024 * 1024, &meta, &meta_len) != 0) {
        return 0;
    }

    sc->read += meta_len;

    rc = walrus_metadata_parse(&m, meta, meta_len);

    if (rc == WALRUS_OK) {
        rc = walrus_metadata_check(&m, cert.blob_id);

        if (rc != WALRUS_OK) {
            walrus_metadata_free(&m);
        }
    }

    free(meta);

    if (rc != WALRUS_OK) {
        fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd != -1) {
            if (walrus_store_set_aside(fd, dir, "metadata") == 1
                && sc->bad < NGX_WALRUS_SCRUB_NAMES)
            {
                (void) snprintf(sc->names[sc->bad], sizeof(sc->names[0]),
                                "%s/metadata", id_text);
            }

            sc->bad++;
            (void) close(fd);
        }

        return 0;
    }

    codec = walrus_codec_create(m.params.n);
    if (codec == NULL) {
        walrus_metadata_free(&m);
        sc->err = ENOMEM;
        return -1;
    }

    node = &sc->committee->nodes[sc->node];

    for (i = 0; i < node->nshards; i++) {
        pair = walrus_shard_to_pair(&m.params, cert.blob_id,
                                    node->shards[i]);

        walrus_store_sliver_name(name, sizeof(name), pair, 0);
        ngx_walrus_scrub_file(sc, dir, id_text, name, &m, codec, pair,
                              WALRUS_PRIMARY);

        walrus_store_sliver_name(name, sizeof(name), pair, 1);
        ngx_walrus_scrub_file(sc, dir, id_text, name, &m, codec, pair,
                              WALRUS_SECONDARY);
    }

    walrus_codec_destroy(codec);
    walrus_metadata_free(&m);

    return 0;
}


static void
ngx_walrus_scrub_file(ngx_walrus_scrub_t *sc, const char *dir,
    const char *id_text, const char *name, const walrus_metadata_t *m,
    walrus_codec_t *codec, unsigned pair, walrus_axis_e axis)
{
    int       fd, rc;
    char      path[WALRUS_PATH_MAX];
    uint8_t  *buf;

    if (walrus_store_path(path, dir, name) != 0) {
        return;
    }

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return;
    }

    buf = malloc(walrus_sliver_file_buffer(m) + 1);
    if (buf == NULL) {
        sc->err = ENOMEM;
        (void) close(fd);
        return;
    }

    /* the byte before the slices is for hashing them in place */
    rc = walrus_sliver_file_verify(fd, m, codec, buf + 1, pair, axis);

    free(buf);

    sc->files++;
    sc->read += walrus_sliver_file_size(m, axis);

    /* the scrubber's own failure says nothing of the file: it stays */

    if (rc == WALRUS_ENOMEM || rc == WALRUS_ECRYPTO) {
        sc->err = rc == WALRUS_ENOMEM ? ENOMEM : EPROTO;
        (void) close(fd);
        return;
    }

    if (rc != WALRUS_OK && walrus_store_set_aside(fd, dir, name) == 1) {
        if (sc->bad < NGX_WALRUS_SCRUB_NAMES) {
            (void) snprintf(sc->names[sc->bad], sizeof(sc->names[0]),
                            "%s/%s", id_text, name);
        }

        sc->bad++;
    }

    (void) close(fd);
}


static void
ngx_walrus_scrub_done(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_scrub_t  *sc = data;

    ngx_uint_t            i;
    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;

    kp->scrub_credit -= (int64_t) sc->read;
    kp->scrub_cursor = sc->end ? 0 : sc->cursor;
    kp->scrubbed += sc->read;
    kp->scrub_bad += sc->bad;
    ngx_walrus_node_count(&kp->conf->node_name, NGX_WALRUS_NM_SCRUB_BYTES, 0,
                          sc->read);
    ngx_walrus_node_count(&kp->conf->node_name, NGX_WALRUS_NM_SCRUB_BAD, 0,
                          sc->bad);

    if (sc->end) {
        kp->scrub_passes++;
        ngx_walrus_node_count(&kp->conf->node_name,
                              NGX_WALRUS_NM_SCRUB_PASSES, 0, 1);
    }

    if (sc->err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, sc->err,
                      "walrus: node %V: the scrubber cannot read the store",
                      &kp->conf->node_name);
    }

    for (i = 0; i < sc->bad && i < NGX_WALRUS_SCRUB_NAMES; i++) {
        ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                      "walrus: node %V: %s does not verify against the "
                      "metadata: set aside as .bad, to be rebuilt",
                      &kp->conf->node_name, sc->names[i]);
    }

    if (sc->bad) {
        /* the heal's next pass starts over, to find what went aside */
        kp->scan_cursor = 0;
        kp->scan_known = 0;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "walrus: node %V: scrubbed %uL bytes, %ui bad",
                   &kp->conf->node_name, sc->read, sc->bad);
}
