/*
 * Codec benchmark: encode, sliver verification and decode of a random
 * blob, each beside the bounds measured in the same run: the raw
 * primitives (OpenSSL SHA-256 one-shot, ISA-L ec_encode_data, memcpy)
 * doing the same amount of work, and the same with the leaves hashed by
 * the multi-buffer library (libipsec-mb) instead.  Single threaded.
 *
 *   codec_bench [-b blob_size] [-s segment_size] [-r reps] [-n 7,10,...]
 *
 * or WALRUS_BENCH_BLOB, WALRUS_BENCH_SEGMENT, WALRUS_BENCH_REPS and
 * WALRUS_BENCH_N in the environment (options win).  Sizes take a K, M or
 * G suffix (powers of 1024).  MB/s are 10^6 bytes per second.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <isa-l/erasure_code.h>
#include <walrus_codec.h>
#include <walrus_sha256.h>

#if (WALRUS_HAVE_IPSEC_MB)
#define NO_COMPAT_IMB_API_053
#include <intel-ipsec-mb.h>
#endif


#define BENCH_MAX_N     16
#define BENCH_MAX_ROWS  (4 * BENCH_MAX_N)
#define BENCH_INNER     (1 + 2 * WALRUS_HASH_LEN)
#define BENCH_HOT       (256 * 1024)
#define BENCH_HEADROOM  64


typedef struct {
    const char  *op;
    const char  *what;       /* what the bound is */
    unsigned     n;
    double       bytes;      /* bytes the MB/s figures count */
    double       t;          /* best seconds of the operation */
    double       t_sha;      /* best seconds of the SHA-256 part */
    double       t_mb;       /* the same, leaves multi-buffer; 0: none */
    double       t_ec;       /* best seconds of the ISA-L part (or copy) */
    double       t_stream;   /* SHA-256 part over one large buffer */
    double       target;     /* 0: informative */
} bench_row_t;


typedef struct {
    unsigned           n;
    unsigned           p;
    unsigned           s;
    unsigned           reps;
    const uint8_t     *blob;
    uint64_t           len;
    uint32_t           segsize;
    uint64_t           nseg;
    size_t            *sym;          /* per segment */
    size_t             maxsym;
    size_t             slen;         /* primary sliver slot: s * maxsym */
    size_t             padded;       /* output slot: p * slen */
    walrus_codec_t    *codec;
    walrus_segment_t   seg;
    EVP_MD            *md;
    uint8_t           *gen[2];       /* n x k, indexed by walrus_axis_e */
    uint8_t           *tables[2];
    uint8_t          **ptrs;         /* 2n pointers */
    uint8_t           *pair_hashes;  /* nseg * n * 64 */
    uint8_t           *roots;        /* nseg * 32 */
    uint8_t           *sys;          /* nseg * p slivers 0..p-1 */
    uint8_t           *high;         /* nseg * p slivers n-p..n-1 */
    uint8_t           *out;          /* nseg * padded */
    uint8_t           *scratch;      /* n * n * maxsym */
    uint8_t           *shabuf;       /* bytes of one encoded segment */
    size_t             shabuf_size;
#if (WALRUS_HAVE_IPSEC_MB)
    IMB_MGR           *mgr[2];       /* the best architecture, SSE */
    const uint8_t    **msg;          /* n * n messages */
    uint8_t          **dst;          /* n * n digests */
    uint8_t           *digests;
#endif
} bench_t;


static double bench_now(void);
static void bench_fill(uint8_t *buf, size_t len);
static int bench_size(const char *text, uint64_t *size);
static int bench_list(const char *text, unsigned *ns, unsigned *count);
static uint64_t bench_inner_nodes(uint64_t count);
static uint64_t bench_encode_hashed(unsigned n, size_t sym);
static uint64_t bench_verify_hashed(unsigned n, size_t sym);
static double bench_min(double a, double b);
static int bench_n(unsigned n, const uint8_t *blob, uint64_t len,
    uint32_t segsize, unsigned reps, bench_row_t *rows);
static int bench_init(bench_t *b);
static void bench_free(bench_t *b);
static int bench_prepare(bench_t *b);
static double bench_sha(bench_t *b, uint64_t bytes, uint64_t times,
    int stream);
static double bench_mb(bench_t *b, uint64_t count, size_t len,
    uint64_t batches, uint64_t inner);
static double bench_ec_encode(bench_t *b);
static double bench_ec_verify(bench_t *b);
static double bench_ec_decode(bench_t *b);
static int bench_encode(bench_t *b, bench_row_t *row);
static int bench_verify(bench_t *b, bench_row_t *row);
static int bench_decode_sys(bench_t *b, bench_row_t *row);
static int bench_decode_high(bench_t *b, bench_row_t *row);
static int bench_check_out(bench_t *b, const char *what);
static void bench_machine(void);
static void bench_print(const bench_row_t *rows, unsigned nrows);


