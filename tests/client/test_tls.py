"""TLS between the pool and a server: config keys, client certificates, and failing
loudly (never falling back to plaintext)."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import echo_server
from thriftbuild import ThriftClient, configure_context, errors
from thriftbuild.client import thrift_pool_from_config

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402


def _key() -> Any:
    return ec.generate_private_key(ec.SECP256R1())


def _cert(subject_key: Any, name: str, issuer: tuple[Any, Any] | None, ca: bool) -> Any:
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_cert, issuer_key = issuer if issuer else (None, subject_key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: Any, key: Any | None = None) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, a server and a client certificate signed by it, and an unrelated CA."""
    root = tmp_path_factory.mktemp("pki")
    ca_key, other_key = _key(), _key()
    ca = _cert(ca_key, "test ca", None, ca=True)
    server_key, client_key = _key(), _key()
    return {
        "ca": _write(root / "ca.pem", ca),
        "other_ca": _write(root / "other.pem", _cert(other_key, "other ca", None, ca=True)),
        "server": _write(
            root / "server.pem", _cert(server_key, "server", (ca, ca_key), ca=False), server_key
        ),
        "client": _write(
            root / "client.pem", _cert(client_key, "client", (ca, ca_key), ca=False), client_key
        ),
    }


def _server_context(pki: dict[str, Path], require_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki["server"], pki["server"].with_suffix(".key"))
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki["ca"])
    return context


def _context(cfg: dict[str, str], echo: Any) -> Any:
    spec = {"svc": ThriftClient(echo.service.Client, metrics=False, max_retries=1)}
    return configure_context(cfg, spec)


def test_tls_ca_key_calls_server_over_tls(echo: Any, pki: dict[str, Path]) -> None:
    with echo_server(echo, tls=_server_context(pki)) as server:
        cfg = {"svc.endpoint": server.endpoint, "svc.tls.ca": str(pki["ca"])}
        context = _context(cfg, echo)
        for _ in range(3):
            assert context.svc.echo("secret") == "secret"
        assert server.handshakes == 1  # one TLS connection, reused
        assert context.svc.header("Deadline-Budget") != ""  # THeader over TLS
        context.svc.pool.close()


def test_tls_client_certificate_presented_when_configured(echo: Any, pki: dict[str, Path]) -> None:
    with echo_server(echo, tls=_server_context(pki, require_client_cert=True)) as server:
        cfg = {
            "svc.endpoint": server.endpoint,
            "svc.tls.ca": str(pki["ca"]),
            "svc.tls.cert": str(pki["client"]),
            "svc.tls.key": str(pki["client"].with_suffix(".key")),
        }
        context = _context(cfg, echo)
        assert context.svc.echo("mutual") == "mutual"
        context.svc.pool.close()


def test_tls_against_plaintext_server_fails_loudly(echo: Any, pki: dict[str, Path]) -> None:
    with echo_server(echo) as server:
        cfg = {
            "svc.endpoint": server.endpoint,
            "svc.tls.ca": str(pki["ca"]),
            "svc.timeout": "500 milliseconds",
        }
        context = _context(cfg, echo)
        with pytest.raises(errors.ConnectFailedError) as info:
            context.svc.echo("must not travel in clear")
        assert isinstance(info.value.__cause__, OSError)  # SSLError or a reset
        assert server.handler.calls == {}


def test_tls_untrusted_server_certificate_rejected(echo: Any, pki: dict[str, Path]) -> None:
    with echo_server(echo, tls=_server_context(pki)) as server:
        cfg = {"svc.endpoint": server.endpoint, "svc.tls.ca": str(pki["other_ca"])}
        context = _context(cfg, echo)
        with pytest.raises(errors.ConnectFailedError) as info:
            context.svc.ping()
        assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
        assert server.handler.calls == {}


def test_tls_verify_false_encrypts_without_checking(echo: Any, pki: dict[str, Path]) -> None:
    with echo_server(echo, tls=_server_context(pki)) as server:
        cfg = {"svc.endpoint": server.endpoint, "svc.tls.verify": "false"}
        context = _context(cfg, echo)
        assert context.svc.echo("unverified") == "unverified"
        assert server.handshakes == 1
        context.svc.pool.close()


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("tls.ca", "/nonexistent/ca.pem", "cannot load CA certificates"),
        ("tls.cert", "/nonexistent/client.pem", "cannot load the client certificate"),
        ("tls.key", "/some/key.pem", "needs tls.cert"),
        ("tls.verify", "maybe", "true or false"),
    ],
)
def test_tls_bad_setting_names_full_key(key: str, value: str, reason: str) -> None:
    with pytest.raises(errors.ClientConfigError, match=reason) as info:
        thrift_pool_from_config({"svc.endpoint": "127.0.0.1:1", f"svc.{key}": value}, "svc.")
    assert info.value.key == f"svc.{key}"
    assert info.value.value == value
