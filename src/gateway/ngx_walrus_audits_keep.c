/*
 * Gateway audits: the worker's memory of what verified, so that a node
 * that deletes its certificate or a fraud proof later cannot take it
 * from the gateway's view.  Bounded: per node the certificates of its
 * NGX_WALRUS_AUDITS_KEEP newest rounds (a slot per round modulo that),
 * NGX_WALRUS_AUDITS_FRAUDS fraud proofs listed, the oldest first to go,
 * and NGX_WALRUS_AUDITS_FRAUD_BYTES of their bytes (an older proof's
 * bytes go first; it stays listed, and Redis may still serve it).  Also
 * the newest round known and the last view.  Everything is copied in:
 * a caller's buffer may go at any time.
 */

#include <ngx_walrus_audits.h>


typedef struct {
    uint32_t                   round;
    size_t                     len;
    u_char                    *bytes;     /* NULL: the slot is free */
} ngx_walrus_audits_cert_t;


typedef struct {
    ngx_walrus_audits_cert_t  *certs;     /* nnodes x KEEP */
    ngx_uint_t                 nnodes;
    ngx_queue_t                frauds;    /* oldest first */
    ngx_uint_t                 nfrauds;
    size_t                     fraud_bytes;
    uint32_t                   newest;
    ngx_uint_t                 leader;
    u_char                    *view;
    size_t                     view_len;
    ngx_msec_t                 view_at;
    ngx_uint_t                 refreshing;
    unsigned                   ready:1;
} ngx_walrus_audits_mem_t;


static void ngx_walrus_audits_init(void);
static void ngx_walrus_audits_fit(ngx_walrus_audits_fraud_t *keep);


/* per worker, freed at its exit */
static ngx_walrus_audits_mem_t  ngx_walrus_audits_mem;


static void
ngx_walrus_audits_init(void)
{
    if (!ngx_walrus_audits_mem.ready) {
        ngx_queue_init(&ngx_walrus_audits_mem.frauds);
        ngx_walrus_audits_mem.ready = 1;
    }
}


uint32_t
ngx_walrus_audits_beacon(ngx_uint_t *leader)
{
    *leader = ngx_walrus_audits_mem.leader;

    return ngx_walrus_audits_mem.newest;
}


void
ngx_walrus_audits_keep_beacon(ngx_log_t *log, uint32_t round,
    ngx_uint_t leader)
{
    if (round <= ngx_walrus_audits_mem.newest) {
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "walrus: audits: newest round %uD, leader %ui", round,
                   leader);

    ngx_walrus_audits_mem.newest = round;
    ngx_walrus_audits_mem.leader = leader;
}


ngx_int_t
ngx_walrus_audits_cert(ngx_uint_t node, uint32_t round, ngx_str_t *bytes)
{
    ngx_walrus_audits_cert_t  *slot;

    if (ngx_walrus_audits_mem.certs == NULL
        || node >= ngx_walrus_audits_mem.nnodes)
    {
        return NGX_DECLINED;
    }

    slot = &ngx_walrus_audits_mem.certs[node * NGX_WALRUS_AUDITS_KEEP
                                        + round % NGX_WALRUS_AUDITS_KEEP];

    if (slot->bytes == NULL || slot->round != round) {
        return NGX_DECLINED;
    }

    bytes->data = slot->bytes;
    bytes->len = slot->len;

    return NGX_OK;
}


/* a round's slot holds the newest of its rounds: an older one gives way */

