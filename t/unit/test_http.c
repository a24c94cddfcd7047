/*
 * Content type sniffing, Range parsing, the byte-range query and
 * Content-Disposition.
 */

#include <tap.h>
#include <walrus_http.h>


#define OCTET  "application/octet-stream"
#define TEXT   "text/plain; charset=utf-8"
#define HTML   "text/html; charset=utf-8"

#define sniff_is(data, len, want, what)                                      \
    sniff_check((const uint8_t *) (data), len, want, what, __LINE__)

#define sniff_str(lit, want, what)                                           \
    sniff_check((const uint8_t *) (lit), sizeof(lit) - 1, want, what,        \
                __LINE__)

#define range_is(value, size, want, s, e)                                    \
    range_check(value, size, want, s, e, __LINE__)

#define cd_is(name, attachment, want)                                        \
    cd_check(name, strlen(name), attachment, want, __LINE__)


static void
sniff_check(const uint8_t *data, size_t len, const char *want,
    const char *what, int line)
{
    const char  *got, *known;

    got = walrus_sniff_content_type(data, len);

    if (!tap_ok(strcmp(got, want) == 0, __FILE__, line, what)) {
        printf("#   got \"%s\", want \"%s\"\n", got, want);
    }

    known = walrus_content_type_known(got, strlen(got));

    if (!tap_ok(known != NULL && strcmp(known, got) == 0, __FILE__, line,
                "... a type a cache may give back"))
    {
        printf("#   \"%s\" is not a known type\n", got);
    }
}


static void
range_check(const char *value, uint64_t size, int want, uint64_t s,
    uint64_t e, int line)
{
    int             rc;
    char            what[200];
    walrus_range_t  r;

    r.start = 7777;
    r.end = 7777;

    rc = walrus_range_parse(value, strlen(value), size, &r);

    snprintf(what, sizeof(what), "Range \"%s\" on %llu bytes", value,
             (unsigned long long) size);

    if (want == WALRUS_RANGE_OK) {
        if (!tap_ok(rc == want && r.start == s && r.end == e, __FILE__,
                    line, what))
        {
            printf("#   got %d [%llu, %llu], want %d [%llu, %llu]\n", rc,
                   (unsigned long long) r.start, (unsigned long long) r.end,
                   want, (unsigned long long) s, (unsigned long long) e);
        }

        return;
    }

    if (!tap_ok(rc == want && r.start == 7777 && r.end == 7777, __FILE__,
                line, what))
    {
        printf("#   got %d, want %d\n", rc, want);
    }
}


static void
cd_check(const char *name, size_t len, int attachment, const char *want,
    int line)
{
    char    out[512], what[200];
    size_t  n;

    n = walrus_content_disposition(name, len, attachment, out, sizeof(out));

    snprintf(what, sizeof(what), "Content-Disposition of \"%s\"", name);

    if (!tap_ok(n == strlen(want) && memcmp(out, want, n) == 0, __FILE__,
                line, what))
    {
        printf("#   got \"%.*s\", want \"%s\"\n", (int) n, out, want);
    }
}