int
main(int argc, char **argv)
{
    int           opt, rc;
    char         *env;
    uint8_t      *blob;
    uint64_t      len, segsize, reps;
    unsigned      i, nn, nrows, ns[BENCH_MAX_N];
    bench_row_t   rows[BENCH_MAX_ROWS];

    len = 64 * 1024 * 1024;
    segsize = 4 * 1024 * 1024;
    reps = 5;
    ns[0] = 7;
    ns[1] = 10;
    ns[2] = 31;
    ns[3] = 100;
    nn = 4;

    env = getenv("WALRUS_BENCH_BLOB");
    if (env != NULL && bench_size(env, &len) != 0) {
        goto usage;
    }

    env = getenv("WALRUS_BENCH_SEGMENT");
    if (env != NULL && bench_size(env, &segsize) != 0) {
        goto usage;
    }

    env = getenv("WALRUS_BENCH_REPS");
    if (env != NULL && bench_size(env, &reps) != 0) {
        goto usage;
    }

    env = getenv("WALRUS_BENCH_N");
    if (env != NULL && bench_list(env, ns, &nn) != 0) {
        goto usage;
    }

    while ((opt = getopt(argc, argv, "b:s:r:n:h")) != -1) {
        switch (opt) {

        case 'b':
            if (bench_size(optarg, &len) != 0) {
                goto usage;
            }
            break;

        case 's':
            if (bench_size(optarg, &segsize) != 0) {
                goto usage;
            }
            break;

        case 'r':
            if (bench_size(optarg, &reps) != 0) {
                goto usage;
            }
            break;

        case 'n':
            if (bench_list(optarg, ns, &nn) != 0) {
                goto usage;
            }
            break;

        default:
            goto usage;
        }
    }

    if (optind != argc || len == 0 || len > ((uint64_t) 1 << 34)
        || segsize < WALRUS_MIN_SEGMENT_SIZE
        || segsize > WALRUS_MAX_SEGMENT_SIZE || reps == 0 || reps > 1000)
    {
        goto usage;
    }

    blob = malloc(len);
    if (blob == NULL) {
        fprintf(stderr, "codec_bench: out of memory\n");
        return 1;
    }

    bench_fill(blob, len);

    printf("# walrus codec benchmark\n\n");
    bench_machine();
    printf("blob %llu bytes, segment size %llu, best of %u repetitions, "
           "single thread; MB = 10^6 bytes\n\n",
           (unsigned long long) len, (unsigned long long) segsize,
           (unsigned) reps);
    fflush(stdout);

    nrows = 0;
    rc = 0;

    for (i = 0; i < nn; i++) {
        if (bench_n(ns[i], blob, len, (uint32_t) segsize, (unsigned) reps,
                    rows + nrows)
            != 0)
        {
            rc = 1;
            break;
        }

        nrows += 4;
    }

    bench_print(rows, nrows);
    free(blob);

    if (rc != 0) {
        fprintf(stderr, "codec_bench: FAILED\n");
    }

    return rc;

usage:

    fprintf(stderr, "usage: codec_bench [-b blob_size] [-s segment_size] "
            "[-r reps] [-n n1,n2,...]\n"
            "  sizes take a K, M or G suffix; defaults -b 64M -s 4M -r 5 "
            "-n 7,10,31,100\n"
            "  environment: WALRUS_BENCH_BLOB, WALRUS_BENCH_SEGMENT, "
            "WALRUS_BENCH_REPS, WALRUS_BENCH_N\n");

    return 2;
}


static double
bench_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}


static void
bench_fill(uint8_t *buf, size_t len)
{
    size_t    i;
    uint64_t  x;

    x = 0x2545f4914f6cdd1dULL;

    for (i = 0; i < len; i++) {
        if (i % 8 == 0) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }

        buf[i] = (uint8_t) (x >> (8 * (i % 8)));
    }
}


static int
bench_size(const char *text, uint64_t *size)
{
    char                *end;
    unsigned long long   v;

    v = strtoull(text, &end, 10);

    if (end == text) {
        return -1;
    }

    switch (*end) {

    case 'G':
    case 'g':
        v <<= 10;
        /* fall through */

    case 'M':
    case 'm':
        v <<= 10;
        /* fall through */

    case 'K':
    case 'k':
        v <<= 10;
        end++;
        break;

    default:
        break;
    }

    if (*end != '\0') {
        return -1;
    }

    *size = v;

    return 0;
}


static int
bench_list(const char *text, unsigned *ns, unsigned *count)
{
    char           *end;
    unsigned        nn;
    unsigned long   v;

    nn = 0;

    for ( ;; ) {
        v = strtoul(text, &end, 10);

        if (end == text || v < WALRUS_MIN_SHARDS || v > WALRUS_MAX_SHARDS
            || nn == BENCH_MAX_N)
        {
            return -1;
        }

        ns[nn++] = (unsigned) v;

        if (*end == '\0') {
            break;
        }

        if (*end != ',') {
            return -1;
        }

        text = end + 1;
    }

    *count = nn;

    return 0;
}


/* inner nodes of a Merkle tree of count leaves */

static uint64_t
bench_inner_nodes(uint64_t count)
{
    uint64_t  inner;

    for (inner = 0; count > 1; /* void */) {
        count = (count + 1) / 2;
        inner += count;
    }

    return inner;
}


