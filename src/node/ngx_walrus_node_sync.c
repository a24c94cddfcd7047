/*
 * The keeper's sync phase: pulls the entries of every peer's
 * certified-blob record after the cursor this node keeps for it, and
 * takes in the blobs it did not know.  An entry is used only when its
 * certificate and registration verify against the committee history
 * (the certificate with the committee of its epoch), so a peer
 * can neither make this node store a blob nobody certified nor, alone,
 * hide one: every honest peer that holds a blob lists it.
 */

#include <ngx_walrus_node_keeper.h>
#include <ngx_walrus_buffer.h>
#include <walrus_lifetime.h>
#include <walrus_metadata.h>
#include <walrus_record.h>
#include <walrus_store.h>


/* a page of a peer's record, and how many peers are read at a time */
#define NGX_WALRUS_SYNC_PAGE      (1024 * 1024)
#define NGX_WALRUS_SYNC_PARALLEL  4
/* pages per peer and round: a long record is read over several rounds */
#define NGX_WALRUS_SYNC_PAGES     16

#define NGX_WALRUS_SYNC_HEADER    "X-Walrus-Record"


typedef struct {
    u_char                      *pages;     /* read per peer this round */
    ngx_array_t                 *waiting;   /* pages to take in, in order */
    ngx_uint_t                   next;      /* first of them not taken */
    unsigned                     taking:1;  /* a task takes a page in */
} ngx_walrus_sync_t;


/* one page, taken in by a thread task */
typedef struct {
    const walrus_history_t      *history;
    ngx_uint_t                   peer;
    u_char                      *body;
    size_t                       len;
    char                         store[WALRUS_PATH_MAX];
    char                         record[WALRUS_PATH_MAX];
    size_t                       consumed;  /* whole entries handled */
    ngx_uint_t                   added;
    ngx_uint_t                   known;
    ngx_uint_t                   refused;   /* did not verify */
    ngx_uint_t                   expired;   /* past their end epoch */
    uint32_t                     ahead;     /* an epoch not held, or 0 */
    unsigned                     garbled:1; /* not framed as entries */
    int                          err;       /* errno of a failed write */
} ngx_walrus_sync_page_t;


static void ngx_walrus_sync_caught_up(ngx_walrus_keeper_t *kp);
static ngx_int_t ngx_walrus_sync_ask(ngx_walrus_round_t *rd,
    ngx_walrus_sync_t *sy, ngx_uint_t peer);
static ngx_int_t ngx_walrus_sync_record(ngx_walrus_peer_t *peer,
    ngx_walrus_call_t *call);
static void ngx_walrus_sync_take(void *data, ngx_log_t *log);
static int ngx_walrus_sync_known(ngx_walrus_sync_page_t *pg,
    const uint8_t *blob_id);
static int ngx_walrus_sync_entry(ngx_walrus_sync_page_t *pg,
    const walrus_record_entry_t *e, const uint8_t *blob_id);
static void ngx_walrus_sync_taken(ngx_walrus_round_t *rd, void *data);
static void ngx_walrus_sync_next_page(ngx_walrus_round_t *rd,
    ngx_walrus_sync_t *sy);
static void ngx_walrus_sync_cleanup(void *data);


/*
 * Whether this round read the records of peers to their end, peers that
 * with this node hold n - f shards: the node then knows every blob
 * certified before (a certificate's signers hold n - f shards and record
 * it, and at most f of them lie), which is what readiness for an epoch
 * needs (docs/protocol.md 18.6).
 */

static void
ngx_walrus_sync_caught_up(ngx_walrus_keeper_t *kp)
{
    unsigned                   weight;
    ngx_uint_t                 i;
    const walrus_committee_t  *c;

    c = kp->committee;
    weight = 0;

    for (i = 0; i < c->nnodes; i++) {
        if ((ngx_int_t) i == kp->conf->node_index
            || (kp->peers[i].status == NGX_HTTP_OK && !kp->peers[i].more))
        {
            weight += c->nodes[i].nshards;
        }
    }

    kp->synced = weight >= c->params.n - c->params.f;
}


