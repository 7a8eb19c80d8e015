"""Where journal-archive keeps its state, and its configuration file.

Everything the embedded default keeps — the configuration, the demo SQLite
journal, the storage targets, the catalog, the demo signing key — lives under
one home directory, so two homes never interfere (tests use a temporary one).
The home is `--home`, else `$JOURNAL_ARCHIVE_HOME`, else
`$XDG_DATA_HOME/journal-archive` (by default `~/.local/share/journal-archive`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from documents.seal import CERT_FILE, KEY_FILE, TSA_CERT_FILE
from journal.names import year_name
from pipeline.fingerprints import FINGERPRINTS_FILE
from storage.catalog import open_catalog
from storage.database import Database, is_postgresql_url
from storage.layout import CATALOG_FILE, TARGET_IDS_FILE, safe_name
from storage.modes import PRIVATE_UMASK, private_dir, write_private
from storage.target import StorageError, Target
from storage.targets import targets_from_config

HOME_ENV = "JOURNAL_ARCHIVE_HOME"
KEYS_DIR = "keys"  # inside the home: the demo signing pair
CONFIG_NAME = "journal-archive.toml"
ACADEMIC_YEAR_START_MONTH = 9  # a Russian school year runs 1 September – 31 August

DEFAULT_CONFIG = f"""\
# journal-archive configuration. Relative paths are relative to this file's folder.

[source]
# The electronic journal to archive: sqlite:///path or postgresql://user@host:port/db
url = "sqlite:///journal.sqlite"

[archive]
# Do validation errors in a class's journal stop that class's period archive? Warnings never do.
# false: the period is archived as it stands (R1) and the errors are listed in the bundle and the report.
block_on_errors = false
# Count sheets for duplex printing (two pages a sheet) instead of one page a sheet.
duplex = false

[seal]
# The school's signing key and X.509 certificate (PEM) that seal year bundles (R2, R3, R7).
# `journal-archive demo` creates a self-signed demo pair here; use the school's own in production.
key = "{KEYS_DIR}/{KEY_FILE}"
certificate = "{KEYS_DIR}/{CERT_FILE}"
# An RFC 3161 time-stamping authority (TSA): with it every seal carries a trusted timestamp and
# the validation data to check it in 2050 (docs/seal.md); without it a seal is valid only while
# the certificate is. The demo TSA: python -m documents._exec.tsa_server --dir keys/tsa
# tsa_url = "http://127.0.0.1:3180/"
# The TSA's certificate or its CA (PEM), trusted when timestamps are checked.
tsa_certificate = "{KEYS_DIR}/{TSA_CERT_FILE}"
# The fixity audit lists bundles whose evidence expires within this many days
# (renew them with `journal-archive evidence renew`).
renew_within_days = 180

[school]
# Who approves acts on destroying documents whose retention has ended (the «УТВЕРЖДАЮ» block);
# left empty, the act leaves a line to write the name in by hand.
director = ""
director_post = "Директор"
# The school's timezone (IANA name): the cron schedules of `serve` run in it, not in UTC.
timezone = "Europe/Moscow"

[alerts]
# Who is told when an audit finds a damaged or missing copy (R7): Apprise URLs, e.g. e-mail through
# the school's SMTP server. The message holds only bundle ids, class names and counts (A2).
# urls = ["mailtos://user:password@mail.school.example?to=admin@school.example"]
urls = []

[audit]
# When the fixity audit (`journal-archive serve`) checks every bundle on every target (R7), as cron:
# minute hour day-of-month month day-of-week. Default: Sundays at 03:00. A target may set its own
# `audit_schedule`, e.g. "0 4 1 * *" (the 1st of each month) for the copy kept in the other room.
schedule = "0 3 * * 0"
# The full structural check (PDF/A and XML against the schema, besides every checksum), less often:
# the weekly audit hashes every file against the catalog's anchors, which pins the exact bytes.
deep_schedule = "0 5 1 * *"