/*
 * Bytes walrus_segment_encode() feeds to SHA-256 for one segment: the n^2
 * leaves (0x00 || symbol), the inner nodes of the 2n sliver trees, the n
 * pair leaves and the inner nodes of the segment tree.
 */

static uint64_t
bench_encode_hashed(unsigned n, size_t sym)
{
    uint64_t  nn;

    nn = n;

    return nn * nn * (1 + sym) + (2 * nn + 1) * bench_inner_nodes(nn)
           * BENCH_INNER + nn * (1 + WALRUS_PAIR_HASH_LEN);
}


/* bytes hashed to check one sliver: its n leaves and their tree */

static uint64_t
bench_verify_hashed(unsigned n, size_t sym)
{
    return (uint64_t) n * (1 + sym) + bench_inner_nodes(n) * BENCH_INNER;
}


static double
bench_min(double a, double b)
{
    return a < b ? a : b;
}


static int
bench_n(unsigned n, const uint8_t *blob, uint64_t len, uint32_t segsize,
    unsigned reps, bench_row_t *rows)
{
    int      rc;
    bench_t  b;

    memset(&b, 0, sizeof(bench_t));

    b.n = n;
    b.blob = blob;
    b.len = len;
    b.segsize = segsize;
    b.reps = reps;

    rc = bench_init(&b);

    if (rc == 0) {
        rc = bench_prepare(&b);
    }

    if (rc == 0) {
        rc = bench_encode(&b, &rows[0]);
    }

    if (rc == 0) {
        rc = bench_verify(&b, &rows[1]);
    }

    if (rc == 0) {
        rc = bench_decode_sys(&b, &rows[2]);
    }

    if (rc == 0) {
        rc = bench_decode_high(&b, &rows[3]);
    }

    bench_free(&b);

    return rc;
}


static int
bench_init(bench_t *b)
{
    size_t                  cells;
    uint64_t                g;
    unsigned                axis, k;
    const walrus_params_t  *wp;

    b->codec = walrus_codec_create(b->n);
    if (b->codec == NULL) {
        fprintf(stderr, "n=%u: walrus_codec_create failed\n", b->n);
        return -1;
    }

    wp = walrus_codec_params(b->codec);
    b->p = wp->p;
    b->s = wp->s;
    b->nseg = walrus_segment_count(b->len, b->segsize);

    b->sym = calloc(b->nseg, sizeof(size_t));
    if (b->sym == NULL) {
        goto nomem;
    }

    for (g = 0; g < b->nseg; g++) {
        b->sym[g] = walrus_symbol_size(wp,
                                       walrus_segment_length(b->len,
                                                             b->segsize, g));
        if (b->sym[g] > b->maxsym) {
            b->maxsym = b->sym[g];
        }
    }

    walrus_segment_init(&b->seg);

    cells = (size_t) b->n * b->n;
    b->slen = (size_t) b->s * b->maxsym;
    b->padded = (size_t) b->p * b->slen;
    b->shabuf_size = bench_encode_hashed(b->n, b->maxsym);

    b->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    b->ptrs = calloc(2 * (size_t) b->n, sizeof(uint8_t *));
    b->pair_hashes = malloc(b->nseg * b->n * WALRUS_PAIR_HASH_LEN);
    b->roots = malloc(b->nseg * WALRUS_HASH_LEN);
    /* the byte before a sliver is the prefix of its first leaf in place */
    b->sys = malloc(BENCH_HEADROOM + b->nseg * b->padded);
    b->sys = b->sys != NULL ? b->sys + BENCH_HEADROOM : NULL;
    b->high = malloc(b->nseg * b->padded);
    b->out = malloc(b->nseg * b->padded);
    b->scratch = malloc(cells * b->maxsym);
    b->shabuf = malloc(b->shabuf_size);

    if (b->md == NULL || b->ptrs == NULL || b->pair_hashes == NULL
        || b->roots == NULL || b->sys == NULL || b->high == NULL
        || b->out == NULL || b->scratch == NULL || b->shabuf == NULL)
    {
        goto nomem;
    }

    /* the same codes as the codec: [n, p] primary, [n, s] secondary */

    for (axis = 0; axis < 2; axis++) {
        k = axis == WALRUS_PRIMARY ? b->p : b->s;
        b->gen[axis] = malloc((size_t) b->n * k);
        b->tables[axis] = malloc((size_t) 32 * k * (b->n - k));

        if (b->gen[axis] == NULL || b->tables[axis] == NULL) {
            goto nomem;
        }

        gf_gen_cauchy1_matrix(b->gen[axis], (int) b->n, (int) k);
        ec_init_tables((int) k, (int) (b->n - k),
                       b->gen[axis] + (size_t) k * k, b->tables[axis]);
    }

#if (WALRUS_HAVE_IPSEC_MB)

    if (walrus_sha256_self_test() == WALRUS_OK) {
        b->mgr[0] = alloc_mb_mgr(0);
        b->mgr[1] = alloc_mb_mgr(0);
        b->msg = calloc(cells, sizeof(uint8_t *));
        b->dst = calloc(cells, sizeof(uint8_t *));
        b->digests = malloc(cells * WALRUS_HASH_LEN);

        if (b->mgr[0] == NULL || b->mgr[1] == NULL || b->msg == NULL
            || b->dst == NULL || b->digests == NULL)
        {
            goto nomem;
        }

        init_mb_mgr_auto(b->mgr[0], NULL);
        init_mb_mgr_sse(b->mgr[1]);
    }

#endif

    bench_fill(b->scratch, cells * b->maxsym);
    bench_fill(b->shabuf, b->shabuf_size);
    memset(b->out, 0, b->nseg * b->padded);

    return 0;

nomem:

    fprintf(stderr, "n=%u: out of memory\n", b->n);

    return -1;
}


