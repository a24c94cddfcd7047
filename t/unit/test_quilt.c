/*
 * Quilts: multipart parsing, the layout built and parsed back, its
 * limits, malformed indexes and patch IDs.
 */

#define _GNU_SOURCE
#include <tap.h>
#include <walrus_quilt.h>


#define B  "XyZ42"

#define lit(s)  (const uint8_t *) (s), sizeof(s) - 1


static int
parse(const char *body, walrus_multipart_part_t *parts, unsigned max,
    unsigned *n, char *error)
{
    return walrus_multipart_parse((const uint8_t *) body, strlen(body),
                                  (const uint8_t *) B, sizeof(B) - 1, parts,
                                  max, n, error);
}


static void
test_boundary(void)
{
    size_t          len;
    const uint8_t  *b;

    ok(walrus_multipart_boundary(lit("multipart/form-data; boundary=abc"),
                                 &b, &len) == WALRUS_OK
       && len == 3 && memcmp(b, "abc", 3) == 0, "plain boundary");
    ok(walrus_multipart_boundary(lit("Multipart/Form-Data;charset=x; "
                                     "boundary=\"a b\""), &b, &len)
       == WALRUS_OK && len == 3 && memcmp(b, "a b", 3) == 0,
       "quoted boundary after another parameter");
    ok(walrus_multipart_boundary(lit("multipart/mixed; boundary=abc"),
                                 &b, &len) == WALRUS_EFORMAT,
       "multipart/mixed refused");
    ok(walrus_multipart_boundary(lit("multipart/form-data"), &b, &len)
       == WALRUS_EFORMAT, "no boundary refused");
    ok(walrus_multipart_boundary(lit("multipart/form-data; boundary="),
                                 &b, &len) == WALRUS_EFORMAT,
       "empty boundary refused");
    ok(walrus_multipart_boundary(lit("multipart/form-data; boundary="
                                     "0123456789012345678901234567890123456"
                                     "7890123456789012345678901234567890"),
                                 &b, &len) == WALRUS_EFORMAT,
       "a boundary of 71 characters refused");
}


static void
test_multipart(void)
{
    char                     error[WALRUS_QUILT_ERROR_LEN];
    unsigned                 n;
    walrus_multipart_part_t  parts[4];

    const char  *good =
        "preamble\r\n--" B "\r\n"
        "Content-Disposition: form-data; name=\"a.txt\"; "
        "filename=\"x\"\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "hello\r\n--" B "  \r\n"
        "content-disposition: form-data; filename=\"y\"; name=b\r\n\r\n"
        "\r\n--" B "--\r\nepilogue";

    ok(parse(good, parts, 4, &n, error) == WALRUS_OK && n == 2,
       "two parts");
    ok(parts[0].name_len == 5 && memcmp(parts[0].name, "a.txt", 5) == 0
       && parts[0].len == 5 && memcmp(parts[0].data, "hello", 5) == 0
       && parts[0].type_len == 10
       && memcmp(parts[0].type, "text/plain", 10) == 0,
       "first part: name, type and data");
    ok(parts[1].name_len == 1 && parts[1].name[0] == 'b'
       && parts[1].len == 0 && parts[1].type == NULL,
       "second part: unquoted name after filename, empty data, no type");

    ok(parse(good, parts, 1, &n, error) == WALRUS_ELENGTH,
       "more parts than allowed: ELENGTH (%s)", error);

    ok(parse("--" B "\r\nContent-Disposition: form-data; name=a\r\n\r\n"
             "abc", parts, 4, &n, error) == WALRUS_EFORMAT,
       "truncated data: %s", error);
    ok(parse("--" B "\r\nContent-Disposition: form-data; name=a\r\n"
             "abc", parts, 4, &n, error) == WALRUS_EFORMAT,
       "truncated headers: %s", error);
    ok(parse("--" B "\r\nContent-Disposition: form-data; name=a\r\n\r\n"
             "abc\r\n--" B, parts, 4, &n, error) == WALRUS_EFORMAT,
       "no final --: %s", error);
    ok(parse("--" B "\r\nContent-Type: text/plain\r\n\r\nabc\r\n--" B "--",
             parts, 4, &n, error) == WALRUS_EFORMAT,
       "no Content-Disposition: %s", error);
    ok(parse("--" B "\r\nContent-Disposition: attachment; name=a\r\n\r\n"
             "abc\r\n--" B "--", parts, 4, &n, error) == WALRUS_EFORMAT,
       "not form-data: %s", error);
    ok(parse("--" B "\r\nContent-Disposition: form-data; name=\"a\\\"b\""
             "\r\n\r\nabc\r\n--" B "--", parts, 4, &n, error)
       == WALRUS_EFORMAT, "escaped quote in a name refused");
    ok(parse("--" B "\r\nContent-Disposition: form-data; filename=a\r\n\r\n"
             "abc\r\n--" B "--", parts, 4, &n, error) == WALRUS_EFORMAT,
       "filename is not name");
    ok(parse("no boundary at all", parts, 4, &n, error) == WALRUS_EFORMAT,
       "no boundary: %s", error);
    ok(parse("--" B "\r\nbad header\r\n\r\nabc\r\n--" B "--", parts, 4, &n,
             error) == WALRUS_EFORMAT, "header without colon: %s", error);
}


