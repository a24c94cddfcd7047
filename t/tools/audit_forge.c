/*
 * Test tool: the audit certificates and fraud proofs of docs/protocol.md
 * section 17 made from a test network's node keys (KEYS/node<i>.key), as
 * honest peers would attest a node, or as a lying node would answer, so
 * that tests of the gateway's view need no keeper (audit_tool makes the
 * beacons, walrusctl verify-audit checks them all):
 *
 *   audit_forge cert COMMITTEE KEYS BEACON NODE        > certificate
 *   audit_forge fraud COMMITTEE KEYS BEACON NODE ENCODED ID > fraud proof
 *
 * A certificate has every other node's attestation of NODE under the
 * beacon's seed; a fraud proof is NODE's signed answer on blob ID
 * (ENCODED: a `walrusctl encode` directory) with one symbol byte flipped.
 * Exits 0, 1 when the bytes cannot be made, 2 on bad usage.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <walrus_audit.h>
#include <walrus_file.h>
#include <walrus_sign.h>


/* where the first symbol of an answer's first held blob starts */
#define AUDIT_FORGE_SYMBOL  (WALRUS_AUDIT_ANSWER_HEADER + 32 + 1 + 2 + 14)


static EVP_PKEY *key_of(const char *keys, unsigned node);
static int read_all(const char *path, size_t max, uint8_t **buf,
    size_t *len);
static int out(const uint8_t *buf, size_t len);
static int cert(walrus_committee_t *c, const char *keys,
    walrus_audit_beacon_t *b, unsigned node);
static int fraud(walrus_committee_t *c, const char *keys,
    const uint8_t *bb, size_t blen, walrus_audit_beacon_t *b, unsigned node,
    const char *dir, const char *id_text);


int
main(int argc, char **argv)
{
    char                    err[256];
    size_t                  blen;
    uint8_t                *bb;
    walrus_committee_t      c;
    walrus_audit_beacon_t  *b;

    if (argc < 4
        || walrus_committee_load(&c, argv[2], err, sizeof(err)) != WALRUS_OK)
    {
        fprintf(stderr, "usage: audit_forge cert|fraud COMMITTEE ...\n");
        return 2;
    }

    b = malloc(sizeof(walrus_audit_beacon_t));

    if (b == NULL || argc < 6
        || read_all(argv[4], WALRUS_AUDIT_BEACON_MAX, &bb, &blen) != 0
        || walrus_audit_beacon_verify(&c, bb, blen, b) != WALRUS_OK)
    {
        fprintf(stderr, "audit_forge: no valid beacon\n");
        return 2;
    }

    if (strcmp(argv[1], "cert") == 0) {
        return cert(&c, argv[3], b, atoi(argv[5]));
    }

    if (strcmp(argv[1], "fraud") == 0 && argc == 8) {
        return fraud(&c, argv[3], bb, blen, b, atoi(argv[5]), argv[6],
                     argv[7]);
    }

    fprintf(stderr, "audit_forge: bad arguments\n");

    return 2;
}


static EVP_PKEY *
key_of(const char *keys, unsigned node)
{
    char       path[1024];
    EVP_PKEY  *key;

    snprintf(path, sizeof(path), "%s/node%u.key", keys, node);

    if (walrus_key_load_private(path, &key) != WALRUS_OK) {
        fprintf(stderr, "audit_forge: cannot load %s\n", path);
        exit(2);
    }

    return key;
}


static int
read_all(const char *path, size_t max, uint8_t **buf, size_t *len)
{
    unsigned char  *p;

    if (walrus_read_file(path, max, &p, len) != 0) {
        fprintf(stderr, "audit_forge: cannot read %s\n", path);
        return -1;
    }

    *buf = p;

    return 0;
}


static int
out(const uint8_t *buf, size_t len)
{
    return fwrite(buf, 1, len, stdout) == len ? 0 : 1;
}


