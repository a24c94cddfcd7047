/*
 * Walrus gateway core: common types, error codes and code parameters.
 */

#ifndef _WALRUS_TYPES_H_INCLUDED_
#define _WALRUS_TYPES_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define WALRUS_HASH_LEN          32
#define WALRUS_PAIR_HASH_LEN     (2 * WALRUS_HASH_LEN)
#define WALRUS_BLOB_ID_LEN       32
#define WALRUS_BLOB_ID_TEXT_LEN  43
#define WALRUS_SIG_LEN           64
#define WALRUS_PUBLIC_KEY_LEN    32

#define WALRUS_MIN_SHARDS        4
#define WALRUS_MAX_SHARDS        255

#define WALRUS_SYMBOL_ALIGN      64
#define WALRUS_MIN_SEGMENT_SIZE  1024
#define WALRUS_MAX_SEGMENT_SIZE  (256 * 1024 * 1024)
#define WALRUS_MAX_BLOB_SIZE     ((uint64_t) 1 << 40)

#define WALRUS_FORMAT_VERSION    1
#define WALRUS_ENCODING_RS2_GF8  1
#define WALRUS_ENCODING_NAME     "RS2-GF8"


typedef enum {
    WALRUS_OK = 0,
    WALRUS_EINVAL,          /* argument outside its documented range */
    WALRUS_ENOMEM,
    WALRUS_EFORMAT,         /* untrusted bytes or text do not parse */
    WALRUS_ELENGTH,         /* a sliver or symbol has the wrong length */
    WALRUS_EHASH,           /* data does not match its committed hash */
    WALRUS_EINCONSISTENT,   /* blob was encoded inconsistently */
    WALRUS_ENOTENOUGH,      /* too few slivers or symbols to decode */
    WALRUS_ECRYPTO,         /* an OpenSSL call failed */
    WALRUS_ESIGNATURE,      /* a signature does not verify */
    WALRUS_EEPOCH,          /* certificate is for another epoch */
    WALRUS_EQUORUM,         /* signers do not cover n - f shards */
    WALRUS_EBLOBID,         /* certificate or metadata for another blob */
    WALRUS_EIO,
    WALRUS_EPUBLISHER,      /* signer is not a committee publisher */
    WALRUS_ECURSOR,         /* not the start of a record entry */
    WALRUS_EUNREGISTERED,   /* a registration is required, none given */
    WALRUS_ENOEPOCH         /* the committee history lacks the epoch */
} walrus_rc_e;


typedef enum {
    WALRUS_PRIMARY = 0,
    WALRUS_SECONDARY = 1
} walrus_axis_e;


/*
 * n shards, f = (n - 1) / 3 tolerated faults, p = n - 2f primary source
 * symbols (rows of a segment), s = n - f secondary source symbols
 * (columns of a segment).
 */
typedef struct {
    unsigned  n;
    unsigned  f;
    unsigned  p;
    unsigned  s;
} walrus_params_t;


const char *walrus_strerror(int rc);
int walrus_params_init(walrus_params_t *wp, unsigned n);

/* symbol size of a segment of seg_len bytes */
size_t walrus_symbol_size(const walrus_params_t *wp, uint64_t seg_len);

/* number of segments of a blob; an empty blob has one empty segment */
uint64_t walrus_segment_count(uint64_t length, uint32_t segment_size);

/* length of segment idx of a blob */
uint64_t walrus_segment_length(uint64_t length, uint32_t segment_size,
    uint64_t idx);

/* shard holding sliver pair `pair` of the blob with this ID */
unsigned walrus_pair_to_shard(const walrus_params_t *wp,
    const uint8_t *blob_id, unsigned pair);
unsigned walrus_shard_to_pair(const walrus_params_t *wp,
    const uint8_t *blob_id, unsigned shard);

/* index of the secondary sliver in sliver pair `pair` */
#define walrus_pair_secondary(wp, pair)  ((wp)->n - 1 - (pair))


#endif /* _WALRUS_TYPES_H_INCLUDED_ */
