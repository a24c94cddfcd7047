/*
 * The committee history: a file or a directory of epochs loads, a
 * directory that breaks a rule is refused with its reason, and
 * certificates and registrations are checked against the committee of
 * the epoch they name.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <walrus_cert.h>
#include <walrus_history.h>
#include <walrus_record.h>
#include <walrus_registration.h>
#include <walrus_sign.h>
#include <tap.h>


/* keys 0..6: the first nodes, 7 and 8: new nodes, 9 and 10: publishers */
#define TEST_KEYS     11
#define TEST_SEGMENT  65536
#define TEST_END      (-1)


/* a committee: node i has key nodes[i] and the shards j with j % nnodes */
typedef struct {
    uint32_t   epoch;
    unsigned   n;
    uint32_t   segment_size;
    int        nodes[9];
    int        pubs[3];
} test_epoch_t;


static void test_keys(void);
static char *test_json(const test_epoch_t *e);
static void test_write(const char *dir, const char *name, const char *text,
    size_t len);
static void test_committee(const char *dir, const char *name,
    const test_epoch_t *e);
static char *test_dir(const char *name);
static void test_refused(const char *dir, int want, const char *msg,
    const char *what);
static int test_load(walrus_history_t *h, const char *path,
    const char *what);
static char *test_three(const char *name);
static void test_one_file(void);
static void test_directory(void);
static void test_dirs(void);
static void test_garbage(void);
static void test_bounds(void);
static void test_certificates(void);
static void test_registrations(void);
static int test_sign_reg(walrus_registration_t *reg, uint32_t epoch,
    uint32_t end, int key);
static void test_records(void);
static int test_entry(const walrus_committee_t *c, const walrus_history_t *h,
    const walrus_cert_t *cert, const walrus_registration_t *reg);


static char       test_tmp[] = "/tmp/walrus-test-history-XXXXXX";
static EVP_PKEY  *test_key[TEST_KEYS];
static uint8_t    test_id[WALRUS_BLOB_ID_LEN];


/* n0..n6 in epoch 1; n5 and n6 replaced by n7 and n8 in epoch 2 */

static const test_epoch_t  test_e1 = {
    1, 7, TEST_SEGMENT, { 0, 1, 2, 3, 4, 5, 6, TEST_END }, { 9, TEST_END }
};

static const test_epoch_t  test_e2 = {
    2, 7, TEST_SEGMENT, { 0, 1, 2, 3, 4, 7, 8, TEST_END }, { 10, TEST_END }
};

/* n7 and n8 swap their shards */
static const test_epoch_t  test_e3 = {
    3, 7, TEST_SEGMENT, { 0, 1, 2, 3, 4, 8, 7, TEST_END }, { 10, TEST_END }
};


int
main(void)
{
    int   i;
    char  cmd[128];

    if (mkdtemp(test_tmp) == NULL) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }

    for (i = 0; i < WALRUS_BLOB_ID_LEN; i++) {
        test_id[i] = (uint8_t) (i * 11 + 3);
    }

    test_keys();

    test_one_file();
    test_directory();
    test_dirs();
    test_garbage();
    test_bounds();
    test_certificates();
    test_registrations();
    test_records();

    for (i = 0; i < TEST_KEYS; i++) {
        EVP_PKEY_free(test_key[i]);
    }

    PATH(cmd, "rm -rf '%s'", test_tmp);
    if (system(cmd) != 0) {
        printf("# cannot remove %s\n", test_tmp);
    }

    return tap_done();
}


static void
test_keys(void)
{
    int   i;
    char  path[256];

    PATH(path, "%s/keys", test_tmp);
    mkdir(path, 0700);

    for (i = 0; i < TEST_KEYS; i++) {
        PATH(path, "%s/keys/k%d.pub", test_tmp, i);

        if (walrus_key_generate(&test_key[i]) != WALRUS_OK
            || walrus_key_write_public(test_key[i], path) != WALRUS_OK)
        {
            printf("Bail out! key %d\n", i);
            exit(1);
        }
    }
}


/* key files by absolute path, so that any directory may hold the file */

