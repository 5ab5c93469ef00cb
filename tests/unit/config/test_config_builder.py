# -*- coding: utf-8 -*-
"""Configuration ⇒ model: conditions, hosts, images, the ``pod:`` extension, safe-by-default checks."""
from __future__ import annotations

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError, DefinitionErrors

from cp_load_helpers import SHA, env, service, task

SERVICES = """
tasks:
  app:
    deploy:
      cluster: foo
      services:
%s
"""


def _services(project, text, **options):
    body = "\n".join("        " + line for line in text.strip("\n").splitlines())
    project.write("continuous-pipe.yml", SERVICES % body)
    return task(project.load(**options), "app")


def _error(project, text, **options):
    with pytest.raises(DefinitionError) as raised:
        _services(project, text, **options)
    return raised.value


def _all(error):
    return error.errors if isinstance(error, DefinitionErrors) else [error]


# -- pods ------------------------------------------------------------------------------------------

POD = """
web:
  specification: {source: {image: nginx}, ports: [80]}
  endpoints: [{name: web, ingress: {host: web.example.com}}]
php:
  pod: web
  specification: {source: {image: php-fpm}, ports: [9000]}
  deployment_strategy: {readiness_probe: {type: tcp, port: 9000}}
"""


def test_a_service_can_join_the_pod_of_another(project):
    deploy = _services(project, POD)
    php = deploy.service("php")
    assert php.pod == "web" and deploy.service("web").pod is None
    assert php.ports == (model.Port("port-9000", 9000),) and php.strategy.readiness_probe.port == 9000


@pytest.mark.parametrize("text, path, fragment", [
    ("web: {specification: {source: {image: a}}, pod: web}", "web.pod", "its own pod"),
    ("web: {specification: {source: {image: a}}, pod: db}", "web.pod", 'no service "db"'),
    ("web: {specification: {source: {image: a}}}\nphp: {specification: {source: {image: b}}, pod: web}\n"
     "cron: {specification: {source: {image: c}}, pod: php}", "cron.pod", 'itself joins the pod of "web"'),
    ("a: {specification: {source: {image: a}}, pod: b}\nb: {specification: {source: {image: b}}, pod: a}",
     "a.pod", "itself joins the pod"),
    ("web: {specification: {source: {image: a}}, condition: 'false'}\nphp: {specification: {source: {image: b}}, pod: web}",
     "php.pod", "is not deployed for this branch"),
])
def test_pod_errors(project, text, path, fragment):
    errors = _all(_error(project, text))
    assert any(e.key_path == "tasks.app.deploy.services." + path and fragment in e.message for e in errors), errors


@pytest.mark.parametrize("own, setting", [
    ("endpoints: [{name: php}]", "endpoints"),
    ("specification: {source: {image: b}, scalability: {number_of_replicas: 2}}", "scalability.number_of_replicas"),
    ("specification: {source: {image: b}, scalability: {enabled: false}}", "scalability.enabled"),
    ("specification: {source: {image: b}, accessibility: {from_external: true}}", "accessibility.from_external"),
    ("deployment_strategy: {locked: true}", "deployment_strategy.locked"),
])
def test_a_pod_member_cannot_have_its_own_owner_settings(project, own, setting):
    text = "web: {specification: {source: {image: a}}}\nphp: {pod: web, specification: {source: {image: b}}}\n"
    text = text.replace("php: {pod: web, specification: {source: {image: b}}}", "php: {pod: web, %s}" % (
        own if "specification" in own else own + ", specification: {source: {image: b}}"))
    error = _error(project, text)
    assert error.key_path == "tasks.app.deploy.services.php" and setting in error.message


# -- conditions ------------------------------------------------------------------------------------

def test_service_conditions_have_only_the_code_reference(project):
    text = "a: {specification: {source: {image: a}}, condition: 'code_reference.branch == \"master\"'}\n" \
           "b: {specification: {source: {image: b}}, condition: 'code_reference.sha == \"%s\"'}\n" \
           "c: {specification: {source: {image: c}}, condition: 'flow.uuid'}" % SHA
    error = _error(project, text)
    assert error.key_path == "tasks.app.deploy.services.c.condition" and 'Variable "flow" is not valid' in error.message
    deploy = _services(project, text.rsplit("\n", 1)[0])
    assert [s.name for s in deploy.services] == ["a", "b"]


def test_condition_wins_over_enabled(project):
    deploy = _services(project, "a: {enabled: false, condition: 'true', specification: {source: {image: a}}}")
    assert [s.name for s in deploy.services] == ["a"]


def test_endpoint_conditions(project):
    deploy = _services(project, """
web:
  specification: {source: {image: a}}
  endpoints:
    - {name: production, condition: 'code_reference.branch == "production"', ingress: {host: example.com}}
    - {name: http, ingress: {class: nginx, host_suffix: -12357-flex.example.com}}
""")
    endpoints = deploy.service("web").endpoints
    assert [(e.name, e.ingress) for e in endpoints] == [("http", model.Ingress("nginx", ("master-12357-flex.example.com",)))]


