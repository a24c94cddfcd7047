/*
 * The recovery lock as the keeper writes it (docs/protocol.md 17.5):
 * every pair a peer holds in a blob of its challenge set, in every open
 * round, until this node has the peer's answer of that round.  Recovery
 * answers read it (ngx_walrus_node_audit_lock.c).
 */

#include <ngx_walrus_node_auditor.h>
#include <walrus_store.h>


static void ngx_walrus_audit_locks_run(void *data, ngx_log_t *log);
static void ngx_walrus_audit_locks_done(ngx_walrus_round_t *rd, void *data);


typedef struct {
    ngx_walrus_keeper_t  *keeper;
    u_char               *buf;
    size_t                len;
    int                   err;
} ngx_walrus_audit_locks_job_t;


ngx_int_t
ngx_walrus_audit_write_locks(ngx_walrus_round_t *rd)
{
    u_char                        *p;
    unsigned                       k, pair;
    ngx_uint_t                     i, x, b, n, entries;
    ngx_walrus_keeper_t           *kp;
    ngx_walrus_auditor_t          *au;
    walrus_node_t                 *node;
    ngx_walrus_audit_peer_t       *peer;
    ngx_walrus_audit_round_t      *slot;
    ngx_walrus_audit_locks_job_t  *job;

    kp = rd->keeper;
    au = kp->auditor;
    n = kp->committee->nnodes;

    if (!au->locks_dirty) {
        return NGX_DONE;
    }

    entries = 0;

    for (i = 0; i < NGX_WALRUS_AUDIT_WINDOW; i++) {
        for (x = 0; x < n; x++) {
            entries += au->rounds[i].peers[x].npicked
                       * kp->committee->nodes[x].nshards;
        }
    }

    job = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_audit_locks_job_t));
    if (job == NULL) {
        return NGX_ERROR;
    }

    job->keeper = kp;
    job->buf = ngx_palloc(rd->pool, entries * NGX_WALRUS_AUDIT_LOCK_LEN + 1);
    if (job->buf == NULL) {
        return NGX_ERROR;
    }

    p = job->buf;

    for (i = 0; i < NGX_WALRUS_AUDIT_WINDOW; i++) {
        slot = &au->rounds[i];

        if (slot->round == 0
            || slot->round + NGX_WALRUS_AUDIT_WINDOW <= au->newest)
        {
            continue;
        }

        for (x = 0; x < n; x++) {
            peer = &slot->peers[x];
            node = &kp->committee->nodes[x];

            /* locked only until the peer's answer of the round is in */

            if (peer->verdict != NGX_WALRUS_VERDICT_NONE) {
                continue;
            }

            for (b = 0; b < peer->npicked; b++) {
                for (k = 0; k < node->nshards; k++) {
                    pair = walrus_shard_to_pair(&kp->committee->params,
                                                peer->picked[b],
                                                node->shards[k]);

                    p = ngx_cpymem(p, peer->picked[b], WALRUS_BLOB_ID_LEN);
                    walrus_put_le(p, pair, 2);
                    walrus_put_le(p + 2, x, 2);
                    walrus_put_le(p + 4, slot->round, 4);
                    p += 8;
                }
            }
        }
    }

    job->len = p - job->buf;
    au->locks_dirty = 0;

    if (ngx_walrus_round_task(rd, ngx_walrus_audit_locks_run,
                              ngx_walrus_audit_locks_done, job)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


static void
ngx_walrus_audit_locks_run(void *data, ngx_log_t *log)
{
    ngx_walrus_audit_locks_job_t  *job = data;

    char     dir[WALRUS_PATH_MAX];
    u_char  *p;

    p = ngx_snprintf((u_char *) dir, sizeof(dir),
                     "%V/" NGX_WALRUS_AUDIT_DIR "%Z",
                     &job->keeper->conf->store);

    if (p == (u_char *) dir + sizeof(dir)
        || walrus_store_mkdir(dir) != 0
        || walrus_store_write(dir, NGX_WALRUS_AUDIT_LOCKS, job->buf,
                              job->len)
           != 0)
    {
        job->err = errno ? errno : ENAMETOOLONG;
    }
}


static void
ngx_walrus_audit_locks_done(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_audit_locks_job_t  *job = data;

    if (job->err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, job->err,
                      "walrus: node %V: cannot write the audit's recovery "
                      "lock", &rd->keeper->conf->node_name);
        rd->keeper->auditor->locks_dirty = 1;
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "walrus: node %V: audit lock of %uz entries written",
                   &rd->keeper->conf->node_name,
                   job->len / NGX_WALRUS_AUDIT_LOCK_LEN);
}
