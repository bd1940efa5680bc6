#!/usr/bin/env bash
# Build the local test images from Debian's archive (no registry is reachable), once.
# Usage: scripts/images.sh [IMAGE ...]   default: mailops-debian12 mailops-debian13 mailops-emulator
#        scripts/images.sh --needed      the emulator plus every image a molecule scenario names
# An image is rebuilt only when its recipe changed: each carries a hash of its recipe as a label.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=$root/.cache/debootstrap
systemd=python3,python3-apt,ca-certificates,systemd,systemd-sysv,dbus,iproute2,procps,cron
mail="postfix libsasl2-modules bsd-mailx swaks msmtp"
# What the roles and scenarios install on a bare host, with dependencies and recommends, as a
# local apt repository in every base image (/var/lib/mailops-apt, its only apt source): a role's
# install tasks run for real on a bare test host and download nothing. One group per apt call,
# since some conflict (postfix and msmtp-mta are both a sendmail).
repo_groups=("postfix libsasl2-modules postfwd bsd-mailx swaks ca-certificates openssl" "msmtp msmtp-mta bsd-mailx")

# name -> "bootstrap SUITE PACKAGES" (a systemd base image) or "derive BASE PACKAGES CMD"
spec() {
  case $1 in
    mailops-debian12) echo "bootstrap bookworm $systemd" ;;
    mailops-debian13) echo "bootstrap trixie $systemd" ;;
    # Mail tools preinstalled, for role scenarios and benchmarks that want no apt run in converge.
    mailops-debian12-mail) echo "derive mailops-debian12 ${mail// /,} systemd" ;;
    mailops-debian13-mail) echo "derive mailops-debian13 ${mail// /,} systemd" ;;
    # Real applications for the app_smtp scenario (checkers and senders), so converge needs no apt run.
    mailops-debian12-apps) echo "derive mailops-debian12 prometheus-alertmanager,s-nail,php-cli,ruby,libxml2-utils systemd" ;;
    # The emulator needs only Python with Debian 12's aiosmtpd and cryptography.
    mailops-emulator) echo "derive mailops-debian12 python3-aiosmtpd,python3-cryptography python3" ;;
    *) echo "images.sh: unknown image '$1' (known: mailops-debian12 mailops-debian13 mailops-debian12-mail" \
         "mailops-debian13-mail mailops-debian12-apps mailops-emulator)" >&2; return 1 ;;
  esac
}

label() { podman image inspect --format '{{ index .Labels "mailops.hash" }}' "localhost/$1:latest" 2>/dev/null || true; }

# Remove a build root; debootstrap may have left /proc etc. mounted in it if interrupted.
building=
cleanup() {
  case $1 in "${TMPDIR:-/tmp}"/mailops-image.*) ;; *) return 0 ;; esac
  awk -v d="$1/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | xargs -r umount -l
  rm -rf --one-file-system "$1" "$1.log"
}
trap '[ -z "$building" ] || cleanup "$building"' EXIT

# A minbase Debian with systemd as CMD, so test hosts run real services.
bootstrap() {
  local name=$1 suite=$2 packages=$3 hash=$4 dir
  mkdir -p "$cache/$suite"
  dir=$(mktemp -d "${TMPDIR:-/tmp}/mailops-image.XXXXXX")
  building=$dir
  # --cache-dir keeps the .debs for the next rebuild.
  debootstrap --variant=minbase --include="$packages" --cache-dir="$cache/$suite" "$suite" "$dir" "$mirror" \
    >"$dir.log" 2>&1 || { tail -n 30 "$dir.log" >&2; return 1; }
  local_repo "$dir" "$suite" >>"$dir.log" 2>&1 || { tail -n 30 "$dir.log" >&2; return 1; }
  tar -C "$dir" -c . | podman import --change 'CMD ["/lib/systemd/systemd"]' --change "LABEL mailops.hash=$hash" \
    - "localhost/$name:latest" >/dev/null
  cleanup "$dir"
  building=
}

