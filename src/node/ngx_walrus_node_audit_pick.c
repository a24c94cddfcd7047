/*
 * The challenge sets of the open audit rounds, picked in the thread pool
 * from this node's record: for each peer, among the blobs whose
 * certificates it signed (found by name through the node list of the
 * certificate's epoch), those the round's seed chooses (docs/protocol.md
 * 17.2).
 */

#include <ngx_walrus_node_auditor.h>
#include <walrus_file.h>
#include <walrus_lifetime.h>
#include <walrus_record.h>
#include <walrus_store.h>


/* the record is read in pages of this size */
#define NGX_WALRUS_AUDIT_PAGE  (1024 * 1024)


/* the challenge sets of the open rounds not picked yet */
typedef struct {
    ngx_walrus_keeper_t        *keeper;
    const walrus_committee_t   *committee;
    const walrus_history_t     *history;
    ngx_walrus_audit_round_t   *slots[NGX_WALRUS_AUDIT_WINDOW];
    ngx_uint_t                  nslots;
    u_char                      ready[WALRUS_MAX_SHARDS];  /* by node */
    int                         err;
} ngx_walrus_audit_pick_job_t;



static void ngx_walrus_audit_pick_run(void *data, ngx_log_t *log);
static void ngx_walrus_audit_pick_entry(ngx_walrus_audit_pick_job_t *job,
    walrus_audit_pick_t *picks, const walrus_record_entry_t *e);
static void ngx_walrus_audit_pick_done(ngx_walrus_round_t *rd, void *data);
static ngx_uint_t ngx_walrus_audit_gained(const walrus_committee_t *then,
    unsigned x_then, const walrus_committee_t *now, unsigned x_now);


