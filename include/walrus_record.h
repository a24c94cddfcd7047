/*
 * The certified-blob record of a storage node: an append-only log,
 * "<store>/certified.log", of the certificates it stored, each with the
 * blob's registration, that its peers read after a cursor.
 *
 * File: a 32-byte header, "walrus-record:1" and its NUL (16 bytes) || 16
 * random bytes, the log's identity (new when the file is created, so a
 * wiped store has another), then entries:
 *
 *     u32 LE body length || body || check
 *     body  = u16 LE cert_len || certificate || u16 LE reg_len ||
 *             registration (0 or 162 bytes)
 *     check = the first 8 bytes of SHA-256(body)
 *
 * A cursor is the file offset of an entry; the first is 32.  The file
 * functions use only system calls and the core, so they may run in a
 * thread pool.  See docs/protocol.md section 16.
 */

#ifndef _WALRUS_RECORD_H_INCLUDED_
#define _WALRUS_RECORD_H_INCLUDED_


#include <walrus_cert.h>
#include <walrus_registration.h>
#include <walrus_sha256.h>


#define WALRUS_RECORD_FILE        "certified.log"
#define WALRUS_RECORD_MAGIC       "walrus-record:1"
#define WALRUS_RECORD_MAGIC_LEN   16            /* with its NUL */
#define WALRUS_RECORD_ID_LEN      16
#define WALRUS_RECORD_HEADER_LEN  32            /* also the first cursor */
#define WALRUS_RECORD_CHECK_LEN   8

#define WALRUS_RECORD_BODY_MIN    (2 + WALRUS_CERT_HEADER_LEN + 2)
#define WALRUS_RECORD_BODY_MAX    (2 + WALRUS_CERT_MAX_SIZE + 2              \
                                   + WALRUS_REGISTRATION_LEN)
#define WALRUS_RECORD_ENTRY_MAX   (4 + WALRUS_RECORD_BODY_MAX                \
                                   + WALRUS_RECORD_CHECK_LEN)


/* an entry's parts, pointing into the bytes it was parsed from */
typedef struct {
    size_t          size;       /* of the whole entry */
    const uint8_t  *cert;
    size_t          cert_len;
    const uint8_t  *reg;        /* NULL when reg_len is 0 */
    size_t          reg_len;    /* 0 or WALRUS_REGISTRATION_LEN */
} walrus_record_entry_t;


/* a range of whole entries: [start, end) of the file */
typedef struct {
    uint8_t         id[WALRUS_RECORD_ID_LEN];   /* the log's identity */
    uint64_t        start;
    uint64_t        end;        /* the cursor after the range */
} walrus_record_range_t;


/* "<store>/certified.log" into path; -1 when it does not fit */
int walrus_record_path(char *path, const char *store, size_t store_len);

/* the size of the entry of these, 0 when a length is out of range */
size_t walrus_record_entry_size(size_t cert_len, size_t reg_len);

/* writes the entry into out (walrus_record_entry_size() bytes) */
int walrus_record_entry_make(walrus_sha256_t *h, uint8_t *out,
    const uint8_t *cert, size_t cert_len, const uint8_t *reg,
    size_t reg_len);

/*
 * The entry at the start of buf: WALRUS_OK; WALRUS_ELENGTH when buf ends
 * before it does; WALRUS_EFORMAT when its length is out of range, its
 * check fails or its body is not framed as above.  The certificate and
 * the registration themselves are not parsed.  h may be NULL.
 */
int walrus_record_entry_parse(walrus_sha256_t *h, walrus_record_entry_t *e,
    const uint8_t *buf, size_t len);

/*
 * WALRUS_OK when the entry's certificate is valid for the committee
 * (walrus_cert_verify) and its registration too
 * (walrus_registration_verify), for the same blob, whose ID goes to
 * blob_id unless NULL.  WALRUS_EUNREGISTERED without a registration;
 * WALRUS_EBLOBID when the two name different blobs; else the error of
 * the parser or the verification that failed.
 */
int walrus_record_entry_verify(const walrus_committee_t *c,
    const walrus_record_entry_t *e, uint8_t *blob_id);

/*
 * The same against a committee history: the certificate with the
 * committee of its epoch (walrus_cert_verify_history), the registration
 * in force in the current epoch (walrus_registration_verify_history).
 */
int walrus_record_entry_verify_history(const walrus_history_t *h,
    const walrus_record_entry_t *e, uint8_t *blob_id);

/*
 * Appends the entry of cert and reg (reg_len 0 or 162) to the record at
 * path, creating it, under an exclusive flock(2): first the tail that an
 * interrupted append left is cut off, and the entry is on disk
 * (fdatasync) when this returns WALRUS_OK.  WALRUS_EIO with errno on a
 * failed system call, WALRUS_EFORMAT when path is no record,
 * WALRUS_EINVAL for lengths out of range.
 */
int walrus_record_append(const char *path, const uint8_t *cert,
    size_t cert_len, const uint8_t *reg, size_t reg_len);

/*
 * The whole entries of the record open as fd from cursor on: as many as
 * fit in limit bytes, and at least one when there is one.  An empty
 * range at the end.  WALRUS_ECURSOR when cursor is not the start of an
 * entry or the end, WALRUS_EFORMAT when fd is no record, WALRUS_EIO with
 * errno.  Needs no lock: an append in progress or cut short reads as the
 * end.
 */
int walrus_record_range(int fd, uint64_t cursor, size_t limit,
    walrus_record_range_t *rg);


/*
 * Whole entries of the record at path from cursor on, at most limit bytes
 * (and at least one), read into a malloc()ed *buf (NULL for none) that
 * rg describes.  As walrus_record_range(); WALRUS_EIO with errno (ENOENT
 * when there is no record), WALRUS_ENOMEM.
 */
int walrus_record_read(const char *path, uint64_t cursor, size_t limit,
    walrus_record_range_t *rg, uint8_t **buf);

/*
 * walrus_record_read() from *cursor (0: the first entry).  A cursor that
 * is not in this record (not an entry's start, or, with id, the record
 * has another identity: the store was wiped) reads from the first entry:
 * *cursor is set to it and *restarted to 1.
 */
int walrus_record_read_from(const char *path, uint64_t *cursor,
    size_t limit, const uint8_t *id, walrus_record_range_t *rg,
    uint8_t **buf, int *restarted);

/*
 * The certificate and registration files of an entry of the record at
 * path, written into blob_dir where they are missing, and the blob's
 * mark (walrus_record_mark).  -1 with errno on failure.
 */
int walrus_record_keep_files(const char *blob_dir, const char *path,
    const walrus_record_entry_t *e);

/*
 * The identity of the record at path (the 16 bytes after its magic):
 * 1, 0 when there is no record there, -1 with errno on failure.
 */
int walrus_record_identity(const char *path, uint8_t *id);

/*
 * A blob's mark that the record at path holds its entry: the file
 * "<blob dir>/recorded" with the record's identity.  A store wiped while
 * a certificate was being stored leaves a certificate its new record
 * lacks; without the mark the node takes the entry in again.  Not made
 * durable: losing it costs a second entry of the blob, which is harmless.
 */
int walrus_record_mark(const char *blob_dir, const char *path);
int walrus_record_marked(const char *blob_dir, const char *path);


#endif /* _WALRUS_RECORD_H_INCLUDED_ */
