#!/usr/bin/env bash
# Run molecule scenarios: the named ones, or every extensions/molecule/*/molecule.yml.
# MOLECULE_JOBS (default 2) scenarios run at a time: each has its own containers and emulator on
# the shared test network, and most of their time is spent waiting on podman and apt.
# Each scenario's output goes to tests/output/molecule/<scenario>.log (printed when it fails).
# Writes "<passed> <failed>" to $MOLECULE_COUNTS when set (scripts/test.sh reads it).
# --clean removes every test host and emulator the scenarios created, and the test network.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export PATH=$PWD/.venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$PWD/.build/collections}

if [ "${1:-}" = --clean ]; then
  podman ps -aq --filter label=mailops.scenario | xargs -r podman rm --force --time 0
  net=${MAILOPS_NETWORK:-mailops-test}
  ! podman network exists "$net" || podman network rm "$net"
  exit 0
fi

if [ $# -eq 0 ]; then
  # Longest first, so two at a time finish close together; new scenarios go last.
  for scenario in msmtp postfix_relay postfix_hub app_smtp site emulator; do
    [ -e "extensions/molecule/$scenario/molecule.yml" ] && set -- "$@" "$scenario"
  done
  for f in extensions/molecule/*/molecule.yml; do
    scenario=$(basename "$(dirname "$f")")
    case " $* " in *" $scenario "*) ;; *) set -- "$@" "$scenario" ;; esac
  done
fi
# Stopped (scripts/test.sh signals the whole process group when another stage fails): wait for the
# runs to end and remove their containers.
# shellcheck disable=SC2317  # called by the trap
stop() {
  trap - TERM INT
  jobs -p | xargs -r kill -TERM 2>/dev/null
  wait
  for scenario in "$@"; do
    podman ps -aq --filter "label=mailops.scenario=$scenario" | xargs -r podman rm --force --time 0 >/dev/null 2>&1
  done
  echo "molecule: stopped, the scenarios' containers removed"
  exit 143
}
trap 'stop "$@"' TERM INT
scripts/images.sh --needed || exit 1
export NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1
logs=tests/output/molecule
# Container names are machine-wide, so the locks are too (another checkout may be running a scenario).
locks=/run/lock/mailops-molecule
mkdir -p "$logs" "$locks"

# One scenario; its result goes to $logs/<scenario>.result as "passed|FAILED <seconds>".
run() {
  local scenario=$1 lock t0 result
  # Two runs of one scenario share container names: the second waits for the first.
  exec {lock}>"$locks/$scenario.lock"
  flock -n "$lock" || { echo "$scenario: waiting for another run of it to finish"; flock "$lock"; }
  echo "$scenario: started (log: $logs/$scenario.log)"
  t0=$(date +%s)
  if molecule test -s "$scenario" >"$logs/$scenario.log" 2>&1; then result=passed; else result=FAILED; fi
  echo "$result $(( $(date +%s) - t0 ))" >"$logs/$scenario.result"
  echo "$scenario: $result in $(( $(date +%s) - t0 ))s"
  exec {lock}>&-
}

rm -f "$logs"/*.result
for scenario in "$@"; do
  while [ "$(jobs -rp | wc -l)" -ge "${MOLECULE_JOBS:-2}" ]; do wait -n; done
  run "$scenario" &
done
wait

passed=0 failed=0 red=()
printf '\nmolecule:\n'
for scenario in "$@"; do
  result=FAILED seconds='?'
  [ -f "$logs/$scenario.result" ] && read -r result seconds <"$logs/$scenario.result"
  printf '  %s: %s in %ss\n' "$scenario" "$result" "$seconds"
  if [ "$result" = passed ]; then passed=$(( passed + 1 )); else failed=$(( failed + 1 )) red+=("$scenario"); fi
done
for scenario in "${red[@]}"; do
  printf '\n---------- %s: errors in %s ----------\n' "$scenario" "$logs/$scenario.log"
  grep -E -A12 'fatal:|FAILED!|UNREACHABLE!|^CRITICAL Ansible' "$logs/$scenario.log" | head -n 80
done
[ -z "${MOLECULE_COUNTS:-}" ] || echo "$passed $failed" >"$MOLECULE_COUNTS"
echo "$passed scenarios passed, $failed failed"
[ "$failed" -eq 0 ]
