/*
 * The heal phase's scan: the entries of this node's record after the
 * keeper's cursor, and among them the blobs whose metadata or sliver
 * files of this node's shards are missing.
 */

#include <ngx_walrus_node_heal.h>
#include <walrus_lifetime.h>
#include <walrus_record.h>


static void ngx_walrus_heal_scan_run(void *data, ngx_log_t *log);
static int ngx_walrus_heal_scan_entry(ngx_walrus_heal_scan_t *sc,
    const walrus_record_entry_t *e, uint64_t cursor);
static ngx_uint_t ngx_walrus_heal_same_record(ngx_walrus_heal_scan_t *sc);
static void ngx_walrus_heal_scanned(ngx_walrus_round_t *rd, void *data);
static void ngx_walrus_heal_scan_gauges(ngx_walrus_keeper_t *kp);


ngx_int_t
ngx_walrus_heal_scan(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h)
{
    ngx_walrus_keeper_t     *kp;
    ngx_walrus_heal_scan_t  *sc;

    kp = rd->keeper;

    sc = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_heal_scan_t));
    if (sc == NULL) {
        return NGX_ERROR;
    }

    sc->heal = h;
    sc->committee = kp->committee;
    sc->node = kp->conf->node_index;
    sc->cursor = kp->scan_known ? kp->scan_cursor : 0;

    if (!kp->scan_known) {
        /* a new pass: whether it knows every blob certified so far */
        kp->pass_synced = kp->synced;
    }
    ngx_memcpy(sc->record_id, kp->scan_record, WALRUS_RECORD_ID_LEN);

    if (ngx_snprintf((u_char *) sc->store, sizeof(sc->store), "%V%Z",
                     &kp->conf->store)
        == (u_char *) sc->store + sizeof(sc->store)
        || walrus_record_path(sc->record, (char *) kp->conf->store.data,
                              kp->conf->store.len) != 0)
    {
        return NGX_ERROR;
    }

    h->nblobs = 0;
    h->current = 0;

    return ngx_walrus_round_task(rd, ngx_walrus_heal_scan_run,
                                 ngx_walrus_heal_scanned, sc);
}


/*
 * In the thread pool: the entries after the cursor, up to a bound, and
 * the blobs among them that miss files here.  A certificate or
 * registration file that is missing is written from the entry at once.
 */

static void
ngx_walrus_heal_scan_run(void *data, ngx_log_t *log)
{
    ngx_walrus_heal_scan_t  *sc = data;

    int                     rc, restarted;
    u_char                 *buf, *p, *last;
    size_t                  len;
    walrus_record_range_t   rg;
    walrus_record_entry_t   e;

    /* another record (the store was wiped) is read from its start */

    rc = walrus_record_read_from(sc->record, &sc->cursor,
                                 NGX_WALRUS_HEAL_SCAN, sc->record_id, &rg,
                                 &buf, &restarted);
    sc->restart = restarted;

    if (rc != WALRUS_OK) {
        /* no record yet: nothing to keep */
        sc->err = (rc == WALRUS_EIO && errno == ENOENT) ? 0
                  : (rc == WALRUS_EIO ? errno : EINVAL);
        sc->end = 1;
        return;
    }

    ngx_memcpy(sc->record_id, rg.id, WALRUS_RECORD_ID_LEN);

    len = rg.end - rg.start;

    if (len == 0) {
        sc->end = 1;
        return;
    }

    /* the blob IDs met, one per entry at most */

    sc->seen = malloc(len / (4 + WALRUS_RECORD_BODY_MIN
                             + WALRUS_RECORD_CHECK_LEN)
                      * WALRUS_BLOB_ID_LEN);
    if (sc->seen == NULL) {
        sc->err = ENOMEM;
        free(buf);
        return;
    }

    p = buf;
    last = buf + len;

    while (p < last && sc->heal->nblobs < NGX_WALRUS_HEAL_BLOBS) {
        if (walrus_record_entry_parse(NULL, &e, p, last - p) != WALRUS_OK) {
            sc->err = EINVAL;
            break;
        }

        if (ngx_walrus_heal_scan_entry(sc, &e, rg.start + (p - buf)) != 0)
        {
            sc->err = errno;
            break;
        }

        p += e.size;
    }

    sc->cursor = rg.start + (p - buf);
    sc->end = sc->cursor == rg.end && rg.end - rg.start < NGX_WALRUS_HEAL_SCAN
              - WALRUS_RECORD_ENTRY_MAX;

    free(sc->seen);
    free(buf);
}