static void
bench_free(bench_t *b)
{
    unsigned  axis;

    for (axis = 0; axis < 2; axis++) {
        free(b->gen[axis]);
        free(b->tables[axis]);
    }

#if (WALRUS_HAVE_IPSEC_MB)
    if (b->mgr[0] != NULL) {
        free_mb_mgr(b->mgr[0]);
    }

    if (b->mgr[1] != NULL) {
        free_mb_mgr(b->mgr[1]);
    }

    free(b->msg);
    free(b->dst);
    free(b->digests);
#endif

    walrus_segment_free(&b->seg);
    walrus_codec_destroy(b->codec);
    EVP_MD_free(b->md);
    free(b->sym);
    free(b->ptrs);
    free(b->pair_hashes);
    free(b->roots);
    free(b->sys != NULL ? b->sys - BENCH_HEADROOM : NULL);
    free(b->high);
    free(b->out);
    free(b->scratch);
    free(b->shabuf);
}


/*
 * An untimed encode of every segment: keeps the pair hashes, the root and
 * the primary slivers 0..p-1 and n-p..n-1 for the timed runs, and checks
 * that the systematic slivers are the blob's bytes.
 */

static int
bench_prepare(bench_t *b)
{
    int        rc;
    size_t     slen;
    uint64_t   g, off, glen;
    unsigned   i;

    for (g = 0, off = 0; g < b->nseg; g++, off += glen) {
        glen = walrus_segment_length(b->len, b->segsize, g);

        rc = walrus_segment_encode(b->codec, b->blob + off, glen, &b->seg);
        if (rc != WALRUS_OK) {
            fprintf(stderr, "n=%u: encode: %s\n", b->n, walrus_strerror(rc));
            return -1;
        }

        if (b->seg.symbol_size != b->sym[g]) {
            fprintf(stderr, "n=%u: unexpected symbol size\n", b->n);
            return -1;
        }

        memcpy(b->pair_hashes + g * b->n * WALRUS_PAIR_HASH_LEN,
               b->seg.pair_hashes, (size_t) b->n * WALRUS_PAIR_HASH_LEN);
        memcpy(b->roots + g * WALRUS_HASH_LEN, b->seg.root, WALRUS_HASH_LEN);

        slen = (size_t) b->s * b->sym[g];

        for (i = 0; i < b->p; i++) {
            memcpy(b->sys + g * b->padded + i * b->slen,
                   walrus_segment_primary(b->codec, &b->seg, i), slen);
            memcpy(b->high + g * b->padded + i * b->slen,
                   walrus_segment_primary(b->codec, &b->seg,
                                          b->n - b->p + i),
                   slen);
        }

        for (i = 0; i < b->p && (uint64_t) i * slen < glen; i++) {
            if (memcmp(b->sys + g * b->padded + i * b->slen,
                       b->blob + off + i * slen,
                       glen - i * slen < slen ? glen - i * slen : slen)
                != 0)
            {
                fprintf(stderr, "n=%u: systematic sliver %u of segment "
                        "%llu is not the data\n", b->n, i,
                        (unsigned long long) g);
                return -1;
            }
        }
    }

    return 0;
}


/*
 * SHA-256 of `bytes` bytes, `times` times: one-shot EVP_Digest() calls of
 * BENCH_HOT bytes over a buffer that stays in L2 (the compute bound), or
 * with `stream` one call over `bytes` bytes of a large buffer (which this
 * run reads from memory: the literal "one large buffer" figure).
 */

static double
bench_sha(bench_t *b, uint64_t bytes, uint64_t times, int stream)
{
    double         t0;
    size_t         chunk;
    uint64_t       i, left;
    unsigned char  md[EVP_MAX_MD_SIZE];

    t0 = bench_now();

    for (i = 0; i < times; i++) {
        if (stream) {
            if (EVP_Digest(b->shabuf, bytes, md, NULL, b->md, NULL) != 1) {
                return -1e9;
            }

            continue;
        }

        for (left = bytes; left > 0; left -= chunk) {
            chunk = left < BENCH_HOT ? left : BENCH_HOT;

            if (EVP_Digest(b->shabuf, chunk, md, NULL, b->md, NULL) != 1) {
                return -1e9;
            }
        }
    }

    return bench_now() - t0;
}


/*
 * The multi-buffer bound of a SHA-256 part: `batches` batches of `count`
 * messages of `len` bytes (a leaf and its prefix) submitted to the library
 * directly, all reading the same L2-resident bytes like the OpenSSL bound,
 * with whichever manager is faster for that batch (the code under test
 * chooses too); plus `inner` bytes of inner nodes and pair leaves counted
 * as in the OpenSSL bound.  0 when the library is not there.
 */

