"""Closing the year: sealed 5- and 25-year bundles on every target (R2, R3, R4, R6, R7, R8, R9)."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from documents.seal import auditor_command
from flows.cli import main
from journal.source import open_source
from pipeline.archive import (
    ArchiveStatus,
    ClassArchiveResult,
    archive_period_class,
    archive_year_class,
    local_today,
)
from pipeline.handout import WEB_DELIVERY, hand_out
from pipeline.settings import Settings, load_settings
from storage.bagformat import parse_bag_info
from storage.catalog import fixity_history, list_bundles, open_catalog
from storage.retention import BundleKind
from tests.homes import bundle_dirs, make_demo_home
from tests.s3server import S3Server

YEAR = "2024/2025"
CLASS = "5А"


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, ClassArchiveResult], str]:
    settings = make_demo_home(tmp_path_factory.mktemp("home"))
    quarter = archive_period_class(settings, YEAR, CLASS, "Q1")
    assert quarter.status == ArchiveStatus.CREATED
    results = {r.kind: r for r in archive_year_class(settings, YEAR, CLASS)}
    assert [r.status for r in results.values()] == [ArchiveStatus.CREATED] * 2, results
    return settings, results, quarter.bundle_id


def test_both_bundles_are_on_both_targets_with_their_retention(sealed) -> None:
    """R2: the journal for 5 years; R3: the summary sheets for 25, counted from 1 January 2026."""
    settings, results, _ = sealed
    expected = {
        BundleKind.YEAR: ("journal-5y", "2030-12-31"),
        BundleKind.SUMMARY: ("summary-25y", "2050-12-31"),
    }
    for kind, (retention_class, until) in expected.items():
        copies = bundle_dirs(settings, results[kind].bundle_id)
        assert len(copies) == 2
        assert (
            copies[0].joinpath("bag-info.txt").read_bytes() == copies[1].joinpath("bag-info.txt").read_bytes()
        )
        info = parse_bag_info(copies[0].joinpath("bag-info.txt").read_bytes())
        assert (info["Retention-Class"], info["Retain-Until"]) == (retention_class, until)
        assert dict(results[kind].replicas) == {"primary": "verified", "secondary": "verified"}


def test_the_seal_verifies_with_openssl_alone(sealed, tmp_path: Path) -> None:
    """An auditor checks the seal with the exact command from README.txt and nothing else (R7)."""
    settings, results, _ = sealed
    for result in results.values():
        copy = bundle_dirs(settings, result.bundle_id)[0]
        readme = copy.joinpath("README.txt").read_text(encoding="utf-8")
        command = auditor_command("../seal-cert.pem")
        assert command in readme
        # The auditor's copy: the bundle folder with the school's certificate beside it.
        workspace = tmp_path / result.bundle_id
        subprocess.run(["cp", "-r", str(copy), str(workspace)], check=True)
        (tmp_path / "seal-cert.pem").write_bytes(settings.seal_certificate.read_bytes())
        check = subprocess.run(command, shell=True, cwd=workspace, capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        assert "Verification successful" in check.stderr + check.stdout
        workspace.joinpath("tagmanifest-sha256.txt").chmod(0o644)
        with workspace.joinpath("tagmanifest-sha256.txt").open("ab") as tampered:
            tampered.write(b"\n")
        again = subprocess.run(command, shell=True, cwd=workspace, capture_output=True, text=True)
        assert again.returncode != 0


def test_the_journal_bundle_holds_every_sheet_and_the_summary_its_sheets(sealed) -> None:
    settings, results, _ = sealed
    journal = bundle_dirs(settings, results[BundleKind.YEAR].bundle_id)[0] / "data"
    summary = bundle_dirs(settings, results[BundleKind.SUMMARY].bundle_id)[0] / "data"
    assert {"journal.pdf", "journal.xml", "journal.xsd", "marks.csv"} <= {p.name for p in journal.iterdir()}
    assert {"summary.pdf", "final_marks_summary.csv", "attendance_summary.csv"} <= {
        p.name for p in summary.iterdir()
    }
    text = subprocess.run(
        ["pdftotext", "-layout", str(journal / "journal.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"Лист {results[BundleKind.YEAR].pages} из {results[BundleKind.YEAR].pages}" in text
    assert "2024/2025 учебный год" in text or "2024/2025 учебного года" in text


def test_sealing_the_year_supersedes_the_quarter_bundles(sealed) -> None:
    """R1: a quarter bundle is kept until the class's year bundle is sealed."""
    settings, results, quarter = sealed
    db = open_catalog(settings.catalog_path)
    records = {r.bundle_id: r for r in list_bundles(db)}
    db.close()
    assert records[quarter].superseded_by == results[BundleKind.YEAR].bundle_id
    # Sealed today, when the command ran: not on the journal's last day (2025-05-26), a date of the data.
    assert records[results[BundleKind.YEAR].bundle_id].sealed == local_today().isoformat()
    assert bundle_dirs(settings, quarter), "superseded bundles are kept, never deleted early"


