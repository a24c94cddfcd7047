/*
 * SHA-256 and domain-separated Merkle trees: OpenSSL, and Intel's
 * multi-buffer library for batches of leaves.
 */

/*
 * Inner nodes use SHA256_Init/Update/Final: deprecated in OpenSSL 3 but
 * present in Debian's libcrypto, and about 30% cheaper on 65 bytes than
 * the cheapest EVP sequence (73 against 105 ns here), which matters with
 * n - 1 inner nodes per sliver tree.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#if (WALRUS_HAVE_IPSEC_MB)
/* without it the header's old names clash with openssl/sha.h */
#define NO_COMPAT_IMB_API_053
#include <intel-ipsec-mb.h>
#endif

#include <walrus_sha256.h>


#define WALRUS_MERKLE_LEAF   0x00
#define WALRUS_MERKLE_INNER  0x01

/*
 * Long leaves are fed in pieces, each time prefetching the bytes
 * WALRUS_SHA_AHEAD further on: SHA-256 does not keep up with the hardware
 * prefetcher alone when its input comes from memory (about 1/3 slower).
 */
#define WALRUS_SHA_PIECE     1024
#define WALRUS_SHA_AHEAD     4096
#define WALRUS_CACHE_LINE    64

/*
 * Multi-buffer jobs are submitted in chunks of this many leaves, whose
 * state (the bytes under their prefixes, about 10 bytes a leaf) is kept on
 * the stack.  Each chunk ends with the lanes flushed: 1024 leaves of the
 * encoder's matrix went about 10 % faster than 256 at n = 31 (2048 were
 * no faster).
 */
#define WALRUS_MB_CHUNK      1024

/*
 * Leaves the caller cannot write before (walrus_merkle_leaves_copy()) are
 * copied with their prefix into a staging area kept with the managers:
 * reused by every batch, so no fresh pages per call.  It holds a chunk of
 * leaves that fills the lanes in use (a set of wide lanes, or
 * WALRUS_MB_NARROW leaves for the two SHA-NI lanes: more at a time would
 * not be faster), and never more than WALRUS_MB_STAGE bytes; a leaf longer
 * than that goes through OpenSSL.
 */
#define WALRUS_MB_STAGE      (2 * 1024 * 1024)
#define WALRUS_MB_NARROW     4

/* the most lanes of a manager of libipsec-mb 1.3 (16 with AVX-512) */
#define WALRUS_MB_LANES      16

/* the most pairs walrus_sha256_warm_up() prepares: one per CPU */
#define WALRUS_MB_WARM       64

/*
 * The most pairs of a process, per CPU and at least: a thread that finds
 * none free hashes with OpenSSL, at 2.4 times the CPU per byte, so there
 * are pairs for more threads than CPUs (a pool has more threads than
 * there are CPUs: with a pair per CPU, 4 % of a PUT's CPU on 2 CPUs was
 * nodes' leaves hashed with OpenSSL while other batches held both).  A pair
 * costs about 400 KB, its stage (up to WALRUS_MB_STAGE) only when
 * leaves are copied.
 */
#define WALRUS_MB_PER_CPU    4
#define WALRUS_MB_MIN_PAIRS  8

/*
 * The longest message (prefix included) sent to the multi-buffer path.
 * The library's checked submit refuses hash jobs over 65,534 bytes; its
 * SHA-256 lanes count 64-bit lengths and the unchecked submit hashes
 * longer messages correctly, but that is outside the documented limits, so
 * only lengths up to the largest one the self-test checks go there.  Every
 * symbol of the default 4 MiB segments is far below it; longer leaves go
 * through OpenSSL.
 */
#define WALRUS_MB_MAX_LEN    (2 * 1024 * 1024 + 1)


struct walrus_sha256_s {
    EVP_MD      *md;
    EVP_MD_CTX  *ctx;
    EVP_MD_CTX  *leaf;     /* already fed the leaf prefix */
};


#if (WALRUS_HAVE_IPSEC_MB)

/*
 * A pair of managers: a manager is not thread safe, so a thread takes a
 * pair from a list shared by the process for one batch and puts it back.
 * Not per-thread storage: a destructor run at thread exit would be code
 * of a module nginx may have unloaded by then (a worker's exit).  The list
 * holds as many pairs as threads ever hashed at once, until
 * walrus_sha256_cleanup().
 */
typedef struct walrus_mb_s  walrus_mb_t;

struct walrus_mb_s {
    IMB_MGR      *wide;      /* the best architecture of the CPU */
    IMB_MGR      *narrow;    /* SSE: 2 SHA-NI lanes, or 4 SSE lanes */
    IMB_ARCH      arch;
    unsigned      broken;    /* freed, not put back in the list */
    uint8_t      *stage;     /* grown on use, up to WALRUS_MB_STAGE */
    size_t        stage_size;
    walrus_mb_t  *next;      /* in walrus_mb_list */
};


/*
 * The state of one chunk of in-place leaves (walrus_mb_in_place()).  Two
 * leaves next to each other in memory must never be in the lanes at once:
 * the later one's prefix byte is the last byte of the earlier one.  Along
 * a run of such leaves every other one is "odd": it waits until both its
 * neighbours completed and got their bytes back.
 */

#define WALRUS_MB_FOLLOWS    0x01    /* data[i - 1] + len == data[i] */
#define WALRUS_MB_ODD        0x02
#define WALRUS_MB_QUEUED     0x04
#define WALRUS_MB_DONE       0x08
#define WALRUS_MB_SUBMITTED  0x10