# -- hosts -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("ingress, branch, host", [
    ("{host_suffix: -web.example.com}", "feature/Login", "feature-login-web.example.com"),
    ("{host_suffix: -web.example.com, host: ignored.example.com}", "master", "master-web.example.com"),
    ("{host: literal.example.com}", "master", "literal.example.com"),
    ("{host: {expression: 'slugify(code_reference.branch) ~ \".\" ~ flow.uuid ~ \".example.com\"'}}", "a/b",
     "a-b.00000000-0000-0000-0000-000000000000.example.com"),
])
def test_ingress_hosts(project, ingress, branch, host):
    deploy = _services(project, "web: {specification: {source: {image: a}}, endpoints: [{name: w, ingress: %s}]}"
                       % ingress, branch=branch)
    assert deploy.service("web").endpoints[0].ingress.hosts == (host,)


def test_fan_out_keys_of_an_ingress(project):
    """path, group and address: the fan-out extension of this collection (docs/concepts.md)."""
    deploy = _services(project, """
web:
  specification: {source: {image: a}}
  endpoints:
    - {name: w, ingress: {class: gce, host_suffix: -shop.example.com, group: shop, address: shop-ip}}
api:
  specification: {source: {image: b}}
  endpoints:
    - {name: a, ingress: {class: gce, host_suffix: -shop.example.com, group: shop, path: /api}}
""", branch="feature/Cart")
    assert deploy.service("web").endpoints[0].ingress == model.Ingress(
        "gce", ("feature-cart-shop.example.com",), None, "shop", "shop-ip")
    assert deploy.service("api").endpoints[0].ingress == model.Ingress(
        "gce", ("feature-cart-shop.example.com",), "/api", "shop", None)


def test_an_unknown_ingress_key_is_still_refused(project):
    error = _error(project, "web: {specification: {source: {image: a}}, endpoints: [{name: w, ingress: "
                            "{host: a.example.com, paht: /api}}]}")
    assert 'Unrecognized option "paht"' in str(error) and "path" in str(error)


@pytest.mark.parametrize("ingress, fragment", [
    ("{class: nginx}", "The ingress needs a host_suffix or a host expression"),
    ("{host_suffix: -%s.example.com}" % ("x" * 50), "The ingress host_suffix cannot be more than 53 characters long"),
    ("{host: {expression: 'a.example.com'}}", 'The expression provided ("a.example.com") is not valid'),
    ("{host: {expression: '1 + 1'}}", "Generate hostname is not a string: 2"),
])
def test_ingress_errors(project, ingress, fragment):
    error = _error(project, "web: {specification: {source: {image: a}}, endpoints: [{name: w, ingress: %s}]}" % ingress)
    assert error.key_path.startswith("tasks.app.deploy.services.web.endpoints[0].ingress") and fragment in str(error)


def test_cloud_flare_needs_a_host(project):
    error = _error(project, "web: {specification: {source: {image: a}}, endpoints: [{name: w, cloud_flare_zone: "
                            "{zone_identifier: z, authentication: {email: e, api_key: k}}}]}")
    assert error.message == "The cloud_flare_zone needs a record_suffix or a host expression"


def test_vendor_blocks_are_kept_with_secret_values_masked(project):
    """HttpLabs middlewares may carry secrets (an auth0 client secret): the model keeps only masks."""
    deploy = _services(project, "web: {specification: {source: {image: a}, ports: [80]}, endpoints: [{name: w, "
                                "type: internal, httplabs: {api_key: '${HL_KEY}', project_identifier: p, "
                                "record_suffix: -x.httplabs.net, middlewares: [{name: auth0, config: "
                                "{client-secret: '${AUTH0_SECRET}', domain: d.example.com}}]}, "
                                "cloud_flare_zone: {zone_identifier: '${ZONE}', record_suffix: -x.example.com, "
                                "authentication: {email: e, api_key: '${CF_KEY}'}}}]}",
                       variables={"ZONE": "zone-1"},
                       secret_variables={"HL_KEY": "hl-canary", "AUTH0_SECRET": "auth0-canary", "CF_KEY": "cf-canary"})
    (endpoint,) = deploy.services[0].endpoints
    assert endpoint.httplabs["middlewares"][0]["config"] == {"client-secret": "********", "domain": "d.example.com"}
    assert endpoint.httplabs["api_key"] == "********" and endpoint.httplabs["project_identifier"] == "p"
    assert endpoint.cloud_flare_zone["zone_identifier"] == "zone-1"
    assert endpoint.cloud_flare_zone["authentication"]["api_key"] == "********"
    assert "canary" not in repr(endpoint)


# -- images ----------------------------------------------------------------------------------------

