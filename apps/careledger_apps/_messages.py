"""Every sentence the web apps say when something goes wrong, in one place, chosen by the error's type or by
a named problem, never by an exception's text.

A patient or a clinician reads these: they say what happened and what to do, in words, without field names,
codes or parser messages. What the ledger itself said (a refusal's `reason`) is shown only under "technical
details", for whoever supports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from careledger.errors import (
    ChaincodeRefusal,
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotAuthorized,
    NotFound,
)
from careledger_protocol import MIN_JUSTIFICATION_LETTERS
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    MethodNotAllowed,
    RequestEntityTooLarge,
    TooManyRequests,
)
from werkzeug.exceptions import NotFound as PageNotFound


@dataclass(frozen=True)
class Page:
    """An error page: its heading, its HTTP status and what the reader can do next."""

    title: str
    status: int
    advice: str


# A ledger refusal outside a form (a page or an action): by the refusal's type.
REFUSAL_PAGES: dict[type[ChaincodeRefusal], Page] = {
    NotAuthorized: Page(
        "The ledger refused: you are not allowed to do this.",
        403,
        "Your access may have ended or been revoked. Ask the patient or your administrator if you need it.",
    ),
    NotFound: Page("The ledger has no such item.", 404, "It may have been removed. Go back and choose again."),
    InvalidArgument: Page(
        "The ledger could not accept this request.", 400, "Go back, check what you entered and try again."
    ),
    Conflict: Page("That already exists on the ledger.", 409, "Nothing was changed. Go back to see it."),
    FailedPrecondition: Page(
        "The ledger refused: something must happen first.",
        409,
        "The item may have been erased, revoked or changed meanwhile. Go back and reload the page.",
    ),
}
REFUSAL_DEFAULT = Page("The request failed.", 400, "Go back and try again.")

NETWORK_DOWN = Page("The request failed.", 503, "The network could not process the request. Wait a moment and retry.")
STORE_FAILED = Page(
    "The record store did not answer as expected.", 502, "The record is safe on the ledger. Try again in a moment."
)
UPLOAD_PENDING = Page(
    "Saved on the ledger; its encrypted content is waiting to reach the record store.",
    202,
    "Nothing needs to be entered again: the encrypted content is kept by this system and uploaded automatically "
    "once the record store answers.",
)
SOMETHING_FAILED = Page(
    "Something went wrong on our side.", 500, "Nothing you did caused this. Try again; if it repeats, contact support."
)
ACCESS_REFUSED = Page(
    "Access refused.", 403, "The patient's consent does not cover this. Ask the patient, or use emergency access."
)
UNKNOWN_PURPOSE = Page("Choose a purpose from the list.", 400, "Go back and choose what the record is opened for.")
EMERGENCY_REFUSED = Page(
    "Emergency access gave no content.", 403, "The attempt is recorded on the ledger; the reason is above."
)
NO_SUCH_ITEM = Page("Not found.", 404, "It may have been removed. Go back and choose again.")


class FormExpired(BadRequest):
    """A POST whose CSRF token is missing or stale."""


FORM_EXPIRED_DETAILS = "The form's CSRF token is missing or does not match this session."


# Errors of the web layer itself, by type (the first that matches, so subclasses come first).
HTTP_PAGES: list[tuple[type[HTTPException], Page]] = [
    (
        FormExpired,
        Page("This form has expired.", 400, "Go back, reload the page, and send the form again."),
    ),
    (PageNotFound, Page("Page not found.", 404, "There is no such page. Check the address or use the menu.")),
    (
        MethodNotAllowed,
        Page("This page cannot be opened that way.", 405, "Go back and use the buttons on the page."),
    ),
    (
        RequestEntityTooLarge,
        Page("The file is too large.", 413, "Files of up to 2 MB can be sent. Choose a smaller file."),
    ),
    (TooManyRequests, Page("Too many requests.", 429, "Wait a minute, then try again.")),
    (BadRequest, Page("The request could not be understood.", 400, "Go back and send the form again.")),
]
HTTP_DEFAULT = SOMETHING_FAILED


def refusal_page(exc: ChaincodeRefusal) -> Page:
    return next((page for kind, page in REFUSAL_PAGES.items() if isinstance(exc, kind)), REFUSAL_DEFAULT)


def http_page(exc: HTTPException) -> Page:
    return next((page for kind, page in HTTP_PAGES if isinstance(exc, kind)), HTTP_DEFAULT)


# Sign-in (a throttled one says how long to wait, in the throttle's own words: see _throttle.TooManyAttempts).
SIGN_IN_MISSING = "Enter your user id and your passphrase."
SIGN_IN_FAILED = "The user id or the passphrase is not right. Check both and try again."


# Problems a form can have, by name: each is shown next to the field it concerns.
PROBLEMS: dict[str, str] = {
    # the portal's grant form
    "grantee.missing": "Choose who may open your records.",
    "scope.missing": "Choose at least one record or category of records.",
    "purpose.missing": "Choose at least one purpose.",
    "until.missing": "Enter the last day access is allowed, for example 31 12 2026.",
    "until.invalid": "Enter a real date, for example 31 12 2026.",
    "until.past": "The last day must be today or later.",
    "until.far": "The last day must be within the next 100 years.",
    # importing a consent
    "consent.missing": "Choose a FHIR Consent document saved as a JSON file.",
    "consent.not_json": "This file is not a JSON document. Choose the Consent saved as JSON.",
    "consent.not_fhir": "This file is not a FHIR Consent CareLedger can read. The technical details say why.",
    # confirmations
    "confirm.erase": "Tick the box to confirm that this record should be erased for good.",
    # the hospital's new record form
    "patient_id.missing": "Enter the patient's id.",
    "patient_id.invalid": "A patient id has letters, digits, dots, dashes or underscores, for example h1-patient-1.",
    "category.missing": "Enter the category, for example laboratory.",
    "value.missing": "Enter the value, or choose a FHIR file instead.",
    "value.not_number": "Enter the value as a number, for example 13.5.",
    "fhir.not_json": "This file is not valid JSON (the problem is at line {line}, column {column}). "
    "Correct the file and choose it again.",
    "fhir.not_text": "This file is not a text file. Choose the FHIR resource saved as JSON.",
    "fhir.not_fhir": "This file is JSON but not a FHIR R4 resource CareLedger can store. "
    "The technical details say what is wrong; correct the file and choose it again.",
    "record.not_fhir": "These values do not make a valid FHIR observation. The technical details say why.",
    # emergency access
    "record_id.missing": "Enter the id of the record to open.",
    "justification.short": f"Write why this is an emergency, in at least {MIN_JUSTIFICATION_LETTERS} letters.",
    # consent requests (the hospital's "ask the patient", the portal's answers) and emergency reviews
    "ask.purpose.missing": "Choose at least one purpose.",
    "ask.scope.missing": "Choose records or at least one category of records.",
    "message.long": "Keep the message to at most 2000 characters.",
    "reason.long": "Keep the reason to at most 2000 characters.",
    "emergency.scope.missing": "Choose records, or all of the patient's records.",
    "verdict.missing": "Choose whether the emergency access was justified.",
    "note.short": f"Write why, in at least {MIN_JUSTIFICATION_LETTERS} letters.",
    # the researcher app's training form
    "dataset.missing": "Choose the model to train.",
    "source.missing": "Choose the data to train on.",
    "seed.invalid": "Enter the seed as a whole number from 0 to {most}, for example 7.",
    # the auditor app: whose trail or export
    "whose.kind": "Choose whether the id is a patient's or a requester's.",
    "whose.missing": "Enter the member id.",
    "whose.invalid": "Enter the full member id with its organization, for example h1-patient-1@Hospital1MSP.",
    # the portal's proxy form (people who can act for me)
    "proxy.missing": "Enter the member id of the person who may act for you.",
    "proxy.invalid": "Enter their full member id with its organization, for example h2-parent-1@Hospital2MSP.",
    "rights.missing": "Choose at least one thing they may do for you.",
    "rights.grant_needs_view": "To give access for you they must also be able to see your records: tick both.",
}


# A ledger refusal of a form: by the form and the refusal's type, the field it concerns (None: the whole
# form) and what to tell. A type not listed here gets its REFUSAL_PAGES title for the whole form.
FORM_REFUSALS: dict[str, dict[type[ChaincodeRefusal], tuple[str | None, str]]] = {
    "grant": {
        InvalidArgument: (None, "The ledger could not accept this grant as filled in. Check each choice and retry."),
        NotAuthorized: (None, "You may only share records about yourself."),
        NotFound: ("grantee", "This person or organization is no longer registered. Choose someone else."),
        FailedPrecondition: ("scope", "A chosen record can no longer be shared (it may have been erased)."),
        Conflict: (None, "This access has already been granted."),
    },
    "import": {
        InvalidArgument: ("consent", "The ledger could not accept the grants this Consent asks for."),
        NotAuthorized: ("consent", "This Consent asks to share records that are not yours."),
        NotFound: ("consent", "This Consent names someone who is not registered on the ledger."),
        FailedPrecondition: ("consent", "This Consent names a record that can no longer be shared."),
    },
    "record": {
        InvalidArgument: (None, "The ledger could not accept this record. Check the category and the values."),
        NotAuthorized: ("patient_id", "You may not create records for this patient."),
        NotFound: ("patient_id", "No patient with this id is registered. Check the id."),
        Conflict: (None, "This record already exists."),
        FailedPrecondition: ("patient_id", "Records cannot be added for this patient at the moment."),
    },
    "emergency": {
        InvalidArgument: ("justification", "The ledger did not accept this justification. Say more about why."),
        NotAuthorized: (None, "Your role may not use emergency access."),
        NotFound: ("record_id", "There is no record with this id. Check the id."),
        FailedPrecondition: ("record_id", "This record can no longer be opened (it may have been erased)."),
    },
}


# The auditor app's forms naming a member (the ledger knows who is registered).
_WHOSE: dict[type[ChaincodeRefusal], tuple[str | None, str]] = {
    NotFound: ("member", "No member with this id is registered. Check the id."),
    InvalidArgument: ("member", "The ledger could not read this id. Check it."),
    NotAuthorized: (None, "Only auditors of the health authority may read this."),
}
FORM_REFUSALS["whose"] = _WHOSE
FORM_REFUSALS["export"] = {kind: ("patient" if field else None, words) for kind, (field, words) in _WHOSE.items()}
# Naming a proxy, and a proxy giving access for the patient they act for.
FORM_REFUSALS["proxy"] = {
    InvalidArgument: ("proxy", "This person cannot act for you: a proxy is a person registered as a patient."),
    NotAuthorized: (None, "You may only name people who act for yourself."),
    NotFound: ("proxy", "No one with this id is registered. Check the id with them."),
    Conflict: ("proxy", "This person already acts for you. Revoke it first to change what they may do."),
    FailedPrecondition: (None, "Your records could not be shared with them at the moment. Try again."),
}
FORM_REFUSALS["proxy-grant"] = {
    **FORM_REFUSALS["grant"],
    NotAuthorized: (None, "Your rights to act for this person do not allow this now (they may have ended)."),
}


# The forms of consent requests and emergency reviews (requests_*.py, _emergency_review.py).
FORM_REFUSALS |= {
    "ask": {
        InvalidArgument: (None, "The ledger could not accept this request. Check the purposes and the last day."),
        NotAuthorized: (None, "Your role may not ask patients for access."),
        NotFound: ("scope", "This patient or one of these records is not registered. Check the choices."),
        FailedPrecondition: ("scope", "A chosen record can no longer be shared (it may have been erased)."),
    },
    "answer": {
        InvalidArgument: (None, "The ledger could not accept this answer. Check each choice and retry."),
        NotAuthorized: (None, "Only the patient asked may answer this request."),
        NotFound: (None, "This request is no longer on the ledger."),
        FailedPrecondition: (None, "This request was answered already or has expired."),
    },
    "patient-emergency": {
        InvalidArgument: ("justification", "The ledger did not accept this justification. Say more about why."),
        NotAuthorized: (None, "Your role may not use emergency access."),
        NotFound: (None, "This patient is not registered."),
        FailedPrecondition: ("scope", "The patient has no records that can be opened (in these categories)."),
    },
    "review": {
        InvalidArgument: ("note", "The ledger did not accept this note. Say more about why."),
        NotAuthorized: (None, "Only auditors and the hospital's privacy officer may review emergency accesses."),
        Conflict: (None, "This emergency access has been reviewed already."),
        NotFound: (None, "This emergency access is not on the ledger."),
    },
}


def form_refusal(form: str, exc: ChaincodeRefusal) -> tuple[str | None, str, int]:
    """The field, the words and the HTTP status for a ledger refusal of `form`."""
    page = refusal_page(exc)
    for kind, (field, words) in FORM_REFUSALS.get(form, {}).items():
        if isinstance(exc, kind):
            return field, words, page.status
    return None, page.title, page.status
