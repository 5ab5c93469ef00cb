# -*- coding: utf-8 -*-
"""Issue 10: a repository's task names and environment names never make render write outside output_dir."""
from __future__ import annotations

import json
import os

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import model, render
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.loader import LoadOptions, load_project
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

TASK = """
  %s:
    deploy:
      cluster: c
      services:
        web: {specification: {source: {image: nginx, tag: "1"}}}
"""


def rendered(tmp_path, identifier):
    source = tmp_path / "project"
    source.mkdir(exist_ok=True)
    (source / "continuous-pipe.yml").write_text("tasks:" + TASK % json.dumps(identifier))
    release = model.Release("00000000-0000-0000-0000-000000000000", model.CodeReference("master", "abc"))
    return render.render_tasks(load_project(str(source), release, LoadOptions()))


@pytest.mark.parametrize("identifier", [
    "/abs/escape3", "../escape", "../../../../../../tmp/escape", "a/../../b", "..", ".", ".hidden", "a\\b",
    "x" * 300, "tab\there", "new\nline",
])
def test_task_identifiers_that_are_not_file_names_are_refused(tmp_path, identifier):
    out = tmp_path / "out"
    (item,) = rendered(tmp_path, identifier)
    with pytest.raises(DefinitionError) as raised:
        render.task_file(str(out), item)
    assert raised.value.path == ("tasks", identifier)
    assert "cannot name the rendered file" in str(raised.value)
    assert not out.exists()


def test_plain_identifiers_keep_their_file_name(tmp_path):
    (item,) = rendered(tmp_path, "deploy_uat-1.x")
    path = render.task_file(str(tmp_path / "out"), item)
    assert path == os.path.join(str(tmp_path / "out"), item.namespace, "deploy_uat-1.x.yml")


def test_a_namespace_that_is_not_a_label_is_refused(tmp_path):
    (item,) = rendered(tmp_path, "d")
    with pytest.raises(DefinitionError, match="cannot name a directory"):
        render.task_path(str(tmp_path), "../x", item.task)


def test_a_link_in_output_dir_leading_outside_is_not_written_through(tmp_path):
    (item,) = rendered(tmp_path, "d")
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    os.symlink(str(outside), str(out / item.namespace))
    path = render.task_file(str(out), item)
    with pytest.raises(DefinitionError, match="leads outside output_dir"):
        render.write_text(path, "x", 0o644, str(out))
    assert os.listdir(str(outside)) == []


def test_a_link_at_the_file_place_is_replaced_not_followed(tmp_path):
    (item,) = rendered(tmp_path, "d")
    out = tmp_path / "out"
    (out / item.namespace).mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path = render.task_file(str(out), item)
    os.symlink(str(victim), path)
    assert render.read_text(path) is None  # never read through (the diff would show it)
    render.write_text(path, "rendered\n", 0o644, str(out))
    assert victim.read_text() == "precious\n"
    assert not os.path.islink(path) and open(path).read() == "rendered\n"


def test_read_text_reads_regular_files_only(tmp_path):
    os.mkfifo(str(tmp_path / "fifo"))
    assert render.read_text(str(tmp_path / "fifo")) is None
    assert render.read_text(str(tmp_path / "missing")) is None
    (tmp_path / "bin").write_bytes(b"\xff\xfe")
    assert render.read_text(str(tmp_path / "bin")) is None
    (tmp_path / "ok").write_text("a: 1\n")
    assert render.read_text(str(tmp_path / "ok")) == "a: 1\n"
