/*
 * Recovery answers (building, parsing, verifying, rebuilding from them)
 * and inconsistency proofs.
 */

#include <unistd.h>
#include <tap.h>
#include <test_blob.h>
#include <walrus_recovery.h>
#include <walrus_sha256.h>
#include <walrus_sliver_file.h>


/* the answer of an honest node holding the pairs helpers[0..nh-1] */

static uint8_t *
answer(walrus_codec_t *c, const store_t *st, unsigned target, unsigned axes,
    uint32_t first, uint32_t count, const unsigned *helpers, unsigned nh,
    size_t *len)
{
    int                     rc;
    uint8_t                *buf, *p;
    uint64_t                g;
    unsigned                i, bad;
    walrus_recovery_head_t  head;

    memset(&head, 0, sizeof(head));
    memcpy(head.blob_id, st->id, WALRUS_BLOB_ID_LEN);
    head.target = target;
    head.axes = axes;
    head.first = first;
    head.count = count;
    head.nhelpers = nh;
    memcpy(head.helpers, helpers, nh * sizeof(unsigned));

    *len = walrus_recovery_answer_size(&st->meta, &head);
    buf = malloc(*len);
    walrus_recovery_head_write(&head, buf);
    p = buf + walrus_recovery_head_size(nh);

    for (g = first; g < (uint64_t) first + count; g++) {
        for (i = 0; i < nh; i++) {
            rc = walrus_recovery_build(c, &st->meta, &head, g, helpers[i],
                                       slice(st, helpers[i], WALRUS_PRIMARY,
                                             g),
                                       slice(st, helpers[i],
                                             WALRUS_SECONDARY, g),
                                       p, &bad);
            if (rc != WALRUS_OK) {
                printf("# build: %s\n", walrus_strerror(rc));
            }

            p += walrus_recovery_entry_size(&st->meta, axes, g);
        }
    }

    return buf;
}


/* rebuilds every segment of the target on axis; 1 when all match */

static int
rebuilds(walrus_codec_t *c, const store_t *st,
    const walrus_recovery_answer_t *const *answers, unsigned nanswers,
    unsigned target, walrus_axis_e axis)
{
    int       rc, same;
    size_t    len;
    uint8_t  *out;
    uint64_t  g;

    out = malloc(walrus_sliver_file_size(&st->meta, axis));
    same = 1;

    for (g = 0; g < st->meta.nsegments; g++) {
        len = walrus_sliver_size(&st->meta.params, axis,
                                 walrus_symbol_size(&st->meta.params,
                                     walrus_segment_length(st->meta.length,
                                         st->meta.segment_size, g)));

        rc = walrus_recovery_rebuild(c, &st->meta, answers, nanswers, axis,
                                     g, out);
        if (rc != WALRUS_OK) {
            printf("# segment %llu: %s\n", (unsigned long long) g,
                   walrus_strerror(rc));
            same = 0;
            break;
        }

        same &= memcmp(out, slice(st, target, axis, g), len) == 0;
    }

    free(out);

    return same;
}


/*
 * Answers for target from every other pair, a node each, all segments and
 * both axes; whether they all parse and verify.
 */

static int
other_answers(walrus_codec_t *c, const store_t *st, unsigned target,
    uint8_t **buf, walrus_recovery_answer_t *ans,
    const walrus_recovery_answer_t **list)
{
    int       all;
    size_t    len;
    unsigned  h, k;

    all = 1;

    for (h = 0, k = 0; h < st->meta.params.n; h++) {
        if (h == target) {
            continue;
        }

        buf[k] = answer(c, st, target, WALRUS_RECOVERY_BOTH, 0,
                        (uint32_t) st->meta.nsegments, &h, 1, &len);
        all &= walrus_recovery_parse(c, &st->meta, st->id, buf[k], len,
                                     &ans[k])
               == WALRUS_OK
               && ans[k].nfailed == 0;
        list[k] = &ans[k];
        k++;
    }

    return all;
}


