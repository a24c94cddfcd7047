/*
 * The committee file: JSON parsing with strict validation.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <walrus_committee.h>
#include <walrus_file.h>
#include <walrus_sign.h>


typedef struct {
    walrus_committee_t  *committee;
    const char          *base_dir;
    char                *err;
    size_t               errlen;
    uint8_t              owned[WALRUS_MAX_SHARDS];
} walrus_committee_ctx_t;


static int walrus_committee_read(const char *path, char **buf, size_t *len,
    char *err, size_t errlen);
static char *walrus_committee_dirname(const char *path);
static int walrus_committee_root(walrus_committee_ctx_t *ctx, json_t *root);
static int walrus_committee_uint(walrus_committee_ctx_t *ctx, json_t *obj,
    const char *key, uint32_t min, uint32_t max, uint32_t *out);
static int walrus_committee_node(walrus_committee_ctx_t *ctx, unsigned i,
    json_t *obj);
static int walrus_committee_publishers(walrus_committee_ctx_t *ctx,
    json_t *root);
static int walrus_committee_publisher(walrus_committee_ctx_t *ctx,
    unsigned i, json_t *obj);
static int walrus_committee_string(walrus_committee_ctx_t *ctx,
    const char *list, unsigned i, json_t *obj, const char *key, size_t max,
    char **out);
static int walrus_committee_name(walrus_committee_ctx_t *ctx,
    const char *list, unsigned i, json_t *obj, char **out);
static int walrus_committee_url(walrus_committee_ctx_t *ctx, unsigned i,
    json_t *obj);
static int walrus_committee_shards(walrus_committee_ctx_t *ctx, unsigned i,
    json_t *obj);
static int walrus_committee_key(walrus_committee_ctx_t *ctx,
    const char *list, unsigned i, json_t *obj, EVP_PKEY **out);
static int walrus_committee_key_file(walrus_committee_ctx_t *ctx,
    const char *list, unsigned i, const char *file, EVP_PKEY **out);
static int walrus_committee_known(const char *key, const char *const *keys);
static const char *walrus_committee_type(json_t *value);


static const char *const  walrus_committee_keys[] = {
    "epoch", "n_shards", "segment_size", "nodes", "publishers", NULL
};

static const char *const  walrus_node_keys[] = {
    "name", "url", "shards", "public_key_file", "public_key", NULL
};

static const char *const  walrus_publisher_keys[] = {
    "name", "public_key_file", "public_key", NULL
};


int
walrus_committee_load(walrus_committee_t *c, const char *path,
    char *err, size_t errlen)
{
    int      rc;
    char    *buf, *dir, *msg;
    size_t   len;

    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }

    if (c == NULL || path == NULL) {
        walrus_committee_error(err, errlen, "invalid argument");
        return WALRUS_EINVAL;
    }

    memset(c, 0, sizeof(walrus_committee_t));

    rc = walrus_committee_read(path, &buf, &len, err, errlen);
    if (rc != WALRUS_OK) {
        return rc;
    }

    dir = walrus_committee_dirname(path);
    if (dir == NULL) {
        free(buf);
        walrus_committee_error(err, errlen, "out of memory");
        return WALRUS_ENOMEM;
    }

    rc = walrus_committee_parse(c, buf, len, dir, err, errlen);

    free(dir);
    free(buf);

    if (rc != WALRUS_OK && err != NULL && errlen > 0) {
        msg = strdup(err);
        if (msg != NULL) {
            walrus_committee_error(err, errlen, "%s: %s", path, msg);
            free(msg);
        }
    }

    return rc;
}


int
walrus_committee_parse(walrus_committee_t *c, const char *json,
    size_t len, const char *base_dir, char *err, size_t errlen)
{
    int                     rc;
    json_t                 *root;
    json_error_t            jerr;
    walrus_committee_ctx_t  ctx;

    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }

    if (c == NULL || json == NULL) {
        walrus_committee_error(err, errlen, "invalid argument");
        return WALRUS_EINVAL;
    }

    memset(c, 0, sizeof(walrus_committee_t));

    if (len > WALRUS_MAX_COMMITTEE_FILE) {
        walrus_committee_error(err, errlen,
                               "committee is larger than %d bytes",
                               WALRUS_MAX_COMMITTEE_FILE);
        return WALRUS_EFORMAT;
    }

    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        walrus_committee_error(err, errlen, "line %d column %d: %s",
                               jerr.line, jerr.column, jerr.text);
        return WALRUS_EFORMAT;
    }

    memset(&ctx, 0, sizeof(walrus_committee_ctx_t));
    ctx.committee = c;
    ctx.base_dir = base_dir;
    ctx.err = err;
    ctx.errlen = errlen;

    rc = walrus_committee_root(&ctx, root);

    json_decref(root);

    if (rc != WALRUS_OK) {
        walrus_committee_free(c);
    }

    return rc;
}


void
walrus_committee_free(walrus_committee_t *c)
{
    unsigned  i;

    if (c == NULL) {
        return;
    }

    if (c->nodes != NULL) {
        for (i = 0; i < c->nnodes; i++) {
            free(c->nodes[i].name);
            free(c->nodes[i].url);
            free(c->nodes[i].shards);
            EVP_PKEY_free(c->nodes[i].public_key);
        }

        free(c->nodes);
    }

    if (c->publishers != NULL) {
        for (i = 0; i < c->npublishers; i++) {
            free(c->publishers[i].name);
            EVP_PKEY_free(c->publishers[i].public_key);
        }

        free(c->publishers);
    }

    memset(c, 0, sizeof(walrus_committee_t));
}


int
walrus_committee_find(const walrus_committee_t *c, const char *name)
{
    unsigned  i;

    if (c == NULL || c->nodes == NULL || name == NULL) {
        return -1;
    }

    for (i = 0; i < c->nnodes; i++) {
        if (c->nodes[i].name != NULL && strcmp(c->nodes[i].name, name) == 0) {
            return (int) i;
        }
    }

    return -1;
}


int
walrus_committee_find_publisher(const walrus_committee_t *c,
    const uint8_t *raw_key)
{
    unsigned  i;

    if (c == NULL || c->publishers == NULL || raw_key == NULL) {
        return -1;
    }

    for (i = 0; i < c->npublishers; i++) {
        if (memcmp(c->publishers[i].raw_key, raw_key, WALRUS_PUBLIC_KEY_LEN)
            == 0)
        {
            return (int) i;
        }
    }

    return -1;
}


static int
walrus_committee_read(const char *path, char **buf, size_t *len,
    char *err, size_t errlen)
{
    *buf = NULL;
    *len = 0;

    if (walrus_read_file(path, WALRUS_MAX_COMMITTEE_FILE,
                         (unsigned char **) buf, len)
        == 0)
    {
        return WALRUS_OK;
    }

    if (errno == EFBIG) {
        walrus_committee_error(err, errlen, "%s: larger than %d bytes", path,
                               WALRUS_MAX_COMMITTEE_FILE);
        return WALRUS_EFORMAT;
    }

    walrus_committee_error(err, errlen, "%s: cannot read: %s", path,
                           errno == EINVAL ? "not a regular file"
                           : errno == ESTALE ? "the file changed while read"
                           : strerror(errno));

    return errno == ENOMEM ? WALRUS_ENOMEM : WALRUS_EIO;
}


static char *
walrus_committee_dirname(const char *path)
{
    const char  *slash;

    slash = strrchr(path, '/');

    if (slash == NULL) {
        return strdup(".");
    }

    if (slash == path) {
        return strdup("/");
    }

    return strndup(path, (size_t) (slash - path));
}


static int
walrus_committee_root(walrus_committee_ctx_t *ctx, json_t *root)
{
    int                  rc;
    size_t               count;
    json_t              *nodes, *value;
    uint32_t             n;
    unsigned             i;
    const char          *key;
    walrus_committee_t  *c;

    c = ctx->committee;

    if (!json_is_object(root)) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "committee: expected an object, got %s",
                               walrus_committee_type(root));
        return WALRUS_EFORMAT;
    }

    json_object_foreach(root, key, value) {
        if (!walrus_committee_known(key, walrus_committee_keys)) {
            walrus_committee_error(ctx->err, ctx->errlen,
                                   "unknown field \"%.64s\"", key);
            return WALRUS_EFORMAT;
        }
    }

    rc = walrus_committee_uint(ctx, root, "epoch", 0, UINT32_MAX,
                               &c->epoch);
    if (rc != WALRUS_OK) {
        return rc;
    }

    rc = walrus_committee_uint(ctx, root, "n_shards", WALRUS_MIN_SHARDS,
                               WALRUS_MAX_SHARDS, &n);
    if (rc != WALRUS_OK) {
        return rc;
    }

    if (walrus_params_init(&c->params, n) != WALRUS_OK) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "n_shards: %u is not supported", n);
        return WALRUS_EFORMAT;
    }

    rc = walrus_committee_uint(ctx, root, "segment_size",
                               WALRUS_MIN_SEGMENT_SIZE,
                               WALRUS_MAX_SEGMENT_SIZE, &c->segment_size);
    if (rc != WALRUS_OK) {
        return rc;
    }

    nodes = json_object_get(root, "nodes");

    if (nodes == NULL) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "missing field \"nodes\"");
        return WALRUS_EFORMAT;
    }

    if (!json_is_array(nodes)) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "nodes: expected an array, got %s",
                               walrus_committee_type(nodes));
        return WALRUS_EFORMAT;
    }

    count = json_array_size(nodes);

    /*
     * Nodes with no shards (leaving, or about to join) may make the list
     * longer than n; every node index fits the 8 bits of shard_owner and
     * the arrays sized WALRUS_MAX_SHARDS that are indexed by node.
     */

    if (count == 0 || count > WALRUS_MAX_SHARDS) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "nodes: %zu nodes, expected 1..%u", count,
                               WALRUS_MAX_SHARDS);
        return WALRUS_EFORMAT;
    }

    c->nodes = calloc(count, sizeof(walrus_node_t));
    if (c->nodes == NULL) {
        walrus_committee_error(ctx->err, ctx->errlen, "out of memory");
        return WALRUS_ENOMEM;
    }

    c->nnodes = (unsigned) count;

    for (i = 0; i < c->nnodes; i++) {
        rc = walrus_committee_node(ctx, i, json_array_get(nodes, i));
        if (rc != WALRUS_OK) {
            return rc;
        }
    }

    for (i = 0; i < n; i++) {
        if (!ctx->owned[i]) {
            walrus_committee_error(ctx->err, ctx->errlen,
                                   "shard %u is not owned by any node", i);
            return WALRUS_EFORMAT;
        }
    }

    return walrus_committee_publishers(ctx, root);
}


