/*
 * The committee history: a directory of committee files, one per epoch,
 * or one committee file; the committee of an epoch.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <walrus_file.h>
#include <walrus_history.h>


#define WALRUS_HISTORY_SUFFIX      ".json"
#define WALRUS_HISTORY_SUFFIX_LEN  5


/* the committee files a directory lists, before any is read */
typedef struct {
    const char  *dir;
    size_t       dirlen;        /* without trailing slashes */
    uint32_t    *epochs;
    unsigned     count;
    uint64_t     bytes;
    char        *err;
    size_t       errlen;
} walrus_history_list_t;


static int walrus_history_one(walrus_history_t *h, const char *path,
    char *err, size_t errlen);
static int walrus_history_dir(walrus_history_t *h, const char *dir,
    char *err, size_t errlen);
static int walrus_history_scan(walrus_history_list_t *ls);
static int walrus_history_entry(walrus_history_list_t *ls, int fd,
    const char *name);
static int walrus_history_epoch(const char *name, uint32_t *epoch);
static int walrus_history_gaps(walrus_history_list_t *ls);
static int walrus_history_read(walrus_history_t *h,
    walrus_history_list_t *ls);
static int walrus_history_same(walrus_history_list_t *ls,
    const walrus_committee_t *first, const walrus_committee_t *c,
    const char *path);
static int walrus_history_cmp(const void *a, const void *b);


int
walrus_history_load(walrus_history_t *h, const char *path, char *err,
    size_t errlen)
{
    struct stat  st;

    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }

    if (h == NULL || path == NULL) {
        walrus_committee_error(err, errlen, "invalid argument");
        return WALRUS_EINVAL;
    }

    memset(h, 0, sizeof(walrus_history_t));

    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        return walrus_history_dir(h, path, err, errlen);
    }

    /* anything else is read as one committee file, which says why not */

    return walrus_history_one(h, path, err, errlen);
}


void
walrus_history_free(walrus_history_t *h)
{
    unsigned  i;

    if (h == NULL) {
        return;
    }

    if (h->committees != NULL) {
        for (i = 0; i < h->count; i++) {
            walrus_committee_free(&h->committees[i]);
        }

        free(h->committees);
    }

    memset(h, 0, sizeof(walrus_history_t));
}


const walrus_committee_t *
walrus_history_committee(const walrus_history_t *h, uint32_t epoch)
{
    if (h == NULL || h->committees == NULL || epoch < h->first
        || epoch - h->first >= h->count)
    {
        return NULL;
    }

    return &h->committees[epoch - h->first];
}


const walrus_committee_t *
walrus_history_current(const walrus_history_t *h)
{
    if (h == NULL) {
        return NULL;
    }

    return walrus_history_committee(h, h->current);
}


void
walrus_history_take_current(walrus_history_t *h, walrus_committee_t *c)
{
    walrus_committee_t  *cur;

    memset(c, 0, sizeof(walrus_committee_t));

    if (h->committees == NULL || h->count == 0) {
        walrus_history_free(h);
        return;
    }

    cur = &h->committees[h->count - 1];

    *c = *cur;
    memset(cur, 0, sizeof(walrus_committee_t));

    walrus_history_free(h);
}


/* a file: the history of its epoch alone, as before histories */

static int
walrus_history_one(walrus_history_t *h, const char *path, char *err,
    size_t errlen)
{
    int  rc;

    h->committees = calloc(1, sizeof(walrus_committee_t));
    if (h->committees == NULL) {
        walrus_committee_error(err, errlen, "out of memory");
        return WALRUS_ENOMEM;
    }

    rc = walrus_committee_load(h->committees, path, err, errlen);
    if (rc != WALRUS_OK) {
        walrus_history_free(h);
        return rc;
    }

    h->count = 1;
    h->first = h->committees->epoch;
    h->current = h->first;

    return WALRUS_OK;
}


static int
walrus_history_dir(walrus_history_t *h, const char *dir, char *err,
    size_t errlen)
{
    int                    rc;
    walrus_history_list_t  ls;

    memset(&ls, 0, sizeof(walrus_history_list_t));
    ls.dir = dir;
    ls.dirlen = strlen(dir);
    ls.err = err;
    ls.errlen = errlen;

    while (ls.dirlen > 1 && dir[ls.dirlen - 1] == '/') {
        ls.dirlen--;
    }

    ls.epochs = malloc(WALRUS_HISTORY_MAX_EPOCHS * sizeof(uint32_t));
    if (ls.epochs == NULL) {
        walrus_committee_error(err, errlen, "out of memory");
        return WALRUS_ENOMEM;
    }

    rc = walrus_history_scan(&ls);

    if (rc == WALRUS_OK) {
        rc = walrus_history_gaps(&ls);
    }

    if (rc == WALRUS_OK) {
        rc = walrus_history_read(h, &ls);
    }

    free(ls.epochs);

    if (rc != WALRUS_OK) {
        walrus_history_free(h);
    }

    return rc;
}


/* the epochs of the directory's committee files and their bytes */

static int
walrus_history_scan(walrus_history_list_t *ls)
{
    int             rc, fd;
    DIR            *d;
    struct dirent  *de;

    d = opendir(ls->dir);
    if (d == NULL) {
        walrus_committee_error(ls->err, ls->errlen, "%s: cannot read: %s",
                               ls->dir, strerror(errno));
        return errno == ENOMEM ? WALRUS_ENOMEM : WALRUS_EIO;
    }

    fd = dirfd(d);
    rc = WALRUS_OK;

    for ( ;; ) {
        errno = 0;
        de = readdir(d);

        if (de == NULL) {
            if (errno != 0) {
                walrus_committee_error(ls->err, ls->errlen,
                                       "%s: cannot read: %s", ls->dir,
                                       strerror(errno));
                rc = WALRUS_EIO;
            }

            break;
        }

        rc = walrus_history_entry(ls, fd, de->d_name);
        if (rc != WALRUS_OK) {
            break;
        }
    }

    closedir(d);

    if (rc == WALRUS_OK && ls->count == 0) {
        walrus_committee_error(ls->err, ls->errlen,
                               "%s: no committee file: a history has a "
                               "file <epoch>.json per epoch", ls->dir);
        return WALRUS_EFORMAT;
    }

    return rc;
}


/*
 * Hidden names (temporary files of atomic writers) and names without
 * the suffix (key files, notes, folders) are not committee files; a
 * name with the suffix must be an epoch, so that "01.json" or
 * "epoch-2.json" is not left out unnoticed.
 */

static int
walrus_history_entry(walrus_history_list_t *ls, int fd, const char *name)
{
    size_t       len;
    uint32_t     epoch;
    struct stat  st;

    len = strlen(name);

    if (name[0] == '.' || len < WALRUS_HISTORY_SUFFIX_LEN
        || strcmp(name + len - WALRUS_HISTORY_SUFFIX_LEN,
                  WALRUS_HISTORY_SUFFIX) != 0)
    {
        return WALRUS_OK;
    }

    if (walrus_history_epoch(name, &epoch) != WALRUS_OK) {
        walrus_committee_error(ls->err, ls->errlen,
                               "%.*s/%s: not a committee file name: they "
                               "are <epoch>.json, the epoch in decimal "
                               "without leading zeros",
                               (int) ls->dirlen, ls->dir, name);
        return WALRUS_EFORMAT;
    }

    if (ls->count == WALRUS_HISTORY_MAX_EPOCHS) {
        walrus_committee_error(ls->err, ls->errlen,
                               "%.*s: more than %d committee files",
                               (int) ls->dirlen, ls->dir,
                               WALRUS_HISTORY_MAX_EPOCHS);
        return WALRUS_EFORMAT;
    }

    /*
     * Sizes as listed: a file that grows before it is read is still held
     * to the limit of one committee file.
     */

    if (fstatat(fd, name, &st, 0) == 0 && S_ISREG(st.st_mode)) {
        ls->bytes += (uint64_t) st.st_size;

        if (ls->bytes > WALRUS_HISTORY_MAX_BYTES) {
            walrus_committee_error(ls->err, ls->errlen,
                                   "%.*s: the committee files are larger "
                                   "than %d bytes in all", (int) ls->dirlen,
                                   ls->dir, WALRUS_HISTORY_MAX_BYTES);
            return WALRUS_EFORMAT;
        }
    }

    ls->epochs[ls->count++] = epoch;

    return WALRUS_OK;
}


/* "<epoch>.json" with the epoch in canonical decimal, 0 to 2^32 - 1 */

static int
walrus_history_epoch(const char *name, uint32_t *epoch)
{
    size_t      i, digits;
    uint64_t    v;

    digits = strlen(name) - WALRUS_HISTORY_SUFFIX_LEN;

    if (digits == 0 || digits > 10 || (name[0] == '0' && digits > 1)) {
        return WALRUS_EFORMAT;
    }

    v = 0;

    for (i = 0; i < digits; i++) {
        if (name[i] < '0' || name[i] > '9') {
            return WALRUS_EFORMAT;
        }

        v = v * 10 + (uint64_t) (name[i] - '0');
    }

    if (v > UINT32_MAX) {
        return WALRUS_EFORMAT;
    }

    *epoch = (uint32_t) v;

    return WALRUS_OK;
}


