"""Ownership is read from managedFields (what the API server recorded), never from labels alone."""
from __future__ import annotations

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import ownership
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster.plan import Change

PROJECT = "6f1c1d2e-0000-4000-8000-00000000beef"
OTHER = "0a1b2c3d-1111-2222-3333-444455556666"


def entry(manager, fields, operation="Apply", subresource=None):
    out = {"manager": manager, "operation": operation, "apiVersion": "v1", "fieldsType": "FieldsV1",
           "fieldsV1": fields}
    if subresource:
        out["subresource"] = subresource
    return out


def labelled(labels, entries, kind="Secret", name="s"):
    return {"kind": kind, "metadata": {"name": name, "labels": labels, "managedFields": entries}}


OUR_LABELS = {"f:metadata": {"f:labels": {"f:app.kubernetes.io/managed-by": {}, "f:continuouspipe.io/project": {},
                                          "f:continuouspipe.io/task": {}}}}


def test_labels_written_by_this_collection_are_believed():
    obj = labelled({"app.kubernetes.io/managed-by": "continuouspipe.kubernetes", "continuouspipe.io/project": PROJECT},
                   [entry("continuouspipe.kubernetes", OUR_LABELS)])
    owner = ownership.owner_of(obj)
    assert owner.project == PROJECT and owner.managed and not owner.legacy
    assert ownership.is_ours(obj, PROJECT) and not ownership.is_ours(obj, OTHER)


def test_the_same_labels_set_by_kubectl_are_not():
    obj = labelled({"app.kubernetes.io/managed-by": "continuouspipe.kubernetes", "continuouspipe.io/project": PROJECT},
                   [entry("kubectl-label", OUR_LABELS, operation="Update"),
                    entry("kubectl-create", {"f:data": {}}, operation="Update")])
    owner = ownership.owner_of(obj)
    assert owner.project is None and not owner.managed
    assert owner.claimed == PROJECT and owner.managers == ("kubectl-label", "kubectl-create")
    assert "not by this collection" in owner.describe() and "kubectl-label" in owner.describe()
    assert not ownership.is_ours(obj, PROJECT)


def test_an_object_of_an_earlier_version_is_legacy():
    obj = labelled({"app.kubernetes.io/managed-by": "continuouspipe.kubernetes"},
                   [entry("continuouspipe.kubernetes", {"f:metadata": {"f:labels": {
                       "f:app.kubernetes.io/managed-by": {}}}})])
    owner = ownership.owner_of(obj)
    assert owner.legacy and owner.project is None


def test_without_managed_fields_nothing_is_proven():
    obj = {"kind": "Secret", "metadata": {"name": "s", "labels": {
        "app.kubernetes.io/managed-by": "continuouspipe.kubernetes", "continuouspipe.io/project": PROJECT}}}
    assert not ownership.owner_of(obj).managed


def namespace(labels, entries, annotations=None):
    obj = labelled(labels, entries, kind="Namespace", name="shop-main")
    if annotations:
        obj["metadata"]["annotations"] = annotations
    return obj


def test_check_namespace_verdicts():
    ours = namespace({"continuouspipe.io/project": PROJECT, "app.kubernetes.io/managed-by": "continuouspipe.kubernetes"},
                     [entry("continuouspipe.kubernetes", OUR_LABELS, operation="Update")])
    assert ownership.check_namespace(None, PROJECT).state == "missing"
    assert ownership.check_namespace(ours, PROJECT).state == "ours"
    with pytest.raises(ownership.OwnershipError, match="owned by project %s, not by project %s; set take_over" % (
            PROJECT, OTHER)):
        ownership.check_namespace(ours, OTHER)
    taken = ownership.check_namespace(ours, OTHER, take_over=True)
    assert taken.state == "taken-over" and "taken over" in taken.warning


def test_a_continuouspipe_namespace_is_named_as_such_and_needs_take_over():
    cp = namespace({"created-by": "continuous-pipe", "flow": PROJECT, "continuous-pipe-environment": "x"},
                   [entry("Go-http-client", {"f:metadata": {"f:labels": {"f:flow": {}}}}, operation="Update")])
    with pytest.raises(ownership.OwnershipError, match=r"ContinuousPipe \(flow %s\)" % PROJECT):
        ownership.check_namespace(cp, PROJECT)
    verdict = ownership.check_namespace(cp, PROJECT, take_over=True)
    assert verdict.origin == ownership.ADOPTED


def test_a_hand_labelled_namespace_is_refused():
    forged = namespace({"continuouspipe.io/project": PROJECT, "app.kubernetes.io/managed-by": "continuouspipe.kubernetes"},
                       [entry("kubectl-label", OUR_LABELS, operation="Update")])
    with pytest.raises(ownership.OwnershipError, match="nobody this collection knows"):
        ownership.check_namespace(forged, PROJECT)


def test_origin_annotation_only_counts_when_ours():
    annotated = {"f:metadata": {"f:annotations": {"f:continuouspipe.io/namespace-origin": {}}}}
    ns = namespace({}, [entry("kubectl-annotate", annotated, operation="Update")],
                   annotations={"continuouspipe.io/namespace-origin": "created"})
    assert ownership.namespace_origin(ns) is None
    ns["metadata"]["managedFields"] = [entry("continuouspipe.kubernetes", annotated)]
    assert ownership.namespace_origin(ns) == "created"


