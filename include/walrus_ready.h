/*
 * Readiness: a node of an epoch's committee says, signed, that it holds
 * the sliver pairs of its shards of every blob certified before that
 * epoch that it knows of.  Once nodes holding n - f shards said so, the
 * epoch's change is complete and a shard's old owner may delete it
 * (docs/protocol.md 18.6).
 *
 * Wire form (84 bytes), the first 20 of which are the signed message:
 * "walrus-ready:1" (14 ASCII bytes) || epoch u32 LE || node u16 LE (its
 * index in the epoch's node list) || Ed25519 signature (64).
 */

#ifndef _WALRUS_READY_H_INCLUDED_
#define _WALRUS_READY_H_INCLUDED_


#include <walrus_committee.h>


#define WALRUS_READY_TAG      "walrus-ready:1"
#define WALRUS_READY_TAG_LEN  14
#define WALRUS_READY_MSG_LEN  (WALRUS_READY_TAG_LEN + 4 + 2)
#define WALRUS_READY_LEN      (WALRUS_READY_MSG_LEN + WALRUS_SIG_LEN)


typedef struct {
    uint32_t  epoch;
    unsigned  node;
    uint8_t   signature[WALRUS_SIG_LEN];
} walrus_ready_t;


/* WALRUS_READY_MSG_LEN bytes */
void walrus_ready_message(const walrus_ready_t *r, uint8_t *msg);

/* WALRUS_READY_LEN bytes */
void walrus_ready_serialize(const walrus_ready_t *r, uint8_t *out);

/* exactly WALRUS_READY_LEN bytes with the tag; else WALRUS_EFORMAT */
int walrus_ready_parse(walrus_ready_t *r, const uint8_t *buf, size_t len);

/* signs epoch and node with the node's key */
int walrus_ready_sign(walrus_ready_t *r, EVP_PKEY *key);

/*
 * WALRUS_OK when the message is of the committee's epoch, names one of
 * its nodes and is signed with that node's key; else WALRUS_EEPOCH,
 * WALRUS_EFORMAT (no such node) or WALRUS_ESIGNATURE.
 */
int walrus_ready_verify(const walrus_committee_t *c, const walrus_ready_t *r);


#endif /* _WALRUS_READY_H_INCLUDED_ */
