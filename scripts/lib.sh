# Shared by scripts/run, scripts/test and bench/*: installing Debian packages and starting services.
# Sourced, not run.

# need_packages PKG…: installs the packages that are missing (apt-get update once per run).
need_packages() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "skiff: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
        return 1
    fi
    echo "skiff: installing ${missing[*]}" >&2
    if [ -z "${SKIFF_APT_UPDATED:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        export SKIFF_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# need_swift: the toolchain must already be on PATH (or at /opt/swift); it is not a Debian package.
need_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        [ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
    fi
    command -v swift >/dev/null 2>&1 || {
        echo "skiff: no Swift toolchain on PATH; install Swift 6.x (swift.org) or use the release tarball" >&2
        return 1
    }
}

# start_containerd: starts Debian's containerd in the background unless one already answers.
start_containerd() {
    if ctr version >/dev/null 2>&1; then return 0; fi
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl start containerd && ctr version >/dev/null 2>&1 && return 0
    fi
    mkdir -p /var/log/skiff
    echo "skiff: starting containerd (log: /var/log/skiff/containerd.log)" >&2
    nohup containerd >/var/log/skiff/containerd.log 2>&1 &
    for _ in $(seq 1 50); do
        ctr version >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "skiff: containerd did not start; see /var/log/skiff/containerd.log" >&2
    return 1
}

# enable_forwarding: functions on the bridge reach beyond the host only with IPv4 forwarding on.
enable_forwarding() {
    [ "$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null)" = "1" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "skiff: IPv4 forwarding is off; run as root or: sudo sysctl -w net.ipv4.ip_forward=1" >&2
        return 1
    fi
    sysctl -qw net.ipv4.ip_forward=1
}

# The Debian packages the appliance runs on.
SKIFF_PACKAGES=(containerd runc containernetworking-plugins iptables iproute2 libsystemd-dev busybox-static curl)

# make_oci_image ROOTFS_DIR REFERENCE CONFIG_JSON OUT_TAR: an OCI image archive of one layer (the directory, with
# fixed mtimes and owners) that `ctr images import` reads offline. CONFIG_JSON is the image config's "config"
# object, e.g. '{"Cmd":["/server"],"WorkingDir":"/"}'.
make_oci_image() {
    local rootfs=$1 reference=$2 run_config=$3 out=$4
    local dir; dir=$(mktemp -d)
    mkdir -p "$dir/oci/blobs/sha256"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$dir/layer.tar" .
    _blob() { local digest; digest=$(sha256sum "$1" | cut -d' ' -f1); cp "$1" "$dir/oci/blobs/sha256/$digest"; echo "$digest"; }
    local layer config manifest arch
    arch=$(dpkg --print-architecture)
    layer=$(_blob "$dir/layer.tar")
    printf '{"architecture":"%s","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
        "$arch" "$run_config" "$layer" >"$dir/config.json"
    config=$(_blob "$dir/config.json")
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
        "$config" "$(stat -c%s "$dir/config.json")" "$layer" "$(stat -c%s "$dir/layer.tar")" >"$dir/manifest.json"
    manifest=$(_blob "$dir/manifest.json")
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s"}}]}' \
        "$manifest" "$(stat -c%s "$dir/manifest.json")" "$reference" >"$dir/oci/index.json"
    echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci/oci-layout"
    tar -C "$dir/oci" -cf "$out" .
    rm -rf "$dir"
}

# registry_binary: prints the path of Debian's docker-registry (the reference OCI registry), for tests that push
# and pull on 127.0.0.1. Unpacked from its package into the cache instead of installed: installing it would enable
# a registry service on :5000 of every interface.
registry_binary() {
    local cache=${SKIFF_CACHE:-/var/cache/skiff}/docker-registry
    if [ ! -x "$cache/usr/bin/docker-registry" ]; then
        if [ -z "${SKIFF_APT_UPDATED:-}" ]; then
            DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
            export SKIFF_APT_UPDATED=1
        fi
        local work; work=$(mktemp -d)
        (cd "$work" && apt-get download -qq docker-registry >&2)
        mkdir -p "$cache"
        dpkg-deb -x "$work"/docker-registry_*.deb "$cache"
        rm -rf "$work"
    fi
    echo "$cache/usr/bin/docker-registry"
}

# release_build [ARGS…]: the one release build, in .build-release with the Swift runtime linked in. scripts/release
# (so scripts/test) and scripts/run both call it, so the second of them finds everything built: its flags must not
# differ between them.
release_build() { swift build -c release --static-swift-stdlib --scratch-path .build-release "$@"; }

# remove_bridge BRIDGE: the bridge of a daemon a script started, and the chain skiff serve installed for it
# (SKIFF-ISO-BRIDGE, which keeps LAN hosts off its replicas).
remove_bridge() {
    ip link delete "$1" 2>/dev/null || true
    while iptables -w -D FORWARD -j "SKIFF-ISO-$1" 2>/dev/null; do :; done
    iptables -w -F "SKIFF-ISO-$1" 2>/dev/null || true
    iptables -w -X "SKIFF-ISO-$1" 2>/dev/null || true
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# wait_http URL: waits up to 10 s until URL answers 2xx; fails otherwise.
wait_http() {
    for _ in $(seq 1 200); do curl -sf "$1" >/dev/null && return 0; sleep 0.05; done
    echo "skiff: $1 did not answer within 10 s" >&2
    return 1
}

# write_nginx_conf DIR WORKERS HTTP_BODY: DIR/nginx.conf for a foreground nginx with its pid, logs and temp files
# under DIR, whose http block holds HTTP_BODY. Run it with: nginx -c DIR/nginx.conf -p DIR. The benches use it as
# the reference C server and proxy.
write_nginx_conf() {
    cat >"$1/nginx.conf" <<CONF
worker_processes $2;
daemon off;
pid $1/nginx.pid;
error_log $1/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    $3
}
CONF
}
