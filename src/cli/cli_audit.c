/*
 * walrusctl audit: runs a storage audit challenge by hand against a node
 * (protocol section 17): its beacon, the challenge set from a record of
 * certified blobs, its signed answer, each blob checked against its
 * metadata, and the fraud proof of a wrong answer.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <walrus_audit.h>
#include <walrus_lifetime.h>
#include <walrus_record.h>
#include <walrusctl.h>


/* bytes of record entries asked for at once (the node's default) */
#define WALRUS_CLI_RECORD_LIMIT   (1024 * 1024)
#define WALRUS_CLI_MAX_METADATA   ((size_t) 64 * 1024 * 1024)


typedef struct {
    walrus_committee_t      c;
    unsigned                node;           /* the node audited */
    unsigned                record_node;    /* whose record is read */
    uint32_t                round;          /* 0: the latest */
    uint8_t                *beacon;
    size_t                  beacon_len;
    walrus_audit_beacon_t   b;
    unsigned                nblobs;
    uint8_t                 ids[WALRUS_AUDIT_MAX_ASK][WALRUS_BLOB_ID_LEN];
    uint8_t                *answer;
    size_t                  answer_len;
    walrus_audit_answer_t   a;
    walrus_codec_t         *codec;
    uint8_t                *fraud_meta;     /* of the first fraud */
    size_t                  fraud_meta_len;
} walrus_cli_audit_t;


static int walrus_cli_audit_args(walrus_cli_t *cli, walrus_cli_audit_t *ctx);
static int walrus_cli_audit_node(const walrus_committee_t *c,
    const char *name, unsigned *node);
static int walrus_cli_audit_blob_list(walrus_cli_audit_t *ctx,
    const char *list);
