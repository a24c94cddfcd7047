/*
 * The node's own audit certificates: in every open round it holds no
 * certificate of, it asks its peers for the attestations they gave it
 * and, once those that verify reach the quorum (17.4), makes the
 * certificate and keeps it.  A peer that attests late is simply asked
 * again in a later keeper round.
 */

#include <ngx_walrus_node_auditor.h>
#include <walrus_store.h>


typedef struct {
    ngx_walrus_keeper_t        *keeper;
    const walrus_committee_t   *committee;
    uint32_t                    round;
    uint8_t                     seed[32];
    walrus_audit_signer_t      *att;
    unsigned                    natt;
    unsigned                    made:1;
    int                         rc;
    int                         err;
} ngx_walrus_audit_cert_job_t;


static void ngx_walrus_audit_certify_run(void *data, ngx_log_t *log);
static void ngx_walrus_audit_certify_done(ngx_walrus_round_t *rd,
    void *data);


ngx_int_t
ngx_walrus_audit_collect(ngx_walrus_round_t *rd)
{
    u_char                    *p;
    uint32_t                   r;
    ngx_str_t                  uri;
    ngx_uint_t                 x, asked;
    ngx_walrus_call_t         *call;
    ngx_walrus_keeper_t       *kp;
    ngx_walrus_auditor_t      *au;
    ngx_walrus_audit_round_t  *slot;
    u_char                     buf[sizeof("/v1/audit/rounds//attestations/")
                                   + 2 * NGX_INT32_LEN];

    kp = rd->keeper;
    au = kp->auditor;
    asked = 0;

    r = au->newest >= NGX_WALRUS_AUDIT_WINDOW
        ? au->newest - NGX_WALRUS_AUDIT_WINDOW + 1 : 1;

    for ( /* void */ ; r <= au->newest; r++) {
        slot = ngx_walrus_audit_slot(au, r);

        if (slot == NULL || slot->certified) {
            continue;
        }

        p = ngx_sprintf(buf, "/v1/audit/rounds/%uD/attestations/%i", r,
                        kp->conf->node_index);
        uri.data = buf;
        uri.len = p - buf;

        for (x = 0; x < kp->committee->nnodes; x++) {
            if ((ngx_int_t) x == kp->conf->node_index
                || slot->peers[x].attested_me)
            {
                continue;
            }

            call = ngx_walrus_round_call(rd, x, &uri, WALRUS_SIG_LEN);
            if (call == NULL) {
                return NGX_ERROR;
            }

            call->kind = NGX_WALRUS_AUDIT_STEP_COLLECT;
            call->pair = r;
            asked++;
        }
    }

    return asked ? NGX_AGAIN : NGX_DONE;
}


void
ngx_walrus_audit_collected(ngx_walrus_round_t *rd, ngx_walrus_call_t *call)
{
    ngx_walrus_audit_peer_t   *peer;
    ngx_walrus_audit_round_t  *slot;

    slot = ngx_walrus_audit_slot(rd->keeper->auditor, (uint32_t) call->pair);

    if (slot == NULL || call->status != NGX_HTTP_OK || call->truncated
        || call->body_len != WALRUS_SIG_LEN)
    {
        return;
    }

    /* checked with the others before the certificate is made */

    peer = &slot->peers[call->node];
    ngx_memcpy(peer->attestation, call->body, WALRUS_SIG_LEN);
    peer->attested_me = 1;
}


ngx_int_t
ngx_walrus_audit_certify(ngx_walrus_round_t *rd)
{
    uint32_t                      r;
    ngx_uint_t                    x, posted;
    ngx_walrus_keeper_t          *kp;
    ngx_walrus_auditor_t         *au;
    ngx_walrus_audit_round_t     *slot;
    ngx_walrus_audit_cert_job_t  *job;

    kp = rd->keeper;
    au = kp->auditor;
    posted = 0;

    r = au->newest >= NGX_WALRUS_AUDIT_WINDOW
        ? au->newest - NGX_WALRUS_AUDIT_WINDOW + 1 : 1;

    for ( /* void */ ; r <= au->newest; r++) {
        slot = ngx_walrus_audit_slot(au, r);

        if (slot == NULL || slot->certified) {
            continue;
        }

        job = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_audit_cert_job_t));
        if (job == NULL) {
            return NGX_ERROR;
        }

        job->att = ngx_palloc(rd->pool, kp->committee->nnodes
                                        * sizeof(walrus_audit_signer_t));
        if (job->att == NULL) {
            return NGX_ERROR;
        }

        for (x = 0; x < kp->committee->nnodes; x++) {
            if (slot->peers[x].attested_me) {
                job->att[job->natt].node = x;
                ngx_memcpy(job->att[job->natt].signature,
                           slot->peers[x].attestation, WALRUS_SIG_LEN);
                job->natt++;
            }
        }

        if (job->natt == 0) {
            continue;
        }

        job->keeper = kp;
        job->committee = kp->committee;
        job->round = r;
        ngx_memcpy(job->seed, slot->seed, 32);

        if (ngx_walrus_round_task(rd, ngx_walrus_audit_certify_run,
                                  ngx_walrus_audit_certify_done, job)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        posted++;
    }

    return posted ? NGX_AGAIN : NGX_DONE;
}


/* in the thread pool: attestations that do not verify are dropped */

static void
ngx_walrus_audit_certify_run(void *data, ngx_log_t *log)
{
    ngx_walrus_audit_cert_job_t  *job = data;

    char      dir[WALRUS_PATH_MAX];
    size_t    len;
    uint8_t  *cert;

    job->rc = walrus_audit_cert_build(job->committee, job->round,
                                      job->keeper->conf->node_index,
                                      job->seed, job->att, job->natt, &cert,
                                      &len);
    if (job->rc != WALRUS_OK) {
        return;
    }

    if (ngx_walrus_audit_round_dir(job->keeper, job->round, dir) != NGX_OK
        || walrus_store_mkdir(dir) != 0
        || walrus_store_write(dir, "certificate", cert, len) != 0)
    {
        job->err = errno ? errno : ENAMETOOLONG;

    } else {
        job->made = 1;
    }

    free(cert);
}


static void
ngx_walrus_audit_certify_done(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_audit_cert_job_t  *job = data;

    ngx_uint_t                 x;
    ngx_walrus_keeper_t       *kp;
    ngx_walrus_audit_round_t  *slot;

    kp = rd->keeper;
    slot = ngx_walrus_audit_slot(kp->auditor, job->round);

    if (job->err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, job->err,
                      "walrus: node %V: cannot keep its audit certificate "
                      "of round %uD", &kp->conf->node_name, job->round);
        return;
    }

    if (slot == NULL) {
        return;
    }

    if (!job->made) {
        /*
         * Below the quorum: all are asked again later (64 bytes each),
         * so that one that did not verify is not kept for ever.
         */
        for (x = 0; x < kp->committee->nnodes; x++) {
            slot->peers[x].attested_me = 0;
        }

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                       "walrus: node %V: audit round %uD: %ud attestations, "
                       "no certificate yet", &kp->conf->node_name,
                       job->round, job->natt);
        return;
    }

    slot->certified = 1;
    kp->auditor->certificates++;

    ngx_walrus_node_count(&kp->conf->node_name,
                          NGX_WALRUS_NM_AUDIT_CERTIFICATES, 0, 1);

    ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                  "walrus: node %V: audit certificate of round %uD made "
                  "from %ud attestations", &kp->conf->node_name, job->round,
                  job->natt);
}
