"""One storage interface: both targets satisfy the Target protocol, no import cycle, one set of
targets per run, and a missing replica is a named check (R7, R8, R9)."""

from __future__ import annotations

import ast
import datetime as dt
import pickle
import secrets
from pathlib import Path

import pytest

from pipeline.settings import Settings, load_settings
from storage.s3 import S3Target
from storage.target import RetentionError, StorageError, StoredBundle, Target, verify_stored_bundle
from tests.bundles import folder_target, sample_key, write_sample_bag
from tests.s3server import S3Server, free_ports
from validators.bundle_checks import RULE_REPLICA, check_stored_bundle

STORAGE = Path(__file__).resolve().parent.parent / "storage"

EXERCISED = frozenset(
    {
        "name",
        "keeps_damaged_versions",
        "put_bundle",
        "replace_bundle",
        "has_bundle",
        "list_bundles",
        "iter_files",
        "open_file",
        "read_file",
        "stat",
        "stat_files",
        "delete_bundle_if_expired",
        "add_files",
    }
)
"""What `exercise` calls; a member added to the protocol must be added here and exercised."""


def test_the_exercise_covers_every_member_of_the_protocol() -> None:
    assert {name for name in vars(Target) if not name.startswith("_")} == EXERCISED


def exercise(target: Target, bag: Path) -> None:
    """Call every member of the Target protocol on `target` and check what each answers."""
    key = sample_key(bag)
    files = sorted(p.relative_to(bag).as_posix() for p in bag.rglob("*") if p.is_file())
    assert isinstance(target, Target)
    assert isinstance(target.name, str) and target.name
    assert isinstance(target.keeps_damaged_versions, bool)
    assert not target.has_bundle(key)
    assert target.list_bundles() == []

    stored = target.put_bundle(key, bag)
    assert stored == StoredBundle(target.name, key, tuple(files), created=True)
    assert target.has_bundle(key)
    assert target.list_bundles() == [key]
    assert list(target.iter_files(key)) == files
    with target.open_file(key, "data/journal.xml") as stream:
        assert stream.read() == (bag / "data/journal.xml").read_bytes()
    assert target.read_file(key, "bag-info.txt") == (bag / "bag-info.txt").read_bytes()
    info = target.stat(key, "data/journal.pdf")
    assert (info.size, info.read_only) == ((bag / "data/journal.pdf").stat().st_size, True)
    stats = target.stat_files(key)
    assert list(stats) == files and stats == {path: target.stat(key, path) for path in files}

    assert target.replace_bundle(key, bag).key == key
    assert verify_stored_bundle(target, key) == []
    target.add_files(key, {"evidence/0001.txt": b"new"})  # new names only, read-only like the rest
    assert target.read_file(key, "evidence/0001.txt") == b"new"
    assert target.stat(key, "evidence/0001.txt").read_only
    with pytest.raises(StorageError, match="не перезаписываются"):
        target.add_files(key, {"bag-info.txt": b"forged"})
    assert target.read_file(key, "bag-info.txt") == (bag / "bag-info.txt").read_bytes()
    with pytest.raises(RetentionError):  # the sample bag is kept through 2030-12-31
        target.delete_bundle_if_expired(key, dt.date(2030, 12, 31), dt.date(2025, 1, 1))
    assert target.has_bundle(key)


def test_the_filesystem_target_satisfies_the_protocol(tmp_path: Path) -> None:
    target = folder_target("primary", tmp_path / "primary")
    exercise(target, write_sample_bag(tmp_path / "work"))
    assert target.keeps_damaged_versions is False  # a repair swaps the folder: the damaged copy is gone


def test_the_s3_target_satisfies_the_protocol(tmp_path: Path, s3_server: S3Server) -> None:
    target = S3Target(
        "cloud",
        f"protocol-{secrets.token_hex(6)}",
        endpoint_url=s3_server.endpoint_url,
        access_key_id=s3_server.access_key_id,
        secret_access_key=s3_server.secret_access_key,
    )
    target.ensure_bucket()  # a new bucket with Object Lock, as the first put would make it
    exercise(target, write_sample_bag(tmp_path / "work"))
    assert target.keeps_damaged_versions is True  # locked versions stay in the bucket's history


