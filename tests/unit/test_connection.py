"""Connection options: task options against K8S_AUTH_* variables, secrets, client configuration.

Pure tests: no cluster, no network. What the settings do against a real API server is in
tests/integration/test_connection.py.
"""
from __future__ import annotations

import base64

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import connection
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError

AWX_ENV = {  # what AWX's "OpenShift or Kubernetes API Bearer Token" credential injects
    "K8S_AUTH_HOST": "https://awx-cluster.example.com:6443",
    "K8S_AUTH_API_KEY": "awx-token-123",
    "K8S_AUTH_VERIFY_SSL": "True",
    "K8S_AUTH_SSL_CA_CERT": "/runner/env/ca.crt",
}


def bearer(configuration) -> str:
    """The Authorization header the client will send."""
    return configuration.auth_settings()["BearerToken"]["value"]


def params(**values):
    out = {name: None for name in connection.CONNECTION_ARGSPEC}
    out.update(values)
    return out


def test_environment_variables_alone_give_the_connection():
    settings = connection.connection_settings(params(), AWX_ENV)
    assert settings["host"] == "https://awx-cluster.example.com:6443"
    assert settings["api_key"] == "awx-token-123"
    assert settings["validate_certs"] is True
    assert settings["ca_cert"] == "/runner/env/ca.crt"


@pytest.mark.parametrize("value, expected", [
    ("True", True), ("true", True), ("1", True), ("yes", True), ("TRUE", True),
    ("False", False), ("false", False), ("0", False), ("no", False), ("NO", False),
    ("off", True),  # as in kubernetes.core: only 0, false and no (any case) are false
])
def test_verify_ssl_variable_is_a_boolean(value, expected):
    settings = connection.connection_settings(params(), dict(AWX_ENV, K8S_AUTH_VERIFY_SSL=value))
    assert settings["validate_certs"] is expected


@pytest.mark.parametrize("target", [
    {"kubeconfig": "/etc/kube/production.yml"},
    {"context": "production"},
    {"kubeconfig": {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}},
])
def test_a_task_that_names_its_kubeconfig_or_context_still_takes_the_other_variables(target):
    """Option by option, as kubernetes.core: the task's options win, the variables fill in the rest."""
    settings = connection.connection_settings(params(**target), AWX_ENV)
    for name, value in target.items():
        assert settings[name] == value and settings[connection.SOURCES][name] == "task"
    assert settings["api_key"] == "awx-token-123"
    assert settings[connection.SOURCES]["api_key"] == "K8S_AUTH_API_KEY"
    assert settings["validate_certs"] is True
    assert settings["ca_cert"] == "/runner/env/ca.crt"


@pytest.mark.parametrize("target", [{"kubeconfig": "/etc/kube/production.yml"}, {"context": "production"}])
def test_a_host_variable_never_redirects_a_task_that_names_its_kubeconfig_or_context(target):
    settings = connection.connection_settings(params(**target), AWX_ENV)
    problem = connection.redirect_problem(settings)
    assert "K8S_AUTH_HOST=https://awx-cluster.example.com:6443" in problem and "names its %s" % list(target)[0] in problem
    with pytest.raises(ClusterError, match="K8S_AUTH_HOST"):
        connection.build_configuration(settings)


def test_a_host_of_the_task_with_a_kubeconfig_variable_is_no_redirect():
    settings = connection.connection_settings(params(host="https://explicit.example.com"),
                                              {"K8S_AUTH_KUBECONFIG": "/k", "K8S_AUTH_CONTEXT": "c"})
    assert connection.redirect_problem(settings) is None
    assert (settings["host"], settings["kubeconfig"], settings["context"]) == ("https://explicit.example.com", "/k", "c")


def test_the_awx_kubeconfig_credential_with_a_context_of_the_task():
    settings = connection.connection_settings(params(context="production"), {"K8S_AUTH_KUBECONFIG": "/runner/kc"})
    assert (settings["kubeconfig"], settings["context"]) == ("/runner/kc", "production")
    assert settings[connection.SOURCES] == {"kubeconfig": "K8S_AUTH_KUBECONFIG", "context": "task"}
    assert connection.redirect_problem(settings) is None


