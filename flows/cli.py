"""The `journal-archive` command line.

Commands are thin: they read settings, call plain functions and print what
school staff need to see. Bad input ends with one clear line and exit code 2.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from flows.settings import DEFAULT_YEAR, HOME_ENV, ConfigError, Settings, load_settings
from journal.source import SourceError

USER_ERRORS: tuple[type[Exception], ...] = (SourceError, ConfigError)
"""Errors whose message is meant for the user as it stands: printed as one line, exit code 2."""


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our own user-facing errors into one line on stderr and exit code 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as error:
            click.echo(f"Ошибка: {error}", err=True)
            sys.exit(2)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=HOME_ENV,
    help=f"Folder holding configuration, journal, archives and catalog (env {HOME_ENV}).",
)
@click.pass_context
def main(ctx: click.Context, home: Path | None) -> None:
    """Archive Russian school electronic class journals (PDF/A, CSV, XML, BagIt)."""
    ctx.obj = home


def settings_of(ctx: click.Context) -> Settings:
    return load_settings(ctx.obj)


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
@source_option
@click.pass_context
@user_errors
def demo(ctx: click.Context, size: str, seed: int, force: bool, source_url: str | None) -> None:
    """Generate the demo school year 2024/2025 into the journal database."""
    from journal.demo import generate_demo_school
    from journal.source import create_schema, open_source, remove_sqlite_database, write_school_year

    url = source_url or settings_of(ctx).source_url
    if force:
        remove_sqlite_database(url)
    started = time.perf_counter()
    school = generate_demo_school(size=size, seed=seed)
    engine = open_source(url, create=True)
    create_schema(engine)
    write_school_year(engine, school.data)
    data = school.data
    click.echo(
        f"Демо-школа «{data.school.short_name}», {data.year.name}: {len(data.classes)} кл., "
        f"{len(data.students)} уч., {len(data.lessons)} уроков, {len(data.marks)} отметок "
        f"— записано в {engine.url.render_as_string(hide_password=True)} "
        f"за {time.perf_counter() - started:.1f} с"
    )


@main.command()
@click.option("--year", default=DEFAULT_YEAR, show_default=True, help="Academic year, e.g. 2024/2025.")
@click.option("--period", help="Reporting period code (Q1…Q4, T1…T3, H1, H2); default: the whole year.")
@click.option("--class", "class_names", multiple=True, help="Class name, e.g. 5А (repeatable); default: all.")
@source_option
@click.pass_context
@user_errors
def check(
    ctx: click.Context, year: str, period: str | None, class_names: tuple[str, ...], source_url: str | None
) -> None:
    """Check the journal against the rules (J1–J6) and print a report; exit 1 on errors."""
    from journal.source import extract_class_journal, open_source, select_class_names
    from validators.journal_rules import format_report, has_errors, validate_class_journal

    engine = open_source(source_url or settings_of(ctx).source_url)
    findings = [
        finding
        for name in select_class_names(engine, year, period, class_names)
        for finding in validate_class_journal(extract_class_journal(engine, year, name, period))
    ]
    span = f"период {period}" if period else "учебный год"
    click.echo(format_report(findings, title=f"Проверка журналов: {year}, {span}"))
    if has_errors(findings):
        sys.exit(1)
