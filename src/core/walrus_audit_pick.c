/*
 * Storage audits: the challenge set of a node and the positions of its
 * pairs in a challenged blob (protocol section 17.2).
 */

#include <string.h>

#include <walrus_audit.h>
#include <walrus_cert.h>


#define WALRUS_AUDIT_PICK_TAG      "walrus-audit-pick:1"
#define WALRUS_AUDIT_POSITION_TAG  "walrus-audit-position:1"


void
walrus_audit_score(const uint8_t *seed, unsigned node, const uint8_t *blob_id,
    uint8_t *score)
{
    uint8_t  msg[WALRUS_HASH_LEN + 2 + WALRUS_BLOB_ID_LEN];

    memcpy(msg, seed, WALRUS_HASH_LEN);
    walrus_put_le(msg + WALRUS_HASH_LEN, node, 2);
    memcpy(msg + WALRUS_HASH_LEN + 2, blob_id, WALRUS_BLOB_ID_LEN);

    /* a failed hash (out of memory) scores last rather than at random */

    if (walrus_audit_hash(WALRUS_AUDIT_PICK_TAG, msg, sizeof(msg), NULL, 0,
                          score)
        != WALRUS_OK)
    {
        memset(score, 0xff, WALRUS_HASH_LEN);
    }
}


void
walrus_audit_pick_init(walrus_audit_pick_t *p, const uint8_t *seed,
    unsigned node)
{
    memset(p, 0, sizeof(walrus_audit_pick_t));

    memcpy(p->seed, seed, WALRUS_HASH_LEN);
    p->node = node;
}


/* kept sorted by score: an insertion into at most c entries */

void
walrus_audit_pick_add(walrus_audit_pick_t *p, const uint8_t *blob_id)
{
    int       cmp;
    unsigned  i, lo, hi, mid;
    uint8_t   score[WALRUS_HASH_LEN];

    walrus_audit_score(p->seed, p->node, blob_id, score);

    lo = 0;
    hi = p->count;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        cmp = memcmp(p->score[mid], score, WALRUS_HASH_LEN);

        if (cmp < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    /* the same blob scores the same: it would sit at lo */

    for (i = lo; i < p->count
                 && memcmp(p->score[i], score, WALRUS_HASH_LEN) == 0;
         i++)
    {
        if (memcmp(p->blob_id[i], blob_id, WALRUS_BLOB_ID_LEN) == 0) {
            return;
        }
    }

    if (lo == WALRUS_AUDIT_BLOBS) {
        return;
    }

    i = p->count < WALRUS_AUDIT_BLOBS ? p->count : WALRUS_AUDIT_BLOBS - 1;

    memmove(p->score[lo + 1], p->score[lo],
            (size_t) (i - lo) * WALRUS_HASH_LEN);
    memmove(p->blob_id[lo + 1], p->blob_id[lo],
            (size_t) (i - lo) * WALRUS_BLOB_ID_LEN);

    memcpy(p->score[lo], score, WALRUS_HASH_LEN);
    memcpy(p->blob_id[lo], blob_id, WALRUS_BLOB_ID_LEN);

    if (p->count < WALRUS_AUDIT_BLOBS) {
        p->count++;
    }
}


int
walrus_audit_promised(const uint8_t *cert, size_t len, unsigned node)
{
    unsigned       i;
    walrus_cert_t  parsed;

    if (cert == NULL || walrus_cert_parse(&parsed, cert, len) != WALRUS_OK) {
        return 0;
    }

    for (i = 0; i < parsed.nsigners; i++) {
        if (parsed.signers[i].node == node) {
            return 1;
        }
    }

    return 0;
}


unsigned
walrus_audit_positions(const walrus_committee_t *c,
    const walrus_metadata_t *m, const uint8_t *seed, const uint8_t *blob_id,
    unsigned node, walrus_audit_position_t *pos)
{
    unsigned  k, n, count;
    uint8_t   t[WALRUS_HASH_LEN], msg[WALRUS_HASH_LEN + WALRUS_BLOB_ID_LEN
                                      + 2];

    n = c->params.n;

    if (node >= c->nnodes || m->params.n != n || m->nsegments == 0) {
        return 0;
    }

    memcpy(msg, seed, WALRUS_HASH_LEN);
    memcpy(msg + WALRUS_HASH_LEN, blob_id, WALRUS_BLOB_ID_LEN);

    count = 0;

    for (k = 0; k < n; k++) {
        if (c->shard_owner[walrus_pair_to_shard(&c->params, blob_id, k)]
            != node)
        {
            continue;
        }

        walrus_put_le(msg + WALRUS_HASH_LEN + WALRUS_BLOB_ID_LEN, k, 2);

        if (walrus_audit_hash(WALRUS_AUDIT_POSITION_TAG, msg, sizeof(msg),
                              NULL, 0, t)
            != WALRUS_OK)
        {
            return 0;
        }

        pos[count].pair = k;
        pos[count].segment = walrus_get_le(t, 8) % m->nsegments;
        pos[count].primary_leaf = (unsigned) (walrus_get_le(t + 8, 2) % n);
        pos[count].secondary_leaf = (unsigned) (walrus_get_le(t + 10, 2) % n);
        count++;
    }

    return count;
}


uint64_t
walrus_audit_slice(const walrus_metadata_t *m,
    const walrus_audit_position_t *pos, walrus_axis_e axis, size_t *len)
{
    size_t  sym;

    sym = walrus_symbol_size(&m->params,
                             walrus_segment_length(m->length,
                                                   m->segment_size,
                                                   pos->segment));

    *len = walrus_sliver_size(&m->params, axis, sym);

    return walrus_sliver_offset(m, axis, pos->segment);
}
