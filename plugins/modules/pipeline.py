#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: pipeline
short_description: Run the pipeline of a branch on one Kubernetes cluster, task by task
version_added: 0.2.0
description:
  - Loads C(continuous-pipe.yml) and C(docker-compose.yml) once for a branch and runs the tasks of the
    pipelines whose condition holds, in order, on one cluster, the way a ContinuousPipe tide did; the
    C(continuouspipe.kubernetes.deploy) role runs it on each cluster of an inventory.
  - Each task's C(filter.expression) is evaluated against the results of the tasks before it
    (C(tasks.<id>.services.<service>.created)); a task whose filter is false is skipped.
  - Deploy tasks are deployed as M(continuouspipe.kubernetes.deploy) deploys them (server-side apply,
    rollout wait that fails fast, release history, rollback of the task on failure, pruning), with
    the public endpoints of earlier deploy tasks (C(SERVICE_<NAME>_PUBLIC_ENDPOINT)) and their
    namespaces (C(__TASK_<ID>_TARGET_ENVIRONMENT_NAME)) as deploy-time variables. Run tasks run as
    M(continuouspipe.kubernetes.run) runs them, in the namespace of the earlier deploy task with the
    same C(environment.name). Build, wait, manual_approval, web_hook and delete tasks are reported as
    skipped, with what to use instead.
  - A failing task stops the pipeline; the module then fails with that task's error (after the task
    was rolled back, per O(rollback)) and returns the outcome so far.
  - One connection to the cluster serves the whole pipeline. When the task runs in the controller's
    process (see the notes), one line per pipeline task is printed as it ends, and the rollouts'
    progress while they are waited for.
author:
  - ContinuousPipe for Ansible maintainers (@continuouspipe)
extends_documentation_fragment:
  - continuouspipe.kubernetes.source
  - continuouspipe.kubernetes.connection
  - continuouspipe.kubernetes.platform
