/*
 * walrusctl quilt: the bytes of the quilt a gateway builds from the same
 * parts (docs/protocol.md section 20), so that "walrusctl blob-id" of
 * them checks the quilt ID a PUT /v1/quilts answered without trusting
 * the gateway.  Operands: OUT, then NAME=FILE[;type=TYPE] for each file
 * in upload order (curl -F's form), and _metadata=FILE for the tags.
 */

#include <stdlib.h>
#include <string.h>

#include <walrus_quilt.h>
#include <walrusctl.h>


/* a file of a quilt is at most this large here (the gateway's limit) */
#define WALRUS_CLI_QUILT_MAX_FILE  ((size_t) 1 << 30)


static int walrus_cli_quilt_part(const char *arg,
    walrus_multipart_part_t *part, uint8_t **data);


int
walrus_cli_quilt(walrus_cli_t *cli)
{
    int                       rc, i, n;
    char                      error[WALRUS_QUILT_ERROR_LEN];
    uint8_t                 **data, *out;
    walrus_quilt_t            q;
    walrus_multipart_part_t  *parts;

    n = cli->argc - 1;

    if (n > WALRUS_QUILT_MAX_PATCHES + 1) {
        walrus_cli_error("more than %d files", WALRUS_QUILT_MAX_PATCHES);
        return WALRUS_CLI_USAGE;
    }

    parts = calloc(n, sizeof(walrus_multipart_part_t));
    data = calloc(n, sizeof(uint8_t *));
    out = NULL;
    rc = WALRUS_CLI_IO;

    if (parts == NULL || data == NULL) {
        walrus_cli_error("out of memory");
        goto done;
    }

    for (i = 0; i < n; i++) {
        rc = walrus_cli_quilt_part(cli->argv[i + 1], &parts[i], &data[i]);
        if (rc != WALRUS_CLI_OK) {
            goto done;
        }
    }

    if (walrus_quilt_from_parts(&q, parts, n, error) != WALRUS_OK) {
        walrus_cli_error("%s", error);
        rc = WALRUS_CLI_USAGE;
        goto done;
    }

    out = malloc(q.length ? q.length : 1);
    if (out == NULL) {
        walrus_cli_error("out of memory");
        walrus_quilt_free(&q);
        rc = WALRUS_CLI_IO;
        goto done;
    }

    walrus_quilt_index_write(&q, out);

    for (i = 0; i < (int) q.npatches; i++) {
        memcpy(out + q.patches[i].offset, q.patches[i].data,
               q.patches[i].length);
    }

    rc = walrus_cli_write_file(cli->argv[0], out, q.length);

    walrus_quilt_free(&q);

done:

    for (i = 0; data != NULL && i < n; i++) {
        free(data[i]);
    }

    free(data);
    free(parts);
    free(out);

    return rc;
}


/* "NAME=FILE" or "NAME=FILE;type=TYPE", as curl -F takes them */

static int
walrus_cli_quilt_part(const char *arg, walrus_multipart_part_t *part,
    uint8_t **data)
{
    int          rc;
    char        *path, *semi;
    size_t       len;
    const char  *eq;

    eq = strchr(arg, '=');
    if (eq == NULL || eq == arg || eq[1] == '\0') {
        walrus_cli_error("\"%s\" is not NAME=FILE[;type=TYPE]", arg);
        return WALRUS_CLI_USAGE;
    }

    path = strdup(eq + 1);
    if (path == NULL) {
        walrus_cli_error("out of memory");
        return WALRUS_CLI_IO;
    }

    semi = strstr(path, ";type=");
    if (semi != NULL) {
        *semi = '\0';
        part->type = (const uint8_t *) (eq + 1 + (semi - path)
                                        + sizeof(";type=") - 1);
        part->type_len = strlen((const char *) part->type);
    }

    rc = walrus_cli_read_file(path, WALRUS_CLI_QUILT_MAX_FILE, data, &len);
    free(path);

    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    part->name = (const uint8_t *) arg;
    part->name_len = eq - arg;
    part->data = *data;
    part->len = len;

    return WALRUS_CLI_OK;
}
