/*
 * Readiness messages: the documented bytes, strict parsing, and
 * verification against the committee of their epoch.
 */

#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include <walrus_ready.h>
#include <walrus_sign.h>
#include <tap.h>


int
main(void)
{
    uint8_t             buf[WALRUS_READY_LEN + 1], msg[WALRUS_READY_MSG_LEN];
    unsigned            i;
    EVP_PKEY           *keys[3];
    walrus_node_t       nodes[2];
    walrus_ready_t      r, back;
    walrus_committee_t  c;

    for (i = 0; i < 3; i++) {
        if (walrus_key_generate(&keys[i]) != WALRUS_OK) {
            printf("Bail out! key generation failed\n");
            return 1;
        }
    }

    /* epoch 9: nodes 0 and 1 with keys 0 and 1; key 2 is nobody's */

    memset(&c, 0, sizeof(c));
    memset(nodes, 0, sizeof(nodes));
    c.epoch = 9;
    c.nnodes = 2;
    c.nodes = nodes;
    nodes[0].public_key = keys[0];
    nodes[1].public_key = keys[1];

    memset(&r, 0, sizeof(r));
    r.epoch = 9;
    r.node = 1;

    is_int(WALRUS_READY_LEN, 84, "a readiness message is 84 bytes");
    is_int(walrus_ready_sign(&r, keys[1]), WALRUS_OK, "node 1 signs");
    is_int(walrus_ready_verify(&c, &r), WALRUS_OK, "it verifies");

    /* the bytes as documented */

    walrus_ready_serialize(&r, buf);
    ok(memcmp(buf, "walrus-ready:1", 14) == 0, "the tag first");
    ok(buf[14] == 9 && buf[15] == 0 && buf[16] == 0 && buf[17] == 0,
       "the epoch, u32 little-endian");
    ok(buf[18] == 1 && buf[19] == 0, "the node, u16 little-endian");
    walrus_ready_message(&r, msg);
    ok(memcmp(buf, msg, sizeof(msg)) == 0, "the signed message leads");
    ok(walrus_verify(keys[1], buf, WALRUS_READY_MSG_LEN, buf + 20)
       == WALRUS_OK, "the signature is Ed25519 over bytes 0..19");

    is_int(walrus_ready_parse(&back, buf, WALRUS_READY_LEN), WALRUS_OK,
           "it parses");
    ok(back.epoch == 9 && back.node == 1
       && memcmp(back.signature, r.signature, WALRUS_SIG_LEN) == 0,
       "... to the same fields");

    /* strict parsing */

    is_int(walrus_ready_parse(&back, buf, WALRUS_READY_LEN - 1),
           WALRUS_EFORMAT, "a byte short is refused");
    is_int(walrus_ready_parse(&back, buf, WALRUS_READY_LEN + 1),
           WALRUS_EFORMAT, "a byte more is refused");
    buf[0] = 'W';
    is_int(walrus_ready_parse(&back, buf, WALRUS_READY_LEN), WALRUS_EFORMAT,
           "another tag is refused");
    buf[0] = 'w';
    is_int(walrus_ready_parse(NULL, buf, WALRUS_READY_LEN), WALRUS_EINVAL,
           "NULL is EINVAL");

    /* verification */

    back = r;
    back.epoch = 10;
    is_int(walrus_ready_verify(&c, &back), WALRUS_EEPOCH,
           "another epoch's is refused");
    back = r;
    back.node = 2;
    is_int(walrus_ready_verify(&c, &back), WALRUS_EFORMAT,
           "a node the committee lacks is refused");
    back = r;
    back.node = 0;
    is_int(walrus_ready_verify(&c, &back), WALRUS_ESIGNATURE,
           "node 1's signature under node 0's name is refused");
    back = r;
    back.signature[5] ^= 1;
    is_int(walrus_ready_verify(&c, &back), WALRUS_ESIGNATURE,
           "a flipped bit is refused");
    back = r;
    is_int(walrus_ready_sign(&back, keys[2]), WALRUS_OK, "key 2 signs too");
    is_int(walrus_ready_verify(&c, &back), WALRUS_ESIGNATURE,
           "... but is not node 1's");

    for (i = 0; i < 3; i++) {
        EVP_PKEY_free(keys[i]);
    }

    return tap_done();
}
