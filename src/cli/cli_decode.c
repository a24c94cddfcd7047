/*
 * walrusctl decode: rebuilds a file from verified primary slivers.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <walrus_codec.h>
#include <walrusctl.h>


#define WALRUS_CLI_PAIR_CLOSED   0
#define WALRUS_CLI_PAIR_OPEN     1
#define WALRUS_CLI_PAIR_MISSING  2


typedef struct {
    int        fd;
    int        state;
    int        warned;
    char      *path;
} walrus_cli_pair_t;


typedef struct {
    const char          *dir;
    walrus_metadata_t    meta;
    walrus_codec_t      *codec;
    walrus_cli_pair_t   *pairs;
    uint8_t             *out;       /* a decoded segment */
    uint8_t             *extra;     /* p non-systematic slivers */
    int                  out_fd;
    const char          *out_name;
} walrus_cli_decode_t;


static int walrus_cli_read_metadata(const char *path,
    walrus_metadata_t *meta);
static int walrus_cli_decode_blob(walrus_cli_decode_t *ctx);
static int walrus_cli_decode_segment(walrus_cli_decode_t *ctx, uint64_t g);
static int walrus_cli_load_sliver(walrus_cli_decode_t *ctx, uint64_t g,
    unsigned k, uint8_t *sliver);
static void walrus_cli_warn(walrus_cli_decode_t *ctx, unsigned k,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));


int
walrus_cli_decode(walrus_cli_t *cli)
{
    int                   rc;
    char                 *path, text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    size_t                smax;
    uint8_t               id[WALRUS_BLOB_ID_LEN];
    unsigned              k, n;
    walrus_file_t         file;
    walrus_cli_decode_t   ctx;

    memset(&ctx, 0, sizeof(walrus_cli_decode_t));
    ctx.dir = cli->argv[0];
    ctx.out_fd = -1;
    ctx.out_name = cli->argv[1];
    walrus_file_init(&file);

    path = walrus_cli_path(ctx.dir, "metadata");
    if (path == NULL) {
        walrus_cli_error("%s: out of memory", ctx.dir);
        return WALRUS_CLI_IO;
    }

    rc = walrus_cli_metadata(cli, path, &ctx.meta, id, text);
    if (rc != WALRUS_CLI_OK) {
        free(path);
        return rc;
    }

    n = ctx.meta.params.n;

    /* a full segment has the largest slivers */

    smax = walrus_sliver_size(&ctx.meta.params, WALRUS_PRIMARY,
                              walrus_symbol_size(&ctx.meta.params,
                                                 ctx.meta.segment_size));

    ctx.codec = walrus_codec_create(n);
    ctx.pairs = calloc(n, sizeof(walrus_cli_pair_t));
    ctx.out = malloc(walrus_segment_padded_size(&ctx.meta.params,
                                                ctx.meta.segment_size));
    ctx.extra = malloc(ctx.meta.params.p * smax);

    if (ctx.codec == NULL || ctx.pairs == NULL || ctx.out == NULL
        || ctx.extra == NULL)
    {
        walrus_cli_error("%s: out of memory", ctx.dir);
        rc = WALRUS_CLI_IO;
        goto done;
    }

    for (k = 0; k < n; k++) {
        ctx.pairs[k].fd = -1;
    }

    if (strcmp(ctx.out_name, "-") == 0) {
        ctx.out_fd = STDOUT_FILENO;
        ctx.out_name = "(stdout)";

    } else {
        rc = walrus_cli_create(&file, ctx.out_name);
        if (rc != WALRUS_CLI_OK) {
            goto done;
        }

        ctx.out_fd = file.fd;
    }

    rc = walrus_cli_decode_blob(&ctx);
    if (rc != WALRUS_CLI_OK) {
        goto done;
    }

    if (file.fd != -1) {
        rc = walrus_cli_commit(&file);
        if (rc != WALRUS_CLI_OK) {
            goto done;
        }

        printf("%s\n", text);
    }

done:

    walrus_file_abort(&file);

    if (ctx.pairs != NULL) {
        for (k = 0; k < n; k++) {
            if (ctx.pairs[k].fd != -1) {
                (void) close(ctx.pairs[k].fd);
            }

            free(ctx.pairs[k].path);
        }
    }

    free(ctx.pairs);
    free(ctx.out);
    free(ctx.extra);
    walrus_codec_destroy(ctx.codec);
    walrus_metadata_free(&ctx.meta);
    free(path);

    return rc;
}


