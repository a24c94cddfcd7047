/*
 * Recovery answers: their bytes, building and verifying them, rebuilding
 * slivers from them, and inconsistency proofs.
 */

#include <stdlib.h>
#include <string.h>
#include <walrus_recovery.h>
#include <walrus_sha256.h>


/* version, blob ID, target, axes, first, count, helper count */
#define WALRUS_RECOVERY_HEAD_LEN  (1 + WALRUS_BLOB_ID_LEN + 2 + 1 + 4 + 4 + 2)

/* tag, blob ID, target, axis, segment, metadata length */
#define WALRUS_INCONSISTENCY_HEAD_LEN                                        \
    (WALRUS_INCONSISTENCY_TAG_LEN + WALRUS_BLOB_ID_LEN + 2 + 1 + 4 + 4)


static size_t walrus_recovery_sym(const walrus_metadata_t *m, uint64_t g);
static unsigned walrus_recovery_naxes(unsigned axes);
static unsigned walrus_recovery_needed(const walrus_metadata_t *m,
    walrus_axis_e axis);
static int walrus_recovery_check(walrus_codec_t *c,
    const walrus_metadata_t *m, unsigned target, unsigned axis, uint64_t g,
    unsigned helper, const uint8_t *symbol);
static const uint8_t *walrus_recovery_entry(const walrus_metadata_t *m,
    const walrus_recovery_answer_t *a, uint64_t g, unsigned i,
    unsigned axis);
static int walrus_recovery_collect(const walrus_metadata_t *m,
    const walrus_recovery_answer_t *const *answers, unsigned nanswers,
    walrus_axis_e axis, uint64_t g, const walrus_recovery_answer_t **first,
    const uint8_t **entries);
static int walrus_recovery_decode(walrus_codec_t *c,
    const walrus_metadata_t *m, const uint8_t *const *entries,
    unsigned target, walrus_axis_e axis, uint64_t g, uint8_t *out);


/* the symbol size of segment g */

static size_t
walrus_recovery_sym(const walrus_metadata_t *m, uint64_t g)
{
    return walrus_symbol_size(&m->params,
                              walrus_segment_length(m->length,
                                                    m->segment_size, g));
}


static unsigned
walrus_recovery_naxes(unsigned axes)
{
    return (axes & WALRUS_RECOVERY_PRIMARY ? 1 : 0)
           + (axes & WALRUS_RECOVERY_SECONDARY ? 1 : 0);
}


/* symbols that rebuild a sliver of axis: its length */

static unsigned
walrus_recovery_needed(const walrus_metadata_t *m, walrus_axis_e axis)
{
    return axis == WALRUS_PRIMARY ? m->params.s : m->params.p;
}


size_t
walrus_recovery_head_size(unsigned nhelpers)
{
    return WALRUS_RECOVERY_HEAD_LEN + 2 * (size_t) nhelpers;
}


size_t
walrus_recovery_entry_size(const walrus_metadata_t *m, unsigned axes,
    uint64_t g)
{
    return walrus_recovery_naxes(axes)
           * (walrus_recovery_sym(m, g)
              + walrus_merkle_proof_size(m->params.n));
}


/*
 * Only the blob's last segment may be shorter than the others, so every
 * segment of a range but its last has the size of the first.
 */

uint64_t
walrus_recovery_answer_size(const walrus_metadata_t *m,
    const walrus_recovery_head_t *head)
{
    uint64_t  last;

    if (head->count == 0) {
        return walrus_recovery_head_size(head->nhelpers);
    }

    last = (uint64_t) head->first + head->count - 1;

    return walrus_recovery_head_size(head->nhelpers)
           + (uint64_t) head->nhelpers
             * ((uint64_t) (head->count - 1)
                * walrus_recovery_entry_size(m, head->axes, head->first)
                + walrus_recovery_entry_size(m, head->axes, last));
}


