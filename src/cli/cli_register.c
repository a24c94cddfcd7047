/*
 * walrusctl register: a registration signed with a publisher key, so that
 * a script can store a blob on the nodes without a gateway.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <walrus_base64.h>
#include <walrus_registration.h>
#include <walrus_sign.h>
#include <walrusctl.h>


/* as the gateway's ?epochs */
#define WALRUS_CLI_MAX_EPOCHS  53


static int walrus_cli_epochs(const char *text, uint32_t *epochs);
static int walrus_cli_register_write(walrus_cli_t *cli,
    const uint8_t *bytes, const uint8_t *id);


int
walrus_cli_register(walrus_cli_t *cli)
{
    int                    rc, wrc;
    uint8_t                raw[WALRUS_PUBLIC_KEY_LEN];
    uint8_t                bytes[WALRUS_REGISTRATION_LEN];
    uint32_t               epochs;
    EVP_PKEY              *key;
    walrus_committee_t     committee;
    walrus_registration_t  reg;

    if (cli->key == NULL) {
        walrus_cli_error("register needs --key: the private key of a "
                         "publisher of the committee");
        return WALRUS_CLI_USAGE;
    }

    if (cli->permanent && cli->deletable) {
        walrus_cli_error("a blob cannot be both deletable and permanent");
        return WALRUS_CLI_USAGE;
    }

    epochs = 1;

    if (cli->epochs != NULL && walrus_cli_epochs(cli->epochs, &epochs) != 0)
    {
        walrus_cli_error("invalid --epochs \"%s\": 1..%d", cli->epochs,
                         WALRUS_CLI_MAX_EPOCHS);
        return WALRUS_CLI_USAGE;
    }

    rc = walrus_cli_committee(cli, &committee);
    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    rc = walrus_cli_private_key(cli->key, &key);
    if (rc != WALRUS_CLI_OK) {
        goto done;
    }

    /* a registration the nodes would refuse helps nobody */

    if (walrus_key_raw_public(key, raw) != WALRUS_OK
        || walrus_committee_find_publisher(&committee, raw) < 0)
    {
        walrus_cli_error("%s: not the key of a publisher of the committee "
                         "%s", cli->key, cli->committee);
        rc = WALRUS_CLI_INVALID;
        goto done;
    }

    memset(&reg, 0, sizeof(walrus_registration_t));

    rc = walrus_cli_file_blob_id(cli->argv[0], &committee, reg.blob_id,
                                 &reg.length);
    if (rc != WALRUS_CLI_OK) {
        goto done;
    }

    reg.epoch = committee.epoch;
    reg.end_epoch = committee.epoch + epochs;
    reg.deletable = cli->permanent ? 0 : 1;

    if (reg.end_epoch < reg.epoch) {
        walrus_cli_error("epoch %u + %u epochs is past the last epoch",
                         (unsigned) reg.epoch, (unsigned) epochs);
        rc = WALRUS_CLI_USAGE;
        goto done;
    }

    wrc = walrus_registration_sign(&reg, key);
    if (wrc != WALRUS_OK) {
        walrus_cli_error("cannot sign: %s", walrus_strerror(wrc));
        rc = WALRUS_CLI_IO;
        goto done;
    }

    walrus_registration_serialize(&reg, bytes);

    rc = walrus_cli_register_write(cli, bytes, reg.blob_id);

done:

    EVP_PKEY_free(key);
    walrus_committee_free(&committee);

    return rc;
}


static int
walrus_cli_epochs(const char *text, uint32_t *epochs)
{
    unsigned  n;

    if (*text == '\0') {
        return -1;
    }

    for (n = 0; *text >= '0' && *text <= '9'; text++) {
        n = n * 10 + (unsigned) (*text - '0');

        if (n > WALRUS_CLI_MAX_EPOCHS) {
            return -1;
        }
    }

    if (*text != '\0' || n == 0) {
        return -1;
    }

    *epochs = n;

    return 0;
}


/* binary into -o OUT with the blob ID on stdout, else base64url */

static int
walrus_cli_register_write(walrus_cli_t *cli, const uint8_t *bytes,
    const uint8_t *id)
{
    int            rc;
    char           text[WALRUS_BLOB_ID_TEXT_LEN + 1];
    char           b64[2 * WALRUS_REGISTRATION_LEN];
    size_t         len;

    if (cli->output == NULL) {
        len = walrus_base64url_encode(bytes, WALRUS_REGISTRATION_LEN, b64);
        printf("%.*s\n", (int) len, b64);
        return WALRUS_CLI_OK;
    }

    rc = walrus_cli_write_file(cli->output, bytes, WALRUS_REGISTRATION_LEN);
    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    walrus_blob_id_format(id, text);
    printf("%s\n", text);

    return WALRUS_CLI_OK;
}
