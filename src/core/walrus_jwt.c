/*
 * Publisher tokens (JWS compact serialization, RFC 7515 and 7519): the
 * form and the claims are read here with jansson, the signature checked
 * by libjwt or, for EdDSA, which Debian 12's libjwt 1.10.2 lacks, by
 * OpenSSL's Ed25519 over the signing input "<header>.<payload>".
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <walrus_base64.h>
#include <walrus_file.h>
#include <walrus_jwt.h>
#include <walrus_sign.h>


/* a key file larger than this is no key */
#define WALRUS_JWT_KEY_FILE_MAX  16384


static int walrus_jwt_alg_parse(const char *name, walrus_jwt_alg_e *alg);
static int walrus_jwt_key_check(walrus_jwt_key_t *key, const char **why);
static json_t *walrus_jwt_part(const char *p, size_t len);
static int walrus_jwt_claim(json_t *payload, const char *name, int64_t *v,
    const char **why);
static int walrus_jwt_claims(json_t *payload, walrus_jwt_claims_t *c,
    const char **why);
static int walrus_jwt_signature(const walrus_jwt_key_t *key,
    const char *token, size_t len, size_t input_len);


static const struct {
    const char        *name;
    walrus_jwt_alg_e   alg;
    jwt_alg_t          libjwt;
    size_t             hash_len;    /* HMAC: the shortest secret */
    const char        *curve;       /* ES: the key's group */
} walrus_jwt_algs[] = {
    { "HS256", WALRUS_JWT_HS256, JWT_ALG_HS256, 32, NULL },
    { "HS384", WALRUS_JWT_HS384, JWT_ALG_HS384, 48, NULL },
    { "HS512", WALRUS_JWT_HS512, JWT_ALG_HS512, 64, NULL },
    { "RS256", WALRUS_JWT_RS256, JWT_ALG_RS256, 0, NULL },
    { "RS384", WALRUS_JWT_RS384, JWT_ALG_RS384, 0, NULL },
    { "RS512", WALRUS_JWT_RS512, JWT_ALG_RS512, 0, NULL },
    { "ES256", WALRUS_JWT_ES256, JWT_ALG_ES256, 0, "prime256v1" },
    { "ES384", WALRUS_JWT_ES384, JWT_ALG_ES384, 0, "secp384r1" },
    { "ES512", WALRUS_JWT_ES512, JWT_ALG_ES512, 0, "secp521r1" },
    { "EdDSA", WALRUS_JWT_EDDSA, JWT_ALG_NONE, 0, NULL }
};


static const struct {
    const char  *reason;
    unsigned     status;
} walrus_jwt_errors[] = {
    { "OK", 200 },
    { "INVALID_TOKEN", 401 },
    { "INVALID_SIGNATURE", 401 },
    { "INVALID_SIGNATURE", 401 },
    { "EXPIRED_SIGNATURE", 401 },
    { "INVALID_TIMESTAMP", 401 },
    { "INVALID_SIZES", 403 },
    { "MAX_SIZE_EXCEEDED", 403 },
    { "SIZE_INCORRECT", 403 },
    { "INVALID_EPOCHS", 403 },
    { "EPOCHS_ABOVE_MAX", 403 },
    { "MISSING_SEND_OBJECT_TO", 403 },
    { "INVALID_EXPIRATION", 401 }
};


static int
walrus_jwt_alg_parse(const char *name, walrus_jwt_alg_e *alg)
{
    size_t  i;

    for (i = 0; i < sizeof(walrus_jwt_algs) / sizeof(walrus_jwt_algs[0]);
         i++)
    {
        if (strcmp(name, walrus_jwt_algs[i].name) == 0) {
            *alg = walrus_jwt_algs[i].alg;
            return WALRUS_OK;
        }
    }

    return WALRUS_EINVAL;
}


const char *
walrus_jwt_reason(int rc)
{
    return walrus_jwt_errors[rc].reason;
}


unsigned
walrus_jwt_status(int rc)
{
    return walrus_jwt_errors[rc].status;
}


