/*
 * The keeper's audit phase: its steps, from the state read back at start
 * through the rounds' beacons (the thread work in
 * ngx_walrus_node_audit_beacon.c) to the challenges and certificates.
 * Time only decides when this node asks (17.6); what it takes in is
 * verified whatever the time.
 */

#include <ngx_walrus_node_auditor.h>
#include <ngx_walrus_buffer.h>
#include <walrus_file.h>


typedef struct {
    ngx_walrus_audit_step_e      step;
    ngx_walrus_audit_got_t      *got;       /* by node index */
    uint32_t                     opening;   /* the round being opened */
} ngx_walrus_audit_phase_t;


static ngx_int_t ngx_walrus_audit_step(ngx_walrus_round_t *rd,
    ngx_walrus_audit_phase_t *ph);
static ngx_int_t ngx_walrus_audit_ask_all(ngx_walrus_round_t *rd,
    ngx_walrus_audit_phase_t *ph, const char *fmt, uint32_t r,
    size_t body_max);
static ngx_int_t ngx_walrus_audit_task(ngx_walrus_round_t *rd,
    ngx_walrus_audit_phase_t *ph, ngx_walrus_round_work_pt work);
static void ngx_walrus_audit_done(ngx_walrus_round_t *rd, void *data);
static void ngx_walrus_audit_cleanup(void *data);


ngx_int_t
ngx_walrus_auditor_init(ngx_walrus_keeper_t *kp, ngx_pool_t *pool)
{
    ngx_uint_t             i;
    ngx_walrus_auditor_t  *au;

    au = ngx_pcalloc(pool, sizeof(ngx_walrus_auditor_t));
    if (au == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_WALRUS_AUDIT_WINDOW; i++) {
        au->rounds[i].peers = ngx_pcalloc(pool, kp->committee->nnodes
                                         * sizeof(ngx_walrus_audit_peer_t));
        if (au->rounds[i].peers == NULL) {
            return NGX_ERROR;
        }
    }

    /* with no beacon yet, the first round may open an interval from now */
    au->since = ngx_time();
    kp->auditor = au;

    return NGX_OK;
}


ngx_walrus_audit_round_t *
ngx_walrus_audit_slot(ngx_walrus_auditor_t *au, uint32_t r)
{
    ngx_walrus_audit_round_t  *slot;

    if (r == 0) {
        return NULL;
    }

    slot = &au->rounds[r % NGX_WALRUS_AUDIT_WINDOW];

    return slot->round == r ? slot : NULL;
}


ngx_int_t
ngx_walrus_audit_round_dir(ngx_walrus_keeper_t *kp, uint32_t r, char *dir)
{
    u_char  *p;

    p = ngx_snprintf((u_char *) dir, WALRUS_PATH_MAX,
                     "%V/" NGX_WALRUS_AUDIT_DIR "/" NGX_WALRUS_AUDIT_ROUNDS
                     "/%uD%Z", &kp->conf->store, r);

    return p < (u_char *) dir + WALRUS_PATH_MAX ? NGX_OK : NGX_ERROR;
}


ngx_int_t
ngx_walrus_audit_start(ngx_walrus_round_t *rd)
{
    ngx_int_t                  rc;
    ngx_pool_cleanup_t        *cln;
    ngx_walrus_keeper_t       *kp;
    ngx_walrus_audit_phase_t  *ph;

    kp = rd->keeper;

    if (kp->conf->audit_interval == 0 || kp->auditor == NULL) {
        return NGX_DONE;
    }

    ph = rd->phase_data;

    if (ph == NULL) {
        ph = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_audit_phase_t));
        if (ph == NULL) {
            return NGX_ERROR;
        }

        ph->got = ngx_pcalloc(rd->pool, kp->committee->nnodes
                                        * sizeof(ngx_walrus_audit_got_t));
        cln = ngx_pool_cleanup_add(rd->pool, 0);
        if (ph->got == NULL || cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_walrus_audit_cleanup;
        cln->data = rd;

        ph->step = kp->auditor->loaded ? NGX_WALRUS_AUDIT_STEP_BEACONS
                                       : NGX_WALRUS_AUDIT_STEP_LOAD;
        rd->phase_data = ph;
    }

    /* steps with nothing to do go on at once */

    while (ph->step != NGX_WALRUS_AUDIT_STEP_DONE) {
        rc = ngx_walrus_audit_step(rd, ph);

        if (rc == NGX_AGAIN && ph->step != NGX_WALRUS_AUDIT_STEP_ASK) {
            /* its answers come to the next step (asking is in batches) */
            ph->step++;
        }

        if (rc != NGX_DONE) {
            return rc;
        }

        ph->step++;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                       "walrus: node %V: audit step %d",
                       &kp->conf->node_name, (int) ph->step);
    }

    rd->phase_data = NULL;

    return NGX_DONE;
}


/* NGX_AGAIN when work was started, NGX_DONE when the step is over */

