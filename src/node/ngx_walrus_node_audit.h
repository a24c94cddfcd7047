/*
 * Storage audits on a node (docs/protocol.md section 17): what the
 * node's keeper does in its audit phase (beacons, challenges of its
 * peers, its own certificate) and what the node answers its peers.
 *
 * Both sides meet in files under <store>/audit, written durably and
 * atomically (walrus_store_write), so that any worker, any nginx on the
 * store and a restart see the same state:
 *
 *   audit/latest                  the newest beacon this node holds; its
 *                                 mtime is when it took it (17.6)
 *   audit/rounds/<r>/beacon       the beacon of round r (never replaced)
 *   audit/rounds/<r>/other        a second valid beacon of round r: its
 *                                 leader equivocated
 *   audit/rounds/<r>/attest.<X>   the attestation this node gave node X
 *   audit/rounds/<r>/missing.<X>  blob IDs node X said it lacks (text)
 *   audit/rounds/<r>/fraud.<X>    a fraud proof against node X
 *   audit/rounds/<r>/certificate  this node's audit certificate
 *   audit/locks                   the recovery lock (17.5): entries of
 *                                 NGX_WALRUS_AUDIT_LOCK_LEN bytes, blob
 *                                 ID (32) || pair (u16) || node (u16) ||
 *                                 round (u32)
 *
 * <r> and <X> are decimal.  Rounds older than the newest minus
 * NGX_WALRUS_AUDIT_KEEP_ROUNDS are removed by the keeper.
 */

#ifndef _NGX_WALRUS_NODE_AUDIT_H_INCLUDED_
#define _NGX_WALRUS_NODE_AUDIT_H_INCLUDED_


#include <ngx_walrus_node.h>
#include <walrus_audit.h>


#define NGX_WALRUS_AUDIT_DIR          "audit"
#define NGX_WALRUS_AUDIT_LATEST       "latest"
#define NGX_WALRUS_AUDIT_ROUNDS       "rounds"
#define NGX_WALRUS_AUDIT_LOCKS        "locks"
#define NGX_WALRUS_AUDIT_LOCK_LEN     (WALRUS_BLOB_ID_LEN + 2 + 2 + 4)
#define NGX_WALRUS_AUDIT_KEEP_ROUNDS  16

/* the largest answer a node builds; a verifier asks fewer blobs */
#define NGX_WALRUS_AUDIT_MAX_ANSWER   (64 * 1024 * 1024)


#endif /* _NGX_WALRUS_NODE_AUDIT_H_INCLUDED_ */
