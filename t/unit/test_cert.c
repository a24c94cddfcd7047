/*
 * Certificates: quorum arithmetic, the canonical order of signers,
 * tampering and the strict parser of the wire form.
 */

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <walrus_cert.h>
#include <walrus_sign.h>
#include <tap.h>


#define WALRUS_TEST_NODES  10
#define WALRUS_TEST_EPOCH  42


static int walrus_test_committee(walrus_committee_t *c, unsigned n,
    unsigned nnodes, const unsigned *counts);
static void walrus_test_subsets(unsigned n, unsigned nnodes,
    const unsigned *counts);
static void walrus_test_duplicates(void);
static int walrus_test_parse_nodes(walrus_cert_t *cert, unsigned count,
    const uint16_t *nodes);
static void walrus_test_tamper(void);
static void walrus_test_add(void);
static void walrus_test_parse(void);
static size_t walrus_test_wire(uint8_t *out, uint8_t version, uint32_t epoch,
    const uint8_t *blob_id, unsigned count, const uint16_t *nodes,
    uint8_t (*sigs)[WALRUS_SIG_LEN]);
static uint32_t walrus_test_random(void);


static EVP_PKEY  *walrus_test_keys[WALRUS_TEST_NODES];
static char      *walrus_test_pem[WALRUS_TEST_NODES];
static uint8_t    walrus_test_id[WALRUS_BLOB_ID_LEN];
static uint8_t    walrus_test_sigs[WALRUS_TEST_NODES][WALRUS_SIG_LEN];
static uint32_t   walrus_test_seed = 12345;


int
main(void)
{
    int       i, j;
    BIO      *bio;
    char     *data, *q;
    long      len;
    unsigned  ones[WALRUS_TEST_NODES];

    static const unsigned  uneven[] = { 4, 3, 2, 1 };
    static const unsigned  uneven2[] = { 1, 1, 1, 1, 1, 2 };

    for (i = 0; i < WALRUS_BLOB_ID_LEN; i++) {
        walrus_test_id[i] = (uint8_t) (i * 7 + 1);
    }

    for (i = 0; i < WALRUS_TEST_NODES; i++) {
        if (walrus_key_generate(&walrus_test_keys[i]) != WALRUS_OK) {
            printf("Bail out! key generation failed\n");
            return 1;
        }

        bio = BIO_new(BIO_s_mem());
        PEM_write_bio_PUBKEY(bio, walrus_test_keys[i]);
        len = BIO_get_mem_data(bio, &data);

        walrus_test_pem[i] = malloc(2 * (size_t) len + 1);
        q = walrus_test_pem[i];

        for (j = 0; j < len; j++) {
            if (data[j] == '\n') {
                *q++ = '\\';
                *q++ = 'n';

            } else {
                *q++ = data[j];
            }
        }

        *q = '\0';
        BIO_free(bio);

        walrus_confirmation_sign(walrus_test_keys[i], WALRUS_TEST_EPOCH,
                                 walrus_test_id, walrus_test_sigs[i]);
        ones[i] = 1;
    }

    walrus_test_subsets(4, 4, ones);
    walrus_test_subsets(5, 5, ones);
    walrus_test_subsets(7, 7, ones);
    walrus_test_subsets(10, 10, ones);
    walrus_test_subsets(10, 4, uneven);
    walrus_test_subsets(7, 6, uneven2);

    walrus_test_duplicates();
    walrus_test_tamper();
    walrus_test_add();
    walrus_test_parse();

    for (i = 0; i < WALRUS_TEST_NODES; i++) {
        EVP_PKEY_free(walrus_test_keys[i]);
        free(walrus_test_pem[i]);
    }

    return tap_done();
}


/* nodes 0..nnodes-1 hold counts[i] consecutive shards, inline keys */

