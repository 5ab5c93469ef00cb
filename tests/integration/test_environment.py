"""The environment module against a real API server: create, complete, reuse, delete a namespace.

The module runs as Ansible runs it on the target: its file executed by Python with its arguments
in a JSON file (``call``, about a second each), and once through ansible-playbook (the ``ansible``
fixture). The cluster is inspected with the collection's own client (``kube``) and ``kubectl``;
write requests are counted from the API server's audit log (``writes``).
"""
from __future__ import annotations

import json
import threading
import uuid

import pytest

from conftest import unique_namespace
from deploy_helpers import wait_for

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import environment, ownership
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError

MODULE = "continuouspipe.kubernetes.environment"
FLOW = "0a1b2c3d-1111-2222-3333-444455556666"
MANAGED = "app.kubernetes.io/managed-by"


@pytest.fixture(name="call")
def environment_module(call):
    """conftest's ``call`` for the environment module: ``call(args, check=False, diff=False)``."""
    return call.bind("environment")


@pytest.fixture
def name(cluster, request):
    """A namespace name (not created); deleted after the test, finalizers of test objects removed."""
    value = unique_namespace(request)
    yield value
    cluster.kubectl("delete", "configmap", "held", "-n", value, "--ignore-not-found", "--wait=false", check=False)
    cluster.kubectl("patch", "configmap", "held", "-n", value, "--type=merge", "-p",
                    '{"metadata":{"finalizers":null}}', check=False)
    cluster.kubectl("delete", "namespace", value, "--wait=false", "--ignore-not-found", check=False)


def namespace(kube, name):
    return kube.get(kube.resource("v1", "Namespace"), name)


def labels(kube, name):
    return (namespace(kube, name) or {}).get("metadata", {}).get("labels") or {}


def hold(cluster, name):
    """A ConfigMap with a finalizer nobody removes: the namespace stays Terminating until released."""
    cluster.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "held", "namespace": name, "finalizers": ["continuouspipe.test/hold"]}}))


def release(cluster, name):
    cluster.kubectl("patch", "configmap", "held", "-n", name, "--type=merge", "-p",
                    '{"metadata":{"finalizers":null}}', check=False)


# --------------------------------------------------------------------------------------------------
# state: present


def test_present_creates_the_namespace_then_changes_nothing(call, kube, name, writes):
    checked = call({"name": name, "flow_uuid": FLOW}, check=True, diff=True)
    assert checked["changed"] and checked["action"] == "created", checked
    assert checked["diff"]["before"] == {} and checked["diff"]["after"]["name"] == name
    assert namespace(kube, name) is None, "check mode created the namespace"

    created = call({"name": name, "flow_uuid": FLOW}, diff=True)
    assert created["changed"] and created["action"] == "created", created
    expected = {"continuous-pipe-environment": name, "created-by": "continuous-pipe", "flow": FLOW,
                MANAGED: "continuouspipe.kubernetes", "continuouspipe.io/environment": name}
    assert expected.items() <= labels(kube, name).items()
    assert created["namespace"]["managed_by"] == "continuouspipe.kubernetes"
    assert expected.items() <= created["diff"]["after"]["labels"].items()

    writes.start()
    again = call({"name": name, "flow_uuid": FLOW}, diff=True)
    assert not again["changed"] and again["action"] == "unchanged", again
    assert again["diff"]["before"] == again["diff"]["after"]
    assert writes.audit_writes(namespace=name) == []


def test_present_adds_the_missing_labels_and_keeps_continuouspipe_labels(call, cluster, kube, name, writes):
    """A namespace ContinuousPipe created (its labels, another flow) is taken over deliberately, and
    then completed; ContinuousPipe's labels are kept."""
    cluster.kubectl("create", "namespace", name)
    cluster.kubectl("label", "namespace", name, "created-by=continuous-pipe", "continuous-pipe-environment=%s" % name,
                    "flow=99999999-0000-0000-0000-000000000000", "team=shop")
    refused = call({"name": name, "flow_uuid": FLOW})
    assert refused.get("failed") and "owned by ContinuousPipe (flow 99999999-0000-0000-0000-000000000000)" in \
        refused["msg"] and "set force: true" in refused["msg"], refused
    checked = call({"name": name, "flow_uuid": FLOW, "force": True}, check=True)
    assert checked["changed"] and checked["action"] == "updated", checked
    assert MANAGED not in labels(kube, name)

    result = call({"name": name, "flow_uuid": FLOW, "force": True})
    assert result["changed"] and result["action"] == "updated", result
    assert namespace(kube, name)["metadata"]["annotations"]["continuouspipe.io/namespace-origin"] == "adopted"
    assert "keeps its label flow" in json.dumps(result.get("warnings")), result
    now = labels(kube, name)
    assert now["flow"] == "99999999-0000-0000-0000-000000000000"
    assert now["team"] == "shop"
    assert now[MANAGED] == "continuouspipe.kubernetes" and now["continuouspipe.io/environment"] == name

    writes.start()
    assert not call({"name": name, "flow_uuid": FLOW})["changed"]
    assert writes.audit_writes(namespace=name) == []


