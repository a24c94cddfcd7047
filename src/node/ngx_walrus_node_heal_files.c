/*
 * The heal phase's files of a sliver pair: opened once for the pair's
 * first batch (from its old owner or from recovery symbols, which append
 * in segment order), and made durable when the last batch is written;
 * only then does the node count the pair as healed or migrated.
 */

#include <ngx_walrus_node_heal.h>
#include <walrus_lifetime.h>


static void ngx_walrus_heal_commit_run(void *data, ngx_log_t *log);
static void ngx_walrus_heal_committed(ngx_walrus_round_t *rd, void *data);


/*
 * In the thread pool: the temporary files of the pair's missing slivers,
 * opened at its first batch; whatever way the batches come (from the
 * old owner, from recovery symbols) they append to them in order.
 */

int
ngx_walrus_heal_open_files(ngx_walrus_heal_t *h)
{
    char      name[32];
    unsigned  a;

    if (h->open) {
        return 0;
    }

    for (a = 0; a < 2; a++) {
        if (!(h->missing & (1 << a))) {
            continue;
        }

        walrus_store_sliver_name(name, sizeof(name), h->pair, a);

        if (walrus_store_open(&h->files[a], h->dir, name) != 0) {
            return errno;
        }
    }

    h->open = 1;

    return 0;
}


ngx_int_t
ngx_walrus_heal_commit(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h)
{
    return ngx_walrus_round_task(rd, ngx_walrus_heal_commit_run,
                                 ngx_walrus_heal_committed, h);
}


/* in the thread pool: the rebuilt files, verified, made durable */

static void
ngx_walrus_heal_commit_run(void *data, ngx_log_t *log)
{
    ngx_walrus_heal_t  *h = data;

    char         path[WALRUS_PATH_MAX];
    unsigned     a, deleted;
    struct stat  st;

    /*
     * A blob its publisher deleted while the pair was rebuilt keeps its
     * tombstone only: the rebuilt files are dropped, not brought back
     * (a deletion a moment later is found by the collection's pass)
     */

    deleted = walrus_store_path(path, h->dir, WALRUS_DELETED_FILE) == 0
              && stat(path, &st) == 0;

    for (a = 0; a < 2; a++) {
        if (h->files[a].fd == -1) {
            continue;
        }

        if (deleted) {
            walrus_file_abort(&h->files[a]);
            h->dropped = 1;

        } else if (walrus_store_commit(&h->files[a]) != 0) {
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

    rd->keeper->received += h->received;
    rd->keeper->migrated_bytes += h->pulled;
    ngx_walrus_keeper_forget(rd->keeper, b->id);

    if (h->dropped) {
        h->dropped = 0;

        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "walrus: node %V dropped the rebuilt sliver pair %ud "
                      "of blob %s: its publisher deleted it meanwhile",
                      &rd->keeper->conf->node_name, h->pair, b->id_text);

        h->pair_i++;
        h->state = NGX_WALRUS_HEAL_PAIR_NEXT;
        return;
    }

    if (h->received == 0 && h->pulled > 0) {
        rd->keeper->migrated++;
        ngx_walrus_node_count(&rd->keeper->conf->node_name,
                              NGX_WALRUS_NM_MIGRATED, 0, 1);

        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "walrus: node %V took sliver pair %ud of blob %s "
                      "from its old owner %s (%uL bytes)",
                      &rd->keeper->conf->node_name, h->pair, b->id_text,
                      h->old_owner->name, h->pulled);

    } else {
        rd->keeper->healed++;
        ngx_walrus_node_count(&rd->keeper->conf->node_name,
                              NGX_WALRUS_NM_HEALED, 0, 1);

        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "walrus: node %V rebuilt sliver pair %ud of blob %s "
                      "from %uL bytes of recovery symbols (and %uL bytes "
                      "from its old owner)",
                      &rd->keeper->conf->node_name, h->pair, b->id_text,
                      h->received, h->pulled);
    }

    h->pair_i++;
    h->state = NGX_WALRUS_HEAL_PAIR_NEXT;
}
