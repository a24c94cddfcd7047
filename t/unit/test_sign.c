/*
 * Ed25519 keys and confirmations: round trips, tampering, key files.
 */

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <walrus_sign.h>
#include <tap.h>


static void walrus_test_message(void);
static void walrus_test_sign(void);
static void walrus_test_files(const char *dir);
static void walrus_test_foreign(const char *dir);
static int walrus_test_write_file(const char *path, const char *text);


int
main(void)
{
    char  dir[] = "/tmp/walrus-test-sign-XXXXXX";

    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }

    walrus_test_message();
    walrus_test_sign();
    walrus_test_files(dir);
    walrus_test_foreign(dir);

    rmdir(dir);

    return tap_done();
}


static void
walrus_test_message(void)
{
    uint8_t  id[WALRUS_BLOB_ID_LEN], msg[WALRUS_CONFIRM_MSG_LEN];
    size_t   i;

    for (i = 0; i < sizeof(id); i++) {
        id[i] = (uint8_t) (0xa0 + i);
    }

    is_int(WALRUS_CONFIRM_MSG_LEN, 52, "confirmation message is 52 bytes");

    walrus_confirmation_message(0x04030201, id, msg);

    ok(memcmp(msg, "walrus-confirm:1", 16) == 0, "message starts with tag");
    ok(msg[16] == 1 && msg[17] == 2 && msg[18] == 3 && msg[19] == 4,
       "epoch is little-endian");
    ok(memcmp(msg + 20, id, sizeof(id)) == 0, "blob ID follows the epoch");
}


static void
walrus_test_sign(void)
{
    uint8_t    id[WALRUS_BLOB_ID_LEN], id2[WALRUS_BLOB_ID_LEN];
    uint8_t    sig[WALRUS_SIG_LEN], sig2[WALRUS_SIG_LEN];
    size_t     i;
    EVP_PKEY  *key, *other;

    for (i = 0; i < sizeof(id); i++) {
        id[i] = (uint8_t) i;
    }

    memcpy(id2, id, sizeof(id));
    id2[31] ^= 1;

    is_int(walrus_key_generate(&key), WALRUS_OK, "generate key");
    is_int(walrus_key_generate(&other), WALRUS_OK, "generate second key");

    is_int(walrus_confirmation_sign(key, 7, id, sig), WALRUS_OK, "sign");
    is_int(walrus_confirmation_verify(key, 7, id, sig), WALRUS_OK,
           "signature verifies");

    is_int(walrus_confirmation_sign(key, 7, id, sig2), WALRUS_OK,
           "sign again");
    ok(memcmp(sig, sig2, sizeof(sig)) == 0, "Ed25519 is deterministic");

    is_int(walrus_confirmation_verify(key, 8, id, sig), WALRUS_ESIGNATURE,
           "wrong epoch fails");
    is_int(walrus_confirmation_verify(key, 7, id2, sig), WALRUS_ESIGNATURE,
           "wrong blob ID fails");
    is_int(walrus_confirmation_verify(other, 7, id, sig), WALRUS_ESIGNATURE,
           "wrong key fails");

    for (i = 0; i < sizeof(sig); i += 9) {
        memcpy(sig2, sig, sizeof(sig));
        sig2[i] ^= 0x10;
        is_int(walrus_confirmation_verify(key, 7, id, sig2),
               WALRUS_ESIGNATURE, "flipped signature byte %zu fails", i);
    }

    is_int(walrus_confirmation_sign(key, UINT32_MAX, id, sig), WALRUS_OK,
           "sign epoch 2^32-1");
    is_int(walrus_confirmation_verify(key, UINT32_MAX, id, sig), WALRUS_OK,
           "verify epoch 2^32-1");
    is_int(walrus_confirmation_verify(key, 0, id, sig), WALRUS_ESIGNATURE,
           "epoch 0 fails");

    is_int(walrus_confirmation_sign(NULL, 7, id, sig), WALRUS_EINVAL,
           "sign without key is EINVAL");

    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}