static void
free_answers(uint8_t **buf, walrus_recovery_answer_t *ans, unsigned k)
{
    unsigned  h;

    for (h = 0; h < k; h++) {
        walrus_recovery_answer_free(&ans[h]);
        free(buf[h]);
    }
}


static void
test_honest(unsigned n)
{
    uint8_t                         *buf[WALRUS_MAX_SHARDS], *out;
    uint64_t                         len;
    unsigned                         k, target, nsegs;
    store_t                          st;
    walrus_codec_t                  *c;
    walrus_recovery_head_t           head;
    walrus_recovery_answer_t         ans[WALRUS_MAX_SHARDS];
    const walrus_recovery_answer_t  *list[WALRUS_MAX_SHARDS];

    c = walrus_codec_create(n);
    store_encode(c, 3 * 4096 + 1000, 4096, 0, &st);
    nsegs = (unsigned) st.meta.nsegments;
    target = n / 3;
    k = n - 1;

    ok(other_answers(c, &st, target, buf, ans, list),
       "n=%u: honest answers parse and every symbol verifies", n);

    head = ans[0].head;
    len = walrus_recovery_answer_size(&st.meta, &head);
    is_int(len, walrus_recovery_head_size(1)
                + (uint64_t) (nsegs - 1)
                  * walrus_recovery_entry_size(&st.meta, 3, 0)
                + walrus_recovery_entry_size(&st.meta, 3, nsegs - 1),
           "n=%u: the answer's size follows from the metadata", n);
    is_int(walrus_recovery_segments_within(&st.meta, 3, 1, 0, len),
           nsegs, "n=%u: segments_within the answer's size: all", n);
    is_int(walrus_recovery_segments_within(&st.meta, 3, 1, 0, len - 1),
           nsegs - 1, "n=%u: one byte less: one segment less", n);

    ok(rebuilds(c, &st, list, k, target, WALRUS_PRIMARY),
       "n=%u: the primary sliver is rebuilt exactly", n);
    ok(rebuilds(c, &st, list, k, target, WALRUS_SECONDARY),
       "n=%u: the secondary sliver is rebuilt exactly", n);

    /* just enough helpers, and one fewer */

    ok(rebuilds(c, &st, list + (n - 1 - st.meta.params.s),
                st.meta.params.s, target, WALRUS_PRIMARY),
       "n=%u: s helpers are enough for the primary sliver", n);
    out = malloc(walrus_sliver_file_size(&st.meta, WALRUS_PRIMARY));
    is_int(walrus_recovery_rebuild(c, &st.meta, list, st.meta.params.p - 1,
                                   WALRUS_SECONDARY, 0, out),
           WALRUS_ENOTENOUGH, "n=%u: p - 1 helpers are not enough", n);
    free(out);

    free_answers(buf, ans, k);
    store_free(&st);
    walrus_codec_destroy(c);
}


