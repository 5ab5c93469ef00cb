"""The platform seam against a real API server that serves the upstream Gateway API and OpenShift Route
CRDs (cluster ``ocp-eu``, tests/cluster/crds.sh); kwok Stages play the gateway controller and the router.

* every golden object of every platform passes a server-side dry run (the served schema and CEL rules);
* the corpus demos deploy with each platform, then redeploy without a write;
* ``platform: auto`` detects OpenShift; a platform switch prunes the other platform's objects;
* fan-out groups: one Ingress / HTTPRoutes on a Gateway of the group (its static address reserved through
  ``spec.addresses``) / Routes on one host;
* an OpenShift project used by its admin, without any cluster-wide right (real RBAC): no write to the
  Namespace, the environment's record instead, refused without ``take_over``, a teardown that deletes only
  what the project wrote.

What is not real here: the router and the gateway controller (status only), and ``project.openshift.io``
(a virtual API of openshift-apiserver that a CRD cannot stand for): project requests are unit-tested
against the request they send, not served.
"""
from __future__ import annotations

import json
import uuid

import pytest
import yaml
from conftest import CORPUS, ROOT, connect_as, unique_namespace
from deploy_helpers import actions
from test_deploy_corpus import CORPUS_FLOW, CORPUS_SHA, DEMOS, placeholders

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import deploy as pipeline
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import connection, environment
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import ownership
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster.plan import FIELD_MANAGER
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.source import load_from_params

GOLDEN = ROOT / "tests" / "golden"
PLATFORM_PARAMS = {
    "auto": {"platform": "auto"},
    "kubernetes": {"platform": "kubernetes"},
    "gateway": {"platform": "gateway",
                "gateway": {"name": "shared", "namespace": "gateway-system", "class_name": "standard"}},
    "openshift": {"platform": "openshift"},
}
ROUTING_KIND = {"kubernetes": "Ingress", "gateway": "HTTPRoute", "openshift": "Route"}
ROUTING_API = {"Ingress": "networking.k8s.io/v1", "HTTPRoute": "gateway.networking.k8s.io/v1",
               "Route": "route.openshift.io/v1"}


@pytest.fixture(scope="module")
def pkube(platform_cluster):
    client = connection.connect({"kubeconfig": platform_cluster.kubeconfig, "context": platform_cluster.context})
    yield client
    client.close()


@pytest.fixture(scope="module")
def cleanup(platform_cluster):
    names = []
    yield names
    for name in names:
        platform_cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


def _namespace(request, cleanup, prefix):
    name = unique_namespace(request, prefix)
    cleanup.append(name)
    return name


def _listed(kube, kind, namespace):
    return kube.list(kube.resource(ROUTING_API.get(kind, "v1"), kind), namespace)


# --------------------------------------------------------------------------------------------------
# the served schema


def test_every_golden_object_passes_a_server_side_dry_run(pkube, platform_cluster, request, cleanup):
    namespace = _namespace(request, cleanup, "golden")
    platform_cluster.kubectl("create", "namespace", namespace)
    seen, refused = set(), []
    for case in sorted(path.name for path in GOLDEN.iterdir() if (path / "expected.yml").is_file()):
        for obj in yaml.safe_load((GOLDEN / case / "expected.yml").read_text())["items"]:
            obj = json.loads(json.dumps(obj))
            if obj["kind"] == "Namespace":
                obj["metadata"]["name"] = "%s-%s" % (namespace[:40], uuid.uuid4().hex[:6])
            else:
                obj["metadata"]["namespace"] = namespace
            try:
                pkube.apply(obj, FIELD_MANAGER, dry_run=True)
            except Exception as error:  # noqa: BLE001 - every refusal is reported together
                refused.append("%s: %s/%s: %s" % (case, obj["kind"], obj["metadata"]["name"], error))
            seen.add(obj["kind"])
    assert not refused, "\n".join(refused)
    assert {"Route", "HTTPRoute", "Gateway", "Ingress", "Role", "RoleBinding", "ConfigMap", "Deployment"} <= seen


# --------------------------------------------------------------------------------------------------
# the corpus on each platform


