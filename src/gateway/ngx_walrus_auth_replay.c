/*
 * Each token ID (jti) stores one blob.  With walrus_redis configured the
 * IDs live in Redis, "SET <prefix>jti:<jti> 1 NX EX <seconds>", so that
 * every gateway sharing it refuses a token another one took; when Redis
 * is down or late the upload is refused (503): a Redis outage must not
 * let tokens be replayed.  Without Redis, each worker remembers the IDs
 * it took, at most walrus_gateway_jwt_replay_cache of them until they
 * expire; full of live ones, it refuses new tokens (503) rather than
 * forget one.
 */

#include <ngx_walrus_auth.h>
#include <ngx_walrus_cache.h>


/* <prefix>jti:<jti> */
#define NGX_WALRUS_JTI_KEY_MAX                                               \
    (NGX_WALRUS_REDIS_PREFIX_MAX + sizeof("jti:") - 1 + WALRUS_JWT_JTI_MAX)


typedef struct {
    ngx_str_node_t     sn;          /* the ID, and its hash as the key */
    ngx_queue_t        queue;       /* oldest first */
    time_t             expires;
    u_char             jti[WALRUS_JWT_JTI_MAX];
} ngx_walrus_auth_jti_t;


static ngx_int_t ngx_walrus_auth_replay_redis(ngx_http_request_t *r,
    ngx_walrus_auth_t *auth, time_t ttl);
static void ngx_walrus_auth_replay_answer(ngx_http_request_t *r, void *data,
    redisReply *reply);
static ngx_int_t ngx_walrus_auth_replay_local(ngx_http_request_t *r,
    ngx_walrus_auth_t *auth, time_t ttl);
static void ngx_walrus_auth_replay_expire(time_t now, ngx_uint_t all);


/* worker state: the IDs this worker took, when no Redis is configured */
static ngx_rbtree_t       ngx_walrus_jti_tree;
static ngx_rbtree_node_t  ngx_walrus_jti_sentinel;
static ngx_queue_t        ngx_walrus_jti_queue;
static ngx_uint_t         ngx_walrus_njti;


ngx_int_t
ngx_walrus_auth_replay(ngx_http_request_t *r, ngx_walrus_auth_t *auth,
    time_t ttl)
{
    ngx_walrus_gateway_main_conf_t  *wmcf;

    wmcf = ngx_walrus_gateway_main_conf(r);

    if (wmcf->redis.address.len) {
        return ngx_walrus_auth_replay_redis(r, auth, ttl);
    }

    return ngx_walrus_auth_replay_local(r, auth, ttl);
}


static ngx_int_t
ngx_walrus_auth_replay_redis(ngx_http_request_t *r, ngx_walrus_auth_t *auth,
    time_t ttl)
{
    u_char                          *p;
    u_char                           key[NGX_WALRUS_JTI_KEY_MAX];
    u_char                           ex[NGX_TIME_T_LEN];
    size_t                           len[6];
    const char                      *argv[6];
    ngx_walrus_gateway_main_conf_t  *wmcf;

    wmcf = ngx_walrus_gateway_main_conf(r);

    p = ngx_cpymem(key, wmcf->redis.prefix.data, wmcf->redis.prefix.len);
    p = ngx_cpymem(p, "jti:", 4);
    p = ngx_cpymem(p, auth->claims.jti, auth->claims.jti_len);

    argv[0] = "SET";
    len[0] = 3;
    argv[1] = (char *) key;
    len[1] = p - key;
    argv[2] = "1";
    len[2] = 1;
    argv[3] = "NX";
    len[3] = 2;
    argv[4] = "EX";
    len[4] = 2;
    argv[5] = (char *) ex;
    len[5] = ngx_sprintf(ex, "%T", ttl) - ex;

    /* the Redis client's deadline (walrus_redis_timeout) bounds the wait */

    if (ngx_walrus_cache_command(r, ngx_walrus_auth_replay_answer, auth, 6,
                                 argv, len)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "walrus: no Redis to check token IDs in: upload "
                      "refused");
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


static void
ngx_walrus_auth_replay_answer(ngx_http_request_t *r, void *data,
    redisReply *reply)
{
    ngx_int_t           rc;
    ngx_walrus_auth_t  *auth = data;

    if (reply == NULL) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "walrus: Redis failed or was late checking a token "
                      "ID: upload refused");
        rc = NGX_ERROR;

    } else if (reply->type == REDIS_REPLY_STATUS) {
        rc = NGX_OK;

    } else {
        /* SET ... NX answers nil when the key exists */
        rc = NGX_DECLINED;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "walrus: token \"%s\" in Redis: %i", auth->claims.jti, rc);

    auth->replayed(r, rc);
}