int
walrus_cli_metadata(walrus_cli_t *cli, const char *path,
    walrus_metadata_t *meta, uint8_t *id, char *text)
{
    int      rc;
    uint8_t  want[WALRUS_BLOB_ID_LEN];

    if (cli->blob_id != NULL) {
        rc = walrus_cli_parse_blob_id(cli->blob_id, want);
        if (rc != WALRUS_CLI_OK) {
            return rc;
        }
    }

    rc = walrus_cli_read_metadata(path, meta);
    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    rc = walrus_metadata_blob_id(meta, id);
    if (rc != WALRUS_OK) {
        walrus_cli_error("%s: blob ID: %s", path, walrus_strerror(rc));
        walrus_metadata_free(meta);
        return WALRUS_CLI_IO;
    }

    walrus_blob_id_format(id, text);

    if (cli->blob_id != NULL && memcmp(id, want, WALRUS_BLOB_ID_LEN) != 0) {
        walrus_cli_error("%s: metadata of blob %s, not of blob %s", path,
                         text, cli->blob_id);
        walrus_metadata_free(meta);
        return WALRUS_CLI_INVALID;
    }

    return WALRUS_CLI_OK;
}


/*
 * The header says how long the metadata must be: a truncated file is
 * reported as such before the strict parse.
 */

static int
walrus_cli_read_metadata(const char *path, walrus_metadata_t *meta)
{
    int           fd, rc;
    size_t        len;
    uint8_t       hdr[WALRUS_METADATA_HEADER_LEN], *buf;
    ssize_t       got;
    uint32_t      segsize;
    uint64_t      length, expect;
    unsigned      n;
    struct stat   st;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        walrus_cli_error("%s: cannot open: %s", path, strerror(errno));
        return WALRUS_CLI_IO;
    }

    if (fstat(fd, &st) == -1) {
        walrus_cli_error("%s: cannot stat: %s", path, strerror(errno));
        (void) close(fd);
        return WALRUS_CLI_IO;
    }

    got = walrus_cli_read(fd, hdr, sizeof(hdr));

    (void) close(fd);

    if (got == -1) {
        walrus_cli_error("%s: read error: %s", path, strerror(errno));
        return WALRUS_CLI_IO;
    }

    if ((size_t) got < sizeof(hdr)) {
        walrus_cli_error("%s: truncated metadata: %zd bytes, the header "
                         "alone has %d", path, got,
                         WALRUS_METADATA_HEADER_LEN);
        return WALRUS_CLI_IO;
    }

    n = (unsigned) hdr[2] | (unsigned) hdr[3] << 8;
    segsize = (uint32_t) hdr[4] | (uint32_t) hdr[5] << 8
              | (uint32_t) hdr[6] << 16 | (uint32_t) hdr[7] << 24;
    length = (uint64_t) hdr[8] | (uint64_t) hdr[9] << 8
             | (uint64_t) hdr[10] << 16 | (uint64_t) hdr[11] << 24
             | (uint64_t) hdr[12] << 32 | (uint64_t) hdr[13] << 40
             | (uint64_t) hdr[14] << 48 | (uint64_t) hdr[15] << 56;

    if (hdr[0] != WALRUS_FORMAT_VERSION || hdr[1] != WALRUS_ENCODING_RS2_GF8
        || n < WALRUS_MIN_SHARDS || n > WALRUS_MAX_SHARDS
        || segsize < WALRUS_MIN_SEGMENT_SIZE
        || segsize > WALRUS_MAX_SEGMENT_SIZE
        || length > WALRUS_MAX_BLOB_SIZE)
    {
        walrus_cli_error("%s: malformed metadata header (version %u, "
                         "encoding %u, n %u, segment size %u, length %llu)",
                         path, hdr[0], hdr[1], n, segsize,
                         (unsigned long long) length);
        return WALRUS_CLI_IO;
    }

    expect = WALRUS_METADATA_HEADER_LEN
             + walrus_segment_count(length, segsize) * n
               * WALRUS_PAIR_HASH_LEN;

    if ((uint64_t) st.st_size != expect) {
        walrus_cli_error("%s: %s metadata: %lld bytes where its header "
                         "announces %llu", path,
                         (uint64_t) st.st_size < expect ? "truncated"
                                                        : "oversized",
                         (long long) st.st_size, (unsigned long long) expect);
        return WALRUS_CLI_IO;
    }

    rc = walrus_cli_read_file(path, (size_t) expect, &buf, &len);
    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    rc = walrus_metadata_parse(meta, buf, len);

    free(buf);

    if (rc != WALRUS_OK) {
        walrus_cli_error("%s: malformed metadata: %s", path,
                         walrus_strerror(rc));
        return WALRUS_CLI_IO;
    }

    return WALRUS_CLI_OK;
}