static int
walrus_test_committee(walrus_committee_t *c, unsigned n, unsigned nnodes,
    const unsigned *counts)
{
    int       rc;
    char     *json, *p, err[256];
    unsigned  i, k, shard;

    json = malloc(65536);
    p = json;
    shard = 0;

    p += sprintf(p, "{\"epoch\":%d,\"n_shards\":%u,\"segment_size\":65536,"
                 "\"nodes\":[", WALRUS_TEST_EPOCH, n);

    for (i = 0; i < nnodes; i++) {
        p += sprintf(p, "%s{\"name\":\"n%u\",\"url\":\"http://h:%u\","
                     "\"public_key\":\"%s\",\"shards\":[", i ? "," : "",
                     i, 9100 + i, walrus_test_pem[i]);

        for (k = 0; k < counts[i]; k++) {
            p += sprintf(p, "%s%u", k ? "," : "", shard++);
        }

        p += sprintf(p, "]}");
    }

    sprintf(p, "]}");

    rc = walrus_committee_parse(c, json, strlen(json), NULL, err,
                                sizeof(err));
    if (rc != WALRUS_OK) {
        printf("# committee: %s\n", err);
    }

    free(json);

    return rc;
}


/* every subset of signers: weight and verdict follow the shard counts */

static void
walrus_test_subsets(unsigned n, unsigned nnodes, const unsigned *counts)
{
    int                 rc, want;
    unsigned            i, mask, weight, quorum, bad_weight, bad_verdict;
    unsigned            at, below;
    walrus_cert_t       cert;
    walrus_committee_t  c;

    rc = walrus_test_committee(&c, n, nnodes, counts);
    is_int(rc, WALRUS_OK, "committee n=%u over %u nodes", n, nnodes);
    if (rc != WALRUS_OK) {
        return;
    }

    quorum = n - (n - 1) / 3;
    is_int(c.params.n - c.params.f, quorum, "n=%u: quorum is %u", n, quorum);

    bad_weight = 0;
    bad_verdict = 0;
    at = 0;
    below = 0;

    for (mask = 0; mask < (1u << nnodes); mask++) {
        walrus_cert_init(&cert, WALRUS_TEST_EPOCH, walrus_test_id);
        weight = 0;

        for (i = 0; i < nnodes; i++) {
            if (mask & (1u << i)) {
                walrus_cert_add(&cert, (uint16_t) i, walrus_test_sigs[i]);
                weight += counts[i];
            }
        }

        if (walrus_cert_weight(&c, &cert) != weight) {
            bad_weight++;
        }

        want = weight >= quorum ? WALRUS_OK : WALRUS_EQUORUM;
        at += weight == quorum;
        below += weight == quorum - 1;

        /* verification is slow: check every subset near the threshold */
        if (weight + 1 >= quorum && weight <= quorum + 1) {
            rc = walrus_cert_verify(&c, &cert, walrus_test_id);

            if (rc != want) {
                bad_verdict++;
                printf("# mask %#x weight %u: got %d, want %d\n", mask,
                       weight, rc, want);
            }
        }
    }

    is_int(bad_weight, 0, "n=%u/%u nodes: weight of every subset", n,
           nnodes);
    is_int(bad_verdict, 0, "n=%u/%u nodes: verdict near the quorum", n,
           nnodes);
    ok(at > 0 && below > 0, "n=%u/%u nodes: %u subsets exactly at n-f, %u "
       "one short", n, nnodes, at, below);

    /* explicitly: the first nodes up to exactly n - f shards */
    walrus_cert_init(&cert, WALRUS_TEST_EPOCH, walrus_test_id);
    weight = 0;

    for (i = 0; i < nnodes && weight + counts[i] <= quorum; i++) {
        walrus_cert_add(&cert, (uint16_t) i, walrus_test_sigs[i]);
        weight += counts[i];
    }

    if (weight == quorum) {
        is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_OK,
               "n=%u/%u nodes: %u shards pass", n, nnodes, weight);
        is_int(walrus_cert_verify(&c, &cert, NULL), WALRUS_OK,
               "n=%u/%u nodes: passes without a blob ID", n, nnodes);

        cert.nsigners--;
        is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_EQUORUM,
               "n=%u/%u nodes: %u shards fail", n, nnodes,
               walrus_cert_weight(&c, &cert));
    }

    walrus_committee_free(&c);
}


