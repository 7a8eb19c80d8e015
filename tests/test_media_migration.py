"""Media migration (R8, issue 11): fill a new target, then retire an old one without ever going below
two verified replicas per live bundle.

A home with the two default folder targets and one archived class gets a third folder target
(added to the configuration, `targets init`-ed). `targets retire primary` refuses while only
`secondary` holds verified copies; `replicate --to third` copies every bundle there and reads it
back; then `targets retire primary` succeeds, writes `retired = true` into the configuration, and
`verify --all` and the audit see only `secondary` and `third`, each copy verified. Primary's files
are left in place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flows.cli import main
from pipeline.archive import ArchiveStatus, archive_period_class
from pipeline.audit import run_audit
from pipeline.settings import CONFIG_NAME, ConfigError, Settings, load_settings
from pipeline.targets import mark_retired
from storage.catalog import fixity_history, list_bundles, open_catalog, replicas_of
from storage.target import ReplicaStatus

YEAR = "2024/2025"
CLASS = "5А"
THIRD = '\n[[targets]]\nname = "third"\ntype = "filesystem"\npath = "archive/third"\n'


def cli(home: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--home", str(home), *args])


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two default folder targets, one archived class, and a third folder target just prepared."""
    home = tmp_path_factory.mktemp("migration") / "home"
    made = cli(home, "demo", "--size", "class")
    assert made.exit_code == 0, made.output
    archived = archive_period_class(load_settings(home), YEAR, CLASS, "Q1")
    assert archived.status == ArchiveStatus.CREATED, archived
    with (home / CONFIG_NAME).open("a", encoding="utf-8") as config:
        config.write(THIRD)
    init = cli(home, "targets", "init", "third")
    assert init.exit_code == 0, init.output
    return home


@pytest.fixture(scope="module")
def steps(home: Path) -> dict[str, object]:
    """The migration as an operator runs it, each step's result kept for the tests below."""
    settings = load_settings(home)
    db = open_catalog(settings.catalog_path)
    bundle_ids = [record.bundle_id for record in list_bundles(db)]
    db.close()
    config_before = (home / CONFIG_NAME).read_text(encoding="utf-8")
    refused = cli(home, "targets", "retire", "primary")
    config_after_refusal = (home / CONFIG_NAME).read_text(encoding="utf-8")
    replicated = cli(home, "replicate", "--to", "third")
    damaged = _damaged_while(home / "archive" / "third", lambda: cli(home, "targets", "retire", "primary"))
    retired = cli(home, "targets", "retire", "primary")
    return {
        "damaged": damaged,
        "bundle_ids": bundle_ids,
        "config_before": config_before,
        "refused": refused,
        "config_after_refusal": config_after_refusal,
        "replicated": replicated,
        "retired": retired,
    }


def _damaged_while(root: Path, run: Callable[[], Result]) -> Result:
    """Run `run` while one stored file under `root` has a flipped byte; the bytes and mode come back after."""
    victim = sorted(path for path in root.rglob("*") if path.is_file() and "/data/" in path.as_posix())[0]
    mode, original = victim.stat().st_mode, victim.read_bytes()
    victim.chmod(0o600)
    victim.write_bytes(bytes([original[0] ^ 0xFF]) + original[1:])
    try:
        return run()
    finally:
        victim.write_bytes(original)
        victim.chmod(mode)


def test_retire_verifies_now_rather_than_trusting_the_catalog(steps: dict) -> None:
    """`replicate --to third` recorded third's copies as verified; a byte flipped since then is found."""
    refused: Result = steps["damaged"]
    assert refused.exit_code == 1, refused.output
    assert any(bundle_id in refused.output for bundle_id in steps["bundle_ids"])
    assert "проверенные копии: secondary" in refused.output
    assert steps["retired"].exit_code == 0  # with the byte back, retirement goes ahead


def test_retire_refuses_while_a_bundle_lacks_two_verified_copies_elsewhere(steps: dict) -> None:
    refused: Result = steps["refused"]
    assert refused.exit_code == 1, refused.output
    assert steps["bundle_ids"]
    for bundle_id in steps["bundle_ids"]:  # every bundle named, with where its verified copies are
        assert bundle_id in refused.output
    assert "проверенные копии: secondary" in refused.output
    assert "replicate --to" in refused.output
    assert steps["config_after_refusal"] == steps["config_before"]  # nothing retired


