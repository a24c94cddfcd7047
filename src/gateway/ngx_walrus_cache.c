/*
 * Cache entries in Redis: <prefix>m:<id> metadata, <prefix>c:<id>
 * certificate, <prefix>r:<id> registration (the blob's lifetime: an
 * entry without it is not used), <prefix>n:<id> not found, <prefix>t:<id>
 * content type, <prefix>i:<id> an inconsistency proof that held
 * (protocol 11.2); and
 * the Redis commands of requests (the audits' too), whose replies may
 * come after the request ended.
 *
 * A "not found" entry holds the Unix time it expires at, besides its
 * Redis expiry: one that Redis would keep forever (written by hand, or
 * persisted) still ends, so a blob certified later is never hidden.
 */

#include <ngx_walrus_cache.h>
#include <ngx_walrus_redis.h>
#include <walrus_http.h>
#include <walrus_registration.h>


/* a command of a request, which may end before the reply */
typedef struct {
    ngx_http_request_t          *request;   /* NULL once it ended */
    ngx_walrus_cache_reply_pt    handler;
    void                        *data;
    ngx_pool_cleanup_t          *cln;
} ngx_walrus_cache_ask_t;


typedef struct {
    ngx_walrus_cache_pt        handler;
    void                      *data;
} ngx_walrus_cache_lookup_t;


static size_t ngx_walrus_cache_key(ngx_http_request_t *r, u_char *buf,
    char kind, const char *id_text);
static void ngx_walrus_cache_answered(void *data, redisReply *reply);
static void ngx_walrus_cache_request_gone(void *data);
static void ngx_walrus_cache_lookup_done(ngx_http_request_t *r, void *data,
    redisReply *reply);
static ngx_int_t ngx_walrus_cache_copy(ngx_http_request_t *r,
    redisReply *reply, ngx_str_t *out);
static void ngx_walrus_cache_set(ngx_http_request_t *r, char kind,
    const char *id_text, const char *value, size_t value_len, time_t ttl);
static ngx_uint_t ngx_walrus_cache_negative(ngx_http_request_t *r,
    redisReply *reply);


/* <prefix><kind>:<id> */
#define NGX_WALRUS_KEY_MAX                                                   \
    (NGX_WALRUS_REDIS_PREFIX_MAX + sizeof("m:") - 1 + WALRUS_BLOB_ID_TEXT_LEN)


static size_t
ngx_walrus_cache_key(ngx_http_request_t *r, u_char *buf, char kind,
    const char *id_text)
{
    ngx_walrus_gateway_main_conf_t  *wmcf;

    wmcf = ngx_walrus_gateway_main_conf(r);

    return ngx_snprintf(buf, NGX_WALRUS_KEY_MAX, "%V%c:%s",
                        &wmcf->redis.prefix, kind, id_text) - buf;
}


ngx_int_t
ngx_walrus_cache_lookup(ngx_http_request_t *r, const char *id_text,
    ngx_walrus_cache_pt handler, void *data)
{
    u_char                      keys[6][NGX_WALRUS_KEY_MAX];
    size_t                      len[7];
    const char                 *argv[7];
    ngx_walrus_cache_lookup_t  *lk;

    lk = ngx_palloc(r->pool, sizeof(ngx_walrus_cache_lookup_t));
    if (lk == NULL) {
        return NGX_DECLINED;
    }

    lk->handler = handler;
    lk->data = data;

    argv[0] = "MGET";
    len[0] = 4;
    argv[1] = (char *) keys[0];
    len[1] = ngx_walrus_cache_key(r, keys[0], 'm', id_text);
    argv[2] = (char *) keys[1];
    len[2] = ngx_walrus_cache_key(r, keys[1], 'c', id_text);
    argv[3] = (char *) keys[2];
    len[3] = ngx_walrus_cache_key(r, keys[2], 'n', id_text);
    argv[4] = (char *) keys[3];
    len[4] = ngx_walrus_cache_key(r, keys[3], 't', id_text);
    argv[5] = (char *) keys[4];
    len[5] = ngx_walrus_cache_key(r, keys[4], 'i', id_text);
    argv[6] = (char *) keys[5];
    len[6] = ngx_walrus_cache_key(r, keys[5], 'r', id_text);

    return ngx_walrus_cache_command(r, ngx_walrus_cache_lookup_done, lk, 7,
                                    argv, len);
}


