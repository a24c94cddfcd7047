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
#define WALRUS_AUDIT_ATTEST_MSG_LEN 63

#define WALRUS_AUDIT_BEACON_HEADER  13
#define WALRUS_AUDIT_SIGNER_LEN     (2 + WALRUS_SIG_LEN)
#define WALRUS_AUDIT_BEACON_MAX     (WALRUS_AUDIT_BEACON_HEADER               \
                                     + 255 * WALRUS_AUDIT_SIGNER_LEN          \
                                     + WALRUS_SIG_LEN)
#define WALRUS_AUDIT_CERT_HEADER    45
#define WALRUS_AUDIT_CERT_MAX       (WALRUS_AUDIT_CERT_HEADER                 \
                                     + 255 * WALRUS_AUDIT_SIGNER_LEN)

#define WALRUS_AUDIT_ANSWER_HEADER  45
#define WALRUS_AUDIT_FRAUD_TAG      "walrus-audit-fraud:1"
#define WALRUS_AUDIT_FRAUD_TAG_LEN  (sizeof(WALRUS_AUDIT_FRAUD_TAG) - 1)

/*
 * What walrus_audit_blob_check() found.  MISSING and FRAUD lie above
 * every walrus_rc_e, so that an error (WALRUS_EINVAL, WALRUS_ECRYPTO...)
 * is never taken for a verdict.
 */
#define WALRUS_AUDIT_PASSED         WALRUS_OK
#define WALRUS_AUDIT_MISSING        64  /* verified, the blob not held */
#define WALRUS_AUDIT_FRAUD          65  /* signed, an entry is wrong */


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
 * it with the leader's key.  key is the leader's private key: the
 * leader's own round signature is made with it (a copy in sigs is not
 * needed), and a key that is not the leader's is WALRUS_EINVAL, as is
 * round 0.  WALRUS_EQUORUM when they do not reach n - f.  *out is
 * malloc()ed.
 */
int walrus_audit_beacon_build(const walrus_committee_t *c, EVP_PKEY *key,
    uint32_t round, const walrus_audit_signer_t *sigs, unsigned nsigs,
    uint8_t **out, size_t *len);

/*
 * Parses and verifies a beacon for the committee (17.1) and computes its
 * seed.  WALRUS_EFORMAT (malformed: the length, the version, signers out
 * of order or not in the committee, round 0, a leader other than
 * round mod N or not among the signers), WALRUS_EEPOCH, WALRUS_EQUORUM
 * (below n - f shards), WALRUS_ESIGNATURE, in that order: no signature
 * is verified before the cheaper checks pass.
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

/*
 * Whether node is a signer of the certificate (wire form), i.e.
 * promised: 1 or 0 (also for bytes that are no certificate).  The
 * signatures are not verified: the caller's record holds certificates
 * it verified when they came in.
 */
int walrus_audit_promised(const uint8_t *cert, size_t len, unsigned node);

/*
 * The positions of every pair `node` holds in the blob (17.2), in pair
 * order, into pos (room for the node's shard count, at most
 * WALRUS_MAX_SHARDS); returns their count: 0 when the node holds none,
 * is not in the committee, or the metadata is not of the committee's n.
 */
unsigned walrus_audit_positions(const walrus_committee_t *c,
    const walrus_metadata_t *m, const uint8_t *seed, const uint8_t *blob_id,
    unsigned node, walrus_audit_position_t *pos);

/*
 * Where the slice a position needs lies in the pair's sliver file of
 * `axis` (section 8): returns its offset, *len its size.
 */
uint64_t walrus_audit_slice(const walrus_metadata_t *m,
    const walrus_audit_position_t *pos, walrus_axis_e axis, size_t *len);


/* ---- answers ------------------------------------------------------------ */

/*
 * An answer is written in three steps: the header, then each blob (held
 * with its pairs' entries, or not held), then the signature.  Sizes:
 * walrus_audit_answer_head_size(), walrus_audit_blob_size() (0 pairs for
 * a blob not held; m may then be NULL), WALRUS_SIG_LEN.
 */
size_t walrus_audit_answer_head_size(void);
size_t walrus_audit_blob_size(const walrus_metadata_t *m,
    const walrus_audit_position_t *pos, unsigned npairs);

void walrus_audit_answer_head(uint8_t *out, uint32_t epoch, uint32_t round,
    unsigned node, const uint8_t *seed, unsigned nblobs);

/*
 * Writes a held blob's entries (walrus_audit_blob_size() bytes):
 * primary[i] and secondary[i] are pair pos[i].pair's sliver slices of
 * segment pos[i].segment (walrus_audit_slice()), pos as
 * walrus_audit_positions() gave them, npairs at least 1.  Each symbol is
 * checked against the metadata with its proof as it is computed, which
 * checks the whole slice: WALRUS_EHASH when a slice does not verify (the
 * node must say "not held" instead).  The codec is of the blob's n.
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
 * WALRUS_EFORMAT (the length is not exactly the one its counts and
 * symbol sizes give, another version, more than WALRUS_AUDIT_MAX_ASK
 * blobs, a held byte other than 0 or 1, a pair count outside 1..n, a
 * node not in the committee), WALRUS_EEPOCH, WALRUS_ESIGNATURE, in that
 * order.  Only the framing is checked: the values of the entries (pairs,
 * positions, sizes, symbols) are walrus_audit_blob_check()'s, so that a
 * signed answer with a wrong one is a fraud, not a format error.  The
 * caller checks that round, node and seed are the ones it asked about
 * and the blobs the ones it asked for, in order; buf must outlive a.
 */
int walrus_audit_answer_parse(const walrus_committee_t *c,
    const uint8_t *buf, size_t len, walrus_audit_answer_t *a);

