/*
 * walrusctl keygen and verify-cert: node keys, and certificates checked
 * against the committee of their epoch.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <walrus_base64.h>
#include <walrus_cert.h>
#include <walrus_sign.h>
#include <walrusctl.h>


/* a certificate as base64url text, with room for line breaks */
#define WALRUS_CLI_CERT_FILE_MAX  (4 * WALRUS_CERT_MAX_SIZE)


static char *walrus_cli_suffix(const char *name, const char *suffix);
static const char *walrus_cli_key_error(int rc, int err);
static int walrus_cli_cert_load(const char *path, walrus_cert_t *cert);
static int walrus_cli_cert_text(const char *path, uint8_t **buf,
    size_t *len);
static int walrus_cli_base64_char(uint8_t c);
static int walrus_cli_space(uint8_t c);
static void walrus_cli_cert_valid(const walrus_committee_t *c,
    const walrus_cert_t *cert);
static void walrus_cli_cert_explain(const char *path,
    const walrus_history_t *h, const walrus_cert_t *cert,
    const uint8_t *want, int rc);


int
walrus_cli_keygen(walrus_cli_t *cli)
{
    int           rc, wrc;
    char         *priv, *pub;
    EVP_PKEY     *key;
    struct stat   st;

    priv = walrus_cli_suffix(cli->argv[0], ".key");
    pub = walrus_cli_suffix(cli->argv[0], ".pub");
    key = NULL;
    rc = WALRUS_CLI_IO;

    if (priv == NULL || pub == NULL) {
        walrus_cli_error("%s: out of memory", cli->argv[0]);
        goto done;
    }

    if (lstat(priv, &st) == 0 || lstat(pub, &st) == 0) {
        walrus_cli_error("%s: exists, not overwritten",
                         lstat(priv, &st) == 0 ? priv : pub);
        goto done;
    }

    wrc = walrus_key_generate(&key);
    if (wrc != WALRUS_OK) {
        walrus_cli_error("cannot generate a key: %s", walrus_strerror(wrc));
        goto done;
    }

    errno = 0;

    wrc = walrus_key_write_private(key, priv);
    if (wrc != WALRUS_OK) {
        walrus_cli_error("%s: cannot write the private key: %s", priv,
                         walrus_cli_key_error(wrc, errno));
        goto done;
    }

    errno = 0;

    wrc = walrus_key_write_public(key, pub);
    if (wrc != WALRUS_OK) {
        walrus_cli_error("%s: cannot write the public key: %s", pub,
                         walrus_cli_key_error(wrc, errno));

        /* no private key without its public half */
        (void) unlink(priv);
        (void) unlink(pub);
        goto done;
    }

    printf("%s\n%s\n", priv, pub);

    rc = WALRUS_CLI_OK;

done:

    EVP_PKEY_free(key);
    free(priv);
    free(pub);

    return rc;
}


/* against the committee of the certificate's epoch, however old */

int
walrus_cli_verify_cert(walrus_cli_t *cli)
{
    int                        rc, wrc;
    uint8_t                    want[WALRUS_BLOB_ID_LEN];
    walrus_cert_t             *cert;
    walrus_history_t           history;
    const walrus_committee_t  *c;

    if (cli->blob_id != NULL) {
        rc = walrus_cli_parse_blob_id(cli->blob_id, want);
        if (rc != WALRUS_CLI_OK) {
            return rc;
        }
    }

    rc = walrus_cli_history(cli, &history);
    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    cert = malloc(sizeof(walrus_cert_t));
    if (cert == NULL) {
        walrus_cli_error("%s: out of memory", cli->argv[0]);
        walrus_history_free(&history);
        return WALRUS_CLI_IO;
    }

    rc = walrus_cli_cert_load(cli->argv[0], cert);
    if (rc != WALRUS_CLI_OK) {
        goto done;
    }

    wrc = walrus_cert_verify_history(&history, cert,
                                     cli->blob_id != NULL ? want : NULL);
    c = walrus_history_committee(&history, cert->epoch);

    if (wrc == WALRUS_OK) {
        walrus_cli_cert_valid(c, cert);
        printf("checked against the committee of epoch %u (current epoch "
               "%u)\n", (unsigned) c->epoch, (unsigned) history.current);
        rc = WALRUS_CLI_OK;

    } else {
        walrus_cli_cert_explain(cli->argv[0], &history, cert,
                                cli->blob_id != NULL ? want : NULL, wrc);

        rc = (wrc == WALRUS_ENOMEM || wrc == WALRUS_ECRYPTO)
             ? WALRUS_CLI_IO : WALRUS_CLI_INVALID;
    }

done:

    free(cert);
    walrus_history_free(&history);

    return rc;
}


