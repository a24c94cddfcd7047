/*
 * The quilt layout (docs/protocol.md section 20): built from the parts
 * of an upload, parsed back from a blob's first bytes, and patch IDs.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <walrus_quilt.h>
#include <walrus_base64.h>


static int walrus_quilt_metadata(walrus_quilt_t *q,
    const walrus_multipart_part_t *part, unsigned *ntags, char *error);
static int walrus_quilt_tags(walrus_quilt_t *q, walrus_quilt_patch_t *patch,
    json_t *tags, walrus_quilt_tag_t *out, char *error);
static size_t walrus_quilt_entry_len(const walrus_quilt_patch_t *p);
static int walrus_quilt_fail(char *error, int rc, const char *fmt, ...);
static uint64_t walrus_get64(const uint8_t *p);
static void walrus_put64(uint8_t *p, uint64_t v);


int
walrus_quilt_from_parts(walrus_quilt_t *q,
    const walrus_multipart_part_t *parts, unsigned nparts, char *error)
{
    int                             rc;
    size_t                          index_len;
    uint64_t                        offset;
    unsigned                        i, j, n, ntags;
    walrus_quilt_patch_t           *p;
    const walrus_multipart_part_t  *meta;

    memset(q, 0, sizeof(walrus_quilt_t));

    meta = NULL;
    n = 0;

    for (i = 0; i < nparts; i++) {
        if (parts[i].name_len == sizeof(WALRUS_QUILT_METADATA_PART) - 1
            && memcmp(parts[i].name, WALRUS_QUILT_METADATA_PART,
                      parts[i].name_len) == 0)
        {
            if (meta != NULL) {
                return walrus_quilt_fail(error, WALRUS_EFORMAT,
                                         "more than one _metadata part");
            }

            meta = &parts[i];
            continue;
        }

        n++;
    }

    if (n == 0) {
        return walrus_quilt_fail(error, WALRUS_EFORMAT,
                                 "a quilt needs at least one file");
    }

    if (n > WALRUS_QUILT_MAX_PATCHES) {
        return walrus_quilt_fail(error, WALRUS_ELENGTH,
                                 "more than %d files in one quilt",
                                 WALRUS_QUILT_MAX_PATCHES);
    }

    q->patches = calloc(n, sizeof(walrus_quilt_patch_t));
    if (q->patches == NULL) {
        return WALRUS_ENOMEM;
    }

    for (i = 0; i < nparts; i++) {
        if (&parts[i] == meta) {
            continue;
        }

        p = &q->patches[q->npatches];

        if (parts[i].name_len == 0
            || parts[i].name_len > WALRUS_QUILT_MAX_ID
            || !walrus_quilt_text_ok(parts[i].name, parts[i].name_len))
        {
            rc = walrus_quilt_fail(error, WALRUS_EFORMAT,
                                   "identifier %u is not 1 to %d bytes of "
                                   "UTF-8 without control characters",
                                   q->npatches, WALRUS_QUILT_MAX_ID);
            goto failed;
        }

        for (j = 0; j < q->npatches; j++) {
            if (q->patches[j].id_len == parts[i].name_len
                && memcmp(q->patches[j].id, parts[i].name,
                          parts[i].name_len) == 0)
            {
                rc = walrus_quilt_fail(error, WALRUS_EFORMAT,
                                       "duplicate identifier \"%.*s\"",
                                       (int) parts[i].name_len,
                                       parts[i].name);
                goto failed;
            }
        }

        p->id = parts[i].name;
        p->id_len = parts[i].name_len;
        p->data = parts[i].data;
        p->length = parts[i].len;
        p->type = (const uint8_t *) "";

        if (parts[i].type != NULL) {
            for (j = 0; j < parts[i].type_len; j++) {
                if (parts[i].type[j] < 0x20 || parts[i].type[j] > 0x7e) {
                    break;
                }
            }

            if (parts[i].type_len > WALRUS_QUILT_MAX_TYPE
                || j < parts[i].type_len)
            {
                rc = walrus_quilt_fail(error, WALRUS_EFORMAT,
                                       "the Content-Type of \"%.*s\" is "
                                       "longer than %d or not printable",
                                       (int) p->id_len, p->id,
                                       WALRUS_QUILT_MAX_TYPE);
                goto failed;
            }

            p->type = parts[i].type;
            p->type_len = parts[i].type_len;
        }

        q->npatches++;
    }

    ntags = 0;

    if (meta != NULL) {
        rc = walrus_quilt_metadata(q, meta, &ntags, error);
        if (rc != WALRUS_OK) {
            goto failed;
        }
    }

    index_len = WALRUS_QUILT_HEADER_LEN;

    for (i = 0; i < q->npatches; i++) {
        index_len += walrus_quilt_entry_len(&q->patches[i]);
    }

    if (index_len > WALRUS_QUILT_MAX_INDEX) {
        rc = walrus_quilt_fail(error, WALRUS_ELENGTH,
                               "the quilt's index would take more than %d "
                               "bytes", WALRUS_QUILT_MAX_INDEX);
        goto failed;
    }

    q->index_len = (uint32_t) index_len;
    offset = index_len;

    for (i = 0; i < q->npatches; i++) {
        q->patches[i].offset = offset;
        offset += q->patches[i].length;
    }

    q->length = offset;

    return WALRUS_OK;

failed:

    walrus_quilt_free(q);
    return rc;
}


/*
 * The _metadata part: [{"identifier": "...", "tags": {"k": "v"}}], each
 * identifier one of the files, at most once.
 */

