"""The run module against a real API server: one-off pods, their exit codes, timeouts, leftovers,
secrets, interruption, and the run tasks of a project.

kwok plays the kubelet (tests/cluster/kwok): a bare pod with ``restartPolicy: Never`` goes Running
then Succeeded after ``kwok-test/complete-after`` (default 1s); label ``kwok-test/behavior: fail``
makes it Failed with the exit code of annotation ``kwok-test/exit-code``; ``image-pull-error`` leaves
it in ImagePullBackOff. kwok serves no logs, so ``output`` is null and ``output_available`` false.

Modules run as Ansible runs them on the target (the module file executed by Python with a JSON
arguments file), and once through ansible-playbook.
"""
from __future__ import annotations

import json
import signal
import time
import uuid

import pytest

from deploy_helpers import wait_for

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import environment

SECRET = "s3cr3t-%s" % uuid.uuid4().hex[:8]


@pytest.fixture
def run(call):
    """conftest's ``call`` for the run module: ``run(args, check=False)``, ``run.start(args)``,
    ``run.result(proc)``."""
    return call.bind("run")


@pytest.fixture
def env_ns(cluster, kube):
    """An environment created by the collection, deleted afterwards."""
    name = "run-%s" % uuid.uuid4().hex[:8]
    environment.ensure_present(kube, name, environment.namespace_labels(name))
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


def pod(kube, namespace, name):
    return kube.get(kube.resource("v1", "Pod"), name, namespace)


def secret(kube, namespace, name):
    return kube.get(kube.resource("v1", "Secret"), name, namespace)


def gone(kube, namespace, name):
    return pod(kube, namespace, name) is None and secret(kube, namespace, name + "-env") is None


def ready(kube, namespace, name):
    live = pod(kube, namespace, name) or {}
    conditions = {c["type"]: c["status"] for c in (live.get("status") or {}).get("conditions") or []}
    return (live.get("status") or {}).get("phase") == "Running" and conditions.get("Ready") == "True"


def warnings_text(result) -> str:
    return json.dumps(result.get("warnings") or [])


# --------------------------------------------------------------------------------------------------


def test_a_successful_run_returns_its_exit_code_and_deletes_its_pod_and_secret(run, kube, env_ns):
    result = run({"namespace": env_ns, "task": "Clear_Cache", "image": "registry.example/tools:1",
                  "commands": ["echo start", "php artisan cache:clear"], "environment": {"MODE": "test"},
                  "secret_environment": {"API_TOKEN": SECRET}})
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert result["pod"] == "run-clear-cache"  # slugified as ContinuousPipe did
    assert result["phase"] == "Succeeded" and result["rc"] == 0
    assert result["command"] == ["sh", "-cex", "echo start; php artisan cache:clear"]
    assert result["output"] is None and result["output_available"] is False and result["output_lines"] == []
    assert "output of pod run-clear-cache is not available" in warnings_text(result)
    assert result["cleaned_up"] is True and result["replaced"] is False
    assert {(e["name"], e["secret"]) for e in result["environment"]} == {("MODE", False), ("API_TOKEN", True)}
    assert SECRET not in json.dumps(result)
    wait_for(lambda: gone(kube, env_ns, "run-clear-cache"), what="pod and secret deleted")


