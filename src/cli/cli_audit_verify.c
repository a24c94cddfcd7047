/*
 * walrusctl verify-audit: checks a beacon, an audit certificate or a
 * fraud proof offline against the committee (protocol 17.1, 17.4).
 *
 * They are told apart by their bytes: a fraud proof starts with its tag;
 * beacons and certificates start with version 1 and are 13 + 66m + 64
 * and 45 + 66m bytes long, 11 and 45 modulo 66, so the length says which
 * one a file can be, and that one must then parse exactly.
 */

#include <stdlib.h>
#include <string.h>

#include <walrus_audit.h>
#include <walrus_sha256.h>
#include <walrusctl.h>


/* metadata a node stores at most (http-api.md section 6) */
#define WALRUS_CLI_MAX_METADATA  ((size_t) 64 * 1024 * 1024)


static int walrus_cli_verify_audit_beacon(const walrus_committee_t *c,
    const char *path, const uint8_t *buf, size_t len);
static int walrus_cli_verify_audit_cert(const walrus_committee_t *c,
    const char *path, const uint8_t *buf, size_t len);
static int walrus_cli_verify_audit_fraud(const walrus_committee_t *c,
    const char *path, const uint8_t *buf, size_t len);
static int walrus_cli_audit_refused(const walrus_committee_t *c,
    const char *path, const char *what, const char *malformed, int rc,
    uint32_t epoch);


int
walrus_cli_verify_audit(walrus_cli_t *cli)
{
    int                 rc;
    size_t              len, max;
    uint8_t            *buf;
    const char         *path;
    walrus_committee_t  committee;

    path = cli->argv[0];

    rc = walrus_cli_committee(cli, &committee);
    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    max = WALRUS_AUDIT_FRAUD_TAG_LEN + 12 + WALRUS_AUDIT_BEACON_MAX
          + walrus_cli_audit_answer_max(&committee, committee.params.n,
                                        WALRUS_AUDIT_MAX_ASK)
          + WALRUS_CLI_MAX_METADATA;

    rc = walrus_cli_read_file(path, max, &buf, &len);
    if (rc != WALRUS_CLI_OK) {
        walrus_committee_free(&committee);
        return rc;
    }

    if (len >= WALRUS_AUDIT_FRAUD_TAG_LEN
        && memcmp(buf, WALRUS_AUDIT_FRAUD_TAG, WALRUS_AUDIT_FRAUD_TAG_LEN)
           == 0)
    {
        rc = walrus_cli_verify_audit_fraud(&committee, path, buf, len);

    } else if (len >= WALRUS_AUDIT_BEACON_HEADER + WALRUS_SIG_LEN
               && buf[0] == WALRUS_AUDIT_VERSION
               && (len - WALRUS_AUDIT_BEACON_HEADER - WALRUS_SIG_LEN)
                  % WALRUS_AUDIT_SIGNER_LEN == 0)
    {
        rc = walrus_cli_verify_audit_beacon(&committee, path, buf, len);

    } else if (len >= WALRUS_AUDIT_CERT_HEADER
               && buf[0] == WALRUS_AUDIT_VERSION
               && (len - WALRUS_AUDIT_CERT_HEADER) % WALRUS_AUDIT_SIGNER_LEN
                  == 0)
    {
        rc = walrus_cli_verify_audit_cert(&committee, path, buf, len);

    } else {
        walrus_cli_error("%s: not a beacon, an audit certificate or a fraud "
                         "proof", path);
        rc = WALRUS_CLI_INVALID;
    }

    free(buf);
    walrus_committee_free(&committee);

    return rc;
}


static int
walrus_cli_verify_audit_beacon(const walrus_committee_t *c, const char *path,
    const uint8_t *buf, size_t len)
{
    int                    rc;
    char                   hex[2 * WALRUS_HASH_LEN + 1];
    walrus_audit_beacon_t  b;

    rc = walrus_audit_beacon_verify(c, buf, len, &b);
    if (rc != WALRUS_OK) {
        return walrus_cli_audit_refused(c, path, "beacon",
                                        "its length, version or signers "
                                        "(order, nodes of the committee), "
                                        "round 0, or a leader other than "
                                        "round mod N or not a signer",
                                        rc, b.epoch);
    }

    walrus_cli_hex(b.seed, WALRUS_HASH_LEN, hex);
    printf("beacon: round %u epoch %u leader %s signed by %u nodes seed %s\n",
           (unsigned) b.round, (unsigned) b.epoch, c->nodes[b.leader].name,
           b.nsigners, hex);

    return WALRUS_CLI_OK;
}


