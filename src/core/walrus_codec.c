/*
 * Two-dimensional Reed-Solomon coding of segments with ISA-L.
 */

#include <stdlib.h>
#include <string.h>
#include <isa-l/erasure_code.h>
#include <walrus_codec.h>
#include <walrus_sha256.h>


/*
 * How the slivers' own symbols reach the multi-buffer lanes (their parity
 * symbols are the codec's, always hashed in place)
 */
typedef enum {
    WALRUS_LEAVES_COPIED = 0,    /* read only: copied with their prefix */
    WALRUS_LEAVES_IN_PLACE,      /* a writable byte before each sliver */
    WALRUS_LEAVES_BUT_FIRST      /* the same but for the first sliver */
} walrus_leaf_mode_e;


/* a systematic [n, k] code: generator rows 0..k-1 are the identity */
typedef struct {
    unsigned   k;
    uint8_t   *gen;      /* n x k */
    uint8_t   *tables;   /* ISA-L tables of the n - k parity rows */
} walrus_code_t;


struct walrus_codec_s {
    walrus_params_t    params;
    walrus_code_t      code[2];     /* indexed by walrus_axis_e */
    walrus_sha256_t   *sha;
    uint8_t          **in;          /* n pointers */
    uint8_t          **out;         /* n pointers */
    unsigned          *chosen;      /* n indices */
    uint8_t           *matrix;      /* k x k */
    uint8_t           *inverse;     /* k x k */
    uint8_t           *coefs;       /* k x k */
    uint8_t           *tables;      /* 32 * k * k */
    uint8_t           *leaves;      /* n leaf hashes */
    uint8_t           *merkle;      /* n hashes of tree scratch */
    uint8_t           *roots;       /* n sliver hashes */
    uint8_t           *cells;       /* parity symbols, each after a byte */
    size_t             cells_size;
    uint8_t           *lent;        /* the caller's memory for cells */
    size_t             lent_size;
    uint8_t          **batch;       /* the leaves of a batch of slivers */
    size_t             batch_size;  /* bytes of batch */
    uint8_t           *hashes;      /* their leaf hashes */
    size_t             hashes_size;
};


static int walrus_code_init(walrus_code_t *code, unsigned n, unsigned k);
static int walrus_grow(uint8_t **buf, size_t *size, size_t need);
static int walrus_segment_reserve(walrus_segment_t *seg, unsigned n,
    size_t sym);
static int walrus_hash_matrix(walrus_codec_t *c, walrus_segment_t *seg);
static int walrus_rs_decode(walrus_codec_t *c, walrus_code_t *code,
    size_t len, const uint8_t *const *present, uint8_t **out);
static int walrus_hash_slivers(walrus_codec_t *c, walrus_axis_e axis,
    size_t sym, const uint8_t *const *slivers, size_t count,
    walrus_leaf_mode_e mode, uint8_t *hashes);
static uint8_t *walrus_cells_reserve(walrus_codec_t *c, size_t need);


/*
 * Multi-buffer SHA-256 has no incremental update: a leaf's 0x00 prefix
 * must sit in memory right before its symbol.  The segment matrix keeps
 * its symbols contiguous (primary slivers are written straight from it)
 * and has this many bytes before its first symbol, so that every symbol
 * has a byte before it to stand in for the prefix while it is hashed (the
 * last byte of the previous symbol, restored after).  A multiple of 64
 * keeps the symbols at the buffer's alignment.
 */
#define WALRUS_MATRIX_PAD     WALRUS_SYMBOL_ALIGN

/* leaves of the matrix given to the hashing layer at a time */
#define WALRUS_MATRIX_BATCH   1024


/* the code that extends a sliver of `axis` into its n symbols */
#define walrus_code_for(c, axis)  (&(c)->code[(axis) == WALRUS_PRIMARY    \
                                              ? WALRUS_SECONDARY          \
                                              : WALRUS_PRIMARY])


