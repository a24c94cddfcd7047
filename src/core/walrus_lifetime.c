/*
 * Blob lifetime on a storage node: reading the stored registration and
 * reclaiming an expired blob's files down to its tombstone.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <walrus_lifetime.h>
#include <walrus_sign.h>
#include <walrus_store.h>


static void walrus_deletion_message(uint32_t epoch, const uint8_t *blob_id,
    uint8_t *msg);


int
walrus_lifetime_read(const char *blob_dir, walrus_registration_t *reg)
{
    int       rc;
    char      path[WALRUS_PATH_MAX];
    size_t    len;
    uint8_t  *buf;

    if (walrus_store_path(path, blob_dir, WALRUS_TOMBSTONE_FILE) != 0) {
        errno = ENAMETOOLONG;
        return WALRUS_EIO;
    }

    if (walrus_read_file(path, WALRUS_REGISTRATION_LEN, &buf, &len) != 0) {
        return errno == EFBIG ? WALRUS_EFORMAT : WALRUS_EIO;
    }

    rc = walrus_registration_parse(reg, buf, len);
    free(buf);

    return rc;
}


int
walrus_lifetime_expired(const char *blob_dir, uint32_t now,
    walrus_registration_t *reg)
{
    int                    rc;
    walrus_registration_t  local;

    if (reg == NULL) {
        reg = &local;
    }

    rc = walrus_lifetime_read(blob_dir, reg);

    if (rc == WALRUS_EIO && errno == ENOENT) {
        return 0;
    }

    if (rc != WALRUS_OK) {
        if (rc == WALRUS_EFORMAT) {
            errno = EINVAL;
        }

        return -1;
    }

    return walrus_registration_expired(reg, now) ? 1 : 0;
}


int
walrus_lifetime_recorded_expired(const walrus_record_entry_t *e,
    uint32_t now)
{
    walrus_registration_t  reg;

    return e->reg_len > 0
           && walrus_registration_parse(&reg, e->reg, e->reg_len) == WALRUS_OK
           && walrus_registration_expired(&reg, now);
}


int
walrus_lifetime_entry_expired(const char *blob_dir,
    const walrus_record_entry_t *e, uint32_t now)
{
    int                    rc;
    char                   path[WALRUS_PATH_MAX];
    struct stat            st;
    walrus_registration_t  reg;

    if (walrus_store_path(path, blob_dir, WALRUS_DELETED_FILE) == 0
        && stat(path, &st) == 0)
    {
        return 1;
    }

    rc = walrus_lifetime_read(blob_dir, &reg);

    if (rc == WALRUS_EIO && errno == ENOENT) {
        return walrus_lifetime_recorded_expired(e, now);
    }

    return rc == WALRUS_OK && walrus_registration_expired(&reg, now);
}


/*
 * Nothing in a blob directory is a directory: every other name is a
 * file of the blob (metadata, certificate, slivers, files set aside as
 * .bad, an inconsistency proof, a writer's temporary file).  The
 * directory is synced once names are gone; a file that a power loss
 * brings back all the same is found by the next pass.
 */

int
walrus_lifetime_reclaim(const char *blob_dir, unsigned *removed)
{
    int             fd, err;
    DIR            *d;
    struct dirent  *de;

    *removed = 0;

    fd = open(blob_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1) {
        return errno == ENOENT ? 0 : -1;
    }

    d = fdopendir(fd);
    if (d == NULL) {
        err = errno;
        (void) close(fd);
        errno = err;
        return -1;
    }

    err = 0;

    for ( ;; ) {
        errno = 0;
        de = readdir(d);

        if (de == NULL) {
            err = errno;
            break;
        }

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0
            || strcmp(de->d_name, WALRUS_TOMBSTONE_FILE) == 0
            || strcmp(de->d_name, WALRUS_RECORDED_FILE) == 0
            || strcmp(de->d_name, WALRUS_DELETED_FILE) == 0)
        {
            continue;
        }

        if (unlinkat(dirfd(d), de->d_name, 0) == 0) {
            (*removed)++;

        } else if (errno != ENOENT) {
            err = errno;
        }
    }

    if (*removed > 0 && err == 0 && fsync(dirfd(d)) != 0) {
        err = errno;
    }

    (void) closedir(d);

    if (err != 0) {
        errno = err;
        return -1;
    }

    return 0;
}


static void
walrus_deletion_message(uint32_t epoch, const uint8_t *blob_id, uint8_t *msg)
{
    memcpy(msg, WALRUS_DELETE_TAG, WALRUS_DELETE_TAG_LEN);
    msg[WALRUS_DELETE_TAG_LEN] = (uint8_t) epoch;
    msg[WALRUS_DELETE_TAG_LEN + 1] = (uint8_t) (epoch >> 8);
    msg[WALRUS_DELETE_TAG_LEN + 2] = (uint8_t) (epoch >> 16);
    msg[WALRUS_DELETE_TAG_LEN + 3] = (uint8_t) (epoch >> 24);
    memcpy(msg + WALRUS_DELETE_TAG_LEN + 4, blob_id, WALRUS_BLOB_ID_LEN);
}


int
walrus_deletion_sign(EVP_PKEY *key, uint32_t epoch, const uint8_t *blob_id,
    uint8_t *out)
{
    walrus_deletion_message(epoch, blob_id, out);

    return walrus_sign(key, out, WALRUS_DELETE_MSG_LEN,
                       out + WALRUS_DELETE_MSG_LEN);
}


/*
 * The owner decides: only the key that registered the blob deletes it,
 * in an epoch from its registration's on (a deletion of an earlier
 * registration of the blob does not end a later one) and lately (an old
 * deletion is no standing order).
 */

int
walrus_deletion_verify(const uint8_t *del, size_t len,
    const walrus_registration_t *reg, uint32_t now)
{
    int        rc;
    uint32_t   epoch;
    EVP_PKEY  *key;

    if (len != WALRUS_DELETION_LEN
        || memcmp(del, WALRUS_DELETE_TAG, WALRUS_DELETE_TAG_LEN) != 0)
    {
        return WALRUS_EFORMAT;
    }

    epoch = (uint32_t) del[WALRUS_DELETE_TAG_LEN]
            | (uint32_t) del[WALRUS_DELETE_TAG_LEN + 1] << 8
            | (uint32_t) del[WALRUS_DELETE_TAG_LEN + 2] << 16
            | (uint32_t) del[WALRUS_DELETE_TAG_LEN + 3] << 24;

    if (memcmp(del + WALRUS_DELETE_TAG_LEN + 4, reg->blob_id,
               WALRUS_BLOB_ID_LEN)
        != 0)
    {
        return WALRUS_EBLOBID;
    }

    if (!reg->deletable) {
        return WALRUS_EINVAL;
    }

    if (epoch < reg->epoch || epoch > now || epoch + 1 < now) {
        return WALRUS_EEPOCH;
    }

    key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
                                      reg->publisher, WALRUS_PUBLIC_KEY_LEN);
    if (key == NULL) {
        return WALRUS_ESIGNATURE;
    }

    rc = walrus_verify(key, del, WALRUS_DELETE_MSG_LEN,
                       del + WALRUS_DELETE_MSG_LEN);

    EVP_PKEY_free(key);

    return rc == WALRUS_OK ? WALRUS_OK : WALRUS_ESIGNATURE;
}

