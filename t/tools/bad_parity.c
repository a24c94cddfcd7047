/*
 * Test tool: encodes FILE like `walrusctl encode` but as a dishonest
 * writer would, with primary sliver p of segment 0 replaced by garbage and
 * the metadata committing to the garbage.  Every sliver still verifies on
 * its own; readers that decode with sliver p must detect the blob as
 * inconsistent.  Usage: bad_parity N SEGMENT_SIZE FILE DIR
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <walrus_codec.h>
#include <walrus_metadata.h>


static int write_file(const char *dir, const char *name, const void *data,
    size_t len, const char *mode);


int
main(int argc, char **argv)
{
    char                name[64], text[WALRUS_BLOB_ID_TEXT_LEN + 2];
    FILE               *in;
    size_t              plen, slen;
    uint8_t            *data, *meta, *sec, id[WALRUS_BLOB_ID_LEN];
    uint32_t            seg_size;
    uint64_t            g, len, glen;
    unsigned            n, k, p;
    struct stat         st;
    walrus_codec_t     *c;
    walrus_segment_t    seg;
    walrus_metadata_t   m;

    if (argc != 5) {
        fprintf(stderr, "usage: bad_parity N SEGMENT_SIZE FILE DIR\n");
        return 2;
    }

    n = atoi(argv[1]);
    seg_size = atoi(argv[2]);
    c = walrus_codec_create(n);
    in = fopen(argv[3], "rb");

    if (c == NULL || in == NULL || fstat(fileno(in), &st) != 0) {
        fprintf(stderr, "bad_parity: bad arguments\n");
        return 2;
    }

    len = st.st_size;
    data = malloc(len + 1);
    if (data == NULL || fread(data, 1, len, in) != len
        || walrus_metadata_init(&m, n, seg_size, len) != WALRUS_OK)
    {
        fprintf(stderr, "bad_parity: cannot read %s\n", argv[3]);
        return 1;
    }

    fclose(in);
    mkdir(argv[4], 0755);
    p = walrus_codec_params(c)->p;
    walrus_segment_init(&seg);

    for (g = 0; g < m.nsegments; g++) {
        glen = walrus_segment_length(len, seg_size, g);
        walrus_segment_encode(c, data + g * seg_size, glen, &seg);

        plen = walrus_sliver_size(walrus_codec_params(c), WALRUS_PRIMARY,
                                  seg.symbol_size);
        slen = walrus_sliver_size(walrus_codec_params(c), WALRUS_SECONDARY,
                                  seg.symbol_size);

        if (g == 0) {
            uint8_t  *bad = (uint8_t *) walrus_segment_primary(c, &seg, p);

            for (k = 0; k < plen; k++) {
                bad[k] = (uint8_t) (k * 131 + 17);
            }

            walrus_sliver_hash(c, WALRUS_PRIMARY, seg.symbol_size, bad, plen,
                               seg.pair_hashes + p * WALRUS_PAIR_HASH_LEN);
        }

        memcpy(walrus_metadata_segment(&m, g), seg.pair_hashes,
               n * WALRUS_PAIR_HASH_LEN);

        sec = malloc(slen);

        for (k = 0; k < n; k++) {
            snprintf(name, sizeof(name), "%u.primary", k);
            write_file(argv[4], name, walrus_segment_primary(c, &seg, k),
                       plen, g ? "ab" : "wb");

            walrus_segment_secondary(c, &seg, n - 1 - k, sec);
            snprintf(name, sizeof(name), "%u.secondary", k);
            write_file(argv[4], name, sec, slen, g ? "ab" : "wb");
        }

        free(sec);
    }

    meta = malloc(walrus_metadata_size(&m));
    walrus_metadata_serialize(&m, meta);
    write_file(argv[4], "metadata", meta, walrus_metadata_size(&m), "wb");

    walrus_metadata_blob_id(&m, id);
    walrus_blob_id_format(id, text);
    printf("%s\n", text);
    strcat(text, "\n");
    write_file(argv[4], "blob-id", text, strlen(text), "wb");

    free(meta);
    free(data);
    walrus_metadata_free(&m);
    walrus_segment_free(&seg);
    walrus_codec_destroy(c);

    return 0;
}


static int
write_file(const char *dir, const char *name, const void *data, size_t len,
    const char *mode)
{
    char   path[1024];
    FILE  *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    f = fopen(path, mode);
    if (f == NULL || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "bad_parity: cannot write %s\n", path);
        exit(1);
    }

    return fclose(f);
}
