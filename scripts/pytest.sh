#!/usr/bin/env bash
# Run tests/unit, then tests/integration, each in a pytest session of its own: a unit and an
# integration test of one plugin may share a file name (test_access_token.py), and one session
# in pytest's default import mode cannot import both. Stops at the first red suite.
# Reports: tests/output/junit/<suite>.xml. Arguments go to every pytest run (-k, -x, -n 2, ...).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
mkdir -p tests/output/junit
rm -f tests/output/junit/*.xml
for suite in unit integration; do
  [ -d "tests/$suite" ] || continue
  .venv/bin/pytest "tests/$suite" -p no:cacheprovider --junitxml="tests/output/junit/$suite.xml" "$@"
  rc=$?
  # 5: nothing collected (e.g. a -k that selects only the other suite's tests).
  [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || exit "$rc"
done
