"""The clock is the lowest module of the site (payments, the sandbox and ticketing all read it),
so it imports only the standard library: never Django, payments or ticketing."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import payments.clock


def test_the_clock_imports_only_the_standard_library():
    tree = ast.parse(Path(payments.clock.__file__).read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "a relative import reaches into the project"
            roots.add((node.module or "").split(".")[0])
    assert roots, "the clock imports something (time, datetime): the check must see it"
    assert roots - {"__future__"} <= sys.stdlib_module_names