typedef struct {
    uint8_t *const  *data;
    uint8_t         *out;
    size_t           out_stride;
    size_t           count;
    size_t           len;
    size_t           in_flight;
    size_t           head;                  /* of ready[] */
    size_t           tail;
    size_t           ready[WALRUS_MB_CHUNK];  /* odd leaves free to go */
    uint8_t          flags[WALRUS_MB_CHUNK];
    uint8_t          saved[WALRUS_MB_CHUNK];  /* the bytes under prefixes */
    int              rc;
} walrus_mb_sched_t;

static walrus_mb_t *walrus_mb_take(void);
static void walrus_mb_count(void);
static void walrus_mb_put(walrus_mb_t *mb);
static void walrus_mb_free(walrus_mb_t *mb);
static int walrus_mb_run(IMB_MGR *mgr, const uint8_t *const *msg,
    uint8_t *const *out, size_t count, size_t len);
static int walrus_mb_in_place(walrus_mb_t *mb, uint8_t *const *data,
    size_t count, size_t len, uint8_t *out, size_t out_stride);
static void walrus_mb_submit(walrus_mb_sched_t *s, IMB_MGR *mgr,
    size_t i);
static void walrus_mb_collect(walrus_mb_sched_t *s, IMB_JOB *job);
static int walrus_mb_lanes(walrus_mb_t *mb, uint8_t **msg, uint8_t **out,
    size_t count, size_t len);
static walrus_mb_t *walrus_mb_for(size_t count, size_t len);
static uint8_t *walrus_mb_map(size_t size);
static void walrus_mb_unmap(uint8_t *p, size_t size);
static int walrus_mb_self_test(walrus_mb_t *mb, int fail, size_t *bad);
static double walrus_mb_time(IMB_MGR *mgr, const uint8_t *const *msg,
    uint8_t *const *out, size_t count, size_t len);

#endif

static void walrus_engine_init(void);
static int walrus_merkle_inner(walrus_sha256_t *h, const uint8_t *left,
    const uint8_t *right, uint8_t *out);
static int walrus_merkle_level(walrus_sha256_t *h, uint8_t *nodes,
    size_t count);
static void walrus_prefetch(const uint8_t *p, size_t len);
static int walrus_leaves_openssl(walrus_sha256_t *h,
    const uint8_t *const *data, size_t count, size_t len, uint8_t *out,
    size_t out_stride);


static const uint8_t  walrus_zero_node[WALRUS_HASH_LEN];


/*
 * Decided once per process by walrus_engine_init(), then read only (but
 * for walrus_sha256_use_multibuffer() in tests and benchmarks).
 */
static struct {
    int             state;        /* walrus_sha256_self_test() */
    int             on;           /* leaves go through multi-buffer */
    size_t          wide_from;    /* leaves that make the wide lanes pay */
    char            text[192];
} walrus_engine;

static pthread_once_t  walrus_engine_once = PTHREAD_ONCE_INIT;

#if (WALRUS_HAVE_IPSEC_MB)
static pthread_mutex_t  walrus_mb_lock = PTHREAD_MUTEX_INITIALIZER;
static walrus_mb_t     *walrus_mb_list;
static long             walrus_mb_pairs;     /* made and not freed */
static uint64_t         walrus_mb_busy;      /* none free: OpenSSL */

/* the CPUs, read once (sysconf reads /sys): walrus_mb_count() */
static pthread_once_t   walrus_mb_once = PTHREAD_ONCE_INIT;
static long             walrus_mb_ncpus;
static long             walrus_mb_most;      /* see WALRUS_MB_PER_CPU */
#endif


walrus_sha256_t *
walrus_sha256_create(void)
{
    walrus_sha256_t       *h;
    static const uint8_t   leaf = WALRUS_MERKLE_LEAF;

    h = calloc(1, sizeof(walrus_sha256_t));
    if (h == NULL) {
        return NULL;
    }

    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->ctx = EVP_MD_CTX_new();
    h->leaf = EVP_MD_CTX_new();

    /*
     * Single leaves start from a copy of a context that has seen the
     * prefix: cheaper than EVP_DigestInit_ex2() and one EVP_DigestUpdate()
     * call.
     */

    if (h->md == NULL || h->ctx == NULL || h->leaf == NULL
        || EVP_DigestInit_ex2(h->leaf, h->md, NULL) != 1
        || EVP_DigestUpdate(h->leaf, &leaf, 1) != 1)
    {
        walrus_sha256_destroy(h);
        return NULL;
    }

    return h;
}


void
walrus_sha256_destroy(walrus_sha256_t *h)
{
    if (h == NULL) {
        return;
    }

    EVP_MD_CTX_free(h->ctx);
    EVP_MD_CTX_free(h->leaf);
    EVP_MD_free(h->md);
    free(h);
}


int
walrus_sha256(walrus_sha256_t *h, const void *a, size_t alen,
    const void *b, size_t blen, uint8_t *out)
{
    if (EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1
        || EVP_DigestUpdate(h->ctx, a, alen) != 1
        || (blen && EVP_DigestUpdate(h->ctx, b, blen) != 1)
        || EVP_DigestFinal_ex(h->ctx, out, NULL) != 1)
    {
        return WALRUS_ECRYPTO;
    }

    return WALRUS_OK;
}


static void
walrus_prefetch(const uint8_t *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i += WALRUS_CACHE_LINE) {
        __builtin_prefetch(p + i);
    }
}


