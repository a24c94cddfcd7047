/*
 * Encoding, verification, decoding, consistency and recovery of blobs.
 */

#include <tap.h>
#include <walrus_codec.h>
#include <walrus_metadata.h>
#include <walrus_sha256.h>


typedef struct {
    walrus_metadata_t   meta;
    uint8_t           **primary;     /* [segment * n + i] */
    uint8_t           **secondary;   /* [segment * n + j] */
    size_t             *sym;         /* per segment */
} blob_t;


static uint64_t  rng_state = 0x9e3779b97f4a7c15ULL;


static uint64_t
rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}


static void
fill(uint8_t *buf, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        buf[i] = (uint8_t) rng();
    }
}


static int
blob_encode(walrus_codec_t *c, const uint8_t *data, uint64_t len,
    uint32_t segsize, blob_t *b)
{
    int                rc;
    size_t             slen;
    uint64_t           g, off, glen;
    unsigned           i, n;
    walrus_segment_t   seg;
    const walrus_params_t  *wp;

    wp = walrus_codec_params(c);
    n = wp->n;

    rc = walrus_metadata_init(&b->meta, n, segsize, len);
    if (rc != WALRUS_OK) {
        return rc;
    }

    b->primary = calloc(b->meta.nsegments * n, sizeof(uint8_t *));
    b->secondary = calloc(b->meta.nsegments * n, sizeof(uint8_t *));
    b->sym = calloc(b->meta.nsegments, sizeof(size_t));

    walrus_segment_init(&seg);

    for (g = 0, off = 0; g < b->meta.nsegments; g++, off += glen) {
        glen = walrus_segment_length(len, segsize, g);

        rc = walrus_segment_encode(c, data + off, glen, &seg);
        if (rc != WALRUS_OK) {
            break;
        }

        b->sym[g] = seg.symbol_size;
        memcpy(walrus_metadata_segment(&b->meta, g), seg.pair_hashes,
               (size_t) n * WALRUS_PAIR_HASH_LEN);

        for (i = 0; i < n; i++) {
            slen = walrus_sliver_size(wp, WALRUS_PRIMARY, seg.symbol_size);
            b->primary[g * n + i] = malloc(slen);
            memcpy(b->primary[g * n + i], walrus_segment_primary(c, &seg, i),
                   slen);

            slen = walrus_sliver_size(wp, WALRUS_SECONDARY, seg.symbol_size);
            b->secondary[g * n + i] = malloc(slen);
            walrus_segment_secondary(c, &seg, i, b->secondary[g * n + i]);
        }
    }

    walrus_segment_free(&seg);

    return rc;
}


static void
blob_free(blob_t *b)
{
    uint64_t  i;

    for (i = 0; i < b->meta.nsegments * b->meta.params.n; i++) {
        free(b->primary[i]);
        free(b->secondary[i]);
    }

    free(b->primary);
    free(b->secondary);
    free(b->sym);
    walrus_metadata_free(&b->meta);
}


static const uint8_t *
primary_hash(const blob_t *b, uint64_t g, unsigned i)
{
    return walrus_metadata_segment(&b->meta, g)
           + (size_t) i * WALRUS_PAIR_HASH_LEN;
}


static const uint8_t *
secondary_hash(const blob_t *b, uint64_t g, unsigned j)
{
    unsigned  pair;

    pair = b->meta.params.n - 1 - j;

    return walrus_metadata_segment(&b->meta, g)
           + (size_t) pair * WALRUS_PAIR_HASH_LEN + WALRUS_HASH_LEN;
}


/*
 * Decodes the whole blob from the primary slivers whose index has its bit
 * set in use[] (verifying each first); returns the decode result.
 */

static int
blob_decode(walrus_codec_t *c, const blob_t *b, const uint8_t *use,
    uint8_t *out)
{
    int             rc;
    size_t          slen;
    uint8_t        *buf;
    uint64_t        g, off, glen;
    unsigned        i, n;
    const uint8_t  *present[WALRUS_MAX_SHARDS];

    n = b->meta.params.n;
    rc = WALRUS_OK;

    for (g = 0, off = 0; g < b->meta.nsegments; g++, off += glen) {
        glen = walrus_segment_length(b->meta.length, b->meta.segment_size,
                                     g);
        slen = walrus_sliver_size(&b->meta.params, WALRUS_PRIMARY, b->sym[g]);

        for (i = 0; i < n; i++) {
            present[i] = NULL;

            if (use[i]
                && walrus_sliver_verify(c, WALRUS_PRIMARY, i, b->sym[g],
                                        b->primary[g * n + i], slen,
                                        primary_hash(b, g, i))
                   == WALRUS_OK)
            {
                present[i] = b->primary[g * n + i];
            }
        }

        buf = malloc(walrus_segment_padded_size(&b->meta.params, glen));

        rc = walrus_segment_decode(c, walrus_metadata_segment(&b->meta, g),
                                   glen, present, buf);
        if (rc == WALRUS_OK) {
            memcpy(out + off, buf, glen);
        }

        free(buf);

        if (rc != WALRUS_OK) {
            break;
        }
    }

    return rc;
}


