"""tests/package/check_package.py: what makes a collection tarball unfit to ship."""
from __future__ import annotations

import importlib.util
import io
import os
import tarfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
_spec = importlib.util.spec_from_file_location("check_package", os.path.join(ROOT, "tests", "package", "check_package.py"))
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)

REPO = set(check.REQUIRED) | {"plugins/modules/render.py"}


def tarball(tmp_path, files=(), links=(), dirs=("plugins",)):
    path = tmp_path / "c.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name in dirs:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            archive.addfile(info)
        for name in files:
            data = b"x"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in links:
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    with tarfile.open(path) as archive:
        return archive.getmembers()


def shipped():
    return list(check.REQUIRED) + list(check.GENERATED) + ["plugins/modules/render.py"]


def test_a_clean_tarball_has_no_problem(tmp_path):
    assert check.member_problems(tarball(tmp_path, shipped()), REPO) == []


def test_the_symlink_loop_of_the_build_directory_is_refused(tmp_path):
    members = tarball(tmp_path, shipped(), links=[(".build/collections/ansible_collections/continuouspipe/kubernetes",
                                                  "../../../..")])
    problems = check.member_problems(members, REPO)
    assert len(problems) == 1 and "a link (-> ../../../..)" in problems[0]


@pytest.mark.parametrize("leftover", [
    ".build/behat-conformance.txt", ".pytest_cache/v/cache/nodeids", "plugins/__pycache__/x.cpython-311.pyc",
    "tests/cluster/k8s/go.mod", "tests/unit/test_x.py", "benchmarks/run.py", "examples/go.sum",
    "changelogs/fragments/12-x.yml", "docs/docsite/build/html/index.html", "continuouspipe-kubernetes-0.1.0.tar.gz",
    "examples/demo.log", "Makefile", "requirements-dev.txt",
])
def test_development_files_and_build_leftovers_are_refused_even_when_tracked(tmp_path, leftover):
    problems = check.member_problems(tarball(tmp_path, shipped() + [leftover]), REPO | {leftover})
    assert len(problems) == 1 and problems[0].startswith(leftover + ": a development file or build leftover")


def test_files_git_does_not_track_are_refused(tmp_path):
    problems = check.member_problems(tarball(tmp_path, shipped() + ["docs/rendered/out.yml"]), REPO)
    assert problems == ["docs/rendered/out.yml: not a file of the repository (ignored by .gitignore or generated); "
                        "add it to build_ignore in galaxy.yml"]


def test_what_users_need_must_be_there(tmp_path):
    files = [name for name in shipped() if name not in ("LICENSE", "docs/docsite/links.yml")]
    assert check.member_problems(tarball(tmp_path, files), REPO) == [
        "LICENSE: missing from the tarball", "docs/docsite/links.yml: missing from the tarball"]


def test_extra_docs_must_be_shipped():
    extra = {"sections": [{"title": "Guides", "toctree": ["concepts", {"ref": "awx", "title": "AWX"}]}]}
    assert check.extra_docs_problems(extra, {"docs/docsite/rst/concepts.md"}) == [
        "docs/docsite/extra-docs.yml names awx, which the tarball does not hold"]


@pytest.mark.parametrize("url", ["https://example.invalid/continuouspipe/kubernetes", "https://github.example.com/x",
                                 "http://git.acme.io/x", "TODO"])
def test_placeholder_urls_in_galaxy_yml_are_refused(url):
    assert len(check.galaxy_problems({"repository": url})) == 1


def test_the_repository_galaxy_yml_has_no_placeholder():
    import yaml

    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        assert check.galaxy_problems(yaml.safe_load(handle)) == []


def test_links_below_a_tree_are_found(tmp_path):
    (tmp_path / "a").mkdir()
    os.symlink("..", tmp_path / "a" / "loop")
    assert check.tree_links(str(tmp_path)) == [os.path.join("a", "loop")]
