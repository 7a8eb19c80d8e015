"""End of retention by the book: the destruction act, its approval, applying it, tombstones (R2, R3, R7).

Time is a test input: the pipeline takes `today`, set here past 2030-12-31 (never a sleep); the
CLI takes the real clock, and the tests show that nothing typed there destroys anything early.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import secrets
import shutil
import subprocess
from pathlib import Path

import boto3
import pikepdf
import pytest
from click.testing import CliRunner

import pipeline.archive
from flows.cli import main
from pipeline.archive import archive_period_class, archive_year_class, class_names_for
from pipeline.audit import run_audit
from pipeline.errors import RetentionActError
from pipeline.inventory import catalog_rows, make_inventory, rebuild, replicate
from pipeline.retention import apply_act, approve_act, draft_act, expired, in_school_order
from pipeline.settings import Settings, load_settings
from pipeline.verify import verify_catalog
from storage.catalog import BundleRecord, destruction_of, open_catalog
from storage.s3 import PERMANENT_LOCK
from tests.homes import make_demo_home
from tests.s3server import S3Server

YEAR = "2024/2025"
LAST_DAY = dt.date(2030, 12, 31)  # Retain-Until of the 2024/2025 journal (R2) and its quarter bundles
AFTER = dt.date(2031, 1, 2)  # the injected clock: the journal's retention has ended, the summary's has not


@pytest.fixture(scope="module")
def archived_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One class: its Q1 bundle, then its sealed year journal and summary (the Q1 bundle superseded)."""
    home = tmp_path_factory.mktemp("retention") / "home"
    settings = make_demo_home(home, size="class")
    config = settings.config_path.read_text(encoding="utf-8")
    settings.config_path.write_text(
        config.replace('director = ""', 'director = "Ёлкина Татьяна Васильевна"'), encoding="utf-8"
    )
    settings = load_settings(home)
    (class_name,) = class_names_for(settings, YEAR, None)
    assert archive_period_class(settings, YEAR, class_name, "Q1").ok
    assert all(r.ok for r in archive_year_class(settings, YEAR, class_name, allow_errors=True))
    return home


@pytest.fixture
def settings(archived_home: Path, tmp_path: Path) -> Settings:
    copy = tmp_path / "home"
    shutil.copytree(archived_home, copy, symlinks=True)
    return load_settings(copy)


def kept(settings: Settings) -> dict[str, str]:
    """{bundle id: kind} of every bundle some target holds."""
    found = {}
    for target in settings.targets():
        for key in target.list_bundles():
            found[key.rsplit("/", 1)[1]] = target.read_file(key, "bag-info.txt").decode()
    return {
        bundle: next(x for x in info.splitlines() if x.startswith("Bundle-Kind"))[13:]
        for bundle, info in found.items()
    }


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_the_act_lists_exactly_the_expired_bundles(settings: Settings) -> None:
    assert draft_act(settings, LAST_DAY) is None  # kept through the last day
    drafted = draft_act(settings, AFTER)
    assert drafted is not None
    expected = {r.bundle_id for r in expired(settings, AFTER)}
    assert (
        {e.bundle_id for e in drafted.act.entries}
        == expected
        == {"2024-2025-5a-q1-v1", "2024-2025-5a-year-v1"}
    )

    rows = list(csv.DictReader(io.StringIO((drafted.path / "act.csv").read_text(encoding="utf-8"))))
    assert [row["Индекс дела"] for row in rows] == sorted(expected)
    year_row = next(row for row in rows if row["Индекс дела"] == "2024-2025-5a-year-v1")
    assert year_row["Заголовок дела"] == "Классный журнал 5А класса, 2024/2025 учебный год"
    assert year_row["Крайние даты"] == "02.09.2024–26.05.2025"
    assert year_row["Срок хранения"].startswith("5 лет (положение об электронном классном журнале, п. 5.2")
    assert year_row["Количество дел"] == "1"
    q1_row = next(row for row in rows if row["Индекс дела"] == "2024-2025-5a-q1-v1")
    assert "заменён версией 2024-2025-5a-year-v1" in q1_row["Примечание"]

    with pikepdf.open(drafted.path / "act.pdf") as pdf:
        assert pdf.open_metadata()["pdfaid:part"] == "3"
        assert sorted(pdf.attachments) == ["act.csv", "act.json"]
        assert not pikepdf.pdfa.validate_written(drafted.path / "act.pdf", "3b").violations
    text = " ".join(pdf_text(drafted.path / "act.pdf").split())
    for phrase in (
        "УТВЕРЖДАЮ",
        "Директор",
        "Т. В. Ёлкина",
        "АКТ № 1",
        "о выделении к уничтожению документов, не подлежащих хранению",
        "2 января 2031 г.",
        "приказ Росархива от 31.07.2023 № 77",
        "Итого 2 (два) дела за 2024–2025 годы.",
        "Председатель экспертной комиссии",
        "Члены экспертной комиссии",
    ):
        assert phrase in text, phrase
    assert "summary" not in (drafted.path / "act.csv").read_text(encoding="utf-8")


