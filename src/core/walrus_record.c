/*
 * The certified-blob record: its entries, appending under a file lock
 * with the repair of a torn tail, and reading ranges (system calls and
 * the core only: thread safe).
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <walrus_record.h>
#include <walrus_store.h>


/* bytes read at once; at least an entry */
#define WALRUS_RECORD_READ   (64 * 1024 + WALRUS_RECORD_ENTRY_MAX)

/* the records a process remembers the end of */
#define WALRUS_RECORD_KNOWN  16

/* tries to lock the file that is at the path, if it is replaced meanwhile */
#define WALRUS_RECORD_TRIES  8


/* a window of a record file, read ahead */
typedef struct {
    int               fd;
    uint64_t          size;     /* of the file, what is read stops there */
    uint8_t          *buf;
    uint64_t          off;      /* of buf in the file */
    size_t            len;      /* valid bytes in buf */
    walrus_sha256_t  *h;
} walrus_record_reader_t;


/*
 * Where the entries of a record that this process checked end, and the
 * check of the last of them: the file is checked from there on only
 * while those bytes are still before that end.
 */
typedef struct {
    dev_t             dev;
    ino_t             ino;
    uint8_t           id[WALRUS_RECORD_ID_LEN];
    uint64_t          end;
    uint8_t           last[WALRUS_RECORD_CHECK_LEN];
} walrus_record_known_t;


static int walrus_record_entry_check(const walrus_committee_t *c,
    const walrus_history_t *h, const walrus_record_entry_t *e,
    uint8_t *blob_id);
static int walrus_record_check(walrus_sha256_t *h, const uint8_t *body,
    size_t len, uint8_t *check);
static int walrus_record_reader_init(walrus_record_reader_t *rd, int fd,
    uint64_t size);
static void walrus_record_reader_free(walrus_record_reader_t *rd);
static int walrus_record_next(walrus_record_reader_t *rd, uint64_t off,
    walrus_record_entry_t *e);
static int walrus_record_header(int fd, uint64_t size, uint8_t *id);
static int walrus_record_create(const char *path);
static int walrus_record_lock(const char *path, int *fdp, struct stat *st,
    uint8_t *id);
static int walrus_record_repair(walrus_record_reader_t *rd,
    const struct stat *st, const uint8_t *id, uint64_t *end);
static uint64_t walrus_record_known_end(int fd, const struct stat *st,
    const uint8_t *id);
static void walrus_record_set_known(const struct stat *st,
    const uint8_t *id, uint64_t end, const uint8_t *last);


static walrus_record_known_t  walrus_record_known[WALRUS_RECORD_KNOWN];
static unsigned               walrus_record_nknown;
static pthread_mutex_t        walrus_record_mutex = PTHREAD_MUTEX_INITIALIZER;


#define walrus_record_get16(p)  ((size_t) (p)[0] | (size_t) (p)[1] << 8)
#define walrus_record_get32(p)                                               \
    ((size_t) (p)[0] | (size_t) (p)[1] << 8 | (size_t) (p)[2] << 16          \
     | (size_t) (p)[3] << 24)


int
walrus_record_path(char *path, const char *store, size_t store_len)
{
    int  n;

    n = snprintf(path, WALRUS_PATH_MAX, "%.*s/%s", (int) store_len, store,
                 WALRUS_RECORD_FILE);

    return (n < 0 || n >= WALRUS_PATH_MAX) ? -1 : 0;
}


size_t
walrus_record_entry_size(size_t cert_len, size_t reg_len)
{
    if (cert_len < WALRUS_CERT_HEADER_LEN || cert_len > WALRUS_CERT_MAX_SIZE
        || (reg_len != 0 && reg_len != WALRUS_REGISTRATION_LEN))
    {
        return 0;
    }

    return 4 + 2 + cert_len + 2 + reg_len + WALRUS_RECORD_CHECK_LEN;
}


static int
walrus_record_check(walrus_sha256_t *h, const uint8_t *body, size_t len,
    uint8_t *check)
{
    uint8_t  md[WALRUS_HASH_LEN];

    if (h != NULL) {
        if (walrus_sha256(h, body, len, NULL, 0, md) != WALRUS_OK) {
            return WALRUS_ECRYPTO;
        }

    } else if (EVP_Digest(body, len, md, NULL, EVP_sha256(), NULL) != 1) {
        return WALRUS_ECRYPTO;
    }

    memcpy(check, md, WALRUS_RECORD_CHECK_LEN);

    return WALRUS_OK;
}


