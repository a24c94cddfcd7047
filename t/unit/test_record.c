/*
 * The certified-blob record (include/walrus_record.h): entries and their
 * check, appending and reading ranges, a torn tail cut off, bad cursors,
 * appends from two processes at once, and the verification of an entry
 * against a committee.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <openssl/evp.h>

#include <walrus_record.h>
#include <walrus_sign.h>
#include <walrus_store.h>

#include <tap.h>


#define TEST_NODES   4
#define TEST_EPOCH   3
#define TEST_ROUNDS  40      /* appends of each process at once */


static char      base[256];
static EVP_PKEY  *keys[TEST_NODES + 2];     /* nodes, publisher, stranger */


/* a certificate-sized body of len bytes numbered by seed: no real one */
static void
fake_cert(uint8_t *buf, size_t len, unsigned seed)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        buf[i] = (uint8_t) (seed * 31 + i * 7);
    }
}


static off_t
file_size(const char *path)
{
    struct stat  st;

    return stat(path, &st) == 0 ? st.st_size : -1;
}


static unsigned char *
slurp(const char *path, size_t *len)
{
    unsigned char  *buf;

    if (walrus_read_file(path, 1 << 26, &buf, len) != 0) {
        printf("Bail out! cannot read %s\n", path);
        exit(2);
    }

    return buf;
}


static void
cut(const char *path, off_t size)
{
    if (truncate(path, size) != 0) {
        printf("Bail out! cannot truncate %s\n", path);
        exit(2);
    }
}


static void
add_bytes(const char *path, const void *buf, size_t len)
{
    int  fd;

    fd = open(path, O_WRONLY | O_APPEND);
    if (fd == -1 || walrus_write(fd, buf, len) != 0) {
        printf("Bail out! cannot write %s\n", path);
        exit(2);
    }

    close(fd);
}


static void
put_text(const char *path, const char *text)
{
    FILE  *fp;

    fp = fopen(path, "w");
    if (fp == NULL || fputs(text, fp) == EOF || fclose(fp) != 0) {
        printf("Bail out! cannot write %s\n", path);
        exit(2);
    }
}


/* the temporary files in dir */
static int
count_tmp(const char *dir)
{
    int              i, n, count;
    struct dirent  **list;

    n = scandir(dir, &list, NULL, NULL);
    if (n == -1) {
        return -1;
    }

    for (count = 0, i = 0; i < n; i++) {
        count += strncmp(list[i]->d_name, ".tmp.", 5) == 0;
        free(list[i]);
    }

    free(list);

    return count;
}


/*
 * Walks the whole file: the number of entries, each checked; -1 when
 * something other than an entry follows them.  seeds[i] gets the first
 * byte after the certificate header of entry i, when not NULL.
 */
static int
walk(const char *path, unsigned *seeds, size_t nseeds)
{
    int                    n;
    size_t                 len, off;
    unsigned char         *buf;
    walrus_record_entry_t  e;

    buf = slurp(path, &len);
    n = 0;

    if (len < WALRUS_RECORD_HEADER_LEN
        || memcmp(buf, WALRUS_RECORD_MAGIC, WALRUS_RECORD_MAGIC_LEN) != 0)
    {
        free(buf);
        return -1;
    }

    for (off = WALRUS_RECORD_HEADER_LEN; off < len; off += e.size) {
        if (walrus_record_entry_parse(NULL, &e, buf + off, len - off)
            != WALRUS_OK)
        {
            free(buf);
            return -1;
        }

        if (seeds != NULL && (size_t) n < nseeds) {
            seeds[n] = e.cert[0];
        }

        n++;
    }

    free(buf);

    return n;
}


static int
append_seed(const char *path, unsigned seed, size_t cert_len)
{
    uint8_t  cert[WALRUS_CERT_MAX_SIZE], reg[WALRUS_REGISTRATION_LEN];

    fake_cert(cert, cert_len, seed);
    cert[0] = (uint8_t) seed;
    memset(reg, (int) seed, sizeof(reg));

    return walrus_record_append(path, cert, cert_len, reg, sizeof(reg));
}


