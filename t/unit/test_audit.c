/*
 * Storage audits: beacons and seeds, challenge sets and positions,
 * answers (built, parsed, checked), attestations, audit certificates and
 * fraud proofs, on real encoded blobs.
 */

#include <openssl/evp.h>

#include <tap.h>
#include <test_blob.h>
#include <walrus_audit.h>
#include <walrus_cert.h>
#include <walrus_sign.h>


#define TEST_KEYS    8
#define TEST_EPOCH   3
#define TEST_BLOBS   3


/* a committee built in memory: what the audit functions read of one */
typedef struct {
    walrus_committee_t  c;
    walrus_node_t       nodes[TEST_KEYS];
    unsigned            shards[WALRUS_MAX_SHARDS];
} committee_t;


static EVP_PKEY  *keys[TEST_KEYS];

/* n = 7: seven nodes of one shard; five nodes holding 2, 1, 2, 1, 1 */
static const unsigned  ones[] = { 1, 1, 1, 1, 1, 1, 1 };
static const unsigned  uneven[] = { 2, 1, 2, 1, 1 };

static committee_t      even, odd;
static store_t          blobs[TEST_BLOBS];
static walrus_codec_t  *codec;


/* nodes 0..nnodes-1 hold counts[i] consecutive shards each */

static void
make_committee(committee_t *t, unsigned n, const unsigned *counts,
    unsigned nnodes)
{
    unsigned  i, k, shard;

    memset(t, 0, sizeof(committee_t));

    t->c.epoch = TEST_EPOCH;
    walrus_params_init(&t->c.params, n);
    t->c.segment_size = 1024;
    t->c.nnodes = nnodes;
    t->c.nodes = t->nodes;
    shard = 0;

    for (i = 0; i < nnodes; i++) {
        t->nodes[i].shards = &t->shards[shard];
        t->nodes[i].nshards = counts[i];
        t->nodes[i].public_key = keys[i];

        for (k = 0; k < counts[i]; k++) {
            t->shards[shard] = shard;
            t->c.shard_owner[shard++] = (uint8_t) i;
        }
    }
}


static void
round_sigs(const walrus_committee_t *c, uint32_t epoch, uint32_t round,
    walrus_audit_signer_t *sigs)
{
    unsigned  i;
    uint8_t   msg[WALRUS_AUDIT_ROUND_MSG_LEN];

    walrus_audit_round_message(epoch, round, msg);

    for (i = 0; i < c->nnodes; i++) {
        sigs[i].node = (uint16_t) i;
        walrus_sign(keys[i], msg, sizeof(msg), sigs[i].signature);
    }
}


/*
 * A beacon as anyone could write it: the given signers' round signatures
 * (valid), the header as asked, signed by keys[signer].
 */

static size_t
beacon_wire(const walrus_committee_t *c, uint8_t *buf, uint32_t epoch,
    uint32_t round, unsigned leader, const unsigned *nodes, unsigned m,
    unsigned signer)
{
    size_t                 len;
    unsigned               i;
    walrus_audit_signer_t  sigs[TEST_KEYS], list[TEST_KEYS + 1];

    round_sigs(c, epoch, round, sigs);

    for (i = 0; i < m; i++) {
        list[i] = sigs[nodes[i]];
    }

    buf[0] = WALRUS_AUDIT_VERSION;
    walrus_put_le(buf + 1, epoch, 4);
    walrus_put_le(buf + 5, round, 4);
    walrus_put_le(buf + 9, leader, 2);
    walrus_put_le(buf + 11, m, 2);
    walrus_audit_signers_write(buf + WALRUS_AUDIT_BEACON_HEADER, list, m);

    len = WALRUS_AUDIT_BEACON_HEADER + m * WALRUS_AUDIT_SIGNER_LEN;
    walrus_audit_sign_tagged(keys[signer], "walrus-audit-beacon:1", buf, len,
                             buf + len);

    return len + WALRUS_SIG_LEN;
}


static int
beacon_rc(const walrus_committee_t *c, const uint8_t *buf, size_t len)
{
    static walrus_audit_beacon_t  b;

    return walrus_audit_beacon_verify(c, buf, len, &b);
}


