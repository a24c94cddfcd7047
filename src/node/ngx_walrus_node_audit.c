/*
 * The keeper's audit phase: its steps, the state read back at start, and
 * the rounds' beacons (newer ones taken from peers, the rounds this node
 * leads opened).  Time only decides when this node asks (17.6); what it
 * takes in is verified whatever the time.
 */

#include <ngx_walrus_node_auditor.h>
#include <ngx_walrus_buffer.h>
#include <walrus_file.h>
#include <walrus_sign.h>
#include <walrus_store.h>
#include <dirent.h>


/* what a peer sent for the step under way */
typedef struct {
    u_char                      *body;
    size_t                       len;
} ngx_walrus_audit_got_t;


typedef struct {
    ngx_walrus_audit_step_e      step;
    ngx_walrus_audit_got_t      *got;       /* by node index */
    uint32_t                     opening;   /* the round being opened */
} ngx_walrus_audit_phase_t;


/* the thread work of loading, adopting and building beacons */
typedef struct {
    ngx_walrus_keeper_t         *keeper;
    const walrus_committee_t    *committee;
    ngx_walrus_audit_step_e      step;
    ngx_walrus_audit_got_t      *got;
    EVP_PKEY                    *key;
    uint32_t                     opening;
    uint32_t                     newest;    /* in: ours; out: adopted */
    time_t                       since;
    uint8_t                      seed[32];
    unsigned                     adopted:1;
    unsigned                     equivocated:1;
    int                          rc;
    int                          err;
} ngx_walrus_audit_beacon_job_t;


static ngx_int_t ngx_walrus_audit_step(ngx_walrus_round_t *rd,
    ngx_walrus_audit_phase_t *ph);
static ngx_int_t ngx_walrus_audit_ask_all(ngx_walrus_round_t *rd,
    ngx_walrus_audit_phase_t *ph, const char *fmt, uint32_t r,
    size_t body_max);
static ngx_int_t ngx_walrus_audit_task(ngx_walrus_round_t *rd,
    ngx_walrus_audit_phase_t *ph, ngx_walrus_round_work_pt work);
static void ngx_walrus_audit_load(void *data, ngx_log_t *log);
static void ngx_walrus_audit_load_round(ngx_walrus_audit_beacon_job_t *job,
    uint32_t r);
static void ngx_walrus_audit_adopt(void *data, ngx_log_t *log);
static void ngx_walrus_audit_build(void *data, ngx_log_t *log);
static int ngx_walrus_audit_keep(ngx_walrus_audit_beacon_job_t *job,
    const walrus_audit_beacon_t *b, const u_char *buf, size_t len);
static void ngx_walrus_audit_prune(ngx_walrus_keeper_t *kp,
    uint32_t newest);
static void ngx_walrus_audit_done(ngx_walrus_round_t *rd, void *data);
static void ngx_walrus_audit_set_slot(ngx_walrus_auditor_t *au, uint32_t r,
    const uint8_t *seed, ngx_uint_t nnodes);
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

        return ngx_walrus_audit_task(rd, ph, ngx_walrus_audit_load);

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
                return ngx_walrus_audit_task(rd, ph, ngx_walrus_audit_adopt);
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

        return ngx_walrus_audit_task(rd, ph, ngx_walrus_audit_build);

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


/*
 * In the thread pool: the newest beacon and the open rounds' state, as a
 * restart left them.  The keeper's audit memory is the phase's alone
 * while its task runs.
 */

static void
ngx_walrus_audit_load(void *data, ngx_log_t *log)
{
    ngx_walrus_audit_beacon_job_t  *job = data;

    char                    path[WALRUS_PATH_MAX];
    size_t                  len;
    uint32_t                r;
    u_char                 *buf;
    struct stat             st;
    ngx_walrus_keeper_t    *kp;
    walrus_audit_beacon_t   b;

    kp = job->keeper;

    if (ngx_snprintf((u_char *) path, sizeof(path),
                     "%V/" NGX_WALRUS_AUDIT_DIR "/" NGX_WALRUS_AUDIT_LATEST
                     "%Z", &kp->conf->store)
        == (u_char *) path + sizeof(path))
    {
        return;
    }

    if (walrus_read_file(path, WALRUS_AUDIT_BEACON_MAX, &buf, &len) != 0) {
        job->err = errno == ENOENT ? 0 : errno;
        return;
    }

    job->rc = walrus_audit_beacon_verify(job->committee, buf, len, &b);

    if (job->rc == WALRUS_OK && stat(path, &st) == 0) {
        job->newest = b.round;
        job->since = st.st_mtime;
        job->adopted = 1;
    }

    free(buf);

    if (!job->adopted) {
        return;
    }

    for (r = job->newest; r > 0 && r + NGX_WALRUS_AUDIT_WINDOW > job->newest;
         r--)
    {
        ngx_walrus_audit_load_round(job, r);
    }
}


/* one open round's files: its seed, our verdicts and certificate */