static int
walrus_cli_decode_blob(walrus_cli_decode_t *ctx)
{
    int        rc;
    uint64_t   g;

    for (g = 0; g < ctx->meta.nsegments; g++) {
        rc = walrus_cli_decode_segment(ctx, g);
        if (rc != WALRUS_CLI_OK) {
            return rc;
        }
    }

    return WALRUS_CLI_OK;
}


/*
 * Systematic slivers (pairs 0..p-1) are read straight into their rows of
 * the output, so that with all of them good decoding is no work at all.
 */

static int
walrus_cli_decode_segment(walrus_cli_decode_t *ctx, uint64_t g)
{
    int                     rc;
    size_t                  sym, slen, smax;
    uint8_t                *sliver;
    uint64_t                glen;
    unsigned                k, n, p, good, nextra;
    const uint8_t          *present[WALRUS_MAX_SHARDS];
    const walrus_params_t  *wp;

    wp = &ctx->meta.params;
    n = wp->n;
    p = wp->p;

    glen = walrus_segment_length(ctx->meta.length, ctx->meta.segment_size,
                                 g);
    sym = walrus_symbol_size(wp, glen);
    slen = walrus_sliver_size(wp, WALRUS_PRIMARY, sym);
    smax = walrus_sliver_size(wp, WALRUS_PRIMARY,
                              walrus_symbol_size(wp, ctx->meta.segment_size));

    good = 0;
    nextra = 0;

    for (k = 0; k < n; k++) {
        present[k] = NULL;

        if (good == p) {
            continue;
        }

        sliver = (k < p) ? ctx->out + k * slen : ctx->extra + nextra * smax;

        rc = walrus_cli_load_sliver(ctx, g, k, sliver);
        if (rc == WALRUS_CLI_IO) {
            return rc;
        }

        if (rc == WALRUS_CLI_OK) {
            present[k] = sliver;
            good++;
            nextra += (k >= p);
        }
    }

    rc = walrus_segment_decode(ctx->codec, walrus_metadata_segment(&ctx->meta,
                                                                   g),
                               glen, present, ctx->out);

    switch (rc) {

    case WALRUS_OK:
        break;

    case WALRUS_ENOTENOUGH:
        walrus_cli_error("%s: segment %llu: only %u of %u verified primary "
                         "slivers", ctx->dir, (unsigned long long) g, good,
                         p);
        return WALRUS_CLI_INVALID;

    case WALRUS_EINCONSISTENT:
        walrus_cli_error("%s: blob is inconsistently encoded (segment %llu)",
                         ctx->dir, (unsigned long long) g);
        return WALRUS_CLI_INVALID;

    default:
        walrus_cli_error("%s: segment %llu: %s", ctx->dir,
                         (unsigned long long) g, walrus_strerror(rc));
        return walrus_cli_status(rc);
    }

    if (walrus_cli_write(ctx->out_fd, ctx->out, (size_t) glen) != 0) {
        walrus_cli_error("%s: write error: %s", ctx->out_name,
                         strerror(errno));
        return WALRUS_CLI_IO;
    }

    return WALRUS_CLI_OK;
}