static int
ngx_walrus_heal_scan_entry(ngx_walrus_heal_scan_t *sc,
    const walrus_record_entry_t *e, uint64_t cursor)
{
    char                     dir[WALRUS_PATH_MAX], path[WALRUS_PATH_MAX];
    char                     name[32];
    unsigned                 i, pair, missing;
    struct stat              st;
    walrus_cert_t            cert;
    const walrus_node_t     *node;
    ngx_walrus_heal_blob_t  *b;

    /* the node wrote the entry after checking it: no signature check */
    if (walrus_cert_parse(&cert, e->cert, e->cert_len) != WALRUS_OK) {
        return 0;
    }

    /*
     * A blob recorded twice (its directory lost before the sync met its
     * peers' entries of it, two first PUTs of its certificate) is looked
     * at once per scan: it is neither healed nor counted twice.
     */

    for (i = 0; i < sc->nseen; i++) {
        if (memcmp(sc->seen + i * WALRUS_BLOB_ID_LEN, cert.blob_id,
                   WALRUS_BLOB_ID_LEN)
            == 0)
        {
            return 0;
        }
    }

    memcpy(sc->seen + sc->nseen++ * WALRUS_BLOB_ID_LEN, cert.blob_id,
           WALRUS_BLOB_ID_LEN);

    b = &sc->heal->blobs[sc->heal->nblobs];
    ngx_memzero(b, sizeof(ngx_walrus_heal_blob_t));
    ngx_memcpy(b->id, cert.blob_id, WALRUS_BLOB_ID_LEN);
    walrus_blob_id_format(b->id, b->id_text);
    b->cursor = cursor;
    b->epoch = cert.epoch;

    if (walrus_store_dir(dir, sc->store, strlen(sc->store), b->id_text) != 0)
    {
        return -1;
    }

    /*
     * An expired blob is the garbage collection's, not rebuilt: nor are
     * its certificate and registration written back from the entry.
     */

    if (walrus_lifetime_entry_expired(dir, e, sc->committee->epoch)) {
        return 0;
    }

    if (walrus_store_mkdir(dir) != 0) {
        return -1;
    }

    /* an inconsistently encoded blob has nothing to rebuild */

    sc->examined++;

    if (walrus_store_path(path, dir, "inconsistency") == 0
        && stat(path, &st) == 0)
    {
        sc->inconsistent++;
        return 0;
    }

    /* the record has it: its certificate is here too (a wiped blob) */

    if (walrus_store_path(path, dir, "certificate") == 0
        && stat(path, &st) != 0 && ngx_walrus_heal_same_record(sc)
        && walrus_record_keep_files(dir, sc->record, e) != 0)
    {
        return -1;
    }

    b->has_meta = walrus_store_path(path, dir, "metadata") == 0
                  && stat(path, &st) == 0;

    node = &sc->committee->nodes[sc->node];

    for (i = 0; i < node->nshards; i++) {
        pair = walrus_shard_to_pair(&sc->committee->params, b->id,
                                    node->shards[i]);
        missing = 0;

        walrus_store_sliver_name(name, sizeof(name), pair, 0);
        if (walrus_store_path(path, dir, name) != 0 || stat(path, &st) != 0)
        {
            missing |= NGX_WALRUS_MISSING_PRIMARY;

        } else {
            sc->slivers++;
            sc->bytes += st.st_size;
        }

        walrus_store_sliver_name(name, sizeof(name), pair, 1);
        if (walrus_store_path(path, dir, name) != 0 || stat(path, &st) != 0)
        {
            missing |= NGX_WALRUS_MISSING_SECONDARY;

        } else {
            sc->slivers++;
            sc->bytes += st.st_size;
        }

        if (missing) {
            b->missing[pair] = (u_char) missing;
            b->pairs[b->npairs++] = pair;
        }
    }

    if (b->npairs > 0 || !b->has_meta) {
        sc->heal->nblobs++;
        sc->pending++;
    }

    return 0;
}


/*
 * Whether the record read is still the store's: a store wiped while the
 * scan ran must not get certificates of blobs its new record lacks (the
 * sync would then take them for known and never record them).
 */

static ngx_uint_t
ngx_walrus_heal_same_record(ngx_walrus_heal_scan_t *sc)
{
    uint8_t  id[WALRUS_RECORD_ID_LEN];

    return walrus_record_identity(sc->record, id) == 1
           && memcmp(id, sc->record_id, WALRUS_RECORD_ID_LEN) == 0;
}


static void
ngx_walrus_heal_scanned(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_heal_scan_t  *sc = data;

    ngx_walrus_heal_t    *h;
    ngx_walrus_keeper_t  *kp;

    h = sc->heal;
    kp = rd->keeper;

    if (sc->err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, sc->err,
                      "walrus: node %V: cannot read its record of "
                      "certified blobs", &kp->conf->node_name);
    }

    if (sc->restart && kp->scan_known) {
        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "walrus: node %V: its record of certified blobs is "
                      "new: checking it from the start",
                      &kp->conf->node_name);
    }

    kp->pass_known += sc->examined;
    kp->pass_pending += sc->pending;
    kp->pass_inconsistent += sc->inconsistent;
    kp->pass_slivers += sc->slivers;
    kp->pass_bytes += sc->bytes;

    if (sc->end) {
        kp->whole_synced = kp->pass_synced;
        kp->known = kp->pass_known;
        kp->pending = kp->pass_pending;
        kp->inconsistent = kp->pass_inconsistent;
        ngx_walrus_heal_scan_gauges(kp);
        kp->pass_known = 0;
        kp->pass_pending = 0;
        kp->pass_inconsistent = 0;
        kp->pass_slivers = 0;
        kp->pass_bytes = 0;
    }

    /* at the end, the next pass starts over: files may go at any time */

    kp->scan_cursor = sc->end ? 0 : sc->cursor;
    kp->scan_known = !sc->end;
    ngx_memcpy(kp->scan_record, sc->record_id, WALRUS_RECORD_ID_LEN);
    rd->changed = 1;

    h->scan_more = !sc->end && sc->err == 0;
    h->current = 0;
    h->state = NGX_WALRUS_HEAL_BLOB_NEXT;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "walrus: node %V: heal scan found %ui blobs, end %d",
                   &kp->conf->node_name, h->nblobs, (int) sc->end);
}


/* what the pass found, for the metrics: no walk of the store per scrape */

static void
ngx_walrus_heal_scan_gauges(ngx_walrus_keeper_t *kp)
{
    ngx_str_t  *name;

    name = &kp->conf->node_name;

    ngx_walrus_node_gauge(name, NGX_WALRUS_NM_SLIVERS, 0, kp->pass_slivers);
    ngx_walrus_node_gauge(name, NGX_WALRUS_NM_SLIVER_BYTES, 0,
                          kp->pass_bytes);
    ngx_walrus_node_gauge(name, NGX_WALRUS_NM_BLOBS, NGX_WALRUS_BLOBS_HELD,
                          kp->known - kp->pending - kp->inconsistent);
    ngx_walrus_node_gauge(name, NGX_WALRUS_NM_BLOBS,
                          NGX_WALRUS_BLOBS_PENDING, kp->pending);
    ngx_walrus_node_gauge(name, NGX_WALRUS_NM_BLOBS,
                          NGX_WALRUS_BLOBS_INCONSISTENT, kp->inconsistent);
}
