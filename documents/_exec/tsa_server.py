"""A small RFC 3161 time-stamping authority on 127.0.0.1, for the tests and the demo (R7).

It is a real TSA, not a mock: it answers `application/timestamp-query` POSTs (RFC 3161 §3.4,
HTTP) with what `openssl ts -reply` signs with its own key and certificate (extendedKeyUsage
timeStamping, critical, as RFC 3161 §2.3 requires), at the machine's clock. GET serves the files
of a `public` folder, so a test can publish a CRL at the URL its certificates name.

    python -m documents._exec.tsa_server --dir ~/.local/share/journal-archive/keys/tsa --port 3180

creates a self-signed demo TSA pair in that folder on first use (like `journal-archive demo`
creates the school's demo key) and serves until interrupted; put its URL in `[seal] tsa_url`
and its certificate in `[seal] tsa_certificate`. A school in production uses an accredited
TSA instead.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.server
import subprocess
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from documents._exec import openssl

TSA_KEY = "tsa-key.pem"
TSA_CERT = "tsa-cert.pem"
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_QUERY = 64 << 10
POLICY = "1.3.6.1.4.1.99999.1.1"
"""The TSA policy OID the demo TSA states in its tokens (a private-arc example, not a registered policy)."""

CONFIG = """\
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
serial = {serial}
crypto_device = builtin
signer_cert = {cert}
signer_key = {key}
{chain}
signer_digest = sha256
default_policy = {policy}
digests = sha256, sha384, sha512
accuracy = secs:1
clock_precision_digits = 0
ordering = yes
tsa_name = yes
ess_cert_id_chain = yes
ess_cert_id_alg = sha256
"""


def create_tsa_pair(
    directory: Path,
    name: str,
    not_before: dt.datetime,
    not_after: dt.datetime,
    *,
    issuer: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None = None,
    crl_url: str | None = None,
) -> tuple[Path, Path]:
    """An ECDSA P-256 key and a TSA certificate (EKU timeStamping, critical) in `directory`.

    Self-signed unless `issuer` (key, certificate) is given; `crl_url` adds a CRL distribution point.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_key, issuer_name = (key, subject) if issuer is None else (issuer[0], issuer[1].subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if crl_url:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    certificate = builder.sign(issuer_key, hashes.SHA256())
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = directory / TSA_KEY, directory / TSA_CERT
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class TsaServer:
    """`openssl ts -reply` behind http.server, on 127.0.0.1 and a free port; a context manager."""

    def __init__(
        self,
        key: Path,
        cert: Path,
        *,
        chain: Path | None = None,
        public_dir: Path | None = None,
        port: int = 0,
    ) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="tsa-"))
        (self.work / "serial").write_text("01\n")
        (self.work / "tsa.cnf").write_text(
            CONFIG.format(
                serial=self.work / "serial",
                cert=Path(cert).resolve(),
                key=Path(key).resolve(),
                chain=f"certs = {Path(chain).resolve()}" if chain else "",
                policy=POLICY,
            )
        )
        self.public_dir = public_dir
        self.lock = threading.Lock()  # openssl keeps the serial number in a file
        self.count = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                if self.headers.get_content_type() != QUERY_TYPE or not 0 < size <= MAX_QUERY:
                    self.send_error(400, "expected application/timestamp-query")
                    return
                reply = server.reply(self.rfile.read(size))
                if reply is None:
                    self.send_error(500, "openssl ts -reply failed")
                    return
                self.send_response(200)
                self.send_header("Content-Type", REPLY_TYPE)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                folder = server.public_dir
                path = (folder / name) if folder and name and "/" not in name and ".." not in name else None
                if path is None or not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/pkix-crl")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def reply(self, query: bytes) -> bytes | None:
        """The DER TimeStampResp `openssl ts -reply` gives for a DER TimeStampReq."""
        with self.lock:
            self.count += 1
            query_path = self.work / "query.tsq"
            reply_path = self.work / "reply.tsr"
            query_path.write_bytes(query)
            done = subprocess.run(
                [openssl.executable(), "ts", "-reply", "-config", str(self.work / "tsa.cnf"),
                 "-queryfile", str(query_path), "-out", str(reply_path)],
                capture_output=True,
                timeout=openssl.TIMEOUT_SECONDS,
                check=False,
            )  # fmt: skip
            return reply_path.read_bytes() if done.returncode == 0 else None

    def start(self) -> TsaServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()

    def __enter__(self) -> TsaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Demo RFC 3161 TSA on 127.0.0.1")
    parser.add_argument("--dir", type=Path, required=True, help="folder of the TSA key and certificate")
    parser.add_argument("--port", type=int, default=3180)
    args = parser.parse_args()
    key, cert = args.dir / TSA_KEY, args.dir / TSA_CERT
    if not key.exists():
        now = dt.datetime.now(dt.UTC)
        create_tsa_pair(
            args.dir,
            "Demo TSA (journal-archive)",
            now - dt.timedelta(days=1),
            now.replace(year=now.year + 30),
        )
    with TsaServer(key, cert, port=args.port) as server:
        print(f"TSA: {server.url}  certificate: {cert}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.thread.join()


if __name__ == "__main__":
    main()
