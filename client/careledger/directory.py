"""A hospital's directory of people: display names, patients' dates of birth, staff's roles and departments.

None of it goes on the ledger (the ledger knows members only by pseudonymous ids). Each hospital keeps its
own directory, off the ledger, in one file sealed at rest with AES-256-GCM under a key derived (HKDF-SHA256,
a fresh salt per write) from the organization's private encryption key, the key its hospital systems (the
hospital app, the record store) already hold. The file's header (format, organization, salt) is the
associated data, so a directory moved to another organization or tampered with does not open, and a
wrong key fails with DirectoryKeyError rather than showing nothing.

Who may see what, and how that is enforced:
- the hospital's staff see the whole directory of their hospital: only a process holding the organization
  key can open it (the hospital app; `staff_view`);
- every other consortium app (the patients' portal, other hospitals' apps) sees only the display names,
  roles and departments of each hospital's staff, which the hospital publishes on purpose (`publish`
  writes `staff.json`, never a patient's name);
- a patient sees their own entry: `publish` also seals each patient's entry for that patient's registered
  encryption key (a JWE, ECDH-ES+A256KW / A256GCM), which only the patient's own key opens (`patient_view`).

    directory = Directory(root, "Hospital1MSP", org_key)
    directory.put(Person("h1-patient-1@Hospital1MSP", "Ana Silva", "patient", birth_date=date(1980, 5, 17)))
    directory.publish({"h1-patient-1@Hospital1MSP": patient_public_jwk})
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from .crypto import import_public_jwk
from .errors import CareLedgerError

FORMAT = "careledger-directory/1"
SEALED_FILE = "people.sealed"
STAFF_FILE = "staff.json"  # published: staff display names only
PATIENTS_FOLDER = "patients"  # published: each patient's own entry, sealed for that patient
_ENTRY_TYPE = "application/careledger-directory-entry"
_JWE = jwe.JWERegistry(algorithms=["ECDH-ES+A256KW", "A256GCM"])
_LOCK = threading.Lock()  # one writer at a time in this process; the file is replaced atomically

Kind = Literal["patient", "staff"]


class DirectoryError(CareLedgerError):
    """The directory cannot be read or written (a damaged file, an entry that is not a person)."""


class DirectoryKeyError(DirectoryError):
    """The directory does not open with this key: another organization's key, or the file was altered."""


