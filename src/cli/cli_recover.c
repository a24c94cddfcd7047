/*
 * walrusctl rebuild: the slivers of a pair from recovery answers, or the
 * proof that the blob was encoded inconsistently; walrusctl
 * verify-inconsistency: checks such a proof.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <walrus_recovery.h>
#include <walrusctl.h>


/* an answer or a proof file: anything a node could send, and more */
#define WALRUS_CLI_MAX_RECOVERY  ((size_t) 1 << 32)


typedef struct {
    const char                       *dir;
    walrus_metadata_t                 meta;
    uint8_t                           id[WALRUS_BLOB_ID_LEN];
    char                              text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    walrus_codec_t                   *codec;
    unsigned                          nanswers;
    uint8_t                         **bufs;
    walrus_recovery_answer_t         *answers;
    const walrus_recovery_answer_t  **list;
    const walrus_recovery_answer_t   *first;
    const char                       *first_path;
    unsigned                          axes;
    uint8_t                          *out;      /* a rebuilt slice */
    walrus_file_t                 files[2];
} walrus_cli_rebuild_t;


static int walrus_cli_load_answers(walrus_cli_rebuild_t *ctx, char **paths);
static void walrus_cli_liars(const char *path,
    const walrus_recovery_answer_t *a);
static int walrus_cli_rebuild_axis(walrus_cli_rebuild_t *ctx,
    walrus_axis_e axis);
static int walrus_cli_write_proof(walrus_cli_rebuild_t *ctx,
    walrus_axis_e axis, uint64_t g);
static void walrus_cli_rebuild_free(walrus_cli_rebuild_t *ctx);


int
walrus_cli_rebuild(walrus_cli_t *cli)
{
    int                    rc;
    size_t                 sym;
    unsigned               axis;
    walrus_cli_rebuild_t   ctx;

    memset(&ctx, 0, sizeof(walrus_cli_rebuild_t));
    ctx.dir = cli->argv[1];
    ctx.nanswers = (unsigned) cli->argc - 2;
    walrus_file_init(&ctx.files[0]);
    walrus_file_init(&ctx.files[1]);

    rc = walrus_cli_metadata(cli, cli->argv[0], &ctx.meta, ctx.id, ctx.text);
    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    sym = walrus_symbol_size(&ctx.meta.params, ctx.meta.segment_size);

    ctx.codec = walrus_codec_create(ctx.meta.params.n);
    ctx.bufs = calloc(ctx.nanswers, sizeof(uint8_t *));
    ctx.answers = calloc(ctx.nanswers, sizeof(walrus_recovery_answer_t));
    ctx.list = calloc(ctx.nanswers, sizeof(walrus_recovery_answer_t *));
    ctx.out = malloc(walrus_sliver_size(&ctx.meta.params, WALRUS_PRIMARY,
                                        sym));

    if (ctx.codec == NULL || ctx.bufs == NULL || ctx.answers == NULL
        || ctx.list == NULL || ctx.out == NULL)
    {
        walrus_cli_error("out of memory");
        rc = WALRUS_CLI_IO;
        goto done;
    }

    rc = walrus_cli_load_answers(&ctx, cli->argv + 2);
    if (rc != WALRUS_CLI_OK) {
        goto done;
    }

    rc = walrus_cli_mkdir(ctx.dir);
    if (rc != WALRUS_CLI_OK) {
        goto done;
    }

    /* both files complete, or neither */

    for (axis = WALRUS_PRIMARY; axis <= WALRUS_SECONDARY; axis++) {
        if (ctx.axes & (axis == WALRUS_PRIMARY ? WALRUS_RECOVERY_PRIMARY
                                               : WALRUS_RECOVERY_SECONDARY))
        {
            rc = walrus_cli_rebuild_axis(&ctx, axis);
            if (rc != WALRUS_CLI_OK) {
                goto done;
            }
        }
    }

    for (axis = WALRUS_PRIMARY; axis <= WALRUS_SECONDARY; axis++) {
        if (ctx.files[axis].fd != -1) {
            rc = walrus_cli_commit(&ctx.files[axis]);
            if (rc != WALRUS_CLI_OK) {
                goto done;
            }
        }
    }

    printf("%s\n", ctx.text);

done:

    walrus_cli_rebuild_free(&ctx);

    return rc;
}


/*
 * Reads and verifies every answer: one that is not an answer of this
 * blob is left out with a warning, the symbols that do not verify are
 * named and left out; the others must be for one target pair.
 */

