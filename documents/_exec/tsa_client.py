"""Asking a time-stamping authority for an RFC 3161 token over a digest (RFC 3161 §3.4, HTTP).

The request is made and the reply checked by `openssl ts` (documents/_exec/openssl.py), so what
is accepted here is what an auditor's openssl accepts; this module only posts the bytes. The reply
must answer our request (same imprint and nonce) and be signed by the certificate it carries;
whether that TSA is *trusted* is decided when the seal is checked, against `[seal] tsa_certificate`.
"""

from __future__ import annotations

import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from documents._exec import openssl

TIMEOUT_SECONDS = 30
MAX_REPLY = 1 << 20


class TimestampError(RuntimeError):
    """The TSA could not be reached or did not grant a valid token; the message says which and why."""


def request_token(url: str, digest: bytes, algorithm: str = "sha256") -> bytes:
    """The DER TimeStampToken (a CMS SignedData) the TSA at `url` grants for `digest`."""
    with tempfile.TemporaryDirectory(prefix="tsq-") as tmp:
        query, reply, token = Path(tmp, "q.tsq"), Path(tmp, "r.tsr"), Path(tmp, "t.der")
        made = openssl.ts_query(digest.hex(), algorithm, query)
        if not made.ok:
            raise TimestampError(f"запрос метки времени не создан: {made.reason}")
        request = urllib.request.Request(
            url,
            data=query.read_bytes(),
            headers={"Content-Type": "application/timestamp-query"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
                reply.write_bytes(answer.read(MAX_REPLY))
        except (urllib.error.URLError, OSError) as error:
            raise TimestampError(f"служба меток времени {url} недоступна: {error}") from error
        granted = openssl.ts_reply_token(reply, token)
        if not granted.ok:
            raise TimestampError(f"служба меток времени {url} не выдала метку: {granted.reason}")
        certificates = pkcs7.load_der_pkcs7_certificates(token.read_bytes())
        if not certificates:
            raise TimestampError(f"служба меток времени {url} не приложила свой сертификат к метке")
        own = Path(tmp, "tsa.pem")
        own.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certificates))
        checked = openssl.ts_check_reply(query, reply, own)
        if not checked.ok:
            raise TimestampError(f"метка времени от {url} не соответствует запросу: {checked.reason}")
        return token.read_bytes()