static char *
test_json(const test_epoch_t *e)
{
    char      *json, *p;
    unsigned   i, j, nnodes;

    json = malloc(16384);
    if (json == NULL) {
        printf("Bail out! out of memory\n");
        exit(1);
    }

    for (nnodes = 0; e->nodes[nnodes] != TEST_END; nnodes++) {
        /* void */
    }

    p = json;
    p += sprintf(p, "{\"epoch\":%u,\"n_shards\":%u,\"segment_size\":%u,"
                 "\"nodes\":[", e->epoch, e->n, e->segment_size);

    for (i = 0; i < nnodes; i++) {
        p += sprintf(p, "%s{\"name\":\"n%d\",\"url\":\"http://127.0.0.1:%d\","
                     "\"public_key_file\":\"%s/keys/k%d.pub\",\"shards\":[",
                     i ? "," : "", e->nodes[i], 9100 + e->nodes[i],
                     test_tmp, e->nodes[i]);

        for (j = i; j < e->n; j += nnodes) {
            p += sprintf(p, "%s%u", j == i ? "" : ",", j);
        }

        p += sprintf(p, "]}");
    }

    p += sprintf(p, "],\"publishers\":[");

    for (i = 0; e->pubs[i] != TEST_END; i++) {
        p += sprintf(p, "%s{\"name\":\"p%d\",\"public_key_file\":"
                     "\"%s/keys/k%d.pub\"}", i ? "," : "", e->pubs[i],
                     test_tmp, e->pubs[i]);
    }

    sprintf(p, "]}");

    return json;
}


static void
test_write(const char *dir, const char *name, const char *text, size_t len)
{
    int   fd;
    char  path[512];

    PATH(path, "%s/%s", dir, name);

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    if (fd == -1 || write(fd, text, len) != (ssize_t) len || close(fd) != 0)
    {
        printf("Bail out! cannot write %s\n", path);
        exit(1);
    }
}


/* e into dir/name; name NULL: "<epoch>.json" */

static void
test_committee(const char *dir, const char *name, const test_epoch_t *e)
{
    char  *json, file[32];

    if (name == NULL) {
        PATH(file, "%u.json", e->epoch);
        name = file;
    }

    json = test_json(e);
    test_write(dir, name, json, strlen(json));
    free(json);
}


/* a new directory in the test's own; free() it */

static char *
test_dir(const char *name)
{
    char  path[256];

    PATH(path, "%s/%s", test_tmp, name);

    if (mkdir(path, 0700) != 0) {
        printf("Bail out! mkdir %s: %s\n", path, strerror(errno));
        exit(1);
    }

    return strdup(path);
}


static void
test_refused(const char *dir, int want, const char *msg, const char *what)
{
    int               rc;
    char              err[1024];
    walrus_history_t  h;

    rc = walrus_history_load(&h, dir, err, sizeof(err));

    is_int(rc, want, "%s: refused", what);

    if (!tap_ok(strstr(err, msg) != NULL, __FILE__, __LINE__,
                "... and says why"))
    {
        printf("#   got \"%s\", want \"%s\" in it\n", err, msg);
    }

    ok(h.committees == NULL && h.count == 0, "... and keeps nothing");

    walrus_history_free(&h);
}


/* a history that loads: 1 (and h holds it), or 0 and h holds nothing */

static int
test_load(walrus_history_t *h, const char *path, const char *what)
{
    int   rc;
    char  err[1024];

    rc = walrus_history_load(h, path, err, sizeof(err));

    if (!tap_ok(rc == WALRUS_OK, __FILE__, __LINE__, what)) {
        printf("#   %s\n", err);
        return 0;
    }

    return 1;
}


/* the directory name in the test's own with epochs 1 to 3; free() it */

static char *
test_three(const char *name)
{
    char  *dir;

    dir = test_dir(name);

    test_committee(dir, NULL, &test_e1);
    test_committee(dir, NULL, &test_e2);
    test_committee(dir, NULL, &test_e3);

    return dir;
}


