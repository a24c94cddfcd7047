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
#include <walrus_store.h>


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
    walrus_registration_t  reg;

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
            || strcmp(de->d_name, WALRUS_RECORDED_FILE) == 0)
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