ngx_int_t
ngx_walrus_sync_start(ngx_walrus_round_t *rd)
{
    ngx_uint_t            i, n, running;
    ngx_pool_cleanup_t   *cln;
    ngx_walrus_sync_t    *sy;
    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;
    n = kp->committee->nnodes;
    sy = rd->phase_data;

    if (sy == NULL) {
        sy = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_sync_t));
        if (sy == NULL) {
            return NGX_ERROR;
        }

        sy->pages = ngx_pcalloc(rd->pool, n);
        sy->waiting = ngx_array_create(rd->pool, NGX_WALRUS_SYNC_PARALLEL,
                                       sizeof(ngx_walrus_sync_page_t *));
        cln = ngx_pool_cleanup_add(rd->pool, 0);
        if (sy->pages == NULL || sy->waiting == NULL || cln == NULL) {
            return NGX_ERROR;
        }

        /* a round stopped with pages not taken in: their buffers go */
        cln->handler = ngx_walrus_sync_cleanup;
        cln->data = sy;

        /* a peer that lied lately waits for its next turn */

        for (i = 0; i < n; i++) {
            kp->peers[i].more = ngx_time() >= kp->peers[i].wait;
        }

        rd->phase_data = sy;
    }

    running = 0;

    for (i = 0; i < n && running < NGX_WALRUS_SYNC_PARALLEL; i++) {
        if ((ngx_int_t) i == kp->conf->node_index || !kp->peers[i].more
            || sy->pages[i] >= NGX_WALRUS_SYNC_PAGES)
        {
            continue;
        }

        if (ngx_walrus_sync_ask(rd, sy, i) != NGX_OK) {
            return NGX_ERROR;
        }

        running++;
    }

    if (running > 0) {
        return NGX_AGAIN;
    }

    ngx_walrus_sync_caught_up(kp);

    rd->phase_data = NULL;

    return NGX_DONE;
}


static ngx_int_t
ngx_walrus_sync_ask(ngx_walrus_round_t *rd, ngx_walrus_sync_t *sy,
    ngx_uint_t peer)
{
    u_char              *p;
    ngx_str_t            uri;
    ngx_walrus_peer_t   *wp;
    ngx_walrus_call_t   *call;
    u_char               buf[sizeof("/v1/certified?after=&limit=")
                             + 2 * NGX_INT64_LEN];

    static ngx_str_t  header = ngx_string(NGX_WALRUS_SYNC_HEADER);

    wp = &rd->keeper->peers[peer];

    /* without a known record, from its start: the answer names it */

    if (wp->known) {
        p = ngx_sprintf(buf, "/v1/certified?after=%uL&limit=%uz", wp->cursor,
                        (size_t) NGX_WALRUS_SYNC_PAGE);
    } else {
        p = ngx_sprintf(buf, "/v1/certified?limit=%uz",
                        (size_t) NGX_WALRUS_SYNC_PAGE);
    }

    uri.data = buf;
    uri.len = p - buf;

    call = ngx_walrus_round_call(rd, peer, &uri,
                                 NGX_WALRUS_SYNC_PAGE
                                 + WALRUS_RECORD_ENTRY_MAX);
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->header = header;
    wp->more = 0;
    sy->pages[peer]++;

    return NGX_OK;
}


