/*
 * Redis client on nginx's event loop: hiredis async API, an adapter that
 * maps its read/write interest to level-triggered nginx events, per-worker
 * connection, command deadlines and reconnection with backoff.
 */

#include <ngx_walrus_redis.h>
#include <hiredis/async.h>


#define NGX_WALRUS_REDIS_MAX_PENDING  4096
#define NGX_WALRUS_REDIS_BACKOFF_MIN  100
#define NGX_WALRUS_REDIS_BACKOFF_MAX  5000

/* sun_path of a unix socket address: the path and its NUL */
#define NGX_WALRUS_UNIX_PATH_SIZE                                            \
    sizeof(((struct sockaddr_un *) NULL)->sun_path)


typedef enum {
    NGX_WALRUS_REDIS_DOWN = 0,
    NGX_WALRUS_REDIS_CONNECTING,
    NGX_WALRUS_REDIS_READY
} ngx_walrus_redis_state_e;


typedef struct ngx_walrus_redis_cmd_s  ngx_walrus_redis_cmd_t;

struct ngx_walrus_redis_cmd_s {
    ngx_walrus_redis_cmd_t    *next;
    ngx_msec_t                 deadline;
    ngx_walrus_redis_pt        handler;
    void                      *data;
};


typedef struct {
    ngx_walrus_redis_conf_t   *conf;
    ngx_log_t                 *log;
    redisAsyncContext         *ac;
    ngx_connection_t          *conn;
    ngx_walrus_redis_state_e   state;
    ngx_walrus_redis_cmd_t    *head;
    ngx_walrus_redis_cmd_t    *tail;
    ngx_uint_t                 pending;
    ngx_event_t                reconnect;
    ngx_event_t                deadline;
    ngx_msec_t                 backoff;
    ngx_uint_t                 outage_logged;
} ngx_walrus_redis_t;


static ngx_int_t ngx_walrus_redis_split(ngx_str_t *addr, u_char *host,
    ngx_int_t *port);
static void ngx_walrus_redis_connect(void);
static void ngx_walrus_redis_lost(const char *why);
static void ngx_walrus_redis_reconnect_handler(ngx_event_t *ev);
static void ngx_walrus_redis_deadline_handler(ngx_event_t *ev);
static void ngx_walrus_redis_arm_deadline(void);
static void ngx_walrus_redis_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_walrus_redis_on_disconnect(const redisAsyncContext *ac,
    int status);
static void ngx_walrus_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_walrus_redis_read_handler(ngx_event_t *ev);
static void ngx_walrus_redis_write_handler(ngx_event_t *ev);
static void ngx_walrus_redis_add_read(void *privdata);
static void ngx_walrus_redis_del_read(void *privdata);
static void ngx_walrus_redis_add_write(void *privdata);
static void ngx_walrus_redis_del_write(void *privdata);
static void ngx_walrus_redis_cleanup(void *privdata);
static void ngx_walrus_redis_auth(void);
static void ngx_walrus_redis_healthy(void);
static void ngx_walrus_redis_auth_reply(redisAsyncContext *ac, void *r,
    void *privdata);


/* worker state: each worker process has its own */
static ngx_walrus_redis_t  ngx_walrus_redis;


char *
ngx_walrus_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_walrus_gateway_main_conf_t  *wmcf = conf;

    u_char                    host[NGX_SOCKADDR_STRLEN + 1];
    ngx_str_t                *value;
    ngx_int_t                 port;
    struct in_addr            a4;
    struct in6_addr           a6;
    ngx_walrus_redis_conf_t  *rcf;

    value = cf->args->elts;
    rcf = &wmcf->redis;

    if (rcf->address.len) {
        return "is duplicate";
    }

    rcf->address = value[1];

    if (value[1].len > 5 && ngx_strncmp(value[1].data, "unix:", 5) == 0) {
        if (value[1].len - 5 >= NGX_WALRUS_UNIX_PATH_SIZE) {
            return "has a unix socket path longer than a socket address "
                   "holds";
        }

        return NGX_CONF_OK;
    }

    /* a numeric address only: no name resolution in a worker */

    if (ngx_walrus_redis_split(&value[1], host, &port) != NGX_OK
        || (inet_pton(AF_INET, (char *) host, &a4) != 1
            && inet_pton(AF_INET6, (char *) host, &a6) != 1))
    {
        return "needs a numeric \"address:port\", \"[ipv6]:port\" or "
               "\"unix:path\"";
    }

    return NGX_CONF_OK;
}


