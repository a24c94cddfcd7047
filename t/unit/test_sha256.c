/*
 * Leaf hashing: the multi-buffer path against OpenSSL on random data of
 * every leaf-size class and odd sizes, in every memory layout the codec
 * uses, and the codec's bytes with and without it.
 */

#include <tap.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <walrus_codec.h>
#include <walrus_sha256.h>


#define MAX_COUNT  130


static void test_engine(void);
static void test_leaves(size_t len, size_t count, unsigned layout);
static void test_codec(unsigned n, uint64_t len);
static void test_batch(walrus_codec_t *c, walrus_segment_t *seg,
    const uint8_t *pairs);
static void test_mismatch(void);
static void test_threads(unsigned n);
static void *thread_leaves(void *arg);
static void fill(uint8_t *p, size_t len);


static const char  *layouts[] = {
    "contiguous", "separate cells", "runs of contiguous leaves"
};


static void
fill(uint8_t *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        p[i] = (uint8_t) rand();
    }
}


static void
test_engine(void)
{
    int  rc;

    rc = walrus_sha256_self_test();

    printf("# %s\n", walrus_sha256_engine());

    ok(rc == WALRUS_OK || rc == WALRUS_EINVAL,
       "the self-test finds no mismatch (%d)", rc);
    is_int(walrus_sha256_self_test(), rc, "its verdict does not change");

#if (WALRUS_HAVE_IPSEC_MB)
    if (getenv("WALRUS_SHA256") == NULL) {
        printf("# multi-buffer %s on this CPU\n",
               rc == WALRUS_OK ? "runs" : "does not run");
    }
#endif
}


/*
 * The self-test's mismatch path, in a child process (the verdict is taken
 * once per process): WALRUS_SHA256=test-mismatch fakes a wrong digest, the
 * self-test must then report WALRUS_ECRYPTO, say so in the engine line and
 * leave the leaves to OpenSSL, which still gives the right digests.
 */

static void
test_mismatch(void)
{
    int               status;
    pid_t             pid;
    uint8_t           leaf[2][1 + 1856], out[2][32], ref[32];
    uint8_t          *data[2];
    walrus_sha256_t  *h;

    pid = fork();

    if (pid == 0) {
        h = walrus_sha256_create();
        setenv("WALRUS_SHA256", "test-mismatch", 1);
        status = walrus_sha256_self_test();

        memset(leaf, 0x5a, sizeof(leaf));
        leaf[0][0] = 0x00;
        data[0] = &leaf[0][1];
        data[1] = &leaf[1][1];
        EVP_Digest(leaf[0], sizeof(leaf[0]), ref, NULL, EVP_sha256(), NULL);

        if (h == NULL
            || walrus_merkle_leaves(h, data, 2, 1856, out[0], 32)
               != WALRUS_OK
            || memcmp(out[0], ref, 32) != 0 || memcmp(out[1], ref, 32) != 0)
        {
            _exit(3);
        }

        if (status == WALRUS_EINVAL) {
            _exit(2);   /* not built in or not for this CPU: nothing to fail */
        }

        _exit(status == WALRUS_ECRYPTO
              && strstr(walrus_sha256_engine(), "self-test failed") != NULL
              ? 0 : 1);
    }

    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
        ok(0, "the mismatch child ran");
        return;
    }

    if (WEXITSTATUS(status) == 2) {
        ok(1, "# SKIP no multi-buffer path to fail");
        return;
    }

    is_int(WEXITSTATUS(status), 0, "a faked mismatch turns the multi-buffer "
           "path off, is reported, and OpenSSL hashes the leaves right");
}


#define THREADS_MAX     1024
#define THREAD_LEAVES   17
#define THREAD_LEN      1856


/*
 * n threads hashing batches at once, both layouts: every digest is right
 * whether a batch got a free pair of managers or OpenSSL.  Up to 8
 * threads (the fewest pairs a process may have) none is refused a pair.
 */

static void
test_threads(unsigned n)
{
    int        fails;
    void      *rc;
    uint64_t   busy;
    unsigned   i, started;
    pthread_t  tid[THREADS_MAX];

    fails = 0;
    busy = walrus_sha256_busy_fallbacks();

    for (started = 0; started < n && started < THREADS_MAX; started++) {
        if (pthread_create(&tid[started], NULL, thread_leaves, NULL) != 0) {
            break;
        }
    }

    for (i = 0; i < started; i++) {
        (void) pthread_join(tid[i], &rc);
        fails += rc != NULL;
    }

    is_int(fails + (int) (n - started), 0, "%u threads hashing batches at "
           "once, both layouts, all digests right", n);

    if (n <= 8) {
        ok(walrus_sha256_busy_fallbacks() == busy,
           "... each batch with a pair of managers (%llu fell back)",
           (unsigned long long) (walrus_sha256_busy_fallbacks() - busy));
    }
}


