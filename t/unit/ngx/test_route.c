/*
 * The route parser of the HTTP API (src/ngx/ngx_walrus_route.c): which paths
 * are the API's, which are refused, and what they carry.
 *
 * The parser uses nginx's headers (ngx_str_t, inline string functions)
 * but no nginx function, so it links with libwalrus.a alone.  Built and
 * run by "make unit-ngx", against the headers of the nginx tree the
 * module is built in.
 */

#include <ngx_walrus.h>
#include <walrus_metadata.h>
#include <walrus_quilt.h>

#include <tap.h>


static char    id_text[WALRUS_BLOB_ID_TEXT_LEN + 1];
static u_char  id[WALRUS_BLOB_ID_LEN];


static ngx_int_t
parse(const char *path, ngx_walrus_route_t *rt)
{
    ngx_str_t  uri;

    uri.data = (u_char *) path;
    uri.len = strlen(path);

    return ngx_walrus_route_parse(&uri, rt);
}


/* "/v1/blobs/<id><suffix>" */
static const char *
blob_path(const char *suffix)
{
    static char  path[256];

    if (snprintf(path, sizeof(path), "/v1/blobs/%s%s", id_text, suffix)
        >= (int) sizeof(path))
    {
        printf("Bail out! a path too long\n");
        exit(2);
    }

    return path;
}


static void
test_stream(void)
{
    char                path[256];
    ngx_walrus_route_t  rt;

    snprintf(path, sizeof(path), "/v1alpha/blobs/%s/stream", id_text);
    memset(&rt, 0, sizeof(rt));
    is_int(parse(path, &rt), NGX_OK, "/v1alpha/blobs/<id>/stream");
    is_int(rt.kind, NGX_WALRUS_ROUTE_BLOB, "... reads the blob");
    ok(rt.stream, "... marked as the streaming route");
    ok(memcmp(rt.blob_id, id, sizeof(id)) == 0, "... the blob ID");
    ok(strcmp(rt.id_text, id_text) == 0, "... and its text");

    memset(&rt, 0, sizeof(rt));
    parse(blob_path(""), &rt);
    ok(!rt.stream, "/v1/blobs/<id> is not");

    snprintf(path, sizeof(path), "/v1alpha/blobs/%s/stream/", id_text);
    is_int(parse(path, &rt), NGX_DECLINED, "a trailing slash: declined");
    snprintf(path, sizeof(path), "/v1alpha/blobs/%s/metadata", id_text);
    is_int(parse(path, &rt), NGX_DECLINED, "another suffix: declined");
    snprintf(path, sizeof(path), "/v1alpha/blobs/%s", id_text);
    is_int(parse(path, &rt), NGX_DECLINED, "no suffix: declined");
    is_int(parse("/v1alpha/blobs/not-a-blob-id/stream", &rt), NGX_ERROR,
           "a malformed blob ID: an error");
    is_int(parse("/v1alpha/blobs/", &rt), NGX_DECLINED,
           "nothing after the prefix: declined");
}


