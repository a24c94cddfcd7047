/*
 * The keeper's epoch phase, shared by its files: readiness and
 * completion (epoch.c) and the handover of the shards this node no
 * longer holds (epoch_handover.c).  docs/protocol.md 18.6.
 */

#ifndef _NGX_WALRUS_NODE_EPOCH_H_INCLUDED_
#define _NGX_WALRUS_NODE_EPOCH_H_INCLUDED_


#include <ngx_walrus_node_keeper.h>
#include <walrus_ready.h>
#include <walrus_store.h>


/* record bytes the handover looks at per round */
#define NGX_WALRUS_HANDOVER_SCAN  (256 * 1024)

#define NGX_WALRUS_HANDED_OVER    "handed-over"

/* keeper intervals between asks of peers not ready, past the change */
#define NGX_WALRUS_READY_ASK_LATE  10


typedef enum {
    NGX_WALRUS_EPOCH_LOAD = 0,
    NGX_WALRUS_EPOCH_SELF,
    NGX_WALRUS_EPOCH_ASK,
    NGX_WALRUS_EPOCH_KEEP,
    NGX_WALRUS_EPOCH_HANDOVER,
    NGX_WALRUS_EPOCH_WAIT,
    NGX_WALRUS_EPOCH_END              /* a chunk of handover per round */
} ngx_walrus_epoch_step_e;


/* the phase's work in one round, and what its tasks share with it */
typedef struct {
    ngx_walrus_epoch_step_e     step;
    const walrus_committee_t   *committee;
    EVP_PKEY                   *key;
    unsigned                    me;
    char                        dir[WALRUS_PATH_MAX];   /* epochs/<e> */
    char                        store[WALRUS_PATH_MAX];
    char                        record[WALRUS_PATH_MAX];
    u_char                      ready[WALRUS_MAX_SHARDS];  /* loaded */
    u_char                      got[WALRUS_MAX_SHARDS][WALRUS_READY_LEN];
    u_char                      have[WALRUS_MAX_SHARDS];   /* in got */
    unsigned                    handed_over:1;
    unsigned                    wrote:1;
    uint64_t                    cursor;     /* handover: in, out */
    uint64_t                    dropped;
    unsigned                    end:1;
    int                         err;
} ngx_walrus_epoch_t;


/*
 * The handover (epoch_handover.c): whether every shard this node held in
 * the previous epoch has a ready new owner, and a chunk of the deletions
 * in the thread pool, then its result
 */
ngx_uint_t ngx_walrus_epoch_lost_ready(ngx_walrus_keeper_t *kp);
void ngx_walrus_epoch_handover_run(void *data, ngx_log_t *log);
void ngx_walrus_epoch_handed(ngx_walrus_round_t *rd, void *data);

/* <store>/epochs/<epoch>, made durable: 0, or -1 with errno */
int ngx_walrus_epoch_mkdir(ngx_walrus_epoch_t *ep);


#endif /* _NGX_WALRUS_NODE_EPOCH_H_INCLUDED_ */