int
walrus_jwt_key_load(const char *alg, const char *path,
    walrus_jwt_key_t **key, const char **why)
{
    int                rc;
    size_t             n;
    walrus_jwt_key_t  *k;

    *key = NULL;
    *why = "";

    k = calloc(1, sizeof(walrus_jwt_key_t));
    if (k == NULL) {
        return WALRUS_ENOMEM;
    }

    if (walrus_jwt_alg_parse(alg, &k->alg) != WALRUS_OK) {
        free(k);
        *why = "unknown algorithm (HS256, HS384, HS512, RS256, RS384, "
               "RS512, ES256, ES384, ES512, EdDSA)";
        return WALRUS_EINVAL;
    }

    if (k->alg == WALRUS_JWT_EDDSA) {
        rc = walrus_key_load_public(path, &k->pkey);
        if (rc != WALRUS_OK) {
            free(k);
            *why = "not an Ed25519 public key in PEM";
            return rc;
        }

        *key = k;
        return WALRUS_OK;
    }

    /* the bytes, followed by a NUL for PEM text */
    if (walrus_read_file(path, WALRUS_JWT_KEY_FILE_MAX, &k->bytes, &n) != 0) {
        free(k);

        if (errno == EFBIG) {
            *why = "the file is larger than 16 KiB";
            return WALRUS_EFORMAT;
        }

        return WALRUS_EIO;
    }

    /* "echo secret > file" leaves a newline that is no part of it */
    if (n > 0 && k->bytes[n - 1] == '\n') {
        n--;
        if (n > 0 && k->bytes[n - 1] == '\r') {
            n--;
        }
    }

    k->bytes[n] = '\0';
    k->len = n;

    rc = walrus_jwt_key_check(k, why);
    if (rc != WALRUS_OK) {
        walrus_jwt_key_free(k);
        return rc;
    }

    *key = k;

    return WALRUS_OK;
}


/* an HMAC secret's length, a public key's type, size and curve */

static int
walrus_jwt_key_check(walrus_jwt_key_t *key, const char **why)
{
    int        rc;
    BIO       *bio;
    char       group[64];
    size_t     len;
    EVP_PKEY  *pkey;

    if (walrus_jwt_algs[key->alg].hash_len) {
        if (key->len < walrus_jwt_algs[key->alg].hash_len) {
            *why = "the secret is shorter than the hash (RFC 7518 3.2)";
            return WALRUS_EFORMAT;
        }

        return WALRUS_OK;
    }

    bio = BIO_new_mem_buf(key->bytes, (int) key->len);
    if (bio == NULL) {
        return WALRUS_ENOMEM;
    }

    pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);

    if (pkey == NULL) {
        ERR_clear_error();
        *why = "not a public key in PEM";
        return WALRUS_EFORMAT;
    }

    rc = WALRUS_OK;

    if (walrus_jwt_algs[key->alg].curve == NULL) {
        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA
            || EVP_PKEY_get_bits(pkey) < 2048)
        {
            *why = "not an RSA public key of 2048 bits or more";
            rc = WALRUS_EFORMAT;
        }

    } else if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC
               || EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len)
                  != 1
               || strcmp(group, walrus_jwt_algs[key->alg].curve) != 0)
    {
        ERR_clear_error();
        *why = "not an EC public key of the algorithm's curve";
        rc = WALRUS_EFORMAT;
    }

    EVP_PKEY_free(pkey);

    return rc;
}


void
walrus_jwt_key_free(walrus_jwt_key_t *key)
{
    if (key == NULL) {
        return;
    }

    if (key->bytes != NULL) {
        OPENSSL_cleanse(key->bytes, key->len);
        free(key->bytes);
    }

    EVP_PKEY_free(key->pkey);
    free(key);
}


/* a base64url part holding a JSON object, or NULL */

static json_t *
walrus_jwt_part(const char *p, size_t len)
{
    size_t   n;
    json_t  *j;
    uint8_t  buf[WALRUS_JWT_MAX_LEN];

    if (len == 0
        || walrus_base64url_decode(p, len, buf, &n) != WALRUS_OK)
    {
        return NULL;
    }

    /* a name given twice would mean what the reader chooses: refused */
    j = json_loadb((const char *) buf, n, JSON_REJECT_DUPLICATES, NULL);

    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }

    return j;
}


