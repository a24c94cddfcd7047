/*
 * The committee file: a valid committee loads, bad ones are rejected with
 * a message naming the field.
 */

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <walrus_committee.h>
#include <walrus_sign.h>
#include <tap.h>


#define WALRUS_TEST_KEYS  10

/* @0..@7 are Ed25519 public keys, @8 is an EC P-256 key, @9 is RSA */

#define FIELDS  "\"epoch\":1,\"n_shards\":4,\"segment_size\":1048576"
#define N0  "{\"name\":\"a\",\"url\":\"http://h:1\",\"shards\":[0]," \
            "\"public_key\":\"@0\"}"
#define N1  "{\"name\":\"b\",\"url\":\"http://h:2\",\"shards\":[1]," \
            "\"public_key\":\"@1\"}"
#define N2  "{\"name\":\"c\",\"url\":\"http://h:3\",\"shards\":[2]," \
            "\"public_key\":\"@2\"}"
#define N3  "{\"name\":\"d\",\"url\":\"https://h:4\",\"shards\":[3]," \
            "\"public_key\":\"@3\"}"
#define NODES3  N0 "," N1 "," N2
#define NODES   NODES3 "," N3
#define COMMITTEE(fields, nodes)  "{" fields ",\"nodes\":[" nodes "]}"
#define NODE(name, url, shards, key)                                         \
    "{\"name\":\"" name "\",\"url\":\"" url "\",\"shards\":[" shards "],"    \
    "\"public_key\":\"@" key "\"}"
#define PUBS(pubs)                                                           \
    "{" FIELDS ",\"nodes\":[" NODES "],\"publishers\":[" pubs "]}"
#define PUB(name, key)  "{\"name\":\"" name "\",\"public_key\":\"@" key "\"}"


typedef struct {
    const char  *what;
    const char  *json;
    const char  *msg;
} walrus_test_case_t;


static void walrus_test_keys(const char *dir);
static char *walrus_test_expand(const char *tmpl);
static int walrus_test_write_file(const char *path, const char *text,
    size_t len);
static void walrus_test_valid(const char *dir);
static void walrus_test_small(void);
static char *walrus_test_many_nodes(unsigned count);
static void walrus_test_bad(const char *dir);
static void walrus_test_truncated(void);
static void walrus_test_files(const char *dir);
static void walrus_test_publishers(const char *dir);


static char  *walrus_test_pem[WALRUS_TEST_KEYS];
static char  *walrus_test_json_pem[WALRUS_TEST_KEYS];