/* "1.2.3.4:6379" or "[::1]:6379" into host (NUL terminated) and port */

static ngx_int_t
ngx_walrus_redis_split(ngx_str_t *addr, u_char *host, ngx_int_t *port)
{
    u_char  *start, *end, *last, *colon;

    start = addr->data;
    last = addr->data + addr->len;

    if (addr->len > 0 && *start == '[') {
        end = ngx_strlchr(start, last, ']');
        if (end == NULL || end + 1 >= last || end[1] != ':') {
            return NGX_ERROR;
        }

        start++;
        colon = end + 1;

    } else {
        colon = ngx_strlchr(start, last, ':');
        end = colon;
    }

    if (colon == NULL || end - start <= 0
        || (size_t) (end - start) > NGX_SOCKADDR_STRLEN)
    {
        return NGX_ERROR;
    }

    *port = ngx_atoi(colon + 1, last - colon - 1);
    if (*port < 1 || *port > 65535) {
        return NGX_ERROR;
    }

    ngx_memcpy(host, start, end - start);
    host[end - start] = '\0';

    return NGX_OK;
}


ngx_int_t
ngx_walrus_redis_init_process(ngx_cycle_t *cycle)
{
    ngx_walrus_gateway_main_conf_t  *wmcf;

    wmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                            ngx_http_walrus_gateway_module);

    if (wmcf == NULL || wmcf->redis.address.len == 0) {
        return NGX_OK;
    }

    ngx_memzero(&ngx_walrus_redis, sizeof(ngx_walrus_redis_t));
    ngx_walrus_redis.conf = &wmcf->redis;
    ngx_walrus_redis.log = cycle->log;
    ngx_walrus_redis.backoff = NGX_WALRUS_REDIS_BACKOFF_MIN;

    ngx_walrus_redis.reconnect.handler = ngx_walrus_redis_reconnect_handler;
    ngx_walrus_redis.reconnect.log = cycle->log;
    ngx_walrus_redis.reconnect.cancelable = 1;

    /* not cancelable: a worker that exits waits for pending commands */
    ngx_walrus_redis.deadline.handler = ngx_walrus_redis_deadline_handler;
    ngx_walrus_redis.deadline.log = cycle->log;

    ngx_walrus_redis_connect();

    return NGX_OK;
}


void
ngx_walrus_redis_exit_process(ngx_cycle_t *cycle)
{
    redisAsyncContext  *ac;

    if (ngx_walrus_redis.conf == NULL) {
        return;
    }

    if (ngx_walrus_redis.reconnect.timer_set) {
        ngx_del_timer(&ngx_walrus_redis.reconnect);
    }

    if (ngx_walrus_redis.deadline.timer_set) {
        ngx_del_timer(&ngx_walrus_redis.deadline);
    }

    ac = ngx_walrus_redis.ac;
    ngx_walrus_redis.ac = NULL;
    ngx_walrus_redis.state = NGX_WALRUS_REDIS_DOWN;
    ngx_walrus_redis.conf = NULL;

    if (ac != NULL) {
        redisAsyncFree(ac);
    }
}


