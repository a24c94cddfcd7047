/*
 * Publisher tokens: each algorithm family accepted with its key and
 * refused with another, "none" and algorithm confusion, malformed
 * tokens, time claims with leeway, and the upload limits.  Tokens are
 * signed here with libjwt (HS, RS, ES) and OpenSSL (EdDSA).
 */

#include <stdio.h>
#include <unistd.h>

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <walrus_base64.h>
#include <walrus_jwt.h>
#include <walrus_sign.h>
#include <tap.h>


#define NOW  1700000000


static void walrus_test_keys(const char *dir);
static void walrus_test_hs(const char *dir);
static void walrus_test_pem(const char *dir, const char *alg,
    const char *keyalg, jwt_alg_t jalg);
static void walrus_test_eddsa(const char *dir);
static void walrus_test_rotation(const char *dir, walrus_jwt_key_t *ed,
    EVP_PKEY *other, const char *input);
static void walrus_test_claims(const char *dir);
static void walrus_test_upload(void);
static char *walrus_test_sign(jwt_alg_t alg, const void *key, size_t len,
    const char *grants);
static char *walrus_test_raw(const char *header, const char *payload,
    const char *sig);
static int walrus_test_ok(int cond, const char *what);
static void walrus_test_ed(EVP_PKEY *pkey, const char *input, int chars,
    char *token);
static int walrus_test_check(walrus_jwt_key_t *key, const char *token,
    walrus_jwt_claims_t *c);
static int walrus_test_write(const char *path, const void *p, size_t len);
static EVP_PKEY *walrus_test_pem_pair(const char *dir, const char *keyalg,
    char **priv, size_t *priv_len);


static const char  *walrus_test_why;


#define diag(s)  printf("# %s\n", s)


int
main(void)
{
    char  dir[] = "/tmp/walrus-test-jwt-XXXXXX";
    char  cmd[128];

    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }

    walrus_test_keys(dir);
    walrus_test_hs(dir);
    walrus_test_pem(dir, "RS256", "RSA", JWT_ALG_RS256);
    walrus_test_pem(dir, "ES256", "EC", JWT_ALG_ES256);
    walrus_test_eddsa(dir);
    walrus_test_claims(dir);
    walrus_test_upload();

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        diag("cannot remove the test directory");
    }

    return tap_done();
}


/* key files that do not fit their algorithm are refused at load */

static void
walrus_test_keys(const char *dir)
{
    char               path[256], big[16385];
    const char        *why;
    walrus_jwt_key_t  *key;

    memset(big, 'k', sizeof(big));

    snprintf(path, sizeof(path), "%s/short", dir);
    walrus_test_write(path, "0123456789abcdef0123456789abcde\n", 32);

    is_int(walrus_jwt_key_load("HS256", path, &key, &why), WALRUS_EFORMAT,
           "a 31-byte secret (newline dropped) is too short for HS256");
    is_int(walrus_jwt_key_load("HS999", path, &key, &why), WALRUS_EINVAL,
           "an unknown algorithm is refused");
    is_int(walrus_jwt_key_load("none", path, &key, &why), WALRUS_EINVAL,
           "\"none\" is no algorithm a key can have");

    snprintf(path, sizeof(path), "%s/missing", dir);
    is_int(walrus_jwt_key_load("HS256", path, &key, &why), WALRUS_EIO,
           "a missing file is an I/O error");

    /* a key file is small: a large one is no key, nor is a directory */
    snprintf(path, sizeof(path), "%s/large", dir);
    walrus_test_write(path, big, sizeof(big));
    is_int(walrus_jwt_key_load("HS256", path, &key, &why), WALRUS_EFORMAT,
           "a key file over 16 KiB is refused");
    ok(strstr(why, "16 KiB") != NULL, "... saying so");
    is_int(walrus_jwt_key_load("HS256", dir, &key, &why), WALRUS_EIO,
           "a directory is no key file");

    snprintf(path, sizeof(path), "%s/short", dir);
    is_int(walrus_jwt_key_load("RS256", path, &key, &why), WALRUS_EFORMAT,
           "a secret is no RSA public key");
    is_int(walrus_jwt_key_load("EdDSA", path, &key, &why), WALRUS_EFORMAT,
           "a secret is no Ed25519 public key");
}


