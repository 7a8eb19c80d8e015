"""Paths and names in one place: bundle ids, bundle keys, and guards for target roots.

A bundle lives at the key `school/year/class/bundle-id` on every target: a
directory on a filesystem target, an object-key prefix on S3. Every piece of a
key is ASCII `[a-z0-9-]`, so keys are the same on every filesystem and in every
URL, and no name taken from the journal («5А», «10Б», a school's name) can
reach outside a target's root.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections.abc import Iterable
from hashlib import sha256
from pathlib import Path


class LayoutError(ValueError):
    """A key, path or name that must not be used on a target; the message names it."""


# ICAO Doc 9303 transliteration (Russian passports since 2013): fixed, so keys never change.
TRANSLITERATION: dict[str, str] = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "ie", "ы": "y", "ь": "", "э": "e", "ю": "iu",
    "я": "ia",
}  # fmt: skip

_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_NOT_NAME = re.compile(r"[^a-z0-9]+")
KEY_DEPTH = 4
"""school / year / class / bundle-id"""

DEFAULT_TARGETS = (("primary", "archive/primary"), ("secondary", "archive/secondary"))
"""The embedded default: two filesystem targets (name, folder relative to the home), R8."""
CATALOG_FILE = "catalog.sqlite"
"""The catalog's file name in the home; it can always be rebuilt from the targets."""
WORK_PID_MARK = ".pid"
"""In the name of every folder a run builds in the home's work/: `<what>.pid<PID>-<random>`."""
TARGET_IDS_FILE = "target-ids.json"
"""In the home: the id each folder target's root was given at `targets init` (name → id), R8."""
"""The catalog's file name in the home; it can always be rebuilt from the targets."""


def work_prefix(what: str) -> str:
    """The prefix of a build folder in work/ that names this process, so a later run can tell a
    folder left by a killed run (its process gone: removed) from one still in use (kept)."""
    return f"{what}{WORK_PID_MARK}{os.getpid()}-"


def safe_name(text: str) -> str:
    """An ASCII file-safe name: «5А» → "5a", «10Б» → "10b", "2024/2025" → "2024-2025".

    Cyrillic is transliterated with the fixed table above, other letters lose their
    accents («№» becomes "no"), anything else becomes "-". The result matches `[a-z0-9]+(-[a-z0-9]+)*`:
    never empty, never "." or "..", never containing "/". A name with nothing
    transliterable («№») becomes "x-" and a short hash of the text, so it stays distinct.
    """
    folded = "".join(TRANSLITERATION.get(char, char) for char in text.casefold())
    ascii_only = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode("ascii").lower()
    name = _NOT_NAME.sub("-", ascii_only).strip("-")
    return name or "x-" + sha256(text.encode("utf-8")).hexdigest()[:8]


def safe_names(names: Iterable[str]) -> dict[str, str]:
    """safe_name for each of `names`, refusing two names that would share a folder («5А» and «5A»)."""
    result: dict[str, str] = {}
    owner: dict[str, str] = {}
    for name in names:
        safe = safe_name(name)
        if safe in owner and owner[safe] != name:
            raise LayoutError(f"Имена «{owner[safe]}» и «{name}» дают одну и ту же папку «{safe}»")
        owner[safe] = name
        result[name] = safe
    return result


def bundle_id(year_name: str, class_name: str, span_code: str, version: int) -> str:
    """The id of one version of one bundle: ("2024/2025", "5А", "Q1", 1) → "2024-2025-5a-q1-v1"."""
    if version < 1:
        raise LayoutError(f"Номер версии пакета должен быть не меньше 1, а не {version}")
    return f"{safe_name(year_name)}-{safe_name(class_name)}-{safe_name(span_code)}-v{version}"


def bundle_key(school_slug: str, year_name: str, class_name: str, bundle: str) -> str:
    """Where a bundle lives on a target: "school-1/2024-2025/5a/2024-2025-5a-q1-v1"."""
    key = "/".join((safe_name(school_slug), safe_name(year_name), safe_name(class_name), bundle))
    return check_key(key)


def key_parts(key: str) -> tuple[str, str, str, str]:
    """(school, year, class, bundle id) of a checked key."""
    school, year, class_name, bundle = check_key(key).split("/")
    return school, year, class_name, bundle


