"""Tests never import another test module or a conftest (issue 12).

Importing a test module runs its module-level code a second time under another name, and
collects every `test_*` function it hands over a second time; a helper reached through a test
module or a conftest also hides where it lives. Shared fixtures belong in a conftest.py, where
pytest finds them by name; shared functions, classes and constants in a plainly named helpers
module (tests/helpers.py, tests/<area>/helpers.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _origin(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The absolute name of what `from ... import` reads from, inside `module`."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _forbidden(name: str) -> bool:
    return any(part.startswith("test_") or part == "conftest" for part in name.split("."))


def forbidden_imports(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """`line: name` for each test module or conftest that `source` (the text of `module`) imports.

    Every name is checked, including those a `from` import takes: `from . import test_crash`
    imports a module, and a `test_*` function pulled in is collected a second time."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            origin = _origin(module, node, is_package)
            names = [origin, *(f"{origin}.{alias.name}" for alias in node.names)]
        else:
            continue
        bad = next((name for name in names if _forbidden(name)), None)
        if bad:
            found.append(f"{node.lineno}: {bad}")
    return found


@pytest.mark.parametrize(
    "line",
    [
        "from .test_wallet import browser, csrf_token, precreate",
        "from .conftest import DAY, NEXT_MORNING",
        "from ..payments.test_crash import cluster",
        "from tests.reconciliation.conftest import simple_day",
        "from tests.api import test_terminals",
        "from . import conftest",
        "import tests.api.test_terminals",
        "import test_signing",  # from a test folder without __init__.py
        "def f():\n    from .test_browser import PHONE",
    ],
)
def test_importing_a_test_module_or_a_conftest_is_caught(line):
    assert forbidden_imports(line, "tests.shop.test_browser_phone")


@pytest.mark.parametrize(
    "line",
    [
        "from .helpers import PHONE, Shots",
        "from ..helpers import no_worker",
        "from ..browser import MARKS, chromium_context",
        "from tests.payments.helpers import SUCCESS, pay",
        "from django.test import Client",
        "from rest_framework.test import APIClient",
        "import unittest",
    ],
)
def test_helpers_and_libraries_may_be_imported(line):
    assert forbidden_imports(line, "tests.shop.test_browser_phone") == []


def test_no_test_module_imports_another_test_module_or_a_conftest():
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        found = forbidden_imports(
            path.read_text("utf-8"), module_name(path), is_package=path.name == "__init__.py"
        )
        offenders += [f"{path.relative_to(ROOT)}:{hit}" for hit in found]
    assert not offenders, (
        "move what is shared into the area's conftest.py (fixtures) or helpers.py (the rest): "
        f"{offenders}"
    )