int
walrus_jwt_verify(walrus_jwt_key_t *const *keys, size_t nkeys,
    const char *token, size_t len, int64_t now, int64_t leeway,
    walrus_jwt_claims_t *claims, const char **why)
{
    int                rc;
    size_t             i;
    json_t            *header, *payload, *alg;
    const char        *dot1, *dot2;
    walrus_jwt_alg_e   talg;

    memset(claims, 0, sizeof(walrus_jwt_claims_t));

    if (len > WALRUS_JWT_MAX_LEN) {
        *why = "the token is longer than 4096 bytes";
        return WALRUS_JWT_MALFORMED;
    }

    dot1 = memchr(token, '.', len);
    dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', token + len - dot1 - 1)
                        : NULL;

    if (dot2 == NULL || memchr(dot2 + 1, '.', token + len - dot2 - 1)) {
        *why = "the token is not three parts separated by dots";
        return WALRUS_JWT_MALFORMED;
    }

    header = walrus_jwt_part(token, dot1 - token);
    if (header == NULL) {
        *why = "the token's header is not a base64url JSON object";
        return WALRUS_JWT_MALFORMED;
    }

    alg = json_object_get(header, "alg");

    if (!json_is_string(alg)) {
        json_decref(header);
        *why = "the token's header has no \"alg\"";
        return WALRUS_JWT_MALFORMED;
    }

    /*
     * the keys decide the algorithms, never the token ("none" included):
     * a token is checked only with the keys of the algorithm it names
     */

    for (i = 0; i < nkeys; i++) {
        if (walrus_jwt_alg_parse(json_string_value(alg), &talg) == WALRUS_OK
            && keys[i]->alg == talg)
        {
            break;
        }
    }

    if (i == nkeys) {
        json_decref(header);
        *why = "the token's algorithm is not one this gateway accepts";
        return WALRUS_JWT_ALG;
    }

    /* extensions that must be understood: we understand none */

    if (json_object_get(header, "crit") != NULL) {
        json_decref(header);
        *why = "the token's header has \"crit\" extensions";
        return WALRUS_JWT_MALFORMED;
    }

    json_decref(header);

    payload = walrus_jwt_part(dot1 + 1, dot2 - dot1 - 1);
    if (payload == NULL) {
        *why = "the token's payload is not a base64url JSON object";
        return WALRUS_JWT_MALFORMED;
    }

    if (dot2 + 1 == token + len) {
        json_decref(payload);
        *why = "the token has no signature";
        return WALRUS_JWT_ALG;
    }

    for (i = 0; i < nkeys; i++) {
        if (keys[i]->alg == talg
            && walrus_jwt_signature(keys[i], token, len, dot2 - token)
               == WALRUS_OK)
        {
            break;
        }
    }

    if (i == nkeys) {
        json_decref(payload);
        *why = "the token's signature does not verify with this gateway's "
               "keys";
        return WALRUS_JWT_SIGNATURE;
    }

    rc = walrus_jwt_claims(payload, claims, why);
    json_decref(payload);

    if (rc != WALRUS_JWT_OK) {
        return rc;
    }

    /* as written, a far exp or iat cannot overflow */

    if (now - leeway > claims->exp) {
        *why = "the token has expired";
        return WALRUS_JWT_EXPIRED;
    }

    if ((claims->iat != WALRUS_JWT_UNSET && claims->iat > now + leeway)
        || (claims->nbf != WALRUS_JWT_UNSET && claims->nbf > now + leeway))
    {
        *why = "the token is issued for a later time (iat or nbf)";
        return WALRUS_JWT_TIMESTAMP;
    }

    return WALRUS_JWT_OK;
}


static int
walrus_jwt_signature(const walrus_jwt_key_t *key, const char *token,
    size_t len, size_t input_len)
{
    int       rc;
    char     *copy;
    jwt_t    *jwt;
    size_t    n;
    uint8_t   sig[WALRUS_JWT_MAX_LEN];

    if (key->alg == WALRUS_JWT_EDDSA) {
        if (walrus_base64url_decode(token + input_len + 1,
                                    len - input_len - 1, sig, &n)
            != WALRUS_OK
            || n != WALRUS_SIG_LEN)
        {
            return WALRUS_ESIGNATURE;
        }

        return walrus_verify(key->pkey, (const uint8_t *) token, input_len,
                             sig);
    }

    /* libjwt reads a NUL-terminated token */

    copy = malloc(len + 1);
    if (copy == NULL) {
        return WALRUS_ENOMEM;
    }

    memcpy(copy, token, len);
    copy[len] = '\0';

    jwt = NULL;
    rc = jwt_decode(&jwt, copy, key->bytes, (int) key->len);
    free(copy);

    if (rc != 0 || jwt == NULL) {
        return WALRUS_ESIGNATURE;
    }

    /* belt and braces: libjwt verified with the algorithm we expected */
    rc = jwt_get_alg(jwt) == walrus_jwt_algs[key->alg].libjwt
         ? WALRUS_OK : WALRUS_ESIGNATURE;

    jwt_free(jwt);

    return rc;
}


/* an integer claim, WALRUS_JWT_UNSET when absent */