static void
walrus_test_duplicates(void)
{
    size_t              len;
    uint8_t             wire[WALRUS_CERT_MAX_SIZE], wire2[WALRUS_CERT_MAX_SIZE];
    uint16_t            nodes[WALRUS_MAX_SHARDS];
    unsigned            i;
    walrus_cert_t       cert;
    walrus_committee_t  c;

    static const unsigned  ones[] = { 1, 1, 1, 1, 1, 1, 1 };
    static const unsigned  uneven[] = { 4, 3, 2, 1 };
    static const uint16_t  four[] = { 0, 1, 2, 3 };
    static const uint16_t  dup[] = { 0, 1, 2, 3, 3 };
    static const uint16_t  five[] = { 0, 1, 2, 3, 4 };
    static const uint16_t  down[] = { 4, 3, 2, 1, 0 };
    static const uint16_t  twice[] = { 0, 0, 2 };
    static const uint16_t  n02[] = { 0, 2 };
    static const uint16_t  n01[] = { 0, 1 };

    if (walrus_test_committee(&c, 7, 7, ones) != WALRUS_OK) {
        ok(0, "committee for duplicates");
        return;
    }

    /* n = 7, f = 2: four signers are not enough */
    is_int(walrus_test_parse_nodes(&cert, 4, four), WALRUS_OK, "parse four");
    is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_EQUORUM,
           "four of seven fail");

    len = walrus_test_wire(wire, 1, WALRUS_TEST_EPOCH, walrus_test_id, 4,
                           four, walrus_test_sigs);
    walrus_cert_serialize(&cert, wire2);
    ok(walrus_cert_size(&cert) == len && memcmp(wire, wire2, len) == 0,
       "hand-made wire form matches walrus_cert_serialize");

    is_int(walrus_test_parse_nodes(&cert, 5, dup), WALRUS_EFORMAT,
           "parse refuses a duplicate signer");

    is_int(walrus_test_parse_nodes(&cert, 5, five), WALRUS_OK,
           "five distinct signers in order parse");
    is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_OK,
           "five distinct signers pass");

    /* the gateway's crash: a quorum, then 250 repeats of one signature */
    for (i = 0; i < WALRUS_MAX_SHARDS; i++) {
        nodes[i] = (uint16_t) (i < 5 ? i : 4);
    }

    is_int(walrus_test_parse_nodes(&cert, WALRUS_MAX_SHARDS, nodes),
           WALRUS_EFORMAT, "five signers and 250 repeats are refused");

    is_int(walrus_test_parse_nodes(&cert, 5, down), WALRUS_EFORMAT,
           "parse refuses five signers in decreasing order");

    /* one pair out of order at each position */
    for (i = 0; i + 1 < 5; i++) {
        memcpy(nodes, five, sizeof(five));
        nodes[i] = (uint16_t) (i + 1);
        nodes[i + 1] = (uint16_t) i;

        is_int(walrus_test_parse_nodes(&cert, 5, nodes), WALRUS_EFORMAT,
               "parse refuses signers %u and %u swapped", i, i + 1);
    }

    /* a structure made by hand: verify holds the same rule */
    walrus_cert_init(&cert, WALRUS_TEST_EPOCH, walrus_test_id);
    for (i = 0; i < 5; i++) {
        walrus_cert_add(&cert, (uint16_t) i, walrus_test_sigs[i]);
    }

    cert.signers[5] = cert.signers[4];
    cert.nsigners = 6;
    is_int(walrus_cert_weight(&c, &cert), 5, "a duplicate adds no weight");
    is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_EFORMAT,
           "verify refuses a duplicate signer");

    cert.signers[5] = cert.signers[0];
    is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_EFORMAT,
           "verify refuses a decreasing signer");

    cert.nsigners = 5;
    is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_OK,
           "the same five in order pass");

    walrus_committee_free(&c);

    /* uneven: n = 10 over 4 nodes, quorum 7; node 0 holds 4 shards */
    if (walrus_test_committee(&c, 10, 4, uneven) != WALRUS_OK) {
        ok(0, "uneven committee for duplicates");
        return;
    }

    is_int(walrus_test_parse_nodes(&cert, 3, twice), WALRUS_EFORMAT,
           "4-shard node twice is refused");

    walrus_test_parse_nodes(&cert, 2, n02);
    is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_EQUORUM,
           "4 + 2 shards fail");

    walrus_test_parse_nodes(&cert, 2, n01);
    is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_OK,
           "4 + 3 shards pass");

    /* four nodes: index 4 and up is outside the committee */
    is_int(walrus_test_parse_nodes(&cert, 5, five), WALRUS_OK,
           "five increasing indexes parse without a committee");
    is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_EFORMAT,
           "verify refuses a fifth signer in a committee of four");

    walrus_committee_free(&c);
}


