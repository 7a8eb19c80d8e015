"""The `journal-archive` command line.

Commands are thin: they read settings, call plain functions and print what
school staff need to see. Exit codes (README, "Exit codes"): 0 done, 1 something
checked or archived failed, 2 bad input — one clear line naming what is at fault.
"""

from __future__ import annotations

import atexit
import dataclasses
import datetime as dt
import functools
import gc
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from pipeline.errors import FAILURES, USER_ERRORS
from pipeline.kinds import RETRIEVABLE_KINDS
from pipeline.settings import (
    HOME_ENV,
    Settings,
    academic_year,
    load_settings,
    owner_only_process,
    schools_to_run,
    select_school,
    typed_year,
)

PACKAGE = "journal-archive"
EXIT_FAILED = 1  # something checked, archived or repaired failed (README: Exit codes)
EXIT_BAD_INPUT = 2  # bad input: the one line says what is at fault; click's usage errors are 2 too
PREFECT_LOG_LEVEL_ENV = "PREFECT_LOGGING_LEVEL"


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our own user-facing errors into one line on stderr and an exit code, never a traceback:
    2 for bad input, 1 for a check that failed (pipeline.errors.FAILURES)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as error:
            click.echo(f"Ошибка: {error}", err=True)
            sys.exit(EXIT_FAILED if isinstance(error, FAILURES) else EXIT_BAD_INPUT)

    return wrapper


@dataclass(frozen=True)
class Options:
    """The main group's options, for every command: the home and how much to print."""

    home: Path | None
    verbosity: int = 0  # -1: -q (no Prefect logs, no progress bar); 0: default; 1: -v (Prefect's logs)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name=PACKAGE, prog_name=PACKAGE, message="%(prog)s %(version)s")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=HOME_ENV,
    help=f"Folder holding configuration, journal, archives and catalog (env {HOME_ENV}).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the results: no progress bar, no run logs.")
@click.option("-v", "--verbose", is_flag=True, help="Also print Prefect's own (English) run logs.")
@click.pass_context
def main(ctx: click.Context, home: Path | None, quiet: bool, verbose: bool) -> None:
    """Archive Russian school electronic class journals (PDF/A, CSV, XML, BagIt).

    Exit codes: 0 done; 1 something checked, archived or repaired failed; 2 bad input."""
    if quiet and verbose:
        raise click.UsageError("-q и -v задаются по отдельности")
    owner_only_process()  # personal data (A2): nothing this run creates is readable by others
    ctx.obj = Options(home, -1 if quiet else 1 if verbose else 0)
    # At exit the interpreter's last garbage collection walks every object the run made: 0.8 s
    # after `archive year` with Prefect loaded (issue 13). Frozen, they are freed with the process.
    atexit.unregister(gc.freeze)  # once, however often the command runs in one process (tests)
    atexit.register(gc.freeze)


def options_of(ctx: click.Context) -> Options:
    return ctx.find_object(Options) or Options(None)


def settings_of(ctx: click.Context, *, create: bool = True, school: bool = True) -> Settings:
    """The home's settings, for the school of --school (optional when the configuration has one);
    `create=False` for read-only commands, which leave an empty home empty; `school=False` for
    commands over the whole installation."""
    settings = load_settings(options_of(ctx).home, create=create)
    return select_school(settings, school_of(ctx)) if school else settings


SCHOOL_ENV = "JOURNAL_ARCHIVE_SCHOOL"


def school_of(ctx: click.Context) -> str | None:
    """The --school given to this command or its group."""
    return ctx.meta.get(SCHOOL_ENV)