int
walrus_merkle_leaf(walrus_sha256_t *h, const uint8_t *data, size_t len,
    uint8_t *out)
{
    size_t  off, piece, ahead;

    if (EVP_MD_CTX_copy_ex(h->ctx, h->leaf) != 1) {
        return WALRUS_ECRYPTO;
    }

    /*
     * The first WALRUS_SHA_AHEAD bytes at once, then one piece further on
     * before each piece is hashed; the last WALRUS_SHA_AHEAD bytes (all of
     * a short leaf) in one call.
     */

    walrus_prefetch(data, len < WALRUS_SHA_AHEAD ? len : WALRUS_SHA_AHEAD);

    for (off = 0; off < len; off += piece) {
        piece = len - off;

        if (piece > WALRUS_SHA_AHEAD) {
            ahead = piece - WALRUS_SHA_AHEAD;
            piece = WALRUS_SHA_PIECE;
            walrus_prefetch(data + off + WALRUS_SHA_AHEAD,
                            ahead < piece ? ahead : piece);
        }

        if (EVP_DigestUpdate(h->ctx, data + off, piece) != 1) {
            return WALRUS_ECRYPTO;
        }
    }

    if (EVP_DigestFinal_ex(h->ctx, out, NULL) != 1) {
        return WALRUS_ECRYPTO;
    }

    return WALRUS_OK;
}


int
walrus_merkle_leaves(walrus_sha256_t *h, uint8_t *const *data,
    size_t count, size_t len, uint8_t *out, size_t out_stride)
{
#if (WALRUS_HAVE_IPSEC_MB)
    int           rc;
    size_t        i, k;
    walrus_mb_t  *mb;

    mb = walrus_mb_for(count, len);

    if (mb != NULL) {
        rc = WALRUS_OK;

        for (i = 0; i < count && rc == WALRUS_OK; i += k) {
            k = count - i < WALRUS_MB_CHUNK ? count - i : WALRUS_MB_CHUNK;

            rc = walrus_mb_in_place(mb, data + i, k, len,
                                    out + i * out_stride, out_stride);
        }

        walrus_mb_put(mb);
        return rc;
    }
#endif

    return walrus_leaves_openssl(h, (const uint8_t *const *) data, count,
                                 len, out, out_stride);
}


int
walrus_merkle_leaves_copy(walrus_sha256_t *h, const uint8_t *const *data,
    size_t count, size_t len, uint8_t *out, size_t out_stride)
{
#if (WALRUS_HAVE_IPSEC_MB)
    int           rc;
    size_t        i, j, k, cell, per;
    uint8_t      *msg[WALRUS_MB_CHUNK], *dst[WALRUS_MB_CHUNK];
    walrus_mb_t  *mb;

    /*
     * Each copy starts a cell of whole cache lines (aligned loads for the
     * lanes) with its prefix byte; the cells of a chunk fill the stage.
     */

    cell = (len + 1 + WALRUS_CACHE_LINE - 1) & ~(size_t) (WALRUS_CACHE_LINE
                                                          - 1);

    mb = cell <= WALRUS_MB_STAGE ? walrus_mb_for(count, len) : NULL;

    if (mb != NULL) {
        per = count >= walrus_engine.wide_from ? WALRUS_MB_LANES
                                               : WALRUS_MB_NARROW;
        per = per < count ? per : count;
        per = per < WALRUS_MB_STAGE / cell ? per : WALRUS_MB_STAGE / cell;

        if (mb->stage_size < per * cell) {
            walrus_mb_unmap(mb->stage, mb->stage_size);
            mb->stage_size = per * cell;
            mb->stage = walrus_mb_map(mb->stage_size);

            if (mb->stage == NULL) {
                mb->stage_size = 0;
                walrus_mb_put(mb);
                mb = NULL;
            }
        }
    }

    if (mb != NULL) {
        rc = WALRUS_OK;

        for (i = 0; i < count && rc == WALRUS_OK; i += k) {
            k = count - i < per ? count - i : per;

            for (j = 0; j < k; j++) {
                msg[j] = mb->stage + j * cell;
                msg[j][0] = WALRUS_MERKLE_LEAF;
                memcpy(msg[j] + 1, data[i + j], len);
                dst[j] = out + (i + j) * out_stride;
            }

            rc = walrus_mb_lanes(mb, msg, dst, k, len + 1);
        }

        walrus_mb_put(mb);
        return rc;
    }
#endif

    return walrus_leaves_openssl(h, data, count, len, out, out_stride);
}


static int
walrus_leaves_openssl(walrus_sha256_t *h, const uint8_t *const *data,
    size_t count, size_t len, uint8_t *out, size_t out_stride)
{
    int     rc;
    size_t  i;

    for (i = 0; i < count; i++) {

        /*
         * the start of the next leaf while this one is hashed: SHA-256 of
         * data that is not in the cache runs about 1/3 slower without it
         */

        if (i + 1 < count) {
            walrus_prefetch(data[i + 1],
                            len < WALRUS_SHA_AHEAD ? len : WALRUS_SHA_AHEAD);
        }

        rc = walrus_merkle_leaf(h, data[i], len, out + i * out_stride);
        if (rc != WALRUS_OK) {
            return rc;
        }
    }

    return WALRUS_OK;
}


int
walrus_sha256_self_test(void)
{
    (void) pthread_once(&walrus_engine_once, walrus_engine_init);

    return walrus_engine.state;
}


uint64_t
walrus_sha256_busy_fallbacks(void)
{
#if (WALRUS_HAVE_IPSEC_MB)
    uint64_t  n;

    (void) pthread_mutex_lock(&walrus_mb_lock);
    n = walrus_mb_busy;
    (void) pthread_mutex_unlock(&walrus_mb_lock);

    return n;
#else
    return 0;
#endif
}


