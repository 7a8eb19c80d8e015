"""The layers hold (docs/architecture.md): import-linter's contracts in pyproject.toml, checked here.

flows → pipeline → validators → documents → journal | storage; Prefect only in flows/;
the CLI and flows call pipeline/ and nothing below it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("flows", "pipeline", "validators", "documents", "journal", "storage")
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"], cwd=tree, capture_output=True, text=True, env=env, timeout=300
    )


def test_the_layer_contracts_are_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_a_wrong_import_breaks_a_contract(tmp_path: Path) -> None:
    """The contracts can fail: storage/ importing Prefect, or the CLI reaching below pipeline/."""
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(ROOT / "pyproject.toml", tree)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    (tree / "storage" / "wrong.py").write_text("import prefect\n", encoding="utf-8")
    (tree / "flows" / "wrong.py").write_text("from storage.catalog import open_catalog\n", encoding="utf-8")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "Prefect only in flows/ BROKEN" in result.stdout
    assert "The commands and flows call pipeline/ and nothing below it BROKEN" in result.stdout
    assert "storage.wrong -> prefect" in result.stdout
