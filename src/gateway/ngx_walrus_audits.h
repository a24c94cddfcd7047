/*
 * Gateway: the storage audits (docs/protocol.md section 17) as the
 * gateway verified them, GET /v1/audits, and the audit certificates and
 * fraud proofs it keeps, GET /v1/audits/{X}/rounds/{r}/certificate and
 * /v1/audits/{X}/frauds/{r}.  One state, ngx_walrus_audits_t, and a file
 * per job:
 *
 *   ngx_walrus_audits.c         the driver: the request, its phases and
 *                               their deadlines
 *   ngx_walrus_audits_nodes.c   the node requests and their answers
 *   ngx_walrus_audits_check.c   the thread tasks: beacons, statuses,
 *                               certificates and fraud proofs verified
 *                               or parsed, and their results applied
 *   ngx_walrus_audits_keep.c    the worker's memory of what verified
 *   ngx_walrus_audits_redis.c   its copy in Redis
 *   ngx_walrus_audits_json.c    the answers
 *
 * Whatever a node sends is hostile until verified: a beacon, a
 * certificate or a fraud proof counts only once the core verified it
 * against the committee, in the thread pool; a node's status JSON is
 * only read for what its peers report (labelled so) and for where fraud
 * proofs are to be fetched.
 */

#ifndef _NGX_WALRUS_AUDITS_H_INCLUDED_
#define _NGX_WALRUS_AUDITS_H_INCLUDED_


#include <ngx_walrus_gateway.h>
#include <ngx_walrus_fanout.h>
#include <walrus_audit.h>


/* the newest rounds looked at: those the nodes' keepers still work on */
#define NGX_WALRUS_AUDITS_ROUNDS      WALRUS_AUDIT_LOCK_ROUNDS

/* certificates a worker keeps per node: its newest rounds */
#define NGX_WALRUS_AUDITS_KEEP        16

/* fraud proofs a worker lists, and the bytes of them it keeps */
#define NGX_WALRUS_AUDITS_FRAUDS      256
#define NGX_WALRUS_AUDITS_FRAUD_BYTES (32 * 1024 * 1024)

/* the largest fraud proof fetched, and how many per refresh */
#define NGX_WALRUS_AUDITS_FRAUD_MAX   (16 * 1024 * 1024)
#define NGX_WALRUS_AUDITS_FRAUD_FETCH 2

/* the largest status JSON read, and the blobs reported per node */
#define NGX_WALRUS_AUDITS_STATUS_MAX  (256 * 1024)
#define NGX_WALRUS_AUDITS_REPORTED    64

/* how long a view is served before the nodes are asked again (ms) */
#define NGX_WALRUS_AUDITS_FRESH       3000

/* the sender of an item that came from Redis */
#define NGX_WALRUS_AUDITS_REDIS       ((ngx_uint_t) -1)


typedef enum {
    NGX_WALRUS_AUDITS_VIEW = 0,         /* GET /v1/audits */
    NGX_WALRUS_AUDITS_CERT,             /* a kept audit certificate */
    NGX_WALRUS_AUDITS_FRAUD             /* a kept fraud proof */
} ngx_walrus_audits_kind_e;


/*
 * Where a request is.  A refresh goes through every phase; a request
 * for a certificate or a fraud proof the worker lacks while its view is
 * fresh asks Redis only.
 */

typedef enum {
    NGX_WALRUS_AUDITS_ASK = 0,          /* nodes' beacons and statuses */
    NGX_WALRUS_AUDITS_READ,             /* ... read in the thread pool */
    NGX_WALRUS_AUDITS_REDIS_LOAD,       /* what Redis keeps is asked */
    NGX_WALRUS_AUDITS_FETCH,            /* certificates and fraud proofs */
    NGX_WALRUS_AUDITS_CHECK,            /* ... verified in the thread pool */
    NGX_WALRUS_AUDITS_DONE
} ngx_walrus_audits_phase_e;


/* what a node request asks for (call->kind; the round in call->pair) */