static int
walrus_jwt_claim(json_t *payload, const char *name, int64_t *v,
    const char **why)
{
    json_t  *j;

    j = json_object_get(payload, name);

    if (j == NULL) {
        *v = WALRUS_JWT_UNSET;
        return WALRUS_JWT_OK;
    }

    if (!json_is_integer(j) || json_integer_value(j) < 0) {
        *why = "a claim (exp, iat, nbf, epochs, max_epochs, size, max_size)"
               " is not a non-negative integer";
        return WALRUS_JWT_MALFORMED;
    }

    *v = json_integer_value(j);

    return WALRUS_JWT_OK;
}


static int
walrus_jwt_claims(json_t *payload, walrus_jwt_claims_t *c, const char **why)
{
    json_t      *jti;
    const char  *s;

    if (walrus_jwt_claim(payload, "exp", &c->exp, why) != WALRUS_JWT_OK
        || walrus_jwt_claim(payload, "iat", &c->iat, why) != WALRUS_JWT_OK
        || walrus_jwt_claim(payload, "nbf", &c->nbf, why) != WALRUS_JWT_OK
        || walrus_jwt_claim(payload, "epochs", &c->epochs, why)
           != WALRUS_JWT_OK
        || walrus_jwt_claim(payload, "max_epochs", &c->max_epochs, why)
           != WALRUS_JWT_OK
        || walrus_jwt_claim(payload, "size", &c->size, why) != WALRUS_JWT_OK
        || walrus_jwt_claim(payload, "max_size", &c->max_size, why)
           != WALRUS_JWT_OK)
    {
        return WALRUS_JWT_MALFORMED;
    }

    if (c->exp == WALRUS_JWT_UNSET) {
        *why = "the token has no \"exp\" claim";
        return WALRUS_JWT_MALFORMED;
    }

    /* Walrus requires jti: without it a token could be replayed */

    jti = json_object_get(payload, "jti");

    if (!json_is_string(jti)) {
        *why = "the token has no \"jti\" string claim";
        return WALRUS_JWT_MALFORMED;
    }

    s = json_string_value(jti);
    c->jti_len = json_string_length(jti);

    if (c->jti_len == 0 || c->jti_len > WALRUS_JWT_JTI_MAX) {
        *why = "the token's \"jti\" is empty or longer than 128 bytes";
        return WALRUS_JWT_MALFORMED;
    }

    memcpy(c->jti, s, c->jti_len);
    c->jti[c->jti_len] = '\0';

    c->send_object_to = json_object_get(payload, "send_object_to") != NULL;

    return WALRUS_JWT_OK;
}


int
walrus_jwt_check_lifetime(const walrus_jwt_claims_t *c, int64_t now,
    int64_t max_lifetime, int64_t leeway, const char **why)
{
    if (max_lifetime > 0 && c->exp - now > max_lifetime + leeway) {
        *why = "the token expires later than this gateway accepts";
        return WALRUS_JWT_LIFETIME;
    }

    return WALRUS_JWT_OK;
}


int
walrus_jwt_check_upload(const walrus_jwt_claims_t *c, int64_t length,
    int64_t epochs, const char **why)
{
    if (c->size != WALRUS_JWT_UNSET && c->max_size != WALRUS_JWT_UNSET) {
        *why = "the token has both \"size\" and \"max_size\"";
        return WALRUS_JWT_SIZES;
    }

    if (c->epochs != WALRUS_JWT_UNSET && c->max_epochs != WALRUS_JWT_UNSET) {
        *why = "the token has both \"epochs\" and \"max_epochs\"";
        return WALRUS_JWT_EPOCHS;
    }

    if (c->epochs != WALRUS_JWT_UNSET && epochs != c->epochs) {
        *why = "the upload's epochs are not the token's \"epochs\"";
        return WALRUS_JWT_EPOCHS;
    }

    if (c->max_epochs != WALRUS_JWT_UNSET && epochs > c->max_epochs) {
        *why = "the upload's epochs are more than the token's "
               "\"max_epochs\"";
        return WALRUS_JWT_EPOCHS_MAX;
    }

    if (c->send_object_to) {
        *why = "the token names a \"send_object_to\" owner; this gateway "
               "creates no Sui objects";
        return WALRUS_JWT_SEND_OBJECT_TO;
    }

    if (length == WALRUS_JWT_UNSET) {
        return WALRUS_JWT_OK;
    }

    if (c->max_size != WALRUS_JWT_UNSET && length > c->max_size) {
        *why = "the blob is larger than the token's \"max_size\"";
        return WALRUS_JWT_MAX_SIZE;
    }

    if (c->size != WALRUS_JWT_UNSET && length != c->size) {
        *why = "the blob is not the token's \"size\" bytes";
        return WALRUS_JWT_SIZE;
    }

    return WALRUS_JWT_OK;
}
