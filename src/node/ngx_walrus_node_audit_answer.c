/*
 * GET /v1/audit/rounds/{r}/answer?blobs=ID,ID,... answers a verifier's
 * challenge (docs/protocol.md 17.3): for each blob asked, in the order
 * asked, this node's symbols at the round's positions with their proofs,
 * or "not held", signed, under this node's own beacon of round r.  The
 * list is parsed here, the answer built in the thread pool
 * (node_audit_build.c) into one buffer of at most
 * NGX_WALRUS_AUDIT_MAX_ANSWER bytes, with a few answers per worker at a
 * time.
 */

#include <ngx_walrus_node_audit_serve.h>


/* answers a worker builds or sends at a time */
#define NGX_WALRUS_AUDIT_ACTIVE  2


static ngx_int_t ngx_walrus_audit_blobs(ngx_http_request_t *r,
    ngx_walrus_audit_answer_t *t);
static void ngx_walrus_audit_cleanup(void *data);
static void ngx_walrus_audit_answer_done(ngx_http_request_t *r);


/* answers being built or sent by this worker */
static ngx_uint_t  ngx_walrus_audit_active;


ngx_int_t
ngx_walrus_node_audit_answer(ngx_http_request_t *r, ngx_walrus_route_t *rt)
{
    unsigned                     i, nshards;
    ngx_pool_cleanup_t          *cln;
    walrus_audit_position_t     *pos;
    ngx_walrus_audit_answer_t   *t;
    ngx_walrus_node_loc_conf_t  *wlcf;
    ngx_walrus_main_conf_t      *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_module);
    wlcf = ngx_walrus_node_loc_conf(r);

    t = ngx_pcalloc(r->pool, sizeof(ngx_walrus_audit_answer_t));
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_walrus_audit_blobs(r, t) != NGX_OK) {
        return ngx_walrus_node_send_fail(r, &t->res);
    }

    if (ngx_walrus_audit_active >= NGX_WALRUS_AUDIT_ACTIVE) {
        return ngx_walrus_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                     NGX_WALRUS_DOMAIN_NODE, "OVERLOADED",
                                     "the node is busy, retry later");
    }

    if (ngx_walrus_audit_path(t->beacon_path, &wlcf->store, "%s/%lu/beacon",
                              NGX_WALRUS_AUDIT_ROUNDS,
                              (unsigned long) rt->round)
        != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->committee = wmcf->committee;
    t->key = wlcf->key;
    t->node = wlcf->node_index;
    t->round = rt->round;
    t->store = wlcf->store;

    /* room for the positions of every pair this node may hold */

    nshards = wmcf->committee->nodes[wlcf->node_index].nshards;

    pos = ngx_palloc(r->pool, t->nblobs * nshards
                              * sizeof(walrus_audit_position_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (pos == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < t->nblobs; i++) {
        t->blobs[i].pos = pos + i * nshards;
    }

    cln->handler = ngx_walrus_audit_cleanup;
    cln->data = t;
    ngx_walrus_audit_active++;

    ngx_walrus_node_ctx(r)->audit = t;

    return ngx_walrus_node_post(r, t, ngx_walrus_audit_build,
                                ngx_walrus_audit_answer_done, &t->guard);
}


/*
 * blobs=ID,ID,...: 1 to WALRUS_AUDIT_MAX_ASK canonical blob IDs, comma
 * separated (a literal comma), none twice
 */

static ngx_int_t
ngx_walrus_audit_blobs(ngx_http_request_t *r, ngx_walrus_audit_answer_t *t)
{
    u_char                   *p, *last, *comma;
    unsigned                  i;
    ngx_str_t                 value;
    ngx_walrus_audit_blob_t  *b;

    if (ngx_http_arg(r, (u_char *) "blobs", 5, &value) != NGX_OK
        || value.len == 0)
    {
        ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST,
                             "AUDIT_INVALID_BLOBS", "blobs= must list the "
                             "blob IDs asked about, comma separated");
        return NGX_DECLINED;
    }

    p = value.data;
    last = value.data + value.len;

    for ( ;; ) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        if (t->nblobs == WALRUS_AUDIT_MAX_ASK) {
            ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST,
                                 "AUDIT_INVALID_BLOBS", "more than %d blobs "
                                 "asked: ask fewer at a time",
                                 WALRUS_AUDIT_MAX_ASK);
            return NGX_DECLINED;
        }

        b = &t->blobs[t->nblobs];

        if (walrus_blob_id_parse((char *) p, comma - p, b->route.blob_id)
            != WALRUS_OK)
        {
            ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST,
                                 "AUDIT_INVALID_BLOBS", "item %u of blobs= "
                                 "is not a blob ID", t->nblobs + 1);
            return NGX_DECLINED;
        }

        walrus_blob_id_format(b->route.blob_id, b->route.id_text);

        for (i = 0; i < t->nblobs; i++) {
            if (ngx_memcmp(t->blobs[i].route.blob_id, b->route.blob_id,
                           WALRUS_BLOB_ID_LEN)
                == 0)
            {
                ngx_walrus_node_fail(&t->res, NGX_HTTP_BAD_REQUEST,
                                     "AUDIT_INVALID_BLOBS", "blob %s is "
                                     "asked twice", b->route.id_text);
                return NGX_DECLINED;
            }
        }

        t->nblobs++;

        if (comma == last) {
            return NGX_OK;
        }

        p = comma + 1;
    }
}


static void
ngx_walrus_audit_cleanup(void *data)
{
    ngx_walrus_audit_answer_t  *t = data;

    free(t->answer);
    t->answer = NULL;
    ngx_walrus_audit_active--;
}


static void
ngx_walrus_audit_answer_done(ngx_http_request_t *r)
{
    unsigned                    i;
    ngx_walrus_audit_answer_t  *t;

    t = ngx_walrus_node_ctx(r)->audit;

    if (ngx_walrus_audit_done(r, &t->guard, t->beacon_path, t->beacon_rc,
                              &t->res)
        == NGX_DONE)
    {
        return;
    }

    /* what the verifier will hold against this node: said once here */

    for (i = 0; i < t->nblobs; i++) {
        if (!t->blobs[i].held) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "walrus: audit round %uD: this node cannot prove "
                          "blob %s, answered as not held: %s", t->round,
                          t->blobs[i].route.id_text, t->blobs[i].why);
        }
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: audit answer of round %uD: %ud blobs, %uz "
                   "bytes", t->round, t->nblobs, t->len);

    /* the cleanup frees the answer with the request, once it is sent */

    ngx_http_finalize_request(r, ngx_walrus_node_send_bytes(r, t->answer,
                                                            t->len));
}