static void
test_beacon(void)
{
    int                     rc;
    size_t                  len, len2;
    uint8_t                *buf, *buf2, wire[WALRUS_AUDIT_BEACON_MAX];
    uint8_t                 seed[32];
    unsigned                i;
    walrus_audit_beacon_t   b;
    walrus_audit_signer_t   sigs[4 * TEST_KEYS];
    walrus_committee_t     *c;

    static const unsigned   five[] = { 0, 1, 2, 3, 4 };
    static const unsigned   other[] = { 1, 2, 3, 4, 5 };
    static const unsigned   dup[] = { 0, 1, 2, 2, 3, 4 };
    static const unsigned   unsorted[] = { 0, 2, 1, 3, 4 };
    static const unsigned   four[] = { 0, 1, 2, 3 };

    c = &even.c;

    is_int(walrus_audit_leader(c, 9), 2, "leader of round 9 of 7 nodes");
    is_int(walrus_audit_leader(&odd.c, 9), 4, "leader of round 9 of 5 nodes");

    round_sigs(c, TEST_EPOCH, 9, sigs);

    rc = walrus_audit_beacon_build(c, keys[2], 9, sigs, 7, &buf, &len);
    is_int(rc, WALRUS_OK, "beacon built from every round signature");
    is_int(len, 13 + 5 * 66 + 64, "... with 5 signers");

    rc = walrus_audit_beacon_verify(c, buf, len, &b);
    is_int(rc, WALRUS_OK, "... and it verifies");
    ok(b.round == 9 && b.epoch == TEST_EPOCH && b.leader == 2
       && b.nsigners == 5, "... round 9, epoch, leader 2, 5 signers");
    ok(b.signers[0].node == 0 && b.signers[4].node == 4,
       "... nodes 0 to 4, in node order");

    len2 = beacon_wire(c, wire, TEST_EPOCH, 9, 2, five, 5, 2);
    ok(len2 == len && memcmp(wire, buf, len) == 0,
       "... the bytes of 17.1, deterministic");

    memcpy(seed, b.seed, 32);
    walrus_audit_hash("walrus-audit-seed:1", buf, len, NULL, 0, wire);
    ok(memcmp(seed, wire, 32) == 0, "... seed = H(tag || beacon)");

    /* shuffled, duplicated and bad signatures give the same beacon */

    for (i = 0; i < 7; i++) {
        sigs[7 + i] = sigs[6 - i];
        sigs[14 + i] = sigs[i];
        sigs[14 + i].signature[5] ^= 1;
    }

    rc = walrus_audit_beacon_build(c, keys[2], 9, sigs + 7, 14, &buf2,
                                   &len2);
    ok(rc == WALRUS_OK && len2 == len && memcmp(buf, buf2, len) == 0,
       "shuffled and duplicated signatures: the same beacon");
    free(buf2);

    rc = walrus_audit_beacon_build(c, keys[2], 9, sigs + 14, 7, &buf2,
                                   &len2);
    is_int(rc, WALRUS_EQUORUM, "only bad signatures (and the leader's): "
           "EQUORUM");
    free(buf2);

    /* bad signatures of nodes 0 and 1 first: nodes 3 to 6 are taken */

    memcpy(sigs + 21, sigs + 14, 2 * sizeof(walrus_audit_signer_t));
    memcpy(sigs + 23, sigs + 2, 5 * sizeof(walrus_audit_signer_t));

    rc = walrus_audit_beacon_build(c, keys[2], 9, sigs + 21, 7, &buf2,
                                   &len2);
    is_int(rc, WALRUS_OK, "nodes 0 and 1 sent bad signatures: built");
    rc = walrus_audit_beacon_verify(c, buf2, len2, &b);
    ok(rc == WALRUS_OK && b.nsigners == 5 && b.signers[0].node == 2
       && b.signers[4].node == 6, "... from nodes 2 to 6");
    ok(memcmp(b.seed, seed, 32) != 0, "... and the seed changes with the set");
    free(buf2);

    rc = walrus_audit_beacon_build(c, keys[2], 9, sigs + 3, 3, &buf2, &len2);
    is_int(rc, WALRUS_EQUORUM, "the leader and 3 others of 7: EQUORUM");
    free(buf2);

    rc = walrus_audit_beacon_build(c, keys[2], 9, sigs + 3, 4, &buf2, &len2);
    is_int(rc, WALRUS_OK, "the leader's own signature is not needed in sigs");
    free(buf2);

    rc = walrus_audit_beacon_build(c, keys[3], 9, sigs, 7, &buf2, &len2);
    is_int(rc, WALRUS_EINVAL, "another node's key: EINVAL");
    rc = walrus_audit_beacon_build(c, keys[0], 0, sigs, 7, &buf2, &len2);
    is_int(rc, WALRUS_EINVAL, "round 0: EINVAL");

    /* what verification refuses */

    len2 = beacon_wire(c, wire, TEST_EPOCH, 9, 3, five, 5, 3);
    is_int(beacon_rc(c, wire, len2), WALRUS_EFORMAT,
           "a leader other than round mod N: EFORMAT");
    len2 = beacon_wire(c, wire, TEST_EPOCH, 8, 1, five + 2, 3, 1);
    is_int(beacon_rc(c, wire, len2), WALRUS_EFORMAT,
           "the leader not among the signers: EFORMAT");
    len2 = beacon_wire(c, wire, TEST_EPOCH, 9, 2, dup, 6, 2);
    is_int(beacon_rc(c, wire, len2), WALRUS_EFORMAT,
           "a signer listed twice: EFORMAT");
    len2 = beacon_wire(c, wire, TEST_EPOCH, 9, 2, unsorted, 5, 2);
    is_int(beacon_rc(c, wire, len2), WALRUS_EFORMAT,
           "signers out of order: EFORMAT");
    len2 = beacon_wire(c, wire, TEST_EPOCH, 7, 0, five, 5, 0);
    is_int(beacon_rc(c, wire, len2), WALRUS_OK, "round 7, led by node 0: OK");
    len2 = beacon_wire(c, wire, TEST_EPOCH, 0, 0, five, 5, 0);
    is_int(beacon_rc(c, wire, len2), WALRUS_EFORMAT, "round 0: EFORMAT");
    len2 = beacon_wire(c, wire, TEST_EPOCH, 9, 2, four, 4, 2);
    is_int(beacon_rc(c, wire, len2), WALRUS_EQUORUM,
           "4 signers of 7 shards: EQUORUM");
    len2 = beacon_wire(c, wire, TEST_EPOCH + 1, 9, 2, five, 5, 2);
    is_int(beacon_rc(c, wire, len2), WALRUS_EEPOCH, "another epoch: EEPOCH");
    len2 = beacon_wire(c, wire, TEST_EPOCH, 10, 3, other, 5, 3);
    is_int(beacon_rc(c, wire, len2), WALRUS_OK, "round 10 by nodes 1-5: OK");
    len2 = beacon_wire(c, wire, TEST_EPOCH, 10, 3, other, 5, 2);
    is_int(beacon_rc(c, wire, len2), WALRUS_ESIGNATURE,
           "signed by another node than the leader: ESIGNATURE");

    memcpy(wire, buf, len);
    wire[13 + 66 + 10] ^= 0x40;
    is_int(beacon_rc(c, wire, len), WALRUS_ESIGNATURE,
           "a round signature changed: ESIGNATURE");
    memcpy(wire, buf, len);
    wire[len - 1] ^= 0x01;
    is_int(beacon_rc(c, wire, len), WALRUS_ESIGNATURE,
           "the leader's signature changed: ESIGNATURE");
    memcpy(wire, buf, len);
    wire[5] = 10;
    is_int(beacon_rc(c, wire, len), WALRUS_EFORMAT,
           "the round changed (another leader): EFORMAT");
    wire[5] = 16;
    is_int(beacon_rc(c, wire, len), WALRUS_ESIGNATURE,
           "the round changed, same leader: ESIGNATURE");
    memcpy(wire, buf, len);
    wire[0] = 2;
    is_int(beacon_rc(c, wire, len), WALRUS_EFORMAT, "version 2: EFORMAT");

    for (i = 0; i < len; i++) {
        if (beacon_rc(c, buf, i) != WALRUS_EFORMAT) {
            break;
        }
    }

    is_int(i, len, "every truncation: EFORMAT");
    memcpy(wire, buf, len);
    wire[len] = 0;
    is_int(beacon_rc(c, wire, len + 1), WALRUS_EFORMAT,
           "one byte more: EFORMAT");
    memset(wire, 0, 13 + 64);
    wire[0] = 1;
    is_int(beacon_rc(c, wire, 13 + 64), WALRUS_EFORMAT, "no signer: EFORMAT");

    free(buf);

    /* several shards a node: round 7 of 5 nodes, leader 2 holds two */

    c = &odd.c;
    round_sigs(c, TEST_EPOCH, 7, sigs);

    rc = walrus_audit_beacon_build(c, keys[2], 7, sigs, 5, &buf, &len);
    is_int(rc, WALRUS_OK, "uneven committee: built");
    rc = walrus_audit_beacon_verify(c, buf, len, &b);
    ok(rc == WALRUS_OK && b.nsigners == 3 && b.signers[0].node == 0
       && b.signers[1].node == 1 && b.signers[2].node == 2,
       "... nodes 0, 1 and the leader 2 hold 5 shards");
    free(buf);

    rc = walrus_audit_beacon_build(c, keys[2], 7, sigs + 1, 4, &buf, &len);
    is_int(rc, WALRUS_OK, "... the leader (2 shards) with nodes 1, 3, 4");
    rc = walrus_audit_beacon_verify(c, buf, len, &b);
    ok(rc == WALRUS_OK && b.nsigners == 4 && b.signers[0].node == 1,
       "... verifies: nodes 1 to 4");
    free(buf);

    rc = walrus_audit_beacon_build(c, keys[2], 7, sigs + 3, 2, &buf, &len);
    is_int(rc, WALRUS_EQUORUM, "... the leader with nodes 3, 4 (4 shards): "
           "EQUORUM");
}


