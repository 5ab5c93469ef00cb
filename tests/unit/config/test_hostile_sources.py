# -*- coding: utf-8 -*-
"""Regression tests of issue 10: a repository's files can never harm the controller.

Files are read only when they are regular files inside the project directory (links resolved),
at most ``MAX_FILE_BYTES`` long; YAML is bounded (size, depth, aliases and merge keys). Cases
that used to crash the process (deep nesting: a segmentation fault in libyaml's composer) run in a
forked child, so a regression fails the test instead of killing pytest.
"""
from __future__ import annotations

import faulthandler
import os
import resource
import signal
import time

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config import files, yaml_dialect
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.config.yaml_dialect import load_yaml
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

DEPLOY = "tasks:\n  d:\n    deploy:\n      cluster: c\n      services:\n        web: {specification: {source: {image: nginx}}}\n"
COMPOSE = "web: {image: nginx}\n"


def in_child(function, cpu_seconds=10, memory=2 << 30, wall_seconds=30):
    """Run ``function`` in a forked child with CPU, memory and time limits; return (status, seconds).

    The child exits 0 when ``function`` raises DefinitionError, 1 when it returns, 2 on any other
    exception; a signal (segmentation fault, CPU limit) shows in the status, and -1 is a child
    killed after ``wall_seconds`` (blocked).
    """
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 3
        try:
            faulthandler.disable()
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            resource.setrlimit(resource.RLIMIT_AS, (memory, hard))
            try:
                function()
                code = 1
            except DefinitionError:
                code = 0
            except BaseException:  # noqa: B902 - anything else is the failure being tested for
                code = 2
        finally:
            os._exit(code)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status, time.monotonic() - start
        if time.monotonic() - start > wall_seconds:  # blocked (a FIFO), not burning CPU
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -1, time.monotonic() - start
        time.sleep(0.01)


def project(tmp_path, **files_):
    source = tmp_path / "project"
    source.mkdir(exist_ok=True)
    for name, text in files_.items():
        (source / name).write_text(text)
    return source


def load(source, branch="master"):
    from cp_load_helpers import Project
    return Project(source).load(branch=branch)


# -- files ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["continuous-pipe.yml", "docker-compose.yml"])
def test_a_link_to_a_device_is_not_read(tmp_path, name):
    source = project(tmp_path, **({"continuous-pipe.yml": DEPLOY} if name != "continuous-pipe.yml" else {}))
    os.symlink("/dev/urandom", str(source / name))
    status, seconds = in_child(lambda: load(source), cpu_seconds=5, memory=512 << 20)
    assert status == 0 and seconds < 5
    with pytest.raises(DefinitionError) as raised:
        load(source)
    assert raised.value.file == name
    assert "outside the project directory" in str(raised.value) and "urandom" not in str(raised.value)


@pytest.mark.parametrize("name", ["continuous-pipe.yml", "docker-compose.yml"])
def test_a_fifo_does_not_hang(tmp_path, name):
    source = project(tmp_path, **({"continuous-pipe.yml": DEPLOY} if name != "continuous-pipe.yml" else {}))
    os.mkfifo(str(source / name))
    status, seconds = in_child(lambda: load(source), cpu_seconds=5, wall_seconds=10)
    assert status == 0 and seconds < 5
    with pytest.raises(DefinitionError, match="it is a FIFO") as raised:
        load(source)
    assert raised.value.file == name


def test_a_link_to_a_fifo_inside_the_project_does_not_hang(tmp_path):
    source = project(tmp_path, **{"continuous-pipe.yml": DEPLOY})
    os.mkfifo(str(source / "pipe"))
    os.symlink("pipe", str(source / "docker-compose.yml"))
    status, seconds = in_child(lambda: load(source), cpu_seconds=5, wall_seconds=10)
    assert status == 0 and seconds < 5


def test_a_file_outside_the_project_is_not_read_nor_echoed(tmp_path):
    (tmp_path / "secret.yml").write_text("database_password_of_another_project: x\n")
    source = project(tmp_path, **{"continuous-pipe.yml": DEPLOY})
    os.symlink(str(tmp_path / "secret.yml"), str(source / "docker-compose.yml"))
    with pytest.raises(DefinitionError) as raised:
        load(source)
    assert "database_password_of_another_project" not in str(raised.value)
    assert raised.value.file == "docker-compose.yml"
    os.unlink(str(source / "docker-compose.yml"))
    os.symlink("../secret.yml", str(source / "continuous-pipe.yml.link"))
    os.replace(str(source / "continuous-pipe.yml.link"), str(source / "continuous-pipe.yml"))
    with pytest.raises(DefinitionError) as raised:
        load(source)
    assert "database_password_of_another_project" not in str(raised.value)
    assert raised.value.file == "continuous-pipe.yml"