static int
range(const char *path, uint64_t cursor, size_t limit,
    walrus_record_range_t *rg)
{
    int  fd, rc;

    fd = open(path, O_RDONLY);
    if (fd == -1) {
        return -1;
    }

    rc = walrus_record_range(fd, cursor, limit, rg);
    close(fd);

    return rc;
}


static void
test_entries(void)
{
    size_t                 size;
    uint8_t                cert[100], reg[WALRUS_REGISTRATION_LEN];
    uint8_t                buf[WALRUS_RECORD_ENTRY_MAX];
    walrus_record_entry_t  e;

    fake_cert(cert, sizeof(cert), 1);
    memset(reg, 0xab, sizeof(reg));

    size = walrus_record_entry_size(sizeof(cert), sizeof(reg));
    is_int(size, 4 + 2 + 100 + 2 + 162 + 8, "the size of an entry");
    is_int(walrus_record_entry_size(38, 0), 0,
           "a certificate shorter than its header is refused");
    is_int(walrus_record_entry_size(WALRUS_CERT_MAX_SIZE + 1, 0), 0,
           "... and one longer than 255 signers");
    is_int(walrus_record_entry_size(100, 161), 0,
           "... and a registration of another size than 162");
    is_int(WALRUS_RECORD_BODY_MAX, 39 + 66 * 255 + 2 + 2 + 162,
           "the largest body");

    is_int(walrus_record_entry_make(NULL, buf, cert, sizeof(cert), reg,
                                    sizeof(reg)),
           WALRUS_OK, "an entry is made");
    is_int(buf[0] | buf[1] << 8, 2 + 100 + 2 + 162,
           "... its body length first, little-endian");
    is_int(walrus_record_entry_parse(NULL, &e, buf, size), WALRUS_OK,
           "... and parses");
    is_int(e.size, size, "... whole");
    ok(e.cert_len == sizeof(cert) && memcmp(e.cert, cert, sizeof(cert)) == 0,
       "... with the certificate");
    ok(e.reg_len == sizeof(reg) && memcmp(e.reg, reg, sizeof(reg)) == 0,
       "... and the registration");
    is_int(walrus_record_entry_parse(NULL, &e, buf, size + 10), WALRUS_OK,
           "bytes after it do not matter");
    is_int(walrus_record_entry_parse(NULL, &e, buf, size - 1), WALRUS_ELENGTH,
           "one byte short: ELENGTH");
    is_int(walrus_record_entry_parse(NULL, &e, buf, 3), WALRUS_ELENGTH,
           "... and so is a part of its length");

    buf[50] ^= 1;
    is_int(walrus_record_entry_parse(NULL, &e, buf, size), WALRUS_EFORMAT,
           "a byte of the body changed: the check fails");
    buf[50] ^= 1;
    buf[size - 1] ^= 1;
    is_int(walrus_record_entry_parse(NULL, &e, buf, size), WALRUS_EFORMAT,
           "... and a byte of the check");
    buf[size - 1] ^= 1;

    buf[2] = 1;
    is_int(walrus_record_entry_parse(NULL, &e, buf, sizeof(buf)),
           WALRUS_EFORMAT, "a body length out of range");
    buf[2] = 0;

    is_int(walrus_record_entry_make(NULL, buf, cert, sizeof(cert), NULL, 0),
           WALRUS_OK, "an entry without a registration is made");
    is_int(walrus_record_entry_parse(NULL, &e, buf, sizeof(buf)), WALRUS_OK,
           "... and parses");
    ok(e.reg == NULL && e.reg_len == 0, "... without a registration");
}


static void
test_round_trip(void)
{
    int                    i;
    char                   path[WALRUS_PATH_MAX];
    size_t                 len, sizes[3];
    uint64_t               next;
    unsigned               seeds[8];
    unsigned char         *buf;
    walrus_record_range_t  rg, rg2;

    is_int(walrus_record_path(path, base, strlen(base)), 0, "record_path");
    ok(strlen(path) > 14
       && strcmp(path + strlen(path) - 14, "/certified.log") == 0,
       "... <store>/certified.log");

    is_int(range(path, WALRUS_RECORD_HEADER_LEN, 1 << 20, &rg), -1,
           "no record before the first append");

    for (i = 0; i < 3; i++) {
        is_int(append_seed(path, 10 + i, 39 + 66 * (i + 1)), WALRUS_OK,
               "append %d", i);
        sizes[i] = walrus_record_entry_size(39 + 66 * (i + 1),
                                            WALRUS_REGISTRATION_LEN);
    }

    is_int(file_size(path), 32 + sizes[0] + sizes[1] + sizes[2],
           "the file holds the header and three entries");
    is_int(walk(path, seeds, 8), 3, "... which parse");
    ok(seeds[0] == 10 && seeds[1] == 11 && seeds[2] == 12,
       "... in the order they were appended");

    buf = slurp(path, &len);
    ok(memcmp(buf, "walrus-record:1\0", 16) == 0,
       "the header starts with walrus-record:1 and a NUL");
    memcpy(rg2.id, buf + 16, 16);
    free(buf);

    is_int(range(path, 32, 1 << 20, &rg), WALRUS_OK, "a range from 32");
    ok(memcmp(rg.id, rg2.id, 16) == 0, "... names the log's identity");
    is_int(rg.start, 32, "... starts at the cursor");
    is_int(rg.end, 32 + sizes[0] + sizes[1] + sizes[2],
           "... and holds every entry");

    is_int(range(path, 32, 1, &rg), WALRUS_OK, "a limit of one byte");
    is_int(rg.end, 32 + sizes[0], "... still gives one entry");

    is_int(range(path, 32, sizes[0] + sizes[1], &rg), WALRUS_OK,
           "a limit of two entries exactly");
    is_int(rg.end, 32 + sizes[0] + sizes[1], "... gives two");

    is_int(range(path, 32, sizes[0] + sizes[1] - 1, &rg), WALRUS_OK,
           "a byte less");
    is_int(rg.end, 32 + sizes[0], "... gives one");

    next = 32 + sizes[0];
    is_int(range(path, next, 1 << 20, &rg), WALRUS_OK,
           "a range from the second entry");
    is_int(rg.end, 32 + sizes[0] + sizes[1] + sizes[2], "... to the end");

    next = rg.end;
    is_int(range(path, next, 1 << 20, &rg), WALRUS_OK, "a range at the end");
    ok(rg.start == next && rg.end == next, "... is empty");

    /* bad cursors */

    is_int(range(path, 0, 1 << 20, &rg), WALRUS_ECURSOR,
           "cursor 0 is refused");
    is_int(range(path, 31, 1 << 20, &rg), WALRUS_ECURSOR, "... and 31");
    is_int(range(path, 33, 1 << 20, &rg), WALRUS_ECURSOR,
           "... and 33, inside the first entry");
    is_int(range(path, 32 + 4, 1 << 20, &rg), WALRUS_ECURSOR,
           "... and the first entry's body");
    is_int(range(path, 32 + sizes[0] - 8, 1 << 20, &rg), WALRUS_ECURSOR,
           "... and its check");
    is_int(range(path, next + 1, 1 << 20, &rg), WALRUS_ECURSOR,
           "... and one byte past the end");

    is_int(walrus_record_range(-1, 32, 1, &rg), WALRUS_EIO,
           "a bad descriptor: EIO");
}


static void
test_torn_tail(void)
{
    char                   path[WALRUS_PATH_MAX];
    off_t                  good, size;
    unsigned               seeds[16];
    walrus_record_range_t  rg;
    uint8_t                entry[WALRUS_RECORD_ENTRY_MAX];
    uint8_t                cert[200];

    PATH(path, "%s/certified.log", base);

    good = file_size(path);

    /* an append killed half way: the first 100 bytes of an entry */

    fake_cert(cert, sizeof(cert), 99);
    walrus_record_entry_make(NULL, entry, cert, sizeof(cert), NULL, 0);
    add_bytes(path, entry, 100);

    is_int(range(path, good, 1 << 20, &rg), WALRUS_OK,
           "a range at a torn tail");
    is_int(rg.end, good, "... is empty: the end for now");
    is_int(range(path, 32, 1 << 20, &rg), WALRUS_OK, "a range from 32");
    is_int(rg.end, good, "... stops before the torn tail");
    is_int(walk(path, NULL, 0), -1, "the file has a torn tail");

    is_int(append_seed(path, 20, 105), WALRUS_OK, "an append after it");
    is_int(walk(path, seeds, 16), 4, "... cut it off: four entries");
    is_int(seeds[3], 20, "... the new one last");
    is_int(file_size(path),
           good + (off_t) walrus_record_entry_size(105, 162),
           "... right after the good ones");

    /* garbage after the end this process knows */

    good = file_size(path);
    add_bytes(path, "\0\0\0\0\0\0\0\0\0\0", 10);
    is_int(append_seed(path, 21, 105), WALRUS_OK,
           "an append after ten zero bytes");
    is_int(walk(path, seeds, 16), 5, "... cut them off");

    /* cut inside the last entry by hand: shorter than what is known */

    size = file_size(path);
    cut(path, size - 20);
    is_int(append_seed(path, 22, 105), WALRUS_OK,
           "an append after the file was cut inside its last entry");
    is_int(walk(path, seeds, 16), 5, "... replaces that entry");
    is_int(seeds[4], 22, "... by the new one");
}


