/*
 * The keeper's heal phase: goes through this node's certified-blob
 * record, and for each blob whose metadata or sliver files of this
 * node's shards are missing, fetches the metadata from a peer (verified
 * against the blob ID) and rebuilds each missing sliver from recovery
 * symbols that peers send with Merkle proofs (protocol section 11).
 * Every symbol is verified, and the rebuilt sliver too, before it is made
 * durable; only then does the node confirm the blob.  A node downloads
 * about the size of what it rebuilds, not the blob.
 */

#include <ngx_walrus_node_keeper.h>
#include <ngx_walrus_buffer.h>
#include <walrus_codec.h>
#include <walrus_metadata.h>
#include <walrus_record.h>
#include <walrus_recovery.h>
#include <walrus_store.h>


/* record bytes a scan looks at, blobs it picks, scans per round */
#define NGX_WALRUS_HEAL_SCAN      (256 * 1024)
#define NGX_WALRUS_HEAL_BLOBS     8
#define NGX_WALRUS_HEAL_SCANS     4

/* answer bytes held at once for a batch of segments, all peers */
#define NGX_WALRUS_HEAL_BATCH     (16 * 1024 * 1024)

/* times peers that answered 429 are asked again for a batch */
#define NGX_WALRUS_HEAL_BUSY_RETRIES  8

#define NGX_WALRUS_MISSING_PRIMARY    1
#define NGX_WALRUS_MISSING_SECONDARY  2


typedef enum {
    NGX_WALRUS_HEAL_SCAN_NEXT = 0,
    NGX_WALRUS_HEAL_BLOB_NEXT,
    NGX_WALRUS_HEAL_META_ASK,
    NGX_WALRUS_HEAL_PAIR_NEXT,
    NGX_WALRUS_HEAL_BATCH_ASK,
    NGX_WALRUS_HEAL_COMMIT,
    NGX_WALRUS_HEAL_WAIT            /* a task decides what follows */
} ngx_walrus_heal_state_e;


typedef enum {
    NGX_WALRUS_PEER_UNASKED = 0,
    NGX_WALRUS_PEER_ASKED,
    NGX_WALRUS_PEER_ANSWERED,
    NGX_WALRUS_PEER_BUSY,           /* 429: asked again in a later round */
    NGX_WALRUS_PEER_FAILED
} ngx_walrus_heal_peer_e;


/* a blob with files missing here */
typedef struct {
    uint8_t                    id[WALRUS_BLOB_ID_LEN];
    char                       id_text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    uint64_t                   cursor;     /* of its record entry */
    unsigned                   npairs;
    unsigned                   pairs[WALRUS_MAX_SHARDS];
    u_char                     missing[WALRUS_MAX_SHARDS]; /* by pair */
    unsigned                   has_meta:1;
} ngx_walrus_heal_blob_t;


typedef struct {
    ngx_walrus_heal_peer_e     state;
    unsigned                   axes;       /* asked for */
    u_char                    *body;       /* the answer (a buffer) */
    size_t                     len;
    unsigned                   bad:1;      /* sent what does not verify */
} ngx_walrus_heal_peer_t;


/* the work of the phase, kept across its steps */
typedef struct {
    ngx_walrus_heal_state_e    state;
    ngx_uint_t                 scans;
    unsigned                   scan_more:1;
    ngx_uint_t                 nblobs;
    ngx_uint_t                 current;
    ngx_walrus_heal_blob_t     blobs[NGX_WALRUS_HEAL_BLOBS];
    char                       dir[WALRUS_PATH_MAX];   /* the blob's */
    walrus_metadata_t          meta;
    unsigned                   have_meta:1;
    ngx_uint_t                 meta_tried;  /* peers asked for it */
    ngx_uint_t                 start;       /* first peer to ask */
    ngx_uint_t                 pair_i;      /* in the blob's pairs */
    unsigned                   pair;        /* being rebuilt */
    unsigned                   missing;     /* its files, bits */
    uint64_t                   first;       /* segments of the batch */
    uint32_t                   count;
    ngx_uint_t                 busy_retries;
    ngx_walrus_heal_peer_t    *peers;       /* by committee node */
    walrus_file_t              files[2];    /* primary, secondary */
    unsigned                   open:1;
    int                        commit_err;
    ngx_uint_t                 npeers;
    uint64_t                   received;    /* answer bytes, this pair */
} ngx_walrus_heal_t;


/* a scan of the record, in the thread pool */
typedef struct {
    ngx_walrus_heal_t         *heal;
    const walrus_committee_t  *committee;
    ngx_uint_t                 node;
    char                       store[WALRUS_PATH_MAX];
    char                       record[WALRUS_PATH_MAX];
    uint64_t                   cursor;     /* in: from, out: next */
    u_char                     record_id[WALRUS_RECORD_ID_LEN];
    uint64_t                   examined;   /* entries */
    uint64_t                   pending;    /* of them, missing files */
    uint64_t                   inconsistent;
    unsigned                   end:1;      /* the record was read whole */
    unsigned                   restart:1;  /* cursor not in this record */
    int                        err;
} ngx_walrus_heal_scan_t;


