/*
 * Readiness messages: their bytes, signature and check against the
 * committee of their epoch.
 */

#include <string.h>

#include <walrus_ready.h>
#include <walrus_sign.h>


void
walrus_ready_message(const walrus_ready_t *r, uint8_t *msg)
{
    uint8_t  *p;

    p = msg;

    memcpy(p, WALRUS_READY_TAG, WALRUS_READY_TAG_LEN);
    p += WALRUS_READY_TAG_LEN;

    p[0] = (uint8_t) r->epoch;
    p[1] = (uint8_t) (r->epoch >> 8);
    p[2] = (uint8_t) (r->epoch >> 16);
    p[3] = (uint8_t) (r->epoch >> 24);
    p += 4;

    p[0] = (uint8_t) r->node;
    p[1] = (uint8_t) (r->node >> 8);
}


void
walrus_ready_serialize(const walrus_ready_t *r, uint8_t *out)
{
    walrus_ready_message(r, out);
    memcpy(out + WALRUS_READY_MSG_LEN, r->signature, WALRUS_SIG_LEN);
}


int
walrus_ready_parse(walrus_ready_t *r, const uint8_t *buf, size_t len)
{
    const uint8_t  *p;

    if (r == NULL || buf == NULL) {
        return WALRUS_EINVAL;
    }

    if (len != WALRUS_READY_LEN
        || memcmp(buf, WALRUS_READY_TAG, WALRUS_READY_TAG_LEN) != 0)
    {
        return WALRUS_EFORMAT;
    }

    p = buf + WALRUS_READY_TAG_LEN;

    r->epoch = (uint32_t) p[0] | (uint32_t) p[1] << 8
               | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
    r->node = (unsigned) p[4] | (unsigned) p[5] << 8;
    memcpy(r->signature, buf + WALRUS_READY_MSG_LEN, WALRUS_SIG_LEN);

    return WALRUS_OK;
}


int
walrus_ready_sign(walrus_ready_t *r, EVP_PKEY *key)
{
    uint8_t  msg[WALRUS_READY_MSG_LEN];

    if (r == NULL || key == NULL) {
        return WALRUS_EINVAL;
    }

    walrus_ready_message(r, msg);

    return walrus_sign(key, msg, sizeof(msg), r->signature);
}


int
walrus_ready_verify(const walrus_committee_t *c, const walrus_ready_t *r)
{
    uint8_t  msg[WALRUS_READY_MSG_LEN];

    if (c == NULL || r == NULL) {
        return WALRUS_EINVAL;
    }

    if (r->epoch != c->epoch) {
        return WALRUS_EEPOCH;
    }

    if (r->node >= c->nnodes) {
        return WALRUS_EFORMAT;
    }

    walrus_ready_message(r, msg);

    return walrus_verify(c->nodes[r->node].public_key, msg, sizeof(msg),
                         r->signature);
}