[prefect]
# A Prefect server shared by several machines (docs/deployment.md): with it the classes of a run are
# flow runs of the `archive_classes` deployment on this process work pool, a few classes each, done
# by whichever worker (`journal-archive workers`) takes them. Without it each run works on this
# machine alone.
# api_url = "http://127.0.0.1:4200/api"
work_pool = "journal-archive"
# A flow run whose machine sends no heartbeat (every 30 s) for this long is marked crashed and its
# unfinished classes are given to another worker.
lost_after_seconds = 90

# Storage targets, at least two on different media (R8). Relative paths are inside this folder.
[[targets]]
name = "primary"
type = "filesystem"
path = "archive/primary"

[[targets]]
name = "secondary"
type = "filesystem"
path = "archive/secondary"
"""

DEFAULT_AUDIT_SCHEDULE = "0 3 * * 0"
DEFAULT_DEEP_AUDIT_SCHEDULE = "0 5 1 * *"
DEFAULT_RENEW_WITHIN_DAYS = 180
DEFAULT_TIMEZONE = "Europe/Moscow"
DEFAULT_WORK_POOL = "journal-archive"
DEFAULT_LOST_AFTER_SECONDS = 90  # > Prefect's 30 s between a flow run's heartbeats
AUDIT_SCHEDULE_KEY = "audit_schedule"
"""The optional key of a [[targets]] entry giving that target its own audit schedule."""
RETIRED_KEY = "retired"
"""`retired = true` in a [[targets]] entry (written by `targets retire`): no run, audit or verify uses it."""


_BUILT_TARGETS: dict[tuple[Path, str, str], tuple[Target, ...]] = {}
"""Settings.targets() of this process: (home, target entries) → the targets built from them."""


class ConfigError(Exception):
    """A configuration problem, worded for the administrator."""


@dataclass(frozen=True, slots=True)
class School:
    """One school of an installation that archives several (`[[schools]]` in the configuration).

    Its bundles live under its `folder` on the targets (school/year/class/bundle-id), so schools may
    share targets; the catalog keeps each school's bundles apart by this folder."""

    name: str
    folder: str  # the first part of its bundles' keys: [a-z0-9-]
    source_url: str  # its electronic journal
    target_entries: tuple[dict[str, object], ...]  # its own [[schools.targets]], else the shared [[targets]]
    timezone: str = DEFAULT_TIMEZONE
    director: str = ""
    director_post: str = "Директор"
    # The school's own seal (a seal names the school that applies it): `seal_key` and
    # `seal_certificate` of its entry, by default keys/<folder>/ in the home; None: [seal]'s.
    seal_key: Path | None = None
    seal_certificate: Path | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    source_url: str
    block_on_errors: bool = False
    duplex: bool = False
    target_entries: tuple[dict[str, object], ...] = ()
    seal_key: Path = Path(KEYS_DIR, KEY_FILE)
    seal_certificate: Path = Path(KEYS_DIR, CERT_FILE)
    tsa_url: str | None = None
    tsa_certificate: Path = Path(KEYS_DIR, TSA_CERT_FILE)
    renew_within_days: int = DEFAULT_RENEW_WITHIN_DAYS
    audit_schedule: str = DEFAULT_AUDIT_SCHEDULE  # cron
    target_audit_schedules: tuple[tuple[str, str], ...] = ()  # (target name, cron) where set per target
    deep_audit_schedule: str = DEFAULT_DEEP_AUDIT_SCHEDULE  # cron of the full structural audit
    director: str = ""  # [school] director: who approves destruction acts
    director_post: str = "Директор"
    timezone: str = DEFAULT_TIMEZONE  # [school] timezone: the schedules' cron runs in it
    alert_urls: tuple[str, ...] = ()  # [alerts] urls: Apprise URLs told when an audit finds damage
    prefect_api_url: str | None = None  # [prefect] api_url: class runs go to the work pool when set
    work_pool: str = DEFAULT_WORK_POOL  # [prefect] work_pool: the process work pool of class runs
    lost_after_seconds: int = DEFAULT_LOST_AFTER_SECONDS  # [prefect]: no heartbeat this long → crashed
    catalog_url: str | None = None  # [catalog] url: a PostgreSQL catalog shared by machines; None: the file
    schools: tuple[School, ...] = ()  # [[schools]]; empty: one school, from [source], [[targets]], [school]
    school: School | None = None  # the school this settings object archives (select_school)

    @property
    def uses_work_pool(self) -> bool:
        """Whether class runs are flow runs on the Prefect work pool (a shared server is configured)."""
        return self.prefect_api_url is not None

    @property
    def catalog_location(self) -> str | Path:
        """The catalog database: the `[catalog] url` of a PostgreSQL server, else the file in the home."""
        return self.catalog_url or self.catalog_path

    @property
    def school_folder(self) -> str | None:
        """The selected school's folder in keys; None in a one-school configuration (keys take the
        journal's school name, and the catalog holds that one school)."""
        return self.school.folder if self.school else None

    def has_catalog(self) -> bool:
        """Whether a catalog exists to read (a server catalog always does)."""
        return bool(self.catalog_url) or self.catalog_path.is_file()

    def open_catalog(self) -> Database:
        """The catalog, seeing only the selected school's bundles (every bundle when none is selected)."""
        return open_catalog(self.catalog_location, self.school_folder)

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_NAME

    @property
    def catalog_path(self) -> Path:
        return self.home / CATALOG_FILE

    @property
    def fingerprints_path(self) -> Path:
        """Source fingerprints remembered per snapshot (pipeline.fingerprints): only a cache."""
        return self.home / FINGERPRINTS_FILE

    @property
    def work_dir(self) -> Path:
        """Where bundles are built before they are stored; nothing in it is ever the only copy."""
        return self.home / "work"

    @property
    def acts_dir(self) -> Path:
        """Destruction acts as drafted and approved (`retention act`, `retention approve`)."""
        return self.home / "acts"

    @property
    def inventories_dir(self) -> Path:
        """Yearly inventories (`catalog inventory`) unless --to names another folder."""
        return self.home / "inventories"

    @property
    def locks_dir(self) -> Path:
        """Lock files that keep two runs from archiving one class at once."""
        return self.home / "locks"

    def targets(self) -> list[Target]:
        """The configured targets, built once per process for this home and configuration.

        A run calls this for every bundle, in the CLI's process and in each worker process
        of the fan-out; all get the same target objects, so an S3 target that found its store
        down remembers it for the rest of the run (storage.s3.DOWN_FOR) instead of costing
        the timeouts again for every bundle. A changed configuration builds new targets.
        """
        entries = [
            {k: v for k, v in entry.items() if k not in (AUDIT_SCHEDULE_KEY, RETIRED_KEY)}
            for entry in self.target_entries
            if entry.get(RETIRED_KEY) is not True
        ]  # schedule and retirement are ours, not the target's (an S3 target refuses keys it does not know)
        if self.target_entries and not entries:  # never fall back to the embedded default's folders
            raise ConfigError(f"{self.config_path}: все хранилища выведены из работы ({RETIRED_KEY} = true)")
        ids = self.home / TARGET_IDS_FILE  # `targets init` records a root's id: new ids, new targets
        key = (self.home, repr(entries), ids.read_text(encoding="utf-8") if ids.is_file() else "")
        if key not in _BUILT_TARGETS:
            try:
                built = tuple(targets_from_config(entries, self.home))
            except StorageError as error:
                raise ConfigError(f"{self.config_path}: {error}") from error
            _BUILT_TARGETS.setdefault(key, built)  # two threads racing keep one set
        return list(_BUILT_TARGETS[key])

    def audit_schedules(self) -> list[tuple[str, list[str]]]:
        """(cron, target names) for each distinct audit schedule, in the order targets are configured (R8)."""
        own = dict(self.target_audit_schedules)
        groups: dict[str, list[str]] = {}
        for target in self.targets():
            groups.setdefault(own.get(target.name, self.audit_schedule), []).append(target.name)
        return list(groups.items())


