/*
 * Publisher tokens: JSON Web Tokens (RFC 7519) with the claims Walrus
 * publishers read (exp, iat, jti, epochs, max_epochs, size, max_size,
 * send_object_to).
 *
 * HS256/384/512, RS256/384/512 and ES256/384/512 signatures are checked
 * by libjwt (Debian 12 ships 1.10.2, which has no EdDSA); EdDSA tokens
 * (Ed25519) are checked with OpenSSL over the JWS signing input.  The
 * token's "alg" must be the key's: "none" and an algorithm of another
 * family (an RSA public key used as an HMAC secret) never pass.
 */

#ifndef _WALRUS_JWT_H_INCLUDED_
#define _WALRUS_JWT_H_INCLUDED_


#include <openssl/types.h>
#include <walrus_types.h>


/* longer tokens and token IDs are refused, so both are bounded */
#define WALRUS_JWT_MAX_LEN      4096
#define WALRUS_JWT_JTI_MAX      128

#define WALRUS_JWT_UNSET        (-1)


typedef enum {
    WALRUS_JWT_OK = 0,
    WALRUS_JWT_MALFORMED,       /* not a JWS of three base64url parts */
    WALRUS_JWT_ALG,             /* "alg" is not the key's */
    WALRUS_JWT_SIGNATURE,       /* the signature does not verify */
    WALRUS_JWT_EXPIRED,         /* now > exp + leeway */
    WALRUS_JWT_TIMESTAMP,       /* iat or nbf after now + leeway */
    WALRUS_JWT_SIZES,           /* both size and max_size */
    WALRUS_JWT_MAX_SIZE,        /* the blob is larger than max_size */
    WALRUS_JWT_SIZE,            /* the blob is not size bytes */
    WALRUS_JWT_EPOCHS,          /* not epochs, or epochs and max_epochs */
    WALRUS_JWT_EPOCHS_MAX,      /* more than max_epochs */
    WALRUS_JWT_SEND_OBJECT_TO,  /* asks for a Sui owner we cannot set */
    WALRUS_JWT_LIFETIME         /* exp further than the longest lifetime */
} walrus_jwt_rc_e;


typedef enum {
    WALRUS_JWT_HS256 = 0,
    WALRUS_JWT_HS384,
    WALRUS_JWT_HS512,
    WALRUS_JWT_RS256,
    WALRUS_JWT_RS384,
    WALRUS_JWT_RS512,
    WALRUS_JWT_ES256,
    WALRUS_JWT_ES384,
    WALRUS_JWT_ES512,
    WALRUS_JWT_EDDSA
} walrus_jwt_alg_e;


typedef struct {
    walrus_jwt_alg_e   alg;
    uint8_t           *bytes;     /* HMAC secret, or PEM text for libjwt */
    size_t             len;
    EVP_PKEY          *pkey;      /* EdDSA */
} walrus_jwt_key_t;


/* the claims of a token; WALRUS_JWT_UNSET where a claim is absent */
typedef struct {
    int64_t   exp;
    int64_t   iat;
    int64_t   nbf;
    int64_t   epochs;
    int64_t   max_epochs;
    int64_t   size;
    int64_t   max_size;
    size_t    jti_len;
    char      jti[WALRUS_JWT_JTI_MAX + 1];
    unsigned  send_object_to:1;
} walrus_jwt_claims_t;


/*
 * The key of alg ("HS256", ..., "EdDSA") in the file at path: an HMAC
 * secret (the file's bytes, a final newline dropped; at least as long
 * as the hash), or a PEM public key of the algorithm's type.
 * WALRUS_EINVAL for an unknown algorithm, WALRUS_EIO, WALRUS_EFORMAT
 * (with *why) for a key that does not fit.
 */
int walrus_jwt_key_load(const char *alg, const char *path,
    walrus_jwt_key_t **key, const char **why);
void walrus_jwt_key_free(walrus_jwt_key_t *key);

/*
 * Checks the token's form, algorithm (one of the keys'), signature (by
 * a key of that algorithm: several keys let issuers rotate theirs), exp
 * (required), iat and nbf (optional) against now with leeway seconds of
 * clock skew, and jti (required): a walrus_jwt_rc_e, with *why saying
 * what for people.
 */
int walrus_jwt_verify(walrus_jwt_key_t *const *keys, size_t nkeys,
    const char *token, size_t len, int64_t now, int64_t leeway,
    walrus_jwt_claims_t *claims, const char **why);

/*
 * A verified token whose exp is more than max_lifetime + leeway seconds
 * after now is WALRUS_JWT_LIFETIME (max_lifetime 0: any lifetime).
 */
int walrus_jwt_check_lifetime(const walrus_jwt_claims_t *claims,
    int64_t now, int64_t max_lifetime, int64_t leeway, const char **why);

/*
 * Checks an upload of length bytes (WALRUS_JWT_UNSET: not known yet,
 * then only what does not need it) for epochs epochs against the claims.
 */
int walrus_jwt_check_upload(const walrus_jwt_claims_t *claims,
    int64_t length, int64_t epochs, const char **why);

/* the Walrus error reason of a walrus_jwt_rc_e, and our HTTP status */
const char *walrus_jwt_reason(int rc);
unsigned walrus_jwt_status(int rc);


#endif /* _WALRUS_JWT_H_INCLUDED_ */
