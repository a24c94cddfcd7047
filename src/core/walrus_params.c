/*
 * Code parameters, segment geometry and the pair to shard rotation.
 */

#include <walrus_types.h>


static const char  *walrus_errors[] = {
    "success",
    "invalid argument",
    "out of memory",
    "malformed input",
    "wrong length",
    "hash mismatch",
    "blob is inconsistently encoded",
    "not enough slivers or symbols",
    "cryptographic library error",
    "bad signature",
    "wrong epoch",
    "signers do not reach the quorum",
    "blob ID mismatch",
    "input/output error",
    "not a publisher of the committee",
    "not the start of a record entry",
    "no registration",
    "epoch not in the committee history"
};


const char *
walrus_strerror(int rc)
{
    if (rc < 0
        || (size_t) rc >= sizeof(walrus_errors) / sizeof(walrus_errors[0]))
    {
        return "unknown error";
    }

    return walrus_errors[rc];
}


int
walrus_params_init(walrus_params_t *wp, unsigned n)
{
    if (n < WALRUS_MIN_SHARDS || n > WALRUS_MAX_SHARDS) {
        return WALRUS_EINVAL;
    }

    wp->n = n;
    wp->f = (n - 1) / 3;
    wp->p = n - 2 * wp->f;
    wp->s = n - wp->f;

    return WALRUS_OK;
}


size_t
walrus_symbol_size(const walrus_params_t *wp, uint64_t seg_len)
{
    uint64_t  cells, sym;

    cells = (uint64_t) wp->p * wp->s;
    sym = (seg_len + cells - 1) / cells;

    if (sym == 0) {
        sym = 1;
    }

    sym = (sym + WALRUS_SYMBOL_ALIGN - 1) / WALRUS_SYMBOL_ALIGN
          * WALRUS_SYMBOL_ALIGN;

    return (size_t) sym;
}


uint64_t
walrus_segment_count(uint64_t length, uint32_t segment_size)
{
    if (length == 0) {
        return 1;
    }

    return (length + segment_size - 1) / segment_size;
}


uint64_t
walrus_segment_length(uint64_t length, uint32_t segment_size, uint64_t idx)
{
    uint64_t  start;

    start = idx * segment_size;

    if (start >= length) {
        return 0;
    }

    return length - start < segment_size ? length - start : segment_size;
}


static unsigned
walrus_blob_id_mod(const uint8_t *blob_id, unsigned n)
{
    unsigned  i, r;

    /* the blob ID read as a big-endian integer, modulo n */

    r = 0;

    for (i = 0; i < WALRUS_BLOB_ID_LEN; i++) {
        r = (r * 256 + blob_id[i]) % n;
    }

    return r;
}


unsigned
walrus_pair_to_shard(const walrus_params_t *wp, const uint8_t *blob_id,
    unsigned pair)
{
    return (pair + walrus_blob_id_mod(blob_id, wp->n)) % wp->n;
}


unsigned
walrus_shard_to_pair(const walrus_params_t *wp, const uint8_t *blob_id,
    unsigned shard)
{
    return (shard + wp->n - walrus_blob_id_mod(blob_id, wp->n)) % wp->n;
}
