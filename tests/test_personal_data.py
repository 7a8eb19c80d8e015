"""Personal data (152-ФЗ, A2): everything written is owner-only, and no log names a student or a mark.

Journals hold children's names and marks. Every file and folder journal-archive writes —
the home, the demo journal, the catalog, the key, work and audit folders, receipts and
retrieved copies, both folder targets and the bundles on them — is readable by its owner
only, whatever the umask: files 0o400 (a stored bundle's) or 0o600, folders 0o500 (a
stored bundle's) or 0o700. S3 objects are private: an anonymous request is refused.
The Prefect logs (as Prefect's database keeps them for the UI), the run's console lines,
the audit digest and alerts name classes, bundle ids and counts, never a student or a mark.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from documents.kinds import PERIOD
from journal.demo import generate_demo_school
from pipeline.alerts import ReplicaState, alert_message
from pipeline.archive import archive_period_class, blocked_result, class_names_for
from pipeline.audit import run_audit
from pipeline.retrieval import retrieve_bundle
from pipeline.school import make_demo_school
from pipeline.settings import load_settings
from storage.s3 import S3Target
from tests.bundles import sample_key, write_sample_bag
from tests.homes import run_cli
from tests.s3server import S3Server
from validators.journal_rules import Finding, Severity

YEAR = "2024/2025"
PERMISSIVE_UMASK = 0o022  # a usual user's umask: files 0o644, folders 0o755 unless we say otherwise
SEALED = {"file": 0o400, "dir": 0o500}
PRIVATE = {"file": 0o600, "dir": 0o700}


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(PERMISSIVE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def modes_under(root: Path) -> dict[Path, int]:
    """The permission bits of `root` and everything under it."""
    found = {root: stat.S_IMODE(root.lstat().st_mode)}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder, name)
            found[path] = stat.S_IMODE(path.lstat().st_mode)
    return found


def test_everything_written_is_owner_only_whatever_the_umask(tmp_path: Path, permissive_umask: None) -> None:
    """The demo (small) made and a class archived in this process under umask 0o022; a retrieval; an audit."""
    home = tmp_path / "home"
    settings = load_settings(home)
    make_demo_school(settings, "small", 2024, source_url=None, force=False)
    settings = load_settings(home)
    assert "5А" in class_names_for(settings, YEAR, "Q1")
    assert archive_period_class(settings, YEAR, "5А", "Q1").ok  # one class: the same code paths
    out = tmp_path / "out"
    retrieved = retrieve_bundle(settings, YEAR, "5А", PERIOD, out)
    run = run_audit(settings)
    assert not run.outcomes or all(not o.failed for o in run.outcomes)

    roots = [t.root for t in settings.targets()]
    assert len(roots) == 2 and all(root.is_dir() for root in roots)
    stored = [target.root / key for target in settings.targets() for key in target.list_bundles()]
    assert len(stored) == 2  # the bundle on both targets
    checked = 0
    for top in [home, out, *(r for r in roots if not r.is_relative_to(home))]:
        for path, mode in modes_under(top).items():
            kind = "dir" if path.is_dir() else "file"
            inside_bundle = any(path == b or path.is_relative_to(b) for b in stored)
            expected = SEALED[kind] if inside_bundle else PRIVATE[kind]
            assert mode == expected, f"{path}: {oct(mode)}, expected {oct(expected)}"
            checked += 1
    assert checked > 100
    # what the brief names, by name
    assert stat.S_IMODE(settings.seal_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.catalog_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.config_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(root.stat().st_mode) == 0o700 for root in roots)
    assert stat.S_IMODE(retrieved.receipt.stat().st_mode) == 0o600
    assert stat.S_IMODE(retrieved.folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(run.digest_path.stat().st_mode) == 0o600
    assert all(stat.S_IMODE((b / "bag-info.txt").stat().st_mode) == 0o400 for b in stored)


def test_an_anonymous_request_for_an_s3_object_is_refused(s3_server: S3Server, tmp_path: Path) -> None:
    """Objects go up without any ACL: the bucket's owner reads them, an anonymous GET is refused."""
    target = S3Target(
        "cloud",
        "private-objects",
        endpoint_url=s3_server.endpoint_url,
        access_key_id=s3_server.access_key_id,
        secret_access_key=s3_server.secret_access_key,
    )
    bag = write_sample_bag(tmp_path / "bag")
    key = sample_key(bag)
    target.put_bundle(key, bag)
    assert target.read_file(key, "bag-info.txt")  # the owner reads it

    name = next(n for n in target_object_names(s3_server) if n.endswith("/bag-info.txt"))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{s3_server.endpoint_url}/private-objects/{name}", timeout=10)
    assert refused.value.code == 403
    acl = owner_client(s3_server).get_object_acl(Bucket="private-objects", Key=name)
    grantees = [grant["Grantee"].get("URI", "") for grant in acl.get("Grants", [])]
    assert not any(uri.endswith(("/AllUsers", "/AuthenticatedUsers")) for uri in grantees)


