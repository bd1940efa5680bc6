#!/usr/bin/env bash
# Build the local test images from Debian's archive (no registry is reachable), once.
# Usage: scripts/images.sh [IMAGE ...]   default: mailops-debian12 mailops-debian13 mailops-emulator
#        scripts/images.sh --needed      the emulator plus every image a molecule scenario names
# An image is rebuilt only when its recipe changed: each carries a hash of `spec` + `build` as a label.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=$root/.cache/debootstrap
systemd=python3,ca-certificates,systemd,systemd-sysv,dbus,iproute2,procps
mail=postfix,libsasl2-modules,bsd-mailx,swaks,cron,msmtp

# Remove a build root; debootstrap may have left /proc etc. mounted in it if interrupted.
cleanup() {
  case $1 in "${TMPDIR:-/tmp}"/mailops-image.*) ;; *) return 0 ;; esac
  awk -v d="$1/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | xargs -r umount -l
  rm -rf --one-file-system "$1" "$1.log"
}

building=
trap '[ -z "$building" ] || cleanup "$building"' EXIT

# name -> suite packages cmd
spec() {
  case $1 in
    mailops-debian12) echo "bookworm $systemd systemd" ;;
    mailops-debian13) echo "trixie $systemd systemd" ;;
    mailops-debian12-mail) echo "bookworm $systemd,$mail systemd" ;;
    mailops-debian13-mail) echo "trixie $systemd,$mail systemd" ;;
    # The emulator needs only Python with aiosmtpd and cryptography (Debian 12 versions).
    mailops-emulator) echo "bookworm python3,ca-certificates,python3-aiosmtpd,python3-cryptography python3" ;;
    *) echo "images.sh: unknown image '$1' (known: mailops-debian12 mailops-debian13 mailops-debian12-mail" \
         "mailops-debian13-mail mailops-emulator)" >&2; return 1 ;;
  esac
}

build() {
  local name=$1 suite packages cmd current dir hash
  read -r suite packages cmd <<<"$(spec "$name")"
  hash=$(printf '%s\n%s\n%s\n' "$(declare -f build)" "$(spec "$name")" "$mirror" | sha256sum | cut -c1-16)
  current=$(podman image inspect --format '{{ index .Labels "mailops.hash" }}' "localhost/$name:latest" 2>/dev/null || true)
  if [ "$current" = "$hash" ]; then
    echo "images.sh: localhost/$name:latest is up to date"
    return
  fi
  echo "images.sh: building localhost/$name:latest (debootstrap $suite)"
  mkdir -p "$cache/$suite"
  dir=$(mktemp -d "${TMPDIR:-/tmp}/mailops-image.XXXXXX")
  building=$dir
  # minbase keeps the image small; --cache-dir keeps the .debs for the next rebuild.
  debootstrap --variant=minbase --include="$packages" --cache-dir="$cache/$suite" "$suite" "$dir" "$mirror" \
    >"$dir.log" 2>&1 || { tail -n 30 "$dir.log" >&2; cleanup "$dir"; return 1; }
  # Test hosts run real services under systemd and apt from the same archive.
  echo "deb $mirror $suite main" >"$dir/etc/apt/sources.list"
  rm -f "$dir/var/cache/apt/archives/"*.deb
  if [ "$cmd" = systemd ]; then cmd='["/lib/systemd/systemd"]'; else cmd='["/usr/bin/python3"]'; fi
  tar -C "$dir" -c . | podman import --change "CMD $cmd" --change "LABEL mailops.hash=$hash" \
    - "localhost/$name:latest" >/dev/null
  cleanup "$dir"
  building=
  echo "images.sh: built localhost/$name:latest"
}

if [ "${1:-}" = --needed ]; then
  # shellcheck disable=SC2046  # one image name per word
  set -- mailops-emulator $(grep -rhoE 'localhost/mailops-[a-z0-9-]+' "$root/extensions/molecule" 2>/dev/null \
    | sed 's|^localhost/||' | sort -u | grep -vx mailops-emulator)
elif [ $# -eq 0 ]; then
  set -- mailops-debian12 mailops-debian13 mailops-emulator
fi
for image in "$@"; do build "$image"; done
