"""A bundle: what one organization's hosts need, cut from a generated state folder (`careledger-network
generate`), and nothing more.

A bundle is a state folder restricted to one organization (same layout as network/state):
    consortium.yaml           the consortium definition it was generated from (every org's endpoints)
    bundle.json               the manifest: org, channel, the definition's SHA-256, each file's SHA-256
    crypto/<org>/             the org's own CA home (root key, database), node MSPs and TLS pairs,
                              chaincode server, store and web app TLS pairs
    wallets/<org>/            its admin's and its users' identities
    crypto/<other>/msp/msp/   every other organization's verifying MSP (cacerts, tlscacerts, config.yaml)
    crypto/<other>/ca/ca-cert.pem   and its root certificate (the TLS CA of its nodes)
    configtx/<channel>.block  the channel's genesis block, in the orderer organization's bundle only
Node configs, connection profiles and chaincode packages name paths on the host, so `node up` writes them
there from this content (node.py); nothing in a bundle names the generating machine's folders.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from careledger import write_atomic

from .consortium import DEFAULT_PATH, Consortium, ConsortiumError, Org, load
from .crypto import org_paths, wallet
from .paths import SetupError
from .release_archives import sha256_of

MANIFEST = "bundle.json"
DEFINITION = "consortium.yaml"
# The public part of another organization's crypto folder: what verifies its members and its nodes' TLS.
PUBLIC_MSP_FILES = (
    Path("msp") / "msp" / "cacerts" / "ca.pem",
    Path("msp") / "msp" / "tlscacerts" / "tlsca.pem",
    Path("msp") / "msp" / "config.yaml",
    Path("msp") / "crls" / "crl.pem",  # only once the org has revoked someone
    Path("ca") / "ca-cert.pem",
)


@dataclass(frozen=True)
class Manifest:
    org: str  # the organization's key (lower-case name)
    msp_id: str
    channel: str
    consortium_sha256: str
    files: dict[str, str]  # path inside the bundle -> SHA-256 of its content

    def to_json(self) -> bytes:
        doc = {
            "org": self.org,
            "msp_id": self.msp_id,
            "channel": self.channel,
            "consortium_sha256": self.consortium_sha256,
            "files": dict(sorted(self.files.items())),
        }
        return (json.dumps(doc, indent=2) + "\n").encode()

    @classmethod
    def read(cls, root: Path) -> Manifest:
        path = root / MANIFEST
        try:
            doc = json.loads(path.read_text())
            return cls(doc["org"], doc["msp_id"], doc["channel"], doc["consortium_sha256"], dict(doc["files"]))
        except FileNotFoundError:
            raise SetupError(
                f"{root} is not a bundle: it has no {MANIFEST} (make one with `careledger-network bundle`)"
            ) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise SetupError(f"{path} is not a bundle manifest ({exc}): cut the bundle again") from None


def _own_roots(state: Path, org: Org) -> list[Path]:
    """The org's own crypto folder and wallet (paths inside the state folder)."""
    roots = [org_paths(state, org).root, wallet(state, org).root]
    return [root.relative_to(state) for root in roots if root.exists()]


def _public_files(state: Path, other: Org) -> list[Path]:
    root = org_paths(state, other).root
    return [(root / f).relative_to(state) for f in PUBLIC_MSP_FILES if (root / f).is_file()]


def bundle_contents(c: Consortium, state: Path, org: Org) -> tuple[list[Path], list[Path]]:
    """What the org's bundle holds from the state folder: whole folders (its own) and single files (the
    others' public certificates, the genesis block), as paths inside the state folder."""
    missing = [o.name for o in (c.orderer_org, *c.orgs) if not org_paths(state, o).ca_cert.exists()]
    if missing:
        raise SetupError(
            f"{state} has no crypto material for {', '.join(missing)}: run `careledger-network generate` first"
        )
    files = [f for other in (c.orderer_org, *c.orgs) if other.key != org.key for f in _public_files(state, other)]
    if org.key == c.orderer_org.key:  # its orderers join the channel with it; the peers fetch block 0 from them
        block = Path("configtx") / f"{c.channel}.block"
        if not (state / block).is_file():
            raise SetupError(f"{state / block} is missing: run `careledger-network generate` first")
        files.append(block)
    return _own_roots(state, org), files


def _regular_files(root: Path) -> list[Path]:
    """Every regular file under root, not following symlinks (a wallet entry is a link to its staged folder)."""
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def write_bundle(c: Consortium, definition: Path, state: Path, org_key: str, out: Path) -> Manifest:
    """Copy the org's bundle into `out` (a new or empty folder) and write its manifest last."""
    org = c.org(org_key)
    if out.exists() and any(out.iterdir()):
        raise SetupError(f"{out} exists and is not empty: remove it or choose another --out")
    folders, files = bundle_contents(c, state, org)
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)  # it holds the org's private keys
    for folder in folders:
        shutil.copytree(state / folder, out / folder, symlinks=True)  # keeps 0600 on keys, and wallet links
    for relative in files:
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(state / relative, out / relative)
    shutil.copyfile(definition, out / DEFINITION)
    manifest = Manifest(
        org=org.key,
        msp_id=org.msp_id,
        channel=c.channel,
        consortium_sha256=sha256_of(definition),
        files={str(p): sha256_of(out / p) for p in _regular_files(out)},
    )
    write_atomic(out / MANIFEST, manifest.to_json())
    return manifest