static char *walrus_cli_url(const char *base, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int walrus_cli_fetch(const walrus_cli_audit_t *ctx, unsigned node,
    const char *what, char *url, size_t max, walrus_cli_http_t *res);
static int walrus_cli_audit_beacon(walrus_cli_audit_t *ctx);
static int walrus_cli_audit_set(walrus_cli_audit_t *ctx);
static int walrus_cli_audit_page(walrus_cli_audit_t *ctx,
    walrus_audit_pick_t *pick, walrus_cli_http_t *res, uint64_t cursor,
    uint64_t *count);
static int walrus_cli_audit_answer(walrus_cli_audit_t *ctx);
static int walrus_cli_audit_metadata(walrus_cli_audit_t *ctx,
    const uint8_t *id, walrus_metadata_t *m, walrus_cli_http_t *res);
static int walrus_cli_audit_check(walrus_cli_audit_t *ctx, int *verdict);
static int walrus_cli_audit_fraud(walrus_cli_audit_t *ctx, const char *path);
static void walrus_cli_audit_free(walrus_cli_audit_t *ctx);


int
walrus_cli_audit(walrus_cli_t *cli)
{
    int                  rc, verdict;
    walrus_cli_audit_t  *ctx;

    ctx = calloc(1, sizeof(walrus_cli_audit_t));
    if (ctx == NULL) {
        walrus_cli_error("out of memory");
        return WALRUS_CLI_IO;
    }

    rc = walrus_cli_committee(cli, &ctx->c);
    if (rc != WALRUS_CLI_OK) {
        free(ctx);
        return rc;
    }

    rc = walrus_cli_audit_args(cli, ctx);

    if (rc == WALRUS_CLI_OK) {
        rc = walrus_cli_audit_beacon(ctx);
    }

    if (rc == WALRUS_CLI_OK && ctx->nblobs == 0) {
        rc = walrus_cli_audit_set(ctx);
    }

    if (rc == WALRUS_CLI_OK) {
        rc = walrus_cli_audit_answer(ctx);
    }

    if (rc == WALRUS_CLI_OK) {
        rc = walrus_cli_audit_check(ctx, &verdict);
    }

    if (rc == WALRUS_CLI_OK) {
        printf("node %s round %u: %s\n", ctx->c.nodes[ctx->node].name,
               (unsigned) ctx->b.round,
               verdict == WALRUS_AUDIT_PASSED ? "passed"
               : verdict == WALRUS_AUDIT_MISSING ? "missing" : "fraud");

        rc = verdict == WALRUS_AUDIT_PASSED ? WALRUS_CLI_OK
                                            : WALRUS_CLI_INVALID;

        if (verdict == WALRUS_AUDIT_FRAUD && cli->fraud_out != NULL
            && walrus_cli_audit_fraud(ctx, cli->fraud_out) != WALRUS_CLI_OK)
        {
            rc = WALRUS_CLI_IO;
        }
    }

    walrus_cli_audit_free(ctx);

    return rc;
}


static int
walrus_cli_audit_args(walrus_cli_t *cli, walrus_cli_audit_t *ctx)
{
    char                *end;
    unsigned long long   r;

    if (walrus_cli_audit_node(&ctx->c, cli->argv[0], &ctx->node)
        != WALRUS_CLI_OK)
    {
        return WALRUS_CLI_USAGE;
    }

    ctx->record_node = ctx->node;

    if (cli->record_from != NULL
        && walrus_cli_audit_node(&ctx->c, cli->record_from,
                                 &ctx->record_node)
           != WALRUS_CLI_OK)
    {
        return WALRUS_CLI_USAGE;
    }

    if (cli->round != NULL) {
        errno = 0;
        r = strtoull(cli->round, &end, 10);

        if (errno != 0 || end == cli->round || *end != '\0'
            || cli->round[0] < '0' || cli->round[0] > '9'
            || r == 0 || r > UINT32_MAX)
        {
            walrus_cli_error("--round %s: a round is a number from 1 to %u",
                             cli->round, (unsigned) UINT32_MAX);
            return WALRUS_CLI_USAGE;
        }

        ctx->round = (uint32_t) r;
    }

    if (cli->blobs != NULL
        && walrus_cli_audit_blob_list(ctx, cli->blobs) != WALRUS_CLI_OK)
    {
        return WALRUS_CLI_USAGE;
    }

    ctx->codec = walrus_codec_create(ctx->c.params.n);
    if (ctx->codec == NULL) {
        walrus_cli_error("out of memory");
        return WALRUS_CLI_IO;
    }

    return WALRUS_CLI_OK;
}


static int
walrus_cli_audit_node(const walrus_committee_t *c, const char *name,
    unsigned *node)
{
    int  i;

    i = walrus_committee_find(c, name);
    if (i < 0) {
        walrus_cli_error("no node \"%s\" in the committee", name);
        return WALRUS_CLI_USAGE;
    }

    *node = (unsigned) i;

    return WALRUS_CLI_OK;
}


/* --blobs ID,ID,...: 1 to 64 blob IDs */

static int
walrus_cli_audit_blob_list(walrus_cli_audit_t *ctx, const char *list)
{
    size_t       len;
    const char  *p, *comma;

    p = list;

    for ( ;; ) {
        comma = strchr(p, ',');
        len = comma ? (size_t) (comma - p) : strlen(p);

        if (ctx->nblobs == WALRUS_AUDIT_MAX_ASK) {
            walrus_cli_error("--blobs: at most %d blob IDs",
                             WALRUS_AUDIT_MAX_ASK);
            return WALRUS_CLI_USAGE;
        }

        if (walrus_blob_id_parse(p, len, ctx->ids[ctx->nblobs])
            != WALRUS_OK)
        {
            walrus_cli_error("--blobs: invalid blob ID \"%.*s\": expected "
                             "%d URL-safe base64 characters", (int) len, p,
                             WALRUS_BLOB_ID_TEXT_LEN);
            return WALRUS_CLI_USAGE;
        }

        ctx->nblobs++;

        if (comma == NULL) {
            return WALRUS_CLI_OK;
        }

        p = comma + 1;
    }
}


/* base (without a trailing slash) followed by the formatted path */

static char *
walrus_cli_url(const char *base, const char *fmt, ...)
{
    int       n;
    char     *url;
    size_t    blen;
    va_list   args;

    blen = strlen(base);

    while (blen > 0 && base[blen - 1] == '/') {
        blen--;
    }

    va_start(args, fmt);
    n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);

    if (n < 0) {
        return NULL;
    }

    url = malloc(blen + (size_t) n + 1);
    if (url == NULL) {
        return NULL;
    }

    memcpy(url, base, blen);

    va_start(args, fmt);
    vsnprintf(url + blen, (size_t) n + 1, fmt, args);
    va_end(args);

    return url;
}


/*
 * GET url (freed here) from node: WALRUS_CLI_OK with a 200 answer; any
 * other status is said and refused.
 */

static int
walrus_cli_fetch(const walrus_cli_audit_t *ctx, unsigned node,
    const char *what, char *url, size_t max, walrus_cli_http_t *res)
{
    int   rc;
    char  label[256];

    if (url == NULL) {
        walrus_cli_error("out of memory");
        return WALRUS_CLI_IO;
    }

    rc = walrus_cli_http_get(url, max, res);
    free(url);

    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    if (res->status != 200) {
        snprintf(label, sizeof(label), "%s of %s", what,
                 ctx->c.nodes[node].name);
        walrus_cli_http_refused(label, res);
        walrus_cli_http_free(res);
        return WALRUS_CLI_IO;
    }

    return WALRUS_CLI_OK;
}


