"""The Chinese catalogues are complete and compiled: a fuzzy or empty entry, or a .po edited but
not compiled, shows English to a reader who chose Chinese, and no other test would notice."""

from __future__ import annotations

import ast
import gettext
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = sorted(
    path
    for path in ROOT.glob("**/locale/zh_Hans/LC_MESSAGES/django.po")
    # Not ours: packages in .venv, and in var/ (the benchmarks' pretix peer has its own venv).
    if ".venv" not in path.parts and path.relative_to(ROOT).parts[0] != "var"
)


def entries(po: Path) -> list[dict]:
    """The .po's entries: {"flags", "msgctxt", "msgid", "msgid_plural", "msgstr": [...]}."""
    found, entry, key = [], None, None
    for line in [*po.read_text("utf-8").splitlines(), ""]:
        if not line.strip():
            if entry and "msgid" in entry:
                found.append(entry)
            entry, key = None, None
            continue
        entry = entry or {"flags": set(), "msgstr": {}}
        if line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            value = ast.literal_eval(line)
            if isinstance(key, tuple):
                entry["msgstr"][key[1]] += value
            else:
                entry[key] += value
        else:
            word, _, rest = line.partition(" ")
            value = ast.literal_eval(rest)
            if word.startswith("msgstr"):
                index = int(word[7:-1]) if "[" in word else 0
                key = ("msgstr", index)
                entry["msgstr"][index] = value
            else:
                key = word
                entry[word] = value
    return [e for e in found if e["msgid"]]  # the header has an empty msgid


def test_there_are_chinese_catalogues():
    assert CATALOGUES, "no locale/zh_Hans/LC_MESSAGES/django.po found"


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_message_is_translated_and_compiled(po):
    catalogue = entries(po)
    assert catalogue
    unfinished = [
        e["msgid"] for e in catalogue if "fuzzy" in e["flags"] or not all(e["msgstr"].values())
    ]
    assert not unfinished, f"fuzzy or untranslated in {po}: {unfinished}"
    with po.with_suffix(".mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    stale = []
    for e in catalogue:
        context = f"{e['msgctxt']}\x04" if "msgctxt" in e else ""
        if "msgid_plural" in e:
            forms = [compiled.ngettext(context + e["msgid"], e["msgid_plural"], n) for n in (1, 2)]
            expected = [e["msgstr"][0], e["msgstr"][0]]  # Chinese has one plural form
            if forms != expected:
                stale.append(e["msgid"])
        elif compiled._catalog.get(context + e["msgid"]) != e["msgstr"][0]:
            stale.append(e["msgid"])
    assert not stale, f"{po.with_suffix('.mo')} is older than its .po (compilemessages): {stale}"


def test_the_catalogues_hold_every_message_of_the_sources(tmp_path):
    """makemessages on a copy of the sources finds no message the committed catalogues lack."""
    import shutil
    import subprocess
    import sys

    if not shutil.which("xgettext"):
        pytest.skip("xgettext (Debian's gettext) is not installed")
    ignored = shutil.ignore_patterns(
        ".venv", "var", ".git", "__pycache__", "test-artifacts", "*.mo"
    )
    copy = tmp_path / "src"
    shutil.copytree(ROOT, copy, ignore=ignored)
    subprocess.run(
        [
            *(sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete"),
            *("--ignore=tests/*", "--ignore=bench/*", "--ignore=.venv/*", "--ignore=var/*"),
        ],
        cwd=copy,
        check=True,
        capture_output=True,
    )
    for po in CATALOGUES:
        relative = po.relative_to(ROOT)
        committed = {(e.get("msgctxt"), e["msgid"]) for e in entries(po)}
        regenerated = entries(copy / relative)
        missing = [
            e["msgid"] for e in regenerated if (e.get("msgctxt"), e["msgid"]) not in committed
        ]
        assert not missing, f"{relative} lacks (run makemessages, translate): {missing}"