def _deploy_project(kube, source_dir, branch, namespace, platform, variables, secrets, **extra):
    base = {"source_dir": source_dir, "branch": branch, "sha": CORPUS_SHA, "namespace": namespace,
            "variables": variables,
            "secret_variables": secrets, "endpoint_timeout": 120, "wait_timeout": 300, "flow_uuid": CORPUS_FLOW}
    base.update(PLATFORM_PARAMS[platform])
    base.update(extra)
    project = load_from_params(base)
    deploy_variables, context, results = {}, {}, []
    for task in project.deploy_tasks:
        params = dict(base, task=task.identifier, deploy_variables=dict(deploy_variables), tasks_context=dict(context))
        result = pipeline.run(params, cluster=kube)
        assert all(w["ok"] for w in result.workloads), result.workloads
        deploy_variables.update(result.variables)
        context[task.identifier] = {"services": result.services}
        results.append((params, result))
    return results


def _projects():
    found = [pytest.param(str(ROOT / "examples" / "app"), "main", id="examples-app")]
    found += [pytest.param(str(CORPUS / demo), "master", id=demo) for demo in DEMOS]
    return found


@pytest.mark.parametrize("platform", ["gateway", "openshift"])
@pytest.mark.parametrize("source_dir,branch", _projects())
def test_corpus_deploys_on_each_platform_and_redeploys_unchanged(pkube, request, cleanup, source_dir, branch, platform):
    variables, secrets = placeholders(source_dir, branch)
    namespace = _namespace(request, cleanup, platform[:3])
    results = _deploy_project(pkube, source_dir, branch, namespace, platform, variables, secrets)
    assert results and any(result.changed for _p, result in results)
    assert {result.platform["name"] for _p, result in results} == {platform}
    kind = ROUTING_KIND[platform]
    routed = [plan for _p, result in results for plan in result.endpoints if plan.get("hosts")]
    if routed:
        assert _listed(pkube, kind, namespace), "no %s rendered for %s" % (kind, source_dir)
        assert not _listed(pkube, "Ingress", namespace)
    if platform == "openshift":
        for pod in pkube.list(pkube.resource("v1", "Pod"), namespace):
            assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
            assert all(c["securityContext"]["allowPrivilegeEscalation"] is False for c in pod["spec"]["containers"])
        record = pkube.get(pkube.resource("v1", "ConfigMap"), "continuouspipe-environment", namespace)
        assert ownership.owner_of(record).project == CORPUS_FLOW
    reported = json.dumps([result.to_dict(diff=True) for _p, result in results])
    assert not [name for name, value in secrets.items() if value in reported]
    for params, _result in results:
        again = pipeline.run(params, cluster=pkube, diff=True)
        assert not again.changed, again.diff
        assert set(actions(again).values()) <= {"unchanged", "locked"}


def test_auto_detects_openshift_and_a_switch_prunes_the_other_platforms_objects(pkube, request, cleanup):
    source_dir = str(ROOT / "examples" / "app")
    variables, secrets = placeholders(source_dir, "main")
    namespace = _namespace(request, cleanup, "switch")
    first = _deploy_project(pkube, source_dir, "main", namespace, "kubernetes", variables, secrets)
    assert first[-1][1].platform == {"name": "kubernetes", "chosen": "option"}
    assert _listed(pkube, "Ingress", namespace) and not _listed(pkube, "Route", namespace)
    second = _deploy_project(pkube, source_dir, "main", namespace, "auto", variables, secrets)
    assert second[-1][1].platform["name"] == "openshift"
    assert "route.openshift.io/v1" in second[-1][1].platform["chosen"]
    # the Ingresses of the earlier release were pruned, Routes took their place
    assert not _listed(pkube, "Ingress", namespace)
    routes = _listed(pkube, "Route", namespace)
    assert routes
    pruned = [entry for _p, result in second for entry in result.objects if entry["action"] == "deleted"]
    assert {entry["kind"] for entry in pruned} >= {"Ingress"}
    # the addresses are the hosts the router admitted
    endpoints = {entry["name"]: entry for _p, result in second for entry in result.endpoints}
    admitted = {route["status"]["ingress"][0]["host"] for route in routes}
    assert any(entry["address"] in admitted for entry in endpoints.values())


# --------------------------------------------------------------------------------------------------
# fan-out