walrus_codec_t *
walrus_codec_create(unsigned n)
{
    size_t           k;
    walrus_codec_t  *c;

    c = calloc(1, sizeof(walrus_codec_t));
    if (c == NULL) {
        return NULL;
    }

    if (walrus_params_init(&c->params, n) != WALRUS_OK) {
        free(c);
        return NULL;
    }

    k = c->params.s;

    c->sha = walrus_sha256_create();
    c->in = calloc(n, sizeof(uint8_t *));
    c->out = calloc(n, sizeof(uint8_t *));
    c->chosen = calloc(n, sizeof(unsigned));
    c->matrix = malloc(k * k);
    c->inverse = malloc(k * k);
    c->coefs = malloc(k * k);
    c->tables = malloc(32 * k * k);
    c->leaves = malloc(n * WALRUS_HASH_LEN);
    c->merkle = malloc(n * WALRUS_HASH_LEN);
    c->roots = malloc(n * WALRUS_HASH_LEN);

    if (c->sha == NULL || c->in == NULL || c->out == NULL
        || c->chosen == NULL || c->matrix == NULL || c->inverse == NULL
        || c->coefs == NULL || c->tables == NULL || c->leaves == NULL
        || c->merkle == NULL || c->roots == NULL
        || walrus_code_init(&c->code[WALRUS_PRIMARY], n, c->params.p)
           != WALRUS_OK
        || walrus_code_init(&c->code[WALRUS_SECONDARY], n, c->params.s)
           != WALRUS_OK)
    {
        walrus_codec_destroy(c);
        return NULL;
    }

    return c;
}


static int
walrus_code_init(walrus_code_t *code, unsigned n, unsigned k)
{
    code->k = k;
    code->gen = malloc((size_t) n * k);
    code->tables = malloc((size_t) 32 * k * (n - k));

    if (code->gen == NULL || code->tables == NULL) {
        return WALRUS_ENOMEM;
    }

    gf_gen_cauchy1_matrix(code->gen, (int) n, (int) k);
    ec_init_tables((int) k, (int) (n - k), code->gen + (size_t) k * k,
                   code->tables);

    return WALRUS_OK;
}


void
walrus_codec_destroy(walrus_codec_t *c)
{
    unsigned  i;

    if (c == NULL) {
        return;
    }

    for (i = 0; i < 2; i++) {
        free(c->code[i].gen);
        free(c->code[i].tables);
    }

    walrus_sha256_destroy(c->sha);
    free(c->in);
    free(c->out);
    free(c->chosen);
    free(c->matrix);
    free(c->inverse);
    free(c->coefs);
    free(c->tables);
    free(c->leaves);
    free(c->merkle);
    free(c->roots);
    free(c->cells);
    free(c->batch);
    free(c->hashes);
    free(c);
}


const walrus_params_t *
walrus_codec_params(const walrus_codec_t *c)
{
    return &c->params;
}


size_t
walrus_sliver_size(const walrus_params_t *wp, walrus_axis_e axis,
    size_t symbol_size)
{
    return (axis == WALRUS_PRIMARY ? wp->s : wp->p) * symbol_size;
}


size_t
walrus_segment_padded_size(const walrus_params_t *wp, uint64_t seg_len)
{
    return (size_t) wp->p * wp->s * walrus_symbol_size(wp, seg_len);
}


static int
walrus_grow(uint8_t **buf, size_t *size, size_t need)
{
    uint8_t  *p;

    if (*size >= need) {
        return WALRUS_OK;
    }

    p = malloc(need);
    if (p == NULL) {
        return WALRUS_ENOMEM;
    }

    free(*buf);
    *buf = p;
    *size = need;

    return WALRUS_OK;
}


void
walrus_segment_init(walrus_segment_t *seg)
{
    memset(seg, 0, sizeof(walrus_segment_t));
}


void
walrus_segment_free(walrus_segment_t *seg)
{
    if (seg->matrix != NULL && !seg->matrix_lent) {
        free(seg->matrix - WALRUS_MATRIX_PAD);
    }

    free(seg->leaves);
    free(seg->pair_hashes);
    walrus_segment_init(seg);
}