static const walrus_test_case_t  walrus_test_cases[] = {

    { "garbage", "hello", NULL },
    { "number", "1", NULL },
    { "array", "[1]", NULL },
    { "null", "null", NULL },
    { "empty", "", NULL },
    { "empty object", "{}", "missing field \"epoch\"" },
    { "trailing garbage", COMMITTEE(FIELDS, NODES) "x", NULL },

    { "missing epoch",
      "{\"n_shards\":4,\"segment_size\":1048576,\"nodes\":[" NODES "]}",
      "missing field \"epoch\"" },
    { "missing n_shards",
      "{\"epoch\":1,\"segment_size\":1048576,\"nodes\":[" NODES "]}",
      "missing field \"n_shards\"" },
    { "missing segment_size",
      "{\"epoch\":1,\"n_shards\":4,\"nodes\":[" NODES "]}",
      "missing field \"segment_size\"" },
    { "missing nodes", "{" FIELDS "}", "missing field \"nodes\"" },
    { "node missing name",
      COMMITTEE(FIELDS, NODES3 ",{\"url\":\"http://h\",\"shards\":[3],"
                "\"public_key\":\"@3\"}"),
      "nodes[3]: missing field \"name\"" },
    { "node missing url",
      COMMITTEE(FIELDS, NODES3 ",{\"name\":\"d\",\"shards\":[3],"
                "\"public_key\":\"@3\"}"),
      "nodes[3]: missing field \"url\"" },
    { "node missing shards",
      COMMITTEE(FIELDS, NODES3 ",{\"name\":\"d\",\"url\":\"http://h\","
                "\"public_key\":\"@3\"}"),
      "nodes[3]: missing field \"shards\"" },
    { "node missing key",
      COMMITTEE(FIELDS, NODES3 ",{\"name\":\"d\",\"url\":\"http://h\","
                "\"shards\":[3]}"),
      "nodes[3]: missing field \"public_key_file\" or \"public_key\"" },

    { "unknown top-level field",
      COMMITTEE(FIELDS ",\"epcoh\":2", NODES), "unknown field \"epcoh\"" },
    { "unknown node field",
      COMMITTEE(FIELDS, NODES3 ",{\"name\":\"d\",\"url\":\"http://h\","
                "\"shards\":[3],\"public_key\":\"@3\",\"shard\":[3]}"),
      "nodes[3]: unknown field \"shard\"" },
    { "duplicate top-level key",
      COMMITTEE(FIELDS ",\"epoch\":1", NODES), "duplicate" },
    { "duplicate node key",
      COMMITTEE(FIELDS, NODES3 ",{\"name\":\"d\",\"name\":\"e\","
                "\"url\":\"http://h\",\"shards\":[3],"
                "\"public_key\":\"@3\"}"),
      "duplicate" },

    { "n_shards 3",
      COMMITTEE("\"epoch\":1,\"n_shards\":3,\"segment_size\":1048576",
                NODES3),
      "n_shards: 3 is out of range 4..255" },
    { "n_shards 256",
      COMMITTEE("\"epoch\":1,\"n_shards\":256,\"segment_size\":1048576",
                NODES),
      "n_shards: 256 is out of range 4..255" },
    { "n_shards 0",
      COMMITTEE("\"epoch\":1,\"n_shards\":0,\"segment_size\":1048576",
                NODES),
      "n_shards" },
    { "n_shards -4",
      COMMITTEE("\"epoch\":1,\"n_shards\":-4,\"segment_size\":1048576",
                NODES),
      "n_shards" },
    { "n_shards 4.0",
      COMMITTEE("\"epoch\":1,\"n_shards\":4.0,\"segment_size\":1048576",
                NODES),
      "n_shards: expected an integer" },
    { "n_shards string",
      COMMITTEE("\"epoch\":1,\"n_shards\":\"4\",\"segment_size\":1048576",
                NODES),
      "n_shards: expected an integer, got a string" },

    { "epoch string",
      COMMITTEE("\"epoch\":\"1\",\"n_shards\":4,\"segment_size\":1048576",
                NODES),
      "epoch: expected an integer, got a string" },
    { "epoch float",
      COMMITTEE("\"epoch\":1.5,\"n_shards\":4,\"segment_size\":1048576",
                NODES),
      "epoch: expected an integer" },
    { "epoch 1e3",
      COMMITTEE("\"epoch\":1e3,\"n_shards\":4,\"segment_size\":1048576",
                NODES),
      "epoch: expected an integer" },
    { "epoch negative",
      COMMITTEE("\"epoch\":-1,\"n_shards\":4,\"segment_size\":1048576",
                NODES),
      "epoch: -1 is out of range" },
    { "epoch 2^32",
      COMMITTEE("\"epoch\":4294967296,\"n_shards\":4,"
                "\"segment_size\":1048576", NODES),
      "epoch: 4294967296 is out of range" },
    { "epoch 2^64",
      COMMITTEE("\"epoch\":18446744073709551616,\"n_shards\":4,"
                "\"segment_size\":1048576", NODES),
      NULL },
    { "epoch null",
      COMMITTEE("\"epoch\":null,\"n_shards\":4,\"segment_size\":1048576",
                NODES),
      "epoch: expected an integer, got null" },
    { "epoch true",
      COMMITTEE("\"epoch\":true,\"n_shards\":4,\"segment_size\":1048576",
                NODES),
      "epoch: expected an integer, got a boolean" },

    { "segment_size 1023",
      COMMITTEE("\"epoch\":1,\"n_shards\":4,\"segment_size\":1023", NODES),
      "segment_size: 1023 is out of range" },
    { "segment_size 0",
      COMMITTEE("\"epoch\":1,\"n_shards\":4,\"segment_size\":0", NODES),
      "segment_size" },
    { "segment_size 256 MiB + 1",
      COMMITTEE("\"epoch\":1,\"n_shards\":4,\"segment_size\":268435457",
                NODES),
      "segment_size: 268435457 is out of range" },
    { "segment_size negative",
      COMMITTEE("\"epoch\":1,\"n_shards\":4,\"segment_size\":-1048576",
                NODES),
      "segment_size" },
    { "segment_size float",
      COMMITTEE("\"epoch\":1,\"n_shards\":4,\"segment_size\":1048576.0",
                NODES),
      "segment_size: expected an integer" },

    { "nodes not an array", "{" FIELDS ",\"nodes\":{}}",
      "nodes: expected an array, got an object" },
    { "no nodes", COMMITTEE(FIELDS, ""), "nodes: 0 nodes" },
    { "node not an object", COMMITTEE(FIELDS, NODES3 ",[]"),
      "nodes[3]: expected an object, got an array" },

    { "shard out of range",
      COMMITTEE(FIELDS, NODES3 "," NODE("d", "http://h", "4", "3")),
      "nodes[3].shards[0]: shard 4 is out of range 0..3" },
    { "shard negative",
      COMMITTEE(FIELDS, NODES3 "," NODE("d", "http://h", "3,-1", "3")),
      "nodes[3].shards[1]: shard -1 is out of range 0..3" },
    { "shard float",
      COMMITTEE(FIELDS, NODES3 "," NODE("d", "http://h", "3.0", "3")),
      "nodes[3].shards[0]: expected an integer" },
    { "shard string",
      COMMITTEE(FIELDS, NODES3 "," NODE("d", "http://h", "\"3\"", "3")),
      "nodes[3].shards[0]: expected an integer, got a string" },
    { "shards not an array",
      COMMITTEE(FIELDS, NODES3 ",{\"name\":\"d\",\"url\":\"http://h\","
                "\"shards\":3,\"public_key\":\"@3\"}"),
      "nodes[3].shards: expected an array" },
    { "shard owned twice",
      COMMITTEE(FIELDS, NODES3 "," NODE("d", "http://h", "3,1", "3")),
      "nodes[3].shards[1]: shard 1 is also owned by nodes[1] (\"b\")" },
    { "shard listed twice",
      COMMITTEE(FIELDS, NODES3 "," NODE("d", "http://h", "3,3", "3")),
      "nodes[3].shards[1]: shard 3 is listed twice" },
    { "shard missing",
      COMMITTEE("\"epoch\":1,\"n_shards\":5,\"segment_size\":1048576",
                NODES),
      "shard 4 is not owned by any node" },
    { "more shards than n",
      COMMITTEE(FIELDS, NODE("a", "http://h", "0,1,2,3,0", "0")),
      "nodes[0].shards: 5 shards" },

    { "duplicate node names",
      COMMITTEE(FIELDS, NODES3 "," NODE("b", "http://h", "3", "3")),
      "nodes[3].name: \"b\" is also the name of nodes[1]" },
    { "empty name",
      COMMITTEE(FIELDS, NODES3 "," NODE("", "http://h", "3", "3")),
      "nodes[3].name" },
    { "name with a space",
      COMMITTEE(FIELDS, NODES3 "," NODE("d e", "http://h", "3", "3")),
      "nodes[3].name: only" },
    { "name with a slash",
      COMMITTEE(FIELDS, NODES3 "," NODE("../d", "http://h", "3", "3")),
      "nodes[3].name: only" },
    { "name with UTF-8",
      COMMITTEE(FIELDS, NODES3 "," NODE("d\\u00e9", "http://h", "3", "3")),
      "nodes[3].name: only" },
    { "name with NUL",
      COMMITTEE(FIELDS, NODES3 "," NODE("d\\u0000", "http://h", "3", "3")),
      NULL },
    { "name too long",
      COMMITTEE(FIELDS, NODES3 "," NODE("0123456789012345678901234567890"
                "12345678901234567890123456789012345", "http://h", "3", "3")),
      "nodes[3].name: length must be 1..64" },
    { "name not a string",
      COMMITTEE(FIELDS, NODES3 ",{\"name\":4,\"url\":\"http://h\","
                "\"shards\":[3],\"public_key\":\"@3\"}"),
      "nodes[3].name: expected a string, got an integer" },

    { "url ftp",
      COMMITTEE(FIELDS, NODES3 "," NODE("d", "ftp://h", "3", "3")),
      "nodes[3].url: must start with" },
    { "url without scheme",
      COMMITTEE(FIELDS, NODES3 "," NODE("d", "h:80", "3", "3")),
      "nodes[3].url: must start with" },
    { "url empty",
      COMMITTEE(FIELDS, NODES3 "," NODE("d", "", "3", "3")),
      "nodes[3].url: length" },
    { "url with a space",
      COMMITTEE(FIELDS, NODES3 "," NODE("d", "http://h /x", "3", "3")),
      "nodes[3].url: spaces" },
    { "url with a newline",
      COMMITTEE(FIELDS, NODES3 "," NODE("d", "http://h\\n", "3", "3")),
      "nodes[3].url: spaces" },
    { "url null",
      COMMITTEE(FIELDS, NODES3 ",{\"name\":\"d\",\"url\":null,"
                "\"shards\":[3],\"public_key\":\"@3\"}"),
      "nodes[3].url: expected a string, got null" },

    { "missing key file",
      COMMITTEE(FIELDS, NODES3 ",{\"name\":\"d\",\"url\":\"http://h\","
                "\"shards\":[3],\"public_key_file\":\"keys/nope.pub\"}"),
      "nodes[3].public_key_file: cannot open" },
    { "key file is a directory",
      COMMITTEE(FIELDS, NODES3 ",{\"name\":\"d\",\"url\":\"http://h\","
                "\"shards\":[3],\"public_key_file\":\"keys\"}"),
      "nodes[3].public_key_file" },
    { "key file empty name",
      COMMITTEE(FIELDS, NODES3 ",{\"name\":\"d\",\"url\":\"http://h\","
                "\"shards\":[3],\"public_key_file\":\"\"}"),
      "nodes[3].public_key_file: expected a file name" },
    { "key file EC",
      COMMITTEE(FIELDS, NODES3 ",{\"name\":\"d\",\"url\":\"http://h\","
                "\"shards\":[3],\"public_key_file\":\"keys/ec.pub\"}"),
      "is not an Ed25519 public key" },
    { "key file private key",
      COMMITTEE(FIELDS, NODES3 ",{\"name\":\"d\",\"url\":\"http://h\","
                "\"shards\":[3],\"public_key_file\":\"keys/node3.key\"}"),
      "is not an Ed25519 public key" },
    { "inline EC key",
      COMMITTEE(FIELDS, NODES3 "," NODE("d", "http://h", "3", "8")),
      "nodes[3].public_key: not an Ed25519 public key" },
    { "inline RSA key",
      COMMITTEE(FIELDS, NODES3 "," NODE("d", "http://h", "3", "9")),
      "nodes[3].public_key: not an Ed25519 public key" },
    { "inline garbage key",
      COMMITTEE(FIELDS, NODES3 ",{\"name\":\"d\",\"url\":\"http://h\","
                "\"shards\":[3],\"public_key\":\"-----BEGIN PUBLIC KEY-----"
                "\\nAAAA\\n-----END PUBLIC KEY-----\\n\"}"),
      "nodes[3].public_key: not an Ed25519 public key" },
    { "inline key not a string",
      COMMITTEE(FIELDS, NODES3 ",{\"name\":\"d\",\"url\":\"http://h\","
                "\"shards\":[3],\"public_key\":[]}"),
      "nodes[3].public_key: expected a string, got an array" },
    { "both key forms",
      COMMITTEE(FIELDS, NODES3 ",{\"name\":\"d\",\"url\":\"http://h\","
                "\"shards\":[3],\"public_key\":\"@3\","
                "\"public_key_file\":\"keys/node3.pub\"}"),
      "nodes[3]: give only one of" },
    { "duplicate inline key",
      COMMITTEE(FIELDS, NODES3 "," NODE("d", "http://h", "3", "1")),
      "nodes[3]: same public key as nodes[1] (\"b\")" },
    { "duplicate key inline and file",
      COMMITTEE(FIELDS, NODES3 ",{\"name\":\"d\",\"url\":\"http://h\","
                "\"shards\":[3],\"public_key_file\":\"keys/node0.pub\"}"),
      "nodes[3]: same public key as nodes[0] (\"a\")" },

    { "publishers not an array",
      "{" FIELDS ",\"nodes\":[" NODES "],\"publishers\":{}}",
      "publishers: expected an array, got an object" },
    { "publisher not an object", PUBS("1"),
      "publishers[0]: expected an object, got an integer" },
    { "publisher with a url",
      PUBS("{\"name\":\"g\",\"url\":\"http://h\",\"public_key\":\"@4\"}"),
      "publishers[0]: unknown field \"url\"" },
    { "publisher without a name", PUBS("{\"public_key\":\"@4\"}"),
      "publishers[0]: missing field \"name\"" },
    { "publisher name with a space", PUBS(PUB("g w", "4")),
      "publishers[0].name: only" },
    { "publisher name twice", PUBS(PUB("g", "4") "," PUB("g", "5")),
      "publishers[1].name: \"g\" is also the name of publishers[0]" },
    { "publisher without a key", PUBS("{\"name\":\"g\"}"),
      "publishers[0]: missing field \"public_key_file\" or \"public_key\"" },
    { "publisher with both key forms",
      PUBS("{\"name\":\"g\",\"public_key\":\"@4\","
           "\"public_key_file\":\"keys/node4.pub\"}"),
      "publishers[0]: give only one of" },
    { "publisher EC key", PUBS(PUB("g", "8")),
      "publishers[0].public_key: not an Ed25519 public key" },
    { "publisher key file missing",
      PUBS("{\"name\":\"g\",\"public_key_file\":\"keys/nope.pub\"}"),
      "publishers[0].public_key_file: cannot open" },
    { "publisher key twice", PUBS(PUB("g", "4") "," PUB("h", "4")),
      "publishers[1]: same public key as publishers[0] (\"g\")" },

    { NULL, NULL, NULL }
};