static void
test_sniff_binary(void)
{
    uint8_t  buf[64];

    static const uint8_t  png[] = {
        0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a,
        0, 0, 0, 13, 'I', 'H', 'D', 'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 6
    };
    static const uint8_t  jpeg[] = {
        0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1
    };
    static const uint8_t  avif[] = {
        0, 0, 0, 0x1c, 'f', 't', 'y', 'p', 'a', 'v', 'i', 'f', 0, 0, 0, 0,
        'a', 'v', 'i', 'f', 'm', 'i', 'f', '1', 'm', 'i', 'a', 'f',
        0, 0, 0, 0x28, 'm', 'e', 't', 'a'
    };
    static const uint8_t  avif_compat[] = {
        0, 0, 0, 0x20, 'f', 't', 'y', 'p', 'm', 'i', 'f', '1', 0, 0, 0, 0,
        'm', 'i', 'f', '1', 'i', 's', 'o', '8', 'a', 'v', 'i', 's',
        'm', 'i', 'a', 'f'
    };
    static const uint8_t  mp4[] = {
        0, 0, 0, 0x20, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0, 0, 2, 0,
        'i', 's', 'o', 'm', 'i', 's', 'o', '2', 'a', 'v', 'c', '1',
        'm', 'p', '4', '1', 0, 0, 0, 8, 'f', 'r', 'e', 'e'
    };
    static const uint8_t  m4v[] = {
        0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'M', '4', 'V', ' ', 0, 0, 0, 1,
        'M', '4', 'V', ' ', 'M', '4', 'A', ' '
    };
    static const uint8_t  heic[] = {
        0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'h', 'e', 'i', 'c', 0, 0, 0, 0,
        'm', 'i', 'f', '1', 'h', 'e', 'i', 'c'
    };
    static const uint8_t  avif_outside[] = {
        0, 0, 0, 0x14, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0, 0, 0, 0,
        'i', 's', 'o', 'm', 'a', 'v', 'i', 'f'
    };
    static const uint8_t  webm[] = {
        0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0xf7,
        0x81, 0x01, 0x42, 0x82, 0x84, 'w', 'e', 'b', 'm'
    };
    static const uint8_t  id3[] = {
        'I', 'D', '3', 4, 0, 0, 0, 0, 0x0f, 0x76
    };
    static const uint8_t  mp3[] = { 0xff, 0xfb, 0x90, 0x64, 0, 0, 0 };
    static const uint8_t  mp2[] = { 0xff, 0xf4, 0x50, 0xc4, 0, 0, 0 };
    static const uint8_t  adts[] = { 0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f };
    static const uint8_t  badrate[] = { 0xff, 0xfb, 0xf0, 0x64, 0, 0 };
    static const uint8_t  ogg[] = {
        'O', 'g', 'g', 'S', 0, 2, 0, 0, 0, 0, 0, 0, 0, 0
    };
    static const uint8_t  garbage[] = {
        0x00, 0x01, 0x02, 0xff, 0xfe, 0x80, 0x7f, 0x13, 0x37, 0xc3, 0x28
    };

    sniff_is(png, sizeof(png), "image/png", "PNG");
    sniff_is(png, 7, OCTET, "7 bytes of the PNG signature");
    sniff_is(jpeg, sizeof(jpeg), "image/jpeg", "JPEG/JFIF");
    sniff_str("GIF89a\x01\x00\x01\x00\x80\x00\x00", "image/gif", "GIF89a");
    sniff_str("GIF87a\x0a\x00\x0a\x00", "image/gif", "GIF87a");

    memcpy(buf, "RIFF\x24\x10\x00\x00WEBPVP8 ", 16);
    sniff_is(buf, 16, "image/webp", "RIFF/WEBP");
    memcpy(buf, "RIFF\x24\x08\x00\x00WAVEfmt ", 16);
    sniff_is(buf, 16, "audio/wav", "RIFF/WAVE");
    memcpy(buf, "RIFF\x24\x08\x00\x00" "AVI LIST", 16);
    sniff_is(buf, 16, OCTET, "RIFF/AVI is not sniffed");

    sniff_is(avif, sizeof(avif), "image/avif", "ftyp avif");
    sniff_is(avif_compat, sizeof(avif_compat), "image/avif",
             "ftyp mif1 compatible with avis");
    sniff_is(mp4, sizeof(mp4), "video/mp4", "ftyp isom");
    sniff_is(m4v, sizeof(m4v), "video/mp4", "ftyp M4V");
    sniff_is(mp4, 12, "video/mp4", "ftyp isom cut after the major brand");
    sniff_is(heic, sizeof(heic), OCTET, "ftyp heic is not video/mp4");
    sniff_is(avif_outside, sizeof(avif_outside), "video/mp4",
             "a brand past the ftyp box size is not read");

    memcpy(buf, mp4, sizeof(mp4));
    buf[3] = 0x1e;
    sniff_is(buf, sizeof(mp4), OCTET, "ftyp box size not a multiple of 4");

    sniff_is(webm, sizeof(webm), "video/webm", "EBML/WebM");
    sniff_is(id3, sizeof(id3), "audio/mpeg", "ID3v2 tag");
    sniff_is(mp3, sizeof(mp3), "audio/mpeg", "MPEG-1 layer III frame sync");
    sniff_is(mp2, sizeof(mp2), "audio/mpeg", "MPEG-2 layer II frame sync");
    sniff_is(adts, sizeof(adts), OCTET, "ADTS AAC (layer 0) is not mpeg");
    sniff_is(badrate, sizeof(badrate), OCTET, "bitrate index 15 rejected");
    sniff_is(ogg, sizeof(ogg), "audio/ogg", "OggS");
    sniff_str("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf", "PDF 1.7");

    sniff_is(garbage, sizeof(garbage), OCTET, "binary garbage");
    sniff_str("", OCTET, "empty");
    sniff_is(NULL, 0, OCTET, "NULL, 0");
    sniff_str("\x00", OCTET, "one NUL byte");
    sniff_str("\xff", OCTET, "one 0xff byte");
    sniff_str("a", TEXT, "one letter");
    sniff_str("\xff\xd8", OCTET, "2 bytes of a JPEG");
}


