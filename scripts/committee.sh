#!/usr/bin/env bash
# Writes the keys (walrusctl keygen; kept when they exist) and a
# committee file for epoch 1 with one shard per node, node i at the i-th
# URL and the gateway's key as the committee's publisher:
#
#     committee.sh DIR SEGMENT_SIZE URL...
#
# into DIR/keys/ and DIR/committee.json.  Used by scripts/local-network.sh
# (make run) and docker/entrypoint.sh (the containers' init).

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CTL="$ROOT/build/walrusctl"
DIR=$1
SEGMENT=$2
shift 2

nodes=""
i=0
mkdir -p "$DIR/keys"

# the gateway signs registrations as the committee's publisher
[ -f "$DIR/keys/gateway.key" ] || "$CTL" keygen "$DIR/keys/gateway" > /dev/null

for url in "$@"; do
    [ -f "$DIR/keys/node$i.key" ] || "$CTL" keygen "$DIR/keys/node$i" \
        > /dev/null
    nodes+="${nodes:+,}
    {\"name\": \"node$i\", \"url\": \"$url\",
     \"shards\": [$i], \"public_key_file\": \"keys/node$i.pub\"}"
    i=$((i + 1))
done

cat > "$DIR/committee.json.new" <<END
{"epoch": 1, "n_shards": $i, "segment_size": $SEGMENT, "nodes": [$nodes
],
 "publishers": [
    {"name": "gateway", "public_key_file": "keys/gateway.pub"}
]}
END
mv "$DIR/committee.json.new" "$DIR/committee.json"