int
walrus_record_entry_make(walrus_sha256_t *h, uint8_t *out,
    const uint8_t *cert, size_t cert_len, const uint8_t *reg,
    size_t reg_len)
{
    size_t    size, body_len;
    uint8_t  *p;

    size = walrus_record_entry_size(cert_len, reg_len);
    if (size == 0) {
        return WALRUS_EINVAL;
    }

    body_len = size - 4 - WALRUS_RECORD_CHECK_LEN;
    p = out;

    *p++ = (uint8_t) body_len;
    *p++ = (uint8_t) (body_len >> 8);
    *p++ = (uint8_t) (body_len >> 16);
    *p++ = (uint8_t) (body_len >> 24);

    *p++ = (uint8_t) cert_len;
    *p++ = (uint8_t) (cert_len >> 8);
    memcpy(p, cert, cert_len);
    p += cert_len;

    *p++ = (uint8_t) reg_len;
    *p++ = (uint8_t) (reg_len >> 8);

    if (reg_len != 0) {
        memcpy(p, reg, reg_len);
        p += reg_len;
    }

    return walrus_record_check(h, out + 4, body_len, p);
}


int
walrus_record_entry_parse(walrus_sha256_t *h, walrus_record_entry_t *e,
    const uint8_t *buf, size_t len)
{
    int             rc;
    size_t          body_len, cert_len, reg_len;
    uint8_t         check[WALRUS_RECORD_CHECK_LEN];
    const uint8_t  *body;

    if (len < 4) {
        return WALRUS_ELENGTH;
    }

    body_len = walrus_record_get32(buf);

    if (body_len < WALRUS_RECORD_BODY_MIN || body_len > WALRUS_RECORD_BODY_MAX)
    {
        return WALRUS_EFORMAT;
    }

    if (len < 4 + body_len + WALRUS_RECORD_CHECK_LEN) {
        return WALRUS_ELENGTH;
    }

    body = buf + 4;

    rc = walrus_record_check(h, body, body_len, check);
    if (rc != WALRUS_OK) {
        return rc;
    }

    if (memcmp(check, body + body_len, WALRUS_RECORD_CHECK_LEN) != 0) {
        return WALRUS_EFORMAT;
    }

    cert_len = walrus_record_get16(body);

    if (2 + cert_len + 2 > body_len) {
        return WALRUS_EFORMAT;
    }

    reg_len = walrus_record_get16(body + 2 + cert_len);

    if (2 + cert_len + 2 + reg_len != body_len
        || walrus_record_entry_size(cert_len, reg_len) == 0)
    {
        return WALRUS_EFORMAT;
    }

    e->size = 4 + body_len + WALRUS_RECORD_CHECK_LEN;
    e->cert = body + 2;
    e->cert_len = cert_len;
    e->reg = reg_len ? body + 2 + cert_len + 2 : NULL;
    e->reg_len = reg_len;

    return WALRUS_OK;
}


int
walrus_record_entry_verify(const walrus_committee_t *c,
    const walrus_record_entry_t *e, uint8_t *blob_id)
{
    return walrus_record_entry_check(c, NULL, e, blob_id);
}


int
walrus_record_entry_verify_history(const walrus_history_t *h,
    const walrus_record_entry_t *e, uint8_t *blob_id)
{
    return walrus_record_entry_check(NULL, h, e, blob_id);
}


/* against the committee c, or the history h when c is NULL */

static int
walrus_record_entry_check(const walrus_committee_t *c,
    const walrus_history_t *h, const walrus_record_entry_t *e,
    uint8_t *blob_id)
{
    int                    rc;
    walrus_cert_t         *cert;
    walrus_registration_t  reg;

    cert = malloc(sizeof(walrus_cert_t));
    if (cert == NULL) {
        return WALRUS_ENOMEM;
    }

    rc = walrus_cert_parse(cert, e->cert, e->cert_len);

    if (rc == WALRUS_OK) {
        rc = (c != NULL) ? walrus_cert_verify(c, cert, NULL)
                         : walrus_cert_verify_history(h, cert, NULL);
    }

    /* nodes store nothing of a blob without its registration */

    if (rc == WALRUS_OK && e->reg_len == 0) {
        rc = WALRUS_EUNREGISTERED;
    }

    if (rc == WALRUS_OK) {
        rc = walrus_registration_parse(&reg, e->reg, e->reg_len);
    }

    if (rc == WALRUS_OK) {
        rc = (c != NULL)
             ? walrus_registration_verify(c, &reg, cert->blob_id)
             : walrus_registration_verify_history(h, &reg, cert->blob_id);
    }

    if (rc == WALRUS_OK && blob_id != NULL) {
        memcpy(blob_id, cert->blob_id, WALRUS_BLOB_ID_LEN);
    }

    free(cert);

    return rc;
}