static int
walrus_cli_verify_audit_cert(const walrus_committee_t *c, const char *path,
    const uint8_t *buf, size_t len)
{
    int                  rc;
    char                 hex[2 * WALRUS_HASH_LEN + 1];
    walrus_audit_cert_t  cert;

    rc = walrus_audit_cert_verify(c, buf, len, &cert);
    if (rc != WALRUS_OK) {
        return walrus_cli_audit_refused(c, path, "audit certificate",
                                        "its length, version or attesters "
                                        "(order, nodes of the committee, "
                                        "the node itself), round 0, or a "
                                        "node not in the committee",
                                        rc, cert.epoch);
    }

    walrus_cli_hex(cert.seed, WALRUS_HASH_LEN, hex);
    printf("audit certificate: node %s round %u epoch %u attested by %u "
           "nodes seed %s\n", c->nodes[cert.node].name,
           (unsigned) cert.round, (unsigned) cert.epoch, cert.nattesters,
           hex);

    return WALRUS_CLI_OK;
}


static int
walrus_cli_verify_audit_fraud(const walrus_committee_t *c, const char *path,
    const uint8_t *buf, size_t len)
{
    int        rc;
    char       text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    uint8_t    id[WALRUS_BLOB_ID_LEN];
    uint32_t   round;
    unsigned   node;

    rc = walrus_audit_fraud_verify(c, buf, len, &node, &round, id);

    switch (rc) {

    case WALRUS_OK:
        walrus_blob_id_format(id, text);
        printf("fraud proof: node %s round %u blob %s\n", c->nodes[node].name,
               (unsigned) round, text);
        return WALRUS_CLI_OK;

    case WALRUS_EINVAL:
        walrus_cli_error("%s: the fraud proof does not hold: every entry of "
                         "its blob checks (or its metadata is not of the "
                         "committee's n)", path);
        return WALRUS_CLI_INVALID;

    case WALRUS_EBLOBID:
        walrus_cli_error("%s: the fraud proof does not hold: the answer "
                         "holds no blob with the ID of its metadata", path);
        return WALRUS_CLI_INVALID;

    default:
        return walrus_cli_audit_refused(c, path, "fraud proof",
                                        "its framing, or its beacon, answer "
                                        "or metadata does not parse, or the "
                                        "answer is not of the beacon's "
                                        "round and seed", rc, 0);
    }
}


/* why a beacon, a certificate or a fraud proof is refused */

static int
walrus_cli_audit_refused(const walrus_committee_t *c, const char *path,
    const char *what, const char *malformed, int rc, uint32_t epoch)
{
    switch (rc) {

    case WALRUS_EFORMAT:
        walrus_cli_error("%s: not a valid %s for this committee: %s", path,
                         what, malformed);
        break;

    case WALRUS_EEPOCH:
        if (epoch != 0) {
            walrus_cli_error("%s: the %s is of epoch %u, the committee is at "
                             "epoch %u", path, what, (unsigned) epoch,
                             (unsigned) c->epoch);

        } else {
            walrus_cli_error("%s: the %s is of another epoch than the "
                             "committee's (%u)", path, what,
                             (unsigned) c->epoch);
        }

        break;

    case WALRUS_EQUORUM:
        walrus_cli_error("%s: the %s's signers hold fewer than n - f = %u "
                         "shards", path, what,
                         c->params.n - c->params.f);
        break;

    case WALRUS_ESIGNATURE:
        walrus_cli_error("%s: a signature of the %s does not verify", path,
                         what);
        break;

    default:
        walrus_cli_error("%s: %s", path, walrus_strerror(rc));
        return WALRUS_CLI_IO;
    }

    return WALRUS_CLI_INVALID;
}


size_t
walrus_cli_audit_answer_max(const walrus_committee_t *c, unsigned nshards,
    unsigned nblobs)
{
    size_t  sym, entry;

    sym = walrus_symbol_size(&c->params, c->segment_size);
    entry = 14 + 2 * (sym + walrus_merkle_proof_size(c->params.n));

    return WALRUS_AUDIT_ANSWER_HEADER + WALRUS_SIG_LEN
           + (size_t) nblobs * (WALRUS_BLOB_ID_LEN + 3 + nshards * entry);
}
