/*
 * The worker's memory of verified metadata and certificates
 * (src/gateway/ngx_walrus_memo.c): what comes back, the LRU order, the bound on
 * its size and on one entry, expiry, replacement, IDs that share their
 * first bytes (one red-black tree key), the inconsistent mark, and drain.
 *
 * The memo needs nginx's red-black tree and a request's pool, main
 * configuration and cached time, stubbed below.  nginx's source of the
 * tree is not on this machine (only its headers, in build/nginx): the
 * stub is an unbalanced binary search tree behind the same functions,
 * which runs the memo's own insert_value and lookups.  The memo's source
 * is compiled in, to check its size accounting.  Built and run by
 * "make unit-ngx", against the headers of the nginx tree the module is
 * built in.
 */

#include "../../../src/gateway/ngx_walrus_memo.c"

#include <tap.h>


/* --- stubs of nginx ------------------------------------------------------ */

ngx_module_t                   ngx_http_walrus_gateway_module;
static ngx_time_t              now;
volatile ngx_time_t           *ngx_cached_time = &now;

#define POOL_MAX  4096
static void                   *pool_mem[POOL_MAX];
static ngx_uint_t              pool_n;
static u_char                  got_reg[WALRUS_REGISTRATION_LEN];


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    void  *p;

    if (pool_n == POOL_MAX) {
        return NULL;
    }

    p = malloc(size ? size : 1);
    pool_mem[pool_n++] = p;

    return p;
}


void *
ngx_alloc(size_t size, ngx_log_t *log)
{
    return malloc(size);
}


void
ngx_rbtree_insert(ngx_rbtree_t *tree, ngx_rbtree_node_t *node)
{
    if (tree->root == tree->sentinel) {
        node->parent = NULL;
        node->left = tree->sentinel;
        node->right = tree->sentinel;
        tree->root = node;
        return;
    }

    tree->insert(tree->root, node, tree->sentinel);
}


/* puts v where u is in the tree */
static void
transplant(ngx_rbtree_t *tree, ngx_rbtree_node_t *u, ngx_rbtree_node_t *v)
{
    if (u->parent == NULL) {
        tree->root = v;

    } else if (u == u->parent->left) {
        u->parent->left = v;

    } else {
        u->parent->right = v;
    }

    v->parent = u->parent;
}


void
ngx_rbtree_delete(ngx_rbtree_t *tree, ngx_rbtree_node_t *node)
{
    ngx_rbtree_node_t  *s, *succ;

    s = tree->sentinel;

    if (node->left == s) {
        transplant(tree, node, node->right);

    } else if (node->right == s) {
        transplant(tree, node, node->left);

    } else {
        for (succ = node->right; succ->left != s; succ = succ->left) {
            /* void */
        }

        if (succ->parent != node) {
            transplant(tree, succ, succ->right);
            succ->right = node->right;
            succ->right->parent = succ;
        }

        transplant(tree, node, succ);
        succ->left = node->left;
        succ->left->parent = succ;
    }

}


/* --- the test's request ---------------------------------------------- */

static ngx_walrus_gateway_main_conf_t   wmcf;
static void                            *main_conf[1] = { &wmcf };
static ngx_connection_t                 conn;
static ngx_http_request_t               req;
static ngx_http_request_t     *r = &req;


static void
id_of(unsigned n, uint8_t *id)
{
    unsigned  i;

    /* the first four bytes (the tree key) the same for every n */
    for (i = 0; i < WALRUS_BLOB_ID_LEN; i++) {
        id[i] = (uint8_t) (i < 4 ? 0xab : (n >> (8 * (i % 4))) + i);
    }
}


/* metadata of n: len bytes of n */
static void
put(unsigned n, size_t len, const char *type)
{
    u_char   meta[2048], cert[8], reg[WALRUS_REGISTRATION_LEN];
    uint8_t  id[WALRUS_BLOB_ID_LEN];

    id_of(n, id);
    memset(meta, (int) n, len);
    memset(cert, (int) n + 1, sizeof(cert));
    memset(reg, (int) n + 2, sizeof(reg));
    ngx_walrus_memo_put(r, id, meta, len, cert, sizeof(cert), reg, 0, type);
}


