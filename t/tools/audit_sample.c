/*
 * Test tool: writes the files of a storage audit for a committee of its
 * own, so that walrusctl verify-audit and walrusctl audit (against a fake
 * node serving them) can be tested without storage nodes.
 *
 * Usage: audit_sample DIR URL
 *
 * DIR gets keys/nodeI.key and .pub and committee.json: n = 7, six nodes
 * node0..node5 at URL, node2 holding shards 2 and 3, segment size 1024.
 * Three blobs are encoded; node2 signed the certificates of blobs 0 and
 * 2, not of blob 1.  For round 7 (led by node1) of epoch 1:
 *
 *   beacon          the round's beacon
 *   certified       a GET /v1/certified listing of the three blobs
 *   query           the blob IDs node2 is challenged on, comma separated
 *   answer          node2's honest answer on them
 *   answer-missing  the same, the first blob not held
 *   answer-fraud    the same, a symbol of the first blob changed, signed
 *   certificate     node2's audit certificate, attested by the five others
 *   fraud           the fraud proof of answer-fraud
 *   meta/ID         the metadata of each blob
 */

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>

#include <test_blob.h>
#include <walrus_audit.h>
#include <walrus_cert.h>
#include <walrus_record.h>
#include <walrus_sign.h>


#define SAMPLE_NODES   6
#define SAMPLE_BLOBS   3
#define SAMPLE_NODE    2
#define SAMPLE_ROUND   7
#define SAMPLE_EPOCH   1


static const char  *dir;

static EVP_PKEY            *keys[SAMPLE_NODES];
static walrus_committee_t   committee;
static store_t              blobs[SAMPLE_BLOBS];
static walrus_codec_t      *codec;


static void
fail(const char *what)
{
    fprintf(stderr, "audit_sample: %s\n", what);
    exit(1);
}


static void
put(const char *name, const void *data, size_t len)
{
    FILE  *f;
    char   path[4096];

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fail(path);
    }
}


static void
make_committee(const char *url)
{
    char      path[4096], json[8192], err[256], *p;
    unsigned  i;

    snprintf(path, sizeof(path), "%s/keys", dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fail(path);
    }

    p = json;
    p += sprintf(p, "{\"epoch\":%d,\"n_shards\":7,\"segment_size\":1024,"
                 "\"nodes\":[", SAMPLE_EPOCH);

    for (i = 0; i < SAMPLE_NODES; i++) {
        snprintf(path, sizeof(path), "%s/keys/node%u.key", dir, i);
        unlink(path);

        if (walrus_key_generate(&keys[i]) != WALRUS_OK
            || walrus_key_write_private(keys[i], path) != WALRUS_OK)
        {
            fail(path);
        }

        snprintf(path, sizeof(path), "%s/keys/node%u.pub", dir, i);
        if (walrus_key_write_public(keys[i], path) != WALRUS_OK) {
            fail(path);
        }

        p += sprintf(p, "%s{\"name\":\"node%u\",\"url\":\"%s\","
                     "\"public_key_file\":\"keys/node%u.pub\",\"shards\":",
                     i ? "," : "", i, url, i);
        p += i < 2 ? sprintf(p, "[%u]}", i)
             : i == 2 ? sprintf(p, "[2,3]}") : sprintf(p, "[%u]}", i + 1);
    }

    sprintf(p, "]}\n");
    put("committee.json", json, strlen(json));

    snprintf(path, sizeof(path), "%s/committee.json", dir);
    if (walrus_committee_load(&committee, path, err, sizeof(err))
        != WALRUS_OK)
    {
        fail(err);
    }
}


/* the record listing; blob 1's certificate lacks SAMPLE_NODE */

static void
make_record(void)
{
    size_t         len, clen;
    uint8_t        sig[WALRUS_SIG_LEN], cert[WALRUS_CERT_MAX_SIZE];
    uint8_t        out[SAMPLE_BLOBS * WALRUS_RECORD_ENTRY_MAX];
    unsigned       b, i;
    walrus_cert_t  wc;

    len = 0;

    for (b = 0; b < SAMPLE_BLOBS; b++) {
        walrus_cert_init(&wc, SAMPLE_EPOCH, blobs[b].id);

        for (i = 0; i < SAMPLE_NODES; i++) {
            if (b == 1 && i == SAMPLE_NODE) {
                continue;
            }

            walrus_confirmation_sign(keys[i], SAMPLE_EPOCH, blobs[b].id, sig);
            walrus_cert_add(&wc, (uint16_t) i, sig);
        }

        walrus_cert_serialize(&wc, cert);
        clen = walrus_cert_size(&wc);

        walrus_record_entry_make(NULL, out + len, cert, clen, NULL, 0);
        len += walrus_record_entry_size(clen, 0);
    }

    put("certified", out, len);
}


/* node X's answer on the blobs; hide: blob 0 not held; lie: changed */

static uint8_t *
make_answer(const walrus_audit_beacon_t *b, const walrus_audit_pick_t *pick,
    int hide, int lie, size_t *len)
{
    int             held[WALRUS_AUDIT_BLOBS];
    uint8_t        *buf;
    unsigned        i, k;
    const store_t  *st[WALRUS_AUDIT_BLOBS];

    for (i = 0; i < pick->count; i++) {
        for (k = 0; memcmp(blobs[k].id, pick->blob_id[i], 32) != 0; k++) {
            /* void */
        }

        st[i] = &blobs[k];
        held[i] = !(hide && i == 0);
    }

    buf = store_answer(codec, keys[SAMPLE_NODE], &committee, b->epoch,
                       b->round, SAMPLE_NODE, b->seed, b->seed, st,
                       pick->count, held, 0, len);

    if (lie) {
        /* the first symbol byte of the first blob, signed again */
        buf[walrus_audit_answer_head_size() + WALRUS_BLOB_ID_LEN + 3 + 14]
            ^= 0x55;
        walrus_audit_answer_sign(keys[SAMPLE_NODE], buf,
                                 *len - WALRUS_SIG_LEN);
    }

    return buf;
}