def owner_only_process() -> None:
    """Give this process the umask 0o077 (storage.modes.PRIVATE_UMASK): what other libraries create
    for us (SQLite's journal files, Prefect's database, uvicorn's logs) is owner-only too (A2). Our own
    files get explicit modes whatever the umask; this covers the rest."""
    os.umask(PRIVATE_UMASK)


def default_home() -> Path:
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV])
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "journal-archive"


def academic_year(today: dt.date | None = None) -> str:
    """The academic year `today` falls in, e.g. "2026/2027" from 1 September 2026 to 31 August 2027.

    The default `--year` of the commands: the clock is a parameter so tests pin the date."""
    today = today or dt.date.today()
    start = today.year if today.month >= ACADEMIC_YEAR_START_MONTH else today.year - 1
    return f"{start}/{start + 1}"


def typed_year(text: str) -> str:
    """`--year` as typed («2024-2025», « 2024/2025 ») as every report writes it: «2024/2025»."""
    return year_name(text)


def resolve_sqlite_url(url: str, base: Path) -> str:
    """Make a relative `sqlite:///name` URL absolute against the home, so commands work from any folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str((base / url[len(prefix) :]).resolve())
    return url


def load_settings(home: Path | None = None, *, create: bool = True) -> Settings:
    """Read the home's configuration, writing the default one on first use.

    `create=False` (read-only commands) writes nothing: a home without a configuration
    file reads as the default configuration, and no folder is made."""
    home = (home or default_home()).expanduser().resolve()
    config_path = home / CONFIG_NAME
    try:
        if create:
            private_dir(home)  # owner-only (A2): the home holds the catalog, the key and journals
            if not config_path.exists():
                write_private(config_path, DEFAULT_CONFIG)
        text = config_path.read_text(encoding="utf-8") if create or config_path.exists() else DEFAULT_CONFIG
        config = tomllib.loads(text)
    except OSError as error:
        raise ConfigError(f"Не удалось открыть папку данных {home}: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"Ошибка в файле настроек {config_path}: {error}") from error
    listed_schools = config.get("schools", [])
    if not isinstance(listed_schools, list) or not all(isinstance(entry, dict) for entry in listed_schools):
        raise ConfigError(f"В файле настроек {config_path}: школы задаются разделами [[schools]]")
    url = config.get("source", {}).get("url")
    if listed_schools:
        if "source" in config:
            raise ConfigError(
                f"В файле настроек {config_path}: при разделах [[schools]] адрес журнала задаётся в каждой "
                "школе (source_url = …), а не в [source]"
            )
        url = ""
    elif not isinstance(url, str) or not url:
        raise ConfigError(f'В файле настроек {config_path} не указан адрес журнала: [source] url = "…"')
    archive = config.get("archive", {})
    flags = {name: archive.get(name, False) for name in ("block_on_errors", "duplex")}
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise ConfigError(f"В файле настроек {config_path}: [archive] {name} должно быть true или false")
    targets = check_targets(config.get("targets", []), f"{config_path}: [[targets]]")
    seal = config.get("seal", {})
    seal_paths = {}
    for name, field_name in (
        ("key", "seal_key"),
        ("certificate", "seal_certificate"),
        ("tsa_certificate", "tsa_certificate"),
    ):
        value = seal.get(name, Settings.__dataclass_fields__[field_name].default)
        if not isinstance(value, str | Path):
            raise ConfigError(f"В файле настроек {config_path}: [seal] {name} должно быть путём к файлу")
        seal_paths[field_name] = (home / Path(value).expanduser()).resolve()
    tsa_url = seal.get("tsa_url")
    if tsa_url is not None and not (isinstance(tsa_url, str) and tsa_url.startswith(("http://", "https://"))):
        raise ConfigError(
            f"В файле настроек {config_path}: [seal] tsa_url должен быть адресом http:// или https://"
        )
    renew_within = seal.get("renew_within_days", DEFAULT_RENEW_WITHIN_DAYS)
    if not isinstance(renew_within, int) or isinstance(renew_within, bool) or renew_within < 0:
        raise ConfigError(f"В файле настроек {config_path}: [seal] renew_within_days должно быть числом дней")
    audit = config.get("audit", {})
    if not isinstance(audit, dict):
        raise ConfigError(f"В файле настроек {config_path}: [audit] должно быть разделом")
    schedule = check_cron(audit.get("schedule", DEFAULT_AUDIT_SCHEDULE), f"{config_path}: [audit] schedule")
    deep_schedule = check_cron(
        audit.get("deep_schedule", DEFAULT_DEEP_AUDIT_SCHEDULE), f"{config_path}: [audit] deep_schedule"
    )
    own_schedules = target_schedules(targets, config_path)
    school = config.get("school", {})
    if not isinstance(school, dict):
        raise ConfigError(f"В файле настроек {config_path}: [school] должно быть разделом")
    people = {
        name: school.get(name, Settings.__dataclass_fields__[name].default)
        for name in ("director", "director_post")
    }
    for name, value in people.items():
        if not isinstance(value, str):
            raise ConfigError(f"В файле настроек {config_path}: [school] {name} должно быть строкой")
    timezone = check_timezone(school.get("timezone", DEFAULT_TIMEZONE), f"{config_path}: [school] timezone")
    alerts = config.get("alerts", {})
    urls = alerts.get("urls", []) if isinstance(alerts, dict) else None
    if not isinstance(urls, list) or not all(isinstance(url, str) and url for url in urls):
        raise ConfigError(
            f'В файле настроек {config_path}: [alerts] urls должно быть списком адресов, например ["mailto://…"]'
        )
    catalog = config.get("catalog", {})
    catalog_url = catalog.get("url") if isinstance(catalog, dict) else None
    if catalog_url is not None and not (isinstance(catalog_url, str) and is_postgresql_url(catalog_url)):
        raise ConfigError(
            f'В файле настроек {config_path}: [catalog] url — адрес сервера PostgreSQL "postgresql://…"; '
            "без него каталог — файл в папке данных"
        )
    schools = tuple(
        read_school(entry, targets, home, where=f"{config_path}: [[schools]] № {number}", defaults=people)
        for number, entry in enumerate(listed_schools, 1)
    )
    check_distinct_schools(schools, targets, config_path)
    prefect_api_url, work_pool, lost_after = prefect_section(config, config_path)
    return Settings(
        home=home,
        prefect_api_url=prefect_api_url,
        work_pool=work_pool,
        lost_after_seconds=lost_after,
        catalog_url=catalog_url,
        schools=schools,
        **people,
        timezone=timezone,
        alert_urls=tuple(urls),
        source_url=resolve_sqlite_url(url, home),
        target_entries=tuple(targets),
        **flags,
        **seal_paths,
        tsa_url=tsa_url or None,
        renew_within_days=renew_within,
        audit_schedule=schedule,
        deep_audit_schedule=deep_schedule,
        target_audit_schedules=own_schedules,
    )


def prefect_section(config: dict[str, object], config_path: Path) -> tuple[str | None, str, int]:
    """[prefect] api_url (None: no shared server), work_pool and lost_after_seconds, checked."""
    section = config.get("prefect", {})
    if not isinstance(section, dict):
        raise ConfigError(f"В файле настроек {config_path}: [prefect] должно быть разделом")
    url = section.get("api_url")
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        raise ConfigError(
            f"В файле настроек {config_path}: [prefect] api_url должен быть адресом "
            "http://…/api сервера Prefect"
        )
    pool = section.get("work_pool", DEFAULT_WORK_POOL)
    if not isinstance(pool, str) or not pool.strip():
        raise ConfigError(
            f"В файле настроек {config_path}: [prefect] work_pool должно быть именем рабочего пула"
        )
    lost_after = section.get("lost_after_seconds", DEFAULT_LOST_AFTER_SECONDS)
    if not isinstance(lost_after, int) or isinstance(lost_after, bool) or lost_after <= 30:
        raise ConfigError(
            f"В файле настроек {config_path}: [prefect] lost_after_seconds — число секунд больше 30 "
            "(запуск подаёт признак жизни раз в 30 с)"
        )
    return url or None, pool, lost_after


def check_targets(entries: object, where: str) -> list[dict[str, object]]:
    """A list of target entries ([[targets]] or [[schools.targets]]), or ConfigError naming `where`."""
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise ConfigError(f"{where}: хранилища задаются разделами [[targets]]")
    for entry in entries:
        if not isinstance(entry.get(RETIRED_KEY, False), bool):
            raise ConfigError(f"{where}: {entry.get('name')}.{RETIRED_KEY} — true или false")
    return entries


def target_schedules(entries: Sequence[dict[str, object]], config_path: Path) -> tuple[tuple[str, str], ...]:
    """(target name, cron) of the targets that set their own audit schedule."""
    return tuple(
        (name, check_cron(entry[AUDIT_SCHEDULE_KEY], f"{config_path}: {name}.{AUDIT_SCHEDULE_KEY}"))
        for entry in entries
        if AUDIT_SCHEDULE_KEY in entry
        for name in [str(entry.get("name"))]
    )


def read_school(
    entry: dict[str, object],
    shared_targets: Sequence[dict[str, object]],
    home: Path,
    *,
    where: str,
    defaults: dict[str, str],
) -> School:
    """One [[schools]] entry: name, folder (default: the name transliterated), source_url, its own
    [[schools.targets]] or the shared [[targets]], timezone and director (default: [school])."""
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f'{where}: не указано название школы: name = "…"')
    where = f"{where.rsplit(' № ', 1)[0]} «{name}»"
    folder = entry.get("folder", safe_name(name))
    if not isinstance(folder, str) or safe_name(folder) != folder:
        raise ConfigError(f'{where}: folder — имя папки из символов a–z, 0–9 и «-», например "school-17"')
    url = entry.get("source_url")
    if not isinstance(url, str) or not url:
        raise ConfigError(f'{where}: не указан адрес журнала школы: source_url = "…"')
    own = check_targets(entry.get("targets", []), f"{where}: [[schools.targets]]")
    if not own and not shared_targets:
        raise ConfigError(f"{where}: нет хранилищ — ни [[schools.targets]], ни общих [[targets]]")
    seal = {}
    for key, file_name in (("seal_key", KEY_FILE), ("seal_certificate", CERT_FILE)):
        value = entry.get(key, f"{KEYS_DIR}/{folder}/{file_name}")
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: {key} должно быть путём к файлу")
        seal[key] = (home / Path(value).expanduser()).resolve()
    people = {key: entry.get(key, value) for key, value in defaults.items()}
    for key, value in people.items():
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key} должно быть строкой")
    return School(
        name=name.strip(),
        folder=folder,
        source_url=resolve_sqlite_url(url, home),
        target_entries=tuple(own or shared_targets),
        timezone=check_timezone(entry.get("timezone", DEFAULT_TIMEZONE), f"{where}: timezone")
        if "timezone" in entry
        else "",
        **people,
        **seal,
    )


def check_distinct_schools(
    schools: Sequence[School], shared_targets: Sequence[dict[str, object]], config_path: Path
) -> None:
    """Two schools never share a name or a folder, and a target name means one place: a school's own
    target is named unlike the shared ones and every other school's own targets."""
    for attribute in ("name", "folder"):
        values = [getattr(school, attribute) for school in schools]
        twice = sorted({value for value in values if values.count(value) > 1})
        if twice:
            raise ConfigError(
                f"В файле настроек {config_path}: у двух школ [[schools]] один {attribute}: {twice[0]}"
            )
    shared = list(shared_targets)
    names = [str(entry.get("name")) for entry in shared]
    for school in schools:
        if list(school.target_entries) != shared:
            names += [str(entry.get("name")) for entry in school.target_entries]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(
            f"В файле настроек {config_path}: хранилище {twice[0]} названо в нескольких местах; "
            "имена хранилищ разных школ должны различаться"
        )


