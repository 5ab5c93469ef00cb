# -*- coding: utf-8 -*-
"""docker-compose.yml as default configuration (docs/behaviour.md §5)."""
from __future__ import annotations

import os

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.compose import read_compose
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

from cp_load_helpers import env, task

DEPLOY = "tasks: {kube: {deploy: {cluster: foo}}}\n"
BUILD_AND_DEPLOY = "tasks: {images: {build: ~}, kube: {deploy: {cluster: foo}}}\n"


def _deploy(project, compose, cp=DEPLOY, **options):
    project.write("docker-compose.yml", compose)
    project.write("continuous-pipe.yml", cp)
    return task(project.load(**options), "kube")


def test_expose_gives_port_identifiers(project):
    deploy = _deploy(project, "elasticsearch: {image: elasticsearch, expose: [9200]}\n"
                              "api: {image: api, expose: [80, '8080']}\ndatabase: {image: mysql, expose: [3306]}\n")
    assert deploy.service("elasticsearch").ports == (model.Port("elasticsear9200", 9200),)
    assert deploy.service("api").ports == (model.Port("api80", 80), model.Port("api8080", 8080))
    assert deploy.service("database").ports == (model.Port("database3306", 3306),)


@pytest.mark.parametrize("entry", ["'8000-8010'", "'80/udp'", "{a: 1}"])
def test_unsupported_expose_entries_are_errors(project, entry):
    project.write("docker-compose.yml", "version: '2'\nservices:\n  api: {image: api, expose: [%s]}\n" % entry)
    project.write("continuous-pipe.yml", DEPLOY)
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert raised.value.file == "docker-compose.yml" and raised.value.key_path == "services.api.expose[0]"


def test_labels(project):
    deploy = _deploy(project, """
        api:
          build: .
          labels:
            com.continuouspipe.image-name: sroze/my-image
            com.continuouspipe.visibility: public
        mysql:
          image: mysql
          labels: {com.continuouspipe.update: lock, com.continuouspipe.visibility: private}
        """)
    api, mysql = deploy.service("api"), deploy.service("mysql")
    assert api.image == "sroze/my-image" and api.from_external
    assert mysql.strategy.locked and not mysql.from_external


def test_image_wins_over_the_image_name_label(project):
    deploy = _deploy(project, "api: {image: real, labels: {com.continuouspipe.image-name: label}}\n")
    assert deploy.service("api").image == "real"


def test_absolute_volumes_become_host_paths_and_relative_ones_are_ignored(project):
    deploy = _deploy(project, """
        api:
          image: mysql
          privileged: true
          volumes: [".:/app", "/var/run/docker.sock:/var/run/docker.sock", "/a:/b:ro", "named:/data"]
        """, allow_host_access=True)
    api = deploy.service("api")
    assert api.volumes == (model.Volume("api-volume-1", "hostPath", path="/var/run/docker.sock",
                                        storage_class="default"),)
    assert api.volume_mounts == (model.VolumeMount("api-volume-1", "/var/run/docker.sock"),)
    assert api.privileged is True


@pytest.mark.parametrize("environment", [
    "{ONE: one, TWO: '2', EMPTY: ~, FLAG: true}",
    "[ONE=one, TWO=2, EMPTY=, FLAG=1, HOST_ONLY]",
])
def test_environment_as_map_or_list(project, environment):
    deploy = _deploy(project, "api: {image: a, environment: %s}\n" % environment)
    assert env(deploy.service("api")) == {"ONE": "one", "TWO": "2", "EMPTY": "", "FLAG": "1"}


def test_list_environment_splits_on_the_first_equal_sign(project):
    deploy = _deploy(project, "api: {image: a, environment: ['URL=postgres://a:b@c/d?x=y', 'Q=\"v\"']}\n")
    assert env(deploy.service("api")) == {"URL": "postgres://a:b@c/d?x=y", "Q": '"v"'}


def test_command_string_is_one_element(project):
    deploy = _deploy(project, "a: {image: a, command: /app/run.sh --fast}\nb: {image: b, command: [node, app.js]}\n")
    assert deploy.service("a").command == ("/app/run.sh --fast",)
    assert deploy.service("b").command == ("node", "app.js")


def test_v1_and_v2_files(project):
    v1 = _deploy(project, "api: {image: foo/bar}\n")
    assert [s.name for s in v1.services] == ["api"]
    v2 = _deploy(project, "version: '3.5'\nservices:\n  api: {image: foo/bar}\nvolumes: {data: {}}\n")
    assert [s.name for s in v2.services] == ["api"]


def test_version_without_services_is_an_error(project):
    project.write("docker-compose.yml", "version: '2'\napi: {image: a}\n")
    project.write("continuous-pipe.yml", DEPLOY)
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert raised.value.file == "docker-compose.yml" and "services" in raised.value.message


def test_unknown_version_key_is_read_as_v1(project):
    """docker-compose-guessing.feature "It will ignore when unable to identify the DockerCompose version"."""
    deploy = _deploy(project, "ersion: '2'\napi: {image: a}\n")
    assert [s.name for s in deploy.services] == ["api"]


