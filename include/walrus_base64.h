/*
 * URL-safe base64 without padding (RFC 4648 section 5).
 */

#ifndef _WALRUS_BASE64_H_INCLUDED_
#define _WALRUS_BASE64_H_INCLUDED_


#include <walrus_types.h>


#define walrus_base64url_encoded_len(n)  (((n) * 4 + 2) / 3)
#define walrus_base64url_decoded_len(n)  ((n) * 3 / 4)


/* writes walrus_base64url_encoded_len(len) characters, no NUL */
size_t walrus_base64url_encode(const uint8_t *src, size_t len, char *dst);

/*
 * Strict decode: only the URL-safe alphabet, no padding, no white space,
 * unused trailing bits zero.  Writes walrus_base64url_decoded_len(len)
 * bytes; WALRUS_EFORMAT on anything else.
 */
int walrus_base64url_decode(const char *src, size_t len, uint8_t *dst,
    size_t *dst_len);


#endif /* _WALRUS_BASE64_H_INCLUDED_ */
