/*
 * Blob registrations: their bytes, signature and check against the
 * committee's publishers.
 */

#include <string.h>

#include <walrus_registration.h>
#include <walrus_sign.h>


static int walrus_registration_check(const walrus_committee_t *c,
    uint32_t now, const walrus_registration_t *reg, const uint8_t *blob_id);
static void walrus_put_u32(uint8_t *p, uint32_t v);
static uint32_t walrus_get_u32(const uint8_t *p);


void
walrus_registration_message(const walrus_registration_t *reg, uint8_t *msg)
{
    unsigned  i;
    uint8_t  *p;

    p = msg;

    memcpy(p, WALRUS_REGISTER_TAG, WALRUS_REGISTER_TAG_LEN);
    p += WALRUS_REGISTER_TAG_LEN;

    walrus_put_u32(p, reg->epoch);
    p += 4;

    memcpy(p, reg->blob_id, WALRUS_BLOB_ID_LEN);
    p += WALRUS_BLOB_ID_LEN;

    for (i = 0; i < 8; i++) {
        *p++ = (uint8_t) (reg->length >> (8 * i));
    }

    walrus_put_u32(p, reg->end_epoch);
    p += 4;

    *p++ = reg->deletable;

    memcpy(p, reg->publisher, WALRUS_PUBLIC_KEY_LEN);
}


void
walrus_registration_serialize(const walrus_registration_t *reg,
    uint8_t *out)
{
    walrus_registration_message(reg, out);
    memcpy(out + WALRUS_REGISTER_MSG_LEN, reg->signature, WALRUS_SIG_LEN);
}


int
walrus_registration_parse(walrus_registration_t *reg, const uint8_t *buf,
    size_t len)
{
    unsigned        i;
    const uint8_t  *p;

    if (reg == NULL || buf == NULL) {
        return WALRUS_EINVAL;
    }

    memset(reg, 0, sizeof(walrus_registration_t));

    if (len != WALRUS_REGISTRATION_LEN
        || memcmp(buf, WALRUS_REGISTER_TAG, WALRUS_REGISTER_TAG_LEN) != 0)
    {
        return WALRUS_EFORMAT;
    }

    p = buf + WALRUS_REGISTER_TAG_LEN;

    reg->epoch = walrus_get_u32(p);
    p += 4;

    memcpy(reg->blob_id, p, WALRUS_BLOB_ID_LEN);
    p += WALRUS_BLOB_ID_LEN;

    for (i = 0; i < 8; i++) {
        reg->length |= (uint64_t) *p++ << (8 * i);
    }

    reg->end_epoch = walrus_get_u32(p);
    p += 4;

    /* one spelling per registration: a flag is 0 or 1 */

    if (*p > 1) {
        return WALRUS_EFORMAT;
    }

    reg->deletable = *p++;

    memcpy(reg->publisher, p, WALRUS_PUBLIC_KEY_LEN);
    p += WALRUS_PUBLIC_KEY_LEN;

    memcpy(reg->signature, p, WALRUS_SIG_LEN);

    if (reg->length > WALRUS_MAX_BLOB_SIZE) {
        return WALRUS_EFORMAT;
    }

    return WALRUS_OK;
}


int
walrus_registration_sign(walrus_registration_t *reg, EVP_PKEY *key)
{
    int      rc;
    uint8_t  msg[WALRUS_REGISTER_MSG_LEN];

    if (reg == NULL || key == NULL || reg->deletable > 1) {
        return WALRUS_EINVAL;
    }

    rc = walrus_key_raw_public(key, reg->publisher);
    if (rc != WALRUS_OK) {
        return rc;
    }

    walrus_registration_message(reg, msg);

    return walrus_sign(key, msg, sizeof(msg), reg->signature);
}


int
walrus_registration_verify(const walrus_committee_t *c,
    const walrus_registration_t *reg, const uint8_t *blob_id)
{
    if (c == NULL || reg == NULL) {
        return WALRUS_EINVAL;
    }

    return walrus_registration_check(c, c->epoch, reg, blob_id);
}


/* it stays in force when its publisher leaves the list later */

int
walrus_registration_verify_history(const walrus_history_t *h,
    const walrus_registration_t *reg, const uint8_t *blob_id)
{
    if (h == NULL || reg == NULL) {
        return WALRUS_EINVAL;
    }

    return walrus_registration_check(walrus_history_committee(h, reg->epoch),
                                     h->current, reg, blob_id);
}


/*
 * Checked in the epoch it was made in, where every registration that was
 * ever valid is in force: what is left is its publisher and signature.
 */

int
walrus_registration_verify_signed(const walrus_history_t *h,
    const walrus_registration_t *reg, const uint8_t *blob_id)
{
    if (h == NULL || reg == NULL) {
        return WALRUS_EINVAL;
    }

    return walrus_registration_check(walrus_history_committee(h, reg->epoch),
                                     reg->epoch, reg, blob_id);
}


/*
 * in force in epoch now and signed by a publisher of c (NULL: the
 * history lacks the epoch the registration names)
 */

static int
walrus_registration_check(const walrus_committee_t *c, uint32_t now,
    const walrus_registration_t *reg, const uint8_t *blob_id)
{
    int      idx;
    uint8_t  msg[WALRUS_REGISTER_MSG_LEN];

    if (blob_id != NULL
        && memcmp(reg->blob_id, blob_id, WALRUS_BLOB_ID_LEN) != 0)
    {
        return WALRUS_EBLOBID;
    }

    /* made in this epoch or before, and not expired */

    if (reg->epoch > now || reg->end_epoch <= now) {
        return WALRUS_EEPOCH;
    }

    if (c == NULL) {
        return WALRUS_ENOEPOCH;
    }

    idx = walrus_committee_find_publisher(c, reg->publisher);
    if (idx < 0) {
        return WALRUS_EPUBLISHER;
    }

    walrus_registration_message(reg, msg);

    return walrus_verify(c->publishers[idx].public_key, msg, sizeof(msg),
                         reg->signature);
}


static void
walrus_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
    p[2] = (uint8_t) (v >> 16);
    p[3] = (uint8_t) (v >> 24);
}


static uint32_t
walrus_get_u32(const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
           | (uint32_t) p[3] << 24;
}