/*
 * Another process appends after the file was cut by hand, past the end
 * this process knows: that end is no entry start any more, and its
 * check tells.
 */
static void
test_stale_end(void)
{
    int       status;
    char      path[WALRUS_PATH_MAX];
    pid_t     pid;
    unsigned  seeds[16];
    int       before;

    PATH(path, "%s/certified.log", base);

    before = walk(path, NULL, 0);
    cut(path, file_size(path) - 30);

    pid = fork();
    if (pid == 0) {
        /* what it inherited is stale too: it checks from the start */
        int  rc = append_seed(path, 30, 39 + 66 * 200);
        rc |= append_seed(path, 31, 39 + 66 * 200);
        _exit(rc == WALRUS_OK ? 0 : 1);
    }

    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
       "another process appends two large entries after a cut");

    is_int(append_seed(path, 32, 105), WALRUS_OK,
           "this process appends after them");
    is_int(walk(path, seeds, 16), before + 2, "... every entry parses");
    ok(seeds[before - 1] == 30 && seeds[before] == 31
       && seeds[before + 1] == 32, "... in order, the cut one replaced");
}


static void
test_concurrent(void)
{
    int       i, k, n, status, done, counts[2];
    char      dir[WALRUS_PATH_MAX], path[WALRUS_PATH_MAX];
    pid_t     pids[2];
    unsigned  seeds[2 * TEST_ROUNDS + 2];

    PATH(dir, "%s/two", base);
    PATH(path, "%s/certified.log", dir);

    if (mkdir(dir, 0755) != 0) {
        printf("Bail out! cannot create %s\n", dir);
        exit(2);
    }

    /* both may find no record and create it at once */

    for (k = 0; k < 2; k++) {
        pids[k] = fork();

        if (pids[k] == 0) {
            for (i = 0; i < TEST_ROUNDS; i++) {
                if (append_seed(path, 100 + k, 39 + 66 * (i % 7 + 1))
                    != WALRUS_OK)
                {
                    _exit(1);
                }
            }

            _exit(0);
        }
    }

    done = 0;

    for (k = 0; k < 2; k++) {
        waitpid(pids[k], &status, 0);
        done += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }

    is_int(done, 2, "two processes append %d entries each at once",
           TEST_ROUNDS);

    n = walk(path, seeds, 2 * TEST_ROUNDS + 2);
    is_int(n, 2 * TEST_ROUNDS, "... all of them land, whole");

    counts[0] = counts[1] = 0;

    for (i = 0; i < n && i < 2 * TEST_ROUNDS; i++) {
        if (seeds[i] == 100 || seeds[i] == 101) {
            counts[seeds[i] - 100]++;
        }
    }

    ok(counts[0] == TEST_ROUNDS && counts[1] == TEST_ROUNDS,
       "... %d of each", TEST_ROUNDS);
    is_int(count_tmp(dir), 0, "... and no temporary file is left");
}