def select_school(settings: Settings, name: str | None) -> Settings:
    """The settings of one school: its journal, targets, timezone and director, its catalog scope.

    `name` (the --school option) is a school's name or folder; it may be left out when the
    configuration has one school. A one-school configuration without [[schools]] is that school."""
    if not settings.schools:
        if name:
            raise ConfigError(
                f"В файле настроек {settings.config_path} нет разделов [[schools]]: --school не нужен"
            )
        return settings
    if name is None:
        if len(settings.schools) > 1:
            raise ConfigError(f"Укажите школу: --school ({', '.join(s.name for s in settings.schools)})")
        return school_settings(settings, settings.schools[0])
    wanted = name.strip().casefold()
    for school in settings.schools:
        if wanted in (school.name.casefold(), school.folder):
            return school_settings(settings, school)
    raise ConfigError(
        f"Школы «{name}» нет в настройках (есть: {', '.join(s.name for s in settings.schools)})"
    )


def schools_to_run(settings: Settings, name: str | None) -> list[Settings]:
    """The schools a command over several schools runs for: the one named, or every school."""
    if name is None and len(settings.schools) > 1:
        return [school_settings(settings, school) for school in settings.schools]
    return [select_school(settings, name)]


def every_school(settings: Settings) -> list[Settings]:
    """Each school's settings (whatever school `settings` was selected for): what spans the whole
    installation, such as rebuilding the catalog from every target."""
    return [school_settings(settings, school) for school in settings.schools] or [settings]


