/*
 * Test tool for the audits (docs/protocol.md section 17), over the
 * core's functions, so that tests of the node's audit answers need no
 * keeper:
 *
 *   audit_tool beacon COMMITTEE KEYDIR ROUND OUT [NODE...]
 *       the beacon of ROUND signed by NODE... (default every node; the
 *       leader always), with the keys KEYDIR/node<i>.key, into OUT
 *   audit_tool round-sig COMMITTEE NODE ROUND SIGFILE
 *       prints "valid" when SIGFILE is NODE's round signature of ROUND
 *   audit_tool check COMMITTEE BEACON ANSWER META...
 *       parses a signed answer (its signature checked), prints
 *       "node X round R seed same|other blobs M", then per blob its ID
 *       and "missing" (not held), or its entries checked: "passed",
 *       "fraud", or "nometa" (none of the metadata files META... is the
 *       blob's)
 *
 * Exits 0, 1 when something does not parse or verify, 2 on bad usage.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <walrus_audit.h>
#include <walrus_committee.h>
#include <walrus_file.h>
#include <walrus_sign.h>


static int beacon(walrus_committee_t *c, int argc, char **argv);
static int round_sig(walrus_committee_t *c, int argc, char **argv);
static int check(walrus_committee_t *c, int argc, char **argv);
static int read_all(const char *path, uint8_t **buf, size_t *len);


int
main(int argc, char **argv)
{
    int                 rc;
    char                err[256];
    walrus_committee_t  c;

    if (argc < 3) {
        fprintf(stderr, "usage: audit_tool beacon|round-sig|check "
                "COMMITTEE ...\n");
        return 2;
    }

    if (walrus_committee_load(&c, argv[2], err, sizeof(err)) != WALRUS_OK) {
        fprintf(stderr, "audit_tool: %s: %s\n", argv[2], err);
        return 2;
    }

    if (strcmp(argv[1], "beacon") == 0) {
        rc = beacon(&c, argc - 3, argv + 3);

    } else if (strcmp(argv[1], "round-sig") == 0) {
        rc = round_sig(&c, argc - 3, argv + 3);

    } else if (strcmp(argv[1], "check") == 0) {
        rc = check(&c, argc - 3, argv + 3);

    } else {
        fprintf(stderr, "audit_tool: unknown command %s\n", argv[1]);
        rc = 2;
    }

    walrus_committee_free(&c);

    return rc;
}


/* KEYDIR ROUND OUT [NODE...] */

static int
beacon(walrus_committee_t *c, int argc, char **argv)
{
    int                     rc;
    char                    path[WALRUS_PATH_MAX];
    FILE                   *f;
    size_t                  len;
    uint8_t                 msg[WALRUS_AUDIT_ROUND_MSG_LEN], *out;
    unsigned                i, node, nsigs, leader;
    uint32_t                round;
    EVP_PKEY               *key, *leader_key;
    walrus_audit_signer_t   sigs[255];

    if (argc < 3) {
        fprintf(stderr, "usage: audit_tool beacon COMMITTEE KEYDIR ROUND "
                "OUT [NODE...]\n");
        return 2;
    }

    round = (uint32_t) strtoul(argv[1], NULL, 10);
    leader = walrus_audit_leader(c, round);
    walrus_audit_round_message(c->epoch, round, msg);

    nsigs = 0;
    leader_key = NULL;

    for (i = 0; i < (argc > 3 ? (unsigned) argc - 3 : c->nnodes); i++) {
        node = argc > 3 ? (unsigned) atoi(argv[3 + i]) : i;

        snprintf(path, sizeof(path), "%s/node%u.key", argv[0], node);

        if (walrus_key_load_private(path, &key) != WALRUS_OK) {
            fprintf(stderr, "audit_tool: cannot load %s\n", path);
            return 1;
        }

        sigs[nsigs].node = (uint16_t) node;

        if (walrus_sign(key, msg, sizeof(msg), sigs[nsigs].signature)
            != WALRUS_OK)
        {
            fprintf(stderr, "audit_tool: signing failed\n");
            return 1;
        }

        nsigs++;

        if (node == leader) {
            leader_key = key;

        } else {
            EVP_PKEY_free(key);
        }
    }

    if (leader_key == NULL) {
        snprintf(path, sizeof(path), "%s/node%u.key", argv[0], leader);

        if (walrus_key_load_private(path, &leader_key) != WALRUS_OK) {
            fprintf(stderr, "audit_tool: cannot load %s\n", path);
            return 1;
        }
    }

    rc = walrus_audit_beacon_build(c, leader_key, round, sigs, nsigs, &out,
                                   &len);
    EVP_PKEY_free(leader_key);

    if (rc != WALRUS_OK) {
        fprintf(stderr, "audit_tool: beacon: %s\n", walrus_strerror(rc));
        return 1;
    }

    f = fopen(argv[2], "wb");

    if (f == NULL || fwrite(out, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "audit_tool: cannot write %s\n", argv[2]);
        return 1;
    }

    free(out);

    return 0;
}