/* the wire form of signers nodes[0..count-1], parsed */

static int
walrus_test_parse_nodes(walrus_cert_t *cert, unsigned count,
    const uint16_t *nodes)
{
    size_t   len;
    uint8_t  wire[WALRUS_CERT_MAX_SIZE];

    len = walrus_test_wire(wire, 1, WALRUS_TEST_EPOCH, walrus_test_id, count,
                           nodes, walrus_test_sigs);

    return walrus_cert_parse(cert, wire, len);
}


static void
walrus_test_tamper(void)
{
    uint8_t             other[WALRUS_BLOB_ID_LEN], sig[WALRUS_SIG_LEN];
    unsigned            i;
    walrus_cert_t       cert, good;
    walrus_committee_t  c;

    static const unsigned  ones[] = { 1, 1, 1, 1 };

    if (walrus_test_committee(&c, 4, 4, ones) != WALRUS_OK) {
        ok(0, "committee for tampering");
        return;
    }

    walrus_cert_init(&good, WALRUS_TEST_EPOCH, walrus_test_id);
    for (i = 0; i < 3; i++) {
        walrus_cert_add(&good, (uint16_t) i, walrus_test_sigs[i]);
    }

    is_int(walrus_cert_verify(&c, &good, walrus_test_id), WALRUS_OK,
           "untampered certificate passes");

    memcpy(other, walrus_test_id, sizeof(other));
    other[0] ^= 0x80;

    is_int(walrus_cert_verify(&c, &good, other), WALRUS_EBLOBID,
           "certificate for another blob ID is EBLOBID");

    /* the epoch checked comes from the committee */
    cert = good;
    cert.epoch = WALRUS_TEST_EPOCH + 1;
    for (i = 0; i < 3; i++) {
        walrus_confirmation_sign(walrus_test_keys[i], cert.epoch,
                                 walrus_test_id, cert.signers[i].signature);
    }

    is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_EEPOCH,
           "well-signed certificate of another epoch is EEPOCH");

    c.epoch = WALRUS_TEST_EPOCH + 1;
    is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_OK,
           "same certificate in its own epoch passes");
    is_int(walrus_cert_verify(&c, &good, walrus_test_id), WALRUS_EEPOCH,
           "old certificate in the next epoch is EEPOCH");
    c.epoch = WALRUS_TEST_EPOCH;

    cert = good;
    memcpy(cert.signers[1].signature, walrus_test_sigs[3], WALRUS_SIG_LEN);
    is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_ESIGNATURE,
           "signature by the wrong key is ESIGNATURE");

    cert = good;
    cert.signers[2].node = 3;
    is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_ESIGNATURE,
           "signer index changed is ESIGNATURE");

    for (i = 0; i < WALRUS_SIG_LEN; i += 7) {
        cert = good;
        cert.signers[2].signature[i] ^= 0x01;
        is_int(walrus_cert_verify(&c, &cert, walrus_test_id),
               WALRUS_ESIGNATURE, "flipped signature byte %u", i);
    }

    /* signatures over another blob ID under this blob ID */
    cert = good;
    walrus_confirmation_sign(walrus_test_keys[0], WALRUS_TEST_EPOCH, other,
                             sig);
    memcpy(cert.signers[0].signature, sig, WALRUS_SIG_LEN);
    is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_ESIGNATURE,
           "confirmation of another blob is ESIGNATURE");

    /* a bad signature fails even when the rest makes a quorum */
    cert = good;
    walrus_cert_add(&cert, 3, walrus_test_sigs[3]);
    cert.signers[3].signature[5] ^= 0x20;
    is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_ESIGNATURE,
           "extra bad signature beside a quorum fails");

    cert = good;
    cert.signers[2].node = 4;
    is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_EFORMAT,
           "signer index past the committee is EFORMAT");
    is_int(walrus_cert_weight(&c, &cert), 2,
           "unknown signer adds no weight");

    cert.signers[2].node = 65535;
    is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_EFORMAT,
           "signer index 65535 is EFORMAT");

    walrus_cert_init(&cert, WALRUS_TEST_EPOCH, walrus_test_id);
    is_int(walrus_cert_verify(&c, &cert, walrus_test_id), WALRUS_EQUORUM,
           "empty certificate is EQUORUM");
    is_int(walrus_cert_weight(&c, &cert), 0, "empty certificate weighs 0");

    walrus_committee_free(&c);
}


