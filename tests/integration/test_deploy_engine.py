"""The deploy engine against a real control plane: create, update, idempotence, scale, endpoints,
prune, check mode, diff mode, TLS, secrets. Objects come from the real translator."""
from __future__ import annotations

import base64
import hmac
import threading

import pytest
from deploy_helpers import (
    actions,
    deploy,
    dump,
    listed,
    live,
    service,
    settle,
    task,
)

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import ownership, plan, release, tls


def two_services(image="registry.example/web:1", **web):
    return task(
        service("web", image=image, env=[("APP_ENV", "prod")], secret_env=[("DB_PASSWORD", "pa55word")],
                endpoints=(model.Endpoint(name="web-public", type="LoadBalancer"),), **web),
        service("db", image="registry.example/db:1", ports=(5432,),
                volumes=(model.Volume("db-data", capacity="1Gi"),),
                volume_mounts=(model.VolumeMount("db-data", "/var/lib/db"),)),
    )


def test_fresh_deploy_creates_everything_and_exports_endpoints(kube, env_namespace):
    result = deploy(kube, env_namespace, two_services())
    assert result.changed
    assert actions(result) == {
        "Namespace/%s" % env_namespace: "created", "Secret/cp-checksum-key.app": "created", "Secret/web-secrets": "created",
        "PersistentVolumeClaim/db-data": "created", "Service/web-public": "created", "Service/db": "created",
        "Deployment/web": "created", "Deployment/db": "created"}
    assert result.services["web"] == {"created": True, "updated": False, "deleted": False, "unchanged": False}
    assert result.release == 1
    address = result.endpoints[0]["address"]
    assert address.startswith("127.")
    assert result.variables == {"SERVICE_WEB_PUBLIC_PUBLIC_ENDPOINT": address,
                                "ENDPOINT_WEB_PUBLIC_PUBLIC_ENDPOINT": address}
    # the second translation put the address into the containers
    web = live(kube, "Deployment", "web", env_namespace)
    env = {e["name"]: e.get("value") for e in web["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SERVICE_WEB_PUBLIC_PUBLIC_ENDPOINT"] == address
    # every object is labelled and annotated; the Namespace carries no task label (shared)
    for obj in [web, live(kube, "Secret", "web-secrets", env_namespace), live(kube, "Service", "db", env_namespace)]:
        assert obj["metadata"]["labels"][plan.TASK_LABEL] == "app"
        assert obj["metadata"]["annotations"][plan.APPLIED_ANNOTATION].startswith("sha256:")
        assert [m["manager"] for m in obj["metadata"]["managedFields"] if m["operation"] == "Apply"] == \
            ["continuouspipe.kubernetes"]
    namespace = live(kube, "Namespace", env_namespace, None)
    assert plan.TASK_LABEL not in namespace["metadata"]["labels"]
    assert all(w["ok"] for w in result.workloads) and {w["name"] for w in result.workloads} == {"web", "db"}
    infos = release.list_releases(kube, env_namespace, "app")
    assert [(r.number, r.status) for r in infos] == [(1, "deployed")]
    recorded = release.read_release(kube, env_namespace, "app", 1)
    assert {(o["kind"], o["metadata"]["name"]) for o in recorded.objects} >= {("Deployment", "web"), ("Secret", "web-secrets")}
    assert recorded.code_reference["sha"] == "abc123"
    assert release.current_release(kube, env_namespace, "app").number == 1


def test_objects_are_written_in_dependency_order(kube, env_namespace, writes):
    """Namespace first; Secrets, volumes and internal Services before the public endpoints; the
    workloads last, once their Secrets and every Service exist (audit log order)."""
    writes.start()
    deploy(kube, env_namespace, two_services())
    order = ["/".join(uri.split("?")[0].split("/")[-2:]) for verb, uri in writes.audit_writes() if verb == "patch"]
    assert order[0] == "namespaces/%s" % env_namespace, order
    first_workload = min(order.index("deployments/web"), order.index("deployments/db"))
    for dependency in ("secrets/web-secrets", "persistentvolumeclaims/db-data", "services/db"):
        assert order.index(dependency) < order.index("services/web-public") < first_workload, order
    # the workloads are written once, after the second translation put the public address in
    assert order.count("deployments/web") == 1 and order[-1].startswith("secrets/cp-release."), order


def test_unchanged_redeploy_makes_zero_write_requests(kube, env_namespace, writes):
    deploy(kube, env_namespace, two_services())
    settle(kube)
    writes.start()
    result = deploy(kube, env_namespace, two_services())
    assert not result.changed
    assert set(actions(result).values()) == {"unchanged"}
    assert result.release == 1
    assert all(flags["unchanged"] for flags in result.services.values())
    # the API server counted no write to any deploy resource (verbs POST/PUT/PATCH/DELETE), and its
    # audit log holds no write request from our client
    assert writes.metric_writes() == {}
    assert writes.audit_writes() == []
    # reads: one GET of the Namespace, one of the checksum key, and one LIST per kind; no other
    # per-object GET, no API discovery
    reads = writes.metric_reads()
    assert reads.pop("GET namespaces") == 1
    assert reads.pop("GET secrets") == 1
    assert set(reads) == {"LIST secrets", "LIST persistentvolumeclaims", "LIST services", "LIST ingresses",
                          "LIST deployments", "LIST pods"}, reads
    assert all(count == 1 for count in reads.values()), reads
    assert not kube._discovered_versions
    assert [r.number for r in release.list_releases(kube, env_namespace, "app")] == [1]


def test_update_rolls_out_a_new_replicaset(kube, env_namespace):
    deploy(kube, env_namespace, two_services())
    before = {rs["metadata"]["name"] for rs in listed(kube, "ReplicaSet", env_namespace)
              if rs["metadata"]["name"].startswith("web-")}
    result = deploy(kube, env_namespace, two_services(image="registry.example/web:2"))
    assert actions(result)["Deployment/web"] == "updated"
    assert actions(result)["Deployment/db"] == "unchanged"
    assert result.services["web"]["updated"] and result.services["db"]["unchanged"]
    assert result.release == 2
    web = live(kube, "Deployment", "web", env_namespace)
    assert web["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    sets = [rs for rs in listed(kube, "ReplicaSet", env_namespace) if rs["metadata"]["name"].startswith("web-")]
    new = [rs for rs in sets if rs["metadata"]["name"] not in before]
    assert len(new) == 1 and new[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/web:2"
    assert new[0]["status"].get("readyReplicas") == 1
    old = [rs for rs in sets if rs["metadata"]["name"] in before]
    assert old and all(rs["spec"]["replicas"] == 0 for rs in old)
    infos = release.list_releases(kube, env_namespace, "app")
    assert [(r.number, r.status) for r in infos] == [(1, "superseded"), (2, "deployed")]


def test_kubectl_scale_survives_redeploys(kube, cluster, env_namespace):
    deploy(kube, env_namespace, two_services())
    cluster.kubectl("-n", env_namespace, "scale", "deployment/web", "--replicas=3")
    result = deploy(kube, env_namespace, two_services())
    assert not result.changed
    result = deploy(kube, env_namespace, two_services(image="registry.example/web:2"))
    assert actions(result)["Deployment/web"] == "updated"
    web = live(kube, "Deployment", "web", env_namespace)
    assert web["spec"]["replicas"] == 3 and web["status"]["availableReplicas"] == 3


def test_drift_made_by_hand_is_corrected(kube, cluster, env_namespace):
    deploy(kube, env_namespace, two_services())
    cluster.kubectl("-n", env_namespace, "set", "image", "deployment/web", "web=hand/edited:9")
    result = deploy(kube, env_namespace, two_services())
    assert actions(result)["Deployment/web"] == "updated"
    web = live(kube, "Deployment", "web", env_namespace)
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/web:1"


def test_takes_over_objects_created_with_kubectl(kube, cluster, env_namespace):
    cluster.kubectl("create", "namespace", env_namespace)
    cluster.kubectl("-n", env_namespace, "create", "service", "clusterip", "db", "--tcp=5432:5432")
    # not this project's: refused before any write, naming who wrote it and the option
    with pytest.raises(ownership.OwnershipError, match="written by kubectl-create.*take_over: true"):
        deploy(kube, env_namespace, two_services())
    assert live(kube, "Deployment", "web", env_namespace) is None
    result = deploy(kube, env_namespace, two_services(), take_over=True)
    assert any("taken over" in warning for warning in result.warnings), result.warnings
    assert actions(result)["Service/db"] == "updated"
    svc = live(kube, "Service", "db", env_namespace)
    assert svc["metadata"]["labels"][plan.TASK_LABEL] == "app"
    assert svc["spec"]["selector"] == {"component-identifier": "db"}


def test_prune_removes_services_no_longer_rendered_but_keeps_volumes(kube, env_namespace):
    deploy(kube, env_namespace, two_services())
    only_web = task(service("web", image="registry.example/web:1", env=[("APP_ENV", "prod")],
                            secret_env=[("DB_PASSWORD", "pa55word")],
                            endpoints=(model.Endpoint(name="web-public", type="LoadBalancer"),)))
    result = deploy(kube, env_namespace, only_web)
    assert actions(result)["Deployment/db"] == "deleted"
    assert actions(result)["Service/db"] == "deleted"
    assert "PersistentVolumeClaim/db-data" not in actions(result)
    assert result.services["db"] == {"created": False, "updated": False, "deleted": True, "unchanged": False}
    assert live(kube, "Deployment", "db", env_namespace) is None
    assert live(kube, "PersistentVolumeClaim", "db-data", env_namespace) is not None
    assert any("db-data" in warning for warning in result.warnings)
    result = deploy(kube, env_namespace, only_web, prune_volumes=True)
    assert actions(result)["PersistentVolumeClaim/db-data"] == "deleted"


def test_prune_false_keeps_everything_like_continuouspipe(kube, env_namespace):
    deploy(kube, env_namespace, two_services())
    result = deploy(kube, env_namespace, task(service("web", image="registry.example/web:1")), prune=False)
    assert "Deployment/db" not in actions(result)
    assert live(kube, "Deployment", "db", env_namespace) is not None


def test_check_mode_is_a_server_side_dry_run(kube, env_namespace, writes):
    settle(kube)
    writes.start()
    result = deploy(kube, env_namespace, two_services(), check_mode=True, diff=True)
    assert result.changed and actions(result)["Deployment/web"] == "created"
    assert live(kube, "Namespace", env_namespace, None) is None
    assert writes.metric_writes() == {}
    assert all("dryRun=All" in uri for _verb, uri in writes.audit_writes())
    # against an existing environment every write is validated by the API server
    deploy(kube, env_namespace, two_services())
    settle(kube)
    writes.start()
    result = deploy(kube, env_namespace, two_services(image="registry.example/web:2"), check_mode=True, diff=True)
    assert actions(result)["Deployment/web"] == "updated"
    assert writes.metric_writes() == {}
    assert writes.metric_writes(dry_run=True) == {"APPLY deployments": 1} or \
        writes.metric_writes(dry_run=True) == {"PATCH deployments": 1}
    assert live(kube, "Deployment", "web", env_namespace)["spec"]["template"]["spec"]["containers"][0]["image"] \
        == "registry.example/web:1"
    (entry,) = [d for d in result.diff if d["before_header"] == "Deployment/web"]
    assert "registry.example/web:1" in entry["before"] and "registry.example/web:2" in entry["after"]
    assert "managedFields" not in entry["after"]
    assert [r.number for r in release.list_releases(kube, env_namespace, "app")] == [1]


def test_diff_masks_secret_values(kube, env_namespace):
    result = deploy(kube, env_namespace, two_services(), diff=True)
    created = {d["before_header"]: d for d in result.diff}
    assert "Secret/web-secrets" in created and "********" in created["Secret/web-secrets"]["after"]
    changed = two_services()
    changed = task(service("web", image="registry.example/web:1", env=[("APP_ENV", "prod")],
                           secret_env=[("DB_PASSWORD", "n3w-pa55word")],
                           endpoints=(model.Endpoint(name="web-public", type="LoadBalancer"),)), changed.services[1])
    result = deploy(kube, env_namespace, changed, diff=True)
    by = {d["before_header"]: d for d in result.diff}
    assert "********" in by["Secret/web-secrets"]["before"]
    assert "******** (changed)" in by["Secret/web-secrets"]["after"]
    text = dump(result.to_dict(diff=True))
    for value in ("pa55word", "n3w-pa55word"):
        assert value not in text
        assert base64.b64encode(value.encode()).decode() not in text
    # a changed secret value rolls the pods (checksum annotation of the pod template)
    assert actions(result)["Deployment/web"] == "updated"


def test_secret_canary_never_leaves_its_secret(kube, env_namespace):
    canary = "canary-7f3a9c-do-not-leak"
    encoded = base64.b64encode(canary.encode()).decode()
    result = deploy(kube, env_namespace, two_services(), diff=True)
    canary_task = task(service("web", image="registry.example/web:1", env=[("APP_ENV", "prod")],
                               secret_env=[("DB_PASSWORD", canary)],
                               endpoints=(model.Endpoint(name="web-public", type="LoadBalancer"),)),
                       two_services().services[1])
    result = deploy(kube, env_namespace, canary_task, diff=True)
    text = dump(result.to_dict(diff=True))
    assert canary not in text and encoded not in text
    holders = []
    for kind in ("ConfigMap", "Secret", "Service", "Deployment", "ReplicaSet", "Pod", "PersistentVolumeClaim", "Event"):
        for obj in listed(kube, kind, env_namespace):
            blob = dump(obj)
            if canary in blob or encoded in blob:
                holders.append("%s/%s" % (kind, obj["metadata"]["name"]))
    # only the env Secret and the release history (itself a Secret, gzip-compressed) may hold it
    assert [h for h in holders if not h.startswith("Secret/cp-release.")] == ["Secret/web-secrets"]
    secret = live(kube, "Secret", "web-secrets", env_namespace)
    assert canary not in dump(secret["metadata"])


def test_pod_checksum_is_keyed_with_a_key_kept_in_the_environment(kube, env_namespace):
    import hashlib
    import json

    result = deploy(kube, env_namespace, two_services(), diff=True)
    assert actions(result)["Secret/cp-checksum-key.app"] == "created"
    key_secret = live(kube, "Secret", "cp-checksum-key.app", env_namespace)
    key = base64.b64decode(key_secret["data"]["key"])
    assert len(key) == 32
    data = live(kube, "Secret", "web-secrets", env_namespace)["data"]
    canonical = json.dumps({"web-secrets": data}, sort_keys=True, separators=(",", ":")).encode()
    template = live(kube, "Deployment", "web", env_namespace)["spec"]["template"]
    checksum = template["metadata"]["annotations"]["continuouspipe.io/checksum"]
    assert checksum == "hmac-sha256:" + hmac.new(key, canonical, hashlib.sha256).hexdigest()
    assert hashlib.sha256(canonical).hexdigest() not in dump(listed(kube, "Deployment", env_namespace))
    assert key_secret["data"]["key"] not in dump(result.to_dict(diff=True))
    # the next deploy reads the key back: same checksum, nothing written (see the zero-writes test)
    settle(kube)
    again = deploy(kube, env_namespace, two_services())
    assert not again.changed
    # a deleted key is replaced by a new one: the pods referencing Secrets roll once
    kube.delete(kube.resource("v1", "Secret"), "cp-checksum-key.app", env_namespace)
    settle(kube)
    rekeyed = deploy(kube, env_namespace, two_services())
    assert actions(rekeyed)["Secret/cp-checksum-key.app"] == "created"
    assert actions(rekeyed)["Deployment/web"] == "updated" and actions(rekeyed)["Deployment/db"] == "unchanged"
    assert live(kube, "Secret", "cp-checksum-key.app", env_namespace)["data"]["key"] != key_secret["data"]["key"]


@pytest.mark.parametrize("node_port_address,expected", [
    ("203.0.113.7", "203.0.113.7"),
    (None, "unknown-node-address"),
])
def test_node_port_endpoint_reports_the_node_address_and_node_ports(kube, env_namespace, node_port_address,
                                                                    expected):
    """ContinuousPipe's node-port-address cluster policy: the address given, else unknown-node-address."""
    web = service("web", ports=(80,), endpoints=(model.Endpoint(name="web-np", type="NodePort"),))
    result = deploy(kube, env_namespace, task(web), node_port_address=node_port_address)
    (endpoint,) = result.endpoints
    assert endpoint["address"] == expected
    live_ports = live(kube, "Service", "web-np", env_namespace)["spec"]["ports"]
    assert live(kube, "Service", "web-np", env_namespace)["spec"]["type"] == "NodePort"
    assert [port["nodePort"] for port in endpoint["ports"]] == [port["nodePort"] for port in live_ports]
    assert all(30000 <= port["nodePort"] <= 32767 for port in endpoint["ports"])
    assert result.variables == {"SERVICE_WEB_NP_PUBLIC_ENDPOINT": expected, "ENDPOINT_WEB_NP_PUBLIC_ENDPOINT": expected}
    container = live(kube, "Deployment", "web", env_namespace)["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "SERVICE_WEB_NP_PUBLIC_ENDPOINT", "value": expected} in container["env"]


def test_automatic_tls_certificate_is_generated_once(kube, env_namespace, writes):
    web = service("web", endpoints=(model.Endpoint(
        name="web-tls", type="ingress", ingress=model.Ingress(hosts=("shop.example.test",)),
        ssl_certificates=(model.TlsCertificate("automatic", "automatic", "automatic"),)),))
    result = deploy(kube, env_namespace, task(web))
    assert actions(result)["Secret/web-tls-automatic"] == "created"
    secret = live(kube, "Secret", "web-tls-automatic", env_namespace)
    assert secret["type"] == "kubernetes.io/tls"
    assert "CN=shop.example.test" in tls.subject_of(secret) and "O=ContinuousPipe" in tls.subject_of(secret)
    assert result.endpoints[0]["address"] == "shop.example.test"
    settle(kube)
    writes.start()
    again = deploy(kube, env_namespace, task(web))
    assert not again.changed and actions(again)["Secret/web-tls-automatic"] == "unchanged"
    assert live(kube, "Secret", "web-tls-automatic", env_namespace)["data"] == secret["data"]
    assert writes.audit_writes() == []
    assert secret["data"]["tls.key"] not in dump(again.to_dict(diff=True))


def test_history_limit_keeps_the_last_releases(kube, env_namespace):
    for number in range(1, 5):
        deploy(kube, env_namespace, task(service("web", image="registry.example/web:%d" % number)), history_limit=2)
    infos = release.list_releases(kube, env_namespace, "app")
    assert [(r.number, r.status) for r in infos] == [(3, "superseded"), (4, "deployed")]
    names = [s["metadata"]["name"] for s in listed(kube, "Secret", env_namespace)]
    assert "cp-release.app.v4" in names and "cp-release.app.v1" not in names


@pytest.mark.parametrize("concurrency", [1, 8])
def test_concurrency_setting_gives_the_same_result(kube, env_namespace, concurrency):
    services = [service("svc%d" % index, image="registry.example/s:%d" % index) for index in range(6)]
    result = deploy(kube, env_namespace, task(*services), concurrency=concurrency)
    assert sum(1 for action in actions(result).values() if action == "created") == 13
    assert len(result.workloads) == 6 and all(w["ok"] for w in result.workloads)


def test_an_object_still_being_deleted_is_created_again_once_gone(kube, cluster, env_namespace):
    deploy(kube, env_namespace, two_services())
    cluster.kubectl("-n", env_namespace, "patch", "secret", "web-secrets", "--type=merge",
                    "-p", '{"metadata": {"finalizers": ["example.com/hold"]}}')
    old = live(kube, "Secret", "web-secrets", env_namespace)
    cluster.kubectl("-n", env_namespace, "delete", "secret", "web-secrets", "--wait=false")
    timer = threading.Timer(2.0, cluster.kubectl, ("-n", env_namespace, "patch", "secret", "web-secrets",
                                                   "--type=merge", "-p", '{"metadata": {"finalizers": null}}'))
    timer.start()
    try:
        result = deploy(kube, env_namespace, two_services())
    finally:
        timer.join()
    assert actions(result)["Secret/web-secrets"] == "created"
    new = live(kube, "Secret", "web-secrets", env_namespace)
    assert new["metadata"]["uid"] != old["metadata"]["uid"] and not new["metadata"].get("deletionTimestamp")
    assert new["data"] == old["data"]
