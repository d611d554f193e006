#!/usr/bin/env bash
# Installs the Debian packages the workspace needs beyond a Rust toolchain, when they are
# missing: `etcd-server` (the real etcd that ringrpc-etcd's tests start on loopback) and
# `protobuf-compiler` with `libprotobuf-dev` (protoc and its well-known .proto files, which
# etcd-client's build script compiles), and `ca-certificates` (the system's root certificates,
# which the `otel` TLS test expects to be there and not to know its private CA). Idempotent
# and quick when they are there. Uses sudo when not root.
set -euo pipefail

protoc_works() {
    local dir status
    dir="$(mktemp -d)"
    printf 'syntax = "proto3";\nimport "google/protobuf/descriptor.proto";\n' >"$dir/probe.proto"
    status=0
    "${PROTOC:-protoc}" -I"$dir" --descriptor_set_out=/dev/null "$dir/probe.proto" >/dev/null 2>&1 \
        || status=$?
    rm -rf "$dir"
    return "$status"
}

packages=()
command -v etcd >/dev/null 2>&1 || packages+=(etcd-server)
protoc_works || packages+=(protobuf-compiler libprotobuf-dev)
[ -s /etc/ssl/certs/ca-certificates.crt ] || packages+=(ca-certificates)
if [ "${#packages[@]}" -eq 0 ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: missing ${packages[*]} (Debian package names) and no apt-get to install them" >&2
    exit 1
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 \
        || { echo "system-deps: need root or sudo to install ${packages[*]}" >&2; exit 1; }
    as_root=(sudo)
fi
apt_install() {
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${packages[@]}"
}
echo "system-deps: installing ${packages[*]}"
if ! apt_install; then
    "${as_root[@]}" apt-get update
    apt_install
fi

command -v etcd >/dev/null 2>&1 || { echo "system-deps: etcd is still not on PATH" >&2; exit 1; }
protoc_works || { echo "system-deps: protoc still cannot compile a .proto importing descriptor.proto" >&2; exit 1; }
[ -s /etc/ssl/certs/ca-certificates.crt ] || { echo "system-deps: /etc/ssl/certs/ca-certificates.crt is still missing" >&2; exit 1; }
