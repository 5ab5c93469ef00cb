# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: clusters
short_description: Kubernetes clusters as hosts, environment groups (production, uat, review) as groups
version_added: 0.2.0
author:
  - ContinuousPipe for Ansible maintainers (@continuouspipe)
description:
  - Reads a C(*.clusters.yml) or C(*.clusters.yaml) file that lists Kubernetes clusters and the
    environment groups they serve (production on two AWS clusters, uat on one GCE cluster, review
    apps on a development cluster).
  - Every cluster becomes a host with C(ansible_connection=local) and
    C(ansible_python_interpreter) set to C({{ ansible_playbook_python }}), the Python of the
    ansible-playbook that runs the job (evaluated then, so an inventory synced by AWX in one execution
    environment works in a job of another), so nothing is discovered on the control node. Its
    connection settings land in the host variable C(continuouspipe_cluster),
    which the roles of this collection turn into module options through
    C(module_defaults) (C(group/continuouspipe.kubernetes.kubernetes)).
  - Secrets stay out of the file. Every connection setting can be given as C(<setting>_env), the
    name of an environment variable read when a task runs (an AWX credential injects it); or put
    vaulted values in C(group_vars)/C(host_vars) under C(continuouspipe_cluster_credentials).
  - "Groups: C(continuouspipe_clusters) (every cluster; holds C(continuouspipe_environments), the
    settings of every environment group), one group per environment (its C(vars) as group
    variables) and one per provider (C(provider_aws),
    C(provider_gce), C(provider_azure), C(provider_own))."
  - Mistakes (unknown cluster in an environment, duplicate names, missing connection settings,
    bad branch pattern, unknown keys) fail with the file and the key path.