def school_settings(settings: Settings, school: School) -> Settings:
    return dataclasses.replace(
        settings,
        school=school,
        source_url=school.source_url,
        target_entries=school.target_entries,
        target_audit_schedules=target_schedules(school.target_entries, settings.config_path),
        timezone=school.timezone or settings.timezone,
        director=school.director,
        director_post=school.director_post,
        seal_key=school.seal_key or settings.seal_key,
        seal_certificate=school.seal_certificate or settings.seal_certificate,
    )


def check_cron(value: object, where: str) -> str:
    """A cron expression (5 fields) as Prefect's schedules take it, or ConfigError naming `where`."""
    from cronsim import CronSim, CronSimError  # Prefect's own cron parser

    if not isinstance(value, str) or len(value.split()) != 5:
        raise ConfigError(f'{where}: нужно расписание cron из пяти полей, например "0 3 * * 0"')
    try:
        CronSim(value, dt.datetime(2025, 1, 1))
    except CronSimError as error:
        raise ConfigError(f"{where}: неверное расписание cron «{value}»: {error}") from error
    return value


def check_timezone(value: object, where: str) -> str:
    """An IANA timezone name (e.g. Europe/Moscow), or ConfigError naming `where`."""
    if isinstance(value, str) and value:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            pass
        else:
            return value
    raise ConfigError(f'{where}: неизвестный часовой пояс «{value}»; нужно имя вроде "Europe/Moscow"')


def select_targets(settings: Settings, names: Sequence[str] | None) -> list[Target]:
    """The configured targets, or those named (in configuration order); ConfigError for an unknown name."""
    targets = settings.targets()
    if not names:
        return targets
    known = {target.name for target in targets}
    unknown = [name for name in names if name not in known]
    retired = [
        name
        for name in unknown
        if any(e.get("name") == name and e.get(RETIRED_KEY) is True for e in settings.target_entries)
    ]
    if retired:
        raise ConfigError(
            f"Хранилище {', '.join(retired)} выведено из работы ({RETIRED_KEY} = true в настройках)"
        )
    if unknown:
        raise ConfigError(
            f"Хранилища {', '.join(unknown)} нет в настройках (есть: {', '.join(t.name for t in targets)})"
        )
    return [target for target in targets if target.name in names]