size_t
walrus_segment_matrix_size(const walrus_params_t *wp, uint64_t seg_len)
{
    return WALRUS_MATRIX_PAD
           + (size_t) wp->n * wp->n * walrus_symbol_size(wp, seg_len);
}


void
walrus_segment_lend(walrus_segment_t *seg, uint8_t *buf, size_t size)
{
    seg->loan = buf;
    seg->loan_size = buf != NULL ? size : 0;
}


static int
walrus_segment_reserve(walrus_segment_t *seg, unsigned n, size_t sym)
{
    size_t    cells, need, loan_size;
    uint8_t  *loan;

    if (seg->matrix != NULL && seg->capacity >= sym) {
        return WALRUS_OK;
    }

    loan = seg->loan;
    loan_size = seg->loan_size;

    walrus_segment_free(seg);
    walrus_segment_lend(seg, loan, loan_size);

    cells = (size_t) n * n;
    need = WALRUS_MATRIX_PAD + cells * sym;

    if (loan != NULL && need <= loan_size) {
        seg->matrix = loan;
        seg->matrix_lent = 1;

    } else {
        seg->matrix = malloc(need);
    }

    seg->leaves = malloc(cells * WALRUS_HASH_LEN);
    seg->pair_hashes = malloc((size_t) n * WALRUS_PAIR_HASH_LEN);

    if (seg->matrix != NULL) {
        seg->matrix += WALRUS_MATRIX_PAD;
    }

    if (seg->matrix == NULL || seg->leaves == NULL
        || seg->pair_hashes == NULL)
    {
        walrus_segment_free(seg);
        return WALRUS_ENOMEM;
    }

    seg->capacity = sym;

    return WALRUS_OK;
}


int
walrus_segment_encode(walrus_codec_t *c, const uint8_t *data,
    uint64_t len, walrus_segment_t *seg)
{
    int                rc;
    size_t             sym, row, have;
    unsigned           r, i, n, p, s;
    const walrus_code_t  *pc, *sc;

    n = c->params.n;
    p = c->params.p;
    s = c->params.s;
    pc = &c->code[WALRUS_PRIMARY];
    sc = &c->code[WALRUS_SECONDARY];

    sym = walrus_symbol_size(&c->params, len);

    rc = walrus_segment_reserve(seg, n, sym);
    if (rc != WALRUS_OK) {
        return rc;
    }

    seg->length = len;
    seg->symbol_size = sym;
    row = (size_t) n * sym;

    /* the source rows, then each extended s -> n with the secondary code */

    for (r = 0; r < p; r++) {
        have = 0;

        if ((uint64_t) r * s * sym < len) {
            have = len - (uint64_t) r * s * sym;
            have = have < s * sym ? have : s * sym;
            memcpy(seg->matrix + r * row, data + (size_t) r * s * sym, have);
        }

        memset(seg->matrix + r * row + have, 0, s * sym - have);

        for (i = 0; i < n; i++) {
            c->in[i] = seg->matrix + r * row + i * sym;
        }

        ec_encode_data((int) sym, (int) s, (int) (n - s), sc->tables, c->in,
                       c->in + s);
    }

    /* every column extended p -> n with the primary code, in one pass */

    for (r = 0; r < n; r++) {
        c->in[r] = seg->matrix + r * row;
    }

    ec_encode_data((int) row, (int) p, (int) (n - p), pc->tables, c->in,
                   c->in + p);

    return walrus_hash_matrix(c, seg);
}


/*
 * Each symbol of E is hashed once; its leaf hash serves both its row tree
 * (primary sliver hash) and its column tree (secondary sliver hash).  The
 * symbols are hashed where they are, in batches that fill the multi-buffer
 * lanes (see WALRUS_MATRIX_PAD).
 */