def test_present_does_not_take_over_a_namespace_of_another_tool(call, cluster, kube, name):
    cluster.kubectl("create", "namespace", name)
    cluster.kubectl("label", "namespace", name, "%s=Helm" % MANAGED)
    refused = call({"name": name})
    assert refused.get("failed") and "managed by 'Helm'" in refused["msg"], refused
    assert labels(kube, name)[MANAGED] == "Helm"
    forced = call({"name": name, "force": True})
    assert forced["changed"] and labels(kube, name)[MANAGED] == "continuouspipe.kubernetes"


def test_present_waits_for_a_namespace_being_deleted_then_creates_it(cluster, kube, name):
    environment.ensure_present(kube, name, environment.namespace_labels(name))
    hold(cluster, name)
    cluster.kubectl("delete", "namespace", name, "--wait=false")
    with pytest.raises(ClusterError, match="is being deleted"):
        environment.ensure_present(kube, name, environment.namespace_labels(name), wait=False)
    checked = environment.ensure_present(kube, name, environment.namespace_labels(name), check_mode=True)
    assert checked.action == "created" and checked.changed and environment.is_terminating(namespace(kube, name))
    timer = threading.Timer(2.0, release, (cluster, name))
    timer.start()
    try:
        outcome = environment.ensure_present(kube, name, environment.namespace_labels(name), wait=True,
                                             wait_timeout=60)
    finally:
        timer.cancel()
    assert outcome.action == "created" and outcome.waited >= 1.0
    assert environment.is_terminating(namespace(kube, name)) is False


# --------------------------------------------------------------------------------------------------
# state: absent


def test_absent_deletes_the_namespace_and_waits_until_it_is_gone(call, cluster, kube, name):
    call({"name": name})
    cluster.kubectl("create", "configmap", "content", "-n", name, "--from-literal=a=b")

    checked = call({"name": name, "state": "absent"}, check=True, diff=True)
    assert checked["changed"] and checked["action"] == "deleted", checked
    assert checked["diff"]["after"] == {} and checked["diff"]["before"]["name"] == name
    live = namespace(kube, name)
    assert live is not None and not environment.is_terminating(live), "check mode deleted the namespace"

    deleted = call({"name": name, "state": "absent"})
    assert deleted["changed"] and deleted["action"] == "deleted", deleted
    assert namespace(kube, name) is None, "the module returned before the namespace was gone"
    assert deleted["waited"] > 0

    again = call({"name": name, "state": "absent"})
    assert not again["changed"] and again["action"] == "absent", again


def test_absent_refuses_a_namespace_that_is_not_an_environment(call, kube, kube_namespace):
    refused = call({"name": kube_namespace, "state": "absent"})
    assert refused.get("failed"), refused
    assert "refusing to delete namespace %s" % kube_namespace in refused["msg"]
    assert "force: true" in refused["msg"]
    assert namespace(kube, kube_namespace) is not None

    forced = call({"name": kube_namespace, "state": "absent", "force": True})
    assert forced["changed"] and forced["action"] == "deleted", forced
    assert namespace(kube, kube_namespace) is None


def test_absent_refuses_namespaces_continuouspipe_created_unless_forced(cluster, kube, name):
    """Labels anyone can set are not ownership: a ContinuousPipe namespace that this collection never
    took over is not its to delete."""
    cluster.kubectl("create", "namespace", name)
    cluster.kubectl("label", "namespace", name, "created-by=continuous-pipe", "continuous-pipe-environment=%s" % name,
                    "%s=continuouspipe.kubernetes" % MANAGED)
    with pytest.raises(ownership.OwnershipError, match="owned by ContinuousPipe.*force: true"):
        environment.delete(kube, name, wait=True, wait_timeout=120, project=FLOW)
    assert namespace(kube, name) is not None
    outcome = environment.delete(kube, name, force=True, wait=True, wait_timeout=120)
    assert outcome.action == "deleted" and outcome.changed
    assert namespace(kube, name) is None