static int
cert(walrus_committee_t *c, const char *keys, walrus_audit_beacon_t *b,
    unsigned node)
{
    size_t                  len;
    uint8_t                *buf;
    unsigned                i, n;
    walrus_audit_signer_t   att[WALRUS_MAX_SHARDS];

    n = 0;

    for (i = 0; i < c->nnodes; i++) {
        if (i == node) {
            continue;
        }

        att[n].node = i;

        if (walrus_audit_attest_sign(key_of(keys, i), c->epoch, b->round,
                                     node, b->seed, att[n].signature)
            != WALRUS_OK)
        {
            return 1;
        }

        n++;
    }

    if (walrus_audit_cert_build(c, b->round, node, b->seed, att, n, &buf,
                                &len)
        != WALRUS_OK)
    {
        fprintf(stderr, "audit_forge: the certificate cannot be built\n");
        return 1;
    }

    return out(buf, len);
}


static int
fraud(walrus_committee_t *c, const char *keys, const uint8_t *bb,
    size_t blen, walrus_audit_beacon_t *b, unsigned node, const char *dir,
    const char *id_text)
{
    char                      path[1024];
    size_t                    mlen, size, head, flen, slen[2];
    uint8_t                   id[WALRUS_BLOB_ID_LEN], *meta, *ans, *buf;
    uint8_t                  *slice[2][WALRUS_MAX_SHARDS], *file;
    uint64_t                  off;
    unsigned                  i, a, npairs;
    walrus_codec_t           *codec;
    walrus_metadata_t         m;
    walrus_audit_position_t   pos[WALRUS_MAX_SHARDS];

    static const char  *axes[2] = { "primary", "secondary" };

    snprintf(path, sizeof(path), "%s/metadata", dir);

    if (walrus_blob_id_parse(id_text, strlen(id_text), id) != WALRUS_OK
        || read_all(path, 64 * 1024 * 1024, &meta, &mlen) != 0
        || walrus_metadata_parse(&m, meta, mlen) != WALRUS_OK)
    {
        fprintf(stderr, "audit_forge: no metadata of %s\n", id_text);
        return 2;
    }

    npairs = walrus_audit_positions(c, &m, b->seed, id, node, pos);
    codec = walrus_codec_create(m.params.n);

    if (npairs == 0 || codec == NULL) {
        fprintf(stderr, "audit_forge: node %u holds no pair\n", node);
        return 2;
    }

    for (i = 0; i < npairs; i++) {
        for (a = 0; a < 2; a++) {
            snprintf(path, sizeof(path), "%s/%u.%s", dir, pos[i].pair,
                     axes[a]);
            off = walrus_audit_slice(&m, &pos[i], a, &slen[a]);

            if (read_all(path, 1024 * 1024 * 1024, &file, &flen) != 0
                || off + slen[a] > flen)
            {
                return 2;
            }

            slice[a][i] = file + off;
        }
    }

    head = walrus_audit_answer_head_size();
    size = head + walrus_audit_blob_size(&m, pos, npairs) + WALRUS_SIG_LEN;
    ans = calloc(1, size);

    if (ans == NULL) {
        return 1;
    }

    walrus_audit_answer_head(ans, c->epoch, b->round, node, b->seed, 1);

    if (walrus_audit_blob_write(codec, &m, id, pos, npairs,
                                (const uint8_t *const *) slice[0],
                                (const uint8_t *const *) slice[1],
                                ans + head)
        != WALRUS_OK)
    {
        fprintf(stderr, "audit_forge: the answer cannot be written\n");
        return 1;
    }

    /* the lie: a wrong symbol, signed */

    ans[AUDIT_FORGE_SYMBOL] ^= 0x01;

    if (walrus_audit_answer_sign(key_of(keys, node), ans,
                                 size - WALRUS_SIG_LEN)
        != WALRUS_OK
        || walrus_audit_fraud_build(bb, blen, ans, size, meta, mlen, &buf,
                                    &size)
           != WALRUS_OK)
    {
        return 1;
    }

    return out(buf, size);
}
