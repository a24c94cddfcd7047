/*
 * HTTP helpers: content type sniffing, Range and Content-Disposition.
 */

#include <string.h>
#include <walrus_http.h>


#define WALRUS_OCTET_STREAM  "application/octet-stream"
#define WALRUS_RANGE_MAX     ((uint64_t) INT64_MAX)


typedef struct {
    char    *out;
    size_t   size;
    size_t   pos;
    int      full;
} walrus_writer_t;


static int walrus_match(const uint8_t *p, size_t len, size_t i,
    const char *s);
static int walrus_match_ci(const uint8_t *p, size_t len, size_t i,
    const char *s);
static int walrus_is_space(int c);
static size_t walrus_skip_space(const uint8_t *p, size_t len, size_t i);
static size_t walrus_skip_past(const uint8_t *p, size_t len, size_t i,
    const char *end);
static size_t walrus_text_start(const uint8_t *p, size_t len);
static int walrus_utf8_char(const uint8_t *p, size_t len, size_t *n);
static int walrus_sniff_utf8(const uint8_t *p, size_t len, int json);
static const char *walrus_sniff_binary(const uint8_t *p, size_t len);
static const char *walrus_sniff_bmff(const uint8_t *p, size_t len);
static int walrus_mp4_brand(const uint8_t *b);
static int walrus_sniff_mpeg_frame(const uint8_t *p, size_t len);
static int walrus_sniff_svg(const uint8_t *p, size_t len);
static int walrus_sniff_html(const uint8_t *p, size_t len);
static int walrus_sniff_json(const uint8_t *p, size_t len);
static const char *walrus_range_number(const char *p, const char *last,
    uint64_t *n);
static void walrus_put(walrus_writer_t *w, const char *s, size_t len);
static int walrus_attr_char(int c);


static int
walrus_match(const uint8_t *p, size_t len, size_t i, const char *s)
{
    size_t  n;

    n = strlen(s);

    return i <= len && len - i >= n && memcmp(p + i, s, n) == 0;
}


static int
walrus_match_ci(const uint8_t *p, size_t len, size_t i, const char *s)
{
    int  c;

    for ( /* void */ ; *s != '\0'; s++, i++) {
        if (i >= len) {
            return 0;
        }

        c = p[i];

        if (c >= 'A' && c <= 'Z') {
            c |= 0x20;
        }

        if (c != *s) {
            return 0;
        }
    }

    return 1;
}


static int
walrus_is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}


static size_t
walrus_skip_space(const uint8_t *p, size_t len, size_t i)
{
    while (i < len && walrus_is_space(p[i])) {
        i++;
    }

    return i;
}


/* the index just after the first `end` at or after i, 0 if none */

static size_t
walrus_skip_past(const uint8_t *p, size_t len, size_t i, const char *end)
{
    for ( /* void */ ; i < len; i++) {
        if (walrus_match(p, len, i, end)) {
            return i + strlen(end);
        }
    }

    return 0;
}


static size_t
walrus_text_start(const uint8_t *p, size_t len)
{
    size_t  i;

    i = walrus_match(p, len, 0, "\xef\xbb\xbf") ? 3 : 0;

    return walrus_skip_space(p, len, i);
}


/*
 * 1 and the length in *n for a well-formed UTF-8 character at p, -1 when
 * the data ends inside an otherwise well-formed character, 0 otherwise.
 */

static int
walrus_utf8_char(const uint8_t *p, size_t len, size_t *n)
{
    size_t   k, need;
    uint8_t  c, lo, hi;

    c = p[0];
    lo = 0x80;
    hi = 0xbf;

    if (c < 0x80) {
        *n = 1;
        return 1;
    }

    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;

    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;

        if (c == 0xe0) {
            lo = 0xa0;

        } else if (c == 0xed) {
            hi = 0x9f;
        }

    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;

        if (c == 0xf0) {
            lo = 0x90;

        } else if (c == 0xf4) {
            hi = 0x8f;
        }

    } else {
        return 0;
    }

    for (k = 1; k < need; k++) {
        if (k == len) {
            return -1;
        }

        if (p[k] < lo || p[k] > hi) {
            return 0;
        }

        lo = 0x80;
        hi = 0xbf;
    }

    *n = need;

    return 1;
}


/*
 * Valid UTF-8 without control characters but \t, \n, \r and, unless
 * json, \f.  A character cut off by the end of the window is accepted.
 */