static void *
thread_leaves(void *arg)
{
    size_t            i, round;
    uint8_t          *buf, *data[THREAD_LEAVES], *msg;
    uint8_t           ref[THREAD_LEAVES][32], out[THREAD_LEAVES][32];
    void             *bad;
    walrus_sha256_t  *h;

    bad = (void *) 1;
    h = walrus_sha256_create();
    buf = malloc(1 + THREAD_LEAVES * THREAD_LEN);
    msg = malloc(1 + THREAD_LEN);

    if (h == NULL || buf == NULL || msg == NULL) {
        goto done;
    }

    for (i = 0; i < 1 + THREAD_LEAVES * THREAD_LEN; i++) {
        buf[i] = (uint8_t) (i * 7 + (size_t) pthread_self());
    }

    for (i = 0; i < THREAD_LEAVES; i++) {
        data[i] = buf + 1 + i * THREAD_LEN;
        msg[0] = 0x00;
        memcpy(msg + 1, data[i], THREAD_LEN);
        EVP_Digest(msg, 1 + THREAD_LEN, ref[i], NULL, EVP_sha256(), NULL);
    }

    for (round = 0; round < 200; round++) {
        memset(out, 0, sizeof(out));

        if ((round % 2 == 0
             ? walrus_merkle_leaves(h, data, THREAD_LEAVES, THREAD_LEN,
                                    out[0], 32)
             : walrus_merkle_leaves_copy(h, (const uint8_t *const *) data,
                                         THREAD_LEAVES, THREAD_LEN, out[0],
                                         32))
            != WALRUS_OK
            || memcmp(out, ref, sizeof(ref)) != 0)
        {
            goto done;
        }
    }

    bad = NULL;

done:

    walrus_sha256_destroy(h);
    free(buf);
    free(msg);

    return bad;
}


/*
 * layout 0: leaves back to back after one byte of headroom (the segment
 * matrix); 1: each in a cell of its own (expanded slivers); 2: runs of 3
 * contiguous leaves separated by a gap (chains that restart).
 */

static void
test_leaves(size_t len, size_t count, unsigned layout)
{
    int              rc, same;
    size_t           i, off, size;
    uint8_t         *buf, *copy, *mb, *ossl, *ref, *msg;
    uint8_t         *data[MAX_COUNT];
    walrus_sha256_t  *h;

    h = walrus_sha256_create();
    size = 64 + count * (len + 64);
    buf = malloc(size);
    copy = malloc(size);
    mb = malloc(count * 32);
    ossl = malloc(count * 32);
    ref = malloc(count * 32);
    msg = malloc(len + 1);

    if (h == NULL || buf == NULL || copy == NULL || mb == NULL
        || ossl == NULL || ref == NULL || msg == NULL)
    {
        ok(0, "allocation");
        return;
    }

    fill(buf, size);
    memcpy(copy, buf, size);

    off = 1;

    for (i = 0; i < count; i++) {
        if (layout == 1 || (layout == 2 && i > 0 && i % 3 == 0)) {
            off += 37;
        }

        data[i] = buf + off;
        off += len;
    }

    /* the reference: SHA-256 of 0x00 || data built in a buffer of its own */

    for (i = 0; i < count; i++) {
        msg[0] = 0x00;
        memcpy(msg + 1, data[i], len);
        EVP_Digest(msg, len + 1, ref + i * 32, NULL, EVP_sha256(), NULL);
    }

    walrus_sha256_use_multibuffer(1);
    rc = walrus_merkle_leaves(h, data, count, len, mb, 32);

    same = memcmp(buf, copy, size) == 0;

    walrus_sha256_use_multibuffer(0);
    rc |= walrus_merkle_leaves(h, data, count, len, ossl, 32);
    walrus_sha256_use_multibuffer(1);

    ok(rc == WALRUS_OK && memcmp(mb, ref, count * 32) == 0
       && memcmp(ossl, ref, count * 32) == 0 && same,
       "%zu leaves of %zu bytes, %s: both paths give SHA-256(0x00 || leaf),"
       " buffer restored", count, len, layouts[layout]);

    /* the staged copies: any layout, the buffer only read */

    memset(mb, 0, count * 32);
    memset(ossl, 0, count * 32);

    rc = walrus_merkle_leaves_copy(h, (const uint8_t *const *) data, count,
                                   len, mb, 32);
    walrus_sha256_use_multibuffer(0);
    rc |= walrus_merkle_leaves_copy(h, (const uint8_t *const *) data, count,
                                    len, ossl, 32);
    walrus_sha256_use_multibuffer(1);

    ok(rc == WALRUS_OK && memcmp(mb, ref, count * 32) == 0
       && memcmp(ossl, ref, count * 32) == 0
       && memcmp(buf, copy, size) == 0,
       "%zu leaves of %zu bytes, %s, copied: both paths right", count, len,
       layouts[layout]);

    walrus_sha256_destroy(h);
    free(buf);
    free(copy);
    free(mb);
    free(ossl);
    free(ref);
    free(msg);
}


