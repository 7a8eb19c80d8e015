"""The `openssl` command line, as an auditor runs it (R5, R7).

The seal of a bundle is checked with exactly the command the README shows, so that what our
software accepts is what a stock `openssl` accepts years later, without our code. This module
only builds that command, runs it and reports the outcome; it knows nothing about bags.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PROGRAM = "openssl"
TIMEOUT_SECONDS = 60


class OpenSSLMissing(RuntimeError):
    """`openssl` is not installed (Debian: `apt-get install openssl`)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended: `ok` when openssl exited with 0; its diagnostics on stderr otherwise."""

    ok: bool
    returncode: int
    stderr: str

    @property
    def reason(self) -> str:
        """The most telling line of openssl's diagnostics, for a one-line report."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        for line in lines:
            if line.startswith("Verify error:"):  # «Verify error:certificate has expired»
                return line
        for line in lines:
            if "error:" in line:  # «4067…:error:1700009E:CMS routines:…:verification failure:…»
                fields = line.split(":")
                return ":".join(fields[4:6]) if len(fields) > 6 else line
        return lines[-1] if lines else f"код возврата {self.returncode}"


def executable() -> str:
    path = shutil.which(PROGRAM)
    if path is None:
        raise OpenSSLMissing("программа openssl не найдена: установите пакет openssl")
    return path


def version() -> str:
    """«OpenSSL 3.0.19 27 Jan 2026 …»."""
    done = subprocess.run(
        [executable(), "version"], capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
    )
    return done.stdout.strip()


def cms_verify_command(seal: str, content: str, ca_file: str, attime: int | None = None) -> list[str]:
    """The auditor's check of a detached seal, argument by argument (docs/seal.md shows the same):

    openssl cms -verify -binary -inform DER -in seal.p7s -content tagmanifest-sha256.txt
            -CAfile CERT -purpose any -out /dev/null

    `-binary` keeps the content's bytes as they are (no MIME canonicalisation of line ends);
    `-purpose any` because a seal certificate is not an e-mail (S/MIME) certificate.
    With `attime` (seconds since 1970, the time a timestamp proves) the certificate is checked as
    of then instead of now (`-attime`), as 63-ФЗ art. 11 asks: valid at the moment of signing.
    """
    when = ["-attime", str(attime)] if attime is not None else []
    return [
        PROGRAM,
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        seal,
        "-content",
        content,
        "-CAfile",
        ca_file,
        "-purpose",
        "any",
        *when,
        "-out",
        "/dev/null",
    ]


def run(args: Sequence[str], cwd: Path | None = None) -> Outcome:
    """Run `openssl ARGS…` (the leading «openssl» may be given or left out)."""
    args = list(args)
    if args and args[0] == PROGRAM:
        args = args[1:]
    done = subprocess.run(
        [executable(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    return Outcome(done.returncode == 0, done.returncode, done.stderr)


def cms_verify(seal: Path, content: Path, ca_file: Path, attime: int | None = None) -> Outcome:
    """Check a detached CMS signature `seal` (DER) over `content`, trusting the certificates in `ca_file`."""
    return run(cms_verify_command(str(seal), str(content), str(ca_file), attime))


# --- RFC 3161 timestamps (`openssl ts`) -----------------------------------------------------


def ts_verify_command(
    token: str,
    ca_file: str,
    *,
    data: str | None = None,
    digest: str | None = None,
    untrusted: str | None = None,
    attime: int | None = None,
) -> list[str]:
    """The auditor's check of a timestamp token (DER, RFC 3161) over the file `data` (or a hex
    `digest`), trusting the TSA certificates in `ca_file` (docs/seal.md shows the same):

    openssl ts -verify -data FILE -in TOKEN -token_in -CAfile TSA.pem [-untrusted CERTS] [-attime T]
    """
    what = ["-data", data] if data is not None else ["-digest", str(digest)]
    extra = ["-untrusted", untrusted] if untrusted else []
    when = ["-attime", str(attime)] if attime is not None else []
    return [PROGRAM, "ts", "-verify", *what, "-in", token, "-token_in", "-CAfile", ca_file, *extra, *when]


def ts_verify(
    token: Path,
    ca_file: Path,
    *,
    data: Path | None = None,
    digest: str | None = None,
    untrusted: Path | None = None,
    attime: int | None = None,
) -> Outcome:
    """Check a timestamp token; `ok` when openssl prints «Verification: OK»."""
    return run(
        ts_verify_command(
            str(token),
            str(ca_file),
            data=None if data is None else str(data),
            digest=digest,
            untrusted=None if untrusted is None else str(untrusted),
            attime=attime,
        )
    )


def output(args: Sequence[str]) -> tuple[Outcome, str]:
    """Run `openssl ARGS…` and return the outcome and its standard output (text)."""
    args = list(args)
    if args and args[0] == PROGRAM:
        args = args[1:]
    done = subprocess.run(
        [executable(), *args],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    return Outcome(done.returncode == 0, done.returncode, done.stderr), done.stdout


def ts_token_text(token: Path) -> str:
    """`openssl ts -reply -in TOKEN -token_in -text`: the token's fields as openssl prints them."""
    outcome, text = output(["ts", "-reply", "-in", str(token), "-token_in", "-text"])
    if not outcome.ok:
        raise ValueError(outcome.reason)
    return text


def ts_query(digest_hex: str, algorithm: str, out: Path) -> Outcome:
    """A timestamp request for a digest, asking the TSA to include its certificate (`-cert`)."""
    return run(["ts", "-query", "-digest", digest_hex, f"-{algorithm}", "-cert", "-out", str(out)])


def ts_reply_token(response: Path, out: Path) -> Outcome:
    """The token of a TSA's response (`-token_out`): fails when the TSA did not grant it."""
    return run(["ts", "-reply", "-in", str(response), "-token_out", "-out", str(out)])


def ts_check_reply(query: Path, response: Path, tsa_cert: Path) -> Outcome:
    """The response answers this query (imprint, nonce) and is signed by the certificate in it."""
    return run(
        [
            "ts", "-verify", "-queryfile", str(query), "-in", str(response),
            "-CAfile", str(tsa_cert), "-partial_chain",
        ]
    )  # fmt: skip
