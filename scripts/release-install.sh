#!/bin/sh
# Installs Skiff from this unpacked release tarball (this file is install.sh at its top). As root:
#   sudo ./install.sh [--no-start]
# Installs Debian's or Ubuntu's containerd, runc, CNI plugins and iptables when they are missing (apt), then runs
# bin/skiff install, which copies the binaries and templates to /usr/local, writes the systemd unit, the state
# folder and the admin password, and starts the service. Run it again to upgrade: state, password and running
# functions are kept.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run it as root: sudo $0" >&2
    exit 1
fi
missing=""
for package in containerd runc containernetworking-plugins iptables libsystemd0; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
if [ -n "$missing" ]; then
    if [ -n "${SKIFF_NO_APT:-}" ]; then
        echo "install.sh: missing packages:$missing (SKIFF_NO_APT is set, so not installing them)" >&2
        exit 1
    fi
    echo "install.sh: installing$missing" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
exec "$here/bin/skiff" install "$@"