static ngx_int_t
ngx_walrus_audit_step(ngx_walrus_round_t *rd, ngx_walrus_audit_phase_t *ph)
{
    uint32_t               r, j;
    ngx_msec_t             early, due;
    ngx_uint_t             i;
    ngx_walrus_keeper_t   *kp;
    ngx_walrus_auditor_t  *au;

    kp = rd->keeper;
    au = kp->auditor;

    switch (ph->step) {

    case NGX_WALRUS_AUDIT_STEP_LOAD:
        if (au->loaded) {
            return NGX_DONE;
        }

        au->loaded = 1;

        return ngx_walrus_audit_task(rd, ph, ngx_walrus_beacon_load);

    case NGX_WALRUS_AUDIT_STEP_BEACONS:

        /*
         * No round after R opens before its leader's interval passed
         * since it took R (17.6), within a keeper round or so of when
         * this node took it: peers are asked for newer beacons once
         * after a start (this node may be rounds behind), then only from
         * two keeper intervals before T + I, every keeper round until
         * one comes.
         */

        early = 2 * kp->conf->keeper_interval;
        due = kp->conf->audit_interval > early
              ? kp->conf->audit_interval - early : 0;

        if (au->polled
            && (ngx_msec_t) (ngx_time() - au->since) * 1000 < due)
        {
            return NGX_DONE;
        }

        au->polled = 1;

        return ngx_walrus_audit_ask_all(rd, ph, "/v1/audit/beacon", 0,
                                        WALRUS_AUDIT_BEACON_MAX);

    case NGX_WALRUS_AUDIT_STEP_ADOPT:
        for (i = 0; i < kp->committee->nnodes; i++) {
            if (ph->got[i].body != NULL) {
                return ngx_walrus_audit_task(rd, ph, ngx_walrus_beacon_adopt);
            }
        }

        return NGX_DONE;

    case NGX_WALRUS_AUDIT_STEP_OPEN:

        /*
         * The first round after ours that this node leads, once its
         * turn came: the leaders before it had an interval each.
         */

        for (j = 1; j <= kp->committee->nnodes; j++) {
            r = au->newest + j;

            if (walrus_audit_leader(kp->committee, r)
                == (unsigned) kp->conf->node_index)
            {
                break;
            }
        }

        if ((ngx_msec_t) (ngx_time() - au->since) * 1000
            < kp->conf->audit_interval * j)
        {
            return NGX_DONE;
        }

        ph->opening = au->newest + j;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                       "walrus: node %V: opening audit round %uD",
                       &kp->conf->node_name, ph->opening);

        return ngx_walrus_audit_ask_all(rd, ph,
                                        "/v1/audit/rounds/%uD/signature",
                                        ph->opening, WALRUS_SIG_LEN);

    case NGX_WALRUS_AUDIT_STEP_BUILD:
        if (ph->opening == 0) {
            return NGX_DONE;
        }

        return ngx_walrus_audit_task(rd, ph, ngx_walrus_beacon_build);

    case NGX_WALRUS_AUDIT_STEP_PICK:
        return ngx_walrus_audit_pick(rd);

    case NGX_WALRUS_AUDIT_STEP_LOCKS:
        return ngx_walrus_audit_write_locks(rd);

    case NGX_WALRUS_AUDIT_STEP_ASK:
        return ngx_walrus_audit_ask(rd);

    case NGX_WALRUS_AUDIT_STEP_COLLECT:
        return ngx_walrus_audit_collect(rd);

    case NGX_WALRUS_AUDIT_STEP_CERTIFY:
        return ngx_walrus_audit_certify(rd);

    default:
        return NGX_DONE;
    }
}


/* asks every peer the same GET; their answers land in ph->got */

static ngx_int_t
ngx_walrus_audit_ask_all(ngx_walrus_round_t *rd,
    ngx_walrus_audit_phase_t *ph, const char *fmt, uint32_t r,
    size_t body_max)
{
    u_char               *p;
    ngx_str_t             uri;
    ngx_uint_t            i, asked;
    ngx_walrus_call_t    *call;
    ngx_walrus_keeper_t  *kp;
    u_char                buf[64];

    kp = rd->keeper;

    p = ngx_snprintf(buf, sizeof(buf), fmt, r);
    uri.data = buf;
    uri.len = p - buf;
    asked = 0;

    for (i = 0; i < kp->committee->nnodes; i++) {
        if ((ngx_int_t) i == kp->conf->node_index) {
            continue;
        }

        call = ngx_walrus_round_call(rd, i, &uri, body_max);
        if (call == NULL) {
            return NGX_ERROR;
        }

        call->kind = ph->step;
        asked++;
    }

    return asked ? NGX_AGAIN : NGX_DONE;
}


void
ngx_walrus_audit_answer(ngx_walrus_round_t *rd, ngx_walrus_call_t *call)
{
    ngx_walrus_audit_got_t    *got;
    ngx_walrus_audit_phase_t  *ph;

    ph = rd->phase_data;

    switch (call->kind) {

    case NGX_WALRUS_AUDIT_STEP_BEACONS:
    case NGX_WALRUS_AUDIT_STEP_OPEN:
        if (call->status != NGX_HTTP_OK || call->truncated
            || call->body_len == 0)
        {
            return;
        }

        /* the body goes to the step's task: the call no longer frees it */

        got = &ph->got[call->node];
        got->body = call->body;
        got->len = call->body_len;
        call->body = NULL;
        call->body_size = 0;
        call->body_len = 0;
        return;

    case NGX_WALRUS_AUDIT_STEP_ASK:
        ngx_walrus_audit_checked(rd, call);
        return;

    case NGX_WALRUS_AUDIT_STEP_COLLECT:
        ngx_walrus_audit_collected(rd, call);
        return;

    default:
        return;
    }
}