static void
test_ranges_and_lies(void)
{
    int                              rc;
    size_t                           len[16], alen;
    uint8_t                         *buf[16], *a, *bad;
    unsigned                         h, k, n, target, bits, pairs[2];
    store_t                          st;
    walrus_codec_t                  *c;
    walrus_recovery_head_t           head;
    walrus_recovery_answer_t         ans[16], one;
    const walrus_recovery_answer_t  *list[16];

    n = 7;
    target = 2;
    c = walrus_codec_create(n);
    store_encode(c, 4 * 4096 + 100, 4096, 0, &st);

    /* node A holds pairs 0 and 5; the others one each; two ranges each */

    pairs[0] = 0;
    pairs[1] = 5;
    k = 0;

    for (h = 0; h < n; h++) {
        if (h == target || h == 0 || h == 5) {
            continue;
        }

        buf[k] = answer(c, &st, target, WALRUS_RECOVERY_BOTH, 0, 3, &h, 1,
                        &len[k]);
        k++;
        buf[k] = answer(c, &st, target, WALRUS_RECOVERY_BOTH, 3, 2, &h, 1,
                        &len[k]);
        k++;
    }

    buf[k] = answer(c, &st, target, WALRUS_RECOVERY_PRIMARY, 0, 5, pairs, 2,
                    &len[k]);
    k++;
    buf[k] = answer(c, &st, target, WALRUS_RECOVERY_SECONDARY, 0, 5, pairs,
                    2, &len[k]);
    k++;

    /* a lying helper: pair 3's symbol of segment 1, primary axis */

    buf[2][walrus_recovery_head_size(1)
           + walrus_recovery_entry_size(&st.meta, 3, 0) + 5] ^= 0x40;

    for (h = 0; h < k; h++) {
        rc = walrus_recovery_parse(c, &st.meta, st.id, buf[h], len[h],
                                   &ans[h]);
        if (rc != WALRUS_OK) {
            printf("# answer %u: %s\n", h, walrus_strerror(rc));
        }

        list[h] = &ans[h];
    }

    is_int(ans[2].nfailed, 1, "a tampered symbol fails verification");
    is_int(ans[2].failed[3], 1, "... and names its helper pair 3");
    is_int(ans[0].nfailed + ans[4].nfailed + ans[k - 1].nfailed, 0,
           "... the other answers verify");
    ok(rebuilds(c, &st, list, k, target, WALRUS_PRIMARY)
       && rebuilds(c, &st, list, k, target, WALRUS_SECONDARY),
       "ranges, one-axis answers, a node of two pairs and a liar: "
       "both slivers rebuilt exactly");

    /* a tampered proof */

    alen = len[k - 2];
    a = malloc(alen);
    memcpy(a, buf[k - 2], alen);
    a[alen - 1] ^= 1;
    rc = walrus_recovery_parse(c, &st.meta, st.id, a, alen, &one);
    ok(rc == WALRUS_OK && one.nfailed == 1 && one.failed[5] == 1,
       "a tampered proof fails and names its helper pair 5");
    walrus_recovery_answer_free(&one);

    /* malformed answers are refused */

    rc = walrus_recovery_parse(c, &st.meta, st.id, a, alen - 1, &one);
    is_int(rc, WALRUS_EFORMAT, "a truncated answer is refused");
    walrus_recovery_answer_free(&one);
    rc = walrus_recovery_parse(c, &st.meta, st.id, a, 40, &one);
    is_int(rc, WALRUS_EFORMAT, "a truncated header is refused");
    walrus_recovery_answer_free(&one);

    bad = malloc(alen + 1);
    memcpy(bad, buf[k - 2], alen);
    bad[alen] = 0;
    rc = walrus_recovery_parse(c, &st.meta, st.id, bad, alen + 1, &one);
    is_int(rc, WALRUS_EFORMAT, "an answer with a byte more is refused");
    walrus_recovery_answer_free(&one);

    bad[1] ^= 1;
    rc = walrus_recovery_parse(c, &st.meta, st.id, bad, alen, &one);
    is_int(rc, WALRUS_EBLOBID, "an answer for another blob is refused");
    walrus_recovery_answer_free(&one);
    bad[1] ^= 1;

    /* helpers 0 and 5 swapped: not ascending */
    bad[46] = 5;
    bad[48] = 0;
    rc = walrus_recovery_parse(c, &st.meta, st.id, bad, alen, &one);
    is_int(rc, WALRUS_EFORMAT, "helper pairs out of order are refused");
    walrus_recovery_answer_free(&one);
    bad[46] = 0;
    bad[48] = 5;

    bad[33] = 7;
    rc = walrus_recovery_parse(c, &st.meta, st.id, bad, alen, &one);
    is_int(rc, WALRUS_EFORMAT, "a target pair >= n is refused");
    walrus_recovery_answer_free(&one);
    bad[33] = (uint8_t) target;

    bad[35] = 4;
    rc = walrus_recovery_parse(c, &st.meta, st.id, bad, alen, &one);
    is_int(rc, WALRUS_EFORMAT, "unknown axes are refused");
    walrus_recovery_answer_free(&one);
    bad[35] = WALRUS_RECOVERY_PRIMARY;

    bad[36] = 1;
    rc = walrus_recovery_parse(c, &st.meta, st.id, bad, alen, &one);
    is_int(rc, WALRUS_EFORMAT, "a range past the blob is refused");
    walrus_recovery_answer_free(&one);
    bad[36] = 0;

    rc = walrus_recovery_parse(c, &st.meta, st.id, bad, alen, &one);
    is_int(rc, WALRUS_OK, "... and the answer restored parses");
    walrus_recovery_answer_free(&one);

    /* a node's own rotten sliver is found while it builds */

    memcpy(a, buf[k - 2], alen);
    ((uint8_t *) slice(&st, 5, WALRUS_SECONDARY, 1))[3] ^= 1;
    memset(&head, 0, sizeof(head));
    head.target = target;
    head.axes = WALRUS_RECOVERY_BOTH;
    rc = walrus_recovery_build(c, &st.meta, &head, 1, 5,
                               slice(&st, 5, WALRUS_PRIMARY, 1),
                               slice(&st, 5, WALRUS_SECONDARY, 1), a, &bits);
    ok(rc == WALRUS_EHASH && bits == WALRUS_RECOVERY_PRIMARY,
       "a rotten secondary sliver spoils the primary axis: found");

    free(a);
    free(bad);

    for (h = 0; h < k; h++) {
        walrus_recovery_answer_free(&ans[h]);
        free(buf[h]);
    }

    store_free(&st);
    walrus_codec_destroy(c);
}


