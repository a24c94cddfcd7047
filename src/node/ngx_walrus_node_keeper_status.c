/*
 * What a node's keeper has done, for every worker to show: the keeper
 * runs in one process, the node's health answer comes from any, so the
 * figures live in a shared memory zone of the keeper's own, written by
 * the keeper at the end of each round.
 */

#include <ngx_walrus_node_keeper.h>


#define NGX_WALRUS_KEEPER_ZONE_SIZE  (64 * 1024)

#define NGX_WALRUS_KEEPER_JSON                                                \
    ",\"keeper\":{\"process\":%P,\"rounds\":%ui,\"lastRound\":%T,"            \
    "\"blobs\":{\"known\":%uL,\"held\":%uL,\"pending\":%uL,"                  \
    "\"inconsistent\":%uL},\"healedPairs\":%uL,\"putOff\":%uL,"               \
    "\"recoveryBytes\":%uL,\"migratedPairs\":%uL,"                            \
    "\"migrationBytes\":%uL,\"scrub\":{\"bytes\":%uL,\"setAside\":%uL,"       \
    "\"passes\":%uL},\"gc\":{\"reclaimed\":%uL,\"passes\":%uL},"              \
    "\"epoch\":{\"epoch\":%uD,\"ready\":%s,"                                  \
    "\"complete\":%s,\"readyShards\":%ud,\"handedOver\":%s,"                  \
    "\"droppedFiles\":%uL},\"peers\":["

#define NGX_WALRUS_KEEPER_PEER_JSON                                           \
    "{\"node\":\"%s\",\"lastSync\":%T,\"cursor\":%uL,\"status\":%ui}"


typedef struct {
    time_t                     last_sync;
    uint64_t                   cursor;
    ngx_uint_t                 status;
} ngx_walrus_peer_status_t;


struct ngx_walrus_keeper_status_s {
    ngx_pid_t                  pid;
    ngx_uint_t                 rounds;
    time_t                     last_round;
    uint64_t                   known;
    uint64_t                   held;
    uint64_t                   pending;
    uint64_t                   inconsistent;
    uint64_t                   healed;
    uint64_t                   failed;
    uint64_t                   received;
    uint64_t                   migrated;
    uint64_t                   migrated_bytes;
    uint64_t                   scrubbed;
    uint64_t                   scrub_bad;
    uint64_t                   scrub_passes;
    uint32_t                   epoch;
    unsigned                   ready_weight;
    uint64_t                   dropped;
    unsigned                   ready:1;
    unsigned                   complete:1;
    unsigned                   handed_over:1;
    uint64_t                   gc_reclaimed;
    uint64_t                   gc_passes;
    ngx_walrus_peer_status_t   peers[WALRUS_MAX_SHARDS];
};


static ngx_int_t ngx_walrus_keeper_zone_init(ngx_shm_zone_t *zone,
    void *data);


ngx_int_t
ngx_walrus_keeper_zone(ngx_conf_t *cf, ngx_walrus_keeper_t *kp)
{
    ngx_str_t  name;

    name.len = sizeof("walrus_keeper_") - 1 + kp->conf->node_name.len;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(name.data, "walrus_keeper_%V", &kp->conf->node_name);

    kp->zone = ngx_shared_memory_add(cf, &name, NGX_WALRUS_KEEPER_ZONE_SIZE,
                                     &ngx_http_walrus_node_module);
    if (kp->zone == NULL) {
        return NGX_ERROR;
    }

    if (kp->zone->data != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "node \"%V\" has two stores", &kp->conf->node_name);
        return NGX_ERROR;
    }

    kp->zone->init = ngx_walrus_keeper_zone_init;
    kp->zone->data = kp;

    return NGX_OK;
}


/* the figures survive a reload: the zone and its place are kept */

static ngx_int_t
ngx_walrus_keeper_zone_init(ngx_shm_zone_t *zone, void *data)
{
    ngx_walrus_keeper_t  *okp = data;

    ngx_slab_pool_t      *shpool;
    ngx_walrus_keeper_t  *kp;

    kp = zone->data;
    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (okp != NULL) {
        kp->status = okp->status;
        return NGX_OK;
    }

    if (zone->shm.exists) {
        kp->status = shpool->data;
        return NGX_OK;
    }

    kp->status = ngx_slab_calloc(shpool, sizeof(ngx_walrus_keeper_status_t));
    if (kp->status == NULL) {
        return NGX_ERROR;
    }

    shpool->data = kp->status;

    return NGX_OK;
}