const char *
walrus_sha256_engine(void)
{
    (void) pthread_once(&walrus_engine_once, walrus_engine_init);

    return walrus_engine.text;
}


void
walrus_sha256_use_multibuffer(int on)
{
    (void) pthread_once(&walrus_engine_once, walrus_engine_init);

    walrus_engine.on = on && walrus_engine.state == WALRUS_OK;
}


void
walrus_sha256_warm_up(void)
{
#if (WALRUS_HAVE_IPSEC_MB)
    size_t        i, taken;
    uint8_t       buf[WALRUS_MB_LANES * 128];
    uint8_t       digests[WALRUS_MB_LANES * WALRUS_HASH_LEN];
    uint8_t      *msg[WALRUS_MB_LANES], *out[WALRUS_MB_LANES];
    walrus_mb_t  *mb, *pairs[WALRUS_MB_WARM];

    (void) pthread_once(&walrus_engine_once, walrus_engine_init);

    if (!walrus_engine.on) {
        return;
    }

    memset(buf, 0, sizeof(buf));

    for (i = 0; i < WALRUS_MB_LANES; i++) {
        msg[i] = buf + i * 128;
        out[i] = digests + i * WALRUS_HASH_LEN;
    }

    /*
     * A pair per CPU, each hashing a set of wide lanes and a pair of
     * narrow ones: initialising a pair runs about 4.5 MB of the library's
     * code.  The pairs made later for more threads find it in memory.
     */

    (void) pthread_once(&walrus_mb_once, walrus_mb_count);

    for (taken = 0;
         taken < WALRUS_MB_WARM && taken < (size_t) walrus_mb_ncpus;
         taken++)
    {
        mb = walrus_mb_take();
        if (mb == NULL) {
            break;
        }

        pairs[taken] = mb;

        (void) walrus_mb_run(mb->wide, (const uint8_t *const *) msg, out,
                             WALRUS_MB_LANES, 65);
        (void) walrus_mb_run(mb->narrow, (const uint8_t *const *) msg, out,
                             2, 65);
    }

    for (i = 0; i < taken; i++) {
        walrus_mb_put(pairs[i]);
    }
#endif
}


void
walrus_sha256_cleanup(void)
{
#if (WALRUS_HAVE_IPSEC_MB)
    walrus_mb_t  *mb, *next;

    (void) pthread_mutex_lock(&walrus_mb_lock);

    mb = walrus_mb_list;
    walrus_mb_list = NULL;

    (void) pthread_mutex_unlock(&walrus_mb_lock);

    for ( /* void */ ; mb != NULL; mb = next) {
        next = mb->next;
        walrus_mb_free(mb);
    }
#endif
}


static void
walrus_engine_init(void)
{
#if (WALRUS_HAVE_IPSEC_MB)
    int           rc;
    char         *env;
    size_t        bad;
    IMB_ARCH      arch;
    walrus_mb_t  *mb;
#endif

    walrus_engine.on = 0;
    walrus_engine.state = WALRUS_EINVAL;
    walrus_engine.wide_from = (size_t) -1;

#if (WALRUS_HAVE_IPSEC_MB)

    env = getenv("WALRUS_SHA256");

    if (env != NULL && strcmp(env, "openssl") == 0) {
        snprintf(walrus_engine.text, sizeof(walrus_engine.text),
                 "OpenSSL SHA-256 (WALRUS_SHA256=openssl)");
        return;
    }

    mb = walrus_mb_take();
    if (mb == NULL) {
        snprintf(walrus_engine.text, sizeof(walrus_engine.text),
                 "OpenSSL SHA-256 (libipsec-mb %s has no multi-buffer "
                 "manager for this CPU)", imb_get_version_str());
        return;
    }

    /*
     * WALRUS_SHA256=test-mismatch makes the self-test see a wrong digest,
     * so that the tests can check the fallback
     */

    rc = walrus_mb_self_test(mb,
                             env != NULL && strcmp(env, "test-mismatch") == 0,
                             &bad);

    arch = mb->arch;
    walrus_mb_put(mb);

    if (rc != WALRUS_OK) {
        walrus_engine.state = WALRUS_ECRYPTO;
        snprintf(walrus_engine.text, sizeof(walrus_engine.text),
                 "OpenSSL SHA-256: the libipsec-mb %s self-test failed on "
                 "%zu-byte messages, multi-buffer disabled",
                 imb_get_version_str(), bad);
        return;
    }

    walrus_engine.on = 1;
    walrus_engine.state = WALRUS_OK;

    snprintf(walrus_engine.text, sizeof(walrus_engine.text),
             "multi-buffer SHA-256 (libipsec-mb %s, %s lanes from %zu leaves "
             "of a batch, sse lanes below, self-test passed)",
             imb_get_version_str(),
             arch == IMB_ARCH_AVX512 ? "avx512"
             : arch == IMB_ARCH_AVX2 ? "avx2"
             : arch == IMB_ARCH_AVX ? "avx" : "sse",
             walrus_engine.wide_from);

#else

    snprintf(walrus_engine.text, sizeof(walrus_engine.text),
             "OpenSSL SHA-256 (built without libipsec-mb)");

#endif
}


#if (WALRUS_HAVE_IPSEC_MB)