static void
test_inconsistency(void)
{
    int                              rc;
    size_t                           len, step;
    uint8_t                         *buf[16], *proof, *copy, *out, *q;
    unsigned                         h, j, k, n, p;
    store_t                          st;
    walrus_codec_t                  *c;
    walrus_inconsistency_t           info;
    walrus_recovery_answer_t         ans[16];
    const walrus_recovery_answer_t  *list[16];

    n = 7;
    c = walrus_codec_create(n);
    p = walrus_codec_params(c)->p;
    store_encode(c, 2 * 4096 + 300, 4096, 1, &st);
    out = malloc(walrus_sliver_file_size(&st.meta, WALRUS_PRIMARY));

    /* the garbage primary sliver p itself: verified symbols say otherwise */

    k = n - 1;
    ok(other_answers(c, &st, p, buf, ans, list),
       "inconsistent blob: every symbol verifies");
    is_int(walrus_recovery_rebuild(c, &st.meta, list, k, WALRUS_PRIMARY, 0,
                                   out),
           WALRUS_EINCONSISTENT, "... the rebuilt primary sliver %u of "
           "segment 0 does not match the metadata", p);
    is_int(walrus_recovery_rebuild(c, &st.meta, list, k, WALRUS_PRIMARY, 1,
                                   out),
           WALRUS_OK, "... segment 1 is consistent");

    rc = walrus_inconsistency_build(c, &st.meta, list, k, WALRUS_PRIMARY, 0,
                                    &proof, &len);
    is_int(rc, WALRUS_OK, "an inconsistency proof is built");
    is_int(len, WALRUS_INCONSISTENCY_TAG_LEN + 43
                + walrus_metadata_size(&st.meta)
                + st.meta.params.s
                  * (2 + walrus_symbol_size(&st.meta.params, 4096)
                     + walrus_merkle_proof_size(n)),
           "... of the documented size");
    is_int(len, walrus_inconsistency_max_size(&st.meta),
           "... the largest one of the blob (segment 0, primary axis)");

    rc = walrus_inconsistency_verify(proof, len, &info);
    is_int(rc, WALRUS_OK, "... and it holds");
    ok(memcmp(info.blob_id, st.id, WALRUS_BLOB_ID_LEN) == 0
       && info.target == p && info.axis == WALRUS_PRIMARY
       && info.segment == 0 && info.meta.params.n == n,
       "... for this blob, pair %u, the primary axis, segment 0", p);
    walrus_inconsistency_free(&info);

    is_int(walrus_inconsistency_build(c, &st.meta, list, k, WALRUS_PRIMARY,
                                      1, &copy, &step),
           WALRUS_EINVAL, "no proof of a consistent segment");

    /* tampered proofs fail */

    copy = malloc(len + 1);

    memcpy(copy, proof, len);
    copy[len - 40] ^= 1;
    is_int(walrus_inconsistency_verify(copy, len, &info), WALRUS_EHASH,
           "a tampered proof of a symbol fails");

    memcpy(copy, proof, len);
    copy[len - walrus_merkle_proof_size(n) - 2] ^= 1;
    is_int(walrus_inconsistency_verify(copy, len, &info), WALRUS_EHASH,
           "a tampered symbol fails");

    memcpy(copy, proof, len);
    copy[WALRUS_INCONSISTENCY_TAG_LEN + 43 + 16 + 5] ^= 1;
    is_int(walrus_inconsistency_verify(copy, len, &info), WALRUS_EBLOBID,
           "tampered metadata fails");

    memcpy(copy, proof, len);
    copy[WALRUS_INCONSISTENCY_TAG_LEN + 32] ^= 1;
    rc = walrus_inconsistency_verify(copy, len, &info);
    ok(rc != WALRUS_OK, "another target pair fails (%s)",
       walrus_strerror(rc));

    memcpy(copy, proof, len);
    copy[WALRUS_INCONSISTENCY_TAG_LEN + 35] = 1;
    is_int(walrus_inconsistency_verify(copy, len, &info), WALRUS_EHASH,
           "the symbols of segment 0 called segment 1 fail");

    /* the same helpers' symbols of segment 1, which is consistent */

    step = walrus_symbol_size(&st.meta.params, 4096)
           + walrus_merkle_proof_size(n);
    q = copy + WALRUS_INCONSISTENCY_TAG_LEN + 43
        + walrus_metadata_size(&st.meta);

    for (j = 0; j < st.meta.params.s; j++, q += 2 + step) {
        h = q[0] | q[1] << 8;
        memcpy(q + 2, buf[h < p ? h : h - 1] + walrus_recovery_head_size(1)
                      + walrus_recovery_entry_size(&st.meta, 3, 0), step);
    }

    is_int(walrus_inconsistency_verify(copy, len, &info), WALRUS_EINVAL,
           "verified symbols that rebuild the committed sliver show "
           "nothing");

    is_int(walrus_inconsistency_verify(proof, len - 1, &info), WALRUS_EFORMAT,
           "a truncated proof fails");
    memcpy(copy, proof, len);
    copy[len] = 0;
    is_int(walrus_inconsistency_verify(copy, len + 1, &info), WALRUS_EFORMAT,
           "a proof with a byte more fails");
    copy[0] = 'W';
    is_int(walrus_inconsistency_verify(copy, len, &info), WALRUS_EFORMAT,
           "another tag fails");

    free(copy);
    free(proof);
    free_answers(buf, ans, k);

    /* pair 0's secondary sliver: its rebuild uses the garbage row p */

    other_answers(c, &st, 0, buf, ans, list);
    is_int(walrus_recovery_rebuild(c, &st.meta, list, k, WALRUS_PRIMARY, 0,
                                   out),
           WALRUS_OK, "pair 0: the primary sliver is consistent");
    is_int(walrus_recovery_rebuild(c, &st.meta, list, k, WALRUS_SECONDARY, 0,
                                   out),
           WALRUS_EINCONSISTENT, "... its secondary sliver is not");
    rc = walrus_inconsistency_build(c, &st.meta, list, k, WALRUS_SECONDARY,
                                    0, &proof, &len);
    rc = rc == WALRUS_OK ? walrus_inconsistency_verify(proof, len, &info)
                         : rc;
    ok(rc == WALRUS_OK && info.axis == WALRUS_SECONDARY && info.target == 0,
       "... and its proof holds");
    walrus_inconsistency_free(&info);
    free(proof);
    free_answers(buf, ans, k);

    free(out);
    store_free(&st);
    walrus_codec_destroy(c);
}


