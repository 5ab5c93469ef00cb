#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: pipeline_info
short_description: The ordered tasks a ContinuousPipe project runs for a branch
version_added: 0.2.0
description:
  - Loads C(continuous-pipe.yml) and C(docker-compose.yml) for one branch, like the
    M(continuouspipe.kubernetes.render) module, and returns the plan of the pipelines whose
    condition holds, without talking to any cluster. This is what the C(deploy) role iterates over.
  - "Each task comes with its type (C(deploy), C(run), or one this collection does not execute:
    C(build), C(wait), C(manual_approval), C(web_hook), C(delete)), its C(filter) expression (to be
    evaluated when the task is reached, against the results of the earlier tasks, with the
    C(continuouspipe.kubernetes.task_filter) filter), its C(cluster) and its environment name
    expression."
  - Bad input fails with the file and key path of the offending value.
author:
  - ContinuousPipe for Ansible maintainers (@continuouspipe)
extends_documentation_fragment:
  - continuouspipe.kubernetes.source
options:
  pipeline:
    description:
      - Name of the pipeline to return. Default is every pipeline whose condition holds, in order
        (ContinuousPipe ran one tide per such pipeline).
    type: str
attributes:
  check_mode:
    support: full
    description: Reads files only.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
  platform:
    support: full
    platforms: posix
    description: Runs on the control node.
requirements:
  - PyYAML
seealso:
  - module: continuouspipe.kubernetes.render
  - module: continuouspipe.kubernetes.deploy
  - module: continuouspipe.kubernetes.run
"""

EXAMPLES = r"""
- name: Plan the pipeline of the branch
  continuouspipe.kubernetes.pipeline_info:
    source_dir: "{{ checkout_dir }}"
    branch: feature/login
    sha: "{{ commit }}"
  register: plan

- name: Show the plan
  ansible.builtin.debug:
    msg: "{{ item.identifier }} ({{ item.type }}){{ ' if ' ~ item.filter if item.filter else '' }}"
  loop: "{{ plan.tasks }}"
  loop_control:
    label: "{{ item.identifier }}"
"""

RETURN = r"""
release:
  description: What expressions see as C(code_reference), C(flow) and C(pull_request).
  returned: success
  type: dict
  contains:
    flow_uuid:
      description: The flow UUID (given, or derived from the name of I(source_dir)).
      type: str
    branch:
      description: The branch.
      type: str
    sha:
      description: The commit.
      type: str
    pull_request:
      description: C(number), C(title) and C(labels) of the pull request (number 0 without one).
      type: dict
pipelines:
  description: Names of the pipelines whose condition holds, in order.
  returned: success
  type: list
  elements: str
  sample: [Default pipeline]
tasks:
  description: Every task of those pipelines, in the order they run.
  returned: success
  type: list
  elements: dict
  contains:
    pipeline:
      description: Name of the pipeline the task belongs to.
      type: str
    identifier:
      description: The task identifier (C(tasks.<identifier>) in expressions).
      type: str
      sample: infrastructure
    type:
      description: C(deploy), C(run), C(build), C(wait), C(manual_approval), C(web_hook) or C(delete).
      type: str
    executable:
      description: Whether this collection runs the task (C(deploy) and C(run) tasks).
      type: bool
    filter:
      description: The filter expression, or null.
      type: str
      sample: tasks.infrastructure.services.database.created
    cluster:
      description: The task's C(cluster) value (empty for none), for deploy, run and delete tasks.
      type: str
    environment_name:
      description: The C(environment.name) expression, or null for the default name.
      type: str
    services:
      description: Component identifiers of a deploy task's services (empty for other tasks).
      type: list
      elements: str
    image:
      description: Image of a run task.
      type: str
    commands:
      description: Commands of a run task.
      type: list
      elements: str
    configuration:
      description: Configuration of a task this collection does not run (secret values masked).
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ContinuousPipeError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.source import (
    SOURCE_ARGSPEC,
    load_from_params,
    secret_values,
)


def describe_task(pipeline: str, task) -> dict:
    entry = {
        "pipeline": pipeline,
        "identifier": task.identifier,
        "type": task.type,
        "executable": isinstance(task, (model.DeployTask, model.RunTask)),
        "filter": task.filter,
        "cluster": getattr(task, "cluster", "") or "",
        "environment_name": getattr(task, "environment_name", None),
        "services": [],
    }
    if isinstance(task, model.DeployTask):
        entry["services"] = [service.identifier for service in task.services]
    elif isinstance(task, model.RunTask):
        entry["image"] = task.image
        entry["commands"] = list(task.commands)
    elif isinstance(task, model.OtherTask):
        configuration = model.to_dict(task.configuration) or {}
        entry["configuration"] = configuration
        if task.type == "delete" and isinstance(configuration, dict):
            entry["cluster"] = str(configuration.get("cluster") or "")
    return entry


def main():
    argument_spec = dict(SOURCE_ARGSPEC)
    argument_spec.update(pipeline=dict(type="str"))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    module.no_log_values.update(secret_values(module.params))

    try:
        # planning needs no secret value: encrypted ones stand masked when not given
        project = load_from_params(module.params, missing_secrets="mask")
    except ContinuousPipeError as error:
        module.fail_json(msg=str(error))

    wanted = module.params["pipeline"]
    pipelines = list(project.pipelines)
    if wanted:
        pipelines = [pipeline for pipeline in pipelines if pipeline.name == wanted]
        if not pipelines:
            module.fail_json(msg="no pipeline %r holds for branch %r; the pipelines whose condition holds: %s" % (
                wanted, project.release.branch, ", ".join(p.name for p in project.pipelines) or "none"))

    tasks = []
    for pipeline in pipelines:
        for task in pipeline.tasks:
            tasks.append(describe_task(pipeline.name, task))

    code_reference = project.release.code_reference
    release = {
        "flow_uuid": project.release.flow_uuid,
        "branch": code_reference.branch,
        "sha": code_reference.sha,
        "pull_request": {
            "number": code_reference.pull_request.number,
            "title": code_reference.pull_request.title,
            "labels": list(code_reference.pull_request.labels),
        },
    }
    module.exit_json(changed=False, release=release, pipelines=[p.name for p in pipelines], tasks=tasks)


if __name__ == "__main__":
    main()