void
ngx_walrus_audits_keep_cert(walrus_committee_t *c, ngx_log_t *log,
    ngx_uint_t node, uint32_t round, u_char *bytes, size_t len)
{
    u_char                    *copy;
    ngx_walrus_audits_cert_t  *slot;

    if (ngx_walrus_audits_mem.certs == NULL) {
        ngx_walrus_audits_mem.certs = ngx_calloc(c->nnodes
                                          * NGX_WALRUS_AUDITS_KEEP
                                          * sizeof(ngx_walrus_audits_cert_t),
                                          log);
        if (ngx_walrus_audits_mem.certs == NULL) {
            return;
        }

        ngx_walrus_audits_mem.nnodes = c->nnodes;
    }

    if (node >= ngx_walrus_audits_mem.nnodes) {
        return;
    }

    slot = &ngx_walrus_audits_mem.certs[node * NGX_WALRUS_AUDITS_KEEP
                                        + round % NGX_WALRUS_AUDITS_KEEP];

    if (slot->bytes != NULL && slot->round >= round) {
        return;
    }

    copy = ngx_alloc(len, log);
    if (copy == NULL) {
        return;
    }

    ngx_memcpy(copy, bytes, len);

    if (slot->bytes != NULL) {
        ngx_free(slot->bytes);
    }

    slot->round = round;
    slot->bytes = copy;
    slot->len = len;
}


ngx_uint_t
ngx_walrus_audits_cert_rounds(ngx_uint_t node, uint32_t *rounds)
{
    uint32_t                   r;
    ngx_uint_t                 i, k, n;
    ngx_walrus_audits_cert_t  *slot;

    if (ngx_walrus_audits_mem.certs == NULL
        || node >= ngx_walrus_audits_mem.nnodes)
    {
        return 0;
    }

    slot = &ngx_walrus_audits_mem.certs[node * NGX_WALRUS_AUDITS_KEEP];
    n = 0;

    /* newest first: an insertion sort of at most KEEP rounds */

    for (i = 0; i < NGX_WALRUS_AUDITS_KEEP; i++) {
        if (slot[i].bytes == NULL) {
            continue;
        }

        r = slot[i].round;

        for (k = n; k > 0 && rounds[k - 1] < r; k--) {
            rounds[k] = rounds[k - 1];
        }

        rounds[k] = r;
        n++;
    }

    return n;
}


ngx_walrus_audits_fraud_t *
ngx_walrus_audits_fraud(ngx_uint_t node, uint32_t round)
{
    ngx_queue_t                *q;
    ngx_walrus_audits_fraud_t  *f;

    ngx_walrus_audits_init();

    for (q = ngx_queue_head(&ngx_walrus_audits_mem.frauds);
         q != ngx_queue_sentinel(&ngx_walrus_audits_mem.frauds);
         q = ngx_queue_next(q))
    {
        f = ngx_queue_data(q, ngx_walrus_audits_fraud_t, queue);

        if (f->node == node && f->round == round) {
            return f;
        }
    }

    return NULL;
}


ngx_queue_t *
ngx_walrus_audits_frauds(void)
{
    ngx_walrus_audits_init();

    return &ngx_walrus_audits_mem.frauds;
}


void
ngx_walrus_audits_keep_fraud(ngx_log_t *log, ngx_uint_t node,
    uint32_t round, const uint8_t *blob_id, u_char *bytes, size_t len)
{
    ngx_queue_t                *q;
    ngx_walrus_audits_fraud_t  *f, *old;

    f = ngx_walrus_audits_fraud(node, round);

    if (f != NULL && f->bytes != NULL) {
        return;
    }

    if (f == NULL) {
        f = ngx_calloc(sizeof(ngx_walrus_audits_fraud_t), log);
        if (f == NULL) {
            return;
        }

        if (ngx_walrus_audits_mem.nfrauds == NGX_WALRUS_AUDITS_FRAUDS) {
            q = ngx_queue_head(&ngx_walrus_audits_mem.frauds);
            old = ngx_queue_data(q, ngx_walrus_audits_fraud_t, queue);
            ngx_queue_remove(q);

            if (old->bytes != NULL) {
                ngx_walrus_audits_mem.fraud_bytes -= old->len;
                ngx_free(old->bytes);
            }

            ngx_free(old);
            ngx_walrus_audits_mem.nfrauds--;
        }

        f->node = node;
        f->round = round;
        ngx_memcpy(f->blob_id, blob_id, WALRUS_BLOB_ID_LEN);
        ngx_queue_insert_tail(&ngx_walrus_audits_mem.frauds, &f->queue);
        ngx_walrus_audits_mem.nfrauds++;

        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "walrus: audits: a verified fraud proof against "
                      "node %ui, round %uD", node, round);
    }

    f->bytes = ngx_alloc(len, log);
    if (f->bytes == NULL) {
        return;
    }

    ngx_memcpy(f->bytes, bytes, len);
    f->len = len;
    ngx_walrus_audits_mem.fraud_bytes += len;

    ngx_walrus_audits_fit(f);
}