static walrus_multipart_part_t
part(const char *name, const char *type, const char *data)
{
    walrus_multipart_part_t  p;

    memset(&p, 0, sizeof(p));
    p.name = (const uint8_t *) name;
    p.name_len = strlen(name);
    p.type = (const uint8_t *) type;
    p.type_len = type != NULL ? strlen(type) : 0;
    p.data = (const uint8_t *) data;
    p.len = strlen(data);

    return p;
}


static uint8_t *
build(walrus_quilt_t *q, size_t *len)
{
    uint8_t   *blob;
    unsigned   i;

    blob = malloc(q->length);
    walrus_quilt_index_write(q, blob);

    for (i = 0; i < q->npatches; i++) {
        memcpy(blob + q->patches[i].offset, q->patches[i].data,
               q->patches[i].length);
    }

    *len = q->length;

    return blob;
}


static void
test_round_trip(void)
{
    char                       error[WALRUS_QUILT_ERROR_LEN], *json;
    char                       pid[WALRUS_QUILT_PATCH_ID_TEXT_LEN];
    size_t                     len;
    uint8_t                   *blob, qid[WALRUS_BLOB_ID_LEN];
    uint8_t                    back[WALRUS_BLOB_ID_LEN];
    unsigned                   patch, i, n;
    uint32_t                   index_len;
    walrus_quilt_t             q, r;
    walrus_multipart_part_t    parts[4];
    const walrus_quilt_tag_t  *tag;

    parts[0] = part("a.txt", "text/plain", "hello");
    parts[1] = part("_metadata", "application/json",
                    "[{\"identifier\": \"b\", \"tags\": "
                    "{\"content-type\": \"image/png\", \"k\": \"v\"}}]");
    parts[2] = part("b", NULL, "");
    parts[3] = part("d\xc3\xa9j\xc3\xa0", NULL, "0123456789");

    ok(walrus_quilt_from_parts(&q, parts, 4, error) == WALRUS_OK,
       "quilt of 3 files and _metadata");
    is_int(q.npatches, 3, "3 patches");
    is_int(q.patches[1].ntags, 2, "b has 2 tags");
    is_int(q.length, q.index_len + 15, "length: index and files");

    blob = build(&q, &len);

    ok(walrus_quilt_header(blob, len, &n, &index_len) == WALRUS_OK
       && n == 3 && index_len == q.index_len, "header parsed back");
    ok(walrus_quilt_parse(&r, blob, index_len, len) == WALRUS_OK,
       "index parsed back");

    for (i = 0; i < 3; i++) {
        ok(r.patches[i].id_len == q.patches[i].id_len
           && memcmp(r.patches[i].id, q.patches[i].id, r.patches[i].id_len)
              == 0
           && r.patches[i].offset == q.patches[i].offset
           && r.patches[i].length == q.patches[i].length
           && memcmp(blob + r.patches[i].offset, q.patches[i].data,
                     r.patches[i].length) == 0,
           "patch %u: identifier, place and bytes", i);
    }

    ok(r.patches[0].type_len == 10
       && memcmp(r.patches[0].type, "text/plain", 10) == 0,
       "the part's type kept");
    tag = walrus_quilt_tag(&r.patches[1], "Content-Type");
    ok(tag != NULL && tag->value_len == 9
       && memcmp(tag->value, "image/png", 9) == 0,
       "tag found case-insensitively");
    is_int(walrus_quilt_find(&r, lit("d\xc3\xa9j\xc3\xa0")), 2,
           "find by UTF-8 identifier");
    is_int(walrus_quilt_find(&r, lit("c")), -1, "unknown identifier");

    memset(qid, 0xab, sizeof(qid));
    json = walrus_quilt_patches_json(&r, qid);
    walrus_quilt_patch_id_format(qid, 1, pid);
    ok(json != NULL && strstr(json, "{\"identifier\":\"b\",\"patch_id\":\"")
       != NULL && strstr(json, "\"tags\":{\"content-type\":\"image/png\","
                         "\"k\":\"v\"}") != NULL
       && memmem(json, strlen(json), pid, sizeof(pid)) != NULL,
       "patches JSON: %s", json);
    free(json);

    ok(walrus_quilt_patch_id_parse(pid, sizeof(pid), back, &patch)
       == WALRUS_OK && patch == 1 && memcmp(back, qid, sizeof(qid)) == 0,
       "patch ID parsed back");
    ok(walrus_quilt_patch_id_parse(pid, sizeof(pid) - 1, back, &patch)
       == WALRUS_EFORMAT, "short patch ID refused");
    pid[43] = '!';
    ok(walrus_quilt_patch_id_parse(pid, sizeof(pid), back, &patch)
       == WALRUS_EFORMAT, "patch ID outside the alphabet refused");

    /* damaged indexes are refused */

    walrus_quilt_free(&r);

    ok(walrus_quilt_parse(&r, blob, index_len, len + 1) == WALRUS_EFORMAT,
       "files not ending with the blob refused");
    walrus_quilt_free(&r);

    blob[16] ^= 1;
    ok(walrus_quilt_parse(&r, blob, index_len, len) == WALRUS_EFORMAT,
       "a wrong offset refused");
    blob[16] ^= 1;

    blob[16 + 16 + 1] = 0x01;
    ok(walrus_quilt_parse(&r, blob, index_len, len) == WALRUS_EFORMAT,
       "a control character in an identifier refused");
    blob[16 + 16 + 1] = 'a';

    blob[16 + 16] = 200;
    ok(walrus_quilt_parse(&r, blob, index_len, len) == WALRUS_EFORMAT,
       "an identifier past the index refused");
    blob[16 + 16] = 5;

    blob[0] = 'X';
    ok(walrus_quilt_header(blob, len, &n, &index_len) == WALRUS_EFORMAT,
       "wrong magic: not a quilt");
    blob[0] = 'W';

    for (i = 0; i < index_len; i++) {
        ok(walrus_quilt_parse(&r, blob, i, len) == WALRUS_EFORMAT,
           "index cut at %u refused", i);
        if (i > 40) {
            break;
        }
    }

    ok(walrus_quilt_parse(&r, blob, index_len, len) == WALRUS_OK,
       "the repaired index parses");
    walrus_quilt_free(&r);

    free(blob);
    walrus_quilt_free(&q);
}