static void
walrus_test_hs(const char *dir)
{
    char                 path[256], *t;
    const char          *secret = "a secret of more than thirty-two bytes";
    walrus_jwt_key_t    *key, *other;
    walrus_jwt_claims_t  c;

    snprintf(path, sizeof(path), "%s/hs", dir);
    walrus_test_write(path, secret, strlen(secret));

    if (!walrus_test_ok(walrus_jwt_key_load("HS256", path, &key,
                                            &walrus_test_why)
                        == WALRUS_OK, "an HS256 secret loads"))
    {
        return;
    }

    snprintf(path, sizeof(path), "%s/hs2", dir);
    walrus_test_write(path, "another secret, also long enough....", 36);
    walrus_jwt_key_load("HS256", path, &other, &walrus_test_why);

    t = walrus_test_sign(JWT_ALG_HS256, secret, strlen(secret),
                         "{\"exp\":1700000100,\"jti\":\"a\",\"iat\":"
                         "1700000000,\"max_size\":10,\"epochs\":2}");

    is_int(walrus_test_check(key, t, &c), WALRUS_JWT_OK,
           "HS256 token with its secret verifies");
    is_int((int) c.exp, 1700000100, "exp read");
    is_int((int) c.iat, 1700000000, "iat read");
    is_int((int) c.max_size, 10, "max_size read");
    is_int((int) c.epochs, 2, "epochs read");
    is_int((int) c.size, WALRUS_JWT_UNSET, "size absent");
    ok(strcmp(c.jti, "a") == 0 && c.jti_len == 1, "jti read");

    is_int(walrus_test_check(other, t, &c), WALRUS_JWT_SIGNATURE,
           "HS256 token with another secret is refused");

    /* a flipped signature character */
    t[strlen(t) - 2] = t[strlen(t) - 2] == 'A' ? 'B' : 'A';
    is_int(walrus_test_check(key, t, &c), WALRUS_JWT_SIGNATURE,
           "a changed signature is refused");
    free(t);

    t = walrus_test_sign(JWT_ALG_HS384, secret, strlen(secret),
                         "{\"exp\":1700000100,\"jti\":\"a\"}");
    is_int(walrus_test_check(key, t, &c), WALRUS_JWT_ALG,
           "an HS384 token for an HS256 key is refused");
    free(t);

    t = walrus_test_raw("{\"alg\":\"none\"}",
                        "{\"exp\":1700000100,\"jti\":\"a\"}", "");
    is_int(walrus_test_check(key, t, &c), WALRUS_JWT_ALG,
           "alg none without a signature is refused");
    free(t);

    t = walrus_test_raw("{\"alg\":\"HS256\"}",
                        "{\"exp\":1700000100,\"jti\":\"a\"}", "");
    is_int(walrus_test_check(key, t, &c), WALRUS_JWT_ALG,
           "HS256 without a signature is refused");
    free(t);

    walrus_jwt_key_free(key);
    walrus_jwt_key_free(other);
}


/* RS and ES: a key pair, tokens signed by libjwt with the private key */

static void
walrus_test_pem(const char *dir, const char *alg, const char *keyalg,
    jwt_alg_t jalg)
{
    char                 path[256], *priv, *t, what[128];
    size_t               priv_len;
    EVP_PKEY            *pkey;
    walrus_jwt_key_t    *key, *hs;
    walrus_jwt_claims_t  c;

    pkey = walrus_test_pem_pair(dir, keyalg, &priv, &priv_len);
    if (pkey == NULL) {
        ok(0, "key pair generated");
        return;
    }

    snprintf(path, sizeof(path), "%s/%s.pub", dir, alg);

    snprintf(what, sizeof(what), "an %s public key loads", alg);
    if (!walrus_test_ok(walrus_jwt_key_load(alg, path, &key,
                                            &walrus_test_why)
                        == WALRUS_OK, what))
    {
        diag(walrus_test_why);
        return;
    }

    t = walrus_test_sign(jalg, priv, priv_len,
                         "{\"exp\":1700000100,\"jti\":\"r\"}");
    snprintf(what, sizeof(what), "%s token verifies with its public key",
             alg);
    is_int(walrus_test_check(key, t, &c), WALRUS_JWT_OK, what);
    free(t);

    /*
     * algorithm confusion: the public key's PEM text used as an HMAC
     * secret by the forger; the gateway must not take the token's word
     */

    t = walrus_test_sign(JWT_ALG_HS256, key->bytes, key->len,
                         "{\"exp\":1700000100,\"jti\":\"r\"}");
    snprintf(what, sizeof(what), "HS256 token keyed with the %s public "
             "key is refused", alg);
    is_int(walrus_test_check(key, t, &c), WALRUS_JWT_ALG, what);
    free(t);

    snprintf(what, sizeof(what), "an %s key is no EdDSA key", alg);
    is_int(walrus_jwt_key_load("EdDSA", path, &hs, &walrus_test_why),
           WALRUS_EFORMAT, what);

    OPENSSL_free(priv);
    EVP_PKEY_free(pkey);
    walrus_jwt_key_free(key);
}


