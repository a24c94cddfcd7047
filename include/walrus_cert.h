/*
 * Certificates (proof of availability): confirmations of one blob ID in
 * one epoch whose distinct signers hold at least n - f shards.
 *
 * Wire form: version u8 (1), epoch u32 LE, blob ID (32), signer count
 * u16 LE, then per signer its committee node index u16 LE and its 64-byte
 * Ed25519 signature.  Certificates are canonical: node indexes strictly
 * increase, so a node is listed at most once and a certificate of a
 * committee of k nodes has at most k entries.
 */

#ifndef _WALRUS_CERT_H_INCLUDED_
#define _WALRUS_CERT_H_INCLUDED_


#include <walrus_committee.h>
#include <walrus_history.h>


#define WALRUS_CERT_VERSION     1
#define WALRUS_CERT_HEADER_LEN  39
#define WALRUS_CERT_SIGNER_LEN  (2 + WALRUS_SIG_LEN)
#define WALRUS_CERT_MAX_SIZE    (WALRUS_CERT_HEADER_LEN                       \
                                 + WALRUS_MAX_SHARDS * WALRUS_CERT_SIGNER_LEN)


typedef struct {
    uint16_t  node;
    uint8_t   signature[WALRUS_SIG_LEN];
} walrus_signer_t;


typedef struct {
    uint32_t         epoch;
    uint8_t          blob_id[WALRUS_BLOB_ID_LEN];
    unsigned         nsigners;
    walrus_signer_t  signers[WALRUS_MAX_SHARDS];
} walrus_cert_t;


void walrus_cert_init(walrus_cert_t *cert, uint32_t epoch,
    const uint8_t *blob_id);

/*
 * Inserts node's signature in node order.  WALRUS_EINVAL when full or
 * when node has signed already.
 */
int walrus_cert_add(walrus_cert_t *cert, uint16_t node, const uint8_t *sig);

size_t walrus_cert_size(const walrus_cert_t *cert);
void walrus_cert_serialize(const walrus_cert_t *cert, uint8_t *out);

/* WALRUS_EFORMAT unless exactly the wire form, signers in strict order */
int walrus_cert_parse(walrus_cert_t *cert, const uint8_t *buf, size_t len);

/* shards held by the distinct committee members that signed */
unsigned walrus_cert_weight(const walrus_committee_t *c,
    const walrus_cert_t *cert);

/*
 * WALRUS_OK when the certificate is for blob_id (unless NULL) in the
 * committee's epoch, is canonical with every signer in the committee
 * (WALRUS_EFORMAT otherwise), every signature verifies and the signers
 * hold n - f shards or more.
 */
int walrus_cert_verify(const walrus_committee_t *c, const walrus_cert_t *cert,
    const uint8_t *blob_id);

/*
 * As walrus_cert_verify() with the committee of the certificate's own
 * epoch, however old: WALRUS_EBLOBID first, then WALRUS_ENOEPOCH when
 * the history does not hold that epoch.
 */
int walrus_cert_verify_history(const walrus_history_t *h,
    const walrus_cert_t *cert, const uint8_t *blob_id);


#endif /* _WALRUS_CERT_H_INCLUDED_ */