static int
walrus_quilt_metadata(walrus_quilt_t *q, const walrus_multipart_part_t *part,
    unsigned *ntags, char *error)
{
    int            rc, k;
    size_t         i, total;
    json_t        *root, *entry, *id, *tags;
    json_error_t   jerr;
    unsigned char *seen;

    root = json_loadb((const char *) part->data, part->len,
                      JSON_REJECT_DUPLICATES, &jerr);

    if (root == NULL || !json_is_array(root)) {
        json_decref(root);
        return walrus_quilt_fail(error, WALRUS_EFORMAT,
                                 "_metadata is not a JSON array");
    }

    q->json = root;
    total = 0;

    if (json_array_size(root) > q->npatches) {
        return walrus_quilt_fail(error, WALRUS_EFORMAT,
                                 "_metadata has more entries than files");
    }

    json_array_foreach(root, i, entry) {
        tags = json_object_get(entry, "tags");

        if (!json_is_object(tags)
            || json_object_size(tags) > WALRUS_QUILT_MAX_TAGS)
        {
            return walrus_quilt_fail(error, WALRUS_EFORMAT,
                                     "_metadata entry %zu: \"tags\" is not "
                                     "an object of at most %d strings", i,
                                     WALRUS_QUILT_MAX_TAGS);
        }

        total += json_object_size(tags);
    }

    q->tags = calloc(total + 1, sizeof(walrus_quilt_tag_t));
    seen = calloc(q->npatches, 1);
    if (q->tags == NULL || seen == NULL) {
        free(seen);
        return WALRUS_ENOMEM;
    }

    total = 0;
    rc = WALRUS_OK;

    json_array_foreach(root, i, entry) {
        id = json_object_get(entry, "identifier");

        if (!json_is_string(id) || json_object_size(entry) != 2) {
            rc = walrus_quilt_fail(error, WALRUS_EFORMAT,
                                   "_metadata entry %zu needs exactly "
                                   "\"identifier\" and \"tags\"", i);
            break;
        }

        k = walrus_quilt_find(q, (const uint8_t *) json_string_value(id),
                              json_string_length(id));

        if (k < 0 || seen[k]) {
            rc = walrus_quilt_fail(error, WALRUS_EFORMAT,
                                   "_metadata entry %zu: identifier \"%s\" "
                                   "is %s", i, json_string_value(id),
                                   k < 0 ? "not a file of the quilt"
                                         : "given twice");
            break;
        }

        seen[k] = 1;

        rc = walrus_quilt_tags(q, &q->patches[k],
                               json_object_get(entry, "tags"),
                               &q->tags[total], error);
        if (rc != WALRUS_OK) {
            break;
        }

        total += q->patches[k].ntags;
    }

    free(seen);
    *ntags = total;

    return rc;
}


static int
walrus_quilt_tags(walrus_quilt_t *q, walrus_quilt_patch_t *patch,
    json_t *tags, walrus_quilt_tag_t *out, char *error)
{
    size_t       klen;
    json_t      *value;
    const char  *key;

    patch->tags = out;

    json_object_foreach(tags, key, value) {
        klen = strlen(key);

        if (!json_is_string(value) || klen == 0
            || klen > WALRUS_QUILT_MAX_KEY
            || json_string_length(value) > WALRUS_QUILT_MAX_VALUE
            || !walrus_quilt_text_ok((const uint8_t *) key, klen)
            || !walrus_quilt_text_ok((const uint8_t *) json_string_value(value),
                                     json_string_length(value)))
        {
            return walrus_quilt_fail(error, WALRUS_EFORMAT,
                                     "tag \"%.*s\" of \"%.*s\": keys take 1 "
                                     "to %d bytes, values are strings of at "
                                     "most %d, without control characters",
                                     (int) (klen > 64 ? 64 : klen), key,
                                     (int) patch->id_len, patch->id,
                                     WALRUS_QUILT_MAX_KEY,
                                     WALRUS_QUILT_MAX_VALUE);
        }

        out->key = (const uint8_t *) key;
        out->key_len = klen;
        out->value = (const uint8_t *) json_string_value(value);
        out->value_len = json_string_length(value);
        out++;
        patch->ntags++;
    }

    return WALRUS_OK;
}


