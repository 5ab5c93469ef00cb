# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module options that say which project and commit to work from (doc fragment ``source``).

Shared by the render, deploy and run modules: option spec, and the translation of the options into
a ``model.Release`` and the loader's ``LoadOptions``.
"""
from __future__ import annotations

from typing import List, Optional

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import identity, model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.loader import (
    LoadOptions,
    load_project,
)
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

SOURCE_ARGSPEC = dict(
    source_dir=dict(type="path", required=True),
    branch=dict(type="str", required=True),
    sha=dict(type="str", default=""),
    # checked by pull_request_of(): ansible-core's suboption validation raises a TypeError (a
    # traceback) when a dict option with suboptions is given a boolean or a number
    pull_request=dict(type="dict"),
    flow_uuid=dict(type="str"),
    flow_configuration=dict(type="dict"),
    variables=dict(type="dict", default={}),
    secret_variables=dict(type="dict", default={}, no_log=True),
    undefined_variables=dict(type="str", choices=["error", "keep"], default="error"),
    images=dict(type="dict", default={}),
    changed_files=dict(type="list", elements="str"),
    duplicate_keys=dict(type="str", choices=["first", "error"], default="first"),
    secrets_in_plain_fields=dict(type="str", choices=["error", "warn"], default="error"),
    allow_untagged_images=dict(type="bool", default=False),
    allow_host_access=dict(type="bool", default=False),
)


def project_identity(params: dict, warnings: Optional[List[str]] = None) -> str:
    """The project's flow UUID (``identity.flow_uuid``).

    With ``warnings`` (a module that writes nothing to a cluster), a project whose identity cannot be
    told gets the checkout directory's name-based UUID and a warning; otherwise it is an error naming
    the ``flow_uuid`` option.
    """
    try:
        return identity.flow_uuid(params["source_dir"], params.get("flow_uuid"))
    except identity.IdentityError as error:
        if warnings is None:
            raise DefinitionError(str(error), ("flow_uuid",), expected="the project's flow UUID")
        warnings.append("%s. Environment names shown here use %s until then"
                        % (error, identity.legacy_flow_uuid(params["source_dir"])))
        return identity.legacy_flow_uuid(params["source_dir"])


def pull_request_of(params: dict) -> model.PullRequest:
    """The ``pull_request`` option: ``{number, title, labels}``, each checked (DefinitionError naming it)."""
    pull_request = params.get("pull_request") or {}
    if not isinstance(pull_request, dict):
        raise DefinitionError("Invalid type", path=("pull_request",), expected="a mapping with number, title, labels")
    unknown = sorted(str(key) for key in pull_request if key not in ("number", "title", "labels"))
    if unknown:
        raise DefinitionError("Unknown key(s) %s" % ", ".join(unknown), path=("pull_request",),
                              expected="number, title and labels")
    number = pull_request.get("number")
    if number is None or number == "":
        number = 0
    if isinstance(number, str) and number.strip().isdigit():
        number = int(number.strip())
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 2 ** 31 - 1:
        raise DefinitionError("pull_request.number %r is out of range" % (number,), path=("pull_request", "number"),
                              expected="0 (no pull request) or a pull request number")
    title = pull_request.get("title")
    if title is None:
        title = ""
    if isinstance(title, bool) or not isinstance(title, (str, int, float)):
        raise DefinitionError("Invalid type", path=("pull_request", "title"), expected="a string")
    labels = pull_request.get("labels")
    if labels is None:
        labels = []
    if isinstance(labels, str):
        labels = [label.strip() for label in labels.split(",") if label.strip()]
    if not isinstance(labels, list) or not all(isinstance(label, (str, int, float)) and not isinstance(label, bool)
                                               for label in labels):
        raise DefinitionError("Invalid type", path=("pull_request", "labels"), expected="a list of label names")
    return model.PullRequest(number=number, title=str(title), labels=tuple(str(label) for label in labels))


def release_from_params(params: dict, warnings: Optional[List[str]] = None) -> model.Release:
    return model.Release(
        flow_uuid=project_identity(params, warnings),
        code_reference=model.CodeReference(
            branch=params["branch"],
            sha=params.get("sha") or "",
            pull_request=pull_request_of(params),
        ),
    )


def load_options_from_params(params: dict, missing_secrets: str = "error") -> LoadOptions:
    return LoadOptions(
        missing_secrets=missing_secrets,
        flow_configuration=params.get("flow_configuration"),
        variables=dict(params.get("variables") or {}),
        secret_variables=dict(params.get("secret_variables") or {}),
        undefined_variables=params.get("undefined_variables") or "error",
        images=dict(params.get("images") or {}),
        changed_files=params.get("changed_files"),
        duplicate_keys=params.get("duplicate_keys") or "first",
        secrets_in_plain_fields=params.get("secrets_in_plain_fields") or "error",
        allow_untagged_images=bool(params.get("allow_untagged_images")),
        # modules that only need names ("mask": pipeline_info, a teardown) create no pod: nothing to refuse
        allow_host_access=bool(params.get("allow_host_access")) or missing_secrets == "mask",
    )


def load_from_params(params: dict, warnings: Optional[List[str]] = None, missing_secrets: str = "error") -> model.Project:
    """Load the project the module options describe (raises DefinitionError on bad input).

    ``warnings``: see :func:`project_identity`. ``missing_secrets="mask"``: encrypted values without
    their ``secret_variables`` stand masked (for modules that only need names).
    """
    return load_project(params["source_dir"], release_from_params(params, warnings),
                        load_options_from_params(params, missing_secrets))


def secret_values(params: dict) -> list:
    """Every secret string a module must keep out of its results (for ``no_log_values``)."""
    values = []
    for value in (params.get("secret_variables") or {}).values():
        if value is not None and str(value) != "":
            values.append(str(value))
    return values
