#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: render
short_description: Render the Kubernetes manifests of a ContinuousPipe project's deploy tasks
version_added: 0.1.0
description:
  - Loads C(continuous-pipe.yml) and C(docker-compose.yml) (plus C(docker-compose.<branch>.yml))
    for one branch, resolves variables, pipelines and conditions the way ContinuousPipe did, and
    translates every deploy task into the Kubernetes objects of its environment (namespace).
  - Nothing is sent to a cluster. With I(output_dir), one multi-document YAML file is written per
    deploy task, at C(<output_dir>/<namespace>/<task>.yml), objects in apply order.
  - Endpoints reached over HTTP are rendered for O(platform) (Ingresses, Gateway API HTTPRoutes or
    OpenShift Routes); the result says which.
  - Bad input fails before anything is written, with the file and key path of the offending value.
  - Nothing is written outside I(output_dir) whatever the project says; a deploy task identifier
    that is not a plain file name (a C(/), a leading C(.), a control character) is an error naming
    it. An earlier file is read back only when it is a regular file (a symbolic link at its place
    is replaced, never written through).
author:
  - ContinuousPipe for Ansible maintainers (@continuouspipe)
extends_documentation_fragment:
  - continuouspipe.kubernetes.source
  - continuouspipe.kubernetes.platform
options:
  tasks:
    description:
      - Identifiers of the deploy tasks to render. Default is every deploy task of the pipelines
        whose condition holds for the branch, whatever their filters.
      - I(task) is an alias, so C(task=application) works as it does for the deploy module (one
        identifier, or several separated by commas).
    type: list
    elements: str
    aliases: [task]
  output_dir:
    description:
      - Directory to write the manifests to. Without it the module only returns them.
    type: path
  include_secrets:
    description:
      - Write the real values of Secret objects to the files (created with mode 0600).
      - By default Secret values are masked in the files as they always are in the results, so the
        files are safe to share but their Secrets are not applicable as they are. The pod checksum
        annotations (C(continuouspipe.io/checksum)), computed from the Secret values, are masked
        wherever the values are.
      - A secret variable's value that the project puts outside a Secret (only possible with
        I(secrets_in_plain_fields=warn)) is masked wherever it appears in the files and results,
        unless the files are written with their secrets.
    type: bool
    default: false
  return_objects:
    description:
      - Return the manifests in RV(environments[].objects).
      - Default is true without O(output_dir) (the manifests are the result) and false with it (they
        are in the files; sending thousands of objects back to the controller costs more than
        rendering them).
    type: bool
  checksum_key:
    description:
      - Key of the pod checksums (HMAC-SHA256 over the Secrets a pod references), for files applied
        with the real Secret values.
      - By default the key already kept in an earlier file of the task (its Secret
        C(cp-checksum-key.<task>)) is used again, else a new random one; give a fixed key when the
        files are rendered afresh for every C(kubectl apply), or every apply would roll the pods
        that reference Secrets.
    version_added: 0.2.0
    type: str
attributes:
  check_mode:
    support: full
    description: Computes which files would change and writes nothing.
  diff_mode:
    support: full
    description: Shows the change of every written file, Secret values masked.
  platform:
    support: full
    platforms: posix
    description: Runs on the control node or wherever the task is delegated.
requirements:
  - PyYAML
notes:
  - Task filters are not evaluated (they may depend on the results of earlier tasks); each rendered
    task reports its filter.
seealso:
  - module: continuouspipe.kubernetes.deploy
"""

EXAMPLES = r"""
- name: Render the manifests of the feature branch
  continuouspipe.kubernetes.render:
    source_dir: "{{ playbook_dir }}/../app"
    branch: feature/login
    sha: "{{ lookup('env', 'GIT_COMMIT') }}"
    output_dir: /tmp/manifests
  register: rendered

- name: Show the namespaces
  ansible.builtin.debug:
    msg: "{{ rendered.environments | map(attribute='namespace') | list }}"

- name: Render one task with a secret database password
  continuouspipe.kubernetes.render:
    source_dir: app
    branch: main
    task: application
    variables:
      CLUSTER: production
    secret_variables:
      DATABASE_PASSWORD: "{{ vault_database_password }}"
