# -*- coding: utf-8 -*-
"""Every real project of ``shared/corpus`` loads, for its branch, into the expected model.

Each demo directory (and each ``branches/<branch>`` variant, ``__`` standing for ``/``) is loaded
with the safe default ``undefined_variables="error"``, a fixed flow UUID and commit, and the
variables the demo expects from its ContinuousPipe flow (the table below: plain ones as
``variables``, credentials as ``secret_variables``). The ``php-example`` history directory has only
``docker-compose.yml`` + ``docker-compose.production.yml``: it is loaded for the branch
``production`` with a flow configuration holding one deploy task, as its ContinuousPipe flow had.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.loader import LoadOptions, load_project
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
SHARED = os.environ.get("CP_SHARED_DIR") or os.path.join(REPO, os.pardir, "shared")
CORPUS = os.path.join(SHARED, "corpus")
FLOW = "6a2b1c3d-0000-4000-8000-000000000001"
SHA = "7abf8af157560992a52453a4012dcf9c79d7a4c3"

CLOUDFLARE = {"CLOUD_FLARE_ZONE": "0123456789abcdef", "CLOUD_FLARE_EMAIL": "ops@example.com"}
CLOUDFLARE_SECRETS = {"CLOUD_FLARE_API_KEY": "cf-api-key-secret"}
SYMFONY = dict(CLOUDFLARE, IMAGE_NAME="quay.io/continuouspipe/symfony-demo", TRUSTED_REVERSE_PROXIES="10.0.0.0/8")
HTTPLABS = {"HTTPLABS_PROJECT_ID": "1234", "AUTH0_CLIENT_ID": "client", "AUTH0_DOMAIN": "example.eu.auth0.com",
            "AUTH0_PUBLIC_KEY": "public", "AUTH0_CALLBACK_URL": "https://example.com/cb",
            "AUTH0_COOKIE_DOMAIN": "example.com"}
HTTPLABS_SECRETS = {"HTTPLABS_API_KEY": "httplabs-secret", "AUTH0_CLIENT_SECRET": "auth0-secret"}
DRUPAL = dict(CLOUDFLARE, IMAGE_NAME="quay.io/continuouspipe/drupal8-demo", TRUSTED_REVERSE_PROXIES="10.0.0.0/8",
              DATABASE_NAME="drupal", DATABASE_USER="drupal", DRUPAL_ADMIN_USERNAME="admin", INSTALL_DRUPAL="true",
              AUTH_IP_WHITELIST="")
DRUPAL_SECRETS = dict(CLOUDFLARE_SECRETS, DATABASE_PASSWORD="db-password", DATABASE_ROOT_PASSWORD="db-root",
                      DRUPAL_ADMIN_PASSWORD="admin-password", DRUPAL_HASH_SALT="salt", AUTH_HTTP_HTPASSWD="htpasswd")


@dataclass(frozen=True)
class Demo:
    path: str
    branch: str
    variables: Dict[str, str] = field(default_factory=dict)
    secrets: Dict[str, str] = field(default_factory=dict)
    check: Optional[Callable[[model.Project], None]] = None
    flow_configuration: Optional[str] = None

    @property
    def id(self) -> str:
        return "%s@%s" % (self.path, self.branch)


# --------------------------------------------------------------------------------------------------
# helpers


def tasks(project: model.Project, pipeline: int = 0):
    return {task.identifier: task for task in project.pipelines[pipeline].tasks}


def service(project: model.Project, task_id: str, name: str) -> model.Service:
    return tasks(project)[task_id].service(name)


def env(container) -> Dict[str, str]:
    return {variable.name: variable.value for variable in container.environment}


def secret_names(container):
    return {variable.name for variable in container.environment if variable.secret}


def port_list(svc: model.Service):
    return [(port.identifier, port.port) for port in svc.ports]


# --------------------------------------------------------------------------------------------------
# per-demo assertions


def check_laravel(project: model.Project) -> None:
    assert [p.name for p in project.pipelines] == ["Default pipeline"]
    found = tasks(project)
    assert [(t.identifier, t.type) for t in found.values()] == [
        ("images", "build"), ("infrastructure", "deploy"), ("initialization", "run"), ("application", "deploy")]
    infrastructure = found["infrastructure"]
    assert infrastructure.cluster == "demo-cluster"
    assert infrastructure.environment_name == '"laravel-demo-" ~ code_reference.branch'
    database = infrastructure.service("database")
    assert database.image == "quay.io/continuouspipe/mysql5.7:stable"
    assert port_list(database) == [("port-3306", 3306)]  # the file replaces compose's database3306
    assert env(database)["MYSQL_DATABASE"] == "laravel"  # docker-compose environment
    assert database.volume_mounts == (model.VolumeMount("database-volume", "/var/lib/mysql"),)
    assert database.command[-1] == "--max_allowed_packet=128M"
    assert database.resources == model.Resources({"cpu": "50m", "memory": "250Mi"}, {"cpu": "500m", "memory": "500Mi"})
    assert infrastructure.service("redis").strategy.readiness_probe == model.Probe(type="tcp", port=6379)
    run = found["initialization"]
    assert run.image == "quay.io/continuouspipe/laravel-demo:" + SHA
    assert run.filter == "tasks.infrastructure.services.database.created"
    assert env(run) == {"APP_ENV": "production", "REMOTE_ENV": "1", "APP_URL": "https://laravel.example.com",
                        "APP_USER_LOCAL": ""}
    web = found["application"].service("web")
    assert web.image == "quay.io/continuouspipe/laravel-demo:" + SHA and web.from_external
    assert port_list(web) == [("port-80", 80), ("port-443", 443)]
    # `<<: *WEB_ENV_VARS` (merge key of a sequence); compose's APP_USER_LOCAL keeps its place, the file's false wins
    assert list(env(web).items()) == [("APP_USER_LOCAL", ""), ("APP_ENV", "production"), ("REMOTE_ENV", "1"),
                                      ("APP_URL", "https://laravel.example.com")]
    assert web.strategy.readiness_probe.failure_threshold == 120
    assert not web.volumes  # ".:/app" is a relative volume: ignored


def check_laravel_richdynamix(project: model.Project) -> None:
    found = tasks(project)
    assert found["images"].configuration["services"]["web"]["image"] == "quay.io/richdynamix/laravel-demo"
    assert found["infrastructure"].service("database").image == "mariadb:latest"
    assert found["infrastructure"].service("redis").image == "redis:3.0"
    web = found["application"].service("web")
    assert web.image == "quay.io/richdynamix/laravel-demo:" + SHA
    assert env(web)["VIRTUAL_HOST"] == "127.0.0.1:80" and env(web)["REDIS_PORT"] == "6379"
    variables = {v.name: v.value for v in project.pipelines[0].variables}
    assert variables["CODE_REFERENCE_BRANCH_NAME"] == "dev-richdynamix" and variables["CODE_REFERENCE_SHA1"] == SHA


def _symfony(pipeline: str, symfony_env: str, host: str) -> Callable[[model.Project], None]:
    def check(project: model.Project) -> None:
        assert [p.name for p in project.pipelines] == [pipeline]
        found = tasks(project)
        assert found["images"].configuration["services"]["web"]["tag"] == SHA  # naming_strategy: sha1
        deployment = found["deployment"]
        assert deployment.cluster == "demo-cluster"  # defaults.cluster
        assert deployment.environment_name == '"sfdemo-" ~ code_reference.branch'  # defaults.environment
        web = deployment.service("web")
        assert web.image == "quay.io/continuouspipe/symfony-demo:" + SHA
        assert port_list(web) == [("web80", 80), ("web443", 443)]  # from docker-compose `expose`
        assert env(web) == {"WEB_HTTPS_ONLY": "true", "SYMFONY_ENV": symfony_env,
                            "TRUSTED_REVERSE_PROXIES": "10.0.0.0/8", "WEB_REVERSE_PROXIED": "true"}
        endpoint = web.endpoints[0]
        assert endpoint.ingress == model.Ingress("nginx", (host,))
        assert endpoint.cloud_flare_zone["hostname"] == host and endpoint.cloud_flare_zone["proxied"] is True
        # the credential came from a secret variable: the model keeps a mask, never the value
        assert endpoint.cloud_flare_zone["authentication"]["api_key"] == "********"
        assert "cf-api-key-secret" not in repr(endpoint)
        assert web.strategy.readiness_probe == model.Probe(type="http", port=80, path="/")
    return check


def check_symfony_httplabs(project: model.Project) -> None:
    web = service(project, "deployment", "web")
    assert web.endpoints[0].name == "http" and web.endpoints[0].httplabs["project_identifier"] == "1234"
    assert web.endpoints[0].httplabs["middlewares"] is None or web.endpoints[0].httplabs["middlewares"] == []
    assert [p.name for p in project.pipelines] == ["Production"]  # `not(branch matches "/^cpdev/")`


def check_symfony_httplabs2(project: model.Project) -> None:
    assert [p.name for p in project.pipelines] == ["Feature branches"]  # the first `pipelines` block
    endpoint = service(project, "deployment", "web").endpoints[0]
    assert endpoint.type == "internal"
    assert endpoint.httplabs["incoming"] == "feature-httplabs-integration2-sfdemo.httplabs.net"
    assert [m["name"] for m in endpoint.httplabs["middlewares"]] == ["backend-ssl", "https-only", "auth0"]
    # from a secret variable: masked in the model, the plain values kept
    assert endpoint.httplabs["middlewares"][2]["config"]["client-secret"] == "********"
    assert endpoint.httplabs["middlewares"][2]["config"]["domain"] == HTTPLABS["AUTH0_DOMAIN"]
    assert "auth0-secret" not in repr(endpoint)


def check_symfony_ssl_test(project: model.Project) -> None:
    endpoint = service(project, "deployment", "web").endpoints[0]
    assert endpoint.ingress.hosts == ("sfdemo-ssl.inviqa-rmiller.continuouspipe.net",)
    assert endpoint.ssl_certificates == (model.TlsCertificate("webtest", "ssl-cert", "ssl-key"),)
    assert port_list(service(project, "deployment", "web")) == [("web80", 80), ("web443", 443)]


def check_symfony_wildcard_cloudflare(project: model.Project) -> None:
    endpoint = service(project, "deployment", "web").endpoints[0]
    slug = "feature-ingress-config-ssl-use-front-wildcard-and-cloudflare"
    # 64 - len("-rm-inviqa.continuouspipe.net") = 35 < len(slug): cut to 35 - 11 characters + "-" + md5[:10]
    host = slug[:24] + "-" + hashlib.md5(slug.encode()).hexdigest()[:10] + "-rm-inviqa.continuouspipe.net"
    assert endpoint.name == "webtest" and endpoint.ingress.hosts == (host,)
    assert len(host) == 64 and endpoint.cloud_flare_zone["hostname"] == host


def check_symfony_no_ssl(project: model.Project) -> None:
    web = service(project, "deployment", "web")
    assert port_list(web) == [("web80", 80)] and env(web)["WEB_HTTP"] == "true"
    assert web.endpoints[0].ingress.hosts == ("ingress-config-no-ssl.inviqa-rmiller.continuouspipe.net",)


def check_symfony_wildcard(project: model.Project) -> None:
    web = service(project, "deployment", "web")
    assert web.endpoints[0].ingress.hosts == ("sfdemo-ssl-w.inviqa-rmiller.continuouspipe.net",)


def _drupal(pipeline: str, cp_environment: str, host: str) -> Callable[[model.Project], None]:
    def check(project: model.Project) -> None:
        assert [p.name for p in project.pipelines] == [pipeline]
        found = tasks(project)
        assert list(found) == ["images", "db_deployment", "setup", "web_deployment"]  # `tasks: *default_tasks`
        database = found["db_deployment"].service("database")
        assert env(database)["MYSQL_ROOT_PASSWORD"] == "db-root"
        assert secret_names(database) == {"MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD"}
        setup = found["setup"]
        assert setup.image == "quay.io/continuouspipe/drupal8-demo:" + SHA  # from_service: web
        assert env(setup)["CP_ENVIRONMENT"] == cp_environment  # pipeline variable
        web_deployment = found["web_deployment"]
        # CP merges the generated documents first: the built `web` comes before the compose services
        assert [s.name for s in web_deployment.services] == ["web", "proxy", "varnish"]
        proxy = web_deployment.service("proxy")
        assert port_list(proxy) == [("port-80", 80), ("port-443", 443)]
        assert env(proxy)["WEB_HTTPS_ONLY"] == "false" and env(proxy)["AUTH_HTTP_ENABLED"] == ""
        assert "AUTH_HTTP_HTPASSWD" in secret_names(proxy)
        assert proxy.endpoints[0].ingress.hosts == (host,)
        assert proxy.strategy.liveness_probe.command[-1] == "https://localhost/"
        assert proxy.strategy.liveness_probe.failure_threshold == 10
        web = web_deployment.service("web")
        assert env(web)["WEB_HTTPS_OFFLOADED"] == '"true"'  # `- K="v"` in compose keeps the quotes
        assert env(web)["DRUPAL_HASH_SALT"] == "salt" and "DRUPAL_HASH_SALT" in secret_names(web)
        varnish = web_deployment.service("varnish")
        assert varnish.resources == model.Resources({}, {"cpu": "50m", "memory": "1Gi"})
    return check


def check_documentation(project: model.Project) -> None:
    found = tasks(project)
    assert found["image"].configuration["services"]["web"]["tag"] == "documentation-" + SHA  # COMMIT_SHA expression
    web = found["deployment"].service("web")
    assert web.image == "quay.io/inviqa_images/continuouspipe:documentation-" + SHA
    assert port_list(web) == [("web12345", 12345)] and env(web) == {"PORT": "12345"}
    dev, stable = web.endpoints  # the `stable` condition holds on master
    assert dev.ingress.hosts == ("masterdocumentation-dev.continuouspipe.io",)  # suffix without a leading "-"
    assert dev.ssl_certificates[0].automatic and dev.cloud_flare_zone["zone_identifier"] == "0123456789abcdef"
    assert stable.ingress.hosts == ("continuouspipe.github.io",)


def check_documentation_feature(project: model.Project) -> None:
    web = service(project, "deployment", "web")
    assert [endpoint.name for endpoint in web.endpoints] == ["dev"]


def check_kube_status(project: model.Project) -> None:
    found = tasks(project)
    assert [(t.identifier, t.type) for t in found.values()] == [("images", "build")]
    web = found["images"].configuration["services"]["web"]
    assert (web["image"], web["tag"], web["build_directory"]) == ("docker.io/continuouspipe/kube-status", SHA, ".")


def check_flex(project: model.Project) -> None:
    found = tasks(project)
    assert list(found) == ["00_images", "05_database_deployment", "08_database_migrations", "10_app_deployment"]
    build = found["00_images"].configuration["services"]
    assert build["nginx"]["tag"] == "nginx-" + SHA and build["nginx"]["docker_file_path"] == "Dockerfile.nginx"
    assert build["app"]["environment"][0] == {"name": "APP_ENV", "value": "dev"}  # ${APP_ENV?:dev}
    database = found["05_database_deployment"]
    assert database.cluster == "cluster-continuous-pipe"
    assert database.service("database").image == "postgres"
    assert env(database.service("database"))["POSTGRES_USER"] == "app"
    migrations = found["08_database_migrations"]
    assert migrations.image.endswith("flow-26112db6-7059-11e7-8379-0a580a84016b:" + SHA)
    assert env(migrations)["DATABASE_URL"] == "sqlite:///var/db.sqlite"
    app = found["10_app_deployment"].service("app")
    assert app.endpoints[0].name == "app" and app.endpoints[0].ingress is None
    assert env(app)["DATABASE_URL"] == "postgres://app:app@database/app"


def check_php_example(project: model.Project) -> None:
    deployment = tasks(project)["deployment"]
    assert [s.name for s in deployment.services] == ["web", "mysql"]
    mysql = deployment.service("mysql")
    assert mysql.strategy.locked and mysql.image == "mysql" and env(mysql) == {"MYSQL_ROOT_PASSWORD": "root"}
    web = deployment.service("web")
    assert web.from_external and web.image == "docker.io/sroze/php-example-manual:" + SHA
    assert port_list(web) == [("web80", 80)]


def check_php_example_production(project: model.Project) -> None:
    deployment = tasks(project)["deployment"]
    web = deployment.service("web")
    # docker-compose.production.yml: `build: ~` and `image: sroze/php-example` over the base file
    assert web.image == "sroze/php-example" and port_list(web) == [("web80", 80)]
    assert deployment.service("mysql").image == "mysql"


PHP_HISTORY = "php-example/history/265a5ef5e1380fe4d18575bb6f558eacc2aa5cf6"

DEMOS = [
    Demo("demo-laravel", "master", {"CLUSTER": "demo-cluster", "APP_URL": "https://laravel.example.com"},
         check=check_laravel),
    Demo("demo-laravel/branches/dev-richdynamix", "dev-richdynamix",
         {"CLUSTER": "demo-cluster", "APP_URL": "https://laravel.example.com"}, check=check_laravel_richdynamix),
    Demo("demo-symfony", "master", dict(SYMFONY, CLUSTER="demo-cluster"), CLOUDFLARE_SECRETS,
         check=_symfony("Production", "prod", "master-sfdemo.continuouspipe.net")),
    Demo("demo-symfony", "feature/login", dict(SYMFONY, CLUSTER="demo-cluster"), CLOUDFLARE_SECRETS,
         check=_symfony("Feature branches", "prod", "feature-login-sfdemo.continuouspipe.net")),
    Demo("demo-symfony", "cpdev/sam", dict(SYMFONY, CLUSTER="demo-cluster"), CLOUDFLARE_SECRETS,
         check=_symfony("Remote", "dev", "cpdev-sam-sfdemo.continuouspipe.net")),
    Demo("demo-symfony/branches/feature__httplabs-integration", "feature/httplabs-integration",
         dict(HTTPLABS, CLUSTER="demo-cluster", IMAGE_NAME="quay.io/continuouspipe/symfony-demo"), HTTPLABS_SECRETS,
         check=check_symfony_httplabs),
    Demo("demo-symfony/branches/feature__ingress-config-ssl-test", "feature/ingress-config-ssl-test",
         {"CLUSTER": "demo-cluster", "IMAGE_NAME": "quay.io/continuouspipe/symfony-demo"},
         {"SSL_CERT": "ssl-cert", "SSL_KEY": "ssl-key"}, check=check_symfony_ssl_test),
    Demo("demo-symfony/branches/feature__ingress-config-ssl-use-front-wildcard-and-cloudflare",
         "feature/ingress-config-ssl-use-front-wildcard-and-cloudflare",
         dict(CLOUDFLARE, CLUSTER="demo-cluster", IMAGE_NAME="quay.io/continuouspipe/symfony-demo"), CLOUDFLARE_SECRETS,
         check=check_symfony_wildcard_cloudflare),
    Demo("demo-symfony/branches/ingress-config-no-ssl", "ingress-config-no-ssl",
         {"CLUSTER": "demo-cluster", "IMAGE_NAME": "quay.io/continuouspipe/symfony-demo"}, check=check_symfony_no_ssl),
    Demo("demo-symfony/branches/ingress-config-ssl-use-front-wildcard", "ingress-config-ssl-use-front-wildcard",
         {"CLUSTER": "demo-cluster", "IMAGE_NAME": "quay.io/continuouspipe/symfony-demo"}, check=check_symfony_wildcard),
    Demo("demo-drupal8", "master", dict(DRUPAL, CLUSTER="demo-cluster"), DRUPAL_SECRETS,
         check=_drupal("Production", "staging", "master-demo-drupal8.continuouspipe.net")),
    Demo("demo-drupal8", "cpdev/sam", dict(DRUPAL, CLUSTER="demo-cluster", DEVELOPMENT_MODE="true"), DRUPAL_SECRETS,
         check=_drupal("Remote Dev", "dev", "cpdev-sam-demo-drupal8.continuouspipe.net")),
    Demo("demo-drupal8/branches/feature__stop-caching-404s", "feature/stop-caching-404s",
         dict(DRUPAL, CLUSTER="demo-cluster"), DRUPAL_SECRETS,
         check=_drupal("Production", "staging", "feature-stop-caching-404s-demo-drupal8.continuouspipe.net")),
    Demo("documentation", "master", dict(CLOUDFLARE, CLUSTER="demo-cluster"), CLOUDFLARE_SECRETS,
         check=check_documentation),
    Demo("documentation", "feature/x", dict(CLOUDFLARE, CLUSTER="demo-cluster"), CLOUDFLARE_SECRETS,
         check=check_documentation_feature),
    Demo("flex-skeleton", "example-partypoker-staking-copied-configuration", check=check_flex),
    Demo("kube-status", "master", check=check_kube_status),
    Demo("php-example", "master", {"CLUSTER": "demo-cluster"}, check=check_php_example),
    Demo("php-example/branches/cpdev__alessandrozucca", "cpdev/alessandrozucca", {"CLUSTER": "demo-cluster"},
         check=check_php_example),
    Demo(PHP_HISTORY, "production", flow_configuration="tasks: {deployment: {deploy: {cluster: demo-cluster}}}",
         check=check_php_example_production),
]


def _release(branch: str) -> model.Release:
    return model.Release(FLOW, model.CodeReference(branch, SHA))


def _load(directory: str, demo: Demo) -> model.Project:
    options = LoadOptions(flow_configuration=demo.flow_configuration, variables=dict(demo.variables),
                          secret_variables=dict(demo.secrets))
    return load_project(directory, _release(demo.branch), options)


@pytest.mark.parametrize("demo", DEMOS, ids=[demo.id for demo in DEMOS])
def test_demo_loads(demo):
    project = _load(os.path.join(CORPUS, demo.path), demo)
    assert project.pipelines and all(pipeline.tasks for pipeline in project.pipelines)
    demo.check(project)


def test_every_demo_directory_is_covered():
    directories = set()
    for root, _dirs, files in os.walk(CORPUS):
        if "monorepo-fixtures" in root:
            continue
        if any(name.endswith(".yml") for name in files):
            directories.add(os.path.relpath(root, CORPUS))
    covered = {demo.path for demo in DEMOS} | {HTTPLABS2}
    assert directories, "no corpus found in %s" % CORPUS
    assert directories == covered, sorted(directories ^ covered)


HTTPLABS2 = "demo-symfony/branches/feature__httplabs-integration2"
HTTPLABS2_BRANCH = "feature/httplabs-integration2"


def _httplabs2_demo() -> Demo:
    return Demo(HTTPLABS2, HTTPLABS2_BRANCH, dict(HTTPLABS, CLUSTER="demo-cluster",
                                                  IMAGE_NAME="quay.io/continuouspipe/symfony-demo"), HTTPLABS_SECRETS)


def test_duplicate_key_in_httplabs_integration2_keeps_the_first_with_a_warning():
    """This file has two ``pipelines`` keys; Symfony 3.4 kept the first: so does the loader, and says so."""
    project = _load(os.path.join(CORPUS, HTTPLABS2), _httplabs2_demo())
    check_symfony_httplabs2(project)
    assert len(project.warnings) == 1
    assert re.search(r'line 61: duplicate key "pipelines" ignored; the first one \(line 10\) is used',
                     project.warnings[0])


def test_duplicate_key_in_httplabs_integration2_is_an_error_when_asked():
    demo = _httplabs2_demo()
    options = LoadOptions(flow_configuration=demo.flow_configuration, variables=dict(demo.variables),
                          secret_variables=dict(demo.secrets), duplicate_keys="error")
    with pytest.raises(DefinitionError) as raised:
        load_project(os.path.join(CORPUS, HTTPLABS2), _release(demo.branch), options)
    assert raised.value.file == "continuous-pipe.yml"
    assert re.search(r'duplicate key "pipelines" \(first defined at line 10\) at line 61', str(raised.value))


def test_httplabs_integration2_with_the_first_pipelines_block(tmp_path):
    """What ContinuousPipe read: the same file without the second ``pipelines`` block."""
    source = os.path.join(CORPUS, HTTPLABS2)
    shutil.copy(os.path.join(source, "docker-compose.yml"), str(tmp_path))
    with open(os.path.join(source, "continuous-pipe.yml"), encoding="utf-8") as handle:
        lines = handle.read().splitlines(True)
    second = [index for index, line in enumerate(lines) if line.startswith("pipelines:")][1]
    (tmp_path / "continuous-pipe.yml").write_text("".join(lines[:second]), encoding="utf-8")
    demo = Demo(HTTPLABS2, HTTPLABS2_BRANCH, dict(HTTPLABS, CLUSTER="demo-cluster",
                                                  IMAGE_NAME="quay.io/continuouspipe/symfony-demo"), HTTPLABS_SECRETS)
    check_symfony_httplabs2(_load(str(tmp_path), demo))


def test_php_example_history_needs_tasks():
    """Without a flow configuration the history commit has no continuous-pipe.yml and no task: CP's message."""
    with pytest.raises(DefinitionError) as raised:
        load_project(os.path.join(CORPUS, PHP_HISTORY), _release("production"))
    assert raised.value.message == "No `continuous-pipe.yml` file was found in the code repository."


