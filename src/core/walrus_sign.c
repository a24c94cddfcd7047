/*
 * Ed25519 node keys and storage confirmations with OpenSSL 3 EVP.
 */

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <walrus_sign.h>


static int walrus_key_no_password(char *buf, int size, int rwflag, void *data);
static int walrus_key_check(EVP_PKEY *key);
static int walrus_key_load(const char *path, int private, EVP_PKEY **key);
static int walrus_key_write_fd(EVP_PKEY *key, int fd, int private);


int
walrus_key_generate(EVP_PKEY **key)
{
    EVP_PKEY  *pkey;

    if (key == NULL) {
        return WALRUS_EINVAL;
    }

    *key = NULL;

    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (pkey == NULL) {
        ERR_clear_error();
        return WALRUS_ECRYPTO;
    }

    *key = pkey;

    return WALRUS_OK;
}


/* a PEM key file, private or public, that must hold an Ed25519 key */

static int
walrus_key_load(const char *path, int private, EVP_PKEY **key)
{
    int        rc;
    FILE      *fp;
    EVP_PKEY  *pkey;

    if (path == NULL || key == NULL) {
        return WALRUS_EINVAL;
    }

    *key = NULL;

    fp = fopen(path, "re");
    if (fp == NULL) {
        return WALRUS_EIO;
    }

    /* an encrypted key fails instead of prompting on the terminal */
    pkey = private ? PEM_read_PrivateKey(fp, NULL, walrus_key_no_password,
                                         NULL)
                   : PEM_read_PUBKEY(fp, NULL, walrus_key_no_password, NULL);
    fclose(fp);

    if (pkey == NULL) {
        ERR_clear_error();
        return WALRUS_EFORMAT;
    }

    rc = walrus_key_check(pkey);
    if (rc != WALRUS_OK) {
        EVP_PKEY_free(pkey);
        return rc;
    }

    *key = pkey;

    return WALRUS_OK;
}


int
walrus_key_load_private(const char *path, EVP_PKEY **key)
{
    return walrus_key_load(path, 1, key);
}


int
walrus_key_load_public(const char *path, EVP_PKEY **key)
{
    return walrus_key_load(path, 0, key);
}


int
walrus_key_parse_public(const char *pem, size_t len, EVP_PKEY **key)
{
    int        rc;
    BIO       *bio;
    EVP_PKEY  *pkey;

    if (pem == NULL || key == NULL) {
        return WALRUS_EINVAL;
    }

    *key = NULL;

    if (len == 0 || len > INT_MAX) {
        return WALRUS_EFORMAT;
    }

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        ERR_clear_error();
        return WALRUS_ENOMEM;
    }

    pkey = PEM_read_bio_PUBKEY(bio, NULL, walrus_key_no_password, NULL);
    BIO_free(bio);

    if (pkey == NULL) {
        ERR_clear_error();
        return WALRUS_EFORMAT;
    }

    rc = walrus_key_check(pkey);
    if (rc != WALRUS_OK) {
        EVP_PKEY_free(pkey);
        return rc;
    }

    *key = pkey;

    return WALRUS_OK;
}


int
walrus_key_raw_public(EVP_PKEY *key, uint8_t *raw)
{
    size_t  len;

    if (key == NULL || raw == NULL || walrus_key_check(key) != WALRUS_OK) {
        return WALRUS_EINVAL;
    }

    len = WALRUS_PUBLIC_KEY_LEN;

    if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1
        || len != WALRUS_PUBLIC_KEY_LEN)
    {
        ERR_clear_error();
        return WALRUS_ECRYPTO;
    }

    return WALRUS_OK;
}


int
walrus_key_write_private(EVP_PKEY *key, const char *path)
{
    int  fd, rc;

    if (key == NULL || path == NULL) {
        return WALRUS_EINVAL;
    }

    if (walrus_key_check(key) != WALRUS_OK) {
        return WALRUS_EINVAL;
    }

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1) {
        return WALRUS_EIO;
    }

    rc = walrus_key_write_fd(key, fd, 1);
    if (rc != WALRUS_OK) {
        /* the file is ours: O_EXCL created it */
        (void) unlink(path);
    }

    return rc;
}


int
walrus_key_write_public(EVP_PKEY *key, const char *path)
{
    int  fd;

    if (key == NULL || path == NULL) {
        return WALRUS_EINVAL;
    }

    if (walrus_key_check(key) != WALRUS_OK) {
        return WALRUS_EINVAL;
    }

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        return WALRUS_EIO;
    }

    return walrus_key_write_fd(key, fd, 0);
}