uint32_t
walrus_recovery_segments_within(const walrus_metadata_t *m, unsigned axes,
    unsigned nhelpers, uint64_t first, uint64_t max)
{
    uint64_t  left, per, last, avail, count;

    if (first >= m->nsegments || walrus_recovery_head_size(nhelpers) > max) {
        return 0;
    }

    left = m->nsegments - first;
    avail = max - walrus_recovery_head_size(nhelpers);
    per = nhelpers * (uint64_t) walrus_recovery_entry_size(m, axes, first);
    count = per ? avail / per : left;

    if (count + 1 == left) {
        last = nhelpers
               * (uint64_t) walrus_recovery_entry_size(m, axes,
                                                       m->nsegments - 1);
        if (count * per + last <= avail) {
            count = left;
        }
    }

    if (count > left) {
        count = left;
    }

    return count > UINT32_MAX ? UINT32_MAX : (uint32_t) count;
}


void
walrus_recovery_head_write(const walrus_recovery_head_t *head, uint8_t *out)
{
    unsigned  i;

    out[0] = WALRUS_RECOVERY_VERSION;
    memcpy(out + 1, head->blob_id, WALRUS_BLOB_ID_LEN);
    walrus_put_le(out + 33, head->target, 2);
    out[35] = (uint8_t) head->axes;
    walrus_put_le(out + 36, head->first, 4);
    walrus_put_le(out + 40, head->count, 4);
    walrus_put_le(out + 44, head->nhelpers, 2);

    for (i = 0; i < head->nhelpers; i++) {
        walrus_put_le(out + WALRUS_RECOVERY_HEAD_LEN + 2 * i,
                      head->helpers[i], 2);
    }
}


/*
 * Whether the symbol (followed by its proof) given by helper pair
 * `helper` for the target's sliver on axis (a WALRUS_RECOVERY_* bit) in
 * segment g is committed to by the metadata.
 */

static int
walrus_recovery_check(walrus_codec_t *c, const walrus_metadata_t *m,
    unsigned target, unsigned axis, uint64_t g, unsigned helper,
    const uint8_t *symbol)
{
    size_t          sym;
    unsigned        n;
    const uint8_t  *hashes;

    n = m->params.n;
    sym = walrus_recovery_sym(m, g);
    hashes = walrus_metadata_segment(m, g) + helper * WALRUS_PAIR_HASH_LEN;

    if (axis == WALRUS_RECOVERY_PRIMARY) {
        return walrus_recovery_symbol_verify(c, WALRUS_SECONDARY,
                                             n - 1 - helper, target, sym,
                                             symbol, symbol + sym,
                                             hashes + WALRUS_HASH_LEN);
    }

    return walrus_recovery_symbol_verify(c, WALRUS_PRIMARY, helper,
                                         n - 1 - target, sym, symbol,
                                         symbol + sym, hashes);
}


int
walrus_recovery_build(walrus_codec_t *c, const walrus_metadata_t *m,
    const walrus_recovery_head_t *head, uint64_t g, unsigned helper,
    const uint8_t *primary, const uint8_t *secondary, uint8_t *out,
    unsigned *bad)
{
    int       rc;
    size_t    sym;
    unsigned  n, axis;

    n = m->params.n;
    *bad = 0;

    if (helper >= n || head->target >= n || g >= m->nsegments
        || (head->axes & WALRUS_RECOVERY_PRIMARY && secondary == NULL)
        || (head->axes & WALRUS_RECOVERY_SECONDARY && primary == NULL))
    {
        return WALRUS_EINVAL;
    }

    sym = walrus_recovery_sym(m, g);

    for (axis = WALRUS_RECOVERY_PRIMARY; axis <= WALRUS_RECOVERY_SECONDARY;
         axis <<= 1)
    {
        if (!(head->axes & axis)) {
            continue;
        }

        if (axis == WALRUS_RECOVERY_PRIMARY) {
            rc = walrus_recovery_symbol(c, WALRUS_SECONDARY, n - 1 - helper,
                                        sym, secondary, head->target, out,
                                        out + sym);

        } else {
            rc = walrus_recovery_symbol(c, WALRUS_PRIMARY, helper, sym,
                                        primary, n - 1 - head->target, out,
                                        out + sym);
        }

        if (rc != WALRUS_OK) {
            return rc;
        }

        /* the proof hashes up to the root of the sliver extended */

        rc = walrus_recovery_check(c, m, head->target, axis, g, helper,
                                   out);

        if (rc == WALRUS_EHASH) {
            *bad |= axis;

        } else if (rc != WALRUS_OK) {
            return rc;
        }

        out += sym + walrus_merkle_proof_size(n);
    }

    return *bad ? WALRUS_EHASH : WALRUS_OK;
}


