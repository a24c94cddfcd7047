/*
 * Blob lifetime on a node (include/walrus_lifetime.h): reading the
 * stored registration, expiry by epoch, and reclaiming a blob directory
 * down to its tombstone, again and again.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <walrus_lifetime.h>
#include <walrus_store.h>
#include <tap.h>


static void test_put(const char *dir, const char *name, const char *text);
static int test_exists(const char *dir, const char *name);
static void test_registration(const char *dir, uint32_t epoch,
    uint32_t end);


static char  test_tmp[] = "/tmp/walrus-test-lifetime-XXXXXX";


int
main(void)
{
    char                   dir[WALRUS_PATH_MAX], cmd[WALRUS_PATH_MAX + 16];
    char                   other[WALRUS_PATH_MAX];
    uint8_t                raw[WALRUS_REGISTRATION_LEN];
    unsigned               removed;
    walrus_record_entry_t  e;
    walrus_registration_t  reg;

    if (mkdtemp(test_tmp) == NULL) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }

    snprintf(dir, sizeof(dir), "%s/blob", test_tmp);

    /* no directory, no registration */

    is_int(walrus_lifetime_expired(dir, 5, NULL), 0,
           "no blob directory: not expired");
    is_int(walrus_lifetime_reclaim(dir, &removed), 0,
           "reclaiming a directory that is gone is no error");
    is_int(removed, 0, "... and removes nothing");

    is_int(walrus_store_mkdir(dir), 0, "blob directory made");

    is_int(walrus_lifetime_read(dir, &reg), WALRUS_EIO,
           "no registration: EIO");
    is_int(errno, ENOENT, "... with ENOENT");
    is_int(walrus_lifetime_expired(dir, 5, NULL), 0,
           "no registration: not expired");

    /* a registration of epoch 1 for 2 epochs: in force in 1 and 2 */

    test_registration(dir, 1, 3);

    is_int(walrus_lifetime_read(dir, &reg), WALRUS_OK, "registration read");
    is_int(reg.end_epoch, 3, "... its end epoch");
    is_int(walrus_lifetime_expired(dir, 1, NULL), 0, "in force in epoch 1");
    is_int(walrus_lifetime_expired(dir, 2, NULL), 0, "in force in epoch 2");
    is_int(walrus_lifetime_expired(dir, 3, &reg), 1, "expired in epoch 3");
    is_int(walrus_lifetime_expired(dir, 4, NULL), 1, "expired in epoch 4");

    /* reclaiming keeps the tombstone and the record's mark only */

    test_put(dir, "metadata", "m");
    test_put(dir, "certificate", "c");
    test_put(dir, "0.primary", "p");
    test_put(dir, "0.secondary", "s");
    test_put(dir, "3.primary.bad", "b");
    test_put(dir, "inconsistency", "i");
    test_put(dir, ".metadata.1234.tmp", "t");
    test_put(dir, "recorded", "r");

    is_int(walrus_lifetime_reclaim(dir, &removed), 0, "reclaimed");
    is_int(removed, 7, "... seven files removed");
    ok(test_exists(dir, "registration"), "... the registration stays");
    ok(test_exists(dir, "recorded"), "... the record's mark stays");
    ok(!test_exists(dir, "metadata") && !test_exists(dir, "certificate")
       && !test_exists(dir, "0.primary") && !test_exists(dir, "0.secondary")
       && !test_exists(dir, "3.primary.bad")
       && !test_exists(dir, "inconsistency")
       && !test_exists(dir, ".metadata.1234.tmp"),
       "... every other file is gone");
    is_int(walrus_lifetime_expired(dir, 3, NULL), 1,
           "the tombstone still says expired");

    /* a second pass (after a crash, say) finds nothing to do */

    is_int(walrus_lifetime_reclaim(dir, &removed), 0, "reclaimed again");
    is_int(removed, 0, "... nothing left to remove");

    /* a file that reappears (a writer's rename raced the pass) goes too */

    test_put(dir, "1.primary", "p");
    is_int(walrus_lifetime_reclaim(dir, &removed), 0, "a third pass");
    is_int(removed, 1, "... removes the file that came back");

    /* an extension brings the blob back */

    test_registration(dir, 2, 6);
    is_int(walrus_lifetime_expired(dir, 4, NULL), 0,
           "extended to epoch 6: in force in epoch 4");

    /* a record entry: the stored registration first, else the entry's */

    memset(&e, 0, sizeof(e));
    memset(&reg, 0, sizeof(reg));
    reg.epoch = 1;
    reg.end_epoch = 3;
    walrus_registration_serialize(&reg, raw);
    e.reg = raw;
    e.reg_len = sizeof(raw);

    is_int(walrus_lifetime_recorded_expired(&e, 3), 1,
           "the recorded registration expired in 3");
    is_int(walrus_lifetime_recorded_expired(&e, 2), 0, "... not in 2");
    is_int(walrus_lifetime_entry_expired(dir, &e, 4), 0,
           "entry expired in 4, the stored extension is not: not expired");
    is_int(walrus_lifetime_entry_expired(dir, &e, 6), 1,
           "... in epoch 6 it is");

    snprintf(other, sizeof(other), "%s/other", test_tmp);
    is_int(walrus_lifetime_entry_expired(other, &e, 3), 1,
           "no directory: the entry's registration says expired in 3");
    is_int(walrus_lifetime_entry_expired(other, &e, 2), 0,
           "... in force in 2");
    e.reg_len = 0;
    is_int(walrus_lifetime_entry_expired(other, &e, 9), 0,
           "no registration anywhere: not known, not expired");

    /* garbage where the registration should be */

    test_put(dir, "registration", "not a registration");
    is_int(walrus_lifetime_read(dir, &reg), WALRUS_EFORMAT,
           "a registration that does not parse: EFORMAT");
    is_int(walrus_lifetime_expired(dir, 4, NULL), -1,
           "... expiry cannot be told: -1");

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_tmp);
    if (system(cmd) != 0) {
        printf("# cannot remove %s\n", test_tmp);
    }

    return tap_done();
}


static void
test_put(const char *dir, const char *name, const char *text)
{
    if (walrus_store_write(dir, name, text, strlen(text)) != 0) {
        printf("Bail out! cannot write %s/%s: %s\n", dir, name,
               strerror(errno));
        exit(1);
    }
}


static int
test_exists(const char *dir, const char *name)
{
    char         path[WALRUS_PATH_MAX];
    struct stat  st;

    return walrus_store_path(path, dir, name) == 0 && stat(path, &st) == 0;
}


/* unsigned: nodes verified it when they stored it, reading does not */

static void
test_registration(const char *dir, uint32_t epoch, uint32_t end)
{
    uint8_t                buf[WALRUS_REGISTRATION_LEN];
    walrus_registration_t  reg;

    memset(&reg, 0, sizeof(reg));
    reg.epoch = epoch;
    reg.end_epoch = end;
    reg.length = 1000;
    walrus_registration_serialize(&reg, buf);

    if (walrus_store_write(dir, "registration", buf, sizeof(buf)) != 0) {
        printf("Bail out! cannot write the registration\n");
        exit(1);
    }
}
