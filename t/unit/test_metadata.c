/*
 * Metadata wire form, blob IDs, base64url, Merkle proofs, shard rotation
 * and the worked example of docs/protocol.md.
 */

#include <tap.h>
#include <walrus_base64.h>
#include <walrus_codec.h>
#include <walrus_metadata.h>
#include <walrus_sha256.h>


/* docs/protocol.md, "Worked example": n = 4, S = 1024, bytes 0..299 */
#define KAT_LEN      300
#define KAT_BLOB_ID  "utTRv52IhGhj-YrZyJPAeFn4dEv5Ckd68GdOi8uKE8A"
#define KAT_ROOT     "77dfaa746abf8f2af860061a4dddc9e7" \
                     "b95bbe6cfbac1f9f1da24c3da5521226"

static const char  *kat_pairs[4][2] = {
    { "367ea6ae7922116ddc06899b92ab0832a23ebdf2e3765ad955614e945e20db70",
      "441ab549843a91e9aae3fb4d6dc71ecb3efd671f1819326efe24e5b18c415b01" },
    { "a751e22730f72bc11819e9cc50265cb75b03fb19a6c52e4ba98cd2699317da33",
      "59a797f0e0a74c8e01b35779c89cd159eb3fdc032d764e5cfdf52eca3a3a93c5" },
    { "ffa33670ac25af1d0d16b862e1ac4c51ceb4e304a7c76d460595e08d8e2578f4",
      "f8eeca797c8ef1e6749ee717ea6870fdd0f8f0c658fd68615794abf84f8d4eaf" },
    { "abc56d2e2d646fa47e813fe27fbda3ea0477f2fc959005c51572041827a44f28",
      "49fdc181c312492d1c40cf1f72e20572a25a9a129af8701333514090cf357886" }
};


static void
to_hex(const uint8_t *p, size_t len, char *out)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        sprintf(out + 2 * i, "%02x", p[i]);
    }
}


static void
test_known_answer(void)
{
    char               hex[65], text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    uint8_t            data[KAT_LEN], id[WALRUS_BLOB_ID_LEN];
    unsigned           i, k;
    walrus_codec_t    *c;
    walrus_segment_t   seg;
    walrus_metadata_t  m;

    for (i = 0; i < KAT_LEN; i++) {
        data[i] = (uint8_t) i;
    }

    c = walrus_codec_create(4);
    walrus_segment_init(&seg);
    walrus_metadata_init(&m, 4, 1024, KAT_LEN);

    is_int(walrus_segment_encode(c, data, KAT_LEN, &seg), WALRUS_OK,
           "worked example encodes");
    is_int(seg.symbol_size, 64, "worked example: 64-byte symbols");

    for (k = 0; k < 4; k++) {
        to_hex(seg.pair_hashes + k * WALRUS_PAIR_HASH_LEN, 32, hex);
        ok(strcmp(hex, kat_pairs[k][0]) == 0,
           "worked example: primary hash of pair %u", k);
        to_hex(seg.pair_hashes + k * WALRUS_PAIR_HASH_LEN + 32, 32, hex);
        ok(strcmp(hex, kat_pairs[k][1]) == 0,
           "worked example: secondary hash of pair %u", k);
    }

    to_hex(seg.root, 32, hex);
    ok(strcmp(hex, KAT_ROOT) == 0, "worked example: segment root");

    memcpy(m.hashes, seg.pair_hashes, 4 * WALRUS_PAIR_HASH_LEN);
    walrus_metadata_blob_id(&m, id);
    walrus_blob_id_format(id, text);
    ok(strcmp(text, KAT_BLOB_ID) == 0, "worked example: blob ID %s", text);

    walrus_metadata_free(&m);
    walrus_segment_free(&seg);
    walrus_codec_destroy(c);
}