FAN_OUT = """\
tasks:
  shop:
    deploy:
      services:
        web:
          specification:
            source: {image: registry.example/web}
            ports: [80]
          endpoints:
            - name: web
              ingress: {class: gce, host_suffix: -shop.example.com, group: shop, address: %(address)s}
        api:
          specification:
            source: {image: registry.example/api}
            ports: [8080]
          endpoints:
            - name: api
              ingress: {class: gce, host_suffix: -shop.example.com, group: shop, path: /api}
        admin:
          specification:
            source: {image: registry.example/admin}
            ports: [80]
          endpoints:
            - name: admin
              ingress: {class: gce, host_suffix: -admin.example.com, group: shop}
"""


@pytest.mark.parametrize("platform", ["kubernetes", "gateway", "openshift"])
def test_fan_out_puts_several_services_behind_one_host_or_address(pkube, request, cleanup, tmp_path, platform):
    address = {"kubernetes": "shop-ip", "gateway": "127.77.40.2", "openshift": "~"}[platform]
    (tmp_path / "continuous-pipe.yml").write_text(FAN_OUT % {"address": address})
    namespace = _namespace(request, cleanup, "fan" + platform[:3])
    params = {"source_dir": str(tmp_path), "branch": "feature/cart", "namespace": namespace, "flow_uuid": CORPUS_FLOW,
              "endpoint_timeout": 60, "wait_timeout": 120}
    params.update(PLATFORM_PARAMS[platform])
    result = pipeline.run(params, cluster=pkube)
    variables = result.variables
    assert variables["SERVICE_WEB_PUBLIC_ENDPOINT"] == "feature-cart-shop.example.com"
    assert variables["SERVICE_API_PUBLIC_ENDPOINT"] == "feature-cart-shop.example.com"
    assert variables["SERVICE_ADMIN_PUBLIC_ENDPOINT"] == "feature-cart-admin.example.com"
    if platform == "kubernetes":
        ingresses = _listed(pkube, "Ingress", namespace)
        assert [i["metadata"]["name"] for i in ingresses] == ["shop"]
        assert ingresses[0]["metadata"]["annotations"]["kubernetes.io/ingress.global-static-ip-name"] == "shop-ip"
        assert len(ingresses[0]["spec"]["rules"]) == 2
    elif platform == "gateway":
        gateway = pkube.get(pkube.resource("gateway.networking.k8s.io/v1", "Gateway"), "shop", namespace)
        assert gateway["status"]["addresses"] == [{"type": "IPAddress", "value": "127.77.40.2"}]
        routes = _listed(pkube, "HTTPRoute", namespace)
        assert {r["metadata"]["name"] for r in routes} == {"web", "api", "admin"}
        assert all(r["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                                "name": "shop"}] for r in routes)
    else:
        routes = {r["metadata"]["name"]: r for r in _listed(pkube, "Route", namespace)}
        assert routes["api"]["spec"]["host"] == routes["web"]["spec"]["host"] == "feature-cart-shop.example.com"
        assert routes["api"]["spec"]["path"] == "/api"
    again = pipeline.run(params, cluster=pkube)
    assert not again.changed


# --------------------------------------------------------------------------------------------------
# an OpenShift project used by its admin (no cluster-wide right)


@pytest.fixture
def project_of_limited(platform_cluster, request, cleanup):
    """A namespace made by the cluster's administrators, the user ``limited`` its admin (and nothing else)."""
    name = _namespace(request, cleanup, "proj")
    platform_cluster.kubectl("create", "namespace", name)
    platform_cluster.kubectl("create", "rolebinding", "limited-admin", "--clusterrole=admin", "--user=limited",
                             "-n", name)
    return name


def test_a_project_admin_deploys_without_cluster_wide_rights(platform_cluster, pkube, project_of_limited, tmp_path):
    namespace = project_of_limited
    source_dir = str(ROOT / "examples" / "app")
    variables, secrets = placeholders(source_dir, "main")
    limited = connect_as(platform_cluster, "limited")
    try:
        # the namespace is not the project's: refused before any write, naming take_over
        with pytest.raises(ownership.OwnershipError) as refused:
            _deploy_project(limited, source_dir, "main", namespace, "openshift", variables, secrets)
        assert "take_over" in str(refused.value)
        results = _deploy_project(limited, source_dir, "main", namespace, "openshift", variables, secrets,
                                  take_over=True)
        assert any(result.changed for _p, result in results)
        assert any("adopted" in warning for _p, result in results for warning in result.warnings)
        record = pkube.get(pkube.resource("v1", "ConfigMap"), "continuouspipe-environment", namespace)
        assert ownership.owner_of(record).project == CORPUS_FLOW
        assert ownership.namespace_origin(record) == ownership.ADOPTED
        live_namespace = pkube.get(pkube.resource("v1", "Namespace"), namespace)
        assert "continuouspipe.io/project" not in (live_namespace["metadata"].get("labels") or {})
        # what the project admin wrote: never the Namespace, nothing cluster-scoped
        writes = [event for event in platform_cluster.audit_events(user="limited")
                  if (event.get("objectRef") or {}).get("namespace") == namespace
                  or (event.get("objectRef") or {}).get("resource") == "namespaces"]
        assert writes and not [e for e in writes if (e.get("objectRef") or {}).get("resource") == "namespaces"]
        # an unchanged rerun writes nothing
        count = len(platform_cluster.audit_events(user="limited"))
        for params, _result in results:
            params = dict(params, take_over=False)
            assert not pipeline.run(params, cluster=limited).changed
        assert len(platform_cluster.audit_events(user="limited")) == count
        # teardown: only what the project wrote; the project (namespace) stays
        outcome = environment.delete(limited, namespace, project=CORPUS_FLOW)
        assert pkube.get(pkube.resource("v1", "Namespace"), namespace) is not None
        assert not pkube.list(pkube.resource("apps/v1", "Deployment"), namespace)
        assert "adopted" in " ".join(outcome.warnings)
    finally:
        limited.close()


def test_check_mode_for_a_project_this_identity_cannot_see_writes_nothing(platform_cluster, request, cleanup):
    """OpenShift answers 403 for a project the identity cannot see (here: RBAC before existence): check
    mode says what a first deploy would do and writes nothing."""
    namespace = _namespace(request, cleanup, "unseen")
    source_dir = str(ROOT / "examples" / "app")
    variables, secrets = placeholders(source_dir, "main")
    limited = connect_as(platform_cluster, "limited")
    before = len(platform_cluster.audit_events(user="limited"))
    try:
        params = {"source_dir": source_dir, "branch": "main", "namespace": namespace, "variables": variables,
                  "secret_variables": secrets, "flow_uuid": CORPUS_FLOW, "task": "infrastructure",
                  "platform": "openshift"}
        result = pipeline.run(params, check_mode=True, cluster=limited)
    finally:
        limited.close()
    assert result.changed
    assert all(entry["action"] == "created" for entry in result.objects)
    assert any("not validated" in entry.get("note", "") for entry in result.objects)
    assert len(platform_cluster.audit_events(user="limited")) == before


# --------------------------------------------------------------------------------------------------
# the deploy role: the inventory's per-cluster platform reaches the pipeline


def test_the_deploy_playbook_renders_for_the_inventory_clusters_platform(platform_cluster, pkube, cleanup, tmp_path):
    """playbooks/deploy.yml on a cluster whose inventory entry says ``platform: gateway``: the demo's
    public endpoint becomes an HTTPRoute on the named Gateway, no Ingress; the rerun is unchanged."""
    from test_playbook_output import deploy

    branch = "plat-%s" % uuid.uuid4().hex[:6]
    namespace = "shop-" + branch
    cleanup.append(namespace)
    inventory = tmp_path / "platform.clusters.yml"
    inventory.write_text(yaml.safe_dump({
        "plugin": "continuouspipe.kubernetes.clusters",
        "clusters": [{"name": platform_cluster.name, "provider": "aws",
                      "connection": {"kubeconfig": platform_cluster.kubeconfig, "context": platform_cluster.context},
                      "platform": {"name": "gateway", "gateway": PLATFORM_PARAMS["gateway"]["gateway"]},
                      "vars": {"continuouspipe_variables": {"CLUSTER_NAME": platform_cluster.name}}}],
        "environments": {"uat": {"clusters": [platform_cluster.name]}},
    }, sort_keys=False))
    inventory = str(inventory)
    first = deploy(inventory, "uat", branch)
    assert "infrastructure (deploy): deployed %s" % namespace in first.output, first.output[-3000:]
    routes = _listed(pkube, "HTTPRoute", namespace)
    assert routes, "no HTTPRoute in %s:\n%s" % (namespace, first.output[-3000:])
    assert {parent["name"] for route in routes for parent in route["spec"]["parentRefs"]} == {"shared"}
    assert not _listed(pkube, "Ingress", namespace)
    again = deploy(inventory, "uat", branch)
    assert "application (deploy): unchanged %s" % namespace in again.output, again.output[-3000:]
