"""The continuouspipe.kubernetes.clusters inventory plugin, through Ansible's plugin loader."""
from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap

import pytest
import yaml
from ansible.errors import AnsibleError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader

from ansible_collections.continuouspipe.kubernetes.plugins.plugin_utils import clusters as cu

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
DEMO = os.path.join(ROOT, "examples", "inventory", "demo.clusters.yml")

BASE = {
    "plugin": "continuouspipe.kubernetes.clusters",
    "clusters": [
        {"name": "aws-eu", "provider": "aws", "connection": {"kubeconfig": "~/k/aws.yml", "context": "aws-eu"}},
        {"name": "aws-us", "provider": "aws",
         "connection": {"host": "https://us.example.com", "api_key_env": "US_TOKEN", "ca_cert": "/ca.pem"}},
        {"name": "gce-eu", "provider": "gce", "aliases": ["uat-cluster"],
         "connection": {"kubeconfig_env": "CP_KUBECONFIG", "context": "gce-eu"}, "vars": {"team": "web"}},
        {"name": "dev-cluster", "connection": {"context": "dev"}},
    ],
    "environments": {
        "production": {"clusters": ["aws-eu", "aws-us"], "serial": 1},
        "uat": ["gce-eu"],
        "review": {"clusters": ["dev-cluster"], "branches": "feature/*", "vars": {"wait_timeout": 60}},
    },
}

FLOW = "0a1b2c3d-1111-2222-3333-444455556666"


def parse(tmp_path, data, name="test.clusters.yml"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    plugin = inventory_loader.get("continuouspipe.kubernetes.clusters")
    assert plugin is not None
    assert plugin.verify_file(str(path))
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), str(path), cache=False)
    return inventory


def host_vars(inventory, name):
    return inventory.get_host(name).get_vars()


def group_hosts(inventory, group):
    return [host.name for host in inventory.groups[group].get_hosts()]


def variant(**changes):
    data = yaml.safe_load(yaml.safe_dump(BASE))
    for key, value in changes.items():
        data[key] = value
    return data


def fails(tmp_path, data, *fragments):
    with pytest.raises(AnsibleError) as error:
        parse(tmp_path, data)
    message = str(error.value)
    assert "test.clusters.yml" in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


# --------------------------------------------------------------------------------------------------
# the good case


