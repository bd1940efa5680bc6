#!/usr/bin/env bash
# Run a command with podman on a chosen network backend, in a throw-away podman root, so that the
# container tests can be proven on CNI and on netavark without touching this machine's own
# containers, networks or backend choice.
# Usage: scripts/with-network-backend.sh cni|netavark COMMAND [ARG ...]
#   e.g. scripts/with-network-backend.sh cni make molecule SCENARIOS=emulator
# The root lives in /var/tmp/mailops-podman-<backend> (kept between runs; --clean removes it) with
# its own storage, run directory and network definitions. Images come read-only from this machine's
# own store (additionalimagestores), so they are built once. The test network gets another name
# and subnet there (MAILOPS_NETWORK, MAILOPS_NETWORK_SUBNET), so both roots can hold one at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-}
case $backend in
  cni) subnet=10.89.232.0/22 ;;
  netavark) subnet=10.89.236.0/22 ;;
  *) echo "usage: $0 cni|netavark COMMAND [ARG ...]  |  $0 cni|netavark --clean" >&2; exit 2 ;;
esac
shift
root=/var/tmp/mailops-podman-$backend
if [ "${1:-}" = --clean ]; then
  if [ -d "$root" ]; then
    CONTAINERS_CONF=$root/containers.conf CONTAINERS_STORAGE_CONF=$root/storage.conf podman system reset --force \
      >/dev/null 2>&1 || true
    awk -v d="$root/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | xargs -r umount -l
    rm -rf --one-file-system "$root"
  fi
  echo "with-network-backend.sh: removed $root"
  exit 0
fi
[ $# -gt 0 ] || { echo "usage: $0 cni|netavark COMMAND [ARG ...]" >&2; exit 2; }
command -v "$backend" >/dev/null 2>&1 || [ -x "/usr/lib/podman/$backend" ] || [ "$backend" = cni ] \
  || { echo "with-network-backend.sh: $backend is not installed (make setup installs it)" >&2; exit 1; }
[ "$backend" != cni ] || [ -x /usr/lib/cni/bridge ] \
  || { echo "with-network-backend.sh: the CNI plugins are not installed: apt-get install containernetworking-plugins" >&2
       exit 1; }
main_store=$(podman info --format '{{ .Store.GraphRoot }}')
mkdir -p "$root"/{storage,run,networks,tmp}
# This machine's containers.conf, then the throw-away root's own [network] settings.
{
  [ ! -f /etc/containers/containers.conf ] || grep -v -e '^ *network_backend' -e '^ *network_config_dir' \
    /etc/containers/containers.conf
  printf '\n[network]\nnetwork_backend = "%s"\nnetwork_config_dir = "%s/networks"\n' "$backend" "$root"
} | /usr/bin/python3 -c '
import sys, tomllib
text = sys.stdin.read()
# Fold a second [network] table (the one added above) into the first, so the file stays valid TOML.
head, sep, tail = text.rpartition("\n[network]\n")
if "[network]" in head:
    lines = head.splitlines()
    i = lines.index("[network]")
    lines[i + 1:i + 1] = tail.strip().splitlines()
    text = "\n".join(lines) + "\n"
tomllib.loads(text)
sys.stdout.write(text)' >"$root/containers.conf"
cat >"$root/storage.conf" <<EOF_
[storage]
driver = "overlay"
graphroot = "$root/storage"
runroot = "$root/run"
[storage.options]
additionalimagestores = ["$main_store"]
EOF_
export CONTAINERS_CONF=$root/containers.conf CONTAINERS_STORAGE_CONF=$root/storage.conf
export MAILOPS_NETWORK=mailops-test-$backend MAILOPS_NETWORK_SUBNET=$subnet TMPDIR=$root/tmp
got=$(podman info --format '{{ .Host.NetworkBackend }}')
[ "$got" = "$backend" ] || { echo "with-network-backend.sh: podman in $root uses $got, not $backend" >&2; exit 1; }
echo "with-network-backend.sh: podman root $root, network backend $got, test network $MAILOPS_NETWORK ($subnet)"
exec "$@"
