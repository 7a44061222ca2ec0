#!/bin/sh
# Launches a lab VM running Skiff with multipass, and prints how to use it.
#   multipass/launch.sh [NAME] [--tarball FILE] [--release-url URL] [--bridged] [--image 24.04]
# NAME defaults to skiff. --tarball transfers a release tarball (scripts/release) into the VM after boot, for labs
# that cannot reach a release URL; --release-url writes the URL into the VM's cloud-config instead; with neither,
# the URL in cloud-init/cloud-config.yaml is used. --bridged also puts the VM on the host's LAN (multipass's
# `--bridged`, after `multipass set local.bridged-network=IFACE`) so that IoT devices can reach it.
# Sizing for a lab: CPUS, MEMORY, DISK (defaults 2, 4G, 20G); WAIT_SECONDS for Skiff to answer (default 900).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
name=skiff
tarball=""
release_url=""
bridged=""
image=24.04
while [ $# -gt 0 ]; do
    case "$1" in
    --tarball) tarball=$2; shift 2 ;;
    --release-url) release_url=$2; shift 2 ;;
    --bridged) bridged=1; shift ;;
    --image) image=$2; shift 2 ;;
    -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "launch.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) name=$1; shift ;;
    esac
done
cpus=${CPUS:-2}
memory=${MEMORY:-4G}
disk=${DISK:-20G}
port=${SKIFF_PORT:-8080}
wait_seconds=${WAIT_SECONDS:-900}
config="$here/../cloud-init/cloud-config.yaml"
[ -f "$config" ] || config="$here/cloud-config.yaml"
[ -f "$config" ] || { echo "launch.sh: cloud-init/cloud-config.yaml not found beside this script" >&2; exit 1; }
if [ -n "$tarball" ] && [ ! -f "$tarball" ]; then
    echo "launch.sh: $tarball does not exist; build one with scripts/release" >&2
    exit 1
fi
command -v multipass >/dev/null 2>&1 || { echo "launch.sh: multipass is not installed (https://multipass.run)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A private copy of the cloud-config, with the release URL filled in when one was given.
if [ -n "$release_url" ]; then
    awk -v url="$release_url" '
        /path: \/etc\/skiff\/release-url/ { in_url = 1 }
        in_url && /content: \|/ { print; print "      " url; skip = 1; in_url = 0; next }
        skip && /^ *$/ { skip = 0; next }
        { skip = 0; print }' "$config" >"$work/cloud-config.yaml"
else
    cp "$config" "$work/cloud-config.yaml"
fi

echo "launch.sh: launching $name (Ubuntu $image, $cpus CPUs, $memory memory, $disk disk)" >&2
set -- launch "$image" --name "$name" --cpus "$cpus" --memory "$memory" --disk "$disk" \
    --cloud-init "$work/cloud-config.yaml" --timeout 1200
[ -n "$bridged" ] && set -- "$@" --bridged
multipass "$@"

if [ -n "$tarball" ]; then
    echo "launch.sh: transferring $tarball" >&2
    multipass transfer "$tarball" "$name:/tmp/skiff.tar.gz"
    # Renamed into place in one step: the VM installs as soon as the file appears.
    multipass exec "$name" -- sudo sh -c \
        'mkdir -p /var/lib/skiff-release && mv /tmp/skiff.tar.gz /var/lib/skiff-release/skiff.tar.gz.part && mv /var/lib/skiff-release/skiff.tar.gz.part /var/lib/skiff-release/skiff.tar.gz'
fi

# The VM's IPv4 addresses from `multipass info --format json`: the first is multipass's own network, a bridged
# one comes after it.
addresses=$(multipass info "$name" --format json | awk '
    /"ipv4"/ { collecting = 1; next }
    collecting && /\]/ { collecting = 0 }
    collecting { gsub(/[", ]/, ""); if ($0 != "") print }')
if [ -n "$bridged" ]; then
    address=$(echo "$addresses" | tail -n 1)
else
    address=$(echo "$addresses" | head -n 1)
fi
[ -n "$address" ] || { echo "launch.sh: multipass reports no IPv4 address for $name" >&2; exit 1; }

url="http://$address:$port"
echo "launch.sh: waiting for Skiff at $url (the VM installs it in the background)" >&2
elapsed=0
until curl -fsS -o /dev/null --max-time 5 "$url/healthz"; do
    elapsed=$((elapsed + 5))
    if [ "$elapsed" -ge "$wait_seconds" ]; then
        echo "launch.sh: Skiff did not answer at $url within $wait_seconds s;" \
            "see: multipass exec $name -- journalctl -u skiff-provision -u skiff" >&2
        exit 1
    fi
    sleep 5
done
password=$(multipass exec "$name" -- sudo cat /var/lib/skiff/secrets/basic-auth-password)

cat <<DONE
Skiff is running on $name.
  gateway:  $url
  user:     admin
  password: $password

  export OPENFAAS_URL=$url
  echo '$password' | faas-cli login --password-stdin
  echo '$password' | skiff login --password-stdin
  multipass shell $name        # skiff is installed inside the VM too
DONE
