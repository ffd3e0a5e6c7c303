"""The layers point down only: ``vidpipe/`` -> ``functions/`` -> ``shared/`` (docs/architecture.md).

Every import statement of every module is read with :mod:`ast` (including imports inside
functions), so a lazy import cannot slip past.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.helpers import ROOT

#: package -> the top-level packages it must never import.
#: ``s3_uploader`` (the replaced package's API) is tooling at the level of ``vidpipe/``.
FORBIDDEN = {
    "shared": {"functions", "vidpipe", "s3_uploader", "tests", "bench"},
    "functions": {"vidpipe", "s3_uploader", "tests", "bench"},
    "vidpipe": {"tests", "bench"},
    "s3_uploader": {"tests", "bench"},
}


def imported_packages(path: Path) -> set[tuple[int, str]]:
    """``(line, top-level package)`` of every absolute import in ``path``."""
    found: set[tuple[int, str]] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {(node.lineno, alias.name.split(".")[0]) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.lineno, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_point_down_only(package):
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {top}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, top in sorted(imported_packages(path))
        if top in FORBIDDEN[package]
    ]
    assert offenders == []


def test_the_checker_sees_a_forbidden_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from vidpipe.cli import app\n    import functions.x\n")
    assert imported_packages(probe) == {(2, "vidpipe"), (3, "functions")}
