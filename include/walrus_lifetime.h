/*
 * Blob lifetime on a storage node: a blob whose stored registration has
 * an end epoch at or before the node's current epoch is expired; its
 * metadata, slivers and certificate are reclaimed and its registration
 * stays as a tombstone, so that later requests learn why it is gone
 * (docs/protocol.md section 19).  System calls only: thread safe.
 */

#ifndef _WALRUS_LIFETIME_H_INCLUDED_
#define _WALRUS_LIFETIME_H_INCLUDED_


#include <walrus_registration.h>


/* the files of a blob directory that reclaiming keeps */
#define WALRUS_TOMBSTONE_FILE  "registration"
#define WALRUS_RECORDED_FILE   "recorded"


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
 * Removes every file of blob_dir but the tombstone (the registration and
 * the record's mark), then syncs the directory: idempotent, so a pass
 * cut short by a crash is finished by the next one.  *removed gets how
 * many files went.  0, or -1 with errno.
 */
int walrus_lifetime_reclaim(const char *blob_dir, unsigned *removed);


#endif /* _WALRUS_LIFETIME_H_INCLUDED_ */
