/*
 * The committee file (JSON): epoch, n, segment size, the storage nodes
 * with their shards and Ed25519 public keys, and the publishers whose
 * registrations the nodes accept.  Read by the gateway, the
 * storage nodes and walrusctl.  See docs/protocol.md for the format.
 */

#ifndef _WALRUS_COMMITTEE_H_INCLUDED_
#define _WALRUS_COMMITTEE_H_INCLUDED_


#include <openssl/types.h>
#include <walrus_types.h>


#define WALRUS_MAX_NAME_LEN  64
#define WALRUS_MAX_URL_LEN   1024
#define WALRUS_MAX_COMMITTEE_FILE  (4 * 1024 * 1024)
#define WALRUS_MAX_PUBLISHERS  1024


typedef struct {
    char       *name;
    char       *url;
    unsigned   *shards;
    unsigned    nshards;
    EVP_PKEY   *public_key;
} walrus_node_t;


/* a gateway (or script) whose registrations the nodes accept */
typedef struct {
    char       *name;
    EVP_PKEY   *public_key;
    uint8_t     raw_key[WALRUS_PUBLIC_KEY_LEN];
} walrus_publisher_t;


typedef struct {
    uint32_t             epoch;
    walrus_params_t      params;
    uint32_t             segment_size;
    unsigned             nnodes;
    walrus_node_t       *nodes;
    uint8_t              shard_owner[WALRUS_MAX_SHARDS]; /* node of shard */
    unsigned             npublishers;
    walrus_publisher_t  *publishers;
} walrus_committee_t;


/*
 * Relative public key paths are taken from the file's directory.  On
 * failure err holds a message naming the offending field.
 */
int walrus_committee_load(walrus_committee_t *c, const char *path,
    char *err, size_t errlen);
int walrus_committee_parse(walrus_committee_t *c, const char *json,
    size_t len, const char *base_dir, char *err, size_t errlen);
void walrus_committee_free(walrus_committee_t *c);

/* index of the node called name, or -1 */
int walrus_committee_find(const walrus_committee_t *c, const char *name);

/* index of the publisher with this raw Ed25519 public key, or -1 */
int walrus_committee_find_publisher(const walrus_committee_t *c,
    const uint8_t *raw_key);

/* a loader's message into err (the committee's and its history's) */
void walrus_committee_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));


#endif /* _WALRUS_COMMITTEE_H_INCLUDED_ */
