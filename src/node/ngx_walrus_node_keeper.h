/*
 * The node's keeper: the background work that keeps a store whole with no
 * client request (syncing the certified-blob record from peers, healing
 * missing or bad slivers).  Exactly one process runs a store's keeper at
 * a time: worker 0 of the nginx that holds the flock(2) on the store's
 * keeper.lock.  Work goes in rounds; each round has a request of its own,
 * made on a connection of its own, from which peers are asked through the
 * fan-out's subrequests to the node's peer location, so peer traffic has
 * nginx's upstream keepalive, timeouts and TLS.
 */

#ifndef _NGX_WALRUS_NODE_KEEPER_H_INCLUDED_
#define _NGX_WALRUS_NODE_KEEPER_H_INCLUDED_


#include <ngx_walrus_node.h>
#include <ngx_walrus_fanout.h>
#include <walrus_record.h>


#define NGX_WALRUS_RECORD_ID_LEN  16
#define NGX_WALRUS_PUT_OFF_MAX    256


typedef struct ngx_walrus_keeper_s         ngx_walrus_keeper_t;
typedef struct ngx_walrus_round_s          ngx_walrus_round_t;
typedef struct ngx_walrus_keeper_status_s  ngx_walrus_keeper_status_t;
typedef struct ngx_walrus_auditor_s        ngx_walrus_auditor_t;


/* a blob the keeper could not heal, and when it tries again */
typedef struct {
    uint8_t                id[WALRUS_BLOB_ID_LEN];
    time_t                 next;
    ngx_uint_t             fails;
} ngx_walrus_put_off_t;


/* what this node knows of a peer's certified-blob record */
typedef struct {
    u_char                 record[NGX_WALRUS_RECORD_ID_LEN];
    uint64_t               cursor;      /* next entry to read */
    time_t                 last_sync;   /* last answer read whole */
    time_t                 wait;        /* after garbage: not asked before */
    ngx_uint_t             lies;        /* listings in a row that lied */
    ngx_uint_t             status;      /* of the last listing */
    unsigned               known:1;     /* record is set */
    unsigned               more:1;      /* the last page was full */
} ngx_walrus_peer_t;


typedef enum {
    NGX_WALRUS_ROUND_LOAD = 0,          /* reading the keeper's state */
    NGX_WALRUS_ROUND_SYNC,              /* pulling peers' records */
    NGX_WALRUS_ROUND_AUDIT,             /* audit rounds (17) */
    NGX_WALRUS_ROUND_HEAL,              /* rebuilding what is missing */
    NGX_WALRUS_ROUND_EPOCH,             /* readiness, handover (18.6) */
    NGX_WALRUS_ROUND_SCRUB,             /* checking what is stored */
    NGX_WALRUS_ROUND_GC,                /* reclaiming expired blobs */
    NGX_WALRUS_ROUND_SAVE,              /* writing the keeper's state */
    NGX_WALRUS_ROUND_DONE
} ngx_walrus_round_phase_e;