def test_proxy_headers_and_persist_config():
    env = {"K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH": "user:pw", "K8S_AUTH_PROXY_HEADERS_USER_AGENT": "ua/1",
           "K8S_AUTH_PERSIST_CONFIG": "yes"}
    settings = connection.connection_settings(params(), env)
    assert settings["proxy_headers"] == {"proxy_basic_auth": "user:pw", "user_agent": "ua/1"}
    assert settings["persist_config"] is True
    assert "user:pw" in connection.sensitive_values(settings)
    # the task's proxy_headers replace every header variable
    given = {"proxy_basic_auth": None, "basic_auth": "a:b", "user_agent": None}
    settings = connection.connection_settings(params(proxy_headers=given, persist_config=False), env)
    assert settings["proxy_headers"] == given and settings["persist_config"] is False
    configuration = connection.build_configuration(dict(settings, host="https://h", api_key="t"))
    assert configuration.proxy_headers == {"authorization": "Basic YTpi"}


def test_task_options_win_over_variables_of_the_same_option():
    settings = connection.connection_settings(params(api_key="task-token", validate_certs=False), AWX_ENV)
    assert settings["api_key"] == "task-token"
    assert settings["validate_certs"] is False
    assert settings["host"] == AWX_ENV["K8S_AUTH_HOST"]  # not named by the task: still from the environment


def test_the_first_variable_of_an_option_wins():
    env = {"K8S_AUTH_CA_CERT": "/first.crt", "K8S_AUTH_SSL_CA_CERT": "/second.crt",
           "K8S_AUTH_VALIDATE_CERTS": "no", "K8S_AUTH_VERIFY_SSL": "yes",
           "K8S_AUTH_CLIENT_CERT": "/c1", "K8S_AUTH_CERT_FILE": "/c2"}
    settings = connection.connection_settings(params(), env)
    assert settings["ca_cert"] == "/first.crt"
    assert settings["validate_certs"] is False
    assert settings["client_cert"] == "/c1"


def test_empty_variables_and_empty_options_count_as_unset():
    settings = connection.connection_settings(params(host="", kubeconfig=""),
                                              {"K8S_AUTH_HOST": "https://from-env", "K8S_AUTH_API_KEY": ""})
    assert settings["host"] == "https://from-env"
    assert settings["api_key"] is None


def test_every_documented_variable_is_read():
    env = {
        "K8S_AUTH_KUBECONFIG": "/k", "K8S_AUTH_CONTEXT": "c", "K8S_AUTH_USERNAME": "u", "K8S_AUTH_PASSWORD": "p",
        "K8S_AUTH_KEY_FILE": "/key", "K8S_AUTH_PROXY": "http://proxy:3128", "K8S_AUTH_NO_PROXY": "localhost",
        "K8S_AUTH_IMPERSONATE_USER": "alice", "K8S_AUTH_IMPERSONATE_GROUPS": "dev, ops,,",
    }
    settings = connection.connection_settings(params(), env)
    assert settings["kubeconfig"] == "/k"
    assert settings["context"] == "c"
    assert settings["username"] == "u" and settings["password"] == "p"
    assert settings["client_key"] == "/key"
    assert settings["proxy"] == "http://proxy:3128" and settings["no_proxy"] == "localhost"
    assert settings["impersonate_user"] == "alice"
    assert settings["impersonate_groups"] == ["dev", "ops"]


def test_the_process_environment_is_the_default(monkeypatch):
    monkeypatch.setenv("K8S_AUTH_HOST", "https://from-process")
    assert connection.connection_settings(params())["host"] == "https://from-process"