static void
test_quilts(void)
{
    char                path[256], pid[WALRUS_QUILT_PATCH_ID_TEXT_LEN + 1];
    ngx_walrus_route_t  rt;

    is_int(parse("/v1/quilts", &rt), NGX_OK, "/v1/quilts");
    is_int(rt.kind, NGX_WALRUS_ROUTE_QUILTS, "... is the quilt upload");
    is_int(parse("/v1/quilts/", &rt), NGX_OK, "/v1/quilts/");
    is_int(rt.kind, NGX_WALRUS_ROUTE_QUILTS, "... too");
    is_int(parse("/v1/quiltsx", &rt), NGX_DECLINED, "/v1/quiltsx declined");

    snprintf(path, sizeof(path), "/v1/quilts/%s/patches", id_text);
    is_int(parse(path, &rt), NGX_OK, "/v1/quilts/<id>/patches");
    is_int(rt.kind, NGX_WALRUS_ROUTE_QUILT_PATCHES, "... the patch list");
    ok(strcmp(rt.id_text, id_text) == 0, "... of the quilt");
    snprintf(path, sizeof(path), "/v1/quilts/%s", id_text);
    is_int(parse(path, &rt), NGX_DECLINED, "/v1/quilts/<id>: declined");
    snprintf(path, sizeof(path), "/v1/quilts/%s/patches/", id_text);
    is_int(parse(path, &rt), NGX_DECLINED, "a trailing slash: declined");
    is_int(parse("/v1/quilts/bad/patches", &rt), NGX_ERROR,
           "a malformed quilt ID: an error");

    snprintf(path, sizeof(path), "/v1/blobs/by-quilt-id/%s/a/b.txt",
             id_text);
    is_int(parse(path, &rt), NGX_OK, "by-quilt-id/<id>/a/b.txt");
    is_int(rt.kind, NGX_WALRUS_ROUTE_QUILT_FILE, "... a file by name");
    ok(rt.identifier.len == 7
       && memcmp(rt.identifier.data, "a/b.txt", 7) == 0,
       "... the identifier is the rest of the path");
    ok(memcmp(rt.blob_id, id, sizeof(id)) == 0, "... of the quilt");
    snprintf(path, sizeof(path), "/v1/blobs/by-quilt-id/%s/", id_text);
    is_int(parse(path, &rt), NGX_DECLINED, "no identifier: declined");
    snprintf(path, sizeof(path), "/v1/blobs/by-quilt-id/%s", id_text);
    is_int(parse(path, &rt), NGX_DECLINED, "no slash: declined");
    is_int(parse("/v1/blobs/by-quilt-id/bad/x", &rt), NGX_ERROR,
           "a malformed quilt ID: an error");

    walrus_quilt_patch_id_format(id, 7, pid);
    pid[WALRUS_QUILT_PATCH_ID_TEXT_LEN] = '\0';
    snprintf(path, sizeof(path), "/v1/blobs/by-quilt-patch-id/%s", pid);
    is_int(parse(path, &rt), NGX_OK, "by-quilt-patch-id/<patch id>");
    is_int(rt.kind, NGX_WALRUS_ROUTE_QUILT_PATCH, "... a patch");
    is_int(rt.patch, 7, "... its number");
    ok(strcmp(rt.id_text, id_text) == 0, "... of the quilt");
    memset(&rt, 0, sizeof(rt));
    is_int(parse("/v1/blobs/by-quilt-patch-id/short", &rt), NGX_ERROR,
           "a malformed patch ID: an error");
    is_int(rt.kind, NGX_WALRUS_ROUTE_QUILT_PATCH, "... named as one");
    snprintf(path, sizeof(path), "/v1/blobs/by-quilt-patch-id/%s", id_text);
    is_int(parse(path, &rt), NGX_ERROR, "a blob ID is no patch ID");
}


static void
test_concat(void)
{
    char                path[256];
    ngx_walrus_route_t  rt;

    is_int(parse("/v1alpha/blobs/concat", &rt), NGX_OK,
           "/v1alpha/blobs/concat");
    is_int(rt.kind, NGX_WALRUS_ROUTE_CONCAT, "... is the concat route");
    ok(!rt.stream, "... not the streaming one");

    is_int(parse("/v1alpha/blobs/concatx", &rt), NGX_DECLINED,
           "/v1alpha/blobs/concatx: declined");
    is_int(parse("/v1alpha/blobs/concat/", &rt), NGX_ERROR,
           "/v1alpha/blobs/concat/: not a blob ID either");
    is_int(parse("/v1/blobs/concat", &rt), NGX_ERROR,
           "/v1/blobs/concat: a malformed blob ID, not the route");
    is_int(parse("/v1alpha/blobs/conca", &rt), NGX_DECLINED,
           "/v1alpha/blobs/conca: declined");

    snprintf(path, sizeof(path), "/v1alpha/blobs/%s/stream", id_text);
    is_int(parse(path, &rt), NGX_OK, "the stream route is unchanged");
    is_int(rt.kind, NGX_WALRUS_ROUTE_BLOB, "... reads the blob");
}