static walrus_mb_t *
walrus_mb_take(void)
{
    walrus_mb_t  *mb;

    (void) pthread_once(&walrus_mb_once, walrus_mb_count);
    (void) pthread_mutex_lock(&walrus_mb_lock);

    mb = walrus_mb_list;
    if (mb != NULL) {
        walrus_mb_list = mb->next;

    } else if (walrus_mb_pairs < walrus_mb_most) {
        walrus_mb_pairs++;

    } else {
        walrus_mb_busy++;
        (void) pthread_mutex_unlock(&walrus_mb_lock);
        return NULL;
    }

    (void) pthread_mutex_unlock(&walrus_mb_lock);

    if (mb != NULL) {
        return mb;
    }

    mb = calloc(1, sizeof(walrus_mb_t));
    if (mb == NULL) {
        (void) pthread_mutex_lock(&walrus_mb_lock);
        walrus_mb_pairs--;
        (void) pthread_mutex_unlock(&walrus_mb_lock);
        return NULL;
    }

    mb->wide = alloc_mb_mgr(0);
    mb->narrow = alloc_mb_mgr(0);

    if (mb->wide == NULL || mb->narrow == NULL) {
        walrus_mb_free(mb);
        return NULL;
    }

    /* the library picks the best architecture from CPUID */

    mb->arch = IMB_ARCH_NONE;
    init_mb_mgr_auto(mb->wide, &mb->arch);

    if (mb->arch == IMB_ARCH_NONE || mb->arch == IMB_ARCH_NOAESNI
        || imb_get_errno(mb->wide) != 0)
    {
        walrus_mb_free(mb);
        return NULL;
    }

    init_mb_mgr_sse(mb->narrow);

    if (imb_get_errno(mb->narrow) != 0) {
        walrus_mb_free(mb);
        return NULL;
    }

    return mb;
}


static void
walrus_mb_count(void)
{
    long  cpus;

    cpus = sysconf(_SC_NPROCESSORS_ONLN);

    walrus_mb_ncpus = cpus > 0 ? cpus : 1;
    walrus_mb_most = walrus_mb_ncpus * WALRUS_MB_PER_CPU;

    if (walrus_mb_most < WALRUS_MB_MIN_PAIRS) {
        walrus_mb_most = WALRUS_MB_MIN_PAIRS;
    }
}


/* a pair of managers when a batch of count leaves of len bytes pays */

static walrus_mb_t *
walrus_mb_for(size_t count, size_t len)
{
    if (count < 2 || len >= WALRUS_MB_MAX_LEN) {
        return NULL;
    }

    (void) pthread_once(&walrus_engine_once, walrus_engine_init);

    return walrus_engine.on ? walrus_mb_take() : NULL;
}


static void
walrus_mb_put(walrus_mb_t *mb)
{
    if (mb->broken) {
        walrus_mb_free(mb);
        return;
    }

    (void) pthread_mutex_lock(&walrus_mb_lock);

    mb->next = walrus_mb_list;
    walrus_mb_list = mb;

    (void) pthread_mutex_unlock(&walrus_mb_lock);
}


static void
walrus_mb_free(walrus_mb_t *mb)
{
    (void) pthread_mutex_lock(&walrus_mb_lock);
    walrus_mb_pairs--;
    (void) pthread_mutex_unlock(&walrus_mb_lock);

    if (mb->wide != NULL) {
        free_mb_mgr(mb->wide);
    }

    if (mb->narrow != NULL) {
        free_mb_mgr(mb->narrow);
    }

    walrus_mb_unmap(mb->stage, mb->stage_size);
    free(mb);
}


/*
 * The self-test's buffer and the stages are mapped, not allocated: freeing
 * a malloc() block of megabytes raises glibc's mmap threshold for the
 * whole process (the master, whose workers inherit it), after which
 * segments and slivers come from per-thread arenas that keep their peak
 * (t/21: 4 MiB more per worker).
 */

static uint8_t *
walrus_mb_map(size_t size)
{
    void  *p;

    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);

    return p == MAP_FAILED ? NULL : p;
}


static void
walrus_mb_unmap(uint8_t *p, size_t size)
{
    if (p != NULL) {
        (void) munmap(p, size);
    }
}


/* SHA-256 of count messages of len bytes; completes them all */

static int
walrus_mb_run(IMB_MGR *mgr, const uint8_t *const *msg, uint8_t *const *out,
    size_t count, size_t len)
{
    int       rc;
    size_t    i;
    IMB_JOB  *job;

    rc = WALRUS_OK;

    for (i = 0; i < count; i++) {

        /*
         * a set of lanes is hashed when it is full: the start of the leaf
         * one set further on is fetched meanwhile, as short leaves read
         * from memory do not last long enough for the hardware prefetcher
         */

        if (i + WALRUS_MB_LANES < count) {
            walrus_prefetch(msg[i + WALRUS_MB_LANES],
                            len < WALRUS_SHA_AHEAD ? len : WALRUS_SHA_AHEAD);
        }

        job = IMB_GET_NEXT_JOB(mgr);

        job->cipher_mode = IMB_CIPHER_NULL;
        job->cipher_direction = IMB_DIR_ENCRYPT;
        job->chain_order = IMB_ORDER_HASH_CIPHER;
        job->hash_alg = IMB_AUTH_SHA_256;
        job->src = msg[i];
        job->hash_start_src_offset_in_bytes = 0;
        job->msg_len_to_hash_in_bytes = len;
        job->auth_tag_output = out[i];
        job->auth_tag_output_len_in_bytes = WALRUS_HASH_LEN;

        /*
         * Unchecked: the checked submit refuses more than 65,534 bytes
         * (see WALRUS_MB_MAX_LEN); the fields above are all a check would
         * look at.  Jobs come back in submission order.
         */

        for (job = IMB_SUBMIT_JOB_NOCHECK(mgr);
             job != NULL;
             job = IMB_GET_COMPLETED_JOB(mgr))
        {
            if (job->status != IMB_STATUS_COMPLETED) {
                rc = WALRUS_ECRYPTO;
            }
        }
    }

    while ((job = IMB_FLUSH_JOB(mgr)) != NULL) {
        if (job->status != IMB_STATUS_COMPLETED) {
            rc = WALRUS_ECRYPTO;
        }
    }

    return rc;
}


