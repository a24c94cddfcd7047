#!/usr/bin/env bash
# Starts (or stops) a complete local network: Redis and one nginx that
# hosts the gateway and the storage nodes on loopback ports.  Usage:
# local-network.sh start|stop.  Settings: WALRUS_N (7),
# WALRUS_SEGMENT_SIZE (4194304), WALRUS_GATEWAY_PORT (8080),
# WALRUS_NODE_PORT (9100), WALRUS_REDIS_PORT (6390),
# WALRUS_METRICS_PORT (9145).

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR="$ROOT/.local"
N=${WALRUS_N:-7}
SEGMENT=${WALRUS_SEGMENT_SIZE:-4194304}
NODE_PORT=${WALRUS_NODE_PORT:-9100}
GATEWAY_PORT=${WALRUS_GATEWAY_PORT:-8080}
REDIS_PORT=${WALRUS_REDIS_PORT:-6390}
METRICS_PORT=${WALRUS_METRICS_PORT:-9145}
NGINX=/usr/sbin/nginx
CTL="$ROOT/build/walrusctl"

stop() {
    if [ -s "$DIR/nginx.pid" ] && kill -0 "$(cat "$DIR/nginx.pid")" 2>/dev/null
    then
        "$NGINX" -p "$DIR/" -c "$DIR/nginx.conf" -e "$DIR/logs/error.log" \
            -s quit
        echo "nginx stopped"
    fi

    if [ -s "$DIR/redis.pid" ] && kill -0 "$(cat "$DIR/redis.pid")" 2>/dev/null
    then
        kill "$(cat "$DIR/redis.pid")"
        echo "redis stopped"
    fi
}

committee() {
    local i urls=()

    for ((i = 0; i < N; i++)); do
        urls+=("http://127.0.0.1:$((NODE_PORT + i))")
    done
    bash "$ROOT/scripts/committee.sh" "$DIR" "$SEGMENT" "${urls[@]}"
}

nginx_conf() {
    local i nodes="" upstreams=""

    for ((i = 0; i < N; i++)); do
        mkdir -p "$DIR/store$i"
        [ "$(id -u)" -eq 0 ] && chown nobody "$DIR/store$i"
        nodes+="
    server {
        listen 127.0.0.1:$((NODE_PORT + i));
        client_max_body_size 1g;
        client_body_buffer_size 256k;

        location / {
            walrus_node;
            walrus_node_name node$i;
            walrus_node_key $DIR/keys/node$i.key;
            walrus_node_store $DIR/store$i;
            # a storage audit round a minute, to see them soon (10m default)
            walrus_node_audit_interval 1m;
        }

        # the node's keeper asks its peers through here
        location /_walrus_node/ {
            internal;
            proxy_pass http://walrus_\$walrus_node\$walrus_node_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_pass_request_headers off;
            proxy_buffering off;
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
            proxy_next_upstream off;
        }
    }
"
        upstreams+="
    upstream walrus_node$i {
        server 127.0.0.1:$((NODE_PORT + i));
        keepalive 16;
    }
"
    done

    awk -v nodes="$nodes" -v upstreams="$upstreams" -v dir="$DIR" \
        -v root="$ROOT" -v n="$N" -v port="$GATEWAY_PORT" \
        -v redis="$REDIS_PORT" -v metrics="$METRICS_PORT" '
        { gsub("@DIR@", dir); gsub("@ROOT@", root); gsub("@N@", n);
          gsub("@GATEWAY_PORT@", port); gsub("@REDIS_PORT@", redis);
          gsub("@METRICS_PORT@", metrics) }
        /^@NODES@$/ { print nodes; next }
        /^@UPSTREAMS@$/ { print upstreams; next }
        { print }' "$ROOT/conf.d/local-network.conf.in" > "$DIR/nginx.conf"
}