# Download repo_groups (with what they need beyond the image) into DIR/var/lib/mailops-apt, index
# it, and make it the image's only apt source.
local_repo() {
  local dir=$1 suite=$2 group repo=/var/lib/mailops-apt
  echo "deb $mirror $suite main" >"$dir/etc/apt/sources.list"
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  chroot "$dir" apt-get update -q
  for group in "${repo_groups[@]}"; do
    # shellcheck disable=SC2086  # one package per word
    chroot "$dir" apt-get install -y -q --download-only $group
  done
  mkdir -p "$dir$repo"
  mv "$dir/var/cache/apt/archives/"*.deb "$dir$repo/"
  (cd "$dir$repo" && for f in *.deb; do
     dpkg-deb -f "$f"
     printf 'Filename: ./%s\nSize: %s\nSHA256: %s\n\n' "$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)"
   done >Packages)
  echo "deb [trusted=yes] file:$repo ./" >"$dir/etc/apt/sources.list"
  rm -rf "$dir/var/lib/apt/lists/"*
  chroot "$dir" apt-get update -q
  : >"$dir/etc/resolv.conf"
}

# Packages added with apt in a container (apt resolves dependencies better than debootstrap).
derive() {
  local name=$1 base=$2 packages=$3 cmd=$4 hash=$5 context
  [ "$cmd" = systemd ] && cmd=/lib/systemd/systemd || cmd=/usr/bin/python3
  context=$(mktemp -d "${TMPDIR:-/tmp}/mailops-image.XXXXXX")
  building=$context
  # The mirror only while building (packages outside the local repository), then the local one alone.
  # --network host: no podman network (its default one may clash with another podman root's).
  podman build --quiet --network host --tag "localhost/$name:latest" --label "mailops.hash=$hash" -f - "$context" >/dev/null <<EOF_
FROM localhost/$base:latest
RUN echo "deb $mirror \$(. /etc/os-release && echo \$VERSION_CODENAME) main" >/etc/apt/sources.list.d/build.list \
 && apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${packages//,/ } \
 && rm /etc/apt/sources.list.d/build.list && rm -rf /var/lib/apt/lists/* && apt-get update -q && apt-get clean
CMD ["$cmd"]
EOF_
  cleanup "$context"
  building=
}

build() {
  local name=$1 how arg1 arg2 arg3 hash old
  read -r how arg1 arg2 arg3 <<<"$(spec "$name")"
  [ "$how" = derive ] && build "$arg1"
  # The recipe: these functions, the spec line, the mirror and, for derived images, the base's hash.
  hash=$(printf '%s\n' "$(declare -f bootstrap local_repo derive)" "${repo_groups[*]}" "$(spec "$name")" "$mirror" \
    "$([ "$how" = derive ] && label "$arg1")" | sha256sum | cut -c1-16)
  if [ "$(label "$name")" = "$hash" ]; then
    echo "images.sh: localhost/$name:latest is up to date"
    return
  fi
  echo "images.sh: building localhost/$name:latest ($how ${arg1})"
  old=$(podman image inspect --format '{{ .Id }}' "localhost/$name:latest" 2>/dev/null || true)
  "$how" "$name" "$arg1" "$arg2" ${arg3:+"$arg3"} "$hash"
  # The previous build is now untagged: drop it unless a container still uses it.
  [ -z "$old" ] || podman rmi "$old" >/dev/null 2>&1 || true
  echo "images.sh: built localhost/$name:latest"
}

if [ "${1:-}" = --needed ]; then
  # shellcheck disable=SC2046  # one image name per word
  set -- mailops-emulator $(grep -rhoE 'localhost/mailops-[a-z0-9-]+' "$root/extensions/molecule" 2>/dev/null \
    | sed 's|^localhost/||' | sort -u | grep -vx mailops-emulator)
elif [ $# -eq 0 ]; then
  set -- mailops-debian12 mailops-debian13 mailops-emulator
fi
for image in "$@"; do spec "$image" >/dev/null || exit 1; done
# Base images first, side by side (debootstrap is mostly waiting on dpkg and disk), then the rest.
bases=()
for image in "$@"; do
  read -r how base _ <<<"$(spec "$image")"
  if [ "$how" = bootstrap ]; then bases+=("$image"); else bases+=("$base"); fi
done
pids=()
for base in $(printf '%s\n' "${bases[@]}" | sort -u); do
  (trap '[ -z "$building" ] || cleanup "$building"' EXIT; build "$base") &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || exit 1; done
for image in "$@"; do build "$image"; done