static double
bench_mb(bench_t *b, uint64_t count, size_t len, uint64_t batches,
    uint64_t inner)
{
#if (WALRUS_HAVE_IPSEC_MB)
    double     t0, t, best;
    uint64_t   i, k;
    unsigned   m;
    IMB_JOB   *job;

    if (b->mgr[0] == NULL) {
        return 0;
    }

    for (i = 0; i < count; i++) {
        b->msg[i] = b->shabuf;
        b->dst[i] = b->digests + i * WALRUS_HASH_LEN;
    }

    best = 1e30;

    for (m = 0; m < 2; m++) {
        t0 = bench_now();

        for (k = 0; k < batches; k++) {
            for (i = 0; i < count; i++) {
                job = IMB_GET_NEXT_JOB(b->mgr[m]);
                job->cipher_mode = IMB_CIPHER_NULL;
                job->cipher_direction = IMB_DIR_ENCRYPT;
                job->chain_order = IMB_ORDER_HASH_CIPHER;
                job->hash_alg = IMB_AUTH_SHA_256;
                job->src = b->msg[i];
                job->hash_start_src_offset_in_bytes = 0;
                job->msg_len_to_hash_in_bytes = len;
                job->auth_tag_output = b->dst[i];
                job->auth_tag_output_len_in_bytes = WALRUS_HASH_LEN;

                for (job = IMB_SUBMIT_JOB_NOCHECK(b->mgr[m]);
                     job != NULL;
                     job = IMB_GET_COMPLETED_JOB(b->mgr[m]))
                {
                    /* void */
                }
            }

            while (IMB_FLUSH_JOB(b->mgr[m]) != NULL) {
                /* void */
            }
        }

        t = bench_now() - t0;
        best = bench_min(best, t);
    }

    return best + bench_sha(b, inner, batches, 0);
#else
    return 0;
#endif
}


/* the ec_encode_data() calls walrus_segment_encode() makes */

static double
bench_ec_encode(bench_t *b)
{
    double     t0;
    size_t     sym, row;
    uint64_t   g;
    unsigned   r, i, n, p, s;

    n = b->n;
    p = b->p;
    s = b->s;

    t0 = bench_now();

    for (g = 0; g < b->nseg; g++) {
        sym = b->sym[g];
        row = (size_t) n * sym;

        for (r = 0; r < p; r++) {
            for (i = 0; i < n; i++) {
                b->ptrs[i] = b->scratch + r * row + i * sym;
            }

            ec_encode_data((int) sym, (int) s, (int) (n - s),
                           b->tables[WALRUS_SECONDARY], b->ptrs,
                           b->ptrs + s);
        }

        for (r = 0; r < n; r++) {
            b->ptrs[r] = b->scratch + r * row;
        }

        ec_encode_data((int) row, (int) p, (int) (n - p),
                       b->tables[WALRUS_PRIMARY], b->ptrs, b->ptrs + p);
    }

    return bench_now() - t0;
}


/* the extension of primary slivers 0..p-1 of every segment */

static double
bench_ec_verify(bench_t *b)
{
    double     t0;
    size_t     sym;
    uint64_t   g;
    unsigned   i, r, n, s;

    n = b->n;
    s = b->s;

    t0 = bench_now();

    for (g = 0; g < b->nseg; g++) {
        sym = b->sym[g];

        for (r = 0; r < b->p; r++) {
            for (i = 0; i < n; i++) {
                b->ptrs[i] = i < s ? b->sys + g * b->padded + r * b->slen
                                     + i * sym
                                   : b->scratch + (i - s) * sym;
            }

            ec_encode_data((int) sym, (int) s, (int) (n - s),
                           b->tables[WALRUS_SECONDARY], b->ptrs,
                           b->ptrs + s);
        }
    }

    return bench_now() - t0;
}


/*
 * Decoding p systematic slivers from p others: one call of len p * sym
 * with k = p and p outputs per segment, plus the extension of each
 * decoded sliver for its consistency check (the matrix inversion and the
 * table setup are left out of the bound).
 */

static double
bench_ec_decode(bench_t *b)
{
    double     t0;
    size_t     sym, slen;
    uint64_t   g;
    unsigned   i, r, n, p, s;

    n = b->n;
    p = b->p;
    s = b->s;

    t0 = bench_now();

    for (g = 0; g < b->nseg; g++) {
        sym = b->sym[g];
        slen = (size_t) s * sym;

        for (i = 0; i < 2 * p; i++) {
            b->ptrs[i] = i < p ? b->high + g * b->padded + i * b->slen
                               : b->scratch + (i - p) * slen;
        }

        ec_encode_data((int) slen, (int) p, (int) p,
                       b->tables[WALRUS_PRIMARY], b->ptrs, b->ptrs + p);

        for (r = 0; r < p; r++) {
            for (i = 0; i < n; i++) {
                b->ptrs[i] = i < s ? b->scratch + r * slen + i * sym
                                   : b->scratch + p * slen + (i - s) * sym;
            }

            ec_encode_data((int) sym, (int) s, (int) (n - s),
                           b->tables[WALRUS_SECONDARY], b->ptrs,
                           b->ptrs + s);
        }
    }

    return bench_now() - t0;
}