static void
random_subset(uint8_t *use, unsigned n, unsigned k)
{
    unsigned  i, chosen;

    memset(use, 0, n);

    for (chosen = 0; chosen < k; /* void */) {
        i = rng() % n;

        if (!use[i]) {
            use[i] = 1;
            chosen++;
        }
    }
}


static void
test_round_trips(unsigned n)
{
    int              rc, good;
    size_t           lens[16];
    uint8_t         *data, *out, use[WALRUS_MAX_SHARDS];
    uint32_t         segsize;
    unsigned         k, nlens, trial;
    blob_t           b;
    walrus_codec_t  *c;
    walrus_params_t  wp;

    walrus_params_init(&wp, n);
    c = walrus_codec_create(n);
    ok(c != NULL, "n=%u: codec created", n);

    segsize = 4096;

    nlens = 0;
    lens[nlens++] = 0;
    lens[nlens++] = 1;
    lens[nlens++] = WALRUS_SYMBOL_ALIGN - 1;
    lens[nlens++] = WALRUS_SYMBOL_ALIGN + 1;
    lens[nlens++] = (size_t) wp.p * wp.s * WALRUS_SYMBOL_ALIGN;
    lens[nlens++] = (size_t) wp.p * wp.s * WALRUS_SYMBOL_ALIGN + 1;
    lens[nlens++] = segsize - 1;
    lens[nlens++] = segsize;
    lens[nlens++] = segsize + 1;
    lens[nlens++] = 3 * (size_t) segsize + 17;

    data = malloc(4 * segsize);
    out = malloc(4 * segsize);

    for (k = 0; k < nlens; k++) {
        if (lens[k] > 4 * (size_t) segsize) {
            continue;
        }

        fill(data, lens[k]);
        memset(&b, 0, sizeof(b));

        rc = blob_encode(c, data, lens[k], segsize, &b);
        is_int(rc, WALRUS_OK, "n=%u len=%zu: encoded", n, lens[k]);

        /* the systematic set: no decoding at all */

        memset(use, 0, n);
        memset(use, 1, wp.p);
        memset(out, 0xaa, lens[k]);
        rc = blob_decode(c, &b, use, out);
        ok(rc == WALRUS_OK && memcmp(out, data, lens[k]) == 0,
           "n=%u len=%zu: systematic slivers give the blob", n, lens[k]);

        good = 1;

        for (trial = 0; trial < 3; trial++) {
            random_subset(use, n, wp.p);
            memset(out, 0x55, lens[k]);
            rc = blob_decode(c, &b, use, out);
            good &= rc == WALRUS_OK && memcmp(out, data, lens[k]) == 0;
        }

        ok(good, "n=%u len=%zu: random p-subsets give the blob", n, lens[k]);

        /* p - 1 slivers: a clean refusal */

        random_subset(use, n, wp.p - 1);
        rc = blob_decode(c, &b, use, out);
        is_int(rc, WALRUS_ENOTENOUGH, "n=%u len=%zu: p - 1 slivers refused",
               n, lens[k]);

        /* the parity slivers alone, when there are p of them */

        if (n - wp.p >= wp.p) {
            memset(use, 0, n);
            memset(use + n - wp.p, 1, wp.p);
            rc = blob_decode(c, &b, use, out);
            ok(rc == WALRUS_OK && memcmp(out, data, lens[k]) == 0,
               "n=%u len=%zu: parity slivers alone give the blob", n,
               lens[k]);
        }

        blob_free(&b);
    }

    free(data);
    free(out);
    walrus_codec_destroy(c);
}


