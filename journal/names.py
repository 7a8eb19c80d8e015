"""Loose names: what staff type for a class, a year or a period, matched to what the journal says.

Staff type «5a» (Latin a), «5 А» or «5а» for the class the journal calls «5А», and
«2024-2025» for «2024/2025». Every command that takes a class, year or period goes
through these functions, so `archive`, `check`, `retrieve` and `catalog list` agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

_LATIN_LOOKALIKES = str.maketrans("ABCEHKMOPTXYaceopxyk", "АВСЕНКМОРТХУасеорхук")


def class_key(name: str) -> str:
    """«5 a» (Latin, lower case, spaced), «5-А» and «5А» name the same class."""
    folded = name.translate(_LATIN_LOOKALIKES).casefold().replace("ё", "е")
    return "".join(folded.split()).replace("-", "")


def period_key(code: str) -> str:
    """«q1» and «Q1» name the same reporting period."""
    return code.strip().casefold()


def year_name(text: str) -> str:
    """An academic year as the journal writes it: «2024-2025» and « 2024/2025 » → «2024/2025»."""
    return text.strip().replace("-", "/")


def match_one(
    items: Iterable[T], wanted: str, name_of: Callable[[T], str], loose: Callable[[str], str]
) -> T | None:
    """The item named exactly `wanted`, else the only one whose loosened name matches, else None."""
    items = list(items)
    exact = [x for x in items if name_of(x) == wanted]
    if len(exact) == 1:
        return exact[0]
    similar = [x for x in items if loose(name_of(x)) == loose(wanted)]
    return similar[0] if len(similar) == 1 else None


def same_class(a: str, b: str) -> bool:
    return class_key(a) == class_key(b)
