/*
 * walrusctl blob-id and encode: a file read and encoded segment by segment.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <walrus_codec.h>
#include <walrusctl.h>


/* called with each encoded segment; returns a WALRUS_CLI_* code */
typedef int (*walrus_cli_segment_pt)(void *data, walrus_codec_t *codec,
    const walrus_segment_t *seg, uint64_t g);


typedef struct {
    walrus_metadata_t   meta;
    uint8_t             id[WALRUS_BLOB_ID_LEN];
    char                text[WALRUS_BLOB_ID_TEXT_LEN + 1];
} walrus_cli_blob_t;


typedef struct {
    const char          *dir;
    unsigned             n;
    walrus_file_t       *files;       /* n primary, n secondary, 2 more */
    uint8_t             *secondary;   /* one secondary sliver */
    uint64_t             written[2];  /* bytes of each sliver file */
} walrus_cli_encode_t;


static int walrus_cli_stream(const char *path,
    const walrus_committee_t *committee, walrus_cli_segment_pt handler,
    void *data, walrus_cli_blob_t *blob);
static int walrus_cli_stream_segments(const char *path, int fd,
    int known, walrus_codec_t *codec, uint32_t segsize,
    walrus_cli_segment_pt handler, void *data, walrus_cli_blob_t *blob);
static int walrus_cli_grow(uint8_t **buf, uint64_t *cap, uint64_t need,
    size_t unit);
static int walrus_cli_encode_segment(void *data, walrus_codec_t *codec,
    const walrus_segment_t *seg, uint64_t g);
static int walrus_cli_encode_open(walrus_cli_encode_t *ctx);
static int walrus_cli_encode_finish(walrus_cli_encode_t *ctx,
    walrus_cli_blob_t *blob);


int
walrus_cli_blob_id(walrus_cli_t *cli)
{
    int                  rc;
    walrus_cli_blob_t    blob;
    walrus_committee_t   committee;

    rc = walrus_cli_committee(cli, &committee);
    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    rc = walrus_cli_stream(cli->argv[0], &committee, NULL, NULL, &blob);

    walrus_committee_free(&committee);

    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    printf("%s\n", blob.text);

    walrus_metadata_free(&blob.meta);

    return WALRUS_CLI_OK;
}


int
walrus_cli_file_blob_id(const char *path, const walrus_committee_t *c,
    uint8_t *id, uint64_t *length)
{
    int                rc;
    walrus_cli_blob_t  blob;

    rc = walrus_cli_stream(path, c, NULL, NULL, &blob);
    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    memcpy(id, blob.id, WALRUS_BLOB_ID_LEN);
    *length = blob.meta.length;

    walrus_metadata_free(&blob.meta);

    return WALRUS_CLI_OK;
}


int
walrus_cli_encode(walrus_cli_t *cli)
{
    int                   rc;
    size_t                sym;
    unsigned              i, nfiles;
    walrus_cli_blob_t     blob;
    walrus_committee_t    committee;
    walrus_cli_encode_t   ctx;

    rc = walrus_cli_committee(cli, &committee);
    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    memset(&ctx, 0, sizeof(walrus_cli_encode_t));
    ctx.dir = cli->argv[1];
    ctx.n = committee.params.n;
    nfiles = 2 * ctx.n + 2;

    rc = walrus_cli_mkdir(ctx.dir);
    if (rc != WALRUS_CLI_OK) {
        goto done;
    }

    /* a full segment has the largest symbols */

    sym = walrus_symbol_size(&committee.params, committee.segment_size);

    ctx.files = malloc(nfiles * sizeof(walrus_file_t));
    ctx.secondary = malloc(walrus_sliver_size(&committee.params,
                                              WALRUS_SECONDARY, sym));

    if (ctx.files == NULL || ctx.secondary == NULL) {
        walrus_cli_error("%s: out of memory", cli->argv[0]);
        rc = WALRUS_CLI_IO;
        goto done;
    }

    for (i = 0; i < nfiles; i++) {
        walrus_file_init(&ctx.files[i]);
    }

    rc = walrus_cli_encode_open(&ctx);
    if (rc != WALRUS_CLI_OK) {
        goto done;
    }

    rc = walrus_cli_stream(cli->argv[0], &committee,
                           walrus_cli_encode_segment, &ctx, &blob);
    if (rc != WALRUS_CLI_OK) {
        goto done;
    }

    rc = walrus_cli_encode_finish(&ctx, &blob);
    if (rc == WALRUS_CLI_OK) {
        printf("%s\n", blob.text);
    }

    walrus_metadata_free(&blob.meta);

done:

    if (ctx.files != NULL) {
        for (i = 0; i < nfiles; i++) {
            walrus_file_abort(&ctx.files[i]);
        }
    }

    free(ctx.files);
    free(ctx.secondary);
    walrus_committee_free(&committee);

    return rc;
}


/*
 * Reads path ("-" is stdin) a segment at a time, encodes each segment,
 * passes it to handler and fills blob with the metadata and the blob ID.
 */

static int
walrus_cli_stream(const char *path, const walrus_committee_t *committee,
    walrus_cli_segment_pt handler, void *data, walrus_cli_blob_t *blob)
{
    int               fd, rc, known;
    struct stat       st;
    walrus_codec_t   *codec;

    memset(blob, 0, sizeof(walrus_cli_blob_t));

    if (strcmp(path, "-") == 0) {
        fd = STDIN_FILENO;
        path = "(stdin)";

    } else {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd == -1) {
            walrus_cli_error("%s: cannot open: %s", path, strerror(errno));
            return WALRUS_CLI_IO;
        }
    }

    rc = WALRUS_CLI_IO;
    codec = NULL;

    if (fstat(fd, &st) == -1) {
        walrus_cli_error("%s: cannot stat: %s", path, strerror(errno));
        goto done;
    }

    if (S_ISDIR(st.st_mode)) {
        walrus_cli_error("%s: is a directory", path);
        goto done;
    }

    /* the length of a regular file is known before it is read */

    known = S_ISREG(st.st_mode);

    if (known) {
        if ((uint64_t) st.st_size > WALRUS_MAX_BLOB_SIZE) {
            walrus_cli_error("%s: %lld bytes, more than the largest blob "
                             "(%llu bytes)", path, (long long) st.st_size,
                             (unsigned long long) WALRUS_MAX_BLOB_SIZE);
            goto done;
        }

        if (walrus_metadata_init(&blob->meta, committee->params.n,
                                 committee->segment_size,
                                 (uint64_t) st.st_size)
            != WALRUS_OK)
        {
            walrus_cli_error("%s: out of memory", path);
            goto done;
        }
    }

    codec = walrus_codec_create(committee->params.n);
    if (codec == NULL) {
        walrus_cli_error("%s: cannot create the codec", path);
        goto done;
    }

    rc = walrus_cli_stream_segments(path, fd, known, codec,
                                    committee->segment_size, handler, data,
                                    blob);

done:

    if (rc != WALRUS_CLI_OK) {
        walrus_metadata_free(&blob->meta);
    }

    walrus_codec_destroy(codec);

    if (fd != STDIN_FILENO) {
        (void) close(fd);
    }

    return rc;
}


