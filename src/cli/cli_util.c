/*
 * walrusctl: error messages, the committee and file helpers.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <walrus_file.h>
#include <walrus_sign.h>
#include <walrusctl.h>


#define WALRUS_CLI_ERRLEN  1024




void
walrus_cli_error(const char *fmt, ...)
{
    va_list  args;

    fputs("walrusctl: ", stderr);

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fputc('\n', stderr);
}


int
walrus_cli_status(int rc)
{
    switch (rc) {

    case WALRUS_OK:
        return WALRUS_CLI_OK;

    case WALRUS_EHASH:
    case WALRUS_EINCONSISTENT:
    case WALRUS_ENOTENOUGH:
    case WALRUS_ESIGNATURE:
    case WALRUS_EEPOCH:
    case WALRUS_EQUORUM:
    case WALRUS_EBLOBID:
    case WALRUS_ENOEPOCH:
        return WALRUS_CLI_INVALID;

    default:
        return WALRUS_CLI_IO;
    }
}


int
walrus_cli_history(walrus_cli_t *cli, walrus_history_t *h)
{
    int   rc;
    char  err[WALRUS_CLI_ERRLEN];

    rc = walrus_history_load(h, cli->committee, err, sizeof(err));
    if (rc != WALRUS_OK) {
        if (err[0] == '\0') {
            walrus_cli_error("%s: %s", cli->committee, walrus_strerror(rc));

        } else if (strstr(err, cli->committee) == NULL) {
            walrus_cli_error("%s: %s", cli->committee, err);

        } else {
            walrus_cli_error("%s", err);
        }

        return WALRUS_CLI_IO;
    }

    return WALRUS_CLI_OK;
}


int
walrus_cli_private_key(const char *path, EVP_PKEY **key)
{
    int  rc;

    *key = NULL;
    errno = 0;

    rc = walrus_key_load_private(path, key);
    if (rc != WALRUS_OK) {
        walrus_cli_error("%s: %s", path,
                         rc == WALRUS_EIO ? strerror(errno)
                         : "not an Ed25519 private key in PEM form");
        return WALRUS_CLI_IO;
    }

    return WALRUS_CLI_OK;
}


/* what is made now is made in the current epoch */

int
walrus_cli_committee(walrus_cli_t *cli, walrus_committee_t *c)
{
    int               rc;
    walrus_history_t  h;

    rc = walrus_cli_history(cli, &h);
    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    walrus_history_take_current(&h, c);

    return WALRUS_CLI_OK;
}


int
walrus_cli_parse_blob_id(const char *text, uint8_t *id)
{
    if (walrus_blob_id_parse(text, strlen(text), id) != WALRUS_OK) {
        walrus_cli_error("invalid blob ID \"%s\": expected %d URL-safe "
                         "base64 characters", text, WALRUS_BLOB_ID_TEXT_LEN);
        return WALRUS_CLI_USAGE;
    }

    return WALRUS_CLI_OK;
}


ssize_t
walrus_cli_read(int fd, uint8_t *buf, size_t len)
{
    size_t   done;
    ssize_t  n;

    done = 0;

    while (done < len) {
        n = read(fd, buf + done, len - done);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            return -1;
        }

        if (n == 0) {
            break;
        }

        done += (size_t) n;
    }

    return (ssize_t) done;
}


ssize_t
walrus_cli_pread(int fd, uint8_t *buf, size_t len, uint64_t off)
{
    size_t   done;
    ssize_t  n;

    done = 0;

    while (done < len) {
        n = pread(fd, buf + done, len - done, (off_t) (off + done));

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            return -1;
        }

        if (n == 0) {
            break;
        }

        done += (size_t) n;
    }

    return (ssize_t) done;
}


int
walrus_cli_write(int fd, const uint8_t *buf, size_t len)
{
    ssize_t  n;

    while (len > 0) {
        n = write(fd, buf, len);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            return -1;
        }

        buf += n;
        len -= (size_t) n;
    }

    return 0;
}


int
walrus_cli_read_file(const char *path, size_t max, uint8_t **buf,
    size_t *len)
{
    if (walrus_read_file(path, max, buf, len) == 0) {
        return WALRUS_CLI_OK;
    }

    switch (errno) {

    case EFBIG:
        walrus_cli_error("%s: more than the %zu bytes allowed", path, max);
        break;

    case EINVAL:
        walrus_cli_error("%s: not a regular file", path);
        break;

    case ESTALE:
        walrus_cli_error("%s: file changed while it was read", path);
        break;

    default:
        walrus_cli_error("%s: cannot read: %s", path, strerror(errno));
    }

    return WALRUS_CLI_IO;
}


char *
walrus_cli_path(const char *dir, const char *name)
{
    char    *path;
    size_t   dlen, nlen;

    dlen = strlen(dir);
    nlen = strlen(name);

    path = malloc(dlen + nlen + 2);
    if (path == NULL) {
        return NULL;
    }

    memcpy(path, dir, dlen);
    path[dlen] = '/';
    memcpy(path + dlen + 1, name, nlen + 1);

    return path;
}


int
walrus_cli_create(walrus_file_t *f, const char *path)
{
    /* the final file gets the usual mode: 0666 less the umask */

    if (walrus_file_open(f, path, 0666) != 0) {
        walrus_cli_error("%s: cannot create a temporary file: %s", path,
                         strerror(errno));
        return WALRUS_CLI_IO;
    }

    return WALRUS_CLI_OK;
}


int
walrus_cli_commit(walrus_file_t *f)
{
    if (walrus_file_commit(f) != 0) {
        walrus_cli_error("%s: cannot store the file: %s", f->path,
                         strerror(errno));
        return WALRUS_CLI_IO;
    }

    return WALRUS_CLI_OK;
}


int
walrus_cli_write_file(const char *path, const uint8_t *buf, size_t len)
{
    int            rc;
    walrus_file_t  f;

    rc = walrus_cli_create(&f, path);
    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    if (walrus_cli_write(f.fd, buf, len) != 0) {
        walrus_cli_error("%s: write error: %s", path, strerror(errno));
        walrus_file_abort(&f);
        return WALRUS_CLI_IO;
    }

    return walrus_cli_commit(&f);
}


void
walrus_cli_hex(const uint8_t *p, size_t len, char *out)
{
    size_t               i;
    static const char    digits[] = "0123456789abcdef";

    for (i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0f];
    }

    out[2 * len] = '\0';
}