def test_a_branch_file_linked_outside_is_refused(tmp_path):
    (tmp_path / "elsewhere.yml").write_text("web: {image: evil}\n")
    source = project(tmp_path, **{"continuous-pipe.yml": DEPLOY, "docker-compose.yml": COMPOSE})
    os.symlink(str(tmp_path / "elsewhere.yml"), str(source / "docker-compose.prod.yml"))
    with pytest.raises(DefinitionError) as raised:
        load(source, branch="prod")
    assert raised.value.file == "docker-compose.prod.yml"
    # a branch name that leaves the directory is not a file of the project: not read, no error
    assert load(source, branch="../elsewhere").pipelines


def test_links_inside_the_project_are_followed(tmp_path):
    source = project(tmp_path, **{"real-cp.yml": DEPLOY, "real-compose.yml": COMPOSE})
    (source / "sub").mkdir()
    os.symlink("../real-cp.yml", str(source / "sub" / "link.yml"))
    os.symlink("sub/link.yml", str(source / "continuous-pipe.yml"))
    os.symlink(str(source / "real-compose.yml"), str(source / "docker-compose.yml"))
    loaded = load(source)
    assert loaded.pipelines[0].tasks[0].services[0].image == "nginx"
    assert loaded.files == ("continuous-pipe.yml", "docker-compose.yml")


@pytest.mark.parametrize("target, reason", [(None, "broken symbolic link"), ("dir", "it is a directory")])
def test_broken_links_and_directories(tmp_path, target, reason):
    source = project(tmp_path)
    if target:
        (source / target).mkdir()
    os.symlink(target or "missing.yml", str(source / "continuous-pipe.yml"))
    with pytest.raises(DefinitionError, match=reason) as raised:
        load(source)
    assert raised.value.file == "continuous-pipe.yml"


def test_a_link_loop_is_an_error(tmp_path):
    source = project(tmp_path)
    os.symlink("b.yml", str(source / "continuous-pipe.yml"))
    os.symlink("continuous-pipe.yml", str(source / "b.yml"))
    with pytest.raises(DefinitionError) as raised:
        load(source)
    assert raised.value.file == "continuous-pipe.yml"


