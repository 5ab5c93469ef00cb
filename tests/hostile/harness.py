# -*- coding: utf-8 -*-
"""Running one hostile case: a project directory, module options, a forked child with limits.

The parent (pytest) has the collection imported once; every case runs in a child forked from it
(no new interpreter), under ``RLIMIT_CPU``, ``RLIMIT_AS`` and ``RLIMIT_FSIZE``, in its own
sandbox::

    <case>/project   source_dir: the case's files, links and FIFOs
    <case>/out       output_dir
    <case>/outside   a canary file; links of the project point here, absolute task names too
    <case>/cwd       the child's working directory

The child runs the module's ``main()`` exactly as AnsiballZ would (arguments through
``patch_module_args``); ``fail_json`` is wrapped to record which exception, if any, was being
handled, so that the parent can check that every error names a key path, a file or an option.
Nothing is mocked in the module's work.
"""
from __future__ import annotations

import faulthandler
import gc
import json
import os
import resource
import shutil
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

CPU_SECONDS = 10          # RLIMIT_CPU of a case (SIGXCPU beyond)
WALL_SECONDS = 30         # a case still running after this is killed (a FIFO would block, not spin)
MEMORY_BYTES = 1 << 30    # address space a case may add to what the parent already maps
FILE_BYTES = 64 << 20     # RLIMIT_FSIZE: no file written by a case may grow larger
TRACEBACK_EXIT = 99       # the child's exit code when the module raised instead of exiting
OUTSIDE_CANARY = "OUTSIDE-CANARY-9f3c1e"
_CHILD_FILES = ("stdout", "stderr", "report.json")  # what the harness itself writes in a case's root
SECRET_CANARY = "SECRET-CANARY-5b7d2a"


@dataclass
class Case:
    """One hostile input. Strings in ``args`` and link targets may hold ``{root}``, ``{outside}``,
    ``{out}`` and ``{project}``, replaced by the case's absolute paths."""

    name: str
    files: Dict[str, bytes] = field(default_factory=dict)
    links: Dict[str, str] = field(default_factory=dict)
    fifos: Tuple[str, ...] = ()
    args: Dict[str, Any] = field(default_factory=dict)
    module: str = "render"
    expect_error: Optional[str] = None   # the failure message must contain this (the case must fail)
    out_links: Dict[str, str] = field(default_factory=dict)   # links made in output_dir beforehand
    root_links: Dict[str, str] = field(default_factory=dict)  # links made in the case's root
    sparse: Dict[str, int] = field(default_factory=dict)      # project files of this size, all holes


@dataclass
class Outcome:
    case: Case
    kind: str                 # ok, error, traceback, crash, timeout, garbled
    cpu: float
    wall: float
    message: str = ""
    located: Optional[bool] = None
    escapes: List[str] = field(default_factory=list)
    leaks: List[str] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)


def _module_main(name: str):
    if name == "render":
        from ansible_collections.continuouspipe.kubernetes.plugins.modules import render as module
    elif name == "deploy":
        from ansible_collections.continuouspipe.kubernetes.plugins.modules import deploy as module
    elif name == "pipeline_info":
        from ansible_collections.continuouspipe.kubernetes.plugins.modules import pipeline_info as module
    else:  # pragma: no cover - a typo in a case
        raise ValueError(name)
    return module.main


def preload() -> None:
    """Import everything a case uses, once, in the parent."""
    for name in ("render", "deploy", "pipeline_info"):
        _module_main(name)
    import ansible.module_utils.testing  # noqa: F401  pylint: disable=unused-import


def _substitute(value: Any, places: Dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, path in places.items():
            value = value.replace("{%s}" % key, path)
        return value
    if isinstance(value, dict):
        return {_substitute(key, places): _substitute(item, places) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, places) for item in value]
    return value