static void
walrus_test_eddsa(const char *dir)
{
    char                 path[256], *t, input[512], token[640];
    EVP_PKEY            *pkey, *other;
    walrus_jwt_key_t    *key;
    walrus_jwt_claims_t  c;

    walrus_key_generate(&pkey);
    walrus_key_generate(&other);

    snprintf(path, sizeof(path), "%s/ed.pub", dir);
    walrus_key_write_public(pkey, path);

    if (!walrus_test_ok(walrus_jwt_key_load("EdDSA", path, &key,
                                            &walrus_test_why)
                        == WALRUS_OK, "an Ed25519 public key loads for EdDSA"))
    {
        return;
    }

    t = walrus_test_raw("{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}",
                        "{\"exp\":1700000100,\"jti\":\"e\"}", NULL);
    strcpy(input, t);
    free(t);

    walrus_test_ed(pkey, input, 86, t = token);
    is_int(walrus_test_check(key, t, &c), WALRUS_JWT_OK,
           "EdDSA token verifies with its public key");
    ok(strcmp(c.jti, "e") == 0, "EdDSA token's jti read");

    walrus_test_ed(other, input, 86, t);
    is_int(walrus_test_check(key, t, &c), WALRUS_JWT_SIGNATURE,
           "EdDSA token of another key is refused");

    /* a signature cut short */
    walrus_test_ed(pkey, input, 40, t);
    is_int(walrus_test_check(key, t, &c), WALRUS_JWT_SIGNATURE,
           "EdDSA signature of 30 bytes is refused");

    walrus_test_rotation(dir, key, other, input);

    EVP_PKEY_free(pkey);
    EVP_PKEY_free(other);
    walrus_jwt_key_free(key);
}


/*
 * Several keys (an issuer rotating its key, or two issuers): a token
 * passes with any key of its algorithm, never with a key of another
 */

static void
walrus_test_rotation(const char *dir, walrus_jwt_key_t *ed,
    EVP_PKEY *other, const char *input)
{
    int                   rc;
    char                  path[256], token[640], *t;
    walrus_jwt_key_t     *keys[3];
    walrus_jwt_claims_t   c;

    keys[0] = ed;

    snprintf(path, sizeof(path), "%s/hs", dir);
    walrus_jwt_key_load("HS256", path, &keys[1], &walrus_test_why);

    snprintf(path, sizeof(path), "%s/ed-other.pub", dir);
    walrus_key_write_public(other, path);
    walrus_jwt_key_load("EdDSA", path, &keys[2], &walrus_test_why);

    walrus_test_ed(other, input, 86, token);
    rc = walrus_jwt_verify(keys, 2, token, strlen(token), NOW, 60, &c,
                           &walrus_test_why);
    is_int(rc, WALRUS_JWT_SIGNATURE,
           "keys EdDSA and HS256: an EdDSA token of a third key is refused");

    rc = walrus_jwt_verify(keys, 3, token, strlen(token), NOW, 60, &c,
                           &walrus_test_why);
    is_int(rc, WALRUS_JWT_OK, "... and passes once its key is added");

    t = walrus_test_raw("{\"alg\":\"HS256\"}",
                        "{\"exp\":1700000100,\"jti\":\"h\"}",
                        "a secret of more than thirty-two bytes");
    rc = walrus_jwt_verify(keys, 3, t, strlen(t), NOW, 60, &c,
                           &walrus_test_why);
    is_int(rc, WALRUS_JWT_OK, "an HS256 token passes with the HS256 key");

    rc = walrus_jwt_verify(keys, 1, t, strlen(t), NOW, 60, &c,
                           &walrus_test_why);
    is_int(rc, WALRUS_JWT_ALG, "... and not without it");
    free(t);

    walrus_jwt_key_free(keys[1]);
    walrus_jwt_key_free(keys[2]);
}


