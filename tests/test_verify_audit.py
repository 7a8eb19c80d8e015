"""`journal-archive verify` and the fixity audit on a real archived bundle (R7, R8).

One class's first quarter is archived once (demo journal, WeasyPrint, both filesystem
targets); each test works on its own copy of that home. The issue's bar: corrupting,
deleting, adding or renaming one file in a bundle on a target is caught by `verify`
and by the audit, naming the file, and the audit repairs it from the good replica; a
bag rewritten consistently (payload and every manifest) fails on the catalog's anchor.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pikepdf
import pytest
from click.testing import CliRunner, Result

from flows.cli import main, prefect_environment
from pipeline.archive import ArchiveStatus, archive_period_class
from pipeline.audit import ReplicaOutcome, run_audit
from pipeline.settings import ConfigError, Settings, load_settings
from pipeline.verify import verify_catalog, verify_folders
from storage.bagformat import BAG_INFO_FILE, digests_of, format_manifest
from storage.catalog import (
    ANCHOR_FILE,
    ANCHOR_ORIGIN_ARCHIVE,
    anchor_of,
    fixity_history,
    list_bundles,
    open_catalog,
    rebuild_catalog,
)
from storage.filesystem import FilesystemTarget
from storage.target import ReplicaStatus
from tests.s3server import S3Server
from validators.bagit_rfc8493 import DirectorySource, validate_bag
from validators.bundle_checks import RULE_CATALOG, RULE_PDFA, RULE_SEAL, RULE_XSD, BundleReport, check_bundle

YEAR = "2024/2025"
CLASS = "5А"


# --- the archived home, copied per test ------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("pristine") / "home"
    result = CliRunner().invoke(main, ["--home", str(home), "demo", "--size", "class"])
    assert result.exit_code == 0, result.output
    archived = archive_period_class(load_settings(home), YEAR, CLASS, "Q1")
    assert archived.status == ArchiveStatus.CREATED, archived
    return home


@pytest.fixture
def settings(pristine: Path, tmp_path: Path) -> Settings:
    """A copy of the archived home (modes kept: files 0o400, folders 0o500)."""
    home = tmp_path / "home"
    shutil.copytree(pristine, home, symlinks=True)
    return load_settings(home)


@dataclasses.dataclass(frozen=True)
class Bundle:
    bundle_id: str
    key: str
    primary: Path
    secondary: Path


@pytest.fixture
def bundle(settings: Settings) -> Bundle:
    db = open_catalog(settings.catalog_path)
    try:
        (record,) = list_bundles(db)
    finally:
        db.close()
    primary, secondary = settings.targets()
    assert isinstance(primary, FilesystemTarget) and isinstance(secondary, FilesystemTarget)
    return Bundle(record.bundle_id, record.key, primary.root / record.key, secondary.root / record.key)


def cli(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(main, ["--home", str(settings.home), *args])


@contextlib.contextmanager
def writable(folder: Path) -> Iterator[None]:
    """Make a stored bundle's folders writable for tampering, as someone with root on the server could."""
    changed = [folder, *[p for p in folder.rglob("*") if p.is_dir()]]
    for path in changed:
        path.chmod(0o755)
    yield
    for path in changed:
        if path.exists():
            path.chmod(0o555)


def corrupt(bag: Path) -> str:
    """Bit rot: one byte of a payload file flipped, size unchanged."""
    path = bag / "data" / "marks.csv"
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    path.chmod(0o444)
    return "data/marks.csv"


def delete(bag: Path) -> str:
    (bag / "data" / "attendance.csv").unlink()
    return "data/attendance.csv"


def add(bag: Path) -> str:
    (bag / "data" / "extra.csv").write_text("лишний,файл\n", encoding="utf-8")
    (bag / "data" / "extra.csv").chmod(0o444)
    return "data/extra.csv"


def rename(bag: Path) -> str:
    (bag / "data" / "lessons.csv").rename(bag / "data" / "lessons-old.csv")
    return "data/lessons.csv"


