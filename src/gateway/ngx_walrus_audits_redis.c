/*
 * Gateway audits in Redis, so that what a gateway verified outlives its
 * workers and is shared by the gateways of one Redis:
 *
 *   <prefix>audit:cert:<epoch>:<node>:<round>   an audit certificate,
 *                                               walrus_redis_audit_ttl
 *   <prefix>audit:fraud:<epoch>:<node>:<round>  a fraud proof, kept
 *   <prefix>audit:frauds:<epoch>                the set of the proofs'
 *                                               "<node>:<round>"
 *
 * Only items that verified are written; what is read back is verified
 * again like a node's answer before it counts.
 */

#include <ngx_walrus_audits.h>
#include <ngx_walrus_cache.h>
#include <ngx_walrus_redis.h>


#define NGX_WALRUS_AUDITS_KEY_MAX                                            \
    (NGX_WALRUS_REDIS_PREFIX_MAX + sizeof("audit:frauds::::")                \
     + 3 * NGX_INT32_LEN)


/* the keys an MGET asked for, in order */
typedef struct {
    ngx_uint_t                   fraud;
    ngx_uint_t                   n;
    ngx_uint_t                  *node;
    uint32_t                    *round;
} ngx_walrus_audits_keys_t;


static ngx_int_t ngx_walrus_audits_command(ngx_walrus_audits_t *ctx,
    ngx_walrus_cache_reply_pt handler, void *data, int argc,
    const char **argv, const size_t *len);
static void ngx_walrus_audits_replied(ngx_walrus_audits_t *ctx);
static size_t ngx_walrus_audits_key(ngx_walrus_audits_t *ctx, u_char *buf,
    const char *kind, ngx_uint_t node, uint32_t round);
static ngx_walrus_audits_keys_t *ngx_walrus_audits_keys(
    ngx_walrus_audits_t *ctx, ngx_uint_t fraud, ngx_uint_t max);
static void ngx_walrus_audits_want(ngx_walrus_audits_t *ctx,
    ngx_walrus_audits_keys_t *keys, ngx_uint_t node, uint32_t round);
static ngx_int_t ngx_walrus_audits_mget(ngx_walrus_audits_t *ctx,
    ngx_walrus_audits_keys_t *keys);
static void ngx_walrus_audits_got(ngx_http_request_t *r, void *data,
    redisReply *reply);
static void ngx_walrus_audits_listed(ngx_http_request_t *r, void *data,
    redisReply *reply);
static ngx_int_t ngx_walrus_audits_member(redisReply *reply,
    ngx_uint_t *node, uint32_t *round);


