#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: environment
short_description: Create or delete a ContinuousPipe environment (a Kubernetes namespace)
version_added: 0.2.0
description:
  - An environment is the namespace a deploy task deploys into. With O(state=present) the namespace
    is created with ContinuousPipe's labels (C(continuous-pipe-environment), C(created-by=continuous-pipe),
    C(flow)) and this collection's (C(app.kubernetes.io/managed-by=continuouspipe.kubernetes),
    C(continuouspipe.io/environment)). An existing namespace is reused; labels it lacks are added,
    ContinuousPipe's labels are never changed. A second run sends no write request.
  - With O(state=absent) the namespace and everything in it is deleted, and the module waits until
    it is gone. A namespace already being deleted, or already gone, is not an error. The
    environment's lock is taken first (a C(coordination.k8s.io) Lease named
    C(continuouspipe-lock), see the collection's docs/reliability.md), so a teardown never runs in
    the middle of a deploy. In a namespace this collection adopted (an existing namespace taken over
    with O(force) or the deploy module's C(take_over)) only the objects the project wrote are
    deleted; the namespace stays.
  - Ownership is proven, not read off labels. An environment belongs to the project whose
    C(continuouspipe.io/project) label this collection's field manager wrote (the namespace's
    C(managedFields)). A namespace of another project, or one labelled by hand, is refused unless
    O(force=true); deleting a namespace of a project needs that project (O(flow_uuid), or O(source_dir)
    and O(branch)).
  - No secret value is needed. Encrypted values of C(continuous-pipe.yml) stand masked when
    O(secret_variables) does not give them (environment names never need them).
  - The environment is named directly with O(name), or computed from the project like the deploy
    module does (O(source_dir), O(branch), O(flow_uuid) and the O(task)'s C(environment.name)
    expression).
  - C(default), C(kube-system), C(kube-public) and C(kube-node-lease) are never deleted.
author:
  - ContinuousPipe for Ansible maintainers (@continuouspipe)
extends_documentation_fragment:
  - continuouspipe.kubernetes.connection
  - continuouspipe.kubernetes.source
options:
  name:
    description:
      - Name of the environment (namespace). Required unless O(source_dir) and O(branch) are given.
    type: str
    aliases: [namespace]
  task:
    description:
      - Identifier of the deploy (or run) task whose environment this is, when the name is computed
        from the project. Default is the environment every deploy task of the pipelines shares.
    type: str
  state:
    description:
      - V(present) creates the namespace (or completes its labels), V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  force:
    description:
      - With O(state=absent), delete the namespace even though it is not this project's environment
        (another project's, created by ContinuousPipe or by hand), and all of an adopted namespace.
      - With O(state=present), take over a namespace that is not this project's (it is recorded as
        adopted).
    type: bool
    default: false
  lock_timeout:
    description:
      - With O(state=absent), how many seconds to wait for the environment's lock when a deploy,
        rollback or teardown holds it; then the module fails naming the holder. From 0 to 604800.
    type: int
    default: 600
  wait:
    description:
      - With O(state=absent), wait until the namespace is gone (its content deleted and its finalizers
        done). With O(state=present), wait for a namespace that is being deleted to be gone before
        creating it again (without it the module fails on such a namespace).
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait, from 1 to 604800.
    type: int
    default: 300
  source_dir:
    description:
      - Directory holding C(continuous-pipe.yml), to compute the environment name from.
      - Required with O(branch) when O(name) is not given.
    type: path
    required: false
  branch:
    description:
      - Branch the environment is for (C(code_reference.branch) in expressions).
    type: str
    required: false
  flow_uuid:
    description:
      - ContinuousPipe flow UUID of the project, for the default environment name
        (C(<flow_uuid>-<branch>)), the C(flow) label, and the project the environment belongs to.
      - With O(source_dir) and without this option, it is derived from the checkout's git remote (see
        the deploy module). With only O(name), the namespace is not recorded as any project's, and a
        namespace that belongs to a project is only deleted when this option names that project.
    type: str
attributes:
  check_mode:
    support: full
    description: Server-side dry run of the create, label patch or delete request; nothing is waited for.
  diff_mode:
    support: full
    description: Shows the namespace name and labels before and after.