def test_the_act_lists_classes_in_the_schools_order() -> None:
    """1А, 5А, 10А — the act's lines follow the grades, not the text order that puts 10А before 1А."""

    def record(class_name: str, span: str) -> BundleRecord:
        slug = class_name.replace("А", "a").lower()
        bundle_id = f"2024-2025-{slug}-{span}-v1"
        return BundleRecord(
            bundle_id, f"s/2024-2025/{slug}/{bundle_id}", "s", "Школа", YEAR, class_name, span, span,
            "period", 1, None, "quarter", "2030-12-31", "", "2026-11-30",
        )  # fmt: skip

    records = [record("10А", "year"), record("1А", "year"), record("1А", "q1"), record("5А", "q1")]
    assert [r.bundle_id for r in in_school_order(records)] == [
        "2024-2025-1a-q1-v1",
        "2024-2025-1a-year-v1",
        "2024-2025-5a-q1-v1",
        "2024-2025-10a-year-v1",
    ]


def test_approval_then_apply_destroys_exactly_the_act_and_everything_stays_clean(settings: Settings) -> None:
    before = kept(settings)
    drafted = draft_act(settings, AFTER)
    approve_act(settings, "1", "Ёлкина Т. В., директор", AFTER)
    applied = apply_act(settings, "1", AFTER)

    assert not applied.refused
    assert {(d.bundle_id, d.target, d.state) for d in applied.deletions} == {
        (e.bundle_id, t, "deleted") for e in drafted.act.entries for t in ("primary", "secondary")
    }
    after = kept(settings)
    destroyed = {e.bundle_id for e in drafted.act.entries}
    assert set(after) == (set(before) - destroyed) | {"act-1-v1"}
    assert after["act-1-v1"] == "destruction-act"
    assert (settings.home / "archive/primary").rglob("act-1-v1")

    # Nothing reports the destroyed bundles missing, ever again.
    def clean() -> None:
        assert expired(settings, AFTER) == []
        assert replicate(settings) == []
        audit = run_audit(settings)
        assert not audit.failed
        assert {o.bundle_id for o in audit.outcomes} == set(after)
        reports = verify_catalog(settings)
        assert reports and all(r.valid for r in reports)
        assert {r.bundle_id for r in catalog_rows(settings)} == set(after) - {"2024-2025-5a-q1-v1"}
        shown = {r.bundle_id: r.replicas for r in catalog_rows(settings, show_all=True)}
        for bundle in destroyed:
            assert shown[bundle] == "уничтожен по акту № 1 от 2 января 2031 г."

    clean()
    db = open_catalog(settings.catalog_path)
    destruction = destruction_of(db, "2024-2025-5a-year-v1")
    db.close()
    assert destruction.approved_by == "Ёлкина Т. В., директор"
    assert [t for t, when in destruction.targets] == ["primary", "secondary"]
    assert all(when for _, when in destruction.targets)

    # From the targets alone: the archived act brings the tombstones back.
    settings.catalog_path.unlink()
    rebuilt = rebuild(settings)
    assert rebuilt.problems == []
    clean()
    db = open_catalog(settings.catalog_path)
    assert destruction_of(db, "2024-2025-5a-q1-v1").act_number == "1"
    db.close()

    # Applying again deletes nothing more and refuses nothing.
    again = apply_act(settings, "1", AFTER)
    assert {d.state for d in again.deletions} == {"earlier"}
    assert kept(settings) == after


