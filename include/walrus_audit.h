/*
 * Storage audits (docs/protocol.md section 17): round beacons and their
 * seeds, challenge sets and positions, signed answers, attestations,
 * audit certificates and fraud proofs.  Pure functions over bytes, the
 * committee and verified metadata: the node, the gateway and walrusctl
 * share them, and no verdict here depends on a clock.
 */

#ifndef _WALRUS_AUDIT_H_INCLUDED_
#define _WALRUS_AUDIT_H_INCLUDED_


#include <walrus_types.h>
#include <walrus_codec.h>
#include <walrus_committee.h>
#include <walrus_metadata.h>


#define WALRUS_AUDIT_VERSION        1

/* blobs challenged per node and round (c), and per answer at most */
#define WALRUS_AUDIT_BLOBS          32
#define WALRUS_AUDIT_MAX_ASK        64

/* rounds a challenged blob stays locked for recovery (K) */
#define WALRUS_AUDIT_LOCK_ROUNDS    4

#define WALRUS_AUDIT_ROUND_MSG_LEN  28
#define WALRUS_AUDIT_ATTEST_MSG_LEN 71

#define WALRUS_AUDIT_BEACON_HEADER  13
#define WALRUS_AUDIT_SIGNER_LEN     (2 + WALRUS_SIG_LEN)
#define WALRUS_AUDIT_BEACON_MAX     (WALRUS_AUDIT_BEACON_HEADER               \
                                     + 255 * WALRUS_AUDIT_SIGNER_LEN          \
                                     + WALRUS_SIG_LEN)
#define WALRUS_AUDIT_CERT_HEADER    45
#define WALRUS_AUDIT_CERT_MAX       (WALRUS_AUDIT_CERT_HEADER                 \
                                     + 255 * WALRUS_AUDIT_SIGNER_LEN)

#define WALRUS_AUDIT_FRAUD_TAG      "walrus-audit-fraud:1"
#define WALRUS_AUDIT_FRAUD_TAG_LEN  (sizeof(WALRUS_AUDIT_FRAUD_TAG) - 1)

/* what walrus_audit_answer_check() found */
#define WALRUS_AUDIT_PASSED         0
#define WALRUS_AUDIT_MISSING        1   /* verified, some blobs not held */
#define WALRUS_AUDIT_FRAUD          2   /* signed, an entry is wrong */


typedef struct {
    uint16_t  node;
    uint8_t   signature[WALRUS_SIG_LEN];
} walrus_audit_signer_t;


/* a parsed beacon (17.1) */
typedef struct {
    uint32_t               epoch;
    uint32_t               round;
    unsigned               leader;
    unsigned               nsigners;
    walrus_audit_signer_t  signers[255];
    uint8_t                leader_signature[WALRUS_SIG_LEN];
    uint8_t                seed[32];       /* set by parse */
} walrus_audit_beacon_t;


/* the positions of one pair of a challenged blob (17.2) */
typedef struct {
    unsigned   pair;
    uint64_t   segment;
    unsigned   primary_leaf;
    unsigned   secondary_leaf;
} walrus_audit_position_t;


/* a parsed audit certificate (17.4) */
typedef struct {
    uint32_t               epoch;
    uint32_t               round;
    unsigned               node;
    uint8_t                seed[32];
    unsigned               nattesters;
    walrus_audit_signer_t  attesters[255];
} walrus_audit_cert_t;


/* one blob of a parsed answer; symbols stay in the caller's buffer */
typedef struct {
    uint8_t          blob_id[WALRUS_BLOB_ID_LEN];
    unsigned         held;
    unsigned         npairs;
    const uint8_t   *pairs;         /* npairs entries as on the wire */
    size_t           len;           /* bytes of those entries */
} walrus_audit_blob_t;


/* a parsed answer (17.3), its signature checked */
typedef struct {
    uint32_t              epoch;
    uint32_t              round;
    unsigned              node;
    uint8_t               seed[32];
    unsigned              nblobs;
    walrus_audit_blob_t   blobs[WALRUS_AUDIT_MAX_ASK];
} walrus_audit_answer_t;


/* ---- rounds and beacons --------------------------------------------- */

/* the 28-byte message a node signs to let round `round` open */
void walrus_audit_round_message(uint32_t epoch, uint32_t round,
    uint8_t *msg);

/* the node index that leads a round: round mod nnodes */
unsigned walrus_audit_leader(const walrus_committee_t *c, uint32_t round);

/*
 * Builds a beacon from round signatures (any order; duplicates and
 * signatures that do not verify are dropped), taking them in node order
 * until they hold n - f shards, the leader's always included, and signs
 * it with the leader's key.  WALRUS_EQUORUM when they do not reach
 * n - f.  *out is malloc()ed.
 */
int walrus_audit_beacon_build(const walrus_committee_t *c, EVP_PKEY *key,
    uint32_t round, const walrus_audit_signer_t *sigs, unsigned nsigs,
    uint8_t **out, size_t *len);

/*
 * Parses and verifies a beacon for the committee (17.1) and computes its
 * seed.  WALRUS_EFORMAT (malformed, not canonical), WALRUS_EEPOCH,
 * WALRUS_ESIGNATURE, WALRUS_EQUORUM (below n - f shards).
 */
int walrus_audit_beacon_verify(const walrus_committee_t *c,
    const uint8_t *buf, size_t len, walrus_audit_beacon_t *b);


/* ---- challenge sets --------------------------------------------------- */

/* the score of a candidate blob for node `node` under seed (17.2) */
void walrus_audit_score(const uint8_t *seed, unsigned node,
    const uint8_t *blob_id, uint8_t *score);

/*
 * A bounded selection of the c smallest scores: feed every candidate
 * (duplicates are ignored), then read the chosen blob IDs in order.
 */
