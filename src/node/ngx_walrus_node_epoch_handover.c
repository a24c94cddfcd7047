/*
 * The keeper's epoch phase, the handover: once the change to the current
 * epoch is complete and every shard this node held in the previous one
 * has a ready new owner, the sliver files of the shards it no longer
 * holds are deleted, a chunk of the record per round, in the thread pool;
 * <store>/epochs/<epoch>/handed-over marks it done (docs/protocol.md
 * 18.6).
 */

#include <ngx_walrus_node_epoch.h>
#include <walrus_record.h>
#include <walrus_store.h>

#include <dirent.h>


static int ngx_walrus_epoch_drop(void *data,
    const walrus_record_entry_t *e);


/*
 * Whether the new owner of every shard this node held in the previous
 * epoch and no longer holds is ready: until then the old owner serves it
 * (the change may be complete while a shard is still in flight, since
 * nodes holding n - f shards may be ready before the others).
 */

ngx_uint_t
ngx_walrus_epoch_lost_ready(ngx_walrus_keeper_t *kp)
{
    unsigned                   shard;
    const walrus_committee_t  *c, *prev;

    c = kp->committee;

    if (c->epoch == 0) {
        return 1;
    }

    prev = walrus_history_committee(kp->history, c->epoch - 1);
    if (prev == NULL) {
        return 1;
    }

    for (shard = 0; shard < c->params.n; shard++) {
        if (ngx_strcmp(prev->nodes[prev->shard_owner[shard]].name,
                       kp->conf->node_name.data)
            == 0
            && c->shard_owner[shard] != kp->conf->node_index
            && !kp->ready_nodes[c->shard_owner[shard]])
        {
            return 0;
        }
    }

    return 1;
}


/*
 * In the thread pool: the entries of the record after the cursor, up to
 * a bound, and for each blob the sliver files of shards this node no
 * longer holds, deleted.  At the record's end the handover is marked
 * done.
 */

void
ngx_walrus_epoch_handover_run(void *data, ngx_log_t *log)
{
    ngx_walrus_epoch_t  *ep = data;

    uint64_t  from;
    int       over;

    from = ep->cursor;

    over = ngx_walrus_record_walk(ep->record, &ep->cursor,
                                  NGX_WALRUS_HANDOVER_SCAN,
                                  ngx_walrus_epoch_drop, ep, &ep->err);

    /*
     * A chunk short of the bound read what the record held: the pass is
     * over.  Waiting for a read that finds nothing would never end while
     * uploads go on; what is appended since is mostly blobs certified in
     * this epoch, which never were on this node's lost shards (one of an
     * older epoch learned late keeps its files until a later handover).
     */

    ep->end = ep->err == 0
              && (over || ep->cursor - from < NGX_WALRUS_HANDOVER_SCAN
                                               - WALRUS_RECORD_ENTRY_MAX);

    if (ep->end
        && (ngx_walrus_epoch_mkdir(ep) != 0
            || walrus_store_write(ep->dir, NGX_WALRUS_HANDED_OVER, "", 0)
               != 0))
    {
        ep->err = errno;
        ep->end = 0;
    }
}


/* the sliver files of one blob whose shards are another node's now */

static int
ngx_walrus_epoch_drop(void *data, const walrus_record_entry_t *e)
{
    ngx_walrus_epoch_t  *ep = data;

    DIR            *d;
    char            dir[WALRUS_PATH_MAX], path[WALRUS_PATH_MAX], *end;
    unsigned long   pair;
    unsigned        shard;
    walrus_cert_t   cert;
    struct dirent  *de;

    if (walrus_cert_parse(&cert, e->cert, e->cert_len) != WALRUS_OK) {
        return 0;
    }

    walrus_blob_id_format(cert.blob_id, path);

    if (walrus_store_dir(dir, ep->store, strlen(ep->store), path) != 0) {
        ep->err = ENAMETOOLONG;
        return 1;
    }

    d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT) {
            return 0;
        }

        ep->err = errno;
        return 1;
    }

    while ((de = readdir(d)) != NULL) {
        errno = 0;
        pair = strtoul(de->d_name, &end, 10);

        if (end == de->d_name || errno != 0
            || pair >= ep->committee->params.n
            || (strcmp(end, ".primary") != 0
                && strcmp(end, ".secondary") != 0))
        {
            continue;
        }

        shard = walrus_pair_to_shard(&ep->committee->params, cert.blob_id,
                                     (unsigned) pair);

        if (ep->committee->shard_owner[shard] == ep->me) {
            continue;
        }

        if (walrus_store_path(path, dir, de->d_name) == 0
            && unlink(path) == 0)
        {
            ep->dropped++;
        }
    }

    closedir(d);

    return 0;
}


void
ngx_walrus_epoch_handed(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_epoch_t  *ep = data;

    ngx_walrus_keeper_t  *kp;

    kp = rd->keeper;

    ep->step = NGX_WALRUS_EPOCH_END;
    kp->dropped += ep->dropped;

    if (ep->err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, ep->err,
                      "walrus: node %V: cannot hand over the shards it "
                      "no longer holds", &kp->conf->node_name);
        return;
    }

    kp->handover_cursor = ep->end ? 0 : ep->cursor;

    if (ep->end) {
        kp->handed_over = 1;

        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "walrus: node %V handed over the shards it no "
                      "longer holds in epoch %uD (%uL sliver files "
                      "deleted)", &kp->conf->node_name,
                      ep->committee->epoch, kp->dropped);
    }
}
