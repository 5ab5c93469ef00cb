#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: environment_info
short_description: Describe the ContinuousPipe environments of a cluster
version_added: 0.2.0
description:
  - Lists the environments (namespaces) this collection manages (label
    C(app.kubernetes.io/managed-by=continuouspipe.kubernetes)) or ContinuousPipe created (label
    C(created-by=continuous-pipe)) on a cluster, or describes the one named O(name).
  - For each environment - its services (Deployments, StatefulSets and bare Pods with their desired,
    ready and available replicas, images and readiness), its endpoints (load balancer addresses,
    node ports, ingress hosts, internal DNS names), its current release and release history, and the
    drift between the live objects and the objects each task's current release recorded.
  - Drift is a subset comparison - a recorded field whose live value differs (a C(kubectl edit), a
    C(kubectl scale)) makes the object V(changed), a recorded object that no longer exists is
    V(missing), and an object labelled with the task that the release does not have is V(extra).
    What the API server or others only add (defaults, annotations, labels) is not drift.
  - Secret values are never returned. Secrets are compared, and a drifted Secret is reported with the
    names of its keys only.
author:
  - ContinuousPipe for Ansible maintainers (@continuouspipe)
extends_documentation_fragment:
  - continuouspipe.kubernetes.connection
options:
  name:
    description:
      - Describe only this environment (namespace), whatever its labels. Nothing is returned when it
        does not exist.
    type: str
    aliases: [namespace]
  label_selectors:
    description:
      - Only the environments whose namespace matches these label selectors (C(key=value),
        C(key!=value), C(key), C(!key)); ignored with O(name).
    type: list
    elements: str
    default: []
  flow_uuid:
    description:
      - Only the environments of this ContinuousPipe flow (label C(flow)); ignored with O(name).
    type: str
  drift:
    description:
      - Compare the live objects with each task's current release. Reads every object kind the releases
        hold; turn it off to list many environments quickly.
    type: bool
    default: true
  history:
    description:
      - Return the release history of each environment.
    type: bool
    default: true
  history_limit:
    description:
      - At most this many releases per environment in RV(environments[].history), newest first; V(0)
        for all; at most 1000.
    type: int
    default: 0
attributes:
  check_mode:
    support: full
    description: The module only reads.
  diff_mode:
    support: none
    description: Nothing to show.
notes:
  - Reading the release history needs permission to read Secrets in the namespaces (releases are
    Secrets, since they hold the applied objects).
seealso:
  - module: continuouspipe.kubernetes.environment
  - module: continuouspipe.kubernetes.deploy
"""

EXAMPLES = r"""
- name: Every environment of the cluster, without drift
  continuouspipe.kubernetes.environment_info:
    drift: false
    history: false
  register: all_environments

- name: One environment
  continuouspipe.kubernetes.environment_info:
    name: laravel-demo-feature-login
  register: info

- name: Fail when someone changed the environment by hand
  ansible.builtin.assert:
    that: not info.environments[0].drifted
    fail_msg: "{{ info.environments[0].drift | to_nice_yaml }}"

- name: The address of the web load balancer
  ansible.builtin.debug:
    msg: "{{ (info.environments[0].endpoints | selectattr('name', 'equalto', 'web') | first).addresses }}"