@dataclass(frozen=True)
class Person:
    """One person as their hospital names them. `member_id` is their ledger id (`<id>@<MSP>`)."""

    member_id: str
    display_name: str
    kind: Kind
    birth_date: datetime.date | None = None  # patients
    role: str = ""  # staff: clinician, researcher, admin, ...
    department: str = ""  # staff

    def __post_init__(self) -> None:
        if "@" not in self.member_id or not self.display_name.strip():
            raise DirectoryError("a person needs a qualified member id (<id>@<MSP>) and a display name")
        if self.kind not in ("patient", "staff"):
            raise DirectoryError(f"a person is a patient or staff, not {self.kind!r}")

    @property
    def org(self) -> str:
        return self.member_id.rsplit("@", 1)[1]

    def to_json(self) -> dict[str, str]:
        doc = {"member_id": self.member_id, "display_name": self.display_name, "kind": self.kind}
        if self.birth_date:
            doc["birth_date"] = self.birth_date.isoformat()
        if self.role:
            doc["role"] = self.role
        if self.department:
            doc["department"] = self.department
        return doc

    @classmethod
    def from_json(cls, doc: Any) -> Person:
        try:
            born = doc.get("birth_date")
            return cls(
                member_id=str(doc["member_id"]),
                display_name=str(doc["display_name"]),
                kind=doc["kind"],
                birth_date=datetime.date.fromisoformat(born) if born else None,
                role=str(doc.get("role", "")),
                department=str(doc.get("department", "")),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise DirectoryError(f"a directory entry is not a person ({type(exc).__name__})") from None

    def staff_entry(self) -> Person:
        """What a hospital publishes of a staff member: name, role, department (the same, for staff)."""
        return Person(self.member_id, self.display_name, "staff", role=self.role, department=self.department)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _directory_key(org_key: ECKey, msp_id: str, salt: bytes) -> bytes:
    """The AES-256 key of a directory write: HKDF-SHA256 over the organization's private scalar."""
    private = org_key.private_key
    if private is None:
        raise DirectoryKeyError("the directory needs the organization's private key, not its public key")
    secret = private.private_numbers().private_value.to_bytes(32, "big")
    info = f"{FORMAT}|{msp_id}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret)


def _header_bytes(header: Mapping[str, str]) -> bytes:
    return json.dumps(dict(header), sort_keys=True, separators=(",", ":")).encode()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def patient_file_name(member_id: str) -> str:
    """A patient's published entry, named by a digest of their id so the folder lists no ids."""
    return hashlib.sha256(member_id.encode()).hexdigest()[:32] + ".jwe"


class Directory:
    """One hospital's sealed directory, in `root/<MSP>/`. Opening it needs the organization's private key."""

    def __init__(self, root: Path, msp_id: str, org_key: ECKey) -> None:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9.-]{0,63}", msp_id):
            raise DirectoryError(f"{msp_id!r} is not an MSP id")
        self.folder = Path(root) / msp_id
        self.msp_id = msp_id
        self._org_key = org_key

    @property
    def path(self) -> Path:
        return self.folder / SEALED_FILE

    def people(self) -> dict[str, Person]:
        """Everyone in the directory, by member id ({} before the first entry is put)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            doc = json.loads(raw)
            header = {k: doc[k] for k in ("format", "org", "salt")}
            nonce, ciphertext = _unb64(doc["nonce"]), _unb64(doc["ciphertext"])
        except (ValueError, KeyError, TypeError):
            raise DirectoryError(f"{self.path} is not a CareLedger directory") from None
        if header["format"] != FORMAT or header["org"] != self.msp_id:
            raise DirectoryKeyError(f"{self.path} is the directory of {header['org']} ({header['format']})")
        key = _directory_key(self._org_key, self.msp_id, _unb64(header["salt"]))
        try:
            plaintext = AESGCM(key).decrypt(nonce, ciphertext, _header_bytes(header))
        except InvalidTag:
            raise DirectoryKeyError(
                f"the directory of {self.msp_id} does not open with this key: "
                "another organization's key, or the file was altered"
            ) from None
        entries = json.loads(plaintext)
        people = (Person.from_json(e) for e in entries)
        return {p.member_id: p for p in people}

    def _write(self, people: Iterable[Person]) -> None:
        salt, nonce = os.urandom(16), os.urandom(12)
        header = {"format": FORMAT, "org": self.msp_id, "salt": _b64(salt)}
        entries = sorted((p.to_json() for p in people), key=lambda e: e["member_id"])
        plaintext = json.dumps(entries, separators=(",", ":")).encode()
        key = _directory_key(self._org_key, self.msp_id, salt)
        ciphertext = AESGCM(key).encrypt(nonce, plaintext, _header_bytes(header))
        doc = {**header, "nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}
        _write_atomically(self.path, json.dumps(doc).encode())

    def put(self, *people: Person) -> None:
        """Add or replace people (by member id). Only people of this hospital belong here."""
        for person in people:
            if person.org != self.msp_id:
                raise DirectoryError(f"{person.member_id} is not a member of {self.msp_id}")
        with _LOCK:
            current = self.people()
            current.update({p.member_id: p for p in people})
            self._write(current.values())

    def remove(self, member_id: str) -> None:
        with _LOCK:
            current = self.people()
            if current.pop(member_id, None) is not None:
                self._write(current.values())

    def publish(self, patient_keys: Mapping[str, Mapping[str, Any]]) -> int:
        """Publish what others may see: the staff's display names (`staff.json`) and each patient's own entry
        sealed for their registered public key (`patients/<digest>.jwe`); `patient_keys` maps member ids to
        public JWKs (from the ledger). Patients without a key get no copy. Returns how many were sealed."""
        people = self.people()
        staff = [p.staff_entry().to_json() for p in people.values() if p.kind == "staff"]
        _write_atomically(self.folder / STAFF_FILE, json.dumps({"org": self.msp_id, "staff": staff}).encode())
        sealed = 0
        for person in people.values():
            jwk = patient_keys.get(person.member_id)
            if person.kind != "patient" or jwk is None:
                continue
            header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "cty": _ENTRY_TYPE}
            plaintext = json.dumps(person.to_json()).encode()
            token = jwe.encrypt_compact(header, plaintext, import_public_jwk(dict(jwk)), registry=_JWE)
            _write_atomically(self.folder / PATIENTS_FOLDER / patient_file_name(person.member_id), token.encode())
            sealed += 1
        return sealed


def published_staff(root: Path) -> dict[str, Person]:
    """Every hospital's published staff names under `root` (what any consortium app may show)."""
    found: dict[str, Person] = {}
    for path in sorted(Path(root).glob(f"*/{STAFF_FILE}")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a hospital whose list is unreadable shows ids, the rest still show names
        for entry in doc.get("staff", []) if isinstance(doc, dict) else []:
            person = Person.from_json(entry)
            if person.kind == "staff" and person.org == path.parent.name:  # a hospital names only its own staff
                found[person.member_id] = person
    return found


def own_entry(root: Path, member_id: str, private_key: ECKey) -> Person | None:
    """A patient's own entry as their hospital sealed it for them, or None if it has none (yet)."""
    org = member_id.rsplit("@", 1)[-1]
    path = Path(root) / org / PATIENTS_FOLDER / patient_file_name(member_id)
    try:
        token = path.read_text()
    except (FileNotFoundError, ValueError):
        return None
    try:
        opened = jwe.decrypt_compact(token, private_key, registry=_JWE)
    except (JoseError, ValueError):
        return None  # sealed for an earlier key of the patient: shown by id until the hospital publishes again
    person = Person.from_json(json.loads(opened.plaintext or b"{}"))
    return person if person.member_id == member_id else None


@dataclass(frozen=True)
class People:
    """The people a viewer may see by name: look-ups by member id, and the hospital's patient search."""

    known: Mapping[str, Person]

    def get(self, member_id: str) -> Person | None:
        return self.known.get(member_id)

    def patients(self) -> list[Person]:
        return sorted((p for p in self.known.values() if p.kind == "patient"), key=lambda p: p.display_name.lower())

    def search(self, query: str) -> list[Person]:
        """Patients whose name holds every word of `query`, whose id starts with it, or born on the day it
        names (2026-01-31, 31.01.2026 or 31/01/2026)."""
        text = " ".join(query.split()).casefold()
        if not text:
            return []
        day = parse_day(text)
        found = []
        for person in self.patients():
            name = person.display_name.casefold()
            if (
                all(word in name for word in text.split())
                or person.member_id.casefold().startswith(text)
                or (day is not None and person.birth_date == day)
            ):
                found.append(person)
        return found


def parse_day(text: str) -> datetime.date | None:
    """A date as people type it: ISO (2026-01-31) or day first (31.01.2026, 31/01/2026)."""
    match = re.fullmatch(r"(\d{1,2})[./](\d{1,2})[./](\d{4})", text.strip())
    try:
        if match:
            return datetime.date(int(match[3]), int(match[2]), int(match[1]))
        return datetime.date.fromisoformat(text.strip())
    except ValueError:
        return None


def staff_view(root: Path, msp_id: str, org_key: ECKey | None) -> People:
    """What a hospital's staff see: their hospital's whole directory (with the organization key; without it,
    as other apps do) and every hospital's published staff."""
    known = published_staff(root)
    if org_key is not None:  # a key that does not open it raises DirectoryKeyError: never silently no names
        known.update(Directory(root, msp_id, org_key).people())
    return People(known)


def patient_view(root: Path, member_id: str, private_key: ECKey | None) -> People:
    """What a patient sees: every hospital's published staff, and their own entry."""
    known = published_staff(root)
    if private_key is not None and (mine := own_entry(root, member_id, private_key)) is not None:
        known[member_id] = mine
    return People(known)