static int
walrus_committee_uint(walrus_committee_ctx_t *ctx, json_t *obj,
    const char *key, uint32_t min, uint32_t max, uint32_t *out)
{
    json_t      *value;
    json_int_t   v;

    value = json_object_get(obj, key);

    if (value == NULL) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "missing field \"%s\"", key);
        return WALRUS_EFORMAT;
    }

    if (!json_is_integer(value)) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "%s: expected an integer, got %s", key,
                               walrus_committee_type(value));
        return WALRUS_EFORMAT;
    }

    v = json_integer_value(value);

    if (v < (json_int_t) min || v > (json_int_t) max) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "%s: %lld is out of range %u..%u", key,
                               (long long) v, min, max);
        return WALRUS_EFORMAT;
    }

    *out = (uint32_t) v;

    return WALRUS_OK;
}


static int
walrus_committee_node(walrus_committee_ctx_t *ctx, unsigned i, json_t *obj)
{
    int             rc;
    json_t         *value;
    unsigned        j;
    const char     *key;
    walrus_node_t  *nodes;

    if (!json_is_object(obj)) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "nodes[%u]: expected an object, got %s", i,
                               walrus_committee_type(obj));
        return WALRUS_EFORMAT;
    }

    json_object_foreach(obj, key, value) {
        if (!walrus_committee_known(key, walrus_node_keys)) {
            walrus_committee_error(ctx->err, ctx->errlen,
                                   "nodes[%u]: unknown field \"%.64s\"",
                                   i, key);
            return WALRUS_EFORMAT;
        }
    }

    nodes = ctx->committee->nodes;

    rc = walrus_committee_name(ctx, "nodes", i, obj, &nodes[i].name);
    if (rc != WALRUS_OK) {
        return rc;
    }

    for (j = 0; j < i; j++) {
        if (strcmp(nodes[j].name, nodes[i].name) == 0) {
            walrus_committee_error(ctx->err, ctx->errlen,
                                   "nodes[%u].name: \"%s\" is also the name "
                                   "of nodes[%u]", i, nodes[i].name, j);
            return WALRUS_EFORMAT;
        }
    }

    rc = walrus_committee_url(ctx, i, obj);
    if (rc != WALRUS_OK) {
        return rc;
    }

    rc = walrus_committee_shards(ctx, i, obj);
    if (rc != WALRUS_OK) {
        return rc;
    }

    rc = walrus_committee_key(ctx, "nodes", i, obj, &nodes[i].public_key);
    if (rc != WALRUS_OK) {
        return rc;
    }

    for (j = 0; j < i; j++) {
        if (EVP_PKEY_eq(nodes[j].public_key, nodes[i].public_key) == 1) {
            walrus_committee_error(ctx->err, ctx->errlen,
                                   "nodes[%u]: same public key as nodes[%u] "
                                   "(\"%s\")", i, j, nodes[j].name);
            return WALRUS_EFORMAT;
        }
    }

    ERR_clear_error();

    return WALRUS_OK;
}