int
main(void)
{
    int   i;
    char  dir[] = "/tmp/walrus-test-committee-XXXXXX", path[256];

    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }

    walrus_test_keys(dir);

    walrus_test_valid(dir);
    walrus_test_small();
    walrus_test_bad(dir);
    walrus_test_truncated();
    walrus_test_files(dir);
    walrus_test_publishers(dir);

    for (i = 0; i < WALRUS_TEST_KEYS; i++) {
        free(walrus_test_pem[i]);
        free(walrus_test_json_pem[i]);

        snprintf(path, sizeof(path), "%s/keys/node%d.pub", dir, i);
        unlink(path);
    }

    snprintf(path, sizeof(path), "%s/keys/node3.key", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/keys/ec.pub", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/keys", dir);
    rmdir(path);
    rmdir(dir);

    return tap_done();
}


static void
walrus_test_keys(const char *dir)
{
    int        i;
    BIO       *bio;
    char      *data, *p, *q, path[256];
    long       len;
    EVP_PKEY  *key;

    snprintf(path, sizeof(path), "%s/keys", dir);
    mkdir(path, 0700);

    for (i = 0; i < WALRUS_TEST_KEYS; i++) {
        if (i < 8) {
            walrus_key_generate(&key);

        } else if (i == 8) {
            key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

        } else {
            key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
        }

        if (key == NULL) {
            printf("Bail out! key generation failed\n");
            exit(1);
        }

        bio = BIO_new(BIO_s_mem());
        PEM_write_bio_PUBKEY(bio, key);
        len = BIO_get_mem_data(bio, &data);

        walrus_test_pem[i] = strndup(data, (size_t) len);
        walrus_test_json_pem[i] = malloc(2 * (size_t) len + 1);

        /* a JSON string: newlines become \n */
        for (p = walrus_test_pem[i], q = walrus_test_json_pem[i];
             *p != '\0';
             p++)
        {
            if (*p == '\n') {
                *q++ = '\\';
                *q++ = 'n';

            } else {
                *q++ = *p;
            }
        }

        *q = '\0';

        if (i < 8) {
            snprintf(path, sizeof(path), "%s/keys/node%d.pub", dir, i);
            walrus_key_write_public(key, path);
        }

        if (i == 3) {
            snprintf(path, sizeof(path), "%s/keys/node3.key", dir);
            walrus_key_write_private(key, path);
        }

        if (i == 8) {
            snprintf(path, sizeof(path), "%s/keys/ec.pub", dir);
            walrus_test_write_file(path, walrus_test_pem[i],
                                   strlen(walrus_test_pem[i]));
        }

        BIO_free(bio);
        EVP_PKEY_free(key);
    }
}


