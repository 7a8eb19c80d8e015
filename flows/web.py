"""The web page for the secretary, the auditor and the administrator (`journal-archive web`).

Server-rendered Russian HTML (Jinja2, templates/web/), no JavaScript needed: forms
post, long runs show progress on a page that refreshes itself. Everything it does is
a call into pipeline/ (the same retrieval, verify and archive fan-out as the
commands); this module only handles HTTP, sessions and who may do what.

Security: a server-side session (the cookie holds a random token, HttpOnly,
SameSite=Strict, 8 hours), a CSRF token in every form (the session's own; the login
form's is a double-submit cookie), login throttling (pipeline.users), every page but
the login page needs a session, each role reaches only its own pages, and every
retrieval, download and verification goes into the access log (A2).
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from pipeline import access_log, bundles
from pipeline.access_log import Action
from pipeline.errors import USER_ERRORS
from pipeline.executor import local_executor
from pipeline.handout import BadBundleId, Handout, check_bundle_id, hand_out
from pipeline.runs import QUEUED, ExecutorFactory, RunBoard, run_failed
from pipeline.settings import Settings, academic_year, school_settings
from pipeline.users import (
    SESSION_LIFETIME,
    LoginRefused,
    Role,
    Session,
    log_in,
    log_out,
    same_token,
    session_of,
)

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates" / "web"
SESSION_COOKIE = "ja_session"
LOGIN_CSRF_COOKIE = "ja_login_csrf"
PERIODS = {
    **{f"Q{n}": f"{roman} четверть" for n, roman in enumerate(("I", "II", "III", "IV"), start=1)},
    **{f"T{n}": f"{roman} триместр" for n, roman in enumerate(("I", "II", "III"), start=1)},
    **{f"H{n}": f"{roman} полугодие" for n, roman in enumerate(("I", "II"), start=1)},
}
"""The reporting periods the administrator may archive, by code, as the school names them."""
HOME_OF = {Role.SECRETARY: "/catalog", Role.AUDITOR: "/audit", Role.ADMIN: "/admin"}
Clock = Callable[[], dt.datetime]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Refused(Exception):
    """A request refused with an HTTP status and a Russian explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class NeedsLogin(Exception):
    """No live session: the login page."""


@dataclass
class Handed:
    user_name: str
    handout: Handout
    at: dt.datetime
    school: str  # the school's name in the access log; "" on a one-school page


def school_choices(settings: Settings) -> dict[str, Settings]:
    """{folder: that school's settings} when the page serves several schools (`web` without --school),
    so staff choose the school on the page; {} for the one-school page."""
    if settings.school is not None or len(settings.schools) < 2:
        return {}
    return {school.folder: school_settings(settings, school) for school in settings.schools}


def with_school(text: str, school: str) -> str:
    """An access-log subject naming the school when the page serves several (A2: whose pupils' data)."""
    return f"{text} ({school})" if school else text


def class_executor(settings: Settings) -> ExecutorFactory:
    """Where the administrator's archive runs its classes: in flow runs of the `archive_classes`
    deployment on the Prefect work pool when a server is configured (flows.pool), otherwise in
    this web process's own worker pool."""
    if not settings.uses_work_pool:
        return local_executor
    from flows.pool import work_pool_executor

    return lambda classes: work_pool_executor(settings)


def create_app(settings: Settings, clock: Clock = _now, secure_cookies: bool = False) -> FastAPI:
    """The web application for one home; `clock` is the time of sessions, throttling and the log,
    and its date in the school's timezone gives the academic year the archive form proposes."""
    app = FastAPI(title="journal-archive", docs_url=None, redoc_url=None, openapi_url=None)
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=StrictUndefined)
    env.globals.update(role_title=lambda role: Role(role).title, queued=QUEUED, local_time=bundles.local_time)
    board = RunBoard(settings, clock, class_executor(settings))
    schools = school_choices(settings)
    school_names = {  # as the page shows them: «№ 17» never split across lines
        folder: chosen.school.name.replace("№ ", "№\u00a0")
        for folder, chosen in schools.items()
        if chosen.school
    }
    env.globals.update(schools=school_names)
    handouts: dict[str, Handed] = {}
    handouts_lock = threading.Lock()
    handouts_root = settings.home / "web" / "handouts"
    shutil.rmtree(handouts_root, ignore_errors=True)  # copies of a previous process are stale

    # --- helpers -------------------------------------------------------------------

    def current_year() -> str:
        """The academic year of today in the school's timezone, as the commands' default `--year`."""
        return academic_year(clock().astimezone(ZoneInfo(settings.timezone)).date())

    def forget_handouts(which: Callable[[Handed], bool]) -> None:
        """Delete handed-out copies (children's personal data) once their downloads are no longer needed:
        at logout, and a session's lifetime after the hand-out."""
        with handouts_lock:
            gone = [key for key, handed in handouts.items() if which(handed)]
            for key in gone:
                del handouts[key]
        for key in gone:
            shutil.rmtree(handouts_root / key, ignore_errors=True)

    def client(request: Request) -> str:
        return request.client.host if request.client else ""

    def page(
        request: Request, template: str, session: Session | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        html = env.get_template(template).render(session=session, request_path=request.url.path, **context)
        return HTMLResponse(html, status_code=status)

    def current(request: Request) -> Session:
        found = session_of(settings, request.cookies.get(SESSION_COOKIE), clock())
        if found is None:
            raise NeedsLogin()
        return found

    def allowed(request: Request, *roles: Role) -> Session:
        session = current(request)
        if session.user.role not in roles:
            log(
                session,
                request,
                Action.REFUSED,
                request.url.path,
                "нет прав у роли " + session.user.role.title,
            )
            raise Refused(403, "Это действие недоступно вашей роли.")
        return session

    async def form_of(request: Request, session: Session) -> dict[str, str]:
        form = {key: str(value) for key, value in (await request.form()).items()}
        if not same_token(session.csrf, form.get("csrf")):
            log(session, request, Action.REFUSED, request.url.path, "неверный токен формы (CSRF)")
            raise Refused(403, "Форма устарела или подделана. Откройте страницу заново и повторите.")
        return form

    def scope(folder: str) -> Settings:
        """The school chosen on the page (its folder); the page's own settings on a one-school page."""
        if not schools:
            return settings
        if folder not in schools:
            raise Refused(400, f"Школы «{folder[:80]}» нет в настройках." if folder else "Выберите школу.")
        return schools[folder]

    def school_name(chosen: Settings) -> str:
        return chosen.school.name if schools and chosen.school else ""

    def log(session: Session, request: Request, action: str, subject: str = "", outcome: str = "") -> None:
        access_log.record(
            settings,
            clock(),
            session.user.name,
            session.user.role.value,
            action,
            subject,
            client(request),
            outcome,
        )

    @app.exception_handler(NeedsLogin)
    async def needs_login(request: Request, error: NeedsLogin) -> Response:
        if request.method == "GET":
            return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)
        return page(
            request, "message.html", None, 401, title="Нужен вход", text="Войдите в систему.", back="/login"
        )

    @app.exception_handler(Refused)
    async def refused(request: Request, error: Refused) -> Response:
        session = session_of(settings, request.cookies.get(SESSION_COOKIE), clock())
        home = HOME_OF[session.user.role] if session else "/login"
        return page(
            request, "message.html", session, error.status, title="Отказано", text=error.message, back=home
        )

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable) -> Response:
        response = await call_next(request)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; form-action 'self'; frame-ancestors 'none'"
        )
        return response

    # --- login ---------------------------------------------------------------------

    def login_page(request: Request, error: str = "", status: int = 200, name: str = "") -> HTMLResponse:
        token = secrets.token_urlsafe(32)
        response = page(
            request,
            "login.html",
            None,
            status,
            csrf=token,
            error=error,
            name=name,
            next=request.query_params.get("next", ""),
        )
        response.set_cookie(
            LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies, max_age=3600
        )
        return response

    @app.get("/login")
    def login_form(request: Request) -> Response:
        if session_of(settings, request.cookies.get(SESSION_COOKIE), clock()) is not None:
            return RedirectResponse("/", status_code=303)
        return login_page(request)

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        if not same_token(request.cookies.get(LOGIN_CSRF_COOKIE, ""), form.get("csrf")):
            return login_page(request, "Форма входа устарела. Введите имя и пароль ещё раз.", 403)
        name = form.get("name", "").strip()
        try:
            session = log_in(settings, name, form.get("password", ""), client(request), clock())
        except LoginRefused as error:
            access_log.record(
                settings, clock(), name, "", Action.LOGIN_FAILED, "", client(request), str(error)
            )
            return login_page(request, str(error), 401, name)
        log(session, request, Action.LOGIN)
        target = form.get("next", "")
        if not target.startswith("/") or target.startswith("//"):
            target = "/"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session.token,
            httponly=True,
            samesite="strict",
            secure=secure_cookies,
            max_age=int((session.expires - clock()).total_seconds()),
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        session = current(request)
        await form_of(request, session)
        log_out(settings, session.token)
        forget_handouts(lambda h: h.user_name == session.user.name)
        log(session, request, Action.LOGOUT)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/")
    def home(request: Request) -> Response:
        return RedirectResponse(HOME_OF[current(request).user.role], status_code=303)

    @app.get("/static/web.css")
    def stylesheet() -> Response:
        return FileResponse(TEMPLATES_DIR / "web.css", media_type="text/css")

    # --- the secretary -------------------------------------------------------------

    def search_args(request: Request) -> dict[str, str]:
        query = request.query_params
        return {
            "year": query.get("year", "").strip(),  # all years, as `catalog list` without --year
            "class_name": query.get("class", "").strip(),
            "kind": query.get("kind", "").strip(),
            "school": query.get("school", "").strip() if schools else "",  # "": every school
        }

    def search_results(request: Request) -> dict[str, object]:
        """The bundle search of the secretary's and the auditor's pages: the form's values and what
        they find, with the choices the form offers."""
        args = search_args(request)
        found = bundles.find_bundles(
            scope(args["school"]) if args["school"] else settings,
            args["year"] or None,
            args["class_name"] or None,
            args["kind"] or None,
        )
        return {
            "bundles": found,
            "kinds": bundles.kind_choices(),
            "years": bundles.years(settings) or [current_year()],
            **args,
        }

    @app.get("/catalog")
    def catalog(request: Request) -> Response:
        session = allowed(request, Role.SECRETARY)
        return page(
            request,
            "catalog.html",
            session,
            **search_results(request),
        )

    @app.post("/retrieve")
    async def retrieve(request: Request) -> Response:
        session = allowed(request, Role.SECRETARY)
        form = await form_of(request, session)
        bundle_id = form.get("bundle_id", "")
        try:
            check_bundle_id(bundle_id)
        except BadBundleId as error:
            log(session, request, Action.RETRIEVE, bundle_id[:120], "отказано: " + str(error))
            raise Refused(400, str(error)) from None
        chosen = scope(form.get("school", ""))
        school = school_name(chosen)
        handout_id = secrets.token_urlsafe(16)
        folder = handouts_root / handout_id
        try:
            handed = await run_in_threadpool(hand_out, chosen, bundle_id, folder, clock().astimezone())
        except USER_ERRORS as error:
            shutil.rmtree(folder, ignore_errors=True)
            log(session, request, Action.RETRIEVE, with_school(bundle_id, school), "не выдан: " + str(error))
            return page(
                request,
                "message.html",
                session,
                409,
                title="Пакет не выдан",
                text=str(error),
                back="/catalog",
            )
        with handouts_lock:
            handouts[handout_id] = Handed(session.user.name, handed, clock(), school)
        forget_handouts(lambda h: clock() - h.at > SESSION_LIFETIME)
        outcome = f"выдан из хранилища {handed.target}"
        if handed.passed_over:
            outcome += "; " + " ".join(handed.passed_over)
        log(session, request, Action.RETRIEVE, with_school(bundle_id, school), outcome)
        return RedirectResponse(f"/handouts/{handout_id}", status_code=303)

    def handed_to(session: Session, handout_id: str) -> Handed:
        with handouts_lock:
            handed = handouts.get(handout_id)
        if handed is None or handed.user_name != session.user.name:
            raise Refused(
                404,
                "Такой выдачи нет (или сервер с тех пор перезапускали): нажмите «Получить» ещё раз.",
            )
        return handed

    @app.get("/handouts/{handout_id}")
    def handout_page(request: Request, handout_id: str) -> Response:
        session = allowed(request, Role.SECRETARY)
        return page(
            request,
            "handout.html",
            session,
            handout=handed_to(session, handout_id).handout,
            handout_id=handout_id,
        )

    @app.get("/handouts/{handout_id}/{what}")
    def download(request: Request, handout_id: str, what: str) -> Response:
        session = allowed(request, Role.SECRETARY)
        handed = handed_to(session, handout_id)
        handout = handed.handout
        files = {
            "document.pdf": (handout.pdf, "application/pdf", f"{handout.bundle_id}.pdf"),
            "receipt.pdf": (handout.receipt_pdf, "application/pdf", f"{handout.bundle_id}.receipt.pdf"),
            "bundle.zip": (handout.zip, "application/zip", f"{handout.bundle_id}.zip"),
        }
        if what not in files or files[what][0] is None:
            raise Refused(404, "Такого файла в выдаче нет.")
        path, media, filename = files[what]
        log(
            session,
            request,
            Action.DOWNLOAD,
            with_school(f"{handout.bundle_id}: {filename}", handed.school),
            "отдан",
        )
        return FileResponse(path, media_type=media, filename=filename)

    # --- the auditor -----------------------------------------------------------------

    @app.get("/audit")
    def audit(request: Request) -> Response:
        session = allowed(request, Role.AUDITOR)
        return page(
            request,
            "audit.html",
            session,
            **search_results(request),
            runs=board.past("verify")[:10],
            digests=bundles.digests(settings)[:10],
            run_failed=run_failed,
        )

    @app.post("/verify")
    async def verify(request: Request) -> Response:
        session = allowed(request, Role.AUDITOR)
        form = await form_of(request, session)
        bundle_id = form.get("bundle_id", "")
        folder = form.get("school", "")
        # With several schools: a bundle of the school it belongs to; every bundle of one school or of all.
        scopes = [scope(folder)] if folder or not schools or bundle_id else list(schools.values())
        if bundle_id:
            try:
                check_bundle_id(bundle_id)
            except BadBundleId as error:
                raise Refused(400, str(error)) from None
            if bundles.bundle(scopes[0], bundle_id) is None:
                raise Refused(404, f"В каталоге нет пакета «{bundle_id}».")
        chosen = [bundle_id] if bundle_id else None
        total = sum(bundles.replicas_to_verify(one, chosen) for one in scopes)
        run = board.start_verify(session.user.name, chosen, total, scopes if schools else None)
        subject = bundle_id or "все пакеты"
        log(
            session,
            request,
            Action.VERIFY,
            with_school(subject, ", ".join(map(school_name, scopes))),
            "начата",
        )
        return RedirectResponse(f"/runs/{run.run_id}", status_code=303)

    @app.get("/bundles/{bundle_id}/history")
    def history(request: Request, bundle_id: str) -> Response:
        session = allowed(request, Role.AUDITOR)
        try:
            check_bundle_id(bundle_id)
        except BadBundleId as error:
            raise Refused(400, str(error)) from None
        chosen = scope(request.query_params.get("school", ""))
        view = bundles.bundle(chosen, bundle_id)
        if view is None:
            raise Refused(404, f"В каталоге нет пакета «{bundle_id}».")
        return page(request, "history.html", session, bundle=view, checks=bundles.history(chosen, bundle_id))

    @app.get("/digests/{name}")
    def digest(request: Request, name: str) -> Response:
        session = allowed(request, Role.AUDITOR)
        text = bundles.digest_text(settings, name)
        if text is None:
            raise Refused(404, "Такой сводки аудита нет.")
        return page(request, "digest.html", session, name=name, text=text)

    # --- runs: the auditor's verifications, the administrator's archives ----------------

    def run_for(session: Session, run_id: str):  # type: ignore[no-untyped-def]
        record = board.get(run_id) if run_id.isalnum() else None
        owner = {"verify": Role.AUDITOR, "archive": Role.ADMIN}
        if record is None or owner.get(record.kind) != session.user.role:
            raise Refused(404, "Такого запуска нет.")
        return record

    @app.get("/runs/{run_id}")
    def run_page(request: Request, run_id: str) -> Response:
        session = allowed(request, Role.AUDITOR, Role.ADMIN)
        record = run_for(session, run_id)
        total = len(record.rows) if record.kind == "archive" else None
        done = sum(1 for row in record.rows if row.get("status") != QUEUED)
        classes = {(row.get("school", ""), row.get("class")) for row in record.rows}
        finished = {
            (row.get("school", ""), row.get("class")) for row in record.rows if row.get("status") != QUEUED
        }
        return page(
            request,
            "run.html",
            session,
            run=record,
            done=done,
            total=total,
            all_classes=len(classes),
            finished_classes=len(finished),
            failed=run_failed(record),
            has_report=record.kind == "verify"
            and (bundles.reports_dir(settings) / f"{run_id}.json").is_file(),
        )

    @app.get("/runs/{run_id}/report.json")
    def run_report(request: Request, run_id: str) -> Response:
        session = allowed(request, Role.AUDITOR)
        record = run_for(session, run_id)
        path = bundles.reports_dir(settings) / f"{record.run_id}.json"
        if not path.is_file():
            raise Refused(404, "Отчёт ещё не готов: проверка идёт.")
        log(session, request, Action.DOWNLOAD, f"отчёт проверки {run_id}", "отдан")
        return FileResponse(path, media_type="application/json", filename=f"verify-{run_id}.json")

    # --- the administrator -----------------------------------------------------------

    @app.get("/admin")
    def admin(request: Request) -> Response:
        session = allowed(request, Role.ADMIN)
        return page(
            request,
            "admin.html",
            session,
            runs=board.past("archive")[:20],
            periods=PERIODS,
            year=current_year(),
            run_failed=run_failed,
        )

    @app.post("/admin/archive")
    async def start_archive(request: Request) -> Response:
        session = allowed(request, Role.ADMIN)
        form = await form_of(request, session)
        year = form.get("year", "").strip() or current_year()
        period = form.get("period", "year")
        if period != "year" and period not in PERIODS:
            raise Refused(400, f"Периода «{period}» нет.")
        classes = [name for name in form.get("classes", "").replace(",", " ").split() if name]
        folder = form.get("school", "")
        chosen = None if not schools else [scope(folder)] if folder else list(schools.values())
        try:
            run = board.start_archive(
                session.user.name, year, None if period == "year" else period, classes, chosen
            )
        except USER_ERRORS as error:
            return page(
                request, "message.html", session, 400, title="Архив не начат", text=str(error), back="/admin"
            )
        log(session, request, Action.ARCHIVE, run.title, "начато")
        return RedirectResponse(f"/runs/{run.run_id}", status_code=303)

    @app.get("/admin/access-log")
    def access(request: Request) -> Response:
        session = allowed(request, Role.ADMIN)
        return page(
            request,
            "access_log.html",
            session,
            entries=access_log.entries(settings, 500),
        )

    @app.get("/admin/access-log.csv")
    def access_csv(request: Request) -> Response:
        session = allowed(request, Role.ADMIN)
        log(session, request, Action.EXPORT, "access-log.csv", "отдан")
        return Response(
            access_log.csv_text(settings),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="access-log.csv"'},
        )

    return app


def serve(settings: Settings, host: str, port: int, *, secure_cookies: bool = False) -> None:
    """Run the web page with uvicorn until interrupted."""
    import uvicorn

    app = create_app(settings, secure_cookies=secure_cookies)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