def test_check_objects_refuses_others_and_lists_them():
    mine = labelled({"continuouspipe.io/project": PROJECT}, [entry("continuouspipe.kubernetes", OUR_LABELS)], name="a")
    theirs = labelled({"continuouspipe.io/project": OTHER}, [entry("continuouspipe.kubernetes", OUR_LABELS)], name="b")
    handmade = labelled({}, [entry("kubectl-create", {"f:data": {}}, "Update")], name="c")
    changes = [Change("update", "Secret", "a", before=mine), Change("update", "Secret", "b", before=theirs),
               Change("update", "Secret", "c", before=handmade), Change("create", "Secret", "d"),
               Change("unchanged", "Secret", "e", before=handmade)]
    with pytest.raises(ownership.OwnershipError) as refused:
        ownership.check_objects(changes, PROJECT, namespace_legacy=False)
    text = str(refused.value)
    assert "Secret/b (owned by project %s)" % OTHER in text and "Secret/c (owned by nobody" in text
    assert "Secret/a" not in text and "Secret/d" not in text and "Secret/e" not in text
    warnings = ownership.check_objects(changes, PROJECT, namespace_legacy=False, take_over=True)
    assert len(warnings) == 1 and "Secret/b" in warnings[0] and "Secret/c" in warnings[0]


def deployment(entries, env=None):
    container = {"name": "worker", "image": "w:1"}
    if env is not None:
        container["env"] = env
    return {"kind": "Deployment", "metadata": {"name": "worker", "managedFields": entries},
            "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "w"}, "annotations": {}},
                                                 "spec": {"containers": [container]}}}}


OUR_TEMPLATE = {"f:spec": {"f:template": {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:containers": {
    'k:{"name":"worker"}': {".": {}, "f:name": {}, "f:image": {}}}}}}}


def test_foreign_fields_finds_kubectl_set_env():
    kubectl = {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"worker"}': {"f:env": {
        ".": {}, 'k:{"name":"LOG_LEVEL"}': {".": {}, "f:name": {}, "f:value": {}}}}}}}}}
    live = deployment([entry("continuouspipe.kubernetes", OUR_TEMPLATE), entry("kubectl-set", kubectl, "Update")],
                      env=[{"name": "LOG_LEVEL", "value": "debug"}])
    found = ownership.foreign_fields(live)
    # the whole env list is foreign (this collection sets no env for the container): one entry, its whole value
    assert [(f.manager, ownership.path_text(f.path), f.value) for f in found] == [
        ("kubectl-set", "spec.template.spec.containers[0].env", [{"name": "LOG_LEVEL", "value": "debug"}])]
    assert found[0].to_dict() == {"path": "spec.template.spec.containers[0].env", "manager": "kubectl-set",
                                  "expected": None, "actual": [{"name": "LOG_LEVEL", "value": "debug"}]}


def test_foreign_entry_inside_our_list_is_reported_alone():
    ours = {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"worker"}': {
        ".": {}, "f:name": {}, "f:image": {}, "f:env": {'k:{"name":"APP_ENV"}': {".": {}, "f:name": {}, "f:value": {}}}}}}}}}
    kubectl = {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"worker"}': {"f:env": {
        'k:{"name":"LOG_LEVEL"}': {".": {}, "f:name": {}, "f:value": {}}}}}}}}}
    live = deployment([entry("continuouspipe.kubernetes", ours), entry("kubectl-set", kubectl, "Update")],
                      env=[{"name": "APP_ENV", "value": "prod"}, {"name": "LOG_LEVEL", "value": "debug"}])
    found = ownership.foreign_fields(live)
    assert [(ownership.path_text(f.path), f.value) for f in found] == [
        ("spec.template.spec.containers[0].env[1]", {"name": "LOG_LEVEL", "value": "debug"})]


def test_replicas_and_restart_annotation_are_not_foreign():
    scale = {"f:spec": {"f:replicas": {}}}
    restart = {"f:spec": {"f:template": {"f:metadata": {"f:annotations": {
        "f:kubectl.kubernetes.io/restartedAt": {}}}}}}
    live = deployment([entry("continuouspipe.kubernetes", OUR_TEMPLATE), entry("kubectl-scale", scale, "Update", "scale"),
                       entry("kubectl-rollout", restart, "Update"), entry("hpa", scale, "Update")])
    live["spec"]["template"]["metadata"]["annotations"] = {"kubectl.kubernetes.io/restartedAt": "2026-12-03T10:00:00Z"}
    assert ownership.foreign_fields(live) == []


def test_strip_managed_fields_drops_only_others_template_claims():
    scale = {"f:spec": {"f:replicas": {}}}
    kubectl = {"f:spec": {"f:template": {"f:spec": {"f:containers": {}}}}}
    both = {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {}}}}
    entries = [entry("continuouspipe.kubernetes", OUR_TEMPLATE), entry("kubectl-set", kubectl, "Update"),
               entry("kubectl-scale", scale, "Update"), entry("other", both, "Update"),
               entry("kube-controller-manager", {"f:status": {}}, "Update", "status")]
    stripped = ownership.strip_managed_fields(entries)
    managers = ["continuouspipe.kubernetes", "kubectl-scale", "other", "kube-controller-manager"]
    assert [e["manager"] for e in stripped] == managers
    assert stripped[2]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert stripped[0] == entries[0] and entries[3]["fieldsV1"] == both  # the input is not changed