def test_sealing_again_creates_nothing(sealed) -> None:
    settings, results, _ = sealed
    again = archive_year_class(settings, YEAR, CLASS)
    assert [r.status for r in again] == [ArchiveStatus.UNCHANGED] * 2
    assert [r.bundle_id for r in again] == [r.bundle_id for r in results.values()]


def test_validation_errors_stop_sealing_unless_overridden(tmp_path: Path) -> None:
    settings = make_demo_home(tmp_path / "home")
    engine = open_source(settings.source_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE mark SET value = '0' WHERE id = (SELECT min(id) FROM mark)")
    engine.dispose()
    (blocked,) = archive_year_class(settings, YEAR, CLASS)
    assert blocked.status == ArchiveStatus.BLOCKED
    assert "«0»" in blocked.message
    assert not any(target.list_bundles() for target in settings.targets())
    forced = archive_year_class(settings, YEAR, CLASS, allow_errors=True)
    assert [r.status for r in forced] == [ArchiveStatus.CREATED] * 2


def test_year_archive_to_a_folder_and_an_object_lock_bucket(s3_server: S3Server, tmp_path: Path) -> None:
    """R8 with an S3 target: every object locked in COMPLIANCE mode until the bundle's retention ends."""
    settings = make_demo_home(tmp_path / "home")
    config = settings.config_path.read_text(encoding="utf-8")
    secondary = config.index('name = "secondary"')
    s3_entry = (
        'name = "cloud"\ntype = "s3"\nbucket = "school-archive"\n'
        f'endpoint_url = "{s3_server.endpoint_url}"\n'
        'access_key_id_env = "TEST_S3_KEY"\nsecret_access_key_env = "TEST_S3_SECRET"\n'
    )
    settings.config_path.write_text(config[:secondary] + s3_entry, encoding="utf-8")
    env = pytest.MonkeyPatch()
    env.setenv("TEST_S3_KEY", s3_server.access_key_id)
    env.setenv("TEST_S3_SECRET", s3_server.secret_access_key)
    try:
        settings = load_settings(settings.home)
        results = {r.kind: r for r in archive_year_class(settings, YEAR, CLASS)}
        assert {kind: dict(r.replicas) for kind, r in results.items()} == {
            kind: {"primary": "verified", "cloud": "verified"} for kind in results
        }
        client = boto3.client(
            "s3",
            endpoint_url=s3_server.endpoint_url,
            aws_access_key_id=s3_server.access_key_id,
            aws_secret_access_key=s3_server.secret_access_key,
            region_name="us-east-1",
        )
        summary_id = results[BundleKind.SUMMARY].bundle_id
        key = next(
            o["Key"]
            for o in client.list_objects_v2(Bucket="school-archive")["Contents"]
            if summary_id in o["Key"] and o["Key"].endswith("data/summary.pdf")
        )
        retention = client.get_object_retention(Bucket="school-archive", Key=key)["Retention"]
        assert retention["Mode"] == "COMPLIANCE"
        assert retention["RetainUntilDate"].date() >= dt.date(2050, 12, 31)
        version = client.head_object(Bucket="school-archive", Key=key)["VersionId"]
        with pytest.raises(client.exceptions.ClientError):
            client.delete_object(Bucket="school-archive", Key=key, VersionId=version)
        kept_through = {
            results[BundleKind.YEAR].bundle_id: dt.date(2030, 12, 31),  # R2
            summary_id: dt.date(2050, 12, 31),  # R3
        }
        seen = set()
        for entry in client.list_objects_v2(Bucket="school-archive")["Contents"]:
            (bundle,) = [b for b in kept_through if f"/{b}/" in entry["Key"]]
            head = client.head_object(Bucket="school-archive", Key=entry["Key"])
            assert head["ObjectLockMode"] == "COMPLIANCE", entry["Key"]
            assert head["ObjectLockRetainUntilDate"].date() > kept_through[bundle], entry["Key"]
            seen.add(bundle)
        assert seen == set(kept_through)
    finally:
        env.undo()


def tamper(settings: Settings, target_name: str, bundle_id: str, relpath: str) -> None:
    """Flip one byte of a stored file, as a failing disk or a careless hand would."""
    target = next(t for t in settings.targets() if t.name == target_name)
    key = next(k for k in target.list_bundles() if k.endswith("/" + bundle_id))
    path = target.root / key / relpath
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    path.chmod(0o444)


def test_retrieve_hands_out_both_verified_bundles_with_receipts(sealed, tmp_path: Path) -> None:
    settings, results, _ = sealed
    out = tmp_path / "print"
    result = CliRunner().invoke(
        main, ["--home", str(settings.home), "retrieve", "--year", YEAR, "--class", CLASS, "--to", str(out)]
    )
    assert result.exit_code == 0, result.output
    for bundle in results.values():
        receipt = (out / f"{bundle.bundle_id}.receipt.txt").read_text(encoding="utf-8")
        assert "подпись действительна" in receipt
        assert "Выдан из хранилища: primary" in receipt
        assert f"Выдан в папку:      {out / bundle.bundle_id}\n" in receipt
        check = subprocess.run(["sha256sum", "-c", "manifest-sha256.txt"], cwd=out / bundle.bundle_id)
        assert check.returncode == 0
    seal_check = subprocess.run(
        auditor_command("../seal-cert.pem"), shell=True, cwd=out / results[BundleKind.SUMMARY].bundle_id
    )
    assert seal_check.returncode == 0


def test_the_web_receipt_says_how_it_was_handed_out_not_the_servers_folder(sealed, tmp_path: Path) -> None:
    """The web page's hand-out lives in a server folder the secretary never sees: the receipt names the
    web page instead, and no path of the server."""
    settings, results, _ = sealed
    into = tmp_path / "handout"
    into.mkdir()
    handout = hand_out(settings, results[BundleKind.YEAR].bundle_id, into)
    receipt = handout.receipt_text.read_text(encoding="utf-8")
    assert f"Выдан:              {WEB_DELIVERY}\n" in receipt
    assert "Выдан в папку" not in receipt and str(tmp_path) not in receipt


def test_retrieve_falls_back_to_the_good_replica_and_says_so(tmp_path: Path) -> None:
    settings = make_demo_home(tmp_path / "home")
    journal_bundle = archive_year_class(settings, YEAR, CLASS)[0].bundle_id
    tamper(settings, "primary", journal_bundle, "data/journal.pdf")
    out = tmp_path / "print"
    result = CliRunner().invoke(
        main,
        [
            "--home",
            str(settings.home),
            "retrieve",
            "--year",
            YEAR,
            "--class",
            CLASS,
            "--kind",
            "journal",
            "--to",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Копия на primary повреждена" in result.output
    assert "data/journal.pdf" in result.output
    assert f"Выдан {journal_bundle} из хранилища secondary" in result.output
    receipt = (out / f"{journal_bundle}.receipt.txt").read_text(encoding="utf-8")
    assert "Копия на primary повреждена" in receipt
    assert (
        subprocess.run(["sha256sum", "-c", "manifest-sha256.txt"], cwd=out / journal_bundle).returncode == 0
    )

    tamper(settings, "secondary", journal_bundle, "data/journal.pdf")
    refused = tmp_path / "refused"
    result = CliRunner().invoke(
        main,
        [
            "--home",
            str(settings.home),
            "retrieve",
            "--year",
            YEAR,
            "--class",
            CLASS,
            "--kind",
            "journal",
            "--to",
            str(refused),
        ],
    )
    assert result.exit_code == 1  # a failed check, not bad input (README: Exit codes)
    assert "не выдан" in result.output
    assert result.output.count("data/journal.pdf") >= 2  # named for each target
    assert not refused.exists() or not any(refused.iterdir())


def test_a_rebuilt_catalog_keeps_superseding_and_fixity_history(sealed) -> None:
    """The catalog is rebuilt from the targets; R1's superseding follows from the sealed year bundle."""
    settings, results, quarter = sealed
    audit = CliRunner().invoke(main, ["--home", str(settings.home), "audit"])
    assert audit.exit_code == 0, audit.output
    db = open_catalog(settings.catalog_path)
    before = {r.bundle_id: r for r in list_bundles(db)}
    history_before = fixity_history(db, quarter)
    db.close()
    assert history_before

    rebuilt = CliRunner().invoke(main, ["--home", str(settings.home), "catalog", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    db = open_catalog(settings.catalog_path)
    after = {r.bundle_id: r for r in list_bundles(db)}
    assert after[quarter].superseded_by == results[BundleKind.YEAR].bundle_id
    assert after == before
    assert fixity_history(db, quarter) == history_before
    db.close()


def test_two_runs_of_the_same_year_at_once_make_one_version(tmp_path: Path) -> None:
    """Two administrators (or a schedule and a person) sealing the same class at once: one set of bundles."""
    import concurrent.futures
    import multiprocessing

    settings = make_demo_home(tmp_path / "home")
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        runs = [pool.submit(archive_year_class, settings, YEAR, CLASS) for _ in range(2)]
        outcomes = sorted(tuple(r.status for r in run.result()) for run in runs)
    assert outcomes == sorted([(ArchiveStatus.CREATED,) * 2, (ArchiveStatus.UNCHANGED,) * 2])
    db = open_catalog(settings.catalog_path)
    bundles = sorted(r.bundle_id for r in list_bundles(db))
    assert bundles == ["2024-2025-5a-summary-v1", "2024-2025-5a-year-v1"]
    db.close()
