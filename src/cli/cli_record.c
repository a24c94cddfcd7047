/*
 * walrusctl record: prints the entries of a node's record of certified
 * blobs (the file, or a GET /v1/certified answer) and, given a
 * committee, verifies each.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <walrus_metadata.h>
#include <walrus_record.h>
#include <walrusctl.h>


/* bytes read at once; at least an entry */
#define WALRUS_CLI_RECORD_BUF  (1024 * 1024)


typedef struct {
    int                   fd;
    uint8_t              *buf;
    size_t                pos;      /* of the next entry in buf */
    size_t                len;
    int                   eof;
} walrus_cli_input_t;


static int walrus_cli_fill(walrus_cli_input_t *in, const char *name);
static int walrus_cli_entry(const walrus_history_t *hist,
    const walrus_record_entry_t *e, uint64_t cursor, walrus_cert_t *cert);


int
walrus_cli_record(walrus_cli_t *cli)
{
    int                    rc, wrc, bad;
    char                  *end, hex[2 * WALRUS_RECORD_ID_LEN + 1];
    uint64_t               cursor, count;
    const char            *name;
    walrus_cert_t         *cert;
    walrus_sha256_t       *h;
    walrus_history_t       history, *hist;
    walrus_cli_input_t     in;
    walrus_record_entry_t  e;

    name = cli->argv[0];
    cursor = WALRUS_RECORD_HEADER_LEN;

    if (cli->after != NULL) {
        errno = 0;
        cursor = strtoull(cli->after, &end, 10);

        if (errno != 0 || end == cli->after || *end != '\0'
            || cli->after[0] == '-')
        {
            walrus_cli_error("--after %s: a cursor is a decimal offset",
                             cli->after);
            return WALRUS_CLI_USAGE;
        }
    }

    hist = NULL;

    if (cli->committee_given) {
        rc = walrus_cli_history(cli, &history);
        if (rc != WALRUS_CLI_OK) {
            return rc;
        }

        hist = &history;
    }

    in.fd = strcmp(name, "-") == 0 ? STDIN_FILENO
                                   : open(name, O_RDONLY | O_CLOEXEC);
    in.buf = malloc(WALRUS_CLI_RECORD_BUF);
    in.pos = 0;
    in.len = 0;
    in.eof = 0;
    cert = malloc(sizeof(walrus_cert_t));
    h = walrus_sha256_create();
    rc = WALRUS_CLI_IO;
    bad = 0;
    count = 0;

    if (in.fd == -1) {
        walrus_cli_error("%s: %s", name, strerror(errno));
        goto done;
    }

    if (in.buf == NULL || cert == NULL || h == NULL) {
        walrus_cli_error("out of memory");
        goto done;
    }

    if (walrus_cli_fill(&in, name) != 0) {
        goto done;
    }

    /* a record file starts with its header, a listing with an entry */

    if (in.len >= WALRUS_RECORD_HEADER_LEN
        && memcmp(in.buf, WALRUS_RECORD_MAGIC, WALRUS_RECORD_MAGIC_LEN) == 0)
    {
        walrus_cli_hex(in.buf + WALRUS_RECORD_MAGIC_LEN,
                       WALRUS_RECORD_ID_LEN, hex);
        printf("record %s\n", hex);

        in.pos = WALRUS_RECORD_HEADER_LEN;
        cursor = WALRUS_RECORD_HEADER_LEN;
    }

    for ( ;; ) {
        if (in.len - in.pos < WALRUS_RECORD_ENTRY_MAX
            && walrus_cli_fill(&in, name) != 0)
        {
            goto done;
        }

        if (in.pos == in.len) {
            break;
        }

        wrc = walrus_record_entry_parse(h, &e, in.buf + in.pos,
                                        in.len - in.pos);

        if (wrc == WALRUS_ELENGTH) {
            walrus_cli_error("%s: the entry at %llu is cut short after %zu "
                             "bytes", name, (unsigned long long) cursor,
                             in.len - in.pos);
            bad = 1;
            break;
        }

        if (wrc != WALRUS_OK) {
            walrus_cli_error("%s: no entry at %llu: its length or its check "
                             "is wrong", name, (unsigned long long) cursor);
            bad = 1;
            break;
        }

        bad |= walrus_cli_entry(hist, &e, cursor, cert);

        in.pos += e.size;
        cursor += e.size;
        count++;
    }

    printf("end %llu\n", (unsigned long long) cursor);

    if (bad) {
        walrus_cli_error("%s: %llu entries before %llu, not all good", name,
                         (unsigned long long) count,
                         (unsigned long long) cursor);
    }

    rc = bad ? WALRUS_CLI_INVALID : WALRUS_CLI_OK;

done:

    if (in.fd > STDIN_FILENO) {
        close(in.fd);
    }

    walrus_sha256_destroy(h);
    free(cert);
    free(in.buf);

    if (hist != NULL) {
        walrus_history_free(hist);
    }

    return rc;
}


/* moves what is left to the front and reads on; -1 after an error */

static int
walrus_cli_fill(walrus_cli_input_t *in, const char *name)
{
    ssize_t  n;

    if (in->eof) {
        return 0;
    }

    memmove(in->buf, in->buf + in->pos, in->len - in->pos);
    in->len -= in->pos;
    in->pos = 0;

    n = walrus_cli_read(in->fd, in->buf + in->len,
                        WALRUS_CLI_RECORD_BUF - in->len);
    if (n == -1) {
        walrus_cli_error("%s: %s", name, strerror(errno));
        return -1;
    }

    in->len += (size_t) n;
    in->eof = in->len < WALRUS_CLI_RECORD_BUF;

    return 0;
}


/*
 * "CURSOR BLOB-ID epoch E signers I,J,... end-epoch N" (or "end-epoch -"
 * without a registration), then " valid" when checked against the
 * history: the certificate with the committee of its epoch, the
 * registration in force now.  1 when the entry is bad.
 */

static int
walrus_cli_entry(const walrus_history_t *hist,
    const walrus_record_entry_t *e, uint64_t cursor, walrus_cert_t *cert)
{
    int                    rc;
    char                   id[WALRUS_BLOB_ID_TEXT_LEN + 1];
    unsigned               i;
    walrus_registration_t  reg;

    if (walrus_cert_parse(cert, e->cert, e->cert_len) != WALRUS_OK) {
        printf("%llu ? certificate does not parse\n",
               (unsigned long long) cursor);
        walrus_cli_error("the entry at %llu holds no certificate",
                         (unsigned long long) cursor);
        return 1;
    }

    walrus_blob_id_format(cert->blob_id, id);
    printf("%llu %s epoch %u signers ", (unsigned long long) cursor, id,
           (unsigned) cert->epoch);

    for (i = 0; i < cert->nsigners; i++) {
        printf("%s%u", i ? "," : "", (unsigned) cert->signers[i].node);
    }

    if (e->reg_len != 0
        && walrus_registration_parse(&reg, e->reg, e->reg_len) == WALRUS_OK)
    {
        printf(" end-epoch %u", (unsigned) reg.end_epoch);

    } else {
        printf(" end-epoch -");
    }

    if (hist == NULL) {
        printf("\n");
        return 0;
    }

    rc = walrus_record_entry_verify_history(hist, e, NULL);

    if (rc == WALRUS_OK) {
        printf(" valid\n");
        return 0;
    }

    printf(" INVALID\n");
    walrus_cli_error("the entry at %llu (blob %s) does not verify: %s",
                     (unsigned long long) cursor, id, walrus_strerror(rc));

    return 1;
}