static void
test_identity(void)
{
    char                   path[WALRUS_PATH_MAX], other[WALRUS_PATH_MAX];
    walrus_record_range_t  a, b;

    PATH(path, "%s/certified.log", base);
    PATH(other, "%s/two/certified.log", base);

    is_int(range(path, 32, 1, &a), WALRUS_OK, "the first record");
    is_int(range(other, 32, 1, &b), WALRUS_OK, "the second record");
    ok(memcmp(a.id, b.id, WALRUS_RECORD_ID_LEN) != 0,
       "... two records have two identities");

    unlink(other);
    is_int(append_seed(other, 1, 105), WALRUS_OK,
           "a record removed (a wiped store) is made again");
    is_int(range(other, 32, 1, &a), WALRUS_OK, "... read");
    ok(memcmp(a.id, b.id, WALRUS_RECORD_ID_LEN) != 0,
       "... with a new identity");
    is_int(walk(other, NULL, 0), 1, "... and one entry");

    /* a file that is no record */

    put_text(other, "not a record at all, but long enough for a header");
    is_int(append_seed(other, 1, 105), WALRUS_EFORMAT,
           "appending to another file: EFORMAT");
    is_int(range(other, 32, 1, &a), WALRUS_EFORMAT,
           "... and reading it");
    put_text(other, "short");
    is_int(range(other, 32, 1, &a), WALRUS_EFORMAT,
           "... or a file shorter than a header");

    PATH(other, "%s/none/certified.log", base);
    errno = 0;
    is_int(append_seed(other, 1, 105), WALRUS_EIO,
           "a record in a missing directory: EIO");
    is_int(errno, ENOENT, "... ENOENT");
}


/*
 * Nodes 0..3 with shard i each and keys[4] the publisher: what
 * walrus_cert_verify and walrus_registration_verify read of a committee.
 */
static void
make_committee(walrus_committee_t *c, walrus_node_t *nodes,
    unsigned *shards, walrus_publisher_t *pub)
{
    unsigned  i;

    memset(c, 0, sizeof(walrus_committee_t));
    memset(nodes, 0, TEST_NODES * sizeof(walrus_node_t));
    memset(pub, 0, sizeof(walrus_publisher_t));

    c->epoch = TEST_EPOCH;
    walrus_params_init(&c->params, TEST_NODES);
    c->nnodes = TEST_NODES;
    c->nodes = nodes;

    for (i = 0; i < TEST_NODES; i++) {
        shards[i] = i;
        nodes[i].shards = &shards[i];
        nodes[i].nshards = 1;
        nodes[i].public_key = keys[i];
        c->shard_owner[i] = (uint8_t) i;
    }

    pub->public_key = keys[TEST_NODES];
    walrus_key_raw_public(pub->public_key, pub->raw_key);
    c->npublishers = 1;
    c->publishers = pub;
}


/* the certificate of id signed by nodes 0..signers-1 */
static size_t
make_cert(uint8_t *out, const uint8_t *id, unsigned signers)
{
    unsigned       i;
    uint8_t        sig[WALRUS_SIG_LEN];
    walrus_cert_t  cert;

    walrus_cert_init(&cert, TEST_EPOCH, id);

    for (i = 0; i < signers; i++) {
        walrus_confirmation_sign(keys[i], TEST_EPOCH, id, sig);
        walrus_cert_add(&cert, (uint16_t) i, sig);
    }

    walrus_cert_serialize(&cert, out);

    return walrus_cert_size(&cert);
}


static void
make_reg(uint8_t *out, const uint8_t *id, EVP_PKEY *key)
{
    walrus_registration_t  reg;

    memset(&reg, 0, sizeof(reg));
    reg.epoch = TEST_EPOCH;
    memcpy(reg.blob_id, id, WALRUS_BLOB_ID_LEN);
    reg.length = 1000;
    reg.end_epoch = TEST_EPOCH + 2;
    reg.deletable = 1;

    walrus_registration_sign(&reg, key);
    walrus_registration_serialize(&reg, out);
}


/* the verdict on the entry of these bytes */
static int
verify(const walrus_committee_t *c, const uint8_t *cert, size_t cert_len,
    const uint8_t *reg, size_t reg_len, uint8_t *id)
{
    int                    rc;
    uint8_t                buf[WALRUS_RECORD_ENTRY_MAX];
    walrus_record_entry_t  e;

    rc = walrus_record_entry_make(NULL, buf, cert, cert_len, reg, reg_len);

    if (rc == WALRUS_OK) {
        rc = walrus_record_entry_parse(NULL, &e, buf, sizeof(buf));
    }

    if (rc == WALRUS_OK) {
        rc = walrus_record_entry_verify(c, &e, id);
    }

    return rc;
}


