/*
 * Blob lifetime on a storage node: a blob whose stored registration has
 * an end epoch at or before the node's current epoch is expired; its
 * metadata, slivers and certificate are reclaimed and its registration
 * stays as a tombstone, so that later requests learn why it is gone
 * (docs/protocol.md section 19).  System calls only: thread safe.
 */

#ifndef _WALRUS_LIFETIME_H_INCLUDED_
#define _WALRUS_LIFETIME_H_INCLUDED_


#include <openssl/evp.h>
#include <walrus_registration.h>
#include <walrus_record.h>


/* the files of a blob directory that reclaiming keeps */
#define WALRUS_TOMBSTONE_FILE  "registration"
#define WALRUS_RECORDED_FILE   "recorded"
#define WALRUS_DELETED_FILE    "deleted"

/*
 * A deletion (docs/protocol.md 19.5), 115 bytes: "walrus-delete:1" (15
 * ASCII bytes) || epoch u32 LE || blob ID (32) || the Ed25519 signature
 * of the first 51 bytes by the key of the registration's publisher.
 */
#define WALRUS_DELETE_TAG      "walrus-delete:1"
#define WALRUS_DELETE_TAG_LEN  15
#define WALRUS_DELETE_MSG_LEN  (WALRUS_DELETE_TAG_LEN + 4 + WALRUS_BLOB_ID_LEN)
#define WALRUS_DELETION_LEN    (WALRUS_DELETE_MSG_LEN + WALRUS_SIG_LEN)


/* signs the deletion of blob_id in epoch: WALRUS_DELETION_LEN into out */
int walrus_deletion_sign(EVP_PKEY *key, uint32_t epoch,
    const uint8_t *blob_id, uint8_t *out);

/*
 * WALRUS_OK when del (len bytes) deletes the blob of the registration
 * reg for a node in epoch `now`: the blob is deletable (else
 * WALRUS_EINVAL), the deletion names its blob (WALRUS_EBLOBID), an epoch
 * from the registration's to `now`, and `now` or the one before
 * (WALRUS_EEPOCH), and is signed by the registration's publisher
 * (WALRUS_ESIGNATURE).  WALRUS_EFORMAT when it does not parse.
 */
int walrus_deletion_verify(const uint8_t *del, size_t len,
    const walrus_registration_t *reg, uint32_t now);


/*
 * The registration stored in blob_dir: WALRUS_OK, WALRUS_EIO with errno
 * (ENOENT when there is none) or WALRUS_EFORMAT when it does not parse.
 * Nothing is verified: the node checked it when it stored it.
 */
int walrus_lifetime_read(const char *blob_dir, walrus_registration_t *reg);

/*
 * 1 when blob_dir holds a registration expired in epoch `now`, 0 when
 * it holds one in force or none, -1 with errno when it cannot be read;
 * reg (unless NULL) gets the registration read.
 */
int walrus_lifetime_expired(const char *blob_dir, uint32_t now,
    walrus_registration_t *reg);

/*
 * 1 when the registration recorded in entry e expired in epoch `now`:
 * the audits' cut-off (docs/protocol.md 17.2), which every holder of
 * the entry computes alike.  0 when it is in force or there is none.
 */
int walrus_lifetime_recorded_expired(const walrus_record_entry_t *e,
    uint32_t now);

/*
 * Whether the blob of a record entry is expired in epoch `now`, for the
 * node's background work: deleted (a deletion is stored in blob_dir), or
 * by the registration stored there (an extension replaces it there,
 * never in the record), else by the entry's.  1 expired, 0 not (or not
 * known: nothing is dropped on a doubt).
 */
int walrus_lifetime_entry_expired(const char *blob_dir,
    const walrus_record_entry_t *e, uint32_t now);

/*
 * Removes every file of blob_dir but the tombstone (the registration,
 * the record's mark and a deletion), then syncs the directory:
 * idempotent, so a pass cut short by a crash is finished by the next
 * one.  *removed gets how many files went.  0, or -1 with errno.
 */
int walrus_lifetime_reclaim(const char *blob_dir, unsigned *removed);


#endif /* _WALRUS_LIFETIME_H_INCLUDED_ */
