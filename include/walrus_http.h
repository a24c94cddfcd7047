/*
 * HTTP helpers of the gateway: content type sniffing, Range requests and
 * Content-Disposition.  Pure functions: no allocation, no global state.
 */

#ifndef _WALRUS_HTTP_H_INCLUDED_
#define _WALRUS_HTTP_H_INCLUDED_


#include <walrus_types.h>


#define WALRUS_SNIFF_LEN            512

#define WALRUS_RANGE_NONE           0  /* serve the whole representation */
#define WALRUS_RANGE_OK             1  /* one satisfiable range in *r */
#define WALRUS_RANGE_UNSATISFIABLE  2  /* answer 416 */


typedef struct {
    uint64_t  start;
    uint64_t  end;                     /* inclusive */
} walrus_range_t;


/*
 * Media type of a blob from its first bytes (at most WALRUS_SNIFF_LEN of
 * them are looked at); "application/octet-stream" when nothing fits.
 * The result is a static string.
 */
const char *walrus_sniff_content_type(const uint8_t *data, size_t len);

/*
 * The static string of a type walrus_sniff_content_type() can give, when
 * `type` (len bytes, not terminated) is one of them; NULL otherwise.
 */
const char *walrus_content_type_known(const char *type, size_t len);

/*
 * Parses a Range field value (RFC 9110, section 14) for a representation
 * of size bytes.  Only a single range of the "bytes" unit is honoured:
 * anything else, including several ranges, yields WALRUS_RANGE_NONE and
 * the whole representation is served with 200.  *r is set only on
 * WALRUS_RANGE_OK.
 */
int walrus_range_parse(const char *value, size_t len, uint64_t size,
    walrus_range_t *r);

/*
 * The /byte-range?start=&length= query: WALRUS_OK and
 * r = [start, start + length - 1] when length > 0 and the range lies
 * within the blob, WALRUS_EINVAL otherwise.
 */
int walrus_byte_range_query(uint64_t start, uint64_t length, uint64_t size,
    walrus_range_t *r);

/*
 * Writes a Content-Disposition value for filename (any path before the
 * last '/' or '\' is dropped), without a terminating NUL.  Returns its
 * length, or 0 when it does not fit in outlen bytes or the name is empty
 * or not valid UTF-8: the header should then be omitted.
 */
size_t walrus_content_disposition(const char *filename, size_t len,
    int attachment, char *out, size_t outlen);


#endif /* _WALRUS_HTTP_H_INCLUDED_ */
