"""Journal-archive homes for tests: the demo journal made through the CLI, and the CLI as a user runs it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from flows.cli import main
from pipeline.settings import Settings, load_settings
from storage.filesystem import FilesystemTarget


def make_demo_home(home: Path, size: str = "class") -> Settings:
    """A home holding the demo journal of `size` (and the demo seal), made by `journal-archive demo`."""
    result = CliRunner().invoke(main, ["--home", str(home), "demo", "--size", size])
    assert result.exit_code == 0, result.output
    return load_settings(home)


def bundle_dirs(settings: Settings, bundle_id: str) -> list[Path]:
    """Every folder-target copy of a bundle, in the configured order of targets."""
    return [
        target.root / key
        for target in settings.targets()
        for key in target.list_bundles()
        if key.endswith("/" + bundle_id)
    ]


def run_cli(
    *args: str, home: Path, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed console script in a fresh process, as a user runs it (Prefect in ephemeral mode);
    `env`: more environment variables."""
    script = Path(sys.executable).with_name("journal-archive")
    env = {
        **os.environ,
        "JOURNAL_ARCHIVE_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        **(env or {}),
    }
    for inherited in ("PREFECT_API_URL", "PREFECT_HOME"):  # an in-process CLI test may have set them
        env.pop(inherited, None)
    return subprocess.run([str(script), *args], capture_output=True, text=True, env=env, timeout=timeout)


def forget_bundle(settings: Settings, bundle_id: str, *, keep_on: str | None = None) -> None:
    """What a run killed after storing a bundle but before cataloguing it leaves: the catalog does
    not know the bundle, and (with `keep_on`) only that target holds it."""
    db = sqlite3.connect(settings.catalog_path)
    with db:
        for table in ("anchors", "changes", "replicas", "fixity_checks", "bundles"):
            db.execute(f"DELETE FROM {table} WHERE bundle_id = ?", (bundle_id,))
    db.close()
    if keep_on is None:
        return
    for target in settings.targets():
        if target.name != keep_on and isinstance(target, FilesystemTarget):
            for path in bundle_dirs_on(target, bundle_id):
                for folder in [path, *(p for p in path.rglob("*") if p.is_dir())]:
                    folder.chmod(0o755)
                shutil.rmtree(path)


def bundle_dirs_on(target: FilesystemTarget, bundle_id: str) -> list[Path]:
    """The folders of a bundle on one folder target."""
    return [target.root / key for key in target.list_bundles() if key.endswith("/" + bundle_id)]