static char *
walrus_test_expand(const char *tmpl)
{
    char        *out, *q;
    size_t       len;
    const char  *p;

    len = strlen(tmpl) + 1;

    for (p = tmpl; *p != '\0'; p++) {
        if (*p == '@') {
            len += strlen(walrus_test_json_pem[p[1] - '0']);
        }
    }

    out = malloc(len);

    for (p = tmpl, q = out; *p != '\0'; p++) {
        if (*p == '@') {
            q = stpcpy(q, walrus_test_json_pem[p[1] - '0']);
            p++;

        } else {
            *q++ = *p;
        }
    }

    *q = '\0';

    return out;
}


static int
walrus_test_write_file(const char *path, const char *text, size_t len)
{
    int  fd;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd == -1) {
        return -1;
    }

    if (write(fd, text, len) != (ssize_t) len) {
        close(fd);
        return -1;
    }

    return close(fd);
}


static void
walrus_test_valid(const char *dir)
{
    int                 rc;
    char               *json, path[256], err[256];
    unsigned            i;
    EVP_PKEY           *key;
    walrus_committee_t  c;

    static const uint8_t  owners[7] = { 0, 1, 2, 3, 4, 0, 2 };

    json = walrus_test_expand(
        "{\"epoch\": 4294967295, \"n_shards\": 7,\n"
        " \"segment_size\": 1024,\n"
        " \"nodes\": [\n"
        "  {\"name\": \"node0\", \"url\": \"http://127.0.0.1:9100\",\n"
        "   \"shards\": [0, 5], \"public_key_file\": \"keys/node0.pub\"},\n"
        "  {\"name\": \"Node_1.x-y\", \"url\": \"https://n1.example\",\n"
        "   \"shards\": [1], \"public_key_file\": \"keys/node1.pub\"},\n"
        "  {\"name\": \"node2\", \"url\": \"http://127.0.0.1:9102/p\",\n"
        "   \"shards\": [6, 2], \"public_key_file\": \"keys/node2.pub\"},\n"
        "  {\"name\": \"node3\", \"url\": \"http://127.0.0.1:9103\",\n"
        "   \"shards\": [3], \"public_key_file\": \"keys/node3.pub\"},\n"
        "  {\"name\": \"node4\", \"url\": \"http://127.0.0.1:9104\",\n"
        "   \"shards\": [4], \"public_key\": \"@4\"}\n"
        " ]}\n");

    snprintf(path, sizeof(path), "%s/committee.json", dir);
    walrus_test_write_file(path, json, strlen(json));

    memset(&c, 0xff, sizeof(c));
    err[0] = 'x';

    rc = walrus_committee_load(&c, path, err, sizeof(err));
    is_int(rc, WALRUS_OK, "valid committee loads");
    if (rc != WALRUS_OK) {
        printf("# %s\n", err);
        free(json);
        unlink(path);
        return;
    }

    ok(err[0] == '\0', "no error message");
    is_int(c.epoch, 4294967295u, "epoch");
    is_int(c.params.n, 7, "n");
    is_int(c.params.f, 2, "f");
    is_int(c.segment_size, 1024, "segment size");
    is_int(c.nnodes, 5, "five nodes");

    ok(strcmp(c.nodes[1].name, "Node_1.x-y") == 0, "node 1 name");
    ok(strcmp(c.nodes[1].url, "https://n1.example") == 0, "node 1 url");
    ok(strcmp(c.nodes[2].url, "http://127.0.0.1:9102/p") == 0,
       "node 2 url");
    is_int(c.nodes[0].nshards, 2, "node 0 has two shards");
    is_int(c.nodes[2].nshards, 2, "node 2 has two shards");
    ok(c.nodes[2].shards[0] == 6 && c.nodes[2].shards[1] == 2,
       "node 2 shards in file order");
    is_int(c.nodes[3].nshards, 1, "node 3 has one shard");

    for (i = 0; i < 7; i++) {
        is_int(c.shard_owner[i], owners[i], "owner of shard %u", i);
    }

    for (i = 0; i < c.nnodes; i++) {
        key = NULL;
        snprintf(path, sizeof(path), "%s/keys/node%u.pub", dir, i);
        walrus_key_load_public(path, &key);
        ok(key != NULL && EVP_PKEY_eq(key, c.nodes[i].public_key) == 1,
           "node %u has its public key", i);
        EVP_PKEY_free(key);
    }

    is_int(walrus_committee_find(&c, "node3"), 3, "find node3");
    is_int(walrus_committee_find(&c, "Node_1.x-y"), 1, "find Node_1.x-y");
    is_int(walrus_committee_find(&c, "node9"), -1, "node9 is not found");
    is_int(walrus_committee_find(&c, "node"), -1, "prefix is not found");
    is_int(walrus_committee_find(&c, NULL), -1, "NULL name is not found");

    walrus_committee_free(&c);
    ok(c.nodes == NULL && c.nnodes == 0, "free zeroes the committee");
    walrus_committee_free(&c);
    is_int(walrus_committee_find(&c, "node0"), -1, "freed committee is empty");

    /* relative key paths need a base directory in parse */
    rc = walrus_committee_parse(&c, json, strlen(json), NULL, err,
                                sizeof(err));
    ok(rc != WALRUS_OK, "relative key path without base_dir fails");
    printf("# %s\n", err);

    rc = walrus_committee_parse(&c, json, strlen(json), dir, err,
                                sizeof(err));
    is_int(rc, WALRUS_OK, "parse with base_dir");
    walrus_committee_free(&c);

    snprintf(path, sizeof(path), "%s/committee.json", dir);
    unlink(path);
    free(json);
}