static int
cmp_score(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}


static void
test_pick(void)
{
    int                   same;
    size_t                len;
    uint8_t               ids[100][32], rows[100][64], seed[32], want[32];
    uint8_t               msg[19 + 32 + 2 + 32], cert[WALRUS_CERT_MAX_SIZE];
    uint8_t               sig[WALRUS_SIG_LEN];
    unsigned              i, j;
    walrus_cert_t         wc;
    walrus_audit_pick_t   p, q;

    for (i = 0; i < 32; i++) {
        seed[i] = (uint8_t) (i * 3 + 1);
    }

    for (i = 0; i < 100; i++) {
        for (j = 0; j < 32; j++) {
            ids[i][j] = next_byte();
        }
    }

    memcpy(msg, "walrus-audit-pick:1", 19);
    memcpy(msg + 19, seed, 32);
    msg[51] = 5;
    msg[52] = 0;
    memcpy(msg + 53, ids[0], 32);
    EVP_Digest(msg, sizeof(msg), want, NULL, EVP_sha256(), NULL);
    walrus_audit_score(seed, 5, ids[0], rows[0]);
    ok(memcmp(want, rows[0], 32) == 0,
       "score = H(tag || seed || X u16 || blob ID)");

    for (i = 0; i < 100; i++) {
        walrus_audit_score(seed, 5, ids[i], rows[i]);
        memcpy(rows[i] + 32, ids[i], 32);
    }

    qsort(rows, 100, 64, cmp_score);

    walrus_audit_pick_init(&p, seed, 5);

    for (i = 0; i < 100; i++) {
        walrus_audit_pick_add(&p, ids[i]);
    }

    is_int(p.count, WALRUS_AUDIT_BLOBS, "100 candidates: c = 32 chosen");

    same = 1;

    for (i = 0; i < p.count; i++) {
        same &= memcmp(p.blob_id[i], rows[i] + 32, 32) == 0;
    }

    ok(same, "... the 32 smallest scores, in order");

    walrus_audit_pick_init(&q, seed, 5);

    for (i = 0; i < 200; i++) {
        walrus_audit_pick_add(&q, ids[(i * 37) % 100]);
    }

    ok(q.count == p.count && memcmp(q.blob_id, p.blob_id, sizeof(p.blob_id))
       == 0, "every candidate twice, in another order: the same set");

    walrus_audit_pick_init(&q, seed, 5);

    for (i = 0; i < 30; i++) {
        walrus_audit_pick_add(&q, ids[29 - i]);
        walrus_audit_pick_add(&q, ids[29 - i]);
    }

    same = q.count == 30;

    for (i = 1; i < q.count; i++) {
        same &= memcmp(q.score[i - 1], q.score[i], 32) < 0;
    }

    ok(same, "30 candidates, each twice: all 30, by score");

    walrus_audit_pick_init(&q, seed, 6);

    for (i = 0; i < 100; i++) {
        walrus_audit_pick_add(&q, ids[i]);
    }

    ok(memcmp(q.blob_id, p.blob_id, sizeof(p.blob_id)) != 0,
       "another node: another set");

    /* promised: the certificate lists the node */

    walrus_cert_init(&wc, TEST_EPOCH, ids[0]);

    for (i = 0; i < 7; i += 3) {
        walrus_confirmation_sign(keys[i], TEST_EPOCH, ids[0], sig);
        walrus_cert_add(&wc, (uint16_t) i, sig);
    }

    walrus_cert_serialize(&wc, cert);
    len = walrus_cert_size(&wc);

    ok(walrus_audit_promised(cert, len, 3) == 1
       && walrus_audit_promised(cert, len, 6) == 1
       && walrus_audit_promised(cert, len, 0) == 1,
       "promised: signers 0, 3 and 6");
    ok(walrus_audit_promised(cert, len, 1) == 0
       && walrus_audit_promised(cert, len, 7) == 0, "... not 1 or 7");
    ok(walrus_audit_promised(cert, len - 1, 3) == 0
       && walrus_audit_promised(cert + 1, len - 1, 3) == 0,
       "... nor in bytes that are no certificate");
}


/* the symbol size of segment g of a test blob */

static size_t
walrus_audit_symbol_of(const store_t *st, uint64_t g)
{
    return walrus_symbol_size(&st->meta.params,
                              walrus_segment_length(st->meta.length,
                                                    st->meta.segment_size,
                                                    g));
}


static int
same_positions(const walrus_audit_position_t *a,
    const walrus_audit_position_t *b, unsigned n)
{
    unsigned  i;

    for (i = 0; i < n; i++) {
        if (a[i].pair != b[i].pair || a[i].segment != b[i].segment
            || a[i].primary_leaf != b[i].primary_leaf
            || a[i].secondary_leaf != b[i].secondary_leaf)
        {
            return 0;
        }
    }

    return 1;
}