/* the codec's hashes do not depend on the leaf engine */

static void
test_codec(unsigned n, uint64_t len)
{
    int                rc;
    size_t             plen;
    uint8_t           *data, pairs[2][WALRUS_MAX_SHARDS * 64], root[2][32];
    unsigned           i, e;
    walrus_codec_t    *c;
    walrus_segment_t   seg;

    c = walrus_codec_create(n);
    data = malloc(len);

    if (c == NULL || data == NULL) {
        ok(0, "allocation");
        return;
    }

    fill(data, len);
    walrus_segment_init(&seg);
    rc = WALRUS_OK;

    for (e = 0; e < 2; e++) {
        walrus_sha256_use_multibuffer(e == 0);
        rc |= walrus_segment_encode(c, data, len, &seg);
        memcpy(pairs[e], seg.pair_hashes, (size_t) n * 64);
        memcpy(root[e], seg.root, 32);
    }

    plen = walrus_sliver_size(walrus_codec_params(c), WALRUS_PRIMARY,
                              seg.symbol_size);

    for (e = 0; e < 2; e++) {
        walrus_sha256_use_multibuffer(e == 0);

        for (i = 0; i < n; i++) {
            rc |= walrus_sliver_verify(c, WALRUS_PRIMARY, i, seg.symbol_size,
                                       walrus_segment_primary(c, &seg, i),
                                       plen, pairs[0] + (size_t) i * 64);
        }
    }

    walrus_sha256_use_multibuffer(1);

    ok(rc == WALRUS_OK
       && memcmp(pairs[0], pairs[1], (size_t) n * 64) == 0
       && memcmp(root[0], root[1], 32) == 0,
       "n = %u, %llu bytes: same sliver hashes and root with either leaf "
       "engine, slivers verify with both", n, (unsigned long long) len);

    test_batch(c, &seg, pairs[0]);

    walrus_segment_free(&seg);
    walrus_codec_destroy(c);
    free(data);
}


/*
 * Slivers hashed in batches, in place: the hashes of the metadata with
 * either engine, whatever the batch and the layout (side by side, so that
 * the byte before a sliver is the last byte of the previous one, or apart),
 * a damaged sliver changes its own hash only, and every byte is restored.
 */

