# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the cluster modules do around their work, against the real local control plane: client
check, secrets kept out of results, one connection closed at the end, errors as fail_json.

Only AnsibleModule is stood in for (its fail_json exits the process); the cluster is real.
"""
from __future__ import annotations

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import deploy as pipeline
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import connection, module_support
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError


class Failed(Exception):
    """What fail_json raises here (AnsibleModule exits)."""


class Module:
    def __init__(self, **params):
        self.params = {name: None for name in connection.CONNECTION_ARGSPEC}
        self.params.update(params)
        self.no_log_values = set()
        self.check_mode = False
        self._diff = False

    def fail_json(self, **result):
        raise Failed(result)


@pytest.fixture(autouse=True)
def _no_k8s_auth_environment(monkeypatch):
    for variable in [name for names in connection.ENVIRONMENT.values() for name in names]:
        monkeypatch.delenv(variable, raising=False)


def admin(cluster, **params):
    return Module(kubeconfig=cluster.kubeconfig, context=cluster.context, **params)


def limited(cluster, **params):
    return Module(host=cluster.server, api_key=cluster.tokens["limited"], ca_cert=str(cluster.local.pki / "ca.crt"),
                  **params)


def pools(session):
    return len(session._cluster.api.rest_client.pool_manager.pools)


def test_without_the_kubernetes_client_the_module_fails(monkeypatch):
    monkeypatch.setattr(connection, "HAS_KUBERNETES", False)
    monkeypatch.setattr(connection, "KUBERNETES_IMPORT_ERROR", ImportError("No module named 'kubernetes'"))
    with pytest.raises(Failed) as failed:
        module_support.ModuleConnection(Module())
    assert "kubernetes" in failed.value.args[0]["msg"]
    assert failed.value.args[0]["exception"] == "No module named 'kubernetes'"


def test_connection_secrets_and_given_secrets_are_masked(cluster, monkeypatch):
    monkeypatch.setenv("K8S_AUTH_API_KEY", "token-from-awx")
    monkeypatch.setenv("K8S_AUTH_HOST", cluster.server)
    module = Module(password="hunter2")
    session = module_support.ModuleConnection(module, secrets=["db-password"])
    assert module.no_log_values == {"token-from-awx", "hunter2", "db-password"}
    assert session._cluster is None  # nothing connects before it is asked to


def test_connects_once_on_first_use_and_closes_at_the_end(cluster):
    with module_support.ModuleConnection(admin(cluster)) as session:
        first = session.connect()
        assert session.connect() is first
        assert first.get(first.resource("v1", "Namespace"), "default")["metadata"]["name"] == "default"
        assert pools(session) == 1
    assert pools(session) == 0  # closed


def test_an_api_error_fails_the_module_with_the_failure_keys_known_then(cluster):
    with pytest.raises(Failed) as failed:
        with module_support.ModuleConnection(limited(cluster), name=None) as session:
            kube = session.connect()
            session.failure["name"] = "computed"
            kube.list(kube.resource("v1", "Secret"), "kube-system")
    result = failed.value.args[0]
    assert set(result) == {"msg", "name"} and result["name"] == "computed"
    assert "forbidden" in result["msg"] and "HTTP 403" in result["msg"]
    assert pools(session) == 0


def test_only_the_given_errors_are_reported(cluster):
    with pytest.raises(ValueError):
        with module_support.ModuleConnection(admin(cluster), errors=(DefinitionError,)) as session:
            session.connect()
            raise ValueError("not ours")
    assert pools(session) == 0


def test_a_bad_definition_fails_the_deploy_unchanged_before_any_request(cluster, tmp_path, writes):
    (tmp_path / "continuous-pipe.yml").write_text("tasks: {app: {deploy: {services: {web: {}}}}}\n")
    (tmp_path / "docker-compose.yml").write_text("version: '2'\nservices: {web: {image: nginx}}\n")
    params = dict(admin(cluster).params, source_dir=str(tmp_path), branch="main", task="nope",
                  flow_uuid="6f1c1d2e-0000-4000-8000-00000000beef")
    module = Module(**params)
    writes.start()
    with pytest.raises(Failed) as failed:
        module_support.deploy_result(module, pipeline.run, secrets=["s3cret"])
    assert failed.value.args[0] == {
        "msg": "tasks: unknown deploy task 'nope'; the pipelines for branch 'main' have: app", "changed": False}
    assert writes.audit_writes() == [] and "s3cret" in module.no_log_values
