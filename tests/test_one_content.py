"""One bundle id, one content, on every target (R9).

A run killed after a bundle reached the first target but before the catalog recorded it
leaves that bundle on one target, unknown to the catalog. The next run adopts it when it
holds the payload the run would write (the bundle then goes to the other targets as it
is), or else writes its new content as the next version on every target: never a second
content under the same id, never a false «повреждена».
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from flows.cli import main
from journal.source import open_source
from pipeline.archive import ArchiveStatus, archive_period_class
from pipeline.settings import Settings
from storage.catalog import open_catalog, replicas_of
from storage.filesystem import FilesystemTarget
from storage.target import ReplicaStatus
from tests.homes import bundle_dirs, bundle_dirs_on, forget_bundle, make_demo_home

YEAR = "2024/2025"
CLASS = "5А"


@pytest.fixture
def killed_after_primary(tmp_path: Path) -> tuple[Settings, str]:
    """A home where the Q1 bundle of 5А reached primary only, and the catalog never recorded it."""
    settings = make_demo_home(tmp_path / "home")
    first = archive_period_class(settings, YEAR, CLASS, "Q1")
    assert first.status == ArchiveStatus.CREATED, first
    forget_bundle(settings, first.bundle_id, keep_on="primary")
    return settings, first.bundle_id


def _primary(settings: Settings) -> FilesystemTarget:
    target = settings.targets()[0]
    assert isinstance(target, FilesystemTarget) and target.name == "primary"
    return target


def _rebag_with_other_tags(bag: Path) -> None:
    """The same payload bagged by another build (another software release): bag-info differs, data/ not."""
    for path in [bag, *bag.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    info = bag / "bag-info.txt"
    info.write_bytes(info.read_bytes() + b"Internal-Sender-Description: an earlier build\n")
    tag_files = sorted(p.name for p in bag.iterdir() if p.is_file() and not p.name.startswith("tagmanifest-"))
    for algorithm in ("sha256", "sha512"):
        lines = [
            f"{hashlib.new(algorithm, (bag / name).read_bytes()).hexdigest()}  {name}\n" for name in tag_files
        ]
        (bag / f"tagmanifest-{algorithm}.txt").write_text("".join(lines), encoding="utf-8")
    for path in [*bag.rglob("*"), bag]:
        path.chmod(0o555 if path.is_dir() else 0o444)


def _states(settings: Settings, bundle_id: str) -> dict[str, ReplicaStatus]:
    db = open_catalog(settings.catalog_path)
    try:
        return {r.target: r.status for r in replicas_of(db, bundle_id)}
    finally:
        db.close()


def test_a_bundle_with_the_same_payload_is_adopted_as_it_is(
    killed_after_primary: tuple[Settings, str],
) -> None:
    settings, bundle_id = killed_after_primary
    (orphan,) = bundle_dirs_on(_primary(settings), bundle_id)
    _rebag_with_other_tags(orphan)
    before = {p.relative_to(orphan): p.read_bytes() for p in orphan.rglob("*") if p.is_file()}

    again = archive_period_class(settings, YEAR, CLASS, "Q1")
    assert again.status == ArchiveStatus.CREATED, again
    assert again.bundle_id == bundle_id
    assert _states(settings, bundle_id) == {"primary": "verified", "secondary": "verified"}
    primary, secondary = bundle_dirs(settings, bundle_id)
    for copy in (primary, secondary):  # the adopted copy everywhere, byte for byte
        assert {p.relative_to(copy): p.read_bytes() for p in copy.rglob("*") if p.is_file()} == before
    checked = CliRunner().invoke(main, ["--home", str(settings.home), "verify", "--all"])
    assert checked.exit_code == 0, checked.output
    assert "не в каталоге" not in checked.output


def test_new_content_becomes_the_next_version_on_every_target(
    killed_after_primary: tuple[Settings, str],
) -> None:
    settings, bundle_id = killed_after_primary
    engine = open_source(settings.source_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE lesson SET topic = topic || ' (уточнено)' WHERE id = (SELECT min(l.id) FROM lesson l"
            " JOIN course c ON c.year_id = l.year_id AND c.id = l.course_id"
            " JOIN school_class k ON k.year_id = c.year_id AND k.id = c.class_id"
            " WHERE k.name = '5А' AND l.date < '2024-10-01')"
        )
    engine.dispose()
    (orphan,) = bundle_dirs_on(_primary(settings), bundle_id)
    orphan_manifest = (orphan / "manifest-sha256.txt").read_bytes()

    again = archive_period_class(settings, YEAR, CLASS, "Q1")
    assert again.status == ArchiveStatus.CREATED, again
    assert again.bundle_id == bundle_id.replace("-v1", "-v2")
    assert _states(settings, again.bundle_id) == {"primary": "verified", "secondary": "verified"}
    assert len(bundle_dirs(settings, again.bundle_id)) == 2
    assert bundle_dirs(settings, bundle_id) == [orphan]  # v1 only where it was, untouched
    assert (orphan / "manifest-sha256.txt").read_bytes() == orphan_manifest
    checked = CliRunner().invoke(main, ["--home", str(settings.home), "verify", "--all"])
    assert checked.exit_code == 0, checked.output  # no false tamper alarm
    assert "INVALID" not in checked.output
    assert "не в каталоге: пакет " in checked.output and bundle_id in checked.output