static void
ngx_walrus_audit_load_round(ngx_walrus_audit_beacon_job_t *job, uint32_t r)
{
    char                       dir[WALRUS_PATH_MAX], path[WALRUS_PATH_MAX];
    size_t                     len;
    u_char                    *buf;
    ngx_uint_t                 i, n, v;
    struct stat                st;
    ngx_walrus_keeper_t       *kp;
    walrus_audit_beacon_t      b;
    ngx_walrus_audit_peer_t   *peer;
    ngx_walrus_audit_round_t  *slot;

    static const struct {
        const char            *prefix;
        ngx_walrus_verdict_e   verdict;
    } verdicts[] = {
        { "attest.", NGX_WALRUS_VERDICT_PASSED },
        { "missing.", NGX_WALRUS_VERDICT_MISSING },
        { "fraud.", NGX_WALRUS_VERDICT_FRAUD }
    };

    kp = job->keeper;
    n = job->committee->nnodes;

    if (ngx_walrus_audit_round_dir(kp, r, dir) != NGX_OK
        || walrus_store_path(path, dir, "beacon") != 0
        || walrus_read_file(path, WALRUS_AUDIT_BEACON_MAX, &buf, &len) != 0)
    {
        return;
    }

    if (walrus_audit_beacon_verify(job->committee, buf, len, &b) != WALRUS_OK
        || b.round != r)
    {
        free(buf);
        return;
    }

    free(buf);

    ngx_walrus_audit_set_slot(kp->auditor, r, b.seed, n);
    slot = ngx_walrus_audit_slot(kp->auditor, r);

    slot->certified = walrus_store_path(path, dir, "certificate") == 0
                      && stat(path, &st) == 0;

    for (i = 0; i < n; i++) {
        peer = &slot->peers[i];

        for (v = 0; v < sizeof(verdicts) / sizeof(verdicts[0]); v++) {
            if (ngx_snprintf((u_char *) path, sizeof(path), "%s/%s%ui%Z",
                             dir, verdicts[v].prefix, i)
                < (u_char *) path + sizeof(path)
                && stat(path, &st) == 0)
            {
                peer->verdict = verdicts[v].verdict;
            }
        }
    }
}


/*
 * In the thread pool: the newest valid beacon the peers sent, if newer
 * than ours, is taken; a valid beacon of our newest round that differs
 * from ours is kept as the evidence of its leader's equivocation.
 */

static void
ngx_walrus_audit_adopt(void *data, ngx_log_t *log)
{
    ngx_walrus_audit_beacon_job_t  *job = data;

    char                    dir[WALRUS_PATH_MAX], path[WALRUS_PATH_MAX];
    size_t                  len;
    u_char                 *mine;
    uint32_t                r, best;
    ngx_uint_t              i, pick;
    walrus_audit_beacon_t   b;
    ngx_walrus_audit_got_t *got;

    got = job->got;
    len = 0;
    best = job->newest;
    pick = (ngx_uint_t) -1;
    mine = NULL;

    for (i = 0; i < job->committee->nnodes; i++) {
        if (got[i].body == NULL || got[i].len < WALRUS_AUDIT_BEACON_HEADER) {
            continue;
        }

        r = (uint32_t) walrus_get_le(got[i].body + 5, 4);

        if (r == job->newest && r > 0) {
            /* ours, or another one of the same round */

            if (mine == NULL
                && (ngx_walrus_audit_round_dir(job->keeper, r, dir) != NGX_OK
                    || walrus_store_path(path, dir, "beacon") != 0
                    || walrus_read_file(path, WALRUS_AUDIT_BEACON_MAX, &mine,
                                        &len) != 0))
            {
                continue;
            }

            if ((len != got[i].len
                 || ngx_memcmp(mine, got[i].body, len) != 0)
                && walrus_audit_beacon_verify(job->committee, got[i].body,
                                              got[i].len, &b)
                   == WALRUS_OK
                && b.round == r)
            {
                job->equivocated = 1;
                (void) walrus_store_write(dir, "other", got[i].body,
                                          got[i].len);
            }

            continue;
        }

        if (r <= best) {
            continue;
        }

        if (walrus_audit_beacon_verify(job->committee, got[i].body,
                                       got[i].len, &b)
            != WALRUS_OK)
        {
            continue;
        }

        best = r;
        pick = i;
    }

    free(mine);

    if (pick == (ngx_uint_t) -1) {
        return;
    }

    (void) walrus_audit_beacon_verify(job->committee, got[pick].body,
                                      got[pick].len, &b);

    if (ngx_walrus_audit_keep(job, &b, got[pick].body, got[pick].len) != 0) {
        job->err = errno;
    }
}


/* in the thread pool: the beacon of the round this node leads */