int
main(int argc, char **argv)
{
    char                    name[128], text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    char                    query[WALRUS_AUDIT_BLOBS
                                  * (WALRUS_BLOB_ID_TEXT_LEN + 1)];
    size_t                  blen, alen, len, mlen;
    uint8_t                *beacon, *answer, *out, *meta;
    unsigned                i;
    walrus_audit_pick_t     pick;
    walrus_audit_beacon_t   b;
    walrus_audit_signer_t   sigs[SAMPLE_NODES];
    uint8_t                 msg[WALRUS_AUDIT_ROUND_MSG_LEN];

    static const uint64_t   lengths[SAMPLE_BLOBS] = { 5000, 300, 20000 };

    if (argc != 3) {
        fprintf(stderr, "usage: audit_sample DIR URL\n");
        return 2;
    }

    dir = argv[1];
    make_committee(argv[2]);
    codec = walrus_codec_create(7);

    snprintf(name, sizeof(name), "%s/meta", dir);
    if (mkdir(name, 0755) != 0 && errno != EEXIST) {
        fail(name);
    }

    for (i = 0; i < SAMPLE_BLOBS; i++) {
        if (store_encode(codec, lengths[i], 1024, 0, &blobs[i]) != WALRUS_OK)
        {
            fail("encoding");
        }

        mlen = walrus_metadata_size(&blobs[i].meta);
        meta = malloc(mlen);
        walrus_metadata_serialize(&blobs[i].meta, meta);
        walrus_blob_id_format(blobs[i].id, text);
        snprintf(name, sizeof(name), "meta/%s", text);
        put(name, meta, mlen);
        free(meta);
    }

    make_record();

    /* the beacon, its seed, the challenge set */

    walrus_audit_round_message(SAMPLE_EPOCH, SAMPLE_ROUND, msg);

    for (i = 0; i < SAMPLE_NODES; i++) {
        sigs[i].node = (uint16_t) i;
        walrus_sign(keys[i], msg, sizeof(msg), sigs[i].signature);
    }

    if (walrus_audit_beacon_build(&committee,
                                  keys[walrus_audit_leader(&committee,
                                                           SAMPLE_ROUND)],
                                  SAMPLE_ROUND, sigs, SAMPLE_NODES, &beacon,
                                  &blen)
        != WALRUS_OK
        || walrus_audit_beacon_verify(&committee, beacon, blen, &b)
           != WALRUS_OK)
    {
        fail("no beacon");
    }

    put("beacon", beacon, blen);

    walrus_audit_pick_init(&pick, b.seed, SAMPLE_NODE);
    walrus_audit_pick_add(&pick, blobs[0].id);
    walrus_audit_pick_add(&pick, blobs[2].id);

    for (i = 0; i < pick.count; i++) {
        walrus_blob_id_format(pick.blob_id[i], query + 44 * i);
        query[44 * i + 43] = i + 1 < pick.count ? ',' : '\0';
    }

    put("query", query, strlen(query));

    answer = make_answer(&b, &pick, 0, 0, &alen);
    put("answer", answer, alen);
    free(answer);

    answer = make_answer(&b, &pick, 1, 0, &alen);
    put("answer-missing", answer, alen);
    free(answer);

    /* the certificate, attested by every other node */

    for (i = 0; i < SAMPLE_NODES; i++) {
        walrus_audit_attest_sign(keys[i], SAMPLE_EPOCH, SAMPLE_ROUND,
                                 SAMPLE_NODE, b.seed, sigs[i].signature);
    }

    if (walrus_audit_cert_build(&committee, SAMPLE_ROUND, SAMPLE_NODE, b.seed,
                                sigs, SAMPLE_NODES, &out, &len)
        != WALRUS_OK)
    {
        fail("no certificate");
    }

    put("certificate", out, len);
    free(out);

    /* the lie and its proof */

    answer = make_answer(&b, &pick, 0, 1, &alen);
    put("answer-fraud", answer, alen);

    for (i = 0; memcmp(blobs[i].id, pick.blob_id[0], 32) != 0; i++) {
        /* void */
    }

    mlen = walrus_metadata_size(&blobs[i].meta);
    meta = malloc(mlen);
    walrus_metadata_serialize(&blobs[i].meta, meta);

    if (walrus_audit_fraud_build(beacon, blen, answer, alen, meta, mlen, &out,
                                 &len)
        != WALRUS_OK
        || walrus_audit_fraud_verify(&committee, out, len, NULL, NULL, NULL)
           != WALRUS_OK)
    {
        fail("no fraud proof");
    }

    put("fraud", out, len);
    printf("%s\n", query);

    free(out);
    free(meta);
    free(answer);
    free(beacon);

    for (i = 0; i < SAMPLE_BLOBS; i++) {
        store_free(&blobs[i]);
    }

    for (i = 0; i < SAMPLE_NODES; i++) {
        EVP_PKEY_free(keys[i]);
    }

    walrus_codec_destroy(codec);
    walrus_committee_free(&committee);

    return 0;
}