ngx_int_t
ngx_walrus_audit_pick(ngx_walrus_round_t *rd)
{
    ngx_uint_t                    i;
    ngx_walrus_keeper_t          *kp;
    ngx_walrus_auditor_t         *au;
    ngx_walrus_audit_pick_job_t  *job;

    kp = rd->keeper;
    au = kp->auditor;

    job = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_audit_pick_job_t));
    if (job == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_WALRUS_AUDIT_WINDOW; i++) {
        if (au->rounds[i].round != 0 && !au->rounds[i].picked
            && au->rounds[i].round + NGX_WALRUS_AUDIT_WINDOW > au->newest)
        {
            job->slots[job->nslots++] = &au->rounds[i];
        }
    }

    if (job->nslots == 0) {
        return NGX_DONE;
    }

    job->keeper = kp;
    job->committee = kp->committee;
    job->history = kp->history;
    ngx_memcpy(job->ready, kp->ready_nodes, sizeof(job->ready));

    if (ngx_walrus_round_task(rd, ngx_walrus_audit_pick_run,
                              ngx_walrus_audit_pick_done, job)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


/*
 * In the thread pool: one pass over this node's record picks the
 * challenge set of every peer in every round not picked yet.  A blob
 * whose metadata this node lacks cannot be checked by it: it is left
 * out (a node that healed it picks it).
 */

static void
ngx_walrus_audit_pick_run(void *data, ngx_log_t *log)
{
    ngx_walrus_audit_pick_job_t  *job = data;

    int                     rc, restarted;
    char                    record[WALRUS_PATH_MAX];
    uint8_t                *buf, *p, *last;
    uint64_t                cursor;
    ngx_uint_t              i, j, n;
    walrus_audit_pick_t    *picks;
    walrus_record_range_t   rg;
    walrus_record_entry_t   e;
    ngx_walrus_keeper_t    *kp;

    kp = job->keeper;
    n = job->committee->nnodes;

    if (walrus_record_path(record, (char *) kp->conf->store.data,
                           kp->conf->store.len)
        != 0)
    {
        job->err = ENAMETOOLONG;
        return;
    }

    picks = malloc(job->nslots * n * sizeof(walrus_audit_pick_t));
    if (picks == NULL) {
        job->err = ENOMEM;
        return;
    }

    for (i = 0; i < job->nslots; i++) {
        for (j = 0; j < n; j++) {
            walrus_audit_pick_init(&picks[i * n + j], job->slots[i]->seed, j);
        }
    }

    cursor = 0;

    for ( ;; ) {
        rc = walrus_record_read_from(record, &cursor, NGX_WALRUS_AUDIT_PAGE,
                                     NULL, &rg, &buf, &restarted);
        if (rc != WALRUS_OK) {
            /* no record: nobody promised anything this node knows of */
            job->err = (rc == WALRUS_EIO && errno == ENOENT) ? 0 : EIO;
            break;
        }

        if (rg.end == rg.start) {
            free(buf);
            break;
        }

        p = buf;
        last = buf + (rg.end - rg.start);

        while (p < last
               && walrus_record_entry_parse(NULL, &e, p, last - p)
                  == WALRUS_OK)
        {
            ngx_walrus_audit_pick_entry(job, picks, &e);
            p += e.size;
        }

        free(buf);
        cursor = rg.end;
    }

    if (job->err == 0) {
        for (i = 0; i < job->nslots; i++) {
            for (j = 0; j < n; j++) {
                job->slots[i]->peers[j].npicked = picks[i * n + j].count;
                ngx_memcpy(job->slots[i]->peers[j].picked,
                           picks[i * n + j].blob_id,
                           picks[i * n + j].count * WALRUS_BLOB_ID_LEN);
            }

            job->slots[i]->picked = 1;
        }
    }

    free(picks);
}


static void
ngx_walrus_audit_pick_entry(ngx_walrus_audit_pick_job_t *job,
    walrus_audit_pick_t *picks, const walrus_record_entry_t *e)
{
    int                        idx;
    char                       id_text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    char                       dir[WALRUS_PATH_MAX], path[WALRUS_PATH_MAX];
    ngx_uint_t                 i, s, x, n;
    struct stat                st;
    walrus_cert_t              cert;
    ngx_walrus_keeper_t       *kp;
    const walrus_committee_t  *signed_in;

    kp = job->keeper;
    n = job->committee->nnodes;

    if (walrus_cert_parse(&cert, e->cert, e->cert_len) != WALRUS_OK) {
        return;
    }

    /*
     * The signer indexes are places in the node list of the
     * certificate's epoch: a node is found by its name in the current
     * list, where it may have another place (or none, having left).
     */

    signed_in = walrus_history_committee(job->history, cert.epoch);
    if (signed_in == NULL) {
        return;
    }

    walrus_blob_id_format(cert.blob_id, id_text);

    if (walrus_store_dir(dir, (char *) kp->conf->store.data,
                         kp->conf->store.len, id_text)
        != 0
        || walrus_store_path(path, dir, "metadata") != 0
        || stat(path, &st) != 0)
    {
        return;
    }

    /*
     * A blob whose recorded registration expired in the round's epoch
     * (the committee's: a beacon is of the current epoch) is not
     * challenged, its holders reclaim it.  The record's registration,
     * not an extension stored since: every holder of the entry decides
     * alike (protocol 17.2).
     */

    if (walrus_lifetime_recorded_expired(e, job->committee->epoch)) {
        return;
    }

    for (s = 0; s < cert.nsigners; s++) {
        x = cert.signers[s].node;

        if (x >= signed_in->nnodes) {
            continue;
        }

        if (signed_in != job->committee) {
            idx = walrus_committee_find(job->committee,
                                        signed_in->nodes[x].name);
            if (idx < 0) {
                continue;
            }

            /*
             * A node that gained a shard since the blob was certified
             * takes that pair from its old owner or its peers: it is
             * challenged on the blob only once it said it is ready for
             * the epoch, never while it may still be migrating
             * (protocol 17.2).
             */

            if ((ngx_uint_t) idx < n && !job->ready[idx]
                && ngx_walrus_audit_gained(signed_in, x, job->committee,
                                           idx))
            {
                continue;
            }

            x = idx;
        }

        if (x >= n || (ngx_int_t) x == kp->conf->node_index) {
            continue;
        }

        for (i = 0; i < job->nslots; i++) {
            walrus_audit_pick_add(&picks[i * n + x], cert.blob_id);
        }
    }
}


/* 1 when node x_now holds a shard now that it did not hold then */

static ngx_uint_t
ngx_walrus_audit_gained(const walrus_committee_t *then, unsigned x_then,
    const walrus_committee_t *now, unsigned x_now)
{
    unsigned  i, shard;

    for (i = 0; i < now->nodes[x_now].nshards; i++) {
        shard = now->nodes[x_now].shards[i];

        if (shard >= WALRUS_MAX_SHARDS || then->shard_owner[shard] != x_then)
        {
            return 1;
        }
    }

    return 0;
}


static void
ngx_walrus_audit_pick_done(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_audit_pick_job_t  *job = data;

    ngx_uint_t             i, j;
    ngx_walrus_keeper_t   *kp;

    kp = rd->keeper;

    if (job->err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, job->err,
                      "walrus: node %V: cannot read its record to pick "
                      "audit challenges", &kp->conf->node_name);
        return;
    }

    for (i = 0; i < job->nslots; i++) {
        for (j = 0; j < kp->committee->nnodes; j++) {
            if (job->slots[i]->peers[j].npicked == 0
                && job->slots[i]->peers[j].verdict == NGX_WALRUS_VERDICT_NONE)
            {
                job->slots[i]->peers[j].verdict = NGX_WALRUS_VERDICT_EMPTY;
            }
        }

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                       "walrus: node %V: audit round %uD challenges picked",
                       &kp->conf->node_name, job->slots[i]->round);
    }

    kp->auditor->locks_dirty = 1;
}
