/*
 * Quilts: many small files stored as one blob (docs/protocol.md section
 * 20).  A quilt is an index (identifiers, content types, tags, offsets
 * and lengths) followed by the files; a patch ID names one file of one
 * quilt.  Also the multipart/form-data parser of PUT /v1/quilts.
 *
 * Everything here takes untrusted bytes: every length is bounded and
 * malformed input is refused with WALRUS_EFORMAT (or WALRUS_ELENGTH when
 * a limit is passed) and a message for the client.
 */

#ifndef _WALRUS_QUILT_H_INCLUDED_
#define _WALRUS_QUILT_H_INCLUDED_


#include <walrus_types.h>


#define WALRUS_QUILT_MAGIC           "WQUILT"
#define WALRUS_QUILT_MAGIC_LEN       6
#define WALRUS_QUILT_VERSION         1
#define WALRUS_QUILT_HEADER_LEN      16

#define WALRUS_QUILT_MAX_PATCHES     1000
#define WALRUS_QUILT_MAX_ID          255
#define WALRUS_QUILT_MAX_TYPE        127
#define WALRUS_QUILT_MAX_TAGS        32
#define WALRUS_QUILT_MAX_KEY         128
#define WALRUS_QUILT_MAX_VALUE       1024
#define WALRUS_QUILT_MAX_INDEX       (1024 * 1024)

/* quilt ID || version 1 || patch number (u16 LE) */
#define WALRUS_QUILT_PATCH_ID_LEN       (WALRUS_BLOB_ID_LEN + 3)
#define WALRUS_QUILT_PATCH_ID_TEXT_LEN  47

/* the part that carries the tags; never an identifier */
#define WALRUS_QUILT_METADATA_PART   "_metadata"

#define WALRUS_QUILT_ERROR_LEN       160


typedef struct {
    const uint8_t       *key;
    size_t               key_len;
    const uint8_t       *value;
    size_t               value_len;
} walrus_quilt_tag_t;


typedef struct {
    const uint8_t       *id;           /* the identifier, UTF-8 */
    size_t               id_len;
    const uint8_t       *type;         /* the part's Content-Type, or "" */
    size_t               type_len;
    const uint8_t       *data;         /* building only: the file */
    uint64_t             offset;       /* from the start of the quilt */
    uint64_t             length;
    walrus_quilt_tag_t  *tags;
    unsigned             ntags;
} walrus_quilt_patch_t;


/*
 * A parsed or built quilt.  Its strings point into the bytes it was made
 * from (the index, or the multipart body and the _metadata JSON kept in
 * `json`), which must outlive it.
 */
typedef struct {
    walrus_quilt_patch_t  *patches;    /* malloc()ed */
    walrus_quilt_tag_t    *tags;       /* malloc()ed, all patches' tags */
    unsigned               npatches;
    uint32_t               index_len;  /* header and entries */
    uint64_t               length;     /* of the whole quilt */
    void                  *json;       /* the _metadata document */
} walrus_quilt_t;


typedef struct {
    const uint8_t       *name;         /* Content-Disposition's name */
    size_t               name_len;
    const uint8_t       *type;         /* Content-Type, or NULL */
    size_t               type_len;
    const uint8_t       *data;
    size_t               len;
} walrus_multipart_part_t;


/*
 * The boundary of a "multipart/form-data; boundary=..." Content-Type
 * value (1 to 70 characters, quoted or not): WALRUS_OK, or WALRUS_EFORMAT
 * when the type is another or the boundary is missing or invalid.
 */
int walrus_multipart_boundary(const uint8_t *type, size_t len,
    const uint8_t **boundary, size_t *blen);

/*
 * Splits a multipart body into its parts (pointers into body), at most
 * max of them: WALRUS_OK; WALRUS_ELENGTH when there are more;
 * WALRUS_EFORMAT when it is malformed or truncated.  error says why.
 */
int walrus_multipart_parse(const uint8_t *body, size_t len,
    const uint8_t *boundary, size_t blen, walrus_multipart_part_t *parts,
    unsigned max, unsigned *nparts, char *error);

/*
 * A quilt of the parts of a PUT /v1/quilts (one file a part, the
 * optional _metadata part giving tags), offsets assigned: WALRUS_OK,
 * WALRUS_ELENGTH when a limit is passed, WALRUS_EFORMAT when a name,
 * type or the metadata is not acceptable, WALRUS_ENOMEM.
 */
int walrus_quilt_from_parts(walrus_quilt_t *q,
    const walrus_multipart_part_t *parts, unsigned nparts, char *error);

/* writes the index of a built quilt into out (q->index_len bytes) */
void walrus_quilt_index_write(const walrus_quilt_t *q, uint8_t *out);

/*
 * The first WALRUS_QUILT_HEADER_LEN bytes of a blob: WALRUS_OK with the
 * number of patches and the index length when they are a quilt's header,
 * WALRUS_EFORMAT otherwise.
 */
int walrus_quilt_header(const uint8_t *buf, size_t len, unsigned *npatches,
    uint32_t *index_len);

/*
 * Parses and checks a whole index (len = its index_len) of a blob of
 * blob_len bytes: WALRUS_OK, WALRUS_EFORMAT, WALRUS_ENOMEM.
 */
int walrus_quilt_parse(walrus_quilt_t *q, const uint8_t *index, size_t len,
    uint64_t blob_len);

/* the patch named id, or -1 */
int walrus_quilt_find(const walrus_quilt_t *q, const uint8_t *id,
    size_t len);

/* the tag called key (ASCII case-insensitive), or NULL */
const walrus_quilt_tag_t *walrus_quilt_tag(const walrus_quilt_patch_t *p,
    const char *key);

void walrus_quilt_free(walrus_quilt_t *q);

/* writes WALRUS_QUILT_PATCH_ID_TEXT_LEN characters, no NUL */
void walrus_quilt_patch_id_format(const uint8_t *quilt_id, unsigned patch,
    char *out);

/* WALRUS_OK with the quilt ID and the patch number, or WALRUS_EFORMAT */
int walrus_quilt_patch_id_parse(const char *text, size_t len,
    uint8_t *quilt_id, unsigned *patch);

/*
 * JSON of the patches, [{"identifier", "patch_id", "tags"}], malloc()ed
 * and NUL-terminated; NULL when out of memory.
 */
char *walrus_quilt_patches_json(const walrus_quilt_t *q,
    const uint8_t *quilt_id);

/* whether len bytes are valid UTF-8 without control characters */
int walrus_quilt_text_ok(const uint8_t *s, size_t len);


#endif /* _WALRUS_QUILT_H_INCLUDED_ */