/* form and claims, with an HS256 key */

static void
walrus_test_claims(const char *dir)
{
    char                 path[256], *t;
    size_t               i;
    const char          *secret = "a secret of more than thirty-two bytes";
    walrus_jwt_key_t    *key;
    walrus_jwt_claims_t  c;

    static const struct {
        const char  *grants;
        int          rc;
        const char  *what;
    } cases[] = {
        { "{\"exp\":1700000100,\"jti\":\"x\"}", WALRUS_JWT_OK,
          "exp and jti are enough" },
        { "{\"jti\":\"x\"}", WALRUS_JWT_MALFORMED, "no exp" },
        { "{\"exp\":1700000100}", WALRUS_JWT_MALFORMED, "no jti" },
        { "{\"exp\":1700000100,\"jti\":\"\"}", WALRUS_JWT_MALFORMED,
          "empty jti" },
        { "{\"exp\":1700000100,\"jti\":7}", WALRUS_JWT_MALFORMED,
          "jti a number" },
        { "{\"exp\":\"1700000100\",\"jti\":\"x\"}", WALRUS_JWT_MALFORMED,
          "exp a string" },
        { "{\"exp\":1700000100.5,\"jti\":\"x\"}", WALRUS_JWT_MALFORMED,
          "exp a fraction" },
        { "{\"exp\":1700000100,\"jti\":\"x\",\"max_size\":-1}",
          WALRUS_JWT_MALFORMED, "negative max_size" },
        { "{\"exp\":1699999950,\"jti\":\"x\"}", WALRUS_JWT_OK,
          "expired 50 s ago, within 60 s of leeway" },
        { "{\"exp\":1699999930,\"jti\":\"x\"}", WALRUS_JWT_EXPIRED,
          "expired 70 s ago" },
        { "{\"exp\":1700000100,\"jti\":\"x\",\"iat\":1700000050}",
          WALRUS_JWT_OK, "issued 50 s ahead, within leeway" },
        { "{\"exp\":1700000100,\"jti\":\"x\",\"iat\":1700000070}",
          WALRUS_JWT_TIMESTAMP, "issued 70 s ahead" },
        { "{\"exp\":1700000100,\"jti\":\"x\",\"nbf\":1700000070}",
          WALRUS_JWT_TIMESTAMP, "not before 70 s ahead" },
        { "{\"exp\":9223372036854775807,\"jti\":\"x\"}", WALRUS_JWT_OK,
          "the largest exp does not overflow" },
        { "{\"exp\":1,\"exp\":1700000100,\"jti\":\"x\"}",
          WALRUS_JWT_MALFORMED, "a claim given twice" },
        { "[1,2]", WALRUS_JWT_MALFORMED, "a payload that is no object" }
    };

    snprintf(path, sizeof(path), "%s/hs", dir);

    if (walrus_jwt_key_load("HS256", path, &key, &walrus_test_why)
        != WALRUS_OK)
    {
        ok(0, "HS256 key loads");
        return;
    }

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* libjwt rebuilds a payload: these ones are signed by hand */
        t = walrus_test_raw("{\"alg\":\"HS256\"}", cases[i].grants, secret);
        is_int(walrus_test_check(key, t, &c), cases[i].rc, cases[i].what);
        free(t);
    }

    is_int(walrus_test_check(key, "abc", &c), WALRUS_JWT_MALFORMED,
           "one part");
    is_int(walrus_test_check(key, "a.b", &c), WALRUS_JWT_MALFORMED,
           "two parts");
    is_int(walrus_test_check(key, "a.b.c.d", &c), WALRUS_JWT_MALFORMED,
           "four parts");
    is_int(walrus_test_check(key, "!!.e30.c2ln", &c), WALRUS_JWT_MALFORMED,
           "header not base64url");
    is_int(walrus_test_check(key, "e30.e30.c2ln", &c), WALRUS_JWT_MALFORMED,
           "header without alg");

    t = walrus_test_raw("{\"alg\":\"HS256\",\"crit\":[\"b64\"]}",
                        "{\"exp\":1700000100,\"jti\":\"x\"}", secret);
    is_int(walrus_test_check(key, t, &c), WALRUS_JWT_MALFORMED,
           "crit extensions are refused");
    free(t);

    walrus_jwt_key_free(key);
}