DAMAGE: dict[str, Callable[[Path], str]] = {
    "corrupt": corrupt,
    "delete": delete,
    "add": add,
    "rename": rename,
}


def rebag(bag: Path) -> None:
    """Rewrite every manifest, tagmanifest and Payload-Oxum to match the files: a consistent forgery."""
    files = sorted(p.relative_to(bag).as_posix() for p in bag.rglob("*") if p.is_file())
    payload = [f for f in files if f.startswith("data/")]
    sizes = [(bag / f).stat().st_size for f in payload]
    info = (bag / BAG_INFO_FILE).read_text(encoding="utf-8")
    info = re.sub(r"Payload-Oxum: \S+", f"Payload-Oxum: {sum(sizes)}.{len(sizes)}", info)
    _rewrite(bag / BAG_INFO_FILE, info.encode())
    for algorithm in ("sha256", "sha512"):
        digests = {f: _digest(bag / f, algorithm) for f in payload}
        _rewrite(bag / f"manifest-{algorithm}.txt", format_manifest(digests))
    tag_files = [f for f in files if not f.startswith("data/") and not f.startswith("tagmanifest-")]
    for algorithm in ("sha256", "sha512"):
        digests = {f: _digest(bag / f, algorithm) for f in tag_files}
        _rewrite(bag / f"tagmanifest-{algorithm}.txt", format_manifest(digests))


def _digest(path: Path, algorithm: str) -> str:
    with path.open("rb") as stream:
        return digests_of(stream, (algorithm,))[algorithm]


def _rewrite(path: Path, data: bytes) -> None:
    path.chmod(0o644)
    path.write_bytes(data)
    path.chmod(0o444)


def history(settings: Settings, bundle_id: str, target: str) -> list[tuple[ReplicaStatus, str]]:
    db = open_catalog(settings.catalog_path)
    try:
        return [(c.status, c.action) for c in fixity_history(db, bundle_id) if c.target == target]
    finally:
        db.close()


def outcome_of(outcomes: tuple[ReplicaOutcome, ...], target: str) -> ReplicaOutcome:
    (found,) = [o for o in outcomes if o.target == target]
    return found


# --- verify ------------------------------------------------------------------------------------


def test_archive_records_the_anchor_and_a_good_bundle_verifies(settings: Settings, bundle: Bundle) -> None:
    """The archive run records SHA-256 of tagmanifest-sha256.txt; an intact folder is VALID, exit 0."""
    db = open_catalog(settings.catalog_path)
    try:
        anchor = anchor_of(db, bundle.bundle_id)
    finally:
        db.close()
    assert anchor is not None and anchor.origin == ANCHOR_ORIGIN_ARCHIVE
    assert anchor.sha256 == hashlib.sha256((bundle.primary / ANCHOR_FILE).read_bytes()).hexdigest()

    result = cli(settings, "verify", str(bundle.primary), "--max-rate", "500")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"VALID  {bundle.primary}")

    result = cli(settings, "verify", "--all")
    assert result.exit_code == 0, result.output
    assert f"VALID  primary:{bundle.key}" in result.output
    assert f"VALID  secondary:{bundle.key}" in result.output


def test_routine_verify_hashes_against_the_anchor_and_deep_verify_revalidates(
    settings: Settings, bundle: Bundle, tmp_path: Path
) -> None:
    """Issue 13: anchored checksums pin the bytes, so the routine check skips PDF/A and XSD; --deep runs
    them; a folder the catalog does not know is always checked in full; the output says which depth ran."""
    routine = verify_catalog(settings)
    assert [r.valid for r in routine] == [True, True]
    assert all(RULE_PDFA not in r.checks and RULE_CATALOG in r.checks for r in routine)
    deep = verify_catalog(settings, deep=True)
    assert all({RULE_PDFA, RULE_XSD, RULE_CATALOG} <= set(r.checks) for r in deep)
    stranger = tmp_path / "elsewhere" / bundle.bundle_id
    shutil.copytree(bundle.primary, stranger)
    (alone,) = verify_folders([stranger], None)  # no home, no anchor: always the full check
    assert {RULE_PDFA, RULE_XSD} <= set(alone.checks) and RULE_CATALOG not in alone.checks
    result = cli(settings, "verify", "--all")
    assert "Глубина проверки: обычная" in result.output
    assert "Глубина проверки: полная" in cli(settings, "verify", "--all", "--deep").output


