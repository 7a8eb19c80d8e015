"""One manifest grammar (RFC 8493 §2.1.3) for the writer, the storage checks and the RFC validator (R5, R7).

A manifest line is `checksum filepath` with one or more spaces or tabs between them; our
writer keeps writing two spaces, so its bytes never change. Every reader — storage's
check_fixity (also the bag writer's own check and the seal), the stored-bundle read-back,
retrieval's parse_manifest and the RFC 8493 validator — reads a hand-made manifest with
tabs and several spaces the same way.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import bagit
import pytest

from documents.bag import verify_bag_against_manifests
from storage.bagformat import (
    BagFormatError,
    decode_filepath,
    encode_filepath,
    format_manifest,
    parse_manifest,
    parse_manifest_line,
)
from storage.target import verify_stored_bundle
from tests.bundles import folder_target, sample_key, write_sample_bag
from validators.bagit_rfc8493 import DirectorySource, validate_bag
from validators.bundle_checks import RULE_PDFA, RULE_XSD, check_stored_bundle

DIGEST = "AB" * 32
SEPARATORS = ("\t", "   ", " ", " \t ", "\t\t")


@pytest.mark.parametrize("separator", SEPARATORS)
def test_one_or_more_spaces_or_tabs_separate_checksum_and_path(separator: str) -> None:
    entry = parse_manifest_line(f"{DIGEST}{separator}data/csv/marks 5А.csv")
    assert entry is not None
    assert (entry.checksum, entry.filepath) == (DIGEST.lower(), "data/csv/marks 5А.csv")


@pytest.mark.parametrize("line", ["", DIGEST, f"{DIGEST}data/x", "xyz  data/x", f"{DIGEST}\u00a0data/x"])
def test_a_line_without_checksum_whitespace_path_is_refused(line: str) -> None:
    assert parse_manifest_line(line) is None


def test_paths_are_percent_decoded_and_the_writer_encodes_them() -> None:
    assert decode_filepath("data/100%25 %0D%0a.txt") == ("data/100% \r\n.txt", False)
    assert decode_filepath("data/100%.txt") == ("data/100%.txt", True)  # % MUST be encoded
    assert encode_filepath("data/100% \r\n.txt") == "data/100%25 %0D%0A.txt"
    with pytest.raises(BagFormatError, match="«%»"):
        parse_manifest(f"{DIGEST}  data/100%.txt\n".encode(), "manifest-sha256.txt")


def test_the_writer_still_writes_two_spaces() -> None:
    """The bytes of every manifest we write stay as they were."""
    written = format_manifest({"data/b.csv": "cd", "data/a b.pdf": "ab"})
    assert written == b"ab  data/a b.pdf\ncd  data/b.csv\n"
    assert parse_manifest(written, "manifest-sha256.txt") == {"data/a b.pdf": "ab", "data/b.csv": "cd"}


def _respace(bag: Path) -> None:
    """Rewrite the payload manifests by hand: a different separator on every line, CRLF line ends;
    then the tagmanifests, which list the manifests."""
    for algorithm in ("sha256", "sha512"):
        manifest = bag / f"manifest-{algorithm}.txt"
        lines = manifest.read_text(encoding="utf-8").splitlines()
        respaced = [
            line.replace("  ", SEPARATORS[number % len(SEPARATORS)], 1) for number, line in enumerate(lines)
        ]
        _rewrite(manifest, "".join(line + "\r\n" for line in respaced).encode("utf-8"))
    for algorithm in ("sha256", "sha512"):
        tagmanifest = bag / f"tagmanifest-{algorithm}.txt"
        listed = parse_manifest(tagmanifest.read_bytes(), tagmanifest.name)
        digests = {path: hashlib.new(algorithm, (bag / path).read_bytes()).hexdigest() for path in listed}
        _rewrite(tagmanifest, format_manifest(digests))


def _rewrite(path: Path, data: bytes) -> None:
    path.chmod(0o644)
    path.write_bytes(data)
    path.chmod(0o444)


def test_a_manifest_with_tabs_and_several_spaces_reads_the_same_everywhere(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path / "work")
    original = {
        a: parse_manifest((bag / f"manifest-{a}.txt").read_bytes(), "m") for a in ("sha256", "sha512")
    }
    _respace(bag)
    text = (bag / "manifest-sha256.txt").read_bytes().decode("utf-8")
    assert "\t" in text and "   " in text and "\r\n" in text  # the hand-made manifest is really different

    for algorithm, entries in original.items():  # retrieval and the seal read manifests with this
        assert parse_manifest((bag / f"manifest-{algorithm}.txt").read_bytes(), "m") == entries
    assert verify_bag_against_manifests(bag) == []  # storage.bagformat.check_fixity: writer, seal
    rfc = validate_bag(DirectorySource(bag))
    assert rfc.valid and rfc.problems == ()
    assert rfc.files_checked == len(original["sha256"]) + len(
        parse_manifest((bag / "tagmanifest-sha256.txt").read_bytes(), "t")
    )
    bagit.Bag(str(bag)).validate()  # bagit-python, an independent reader, agrees

    target = folder_target("primary", tmp_path / "primary")
    key = sample_key(bag)
    target.put_bundle(key, bag)
    assert verify_stored_bundle(target, key) == []  # the read-back at archive time
    audited = check_stored_bundle(target, key)  # the audit: only the sample's fake PDF and XML fail
    assert {p.rule for p in audited.problems} == {RULE_PDFA, RULE_XSD}


def test_every_reader_names_the_same_damaged_file_in_a_respaced_manifest(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path / "work")
    _respace(bag)
    damaged = "data/csv/marks.csv"
    _rewrite(bag / damaged, (bag / damaged).read_bytes().replace(b",5\n", b",2\n"))  # same size

    storage_problems = verify_bag_against_manifests(bag)
    assert [p.split(":", 1)[0] for p in storage_problems] == [damaged]
    rfc = validate_bag(DirectorySource(bag))
    assert not rfc.valid and {p.path for p in rfc.problems} == {damaged}