static void
test_positions(void)
{
    int                       good;
    size_t                    len;
    uint64_t                  off;
    uint8_t                   seed[32], seed2[32], msg[23 + 32 + 32 + 2];
    uint8_t                   t[32];
    unsigned                  i, j, k, cnt, total, pairs[WALRUS_MAX_SHARDS];
    walrus_committee_t       *c;
    walrus_audit_position_t   pos[WALRUS_MAX_SHARDS], pos2[WALRUS_MAX_SHARDS];
    const store_t            *st;

    c = &odd.c;
    st = &blobs[2];
    memset(seed, 7, 32);
    memset(seed2, 8, 32);

    cnt = walrus_audit_positions(c, &st->meta, seed, st->id, 0, pos);
    is_int(cnt, 2, "node 0 holds 2 shards: 2 pairs");

    good = pos[0].pair < pos[1].pair;

    for (i = 0; i < cnt; i++) {
        k = walrus_pair_to_shard(&c->params, st->id, pos[i].pair);
        good &= (k == 0 || k == 1);
    }

    ok(good, "... its pairs, in increasing order");

    memcpy(msg, "walrus-audit-position:1", 23);
    memcpy(msg + 23, seed, 32);
    memcpy(msg + 55, st->id, 32);
    msg[87] = (uint8_t) pos[1].pair;
    msg[88] = 0;
    EVP_Digest(msg, sizeof(msg), t, NULL, EVP_sha256(), NULL);

    ok(pos[1].segment == walrus_get_le(t, 8) % st->meta.nsegments
       && pos[1].primary_leaf == walrus_get_le(t + 8, 2) % 7
       && pos[1].secondary_leaf == walrus_get_le(t + 10, 2) % 7,
       "... the positions of 17.2");

    total = 0;
    good = 1;

    for (i = 0; i < 5; i++) {
        cnt = walrus_audit_positions(c, &st->meta, seed, st->id, i, pos);
        total += cnt;

        for (j = 0; j < cnt; j++) {
            good &= pos[j].segment < st->meta.nsegments
                    && pos[j].primary_leaf < 7 && pos[j].secondary_leaf < 7;
            pairs[total - cnt + j] = pos[j].pair;
        }

        good &= cnt == walrus_audit_positions(c, &st->meta, seed, st->id, i,
                                              pos2)
                && same_positions(pos, pos2, cnt);
    }

    is_int(total, 7, "every pair held by one node");
    ok(good, "positions in range and deterministic");

    good = 1;

    for (i = 0; i < 7; i++) {
        for (j = i + 1; j < 7; j++) {
            good &= pairs[i] != pairs[j];
        }
    }

    ok(good, "... no pair twice");

    total = 0;

    for (i = 0; i < 7; i++) {
        walrus_audit_positions(&even.c, &st->meta, seed, st->id, i, pos);
        walrus_audit_positions(&even.c, &st->meta, seed2, st->id, i, pos2);
        total += !same_positions(pos, pos2, 1);
    }

    ok(total > 0, "another seed: other positions");

    is_int(walrus_audit_positions(c, &st->meta, seed, st->id, 5, pos), 0,
           "a node not in the committee: none");

    walrus_audit_positions(c, &st->meta, seed, st->id, 0, pos);
    off = walrus_audit_slice(&st->meta, &pos[0], WALRUS_SECONDARY, &len);
    ok(off == pos[0].segment * 3 * walrus_audit_symbol_of(st, 0)
       && len == 3 * walrus_audit_symbol_of(st, pos[0].segment),
       "slice: the offset and size of section 8");
}


/* store_answer() signed with keys[signer] */

static uint8_t *
make_answer(const walrus_committee_t *c, uint32_t epoch, uint32_t round,
    unsigned node, const uint8_t *seed, const uint8_t *pos_seed,
    const store_t **sts, unsigned nst, const int *held, unsigned skip,
    unsigned signer, size_t *len)
{
    return store_answer(codec, keys[signer], c, epoch, round, node, seed,
                        pos_seed, sts, nst, held, skip, len);
}


/* the verdicts on every blob of an answer, as digits: "000", "010" */

static const char *
verdicts(const walrus_committee_t *c, const uint8_t *buf, size_t len,
    const store_t **sts)
{
    int                            rc;
    unsigned                       i;
    static char                    out[16];
    static walrus_audit_answer_t   a;

    rc = walrus_audit_answer_parse(c, buf, len, &a);
    if (rc != WALRUS_OK) {
        snprintf(out, sizeof(out), "rc %d", rc);
        return out;
    }

    for (i = 0; i < a.nblobs; i++) {
        rc = walrus_audit_blob_check(codec, c, &a, i, &sts[i]->meta);
        out[i] = rc == WALRUS_AUDIT_PASSED ? '0'
                 : rc == WALRUS_AUDIT_MISSING ? 'm'
                 : rc == WALRUS_AUDIT_FRAUD ? 'F' : '?';
    }

    out[i] = '\0';

    return out;
}


/* the verdicts on the answer make_answer() writes of the three blobs */

static const char *
answer_verdicts(const walrus_committee_t *c, uint32_t epoch, unsigned node,
    const uint8_t *seed, const uint8_t *pos_seed, const int *held,
    unsigned skip, unsigned signer)
{
    size_t          len;
    uint8_t        *buf;
    const char     *v;
    const store_t  *sts[TEST_BLOBS] = { &blobs[0], &blobs[1], &blobs[2] };

    buf = make_answer(c, epoch, 4, node, seed, pos_seed, sts, TEST_BLOBS,
                      held, skip, signer, &len);
    v = verdicts(c, buf, len, sts);
    free(buf);

    return v;
}


static int
answer_rc(const walrus_committee_t *c, const uint8_t *buf, size_t len)
{
    static walrus_audit_answer_t  a;

    return walrus_audit_answer_parse(c, buf, len, &a);
}


