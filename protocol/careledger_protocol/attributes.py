"""The Fabric CA attributes a certificate carries (role, member_id, hf.*), in extension 1.2.3.4.5.6.7.8.1."""

from __future__ import annotations

import json

from cryptography import x509

FABRIC_CA_ATTRIBUTES_OID = x509.ObjectIdentifier("1.2.3.4.5.6.7.8.1")


def certificate_attributes(cert: x509.Certificate) -> dict[str, str]:
    """The attributes as strings; {} when there are none or they are not the JSON Fabric CA writes."""
    try:
        extension = cert.extensions.get_extension_for_oid(FABRIC_CA_ATTRIBUTES_OID).value
    except x509.ExtensionNotFound:
        return {}
    data = extension.value if isinstance(extension, x509.UnrecognizedExtension) else b""
    try:
        attributes = json.loads(data).get("attrs", {})
    except (ValueError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in attributes.items()} if isinstance(attributes, dict) else {}