static char *
walrus_cli_suffix(const char *name, const char *suffix)
{
    char    *path;
    size_t   nlen, slen;

    nlen = strlen(name);
    slen = strlen(suffix);

    path = malloc(nlen + slen + 1);
    if (path == NULL) {
        return NULL;
    }

    memcpy(path, name, nlen);
    memcpy(path + nlen, suffix, slen + 1);

    return path;
}


/* the library keeps errno of a failed open() or write() */

static const char *
walrus_cli_key_error(int rc, int err)
{
    if (rc == WALRUS_EIO && err != 0) {
        return strerror(err);
    }

    return walrus_strerror(rc);
}


/* a malformed certificate did not verify: WALRUS_CLI_INVALID */

static int
walrus_cli_cert_load(const char *path, walrus_cert_t *cert)
{
    int        rc;
    size_t     len, count, i;
    uint8_t   *buf, *p;
    unsigned   node, prev;

    rc = walrus_cli_read_file(path, WALRUS_CLI_CERT_FILE_MAX, &buf, &len);
    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    rc = walrus_cli_cert_text(path, &buf, &len);
    if (rc != WALRUS_CLI_OK) {
        free(buf);
        return rc;
    }

    if (walrus_cert_parse(cert, buf, len) == WALRUS_OK) {
        free(buf);
        return WALRUS_CLI_OK;
    }

    if (len < WALRUS_CERT_HEADER_LEN) {
        walrus_cli_error("%s: malformed certificate: %zu bytes, shorter "
                         "than its %d-byte header", path, len,
                         WALRUS_CERT_HEADER_LEN);

    } else if (buf[0] != WALRUS_CERT_VERSION) {
        walrus_cli_error("%s: malformed certificate: version %u, not %d",
                         path, buf[0], WALRUS_CERT_VERSION);

    } else {
        count = (size_t) buf[WALRUS_CERT_HEADER_LEN - 2]
                | (size_t) buf[WALRUS_CERT_HEADER_LEN - 1] << 8;

        if (count > WALRUS_MAX_SHARDS) {
            walrus_cli_error("%s: malformed certificate: %zu signers, more "
                             "than %d", path, count, WALRUS_MAX_SHARDS);
            goto failed;
        }

        if (len == WALRUS_CERT_HEADER_LEN + count * WALRUS_CERT_SIGNER_LEN) {
            p = buf + WALRUS_CERT_HEADER_LEN;
            prev = 0;

            for (i = 0; i < count; i++, p += WALRUS_CERT_SIGNER_LEN) {
                node = (unsigned) (p[0] | p[1] << 8);

                if (i > 0 && node <= prev) {
                    walrus_cli_error("%s: malformed certificate: signer %zu "
                                     "is node index %u after %u; each node "
                                     "is listed once, in increasing order",
                                     path, i, node, prev);
                    goto failed;
                }

                prev = node;
            }
        }

        walrus_cli_error("%s: malformed certificate: %zu signers need %zu "
                         "bytes, it has %zu", path, count,
                         WALRUS_CERT_HEADER_LEN
                         + count * WALRUS_CERT_SIGNER_LEN, len);
    }

failed:

    free(buf);

    return WALRUS_CLI_INVALID;
}


/*
 * A file of base64url characters and white space is the text form: *buf
 * is replaced with the bytes it decodes to.  Anything else is taken as
 * the binary form.
 */

