#!/bin/sh
# Installs the Debian packages the build, the tests and the local network
# need, when any is missing.  Needs root (or sudo) only when it installs.

set -e

PKGS="build-essential libisal-dev libssl-dev libjansson-dev nginx nginx-dev openssl
libhiredis-dev libjwt-dev libcurl4-openssl-dev redis-server libnginx-mod-http-echo curl perl
valgrind gdb"

# promtool checks the metrics exposition and the alert rules (t/54);
# Debian ships it in prometheus, whose server (a systemd unit) is not used
PKGS="$PKGS prometheus"

# Node.js and npm run the OpenAPI validator of the tests (t/46); a
# machine that has them from elsewhere keeps its own
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
    PKGS="$PKGS nodejs npm"
fi

# multi-buffer SHA-256: optional (the build falls back to OpenSSL without
# it), and Debian builds it for amd64 only
if [ "$(dpkg --print-architecture)" = amd64 ]; then
    PKGS="$PKGS libipsec-mb-dev"
fi

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
         | grep -q 'install ok installed'
    then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

echo "installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing
