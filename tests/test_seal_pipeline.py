"""Closing the year with a TSA: timestamped seals through the pipeline, the receipt, verify --at,
the audit's renewal notice and `evidence renew` on the storage targets (R3, R7, R9)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from pikepdf.pdfa import validate_written

from documents._exec.tsa_server import TsaServer
from documents.kinds import SUMMARY, build_payload
from documents.pades import check_pdf_signature
from documents.seal import auditor_attime_command, auditor_ts_command, check_seal, seal_bag
from documents.xml_format import journal_xml
from flows.cli import main
from journal.russian import format_date
from journal.source import extract_class_journal, open_source
from pipeline.archive import ArchiveStatus, archive_year_class
from pipeline.audit import run_audit
from pipeline.retrieval import sealed_text
from pipeline.settings import Settings, load_settings
from storage.retention import BundleKind
from tests.bundles import write_sample_bag
from tests.homes import bundle_dirs, make_demo_home
from validators.bagit_rfc8493 import DirectorySource
from validators.bundle_checks import check_bundle

YEAR = "2024/2025"
CLASS = "5А"


def configure_tsa(settings: Settings, tsa: TsaServer, renew_within_days: int = 180) -> Settings:
    text = settings.config_path.read_text(encoding="utf-8")
    text = text.replace('# tsa_url = "http://127.0.0.1:3180/"', f'tsa_url = "{tsa.url}"')
    text = text.replace("renew_within_days = 180", f"renew_within_days = {renew_within_days}")
    settings.config_path.write_text(text, encoding="utf-8")
    shutil.copyfile(tsa.cert_path, settings.tsa_certificate)  # type: ignore[attr-defined]
    return load_settings(settings.home)


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory, tsa: TsaServer) -> tuple[Settings, dict[str, str]]:
    settings = configure_tsa(make_demo_home(tmp_path_factory.mktemp("home")), tsa)
    assert settings.tsa_url == tsa.url
    results = {r.kind: r for r in archive_year_class(settings, YEAR, CLASS)}
    assert [r.status for r in results.values()] == [ArchiveStatus.CREATED] * 2, results
    return settings, {kind: r.bundle_id for kind, r in results.items()}


def test_a_year_sealed_today_is_proven_sealed_today_not_on_the_journals_last_day(
    year, tmp_path: Path
) -> None:
    settings, bundles = year
    for bundle_id in bundles.values():
        for copy in bundle_dirs(settings, bundle_id):
            check = check_seal(copy, settings.seal_certificate, tsa_certificate=settings.tsa_certificate)
            assert check.problems == [] and check.warnings == []
            assert check.proven_at is not None
            assert abs(check.proven_at - dt.datetime.now(dt.UTC)) < dt.timedelta(hours=1)
    command = ["--home", str(settings.home), "retrieve", "--year", YEAR, "--class", CLASS, "--kind=summary"]
    result = CliRunner().invoke(main, [*command, "--to", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    summary = bundles[BundleKind.SUMMARY]
    receipt = (tmp_path / "out" / f"{summary}.receipt.txt").read_text(encoding="utf-8")
    today = format_date(dt.datetime.now().astimezone().date())
    line = next(line for line in receipt.splitlines() if line.startswith("Опечатан:"))
    assert today in line and "подтверждено меткой времени" in line, line
    assert "2025" not in line  # not a date from the journal
    folder = tmp_path / "out" / summary
    assert (tmp_path / "out" / "tsa-cert.pem").is_file()
    readme = (folder / "README.txt").read_text(encoding="utf-8")
    for command in (auditor_ts_command(), auditor_attime_command()):  # the bag's README prints them
        assert command in readme
        done = subprocess.run(command, shell=True, cwd=folder, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr


def test_the_year_pdfs_carry_a_timestamped_pades_signature_after_their_reproducible_bytes(
    year, tmp_path: Path
) -> None:
    settings, bundles = year
    trust = [settings.seal_certificate, settings.tsa_certificate]
    engine = open_source(settings.source_url)
    try:
        journal = extract_class_journal(engine, YEAR, CLASS, None)
    finally:
        engine.dispose()
    rendered = build_payload(SUMMARY, journal, tmp_path, journal_xml(journal), duplex=False).files[
        "summary.pdf"
    ]
    for kind, name in ((BundleKind.YEAR, "journal.pdf"), (BundleKind.SUMMARY, "summary.pdf")):
        stored = bundle_dirs(settings, bundles[kind])[0] / "data" / name
        check = check_pdf_signature(stored.read_bytes(), trust)
        assert check is not None and check.intact and check.valid and check.timestamped, (name, check)
        assert validate_written(stored, "3b").violations == ()
        if name == "summary.pdf":  # rendering again gives the bytes the signature was appended to
            assert stored.read_bytes()[: len(rendered)] == rendered and len(stored.read_bytes()) > len(
                rendered
            )


def test_verify_at_a_later_date_and_renewal_on_the_targets(year, tsa: TsaServer) -> None:
    settings, bundles = year
    runner = CliRunner()
    home = ["--home", str(settings.home)]
    later = runner.invoke(main, [*home, "verify", "--all", "--at", "2051-06-01"])
    assert later.exit_code == 0, later.output

    # The audit names the bundles due for renewal (here: everything within 40 years).
    settings = configure_tsa(settings, tsa, renew_within_days=365 * 40)
    digest = run_audit(settings).digest
    assert "Доказательства печати истекают в ближайшие" in digest
    assert all(bundle_id in digest for bundle_id in bundles.values())

    renewed = runner.invoke(main, [*home, "evidence", "renew"])
    assert renewed.exit_code == 0, renewed.output
    for bundle_id in bundles.values():
        assert f"{bundle_id}: добавлена запись доказательств на primary, secondary" in renewed.output
        for copy in bundle_dirs(settings, bundle_id):
            record = copy / "evidence" / "0002.tsr"
            assert record.is_file() and record.stat().st_mode & 0o777 == 0o400
            assert copy.stat().st_mode & 0o777 == 0o500  # the folder is read-only again
    after = runner.invoke(main, [*home, "verify", "--all"])
    assert after.exit_code == 0, after.output


def test_an_old_seal_without_a_timestamp_is_reported_as_such_not_broken(tmp_path: Path) -> None:
    """A seal as earlier versions made it: no TSA, signing time the journal's last day."""
    settings = make_demo_home(tmp_path / "home")
    bag = write_sample_bag(tmp_path / "bags")
    seal_bag(bag, settings.seal_key, settings.seal_certificate, dt.datetime(2025, 5, 26, tzinfo=dt.UTC))
    report = check_bundle(DirectorySource(bag), seal_certificate=settings.seal_certificate)
    assert [p for p in report.problems if p.rule == "seal"] == []  # (the sample PDF is not a PDF/A)
    assert [w.message for w in report.warnings if w.rule == "seal"] == [
        "seal.p7s: печать без метки времени — время подписи не подтверждено независимо; "
        "печать подтверждается, только пока действует сертификат (до 2054-12-31 23:59:59 UTC)"
    ]
    text = sealed_text(report.seal)
    assert text.startswith("время подписи в печати 26 мая 2025 г. в ") and "не подтверждено" in text
    assert re.search(r" \(UTC([+-]\d{1,2}(:\d\d)?)?\) ", text), text  # «(UTC+3)», never «(UTC+0300)»