static void
walrus_test_add(void)
{
    uint8_t        sig[WALRUS_SIG_LEN];
    unsigned       i, bad;
    walrus_cert_t  cert;

    memset(sig, 0x33, sizeof(sig));
    walrus_cert_init(&cert, 1, walrus_test_id);

    is_int(walrus_cert_add(&cert, 7, sig), WALRUS_OK, "add node 7");
    is_int(walrus_cert_add(&cert, 7, sig), WALRUS_EINVAL,
           "add node 7 again is refused");
    is_int(cert.nsigners, 1, "one signer");

    /* confirmations come in any order; the certificate is in node order */
    walrus_cert_init(&cert, 1, walrus_test_id);

    for (i = 0; i < WALRUS_TEST_NODES; i++) {
        walrus_cert_add(&cert, (uint16_t) ((i * 7 + 3) % WALRUS_TEST_NODES),
                        walrus_test_sigs[(i * 7 + 3) % WALRUS_TEST_NODES]);
    }

    bad = cert.nsigners != WALRUS_TEST_NODES;

    for (i = 0; i < cert.nsigners; i++) {
        if (cert.signers[i].node != i
            || memcmp(cert.signers[i].signature, walrus_test_sigs[i],
                      WALRUS_SIG_LEN) != 0)
        {
            bad++;
        }
    }

    is_int(bad, 0, "signers added out of order are kept in node order");
    is_int(walrus_cert_add(&cert, 0, sig), WALRUS_EINVAL,
           "the first node again is refused");
    is_int(walrus_cert_add(&cert, 5, sig), WALRUS_EINVAL,
           "a middle node again is refused");
    ok(cert.nsigners == WALRUS_TEST_NODES
       && memcmp(cert.signers[5].signature, walrus_test_sigs[5],
                 WALRUS_SIG_LEN) == 0,
       "... and changes nothing");

    walrus_cert_init(&cert, 1, walrus_test_id);
    is_int(walrus_cert_add(&cert, 7, sig), WALRUS_OK, "add node 7");

    bad = 0;

    for (i = 0; i < WALRUS_MAX_SHARDS; i++) {
        if (i != 7 && walrus_cert_add(&cert, (uint16_t) i, sig)
                      != WALRUS_OK)
        {
            bad++;
        }
    }

    is_int(bad, 0, "add 255 distinct signers");
    is_int(cert.nsigners, WALRUS_MAX_SHARDS, "certificate is full");
    is_int(walrus_cert_add(&cert, 300, sig), WALRUS_EINVAL,
           "a 256th signer is refused");
    is_int(walrus_cert_size(&cert), WALRUS_CERT_MAX_SIZE,
           "full certificate has the maximal size");

    bad = 0;

    for (i = 0; i < WALRUS_MAX_SHARDS; i++) {
        bad += cert.signers[i].node != i;
    }

    is_int(bad, 0, "a full certificate is in node order");
}