def test_an_unapproved_or_changed_act_deletes_nothing(settings: Settings) -> None:
    before = kept(settings)
    drafted = draft_act(settings, AFTER)
    with pytest.raises(RetentionActError, match="не утверждён"):
        apply_act(settings, "1", AFTER)
    approve_act(settings, "1", "Ёлкина Т. В., директор", AFTER)
    with (drafted.path / "act.csv").open("a", encoding="utf-8") as handle:
        handle.write("3,Сводные ведомости,,2024-2025-5a-summary-v1,1,25 лет,\r\n")
    with pytest.raises(RetentionActError, match="изменён после утверждения"):
        apply_act(settings, "1", AFTER)
    assert kept(settings) == before


def test_the_real_clock_destroys_nothing_before_retain_until(settings: Settings) -> None:
    """`--as-of` only drafts: on the real clock the act cannot be approved or applied (exit 2)."""
    before = kept(settings)
    home = str(settings.home)
    drafted = CliRunner().invoke(main, ["--home", home, "retention", "act", "--as-of", "2031-01-02"])
    assert drafted.exit_code == 0, drafted.output
    assert "Акт № 1" in drafted.output and "Итого 2 (два) дела" in drafted.output
    # The console says it is a draft ahead, and does not invite an approval that would be refused.
    assert "ПРОЕКТ по состоянию на 2031-01-02" in drafted.output and "retention approve" not in drafted.output
    assert "ПРОЕКТ" in pdf_text(settings.home / "acts/act-1/act.pdf")
    approved = CliRunner().invoke(main, ["--home", home, "retention", "approve", "1", "--by", "Ёлкина Т. В."])
    assert approved.exit_code == 2 and "не раньше этого дня" in approved.output
    # Even an approval recorded for that day does not let the real clock delete early.
    approve_act(settings, "1", "Ёлкина Т. В., директор", AFTER)
    applied = CliRunner().invoke(main, ["--home", home, "retention", "--apply", "--act", "1"])
    assert applied.exit_code == 2 and "ничего не удалено" in applied.output
    old_style = CliRunner().invoke(main, ["--home", home, "retention", "--apply"])
    assert old_style.exit_code == 2 and "по утверждённому акту" in old_style.output
    assert kept(settings) == before


