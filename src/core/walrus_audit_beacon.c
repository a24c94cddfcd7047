/*
 * Storage audits: round signatures, beacons and their seeds (protocol
 * section 17.1), and the hashing, signing and signer lists the audit
 * sources share.
 */

#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include <walrus_audit.h>
#include <walrus_sign.h>


#define WALRUS_AUDIT_ROUND_TAG   "walrus-audit-round:1"
#define WALRUS_AUDIT_BEACON_TAG  "walrus-audit-beacon:1"
#define WALRUS_AUDIT_SEED_TAG    "walrus-audit-seed:1"

#define WALRUS_AUDIT_ROUND_TAG_LEN  (sizeof(WALRUS_AUDIT_ROUND_TAG) - 1)


static int walrus_audit_key_is(EVP_PKEY *key, EVP_PKEY *pub);
static int walrus_audit_tagged(EVP_PKEY *key, const char *tag,
    const uint8_t *buf, size_t len, uint8_t *sig, int sign);


void
walrus_audit_round_message(uint32_t epoch, uint32_t round, uint8_t *msg)
{
    memcpy(msg, WALRUS_AUDIT_ROUND_TAG, WALRUS_AUDIT_ROUND_TAG_LEN);
    walrus_put_le(msg + WALRUS_AUDIT_ROUND_TAG_LEN, epoch, 4);
    walrus_put_le(msg + WALRUS_AUDIT_ROUND_TAG_LEN + 4, round, 4);
}


unsigned
walrus_audit_leader(const walrus_committee_t *c, uint32_t round)
{
    return c->nnodes ? round % c->nnodes : 0;
}


/*
 * The leader's own round signature first, then the others in node order
 * until the shards reach n - f: an honest leader's beacon is fixed by the
 * signatures it holds (17.1).
 */

int
walrus_audit_beacon_build(const walrus_committee_t *c, EVP_PKEY *key,
    uint32_t round, const walrus_audit_signer_t *sigs, unsigned nsigs,
    uint8_t **out, size_t *len)
{
    int                    rc;
    size_t                 size;
    uint8_t               *buf, msg[WALRUS_AUDIT_ROUND_MSG_LEN];
    unsigned               m, node, leader, weight, quorum;
    walrus_audit_signer_t  list[WALRUS_MAX_SHARDS];

    *out = NULL;
    *len = 0;

    if (c == NULL || key == NULL || (sigs == NULL && nsigs != 0)
        || c->nnodes == 0 || c->nnodes > WALRUS_MAX_SHARDS || round == 0)
    {
        return WALRUS_EINVAL;
    }

    leader = walrus_audit_leader(c, round);

    if (!walrus_audit_key_is(key, c->nodes[leader].public_key)) {
        return WALRUS_EINVAL;
    }

    walrus_audit_round_message(c->epoch, round, msg);
    quorum = c->params.n - c->params.f;
    weight = c->nodes[leader].nshards;
    m = 0;

    for (node = 0; node < c->nnodes; node++) {

        if (node == leader) {
            rc = walrus_sign(key, msg, sizeof(msg), list[m].signature);

        } else if (weight < quorum) {
            rc = walrus_audit_signer_find(c, sigs, nsigs, node, msg,
                                          sizeof(msg), list[m].signature);
            if (rc == WALRUS_ESIGNATURE) {
                continue;
            }

        } else {
            continue;
        }

        if (rc != WALRUS_OK) {
            return rc;
        }

        if (node != leader) {
            weight += c->nodes[node].nshards;
        }

        list[m++].node = (uint16_t) node;
    }

    if (weight < quorum) {
        return WALRUS_EQUORUM;
    }

    size = WALRUS_AUDIT_BEACON_HEADER + (size_t) m * WALRUS_AUDIT_SIGNER_LEN
           + WALRUS_SIG_LEN;

    buf = malloc(size);
    if (buf == NULL) {
        return WALRUS_ENOMEM;
    }

    walrus_audit_head_write(buf, c->epoch, round, leader);
    walrus_put_le(buf + 11, m, 2);
    walrus_audit_signers_write(buf + WALRUS_AUDIT_BEACON_HEADER, list, m);

    rc = walrus_audit_sign_tagged(key, WALRUS_AUDIT_BEACON_TAG, buf,
                                  size - WALRUS_SIG_LEN,
                                  buf + size - WALRUS_SIG_LEN);
    if (rc != WALRUS_OK) {
        free(buf);
        return rc;
    }

    *out = buf;
    *len = size;

    return WALRUS_OK;
}