static int
walrus_record_reader_init(walrus_record_reader_t *rd, int fd, uint64_t size)
{
    rd->fd = fd;
    rd->size = size;
    rd->off = 0;
    rd->len = 0;
    rd->buf = malloc(WALRUS_RECORD_READ);
    rd->h = walrus_sha256_create();

    if (rd->buf == NULL || rd->h == NULL) {
        walrus_record_reader_free(rd);
        return WALRUS_ENOMEM;
    }

    return WALRUS_OK;
}


static void
walrus_record_reader_free(walrus_record_reader_t *rd)
{
    free(rd->buf);
    walrus_sha256_destroy(rd->h);
    rd->buf = NULL;
    rd->h = NULL;
}


/*
 * The entry at off: WALRUS_ELENGTH when the file (as large as it was
 * when the reader began) ends before it does, WALRUS_EIO with errno
 * when a read fails.
 */

static int
walrus_record_next(walrus_record_reader_t *rd, uint64_t off,
    walrus_record_entry_t *e)
{
    size_t    need, want, got;
    ssize_t   n;
    uint8_t  *p;

    need = 4;

    for ( ;; ) {
        if (off + need > rd->size) {
            return WALRUS_ELENGTH;
        }

        if (off < rd->off || off + need > rd->off + rd->len) {

            want = rd->size - off < WALRUS_RECORD_READ
                   ? (size_t) (rd->size - off) : WALRUS_RECORD_READ;

            for (got = 0; got < want; got += (size_t) n) {
                n = pread(rd->fd, rd->buf + got, want - got,
                          (off_t) (off + got));

                if (n == -1 && errno == EINTR) {
                    n = 0;
                    continue;
                }

                if (n == -1) {
                    rd->len = 0;
                    return WALRUS_EIO;
                }

                if (n == 0) {
                    break;
                }
            }

            rd->off = off;
            rd->len = got;

            if (got < need) {
                /* cut shorter since: the same as ending there */
                return WALRUS_ELENGTH;
            }
        }

        p = rd->buf + (off - rd->off);

        if (need > 4) {
            return walrus_record_entry_parse(rd->h, e, p, need);
        }

        need = walrus_record_get32(p);

        if (need < WALRUS_RECORD_BODY_MIN || need > WALRUS_RECORD_BODY_MAX) {
            return WALRUS_EFORMAT;
        }

        need += 4 + WALRUS_RECORD_CHECK_LEN;
    }
}


/* the identity of the record open as fd, size bytes long */

static int
walrus_record_header(int fd, uint64_t size, uint8_t *id)
{
    uint8_t  header[WALRUS_RECORD_HEADER_LEN];

    if (size < WALRUS_RECORD_HEADER_LEN) {
        return WALRUS_EFORMAT;
    }

    if (walrus_pread(fd, header, sizeof(header), 0) != 0) {
        return WALRUS_EIO;
    }

    if (memcmp(header, WALRUS_RECORD_MAGIC, WALRUS_RECORD_MAGIC_LEN) != 0) {
        return WALRUS_EFORMAT;
    }

    memcpy(id, header + WALRUS_RECORD_MAGIC_LEN, WALRUS_RECORD_ID_LEN);

    return WALRUS_OK;
}


/*
 * A new record appears whole: its header is written and synced under a
 * temporary name, which is then linked to path.  link(2), unlike
 * rename(2), never replaces a record that another process created
 * meanwhile and may have appended to.  -1 with errno on failure.
 */

