#!/usr/bin/env bash
# Install what the tests need on a Debian 12 host (as root); fast when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
# netavark and aardvark-dns are only "recommended" by podman's dependencies: without them podman
# falls back to CNI. Both backends work with the test network (docs/development.md); installing
# them makes a fresh machine use netavark, podman's default. A machine whose podman already chose
# CNI keeps it (podman records its choice in its storage; switching needs `podman system reset`).
# swaks needs libnet-ssleay-perl (only recommended) for --tls.
packages=(podman runc uidmap slirp4netns fuse-overlayfs netavark aardvark-dns debootstrap iproute2 swaks
  libnet-ssleay-perl msmtp shellcheck git make python3 python3-venv python3-cryptography ca-certificates)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "setup-host.sh: missing packages ${missing[*]}; run as root" >&2; exit 1; }
  echo "setup-host.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# crun refuses this kind of host (hybrid cgroups) and the default container ulimits cannot be
# set here: runc and lower ulimits make plain `podman run` work (see docs/development.md).
# Only missing keys are added (the old file is kept as .mailops-backup); a key the user set to
# another value stops the setup with a message that names it.
conf=${MAILOPS_CONTAINERS_CONF:-/etc/containers/containers.conf}
[ -w "$(dirname "$conf")" ] || [ -w "$conf" ] || [ "$(id -u)" -eq 0 ] \
  || { echo "setup-host.sh: $conf may need updating; run as root" >&2; exit 1; }
/usr/bin/python3 scripts/containers_conf.py "$conf" \
  'containers.default_ulimits=["nofile=1024:1024", "nproc=4096:4096"]' 'engine.runtime="runc"'