def test_php_example_history_on_another_branch_ignores_the_production_file():
    demo = Demo(PHP_HISTORY, "master", flow_configuration="tasks: {deployment: {deploy: {cluster: demo-cluster}}}")
    web = tasks(_load(os.path.join(CORPUS, PHP_HISTORY), demo))["deployment"].service("web")
    assert web.image == "sroze/php-example-manual"  # the com.continuouspipe.image-name label, no build task


def test_undefined_variables_are_reported_with_their_paths():
    demo = Demo("demo-laravel", "master", {"CLUSTER": "demo-cluster"})
    with pytest.raises(DefinitionError) as raised:
        _load(os.path.join(CORPUS, demo.path), demo)
    text = str(raised.value)
    assert 'tasks.initialization.run.environment_variables[2].value: undefined variable "APP_URL"' in text
    assert 'tasks.application.deploy.services.web.specification.environment_variables[3].value' in text


def test_loading_a_demo_takes_milliseconds():
    demo = DEMOS[0]
    _load(os.path.join(CORPUS, demo.path), demo)
    started = time.perf_counter()
    for _attempt in range(5):
        _load(os.path.join(CORPUS, demo.path), demo)
    average = (time.perf_counter() - started) / 5
    assert average < 0.5, "loading demo-laravel took %.0f ms" % (average * 1000)