/* a task on one blob: metadata, a batch of segments, a commit */
typedef struct {
    ngx_walrus_heal_t         *heal;
    unsigned                   n;
    u_char                    *body;       /* metadata from a peer */
    size_t                     len;
    ngx_uint_t                 npeers;
    ngx_uint_t                 peer[WALRUS_MAX_SHARDS];
    walrus_recovery_answer_t  *answers;
    int                        format[WALRUS_MAX_SHARDS];  /* per answer */
    u_char                     lied[WALRUS_MAX_SHARDS];    /* per answer */
    uint32_t                   done;       /* segments written */
    int                        rc;
    int                        err;
    uint32_t                   segment_size;
} ngx_walrus_heal_task_t;


static ngx_int_t ngx_walrus_heal_scan(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h);
static void ngx_walrus_heal_scan_run(void *data, ngx_log_t *log);
static int ngx_walrus_heal_scan_entry(ngx_walrus_heal_scan_t *sc,
    const walrus_record_entry_t *e, uint64_t cursor);
static ngx_uint_t ngx_walrus_heal_same_record(ngx_walrus_heal_scan_t *sc);
static void ngx_walrus_heal_scanned(ngx_walrus_round_t *rd, void *data);
static ngx_int_t ngx_walrus_heal_blob(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h);
static ngx_int_t ngx_walrus_heal_meta_ask(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h);
static void ngx_walrus_heal_meta_run(void *data, ngx_log_t *log);
static void ngx_walrus_heal_meta_done(ngx_walrus_round_t *rd, void *data);
static ngx_int_t ngx_walrus_heal_pair(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h);
static ngx_int_t ngx_walrus_heal_batch_ask(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h);
static unsigned ngx_walrus_heal_peer_pairs(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h, ngx_uint_t node, unsigned *pairs);
static ngx_int_t ngx_walrus_heal_call(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h, ngx_uint_t node, unsigned axes);
static ngx_int_t ngx_walrus_heal_rebuild(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h);
static void ngx_walrus_heal_rebuild_run(void *data, ngx_log_t *log);
static void ngx_walrus_heal_rebuilt(ngx_walrus_round_t *rd, void *data);
static void ngx_walrus_heal_commit_run(void *data, ngx_log_t *log);
static void ngx_walrus_heal_committed(ngx_walrus_round_t *rd, void *data);
static void ngx_walrus_heal_drop_answers(ngx_walrus_heal_t *h,
    ngx_uint_t nnodes);
static void ngx_walrus_heal_blob_failed(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h, const char *why);
static void ngx_walrus_heal_later(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h);
static void ngx_walrus_heal_cleanup(void *data);


ngx_int_t
ngx_walrus_heal_start(ngx_walrus_round_t *rd)
{
    ngx_int_t             rc;
    ngx_walrus_heal_t    *h;
    ngx_pool_cleanup_t   *cln;
    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;
    h = rd->phase_data;

    if (h == NULL) {
        h = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_heal_t));
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->npeers = kp->committee->nnodes;
        h->peers = ngx_pcalloc(rd->pool, kp->committee->nnodes
                                         * sizeof(ngx_walrus_heal_peer_t));
        cln = ngx_pool_cleanup_add(rd->pool, 0);
        if (h->peers == NULL || cln == NULL) {
            return NGX_ERROR;
        }

        /* the round may end in any step: what the heal holds goes too */
        cln->handler = ngx_walrus_heal_cleanup;
        cln->data = h;
        h->files[0].fd = -1;
        h->files[1].fd = -1;
        h->start = kp->rounds;

        rd->phase_data = h;
    }

    for ( ;; ) {
        switch (h->state) {

        case NGX_WALRUS_HEAL_SCAN_NEXT:
            if (h->scans >= NGX_WALRUS_HEAL_SCANS) {
                rd->phase_data = NULL;
                return NGX_DONE;
            }

            h->scans++;

            if (ngx_walrus_heal_scan(rd, h) != NGX_OK) {
                return NGX_ERROR;
            }

            h->state = NGX_WALRUS_HEAL_WAIT;
            return NGX_AGAIN;

        case NGX_WALRUS_HEAL_BLOB_NEXT:
            if (h->current >= h->nblobs) {
                if (!h->scan_more) {
                    rd->phase_data = NULL;
                    return NGX_DONE;
                }

                h->state = NGX_WALRUS_HEAL_SCAN_NEXT;
                break;
            }

            /* a blob that failed lately waits for its next try */

            if (ngx_walrus_keeper_waits(kp, h->blobs[h->current].id)) {
                h->current++;
                break;
            }

            /* NGX_OK: the state moved on; NGX_AGAIN: a task was posted */

            rc = ngx_walrus_heal_blob(rd, h);

            if (rc != NGX_OK) {
                return rc;
            }

            break;

        case NGX_WALRUS_HEAL_META_ASK:
            rc = ngx_walrus_heal_meta_ask(rd, h);

            /* NGX_DECLINED: the blob was given up, the state moved on */
            if (rc != NGX_DECLINED) {
                return rc;
            }

            break;

        case NGX_WALRUS_HEAL_PAIR_NEXT:
            if (ngx_walrus_heal_pair(rd, h) != NGX_OK) {
                return NGX_ERROR;
            }

            break;

        case NGX_WALRUS_HEAL_BATCH_ASK:
            rc = ngx_walrus_heal_batch_ask(rd, h);

            if (rc != NGX_DECLINED) {
                return rc;
            }

            break;

        case NGX_WALRUS_HEAL_COMMIT:
            if (ngx_walrus_round_task(rd, ngx_walrus_heal_commit_run,
                                      ngx_walrus_heal_committed, h)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            h->state = NGX_WALRUS_HEAL_WAIT;
            return NGX_AGAIN;

        default: /* NGX_WALRUS_HEAL_WAIT: a task ended without a verdict */
            return NGX_ERROR;
        }
    }
}