/* optional: without publishers the nodes accept no registration */

static int
walrus_committee_publishers(walrus_committee_ctx_t *ctx, json_t *root)
{
    int                  rc;
    size_t               count;
    json_t              *list;
    unsigned             i;
    walrus_committee_t  *c;

    c = ctx->committee;

    list = json_object_get(root, "publishers");
    if (list == NULL) {
        return WALRUS_OK;
    }

    if (!json_is_array(list)) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "publishers: expected an array, got %s",
                               walrus_committee_type(list));
        return WALRUS_EFORMAT;
    }

    count = json_array_size(list);

    if (count > WALRUS_MAX_PUBLISHERS) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "publishers: %zu publishers, at most %d",
                               count, WALRUS_MAX_PUBLISHERS);
        return WALRUS_EFORMAT;
    }

    if (count == 0) {
        return WALRUS_OK;
    }

    c->publishers = calloc(count, sizeof(walrus_publisher_t));
    if (c->publishers == NULL) {
        walrus_committee_error(ctx->err, ctx->errlen, "out of memory");
        return WALRUS_ENOMEM;
    }

    c->npublishers = (unsigned) count;

    for (i = 0; i < c->npublishers; i++) {
        rc = walrus_committee_publisher(ctx, i, json_array_get(list, i));
        if (rc != WALRUS_OK) {
            return rc;
        }
    }

    return WALRUS_OK;
}


