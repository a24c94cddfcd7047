/*
 * Ed25519 node keys and storage confirmations (OpenSSL EVP).
 *
 * A confirmation is an Ed25519 signature over the 52-byte message
 * "walrus-confirm:1" (16 ASCII bytes) || epoch u32 LE || blob ID.
 */

#ifndef _WALRUS_SIGN_H_INCLUDED_
#define _WALRUS_SIGN_H_INCLUDED_


#include <openssl/types.h>
#include <walrus_types.h>


#define WALRUS_CONFIRM_TAG      "walrus-confirm:1"
#define WALRUS_CONFIRM_TAG_LEN  16
#define WALRUS_CONFIRM_MSG_LEN                                               \
    (WALRUS_CONFIRM_TAG_LEN + 4 + WALRUS_BLOB_ID_LEN)


int walrus_key_generate(EVP_PKEY **key);

/* PEM files; loading anything but an Ed25519 key is WALRUS_EFORMAT */
int walrus_key_load_private(const char *path, EVP_PKEY **key);
int walrus_key_load_public(const char *path, EVP_PKEY **key);
int walrus_key_parse_public(const char *pem, size_t len, EVP_PKEY **key);

/* the 32 raw bytes of the public key of an Ed25519 key, public or not */
int walrus_key_raw_public(EVP_PKEY *key, uint8_t *raw);

/* the private key file is created with mode 0600 and never overwritten */
int walrus_key_write_private(EVP_PKEY *key, const char *path);
int walrus_key_write_public(EVP_PKEY *key, const char *path);

/* an Ed25519 signature of msg: 64 bytes into sig */
int walrus_sign(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t *sig);
int walrus_verify(EVP_PKEY *key, const uint8_t *msg, size_t len,
    const uint8_t *sig);

void walrus_confirmation_message(uint32_t epoch, const uint8_t *blob_id,
    uint8_t *msg);
int walrus_confirmation_sign(EVP_PKEY *key, uint32_t epoch,
    const uint8_t *blob_id, uint8_t *sig);
int walrus_confirmation_verify(EVP_PKEY *key, uint32_t epoch,
    const uint8_t *blob_id, const uint8_t *sig);


#endif /* _WALRUS_SIGN_H_INCLUDED_ */
