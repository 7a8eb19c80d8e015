"""A small real PKI for the seal tests: a CA, school and TSA certificates, CRLs, TSAs on 127.0.0.1.

Certificates are made with `cryptography`, the TSAs are documents._exec.tsa_server (openssl ts
-reply) and CRLs are served over HTTP from the TSA server's public folder, at the URL the
certificates name. Validity periods are relative to the real clock, because a TSA stamps the real
time; the checks are then run `at` later dates (time travel through the check date, not the TSA).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from documents._exec.tsa_server import TsaServer, create_tsa_pair

CRL_NAME = "ca.crl"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def write_key(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


@dataclass
class Authority:
    """A test CA that issues school and TSA certificates and publishes its CRL at `crl_url`."""

    folder: Path
    crl_url: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    certificate: x509.Certificate | None = None
    revoked: list[x509.RevokedCertificate] = field(default_factory=list)

    def __post_init__(self) -> None:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Тестовый удостоверяющий центр")])
        start = now() - dt.timedelta(days=2)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start.replace(year=start.year + 60))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.cert_path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        self.publish_crl()

    @property
    def cert_path(self) -> Path:
        return self.folder / "ca-cert.pem"

    def issue_school(
        self,
        folder: Path,
        organisation: str,
        days: int,
        *,
        algorithm: str = "rsa",
        start: dt.datetime | None = None,
    ) -> tuple[Path, Path]:
        """A school seal key (rsa, p256, p384) and certificate valid `days` days from `start` (now-1d)."""
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        if algorithm == "rsa":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            key = ec.generate_private_key(ec.SECP256R1() if algorithm == "p256" else ec.SECP384R1())
        start = start or now() - dt.timedelta(days=1)
        assert self.certificate is not None
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(self.crl_url)], None, None, None)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                        x509.NameAttribute(NameOID.COMMON_NAME, "Печать школы"),
                    ]
                )
            )
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
            )
            .add_extension(x509.CRLDistributionPoints([point]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        folder.mkdir(parents=True, exist_ok=True)
        key_path = write_key(key, folder / "seal-key.pem")
        cert_path = folder / "seal-cert.pem"
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return key_path, cert_path

    def issue_tsa(self, folder: Path, name: str, days: int) -> tuple[Path, Path]:
        start = now() - dt.timedelta(days=1)
        assert self.certificate is not None
        return create_tsa_pair(
            folder,
            name,
            start,
            start + dt.timedelta(days=days),
            issuer=(self.key, self.certificate),
            crl_url=self.crl_url,
        )

    def revoke(self, cert_path: Path, when: dt.datetime, reason: x509.ReasonFlags) -> None:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        self.revoked.append(
            x509.RevokedCertificateBuilder()
            .serial_number(certificate.serial_number)
            .revocation_date(when)
            .add_extension(x509.CRLReason(reason), critical=False)
            .build()
        )
        self.publish_crl()

    def publish_crl(self) -> None:
        assert self.certificate is not None
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now() - dt.timedelta(hours=1))
            .next_update(now() + dt.timedelta(days=7))
        )
        for entry in self.revoked:
            builder = builder.add_revoked_certificate(entry)
        crl = builder.sign(self.key, hashes.SHA256())
        (self.folder / CRL_NAME).write_bytes(crl.public_bytes(serialization.Encoding.DER))


def self_signed_tsa(folder: Path, days: int = 365 * 30) -> TsaServer:
    """A TSA with its own self-signed certificate (EKU timeStamping, critical), not yet started."""
    start = now() - dt.timedelta(days=1)
    key, cert = create_tsa_pair(
        folder, "Тестовая служба меток времени", start, start + dt.timedelta(days=days)
    )
    server = TsaServer(key, cert)
    server.cert_path = cert  # type: ignore[attr-defined]
    return server
