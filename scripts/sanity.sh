#!/usr/bin/env bash
# Run `ansible-test sanity` on a throw-away ansible_collections/mailops/gmail copy of the tree.
# Usage: scripts/sanity.sh [extra ansible-test sanity args, e.g. --test pep8]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$root/.venv}
python_version=${SANITY_PYTHON:-3.11}
site=$("$venv/bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')

# ansible-test bootstraps pip in each sanity venv with a script it downloads from
# ci-files.testing.ansible.com (unreachable here). It uses a cached copy first, so put a
# stand-in there that takes pip from the Python itself (ensurepip) and then from PyPI.
pip_version=$(sed -n "s/^ *pip='\([0-9.]*\)',\$/\1/p" "$site/_internal/python_requirements.py" | head -n1)
[ -n "$pip_version" ] || { echo "sanity.sh: cannot find the pip version pinned by ansible-test in $site" >&2; exit 1; }
cache=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
mkdir -p "$(dirname "$cache")"
cat > "$cache.new" <<PY
# Stand-in for get-pip.py $pip_version written by mailops.gmail scripts/sanity.sh.
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY
if cmp -s "$cache.new" "$cache"; then rm -f "$cache.new"; else mv "$cache.new" "$cache"; fi

# The copy holds the git-tracked files plus untracked files git does not ignore, so build
# output, venvs and tests/output never reach the checked tree.
work=$(mktemp -d "${TMPDIR:-/tmp}/mailops-sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/mailops/gmail
mkdir -p "$dest"
cd "$root"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done \
  | tar --null --no-recursion -T - -cf - | tar -C "$dest" -xf -

cd "$dest"
"$venv/bin/ansible-test" sanity --local --python "$python_version" --color no "$@"