typedef enum {
    NGX_WALRUS_AUDITS_CALL_BEACON = 0,
    NGX_WALRUS_AUDITS_CALL_STATUS,
    NGX_WALRUS_AUDITS_CALL_CERT,
    NGX_WALRUS_AUDITS_CALL_FRAUD
} ngx_walrus_audits_call_e;


/* a blob a peer says a node answered "not held" for */
typedef struct {
    uint32_t                   round;
    ngx_uint_t                 reporter;
    uint8_t                    blob_id[WALRUS_BLOB_ID_LEN];
} ngx_walrus_audits_missing_t;


/* a certificate or a fraud proof to verify, from a node or from Redis */
typedef struct {
    ngx_uint_t                 fraud;      /* 0: a certificate */
    ngx_uint_t                 node;       /* what it was asked as */
    uint32_t                   round;
    ngx_uint_t                 from;       /* its sender, or _REDIS */
    u_char                    *bytes;
    size_t                     len;
    ngx_walrus_call_t         *call;       /* its node request, or NULL */

    /* set in the thread pool */
    int                        rc;
    ngx_uint_t                 vnode;      /* what it proves */
    uint32_t                   vround;
    uint8_t                    blob_id[WALRUS_BLOB_ID_LEN];
} ngx_walrus_audits_item_t;


/* what a refresh learned of one node */
typedef struct {
    ngx_walrus_call_t         *beacon;
    ngx_walrus_call_t         *status;
    ngx_uint_t                 cert_status;   /* of the newest round's */
    ngx_walrus_audits_missing_t  *missing;    /* reported by its peers */
    ngx_uint_t                 nmissing;
    ngx_int_t                  fraud_from[NGX_WALRUS_AUDITS_ROUNDS];
    unsigned                   reachable:1;   /* it answered at all */
    unsigned                   answered:1;    /* its status was read */
} ngx_walrus_audits_node_t;


struct ngx_walrus_audits_s {
    ngx_http_request_t        *request;
    walrus_committee_t        *committee;
    ngx_walrus_audits_kind_e   kind;
    ngx_uint_t                 node;          /* of a certificate, proof */
    uint32_t                   round;
    ngx_walrus_audits_phase_e  phase;
    ngx_walrus_fanout_t        fanout;
    ngx_walrus_thread_t        thread;
    ngx_event_t                timer;
    ngx_msec_t                 started;       /* the phase's */
    ngx_walrus_audits_node_t  *nodes;         /* by node index */
    ngx_array_t                items;         /* ngx_walrus_audits_item_t */
    uint32_t                   newest;        /* R, 0 when none known */
    ngx_uint_t                 leader;
    ngx_int_t                  picked;        /* a newer beacon's node */
    ngx_uint_t                 redis_pending; /* Redis commands asked */
    unsigned                   refresh:1;     /* the nodes are asked */
    unsigned                   counted:1;     /* in the worker's count */
    unsigned                   working:1;     /* a thread task runs */
};


/* the driver (ngx_walrus_audits.c; its entry is in the role header) */
void ngx_walrus_audits_step(ngx_http_request_t *r);
void ngx_walrus_audits_finish(ngx_walrus_audits_t *ctx, ngx_int_t rc);
void ngx_walrus_audits_phase(ngx_walrus_audits_t *ctx,
    ngx_walrus_audits_phase_e phase);

/*
 * The node requests (ngx_walrus_audits_nodes.c): every node's beacon and
 * status; the certificates and fraud proofs the worker lacks; a node's
 * answer to either taken in.
 */
ngx_int_t ngx_walrus_audits_ask(ngx_walrus_audits_t *ctx);
ngx_int_t ngx_walrus_audits_fetch(ngx_walrus_audits_t *ctx);
void ngx_walrus_audits_handle(ngx_walrus_audits_t *ctx,
    ngx_walrus_call_t *call);

/* the oldest round of the window ending at the newest, 0 with none */
uint32_t ngx_walrus_audits_oldest(ngx_walrus_audits_t *ctx);

/*
 * The thread tasks (ngx_walrus_audits_check.c): NGX_OK when posted (the
 * request steps on after their results are applied), NGX_DECLINED when
 * there is nothing to do, NGX_BUSY when the pool's queue is full.
 */