static void
test_one_file(void)
{
    char                       path[256];
    test_epoch_t               e;
    walrus_history_t           h;
    walrus_committee_t         c;
    const walrus_committee_t  *cur;

    e = test_e1;
    e.epoch = 5;
    test_committee(test_tmp, "committee.json", &e);
    PATH(path, "%s/committee.json", test_tmp);

    if (!test_load(&h, path, "a committee file is a history")) {
        return;
    }

    is_int(h.count, 1, "... of one epoch");
    ok(h.first == 5 && h.current == 5, "... its own: 5");

    cur = walrus_history_current(&h);
    ok(cur != NULL && cur == walrus_history_committee(&h, 5)
       && cur->epoch == 5 && cur->nnodes == 7,
       "... whose committee is the current one");
    ok(walrus_history_committee(&h, 4) == NULL
       && walrus_history_committee(&h, 6) == NULL,
       "... and no other epoch is held");

    walrus_history_take_current(&h, &c);
    ok(h.committees == NULL && h.count == 0, "take_current empties it");
    ok(c.epoch == 5 && c.nnodes == 7 && c.nodes[6].public_key != NULL,
       "... and gives the current committee");
    walrus_committee_free(&c);

    PATH(path, "%s/none.json", test_tmp);
    test_refused(path, WALRUS_EIO, "none.json: cannot read",
                 "a missing path");
}


static void
test_directory(void)
{
    char                      *dir, path[256];
    walrus_history_t           h;
    const walrus_committee_t  *c;

    dir = test_three("three");

    /* not committee files: a note, a folder, an atomic writer's file */
    test_write(dir, "README", "epochs\n", 7);
    test_write(dir, ".tmp.4.json.123.0", "garbage", 7);
    test_write(dir, ".4.json", "garbage", 7);
    PATH(path, "%s/keys", dir);
    mkdir(path, 0700);

    if (!test_load(&h, dir, "a directory of epochs 1 to 3 loads")) {
        free(dir);
        return;
    }

    ok(h.first == 1 && h.current == 3 && h.count == 3,
       "... first 1, current 3");

    c = walrus_history_committee(&h, 2);
    ok(c != NULL && c->epoch == 2 && strcmp(c->nodes[5].name, "n7") == 0
       && strcmp(c->nodes[6].name, "n8") == 0,
       "... epoch 2 has the new nodes n7 and n8");

    c = walrus_history_committee(&h, 1);
    ok(c != NULL && c->epoch == 1 && strcmp(c->nodes[5].name, "n5") == 0
       && EVP_PKEY_eq(c->nodes[5].public_key, test_key[5]) == 1,
       "... epoch 1 keeps n5 and its key");

    c = walrus_history_current(&h);
    ok(c != NULL && c->epoch == 3 && c->shard_owner[5] == 5
       && strcmp(c->nodes[5].name, "n8") == 0,
       "... the current is epoch 3, shard 5 with n8");

    ok(walrus_history_committee(&h, 0) == NULL
       && walrus_history_committee(&h, 4) == NULL,
       "... epochs 0 and 4 are not held");

    walrus_history_free(&h);

    PATH(path, "%s//", dir);
    test_load(&h, path, "trailing slashes are the same directory");
    walrus_history_free(&h);

    /* the history may start after epoch 0 */
    PATH(path, "%s/1.json", dir);
    unlink(path);

    if (test_load(&h, dir, "epochs 2 and 3 alone load")) {
        ok(h.first == 2 && h.current == 3, "... first 2, current 3");
        walrus_history_free(&h);
    }

    free(dir);
}


/*
 * Directories of committees: each of files[] as <epoch>.json, the last
 * under name instead when there is one.
 */

typedef struct {
    const test_epoch_t  *files[4];
    const char          *name;
    int                  want;
    const char          *msg;
    const char          *what;
} test_dir_case_t;


static const test_epoch_t  test_e2_n10 = {
    2, 10, TEST_SEGMENT, { 0, 1, 2, 3, 4, 7, 8, TEST_END }, { 10, TEST_END }
};

static const test_epoch_t  test_e3_segment = {
    3, 7, 2 * TEST_SEGMENT, { 0, 1, 2, 3, 4, 8, 7, TEST_END },
    { 10, TEST_END }
};

/* what may change: the nodes, their number and shards, the publishers */
static const test_epoch_t  test_e2_small = {
    2, 7, TEST_SEGMENT, { 0, 1, 7, 8, TEST_END }, { TEST_END }
};

static const test_epoch_t  test_e_last = {
    UINT32_MAX, 7, TEST_SEGMENT, { 0, 1, 2, 3, 4, 5, 6, TEST_END },
    { 9, TEST_END }
};

