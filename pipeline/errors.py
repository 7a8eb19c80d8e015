"""The errors whose message is written for school staff: the CLI prints them as one line, exit code 2."""

from __future__ import annotations

import logging
import traceback

from documents.act import ActError
from documents.xml_format import JournalXmlError
from journal.source import SourceError
from pipeline.settings import ConfigError
from pipeline.users import UserError
from storage.catalog import CatalogError
from storage.target import StorageError
from validators.journal_rules import JournalDataError


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


class RetirementRefused(Exception):
    """`targets retire` refused: some live bundle lacks two verified replicas elsewhere (exit 1)."""


USER_ERRORS: tuple[type[Exception], ...] = (
    SourceError,
    ConfigError,
    JournalXmlError,
    JournalDataError,
    CatalogError,
    StorageError,
    RetrievalError,
    PreviousVersionUnreadable,
    EvidenceError,
    UserError,
    ClassNameClash,
    ActError,
    RetentionActError,
    RetirementRefused,
)

FAILURES: tuple[type[Exception], ...] = (NoReplicaPassed, RetirementRefused)
"""User errors that report a failed check rather than bad input: the CLI exits 1 for them, not 2."""


INTERNAL_ERROR = (
    "внутренняя ошибка программы (не ошибка в данных журнала); технические подробности "
    "записаны в журнал работы программы — сообщите о ней разработчикам"
)
"""What staff read for a fault of the program itself: never a Python class name or traceback."""

_log = logging.getLogger("journal_archive")


def staff_message(
    error: Exception, worded: tuple[type[Exception], ...] = USER_ERRORS, *, context: str = ""
) -> str:
    """The message of a `worded` error as it is; any other error logged with its traceback (for the
    developers) and told to staff as INTERNAL_ERROR."""
    if isinstance(error, worded):
        return str(error)
    _log.error("%s%s", f"{context}: " if context else "", "".join(traceback.format_exception(error)).strip())
    return INTERNAL_ERROR