void
walrus_confirmation_message(uint32_t epoch, const uint8_t *blob_id,
    uint8_t *msg)
{
    memcpy(msg, WALRUS_CONFIRM_TAG, WALRUS_CONFIRM_TAG_LEN);

    msg[WALRUS_CONFIRM_TAG_LEN] = (uint8_t) epoch;
    msg[WALRUS_CONFIRM_TAG_LEN + 1] = (uint8_t) (epoch >> 8);
    msg[WALRUS_CONFIRM_TAG_LEN + 2] = (uint8_t) (epoch >> 16);
    msg[WALRUS_CONFIRM_TAG_LEN + 3] = (uint8_t) (epoch >> 24);

    memcpy(msg + WALRUS_CONFIRM_TAG_LEN + 4, blob_id, WALRUS_BLOB_ID_LEN);
}


int
walrus_confirmation_sign(EVP_PKEY *key, uint32_t epoch,
    const uint8_t *blob_id, uint8_t *sig)
{
    uint8_t  msg[WALRUS_CONFIRM_MSG_LEN];

    if (key == NULL || blob_id == NULL || sig == NULL) {
        return WALRUS_EINVAL;
    }

    walrus_confirmation_message(epoch, blob_id, msg);

    return walrus_sign(key, msg, sizeof(msg), sig);
}


int
walrus_confirmation_verify(EVP_PKEY *key, uint32_t epoch,
    const uint8_t *blob_id, const uint8_t *sig)
{
    uint8_t  msg[WALRUS_CONFIRM_MSG_LEN];

    if (key == NULL || blob_id == NULL || sig == NULL) {
        return WALRUS_EINVAL;
    }

    walrus_confirmation_message(epoch, blob_id, msg);

    return walrus_verify(key, msg, sizeof(msg), sig);
}


int
walrus_sign(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t *sig)
{
    int          rc;
    size_t       siglen;
    EVP_MD_CTX  *ctx;

    if (key == NULL || msg == NULL || sig == NULL) {
        return WALRUS_EINVAL;
    }

    if (walrus_key_check(key) != WALRUS_OK) {
        return WALRUS_EINVAL;
    }

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        ERR_clear_error();
        return WALRUS_ENOMEM;
    }

    rc = WALRUS_ECRYPTO;
    siglen = WALRUS_SIG_LEN;

    /* Ed25519 is a one-shot scheme: no digest, EVP_DigestSign only */
    if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1
        && EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1
        && siglen == WALRUS_SIG_LEN)
    {
        rc = WALRUS_OK;
    }

    EVP_MD_CTX_free(ctx);

    if (rc != WALRUS_OK) {
        ERR_clear_error();
        memset(sig, 0, WALRUS_SIG_LEN);
    }

    return rc;
}


int
walrus_verify(EVP_PKEY *key, const uint8_t *msg, size_t len,
    const uint8_t *sig)
{
    int          rc;
    EVP_MD_CTX  *ctx;

    if (key == NULL || msg == NULL || sig == NULL) {
        return WALRUS_EINVAL;
    }

    if (walrus_key_check(key) != WALRUS_OK) {
        return WALRUS_EINVAL;
    }

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        ERR_clear_error();
        return WALRUS_ENOMEM;
    }

    if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) != 1) {
        rc = WALRUS_ECRYPTO;

    } else if (EVP_DigestVerify(ctx, sig, WALRUS_SIG_LEN, msg, len) == 1) {
        rc = WALRUS_OK;

    } else {
        rc = WALRUS_ESIGNATURE;
    }

    EVP_MD_CTX_free(ctx);

    if (rc != WALRUS_OK) {
        ERR_clear_error();
    }

    return rc;
}


static int
walrus_key_no_password(char *buf, int size, int rwflag, void *data)
{
    return -1;
}


static int
walrus_key_check(EVP_PKEY *key)
{
    if (EVP_PKEY_is_a(key, "ED25519") != 1) {
        ERR_clear_error();
        return WALRUS_EFORMAT;
    }

    return WALRUS_OK;
}


static int
walrus_key_write_fd(EVP_PKEY *key, int fd, int private)
{
    int    rc, ok;
    FILE  *fp;

    fp = fdopen(fd, "w");
    if (fp == NULL) {
        (void) close(fd);
        return WALRUS_EIO;
    }

    if (private) {
        ok = PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL);

    } else {
        ok = PEM_write_PUBKEY(fp, key);
    }

    rc = WALRUS_OK;

    if (ok != 1) {
        ERR_clear_error();
        rc = WALRUS_ECRYPTO;
    }

    if (fflush(fp) != 0 || fsync(fd) != 0) {
        if (rc == WALRUS_OK) {
            rc = WALRUS_EIO;
        }
    }

    if (fclose(fp) != 0 && rc == WALRUS_OK) {
        rc = WALRUS_EIO;
    }

    return rc;
}
