# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module options that say which project and commit to work from (doc fragment ``source``).

Shared by the render, deploy and run modules: option spec, and the translation of the options into
a ``model.Release`` and the loader's ``LoadOptions``.
"""
from __future__ import annotations

import os
import uuid

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.loader import (
    LoadOptions,
    load_project,
)

SOURCE_ARGSPEC = dict(
    source_dir=dict(type="path", required=True),
    branch=dict(type="str", required=True),
    sha=dict(type="str", default=""),
    pull_request=dict(
        type="dict",
        options=dict(
            number=dict(type="int", default=0),
            title=dict(type="str", default=""),
            labels=dict(type="list", elements="str", default=[]),
        ),
    ),
    flow_uuid=dict(type="str"),
    flow_configuration=dict(type="dict"),
    variables=dict(type="dict", default={}),
    secret_variables=dict(type="dict", default={}, no_log=True),
    undefined_variables=dict(type="str", choices=["error", "keep"], default="error"),
    images=dict(type="dict", default={}),
    changed_files=dict(type="list", elements="str"),
    duplicate_keys=dict(type="str", choices=["first", "error"], default="first"),
)

# Name-based UUIDs for projects that never had a ContinuousPipe flow.
FLOW_NAMESPACE = uuid.UUID("6f1c1d2e-5b8a-4c1e-9a57-3c0a7b1e2d40")


def default_flow_uuid(source_dir: str) -> str:
    name = os.path.basename(os.path.normpath(os.path.abspath(source_dir)))
    return str(uuid.uuid5(FLOW_NAMESPACE, name))


def release_from_params(params: dict) -> model.Release:
    pull_request = params.get("pull_request") or {}
    return model.Release(
        flow_uuid=params.get("flow_uuid") or default_flow_uuid(params["source_dir"]),
        code_reference=model.CodeReference(
            branch=params["branch"],
            sha=params.get("sha") or "",
            pull_request=model.PullRequest(
                number=int(pull_request.get("number") or 0),
                title=pull_request.get("title") or "",
                labels=tuple(pull_request.get("labels") or ()),
            ),
        ),
    )


def load_options_from_params(params: dict) -> LoadOptions:
    return LoadOptions(
        flow_configuration=params.get("flow_configuration"),
        variables=dict(params.get("variables") or {}),
        secret_variables=dict(params.get("secret_variables") or {}),
        undefined_variables=params.get("undefined_variables") or "error",
        images=dict(params.get("images") or {}),
        changed_files=params.get("changed_files"),
        duplicate_keys=params.get("duplicate_keys") or "first",
    )


def load_from_params(params: dict) -> model.Project:
    """Load the project the module options describe (raises DefinitionError on bad input)."""
    return load_project(params["source_dir"], release_from_params(params), load_options_from_params(params))


def secret_values(params: dict) -> list:
    """Every secret string a module must keep out of its results (for ``no_log_values``)."""
    values = []
    for value in (params.get("secret_variables") or {}).values():
        if value is not None and str(value) != "":
            values.append(str(value))
    return values
