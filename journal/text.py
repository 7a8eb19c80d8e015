"""Invisible characters in journal text: one rule for the check, the PDF and the CSV.

A control character (NUL, ESC, U+0080–U+009F…) or a lone surrogate in a name or a
topic cannot be seen or printed. It is never dropped silently: `check` reports it
(rule `control_characters`), the PDF and the CSV show REPLACEMENT (U+FFFD «�», which
the DejaVu fonts draw) in its place, and journal.xml keeps the exact value — as
Base64 of its UTF-8 with `encoding="base64"`, because XML 1.0 cannot carry these
characters (NUL not at all). Tab, line feed and carriage return are ordinary
whitespace, not control characters in this sense.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
"""What a document shows in place of an invisible character."""

INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
"""C0 and C1 control characters except tab, line feed and carriage return; lone surrogates."""


def invisible_characters(text: str) -> list[str]:
    """The invisible characters of `text` in order of appearance, each once, as «U+0000»."""
    seen: dict[str, None] = {}
    for ch in INVISIBLE.findall(text):
        seen.setdefault(f"U+{ord(ch):04X}", None)
    return list(seen)


def shown(text: str) -> str:
    """`text` as a document shows it: each invisible character replaced by REPLACEMENT."""
    return INVISIBLE.sub(REPLACEMENT, text)
