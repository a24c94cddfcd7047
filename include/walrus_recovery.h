/*
 * Recovery answers and inconsistency proofs (docs/protocol.md section 11).
 *
 * A node rebuilding sliver pair k (primary sliver k and secondary sliver
 * n - 1 - k) asks each peer for one answer: for a range of segments and
 * for every pair h the peer holds (a helper pair), on the primary axis
 * E[k][n-1-h] from its secondary sliver n - 1 - h with the proof of leaf
 * k against the secondary hash of pair h, on the secondary axis
 * E[h][n-1-k] from its primary sliver h with the proof of leaf n - 1 - k
 * against the primary hash of pair h.  Every size follows from the
 * metadata, which the caller has verified against the blob ID.
 *
 * Verified symbols that rebuild a sliver the metadata does not commit to
 * prove that the writer encoded the blob inconsistently: the
 * inconsistency proof carries them with the metadata, so that anyone can
 * check it offline.
 */

#ifndef _WALRUS_RECOVERY_H_INCLUDED_
#define _WALRUS_RECOVERY_H_INCLUDED_


#include <walrus_types.h>
#include <walrus_codec.h>
#include <walrus_metadata.h>


#define WALRUS_RECOVERY_VERSION     1

/* axes of an answer: the target's primary sliver, its secondary sliver */
#define WALRUS_RECOVERY_PRIMARY     1
#define WALRUS_RECOVERY_SECONDARY   2
#define WALRUS_RECOVERY_BOTH        3

/* the largest answer a node builds: a healer asks for ranges that fit */
#define WALRUS_RECOVERY_MAX_ANSWER  (64 * 1024 * 1024)

#define WALRUS_INCONSISTENCY_TAG      "walrus-inconsistency:1"
#define WALRUS_INCONSISTENCY_TAG_LEN  (sizeof(WALRUS_INCONSISTENCY_TAG) - 1)


/* the header of an answer */
typedef struct {
    uint8_t    blob_id[WALRUS_BLOB_ID_LEN];
    unsigned   target;                      /* the pair being rebuilt */
    unsigned   axes;                        /* WALRUS_RECOVERY_* bits */
    uint32_t   first;                       /* first segment */
    uint32_t   count;                       /* segments, at least one */
    unsigned   nhelpers;
    unsigned   helpers[WALRUS_MAX_SHARDS];  /* pairs, ascending */
} walrus_recovery_head_t;


/* a parsed answer; its entries stay in the caller's buffer */
typedef struct {
    walrus_recovery_head_t   head;
    const uint8_t           *entries;
    uint8_t                 *valid;     /* per entry: 1 when it verified */
    uint64_t                 nfailed;   /* entries that did not verify */
    uint32_t                 failed[WALRUS_MAX_SHARDS];  /* per pair */
} walrus_recovery_answer_t;


/* what a proof that holds is about */
typedef struct {
    uint8_t             blob_id[WALRUS_BLOB_ID_LEN];
    unsigned            target;
    walrus_axis_e       axis;
    uint64_t            segment;
    walrus_metadata_t   meta;
} walrus_inconsistency_t;


/* bytes of the header with nhelpers helper pairs */
size_t walrus_recovery_head_size(unsigned nhelpers);

/* bytes of one helper pair's entries in segment g: symbol and proof per axis */
size_t walrus_recovery_entry_size(const walrus_metadata_t *m, unsigned axes,
    uint64_t g);

/* bytes of the whole answer head describes */
uint64_t walrus_recovery_answer_size(const walrus_metadata_t *m,
    const walrus_recovery_head_t *head);

/*
 * How many segments from `first` on an answer of nhelpers helper pairs
 * covers within max bytes (0 when not even one fits, or first is past
 * the blob).
 */
uint32_t walrus_recovery_segments_within(const walrus_metadata_t *m,
    unsigned axes, unsigned nhelpers, uint64_t first, uint64_t max);

void walrus_recovery_head_write(const walrus_recovery_head_t *head,
    uint8_t *out);

