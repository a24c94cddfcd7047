/*
 * The per-worker memory of verified metadata and certificates, and of
 * blobs proven inconsistent: a red-black tree keyed by the blob ID for
 * lookups, a queue for the LRU order.
 */

#include <ngx_walrus_memo.h>


typedef struct {
    ngx_rbtree_node_t      node;        /* key: first bytes of the ID */
    ngx_queue_t            queue;
    uint8_t                id[WALRUS_BLOB_ID_LEN];
    time_t                 expires;
    const char            *type;        /* sniffed, static; or NULL */
    ngx_uint_t             inconsistent; /* a proof of it held */
    size_t                 metadata_len;
    size_t                 cert_len;
    u_char                 reg[WALRUS_REGISTRATION_LEN];
    u_char                 data[1];     /* metadata, then certificate */
} ngx_walrus_memo_node_t;


static void ngx_walrus_memo_init(void);
static ngx_walrus_memo_node_t *ngx_walrus_memo_find(const uint8_t *id);
static void ngx_walrus_memo_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static void ngx_walrus_memo_drop(ngx_walrus_memo_node_t *mn);
static ngx_rbtree_key_t ngx_walrus_memo_key(const uint8_t *id);


static ngx_rbtree_t       ngx_walrus_memo_tree;
static ngx_rbtree_node_t  ngx_walrus_memo_sentinel;
static ngx_queue_t        ngx_walrus_memo_lru;
static size_t             ngx_walrus_memo_used;
static ngx_flag_t         ngx_walrus_memo_ready;


static void
ngx_walrus_memo_init(void)
{
    ngx_rbtree_init(&ngx_walrus_memo_tree, &ngx_walrus_memo_sentinel,
                    ngx_walrus_memo_insert_value);
    ngx_queue_init(&ngx_walrus_memo_lru);
    ngx_walrus_memo_used = 0;
    ngx_walrus_memo_ready = 1;
}


static ngx_rbtree_key_t
ngx_walrus_memo_key(const uint8_t *id)
{
    return (ngx_rbtree_key_t) id[0] << 24 | id[1] << 16 | id[2] << 8 | id[3];
}


