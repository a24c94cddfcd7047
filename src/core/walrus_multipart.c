/*
 * multipart/form-data (RFC 7578, RFC 2046 section 5.1): the boundary of
 * a Content-Type and the parts of a body, each with the name of its
 * Content-Disposition and its Content-Type.  Bounded: a part's headers
 * take at most WALRUS_MULTIPART_MAX_HEADERS bytes.
 */

#define _GNU_SOURCE
#include <string.h>
#include <strings.h>
#include <stdio.h>
#include <walrus_quilt.h>


#define WALRUS_MULTIPART_MAX_HEADERS  8192
#define WALRUS_MULTIPART_MAX_BOUNDARY 70


static int walrus_multipart_headers(const uint8_t *p, const uint8_t *last,
    walrus_multipart_part_t *part, char *error);
static int walrus_multipart_param(const uint8_t *p, const uint8_t *last,
    const char *name, const uint8_t **value, size_t *len);
static const uint8_t *walrus_multipart_skip_ws(const uint8_t *p,
    const uint8_t *last);
static int walrus_multipart_fail(char *error, int rc, const char *msg);


int
walrus_multipart_boundary(const uint8_t *type, size_t len,
    const uint8_t **boundary, size_t *blen)
{
    size_t          i;
    const uint8_t  *last;

    static const char  mt[] = "multipart/form-data";

    last = type + len;

    if (len < sizeof(mt) - 1 || strncasecmp((char *) type, mt,
                                            sizeof(mt) - 1) != 0)
    {
        return WALRUS_EFORMAT;
    }

    type += sizeof(mt) - 1;
    type = walrus_multipart_skip_ws(type, last);

    if (type == last || *type != ';') {
        return WALRUS_EFORMAT;
    }

    if (walrus_multipart_param(type, last, "boundary", boundary, blen)
        != WALRUS_OK
        || *blen == 0 || *blen > WALRUS_MULTIPART_MAX_BOUNDARY)
    {
        return WALRUS_EFORMAT;
    }

    /* RFC 2046 bchars, and no CR or LF that would break the search */

    for (i = 0; i < *blen; i++) {
        if ((*boundary)[i] < 0x20 || (*boundary)[i] > 0x7e) {
            return WALRUS_EFORMAT;
        }
    }

    return WALRUS_OK;
}


int
walrus_multipart_parse(const uint8_t *body, size_t len,
    const uint8_t *boundary, size_t blen, walrus_multipart_part_t *parts,
    unsigned max, unsigned *nparts, char *error)
{
    uint8_t                   delim[4 + WALRUS_MULTIPART_MAX_BOUNDARY];
    size_t                    dlen;
    const uint8_t            *p, *last, *next, *hend;
    walrus_multipart_part_t  *part;

    *nparts = 0;
    last = body + len;

    if (blen == 0 || blen > WALRUS_MULTIPART_MAX_BOUNDARY) {
        return walrus_multipart_fail(error, WALRUS_EFORMAT,
                                     "invalid multipart boundary");
    }

    /* "\r\n--boundary"; the first one may start the body */

    delim[0] = '\r';
    delim[1] = '\n';
    delim[2] = '-';
    delim[3] = '-';
    memcpy(delim + 4, boundary, blen);
    dlen = 4 + blen;

    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0) {
        p = body + dlen - 2;

    } else {
        p = memmem(body, len, delim, dlen);
        if (p == NULL) {
            return walrus_multipart_fail(error, WALRUS_EFORMAT,
                                         "no multipart boundary in the body");
        }

        p += dlen;
    }

    for ( ;; ) {

        /* after a delimiter: "--" ends the body, else padding and CRLF */

        if (last - p >= 2 && p[0] == '-' && p[1] == '-') {
            return WALRUS_OK;
        }

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (last - p < 2 || p[0] != '\r' || p[1] != '\n') {
            return walrus_multipart_fail(error, WALRUS_EFORMAT,
                                         "truncated or malformed multipart "
                                         "body after a boundary");
        }

        p += 2;

        if (*nparts == max) {
            return walrus_multipart_fail(error, WALRUS_ELENGTH,
                                         "too many parts");
        }

        part = &parts[(*nparts)++];
        memset(part, 0, sizeof(walrus_multipart_part_t));

        /* headers end at an empty line, an empty part at once */

        if (last - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            hend = p;

        } else {
            hend = memmem(p, (size_t) (last - p) < WALRUS_MULTIPART_MAX_HEADERS
                             ? (size_t) (last - p)
                             : WALRUS_MULTIPART_MAX_HEADERS,
                          "\r\n\r\n", 4);
            if (hend == NULL) {
                return walrus_multipart_fail(error, WALRUS_EFORMAT,
                                             "a part's headers are "
                                             "truncated or too long");
            }

            hend += 2;
        }

        if (walrus_multipart_headers(p, hend, part, error) != WALRUS_OK) {
            return WALRUS_EFORMAT;
        }

        p = hend + 2;

        next = memmem(p, last - p, delim, dlen);
        if (next == NULL) {
            return walrus_multipart_fail(error, WALRUS_EFORMAT,
                                         "truncated multipart body: a part "
                                         "has no closing boundary");
        }

        part->data = p;
        part->len = next - p;

        p = next + dlen;
    }
}


