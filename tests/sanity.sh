#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection laid out as ansible_collections/continuouspipe/kubernetes
# (ansible-test needs that physical path). Runs without Docker; no ignore files.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

pip_version=$(python - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
class P:  # the pip pin does not depend on the Python version in ansible-core 2.19
    version = "3.11"
print(get_venv_packages(P())["pip"])
PY
)
mkdir -p ~/.ansible/test/cache
cp tests/sanity/get_pip_standin.py "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"

work=$(mktemp -d "${TMPDIR:-/tmp}/cp-sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/continuouspipe/kubernetes
mkdir -p "$dest"
# tracked files plus new ones that are not ignored: exactly what a commit would hold
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} sh -c 'test -e "{}" && echo "{}"' \
  | tar -cf - -T - | tar -xf - -C "$dest"
cd "$dest"
git init -q && git add -A >/dev/null 2>&1
ansible-test sanity --venv --python 3.11 --color no "$@"