def test_files_over_the_size_cap_are_refused_naming_the_file_and_the_cap(tmp_path):
    source = project(tmp_path, **{"continuous-pipe.yml": DEPLOY})
    (source / "docker-compose.yml").write_text("# padding\n" * (files.MAX_FILE_BYTES // 10 + 1))
    with pytest.raises(DefinitionError) as raised:
        load(source)
    assert raised.value.file == "docker-compose.yml"
    assert str(files.MAX_FILE_BYTES) in str(raised.value)


def test_read_project_file_reads_at_most_the_cap(tmp_path):
    (tmp_path / "f").write_bytes(b"x" * 100)
    assert files.read_project_file(str(tmp_path), "f", max_bytes=100) == b"x" * 100
    with pytest.raises(DefinitionError, match="too large"):
        files.read_project_file(str(tmp_path), "f", max_bytes=99)
    assert files.read_project_file(str(tmp_path), "missing") is None
    assert files.read_project_file(str(tmp_path), "f\0x") is None
    assert files.read_project_file(str(tmp_path), "/etc/passwd") is None
    assert files.read_project_file(str(tmp_path), "f/../../f") is None


def test_a_project_directory_given_through_a_link(tmp_path):
    source = project(tmp_path, **{"continuous-pipe.yml": DEPLOY})
    os.symlink(str(source), str(tmp_path / "project-link"))
    assert load(tmp_path / "project-link").pipelines


def test_non_utf8_files_name_the_file(tmp_path):
    source = project(tmp_path)
    (source / "continuous-pipe.yml").write_bytes(b"tasks: {a: \xff\xfe}\n")
    with pytest.raises(DefinitionError, match="not UTF-8") as raised:
        load(source)
    assert raised.value.file == "continuous-pipe.yml"


# -- YAML bounds ----------------------------------------------------------------------------------

BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    "%s: &%s [%s]\n" % (chr(98 + i), chr(98 + i), ",".join(["*" + chr(97 + i)] * 9)) for i in range(9))
MERGE_BOMB = "a0: &a0 {x0: 1, y0: 2}\n" + "".join(
    "a%d: &a%d {<<: [%s], k%d: 1}\n" % (i, i, ", ".join(["*a%d" % (i - 1)] * 9), i) for i in range(1, 12))


@pytest.mark.parametrize("text, fragment", [
    (BILLION_LAUGHS, "expands to more than"),
    (MERGE_BOMB, "expands to more than"),
    ("".join("a%d: &a%d {<<: %s, k%d: 1}\n" % (i, i, "*a%d" % (i - 1) if i else "{}", i) for i in range(3000)),
     "expands to more than"),
    ("[" * 100000 + "]" * 100000, "nested more than 100 levels"),
    ("{a: " * 100000 + "1" + "}" * 100000, "nested more than 100 levels"),
    ("".join(" " * i + "k:\n" for i in range(150)), "nested more than 100 levels"),
    ("a: &a [*a]\n", "inside the node it refers to"),
    ("a: &a {<<: *a}\n", "inside the node it refers to"),
    ("a: " + "x" * (yaml_dialect.MAX_DOCUMENT_CHARS + 1), "too large"),
])
def test_bombs_are_refused_quickly_without_crashing(text, fragment):
    status, seconds = in_child(lambda: load_yaml(text, "continuous-pipe.yml"), cpu_seconds=10, memory=1 << 30)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "status %r" % status
    assert seconds < 2
    with pytest.raises(DefinitionError, match=fragment) as raised:
        load_yaml(text, "continuous-pipe.yml")
    assert raised.value.file == "continuous-pipe.yml"


def test_the_depth_bound_is_far_above_real_files():
    text = "".join(" " * i + "k:\n" for i in range(yaml_dialect.MAX_DEPTH - 1)) + " " * 99 + "v\n"
    data = load_yaml(text, "f")
    depth = 0
    while isinstance(data, dict):
        data, depth = data["k"], depth + 1
    assert depth == yaml_dialect.MAX_DEPTH - 1


def test_shared_aliases_below_the_bound_still_load():
    text = "a: &a {x: 1}\n" + "".join("b%d: *a\n" % i for i in range(1000))
    assert load_yaml(text, "f")["b999"] == {"x": 1}


@pytest.mark.parametrize("text, fragment", [
    ("a: !!int 'x'\n", '"x" is not an integer'),
    ("a: !!int ''\n", '"" is not an integer'),
    ("a: !!float 'x'\n", '"x" is not a number'),
    ("a: !!set {x, y}\n", "!!set is not supported"),
    ("a: !!omap [{x: 1}]\n", "!!omap is not supported"),
    ("a: !!pairs [{x: 1}]\n", "!!pairs is not supported"),
    ("a: !!map [1, 2]\n", "expected a mapping node"),
    ("a: !!binary /w==\n", "not UTF-8"),
    ("a: !!python/object:os.system x\n", "could not determine a constructor"),
])
def test_wrong_tags_are_errors_not_tracebacks(text, fragment):
    with pytest.raises(DefinitionError, match=fragment) as raised:
        load_yaml(text, "continuous-pipe.yml")
    assert raised.value.file == "continuous-pipe.yml" and "line 1" in str(raised.value)


def test_numbers_php_cannot_hold():
    assert load_yaml("a: %s\n" % ("9" * 5000), "f") == {"a": "9" * 5000}
    assert load_yaml("a: 9223372036854775807\n", "f") == {"a": 9223372036854775807}
    assert load_yaml("a: 9223372036854775808\n", "f") == {"a": "9223372036854775808"}
    assert load_yaml("a: 0x%s\n" % ("f" * 5000), "f") == {"a": float("inf")}
    assert load_yaml("a: !!float 12\n", "f") == {"a": 12.0}
    assert load_yaml("a: !!binary aGVsbG8=\n", "f") == {"a": "hello"}


def test_flow_configuration_data_is_bounded(tmp_path):
    from cp_load_helpers import Project
    deep = current = {}
    for _level in range(200):
        current["k"] = {}
        current = current["k"]
    with pytest.raises(DefinitionError, match="nested more than") as raised:
        Project(tmp_path).load(flow_configuration={"tasks": deep})
    assert raised.value.file == "flow configuration"
    shared = {"name": "A", "value": "x"}
    wide = [[shared] * 400] * 400
    with pytest.raises(DefinitionError, match="more than"):
        Project(tmp_path).load(flow_configuration={"variables": wide})


def test_signals_do_not_leak_from_the_child_helper():
    status, _seconds = in_child(lambda: os.kill(os.getpid(), signal.SIGSEGV))
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSEGV
