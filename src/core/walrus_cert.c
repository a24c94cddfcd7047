/*
 * Certificates: wire form, signer weight and verification.
 */

#include <string.h>

#include <walrus_cert.h>
#include <walrus_sign.h>


void
walrus_cert_init(walrus_cert_t *cert, uint32_t epoch, const uint8_t *blob_id)
{
    memset(cert, 0, sizeof(walrus_cert_t));

    cert->epoch = epoch;
    memcpy(cert->blob_id, blob_id, WALRUS_BLOB_ID_LEN);
}


/*
 * Signers stay in increasing node order whatever order confirmations
 * arrive in, so that every serialized certificate is canonical.
 */

int
walrus_cert_add(walrus_cert_t *cert, uint16_t node, const uint8_t *sig)
{
    unsigned  i;

    if (cert == NULL || sig == NULL || cert->nsigners >= WALRUS_MAX_SHARDS) {
        return WALRUS_EINVAL;
    }

    for (i = cert->nsigners; i > 0 && cert->signers[i - 1].node > node; i--) {
        /* void */
    }

    if (i > 0 && cert->signers[i - 1].node == node) {
        return WALRUS_EINVAL;
    }

    memmove(&cert->signers[i + 1], &cert->signers[i],
            (cert->nsigners - i) * sizeof(walrus_signer_t));

    cert->signers[i].node = node;
    memcpy(cert->signers[i].signature, sig, WALRUS_SIG_LEN);
    cert->nsigners++;

    return WALRUS_OK;
}


size_t
walrus_cert_size(const walrus_cert_t *cert)
{
    return WALRUS_CERT_HEADER_LEN
           + (size_t) cert->nsigners * WALRUS_CERT_SIGNER_LEN;
}


void
walrus_cert_serialize(const walrus_cert_t *cert, uint8_t *out)
{
    uint8_t   *p;
    unsigned   i;

    p = out;

    *p++ = WALRUS_CERT_VERSION;

    *p++ = (uint8_t) cert->epoch;
    *p++ = (uint8_t) (cert->epoch >> 8);
    *p++ = (uint8_t) (cert->epoch >> 16);
    *p++ = (uint8_t) (cert->epoch >> 24);

    memcpy(p, cert->blob_id, WALRUS_BLOB_ID_LEN);
    p += WALRUS_BLOB_ID_LEN;

    *p++ = (uint8_t) cert->nsigners;
    *p++ = (uint8_t) (cert->nsigners >> 8);

    for (i = 0; i < cert->nsigners; i++) {
        *p++ = (uint8_t) cert->signers[i].node;
        *p++ = (uint8_t) (cert->signers[i].node >> 8);

        memcpy(p, cert->signers[i].signature, WALRUS_SIG_LEN);
        p += WALRUS_SIG_LEN;
    }
}


int
walrus_cert_parse(walrus_cert_t *cert, const uint8_t *buf, size_t len)
{
    size_t          count;
    unsigned        i;
    const uint8_t  *p;

    if (cert == NULL || (buf == NULL && len != 0)) {
        return WALRUS_EINVAL;
    }

    if (len < WALRUS_CERT_HEADER_LEN || buf[0] != WALRUS_CERT_VERSION) {
        return WALRUS_EFORMAT;
    }

    count = (size_t) buf[WALRUS_CERT_HEADER_LEN - 2]
            | (size_t) buf[WALRUS_CERT_HEADER_LEN - 1] << 8;

    if (count > WALRUS_MAX_SHARDS
        || len != WALRUS_CERT_HEADER_LEN + count * WALRUS_CERT_SIGNER_LEN)
    {
        return WALRUS_EFORMAT;
    }

    memset(cert, 0, sizeof(walrus_cert_t));

    p = buf + 1;

    cert->epoch = (uint32_t) p[0] | (uint32_t) p[1] << 8
                  | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
    p += 4;

    memcpy(cert->blob_id, p, WALRUS_BLOB_ID_LEN);
    p += WALRUS_BLOB_ID_LEN + 2;

    /*
     * One form per set of signers: a node listed twice would add no
     * weight, only entries that every reader has to verify and print.
     */

    for (i = 0; i < count; i++) {
        cert->signers[i].node = (uint16_t) (p[0] | p[1] << 8);

        if (i > 0 && cert->signers[i].node <= cert->signers[i - 1].node) {
            return WALRUS_EFORMAT;
        }

        memcpy(cert->signers[i].signature, p + 2, WALRUS_SIG_LEN);
        p += WALRUS_CERT_SIGNER_LEN;
    }

    cert->nsigners = (unsigned) count;

    return WALRUS_OK;
}


unsigned
walrus_cert_weight(const walrus_committee_t *c, const walrus_cert_t *cert)
{
    uint8_t   seen[WALRUS_MAX_SHARDS];
    unsigned  i, node, weight, nsigners;

    memset(seen, 0, sizeof(seen));

    weight = 0;
    nsigners = cert->nsigners;

    if (nsigners > WALRUS_MAX_SHARDS) {
        nsigners = WALRUS_MAX_SHARDS;
    }

    for (i = 0; i < nsigners; i++) {
        node = cert->signers[i].node;

        if (node >= c->nnodes || node >= WALRUS_MAX_SHARDS || seen[node]) {
            continue;
        }

        seen[node] = 1;
        weight += c->nodes[node].nshards;
    }

    return weight;
}


int
walrus_cert_verify(const walrus_committee_t *c, const walrus_cert_t *cert,
    const uint8_t *blob_id)
{
    int       rc;
    unsigned  i, node;

    if (c == NULL || cert == NULL || c->nodes == NULL
        || cert->nsigners > WALRUS_MAX_SHARDS)
    {
        return WALRUS_EINVAL;
    }

    if (blob_id != NULL
        && memcmp(blob_id, cert->blob_id, WALRUS_BLOB_ID_LEN) != 0)
    {
        return WALRUS_EBLOBID;
    }

    if (cert->epoch != c->epoch) {
        return WALRUS_EEPOCH;
    }

    /* canonical: at most one entry per committee node */

    for (i = 0; i < cert->nsigners; i++) {
        if (cert->signers[i].node >= c->nnodes
            || (i > 0
                && cert->signers[i].node <= cert->signers[i - 1].node))
        {
            return WALRUS_EFORMAT;
        }
    }

    for (i = 0; i < cert->nsigners; i++) {
        node = cert->signers[i].node;

        rc = walrus_confirmation_verify(c->nodes[node].public_key,
                                        cert->epoch, cert->blob_id,
                                        cert->signers[i].signature);
        if (rc != WALRUS_OK) {
            return rc;
        }
    }

    if (walrus_cert_weight(c, cert) < c->params.n - c->params.f) {
        return WALRUS_EQUORUM;
    }

    return WALRUS_OK;
}



/*
 * Its signers are indexes in the node list of its epoch and signed with
 * the keys they had then; a later committee may have other nodes at
 * those places.
 */

int
walrus_cert_verify_history(const walrus_history_t *h,
    const walrus_cert_t *cert, const uint8_t *blob_id)
{
    const walrus_committee_t  *c;

    if (h == NULL || cert == NULL) {
        return WALRUS_EINVAL;
    }

    c = walrus_history_committee(h, cert->epoch);

    if (c != NULL) {
        return walrus_cert_verify(c, cert, blob_id);
    }

    return (blob_id != NULL
            && memcmp(blob_id, cert->blob_id, WALRUS_BLOB_ID_LEN) != 0)
           ? WALRUS_EBLOBID : WALRUS_ENOEPOCH;
}