static void
test_fixed(void)
{
    ngx_walrus_route_t  rt;

    is_int(parse("/v1/health", &rt), NGX_OK, "/v1/health");
    is_int(rt.kind, NGX_WALRUS_ROUTE_HEALTH, "... is the health route");
    is_int(parse("/v1/health/", &rt), NGX_DECLINED, "/v1/health/: declined");

    is_int(parse("/v1/certified", &rt), NGX_OK, "/v1/certified");
    is_int(rt.kind, NGX_WALRUS_ROUTE_CERTIFIED, "... is the record route");
    is_int(parse("/v1/certified/", &rt), NGX_DECLINED,
           "/v1/certified/: declined");
    is_int(parse("/v1/certifie", &rt), NGX_DECLINED,
           "/v1/certifie: declined");

    is_int(parse("/v1/blobs", &rt), NGX_OK, "/v1/blobs");
    is_int(rt.kind, NGX_WALRUS_ROUTE_BLOBS, "... is the upload route");
    is_int(parse("/v1/blobs/", &rt), NGX_OK, "/v1/blobs/");
    is_int(rt.kind, NGX_WALRUS_ROUTE_BLOBS, "... too");

    is_int(parse("/v1/blob", &rt), NGX_DECLINED, "/v1/blob: declined");
    is_int(parse("/v1/blobsx", &rt), NGX_DECLINED, "/v1/blobsx: declined");
    is_int(parse("/v2/blobs", &rt), NGX_DECLINED, "/v2/blobs: declined");
    is_int(parse("", &rt), NGX_DECLINED, "the empty path: declined");
}


static void
test_blob(void)
{
    size_t              i;
    ngx_walrus_route_t  rt;
    char                short_id[WALRUS_BLOB_ID_TEXT_LEN + 16];

    static const struct {
        const char          *suffix;
        ngx_walrus_route_e   kind;
    } routes[] = {
        { "", NGX_WALRUS_ROUTE_BLOB },
        { "/metadata", NGX_WALRUS_ROUTE_METADATA },
        { "/confirmation", NGX_WALRUS_ROUTE_CONFIRMATION },
        { "/certificate", NGX_WALRUS_ROUTE_CERTIFICATE },
        { "/status", NGX_WALRUS_ROUTE_STATUS },
        { "/byte-range", NGX_WALRUS_ROUTE_BYTE_RANGE },
        { "/registration", NGX_WALRUS_ROUTE_REGISTRATION },
        { "/inconsistency", NGX_WALRUS_ROUTE_INCONSISTENCY },
    };

    static const char  *declined[] = {
        "/", "/metadata/", "/Metadata", "/metadat", "/metadatax",
        "/unknown", "/slivers", "/slivers/", "/inconsistency/",
        "/inconsistent",
    };

    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        memset(&rt, 0xff, sizeof(rt));
        is_int(parse(blob_path(routes[i].suffix), &rt), NGX_OK,
               "/v1/blobs/<id>%s", routes[i].suffix);
        is_int(rt.kind, routes[i].kind, "... its kind");
        ok(memcmp(rt.blob_id, id, sizeof(id)) == 0, "... the blob ID");
        ok(strcmp(rt.id_text, id_text) == 0, "... and its text");
    }

    for (i = 0; i < sizeof(declined) / sizeof(declined[0]); i++) {
        is_int(parse(blob_path(declined[i]), &rt), NGX_DECLINED,
               "/v1/blobs/<id>%s: declined", declined[i]);
    }

    is_int(parse("/v1/blobs/not-a-blob-id", &rt), NGX_ERROR,
           "a malformed blob ID: an error, not another route");
    is_int(parse("/v1/blobs/not-a-blob-id/metadata", &rt), NGX_ERROR,
           "... also with a suffix");

    /* one character short or long */
    snprintf(short_id, sizeof(short_id), "/v1/blobs/%.*s",
             WALRUS_BLOB_ID_TEXT_LEN - 1, id_text);
    is_int(parse(short_id, &rt), NGX_ERROR, "a blob ID of 42 characters");
    is_int(parse(blob_path("A"), &rt), NGX_ERROR,
           "a blob ID of 44 characters");
}


