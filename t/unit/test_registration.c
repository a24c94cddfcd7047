/*
 * Registrations: the documented bytes, strict parsing, and verification
 * against the committee's publishers.
 */

#include <stdint.h>

#include <openssl/evp.h>

#include <walrus_registration.h>
#include <walrus_sign.h>
#include <tap.h>


static void walrus_test_bytes(void);
static void walrus_test_parse(void);
static void walrus_test_verify(void);
static void walrus_test_sample(walrus_registration_t *reg);


int
main(void)
{
    walrus_test_bytes();
    walrus_test_parse();
    walrus_test_verify();

    return tap_done();
}


static void
walrus_test_sample(walrus_registration_t *reg)
{
    unsigned  i;

    memset(reg, 0, sizeof(walrus_registration_t));

    reg->epoch = 0x04030201;
    reg->length = 0x0000000807060504ULL;
    reg->end_epoch = 0x0c0b0a09;
    reg->deletable = 1;

    for (i = 0; i < WALRUS_BLOB_ID_LEN; i++) {
        reg->blob_id[i] = (uint8_t) (0xa0 + i);
    }

    for (i = 0; i < WALRUS_PUBLIC_KEY_LEN; i++) {
        reg->publisher[i] = (uint8_t) (0x40 + i);
    }

    for (i = 0; i < WALRUS_SIG_LEN; i++) {
        reg->signature[i] = (uint8_t) i;
    }
}


static void
walrus_test_bytes(void)
{
    uint8_t                out[WALRUS_REGISTRATION_LEN];
    walrus_registration_t  reg;

    is_int(WALRUS_REGISTER_MSG_LEN, 98, "the signed message is 98 bytes");
    is_int(WALRUS_REGISTRATION_LEN, 162, "a registration is 162 bytes");

    walrus_test_sample(&reg);
    walrus_registration_serialize(&reg, out);

    ok(memcmp(out, "walrus-register:1", 17) == 0, "starts with the tag");
    ok(out[17] == 1 && out[18] == 2 && out[19] == 3 && out[20] == 4,
       "epoch, little-endian");
    ok(memcmp(out + 21, reg.blob_id, 32) == 0, "blob ID at 21");
    ok(memcmp(out + 53, "\x04\x05\x06\x07\x08\0\0\0", 8) == 0,
       "length at 53, 8 bytes little-endian");
    ok(memcmp(out + 61, "\x09\x0a\x0b\x0c", 4) == 0, "end epoch at 61");
    is_int(out[65], 1, "deletable at 65");
    ok(memcmp(out + 66, reg.publisher, 32) == 0, "publisher key at 66");
    ok(memcmp(out + 98, reg.signature, 64) == 0, "signature at 98");
}


static void
walrus_test_parse(void)
{
    uint8_t                buf[WALRUS_REGISTRATION_LEN + 1];
    walrus_registration_t  reg, back;

    walrus_test_sample(&reg);
    walrus_registration_serialize(&reg, buf);

    is_int(walrus_registration_parse(&back, buf, WALRUS_REGISTRATION_LEN),
           WALRUS_OK, "a serialized registration parses");
    ok(memcmp(&back, &reg, sizeof(reg)) == 0, "... to the same fields");

    is_int(walrus_registration_parse(&back, buf, WALRUS_REGISTRATION_LEN - 1),
           WALRUS_EFORMAT, "one byte short is refused");

    buf[WALRUS_REGISTRATION_LEN] = 0;
    is_int(walrus_registration_parse(&back, buf, WALRUS_REGISTRATION_LEN + 1),
           WALRUS_EFORMAT, "one byte long is refused");
    is_int(walrus_registration_parse(&back, buf, 0), WALRUS_EFORMAT,
           "empty is refused");
    is_int(walrus_registration_parse(NULL, buf, WALRUS_REGISTRATION_LEN),
           WALRUS_EINVAL, "no registration: EINVAL");

    buf[16] = '2';
    is_int(walrus_registration_parse(&back, buf, WALRUS_REGISTRATION_LEN),
           WALRUS_EFORMAT, "another tag version is refused");
    buf[16] = '1';

    buf[65] = 2;
    is_int(walrus_registration_parse(&back, buf, WALRUS_REGISTRATION_LEN),
           WALRUS_EFORMAT, "deletable 2 is refused");
    buf[65] = 0;
    is_int(walrus_registration_parse(&back, buf, WALRUS_REGISTRATION_LEN),
           WALRUS_OK, "deletable 0 parses");
    is_int(back.deletable, 0, "... as not deletable");

    reg.length = WALRUS_MAX_BLOB_SIZE + 1;
    walrus_registration_serialize(&reg, buf);
    is_int(walrus_registration_parse(&back, buf, WALRUS_REGISTRATION_LEN),
           WALRUS_EFORMAT, "a length above 2^40 is refused");
}