def definition_of(state: Path) -> Path:
    """The consortium definition a state folder runs by: a bundle's own (it gains the organizations that join
    later, `node add-org`), else the repository's network/consortium.yaml."""
    return state / DEFINITION if (state / MANIFEST).is_file() else DEFAULT_PATH


def open_bundle(root: Path) -> tuple[Consortium, Org, Manifest]:
    """The consortium a bundle was cut from, its organization and its manifest."""
    manifest = Manifest.read(root)
    definition = root / DEFINITION
    if not definition.exists() or sha256_of(definition) != manifest.consortium_sha256:
        raise SetupError(f"{definition} is missing or is not the definition {root / MANIFEST} names: cut it again")
    consortium = load(definition)
    try:
        org = consortium.org(manifest.org)
    except ConsortiumError:
        raise SetupError(f"{root / MANIFEST} names {manifest.org!r}, which {definition} does not define") from None
    return consortium, org, manifest


def verify(root: Path, manifest: Manifest) -> None:
    """Every file the manifest lists is there, unchanged, except what the org's own CA and enrollments keep
    changing (its CA home and its wallet). Raises SetupError naming the files that differ."""
    changing = (f"crypto/{manifest.org}/ca/", f"wallets/{manifest.org}/")
    bad = [
        relative
        for relative, digest in manifest.files.items()
        if not relative.startswith(changing)
        and (not (root / relative).is_file() or sha256_of(root / relative) != digest)
    ]
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise SetupError(f"the bundle in {root} does not match its manifest: {shown} missing or changed; cut it again")


# -- an organization joining later -------------------------------------------------------------------------------
DEFINITION_MANIFEST = "org-definition.json"


def write_public_part(c: Consortium, definition: Path, state: Path, org_key: str, out: Path) -> Manifest:
    """What the members need of an organization that joins: its public certificates (PUBLIC_MSP_FILES) and the
    consortium definition naming it, with a manifest of their SHA-256 (`bundle --org ORG --public`). Each
    member adds it to its bundle (`node add-org`) before it signs the config update that adds the org."""
    org = c.org(org_key)
    if out.exists() and any(out.iterdir()):
        raise SetupError(f"{out} exists and is not empty: remove it or choose another --out")
    files = _public_files(state, org)
    if not files:
        raise SetupError(f"{state} has no crypto material for {org.name}: run `careledger-network generate` first")
    for relative in files:
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(state / relative, out / relative)
    shutil.copyfile(definition, out / DEFINITION)
    manifest = Manifest(
        org.key, org.msp_id, c.channel, sha256_of(definition), {str(p): sha256_of(out / p) for p in files}
    )
    write_atomic(out / DEFINITION_MANIFEST, manifest.to_json())
    return manifest


def add_member(root: Path, public: Path) -> Org:
    """Add a joining organization's public part (write_public_part) to the bundle in `root`: its certificates,
    and the consortium definition naming it, which must keep every organization the bundle's own names as it
    is. Returns the joining organization. Changes nothing when anything does not match."""
    own = Manifest.read(root)
    try:
        theirs = Manifest(**json.loads((public / DEFINITION_MANIFEST).read_text()))
    except FileNotFoundError:
        raise SetupError(f"{public} has no {DEFINITION_MANIFEST}: make it with `bundle --org ORG --public`") from None
    except (ValueError, TypeError) as exc:
        raise SetupError(f"{public / DEFINITION_MANIFEST} is not an organization's definition ({exc})") from None
    if theirs.channel != own.channel:
        raise SetupError(f"{public} is for channel {theirs.channel!r}; this bundle's is {own.channel!r}")
    changed = [f for f, digest in theirs.files.items() if not (public / f).is_file() or sha256_of(public / f) != digest]
    if changed or sha256_of(public / DEFINITION) != theirs.consortium_sha256:
        raise SetupError(f"{public} does not match its manifest ({', '.join(changed) or DEFINITION}): get it again")
    before, after = load(root / DEFINITION), load(public / DEFINITION)
    joining = after.org(theirs.org)
    kept = {(o.key, o.msp_id, o.port_base, o.host) for o in (before.orderer_org, *before.orgs)}
    now = {(o.key, o.msp_id, o.port_base, o.host) for o in (after.orderer_org, *after.orgs)}
    if not kept < now or any(o.key == joining.key for o in before.orgs) or after.channel != before.channel:
        raise SetupError(
            f"{public / DEFINITION} must define every organization of {root / DEFINITION} as it is, and "
            f"{joining.name} besides: ask whoever cut it for the consortium's current definition"
        )
    for relative in theirs.files:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(public / relative, root / relative)
    shutil.copyfile(public / DEFINITION, root / DEFINITION)
    files = {**own.files, **theirs.files}
    write_atomic(root / MANIFEST, replace(own, consortium_sha256=theirs.consortium_sha256, files=files).to_json())
    return joining