static ngx_int_t
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

    int                     rc;
    u_char                 *buf, *p, *last;
    size_t                  len;
    walrus_record_range_t   rg;
    walrus_record_entry_t   e;

    if (sc->cursor == 0) {
        sc->cursor = WALRUS_RECORD_HEADER_LEN;
    }

    rc = walrus_record_read(sc->record, sc->cursor, NGX_WALRUS_HEAL_SCAN,
                            &rg, &buf);

    if (rc == WALRUS_OK && sc->cursor != WALRUS_RECORD_HEADER_LEN
        && ngx_memcmp(rg.id, sc->record_id, WALRUS_RECORD_ID_LEN) != 0)
    {
        rc = WALRUS_ECURSOR;
        free(buf);
    }

    if (rc == WALRUS_ECURSOR) {
        /* another record (the store was wiped): from its start */
        sc->cursor = WALRUS_RECORD_HEADER_LEN;
        sc->restart = 1;
        rc = walrus_record_read(sc->record, sc->cursor, NGX_WALRUS_HEAL_SCAN,
                                &rg, &buf);
    }

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

    b = &sc->heal->blobs[sc->heal->nblobs];
    ngx_memzero(b, sizeof(ngx_walrus_heal_blob_t));
    ngx_memcpy(b->id, cert.blob_id, WALRUS_BLOB_ID_LEN);
    walrus_blob_id_format(b->id, b->id_text);
    b->cursor = cursor;

    if (walrus_store_dir(dir, sc->store, strlen(sc->store), b->id_text) != 0
        || walrus_store_mkdir(dir) != 0)
    {
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
        }

        walrus_store_sliver_name(name, sizeof(name), pair, 1);
        if (walrus_store_path(path, dir, name) != 0 || stat(path, &st) != 0)
        {
            missing |= NGX_WALRUS_MISSING_SECONDARY;
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

    if (sc->end) {
        kp->known = kp->pass_known;
        kp->pending = kp->pass_pending;
        kp->inconsistent = kp->pass_inconsistent;
        kp->pass_known = 0;
        kp->pass_pending = 0;
        kp->pass_inconsistent = 0;
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


/* the next blob: its metadata, then its pairs */

static ngx_int_t
ngx_walrus_heal_blob(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h)
{
    ngx_walrus_heal_blob_t  *b;
    ngx_walrus_heal_task_t  *t;

    b = &h->blobs[h->current];

    if (walrus_store_dir(h->dir, (char *) rd->keeper->conf->store.data,
                         rd->keeper->conf->store.len, b->id_text)
        != 0)
    {
        return NGX_ERROR;
    }

    if (h->have_meta) {
        walrus_metadata_free(&h->meta);
        h->have_meta = 0;
    }

    h->meta_tried = 0;
    h->pair_i = 0;

    if (!b->has_meta) {
        h->state = NGX_WALRUS_HEAL_META_ASK;
        return NGX_OK;
    }

    /* the metadata here: read and checked in the thread pool */

    t = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_heal_task_t));
    if (t == NULL) {
        return NGX_ERROR;
    }

    t->heal = h;
    t->segment_size = rd->keeper->committee->segment_size;

    if (ngx_walrus_round_task(rd, ngx_walrus_heal_meta_run,
                              ngx_walrus_heal_meta_done, t)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    h->state = NGX_WALRUS_HEAL_WAIT;

    return NGX_AGAIN;
}


static ngx_int_t
ngx_walrus_heal_meta_ask(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h)
{
    u_char                  *p;
    ngx_str_t                uri;
    ngx_uint_t               node, n;
    ngx_walrus_call_t       *call;
    ngx_walrus_keeper_t     *kp;
    ngx_walrus_heal_blob_t  *b;
    u_char                   buf[sizeof("/v1/blobs//metadata")
                                 + WALRUS_BLOB_ID_TEXT_LEN];

    kp = rd->keeper;
    n = kp->committee->nnodes;
    b = &h->blobs[h->current];

    for ( ;; ) {
        if (h->meta_tried >= n) {
            ngx_walrus_heal_blob_failed(rd, h, "no peer gave its metadata");
            return NGX_DECLINED;
        }

        node = (h->start + h->meta_tried++) % n;

        if ((ngx_int_t) node != kp->conf->node_index) {
            break;
        }
    }

    p = ngx_sprintf(buf, "/v1/blobs/%s/metadata", b->id_text);
    uri.data = buf;
    uri.len = p - buf;

    call = ngx_walrus_round_call(rd, node, &uri, NGX_WALRUS_MAX_METADATA);
    if (call == NULL) {
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


/* in the thread pool: metadata parsed, checked against the blob ID, kept */

static void
ngx_walrus_heal_meta_run(void *data, ngx_log_t *log)
{
    ngx_walrus_heal_task_t  *t = data;

    u_char                  *buf;
    size_t                   len;
    char                     path[WALRUS_PATH_MAX];
    walrus_file_t            f;
    ngx_walrus_heal_t       *h;
    ngx_walrus_heal_blob_t  *b;

    h = t->heal;
    b = &h->blobs[h->current];
    buf = t->body;
    len = t->len;

    if (buf == NULL) {
        if (walrus_store_path(path, h->dir, "metadata") != 0
            || walrus_read_file(path, NGX_WALRUS_MAX_METADATA, &buf, &len)
               != 0)
        {
            t->err = errno;
            t->rc = WALRUS_EIO;
            return;
        }
    }

    t->rc = walrus_metadata_parse(&h->meta, buf, len);

    if (t->rc == WALRUS_OK) {
        t->rc = walrus_metadata_check(&h->meta, b->id);

        if (t->rc == WALRUS_OK && h->meta.segment_size != t->segment_size) {
            t->rc = WALRUS_EFORMAT;
        }

        if (t->rc != WALRUS_OK) {
            walrus_metadata_free(&h->meta);
        }
    }

    if (t->rc == WALRUS_OK && t->body != NULL) {
        /* from a peer: kept, verified, before any sliver is rebuilt */

        if (walrus_file_open(&f, h->dir, "metadata") != 0) {
            t->err = errno;

        } else if (walrus_file_write(&f, buf, len) != 0
                   || walrus_file_stamp(f.fd) != 0
                   || walrus_file_commit(&f) != 0)
        {
            t->err = errno;
            walrus_file_abort(&f);
        }

        if (t->err) {
            walrus_metadata_free(&h->meta);
            t->rc = WALRUS_EIO;
        }
    }

    if (t->body == NULL) {
        free(buf);
    }
}


static void
ngx_walrus_heal_meta_done(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_heal_task_t  *t = data;

    ngx_walrus_heal_t       *h;
    ngx_walrus_heal_blob_t  *b;

    h = t->heal;
    b = &h->blobs[h->current];

    if (t->body != NULL) {
        ngx_walrus_buffer_free(t->body);
        t->body = NULL;
    }

    if (t->rc == WALRUS_OK) {
        h->have_meta = 1;
        h->state = NGX_WALRUS_HEAL_PAIR_NEXT;
        return;
    }

    if (t->err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, t->err,
                      "walrus: cannot keep the metadata of blob %s",
                      b->id_text);
        ngx_walrus_heal_blob_failed(rd, h, "of a store error");
        return;
    }

    if (!b->has_meta) {
        /* a peer's that does not verify: the next peer's */
        ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                      "walrus: a peer sent metadata of blob %s that does "
                      "not verify (%s): dropped", b->id_text,
                      walrus_strerror(t->rc));
        h->state = NGX_WALRUS_HEAL_META_ASK;
        return;
    }

    /* the file here is bad: it goes aside and comes from a peer */

    ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                  "walrus: the metadata file of blob %s does not verify: "
                  "fetching it from a peer", b->id_text);
    b->has_meta = 0;
    h->state = NGX_WALRUS_HEAL_META_ASK;
}