def test_the_pod_is_the_one_continuouspipe_ran(run, kube, env_ns):
    """Inspect the pod while it runs: command, restart policy, labels, env from a Secret it owns."""
    proc = run.start({"namespace": env_ns, "task": "inspect", "image": "registry.example/tools:1",
                      "commands": ["migrate", "seed"], "environment": {"PLAIN": "visible"},
                      "secret_environment": {"PASSWORD": SECRET}, "labels": {"team": "shop"},
                      "annotations": {"kwok-test/complete-after": "6s", "sidecar.istio.io/inject": "false"}})
    live = wait_for(lambda: pod(kube, env_ns, "run-inspect"), what="the run pod")
    stored = wait_for(lambda: (secret(kube, env_ns, "run-inspect-env") or {}).get("metadata", {}).get(
        "ownerReferences") and secret(kube, env_ns, "run-inspect-env"), what="the secret owned by the pod")
    result = run.result(proc)
    assert not result.get("failed"), result

    spec = live["spec"]
    assert spec["restartPolicy"] == "Never"
    (container,) = spec["containers"]
    assert container["name"] == "run-inspect"
    assert container["command"] == ["sh", "-cex", "migrate; seed"]
    assert {"name": "PLAIN", "value": "visible"} in container["env"]
    assert {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "run-inspect-env", "key": "PASSWORD"}}} \
        in container["env"]
    assert SECRET not in json.dumps(live)
    labels = live["metadata"]["labels"]
    assert labels["component-identifier"] == "run-inspect" and labels["continuouspipe.io/task"] == "inspect"
    assert labels["app.kubernetes.io/managed-by"] == "continuouspipe.kubernetes"
    assert labels["continuouspipe.io/environment"] == env_ns and labels["team"] == "shop"
    assert live["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"
    owner = stored["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Pod", "run-inspect", live["metadata"]["uid"])
    wait_for(lambda: gone(kube, env_ns, "run-inspect"), what="pod and secret deleted")


def failed_run(run, kube, args: dict, pod_name: str, within: float | None = None) -> dict:
    """The result of a run that fails (in less than ``within`` seconds), once its pod and secret are deleted."""
    started = time.monotonic()
    result = run(args)
    assert result.get("failed"), result
    if within is not None:
        assert time.monotonic() - started < within, "it waited for the timeout"
    wait_for(lambda: gone(kube, args["namespace"], pod_name), what="pod and secret deleted")
    return result


def test_a_failed_run_fails_with_its_exit_code_and_is_cleaned_up(run, kube, env_ns):
    result = failed_run(run, kube, {"namespace": env_ns, "task": "tests", "image": "registry.example/tools:1",
                                    "commands": ["phpunit"], "secret_environment": {"TOKEN": SECRET},
                                    "labels": {"kwok-test/behavior": "fail"},
                                    "annotations": {"kwok-test/exit-code": "3"}}, "run-tests")
    assert result["phase"] == "Failed" and result["rc"] == 3
    assert "did not end successfully" in result["msg"] and "exit code 3" in result["msg"], result["msg"]
    assert result["cleaned_up"] is True
    assert SECRET not in json.dumps(result)


def test_a_run_that_does_not_finish_in_time_fails_and_is_deleted(run, kube, env_ns):
    result = failed_run(run, kube, {"namespace": env_ns, "task": "slow", "image": "registry.example/tools:1",
                                    "commands": ["sleep 600"], "timeout": 4,
                                    "annotations": {"kwok-test/complete-after": "600s"}}, "run-slow", within=60)
    assert "did not finish within 4s" in result["msg"] and "phase Running" in result["msg"], result["msg"]
    assert result["rc"] is None and result["cleaned_up"] is True


def test_a_pod_that_cannot_start_fails_fast(run, kube, env_ns):
    result = failed_run(run, kube, {"namespace": env_ns, "task": "pull", "image": "registry.example/missing:1",
                                    "commands": ["true"], "timeout": 300,
                                    "labels": {"kwok-test/behavior": "image-pull-error"}}, "run-pull", within=60)
    assert "cannot start" in result["msg"] and "ImagePullBackOff" in result["msg"], result["msg"]


def test_a_run_in_progress_with_the_same_name_is_not_touched(run, cluster, kube, env_ns):
    other = {"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": "run-deploy-hook", "namespace": env_ns,
                          "annotations": {"kwok-test/complete-after": "600s"}},
             "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "registry.example/tools:1"}]}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(other))
    wait_for(lambda: ready(kube, env_ns, "run-deploy-hook"), what="the other run running and ready")
    uid = pod(kube, env_ns, "run-deploy-hook")["metadata"]["uid"]
    result = run({"namespace": env_ns, "task": "deploy_hook", "image": "registry.example/tools:1",
                  "commands": ["true"]})
    assert result.get("failed"), result
    assert "is already running" in result["msg"] and "in progress" in result["msg"], result["msg"]
    assert pod(kube, env_ns, "run-deploy-hook")["metadata"]["uid"] == uid
    checked = run({"namespace": env_ns, "task": "deploy_hook", "image": "registry.example/tools:1",
                   "commands": ["true"]}, check=True)
    assert checked.get("failed") and "is already running" in checked["msg"], checked


def test_a_finished_leftover_pod_is_replaced(run, cluster, kube, env_ns):
    leftover = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "run-report", "namespace": env_ns},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "registry.example/old:1"}]}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(leftover))
    wait_for(lambda: ((pod(kube, env_ns, "run-report") or {}).get("status") or {}).get("phase") == "Succeeded",
             what="the leftover pod finished")
    old_uid = pod(kube, env_ns, "run-report")["metadata"]["uid"]

    checked = run({"namespace": env_ns, "task": "report", "image": "registry.example/tools:1",
                   "commands": ["true"]}, check=True)
    assert not checked.get("failed") and checked["replaced"], checked
    assert pod(kube, env_ns, "run-report")["metadata"]["uid"] == old_uid, "check mode deleted the leftover"

    result = run({"namespace": env_ns, "task": "report", "image": "registry.example/tools:1", "commands": ["true"]})
    assert not result.get("failed") and result["replaced"] is True and result["phase"] == "Succeeded", result
    wait_for(lambda: gone(kube, env_ns, "run-report"), what="pod deleted")


