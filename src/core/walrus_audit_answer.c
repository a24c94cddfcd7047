/*
 * Storage audits: a node's signed answer to a challenge, written, parsed
 * and checked entry by entry (protocol section 17.3).
 *
 * Per pair an entry is: pair k (u16) || segment g (u32) || primary leaf
 * a (u16) || secondary leaf b (u16) || symbol size z (u32) || E[k][a] ||
 * its proof || E[b][n-1-k] || its proof.
 */

#include <string.h>

#include <walrus_audit.h>
#include <walrus_sha256.h>


#define WALRUS_AUDIT_ANSWER_TAG  "walrus-audit-answer:1"

/* blob ID and held byte; pair count when held */
#define WALRUS_AUDIT_BLOB_HEAD   (WALRUS_BLOB_ID_LEN + 1)
#define WALRUS_AUDIT_ENTRY_HEAD  14


static size_t walrus_audit_symbol(const walrus_metadata_t *m, uint64_t g);
static int walrus_audit_entry_check(walrus_codec_t *codec,
    const walrus_metadata_t *m, const walrus_audit_position_t *pos,
    const uint8_t *p, size_t *size);


/* the symbol size of segment g of the blob */

static size_t
walrus_audit_symbol(const walrus_metadata_t *m, uint64_t g)
{
    return walrus_symbol_size(&m->params,
                              walrus_segment_length(m->length,
                                                    m->segment_size, g));
}


size_t
walrus_audit_answer_head_size(void)
{
    return WALRUS_AUDIT_ANSWER_HEADER;
}


size_t
walrus_audit_blob_size(const walrus_metadata_t *m,
    const walrus_audit_position_t *pos, unsigned npairs)
{
    size_t    size, proof;
    unsigned  i;

    if (npairs == 0) {
        return WALRUS_AUDIT_BLOB_HEAD;
    }

    proof = walrus_merkle_proof_size(m->params.n);
    size = WALRUS_AUDIT_BLOB_HEAD + 2;

    for (i = 0; i < npairs; i++) {
        size += WALRUS_AUDIT_ENTRY_HEAD
                + 2 * (walrus_audit_symbol(m, pos[i].segment) + proof);
    }

    return size;
}


void
walrus_audit_answer_head(uint8_t *out, uint32_t epoch, uint32_t round,
    unsigned node, const uint8_t *seed, unsigned nblobs)
{
    walrus_audit_head_write(out, epoch, round, node);
    memcpy(out + 11, seed, WALRUS_HASH_LEN);
    walrus_put_le(out + 43, nblobs, 2);
}


int
walrus_audit_blob_write(walrus_codec_t *codec, const walrus_metadata_t *m,
    const uint8_t *blob_id, const walrus_audit_position_t *pos,
    unsigned npairs, const uint8_t *const *primary,
    const uint8_t *const *secondary, uint8_t *out)
{
    int             rc;
    size_t          z, proof;
    uint8_t        *p;
    unsigned        i, k, n;
    const uint8_t  *hashes;

    n = m->params.n;

    if (npairs == 0 || npairs > n || walrus_codec_params(codec)->n != n) {
        return WALRUS_EINVAL;
    }

    proof = walrus_merkle_proof_size(n);

    memcpy(out, blob_id, WALRUS_BLOB_ID_LEN);
    out[WALRUS_BLOB_ID_LEN] = 0;
    walrus_put_le(out + WALRUS_AUDIT_BLOB_HEAD, npairs, 2);
    p = out + WALRUS_AUDIT_BLOB_HEAD + 2;

    for (i = 0; i < npairs; i++) {
        k = pos[i].pair;

        if (k >= n || pos[i].segment >= m->nsegments
            || pos[i].primary_leaf >= n || pos[i].secondary_leaf >= n)
        {
            return WALRUS_EINVAL;
        }

        z = walrus_audit_symbol(m, pos[i].segment);
        hashes = walrus_metadata_segment(m, pos[i].segment)
                 + (size_t) k * WALRUS_PAIR_HASH_LEN;

        walrus_put_le(p, k, 2);
        walrus_put_le(p + 2, pos[i].segment, 4);
        walrus_put_le(p + 6, pos[i].primary_leaf, 2);
        walrus_put_le(p + 8, pos[i].secondary_leaf, 2);
        walrus_put_le(p + 10, z, 4);
        p += WALRUS_AUDIT_ENTRY_HEAD;

        /*
         * The proof is computed from the leaves of the whole extended
         * slice: that it verifies against the metadata checks the slice.
         */

        rc = walrus_recovery_symbol(codec, WALRUS_PRIMARY, k, z, primary[i],
                                    pos[i].primary_leaf, p, p + z);
        if (rc == WALRUS_OK) {
            rc = walrus_recovery_symbol_verify(codec, WALRUS_PRIMARY, k,
                                               pos[i].primary_leaf, z, p,
                                               p + z, hashes);
        }

        if (rc != WALRUS_OK) {
            return rc;
        }

        p += z + proof;

        rc = walrus_recovery_symbol(codec, WALRUS_SECONDARY, n - 1 - k, z,
                                    secondary[i], pos[i].secondary_leaf, p,
                                    p + z);
        if (rc == WALRUS_OK) {
            rc = walrus_recovery_symbol_verify(codec, WALRUS_SECONDARY,
                                               n - 1 - k,
                                               pos[i].secondary_leaf, z, p,
                                               p + z,
                                               hashes + WALRUS_HASH_LEN);
        }

        if (rc != WALRUS_OK) {
            return rc;
        }

        p += z + proof;
    }

    return WALRUS_OK;
}


