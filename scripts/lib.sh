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
# With SKIFF_TAR_PROGRESS=LABEL and stderr a terminal, the layer's tar draws a bar after LABEL as it goes.
make_oci_image() {
    local rootfs=$1 reference=$2 run_config=$3 out=$4
    local dir; dir=$(mktemp -d)
    mkdir -p "$dir/oci/blobs/sha256"
    local progress=()
    if [ -n "${SKIFF_TAR_PROGRESS:-}" ] && [ -t 2 ]; then
        # Every 500 records of 10 KiB (5 MB) tar runs this with TAR_CHECKPOINT set to the records written so far;
        # du's total is the 100%.
        SKIFF_TAR_TOTAL=$(du -sb "$rootfs" | cut -f1) SKIFF_TAR_LABEL=$SKIFF_TAR_PROGRESS
        export SKIFF_TAR_TOTAL SKIFF_TAR_LABEL
        progress=(--checkpoint=500 "--checkpoint-action=exec=bash -c '. \"$PWD/scripts/lib.sh\"; draw_bar \"\$SKIFF_TAR_LABEL\" \$((TAR_CHECKPOINT * 10240)) \$SKIFF_TAR_TOTAL' >&2")
    fi
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner "${progress[@]}" -C "$rootfs" -cf "$dir/layer.tar" .
    [ ${#progress[@]} -eq 0 ] || printf '\r\033[K' >&2
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

# draw_bar LABEL DONE TOTAL: LABEL, a bar, the percentage and the megabytes, redrawn in place (for a terminal).
draw_bar() {
    local label=$1 done=$2 total=$3 width=24
    [ "$total" -gt 0 ] || total=1
    [ "$done" -le "$total" ] || done=$total
    local filled=$((done * width / total))
    local bar; bar=$(printf '%*s' "$filled" '' | tr ' ' '#')$(printf '%*s' $((width - filled)) '' | tr ' ' '-')
    printf '\r%s  [%s] %3d%%  %d MB / %d MB\033[K' "$label" "$bar" $((done * 100 / total)) \
        $((done / 1000000)) $((total / 1000000))
}

# debootstrap_progress LOG: one line for a terminal from debootstrap's log: while it retrieves and validates (in
# turns, so the number of packages grows), how many it has; once all are retrieved, a bar of the packages through
# each later phase (extracting, unpacking, configuring).
debootstrap_progress() {
    local log=$1 retrieved phase count last
    retrieved=$(debootstrap_package_lines Retrieving "$log")
    last=$({ grep '^I: ' "$log" || true; } | tail -1 | cut -c4-)
    phase=retrieving
    for candidate in Extracting Unpacking Configuring; do
        [ "$(debootstrap_package_lines "$candidate" "$log")" -eq 0 ] || phase=$candidate
    done
    if [ "$phase" = retrieving ]; then
        last=${last:-starting}
        printf '\rskiff: debootstrap: %d packages retrieved (%s)\033[K' "$retrieved" "${last:0:40}"
    else
        count=$(debootstrap_package_lines "$phase" "$log")
        printf '\rskiff: debootstrap: %-11s' "${phase,,}"
        local filled=$((count * 24 / (retrieved > 0 ? retrieved : 1)))
        [ "$filled" -le 24 ] || filled=24
        printf ' [%s%s] %d/%d packages\033[K' "$(printf '%*s' "$filled" '' | tr ' ' '#')" \
            "$(printf '%*s' $((24 - filled)) '' | tr ' ' '-')" "$count" "$retrieved"
    fi
}

# debootstrap's line per package ("I: Retrieving libc6 2.36-9", "I: Unpacking libc6..."), told from its phase
# lines ("I: Retrieving Packages", "I: Unpacking the base system...") by its lower-case name and its length.
DEBOOTSTRAP_PACKAGE_LINE='^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) [a-z0-9][^ ]*( [^ ]+)? *$'

# debootstrap_package_lines VERB LOG: how many packages LOG shows going through VERB.
debootstrap_package_lines() { grep -E "$DEBOOTSTRAP_PACKAGE_LINE" "$2" | grep -c "^I: $1 " || true; }

# debootstrap_phases LOG SHOWN: prints to stderr the phase lines of debootstrap's log after its first SHOWN lines
# (not the line per package), and prints how many lines it has now read.
debootstrap_phases() {
    local log=$1 shown=$2 total
    total=$(wc -l <"$log")
    tail -n +"$((shown + 1))" "$log" | head -n "$((total - shown))" |
        grep -E '^I: ' | grep -vE "$DEBOOTSTRAP_PACKAGE_LINE" |
        sed 's/^I: /skiff: debootstrap: /' >&2 || true
    echo "$total"
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
