"""Connection options side by side with kubernetes.core: the same task options and K8S_AUTH_* variables
must give the same resolved options and the same client configuration (server, credentials, TLS,
proxy, impersonation) — so the same kubeconfig file and context.

kubernetes.core runs in its own venv (``make kcore``: the ``ansible`` package, which bundles it) through
tests/unit/kcore_side.py, one process for all the cases, with exactly the environment of each case;
this collection runs here. No cluster is contacted: kubeconfigs, the default kubeconfig and the
in-cluster service account are files of the test, and every context of them points at a different
server with a different token, so the server and the token say which file and context were used.

What is compared is what the client will do: the summary reads the configuration after asking it
for its credentials, as every request does. (For a kubeconfig user with a token, the client's refresh
hook then puts the kubeconfig's server, CA and TLS settings back over any host given next to it — in
kubernetes.core as here, since both use the same loader.)

The two deliberate differences are asserted as such: a K8S_AUTH_HOST next to a kubeconfig or context
of the task is refused here (kubernetes.core goes to that host when the variables also hold a token,
as AWX's credential does, or when the kubeconfig user has a client certificate), and empty values
count as unset here (kubernetes.core takes an empty option as given and ignores the variable).
"""
from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import connection
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ClusterError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
SIDE = os.path.join(os.path.dirname(__file__), "kcore_side.py")
_spec = importlib.util.spec_from_file_location("kcore_side", SIDE)
kcore_side = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kcore_side)


def kcore_python() -> str:
    """The Python of kubernetes.core's venv (CP_KCORE_PYTHON from the Makefile, else its default place)."""
    path = os.environ.get("CP_KCORE_PYTHON")
    if not path:
        with open(os.path.join(ROOT, "tests", "kcore-requirements.txt"), "rb") as handle:
            key = hashlib.sha256(handle.read() + sys.version.encode()).hexdigest()[:12]
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
        path = os.path.join(cache, "continuouspipe-kubernetes", "kcore-venv-%s" % key, "bin", "python")
    if not os.path.exists(path):
        pytest.fail("kubernetes.core is not installed at %s: run `make kcore`" % path)
    return path


# --------------------------------------------------------------------------------------------------
# the files: three kubeconfigs (A and B given by option or variable, D the default one), each with
# contexts "main" (current) and "other", every context a server and token of its own


def kubeconfig(name: str, ca: str, certificate=None) -> dict:
    """Contexts main and other; users with a token, or with a client certificate and key (``certificate``)."""
    contexts = ("main", "other")

    def user(context):
        if certificate:
            return {"client-certificate": certificate[0], "client-key": certificate[1]}
        return {"token": "token-%s-%s" % (name, context)}

    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "main",
        "clusters": [{"name": "%s-%s" % (name, c), "cluster": {
            "server": "https://%s-%s.example.com:6443" % (name, c), "certificate-authority": ca}} for c in contexts],
        "users": [{"name": "%s-%s" % (name, c), "user": user(c)} for c in contexts],
        "contexts": [{"name": c, "context": {"cluster": "%s-%s" % (name, c), "user": "%s-%s" % (name, c)}}
                     for c in contexts],
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    base = tmp_path_factory.mktemp("kcore-side")
    ca = base / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    paths = {"ca": str(ca)}
    certificate = (str(base / "client.crt"), str(base / "client.key"))
    for path in certificate:
        with open(path, "w") as handle:
            handle.write("placeholder: only the path is read here\n")
    for name in ("a", "b", "c", "d"):
        path = base / ("%s.kubeconfig" % name)
        path.write_text(yaml.safe_dump(kubeconfig(name, str(ca), certificate if name == "c" else None)))
        paths[name] = str(path)
    (base / "token").write_text("in-cluster-token")
    paths["incluster"] = {"host": "10.96.0.1", "port": "443", "token_file": str(base / "token"),
                          "cert_file": str(ca)}
    paths["missing"] = str(base / "missing.kubeconfig")
    return paths


# --------------------------------------------------------------------------------------------------
# the cases