static size_t
walrus_quilt_entry_len(const walrus_quilt_patch_t *p)
{
    size_t    len;
    unsigned  i;

    len = 8 + 8 + 1 + p->id_len + 1 + p->type_len + 1;

    for (i = 0; i < p->ntags; i++) {
        len += 1 + p->tags[i].key_len + 2 + p->tags[i].value_len;
    }

    return len;
}


void
walrus_quilt_index_write(const walrus_quilt_t *q, uint8_t *out)
{
    unsigned                     i, t;
    const walrus_quilt_tag_t    *tag;
    const walrus_quilt_patch_t  *p;

    memcpy(out, WALRUS_QUILT_MAGIC, WALRUS_QUILT_MAGIC_LEN);
    out[6] = WALRUS_QUILT_VERSION;
    out[7] = 0;
    out[8] = q->npatches & 0xff;
    out[9] = (q->npatches >> 8) & 0xff;
    out[10] = 0;
    out[11] = 0;
    out[12] = q->index_len & 0xff;
    out[13] = (q->index_len >> 8) & 0xff;
    out[14] = (q->index_len >> 16) & 0xff;
    out[15] = (q->index_len >> 24) & 0xff;
    out += WALRUS_QUILT_HEADER_LEN;

    for (i = 0; i < q->npatches; i++) {
        p = &q->patches[i];

        walrus_put64(out, p->offset);
        walrus_put64(out + 8, p->length);
        out += 16;

        *out++ = (uint8_t) p->id_len;
        memcpy(out, p->id, p->id_len);
        out += p->id_len;

        *out++ = (uint8_t) p->type_len;
        memcpy(out, p->type, p->type_len);
        out += p->type_len;

        *out++ = (uint8_t) p->ntags;

        for (t = 0; t < p->ntags; t++) {
            tag = &p->tags[t];

            *out++ = (uint8_t) tag->key_len;
            memcpy(out, tag->key, tag->key_len);
            out += tag->key_len;

            *out++ = tag->value_len & 0xff;
            *out++ = (tag->value_len >> 8) & 0xff;
            memcpy(out, tag->value, tag->value_len);
            out += tag->value_len;
        }
    }
}


int
walrus_quilt_header(const uint8_t *buf, size_t len, unsigned *npatches,
    uint32_t *index_len)
{
    uint32_t  count;

    if (len < WALRUS_QUILT_HEADER_LEN
        || memcmp(buf, WALRUS_QUILT_MAGIC, WALRUS_QUILT_MAGIC_LEN) != 0
        || buf[6] != WALRUS_QUILT_VERSION || buf[7] != 0)
    {
        return WALRUS_EFORMAT;
    }

    count = buf[8] | (uint32_t) buf[9] << 8 | (uint32_t) buf[10] << 16
            | (uint32_t) buf[11] << 24;
    *index_len = buf[12] | (uint32_t) buf[13] << 8
                 | (uint32_t) buf[14] << 16 | (uint32_t) buf[15] << 24;

    /* an entry takes at least 20 bytes */

    if (count == 0 || count > WALRUS_QUILT_MAX_PATCHES
        || *index_len > WALRUS_QUILT_MAX_INDEX
        || *index_len < WALRUS_QUILT_HEADER_LEN + 20 * count)
    {
        return WALRUS_EFORMAT;
    }

    *npatches = count;

    return WALRUS_OK;
}


