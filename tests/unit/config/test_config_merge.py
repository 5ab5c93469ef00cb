# -*- coding: utf-8 -*-
"""Merge of the configuration sources, node kind by node kind (docs/behaviour.md §2.4)."""
from __future__ import annotations

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config import nodes, schema
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

from cp_load_helpers import env, service, task

FLOW = """
tasks:
  x:
    deploy:
      cluster: flow-cluster
      services:
        web:
          specification:
            source: {image: flow/image, tag: v1}
            ports: [80, 443]
            command: [flow, command]
            environment_variables: [{name: ONE, value: flow}, {name: TWO, value: flow}]
            volumes: [{name: a, type: emptyDirectory}]
            volume_mounts: [{name: a, mount_path: /a}]
          endpoints: [{name: flow-endpoint}]
"""

FILE = """
tasks:
  x:
    deploy:
      services:
        web:
          specification:
            source: {image: file/image}
            ports: [8080]
            command: [file]
            environment_variables: [{name: TWO, value: file}, {name: THREE, value: file}]
            volumes: [{name: b, type: emptyDirectory}]
            volume_mounts: [{name: b, mount_path: /b}]
          endpoints: [{name: file-endpoint}]
"""


@pytest.fixture
def web(project):
    project.write("continuous-pipe.yml", FILE)
    return service(project.load(flow_configuration=FLOW), "x", "web")


def test_scalars_right_side_wins_and_maps_merge_child_by_child(web, project):
    assert web.image == "file/image:v1"  # image from the file, tag kept from the flow configuration
    assert task(project.load(flow_configuration=FLOW), "x").cluster == "flow-cluster"


def test_ports_and_command_are_replaced(web):
    assert web.ports == (model.Port("port-8080", 8080),)
    assert web.command == ("file",)


def test_environment_variables_merge_by_name_in_place(web):
    assert list(env(web).items()) == [("ONE", "flow"), ("TWO", "file"), ("THREE", "file")]


def test_volumes_mounts_and_endpoints_are_appended(web):
    assert [v.name for v in web.volumes] == ["a", "b"]
    assert [m.mount_path for m in web.volume_mounts] == ["/a", "/b"]
    assert [e.name for e in web.endpoints] == ["flow-endpoint", "file-endpoint"]


def test_docker_compose_environment_is_overridden_by_name(project):
    """docker-compose-guessing.feature: ONE, TWO=two, THREE."""
    project.write("docker-compose.yml", "container:\n  image: helloworld\n  environment: {ONE: one, TWO: one}\n")
    project.write("continuous-pipe.yml", """
        tasks:
          kube:
            deploy:
              cluster: foo
              services:
                container:
                  specification:
                    environment_variables: [{name: TWO, value: two}, {name: THREE, value: three}]
        """)
    assert list(env(service(project.load(), "kube", "container")).items()) == [
        ("ONE", "one"), ("TWO", "two"), ("THREE", "three")]


def test_variables_merge_by_name_and_condition(project):
    project.write("continuous-pipe.yml", """
        variables:
          - {name: CLUSTER, value: file-master, condition: "code_reference.branch == 'master'"}
          - {name: CLUSTER, value: file-other, condition: "code_reference.branch != 'master'"}
          - {name: PLAIN, value: file}
        tasks: {x: {run: {image: busybox, commands: ['${CLUSTER} ${PLAIN}']}}}
        """)
    flow = "variables: [{name: CLUSTER, value: flow}, {name: PLAIN, value: flow}]\n"
    variables = project.configuration(flow_configuration=flow)["variables"]
    assert [(v["name"], v["value"], v.get("condition")) for v in variables] == [
        ("CLUSTER", "flow", None), ("PLAIN", "file", None),
        ("CLUSTER", "file-master", "code_reference.branch == 'master'"),
        ("CLUSTER", "file-other", "code_reference.branch != 'master'")]
    assert task(project.load(flow_configuration=flow), "x").commands == ("file-master file",)
    assert task(project.load(branch="dev", flow_configuration=flow), "x").commands == ("file-other file",)