static int
walrus_hash_matrix(walrus_codec_t *c, walrus_segment_t *seg)
{
    int       rc;
    size_t    i, j, count, cells, sym, rowlen;
    uint8_t  *ph, *batch[WALRUS_MATRIX_BATCH];
    unsigned  k, n;

    n = c->params.n;
    sym = seg->symbol_size;
    cells = (size_t) n * n;
    rowlen = (size_t) n * WALRUS_HASH_LEN;

    for (i = 0; i < cells; i += count) {
        count = cells - i < WALRUS_MATRIX_BATCH ? cells - i
                                                : WALRUS_MATRIX_BATCH;

        for (j = 0; j < count; j++) {
            batch[j] = seg->matrix + (i + j) * sym;
        }

        rc = walrus_merkle_leaves(c->sha, batch, count, sym,
                                  seg->leaves + i * WALRUS_HASH_LEN,
                                  WALRUS_HASH_LEN);
        if (rc != WALRUS_OK) {
            return rc;
        }
    }

    for (k = 0; k < n; k++) {
        ph = seg->pair_hashes + (size_t) k * WALRUS_PAIR_HASH_LEN;

        rc = walrus_merkle_root(c->sha, seg->leaves + k * rowlen, n,
                                WALRUS_HASH_LEN, c->merkle, ph);
        if (rc != WALRUS_OK) {
            return rc;
        }

        rc = walrus_merkle_root(c->sha,
                                seg->leaves
                                + (size_t) (n - 1 - k) * WALRUS_HASH_LEN,
                                n, rowlen, c->merkle, ph + WALRUS_HASH_LEN);
        if (rc != WALRUS_OK) {
            return rc;
        }
    }

    return walrus_merkle_pairs_root(c->sha, seg->pair_hashes, n, c->leaves,
                                    c->merkle, seg->root);
}


const uint8_t *
walrus_segment_primary(const walrus_codec_t *c, const walrus_segment_t *seg,
    unsigned i)
{
    return seg->matrix + (size_t) i * c->params.n * seg->symbol_size;
}


void
walrus_segment_secondary(const walrus_codec_t *c,
    const walrus_segment_t *seg, unsigned j, uint8_t *out)
{
    size_t    sym, row;
    unsigned  r;

    sym = seg->symbol_size;
    row = (size_t) c->params.n * sym;

    for (r = 0; r < c->params.p; r++) {
        memcpy(out + r * sym, seg->matrix + r * row + j * sym, sym);
    }
}


int
walrus_sliver_hash(walrus_codec_t *c, walrus_axis_e axis,
    size_t symbol_size, const uint8_t *sliver, size_t len, uint8_t *hash)
{
    if (symbol_size == 0 || symbol_size % WALRUS_SYMBOL_ALIGN != 0) {
        return WALRUS_EINVAL;
    }

    if (len != walrus_sliver_size(&c->params, axis, symbol_size)) {
        return WALRUS_ELENGTH;
    }

    return walrus_hash_slivers(c, axis, symbol_size, &sliver, 1,
                               WALRUS_LEAVES_COPIED, hash);
}


int
walrus_slivers_hash(walrus_codec_t *c, walrus_axis_e axis,
    size_t symbol_size, uint8_t *const *slivers, size_t count,
    uint8_t *hashes)
{
    if (symbol_size == 0 || symbol_size % WALRUS_SYMBOL_ALIGN != 0) {
        return WALRUS_EINVAL;
    }

    if (count == 0) {
        return WALRUS_OK;
    }

    return walrus_hash_slivers(c, axis, symbol_size,
                               (const uint8_t *const *) slivers, count,
                               WALRUS_LEAVES_IN_PLACE, hashes);
}


/*
 * The hashes of count slivers of one axis: each is extended to its n
 * symbols, the parity symbols written into cells of this codec that have
 * a byte before them for the leaf prefix (no copy for the lanes), and all
 * the leaves of the batch are hashed in one call so that they fill the
 * multi-buffer lanes together.  The slivers' own symbols come first in
 * the list, in order, so that slivers side by side in memory make one run
 * of contiguous leaves (see walrus_merkle_leaves()).  `mode` says how the
 * slivers' own symbols may be used.  Afterwards c->batch points at every
 * symbol of the batch and c->leaves holds the last sliver's n leaf hashes
 * (walrus_recovery_symbol() takes a symbol and a proof from them).
 */