int
walrus_quilt_parse(walrus_quilt_t *q, const uint8_t *index, size_t len,
    uint64_t blob_len)
{
    size_t                 total;
    uint32_t               index_len;
    uint64_t               offset;
    unsigned               i, j, t, n;
    const uint8_t         *p, *last;
    walrus_quilt_tag_t    *tag;
    walrus_quilt_patch_t  *patch;

    memset(q, 0, sizeof(walrus_quilt_t));

    if (walrus_quilt_header(index, len, &n, &index_len) != WALRUS_OK
        || index_len != len || blob_len < len)
    {
        return WALRUS_EFORMAT;
    }

    /* the tags cannot be more than the bytes hold */

    q->patches = calloc(n, sizeof(walrus_quilt_patch_t));
    q->tags = calloc(len / 3 + 1, sizeof(walrus_quilt_tag_t));
    if (q->patches == NULL || q->tags == NULL) {
        walrus_quilt_free(q);
        return WALRUS_ENOMEM;
    }

#define walrus_need(k)  if ((size_t) (last - p) < (size_t) (k)) goto bad

    p = index + WALRUS_QUILT_HEADER_LEN;
    last = index + len;
    offset = len;
    total = 0;
    tag = q->tags;

    for (i = 0; i < n; i++) {
        patch = &q->patches[i];

        walrus_need(17);
        patch->offset = walrus_get64(p);
        patch->length = walrus_get64(p + 8);
        p += 16;

        if (patch->offset != offset || patch->length > blob_len - offset) {
            goto bad;
        }

        offset += patch->length;

        patch->id_len = *p++;
        walrus_need(patch->id_len + 1);
        patch->id = p;
        p += patch->id_len;

        if (patch->id_len == 0
            || !walrus_quilt_text_ok(patch->id, patch->id_len))
        {
            goto bad;
        }

        patch->type_len = *p++;
        walrus_need(patch->type_len + 1);
        patch->type = p;
        p += patch->type_len;

        for (j = 0; j < patch->type_len; j++) {
            if (patch->type[j] < 0x20 || patch->type[j] > 0x7e) {
                goto bad;
            }
        }

        patch->ntags = *p++;
        patch->tags = tag;

        if (patch->type_len > WALRUS_QUILT_MAX_TYPE
            || patch->ntags > WALRUS_QUILT_MAX_TAGS)
        {
            goto bad;
        }

        for (t = 0; t < patch->ntags; t++) {
            walrus_need(1);
            tag->key_len = *p++;
            walrus_need(tag->key_len + 2);
            tag->key = p;
            p += tag->key_len;
            tag->value_len = p[0] | (size_t) p[1] << 8;
            p += 2;
            walrus_need(tag->value_len);
            tag->value = p;
            p += tag->value_len;

            if (tag->key_len == 0 || tag->key_len > WALRUS_QUILT_MAX_KEY
                || tag->value_len > WALRUS_QUILT_MAX_VALUE
                || !walrus_quilt_text_ok(tag->key, tag->key_len)
                || !walrus_quilt_text_ok(tag->value, tag->value_len)
                || ++total > len / 3)
            {
                goto bad;
            }

            tag++;
        }

        for (j = 0; j < i; j++) {
            if (q->patches[j].id_len == patch->id_len
                && memcmp(q->patches[j].id, patch->id, patch->id_len) == 0)
            {
                goto bad;
            }
        }

        q->npatches++;
    }

#undef walrus_need

    if (p != last || offset != blob_len) {
        goto bad;
    }

    q->index_len = index_len;
    q->length = blob_len;

    return WALRUS_OK;

bad:

    walrus_quilt_free(q);
    return WALRUS_EFORMAT;
}


int
walrus_quilt_find(const walrus_quilt_t *q, const uint8_t *id, size_t len)
{
    unsigned  i;

    for (i = 0; i < q->npatches; i++) {
        if (q->patches[i].id_len == len
            && memcmp(q->patches[i].id, id, len) == 0)
        {
            return (int) i;
        }
    }

    return -1;
}


const walrus_quilt_tag_t *
walrus_quilt_tag(const walrus_quilt_patch_t *p, const char *key)
{
    size_t    len;
    unsigned  i;

    len = strlen(key);

    for (i = 0; i < p->ntags; i++) {
        if (p->tags[i].key_len == len
            && strncasecmp((const char *) p->tags[i].key, key, len) == 0)
        {
            return &p->tags[i];
        }
    }

    return NULL;
}


void
walrus_quilt_free(walrus_quilt_t *q)
{
    free(q->patches);
    free(q->tags);
    json_decref(q->json);
    memset(q, 0, sizeof(walrus_quilt_t));
}


