/*
 * GET /v1/audit/rounds/{r}/signature: this node's round signature, the
 * share it gives a leader to open round r (docs/protocol.md 17.1), when
 * the rule of 17.6 lets r open here.  With R the round of audit/latest
 * (0 without a beacon) and T when the node took it (the file's mtime,
 * or when this worker started), it signs r iff r > R and
 * I * (r - R - 1) has passed since T.  Honest nodes keeping this rule
 * is what makes a round's seed unknown before the round opens.  The
 * beacon is read and verified and the message signed in the thread pool.
 */

#include <ngx_walrus_node_audit_serve.h>
#include <walrus_sign.h>


typedef struct {
    walrus_committee_t        *committee;
    EVP_PKEY                  *key;
    char                       latest[WALRUS_PATH_MAX];
    ngx_msec_t                 interval;
    uint32_t                   round;       /* asked */
    uint32_t                   at;          /* R */
    time_t                     since;       /* T */
    int                        beacon_rc;   /* of a latest not taken */
    uint8_t                    sig[WALRUS_SIG_LEN];
    walrus_audit_beacon_t      beacon;
    ngx_walrus_node_result_t   res;
    ngx_event_t                guard;
} ngx_walrus_audit_sign_t;


static void ngx_walrus_audit_sign_thread(void *data, ngx_log_t *log);
static void ngx_walrus_audit_sign_done(ngx_http_request_t *r);


/* when this worker started: T before the node holds any beacon */
static time_t  ngx_walrus_audit_started;


void
ngx_walrus_node_audit_init_process(void)
{
    ngx_walrus_audit_started = ngx_time();
}


ngx_int_t
ngx_walrus_audit_signature(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    ngx_walrus_audit_sign_t     *t;
    ngx_walrus_node_loc_conf_t  *wlcf;
    ngx_walrus_main_conf_t      *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);
    wlcf = ngx_walrus_node_loc_conf(r);

    /*
     * A node whose rounds are off gives no share: it would let rounds
     * open at any pace its peers chose.  It still answers challenges.
     */

    if (wlcf->audit_interval == 0) {
        return ngx_walrus_send_error(r, NGX_HTTP_CONFLICT,
                                     NGX_WALRUS_DOMAIN_NODE, "AUDITS_OFF",
                                     "this node takes no part in audit "
                                     "rounds (walrus_node_audit_interval "
                                     "is 0)");
    }

    t = ngx_pcalloc(r->pool, sizeof(ngx_walrus_audit_sign_t));
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_walrus_audit_path(t->latest, &wlcf->store, "%s",
                              NGX_WALRUS_AUDIT_LATEST)
        != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->committee = wmcf->committee;
    t->key = wlcf->key;
    t->interval = wlcf->audit_interval;
    t->round = rt->round;
    t->since = ngx_walrus_audit_started;

    ngx_walrus_node_ctx(r)->audit = t;

    return ngx_walrus_node_post(r, t, ngx_walrus_audit_sign_thread,
                                ngx_walrus_audit_sign_done, &t->guard);
}


/* runs in a thread pool: system calls and the core library only */

static void
ngx_walrus_audit_sign_thread(void *data, ngx_log_t *log)
{
    int                       rc;
    time_t                    now, mtime;
    uint8_t                   msg[WALRUS_AUDIT_ROUND_MSG_LEN];
    uint64_t                  elapsed, wait, ahead;
    ngx_walrus_audit_sign_t  *t;

    t = data;

    rc = ngx_walrus_audit_beacon_read(t->committee, t->latest, &t->beacon,
                                      &mtime);

    if (rc == WALRUS_OK) {
        t->at = t->beacon.round;
        t->since = mtime;

    } else if (rc != WALRUS_EIO || errno != ENOENT) {
        /* a beacon of another epoch, or worse: none for this committee */
        t->beacon_rc = rc;
    }

    if (t->round <= t->at) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_CONFLICT,
                             "AUDIT_ROUND_NOT_OPEN", "this node is at round "
                             "%lu: it signs later rounds only",
                             (unsigned long) t->at);
        return;
    }

    now = time(NULL);
    elapsed = now > t->since ? (uint64_t) (now - t->since) * 1000 : 0;
    ahead = t->round - t->at - 1;

    /* I * ahead <= elapsed, without overflowing */

    if (ahead > elapsed / t->interval) {
        wait = ahead > (UINT64_MAX - 999) / t->interval
               ? UINT64_MAX / 1000
               : (ahead * t->interval - elapsed + 999) / 1000;

        ngx_walrus_node_fail(&t->res, NGX_HTTP_CONFLICT,
                             "AUDIT_ROUND_NOT_OPEN", "this node is at round "
                             "%lu since %llu s: round %lu may open here in "
                             "%llu s", (unsigned long) t->at,
                             (unsigned long long) (elapsed / 1000),
                             (unsigned long) t->round,
                             (unsigned long long) wait);
        return;
    }

    walrus_audit_round_message(t->committee->epoch, t->round, msg);

    rc = walrus_sign(t->key, msg, sizeof(msg), t->sig);

    if (rc != WALRUS_OK) {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_INTERNAL_SERVER_ERROR,
                             "INTERNAL_ERROR", "signing round %lu failed: "
                             "%s", (unsigned long) t->round,
                             walrus_strerror(rc));
    }
}


static void
ngx_walrus_audit_sign_done(ngx_http_request_t *r)
{
    ngx_walrus_audit_sign_t  *t;

    t = ngx_walrus_node_ctx(r)->audit;

    if (ngx_walrus_audit_done(r, &t->guard, t->latest, t->beacon_rc, &t->res)
        == NGX_DONE)
    {
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: signed audit round %uD (at round %uD)",
                   t->round, t->at);

    ngx_http_finalize_request(r, ngx_walrus_node_send_bytes(r, t->sig,
                                                            WALRUS_SIG_LEN));
}