/*
 * Hashes count leaves where they are, each with the byte before it as its
 * prefix (restored once its job completed).  Leaves go in their order, an
 * odd leaf of a contiguous run as soon as its neighbours completed: jobs
 * complete in submission order, so the lanes stay full along a run
 * instead of hashing every other leaf in a round of its own.  The wide
 * lanes take the batch when it is large enough, the narrow ones what is
 * left once fewer leaves than pay for a set of wide lanes remain and none
 * is in flight.
 */

static int
walrus_mb_in_place(walrus_mb_t *mb, uint8_t *const *data, size_t count,
    size_t len, uint8_t *out, size_t out_stride)
{
    size_t              i, next, left;
    IMB_MGR            *mgr;
    IMB_JOB            *job;
    walrus_mb_sched_t   s;

    s.data = data;
    s.out = out;
    s.out_stride = out_stride;
    s.count = count;
    s.len = len + 1;
    s.in_flight = 0;
    s.head = 0;
    s.tail = 0;
    s.rc = WALRUS_OK;

    for (i = 0; i < count; i++) {
        s.flags[i] = 0;

        if (i > 0 && data[i - 1] + len == data[i]) {
            s.flags[i] = WALRUS_MB_FOLLOWS
                         | ((s.flags[i - 1] & WALRUS_MB_ODD) ^ WALRUS_MB_ODD);
        }
    }

    mgr = count >= walrus_engine.wide_from ? mb->wide : mb->narrow;
    next = 0;
    left = count;

    for ( ;; ) {
        if (s.head < s.tail) {
            i = s.ready[s.head++];

        } else if (next < count) {
            i = next;

            do {
                next++;
            } while (next < count && (s.flags[next] & WALRUS_MB_ODD));

        } else if (s.in_flight > 0) {
            job = IMB_FLUSH_JOB(mgr);

            if (job == NULL) {

                /*
                 * jobs in flight and none to flush: against the library's
                 * contract; their bytes are given back and the pair, whose
                 * state is unknown, is not used again
                 */

                for (i = 0; i < count; i++) {
                    if ((s.flags[i] & (WALRUS_MB_SUBMITTED | WALRUS_MB_DONE))
                        == WALRUS_MB_SUBMITTED)
                    {
                        data[i][-1] = s.saved[i];
                    }
                }

                mb->broken = 1;
                return WALRUS_ECRYPTO;
            }

            walrus_mb_collect(&s, job);

            while ((job = IMB_GET_COMPLETED_JOB(mgr)) != NULL) {
                walrus_mb_collect(&s, job);
            }

            continue;

        } else {
            break;
        }

        if (mgr == mb->wide && s.in_flight == 0
            && left < walrus_engine.wide_from)
        {
            mgr = mb->narrow;
        }

        /*
         * the leaf a set of lanes further on is fetched meanwhile: short
         * leaves read from memory do not last long enough for the hardware
         * prefetcher
         */

        if (i + WALRUS_MB_LANES < count) {
            walrus_prefetch(data[i + WALRUS_MB_LANES] - 1,
                            s.len < WALRUS_SHA_AHEAD ? s.len
                                                     : WALRUS_SHA_AHEAD);
        }

        walrus_mb_submit(&s, mgr, i);
        left--;
    }

    return s.rc;
}


static void
walrus_mb_submit(walrus_mb_sched_t *s, IMB_MGR *mgr, size_t i)
{
    uint8_t  *msg;
    IMB_JOB  *job;

    msg = s->data[i] - 1;
    s->saved[i] = msg[0];
    msg[0] = WALRUS_MERKLE_LEAF;
    s->flags[i] |= WALRUS_MB_SUBMITTED;
    s->in_flight++;

    job = IMB_GET_NEXT_JOB(mgr);

    job->cipher_mode = IMB_CIPHER_NULL;
    job->cipher_direction = IMB_DIR_ENCRYPT;
    job->chain_order = IMB_ORDER_HASH_CIPHER;
    job->hash_alg = IMB_AUTH_SHA_256;
    job->src = msg;
    job->hash_start_src_offset_in_bytes = 0;
    job->msg_len_to_hash_in_bytes = s->len;
    job->auth_tag_output = s->out + i * s->out_stride;
    job->auth_tag_output_len_in_bytes = WALRUS_HASH_LEN;
    job->user_data = (void *) (uintptr_t) i;

    /* unchecked, as in walrus_mb_run() */

    for (job = IMB_SUBMIT_JOB_NOCHECK(mgr);
         job != NULL;
         job = IMB_GET_COMPLETED_JOB(mgr))
    {
        walrus_mb_collect(s, job);
    }
}


/* a job completed: its byte back, and the odd neighbours it held free */