ngx_int_t ngx_walrus_audits_read(ngx_walrus_audits_t *ctx);
ngx_int_t ngx_walrus_audits_check(ngx_walrus_audits_t *ctx);

/* a new item of ctx->items, or NULL */
ngx_walrus_audits_item_t *ngx_walrus_audits_item(ngx_walrus_audits_t *ctx,
    ngx_uint_t fraud, ngx_uint_t node, uint32_t round);

/* whether the worker keeps (node, round), or an item is about it */
ngx_uint_t ngx_walrus_audits_held(ngx_walrus_audits_t *ctx,
    ngx_uint_t fraud, ngx_uint_t node, uint32_t round);


/* the worker's memory (ngx_walrus_audits_keep.c) */

typedef struct {
    ngx_queue_t                queue;
    ngx_uint_t                 node;
    uint32_t                   round;
    uint8_t                    blob_id[WALRUS_BLOB_ID_LEN];
    size_t                     len;
    u_char                    *bytes;     /* NULL once over the budget */
} ngx_walrus_audits_fraud_t;


/* the round and leader of the newest verified beacon, 0 when none */
uint32_t ngx_walrus_audits_beacon(ngx_uint_t *leader);
void ngx_walrus_audits_keep_beacon(ngx_log_t *log, uint32_t round,
    ngx_uint_t leader);

/* a verified certificate of node for round, or NGX_DECLINED */
ngx_int_t ngx_walrus_audits_cert(ngx_uint_t node, uint32_t round,
    ngx_str_t *bytes);
void ngx_walrus_audits_keep_cert(walrus_committee_t *c, ngx_log_t *log,
    ngx_uint_t node, uint32_t round, u_char *bytes, size_t len);

/* the newest rounds of node the worker holds certificates of, newest
 * first, into rounds (room for NGX_WALRUS_AUDITS_KEEP): their count */
ngx_uint_t ngx_walrus_audits_cert_rounds(ngx_uint_t node, uint32_t *rounds);

/* a verified fraud proof, or NULL; the list of all of them */
ngx_walrus_audits_fraud_t *ngx_walrus_audits_fraud(ngx_uint_t node,
    uint32_t round);
ngx_queue_t *ngx_walrus_audits_frauds(void);
void ngx_walrus_audits_keep_fraud(ngx_log_t *log, ngx_uint_t node,
    uint32_t round, const uint8_t *blob_id, u_char *bytes, size_t len);

/* the last view, its age in ms; NGX_DECLINED when there is none */
ngx_int_t ngx_walrus_audits_view(ngx_str_t *view, ngx_msec_t *age);
void ngx_walrus_audits_keep_view(ngx_log_t *log, ngx_str_t *view);

/* refreshes running in the worker */
ngx_uint_t *ngx_walrus_audits_refreshing(void);

/* frees it all: when the worker exits */
void ngx_walrus_audits_drain(void);


/* Redis (ngx_walrus_audits_redis.c) */

/*
 * Asks Redis for the certificates of the window the worker lacks, the
 * fraud proofs it lacks, and the item the request is for: NGX_OK when
 * asked (the request steps on when all answered), NGX_DECLINED when
 * there is no Redis.  What comes back is verified like a node's.
 */
ngx_int_t ngx_walrus_audits_redis_load(ngx_walrus_audits_t *ctx);

/* keeps a verified item that came from a node */
void ngx_walrus_audits_redis_save(ngx_walrus_audits_t *ctx,
    ngx_walrus_audits_item_t *it);


/* the answers (ngx_walrus_audits_json.c) */
ngx_int_t ngx_walrus_audits_answer(ngx_walrus_audits_t *ctx);
ngx_int_t ngx_walrus_audits_send_view(ngx_http_request_t *r,
    ngx_str_t *view);
ngx_int_t ngx_walrus_audits_send_kept(ngx_walrus_audits_t *ctx);


#endif /* _NGX_WALRUS_AUDITS_H_INCLUDED_ */