/* what the memo holds of n: NGX_OK, or NGX_DECLINED */
static ngx_int_t
get(unsigned n, ngx_str_t *meta, ngx_str_t *cert, const char **type,
    ngx_uint_t *inconsistent)
{
    uint8_t  id[WALRUS_BLOB_ID_LEN];

    id_of(n, id);

    return ngx_walrus_memo_get(r, id, meta, cert, got_reg, type,
                               inconsistent);
}


/* 1 when n is remembered with metadata of len bytes of n, 0 when not,
 * -1 when what comes back is wrong */
static int
held(unsigned n, size_t len)
{
    size_t       i;
    ngx_str_t    meta, cert;
    ngx_uint_t   inconsistent;
    const char  *type;

    if (get(n, &meta, &cert, &type, &inconsistent) != NGX_OK) {
        return 0;
    }

    if (meta.len != len || cert.len != 8) {
        return -1;
    }

    /* the registration (the blob's lifetime) comes back with it */
    for (i = 0; i < WALRUS_REGISTRATION_LEN; i++) {
        if (got_reg[i] != (u_char) (n + 2)) {
            return -1;
        }
    }

    for (i = 0; i < len; i++) {
        if (meta.data[i] != (u_char) n) {
            return -1;
        }
    }

    for (i = 0; i < 8; i++) {
        if (cert.data[i] != (u_char) (n + 1)) {
            return -1;
        }
    }

    return 1;
}


static const char *
type_of(unsigned n)
{
    ngx_str_t    meta, cert;
    ngx_uint_t   inconsistent;
    const char  *type;

    if (get(n, &meta, &cert, &type, &inconsistent) != NGX_OK) {
        return "(none)";
    }

    return type != NULL ? type : "(null)";
}


/* 1 when n is held and marked inconsistent, 0 when held, -1 when not */
static int
inconsistent_of(unsigned n)
{
    ngx_str_t    meta, cert;
    ngx_uint_t   inconsistent;
    const char  *type;

    if (get(n, &meta, &cert, &type, &inconsistent) != NGX_OK) {
        return -1;
    }

    return inconsistent ? 1 : 0;
}


static void
mark(unsigned n)
{
    uint8_t  id[WALRUS_BLOB_ID_LEN];

    id_of(n, id);
    ngx_walrus_memo_set_inconsistent(id);
}


