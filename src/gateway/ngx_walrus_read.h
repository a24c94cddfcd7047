/*
 * Gateway read path: the state of a read, shared by its driver
 * (ngx_walrus_read.c: entry, phases, timers, output), the metadata and
 * certificate (ngx_walrus_read_meta.c), the segment window
 * (ngx_walrus_read_segment.c), the node health it consults
 * (ngx_walrus_read_health.c) and the HTTP semantics
 * (ngx_walrus_read_http.c).
 */

#ifndef _NGX_WALRUS_READ_H_INCLUDED_
#define _NGX_WALRUS_READ_H_INCLUDED_


#include <ngx_walrus_gateway.h>
#include <ngx_walrus_fanout.h>
#include <ngx_walrus_read_health.h>
#include <ngx_walrus_read_segment.h>
#include <ngx_walrus_read_proof.h>
#include <walrus_cert.h>
#include <walrus_metadata.h>
#include <walrus_registration.h>


#define NGX_WALRUS_WINDOW  2


/* what a node request of a read asks for (call->kind) */

typedef enum {
    NGX_WALRUS_READ_CALL_META = 0,
    NGX_WALRUS_READ_CALL_CERT,
    NGX_WALRUS_READ_CALL_SLIVER,      /* one its segment waits for */
    NGX_WALRUS_READ_CALL_PROBE,       /* to a slow node, on the side */
    NGX_WALRUS_READ_CALL_OLD_OWNER,   /* a sliver from the shard's owner
                                         of the previous epoch */
    NGX_WALRUS_READ_CALL_PROOF        /* a node's inconsistency proof */
} ngx_walrus_read_call_e;


/*
 * Where a read is.  Memory hits go from METADATA straight on; a Redis
 * lookup is CACHE until its answer, then the nodes are asked (METADATA)
 * unless it had what was needed.
 */

typedef enum {
    NGX_WALRUS_READ_METADATA = 0,   /* metadata and certificate awaited */
    NGX_WALRUS_READ_CACHE,          /* Redis is asked first */
    NGX_WALRUS_READ_SEGMENTS,       /* slivers fetched, decoded and sent */
    NGX_WALRUS_READ_DONE
} ngx_walrus_read_phase_e;


struct ngx_walrus_read_s {
    ngx_http_request_t         *request;
    ngx_walrus_thread_t         decode;     /* the segments' decode tasks */
    ngx_walrus_read_phase_e     phase;
    walrus_committee_t         *committee;  /* the current one */
    walrus_history_t           *history;    /* checks certificates */
    ngx_walrus_route_t          route;
    ngx_walrus_fanout_t         fanout;
    walrus_metadata_t           meta;
    walrus_cert_t              *cert;
    walrus_registration_t       reg;        /* the latest valid one */
    unsigned                    meta_missing;  /* shards answering 404 */
    unsigned                    meta_failed;   /* shards failing otherwise */
    unsigned                    cert_missing;
    uint32_t                    cert_epoch;    /* of one not in history */
    unsigned                    cert_unknown:1;
    unsigned                    cert_failed;
    unsigned                    deleted;       /* shards: BLOB_DELETED */
    ngx_msec_t                  missing_since; /* n - f shards said 404 */
    ngx_msec_t                  complete;      /* metadata and cert in */
    ngx_walrus_proof_t          proof;
    uint64_t                    start;         /* served bytes, inclusive */
    uint64_t                    end;
    ngx_uint_t                  partial;       /* 206 */
    uint64_t                    next_fetch;
    uint64_t                    next_send;
    uint64_t                    last_seg;
    ngx_walrus_seg_t            window[NGX_WALRUS_WINDOW];
    ngx_walrus_node_health_e   *health;        /* per node */
    ngx_walrus_call_t         **meta_calls;    /* 2n: metadata, cert */
    ngx_walrus_arena_t         *meta_arena;    /* where they live */
    ngx_event_t                 timer;
    ngx_msec_t                  started;
    ngx_str_t                   filename;
    ngx_flag_t                  download;
    const char                 *type;          /* remembered content type */
    unsigned                    have_meta:1;
    unsigned                    missing_seen:1; /* missing_since is set */
    unsigned                    complete_seen:1; /* complete is set */
    unsigned                    settled:1;     /* claims no longer awaited */
    unsigned                    from_cache:1;
    unsigned                    header_sent:1;
    unsigned                    has_reg:1;     /* reg is set */
};


