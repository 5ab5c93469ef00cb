#!/usr/bin/env bash
# Extract the CustomResourceDefinitions listed in tests/cluster/crds/modules.txt from their upstream Go
# modules, cached outside the repository (separate from build.sh: its binaries keep their cache key).
#
#   gateway    Gateway API (sigs.k8s.io/gateway-api, standard channel)
#   openshift  OpenShift Route (github.com/openshift/api, route.openshift.io/v1)
#
# The files land in $CP_CRDS_DIR (default ~/.cache/continuouspipe-kubernetes/crds/<key>/<set>/), where
# <key> hashes modules.txt, this script and the Go version. Each module is fetched with
# `go mod download` (the Go module proxy, module cache ~/go/pkg/mod) and its h1 sum is compared with the
# pinned one before anything is copied. A complete directory holds `.complete` and is reused at once.
# The last line printed is the directory holding the sets.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
command -v go >/dev/null || { echo "crds.sh: the Go toolchain (go >= 1.26) is required; see docs/development.md" >&2; exit 1; }

key=$( { cat "$here/crds/modules.txt" "$here/crds.sh"; go version; } | sha256sum | cut -c1-16)
out=${CP_CRDS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/continuouspipe-kubernetes/crds/$key}
if [[ -f $out/.complete ]]; then
  echo "$out"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/out"
while read -r set module version sum files; do
  [[ -z $set || $set == \#* ]] && continue
  echo "[crds] $set: $module@$version" >&2
  # outside any module: `go mod download` takes the exact version and reports the zip's sum
  info=$(cd "$work" && go mod download -json "$module@$version") || true
  dir=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or "")' <<<"$info")
  got=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Sum") or d.get("Error") or "")' <<<"$info")
  if [[ $got != "$sum" ]]; then
    echo "crds.sh: $module@$version: sum $got, expected $sum" >&2
    exit 1
  fi
  mkdir -p "$work/out/$set"
  for file in $files; do
    [[ -f $dir/$file ]] || { echo "crds.sh: $module@$version has no $file" >&2; exit 1; }
    cp "$dir/$file" "$work/out/$set/$(basename "$file")"
    chmod 0644 "$work/out/$set/$(basename "$file")"
  done
  printf '%s %s %s\n' "$module" "$version" "$sum" > "$work/out/$set/SOURCE"
done < "$here/crds/modules.txt"

mkdir -p "$(dirname "$out")"
rm -rf "$out.tmp"
mv "$work/out" "$out.tmp"
date -u +%FT%TZ > "$out.tmp/.complete"
rm -rf "$out"
mv "$out.tmp" "$out"
echo "$out"