static int
walrus_sniff_utf8(const uint8_t *p, size_t len, int json)
{
    int     rc;
    size_t  i, n;

    for (i = 0; i < len; i += n) {
        if (p[i] < 0x20) {
            if (p[i] != '\t' && p[i] != '\n' && p[i] != '\r'
                && (json || p[i] != '\f'))
            {
                return 0;
            }
        }

        if (p[i] == 0x7f) {
            return 0;
        }

        rc = walrus_utf8_char(p + i, len - i, &n);

        if (rc == 0) {
            return 0;
        }

        if (rc < 0) {
            return 1;
        }
    }

    return 1;
}


static const char *
walrus_sniff_binary(const uint8_t *p, size_t len)
{
    if (walrus_match(p, len, 0, "\x89PNG\x0d\x0a\x1a\x0a")) {
        return "image/png";
    }

    if (walrus_match(p, len, 0, "\xff\xd8\xff")) {
        return "image/jpeg";
    }

    if (walrus_match(p, len, 0, "GIF87a")
        || walrus_match(p, len, 0, "GIF89a"))
    {
        return "image/gif";
    }

    if (walrus_match(p, len, 0, "RIFF")) {
        if (walrus_match(p, len, 8, "WEBP")) {
            return "image/webp";
        }

        if (walrus_match(p, len, 8, "WAVE")) {
            return "audio/wav";
        }
    }

    if (walrus_match(p, len, 0, "\x1a\x45\xdf\xa3")) {
        return "video/webm";
    }

    if (walrus_match(p, len, 0, "OggS")) {
        return "audio/ogg";
    }

    if (walrus_match(p, len, 0, "%PDF-")) {
        return "application/pdf";
    }

    if (walrus_match(p, len, 0, "ID3") || walrus_sniff_mpeg_frame(p, len)) {
        return "audio/mpeg";
    }

    return walrus_sniff_bmff(p, len);
}


/*
 * An ISO BMFF file starts with an 'ftyp' box: size, "ftyp", major brand,
 * minor version, compatible brands.  Files with an unknown set of brands
 * (HEIC, QuickTime, 3GPP...) are left to the later checks.
 */

