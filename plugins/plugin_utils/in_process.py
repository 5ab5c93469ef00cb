# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running the collection's modules inside the controller's Ansible process.

Every module of this collection talks to a Kubernetes API (or only reads files): where it runs does
not matter, as long as it is the machine the task's connection reaches. For a task whose connection
is *local* (the hosts of the clusters inventory, ``connection: local``, localhost), starting a
Python process, unpacking the module, and importing ansible.module_utils, the collection and the
Kubernetes client costs ~1-2 s of CPU per task for work that often takes 0.1 s. This action runs
the module's ``main()`` in the worker process Ansible forked for the task instead:

* the module code is the same: ``AnsibleModule`` reads the same arguments (encoded and decoded
  with the module serialization profile, as when they are sent to a module process), checks them,
  masks ``no_log`` values, and its result is parsed by the same code as a module's output;
* the imports are paid once per ansible-playbook run: the strategy loads this action plugin in the
  main process before it forks the workers (its imports are inherited), and this file imports the
  module_utils the modules need;
* the task's ``environment:`` is applied to ``os.environ`` while the module runs (and restored);
* progress lines (``module_utils.progress``) go to Ansible's display while the task runs, so a
  rollout that waits shows what it waits for in ansible-playbook's output and an AWX job's output.

The module runs as an ordinary module (``_execute_module``) when the connection is not local, when
privilege escalation is asked for, for ``async`` tasks, when ``continuouspipe_in_process`` is false
for the host, or on an ansible-core without module serialization profiles (before 2.19).
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import io
import json
import os
import sys
import traceback

from ansible.module_utils import _internal as module_internal
from ansible.module_utils import basic
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.vars.clean import remove_internal_keys

try:  # ansible-core >= 2.19: module arguments and results go through a serialization profile
    from ansible.module_utils.common.json import Direction, get_module_encoder

    HAS_PROFILES = True
except ImportError:  # pragma: no cover - older ansible-core: always an ordinary module run
    HAS_PROFILES = False

try:
    from ansible.module_utils.common import warnings as module_warnings
except ImportError:  # pragma: no cover
    module_warnings = None

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import progress

display = Display()

COLLECTION = "continuouspipe.kubernetes"
PLUGINS_PACKAGE = "ansible_collections.continuouspipe.kubernetes.plugins."
PLUGINS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES_PACKAGE = PLUGINS_PACKAGE + "modules."
PROFILE = "legacy"  # what module_common uses for modules that declare no profile (ours)
IN_PROCESS_VARIABLE = "continuouspipe_in_process"
LOCAL_TRANSPORTS = ("local", "ansible.builtin.local", "ansible.legacy.local")


class BytecodeCachingFinder(importlib.abc.MetaPathFinder):
    """Finds this collection's modules and module_utils as the plain source files they are, so that
    Python's own file loader reads and writes their bytecode cache (``__pycache__``, as for any
    installed package; nothing is written under PYTHONDONTWRITEBYTECODE or in a read-only directory).

    Ansible's collection loader compiles every collection module from source in every process that
    imports it: for the ~60 modules a deploy imports that is ~0.2 s of CPU per ansible-playbook run,
    a quarter of what a task costs above ansible-playbook's own start. Only files of *this* collection's
    ``plugins/modules`` and ``plugins/module_utils`` are found here (the same files the collection loader
    would load: this file's own collection); packages and anything else are left to the collection loader.
    It is on ``sys.meta_path`` only while ``preload`` imports them (imports made later, when a task runs,
    are the collection loader's).
    """

    def __init__(self, plugins_dir: str = PLUGINS_DIR):
        self.plugins_dir = plugins_dir

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(PLUGINS_PACKAGE):
            return None
        parts = fullname[len(PLUGINS_PACKAGE):].split(".")
        if len(parts) < 2 or parts[0] not in ("modules", "module_utils") or not all(part.isidentifier() for part in parts):
            return None
        filename = os.path.join(self.plugins_dir, *parts) + ".py"
        if not os.path.isfile(filename):
            return None
        return importlib.util.spec_from_file_location(fullname, filename)