static int
walrus_committee_publisher(walrus_committee_ctx_t *ctx, unsigned i,
    json_t *obj)
{
    int                  rc;
    json_t              *value;
    unsigned             j;
    const char          *key;
    walrus_publisher_t  *pubs;

    pubs = ctx->committee->publishers;

    if (!json_is_object(obj)) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "publishers[%u]: expected an object, got %s",
                               i, walrus_committee_type(obj));
        return WALRUS_EFORMAT;
    }

    json_object_foreach(obj, key, value) {
        if (!walrus_committee_known(key, walrus_publisher_keys)) {
            walrus_committee_error(ctx->err, ctx->errlen,
                                   "publishers[%u]: unknown field \"%.64s\"",
                                   i, key);
            return WALRUS_EFORMAT;
        }
    }

    rc = walrus_committee_name(ctx, "publishers", i, obj, &pubs[i].name);
    if (rc != WALRUS_OK) {
        return rc;
    }

    for (j = 0; j < i; j++) {
        if (strcmp(pubs[j].name, pubs[i].name) == 0) {
            walrus_committee_error(ctx->err, ctx->errlen,
                                   "publishers[%u].name: \"%s\" is also the "
                                   "name of publishers[%u]", i, pubs[i].name,
                                   j);
            return WALRUS_EFORMAT;
        }
    }

    rc = walrus_committee_key(ctx, "publishers", i, obj,
                              &pubs[i].public_key);
    if (rc != WALRUS_OK) {
        return rc;
    }

    /* registrations name their publisher by these bytes */

    rc = walrus_key_raw_public(pubs[i].public_key, pubs[i].raw_key);
    if (rc != WALRUS_OK) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "publishers[%u]: cannot read the public key",
                               i);
        return rc;
    }

    for (j = 0; j < i; j++) {
        if (memcmp(pubs[j].raw_key, pubs[i].raw_key, WALRUS_PUBLIC_KEY_LEN)
            == 0)
        {
            walrus_committee_error(ctx->err, ctx->errlen,
                                   "publishers[%u]: same public key as "
                                   "publishers[%u] (\"%s\")", i, j,
                                   pubs[j].name);
            return WALRUS_EFORMAT;
        }
    }

    return WALRUS_OK;
}