/* the next missing pair of the blob, or the next blob */

static ngx_int_t
ngx_walrus_heal_pair(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h)
{
    ngx_uint_t               i;
    ngx_walrus_heal_blob_t  *b;

    b = &h->blobs[h->current];

    if (h->pair_i >= b->npairs) {
        h->current++;
        h->state = NGX_WALRUS_HEAL_BLOB_NEXT;
        return NGX_OK;
    }

    h->pair = b->pairs[h->pair_i];
    h->missing = b->missing[h->pair];
    h->first = 0;
    h->count = 0;
    h->busy_retries = 0;
    h->received = 0;

    ngx_walrus_heal_drop_answers(h, rd->keeper->committee->nnodes);

    for (i = 0; i < rd->keeper->committee->nnodes; i++) {
        h->peers[i].state = NGX_WALRUS_PEER_UNASKED;
        h->peers[i].bad = 0;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "walrus: rebuilding pair %ud of blob %s", h->pair,
                   b->id_text);

    h->state = NGX_WALRUS_HEAL_BATCH_ASK;

    return NGX_OK;
}


/*
 * Asks peers for the batch's recovery symbols until the peers asked hold
 * enough helper slivers: s for a primary sliver, p for a secondary one.
 * The first peers give both axes, the others only what is still short,
 * so that the bytes downloaded are about those rebuilt.  When the
 * answers are in, the batch is rebuilt.
 */