"""

RETURN = r"""
environments:
  description: One entry per rendered deploy task, in pipeline order.
  returned: success
  type: list
  elements: dict
  contains:
    task:
      description: Identifier of the deploy task.
      type: str
      sample: application
    cluster:
      description: The task's C(cluster) value, variables substituted.
      type: str
      sample: production
    namespace:
      description: Name of the environment (namespace).
      type: str
      sample: laravel-demo-feature-login
    filter:
      description: The task's filter expression, if it has one (not evaluated by this module).
      type: str
      sample: tasks.infrastructure.services.database.created
    services:
      description: Component identifiers of the task's services.
      type: list
      elements: str
      sample: [web, redis]
    file:
      description: Path of the written file, or null without I(output_dir).
      type: str
      sample: /tmp/manifests/laravel-demo-feature-login/application.yml
    objects:
      description: The manifests, Secret values masked.
      type: list
      elements: dict
      returned: when O(return_objects) is true (by default, without O(output_dir))
    object_count:
      description: How many objects the environment has.
      type: int
      sample: 9
files:
  description: Paths of the files that were (or in check mode would be) written or changed.
  returned: success
  type: list
  elements: str
  sample: [/tmp/manifests/laravel-demo-feature-login/application.yml]
platform:
  description:
    - The platform the endpoints were rendered for (O(platform)) and why; without a cluster V(auto) is
      V(gateway) when O(gateway) is given, else V(kubernetes).
  returned: success
  type: dict
  sample: {"name": "kubernetes", "chosen": "auto without a cluster: Kubernetes Ingresses"}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ContinuousPipeError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import render
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import platform as platforms
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.translate.plans import TranslateOptions
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.manifests import HAS_YAML
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.source import (
    SOURCE_ARGSPEC,
    secret_values,
)


def main():
    argument_spec = dict(SOURCE_ARGSPEC)
    argument_spec.update(
        tasks=dict(type="list", elements="str", aliases=["task"]),
        output_dir=dict(type="path"),
        include_secrets=dict(type="bool", default=False),
        checksum_key=dict(type="str", no_log=True),
        return_objects=dict(type="bool"),
    )
    argument_spec.update(platforms.PLATFORM_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    module.no_log_values.update(secret_values(module.params))

    output_dir = module.params["output_dir"]
    include_secrets = module.params["include_secrets"]
    return_objects = module.params["return_objects"]
    if return_objects is None:
        return_objects = not output_dir
    fixed_key = module.params["checksum_key"]

    def checksum_key(task, namespace):
        if fixed_key:
            return fixed_key.encode("utf-8")
        if output_dir and include_secrets:
            return render.kept_checksum_key(render.read_text(render.task_path(output_dir, namespace, task)),
                                            task.identifier)
        return None  # a throw-away key: the checksums are masked

    identity_warnings = []
    try:
        # rendering writes nothing to a cluster: an unknown project identity is only a warning here
        platform, chosen = platforms.without_cluster(module.params)
        project, rendered = render.load_and_render(module.params, module.params["tasks"], checksum_key=checksum_key,
                                                   options=TranslateOptions(platform=platform),
                                                   warnings=identity_warnings)
        # every path is checked before anything is written
        paths = [render.task_file(output_dir, item) if output_dir else None for item in rendered]
    except ContinuousPipeError as error:
        module.fail_json(msg=str(error))
    for warning in identity_warnings + list(project.warnings):
        module.warn(warning)

    environments, files, diffs = [], [], []
    for item, path in zip(rendered, paths):
        if path:
            content = render.file_content(item, include_secrets)
            before = render.read_text(path)
            if before != content:
                files.append(path)
                shown = content if not include_secrets else render.file_content(item, False)
                diffs.append(dict(before_header=path, after_header=path,
                                  before=before if not include_secrets else "", after=shown))
                if not module.check_mode:
                    try:
                        render.write_text(path, content, 0o600 if include_secrets else 0o644, output_dir)
                    except ContinuousPipeError as error:
                        module.fail_json(msg=str(error), changed=len(files) > 1, files=files[:-1])
                    except OSError as error:
                        module.fail_json(msg="cannot write %s: %s" % (path, error.strerror or error),
                                         changed=len(files) > 1, files=files[:-1])
        environments.append(item.summary(path, with_objects=return_objects))

    result = dict(changed=bool(files), environments=environments, files=files,
                  platform=platforms.describe(platform, chosen))
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
