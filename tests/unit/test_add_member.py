"""A member takes a joining organization's public part into its bundle (bundle.add_member, `node add-org`):
the certificates and the definition naming the newcomer come in; anything that does not match is refused with
the reason, and the bundle is left as it was."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from careledger_network.bundle import DEFINITION, DEFINITION_MANIFEST, MANIFEST, Manifest, add_member, definition_of
from careledger_network.consortium import DEFAULT_PATH
from careledger_network.paths import SetupError
from careledger_network.release_archives import sha256_of

HOSPITAL3: dict[str, Any] = {
    "name": "Hospital3",
    "msp_id": "Hospital3MSP",
    "port_base": 7400,
    "peers": 1,
    "record_store": True,
    "admin": "h3-admin",
}
CA_FILE = "crypto/hospital3/ca/ca-cert.pem"


def _bundle(root: Path) -> Path:
    root.mkdir()
    (root / DEFINITION).write_text(DEFAULT_PATH.read_text())
    own = root / "crypto/hospital1/msp/msp/cacerts/ca.pem"
    own.parent.mkdir(parents=True)
    own.write_text("hospital1 CA")
    files = {"crypto/hospital1/msp/msp/cacerts/ca.pem": sha256_of(own)}
    manifest = Manifest("hospital1", "Hospital1MSP", "careledger", sha256_of(root / DEFINITION), files)
    (root / MANIFEST).write_bytes(manifest.to_json())
    return root


def _public(root: Path, doc: dict[str, Any] | None = None, channel: str = "careledger") -> Path:
    if doc is None:
        doc = yaml.safe_load(DEFAULT_PATH.read_text())
        doc["orgs"].append(HOSPITAL3)
    root.mkdir()
    (root / DEFINITION).write_text(yaml.safe_dump(doc, sort_keys=False))
    ca = root / CA_FILE
    ca.parent.mkdir(parents=True)
    ca.write_text("hospital3 CA")
    manifest = Manifest("hospital3", "Hospital3MSP", channel, sha256_of(root / DEFINITION), {CA_FILE: sha256_of(ca)})
    (root / DEFINITION_MANIFEST).write_bytes(manifest.to_json())
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_newcomers_certificates_and_definition_come_into_the_bundle(tmp_path: Path) -> None:
    bundle, public = _bundle(tmp_path / "h1"), _public(tmp_path / "h3-public")
    joining = add_member(bundle, public)
    assert joining.msp_id == "Hospital3MSP"
    assert (bundle / CA_FILE).read_text() == "hospital3 CA"
    assert (bundle / DEFINITION).read_bytes() == (public / DEFINITION).read_bytes()
    manifest = Manifest.read(bundle)
    assert manifest.consortium_sha256 == sha256_of(public / DEFINITION)
    assert manifest.files[CA_FILE] == sha256_of(bundle / CA_FILE)
    assert "crypto/hospital1/msp/msp/cacerts/ca.pem" in manifest.files  # its own files stay listed
    assert definition_of(bundle) == bundle / DEFINITION
    assert definition_of(tmp_path) == DEFAULT_PATH  # not a bundle: the repository's definition


def _changed_port(doc: dict[str, Any]) -> None:
    doc["orgs"][0]["port_base"] += 1


def _dropped_org(doc: dict[str, Any]) -> None:
    doc["orgs"] = doc["orgs"][1:]


def _no_newcomer(doc: dict[str, Any]) -> None:
    doc["orgs"] = doc["orgs"][:-1]


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (_changed_port, "as it is"),
        (_dropped_org, "as it is"),
        (_no_newcomer, "unknown organization"),
    ],
)
def test_a_definition_that_changes_the_members_is_refused_and_nothing_changes(
    tmp_path: Path, damage: Any, says: str
) -> None:
    doc = yaml.safe_load(DEFAULT_PATH.read_text())
    doc["orgs"].append(HOSPITAL3)
    damage(doc)
    bundle = _bundle(tmp_path / "h1")
    before = _snapshot(bundle)
    with pytest.raises(Exception, match=says):
        add_member(bundle, _public(tmp_path / "h3-public", doc))
    assert _snapshot(bundle) == before


def test_a_tampered_or_foreign_public_part_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path / "h1")
    before = _snapshot(bundle)
    tampered = _public(tmp_path / "tampered")
    (tampered / CA_FILE).write_text("somebody else's CA")
    with pytest.raises(SetupError, match="does not match its manifest"):
        add_member(bundle, tampered)
    with pytest.raises(SetupError, match="is for channel 'other'"):
        add_member(bundle, _public(tmp_path / "foreign", channel="other"))
    with pytest.raises(SetupError, match="bundle --org ORG --public"):
        add_member(bundle, tmp_path)
    broken = _public(tmp_path / "broken")
    (broken / DEFINITION_MANIFEST).write_text(json.dumps({"org": "hospital3"}))
    with pytest.raises(SetupError, match="is not an organization's definition"):
        add_member(bundle, broken)
    assert _snapshot(bundle) == before