/*
 * Checks blob i of a parsed answer against its metadata (verified by the
 * caller against the blob ID) and the answer's seed: WALRUS_AUDIT_PASSED
 * (held and every entry verifies), WALRUS_AUDIT_MISSING (not held),
 * WALRUS_AUDIT_FRAUD (a wrong pair list, position, size, symbol or
 * proof).  WALRUS_EINVAL when i is out of range or the metadata or the
 * codec is not of the committee's n (no verdict: an honest node holds no
 * such blob); WALRUS_ECRYPTO when hashing fails.
 */
int walrus_audit_blob_check(walrus_codec_t *codec, const walrus_committee_t *c,
    const walrus_audit_answer_t *a, unsigned i, const walrus_metadata_t *m);


/* ---- attestations and certificates ------------------------------------ */

/* the 63-byte message of an attestation of node for a round (17.3) */
void walrus_audit_attest_message(uint32_t epoch, uint32_t round,
    unsigned node, const uint8_t *seed, uint8_t *msg);
int walrus_audit_attest_sign(EVP_PKEY *key, uint32_t epoch, uint32_t round,
    unsigned node, const uint8_t *seed, uint8_t *sig);
int walrus_audit_attest_verify(EVP_PKEY *key, uint32_t epoch, uint32_t round,
    unsigned node, const uint8_t *seed, const uint8_t *sig);

/*
 * Builds the audit certificate of `node` from attestations (any order;
 * duplicates, the node's own and those that do not verify are dropped),
 * with every attester left, in node order: WALRUS_EQUORUM below n - f
 * shards with the node's own, or without any attester; WALRUS_EINVAL for
 * round 0 or a node not in the committee.  *out is malloc()ed.
 */
int walrus_audit_cert_build(const walrus_committee_t *c, uint32_t round,
    unsigned node, const uint8_t *seed, const walrus_audit_signer_t *att,
    unsigned natt, uint8_t **out, size_t *len);

/*
 * Parses and verifies an audit certificate (17.4): WALRUS_EFORMAT (the
 * length, the version, round 0, a node or an attester not in the
 * committee, attesters out of order or the node among them),
 * WALRUS_EEPOCH, WALRUS_EQUORUM, WALRUS_ESIGNATURE, in that order.
 */
int walrus_audit_cert_verify(const walrus_committee_t *c,
    const uint8_t *buf, size_t len, walrus_audit_cert_t *cert);


/* ---- fraud proofs ---------------------------------------------------- */

/*
 * The proof of a wrong entry of a blob of an answer: the three parts
 * framed as in 17.4, not checked (walrus_audit_fraud_verify() does);
 * WALRUS_EINVAL when a part is empty or longer than 2^32 - 1 bytes.
 * *out is malloc()ed.
 */
int walrus_audit_fraud_build(const uint8_t *beacon, size_t beacon_len,
    const uint8_t *answer, size_t answer_len, const uint8_t *meta,
    size_t meta_len, uint8_t **out, size_t *len);

/*
 * Checks a fraud proof (17.4): WALRUS_OK when it holds, with *node the
 * node it names, *round its round and blob_id the blob (each may be
 * NULL); WALRUS_EFORMAT (the framing, or a beacon or an answer that does
 * not parse, an answer of another epoch, round or seed than the beacon,
 * metadata that does not parse), WALRUS_EEPOCH, WALRUS_EQUORUM and
 * WALRUS_ESIGNATURE (of the beacon or the answer), WALRUS_EBLOBID (the
 * answer holds no blob with the metadata's ID), or WALRUS_EINVAL when
 * the entries of that blob check (no fraud) or the metadata is not of
 * the committee's n.
 */
int walrus_audit_fraud_verify(const walrus_committee_t *c,
    const uint8_t *buf, size_t len, unsigned *node, uint32_t *round,
    uint8_t *blob_id);


/* ---- shared by the sources of the audits -------------------------------- */

/* H(tag || a || b); b may be NULL with blen 0 */
int walrus_audit_hash(const char *tag, const uint8_t *a, size_t alen,
    const uint8_t *b, size_t blen, uint8_t *out);

/* the first 11 bytes of a beacon, an answer, a certificate */
void walrus_audit_head_write(uint8_t *out, uint32_t epoch, uint32_t round,
    unsigned node);

/* Ed25519 over tag || buf[0..len-1] */
int walrus_audit_sign_tagged(EVP_PKEY *key, const char *tag,
    const uint8_t *buf, size_t len, uint8_t *sig);
int walrus_audit_verify_tagged(EVP_PKEY *key, const char *tag,
    const uint8_t *buf, size_t len, const uint8_t *sig);

/*
 * Reads m signer entries (node u16 || signature) from p: WALRUS_EFORMAT
 * unless the nodes strictly increase and are below the committee's node
 * count; *weight is the shards they hold.
 */
int walrus_audit_signers_parse(const walrus_committee_t *c, const uint8_t *p,
    unsigned m, walrus_audit_signer_t *out, unsigned *weight);
void walrus_audit_signers_write(uint8_t *p, const walrus_audit_signer_t *s,
    unsigned m);

/*
 * The first of node's signatures in sigs over msg that verifies, copied
 * to sig: WALRUS_ESIGNATURE when there is none.
 */
int walrus_audit_signer_find(const walrus_committee_t *c,
    const walrus_audit_signer_t *sigs, unsigned nsigs, unsigned node,
    const uint8_t *msg, size_t len, uint8_t *sig);

/* WALRUS_OK when each signature verifies under its node's key */
int walrus_audit_signers_verify(const walrus_committee_t *c,
    const walrus_audit_signer_t *s, unsigned m, const uint8_t *msg,
    size_t len);


#endif /* _WALRUS_AUDIT_H_INCLUDED_ */