def test_check_mode_is_a_server_side_dry_run(run, kube, env_ns, writes):
    writes.start()
    result = run({"namespace": env_ns, "task": "dry", "image": "registry.example/tools:1", "commands": ["true"],
                  "secret_environment": {"TOKEN": SECRET}}, check=True)
    assert not result.get("failed") and result["changed"] is True, result
    assert result["phase"] is None and result["rc"] is None
    assert pod(kube, env_ns, "run-dry") is None and secret(kube, env_ns, "run-dry-env") is None
    dry = [event[1] for event in writes.audit_writes(namespace=env_ns)]
    assert dry and all("dryRun=All" in uri for uri in dry), dry
    invalid = run({"namespace": env_ns, "task": "dry", "image": "registry.example/tools:1", "commands": ["true"],
                   "labels": {"not a valid key!": "x"}}, check=True)
    assert invalid.get("failed") and "422" in invalid["msg"], invalid  # the API server validated it


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_deletes_its_pod_and_secret(run, kube, env_ns, signum):
    proc = run.start({"namespace": env_ns, "task": "long", "image": "registry.example/tools:1",
                      "commands": ["sleep 600"], "secret_environment": {"TOKEN": SECRET},
                      "annotations": {"kwok-test/complete-after": "600s"}})
    wait_for(lambda: ready(kube, env_ns, "run-long"), what="the run pod running")
    proc.send_signal(signum)
    result = run.result(proc, timeout=60)
    assert result.get("failed") and "interrupted" in result["msg"], result
    wait_for(lambda: gone(kube, env_ns, "run-long"), what="pod and secret deleted after the interruption")


def test_the_image_of_a_service_running_in_the_environment(run, cluster, env_ns):
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": env_ns, "labels": {"component-identifier": "web"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"component-identifier": "web"}},
                 "template": {"metadata": {"labels": {"component-identifier": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "registry.example/web:7.3"}]}}}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(deployment))
    result = run({"namespace": env_ns, "task": "console", "service": "web", "commands": ["bin/console about"]})
    assert not result.get("failed"), result
    assert result["image"] == "registry.example/web:7.3"
    missing = run({"namespace": env_ns, "task": "console", "service": "nope", "commands": ["true"]})
    assert missing.get("failed") and "no Deployment, StatefulSet or Pod of service 'nope'" in missing["msg"], missing


PROJECT = """\
variables:
  - name: APP_ENV
    value: staging
    as_environment_variable: ['*']
  - name: ONLY_WEB
    value: web-only
    as_environment_variable: [web]
tasks:
  application:
    deploy:
      environment:
        name: '"proj-" ~ code_reference.branch'
      services:
        web:
          specification:
            source: {image: registry.example/web:2.1}
            ports: [80]
  migrations:
    run:
      environment:
        name: '"proj-" ~ code_reference.branch'
      image: registry.example/web:2.1
      commands:
        - bin/console doctrine:migrations:migrate --no-interaction
      environment_variables:
        - name: DATABASE_PASSWORD
          value: ${DATABASE_PASSWORD}
        - name: APP_ENV
          value: from-the-task
        - name: WEB_ADDRESS
          value: http://${SERVICE_WEB_PUBLIC_ENDPOINT}/
        - name: INFRASTRUCTURE_NAMESPACE
          value: ${__TASK_INFRASTRUCTURE_TARGET_ENVIRONMENT_NAME}
"""


