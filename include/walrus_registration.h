/*
 * Blob registrations: a publisher listed in the committee signs that a
 * blob may be stored, for how long and whether it may be deleted.  Nodes
 * keep metadata and slivers only of registered blobs.
 *
 * Wire form (162 bytes), the first 98 of which are the signed message:
 * "walrus-register:1" (17 ASCII bytes) || epoch u32 LE || blob ID (32) ||
 * unencoded length u64 LE || end epoch u32 LE || deletable u8 (0 or 1) ||
 * publisher's raw Ed25519 public key (32) || Ed25519 signature (64).
 */

#ifndef _WALRUS_REGISTRATION_H_INCLUDED_
#define _WALRUS_REGISTRATION_H_INCLUDED_


#include <walrus_committee.h>
#include <walrus_history.h>


#define WALRUS_REGISTER_TAG      "walrus-register:1"
#define WALRUS_REGISTER_TAG_LEN  17
#define WALRUS_REGISTER_MSG_LEN                                              \
    (WALRUS_REGISTER_TAG_LEN + 4 + WALRUS_BLOB_ID_LEN + 8 + 4 + 1           \
     + WALRUS_PUBLIC_KEY_LEN)
#define WALRUS_REGISTRATION_LEN  (WALRUS_REGISTER_MSG_LEN + WALRUS_SIG_LEN)


typedef struct {
    uint32_t  epoch;        /* the committee epoch it was made in */
    uint8_t   blob_id[WALRUS_BLOB_ID_LEN];
    uint64_t  length;       /* unencoded blob length */
    uint32_t  end_epoch;    /* first epoch the blob is no longer kept */
    uint8_t   deletable;
    uint8_t   publisher[WALRUS_PUBLIC_KEY_LEN];
    uint8_t   signature[WALRUS_SIG_LEN];
} walrus_registration_t;


/* the signed part: WALRUS_REGISTER_MSG_LEN bytes */
void walrus_registration_message(const walrus_registration_t *reg,
    uint8_t *msg);

/* WALRUS_REGISTRATION_LEN bytes */
void walrus_registration_serialize(const walrus_registration_t *reg,
    uint8_t *out);

/* exactly WALRUS_REGISTRATION_LEN bytes with the tag; else WALRUS_EFORMAT */
int walrus_registration_parse(walrus_registration_t *reg,
    const uint8_t *buf, size_t len);

/* fills in the publisher from the private key, then the signature */
int walrus_registration_sign(walrus_registration_t *reg, EVP_PKEY *key);

/*
 * WALRUS_OK when the registration is for blob_id (unless NULL), is in
 * force in the committee's epoch (epoch <= committee epoch < end epoch),
 * names a publisher of the committee and its signature verifies.
 * Otherwise WALRUS_EBLOBID, WALRUS_EEPOCH, WALRUS_EPUBLISHER or
 * WALRUS_ESIGNATURE, in that order.
 */
int walrus_registration_verify(const walrus_committee_t *c,
    const walrus_registration_t *reg, const uint8_t *blob_id);

/*
 * As walrus_registration_verify(), in force in the history's current
 * epoch, with the publishers of the epoch the registration names (the
 * one it was made in): WALRUS_ENOEPOCH after WALRUS_EEPOCH when the
 * history does not hold that epoch.  A key removed from the publishers
 * can still sign a registration naming an epoch it was a publisher in:
 * a new registration is admitted with walrus_registration_verify() and
 * the current committee.
 */
int walrus_registration_verify_history(const walrus_history_t *h,
    const walrus_registration_t *reg, const uint8_t *blob_id);

/*
 * Whether the registration is genuine, whatever epoch it is in force
 * in: for blob_id (unless NULL), made in an epoch the history holds
 * (end epoch after it) and signed by a publisher of that epoch.  An
 * expired registration verifies, so that a reader can check a node's
 * claim that a blob expired.  WALRUS_OK, or WALRUS_EBLOBID,
 * WALRUS_EEPOCH (end epoch not after the epoch), WALRUS_ENOEPOCH,
 * WALRUS_EPUBLISHER, WALRUS_ESIGNATURE.
 */
int walrus_registration_verify_signed(const walrus_history_t *h,
    const walrus_registration_t *reg, const uint8_t *blob_id);

/* the blob is no longer kept in epoch `now`: end epoch <= now */
#define walrus_registration_expired(reg, now)  ((reg)->end_epoch <= (now))


#endif /* _WALRUS_REGISTRATION_H_INCLUDED_ */
