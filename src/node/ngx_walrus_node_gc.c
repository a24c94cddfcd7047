/*
 * The keeper's garbage collection: goes through the node's record of
 * certified blobs in passes, from a cursor of its own, and reclaims the
 * blobs whose registration has expired (end epoch at or before the
 * node's current epoch): their metadata, slivers and certificate go,
 * the registration stays as a tombstone, so that requests for the blob
 * are still answered 404 BLOB_EXPIRED with it (docs/protocol.md 19).
 *
 * Bounded: walrus_node_gc_rate blobs a second at most, kept as credit
 * as the scrub's bytes, and a record page a round.  The disk work runs
 * in the thread pool.  A pass cut short (nginx killed) leaves blobs
 * whole or partly removed; both answer expired, and reclaiming is
 * idempotent, so the next pass (from the record's start after a
 * restart) finishes them.
 */

#include <ngx_walrus_node_keeper.h>
#include <walrus_cert.h>
#include <walrus_lifetime.h>
#include <walrus_record.h>
#include <walrus_store.h>


/* record bytes a task looks at, at most */
#define NGX_WALRUS_GC_RECORD  (64 * 1024)

/* blobs a task reclaims at most, each logged */
#define NGX_WALRUS_GC_BATCH   64


typedef struct {
    char                       id_text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    uint32_t                   end_epoch;
    unsigned                   files;
} ngx_walrus_gc_blob_t;


typedef struct {
    uint32_t                   epoch;      /* the node's current one */
    char                       store[WALRUS_PATH_MAX];
    char                       record[WALRUS_PATH_MAX];
    uint64_t                   cursor;     /* in: from, out: next */
    ngx_uint_t                 budget;     /* blobs to reclaim, at most */
    ngx_uint_t                 expired;    /* expired blobs met */
    ngx_uint_t                 nblobs;     /* reclaimed */
    ngx_walrus_gc_blob_t       blobs[NGX_WALRUS_GC_BATCH];
    unsigned                   end:1;
    int                        err;
} ngx_walrus_gc_t;


static void ngx_walrus_gc_run(void *data, ngx_log_t *log);
static int ngx_walrus_gc_entry(void *data, const walrus_record_entry_t *e);
static void ngx_walrus_gc_done(ngx_walrus_round_t *rd, void *data);


ngx_int_t
ngx_walrus_gc_start(ngx_walrus_round_t *rd)
{
    ngx_msec_t            now;
    ngx_walrus_gc_t      *gc;
    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;

    if (kp->conf->gc_rate == 0 || rd->phase_data != NULL) {
        rd->phase_data = NULL;
        return NGX_DONE;
    }

    /* blobs a second, as credit; at most a second's worth saved up */

    now = ngx_current_msec;

    if (kp->gc_last != 0) {
        kp->gc_credit += (int64_t) (kp->conf->gc_rate * (now - kp->gc_last)
                                    / 1000);
    }

    kp->gc_last = now;

    if (kp->gc_credit > (int64_t) kp->conf->gc_rate) {
        kp->gc_credit = kp->conf->gc_rate;
    }

    if (kp->gc_credit <= 0) {
        return NGX_DONE;
    }

    gc = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_gc_t));
    if (gc == NULL) {
        return NGX_ERROR;
    }

    gc->epoch = kp->committee->epoch;
    gc->cursor = kp->gc_cursor;
    gc->budget = (ngx_uint_t) ngx_min(kp->gc_credit, NGX_WALRUS_GC_BATCH);

    if (ngx_snprintf((u_char *) gc->store, sizeof(gc->store), "%V%Z",
                     &kp->conf->store)
        == (u_char *) gc->store + sizeof(gc->store)
        || walrus_record_path(gc->record, (char *) kp->conf->store.data,
                              kp->conf->store.len) != 0)
    {
        return NGX_ERROR;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "walrus: node %V: garbage collection from %uL in epoch "
                   "%uD", &kp->conf->node_name, gc->cursor, gc->epoch);

    if (ngx_walrus_round_task(rd, ngx_walrus_gc_run, ngx_walrus_gc_done, gc)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* one task per round: the phase ends when it is done */
    rd->phase_data = gc;

    return NGX_AGAIN;
}


/* in the thread pool: entries from the cursor until the budget */

static void
ngx_walrus_gc_run(void *data, ngx_log_t *log)
{
    ngx_walrus_gc_t  *gc = data;

    gc->end = ngx_walrus_record_walk(gc->record, &gc->cursor,
                                     NGX_WALRUS_GC_RECORD,
                                     ngx_walrus_gc_entry, gc, &gc->err);
}


/* 0: taken; 1: the budget is spent; -1 with gc->err: cannot go on */

static int
ngx_walrus_gc_entry(void *data, const walrus_record_entry_t *e)
{
    ngx_walrus_gc_t  *gc = data;

    char                   dir[WALRUS_PATH_MAX];
    unsigned               removed;
    walrus_cert_t          cert;
    walrus_registration_t  reg;
    ngx_walrus_gc_blob_t  *b;

    if (gc->nblobs >= gc->budget) {
        return 1;
    }

    if (walrus_cert_parse(&cert, e->cert, e->cert_len) != WALRUS_OK) {
        return 0;
    }

    b = &gc->blobs[gc->nblobs];
    walrus_blob_id_format(cert.blob_id, b->id_text);

    if (walrus_store_dir(dir, gc->store, strlen(gc->store), b->id_text) != 0
        || !walrus_lifetime_entry_expired(dir, e, gc->epoch))
    {
        return 0;
    }

    gc->expired++;

    if (walrus_lifetime_reclaim(dir, &removed) != 0) {
        gc->err = errno;
        return -1;
    }

    if (removed == 0) {
        /* a tombstone already, or a blob this node never held */
        return 0;
    }

    b->files = removed;
    b->end_epoch = walrus_lifetime_read(dir, &reg) == WALRUS_OK
                   ? reg.end_epoch : 0;
    gc->nblobs++;

    return 0;
}


static void
ngx_walrus_gc_done(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_gc_t  *gc = data;

    ngx_uint_t            i;
    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;

    kp->gc_credit -= (int64_t) gc->nblobs;
    kp->gc_cursor = gc->end ? 0 : gc->cursor;
    kp->gc_reclaimed += gc->nblobs;
    ngx_walrus_node_count(&kp->conf->node_name, NGX_WALRUS_NM_GC_BLOBS, 0,
                          gc->nblobs);

    if (gc->end) {
        kp->gc_passes++;
        ngx_walrus_node_count(&kp->conf->node_name, NGX_WALRUS_NM_GC_PASSES,
                              0, 1);
    }

    if (gc->err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, gc->err,
                      "walrus: node %V: the garbage collection cannot go "
                      "on in the store", &kp->conf->node_name);
    }

    for (i = 0; i < gc->nblobs; i++) {
        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "walrus: node %V: blob %s expired (end epoch %uD, "
                      "epoch %uD): %ud files reclaimed, its registration "
                      "kept", &kp->conf->node_name, gc->blobs[i].id_text,
                      gc->blobs[i].end_epoch, gc->epoch,
                      gc->blobs[i].files);
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "walrus: node %V: garbage collection: %ui expired, %ui "
                   "reclaimed, next at %uL", &kp->conf->node_name,
                   gc->expired, gc->nblobs, kp->gc_cursor);
}
