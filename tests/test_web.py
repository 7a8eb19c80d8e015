"""The web page in a real browser: Debian's headless Chromium driven by Playwright (issue 12, A2, R7).

One server (`journal-archive web` as a user starts it) per module, on a free port of
127.0.0.1, over one demo home whose 5А year is archived and audited once. Each test
opens a fresh browser context (no cookies) and logs in as a person would.

Screenshots of every page go to a temporary folder, or to $JOURNAL_ARCHIVE_SCREENSHOTS
(docs/screenshots/ for the README) when that is set.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from flows.cli import main
from pipeline import access_log
from pipeline.archive import archive_period_class, archive_year_class
from pipeline.audit import run_audit
from pipeline.settings import Settings, academic_year, load_settings, schools_to_run
from pipeline.users import add_user
from storage import accounts
from tests.homes import make_demo_home

YEAR = "2024/2025"
YEAR_BUNDLE = "2024-2025-5a-year-v1"
SUMMARY_BUNDLE = "2024-2025-5a-summary-v1"
PASSWORD = "пароль-для-теста"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium (bootstrap.sh) is missing"
)


@dataclass(frozen=True)
class Site:
    url: str
    settings: Settings
    shots: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_server(process: subprocess.Popen, port: int, log: Path) -> None:
    """Until the server accepts connections; fails with its log if it exits or never listens."""
    for _ in range(600):
        if process.poll() is not None:
            pytest.fail(f"journal-archive web exited: {log.read_text()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)  # waiting for a server to start, not timing anything
    pytest.fail(f"journal-archive web did not listen on {port}: {log.read_text()}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("web-home")
    settings = make_demo_home(home)
    results = archive_year_class(settings, YEAR, "5А", allow_errors=True)
    assert all(result.ok for result in results), [result.line for result in results]
    run_audit(settings)  # fixity history and one digest for the auditor's pages
    now = dt.datetime.now(dt.UTC)
    for name, role in (("sveta", "secretary"), ("olga", "auditor"), ("boss", "admin"), ("dima", "secretary")):
        add_user(settings, name, role, PASSWORD, now)
    shots = Path(os.environ.get("JOURNAL_ARCHIVE_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)
    with _web_server(home) as url:
        yield Site(url, settings, shots)


@contextlib.contextmanager
def _web_server(home: Path) -> Iterator[str]:
    """`journal-archive web` over `home` as a user starts it, on a free port; its URL until the block ends."""
    port = _free_port()
    log = home / "web.log"
    script = Path(sys.executable).with_name("journal-archive")
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(script), "--home", str(home), "web", "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        _wait_for_server(process, port, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: ./bootstrap.sh installs Debian's chromium", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser, site: Site) -> Iterator[BrowserContext]:
    opened = browser.new_context(base_url=site.url, accept_downloads=True, locale="ru-RU")
    yield opened
    opened.close()


def log_in(context: BrowserContext, name: str, shots: Path | None = None) -> Page:
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Имя пользователя").fill(name)
    page.get_by_label("Пароль").fill(PASSWORD)
    if shots is not None:
        page.screenshot(path=shots / "login.png", full_page=True)
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_text(f"{name} ·")).to_be_visible()
    return page


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest(folder: Path) -> dict[str, str]:
    lines = (folder / "manifest-sha256.txt").read_text(encoding="utf-8").splitlines()
    return {name.strip(): digest for digest, name in (line.split(maxsplit=1) for line in lines if line)}


# --- the secretary: the done-when path -------------------------------------------------


def test_secretary_gets_the_5a_year_journal_pdf_and_receipt_in_three_clicks(
    context: BrowserContext, browser: Browser, site: Site, tmp_path: Path
) -> None:
    page = log_in(context, "sveta", site.shots)
    assert page.url.endswith("/catalog")
    expect(page.locator("td strong", has_text="журнал за год")).to_be_visible()
    expect(page.get_by_label("Школа")).to_have_count(0)  # one school: no choice, no «Школа» column
    expect(page.get_by_role("columnheader", name="Школа")).to_have_count(0)
    page.screenshot(path=site.shots / "catalog.png", full_page=True)

    page.get_by_role("button", name="Получить журнал за год 5А").click()  # click 1
    expect(page.get_by_role("heading", name="Пакет проверен и выдан")).to_be_visible()
    page.screenshot(path=site.shots / "handout.png", full_page=True)

    with page.expect_download() as pdf_download:
        page.get_by_role("link", name="Журнал для печати (PDF)").click()  # click 2
    pdf = tmp_path / "journal.pdf"
    pdf_download.value.save_as(pdf)
    with page.expect_download() as receipt_download:
        page.get_by_role("link", name="Квитанция о выдаче (PDF)").click()  # click 3
    receipt = tmp_path / "receipt.pdf"
    receipt_download.value.save_as(receipt)

    # The PDF is the archived one, byte for byte: its checksum is the bundle manifest's.
    stored = site.settings.targets()[0].root  # type: ignore[attr-defined]
    bundle_dir = next(stored.rglob(YEAR_BUNDLE))
    assert sha256(pdf) == manifest(bundle_dir)["data/journal.pdf"]
    text = subprocess.run(["pdftotext", str(receipt), "-"], capture_output=True, text=True, check=True).stdout
    assert "КВИТАНЦИЯ О ВЫДАЧЕ АРХИВНОГО ПАКЕТА" in text
    assert YEAR_BUNDLE in text and "печать: подпись действительна" in text
    assert manifest(bundle_dir)["data/journal.pdf"] in text.replace("\n", "")

    # The access log shows that retrieval and both downloads (A2).
    entries = [e for e in access_log.entries(site.settings) if e.user_name == "sveta"]
    actions = {(e.action, e.subject.split(":")[0]) for e in entries}
    assert ("выдача пакета", YEAR_BUNDLE) in actions
    assert ("скачивание", YEAR_BUNDLE) in actions
    assert all(e.client == "127.0.0.1" for e in entries)
    admin_context = browser.new_context(base_url=site.url)
    try:
        admin = log_in(admin_context, "boss")
        admin.get_by_role("link", name="Журнал доступа").click()
        row = admin.get_by_role("row").filter(has_text="выдача пакета").filter(has_text=YEAR_BUNDLE)
        expect(row).to_contain_text("sveta")
        expect(row).to_contain_text("выдан из хранилища")
    finally:
        admin_context.close()


def test_downloaded_zip_holds_the_bundle_with_matching_checksums(
    context: BrowserContext, site: Site, tmp_path: Path
) -> None:
    page = log_in(context, "sveta")
    page.get_by_label("Класс").fill("5a")  # loose: the Latin letter finds 5А
    page.get_by_label("Что").select_option("summary")
    page.get_by_role("button", name="Найти").click()
    expect(page.get_by_role("button", name="Получить журнал за год 5А")).to_have_count(0)
    page.get_by_role("button", name="Получить сводные ведомости 5А").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Весь пакет (ZIP)").click()
    archive = tmp_path / "bundle.zip"
    download.value.save_as(archive)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(tmp_path / "out")
    folder = tmp_path / "out" / SUMMARY_BUNDLE
    listed = manifest(folder)
    assert "data/summary.pdf" in listed
    for name, digest in listed.items():
        assert sha256(folder / name) == digest, name
    assert (tmp_path / "out" / "seal-cert.pem").is_file()
    assert (tmp_path / "out" / f"{SUMMARY_BUNDLE}.receipt.txt").is_file()

    # Logging out deletes the handed-out copy (children's personal data) from the server.
    handout_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    assert (site.settings.home / "web" / "handouts" / handout_id).is_dir()
    page.get_by_role("button", name="Выйти").click()
    expect(page.get_by_role("heading", name="Вход")).to_be_visible()
    assert not (site.settings.home / "web" / "handouts" / handout_id).exists()


def test_a_phone_sees_the_catalog_as_cards(browser: Browser, site: Site) -> None:
    phone = browser.new_context(
        base_url=site.url, viewport={"width": 390, "height": 844}, device_scale_factor=1
    )
    try:
        page = log_in(phone, "sveta")
        button = page.get_by_role("button", name="Получить журнал за год 5А")
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390  # nothing runs off the screen
        page.screenshot(path=site.shots / "catalog-phone.png", full_page=True)
    finally:
        phone.close()


# --- refusals ----------------------------------------------------------------------------


def test_without_a_session_every_page_is_refused(context: BrowserContext) -> None:
    page = context.new_page()
    for path in ("/catalog", "/audit", "/admin", "/admin/access-log", "/admin/access-log.csv"):
        page.goto(path)
        assert "/login" in page.url, path
        expect(page.get_by_role("heading", name="Вход")).to_be_visible()
    refused = context.request.post("/retrieve", form={"bundle_id": YEAR_BUNDLE, "csrf": "x"}, max_redirects=0)
    assert refused.status == 401
    assert "журнал" not in refused.headers.get("content-type", "") and b"%PDF" not in refused.body()


def test_a_forged_csrf_token_is_refused(context: BrowserContext, site: Site) -> None:
    page = log_in(context, "dima")
    before = len(list((site.settings.home / "web" / "handouts").glob("*")))
    refused = page.request.post(
        "/retrieve", form={"bundle_id": YEAR_BUNDLE, "csrf": "forged"}, max_redirects=0
    )
    assert refused.status == 403
    assert "подделана" in refused.text()
    assert len(list((site.settings.home / "web" / "handouts").glob("*"))) == before
    assert any(
        e.user_name == "dima" and e.action == "отказ в доступе" and "CSRF" in e.outcome
        for e in access_log.entries(site.settings)
    )


def test_a_bundle_id_with_dot_dot_is_refused(context: BrowserContext, site: Site) -> None:
    page = log_in(context, "dima")
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    for bad in ("../keys", "../../2024-2025-5a-year-v1", "2024-2025-5a-year-v1/../../keys"):
        refused = page.request.post("/retrieve", form={"bundle_id": bad, "csrf": csrf or ""}, max_redirects=0)
        assert refused.status == 400, bad
        assert "не номер пакета" in refused.text()
    assert not (site.settings.home / "web" / "keys").exists()


def test_a_secretary_cannot_start_an_archive(context: BrowserContext, site: Site) -> None:
    page = log_in(context, "dima")
    expect(page.get_by_role("link", name="Архивирование")).to_have_count(0)
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    refused = page.request.post(
        "/admin/archive",
        form={"year": YEAR, "period": "Q1", "classes": "5А", "csrf": csrf or ""},
        max_redirects=0,
    )
    assert refused.status == 403
    assert "недоступно вашей роли" in refused.text()
    page.goto("/admin")
    expect(page.get_by_text("недоступно вашей роли")).to_be_visible()
    db = accounts.open_accounts(site.settings.catalog_path)
    try:
        assert [r for r in accounts.runs_of_kind(db, "archive") if r.user_name == "dima"] == []
    finally:
        db.close()


def test_login_is_throttled_after_failed_attempts(context: BrowserContext, site: Site) -> None:
    page = context.new_page()
    page.goto("/login")
    for _ in range(5):
        page.get_by_label("Имя пользователя").fill("olga-wrong")
        page.get_by_label("Пароль").fill("не тот пароль")
        page.get_by_role("button", name="Войти").click()
        expect(page.get_by_role("alert")).to_contain_text("Неверное имя пользователя или пароль")
    page.get_by_label("Имя пользователя").fill("olga-wrong")
    page.get_by_label("Пароль").fill("не тот пароль")
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("alert")).to_contain_text("Слишком много неудачных попыток")
    page.screenshot(path=site.shots / "login-throttled.png", full_page=True)


# --- the auditor -----------------------------------------------------------------------


def test_auditor_verifies_a_bundle_sees_history_and_digest_and_downloads_the_report(
    context: BrowserContext, site: Site, tmp_path: Path
) -> None:
    page = log_in(context, "olga")
    assert page.url.endswith("/audit")
    expect(page.get_by_text("все копии исправны").first).to_be_visible()
    page.screenshot(path=site.shots / "audit.png", full_page=True)

    page.get_by_role("row", name=SUMMARY_BUNDLE).get_by_role("button", name="Проверить").click()
    expect(page.locator("#outcome")).to_contain_text(
        "Проверено копий: 2; исправны: 2; повреждены: 0", timeout=120_000
    )
    expect(page.get_by_role("cell", name="исправна")).to_have_count(2)
    page.screenshot(path=site.shots / "verify-run.png", full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Скачать отчёт (JSON)").click()
    report = tmp_path / "report.json"
    download.value.save_as(report)
    import json

    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["summary"] == {"bags": 2, "valid": 2, "invalid": 0}

    page.goto("/audit")
    page.get_by_role("link", name=YEAR_BUNDLE).click()
    expect(page.get_by_role("heading", name="История проверок")).to_be_visible()
    expect(page.get_by_role("cell", name="проверена")).to_have_count(2)  # the fixture's audit, both targets
    page.screenshot(path=site.shots / "history.png", full_page=True)

    page.goto("/audit")
    page.locator("a[href^='/digests/']").first.click()
    expect(page.locator("pre.digest")).to_contain_text("Итог: все копии исправны.")
    page.screenshot(path=site.shots / "digest.png", full_page=True)
    assert any(e.user_name == "olga" and e.action == "проверка" for e in access_log.entries(site.settings))


def test_an_auditor_cannot_hand_out_a_bundle(context: BrowserContext) -> None:
    page = log_in(context, "olga")
    page.goto("/catalog")
    expect(page.get_by_text("недоступно вашей роли")).to_be_visible()


# --- the administrator --------------------------------------------------------------


def test_admin_archives_a_period_watches_it_and_reads_the_access_log(
    context: BrowserContext, site: Site, tmp_path: Path
) -> None:
    page = log_in(context, "boss")
    assert page.url.endswith("/admin")
    # The form proposes the current academic year (the server's clock in the school's timezone).
    today = dt.datetime.now(ZoneInfo(site.settings.timezone)).date()
    expect(page.get_by_role("textbox", name="Учебный год")).to_have_value(academic_year(today))
    page.get_by_role("textbox", name="Учебный год").fill(YEAR)  # the demo school's year
    page.get_by_label("Что архивировать").select_option("Q1")
    page.get_by_label("Классы").fill("5а")
    page.screenshot(path=site.shots / "admin.png", full_page=True)
    page.get_by_role("button", name="Начать").click()
    expect(page.get_by_role("heading", name="Архив 2024/2025: период Q1, 1 кл.")).to_be_visible()
    expect(page.locator("#outcome")).to_contain_text("Без сбоев: 1 пакет из 1.", timeout=180_000)
    expect(page.get_by_role("cell", name="2024-2025-5a-q1-v1")).to_be_visible()
    page.screenshot(path=site.shots / "archive-run.png", full_page=True)

    page.goto("/admin")
    expect(page.get_by_role("cell", name="Без сбоев: 1 пакет из 1.")).to_be_visible()

    page.get_by_role("link", name="Журнал доступа").click()
    expect(page.get_by_role("cell", name="архивирование").first).to_be_visible()
    page.screenshot(path=site.shots / "access-log.png", full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Выгрузить в CSV").click()
    exported = tmp_path / "access-log.csv"
    download.value.save_as(exported)
    text = exported.read_text(encoding="utf-8-sig")
    assert text.startswith("№,Время (UTC),Пользователь")
    assert "архивирование" in text and "boss" in text


# --- several schools on one page ------------------------------------------------------------------

SCHOOL_17, SCHOOL_18 = "МБОУ СОШ № 17", "МБОУ СОШ № 18"
Q1_BUNDLE = "2024-2025-5a-q1-v1"


@pytest.fixture(scope="module")
def schools_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`journal-archive web` without --school over two demo schools (`demo --schools 2`, one class each),
    each with its 5А's first quarter archived: the same bundle id at both schools."""
    home = tmp_path_factory.mktemp("web-schools")
    made = CliRunner().invoke(main, ["--home", str(home), "demo", "--size", "class", "--schools", "2"])
    assert made.exit_code == 0, made.output
    installation = load_settings(home)
    for school in schools_to_run(installation, None):
        assert archive_period_class(school, YEAR, "5А", "Q1").ok
    now = dt.datetime.now(dt.UTC)
    for name, role in (("sveta", "secretary"), ("olga", "auditor"), ("boss", "admin")):
        add_user(installation, name, role, PASSWORD, now)
    with _web_server(home) as url:
        yield Site(url, installation, tmp_path_factory.mktemp("shots"))


