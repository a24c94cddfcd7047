/*
 * Storage audits: fraud proofs, a signed answer with a wrong entry that
 * anyone can check offline (protocol section 17.4).
 */

#include <stdlib.h>
#include <string.h>

#include <walrus_audit.h>


static int walrus_audit_fraud_part(const uint8_t **p, const uint8_t *end,
    const uint8_t **part, size_t *len);
static int walrus_audit_fraud_blob(const walrus_committee_t *c,
    const walrus_audit_answer_t *a, const walrus_metadata_t *m,
    const uint8_t *id);


int
walrus_audit_fraud_build(const uint8_t *beacon, size_t beacon_len,
    const uint8_t *answer, size_t answer_len, const uint8_t *meta,
    size_t meta_len, uint8_t **out, size_t *len)
{
    size_t          size, plen[3];
    uint8_t        *buf, *p;
    unsigned        i;
    const uint8_t  *part[3];

    *out = NULL;
    *len = 0;

    part[0] = beacon;
    part[1] = answer;
    part[2] = meta;
    plen[0] = beacon_len;
    plen[1] = answer_len;
    plen[2] = meta_len;

    size = WALRUS_AUDIT_FRAUD_TAG_LEN;

    for (i = 0; i < 3; i++) {
        if (part[i] == NULL || plen[i] == 0 || plen[i] > UINT32_MAX) {
            return WALRUS_EINVAL;
        }

        size += 4 + plen[i];
    }

    buf = malloc(size);
    if (buf == NULL) {
        return WALRUS_ENOMEM;
    }

    memcpy(buf, WALRUS_AUDIT_FRAUD_TAG, WALRUS_AUDIT_FRAUD_TAG_LEN);
    p = buf + WALRUS_AUDIT_FRAUD_TAG_LEN;

    for (i = 0; i < 3; i++) {
        walrus_put_le(p, plen[i], 4);
        memcpy(p + 4, part[i], plen[i]);
        p += 4 + plen[i];
    }

    *out = buf;
    *len = size;

    return WALRUS_OK;
}


/* a length-prefixed part at *p, within end */

static int
walrus_audit_fraud_part(const uint8_t **p, const uint8_t *end,
    const uint8_t **part, size_t *len)
{
    uint64_t  n;

    if (end - *p < 4) {
        return WALRUS_EFORMAT;
    }

    n = walrus_get_le(*p, 4);
    *p += 4;

    if (n > (uint64_t) (end - *p)) {
        return WALRUS_EFORMAT;
    }

    *part = *p;
    *len = (size_t) n;
    *p += n;

    return WALRUS_OK;
}


int
walrus_audit_fraud_verify(const walrus_committee_t *c, const uint8_t *buf,
    size_t len, unsigned *node, uint32_t *round, uint8_t *blob_id)
{
    int                     rc;
    size_t                  blen, alen, mlen;
    uint8_t                 id[WALRUS_BLOB_ID_LEN];
    const uint8_t          *p, *end, *beacon, *answer, *meta;
    walrus_metadata_t       m;
    walrus_audit_answer_t  *a;
    walrus_audit_beacon_t  *b;

    if (c == NULL || (buf == NULL && len != 0)) {
        return WALRUS_EINVAL;
    }

    if (len < WALRUS_AUDIT_FRAUD_TAG_LEN
        || memcmp(buf, WALRUS_AUDIT_FRAUD_TAG, WALRUS_AUDIT_FRAUD_TAG_LEN)
           != 0)
    {
        return WALRUS_EFORMAT;
    }

    p = buf + WALRUS_AUDIT_FRAUD_TAG_LEN;
    end = buf + len;

    if (walrus_audit_fraud_part(&p, end, &beacon, &blen) != WALRUS_OK
        || walrus_audit_fraud_part(&p, end, &answer, &alen) != WALRUS_OK
        || walrus_audit_fraud_part(&p, end, &meta, &mlen) != WALRUS_OK
        || p != end)
    {
        return WALRUS_EFORMAT;
    }

    b = malloc(sizeof(walrus_audit_beacon_t));
    a = malloc(sizeof(walrus_audit_answer_t));
    memset(&m, 0, sizeof(walrus_metadata_t));

    if (b == NULL || a == NULL) {
        rc = WALRUS_ENOMEM;
        goto done;
    }

    rc = walrus_audit_beacon_verify(c, beacon, blen, b);
    if (rc != WALRUS_OK) {
        goto done;
    }

    rc = walrus_audit_answer_parse(c, answer, alen, a);
    if (rc != WALRUS_OK) {
        goto done;
    }

    if (a->epoch != b->epoch || a->round != b->round
        || memcmp(a->seed, b->seed, WALRUS_HASH_LEN) != 0)
    {
        rc = WALRUS_EFORMAT;
        goto done;
    }

    if (walrus_metadata_parse(&m, meta, mlen) != WALRUS_OK) {
        rc = WALRUS_EFORMAT;
        goto done;
    }

    rc = walrus_metadata_blob_id(&m, id);
    if (rc != WALRUS_OK) {
        goto done;
    }

    rc = walrus_audit_fraud_blob(c, a, &m, id);
    if (rc != WALRUS_OK) {
        goto done;
    }

    if (node != NULL) {
        *node = a->node;
    }

    if (round != NULL) {
        *round = a->round;
    }

    if (blob_id != NULL) {
        memcpy(blob_id, id, WALRUS_BLOB_ID_LEN);
    }

done:

    walrus_metadata_free(&m);
    free(a);
    free(b);

    return rc;
}


/*
 * WALRUS_OK when an entry the answer says it holds of blob id does not
 * check; WALRUS_EBLOBID when it holds no such blob, WALRUS_EINVAL when
 * every entry of it checks.
 */

static int
walrus_audit_fraud_blob(const walrus_committee_t *c,
    const walrus_audit_answer_t *a, const walrus_metadata_t *m,
    const uint8_t *id)
{
    int              rc, verdict;
    unsigned         i;
    walrus_codec_t  *codec;

    if (m->params.n != c->params.n) {
        return WALRUS_EINVAL;
    }

    codec = walrus_codec_create(m->params.n);
    if (codec == NULL) {
        return WALRUS_ENOMEM;
    }

    verdict = WALRUS_EBLOBID;

    for (i = 0; i < a->nblobs; i++) {
        if (!a->blobs[i].held
            || memcmp(a->blobs[i].blob_id, id, WALRUS_BLOB_ID_LEN) != 0)
        {
            continue;
        }

        rc = walrus_audit_blob_check(codec, c, a, i, m);

        if (rc == WALRUS_AUDIT_FRAUD) {
            verdict = WALRUS_OK;
            break;
        }

        if (rc != WALRUS_AUDIT_PASSED) {
            verdict = rc;
            break;
        }

        verdict = WALRUS_EINVAL;
    }

    walrus_codec_destroy(codec);

    return verdict;
}