def test_replicas_checked_side_by_side_report_as_one_at_a_time(settings: Settings, bundle: Bundle) -> None:
    """verify --all checks replicas on parallel workers: their reports, damage named, are those of a
    check one at a time, in catalog order, and the progress callback hears of every replica."""
    with writable(bundle.secondary):
        damaged = corrupt(bundle.secondary)
    done: list[int] = []
    together = verify_catalog(settings, workers=2, on_replica=lambda: done.append(1))
    alone = verify_catalog(settings, workers=1)

    def timeless(reports: list[BundleReport]) -> list[BundleReport]:
        return [dataclasses.replace(report, seconds=0.0) for report in reports]

    assert timeless(together) == timeless(alone) and len(done) == 2
    assert [report.valid for report in together] == [True, False]
    assert any(p.message.startswith(f"{damaged}: контрольная сумма") for p in together[1].problems)


def test_our_layer_runs_on_a_good_bundle(bundle: Bundle) -> None:
    """PDF/A-3b, the bundle's own XSD and the catalog anchor are all checked, not just BagIt."""
    anchor = hashlib.sha256((bundle.primary / ANCHOR_FILE).read_bytes()).hexdigest()
    report = check_bundle(DirectorySource(bundle.primary), recorded_digests={ANCHOR_FILE: anchor})
    assert report.valid, report.problems
    assert report.checks == ("RFC 8493", RULE_PDFA, RULE_XSD, RULE_CATALOG)
    listed = [p for p in bundle.primary.rglob("*") if p.is_file() and not p.name.startswith("tagmanifest-")]
    assert report.files_checked == len(listed)  # every file a manifest lists was hashed


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damage_on_one_target_is_caught_and_repaired(settings: Settings, bundle: Bundle, damage: str) -> None:
    """R7 + R8: verify names the file, exit 1; the audit repairs the copy from the other target."""
    with writable(bundle.secondary):
        name = DAMAGE[damage](bundle.secondary)

    result = cli(settings, "verify", "--all")
    assert result.exit_code == 1, result.output
    assert f"VALID  primary:{bundle.key}" in result.output
    assert f"INVALID  secondary:{bundle.key}" in result.output
    block = result.output.split(f"INVALID  secondary:{bundle.key}")[1]
    assert f"ошибка: {name}:" in block

    run = run_audit(settings)
    secondary = outcome_of(run.outcomes, "secondary")
    assert secondary.found == ReplicaStatus.CORRUPT
    assert any(problem.startswith(f"{name}:") for problem in secondary.problems), secondary.problems
    assert secondary.repaired and secondary.repaired_from == "primary"
    assert outcome_of(run.outcomes, "primary").found == ReplicaStatus.VERIFIED
    assert f"{bundle.bundle_id} на хранилище secondary: копия повреждена" in run.digest
    assert name in run.digest and "заменена проверенной копией с primary" in run.digest
    assert run.digest_path.parent == settings.home / "audits"
    assert run.digest_path.read_text(encoding="utf-8") == run.digest

    result = cli(settings, "verify", "--all")
    assert result.exit_code == 0, result.output
    assert history(settings, bundle.bundle_id, "secondary") == [
        (ReplicaStatus.CORRUPT, "копия заменена проверенной копией с primary"),
        (ReplicaStatus.VERIFIED, "повторная проверка после восстановления"),
    ]
    assert (bundle.secondary / name).exists() == (damage != "add")