static void
walrus_test_parse(void)
{
    int            rc;
    size_t         len, i, k, crashes, wrong;
    uint8_t        wire[WALRUS_CERT_MAX_SIZE + 1], *copy;
    uint16_t       nodes[WALRUS_MAX_SHARDS + 1];
    walrus_cert_t  cert, back;

    is_int(WALRUS_CERT_HEADER_LEN, 39, "header is 39 bytes");
    is_int(WALRUS_CERT_SIGNER_LEN, 66, "signer entry is 66 bytes");

    walrus_cert_init(&cert, 0xdeadbeef, walrus_test_id);
    for (i = 0; i < 5; i++) {
        walrus_cert_add(&cert, (uint16_t) (1000 * i + 3),
                        walrus_test_sigs[i]);
    }

    len = walrus_cert_size(&cert);
    is_int(len, 39 + 5 * 66, "size of five signers");

    walrus_cert_serialize(&cert, wire);

    ok(wire[0] == 1 && wire[1] == 0xef && wire[4] == 0xde
       && memcmp(wire + 5, walrus_test_id, 32) == 0 && wire[37] == 5
       && wire[38] == 0 && wire[39] == 3 && wire[40] == 0
       && wire[39 + 66] == (1003 & 0xff) && wire[40 + 66] == (1003 >> 8)
       && memcmp(wire + 41, walrus_test_sigs[0], 64) == 0,
       "wire layout");

    memset(&back, 0xee, sizeof(back));
    is_int(walrus_cert_parse(&back, wire, len), WALRUS_OK, "parse");
    ok(back.epoch == cert.epoch && back.nsigners == cert.nsigners
       && memcmp(back.blob_id, cert.blob_id, WALRUS_BLOB_ID_LEN) == 0
       && memcmp(back.signers, cert.signers,
                 cert.nsigners * sizeof(walrus_signer_t)) == 0,
       "round trip");

    /* every truncation, from an exact-size copy */
    wrong = 0;

    for (i = 0; i < len; i++) {
        copy = malloc(i + 1);
        memcpy(copy, wire, i);

        if (walrus_cert_parse(&back, i ? copy : NULL, i) == WALRUS_OK) {
            wrong++;
        }

        free(copy);
    }

    is_int(wrong, 0, "every truncation of %zu bytes is rejected", len);

    wire[len] = 0;
    is_int(walrus_cert_parse(&back, wire, len + 1), WALRUS_EFORMAT,
           "one extra byte is rejected");

    wire[0] = 2;
    is_int(walrus_cert_parse(&back, wire, len), WALRUS_EFORMAT,
           "version 2 is rejected");
    wire[0] = 0;
    is_int(walrus_cert_parse(&back, wire, len), WALRUS_EFORMAT,
           "version 0 is rejected");
    wire[0] = 1;

    wire[37] = 4;
    is_int(walrus_cert_parse(&back, wire, len), WALRUS_EFORMAT,
           "count one short is rejected");
    wire[37] = 6;
    is_int(walrus_cert_parse(&back, wire, len), WALRUS_EFORMAT,
           "count one over is rejected");
    wire[37] = 5;
    wire[38] = 1;
    is_int(walrus_cert_parse(&back, wire, len), WALRUS_EFORMAT,
           "count 261 is rejected");

    copy = malloc(WALRUS_CERT_HEADER_LEN + 256 * WALRUS_CERT_SIGNER_LEN);

    for (i = 0; i <= WALRUS_MAX_SHARDS; i++) {
        nodes[i] = (uint16_t) i;
    }

    len = walrus_test_wire(copy, 1, 7, walrus_test_id, 256, nodes, NULL);
    is_int(walrus_cert_parse(&back, copy, len), WALRUS_EFORMAT,
           "count 256 with a matching length is rejected");

    len = walrus_test_wire(copy, 1, 7, walrus_test_id, 255, nodes, NULL);
    is_int(len, WALRUS_CERT_MAX_SIZE, "255 signers are the maximal size");
    is_int(walrus_cert_parse(&back, copy, len), WALRUS_OK,
           "count 255 is accepted");
    is_int(back.nsigners, 255, "255 signers parsed");
    ok(back.signers[254].node == 254, "last signer index");

    len = walrus_test_wire(copy, 1, 7, walrus_test_id, 0, nodes, NULL);
    is_int(walrus_cert_parse(&back, copy, len), WALRUS_OK,
           "empty certificate parses");
    is_int(back.nsigners, 0, "no signers");

    free(copy);

    rc = walrus_cert_parse(&back, NULL, 0);
    is_int(rc, WALRUS_EFORMAT, "zero bytes are rejected");

    /* random garbage: never crashes, only OK or EFORMAT */
    crashes = 0;
    wrong = 0;

    for (k = 0; k < 20000; k++) {
        len = walrus_test_random() % (WALRUS_CERT_MAX_SIZE + 100);

        if (k % 4 == 0) {
            len = WALRUS_CERT_HEADER_LEN
                  + (walrus_test_random() % 300) * WALRUS_CERT_SIGNER_LEN
                  + walrus_test_random() % 3;
        }

        copy = malloc(len + 1);

        for (i = 0; i < len; i++) {
            copy[i] = (uint8_t) walrus_test_random();
        }

        /* make some of them well-formed headers */
        if (k % 2 == 0 && len >= WALRUS_CERT_HEADER_LEN) {
            copy[0] = 1;
            i = (len - WALRUS_CERT_HEADER_LEN) / WALRUS_CERT_SIGNER_LEN;
            copy[37] = (uint8_t) i;
            copy[38] = (uint8_t) (i >> 8);
        }

        rc = walrus_cert_parse(&back, copy, len);

        if (rc != WALRUS_OK && rc != WALRUS_EFORMAT) {
            crashes++;
        }

        if (rc == WALRUS_OK
            && len != WALRUS_CERT_HEADER_LEN
                      + back.nsigners * WALRUS_CERT_SIGNER_LEN)
        {
            wrong++;
        }

        free(copy);
    }

    is_int(crashes, 0, "garbage gives only OK or EFORMAT");
    is_int(wrong, 0, "accepted garbage has the exact length");
}


