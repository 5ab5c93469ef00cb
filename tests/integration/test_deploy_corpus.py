"""Every deploy task of the shared corpus demos (default branches and stored branches) and of
examples/app, deployed with the deploy module's pipeline (load → translate → apply) into a real
control plane, then deployed again without a single change; two of them through ansible-playbook.

Images need not exist (kwok runs no container). ``${VAR}`` the projects need are found by loading
and given placeholder values (secret ones for passwords, keys and tokens)."""
from __future__ import annotations

import base64
import json
import os
import re

import pytest
from conftest import CORPUS, ROOT, unique_namespace
from deploy_helpers import actions

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import deploy as pipeline
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.source import load_from_params

DEMOS = ("demo-symfony", "demo-laravel", "demo-drupal8", "php-example", "flex-skeleton", "documentation")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY|TOKEN|CERT", re.I)
PEM = base64.b64encode(b"-----BEGIN PLACEHOLDER-----\nAA==\n-----END PLACEHOLDER-----\n").decode()
# The corpus holds copies of projects, not git checkouts: their identity is given.
CORPUS_FLOW = "c0a90500-0000-4000-8000-00000000c0de"
# The commit deployed: images built by a build task are tagged with it (an empty sha is an error).
CORPUS_SHA = "5f0c6e1d9b8a7f6e5d4c3b2a190817263544536f"


def projects():
    found = [pytest.param(str(ROOT / "examples" / "app"), "main", id="examples-app")]
    for demo in DEMOS:
        found.append(pytest.param(str(CORPUS / demo), "master", id=demo))
        branches = CORPUS / demo / "branches"
        for branch in sorted(branches.iterdir()) if branches.is_dir() else []:
            name = branch.name.replace("__", "/")
            found.append(pytest.param(str(branch), name, id="%s@%s" % (demo, name)))
    return found


def placeholders(source_dir: str, branch: str):
    """(variables, secret_variables) that make the project load: every undefined ${VAR} gets a value."""
    variables, secrets = {}, {}
    for _attempt in range(10):
        params = {"source_dir": source_dir, "branch": branch, "sha": CORPUS_SHA, "variables": variables,
                  "secret_variables": secrets,
                  "undefined_variables": "error", "flow_uuid": CORPUS_FLOW}
        try:
            load_from_params(params)
            return variables, secrets
        except DefinitionError as error:
            names = set(re.findall(r'undefined variable "([A-Za-z0-9_]+)"', str(error)))
            names |= set(re.findall(r'\$\{([A-Za-z0-9_]+)\}', str(error))) - set(variables) - set(secrets)
            if not names:
                raise
            for name in names:
                if name in ("SSL_CERT", "SSL_KEY") or name.endswith(("_CERT", "_CERTIFICATE")):
                    secrets[name] = PEM
                elif SECRET_NAME.search(name):
                    secrets[name] = "placeholder-%s" % name.lower()
                elif "IMAGE" in name:
                    variables[name] = "registry.example/%s" % name.lower().replace("_", "-")
                else:
                    variables[name] = "value-%s" % name.lower().replace("_", "-")
    raise AssertionError("could not find the variables of %s" % source_dir)


def deploy_all(kube, source_dir, branch, namespace, variables, secrets, check_unchanged=True):
    """Every deploy task in pipeline order, passing endpoint variables and services to later tasks."""
    base = {"source_dir": source_dir, "branch": branch, "sha": CORPUS_SHA, "namespace": namespace,
            "variables": variables, "secret_variables": secrets, "endpoint_timeout": 120, "wait_timeout": 300,
            "flow_uuid": CORPUS_FLOW}
    project = load_from_params(base)
    deploy_variables, context, results = {}, {}, []
    for task in project.deploy_tasks:
        params = dict(base, task=task.identifier, deploy_variables=dict(deploy_variables),
                      tasks_context=dict(context))
        result = pipeline.run(params, cluster=kube)
        assert all(w["ok"] for w in result.workloads), result.workloads
        deploy_variables.update(result.variables)
        context[task.identifier] = {"services": result.services}
        results.append((params, result))
    return results