static ngx_int_t
ngx_walrus_heal_batch_ask(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h)
{
    unsigned                 np, need_p, need_s, have_p, have_s, axes;
    ngx_uint_t               busy;
    unsigned                 pairs[WALRUS_MAX_SHARDS];
    uint32_t                 count;
    ngx_uint_t               i, node, n, planned;
    ngx_uint_t               plan[WALRUS_MAX_SHARDS];
    unsigned                 plan_axes[WALRUS_MAX_SHARDS];
    ngx_walrus_keeper_t     *kp;
    ngx_walrus_heal_peer_t  *wp;
    const walrus_params_t   *params;

    kp = rd->keeper;
    n = kp->committee->nnodes;
    params = &h->meta.params;

    need_p = (h->missing & NGX_WALRUS_MISSING_PRIMARY) ? params->s : 0;
    need_s = (h->missing & NGX_WALRUS_MISSING_SECONDARY) ? params->p : 0;
    have_p = 0;
    have_s = 0;

    for (i = 0; i < n; i++) {
        wp = &h->peers[i];

        if (wp->state != NGX_WALRUS_PEER_ANSWERED) {
            continue;
        }

        np = ngx_walrus_heal_peer_pairs(rd, h, i, pairs);
        have_p += (wp->axes & WALRUS_RECOVERY_PRIMARY) ? np : 0;
        have_s += (wp->axes & WALRUS_RECOVERY_SECONDARY) ? np : 0;
    }

    if (have_p >= need_p && have_s >= need_s) {
        return ngx_walrus_heal_rebuild(rd, h) == NGX_OK ? NGX_AGAIN
                                                         : NGX_ERROR;
    }

    planned = 0;

    for (i = 0; i < n && (have_p < need_p || have_s < need_s); i++) {
        node = (h->start + i) % n;
        wp = &h->peers[node];

        if ((ngx_int_t) node == kp->conf->node_index
            || wp->state != NGX_WALRUS_PEER_UNASKED)
        {
            continue;
        }

        np = ngx_walrus_heal_peer_pairs(rd, h, node, pairs);
        axes = 0;

        if (have_p < need_p) {
            axes |= WALRUS_RECOVERY_PRIMARY;
            have_p += np;
        }

        if (have_s < need_s) {
            axes |= WALRUS_RECOVERY_SECONDARY;
            have_s += np;
        }

        plan[planned] = node;
        plan_axes[planned++] = axes;
    }

    if (have_p < need_p || have_s < need_s) {

        busy = 0;

        for (i = 0; i < n; i++) {
            if (h->peers[i].state == NGX_WALRUS_PEER_BUSY) {
                busy++;
            }
        }

        if (busy && h->busy_retries < NGX_WALRUS_HEAL_BUSY_RETRIES) {
            /* a busy peer (429) is free again once others answered */

            h->busy_retries++;

            for (i = 0; i < n; i++) {
                if (h->peers[i].state == NGX_WALRUS_PEER_BUSY) {
                    h->peers[i].state = NGX_WALRUS_PEER_UNASKED;
                }
            }

            return NGX_DECLINED;
        }

        if (busy) {
            /* not a failure of the blob: the next round asks again */
            ngx_walrus_heal_later(rd, h);
            return NGX_DONE;
        }

        ngx_walrus_heal_blob_failed(rd, h, "too few peers sent recovery "
                                           "symbols that verify");
        return NGX_DECLINED;
    }

    if (h->count == 0) {
        /* a new batch: as many segments as the answers' budget allows */

        h->count = (uint32_t) (h->meta.nsegments - h->first);

        for (i = 0; i < planned; i++) {
            np = ngx_walrus_heal_peer_pairs(rd, h, plan[i], pairs);
            count = walrus_recovery_segments_within(&h->meta, plan_axes[i],
                                                    np, h->first,
                                                    NGX_WALRUS_HEAL_BATCH
                                                    / planned);
            if (count < h->count) {
                h->count = count > 0 ? count : 1;
            }
        }
    }

    for (i = 0; i < planned; i++) {
        if (ngx_walrus_heal_call(rd, h, plan[i], plan_axes[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_AGAIN;
}


/* the pairs of the blob a committee node holds, ascending */

static unsigned
ngx_walrus_heal_peer_pairs(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h,
    ngx_uint_t node, unsigned *pairs)
{
    unsigned                 i, j, k, pair, np;
    const walrus_node_t     *wn;
    ngx_walrus_heal_blob_t  *b;

    b = &h->blobs[h->current];
    wn = &rd->keeper->committee->nodes[node];
    np = 0;

    for (i = 0; i < wn->nshards; i++) {
        pair = walrus_shard_to_pair(&rd->keeper->committee->params, b->id,
                                    wn->shards[i]);

        for (j = np; j > 0 && pairs[j - 1] > pair; j--) {
            /* void */
        }

        for (k = np; k > j; k--) {
            pairs[k] = pairs[k - 1];
        }

        pairs[j] = pair;
        np++;
    }

    return np;
}


static ngx_int_t
ngx_walrus_heal_call(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h,
    ngx_uint_t node, unsigned axes)
{
    u_char                  *p;
    uint64_t                 size;
    ngx_str_t                uri;
    ngx_walrus_call_t       *call;
    walrus_recovery_head_t   head;
    ngx_walrus_heal_blob_t  *b;
    u_char                   buf[sizeof("/v1/blobs//recovery/"
                                        "?segments=-&axes=secondary")
                                 + WALRUS_BLOB_ID_TEXT_LEN
                                 + 3 * NGX_INT64_LEN];

    b = &h->blobs[h->current];

    ngx_memzero(&head, sizeof(walrus_recovery_head_t));
    ngx_memcpy(head.blob_id, b->id, WALRUS_BLOB_ID_LEN);
    head.target = h->pair;
    head.axes = axes;
    head.first = (uint32_t) h->first;
    head.count = h->count;
    head.nhelpers = ngx_walrus_heal_peer_pairs(rd, h, node, head.helpers);

    /* a peer may leave out a pair it cannot vouch for: never more */
    size = walrus_recovery_answer_size(&h->meta, &head);

    p = ngx_sprintf(buf, "/v1/blobs/%s/recovery/%ud?segments=%uL-%uL&axes=%s",
                    b->id_text, h->pair, h->first,
                    h->first + h->count - 1,
                    axes == WALRUS_RECOVERY_BOTH ? "both"
                    : axes == WALRUS_RECOVERY_PRIMARY ? "primary"
                                                      : "secondary");
    uri.data = buf;
    uri.len = p - buf;

    call = ngx_walrus_round_call(rd, node, &uri, (size_t) size);
    if (call == NULL) {
        return NGX_ERROR;
    }

    h->peers[node].state = NGX_WALRUS_PEER_ASKED;
    h->peers[node].axes = axes;

    return NGX_OK;
}


void
ngx_walrus_heal_answer(ngx_walrus_round_t *rd, ngx_walrus_call_t *call)
{
    const char              *name;
    ngx_walrus_heal_t       *h;
    ngx_walrus_heal_task_t  *t;
    ngx_walrus_heal_peer_t  *wp;

    h = rd->phase_data;
    name = rd->keeper->committee->nodes[call->node].name;

    if (h == NULL) {
        return;
    }

    if (h->state == NGX_WALRUS_HEAL_META_ASK) {

        if (call->status != NGX_HTTP_OK || call->truncated) {
            ngx_log_debug3(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                           "walrus: peer %s: metadata of %s: status %ui",
                           name, h->blobs[h->current].id_text, call->status);
            return;
        }

        t = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_heal_task_t));
        if (t == NULL) {
            return;
        }

        t->heal = h;
        t->segment_size = rd->keeper->committee->segment_size;
        t->body = call->body;
        t->len = call->body_len;
        call->body = NULL;
        call->body_size = 0;
        call->body_len = 0;

        if (ngx_walrus_round_task(rd, ngx_walrus_heal_meta_run,
                                  ngx_walrus_heal_meta_done, t)
            != NGX_OK)
        {
            ngx_walrus_buffer_free(t->body);
            return;
        }

        h->state = NGX_WALRUS_HEAL_WAIT;
        return;
    }

    if (h->state != NGX_WALRUS_HEAL_BATCH_ASK) {
        return;
    }

    wp = &h->peers[call->node];

    if (call->status == NGX_HTTP_TOO_MANY_REQUESTS) {
        wp->state = NGX_WALRUS_PEER_BUSY;
        return;
    }

    if (call->status != NGX_HTTP_OK || call->truncated) {
        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "walrus: peer %s gave no recovery symbols for pair "
                      "%ud of blob %s (status %ui%s)", name, h->pair,
                      h->blobs[h->current].id_text, call->status,
                      call->truncated ? ", answer too long" : "");
        wp->state = NGX_WALRUS_PEER_FAILED;
        return;
    }

    wp->state = NGX_WALRUS_PEER_ANSWERED;
    wp->body = call->body;
    wp->len = call->body_len;
    h->received += call->body_len;
    call->body = NULL;
    call->body_size = 0;
    call->body_len = 0;
}


static ngx_int_t
ngx_walrus_heal_rebuild(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h)
{
    ngx_uint_t               i;
    ngx_walrus_heal_task_t  *t;

    t = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_heal_task_t));
    if (t == NULL) {
        return NGX_ERROR;
    }

    t->heal = h;
    t->n = rd->keeper->committee->params.n;

    for (i = 0; i < rd->keeper->committee->nnodes; i++) {
        if (h->peers[i].state == NGX_WALRUS_PEER_ANSWERED) {
            t->peer[t->npeers++] = i;
        }
    }

    t->answers = ngx_pcalloc(rd->pool, t->npeers
                                       * sizeof(walrus_recovery_answer_t));
    if (t->answers == NULL) {
        return NGX_ERROR;
    }

    if (ngx_walrus_round_task(rd, ngx_walrus_heal_rebuild_run,
                              ngx_walrus_heal_rebuilt, t)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    h->state = NGX_WALRUS_HEAL_WAIT;

    return NGX_OK;
}