static const char *
walrus_sniff_bmff(const uint8_t *p, size_t len)
{
    int       video;
    size_t    i, end;
    uint32_t  box;

    if (len < 12 || !walrus_match(p, len, 4, "ftyp")) {
        return NULL;
    }

    box = (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
          | (uint32_t) p[2] << 8 | p[3];

    if (box < 16 || box % 4 != 0) {
        return NULL;
    }

    end = box < len ? box : len;
    video = 0;

    /* the major brand at 8, then the compatible brands from 16 */

    for (i = 8; i + 4 <= end; i += (i == 8) ? 8 : 4) {
        if (walrus_match(p, len, i, "avif")
            || walrus_match(p, len, i, "avis"))
        {
            return "image/avif";
        }

        video |= walrus_mp4_brand(p + i);
    }

    return video ? "video/mp4" : NULL;
}


static int
walrus_mp4_brand(const uint8_t *b)
{
    size_t  k;

    static const char  *brands[] = {
        "isom", "mp41", "mp42", "mp71", "avc1", "M4V ", "M4VH", "M4VP",
        "dash", "mmp4", "f4v ", "msnv"
    };

    if (b[0] == 'i' && b[1] == 's' && b[2] == 'o'
        && b[3] >= '2' && b[3] <= '9')
    {
        return 1;
    }

    for (k = 0; k < sizeof(brands) / sizeof(brands[0]); k++) {
        if (memcmp(b, brands[k], 4) == 0) {
            return 1;
        }
    }

    return 0;
}


/* an MPEG audio frame header with no reserved field values */

static int
walrus_sniff_mpeg_frame(const uint8_t *p, size_t len)
{
    unsigned  version, layer, bitrate, rate;

    if (len < 4 || p[0] != 0xff || (p[1] & 0xe0) != 0xe0) {
        return 0;
    }

    version = (p[1] >> 3) & 3;
    layer = (p[1] >> 1) & 3;
    bitrate = p[2] >> 4;
    rate = (p[2] >> 2) & 3;

    return version != 1 && layer != 0 && bitrate != 0x0f && rate != 3;
}


static int
walrus_sniff_svg(const uint8_t *p, size_t len)
{
    size_t  i;

    i = walrus_text_start(p, len);

    for ( ;; ) {
        i = walrus_skip_space(p, len, i);

        if (walrus_match(p, len, i, "<?xml")) {
            i = walrus_skip_past(p, len, i + 5, "?>");

        } else if (walrus_match(p, len, i, "<!--")) {
            i = walrus_skip_past(p, len, i + 4, "-->");

        } else if (walrus_match(p, len, i, "<!DOCTYPE svg")) {
            i = walrus_skip_past(p, len, i + 13, ">");

        } else {
            break;
        }

        if (i == 0) {
            return 0;
        }
    }

    return walrus_match(p, len, i, "<svg") && i + 4 < len
           && (walrus_is_space(p[i + 4]) || p[i + 4] == '>'
               || p[i + 4] == '/');
}


static int
walrus_sniff_html(const uint8_t *p, size_t len)
{
    size_t  i, k, n;

    static const char  *tags[] = {
        "<!doctype html", "<html", "<head", "<body", "<script"
    };

    i = walrus_text_start(p, len);

    while (walrus_match(p, len, i, "<!--")) {
        i = walrus_skip_past(p, len, i + 4, "-->");

        if (i == 0) {
            return 0;
        }

        i = walrus_skip_space(p, len, i);
    }

    for (k = 0; k < sizeof(tags) / sizeof(tags[0]); k++) {
        n = strlen(tags[k]);

        if (walrus_match_ci(p, len, i, tags[k]) && i + n < len
            && (walrus_is_space(p[i + n]) || p[i + n] == '>'))
        {
            return 1;
        }
    }

    return 0;
}


/*
 * An object or an array whose first member looks like JSON, so that
 * "[INFO] ..." stays text.
 */

static int
walrus_sniff_json(const uint8_t *p, size_t len)
{
    int     c;
    size_t  i;

    i = walrus_text_start(p, len);

    if (i == len || (p[i] != '{' && p[i] != '[')) {
        return 0;
    }

    c = p[i];
    i = walrus_skip_space(p, len, i + 1);

    if (i < len) {
        if (c == '{') {
            if (p[i] != '"' && p[i] != '}') {
                return 0;
            }

        } else if (strchr("{[]\"-0123456789tfn", p[i]) == NULL
                   || p[i] == '\0')
        {
            return 0;
        }
    }

    return walrus_sniff_utf8(p, len, 1);
}


const char *
walrus_sniff_content_type(const uint8_t *data, size_t len)
{
    const char  *type;

    if (data == NULL || len == 0) {
        return WALRUS_OCTET_STREAM;
    }

    if (len > WALRUS_SNIFF_LEN) {
        len = WALRUS_SNIFF_LEN;
    }

    type = walrus_sniff_binary(data, len);

    if (type != NULL) {
        return type;
    }

    if (walrus_sniff_svg(data, len)) {
        return "image/svg+xml";
    }

    if (walrus_sniff_html(data, len)) {
        return "text/html; charset=utf-8";
    }

    if (walrus_sniff_json(data, len)) {
        return "application/json";
    }

    if (walrus_sniff_utf8(data, len, 0)) {
        return "text/plain; charset=utf-8";
    }

    return WALRUS_OCTET_STREAM;
}


/* every type walrus_sniff_content_type() gives */

static const char  *walrus_sniffed_types[] = {
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif",
    "image/svg+xml", "audio/wav", "audio/ogg", "audio/mpeg", "video/webm",
    "video/mp4", "application/pdf", "text/html; charset=utf-8",
    "application/json", "text/plain; charset=utf-8", WALRUS_OCTET_STREAM
};


const char *
walrus_content_type_known(const char *type, size_t len)
{
    size_t  i;

    for (i = 0; i < sizeof(walrus_sniffed_types) / sizeof(char *); i++) {
        if (strlen(walrus_sniffed_types[i]) == len
            && memcmp(walrus_sniffed_types[i], type, len) == 0)
        {
            return walrus_sniffed_types[i];
        }
    }

    return NULL;
}


/* 1*DIGIT up to 2^63 - 1; NULL when there is none or it is larger */

static const char *
walrus_range_number(const char *p, const char *last, uint64_t *n)
{
    const char  *start;
    uint64_t     v, d;

    v = 0;

    for (start = p; p < last && *p >= '0' && *p <= '9'; p++) {
        d = (uint64_t) (*p - '0');

        if (v > (WALRUS_RANGE_MAX - d) / 10) {
            return NULL;
        }

        v = v * 10 + d;
    }

    if (p == start) {
        return NULL;
    }

    *n = v;

    return p;
}


/*
 * RFC 9110 allows a server to ignore Range, so whatever we do not fully
 * understand (bad syntax, another unit, a number over 2^63 - 1, a
 * first-pos above last-pos, several ranges) is ignored and answered with
 * 200 and the whole blob rather than 416 or multipart/byteranges.
 * White space is tolerated around the range-spec, not before '='.
 */

int
walrus_range_parse(const char *value, size_t len, uint64_t size,
    walrus_range_t *r)
{
    uint64_t     a, b;
    const char  *p, *last;

    if (value == NULL) {
        return WALRUS_RANGE_NONE;
    }

    p = value;
    last = value + len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    if (!walrus_match_ci((const uint8_t *) p, last - p, 0, "bytes=")) {
        return WALRUS_RANGE_NONE;
    }

    p += 6;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if (p < last && *p == '-') {

        /* suffix-range: the last b bytes */

        p = walrus_range_number(p + 1, last, &b);

        if (p == NULL || p != last) {
            return WALRUS_RANGE_NONE;
        }

        if (b == 0 || size == 0) {
            return WALRUS_RANGE_UNSATISFIABLE;
        }

        r->start = b >= size ? 0 : size - b;
        r->end = size - 1;

        return WALRUS_RANGE_OK;
    }

    p = walrus_range_number(p, last, &a);

    if (p == NULL || p == last || *p != '-') {
        return WALRUS_RANGE_NONE;
    }

    p++;
    b = UINT64_MAX;

    if (p != last) {
        p = walrus_range_number(p, last, &b);

        /* a ',' lands here too: more than one range */

        if (p == NULL || p != last || a > b) {
            return WALRUS_RANGE_NONE;
        }
    }

    if (a >= size) {
        return WALRUS_RANGE_UNSATISFIABLE;
    }

    r->start = a;
    r->end = b < size - 1 ? b : size - 1;

    return WALRUS_RANGE_OK;
}


int
walrus_byte_range_query(uint64_t start, uint64_t length, uint64_t size,
    walrus_range_t *r)
{
    if (length == 0 || start > size || length > size - start) {
        return WALRUS_EINVAL;
    }

    r->start = start;
    r->end = start + length - 1;

    return WALRUS_OK;
}


static void
walrus_put(walrus_writer_t *w, const char *s, size_t len)
{
    if (w->full || w->size - w->pos < len) {
        w->full = 1;
        return;
    }

    memcpy(w->out + w->pos, s, len);
    w->pos += len;
}


/* RFC 8187 attr-char */

static int
walrus_attr_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9')
           || (c != '\0' && strchr("!#$&+-.^_`|~", c) != NULL);
}


