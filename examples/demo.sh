#!/usr/bin/env bash
# `make demo`: three local clusters, the demo shop deployed to UAT, then rolled out to production.
#
#   1. starts (or reuses) the local clusters aws-eu, aws-us and gce-eu (tests/cluster/cluster.py);
#   2. writes the inventory: examples/inventory/demo.clusters.yml with the clusters' kubeconfig paths;
#   3. deploys examples/app to uat (gce-eu), then to production (aws-eu, then aws-us) with
#      playbooks/deploy.yml: a dry run on every cluster of the group, then one cluster at a time;
#   4. prints the endpoints and what runs on each cluster.
#
# The clusters stay up: `make clusters-down` stops them. Environment:
#   BRANCH=feature/x   deploy another branch (default main; review branches go to the review group)
#   DEMO_EXTRA="..."   more ansible-playbook arguments (e.g. "--diff" or "-e rollout_serial=2")
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
python=${PYTHON_BIN:-python3}
branch=${BRANCH:-main}
clusters=(aws-eu aws-us gce-eu)
out=$root/.build/demo
mkdir -p "$out"
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$root/.build/collections}
export ANSIBLE_INVENTORY_UNPARSED_FAILED=true ANSIBLE_RETRY_FILES_ENABLED=false
link=$ANSIBLE_COLLECTIONS_PATH/ansible_collections/continuouspipe/kubernetes
if [[ ! -e $link ]]; then
  mkdir -p "$(dirname "$link")" && ln -sfn "$root" "$link"
fi

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }
t0=$(date +%s)

step "1/4 starting the local clusters ${clusters[*]} (reused when already running)"
declare -A kubeconfig
pids=()
for c in "${clusters[@]}"; do
  "$python" tests/cluster/cluster.py up "$c" >"$out/$c.up" 2>"$out/$c.log" &
  pids+=($!)
done
for i in "${!clusters[@]}"; do
  c=${clusters[$i]}
  if ! wait "${pids[$i]}"; then
    echo "cluster $c did not start; its log:" >&2
    tail -40 "$out/$c.log" >&2
    exit 1
  fi
  kubeconfig[$c]=$(tail -1 "$out/$c.up")
  echo "$c: ${kubeconfig[$c]}"
done
echo "clusters ready in $(elapsed "$t0")"

step "2/4 writing the inventory $out/demo.clusters.yml"
inventory=$out/demo.clusters.yml
cp examples/inventory/demo.clusters.yml "$inventory"
for c in "${clusters[@]}"; do
  sed -i "s#~/.cache/continuouspipe-kubernetes/clusters/$c/kubeconfig#${kubeconfig[$c]}#" "$inventory"
done
ansible-inventory -i "$inventory" --graph

flow=5ea0c0de-0000-4000-8000-00000000d3e0

deploy() {
  local group=$1 t
  t=$(date +%s)
  step "deploying examples/app ($branch) to $group"
  # The database password is a demo value; real ones come from vault or an AWX credential (docs/awx.md).
  # The flow UUID is the demo project's identity (a checkout of a repository with a remote gets one
  # from the remote; a copy of the examples may have none).
  # shellcheck disable=SC2086
  ansible-playbook -i "$inventory" playbooks/deploy.yml \
    -e environment_group="$group" -e source_dir=examples/app -e branch="$branch" -e flow_uuid="$flow" \
    -e '{"secret_variables": {"DATABASE_PASSWORD": "demo-only-password"}}' ${DEMO_EXTRA:-}
  echo "$group done in $(elapsed "$t")"
}

case $branch in
  feature/*|fix/*) step "3/4 $branch is a review branch"; deploy review ;;
  *) step "3/4 UAT first, then production"; deploy uat; deploy production ;;
esac

step "4/4 what runs where"
namespace=shop-$(echo "$branch" | tr '[:upper:]' '[:lower:]' | sed -E 's#[^a-z0-9]+#-#g; s#^-+|-+$##g')
for c in "${clusters[@]}"; do
  kubectl=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["bin"] + "/kubectl")' \
            "$(dirname "${kubeconfig[$c]}")/state.json")
  k() { "$kubectl" --kubeconfig "${kubeconfig[$c]}" --context "$c" "$@"; }
  if ! k get namespace "$namespace" >/dev/null 2>&1; then
    printf '\n%s: no environment %s\n' "$c" "$namespace"
    continue
  fi
  printf '\n\033[1m%s\033[0m (namespace %s)\n' "$c" "$namespace"
  k -n "$namespace" get deployments,services,ingresses,persistentvolumeclaims \
    -o custom-columns='KIND:.kind,NAME:.metadata.name,READY:.status.readyReplicas,ADDRESS:.status.loadBalancer.ingress[*].ip,HOSTS:.spec.rules[*].host,IMAGE:.spec.template.spec.containers[*].image'
  echo "endpoint: http://$(k -n "$namespace" get ingress web -o jsonpath='{.spec.rules[0].host}') →" \
       "$(k -n "$namespace" get ingress web -o jsonpath='{.status.loadBalancer.ingress[0].ip}')"
  echo "releases: $(k -n "$namespace" get secrets -l continuouspipe.io/release-of \
       -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.labels.continuouspipe\.io/status} {end}')"
done

step "done in $(elapsed "$t0"); the clusters stay up: make clusters-down"
echo "kubeconfigs: ${kubeconfig[*]}"
echo "again, with a diff:  DEMO_EXTRA=--diff make demo"
echo "tear the branch down: ansible-playbook -i $inventory playbooks/teardown.yml -e environment_group=production -e source_dir=examples/app -e branch=$branch -e flow_uuid=$flow"