static void
test_answer(void)
{
    int                     rc, bad;
    size_t                  len, len2, off, z;
    uint8_t                 seed[32], seed2[32], *buf, *buf2;
    uint8_t                *rotten;
    unsigned                i, node;
    const store_t          *sts[TEST_BLOBS];
    walrus_committee_t     *c;
    walrus_audit_answer_t   a;
    walrus_audit_position_t pos[WALRUS_MAX_SHARDS];
    const uint8_t          *prim[WALRUS_MAX_SHARDS], *sec[WALRUS_MAX_SHARDS];

    static const int        all[] = { 1, 1, 1 };
    static const int        second[] = { 1, 0, 1 };

    c = &odd.c;
    memset(seed, 0x5a, 32);
    memset(seed2, 0xa5, 32);

    for (i = 0; i < TEST_BLOBS; i++) {
        sts[i] = &blobs[i];
    }

    for (node = 0; node < 5; node++) {
        ok(strcmp(answer_verdicts(c, TEST_EPOCH, node, seed, seed, all, 0,
                                  node), "000") == 0,
           "node %u (%u shards): an honest answer passes", node,
           c->nodes[node].nshards);
    }

    buf = make_answer(c, TEST_EPOCH, 4, 0, seed, seed, sts, 3, all, 0, 0,
                      &len);
    rc = walrus_audit_answer_parse(c, buf, len, &a);
    ok(rc == WALRUS_OK && a.epoch == TEST_EPOCH && a.round == 4
       && a.node == 0 && a.nblobs == 3 && memcmp(a.seed, seed, 32) == 0
       && a.blobs[1].held && a.blobs[1].npairs == 2
       && memcmp(a.blobs[2].blob_id, blobs[2].id, 32) == 0,
       "parse: epoch, round, node, seed, blobs, pairs");

    /* a flipped symbol byte, signed again */

    off = walrus_audit_answer_head_size() + 33 + 2 + 14 + 3;
    buf[off] ^= 0x10;
    ok(strcmp(verdicts(c, buf, len, sts), "rc 9") == 0,
       "a flipped symbol byte, signature not renewed: ESIGNATURE");
    walrus_audit_answer_sign(keys[0], buf, len - WALRUS_SIG_LEN);
    ok(strcmp(verdicts(c, buf, len, sts), "F00") == 0,
       "... signed again: FRAUD on that blob only");
    buf[off] ^= 0x10;

    /* a flipped proof byte */

    z = walrus_get_le(buf + off - 3 - 4, 4);
    buf[off - 3 + z + 5] ^= 0x01;
    walrus_audit_answer_sign(keys[0], buf, len - WALRUS_SIG_LEN);
    ok(strcmp(verdicts(c, buf, len, sts), "F00") == 0,
       "a flipped proof byte: FRAUD");
    buf[off - 3 + z + 5] ^= 0x01;

    /* a wrong position: another primary leaf */

    buf[off - 3 - 8] = (uint8_t) ((buf[off - 3 - 8] + 1) % 7);
    walrus_audit_answer_sign(keys[0], buf, len - WALRUS_SIG_LEN);
    ok(strcmp(verdicts(c, buf, len, sts), "F00") == 0,
       "another primary leaf: FRAUD");
    free(buf);

    ok(strcmp(answer_verdicts(c, TEST_EPOCH, 0, seed, seed2, all, 0, 0),
              "FFF") == 0, "the positions of another seed: FRAUD");
    ok(strcmp(answer_verdicts(c, TEST_EPOCH, 0, seed, seed, all, 1, 0),
              "FFF") == 0, "one of node 0's two pairs left out: FRAUD");

    /* node 1's pairs (and proofs) under node 0's name */

    buf = make_answer(c, TEST_EPOCH, 4, 1, seed, seed, sts, 3, all, 0, 0,
                      &len);
    walrus_put_le(buf + 9, 0, 2);
    walrus_audit_answer_sign(keys[0], buf, len - WALRUS_SIG_LEN);
    ok(strcmp(verdicts(c, buf, len, sts), "FFF") == 0,
       "another node's pairs: FRAUD");
    free(buf);

    ok(strcmp(answer_verdicts(c, TEST_EPOCH, 3, seed, seed, second, 0, 3),
              "0m0") == 0, "blob 1 not held: MISSING, the others pass");
    ok(strcmp(answer_verdicts(c, TEST_EPOCH, 3, seed, seed, all, 0, 4),
              "rc 9") == 0, "signed by another node: ESIGNATURE");
    ok(strcmp(answer_verdicts(c, TEST_EPOCH + 1, 3, seed, seed, all, 0, 3),
              "rc 10") == 0, "another epoch: EEPOCH");

    buf = make_answer(c, TEST_EPOCH, 4, 0, seed, seed, sts, 3, all, 0, 0,
                      &len);

    bad = 0;

    for (i = 0; i < len; i++) {
        bad += answer_rc(c, buf, i) != WALRUS_EFORMAT;
    }

    is_int(bad, 0, "every truncation: EFORMAT");

    buf2 = malloc(len + 100);
    memcpy(buf2, buf, len);
    memset(buf2 + len, 0, 100);
    is_int(answer_rc(c, buf2, len + 1), WALRUS_EFORMAT,
           "one byte more: EFORMAT");

    bad = 0;

    for (i = 0; i < 200; i++) {
        for (len2 = 0; len2 < len; len2++) {
            buf2[len2] = next_byte();
        }

        buf2[0] = 1;
        buf2[43] = (uint8_t) (i % 4);
        buf2[44] = 0;
        buf2[9] = (uint8_t) (i % 5);
        buf2[10] = 0;
        bad += answer_rc(c, buf2, len) != WALRUS_EFORMAT;
    }

    is_int(bad, 0, "200 garbage answers with plausible headers: EFORMAT");

    memcpy(buf2, buf, len);
    buf2[0] = 2;
    is_int(answer_rc(c, buf2, len), WALRUS_EFORMAT, "version 2: EFORMAT");

    memcpy(buf2, buf, len);
    buf2[45 + 32] = 2;
    is_int(answer_rc(c, buf2, len), WALRUS_EFORMAT, "held byte 2: EFORMAT");

    memcpy(buf2, buf, len);
    buf2[45 + 33] = 0;
    buf2[45 + 34] = 0;
    is_int(answer_rc(c, buf2, len), WALRUS_EFORMAT, "0 pairs: EFORMAT");

    memcpy(buf2, buf, len);
    buf2[45 + 33] = 8;
    is_int(answer_rc(c, buf2, len), WALRUS_EFORMAT, "8 pairs of 7: EFORMAT");

    memcpy(buf2, buf, len);
    buf2[9] = 5;
    is_int(answer_rc(c, buf2, len), WALRUS_EFORMAT,
           "node 5 of 5: EFORMAT");

    memcpy(buf2, buf, len);
    buf2[43] = 65;
    is_int(answer_rc(c, buf2, len), WALRUS_EFORMAT, "65 blobs: EFORMAT");

    memcpy(buf2, buf, len);
    walrus_put_le(buf2 + 45 + 35 + 10, 0xffffffff, 4);
    is_int(answer_rc(c, buf2, len), WALRUS_EFORMAT,
           "a symbol size of 2^32 - 1: EFORMAT");

    free(buf2);

    rc = walrus_audit_answer_parse(c, buf, len, &a);
    is_int(walrus_audit_blob_check(codec, c, &a, 3, &blobs[0].meta),
           WALRUS_EINVAL, "check of blob 3 of 3: EINVAL");
    is_int(walrus_audit_blob_check(codec, &even.c, &a, 0, &blobs[0].meta),
           WALRUS_AUDIT_FRAUD, "checked with another committee's shards: "
           "FRAUD");
    free(buf);

    /* a node with a rotten slice cannot write its entry */

    i = walrus_audit_positions(c, &blobs[1].meta, seed, blobs[1].id, 2, pos);
    len = walrus_sliver_file_size(&blobs[1].meta, WALRUS_PRIMARY);
    rotten = malloc(len);
    memcpy(rotten, blobs[1].files[pos[0].pair * 2], len);
    rotten[walrus_sliver_offset(&blobs[1].meta, WALRUS_PRIMARY,
                                pos[0].segment) + 1] ^= 1;

    for (node = 0; node < i; node++) {
        prim[node] = slice(&blobs[1], pos[node].pair, WALRUS_PRIMARY,
                           pos[node].segment);
        sec[node] = slice(&blobs[1], pos[node].pair, WALRUS_SECONDARY,
                          pos[node].segment);
    }

    prim[0] = rotten + walrus_sliver_offset(&blobs[1].meta, WALRUS_PRIMARY,
                                            pos[0].segment);

    buf = malloc(walrus_audit_blob_size(&blobs[1].meta, pos, i));
    rc = walrus_audit_blob_write(codec, &blobs[1].meta, blobs[1].id, pos, i,
                                 prim, sec, buf);
    is_int(rc, WALRUS_EHASH, "a rotten primary slice: EHASH");

    prim[0] = slice(&blobs[1], pos[0].pair, WALRUS_PRIMARY, pos[0].segment);
    sec[1] = rotten + walrus_sliver_offset(&blobs[1].meta, WALRUS_PRIMARY,
                                           pos[0].segment);
    rc = walrus_audit_blob_write(codec, &blobs[1].meta, blobs[1].id, pos, i,
                                 prim, sec, buf);
    is_int(rc, WALRUS_EHASH, "a wrong secondary slice: EHASH");

    sec[1] = slice(&blobs[1], pos[1].pair, WALRUS_SECONDARY, pos[1].segment);
    rc = walrus_audit_blob_write(codec, &blobs[1].meta, blobs[1].id, pos, i,
                                 prim, sec, buf);
    is_int(rc, WALRUS_OK, "the right slices: OK");

    free(buf);
    free(rotten);
}


