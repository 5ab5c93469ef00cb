# -*- coding: utf-8 -*-
"""Helpers of the load-stage unit tests: write a project to a temporary directory and load it."""
from __future__ import annotations

import textwrap

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config import loader

FLOW = "00000000-0000-0000-0000-000000000000"
SHA = "0123456789abcdef0123456789abcdef01234567"


class Project:
    """A project directory: ``write`` files, then ``load``/``configuration``/``tides`` for a branch."""

    def __init__(self, path):
        self.path = path

    def write(self, name: str, text: str) -> "Project":
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return self

    @staticmethod
    def release(branch: str = "master", sha: str = SHA, pull_request: model.PullRequest = model.PullRequest()):
        return model.Release(FLOW, model.CodeReference(branch, sha, pull_request))

    @staticmethod
    def options(**options) -> loader.LoadOptions:
        flow = options.get("flow_configuration")
        if isinstance(flow, str):
            options["flow_configuration"] = textwrap.dedent(flow)
        return loader.LoadOptions(**options)

    def load(self, branch: str = "master", sha: str = SHA, pull_request=model.PullRequest(), **options):
        return loader.load_project(str(self.path), self.release(branch, sha, pull_request), self.options(**options))

    def configuration(self, branch: str = "master", sha: str = SHA, **options):
        return loader.load_configuration(str(self.path), self.release(branch, sha), self.options(**options))

    def tides(self, branch: str = "master", sha: str = SHA, **options):
        return loader.tide_configurations(str(self.path), self.release(branch, sha), self.options(**options))


def task(loaded: model.Project, identifier: str, pipeline: int = 0) -> model.Task:
    return loaded.pipelines[pipeline].task(identifier)


def service(loaded: model.Project, task_id: str, name: str) -> model.Service:
    return task(loaded, task_id).service(name)


def env(container) -> dict:
    return {variable.name: variable.value for variable in container.environment}
