/*
 * Audit simulation: the probability that a node which lost some of the
 * blobs it promised passes a storage audit round (docs/protocol.md
 * section 17.7), computed exactly and checked by drawing challenge sets
 * with the core's own pick (walrus_audit_pick_init/_add, section 17.2).
 *
 *   audit_sim [-t trials] [-H hashes] [-m trials] [-S seed] [-B 100,...]
 *
 * A trial is a node that promised B blobs with random IDs, of which L
 * are lost: a random L-subset.  The trial draws a fresh random seed and
 * node index, feeds the B IDs to the pick and looks at the c blobs it
 * chose.  Each blob gets a random rank (a random permutation of 0..B-1)
 * and the lost ones are those of rank below L: the node passes with L
 * lost iff the smallest rank among the chosen blobs is L or more, so one
 * pick answers every L at once, each L-subset being uniform.
 *
 * The exact pass probability with L of B lost is hypergeometric:
 *
 *     C(B - L, c) / C(B, c) = prod_{i < c} (B - L - i) / (B - i)
 *
 * (c = WALRUS_AUDIT_BLOBS; with B <= c every blob is challenged).  It is
 * printed beside h^c, h = 1 - L / B, the value when each blob is lost
 * independently with probability 1 - h.
 *
 * The multi-round part keeps the node's blobs and lost set and draws t
 * fresh seeds: passing every round then has probability p^t.
 *
 * Options: -t trials per B (100000), -H at most this many scores per B,
 * trials cut to fit (10^8), -m trials of the multi-round part (10000),
 * -S the generator's seed (64 bits; default from getrandom), -B the
 * blob counts (20,32,64,100,1000,10000).  Environment:
 * WALRUS_BENCH_TRIALS, WALRUS_BENCH_SEED.  Exits non-zero when the pick
 * chose a wrong count or an observed rate is more than 5 standard
 * deviations from the exact value.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <walrus_audit.h>


#define SIM_MAX_B       100000
#define SIM_MAX_LIST    16
#define SIM_ROUNDS      10
#define SIM_Z95         1.959963984540054
#define SIM_ZFAIL       5.0


typedef struct {
    uint64_t   state;
} sim_rng_t;


typedef struct {
    unsigned    B;
    unsigned    L;
    double      h;
    uint64_t    trials;
    uint64_t    passed;
    double      exact;
} sim_row_t;


static uint64_t sim_next(sim_rng_t *r);
static unsigned sim_below(sim_rng_t *r, unsigned n);
static void sim_bytes(sim_rng_t *r, uint8_t *p, size_t len);
static double sim_exact(unsigned B, unsigned L, unsigned c);
static void sim_wilson(uint64_t k, uint64_t n, double *lo, double *hi);
static double sim_z(uint64_t k, uint64_t n, double p);
static int sim_list(const char *text, unsigned *list, unsigned *count);
static double sim_now(void);
static int sim_trial(sim_rng_t *r, unsigned B, uint8_t *ids,
    unsigned *rank, unsigned fresh, unsigned *minrank);
static int sim_print_row(const sim_row_t *row);


static unsigned   sim_failures;


int
main(int argc, char **argv)
{
    int         opt, rc;
    char       *env, *end;
    double      t0, hs[2];
    uint8_t    *ids;
    uint64_t    trials, mtrials, hashes, seed, k, n, *hist;
    unsigned    i, j, B, L, nb, nl, bs[SIM_MAX_LIST], *rank, minrank, best,
                r;
    sim_rng_t   rng;
    sim_row_t   row, one[SIM_MAX_LIST];

    trials = 100000;
    mtrials = 10000;
    hashes = 100000000;
    bs[0] = 20;
    bs[1] = 32;
    bs[2] = 64;
    bs[3] = 100;
    bs[4] = 1000;
    bs[5] = 10000;
    nb = 6;
    hs[0] = 0.9;
    hs[1] = 0.99;

    if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
        seed = (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 32);
    }

    env = getenv("WALRUS_BENCH_TRIALS");
    if (env != NULL) {
        trials = strtoull(env, &end, 10);
        if (*end != '\0') {
            goto usage;
        }
    }

    env = getenv("WALRUS_BENCH_SEED");
    if (env != NULL) {
        seed = strtoull(env, &end, 0);
        if (*end != '\0') {
            goto usage;
        }
    }

    while ((opt = getopt(argc, argv, "t:H:m:S:B:h")) != -1) {
        switch (opt) {

        case 't':
            trials = strtoull(optarg, &end, 10);
            break;

        case 'H':
            hashes = strtoull(optarg, &end, 10);
            break;

        case 'm':
            mtrials = strtoull(optarg, &end, 10);
            break;

        case 'S':
            seed = strtoull(optarg, &end, 0);
            break;

        case 'B':
            if (sim_list(optarg, bs, &nb) != 0) {
                goto usage;
            }
            end = optarg + strlen(optarg);
            break;

        default:
            goto usage;
        }

        if (*end != '\0') {
            goto usage;
        }
    }

    if (optind != argc || trials == 0 || hashes == 0) {
        goto usage;
    }

    best = 0;
    for (i = 0; i < nb; i++) {
        if (bs[i] == 0 || bs[i] > SIM_MAX_B) {
            goto usage;
        }
        best = bs[i] > best ? bs[i] : best;
    }
    best = best > 1000 ? best : 1000;

    ids = malloc((size_t) best * WALRUS_BLOB_ID_LEN);
    rank = malloc((size_t) best * sizeof(unsigned));
    hist = malloc(((size_t) best + 1) * sizeof(uint64_t));

    if (ids == NULL || rank == NULL || hist == NULL) {
        fprintf(stderr, "audit_sim: out of memory\n");
        return 1;
    }

    rng.state = seed;

    printf("# walrus audit simulation\n\n");
    printf("c = %u (WALRUS_AUDIT_BLOBS), generator seed 0x%016llx "
           "(-S to repeat), challenge sets by walrus_audit_pick_add()\n\n",
           WALRUS_AUDIT_BLOBS, (unsigned long long) seed);

    printf("## One round\n\n");
    printf("| B | h | lost L | exact C(B-L,c)/C(B,c) | h^c | trials "
           "| passed | observed | 95 %% CI | z |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n");
    fflush(stdout);

    t0 = sim_now();
    n = 0;
    nl = 0;

    for (i = 0; i < nb; i++) {
        B = bs[i];
        k = hashes / B < trials ? hashes / B : trials;
        k = k ? k : 1;

        memset(hist, 0, ((size_t) B + 1) * sizeof(uint64_t));

        for (j = 0; j < k; j++) {
            if (sim_trial(&rng, B, ids, rank, 1, &minrank) != 0) {
                return 2;
            }
            hist[minrank]++;
        }

        n += k * B;

        /*
         * hist[m]: trials whose smallest chosen rank is m; summed from
         * the top, trials that pass with L lost (smallest rank >= L)
         */

        for (j = B; j > 0; j--) {
            hist[j - 1] += hist[j];
        }

        row.B = B;
        row.trials = k;

        for (r = 0; r < 2; r++) {
            L = (unsigned) lround((1.0 - hs[r]) * B);
            if (L == 0 || fabs((double) L - (1.0 - hs[r]) * B) > 1e-9) {
                continue;
            }

            row.L = L;
            row.h = hs[r];
            row.passed = hist[L];
            row.exact = sim_exact(B, L, WALRUS_AUDIT_BLOBS);
            sim_print_row(&row);
        }

        /* one blob lost: fails with probability min(1, c / B) */

        one[nl].B = B;
        one[nl].L = 1;
        one[nl].trials = k;
        one[nl].passed = hist[1];
        one[nl].exact = sim_exact(B, 1, WALRUS_AUDIT_BLOBS);
        nl++;
    }

    printf("\n%llu scores in %.1f s (%.2f us each)\n\n",
           (unsigned long long) n, sim_now() - t0,
           1e6 * (sim_now() - t0) / (double) n);

    printf("## One blob lost out of B: failing a round\n\n");
    printf("| B | min(1, c/B) | exact 1 - C(B-1,c)/C(B,c) | trials | failed "
           "| observed | 95 %% CI | z |\n");
    printf("|---:|---:|---:|---:|---:|---:|---|---:|\n");

    for (i = 0; i < nl; i++) {
        double  lo, hi, z, claim;

        claim = (double) WALRUS_AUDIT_BLOBS / one[i].B;
        claim = claim < 1.0 ? claim : 1.0;
        k = one[i].trials - one[i].passed;
        sim_wilson(k, one[i].trials, &lo, &hi);
        z = sim_z(k, one[i].trials, 1.0 - one[i].exact);

        printf("| %u | %.4f | %.4f | %llu | %llu | %.4f | %.4f to %.4f "
               "| %.2f |\n", one[i].B, claim, 1.0 - one[i].exact,
               (unsigned long long) one[i].trials, (unsigned long long) k,
               (double) k / (double) one[i].trials, lo, hi, z);

        if (fabs(z) > SIM_ZFAIL || fabs(claim - (1.0 - one[i].exact)) > 1e-9)
        {
            sim_failures++;
        }
    }

    printf("\n");

    /* the same node, blobs and losses over SIM_ROUNDS rounds */

    B = 1000;

    printf("## %u rounds in a row (B = %u, the same blobs and losses, "
           "a fresh seed each round)\n\n", SIM_ROUNDS, B);
    printf("| B | h | lost L | rounds t | exact p^t | h^(c t) | trials "
           "| passed all | observed | 95 %% CI | z |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n");
    fflush(stdout);

    {
        unsigned  Ls[2] = { 1, 10 };
        uint64_t  passes[2][SIM_ROUNDS];
        double    lo, hi, p, z;

        memset(passes, 0, sizeof(passes));

        for (j = 0; j < mtrials; j++) {
            minrank = B;

            for (r = 0; r < SIM_ROUNDS; r++) {
                unsigned  m;

                if (sim_trial(&rng, B, ids, rank, r == 0, &m) != 0) {
                    return 2;
                }

                minrank = m < minrank ? m : minrank;

                for (i = 0; i < 2; i++) {
                    passes[i][r] += minrank >= Ls[i];
                }
            }
        }

        for (i = 0; i < 2; i++) {
            for (r = 0; r < SIM_ROUNDS; r++) {
                if (r != 0 && r != 1 && r != 4 && r != SIM_ROUNDS - 1) {
                    continue;
                }

                p = pow(sim_exact(B, Ls[i], WALRUS_AUDIT_BLOBS), r + 1);
                sim_wilson(passes[i][r], mtrials, &lo, &hi);
                z = sim_z(passes[i][r], mtrials, p);

                printf("| %u | %.3f | %u | %u | %.4g | %.4g | %llu | %llu "
                       "| %.4g | %.4g to %.4g | %.2f |\n", B,
                       1.0 - (double) Ls[i] / B, Ls[i], r + 1, p,
                       pow(1.0 - (double) Ls[i] / B,
                           (double) WALRUS_AUDIT_BLOBS * (r + 1)),
                       (unsigned long long) mtrials,
                       (unsigned long long) passes[i][r],
                       (double) passes[i][r] / (double) mtrials, lo, hi, z);

                if (fabs(z) > SIM_ZFAIL) {
                    sim_failures++;
                }
            }
        }

    }

    /* exact figures only: passing t rounds, rounds to catch a node */

    printf("\n## Exact: passing t rounds in a row (hypergeometric p^t, "
           "beside h^(c t))\n\n");
    printf("| B | h | p (1 round) | t = 5 | t = 10 | t = 20 | t = 50 "
           "| h^(32 t), t = 10 | rounds to fail with prob. >= 0.99 |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");

    {
        unsigned  Bs[3] = { 100, 1000, 10000 };
        double    hh[3] = { 0.9, 0.99, 0.999 };
        double    p;

        for (i = 0; i < 3; i++) {
            for (r = 0; r < 3; r++) {
                L = (unsigned) lround((1.0 - hh[r]) * Bs[i]);
                if (L == 0) {
                    continue;
                }

                p = sim_exact(Bs[i], L, WALRUS_AUDIT_BLOBS);

                printf("| %u | %.3f | %.4g | %.3g | %.3g | %.3g | %.3g "
                       "| %.3g | %.0f |\n", Bs[i], hh[r], p, pow(p, 5),
                       pow(p, 10), pow(p, 20), pow(p, 50),
                       pow(hh[r], 10.0 * WALRUS_AUDIT_BLOBS),
                       p > 0 ? ceil(log(0.01) / log(p)) : 1.0);
            }
        }
    }

    free(ids);
    free(rank);
    free(hist);

    rc = sim_failures ? 1 : 0;

    printf("\n%s\n", rc ? "FAILED: an observed rate is off the exact value"
                        : "every observed rate is within 5 standard "
                          "deviations of the exact value");

    return rc;