/*
 * Random bytes of an honest answer changed and the answer signed again:
 * parsing and checking stay within the buffer (ASan) and no change but
 * one of the round (the caller's to check) leaves every blob passing.
 */

static void
test_mutations(void)
{
    size_t                  len, at;
    uint8_t                 seed[32], *buf, *copy;
    unsigned                i, j, passing, parsed;
    const char             *v;
    const store_t          *sts[TEST_BLOBS];
    walrus_committee_t     *c;

    static const int        all[] = { 1, 1, 1 };

    c = &odd.c;
    memset(seed, 0x77, 32);

    for (i = 0; i < TEST_BLOBS; i++) {
        sts[i] = &blobs[i];
    }

    buf = make_answer(c, TEST_EPOCH, 4, 2, seed, seed, sts, 3, all, 0, 2,
                      &len);
    copy = malloc(len);
    passing = 0;
    parsed = 0;

    for (i = 0; i < 1000; i++) {
        memcpy(copy, buf, len);

        for (j = 0; j < 1 + i % 3; j++) {
            do {
                at = ((size_t) next_byte() << 16 | next_byte() << 8
                      | next_byte()) % (len - WALRUS_SIG_LEN);
            } while (at >= 5 && at < 9);

            copy[at] ^= (uint8_t) (1 + next_byte() % 255);
        }

        walrus_audit_answer_sign(keys[2], copy, len - WALRUS_SIG_LEN);
        v = verdicts(c, copy, len, sts);
        parsed += v[0] != 'r';
        passing += strcmp(v, "000") == 0;
    }

    is_int(passing, 0, "1000 changed answers signed again: none passes "
           "(%u parsed)", parsed);

    free(copy);
    free(buf);
}


