/*
 * The committee history: the committee of every epoch from the oldest
 * kept to the current one, so that a certificate is checked against the
 * committee of the epoch it names.  Loaded from a directory of committee
 * files named <epoch>.json, or from one committee file (a history of one
 * epoch).  See docs/protocol.md section 18 for the rules.
 */

#ifndef _WALRUS_HISTORY_H_INCLUDED_
#define _WALRUS_HISTORY_H_INCLUDED_


#include <walrus_committee.h>


/*
 * Bounds on what a directory may make the loader hold: committee files,
 * their bytes in all (each is also at most WALRUS_MAX_COMMITTEE_FILE),
 * and nodes and publishers summed over the epochs (a public key costs
 * about 0.5 KiB of memory, more than the text that names its file).
 */
#define WALRUS_HISTORY_MAX_EPOCHS   1024
#define WALRUS_HISTORY_MAX_BYTES    (64 * 1024 * 1024)
#define WALRUS_HISTORY_MAX_MEMBERS  (256 * 1024)


typedef struct {
    uint32_t             first;        /* the oldest epoch held */
    uint32_t             current;      /* the newest: new data goes there */
    unsigned             count;        /* current - first + 1, no gaps */
    walrus_committee_t  *committees;   /* epoch first + i at index i */
} walrus_history_t;


/*
 * path is a directory of committee files or one committee file.  Every
 * epoch from the lowest file to the highest must have its file, each
 * with its own epoch in its "epoch" field, and all of them the same
 * n_shards and segment_size.  On failure err holds a message naming the
 * file and the reason; WALRUS_EFORMAT for a history that breaks a rule,
 * WALRUS_EIO when a file cannot be read, WALRUS_ENOMEM.
 */
int walrus_history_load(walrus_history_t *h, const char *path, char *err,
    size_t errlen);
void walrus_history_free(walrus_history_t *h);

/* the committee of epoch, or NULL when the history does not hold it */
const walrus_committee_t *walrus_history_committee(const walrus_history_t *h,
    uint32_t epoch);

/* the committee of the current epoch */
const walrus_committee_t *walrus_history_current(const walrus_history_t *h);

/*
 * Moves the current committee into c (free it with
 * walrus_committee_free) and frees the rest of the history: for a user
 * that needs the whole history checked but only the current committee.
 */
void walrus_history_take_current(walrus_history_t *h, walrus_committee_t *c);


#endif /* _WALRUS_HISTORY_H_INCLUDED_ */