void
ngx_walrus_sync_answer(ngx_walrus_round_t *rd, ngx_walrus_call_t *call)
{
    ngx_walrus_sync_t       *sy;
    ngx_walrus_peer_t       *wp;
    ngx_walrus_keeper_t     *kp;
    ngx_walrus_sync_page_t  *pg, **pgp;

    kp = rd->keeper;
    sy = rd->phase_data;
    wp = &kp->peers[call->node];
    wp->status = call->status;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "walrus: sync from %s: status %ui, %uz bytes",
                   kp->committee->nodes[call->node].name, call->status,
                   call->body_len);

    if (call->status == NGX_HTTP_BAD_REQUEST && wp->known) {
        /* the cursor is not in the peer's record (it was wiped): restart */
        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "walrus: peer %s refused the cursor %uL of its "
                      "record: reading it from its start",
                      kp->committee->nodes[call->node].name, wp->cursor);
        wp->known = 0;
        wp->cursor = 0;
        wp->more = 1;
        rd->changed = 1;
        return;
    }

    if (call->status != NGX_HTTP_OK || call->truncated) {
        /* down, slow or not a node of this version: next round */
        return;
    }

    switch (ngx_walrus_sync_record(wp, call)) {

    case NGX_DECLINED:
        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "walrus: peer %s has a new record (store wiped?): "
                      "reading it from its start",
                      kp->committee->nodes[call->node].name);
        wp->more = 1;
        rd->changed = 1;
        return;

    case NGX_ERROR:
        ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                      "walrus: peer %s answered its record's entries "
                      "without a valid \"" NGX_WALRUS_SYNC_HEADER "\"",
                      kp->committee->nodes[call->node].name);
        return;

    default:
        break;
    }

    if (call->body_len == 0) {
        wp->last_sync = ngx_time();
        return;
    }

    pg = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_sync_page_t));
    if (pg == NULL) {
        return;
    }

    pg->history = kp->history;
    pg->peer = call->node;

    if (ngx_snprintf((u_char *) pg->store, sizeof(pg->store), "%V%Z",
                     &kp->conf->store)
        == (u_char *) pg->store + sizeof(pg->store)
        || walrus_record_path(pg->record, (char *) kp->conf->store.data,
                              kp->conf->store.len) != 0)
    {
        return;
    }

    /* the page goes to the task: the call no longer frees it */

    pgp = ngx_array_push(sy->waiting);
    if (pgp == NULL) {
        return;
    }

    pg->body = call->body;
    pg->len = call->body_len;
    call->body = NULL;
    call->body_size = 0;
    call->body_len = 0;
    *pgp = pg;

    ngx_walrus_sync_next_page(rd, sy);
}


/*
 * Pages are taken in one at a time: two peers list the same blobs, and
 * a blob is taken in once when its certificate is checked for after the
 * page before has been taken in.
 */

static void
ngx_walrus_sync_next_page(ngx_walrus_round_t *rd, ngx_walrus_sync_t *sy)
{
    ngx_walrus_sync_page_t  *pg, **pgp;

    while (!sy->taking && sy->next < sy->waiting->nelts) {
        pgp = sy->waiting->elts;
        pg = pgp[sy->next++];

        if (ngx_walrus_round_task(rd, ngx_walrus_sync_take,
                                  ngx_walrus_sync_taken, pg)
            == NGX_OK)
        {
            sy->taking = 1;
            return;
        }

        ngx_walrus_buffer_free(pg->body);
        pg->body = NULL;
    }
}


/*
 * Checks the answer's record identity against the one known: NGX_OK to
 * use the entries, NGX_DECLINED when the peer's record is another one
 * (the cursor restarts), NGX_ERROR when the header is bad.
 */