options:
  cluster:
    description:
      - Name of this cluster, for messages and the outcome (the role gives the inventory host name),
        and the default of O(cluster_names).
    type: str
    default: ''
  pipeline:
    description:
      - Only this pipeline (default every pipeline whose condition holds).
    type: str
  only_tasks:
    description:
      - Only these task identifiers; the others are reported as skipped.
    type: list
    elements: str
    default: []
  preflight:
    description:
      - Dry run - deploy tasks in check mode (server-side dry run, which also checks the permissions
        of the credential), run tasks not run, nothing written. Check mode does the same.
    type: bool
    default: false
  wait:
    description: Wait for the rollouts of deploy tasks.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for each workload; V(0) for ContinuousPipe's formula per service.
    type: int
    default: 0
  endpoint_timeout:
    description: Seconds to wait for the address of each public endpoint.
    type: int
    default: 900
  rollback:
    description: What a failing deploy task does (see the deploy module's C(rollback)).
    type: str
    choices: [release, revision, none]
    default: release
  prune:
    description: Delete the objects a deploy task no longer renders.
    type: bool
    default: true
  run_timeout:
    description: Seconds a run task may take.
    type: int
    default: 3600
  match_cluster:
    description: Skip the tasks whose C(cluster) is set and is not one of O(cluster_names).
    type: bool
    default: true
  cluster_names:
    description:
      - Names a task's C(cluster) may use for this cluster (default O(cluster)).
    type: list
    elements: str
    default: []
  previous_releases:
    description:
      - Per deploy task, the release its environment ran before this run (C(release),
        C(namespace_created)), as a preflight recorded it (its RV(releases)); kept in RV(tasks) for
        fleet-atomic rollbacks.
    type: dict
    default: {}
  progress_interval:
    description:
      - While rollouts are waited for, print a progress line at most every that many seconds;
        V(0) prints none (the line of each task is still printed).
    type: int
    default: 10
  allow_empty_services:
    description:
      - Deploy a task that has no service to deploy for this branch, which with O(prune) deletes every
        workload and Service of the task from the environment (see the deploy module).
      - By default such a task is an error naming its C(services), before anything is sent to the cluster.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: A dry run, as O(preflight); RV(changed) says whether a real run would change anything.
  diff_mode:
    support: full
    description: Shows every object the deploy tasks create, update or delete, Secret values masked.
  platform:
    support: full
    platforms: posix
requirements:
  - kubernetes
  - PyYAML
notes:
  - When the task's connection is local and nothing asks for privilege escalation, the module runs
    inside the controller's Ansible process (see M(continuouspipe.kubernetes.deploy)); set
    C(continuouspipe_in_process=false) to run it as an ordinary module (no progress is printed then).
  - Secret values (from O(secret_variables), and a run task's secret environment) never appear in
    results, diffs or progress lines.
seealso:
  - module: continuouspipe.kubernetes.deploy
  - module: continuouspipe.kubernetes.run
  - module: continuouspipe.kubernetes.pipeline_info
"""

EXAMPLES = r"""
- name: Run the pipeline of the branch on the cluster of each host
  continuouspipe.kubernetes.pipeline:
    source_dir: "{{ checkout_dir }}"
    branch: feature/login
    sha: "{{ commit }}"
    cluster: "{{ inventory_hostname }}"
    kubeconfig: ~/.kube/config
    context: "{{ inventory_hostname }}"
    secret_variables:
      DATABASE_PASSWORD: "{{ vault_database_password }}"
  register: deploy_outcome

- name: A dry run of the deploy tasks only
  continuouspipe.kubernetes.pipeline:
    source_dir: app
    branch: main
    preflight: true
    only_tasks: [infrastructure, application]
"""

RETURN = r"""
changed:
  description:
    - Whether any task changed the cluster. In check mode, whether a real run would; in a
      O(preflight) outside check mode, false.
  returned: always
  type: bool
cluster:
  description: O(cluster).
  returned: always
  type: str
  sample: aws-eu
preflight:
  description: Whether this was a dry run (O(preflight) or check mode).
  returned: always
  type: bool
flow_uuid:
  description: The project's identity (its flow UUID), which owns the environments it deploys.
  returned: when the project could be loaded
  type: str
  sample: 5ea0c0de-0000-4000-8000-00000000d3e0
status:
  description: V(deployed) (something changed), V(unchanged), V(checked) (a dry run) or V(failed).
  returned: always
  type: str
  sample: deployed
tasks:
  description:
    - One entry per pipeline task, in order, up to the failing one.
    - C(task), C(type), C(status) (V(deployed), V(unchanged), V(would change), V(ran), V(skipped),
      V(failed)), C(changed), C(reason) (why skipped, the run's message, the error).
    - For deploy tasks also C(namespace), C(release), C(services) (per service C(created),
      C(updated), C(deleted), C(unchanged)), C(endpoints), and for fleet-atomic rollbacks
      C(previous_release), C(previous_known), C(namespace_created).
    - For run tasks C(namespace) and C(duration); for the failed task C(rolled_back) and
      C(rolled_back_to).
  returned: always
  type: list
  elements: dict
  sample:
    - {task: infrastructure, type: deploy, status: unchanged, changed: false, namespace: shop-main, release: 3}
    - {task: migrations, type: run, status: skipped, changed: false,
       reason: "its filter is false: tasks.infrastructure.services.database.created"}
endpoints:
  description: The public endpoints of the deploy tasks (C(name), C(address), C(task), C(namespace), ...).
  returned: always
  type: list
  elements: dict
namespaces:
  description: The environments (namespaces) deployed to.
  returned: always
  type: list
  elements: str
  sample: [shop-main]
releases:
  description: Per deploy task, C(namespace), C(release) and C(namespace_created) (for O(previous_releases)).
  returned: always
  type: dict
  sample: {application: {namespace: shop-main, release: 4, namespace_created: false}}
error:
  description: The error of the failed task.
  returned: failure
  type: str
failed_task:
  description: Identifier of the failed task (empty when the pipeline failed before its first task).
  returned: failure
  type: str
rolled_back:
  description: Whether the failed deploy task was rolled back.
  returned: failure
  type: bool
rolled_back_to:
  description: The release the failed deploy task was rolled back to.
  returned: failure
  type: int
diff:
  description: In diff mode, one entry per created, updated or deleted object of the deploy tasks.
  returned: diff mode
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import pipeline, progress
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import module_support
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.naming import NamingError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ContinuousPipeError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.source import secret_values


def main():
    module = AnsibleModule(argument_spec=pipeline.ARGSPEC, supports_check_mode=True)
    with module_support.ModuleConnection(module, secret_values(module.params), errors=(ContinuousPipeError, NamingError),
                                         changed=False) as session:
        runner = pipeline.PipelineRun(module.params, session.connect, check_mode=module.check_mode, diff=module._diff,
                                      report=progress.reporter(), warn=module.warn,
                                      add_secrets=module.no_log_values.update)
        try:
            runner.run()
        except pipeline.PipelineFailed as error:
            module.fail_json(msg=str(error), **runner.result())
    module.exit_json(**runner.result())


if __name__ == "__main__":
    main()
