/*
 * Redis on nginx's event loop (hiredis async API with an nginx adapter):
 * one connection per worker, a deadline on every command, reconnection
 * with backoff.  Redis is a cache only: when it is down or slow, commands
 * are refused or fail and callers go to the storage nodes.
 */

#ifndef _NGX_WALRUS_REDIS_H_INCLUDED_
#define _NGX_WALRUS_REDIS_H_INCLUDED_


#include <ngx_walrus_gateway.h>
#include <hiredis/hiredis.h>


/* reply is NULL when Redis failed, timed out or went away */
typedef void (*ngx_walrus_redis_pt)(void *data, redisReply *reply);


char *ngx_walrus_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_walrus_redis_init_process(ngx_cycle_t *cycle);
void ngx_walrus_redis_exit_process(ngx_cycle_t *cycle);

/*
 * NGX_OK: handler(data, reply) will be called exactly once (handler may
 * be NULL); NGX_DECLINED: Redis is not available, nothing will be called.
 */
ngx_int_t ngx_walrus_redis_command(ngx_walrus_redis_pt handler, void *data,
    int argc, const char **argv, const size_t *argvlen);


#endif /* _NGX_WALRUS_REDIS_H_INCLUDED_ */