struct ngx_walrus_keeper_s {
    ngx_walrus_node_loc_conf_t  *conf;
    ngx_http_conf_ctx_t         *conf_ctx;  /* of the node's location */
    walrus_committee_t          *committee;  /* the current one */
    walrus_history_t            *history;    /* checks certificates */
    ngx_fd_t                     lock_fd;
    ngx_event_t                  tick;      /* lock polls and rounds */
    ngx_log_t                    log;
    ngx_walrus_round_t          *round;     /* the running one, or NULL */
    ngx_walrus_peer_t           *peers;     /* by committee node index */
    uint64_t                     scan_cursor;  /* of the heal's pass */
    u_char                       scan_record[NGX_WALRUS_RECORD_ID_LEN];
    ngx_uint_t                   rounds;
    uint64_t                     healed;       /* sliver pairs rebuilt */
    uint64_t                     failed;       /* blobs put off */
    uint64_t                     received;     /* recovery bytes */
    uint64_t                     migrated;     /* pairs from old owners */
    uint64_t                     migrated_bytes;
    uint64_t                     known;        /* of the last whole pass */
    uint64_t                     pending;
    uint64_t                     inconsistent;
    uint64_t                     pass_known;   /* of the pass going on */
    uint64_t                     pass_pending;
    uint64_t                     pass_inconsistent;
    uint64_t                     pass_slivers;  /* files of the pass */
    uint64_t                     pass_bytes;
    uint64_t                     scrub_cursor;
    int64_t                      scrub_credit; /* bytes it may read */
    int64_t                      heal_credit;  /* bytes it may fetch */
    ngx_msec_t                   heal_last;
    ngx_msec_t                   scrub_last;
    uint64_t                     scrubbed;     /* bytes read */
    uint64_t                     scrub_bad;    /* files set aside */
    uint64_t                     scrub_passes;
    uint64_t                     gc_cursor;
    int64_t                      gc_credit;    /* blobs it may reclaim */
    ngx_msec_t                   gc_last;
    uint64_t                     gc_reclaimed; /* blobs */
    uint64_t                     gc_passes;
    ngx_walrus_put_off_t        *put_off;      /* NGX_WALRUS_PUT_OFF_MAX */
    u_char                       state_record[NGX_WALRUS_RECORD_ID_LEN];
    unsigned                     state_has_record:1;
    ngx_shm_zone_t              *zone;
    ngx_walrus_keeper_status_t  *status;       /* in the zone */
    ngx_walrus_auditor_t        *auditor;
    unsigned                     scan_known:1;
    unsigned                     leader:1;

    /* the change to the current epoch (ngx_walrus_node_epoch.c) */
    u_char                       ready_nodes[WALRUS_MAX_SHARDS];
    unsigned                     ready_weight;
    ngx_msec_t                   ready_asked;  /* peers asked, last */
    uint64_t                     handover_cursor;
    uint64_t                     dropped;      /* sliver files deleted */
    unsigned                     epoch_loaded:1;
    unsigned                     ready:1;      /* this node said so */
    unsigned                     complete:1;   /* n - f shards said so */
    unsigned                     handed_over:1;
    unsigned                     synced:1;     /* peers read to the end */
    unsigned                     pass_synced:1;   /* at the pass's start */
    unsigned                     whole_synced:1;  /* the last whole pass */
};


typedef void (*ngx_walrus_round_work_pt)(void *data, ngx_log_t *log);
typedef void (*ngx_walrus_round_done_pt)(ngx_walrus_round_t *rd,
    void *data);


struct ngx_walrus_round_s {
    ngx_walrus_keeper_t         *keeper;
    ngx_pool_t                  *pool;      /* the round's, not the request's */
    ngx_log_t                   *log;
    ngx_http_request_t          *request;   /* NULL once nginx freed it */
    ngx_walrus_fanout_t          fanout;
    ngx_event_t                  deadline;
    ngx_event_t                  end;       /* frees the request */
    ngx_event_t                  pause;     /* a phase waits (rate) */
    ngx_walrus_round_phase_e     phase;
    ngx_uint_t                   tasks;     /* in the thread pool */
    ngx_uint_t                   changed;   /* the state must be saved */
    ngx_uint_t                   peer;      /* next peer to sync */
    void                        *phase_data;
    void                        *state;     /* as loaded at the start */
    unsigned                     aborted:1;
};


/* at configuration, for each node location: its keeper */
ngx_int_t ngx_walrus_keeper_add(ngx_conf_t *cf,
    ngx_walrus_node_loc_conf_t *wlcf);

ngx_int_t ngx_walrus_keeper_init_process(ngx_cycle_t *cycle);

/* the shared figures of a keeper, for the node's health answer */
ngx_int_t ngx_walrus_keeper_zone(ngx_conf_t *cf, ngx_walrus_keeper_t *kp);
void ngx_walrus_keeper_publish(ngx_walrus_keeper_t *kp);
ngx_walrus_keeper_t *ngx_walrus_keeper_of(ngx_http_request_t *r);
size_t ngx_walrus_keeper_json_len(ngx_walrus_keeper_t *kp);
u_char *ngx_walrus_keeper_json(u_char *p, ngx_walrus_keeper_t *kp);