static void
test_attest(void)
{
    int                     rc;
    size_t                  len;
    uint8_t                 seed[32], msg[WALRUS_AUDIT_ATTEST_MSG_LEN];
    uint8_t                *buf, wire[WALRUS_AUDIT_CERT_MAX];
    unsigned                i;
    walrus_audit_cert_t     cert;
    walrus_audit_signer_t   att[2 * TEST_KEYS], tmp;
    walrus_committee_t     *c;

    memset(seed, 0x33, 32);

    walrus_audit_attest_message(TEST_EPOCH, 0x01020304, 0x0506, seed, msg);
    ok(sizeof(msg) == 63 && memcmp(msg, "walrus-audit-attest:1", 21) == 0
       && msg[21] == TEST_EPOCH && msg[25] == 4 && msg[28] == 1
       && msg[29] == 6 && msg[30] == 5 && msg[31] == 0x33 && msg[62] == 0x33,
       "attestation message: 63 bytes as in 17.3");

    rc = walrus_audit_attest_sign(keys[1], TEST_EPOCH, 4, 2, seed,
                                  att[0].signature);
    is_int(rc, WALRUS_OK, "attestation signed");
    is_int(walrus_audit_attest_verify(keys[1], TEST_EPOCH, 4, 2, seed,
                                      att[0].signature),
           WALRUS_OK, "... and verified");
    is_int(walrus_audit_attest_verify(keys[1], TEST_EPOCH, 5, 2, seed,
                                      att[0].signature),
           WALRUS_ESIGNATURE, "... not for another round");
    is_int(walrus_audit_attest_verify(keys[1], TEST_EPOCH, 4, 3, seed,
                                      att[0].signature),
           WALRUS_ESIGNATURE, "... nor another node");
    is_int(walrus_audit_attest_verify(keys[2], TEST_EPOCH, 4, 2, seed,
                                      att[0].signature),
           WALRUS_ESIGNATURE, "... nor under another key");

    /* seven nodes of one shard: node 0 with 4 attesters is n - f */

    c = &even.c;

    for (i = 0; i < 7; i++) {
        att[i].node = (uint16_t) (6 - i);
        walrus_audit_attest_sign(keys[6 - i], TEST_EPOCH, 4, 0, seed,
                                 att[i].signature);
    }

    rc = walrus_audit_cert_build(c, 4, 0, seed, att, 7, &buf, &len);
    is_int(rc, WALRUS_OK, "certificate from every attestation");
    rc = walrus_audit_cert_verify(c, buf, len, &cert);
    ok(rc == WALRUS_OK && cert.nattesters == 6 && cert.attesters[0].node == 1
       && cert.attesters[5].node == 6 && cert.node == 0 && cert.round == 4
       && memcmp(cert.seed, seed, 32) == 0,
       "... verifies: attesters 1 to 6, the node's own dropped");
    free(buf);

    rc = walrus_audit_cert_build(c, 4, 0, seed, att + 2, 4, &buf, &len);
    is_int(rc, WALRUS_OK, "nodes 1 to 4 attest (f = 2 nodes missing)");
    is_int(walrus_audit_cert_verify(c, buf, len, &cert), WALRUS_OK,
           "... it verifies");
    free(buf);

    rc = walrus_audit_cert_build(c, 4, 0, seed, att + 2, 3, &buf, &len);
    is_int(rc, WALRUS_EQUORUM, "nodes 2 to 4 only: EQUORUM");

    rc = walrus_audit_cert_build(c, 4, 0, seed, att + 6, 1, &buf, &len);
    is_int(rc, WALRUS_EQUORUM, "the node's own attestation only: EQUORUM");

    tmp = att[3];
    att[3].signature[0] ^= 1;
    att[7] = att[3];
    att[8] = att[4];
    att[9] = tmp;
    rc = walrus_audit_cert_build(c, 4, 0, seed, att, 10, &buf, &len);
    is_int(rc, WALRUS_OK, "a bad attestation and duplicates");
    rc = walrus_audit_cert_verify(c, buf, len, &cert);
    ok(rc == WALRUS_OK && cert.nattesters == 6 && cert.attesters[2].node == 3,
       "... dropped; the good one of node 3 kept");
    free(buf);

    rc = walrus_audit_cert_build(c, 0, 0, seed, att, 9, &buf, &len);
    is_int(rc, WALRUS_EINVAL, "round 0: EINVAL");
    rc = walrus_audit_cert_build(c, 4, 7, seed, att, 9, &buf, &len);
    is_int(rc, WALRUS_EINVAL, "node 7 of 7: EINVAL");

    /* five nodes holding 2, 1, 2, 1, 1 shards */

    c = &odd.c;

    for (i = 0; i < 5; i++) {
        att[i].node = (uint16_t) i;
        walrus_audit_attest_sign(keys[i], TEST_EPOCH, 4, 0, seed,
                                 att[i].signature);
    }

    rc = walrus_audit_cert_build(c, 4, 0, seed, att + 1, 2, &buf, &len);
    is_int(rc, WALRUS_OK, "node 0 (2 shards) attested by 1 and 2 (3 shards)");
    is_int(walrus_audit_cert_verify(c, buf, len, &cert), WALRUS_OK,
           "... verifies: the node's own shards count");

    memcpy(wire, buf, len);
    wire[len - 1] ^= 1;
    is_int(walrus_audit_cert_verify(c, wire, len, &cert), WALRUS_ESIGNATURE,
           "... an attestation changed: ESIGNATURE");
    memcpy(wire, buf, len);
    wire[20] ^= 1;
    is_int(walrus_audit_cert_verify(c, wire, len, &cert), WALRUS_ESIGNATURE,
           "... the seed changed: ESIGNATURE");
    memcpy(wire, buf, len);
    wire[1] ^= 1;
    is_int(walrus_audit_cert_verify(c, wire, len, &cert), WALRUS_EEPOCH,
           "... another epoch: EEPOCH");
    memcpy(wire, buf, len);
    wire[5] = 0;
    is_int(walrus_audit_cert_verify(c, wire, len, &cert), WALRUS_EFORMAT,
           "... round 0: EFORMAT");
    memcpy(wire, buf, len);
    wire[9] = 5;
    is_int(walrus_audit_cert_verify(c, wire, len, &cert), WALRUS_EFORMAT,
           "... node 5 of 5: EFORMAT");
    memcpy(wire, buf, len);
    wire[9] = 1;
    is_int(walrus_audit_cert_verify(c, wire, len, &cert), WALRUS_EFORMAT,
           "... the node among its attesters: EFORMAT");
    memcpy(wire, buf, len);
    wire[45] = 2;
    is_int(walrus_audit_cert_verify(c, wire, len, &cert), WALRUS_EFORMAT,
           "... an attester twice: EFORMAT");
    memcpy(wire, buf, 45);
    memcpy(wire + 45, buf + 45 + 66, 66);
    memcpy(wire + 45 + 66, buf + 45, 66);
    is_int(walrus_audit_cert_verify(c, wire, len, &cert), WALRUS_EFORMAT,
           "... attesters out of order: EFORMAT");
    is_int(walrus_audit_cert_verify(c, buf, len - 1, &cert), WALRUS_EFORMAT,
           "... truncated: EFORMAT");
    memcpy(wire, buf, len);
    wire[len] = 0;
    is_int(walrus_audit_cert_verify(c, wire, len + 1, &cert), WALRUS_EFORMAT,
           "... one byte more: EFORMAT");
    memcpy(wire, buf, len);
    wire[43] = 0;
    is_int(walrus_audit_cert_verify(c, wire, 45, &cert), WALRUS_EFORMAT,
           "... no attester: EFORMAT");
    free(buf);

    /* node 0 with node 2 only: 4 shards; crafted, verification refuses */

    rc = walrus_audit_cert_build(c, 4, 0, seed, att + 2, 1, &buf, &len);
    is_int(rc, WALRUS_EQUORUM, "node 0 attested by node 2 only: EQUORUM");

    rc = walrus_audit_cert_build(c, 4, 0, seed, att + 1, 2, &buf, &len);
    memcpy(wire, buf, 45);
    memcpy(wire + 45, buf + 45 + 66, 66);
    wire[43] = 1;
    is_int(walrus_audit_cert_verify(c, wire, 45 + 66, &cert), WALRUS_EQUORUM,
           "... such a certificate: EQUORUM");
    free(buf);
}