ngx_int_t
ngx_walrus_cache_command(ngx_http_request_t *r,
    ngx_walrus_cache_reply_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    ngx_walrus_cache_ask_t  *ask;

    /* on the heap: the reply may come after the request's pool is gone */

    ask = ngx_alloc(sizeof(ngx_walrus_cache_ask_t), r->connection->log);
    if (ask == NULL) {
        return NGX_DECLINED;
    }

    ask->cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ask->cln == NULL) {
        ngx_free(ask);
        return NGX_DECLINED;
    }

    if (ngx_walrus_redis_command(ngx_walrus_cache_answered, ask, argc, argv,
                                 argvlen)
        != NGX_OK)
    {
        ngx_free(ask);
        return NGX_DECLINED;
    }

    ask->request = r;
    ask->handler = handler;
    ask->data = data;
    ask->cln->handler = ngx_walrus_cache_request_gone;
    ask->cln->data = ask;

    return NGX_OK;
}


static void
ngx_walrus_cache_request_gone(void *data)
{
    ngx_walrus_cache_ask_t  *ask = data;

    ask->request = NULL;
}


static void
ngx_walrus_cache_answered(void *data, redisReply *reply)
{
    ngx_walrus_cache_ask_t  *ask = data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ask->request;

    if (r == NULL) {
        ngx_free(ask);
        return;
    }

    ask->cln->handler = NULL;
    c = r->connection;
    ngx_http_set_log_request(c->log, r);

    ask->handler(r, ask->data, reply);
    ngx_free(ask);

    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_walrus_cache_copy(ngx_http_request_t *r, redisReply *reply,
    ngx_str_t *out)
{
    out->len = 0;

    if (reply->type != REDIS_REPLY_STRING || reply->len == 0) {
        return NGX_OK;
    }

    out->data = ngx_pnalloc(r->pool, reply->len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, reply->str, reply->len);
    out->len = reply->len;

    return NGX_OK;
}


static void
ngx_walrus_cache_lookup_done(ngx_http_request_t *r, void *data,
    redisReply *reply)
{
    ngx_walrus_cache_lookup_t  *lk = data;

    ngx_walrus_cache_entry_t   entry;

    ngx_memzero(&entry, sizeof(ngx_walrus_cache_entry_t));

    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY
        && reply->elements == 6
        && ngx_walrus_cache_copy(r, reply->element[0], &entry.metadata)
           == NGX_OK
        && ngx_walrus_cache_copy(r, reply->element[1], &entry.certificate)
           == NGX_OK
        && ngx_walrus_cache_copy(r, reply->element[4], &entry.proof)
           == NGX_OK
        && ngx_walrus_cache_copy(r, reply->element[5], &entry.registration)
           == NGX_OK)
    {
        entry.answered = 1;
        entry.negative = ngx_walrus_cache_negative(r, reply->element[2]);

        if (reply->element[3]->type == REDIS_REPLY_STRING) {
            entry.type = walrus_content_type_known(reply->element[3]->str,
                                                   reply->element[3]->len);
        }
    }

    lk->handler(r, lk->data, &entry);
}


/* a "not found" entry counts until the time it holds, within the TTL */

static ngx_uint_t
ngx_walrus_cache_negative(ngx_http_request_t *r, redisReply *reply)
{
    time_t                           until, now;
    ngx_walrus_gateway_main_conf_t  *wmcf;

    wmcf = ngx_walrus_gateway_main_conf(r);

    if (reply->type != REDIS_REPLY_STRING || reply->len == 0) {
        return 0;
    }

    until = ngx_atotm((u_char *) reply->str, reply->len);
    now = ngx_time();

    /* a second of slack for clocks of gateways sharing the cache */

    if (until == NGX_ERROR || until <= now
        || until > now + wmcf->redis.negative_ttl + 1)
    {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "walrus: \"not found\" cache entry \"%*s\" ignored",
                       reply->len, reply->str);
        return 0;
    }

    return 1;
}


/*
 * A deletable blob may be deleted by its publisher at any time: its
 * entries live no longer than walrus_gateway_short_max_age, as in the
 * caches of others (http-api.md G4).
 */

time_t
ngx_walrus_cache_ttl(ngx_http_request_t *r, const u_char *reg, time_t ttl)
{
    walrus_registration_t           parsed;
    ngx_walrus_gateway_loc_conf_t  *wlcf;

    wlcf = ngx_walrus_gateway_loc_conf(r);

    if (reg != NULL
        && walrus_registration_parse(&parsed, reg, WALRUS_REGISTRATION_LEN)
           == WALRUS_OK
        && parsed.deletable)
    {
        return ngx_min(ttl, ngx_max(wlcf->short_max_age, 1));
    }

    return ttl;
}