/*
 * Every epoch between the first and the current one: a certificate of a
 * missing epoch could not be checked, and nodes that miss a file would
 * disagree silently about which certificates hold.
 */

static int
walrus_history_gaps(walrus_history_list_t *ls)
{
    unsigned  i;

    qsort(ls->epochs, ls->count, sizeof(uint32_t), walrus_history_cmp);

    for (i = 1; i < ls->count; i++) {

        /* only when the directory changed while it was read */

        if (ls->epochs[i] == ls->epochs[i - 1]) {
            walrus_committee_error(ls->err, ls->errlen,
                                   "%.*s: %u.json is listed twice",
                                   (int) ls->dirlen, ls->dir, ls->epochs[i]);
            return WALRUS_EFORMAT;
        }

        if (ls->epochs[i] != ls->epochs[i - 1] + 1) {
            walrus_committee_error(ls->err, ls->errlen,
                                   "%.*s: no file for epoch %u between "
                                   "%u.json and %u.json: every epoch from "
                                   "the first to the current needs its "
                                   "committee file", (int) ls->dirlen,
                                   ls->dir, ls->epochs[i - 1] + 1,
                                   ls->epochs[i - 1], ls->epochs[i]);
            return WALRUS_EFORMAT;
        }
    }

    return WALRUS_OK;
}


static int
walrus_history_read(walrus_history_t *h, walrus_history_list_t *ls)
{
    int                  rc;
    char                 path[WALRUS_PATH_MAX];
    unsigned             i, members;
    walrus_committee_t  *c;

    h->committees = calloc(ls->count, sizeof(walrus_committee_t));
    if (h->committees == NULL) {
        walrus_committee_error(ls->err, ls->errlen, "out of memory");
        return WALRUS_ENOMEM;
    }

    h->count = ls->count;
    h->first = ls->epochs[0];
    h->current = ls->epochs[ls->count - 1];
    members = 0;

    for (i = 0; i < ls->count; i++) {
        c = &h->committees[i];

        if (snprintf(path, sizeof(path), "%.*s/%u.json", (int) ls->dirlen,
                     ls->dir, ls->epochs[i])
            >= (int) sizeof(path))
        {
            walrus_committee_error(ls->err, ls->errlen,
                                   "%.*s: the path is too long",
                                   (int) ls->dirlen, ls->dir);
            return WALRUS_EIO;
        }

        rc = walrus_committee_load(c, path, ls->err, ls->errlen);
        if (rc != WALRUS_OK) {
            return rc;
        }

        /* the name says which committee certificates of an epoch get */

        if (c->epoch != ls->epochs[i]) {
            walrus_committee_error(ls->err, ls->errlen,
                                   "%s: epoch %u in a file named for "
                                   "epoch %u", path, c->epoch,
                                   ls->epochs[i]);
            return WALRUS_EFORMAT;
        }

        rc = walrus_history_same(ls, &h->committees[0], c, path);
        if (rc != WALRUS_OK) {
            return rc;
        }

        members += c->nnodes + c->npublishers;

        if (members > WALRUS_HISTORY_MAX_MEMBERS) {
            walrus_committee_error(ls->err, ls->errlen,
                                   "%s: more than %d nodes and publishers "
                                   "in the epochs up to this one", path,
                                   WALRUS_HISTORY_MAX_MEMBERS);
            return WALRUS_EFORMAT;
        }
    }

    return WALRUS_OK;
}


/*
 * The blob ID commits to n and the segment size (protocol sections 6
 * and 7), and the pair of a shard depends on n: another value would
 * change the ID, the slivers and their holders of every blob.
 */

static int
walrus_history_same(walrus_history_list_t *ls,
    const walrus_committee_t *first, const walrus_committee_t *c,
    const char *path)
{
    const char  *field;
    uint32_t     was, is;

    if (c->params.n != first->params.n) {
        field = "n_shards";
        was = first->params.n;
        is = c->params.n;

    } else if (c->segment_size != first->segment_size) {
        field = "segment_size";
        was = first->segment_size;
        is = c->segment_size;

    } else {
        return WALRUS_OK;
    }

    walrus_committee_error(ls->err, ls->errlen,
                           "%s: %s is %u, it was %u in epoch %u: it stays "
                           "the same in every epoch", path, field, is, was,
                           first->epoch);

    return WALRUS_EFORMAT;
}


static int
walrus_history_cmp(const void *a, const void *b)
{
    uint32_t  x, y;

    x = *(const uint32_t *) a;
    y = *(const uint32_t *) b;

    return (x > y) - (x < y);
}
