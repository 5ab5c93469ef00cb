# -*- coding: utf-8 -*-
"""Issue 10: deploy/rollback options are checked before anything is read from or sent to a cluster.

Numeric options out of range are errors naming the option (``history_limit: 0`` used to become 10);
a deploy task with no service to deploy is an error unless ``allow_empty_services`` (it would prune
every workload of the environment). These fail before connecting, so no cluster is needed (the
connection options point nowhere, and the options hook stops a run that gets that far).
"""
from __future__ import annotations

import pytest

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import deploy, options
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import DefinitionError

NOWHERE = dict(host="https://127.0.0.1:9", api_key="unused")


def params(source, **extra):
    return dict(NOWHERE, source_dir=str(source), branch="master", sha="abc",
                flow_uuid="00000000-0000-4000-8000-0000000000aa", **extra)


@pytest.fixture
def source(tmp_path):
    (tmp_path / "continuous-pipe.yml").write_text(
        "tasks:\n  d:\n    deploy:\n      cluster: c\n"
        "      services:\n        web: {specification: {source: {image: nginx, tag: '1'}}}\n")
    return tmp_path


@pytest.mark.parametrize("name, value", [
    ("history_limit", 0), ("history_limit", -1), ("history_limit", 1001), ("concurrency", 0), ("concurrency", 65),
    ("wait_timeout", 0), ("wait_timeout", -5), ("endpoint_timeout", 0), ("endpoint_timeout", 10 ** 12),
])
def test_deploy_numbers_out_of_range_are_errors_naming_the_option(source, name, value):
    with pytest.raises(DefinitionError) as raised:
        deploy.run(params(source, **{name: value}))
    assert raised.value.path == (name,) and "out of range" in str(raised.value)
    assert str(raised.value).startswith(name + ":")


@pytest.mark.parametrize("name, value", [("release", 0), ("history_limit", 0), ("concurrency", 0),
                                         ("wait_timeout", 0)])
def test_rollback_numbers_out_of_range(name, value):
    with pytest.raises(DefinitionError) as raised:
        deploy.rollback(dict(NOWHERE, namespace="ns", task="d", **{name: value}))
    assert raised.value.path == (name,)


def test_zero_is_no_longer_the_default_in_disguise():
    options_ = deploy.deploy_options(dict(history_limit=3, concurrency=2, endpoint_timeout=5), "d", False, False)
    assert (options_.history_limit, options_.concurrency, options_.endpoint_timeout) == (3, 2, 5)
    defaults = deploy.deploy_options({}, "d", False, False)
    assert (defaults.history_limit, defaults.concurrency, defaults.endpoint_timeout) == (10, 8, 900)


def test_ranges_accept_their_bounds():
    options.check_ranges({"history_limit": 1, "concurrency": 64, "wait_timeout": 7 * options.DAY})
    options.check_ranges({"history_limit": None})
    with pytest.raises(DefinitionError):
        options.check_ranges({"history_limit": True})


@pytest.mark.parametrize("services", ["{}", "\n        web: {condition: 'false', specification: {source: {image: a}}}"])
def test_a_task_with_no_service_to_deploy_is_refused_before_connecting(tmp_path, services):
    (tmp_path / "continuous-pipe.yml").write_text(
        "tasks:\n  d:\n    deploy:\n      cluster: c\n      services: %s\n" % services)
    with pytest.raises(DefinitionError) as raised:
        deploy.run(params(tmp_path))
    assert raised.value.path == ("tasks", "d", "deploy", "services")
    assert "allow_empty_services" in str(raised.value)


class _Connecting(Exception):
    """Raised by the options hook, which runs once the task is loaded and translated, before connecting."""


def _stop(_options):
    raise _Connecting()


def test_an_empty_task_goes_on_when_asked_or_without_pruning(tmp_path):
    (tmp_path / "continuous-pipe.yml").write_text("tasks:\n  d:\n    deploy:\n      cluster: c\n      services: {}\n")
    for extra in ({"allow_empty_services": True}, {"prune": False}):
        with pytest.raises(_Connecting):
            deploy.run(params(tmp_path, **extra), options_hook=_stop)


def test_a_negative_pull_request_number(source):
    with pytest.raises(DefinitionError) as raised:
        deploy.run(params(source, pull_request={"number": -1}))
    assert raised.value.path == ("pull_request", "number")