static void
test_fraud(void)
{
    int                     rc;
    size_t                  blen, alen, flen, mlen, len;
    uint8_t                *beacon, *answer, *proof, *meta, *meta2, id[32];
    uint8_t                *copy;
    uint32_t                round;
    unsigned                i, node, held;
    walrus_audit_beacon_t   b;
    walrus_audit_signer_t   sigs[TEST_KEYS];
    walrus_committee_t     *c;
    const store_t          *sts[TEST_BLOBS];

    static const int        all[] = { 1, 1, 1 };
    static const int        first[] = { 0, 1, 1 };

    c = &odd.c;
    sts[0] = &blobs[0];
    sts[1] = &blobs[1];
    sts[2] = &blobs[2];

    round_sigs(c, TEST_EPOCH, 6, sigs);
    walrus_audit_beacon_build(c, keys[1], 6, sigs, 5, &beacon, &blen);
    walrus_audit_beacon_verify(c, beacon, blen, &b);

    answer = make_answer(c, TEST_EPOCH, 6, 2, b.seed, b.seed, sts, 3, all, 0,
                         2, &alen);

    mlen = walrus_metadata_size(&blobs[1].meta);
    meta = malloc(mlen);
    walrus_metadata_serialize(&blobs[1].meta, meta);
    meta2 = malloc(walrus_metadata_size(&blobs[0].meta));
    walrus_metadata_serialize(&blobs[0].meta, meta2);

    rc = walrus_audit_fraud_build(beacon, blen, answer, alen, meta, mlen,
                                  &proof, &flen);
    is_int(rc, WALRUS_OK, "a proof of an honest answer is built");
    is_int(walrus_audit_fraud_verify(c, proof, flen, &node, &round, id),
           WALRUS_EINVAL, "... and refused: the entries check (EINVAL)");
    free(proof);

    /* a symbol of blob 1 flipped: the answer's first blob is blob 0 */

    len = walrus_audit_answer_head_size();
    len += walrus_audit_blob_size(&blobs[0].meta, NULL, 0);
    free(answer);
    answer = make_answer(c, TEST_EPOCH, 6, 2, b.seed, b.seed, sts, 3, first,
                         0, 2, &alen);
    answer[len + 35 + 14 + 7] ^= 0x80;
    walrus_audit_answer_sign(keys[2], answer, alen - WALRUS_SIG_LEN);

    rc = walrus_audit_fraud_build(beacon, blen, answer, alen, meta, mlen,
                                  &proof, &flen);
    is_int(rc, WALRUS_OK, "a proof of a wrong symbol of blob 1");
    memset(id, 0, 32);
    rc = walrus_audit_fraud_verify(c, proof, flen, &node, &round, id);
    ok(rc == WALRUS_OK && node == 2 && round == 6
       && memcmp(id, blobs[1].id, 32) == 0,
       "... holds: node 2, round 6, blob 1");
    ok(memcmp(proof, "walrus-audit-fraud:1", 20) == 0
       && walrus_get_le(proof + 20, 4) == blen
       && memcmp(proof + 24, beacon, blen) == 0
       && walrus_get_le(proof + 24 + blen, 4) == alen
       && walrus_get_le(proof + 28 + blen + alen, 4) == mlen
       && flen == 32 + blen + alen + mlen, "... the bytes of 17.4");

    is_int(walrus_audit_fraud_verify(c, proof, flen - 1, NULL, NULL, NULL),
           WALRUS_EFORMAT, "... truncated: EFORMAT");

    /* changed bytes anywhere, lengths included: within bounds (ASan) */

    copy = malloc(flen);
    held = 0;

    for (i = 0; i < 300; i++) {
        memcpy(copy, proof, flen);
        copy[((size_t) next_byte() << 16 | next_byte() << 8 | next_byte())
             % flen] ^= (uint8_t) (1 + next_byte() % 255);
        held += walrus_audit_fraud_verify(c, copy, flen, NULL, NULL, NULL)
                == WALRUS_OK;
    }

    ok(held < 300, "300 changed proofs checked (%u still hold)", held);
    free(copy);
    proof[0] = 'W';
    is_int(walrus_audit_fraud_verify(c, proof, flen, NULL, NULL, NULL),
           WALRUS_EFORMAT, "... another tag: EFORMAT");
    proof[0] = 'w';
    proof[24 + blen - 1] ^= 1;
    is_int(walrus_audit_fraud_verify(c, proof, flen, NULL, NULL, NULL),
           WALRUS_ESIGNATURE, "... a bad beacon: ESIGNATURE");
    proof[24 + blen - 1] ^= 1;
    proof[28 + blen + alen - 1] ^= 1;
    is_int(walrus_audit_fraud_verify(c, proof, flen, NULL, NULL, NULL),
           WALRUS_ESIGNATURE, "... the answer's signature changed: "
           "ESIGNATURE");
    proof[28 + blen + alen - 1] ^= 1;
    proof[32 + blen + alen + 20] ^= 1;
    is_int(walrus_audit_fraud_verify(c, proof, flen, NULL, NULL, NULL),
           WALRUS_EBLOBID, "... metadata of a blob not in the answer: "
           "EBLOBID");
    free(proof);

    rc = walrus_audit_fraud_build(beacon, blen, answer, alen, meta2,
                                  walrus_metadata_size(&blobs[0].meta),
                                  &proof, &flen);
    is_int(walrus_audit_fraud_verify(c, proof, flen, NULL, NULL, NULL),
           WALRUS_EBLOBID, "the metadata of a blob the answer does not "
           "hold: EBLOBID");
    free(proof);

    free(meta2);
    meta2 = malloc(walrus_metadata_size(&blobs[2].meta));
    walrus_metadata_serialize(&blobs[2].meta, meta2);
    rc = walrus_audit_fraud_build(beacon, blen, answer, alen, meta2,
                                  walrus_metadata_size(&blobs[2].meta),
                                  &proof, &flen);
    is_int(walrus_audit_fraud_verify(c, proof, flen, NULL, NULL, NULL),
           WALRUS_EINVAL, "another blob's metadata (its entries check): "
           "EINVAL");
    free(proof);

    /* the beacon of another round */

    free(beacon);
    round_sigs(c, TEST_EPOCH, 7, sigs);
    walrus_audit_beacon_build(c, keys[2], 7, sigs, 5, &beacon, &blen);
    rc = walrus_audit_fraud_build(beacon, blen, answer, alen, meta, mlen,
                                  &proof, &flen);
    is_int(walrus_audit_fraud_verify(c, proof, flen, NULL, NULL, NULL),
           WALRUS_EFORMAT, "the beacon of another round: EFORMAT");
    free(proof);

    is_int(walrus_audit_fraud_build(beacon, blen, answer, 0, meta, mlen,
                                    &proof, &flen),
           WALRUS_EINVAL, "an empty part: EINVAL");

    free(beacon);
    free(answer);
    free(meta);
    free(meta2);
}


int
main(void)
{
    unsigned  i;

    static const uint64_t  lengths[TEST_BLOBS] = { 5000, 300, 20000 };

    for (i = 0; i < TEST_KEYS; i++) {
        if (walrus_key_generate(&keys[i]) != WALRUS_OK) {
            printf("Bail out! key generation failed\n");
            return 1;
        }
    }

    make_committee(&even, 7, ones, 7);
    make_committee(&odd, 7, uneven, 5);

    codec = walrus_codec_create(7);

    for (i = 0; i < TEST_BLOBS; i++) {
        if (store_encode(codec, lengths[i], 1024, 0, &blobs[i])
            != WALRUS_OK)
        {
            printf("Bail out! encoding failed\n");
            return 1;
        }
    }

    test_beacon();
    test_pick();
    test_positions();
    test_answer();
    test_mutations();
    test_attest();
    test_fraud();

    for (i = 0; i < TEST_BLOBS; i++) {
        store_free(&blobs[i]);
    }

    for (i = 0; i < TEST_KEYS; i++) {
        EVP_PKEY_free(keys[i]);
    }

    walrus_codec_destroy(codec);

    return tap_done();
}