/*
 * In the thread pool: every answer parsed and each symbol verified, then
 * the batch's slices rebuilt, verified against the metadata and appended
 * to the temporary sliver files.  Symbols that verify but rebuild a
 * sliver the metadata does not commit to prove the blob inconsistent:
 * the proof is kept beside it.
 */

static void
ngx_walrus_heal_rebuild_run(void *data, ngx_log_t *log)
{
    ngx_walrus_heal_task_t  *t = data;

    int                               rc;
    char                              name[32];
    u_char                           *out, *proof;
    size_t                            size, proof_len;
    unsigned                          a, k;
    uint64_t                          g;
    walrus_axis_e                     axis;
    walrus_file_t                     f;
    walrus_codec_t                   *codec;
    ngx_walrus_heal_t                *h;
    const walrus_recovery_answer_t   *answers[WALRUS_MAX_SHARDS];
    const walrus_recovery_head_t     *head;

    h = t->heal;
    out = NULL;
    t->rc = WALRUS_OK;

    codec = walrus_codec_create(t->n);
    if (codec == NULL) {
        t->rc = WALRUS_ENOMEM;
        return;
    }

    k = 0;

    for (a = 0; a < t->npeers; a++) {
        rc = walrus_recovery_parse(codec, &h->meta, h->blobs[h->current].id,
                                   h->peers[t->peer[a]].body,
                                   h->peers[t->peer[a]].len,
                                   &t->answers[a]);
        head = &t->answers[a].head;

        if (rc == WALRUS_OK
            && (head->target != h->pair || head->first > h->first
                || (uint64_t) head->first + head->count
                   < h->first + h->count))
        {
            rc = WALRUS_EFORMAT;
        }

        t->format[a] = rc;
        t->lied[a] = rc == WALRUS_OK && t->answers[a].nfailed > 0;

        if (rc == WALRUS_OK) {
            answers[k++] = &t->answers[a];
        }
    }

    size = walrus_sliver_size(&h->meta.params, WALRUS_PRIMARY,
                              walrus_symbol_size(&h->meta.params,
                                                 h->meta.segment_size));
    out = malloc(size);
    if (out == NULL) {
        t->rc = WALRUS_ENOMEM;
        goto done;
    }

    if (!h->open) {
        for (a = 0; a < 2; a++) {
            if (!(h->missing & (1 << a))) {
                continue;
            }

            walrus_store_sliver_name(name, sizeof(name), h->pair, a);

            if (walrus_file_open(&h->files[a], h->dir, name) != 0) {
                t->err = errno;
                t->rc = WALRUS_EIO;
                goto done;
            }
        }

        h->open = 1;
    }

    for (g = h->first; g < h->first + h->count; g++) {
        for (a = 0; a < 2; a++) {
            if (!(h->missing & (1 << a))) {
                continue;
            }

            axis = a == 0 ? WALRUS_PRIMARY : WALRUS_SECONDARY;

            rc = walrus_recovery_rebuild(codec, &h->meta, answers, k, axis,
                                         g, out);

            if (rc == WALRUS_EINCONSISTENT) {
                if (walrus_inconsistency_build(codec, &h->meta, answers, k,
                                               axis, g, &proof, &proof_len)
                    == WALRUS_OK)
                {
                    if (walrus_file_open(&f, h->dir, "inconsistency") != 0
                        || walrus_file_write(&f, proof, proof_len) != 0
                        || walrus_file_commit(&f) != 0)
                    {
                        t->err = errno;
                        walrus_file_abort(&f);
                    }

                    free(proof);
                }
            }

            if (rc != WALRUS_OK) {
                t->rc = rc;
                goto done;
            }

            size = walrus_sliver_size(&h->meta.params, axis,
                       walrus_symbol_size(&h->meta.params,
                           walrus_segment_length(h->meta.length,
                                                 h->meta.segment_size, g)));

            if (walrus_file_write(&h->files[a], out, size) != 0) {
                t->err = errno;
                t->rc = WALRUS_EIO;
                goto done;
            }
        }

        t->done++;
    }

done:

    free(out);

    for (a = 0; a < t->npeers; a++) {
        walrus_recovery_answer_free(&t->answers[a]);
    }

    walrus_codec_destroy(codec);
}