def test_a_refused_deletion_makes_the_command_fail(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A target that refuses (here: a copy whose own bag-info says it is kept longer) → exit code 1."""
    monkeypatch.setattr(pipeline.archive, "local_today", lambda: AFTER)  # the injected clock
    home = str(settings.home)
    assert CliRunner().invoke(main, ["--home", home, "retention", "act"]).exit_code == 0
    assert (
        CliRunner()
        .invoke(main, ["--home", home, "retention", "approve", "1", "--by", "Ёлкина Т. В., директор"])
        .exit_code
        == 0
    )
    secondary = settings.targets()[1]
    key = next(k for k in secondary.list_bundles() if k.endswith("2024-2025-5a-year-v1"))
    info = secondary.root / key / "bag-info.txt"
    info.chmod(0o644)
    info.write_text(info.read_text().replace("Retain-Until: 2030-12-31", "Retain-Until: 2035-12-31"))
    result = CliRunner().invoke(main, ["--home", home, "retention", "--apply", "--act", "1"])
    assert result.exit_code == 1, result.output
    assert "2024-2025-5a-year-v1 на secondary: НЕ уничтожен" in result.output
    assert "2024-2025-5a-year-v1 на primary: уничтожен" in result.output
    shown = {r.bundle_id: r.replicas for r in catalog_rows(settings, show_all=True)}
    assert shown["2024-2025-5a-year-v1"].endswith("ещё хранится на: secondary")


def test_catalog_list_as_csv_and_json_and_the_fixity_history(settings: Settings) -> None:
    """`catalog list --format csv|json` = the table; `catalog history` shows the audits (R7)."""
    import json

    home = str(settings.home)
    run_audit(settings)
    as_json = CliRunner().invoke(main, ["--home", home, "catalog", "list", "--all", "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.output)
    assert {row["bundle_id"] for row in rows} == set(kept(settings))
    year = next(row for row in rows if row["bundle_id"] == "2024-2025-5a-year-v1")
    assert year["retain_until"] == "2030-12-31"
    assert year["replicas"] == "primary: проверена, secondary: проверена"
    as_csv = CliRunner().invoke(main, ["--home", home, "catalog", "list", "--all", "--format", "csv"])
    table = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert [(r["Пакет"], r["Хранить до"], r["Копии"]) for r in table] == [
        (r["bundle_id"], r["retain_until"], r["replicas"]) for r in rows
    ]
    history = CliRunner().invoke(main, ["--home", home, "catalog", "history", "2024-2025-5a-year-v1"])
    assert history.exit_code == 0, history.output
    lines = [line for line in history.output.splitlines() if "проверена" in line]
    assert sorted(line.split()[1] for line in lines) == ["primary", "secondary"]
    unknown = CliRunner().invoke(main, ["--home", home, "catalog", "history", "2024-2025-5a-q9-v1"])
    assert unknown.exit_code == 2 and "нет в каталоге" in unknown.output


def test_the_archived_act_on_an_object_lock_bucket_is_locked_for_good(
    s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The act is kept permanently (Retain-Until 9999-12-31): on an S3 Object Lock target its objects
    are locked until 9999-12-31 23:59:59 UTC, the last second S3 can state. The expired bundle's own
    lock (until 2031-01-01 by the real clock) still makes the bucket refuse its deletion today."""
    settings = make_demo_home(tmp_path / "home", size="class")
    config = settings.config_path.read_text(encoding="utf-8")
    bucket = f"acts-{secrets.token_hex(4)}"
    cloud = (
        f'name = "cloud"\ntype = "s3"\nbucket = "{bucket}"\nendpoint_url = "{s3_server.endpoint_url}"\n'
        'access_key_id_env = "TEST_S3_KEY"\nsecret_access_key_env = "TEST_S3_SECRET"\n'
    )
    settings.config_path.write_text(config[: config.index('name = "secondary"')] + cloud, encoding="utf-8")
    monkeypatch.setenv("TEST_S3_KEY", s3_server.access_key_id)
    monkeypatch.setenv("TEST_S3_SECRET", s3_server.secret_access_key)
    settings = load_settings(settings.home)
    (class_name,) = class_names_for(settings, YEAR, None)
    assert archive_period_class(settings, YEAR, class_name, "Q1").ok

    assert draft_act(settings, AFTER) is not None
    approve_act(settings, "1", "Ёлкина Т. В., директор", AFTER)
    applied = apply_act(settings, "1", AFTER)
    assert {(d.bundle_id, d.target) for d in applied.refused} == {("2024-2025-5a-q1-v1", "cloud")}

    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=s3_server.secret_access_key,
    )
    names = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"] if "/act-1-v1/" in o["Key"]]
    assert any(name.endswith("/data/act.pdf") for name in names)
    info = client.get_object(Bucket=bucket, Key=next(n for n in names if n.endswith("/bag-info.txt")))
    assert "Retain-Until: 9999-12-31" in info["Body"].read().decode("utf-8")
    for name in names:
        retention = client.get_object_retention(Bucket=bucket, Key=name)["Retention"]
        assert retention == {"Mode": "COMPLIANCE", "RetainUntilDate": PERMANENT_LOCK}, name


def test_the_inventory_lists_destroyed_bundles_with_their_act_and_no_copies(
    settings: Settings, tmp_path: Path
) -> None:
    """The yearly inventory keeps a destroyed file (дело) in its list, saying by which act, with no copy."""
    draft_act(settings, AFTER)
    approve_act(settings, "1", "Ёлкина Т. В., директор", AFTER)
    assert not apply_act(settings, "1", AFTER).refused
    made = make_inventory(settings, YEAR, AFTER, tmp_path / "out")
    rows = list(csv.DictReader(io.StringIO(made.csv.read_text(encoding="utf-8"))))
    by_bundle: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_bundle.setdefault(row["Пакет"], []).append(row)
    assert set(by_bundle) == {"2024-2025-5a-q1-v1", "2024-2025-5a-year-v1", "2024-2025-5a-summary-v1"}
    for destroyed in ("2024-2025-5a-q1-v1", "2024-2025-5a-year-v1"):
        (row,) = by_bundle[destroyed]
        assert row["Хранилище"] == "" and "уничтожен по акту № 1 от 2 января 2031 г." in row["Примечание"]
    assert {row["Хранилище"] for row in by_bundle["2024-2025-5a-summary-v1"]} == {"primary", "secondary"}
    assert "Итого 3 (три) дела; 2 (две) копии, из них проверенных — 2 (две) копии." in " ".join(
        pdf_text(made.pdf).split()
    )