void
ngx_walrus_keeper_publish(ngx_walrus_keeper_t *kp)
{
    ngx_uint_t                   i;
    ngx_slab_pool_t             *shpool;
    ngx_walrus_keeper_status_t  *st;

    st = kp->status;
    if (st == NULL) {
        return;
    }

    shpool = (ngx_slab_pool_t *) kp->zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    st->pid = ngx_pid;
    st->rounds = kp->rounds;
    st->last_round = ngx_time();
    st->known = kp->known;
    st->held = kp->known - kp->pending - kp->inconsistent;
    st->pending = kp->pending;
    st->inconsistent = kp->inconsistent;
    st->healed = kp->healed;
    st->failed = kp->failed;
    st->received = kp->received;
    st->migrated = kp->migrated;
    st->migrated_bytes = kp->migrated_bytes;
    st->scrubbed = kp->scrubbed;
    st->scrub_bad = kp->scrub_bad;
    st->scrub_passes = kp->scrub_passes;
    st->epoch = kp->committee->epoch;
    st->ready = kp->ready;
    st->complete = kp->complete;
    st->ready_weight = kp->ready_weight;
    st->handed_over = kp->handed_over;
    st->dropped = kp->dropped;
    st->gc_reclaimed = kp->gc_reclaimed;
    st->gc_passes = kp->gc_passes;

    for (i = 0; i < kp->committee->nnodes && i < WALRUS_MAX_SHARDS; i++) {
        st->peers[i].last_sync = kp->peers[i].last_sync;
        st->peers[i].cursor = kp->peers[i].cursor;
        st->peers[i].status = kp->peers[i].status;
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


/* the keeper's part of the node's health answer, or p when none */

size_t
ngx_walrus_keeper_json_len(ngx_walrus_keeper_t *kp)
{
    if (kp == NULL || kp->status == NULL) {
        return 0;
    }

    return sizeof(NGX_WALRUS_KEEPER_JSON) + NGX_TIME_T_LEN
           + 19 * NGX_INT64_LEN + 3 * sizeof("false") + sizeof("]}")
           + kp->committee->nnodes
             * (sizeof(NGX_WALRUS_KEEPER_PEER_JSON) + WALRUS_MAX_NAME_LEN
                + NGX_TIME_T_LEN + 2 * NGX_INT64_LEN + 1);
}


u_char *
ngx_walrus_keeper_json(u_char *p, ngx_walrus_keeper_t *kp)
{
    ngx_uint_t                   i, first;
    ngx_slab_pool_t             *shpool;
    ngx_walrus_keeper_status_t  *st;

    if (kp == NULL || kp->status == NULL) {
        return p;
    }

    st = kp->status;
    shpool = (ngx_slab_pool_t *) kp->zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    p = ngx_sprintf(p, NGX_WALRUS_KEEPER_JSON, st->pid, st->rounds,
                    st->last_round, st->known, st->held, st->pending,
                    st->inconsistent, st->healed, st->failed, st->received,
                    st->migrated, st->migrated_bytes, st->scrubbed,
                    st->scrub_bad, st->scrub_passes, st->gc_reclaimed,
                    st->gc_passes, st->epoch,
                    st->ready ? "true" : "false",
                    st->complete ? "true" : "false", st->ready_weight,
                    st->handed_over ? "true" : "false", st->dropped);

    first = 1;

    for (i = 0; i < kp->committee->nnodes; i++) {
        if ((ngx_int_t) i == kp->conf->node_index) {
            continue;
        }

        p = ngx_sprintf(p, first ? NGX_WALRUS_KEEPER_PEER_JSON
                                 : "," NGX_WALRUS_KEEPER_PEER_JSON,
                        kp->committee->nodes[i].name, st->peers[i].last_sync,
                        st->peers[i].cursor, st->peers[i].status);
        first = 0;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return ngx_cpymem(p, "]}", 2);
}


/* the keeper of a node location's store, or NULL */

ngx_walrus_keeper_t *
ngx_walrus_keeper_of(ngx_http_request_t *r)
{
    ngx_uint_t                    i;
    ngx_walrus_keeper_t         **kpp;
    ngx_walrus_node_loc_conf_t   *wlcf;
    ngx_walrus_node_main_conf_t  *wnmcf;

    wnmcf = ngx_http_get_module_main_conf(r, ngx_http_walrus_node_module);
    wlcf = ngx_walrus_node_loc_conf(r);

    if (wnmcf->keepers == NULL || !wlcf->keeper) {
        return NULL;
    }

    kpp = wnmcf->keepers->elts;

    for (i = 0; i < wnmcf->keepers->nelts; i++) {
        if (kpp[i]->conf->store.len == wlcf->store.len
            && ngx_strncmp(kpp[i]->conf->store.data, wlcf->store.data,
                           wlcf->store.len) == 0)
        {
            return kpp[i];
        }
    }

    return NULL;
}