static void
walrus_test_verify(void)
{
    uint8_t                id[WALRUS_BLOB_ID_LEN], buf[WALRUS_REGISTRATION_LEN];
    unsigned               i;
    EVP_PKEY              *keys[3];
    walrus_committee_t     c;
    walrus_publisher_t     pubs[2];
    walrus_registration_t  reg, bad;

    for (i = 0; i < 3; i++) {
        if (walrus_key_generate(&keys[i]) != WALRUS_OK) {
            printf("Bail out! key generation failed\n");
            exit(1);
        }
    }

    /* publishers 0 and 1 are listed, key 2 is not */

    memset(&c, 0, sizeof(c));
    memset(pubs, 0, sizeof(pubs));
    c.epoch = 7;
    c.npublishers = 2;
    c.publishers = pubs;

    for (i = 0; i < 2; i++) {
        pubs[i].public_key = keys[i];
        walrus_key_raw_public(keys[i], pubs[i].raw_key);
    }

    for (i = 0; i < sizeof(id); i++) {
        id[i] = (uint8_t) (i * 3);
    }

    memset(&reg, 0, sizeof(reg));
    memcpy(reg.blob_id, id, sizeof(id));
    reg.epoch = 7;
    reg.end_epoch = 8;
    reg.length = 12345;

    is_int(walrus_registration_sign(&reg, keys[1]), WALRUS_OK,
           "publisher 1 signs");
    ok(memcmp(reg.publisher, pubs[1].raw_key, WALRUS_PUBLIC_KEY_LEN) == 0,
       "... naming its own key");
    is_int(walrus_registration_verify(&c, &reg, id), WALRUS_OK,
           "the registration verifies");
    is_int(walrus_registration_verify(&c, &reg, NULL), WALRUS_OK,
           "... also without a blob ID to match");

    walrus_registration_serialize(&reg, buf);
    walrus_registration_parse(&bad, buf, sizeof(buf));
    is_int(walrus_registration_verify(&c, &bad, id), WALRUS_OK,
           "... and after a round trip through its bytes");

    id[0] ^= 1;
    is_int(walrus_registration_verify(&c, &reg, id), WALRUS_EBLOBID,
           "for another blob: EBLOBID");
    id[0] ^= 1;

    /* every signed field is covered by the signature */

    bad = reg;
    bad.length++;
    is_int(walrus_registration_verify(&c, &bad, id), WALRUS_ESIGNATURE,
           "another length: bad signature");

    bad = reg;
    bad.end_epoch = 60;
    is_int(walrus_registration_verify(&c, &bad, id), WALRUS_ESIGNATURE,
           "a later end epoch: bad signature");

    bad = reg;
    bad.deletable = 1;
    is_int(walrus_registration_verify(&c, &bad, id), WALRUS_ESIGNATURE,
           "deletable flipped: bad signature");

    bad = reg;
    bad.signature[63] ^= 0x10;
    is_int(walrus_registration_verify(&c, &bad, id), WALRUS_ESIGNATURE,
           "a changed signature: bad signature");

    bad = reg;
    memcpy(bad.publisher, pubs[0].raw_key, WALRUS_PUBLIC_KEY_LEN);
    is_int(walrus_registration_verify(&c, &bad, id), WALRUS_ESIGNATURE,
           "claiming another listed publisher: bad signature");

    bad = reg;
    is_int(walrus_registration_sign(&bad, keys[2]), WALRUS_OK,
           "an unlisted key signs");
    is_int(walrus_registration_verify(&c, &bad, id), WALRUS_EPUBLISHER,
           "... and is no publisher");

    c.npublishers = 0;
    is_int(walrus_registration_verify(&c, &reg, id), WALRUS_EPUBLISHER,
           "a committee without publishers accepts none");
    c.npublishers = 2;

    /* in force from its epoch up to, not including, its end epoch */

    c.epoch = 6;
    is_int(walrus_registration_verify(&c, &reg, id), WALRUS_EEPOCH,
           "made in a later epoch than the committee's: EEPOCH");
    c.epoch = 8;
    is_int(walrus_registration_verify(&c, &reg, id), WALRUS_EEPOCH,
           "at its end epoch: expired");
    c.epoch = 7;

    bad = reg;
    bad.end_epoch = 7;
    walrus_registration_sign(&bad, keys[0]);
    is_int(walrus_registration_verify(&c, &bad, id), WALRUS_EEPOCH,
           "an end epoch equal to its epoch is never in force");

    bad = reg;
    bad.epoch = 3;
    bad.end_epoch = 9;
    walrus_registration_sign(&bad, keys[0]);
    is_int(walrus_registration_verify(&c, &bad, id), WALRUS_OK,
           "one made in an earlier epoch and still in force verifies");

    bad = reg;
    bad.deletable = 2;
    is_int(walrus_registration_sign(&bad, keys[0]), WALRUS_EINVAL,
           "deletable 2 is not signed");

    for (i = 0; i < 3; i++) {
        EVP_PKEY_free(keys[i]);
    }
}