class Sandbox:
    """The directories of one case, and what they held before it ran."""

    def __init__(self, base: str, index: int, case: Case):
        self.root = os.path.join(base, "c%05d" % index)
        self.places = {name: os.path.join(self.root, name) for name in ("project", "out", "outside", "cwd")}
        self.places["root"] = self.root
        for name in ("project", "out", "outside", "cwd"):
            os.makedirs(self.places[name])
        with open(os.path.join(self.places["outside"], "secret.yml"), "w", encoding="utf-8") as handle:
            handle.write("%s: the keys of a file outside the project\npassword: %s\n"
                         % (OUTSIDE_CANARY, OUTSIDE_CANARY))
        for relative, content in case.files.items():
            path = os.path.join(self.places["project"], relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            for key, place in self.places.items():
                content = content.replace(("{%s}" % key).encode(), place.encode())
            with open(path, "wb") as handle:
                handle.write(content)
        for relative, size in case.sparse.items():
            with open(os.path.join(self.places["project"], relative), "wb") as handle:
                handle.truncate(size)
        for place, links in (("project", case.links), ("out", case.out_links), ("root", case.root_links)):
            for relative, target in links.items():
                path = os.path.join(self.places[place], relative)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.symlink(_substitute(target, self.places), path)
        for relative in case.fifos:
            path = os.path.join(self.places["project"], relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.mkfifo(path)
        self.before = self.snapshot()

    def snapshot(self) -> Dict[str, Tuple[bool, float]]:
        """Every path outside ``project`` and ``out`` (which the case may write), with its mtime."""
        seen = {}
        for directory, names, files in os.walk(self.root):
            relative = os.path.relpath(directory, self.root)
            if relative == ".":
                names[:] = [name for name in names if name not in ("project", "out")]
                files = [name for name in files if name not in _CHILD_FILES]
            for name in names + files:
                path = os.path.join(directory, name)
                status = os.lstat(path)
                seen[os.path.relpath(path, self.root)] = (os.path.isdir(path), status.st_mtime_ns)
        return seen

    def escapes(self) -> List[str]:
        after = self.snapshot()
        return sorted(path for path, state in after.items() if self.before.get(path) != state) \
            + sorted(set(self.before) - set(after))

    def written(self) -> List[str]:
        out = []
        for directory, _names, files in os.walk(self.places["out"]):
            out.extend(os.path.join(directory, name) for name in files)
        return out

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _address_space() -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0  # pragma: no cover - Linux only


def _child(case: Case, sandbox: Sandbox, report_path: str) -> None:  # pragma: no cover - runs forked
    code = TRACEBACK_EXIT
    try:
        faulthandler.disable()
        os.setsid()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGVTALRM, signal.SIGALRM):
            signal.signal(signum, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS + 2))
        resource.setrlimit(resource.RLIMIT_AS, (_address_space() + MEMORY_BYTES, resource.RLIM_INFINITY))
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
        for name in list(os.environ):  # the cases say how to reach a cluster, not the machine's environment
            if name.startswith("K8S_AUTH_") or name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
                del os.environ[name]
        os.chdir(sandbox.places["cwd"])
        out = os.open(os.path.join(sandbox.root, "stdout"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        err = os.open(os.path.join(sandbox.root, "stderr"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(err, 2)
        sys.stdout = os.fdopen(1, "w", encoding="utf-8", closefd=False)
        sys.stderr = os.fdopen(2, "w", encoding="utf-8", closefd=False)
        os.close(out)
        os.close(err)

        from ansible.module_utils import basic
        from ansible.module_utils.testing import patch_module_args

        from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import (
            ClusterError,
            DefinitionError,
            DefinitionErrors,
        )

        original = basic.AnsibleModule.fail_json

        def fail_json(module, msg, **kwargs):
            error = sys.exc_info()[1]
            record = {"exception": type(error).__name__ if error else None}
            if isinstance(error, DefinitionError):
                errors = error.errors if isinstance(error, DefinitionErrors) else [error]
                record["located"] = all(bool(each.path or each.file) for each in errors)
            elif isinstance(error, ClusterError):
                record["located"] = True  # connection errors name the option or the kubeconfig file
            else:
                record["located"] = None
            with open(report_path, "w", encoding="utf-8") as handle:
                json.dump(record, handle)
            return original(module, msg=msg, **kwargs)

        basic.AnsibleModule.fail_json = fail_json
        basic.AnsibleModule.log = lambda *args, **kwargs: None  # no syslog line per case
        args = _substitute(case.args, sandbox.places)
        main = _module_main(case.module)
        with patch_module_args(args):
            try:
                main()
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:  # noqa: B902 - any escape is what the suite looks for  pylint: disable=broad-except
        try:
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            code = TRACEBACK_EXIT
    finally:
        try:
            sys.stdout.flush()
        except BaseException:  # noqa: B902  pylint: disable=broad-except
            pass
        os._exit(code)


class Running:
    def __init__(self, case: Case, sandbox: Sandbox, pid: int, report_path: str):
        self.case, self.sandbox, self.pid, self.report_path = case, sandbox, pid, report_path
        self.start = time.monotonic()


def start(case: Case, base: str, index: int) -> Running:
    sandbox = Sandbox(base, index, case)
    report_path = os.path.join(sandbox.root, "report.json")
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        _child(case, sandbox, report_path)
    return Running(case, sandbox, pid, report_path)


def poll(running: Running) -> Optional[Outcome]:
    """The outcome once the child is done (killed after ``WALL_SECONDS``), else None."""
    pid, status, usage = os.wait4(running.pid, os.WNOHANG)
    wall = time.monotonic() - running.start
    if pid == 0:
        if wall < WALL_SECONDS:
            return None
        try:
            os.killpg(running.pid, signal.SIGKILL)
        except ProcessLookupError:  # pragma: no cover - ended meanwhile
            pass
        _pid, status, usage = os.wait4(running.pid, 0)
        return _outcome(running, "timeout", status, usage, wall)
    return _outcome(running, None, status, usage, wall)


def _read(path: str, limit: int = 1 << 20) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""


def _outcome(running: Running, kind: Optional[str], status: int, usage, wall: float) -> Outcome:
    case, sandbox = running.case, running.sandbox
    cpu = usage.ru_utime + usage.ru_stime
    stdout, stderr = _read(os.path.join(sandbox.root, "stdout")), _read(os.path.join(sandbox.root, "stderr"))
    outcome = Outcome(case, kind or "", cpu, wall)
    if kind is None:
        if os.WIFSIGNALED(status):
            outcome.kind = "crash"
            number = os.WTERMSIG(status)
            outcome.message = "killed by signal %d (%s)" % (number, signal.Signals(number).name)
        elif os.WEXITSTATUS(status) == TRACEBACK_EXIT or "Traceback (most recent call last)" in stderr:
            outcome.kind = "traceback"
            outcome.message = stderr[-3000:]
        else:
            try:
                result = json.loads(stdout)
            except ValueError:
                outcome.kind = "garbled"
                outcome.message = "exit %d, stdout %r, stderr %r" % (os.WEXITSTATUS(status), stdout[-500:],
                                                                     stderr[-500:])
            else:
                outcome.kind = "error" if result.get("failed") else "ok"
                outcome.message = str(result.get("msg") or "")
                if outcome.kind == "error":
                    report = _read(running.report_path)
                    outcome.located = json.loads(report).get("located") if report else None
                    if outcome.located is None:  # Ansible's own option checks: they name the option
                        outcome.located = any(name in outcome.message for name in case.args) or \
                            "Unsupported parameters" in outcome.message
    else:
        outcome.message = "still running after %d s (killed)" % WALL_SECONDS
    if outcome.kind == "ok" and case.expect_error is not None:
        outcome.problems.append("expected an error containing %r, got success" % case.expect_error)
    if outcome.kind == "error" and case.expect_error and case.expect_error not in outcome.message:
        outcome.problems.append("expected an error containing %r, got %r" % (case.expect_error, outcome.message[:300]))
    if outcome.kind == "error" and not outcome.located:
        outcome.problems.append("the error names no key path, file or option: %r" % outcome.message[:300])
    outcome.escapes = sandbox.escapes()
    for text, where in [(stdout, "stdout"), (stderr, "stderr")] + [(_read(path), path) for path in sandbox.written()]:
        for canary in (OUTSIDE_CANARY, SECRET_CANARY):
            if canary in text:
                outcome.leaks.append("%s in %s" % (canary, os.path.relpath(where, sandbox.root)
                                                   if os.path.isabs(where) else where))
    return outcome


def run_all(cases: List[Case], base: str, workers: int = 2) -> List[Outcome]:
    """Every case, ``workers`` children at a time; sandboxes of clean cases are removed."""
    preload()
    gc.collect()
    gc.freeze()  # the children do not walk (and so copy) the parent's objects when they collect
    outcomes: List[Outcome] = []
    pending = list(enumerate(cases))
    running: List[Running] = []
    while pending or running:
        while pending and len(running) < workers:
            index, case = pending.pop(0)
            running.append(start(case, base, index))
        still = []
        for item in running:
            outcome = poll(item)
            if outcome is None:
                still.append(item)
                continue
            outcomes.append(outcome)
            if outcome.kind in ("ok", "error") and not (outcome.escapes or outcome.leaks or outcome.problems):
                item.sandbox.remove()
        if len(still) == len(running):
            time.sleep(0.002)
        running = still
    gc.unfreeze()
    return outcomes