/* a record identity in hex (the X-Walrus-Record header, keeper.state) */
ngx_int_t ngx_walrus_record_id_parse(const u_char *hex, size_t len,
    u_char *id);
void ngx_walrus_keeper_exit_process(ngx_cycle_t *cycle);

/* a round: started by the keeper's schedule when none runs */
void ngx_walrus_round_start(ngx_walrus_keeper_t *kp);

/* the state file: read at a round's start, written at its end */
ngx_int_t ngx_walrus_state_load(ngx_walrus_round_t *rd);
ngx_int_t ngx_walrus_state_save(ngx_walrus_round_t *rd);

/*
 * Runs work(data) in the thread pool, then done(rd, data) in the worker
 * unless the round was aborted meanwhile; data lives in the round's pool.
 */
ngx_int_t ngx_walrus_round_task(ngx_walrus_round_t *rd,
    ngx_walrus_round_work_pt work, ngx_walrus_round_done_pt done,
    void *data);

/*
 * Blobs that could not be healed wait before the next try, longer each
 * time (up to 5 minutes): put_off gives the wait, forget ends it.
 * backoff is the wait after `fails` failures in a row: 1, 2, 4 ... 300 s.
 */
time_t ngx_walrus_keeper_put_off(ngx_walrus_keeper_t *kp, const uint8_t *id);
time_t ngx_walrus_keeper_put_off_by(ngx_walrus_keeper_t *kp,
    const uint8_t *id, time_t delay);
ngx_uint_t ngx_walrus_keeper_put_off_fails(ngx_walrus_keeper_t *kp,
    const uint8_t *id);
time_t ngx_walrus_keeper_backoff(ngx_uint_t fails);
ngx_uint_t ngx_walrus_keeper_waits(ngx_walrus_keeper_t *kp,
    const uint8_t *id);
void ngx_walrus_keeper_forget(ngx_walrus_keeper_t *kp, const uint8_t *id);

/* the phase waits ms before it is called again */
void ngx_walrus_round_pause(ngx_walrus_round_t *rd, ngx_msec_t ms);

/* GET uri on committee node `node`; the answer comes to the phase */
ngx_walrus_call_t *ngx_walrus_round_call(ngx_walrus_round_t *rd,
    ngx_uint_t node, ngx_str_t *uri, size_t body_max);

/* the phases: each starts its work or returns NGX_DONE when it has none */
ngx_int_t ngx_walrus_sync_start(ngx_walrus_round_t *rd);
void ngx_walrus_sync_answer(ngx_walrus_round_t *rd, ngx_walrus_call_t *call);
ngx_int_t ngx_walrus_heal_start(ngx_walrus_round_t *rd);
void ngx_walrus_heal_answer(ngx_walrus_round_t *rd, ngx_walrus_call_t *call);
ngx_int_t ngx_walrus_scrub_start(ngx_walrus_round_t *rd);
ngx_int_t ngx_walrus_epoch_start(ngx_walrus_round_t *rd);
void ngx_walrus_epoch_answer(ngx_walrus_round_t *rd,
    ngx_walrus_call_t *call);
ngx_int_t ngx_walrus_gc_start(ngx_walrus_round_t *rd);

/*
 * In the thread pool, for the passes of the scrub and the garbage
 * collection: the entries of the record at path from *cursor (from the
 * first when the record was replaced: the store was wiped), at most
 * limit bytes of them, each given to entry(data, e) until it returns
 * non-zero (the entry is then not taken).  *cursor becomes the first
 * entry not taken.  Returns 1 when the pass is over (no entry after the
 * cursor, or no record), else 0; *err gets an errno.
 */
int ngx_walrus_record_walk(const char *path, uint64_t *cursor, size_t limit,
    int (*entry)(void *data, const walrus_record_entry_t *e), void *data,
    int *err);


#endif /* _NGX_WALRUS_NODE_KEEPER_H_INCLUDED_ */
