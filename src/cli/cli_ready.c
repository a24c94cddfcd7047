/*
 * walrusctl verify-ready FILE: a node's readiness for an epoch (the 84
 * bytes of GET /v1/epoch/ready, docs/protocol.md 18.6) checked offline
 * against the committee of that epoch in the history given with -c.
 */

#include <stdio.h>
#include <stdlib.h>

#include <walrusctl.h>
#include <walrus_ready.h>


int
walrus_cli_verify_ready(walrus_cli_t *cli)
{
    int                        rc, wrc;
    size_t                     len;
    uint8_t                   *buf;
    const char                *path;
    walrus_ready_t             r;
    walrus_history_t           history;
    const walrus_committee_t  *c;

    path = cli->argv[0];

    rc = walrus_cli_history(cli, &history);
    if (rc != WALRUS_CLI_OK) {
        return rc;
    }

    rc = walrus_cli_read_file(path, WALRUS_READY_LEN + 1, &buf, &len);
    if (rc != WALRUS_CLI_OK) {
        walrus_history_free(&history);
        return rc;
    }

    if (walrus_ready_parse(&r, buf, len) != WALRUS_OK) {
        walrus_cli_error("%s: not a readiness message (%zu bytes; one is "
                         "%d, starting \"" WALRUS_READY_TAG "\")", path, len,
                         WALRUS_READY_LEN);
        rc = WALRUS_CLI_INVALID;
        goto done;
    }

    c = walrus_history_committee(&history, r.epoch);

    if (c == NULL) {
        walrus_cli_error("%s: readiness for epoch %u, which the committee "
                         "history (epochs %u to %u) does not hold", path,
                         (unsigned) r.epoch, (unsigned) history.first,
                         (unsigned) history.current);
        rc = WALRUS_CLI_INVALID;
        goto done;
    }

    wrc = walrus_ready_verify(c, &r);

    if (wrc != WALRUS_OK) {
        walrus_cli_error("%s: readiness of node %u for epoch %u does not "
                         "verify: %s", path, r.node, (unsigned) r.epoch,
                         wrc == WALRUS_EFORMAT ? "no such node in the "
                                                 "epoch's committee"
                                               : walrus_strerror(wrc));
        rc = WALRUS_CLI_INVALID;
        goto done;
    }

    printf("readiness of node %s (index %u, %u shards) for epoch %u: "
           "valid\n", c->nodes[r.node].name, r.node,
           c->nodes[r.node].nshards, (unsigned) r.epoch);

done:

    free(buf);
    walrus_history_free(&history);

    return rc;
}
