/*
 * walrusctl: commands, exit codes and the helpers they share.
 */

#ifndef _WALRUSCTL_H_INCLUDED_
#define _WALRUSCTL_H_INCLUDED_


#include <stdarg.h>
#include <stdio.h>
#include <sys/types.h>

#include <walrus_types.h>
#include <walrus_committee.h>
#include <walrus_history.h>
#include <walrus_metadata.h>
#include <walrus_file.h>


#define WALRUS_CLI_OK       0   /* success */
#define WALRUS_CLI_INVALID  1   /* the data did not verify */
#define WALRUS_CLI_USAGE    2   /* bad command line */
#define WALRUS_CLI_IO       3   /* I/O error, bad committee or metadata */

#define WALRUS_CLI_COMMITTEE_ENV      "WALRUS_COMMITTEE"
#define WALRUS_CLI_TLS_CA_ENV         "WALRUS_TLS_CA"
#define WALRUS_CLI_TLS_CERT_ENV       "WALRUS_TLS_CERT"
#define WALRUS_CLI_TLS_KEY_ENV        "WALRUS_TLS_KEY"
#define WALRUS_CLI_COMMITTEE_DEFAULT  "committee.json"


/* the options a command takes besides its operands */
#define WALRUS_CLI_OPT_BLOB_ID   1   /* --blob-id */
#define WALRUS_CLI_OPT_REGISTER  2   /* --key, --epochs, --permanent, ... */
#define WALRUS_CLI_OPT_RECORD    4   /* --after */
#define WALRUS_CLI_OPT_AUDIT     8   /* --round, --blobs, --fraud-out, ... */


typedef struct {
    const char   *committee;   /* committee file or history directory */
    int           committee_given;  /* by -c or the environment */
    const char   *blob_id;     /* --blob-id, or NULL */
    const char   *key;         /* --key, or NULL */
    const char   *epochs;      /* --epochs, or NULL */
    const char   *output;      /* -o, or NULL */
    const char   *after;       /* --after, or NULL */
    const char   *round;       /* --round, or NULL */
    const char   *blobs;       /* --blobs, or NULL */
    const char   *fraud_out;   /* --fraud-out, or NULL */
    const char   *record_from; /* --record-from, or NULL */
    int           permanent;   /* --permanent */
    int           deletable;   /* --deletable */
    int           argc;        /* operands of the command */
    char        **argv;
} walrus_cli_t;


/* the commands: each returns a WALRUS_CLI_* exit code */
int walrus_cli_blob_id(walrus_cli_t *cli);
int walrus_cli_encode(walrus_cli_t *cli);
int walrus_cli_decode(walrus_cli_t *cli);
int walrus_cli_keygen(walrus_cli_t *cli);
int walrus_cli_verify_cert(walrus_cli_t *cli);
int walrus_cli_register(walrus_cli_t *cli);
int walrus_cli_delete(walrus_cli_t *cli);
int walrus_cli_record(walrus_cli_t *cli);
int walrus_cli_rebuild(walrus_cli_t *cli);
int walrus_cli_verify_inconsistency(walrus_cli_t *cli);
int walrus_cli_verify_audit(walrus_cli_t *cli);
int walrus_cli_verify_ready(walrus_cli_t *cli);
int walrus_cli_audit(walrus_cli_t *cli);
int walrus_cli_quilt(walrus_cli_t *cli);

/* a private key file (--key): WALRUS_CLI_OK, else prints why */
int walrus_cli_private_key(const char *path, EVP_PKEY **key);

/* the blob ID and length of a file ("-": stdin), encoded to get them */
int walrus_cli_file_blob_id(const char *path, const walrus_committee_t *c,
    uint8_t *id, uint64_t *length);

/* "walrusctl: " + message + newline on stderr */
void walrus_cli_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* the exit code for a library return code */
int walrus_cli_status(int rc);

/*
 * -c: a committee file or a directory of them, one per epoch (protocol
 * section 18); both print their errors.  walrus_cli_committee() gives
 * the committee of the current epoch, in which new things are made.
 */
int walrus_cli_history(walrus_cli_t *cli, walrus_history_t *h);
int walrus_cli_committee(walrus_cli_t *cli, walrus_committee_t *c);

/*
 * A metadata file, parsed, with its blob ID in id and text (43
 * characters and a NUL), checked against --blob-id; prints its own
 * errors.
 */
int walrus_cli_metadata(walrus_cli_t *cli, const char *path,
    walrus_metadata_t *meta, uint8_t *id, char *text);

/* creates dir unless it is a directory already */
int walrus_cli_mkdir(const char *dir);

/* --blob-id: WALRUS_CLI_USAGE with a message when it does not parse */
int walrus_cli_parse_blob_id(const char *text, uint8_t *id);

/* reads up to len bytes, fewer only at end of file; -1 on error */
ssize_t walrus_cli_read(int fd, uint8_t *buf, size_t len);
ssize_t walrus_cli_pread(int fd, uint8_t *buf, size_t len, uint64_t off);
int walrus_cli_write(int fd, const uint8_t *buf, size_t len);

/* a whole small file, at most max bytes; prints its own errors */
int walrus_cli_read_file(const char *path, size_t max, uint8_t **buf,
    size_t *len);

/* "dir/name" in malloc()ed memory, or NULL */
char *walrus_cli_path(const char *dir, const char *name);

/*
 * A new file at path, written under a temporary name beside it (the
 * writer of walrus_file.h): walrus_cli_commit() makes it durable under
 * its name, walrus_file_abort() removes it.  Both print their errors.
 */
int walrus_cli_create(walrus_file_t *f, const char *path);
int walrus_cli_commit(walrus_file_t *f);

/* a whole new file at path; prints its own errors */
int walrus_cli_write_file(const char *path, const uint8_t *buf, size_t len);


/* the answer to a GET */
typedef struct {
    long       status;
    uint8_t   *body;
    size_t     len;
    char       next[32];    /* X-Walrus-Next, "" when absent */
    char       record[40];  /* X-Walrus-Record, "" when absent */
} walrus_cli_http_t;

/*
 * GET url (connect timeout 5 s, 60 s in all), at most max bytes of body:
 * WALRUS_CLI_OK with any status, else prints why (WALRUS_CLI_IO, or
 * WALRUS_CLI_INVALID for a larger answer).  Free with
 * walrus_cli_http_free().
 */
int walrus_cli_http_get(const char *url, size_t max, walrus_cli_http_t *res);

/* the same with another method, and a body of len bytes unless NULL */
int walrus_cli_http_request(const char *method, const char *url,
    const uint8_t *body, size_t len, size_t max, walrus_cli_http_t *res);
void walrus_cli_http_free(walrus_cli_http_t *res);

/* "what: the node answered STATUS: message" on stderr */
void walrus_cli_http_refused(const char *what, const walrus_cli_http_t *res);

/*
 * The largest audit answer of a node holding nshards shards, on nblobs
 * blobs of the committee (protocol 17.3): a bound for reading one.
 */
size_t walrus_cli_audit_answer_max(const walrus_committee_t *c,
    unsigned nshards, unsigned nblobs);

/* 2 * len lowercase hex digits and a NUL */
void walrus_cli_hex(const uint8_t *p, size_t len, char *out);


#endif /* _WALRUSCTL_H_INCLUDED_ */
