#!/usr/bin/env bash
# `make test`: set the machine up, then run every stage in order and stop at the first red one.
# Ends with one summary line: "<N> passed, <M> failed" (pytest tests + molecule scenarios).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export PYTHONUNBUFFERED=1
start=$(date +%s)
times=()
passed=0 skipped=0
counts=tests/output/counts

banner() { printf '\n==================== %s ====================\n' "$*"; }
finish() {
  banner "stage times"
  printf '  %s\n' "${times[@]}"
  echo "  total: $(( $(date +%s) - start ))s"
  [ "$skipped" -eq 0 ] || echo "  skipped tests: $skipped"
  echo "$passed passed, $1 failed"
  [ "$1" -eq 0 ]
  exit
}
# Run one stage. Stages that count tests write "<passed> <failed> [<skipped>]" to $counts.
stage() {
  local name=$1 t0 rc p=0 f=0 k=0
  shift
  banner "stage: $name"
  rm -f "$counts"
  t0=$(date +%s)
  stage_note=
  "$@" && rc=0 || rc=$?
  times+=("$name: $(( $(date +%s) - t0 ))s$stage_note")
  [ -f "$counts" ] && read -r p f k <"$counts"
  passed=$(( passed + p )) skipped=$(( skipped + ${k:-0} ))
  if [ "$rc" -ne 0 ]; then
    stop_molecule
    banner "FAILED at stage $name (exit $rc)"
    finish $(( f > 0 ? f : 1 ))
  fi
}
# pytest's own counts from its JUnit reports (one per suite).
# shellcheck disable=SC2317  # called through stage()
pytest_stage() {
  local rc
  make -s pytest PYTEST_ARGS="${PYTEST_ARGS:-}" && rc=0 || rc=$?
  .venv/bin/python - >"$counts" <<'PY'
import glob
import xml.etree.ElementTree as ET
passed = bad = skipped = 0
for path in glob.glob("tests/output/junit/*.xml"):
    r = ET.parse(path).getroot()
    for s in [r] if r.tag == "testsuite" else r.iter("testsuite"):
        failed = sum(int(s.get(k, 0)) for k in ("failures", "errors"))
        skipped += int(s.get("skipped", 0))
        passed += int(s.get("tests", 0)) - failed - int(s.get("skipped", 0))
        bad += failed
print(passed, bad, skipped)
PY
  return "$rc"
}

# Molecule runs in the background from the images on (it needs nothing the other stages make and
# spends much of its time waiting on containers), in a process group of its own so that a red
# stage can stop it; its stage then waits for it and shows its output.
molecule_pid=
molecule_log=tests/output/molecule-stage.log
molecule_counts=tests/output/counts.molecule
# shellcheck disable=SC2317  # called through stage() and the EXIT trap
stop_molecule() {
  [ -n "$molecule_pid" ] || return 0
  kill -TERM -- "-$molecule_pid" 2>/dev/null && wait "$molecule_pid" 2>/dev/null
  molecule_pid=
}
# shellcheck disable=SC2317  # called through stage()
molecule_stage() {
  local rc
  wait "$molecule_pid" && rc=0 || rc=$?
  molecule_pid=
  cat "$molecule_log"
  [ ! -f "$molecule_counts" ] || mv "$molecule_counts" "$counts"
  stage_note=" waiting, $(( $(date +%s) - molecule_t0 ))s in all (in the background since the images stage)"
  return "$rc"
}
trap stop_molecule EXIT

mkdir -p tests/output
rm -f "$molecule_counts"
stage setup make -s setup venv collection
stage images scripts/images.sh --needed
molecule_t0=$(date +%s)
setsid env MOLECULE_COUNTS="$molecule_counts" make -s molecule >"$molecule_log" 2>&1 &
molecule_pid=$!
stage lint make -s lint
stage sanity make -s sanity
stage pytest pytest_stage
stage molecule molecule_stage
finish 0