static void
walrus_test_upload(void)
{
    const char           *why;
    walrus_jwt_claims_t   c;

    memset(&c, 0, sizeof(c));
    c.size = c.max_size = c.epochs = c.max_epochs = WALRUS_JWT_UNSET;

    is_int(walrus_jwt_check_upload(&c, 5, 1, &why), WALRUS_JWT_OK,
           "no limits: any upload");

    c.max_size = 10;
    is_int(walrus_jwt_check_upload(&c, 10, 1, &why), WALRUS_JWT_OK,
           "max_size: as large");
    is_int(walrus_jwt_check_upload(&c, 11, 1, &why), WALRUS_JWT_MAX_SIZE,
           "max_size: one byte more");
    is_int(walrus_jwt_check_upload(&c, WALRUS_JWT_UNSET, 1, &why),
           WALRUS_JWT_OK, "max_size: length not known yet");

    c.size = 10;
    is_int(walrus_jwt_check_upload(&c, 10, 1, &why), WALRUS_JWT_SIZES,
           "size and max_size");

    c.max_size = WALRUS_JWT_UNSET;
    is_int(walrus_jwt_check_upload(&c, 10, 1, &why), WALRUS_JWT_OK,
           "size: exact");
    is_int(walrus_jwt_check_upload(&c, 9, 1, &why), WALRUS_JWT_SIZE,
           "size: one byte less");
    c.size = WALRUS_JWT_UNSET;

    c.epochs = 3;
    is_int(walrus_jwt_check_upload(&c, 1, 3, &why), WALRUS_JWT_OK,
           "epochs: exact");
    is_int(walrus_jwt_check_upload(&c, 1, 2, &why), WALRUS_JWT_EPOCHS,
           "epochs: fewer");

    c.max_epochs = 3;
    is_int(walrus_jwt_check_upload(&c, 1, 3, &why), WALRUS_JWT_EPOCHS,
           "epochs and max_epochs");

    c.epochs = WALRUS_JWT_UNSET;
    is_int(walrus_jwt_check_upload(&c, 1, 3, &why), WALRUS_JWT_OK,
           "max_epochs: as many");
    is_int(walrus_jwt_check_upload(&c, 1, 4, &why), WALRUS_JWT_EPOCHS_MAX,
           "max_epochs: one more");

    c.send_object_to = 1;
    is_int(walrus_jwt_check_upload(&c, 1, 1, &why),
           WALRUS_JWT_SEND_OBJECT_TO, "send_object_to cannot be honoured");

    c.exp = NOW + 3660;
    is_int(walrus_jwt_check_lifetime(&c, NOW, 3600, 60, &why), WALRUS_JWT_OK,
           "lifetime: an hour and the leeway");
    c.exp++;
    is_int(walrus_jwt_check_lifetime(&c, NOW, 3600, 60, &why),
           WALRUS_JWT_LIFETIME, "lifetime: a second more");
    is_int(walrus_jwt_check_lifetime(&c, NOW, 0, 60, &why), WALRUS_JWT_OK,
           "lifetime: no limit");
    c.exp = INT64_MAX;
    is_int(walrus_jwt_check_lifetime(&c, NOW, 3600, 60, &why),
           WALRUS_JWT_LIFETIME, "lifetime: the largest exp");

    ok(strcmp(walrus_jwt_reason(WALRUS_JWT_EXPIRED), "EXPIRED_SIGNATURE")
       == 0 && walrus_jwt_status(WALRUS_JWT_EXPIRED) == 401,
       "expired: 401 EXPIRED_SIGNATURE");
    ok(strcmp(walrus_jwt_reason(WALRUS_JWT_MAX_SIZE), "MAX_SIZE_EXCEEDED")
       == 0 && walrus_jwt_status(WALRUS_JWT_MAX_SIZE) == 403,
       "too large: 403 MAX_SIZE_EXCEEDED");
}


