# -*- coding: utf-8 -*-
# Copyright: contributors to continuouspipe.kubernetes
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the environment module in the controller's process when the task's connection is local (see plugin_utils/in_process.py)."""
from __future__ import annotations

from ansible_collections.continuouspipe.kubernetes.plugins.plugin_utils.in_process import ModuleAction, preload

preload("environment")


class ActionModule(ModuleAction):
    MODULE = "environment"