void
walrus_quilt_patch_id_format(const uint8_t *quilt_id, unsigned patch,
    char *out)
{
    uint8_t  raw[WALRUS_QUILT_PATCH_ID_LEN];

    memcpy(raw, quilt_id, WALRUS_BLOB_ID_LEN);
    raw[WALRUS_BLOB_ID_LEN] = WALRUS_QUILT_VERSION;
    raw[WALRUS_BLOB_ID_LEN + 1] = patch & 0xff;
    raw[WALRUS_BLOB_ID_LEN + 2] = (patch >> 8) & 0xff;

    walrus_base64url_encode(raw, sizeof(raw), out);
}


int
walrus_quilt_patch_id_parse(const char *text, size_t len, uint8_t *quilt_id,
    unsigned *patch)
{
    size_t   n;
    uint8_t  raw[WALRUS_QUILT_PATCH_ID_LEN];

    if (len != WALRUS_QUILT_PATCH_ID_TEXT_LEN
        || walrus_base64url_decode(text, len, raw, &n) != WALRUS_OK
        || n != sizeof(raw) || raw[WALRUS_BLOB_ID_LEN] != WALRUS_QUILT_VERSION)
    {
        return WALRUS_EFORMAT;
    }

    *patch = raw[WALRUS_BLOB_ID_LEN + 1]
             | (unsigned) raw[WALRUS_BLOB_ID_LEN + 2] << 8;

    if (*patch >= WALRUS_QUILT_MAX_PATCHES) {
        return WALRUS_EFORMAT;
    }

    memcpy(quilt_id, raw, WALRUS_BLOB_ID_LEN);

    return WALRUS_OK;
}


char *
walrus_quilt_patches_json(const walrus_quilt_t *q, const uint8_t *quilt_id)
{
    char                         pid[WALRUS_QUILT_PATCH_ID_TEXT_LEN];
    char                        *out;
    json_t                      *list, *item, *tags;
    unsigned                     i, t;
    const walrus_quilt_tag_t    *tag;
    const walrus_quilt_patch_t  *p;

    list = json_array();
    if (list == NULL) {
        return NULL;
    }

    for (i = 0; i < q->npatches; i++) {
        p = &q->patches[i];
        walrus_quilt_patch_id_format(quilt_id, i, pid);

        item = json_object();
        tags = json_object();

        if (item == NULL || tags == NULL
            || json_array_append_new(list, item) != 0
            || json_object_set_new(item, "identifier",
                                   json_stringn((const char *) p->id,
                                                p->id_len)) != 0
            || json_object_set_new(item, "patch_id",
                                   json_stringn(pid, sizeof(pid))) != 0
            || json_object_set_new(item, "tags", tags) != 0)
        {
            json_decref(list);
            return NULL;
        }

        for (t = 0; t < p->ntags; t++) {
            tag = &p->tags[t];

            if (json_object_setn_new(tags, (const char *) tag->key,
                                     tag->key_len,
                                     json_stringn((const char *) tag->value,
                                                  tag->value_len))
                != 0)
            {
                json_decref(list);
                return NULL;
            }
        }
    }

    out = json_dumps(list, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(list);

    return out;
}


/* UTF-8 (no overlong forms, no surrogates), no C0 controls, no DEL */

int
walrus_quilt_text_ok(const uint8_t *s, size_t len)
{
    size_t    i, k, n;
    uint32_t  cp, min;

    for (i = 0; i < len; i += n) {
        cp = s[i];

        if (cp < 0x80) {
            if (cp < 0x20 || cp == 0x7f) {
                return 0;
            }

            n = 1;
            continue;
        }

        if ((cp & 0xe0) == 0xc0) {
            n = 2;
            cp &= 0x1f;
            min = 0x80;

        } else if ((cp & 0xf0) == 0xe0) {
            n = 3;
            cp &= 0x0f;
            min = 0x800;

        } else if ((cp & 0xf8) == 0xf0) {
            n = 4;
            cp &= 0x07;
            min = 0x10000;

        } else {
            return 0;
        }

        if (len - i < n) {
            return 0;
        }

        for (k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }

            cp = cp << 6 | (s[i + k] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
    }

    return 1;
}


static int
walrus_quilt_fail(char *error, int rc, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(error, WALRUS_QUILT_ERROR_LEN, fmt, args);
    va_end(args);

    return rc;
}


static uint64_t
walrus_get64(const uint8_t *p)
{
    unsigned  i;
    uint64_t  v;

    v = 0;

    for (i = 8; i > 0; i--) {
        v = v << 8 | p[i - 1];
    }

    return v;
}


static void
walrus_put64(uint8_t *p, uint64_t v)
{
    unsigned  i;

    for (i = 0; i < 8; i++) {
        p[i] = (uint8_t) (v >> (8 * i));
    }
}