void
walrus_audit_blob_missing(const uint8_t *blob_id, uint8_t *out)
{
    memcpy(out, blob_id, WALRUS_BLOB_ID_LEN);
    out[WALRUS_BLOB_ID_LEN] = 1;
}


int
walrus_audit_answer_sign(EVP_PKEY *key, uint8_t *buf, size_t len)
{
    if (key == NULL || buf == NULL || len < WALRUS_AUDIT_ANSWER_HEADER) {
        return WALRUS_EINVAL;
    }

    return walrus_audit_sign_tagged(key, WALRUS_AUDIT_ANSWER_TAG, buf, len,
                                    buf + len);
}


/*
 * The framing only, bounds checked before each read: every count and
 * symbol size is taken from the bytes, so the length must come out
 * exactly.
 */

int
walrus_audit_answer_parse(const walrus_committee_t *c, const uint8_t *buf,
    size_t len, walrus_audit_answer_t *a)
{
    size_t                i, j, m, q, proof;
    uint64_t              z, step, rest;
    const uint8_t        *p, *end;
    walrus_audit_blob_t  *blob;

    if (c == NULL || a == NULL || (buf == NULL && len != 0)) {
        return WALRUS_EINVAL;
    }

    memset(a, 0, sizeof(walrus_audit_answer_t));

    if (len < WALRUS_AUDIT_ANSWER_HEADER + WALRUS_SIG_LEN
        || buf[0] != WALRUS_AUDIT_VERSION)
    {
        return WALRUS_EFORMAT;
    }

    a->epoch = (uint32_t) walrus_get_le(buf + 1, 4);
    a->round = (uint32_t) walrus_get_le(buf + 5, 4);
    a->node = (unsigned) walrus_get_le(buf + 9, 2);
    memcpy(a->seed, buf + 11, WALRUS_HASH_LEN);
    m = (size_t) walrus_get_le(buf + 43, 2);

    if (m > WALRUS_AUDIT_MAX_ASK || a->node >= c->nnodes) {
        return WALRUS_EFORMAT;
    }

    proof = walrus_merkle_proof_size(c->params.n);
    p = buf + WALRUS_AUDIT_ANSWER_HEADER;
    end = buf + len - WALRUS_SIG_LEN;

    for (i = 0; i < m; i++) {
        blob = &a->blobs[i];

        if ((size_t) (end - p) < WALRUS_AUDIT_BLOB_HEAD
            || p[WALRUS_BLOB_ID_LEN] > 1)
        {
            return WALRUS_EFORMAT;
        }

        memcpy(blob->blob_id, p, WALRUS_BLOB_ID_LEN);
        blob->held = (p[WALRUS_BLOB_ID_LEN] == 0);
        p += WALRUS_AUDIT_BLOB_HEAD;

        if (!blob->held) {
            continue;
        }

        if (end - p < 2) {
            return WALRUS_EFORMAT;
        }

        q = (size_t) walrus_get_le(p, 2);
        p += 2;

        if (q < 1 || q > c->params.n) {
            return WALRUS_EFORMAT;
        }

        blob->npairs = (unsigned) q;
        blob->pairs = p;

        for (j = 0; j < q; j++) {
            rest = (uint64_t) (end - p);

            if (rest < WALRUS_AUDIT_ENTRY_HEAD) {
                return WALRUS_EFORMAT;
            }

            z = walrus_get_le(p + 10, 4);
            step = WALRUS_AUDIT_ENTRY_HEAD + 2 * (z + proof);

            if (step > rest) {
                return WALRUS_EFORMAT;
            }

            p += step;
        }

        blob->len = (size_t) (p - blob->pairs);
    }

    if (p != end) {
        return WALRUS_EFORMAT;
    }

    a->nblobs = (unsigned) m;

    if (a->epoch != c->epoch) {
        return WALRUS_EEPOCH;
    }

    return walrus_audit_verify_tagged(c->nodes[a->node].public_key,
                                      WALRUS_AUDIT_ANSWER_TAG, buf,
                                      len - WALRUS_SIG_LEN, end);
}


