/*
 * The recovery lock (docs/protocol.md 17.5) as the recovery answer reads
 * it: audit/locks, written whole by the keeper, lists the target pairs
 * of blobs challenged in a node's open rounds that this node has not
 * attested yet.  A recovery request for such a pair is refused, so that
 * a node that dropped a challenged blob cannot rebuild it from its
 * peers' symbols while its round is open.
 */

#include <ngx_walrus_node_audit_serve.h>


/* runs in a thread: system calls and the core library only */

int
ngx_walrus_audit_locked(const char *path, const uint8_t *blob_id,
    unsigned pair, unsigned *node, uint32_t *round)
{
    size_t   len, i;
    u_char  *buf, *e;

    if (walrus_read_file(path, NGX_WALRUS_AUDIT_LOCKS_MAX, &buf, &len)
        != 0)
    {
        return errno == ENOENT ? 0 : -1;
    }

    if (len % NGX_WALRUS_AUDIT_LOCK_LEN != 0) {
        free(buf);
        errno = EBADMSG;
        return -1;
    }

    for (i = 0; i < len; i += NGX_WALRUS_AUDIT_LOCK_LEN) {
        e = buf + i;

        if (walrus_get_le(e + WALRUS_BLOB_ID_LEN, 2) == pair
            && ngx_memcmp(e, blob_id, WALRUS_BLOB_ID_LEN) == 0)
        {
            *node = walrus_get_le(e + WALRUS_BLOB_ID_LEN + 2, 2);
            *round = walrus_get_le(e + WALRUS_BLOB_ID_LEN + 4, 4);
            free(buf);
            return 1;
        }
    }

    free(buf);

    return 0;
}
