"""The fonts of printed documents, and measuring text in them before WeasyPrint does.

The journal sheets are laid out in Python, not by WeasyPrint: every line of text is
cut, wrapped or ellipsized here, so that each sheet is known to fit exactly one page
before anything is rendered (that is what makes «Лист N из M» and the title sheet's
sheet count known up front, and it is why rendering is fast). To do that we read the
advance widths of the very font files that WeasyPrint embeds (DejaVu, from Debian's
fonts-dejavu) with fontTools. Kerning is ignored and a small safety margin is kept,
so a measured line is never wider than the printed one.

This module is the one place that knows where font files live; the PDF url_fetcher
serves exactly these files and nothing else from outside templates/.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont

from journal.text import shown

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
SYSTEM_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_DIRS = (TEMPLATES_DIR / "fonts", SYSTEM_FONT_DIR)
"""Where font files are looked up: fonts shipped in templates/fonts win over the system's."""

SANS = "DejaVuSansCondensed.ttf"
SANS_BOLD = "DejaVuSansCondensed-Bold.ttf"
MONO = "DejaVuSansMono.ttf"
FONT_FILES = (SANS, SANS_BOLD, MONO)
"""The only font files documents use (journal.css names them in @font-face)."""

MONO_ADVANCE_EM = 1233 / 2048
"""Advance width of every DejaVu Sans Mono glyph, in em: a cell's slot is this wide plus letter-spacing."""

PT_PER_MM = 72 / 25.4
_SAFETY = 1.02  # measured widths are stretched by 2 % so that Pango's rounding never overflows a column
_ELLIPSIS = "…"


def font_path(name: str) -> Path:
    """The file of one of FONT_FILES; a clear error when fonts-dejavu is missing."""
    if name not in FONT_FILES:
        raise ValueError(f"unknown font file {name!r}")
    for folder in FONT_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"font {name} not found in {', '.join(map(str, FONT_DIRS))} (install fonts-dejavu)"
    )


@dataclass(frozen=True, slots=True)
class _Metrics:
    advances: dict[str, float]  # character → advance in em
    missing: float  # advance assumed for a character the font lacks (a fallback font draws it)


@cache
def _metrics(name: str) -> _Metrics:
    font = TTFont(font_path(name), lazy=True)
    units = font["head"].unitsPerEm
    hmtx = font["hmtx"]
    advances = {chr(code): hmtx[glyph][0] / units for code, glyph in font.getBestCmap().items()}
    font.close()
    return _Metrics(advances, 1.0)


def has_glyphs(text: str, font: str = MONO) -> bool:
    """Whether the font draws every character itself (mono cells must not fall back to a wider font)."""
    advances = _metrics(font).advances
    return all(ch in advances for ch in text)


def text_width_mm(text: str, font: str, size_pt: float) -> float:
    """Width of one line of `text` set in `font` at `size_pt`, in millimetres (with the safety margin)."""
    m = _metrics(font)
    em = sum(m.advances.get(ch, m.missing) for ch in text)
    return em * size_pt / PT_PER_MM * _SAFETY


_SPACES = re.compile(r"\s+")


def clean_text(text: str, limit: int = 4000) -> str:
    """Printable one-paragraph text: no control or format characters (bidi overrides,
    zero-width joiners), whitespace collapsed, at most one combining mark per letter, and
    at most `limit` characters — whatever a source holds, a cell gets sane text. Control
    characters and lone surrogates are shown as U+FFFD, never dropped (journal/text.py)."""
    text = unicodedata.normalize("NFC", shown(text[: limit * 2]))
    kept: list[str] = []
    previous_combining = False
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn"):
            kept.append(" " if ch in "\t\n\r\x0b\x0c" else "")
            continue
        combining = category.startswith("M")
        if combining and previous_combining:
            continue
        previous_combining = combining
        kept.append(ch)
    return _SPACES.sub(" ", "".join(kept)).strip()[:limit]


def ellipsize(text: str, width_mm: float, font: str, size_pt: float) -> str:
    """`text` cut to fit `width_mm`, ending in «…» when it was cut."""
    if text_width_mm(text, font, size_pt) <= width_mm:
        return text
    m = _metrics(font)
    scale = size_pt / PT_PER_MM * _SAFETY
    budget = width_mm / scale - m.advances.get(_ELLIPSIS, m.missing)
    used = 0.0
    for i, ch in enumerate(text):
        used += m.advances.get(ch, m.missing)
        if used > budget:
            return text[:i].rstrip() + _ELLIPSIS
    return text  # pragma: no cover - only reached when rounding disagrees


def first_fitting(candidates: tuple[str, ...], width_mm: float, font: str, size_pt: float) -> str:
    """The first candidate that fits (e.g. full name, then «Фамилия И. О.»), else the last one ellipsized."""
    for text in candidates:
        if text_width_mm(text, font, size_pt) <= width_mm:
            return text
    return ellipsize(candidates[-1], width_mm, font, size_pt)


def wrap(text: str, width_mm: float, font: str, size_pt: float, max_lines: int) -> tuple[str, ...]:
    """Greedy word wrap into at most `max_lines` lines; over-long words are broken,
    and text that does not fit ends its last line with «…». Empty text gives one empty line."""
    words = text.split(" ")
    lines: list[str] = []
    line = ""
    for word in words:
        candidate = f"{line} {word}" if line else word
        if text_width_mm(candidate, font, size_pt) <= width_mm:
            line = candidate
            continue
        if line:
            lines.append(line)
            if len(lines) == max_lines:
                break
        line = word
        while text_width_mm(line, font, size_pt) > width_mm:  # a word wider than the column
            head = _longest_prefix(line, width_mm, font, size_pt)
            lines.append(head)
            if len(lines) == max_lines:
                break
            line = line[len(head) :]
        if len(lines) == max_lines:
            break
    else:
        lines.append(line)
        return tuple(lines)
    # Out of lines: mark the cut on the last line (ellipsize always leaves the «…»).
    lines[-1] = ellipsize(lines[-1] + _ELLIPSIS, width_mm, font, size_pt)
    return tuple(lines)


def _longest_prefix(text: str, width_mm: float, font: str, size_pt: float) -> str:
    m = _metrics(font)
    budget = width_mm / (size_pt / PT_PER_MM * _SAFETY)
    used = 0.0
    for i, ch in enumerate(text):
        used += m.advances.get(ch, m.missing)
        if used > budget:
            return text[: max(i, 1)]
    return text