usage:

    fprintf(stderr, "usage: audit_sim [-t trials] [-H hashes] [-m trials] "
            "[-S seed] [-B 100,1000,...]\n");
    return 2;
}


/*
 * One challenge: with fresh, B new random IDs (their index in the first
 * 4 bytes, then 28 random bytes) and a new random permutation of ranks;
 * then a random seed and node (of 7), the pick over the IDs, and the smallest
 * rank among the chosen blobs (B when none is chosen).
 */

static int
sim_trial(sim_rng_t *r, unsigned B, uint8_t *ids, unsigned *rank,
    unsigned fresh, unsigned *minrank)
{
    unsigned             i, j, t, idx, want;
    uint8_t              seed[WALRUS_HASH_LEN];
    walrus_audit_pick_t  pick;

    if (fresh) {
        for (i = 0; i < B; i++) {
            walrus_put_le(ids + (size_t) i * WALRUS_BLOB_ID_LEN, i, 4);
            sim_bytes(r, ids + (size_t) i * WALRUS_BLOB_ID_LEN + 4,
                      WALRUS_BLOB_ID_LEN - 4);
            rank[i] = i;
        }

        for (i = B; i > 1; i--) {
            j = sim_below(r, i);
            t = rank[i - 1];
            rank[i - 1] = rank[j];
            rank[j] = t;
        }
    }

    sim_bytes(r, seed, sizeof(seed));
    walrus_audit_pick_init(&pick, seed, sim_below(r, 7));

    for (i = 0; i < B; i++) {
        walrus_audit_pick_add(&pick, ids + (size_t) i * WALRUS_BLOB_ID_LEN);
    }

    want = B < WALRUS_AUDIT_BLOBS ? B : WALRUS_AUDIT_BLOBS;

    if (pick.count != want) {
        fprintf(stderr, "audit_sim: the pick chose %u of %u blobs, not %u\n",
                pick.count, B, want);
        return -1;
    }

    *minrank = B;

    for (i = 0; i < pick.count; i++) {
        idx = (unsigned) walrus_get_le(pick.blob_id[i], 4);

        if (idx >= B) {
            fprintf(stderr, "audit_sim: the pick chose an unknown blob\n");
            return -1;
        }

        *minrank = rank[idx] < *minrank ? rank[idx] : *minrank;
    }

    return 0;
}