def test_the_interface_imports_no_implementation_and_only_the_factory_imports_both() -> None:
    """No import cycle: storage.target ← storage.filesystem, storage.s3 ← storage.targets."""

    def imported(module: str) -> set[str]:
        tree = ast.parse((STORAGE / f"{module}.py").read_text(encoding="utf-8"))
        return {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}

    implementations = {"storage.filesystem", "storage.s3", "storage.targets"}
    assert not imported("target") & implementations
    assert not imported("filesystem") & implementations
    assert not imported("s3") & implementations
    assert {"storage.filesystem", "storage.s3", "storage.target"} <= imported("targets")


def test_a_missing_replica_is_the_named_check_a_damaged_one_is_not(tmp_path: Path) -> None:
    """The audit tells MISSING from CORRUPT by RULE_REPLICA (BundleReport.missing), not by a string."""
    bag = write_sample_bag(tmp_path / "work")
    key = sample_key(bag)
    target = folder_target("primary", tmp_path / "primary")
    absent = check_stored_bundle(target, key)
    assert absent.missing and not absent.valid
    assert [problem.rule for problem in absent.problems] == [RULE_REPLICA]
    assert "пакета нет на хранилище" in absent.problems[0].message

    target.put_bundle(key, bag)
    stored = target.root / key / "data" / "journal.xml"
    stored.parent.chmod(0o755)
    stored.chmod(0o644)
    stored.write_bytes(b"<journal/>\n")
    damaged = check_stored_bundle(target, key)
    assert not damaged.valid and not damaged.missing
    assert RULE_REPLICA not in {problem.rule for problem in damaged.problems}


def test_an_unreachable_target_counts_as_missing(tmp_path: Path) -> None:
    (closed,) = free_ports(1)
    address = f"http://127.0.0.1:{closed}"
    cloud = S3Target("cloud", "journals", endpoint_url=address, access_key_id="a", secret_access_key="b")
    report = check_stored_bundle(cloud, sample_key(write_sample_bag(tmp_path / "work")))
    assert report.missing and "хранилище недоступно" in report.problems[0].message


def _settings_with_cloud(home: Path, port: int) -> Settings:
    home.mkdir(parents=True)
    (home / "journal-archive.toml").write_text(
        '[source]\nurl = "sqlite:///journal.sqlite"\n\n'
        '[[targets]]\nname = "primary"\ntype = "filesystem"\npath = "archive/primary"\n\n'
        f'[[targets]]\nname = "cloud"\ntype = "s3"\nbucket = "journals"\n'
        f'endpoint_url = "http://127.0.0.1:{port}"\n'
        'access_key_id_env = "JA_TEST_KEY"\nsecret_access_key_env = "JA_TEST_SECRET"\n',
        encoding="utf-8",
    )
    return load_settings(home)


def test_targets_are_built_once_per_process_so_an_outage_is_remembered_for_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """store_bundle asks the settings for the targets once per bundle: every bundle of a run (and every
    copy of the settings a worker process receives) gets the same S3 target, with its memory of the outage."""
    monkeypatch.setenv("JA_TEST_KEY", "a")
    monkeypatch.setenv("JA_TEST_SECRET", "b")
    (closed,) = free_ports(1)
    settings = _settings_with_cloud(tmp_path / "home", closed)
    first = settings.targets()
    assert [t.name for t in first] == ["primary", "cloud"]
    with pytest.raises(StorageError, match="нет связи с сервером"):
        first[1].has_bundle(sample_key(write_sample_bag(tmp_path / "work")))
    again = pickle.loads(pickle.dumps(settings)).targets()  # the copy a worker process receives
    assert load_settings(settings.home).targets()[1] is first[1]  # and the next load in the run
    assert [id(t) for t in again] == [id(t) for t in first]
    assert again[1]._down is not None  # the outage found by the first bundle is known to the next

    other = _settings_with_cloud(tmp_path / "other", closed).targets()
    assert other[1] is not first[1]  # another home (or configuration) has targets of its own