def test_a_run_task_of_the_project(run, cluster, kube, tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "continuous-pipe.yml").write_text(PROJECT)
    branch = "Feature/Run-%s" % uuid.uuid4().hex[:4]
    namespace = "proj-feature-run-%s" % branch[-4:].lower()
    source = {"source_dir": str(tmp_path / "app"), "branch": branch, "secret_variables": {"DATABASE_PASSWORD": SECRET},
              "flow_uuid": "7e570000-0000-4000-8000-000000000002"}
    try:
        environment.ensure_present(kube, namespace, environment.namespace_labels(namespace))
        lb = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": namespace},
              "spec": {"type": "LoadBalancer", "ports": [{"port": 80}], "selector": {"component-identifier": "web"}}}
        cluster.kubectl("apply", "-f", "-", input=json.dumps(lb))
        address = wait_for(lambda: ((kube.get(kube.resource("v1", "Service"), "web", namespace) or {}).get(
            "status", {}).get("loadBalancer", {}).get("ingress") or [{}])[0].get("ip"), what="the LB address")

        checked = run(dict(source, task="migrations"), check=True)
        assert not checked.get("failed"), checked
        assert checked["namespace"] == namespace and checked["image"] == "registry.example/web:2.1"
        assert checked["command"] == ["sh", "-cex", "bin/console doctrine:migrations:migrate --no-interaction"]
        env = {item["name"]: item for item in checked["environment"]}
        assert env["DATABASE_PASSWORD"]["secret"] is True and env["DATABASE_PASSWORD"]["source"] == "task"
        assert env["APP_ENV"]["source"] == "task"  # the task's own value wins over the variable
        assert "ONLY_WEB" not in env  # marked for the web service, not for this run
        assert env["SERVICE_WEB_PUBLIC_ENDPOINT"]["source"] == "endpoint"

        proc = run.start(dict(source, task="migrations", annotations={"kwok-test/complete-after": "4s"}))
        live = wait_for(lambda: pod(kube, namespace, "run-migrations"), what="the run pod")
        result = run.result(proc)
        assert not result.get("failed") and result["phase"] == "Succeeded", result
        values = {item["name"]: item for item in live["spec"]["containers"][0]["env"]}
        assert values["APP_ENV"]["value"] == "from-the-task"
        assert values["WEB_ADDRESS"]["value"] == "http://%s/" % address
        assert values["SERVICE_WEB_PUBLIC_ENDPOINT"]["value"] == address
        assert values["INFRASTRUCTURE_NAMESPACE"]["value"] == "${__TASK_INFRASTRUCTURE_TARGET_ENVIRONMENT_NAME}"

        assert "secretKeyRef" in values["DATABASE_PASSWORD"]["valueFrom"]
        assert SECRET not in json.dumps(result) and SECRET not in json.dumps(live)

        # what earlier deploy tasks of the pipeline returned wins over the live endpoints
        deploy_variables = {"SERVICE_WEB_PUBLIC_ENDPOINT": "web.earlier.example", "SERVICE_API_PUBLIC_ENDPOINT": "api.x",
                            "__TASK_INFRASTRUCTURE_TARGET_ENVIRONMENT_NAME": "shop-infra"}
        proc = run.start(dict(source, task="migrations", deploy_variables=deploy_variables,
                              annotations={"kwok-test/complete-after": "4s"}))

        def new_pod():
            found = pod(kube, namespace, "run-migrations")
            return found if found and found["metadata"]["uid"] != live["metadata"]["uid"] else None

        second = wait_for(new_pod, what="the second run pod")
        result = run.result(proc)
        assert not result.get("failed"), result
        values = {item["name"]: item.get("value") for item in second["spec"]["containers"][0]["env"]}
        assert values["WEB_ADDRESS"] == "http://web.earlier.example/"
        assert values["SERVICE_WEB_PUBLIC_ENDPOINT"] == "web.earlier.example"
        assert values["SERVICE_API_PUBLIC_ENDPOINT"] == "api.x"
        assert values["INFRASTRUCTURE_NAMESPACE"] == "shop-infra"
        assert "__TASK_INFRASTRUCTURE_TARGET_ENVIRONMENT_NAME" not in values
        sources = {item["name"]: item["source"] for item in result["environment"]}
        assert sources["SERVICE_WEB_PUBLIC_ENDPOINT"] == "deploy"

        other = run(dict(source, task="one-off", service="web", commands=["true"]), check=True)
        assert other["namespace"] == namespace and other["image"] == "registry.example/web:2.1", other
        assert {item["name"] for item in other["environment"]} >= {"APP_ENV", "SERVICE_WEB_PUBLIC_ENDPOINT"}
        unknown = run(dict(source, task="nothing"), check=True)
        assert unknown.get("failed") and "give image or service" in unknown["msg"], unknown
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)