static void
test_batch(walrus_codec_t *c, walrus_segment_t *seg, const uint8_t *pairs)
{
    int              rc, right, same, used;
    size_t           len, gap, size, sym;
    uint8_t         *buf, *copy, *slivers[WALRUS_MAX_SHARDS], *hashes, *lent;
    unsigned         i, n, e, axis, apart, count, index, damaged;
    const uint8_t   *want;

    n = walrus_codec_params(c)->n;
    sym = seg->symbol_size;

    for (axis = 0; axis < 2; axis++) {
        len = walrus_sliver_size(walrus_codec_params(c), axis, sym);

        for (apart = 0; apart < 2; apart++) {
            gap = apart ? 37 : 0;
            size = 1 + (size_t) n * (len + gap);
            buf = malloc(size);
            copy = malloc(size);
            hashes = malloc((size_t) n * 32);

            if (buf == NULL || copy == NULL || hashes == NULL) {
                ok(0, "allocation");
                return;
            }

            fill(buf, size);

            for (i = 0; i < n; i++) {
                slivers[i] = buf + 1 + (size_t) i * (len + gap);

                if (axis == WALRUS_PRIMARY) {
                    memcpy(slivers[i], walrus_segment_primary(c, seg, i),
                           len);

                } else {
                    walrus_segment_secondary(c, seg, i, slivers[i]);
                }
            }

            memcpy(copy, buf, size);
            damaged = n / 2;

            for (e = 0; e < 2; e++) {
                walrus_sha256_use_multibuffer(e == 0);

                for (count = 1; count <= n; count += count < 3 ? 1 : n / 3) {
                    rc = walrus_slivers_hash(c, axis, sym, slivers, count,
                                             hashes);
                    right = rc == WALRUS_OK;

                    for (i = 0; i < count; i++) {
                        index = axis == WALRUS_PRIMARY ? i : n - 1 - i;
                        want = pairs + (size_t) index * 64 + axis * 32;
                        right &= memcmp(hashes + (size_t) i * 32, want, 32)
                                 == 0;
                    }

                    same = memcmp(buf, copy, size) == 0;

                    ok(right && same, "n = %u, %s, %u slivers %s, %s: "
                       "hashes of the metadata, bytes restored", n,
                       axis ? "secondary" : "primary", count,
                       apart ? "apart" : "side by side",
                       e ? "OpenSSL" : "multi-buffer");
                }

                slivers[damaged][len - 1] ^= 0x80;
                rc = walrus_slivers_hash(c, axis, sym, slivers, n, hashes);
                slivers[damaged][len - 1] ^= 0x80;
                right = rc == WALRUS_OK;

                for (i = 0; i < n; i++) {
                    index = axis == WALRUS_PRIMARY ? i : n - 1 - i;
                    want = pairs + (size_t) index * 64 + axis * 32;
                    right &= (memcmp(hashes + (size_t) i * 32, want, 32)
                              == 0) == (i != damaged);
                }

                ok(right && memcmp(buf, copy, size) == 0,
                   "n = %u, %s, %s, %s: a damaged sliver's hash differs, "
                   "the others do not", n, axis ? "secondary" : "primary",
                   apart ? "apart" : "side by side",
                   e ? "OpenSSL" : "multi-buffer");
            }

            walrus_sha256_use_multibuffer(1);

            /*
             * parity cells in memory lent by the caller when it is large
             * enough (it is written), the codec's own otherwise
             */

            if (!apart) {
                size = walrus_slivers_scratch(walrus_codec_params(c), axis,
                                              sym, n);
                lent = aligned_alloc(64, (size + 63) / 64 * 64);
                memset(lent, 0xa5, size);
                walrus_codec_lend(c, lent, size - 1);
                rc = walrus_slivers_hash(c, axis, sym, slivers, n, hashes);
                used = 0;

                for (i = 0; i < size; i++) {
                    used |= lent[i] != 0xa5;
                }

                ok(rc == WALRUS_OK && !used, "n = %u, %s: a loan a byte "
                   "short is left alone", n,
                   axis ? "secondary" : "primary");

                walrus_codec_lend(c, lent, size);
                rc = walrus_slivers_hash(c, axis, sym, slivers, n, hashes);
                right = rc == WALRUS_OK;

                for (i = 0; i < n; i++) {
                    index = axis == WALRUS_PRIMARY ? i : n - 1 - i;
                    want = pairs + (size_t) index * 64 + axis * 32;
                    right &= memcmp(hashes + (size_t) i * 32, want, 32) == 0;
                }

                for (i = 0, used = 0; i < size; i++) {
                    used |= lent[i] != 0xa5;
                }

                ok(right && used, "n = %u, %s: with a loan large enough "
                   "its memory holds the parity, hashes right", n,
                   axis ? "secondary" : "primary");

                walrus_codec_lend(c, NULL, 0);
                free(lent);
            }

            free(buf);
            free(copy);
            free(hashes);
        }
    }
}


int
main(void)
{
    long      cpus;
    size_t    l, k;
    unsigned  layout, more;

    static const size_t  lens[] = {
        1, 2, 31, 32, 33, 54, 55, 56, 63, 64, 65, 127, 128, 129, 1856,
        18176, 65533, 65534, 65535, 65536, 65600, 149824, 279680
    };

    static const size_t  counts[] = { 1, 2, 3, 7, 16, 17, 49, MAX_COUNT };

    srand(21);

    /* before test_engine(): a child must run the self-test afresh */
    test_mismatch();
    test_engine();

    /* the worker's start: a pair per CPU made at once, then shared */
    walrus_sha256_warm_up();
    test_threads(8);

    /* the cycle's end frees the pairs; later batches make new ones */
    walrus_sha256_cleanup();
    test_threads(8);

    /* more threads than a process keeps pairs for: some use OpenSSL */
    cpus = sysconf(_SC_NPROCESSORS_ONLN);
    more = 4 * (unsigned) (cpus > 2 ? cpus : 2) + 4;
    test_threads(more < THREADS_MAX ? more : THREADS_MAX);

    for (l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
        for (k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
            if (lens[l] * counts[k] > 8 * 1024 * 1024) {
                continue;
            }

            for (layout = 0; layout < 3; layout++) {
                test_leaves(lens[l], counts[k], layout);
            }
        }
    }

    /* every batch size up to a little more than two sets of lanes */

    for (k = 1; k <= 40; k++) {
        test_leaves(1856, k, k % 3);
        test_leaves(65, k, 0);
    }

    /* around the longest multi-buffer message, and beyond it */

    test_leaves(2 * 1024 * 1024 - 64, 3, 0);
    test_leaves(2 * 1024 * 1024, 3, 1);
    test_leaves(2 * 1024 * 1024 + 64, 3, 0);

    test_codec(4, 300);
    test_codec(7, 1024 * 1024);
    test_codec(10, 1000 * 1000 + 7);
    test_codec(31, 4 * 1024 * 1024);
    test_codec(100, 2 * 1024 * 1024 + 3);

    return tap_done();
}