static void
ngx_walrus_memo_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t       **p;
    ngx_walrus_memo_node_t   *a, *b;

    for ( ;; ) {
        if (node->key != temp->key) {
            p = node->key < temp->key ? &temp->left : &temp->right;

        } else {
            a = (ngx_walrus_memo_node_t *) node;
            b = (ngx_walrus_memo_node_t *) temp;
            p = ngx_memcmp(a->id, b->id, WALRUS_BLOB_ID_LEN) < 0
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_walrus_memo_node_t *
ngx_walrus_memo_find(const uint8_t *id)
{
    ngx_int_t                rc;
    ngx_rbtree_key_t         key;
    ngx_rbtree_node_t       *node, *sentinel;
    ngx_walrus_memo_node_t  *mn;

    key = ngx_walrus_memo_key(id);
    node = ngx_walrus_memo_tree.root;
    sentinel = ngx_walrus_memo_tree.sentinel;

    while (node != sentinel) {
        if (key != node->key) {
            node = key < node->key ? node->left : node->right;
            continue;
        }

        mn = (ngx_walrus_memo_node_t *) node;
        rc = ngx_memcmp(id, mn->id, WALRUS_BLOB_ID_LEN);

        if (rc == 0) {
            return mn;
        }

        node = rc < 0 ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_walrus_memo_drop(ngx_walrus_memo_node_t *mn)
{
    ngx_rbtree_delete(&ngx_walrus_memo_tree, &mn->node);
    ngx_queue_remove(&mn->queue);
    ngx_walrus_memo_used -= sizeof(ngx_walrus_memo_node_t) + mn->metadata_len
                            + mn->cert_len;
    ngx_free(mn);
}


ngx_int_t
ngx_walrus_memo_get(ngx_http_request_t *r, const uint8_t *blob_id,
    ngx_str_t *metadata, ngx_str_t *certificate, u_char *reg,
    const char **type, ngx_uint_t *inconsistent)
{
    ngx_walrus_memo_node_t  *mn;

    if (!ngx_walrus_memo_ready) {
        return NGX_DECLINED;
    }

    mn = ngx_walrus_memo_find(blob_id);
    if (mn == NULL) {
        return NGX_DECLINED;
    }

    if (mn->expires <= ngx_time()) {
        ngx_walrus_memo_drop(mn);
        return NGX_DECLINED;
    }

    metadata->data = ngx_pnalloc(r->pool, mn->metadata_len + mn->cert_len);
    if (metadata->data == NULL) {
        return NGX_DECLINED;
    }

    ngx_memcpy(metadata->data, mn->data, mn->metadata_len + mn->cert_len);
    metadata->len = mn->metadata_len;
    certificate->data = metadata->data + mn->metadata_len;
    certificate->len = mn->cert_len;
    ngx_memcpy(reg, mn->reg, WALRUS_REGISTRATION_LEN);
    *type = mn->type;
    *inconsistent = mn->inconsistent;

    ngx_queue_remove(&mn->queue);
    ngx_queue_insert_head(&ngx_walrus_memo_lru, &mn->queue);

    return NGX_OK;
}


void
ngx_walrus_memo_put(ngx_http_request_t *r, const uint8_t *blob_id,
    const u_char *metadata, size_t metadata_len, const u_char *cert,
    size_t cert_len, const u_char *reg, time_t ttl, const char *type)
{
    size_t                           size;
    ngx_queue_t                     *q;
    ngx_walrus_memo_node_t          *mn;
    ngx_walrus_gateway_main_conf_t  *wmcf;

    wmcf = ngx_walrus_gateway_main_conf(r);

    size = sizeof(ngx_walrus_memo_node_t) + metadata_len + cert_len;

    /* one entry may take at most an eighth of the memory */
    if (size > wmcf->worker_cache_size / 8) {
        return;
    }

    if (!ngx_walrus_memo_ready) {
        ngx_walrus_memo_init();
    }

    mn = ngx_walrus_memo_find(blob_id);
    if (mn != NULL) {
        ngx_walrus_memo_drop(mn);
    }

    /* an entry without the blob's lifetime could outlive the blob */

    if (reg == NULL) {
        return;
    }

    while (ngx_walrus_memo_used + size > wmcf->worker_cache_size) {
        q = ngx_queue_last(&ngx_walrus_memo_lru);
        ngx_walrus_memo_drop(ngx_queue_data(q, ngx_walrus_memo_node_t,
                                            queue));
    }

    mn = ngx_alloc(size, r->connection->log);
    if (mn == NULL) {
        return;
    }

    ngx_memcpy(mn->id, blob_id, WALRUS_BLOB_ID_LEN);
    mn->node.key = ngx_walrus_memo_key(blob_id);
    mn->expires = ngx_time() + (ttl ? ttl : wmcf->redis.certificate_ttl);
    mn->type = type;
    mn->inconsistent = 0;
    mn->metadata_len = metadata_len;
    mn->cert_len = cert_len;
    ngx_memcpy(mn->reg, reg, WALRUS_REGISTRATION_LEN);
    ngx_memcpy(mn->data, metadata, metadata_len);
    ngx_memcpy(mn->data + metadata_len, cert, cert_len);

    ngx_rbtree_insert(&ngx_walrus_memo_tree, &mn->node);
    ngx_queue_insert_head(&ngx_walrus_memo_lru, &mn->queue);
    ngx_walrus_memo_used += size;
}


void
ngx_walrus_memo_set_type(const uint8_t *blob_id, const char *type)
{
    ngx_walrus_memo_node_t  *mn;

    if (!ngx_walrus_memo_ready) {
        return;
    }

    mn = ngx_walrus_memo_find(blob_id);

    if (mn != NULL) {
        mn->type = type;
    }
}


/*
 * Only a read that checked a proof of the blob, or whose own decode
 * found a segment inconsistent, says so: the memory is the worker's, and
 * what it holds is not verified again.
 */

void
ngx_walrus_memo_set_inconsistent(const uint8_t *blob_id)
{
    ngx_walrus_memo_node_t  *mn;

    if (!ngx_walrus_memo_ready) {
        return;
    }

    mn = ngx_walrus_memo_find(blob_id);

    if (mn != NULL) {
        mn->inconsistent = 1;
    }
}


void
ngx_walrus_memo_drain(void)
{
    if (!ngx_walrus_memo_ready) {
        return;
    }

    while (!ngx_queue_empty(&ngx_walrus_memo_lru)) {
        ngx_walrus_memo_drop(ngx_queue_data(
                                 ngx_queue_head(&ngx_walrus_memo_lru),
                                 ngx_walrus_memo_node_t, queue));
    }
}
