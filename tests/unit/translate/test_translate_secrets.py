"""Secret env vars, TLS Secrets, the pod checksum: secret values never appear outside a Secret."""
from __future__ import annotations

import base64

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.manifests import dump_all

from translate_fixtures import container, find, kinds, render, web

CANARY = "canary-7f3a9c-secret-value"
CANARY_B64 = base64.b64encode(CANARY.encode()).decode()


def _secret_env(value=CANARY, **overrides):
    return web(environment=[{"name": "APP_ENV", "value": "prod"},
                            {"name": "DB_PASSWORD", "value": value, "secret": True}], **overrides)


def test_secret_env_is_stored_in_a_secret_and_referenced():
    rendered = render(_secret_env())
    secret = find(rendered, "Secret", "web-secrets")
    assert secret["type"] == "Opaque"
    assert secret["data"] == {"DB_PASSWORD": CANARY_B64}
    assert "stringData" not in secret
    assert container(rendered, "web")["env"] == [
        {"name": "APP_ENV", "value": "prod"},
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "web-secrets", "key": "DB_PASSWORD"}}},
    ]
    assert ("Secret", "web-secrets") in [(r.kind, r.name) for r in rendered.components["web"].objects]


def test_canary_appears_only_inside_the_secret():
    """Grep the rendered YAML: the value (plain or base64) is only in the Secret's data."""
    rendered = render(_secret_env(endpoints=[{"name": "web-lb"}]), options_data={"public_endpoints": {"web-lb": "1.2.3.4"}})
    for obj in rendered.objects:
        text = dump_all([obj])
        assert CANARY not in text
        if (obj["kind"], obj["metadata"]["name"]) != ("Secret", "web-secrets"):
            assert CANARY_B64 not in text, obj["kind"]
    assert CANARY not in str(rendered.plan())
    assert CANARY_B64 in dump_all(rendered.objects)


def test_plain_value_taking_a_secret_in_becomes_secret():
    rendered = render(web(environment=[{"name": "PASSWORD", "value": CANARY, "secret": True},
                                       {"name": "DSN", "value": "mysql://u:${PASSWORD}@db/app"}]))
    assert CANARY not in dump_all(rendered.objects)
    data = find(rendered, "Secret", "web-secrets")["data"]
    assert sorted(data) == ["DSN", "PASSWORD"]
    assert base64.b64decode(data["DSN"]).decode() == "mysql://u:%s@db/app" % CANARY
    assert container(rendered, "web")["env"][1]["valueFrom"]["secretKeyRef"]["key"] == "DSN"


def test_no_secret_no_checksum():
    rendered = render(web(environment=[{"name": "A", "value": "b"}]))
    assert [ref[0] for ref in kinds(rendered)].count("Secret") == 0
    assert "annotations" not in find(rendered, "Deployment", "web")["spec"]["template"]["metadata"]


def _checksum(rendered, kind="Deployment", name="web"):
    obj = find(rendered, kind, name)
    meta = obj["spec"]["template"]["metadata"] if kind == "Deployment" else obj["metadata"]
    return meta["annotations"]["continuouspipe.io/checksum"]


def test_checksum_changes_when_a_secret_value_changes():
    first, second = render(_secret_env("one")), render(_secret_env("two"))
    assert _checksum(first).startswith("hmac-sha256:")
    assert _checksum(first) != _checksum(second)
    # The template is otherwise identical: only the checksum triggers the rollout.
    a = find(first, "Deployment", "web")["spec"]["template"]
    b = find(second, "Deployment", "web")["spec"]["template"]
    a["metadata"].pop("annotations")
    b["metadata"].pop("annotations")
    assert a == b


def test_checksum_is_stable_and_independent_of_plain_values():
    assert _checksum(render(_secret_env())) == _checksum(render(_secret_env()))
    other = web(environment=[{"name": "APP_ENV", "value": "staging"},
                             {"name": "DB_PASSWORD", "value": CANARY, "secret": True}])
    assert _checksum(render(other)) == _checksum(render(_secret_env()))