/*
 * Header lines [p, last), each ending with CRLF: Content-Disposition
 * (form-data with a name) is required, Content-Type is kept, others are
 * ignored.  Folded lines are obsolete (RFC 7578 section 4.8) and refused.
 */

static int
walrus_multipart_headers(const uint8_t *p, const uint8_t *last,
    walrus_multipart_part_t *part, char *error)
{
    const uint8_t  *eol, *colon, *v, *vend;

    static const char  cd[] = "content-disposition";
    static const char  ct[] = "content-type";
    static const char  fd[] = "form-data";

    while (p < last) {
        eol = memmem(p, last - p, "\r\n", 2);
        if (eol == NULL) {
            eol = last;
        }

        colon = memchr(p, ':', eol - p);

        if (colon == NULL || colon == p || *p == ' ' || *p == '\t') {
            return walrus_multipart_fail(error, WALRUS_EFORMAT,
                                         "malformed part header line");
        }

        v = walrus_multipart_skip_ws(colon + 1, eol);
        vend = eol;

        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t')) {
            vend--;
        }

        if ((size_t) (colon - p) == sizeof(cd) - 1
            && strncasecmp((char *) p, cd, sizeof(cd) - 1) == 0)
        {
            if ((size_t) (vend - v) < sizeof(fd) - 1
                || strncasecmp((char *) v, fd, sizeof(fd) - 1) != 0)
            {
                return walrus_multipart_fail(error, WALRUS_EFORMAT,
                                             "a part is not form-data");
            }

            if (walrus_multipart_param(v + sizeof(fd) - 1, vend, "name",
                                       &part->name, &part->name_len)
                != WALRUS_OK)
            {
                return walrus_multipart_fail(error, WALRUS_EFORMAT,
                                             "a part's name is missing or "
                                             "malformed");
            }

        } else if ((size_t) (colon - p) == sizeof(ct) - 1
                   && strncasecmp((char *) p, ct, sizeof(ct) - 1) == 0)
        {
            part->type = v;
            part->type_len = vend - v;
        }

        p = eol + 2;
    }

    if (part->name == NULL) {
        return walrus_multipart_fail(error, WALRUS_EFORMAT,
                                     "a part has no Content-Disposition "
                                     "name");
    }

    return WALRUS_OK;
}


/*
 * The value of parameter `name` in "; a=b; name=value" or name="value"
 * ([p, last) starts at a ';').  Quoted values with backslash escapes are
 * refused rather than copied: identifiers are plain names.
 */

static int
walrus_multipart_param(const uint8_t *p, const uint8_t *last,
    const char *name, const uint8_t **value, size_t *len)
{
    size_t          nlen, klen;
    const uint8_t  *k, *q;

    nlen = strlen(name);

    while (p < last) {
        p = walrus_multipart_skip_ws(p, last);

        if (p == last || *p != ';') {
            return WALRUS_EFORMAT;
        }

        k = walrus_multipart_skip_ws(p + 1, last);
        p = k;

        while (p < last && *p != '=' && *p != ';') {
            p++;
        }

        if (p == last || *p != '=') {
            return WALRUS_EFORMAT;
        }

        klen = p - k;
        q = p + 1;

        if (q < last && *q == '"') {
            q++;
            p = q;

            while (p < last && *p != '"') {
                if (*p == '\\') {
                    return WALRUS_EFORMAT;
                }

                p++;
            }

            if (p == last) {
                return WALRUS_EFORMAT;
            }

            *value = q;
            *len = p - q;
            p++;

        } else {
            p = q;

            while (p < last && *p != ';' && *p != ' ' && *p != '\t') {
                p++;
            }

            *value = q;
            *len = p - q;
        }

        /* "name" but not "filename": the key must match exactly */

        if (klen == nlen && strncasecmp((char *) k, name, nlen) == 0)
        {
            return WALRUS_OK;
        }
    }

    return WALRUS_EFORMAT;
}


static const uint8_t *
walrus_multipart_skip_ws(const uint8_t *p, const uint8_t *last)
{
    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    return p;
}


static int
walrus_multipart_fail(char *error, int rc, const char *msg)
{
    snprintf(error, WALRUS_QUILT_ERROR_LEN, "%s", msg);
    return rc;
}