int
main(void)
{
    size_t      entry;
    unsigned    n, k, over;
    ngx_uint_t  i;

    conn.log = NULL;
    req.connection = &conn;
    req.main_conf = main_conf;
    req.pool = (ngx_pool_t *) &req;
    ngx_http_walrus_gateway_module.ctx_index = 0;
    now.sec = 1000000;

    /* room for exactly 10 entries of 100 bytes of metadata */
    entry = sizeof(ngx_walrus_memo_node_t) + 100 + 8;
    wmcf.worker_cache_size = 10 * entry + entry / 2;
    wmcf.redis.certificate_ttl = 60;

    is_int(held(1, 100), 0, "nothing before the first entry");
    ngx_walrus_memo_set_type((uint8_t *) "x", "image/png");
    ok(1, "set_type before the first entry is harmless");
    mark(1);
    ok(1, "set_inconsistent before the first entry is harmless");

    put(1, 100, "image/png");
    is_int(held(1, 100), 1, "an entry comes back whole");
    ok(strcmp(type_of(1), "image/png") == 0, "... with its type");
    is_int(held(2, 100), 0, "another ID with the same first bytes: not held");

    for (n = 2; n <= 10; n++) {
        put(n, 100, NULL);
    }

    over = 0;
    for (n = 1; n <= 10; n++) {
        over += held(n, 100) != 1;
    }
    is_int(over, 0, "ten entries sharing one tree key all come back");
    ok(ngx_walrus_memo_used <= wmcf.worker_cache_size,
       "... within the cache size");

    /* 1 .. 10 were just read in that order: 1 is the least recent */
    put(11, 100, NULL);
    is_int(held(1, 100), 0, "an eleventh entry evicts the least recent one");
    is_int(held(2, 100), 1, "... not the next");
    is_int(held(11, 100), 1, "... and is held");

    /* 3 is now the least recent; reading it makes 4 the one to go */
    is_int(held(3, 100), 1, "reading an entry");
    put(12, 100, NULL);
    is_int(held(3, 100), 1, "... keeps it from the next eviction");
    is_int(held(4, 100), 0, "... which takes the least recent instead");

    put(5, 50, "text/plain; charset=utf-8");
    is_int(held(5, 50), 1, "putting an ID again replaces its entry");
    ok(strcmp(type_of(5), "text/plain; charset=utf-8") == 0,
       "... and its type");

    {
        uint8_t  id[WALRUS_BLOB_ID_LEN];

        id_of(5, id);
        ngx_walrus_memo_set_type(id, "image/gif");
    }
    ok(strcmp(type_of(5), "image/gif") == 0, "set_type changes the type");

    /* the inconsistent mark: set on an entry, gone with a new put */
    is_int(inconsistent_of(6), 0, "an entry is not marked inconsistent");
    mark(6);
    is_int(inconsistent_of(6), 1, "set_inconsistent marks it");
    is_int(held(6, 100), 1, "... which keeps its metadata");
    is_int(inconsistent_of(7), 0, "... and no other entry");
    mark(1000);
    is_int(inconsistent_of(1000), -1, "marking a blob not held keeps nothing");
    put(6, 100, NULL);
    is_int(inconsistent_of(6), 0, "putting the blob again forgets the mark");

    /* without a registration an entry could outlive its blob: none */
    {
        u_char   meta[100], cert[8];
        uint8_t  id[WALRUS_BLOB_ID_LEN];

        id_of(7, id);
        memset(meta, 7, sizeof(meta));
        memset(cert, 8, sizeof(cert));
        ngx_walrus_memo_put(r, id, meta, sizeof(meta), cert, sizeof(cert),
                            NULL, 0, NULL);
    }
    is_int(held(7, 100), 0, "a put without a registration: not held, and "
                            "the entry it had is dropped");

    /* an entry over an eighth of the cache is not kept */
    k = (unsigned) (wmcf.worker_cache_size / 8 - sizeof(ngx_walrus_memo_node_t)
                    - 8);
    put(20, k + 1, NULL);
    is_int(held(20, k + 1), 0,
           "an entry over an eighth of the cache: not kept");
    put(21, k, NULL);
    is_int(held(21, k), 1, "... one of an eighth is");

    /* many entries of varied sizes: the bound always holds */
    over = 0;
    for (n = 100; n < 400; n++) {
        put(n, 10 + (n * 7) % 150, NULL);
        over += ngx_walrus_memo_used > wmcf.worker_cache_size;
        over += held(n, 10 + (n * 7) % 150) != 1;
    }
    is_int(over, 0, "300 puts of varied sizes: each held, the size bound kept");

    /* expiry: the certificate TTL */
    put(500, 100, NULL);
    now.sec += 59;
    is_int(held(500, 100), 1, "an entry within the certificate TTL");
    now.sec += 1;
    is_int(held(500, 100), 0, "... is gone once it has passed");
    put(501, 100, NULL);
    is_int(held(501, 100), 1, "... and a new one is held");

    ngx_walrus_memo_drain();
    is_int(ngx_walrus_memo_used, 0, "drain frees every entry");
    ok(ngx_queue_empty(&ngx_walrus_memo_lru), "... and empties the LRU");
    is_int(held(501, 100), 0, "... and nothing comes back");

    for (i = 0; i < pool_n; i++) {
        free(pool_mem[i]);
    }

    return tap_done();
}
