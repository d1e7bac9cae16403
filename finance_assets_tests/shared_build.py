"""A costly build (e.g. a demo warehouse) made once per test session and shared by the tests that only read
it, whichever pytest-xdist worker asks first: the others wait for it on a file lock and get the same
directory (pytest-xdist's documented pattern: the workers' base temp dirs share the session's parent).

A test that would change what it holds works on a copy (shutil.copytree is cheap: a demo warehouse is a
few MB), never on the shared directory itself.
"""

from __future__ import annotations

import os
import shutil
import traceback
from collections.abc import Callable
from pathlib import Path

import filelock
import pytest


def build_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """The directory `build(root)` filled, built by the first test of the session that asks for `name`.

    If the build failed, the test that ran it fails with the build's own error, and every later test
    that asks for it fails at once with that error instead of building again."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the session's directory; each worker's own base temp dir is inside it
    root, failed = base / f"shared-{name}", base / f"shared-{name}.failed"
    built = root / ".built"
    with filelock.FileLock(str(base / f"shared-{name}.lock")):
        if failed.exists():
            pytest.fail(f"the shared build {name!r} failed in an earlier test:\n{failed.read_text()[-3000:]}")
        if not built.exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            try:
                build(root)
            except BaseException:
                failed.write_text(traceback.format_exc())
                raise
            built.touch()
    return root