static void
test_metadata_parse(void)
{
    int                rc, all;
    size_t             size, i;
    uint8_t           *buf, *bad, id[WALRUS_BLOB_ID_LEN], id2[32];
    walrus_metadata_t  m, m2;

    walrus_metadata_init(&m, 7, 1024, 5000);
    is_int(m.nsegments, 5, "5000 bytes in 1 KiB segments: 5 segments");

    for (i = 0; i < m.nsegments * 7 * WALRUS_PAIR_HASH_LEN; i++) {
        m.hashes[i] = (uint8_t) (i * 7 + 3);
    }

    size = walrus_metadata_size(&m);
    is_int(size, 16 + 5 * 7 * 64, "metadata size");

    buf = malloc(size + 1);
    walrus_metadata_serialize(&m, buf);

    rc = walrus_metadata_parse(&m2, buf, size);
    ok(rc == WALRUS_OK && m2.length == 5000 && m2.segment_size == 1024
       && m2.params.n == 7
       && memcmp(m2.hashes, m.hashes, size - 16) == 0,
       "metadata round trip");

    walrus_metadata_blob_id(&m, id);
    walrus_metadata_blob_id(&m2, id2);
    ok(memcmp(id, id2, 32) == 0, "same metadata, same blob ID");
    is_int(walrus_metadata_check(&m2, id), WALRUS_OK,
           "metadata checks against its blob ID");

    m2.hashes[100] ^= 1;
    is_int(walrus_metadata_check(&m2, id), WALRUS_EBLOBID,
           "a changed hash changes the blob ID");
    m2.hashes[100] ^= 1;
    m2.length = 4999;
    is_int(walrus_metadata_check(&m2, id), WALRUS_EBLOBID,
           "a changed length changes the blob ID");
    walrus_metadata_free(&m2);

    all = 1;

    for (i = 0; i < size; i++) {
        all &= walrus_metadata_parse(&m2, buf, i) == WALRUS_EFORMAT;
        walrus_metadata_free(&m2);
    }

    ok(all, "every truncation is rejected");

    buf[size] = 0;
    is_int(walrus_metadata_parse(&m2, buf, size + 1), WALRUS_EFORMAT,
           "one extra byte is rejected");

    bad = malloc(size);

    struct {
        size_t       off;
        uint8_t      val;
        const char  *what;
    } cases[] = {
        { 0, 2, "format version 2" },
        { 0, 0, "format version 0" },
        { 1, 0, "encoding type 0" },
        { 2, 3, "n = 3" },
        { 3, 1, "n = 263" },
        { 5, 0, "segment size 0" },
        { 7, 0x80, "segment size 2 GiB" },
        { 15, 0x80, "length 2^63" },
        { 9, 0x18, "length of 7 segments with 5 of hashes" },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, buf, size);
        bad[cases[i].off] = cases[i].val;
        is_int(walrus_metadata_parse(&m2, bad, size), WALRUS_EFORMAT,
               "rejected: %s", cases[i].what);
        walrus_metadata_free(&m2);
    }

    /* a length that needs more segments than the bytes that follow */

    memcpy(bad, buf, size);
    bad[13] = 1;
    is_int(walrus_metadata_parse(&m2, bad, size), WALRUS_EFORMAT,
           "rejected: length of 1 TiB with 5 segments of hashes");

    for (i = 0; i < 2000; i++) {
        size_t  len = (size_t) rand() % 600;

        bad = realloc(bad, len + 1);
        for (size_t j = 0; j < len; j++) {
            bad[j] = (uint8_t) rand();
        }

        if (len > 0 && i % 2) {
            bad[0] = 1;
        }

        if (len > 1 && i % 4 == 1) {
            bad[1] = 1;
        }

        rc = walrus_metadata_parse(&m2, bad, len);
        walrus_metadata_free(&m2);
    }

    ok(1, "2000 random buffers parsed without a crash");

    free(bad);
    free(buf);
    walrus_metadata_free(&m);

    is_int(walrus_metadata_init(&m, 7, 512, 10), WALRUS_EINVAL,
           "segment size below the minimum is refused");
    walrus_metadata_free(&m);
}


static void
test_blob_id_text(void)
{
    int       all;
    char      text[WALRUS_BLOB_ID_TEXT_LEN + 1], bad[64];
    size_t    i, len;
    uint8_t   id[32], back[32], raw[48], dec[48];
    unsigned  k;

    for (i = 0; i < 32; i++) {
        id[i] = (uint8_t) (255 - i * 5);
    }

    walrus_blob_id_format(id, text);
    is_int(strlen(text), 43, "blob ID text is 43 characters");
    ok(walrus_blob_id_parse(text, 43, back) == WALRUS_OK
       && memcmp(back, id, 32) == 0, "blob ID text round trip");

    static const char  *bad_ids[] = {
        "",
        "AAAA",
        "utTRv52IhGhj-YrZyJPAeFn4dEv5Ckd68GdOi8uKE8",
        "utTRv52IhGhj-YrZyJPAeFn4dEv5Ckd68GdOi8uKE8AA",
        "utTRv52IhGhj+YrZyJPAeFn4dEv5Ckd68GdOi8uKE8A",
        "utTRv52IhGhj/YrZyJPAeFn4dEv5Ckd68GdOi8uKE8A",
        "utTRv52IhGhj-YrZyJPAeFn4dEv5Ckd68GdOi8uKE8=",
        "utTRv52IhGhj-YrZyJPAeFn4dEv5Ckd68GdOi8uKE8B",
        "../../../../../../../../../../../etc/passwd",
        "utTRv52IhGhj-YrZyJPAeFn4dEv5Ckd68GdOi8u E8A",
        "utTRv52IhGhj-YrZyJPAeFn4dEv5Ckd68GdOi8u\nE8A",
    };

    for (k = 0; k < sizeof(bad_ids) / sizeof(bad_ids[0]); k++) {
        is_int(walrus_blob_id_parse(bad_ids[k], strlen(bad_ids[k]), back),
               WALRUS_EFORMAT, "bad blob ID text %u rejected", k);
    }

    memcpy(bad, KAT_BLOB_ID, 43);
    bad[20] = '\0';
    is_int(walrus_blob_id_parse(bad, 43, back), WALRUS_EFORMAT,
           "NUL inside a blob ID rejected");

    all = 1;

    for (len = 0; len <= sizeof(raw); len++) {
        char    enc[80];
        size_t  elen, dlen;

        for (i = 0; i < len; i++) {
            raw[i] = (uint8_t) rand();
        }

        elen = walrus_base64url_encode(raw, len, enc);
        all &= elen == walrus_base64url_encoded_len(len);
        all &= walrus_base64url_decode(enc, elen, dec, &dlen) == WALRUS_OK;
        all &= dlen == len && memcmp(dec, raw, len) == 0;
    }

    ok(all, "base64url round trips for lengths 0..48");
    is_int(walrus_base64url_decode("A", 1, dec, NULL), WALRUS_EFORMAT,
           "base64url of one character rejected");
    is_int(walrus_base64url_decode("AB", 2, dec, NULL), WALRUS_EFORMAT,
           "base64url with non-zero trailing bits rejected");
}


