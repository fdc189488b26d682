"""The demo's people directory: every member of each hospital gets an invented display name (patients a date of
birth, staff a department), kept in that hospital's sealed directory (careledger.directory), never on the ledger.

Run by `make demo` after the demo people are enrolled and registered (models' demo), and on its own:

    python -m careledger_network.demo_directory

Each hospital's admin opens the directory with the organization key (the admin's registered key), adds whoever
the ledger lists as members of the hospital and is not named yet, and publishes the staff's names and each
patient's own entry sealed for that patient's key. Names are chosen from the member id, so a rerun names
everyone the same way."""

from __future__ import annotations

import datetime
import hashlib
import sys
from pathlib import Path

from careledger.directory import Directory, Person
from careledger.errors import CareLedgerError, GatewayError
from careledger.services import Session

from .consortium import Consortium, load
from .paths import state_dir

FIRST_NAMES = (
    "Ana", "João", "Maria", "Pedro", "Sofia", "Miguel", "Inês", "Tiago", "Beatriz", "Rui", "Carla", "Nuno",
    "Leonor", "Duarte", "Marta", "Hugo", "Clara", "André", "Rita", "Filipe", "Amira", "Kenji", "Olga", "Samuel",
)  # fmt: skip
LAST_NAMES = (
    "Silva", "Costa", "Santos", "Ferreira", "Pereira", "Oliveira", "Rodrigues", "Martins", "Sousa", "Gomes",
    "Lopes", "Marques", "Almeida", "Ribeiro", "Carvalho", "Teixeira", "Moreira", "Correia", "Mendes", "Nunes",
)  # fmt: skip
DEPARTMENTS = {
    "clinician": ("Cardiology", "Oncology", "Emergency", "Internal Medicine", "Radiology"),
    "researcher": ("Clinical Research", "Data Science"),
    "admin": ("Administration",),
    "auditor": ("Audit and Compliance",),
}


def _pick(member_id: str, salt: str, choices: tuple[str, ...]) -> str:
    digest = hashlib.sha256(f"{salt}|{member_id}".encode()).digest()
    return choices[int.from_bytes(digest[:4], "big") % len(choices)]


def invented(member_id: str, role: str) -> Person:
    """An invented person for a demo member (the same every time for the same id)."""
    name = f"{_pick(member_id, 'first', FIRST_NAMES)} {_pick(member_id, 'last', LAST_NAMES)}"
    if role == "patient":
        digest = hashlib.sha256(f"born|{member_id}".encode()).digest()
        born = datetime.date(1940, 1, 1) + datetime.timedelta(days=int.from_bytes(digest[:4], "big") % (365 * 65))
        return Person(member_id, name, "patient", birth_date=born)
    title = "Dr. " if role == "clinician" else ""
    return Person(
        member_id,
        title + name,
        "staff",
        role=role,
        department=_pick(member_id, "dept", DEPARTMENTS.get(role, ("Staff",))),
    )


def fill(consortium: Consortium, state: Path) -> dict[str, int]:
    """Name every member of each hospital not named yet; publish. Returns how many people each directory holds."""
    root = state / "directory"
    counts: dict[str, int] = {}
    for org in consortium.orgs:
        if not org.store_port:  # only hospitals keep a directory of people
            continue
        with Session.open(state / "profiles" / f"{org.key}.json", org.admin) as admin:
            directory = Directory(root, org.msp_id, admin.encryption_key())  # the organization key
            members = [m for m in admin.members_of(org.msp_id) if "@" in m["id"]]
            known = directory.people()
            new = [invented(m["id"], m["role"]) for m in members if m["id"] not in known]
            if new:
                directory.put(*new)
            directory.publish({m["id"]: m["public_key"] for m in members if m["role"] == "patient"})
            counts[org.name] = len(known) + len(new)
    return counts


def main() -> int:
    try:
        counts = fill(load(), state_dir())
    except (CareLedgerError, GatewayError) as exc:
        print(f"directory not filled: {exc}", file=sys.stderr)
        return 1
    print("Directories (names off the ledger): " + ", ".join(f"{k} {v} people" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