static void
test_sniff_text(void)
{
    size_t  i;
    char    big[1200];

    static const char  svg[] =
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1 1\"/>";
    static const char  svg_xml[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
        "<!-- Created with Inkscape -->\n"
        "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
        "\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
        "<svg\n   width=\"10\">";
    static const char  svg_bom[] =
        "\xef\xbb\xbf  <?xml version=\"1.0\"?><svg width=\"1\"></svg>";
    static const char  html[] =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><title>x</title>";
    static const char  html_lower[] = "\n\n  <html>\n<body>hi</body>";
    static const char  html_comment[] =
        "<!-- saved from url=(0014)about:internet -->\n<HTML>\n<HEAD>";
    static const char  html_svg[] = "<!DOCTYPE html><svg width=\"1\">";
    static const char  json_obj[] = "{\"name\": \"walrus\", \"size\": 3}";
    static const char  json_arr[] = "\n  [1, 2, {\"a\": null}]\n";
    static const char  utf8[] =
        "Gr\xc3\xbc\xc3\x9f" "e, \xe4\xb8\x96\xe7\x95\x8c "
        "\xf0\x9f\xa6\xad\n\tline\r\n\f";

    sniff_is(svg, strlen(svg), "image/svg+xml", "bare <svg");
    sniff_is(svg_xml, strlen(svg_xml), "image/svg+xml",
             "svg after <?xml, a comment and a DOCTYPE");
    sniff_is(svg_bom, strlen(svg_bom), "image/svg+xml",
             "svg after a BOM, spaces and <?xml");
    sniff_str("<?xml version=\"1.0\"?><svgfoo/>", TEXT, "<svgfoo is not svg");
    sniff_str("<?xml version=\"1.0\"?><rss version=\"2.0\">", TEXT,
              "other XML is text");
    sniff_str("<?xml version=\"1.0\" <svg>", TEXT,
              "unterminated <?xml is not svg");

    sniff_is(html, strlen(html), HTML, "<!DOCTYPE html>");
    sniff_is(html_lower, strlen(html_lower), HTML, "<html> after newlines");
    sniff_is(html_comment, strlen(html_comment), HTML,
             "comment then <HTML>");
    sniff_is(html_svg, strlen(html_svg), HTML,
             "<!DOCTYPE html> then <svg> is html");
    sniff_str("<body>", HTML, "<body>");
    sniff_str("<script>alert(1)</script>", HTML, "<script>");
    sniff_str("<htmlx>", TEXT, "<htmlx> is not html");
    sniff_str("<!-- note -->\nplain", TEXT, "a comment alone is text");
    sniff_str("<p>hello</p>", TEXT, "<p> is not sniffed as html");
    sniff_str("\xef\xbb\xbf<!doctype HTML>", HTML, "BOM, doctype html");

    sniff_is(json_obj, strlen(json_obj), "application/json", "JSON object");
    sniff_is(json_arr, strlen(json_arr), "application/json", "JSON array");
    sniff_str("{}", "application/json", "{}");
    sniff_str("[", "application/json", "a lone [");
    sniff_str("[INFO] started\n", TEXT, "[INFO] log line is text");
    sniff_str("{x}", TEXT, "{x} is text");
    sniff_str("{\"a\":\f1}", TEXT, "\\f is not JSON white space");
    sniff_str("{\"a\":\x01}", OCTET, "JSON with a control character");
    sniff_str("[\"\xc3\x28\"]", OCTET, "JSON with invalid UTF-8");

    sniff_str("hello, world\n", TEXT, "ASCII text");
    sniff_is(utf8, strlen(utf8), TEXT, "multi-byte UTF-8 text");
    sniff_str("caf\xc3", TEXT, "2-byte character cut off at the end");
    sniff_str("snow \xe2\x98", TEXT, "3-byte character cut off");
    sniff_str("walrus \xf0\x9f\xa6", TEXT, "4-byte character cut off");
    sniff_str("caf\xc3 ok", OCTET, "cut-off character in the middle");
    sniff_str("\xc0\xaf", OCTET, "overlong encoding");
    sniff_str("\xed\xa0\x80", OCTET, "UTF-16 surrogate");
    sniff_str("\xf4\x90\x80\x80", OCTET, "above U+10FFFF");
    sniff_str("\xe0\x80", OCTET, "overlong prefix cut off");
    sniff_str("a\x1b[0m", OCTET, "ESC is a control character");
    sniff_str("a\x7f", OCTET, "DEL is a control character");
    sniff_str("a\0b", OCTET, "NUL inside text");

    /* only the first 512 bytes count */

    for (i = 0; i < sizeof(big); i++) {
        big[i] = 'a' + i % 26;
    }

    big[600] = '\0';
    sniff_is(big, sizeof(big), TEXT, "NUL after 512 bytes is not seen");
    big[511] = '\x01';
    sniff_is(big, sizeof(big), OCTET, "control character at byte 511");
    big[511] = '\xe2';
    big[512] = '\x98';
    sniff_is(big, sizeof(big), TEXT,
             "character cut off by the sniffing window");
}


static void
test_range(void)
{
    walrus_range_t  r;

    range_is("bytes=0-99", 1000, WALRUS_RANGE_OK, 0, 99);
    range_is("bytes=100-199", 1000, WALRUS_RANGE_OK, 100, 199);
    range_is("bytes=5-5", 10, WALRUS_RANGE_OK, 5, 5);
    range_is("bytes=0-0", 1, WALRUS_RANGE_OK, 0, 0);
    range_is("bytes=500-", 1000, WALRUS_RANGE_OK, 500, 999);
    range_is("bytes=0-", 1000, WALRUS_RANGE_OK, 0, 999);
    range_is("bytes=999-", 1000, WALRUS_RANGE_OK, 999, 999);
    range_is("bytes=-100", 1000, WALRUS_RANGE_OK, 900, 999);
    range_is("bytes=-1", 1000, WALRUS_RANGE_OK, 999, 999);
    range_is("bytes=-1000", 1000, WALRUS_RANGE_OK, 0, 999);
    range_is("bytes=-5000", 1000, WALRUS_RANGE_OK, 0, 999);
    range_is("bytes=900-5000", 1000, WALRUS_RANGE_OK, 900, 999);
    range_is("bytes=0-18446744073709551615", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=0-9223372036854775807", 10, WALRUS_RANGE_OK, 0, 9);
    range_is("BYTES=1-2", 10, WALRUS_RANGE_OK, 1, 2);
    range_is("Bytes=1-2", 10, WALRUS_RANGE_OK, 1, 2);
    range_is("bytes=007-008", 10, WALRUS_RANGE_OK, 7, 8);

    range_is("bytes=100-", 100, WALRUS_RANGE_UNSATISFIABLE, 0, 0);
    range_is("bytes=100-200", 100, WALRUS_RANGE_UNSATISFIABLE, 0, 0);
    range_is("bytes=1000-", 100, WALRUS_RANGE_UNSATISFIABLE, 0, 0);
    range_is("bytes=-0", 100, WALRUS_RANGE_UNSATISFIABLE, 0, 0);
    range_is("bytes=0-0", 0, WALRUS_RANGE_UNSATISFIABLE, 0, 0);
    range_is("bytes=0-", 0, WALRUS_RANGE_UNSATISFIABLE, 0, 0);
    range_is("bytes=-1", 0, WALRUS_RANGE_UNSATISFIABLE, 0, 0);
    range_is("bytes=9223372036854775807-", 100,
             WALRUS_RANGE_UNSATISFIABLE, 0, 0);

    range_is("bytes=0-1,3-4", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=0-1, 3-4", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=-1,0-1", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=0-1,", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=abc", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=a-b", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("items=0-1", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=5-3", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=5-3", 2, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=-", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=--1", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=1", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=+1-2", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=1-2-3", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("byte=0-1", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytesx=0-1", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("", 10, WALRUS_RANGE_NONE, 0, 0);

    range_is("bytes= 0-1", 10, WALRUS_RANGE_OK, 0, 1);
    range_is("  bytes=0-1\t ", 10, WALRUS_RANGE_OK, 0, 1);
    range_is("bytes=\t-3 ", 10, WALRUS_RANGE_OK, 7, 9);
    range_is("bytes =0-1", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=0 -1", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=0- 1", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=- 1", 10, WALRUS_RANGE_NONE, 0, 0);

    range_is("bytes=9223372036854775808-", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=99999999999999999999-", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=0-99999999999999999999", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=-99999999999999999999", 10, WALRUS_RANGE_NONE, 0, 0);
    range_is("bytes=-9223372036854775807", 10, WALRUS_RANGE_OK, 0, 9);

    ok(walrus_range_parse("bytes=0-1xyz", 9, 10, &r) == WALRUS_RANGE_OK
       && r.start == 0 && r.end == 1, "len bounds the value");
    is_int(walrus_range_parse(NULL, 0, 10, &r), WALRUS_RANGE_NONE,
           "NULL value");
}


static void
test_byte_range_query(void)
{
    walrus_range_t  r;

    ok(walrus_byte_range_query(0, 10, 10, &r) == WALRUS_OK
       && r.start == 0 && r.end == 9, "byte-range: the whole blob");
    ok(walrus_byte_range_query(3, 4, 10, &r) == WALRUS_OK
       && r.start == 3 && r.end == 6, "byte-range: the middle");
    ok(walrus_byte_range_query(9, 1, 10, &r) == WALRUS_OK
       && r.start == 9 && r.end == 9, "byte-range: the last byte");
    is_int(walrus_byte_range_query(0, 0, 10, &r), WALRUS_EINVAL,
           "byte-range: length 0");
    is_int(walrus_byte_range_query(9, 2, 10, &r), WALRUS_EINVAL,
           "byte-range: one byte past the end");
    is_int(walrus_byte_range_query(10, 1, 10, &r), WALRUS_EINVAL,
           "byte-range: start at the end");
    is_int(walrus_byte_range_query(11, 1, 10, &r), WALRUS_EINVAL,
           "byte-range: start past the end");
    is_int(walrus_byte_range_query(0, 1, 0, &r), WALRUS_EINVAL,
           "byte-range: empty blob");
    is_int(walrus_byte_range_query(0, 0, 0, &r), WALRUS_EINVAL,
           "byte-range: empty range of an empty blob");
    is_int(walrus_byte_range_query(5, UINT64_MAX, 10, &r), WALRUS_EINVAL,
           "byte-range: start + length overflows");
    is_int(walrus_byte_range_query(UINT64_MAX, 2, UINT64_MAX, &r),
           WALRUS_EINVAL, "byte-range: overflow near 2^64");
    ok(walrus_byte_range_query(UINT64_MAX - 1, 1, UINT64_MAX, &r)
       == WALRUS_OK && r.end == UINT64_MAX - 1,
       "byte-range: last byte of a 2^64 - 1 byte blob");
}


static void
test_content_disposition(void)
{
    char    out[64];
    size_t  n;

    cd_is("report.pdf", 1, "attachment; filename=\"report.pdf\"");
    cd_is("report.pdf", 0, "inline; filename=\"report.pdf\"");
    cd_is("my file (1).txt", 1, "attachment; filename=\"my file (1).txt\"");
    cd_is("a\"b.txt", 0,
          "inline; filename=\"a_b.txt\"; filename*=UTF-8''a%22b.txt");
    cd_is("/etc/passwd", 1, "attachment; filename=\"passwd\"");
    cd_is("..\\..\\boot.ini", 1, "attachment; filename=\"boot.ini\"");
    cd_is("dir/sub\\name.txt", 0, "inline; filename=\"name.txt\"");
    cd_is("100%;x=1.txt", 0, "inline; filename=\"100%;x=1.txt\"");
    cd_is("na\xc3\xafve caf\xc3\xa9.txt", 1,
          "attachment; filename=\"na_ve caf_.txt\"; "
          "filename*=UTF-8''na%C3%AFve%20caf%C3%A9.txt");
    cd_is("\xe4\xb8\x96\xe7\x95\x8c.png", 0,
          "inline; filename=\"__.png\"; "
          "filename*=UTF-8''%E4%B8%96%E7%95%8C.png");
    cd_is("\xf0\x9f\xa6\xad", 0,
          "inline; filename=\"_\"; filename*=UTF-8''%F0%9F%A6%AD");
    cd_is("a\tb\x7f", 1,
          "attachment; filename=\"a_b_\"; filename*=UTF-8''a_b_");
    cd_is("!#$&+-.^_`|~", 1, "attachment; filename=\"!#$&+-.^_`|~\"");
    cd_is("x/\xc3\xa9", 1,
          "attachment; filename=\"_\"; filename*=UTF-8''%C3%A9");
    cd_check("a\0b", 3, 0,
             "inline; filename=\"a_b\"; filename*=UTF-8''a_b", __LINE__);

    is_int(walrus_content_disposition("", 0, 1, out, sizeof(out)), 0,
           "empty name: no header");
    is_int(walrus_content_disposition("dir/", 4, 1, out, sizeof(out)), 0,
           "name ending in '/': no header");
    is_int(walrus_content_disposition("caf\xc3", 4, 1, out, sizeof(out)), 0,
           "truncated UTF-8: no header");
    is_int(walrus_content_disposition("\xc3\x28.txt", 6, 1, out,
                                      sizeof(out)), 0,
           "invalid UTF-8: no header");
    is_int(walrus_content_disposition("\xc0\xaf", 2, 1, out, sizeof(out)),
           0, "overlong UTF-8: no header");
    is_int(walrus_content_disposition(NULL, 0, 1, out, sizeof(out)), 0,
           "NULL name: no header");

    n = strlen("attachment; filename=\"report.pdf\"");
    is_int(walrus_content_disposition("report.pdf", 10, 1, out, n), n,
           "exactly fitting buffer");
    is_int(walrus_content_disposition("report.pdf", 10, 1, out, n - 1), 0,
           "buffer one byte short");
    is_int(walrus_content_disposition("report.pdf", 10, 1, out, 5), 0,
           "tiny buffer");
    is_int(walrus_content_disposition("report.pdf", 10, 1, NULL, 0), 0,
           "no buffer");

    n = strlen("inline; filename=\"_\"; filename*=UTF-8''%C3%A9");
    is_int(walrus_content_disposition("\xc3\xa9", 2, 0, out, n - 1), 0,
           "buffer short in filename*");
    is_int(walrus_content_disposition("\xc3\xa9", 2, 0, out, n), n,
           "exactly fitting buffer with filename*");
}


/* what a cache gives back is used only when it is a sniffed type */

static void
test_known_types(void)
{
    const char  *t;

    t = walrus_content_type_known("image/png", 9);
    ok(t != NULL && strcmp(t, "image/png") == 0, "image/png is known");
    t = walrus_content_type_known("text/html; charset=utf-8xyz", 24);
    ok(t != NULL && strcmp(t, "text/html; charset=utf-8") == 0,
       "a type is compared over its length only");
    ok(walrus_content_type_known("text/html", 9) == NULL,
       "text/html without its charset is not a sniffed type");
    ok(walrus_content_type_known("image/pn", 8) == NULL,
       "a prefix of a type is not known");
    ok(walrus_content_type_known("image/png ", 10) == NULL,
       "a type with a trailing space is not known");
    ok(walrus_content_type_known("", 0) == NULL, "an empty type is not known");
    ok(walrus_content_type_known("application/x-evil", 18) == NULL,
       "any other type is not known");
}


int
main(void)
{
    test_sniff_binary();
    test_sniff_text();
    test_known_types();
    test_range();
    test_byte_range_query();
    test_content_disposition();

    return tap_done();
}