static int
bench_encode(bench_t *b, bench_row_t *row)
{
    int        rc;
    double     t0, t, sha, st, ec, mb;
    uint64_t   g, off, glen, hashed, leaves;
    unsigned   rep;

    row->op = "encode";
    row->what = "SHA-256 + ec_encode_data";
    row->n = b->n;
    row->bytes = (double) b->len;
    row->target = 2.0;
    row->t = row->t_sha = row->t_ec = row->t_stream = row->t_mb = 1e30;

    for (rep = 0; rep < b->reps; rep++) {
        t0 = bench_now();

        for (g = 0, off = 0; g < b->nseg; g++, off += glen) {
            glen = walrus_segment_length(b->len, b->segsize, g);

            rc = walrus_segment_encode(b->codec, b->blob + off, glen,
                                       &b->seg);
            if (rc != WALRUS_OK) {
                fprintf(stderr, "n=%u: encode: %s\n", b->n,
                        walrus_strerror(rc));
                return -1;
            }
        }

        t = bench_now() - t0;

        /* the last segment's root must not change between runs */

        if (memcmp(b->seg.root,
                   b->roots + (b->nseg - 1) * WALRUS_HASH_LEN,
                   WALRUS_HASH_LEN)
            != 0)
        {
            fprintf(stderr, "n=%u: encode is not deterministic\n", b->n);
            return -1;
        }

        sha = 0;
        st = 0;
        mb = 0;

        for (g = 0; g < b->nseg; g++) {
            hashed = bench_encode_hashed(b->n, b->sym[g]);
            leaves = (uint64_t) b->n * b->n;
            sha += bench_sha(b, hashed, 1, 0);
            st += bench_sha(b, hashed, 1, 1);
            mb += bench_mb(b, leaves, 1 + b->sym[g], 1,
                           hashed - leaves * (1 + b->sym[g]));
        }

        ec = bench_ec_encode(b);

        if (sha < 0 || st < 0) {
            fprintf(stderr, "n=%u: EVP_Digest failed\n", b->n);
            return -1;
        }

        row->t = bench_min(row->t, t);
        row->t_sha = bench_min(row->t_sha, sha);
        row->t_mb = bench_min(row->t_mb, mb);
        row->t_stream = bench_min(row->t_stream, st);
        row->t_ec = bench_min(row->t_ec, ec);
    }

    return 0;
}


static int
bench_verify(bench_t *b, bench_row_t *row)
{
    int                     rc;
    double                  t0, t, sha, st, ec, mb;
    uint8_t                *slivers[WALRUS_MAX_SHARDS],
                            hashes[WALRUS_MAX_SHARDS * WALRUS_HASH_LEN];
    uint64_t                g, hashed;
    unsigned                i, rep;

    row->op = "verify p primary slivers";
    row->what = "SHA-256 + ec_encode_data";
    row->n = b->n;
    row->bytes = 0;
    row->target = 2.0;
    row->t = row->t_sha = row->t_ec = row->t_stream = row->t_mb = 1e30;

    for (g = 0; g < b->nseg; g++) {
        row->bytes += (double) b->p * b->s * b->sym[g];
    }

    /*
     * As the gateway does: the p slivers of a segment in one batch, hashed
     * where they are (side by side, after BENCH_HEADROOM bytes)
     */

    for (rep = 0; rep < b->reps; rep++) {
        t0 = bench_now();

        for (g = 0; g < b->nseg; g++) {
            for (i = 0; i < b->p; i++) {
                slivers[i] = b->sys + g * b->padded + i * b->slen;
            }

            rc = walrus_slivers_hash(b->codec, WALRUS_PRIMARY, b->sym[g],
                                     slivers, b->p, hashes);

            for (i = 0; rc == WALRUS_OK && i < b->p; i++) {
                if (memcmp(hashes + i * WALRUS_HASH_LEN,
                           b->pair_hashes
                           + (g * b->n + i) * WALRUS_PAIR_HASH_LEN,
                           WALRUS_HASH_LEN)
                    != 0)
                {
                    rc = WALRUS_EHASH;
                }
            }

            if (rc != WALRUS_OK) {
                fprintf(stderr, "n=%u: verify of segment %llu: %s\n",
                        b->n, (unsigned long long) g, walrus_strerror(rc));
                return -1;
            }
        }

        t = bench_now() - t0;

        sha = 0;
        st = 0;
        mb = 0;

        for (g = 0; g < b->nseg; g++) {
            hashed = bench_verify_hashed(b->n, b->sym[g]);
            sha += bench_sha(b, hashed, b->p, 0);
            st += bench_sha(b, hashed, b->p, 1);
            mb += bench_mb(b, (uint64_t) b->p * b->n, 1 + b->sym[g], 1,
                           b->p * (hashed - (uint64_t) b->n
                                            * (1 + b->sym[g])));
        }

        ec = bench_ec_verify(b);

        if (sha < 0 || st < 0) {
            fprintf(stderr, "n=%u: EVP_Digest failed\n", b->n);
            return -1;
        }

        row->t = bench_min(row->t, t);
        row->t_sha = bench_min(row->t_sha, sha);
        row->t_mb = bench_min(row->t_mb, mb);
        row->t_stream = bench_min(row->t_stream, st);
        row->t_ec = bench_min(row->t_ec, ec);
    }

    /* and a damaged sliver must be refused */

    b->sys[0] ^= 1;
    rc = walrus_sliver_verify(b->codec, WALRUS_PRIMARY, 0, b->sym[0],
                              b->sys, (size_t) b->s * b->sym[0],
                              b->pair_hashes);
    b->sys[0] ^= 1;

    if (rc != WALRUS_EHASH) {
        fprintf(stderr, "n=%u: a damaged sliver verifies\n", b->n);
        return -1;
    }

    return 0;
}