/*
 * WALRUS_CLI_OK with a verified sliver, WALRUS_CLI_INVALID when the pair
 * has to be skipped, WALRUS_CLI_IO on a fatal error.
 */

static int
walrus_cli_load_sliver(walrus_cli_decode_t *ctx, uint64_t g, unsigned k,
    uint8_t *sliver)
{
    int                     rc;
    char                    name[32];
    size_t                  sym, slen;
    ssize_t                 got;
    uint64_t                glen;
    walrus_cli_pair_t      *pair;
    const walrus_params_t  *wp;

    wp = &ctx->meta.params;
    pair = &ctx->pairs[k];

    if (pair->state == WALRUS_CLI_PAIR_MISSING) {
        return WALRUS_CLI_INVALID;
    }

    if (pair->state == WALRUS_CLI_PAIR_CLOSED) {
        (void) snprintf(name, sizeof(name), "%u.primary", k);

        pair->path = walrus_cli_path(ctx->dir, name);
        if (pair->path == NULL) {
            walrus_cli_error("%s: out of memory", ctx->dir);
            return WALRUS_CLI_IO;
        }

        pair->fd = open(pair->path, O_RDONLY | O_CLOEXEC);
        if (pair->fd == -1) {
            pair->state = WALRUS_CLI_PAIR_MISSING;
            walrus_cli_warn(ctx, k, "%s: %s", pair->path, strerror(errno));
            return WALRUS_CLI_INVALID;
        }

        pair->state = WALRUS_CLI_PAIR_OPEN;
    }

    glen = walrus_segment_length(ctx->meta.length, ctx->meta.segment_size,
                                 g);
    sym = walrus_symbol_size(wp, glen);
    slen = walrus_sliver_size(wp, WALRUS_PRIMARY, sym);

    got = walrus_cli_pread(pair->fd, sliver, slen,
                           walrus_sliver_offset(&ctx->meta, WALRUS_PRIMARY,
                                                g));

    if (got == -1) {
        walrus_cli_warn(ctx, k, "%s: read error: %s", pair->path,
                        strerror(errno));
        return WALRUS_CLI_INVALID;
    }

    if ((size_t) got != slen) {
        walrus_cli_warn(ctx, k, "%s is too short for segment %llu",
                        pair->path, (unsigned long long) g);
        return WALRUS_CLI_INVALID;
    }

    rc = walrus_sliver_verify(ctx->codec, WALRUS_PRIMARY, k, sym, sliver,
                              slen, walrus_metadata_segment(&ctx->meta, g)
                                    + (size_t) k * WALRUS_PAIR_HASH_LEN);

    if (rc == WALRUS_EHASH || rc == WALRUS_ELENGTH) {
        walrus_cli_warn(ctx, k, "primary sliver does not match the metadata "
                        "(%s, segment %llu)", pair->path,
                        (unsigned long long) g);
        return WALRUS_CLI_INVALID;
    }

    if (rc != WALRUS_OK) {
        walrus_cli_error("%s: %s", pair->path, walrus_strerror(rc));
        return WALRUS_CLI_IO;
    }

    return WALRUS_CLI_OK;
}


/* one warning line per pair, for its first problem */

static void
walrus_cli_warn(walrus_cli_decode_t *ctx, unsigned k, const char *fmt, ...)
{
    va_list  args;

    if (ctx->pairs[k].warned) {
        return;
    }

    ctx->pairs[k].warned = 1;

    fprintf(stderr, "walrusctl: pair %u: ", k);

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fputs(", skipped\n", stderr);
}