static void
test_tamper(unsigned n)
{
    int              rc, all;
    size_t           slen, pos;
    uint8_t         *data, *sl;
    unsigned         i;
    blob_t           b;
    walrus_codec_t  *c;
    const walrus_params_t  *wp;

    c = walrus_codec_create(n);
    wp = walrus_codec_params(c);
    data = malloc(5000);
    fill(data, 5000);
    memset(&b, 0, sizeof(b));
    blob_encode(c, data, 5000, 4096, &b);

    all = 1;

    for (i = 0; i < n; i++) {
        slen = walrus_sliver_size(wp, WALRUS_PRIMARY, b.sym[1]);
        sl = b.primary[n + i];
        all &= walrus_sliver_verify(c, WALRUS_PRIMARY, i, b.sym[1], sl, slen,
                                    primary_hash(&b, 1, i)) == WALRUS_OK;

        slen = walrus_sliver_size(wp, WALRUS_SECONDARY, b.sym[1]);
        sl = b.secondary[n + i];
        all &= walrus_sliver_verify(c, WALRUS_SECONDARY, i, b.sym[1], sl,
                                    slen, secondary_hash(&b, 1, i))
               == WALRUS_OK;
    }

    ok(all, "n=%u: every sliver verifies", n);

    all = 1;

    for (i = 0; i < n; i++) {
        slen = walrus_sliver_size(wp, WALRUS_PRIMARY, b.sym[0]);
        sl = b.primary[i];
        pos = rng() % slen;
        sl[pos] ^= 1 << (rng() % 8);
        rc = walrus_sliver_verify(c, WALRUS_PRIMARY, i, b.sym[0], sl, slen,
                                  primary_hash(&b, 0, i));
        all &= rc == WALRUS_EHASH;
        sl[pos] = 0;

        slen = walrus_sliver_size(wp, WALRUS_SECONDARY, b.sym[0]);
        sl = b.secondary[i];
        pos = rng() % slen;
        sl[pos] ^= 0x80;
        rc = walrus_sliver_verify(c, WALRUS_SECONDARY, i, b.sym[0], sl, slen,
                                  secondary_hash(&b, 0, i));
        all &= rc == WALRUS_EHASH;
    }

    ok(all, "n=%u: a flipped byte in any sliver is detected", n);

    slen = walrus_sliver_size(wp, WALRUS_PRIMARY, b.sym[1]);
    rc = walrus_sliver_verify(c, WALRUS_PRIMARY, 0, b.sym[1], b.primary[n],
                              slen - 1, primary_hash(&b, 1, 0));
    is_int(rc, WALRUS_ELENGTH, "n=%u: a short sliver is rejected", n);

    rc = walrus_sliver_verify(c, WALRUS_PRIMARY, 0, b.sym[1], b.primary[n],
                              slen + 1, primary_hash(&b, 1, 0));
    is_int(rc, WALRUS_ELENGTH, "n=%u: a long sliver is rejected", n);

    rc = walrus_sliver_verify(c, WALRUS_SECONDARY, 0, b.sym[1],
                              b.primary[n], slen, primary_hash(&b, 1, 0));
    ok(rc == WALRUS_ELENGTH || rc == WALRUS_EHASH,
       "n=%u: a primary sliver offered as secondary is rejected", n);

    rc = walrus_sliver_verify(c, WALRUS_PRIMARY, n, b.sym[1], b.primary[n],
                              slen, primary_hash(&b, 1, 0));
    is_int(rc, WALRUS_EINVAL, "n=%u: sliver index n is rejected", n);

    /* a sliver of another pair does not pass as this pair's */

    rc = walrus_sliver_verify(c, WALRUS_PRIMARY, 1, b.sym[1], b.primary[n],
                              slen, primary_hash(&b, 1, 1));
    is_int(rc, WALRUS_EHASH, "n=%u: sliver 0 does not pass as sliver 1", n);

    blob_free(&b);
    free(data);
    walrus_codec_destroy(c);
}


/*
 * A dishonest writer replaces parity primary sliver p by garbage and
 * commits to the garbage's own hash: that sliver verifies, yet decoding
 * with it gives rows that do not match the metadata.
 */

