#!/usr/bin/env bash
# Build the local Kubernetes control plane from Go modules, cached outside the repository.
#
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s.io/kubernetes, tests/cluster/k8s)
#   etcd                                                               (go.etcd.io/etcd/server/v3, same graph)
#   kwok, kwokctl                                                      (sigs.k8s.io/kwok, tests/cluster/kwok)
#
# The binaries land in $CP_CLUSTER_BIN (default ~/.cache/continuouspipe-kubernetes/cluster-bin/<key>), where
# <key> hashes the go.mod/go.sum files, this script and the Go version. A complete directory holds a
# `.complete` stamp and is reused without calling the Go toolchain again. The last line printed is the
# directory holding the binaries.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
K8S_VERSION=v1.36.3
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly

command -v go >/dev/null || { echo "build.sh: the Go toolchain (go >= 1.26) is required; see docs/development.md" >&2; exit 1; }

key=$( { cat "$here"/k8s/go.mod "$here"/k8s/go.sum "$here"/kwok/go.mod "$here"/kwok/go.sum "$here/build.sh"; go version; } \
       | sha256sum | cut -c1-16)
out=${CP_CLUSTER_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/continuouspipe-kubernetes/cluster-bin/$key}

if [[ -f $out/.complete ]]; then
  echo "$out"
  exit 0
fi

mkdir -p "$out"
log() { printf '[build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit=0000000000000000000000000000000000000000"
  ldflags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

start=$SECONDS
cd "$here/k8s"
log "downloading modules for k8s.io/kubernetes $K8S_VERSION (cold: a few minutes)"
go mod download
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  [[ -x $out/$cmd ]] && continue
  log "building $cmd (cold: several minutes each on 2 cores)"
  go build -trimpath -ldflags "$ldflags" -o "$out/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
  mv "$out/$cmd.tmp" "$out/$cmd"
done
if [[ ! -x $out/etcd ]]; then
  log "building etcd"
  go build -trimpath -ldflags "-s -w" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$out/etcd.tmp" "$out/etcd"
fi

cd "$here/kwok"
go mod download
for cmd in kwok kwokctl; do
  [[ -x $out/$cmd ]] && continue
  log "building $cmd"
  go build -trimpath -ldflags "-s -w" -o "$out/$cmd.tmp" "sigs.k8s.io/kwok/cmd/$cmd"
  mv "$out/$cmd.tmp" "$out/$cmd"
done

"$out/kube-apiserver" --version >&2
"$out/etcd" --version | head -1 >&2
date -u +%FT%TZ > "$out/.complete"
log "control plane built in $((SECONDS - start))s"
echo "$out"
