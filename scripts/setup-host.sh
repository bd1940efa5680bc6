#!/usr/bin/env bash
# Install what the tests need on a Debian 12 host (as root); fast when everything is there.
set -euo pipefail
packages=(podman runc uidmap slirp4netns fuse-overlayfs debootstrap iproute2 swaks msmtp shellcheck git make
  python3-venv ca-certificates)
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
conf=/etc/containers/containers.conf
want='[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"'
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
  [ "$(id -u)" -eq 0 ] || { echo "setup-host.sh: $conf needs updating; run as root" >&2; exit 1; }
  note=""
  if [ -f "$conf" ]; then cp "$conf" "$conf.mailops-backup"; note="; the previous file is $conf.mailops-backup"; fi
  mkdir -p "$(dirname "$conf")"
  printf '%s\n' "$want" >"$conf"
  echo "setup-host.sh: wrote $conf (runc, nofile 1024, nproc 4096)$note"
fi