ngx_int_t
ngx_walrus_audits_redis_load(ngx_walrus_audits_t *ctx)
{
    u_char                          key[NGX_WALRUS_AUDITS_KEY_MAX];
    size_t                          len[2];
    uint32_t                        r, oldest;
    ngx_uint_t                      x, n;
    const char                     *argv[2];
    ngx_walrus_audits_keys_t       *keys;
    ngx_walrus_gateway_main_conf_t  *gmcf;

    gmcf = ngx_walrus_gateway_main_conf(ctx->request);

    if (gmcf->redis.address.len == 0) {
        return NGX_DECLINED;
    }

    n = ctx->committee->nnodes;
    oldest = ngx_walrus_audits_oldest(ctx);

    /* the certificates of the window the worker lacks, the asked one */

    keys = ngx_walrus_audits_keys(ctx, 0, n * NGX_WALRUS_AUDITS_ROUNDS + 1);
    if (keys == NULL) {
        return NGX_ERROR;
    }

    if (ctx->kind == NGX_WALRUS_AUDITS_CERT) {
        ngx_walrus_audits_want(ctx, keys, ctx->node, ctx->round);
    }

    for (x = 0; ctx->refresh && x < n; x++) {
        for (r = oldest; oldest > 0 && r <= ctx->newest; r++) {
            ngx_walrus_audits_want(ctx, keys, x, r);
        }
    }

    if (keys->n > 0 && ngx_walrus_audits_mget(ctx, keys) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the fraud proofs: which there are, then those the worker lacks */

    if (ctx->kind == NGX_WALRUS_AUDITS_CERT) {
        return ctx->redis_pending > 0 ? NGX_OK : NGX_DECLINED;
    }

    argv[0] = "SMEMBERS";
    len[0] = sizeof("SMEMBERS") - 1;
    argv[1] = (char *) key;
    len[1] = ngx_walrus_audits_key(ctx, key, "frauds", 0, 0);

    if (ngx_walrus_audits_command(ctx, ngx_walrus_audits_listed, NULL, 2,
                                  argv, len)
        == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    return ctx->redis_pending > 0 ? NGX_OK : NGX_DECLINED;
}


static ngx_walrus_audits_keys_t *
ngx_walrus_audits_keys(ngx_walrus_audits_t *ctx, ngx_uint_t fraud,
    ngx_uint_t max)
{
    ngx_pool_t                *pool;
    ngx_walrus_audits_keys_t  *keys;

    pool = ctx->request->pool;

    keys = ngx_pcalloc(pool, sizeof(ngx_walrus_audits_keys_t));
    if (keys == NULL) {
        return NULL;
    }

    keys->fraud = fraud;
    keys->node = ngx_palloc(pool, max * sizeof(ngx_uint_t));
    keys->round = ngx_palloc(pool, max * sizeof(uint32_t));

    if (keys->node == NULL || keys->round == NULL) {
        return NULL;
    }

    return keys;
}


static void
ngx_walrus_audits_want(ngx_walrus_audits_t *ctx,
    ngx_walrus_audits_keys_t *keys, ngx_uint_t node, uint32_t round)
{
    ngx_uint_t  i;

    if (ngx_walrus_audits_held(ctx, keys->fraud, node, round)) {
        return;
    }

    for (i = 0; i < keys->n; i++) {
        if (keys->node[i] == node && keys->round[i] == round) {
            return;
        }
    }

    keys->node[keys->n] = node;
    keys->round[keys->n] = round;
    keys->n++;
}


static ngx_int_t
ngx_walrus_audits_mget(ngx_walrus_audits_t *ctx,
    ngx_walrus_audits_keys_t *keys)
{
    u_char       *key;
    size_t       *len;
    ngx_uint_t    i;
    const char  **argv;

    argv = ngx_palloc(ctx->request->pool, (keys->n + 1) * sizeof(char *));
    len = ngx_palloc(ctx->request->pool, (keys->n + 1) * sizeof(size_t));
    key = ngx_pnalloc(ctx->request->pool,
                      keys->n * NGX_WALRUS_AUDITS_KEY_MAX);

    if (argv == NULL || len == NULL || key == NULL) {
        return NGX_ERROR;
    }

    argv[0] = "MGET";
    len[0] = sizeof("MGET") - 1;

    for (i = 0; i < keys->n; i++) {
        argv[i + 1] = (char *) key;
        len[i + 1] = ngx_walrus_audits_key(ctx, key,
                                           keys->fraud ? "fraud" : "cert",
                                           keys->node[i], keys->round[i]);
        key += NGX_WALRUS_AUDITS_KEY_MAX;
    }

    return ngx_walrus_audits_command(ctx, ngx_walrus_audits_got, keys,
                                     keys->n + 1, argv, len)
           == NGX_ERROR ? NGX_ERROR : NGX_OK;
}


/* what Redis had becomes items, copied: the reply goes after this */

static void
ngx_walrus_audits_got(ngx_http_request_t *r, void *data, redisReply *reply)
{
    ngx_walrus_audits_keys_t  *keys = data;

    size_t                     max;
    ngx_uint_t                 i;
    redisReply                *e;
    ngx_walrus_audits_t       *ctx;
    ngx_walrus_audits_item_t  *it;

    ctx = ngx_walrus_gateway_ctx(r)->audits;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != keys->n)
    {
        ngx_walrus_audits_replied(ctx);
        return;
    }

    max = keys->fraud ? NGX_WALRUS_AUDITS_FRAUD_MAX : WALRUS_AUDIT_CERT_MAX;

    for (i = 0; i < keys->n; i++) {
        e = reply->element[i];

        if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > max) {
            continue;
        }

        it = ngx_walrus_audits_item(ctx, keys->fraud, keys->node[i],
                                    keys->round[i]);
        if (it == NULL) {
            break;
        }

        it->bytes = ngx_pnalloc(r->pool, e->len);
        if (it->bytes == NULL) {
            ctx->items.nelts--;
            break;
        }

        ngx_memcpy(it->bytes, e->str, e->len);
        it->len = e->len;
    }

    ngx_walrus_audits_replied(ctx);
}


/* the proofs the worker lacks, a few per request: the one asked first */

static void
ngx_walrus_audits_listed(ngx_http_request_t *r, void *data,
    redisReply *reply)
{
    uint32_t                   round;
    ngx_uint_t                 i, node, max;
    ngx_walrus_audits_t       *ctx;
    ngx_walrus_audits_keys_t  *keys;

    ctx = ngx_walrus_gateway_ctx(r)->audits;
    max = NGX_WALRUS_AUDITS_FRAUD_FETCH + 1;
    keys = NULL;

    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY) {
        keys = ngx_walrus_audits_keys(ctx, 1, max);
    }

    if (keys == NULL) {
        ngx_walrus_audits_replied(ctx);
        return;
    }

    if (ctx->kind == NGX_WALRUS_AUDITS_FRAUD) {
        for (i = 0; i < reply->elements; i++) {
            if (ngx_walrus_audits_member(reply->element[i], &node, &round)
                == NGX_OK
                && node == ctx->node && round == ctx->round)
            {
                ngx_walrus_audits_want(ctx, keys, node, round);
            }
        }
    }

    for (i = 0; i < reply->elements && keys->n < max; i++) {
        if (ngx_walrus_audits_member(reply->element[i], &node, &round)
            == NGX_OK && node < ctx->committee->nnodes)
        {
            ngx_walrus_audits_want(ctx, keys, node, round);
        }
    }

    if (keys->n > 0) {
        (void) ngx_walrus_audits_mget(ctx, keys);
    }

    ngx_walrus_audits_replied(ctx);
}