typedef struct {
    uint8_t    seed[32];
    unsigned   node;
    unsigned   count;
    uint8_t    score[WALRUS_AUDIT_BLOBS][32];
    uint8_t    blob_id[WALRUS_AUDIT_BLOBS][WALRUS_BLOB_ID_LEN];
} walrus_audit_pick_t;

void walrus_audit_pick_init(walrus_audit_pick_t *p, const uint8_t *seed,
    unsigned node);
void walrus_audit_pick_add(walrus_audit_pick_t *p, const uint8_t *blob_id);

/* whether node is a signer of the certificate (wire form), i.e. promised */
int walrus_audit_promised(const uint8_t *cert, size_t len, unsigned node);

/*
 * The positions of every pair `node` holds in the blob (17.2), in pair
 * order; returns their count (0 when the node holds none).
 */
unsigned walrus_audit_positions(const walrus_committee_t *c,
    const walrus_metadata_t *m, const uint8_t *seed, const uint8_t *blob_id,
    unsigned node, walrus_audit_position_t *pos);


/* ---- answers ------------------------------------------------------------ */

/*
 * An answer is written in three steps: the header, then each blob (held
 * with its pairs' entries, or not held), then the signature.  Sizes:
 * walrus_audit_answer_head_size(), walrus_audit_blob_size() (0 pairs for
 * a blob not held), WALRUS_SIG_LEN.
 */
size_t walrus_audit_answer_head_size(void);
size_t walrus_audit_blob_size(const walrus_metadata_t *m,
    const walrus_audit_position_t *pos, unsigned npairs);

void walrus_audit_answer_head(uint8_t *out, uint32_t epoch, uint32_t round,
    unsigned node, const uint8_t *seed, unsigned nblobs);

/*
 * Writes a held blob's entries: primary[i] and secondary[i] are pair
 * pos[i].pair's sliver slices of segment pos[i].segment.  Each symbol is
 * checked against the metadata as it is computed: WALRUS_EHASH when a
 * slice does not verify (the node must say "not held" instead).
 */
int walrus_audit_blob_write(walrus_codec_t *codec, const walrus_metadata_t *m,
    const uint8_t *blob_id, const walrus_audit_position_t *pos,
    unsigned npairs, const uint8_t *const *primary,
    const uint8_t *const *secondary, uint8_t *out);
void walrus_audit_blob_missing(const uint8_t *blob_id, uint8_t *out);

/* signs bytes 0..len-1 of an answer, writing the signature at buf + len */
int walrus_audit_answer_sign(EVP_PKEY *key, uint8_t *buf, size_t len);

/*
 * Parses an answer and verifies its signature under its node's key:
 * WALRUS_EFORMAT, WALRUS_EEPOCH, WALRUS_ESIGNATURE.  Entries are not
 * checked yet.
 */
int walrus_audit_answer_parse(const walrus_committee_t *c,
    const uint8_t *buf, size_t len, walrus_audit_answer_t *a);

/*
 * Checks blob i of a parsed answer against its metadata (verified by the
 * caller against the blob ID) and the seed: WALRUS_AUDIT_PASSED (held and
 * every entry verifies), WALRUS_AUDIT_MISSING (not held),
 * WALRUS_AUDIT_FRAUD (a wrong pair list, position, size, symbol or
 * proof).
 */
int walrus_audit_blob_check(walrus_codec_t *codec, const walrus_committee_t *c,
    const walrus_audit_answer_t *a, unsigned i, const walrus_metadata_t *m);


/* ---- attestations and certificates ------------------------------------ */

void walrus_audit_attest_message(uint32_t epoch, uint32_t round,
    unsigned node, const uint8_t *seed, uint8_t *msg);
int walrus_audit_attest_sign(EVP_PKEY *key, uint32_t epoch, uint32_t round,
    unsigned node, const uint8_t *seed, uint8_t *sig);
int walrus_audit_attest_verify(EVP_PKEY *key, uint32_t epoch, uint32_t round,
    unsigned node, const uint8_t *seed, const uint8_t *sig);

/*
 * Builds the audit certificate of `node` from attestations (any order;
 * duplicates, the node's own and those that do not verify are dropped):
 * WALRUS_EQUORUM below n - f shards with the node's own.  *out is
 * malloc()ed.
 */
int walrus_audit_cert_build(const walrus_committee_t *c, uint32_t round,
    unsigned node, const uint8_t *seed, const walrus_audit_signer_t *att,
    unsigned natt, uint8_t **out, size_t *len);

/* parses and verifies an audit certificate (17.4) */
int walrus_audit_cert_verify(const walrus_committee_t *c,
    const uint8_t *buf, size_t len, walrus_audit_cert_t *cert);


/* ---- fraud proofs ---------------------------------------------------- */

/* the proof of a wrong entry of a blob of an answer; *out malloc()ed */
int walrus_audit_fraud_build(const uint8_t *beacon, size_t beacon_len,
    const uint8_t *answer, size_t answer_len, const uint8_t *meta,
    size_t meta_len, uint8_t **out, size_t *len);

/*
 * Checks a fraud proof (17.4): WALRUS_OK when it holds, with *node the
 * node it names, *round its round and blob_id the blob; WALRUS_EFORMAT,
 * WALRUS_EEPOCH, WALRUS_ESIGNATURE, WALRUS_EBLOBID, or WALRUS_EINVAL when
 * the entries of that blob check (no fraud).
 */
int walrus_audit_fraud_verify(const walrus_committee_t *c,
    const uint8_t *buf, size_t len, unsigned *node, uint32_t *round,
    uint8_t *blob_id);


#endif /* _WALRUS_AUDIT_H_INCLUDED_ */