/* whether the private key key has the public key pub */

static int
walrus_audit_key_is(EVP_PKEY *key, EVP_PKEY *pub)
{
    uint8_t  a[WALRUS_PUBLIC_KEY_LEN], b[WALRUS_PUBLIC_KEY_LEN];

    return pub != NULL
           && walrus_key_raw_public(key, a) == WALRUS_OK
           && walrus_key_raw_public(pub, b) == WALRUS_OK
           && memcmp(a, b, sizeof(a)) == 0;
}


int
walrus_audit_beacon_verify(const walrus_committee_t *c, const uint8_t *buf,
    size_t len, walrus_audit_beacon_t *b)
{
    int       rc;
    size_t    m;
    unsigned  i, weight;
    uint8_t   msg[WALRUS_AUDIT_ROUND_MSG_LEN];

    if (c == NULL || b == NULL || (buf == NULL && len != 0)) {
        return WALRUS_EINVAL;
    }

    memset(b, 0, sizeof(walrus_audit_beacon_t));

    if (len < WALRUS_AUDIT_BEACON_HEADER + WALRUS_SIG_LEN
        || buf[0] != WALRUS_AUDIT_VERSION)
    {
        return WALRUS_EFORMAT;
    }

    m = (size_t) walrus_get_le(buf + 11, 2);

    if (m < 1 || m > WALRUS_MAX_SHARDS
        || len != WALRUS_AUDIT_BEACON_HEADER + m * WALRUS_AUDIT_SIGNER_LEN
                  + WALRUS_SIG_LEN)
    {
        return WALRUS_EFORMAT;
    }

    b->epoch = (uint32_t) walrus_get_le(buf + 1, 4);
    b->round = (uint32_t) walrus_get_le(buf + 5, 4);
    b->leader = (unsigned) walrus_get_le(buf + 9, 2);
    b->nsigners = (unsigned) m;
    memcpy(b->leader_signature, buf + len - WALRUS_SIG_LEN, WALRUS_SIG_LEN);

    rc = walrus_audit_signers_parse(c, buf + WALRUS_AUDIT_BEACON_HEADER,
                                    b->nsigners, b->signers, &weight);
    if (rc != WALRUS_OK) {
        return rc;
    }

    if (b->round == 0 || b->leader != walrus_audit_leader(c, b->round)) {
        return WALRUS_EFORMAT;
    }

    for (i = 0; i < b->nsigners; i++) {
        if (b->signers[i].node == b->leader) {
            break;
        }
    }

    if (i == b->nsigners) {
        return WALRUS_EFORMAT;
    }

    if (b->epoch != c->epoch) {
        return WALRUS_EEPOCH;
    }

    if (weight < c->params.n - c->params.f) {
        return WALRUS_EQUORUM;
    }

    walrus_audit_round_message(b->epoch, b->round, msg);

    rc = walrus_audit_signers_verify(c, b->signers, b->nsigners, msg,
                                     sizeof(msg));
    if (rc != WALRUS_OK) {
        return rc;
    }

    rc = walrus_audit_verify_tagged(c->nodes[b->leader].public_key,
                                    WALRUS_AUDIT_BEACON_TAG, buf,
                                    len - WALRUS_SIG_LEN,
                                    b->leader_signature);
    if (rc != WALRUS_OK) {
        return rc;
    }

    return walrus_audit_hash(WALRUS_AUDIT_SEED_TAG, buf, len, NULL, 0,
                             b->seed);
}


int
walrus_audit_hash(const char *tag, const uint8_t *a, size_t alen,
    const uint8_t *b, size_t blen, uint8_t *out)
{
    int          ok;
    EVP_MD_CTX  *ctx;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return WALRUS_ENOMEM;
    }

    ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1
         && EVP_DigestUpdate(ctx, tag, strlen(tag)) == 1
         && EVP_DigestUpdate(ctx, a, alen) == 1
         && (blen == 0 || EVP_DigestUpdate(ctx, b, blen) == 1)
         && EVP_DigestFinal_ex(ctx, out, NULL) == 1;

    EVP_MD_CTX_free(ctx);

    return ok ? WALRUS_OK : WALRUS_ECRYPTO;
}