/*
 * A committee of four shards on nodes[0], then count - 1 nodes with none,
 * each with a key of its own (two nodes may not share one)
 */

static char *
walrus_test_many_nodes(unsigned count)
{
    BIO        *bio;
    char       *json, *p, *data;
    long        len, j;
    size_t      size;
    unsigned    i;
    EVP_PKEY   *key;

    size = 256 + (size_t) count * 512;
    json = malloc(size);
    p = json;
    p += sprintf(p, "{" FIELDS ",\"nodes\":[");

    for (i = 0; i < count; i++) {
        if (walrus_key_generate(&key) != WALRUS_OK) {
            printf("Bail out! key generation failed\n");
            exit(1);
        }

        bio = BIO_new(BIO_s_mem());
        PEM_write_bio_PUBKEY(bio, key);
        len = BIO_get_mem_data(bio, &data);

        p += sprintf(p, "%s{\"name\":\"n%u\",\"url\":\"http://h\","
                     "\"shards\":[%s],\"public_key\":\"", i ? "," : "", i,
                     i ? "" : "0,1,2,3");

        for (j = 0; j < len; j++) {
            if (data[j] == '\n') {
                *p++ = '\\';
                *p++ = 'n';

            } else {
                *p++ = data[j];
            }
        }

        p += sprintf(p, "\"}");

        BIO_free(bio);
        EVP_PKEY_free(key);
    }

    sprintf(p, "]}");

    return json;
}


