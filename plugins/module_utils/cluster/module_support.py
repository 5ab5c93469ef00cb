# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module that works on a cluster does around its work.

``ModuleConnection(module)`` fails the module when the kubernetes client is missing, works out the
connection settings (task options, then K8S_AUTH_* variables) and keeps their secrets out of results
and logs. As a context manager it connects on first use (``connect()``), closes the connection at the
end, and turns a ContinuousPipeError into ``fail_json`` (no traceback). ``deploy_result`` is that for
the deploy and rollback modules, whose pipeline connects by itself.
"""
from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.continuouspipe.kubernetes.plugins.module_utils import progress
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster import connection
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.cluster.engine import DeployError
from ansible_collections.continuouspipe.kubernetes.plugins.module_utils.errors import ContinuousPipeError

# The project options of a module that also works without a project (after SOURCE_ARGSPEC, which
# requires them); such a module wants required_together=[("source_dir", "branch")].
OPTIONAL_PROJECT = dict(
    source_dir=dict(type="path"),
    branch=dict(type="str"),
)


def argument_spec(*groups: dict, **options) -> dict:
    """The connection options, then each group of options, then ``options`` (a later one wins)."""
    spec = dict(connection.CONNECTION_ARGSPEC)
    for group in groups:
        spec.update(group)
    spec.update(options)
    return spec


class ModuleConnection:
    """The way of one module run to its cluster.

    ``secrets`` are further values to keep out of results and logs. ``errors`` are the exceptions
    reported as ``fail_json(msg=str(error), **failure)``; a module may add to ``failure`` (result
    keys of a failure) as it learns them.
    """

    def __init__(self, module, secrets=(), errors=(ContinuousPipeError,), **failure):
        if not connection.HAS_KUBERNETES:
            module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(connection.KUBERNETES_IMPORT_ERROR))
        self.module = module
        self.settings = connection.connection_settings(module.params)
        module.no_log_values.update(connection.sensitive_values(self.settings))
        module.no_log_values.update(secrets)
        # progress lines (printed while the module runs in the controller's process) hide them too
        progress.hide(module.no_log_values)
        self.errors = errors
        self.failure = failure
        self._cluster = None

    def connect(self) -> connection.Cluster:
        """The cluster, connected on first use."""
        if self._cluster is None:
            self._cluster = connection.Cluster.from_settings(self.settings)
        return self._cluster

    def __enter__(self) -> "ModuleConnection":
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        if self._cluster is not None:
            self._cluster.close()
        if isinstance(error, self.errors):
            self.module.fail_json(msg=str(error), **self.failure)
        return False


def deploy_result(module, action, secrets=()) -> dict:
    """``action`` (``deploy.run`` or ``deploy.rollback``) on the module's options; its result as a dict.

    A deploy that fails after writing fails the module with everything its result says (and whether
    it changed anything); any other ContinuousPipeError with ``changed=False``. The result's warnings
    (the project's and the engine's) become the module's warnings.
    """
    with ModuleConnection(module, secrets, changed=False):
        try:
            result = action(module.params, check_mode=module.check_mode, diff=module._diff)
        except DeployError as error:
            out = error.result.to_dict(diff=module._diff)
            out.pop("changed", None)
            for warning in out.pop("warnings", []):
                module.warn(warning)
            module.fail_json(msg=str(error), changed=error.result.changed, **out)
    out = result.to_dict(diff=module._diff)
    # Ansible shows a module's warnings itself (and in AWX's job output) from module.warn()
    for warning in out.pop("warnings", []):
        module.warn(warning)
    return out
