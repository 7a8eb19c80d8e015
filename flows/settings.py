"""Where journal-archive keeps its state, and its configuration file.

Everything the embedded default keeps — the configuration, the demo SQLite
journal, the storage targets, the catalog, the demo signing key — lives under
one home directory, so two homes never interfere (tests use a temporary one).
The home is `--home`, else `$JOURNAL_ARCHIVE_HOME`, else
`$XDG_DATA_HOME/journal-archive` (by default `~/.local/share/journal-archive`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "JOURNAL_ARCHIVE_HOME"
CONFIG_NAME = "journal-archive.toml"
DEFAULT_YEAR = "2024/2025"

DEFAULT_CONFIG = """\
# journal-archive configuration. Relative paths are relative to this file's folder.

[source]
# The electronic journal to archive: sqlite:///path or postgresql://user@host:port/db
url = "sqlite:///journal.sqlite"
"""


class ConfigError(Exception):
    """A configuration problem, worded for the administrator."""


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    source_url: str

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_NAME


def default_home() -> Path:
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV])
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "journal-archive"


def resolve_sqlite_url(url: str, base: Path) -> str:
    """Make a relative `sqlite:///name` URL absolute against the home, so commands work from any folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str((base / url[len(prefix) :]).resolve())
    return url


def load_settings(home: Path | None = None) -> Settings:
    """Read the home's configuration, writing the default one on first use."""
    home = (home or default_home()).expanduser().resolve()
    config_path = home / CONFIG_NAME
    try:
        home.mkdir(parents=True, exist_ok=True)
        if not config_path.exists():
            config_path.write_text(DEFAULT_CONFIG, encoding="utf-8")
        config = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"Не удалось открыть папку данных {home}: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"Ошибка в файле настроек {config_path}: {error}") from error
    url = config.get("source", {}).get("url")
    if not isinstance(url, str) or not url:
        raise ConfigError(f"В файле настроек {config_path} не указан адрес журнала: [source] url = \"…\"")
    return Settings(home=home, source_url=resolve_sqlite_url(url, home))
