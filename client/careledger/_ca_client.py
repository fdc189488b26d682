"""A Fabric CA client over the CA's REST API (enroll, register, reenroll, revoke).

Keys are made here, on the client; only the CSR travels. Registrar calls are authorised with
Fabric CA's token: base64(cert) "." base64(ECDSA signature over
method "." b64(uri) "." b64(body) "." b64(cert)).
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from ._signing import SigningIdentity, csr_pem, new_private_key, sign
from .errors import CAError


@dataclass(frozen=True)
class Enrollment:
    private_key: ec.EllipticCurvePrivateKey
    certificate_pem: bytes
    ca_chain_pem: bytes


@dataclass(frozen=True)
class Attribute:
    name: str
    value: str
    ecert: bool = True  # put into the enrollment certificate by default, where chaincode can read it


@dataclass
class CAClient:
    """Talks to one Fabric CA. `tls_root_pem` is the CA's TLS certificate (or its issuer)."""

    url: str
    tls_root_pem: bytes
    ca_name: str = ""
    timeout: float = 10.0
    _ssl: ssl.SSLContext = field(init=False, repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme != "https" or not parts.hostname:
            raise CAError(f"CA url {self.url!r} must be https://host:port (the CA runs with TLS)")
        self._host = parts.hostname
        self._port = parts.port or 443
        self._ssl = ssl.create_default_context(cadata=self.tls_root_pem.decode())

    # -- requests ----------------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        basic: tuple[str, str] | None = None,
        registrar: SigningIdentity | None = None,
    ) -> Any:
        payload = json.dumps(body).encode() if body is not None else b""
        headers = {"Content-Type": "application/json"}
        if basic:
            token = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        elif registrar:
            headers["Authorization"] = self._token(registrar, method, path, payload)
        conn = http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout, context=self._ssl)
        try:
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise CAError(f"cannot reach the CA at {self.url}: {exc}") from exc
        finally:
            conn.close()
        try:
            doc = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            raise CAError(f"CA at {self.url} answered {resp.status} with non-JSON", resp.status) from None
        errors = doc.get("errors") or []
        if resp.status >= 400 or errors or not doc.get("success", False):
            text = "; ".join(f"{e.get('message')} (code {e.get('code')})" for e in errors) or raw.decode()[:200]
            raise CAError(f"CA {self.url}{path} refused: {text}", resp.status)
        return doc.get("result")

    @staticmethod
    def _token(identity: SigningIdentity, method: str, uri: str, body: bytes) -> str:
        b64cert = base64.b64encode(identity.certificate_pem).decode()
        message = ".".join((method, base64.b64encode(uri.encode()).decode(), base64.b64encode(body).decode(), b64cert))
        return f"{b64cert}.{base64.b64encode(sign(identity.private_key, message.encode())).decode()}"

    # -- operations ----------------------------------------------------------------------------------
    def enroll(
        self,
        enrollment_id: str,
        secret: str,
        *,
        hosts: tuple[str, ...] = (),
        profile: str = "",
        attributes: tuple[str, ...] = (),
    ) -> Enrollment:
        """Enroll with a key made here; `profile="tls"` asks for a TLS certificate."""
        key = new_private_key()
        result = self._enroll(enrollment_id, secret, csr_pem(key, enrollment_id, hosts), hosts, profile, attributes)
        return self._enrollment(key, result)

    def enroll_csr(self, enrollment_id: str, secret: str, certificate_request_pem: str) -> bytes:
        """Enroll a key held elsewhere (an HSM) by its certificate signing request; returns the certificate."""
        result = self._enroll(enrollment_id, secret, certificate_request_pem, (), "", ())
        return base64.b64decode(result["Cert"])

    def _enroll(
        self,
        enrollment_id: str,
        secret: str,
        request_pem: str,
        hosts: tuple[str, ...],
        profile: str,
        attributes: tuple[str, ...],
    ) -> Any:
        body: dict[str, Any] = {
            "certificate_request": request_pem,
            "hosts": list(hosts),
            "profile": profile,
            "CAName": self.ca_name,
        }
        if attributes:
            body["attr_reqs"] = [{"name": a, "optional": False} for a in attributes]
        return self._request("POST", "/api/v1/enroll", body, basic=(enrollment_id, secret))

    def reenroll(self, identity: SigningIdentity) -> Enrollment:
        """A fresh certificate (and key) for an identity whose certificate is still valid."""
        key = new_private_key()
        cn = identity.certificate.subject.rfc4514_string().split("CN=")[-1].split(",")[0]
        body = {"certificate_request": csr_pem(key, cn), "CAName": self.ca_name}
        result = self._request("POST", "/api/v1/reenroll", body, registrar=identity)
        return self._enrollment(key, result)

    def register(
        self,
        registrar: SigningIdentity,
        enrollment_id: str,
        *,
        secret: str = "",
        id_type: str = "client",
        affiliation: str = "",
        attributes: tuple[Attribute, ...] = (),
        max_enrollments: int = 0,
    ) -> str:
        """Register an identity; returns its enrollment secret (the CA makes one when none is given)."""
        body: dict[str, Any] = {
            "id": enrollment_id,
            "type": id_type,
            "affiliation": affiliation,
            "attrs": [{"name": a.name, "value": a.value, "ecert": a.ecert} for a in attributes],
            "caname": self.ca_name,
        }
        if secret:
            body["secret"] = secret
        if max_enrollments:
            body["max_enrollments"] = max_enrollments
        result = self._request("POST", "/api/v1/register", body, registrar=registrar)
        return str(result["secret"])

    def add_affiliation(self, registrar: SigningIdentity, name: str) -> None:
        """Create an affiliation (an organizational unit in the certificates of identities registered
        with it); one that exists already is left as it is."""
        try:
            self._request("POST", "/api/v1/affiliations", {"name": name, "caname": self.ca_name}, registrar=registrar)
        except CAError as exc:
            if "already exists" not in str(exc):
                raise

    def revoke(self, registrar: SigningIdentity, enrollment_id: str, reason: str = "unspecified") -> bytes:
        """Revoke every certificate of an identity; returns the CA's new CRL (PEM), listing all it revoked.

        The CA only stops issuing: peers learn of the revocation when that CRL reaches the channel's
        MSP definition of the org (`careledger-network revoke` does both)."""
        body = {"id": enrollment_id, "reason": reason, "caname": self.ca_name, "gencrl": True}
        result = self._request("POST", "/api/v1/revoke", body, registrar=registrar)
        return _pem_crl(base64.b64decode(result.get("CRL") or ""))

    def crl(self, registrar: SigningIdentity) -> bytes:
        """The CA's current CRL (PEM); the registrar needs the hf.GenCRL attribute."""
        result = self._request("POST", "/api/v1/gencrl", {"caname": self.ca_name}, registrar=registrar)
        return _pem_crl(base64.b64decode(result.get("CRL") or ""))

    def ca_chain(self) -> bytes:
        result = self._request("POST", "/api/v1/cainfo", {"caname": self.ca_name})
        return base64.b64decode(result["CAChain"])

    @staticmethod
    def _enrollment(key: ec.EllipticCurvePrivateKey, result: dict[str, Any]) -> Enrollment:
        return Enrollment(
            private_key=key,
            certificate_pem=base64.b64decode(result["Cert"]),
            ca_chain_pem=base64.b64decode(result["ServerInfo"]["CAChain"]),
        )


def _pem_crl(crl: bytes) -> bytes:
    if crl and not crl.startswith(b"-----BEGIN"):
        return b"-----BEGIN X509 CRL-----\n" + base64.encodebytes(crl) + b"-----END X509 CRL-----\n"
    return crl
