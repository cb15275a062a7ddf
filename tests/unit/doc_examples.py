"""The examples in docs/*.md are files under docs/examples/ that tests use.

A fenced block in those docs is preceded by ``<!-- example: PATH -->`` (or
``<!-- example: PATH lines N-M -->`` for an excerpt); :func:`check_doc` asserts that every
block has such a marker and shows exactly the file's text. The tests that import this
module then exercise the files themselves (load, generate, lint, run).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
_BLOCK = re.compile(r"^```[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
_MARKER = re.compile(r"<!-- example: (\S+?)(?: lines (\d+)-(\d+))? -->\s*$")


def doc_examples(doc: Path) -> list[tuple[Path, str, str]]:
    """(file, what the doc shows, what the file says) for every fenced block of ``doc``."""
    text = doc.read_text(encoding="utf-8")
    found: list[tuple[Path, str, str]] = []
    for match in _BLOCK.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = _MARKER.search(before)
        line = text[: match.start()].count("\n") + 1
        assert marker, f"{doc.name}:{line}: a fenced block without <!-- example: PATH -->"
        path = REPO / marker.group(1)
        assert path.is_file(), f"{doc.name}:{line}: example {marker.group(1)} does not exist"
        content = path.read_text(encoding="utf-8")
        if marker.group(2):
            lines = content.splitlines(keepends=True)
            content = "".join(lines[int(marker.group(2)) - 1 : int(marker.group(3))])
        found.append((path, match.group(1), content))
    return found


def check_doc(doc: Path) -> list[Path]:
    """Assert every block of ``doc`` shows its file exactly; return the files."""
    files = []
    for path, shown, content in doc_examples(doc):
        assert shown == content, f"{doc.name}: the block for {path.relative_to(REPO)} differs"
        files.append(path)
    return files


def commands(path: Path, program: str = "envctl") -> list[list[str]]:
    """The ``program ...`` command lines of a shell example (comments and others skipped)."""
    result = []
    for line in path.read_text(encoding="utf-8").splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == program:
            result.append(words[1:])
    return result
