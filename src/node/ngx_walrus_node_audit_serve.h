/*
 * What a node answers its auditors and operators from the files under
 * <store>/audit (ngx_walrus_node_audit.h), shared by their files: the
 * routes and the plain files (node_audit_serve.c), the round signature
 * (node_audit_sign.c), the signed answer (node_audit_answer.c, built in
 * the thread pool by node_audit_build.c), the status
 * (node_audit_status.c) and the recovery lock (node_audit_lock.c).
 */

#ifndef _NGX_WALRUS_NODE_AUDIT_SERVE_H_INCLUDED_
#define _NGX_WALRUS_NODE_AUDIT_SERVE_H_INCLUDED_


#include <ngx_walrus_node_audit.h>
#include <walrus_file.h>


/*
 * audit/locks is read whole by the recovery answer: a larger file is no
 * lock file this node wrote (a few thousand entries at most: c blobs of
 * each node for K rounds)
 */
#define NGX_WALRUS_AUDIT_LOCKS_MAX   (4 * 1024 * 1024)

/* metadata kept in memory between an answer's two passes */
#define NGX_WALRUS_AUDIT_META_KEEP   (16 * 1024 * 1024)


typedef struct ngx_walrus_audit_answer_s  ngx_walrus_audit_answer_t;


/* one blob asked about */
typedef struct {
    ngx_walrus_route_t         route;       /* its ID, for the store */
    ngx_uint_t                 held;
    unsigned                   npairs;
    walrus_audit_position_t   *pos;         /* the node's shard count */
    size_t                     size;        /* of its entry, held */
    size_t                     slices;      /* bytes of slices to read */
    walrus_metadata_t          meta;        /* kept from the first pass */
    ngx_uint_t                 kept;
    char                       why[256];    /* not held: the reason */
} ngx_walrus_audit_blob_t;


struct ngx_walrus_audit_answer_s {
    walrus_committee_t        *committee;
    EVP_PKEY                  *key;
    unsigned                   node;
    uint32_t                   round;
    ngx_str_t                  store;
    char                       beacon_path[WALRUS_PATH_MAX];
    walrus_audit_beacon_t      beacon;
    int                        beacon_rc;   /* when it does not verify */
    unsigned                   nblobs;
    ngx_walrus_audit_blob_t    blobs[WALRUS_AUDIT_MAX_ASK];
    u_char                    *answer;      /* malloc()ed */
    size_t                     len;
    ngx_walrus_node_result_t   res;
    ngx_event_t                guard;
};


/* "<store>/audit/<name>" into path (WALRUS_PATH_MAX): 0, or -1 */
int ngx_walrus_audit_path(char *path, ngx_str_t *store,
    const char *fmt, ...);

/*
 * Reads the beacon at path and verifies it for the committee (in a
 * thread): WALRUS_OK with b and *mtime set, WALRUS_EIO with errno
 * (ENOENT: none), or the verdict of walrus_audit_beacon_verify()
 */
int ngx_walrus_audit_beacon_read(const walrus_committee_t *c,
    const char *path, walrus_audit_beacon_t *b, time_t *mtime);

/*
 * In the worker once an audit task is done: NGX_DONE when its failure
 * was answered, else NGX_OK
 */
ngx_int_t ngx_walrus_audit_done(ngx_http_request_t *r, ngx_event_t *guard,
    const char *path, int beacon_rc, ngx_walrus_node_result_t *res);

ngx_int_t ngx_walrus_audit_signature(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);
ngx_int_t ngx_walrus_node_audit_answer(ngx_http_request_t *r,
    ngx_walrus_route_t *rt);
ngx_int_t ngx_walrus_audit_status(ngx_http_request_t *r);

/* in the thread pool: the signed answer of t, or t->res set */
void ngx_walrus_audit_build(void *data, ngx_log_t *log);

/*
 * Whether the recovery lock (17.5) at path holds target pair `pair` of
 * the blob (in a thread): 1 with *node and *round of the entry, 0, or -1
 * with errno when the file cannot be read or is no lock file
 */
int ngx_walrus_audit_locked(const char *path, const uint8_t *blob_id,
    unsigned pair, unsigned *node, uint32_t *round);


#endif /* _NGX_WALRUS_NODE_AUDIT_SERVE_H_INCLUDED_ */