def test_staff_choose_the_school_on_the_page_of_several_schools(
    browser: Browser, schools_site: Site, tmp_path: Path
) -> None:
    context = browser.new_context(base_url=schools_site.url, accept_downloads=True, locale="ru-RU")
    try:
        page = log_in(context, "sveta")
        # The secretary searches every school at first: a «Школа» column tells the two 5А apart.
        expect(page.get_by_label("Школа")).to_have_value("")
        expect(page.get_by_role("columnheader", name="Школа")).to_be_visible()
        expect(page.get_by_role("cell", name=SCHOOL_17, exact=True)).to_be_visible()
        expect(page.get_by_role("cell", name=SCHOOL_18, exact=True)).to_be_visible()
        page.screenshot(path=schools_site.shots / "catalog-schools.png", full_page=True)
        page.get_by_label("Школа").select_option(label=SCHOOL_18)
        page.get_by_role("button", name="Найти").click()
        expect(page.get_by_role("button", name="Получить")).to_have_count(1)
        expect(page.get_by_role("cell", name=SCHOOL_17, exact=True)).to_have_count(0)

        page.get_by_role("button", name=f"Получить журнал за период 5А, {SCHOOL_18}").click()
        expect(page.get_by_role("heading", name="Пакет проверен и выдан")).to_be_visible()
        with page.expect_download() as zipped:
            page.get_by_role("link", name="Весь пакет (ZIP)").click()
        bundle_zip = tmp_path / "bundle.zip"
        zipped.value.save_as(bundle_zip)
        with zipfile.ZipFile(bundle_zip) as archive:
            info = next(n for n in archive.namelist() if n.endswith("bag-info.txt"))
            assert "Source-Organization: МБОУ «Средняя общеобразовательная школа № 18»" in archive.read(
                info
            ).decode("utf-8")

        # The access log names the school whose pupils' data was handed out (A2).
        retrieved = [e for e in access_log.entries(schools_site.settings) if e.action == "выдача пакета"]
        assert [(e.subject, e.outcome.startswith("выдан")) for e in retrieved] == [
            (f"{Q1_BUNDLE} ({SCHOOL_18})", True)
        ]
    finally:
        context.close()

    # The auditor reads and verifies the bundle of the school it belongs to.
    auditor_context = browser.new_context(base_url=schools_site.url, locale="ru-RU")
    try:
        auditor = log_in(auditor_context, "olga")
        expect(auditor.get_by_role("link", name=Q1_BUNDLE)).to_have_count(2)
        auditor.get_by_role("row").filter(has_text="18").get_by_role("link", name=Q1_BUNDLE).click()
        expect(auditor.get_by_text(f"{SCHOOL_18}, {Q1_BUNDLE}")).to_be_visible()
        auditor.get_by_role("button", name="Проверить сейчас").click()
        expect(auditor.locator("#outcome")).to_contain_text(
            "Проверено копий: 2; исправны: 2", timeout=120_000
        )
        expect(auditor.get_by_role("cell", name=SCHOOL_18, exact=True)).to_have_count(2)
        auditor.goto("/audit")
        auditor.get_by_role("button", name="Проверить все пакеты всех школ").click()
        expect(auditor.locator("#outcome")).to_contain_text(
            "Проверено копий: 4; исправны: 4", timeout=120_000
        )
        expect(auditor.get_by_role("cell", name=SCHOOL_17, exact=True)).to_have_count(2)
    finally:
        auditor_context.close()

    # The administrator archives for one school or for every school.
    admin_context = browser.new_context(base_url=schools_site.url, locale="ru-RU")
    try:
        admin = log_in(admin_context, "boss")
        choices = admin.get_by_label("Школа").locator("option")
        expect(choices).to_have_text(["все школы", SCHOOL_17, SCHOOL_18])
        admin.get_by_role("textbox", name="Учебный год").fill(YEAR)  # the form proposes today's year
        admin.get_by_label("Что архивировать").select_option("Q1")
        admin.get_by_role("button", name="Начать").click()  # «все школы»: each school's 5А
        expect(
            admin.get_by_role("heading", name="Архив 2024/2025: период Q1, 2 кл., все школы (2)")
        ).to_be_visible()
        expect(admin.locator("#outcome")).to_contain_text("Без сбоев: 2 пакета из 2.", timeout=180_000)
        expect(admin.get_by_text("Готово классов: 2 из 2.")).to_be_visible()
        for school in (SCHOOL_17, SCHOOL_18):
            expect(admin.get_by_role("row").filter(has_text=school)).to_contain_text("без изменений")
        admin.get_by_role("link", name="Журнал доступа").click()
        row = admin.get_by_role("row").filter(has_text="выдача пакета")
        expect(row).to_contain_text(f"{Q1_BUNDLE} ({SCHOOL_18})")
    finally:
        admin_context.close()