/*
 * The quoted filename is an ASCII fallback: each non-ASCII character
 * becomes one '_', as do control characters, '"' and '\'.  filename*
 * carries the real name, but control characters stay '_' there too.
 */

size_t
walrus_content_disposition(const char *filename, size_t len,
    int attachment, char *out, size_t outlen)
{
    int              ext;
    char             hex[3];
    size_t           i, n;
    const uint8_t   *name;
    walrus_writer_t  w;

    static const char  digits[] = "0123456789ABCDEF";

    if (filename == NULL) {
        return 0;
    }

    name = (const uint8_t *) filename;

    for (i = len; i > 0; i--) {
        if (name[i - 1] == '/' || name[i - 1] == '\\') {
            break;
        }
    }

    name += i;
    len -= i;

    if (len == 0) {
        return 0;
    }

    ext = 0;

    for (i = 0; i < len; i += n) {
        if (walrus_utf8_char(name + i, len - i, &n) != 1) {
            return 0;
        }

        if (name[i] < 0x20 || name[i] >= 0x7f || name[i] == '"'
            || name[i] == '\\')
        {
            ext = 1;
        }
    }

    w.out = out;
    w.size = out != NULL ? outlen : 0;
    w.pos = 0;
    w.full = 0;

    if (attachment) {
        walrus_put(&w, "attachment", sizeof("attachment") - 1);

    } else {
        walrus_put(&w, "inline", sizeof("inline") - 1);
    }

    walrus_put(&w, "; filename=\"", sizeof("; filename=\"") - 1);

    for (i = 0; i < len; i += n) {
        walrus_utf8_char(name + i, len - i, &n);

        if (name[i] < 0x20 || name[i] >= 0x7f || name[i] == '"'
            || name[i] == '\\')
        {
            walrus_put(&w, "_", 1);

        } else {
            walrus_put(&w, (const char *) name + i, 1);
        }
    }

    walrus_put(&w, "\"", 1);

    if (ext) {
        walrus_put(&w, "; filename*=UTF-8''",
                   sizeof("; filename*=UTF-8''") - 1);

        for (i = 0; i < len; i++) {
            if (name[i] < 0x20 || name[i] == 0x7f) {
                walrus_put(&w, "_", 1);

            } else if (walrus_attr_char(name[i])) {
                walrus_put(&w, (const char *) name + i, 1);

            } else {
                hex[0] = '%';
                hex[1] = digits[name[i] >> 4];
                hex[2] = digits[name[i] & 0x0f];
                walrus_put(&w, hex, 3);
            }
        }
    }

    return w.full ? 0 : w.pos;
}
