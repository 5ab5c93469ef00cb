"""A project's identity: the same for every checkout of one repository, different for two repositories."""
from __future__ import annotations

import subprocess
import uuid

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import identity, source
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError


@pytest.mark.parametrize("url", [
    "git@github.com:Acme/Shop.git",
    "https://github.com/acme/shop",
    "https://github.com/acme/shop.git/",
    "https://x-access-token:ghs_secret@github.com/acme/shop.git",
    "ssh://git@github.com/acme/shop.git",
    "ssh://git@github.com:22/acme/shop.git",
    "git://github.com/acme/shop",
])
def test_every_way_of_cloning_one_repository_is_one_source(url):
    assert identity.normalise_url(url) == "github.com/acme/shop"


def test_different_repositories_differ():
    assert identity.normalise_url("git@github.com:acme/shop.git") != identity.normalise_url("git@github.com:acme/shop2")
    assert identity.normalise_url("/srv/git/shop.git") == "/srv/git/shop"
    assert identity.normalise_url("file:///srv/git/shop.git") == "/srv/git/shop"


def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def checkout(path, url):
    path.mkdir(parents=True)
    git("init", "-q", cwd=path)
    git("remote", "add", "origin", url, cwd=path)
    (path / "continuous-pipe.yml").write_text("tasks: {}\n")
    return path


def test_a_cli_checkout_and_an_awx_checkout_are_one_project(tmp_path):
    cli = checkout(tmp_path / "home" / "me" / "app", "git@github.com:acme/shop.git")
    awx = checkout(tmp_path / "runner" / "project", "https://github.com/acme/shop")
    assert identity.flow_uuid(str(cli)) == identity.flow_uuid(str(awx))
    uuid.UUID(identity.flow_uuid(str(cli)))  # a UUID, like ContinuousPipe's flows


def test_two_projects_in_same_named_directories_are_two_projects(tmp_path):
    one = checkout(tmp_path / "a" / "project", "git@github.com:acme/shop.git")
    two = checkout(tmp_path / "b" / "project", "git@github.com:acme/blog.git")
    assert identity.flow_uuid(str(one)) != identity.flow_uuid(str(two))
    # what earlier versions did (the directory name) would have made them one
    assert identity.legacy_flow_uuid(str(one)) == identity.legacy_flow_uuid(str(two))


def test_two_applications_of_one_monorepo_differ(tmp_path):
    repo = checkout(tmp_path / "mono", "git@github.com:acme/mono.git")
    (repo / "api").mkdir()
    (repo / "web").mkdir()
    ids = {identity.flow_uuid(str(repo / "api")), identity.flow_uuid(str(repo / "web")), identity.flow_uuid(str(repo))}
    assert len(ids) == 3


def test_a_git_worktree_is_the_same_project(tmp_path):
    repo = checkout(tmp_path / "main", "git@github.com:acme/shop.git")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "x", cwd=repo)
    git("worktree", "add", "-q", str(tmp_path / "wt"), cwd=repo)
    assert identity.flow_uuid(str(tmp_path / "wt")) == identity.flow_uuid(str(repo))


def test_the_option_wins_and_no_remote_asks_for_it(tmp_path):
    plain = tmp_path / "project"
    plain.mkdir()
    assert identity.flow_uuid(str(plain), "0a1b2c3d-1111-2222-3333-444455556666") == \
        "0a1b2c3d-1111-2222-3333-444455556666"
    with pytest.raises(identity.IdentityError, match="Set flow_uuid"):
        identity.flow_uuid(str(plain))
    local = tmp_path / "local"
    local.mkdir()
    git("init", "-q", cwd=local)
    with pytest.raises(identity.IdentityError, match=identity.legacy_flow_uuid(str(local))):
        identity.flow_uuid(str(local))


def test_two_remotes_without_origin_is_ambiguous(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    git("remote", "add", "upstream", "git@github.com:acme/a.git", cwd=repo)
    git("remote", "add", "fork", "git@github.com:me/a.git", cwd=repo)
    with pytest.raises(identity.IdentityError):
        identity.flow_uuid(str(repo))


def test_modules_that_write_fail_on_the_option_and_render_warns(tmp_path):
    plain = tmp_path / "project"
    plain.mkdir()
    params = {"source_dir": str(plain), "flow_uuid": None}
    with pytest.raises(DefinitionError) as error:
        source.project_identity(params)
    assert error.value.key_path == "flow_uuid"
    warnings = []
    assert source.project_identity(params, warnings) == identity.legacy_flow_uuid(str(plain))
    assert len(warnings) == 1 and "Set flow_uuid" in warnings[0]


def test_a_huge_or_hostile_git_config_is_not_read(tmp_path):
    repo = tmp_path / "r"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "config").write_text('[remote "origin"]\n  url = x\n' + "#" * (identity.MAX_CONFIG_BYTES + 1))
    with pytest.raises(identity.IdentityError):
        identity.flow_uuid(str(repo))


def test_awx_checkout_resolves_through_the_project_cache(tmp_path):
    """AWX clones each job's checkout (depth 1) from its project cache, itself a clone of the real remote."""
    cache = checkout(tmp_path / "var" / "lib" / "awx" / "projects" / "_8__shop", "https://github.com/acme/shop.git")
    git("-c", "user.email=a@b", "-c", "user.name=a", "add", "-A", cwd=cache)
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "-m", "x", cwd=cache)
    job = tmp_path / "runner" / "project"
    subprocess.run(["git", "clone", "-q", "--depth", "1", cache.as_uri(), str(job)], check=True, capture_output=True)
    cli = checkout(tmp_path / "home" / "shop", "git@github.com:acme/shop.git")
    assert identity.flow_uuid(str(job)) == identity.flow_uuid(str(cli))
    # in an execution environment the cache is not there: no guess, a question
    subprocess.run(["rm", "-rf", str(cache)], check=True)
    with pytest.raises(identity.IdentityError, match="AWX job's checkout is a clone of AWX's project cache"):
        identity.flow_uuid(str(job))


def test_a_local_mirror_without_remote_is_its_own_identity(tmp_path):
    mirror = tmp_path / "srv" / "shop.git"
    subprocess.run(["git", "init", "-q", "--bare", str(mirror)], check=True, capture_output=True)
    one = checkout(tmp_path / "a", str(mirror))
    two = checkout(tmp_path / "b", mirror.as_uri())
    assert identity.flow_uuid(str(one)) == identity.flow_uuid(str(two))