@pytest.mark.parametrize("source_dir,branch", projects())
def test_corpus_project_deploys_and_redeploys_unchanged(kube, source_dir, branch, request, _namespaces_to_delete):
    if not os.path.isdir(source_dir):
        pytest.fail("missing corpus directory %s" % source_dir)
    variables, secrets = placeholders(source_dir, branch)
    namespace = unique_namespace(request, "corpus")
    _namespaces_to_delete.append(namespace)
    results = deploy_all(kube, source_dir, branch, namespace, variables, secrets)
    if not results:
        pytest.fail("%s@%s has no deploy task" % (source_dir, branch))
    assert any(result.changed for _params, result in results)
    # no secret variable's value in any result (vendor credentials included), and the CloudFlare /
    # HttpLabs records ContinuousPipe managed are handed over in endpoints[].integrations
    reported = json.dumps([result.to_dict(diff=True) for _params, result in results])
    assert not [name for name, value in secrets.items() if value in reported]
    integrations = [i for _p, result in results for e in result.endpoints for i in e.get("integrations", [])]
    with open(os.path.join(source_dir, "continuous-pipe.yml"), encoding="utf-8") as handle:
        configured = handle.read()
    if "cloud_flare_zone" in configured or "httplabs" in configured:
        assert integrations and all(i["provider"] in ("cloudflare", "httplabs") for i in integrations)
        warned = [w for _p, result in results for w in result.warnings if "not managed by this collection" in w]
        assert len(warned) == len(integrations), warned
    for params, _result in results:
        again = pipeline.run(params, cluster=kube, diff=True)
        assert not again.changed, again.diff
        assert set(actions(again).values()) <= {"unchanged", "locked"}


def test_default_environment_name_is_continuouspipe_s(ansible, kube, _namespaces_to_delete):
    """Without a namespace option the environment is named like ContinuousPipe named it."""
    source_dir = str(CORPUS / "flex-skeleton")
    variables, secrets = placeholders(source_dir, "master")
    flow = "0d6c4b5e-9f3a-4c5e-8f6e-3b2a1c0d9e8f"
    first = None
    for task in ("05_database_deployment", "10_app_deployment"):
        result = ansible.run("continuouspipe.kubernetes.deploy", {
            "source_dir": source_dir, "branch": "master", "sha": CORPUS_SHA, "flow_uuid": flow, "task": task,
            "variables": variables, "secret_variables": secrets})
        assert not result.get("failed"), result.get("msg")
        _namespaces_to_delete.append(result["namespace"])
        first = first or result
        assert result["namespace"] == "%s-master" % flow
    assert first["services"]
    again = ansible.run("continuouspipe.kubernetes.deploy", {
        "source_dir": source_dir, "branch": "master", "sha": CORPUS_SHA, "flow_uuid": flow,
        "task": "05_database_deployment",
        "variables": variables, "secret_variables": secrets})
    assert again["changed"] is False


def test_examples_app_through_ansible(ansible, request, _namespaces_to_delete):
    source_dir = str(ROOT / "examples" / "app")
    variables, secrets = placeholders(source_dir, "main")
    namespace = unique_namespace(request, "example")
    _namespaces_to_delete.append(namespace)
    base = {"source_dir": source_dir, "branch": "main", "namespace": namespace, "variables": variables,
            "secret_variables": secrets, "flow_uuid": CORPUS_FLOW}
    infrastructure = ansible.run("continuouspipe.kubernetes.deploy", dict(base, task="infrastructure"))
    assert not infrastructure.get("failed"), infrastructure.get("msg")
    assert infrastructure["services"]["database"]["created"] is True
    application = ansible.run("continuouspipe.kubernetes.deploy", dict(
        base, task="application", deploy_variables=infrastructure["variables"],
        tasks_context={"infrastructure": {"services": infrastructure["services"]}}))
    assert not application.get("failed"), application.get("msg")
    assert application["endpoints"] and application["variables"]
    again = ansible.run("continuouspipe.kubernetes.deploy", dict(base, task="infrastructure"))
    assert again["changed"] is False and again["services"]["database"]["created"] is False