static int
walrus_hash_slivers(walrus_codec_t *c, walrus_axis_e axis, size_t sym,
    const uint8_t *const *slivers, size_t count, walrus_leaf_mode_e mode,
    uint8_t *hashes)
{
    int             rc;
    size_t          b, i, n, k, m, own, cell, need, copied;
    uint8_t        *cells, *leaf;
    walrus_code_t  *code;

    n = c->params.n;
    code = walrus_code_for(c, axis);
    k = code->k;
    m = n - k;
    own = count * k;
    cell = WALRUS_SYMBOL_ALIGN + sym;

    if (count > ((size_t) -1 / WALRUS_HASH_LEN) / n
        || (m > 0 && count > ((size_t) -1 - WALRUS_SYMBOL_ALIGN) / m / cell))
    {
        return WALRUS_ENOMEM;
    }

    cells = walrus_cells_reserve(c, count * m * cell);
    need = count * n * sizeof(uint8_t *);

    if (need > c->batch_size) {
        free(c->batch);
        c->batch = malloc(need);
        c->batch_size = c->batch != NULL ? need : 0;
    }

    if (cells == NULL || c->batch == NULL
        || walrus_grow(&c->hashes, &c->hashes_size,
                       count * n * WALRUS_HASH_LEN)
           != WALRUS_OK)
    {
        return WALRUS_ENOMEM;
    }

    for (b = 0; b < count; b++) {
        for (i = 0; i < n; i++) {
            c->in[i] = i < k ? (uint8_t *) slivers[b] + i * sym
                             : cells + ((b * m) + i - k) * cell
                               + WALRUS_SYMBOL_ALIGN;
        }

        for (i = 0; i < k; i++) {
            c->batch[b * k + i] = c->in[i];
        }

        for (i = 0; i < m; i++) {
            c->batch[own + b * m + i] = c->in[k + i];
        }

        ec_encode_data((int) sym, (int) k, (int) m, code->tables, c->in,
                       c->in + k);
    }

    /*
     * copied: the own symbols (of the first sliver's first symbol only,
     * which has no byte of the caller's before it), then the rest in place
     */

    copied = mode == WALRUS_LEAVES_COPIED ? own
             : mode == WALRUS_LEAVES_BUT_FIRST ? 1 : 0;

    rc = walrus_merkle_leaves_copy(c->sha, (const uint8_t *const *) c->batch,
                                   copied, sym, c->hashes, WALRUS_HASH_LEN);
    if (rc == WALRUS_OK) {
        rc = walrus_merkle_leaves(c->sha, c->batch + copied,
                                  count * n - copied, sym,
                                  c->hashes + copied * WALRUS_HASH_LEN,
                                  WALRUS_HASH_LEN);
    }

    if (rc != WALRUS_OK) {
        return rc;
    }

    /* each sliver's n leaf hashes side by side, then its tree */

    for (b = 0; b < count; b++) {
        leaf = c->leaves;

        memcpy(leaf, c->hashes + b * k * WALRUS_HASH_LEN,
               k * WALRUS_HASH_LEN);
        memcpy(leaf + k * WALRUS_HASH_LEN,
               c->hashes + (own + b * m) * WALRUS_HASH_LEN,
               m * WALRUS_HASH_LEN);

        rc = walrus_merkle_root(c->sha, leaf, n, WALRUS_HASH_LEN, c->merkle,
                                hashes + b * WALRUS_HASH_LEN);
        if (rc != WALRUS_OK) {
            return rc;
        }
    }

    return WALRUS_OK;
}


size_t
walrus_slivers_scratch(const walrus_params_t *wp, walrus_axis_e axis,
    size_t symbol_size, size_t count)
{
    size_t  m;

    /* a sliver of `axis` is extended by the other axis' code */
    m = wp->n - (axis == WALRUS_PRIMARY ? wp->s : wp->p);

    return count * m * (WALRUS_SYMBOL_ALIGN + symbol_size);
}


void
walrus_codec_lend(walrus_codec_t *c, uint8_t *buf, size_t size)
{
    c->lent = buf;
    c->lent_size = buf != NULL ? size : 0;
}


/*
 * Cells of WALRUS_SYMBOL_ALIGN + symbol bytes, 64-byte aligned: a parity
 * symbol sits at the end of its cell, aligned for ISA-L, with the cell's
 * bytes before it free for the prefix.
 */

static uint8_t *
walrus_cells_reserve(walrus_codec_t *c, size_t need)
{
    void  *p;

    if (need <= c->lent_size && c->lent != NULL) {
        return c->lent;
    }

    if (need <= c->cells_size && c->cells != NULL) {
        return c->cells;
    }

    if (posix_memalign(&p, WALRUS_SYMBOL_ALIGN, need ? need : 1) != 0) {
        return NULL;
    }

    free(c->cells);
    c->cells = p;
    c->cells_size = need;

    return c->cells;
}


int
walrus_sliver_verify(walrus_codec_t *c, walrus_axis_e axis,
    unsigned index, size_t symbol_size, const uint8_t *sliver, size_t len,
    const uint8_t *expected)
{
    int      rc;
    uint8_t  hash[WALRUS_HASH_LEN];

    if (index >= c->params.n) {
        return WALRUS_EINVAL;
    }

    rc = walrus_sliver_hash(c, axis, symbol_size, sliver, len, hash);
    if (rc != WALRUS_OK) {
        return rc;
    }

    return memcmp(hash, expected, WALRUS_HASH_LEN) == 0 ? WALRUS_OK
                                                        : WALRUS_EHASH;
}


/*
 * Recovers the k source symbols of a systematic code from any k of its n
 * symbols (present[i] != NULL), writing source symbol i to out[i].
 */

static int
walrus_rs_decode(walrus_codec_t *c, walrus_code_t *code, size_t len,
    const uint8_t *const *present, uint8_t **out)
{
    unsigned   i, j, k, n, nchosen, nmissing;

    n = c->params.n;
    k = code->k;
    nchosen = 0;

    for (i = 0; i < n && nchosen < k; i++) {
        if (present[i] != NULL) {
            c->chosen[nchosen++] = i;
        }
    }

    if (nchosen < k) {
        return WALRUS_ENOTENOUGH;
    }

    nmissing = 0;

    for (i = 0; i < k; i++) {
        if (present[i] == NULL) {
            for (j = 0; j < k; j++) {
                c->in[j] = (uint8_t *) present[c->chosen[j]];
                memcpy(c->matrix + j * k, code->gen + c->chosen[j] * k, k);
            }

            break;
        }
    }

    if (i < k) {
        if (gf_invert_matrix(c->matrix, c->inverse, (int) k) != 0) {
            return WALRUS_EINVAL;
        }

        for (i = 0; i < k; i++) {
            if (present[i] == NULL) {
                memcpy(c->coefs + nmissing * k, c->inverse + i * k, k);
                c->out[nmissing++] = out[i];
            }
        }

        ec_init_tables((int) k, (int) nmissing, c->coefs, c->tables);
        ec_encode_data((int) len, (int) k, (int) nmissing, c->tables, c->in,
                       c->out);
    }

    for (i = 0; i < k; i++) {
        if (present[i] != NULL && present[i] != out[i]) {
            memcpy(out[i], present[i], len);
        }
    }

    return WALRUS_OK;
}