static int
sim_print_row(const sim_row_t *row)
{
    double  lo, hi, z;

    sim_wilson(row->passed, row->trials, &lo, &hi);
    z = sim_z(row->passed, row->trials, row->exact);

    printf("| %u | %.4g | %u | %.4f | %.4f | %llu | %llu | %.4f "
           "| %.4f to %.4f | %.2f |\n", row->B, row->h, row->L, row->exact,
           pow(row->h, WALRUS_AUDIT_BLOBS),
           (unsigned long long) row->trials,
           (unsigned long long) row->passed,
           (double) row->passed / (double) row->trials, lo, hi, z);
    fflush(stdout);

    if (fabs(z) > SIM_ZFAIL) {
        sim_failures++;
    }

    return 0;
}


/* prod_{i < min(c, B)} (B - L - i) / (B - i) */

static double
sim_exact(unsigned B, unsigned L, unsigned c)
{
    unsigned     i;
    long double  p;

    p = 1.0L;

    for (i = 0; i < c && i < B; i++) {
        if (B < L + i + 1) {
            return 0.0;
        }
        p *= (long double) (B - L - i) / (long double) (B - i);
    }

    return (double) p;
}


/* the Wilson score interval of k successes in n trials, 95 % */

static void
sim_wilson(uint64_t k, uint64_t n, double *lo, double *hi)
{
    double  p, z2, d, mid, half;

    p = (double) k / (double) n;
    z2 = SIM_Z95 * SIM_Z95;
    d = 1.0 + z2 / (double) n;
    mid = (p + z2 / (2.0 * (double) n)) / d;
    half = SIM_Z95 * sqrt(p * (1.0 - p) / (double) n
                          + z2 / (4.0 * (double) n * (double) n)) / d;

    *lo = k == 0 || mid - half < 0.0 ? 0.0 : mid - half;
    *hi = k == n || mid + half > 1.0 ? 1.0 : mid + half;
}