static int
bench_check_out(bench_t *b, const char *what)
{
    uint64_t  g, off, glen;

    for (g = 0, off = 0; g < b->nseg; g++, off += glen) {
        glen = walrus_segment_length(b->len, b->segsize, g);

        if (memcmp(b->out + g * b->padded, b->blob + off, glen) != 0) {
            fprintf(stderr, "n=%u: %s: segment %llu differs from the blob\n",
                    b->n, what, (unsigned long long) g);
            return -1;
        }
    }

    return 0;
}


static int
bench_decode_sys(bench_t *b, bench_row_t *row)
{
    int             rc;
    double          t0, t, cp;
    size_t          slen;
    uint64_t        g, glen;
    unsigned        i, rep;
    const uint8_t  *present[WALRUS_MAX_SHARDS];

    row->op = "decode, systematic";
    row->what = "memcpy";
    row->n = b->n;
    row->bytes = (double) b->len;
    row->target = 1.0;
    row->t = row->t_sha = row->t_ec = row->t_stream = 1e30;

    for (rep = 0; rep < b->reps; rep++) {
        memset(b->out, 0, b->nseg * b->padded);

        t0 = bench_now();

        for (g = 0; g < b->nseg; g++) {
            glen = walrus_segment_length(b->len, b->segsize, g);

            for (i = 0; i < b->n; i++) {
                present[i] = i < b->p ? b->sys + g * b->padded + i * b->slen
                                      : NULL;
            }

            rc = walrus_segment_decode(b->codec,
                                       b->pair_hashes
                                       + g * b->n * WALRUS_PAIR_HASH_LEN,
                                       glen, present,
                                       b->out + g * b->padded);
            if (rc != WALRUS_OK) {
                fprintf(stderr, "n=%u: systematic decode: %s\n", b->n,
                        walrus_strerror(rc));
                return -1;
            }
        }

        t = bench_now() - t0;

        if (bench_check_out(b, "systematic decode") != 0) {
            return -1;
        }

        /* the same bytes copied to the same place, from the same state */

        memset(b->out, 0, b->nseg * b->padded);

        t0 = bench_now();

        for (g = 0; g < b->nseg; g++) {
            slen = (size_t) b->s * b->sym[g];

            for (i = 0; i < b->p; i++) {
                memcpy(b->out + g * b->padded + i * slen,
                       b->sys + g * b->padded + i * b->slen, slen);
            }
        }

        cp = bench_now() - t0;

        row->t = bench_min(row->t, t);
        row->t_ec = bench_min(row->t_ec, cp);
    }

    row->t_sha = 0;
    row->t_mb = 0;
    row->t_stream = 0;

    return 0;
}


static int
bench_decode_high(bench_t *b, bench_row_t *row)
{
    int             rc;
    double          t0, t, sha, st, ec, mb;
    uint64_t        g, glen, hashed;
    unsigned        i, rep, lo;
    const uint8_t  *present[WALRUS_MAX_SHARDS];

    lo = b->n - b->p;

    row->op = "decode, slivers n-p..n-1";
    row->what = "ec_encode_data + p x verify";
    row->n = b->n;
    row->bytes = (double) b->len;
    row->target = 0;
    row->t = row->t_sha = row->t_ec = row->t_stream = row->t_mb = 1e30;

    for (rep = 0; rep < b->reps; rep++) {
        memset(b->out, 0, b->nseg * b->padded);

        t0 = bench_now();

        for (g = 0; g < b->nseg; g++) {
            glen = walrus_segment_length(b->len, b->segsize, g);

            for (i = 0; i < b->n; i++) {
                present[i] = i >= lo ? b->high + g * b->padded
                                       + (size_t) (i - lo) * b->slen
                                     : NULL;
            }

            rc = walrus_segment_decode(b->codec,
                                       b->pair_hashes
                                       + g * b->n * WALRUS_PAIR_HASH_LEN,
                                       glen, present,
                                       b->out + g * b->padded);
            if (rc != WALRUS_OK) {
                fprintf(stderr, "n=%u: decode from slivers %u..%u: %s\n",
                        b->n, lo, b->n - 1, walrus_strerror(rc));
                return -1;
            }
        }

        t = bench_now() - t0;

        if (bench_check_out(b, "non-systematic decode") != 0) {
            return -1;
        }

        sha = 0;
        st = 0;
        mb = 0;

        for (g = 0; g < b->nseg; g++) {
            hashed = bench_verify_hashed(b->n, b->sym[g]);
            sha += bench_sha(b, hashed, b->p, 0);
            st += bench_sha(b, hashed, b->p, 1);
            mb += bench_mb(b, (uint64_t) b->p * b->n, 1 + b->sym[g], 1,
                           b->p * (hashed - (uint64_t) b->n
                                            * (1 + b->sym[g])));
        }

        ec = bench_ec_decode(b);

        if (sha < 0 || st < 0) {
            fprintf(stderr, "n=%u: EVP_Digest failed\n", b->n);
            return -1;
        }

        row->t = bench_min(row->t, t);
        row->t_sha = bench_min(row->t_sha, sha);
        row->t_mb = bench_min(row->t_mb, mb);
        row->t_stream = bench_min(row->t_stream, st);
        row->t_ec = bench_min(row->t_ec, ec);
    }

    return 0;
}