notes:
  - ContinuousPipe deleted the CloudFlare records and HttpLabs stacks of an environment before
    deleting it; this collection does not manage those services, so it does not.
  - The release history of the environment (Secrets in the namespace) is deleted with it.
seealso:
  - module: continuouspipe.kubernetes.environment_info
  - module: continuouspipe.kubernetes.deploy
"""

EXAMPLES = r"""
- name: Create the environment of a feature branch
  continuouspipe.kubernetes.environment:
    name: laravel-demo-feature-login
    flow_uuid: 0a1b2c3d-1111-2222-3333-444455556666

- name: Delete the environment of a deleted branch, named as deploy names it
  continuouspipe.kubernetes.environment:
    source_dir: "{{ playbook_dir }}/../app"
    branch: feature/login
    flow_uuid: 0a1b2c3d-1111-2222-3333-444455556666
    task: deployment
    state: absent
    wait_timeout: 600

- name: Delete a namespace that was never labelled as an environment
  continuouspipe.kubernetes.environment:
    name: legacy-review-app
    state: absent
    force: true
    kubeconfig: "{{ cluster_kubeconfig }}"
    context: production
"""

RETURN = r"""
name:
  description: Name of the environment (namespace).
  returned: always
  type: str
  sample: laravel-demo-feature-login
action:
  description:
    - What happened (or in check mode would happen) to the namespace.
    - V(created), V(updated) (labels added), V(unchanged), V(deleted), V(terminating) (its deletion was
      already in progress) or V(absent) (there was nothing to delete).
  returned: always
  type: str
  sample: created
namespace:
  description: The namespace after the change (before it, for a deletion); empty when there is none.
  returned: always
  type: dict
  contains:
    name:
      description: Name of the namespace.
      type: str
    labels:
      description: Its labels.
      type: dict
    phase:
      description: V(Active) or V(Terminating).
      type: str
    managed_by:
      description: V(continuouspipe.kubernetes), V(continuouspipe) (created by ContinuousPipe) or null.
      type: str
    created:
      description: Creation time.
      type: str
    uid:
      description: UID of the namespace.
      type: str
waited:
  description: Seconds spent waiting for the namespace to be deleted.
  returned: always
  type: float
  sample: 3.2
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import environment, module_support
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ContinuousPipeError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.naming import NamingError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.options import check_ranges
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.source import (
    SOURCE_ARGSPEC,
    load_from_params,
    project_identity,
    secret_values,
)


def argument_spec() -> dict:
    return module_support.argument_spec(
        SOURCE_ARGSPEC,
        module_support.OPTIONAL_PROJECT,
        name=dict(type="str", aliases=["namespace"]),
        task=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        force=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
        lock_timeout=dict(type="int", default=600),
    )


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_one_of=[("name", "source_dir")],
        required_together=[("source_dir", "branch")],
    )
    params = module.params
    name = params["name"]
    flow_uuid = params["flow_uuid"]
    with module_support.ModuleConnection(module, secret_values(params), errors=(ContinuousPipeError, NamingError),
                                         name=name) as session:
        check_ranges(params, names=("wait_timeout", "lock_timeout"))
        if params["source_dir"]:
            flow_uuid = project_identity(params)
            if not name:
                # names never need secret values: encrypted ones stand masked when not given
                name = session.failure["name"] = environment.project_environment_name(
                    load_from_params(dict(params, flow_uuid=flow_uuid), missing_secrets="mask"), params["task"])
        labels = environment.namespace_labels(name, flow_uuid)
        cluster = session.connect()
        if params["state"] == "present":
            outcome = environment.ensure_present(
                cluster, name, labels, check_mode=module.check_mode, force=params["force"],
                wait=params["wait"], wait_timeout=params["wait_timeout"], project=flow_uuid)
            shown = outcome.after
        else:
            outcome = environment.delete(
                cluster, name, force=params["force"], check_mode=module.check_mode, wait=params["wait"],
                wait_timeout=params["wait_timeout"], project=flow_uuid, lock_timeout=params["lock_timeout"])
            shown = outcome.before

    for warning in outcome.warnings:
        module.warn(warning)
    result = dict(changed=outcome.changed, name=name, action=outcome.action,
                  namespace=environment.namespace_summary(shown), waited=outcome.waited)
    if module._diff:
        result["diff"] = outcome.diff()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
