"""Every demo of the shared corpus loads, translates, and every object it renders is valid against the
Kubernetes 1.36 OpenAPI schema (strict: unknown fields rejected). The real API server's verdict is in
tests/integration/test_deploy_corpus.py."""
from __future__ import annotations

import os

import kubernetes_validate
import pytest


from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.loader import LoadOptions, load_project
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.render import TranslateOptions, render_tasks

from test_render_playbook import PLAIN, SECRET, demos  # pylint: disable=import-error


@pytest.mark.parametrize("source_dir,branch", demos())
def test_corpus_demo_renders_schema_valid_objects(source_dir, branch):
    release = model.Release("00000000-0000-0000-0000-000000000000",
                            model.CodeReference(branch=branch, sha="0123456789abcdef"))
    project = load_project(source_dir, release, LoadOptions(variables=dict(PLAIN), secret_variables=dict(SECRET)))
    rendered = render_tasks(project, options=TranslateOptions(checksum_key=b"corpus-schema-checksum-key-00032"))
    objects = [obj for item in rendered for obj in item.objects]
    if not project.deploy_tasks:
        assert not objects
        return
    assert any(obj["kind"] in ("Deployment", "Pod") for obj in objects)
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, "1.36", strict=True)
        except kubernetes_validate.utils.ValidationError as error:
            where = "%s/%s in %s" % (obj["kind"], obj["metadata"]["name"], os.path.relpath(source_dir))
            pytest.fail("%s: %s at %s" % (where, error.message, list(error.path)))