def test_image_with_repository_and_tag(project):
    deploy = _services(project, "web: {specification: {source: {image: app, repository: quay.io/acme, tag: v1}}}")
    assert deploy.service("web").image == "quay.io/acme/app:v1"


def test_images_option_replaces_built_and_compose_images(project):
    project.write("docker-compose.yml", "web: {build: .}\ndb: {image: mysql}\n")
    project.write("continuous-pipe.yml", """
        tasks:
          images: {build: {services: {web: {image: quay.io/acme/web}}}}
          app: {deploy: {cluster: foo}}
          migrate: {run: {image: {from_service: web}}}
          explicit: {deploy: {cluster: foo, services: {web: {specification: {source: {image: pinned/web, tag: "1"}}}}}}
          worker: {deploy: {cluster: foo, services: {worker: {specification: {source: {from_service: web}}}}}}
        """)
    images = {"web": "registry.ci/acme/web@sha256:abc", "db": "mysql:8"}
    loaded = project.load(images=images)
    assert service(loaded, "app", "web").image == "registry.ci/acme/web@sha256:abc"
    assert service(loaded, "app", "db").image == "mysql:8"
    assert task(loaded, "migrate").image == "registry.ci/acme/web@sha256:abc"
    assert service(loaded, "explicit", "web").image == "pinned/web:1"  # written in the file: kept
    assert service(loaded, "worker", "worker").image == "registry.ci/acme/web@sha256:abc"
    without = project.load()
    assert service(without, "app", "web").image == "quay.io/acme/web:" + SHA
    assert task(without, "migrate").image == "quay.io/acme/web:" + SHA


def test_images_option_gives_an_image_to_a_service_without_one(project):
    project.write("docker-compose.yml", "web: {build: .}\n")
    project.write("continuous-pipe.yml", "tasks: {app: {deploy: {cluster: foo}}}\n")
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert raised.value.key_path == "tasks.app.deploy.services.web.specification.source"
    assert service(project.load(images={"web": "acme/web:1"}), "app", "web").image == "acme/web:1"


# -- safe-by-default scalars -----------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [("true", True), ("'false'", False), ("0", False), ("'1'", True),
                                             ("''", False), ("~", False)])
def test_accessibility_booleans(project, value, expected):
    deploy = _services(project, "web: {specification: {source: {image: a}, accessibility: {from_external: %s}}}" % value)
    assert deploy.service("web").from_external is expected


def test_accessibility_rejects_other_strings(project):
    error = _error(project, "web: {specification: {source: {image: a}, accessibility: {from_external: 'public'}}}")
    assert error.key_path.endswith("accessibility.from_external") and error.expected == "true or false"


def test_replicas_must_be_integers(project):
    error = _error(project, "web: {specification: {source: {image: a}, scalability: {number_of_replicas: two}}}")
    assert error.key_path.endswith("scalability.number_of_replicas")


def test_conditions_on_service_environment_variables_are_errors(project):
    error = _error(project, "web: {specification: {source: {image: a}, environment_variables: "
                            "[{name: A, value: a, condition: 'true'}]}}")
    assert error.key_path.endswith("environment_variables[0]") and "`condition` is not supported" in error.message


def test_environment_name_expression_is_kept(project):
    project.write("continuous-pipe.yml", "defaults: {environment: {name: '\"app-\" ~ code_reference.branch'}}\n"
                                         "tasks: {a: {deploy: {cluster: foo, services: []}}, "
                                         "b: {delete: {cluster: foo}}}\n")
    loaded = project.load()
    assert task(loaded, "a").environment_name == '"app-" ~ code_reference.branch'
    assert task(loaded, "b").configuration == {"cluster": "foo",
                                               "environment": {"name": '"app-" ~ code_reference.branch'}}


def test_run_task(project):
    project.write("continuous-pipe.yml", """
        tasks:
          testing_command:
            run:
              cluster: foo
              image: busybox
              commands: [echo testing, sleep 10]
              environment_variables: {BAR: BAZ, N: 1}
              volumes: [{name: api-volume, capacity: 5Gi, mount_path: /var/lib/app}]
        """)
    run = task(project.load(), "testing_command")
    assert (run.image, run.commands, run.cluster) == ("busybox", ("echo testing", "sleep 10"), "foo")
    assert env(run) == {"BAR": "BAZ", "N": "1"}
    assert run.volume_mounts == (model.VolumeMount("api-volume", "/var/lib/app"),)


def test_model_is_plain_and_hashable(project):
    project.write("docker-compose.yml", "web: {image: nginx, expose: [80]}\n")
    project.write("continuous-pipe.yml", "tasks: {app: {deploy: {cluster: foo}}}\n")
    loaded = project.load(secret_variables={"X": "y"})
    assert model.to_dict(loaded)["pipelines"][0]["tasks"][0]["services"][0]["ports"] == [
        {"identifier": "web80", "port": 80, "protocol": "TCP"}]
    assert loaded == project.load(secret_variables={"X": "y"})
