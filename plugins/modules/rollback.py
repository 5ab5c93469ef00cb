#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: rollback
short_description: Return an environment to a release recorded by the deploy module
version_added: 0.2.0
description:
  - Every deploy of a task that changed something is recorded as a release in the environment's
    namespace (a Secret C(cp-release.<task>.v<N>) holding the applied manifests). This module puts the
    objects of one of those releases back, by default the release before the current one.
  - Objects that differ from the release are applied again (server-side apply), objects the task
    deployed later and the release does not hold are deleted (PersistentVolumeClaims only with
    O(prune_volumes)), and the workloads that changed are waited for, failing fast like
    M(continuouspipe.kubernetes.deploy).
  - The rollback itself is recorded as a new release (with C(rollback_of) set), which becomes the
    current one. Rolling back to the release the environment already runs changes nothing.
  - Unlike C(kubernetes.core.k8s_rollback) it returns every object of the task at once (Services,
    Ingresses, Secrets, workloads), to any recorded release, and it does not touch annotations it
    does not own. Pod templates are restored exactly, fields other field managers added (C(kubectl set
    env)) are removed (O(foreign_fields)).
  - It takes the environment's lock like M(continuouspipe.kubernetes.deploy) (only when there is
    something to write) and refuses an environment of another project unless O(take_over).
author:
  - ContinuousPipe for Ansible maintainers (@continuouspipe)
extends_documentation_fragment:
  - continuouspipe.kubernetes.connection
options:
  namespace:
    description:
      - The environment (namespace), as returned by M(continuouspipe.kubernetes.deploy).
    type: str
    required: true
  task:
    description:
      - Identifier of the deploy task whose release to return to.
    type: str
    required: true
  release:
    description:
      - Number of the release to return to (1 or more). Default is the last good release before the
        current one.
    type: int
  wait:
    description:
      - Wait until the restored workloads are rolled out.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for each workload (default 1800), from 1 to 604800.
    type: int
  prune:
    description:
      - Delete the task's objects that the release does not hold.
    type: bool
    default: true
  prune_volumes:
    description:
      - Also delete PersistentVolumeClaims that the release does not hold.
    type: bool
    default: false
  history_limit:
    description:
      - How many releases of the task to keep, from 1 to 1000.
    type: int
    default: 10
  concurrency:
    description:
      - How many objects of one phase are applied at the same time, from 1 to 64.
    type: int
    default: 8
  flow_uuid:
    description:
      - The project the environment belongs to. Default is the project recorded on the namespace (or,
        for an environment of an earlier version, in its releases).
    type: str
  take_over:
    description:
      - Roll back an environment that belongs to another project, or to nobody this collection knows.
    type: bool
    default: false
  foreign_fields:
    description:
      - Fields of a pod template set by other field managers, which the release does not hold -
        V(remove) them (default), V(fail), or V(keep) them. See M(continuouspipe.kubernetes.deploy).
    type: str
    choices: [remove, fail, keep]
    default: remove
  lock_timeout:
    description:
      - Seconds to wait for the environment's lock when another run holds it, from 0 to 604800.
    type: int
    default: 600
attributes:
  check_mode:
    support: full
    description: Every write is a server-side dry run; nothing is recorded.
  diff_mode:
    support: full
    description: Shows every object that would be changed, Secret values masked.
seealso:
  - module: continuouspipe.kubernetes.deploy
"""

EXAMPLES = r"""
- name: Go back to the previous release
  continuouspipe.kubernetes.rollback:
    namespace: "{{ application.namespace }}"
    task: application

- name: Go back to release 3, showing what changes
  continuouspipe.kubernetes.rollback:
    namespace: my-app-main
    task: application
    release: 3
  diff: true
"""

RETURN = r"""
changed:
  description: Whether anything was written.
  returned: always
  type: bool
namespace:
  description: The environment.
  returned: always
  type: str
  sample: my-app-main
release:
  description: The release recorded for this rollback (or the current release when nothing changed).
  returned: always
  type: int
  sample: 6
rolled_back_to:
  description: The release whose objects were restored.
  returned: success
  type: int
  sample: 4
objects:
  description: Every object of the release (and pruned ones) and what happened to it
    (C(kind), C(name), C(action)).
  returned: always
  type: list
  elements: dict
services:
  description: Per service, C(created), C(updated), C(deleted) and C(unchanged).
  returned: always
  type: dict
workloads:
  description: The workloads waited for and how long they took.
  returned: always
  type: list
  elements: dict
timings:
  description: Seconds spent in each phase.
  returned: always
  type: dict
diff:
  description: In diff mode, before and after of each changed object (Secret values masked).
  returned: diff mode
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import deploy as pipeline
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import module_support


def main():
    module = AnsibleModule(argument_spec=pipeline.ROLLBACK_ARGSPEC, supports_check_mode=True)
    out = module_support.deploy_result(module, pipeline.rollback)
    for key in ("task", "endpoints", "variables", "rolled_back"):
        out.pop(key, None)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
