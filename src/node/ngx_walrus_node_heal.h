/*
 * The keeper's heal phase, shared by its files: the driver and the
 * metadata (heal.c), the scan of the record (heal_scan.c), the pairs of
 * a moved shard taken from its old owner (heal_pull.c), the rebuilding
 * of sliver pairs from recovery symbols (heal_rebuild.c), and the pair's
 * files, opened and made durable (heal_files.c).
 */

#ifndef _NGX_WALRUS_NODE_HEAL_H_INCLUDED_
#define _NGX_WALRUS_NODE_HEAL_H_INCLUDED_


#include <ngx_walrus_node_keeper.h>
#include <walrus_metadata.h>
#include <walrus_record.h>
#include <walrus_recovery.h>
#include <walrus_store.h>


/* record bytes a scan looks at, blobs it picks, scans per round */
#define NGX_WALRUS_HEAL_SCAN      (256 * 1024)
#define NGX_WALRUS_HEAL_BLOBS     8
#define NGX_WALRUS_HEAL_SCANS     4

/* answer bytes held at once for a batch of segments, all peers */
#define NGX_WALRUS_HEAL_BATCH     (16 * 1024 * 1024)

/*
 * times in a row peers that answered 429 are asked again for a batch
 * without a new answer coming in meanwhile
 */
#define NGX_WALRUS_HEAL_BUSY_RETRIES  8

#define NGX_WALRUS_MISSING_PRIMARY    1
#define NGX_WALRUS_MISSING_SECONDARY  2

/* the kind of the calls to a shard's old owner (call->kind) */
#define NGX_WALRUS_HEAL_CALL_PULL     1

/* old owners a heal phase stops asking (unreachable, or lied) */
#define NGX_WALRUS_HEAL_SHUNNED       8


typedef enum {
    NGX_WALRUS_HEAL_SCAN_NEXT = 0,
    NGX_WALRUS_HEAL_BLOB_NEXT,
    NGX_WALRUS_HEAL_META_ASK,
    NGX_WALRUS_HEAL_PAIR_NEXT,
    NGX_WALRUS_HEAL_PULL_ASK,       /* from the shard's old owner */
    NGX_WALRUS_HEAL_BATCH_ASK,
    NGX_WALRUS_HEAL_COMMIT,
    NGX_WALRUS_HEAL_WAIT            /* a task decides what follows */
} ngx_walrus_heal_state_e;


typedef enum {
    NGX_WALRUS_PEER_UNASKED = 0,
    NGX_WALRUS_PEER_ASKED,
    NGX_WALRUS_PEER_ANSWERED,
    NGX_WALRUS_PEER_BUSY,           /* 429: asked again in a later round */
    NGX_WALRUS_PEER_LOCKED,         /* 409: the pair is in an open audit */
    NGX_WALRUS_PEER_FAILED
} ngx_walrus_heal_peer_e;


/* a blob with files missing here */
typedef struct {
    uint8_t                    id[WALRUS_BLOB_ID_LEN];
    char                       id_text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    uint64_t                   cursor;     /* of its record entry */
    uint32_t                   epoch;      /* of its certificate */
    unsigned                   npairs;
    unsigned                   pairs[WALRUS_MAX_SHARDS];
    u_char                     missing[WALRUS_MAX_SHARDS]; /* by pair */
    unsigned                   has_meta:1;
} ngx_walrus_heal_blob_t;


typedef struct {
    ngx_walrus_heal_peer_e     state;
    unsigned                   axes;       /* asked for */
    u_char                    *body;       /* the answer (a buffer) */
    size_t                     len;
    unsigned                   bad:1;      /* sent what does not verify */
} ngx_walrus_heal_peer_t;


/* the work of the phase, kept across its steps */
typedef struct {
    ngx_walrus_heal_state_e    state;
    ngx_uint_t                 scans;
    unsigned                   scan_more:1;
    ngx_uint_t                 nblobs;
    ngx_uint_t                 current;
    ngx_walrus_heal_blob_t     blobs[NGX_WALRUS_HEAL_BLOBS];
    char                       dir[WALRUS_PATH_MAX];   /* the blob's */
    walrus_metadata_t          meta;
    unsigned                   have_meta:1;
    ngx_uint_t                 meta_tried;  /* peers asked for it */
    ngx_uint_t                 start;       /* first peer to ask */
    ngx_uint_t                 pair_i;      /* in the blob's pairs */
    unsigned                   pair;        /* being rebuilt */
    unsigned                   missing;     /* its files, bits */
    uint64_t                   first;       /* segments of the batch */
    uint32_t                   count;
    ngx_uint_t                 busy_retries;
    ngx_uint_t                 busy_have;   /* symbols in hand then */
    ngx_walrus_heal_peer_t    *peers;       /* by committee node */
    walrus_file_t              files[2];    /* primary, secondary */
    unsigned                   open:1;
    int                        commit_err;
    unsigned                   dropped:1;   /* deleted meanwhile */
    ngx_uint_t                 npeers;
    uint64_t                   received;    /* answer bytes, this pair */
    const walrus_node_t       *old_owner;   /* of the pair's shard */
    ngx_walrus_call_t         *pull[2];     /* asked: primary, secondary */
    u_char                    *pull_body[2]; /* their answers (buffers) */
    size_t                     pull_len[2];
    uint64_t                   pulled;      /* bytes from it, this pair */
    unsigned                   pull_asked:1;
    ngx_uint_t                 nshunned;
    const walrus_node_t       *shunned[NGX_WALRUS_HEAL_SHUNNED];
    struct ngx_walrus_heal_task_s  *meta_task;  /* holds a peer's body */
} ngx_walrus_heal_t;


