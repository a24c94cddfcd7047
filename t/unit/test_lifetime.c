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
#include <walrus_sign.h>
#include <walrus_store.h>
#include <tap.h>


static void test_put(const char *dir, const char *name, const char *text);
static int test_exists(const char *dir, const char *name);
static void test_registration(const char *dir, uint32_t epoch,
    uint32_t end);
static void test_deletion(void);


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

    /* a deletion stored: expired for the background work, and kept */

    test_put(dir, "registration", "not a registration");
    test_put(dir, "deleted", "d");
    test_put(dir, "metadata", "m");
    is_int(walrus_lifetime_entry_expired(dir, &e, 1), 1,
           "a blob with a stored deletion is expired");
    is_int(walrus_lifetime_reclaim(dir, &removed), 0, "reclaimed");
    ok(test_exists(dir, "deleted") && !test_exists(dir, "metadata"),
       "... the deletion stays with the tombstone");

    test_deletion();

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


static void
test_deletion(void)
{
    uint8_t                del[WALRUS_DELETION_LEN];
    EVP_PKEY              *owner, *other;
    walrus_registration_t  reg;

    if (walrus_key_generate(&owner) != WALRUS_OK
        || walrus_key_generate(&other) != WALRUS_OK)
    {
        printf("Bail out! keygen\n");
        exit(1);
    }

    memset(&reg, 0, sizeof(reg));
    reg.epoch = 2;
    reg.end_epoch = 9;
    reg.deletable = 1;
    memset(reg.blob_id, 0x5a, sizeof(reg.blob_id));
    walrus_key_raw_public(owner, reg.publisher);

    is_int(WALRUS_DELETION_LEN, 115, "a deletion is 115 bytes");

    is_int(walrus_deletion_sign(owner, 3, reg.blob_id, del), WALRUS_OK,
           "the owner signs a deletion in epoch 3");
    ok(memcmp(del, "walrus-delete:1", 15) == 0
       && del[15] == 3 && del[16] == 0 && del[17] == 0 && del[18] == 0
       && memcmp(del + 19, reg.blob_id, 32) == 0,
       "... tag, epoch (u32 LE) and blob ID as documented");
    is_int(walrus_deletion_verify(del, sizeof(del), &reg, 3), WALRUS_OK,
           "... a node in epoch 3 accepts it");
    is_int(walrus_deletion_verify(del, sizeof(del), &reg, 4), WALRUS_OK,
           "... a node one epoch ahead too");
    is_int(walrus_deletion_verify(del, sizeof(del), &reg, 5), WALRUS_EEPOCH,
           "... two epochs ahead: too old, EEPOCH");
    is_int(walrus_deletion_verify(del, sizeof(del), &reg, 2), WALRUS_EEPOCH,
           "... a node still in epoch 2: from the future, EEPOCH");
    is_int(walrus_deletion_verify(del, sizeof(del) - 1, &reg, 3),
           WALRUS_EFORMAT, "one byte short: EFORMAT");

    reg.epoch = 4;
    is_int(walrus_deletion_verify(del, sizeof(del), &reg, 4), WALRUS_EEPOCH,
           "it does not end a later registration (epoch 4) of the blob");
    reg.epoch = 2;

    reg.deletable = 0;
    is_int(walrus_deletion_verify(del, sizeof(del), &reg, 3), WALRUS_EINVAL,
           "a permanent blob is not deleted: EINVAL");
    reg.deletable = 1;

    reg.blob_id[0] ^= 1;
    is_int(walrus_deletion_verify(del, sizeof(del), &reg, 3), WALRUS_EBLOBID,
           "another blob's registration: EBLOBID");
    reg.blob_id[0] ^= 1;

    walrus_deletion_sign(other, 3, reg.blob_id, del);
    is_int(walrus_deletion_verify(del, sizeof(del), &reg, 3),
           WALRUS_ESIGNATURE, "signed by another key: ESIGNATURE");

    walrus_deletion_sign(owner, 3, reg.blob_id, del);
    del[20] ^= 1;
    is_int(walrus_deletion_verify(del, sizeof(del), &reg, 3),
           WALRUS_EBLOBID, "a changed blob ID byte: EBLOBID");
    del[20] ^= 1;
    del[100] ^= 1;
    is_int(walrus_deletion_verify(del, sizeof(del), &reg, 3),
           WALRUS_ESIGNATURE, "a changed signature byte: ESIGNATURE");

    EVP_PKEY_free(owner);
    EVP_PKEY_free(other);
}