def test_checksum_covers_the_secrets_of_every_container_of_the_pod():
    def sidecar(value):
        return {"name": "fpm", "pod": "web", "image": "acme/fpm",
                "environment": [{"name": "KEY", "value": value, "secret": True}]}

    first, second = render(web(), sidecar("a")), render(web(), sidecar("b"))
    assert ("Secret", "fpm-secrets") in kinds(first)
    assert _checksum(first) != _checksum(second)


def test_bare_pod_checksum_on_the_pod():
    assert _checksum(render(_secret_env(scalable=False)), "Pod", "web").startswith("hmac-sha256:")


def test_checksum_is_keyed_and_the_key_is_kept_in_the_task_secret():
    """A plain hash of the Secret data would let readers of Deployments test guesses offline."""
    import hashlib
    import hmac
    import json

    key_a, key_b = b"a" * 32, b"b" * 32
    first = render(_secret_env("hunter2"), options_data={"checksum_key": key_a})
    again = render(_secret_env("hunter2"), options_data={"checksum_key": key_a})
    other_key = render(_secret_env("hunter2"), options_data={"checksum_key": key_b})
    assert _checksum(first) == _checksum(again)
    assert _checksum(first) != _checksum(other_key)
    # exactly an HMAC-SHA256 with the key over the canonical {secret name: data}
    canonical = json.dumps({"web-secrets": find(first, "Secret", "web-secrets")["data"]},
                           sort_keys=True, separators=(",", ":")).encode()
    assert _checksum(first) == "hmac-sha256:" + hmac.new(key_a, canonical, hashlib.sha256).hexdigest()
    # ...and no unkeyed sha256 of it (what the annotation was before) appears anywhere
    assert hashlib.sha256(canonical).hexdigest() not in dump_all(first.objects)
    key_secret = find(first, "Secret", "cp-checksum-key.deployment")
    assert base64.b64decode(key_secret["data"]["key"]) == key_a
    assert key_secret["metadata"]["labels"]["app.kubernetes.io/component"] == "checksum-key"


def test_checksum_key_secret_only_when_a_pod_references_a_secret():
    assert not [name for kind, name in kinds(render(web())) if name.startswith("cp-checksum-key.")]
    plain = render(web(), options_data={"checksum_key": None})  # no Secret referenced: no key needed
    assert ("Deployment", "web") in kinds(plain)
    with pytest.raises(ValueError, match="checksum_key is required"):
        render(_secret_env(), options_data={"checksum_key": None})


def test_checksum_key_is_not_in_the_options_repr():
    from translate_fixtures import options

    assert "checksum_key" not in repr(options({"checksum_key": b"k" * 32}))


def test_secret_env_name_must_be_a_secret_key():
    with pytest.raises(DefinitionError) as error:
        render(web(environment=[{"name": "A", "value": "b"}, {"name": "BAD NAME", "value": CANARY, "secret": True}]))
    assert error.value.key_path == "tasks.deployment.deploy.services.web.specification.environment_variables[1]"
    assert CANARY not in str(error.value)


def test_duplicate_secret_name_keeps_the_last_value():
    rendered = render(web(environment=[{"name": "K", "value": "first", "secret": True},
                                       {"name": "K", "value": "last", "secret": True}]))
    assert find(rendered, "Secret", "web-secrets")["data"] == {"K": base64.b64encode(b"last").decode()}
    assert len(container(rendered, "web")["env"]) == 1


def test_tls_secret():
    rendered = render(web(endpoints=[{"name": "ep", "ingress": {"hosts": ["a.example.com"]},
                                      "ssl_certificates": [{"name": "main", "cert": "Q0VSVA==", "key": "S0VZ"}]}]))
    secret = find(rendered, "Secret", "ep-main")
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["data"] == {"tls.crt": "Q0VSVA==", "tls.key": "S0VZ"}
    assert "Q0VSVA==" not in dump_all([find(rendered, "Ingress", "ep")])


def test_secret_values_are_never_in_annotations_or_config_maps():
    rendered = render(_secret_env(reverse_proxy_domains=["example.com"]))
    for obj in rendered.objects:
        assert obj["kind"] != "ConfigMap"
        for value in (obj["metadata"].get("annotations") or {}).values():
            assert CANARY not in value and CANARY_B64 not in value