/* older proofs' bytes go until the budget is met; keep's stay */

static void
ngx_walrus_audits_fit(ngx_walrus_audits_fraud_t *keep)
{
    ngx_queue_t                *q;
    ngx_walrus_audits_fraud_t  *f;

    for (q = ngx_queue_head(&ngx_walrus_audits_mem.frauds);
         q != ngx_queue_sentinel(&ngx_walrus_audits_mem.frauds)
         && ngx_walrus_audits_mem.fraud_bytes > NGX_WALRUS_AUDITS_FRAUD_BYTES;
         q = ngx_queue_next(q))
    {
        f = ngx_queue_data(q, ngx_walrus_audits_fraud_t, queue);

        if (f != keep && f->bytes != NULL) {
            ngx_walrus_audits_mem.fraud_bytes -= f->len;
            ngx_free(f->bytes);
            f->bytes = NULL;
        }
    }
}


ngx_int_t
ngx_walrus_audits_view(ngx_str_t *view, ngx_msec_t *age)
{
    if (ngx_walrus_audits_mem.view == NULL) {
        return NGX_DECLINED;
    }

    view->data = ngx_walrus_audits_mem.view;
    view->len = ngx_walrus_audits_mem.view_len;
    *age = ngx_current_msec - ngx_walrus_audits_mem.view_at;

    return NGX_OK;
}


void
ngx_walrus_audits_keep_view(ngx_log_t *log, ngx_str_t *view)
{
    u_char  *copy;

    copy = ngx_alloc(view->len, log);
    if (copy == NULL) {
        return;
    }

    ngx_memcpy(copy, view->data, view->len);

    if (ngx_walrus_audits_mem.view != NULL) {
        ngx_free(ngx_walrus_audits_mem.view);
    }

    ngx_walrus_audits_mem.view = copy;
    ngx_walrus_audits_mem.view_len = view->len;
    ngx_walrus_audits_mem.view_at = ngx_current_msec;
}


ngx_uint_t *
ngx_walrus_audits_refreshing(void)
{
    return &ngx_walrus_audits_mem.refreshing;
}


void
ngx_walrus_audits_drain(void)
{
    ngx_uint_t                  i;
    ngx_queue_t                *q;
    ngx_walrus_audits_fraud_t  *f;

    if (ngx_walrus_audits_mem.certs != NULL) {
        for (i = 0; i < ngx_walrus_audits_mem.nnodes * NGX_WALRUS_AUDITS_KEEP;
             i++)
        {
            if (ngx_walrus_audits_mem.certs[i].bytes != NULL) {
                ngx_free(ngx_walrus_audits_mem.certs[i].bytes);
            }
        }

        ngx_free(ngx_walrus_audits_mem.certs);
    }

    if (ngx_walrus_audits_mem.ready) {
        while (!ngx_queue_empty(&ngx_walrus_audits_mem.frauds)) {
            q = ngx_queue_head(&ngx_walrus_audits_mem.frauds);
            f = ngx_queue_data(q, ngx_walrus_audits_fraud_t, queue);
            ngx_queue_remove(q);

            if (f->bytes != NULL) {
                ngx_free(f->bytes);
            }

            ngx_free(f);
        }
    }

    if (ngx_walrus_audits_mem.view != NULL) {
        ngx_free(ngx_walrus_audits_mem.view);
    }

    ngx_memzero(&ngx_walrus_audits_mem, sizeof(ngx_walrus_audits_mem_t));
}
