#!/usr/bin/env bash
# Create or update the pinned development venv. Usage: venv.sh VENV REQUIREMENTS
set -euo pipefail
venv=$1 req=$2
python=${PYTHON:-python3.11}
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
touch "$venv/.stamp"