TASKS = {
    "nothing": {},
    "kubeconfig": {"kubeconfig": "{a}"},
    "context": {"context": "other"},
    "kubeconfig+context": {"kubeconfig": "{a}", "context": "other"},
    "host+api_key": {"host": "https://task-host.example.com:6443/", "api_key": "task-token"},
    "host": {"host": "https://task-host.example.com:6443"},
    "api_key": {"api_key": "task-token"},
    "kubeconfig+tls": {"kubeconfig": "{a}", "validate_certs": False, "ca_cert": "/task/ca.crt"},
    "certificate kubeconfig": {"kubeconfig": "{c}"},
    "certificate kubeconfig+host": {"kubeconfig": "{c}", "host": "https://task-host.example.com"},
    "host+cert+key": {"host": "https://task-host.example.com", "client_cert": "/task/c.crt", "client_key": "/task/c.key"},
    "host+user+password": {"host": "https://task-host.example.com", "username": "u", "password": "p"},
}
ENVIRONMENTS = {
    "none": {},
    "kubeconfig": {"K8S_AUTH_KUBECONFIG": "{b}"},
    "context": {"K8S_AUTH_CONTEXT": "other"},
    "kubeconfig+context": {"K8S_AUTH_KUBECONFIG": "{b}", "K8S_AUTH_CONTEXT": "other"},
    "awx-bearer-token": {"K8S_AUTH_HOST": "https://awx-host.example.com:6443", "K8S_AUTH_API_KEY": "awx-token",
                         "K8S_AUTH_VERIFY_SSL": "True", "K8S_AUTH_SSL_CA_CERT": "/awx/ca.crt"},
    "awx-no-ca": {"K8S_AUTH_HOST": "https://awx-host.example.com:6443", "K8S_AUTH_API_KEY": "awx-token",
                  "K8S_AUTH_VERIFY_SSL": "False"},
    "host": {"K8S_AUTH_HOST": "https://env-host.example.com"},
    "api_key+verify": {"K8S_AUTH_API_KEY": "env-token", "K8S_AUTH_VERIFY_SSL": "no"},
    "kubeconfig+both-names": {"K8S_AUTH_KUBECONFIG": "{b}", "K8S_AUTH_VALIDATE_CERTS": "0", "K8S_AUTH_VERIFY_SSL": "1",
                              "K8S_AUTH_CA_CERT": "/env/first.crt", "K8S_AUTH_SSL_CA_CERT": "/env/second.crt"},
    "cert-file-names": {"K8S_AUTH_CERT_FILE": "/env/c.crt", "K8S_AUTH_KEY_FILE": "/env/c.key",
                        "K8S_AUTH_HOST": "https://env-host.example.com"},
}
# single options and their variables
EXTRA = [
    ({}, {"K8S_AUTH_USERNAME": "env-user", "K8S_AUTH_PASSWORD": "env-pw", "K8S_AUTH_HOST": "https://h.example.com"}),
    ({"username": "task-user"}, {"K8S_AUTH_PASSWORD": "env-pw", "K8S_AUTH_HOST": "https://h.example.com"}),
    ({}, {"K8S_AUTH_PROXY": "http://proxy:3128", "K8S_AUTH_NO_PROXY": "localhost,.local"}),
    ({"proxy": "http://task-proxy:3128"}, {"K8S_AUTH_PROXY": "http://proxy:3128", "K8S_AUTH_NO_PROXY": "10.0.0.0/8"}),
    ({}, {"K8S_AUTH_PROXY": "http://proxy:3128", "K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH": "pu:pp",
          "K8S_AUTH_PROXY_HEADERS_USER_AGENT": "agent/1", "K8S_AUTH_PROXY_HEADERS_BASIC_AUTH": "bu:bp"}),
    ({"proxy_headers": {"proxy_basic_auth": "task:pw", "basic_auth": None, "user_agent": None}},
     {"K8S_AUTH_PROXY_HEADERS_USER_AGENT": "agent/1"}),
    ({"persist_config": True}, {}),
    ({}, {"K8S_AUTH_PERSIST_CONFIG": "true"}),
    ({"persist_config": False}, {"K8S_AUTH_PERSIST_CONFIG": "yes"}),
    ({}, {"K8S_AUTH_IMPERSONATE_USER": "alice", "K8S_AUTH_IMPERSONATE_GROUPS": "dev,ops,,admins"}),
    ({"impersonate_user": "bob", "impersonate_groups": ["qa"]},
     {"K8S_AUTH_IMPERSONATE_USER": "alice", "K8S_AUTH_IMPERSONATE_GROUPS": "dev"}),
    ({"impersonate_groups": []}, {"K8S_AUTH_IMPERSONATE_GROUPS": "dev"}),
] + [({}, {"K8S_AUTH_VERIFY_SSL": value, "K8S_AUTH_HOST": "https://h.example.com", "K8S_AUTH_API_KEY": "t"})
     for value in ("True", "true", "1", "yes", "on", "off", "False", "FALSE", "0", "no", "No")]


