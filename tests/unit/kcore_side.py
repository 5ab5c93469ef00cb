"""kubernetes.core's side of tests/unit/test_connection_kcore.py: run with the Python of its venv.

    <kcore venv>/bin/python tests/unit/kcore_side.py < cases.json > results.json

Each case is ``{"params": {...}, "env": {...}, "default_kubeconfig": path, "incluster": {...} | null}``.
For each, with exactly that environment, kubernetes.core's own code resolves the options
(``_create_auth_spec``), builds the client configuration (``_create_configuration``) and the
impersonation headers (``_create_headers``), as its modules do; the result is what
``summary`` of the test module reads from a configuration, or the error.
"""
from __future__ import annotations

import importlib
import json
import os
import sys

AUTH_PREFIXES = ("K8S_AUTH_", "KUBERNETES_SERVICE_")


class Module:
    """What kubernetes.core's client functions read of a module: its params."""

    def __init__(self, params):
        self.params = params


def summary(configuration) -> dict:
    bearer = configuration.auth_settings().get("BearerToken") or {}
    return {
        "host": configuration.host,
        "authorization": bearer.get("value"),  # the Authorization header the client sends
        "username": configuration.username or None,
        "password": configuration.password or None,
        "cert_file": configuration.cert_file,
        "key_file": configuration.key_file,
        "ssl_ca_cert": configuration.ssl_ca_cert,
        "verify_ssl": configuration.verify_ssl,
        "proxy": configuration.proxy,
        "no_proxy": configuration.no_proxy,
        "proxy_headers": dict(configuration.proxy_headers or {}),
    }


def main() -> int:
    client = importlib.import_module("ansible_collections.kubernetes.core.plugins.module_utils.k8s.client")
    args = importlib.import_module("ansible_collections.kubernetes.core.plugins.module_utils.args_common")
    kubernetes = importlib.import_module("kubernetes")
    kube_config = importlib.import_module("kubernetes.config.kube_config")
    incluster = importlib.import_module("kubernetes.config.incluster_config")
    results = []
    for case in json.load(sys.stdin):
        for name in [name for name in os.environ if name.startswith(AUTH_PREFIXES)]:
            del os.environ[name]
        os.environ.update(case["env"])
        spot = case.get("incluster") or {}
        if spot:
            os.environ.update(KUBERNETES_SERVICE_HOST=spot["host"], KUBERNETES_SERVICE_PORT=spot["port"])
            incluster.SERVICE_TOKEN_FILENAME = spot["token_file"]
            incluster.SERVICE_CERT_FILENAME = spot["cert_file"]
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = case["default_kubeconfig"]
        kubernetes.client.Configuration.set_default(None)  # each module run starts from a fresh process
        params = {name: None for name in args.AUTH_ARG_SPEC}
        params.update(case["params"])
        module = Module(params)
        auth = client._create_auth_spec(module)  # pylint: disable=protected-access
        out = {"auth": {args.AUTH_ARG_MAP[key]: value for key, value in auth.items()}}
        try:
            out["configuration"] = summary(client._create_configuration(dict(auth)))  # pylint: disable=protected-access
        except Exception as error:  # pylint: disable=broad-exception-caught
            out["error"] = "%s: %s" % (type(error).__name__, error)
        headers = client._create_headers(module)  # pylint: disable=protected-access
        groups = headers.get("Impersonate-Group") or []
        out["headers"] = {"user": headers.get("Impersonate-User"),
                          "groups": [groups] if isinstance(groups, str) else list(groups)}
        results.append(out)
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
