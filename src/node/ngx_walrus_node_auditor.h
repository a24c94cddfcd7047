/*
 * The keeper's audit phase (docs/protocol.md section 17): it takes newer
 * beacons from its peers, opens the rounds this node leads, challenges
 * its peers in the open rounds and signs attestations for the answers
 * that pass, keeps the fraud proofs of those that lie, gathers its own
 * attestations into its audit certificate, and writes the recovery lock.
 * Its memory is the keeper's, sized at start (rounds x nodes), so a
 * restart reads the state back from <store>/audit.
 */

#ifndef _NGX_WALRUS_NODE_AUDITOR_H_INCLUDED_
#define _NGX_WALRUS_NODE_AUDITOR_H_INCLUDED_


#include <ngx_walrus_node_keeper.h>
#include <ngx_walrus_node_audit.h>


/* open rounds the keeper works on: the lock's K */
#define NGX_WALRUS_AUDIT_WINDOW       WALRUS_AUDIT_LOCK_ROUNDS

/* answers asked at once: each may be large */
#define NGX_WALRUS_AUDIT_PARALLEL     2


typedef enum {
    NGX_WALRUS_AUDIT_STEP_LOAD = 0,
    NGX_WALRUS_AUDIT_STEP_BEACONS,       /* peers' newest beacons asked */
    NGX_WALRUS_AUDIT_STEP_ADOPT,         /* the newest valid one taken */
    NGX_WALRUS_AUDIT_STEP_OPEN,          /* round signatures asked, as leader */
    NGX_WALRUS_AUDIT_STEP_BUILD,         /* the beacon made of them */
    NGX_WALRUS_AUDIT_STEP_PICK,
    NGX_WALRUS_AUDIT_STEP_LOCKS,
    NGX_WALRUS_AUDIT_STEP_ASK,
    NGX_WALRUS_AUDIT_STEP_COLLECT,
    NGX_WALRUS_AUDIT_STEP_CERTIFY,
    NGX_WALRUS_AUDIT_STEP_DONE
} ngx_walrus_audit_step_e;


typedef enum {
    NGX_WALRUS_VERDICT_NONE = 0,        /* not asked, or no answer yet */
    NGX_WALRUS_VERDICT_EMPTY,           /* promised nothing this node knows */
    NGX_WALRUS_VERDICT_PASSED,
    NGX_WALRUS_VERDICT_MISSING,
    NGX_WALRUS_VERDICT_FRAUD
} ngx_walrus_verdict_e;


/* what this node knows of one peer in one round */
typedef struct {
    ngx_walrus_verdict_e   verdict;
    time_t                 next_ask;    /* missing or unanswered: later */
    ngx_uint_t             asks;
    unsigned               npicked;
    uint8_t                picked[WALRUS_AUDIT_BLOBS][WALRUS_BLOB_ID_LEN];
    unsigned               attested_me:1;   /* its attestation is here */
    uint8_t                attestation[WALRUS_SIG_LEN];
} ngx_walrus_audit_peer_t;


typedef struct {
    uint32_t                  round;    /* 0: slot unused */
    uint8_t                   seed[32];
    unsigned                  picked:1;     /* challenge sets computed */
    unsigned                  certified:1;  /* our certificate is here */
    ngx_walrus_audit_peer_t  *peers;        /* by node index */
} ngx_walrus_audit_round_t;


struct ngx_walrus_auditor_s {
    unsigned                  loaded:1;
    unsigned                  locks_dirty:1;
    uint32_t                  newest;       /* R */
    time_t                    since;        /* T */
    unsigned                  polled:1;     /* peers' beacons asked once */
    ngx_uint_t                certificates; /* own, made by this process */
    ngx_uint_t                attested;
    ngx_uint_t                missing;
    ngx_uint_t                frauds;
    ngx_walrus_audit_round_t  rounds[NGX_WALRUS_AUDIT_WINDOW];
};


/* what a peer sent for the step under way */
typedef struct {
    u_char                      *body;
    size_t                       len;
} ngx_walrus_audit_got_t;


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


ngx_int_t ngx_walrus_auditor_init(ngx_walrus_keeper_t *kp, ngx_pool_t *pool);

/* the phase (ngx_walrus_node_audit.c) */
ngx_int_t ngx_walrus_audit_start(ngx_walrus_round_t *rd);
void ngx_walrus_audit_answer(ngx_walrus_round_t *rd, ngx_walrus_call_t *call);

/* the open round slot of round r, or NULL */
ngx_walrus_audit_round_t *ngx_walrus_audit_slot(ngx_walrus_auditor_t *au,
    uint32_t r);

/* "<store>/audit/rounds/<r>" into dir */
ngx_int_t ngx_walrus_audit_round_dir(ngx_walrus_keeper_t *kp, uint32_t r,
    char *dir);

/* set the slot of round r to its seed, peers cleared */
void ngx_walrus_audit_set_slot(ngx_walrus_auditor_t *au, uint32_t r,
    const uint8_t *seed, ngx_uint_t nnodes);

/* beacons, thread work (ngx_walrus_node_audit_beacon.c) */
void ngx_walrus_beacon_load(void *data, ngx_log_t *log);
void ngx_walrus_beacon_adopt(void *data, ngx_log_t *log);
void ngx_walrus_beacon_build(void *data, ngx_log_t *log);

/* challenges (ngx_walrus_node_audit_check.c) */
ngx_int_t ngx_walrus_audit_pick(ngx_walrus_round_t *rd);
ngx_int_t ngx_walrus_audit_ask(ngx_walrus_round_t *rd);
void ngx_walrus_audit_checked(ngx_walrus_round_t *rd,
    ngx_walrus_call_t *call);

/* the recovery lock it writes (ngx_walrus_node_audit_locks.c) */
ngx_int_t ngx_walrus_audit_write_locks(ngx_walrus_round_t *rd);

/* the node's own certificate (ngx_walrus_node_audit_cert.c) */
ngx_int_t ngx_walrus_audit_collect(ngx_walrus_round_t *rd);
void ngx_walrus_audit_collected(ngx_walrus_round_t *rd,
    ngx_walrus_call_t *call);
ngx_int_t ngx_walrus_audit_certify(ngx_walrus_round_t *rd);


#endif /* _NGX_WALRUS_NODE_AUDITOR_H_INCLUDED_ */
