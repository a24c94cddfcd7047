#!/usr/bin/env bash
# The container's entrypoint: one role per container.  Usage:
#
#   entrypoint.sh init       keys and the committee into $WALRUS_CONF
#                            (kept if they exist), then exits
#   entrypoint.sh node       storage node $WALRUS_NODE_NAME, in the
#                            foreground
#   entrypoint.sh gateway    the gateway, in the foreground
#
# Settings (environment), with the defaults of docker/compose.yaml:
#
#   WALRUS_ROOT       the built project (/opt/walrus): build/walrusctl and
#                     build/ngx_http_walrus_module.so
#   WALRUS_CONF       keys/ and committee.json (/etc/walrus)
#   WALRUS_N          init: nodes in the committee (7)
#   WALRUS_SEGMENT_SIZE  init: the committee's segment size (4194304)
#   WALRUS_NODE_URLS  init: the nodes' URLs, blank-separated
#                     (http://node0:9100 ... http://node<N-1>:9100)
#   WALRUS_NODE_NAME  node: its name in the committee (node0)
#   WALRUS_STORE      node: its store (/var/lib/walrus/store)
#   WALRUS_REDIS      gateway: host:port of Redis (redis:6379; empty: none)
#   WALRUS_MAX_BLOB_SIZE  gateway: largest upload (1g)
#   WALRUS_LISTEN     the address nginx listens on (9100 for a node,
#                     8080 for the gateway)
#   WALRUS_RUN        nginx.conf, temp files, pid (/var/lib/walrus/run)
#   WALRUS_ERROR_LOG  (/dev/stderr); WALRUS_ACCESS_LOG (/dev/stdout)
#   WALRUS_WORKERS    worker_processes (auto)
#
# t/59-docker-entrypoint.t runs this script on the test machine with
# these settings pointing at a temporary directory: what the image runs
# is what the tests run.

set -euo pipefail

ROOT=${WALRUS_ROOT:-/opt/walrus}
CONF=${WALRUS_CONF:-/etc/walrus}
RUN=${WALRUS_RUN:-/var/lib/walrus/run}
ERROR_LOG=${WALRUS_ERROR_LOG:-/dev/stderr}
ACCESS_LOG=${WALRUS_ACCESS_LOG:-/dev/stdout}
WORKERS=${WALRUS_WORKERS:-auto}
CTL="$ROOT/build/walrusctl"
NGINX=/usr/sbin/nginx

die() {
    echo "entrypoint: $*" >&2
    exit 1
}

# workers run as nobody when the master runs as root
worker_owns() {
    if [ "$(id -u)" -eq 0 ]; then
        chown nobody "$@"
    fi
}

init() {
    local i n=${WALRUS_N:-7} urls

    if [ -f "$CONF/committee.json" ]; then
        echo "entrypoint: $CONF/committee.json exists; kept"
        return
    fi

    if [ -n "${WALRUS_NODE_URLS:-}" ]; then
        read -r -a urls <<< "$WALRUS_NODE_URLS"
    else
        urls=()
        for ((i = 0; i < n; i++)); do
            urls+=("http://node$i:9100")
        done
    fi

    # the keys and committee.json as `make run` writes them
    bash "$ROOT/scripts/committee.sh" "$CONF" \
        "${WALRUS_SEGMENT_SIZE:-4194304}" "${urls[@]}"
    echo "entrypoint: committee of ${#urls[@]} nodes in $CONF/committee.json"
}