def test_missing_replica_is_restored(settings: Settings, bundle: Bundle) -> None:
    with writable(bundle.secondary.parent):
        shutil.rmtree(bundle.secondary)
    result = cli(settings, "verify", "--all")
    assert result.exit_code == 1
    assert "пакета нет на хранилище" in result.output

    run = run_audit(settings, ["secondary"])  # only secondary is audited; primary still serves as the source
    assert [o.target for o in run.outcomes] == ["secondary", "primary"]
    assert outcome_of(run.outcomes, "secondary").found == ReplicaStatus.MISSING
    assert outcome_of(run.outcomes, "secondary").repaired
    assert cli(settings, "verify", "--all").exit_code == 0


def test_consistently_rewritten_bag_fails_on_the_catalog_anchor(settings: Settings, bundle: Bundle) -> None:
    """A forger who rewrites a mark and every manifest makes valid BagIt; the catalog still knows."""
    with writable(bundle.secondary):
        corrupt(bundle.secondary)
        rebag(bundle.secondary)
    assert validate_bag(DirectorySource(bundle.secondary)).valid  # RFC 8493 alone is fooled

    result = cli(settings, "verify", "--all")
    assert result.exit_code == 1, result.output
    block = result.output.split(f"INVALID  secondary:{bundle.key}")[1]
    assert (
        "tagmanifest-sha256.txt: контрольная сумма tagmanifest-sha256.txt не совпадает с записанной "
        "в каталоге при архивировании"
    ) in block
    assert f"[{RULE_CATALOG}]" in block

    on_disk = cli(settings, "verify", str(bundle.secondary))  # a folder: the home's catalog knows it
    assert on_disk.exit_code == 1 and f"[{RULE_CATALOG}]" in on_disk.output

    run = run_audit(settings)
    assert outcome_of(run.outcomes, "secondary").repaired
    assert cli(settings, "verify", "--all").exit_code == 0


def test_json_report(settings: Settings, bundle: Bundle) -> None:
    with writable(bundle.secondary):
        corrupt(bundle.secondary)
    result = cli(settings, "verify", "--all", "--json", "--max-rate", "1000")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    by_bag = {bag["bag"]: bag for bag in report["bags"]}
    assert by_bag[f"primary:{bundle.key}"]["status"] == "VALID"
    broken = by_bag[f"secondary:{bundle.key}"]
    assert broken["status"] == "INVALID"
    assert "data/marks.csv" in {problem["path"] for problem in broken["problems"]}
    assert report["summary"] == {"bags": 2, "valid": 1, "invalid": 1}


