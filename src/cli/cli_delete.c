/*
 * walrusctl delete: the deletion of a deletable blob, signed with the key
 * of the publisher that registered it (docs/protocol.md 19.5), sent to
 * every node of the committee with DELETE /v1/blobs/{id}; or written
 * into -o OUT for a script to send.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <walrus_base64.h>
#include <walrus_lifetime.h>
#include <walrus_sign.h>
#include <walrusctl.h>


#define WALRUS_CLI_URL_MAX  4096


static int walrus_cli_delete_send(const walrus_committee_t *c,
    const char *id_text, const uint8_t *del);


int
walrus_cli_delete(walrus_cli_t *cli)
{
    int                 rc, wrc;
    uint8_t             id[WALRUS_BLOB_ID_LEN];
    uint8_t             del[WALRUS_DELETION_LEN];
    EVP_PKEY           *key;
    walrus_committee_t  committee;

    if (cli->key == NULL) {
        walrus_cli_error("delete needs --key: the private key of the "
                         "publisher that registered the blob");
        return WALRUS_CLI_USAGE;
    }

    if (cli->epochs != NULL || cli->permanent || cli->deletable) {
        walrus_cli_error("delete takes neither --epochs nor --permanent "
                         "nor --deletable");
        return WALRUS_CLI_USAGE;
    }

    if (walrus_blob_id_parse(cli->argv[0], strlen(cli->argv[0]), id)
        != WALRUS_OK)
    {
        walrus_cli_error("\"%s\" is not a blob ID", cli->argv[0]);
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

    /* made in the current epoch: nodes take it in it and the next one */

    wrc = walrus_deletion_sign(key, committee.epoch, id, del);
    if (wrc != WALRUS_OK) {
        walrus_cli_error("cannot sign: %s", walrus_strerror(wrc));
        rc = WALRUS_CLI_IO;
        goto done;
    }

    if (cli->output != NULL) {
        rc = walrus_cli_write_file(cli->output, del, sizeof(del));
        goto done;
    }

    rc = walrus_cli_delete_send(&committee, cli->argv[0], del);

done:

    EVP_PKEY_free(key);
    walrus_committee_free(&committee);

    return rc;
}


/*
 * Every node is asked, whatever the others answered; a line each.
 * WALRUS_CLI_OK when every node took it (or had nothing left of the
 * blob), else WALRUS_CLI_INVALID.
 */

static int
walrus_cli_delete_send(const walrus_committee_t *c, const char *id_text,
    const uint8_t *del)
{
    int                 n, rc, failed;
    char                url[WALRUS_CLI_URL_MAX];
    size_t              blen;
    unsigned            i;
    walrus_cli_http_t   res;

    failed = 0;

    for (i = 0; i < c->nnodes; i++) {
        blen = strlen(c->nodes[i].url);

        while (blen > 0 && c->nodes[i].url[blen - 1] == '/') {
            blen--;
        }

        n = snprintf(url, sizeof(url), "%.*s/v1/blobs/%s", (int) blen,
                     c->nodes[i].url, id_text);

        if (n < 0 || (size_t) n >= sizeof(url)) {
            walrus_cli_error("%s: the URL is too long", c->nodes[i].name);
            failed++;
            continue;
        }

        rc = walrus_cli_http_request("DELETE", url, del, WALRUS_DELETION_LEN,
                                     64 * 1024, &res);
        if (rc != WALRUS_CLI_OK) {
            failed++;
            continue;
        }

        if (res.status == 200 || res.status == 201) {
            printf("%s: deleted\n", c->nodes[i].name);

        } else {
            walrus_cli_http_refused(c->nodes[i].name, &res);
            failed++;
        }

        walrus_cli_http_free(&res);
    }

    return failed ? WALRUS_CLI_INVALID : WALRUS_CLI_OK;
}