static ngx_int_t
ngx_walrus_auth_replay_local(ngx_http_request_t *r, ngx_walrus_auth_t *auth,
    time_t ttl)
{
    time_t                        now;
    uint32_t                      hash;
    ngx_str_t                     jti;
    ngx_walrus_auth_jti_t        *e;
    ngx_walrus_auth_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_auth_module);

    if (ngx_walrus_jti_tree.root == NULL) {
        ngx_rbtree_init(&ngx_walrus_jti_tree, &ngx_walrus_jti_sentinel,
                        ngx_str_rbtree_insert_value);
        ngx_queue_init(&ngx_walrus_jti_queue);
    }

    now = ngx_time();

    jti.data = (u_char *) auth->claims.jti;
    jti.len = auth->claims.jti_len;
    hash = ngx_crc32_short(jti.data, jti.len);

    e = (ngx_walrus_auth_jti_t *)
            ngx_str_rbtree_lookup(&ngx_walrus_jti_tree, &jti, hash);

    if (e != NULL && e->expires > now) {
        return NGX_DECLINED;
    }

    if (e != NULL) {
        /* expired: it may be taken again, as Redis would let it */
        e->expires = now + ttl;
        ngx_queue_remove(&e->queue);
        ngx_queue_insert_tail(&ngx_walrus_jti_queue, &e->queue);
        return NGX_OK;
    }

    if (ngx_walrus_njti >= amcf->replay_cache) {
        ngx_walrus_auth_replay_expire(now, 0);

        if (ngx_walrus_njti >= amcf->replay_cache) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "walrus: %ui unexpired token IDs kept, "
                          "walrus_gateway_jwt_replay_cache: upload refused",
                          ngx_walrus_njti);
            return NGX_BUSY;
        }
    }

    e = ngx_alloc(sizeof(ngx_walrus_auth_jti_t), r->connection->log);
    if (e == NULL) {
        return NGX_BUSY;
    }

    ngx_memcpy(e->jti, jti.data, jti.len);
    e->sn.str.data = e->jti;
    e->sn.str.len = jti.len;
    e->sn.node.key = hash;
    e->expires = now + ttl;

    ngx_rbtree_insert(&ngx_walrus_jti_tree, &e->sn.node);
    ngx_queue_insert_tail(&ngx_walrus_jti_queue, &e->queue);
    ngx_walrus_njti++;

    return NGX_OK;
}


/*
 * Frees the expired IDs (all of them when all is set).  Tokens of
 * different lifetimes make the queue only roughly ordered by expiry:
 * the whole queue is walked, only when the memory is full.
 */

static void
ngx_walrus_auth_replay_expire(time_t now, ngx_uint_t all)
{
    ngx_queue_t            *q, *next;
    ngx_walrus_auth_jti_t  *e;

    if (ngx_walrus_jti_tree.root == NULL) {
        return;
    }

    for (q = ngx_queue_head(&ngx_walrus_jti_queue);
         q != ngx_queue_sentinel(&ngx_walrus_jti_queue);
         q = next)
    {
        next = ngx_queue_next(q);
        e = ngx_queue_data(q, ngx_walrus_auth_jti_t, queue);

        if (all || e->expires <= now) {
            ngx_queue_remove(q);
            ngx_rbtree_delete(&ngx_walrus_jti_tree, &e->sn.node);
            ngx_free(e);
            ngx_walrus_njti--;
        }
    }
}


void
ngx_walrus_auth_replay_drain(void)
{
    ngx_walrus_auth_replay_expire(0, 1);
}