/* slices of one pair's slivers checked alone, as a migration takes them */

static void
test_slices(void)
{
    int              all;
    size_t           len;
    uint8_t         *copy;
    uint64_t         g;
    unsigned         k, a;
    store_t          st;
    walrus_axis_e    axis;
    walrus_codec_t  *c;

    c = walrus_codec_create(7);
    store_encode(c, 3 * 4096 + 1000, 4096, 0, &st);
    all = 1;

    for (k = 0; k < 7; k++) {
        for (a = 0; a < 2; a++) {
            axis = a ? WALRUS_SECONDARY : WALRUS_PRIMARY;

            for (g = 0; g < st.meta.nsegments; g++) {
                len = walrus_sliver_slice_size(&st.meta, axis, g);
                all &= len == walrus_sliver_size(&st.meta.params, axis,
                                  walrus_symbol_size(&st.meta.params,
                                      walrus_segment_length(st.meta.length,
                                          st.meta.segment_size, g)));
                all &= walrus_sliver_slice_verify(c, &st.meta, k, axis, g,
                                                  slice(&st, k, axis, g),
                                                  len)
                       == WALRUS_OK;
            }
        }
    }

    ok(all, "every slice of every pair verifies on its own");

    len = walrus_sliver_slice_size(&st.meta, WALRUS_PRIMARY, 1);
    copy = malloc(len);
    memcpy(copy, slice(&st, 2, WALRUS_PRIMARY, 1), len);
    copy[len / 2] ^= 1;
    ok(walrus_sliver_slice_verify(c, &st.meta, 2, WALRUS_PRIMARY, 1, copy,
                                  len)
       != WALRUS_OK, "a slice with a flipped byte does not");
    copy[len / 2] ^= 1;
    ok(walrus_sliver_slice_verify(c, &st.meta, 2, WALRUS_PRIMARY, 0, copy,
                                  len)
       != WALRUS_OK, "nor one given for another segment");
    ok(walrus_sliver_slice_verify(c, &st.meta, 3, WALRUS_PRIMARY, 1, copy,
                                  len)
       != WALRUS_OK, "nor one given for another pair");
    ok(walrus_sliver_slice_verify(c, &st.meta, 2, WALRUS_PRIMARY, 1, copy,
                                  len - 1)
       != WALRUS_OK, "nor one a byte short");
    is_int(walrus_sliver_slice_verify(c, &st.meta, 2, WALRUS_PRIMARY,
                                      st.meta.nsegments, copy, len),
           WALRUS_EINVAL, "a segment past the blob is EINVAL");
    is_int(walrus_sliver_slice_verify(c, &st.meta, 7, WALRUS_PRIMARY, 1,
                                      copy, len),
           WALRUS_EINVAL, "a pair past n is EINVAL");

    free(copy);
    store_free(&st);
    walrus_codec_destroy(c);
}