static ngx_int_t
ngx_walrus_audit_task(ngx_walrus_round_t *rd, ngx_walrus_audit_phase_t *ph,
    ngx_walrus_round_work_pt work)
{
    ngx_walrus_keeper_t            *kp;
    ngx_walrus_auditor_t           *au;
    ngx_walrus_audit_beacon_job_t  *job;

    kp = rd->keeper;
    au = kp->auditor;

    job = ngx_pcalloc(rd->pool, sizeof(ngx_walrus_audit_beacon_job_t));
    if (job == NULL) {
        return NGX_ERROR;
    }

    job->keeper = kp;
    job->committee = kp->committee;
    job->step = ph->step;
    job->got = ph->got;
    job->key = kp->conf->key;
    job->opening = ph->opening;
    job->newest = au->newest;
    job->since = au->since;

    if (ngx_walrus_round_task(rd, work, ngx_walrus_audit_done, job)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


static void
ngx_walrus_audit_done(ngx_walrus_round_t *rd, void *data)
{
    ngx_walrus_audit_beacon_job_t  *job = data;

    uint8_t                    seed[32];
    ngx_uint_t                 i;
    ngx_walrus_keeper_t       *kp;
    ngx_walrus_auditor_t      *au;
    ngx_walrus_audit_phase_t  *ph;

    kp = rd->keeper;
    au = kp->auditor;
    ph = rd->phase_data;

    for (i = 0; i < kp->committee->nnodes; i++) {
        if (ph->got[i].body != NULL) {
            ngx_walrus_buffer_free(ph->got[i].body);
            ph->got[i].body = NULL;
        }
    }

    if (job->err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, job->err,
                      "walrus: node %V: cannot write the audit state",
                      &kp->conf->node_name);
    }

    if (job->equivocated) {
        ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                      "walrus: node %V: the leader of audit round %uD "
                      "signed two beacons; the second one is kept",
                      &kp->conf->node_name, job->newest);
    }

    if (job->step == NGX_WALRUS_AUDIT_STEP_BUILD && job->rc != WALRUS_OK) {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                       "walrus: node %V: audit round %uD not opened: %s",
                       &kp->conf->node_name, job->opening,
                       walrus_strerror(job->rc));
    }

    if (!job->adopted || job->newest < au->newest) {
        return;
    }

    if (job->step == NGX_WALRUS_AUDIT_STEP_LOAD) {
        /* the open rounds were set by the task */
        au->newest = job->newest;
        au->since = job->since;
        au->locks_dirty = 1;

        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "walrus: node %V: audit round %uD resumed",
                      &kp->conf->node_name, au->newest);
        return;
    }

    ngx_memcpy(seed, job->seed, 32);

    au->newest = job->newest;
    au->since = job->since;
    au->locks_dirty = 1;
    ngx_walrus_audit_set_slot(au, job->newest, seed, kp->committee->nnodes);
    ngx_walrus_node_count(&kp->conf->node_name, NGX_WALRUS_NM_AUDIT_ROUNDS, 0,
                          1);

    ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                  "walrus: node %V: audit round %uD opened%s",
                  &kp->conf->node_name, au->newest,
                  job->step == NGX_WALRUS_AUDIT_STEP_BUILD
                  ? " (this node leads it)" : "");
}


void
ngx_walrus_audit_set_slot(ngx_walrus_auditor_t *au, uint32_t r,
    const uint8_t *seed, ngx_uint_t nnodes)
{
    ngx_walrus_audit_peer_t   *peers;
    ngx_walrus_audit_round_t  *slot;

    slot = &au->rounds[r % NGX_WALRUS_AUDIT_WINDOW];

    if (slot->round == r) {
        return;
    }

    peers = slot->peers;
    ngx_memzero(peers, nnodes * sizeof(ngx_walrus_audit_peer_t));
    ngx_memzero(slot, sizeof(ngx_walrus_audit_round_t));

    slot->peers = peers;
    slot->round = r;
    ngx_memcpy(slot->seed, seed, 32);
}


/* a round stopped with answers not handled: their buffers go */

static void
ngx_walrus_audit_cleanup(void *data)
{
    ngx_walrus_round_t  *rd = data;

    ngx_uint_t                 i;
    ngx_walrus_audit_phase_t  *ph;

    ph = rd->phase_data;

    if (ph == NULL || rd->phase != NGX_WALRUS_ROUND_AUDIT) {
        return;
    }

    for (i = 0; i < rd->keeper->committee->nnodes; i++) {
        if (ph->got[i].body != NULL) {
            ngx_walrus_buffer_free(ph->got[i].body);
            ph->got[i].body = NULL;
        }
    }
}
