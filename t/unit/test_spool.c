/*
 * Files written batch by batch (include/walrus_spool.h): with direct I/O
 * and through the page cache the file holds exactly the batches' bytes,
 * whatever their sizes against the block; the byte before a batch is
 * writable and is the batch before's last; a batch over the room fails;
 * a direct write the kernel refuses goes through the page cache.
 */

/* O_DIRECT */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <walrus_file.h>
#include <walrus_spool.h>

#include <tap.h>


#define ROOM  (3 * WALRUS_SPOOL_BLOCK + 100)


static char  base[256];


static uint8_t
byte_at(uint64_t off)
{
    return (uint8_t) (off * 131 + (off >> 12) * 7 + 1);
}


/*
 * Writes batches of the sizes in lens (the last one ends the file) into
 * a new file, direct if asked and allowed: 1 when the file then holds
 * exactly those bytes.
 */

static int
spool_file(const char *what, const size_t *lens, size_t nlens, int direct)
{
    int             fd, got_direct, good;
    char            path[512];
    size_t          i, j, total;
    uint8_t        *mem, *batch;
    uint64_t        off;
    struct stat     st;
    walrus_spool_t  sp;

    PATH(path, "%s/spool", base);
    unlink(path);

    fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    mem = malloc(walrus_spool_size(ROOM));
    if (fd == -1 || mem == NULL) {
        printf("Bail out! %s: %s\n", path, strerror(errno));
        exit(2);
    }

    got_direct = direct ? walrus_file_direct(fd, 1) : 0;
    walrus_spool_init(&sp, mem, ROOM, fd, got_direct);
    good = 1;

    for (i = 0, off = 0; i < nlens; i++) {
        batch = walrus_spool_batch(&sp);

        /* the byte before is the spool's, the last one of the batch before */

        if (batch - 1 < mem || batch + lens[i] > mem + walrus_spool_size(ROOM)
            || (sp.carry > 0 && batch[-1] != byte_at(off - 1)))
        {
            good = 0;
        }

        /* hashing in place writes there and restores it */
        batch[-1] ^= 0xff;
        batch[-1] ^= 0xff;

        for (j = 0; j < lens[i]; j++) {
            batch[j] = byte_at(off + j);
        }

        if (walrus_spool_write(&sp, lens[i], i == nlens - 1) != 0) {
            printf("# %s: write %zu: %s\n", what, i, strerror(errno));
            good = 0;
            break;
        }

        off += lens[i];
    }

    total = (size_t) off;
    free(mem);

    if (fstat(fd, &st) != 0 || (uint64_t) st.st_size != total) {
        printf("# %s: the file has %lld bytes, want %zu\n", what,
               (long long) st.st_size, total);
        good = 0;
    }

    /* read through the page cache: fd may be direct */

    close(fd);
    fd = open(path, O_RDONLY);
    mem = malloc(total + 1);

    if (fd == -1 || mem == NULL || walrus_pread(fd, mem, total, 0) != 0) {
        good = 0;

    } else {
        for (j = 0; j < total; j++) {
            if (mem[j] != byte_at(j)) {
                printf("# %s: byte %zu differs\n", what, j);
                good = 0;
                break;
            }
        }
    }

    if (direct && !got_direct) {
        printf("# %s: the file system refused direct I/O\n", what);
    }

    free(mem);
    close(fd);
    unlink(path);

    return good;
}


static void
test_sizes(int direct)
{
    static const size_t  odd[] = { 1, 4095, 4096, 4097, 10000, 7, 0, 123 };
    static const size_t  blocks[] = { 8192, 4096, 12288 };
    static const size_t  one[] = { 5 };
    static const size_t  empty[] = { 0 };
    static const size_t  full[] = { ROOM, ROOM, ROOM, 1 };
    static const size_t  ends[] = { 4096, 100, 3996 };
    const char          *mode;

    mode = direct ? "direct" : "buffered";

    ok(spool_file("odd sizes", odd, 8, direct),
       "%s: batches of odd sizes, carried across blocks", mode);
    ok(spool_file("whole blocks", blocks, 3, direct),
       "%s: batches of whole blocks", mode);
    ok(spool_file("one", one, 1, direct), "%s: a file of 5 bytes", mode);
    ok(spool_file("empty", empty, 1, direct), "%s: an empty file", mode);
    ok(spool_file("full", full, 4, direct),
       "%s: batches of the whole room", mode);
    ok(spool_file("ends", ends, 3, direct),
       "%s: a file that ends on a block", mode);
}