/*
 * The driver, for the parts of a read.  A node request of the read: GET
 * /v1/blobs/<id>/<path>, its kind in call->kind.
 */
/*
 * The node that held the shard of pair `pair` in the epoch before the
 * current one, when another node holds it now and the blob was certified
 * before this epoch: the shard may be in flight (docs/protocol.md 18.6).
 */
const walrus_node_t *ngx_walrus_read_old_owner(ngx_walrus_read_t *ctx,
    unsigned pair);

ngx_int_t ngx_walrus_read_call(ngx_walrus_read_t *ctx,
    ngx_walrus_arena_t *arena, ngx_uint_t node, ngx_walrus_read_call_e kind,
    const char *path, size_t max, ngx_walrus_call_t **out);
ngx_int_t ngx_walrus_read_call_to(ngx_walrus_read_t *ctx,
    ngx_walrus_arena_t *arena, const char *name, ngx_uint_t node,
    ngx_walrus_read_call_e kind, const char *path, size_t max,
    ngx_walrus_call_t **out);

/* the request's write handler: moves the read on */
void ngx_walrus_read_step(ngx_http_request_t *r);

/* (re)sets the timer to the next deadline or hedge */
void ngx_walrus_read_arm(ngx_walrus_read_t *ctx);

/* moves the read to `phase`, with a debug line */
void ngx_walrus_read_phase(ngx_walrus_read_t *ctx,
    ngx_walrus_read_phase_e phase);

/* ends the read and finalizes the request with rc */
void ngx_walrus_read_finish(ngx_walrus_read_t *ctx, ngx_int_t rc);


/*
 * HTTP semantics (ngx_walrus_read_http.c).  Once metadata and certificate
 * are in: answers what needs no sliver (HEAD, 304, 416, status, errors)
 * and returns the status it sent, or NGX_DECLINED when the bytes
 * start..end must be fetched.
 */
ngx_int_t ngx_walrus_read_prepare(ngx_walrus_read_t *ctx);

/* answers INCONSISTENT_BLOB */
ngx_int_t ngx_walrus_read_inconsistent(ngx_walrus_read_t *ctx);

/*
 * The blob's lifetime (ngx_walrus_read_lifetime.c): node answers carry
 * its registration; each valid one is taken (NGX_OK, or NGX_DECLINED when
 * it does not verify) and the latest end epoch kept; expired once the
 * current epoch reaches it; the 404 BLOB_EXPIRED; Cache-Control by the
 * end epoch; the registration raw for the caches (NULL when none).
 */
void ngx_walrus_lifetime_listen(ngx_walrus_call_t *call);
void ngx_walrus_lifetime_claim(ngx_walrus_read_t *ctx,
    ngx_walrus_call_t *call);
ngx_int_t ngx_walrus_lifetime_take(ngx_walrus_read_t *ctx,
    const u_char *raw, size_t len, ngx_uint_t trusted);
ngx_uint_t ngx_walrus_lifetime_expired(ngx_walrus_read_t *ctx);
ngx_int_t ngx_walrus_lifetime_answer(ngx_walrus_read_t *ctx);
ngx_int_t ngx_walrus_lifetime_cache_control(ngx_walrus_read_t *ctx);
u_char *ngx_walrus_lifetime_bytes(ngx_walrus_read_t *ctx);

/*
 * Whether an If-Match, If-None-Match or If-Range value names the quoted
 * entity tag `tag` (or is "*"); W/ tags count only where weak is 1
 */
ngx_uint_t ngx_walrus_etag_match(ngx_str_t *value, u_char *tag, size_t len,
    ngx_uint_t weak);

/* the content type a blob's first bytes show: a static string */
const char *ngx_walrus_read_sniff(const u_char *first, size_t len);

/*
 * Response headers of a GET or HEAD: `type` is the one sniffed, or NULL
 * for the one remembered (ctx->type), if any.
 */
ngx_int_t ngx_walrus_read_send_header(ngx_walrus_read_t *ctx,
    const char *type);


#endif /* _NGX_WALRUS_READ_H_INCLUDED_ */