static void
ngx_walrus_redis_connect(void)
{
    u_char              host[NGX_SOCKADDR_STRLEN + 1];
    ngx_str_t          *addr;
    ngx_int_t           port;
    redisAsyncContext  *ac;
    ngx_connection_t   *c;

    addr = &ngx_walrus_redis.conf->address;

    if (addr->len > 5 && ngx_strncmp(addr->data, "unix:", 5) == 0) {
        u_char  path[NGX_WALRUS_UNIX_PATH_SIZE];

        /* the directive checked that the path and its NUL fit */
        ngx_cpystrn(path, addr->data + 5, addr->len - 5 + 1);
        ac = redisAsyncConnectUnix((char *) path);

    } else {
        (void) ngx_walrus_redis_split(addr, host, &port);
        ac = redisAsyncConnect((char *) host, (int) port);
    }

    if (ac == NULL || ac->err) {
        if (ac != NULL) {
            redisAsyncFree(ac);
        }

        ngx_walrus_redis_lost("cannot connect");
        return;
    }

    c = ngx_get_connection(ac->c.fd, ngx_walrus_redis.log);
    if (c == NULL) {
        redisAsyncFree(ac);
        ngx_walrus_redis_lost("no free connection");
        return;
    }

    c->data = ac;
    c->read->handler = ngx_walrus_redis_read_handler;
    c->write->handler = ngx_walrus_redis_write_handler;
    c->read->log = ngx_walrus_redis.log;
    c->write->log = ngx_walrus_redis.log;

    ngx_walrus_redis.ac = ac;
    ngx_walrus_redis.conn = c;
    ngx_walrus_redis.state = NGX_WALRUS_REDIS_CONNECTING;

    ac->ev.data = c;
    ac->ev.addRead = ngx_walrus_redis_add_read;
    ac->ev.delRead = ngx_walrus_redis_del_read;
    ac->ev.addWrite = ngx_walrus_redis_add_write;
    ac->ev.delWrite = ngx_walrus_redis_del_write;
    ac->ev.cleanup = ngx_walrus_redis_cleanup;

    redisAsyncSetConnectCallback(ac, ngx_walrus_redis_on_connect);
    redisAsyncSetDisconnectCallback(ac, ngx_walrus_redis_on_disconnect);

    /* the connect completes when the socket turns writable */
    ngx_walrus_redis_add_write(c);

    ngx_walrus_redis_auth();

    /* bound the connect itself too */
    ngx_walrus_redis_arm_deadline();
    if (!ngx_walrus_redis.deadline.timer_set) {
        ngx_add_timer(&ngx_walrus_redis.deadline,
                      ngx_walrus_redis.conf->timeout);
    }
}


/* AUTH and SELECT go first in the pipeline */

static void
ngx_walrus_redis_auth(void)
{
    u_char                   db[NGX_INT_T_LEN];
    size_t                   len[2];
    const char              *argv[2];
    ngx_walrus_redis_conf_t  *rcf;

    rcf = ngx_walrus_redis.conf;

    if (rcf->password.len) {
        argv[0] = "AUTH";
        len[0] = 4;
        argv[1] = (char *) rcf->password.data;
        len[1] = rcf->password.len;
        redisAsyncCommandArgv(ngx_walrus_redis.ac,
                              ngx_walrus_redis_auth_reply, "AUTH", 2, argv,
                              len);
    }

    if (rcf->db > 0) {
        argv[0] = "SELECT";
        len[0] = 6;
        argv[1] = (char *) db;
        len[1] = ngx_sprintf(db, "%i", rcf->db) - db;
        redisAsyncCommandArgv(ngx_walrus_redis.ac,
                              ngx_walrus_redis_auth_reply, "SELECT", 2, argv,
                              len);
    }
}


/* a refused AUTH or SELECT: drop the connection (from a timer, not here) */

static void
ngx_walrus_redis_auth_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply  *reply = r;

    if (reply != NULL && reply->type != REDIS_REPLY_ERROR) {
        return;
    }

    if (reply != NULL && !ngx_walrus_redis.outage_logged) {
        ngx_log_error(NGX_LOG_ERR, ngx_walrus_redis.log, 0,
                      "walrus: redis refused %s: %s", (char *) privdata,
                      reply->str);
        ngx_walrus_redis.outage_logged = 1;
    }

    if (ngx_walrus_redis.state != NGX_WALRUS_REDIS_DOWN
        && ngx_walrus_redis.ac == ac)
    {
        ngx_walrus_redis.state = NGX_WALRUS_REDIS_DOWN;
        ngx_add_timer(&ngx_walrus_redis.deadline, 1);
    }
}