#define TEST_NAME(bad)                                                       \
    { { &test_e1, &test_e1 }, bad, WALRUS_EFORMAT,                           \
      bad ": not a committee file name", "epoch 1 again as " bad }

static const test_dir_case_t  test_dir_cases[] = {
    { { &test_e1, &test_e3 }, NULL, WALRUS_EFORMAT,
      "no file for epoch 2 between 1.json and 3.json", "a missing epoch" },
    { { &test_e1, &test_e3 }, "2.json", WALRUS_EFORMAT,
      "2.json: epoch 3 in a file named for epoch 2",
      "an epoch field that is not the file's name" },
    { { &test_e1, &test_e2_n10 }, NULL, WALRUS_EFORMAT,
      "2.json: n_shards is 10, it was 7 in epoch 1", "another n_shards" },
    { { &test_e1, &test_e2, &test_e3_segment }, NULL, WALRUS_EFORMAT,
      "3.json: segment_size is 131072, it was 65536 in epoch 1",
      "another segment_size" },
    { { &test_e1, &test_e2_small }, NULL, WALRUS_OK, NULL,
      "four other nodes and no publishers after seven and one" },
    { { &test_e_last }, NULL, WALRUS_OK, NULL, "4294967295.json" },
    { { NULL }, NULL, WALRUS_EFORMAT, "no committee file",
      "a directory without committee files" },
    TEST_NAME("01.json"),
    TEST_NAME("committee.json"),
    TEST_NAME("2.5.json"),
    TEST_NAME("-1.json"),
    TEST_NAME("4294967296.json"),
    TEST_NAME("99999999999.json"),
    TEST_NAME("2.JSON.json"),
    TEST_NAME(" 2.json")
};


static void
test_dirs(void)
{
    char                   *dir, name[32];
    unsigned                i, k;
    walrus_history_t        h;
    const test_dir_case_t  *t;

    for (i = 0; i < sizeof(test_dir_cases) / sizeof(test_dir_cases[0]); i++)
    {
        t = &test_dir_cases[i];

        PATH(name, "case%u", i);
        dir = test_dir(name);
        test_write(dir, "notes.txt", "not a committee\n", 16);

        for (k = 0; t->files[k] != NULL; k++) {
            test_committee(dir, t->files[k + 1] == NULL ? t->name : NULL,
                           t->files[k]);
        }

        if (t->want == WALRUS_OK) {
            test_load(&h, dir, t->what);
            walrus_history_free(&h);

        } else {
            test_refused(dir, t->want, t->msg, t->what);
        }

        free(dir);
    }
}


static void
test_garbage(void)
{
    char  *dir, *sub;

    dir = test_dir("garbage");
    test_committee(dir, NULL, &test_e1);
    test_write(dir, "2.json", "{\"epoch\":2,", 11);
    test_committee(dir, NULL, &test_e3);

    test_refused(dir, WALRUS_EFORMAT, "2.json: line 1", "a cut JSON file");
    free(dir);

    dir = test_dir("folder");
    test_committee(dir, NULL, &test_e1);
    sub = test_dir("folder/2.json");

    test_refused(dir, WALRUS_EIO, "2.json: cannot read: not a regular file",
                 "a folder named 2.json");
    free(sub);
    free(dir);
}


static void
test_bounds(void)
{
    int                fd;
    char              *dir, path[256];
    unsigned           i;
    test_epoch_t       e;
    walrus_history_t   h;

    /* oversized: sparse, so that they cost no disk */

    dir = test_dir("big");
    test_committee(dir, NULL, &test_e1);
    PATH(path, "%s/2.json", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ok(fd != -1 && ftruncate(fd, WALRUS_MAX_COMMITTEE_FILE + 1) == 0,
       "a sparse file of 4 MiB and a byte");
    close(fd);

    test_refused(dir, WALRUS_EFORMAT, "2.json: larger than 4194304 bytes",
                 "an oversized committee file");
    free(dir);

    dir = test_dir("bytes");

    for (i = 0; i < WALRUS_HISTORY_MAX_BYTES / WALRUS_MAX_COMMITTEE_FILE + 1;
         i++)
    {
        PATH(path, "%s/%u.json", dir, i);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd == -1 || ftruncate(fd, WALRUS_MAX_COMMITTEE_FILE) != 0) {
            ok(0, "sparse file %u", i);
        }

        close(fd);
    }

    test_refused(dir, WALRUS_EFORMAT, "larger than 67108864 bytes in all",
                 "files of 64 MiB and more in all");
    free(dir);

    /* as many epochs as allowed load; one more is refused unread */

    dir = test_dir("many");
    e = test_e1;

    for (i = 0; i < WALRUS_HISTORY_MAX_EPOCHS; i++) {
        e.epoch = i + 100;
        test_committee(dir, NULL, &e);
    }

    test_load(&h, dir, "1024 epochs load");
    walrus_history_free(&h);

    test_write(dir, "1124.json", "", 0);
    test_refused(dir, WALRUS_EFORMAT, "more than 1024 committee files",
                 "1025 files");

    free(dir);
}


