"""A chaincode (and optionally one of its contracts) on a channel: proposals, and the evaluate / submit
conveniences over the explicit steps (new_proposal → endorse → submit → commit status)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._proposal_builder import build_proposal
from ._transaction import Proposal, SubmittedTransaction

if TYPE_CHECKING:
    from ._network import Network

Argument = str | bytes


@dataclass
class Contract:
    network: Network
    chaincode: str
    contract: str = ""

    def _qualified(self, name: str) -> str:
        return f"{self.contract}:{name}" if self.contract else name

    def new_proposal(
        self,
        name: str,
        args: Sequence[Argument] = (),
        *,
        transient: dict[str, bytes] | None = None,
        endorsing_organizations: Sequence[str] = (),
    ) -> Proposal:
        """A proposal to call `name`; `endorsing_organizations` limits who endorses (or evaluates) it."""
        encoded = [self._qualified(name).encode()] + [a if isinstance(a, bytes) else a.encode() for a in args]
        gateway = self.network.gateway
        tx_id, proposal_bytes = build_proposal(
            channel=self.network.name,
            chaincode=self.chaincode,
            args=encoded,
            creator=gateway.creator,
            transient=transient,
            tls_certificate_hash=gateway.tls_certificate_hash,
        )
        return Proposal(self.network, tx_id, proposal_bytes, list(endorsing_organizations))

    def evaluate(
        self,
        name: str,
        args: Sequence[Argument] = (),
        *,
        transient: dict[str, bytes] | None = None,
        endorsing_organizations: Sequence[str] = (),
        timeout: float | None = None,
    ) -> bytes:
        """Ask one peer (of `endorsing_organizations` when named) for the chaincode's answer, not committed."""
        proposal = self.new_proposal(name, args, transient=transient, endorsing_organizations=endorsing_organizations)
        return proposal.evaluate(timeout)

    def submit_async(
        self,
        name: str,
        args: Sequence[Argument] = (),
        *,
        transient: dict[str, bytes] | None = None,
        endorsing_organizations: Sequence[str] = (),
    ) -> SubmittedTransaction:
        """Endorse and send to the orderers; returns once the orderers accepted it, with the result and the
        commit to wait on."""
        proposal = self.new_proposal(name, args, transient=transient, endorsing_organizations=endorsing_organizations)
        return proposal.endorse().submit()

    def submit(
        self,
        name: str,
        args: Sequence[Argument] = (),
        *,
        transient: dict[str, bytes] | None = None,
        endorsing_organizations: Sequence[str] = (),
    ) -> bytes:
        """Endorse, order and wait for a VALID commit (else CommitError); returns the chaincode's result."""
        submitted = self.submit_async(name, args, transient=transient, endorsing_organizations=endorsing_organizations)
        submitted.raise_for_status()
        return submitted.result

    def evaluate_transaction(self, name: str, *args: Argument, transient: dict[str, bytes] | None = None) -> bytes:
        return self.evaluate(name, args, transient=transient)

    def submit_transaction(
        self,
        name: str,
        *args: Argument,
        transient: dict[str, bytes] | None = None,
        endorsing_organizations: Sequence[str] = (),
    ) -> bytes:
        return self.submit(name, args, transient=transient, endorsing_organizations=endorsing_organizations)