int
walrus_segment_decode(walrus_codec_t *c, const uint8_t *pair_hashes,
    uint64_t seg_len, const uint8_t *const *primary, uint8_t *out)
{
    int        rc;
    size_t     sym, slen;
    uint8_t   *rows[WALRUS_MAX_SHARDS], *decoded[WALRUS_MAX_SHARDS];
    unsigned   r, p, count, which[WALRUS_MAX_SHARDS];

    p = c->params.p;
    sym = walrus_symbol_size(&c->params, seg_len);
    slen = walrus_sliver_size(&c->params, WALRUS_PRIMARY, sym);

    for (r = 0; r < p; r++) {
        rows[r] = out + r * slen;
    }

    rc = walrus_rs_decode(c, &c->code[WALRUS_PRIMARY], slen, primary, rows);
    if (rc != WALRUS_OK) {
        return rc;
    }

    /*
     * The consistency check: decoded source rows must match the metadata.
     * They are hashed in one batch, in place in out (the caller's output,
     * read by no one until this returns), but for the first symbol of
     * row 0, which has no byte of out before it.
     */

    count = 0;

    for (r = 0; r < p; r++) {
        if (primary[r] == NULL) {
            which[count] = r;
            decoded[count++] = rows[r];
        }
    }

    if (count == 0) {
        return WALRUS_OK;
    }

    rc = walrus_hash_slivers(c, WALRUS_PRIMARY, sym,
                             (const uint8_t *const *) decoded, count,
                             which[0] == 0 ? WALRUS_LEAVES_BUT_FIRST
                                           : WALRUS_LEAVES_IN_PLACE,
                             c->roots);
    if (rc != WALRUS_OK) {
        return rc;
    }

    for (r = 0; r < count; r++) {
        if (memcmp(c->roots + r * WALRUS_HASH_LEN,
                   pair_hashes + (size_t) which[r] * WALRUS_PAIR_HASH_LEN,
                   WALRUS_HASH_LEN) != 0)
        {
            return WALRUS_EINCONSISTENT;
        }
    }

    return WALRUS_OK;
}


int
walrus_recovery_symbol(walrus_codec_t *c, walrus_axis_e helper_axis,
    unsigned helper_index, size_t symbol_size, const uint8_t *helper_sliver,
    unsigned target_index, uint8_t *symbol, uint8_t *proof)
{
    int  rc;

    if (helper_index >= c->params.n || target_index >= c->params.n
        || symbol_size == 0)
    {
        return WALRUS_EINVAL;
    }

    rc = walrus_hash_slivers(c, helper_axis, symbol_size, &helper_sliver,
                             1, WALRUS_LEAVES_COPIED, c->roots);
    if (rc != WALRUS_OK) {
        return rc;
    }

    /* c->batch: the sliver's own symbols, then its parity symbols */

    memcpy(symbol, c->batch[target_index], symbol_size);

    return walrus_merkle_proof(c->sha, c->leaves, c->params.n,
                               WALRUS_HASH_LEN, target_index, c->merkle,
                               proof);
}


int
walrus_recovery_symbol_verify(walrus_codec_t *c,
    walrus_axis_e helper_axis, unsigned helper_index, unsigned target_index,
    size_t symbol_size, const uint8_t *symbol, const uint8_t *proof,
    const uint8_t *helper_hash)
{
    int      rc;
    uint8_t  leaf[WALRUS_HASH_LEN];

    if (helper_index >= c->params.n || target_index >= c->params.n) {
        return WALRUS_EINVAL;
    }

    rc = walrus_merkle_leaf(c->sha, symbol, symbol_size, leaf);
    if (rc != WALRUS_OK) {
        return rc;
    }

    return walrus_merkle_verify(c->sha, leaf, target_index, c->params.n,
                                proof, helper_hash);
}


int
walrus_sliver_rebuild(walrus_codec_t *c, walrus_axis_e target_axis,
    unsigned target_index, size_t symbol_size,
    const uint8_t *const *symbols, uint8_t *out)
{
    uint8_t        *dst[WALRUS_MAX_SHARDS];
    unsigned        i;
    walrus_code_t  *code;

    if (target_index >= c->params.n || symbol_size == 0) {
        return WALRUS_EINVAL;
    }

    code = walrus_code_for(c, target_axis);

    for (i = 0; i < code->k; i++) {
        dst[i] = out + i * symbol_size;
    }

    return walrus_rs_decode(c, code, symbol_size, symbols, dst);
}
