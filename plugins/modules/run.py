#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: run
short_description: Run commands once in a pod of an environment (ContinuousPipe's run task)
version_added: 0.2.0
description:
  - Runs shell commands in a one-off pod of an environment, waits for them to finish, returns their
    output, and deletes the pod, as ContinuousPipe's C(run) task did. The pod is a bare Pod named
    C(run-<task>) (slugified), with one container running C(sh -cex "<command 1>; <command 2>") and
    C(restartPolicy=Never). C(-e) stops at the first failing command, C(-x) echoes each one.
  - The task fails when the pod does not end C(Succeeded) (a command exited non-zero, or the pod was
    evicted), when it cannot start (invalid image, image pull back-off, missing Secret key), or when it
    does not finish within O(timeout).
  - The pod is watched (the API server tells when it changes), not polled, so its end is seen within
    moments.
  - The pod, and the Secret holding O(secret_environment), are deleted in every case — success,
    failure, timeout, Ctrl-C or SIGTERM. The Secret is owned by the pod, so the garbage collector
    deletes it with the pod even if the module process is killed.
  - An environment (namespace) that does not exist is created, with the labels the environment module
    gives it, as ContinuousPipe prepared the environment of a run like that of a deploy.
  - A pod of the same name that is running and ready is another run in progress; the module then fails
    at once. A leftover pod that is not running (finished, failed, pending) is deleted and replaced.
  - With the project (O(source_dir), O(branch)) the run task O(task) of C(continuous-pipe.yml) gives the
    image, commands, environment variables and volumes, and its environment (namespace) is computed
    like deploy does. The module's options override them. Without a run task of that name, O(image) or
    O(service) and O(commands) are needed.
  - Environment variables, in order of precedence (last wins) - the run task's variables, pipeline
    variables whose C(as_environment_variable) lists C(*), the task or the pod name (only when the task
    does not define them), C(SERVICE_<E>_PUBLIC_ENDPOINT) from O(deploy_variables) and for the
    environment's live public endpoints (see O(endpoint_variables); also only when not defined yet),
    O(environment), O(secret_environment).
author:
  - ContinuousPipe for Ansible maintainers (@continuouspipe)
extends_documentation_fragment:
  - continuouspipe.kubernetes.connection
  - continuouspipe.kubernetes.source
options:
  task:
    description:
      - Identifier of the run task. The pod is named C(run-<task>) (slugified, as ContinuousPipe did).
      - With the project, a run task of this identifier gives the defaults of the other options.
    type: str
    required: true
  namespace:
    description:
      - Environment (namespace) to run in. Default is computed from the project - the run task's
        C(environment.name), else the environment of the deploy task that has O(service), else the
        environment the deploy tasks share.
    type: str
  service:
    description:
      - Run with the image of this service (its key or identifier in a deploy task). With the project
        the image comes from the project (C(docker-compose.yml), O(images)); without it, from the
        service's workload running in O(namespace).
    type: str
  image:
    description:
      - Image to run. Wins over O(service) and the run task's image.
    type: str
  commands:
    description:
      - Shell commands, joined with C(; ) into C(sh -cex). Default is the run task's commands.
    type: list
    elements: str
  environment:
    description:
      - Environment variables of the container (override those of the project).
    type: dict
    default: {}
  secret_environment:
    description:
      - Environment variables whose values are secret. They are stored in a Secret C(run-<task>-env)
        (deleted with the pod) and referenced with C(secretKeyRef); the values never appear in the pod,
        the results or the logs of Ansible.
    type: dict
    default: {}
  volumes:
    description:
      - Extra pod volumes, in Kubernetes syntax (C(persistentVolumeClaim), C(configMap), C(secret),
        C(emptyDir)...), after the run task's volumes.
    type: list
    elements: dict
    default: []
  volume_mounts:
    description:
      - Extra volume mounts of the container, in Kubernetes syntax (C(name), C(mountPath), C(readOnly)).
    type: list
    elements: dict
    default: []
  labels:
    description:
      - Extra labels of the pod (the collection's own labels win).
    type: dict
    default: {}
  annotations:
    description:
      - Annotations of the pod (for example C(sidecar.istio.io/inject=false)).
    type: dict
    default: {}
  service_account:
    description:
      - Service account of the pod. Default is the namespace's C(default).
    type: str
  deploy_variables:
    description:
      - Deploy-time variables of earlier tasks, as ContinuousPipe passed them from task to task, for
        example the RV(continuouspipe.kubernetes.deploy#module:variables) of an earlier deploy.
        C(SERVICE_<E>_PUBLIC_ENDPOINT) are added to the environment (unless the task defines them) and
        substituted, with C(__TASK_<ID>_TARGET_ENVIRONMENT_NAME), inside the values of the project's
        variables. They win over the addresses found by O(endpoint_variables).
    type: dict
    default: {}
  tasks_context:
    description:
      - What earlier tasks exposed, for C(environment.name) expressions such as
        C(tasks.infrastructure.services.database.created), as the deploy module takes it.
    type: dict
    default: {}
  endpoint_variables:
    description:
      - Add C(SERVICE_<E>_PUBLIC_ENDPOINT) for each public endpoint of the environment that has an
        address (load balancers, ingress hosts, internal endpoints), and substitute
        C(${SERVICE_<E>_PUBLIC_ENDPOINT}) inside the values of the project's variables, as
        ContinuousPipe did for run tasks after deploy tasks.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the pod to finish, from its creation (pending time included), from 1 to
        604800.
    type: int
    default: 3600
  source_dir:
    description:
      - Directory holding C(continuous-pipe.yml). Optional - without it the run is described by the
        module's options alone.
    type: path
    required: false
  branch:
    description:
      - Branch of the project (C(code_reference.branch) in expressions). Required with O(source_dir).
    type: str
    required: false
attributes:
  check_mode:
    support: full
    description: Server-side dry run of the pod, its Secret and its volume claims; nothing runs.
  diff_mode:
    support: none
    description: A run changes nothing it could show as a diff.
notes:
  - The output is read from the Kubernetes API (C(pods/log)) once the pod has finished. Clusters that
    serve no logs (kwok, some virtual kubelets) give RV(output=null) and
    RV(output_available=false), with a warning; that alone does not fail the task.
  - It is a Pod, not a Job - there are no retries.
  - The C(filter) and C(cluster) of a run task are not evaluated - use C(when) and the connection
    options (or the inventory) for them.
  - A run always reports C(changed).
seealso:
  - module: continuouspipe.kubernetes.deploy
"""

EXAMPLES = r"""
- name: Run the project's migrations task (image, commands and variables from continuous-pipe.yml)
  continuouspipe.kubernetes.run:
    source_dir: "{{ playbook_dir }}/../app"
    branch: "{{ branch }}"
    flow_uuid: "{{ flow_uuid }}"
    task: migrations
    images:
      web: "registry.example.com/app/web:{{ git_sha }}"
  register: migrations

- name: Clear the cache with the image the web service runs in the environment
  continuouspipe.kubernetes.run:
    namespace: laravel-demo-main
    task: clear-cache
    service: web
    commands:
      - php artisan cache:clear
    secret_environment:
      APP_KEY: "{{ vault_app_key }}"
    timeout: 600

- name: Show what it printed
  ansible.builtin.debug:
    var: migrations.output_lines
"""

RETURN = r"""
pod:
  description: Name of the pod.
  returned: always
  type: str
  sample: run-migrations
namespace:
  description: Environment (namespace) the pod ran in.
  returned: always
  type: str
  sample: laravel-demo-main
image:
  description: Image of the pod.
  returned: always
  type: str
  sample: registry.example.com/app/web:4f2a1c
command:
  description: The container command.
  returned: always
  type: list
  elements: str
  sample: [sh, -cex, "php artisan migrate --force; php artisan db:seed"]
environment:
  description: The container's environment variables, names only.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Variable name.
      type: str
    secret:
      description: Whether the value is in the run's Secret.
      type: bool
    source:
      description: V(task), V(variable), V(deploy) (O(deploy_variables)), V(endpoint) or V(option).
      type: str
phase:
  description: Final phase of the pod (V(Succeeded), V(Failed)); the phase it had at a timeout; null in check mode.
  returned: always
  type: str
  sample: Succeeded
rc:
  description: Exit code of the container, when it terminated.
  returned: always
  type: int
  sample: 0
output:
  description: What the commands printed (stdout and stderr), the last MiB of it; null when the cluster serves no logs.
  returned: always
  type: str
output_lines:
  description: RV(output) split into lines.
  returned: always
  type: list
  elements: str
output_available:
  description: Whether the cluster gave the pod's output.
  returned: always
  type: bool
output_truncated:
  description: Whether the output was longer than 1 MiB (only its end is returned).
  returned: always
  type: bool
replaced:
  description: Whether a leftover pod of an earlier run was deleted first.
  returned: always
  type: bool
namespace_created:
  description: Whether the environment did not exist and was created (as for a deploy).
  returned: always
  type: bool
cleaned_up:
  description: Whether the pod and its Secret were deleted.
  returned: always
  type: bool
started:
  description: When the container started.
  returned: when the pod ran
  type: str
finished:
  description: When the container finished.
  returned: when the pod ran
  type: str
duration:
  description: Seconds from the creation of the pod to its end.
  returned: always
  type: float
timings:
  description:
    - Seconds spent creating the pod (C(create), from the start of the run, Secret and claims
      included), from its creation until its end was seen (C(wait), the end is watched, not polled),
      reading its output (C(output)) and deleting it (C(cleanup)); empty in check mode.
  returned: always
  type: dict
  sample: {"create": 0.03, "wait": 1.21, "output": 0.02, "cleanup": 0.01}
message:
  description: What happened, in one sentence.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import module_support, run
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ContinuousPipeError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.naming import NamingError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.options import check_ranges
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.source import (
    SOURCE_ARGSPEC,
    load_from_params,
    secret_values,
)


def argument_spec() -> dict:
    return module_support.argument_spec(
        SOURCE_ARGSPEC,
        module_support.OPTIONAL_PROJECT,
        task=dict(type="str", required=True),
        namespace=dict(type="str"),
        service=dict(type="str"),
        image=dict(type="str"),
        commands=dict(type="list", elements="str"),
        environment=dict(type="dict", default={}),
        secret_environment=dict(type="dict", default={}, no_log=True),
        volumes=dict(type="list", elements="dict", default=[]),
        volume_mounts=dict(type="list", elements="dict", default=[]),
        labels=dict(type="dict", default={}),
        annotations=dict(type="dict", default={}),
        service_account=dict(type="str"),
        endpoint_variables=dict(type="bool", default=True),
        deploy_variables=dict(type="dict", default={}),
        tasks_context=dict(type="dict", default={}),
        timeout=dict(type="int", default=3600),
    )


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        required_one_of=[("namespace", "source_dir")],
        required_together=[("source_dir", "branch")],
    )
    params = dict(module.params)
    with module_support.ModuleConnection(module, secret_values(params),
                                         errors=(ContinuousPipeError, NamingError)) as session:
        try:
            check_ranges(params, names=("timeout",))
            project = load_from_params(params) if params["source_dir"] else None
            if not params["namespace"]:
                # the namespace is computed (and checked) before anything is sent to the cluster
                params["namespace"] = run.environment_of(project, params["task"], params["service"],
                                                         params["tasks_context"])
            result = run.run_task(session.connect(), params, project, check_mode=module.check_mode, warn=module.warn,
                                  secrets=module.no_log_values.update)
        except run.RunError as error:
            module.fail_json(msg=str(error), **error.result)
        except (KeyboardInterrupt, run.Interrupted) as error:
            module.fail_json(msg="interrupted (%s); the pod and its Secret were deleted" % (error or "Ctrl-C"))
    module.exit_json(changed=True, **result.to_dict())


if __name__ == "__main__":
    main()
