"""Alerts of the fixity audit (R7, R8, A2), its exit codes for cron, and schedules in the school's timezone.

A real SMTP server (aiosmtpd on 127.0.0.1, a free port) receives what Apprise sends for
`[alerts] urls = ["mailto://…?smtp=127.0.0.1&port=N"]`. One class's first quarter is archived
once; each test damages one stored file on a folder target of its own copy of that home and
runs the audit, through the CLI and the real Prefect flow where the exit code matters.
"""

from __future__ import annotations

import email
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner, Result

from flows.cli import main, prefect_environment
from pipeline.alerts import TITLE_FAILED, TITLE_REPAIRED
from pipeline.archive import ArchiveStatus, archive_period_class
from pipeline.audit import run_audit
from pipeline.settings import ConfigError, Settings, load_settings
from storage.catalog import list_bundles, open_catalog
from storage.filesystem import FilesystemTarget
from storage.target import ReplicaStatus

YEAR = "2024/2025"
CLASS = "5А"
DAMAGED_FILE = "data/marks.csv"


# --- a real SMTP server --------------------------------------------------------------------------


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    subject: str
    body: str


@dataclass
class _Inbox:
    mails: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        body = message.get_body(("plain", "html"))
        assert body is not None
        self.mails.append(
            Mail(envelope.mail_from, list(envelope.rcpt_tos), str(message["Subject"]), body.get_content())
        )
        return "250 OK"