static void
test_random(void)
{
    int     k, good;
    size_t  lens[20], i;

    srandom(12345);
    good = 1;

    for (k = 0; k < 30 && good; k++) {
        for (i = 0; i < 20; i++) {
            lens[i] = (size_t) random() % (ROOM + 1);
        }

        good = spool_file("random", lens, 1 + (size_t) random() % 20,
                          k % 2);
    }

    ok(good, "30 files of random batches, either way");
}


/* an empty file and memory for a spool of ROOM, or the suite bails out */

static int
new_file(const char *path, uint8_t **mem)
{
    int  fd;

    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    *mem = malloc(walrus_spool_size(ROOM));

    if (fd == -1 || *mem == NULL) {
        printf("Bail out! %s\n", path);
        exit(2);
    }

    return fd;
}


static void
test_errors(void)
{
    int             fd, rc, err;
    char            path[512];
    uint8_t        *mem;
    walrus_spool_t  sp;

    PATH(path, "%s/errors", base);

    fd = new_file(path, &mem);

    walrus_spool_init(&sp, mem, ROOM, fd, walrus_file_direct(fd, 1));

    errno = 0;
    rc = walrus_spool_write(&sp, ROOM + 1, 0);
    err = errno;
    ok(rc == -1 && err == EINVAL, "a batch over the room: EINVAL");

    memset(walrus_spool_batch(&sp), 'x', 2 * WALRUS_SPOOL_BLOCK);
    close(fd);

    errno = 0;
    rc = walrus_spool_write(&sp, 2 * WALRUS_SPOOL_BLOCK, 0);
    err = errno;
    ok(rc == -1 && err == EBADF, "a write that fails says so (EBADF)");

    free(mem);
    unlink(path);
}


static void
test_direct(void)
{
    int   fd;
    char  path[512];

    PATH(path, "%s/direct", base);

    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd == -1) {
        printf("Bail out! %s\n", path);
        exit(2);
    }

    /* the suite's TMPDIR is on a disk file system, which does direct I/O */

    ok(walrus_file_direct(fd, 1) == 1
       && (fcntl(fd, F_GETFL) & O_DIRECT) != 0,
       "walrus_file_direct sets O_DIRECT on a disk file system's file");
    ok(walrus_file_direct(fd, 0) == 0 && (fcntl(fd, F_GETFL) & O_DIRECT) == 0,
       "and clears it");

    close(fd);
    unlink(path);
}


/*
 * A file system may take O_DIRECT and refuse a write (EINVAL): the
 * spool goes on through the page cache.  A batch one byte off the
 * alignment that direct I/O needs makes the kernel refuse the write.
 */

static void
test_direct_refused(void)
{
    int             fd, good;
    char            path[512];
    size_t          j, len;
    uint8_t        *mem, *batch;
    walrus_spool_t  sp;

    PATH(path, "%s/refused", base);

    fd = new_file(path, &mem);

    if (walrus_file_direct(fd, 1) != 1) {
        printf("Bail out! %s: no direct I/O on TMPDIR's file system\n", path);
        exit(2);
    }

    walrus_spool_init(&sp, mem, ROOM, fd, 1);
    sp.base += 1;

    len = 2 * WALRUS_SPOOL_BLOCK + 10;
    batch = walrus_spool_batch(&sp);

    for (j = 0; j < len; j++) {
        batch[j] = byte_at(j);
    }

    ok(walrus_spool_write(&sp, len, 1) == 0,
       "a direct write the kernel refuses goes through the page cache");
    ok(sp.direct == 0 && (fcntl(fd, F_GETFL) & O_DIRECT) == 0,
       "... and the file is no longer direct");

    free(mem);
    close(fd);

    good = 0;
    fd = open(path, O_RDONLY);
    mem = malloc(len + 1);

    if (fd != -1 && mem != NULL
        && lseek(fd, 0, SEEK_END) == (off_t) len
        && walrus_pread(fd, mem, len, 0) == 0)
    {
        good = 1;

        for (j = 0; j < len; j++) {
            good &= mem[j] == byte_at(j);
        }
    }

    ok(good, "... holding exactly the batch's bytes");

    free(mem);
    close(fd);
    unlink(path);
}


int
main(void)
{
    const char  *tmp;

    tmp = getenv("TMPDIR");
    PATH(base, "%s/walrus-spool-XXXXXX", tmp != NULL ? tmp : "/tmp");

    if (mkdtemp(base) == NULL) {
        perror(base);
        return 2;
    }

    test_sizes(1);
    test_sizes(0);
    test_random();
    test_errors();
    test_direct();
    test_direct_refused();

    rmdir(base);

    return tap_done();
}
