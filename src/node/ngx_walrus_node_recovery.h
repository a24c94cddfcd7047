/*
 * GET /v1/blobs/{id}/recovery/{pair}, shared by its files: the request
 * (node_recovery.c) and the answer built in the thread pool
 * (node_recovery_build.c).
 */

#ifndef _NGX_WALRUS_NODE_RECOVERY_H_INCLUDED_
#define _NGX_WALRUS_NODE_RECOVERY_H_INCLUDED_


#include <ngx_walrus_node.h>
#include <walrus_store.h>
#include <walrus_codec.h>
#include <walrus_metadata.h>
#include <walrus_recovery.h>


/* bits of ngx_walrus_recovery_t.rotten: the files set aside, by axis */
#define NGX_WALRUS_ROTTEN_PRIMARY    1
#define NGX_WALRUS_ROTTEN_SECONDARY  2

/* ngx_walrus_recovery_t.state of a pair */
#define NGX_WALRUS_PAIR_OUT          0    /* not in the answer */
#define NGX_WALRUS_PAIR_IN           1
#define NGX_WALRUS_PAIR_DROPPED      2    /* found rotten while building */


struct ngx_walrus_recovery_s {
    ngx_walrus_route_t        route;
    unsigned                  n;         /* the committee's */
    unsigned                  axes;      /* WALRUS_RECOVERY_* bits */
    ngx_uint_t                all;       /* no segments argument */
    uint64_t                  first;
    uint64_t                  last;
    unsigned                  npairs;
    unsigned                  pairs[WALRUS_MAX_SHARDS];   /* ascending */
    int                       fds[WALRUS_MAX_SHARDS][2];  /* by axis */
    uint8_t                   state[WALRUS_MAX_SHARDS];
    uint8_t                   rotten[WALRUS_MAX_SHARDS];
    ngx_uint_t                metadata_set_aside;
    char                      dir[WALRUS_PATH_MAX];
    char                      locks[WALRUS_PATH_MAX];  /* audit/locks */
    u_char                   *answer;    /* malloc()ed */
    size_t                    len;
    ngx_walrus_node_result_t   res;
    ngx_event_t               guard;
};


/* in the thread pool: the answer of t, or t->res set */
void ngx_walrus_recovery_thread(void *data, ngx_log_t *log);


#endif /* _NGX_WALRUS_NODE_RECOVERY_H_INCLUDED_ */