int
walrus_recovery_parse(walrus_codec_t *c, const walrus_metadata_t *m,
    const uint8_t *blob_id, const uint8_t *buf, size_t len,
    walrus_recovery_answer_t *a)
{
    int                      rc;
    size_t                   sym, step;
    uint64_t                 g, e, nentries;
    unsigned                 i, n, axis;
    const uint8_t           *p;
    walrus_recovery_head_t  *h;

    memset(a, 0, sizeof(walrus_recovery_answer_t));

    h = &a->head;
    n = m->params.n;

    if (len < WALRUS_RECOVERY_HEAD_LEN || buf[0] != WALRUS_RECOVERY_VERSION) {
        return WALRUS_EFORMAT;
    }

    if (memcmp(buf + 1, blob_id, WALRUS_BLOB_ID_LEN) != 0) {
        return WALRUS_EBLOBID;
    }

    memcpy(h->blob_id, blob_id, WALRUS_BLOB_ID_LEN);
    h->target = (unsigned) walrus_get_le(buf + 33, 2);
    h->axes = buf[35];
    h->first = (uint32_t) walrus_get_le(buf + 36, 4);
    h->count = (uint32_t) walrus_get_le(buf + 40, 4);
    h->nhelpers = (unsigned) walrus_get_le(buf + 44, 2);

    if (h->target >= n || h->axes == 0 || h->axes > WALRUS_RECOVERY_BOTH
        || h->count == 0 || (uint64_t) h->first + h->count > m->nsegments
        || h->nhelpers == 0 || h->nhelpers > n
        || len < walrus_recovery_head_size(h->nhelpers))
    {
        return WALRUS_EFORMAT;
    }

    for (i = 0; i < h->nhelpers; i++) {
        h->helpers[i] = (unsigned) walrus_get_le(buf + WALRUS_RECOVERY_HEAD_LEN
                                                 + 2 * i, 2);

        if (h->helpers[i] >= n || (i > 0 && h->helpers[i] <= h->helpers[i - 1]))
        {
            return WALRUS_EFORMAT;
        }
    }

    if (walrus_recovery_answer_size(m, h) != len) {
        return WALRUS_EFORMAT;
    }

    nentries = (uint64_t) h->count * h->nhelpers
               * walrus_recovery_naxes(h->axes);

    a->valid = malloc(nentries);
    if (a->valid == NULL) {
        return WALRUS_ENOMEM;
    }

    a->entries = buf + walrus_recovery_head_size(h->nhelpers);

    p = a->entries;
    e = 0;

    for (g = h->first; g < (uint64_t) h->first + h->count; g++) {
        sym = walrus_recovery_sym(m, g);
        step = sym + walrus_merkle_proof_size(n);

        for (i = 0; i < h->nhelpers; i++) {
            for (axis = WALRUS_RECOVERY_PRIMARY;
                 axis <= WALRUS_RECOVERY_SECONDARY;
                 axis <<= 1)
            {
                if (!(h->axes & axis)) {
                    continue;
                }

                rc = walrus_recovery_check(c, m, h->target, axis, g,
                                           h->helpers[i], p);

                if (rc == WALRUS_EHASH) {
                    a->nfailed++;
                    a->failed[h->helpers[i]]++;

                } else if (rc != WALRUS_OK) {
                    return rc;
                }

                a->valid[e++] = (rc == WALRUS_OK);
                p += step;
            }
        }
    }

    return WALRUS_OK;
}


void
walrus_recovery_answer_free(walrus_recovery_answer_t *a)
{
    free(a->valid);
    a->valid = NULL;
}