static void
ngx_walrus_heal_rebuilt(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_heal_task_t  *t = data;

    const char              *name;
    ngx_uint_t               a, node;
    ngx_walrus_heal_t       *h;
    ngx_walrus_heal_peer_t  *wp;
    ngx_walrus_heal_blob_t  *b;

    h = t->heal;
    b = &h->blobs[h->current];

    /* a peer whose answer does not verify is not asked again */

    for (a = 0; a < t->npeers; a++) {
        node = t->peer[a];
        wp = &h->peers[node];
        name = rd->keeper->committee->nodes[node].name;

        if (t->format[a] != WALRUS_OK) {
            ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                          "walrus: peer %s sent a recovery answer for pair "
                          "%ud of blob %s that is not one (%s): dropped",
                          name, h->pair, b->id_text,
                          walrus_strerror(t->format[a]));

        } else if (t->lied[a]) {
            ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                          "walrus: peer %s sent recovery symbols for pair "
                          "%ud of blob %s that do not verify: dropped",
                          name, h->pair, b->id_text);

        } else {
            continue;
        }

        wp->bad = 1;
        wp->state = NGX_WALRUS_PEER_FAILED;
        ngx_walrus_buffer_free(wp->body);
        wp->body = NULL;
    }

    h->first += t->done;
    h->count -= t->done;

    switch (t->rc) {

    case WALRUS_OK:
        ngx_walrus_heal_drop_answers(h, rd->keeper->committee->nnodes);
        h->count = 0;
        h->busy_retries = 0;
        h->state = h->first >= h->meta.nsegments ? NGX_WALRUS_HEAL_COMMIT
                                                 : NGX_WALRUS_HEAL_BATCH_ASK;
        return;

    case WALRUS_ENOTENOUGH:
        /* more peers for the same segments */
        h->state = NGX_WALRUS_HEAL_BATCH_ASK;
        return;

    case WALRUS_EINCONSISTENT:
        ngx_log_error(NGX_LOG_WARN, rd->log, t->err,
                      "walrus: blob %s was encoded inconsistently: its "
                      "proof is kept in %s/inconsistency", b->id_text,
                      h->dir);
        ngx_walrus_heal_blob_failed(rd, h, NULL);
        return;

    default:
        if (t->err) {
            ngx_log_error(NGX_LOG_ERR, rd->log, t->err,
                          "walrus: cannot write the slivers of blob %s",
                          b->id_text);
        }

        ngx_walrus_heal_blob_failed(rd, h, walrus_strerror(t->rc));
        return;
    }
}