def test_sensitive_values_cover_tokens_passwords_and_inline_kubeconfig_credentials():
    kubeconfig = {"users": [
        {"name": "a", "user": {"token": "inline-token", "client-certificate-data": "public-cert"}},
        {"name": "b", "user": {"client-key-data": "private-key", "password": "pw"}},
        {"name": "c", "user": None},
    ]}
    values = connection.sensitive_values(dict(api_key="api-token", password="basic-pw", kubeconfig=kubeconfig))
    assert set(values) == {"api-token", "basic-pw", "inline-token", "private-key", "pw"}


def test_sensitive_values_include_a_token_from_the_environment():
    settings = connection.connection_settings(params(), AWX_ENV)
    assert "awx-token-123" in connection.sensitive_values(settings)


def test_host_and_token_skip_the_kubeconfig(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "does-not-exist"))
    configuration = connection.build_configuration(
        dict(host="https://api.example.com:6443/", api_key="t0k3n", ca_cert="/ca.crt", validate_certs=True))
    assert configuration.host == "https://api.example.com:6443"
    assert bearer(configuration) == "Bearer t0k3n"
    assert configuration.ssl_ca_cert == "/ca.crt"
    assert configuration.verify_ssl is True


def test_validate_certs_false_turns_verification_off():
    configuration = connection.build_configuration(dict(host="https://h", api_key="t", validate_certs=False))
    assert configuration.verify_ssl is False


def _kubeconfig(server="https://kube.example.com:6443", token="kubeconfig-token", name="one"):
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": server,
                                                "certificate-authority-data": base64.b64encode(b"x").decode()}}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
    }


def test_an_inline_kubeconfig_is_loaded():
    configuration = connection.build_configuration(dict(kubeconfig=_kubeconfig()))
    assert configuration.host == "https://kube.example.com:6443"
    assert bearer(configuration) == "Bearer kubeconfig-token"


def test_kubeconfig_file_and_context(tmp_path):
    config = _kubeconfig(name="one")
    two = _kubeconfig(server="https://two.example.com", token="token-two", name="two")
    for key in ("clusters", "users", "contexts"):
        config[key] += two[key]
    path = tmp_path / "config"
    import yaml

    path.write_text(yaml.safe_dump(config))
    assert connection.build_configuration(dict(kubeconfig=str(path))).host == "https://kube.example.com:6443"
    configuration = connection.build_configuration(dict(kubeconfig=str(path), context="two"))
    assert configuration.host == "https://two.example.com"
    assert bearer(configuration) == "Bearer token-two"


def test_a_host_next_to_a_kubeconfig_overrides_its_server_until_a_token_user_refreshes_it():
    configuration = connection.build_configuration(dict(kubeconfig=_kubeconfig(), host="https://other:443"))
    assert configuration.host == "https://other:443"
    # the client's refresh hook of a token (or exec plugin) user, run before every request, puts the
    # kubeconfig's server back - for kubernetes.core as here (tests/unit/test_connection_kcore.py)
    assert bearer(configuration) == "Bearer kubeconfig-token"
    assert configuration.host == "https://kube.example.com:6443"


def test_a_missing_kubeconfig_is_a_clear_error(tmp_path):
    with pytest.raises(ClusterError, match="does-not-exist"):
        connection.build_configuration(dict(kubeconfig=str(tmp_path / "does-not-exist")))


def test_an_unknown_context_is_a_clear_error():
    with pytest.raises(ClusterError, match="nope"):
        connection.build_configuration(dict(kubeconfig=_kubeconfig(), context="nope"))


def test_impersonation_headers():
    cluster = connection.Cluster.from_settings(
        dict(host="https://h", api_key="t", impersonate_user="alice", impersonate_groups=["dev", "ops"]))
    try:
        headers = cluster.api.default_headers
        assert headers["Impersonate-User"] == "alice"
        # one header per group (a single "dev,ops" header would be one group named "dev,ops")
        assert sorted(value for name, value in headers.items() if str(name) == "Impersonate-Group") == ["dev", "ops"]
    finally:
        cluster.close()