static void
walrus_mb_collect(walrus_mb_sched_t *s, IMB_JOB *job)
{
    size_t   i, q, side;
    uint8_t  f;

    if (job == NULL) {
        return;
    }

    if (job->status != IMB_STATUS_COMPLETED) {
        s->rc = WALRUS_ECRYPTO;
    }

    i = (uintptr_t) job->user_data;

    s->data[i][-1] = s->saved[i];
    s->flags[i] |= WALRUS_MB_DONE;
    s->in_flight--;

    for (side = 0; side < 2; side++) {
        if (side == 0) {
            if (!(s->flags[i] & WALRUS_MB_FOLLOWS)) {
                continue;
            }

            q = i - 1;

        } else {
            if (i + 1 >= s->count
                || !(s->flags[i + 1] & WALRUS_MB_FOLLOWS))
            {
                continue;
            }

            q = i + 1;
        }

        f = s->flags[q];

        if (!(f & WALRUS_MB_ODD) || (f & (WALRUS_MB_QUEUED | WALRUS_MB_DONE))
            || !(s->flags[q - 1] & WALRUS_MB_DONE)
            || (q + 1 < s->count && (s->flags[q + 1] & WALRUS_MB_FOLLOWS)
                && !(s->flags[q + 1] & WALRUS_MB_DONE)))
        {
            continue;
        }

        s->flags[q] |= WALRUS_MB_QUEUED;
        s->ready[s->tail++] = q;
    }
}


/* hashes count messages of len bytes on the lanes that pay */

static int
walrus_mb_lanes(walrus_mb_t *mb, uint8_t **msg, uint8_t **out, size_t count,
    size_t len)
{
    int     rc;
    size_t  wide, rest;

    /*
     * The wide manager finishes a batch smaller than its lane count in the
     * time of a full one: below walrus_engine.wide_from leaves the two
     * SHA-NI lanes of the SSE manager are faster, and they take the
     * leaves left over by full sets of wide lanes.
     */

    rest = count % WALRUS_MB_LANES;

    if (walrus_engine.wide_from > WALRUS_MB_LANES) {
        wide = 0;

    } else {
        wide = rest >= walrus_engine.wide_from ? count : count - rest;
    }

    rc = WALRUS_OK;

    if (wide > 0) {
        rc = walrus_mb_run(mb->wide, (const uint8_t *const *) msg, out, wide,
                           len);
    }

    if (wide < count && rc == WALRUS_OK) {
        rc = walrus_mb_run(mb->narrow, (const uint8_t *const *) msg + wide,
                           out + wide, count - wide, len);
    }

    return rc;
}


/*
 * Both managers against OpenSSL on every message size class: below, at
 * and above one block, lengths 1 modulo 64 (0x00 || symbol), 33 and 65
 * bytes (tree leaves over hashes), around the 65,534 bytes of the checked
 * submit, and up to WALRUS_MB_MAX_LEN.  Batches of 17 exercise full lanes
 * and the flush, messages at odd addresses unaligned loads.  Then the lane
 * width that pays is measured: never assumed from the CPU model.
 */

static int
walrus_mb_self_test(walrus_mb_t *mb, int fail, size_t *bad)
{
    int              rc;
    double           wide, narrow;
    size_t           i, t, m, count, len, size;
    uint8_t         *buf, *out[17], digest[17][WALRUS_HASH_LEN],
                     ref[WALRUS_HASH_LEN];
    uint64_t         x;
    IMB_MGR         *mgr;
    const uint8_t   *msg[17];

    static const size_t  lens[] = {
        1, 33, 55, 56, 64, 65, 129, 1857, 16385, 18177, 65534, 65535, 65537,
        149825, 279681, 1048577, WALRUS_MB_MAX_LEN
    };

    size = WALRUS_MB_MAX_LEN + 17 * 67;

    buf = walrus_mb_map(size);
    if (buf == NULL) {
        *bad = 0;
        return WALRUS_ENOMEM;
    }

    /* xorshift64: any bytes do, the same in every run */

    x = 0x9e3779b97f4a7c15ULL;

    for (i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t) x;
    }

    for (i = 0; i < 17; i++) {
        msg[i] = buf + i * 67;
        out[i] = digest[i];
    }

    rc = WALRUS_OK;

    for (t = 0; rc == WALRUS_OK && t < sizeof(lens) / sizeof(lens[0]); t++) {
        len = lens[t];
        count = len <= 65537 ? 17 : 2;
        *bad = len;

        for (m = 0; rc == WALRUS_OK && m < 2; m++) {
            mgr = m == 0 ? mb->wide : mb->narrow;

            memset(digest, 0, sizeof(digest));

            rc = walrus_mb_run(mgr, msg, out, count, len);

            for (i = 0; rc == WALRUS_OK && i < count; i++) {
                if (fail && len == 65537) {
                    digest[i][0] ^= 1;
                }

                if (EVP_Digest(msg[i], len, ref, NULL, EVP_sha256(), NULL)
                    != 1
                    || memcmp(ref, digest[i], WALRUS_HASH_LEN) != 0)
                {
                    rc = WALRUS_ECRYPTO;
                }
            }
        }
    }

    if (rc == WALRUS_OK) {
        wide = walrus_mb_time(mb->wide, msg, out, WALRUS_MB_LANES, 16385);
        narrow = walrus_mb_time(mb->narrow, msg, out, WALRUS_MB_LANES,
                                16385);

        /*
         * Below WALRUS_MB_LANES leaves the wide lanes take the time of a
         * full set and the narrow ones time in proportion to the leaves.
         */

        if (wide < narrow) {
            walrus_engine.wide_from = (size_t) (WALRUS_MB_LANES * wide
                                                / narrow) + 1;
        }
    }

    walrus_mb_unmap(buf, size);

    return rc;
}


