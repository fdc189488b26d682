"""A session's core: the connection and ledger calls (writes retried on MVCC read conflicts and on
endorsers a block apart), the member's identity and keys, and the record stores it talks to (and the upload
outbox of its organization, services/_outbox.py).

The flows (records and access, consent) build on it in their own modules; `Session` is all of them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import careledger_protocol as protocol
from careledger_protocol import AccessKey, Caller, Member
from fabric_gateway import Contract, Gateway
from joserfc.jwk import ECKey

from .. import crypto
from .._deployment import Deployment
from .._wallet import Wallet
from ..connection import connect
from ..errors import CareLedgerError, CommitError, Conflict, EndorseError, IdentityError, NotFound
from ..json_types import Json, JsonArgument, Transient
from ..store import StoreClient
from ._outbox import Outbox

RETRYABLE_CODES = ("MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT")
# The gateway's detail when two endorsers simulated on different ledger states: one peer had not yet
# committed the block the client's previous transaction went into. It passes in a moment.
_ENDORSEMENT_MISMATCH = "ProposalResponsePayloads do not match"


def endorsers_disagreed(exc: EndorseError) -> bool:
    """Did the endorsement fail only because the endorsing peers were at different block heights?"""
    return any(_ENDORSEMENT_MISMATCH in d.message for d in exc.details)


def refused_only_by_lagging_peers(exc: EndorseError, own_msp_id: str) -> bool:
    """Did only other organizations' peers refuse, while this organization's peer endorsed? The peers then
    disagree because some have not yet got a block another has: a grant just made, or a proxy just named
    through another hospital, is "not found" there for a moment. A refusal that is true everywhere comes from
    the gateway's own peer too, which the gateway always asks first."""
    return bool(exc.details) and all(d.msp_id != own_msp_id for d in exc.details)