static int
walrus_committee_string(walrus_committee_ctx_t *ctx, const char *list,
    unsigned i, json_t *obj, const char *key, size_t max, char **out)
{
    char        *s;
    size_t       len;
    json_t      *value;
    const char  *v;

    value = json_object_get(obj, key);

    if (value == NULL) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "%s[%u]: missing field \"%s\"", list, i, key);
        return WALRUS_EFORMAT;
    }

    if (!json_is_string(value)) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "%s[%u].%s: expected a string, got %s",
                               list, i, key, walrus_committee_type(value));
        return WALRUS_EFORMAT;
    }

    v = json_string_value(value);
    len = json_string_length(value);

    if (len == 0 || len > max || strlen(v) != len) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "%s[%u].%s: length must be 1..%zu bytes "
                               "without NUL", list, i, key, max);
        return WALRUS_EFORMAT;
    }

    s = strdup(v);
    if (s == NULL) {
        walrus_committee_error(ctx->err, ctx->errlen, "out of memory");
        return WALRUS_ENOMEM;
    }

    *out = s;

    return WALRUS_OK;
}


static int
walrus_committee_name(walrus_committee_ctx_t *ctx, const char *list,
    unsigned i, json_t *obj, char **out)
{
    int    rc;
    char  *p;

    rc = walrus_committee_string(ctx, list, i, obj, "name",
                                 WALRUS_MAX_NAME_LEN, out);
    if (rc != WALRUS_OK) {
        return rc;
    }

    for (p = *out; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_'
            || *p == '-')
        {
            continue;
        }

        walrus_committee_error(ctx->err, ctx->errlen,
                               "%s[%u].name: only A-Z a-z 0-9 . _ - "
                               "are allowed", list, i);
        return WALRUS_EFORMAT;
    }

    return WALRUS_OK;
}


static int
walrus_committee_url(walrus_committee_ctx_t *ctx, unsigned i, json_t *obj)
{
    int             rc;
    char           *p;
    walrus_node_t  *node;

    node = &ctx->committee->nodes[i];

    rc = walrus_committee_string(ctx, "nodes", i, obj, "url",
                                 WALRUS_MAX_URL_LEN, &node->url);
    if (rc != WALRUS_OK) {
        return rc;
    }

    if (strncmp(node->url, "http://", 7) != 0
        && strncmp(node->url, "https://", 8) != 0)
    {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "nodes[%u].url: must start with \"http://\" "
                               "or \"https://\"", i);
        return WALRUS_EFORMAT;
    }

    for (p = node->url; *p != '\0'; p++) {
        if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f) {
            walrus_committee_error(ctx->err, ctx->errlen,
                                   "nodes[%u].url: spaces, control and "
                                   "non-ASCII characters are not allowed",
                                   i);
            return WALRUS_EFORMAT;
        }
    }

    return WALRUS_OK;
}


static int
walrus_committee_shards(walrus_committee_ctx_t *ctx, unsigned i,
    json_t *obj)
{
    size_t               j, count;
    json_t              *shards, *value;
    unsigned             n, owner;
    json_int_t           shard;
    walrus_node_t       *node;
    walrus_committee_t  *c;

    c = ctx->committee;
    node = &c->nodes[i];
    n = c->params.n;

    shards = json_object_get(obj, "shards");

    if (shards == NULL) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "nodes[%u]: missing field \"shards\"", i);
        return WALRUS_EFORMAT;
    }

    if (!json_is_array(shards)) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "nodes[%u].shards: expected an array, got %s",
                               i, walrus_committee_type(shards));
        return WALRUS_EFORMAT;
    }

    count = json_array_size(shards);

    /*
     * A node with no shards holds nothing new and its signatures weigh
     * nothing: it is how a node leaves (it serves what it held until the
     * new owners are ready, docs/protocol.md 18.6) or waits to join.
     */

    if (count == 0) {
        return WALRUS_OK;
    }

    if (count > n) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "nodes[%u].shards: %zu shards, more than "
                               "n_shards %u", i, count, n);
        return WALRUS_EFORMAT;
    }

    node->shards = calloc(count, sizeof(unsigned));
    if (node->shards == NULL) {
        walrus_committee_error(ctx->err, ctx->errlen, "out of memory");
        return WALRUS_ENOMEM;
    }

    json_array_foreach(shards, j, value) {
        if (!json_is_integer(value)) {
            walrus_committee_error(ctx->err, ctx->errlen,
                                   "nodes[%u].shards[%zu]: expected an "
                                   "integer, got %s", i, j,
                                   walrus_committee_type(value));
            return WALRUS_EFORMAT;
        }

        shard = json_integer_value(value);

        if (shard < 0 || shard >= (json_int_t) n) {
            walrus_committee_error(ctx->err, ctx->errlen,
                                   "nodes[%u].shards[%zu]: shard %lld is "
                                   "out of range 0..%u", i, j,
                                   (long long) shard, n - 1);
            return WALRUS_EFORMAT;
        }

        if (ctx->owned[shard]) {
            owner = c->shard_owner[shard];

            if (owner == i) {
                walrus_committee_error(ctx->err, ctx->errlen,
                                       "nodes[%u].shards[%zu]: shard %lld "
                                       "is listed twice", i, j,
                                       (long long) shard);

            } else {
                walrus_committee_error(ctx->err, ctx->errlen,
                                       "nodes[%u].shards[%zu]: shard %lld "
                                       "is also owned by nodes[%u] (\"%s\")",
                                       i, j, (long long) shard, owner,
                                       c->nodes[owner].name);
            }

            return WALRUS_EFORMAT;
        }

        ctx->owned[shard] = 1;
        c->shard_owner[shard] = (uint8_t) i;
        node->shards[node->nshards++] = (unsigned) shard;
    }

    return WALRUS_OK;
}