static void
bench_machine(void)
{
    char        line[8192], model[256], date[32], word[32];
    FILE       *f;
    char       *v, *nl;
    time_t      now;
    unsigned    i;
    struct tm   tm;
    const char *flags[] = { "sha_ni", "avx2", "avx512f", "gfni" };
    int         have[4];

    strcpy(model, "unknown");
    memset(have, 0, sizeof(have));

    f = fopen("/proc/cpuinfo", "r");

    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        v = strchr(line, ':');
        if (v == NULL) {
            continue;
        }

        nl = strchr(v, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }

        if (strncmp(line, "model name", 10) == 0) {
            snprintf(model, sizeof(model), "%s", v + 2);

        } else if (strncmp(line, "flags", 5) == 0) {
            strcat(v, " ");

            for (i = 0; i < 4; i++) {
                snprintf(word, sizeof(word), " %s ", flags[i]);
                have[i] = strstr(v, word) != NULL;
            }
        }
    }

    if (f != NULL) {
        fclose(f);
    }

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d", &tm);

    printf("machine: nproc %ld, %s, flags:", sysconf(_SC_NPROCESSORS_ONLN),
           model);

    for (i = 0; i < 4; i++) {
        printf(" %s%s", have[i] ? "+" : "-", flags[i]);
    }

    printf("; %s; %s\n", OpenSSL_version(OPENSSL_VERSION), date);
}


static void
bench_print(const bench_row_t *rows, unsigned nrows)
{
    int                 met;
    double              bound, mbound;
    unsigned            i;
    const bench_row_t  *r;

    printf("leaves: %s\n\n", walrus_sha256_engine());

    printf("| n | operation | MB/s | OpenSSL bound MB/s | ratio to it "
           "| multi-buffer bound MB/s | ratio to it | target | bound |\n");
    printf("|---:|---|---:|---:|---:|---:|---:|---|---|\n");

    for (i = 0; i < nrows; i++) {
        r = &rows[i];
        bound = r->t_sha + r->t_ec;
        mbound = r->t_mb + r->t_ec;

        printf("| %u | %s | %.0f | %.0f | %.2f | ", r->n, r->op,
               r->bytes / r->t / 1e6, r->bytes / bound / 1e6,
               bound / r->t);

        if (r->t_mb > 0) {
            printf("%.0f | %.2f | ", r->bytes / mbound / 1e6, mbound / r->t);

        } else {
            printf("- | - | ");
        }

        /*
         * encode and verify: at least twice the OpenSSL bound and 0.85 of
         * the multi-buffer one (0.80 of the OpenSSL bound without the
         * library); decode from the systematic slivers: the memcpy
         * bound, within 10%
         */

        if (r->target >= 2 && r->t_mb > 0) {
            met = bound / r->t >= 2 && mbound / r->t >= 0.85;
            printf(">= 2.00 and >= 0.85 (%s) | %s |\n",
                   met ? "met" : "missed", r->what);

        } else if (r->target >= 2) {
            met = bound / r->t >= 0.80;
            printf(">= 0.80 (%s) | %s |\n", met ? "met" : "missed",
                   r->what);

        } else if (r->target > 0) {
            met = bound / r->t >= 0.90;
            printf("~ %.2f (%s) | %s |\n", r->target,
                   met ? "met" : "missed", r->what);

        } else {
            printf("- | %s |\n", r->what);
        }
    }

    printf("\nbest times (ms): bound = SHA-256 (L2-resident buffer) + "
           "ISA-L (or memcpy); SHA-256 over one large buffer (read from "
           "memory) for comparison, with the ratio it would give\n\n");
    printf("| n | operation | op ms | SHA-256 ms | multi-buffer ms "
           "| ISA-L/copy ms | SHA-256 one buffer ms | ratio with it |\n");
    printf("|---:|---|---:|---:|---:|---:|---:|---:|\n");

    for (i = 0; i < nrows; i++) {
        r = &rows[i];

        printf("| %u | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f |\n",
               r->n, r->op, r->t * 1e3, r->t_sha * 1e3, r->t_mb * 1e3,
               r->t_ec * 1e3, r->t_stream * 1e3,
               (r->t_stream + r->t_ec) / r->t);
    }
}