static void
ngx_walrus_audit_build(void *data, ngx_log_t *log)
{
    ngx_walrus_audit_beacon_job_t  *job = data;

    size_t                  len;
    uint8_t                *beacon;
    uint8_t                 msg[WALRUS_AUDIT_ROUND_MSG_LEN];
    unsigned                nsigs;
    ngx_uint_t              i, me;
    walrus_audit_beacon_t   b;
    walrus_audit_signer_t  *sigs;

    me = job->keeper->conf->node_index;

    sigs = malloc(job->committee->nnodes * sizeof(walrus_audit_signer_t));
    if (sigs == NULL) {
        job->rc = WALRUS_ENOMEM;
        return;
    }

    walrus_audit_round_message(job->committee->epoch, job->opening, msg);

    sigs[0].node = me;
    nsigs = 1;

    if (walrus_sign(job->key, msg, sizeof(msg), sigs[0].signature)
        != WALRUS_OK)
    {
        free(sigs);
        job->rc = WALRUS_ECRYPTO;
        return;
    }

    for (i = 0; i < job->committee->nnodes; i++) {
        if (job->got[i].body != NULL && job->got[i].len == WALRUS_SIG_LEN) {
            sigs[nsigs].node = i;
            ngx_memcpy(sigs[nsigs].signature, job->got[i].body,
                       WALRUS_SIG_LEN);
            nsigs++;
        }
    }

    /* signatures that do not verify are dropped by the builder */

    job->rc = walrus_audit_beacon_build(job->committee, job->key,
                                        job->opening, sigs, nsigs, &beacon,
                                        &len);
    free(sigs);

    if (job->rc != WALRUS_OK) {
        return;
    }

    job->rc = walrus_audit_beacon_verify(job->committee, beacon, len, &b);

    if (job->rc == WALRUS_OK && ngx_walrus_audit_keep(job, &b, beacon, len)
                                != 0)
    {
        job->err = errno;
    }

    free(beacon);
}


/*
 * Takes a verified beacon: its round's file first (never replaced: the
 * first one a node holds is its beacon of the round), then "latest",
 * whose time is when the node took it.  -1 with errno.
 */

static int
ngx_walrus_audit_keep(ngx_walrus_audit_beacon_job_t *job,
    const walrus_audit_beacon_t *b, const u_char *buf, size_t len)
{
    char                  dir[WALRUS_PATH_MAX], path[WALRUS_PATH_MAX];
    u_char               *p;
    struct stat           st;
    ngx_walrus_keeper_t  *kp;

    kp = job->keeper;

    p = ngx_snprintf((u_char *) path, sizeof(path),
                     "%V/" NGX_WALRUS_AUDIT_DIR "%Z", &kp->conf->store);
    if (p == (u_char *) path + sizeof(path)
        || walrus_store_mkdir(path) != 0)
    {
        return -1;
    }

    p = ngx_snprintf((u_char *) dir, sizeof(dir),
                     "%s/" NGX_WALRUS_AUDIT_ROUNDS "%Z", path);
    if (p == (u_char *) dir + sizeof(dir) || walrus_store_mkdir(dir) != 0) {
        return -1;
    }

    if (ngx_walrus_audit_round_dir(kp, b->round, dir) != NGX_OK
        || walrus_store_mkdir(dir) != 0)
    {
        return -1;
    }

    if (walrus_store_path(path, dir, "beacon") == 0
        && stat(path, &st) != 0
        && walrus_store_write(dir, "beacon", buf, len) != 0)
    {
        return -1;
    }

    (void) ngx_snprintf((u_char *) dir, sizeof(dir),
                        "%V/" NGX_WALRUS_AUDIT_DIR "%Z", &kp->conf->store);

    if (walrus_store_write(dir, NGX_WALRUS_AUDIT_LATEST, buf, len) != 0) {
        return -1;
    }

    job->newest = b->round;
    job->since = time(NULL);
    ngx_memcpy(job->seed, b->seed, 32);
    job->adopted = 1;

    ngx_walrus_audit_prune(kp, b->round);

    return 0;
}


/* removes the rounds older than the newest minus the rounds kept */

static void
ngx_walrus_audit_prune(ngx_walrus_keeper_t *kp, uint32_t newest)
{
    char            dir[WALRUS_PATH_MAX], path[WALRUS_PATH_MAX];
    DIR            *d;
    u_char         *p;
    uint32_t        r;
    struct dirent  *de;

    if (newest <= NGX_WALRUS_AUDIT_KEEP_ROUNDS) {
        return;
    }

    r = newest - NGX_WALRUS_AUDIT_KEEP_ROUNDS;

    /* one round goes per new round: older ones went before */

    if (ngx_walrus_audit_round_dir(kp, r, dir) != NGX_OK) {
        return;
    }

    d = opendir(dir);
    if (d == NULL) {
        return;
    }

    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }

        p = ngx_snprintf((u_char *) path, sizeof(path), "%s/%s%Z", dir,
                         de->d_name);
        if (p < (u_char *) path + sizeof(path)) {
            (void) unlink(path);
        }
    }

    closedir(d);
    (void) rmdir(dir);
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

    ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                  "walrus: node %V: audit round %uD opened%s",
                  &kp->conf->node_name, au->newest,
                  job->step == NGX_WALRUS_AUDIT_STEP_BUILD
                  ? " (this node leads it)" : "");
}


static void
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