static int
walrus_committee_key(walrus_committee_ctx_t *ctx, const char *list,
    unsigned i, json_t *obj, EVP_PKEY **out)
{
    int      rc;
    json_t  *file, *pem;

    file = json_object_get(obj, "public_key_file");
    pem = json_object_get(obj, "public_key");

    if (file != NULL && pem != NULL) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "%s[%u]: give only one of "
                               "\"public_key_file\" and \"public_key\"",
                               list, i);
        return WALRUS_EFORMAT;
    }

    if (file == NULL && pem == NULL) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "%s[%u]: missing field \"public_key_file\" "
                               "or \"public_key\"", list, i);
        return WALRUS_EFORMAT;
    }

    if (file != NULL) {
        if (!json_is_string(file) || json_string_length(file) == 0
            || strlen(json_string_value(file)) != json_string_length(file))
        {
            walrus_committee_error(ctx->err, ctx->errlen,
                                   "%s[%u].public_key_file: expected a "
                                   "file name", list, i);
            return WALRUS_EFORMAT;
        }

        return walrus_committee_key_file(ctx, list, i,
                                         json_string_value(file), out);
    }

    if (!json_is_string(pem)) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "%s[%u].public_key: expected a string, "
                               "got %s", list, i, walrus_committee_type(pem));
        return WALRUS_EFORMAT;
    }

    rc = walrus_key_parse_public(json_string_value(pem),
                                 json_string_length(pem), out);
    if (rc != WALRUS_OK) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "%s[%u].public_key: not an Ed25519 "
                               "public key in PEM form", list, i);
        return rc == WALRUS_ENOMEM ? rc : WALRUS_EFORMAT;
    }

    return WALRUS_OK;
}


static int
walrus_committee_key_file(walrus_committee_ctx_t *ctx, const char *list,
    unsigned i, const char *file, EVP_PKEY **out)
{
    int      rc;
    char    *path;
    size_t   len;

    if (file[0] == '/' || ctx->base_dir == NULL) {
        path = strdup(file);

    } else {
        len = strlen(ctx->base_dir) + 1 + strlen(file) + 1;
        path = malloc(len);
        if (path != NULL) {
            snprintf(path, len, "%s/%s", ctx->base_dir, file);
        }
    }

    if (path == NULL) {
        walrus_committee_error(ctx->err, ctx->errlen, "out of memory");
        return WALRUS_ENOMEM;
    }

    rc = walrus_key_load_public(path, out);

    if (rc == WALRUS_EIO) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "%s[%u].public_key_file: cannot open "
                               "\"%s\": %s", list, i, path, strerror(errno));

    } else if (rc != WALRUS_OK) {
        walrus_committee_error(ctx->err, ctx->errlen,
                               "%s[%u].public_key_file: \"%s\" is not an "
                               "Ed25519 public key in PEM form", list, i,
                               path);
    }

    free(path);

    return rc;
}


static int
walrus_committee_known(const char *key, const char *const *keys)
{
    for ( /* void */ ; *keys != NULL; keys++) {
        if (strcmp(key, *keys) == 0) {
            return 1;
        }
    }

    return 0;
}


static const char *
walrus_committee_type(json_t *value)
{
    switch (json_typeof(value)) {

    case JSON_OBJECT:
        return "an object";

    case JSON_ARRAY:
        return "an array";

    case JSON_STRING:
        return "a string";

    case JSON_INTEGER:
        return "an integer";

    case JSON_REAL:
        return "a number with a fraction or exponent";

    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";

    default:
        return "null";
    }
}


void
walrus_committee_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list  args;

    if (err == NULL || errlen == 0) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(err, errlen, fmt, args);
    va_end(args);
}