/*
 * Ed25519 signs a message in one piece (it hashes it twice): the tag and
 * the bytes are copied together, then signed into sig or checked
 * against it.
 */

static int
walrus_audit_tagged(EVP_PKEY *key, const char *tag, const uint8_t *buf,
    size_t len, uint8_t *sig, int sign)
{
    int       rc;
    size_t    tlen;
    uint8_t  *msg;

    tlen = strlen(tag);

    msg = malloc(tlen + len);
    if (msg == NULL) {
        return WALRUS_ENOMEM;
    }

    memcpy(msg, tag, tlen);
    memcpy(msg + tlen, buf, len);

    rc = sign ? walrus_sign(key, msg, tlen + len, sig)
              : walrus_verify(key, msg, tlen + len, sig);

    free(msg);

    return rc;
}


int
walrus_audit_sign_tagged(EVP_PKEY *key, const char *tag, const uint8_t *buf,
    size_t len, uint8_t *sig)
{
    return walrus_audit_tagged(key, tag, buf, len, sig, 1);
}


int
walrus_audit_verify_tagged(EVP_PKEY *key, const char *tag,
    const uint8_t *buf, size_t len, const uint8_t *sig)
{
    return walrus_audit_tagged(key, tag, buf, len, (uint8_t *) sig, 0);
}


void
walrus_audit_head_write(uint8_t *out, uint32_t epoch, uint32_t round,
    unsigned node)
{
    out[0] = WALRUS_AUDIT_VERSION;
    walrus_put_le(out + 1, epoch, 4);
    walrus_put_le(out + 5, round, 4);
    walrus_put_le(out + 9, node, 2);
}


/* one form per set of signers, as certificates (section 12) */

int
walrus_audit_signers_parse(const walrus_committee_t *c, const uint8_t *p,
    unsigned m, walrus_audit_signer_t *out, unsigned *weight)
{
    unsigned  i, node;

    *weight = 0;

    for (i = 0; i < m; i++, p += WALRUS_AUDIT_SIGNER_LEN) {
        node = (unsigned) walrus_get_le(p, 2);

        if (node >= c->nnodes || (i > 0 && node <= out[i - 1].node)) {
            return WALRUS_EFORMAT;
        }

        out[i].node = (uint16_t) node;
        memcpy(out[i].signature, p + 2, WALRUS_SIG_LEN);
        *weight += c->nodes[node].nshards;
    }

    return WALRUS_OK;
}


void
walrus_audit_signers_write(uint8_t *p, const walrus_audit_signer_t *s,
    unsigned m)
{
    unsigned  i;

    for (i = 0; i < m; i++, p += WALRUS_AUDIT_SIGNER_LEN) {
        walrus_put_le(p, s[i].node, 2);
        memcpy(p + 2, s[i].signature, WALRUS_SIG_LEN);
    }
}


int
walrus_audit_signer_find(const walrus_committee_t *c,
    const walrus_audit_signer_t *sigs, unsigned nsigs, unsigned node,
    const uint8_t *msg, size_t len, uint8_t *sig)
{
    int       rc;
    unsigned  i;

    for (i = 0; i < nsigs; i++) {
        if (sigs[i].node != node) {
            continue;
        }

        rc = walrus_verify(c->nodes[node].public_key, msg, len,
                           sigs[i].signature);

        if (rc == WALRUS_OK) {
            memcpy(sig, sigs[i].signature, WALRUS_SIG_LEN);
            return WALRUS_OK;
        }

        if (rc != WALRUS_ESIGNATURE) {
            return rc;
        }
    }

    return WALRUS_ESIGNATURE;
}


int
walrus_audit_signers_verify(const walrus_committee_t *c,
    const walrus_audit_signer_t *s, unsigned m, const uint8_t *msg,
    size_t len)
{
    int       rc;
    unsigned  i;

    for (i = 0; i < m; i++) {
        if (s[i].node >= c->nnodes) {
            return WALRUS_EFORMAT;
        }

        rc = walrus_verify(c->nodes[s[i].node].public_key, msg, len,
                           s[i].signature);
        if (rc != WALRUS_OK) {
            return rc;
        }
    }

    return WALRUS_OK;
}