static char *
walrus_test_sign(jwt_alg_t alg, const void *key, size_t len,
    const char *grants)
{
    char   *out, *t;
    jwt_t  *jwt;

    if (jwt_new(&jwt) != 0) {
        return NULL;
    }

    jwt_add_grants_json(jwt, grants);
    jwt_set_alg(jwt, alg, key, (int) len);
    t = jwt_encode_str(jwt);
    jwt_free(jwt);

    out = strdup(t);
    free(t);

    return out;
}


/*
 * header.payload, then: sig NULL adds nothing; "" an empty signature;
 * otherwise an HS256 signature keyed with sig
 */

static char *
walrus_test_raw(const char *header, const char *payload, const char *sig)
{
    char           *t, *p;
    size_t          hl, pl, mac_len;
    unsigned char   mac[64];

    hl = strlen(header);
    pl = strlen(payload);

    t = malloc(2 * (hl + pl) + 256);
    p = t;
    p += walrus_base64url_encode((const uint8_t *) header, hl, p);
    *p++ = '.';
    p += walrus_base64url_encode((const uint8_t *) payload, pl, p);
    *p = '\0';

    if (sig == NULL) {
        return t;
    }

    *p++ = '.';

    if (*sig != '\0') {
        EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, sig, strlen(sig),
                  (unsigned char *) t, p - 1 - t, mac, sizeof(mac),
                  &mac_len);
        p += walrus_base64url_encode(mac, mac_len, p);
    }

    *p = '\0';

    return t;
}


static int
walrus_test_check(walrus_jwt_key_t *key, const char *token,
    walrus_jwt_claims_t *c)
{
    int  rc;

    if (token == NULL) {
        return -1;
    }

    rc = walrus_jwt_verify(&key, 1, token, strlen(token), NOW, 60, c,
                           &walrus_test_why);

    if (rc != WALRUS_JWT_OK) {
        diag(walrus_test_why);
    }

    return rc;
}


static int
walrus_test_write(const char *path, const void *p, size_t len)
{
    FILE  *fp;

    fp = fopen(path, "w");
    if (fp == NULL) {
        return -1;
    }

    fwrite(p, 1, len, fp);

    return fclose(fp);
}


/* a key pair of OpenSSL's keyalg: the public key to <dir>/<alg>.pub */

static EVP_PKEY *
walrus_test_pem_pair(const char *dir, const char *keyalg, char **priv,
    size_t *priv_len)
{
    BIO           *bio;
    FILE          *fp;
    char           path[256], *data;
    long           n;
    EVP_PKEY      *pkey;
    EVP_PKEY_CTX  *ctx;

    pkey = NULL;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, keyalg, NULL);

    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }

    if (strcmp(keyalg, "RSA") == 0) {
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048);

    } else {
        EVP_PKEY_CTX_set_group_name(ctx, "P-256");
    }

    if (EVP_PKEY_keygen(ctx, &pkey) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }

    EVP_PKEY_CTX_free(ctx);

    snprintf(path, sizeof(path), "%s/%s.pub", dir,
             strcmp(keyalg, "RSA") == 0 ? "RS256" : "ES256");

    fp = fopen(path, "w");
    PEM_write_PUBKEY(fp, pkey);
    fclose(fp);

    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(bio, &data);
    *priv = OPENSSL_malloc(n + 1);
    memcpy(*priv, data, n);
    (*priv)[n] = '\0';
    *priv_len = n;
    BIO_free(bio);

    return pkey;
}


static int
walrus_test_ok(int cond, const char *what)
{
    ok(cond, "%s", what);

    return cond;
}


/* input.signature, the signature's base64url cut to chars characters */

static void
walrus_test_ed(EVP_PKEY *pkey, const char *input, int chars, char *token)
{
    char     sig64[128];
    uint8_t  sig[WALRUS_SIG_LEN];

    walrus_sign(pkey, (const uint8_t *) input, strlen(input), sig);
    sig64[walrus_base64url_encode(sig, sizeof(sig), sig64)] = '\0';

    sprintf(token, "%s.%.*s", input, chars, sig64);
}