void
ngx_walrus_cache_store(ngx_http_request_t *r, const char *id_text,
    u_char *metadata, size_t metadata_len, u_char *cert, size_t cert_len,
    const u_char *reg)
{
    u_char                           key[2][NGX_WALRUS_KEY_MAX];
    size_t                           len[3];
    const char                      *argv[3];
    ngx_walrus_gateway_main_conf_t  *wmcf;

    wmcf = ngx_walrus_gateway_main_conf(r);

    if (wmcf->redis.address.len == 0) {
        return;
    }

    ngx_walrus_cache_set(r, 'm', id_text, (char *) metadata, metadata_len,
                         wmcf->redis.metadata_ttl);
    ngx_walrus_cache_set(r, 'c', id_text, (char *) cert, cert_len,
                         wmcf->redis.certificate_ttl);

    /* an older registration is no longer what the blob lives by */

    if (reg != NULL) {
        ngx_walrus_cache_set(r, 'r', id_text, (const char *) reg,
                             WALRUS_REGISTRATION_LEN,
                             ngx_walrus_cache_ttl(r, reg,
                                            wmcf->redis.certificate_ttl));
    }

    argv[0] = "DEL";
    len[0] = 3;
    argv[1] = (char *) key[0];
    len[1] = ngx_walrus_cache_key(r, key[0], 'n', id_text);
    argv[2] = (char *) key[1];
    len[2] = ngx_walrus_cache_key(r, key[1], 'r', id_text);
    (void) ngx_walrus_redis_command(NULL, NULL, reg != NULL ? 2 : 3, argv,
                                    len);
}


void
ngx_walrus_cache_store_negative(ngx_http_request_t *r, const char *id_text)
{
    u_char                           until[NGX_TIME_T_LEN];
    size_t                           len;
    ngx_walrus_gateway_main_conf_t  *wmcf;

    wmcf = ngx_walrus_gateway_main_conf(r);

    if (wmcf->redis.address.len == 0 || wmcf->redis.negative_ttl == 0) {
        return;
    }

    len = ngx_sprintf(until, "%T", ngx_time() + wmcf->redis.negative_ttl)
          - until;

    ngx_walrus_cache_set(r, 'n', id_text, (char *) until, len,
                         wmcf->redis.negative_ttl);
}


void
ngx_walrus_cache_store_type(ngx_http_request_t *r, const char *id_text,
    const char *type)
{
    ngx_walrus_gateway_main_conf_t  *wmcf;

    wmcf = ngx_walrus_gateway_main_conf(r);

    if (wmcf->redis.address.len == 0) {
        return;
    }

    ngx_walrus_cache_set(r, 't', id_text, type, ngx_strlen(type),
                         wmcf->redis.certificate_ttl);
}


/*
 * An inconsistency never goes away for a blob ID: the proof is kept as
 * long as metadata.  Readers check it again before they believe it.
 */

void
ngx_walrus_cache_store_proof(ngx_http_request_t *r, const char *id_text,
    const u_char *proof, size_t len)
{
    ngx_walrus_gateway_main_conf_t  *wmcf;

    wmcf = ngx_walrus_gateway_main_conf(r);

    if (wmcf->redis.address.len == 0) {
        return;
    }

    ngx_walrus_cache_set(r, 'i', id_text, (const char *) proof, len,
                         wmcf->redis.metadata_ttl);
}


/* SET <prefix><kind>:<id> value EX ttl, without waiting for the answer */

static void
ngx_walrus_cache_set(ngx_http_request_t *r, char kind, const char *id_text,
    const char *value, size_t value_len, time_t ttl)
{
    u_char       key[NGX_WALRUS_KEY_MAX];
    u_char       seconds[NGX_TIME_T_LEN];
    size_t       len[5];
    const char  *argv[5];

    argv[0] = "SET";
    len[0] = 3;
    argv[1] = (char *) key;
    len[1] = ngx_walrus_cache_key(r, key, kind, id_text);
    argv[2] = value;
    len[2] = value_len;
    argv[3] = "EX";
    len[3] = 2;
    argv[4] = (char *) seconds;
    len[4] = ngx_sprintf(seconds, "%T", ttl) - seconds;

    (void) ngx_walrus_redis_command(NULL, NULL, 5, argv, len);
}
