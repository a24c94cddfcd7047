/*
 * Storage audits: attestations and audit certificates (protocol sections
 * 17.3 and 17.4).
 */

#include <stdlib.h>
#include <string.h>

#include <walrus_audit.h>
#include <walrus_sign.h>


#define WALRUS_AUDIT_ATTEST_TAG      "walrus-audit-attest:1"
#define WALRUS_AUDIT_ATTEST_TAG_LEN  (sizeof(WALRUS_AUDIT_ATTEST_TAG) - 1)


void
walrus_audit_attest_message(uint32_t epoch, uint32_t round, unsigned node,
    const uint8_t *seed, uint8_t *msg)
{
    memcpy(msg, WALRUS_AUDIT_ATTEST_TAG, WALRUS_AUDIT_ATTEST_TAG_LEN);
    msg += WALRUS_AUDIT_ATTEST_TAG_LEN;

    walrus_put_le(msg, epoch, 4);
    walrus_put_le(msg + 4, round, 4);
    walrus_put_le(msg + 8, node, 2);
    memcpy(msg + 10, seed, WALRUS_HASH_LEN);
}


int
walrus_audit_attest_sign(EVP_PKEY *key, uint32_t epoch, uint32_t round,
    unsigned node, const uint8_t *seed, uint8_t *sig)
{
    uint8_t  msg[WALRUS_AUDIT_ATTEST_MSG_LEN];

    if (key == NULL || seed == NULL || sig == NULL) {
        return WALRUS_EINVAL;
    }

    walrus_audit_attest_message(epoch, round, node, seed, msg);

    return walrus_sign(key, msg, sizeof(msg), sig);
}


int
walrus_audit_attest_verify(EVP_PKEY *key, uint32_t epoch, uint32_t round,
    unsigned node, const uint8_t *seed, const uint8_t *sig)
{
    uint8_t  msg[WALRUS_AUDIT_ATTEST_MSG_LEN];

    if (key == NULL || seed == NULL || sig == NULL) {
        return WALRUS_EINVAL;
    }

    walrus_audit_attest_message(epoch, round, node, seed, msg);

    return walrus_verify(key, msg, sizeof(msg), sig);
}


int
walrus_audit_cert_build(const walrus_committee_t *c, uint32_t round,
    unsigned node, const uint8_t *seed, const walrus_audit_signer_t *att,
    unsigned natt, uint8_t **out, size_t *len)
{
    int                    rc;
    size_t                 size;
    uint8_t               *buf, msg[WALRUS_AUDIT_ATTEST_MSG_LEN];
    unsigned               m, peer, weight;
    walrus_audit_signer_t  list[WALRUS_MAX_SHARDS];

    *out = NULL;
    *len = 0;

    if (c == NULL || seed == NULL || (att == NULL && natt != 0)
        || round == 0 || node >= c->nnodes || c->nnodes > WALRUS_MAX_SHARDS)
    {
        return WALRUS_EINVAL;
    }

    walrus_audit_attest_message(c->epoch, round, node, seed, msg);
    weight = c->nodes[node].nshards;
    m = 0;

    for (peer = 0; peer < c->nnodes; peer++) {
        if (peer == node) {
            continue;
        }

        rc = walrus_audit_signer_find(c, att, natt, peer, msg, sizeof(msg),
                                      list[m].signature);
        if (rc == WALRUS_ESIGNATURE) {
            continue;
        }

        if (rc != WALRUS_OK) {
            return rc;
        }

        list[m++].node = (uint16_t) peer;
        weight += c->nodes[peer].nshards;
    }

    if (m == 0 || weight < c->params.n - c->params.f) {
        return WALRUS_EQUORUM;
    }

    size = WALRUS_AUDIT_CERT_HEADER + (size_t) m * WALRUS_AUDIT_SIGNER_LEN;

    buf = malloc(size);
    if (buf == NULL) {
        return WALRUS_ENOMEM;
    }

    walrus_audit_head_write(buf, c->epoch, round, node);
    memcpy(buf + 11, seed, WALRUS_HASH_LEN);
    walrus_put_le(buf + 43, m, 2);
    walrus_audit_signers_write(buf + WALRUS_AUDIT_CERT_HEADER, list, m);

    *out = buf;
    *len = size;

    return WALRUS_OK;
}


int
walrus_audit_cert_verify(const walrus_committee_t *c, const uint8_t *buf,
    size_t len, walrus_audit_cert_t *cert)
{
    int       rc;
    size_t    m;
    unsigned  i, weight;
    uint8_t   msg[WALRUS_AUDIT_ATTEST_MSG_LEN];

    if (c == NULL || cert == NULL || (buf == NULL && len != 0)) {
        return WALRUS_EINVAL;
    }

    memset(cert, 0, sizeof(walrus_audit_cert_t));

    if (len < WALRUS_AUDIT_CERT_HEADER || buf[0] != WALRUS_AUDIT_VERSION) {
        return WALRUS_EFORMAT;
    }

    m = (size_t) walrus_get_le(buf + 43, 2);

    if (m < 1 || m > WALRUS_MAX_SHARDS
        || len != WALRUS_AUDIT_CERT_HEADER + m * WALRUS_AUDIT_SIGNER_LEN)
    {
        return WALRUS_EFORMAT;
    }

    cert->epoch = (uint32_t) walrus_get_le(buf + 1, 4);
    cert->round = (uint32_t) walrus_get_le(buf + 5, 4);
    cert->node = (unsigned) walrus_get_le(buf + 9, 2);
    memcpy(cert->seed, buf + 11, WALRUS_HASH_LEN);
    cert->nattesters = (unsigned) m;

    rc = walrus_audit_signers_parse(c, buf + WALRUS_AUDIT_CERT_HEADER,
                                    cert->nattesters, cert->attesters,
                                    &weight);
    if (rc != WALRUS_OK) {
        return rc;
    }

    if (cert->round == 0 || cert->node >= c->nnodes) {
        return WALRUS_EFORMAT;
    }

    for (i = 0; i < cert->nattesters; i++) {
        if (cert->attesters[i].node == cert->node) {
            return WALRUS_EFORMAT;
        }
    }

    if (cert->epoch != c->epoch) {
        return WALRUS_EEPOCH;
    }

    if (weight + c->nodes[cert->node].nshards
        < c->params.n - c->params.f)
    {
        return WALRUS_EQUORUM;
    }

    walrus_audit_attest_message(cert->epoch, cert->round, cert->node,
                                cert->seed, msg);

    return walrus_audit_signers_verify(c, cert->attesters, cert->nattesters,
                                       msg, sizeof(msg));
}