static void
walrus_test_files(const char *dir)
{
    FILE        *fp;
    char         priv[256], pub[256], pem[256];
    uint8_t      id[WALRUS_BLOB_ID_LEN], sig[WALRUS_SIG_LEN];
    EVP_PKEY    *key, *loaded, *public;
    struct stat  st;

    memset(id, 0x5a, sizeof(id));

    snprintf(priv, sizeof(priv), "%s/node.key", dir);
    snprintf(pub, sizeof(pub), "%s/node.pub", dir);
    snprintf(pem, sizeof(pem), "%s/garbage.pem", dir);

    is_int(walrus_key_generate(&key), WALRUS_OK, "generate key for files");

    is_int(walrus_key_write_private(key, priv), WALRUS_OK,
           "write private key");
    is_int(walrus_key_write_public(key, pub), WALRUS_OK, "write public key");

    ok(stat(priv, &st) == 0 && (st.st_mode & 0777) == 0600,
       "private key file has mode 0600");

    is_int(walrus_key_write_private(key, priv), WALRUS_EIO,
           "private key is never overwritten");
    ok(stat(priv, &st) == 0 && st.st_size > 0,
       "existing private key is untouched");

    is_int(walrus_key_write_public(key, pub), WALRUS_OK,
           "public key may be rewritten");

    loaded = NULL;
    public = NULL;

    is_int(walrus_key_load_private(priv, &loaded), WALRUS_OK,
           "load private key");
    is_int(walrus_key_load_public(pub, &public), WALRUS_OK,
           "load public key");
    ok(loaded != NULL && EVP_PKEY_eq(loaded, key) == 1,
       "loaded private key equals the original");
    ok(public != NULL && EVP_PKEY_eq(public, key) == 1,
       "loaded public key equals the original");

    is_int(walrus_confirmation_sign(loaded, 3, id, sig), WALRUS_OK,
           "sign with the loaded private key");
    is_int(walrus_confirmation_verify(public, 3, id, sig), WALRUS_OK,
           "verify with the loaded public key");

    is_int(walrus_confirmation_sign(public, 3, id, sig), WALRUS_ECRYPTO,
           "a public key cannot sign");

    EVP_PKEY_free(loaded);
    EVP_PKEY_free(public);

    loaded = (EVP_PKEY *) 1;
    is_int(walrus_key_load_public(priv, &loaded), WALRUS_EFORMAT,
           "private key file is not a public key");
    ok(loaded == NULL, "key is NULL on failure");

    is_int(walrus_key_load_private(pub, &loaded), WALRUS_EFORMAT,
           "public key file is not a private key");

    snprintf(pem, sizeof(pem), "%s/missing.pem", dir);
    is_int(walrus_key_load_public(pem, &loaded), WALRUS_EIO,
           "missing public key file is EIO");
    is_int(walrus_key_load_private(pem, &loaded), WALRUS_EIO,
           "missing private key file is EIO");

    snprintf(pem, sizeof(pem), "%s/garbage.pem", dir);
    walrus_test_write_file(pem, "-----BEGIN PUBLIC KEY-----\n"
                           "bm90IGEga2V5IGF0IGFsbA==\n"
                           "-----END PUBLIC KEY-----\n");
    is_int(walrus_key_load_public(pem, &loaded), WALRUS_EFORMAT,
           "garbage PEM public key fails");
    is_int(walrus_key_load_private(pem, &loaded), WALRUS_EFORMAT,
           "garbage PEM private key fails");
    unlink(pem);

    walrus_test_write_file(pem, "");
    is_int(walrus_key_load_public(pem, &loaded), WALRUS_EFORMAT,
           "empty file fails");
    unlink(pem);

    is_int(walrus_key_parse_public("nonsense", 8, &loaded), WALRUS_EFORMAT,
           "parse garbage fails");
    is_int(walrus_key_parse_public("", 0, &loaded), WALRUS_EFORMAT,
           "parse empty text fails");

    /* an encrypted key fails at once instead of asking for a passphrase */
    fp = fopen(pem, "w");
    PEM_write_PrivateKey(fp, key, EVP_aes_256_cbc(),
                         (unsigned char *) "secret", 6, NULL, NULL);
    fclose(fp);
    is_int(walrus_key_load_private(pem, &loaded), WALRUS_EFORMAT,
           "encrypted private key fails without a prompt");
    unlink(pem);

    unlink(priv);
    unlink(pub);

    EVP_PKEY_free(key);
}


static void
walrus_test_foreign(const char *dir)
{
    int        i;
    BIO       *bio;
    FILE      *fp;
    char       path[256], *text;
    long       len;
    EVP_PKEY  *foreign, *loaded;

    static const char  *names[] = { "EC P-256", "RSA", "X25519", "ED448" };

    for (i = 0; i < 4; i++) {
        switch (i) {
        case 0:
            foreign = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
            break;
        case 1:
            foreign = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
            break;
        case 2:
            foreign = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
            break;
        default:
            foreign = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
            break;
        }

        ok(foreign != NULL, "generate %s key", names[i]);
        if (foreign == NULL) {
            continue;
        }

        snprintf(path, sizeof(path), "%s/foreign.key", dir);
        fp = fopen(path, "w");
        PEM_write_PrivateKey(fp, foreign, NULL, NULL, 0, NULL, NULL);
        fclose(fp);

        loaded = NULL;
        is_int(walrus_key_load_private(path, &loaded), WALRUS_EFORMAT,
               "load %s private key is EFORMAT", names[i]);
        ok(loaded == NULL, "no %s key returned", names[i]);
        unlink(path);

        snprintf(path, sizeof(path), "%s/foreign.pub", dir);
        fp = fopen(path, "w");
        PEM_write_PUBKEY(fp, foreign);
        fclose(fp);

        is_int(walrus_key_load_public(path, &loaded), WALRUS_EFORMAT,
               "load %s public key is EFORMAT", names[i]);
        unlink(path);

        bio = BIO_new(BIO_s_mem());
        PEM_write_bio_PUBKEY(bio, foreign);
        len = BIO_get_mem_data(bio, &text);

        is_int(walrus_key_parse_public(text, (size_t) len, &loaded),
               WALRUS_EFORMAT, "parse %s public key is EFORMAT", names[i]);

        is_int(walrus_key_write_private(foreign, path), WALRUS_EINVAL,
               "refuse to write %s key", names[i]);

        BIO_free(bio);
        EVP_PKEY_free(foreign);
    }
}


static int
walrus_test_write_file(const char *path, const char *text)
{
    int     fd;
    size_t  len;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd == -1) {
        return -1;
    }

    len = strlen(text);

    if (write(fd, text, len) != (ssize_t) len) {
        close(fd);
        return -1;
    }

    return close(fd);
}