/*
 * Slices verified in batches of segments (node PUT, scrub, sign-time
 * checks): the batch sizes, the segment a bad batch names, whole files
 * with either engine, and the buffer given back as it was.
 */

static void
test_batches(void)
{
    int                fd, rc;
    char               path[] = "/tmp/walrus-batch-XXXXXX";
    size_t             len, size;
    uint8_t           *mem, *buf, *copy;
    uint64_t           g, bad, count, want[] = { 4, 4, 1, 1 };
    unsigned           i, e;
    store_t            st;
    walrus_codec_t    *c;
    walrus_metadata_t  m;

    c = walrus_codec_create(7);
    store_encode(c, 9 * 4096 + 1000, 4096, 0, &st);

    /* 7 leaves a slice: 4 slices fill 24 lanes; the last one is shorter */

    for (g = 0, i = 0; g < st.meta.nsegments; g += count, i++) {
        count = walrus_sliver_batch(&st.meta, WALRUS_PRIMARY, g);
        is_int((int) count, i < 4 ? (int) want[i] : -1,
               "batch %u of 10 segments at n = 7: %d slices", i,
               i < 4 ? (int) want[i] : -1);
    }

    /* large slices: one per batch past 8 MiB, but always one */

    walrus_metadata_init(&m, 7, 16 * 1024 * 1024, 64 * 1024 * 1024);
    len = walrus_sliver_slice_size(&m, WALRUS_SECONDARY, 0);
    is_int((int) walrus_sliver_batch(&m, WALRUS_PRIMARY, 0), 1,
           "a 5.6 MB primary slice is a batch of its own");
    is_int((int) walrus_sliver_batch(&m, WALRUS_SECONDARY, 0),
           (int) (WALRUS_SLIVER_BATCH_BYTES / len),
           "secondary slices of %zu bytes: as many as fit in 8 MiB", len);
    is_int((int) walrus_sliver_file_buffer(&m),
           (int) (WALRUS_SLIVER_BATCH_BYTES / len * len),
           "the file buffer holds the largest batch: 2 secondary slices, "
           "more than 1 primary one");
    walrus_metadata_free(&m);

    /* the whole primary file of pair 2, then one byte of segment 6 off */

    size = walrus_sliver_file_size(&st.meta, WALRUS_PRIMARY);
    fd = mkstemp(path);
    (void) unlink(path);
    rc = fd >= 0 && write(fd, st.files[2 * 2], size) == (ssize_t) size;
    ok(rc, "a sliver file written");

    mem = malloc(walrus_sliver_file_buffer(&st.meta) + 1);
    buf = mem + 1;

    for (e = 0; e < 2; e++) {
        walrus_sha256_use_multibuffer(e == 0);
        is_int(walrus_sliver_file_verify(fd, &st.meta, c, buf, 2,
                                         WALRUS_PRIMARY),
               WALRUS_OK, "%s: the file verifies in batches",
               e ? "OpenSSL" : "multi-buffer");
        is_int(walrus_sliver_file_verify(fd, &st.meta, c, buf, 3,
                                         WALRUS_PRIMARY),
               WALRUS_EHASH, "%s: not as another pair's",
               e ? "OpenSSL" : "multi-buffer");
    }

    walrus_sha256_use_multibuffer(1);

    len = walrus_sliver_slice_size(&st.meta, WALRUS_PRIMARY, 0);
    memcpy(buf, slice(&st, 2, WALRUS_PRIMARY, 4), 4 * len);
    buf[2 * len + 5] ^= 0x40;
    copy = malloc(4 * len + 1);
    memcpy(copy, mem, 4 * len + 1);

    is_int(walrus_sliver_batch_verify(c, &st.meta, 2, WALRUS_PRIMARY, 4, 4,
                                      buf, &bad),
           WALRUS_EHASH, "a batch with a flipped byte does not verify");
    is_int((int) bad, 6, "and names segment 6, where the byte is");
    ok(memcmp(copy, mem, 4 * len + 1) == 0,
       "the batch buffer and the byte before it are as they were");

    buf[2 * len + 5] ^= 0x40;
    is_int(walrus_sliver_batch_verify(c, &st.meta, 2, WALRUS_PRIMARY, 4, 4,
                                      buf, &bad),
           WALRUS_OK, "mended, it verifies");
    is_int(walrus_sliver_batch_verify(c, &st.meta, 2, WALRUS_PRIMARY, 7, 3,
                                      buf, &bad),
           WALRUS_EINVAL, "a batch across slices of two sizes is EINVAL");
    is_int(walrus_sliver_batch_verify(c, &st.meta, 2, WALRUS_PRIMARY, 8, 3,
                                      buf, &bad),
           WALRUS_EINVAL, "a batch past the blob is EINVAL");

    (void) pwrite(fd, "x", 1, (off_t) (6 * len + 3));
    is_int(walrus_sliver_file_verify(fd, &st.meta, c, buf, 2,
                                     WALRUS_PRIMARY),
           WALRUS_EHASH, "a file with a byte of segment 6 changed does not "
           "verify");

    (void) close(fd);
    free(mem);
    free(copy);
    store_free(&st);
    walrus_codec_destroy(c);
}


int
main(void)
{
    unsigned         i;
    static unsigned  ns[] = { 4, 7, 10, 31, 100 };

    for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        test_honest(ns[i]);
    }

    test_ranges_and_lies();
    test_inconsistency();
    test_slices();
    test_batches();

    return tap_done();
}