static int
walrus_cli_audit_beacon(walrus_cli_audit_t *ctx)
{
    int                 rc;
    char               *url, hex[2 * WALRUS_HASH_LEN + 1];
    const char         *base;
    walrus_cli_http_t   res;

    base = ctx->c.nodes[ctx->node].url;
    url = ctx->round ? walrus_cli_url(base, "/v1/audit/rounds/%u/beacon",
                                      (unsigned) ctx->round)
                     : walrus_cli_url(base, "/v1/audit/beacon");

    rc = walrus_cli_fetch(ctx, ctx->node, "the beacon", url,
                          WALRUS_AUDIT_BEACON_MAX, &res);
    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    ctx->beacon = res.body;
    ctx->beacon_len = res.len;

    rc = walrus_audit_beacon_verify(&ctx->c, res.body, res.len, &ctx->b);
    if (rc != WALRUS_OK) {
        walrus_cli_error("the beacon of %s does not verify: %s",
                         ctx->c.nodes[ctx->node].name, walrus_strerror(rc));
        return WALRUS_CLI_INVALID;
    }

    if (ctx->round != 0 && ctx->b.round != ctx->round) {
        walrus_cli_error("%s sent the beacon of round %u for round %u",
                         ctx->c.nodes[ctx->node].name,
                         (unsigned) ctx->b.round, (unsigned) ctx->round);
        return WALRUS_CLI_INVALID;
    }

    walrus_cli_hex(ctx->b.seed, WALRUS_HASH_LEN, hex);
    printf("beacon: round %u epoch %u leader %s seed %s\n",
           (unsigned) ctx->b.round, (unsigned) ctx->b.epoch,
           ctx->c.nodes[ctx->b.leader].name, hex);

    return WALRUS_CLI_OK;
}


/*
 * The challenge set (17.2): the blobs whose certificate in the record
 * lists the node, the c smallest scores, read page by page.
 */

static int
walrus_cli_audit_set(walrus_cli_audit_t *ctx)
{
    int                   rc;
    char                 *end, *url, ident[40];
    uint64_t              cursor, next, count;
    unsigned              i;
    walrus_cli_http_t     res;
    walrus_audit_pick_t   pick;

    walrus_audit_pick_init(&pick, ctx->b.seed, ctx->node);
    cursor = WALRUS_RECORD_HEADER_LEN;
    count = 0;
    ident[0] = '\0';

    for ( ;; ) {
        url = walrus_cli_url(ctx->c.nodes[ctx->record_node].url,
                             "/v1/certified?after=%llu&limit=%d",
                             (unsigned long long) cursor,
                             WALRUS_CLI_RECORD_LIMIT);

        rc = walrus_cli_fetch(ctx, ctx->record_node, "the record", url,
                              WALRUS_CLI_RECORD_LIMIT
                              + WALRUS_RECORD_ENTRY_MAX,
                              &res);
        if (rc != WALRUS_CLI_OK) {
            return rc;
        }

        errno = 0;
        next = strtoull(res.next, &end, 10);

        /* each page starts where the last ended, in the same record */

        if (errno != 0 || end == res.next || *end != '\0'
            || next != cursor + res.len
            || (ident[0] != '\0' && strcmp(ident, res.record) != 0))
        {
            walrus_cli_error("the record of %s changed or is inconsistent "
                             "at cursor %llu (X-Walrus-Next \"%s\", %zu "
                             "bytes)", ctx->c.nodes[ctx->record_node].name,
                             (unsigned long long) cursor, res.next, res.len);
            walrus_cli_http_free(&res);
            return WALRUS_CLI_IO;
        }

        memcpy(ident, res.record, sizeof(ident));

        rc = walrus_cli_audit_page(ctx, &pick, &res, cursor, &count);
        walrus_cli_http_free(&res);

        if (rc != WALRUS_CLI_OK) {
            return rc;
        }

        if (next == cursor) {
            break;
        }

        cursor = next;
    }

    printf("challenge: %u of %llu blobs %s promised, from the record of "
           "%s\n", pick.count, (unsigned long long) count,
           ctx->c.nodes[ctx->node].name,
           ctx->c.nodes[ctx->record_node].name);

    if (pick.count == 0) {
        walrus_cli_error("%s promised no blob in that record: nothing to "
                         "challenge", ctx->c.nodes[ctx->node].name);
        return WALRUS_CLI_INVALID;
    }

    for (i = 0; i < pick.count; i++) {
        memcpy(ctx->ids[i], pick.blob_id[i], WALRUS_BLOB_ID_LEN);
    }

    ctx->nblobs = pick.count;

    return WALRUS_CLI_OK;
}


