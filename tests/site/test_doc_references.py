"""Every document a code comment or docstring points to is in the repository.

A comment that sends the reader to a design note nobody who clones Entrada can open is a dead end,
so the code's comments and docstrings (in payments/, ticketing/, tests/ and bench/) may cite only
Markdown files that exist here: a bare file name is looked up at the repository's root and in
docs/, a path is taken from the root. A citation with an anchor (`docs/alipay.md#signing`) must
also name a heading of that file, slugged the way GitHub links headings.

Only comments and docstrings are read: a `.md` inside ordinary string data is not a citation.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("payments", "ticketing", "tests", "bench")
SKIPPED_PARTS = frozenset({".venv", "migrations", "__pycache__", "node_modules"})

# A Markdown file name or relative path, optionally with an anchor. It may not start in the middle
# of a word or a path (so URLs such as https://host/x/README.md are left alone).
CITATION = re.compile(r"(?<![\w./:-])((?:[\w.-]+/)*[\w-][\w.-]*\.md)(?:#([\w-]+))?\b")


@dataclass(frozen=True)
class Citation:
    file: str
    line: int
    target: str
    anchor: str

    def __str__(self) -> str:
        cited = f"{self.target}#{self.anchor}" if self.anchor else self.target
        return f"{self.file}:{self.line}: {cited}"


def commentary(source: str) -> list[tuple[int, str]]:
    """(line, text) of every comment and every docstring-like string statement in `source`."""
    found: list[tuple[int, str]] = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            found.append((token.start[0], token.string))
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            found.append((node.lineno, node.value.value))
    return found


def citations(source: str, file: str) -> list[Citation]:
    """The Markdown documents cited in the comments and docstrings of one module."""
    out = []
    for first_line, text in commentary(source):
        for offset, line in enumerate(text.splitlines()):
            for match in CITATION.finditer(line):
                out.append(Citation(file, first_line + offset, match[1], match[2] or ""))
    return out


def resolve(target: str, root: Path) -> Path | None:
    """The cited file: a path from the root; a bare name at the root or in docs/."""
    candidates = [root / target] if "/" in target else [root / target, root / "docs" / target]
    return next((path for path in candidates if path.is_file()), None)


def heading_slugs(markdown: str) -> set[str]:
    """Anchors GitHub gives the file's headings: lower case, punctuation dropped, spaces to
    hyphens, a repeated heading suffixed -1, -2, ... (headings inside code fences do not count)."""
    slugs: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if fenced or heading is None:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading[1].strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        slugs.add(slug if count == 0 else f"{slug}-{count}")
    return slugs


def broken(cited: list[Citation], root: Path) -> list[str]:
    problems = []
    for citation in cited:
        path = resolve(citation.target, root)
        if path is None:
            problems.append(f"{citation}: no such document in the repository")
        elif citation.anchor and citation.anchor not in heading_slugs(path.read_text("utf-8")):
            problems.append(f"{citation}: {citation.target} has no heading with that anchor")
    return problems


def scanned_modules(root: Path) -> list[Path]:
    modules = []
    for top in SCANNED:
        for path in sorted((root / top).rglob("*.py")):
            if not SKIPPED_PARTS.intersection(path.relative_to(root).parts):
                modules.append(path)
    return modules


def test_cited_documents_exist_in_the_repository():
    cited = []
    for path in scanned_modules(ROOT):
        rel = path.relative_to(ROOT).as_posix()
        cited += citations(path.read_text(encoding="utf-8"), rel)
    problems = broken(sorted(cited, key=lambda c: (c.file, c.line)), ROOT)
    assert not problems, "comments and docstrings cite documents that are not here:\n" + "\n".join(
        problems
    )


# --- the checker itself, on a small repository of its own --------------------------------------
# The sample's missing documents are named by joining, so that no line of this file cites one
# itself (a repository-wide scan for cited names would otherwise find them here).
GONE, MISSING, ELSEWHERE = ("GONE" + ".md", "MISSING" + ".md", "ELSEWHERE" + ".md")
SAMPLE = (
    '''"""Module docstring citing @GONE and docs/guide.md#setting-up."""

NOTES = "data mentioning @MISSING is not a citation"


def f():
    """See the guide.md and https://example.com/x/@ELSEWHERE for more."""
    # A comment citing docs/guide.md#no-such-heading and docs/absent.md.
    return NOTES
'''.replace("@GONE", GONE)
    .replace("@MISSING", MISSING)
    .replace("@ELSEWHERE", ELSEWHERE)
)


@pytest.fixture
def sample_root(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text(
        "# Guide\n\n## Setting up\n\n```\n## Not a heading\n```\n", encoding="utf-8"
    )
    return tmp_path


def test_only_comments_and_docstrings_are_read():
    targets = [c.target for c in citations(SAMPLE, "sample.py")]
    assert targets == ["docs/guide.md", "docs/absent.md", GONE, "docs/guide.md", "guide.md"]


def test_bare_names_resolve_at_the_root_and_in_docs_paths_from_the_root(sample_root):
    assert resolve("guide.md", sample_root) == sample_root / "docs" / "guide.md"
    assert resolve("docs/guide.md", sample_root) == sample_root / "docs" / "guide.md"
    assert resolve(GONE, sample_root) is None
    (sample_root / GONE).write_text("# Here after all\n", encoding="utf-8")
    assert resolve(GONE, sample_root) == sample_root / GONE


def test_missing_documents_and_unknown_anchors_are_reported(sample_root):
    problems = broken(citations(SAMPLE, "sample.py"), sample_root)
    assert problems == [
        "sample.py:8: docs/guide.md#no-such-heading: docs/guide.md has no heading with that anchor",
        "sample.py:8: docs/absent.md: no such document in the repository",
        f"sample.py:1: {GONE}: no such document in the repository",
    ]


def test_heading_anchors_follow_github():
    text = "# Rules for money, capacity and payment state\n## `spot.pay`: barcode\n"
    text += "## Tests\n## Tests\n"
    assert heading_slugs(text) == {
        "rules-for-money-capacity-and-payment-state",
        "spotpay-barcode",
        "tests",
        "tests-1",
    }