@dataclass(frozen=True)
class SmtpServer:
    port: int
    inbox: _Inbox

    @property
    def url(self) -> str:
        """Apprise's SMTP URL for this server: plain SMTP, no TLS, no login."""
        return (
            f"mailto://school.example?smtp=127.0.0.1&port={self.port}"
            "&from=archive@school.example&to=admin@school.example"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield SmtpServer(controller.port, inbox)
    finally:
        controller.stop()


# --- an archived home, copied per test ---------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("pristine") / "home"
    result = CliRunner().invoke(main, ["--home", str(home), "demo", "--size", "class"])
    assert result.exit_code == 0, result.output
    archived = archive_period_class(load_settings(home), YEAR, CLASS, "Q1")
    assert archived.status == ArchiveStatus.CREATED, archived
    return home


def _copy_home(pristine: Path, to: Path) -> Path:
    import shutil

    shutil.copytree(pristine, to, symlinks=True)
    return to


def _configure(home: Path, urls: list[str], timezone: str | None = None) -> Settings:
    config = (home / "journal-archive.toml").read_text(encoding="utf-8")
    quoted = ", ".join(f'"{url}"' for url in urls)
    config = config.replace("urls = []", f"urls = [{quoted}]")
    if timezone is not None:
        config = config.replace('timezone = "Europe/Moscow"', f'timezone = "{timezone}"')
    (home / "journal-archive.toml").write_text(config, encoding="utf-8")
    return load_settings(home)


@pytest.fixture
def home(pristine: Path, tmp_path: Path) -> Path:
    return _copy_home(pristine, tmp_path / "home")


def _bundle(settings: Settings) -> tuple[str, list[Path]]:
    """The one bundle's id and its folder on each (filesystem) target."""
    db = open_catalog(settings.catalog_path)
    try:
        (record,) = list_bundles(db)
    finally:
        db.close()
    folders = []
    for target in settings.targets():
        assert isinstance(target, FilesystemTarget)
        folders.append(target.root / record.key)
    return record.bundle_id, folders


def _corrupt(bag: Path) -> None:
    """Bit rot in one payload file, as someone with root on the server could cause."""
    path = bag / DAMAGED_FILE
    path.parent.chmod(0o755)
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    path.chmod(0o444)
    path.parent.chmod(0o555)


def _people(settings: Settings) -> set[str]:
    """Every pupil's and teacher's surname and first name in the demo journal."""
    db = sqlite3.connect(settings.source_url.removeprefix("sqlite:///"))
    try:
        rows = db.execute(
            "SELECT last_name, first_name FROM student UNION SELECT last_name, first_name FROM teacher"
        ).fetchall()
    finally:
        db.close()
    names = {name for row in rows for name in row if name}
    assert names
    return names


def _audit(settings: Settings, *args: str) -> Result:
    prefect_environment(settings)
    return CliRunner().invoke(main, ["--home", str(settings.home), "audit", *args])


# --- the alert ---------------------------------------------------------------------------------


def test_damaged_replica_is_mailed_and_the_audit_exits_1(home: Path, smtp_server: SmtpServer) -> None:
    """R7, A2: the SMTP server receives a Russian alert naming the bundle, the target and the counts —
    no file, no problem text, no pupil's or teacher's name; `audit` exits 1 although it repaired."""
    settings = _configure(home, [smtp_server.url])
    bundle_id, (_, secondary) = _bundle(settings)
    _corrupt(secondary)

    result = _audit(settings)

    assert result.exit_code == 1, result.output
    assert "Итог: после восстановления все копии исправны." in result.output
    (mail,) = smtp_server.inbox.mails
    assert (mail.sender, mail.recipients, mail.subject) == (
        "archive@school.example",
        ["admin@school.example"],
        TITLE_REPAIRED,
    )
    assert f"• {bundle_id} на хранилище secondary: копия {ReplicaStatus.CORRUPT.title}, восстановлена." in (
        mail.body
    )
    assert "Проверено: 1 пакет, 2 копии; с ошибками: 1; восстановлено: 1; не восстановлено: 0." in mail.body
    assert "(Europe/Moscow)" in mail.body
    assert DAMAGED_FILE not in mail.body and "marks" not in mail.body
    leaked = {name for name in _people(settings) if name in mail.body}
    assert not leaked, leaked
    # The digest (printed and on disk) says that people were told.
    assert "Оповещение отправлено: 1 адрес." in result.output
    (digest,) = (settings.home / "audits").glob("*.txt")
    assert digest.read_text(encoding="utf-8").endswith("Оповещение отправлено: 1 адрес.\n")
    assert str(digest) in mail.body

    # The copy was repaired: the next audit is clean, sends nothing and exits 0.
    clean = run_audit(settings)
    assert not clean.damaged and clean.alert is None
    assert len(smtp_server.inbox.mails) == 1
    assert "Оповещение" not in clean.digest


def test_ok_if_repaired_keeps_exit_0_only_when_everything_was_repaired(
    home: Path, smtp_server: SmtpServer
) -> None:
    settings = _configure(home, [smtp_server.url])
    _, (primary, secondary) = _bundle(settings)
    _corrupt(secondary)
    repaired = _audit(settings, "--ok-if-repaired")
    assert repaired.exit_code == 0, repaired.output
    assert [m.subject for m in smtp_server.inbox.mails] == [TITLE_REPAIRED]

    # Both copies damaged: nothing to repair from — exit 1 with the flag too, and the alert says so.
    _corrupt(primary)
    _corrupt(secondary)
    failed = _audit(settings, "--ok-if-repaired")
    assert failed.exit_code == 1, failed.output
    assert [m.subject for m in smtp_server.inbox.mails] == [TITLE_REPAIRED, TITLE_FAILED]
    assert "не восстановлено: 2." in smtp_server.inbox.mails[1].body
    assert "НЕ восстановлена" in smtp_server.inbox.mails[1].body


def test_a_clean_audit_sends_nothing(home: Path, smtp_server: SmtpServer) -> None:
    settings = _configure(home, [smtp_server.url])
    result = _audit(settings)
    assert result.exit_code == 0, result.output
    assert smtp_server.inbox.mails == []
    assert "Оповещение" not in result.output


def test_alerts_that_cannot_be_sent_are_reported_and_the_audit_completes(home: Path) -> None:
    """A server that is down and a URL Apprise does not know: the audit still repairs and says what failed."""
    closed = _free_port()  # nothing listens here
    password_url = f"mailto://user:s3cret@school.example?smtp=127.0.0.1&port={closed}&to=admin@school.example"
    settings = _configure(home, [password_url, "nosuchservice://example"])
    _, (_, secondary) = _bundle(settings)
    _corrupt(secondary)

    run = run_audit(settings)

    assert not run.failed and len(run.damaged) == 1  # repaired all the same
    assert run.alert is not None and run.alert.sent == 0 and len(run.alert.failures) == 2
    assert "сервер не принял сообщение" in run.alert.failures[0]
    assert "s3cret" not in run.alert.line()  # the password is not written into the digest
    assert run.alert.failures[1] == "адрес № 2 в [alerts] urls не распознан"
    assert run.digest_path.read_text(encoding="utf-8").endswith(run.alert.line() + "\n")
    assert run.alert.line().startswith("Оповещение НЕ отправлено (2 из 2): ")


def test_alert_urls_must_be_a_list_of_strings(home: Path) -> None:
    config = home / "journal-archive.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("urls = []", 'urls = "mailto://x"'), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"\[alerts\] urls"):
        load_settings(home)


# --- schedules in the school's timezone -------------------------------------------------------


def test_schedules_run_in_the_school_timezone(home: Path) -> None:
    settings = load_settings(home)
    assert settings.timezone == "Europe/Moscow"  # the default, written into a new configuration
    prefect_environment(settings)
    from flows.audit import audit_deployments

    deployments = audit_deployments(settings)
    assert [d.name for d in deployments] == ["audit-fixity-primary-secondary", "audit-fixity-deep"]
    assert [d.schedules[0].schedule.timezone for d in deployments] == ["Europe/Moscow"] * 2
    assert [d.schedules[0].schedule.cron for d in deployments] == ["0 3 * * 0", "0 5 1 * *"]

    other = _configure(home, [], timezone="Asia/Yekaterinburg")
    assert [d.schedules[0].schedule.timezone for d in audit_deployments(other)] == ["Asia/Yekaterinburg"] * 2

    config = home / "journal-archive.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("Asia/Yekaterinburg", "Mars/Olympus"), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"\[school\] timezone"):
        load_settings(home)