def test_hosts_groups_and_variables(tmp_path):
    inventory = parse(tmp_path, BASE)
    assert sorted(inventory.hosts) == ["aws-eu", "aws-us", "dev-cluster", "gce-eu"]
    assert group_hosts(inventory, "production") == ["aws-eu", "aws-us"]  # rollout order
    assert group_hosts(inventory, "uat") == ["gce-eu"]
    assert group_hosts(inventory, "review") == ["dev-cluster"]
    assert group_hosts(inventory, "provider_aws") == ["aws-eu", "aws-us"]
    assert group_hosts(inventory, "provider_gce") == ["gce-eu"]
    assert group_hosts(inventory, "provider_own") == ["dev-cluster"]

    aws_us = host_vars(inventory, "aws-us")
    assert aws_us["ansible_connection"] == "local"
    assert aws_us["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"
    assert aws_us["continuouspipe_cluster"] == {
        "name": "aws-us", "provider": "aws", "aliases": [],
        "connection": {"host": "https://us.example.com", "api_key_env": "US_TOKEN", "ca_cert": "/ca.pem"}}
    assert aws_us["continuouspipe_environment_groups"] == ["production"]
    gce = host_vars(inventory, "gce-eu")
    assert gce["team"] == "web"
    assert gce["continuouspipe_cluster"]["aliases"] == ["uat-cluster"]

    envs = inventory.groups["continuouspipe_clusters"].get_vars()["continuouspipe_environments"]
    assert envs["production"] == {"clusters": ["aws-eu", "aws-us"], "branches": [], "fleet_atomic": True, "serial": 1}
    assert envs["uat"]["fleet_atomic"] is False
    assert envs["review"]["branches"] == ["feature/*"]
    assert inventory.groups["review"].get_vars() == {"wait_timeout": 60}


def test_a_cluster_says_its_platform(tmp_path):
    data = variant()
    data["clusters"][0]["platform"] = "openshift"
    data["clusters"][2]["platform"] = {"name": "gateway", "gateway": {"name": "shared", "namespace": "gw"}}
    inventory = parse(tmp_path, data)
    assert host_vars(inventory, "aws-eu")["continuouspipe_cluster"]["platform"] == {"name": "openshift"}
    assert host_vars(inventory, "gce-eu")["continuouspipe_cluster"]["platform"] == {
        "name": "gateway", "gateway": {"name": "shared", "namespace": "gw"}}
    assert "platform" not in host_vars(inventory, "aws-us")["continuouspipe_cluster"]


@pytest.mark.parametrize("platform,fragments", [
    ("openshfit", ("(aws-eu).platform.name", "unknown platform")),
    ({"name": "gateway", "gateway": {"name": "shared"}}, ("(aws-eu).platform.gateway", "name and namespace")),
    ({"name": "openshift", "route_certificates": "pem"}, ("(aws-eu).platform.route_certificates",)),
    ({"name": "openshift", "certificates": "inline"}, ("(aws-eu).platform.certificates", "unknown key")),
])
def test_a_bad_platform_names_its_key(tmp_path, platform, fragments):
    data = variant()
    data["clusters"][0]["platform"] = platform
    fails(tmp_path, data, *fragments)


def test_the_interpreter_is_the_python_of_the_job_a_trusted_template(tmp_path):
    """Not the absolute path of the Python that read the inventory (AWX syncs it in another EE)."""
    from ansible.template import is_trusted_as_template

    inventory = parse(tmp_path, BASE)
    interpreter = host_vars(inventory, "aws-eu")["ansible_python_interpreter"]
    assert interpreter == "{{ ansible_playbook_python }}"
    assert sys.executable not in interpreter
    assert is_trusted_as_template(interpreter)  # else ansible-core 2.19 would use the text literally


def test_options(tmp_path):
    data = variant(python_interpreter="/usr/bin/python3", provider_group_prefix="cloud_",
                   production_pattern="live")
    data["environments"]["live"] = ["aws-us"]
    inventory = parse(tmp_path, data)
    assert host_vars(inventory, "aws-eu")["ansible_python_interpreter"] == "/usr/bin/python3"
    assert "cloud_aws" in inventory.groups
    envs = inventory.groups["continuouspipe_clusters"].get_vars()["continuouspipe_environments"]
    assert envs["live"]["fleet_atomic"] is True
    assert envs["production"]["fleet_atomic"] is False  # explicit pattern no longer matches


def test_fleet_atomic_and_serial(tmp_path):
    data = variant()
    data["environments"]["production"].update(fleet_atomic=False, serial="50%")
    data["environments"]["production_eu"] = {"clusters": ["aws-eu"], "serial": [1, "50%"]}
    inventory = parse(tmp_path, data)
    envs = inventory.groups["continuouspipe_clusters"].get_vars()["continuouspipe_environments"]
    assert envs["production"]["fleet_atomic"] is False
    assert envs["production"]["serial"] == "50%"
    assert envs["production_eu"] == {"clusters": ["aws-eu"], "branches": [], "fleet_atomic": True,
                                     "serial": [1, "50%"]}


def test_a_cluster_can_serve_several_environments(tmp_path):
    data = variant()
    data["environments"]["staging"] = ["aws-eu", "gce-eu"]
    inventory = parse(tmp_path, data)
    assert host_vars(inventory, "aws-eu")["continuouspipe_environment_groups"] == ["production", "staging"]
    assert group_hosts(inventory, "staging") == ["aws-eu", "gce-eu"]


def test_verify_file_only_accepts_clusters_files(tmp_path):
    plugin = inventory_loader.get("continuouspipe.kubernetes.clusters")
    for name, expected in (("a.clusters.yml", True), ("a.clusters.yaml", True), ("a.yml", False),
                           ("clusters.yml", False), ("a.clusters.json", False)):
        path = tmp_path / name
        path.write_text("plugin: continuouspipe.kubernetes.clusters\n")
        assert plugin.verify_file(str(path)) is expected, name


def test_plain_secret_in_the_file_warns(tmp_path, capsys, monkeypatch):
    data = variant()
    data["clusters"][1]["connection"] = {"host": "https://us.example.com", "api_key": "abc"}
    warnings = []
    plugin = inventory_loader.get("continuouspipe.kubernetes.clusters")
    monkeypatch.setattr(plugin.display, "warning", lambda msg, *a, **k: warnings.append(msg))
    path = tmp_path / "test.clusters.yml"
    path.write_text(yaml.safe_dump(data))
    plugin.parse(InventoryData(), DataLoader(), str(path), cache=False)
    assert any("api_key_env" in w and "clusters[1]" in w for w in warnings), warnings
    assert not any("abc" in w for w in warnings)


def test_the_demo_inventory_parses():
    inventory = InventoryData()
    plugin = inventory_loader.get("continuouspipe.kubernetes.clusters")
    assert plugin.verify_file(DEMO)
    plugin.parse(inventory, DataLoader(), DEMO, cache=False)
    assert group_hosts(inventory, "production") == ["aws-eu", "aws-us"]
    assert group_hosts(inventory, "uat") == ["gce-eu"]
    for name in ("aws-eu", "aws-us", "gce-eu"):
        connection = host_vars(inventory, name)["continuouspipe_cluster"]["connection"]
        assert connection["kubeconfig"].endswith("/continuouspipe-kubernetes/clusters/%s/kubeconfig" % name)
        assert connection["context"] == name


# --------------------------------------------------------------------------------------------------
# errors name the file and the key


def test_unknown_cluster_in_an_environment(tmp_path):
    data = variant()
    data["environments"]["production"]["clusters"] = ["aws-eu", "aws-ue"]
    fails(tmp_path, data, "environments.production.clusters[1]", "unknown cluster 'aws-ue'", "aws-us")


def test_unknown_cluster_in_the_list_shorthand(tmp_path):
    data = variant()
    data["environments"]["uat"] = ["gke-eu"]
    fails(tmp_path, data, "environments.uat.clusters[0]", "'gke-eu'")


def test_duplicate_cluster_names(tmp_path):
    data = variant()
    data["clusters"].append({"name": "aws-eu", "connection": {"context": "x"}})
    fails(tmp_path, data, "clusters[4] (aws-eu).name", "duplicate cluster name 'aws-eu'", "clusters[0]")


def test_alias_clashing_with_a_cluster_name(tmp_path):
    data = variant()
    data["clusters"][2]["aliases"] = ["aws-eu"]
    fails(tmp_path, data, "clusters[2] (gce-eu).aliases", "'aws-eu' is already used")


def test_cluster_listed_twice_in_an_environment(tmp_path):
    data = variant()
    data["environments"]["production"]["clusters"] = ["aws-eu", "aws-eu"]
    fails(tmp_path, data, "environments.production.clusters[1]", "listed twice")


def test_missing_connection(tmp_path):
    data = variant()
    del data["clusters"][1]["connection"]
    fails(tmp_path, data, "clusters[1] (aws-us).connection", "missing connection settings")


def test_empty_connection(tmp_path):
    data = variant()
    data["clusters"][1]["connection"] = {"ca_cert": "/ca.pem"}
    fails(tmp_path, data, "clusters[1] (aws-us).connection", "no connection settings")


def test_host_without_credentials(tmp_path):
    data = variant()
    data["clusters"][1]["connection"] = {"host": "https://us.example.com"}
    fails(tmp_path, data, "clusters[1] (aws-us).connection.host", "needs credentials")


def test_value_and_env_of_the_same_setting(tmp_path):
    data = variant()
    data["clusters"][1]["connection"]["api_key"] = "x"
    fails(tmp_path, data, "connection.api_key_env", "not both")


def test_bad_env_variable_name(tmp_path):
    data = variant()
    data["clusters"][1]["connection"]["api_key_env"] = "$US_TOKEN"
    fails(tmp_path, data, "connection.api_key_env", "name of an environment variable")


def test_typo_in_a_connection_setting(tmp_path):
    data = variant()
    data["clusters"][0]["connection"]["kubeconfg"] = "/x"
    fails(tmp_path, data, "clusters[0] (aws-eu).connection.kubeconfg", "unknown connection setting")


def test_connection_setting_at_the_cluster_level(tmp_path):
    data = variant()
    data["clusters"][0]["context"] = "aws-eu"
    fails(tmp_path, data, "clusters[0] (aws-eu).context", "go under 'connection'")


def test_client_cert_without_key(tmp_path):
    data = variant()
    data["clusters"][1]["connection"] = {"host": "https://x", "client_cert": "/c.pem"}
    fails(tmp_path, data, "connection.client_key", "go together")


def test_unknown_provider(tmp_path):
    data = variant()
    data["clusters"][0]["provider"] = "eks"
    fails(tmp_path, data, "clusters[0] (aws-eu).provider", "unknown provider 'eks'", "aws, gce, azure, own")


def test_bad_cluster_name(tmp_path):
    data = variant()
    data["clusters"][0]["name"] = "AWS_EU"
    fails(tmp_path, data, "clusters[0].name", "lower-case")


def test_bad_branch_pattern(tmp_path):
    data = variant()
    data["environments"]["review"]["branches"] = "feature/ *"
    fails(tmp_path, data, "environments.review.branches", "bad branch pattern")


def test_bad_branch_regex_in_a_list(tmp_path):
    data = variant()
    data["environments"]["review"]["branches"] = ["feature/*", "/^feat(/"]
    fails(tmp_path, data, "environments.review.branches[1]", "bad regular expression")


def test_empty_environment(tmp_path):
    data = variant()
    data["environments"]["uat"] = []
    fails(tmp_path, data, "environments.uat.clusters", "non-empty list")


def test_environment_named_like_a_cluster(tmp_path):
    data = variant()
    data["environments"]["aws-eu"] = ["aws-eu"]
    fails(tmp_path, data, "environments.aws-eu", "valid Ansible group name")
    data = variant()
    data["clusters"][3]["name"] = "review"
    data["environments"]["review"]["clusters"] = ["review"]
    fails(tmp_path, data, "environments.review", "also the name of a cluster")


def test_reserved_environment_names(tmp_path):
    for name in ("all", "provider_aws", "continuouspipe_clusters"):
        data = variant()
        data["environments"][name] = ["aws-eu"]
        fails(tmp_path, data, "environments.%s" % name, "reserved")


def test_unknown_environment_key(tmp_path):
    data = variant()
    data["environments"]["production"]["fleet_atomc"] = True
    fails(tmp_path, data, "environments.production.fleet_atomc", "unknown key")


def test_bad_fleet_atomic_and_serial(tmp_path):
    data = variant()
    data["environments"]["production"]["fleet_atomic"] = "yes please"
    fails(tmp_path, data, "environments.production.fleet_atomic", "true or false")
    for serial in (0, "0%", "half", [], True, "150%"):
        data = variant()
        data["environments"]["production"]["serial"] = serial
        fails(tmp_path, data, "environments.production.serial", "serial must be")


def test_no_clusters(tmp_path):
    fails(tmp_path, {"plugin": "continuouspipe.kubernetes.clusters", "clusters": []}, "clusters", "non-empty")


def test_unknown_top_level_option(tmp_path):
    data = variant(enviroments={})
    with pytest.raises(AnsibleError) as error:
        parse(tmp_path, data)
    assert "enviroments" in str(error.value)


def test_yaml_written_by_hand(tmp_path):
    text = textwrap.dedent("""\
        plugin: continuouspipe.kubernetes.clusters
        clusters:
          - name: one
            connection:
              kubeconfig: /k
              context: one
        environments:
          prod: [one]
        """)
    inventory = parse(tmp_path, text, "hand.clusters.yaml")
    assert group_hosts(inventory, "prod") == ["one"]


# --------------------------------------------------------------------------------------------------
# helpers shared with the filters


def test_resolve_connection_reads_named_variables_at_call_time():
    connection = {"host": "https://x", "api_key_env": "TOKEN", "validate_certs_env": "VERIFY",
                  "ca_cert": "~/ca.pem"}
    resolved = cu.resolve_connection(connection, {"TOKEN": "t0k", "VERIFY": "false"}, "aws-us")
    assert resolved == {"host": "https://x", "api_key": "t0k", "validate_certs": False,
                        "ca_cert": os.path.expanduser("~/ca.pem")}
    with pytest.raises(cu.ConnectionError_) as error:
        cu.resolve_connection(connection, {}, "aws-us")
    assert "aws-us" in str(error.value) and "TOKEN" in str(error.value)


def test_credentials_override_the_inventory():
    connection = {"host": "https://x", "api_key_env": "TOKEN"}
    assert cu.resolve_connection(connection, {}, "c", credentials={"api_key": "vaulted"}) == {
        "host": "https://x", "api_key": "vaulted"}


@pytest.mark.parametrize("pattern,branch,expected", [
    ("feature/*", "feature/login", True),
    ("feature/*", "feature/a/b", False),
    ("feature/**", "feature/a/b", True),
    ("release-?", "release-1", True),
    ("main", "main", True),
    ("main", "mainline", False),
    ("/^(main|master)$/", "master", True),
    ("/^hotfix\\//", "hotfix/x", True),
    (["main", "feature/*"], "feature/x", True),
    ([], "anything", True),
])
def test_branch_patterns(pattern, branch, expected):
    assert cu.branch_matches(branch, pattern) is expected


def test_serial_values():
    assert cu.normalize_serial(1) == 1
    assert cu.normalize_serial("2") == 2
    assert cu.normalize_serial("50%") == "50%"
    assert cu.normalize_serial("1, 50%") == [1, "50%"]
    assert cu.normalize_serial([1, "100%"]) == [1, "100%"]


# --------------------------------------------------------------------------------------------------
# filters (plugins/filter/clusters.py), through the plugin loader


def _filters():
    from ansible.plugins.loader import filter_loader

    found = {}
    for name in ("cluster_connection", "branch_matches", "rollout_serial", "task_variable_name", "tasks_context",
                 "task_filter"):
        plugin = filter_loader.get("continuouspipe.kubernetes.%s" % name)
        assert plugin is not None, name
        found[name] = plugin.j2_function
    return found


RELEASE = {"flow_uuid": "f", "branch": "feature/login", "sha": "abc",
           "pull_request": {"number": 12, "title": "Login", "labels": ["deploy"]}}


def test_task_filter_reads_earlier_results():
    f = _filters()
    results = {"infrastructure": {"services": {"database": {"created": True, "updated": False, "deleted": False,
                                                            "unchanged": False}}, "changed": True}}
    ids = ["infrastructure", "migrations", "application"]
    tasks = f["tasks_context"](results, ids)
    assert tasks["application"] == {"services": None}
    assert f["task_filter"]("tasks.infrastructure.services.database.created", RELEASE, tasks) is True
    assert f["task_filter"]("tasks.infrastructure.services.database.updated", RELEASE, tasks) is False
    # a task that has not deployed answers any service with false (ContinuousPipe's WildcardObject)
    assert f["task_filter"]("tasks.application.services.anything.created", RELEASE, tasks) is False
    assert f["task_filter"]("'deploy' in pull_request.labels and code_reference.branch matches '#^feature/#'",
                            RELEASE, tasks) is True
    assert f["task_filter"]("", RELEASE, tasks) is True
    assert f["task_filter"]("has_changes_for_files('src/**')", RELEASE, tasks) is True


def test_task_filter_has_changes_for_files_reads_the_changed_files():
    f = _filters()
    tasks = f["tasks_context"]({}, ["app"])
    expression = "has_changes_for_files(['src/**', 'composer.lock'])"
    assert f["task_filter"](expression, RELEASE, tasks, ["src/Controller/Home.php"]) is True
    assert f["task_filter"](expression, RELEASE, tasks, ["composer.lock", "README.md"]) is True
    assert f["task_filter"](expression, RELEASE, tasks, ["docs/index.md"]) is False
    assert f["task_filter"](expression, RELEASE, tasks, []) is False
    assert f["task_filter"](expression, RELEASE, tasks, None) is True  # unknown: as ContinuousPipe
    with pytest.raises(AnsibleError, match="changed_files must be a list"):
        f["task_filter"](expression, RELEASE, tasks, "src/a.php")


def test_task_filter_errors():
    f = _filters()
    tasks = f["tasks_context"]({}, ["infrastructure"])
    with pytest.raises(AnsibleError, match='Task "nope" does not exist'):
        f["task_filter"]("tasks.nope.services.x.created", RELEASE, tasks)
    with pytest.raises(AnsibleError, match="does not return a boolean"):
        f["task_filter"]("code_reference.branch", RELEASE, tasks)
    with pytest.raises(AnsibleError, match="filter expression"):
        f["task_filter"]("code_reference.branch ==", RELEASE, tasks)


def test_tasks_context_ignores_failed_and_skipped_results():
    f = _filters()
    tasks = f["tasks_context"]({"a": {"failed": True, "services": {"x": {"created": True}}},
                                "b": {"skipped": True}, "c": {"changed": True}}, ["a", "b", "c"])
    assert tasks == {"a": {"services": None}, "b": {"services": None}, "c": {"services": None}}


def test_cluster_connection_filter(monkeypatch):
    f = _filters()
    monkeypatch.setenv("CP_TEST_KUBECONFIG_PATH", "/tmp/all.kubeconfig")
    cluster = {"name": "aws-eu", "connection": {"kubeconfig_env": "CP_TEST_KUBECONFIG_PATH", "context": "aws-eu"}}
    assert f["cluster_connection"](cluster) == {"kubeconfig": "/tmp/all.kubeconfig", "context": "aws-eu"}
    monkeypatch.delenv("CP_TEST_KUBECONFIG_PATH")
    with pytest.raises(AnsibleError, match="CP_TEST_KUBECONFIG_PATH, which is not set"):
        f["cluster_connection"](cluster)
    with pytest.raises(AnsibleError, match="unknown credential"):
        f["cluster_connection"](cluster, {"token": "x"})
    with pytest.raises(AnsibleError, match="continuouspipe_cluster"):
        f["cluster_connection"]("aws-eu")


def test_small_filters():
    f = _filters()
    assert f["task_variable_name"]("application-deployment") == "__TASK_APPLICATION_DEPLOYMENT_TARGET_ENVIRONMENT_NAME"
    assert f["rollout_serial"]("") == 1
    assert f["rollout_serial"]("", "50%") == "50%"
    assert f["rollout_serial"]("1,50%") == [1, "50%"]
    with pytest.raises(AnsibleError):
        f["rollout_serial"]("all")
    assert f["branch_matches"]("feature/x", ["feature/*"]) is True
    with pytest.raises(AnsibleError):
        f["branch_matches"]("x", ["bad pattern"])


# --------------------------------------------------------------------------------------------------
# the pipeline_info module the deploy role plans with


def _pipeline_info(args):
    import json as _json

    from ansible.module_utils import basic
    from ansible.module_utils.testing import patch_module_args

    from ansible_collections.continuouspipe.kubernetes.plugins.modules import pipeline_info

    class Exit(Exception):
        pass

    def capture(_module, **kwargs):
        raise Exit(kwargs)

    original = basic.AnsibleModule.exit_json, basic.AnsibleModule.fail_json
    basic.AnsibleModule.exit_json = capture
    basic.AnsibleModule.fail_json = lambda _module, **kwargs: capture(_module, failed=True, **kwargs)
    try:
        with patch_module_args(args):
            pipeline_info.main()
    except Exit as done:
        return _json.loads(_json.dumps(done.args[0]))
    finally:
        basic.AnsibleModule.exit_json, basic.AnsibleModule.fail_json = original
    raise AssertionError("the module did not exit")


def test_pipeline_info_plans_the_demo_app():
    app = os.path.join(ROOT, "examples", "app")
    result = _pipeline_info({"source_dir": app, "branch": "feature/login", "sha": "abc", "flow_uuid": FLOW,
                             "secret_variables": {"DATABASE_PASSWORD": "long-unit-test-secret"},
                             "variables": {"CLUSTER_NAME": "unit"}})
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["pipelines"] == ["Default pipeline"]
    assert [(t["identifier"], t["type"], t["executable"]) for t in result["tasks"]] == [
        ("infrastructure", "deploy", True), ("migrations", "run", True), ("application", "deploy", True),
        ("smoke_test", "run", True), ("notify", "web_hook", False)]
    tasks = {t["identifier"]: t for t in result["tasks"]}
    assert tasks["migrations"]["filter"] == "tasks.infrastructure.services.database.created"
    assert tasks["application"]["services"] == ["web", "cache", "worker"]
    assert tasks["application"]["environment_name"] == '"shop-" ~ code_reference.branch'
    assert result["release"]["branch"] == "feature/login" and result["release"]["sha"] == "abc"
    assert "long-unit-test-secret" not in json.dumps(result)


def test_pipeline_info_errors_name_the_key(tmp_path):
    app = os.path.join(ROOT, "examples", "app")
    # a copy outside any git checkout: which project it is cannot be told, and the error says how to say it
    shutil.copytree(app, tmp_path / "project")
    result = _pipeline_info({"source_dir": str(tmp_path / "project"), "branch": "main"})
    assert result["failed"] and result["msg"].startswith("flow_uuid: cannot tell which project"), result
    result = _pipeline_info({"source_dir": app, "branch": "main", "flow_uuid": FLOW, "pipeline": "nope",
                             "variables": {"CLUSTER_NAME": "u"},
                             "secret_variables": {"DATABASE_PASSWORD": "long-unit-test-secret"}})
    assert result["failed"] and "no pipeline 'nope'" in result["msg"]


def test_pipeline_info_needs_no_secret_value(tmp_path):
    """Planning (and the teardown that plans) never needs an encrypted value: it stands masked."""
    (tmp_path / "continuous-pipe.yml").write_text(
        "variables:\n"
        "  - name: API_TOKEN\n    encrypted_value: 'ZW5jcnlwdGVk'\n"
        "tasks:\n  deployment:\n    deploy:\n      cluster: c\n"
        "      environment: {name: '\"shop-\" ~ code_reference.branch'}\n      services:\n"
        "        web:\n          specification:\n            source: {image: nginx}\n"
        "            environment_variables:\n              - {name: TOKEN, value: '${API_TOKEN}'}\n")
    result = _pipeline_info({"source_dir": str(tmp_path), "branch": "main", "flow_uuid": FLOW})
    assert not result.get("failed"), result
    assert [(t["identifier"], t["environment_name"]) for t in result["tasks"]] == [
        ("deployment", '"shop-" ~ code_reference.branch')]


def test_proxy_headers_and_persist_config_are_connection_settings():
    connection = {"kubeconfig": "/k", "context": "c", "proxy": "http://proxy:3128",
                  "proxy_headers": {"proxy_basic_auth": "u:p", "user_agent": "deployer/1"},
                  "persist_config_env": "PERSIST"}
    assert cu.connection_problems(connection) == []
    resolved = cu.resolve_connection(connection, environ={"PERSIST": "no"}, cluster="x")
    assert resolved["proxy_headers"] == {"proxy_basic_auth": "u:p", "user_agent": "deployer/1"}
    assert resolved["persist_config"] is False
    assert cu.connection_problems(dict(connection, proxy_headers={"proxy_auth": "u:p"})) == [
        ("proxy_headers", "must be a mapping of proxy_basic_auth, basic_auth, user_agent to strings")]
