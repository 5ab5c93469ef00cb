# -*- coding: utf-8 -*-
"""Fixtures of the load-stage unit tests."""
from __future__ import annotations

import pytest

from cp_load_helpers import Project


@pytest.fixture
def project(tmp_path):
    """An empty project directory: ``project.write(name, text)``, then ``project.load(branch=…)``."""
    return Project(tmp_path)
