/*
 * The audit phase's beacon work, in the thread pool: the newest beacon
 * and the open rounds read back at start, a newer beacon taken from the
 * peers' answers, the beacon of a round this node leads built and
 * signed; each kept under <store>/audit/rounds/<r> and the oldest rounds
 * pruned.  The keeper's audit memory is the phase's alone while the task
 * runs (docs/protocol.md 17.1, 17.6).
 */

#include <ngx_walrus_node_auditor.h>
#include <walrus_file.h>
#include <walrus_sign.h>
#include <walrus_store.h>
#include <dirent.h>


static void ngx_walrus_beacon_load_round(ngx_walrus_audit_beacon_job_t *job,
    uint32_t r);
static int ngx_walrus_beacon_keep(ngx_walrus_audit_beacon_job_t *job,
    const walrus_audit_beacon_t *b, const u_char *buf, size_t len);
static void ngx_walrus_beacon_prune(ngx_walrus_keeper_t *kp,
    uint32_t newest);


/*
 * In the thread pool: the newest beacon and the open rounds' state, as a
 * restart left them.  The keeper's audit memory is the phase's alone
 * while its task runs.
 */

void
ngx_walrus_beacon_load(void *data, ngx_log_t *log)
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
        ngx_walrus_beacon_load_round(job, r);
    }
}


/* one open round's files: its seed, our verdicts and certificate */

static void
ngx_walrus_beacon_load_round(ngx_walrus_audit_beacon_job_t *job, uint32_t r)
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

void
ngx_walrus_beacon_adopt(void *data, ngx_log_t *log)
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

    if (ngx_walrus_beacon_keep(job, &b, got[pick].body, got[pick].len) != 0) {
        job->err = errno;
    }
}


/* in the thread pool: the beacon of the round this node leads */

void
ngx_walrus_beacon_build(void *data, ngx_log_t *log)
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

    if (job->rc == WALRUS_OK && ngx_walrus_beacon_keep(job, &b, beacon, len)
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
ngx_walrus_beacon_keep(ngx_walrus_audit_beacon_job_t *job,
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

    ngx_walrus_beacon_prune(kp, b->round);

    return 0;
}


/* removes the rounds older than the newest minus the rounds kept */

static void
ngx_walrus_beacon_prune(ngx_walrus_keeper_t *kp, uint32_t newest)
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