/* node idx[i] signs with keys[i]; alone: the file of epoch 3 only */

typedef struct {
    uint32_t     epoch;
    const int   *keys;
    unsigned     count;
    int          alone;
    int          want;
    const char  *what;
} test_cert_case_t;


/* nodes 0, 1, 2, 5, 6: five of seven, n5 and n6 gone after epoch 1 */

static const unsigned  test_idx[] = { 0, 1, 2, 5, 6 };
static const int       test_old[] = { 0, 1, 2, 5, 6 };
static const int       test_new[] = { 0, 1, 2, 7, 8 };
static const int       test_moved[] = { 0, 1, 2, 8, 7 };

static void test_cert(walrus_cert_t *cert, const test_cert_case_t *t);


static const test_cert_case_t  test_cert_cases[] = {
    { 1, test_old, 5, 0, WALRUS_OK,
      "a certificate of epoch 1 by n5 and n6 holds in epoch 3" },
    { 1, test_old, 4, 0, WALRUS_EQUORUM,
      "four signers of epoch 1 are below the quorum" },
    { 1, test_new, 5, 0, WALRUS_ESIGNATURE,
      "the new nodes' signatures naming epoch 1 do not hold" },
    { 2, test_new, 5, 0, WALRUS_OK, "... naming epoch 2 they do" },
    { 3, test_new, 5, 0, WALRUS_ESIGNATURE,
      "epoch 3 with the shards of epoch 2 does not hold" },
    { 3, test_moved, 5, 0, WALRUS_OK, "... with those of epoch 3 it does" },
    { 4, test_moved, 5, 0, WALRUS_ENOEPOCH,
      "a certificate of epoch 4 is ENOEPOCH" },
    { 0, test_old, 5, 0, WALRUS_ENOEPOCH,
      "a certificate of epoch 0 is ENOEPOCH" },
    { 1, test_old, 5, 1, WALRUS_ENOEPOCH,
      "the file of epoch 3 alone has no epoch 1" },
    { 3, test_moved, 5, 1, WALRUS_OK,
      "... and holds certificates of epoch 3" }
};


static void
test_certificates(void)
{
    char                     *dir, path[256];
    unsigned                  i;
    walrus_cert_t             cert;
    walrus_history_t          h[2];
    const test_cert_case_t   *t;

    memset(h, 0, sizeof(h));

    dir = test_three("certs");
    PATH(path, "%s/3.json", dir);

    if (!test_load(&h[0], dir, "history of epochs 1 to 3")
        || !test_load(&h[1], path, "history of epoch 3"))
    {
        goto done;
    }

    for (i = 0; i < sizeof(test_cert_cases) / sizeof(test_cert_cases[0]);
         i++)
    {
        t = &test_cert_cases[i];
        test_cert(&cert, t);

        is_int(walrus_cert_verify_history(&h[t->alone], &cert, test_id),
               t->want, "%s", t->what);
    }

    test_cert(&cert, &test_cert_cases[0]);

    is_int(walrus_cert_verify_history(&h[0], &cert, NULL), WALRUS_OK,
           "epoch 1's holds without a blob ID");
    is_int(walrus_cert_verify(walrus_history_current(&h[0]), &cert, test_id),
           WALRUS_EEPOCH, "... the current committee alone refuses it");

    cert.blob_id[0] ^= 1;
    is_int(walrus_cert_verify_history(&h[0], &cert, test_id),
           WALRUS_EBLOBID, "another blob is EBLOBID");

    cert.epoch = 9;
    is_int(walrus_cert_verify_history(&h[0], &cert, test_id),
           WALRUS_EBLOBID, "... before ENOEPOCH");

done:

    walrus_history_free(&h[0]);
    walrus_history_free(&h[1]);
    free(dir);
}