static size_t
walrus_test_wire(uint8_t *out, uint8_t version, uint32_t epoch,
    const uint8_t *blob_id, unsigned count, const uint16_t *nodes,
    uint8_t (*sigs)[WALRUS_SIG_LEN])
{
    uint8_t   *p;
    unsigned   i;

    p = out;
    *p++ = version;
    *p++ = epoch & 0xff;
    *p++ = (epoch >> 8) & 0xff;
    *p++ = (epoch >> 16) & 0xff;
    *p++ = epoch >> 24;
    memcpy(p, blob_id, 32);
    p += 32;
    *p++ = count & 0xff;
    *p++ = count >> 8;

    for (i = 0; i < count; i++) {
        *p++ = nodes[i] & 0xff;
        *p++ = nodes[i] >> 8;

        if (sigs != NULL) {
            memcpy(p, sigs[nodes[i] % WALRUS_TEST_NODES], 64);

        } else {
            memset(p, (int) i, 64);
        }

        p += 64;
    }

    return (size_t) (p - out);
}


static uint32_t
walrus_test_random(void)
{
    walrus_test_seed ^= walrus_test_seed << 13;
    walrus_test_seed ^= walrus_test_seed >> 17;
    walrus_test_seed ^= walrus_test_seed << 5;

    return walrus_test_seed;
}