static void
test_inconsistent(unsigned n)
{
    int              rc;
    size_t           slen;
    uint8_t         *data, *out, use[WALRUS_MAX_SHARDS];
    blob_t           b;
    walrus_codec_t  *c;
    const walrus_params_t  *wp;

    c = walrus_codec_create(n);
    wp = walrus_codec_params(c);
    data = malloc(3000);
    out = malloc(3000);
    fill(data, 3000);
    memset(&b, 0, sizeof(b));
    blob_encode(c, data, 3000, 4096, &b);

    slen = walrus_sliver_size(wp, WALRUS_PRIMARY, b.sym[0]);
    fill(b.primary[wp->p], slen);
    rc = walrus_sliver_hash(c, WALRUS_PRIMARY, b.sym[0], b.primary[wp->p],
                            slen, (uint8_t *) primary_hash(&b, 0, wp->p));
    is_int(rc, WALRUS_OK, "n=%u: bad parity committed to", n);

    memset(use, 0, n);
    memset(use, 1, wp->p);
    rc = blob_decode(c, &b, use, out);
    ok(rc == WALRUS_OK && memcmp(out, data, 3000) == 0,
       "n=%u: systematic read of the bad blob sees the source rows", n);

    use[0] = 0;
    use[wp->p] = 1;
    rc = blob_decode(c, &b, use, out);
    is_int(rc, WALRUS_EINCONSISTENT,
           "n=%u: decoding with the bad parity is an inconsistency", n);

    blob_free(&b);
    free(data);
    free(out);
    walrus_codec_destroy(c);
}


static void
test_recovery(unsigned n)
{
    int              rc, all;
    size_t           sym, psize, ssize, proof_len;
    uint8_t         *data, *proof, *out, *syms[WALRUS_MAX_SHARDS];
    uint8_t          use[WALRUS_MAX_SHARDS];
    unsigned         i, h, target;
    blob_t           b;
    walrus_codec_t  *c;
    const walrus_params_t  *wp;

    c = walrus_codec_create(n);
    wp = walrus_codec_params(c);
    data = malloc(6000);
    fill(data, 6000);
    memset(&b, 0, sizeof(b));
    blob_encode(c, data, 6000, 8192, &b);

    sym = b.sym[0];
    psize = walrus_sliver_size(wp, WALRUS_PRIMARY, sym);
    ssize = walrus_sliver_size(wp, WALRUS_SECONDARY, sym);
    proof_len = walrus_merkle_proof_size(n);
    proof = malloc(proof_len);
    out = malloc(psize > ssize ? psize : ssize);

    /* primary sliver `target` from s holders of secondary slivers */

    target = n / 2;
    random_subset(use, n, wp->s);
    all = 1;

    for (h = 0; h < n; h++) {
        syms[h] = NULL;

        if (!use[h]) {
            continue;
        }

        syms[h] = malloc(sym);
        rc = walrus_recovery_symbol(c, WALRUS_SECONDARY, h, sym,
                                    b.secondary[h], target, syms[h], proof);
        all &= rc == WALRUS_OK;
        rc = walrus_recovery_symbol_verify(c, WALRUS_SECONDARY, h, target,
                                           sym, syms[h], proof,
                                           secondary_hash(&b, 0, h));
        all &= rc == WALRUS_OK;

        if (h == n - 1) {
            syms[h][0] ^= 1;
            rc = walrus_recovery_symbol_verify(c, WALRUS_SECONDARY, h,
                                               target, sym, syms[h], proof,
                                               secondary_hash(&b, 0, h));
            is_int(rc, WALRUS_EHASH, "n=%u: a bad symbol fails its proof",
                   n);
            syms[h][0] ^= 1;

            rc = walrus_recovery_symbol_verify(c, WALRUS_SECONDARY, h,
                                               target + 1, sym, syms[h],
                                               proof,
                                               secondary_hash(&b, 0, h));
            is_int(rc, WALRUS_EHASH,
                   "n=%u: a symbol for another target fails its proof", n);
        }
    }

    ok(all, "n=%u: recovery symbols for a primary sliver verify", n);

    rc = walrus_sliver_rebuild(c, WALRUS_PRIMARY, target, sym,
                               (const uint8_t *const *) syms, out);
    ok(rc == WALRUS_OK && memcmp(out, b.primary[target], psize) == 0,
       "n=%u: primary sliver rebuilt from s symbols", n);
    is_int(walrus_sliver_verify(c, WALRUS_PRIMARY, target, sym, out, psize,
                                primary_hash(&b, 0, target)),
           WALRUS_OK, "n=%u: rebuilt primary sliver verifies", n);

    for (h = 0; h < n; h++) {
        if (syms[h] != NULL) {
            free(syms[h]);
            syms[h] = NULL;
            break;
        }
    }

    rc = walrus_sliver_rebuild(c, WALRUS_PRIMARY, target, sym,
                               (const uint8_t *const *) syms, out);
    is_int(rc, WALRUS_ENOTENOUGH, "n=%u: s - 1 symbols are not enough", n);

    for (h = 0; h < n; h++) {
        free(syms[h]);
    }

    /* secondary sliver `target` from p holders of primary slivers */

    target = n - 1;
    random_subset(use, n, wp->p);
    all = 1;

    for (h = 0; h < n; h++) {
        syms[h] = NULL;

        if (!use[h]) {
            continue;
        }

        syms[h] = malloc(sym);
        rc = walrus_recovery_symbol(c, WALRUS_PRIMARY, h, sym,
                                    b.primary[h], target, syms[h], proof);
        all &= rc == WALRUS_OK;
        all &= walrus_recovery_symbol_verify(c, WALRUS_PRIMARY, h, target,
                                             sym, syms[h], proof,
                                             primary_hash(&b, 0, h))
               == WALRUS_OK;
    }

    ok(all, "n=%u: recovery symbols for a secondary sliver verify", n);

    rc = walrus_sliver_rebuild(c, WALRUS_SECONDARY, target, sym,
                               (const uint8_t *const *) syms, out);
    ok(rc == WALRUS_OK && memcmp(out, b.secondary[target], ssize) == 0,
       "n=%u: secondary sliver rebuilt from p symbols", n);

    for (i = 0; i < n; i++) {
        free(syms[i]);
    }

    free(proof);
    free(out);
    blob_free(&b);
    free(data);
    walrus_codec_destroy(c);
}