def fill(value, files):
    if isinstance(value, str):
        return value.format(**files)
    if isinstance(value, dict):
        return {key: fill(item, files) for key, item in value.items()}
    return value


def all_cases(files):
    cases = []
    for (task, params), (env_name, env) in itertools.product(TASKS.items(), ENVIRONMENTS.items()):
        cases.append(("task %s, env %s" % (task, env_name), fill(params, files), fill(env, files), files["d"], None))
    for index, (params, env) in enumerate(EXTRA):
        cases.append(("option case %d: %s %s" % (index, params, env), params, env, files["d"], None))
    # the default kubeconfig missing; in a pod (in-cluster), with and without a context
    for task in ("nothing", "context", "host"):
        cases.append(("task %s, no default kubeconfig" % task, fill(TASKS[task], files), {}, files["missing"], None))
        cases.append(("task %s, in a pod" % task, fill(TASKS[task], files), {}, files["d"], files["incluster"]))
        cases.append(("task %s, in a pod, env kubeconfig" % task, fill(TASKS[task], files),
                      fill(ENVIRONMENTS["kubeconfig"], files), files["d"], files["incluster"]))
    return cases


# --------------------------------------------------------------------------------------------------
# both sides


def kcore_results(cases) -> list:
    payload = [{"params": params, "env": env, "default_kubeconfig": default, "incluster": incluster}
               for dummy, params, env, default, incluster in cases]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("K8S_AUTH_", "KUBERNETES_SERVICE_"))}
    env.pop("KUBECONFIG", None)
    done = subprocess.run([kcore_python(), SIDE], input=json.dumps(payload), capture_output=True, text=True,
                          env=env, check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def our_result(monkeypatch, params, env, default, incluster) -> dict:
    from kubernetes.config import incluster_config, kube_config

    for name in [name for name in os.environ if name.startswith(("K8S_AUTH_", "KUBERNETES_SERVICE_"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", default)
    if incluster:
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", incluster["host"])
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", incluster["port"])
        monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", incluster["token_file"])
        monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", incluster["cert_file"])
    settings = connection.connection_settings(params)
    out = {"settings": {name: settings[name] for name in connection.CONNECTION_ARGSPEC}}
    try:
        cluster = connection.Cluster.from_settings(settings)
    except ClusterError as error:
        out["error"] = str(error)
        return out
    try:
        out["configuration"] = kcore_side.summary(cluster.configuration)
        headers = cluster.api.default_headers
        out["headers"] = {"user": headers.get("Impersonate-User"),
                          "groups": [value for name, value in headers.items() if str(name) == "Impersonate-Group"]}
    finally:
        cluster.close()
    return out


def comparable_auth(auth: dict) -> dict:
    """kubernetes.core's resolved options, as ours: an empty proxy_headers is none, lists of groups stripped."""
    out = {name: None for name in connection.CONNECTION_ARGSPEC}
    out.update({name: value for name, value in auth.items() if name in out})
    if out.get("proxy_headers") == {}:
        out["proxy_headers"] = None
    return out


def comparable_settings(settings: dict) -> dict:
    out = dict(settings)
    for name in ("impersonate_user", "impersonate_groups"):
        out[name] = None  # kubernetes.core resolves them with the headers, compared below
    return out


@pytest.fixture(scope="module")
def side_by_side(files):
    cases = all_cases(files)
    return cases, kcore_results(cases)


def test_every_combination_resolves_and_connects_like_kubernetes_core(side_by_side, monkeypatch):
    cases, theirs = side_by_side
    compared, refused, redirected = 0, [], []
    for (label, params, env, default, incluster), kcore in zip(cases, theirs):
        with monkeypatch.context() as patch:
            ours = our_result(patch, params, env, default, incluster)
        assert comparable_settings(ours["settings"]) == comparable_auth(kcore["auth"]), label
        if "error" in ours and "K8S_AUTH_HOST" in ours["error"] and "from the environment" in ours["error"]:
            # the one refusal; kubernetes.core connects, and sometimes to the variable's host
            assert "error" not in kcore, (label, kcore)
            refused.append(label)
            if kcore["configuration"]["host"] == env["K8S_AUTH_HOST"].rstrip("/"):
                redirected.append(label)
            continue
        assert ("error" in ours) == ("error" in kcore), (label, ours.get("error"), kcore.get("error"))
        if "error" not in ours:
            assert ours["configuration"] == kcore["configuration"], label
            assert ours["headers"]["user"] == kcore["headers"]["user"], label
            assert ours["headers"]["groups"] == [g.strip() for g in kcore["headers"]["groups"]], label
        compared += 1
    # the refusals are exactly the environment host next to a kubeconfig or context of the task
    expected = [label for label, params, env, dummy, dummy2 in cases
                if "K8S_AUTH_HOST" in env and ({"kubeconfig", "context"} & set(params)) and "host" not in params]
    assert refused == expected and len(expected) == 20
    # where kubernetes.core really goes elsewhere: AWX's token next to the task's kubeconfig or
    # context, and a certificate user's kubeconfig with a host variable
    assert len(redirected) == 16 and "task certificate kubeconfig, env host" in redirected
    assert "task kubeconfig, env awx-bearer-token" in redirected
    assert compared == len(cases) - len(expected) and compared > 100


def test_the_cases_tell_files_and_contexts_apart(side_by_side):
    """The comparison is only worth something if the cases reach different servers."""
    cases, theirs = side_by_side
    hosts = {result["configuration"]["host"] for result in theirs if "configuration" in result}
    for expected in ("https://a-other.example.com:6443", "https://b-main.example.com:6443",
                     "https://b-other.example.com:6443", "https://d-main.example.com:6443",
                     "https://d-other.example.com:6443", "https://10.96.0.1:443", "https://task-host.example.com:6443",
                     "https://awx-host.example.com:6443"):
        assert expected in hosts
    assert sum("error" in result for result in theirs) >= 3


@pytest.mark.parametrize("task, env, expected", [
    # AWX injects a kubeconfig, the task picks the context
    ({"context": "other"}, {"K8S_AUTH_KUBECONFIG": "{b}"}, ("https://b-other.example.com:6443", "Bearer token-b-other")),
    # the task's kubeconfig with the context of the environment
    ({"kubeconfig": "{a}"}, {"K8S_AUTH_CONTEXT": "other"}, ("https://a-other.example.com:6443", "Bearer token-a-other")),
    # the task's own context wins over the variable
    ({"kubeconfig": "{a}", "context": "main"}, {"K8S_AUTH_KUBECONFIG": "{b}", "K8S_AUTH_CONTEXT": "other"},
     ("https://a-main.example.com:6443", "Bearer token-a-main")),
])
def test_the_awx_combinations_of_the_issue(files, monkeypatch, task, env, expected):
    ours = our_result(monkeypatch, fill(task, files), fill(env, files), files["d"], None)
    assert (ours["configuration"]["host"], ours["configuration"]["authorization"]) == expected


def test_empty_values_count_as_unset_here_and_not_in_kubernetes_core(files, monkeypatch):
    env = {"K8S_AUTH_HOST": "https://env-host.example.com", "K8S_AUTH_API_KEY": "env-token"}
    cases = [("empty host option", {"host": ""}, env, files["d"], None),
             ("empty api_key option", {"api_key": ""}, env, files["d"], None)]
    theirs = kcore_results(cases)
    for case, kcore in zip(cases, theirs):
        with monkeypatch.context() as patch:
            ours = our_result(patch, *case[1:])
        # here: the variables
        assert (ours["configuration"]["host"], ours["configuration"]["authorization"]) == (
            "https://env-host.example.com", "Bearer env-token"), case[0]
        # kubernetes.core: the empty option hides its variable, the default kubeconfig is used instead
        assert kcore["configuration"]["host"] == "https://d-main.example.com:6443", case[0]
