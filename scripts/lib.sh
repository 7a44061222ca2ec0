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