/*
 * Writes helper pair `helper`'s entries of segment g
 * (walrus_recovery_entry_size() bytes) for head's target and axes.
 * primary and secondary are the helper's sliver slices of segment g: the
 * secondary one serves the primary axis, the primary one the secondary
 * axis; a slice that no asked axis needs may be NULL.  Computing a proof
 * extends the sliver, so each entry is checked against the metadata on
 * the way: WALRUS_EHASH when one does not verify, with *bad holding the
 * axes whose sliver the metadata does not commit to.
 */
int walrus_recovery_build(walrus_codec_t *c, const walrus_metadata_t *m,
    const walrus_recovery_head_t *head, uint64_t g, unsigned helper,
    const uint8_t *primary, const uint8_t *secondary, uint8_t *out,
    unsigned *bad);

/*
 * Parses an answer of the blob with this ID and metadata and verifies
 * every entry.  WALRUS_EFORMAT unless the bytes are exactly an answer of
 * that blob (length included).  On WALRUS_OK, entries that do not verify
 * are counted in a->nfailed and a->failed[pair] (a lying helper) and the
 * others can be used; buf must outlive a.  Free a with
 * walrus_recovery_answer_free() whatever the result.
 */
int walrus_recovery_parse(walrus_codec_t *c, const walrus_metadata_t *m,
    const uint8_t *blob_id, const uint8_t *buf, size_t len,
    walrus_recovery_answer_t *a);
void walrus_recovery_answer_free(walrus_recovery_answer_t *a);

/*
 * Rebuilds segment g's slice of the target's sliver on `axis` into out
 * (walrus_sliver_size() bytes) from parsed answers of one blob and target
 * (NULL ones are skipped): the verified symbols of the first s (primary)
 * or p (secondary) distinct helper slivers in sliver order.  The result
 * is verified: WALRUS_ENOTENOUGH when too few helpers gave a verified
 * symbol, WALRUS_EINCONSISTENT when the rebuilt sliver is not the one
 * the metadata commits to (walrus_inconsistency_build() then makes the
 * proof from the same arguments), WALRUS_EINVAL when the answers are of
 * different targets.
 */
int walrus_recovery_rebuild(walrus_codec_t *c, const walrus_metadata_t *m,
    const walrus_recovery_answer_t *const *answers, unsigned nanswers,
    walrus_axis_e axis, uint64_t g, uint8_t *out);

/*
 * The inconsistency proof of what walrus_recovery_rebuild() found
 * inconsistent, in malloc()ed memory; WALRUS_EINVAL when the symbols
 * rebuild the committed sliver (nothing to prove).
 */
int walrus_inconsistency_build(walrus_codec_t *c, const walrus_metadata_t *m,
    const walrus_recovery_answer_t *const *answers, unsigned nanswers,
    walrus_axis_e axis, uint64_t g, uint8_t **proof, size_t *len);

/*
 * The size of the largest proof about the blob with metadata m (its
 * first segment, the largest, on the primary axis): a reader refuses a
 * longer answer before it parses it.
 */
size_t walrus_inconsistency_max_size(const walrus_metadata_t *m);

/*
 * Checks a proof on its own: WALRUS_OK when its metadata hashes to its
 * blob ID, every symbol verifies against the metadata and together they
 * rebuild a sliver that does not match it; then *info says what it is
 * about (free it with walrus_inconsistency_free()).  Otherwise
 * WALRUS_EFORMAT (malformed), WALRUS_EBLOBID (the metadata is of another
 * blob), WALRUS_EHASH (a symbol does not verify) or WALRUS_EINVAL (the
 * symbols rebuild the committed sliver: no inconsistency).
 */
int walrus_inconsistency_verify(const uint8_t *proof, size_t len,
    walrus_inconsistency_t *info);
void walrus_inconsistency_free(walrus_inconsistency_t *info);


#endif /* _WALRUS_RECOVERY_H_INCLUDED_ */