static void
test_slivers(void)
{
    size_t              i;
    ngx_walrus_route_t  rt;

    static const struct {
        const char      *suffix;
        ngx_uint_t       pair;
        walrus_axis_e    axis;
    } good[] = {
        { "/slivers/0/primary", 0, WALRUS_PRIMARY },
        { "/slivers/6/secondary", 6, WALRUS_SECONDARY },
        { "/slivers/42/primary", 42, WALRUS_PRIMARY },
        { "/slivers/254/secondary", 254, WALRUS_SECONDARY },
    };

    static const char  *bad[] = {
        "/slivers/255/primary",     /* WALRUS_MAX_SHARDS */
        "/slivers/1000/primary",
        "/slivers/01/primary",      /* not canonical */
        "/slivers/00/primary",
        "/slivers/-1/primary",
        "/slivers/+1/primary",
        "/slivers/x/primary",
        "/slivers//primary",
        "/slivers/1",
        "/slivers/1/",
        "/slivers/1/tertiary",
        "/slivers/1/primaryx",
        "/slivers/1/primary/",
        "/slivers/1/Primary",
        "/recovery",
        "/recovery/",
        "/recovery/255",
        "/recovery/01",
        "/recovery/x",
        "/recovery/1/",
        "/recovery/1/primary",
    };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        is_int(parse(blob_path(good[i].suffix), &rt), NGX_OK,
               "/v1/blobs/<id>%s", good[i].suffix);
        is_int(rt.kind, NGX_WALRUS_ROUTE_SLIVER, "... a sliver");
        is_int(rt.pair, good[i].pair, "... of pair %u",
               (unsigned) good[i].pair);
        is_int(rt.axis, good[i].axis, "... and its axis");
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        is_int(parse(blob_path(bad[i]), &rt), NGX_DECLINED,
               "/v1/blobs/<id>%s: declined", bad[i]);
    }

    /* the arguments are in r->args, never in the URI */

    is_int(parse(blob_path("/recovery/254"), &rt), NGX_OK,
           "/v1/blobs/<id>/recovery/254");
    ok(rt.kind == NGX_WALRUS_ROUTE_RECOVERY && rt.pair == 254,
       "... the recovery of pair 254");
    is_int(parse(blob_path("/recovery/0"), &rt), NGX_OK,
           "/v1/blobs/<id>/recovery/0");
    ok(rt.kind == NGX_WALRUS_ROUTE_RECOVERY && rt.pair == 0,
       "... the recovery of pair 0");
}


static void
test_audit(void)
{
    size_t              i;
    ngx_walrus_route_t  rt;

    static const struct {
        const char          *path;
        ngx_walrus_route_e   kind;
        uint32_t             round;
        ngx_uint_t           node;
    } good[] = {
        { "/v1/audit/beacon", NGX_WALRUS_ROUTE_AUDIT_BEACON, 0, 0 },
        { "/v1/audit/status", NGX_WALRUS_ROUTE_AUDIT_STATUS, 0, 0 },
        { "/v1/audit/rounds/1/beacon", NGX_WALRUS_ROUTE_AUDIT_ROUND, 1, 0 },
        { "/v1/audit/rounds/4294967295/signature",
          NGX_WALRUS_ROUTE_AUDIT_SIGNATURE, 4294967295u, 0 },
        { "/v1/audit/rounds/17/answer", NGX_WALRUS_ROUTE_AUDIT_ANSWER, 17,
          0 },
        { "/v1/audit/rounds/3/certificate",
          NGX_WALRUS_ROUTE_AUDIT_CERTIFICATE, 3, 0 },
        { "/v1/audit/rounds/3/attestations/0",
          NGX_WALRUS_ROUTE_AUDIT_ATTESTATION, 3, 0 },
        { "/v1/audit/rounds/10/attestations/254",
          NGX_WALRUS_ROUTE_AUDIT_ATTESTATION, 10, 254 },
        { "/v1/audit/rounds/2/frauds/6", NGX_WALRUS_ROUTE_AUDIT_FRAUD, 2,
          6 },
    };

    static const char  *declined[] = {
        "/v1/audit", "/v1/audit/", "/v1/audit/beacon/", "/v1/audit/statu",
        "/v1/audit/rounds", "/v1/audit/rounds/", "/v1/audit/rounds/1",
        "/v1/audit/rounds/1/", "/v1/audit/rounds/0/beacon",
        "/v1/audit/rounds/01/beacon", "/v1/audit/rounds/-1/beacon",
        "/v1/audit/rounds/4294967296/beacon",
        "/v1/audit/rounds/99999999999/beacon",
        "/v1/audit/rounds/x/beacon", "/v1/audit/rounds/1/beacons",
        "/v1/audit/rounds/1/beacon/", "/v1/audit/rounds/1/answer/",
        "/v1/audit/rounds/1/attestations", "/v1/audit/rounds/1/attestations/",
        "/v1/audit/rounds/1/attestations/255",
        "/v1/audit/rounds/1/attestations/01",
        "/v1/audit/rounds/1/attestations/1/", "/v1/audit/rounds/1/frauds/",
        "/v1/audit/rounds/1/frauds/x", "/v1/audit/rounds/1/fraud/1",
        "/v1/audit", "/v1/auditx/beacon",
    };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        memset(&rt, 0xff, sizeof(rt));
        is_int(parse(good[i].path, &rt), NGX_OK, "%s", good[i].path);
        is_int(rt.kind, good[i].kind, "... its kind");

        if (good[i].round != 0) {
            ok(rt.round == good[i].round, "... round %lu",
               (unsigned long) good[i].round);
        }

        if (good[i].kind == NGX_WALRUS_ROUTE_AUDIT_ATTESTATION
            || good[i].kind == NGX_WALRUS_ROUTE_AUDIT_FRAUD)
        {
            is_int(rt.node, good[i].node, "... node %u",
                   (unsigned) good[i].node);
        }
    }

    for (i = 0; i < sizeof(declined) / sizeof(declined[0]); i++) {
        is_int(parse(declined[i], &rt), NGX_DECLINED, "%s: declined",
               declined[i]);
    }
}