def test_bad_input_exits_2(settings: Settings, bundle: Bundle, tmp_path: Path) -> None:
    assert cli(settings, "verify").exit_code == 2
    assert cli(settings, "verify", "--all", str(bundle.primary)).exit_code == 2
    assert cli(settings, "verify", "--all", "--target", "attic").exit_code == 2
    assert cli(settings, "verify", "--all", "--max-rate", "0").exit_code == 2
    missing = cli(settings, "verify", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "nowhere: папки пакета нет" in missing.output


def test_pdfa_and_xsd_failures_are_named(bundle: Bundle, tmp_path: Path) -> None:
    """A bag valid by RFC 8493 still fails when its PDF is not PDF/A or its XML breaks its own XSD."""
    bag = tmp_path / "bag"
    shutil.copytree(bundle.primary, bag)
    for path in [bag, *bag.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    plain = pikepdf.new()  # a good PDF, but not PDF/A: no XMP, no OutputIntent
    plain.add_blank_page()
    plain.save(bag / "data" / "journal.pdf")
    (bag / "data" / "journal.csv").write_bytes(b"%PDF-1.4\n")  # not that a .csv is checked as PDF
    xml = bag / "data" / "journal.xml"
    text = xml.read_text(encoding="utf-8")
    root_end = text.index(">", text.index("<journal")) + 1
    xml.write_text(text[:root_end] + "<unexpected/>" + text[root_end:], encoding="utf-8")
    rebag(bag)

    report = check_bundle(DirectorySource(bag))
    assert not report.valid
    rules = {(p.path, p.rule) for p in report.problems}
    assert ("data/journal.pdf", RULE_PDFA) in rules
    assert ("data/journal.xml", RULE_XSD) in rules
    assert "data/journal.pdf: не соответствует PDF/A-3b" in report.problems[0].message

    (bag / "data" / "journal.pdf").write_bytes(b"%PDF-1.7\n% cut short")
    rebag(bag)
    broken = check_bundle(DirectorySource(bag))
    assert any(p.message.startswith("data/journal.pdf: PDF не читается") for p in broken.problems)
    assert all(p.message.startswith(p.path) for p in [*report.problems, *broken.problems])


# --- the audit through Prefect, schedules ------------------------------------------------------


def test_audit_command_runs_the_prefect_flow_and_repairs(settings: Settings, bundle: Bundle) -> None:
    """`journal-archive audit` (the real Prefect flow, ephemeral server) repairs and prints the digest."""
    prefect_environment(settings)
    with writable(bundle.secondary):
        name = add(bundle.secondary)
    result = cli(settings, "audit")
    assert result.exit_code == 1, result.output  # damage found, even though repaired: cron sees it
    assert "Аудит сохранности электронного архива" in result.output
    assert name in result.output and "Итог: после восстановления все копии исправны." in result.output
    digests = sorted((settings.home / "audits").glob("*.txt"))
    assert len(digests) == 1 and re.fullmatch(r"\d{4}-\d\d-\d\dT\d{6}Z\.txt", digests[0].name)
    assert not (bundle.secondary / name).exists()
    assert cli(settings, "verify", "--all").exit_code == 0


def test_audit_schedules_per_target(settings: Settings) -> None:
    """R8: the copy in the other room may be audited less often; one deployment per schedule."""
    config = settings.config_path.read_text(encoding="utf-8")
    config = config.replace(
        'path = "archive/secondary"', 'path = "archive/secondary"\naudit_schedule = "0 4 1 * *"'
    )
    settings.config_path.write_text(config, encoding="utf-8")
    loaded = load_settings(settings.home)
    assert loaded.audit_schedule == "0 3 * * 0"
    assert loaded.audit_schedules() == [("0 3 * * 0", ["primary"]), ("0 4 1 * *", ["secondary"])]
    assert [t.name for t in loaded.targets()] == ["primary", "secondary"]  # the key is not the target's

    prefect_environment(loaded)
    from flows.audit import audit_deployments

    *deployments, deep = audit_deployments(loaded)
    assert [(d.name, d.parameters["targets"]) for d in deployments] == [
        ("audit-fixity-primary", ["primary"]),
        ("audit-fixity-secondary", ["secondary"]),
    ]
    assert [d.schedules[0].schedule.cron for d in deployments] == ["0 3 * * 0", "0 4 1 * *"]
    # The full structural audit of every target on its own, slower schedule.
    assert (deep.name, deep.parameters.get("deep"), "targets" in deep.parameters) == (
        "audit-fixity-deep",
        True,
        False,
    )
    assert deep.schedules[0].schedule.cron == loaded.deep_audit_schedule == "0 5 1 * *"

    settings.config_path.write_text(config.replace('"0 4 1 * *"', '"0 4 31 2 *x"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"secondary\.audit_schedule"):
        load_settings(settings.home)


def test_rebuilt_catalog_takes_the_anchor_from_a_verified_replica(settings: Settings, bundle: Bundle) -> None:
    settings.catalog_path.unlink()
    assert rebuild_catalog(settings.catalog_path, settings.targets(), verify=True) == []
    db = open_catalog(settings.catalog_path)
    try:
        anchor = anchor_of(db, bundle.bundle_id)
    finally:
        db.close()
    assert anchor is not None and "primary" in anchor.origin
    assert anchor.sha256 == hashlib.sha256((bundle.primary / ANCHOR_FILE).read_bytes()).hexdigest()


def test_writable_file_on_a_target_is_reported(settings: Settings, bundle: Bundle) -> None:
    (bundle.secondary / "data" / "marks.csv").chmod(0o644)
    result = cli(settings, "verify", "--all")
    assert result.exit_code == 1
    assert "data/marks.csv: файл на хранилище secondary доступен для изменения [storage]" in result.output
    assert not stat.S_IMODE(os.stat(bundle.primary / "data" / "marks.csv").st_mode) & 0o222


# --- an S3 Object Lock target ------------------------------------------------------------------


def test_audit_writes_a_fresh_locked_copy_on_an_object_lock_target(
    s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tampered object on an Object Lock target cannot be removed: the audit writes new locked
    versions from the verified filesystem copy, says so in the digest, and the copy verifies again."""
    monkeypatch.setenv("JA_TEST_S3_KEY", s3_server.access_key_id)
    monkeypatch.setenv("JA_TEST_S3_SECRET", s3_server.secret_access_key)
    bucket = f"audit-{secrets.token_hex(6)}"
    home = tmp_path / "home"
    assert CliRunner().invoke(main, ["--home", str(home), "demo", "--size", "class"]).exit_code == 0
    config = home / "journal-archive.toml"
    text = config.read_text(encoding="utf-8")
    text = text[: text.index('[[targets]]\nname = "secondary"')] + (
        f'[[targets]]\nname = "cloud"\ntype = "s3"\nbucket = "{bucket}"\n'
        f'endpoint_url = "{s3_server.endpoint_url}"\naccess_key_id_env = "JA_TEST_S3_KEY"\n'
        'secret_access_key_env = "JA_TEST_S3_SECRET"\naudit_schedule = "0 4 1 * *"\n'
    )
    config.write_text(text, encoding="utf-8")
    settings = load_settings(home)
    result = archive_period_class(settings, YEAR, CLASS, "Q1")
    assert result.status == ArchiveStatus.CREATED, result

    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=s3_server.secret_access_key,
    )
    cloud = settings.targets()[1]
    db = open_catalog(settings.catalog_path)
    (record,) = list_bundles(db)
    db.close()
    tampered = f"{record.key}/data/marks.csv"
    client.put_object(
        Bucket=bucket, Key=tampered, Body=b"\xd1\x83\xd1\x87\xd0\xb5\xd0\xbd\xd0\xb8\xd0\xba,5\n"
    )

    verified = cli(settings, "verify", "--all", "--target", "cloud")
    assert verified.exit_code == 1
    assert "data/marks.csv: контрольная сумма SHA-256 не совпадает" in verified.output
    assert "data/marks.csv: файл на хранилище cloud доступен для изменения" in verified.output

    run = run_audit(settings, ["cloud"])
    outcome = outcome_of(run.outcomes, "cloud")
    assert outcome.found == ReplicaStatus.CORRUPT and outcome.repaired
    assert "Object Lock" in outcome.action and "остаются в истории корзины" in run.digest
    assert cli(settings, "verify", "--all").exit_code == 0
    assert cloud.stat(record.key, "data/marks.csv").read_only
    history_versions = client.list_object_versions(Bucket=bucket, Prefix=tampered)["Versions"]
    assert len(history_versions) == 3  # archived, tampered, repaired: nothing locked was removed


def test_seal_is_checked_when_present(bundle: Bundle, tmp_path: Path) -> None:
    """A sealed bag: the seal is verified (against the school's certificate); a damaged seal is named."""
    from documents.seal import create_demo_signing_pair, seal_bag

    bag = tmp_path / "bag"
    shutil.copytree(bundle.primary, bag)
    bag.chmod(0o755)
    key, certificate = create_demo_signing_pair(tmp_path / "keys", "МБОУ СОШ № 17", dt.date(2024, 9, 1))
    seal = seal_bag(bag, key, certificate, dt.datetime(2025, 6, 30, tzinfo=dt.UTC))

    report = check_bundle(DirectorySource(bag), seal_certificate=certificate)
    assert report.valid, report.problems
    assert RULE_SEAL in report.checks

    seal.chmod(0o644)
    data = bytearray(seal.read_bytes())
    data[-40] ^= 0xFF  # inside the signature value
    seal.write_bytes(bytes(data))
    damaged = check_bundle(DirectorySource(bag), seal_certificate=certificate)
    assert not damaged.valid
    assert [(p.path, p.rule) for p in damaged.problems] == [("seal.p7s", RULE_SEAL)]