static int
walrus_cli_stream_segments(const char *path, int fd, int known,
    walrus_codec_t *codec, uint32_t segsize, walrus_cli_segment_pt handler,
    void *data, walrus_cli_blob_t *blob)
{
    int                rc, wrc;
    size_t             unit;
    ssize_t            got;
    uint8_t           *buf, *hashes, *dst;
    uint64_t           g, total, cap;
    walrus_segment_t   seg;

    unit = (size_t) walrus_codec_params(codec)->n * WALRUS_PAIR_HASH_LEN;

    buf = malloc(segsize);
    if (buf == NULL) {
        walrus_cli_error("%s: out of memory", path);
        return WALRUS_CLI_IO;
    }

    walrus_segment_init(&seg);

    rc = WALRUS_CLI_IO;
    hashes = NULL;
    cap = 0;
    total = 0;

    for (g = 0; /* void */; g++) {
        got = walrus_cli_read(fd, buf, segsize);

        if (got == -1) {
            walrus_cli_error("%s: read error: %s", path, strerror(errno));
            goto done;
        }

        if (got == 0 && g > 0) {
            break;
        }

        if (total + (uint64_t) got > WALRUS_MAX_BLOB_SIZE) {
            walrus_cli_error("%s: more than the largest blob (%llu bytes)",
                             path, (unsigned long long) WALRUS_MAX_BLOB_SIZE);
            goto done;
        }

        if (known) {
            if (g >= blob->meta.nsegments
                || (uint64_t) got
                   != walrus_segment_length(blob->meta.length, segsize, g))
            {
                walrus_cli_error("%s: file changed while it was read", path);
                goto done;
            }

            dst = walrus_metadata_segment(&blob->meta, g);

        } else {
            if (walrus_cli_grow(&hashes, &cap, g + 1, unit) != 0) {
                walrus_cli_error("%s: out of memory", path);
                goto done;
            }

            dst = hashes + g * unit;
        }

        wrc = walrus_segment_encode(codec, buf, (uint64_t) got, &seg);
        if (wrc != WALRUS_OK) {
            walrus_cli_error("%s: segment %llu: %s", path,
                             (unsigned long long) g, walrus_strerror(wrc));
            goto done;
        }

        memcpy(dst, seg.pair_hashes, unit);

        if (handler != NULL) {
            wrc = handler(data, codec, &seg, g);
            if (wrc != WALRUS_CLI_OK) {
                rc = wrc;
                goto done;
            }
        }

        total += (uint64_t) got;

        if ((size_t) got < segsize) {
            g++;
            break;
        }
    }

    if (known) {
        if (g != blob->meta.nsegments || total != blob->meta.length) {
            walrus_cli_error("%s: file changed while it was read", path);
            goto done;
        }

    } else {
        if (walrus_metadata_init(&blob->meta, walrus_codec_params(codec)->n,
                                 segsize, total)
            != WALRUS_OK)
        {
            walrus_cli_error("%s: out of memory", path);
            goto done;
        }

        if (blob->meta.nsegments != g) {
            walrus_cli_error("%s: %llu segments where %llu were expected",
                             path, (unsigned long long) g,
                             (unsigned long long) blob->meta.nsegments);
            goto done;
        }

        memcpy(blob->meta.hashes, hashes, g * unit);
    }

    wrc = walrus_metadata_blob_id(&blob->meta, blob->id);
    if (wrc != WALRUS_OK) {
        walrus_cli_error("%s: blob ID: %s", path, walrus_strerror(wrc));
        goto done;
    }

    walrus_blob_id_format(blob->id, blob->text);

    rc = WALRUS_CLI_OK;

done:

    walrus_segment_free(&seg);
    free(hashes);
    free(buf);

    return rc;
}


static int
walrus_cli_grow(uint8_t **buf, uint64_t *cap, uint64_t need, size_t unit)
{
    uint8_t   *p;
    uint64_t   ncap;

    if (need <= *cap) {
        return 0;
    }

    ncap = (*cap == 0) ? 16 : *cap * 2;

    if (ncap < need) {
        ncap = need;
    }

    if (ncap > SIZE_MAX / unit) {
        return -1;
    }

    p = realloc(*buf, (size_t) ncap * unit);
    if (p == NULL) {
        return -1;
    }

    *buf = p;
    *cap = ncap;

    return 0;
}


/* sliver pair k: primary sliver k, secondary sliver n - 1 - k */

static int
walrus_cli_encode_segment(void *data, walrus_codec_t *codec,
    const walrus_segment_t *seg, uint64_t g)
{
    size_t                  plen, slen;
    unsigned                k, n;
    walrus_file_t          *f;
    walrus_cli_encode_t    *ctx;
    const walrus_params_t  *wp;

    ctx = data;
    wp = walrus_codec_params(codec);
    n = ctx->n;

    plen = walrus_sliver_size(wp, WALRUS_PRIMARY, seg->symbol_size);
    slen = walrus_sliver_size(wp, WALRUS_SECONDARY, seg->symbol_size);

    for (k = 0; k < n; k++) {
        f = &ctx->files[k];

        if (walrus_cli_write(f->fd, walrus_segment_primary(codec, seg, k),
                             plen)
            != 0)
        {
            walrus_cli_error("%s: write error: %s", f->tmp, strerror(errno));
            return WALRUS_CLI_IO;
        }

        f = &ctx->files[n + k];

        walrus_segment_secondary(codec, seg, walrus_pair_secondary(wp, k),
                                 ctx->secondary);

        if (walrus_cli_write(f->fd, ctx->secondary, slen) != 0) {
            walrus_cli_error("%s: write error: %s", f->tmp, strerror(errno));
            return WALRUS_CLI_IO;
        }
    }

    ctx->written[WALRUS_PRIMARY] += plen;
    ctx->written[WALRUS_SECONDARY] += slen;

    return WALRUS_CLI_OK;
}