static void
test_cert(walrus_cert_t *cert, const test_cert_case_t *t)
{
    unsigned  k;
    uint8_t   sig[WALRUS_SIG_LEN];

    walrus_cert_init(cert, t->epoch, test_id);

    for (k = 0; k < t->count; k++) {
        walrus_confirmation_sign(test_key[t->keys[k]], t->epoch, test_id,
                                 sig);
        walrus_cert_add(cert, (uint16_t) test_idx[k], sig);
    }
}


/* key: p9 is a publisher of epoch 1 only, p10 from epoch 2 */

typedef struct {
    uint32_t     epoch;
    uint32_t     end;
    int          key;
    int          want;
    const char  *what;
} test_reg_case_t;


static const test_reg_case_t  test_reg_cases[] = {
    { 1, 5, 9, WALRUS_OK,
      "a registration of epoch 1 by p9 is in force in epoch 3" },
    { 2, 5, 9, WALRUS_EPUBLISHER, "p9 naming epoch 2 is no publisher's" },
    { 2, 5, 10, WALRUS_OK, "p10 naming epoch 2 is" },
    { 1, 5, 10, WALRUS_EPUBLISHER, "p10 naming epoch 1 is not" },
    { 1, 3, 9, WALRUS_EEPOCH, "ended at epoch 3: EEPOCH in epoch 3" },
    { 4, 6, 10, WALRUS_EEPOCH, "made in epoch 4: not yet in force" }
};


static void
test_registrations(void)
{
    char                   *dir, path[256];
    unsigned                i;
    walrus_history_t        h;
    walrus_registration_t   reg;
    const test_reg_case_t  *t;

    dir = test_three("regs");

    if (!test_load(&h, dir, "history of epochs 1 to 3 for registrations")) {
        free(dir);
        return;
    }

    for (i = 0; i < sizeof(test_reg_cases) / sizeof(test_reg_cases[0]); i++)
    {
        t = &test_reg_cases[i];
        test_sign_reg(&reg, t->epoch, t->end, t->key);

        is_int(walrus_registration_verify_history(&h, &reg, test_id),
               t->want, "%s", t->what);
    }

    test_sign_reg(&reg, 1, 5, 9);
    is_int(walrus_registration_verify(walrus_history_current(&h), &reg,
                                      test_id), WALRUS_EPUBLISHER,
           "p9 is no publisher of the current committee");

    /* genuine whatever epoch it is in force in: an expiry can be shown */

    test_sign_reg(&reg, 1, 3, 9);
    is_int(walrus_registration_verify_signed(&h, &reg, test_id), WALRUS_OK,
           "expired in epoch 3, p9's of epoch 1 verifies as signed");
    ok(walrus_registration_expired(&reg, 3), "... and is expired in 3");
    ok(!walrus_registration_expired(&reg, 2), "... not in 2");

    test_sign_reg(&reg, 1, 2, 10);
    is_int(walrus_registration_verify_signed(&h, &reg, test_id),
           WALRUS_EPUBLISHER, "p10 naming epoch 1 is not signed by one of "
           "its publishers");

    test_sign_reg(&reg, 2, 2, 10);
    is_int(walrus_registration_verify_signed(&h, &reg, test_id),
           WALRUS_EEPOCH, "an end epoch not after its epoch is EEPOCH");

    test_sign_reg(&reg, 4, 6, 10);
    is_int(walrus_registration_verify_signed(&h, &reg, test_id),
           WALRUS_ENOEPOCH, "made in epoch 4, after the history: ENOEPOCH");

    test_sign_reg(&reg, 2, 3, 10);
    reg.signature[0] ^= 1;
    is_int(walrus_registration_verify_signed(&h, &reg, test_id),
           WALRUS_ESIGNATURE, "a bad signature on an expired one is "
           "ESIGNATURE");

    test_sign_reg(&reg, 2, 3, 10);
    reg.blob_id[5] ^= 1;
    is_int(walrus_registration_verify_signed(&h, &reg, test_id),
           WALRUS_EBLOBID, "for another blob: EBLOBID");

    test_sign_reg(&reg, 1, 5, 9);

    reg.signature[3] ^= 1;
    is_int(walrus_registration_verify_history(&h, &reg, test_id),
           WALRUS_ESIGNATURE, "a bad signature is ESIGNATURE");

    test_sign_reg(&reg, 1, 5, 9);
    reg.blob_id[0] ^= 1;
    is_int(walrus_registration_verify_history(&h, &reg, test_id),
           WALRUS_EBLOBID, "another blob is EBLOBID");

    walrus_history_free(&h);

    PATH(path, "%s/1.json", dir);
    unlink(path);

    if (test_load(&h, dir, "history of epochs 2 and 3")) {
        test_sign_reg(&reg, 1, 5, 9);
        is_int(walrus_registration_verify_history(&h, &reg, test_id),
               WALRUS_ENOEPOCH, "... has no epoch 1 to check p9's with");

        walrus_history_free(&h);
    }

    free(dir);
}