_KEY = re.compile("/".join([_NAME.pattern] * KEY_DEPTH))


def check_key(key: str) -> str:
    """Return `key` if it is a well-formed bundle key, else raise LayoutError naming it."""
    if not _KEY.fullmatch(key):
        raise LayoutError(
            f"Недопустимый ключ пакета «{key}»: нужно школа/год/класс/пакет из символов a–z, 0–9 и «-»"
        )
    return key


_UNSAFE_CHAR = re.compile(r"[\\%\x00-\x1f\x7f-\x9f]")
"""Backslash, "%" and the control characters (Unicode category Cc is exactly U+0000–U+001F, U+007F–U+009F)."""


PLAIN_PATH = r"[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*"
"""A relative path whose every segment is ASCII letters, digits, "_", "-", "." and starts with no
".": safe by every rule here and in RFC 8493 §5.1 (checkers accept it at once; `data/marks.csv`)."""
_PLAIN_RELPATH = re.compile(PLAIN_PATH)


def check_relpath(relpath: str) -> str:
    """Return `relpath` if it is a safe relative POSIX path inside a bundle, else raise LayoutError.

    Refused: absolute paths, "." and ".." segments, empty segments, backslashes,
    control characters, and "%" (RFC 8493 would need it percent-encoded in manifests,
    and `sha256sum -c` would not decode it).
    """
    if _PLAIN_RELPATH.fullmatch(relpath):  # the usual case, plainly safe: no need to look further
        return relpath
    bad = (
        not relpath
        or relpath.startswith("/")
        or any(part in ("", ".", "..") for part in relpath.split("/"))
        or _UNSAFE_CHAR.search(relpath) is not None
    )
    if bad:
        raise LayoutError(f"Недопустимый путь файла в пакете: «{relpath}»")
    return relpath


def path_inside(
    root: Path, *relpaths: str, real_root: str | None = None, plain_folders: set[str] | None = None
) -> Path:
    """The path of `relpaths` joined under `root`, refusing anything that would land outside it.

    Each piece is checked with check_relpath; then, if anything below the root is a
    symlink, the path with symlinks resolved must still be under the resolved root, so a
    symlink inside the root pointing elsewhere is refused too. A target calls this for
    every file a verify reads, so it passes its root resolved once (`real_root`) and a set
    of the folders it has already seen to be real folders (`plain_folders`, filled here).
    """
    return Path(resolve_inside(root, *relpaths, real_root=real_root, plain_folders=plain_folders))


def resolve_inside(
    root: Path, *relpaths: str, real_root: str | None = None, plain_folders: set[str] | None = None
) -> str:
    """path_inside as a string (no Path made: a verify asks for one per file)."""
    pieces = [check_relpath(part) for part in relpaths]
    real_root = real_root or os.path.realpath(root)
    path = "/".join([real_root.rstrip("/"), *pieces])  # the pieces are relative: no "/" to collapse
    if _symlink_below(real_root, path, set() if plain_folders is None else plain_folders):
        real_path = os.path.realpath(path)
        if real_path != real_root and not real_path.startswith(real_root.rstrip(os.sep) + os.sep):
            raise LayoutError(f"Путь «{'/'.join(relpaths)}» ведёт за пределы хранилища {root}")
    return path


def _symlink_below(real_root: str, path: str, plain_folders: set[str]) -> bool:
    """Whether any existing step of `path` below `real_root` is a symlink: lstat each step but the
    folders known to be real ones (added to `plain_folders` as they are found; a folder is added
    only once every step above it was found real, so a known parent vouches for them all)."""
    parent = path.rpartition("/")[0]
    if parent in plain_folders:
        steps = [path]
    else:
        current, steps = real_root.rstrip("/"), []
        for part in path[len(current) + 1 :].split("/"):
            current = f"{current}/{part}"
            steps.append(current)
    for number, step in enumerate(steps, start=1):
        if number < len(steps) and step in plain_folders:
            continue
        try:
            mode = os.lstat(step).st_mode
        except OSError:
            return False  # nothing below a missing step (or a file): no symlink to follow
        if stat.S_ISLNK(mode):
            return True
        if stat.S_ISDIR(mode):
            plain_folders.add(step)
    return False