/* after an error, the context is (being) freed by hiredis or by us */

static void
ngx_walrus_redis_lost(const char *why)
{
    ngx_walrus_redis.ac = NULL;
    ngx_walrus_redis.conn = NULL;

    if (ngx_walrus_redis.conf == NULL) {
        return;
    }

    ngx_walrus_gateway_count(NGX_WALRUS_GM_REDIS_ERRORS, 0);

    if (!ngx_walrus_redis.outage_logged) {
        ngx_log_error(NGX_LOG_WARN, ngx_walrus_redis.log, 0,
                      "walrus: redis \"%V\" unavailable (%s); serving from "
                      "the storage nodes", &ngx_walrus_redis.conf->address,
                      why);
        ngx_walrus_redis.outage_logged = 1;
    }

    ngx_walrus_redis.state = NGX_WALRUS_REDIS_DOWN;

    if (!ngx_exiting && !ngx_quit && !ngx_terminate
        && !ngx_walrus_redis.reconnect.timer_set)
    {
        ngx_add_timer(&ngx_walrus_redis.reconnect, ngx_walrus_redis.backoff);
        ngx_walrus_redis.backoff = ngx_min(ngx_walrus_redis.backoff * 2,
                                           NGX_WALRUS_REDIS_BACKOFF_MAX);
    }
}


static void
ngx_walrus_redis_reconnect_handler(ngx_event_t *ev)
{
    if (ngx_walrus_redis.conf != NULL && ngx_walrus_redis.ac == NULL) {
        ngx_walrus_redis_connect();
    }
}


static void
ngx_walrus_redis_on_connect(const redisAsyncContext *ac, int status)
{
    if (status != REDIS_OK) {
        ngx_walrus_redis_lost(ac->errstr[0] ? ac->errstr : "connect failed");
        return;
    }

    if (ngx_walrus_redis.state != NGX_WALRUS_REDIS_CONNECTING) {
        return;
    }

    ngx_walrus_redis.state = NGX_WALRUS_REDIS_READY;

    ngx_walrus_redis_arm_deadline();
}


/* the first good reply ends an outage */

static void
ngx_walrus_redis_healthy(void)
{
    if (ngx_walrus_redis.outage_logged) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_walrus_redis.log, 0,
                      "walrus: redis \"%V\" is back",
                      &ngx_walrus_redis.conf->address);
        ngx_walrus_redis.outage_logged = 0;
    }

    ngx_walrus_redis.backoff = NGX_WALRUS_REDIS_BACKOFF_MIN;
}


static void
ngx_walrus_redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_walrus_redis_lost(ac->errstr[0] ? ac->errstr : "disconnected");
}


/* the oldest pending command (or the connect) bounds the wait */

static void
ngx_walrus_redis_arm_deadline(void)
{
    ngx_msec_t  now;

    if (ngx_walrus_redis.head == NULL) {
        if (ngx_walrus_redis.deadline.timer_set
            && ngx_walrus_redis.state == NGX_WALRUS_REDIS_READY)
        {
            ngx_del_timer(&ngx_walrus_redis.deadline);
        }

        return;
    }

    now = ngx_current_msec;

    ngx_add_timer(&ngx_walrus_redis.deadline,
                  (ngx_msec_int_t) (ngx_walrus_redis.head->deadline - now) > 0
                  ? ngx_walrus_redis.head->deadline - now : 1);
}


/* a late reply leaves the stream out of step: drop the connection */

static void
ngx_walrus_redis_deadline_handler(ngx_event_t *ev)
{
    redisAsyncContext  *ac;

    ac = ngx_walrus_redis.ac;

    if (ac == NULL) {
        return;
    }

    ngx_walrus_redis.state = NGX_WALRUS_REDIS_DOWN;
    ngx_walrus_redis.ac = NULL;

    redisAsyncFree(ac);
    ngx_walrus_redis_lost("timed out");
}