def test_through_ansible_playbook(ansible, kube, env_ns):
    result = ansible.run("continuouspipe.kubernetes.run", {
        "namespace": env_ns, "task": "hello", "image": "registry.example/tools:1", "commands": ["echo hello"],
        "secret_environment": {"TOKEN": SECRET}})
    assert not result.get("failed") and result["phase"] == "Succeeded", result
    assert SECRET not in ansible.last_output and SECRET not in json.dumps(result)
    wait_for(lambda: gone(kube, env_ns, "run-hello"), what="pod deleted")


VOLUMES_PROJECT = """\
tasks:
  backup:
    run:
      environment:
        name: '"vol-" ~ code_reference.branch'
      image: registry.example/backup:1
      commands: [backup /data /scratch]
      volumes:
        - {type: persistent, name: backups, capacity: 1Gi}
        - {type: emptyDirectory, name: cache}
      volume_mounts:
        - {name: backups, mount_path: /data}
        - {name: cache, mount_path: /cache, read_only: true}
"""


def test_volumes_and_a_missing_environment(run, cluster, kube, tmp_path):
    """The run task's volumes (its claim created when missing, never deleted) and the module's own;
    the environment is created first, as ContinuousPipe prepared it."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "continuous-pipe.yml").write_text(VOLUMES_PROJECT)
    branch = "v%s" % uuid.uuid4().hex[:6]
    namespace = "vol-%s" % branch
    source = {"source_dir": str(tmp_path / "app"), "branch": branch, "flow_uuid": "7e570000-0000-4000-8000-000000000001",
              "task": "backup", "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}],
              "volume_mounts": [{"name": "scratch", "mountPath": "/scratch"}]}
    try:
        checked = run(source, check=True)
        assert not checked.get("failed") and checked["namespace_created"] is True, checked
        assert kube.get(kube.resource("v1", "Namespace"), namespace) is None, "check mode created the namespace"

        proc = run.start(dict(source, annotations={"kwok-test/complete-after": "4s"}))
        live = wait_for(lambda: pod(kube, namespace, "run-backup"), what="the run pod")
        result = run.result(proc)
        assert not result.get("failed") and result["namespace_created"] is True, result
        labels = kube.get(kube.resource("v1", "Namespace"), namespace)["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "continuouspipe.kubernetes"
        assert labels["flow"] == "7e570000-0000-4000-8000-000000000001"

        volumes = {volume["name"]: volume for volume in live["spec"]["volumes"]}
        assert volumes["backups"]["persistentVolumeClaim"] == {"claimName": "backups"}
        assert "emptyDir" in volumes["cache"] and volumes["scratch"]["emptyDir"] == {"sizeLimit": "1Gi"}
        mounts = {mount["name"]: mount for mount in live["spec"]["containers"][0]["volumeMounts"]}
        assert mounts["backups"]["mountPath"] == "/data" and mounts["cache"]["readOnly"] is True
        assert mounts["scratch"]["mountPath"] == "/scratch"
        claim = kube.get(kube.resource("v1", "PersistentVolumeClaim"), "backups", namespace)
        assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
        wait_for(lambda: pod(kube, namespace, "run-backup") is None, what="the pod deleted")
        assert kube.get(kube.resource("v1", "PersistentVolumeClaim"), "backups", namespace) is not None

        again = run(source)
        assert not again.get("failed") and again["namespace_created"] is False, again
        bad = run(dict(source, volume_mounts=[{"name": "nope", "mountPath": "/x"}]), check=True)
        assert bad.get("failed") and "volume mount 'nope' names no volume" in bad["msg"], bad
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False)
