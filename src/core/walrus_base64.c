/*
 * URL-safe base64 without padding.
 */

#include <walrus_base64.h>


static const char  walrus_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


static int walrus_b64_value(char ch);


size_t
walrus_base64url_encode(const uint8_t *src, size_t len, char *dst)
{
    char      *d;
    size_t     i;
    uint32_t   v;

    d = dst;

    for (i = 0; i + 2 < len; i += 3) {
        v = (uint32_t) src[i] << 16 | (uint32_t) src[i + 1] << 8 | src[i + 2];
        *d++ = walrus_b64_alphabet[(v >> 18) & 0x3f];
        *d++ = walrus_b64_alphabet[(v >> 12) & 0x3f];
        *d++ = walrus_b64_alphabet[(v >> 6) & 0x3f];
        *d++ = walrus_b64_alphabet[v & 0x3f];
    }

    if (len - i == 1) {
        v = (uint32_t) src[i] << 16;
        *d++ = walrus_b64_alphabet[(v >> 18) & 0x3f];
        *d++ = walrus_b64_alphabet[(v >> 12) & 0x3f];

    } else if (len - i == 2) {
        v = (uint32_t) src[i] << 16 | (uint32_t) src[i + 1] << 8;
        *d++ = walrus_b64_alphabet[(v >> 18) & 0x3f];
        *d++ = walrus_b64_alphabet[(v >> 12) & 0x3f];
        *d++ = walrus_b64_alphabet[(v >> 6) & 0x3f];
    }

    return d - dst;
}


static int
walrus_b64_value(char ch)
{
    if (ch >= 'A' && ch <= 'Z') {
        return ch - 'A';
    }

    if (ch >= 'a' && ch <= 'z') {
        return ch - 'a' + 26;
    }

    if (ch >= '0' && ch <= '9') {
        return ch - '0' + 52;
    }

    if (ch == '-') {
        return 62;
    }

    if (ch == '_') {
        return 63;
    }

    return -1;
}


int
walrus_base64url_decode(const char *src, size_t len, uint8_t *dst,
    size_t *dst_len)
{
    int        c;
    size_t     i, k, tail;
    uint8_t   *d;
    uint32_t   v;

    tail = len % 4;

    if (tail == 1) {
        return WALRUS_EFORMAT;
    }

    d = dst;
    v = 0;
    k = 0;

    for (i = 0; i < len; i++) {
        c = walrus_b64_value(src[i]);

        if (c < 0) {
            return WALRUS_EFORMAT;
        }

        v = v << 6 | (uint32_t) c;

        if (++k == 4) {
            *d++ = (uint8_t) (v >> 16);
            *d++ = (uint8_t) (v >> 8);
            *d++ = (uint8_t) v;
            v = 0;
            k = 0;
        }
    }

    if (tail == 2) {
        if (v & 0x0f) {
            return WALRUS_EFORMAT;
        }

        *d++ = (uint8_t) (v >> 4);

    } else if (tail == 3) {
        if (v & 0x03) {
            return WALRUS_EFORMAT;
        }

        *d++ = (uint8_t) (v >> 10);
        *d++ = (uint8_t) (v >> 2);
    }

    if (dst_len != NULL) {
        *dst_len = d - dst;
    }

    return WALRUS_OK;
}