"""

RETURN = r"""
environments:
  description: One entry per environment, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the namespace.
      type: str
      sample: laravel-demo-feature-login
    labels:
      description: Labels of the namespace.
      type: dict
    phase:
      description: V(Active) or V(Terminating).
      type: str
    created:
      description: Creation time of the namespace.
      type: str
    managed_by:
      description: V(continuouspipe.kubernetes), V(continuouspipe) (created by ContinuousPipe) or null.
      type: str
    flow_uuid:
      description: ContinuousPipe flow of the environment (label C(flow)), if any.
      type: str
    uid:
      description: UID of the namespace.
      type: str
    services:
      description: The workloads, one entry each.
      type: list
      elements: dict
      contains:
        name:
          description: The service (component identifier), else the object name.
          type: str
        kind:
          description: V(Deployment), V(StatefulSet) or V(Pod).
          type: str
        object:
          description: Name of the workload object.
          type: str
        task:
          description: The deploy task that applied it (label C(continuouspipe.io/task)), if any.
          type: str
        images:
          description: Images of its containers.
          type: list
          elements: str
        desired:
          description: Desired replicas.
          type: int
        ready:
          description: Ready replicas.
          type: int
        available:
          description: Available replicas.
          type: int
        updated:
          description: Replicas running the current template.
          type: int
        state:
          description:
            - V(ready), V(progressing), V(unavailable), V(failed) (progress deadline exceeded),
              V(scaled-down); for a bare Pod its phase in lower case, or V(ready).
          type: str
        is_ready:
          description: Whether every desired replica is available.
          type: bool
        problems:
          description: Why containers do not run (C(CrashLoopBackOff), C(ImagePullBackOff), C(Unschedulable)...).
          type: list
          elements: str
    endpoints:
      description: Services and the objects that route traffic to them (Ingresses; Gateway API HTTPRoutes and
        OpenShift Routes where the cluster serves them).
      type: list
      elements: dict
      contains:
        name:
          description: Name of the Service, Ingress, HTTPRoute or Route.
          type: str
        kind:
          description: V(Service), V(Ingress), V(HTTPRoute) or V(Route).
          type: str
        type:
          description: Service type (V(ClusterIP), V(LoadBalancer), V(NodePort)...), or the kind of a routing object.
          type: str
        component:
          description: The service it leads to.
          type: str
        public:
          description: Whether it is reachable from outside the cluster.
          type: bool
        addresses:
          description: Load balancer addresses (IP or host name).
          type: list
          elements: str
        hosts:
          description: Host names of an Ingress's rules or an HTTPRoute, or the host a router admitted a Route under.
          type: list
          elements: str
        backends:
          description: The Services a routing object sends traffic to.
          type: list
          elements: str
        internal_address:
          description: DNS name of a Service inside the cluster.
          type: str
          sample: web.laravel-demo-main.svc.cluster.local
        ports:
          description: Ports of a Service (C(name), C(port), C(protocol), C(target_port), C(node_port)).
          type: list
          elements: dict
        ready:
          description: Whether a load balancer or Ingress has its address, an HTTPRoute was accepted by its Gateway,
            or a Route admitted by a router.
          type: bool
    release:
      description: The environment's current release (the newest current release of its tasks), or null.
      type: dict
      contains:
        number:
          description: Release number, per task.
          type: int
        task:
          description: Deploy task.
          type: str
        status:
          description: V(deployed), V(superseded) or V(failed).
          type: str
        code_reference:
          description: Branch, sha and pull request deployed.
          type: dict
        time:
          description: When it was recorded.
          type: str
        checksum:
          description: Checksum of its objects.
          type: str
        flow_uuid:
          description: ContinuousPipe flow.
          type: str
    current_releases:
      description: The current release of each task of the environment.
      type: list
      elements: dict
    history:
      description: Every recorded release, newest first (objects not included).
      returned: when O(history=true)
      type: list
      elements: dict
    drift:
      description: The drifted objects.
      returned: when O(drift=true)
      type: list
      elements: dict
      contains:
        task:
          description: Task whose release recorded (or labels) the object.
          type: str
        release:
          description: Number of that release.
          type: int
        kind:
          description: Kind of the object.
          type: str
        name:
          description: Name of the object.
          type: str
        state:
          description: V(changed), V(missing) or V(extra).
          type: str
        differences:
          description:
            - For V(changed), the fields that differ - C(path), and except for Secrets C(expected)
              (recorded) and C(actual) (live).
          type: list
          elements: dict
    drifted:
      description: Whether there is any drift.
      returned: when O(drift=true)
      type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import environment, module_support
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.options import check_ranges


def argument_spec() -> dict:
    return module_support.argument_spec(
        name=dict(type="str", aliases=["namespace"]),
        label_selectors=dict(type="list", elements="str", default=[]),
        flow_uuid=dict(type="str"),
        drift=dict(type="bool", default=True),
        history=dict(type="bool", default=True),
        history_limit=dict(type="int", default=0),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    with module_support.ModuleConnection(module) as session:
        check_ranges(params, {"history_limit": (0, 1000)})
        cluster = session.connect()
        if params["name"]:
            found = cluster.get(cluster.resource("v1", "Namespace"), params["name"])
            namespaces = [found] if found is not None else []
        else:
            namespaces = environment.list_environments(cluster, params["label_selectors"], params["flow_uuid"])
        environments = [environment.describe(cluster, namespace, include_drift=params["drift"],
                                             include_history=params["history"], history_limit=params["history_limit"])
                        for namespace in namespaces]
    module.exit_json(changed=False, environments=environments)


if __name__ == "__main__":
    main()