/*
 * A segment's matrix in the caller's memory (walrus_segment_lend()): the
 * same root and slivers as in the codec's own, used only when it fits,
 * and the caller's still after walrus_segment_free().
 */

static void
test_lend(unsigned n)
{
    int                     same;
    size_t                  size, slen;
    uint8_t                *data, *loan, *own;
    uint8_t                 root[WALRUS_HASH_LEN];
    uint64_t                len;
    unsigned                i;
    walrus_codec_t         *c;
    walrus_segment_t        seg;
    const walrus_params_t  *wp;

    c = walrus_codec_create(n);
    wp = walrus_codec_params(c);
    len = 100000 + n;
    data = malloc(len);

    for (i = 0; i < len; i++) {
        data[i] = (uint8_t) (i * 7 + n);
    }

    size = walrus_segment_matrix_size(wp, len);
    slen = walrus_sliver_size(wp, WALRUS_PRIMARY, walrus_symbol_size(wp, len));
    loan = malloc(size);
    own = malloc((size_t) n * slen);

    walrus_segment_init(&seg);
    ok(walrus_segment_encode(c, data, len, &seg) == WALRUS_OK,
       "n=%u: a segment encoded in the codec's memory", n);
    memcpy(root, seg.root, WALRUS_HASH_LEN);

    for (i = 0; i < n; i++) {
        memcpy(own + i * slen, walrus_segment_primary(c, &seg, i), slen);
    }

    walrus_segment_free(&seg);

    walrus_segment_init(&seg);
    walrus_segment_lend(&seg, loan, size);
    ok(walrus_segment_encode(c, data, len, &seg) == WALRUS_OK
       && seg.matrix_lent && seg.matrix > loan && seg.matrix < loan + size,
       "n=%u: in a loan of walrus_segment_matrix_size() bytes", n);

    same = memcmp(root, seg.root, WALRUS_HASH_LEN) == 0;

    for (i = 0; i < n; i++) {
        same = same && memcmp(own + i * slen,
                              walrus_segment_primary(c, &seg, i), slen) == 0;
    }

    ok(same, "n=%u: ... the same root and primary slivers", n);
    walrus_segment_free(&seg);
    ok(seg.loan == NULL && seg.matrix == NULL,
       "n=%u: ... free ends the loan", n);
    memset(loan, 0xa5, size);

    walrus_segment_init(&seg);
    walrus_segment_lend(&seg, loan, size - 1);
    ok(walrus_segment_encode(c, data, len, &seg) == WALRUS_OK
       && !seg.matrix_lent
       && memcmp(root, seg.root, WALRUS_HASH_LEN) == 0,
       "n=%u: a loan a byte short is not used, the root the same", n);
    walrus_segment_free(&seg);

    free(own);
    free(loan);
    free(data);
    walrus_codec_destroy(c);
}


int
main(void)
{
    unsigned         i;
    static unsigned  ns[] = { 4, 7, 10, 13, 31, 100, 255 };

    for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        test_round_trips(ns[i]);
        test_tamper(ns[i]);
        test_inconsistent(ns[i]);
        test_recovery(ns[i]);
        test_lend(ns[i]);
    }

    ok(walrus_codec_create(3) == NULL, "n=3 is refused");
    ok(walrus_codec_create(256) == NULL, "n=256 is refused");

    return tap_done();
}