def _same_key(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    return all(a.get(k) == b.get(k) for k in ("kty", "crv", "x", "y"))


@dataclass
class OpenedRecord:
    record_id: str
    patient_id: str
    version: int
    resource: dict[str, Any]
    access_tx_id: str
    ciphertext_sha256: str  # the version the access decision released, as the ledger hashed it


@dataclass
class SealedRecord:
    """A record's ciphertext, checked against the ledger's hash, and its wrapped key: not yet decrypted."""

    record_id: str
    patient_id: str
    version: int
    key_entry: AccessKey = field(repr=False)
    blob: bytes = field(repr=False)
    access_tx_id: str = ""


@dataclass
class Refused:
    record_id: str
    reason: str
    awaiting_custodian: bool = False  # an emergency access allowed it; its custodian has not released the key yet


@dataclass
class SessionCore:
    profile_path: Path
    user: str
    gateway: Gateway
    contract: Contract
    deployment: Deployment
    wallet: Wallet
    passphrase: bytes | None = None
    org_key: ECKey | None = None  # the organization's private key, held by hospital systems (apps, stores)
    max_retries: int = 4
    _stores: dict[str, StoreClient] = field(default_factory=dict)
    _member_id: str = ""
    _fetch_pool: ThreadPoolExecutor | None = field(default=None, repr=False)
    _encryption_key: ECKey | None = field(default=None, repr=False)

    @classmethod
    def open(
        cls,
        profile_path: Path,
        user: str,
        passphrase: bytes | None = None,
        org_key_from: str | None = None,
        require_passphrase: bool = False,
    ) -> Self:
        """Connect as `user`. `require_passphrase` refuses identities whose keys are not passphrase-protected
        (the web apps sign people in with their passphrase)."""
        deployment = Deployment.of(profile_path)
        wallet = Wallet(deployment.wallet_dir)
        if require_passphrase and wallet.metadata(user).get("encrypted") != "yes":
            raise IdentityError(f"{user} has no passphrase yet: set one with `careledger wallet set-passphrase`")
        gateway = connect(profile_path, user, passphrase=passphrase)
        contract = gateway.network(deployment.channel).contract(deployment.chaincode)
        session = cls(profile_path, user, gateway, contract, deployment, wallet, passphrase)
        if org_key_from:
            session.org_key = session._load_encryption_key(org_key_from)
        return session

    @property
    def _fetchers(self) -> ThreadPoolExecutor:
        """Threads that fetch ciphertexts while the keys are asked for; long-lived, so each keeps its
        store connections open across calls."""
        if self._fetch_pool is None:
            self._fetch_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="careledger-fetch")
        return self._fetch_pool

    def close(self) -> None:
        if self._fetch_pool is not None:
            self._fetch_pool.shutdown(wait=True)
        for store in self._stores.values():
            store.close()
        self.gateway.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ledger calls ----------------------------------------------------------------------------------------
    # The flows below call these and return the typed document (careledger_protocol.documents) that the
    # function they call answers with; `submit` and `evaluate` are the raw calls, for tools and tests.
    def submit(self, function: str, *args: JsonArgument, transient: Transient | None = None) -> Json:
        """Submit and wait for the commit; the chaincode's answer as JSON. `transient` values (JSON-encoded
        unless bytes or str) reach the chaincode but never the block: wrapped keys, free text and model
        outputs travel that way."""
        answer: Json = self._submit(function, *args, transient=transient)
        return answer

    def evaluate(self, function: str, *args: JsonArgument) -> Json:
        """Ask one peer, without a transaction; the chaincode's answer as JSON."""
        answer: Json = self._evaluate(function, *args)
        return answer

    def _submit(self, function: str, *args: JsonArgument, transient: Transient | None = None) -> Any:
        encoded = [a if isinstance(a, str) else json.dumps(a, sort_keys=True) for a in args]
        private = _encode_transient(transient)
        for attempt in range(self.max_retries + 1):
            try:
                raw = self.contract.submit_transaction(function, *encoded, transient=private)
                return json.loads(raw) if raw else None
            except CommitError as exc:
                if exc.validation_code not in RETRYABLE_CODES or attempt == self.max_retries:
                    raise
                time.sleep(0.05 * 2**attempt)
            except EndorseError as exc:
                lagging = refused_only_by_lagging_peers(exc, self.gateway.identity.msp_id)
                if attempt == self.max_retries or not (endorsers_disagreed(exc) or lagging):
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    def _evaluate(self, function: str, *args: JsonArgument) -> Any:
        encoded = [a if isinstance(a, str) else json.dumps(a, sort_keys=True) for a in args]
        raw = self.contract.evaluate_transaction(function, *encoded)
        return json.loads(raw) if raw else None

    def _all_pages(self, function: str, *args: str, page_size: int = 100) -> list[Any]:
        """Every item of a paginated listing, page after page."""
        items: list[Any] = []
        bookmark = ""
        while True:
            page = self._evaluate(function, *args, str(page_size), bookmark)
            items.extend(page["items"])
            # A filtered listing may return an empty page mid-way: only the bookmark says where the end is.
            if not page["bookmark"] or page["bookmark"] == bookmark:
                return items
            bookmark = page["bookmark"]

    def qualify(self, member: str) -> str:
        """A member's ledger id. A bare id (no '@') names a member of this session's own organization;
        `org:<MSP>` ids and qualified ids are returned as they are."""
        return protocol.qualify(member, self.gateway.identity.msp_id)

    # -- identity ----------------------------------------------------------------------------------------------
    def _load_encryption_key(self, label: str) -> ECKey:
        pem = self.wallet.open_encryption_key(label, self.passphrase if label == self.user else None)
        if pem is None:
            raise IdentityError(
                f"{label} has no encryption key in {self.wallet.root}: run `careledger member register`"
            )
        return crypto.load_private_key(pem)

    def encryption_key(self) -> ECKey:
        """This member's private encryption key, read from the wallet (and decrypted) once per session."""
        if self._encryption_key is None:
            self._encryption_key = self._load_encryption_key(self.user)
        return self._encryption_key

    def _wallet_encryption_key(self) -> ECKey:
        """This member's encryption key from the wallet, made and kept there first if it has none."""
        pem = self.wallet.open_encryption_key(self.user, self.passphrase)
        if pem is None:
            key = crypto.new_encryption_key()
            self.wallet.put_encryption_key(self.user, crypto.private_key_pem(key), passphrase=self.passphrase)
        else:
            key = crypto.load_private_key(pem)
        self._encryption_key = key
        return key

    def register(self) -> Member:
        """Make this member's encryption key (kept in the wallet) and register its public part on the ledger.

        An org admin registers the organization's key. Registering again with the same key is a no-op.
        """
        key = self._wallet_encryption_key()
        jwk = crypto.public_jwk(key)
        if self.wallet.metadata(self.user).get("role") == "admin":
            org_member = self._member_or_none(protocol.ORG_MEMBER_PREFIX + self.gateway.identity.msp_id)
            if org_member and _same_key(org_member["public_key"], jwk):
                return org_member
            registered: Member = self._submit("RegisterOrganizationKey", json.dumps(jwk))
            return registered
        try:
            registered = self._submit("RegisterMember", json.dumps(jwk))
            return registered
        except Conflict:
            pass  # registered already: keep the key on the ledger if it is ours
        member = self.member(self.member_id())
        if _same_key(member["public_key"], jwk):
            return member
        updated: Member = self._submit("UpdateMemberKey", json.dumps(jwk))  # the ledger had another key: ours wins
        return updated

    def _member_or_none(self, member_id: str) -> Member | None:
        try:
            return self.member(member_id)
        except NotFound:
            return None

    def member_id(self) -> str:
        """This user's ledger id, `<certificate member_id>@<MSP>` (asked of the chaincode once, then kept)."""
        if not self._member_id:
            self._member_id = self.who_am_i()["member_id"]
        return self._member_id

    def who_am_i(self) -> Caller:
        """This user as the ledger sees it: id, organization, role, and whether its key is registered."""
        caller: Caller = self._evaluate("WhoAmI")
        return caller

    # -- members -----------------------------------------------------------------------------------------------
    def member(self, member_id: str) -> Member:
        """A member (a bare id names one of this organization) or an organization (`org:<MSP>`) and its key."""
        member: Member = self._evaluate("GetMember", self.qualify(member_id))
        return member

    def members_of(self, org_msp: str, role: str = "") -> list[Member]:
        """The members of an organization, of one role or all ("")."""
        return self._all_pages("ListMembers", org_msp, role)

    def _unwrap(self, entry: AccessKey, ref: crypto.RecordRef) -> bytes:
        return unwrap_record_key(entry, ref, self.org_key, self.encryption_key)

    # -- stores ------------------------------------------------------------------------------------------------
    @property
    def outbox(self) -> Outbox:
        """This organization's upload outbox (services/_outbox.py): ciphertexts its stores may not hold yet."""
        return Outbox(self.deployment.outbox_dir)

    def store(self, custodian_msp: str) -> StoreClient:
        if custodian_msp not in self._stores:
            endpoint = self.deployment.stores.get(custodian_msp)
            if endpoint is None:
                raise CareLedgerError(f"{custodian_msp} runs no record store known to {self.profile_path}")
            identity = self.wallet.get(self.user, self.passphrase)
            self._stores[custodian_msp] = StoreClient(endpoint.url, endpoint.ca_pem, identity)
        return self._stores[custodian_msp]


def unwrap_record_key(
    entry: AccessKey, ref: crypto.RecordRef, org_key: ECKey | None, member_key: Callable[[], ECKey]
) -> bytes:
    """A released record key, unwrapped with the organization's key (`org:` recipients) or the member's own
    (asked for only then); its binding to the record, patient and version is checked (crypto.unwrap_key).
    Also what the scoring processes of careledger_models run, with the keys they hold."""
    recipient = entry["recipient"]
    if recipient.startswith(protocol.ORG_MEMBER_PREFIX):
        if org_key is None:
            raise IdentityError(
                f"the key of {ref.record_id} is wrapped for {recipient}: open it from a hospital system"
            )
        return crypto.unwrap_key(entry["wrapped_key"], ref, org_key)
    return crypto.unwrap_key(entry["wrapped_key"], ref, member_key())


def _encode_transient(values: Transient | None) -> dict[str, bytes] | None:
    if not values:
        return None
    return {
        name: v
        if isinstance(v, bytes)
        else v.encode()
        if isinstance(v, str)
        else json.dumps(v, sort_keys=True).encode()
        for name, v in values.items()
    }