ngx_int_t
ngx_walrus_redis_command(ngx_walrus_redis_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    ngx_walrus_redis_cmd_t  *cmd;

    if (ngx_walrus_redis.conf == NULL
        || ngx_walrus_redis.state != NGX_WALRUS_REDIS_READY
        || ngx_walrus_redis.pending >= NGX_WALRUS_REDIS_MAX_PENDING)
    {
        return NGX_DECLINED;
    }

    cmd = ngx_alloc(sizeof(ngx_walrus_redis_cmd_t), ngx_walrus_redis.log);
    if (cmd == NULL) {
        return NGX_DECLINED;
    }

    cmd->next = NULL;
    cmd->deadline = ngx_current_msec + ngx_walrus_redis.conf->timeout;
    cmd->handler = handler;
    cmd->data = data;

    if (redisAsyncCommandArgv(ngx_walrus_redis.ac, ngx_walrus_redis_reply,
                              cmd, argc, argv, argvlen)
        != REDIS_OK)
    {
        ngx_free(cmd);
        return NGX_DECLINED;
    }

    if (ngx_walrus_redis.tail != NULL) {
        ngx_walrus_redis.tail->next = cmd;

    } else {
        ngx_walrus_redis.head = cmd;
    }

    ngx_walrus_redis.tail = cmd;
    ngx_walrus_redis.pending++;

    if (!ngx_walrus_redis.deadline.timer_set) {
        ngx_walrus_redis_arm_deadline();
    }

    return NGX_OK;
}


/* replies come in order: each one is for the head of the queue */

static void
ngx_walrus_redis_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    ngx_walrus_redis_cmd_t  *cmd = privdata;

    ngx_walrus_redis_cmd_t  **pp;

    for (pp = &ngx_walrus_redis.head; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == cmd) {
            *pp = cmd->next;

            if (ngx_walrus_redis.tail == cmd) {
                ngx_walrus_redis.tail = NULL;

                if (ngx_walrus_redis.head != NULL) {
                    ngx_walrus_redis.tail = ngx_walrus_redis.head;

                    while (ngx_walrus_redis.tail->next != NULL) {
                        ngx_walrus_redis.tail = ngx_walrus_redis.tail->next;
                    }
                }
            }

            ngx_walrus_redis.pending--;
            break;
        }
    }

    if (r != NULL && ((redisReply *) r)->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_INFO, ngx_walrus_redis.log, 0,
                      "walrus: redis error: %s", ((redisReply *) r)->str);
        ngx_walrus_gateway_count(NGX_WALRUS_GM_REDIS_ERRORS, 0);
        r = NULL;

    } else if (r != NULL && ngx_walrus_redis.conf != NULL) {
        ngx_walrus_redis_healthy();
    }

    if (cmd->handler != NULL) {
        cmd->handler(cmd->data, r);
    }

    ngx_free(cmd);

    if (ngx_walrus_redis.state == NGX_WALRUS_REDIS_READY) {
        ngx_walrus_redis_arm_deadline();
    }
}


static void
ngx_walrus_redis_read_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    redisAsyncHandleRead(c->data);
}


static void
ngx_walrus_redis_write_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    redisAsyncHandleWrite(c->data);
}


static void
ngx_walrus_redis_add_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->read->active) {
        (void) ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_walrus_redis_del_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_walrus_redis_add_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->write->active) {
        (void) ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_walrus_redis_del_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


/* hiredis frees the context: nginx closes the socket, hiredis must not */

static void
ngx_walrus_redis_cleanup(void *privdata)
{
    ngx_connection_t   *c = privdata;
    redisAsyncContext  *ac;

    if (c == NULL) {
        return;
    }

    ac = c->data;
    ngx_close_connection(c);

    ac->c.fd = -1;
    ac->ev.data = NULL;

    if (ngx_walrus_redis.conn == c) {
        ngx_walrus_redis.conn = NULL;
    }
}