start() {
    sh "$ROOT/scripts/install-deps.sh"
    make -C "$ROOT" all > "$ROOT/build.log" 2>&1 \
        || { tail -30 "$ROOT/build.log"; exit 1; }

    stop > /dev/null
    mkdir -p "$DIR/logs" "$DIR/tmp"
    chmod 755 "$DIR"
    committee
    nginx_conf

    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
        --appendonly no --daemonize yes --pidfile "$DIR/redis.pid" \
        --logfile "$DIR/logs/redis.log" --dir "$DIR"

    "$NGINX" -p "$DIR/" -c "$DIR/nginx.conf" -e "$DIR/logs/error.log"

    for ((i = 0; i < 50; i++)); do
        curl -sf "http://127.0.0.1:$GATEWAY_PORT/v1/health" > /dev/null \
            && break
        sleep 0.1
    done

    cat <<END

Walrus local network is running ($N storage nodes, f = $(((N - 1) / 3))).

  gateway         http://127.0.0.1:$GATEWAY_PORT
  storage nodes   http://127.0.0.1:$NODE_PORT ... http://127.0.0.1:$((NODE_PORT + N - 1))
  redis           127.0.0.1:$REDIS_PORT
  metrics         http://127.0.0.1:$METRICS_PORT/metrics (Prometheus)
  committee       $DIR/committee.json
  logs            $DIR/logs/

Store a blob (the answer carries its blob ID and certificate):

  curl -s -X PUT --data-binary @/etc/os-release \\
      http://127.0.0.1:$GATEWAY_PORT/v1/blobs
  curl -s -T /etc/os-release "http://127.0.0.1:$GATEWAY_PORT/v1/blobs?epochs=5"

Read it back (Range, HEAD, ETag/304 work as for any HTTP file):

  ID=\$($CTL -c $DIR/committee.json blob-id /etc/os-release)
  curl -s http://127.0.0.1:$GATEWAY_PORT/v1/blobs/\$ID
  curl -s -r 0-99 http://127.0.0.1:$GATEWAY_PORT/v1/blobs/\$ID
  curl -sI http://127.0.0.1:$GATEWAY_PORT/v1/blobs/\$ID

Many small files as one blob (a quilt), each read on its own, and
blobs read one after the other:

  printf 'a\\n' > /tmp/a.txt; printf '<p>b</p>\\n' > /tmp/b.html
  Q=\$(curl -s -X PUT -F a.txt=@/tmp/a.txt -F b.html=@/tmp/b.html \\
      http://127.0.0.1:$GATEWAY_PORT/v1/quilts \\
      | sed -n 's/.*"blobId":"\\([^"]*\\)".*/\\1/p')
  curl -s http://127.0.0.1:$GATEWAY_PORT/v1/quilts/\$Q/patches
  curl -s http://127.0.0.1:$GATEWAY_PORT/v1/blobs/by-quilt-id/\$Q/b.html
  curl -s "http://127.0.0.1:$GATEWAY_PORT/v1alpha/blobs/concat?ids=\$ID,\$ID"

Check it without trusting the gateway:

  curl -s http://127.0.0.1:$NODE_PORT/v1/blobs/\$ID/status
  curl -s -o /tmp/cert http://127.0.0.1:$NODE_PORT/v1/blobs/\$ID/certificate
  $CTL -c $DIR/committee.json verify-cert --blob-id \$ID /tmp/cert

Storage audits: the nodes challenge each other, a round a minute here
(the first about two minutes after the start). The gateway's view, a
node's, and a certificate checked offline:

  curl -s http://127.0.0.1:$GATEWAY_PORT/v1/audits
  curl -s http://127.0.0.1:$NODE_PORT/v1/audit/status
  R=\$(curl -s http://127.0.0.1:$NODE_PORT/v1/audit/status \\
      | sed -n 's/.*"round":\\([0-9]*\\).*/\\1/p' | head -1)
  curl -s -o /tmp/audit http://127.0.0.1:$NODE_PORT/v1/audit/rounds/\$R/certificate
  $CTL -c $DIR/committee.json verify-audit /tmp/audit
  $CTL -c $DIR/committee.json audit node1

Nodes keep only registered blobs; a script registers one with the
publisher key (then PUTs metadata and slivers as the gateway does):

  $CTL -c $DIR/committee.json register \\
      --key $DIR/keys/gateway.key -o /tmp/reg /etc/os-release
  curl -s -T /tmp/reg http://127.0.0.1:$NODE_PORT/v1/blobs/\$ID/registration

Stop it with: make stop
END
}


case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
