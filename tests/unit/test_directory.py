"""The hospitals' people directory (careledger.directory): sealed at rest under the organization key, and who may
see whom — a hospital's staff its whole directory, everyone the published staff names, a patient their own entry.
Also a record's title and date read from its content (careledger.record_content)."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path

import pytest
from careledger import crypto
from careledger.directory import (
    Directory,
    DirectoryError,
    DirectoryKeyError,
    Person,
    own_entry,
    parse_day,
    patient_view,
    published_staff,
    staff_view,
)
from careledger.record_content import date_of, stamped, title_of
from careledger_network.demo_directory import invented

H1, H2 = "Hospital1MSP", "Hospital2MSP"
ANA = Person("h1-patient-1@Hospital1MSP", "Ana Zélia Quintela", "patient", birth_date=datetime.date(1980, 5, 17))
BRUNO = Person("h1-patient-2@Hospital1MSP", "Bruno Tavares", "patient", birth_date=datetime.date(1955, 1, 2))
DOCTOR = Person("h1-clinician-1@Hospital1MSP", "Dr. João Costa", "staff", role="clinician", department="Cardiology")


@pytest.fixture
def h1(tmp_path: Path) -> tuple[Directory, object]:
    key = crypto.new_encryption_key()
    directory = Directory(tmp_path, H1, key)
    directory.put(ANA, BRUNO, DOCTOR)
    return directory, key


def test_the_file_holds_no_name_or_birth_date_in_the_clear(h1: tuple[Directory, object]) -> None:
    directory, _ = h1
    raw = directory.path.read_bytes()
    for secret in ("Quintela", "Zélia", "Costa", "Cardiology", "1980-05-17", "h1-patient-1"):
        assert secret.encode() not in raw
        assert base64.b64encode(secret.encode())[:8] not in raw  # nor merely base64-encoded
    doc = json.loads(raw)
    assert doc["format"] == "careledger-directory/1"
    assert doc["org"] == H1
    assert set(doc) == {"format", "org", "salt", "nonce", "ciphertext"}


def test_each_write_uses_a_fresh_salt_and_nonce(h1: tuple[Directory, object]) -> None:
    directory, _ = h1
    before = json.loads(directory.path.read_bytes())
    directory.put(ANA)
    after = json.loads(directory.path.read_bytes())
    assert before["salt"] != after["salt"]
    assert before["nonce"] != after["nonce"]
    assert directory.people()[ANA.member_id] == ANA


def test_the_organization_key_opens_it_and_another_key_fails_clearly(h1: tuple[Directory, object]) -> None:
    directory, _ = h1
    assert directory.people() == {p.member_id: p for p in (ANA, BRUNO, DOCTOR)}
    stranger = Directory(directory.folder.parent, H1, crypto.new_encryption_key())
    with pytest.raises(DirectoryKeyError, match="does not open with this key"):
        stranger.people()


def test_a_public_key_alone_cannot_open_it(h1: tuple[Directory, object]) -> None:
    directory, key = h1
    public = crypto.import_public_jwk(crypto.public_jwk(key))  # type: ignore[arg-type]
    with pytest.raises(DirectoryKeyError, match="private key"):
        Directory(directory.folder.parent, H1, public).people()


def test_an_altered_or_moved_file_does_not_open(h1: tuple[Directory, object], tmp_path: Path) -> None:
    directory, key = h1
    doc = json.loads(directory.path.read_bytes())
    flipped = bytearray(base64.urlsafe_b64decode(doc["ciphertext"] + "=" * (-len(doc["ciphertext"]) % 4)))
    flipped[0] ^= 1
    doc["ciphertext"] = base64.urlsafe_b64encode(bytes(flipped)).decode().rstrip("=")
    directory.path.write_text(json.dumps(doc))
    with pytest.raises(DirectoryKeyError):
        directory.people()
    with pytest.raises(DirectoryKeyError):
        directory.put(ANA)  # put() reads first: a damaged file is never silently replaced
    directory.path.unlink()
    directory.put(ANA)
    moved = tmp_path / "other"
    (moved / H2).mkdir(parents=True)
    (moved / H2 / "people.sealed").write_bytes(directory.path.read_bytes())
    with pytest.raises(DirectoryKeyError, match="directory of Hospital1MSP"):
        Directory(moved, H2, key).people()  # type: ignore[arg-type]


def test_a_hospital_keeps_only_its_own_people(h1: tuple[Directory, object]) -> None:
    directory, _ = h1
    with pytest.raises(DirectoryError, match="not a member of Hospital1MSP"):
        directory.put(Person("h2-patient-1@Hospital2MSP", "Someone Else", "patient"))
    with pytest.raises(DirectoryError):
        Person("no-org", "Name", "patient")


def test_staff_see_their_hospital_others_only_published_staff(h1: tuple[Directory, object]) -> None:
    directory, key = h1
    root = directory.folder.parent
    directory.publish({})
    published = (directory.folder / "staff.json").read_text()
    assert "Costa" in published
    assert "Quintela" not in published
    assert "1980" not in published
    assert set(published_staff(root)) == {DOCTOR.member_id}
    staff = staff_view(root, H1, key)  # type: ignore[arg-type]
    assert staff.get(ANA.member_id) == ANA
    assert staff.get(DOCTOR.member_id) == DOCTOR
    assert [p.display_name for p in staff_view(root, H2, None).patients()] == []  # another hospital's app


def test_a_patient_sees_their_own_entry_and_no_other_patient(h1: tuple[Directory, object]) -> None:
    directory, _ = h1
    root = directory.folder.parent
    ana_key, bruno_key = crypto.new_encryption_key(), crypto.new_encryption_key()
    sealed = directory.publish(
        {ANA.member_id: crypto.public_jwk(ana_key), BRUNO.member_id: crypto.public_jwk(bruno_key)}
    )
    assert sealed == 2
    files = list((directory.folder / "patients").iterdir())
    assert all(b"Quintela" not in f.read_bytes() and "h1-patient" not in f.name for f in files)
    mine = patient_view(root, ANA.member_id, ana_key)
    assert mine.get(ANA.member_id) == ANA
    assert mine.get(DOCTOR.member_id) is not None
    assert mine.get(BRUNO.member_id) is None
    assert own_entry(root, ANA.member_id, bruno_key) is None  # another patient's key opens nothing


def test_search_by_name_id_or_date_of_birth(h1: tuple[Directory, object]) -> None:
    directory, key = h1
    view = staff_view(directory.folder.parent, H1, key)  # type: ignore[arg-type]
    assert view.search("quintela ana") == [ANA]
    assert view.search("h1-patient-2") == [BRUNO]
    assert view.search("17.05.1980") == [ANA]
    assert view.search("1955-01-02") == [BRUNO]
    assert view.search("Costa") == []  # staff are not patients
    assert view.search("   ") == []
    assert parse_day("31/01/2026") == datetime.date(2026, 1, 31)
    assert parse_day("31.02.2026") is None


def test_demo_names_are_invented_the_same_way_every_time() -> None:
    first, again = invented("h1-patient-9@Hospital1MSP", "patient"), invented("h1-patient-9@Hospital1MSP", "patient")
    assert first == again
    assert first.birth_date is not None
    doctor = invented("h1-clinician-1@Hospital1MSP", "clinician")
    assert doctor.display_name.startswith("Dr. ")
    assert doctor.department
    assert doctor.kind == "staff"


def test_a_record_title_and_date_come_from_its_content() -> None:
    coded = {"resourceType": "Observation", "status": "final", "code": {"coding": [{"display": "Tumour size"}]}}
    moment = datetime.datetime(2026, 3, 1, 9, 30, tzinfo=datetime.UTC)
    new = stamped(coded, moment)
    assert title_of(new) == "Tumour size"
    assert new["code"]["text"] == "Tumour size"
    assert date_of(new) == "2026-03-01T09:30:00Z"
    assert "effectiveDateTime" not in coded  # the caller's resource is left as it was
    dated = {**coded, "effectivePeriod": {"start": "2025-01-01"}}
    assert stamped(dated, moment)["effectivePeriod"] == {"start": "2025-01-01"}
    assert date_of(dated) == "2025-01-01"
    other = {"resourceType": "Patient"}
    assert stamped(other) is other
    assert title_of(other) == "Patient"
    assert date_of(other) == ""