@contextlib.contextmanager
def _bytecode_cached_imports():
    """The finder first on ``sys.meta_path`` while this collection's modules are preloaded, and removed
    afterwards: the import machinery of the rest of the process is left as it was."""
    finder = BytecodeCachingFinder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(finder)


def preload(*names: str, utils=()) -> None:
    """Import modules of the collection now (from an action plugin file, so in the main process),
    and the module_utils they import only when they run (``utils``, names under module_utils)."""
    modules = [MODULES_PACKAGE + name for name in names]
    modules += [PLUGINS_PACKAGE + "module_utils." + name for name in utils]
    with _bytecode_cached_imports():
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception:  # pragma: no cover - reported when the task runs (or the module runs remotely)
                pass


@contextlib.contextmanager
def _environment(values: dict):
    """``os.environ`` with ``values`` set (the task's ``environment:``), restored afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            os.environ[str(name)] = str(value)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _module_side():
    """The module's arguments, and ansible.module_utils acting as on a target while it runs.

    On the controller, ``AnsibleModule.warn()`` prints at once and the JSON profiles are the
    controller's; in a module process, warnings are collected into the result and the module side of
    the profiles is used. The latter is what a module expects, and keeps its result the same.
    """
    saved = (basic._ANSIBLE_ARGS, getattr(basic, "_ANSIBLE_PROFILE", None), module_internal.is_controller)
    if module_warnings is not None:
        # warnings and deprecations of an earlier run in this process (a loop) are not this run's
        getattr(module_warnings, "_global_warnings", {}).clear()
        getattr(module_warnings, "_global_deprecations", {}).clear()
    module_internal.is_controller = False
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE, module_internal.is_controller = saved


@contextlib.contextmanager
def _progress_to_display(host: str):
    def show(text: str) -> None:
        display.display("[%s] %s" % (host, text))

    previous = progress.set_sink(show)
    try:
        yield
    finally:
        progress.set_sink(previous)


class ModuleAction(ActionBase):
    """The action of a module of this collection: in the controller's process when possible.

    Subclasses (one per module, in ``plugins/action/<module>.py``) set ``MODULE``.
    """

    MODULE = ""
    _supports_check_mode = True
    _supports_async = True

    def in_process(self, task_vars: dict) -> bool:
        if not HAS_PROFILES or self._task.async_val:
            return False
        if getattr(self._connection, "transport", None) not in LOCAL_TRANSPORTS:
            return False
        if self._play_context.become:
            return False
        wanted = task_vars.get(IN_PROCESS_VARIABLE, True)
        try:
            return boolean(wanted, strict=False)
        except TypeError:  # pragma: no cover
            return True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        name = self.MODULE
        if self.in_process(task_vars):
            result.update(self.run_in_process(name, task_vars))
            return result
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result.update(self._execute_module(module_name="%s.%s" % (COLLECTION, name), task_vars=task_vars,
                                           wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def run_in_process(self, name: str, task_vars: dict) -> dict:
        module_args = dict(self._task.args)
        self._update_module_args("%s.%s" % (COLLECTION, name), module_args, task_vars)
        environment = {}
        self._compute_environment_string(environment)
        encoder = get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE)
        payload = json.dumps({"ANSIBLE_MODULE_ARGS": module_args}, cls=encoder).encode("utf-8")
        output = io.StringIO()
        rc = 0
        host = task_vars.get("inventory_hostname") or "localhost"
        module = importlib.import_module(MODULES_PACKAGE + name)
        with _environment(environment), _progress_to_display(str(host)):
            try:
                with _module_side(), contextlib.redirect_stdout(output):
                    basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE = payload, PROFILE
                    module.main()
            except SystemExit as done:
                rc = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
            except Exception as error:  # a crash of the module: reported as Ansible reports a module crash
                return {"failed": True, "rc": 1,
                        "msg": "MODULE FAILURE (%s.%s, run in the controller's process): %s: %s" % (
                            COLLECTION, name, type(error).__name__, error),
                        "module_stdout": output.getvalue(), "module_stderr": traceback.format_exc()}
        data = self._parse_returned_data({"stdout": output.getvalue(), "stderr": "", "rc": rc}, PROFILE)
        remove_internal_keys(data)
        return data