static void
test_verify(void)
{
    size_t              len, len_b, len_few;
    uint8_t             a[WALRUS_BLOB_ID_LEN], b[WALRUS_BLOB_ID_LEN];
    uint8_t             got[WALRUS_BLOB_ID_LEN];
    uint8_t             cert[WALRUS_CERT_MAX_SIZE];
    uint8_t             cert_b[WALRUS_CERT_MAX_SIZE];
    uint8_t             cert_few[WALRUS_CERT_MAX_SIZE];
    uint8_t             reg[WALRUS_REGISTRATION_LEN];
    uint8_t             reg_stranger[WALRUS_REGISTRATION_LEN];
    unsigned            i, shards[TEST_NODES];
    walrus_node_t       nodes[TEST_NODES];
    walrus_committee_t  c;
    walrus_publisher_t  pub;

    make_committee(&c, nodes, shards, &pub);

    for (i = 0; i < WALRUS_BLOB_ID_LEN; i++) {
        a[i] = (uint8_t) (i * 5 + 1);
    }

    memcpy(b, a, sizeof(a));
    b[0] ^= 1;

    len = make_cert(cert, a, TEST_NODES);
    len_b = make_cert(cert_b, b, TEST_NODES);
    len_few = make_cert(cert_few, a, 2);
    make_reg(reg, a, keys[TEST_NODES]);
    make_reg(reg_stranger, a, keys[TEST_NODES + 1]);

    memset(got, 0, sizeof(got));
    is_int(verify(&c, cert, len, reg, sizeof(reg), got), WALRUS_OK,
           "an entry with a certificate and a registration verifies");
    ok(memcmp(got, a, sizeof(a)) == 0, "... and names its blob");

    is_int(verify(&c, cert_b, len_b, reg, sizeof(reg), NULL), WALRUS_EBLOBID,
           "the certificate of another blob than the registration's");

    cert[WALRUS_CERT_HEADER_LEN + 2 + 10] ^= 1;
    is_int(verify(&c, cert, len, reg, sizeof(reg), NULL), WALRUS_ESIGNATURE,
           "a bad signature in the certificate");
    cert[WALRUS_CERT_HEADER_LEN + 2 + 10] ^= 1;

    reg[100] ^= 1;
    is_int(verify(&c, cert, len, reg, sizeof(reg), NULL), WALRUS_ESIGNATURE,
           "a bad signature in the registration");
    reg[100] ^= 1;

    is_int(verify(&c, cert, len, NULL, 0, NULL), WALRUS_EUNREGISTERED,
           "no registration");
    is_int(verify(&c, cert, len, reg_stranger, sizeof(reg), NULL),
           WALRUS_EPUBLISHER, "a registration by no publisher");
    is_int(verify(&c, cert_few, len_few, reg, sizeof(reg), NULL),
           WALRUS_EQUORUM, "a certificate of two signers of four");

    cert[0] = 2;
    is_int(verify(&c, cert, len, reg, sizeof(reg), NULL), WALRUS_EFORMAT,
           "a certificate that does not parse");
    cert[0] = 1;

    c.epoch = TEST_EPOCH + 2;
    is_int(verify(&c, cert, len, reg, sizeof(reg), NULL), WALRUS_EEPOCH,
           "a committee of another epoch");
}


int
main(void)
{
    int          i;
    const char  *tmp;
    char         cmd[WALRUS_PATH_MAX + 16];

    tmp = getenv("TMPDIR");
    PATH(base, "%s/walrus-record-XXXXXX", tmp != NULL ? tmp : "/tmp");

    if (mkdtemp(base) == NULL) {
        perror(base);
        return 2;
    }

    for (i = 0; i < TEST_NODES + 2; i++) {
        if (walrus_key_generate(&keys[i]) != WALRUS_OK) {
            printf("Bail out! key generation failed\n");
            return 1;
        }
    }

    test_entries();
    test_round_trip();
    test_torn_tail();
    test_stale_end();
    test_concurrent();
    test_identity();
    test_verify();

    for (i = 0; i < TEST_NODES + 2; i++) {
        EVP_PKEY_free(keys[i]);
    }

    PATH(cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0) {
        printf("# cannot remove %s\n", base);
    }

    return tap_done();
}