/* the entries of one page of the record into the pick */

static int
walrus_cli_audit_page(walrus_cli_audit_t *ctx, walrus_audit_pick_t *pick,
    walrus_cli_http_t *res, uint64_t cursor, uint64_t *count)
{
    size_t                 pos;
    walrus_record_entry_t  e;

    for (pos = 0; pos < res->len; pos += e.size) {
        if (walrus_record_entry_parse(NULL, &e, res->body + pos,
                                      res->len - pos)
            != WALRUS_OK)
        {
            walrus_cli_error("the record of %s has no entry at cursor %llu",
                             ctx->c.nodes[ctx->record_node].name,
                             (unsigned long long) (cursor + pos));
            return WALRUS_CLI_IO;
        }

        /* promised() parsed the certificate: its blob ID is at 5 */

        /* expired in the round's epoch: not challenged (17.2) */

        if (walrus_audit_promised(e.cert, e.cert_len, ctx->node)
            && !walrus_lifetime_recorded_expired(&e, ctx->b.epoch))
        {
            walrus_audit_pick_add(pick, e.cert + 5);
            (*count)++;
        }
    }

    return WALRUS_CLI_OK;
}


static int
walrus_cli_audit_answer(walrus_cli_audit_t *ctx)
{
    int                 rc;
    char               *list, *url;
    unsigned            i;
    walrus_cli_http_t   res;

    list = malloc(ctx->nblobs * (WALRUS_BLOB_ID_TEXT_LEN + 1));
    if (list == NULL) {
        walrus_cli_error("out of memory");
        return WALRUS_CLI_IO;
    }

    for (i = 0; i < ctx->nblobs; i++) {
        walrus_blob_id_format(ctx->ids[i],
                              list + i * (WALRUS_BLOB_ID_TEXT_LEN + 1));
        list[(i + 1) * (WALRUS_BLOB_ID_TEXT_LEN + 1) - 1] =
            i + 1 < ctx->nblobs ? ',' : '\0';
    }

    url = walrus_cli_url(ctx->c.nodes[ctx->node].url,
                         "/v1/audit/rounds/%u/answer?blobs=%s",
                         (unsigned) ctx->b.round, list);
    free(list);

    rc = walrus_cli_fetch(ctx, ctx->node, "the answer", url,
                          walrus_cli_audit_answer_max(
                              &ctx->c, ctx->c.nodes[ctx->node].nshards,
                              ctx->nblobs),
                          &res);
    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    ctx->answer = res.body;
    ctx->answer_len = res.len;

    rc = walrus_audit_answer_parse(&ctx->c, res.body, res.len, &ctx->a);
    if (rc != WALRUS_OK) {
        walrus_cli_error("the answer of %s proves nothing: %s",
                         ctx->c.nodes[ctx->node].name, walrus_strerror(rc));
        return WALRUS_CLI_INVALID;
    }

    if (ctx->a.round != ctx->b.round || ctx->a.node != ctx->node
        || memcmp(ctx->a.seed, ctx->b.seed, WALRUS_HASH_LEN) != 0)
    {
        walrus_cli_error("the answer of %s is not for its round %u and seed",
                         ctx->c.nodes[ctx->node].name,
                         (unsigned) ctx->b.round);
        return WALRUS_CLI_INVALID;
    }

    if (ctx->a.nblobs != ctx->nblobs) {
        walrus_cli_error("the answer of %s is about %u blobs, not the %u "
                         "asked for", ctx->c.nodes[ctx->node].name,
                         ctx->a.nblobs, ctx->nblobs);
        return WALRUS_CLI_INVALID;
    }

    for (i = 0; i < ctx->nblobs; i++) {
        if (memcmp(ctx->a.blobs[i].blob_id, ctx->ids[i], WALRUS_BLOB_ID_LEN)
            != 0)
        {
            walrus_cli_error("the answer of %s is not about the blobs asked "
                             "for, in order (blob %u differs)",
                             ctx->c.nodes[ctx->node].name, i + 1);
            return WALRUS_CLI_INVALID;
        }
    }

    return WALRUS_CLI_OK;
}


/* each blob of the answer: held ones against their metadata */

static int
walrus_cli_audit_check(walrus_cli_audit_t *ctx, int *verdict)
{
    int                 rc;
    char                text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    unsigned            i;
    walrus_metadata_t   m;
    walrus_cli_http_t   res;

    *verdict = WALRUS_AUDIT_PASSED;

    for (i = 0; i < ctx->a.nblobs; i++) {
        walrus_blob_id_format(ctx->a.blobs[i].blob_id, text);

        if (!ctx->a.blobs[i].held) {
            printf("%s missing: the node says it does not hold it\n", text);

            if (*verdict == WALRUS_AUDIT_PASSED) {
                *verdict = WALRUS_AUDIT_MISSING;
            }

            continue;
        }

        rc = walrus_cli_audit_metadata(ctx, ctx->a.blobs[i].blob_id, &m,
                                       &res);
        if (rc != WALRUS_CLI_OK) {
            return rc;
        }

        rc = walrus_audit_blob_check(ctx->codec, &ctx->c, &ctx->a, i, &m);
        walrus_metadata_free(&m);

        if (rc == WALRUS_AUDIT_PASSED) {
            printf("%s passed\n", text);

        } else if (rc == WALRUS_AUDIT_FRAUD) {
            printf("%s fraud: a signed entry does not verify\n", text);

            if (*verdict != WALRUS_AUDIT_FRAUD) {
                *verdict = WALRUS_AUDIT_FRAUD;
                ctx->fraud_meta = res.body;
                ctx->fraud_meta_len = res.len;
                res.body = NULL;
            }

        } else {
            walrus_cli_error("blob %s cannot be checked: %s", text,
                             walrus_strerror(rc));
            walrus_cli_http_free(&res);
            return WALRUS_CLI_IO;
        }

        walrus_cli_http_free(&res);
    }

    return WALRUS_CLI_OK;
}


/*
 * The metadata of a blob, verified against its ID, from the node audited
 * or else the others in committee order; res keeps its bytes.
 */

static int
walrus_cli_audit_metadata(walrus_cli_audit_t *ctx, const uint8_t *id,
    walrus_metadata_t *m, walrus_cli_http_t *res)
{
    int       rc;
    char     *url, text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    unsigned  i, node;

    walrus_blob_id_format(id, text);

    for (i = 0; i < ctx->c.nnodes; i++) {
        node = i == 0 ? ctx->node : i <= ctx->node ? i - 1 : i;

        url = walrus_cli_url(ctx->c.nodes[node].url,
                             "/v1/blobs/%s/metadata", text);

        rc = walrus_cli_fetch(ctx, node, "metadata", url,
                              WALRUS_CLI_MAX_METADATA, res);
        if (rc != WALRUS_CLI_OK) {
            continue;
        }

        if (walrus_metadata_parse(m, res->body, res->len) == WALRUS_OK) {
            if (walrus_metadata_check(m, id) == WALRUS_OK) {
                return WALRUS_CLI_OK;
            }

            walrus_metadata_free(m);
        }

        walrus_cli_error("the metadata %s sent is not that of blob %s",
                         ctx->c.nodes[node].name, text);
        walrus_cli_http_free(res);
    }

    walrus_cli_error("no node sent the metadata of blob %s", text);

    return WALRUS_CLI_IO;
}


/* --fraud-out: the proof, checked before it is written */

static int
walrus_cli_audit_fraud(walrus_cli_audit_t *ctx, const char *path)
{
    int       rc;
    size_t    len;
    uint8_t  *proof;

    rc = walrus_audit_fraud_build(ctx->beacon, ctx->beacon_len, ctx->answer,
                                  ctx->answer_len, ctx->fraud_meta,
                                  ctx->fraud_meta_len, &proof, &len);
    if (rc == WALRUS_OK) {
        rc = walrus_audit_fraud_verify(&ctx->c, proof, len, NULL, NULL,
                                       NULL);
        if (rc != WALRUS_OK) {
            free(proof);
        }
    }

    if (rc != WALRUS_OK) {
        walrus_cli_error("no fraud proof: %s", walrus_strerror(rc));
        return WALRUS_CLI_IO;
    }

    rc = walrus_cli_write_file(path, proof, len);
    free(proof);

    if (rc == WALRUS_CLI_OK) {
        printf("fraud proof: %s\n", path);
    }

    return rc;
}


static void
walrus_cli_audit_free(walrus_cli_audit_t *ctx)
{
    free(ctx->beacon);
    free(ctx->answer);
    free(ctx->fraud_meta);
    walrus_codec_destroy(ctx->codec);
    walrus_committee_free(&ctx->c);
    free(ctx);
}