def test_replicate_to_the_new_target_copies_and_verifies_every_bundle(home: Path, steps: dict) -> None:
    replicated: Result = steps["replicated"]
    assert replicated.exit_code == 0, replicated.output
    settings = load_settings(home)
    db = open_catalog(settings.catalog_path)
    try:
        for bundle_id in steps["bundle_ids"]:
            assert f"{bundle_id} → third: " in replicated.output
            assert " → primary" not in replicated.output and " → secondary" not in replicated.output
            copies = {replica.target: replica.status for replica in replicas_of(db, bundle_id)}
            assert copies.get("third") == ReplicaStatus.VERIFIED  # the catalog records the new replica
    finally:
        db.close()
    third = home / "archive" / "third"
    stored = [key for key in (third.rglob("bag-info.txt"))]
    assert len(stored) == len(steps["bundle_ids"])
    again = cli(home, "replicate", "--to", "third")
    assert again.exit_code == 0 and "Все пакеты уже есть на third." in again.output


def test_retired_target_is_no_longer_used_and_every_bundle_keeps_two_verified_copies(
    home: Path, steps: dict
) -> None:
    retired: Result = steps["retired"]
    assert retired.exit_code == 0, retired.output
    assert "Хранилище primary выведено из работы" in retired.output
    config = (home / CONFIG_NAME).read_text(encoding="utf-8")
    primary_section = config.split('name = "primary"')[0].rsplit("[[targets]]", 1)[1]
    assert "retired = true" in primary_section  # the configuration says which targets are used
    settings: Settings = load_settings(home)
    assert [target.name for target in settings.targets()] == ["secondary", "third"]
    assert any((home / "archive" / "primary").rglob("bag-info.txt"))  # files left for the operator

    verified = cli(home, "verify", "--all")
    assert verified.exit_code == 0, verified.output
    assert "primary" not in verified.output.split("Выполненные проверки:")[0]

    audit = run_audit(settings)
    assert {outcome.target for outcome in audit.outcomes} == {"secondary", "third"}
    assert all(outcome.found == ReplicaStatus.VERIFIED for outcome in audit.outcomes), audit.digest
    db = open_catalog(settings.catalog_path)
    try:
        for bundle_id in steps["bundle_ids"]:
            copies = {replica.target: replica.status for replica in replicas_of(db, bundle_id)}
            assert copies == {"secondary": ReplicaStatus.VERIFIED, "third": ReplicaStatus.VERIFIED}
            actions = [check.action for check in fixity_history(db, bundle_id)]
            assert "проверка перед выводом primary" in actions  # verified at retirement, not taken on trust
    finally:
        db.close()


def test_retire_refuses_to_leave_fewer_than_two_targets(home: Path, steps: dict) -> None:
    assert steps["retired"].exit_code == 0
    config = (home / CONFIG_NAME).read_text(encoding="utf-8")
    refused = cli(home, "targets", "retire", "secondary")
    assert refused.exit_code == 2, refused.output
    assert "останется меньше двух хранилищ" in refused.output
    assert (home / CONFIG_NAME).read_text(encoding="utf-8") == config
    unknown = cli(home, "replicate", "--to", "primary")  # retired: no longer a target to write to
    assert unknown.exit_code == 2 and "Хранилище primary выведено из работы" in unknown.output


def test_a_retired_entry_is_left_out_and_never_replaced_by_the_default_folders(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = load_settings(home)  # writes the default configuration: primary and secondary
    config = home / CONFIG_NAME
    config.write_text(config.read_text(encoding="utf-8") + THIRD, encoding="utf-8")
    mark_retired(config, "primary", dt.date(2031, 1, 2))
    text = config.read_text(encoding="utf-8")
    assert "# 2031-01-02: journal-archive targets retire" in text
    assert text.count("retired = true") == 1
    assert [t.name for t in load_settings(home).targets()] == ["secondary", "third"]
    mark_retired(config, "secondary", dt.date(2031, 1, 2))  # by hand, past what `targets retire` allows
    with pytest.raises(ConfigError, match="Нужно не меньше двух хранилищ"):
        load_settings(home).targets()
    mark_retired(config, "third", dt.date(2031, 1, 2))
    with pytest.raises(ConfigError, match="все хранилища выведены из работы"):
        load_settings(home).targets()  # not the embedded default's folders in their place
    assert settings.home == home


def test_mark_retired_refuses_a_layout_it_cannot_edit(tmp_path: Path) -> None:
    config = tmp_path / CONFIG_NAME
    original = (
        'targets = [{name = "primary", type = "filesystem", path = "a"},'
        ' {name = "secondary", type = "filesystem", path = "b"}]\n'
    )
    config.write_text(original, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"допишите .*retired = true вручную"):
        mark_retired(config, "primary", dt.date(2031, 1, 2))
    assert config.read_text(encoding="utf-8") == original