/* the gateway's view of the audits and what it keeps */

static void
test_audits(void)
{
    size_t              i;
    ngx_walrus_route_t  rt;

    static const char  *bad[] = {
        "/v1/audits/",
        "/v1/audits/1",
        "/v1/audits/1/",
        "/v1/audits/01/rounds/1/certificate",   /* not canonical */
        "/v1/audits/255/rounds/1/certificate",  /* WALRUS_MAX_SHARDS */
        "/v1/audits/1/rounds/0/certificate",
        "/v1/audits/1/rounds/01/certificate",
        "/v1/audits/1/rounds/4294967296/certificate",
        "/v1/audits/1/rounds//certificate",
        "/v1/audits/1/rounds/2",
        "/v1/audits/1/rounds/2/",
        "/v1/audits/1/rounds/2/certificates",
        "/v1/audits/1/rounds/2/certificate/",
        "/v1/audits/1/frauds/",
        "/v1/audits/1/frauds/0",
        "/v1/audits/1/frauds/2/",
        "/v1/audits/1/frauds/x",
        "/v1/audits/1/rounds/2/beacon",         /* a node's leaf */
    };

    is_int(parse("/v1/audits", &rt), NGX_OK, "/v1/audits");
    is_int(rt.kind, NGX_WALRUS_ROUTE_AUDITS, "... is the audits' view");

    is_int(parse("/v1/audits/254/rounds/4294967295/certificate", &rt),
           NGX_OK, "/v1/audits/254/rounds/4294967295/certificate");
    ok(rt.kind == NGX_WALRUS_ROUTE_AUDITS_CERT && rt.node == 254
       && rt.round == 4294967295u, "... the certificate of node 254");

    is_int(parse("/v1/audits/0/frauds/7", &rt), NGX_OK,
           "/v1/audits/0/frauds/7");
    ok(rt.kind == NGX_WALRUS_ROUTE_AUDITS_FRAUD && rt.node == 0
       && rt.round == 7, "... a fraud proof against node 0 of round 7");

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        is_int(parse(bad[i], &rt), NGX_DECLINED, "%s: declined", bad[i]);
    }
}


int
main(void)
{
    size_t  i;

    for (i = 0; i < sizeof(id); i++) {
        id[i] = (u_char) (i * 37 + 5);
    }

    walrus_blob_id_format(id, id_text);

    test_fixed();
    test_stream();
    test_quilts();
    test_concat();
    test_blob();
    test_slivers();
    test_audit();
    test_audits();

    return tap_done();
}