static int
walrus_cli_cert_text(const char *path, uint8_t **buf, size_t *len)
{
    size_t    i, j;
    uint8_t  *src, *dst, c;

    src = *buf;

    for (i = 0; i < *len; i++) {
        c = src[i];

        if (!walrus_cli_base64_char(c) && !walrus_cli_space(c)) {
            return WALRUS_CLI_OK;
        }
    }

    for (i = 0, j = 0; i < *len; i++) {
        if (!walrus_cli_space(src[i])) {
            src[j++] = src[i];
        }
    }

    dst = malloc(walrus_base64url_decoded_len(j) + 1);
    if (dst == NULL) {
        walrus_cli_error("%s: out of memory", path);
        return WALRUS_CLI_IO;
    }

    if (walrus_base64url_decode((char *) src, j, dst, len) != WALRUS_OK) {
        walrus_cli_error("%s: malformed certificate: not valid URL-safe "
                         "base64 text", path);
        free(dst);
        return WALRUS_CLI_INVALID;
    }

    free(src);
    *buf = dst;

    return WALRUS_CLI_OK;
}


static int
walrus_cli_base64_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_';
}


static int
walrus_cli_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'
           || c == '\f';
}


static void
walrus_cli_cert_valid(const walrus_committee_t *c, const walrus_cert_t *cert)
{
    char      text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    unsigned  i;

    walrus_blob_id_format(cert->blob_id, text);

    printf("valid: blob %s, epoch %u, signers ", text,
           (unsigned) cert->epoch);

    /* a valid certificate lists each node once */

    for (i = 0; i < cert->nsigners; i++) {
        printf("%s%s", i ? "," : "", c->nodes[cert->signers[i].node].name);
    }

    printf(" (%u of %u shards, quorum %u)\n", walrus_cert_weight(c, cert),
           c->params.n, c->params.n - c->params.f);
}


/* says why walrus_cert_verify_history() failed with rc */

static void
walrus_cli_cert_explain(const char *path, const walrus_history_t *h,
    const walrus_cert_t *cert, const uint8_t *want, int rc)
{
    char                       text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    char                       want_text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    unsigned                   i, node;
    const walrus_committee_t  *c;

    /* only a certificate of an epoch held is checked past its blob ID */

    c = walrus_history_committee(h, cert->epoch);

    if (c == NULL && rc != WALRUS_EBLOBID) {
        rc = WALRUS_ENOEPOCH;
    }

    switch (rc) {

    case WALRUS_EBLOBID:
        walrus_blob_id_format(cert->blob_id, text);
        walrus_blob_id_format(want, want_text);
        walrus_cli_error("%s: certificate is for blob %s, not for blob %s",
                         path, text, want_text);
        return;

    case WALRUS_ENOEPOCH:
        walrus_cli_error("%s: certificate is for epoch %u, the committee "
                         "history holds epochs %u to %u", path,
                         (unsigned) cert->epoch, (unsigned) h->first,
                         (unsigned) h->current);
        return;

    case WALRUS_EFORMAT:
        for (i = 0; i < cert->nsigners; i++) {
            if (cert->signers[i].node >= c->nnodes) {
                walrus_cli_error("%s: signer %u is node index %u, not in "
                                 "the committee of %u nodes", path, i,
                                 cert->signers[i].node, c->nnodes);
                return;
            }
        }

        break;

    case WALRUS_ESIGNATURE:
        for (i = 0; i < cert->nsigners; i++) {
            node = cert->signers[i].node;

            if (node < c->nnodes
                && walrus_confirmation_verify(c->nodes[node].public_key,
                                              cert->epoch, cert->blob_id,
                                              cert->signers[i].signature)
                   != WALRUS_OK)
            {
                walrus_cli_error("%s: bad signature from %s (signer %u)",
                                 path, c->nodes[node].name, i);
                return;
            }
        }

        break;

    case WALRUS_EQUORUM:
        walrus_cli_error("%s: below quorum: the signers hold %u of %u "
                         "shards, the quorum is %u", path,
                         walrus_cert_weight(c, cert), c->params.n,
                         c->params.n - c->params.f);
        return;

    default:
        break;
    }

    walrus_cli_error("%s: certificate does not verify: %s", path,
                     walrus_strerror(rc));
}

