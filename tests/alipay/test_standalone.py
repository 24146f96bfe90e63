"""The protocol package stands alone: no module in payments/alipay imports Django, the rest of
payments or ticketing, at module level or inside a function, so it can be used and tested (and
one day published) without the site around it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import payments.alipay

PACKAGE = "payments.alipay"
PACKAGE_DIR = Path(payments.alipay.__file__).parent
FORBIDDEN_ROOTS = ("django", "payments", "ticketing")


def imported_modules(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """Every module an import statement anywhere in `source` names, relative ones resolved."""
    package = module if is_package else module.rpartition(".")[0]
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from payments import clock` names payments.clock (and `from payments import alipay`
            # names the package itself, which is allowed).
            names.extend(f"{target}.{alias.name}" for alias in node.names)
    return names


def forbidden(name: str) -> bool:
    if name == PACKAGE or name.startswith(PACKAGE + "."):
        return False
    return name.split(".")[0] in FORBIDDEN_ROOTS


def protocol_modules() -> list[tuple[str, Path]]:
    modules = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules.append((".".join((PACKAGE, *parts)), path))
    return modules


def test_the_protocol_package_has_modules_to_check():
    names = [name for name, _ in protocol_modules()]
    assert {"payments.alipay.client", "payments.alipay.signing"} <= set(names)


@pytest.mark.parametrize(
    ("module", "path"), [pytest.param(name, path, id=name) for name, path in protocol_modules()]
)
def test_a_protocol_module_imports_nothing_from_django_payments_or_ticketing(module, path):
    found = imported_modules(
        path.read_text(encoding="utf-8"), module, is_package=path.name == "__init__.py"
    )
    assert [name for name in found if forbidden(name)] == []


@pytest.mark.parametrize(
    "source",
    [
        "import django.conf",
        "from django.db import transaction",
        "from payments import clock",
        "from payments.models import Payment",
        "import ticketing.orders",
        "def f():\n    from payments.clock import now\n",
        "from .. import clock",
        "from ..models import Payment",
    ],
)
def test_the_check_catches_an_import_from_outside_the_package(source):
    found = imported_modules(source, "payments.alipay.client")
    assert any(forbidden(name) for name in found)


@pytest.mark.parametrize(
    "source",
    [
        "from payments.alipay import services",
        "from payments import alipay",
        "from payments.alipay.results import GatewayResult",
        "from . import signing",
        "from .money import exponent",
        "import requests",
        "from cryptography.hazmat.primitives import hashes",
    ],
)
def test_the_check_allows_the_package_itself_and_third_party_libraries(source):
    found = imported_modules(source, "payments.alipay.client")
    assert not any(forbidden(name) for name in found)