static int
walrus_cli_load_answers(walrus_cli_rebuild_t *ctx, char **paths)
{
    int                        rc;
    size_t                     len;
    unsigned                   i;
    walrus_recovery_answer_t  *a;

    for (i = 0; i < ctx->nanswers; i++) {
        if (walrus_cli_read_file(paths[i], WALRUS_CLI_MAX_RECOVERY,
                                 &ctx->bufs[i], &len)
            != WALRUS_CLI_OK)
        {
            return WALRUS_CLI_IO;
        }

        a = &ctx->answers[i];

        rc = walrus_recovery_parse(ctx->codec, &ctx->meta, ctx->id,
                                   ctx->bufs[i], len, a);
        if (rc != WALRUS_OK) {
            walrus_cli_error("%s: not a recovery answer of blob %s (%s): "
                             "left out", paths[i], ctx->text,
                             walrus_strerror(rc));
            continue;
        }

        if (ctx->first != NULL && a->head.target != ctx->first->head.target)
        {
            walrus_cli_error("%s: an answer for pair %u, %s for pair %u",
                             paths[i], a->head.target, ctx->first_path,
                             ctx->first->head.target);
            return WALRUS_CLI_USAGE;
        }

        if (a->nfailed > 0) {
            walrus_cli_liars(paths[i], a);
        }

        if (ctx->first == NULL) {
            ctx->first = a;
            ctx->first_path = paths[i];
        }

        ctx->list[i] = a;
        ctx->axes |= a->head.axes;
    }

    if (ctx->first == NULL) {
        walrus_cli_error("no recovery answer of blob %s", ctx->text);
        return WALRUS_CLI_INVALID;
    }

    return WALRUS_CLI_OK;
}


static void
walrus_cli_liars(const char *path, const walrus_recovery_answer_t *a)
{
    unsigned  i, h;

    for (i = 0; i < a->head.nhelpers; i++) {
        h = a->head.helpers[i];

        if (a->failed[h] > 0) {
            walrus_cli_error("%s: %u symbols of helper pair %u do not "
                             "verify: left out", path, a->failed[h], h);
        }
    }
}


static int
walrus_cli_rebuild_axis(walrus_cli_rebuild_t *ctx, walrus_axis_e axis)
{
    int           rc;
    char          name[32], *path;
    size_t        len;
    uint64_t      g;
    unsigned      target;
    const char   *what;

    target = ctx->first->head.target;
    what = axis == WALRUS_PRIMARY ? "primary" : "secondary";

    snprintf(name, sizeof(name), "%u.%s", target, what);

    path = walrus_cli_path(ctx->dir, name);
    if (path == NULL) {
        walrus_cli_error("%s: out of memory", ctx->dir);
        return WALRUS_CLI_IO;
    }

    rc = walrus_cli_create(&ctx->files[axis], path);

    free(path);

    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    for (g = 0; g < ctx->meta.nsegments; g++) {
        len = walrus_sliver_size(&ctx->meta.params, axis,
                                 walrus_symbol_size(&ctx->meta.params,
                                     walrus_segment_length(ctx->meta.length,
                                         ctx->meta.segment_size, g)));

        rc = walrus_recovery_rebuild(ctx->codec, &ctx->meta, ctx->list,
                                     ctx->nanswers, axis, g, ctx->out);

        if (rc == WALRUS_EINCONSISTENT) {
            return walrus_cli_write_proof(ctx, axis, g);
        }

        if (rc == WALRUS_ENOTENOUGH) {
            walrus_cli_error("segment %llu: fewer than %u helper pairs gave "
                             "verified symbols for the %s sliver of pair %u",
                             (unsigned long long) g,
                             axis == WALRUS_PRIMARY ? ctx->meta.params.s
                                                    : ctx->meta.params.p,
                             what, target);
            return WALRUS_CLI_INVALID;
        }

        if (rc != WALRUS_OK) {
            walrus_cli_error("segment %llu: %s", (unsigned long long) g,
                             walrus_strerror(rc));
            return walrus_cli_status(rc);
        }

        if (walrus_cli_write(ctx->files[axis].fd, ctx->out, len) != 0) {
            walrus_cli_error("%s: write error: %s", ctx->files[axis].tmp,
                             strerror(errno));
            return WALRUS_CLI_IO;
        }
    }

    return WALRUS_CLI_OK;
}