def test_duplicate_unconditional_variables_keep_the_last(project):
    project.write("continuous-pipe.yml", "variables: [{name: A, value: one}, {name: A, value: two}]\n"
                                         "tasks: {x: {run: {image: busybox}}}\n")
    assert [v["value"] for v in project.configuration()["variables"]] == ["two"]


def test_pipelines_merge_by_index(project):
    project.write("continuous-pipe.yml", """
        tasks: {a: {run: {image: a}}, b: {run: {image: b}}}
        pipelines:
          - name: First
            tasks: [a]
          - name: Second
            tasks: [b]
        """)
    flow = "pipelines: [{name: Flow, condition: 'false', tasks: [b, a]}]\n"
    pipelines = project.configuration(flow_configuration=flow)["pipelines"]
    assert [(p["name"], p.get("condition")) for p in pipelines] == [("First", "false"), ("Second", None)]
    assert [t["identifier"] for t in pipelines[0]["tasks"]] == ["a", "a"]  # index 0 ⇒ a, index 1 ⇒ a (flow's)
    assert [p.name for p in project.load(flow_configuration=flow).pipelines] == ["Second"]


def test_task_order_is_the_first_appearance_in_flow_then_file(project):
    project.write("continuous-pipe.yml", "tasks: {b: {run: {image: b}}, a: {run: {image: a}}}\n")
    flow = "tasks: {a: {run: {image: flow-a}}}\n"
    assert [t.identifier for t in project.load(flow_configuration=flow).pipelines[0].tasks] == ["a", "b"]
    assert task(project.load(flow_configuration=flow), "a").image == "a"


def test_integer_task_keys_are_renamed_in_order_of_appearance(project):
    project.write("continuous-pipe.yml", "tasks: {10: {run: {image: b}}, 2: {run: {image: a}}}\n")
    assert [t.identifier for t in project.load().pipelines[0].tasks] == ["task10", "task2"]


def test_pipeline_tasks_keep_their_order_when_generated_defaults_come_first(project):
    """The docker-compose defaults of the inline task (index 1) are merged before index 0: sorted back."""
    project.write("docker-compose.yml", "web: {image: nginx}\n")
    project.write("continuous-pipe.yml", """
        tasks: {a: {run: {image: a}}}
        pipelines:
          - name: P
            tasks:
              - a
              - identifier: deployment
                deploy: {cluster: foo}
        """)
    pipeline = project.load().pipelines[0]
    assert [t.identifier for t in pipeline.tasks] == ["a", "deployment"]
    assert pipeline.tasks[1].service("web").image == "nginx"


def test_nodes_merge_without_touching_their_inputs():
    root = schema.root()
    issues = nodes.Issues(file="f")
    left = root.normalize({"tasks": {"x": {"deploy": {"services": {"a": {"specification": {"ports": [80]}}}}}}},
                          (), issues)
    right = root.normalize({"tasks": {"x": {"deploy": {"services": {"a": {"specification": {"ports": [81]}}}}}}},
                           (), issues)
    merged = root.merge(left, right, (), issues)

    def ports(configuration):
        return [port["port"] for port in configuration["tasks"]["x"]["deploy"]["services"]["a"]["specification"]["ports"]]
    assert ports(merged) == [81] and ports(left) == [80]
    assert not issues


def test_defaults_in_two_sources_are_an_error(project):
    project.write("continuous-pipe.yml", "defaults: {cluster: a}\ntasks: {x: {run: {image: b}}}\n")
    with pytest.raises(DefinitionError) as raised:
        project.load(flow_configuration="defaults: {cluster: b}\n")
    assert raised.value.key_path == "defaults.cluster"
    assert "flow configuration and continuous-pipe.yml" in raised.value.message
