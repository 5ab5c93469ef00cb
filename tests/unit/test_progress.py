"""Progress lines: printed through the sink the action plugin installs, secret values hidden."""
from __future__ import annotations

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import progress


def test_lines_reach_the_sink_with_hidden_values_masked_even_those_added_later():
    printed = []
    previous = progress.set_sink(printed.append)
    try:
        secrets = {"s3cr3t-value"}
        progress.hide(secrets)
        report = progress.reporter("web: ")
        report("waiting 10s: pod web-1 has s3cr3t-value")
        secrets.add("later-secret")
        progress.emit("later-secret and s3cr3t-value")
        assert printed == ["web: waiting 10s: pod web-1 has ********", "******** and ********"]
    finally:
        progress.set_sink(previous)


def test_without_a_sink_nothing_is_built_or_printed():
    previous = progress.set_sink(None)
    try:
        assert progress.reporter("web: ") is None
        progress.emit("nobody listens")
    finally:
        progress.set_sink(previous)


def test_a_new_sink_forgets_the_values_of_the_previous_run():
    printed = []
    progress.set_sink(printed.append)
    progress.hide(["first-run-secret"])
    progress.set_sink(printed.append)
    progress.emit("first-run-secret")
    progress.set_sink(None)
    assert printed == ["first-run-secret"]


def test_durations_read_naturally():
    assert [progress.format_seconds(s) for s in (0.04, 4.25, 53.2, 125)] == ["0.0s", "4.2s", "53s", "2m05s"]