static int
walrus_cli_write_proof(walrus_cli_rebuild_t *ctx, walrus_axis_e axis,
    uint64_t g)
{
    int                 rc;
    char                name[32], *path;
    size_t              len;
    uint8_t            *proof;
    unsigned            target;

    target = ctx->first->head.target;

    rc = walrus_inconsistency_build(ctx->codec, &ctx->meta, ctx->list,
                                    ctx->nanswers, axis, g, &proof, &len);
    if (rc != WALRUS_OK) {
        walrus_cli_error("segment %llu: inconsistent, but no proof: %s",
                         (unsigned long long) g, walrus_strerror(rc));
        return WALRUS_CLI_IO;
    }

    snprintf(name, sizeof(name), "%u.inconsistency", target);
    path = walrus_cli_path(ctx->dir, name);

    if (path == NULL) {
        walrus_cli_error("%s: out of memory", ctx->dir);
        rc = WALRUS_CLI_IO;
        goto done;
    }

    rc = walrus_cli_write_file(path, proof, len);
    if (rc != WALRUS_CLI_OK) {
        goto done;
    }

    walrus_cli_error("blob %s was encoded inconsistently: verified symbols "
                     "rebuild a %s sliver of pair %u in segment %llu that "
                     "the metadata does not commit to; proof written to %s",
                     ctx->text, axis == WALRUS_PRIMARY ? "primary"
                                                       : "secondary",
                     target, (unsigned long long) g, path);
    rc = WALRUS_CLI_INVALID;

done:

    free(path);
    free(proof);

    return rc;
}


static void
walrus_cli_rebuild_free(walrus_cli_rebuild_t *ctx)
{
    unsigned  i;

    walrus_file_abort(&ctx->files[0]);
    walrus_file_abort(&ctx->files[1]);

    for (i = 0; ctx->answers != NULL && i < ctx->nanswers; i++) {
        walrus_recovery_answer_free(&ctx->answers[i]);
        free(ctx->bufs[i]);
    }

    free(ctx->bufs);
    free(ctx->answers);
    free(ctx->list);
    free(ctx->out);
    walrus_codec_destroy(ctx->codec);
    walrus_metadata_free(&ctx->meta);
}


int
walrus_cli_verify_inconsistency(walrus_cli_t *cli)
{
    int                      rc;
    char                     text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    size_t                   len;
    uint8_t                 *buf;
    const char              *path, *why;
    walrus_committee_t       committee;
    walrus_inconsistency_t   info;

    path = cli->argv[0];

    if (walrus_cli_read_file(path, WALRUS_CLI_MAX_RECOVERY, &buf, &len)
        != WALRUS_CLI_OK)
    {
        return WALRUS_CLI_IO;
    }

    rc = walrus_inconsistency_verify(buf, len, &info);

    free(buf);

    switch (rc) {

    case WALRUS_OK:
        why = NULL;
        break;

    case WALRUS_EFORMAT:
        why = "not an inconsistency proof";
        break;

    case WALRUS_EBLOBID:
        why = "its metadata does not hash to its blob ID";
        break;

    case WALRUS_EHASH:
        why = "a symbol does not verify against the metadata";
        break;

    case WALRUS_EINVAL:
        why = "its symbols rebuild the sliver the metadata commits to";
        break;

    default:
        walrus_cli_error("%s: %s", path, walrus_strerror(rc));
        return WALRUS_CLI_IO;
    }

    if (why != NULL) {
        walrus_cli_error("%s: the proof does not hold: %s", path, why);
        return WALRUS_CLI_INVALID;
    }

    walrus_blob_id_format(info.blob_id, text);

    /* the proof stands on its own; a committee given must also match */

    if (cli->committee_given) {
        rc = walrus_cli_committee(cli, &committee);
        if (rc != WALRUS_CLI_OK) {
            walrus_inconsistency_free(&info);
            return rc;
        }

        if (committee.params.n != info.meta.params.n
            || committee.segment_size != info.meta.segment_size)
        {
            walrus_cli_error("%s: blob %s has n = %u and segment size %u, "
                             "the committee n = %u and %u", path, text,
                             info.meta.params.n, info.meta.segment_size,
                             committee.params.n, committee.segment_size);
            rc = WALRUS_CLI_INVALID;
        }

        walrus_committee_free(&committee);
    }

    walrus_inconsistency_free(&info);

    if (rc == WALRUS_CLI_OK) {
        printf("%s\n", text);
    }

    return rc;
}