/* the entry (symbol, proof) of helper i of a, if it is there and verified */

static const uint8_t *
walrus_recovery_entry(const walrus_metadata_t *m,
    const walrus_recovery_answer_t *a, uint64_t g, unsigned i,
    unsigned axis)
{
    size_t                         step;
    uint64_t                       e;
    unsigned                       naxes, x;
    const walrus_recovery_head_t  *h;

    h = &a->head;

    if (g < h->first || g >= (uint64_t) h->first + h->count
        || !(h->axes & axis) || a->valid == NULL)
    {
        return NULL;
    }

    naxes = walrus_recovery_naxes(h->axes);
    x = (axis == WALRUS_RECOVERY_SECONDARY && naxes == 2) ? 1 : 0;
    e = ((g - h->first) * h->nhelpers + i) * naxes + x;

    if (!a->valid[e]) {
        return NULL;
    }

    step = walrus_recovery_sym(m, g) + walrus_merkle_proof_size(m->params.n);

    return a->entries
           + (g - h->first) * h->nhelpers
             * walrus_recovery_entry_size(m, h->axes, h->first)
           + ((size_t) i * naxes + x) * step;
}


/*
 * entries[k] (n of them): the verified entry given for segment g on axis
 * by the holder of sliver k of the other axis, for the first s or p such
 * slivers in sliver order (the others NULL), so that a rebuild and the
 * proof of its inconsistency use the same symbols.
 */

static int
walrus_recovery_collect(const walrus_metadata_t *m,
    const walrus_recovery_answer_t *const *answers, unsigned nanswers,
    walrus_axis_e axis, uint64_t g, const walrus_recovery_answer_t **first,
    const uint8_t **entries)
{
    unsigned                         i, j, k, n, bit, have;
    const walrus_recovery_answer_t  *a;

    n = m->params.n;
    bit = axis == WALRUS_PRIMARY ? WALRUS_RECOVERY_PRIMARY
                                 : WALRUS_RECOVERY_SECONDARY;
    *first = NULL;

    for (k = 0; k < n; k++) {
        entries[k] = NULL;
    }

    for (j = 0; j < nanswers; j++) {
        a = answers[j];

        if (a == NULL) {
            continue;
        }

        if (*first == NULL) {
            *first = a;

        } else if (a->head.target != (*first)->head.target
                   || memcmp(a->head.blob_id, (*first)->head.blob_id,
                             WALRUS_BLOB_ID_LEN)
                      != 0)
        {
            return WALRUS_EINVAL;
        }

        for (i = 0; i < a->head.nhelpers; i++) {
            k = axis == WALRUS_PRIMARY ? n - 1 - a->head.helpers[i]
                                       : a->head.helpers[i];

            if (entries[k] == NULL) {
                entries[k] = walrus_recovery_entry(m, a, g, i, bit);
            }
        }
    }

    have = 0;

    for (k = 0; k < n; k++) {
        if (entries[k] == NULL) {
            continue;
        }

        if (have == walrus_recovery_needed(m, axis)) {
            entries[k] = NULL;

        } else {
            have++;
        }
    }

    return have < walrus_recovery_needed(m, axis) ? WALRUS_ENOTENOUGH
                                                  : WALRUS_OK;
}


/* rebuilds from exactly the symbols needed and checks the result */

static int
walrus_recovery_decode(walrus_codec_t *c, const walrus_metadata_t *m,
    const uint8_t *const *entries, unsigned target, walrus_axis_e axis,
    uint64_t g, uint8_t *out)
{
    int             rc;
    size_t          sym;
    unsigned        index;
    const uint8_t  *hash;

    sym = walrus_recovery_sym(m, g);
    index = axis == WALRUS_PRIMARY ? target : m->params.n - 1 - target;
    hash = walrus_metadata_segment(m, g) + target * WALRUS_PAIR_HASH_LEN
           + (axis == WALRUS_PRIMARY ? 0 : WALRUS_HASH_LEN);

    rc = walrus_sliver_rebuild(c, axis, index, sym, entries, out);
    if (rc != WALRUS_OK) {
        return rc;
    }

    rc = walrus_sliver_verify(c, axis, index, sym, out,
                              walrus_sliver_size(&m->params, axis, sym),
                              hash);

    return rc == WALRUS_EHASH ? WALRUS_EINCONSISTENT : rc;
}