int
walrus_audit_blob_check(walrus_codec_t *codec, const walrus_committee_t *c,
    const walrus_audit_answer_t *a, unsigned i, const walrus_metadata_t *m)
{
    int                         rc;
    size_t                      size, left;
    unsigned                    j, k, n, npos, mine;
    const uint8_t              *p;
    const walrus_audit_blob_t  *blob;
    walrus_audit_position_t     pos[WALRUS_MAX_SHARDS];

    if (codec == NULL || c == NULL || a == NULL || m == NULL
        || i >= a->nblobs)
    {
        return WALRUS_EINVAL;
    }

    n = c->params.n;

    if (m->params.n != n || walrus_codec_params(codec)->n != n) {
        return WALRUS_EINVAL;
    }

    blob = &a->blobs[i];

    if (!blob->held) {
        return WALRUS_AUDIT_MISSING;
    }

    /* the pairs the node holds; positions() gives fewer only on failure */

    mine = 0;

    for (k = 0; k < n; k++) {
        mine += c->shard_owner[walrus_pair_to_shard(&c->params,
                                                    blob->blob_id, k)]
                == a->node;
    }

    npos = walrus_audit_positions(c, m, a->seed, blob->blob_id, a->node,
                                  pos);
    if (npos != mine) {
        return WALRUS_ECRYPTO;
    }

    if (blob->npairs != npos) {
        return WALRUS_AUDIT_FRAUD;
    }

    p = blob->pairs;
    left = blob->len;

    for (j = 0; j < npos; j++) {
        rc = walrus_audit_entry_check(codec, m, &pos[j], p, &size);
        if (rc != WALRUS_OK) {
            return rc;
        }

        /* the parser framed the entries: size fits */

        if (size > left) {
            return WALRUS_EINVAL;
        }

        p += size;
        left -= size;
    }

    return WALRUS_AUDIT_PASSED;
}


/*
 * One entry at p against its expected position: WALRUS_OK with *size the
 * bytes of the entry, WALRUS_AUDIT_FRAUD, or an error.
 */

static int
walrus_audit_entry_check(walrus_codec_t *codec, const walrus_metadata_t *m,
    const walrus_audit_position_t *pos, const uint8_t *p, size_t *size)
{
    int             rc;
    size_t          z, proof;
    unsigned        k, n;
    const uint8_t  *hashes;

    n = m->params.n;
    k = pos->pair;
    z = walrus_audit_symbol(m, pos->segment);
    proof = walrus_merkle_proof_size(n);

    *size = WALRUS_AUDIT_ENTRY_HEAD
            + 2 * ((size_t) walrus_get_le(p + 10, 4) + proof);

    if (walrus_get_le(p, 2) != k
        || walrus_get_le(p + 2, 4) != pos->segment
        || walrus_get_le(p + 6, 2) != pos->primary_leaf
        || walrus_get_le(p + 8, 2) != pos->secondary_leaf
        || walrus_get_le(p + 10, 4) != z)
    {
        return WALRUS_AUDIT_FRAUD;
    }

    hashes = walrus_metadata_segment(m, pos->segment)
             + (size_t) k * WALRUS_PAIR_HASH_LEN;
    p += WALRUS_AUDIT_ENTRY_HEAD;

    rc = walrus_recovery_symbol_verify(codec, WALRUS_PRIMARY, k,
                                       pos->primary_leaf, z, p, p + z,
                                       hashes);
    if (rc == WALRUS_OK) {
        p += z + proof;
        rc = walrus_recovery_symbol_verify(codec, WALRUS_SECONDARY,
                                           n - 1 - k, pos->secondary_leaf,
                                           z, p, p + z,
                                           hashes + WALRUS_HASH_LEN);
    }

    return rc == WALRUS_EHASH ? WALRUS_AUDIT_FRAUD : rc;
}