static ngx_int_t
ngx_walrus_sync_record(ngx_walrus_peer_t *wp, ngx_walrus_call_t *call)
{
    u_char  id[NGX_WALRUS_RECORD_ID_LEN];

    if (call->body_len == 0
        && (call->header_value.len == 0
            || (call->header_value.len == sizeof("none") - 1
                && ngx_strncmp(call->header_value.data, "none", 4) == 0)))
    {
        /* a node with no record (yet, or again after a wipe) */

        if (wp->known) {
            wp->known = 0;
            wp->cursor = 0;
            return NGX_DECLINED;
        }

        return NGX_OK;
    }

    if (ngx_walrus_record_id_parse(call->header_value.data,
                                   call->header_value.len, id)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (wp->known) {
        if (ngx_memcmp(wp->record, id, NGX_WALRUS_RECORD_ID_LEN) == 0) {
            return NGX_OK;
        }

        wp->known = 0;
        wp->cursor = 0;

        return NGX_DECLINED;
    }

    /* asked from the start: the entries are of this record */

    ngx_memcpy(wp->record, id, NGX_WALRUS_RECORD_ID_LEN);
    wp->known = 1;
    wp->cursor = WALRUS_RECORD_HEADER_LEN;

    return NGX_OK;
}


/* in the thread pool: each entry verified, the new ones made durable */

static void
ngx_walrus_sync_take(void *data, ngx_log_t *log)
{
    ngx_walrus_sync_page_t  *pg = data;

    int                     rc;
    uint8_t                 blob_id[WALRUS_BLOB_ID_LEN];
    const uint8_t          *p, *last;
    walrus_cert_t           cert;
    walrus_record_entry_t   e;

    p = pg->body;
    last = pg->body + pg->len;

    while (p < last) {
        if (walrus_record_entry_parse(NULL, &e, p, last - p) != WALRUS_OK) {
            /* the rest cannot be framed: it is not taken */
            pg->garbled = 1;
            return;
        }

        /*
         * A blob this node holds and has recorded is skipped before its
         * signatures are checked: every peer lists every blob, and
         * checking each listing would cost n signature checks per blob
         * and peer.  Only an entry that would be taken in is verified.
         */

        if (walrus_cert_parse(&cert, e.cert, e.cert_len) != WALRUS_OK) {
            pg->refused++;

        } else if (ngx_walrus_sync_known(pg, cert.blob_id)) {
            pg->known++;

        } else if (cert.epoch > pg->history->current) {
            /*
             * Most likely the peer runs a newer history than this node:
             * the entry is not refused but waited for, the cursor stays
             * on it until a reload brings the epoch's committee.  A
             * lying peer can hold up only its own listing so, which it
             * could withhold anyway; the other peers list the blobs.
             * An epoch older than the history's first was dropped: its
             * certificates no longer verify, and are refused below.
             */
            pg->ahead = cert.epoch;
            return;

        } else if (walrus_lifetime_recorded_expired(&e,
                                                    pg->history->current))
        {
            /* no lie: honest records keep the blobs that expired */
            pg->expired++;

        } else if (walrus_record_entry_verify_history(pg->history, &e,
                                                      blob_id)
                   != WALRUS_OK)
        {
            pg->refused++;

        } else {
            rc = ngx_walrus_sync_entry(pg, &e, blob_id);

            if (rc < 0) {
                pg->err = errno;
                return;
            }

            if (rc == 0) {
                pg->known++;
            } else {
                pg->added++;
            }
        }

        p += e.size;
        pg->consumed = p - pg->body;
    }
}


/*
 * A verified entry: 0 when the blob is known after all (taken in by a
 * page before, or by an upload, meanwhile), 1 when it was taken
 * in, -1 with errno on failure.  The record entry goes first, then the
 * files and the mark: after a crash (or a wipe of the store) in between,
 * the mark is missing, so the entry is taken in again (a second record
 * entry of a blob is harmless).
 */

/* the blob's certificate is here and this node's record has it */

static int
ngx_walrus_sync_known(ngx_walrus_sync_page_t *pg, const uint8_t *blob_id)
{
    char         id_text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    char         dir[WALRUS_PATH_MAX], path[WALRUS_PATH_MAX];
    struct stat  st;

    walrus_blob_id_format(blob_id, id_text);

    return walrus_store_dir(dir, pg->store, strlen(pg->store), id_text) == 0
           && walrus_store_path(path, dir, "certificate") == 0
           && stat(path, &st) == 0
           && walrus_record_marked(dir, pg->record);
}


static int
ngx_walrus_sync_entry(ngx_walrus_sync_page_t *pg,
    const walrus_record_entry_t *e, const uint8_t *blob_id)
{
    char            id_text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    char            dir[WALRUS_PATH_MAX];

    walrus_blob_id_format(blob_id, id_text);

    if (walrus_store_dir(dir, pg->store, strlen(pg->store), id_text) != 0) {
        errno = ENAMETOOLONG;
        return -1;
    }

    if (ngx_walrus_sync_known(pg, blob_id)) {
        return 0;
    }

    if (walrus_record_append(pg->record, e->cert, e->cert_len, e->reg,
                             e->reg_len)
        != WALRUS_OK
        || walrus_record_keep_files(dir, pg->record, e) != 0)
    {
        return -1;
    }

    return 1;
}


static void
ngx_walrus_sync_taken(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_sync_page_t  *pg = data;

    time_t                delay;
    ngx_uint_t            level;
    const char           *name;
    ngx_walrus_sync_t    *sy;
    ngx_walrus_peer_t    *wp;
    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;
    sy = rd->phase_data;
    wp = &kp->peers[pg->peer];
    name = kp->committee->nodes[pg->peer].name;

    ngx_walrus_buffer_free(pg->body);
    pg->body = NULL;

    wp->cursor += pg->consumed;
    wp->last_sync = ngx_time();
    rd->changed = 1;

    /* a full page may have more after it; an empty one ends the peer */
    wp->more = pg->consumed > 0 && !pg->garbled && pg->err == 0
               && pg->ahead == 0;

    if (pg->added) {
        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "walrus: learned %ui certified blobs from peer %s",
                      pg->added, name);
    }

    if (pg->expired) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                       "walrus: peer %s listed %ui expired blobs: skipped",
                       name, pg->expired);
    }

    /*
     * Entries that do not verify may be a lie or of an epoch the history
     * no longer holds: they are skipped (the cursor is past them), said loud
     * the first time and then quietly while the peer's listings keep them.
     * Bytes that are no entries never come from an honest node, which
     * lists whole entries it checked: the peer is asked again after 1 s,
     * then 2, 4, ... up to 5 minutes.
     */

    if (pg->refused || pg->garbled) {
        level = wp->lies++ == 0 ? NGX_LOG_WARN : NGX_LOG_INFO;

        if (pg->refused) {
            ngx_log_error(level, rd->log, 0,
                          "walrus: peer %s listed %ui entries whose "
                          "certificate or registration does not verify: "
                          "skipped", name, pg->refused);
        }

        if (pg->garbled) {
            delay = ngx_walrus_keeper_backoff(wp->lies);
            wp->wait = ngx_time() + delay;

            ngx_log_error(level, rd->log, 0,
                          "walrus: peer %s answered its record with bytes "
                          "that are no entries; next listing in %T s",
                          name, delay);
        }

    } else if (pg->consumed > 0) {
        wp->lies = 0;
    }

    if (pg->err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, pg->err,
                      "walrus: cannot store the certified blobs listed by "
                      "peer %s", name);
    }

    if (pg->ahead) {
        ngx_log_error(NGX_LOG_NOTICE, rd->log, 0,
                      "walrus: peer %s listed a certificate of epoch %uD, "
                      "which the committee history (epochs %uD to %uD) "
                      "does not hold: its record is read on from there "
                      "once a reload brings that epoch", name, pg->ahead,
                      kp->history->first, kp->history->current);
    }

    sy->taking = 0;
    ngx_walrus_sync_next_page(rd, sy);
}


static void
ngx_walrus_sync_cleanup(void *data)
{
    ngx_walrus_sync_t  *sy = data;

    ngx_uint_t               i;
    ngx_walrus_sync_page_t  **pgp;

    pgp = sy->waiting->elts;

    for (i = 0; i < sy->waiting->nelts; i++) {
        if (pgp[i]->body != NULL) {
            ngx_walrus_buffer_free(pgp[i]->body);
            pgp[i]->body = NULL;
        }
    }
}