def owner_client(s3_server: S3Server):
    return boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=s3_server.secret_access_key,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )


def target_object_names(s3_server: S3Server) -> list[str]:
    listed = owner_client(s3_server).list_objects_v2(Bucket="private-objects")
    return [item["Key"] for item in listed.get("Contents", [])]


# --- logs -----------------------------------------------------------------------------------

MARKS_ROW = re.compile(r"(?<![\w.])[2-5нН](?:[ ,;\t]+[2-5нН]){2,}(?![\w.])")
"""Three or more marks in a row («5 4 5», «н 4 3»): how a student's line of a journal reads."""


def demo_people() -> set[str]:
    """Every student's and guardian's name in the demo journal (surnames and «Имя Отчество»)."""
    data = generate_demo_school(size="small", seed=2024).data
    names = set()
    for person in (*data.students, *data.guardians):
        names.add(person.last_name)
        names.add(f"{person.first_name} {person.patronymic}".strip())
    return {name for name in names if len(name) > 3}


def test_logs_digests_and_alerts_name_no_student_and_no_mark(tmp_path: Path) -> None:
    """The archive flow through the CLI with -v, as an administrator runs it, then an audit; Prefect's
    database (what its UI shows), the console and the audit digest are searched for every name."""
    home = tmp_path / "home"
    assert run_cli("demo", "--size", "small", home=home).returncode == 0
    archive = ("-v", "archive", "period", "--year", YEAR, "--period", "Q1", "--class", "5А")
    archived = run_cli(*archive, home=home)
    assert archived.returncode == 0, archived.stderr
    settings = load_settings(home)
    damaged = settings.targets()[1].root / settings.targets()[1].list_bundles()[0] / "data" / "journal.pdf"
    damaged.parent.chmod(0o700)
    damaged.unlink()  # the audit finds a copy missing a file, repairs it, and an alert would be sent
    run = run_audit(settings)  # the digest and the alert are the same in and out of Prefect
    states = [ReplicaState(o.bundle_id, o.target, o.found, o.repaired) for o in run.outcomes]
    alert = alert_message(states, 1, len(states), run.started, settings.timezone, run.digest_path)
    assert alert is not None and "2024-2025-5a-q1-v1" in alert[1]

    prefect_db = sqlite3.connect(home / "prefect" / "prefect.db")
    try:
        logged = [row[0] for row in prefect_db.execute("SELECT message FROM log")]
        parameters = [row[0] for row in prefect_db.execute("SELECT parameters FROM flow_run")]
    finally:
        prefect_db.close()
    assert any("5А" in line and "2024-2025-5a-q1-v1" in line for line in logged)  # the log says what it did
    assert run.digest_path is not None
    digests = [path.read_text(encoding="utf-8") for path in (home / "audits").iterdir()]
    assert digests

    texts = {
        "Prefect log": "\n".join(logged),
        "flow parameters": "\n".join(str(p) for p in parameters),
        "console": archived.stdout + archived.stderr,
        "audit digest": "\n".join(digests),
        "alert": "\n".join(alert),
    }
    people = demo_people()
    assert len(people) > 50
    for where, text in texts.items():
        named = sorted(name for name in people if name in text)
        assert not named, f"{where} names {named[:5]}"
        assert not MARKS_ROW.search(text), f"{where}: {MARKS_ROW.search(text)}"


def test_a_blocked_class_is_logged_without_the_finding_that_names_a_student() -> None:
    """The first error names the student for the administrator's table; the log line does not."""
    finding = Finding(
        "J2",
        Severity.ERROR,
        "5А",
        "Q1",
        1,
        7,
        None,
        None,
        "Иванова Мария Петровна: отметка «7» вне шкалы 1–5",
    )
    result = blocked_result("5А", [finding], kind=PERIOD.kind)
    assert "Иванова" in result.message
    assert "Иванова" not in result.line and "«7»" not in result.line
    assert result.line.startswith("5А") and "journal-archive check --class 5А" in result.line
    assert "1 ошибка" in result.line