static int
walrus_record_create(const char *path)
{
    int            rc, err;
    char          *slash, dir[WALRUS_PATH_MAX];
    size_t         got;
    ssize_t        n;
    uint8_t        header[WALRUS_RECORD_HEADER_LEN];
    walrus_file_t  f;

    slash = strrchr(path, '/');

    if (slash == NULL || slash == path
        || (size_t) (slash - path) >= sizeof(dir))
    {
        errno = EINVAL;
        return -1;
    }

    memcpy(dir, path, slash - path);
    dir[slash - path] = '\0';

    memcpy(header, WALRUS_RECORD_MAGIC, WALRUS_RECORD_MAGIC_LEN);

    for (got = 0; got < WALRUS_RECORD_ID_LEN; got += (size_t) n) {
        n = getrandom(header + WALRUS_RECORD_MAGIC_LEN + got,
                      WALRUS_RECORD_ID_LEN - got, 0);

        if (n == -1) {
            if (errno != EINTR) {
                return -1;
            }

            n = 0;
        }
    }

    if (walrus_file_open(&f, path, 0644) != 0) {
        return -1;
    }

    rc = walrus_file_write(&f, header, sizeof(header));

    if (rc == 0) {
        rc = fsync(f.fd);
    }

    if (rc == 0 && link(f.tmp, f.path) == -1 && errno != EEXIST) {
        rc = -1;
    }

    err = errno;
    walrus_file_abort(&f);
    errno = err;

    return rc == 0 ? walrus_sync_dir(dir) : -1;
}


/*
 * Opens the record at path for appending, creating it, and takes its
 * exclusive lock.  The file locked must still be the one at path: one
 * removed or replaced (a wiped store) while this process waited for the
 * lock would take entries nobody reads.
 */

static int
walrus_record_lock(const char *path, int *fdp, struct stat *st, uint8_t *id)
{
    int          fd, tries, rc;
    struct stat  now;

    for (tries = 0; tries < WALRUS_RECORD_TRIES; tries++) {

        fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);

        if (fd == -1) {
            if (errno != ENOENT || walrus_record_create(path) != 0) {
                return WALRUS_EIO;
            }

            continue;
        }

        while (flock(fd, LOCK_EX) == -1) {
            if (errno != EINTR) {
                goto failed;
            }
        }

        if (fstat(fd, st) == -1) {
            goto failed;
        }

        if (stat(path, &now) == 0 && now.st_dev == st->st_dev
            && now.st_ino == st->st_ino)
        {
            rc = walrus_record_header(fd, (uint64_t) st->st_size, id);

            if (rc != WALRUS_OK) {
                close(fd);
                return rc;
            }

            *fdp = fd;
            return WALRUS_OK;
        }

        close(fd);
    }

    errno = ESTALE;
    return WALRUS_EIO;

failed:

    rc = errno;
    close(fd);
    errno = rc;

    return WALRUS_EIO;
}


/*
 * With the lock held: checks the entries after the end known to this
 * process and cuts the file at the first that does not parse or check,
 * what a process killed while it appended leaves.  *end is then the end
 * of the file.
 */

static int
walrus_record_repair(walrus_record_reader_t *rd, const struct stat *st,
    const uint8_t *id, uint64_t *end)
{
    int                    rc;
    uint64_t               off;
    walrus_record_entry_t  e;

    off = walrus_record_known_end(rd->fd, st, id);

    while (off < rd->size) {
        rc = walrus_record_next(rd, off, &e);

        if (rc == WALRUS_OK) {
            off += e.size;
            continue;
        }

        if (rc != WALRUS_ELENGTH && rc != WALRUS_EFORMAT) {
            return rc;
        }

        if (ftruncate(rd->fd, (off_t) off) == -1) {
            return WALRUS_EIO;
        }

        break;
    }

    *end = off;

    return WALRUS_OK;
}


int
walrus_record_append(const char *path, const uint8_t *cert,
    size_t cert_len, const uint8_t *reg, size_t reg_len)
{
    int                     fd, rc, err;
    size_t                  size;
    uint8_t                *entry, id[WALRUS_RECORD_ID_LEN];
    uint64_t                end;
    struct stat             st;
    walrus_record_reader_t  rd;

    size = walrus_record_entry_size(cert_len, reg_len);
    if (size == 0) {
        return WALRUS_EINVAL;
    }

    entry = malloc(size);
    if (entry == NULL) {
        return WALRUS_ENOMEM;
    }

    fd = -1;
    rd.buf = NULL;
    rd.h = NULL;

    rc = walrus_record_entry_make(NULL, entry, cert, cert_len, reg, reg_len);

    if (rc == WALRUS_OK) {
        rc = walrus_record_lock(path, &fd, &st, id);
    }

    if (rc == WALRUS_OK) {
        rc = walrus_record_reader_init(&rd, fd, (uint64_t) st.st_size);
    }

    if (rc == WALRUS_OK) {
        rc = walrus_record_repair(&rd, &st, id, &end);
    }

    if (rc != WALRUS_OK) {
        goto done;
    }

    /* O_APPEND: at end, where the repair left the file */

    if (walrus_write(fd, entry, size) != 0 || fdatasync(fd) != 0) {
        err = errno;
        (void) ftruncate(fd, (off_t) end);
        errno = err;
        rc = WALRUS_EIO;
        goto done;
    }

    walrus_record_set_known(&st, id, end + size,
                            entry + size - WALRUS_RECORD_CHECK_LEN);

done:

    err = errno;

    if (fd != -1) {
        /* the lock goes with the file */
        close(fd);
    }

    walrus_record_reader_free(&rd);
    free(entry);
    errno = err;

    return rc;
}