static void
walrus_test_small(void)
{
    int                 rc;
    char               *json, err[256];
    walrus_committee_t  c;

    json = walrus_test_expand(COMMITTEE(FIELDS, NODES));
    rc = walrus_committee_parse(&c, json, strlen(json), NULL, err,
                                sizeof(err));
    is_int(rc, WALRUS_OK, "inline four node committee parses");
    is_int(c.nnodes, 4, "four nodes");
    walrus_committee_free(&c);

    /* no error buffer at all */
    rc = walrus_committee_parse(&c, json, strlen(json), NULL, NULL, 0);
    is_int(rc, WALRUS_OK, "parse without an error buffer");
    walrus_committee_free(&c);
    free(json);

    json = walrus_test_expand(
        COMMITTEE("\"epoch\":0,\"n_shards\":4,\"segment_size\":268435456",
                  NODE("solo", "http://h", "3,2,1,0", "0")));
    rc = walrus_committee_parse(&c, json, strlen(json), NULL, err,
                                sizeof(err));
    is_int(rc, WALRUS_OK, "one node with every shard, maximal segment");
    is_int(c.nodes[0].nshards, 4, "it holds four shards");
    is_int(c.segment_size, 268435456, "segment size 256 MiB");
    walrus_committee_free(&c);
    free(json);

    /* nodes leaving (or not yet joined): listed, with no shards */
    json = walrus_test_expand(
        COMMITTEE(FIELDS, N0 "," N1 "," NODE("c", "http://h", "2,3", "2")
                  "," NODE("d", "http://h", "", "3") ","
                  NODE("e", "http://h", "", "4")));
    rc = walrus_committee_parse(&c, json, strlen(json), NULL, err,
                                sizeof(err));
    is_int(rc, WALRUS_OK, "nodes with no shards parse");
    is_int(c.nnodes, 5, "five nodes for four shards");
    is_int(c.nodes[3].nshards, 0, "it holds no shard");
    ok(c.shard_owner[2] == 2 && c.shard_owner[3] == 2,
       "its neighbour holds shards 2 and 3");
    is_int(walrus_committee_find(&c, "d"), 3, "it is found by its name");
    walrus_committee_free(&c);
    free(json);

    /* at most WALRUS_MAX_SHARDS nodes, whatever n */
    json = walrus_test_many_nodes(WALRUS_MAX_SHARDS);
    rc = walrus_committee_parse(&c, json, strlen(json), NULL, err,
                                sizeof(err));
    is_int(rc, WALRUS_OK, "%u nodes parse", WALRUS_MAX_SHARDS);
    printf("# %s\n", rc == WALRUS_OK ? "" : err);
    walrus_committee_free(&c);
    free(json);

    json = walrus_test_many_nodes(WALRUS_MAX_SHARDS + 1);
    rc = walrus_committee_parse(&c, json, strlen(json), NULL, err,
                                sizeof(err));
    ok(rc != WALRUS_OK
       && strstr(err, "nodes: 256 nodes, expected 1..255") != NULL,
       "one more does not");
    printf("# %s\n", err);
    free(json);

    rc = walrus_committee_parse(&c, "{}", 2, NULL, NULL, 0);
    ok(rc != WALRUS_OK && c.nodes == NULL,
       "failure without an error buffer");

    rc = walrus_committee_parse(NULL, "{}", 2, NULL, err, sizeof(err));
    is_int(rc, WALRUS_EINVAL, "NULL committee is EINVAL");

    memset(&c, 0, sizeof(c));
    walrus_committee_free(&c);
    walrus_committee_free(NULL);
    ok(1, "free of a zeroed committee and of NULL");
}