options:
  plugin:
    description: Marks the file as a source for this plugin.
    required: true
    choices: [continuouspipe.kubernetes.clusters]
  clusters:
    description:
      - The clusters, one host each.
      - "Each entry: C(name) (a DNS label, the inventory host name), C(provider) (C(aws), C(gce),
        C(azure) or C(own), default C(own)), C(connection) (see below), optional C(aliases) (other
        names C(continuous-pipe.yml) uses for this cluster in a task's C(cluster) key),
        C(platform) and C(vars) (more host variables)."
      - "C(platform) says what endpoints become on the cluster (the modules' O(continuouspipe.kubernetes.deploy#module:platform)
        options): a name (C(auto), C(kubernetes), C(gateway), C(openshift)) or a mapping with C(name),
        C(gateway) (C(name), C(namespace), C(section_name), C(class_name)) and C(route_certificates)
        (C(secret) or C(inline)). It lands in C(continuouspipe_cluster.platform); the deploy role passes
        it to the modules. Default: detected from the APIs the cluster serves."
      - "C(connection) takes the connection options of the modules: C(kubeconfig) (a path) and
        C(context), or C(host) with C(api_key), C(client_cert)/C(client_key) or
        C(username)/C(password); C(ca_cert), C(validate_certs), C(proxy), C(no_proxy), C(proxy_headers),
        C(persist_config), C(impersonate_user), C(impersonate_groups). Each string or boolean setting
        also exists as C(<setting>_env): the name of an environment variable holding the value."
    type: list
    elements: dict
    required: true
  environments:
    description:
      - Environment groups, by name (an Ansible group name of letters, digits and C(_)).
      - "Each value is either the list of its clusters, or a mapping with C(clusters) (required,
        in rollout order), C(branches) (a glob such as C(feature/*) or a list of globs; C(**)
        crosses C(/); C(/regex/) for a regular expression: only matching branches may be deployed
        there), C(fleet_atomic) (bool: when a cluster fails during a rollout, clusters already
        updated in that run roll back too; default true for production-like names, see
        I(production_pattern)), C(serial) (clusters per rollout batch: a number, a percentage or a
        list of those; default 1) and C(vars) (group variables)."
    type: dict
    default: {}
  production_pattern:
    description:
      - Regular expression (matched case-insensitively at the start of an environment group's name)
        for production-like groups, whose C(fleet_atomic) defaults to true.
    type: str
    default: '(prod|production|live)([_-]|$)'
  provider_group_prefix:
    description: Prefix of the per-provider group names.
    type: str
    default: provider_
  python_interpreter:
    description:
      - C(ansible_python_interpreter) of the cluster hosts, when they must not use the Python of the
        ansible-playbook that runs the job (the default, C({{ ansible_playbook_python }})).
    type: str
"""

EXAMPLES = r"""
# inventory/prod.clusters.yml
plugin: continuouspipe.kubernetes.clusters
clusters:
  - name: aws-eu
    provider: aws
    connection:
      kubeconfig_env: CONTINUOUSPIPE_KUBECONFIG   # a path, injected by an AWX credential
      context: aws-eu
  - name: aws-us
    provider: aws
    connection:
      host: https://api.us.example.com
      api_key_env: AWS_US_TOKEN
      ca_cert: /etc/k8s/aws-us-ca.pem
  - name: gce-eu
    provider: gce
    aliases: [uat]
    connection: {kubeconfig: ~/.kube/config, context: gke_uat}
    platform:                    # HTTPRoutes on the platform team's Gateway
      name: gateway
      gateway: {name: shared, namespace: gateway-system}
  - name: ocp-eu
    connection: {kubeconfig_env: CONTINUOUSPIPE_KUBECONFIG, context: ocp-eu}
    platform: openshift          # Routes, restricted-v2 pods, Projects
  - name: dev-cluster
    connection: {kubeconfig: ~/.kube/config, context: dev}
environments:
  production:
    clusters: [aws-eu, aws-us]
    serial: 1
  uat: [gce-eu]
  review:
    clusters: [dev-cluster]
    branches: 'feature/*'
    fleet_atomic: false
    vars:
      continuouspipe_deploy_wait_timeout: 300

# ansible-inventory -i inventory/prod.clusters.yml --graph
# ansible-playbook -i inventory/prod.clusters.yml continuouspipe.kubernetes.deploy -e environment_group=production ...
"""

import re

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin

from ansible_collections.continuouspipe.kubernetes.plugins.plugin_utils import clusters as cu

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19 templates every inventory string anyway
    def trust_as_template(value):
        return value

# The cluster hosts run their modules with the Python of the ansible-playbook that uses the inventory,
# evaluated when the job runs: not the absolute path of whatever Python read the inventory (AWX syncs
# inventories in one execution environment and runs jobs in another). Trusted, or ansible-core 2.19
# would take the text literally.
PLAYBOOK_PYTHON = "{{ ansible_playbook_python }}"

TOP_KEYS = ("plugin", "clusters", "environments", "production_pattern", "provider_group_prefix", "python_interpreter")
CLUSTER_KEYS = ("name", "provider", "connection", "aliases", "platform", "vars")
PLATFORM_KEYS = ("name", "gateway", "route_certificates")
PLATFORM_NAMES = ("auto", "kubernetes", "gateway", "openshift")
GATEWAY_KEYS = ("name", "namespace", "section_name", "class_name")
ENVIRONMENT_KEYS = ("clusters", "branches", "fleet_atomic", "serial", "vars")
HOST_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
GROUP_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VAR_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ALL_GROUP = "continuouspipe_clusters"
RESERVED_GROUPS = ("all", "ungrouped", ALL_GROUP)


def _path(*parts) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += "[%d]" % part
        elif part == "":
            continue
        elif out:
            out += "." + str(part)
        else:
            out = str(part)
    return out


class InventoryModule(BaseInventoryPlugin):
    NAME = "continuouspipe.kubernetes.clusters"

    def verify_file(self, path):
        if not super().verify_file(path):
            return False
        return path.endswith((".clusters.yml", ".clusters.yaml"))

    # -- errors ------------------------------------------------------------------------------------

    def _fail(self, key_path: str, message: str):
        where = "%s: %s" % (self._source, key_path) if key_path else self._source
        raise AnsibleParserError("%s: %s" % (where, message))

    # -- entry point -------------------------------------------------------------------------------

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._source = path
        try:
            config = self._read_config_data(path)
        except AnsibleParserError as error:
            raise AnsibleParserError("%s: %s" % (path, to_native(error.message)))
        for key in config or {}:
            if key not in TOP_KEYS:
                self._fail(str(key), "unknown key; known: %s" % ", ".join(TOP_KEYS))
        raw_clusters = self.get_option("clusters")
        raw_environments = self.get_option("environments") or {}
        production = self.get_option("production_pattern")
        try:
            self._production_re = re.compile(production, re.IGNORECASE)
        except re.error as error:
            self._fail("production_pattern", "bad regular expression %r: %s" % (production, error))
        self._provider_prefix = self.get_option("provider_group_prefix")
        interpreter = self.get_option("python_interpreter") or trust_as_template(PLAYBOOK_PYTHON)

        clusters = self._clusters(raw_clusters)
        environments = self._environments(raw_environments, clusters)
        self._populate(clusters, environments, interpreter)

    # -- validation --------------------------------------------------------------------------------

    def _clusters(self, raw) -> dict:
        if not isinstance(raw, list) or not raw:
            self._fail("clusters", "must be a non-empty list of clusters (name, provider, connection)")
        clusters, names = {}, {}
        for index, entry in enumerate(raw):
            where = _path("clusters", index)
            if not isinstance(entry, dict):
                self._fail(where, "each cluster must be a mapping with name, provider and connection")
            entry = cu.plain(entry)
            name = entry.get("name")
            if not isinstance(name, str) or not HOST_NAME_RE.match(name):
                self._fail(_path(where, "name"), "a cluster needs a name made of lower-case letters, digits and '-' "
                                                 "(at most 63 characters); got %r" % (name,))
            where = "%s (%s)" % (where, name)
            for key in entry:
                if key not in CLUSTER_KEYS:
                    hint = " (connection settings go under 'connection')" if key in cu.ALL_CONNECTION_KEYS else ""
                    self._fail(_path(where, key), "unknown key%s; known: %s" % (hint, ", ".join(CLUSTER_KEYS)))
            if name in names:
                self._fail(_path(where, "name"), "duplicate cluster name %r (also %s)" % (name, names[name]))
            provider = entry.get("provider", "own")
            if provider not in cu.PROVIDERS:
                self._fail(_path(where, "provider"), "unknown provider %r; use one of %s"
                           % (provider, ", ".join(cu.PROVIDERS)))
            connection = entry.get("connection")
            if connection is None:
                self._fail(_path(where, "connection"), "missing connection settings: give kubeconfig (and context), "
                                                       "or host with api_key_env (or another credential)")
            for key, message in cu.connection_problems(connection):
                self._fail(_path(where, "connection", key), message)
            aliases = entry.get("aliases", [])
            if isinstance(aliases, str):
                aliases = [aliases]
            if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
                self._fail(_path(where, "aliases"), "must be a list of names")
            for alias in [name] + aliases:
                if alias in names:
                    self._fail(_path(where, "aliases") if alias != name else _path(where, "name"),
                               "the name %r is already used by %s" % (alias, names[alias]))
                names[alias] = where
            host_vars = entry.get("vars", {}) or {}
            self._check_vars(host_vars, _path(where, "vars"))
            for secret in cu.SECRET_OPTIONS:
                if isinstance(connection.get(secret), str):
                    self.display.warning(
                        "%s: %s holds a plain-text %s; prefer %s_env (an environment variable) or a vaulted "
                        "continuouspipe_cluster_credentials in host_vars" % (
                            self._source, _path(where, "connection", secret), secret, secret))
            platform = self._platform(entry.get("platform"), _path(where, "platform"))
            clusters[name] = dict(name=name, provider=provider, connection=connection, aliases=aliases,
                                  vars=host_vars, index=index, platform=platform)
        return clusters

    def _platform(self, raw, where) -> dict:
        """A cluster's platform: a name, or a mapping of the modules' platform options."""
        if raw is None:
            return {}
        if isinstance(raw, str):
            raw = {"name": raw}
        if not isinstance(raw, dict):
            self._fail(where, "must be a platform name (%s) or a mapping with %s" % (
                ", ".join(PLATFORM_NAMES), ", ".join(PLATFORM_KEYS)))
        for key in raw:
            if key not in PLATFORM_KEYS:
                self._fail(_path(where, key), "unknown key; known: %s" % ", ".join(PLATFORM_KEYS))
        if raw.get("name", "auto") not in PLATFORM_NAMES:
            self._fail(_path(where, "name"), "unknown platform %r; use one of %s" % (
                raw.get("name"), ", ".join(PLATFORM_NAMES)))
        if raw.get("route_certificates", "secret") not in ("secret", "inline"):
            self._fail(_path(where, "route_certificates"), "must be secret or inline")
        gateway = raw.get("gateway")
        if gateway is not None:
            if not isinstance(gateway, dict):
                self._fail(_path(where, "gateway"), "must be a mapping with %s" % ", ".join(GATEWAY_KEYS))
            for key, value in gateway.items():
                if key not in GATEWAY_KEYS:
                    self._fail(_path(where, "gateway", key), "unknown key; known: %s" % ", ".join(GATEWAY_KEYS))
                if not isinstance(value, str) or not value:
                    self._fail(_path(where, "gateway", key), "must be a non-empty string")
            if bool(gateway.get("name")) != bool(gateway.get("namespace")):
                self._fail(_path(where, "gateway"), "needs both name and namespace (the Gateway HTTPRoutes attach to)")
        return dict(raw)

    def _check_vars(self, variables, where):
        if not isinstance(variables, dict):
            self._fail(where, "must be a mapping of variables")
        for key in variables:
            if not isinstance(key, str) or not VAR_NAME_RE.match(key):
                self._fail(_path(where, str(key)), "not a valid variable name")

    def _environments(self, raw, clusters) -> dict:
        if not isinstance(raw, dict):
            self._fail("environments", "must be a mapping: environment group name -> clusters or settings")
        environments = {}
        for name, entry in raw.items():
            where = _path("environments", str(name))
            if not isinstance(name, str) or not GROUP_NAME_RE.match(name):
                self._fail(where, "an environment group name must be a valid Ansible group name "
                                  "(letters, digits and '_', not starting with a digit); got %r" % (name,))
            if name in RESERVED_GROUPS or name.startswith(self._provider_prefix):
                self._fail(where, "the group name %r is reserved" % (name,))
            if name in clusters:
                self._fail(where, "%r is also the name of a cluster; hosts and groups need distinct names" % name)
            entry = cu.plain(entry)
            if isinstance(entry, list):
                entry = {"clusters": entry}
            if not isinstance(entry, dict):
                self._fail(where, "must be a list of clusters or a mapping with clusters, branches, fleet_atomic, "
                                  "serial and vars")
            for key in entry:
                if key not in ENVIRONMENT_KEYS:
                    self._fail(_path(where, key), "unknown key; known: %s" % ", ".join(ENVIRONMENT_KEYS))
            members = entry.get("clusters")
            if not isinstance(members, list) or not members:
                self._fail(_path(where, "clusters"), "an environment group needs a non-empty list of clusters")
            seen = []
            for index, member in enumerate(members):
                if member not in clusters:
                    known = ", ".join(sorted(clusters))
                    self._fail(_path(where, "clusters", index),
                               "unknown cluster %r; the clusters of this file are: %s" % (member, known))
                if member in seen:
                    self._fail(_path(where, "clusters", index), "cluster %r is listed twice" % member)
                seen.append(member)
            branches = entry.get("branches")
            if branches is not None:
                patterns = [branches] if isinstance(branches, str) else branches
                if not isinstance(patterns, list) or not patterns:
                    self._fail(_path(where, "branches"), "must be a branch pattern or a list of them")
                for index, pattern in enumerate(patterns):
                    problem = cu.branch_pattern_problem(pattern)
                    if problem:
                        self._fail(_path(where, "branches") if isinstance(branches, str)
                                   else _path(where, "branches", index), "bad branch pattern: %s" % problem)
                branches = patterns
            fleet_atomic = entry.get("fleet_atomic")
            if fleet_atomic is None:
                fleet_atomic = bool(self._production_re.match(name))
            elif not isinstance(fleet_atomic, bool):
                self._fail(_path(where, "fleet_atomic"), "must be true or false; got %r" % (fleet_atomic,))
            serial = entry.get("serial", 1)
            problem = cu.serial_problem(serial)
            if problem:
                self._fail(_path(where, "serial"), problem)
            group_vars = entry.get("vars", {}) or {}
            self._check_vars(group_vars, _path(where, "vars"))
            environments[name] = dict(clusters=seen, branches=branches or [], fleet_atomic=fleet_atomic,
                                      serial=cu.normalize_serial(serial), vars=group_vars)
        return environments

    # -- inventory ---------------------------------------------------------------------------------

    def _populate(self, clusters, environments, interpreter):
        inventory = self.inventory
        inventory.add_group(ALL_GROUP)
        settings = {
            name: {key: env[key] for key in ("clusters", "branches", "fleet_atomic", "serial")}
            for name, env in environments.items()
        }
        inventory.set_variable(ALL_GROUP, "continuouspipe_environments", settings)

        member_of = {name: [] for name in clusters}
        for env_name, env in environments.items():
            for member in env["clusters"]:
                member_of[member].append(env_name)

        for name, cluster in clusters.items():
            inventory.add_host(name, group=ALL_GROUP)
            provider_group = self._provider_prefix + cluster["provider"]
            inventory.add_group(provider_group)
            inventory.add_child(ALL_GROUP, provider_group)
            inventory.add_child(provider_group, name)
            host_vars = {
                "ansible_connection": "local",
                "ansible_python_interpreter": interpreter,
                "continuouspipe_cluster": {
                    "name": name,
                    "provider": cluster["provider"],
                    "aliases": list(cluster["aliases"]),
                    "connection": cluster["connection"],
                },
                "continuouspipe_cluster_name": name,
                "continuouspipe_provider": cluster["provider"],
                "continuouspipe_environment_groups": member_of[name],
            }
            if cluster["platform"]:
                host_vars["continuouspipe_cluster"]["platform"] = cluster["platform"]
            host_vars.update(cluster["vars"])
            for key, value in host_vars.items():
                inventory.set_variable(name, key, value)

        for env_name, env in environments.items():
            inventory.add_group(env_name)
            inventory.add_child(ALL_GROUP, env_name)
            for member in env["clusters"]:
                inventory.add_child(env_name, member)
            for key, value in env["vars"].items():
                inventory.set_variable(env_name, key, value)