def _remember_school(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta[SCHOOL_ENV] = value


school_option = click.option(
    "--school",
    metavar="NAME",
    envvar=SCHOOL_ENV,
    expose_value=False,
    callback=_remember_school,
    help="The school (name or folder of a [[schools]] entry); needed only when there are several.",
)


clock: Callable[[], dt.date] = dt.date.today
"""Today's date for the default `--year` and the date of an inventory; tests replace it."""


def current_year() -> str:
    """The default `--year`: the academic year of today's date (September–August)."""
    return academic_year(clock())


def _year_or_current(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """The year as typed, written as the reports write it («2024-2025» → «2024/2025»), else this year."""
    return typed_year(value) if value else current_year()


def _typed_year(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    return typed_year(value) if value else None


year_option = click.option(
    "--year",
    callback=_year_or_current,
    show_default="the current academic year",
    help="Academic year, e.g. 2024/2025.",
)


source_option = click.option(
    "--source", "source_url", metavar="URL", help="Journal database URL (default: from the configuration)."
)


@main.command()
@click.option(
    "--size",
    type=click.Choice(["class", "small", "school"]),
    default="small",
    show_default=True,
    help="class: one class; small: 4 classes; school: 44 classes, ~1,100 students.",
)
@click.option("--seed", type=int, default=2024, show_default=True, help="Same seed, same school.")
@click.option("--force", is_flag=True, help="Replace an existing demo SQLite journal.")
@click.option(
    "--schools",
    "school_count",
    type=int,
    help="Several demo schools in one installation: [[schools]] entries and a journal for each.",
)
@source_option
@school_option
@click.pass_context
@user_errors
def demo(
    ctx: click.Context, size: str, seed: int, force: bool, school_count: int | None, source_url: str | None
) -> None:
    """Generate the demo school year 2024/2025 into the journal database."""
    from pipeline.school import journal_counts, make_demo_school, make_demo_schools

    started = time.perf_counter()
    if school_count is not None:
        if source_url:
            raise click.UsageError("--schools и --source задаются по отдельности")
        made_all = make_demo_schools(settings_of(ctx, school=False), school_count, size, seed, force=force)
    else:
        made_all = [make_demo_school(settings_of(ctx), size, seed, source_url=source_url, force=force)]
    for made in made_all:
        data = made.data
        if made.seal_certificate is not None:
            click.echo(f"Демонстрационная печать школы (самоподписанный сертификат): {made.seal_certificate}")
        for target in made.targets:
            click.echo(f"Подготовлено хранилище {target.name}: {target.root}")
        counts = journal_counts(len(data.students), len(data.lessons), len(data.marks))
        seconds = f"{time.perf_counter() - started:.1f}".replace(".", ",")
        click.echo(
            f"Демо-школа «{data.school.short_name}», {data.year.name}: {len(data.classes)} кл., {counts} "
            f"— записано в {made.written_to} за {seconds} с"
        )


@main.command()
@year_option
@click.option(
    "--period",
    help="Reporting period: Q1…Q4 (quarters), T1…T3 (trimesters), H1, H2 (half-years); default: year.",
)
@click.option("--class", "class_names", multiple=True, help="Class name, e.g. 5А (repeatable); default: all.")
@source_option
@school_option
@click.pass_context
@user_errors
def check(
    ctx: click.Context, year: str, period: str | None, class_names: tuple[str, ...], source_url: str | None
) -> None:
    """Check the journal against the rules (J1–J6) and print a report; exit 1 on errors."""
    from pipeline.school import check_journals

    result = check_journals(source_url or settings_of(ctx).source_url, year, period, class_names)
    click.echo(result.report)
    if result.has_errors:
        sys.exit(EXIT_FAILED)


def prefect_environment(settings: Settings, verbosity: int = 0) -> None:
    """Keep Prefect's state in the home and off the internet; must run before Prefect is imported.

    Prefect's log lines are English and say nothing staff act on: only its warnings and
    errors are shown unless -v asks for everything (an explicit PREFECT_LOGGING_LEVEL wins
    over the quiet default, never over -v)."""
    if verbosity > 0:
        os.environ[PREFECT_LOG_LEVEL_ENV] = "INFO"
    elif verbosity < 0:
        os.environ[PREFECT_LOG_LEVEL_ENV] = "ERROR"
    else:
        os.environ.setdefault(PREFECT_LOG_LEVEL_ENV, "WARNING")
    os.environ.setdefault("PREFECT_HOME", str(settings.home / "prefect"))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    if settings.prefect_api_url:  # the shared server of the work pool (docs/deployment.md)
        os.environ["PREFECT_API_URL"] = settings.prefect_api_url
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def print_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    for row in (headers, tuple("─" * width for width in widths), *rows):
        click.echo(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@main.group()
def archive() -> None:
    """Archive class journals: a reporting period (R1) or the whole year (R2, R3)."""


@archive.command("period")
@year_option
@click.option(
    "--period",
    required=True,
    help="Reporting period: Q1…Q4 (quarters, четверти), T1…T3 (trimesters), H1, H2 (half-years).",
)
@click.option("--class", "class_names", multiple=True, help="Class name, e.g. 5А (repeatable); default: all.")
@school_option
@click.pass_context
@user_errors
def archive_period_command(ctx: click.Context, year: str, period: str, class_names: tuple[str, ...]) -> None:
    """Archive every class's journal for a reporting period to both storage targets (R1, R5, R7, R8).

    With several schools ([[schools]]) and no --school, every school's classes are archived."""
    runs = classes_to_archive(ctx, year, period, class_names)
    home = runs[0][0].home
    for settings, names in runs:
        click.echo(
            f"{school_title(settings)}Архив за период {period.upper()} {year}: {len(names)} кл. → {home}"
        )
        if not class_names:
            from pipeline.school import classes_without

            other = classes_without(settings, year, names)
            if other:
                click.echo(f"Без периода {period.upper()} (другое деление учебного года): {', '.join(other)}")

    def start_flow(
        names: list[str] | None, school: str | None, on_result: Callable[[Any], None], executor: Any
    ) -> list[Any]:
        from flows.archive import archive_period

        return archive_period(
            year, period, names, str(home), on_result=on_result, school=school, executor=executor
        )

    run_archive(ctx, runs, year, period, start_flow)


@archive.command("year")
@year_option
@click.option("--class", "class_names", multiple=True, help="Class name, e.g. 5А (repeatable); default: all.")
@click.option(
    "--allow-errors",
    is_flag=True,
    help="Seal a class even if its journal has validation errors (they are listed; warnings never block).",
)
@school_option
@click.pass_context
@user_errors
def archive_year_command(
    ctx: click.Context, year: str, class_names: tuple[str, ...], allow_errors: bool
) -> None:
    """Close the year: per class a sealed journal bundle (5 years, R2) and summary bundle (25 years, R3)."""
    runs = classes_to_archive(ctx, year, None, class_names)
    home = runs[0][0].home
    for settings, names in runs:
        click.echo(f"{school_title(settings)}Годовой архив {year}: {len(names)} кл. → {home}")

    def start_flow(
        names: list[str] | None, school: str | None, on_result: Callable[[Any], None], executor: Any
    ) -> list[Any]:
        from flows.archive import archive_year

        return archive_year(
            year, names, str(home), allow_errors, on_result=on_result, school=school, executor=executor
        )

    run_archive(ctx, runs, year, None, start_flow, allow_errors=allow_errors)


def classes_to_archive(
    ctx: click.Context, year: str, period: str | None, class_names: tuple[str, ...]
) -> list[tuple[Settings, tuple[str, ...]]]:
    """Each school's settings and class names (the one of --school, else every school), checked before
    any work starts; Prefect's environment set up."""
    from pipeline.archive import school_classes

    runs = school_classes(settings_of(ctx, school=False), school_of(ctx), year, period, class_names)
    for settings, _ in runs:
        settings.targets()  # a bad target configuration stops here, before any work
    prefect_environment(runs[0][0], options_of(ctx).verbosity)
    if runs[0][0].uses_work_pool:  # the classes go to the shared server's work pool: is it there?
        from flows.pool import check_server

        check_server(runs[0][0])
    return runs


def school_label(settings: Settings) -> str:
    """The school's name as results carry it (ClassArchiveResult.school): "" with one school."""
    return settings.school.name if settings.school and len(settings.schools) > 1 else ""


def school_title(settings: Settings) -> str:
    """«МБОУ СОШ № 17: » before a line about one school of several; "" with one school."""
    return f"{settings.school.name}: " if settings.school and len(settings.schools) > 1 else ""


def progress_bar(ctx: click.Context, length: int, label: str) -> Any:
    """A progress bar on stderr, hidden by -q."""
    hidden = options_of(ctx).verbosity < 0
    return click.progressbar(length=length, label=label, show_pos=True, file=sys.stderr, hidden=hidden)


FlowStart = Callable[[list[str] | None, str | None, Callable[[Any], None], Any], list[Any]]
"""Starts the archive flow: (class names or all, school, per-result callback, executor or None)."""
"""Starts an archive flow: (class names or None for all, the --school value, the progress callback)."""


def run_archive(
    ctx: click.Context,
    runs: list[tuple[Settings, tuple[str, ...]]],
    year: str,
    period: str | None,
    start_flow: FlowStart,
    *,
    allow_errors: bool = False,
) -> None:
    """Archive `runs` with a progress bar, print the administrator's table, exit 1 on any failure.

    Classes already archived from the same data are found first, without Prefect
    (pipeline.archive.split_already_archived): a re-run of an unchanged school starts no flow,
    and one with a few changed classes of one school runs the flow for those classes only.
    Each class found to have work starts on the local pool at once, and Prefect's temporary
    server starts beside it; the flow then follows the classes already under way (HeadStart)."""
    from flows.temporary_server import TemporaryServerStart
    from pipeline.archive import class_archive_call, split_already_archived
    from pipeline.executor import HeadStart, local_executor

    remote = runs[0][0].uses_work_pool  # classes go to the work pool's workers, not this machine's pool
    executor = HeadStart(local_executor(sum(len(names) for _, names in runs)))
    server = TemporaryServerStart(runs[0][0])

    def on_work(settings: Settings, name: str) -> None:
        server.begin()
        if not remote:
            function, args, kwargs = class_archive_call(settings, year, name, period, allow_errors)
            executor.start(function, *args, **kwargs)

    per_class = 1 if period else 2
    bar = progress_bar(ctx, per_class * sum(len(names) for _, names in runs), "Пакеты")
    try:
        done, left = split_already_archived(runs, year, period, executor, on_work)
        with bar:
            bar.update(len(done))
            server.wait()
            flow_executor = None if remote else executor
            if len(left) == 1:
                settings, names = left[0]
                school = settings.school.name if settings.school else school_of(ctx)
                done += start_flow(list(names), school, lambda result: bar.update(1), flow_executor)
            elif left:  # several schools with work: one flow for everything, as asked
                done = start_flow(
                    list(ctx.params["class_names"]) or None,
                    school_of(ctx),
                    lambda result: bar.update(1),
                    flow_executor,
                )
    finally:
        executor.shutdown()
    asked = [(school_label(settings), name) for settings, names in runs for name in names]
    order = {school_and_class: i for i, school_and_class in enumerate(asked)}
    results = sorted(done, key=lambda r: order.get((r.school, r.class_name), len(order)))
    schools = any(r.school for r in results)
    print_table(
        ("Школа", "Класс", "Пакет", "Стр.", "Листов", "Статус", "Замечания")[0 if schools else 1 :],
        [
            (r.school,) * schools
            + (
                r.class_name,
                r.bundle_id or r.kind,
                str(r.pages or ""),
                str(r.sheets or ""),
                r.status,
                r.message or r.findings_summary,
            )
            for r in results
        ],
    )
    from pipeline.archive import outcome_line

    click.echo(outcome_line(results))
    if any(not r.ok for r in results):
        sys.exit(EXIT_FAILED)


@main.group()
def catalog() -> None:
    """The catalog of archived bundles (it can always be rebuilt from the targets)."""


@catalog.command("list")
@click.option("--year", callback=_typed_year, help="Academic year, e.g. 2024/2025.")
@click.option("--class", "class_names", multiple=True, help="Class name, e.g. 5А (repeatable); default: all.")
@click.option("--all", "show_all", is_flag=True, help="Include superseded versions and destroyed bundles.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="A table to read, or CSV / JSON for other programs.",
)
@school_option
@click.pass_context
@user_errors
def catalog_list(
    ctx: click.Context, year: str | None, class_names: tuple[str, ...], show_all: bool, output_format: str
) -> None:
    """What is archived: kind, version, date, retain-until and where each copy is."""
    from pipeline.inventory import CATALOG_HEADERS, catalog_csv, catalog_json, catalog_rows

    rows = catalog_rows(settings_of(ctx, create=False), year, class_names, show_all=show_all)
    if output_format == "csv":
        click.echo(catalog_csv(rows), nl=False)
        return
    if output_format == "json":
        click.echo(catalog_json(rows), nl=False)
        return
    if not rows:
        asked = [f"учебный год {year}"] if year else []
        if class_names:
            asked.append(("классы " if len(class_names) > 1 else "класс ") + ", ".join(class_names))
        click.echo(f"В каталоге нет пакетов ({'; '.join(asked)})." if asked else "В каталоге нет пакетов.")
        return
    print_table(CATALOG_HEADERS, [dataclasses.astuple(row) for row in rows])


@catalog.command("history")
@click.argument("bundle_id", metavar="BUNDLE")
@school_option
@click.pass_context
@user_errors
def catalog_history(ctx: click.Context, bundle_id: str) -> None:
    """Every recorded check of a bundle's copies (the fixity history, R7), oldest first."""
    from pipeline.inventory import bundle_history

    rows = bundle_history(settings_of(ctx, create=False), bundle_id)
    if not rows:
        click.echo(f"Проверок пакета {bundle_id} ещё не было.")
        return
    print_table(
        ("Проверено (UTC)", "Хранилище", "Копия", "Что сделано", "Найдено"),
        [(r.checked_at, r.target, r.status, r.action, r.detail.replace("\n", "; ")) for r in rows],
    )


@catalog.command("inventory")
@year_option
@click.option(
    "--to",
    "to_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the PDF and CSV (default: the home's inventories/ folder).",
)
@school_option
@click.pass_context
@user_errors
def catalog_inventory(ctx: click.Context, year: str, to_dir: Path | None) -> None:
    """The yearly inventory (опись) as PDF/A-3b and CSV: every bundle of the year and each copy's state."""
    from pipeline.inventory import make_inventory

    made = make_inventory(settings_of(ctx, create=False), year, clock(), to_dir)
    click.echo(f"Опись за {year} учебный год: {made.pdf}")
    click.echo(f"Таблица описи (CSV): {made.csv}")


@catalog.command("rebuild")
@click.pass_context
@user_errors
def catalog_rebuild(ctx: click.Context) -> None:
    """Recreate the catalog from what the storage targets hold."""
    from pipeline.inventory import rebuild

    rebuilt = rebuild(settings_of(ctx, school=False))  # every school's bundles
    click.echo(rebuilt.summary)
    for problem in rebuilt.problems:
        click.echo(f"  • {problem}")
    if rebuilt.problems:
        sys.exit(EXIT_FAILED)


@main.group()
def targets() -> None:
    """Storage targets: a folder target's root is created only here, never by a run (R8)."""


@targets.command("init")
@click.argument("name")
@school_option
@click.pass_context
@user_errors
def targets_init(ctx: click.Context, name: str) -> None:
    """Create the root of folder target NAME and write its identity file (run once the disk is mounted)."""
    from pipeline.targets import init_target

    made = init_target(settings_of(ctx), name)
    click.echo(f"Хранилище {made.name} готово: {made.root} (метка {made.identity})")


@targets.command("retire")
@click.argument("name")
@school_option
@click.pass_context
@user_errors
def targets_retire(ctx: click.Context, name: str) -> None:
    """Stop using target NAME once every live bundle has two verified copies elsewhere (verified now).

    Writes `retired = true` into NAME's [[targets]] section; its files are left in place."""
    from pipeline.targets import retire_target

    done = retire_target(settings_of(ctx), name)
    click.echo(
        f"Хранилище {done.name} выведено из работы: у всех {done.bundles} пакетов есть проверенные копии "
        f"на {', '.join(done.remaining)}. Файлы остались в {done.root}: их судьбу решает администратор."
    )


@main.command()
@click.option("--year", callback=_typed_year, help="Only bundles of this academic year.")
@click.option("--to", "to", metavar="NAME", help="Only to this target (a new medium, after targets init).")
@school_option
@click.pass_context
@user_errors
def replicate(ctx: click.Context, year: str | None, to: str | None) -> None:
    """Copy bundles to every target that lacks them (or only to --to), from a verified copy (R8)."""
    from pipeline.inventory import replicate as complete_every_replica

    repairs = complete_every_replica(settings_of(ctx), year, to)
    if not repairs:
        click.echo(f"Все пакеты уже есть на {to}." if to else "Все пакеты есть на всех хранилищах.")
    for repair in repairs:
        source = f" (копия с {repair.source})" if repair.source else ""
        click.echo(f"{repair.bundle_id} → {repair.target}: {repair.status.title}{source}")
        for problem in repair.problems:
            click.echo(f"  • {problem}")
    if any(repair.problems for repair in repairs):
        sys.exit(EXIT_FAILED)


@main.command("import")
@click.argument("xml_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@source_option
@school_option
@click.pass_context
@user_errors
def import_command(ctx: click.Context, xml_file: Path, source_url: str | None) -> None:
    """Read an archived journal.xml back into a journal database (R10)."""
    from pipeline.school import import_journal_xml, imported_line

    journal = import_journal_xml(xml_file, source_url or settings_of(ctx).source_url)
    click.echo(imported_line(journal))


@main.command()
@school_option
@click.pass_context
@user_errors
def serve(ctx: click.Context) -> None:
    """Serve the archive flows (runs started from the Prefect UI) and the scheduled fixity audits."""
    settings = settings_of(ctx)
    settings.audit_schedules()  # a bad target or schedule stops here, before Prefect starts
    prefect_environment(settings, options_of(ctx).verbosity)
    from prefect import serve as serve_deployments

    from flows.archive import archive_period, archive_year
    from flows.audit import audit_deployments

    if settings.uses_work_pool:  # runs started here spread their classes over the work pool
        from flows.pool import register_work_pool

        register_work_pool(settings)

    school = {"school": settings.school.folder} if settings.school and len(settings.schools) > 1 else {}
    suffix = f"-{settings.school.folder}" if school and settings.school else ""  # one set per school

    serve_deployments(
        archive_period.to_deployment(
            name=f"archive-period{suffix}",
            parameters={"year": current_year(), "period": "Q1", "home": str(settings.home), **school},
            description="Квартальный архив классных журналов (R1)",
        ),
        archive_year.to_deployment(
            name=f"archive-year{suffix}",
            parameters={"year": current_year(), "home": str(settings.home), **school},
            description="Годовой архив: опечатанные журналы (5 лет) и сводные ведомости (25 лет), R2, R3",
        ),
        *audit_deployments(settings),  # the fixity audit on its schedules (R7, R8)
    )


def shared_server_settings(ctx: click.Context) -> Settings:
    """The installation's settings (every school) for a command that needs the shared Prefect server;
    Prefect's environment set up."""
    settings = settings_of(ctx, school=False)
    if not settings.uses_work_pool:
        raise click.UsageError(
            f"в {settings.config_path} не указан сервер Prefect: [prefect] api_url = "
            '"http://host:4200/api" (docs/deployment.md)'
        )
    prefect_environment(settings, options_of(ctx).verbosity)
    from flows.pool import check_server

    check_server(settings)
    return settings


@main.command()
@click.pass_context
@user_errors
def deploy(ctx: click.Context) -> None:
    """Register the work pool, the archive_classes deployment and its lost-run detection on the server."""
    settings = shared_server_settings(ctx)
    from flows.pool import deployment_name, register_work_pool

    register_work_pool(settings)
    click.echo(
        f"Развёртывание {deployment_name(settings)} на рабочем пуле «{settings.work_pool}» "
        f"сервера {settings.prefect_api_url} зарегистрировано"
    )


@main.command()
@click.option("--pool", help="Work pool name (default: [prefect] work_pool of the configuration).")
@click.option(
    "--count",
    type=click.IntRange(min=1),
    help="Workers to start on this machine, each one class at a time (default: one per core).",
)
@click.pass_context
@user_errors
def workers(ctx: click.Context, pool: str | None, count: int | None) -> None:
    """Start Prefect workers of the work pool on this machine until interrupted (docs/deployment.md)."""
    settings = shared_server_settings(ctx)
    if pool:
        settings = dataclasses.replace(settings, work_pool=pool)
    from flows.pool import register_work_pool, run_workers
    from pipeline.executor import worker_count

    register_work_pool(settings)
    count = count or worker_count()
    click.echo(f"Работников: {count}, рабочий пул «{settings.work_pool}», сервер {settings.prefect_api_url}")
    sys.exit(run_workers(settings, count))


def _iso_date(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    import datetime as dt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"нужна дата ГГГГ-ММ-ДД, а задано «{value}»") from None


@main.group(invoke_without_command=True)
@click.option(
    "--apply",
    "apply_",
    is_flag=True,
    help="With --act: destroy exactly the bundles of that approved act (only where the target allows).",
)
@click.option("--act", "act_ref", metavar="ACT", help="The approved act to apply: its number or folder.")
@school_option
@click.pass_context
@user_errors
def retention(ctx: click.Context, apply_: bool, act_ref: str | None) -> None:
    """List bundles past their retention date; `retention act` drafts the act to destroy them,
    `retention approve` records its approval, `--apply --act N` destroys exactly its bundles."""
    if ctx.invoked_subcommand is not None:
        return
    from pipeline.archive import local_today
    from pipeline.retention import apply_act, expired

    settings = settings_of(ctx, create=apply_)  # the listing creates nothing
    today = local_today()  # the real clock: nothing is destroyed before its Retain-Until
    if act_ref and not apply_:
        raise click.UsageError("--act задаётся вместе с --apply")
    if not apply_:
        records = expired(settings, today)
        if not records:
            click.echo(f"На {today.isoformat()} нет пакетов с истёкшим сроком хранения.")
            return
        print_table(
            ("Пакет", "Класс", "Год", "Вид", "Хранить до"),
            [(r.bundle_id, r.class_name, r.year, r.kind, r.retain_until) for r in records],
        )
        click.echo("Уничтожаются только по утверждённому акту: journal-archive retention act.")
        return
    if not act_ref:
        raise click.UsageError("удаляется только по утверждённому акту: --apply --act N")
    applied = apply_act(settings, act_ref, today)
    click.echo(f"Акт сохранён в архиве как пакет {applied.act_bundle}.")
    words = {"deleted": "уничтожен", "absent": "уже отсутствовал", "earlier": "уничтожен ранее"}
    for deletion in applied.deletions:
        state = words.get(deletion.state) or f"НЕ уничтожен: {deletion.detail}"
        click.echo(f"{deletion.bundle_id} на {deletion.target}: {state}")
    if applied.refused:
        click.echo(f"Отказано: {len(applied.refused)}; повторите --apply, когда хранилище позволит.")
        sys.exit(EXIT_FAILED)


@retention.command("act")
@click.option(
    "--as-of",
    "as_of",
    metavar="YYYY-MM-DD",
    callback=_iso_date,
    help="Draft for a later day (a look ahead: such an act can be approved and applied only from that day).",
)
@school_option
@click.pass_context
@user_errors
def retention_act(ctx: click.Context, as_of: Any) -> None:
    """Draft the destruction act (PDF/A + CSV) for every bundle past its Retain-Until."""
    from pipeline.archive import local_today
    from pipeline.retention import draft_act

    settings = settings_of(ctx)
    today = local_today()
    drafted = draft_act(settings, today, as_of)
    if drafted is None:
        click.echo(f"На {(as_of or today).isoformat()} нет пакетов с истёкшим сроком хранения: акт не нужен.")
        return
    click.echo(f"{drafted.act.heading}: {drafted.act.total_line}")
    click.echo(f"Файлы акта: {drafted.path}")
    if drafted.act.drafted_ahead:
        click.echo(
            f"ПРОЕКТ по состоянию на {as_of.isoformat()}: "
            "утвердить и исполнить его можно не раньше этого дня."
        )
        return
    click.echo(f"Утвердить: journal-archive retention approve {drafted.act.number} --by «ФИО, должность»")


@retention.command("approve")
@click.argument("act_ref", metavar="ACT")
@click.option("--by", "by", required=True, help="Who approved it: «ФИО, должность».")
@click.option(
    "--date", "on", metavar="YYYY-MM-DD", callback=_iso_date, help="Date of approval (default: today)."
)
@school_option
@click.pass_context
@user_errors
def retention_approve(ctx: click.Context, act_ref: str, by: str, on: Any) -> None:
    """Record the approval of a drafted act (its files as they are now)."""
    from pipeline.archive import local_today
    from pipeline.retention import approve_act

    folder = approve_act(settings_of(ctx), act_ref, by, local_today(), on)
    click.echo(
        f"{folder.act.heading} утверждён {folder.approval['approved_on']}: {folder.approval['approved_by']}."
    )


# --- verify and audit (R7, R8) --------------------------------------------------------


def _max_rate(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and value <= 0:
        raise click.BadParameter(f"скорость должна быть больше нуля, а задано {value}")
    return value


max_rate_option = click.option(
    "--max-rate",
    "max_rate",
    type=float,
    metavar="MB/s",
    callback=_max_rate,
    help="Cap the read rate in MB/s (10^6 bytes), to run beside the school's daily work.",
)


deep_option = click.option(
    "--deep",
    is_flag=True,
    help="Also re-validate PDF/A and the XML against its schema (slower); by default every file is "
    "hashed against the manifests the catalog anchored at archive time.",
)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--all", "check_all", is_flag=True, help="Every bundle in the catalog, on every target.")
@click.option(
    "--target",
    "target_names",
    multiple=True,
    metavar="NAME",
    help="With --all: only this target (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable JSON report.")
@deep_option
@click.option(
    "--at",
    "at_date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Check the seals' evidence as of this date (YYYY-MM-DD), e.g. «would it still verify in 2040?».",
)
@max_rate_option
@school_option
@click.pass_context
@user_errors
def verify(
    ctx: click.Context,
    paths: tuple[Path, ...],
    check_all: bool,
    target_names: tuple[str, ...],
    as_json: bool,
    deep: bool,
    max_rate: float | None,
    at_date: dt.datetime | None = None,
) -> None:
    """Check bundles: bundle folders given as PATH, or with --all every bundle on the targets (R7).

    Full BagIt (RFC 8493), PDF/A, XML against the bundle's own XSD, the seal if present,
    and the checksum the catalog recorded when the bundle was archived. Prints VALID or
    INVALID per bundle with every failed file and why; exit code 1 if anything failed.
    """
    from pipeline.settings import default_home
    from pipeline.verify import (
        checks_line,
        depth_line,
        format_report,
        replica_count,
        settings_if_home,
        verify_catalog,
        verify_folders,
    )

    if bool(paths) == check_all:
        raise click.UsageError("укажите папки пакетов (PATH…) или --all, но не то и другое вместе")
    if target_names and not check_all:
        raise click.UsageError("--target задаётся вместе с --all")
    at = at_date.replace(tzinfo=dt.UTC) if at_date else None
    if check_all:
        settings = settings_of(ctx, create=False)
        has_catalog = settings.has_catalog()
        bar = progress_bar(ctx, replica_count(settings, target_names), "Проверка копий")
        with bar:
            reports = verify_catalog(
                settings, target_names, max_rate, on_replica=lambda: bar.update(1), deep=deep, at=at
            )
    else:
        for path in paths:
            if not path.is_dir():
                click.echo(f"Ошибка: {path}: папки пакета нет", err=True)
                sys.exit(EXIT_BAD_INPUT)
        home_settings = settings_if_home((options_of(ctx).home or default_home()).expanduser().resolve())
        if home_settings is not None and (school_of(ctx) or len(home_settings.schools) == 1):
            home_settings = select_school(home_settings, school_of(ctx))  # the catalog of that school
        has_catalog = home_settings is not None and home_settings.has_catalog()
        reports = verify_folders(paths, home_settings, max_rate, deep=deep, at=at)
    if check_all and not reports and not as_json:
        click.echo("В каталоге нет пакетов.")
        return
    click.echo(format_report(reports, json=as_json), nl=False)
    if not as_json:
        click.echo("Выполненные проверки:")
        for report in reports:
            click.echo(f"  {checks_line(report, has_catalog)}")
        click.echo(depth_line(deep))
    if any(not report.valid for report in reports):
        sys.exit(EXIT_FAILED)


@main.command()
@click.option(
    "--target",
    "target_names",
    multiple=True,
    metavar="NAME",
    help="Only this target (repeatable); default: all.",
)
@deep_option
@max_rate_option
@click.option(
    "--ok-if-repaired",
    is_flag=True,
    help="Exit 0 when every damaged copy was repaired (default: exit 1 whenever damage was found).",
)
@school_option
@click.pass_context
@user_errors
def audit(
    ctx: click.Context,
    target_names: tuple[str, ...],
    deep: bool,
    max_rate: float | None,
    ok_if_repaired: bool,
) -> None:
    """Run the fixity audit now: check every copy, repair bad ones from good ones, print the digest (R7).

    Exit 0: every copy was good; 1: a copy was found bad (also when it was repaired, unless
    --ok-if-repaired) or is still bad; 2: bad input. Cron mails what a failing job printed."""
    from pipeline.settings import select_targets

    settings = settings_of(ctx)
    select_targets(settings, target_names)  # a bad name stops here, before Prefect starts
    prefect_environment(settings, options_of(ctx).verbosity)
    from flows.audit import audit_fixity

    summary = audit_fixity(
        home=str(settings.home), targets=list(target_names) or None, max_rate_mb_s=max_rate, deep=deep
    )
    click.echo(summary.digest, nl=False)
    click.echo(f"Сводка записана в {summary.digest_path}")
    if summary.failed or (summary.damaged and not ok_if_repaired):
        sys.exit(EXIT_FAILED)


@main.command()
@year_option
@click.option(
    "--class", "class_names", required=True, multiple=True, help="Class name, e.g. 5А (repeatable)."
)
@click.option(
    "--kind",
    type=click.Choice(list(RETRIEVABLE_KINDS)),
    help="journal: the class journal (5 years); summary: the summary sheets (25 years); default: both.",
)
@click.option(
    "--to",
    "to_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the verified bundle, its receipt and the school's certificate.",
)
@school_option
@click.pass_context
@user_errors
def retrieve(
    ctx: click.Context, year: str, class_names: tuple[str, ...], kind: str | None, to_dir: Path
) -> None:
    """Hand out a sealed year bundle for printing: every checksum and the seal verified first."""
    from pipeline.retrieval import retrieve_bundle

    settings = settings_of(ctx)
    kinds = [RETRIEVABLE_KINDS[kind]] if kind else list(RETRIEVABLE_KINDS.values())
    for class_name in dict.fromkeys(class_names):
        for bundle_kind in kinds:
            retrieved = retrieve_bundle(settings, year, class_name, bundle_kind, to_dir)
            for reason in retrieved.passed_over:
                click.echo(reason)
            click.echo(f"Выдан {retrieved.bundle_id} из хранилища {retrieved.target}: {retrieved.folder}")
            click.echo(f"Квитанция: {retrieved.receipt}")


# --- evidence renewal (R3, R7) ----------------------------------------------------------


@main.group()
def evidence() -> None:
    """Keep sealed bundles provable: archive timestamps before their evidence expires."""


@evidence.command("renew")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, file_okay=False))
@click.option("--force", is_flag=True, help="Renew every sealed bundle, not only those due.")
@school_option
@click.pass_context
@user_errors
def evidence_renew(ctx: click.Context, paths: tuple[Path, ...], force: bool) -> None:
    """Add an archive timestamp to sealed bundles: bundle folders given as PATH, else every sealed
    bundle on the targets whose evidence expires within [seal] renew_within_days. New files only."""
    from pipeline.evidence import renew_due, renew_folders

    settings = settings_of(ctx)
    if paths:
        for path, added in renew_folders(settings, paths):
            click.echo(f"{path}: добавлено {', '.join(added)}")
        return
    results = renew_due(settings, force=force)
    for result in results:
        click.echo(f"{result.bundle_id}: {result.message}")
    if any(not result.ok for result in results):
        sys.exit(EXIT_FAILED)


# --- the web page and its users ------------------------------------------------------


@main.group()
def users() -> None:
    """Accounts for the web page (`journal-archive web`), kept in the catalog database."""


@users.command("add")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["secretary", "auditor", "admin"]),
    help="secretary: finds and hands out bundles; auditor: verifies; admin: archives, reads the access log.",
)
@click.pass_context
@user_errors
def users_add(ctx: click.Context, name: str, role: str) -> None:
    """Add a user; the password is asked twice and stored as an Argon2 hash."""
    import datetime as dt

    from pipeline.users import add_user

    settings = settings_of(ctx, school=False)
    password = click.prompt("Пароль", hide_input=True, confirmation_prompt="Пароль ещё раз")
    user = add_user(settings, name, role, password, dt.datetime.now(dt.UTC))
    click.echo(f"Пользователь {user.name} ({user.role.title}) добавлен.")


@users.command("list")
@click.pass_context
@user_errors
def users_list(ctx: click.Context) -> None:
    """The web page's users, their roles and whether they are disabled."""
    from pipeline.users import list_users

    found = list_users(settings_of(ctx, create=False, school=False))
    if not found:
        click.echo("Пользователей нет: journal-archive users add ИМЯ --role secretary|auditor|admin")
        return
    print_table(
        ("Имя", "Роль", "Состояние", "Добавлен (UTC)"),
        [(u.name, u.role.title, "отключён" if u.disabled else "активен", u.created) for u in found],
    )


@users.command("disable")
@click.argument("name")
@click.pass_context
@user_errors
def users_disable(ctx: click.Context, name: str) -> None:
    """Disable a user; their open sessions end at once."""
    from pipeline.users import disable_user

    disable_user(settings_of(ctx, school=False), name)
    click.echo(f"Пользователь {name} отключён.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--secure-cookies", is_flag=True, help="Mark cookies Secure (when served over HTTPS by a reverse proxy)."
)
@school_option
@click.pass_context
@user_errors
def web(ctx: click.Context, host: str, port: int, secure_cookies: bool) -> None:
    """Serve the web page for the secretary, the auditor and the administrator; with several schools
    and no --school, staff choose the school on the page."""
    installation = settings_of(ctx, school=False)
    chosen = schools_to_run(installation, school_of(ctx))
    for school in chosen:
        school.targets()  # a bad target configuration stops here
    settings = chosen[0] if len(chosen) == 1 else installation
    if settings.uses_work_pool:  # the administrator's archive runs go to the Prefect work pool
        prefect_environment(settings, options_of(ctx).verbosity)
    from flows.web import serve as serve_web

    click.echo(f"Архив классных журналов: http://{host}:{port}/ (остановить: Ctrl+C)")
    serve_web(settings, host, port, secure_cookies=secure_cookies)