# one upstream{} per committee node (name and host:port from its URL),
# read from the committee with core Perl's JSON::PP
upstreams() {
    perl -MJSON::PP -e '
        local $/;
        my $c = decode_json(<STDIN>);
        for my $node (@{$c->{nodes}}) {
            my ($host) = $node->{url} =~ m{^https?://([^/]+)}
                or die "bad URL $node->{url}\n";
            print "    upstream walrus_$node->{name} {\n",
                  "        server $host;\n        keepalive 16;\n    }\n";
        }' < "$CONF/committee.json"
}

# nginx resolves upstream names once, when it starts: wait (60 s at
# most) until every node's host name resolves, since containers come up
# in any order
wait_hosts() {
    local host i

    for host in $(perl -MJSON::PP -e '
        local $/;
        print map { m{^https?://([^/:]+)} ? "$1\n" : () }
              map { $_->{url} } @{decode_json(<STDIN>)->{nodes}}' \
        < "$CONF/committee.json")
    do
        for ((i = 0; i < 120; i++)); do
            getent hosts "$host" > /dev/null && break
            sleep 0.5
        done
    done
}

# nginx.conf around the server block $1
write_conf() {
    mkdir -p "$RUN/tmp"
    worker_owns "$RUN/tmp"
    cat > "$RUN/nginx.conf" <<END
load_module $ROOT/build/ngx_http_walrus_module.so;

daemon off;
worker_processes $WORKERS;
pid $RUN/nginx.pid;
error_log $ERROR_LOG info;
thread_pool default threads=4;

events {
    worker_connections 4096;
}

http {
    access_log $ACCESS_LOG;
    client_body_temp_path $RUN/tmp/body;
    proxy_temp_path $RUN/tmp/proxy;
    fastcgi_temp_path $RUN/tmp/fastcgi;
    uwsgi_temp_path $RUN/tmp/uwsgi;
    scgi_temp_path $RUN/tmp/scgi;

    walrus_committee $CONF/committee.json;
${REDIS_LINE:-}
$(upstreams)

$1
}
END
}

# the internal location a gateway's or a node keeper's requests to nodes
# go through (conf.d/gateway.conf, conf.d/node.conf)
NODE_PROXY='
        location /_walrus_node/ {
            internal;
            proxy_pass http://walrus_$walrus_node$walrus_node_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_headers off;
            proxy_set_header Range $walrus_node_range;
            proxy_buffering off;
            sendfile on;
            proxy_connect_timeout 2s;
            proxy_send_timeout 30s;
            proxy_read_timeout 30s;
            proxy_next_upstream off;
        }'

node() {
    local name=${WALRUS_NODE_NAME:-node0}
    local store=${WALRUS_STORE:-/var/lib/walrus/store}

    [ -f "$CONF/committee.json" ] || die "no $CONF/committee.json: run init"
    [ -f "$CONF/keys/$name.key" ] || die "no key $CONF/keys/$name.key"
    mkdir -p "$store"
    worker_owns "$store"

    write_conf "
    server {
        listen ${WALRUS_LISTEN:-9100};
        client_max_body_size 1g;
        client_body_buffer_size 256k;

        location / {
            walrus_node;
            walrus_node_name $name;
            walrus_node_key $CONF/keys/$name.key;
            walrus_node_store $store;
        }
$NODE_PROXY
    }"
    wait_hosts
    exec "$NGINX" -p "$RUN/" -c "$RUN/nginx.conf" -e "$ERROR_LOG"
}

gateway() {
    local max=${WALRUS_MAX_BLOB_SIZE:-1g}
    local redis=${WALRUS_REDIS-redis:6379}

    [ -f "$CONF/committee.json" ] || die "no $CONF/committee.json: run init"
    [ -f "$CONF/keys/gateway.key" ] || die "no key $CONF/keys/gateway.key"
    mkdir -p "$RUN/walrus"
    worker_owns "$RUN/walrus"
    REDIS_LINE=${redis:+    walrus_redis $redis;}

    write_conf "
    server {
        listen ${WALRUS_LISTEN:-8080};
        client_max_body_size $max;
        client_body_buffer_size 256k;

        location / {
            walrus_gateway;
            walrus_gateway_key $CONF/keys/gateway.key;
            walrus_gateway_max_blob_size $max;
            walrus_gateway_temp_path $RUN/walrus;
        }
$NODE_PROXY
    }"
    wait_hosts
    exec "$NGINX" -p "$RUN/" -c "$RUN/nginx.conf" -e "$ERROR_LOG"
}

case "${1:-}" in
    init) init ;;
    node) node ;;
    gateway) gateway ;;
    *) echo "usage: $0 init|node|gateway" >&2; exit 2 ;;
esac