/* "<node>:<round>" */

static ngx_int_t
ngx_walrus_audits_member(redisReply *reply, ngx_uint_t *node,
    uint32_t *round)
{
    u_char     *colon, *last;
    ngx_int_t   x, r;

    if (reply->type != REDIS_REPLY_STRING) {
        return NGX_ERROR;
    }

    last = (u_char *) reply->str + reply->len;
    colon = ngx_strlchr((u_char *) reply->str, last, ':');

    if (colon == NULL) {
        return NGX_ERROR;
    }

    x = ngx_atoi((u_char *) reply->str, colon - (u_char *) reply->str);
    r = ngx_atoi(colon + 1, last - colon - 1);

    if (x == NGX_ERROR || r == NGX_ERROR || r == 0
        || (uint64_t) r > 0xffffffff)
    {
        return NGX_ERROR;
    }

    *node = x;
    *round = (uint32_t) r;

    return NGX_OK;
}


void
ngx_walrus_audits_redis_save(ngx_walrus_audits_t *ctx,
    ngx_walrus_audits_item_t *it)
{
    u_char                           key[NGX_WALRUS_AUDITS_KEY_MAX];
    u_char                           member[2 * NGX_INT32_LEN];
    u_char                           seconds[NGX_TIME_T_LEN];
    size_t                           len[5];
    const char                      *argv[5];
    ngx_walrus_gateway_main_conf_t  *gmcf;

    gmcf = ngx_walrus_gateway_main_conf(ctx->request);

    if (gmcf->redis.address.len == 0) {
        return;
    }

    argv[0] = "SET";
    len[0] = sizeof("SET") - 1;
    argv[1] = (char *) key;
    len[1] = ngx_walrus_audits_key(ctx, key, it->fraud ? "fraud" : "cert",
                                   it->vnode, it->vround);
    argv[2] = (char *) it->bytes;
    len[2] = it->len;
    argv[3] = "EX";
    len[3] = sizeof("EX") - 1;
    argv[4] = (char *) seconds;
    len[4] = ngx_sprintf(seconds, "%T", gmcf->redis.audit_ttl) - seconds;

    /* a fraud proof stays true for ever, and so stays */

    (void) ngx_walrus_redis_command(NULL, NULL,
                                    it->fraud || gmcf->redis.audit_ttl == 0
                                    ? 3 : 5, argv, len);

    if (!it->fraud) {
        return;
    }

    argv[0] = "SADD";
    len[0] = sizeof("SADD") - 1;
    len[1] = ngx_walrus_audits_key(ctx, key, "frauds", 0, 0);
    argv[2] = (char *) member;
    len[2] = ngx_sprintf(member, "%ui:%uD", it->vnode, it->vround) - member;

    (void) ngx_walrus_redis_command(NULL, NULL, 3, argv, len);
}


/* <prefix>audit:<kind>:<epoch>[:<node>:<round>] */

static size_t
ngx_walrus_audits_key(ngx_walrus_audits_t *ctx, u_char *buf,
    const char *kind, ngx_uint_t node, uint32_t round)
{
    u_char                          *p;
    ngx_walrus_gateway_main_conf_t  *gmcf;

    gmcf = ngx_walrus_gateway_main_conf(ctx->request);

    p = ngx_snprintf(buf, NGX_WALRUS_AUDITS_KEY_MAX, "%Vaudit:%s:%uD",
                     &gmcf->redis.prefix, kind, ctx->committee->epoch);

    if (round > 0) {
        p = ngx_snprintf(p, buf + NGX_WALRUS_AUDITS_KEY_MAX - p, ":%ui:%uD",
                         node, round);
    }

    return p - buf;
}


/* the request steps on once Redis answered all it was asked */

static ngx_int_t
ngx_walrus_audits_command(ngx_walrus_audits_t *ctx,
    ngx_walrus_cache_reply_pt handler, void *data, int argc,
    const char **argv, const size_t *len)
{
    ngx_int_t  rc;

    rc = ngx_walrus_cache_command(ctx->request, handler, data, argc, argv,
                                  len);

    if (rc == NGX_OK) {
        ctx->redis_pending++;
    }

    return rc;
}


static void
ngx_walrus_audits_replied(ngx_walrus_audits_t *ctx)
{
    if (--ctx->redis_pending == 0) {
        ngx_walrus_audits_step(ctx->request);
    }
}