static void
test_rotation(void)
{
    int              all;
    uint8_t          id[32];
    unsigned         n, pair, shard, seen;
    walrus_params_t  wp;

    memset(id, 0, 32);
    id[31] = 9;
    walrus_params_init(&wp, 7);
    is_int(walrus_pair_to_shard(&wp, id, 0), 2, "blob ID 9, n = 7: pair 0 "
           "on shard 2");

    memset(id, 0xff, 32);
    walrus_params_init(&wp, 10);
    is_int(walrus_pair_to_shard(&wp, id, 0), 5,
           "blob ID 2^256 - 1, n = 10: pair 0 on shard 5");

    all = 1;

    for (n = 4; n <= 255; n++) {
        walrus_params_init(&wp, n);
        id[0] = (uint8_t) n;
        seen = 0;

        for (pair = 0; pair < n; pair++) {
            shard = walrus_pair_to_shard(&wp, id, pair);
            all &= shard < n;
            all &= walrus_shard_to_pair(&wp, id, shard) == pair;
            seen += shard;
        }

        all &= seen == n * (n - 1) / 2;
    }

    ok(all, "rotation is a permutation with its inverse for n = 4..255");

    walrus_params_init(&wp, 7);
    ok(wp.f == 2 && wp.p == 3 && wp.s == 5, "n = 7: f 2, p 3, s 5");
    walrus_params_init(&wp, 100);
    ok(wp.f == 33 && wp.p == 34 && wp.s == 67, "n = 100: f 33, p 34, s 67");
    is_int(walrus_segment_count(0, 1024), 1, "an empty blob has one segment");
    is_int(walrus_segment_count(1025, 1024), 2, "1025 bytes: two segments");
    is_int(walrus_segment_length(1025, 1024, 1), 1, "last segment: 1 byte");
}


static void
test_merkle(void)
{
    int               all;
    size_t            count, i, plen;
    uint8_t           leaves[300 * 32], scratch[300 * 32], root[32];
    uint8_t           proof[10 * 32];
    walrus_sha256_t  *h;

    h = walrus_sha256_create();
    all = 1;

    for (i = 0; i < sizeof(leaves); i++) {
        leaves[i] = (uint8_t) (i * 31);
    }

    for (count = 1; count <= 300; count += (count < 20 ? 1 : 37)) {
        walrus_merkle_root(h, leaves, count, 32, scratch, root);
        plen = walrus_merkle_proof_size(count);

        for (i = 0; i < count; i++) {
            walrus_merkle_proof(h, leaves, count, 32, i, scratch, proof);
            all &= walrus_merkle_verify(h, leaves + 32 * i, i, count, proof,
                                        root) == WALRUS_OK;

            if (plen > 0) {
                proof[plen - 1] ^= 1;
                all &= walrus_merkle_verify(h, leaves + 32 * i, i, count,
                                            proof, root) == WALRUS_EHASH;
            }

            if (count > 1) {
                proof[plen - 1] ^= 1;
                all &= walrus_merkle_verify(h, leaves + 32 * i,
                                            (i + 1) % count, count, proof,
                                            root) == WALRUS_EHASH;
            }
        }
    }

    ok(all, "Merkle proofs verify for every leaf; altered ones fail");

    walrus_merkle_root(h, leaves, 1, 32, scratch, root);
    ok(memcmp(root, leaves, 32) == 0, "a one-leaf tree's root is the leaf");
    is_int(walrus_merkle_proof_size(255), 8 * 32, "255 leaves: 8 levels");

    walrus_sha256_destroy(h);
}


int
main(void)
{
    srand(7);

    test_known_answer();
    test_metadata_parse();
    test_blob_id_text();
    test_rotation();
    test_merkle();

    return tap_done();
}
