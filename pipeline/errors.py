"""The errors whose message is written for school staff: the CLI prints them as one line, exit code 2."""

from __future__ import annotations

from documents.act import ActError
from documents.xml_format import JournalXmlError
from journal.source import SourceError
from pipeline.settings import ConfigError
from pipeline.users import UserError
from storage.catalog import CatalogError
from storage.target import StorageError


class PreviousVersionUnreadable(Exception):
    """The version a new one would supersede cannot be read back: writing it would state a guess (R9)."""


class EvidenceError(Exception):
    """Evidence could not be renewed; the message names the bundle folder and why."""


class ClassNameClash(Exception):
    """Two classes of a year whose names give one bundle id and one folder on the targets («5А/..», «5А»)."""


class RetrievalError(Exception):
    """Nothing was handed out; the message says what is missing or which file failed where."""


class NoReplicaPassed(RetrievalError):
    """Every copy of the bundle failed its check: the archive is at fault, not the request (exit 1)."""


class RetentionActError(Exception):
    """A destruction act that cannot be drafted, approved or applied; nothing was deleted."""


USER_ERRORS: tuple[type[Exception], ...] = (
    SourceError,
    ConfigError,
    JournalXmlError,
    CatalogError,
    StorageError,
    RetrievalError,
    PreviousVersionUnreadable,
    EvidenceError,
    UserError,
    ClassNameClash,
    ActError,
    RetentionActError,
)

FAILURES: tuple[type[Exception], ...] = (NoReplicaPassed,)
"""User errors that report a failed check rather than bad input: the CLI exits 1 for them, not 2."""