/* NODE ROUND SIGFILE */

static int
round_sig(walrus_committee_t *c, int argc, char **argv)
{
    int       rc;
    size_t    len;
    uint8_t   msg[WALRUS_AUDIT_ROUND_MSG_LEN], *sig;
    unsigned  node;

    if (argc != 3) {
        fprintf(stderr, "usage: audit_tool round-sig COMMITTEE NODE ROUND "
                "SIGFILE\n");
        return 2;
    }

    node = (unsigned) atoi(argv[0]);

    if (node >= c->nnodes || read_all(argv[2], &sig, &len) != 0) {
        return 2;
    }

    walrus_audit_round_message(c->epoch,
                               (uint32_t) strtoul(argv[1], NULL, 10), msg);

    rc = len == WALRUS_SIG_LEN
         ? walrus_verify(c->nodes[node].public_key, msg, sizeof(msg), sig)
         : WALRUS_EFORMAT;
    free(sig);

    printf("%s\n", rc == WALRUS_OK ? "valid" : "invalid");

    return rc == WALRUS_OK ? 0 : 1;
}


/* BEACON ANSWER META... */

static int
check(walrus_committee_t *c, int argc, char **argv)
{
    int                     rc, j, found;
    char                    text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    size_t                  blen, alen, mlen;
    uint8_t                *bbuf, *abuf, *mbuf, id[WALRUS_BLOB_ID_LEN];
    unsigned                i;
    walrus_codec_t         *codec;
    walrus_metadata_t       m;
    walrus_audit_beacon_t  *b;
    walrus_audit_answer_t  *a;

    if (argc < 2) {
        fprintf(stderr, "usage: audit_tool check COMMITTEE BEACON ANSWER "
                "META...\n");
        return 2;
    }

    b = malloc(sizeof(walrus_audit_beacon_t));
    a = malloc(sizeof(walrus_audit_answer_t));
    codec = walrus_codec_create(c->params.n);

    if (b == NULL || a == NULL || codec == NULL
        || read_all(argv[0], &bbuf, &blen) != 0
        || read_all(argv[1], &abuf, &alen) != 0)
    {
        return 2;
    }

    rc = walrus_audit_beacon_verify(c, bbuf, blen, b);
    if (rc != WALRUS_OK) {
        printf("beacon: %s\n", walrus_strerror(rc));
        return 1;
    }

    rc = walrus_audit_answer_parse(c, abuf, alen, a);
    if (rc != WALRUS_OK) {
        printf("answer: %s\n", walrus_strerror(rc));
        return 1;
    }

    printf("node %u round %u seed %s blobs %u\n", a->node,
           (unsigned) a->round,
           memcmp(a->seed, b->seed, sizeof(b->seed)) == 0 ? "same" : "other",
           a->nblobs);

    for (i = 0; i < a->nblobs; i++) {
        walrus_blob_id_format(a->blobs[i].blob_id, text);
        found = 0;

        if (!a->blobs[i].held) {
            printf("%s missing\n", text);
            continue;
        }

        for (j = 2; j < argc && !found; j++) {
            if (read_all(argv[j], &mbuf, &mlen) != 0) {
                return 2;
            }

            if (walrus_metadata_parse(&m, mbuf, mlen) == WALRUS_OK) {
                if (walrus_metadata_blob_id(&m, id) == WALRUS_OK
                    && memcmp(id, a->blobs[i].blob_id, sizeof(id)) == 0)
                {
                    found = 1;
                    rc = walrus_audit_blob_check(codec, c, a, i, &m);

                    printf("%s %s\n", text,
                           rc == WALRUS_AUDIT_PASSED ? "passed"
                           : rc == WALRUS_AUDIT_MISSING ? "missing"
                           : rc == WALRUS_AUDIT_FRAUD ? "fraud"
                           : walrus_strerror(rc));
                }

                walrus_metadata_free(&m);
            }

            free(mbuf);
        }

        if (!found) {
            printf("%s nometa\n", text);
        }
    }

    walrus_codec_destroy(codec);
    free(abuf);
    free(bbuf);
    free(a);
    free(b);

    return 0;
}


static int
read_all(const char *path, uint8_t **buf, size_t *len)
{
    if (walrus_read_file(path, 256 * 1024 * 1024, buf, len) != 0) {
        fprintf(stderr, "audit_tool: cannot read %s\n", path);
        return -1;
    }

    return 0;
}