static void
walrus_test_bad(const char *dir)
{
    int                        rc;
    char                      *json, err[512];
    walrus_committee_t         c;
    const walrus_test_case_t  *t;

    for (t = walrus_test_cases; t->what != NULL; t++) {
        json = walrus_test_expand(t->json);

        memset(&c, 0xa5, sizeof(c));
        err[0] = '\0';

        rc = walrus_committee_parse(&c, json, strlen(json), dir, err,
                                    sizeof(err));

        ok(rc != WALRUS_OK, "%s: rejected", t->what);
        ok(err[0] != '\0', "%s: has a message", t->what);
        ok(c.nodes == NULL && c.nnodes == 0, "%s: committee left empty",
           t->what);

        if (t->msg != NULL) {
            ok(strstr(err, t->msg) != NULL, "%s: message names the field",
               t->what);
        }

        printf("# %s\n", err);

        walrus_committee_free(&c);
        free(json);
    }
}


static void
walrus_test_truncated(void)
{
    int                 rc, bad;
    char               *json, *copy, err[256];
    size_t              len, i;
    walrus_committee_t  c;

    json = walrus_test_expand(COMMITTEE(FIELDS, NODES));
    len = strlen(json);
    bad = 0;

    for (i = 0; i < len; i++) {
        /* an exact-size copy lets ASan catch over-reads */
        copy = malloc(i + 1);
        memcpy(copy, json, i);

        rc = walrus_committee_parse(&c, copy, i, NULL, err, sizeof(err));
        if (rc == WALRUS_OK || err[0] == '\0') {
            bad++;
            walrus_committee_free(&c);
        }

        free(copy);
    }

    is_int(bad, 0, "every truncation of %zu bytes is rejected", len);

    copy = malloc(WALRUS_MAX_COMMITTEE_FILE + 1);
    memset(copy, ' ', WALRUS_MAX_COMMITTEE_FILE + 1);
    memcpy(copy, json, len);

    rc = walrus_committee_parse(&c, copy, WALRUS_MAX_COMMITTEE_FILE, NULL,
                                err, sizeof(err));
    is_int(rc, WALRUS_OK, "committee padded to the size limit parses");
    walrus_committee_free(&c);

    rc = walrus_committee_parse(&c, copy, WALRUS_MAX_COMMITTEE_FILE + 1,
                                NULL, err, sizeof(err));
    ok(rc != WALRUS_OK && err[0] != '\0', "oversize committee rejected");
    printf("# %s\n", err);

    free(copy);
    free(json);
}