static int
walrus_cli_encode_open(walrus_cli_encode_t *ctx)
{
    int        rc;
    char       name[32], *path;
    unsigned   i, k;

    for (i = 0; i < 2 * ctx->n + 2; i++) {
        k = i % ctx->n;

        if (i < ctx->n) {
            (void) snprintf(name, sizeof(name), "%u.primary", k);

        } else if (i < 2 * ctx->n) {
            (void) snprintf(name, sizeof(name), "%u.secondary", k);

        } else if (i == 2 * ctx->n) {
            (void) snprintf(name, sizeof(name), "blob-id");

        } else {
            (void) snprintf(name, sizeof(name), "metadata");
        }

        path = walrus_cli_path(ctx->dir, name);
        if (path == NULL) {
            walrus_cli_error("%s: out of memory", ctx->dir);
            return WALRUS_CLI_IO;
        }

        rc = walrus_cli_create(&ctx->files[i], path);

        free(path);

        if (rc != WALRUS_CLI_OK) {
            return rc;
        }
    }

    return WALRUS_CLI_OK;
}


/* writes the metadata and the blob ID, then renames every file */

static int
walrus_cli_encode_finish(walrus_cli_encode_t *ctx, walrus_cli_blob_t *blob)
{
    int             rc;
    size_t          size;
    uint8_t        *buf;
    unsigned        i, n;
    walrus_file_t  *f;

    n = ctx->n;

    /* the offsets written must be the ones readers compute */

    if (ctx->written[WALRUS_PRIMARY]
        != walrus_sliver_file_size(&blob->meta, WALRUS_PRIMARY)
        || ctx->written[WALRUS_SECONDARY]
           != walrus_sliver_file_size(&blob->meta, WALRUS_SECONDARY))
    {
        walrus_cli_error("%s: internal error: sliver files of %llu and "
                         "%llu bytes do not match the metadata", ctx->dir,
                         (unsigned long long) ctx->written[WALRUS_PRIMARY],
                         (unsigned long long) ctx->written[WALRUS_SECONDARY]);
        return WALRUS_CLI_IO;
    }

    f = &ctx->files[2 * n];
    blob->text[WALRUS_BLOB_ID_TEXT_LEN] = '\n';

    rc = walrus_cli_write(f->fd, (uint8_t *) blob->text,
                          WALRUS_BLOB_ID_TEXT_LEN + 1);

    blob->text[WALRUS_BLOB_ID_TEXT_LEN] = '\0';

    if (rc != 0) {
        walrus_cli_error("%s: write error: %s", f->tmp, strerror(errno));
        return WALRUS_CLI_IO;
    }

    f = &ctx->files[2 * n + 1];
    size = walrus_metadata_size(&blob->meta);

    buf = malloc(size);
    if (buf == NULL) {
        walrus_cli_error("%s: out of memory", f->path);
        return WALRUS_CLI_IO;
    }

    walrus_metadata_serialize(&blob->meta, buf);

    rc = walrus_cli_write(f->fd, buf, size);

    free(buf);

    if (rc != 0) {
        walrus_cli_error("%s: write error: %s", f->tmp, strerror(errno));
        return WALRUS_CLI_IO;
    }

    /* the metadata comes last: once it is there, the rest is */

    for (i = 0; i < 2 * n + 2; i++) {
        rc = walrus_cli_commit(&ctx->files[i]);
        if (rc != WALRUS_CLI_OK) {
            return rc;
        }
    }

    return WALRUS_CLI_OK;
}


int
walrus_cli_mkdir(const char *dir)
{
    struct stat  st;

    if (mkdir(dir, 0777) == 0) {
        return WALRUS_CLI_OK;
    }

    if (errno != EEXIST) {
        walrus_cli_error("%s: cannot create directory: %s", dir,
                         strerror(errno));
        return WALRUS_CLI_IO;
    }

    if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
        walrus_cli_error("%s: exists and is not a directory", dir);
        return WALRUS_CLI_IO;
    }

    return WALRUS_CLI_OK;
}