/* standard deviations between k of n and p; a certain p must be met */

static double
sim_z(uint64_t k, uint64_t n, double p)
{
    double  sd;

    sd = sqrt(p * (1.0 - p) / (double) n);

    if (sd == 0.0) {
        return (double) k == p * (double) n ? 0.0 : HUGE_VAL;
    }

    return ((double) k / (double) n - p) / sd;
}


/* splitmix64 */

static uint64_t
sim_next(sim_rng_t *r)
{
    uint64_t  z;

    r->state += 0x9e3779b97f4a7c15ULL;
    z = r->state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


/* uniform in 0..n-1, by rejection */

static unsigned
sim_below(sim_rng_t *r, unsigned n)
{
    uint64_t  x, limit;

    limit = UINT64_MAX - UINT64_MAX % n;

    do {
        x = sim_next(r);
    } while (x >= limit);

    return (unsigned) (x % n);
}


static void
sim_bytes(sim_rng_t *r, uint8_t *p, size_t len)
{
    size_t    i;
    uint64_t  x;

    for (i = 0; i < len; i += 8) {
        x = sim_next(r);
        memcpy(p + i, &x, len - i < 8 ? len - i : 8);
    }
}


static int
sim_list(const char *text, unsigned *list, unsigned *count)
{
    char           *end;
    unsigned long   v;

    *count = 0;

    for ( ;; ) {
        v = strtoul(text, &end, 10);

        if (end == text || v == 0 || v > SIM_MAX_B
            || *count == SIM_MAX_LIST)
        {
            return -1;
        }

        list[(*count)++] = (unsigned) v;

        if (*end == '\0') {
            return 0;
        }

        if (*end != ',') {
            return -1;
        }

        text = end + 1;
    }
}


static double
sim_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}