int
walrus_recovery_rebuild(walrus_codec_t *c, const walrus_metadata_t *m,
    const walrus_recovery_answer_t *const *answers, unsigned nanswers,
    walrus_axis_e axis, uint64_t g, uint8_t *out)
{
    int                              rc;
    const uint8_t                   *entries[WALRUS_MAX_SHARDS];
    const walrus_recovery_answer_t  *first;

    rc = walrus_recovery_collect(m, answers, nanswers, axis, g, &first,
                                 entries);
    if (rc != WALRUS_OK) {
        return rc;
    }

    return walrus_recovery_decode(c, m, entries, first->head.target, axis, g,
                                  out);
}


int
walrus_inconsistency_build(walrus_codec_t *c, const walrus_metadata_t *m,
    const walrus_recovery_answer_t *const *answers, unsigned nanswers,
    walrus_axis_e axis, uint64_t g, uint8_t **proof, size_t *len)
{
    int                              rc;
    size_t                           sym, step, mlen;
    uint8_t                         *buf, *p;
    unsigned                         h, k, n, target;
    const uint8_t                   *entries[WALRUS_MAX_SHARDS];
    const walrus_recovery_answer_t  *first;

    *proof = NULL;
    *len = 0;
    n = m->params.n;

    rc = walrus_recovery_collect(m, answers, nanswers, axis, g, &first,
                                 entries);
    if (rc != WALRUS_OK) {
        return rc;
    }

    target = first->head.target;
    sym = walrus_recovery_sym(m, g);
    step = sym + walrus_merkle_proof_size(n);
    mlen = walrus_metadata_size(m);

    if (mlen > UINT32_MAX) {
        return WALRUS_EINVAL;
    }

    buf = malloc(walrus_sliver_size(&m->params, axis, sym));
    if (buf == NULL) {
        return WALRUS_ENOMEM;
    }

    rc = walrus_recovery_decode(c, m, entries, target, axis, g, buf);

    free(buf);

    if (rc != WALRUS_EINCONSISTENT) {
        return rc == WALRUS_OK ? WALRUS_EINVAL : rc;
    }

    *len = WALRUS_INCONSISTENCY_HEAD_LEN + mlen
           + walrus_recovery_needed(m, axis) * (2 + step);

    buf = malloc(*len);
    if (buf == NULL) {
        *len = 0;
        return WALRUS_ENOMEM;
    }

    p = buf;
    memcpy(p, WALRUS_INCONSISTENCY_TAG, WALRUS_INCONSISTENCY_TAG_LEN);
    p += WALRUS_INCONSISTENCY_TAG_LEN;
    memcpy(p, first->head.blob_id, WALRUS_BLOB_ID_LEN);
    p += WALRUS_BLOB_ID_LEN;
    walrus_put_le(p, target, 2);
    p[2] = (uint8_t) axis;
    walrus_put_le(p + 3, g, 4);
    walrus_put_le(p + 7, mlen, 4);
    p += 11;
    walrus_metadata_serialize(m, p);
    p += mlen;

    /* by helper pair, ascending */

    for (h = 0; h < n; h++) {
        k = axis == WALRUS_PRIMARY ? n - 1 - h : h;

        if (entries[k] != NULL) {
            walrus_put_le(p, h, 2);
            memcpy(p + 2, entries[k], step);
            p += 2 + step;
        }
    }

    *proof = buf;

    return WALRUS_OK;
}


/* s >= p: a primary proof of segment 0 is the longest */

size_t
walrus_inconsistency_max_size(const walrus_metadata_t *m)
{
    return WALRUS_INCONSISTENCY_HEAD_LEN + walrus_metadata_size(m)
           + (size_t) m->params.s
             * (2 + walrus_recovery_sym(m, 0)
                + walrus_merkle_proof_size(m->params.n));
}


