#!/usr/bin/env bash
# Run a command with podman on a chosen network backend, in a throw-away podman root, so that the
# container tests can be proven on CNI and on netavark without touching this machine's own
# containers, networks or backend choice.
# Usage: scripts/with-network-backend.sh cni|netavark [--fresh] COMMAND [ARG ...]
#        scripts/with-network-backend.sh cni|netavark --clean
#   e.g. scripts/with-network-backend.sh cni make molecule SCENARIOS=emulator
# The root lives in /var/tmp/mailops-podman-<backend> (kept between runs; --clean removes it) with
# its own storage, run directory and network definitions. Images come read-only from this machine's
# own store (additionalimagestores), so they are built once; --fresh starts from an empty root
# that shares nothing, as on a new machine (the images are built there). The test network gets
# another name and subnet there (MAILOPS_NETWORK, MAILOPS_NETWORK_SUBNET), so both roots can hold
# one at a time.
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
clean() {
  # Not `podman system reset`: it would also clear what the root shares with the machine's own.
  if [ -f "$root/containers.conf" ] && grep -q '^tmp_dir' "$root/containers.conf"; then
    in_root() { CONTAINERS_CONF=$root/containers.conf CONTAINERS_STORAGE_CONF=$root/storage.conf "$@"; }
    { in_root podman rm --all --force --time 0 && in_root podman network prune --force; } >/dev/null 2>&1 || true
  fi
  if [ -d "$root" ]; then
    awk -v d="$root/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | xargs -r umount -l
    rm -rf --one-file-system "$root" "/run/mailops-podman-$backend"
  fi
}
if [ "${1:-}" = --clean ]; then
  clean
  echo "with-network-backend.sh: removed $root"
  exit 0
fi
shared=true
if [ "${1:-}" = --fresh ]; then
  clean
  shared=false
  shift
fi
[ $# -gt 0 ] || { echo "usage: $0 cni|netavark COMMAND [ARG ...]" >&2; exit 2; }
command -v "$backend" >/dev/null 2>&1 || [ -x "/usr/lib/podman/$backend" ] || [ "$backend" = cni ] \
  || { echo "with-network-backend.sh: $backend is not installed (make setup installs it)" >&2; exit 1; }
[ "$backend" != cni ] || [ -x /usr/lib/cni/bridge ] \
  || { echo "with-network-backend.sh: the CNI plugins are not installed: apt-get install containernetworking-plugins" >&2
       exit 1; }
main_store=$(podman info --format '{{ .Store.GraphRoot }}')
mkdir -p "$root"/{storage,run,networks,tmp}
# This machine's containers.conf with the throw-away root's own backend, network definitions,
# per-boot directory and locks (podman's default shared-memory locks and /run/libpod belong to
# this machine's own root: a second root using them would disturb its containers).
run=/run/mailops-podman-$backend
if [ -f /etc/containers/containers.conf ]; then
  sed -E '/^[[:space:]]*(network_backend|network_config_dir|tmp_dir|lock_type)[[:space:]]*=/d' \
    /etc/containers/containers.conf >"$root/containers.conf"
else
  : >"$root/containers.conf"
fi
/usr/bin/python3 scripts/containers_conf.py "$root/containers.conf" "network.network_backend=\"$backend\"" \
  "network.network_config_dir=\"$root/networks\"" "engine.tmp_dir=\"$run\"" 'engine.lock_type="file"' >/dev/null
rm -f "$root/containers.conf.mailops-backup"
{
  printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/storage"\nrunroot = "%s/run"\n' "$root" "$root"
  [ "$shared" = false ] || printf '[storage.options]\nadditionalimagestores = ["%s"]\n' "$main_store"
} >"$root/storage.conf"
export CONTAINERS_CONF=$root/containers.conf CONTAINERS_STORAGE_CONF=$root/storage.conf
export MAILOPS_NETWORK=mailops-test-$backend MAILOPS_NETWORK_SUBNET=$subnet TMPDIR=$root/tmp
got=$(podman info --format '{{ .Host.NetworkBackend }}')
[ "$got" = "$backend" ] || { echo "with-network-backend.sh: podman in $root uses $got, not $backend" >&2; exit 1; }
echo "with-network-backend.sh: podman root $root, network backend $got, test network $MAILOPS_NETWORK ($subnet)," \
  "images $([ "$shared" = true ] && echo "shared from $main_store" || echo "built there")"
exec "$@"