static int
test_sign_reg(walrus_registration_t *reg, uint32_t epoch, uint32_t end,
    int key)
{
    memset(reg, 0, sizeof(walrus_registration_t));

    reg->epoch = epoch;
    reg->end_epoch = end;
    reg->length = 1000;
    reg->deletable = 1;
    memcpy(reg->blob_id, test_id, WALRUS_BLOB_ID_LEN);

    return walrus_registration_sign(reg, test_key[key]);
}


/* a record entry of epoch 1's certificate and p9's registration */

static void
test_records(void)
{
    char                   *dir;
    walrus_cert_t           cert;
    walrus_history_t        h;
    walrus_registration_t   reg;

    static const test_cert_case_t  epoch4 = {
        4, test_moved, 5, 0, WALRUS_ENOEPOCH, "epoch 4"
    };

    dir = test_three("records");

    if (!test_load(&h, dir, "history of epochs 1 to 3 for record entries")) {
        free(dir);
        return;
    }

    test_cert(&cert, &test_cert_cases[0]);
    test_sign_reg(&reg, 1, 5, 9);

    is_int(test_entry(NULL, &h, &cert, &reg), WALRUS_OK,
           "a record entry of epoch 1 holds in epoch 3");
    is_int(test_entry(walrus_history_current(&h), NULL, &cert, &reg),
           WALRUS_EEPOCH, "... not against the current committee alone");
    is_int(test_entry(walrus_history_committee(&h, 1), NULL, &cert, &reg),
           WALRUS_OK, "... but against epoch 1's");

    test_sign_reg(&reg, 1, 3, 9);
    is_int(test_entry(NULL, &h, &cert, &reg), WALRUS_EEPOCH,
           "... not with a registration that ended at epoch 3");

    test_cert(&cert, &epoch4);
    test_sign_reg(&reg, 2, 5, 10);
    is_int(test_entry(NULL, &h, &cert, &reg), WALRUS_ENOEPOCH,
           "a certificate of epoch 4 is ENOEPOCH");

    walrus_history_free(&h);
    free(dir);
}


/* the entry made of cert and reg, checked against c, else h */

static int
test_entry(const walrus_committee_t *c, const walrus_history_t *h,
    const walrus_cert_t *cert, const walrus_registration_t *reg)
{
    int                    rc;
    uint8_t                wire[WALRUS_CERT_MAX_SIZE];
    uint8_t                bytes[WALRUS_REGISTRATION_LEN];
    uint8_t                buf[WALRUS_RECORD_ENTRY_MAX];
    walrus_record_entry_t  e;

    walrus_cert_serialize(cert, wire);
    walrus_registration_serialize(reg, bytes);

    rc = walrus_record_entry_make(NULL, buf, wire, walrus_cert_size(cert),
                                  bytes, sizeof(bytes));

    if (rc == WALRUS_OK) {
        rc = walrus_record_entry_parse(NULL, &e, buf, sizeof(buf));
    }

    if (rc == WALRUS_OK) {
        rc = (c != NULL) ? walrus_record_entry_verify(c, &e, NULL)
                         : walrus_record_entry_verify_history(h, &e, NULL);
    }

    return rc;
}
