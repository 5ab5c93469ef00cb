# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # Options that say which project, which commit and which variables a module works from.
    DOCUMENTATION = r"""
options:
  source_dir:
    description:
      - Directory holding C(continuous-pipe.yml) and, optionally, C(docker-compose.yml) and
        C(docker-compose.<branch>.yml) (the raw branch name, as ContinuousPipe read it).
    type: path
    required: true
  branch:
    description:
      - Branch being deployed (C(code_reference.branch) in expressions). Used for environment names,
        host names and C(docker-compose.<branch>.yml).
    type: str
    required: true
  sha:
    description:
      - Commit being deployed (C(code_reference.sha) in expressions).
    type: str
    default: ''
  pull_request:
    description:
      - The pull request of the branch, if any (C(pull_request) in expressions), a mapping of
        C(number) (an integer, default V(0)), C(title) (a string, default empty) and C(labels) (a
        list of label names, default empty). Any other key, or a value of another type, is an error
        naming it.
    type: dict
  flow_uuid:
    description:
      - ContinuousPipe flow UUID of the project, the project's identity. Default environment names are
        C(<flow_uuid>-<branch>), and every environment and object the collection writes is recorded as
        this project's (a project never writes into another project's environment). Set it to the
        flow's UUID to keep the namespaces ContinuousPipe created.
      - When omitted, it is derived from the git remote of the checkout (C(origin), followed through a
        local mirror or AWX's project cache when readable) and the path of I(source_dir) in the
        repository, so every checkout of one repository is one project and two repositories are never
        one, whatever their directories are called. When that cannot be told (no git remote; an AWX
        job in an execution environment), modules that write to a cluster fail and ask for it; set it
        in the job template or inventory. Earlier versions used the name of I(source_dir), which made
        every AWX project (checked out in C(project)) one project; to keep the environments they
        created, set this option to that UUID (the error message shows it).
    type: str
  flow_configuration:
    description:
      - Flow-level configuration (what ContinuousPipe stored in its UI), merged under
        C(continuous-pipe.yml), which wins.
    type: dict
  variables:
    description:
      - Variables for C(${NAME}) substitution, overriding the file's variables of the same name.
    type: dict
    default: {}
  secret_variables:
    description:
      - Variables whose values are secret (passwords, tokens). They are substituted like
        I(variables), but any environment value built from them is stored in a Secret and referenced
        with C(secretKeyRef); values never appear in results, diffs or logs.
      - This is also how the value of a ContinuousPipe C(encrypted_value) variable is given (same name).
    type: dict
    default: {}
  undefined_variables:
    description:
      - What to do with a C(${NAME}) that no variable defines and that has no C(?:default).
      - C(error) (default) fails before anything is rendered or written, naming the key path.
      - C(keep) leaves the text verbatim as ContinuousPipe did (an undefined password then reaches the
        container as the literal C(${NAME})).
      - Deploy-time names (C(SERVICE_<X>_PUBLIC_ENDPOINT), C(ENDPOINT_<X>_PUBLIC_ENDPOINT),
        C(__TASK_<ID>_TARGET_ENVIRONMENT_NAME)) are always kept for later substitution.
    type: str
    choices: [error, keep]
    default: error
  images:
    description:
      - Image reference per service name (for example built by your CI), overriding what
        C(docker-compose.yml) or a C(build) task would give.
    type: dict
    default: {}
  changed_files:
    description:
      - Files changed by the commit, relative to I(source_dir), for the C(has_changes_for_files())
        function of pipeline conditions and task filters. Without it, an expression calling that
        function fails with a clear error.
    version_added: 0.2.0
    type: list
    elements: str
  duplicate_keys:
    description:
      - What to do with a key repeated in the same YAML mapping.
      - C(first) keeps the first one and warns, as ContinuousPipe (Symfony YAML 3.4) did.
      - C(error) refuses the file.
    version_added: 0.2.0
    type: str
    choices: [first, error]
    default: first
  secrets_in_plain_fields:
    description:
      - What to do when the value of a secret variable (I(secret_variables), C(encrypted_value)) ends
        up in a field that is not stored in a Secret, such as an image tag, a command, an exec probe,
        a host name, an annotation or the environment name. Such a value is written in clear into
        the cluster.
      - C(error) (default) fails before anything is rendered, written or sent, naming each key path.
      - C(warn) goes on with a warning naming each key path; the value is then written in clear into
        the cluster, and masked in rendered files (unless they are written with their secrets) and
        in results.
      - Secret variables belong in environment variable values and TLS certificates, which are
        stored in Secrets.
    type: str
    choices: [error, warn]
    default: error
  allow_untagged_images:
    description:
      - Deploy an image with an empty tag, which the registry resolves to C(latest), as ContinuousPipe
        did.
      - By default an empty tag is an error naming its key path - a C(tag) that is empty once
        variables are substituted, or an image built by a C(build) task without I(sha) (the default
        tag of a built image is the commit SHA), so that a forgotten I(sha) never deploys C(latest).
      - An image without a C(tag) key (an C(image) of C(docker-compose.yml) written without a tag)
        is not concerned.
    type: bool
    default: false
  allow_host_access:
    description:
      - Accept what gives a container the node itself - a privileged container
        (C(runtime_policy.privileged), C(privileged) in C(docker-compose.yml)) and C(hostPath) volumes
        (also those C(docker-compose.yml) absolute volume mappings become) - as ContinuousPipe did.
      - By default each is an error naming its key path, before anything is rendered or sent, since
        whoever can push a branch controls these files.
      - Only for repositories trusted with the nodes (and clusters that admit such pods; Pod Security
        admission C(baseline) and OpenShift's C(restricted-v2) refuse them).
    type: bool
    default: false
"""