static void
walrus_test_files(const char *dir)
{
    int                 rc;
    char               *json, *big, path[256], err[512];
    walrus_committee_t  c;

    snprintf(path, sizeof(path), "%s/none.json", dir);
    rc = walrus_committee_load(&c, path, err, sizeof(err));
    is_int(rc, WALRUS_EIO, "missing committee file is EIO");
    ok(strstr(err, "none.json") != NULL, "message names the file");
    printf("# %s\n", err);

    snprintf(path, sizeof(path), "%s/empty.json", dir);
    walrus_test_write_file(path, "", 0);
    rc = walrus_committee_load(&c, path, err, sizeof(err));
    ok(rc != WALRUS_OK && err[0] != '\0', "empty committee file rejected");
    printf("# %s\n", err);
    unlink(path);

    snprintf(path, sizeof(path), "%s/keys", dir);
    rc = walrus_committee_load(&c, path, err, sizeof(err));
    ok(rc != WALRUS_OK && err[0] != '\0', "directory rejected");
    printf("# %s\n", err);

    snprintf(path, sizeof(path), "%s/big.json", dir);
    json = walrus_test_expand(COMMITTEE(FIELDS, NODES));
    big = malloc(WALRUS_MAX_COMMITTEE_FILE + 1);
    memset(big, '\n', WALRUS_MAX_COMMITTEE_FILE + 1);
    memcpy(big, json, strlen(json));
    walrus_test_write_file(path, big, WALRUS_MAX_COMMITTEE_FILE + 1);
    rc = walrus_committee_load(&c, path, err, sizeof(err));
    ok(rc != WALRUS_OK && err[0] != '\0', "oversize committee file rejected");
    printf("# %s\n", err);

    walrus_test_write_file(path, big, WALRUS_MAX_COMMITTEE_FILE);
    rc = walrus_committee_load(&c, path, err, sizeof(err));
    is_int(rc, WALRUS_OK, "committee file at the size limit loads");
    walrus_committee_free(&c);
    unlink(path);
    free(big);
    free(json);

    /* an error in a loaded file is prefixed with the file name */
    snprintf(path, sizeof(path), "%s/bad.json", dir);
    json = walrus_test_expand(COMMITTEE(FIELDS, NODES3));
    walrus_test_write_file(path, json, strlen(json));
    rc = walrus_committee_load(&c, path, err, sizeof(err));
    ok(rc != WALRUS_OK && strstr(err, "bad.json: shard 3") != NULL,
       "load error names the file and the problem");
    printf("# %s\n", err);
    unlink(path);
    free(json);
}


static void
walrus_test_publishers(const char *dir)
{
    int                 rc;
    char               *json, path[256], err[512];
    uint8_t             raw[WALRUS_PUBLIC_KEY_LEN];
    EVP_PKEY           *key;
    walrus_committee_t  c;

    json = walrus_test_expand(COMMITTEE(FIELDS, NODES));
    rc = walrus_committee_parse(&c, json, strlen(json), dir, err,
                                sizeof(err));
    ok(rc == WALRUS_OK && c.npublishers == 0 && c.publishers == NULL,
       "publishers are optional");
    walrus_committee_free(&c);
    free(json);

    json = walrus_test_expand(PUBS(""));
    rc = walrus_committee_parse(&c, json, strlen(json), dir, err,
                                sizeof(err));
    ok(rc == WALRUS_OK && c.npublishers == 0, "an empty publisher list");
    walrus_committee_free(&c);
    free(json);

    /* a node's key may sign registrations too: other messages, other tag */

    json = walrus_test_expand(
        PUBS(PUB("gw0", "4") ","
             "{\"name\":\"script.1\",\"public_key_file\":\"keys/node5.pub\"}"
             "," PUB("gw-node", "0")));
    rc = walrus_committee_parse(&c, json, strlen(json), dir, err,
                                sizeof(err));
    is_int(rc, WALRUS_OK, "three publishers load");
    if (rc != WALRUS_OK) {
        printf("# %s\n", err);
        free(json);
        return;
    }

    is_int(c.npublishers, 3, "three publishers");
    ok(strcmp(c.publishers[1].name, "script.1") == 0, "publisher 1 name");

    key = NULL;
    snprintf(path, sizeof(path), "%s/keys/node5.pub", dir);
    walrus_key_load_public(path, &key);
    ok(key != NULL && EVP_PKEY_eq(key, c.publishers[1].public_key) == 1,
       "publisher 1 key from its file");

    ok(walrus_key_raw_public(key, raw) == WALRUS_OK
       && memcmp(raw, c.publishers[1].raw_key, sizeof(raw)) == 0,
       "publisher 1 raw key");
    is_int(walrus_committee_find_publisher(&c, raw), 1,
           "publisher found by its raw key");

    raw[0] ^= 1;
    is_int(walrus_committee_find_publisher(&c, raw), -1,
           "another key is no publisher");
    is_int(walrus_committee_find_publisher(&c, c.publishers[2].raw_key), 2,
           "a node key listed as publisher");
    is_int(walrus_committee_find_publisher(NULL, raw), -1,
           "no committee, no publisher");

    EVP_PKEY_free(key);
    walrus_committee_free(&c);
    ok(c.publishers == NULL && c.npublishers == 0,
       "free clears the publishers");
    free(json);
}