@pytest.mark.parametrize("system", ["default", "kube-system", "kube-public", "kube-node-lease"])
def test_system_namespaces_are_never_deleted(kube, system):
    with pytest.raises(Exception, match="system namespace"):
        environment.delete(kube, system, force=True)
    assert namespace(kube, system) is not None


def test_absent_of_a_namespace_already_being_deleted(call, cluster, kube, name):
    call({"name": name})
    hold(cluster, name)
    cluster.kubectl("delete", "namespace", name, "--wait=false")
    wait_for(lambda: environment.is_terminating(namespace(kube, name)), what="namespace terminating")

    no_wait = call({"name": name, "state": "absent", "wait": False})
    assert not no_wait["changed"] and no_wait["action"] == "terminating", no_wait

    timed_out = call({"name": name, "state": "absent", "wait_timeout": 10})
    assert timed_out.get("failed"), timed_out
    assert "still being deleted after 10s" in timed_out["msg"], timed_out["msg"]
    assert "continuouspipe.test/hold" in timed_out["msg"], timed_out["msg"]  # what keeps it

    release(cluster, name)
    done = call({"name": name, "state": "absent", "wait_timeout": 120})
    assert not done["failed"] if "failed" in done else True
    assert done["action"] in ("terminating", "absent") and not done["changed"], done
    assert namespace(kube, name) is None


def test_delete_of_a_namespace_recreated_meanwhile_is_refused_by_its_uid(cluster, kube, name):
    """The DELETE carries the uid read before: a namespace re-created in between is not deleted."""
    environment.ensure_present(kube, name, environment.namespace_labels(name))
    stale = namespace(kube, name)
    resource = kube.resource("v1", "Namespace")
    body = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": str(uuid.uuid4())}}
    with pytest.raises(ClusterError) as error:
        kube.request("DELETE", resource.path(name), body=body)
    assert error.value.status == 409
    assert namespace(kube, name)["metadata"]["uid"] == stale["metadata"]["uid"]


# --------------------------------------------------------------------------------------------------
# the name, computed from the project


PROJECT = """\
tasks:
  infrastructure:
    deploy:
      environment:
        name: '"shop-" ~ code_reference.branch'
      services:
        database:
          specification:
            source: {image: postgres:16}
            ports: [5432]
  application:
    deploy:
      environment:
        name: '"shop-" ~ code_reference.branch'
      services:
        web:
          specification:
            source: {image: nginx:1.27}
            ports: [80]
  review:
    deploy:
      services:
        web:
          specification:
            source: {image: nginx:1.27}
            ports: [80]
"""


def test_the_name_is_computed_from_the_project_like_deploy_does(call, cluster, kube, tmp_path, request):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "continuous-pipe.yml").write_text(PROJECT)
    branch = "Feature/ENV-%s" % uuid.uuid4().hex[:4]
    expected = "shop-feature-env-%s" % branch[-4:].lower()
    source = {"source_dir": str(tmp_path / "app"), "branch": branch, "flow_uuid": FLOW}
    try:
        several = call(dict(source))
        assert several.get("failed") and "several environments" in several["msg"], several

        created = call(dict(source, task="application"))
        assert created["name"] == expected and created["action"] == "created", created
        assert labels(kube, expected)["flow"] == FLOW

        default = call(dict(source, task="review"), check=True)
        assert default["name"] == "%s-feature-env-%s" % (FLOW, branch[-4:].lower()), default

        unknown = call(dict(source, task="nope"))
        assert unknown.get("failed") and "no deploy or run task 'nope'" in unknown["msg"], unknown

        deleted = call(dict(source, task="infrastructure", state="absent"))
        assert deleted["name"] == expected and deleted["action"] == "deleted", deleted
    finally:
        cluster.kubectl("delete", "namespace", expected, "--wait=false", "--ignore-not-found", check=False)


def test_a_name_or_a_project_is_required(call):
    result = call({})
    assert result.get("failed") and "one of the following is required: name, source_dir" in result["msg"], result