static void
test_refused(void)
{
    char                      error[WALRUS_QUILT_ERROR_LEN];
    char                      id[300];
    unsigned                  i;
    walrus_quilt_t            q;
    walrus_multipart_part_t  *many;
    walrus_multipart_part_t   parts[3];

    parts[0] = part("a", NULL, "x");
    parts[1] = part("a", NULL, "y");
    ok(walrus_quilt_from_parts(&q, parts, 2, error) == WALRUS_EFORMAT,
       "duplicate identifiers: %s", error);

    parts[0] = part("_metadata", NULL, "[]");
    ok(walrus_quilt_from_parts(&q, parts, 1, error) == WALRUS_EFORMAT,
       "no file: %s", error);

    parts[0] = part("a\nb", NULL, "x");
    ok(walrus_quilt_from_parts(&q, parts, 1, error) == WALRUS_EFORMAT,
       "control character in an identifier: %s", error);

    parts[0] = part("\xff", NULL, "x");
    ok(walrus_quilt_from_parts(&q, parts, 1, error) == WALRUS_EFORMAT,
       "identifier not UTF-8");

    memset(id, 'i', 256);
    id[256] = '\0';
    parts[0] = part(id, NULL, "x");
    ok(walrus_quilt_from_parts(&q, parts, 1, error) == WALRUS_EFORMAT,
       "identifier of 256 bytes");
    id[255] = '\0';
    parts[0] = part(id, NULL, "x");
    ok(walrus_quilt_from_parts(&q, parts, 1, error) == WALRUS_OK,
       "identifier of 255 bytes: %s", error);
    walrus_quilt_free(&q);

    parts[0] = part("a", NULL, "x");
    parts[1] = part("_metadata", NULL, "[{\"identifier\": \"z\", "
                                       "\"tags\": {}}]");
    ok(walrus_quilt_from_parts(&q, parts, 2, error) == WALRUS_EFORMAT,
       "metadata of an unknown identifier: %s", error);

    parts[1] = part("_metadata", NULL, "{\"identifier\": \"a\"}");
    ok(walrus_quilt_from_parts(&q, parts, 2, error) == WALRUS_EFORMAT,
       "metadata not an array: %s", error);

    parts[1] = part("_metadata", NULL, "[{\"identifier\": \"a\", "
                                       "\"tags\": {\"k\": 1}}]");
    ok(walrus_quilt_from_parts(&q, parts, 2, error) == WALRUS_EFORMAT,
       "tag value not a string: %s", error);

    parts[1] = part("_metadata", NULL, "[{\"identifier\": \"a\", "
                                       "\"tags\": {}}, {\"identifier\": "
                                       "\"a\", \"tags\": {}}]");
    ok(walrus_quilt_from_parts(&q, parts, 2, error) == WALRUS_EFORMAT,
       "metadata twice for one file: %s", error);

    parts[1] = part("_metadata", NULL, "[{\"identifier\": \"a\"");
    ok(walrus_quilt_from_parts(&q, parts, 2, error) == WALRUS_EFORMAT,
       "truncated metadata JSON: %s", error);

    parts[1] = part("a", "text/\x01", "x");
    parts[0] = part("b", NULL, "y");
    ok(walrus_quilt_from_parts(&q, parts, 2, error) == WALRUS_EFORMAT,
       "unprintable part type: %s", error);

    many = calloc(WALRUS_QUILT_MAX_PATCHES + 1, sizeof(*many));
    for (i = 0; i <= WALRUS_QUILT_MAX_PATCHES; i++) {
        char  *name = malloc(8);

        snprintf(name, 8, "f%u", i);
        many[i] = part(name, NULL, "x");
    }

    ok(walrus_quilt_from_parts(&q, many, WALRUS_QUILT_MAX_PATCHES + 1, error)
       == WALRUS_ELENGTH, "too many files: %s", error);
    ok(walrus_quilt_from_parts(&q, many, WALRUS_QUILT_MAX_PATCHES, error)
       == WALRUS_OK, "%d files", WALRUS_QUILT_MAX_PATCHES);
    walrus_quilt_free(&q);

    for (i = 0; i <= WALRUS_QUILT_MAX_PATCHES; i++) {
        free((void *) many[i].name);
    }

    free(many);
}


int
main(void)
{
    test_boundary();
    test_multipart();
    test_round_trip();
    test_refused();

    return tap_done();
}