int
walrus_inconsistency_verify(const uint8_t *proof, size_t len,
    walrus_inconsistency_t *info)
{
    int              rc, prev;
    size_t           sym, step, mlen;
    uint8_t         *out;
    unsigned         j, h, n, needed;
    const uint8_t   *p, *entries[WALRUS_MAX_SHARDS];
    walrus_codec_t  *c;

    memset(info, 0, sizeof(walrus_inconsistency_t));

    if (len < WALRUS_INCONSISTENCY_HEAD_LEN
        || memcmp(proof, WALRUS_INCONSISTENCY_TAG,
                  WALRUS_INCONSISTENCY_TAG_LEN)
           != 0)
    {
        return WALRUS_EFORMAT;
    }

    p = proof + WALRUS_INCONSISTENCY_TAG_LEN;
    memcpy(info->blob_id, p, WALRUS_BLOB_ID_LEN);
    p += WALRUS_BLOB_ID_LEN;
    info->target = (unsigned) walrus_get_le(p, 2);
    info->axis = p[2] == 0 ? WALRUS_PRIMARY : WALRUS_SECONDARY;
    info->segment = walrus_get_le(p + 3, 4);
    mlen = (size_t) walrus_get_le(p + 7, 4);
    p += 11;

    if (proof[WALRUS_INCONSISTENCY_TAG_LEN + WALRUS_BLOB_ID_LEN + 2] > 1
        || mlen > len - WALRUS_INCONSISTENCY_HEAD_LEN)
    {
        return WALRUS_EFORMAT;
    }

    if (walrus_metadata_parse(&info->meta, p, mlen) != WALRUS_OK) {
        return WALRUS_EFORMAT;
    }

    p += mlen;
    n = info->meta.params.n;
    c = NULL;
    out = NULL;

    rc = walrus_metadata_check(&info->meta, info->blob_id);
    if (rc != WALRUS_OK) {
        goto done;
    }

    rc = WALRUS_EFORMAT;

    if (info->target >= n || info->segment >= info->meta.nsegments) {
        goto done;
    }

    needed = walrus_recovery_needed(&info->meta, info->axis);
    sym = walrus_recovery_sym(&info->meta, info->segment);
    step = sym + walrus_merkle_proof_size(n);

    if ((size_t) (proof + len - p) != needed * (2 + step)) {
        goto done;
    }

    c = walrus_codec_create(n);
    out = malloc(walrus_sliver_size(&info->meta.params, info->axis, sym));

    if (c == NULL || out == NULL) {
        rc = WALRUS_ENOMEM;
        goto done;
    }

    for (j = 0; j < n; j++) {
        entries[j] = NULL;
    }

    prev = -1;

    for (j = 0; j < needed; j++, p += 2 + step) {
        h = (unsigned) walrus_get_le(p, 2);

        if (h >= n || (int) h <= prev) {
            rc = WALRUS_EFORMAT;
            goto done;
        }

        prev = (int) h;

        rc = walrus_recovery_check(c, &info->meta, info->target,
                                   info->axis == WALRUS_PRIMARY
                                   ? WALRUS_RECOVERY_PRIMARY
                                   : WALRUS_RECOVERY_SECONDARY,
                                   info->segment, h, p + 2);
        if (rc != WALRUS_OK) {
            goto done;
        }

        entries[info->axis == WALRUS_PRIMARY ? n - 1 - h : h] = p + 2;
    }

    rc = walrus_recovery_decode(c, &info->meta, entries, info->target,
                                info->axis, info->segment, out);

    rc = rc == WALRUS_EINCONSISTENT ? WALRUS_OK
         : rc == WALRUS_OK ? WALRUS_EINVAL : rc;

done:

    free(out);
    walrus_codec_destroy(c);

    if (rc != WALRUS_OK) {
        walrus_metadata_free(&info->meta);
    }

    return rc;
}


void
walrus_inconsistency_free(walrus_inconsistency_t *info)
{
    walrus_metadata_free(&info->meta);
}