def test_invalid_compose_yaml_is_an_error(project):
    project.write("docker-compose.yml", "api: [\n")
    project.write("continuous-pipe.yml", DEPLOY)
    with pytest.raises(DefinitionError) as raised:
        project.load()
    assert str(raised.value).startswith("docker-compose.yml: YAML seems invalid")


def test_non_mapping_entries_are_ignored(project):
    deploy = _deploy(project, "api: {image: a}\nnotes: just a string\n")
    assert [s.name for s in deploy.services] == ["api"]


def test_branch_file_is_replaced_recursively(project):
    project.write("docker-compose.feature/x.yml", "web:\n  build: ~\n  image: prod/web\n  expose: [8080]\n")
    deploy = _deploy(project, "web:\n  build: .\n  expose: [80, 443]\n  labels: {com.continuouspipe.image-name: dev/web}\n",
                     BUILD_AND_DEPLOY, branch="feature/x")
    web = deploy.service("web")
    assert web.image == "prod/web"  # no build any more: no built tag
    assert [p.port for p in web.ports] == [8080, 443]  # lists replaced index by index (array_replace_recursive)


def test_branch_file_errors_name_it(project):
    project.write("docker-compose.production.yml", "web: [\n")
    project.write("docker-compose.yml", "web: {image: a}\n")
    project.write("continuous-pipe.yml", DEPLOY)
    with pytest.raises(DefinitionError) as raised:
        project.load(branch="production")
    assert raised.value.file == "docker-compose.production.yml"


def test_branch_file_outside_the_project_is_not_read(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "docker-compose.yml").write_text("web: {image: a}\n")
    (tmp_path / "docker-compose.x.yml").write_text("web: {image: evil}\n")
    compose = read_compose(str(tmp_path / "p"), "x/../../docker-compose.x")
    assert compose.service("web").raw == {"image": "a"}


def test_only_listed_services_get_defaults(project):
    """pipelines/override.feature: mailcatcher is not deployed when the task lists its services."""
    project.write("docker-compose.yml", "app: {image: app}\ndatabase: {image: mysql}\nmailcatcher: {image: mc}\n")
    project.write("continuous-pipe.yml", "tasks: {kube: {deploy: {cluster: foo, services: {app: ~, database: ~}}},"
                                         " all: {deploy: {cluster: foo}}}\n")
    loaded = project.load()
    assert [s.name for s in task(loaded, "kube").services] == ["app", "database"]
    assert [s.name for s in task(loaded, "all").services] == ["app", "database", "mailcatcher"]


def test_build_defaults(project):
    project.write("docker-compose.yml", """
        version: '2'
        services:
          api: {build: {context: ., dockerfile: docker/Dockerfile}, labels: {com.continuouspipe.image-name: docker.io/a/api}}
          web: {build: ./web}
          mysql: {image: mysql}
        """)
    project.write("continuous-pipe.yml", "tasks: {images: {build: ~}}\n")
    services = task(project.load(sha="abc"), "images").configuration["services"]
    assert list(services) == ["api", "web"]
    assert services["api"]["build_directory"] == "." and services["api"]["docker_file_path"] == "docker/Dockerfile"
    assert services["api"]["image"] == "docker.io/a/api" and services["api"]["tag"] == "abc"
    assert services["web"]["build_directory"] == "./web" and services["web"].get("image") is None


def test_build_image_flows_into_deploy_with_the_built_tag(project):
    project.write("docker-compose.yml", "api: {build: ., labels: {com.continuouspipe.image-name: foo/bar}}\n")
    deploy = _deploy(project, "api: {build: ., labels: {com.continuouspipe.image-name: foo/bar}}\n",
                     "tasks: {images: {build: {services: {api: {naming_strategy: branch}}}}, "
                     "kube: {deploy: {cluster: foo}}}\n", branch="feature/Foo_Bar")
    assert deploy.service("api").image == "foo/bar:feature-foo-bar"  # branch slugified: not a valid tag


def test_no_compose_file(project):
    project.write("continuous-pipe.yml", "tasks: {kube: {deploy: {cluster: foo, services: []}}}\n")
    assert task(project.load(), "kube").services == ()
    assert project.load().files == ("continuous-pipe.yml",)


def test_files_read_are_listed(project):
    project.write("docker-compose.master.yml", "web: {expose: [80]}\n")
    _deploy(project, "web: {image: a}\n")
    assert project.load().files == ("continuous-pipe.yml", "docker-compose.yml", "docker-compose.master.yml")


def test_compose_values_are_substituted(project):
    deploy = _deploy(project, "container: {image: helloworld, environment: {FOO: '${baz}', EXTRA: raw}}\n",
                     "variables: [{name: baz, value: bar}]\n" + DEPLOY)
    assert env(deploy.service("container")) == {"FOO": "bar", "EXTRA": "raw"}
    assert os.path.exists(str(project.path / "docker-compose.yml"))
