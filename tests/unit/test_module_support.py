# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the cluster modules do around their work: client check, secrets, connection, errors.

Pure tests with a stand-in for AnsibleModule: no cluster, no network. The modules themselves run
against a real API server in tests/integration.
"""
from __future__ import annotations

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import connection, module_support
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster.engine import DeployError, DeployResult
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError, DefinitionError


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


class Cluster:
    def __init__(self):
        self.closed = False

    def close(self):
        self.closed = True


@pytest.fixture
def clusters(monkeypatch):
    """The clusters connected to, with the settings they were connected with."""
    made = []

    def from_settings(settings, name=""):
        made.append((Cluster(), settings))
        return made[-1][0]

    monkeypatch.setattr(connection.Cluster, "from_settings", staticmethod(from_settings))
    for variable in [name for names in connection.ENVIRONMENT.values() for name in names]:
        monkeypatch.delenv(variable, raising=False)
    return made


def test_without_the_kubernetes_client_the_module_fails(monkeypatch):
    monkeypatch.setattr(connection, "HAS_KUBERNETES", False)
    monkeypatch.setattr(connection, "KUBERNETES_IMPORT_ERROR", ImportError("No module named 'kubernetes'"))
    with pytest.raises(Failed) as failed:
        module_support.ModuleConnection(Module())
    assert "kubernetes" in failed.value.args[0]["msg"]
    assert failed.value.args[0]["exception"] == "No module named 'kubernetes'"


def test_connection_secrets_and_given_secrets_are_masked(clusters, monkeypatch):
    monkeypatch.setenv("K8S_AUTH_API_KEY", "token-from-awx")
    module = Module(password="hunter2")
    module_support.ModuleConnection(module, secrets=["db-password"])
    assert module.no_log_values == {"token-from-awx", "hunter2", "db-password"}
    assert clusters == []  # nothing connects before it is asked to


def test_connects_once_on_first_use_and_closes_at_the_end(clusters):
    with module_support.ModuleConnection(Module(host="https://api.example.com")) as session:
        assert session.connect() is session.connect()
    assert len(clusters) == 1
    cluster, settings = clusters[0]
    assert settings["host"] == "https://api.example.com"
    assert cluster.closed


def test_an_error_fails_the_module_with_the_failure_keys_known_then(clusters):
    with pytest.raises(Failed) as failed:
        with module_support.ModuleConnection(Module(), name=None) as session:
            session.connect()
            session.failure["name"] = "computed"
            raise ClusterError("namespaces is forbidden")
    assert failed.value.args[0] == {"msg": "namespaces is forbidden", "name": "computed"}
    assert clusters[0][0].closed


def test_only_the_given_errors_are_reported(clusters):
    with pytest.raises(ValueError):
        with module_support.ModuleConnection(Module(), errors=(DefinitionError,)) as session:
            session.connect()
            raise ValueError("not ours")
    assert clusters[0][0].closed


def test_deploy_result_is_the_result_as_a_dict(clusters):
    module = Module()
    module._diff = True

    def action(params, check_mode, diff):
        assert diff is True
        return DeployResult(changed=True, namespace="app-main")

    out = module_support.deploy_result(module, action)
    assert out["changed"] is True and out["namespace"] == "app-main"


def test_a_failed_deploy_fails_with_its_result(clusters):
    def action(params, check_mode, diff):
        raise DeployError("web did not roll out", DeployResult(changed=True, namespace="app-main", rolled_back=True))

    with pytest.raises(Failed) as failed:
        module_support.deploy_result(Module(), action)
    result = failed.value.args[0]
    assert result["msg"] == "web did not roll out"
    assert result["changed"] is True
    assert result["rolled_back"] is True and result["namespace"] == "app-main"


def test_a_bad_definition_fails_the_deploy_unchanged(clusters):
    def action(params, check_mode, diff):
        raise DefinitionError("unknown deploy task 'x'", path=("tasks",))

    with pytest.raises(Failed) as failed:
        module_support.deploy_result(Module(), action, secrets=["s3cret"])
    assert failed.value.args[0] == {"msg": "tasks: unknown deploy task 'x'", "changed": False}