int
walrus_record_range(int fd, uint64_t cursor, size_t limit,
    walrus_record_range_t *rg)
{
    int                     rc;
    uint64_t                off;
    struct stat             st;
    walrus_record_entry_t   e;
    walrus_record_reader_t  rd;

    if (fstat(fd, &st) == -1) {
        return WALRUS_EIO;
    }

    rc = walrus_record_header(fd, (uint64_t) st.st_size, rg->id);
    if (rc != WALRUS_OK) {
        return rc;
    }

    if (cursor < WALRUS_RECORD_HEADER_LEN || cursor > (uint64_t) st.st_size) {
        return WALRUS_ECURSOR;
    }

    rc = walrus_record_reader_init(&rd, fd, (uint64_t) st.st_size);
    if (rc != WALRUS_OK) {
        return rc;
    }

    rg->start = cursor;

    for (off = cursor; off < rd.size; off += e.size) {
        rc = walrus_record_next(&rd, off, &e);

        if (rc == WALRUS_ELENGTH) {
            /* an append in progress, or cut short: the end for now */
            rc = WALRUS_OK;
            break;
        }

        if (rc == WALRUS_EFORMAT) {
            rc = (off == cursor) ? WALRUS_ECURSOR : WALRUS_OK;
            break;
        }

        if (rc != WALRUS_OK) {
            break;
        }

        if (off > cursor && off + e.size - cursor > limit) {
            break;
        }
    }

    rg->end = off;

    walrus_record_reader_free(&rd);

    return rc;
}


/*
 * The end of the entries of the record open as fd that this process
 * checked, while the check of the last of them is still there: a file
 * cut shorter by hand, and appended to since, is checked from its first
 * entry again.
 */

static uint64_t
walrus_record_known_end(int fd, const struct stat *st, const uint8_t *id)
{
    unsigned               i;
    uint8_t                last[WALRUS_RECORD_CHECK_LEN];
    walrus_record_known_t  k;

    k.end = 0;

    pthread_mutex_lock(&walrus_record_mutex);

    for (i = 0; i < WALRUS_RECORD_KNOWN; i++) {
        if (walrus_record_known[i].dev == st->st_dev
            && walrus_record_known[i].ino == st->st_ino
            && memcmp(walrus_record_known[i].id, id, WALRUS_RECORD_ID_LEN)
               == 0)
        {
            k = walrus_record_known[i];
            break;
        }
    }

    pthread_mutex_unlock(&walrus_record_mutex);

    if (k.end <= WALRUS_RECORD_HEADER_LEN || k.end > (uint64_t) st->st_size) {
        return WALRUS_RECORD_HEADER_LEN;
    }

    if (walrus_pread(fd, last, sizeof(last),
                     (off_t) (k.end - WALRUS_RECORD_CHECK_LEN))
        != 0
        || memcmp(last, k.last, sizeof(last)) != 0)
    {
        return WALRUS_RECORD_HEADER_LEN;
    }

    return k.end;
}


static void
walrus_record_set_known(const struct stat *st, const uint8_t *id,
    uint64_t end, const uint8_t *last)
{
    unsigned                i;
    walrus_record_known_t  *k;

    pthread_mutex_lock(&walrus_record_mutex);

    for (i = 0; i < WALRUS_RECORD_KNOWN; i++) {
        k = &walrus_record_known[i];

        if (k->dev == st->st_dev && k->ino == st->st_ino) {
            break;
        }
    }

    if (i == WALRUS_RECORD_KNOWN) {
        k = &walrus_record_known[walrus_record_nknown++ % WALRUS_RECORD_KNOWN];
    }

    k->dev = st->st_dev;
    k->ino = st->st_ino;
    memcpy(k->id, id, WALRUS_RECORD_ID_LEN);
    k->end = end;
    memcpy(k->last, last, WALRUS_RECORD_CHECK_LEN);

    pthread_mutex_unlock(&walrus_record_mutex);
}


