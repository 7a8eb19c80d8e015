"""The bundle kinds as commands name them (documents.kinds is the registry)."""

from __future__ import annotations

from documents.kinds import BundleKindSpec, kind_title, retrievable_kinds

RETRIEVABLE_KINDS: dict[str, BundleKindSpec] = retrievable_kinds()
"""`retrieve --kind` choices: the sealed kinds by their command-line word."""

__all__ = ["RETRIEVABLE_KINDS", "BundleKindSpec", "kind_title"]