/* in the thread pool: the rebuilt files, verified, made durable */

static void
ngx_walrus_heal_commit_run(void *data, ngx_log_t *log)
{
    ngx_walrus_heal_t  *h = data;

    unsigned  a;

    for (a = 0; a < 2; a++) {
        if (h->files[a].fd == -1) {
            continue;
        }

        if (walrus_file_stamp(h->files[a].fd) != 0
            || walrus_file_commit(&h->files[a]) != 0)
        {
            walrus_file_abort(&h->files[a]);
            h->commit_err = errno;
        }

        h->files[a].fd = -1;
    }
}


static void
ngx_walrus_heal_committed(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_heal_t  *h = data;

    ngx_walrus_heal_blob_t  *b;

    b = &h->blobs[h->current];
    h->open = 0;

    if (h->commit_err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, h->commit_err,
                      "walrus: cannot keep the rebuilt slivers of blob %s",
                      b->id_text);
        h->commit_err = 0;
        ngx_walrus_heal_blob_failed(rd, h, "of a store error");
        return;
    }

    rd->keeper->healed++;
    rd->keeper->received += h->received;
    ngx_walrus_keeper_forget(rd->keeper, b->id);

    ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                  "walrus: node %V rebuilt sliver pair %ud of blob %s from "
                  "%uL bytes of recovery symbols",
                  &rd->keeper->conf->node_name, h->pair, b->id_text,
                  h->received);

    h->pair_i++;
    h->state = NGX_WALRUS_HEAL_PAIR_NEXT;
}


static void
ngx_walrus_heal_drop_answers(ngx_walrus_heal_t *h, ngx_uint_t nnodes)
{
    ngx_uint_t  i;

    for (i = 0; i < nnodes; i++) {
        if (h->peers[i].body != NULL) {
            ngx_walrus_buffer_free(h->peers[i].body);
            h->peers[i].body = NULL;
        }

        if (h->peers[i].state == NGX_WALRUS_PEER_ANSWERED
            || h->peers[i].state == NGX_WALRUS_PEER_BUSY)
        {
            h->peers[i].state = NGX_WALRUS_PEER_UNASKED;
        }
    }
}


/* the blob waits for a later pass; what was begun for it goes */

static void
ngx_walrus_heal_blob_failed(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h,
    const char *why)
{
    time_t      delay;
    unsigned    a;
    ngx_uint_t  level;

    if (why != NULL) {
        delay = ngx_walrus_keeper_put_off(rd->keeper,
                                          h->blobs[h->current].id);

        /* said once loud; while it keeps failing, quietly */

        level = delay <= 2 ? NGX_LOG_WARN : NGX_LOG_INFO;

        ngx_log_error(level, rd->log, 0,
                      "walrus: node %V cannot heal blob %s for now: %s; "
                      "next try in %T s", &rd->keeper->conf->node_name,
                      h->blobs[h->current].id_text, why, delay);
        rd->keeper->failed++;
    }

    for (a = 0; a < 2; a++) {
        if (h->files[a].fd != -1) {
            walrus_file_abort(&h->files[a]);
            h->files[a].fd = -1;
        }
    }

    h->open = 0;
    ngx_walrus_heal_drop_answers(h, rd->keeper->committee->nnodes);

    h->current++;
    h->state = NGX_WALRUS_HEAL_BLOB_NEXT;
}


/*
 * Peers are too busy to answer (429): the phase ends for this round, and
 * the next round's scan starts at this blob.
 */

static void
ngx_walrus_heal_later(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h)
{
    unsigned              a;
    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "walrus: peers busy: blob %s waits for the next round",
                   h->blobs[h->current].id_text);

    for (a = 0; a < 2; a++) {
        if (h->files[a].fd != -1) {
            walrus_file_abort(&h->files[a]);
            h->files[a].fd = -1;
        }
    }

    h->open = 0;
    ngx_walrus_heal_drop_answers(h, kp->committee->nnodes);

    if (kp->scan_known) {
        kp->scan_cursor = h->blobs[h->current].cursor;
    }

    rd->phase_data = NULL;
}


static void
ngx_walrus_heal_cleanup(void *data)
{
    ngx_walrus_heal_t  *h = data;

    unsigned    a;
    ngx_uint_t  i;

    for (a = 0; a < 2; a++) {
        if (h->files[a].fd != -1) {
            walrus_file_abort(&h->files[a]);
            h->files[a].fd = -1;
        }
    }

    for (i = 0; i < h->npeers; i++) {
        if (h->peers[i].body != NULL) {
            ngx_walrus_buffer_free(h->peers[i].body);
            h->peers[i].body = NULL;
        }
    }

    if (h->have_meta) {
        walrus_metadata_free(&h->meta);
        h->have_meta = 0;
    }
}