/* a scan of the record, in the thread pool */
typedef struct {
    ngx_walrus_heal_t         *heal;
    const walrus_committee_t  *committee;
    ngx_uint_t                 node;
    char                       store[WALRUS_PATH_MAX];
    char                       record[WALRUS_PATH_MAX];
    uint64_t                   cursor;     /* in: from, out: next */
    u_char                     record_id[WALRUS_RECORD_ID_LEN];
    uint64_t                   examined;   /* entries */
    uint64_t                   pending;    /* of them, missing files */
    uint64_t                   inconsistent;
    uint64_t                   slivers;    /* sliver files found */
    uint64_t                   bytes;      /* and their bytes */
    uint8_t                   *seen;       /* blob IDs of this scan */
    size_t                     nseen;
    unsigned                   end:1;      /* the record was read whole */
    unsigned                   restart:1;  /* cursor not in this record */
    int                        err;
} ngx_walrus_heal_scan_t;


/* a task on one blob: metadata, a batch of segments, a commit */
typedef struct ngx_walrus_heal_task_s {
    ngx_walrus_heal_t         *heal;
    unsigned                   n;
    u_char                    *body;       /* metadata from a peer */
    size_t                     len;
    ngx_uint_t                 npeers;
    ngx_uint_t                 peer[WALRUS_MAX_SHARDS];
    walrus_recovery_answer_t  *answers;
    int                        format[WALRUS_MAX_SHARDS];  /* per answer */
    u_char                     lied[WALRUS_MAX_SHARDS];    /* per answer */
    uint32_t                   done;       /* segments written */
    int                        rc;
    int                        err;
    uint32_t                   segment_size;
} ngx_walrus_heal_task_t;


/* the record scanned from the keeper's cursor: blobs missing files */
ngx_int_t ngx_walrus_heal_scan(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h);

/* the next missing pair of the blob, its batches, their rebuilding */
ngx_int_t ngx_walrus_heal_pair(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h);
ngx_int_t ngx_walrus_heal_batch_ask(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h);

/*
 * A pair whose shard had another owner in the previous epoch is taken
 * from that node first (heal_pull.c): the pair's old owner, or NULL.
 */
const walrus_node_t *ngx_walrus_heal_old_owner(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h);
ngx_int_t ngx_walrus_heal_pull_ask(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h);
void ngx_walrus_heal_pull_answer(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h, ngx_walrus_call_t *call);
/* the old owner's answers in hand, freed */
void ngx_walrus_heal_pull_drop(ngx_walrus_heal_t *h);

/* the pair's files, opened for writing once (0, or an errno) */
int ngx_walrus_heal_open_files(ngx_walrus_heal_t *h);
ngx_int_t ngx_walrus_heal_commit(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h);
void ngx_walrus_heal_batch_answer(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h, ngx_walrus_call_t *call);

void ngx_walrus_heal_drop_answers(ngx_walrus_heal_t *h, ngx_uint_t nnodes);
/* the blob waits for a later pass (why: NULL, said already) */
void ngx_walrus_heal_blob_failed(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h, const char *why);
/* peers lock the pair for an audit: the blob is tried again soon */
void ngx_walrus_heal_blob_locked(ngx_walrus_round_t *rd,
    ngx_walrus_heal_t *h, ngx_uint_t locked);
/* peers are busy: the blob waits for the next round */
void ngx_walrus_heal_later(ngx_walrus_round_t *rd, ngx_walrus_heal_t *h);


/*
 * A peer's answer body, taken out of its call (which the round releases)
 * and counted against walrus_node_heal_rate
 */
u_char *ngx_walrus_heal_take(ngx_walrus_round_t *rd, ngx_walrus_call_t *call,
    size_t *len);

/* NGX_OK when the heal may ask for more bytes now (walrus_node_heal_rate) */
ngx_int_t ngx_walrus_heal_throttle(ngx_walrus_round_t *rd);


#endif /* _NGX_WALRUS_NODE_HEAL_H_INCLUDED_ */