static double
walrus_mb_time(IMB_MGR *mgr, const uint8_t *const *msg, uint8_t *const *out,
    size_t count, size_t len)
{
    double           t, best;
    unsigned         i;
    struct timespec  t0, t1;

    best = 1e9;

    for (i = 0; i < 3; i++) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        (void) walrus_mb_run(mgr, msg, out, count, len);
        clock_gettime(CLOCK_MONOTONIC, &t1);

        t = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
        best = t < best ? t : best;
    }

    return best;
}

#endif


static int
walrus_merkle_inner(walrus_sha256_t *h, const uint8_t *left,
    const uint8_t *right, uint8_t *out)
{
    SHA256_CTX  ctx;
    uint8_t     buf[1 + 2 * WALRUS_HASH_LEN];

    buf[0] = WALRUS_MERKLE_INNER;
    memcpy(buf + 1, left, WALRUS_HASH_LEN);
    memcpy(buf + 1 + WALRUS_HASH_LEN, right, WALRUS_HASH_LEN);

    if (SHA256_Init(&ctx) != 1
        || SHA256_Update(&ctx, buf, sizeof(buf)) != 1
        || SHA256_Final(out, &ctx) != 1)
    {
        return WALRUS_ECRYPTO;
    }

    return WALRUS_OK;
}


/* replaces count nodes by the (count + 1) / 2 nodes of the next level */

static int
walrus_merkle_level(walrus_sha256_t *h, uint8_t *nodes, size_t count)
{
    int             rc;
    size_t          i;
    const uint8_t  *right;

    for (i = 0; 2 * i < count; i++) {
        right = 2 * i + 1 < count ? nodes + (2 * i + 1) * WALRUS_HASH_LEN
                                  : walrus_zero_node;

        rc = walrus_merkle_inner(h, nodes + 2 * i * WALRUS_HASH_LEN, right,
                                 nodes + i * WALRUS_HASH_LEN);
        if (rc != WALRUS_OK) {
            return rc;
        }
    }

    return WALRUS_OK;
}


int
walrus_merkle_root(walrus_sha256_t *h, const uint8_t *leaves,
    size_t count, size_t stride, uint8_t *scratch, uint8_t *root)
{
    int     rc;
    size_t  i;

    if (count == 0) {
        memset(root, 0, WALRUS_HASH_LEN);
        return WALRUS_OK;
    }

    for (i = 0; i < count; i++) {
        memcpy(scratch + i * WALRUS_HASH_LEN, leaves + i * stride,
               WALRUS_HASH_LEN);
    }

    while (count > 1) {
        rc = walrus_merkle_level(h, scratch, count);
        if (rc != WALRUS_OK) {
            return rc;
        }

        count = (count + 1) / 2;
    }

    memcpy(root, scratch, WALRUS_HASH_LEN);

    return WALRUS_OK;
}


size_t
walrus_merkle_proof_size(size_t count)
{
    size_t  levels;

    for (levels = 0; count > 1; levels++) {
        count = (count + 1) / 2;
    }

    return levels * WALRUS_HASH_LEN;
}


int
walrus_merkle_proof(walrus_sha256_t *h, const uint8_t *leaves,
    size_t count, size_t stride, size_t index, uint8_t *scratch,
    uint8_t *proof)
{
    int             rc;
    size_t          i, sibling;
    const uint8_t  *node;

    if (index >= count) {
        return WALRUS_EINVAL;
    }

    for (i = 0; i < count; i++) {
        memcpy(scratch + i * WALRUS_HASH_LEN, leaves + i * stride,
               WALRUS_HASH_LEN);
    }

    while (count > 1) {
        sibling = index ^ 1;
        node = sibling < count ? scratch + sibling * WALRUS_HASH_LEN
                               : walrus_zero_node;

        memcpy(proof, node, WALRUS_HASH_LEN);
        proof += WALRUS_HASH_LEN;

        rc = walrus_merkle_level(h, scratch, count);
        if (rc != WALRUS_OK) {
            return rc;
        }

        count = (count + 1) / 2;
        index /= 2;
    }

    return WALRUS_OK;
}


int
walrus_merkle_verify(walrus_sha256_t *h, const uint8_t *leaf,
    size_t index, size_t count, const uint8_t *proof, const uint8_t *root)
{
    int      rc;
    uint8_t  node[WALRUS_HASH_LEN];

    if (index >= count) {
        return WALRUS_EINVAL;
    }

    memcpy(node, leaf, WALRUS_HASH_LEN);

    while (count > 1) {
        if (index % 2 == 0) {
            rc = walrus_merkle_inner(h, node, proof, node);

        } else {
            rc = walrus_merkle_inner(h, proof, node, node);
        }

        if (rc != WALRUS_OK) {
            return rc;
        }

        proof += WALRUS_HASH_LEN;
        count = (count + 1) / 2;
        index /= 2;
    }

    return memcmp(node, root, WALRUS_HASH_LEN) == 0 ? WALRUS_OK
                                                    : WALRUS_EHASH;
}


int
walrus_merkle_pairs_root(walrus_sha256_t *h, const uint8_t *pair_hashes,
    unsigned n, uint8_t *leaves, uint8_t *scratch, uint8_t *root)
{
    int       rc;
    unsigned  k;

    for (k = 0; k < n; k++) {
        rc = walrus_merkle_leaf(h, pair_hashes + (size_t) k * 2
                                                 * WALRUS_HASH_LEN,
                                2 * WALRUS_HASH_LEN,
                                leaves + (size_t) k * WALRUS_HASH_LEN);
        if (rc != WALRUS_OK) {
            return rc;
        }
    }

    return walrus_merkle_root(h, leaves, n, WALRUS_HASH_LEN, scratch, root);
}