int
walrus_record_identity(const char *path, uint8_t *id)
{
    int          fd, rc;
    struct stat  st;

    fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd == -1) {
        return errno == ENOENT ? 0 : -1;
    }

    rc = fstat(fd, &st) == 0
         ? walrus_record_header(fd, (uint64_t) st.st_size, id) : WALRUS_EIO;

    (void) close(fd);

    if (rc == WALRUS_EFORMAT) {
        errno = EINVAL;
    }

    return rc == WALRUS_OK ? 1 : -1;
}


int
walrus_record_mark(const char *blob_dir, const char *path)
{
    int      fd, rc;
    char     mark[WALRUS_PATH_MAX], tmp[WALRUS_PATH_MAX];
    uint8_t  id[WALRUS_RECORD_ID_LEN];

    if (walrus_record_identity(path, id) != 1
        || walrus_store_path(mark, blob_dir, "recorded") != 0
        || walrus_store_path(tmp, blob_dir, "recorded.tmp") != 0)
    {
        return -1;
    }

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        return -1;
    }

    rc = walrus_write(fd, id, sizeof(id));

    if (close(fd) != 0 || rc != 0 || rename(tmp, mark) != 0) {
        (void) unlink(tmp);
        return -1;
    }

    return 0;
}


int
walrus_record_marked(const char *blob_dir, const char *path)
{
    int      fd;
    char     mark[WALRUS_PATH_MAX];
    uint8_t  id[WALRUS_RECORD_ID_LEN], have[WALRUS_RECORD_ID_LEN];

    if (walrus_record_identity(path, id) != 1
        || walrus_store_path(mark, blob_dir, "recorded") != 0)
    {
        return 0;
    }

    fd = open(mark, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return 0;
    }

    if (walrus_pread(fd, have, sizeof(have), 0) != 0) {
        (void) close(fd);
        return 0;
    }

    (void) close(fd);

    return memcmp(id, have, sizeof(id)) == 0;
}


int
walrus_record_read(const char *path, uint64_t cursor, size_t limit,
    walrus_record_range_t *rg, uint8_t **buf)
{
    int     fd, rc;
    size_t  len;

    *buf = NULL;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return WALRUS_EIO;
    }

    rc = walrus_record_range(fd, cursor, limit, rg);

    if (rc == WALRUS_OK && rg->end > rg->start) {
        len = rg->end - rg->start;

        *buf = malloc(len);

        if (*buf == NULL) {
            rc = WALRUS_ENOMEM;

        } else if (walrus_pread(fd, *buf, len, rg->start) != 0) {
            rc = WALRUS_EIO;
            free(*buf);
            *buf = NULL;
        }
    }

    (void) close(fd);

    return rc;
}


int
walrus_record_keep_files(const char *blob_dir, const char *path,
    const walrus_record_entry_t *e)
{
    char         file[WALRUS_PATH_MAX];
    struct stat  st;

    if (walrus_store_mkdir(blob_dir) != 0) {
        return -1;
    }

    if (e->reg_len > 0
        && walrus_store_path(file, blob_dir, "registration") == 0
        && stat(file, &st) != 0
        && walrus_store_write(blob_dir, "registration", e->reg, e->reg_len)
           != 0)
    {
        return -1;
    }

    if (walrus_store_path(file, blob_dir, "certificate") == 0
        && stat(file, &st) != 0
        && walrus_store_write(blob_dir, "certificate", e->cert, e->cert_len)
           != 0)
    {
        return -1;
    }

    (void) walrus_record_mark(blob_dir, path);

    return 0;
}


int
walrus_record_read_from(const char *path, uint64_t *cursor, size_t limit,
    const uint8_t *id, walrus_record_range_t *rg, uint8_t **buf,
    int *restarted)
{
    int  rc;

    *restarted = 0;

    if (*cursor == 0) {
        *cursor = WALRUS_RECORD_HEADER_LEN;
    }

    rc = walrus_record_read(path, *cursor, limit, rg, buf);

    if (rc == WALRUS_OK && id != NULL && *cursor != WALRUS_RECORD_HEADER_LEN
        && memcmp(rg->id, id, WALRUS_RECORD_ID_LEN) != 0)
    {
        free(*buf);
        *buf = NULL;
        rc = WALRUS_ECURSOR;
    }

    if (rc == WALRUS_ECURSOR) {
        *cursor = WALRUS_RECORD_HEADER_LEN;
        *restarted = 1;
        rc = walrus_record_read(path, *cursor, limit, rg, buf);
    }

    return rc;
}
