#!/usr/bin/env bash
# Run molecule scenarios one after another: the named ones, or every extensions/molecule/*/molecule.yml.
# Writes "<passed> <failed>" to $MOLECULE_COUNTS when set (scripts/test.sh reads it).
# --clean removes every test host and emulator the scenarios created, and the test network.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$PWD/.build/collections}

if [ "${1:-}" = --clean ]; then
  podman ps -aq --filter label=mailops.scenario | xargs -r podman rm --force --time 0
  podman network exists mailops-test && podman network rm mailops-test
  exit 0
fi

if [ $# -eq 0 ]; then
  for f in extensions/molecule/*/molecule.yml; do
    [ -e "$f" ] && set -- "$@" "$(basename "$(dirname "$f")")"
  done
fi
scripts/images.sh --needed || exit 1
# Plain output in logs (CI), colours in a terminal.
[ -t 1 ] || export NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1

passed=0 failed=0 report=()
mkdir -p .cache/molecule-locks
for scenario in "$@"; do
  printf '\n---------- molecule scenario: %s ----------\n' "$scenario"
  # Two runs of one scenario share container names: the second waits for the first.
  exec {lock}>".cache/molecule-locks/$scenario.lock"
  flock -n "$lock" || { echo "waiting for another run of $scenario to finish"; flock "$lock"; }
  t0=$(date +%s)
  if molecule test -s "$scenario"; then
    passed=$(( passed + 1 )) result=passed
  else
    failed=$(( failed + 1 )) result=FAILED
  fi
  report+=("$scenario: $result in $(( $(date +%s) - t0 ))s")
  exec {lock}>&-
done
[ -z "${MOLECULE_COUNTS:-}" ] || echo "$passed $failed" >"$MOLECULE_COUNTS"
printf '\nmolecule:\n'
printf '  %s\n' "${report[@]}"
echo "$passed scenarios passed, $failed failed"
[ "$failed" -eq 0 ]
