"""What a hospital's record store should hold: the records the organization is custodian of, for its admin.

The store's scrub (careledger-network store verify) compares these with the blobs it holds: a current
version's ciphertext that no place holds is lost; a blob no current version names (an erased record's,
restored from a backup taken before the erasure, or a superseded version's) opens for nobody, since its
keys are gone from the ledger, and is deleted. Only ids, versions, status and hashes: no patient, no content.
"""

from __future__ import annotations

from typing import Any

from careledger_protocol import INVALID_ARGUMENT, NOT_AUTHORIZED, documents

from ...runtime import Context, transaction
from . import _schemas as schema
from ._caller import caller, require_role
from ._paging import page
from .records import RECORD


class CustodyMixin:
    @transaction(
        "ListCustodianRecords",
        read_only=True,
        arguments={**schema.PAGE},
        returns=documents.Page[documents.CustodyEntry],
        refusals=(INVALID_ARGUMENT, NOT_AUTHORIZED),
    )
    def list_custodian_records(self, ctx: Context, page_size: str, bookmark: str) -> dict[str, Any]:
        """The records whose ciphertexts the caller's organization keeps (its admins only), paginated over every
        record (a page may hold fewer items than asked; follow the bookmark): id, version, status and the current
        ciphertext's SHA-256."""
        who = caller(ctx)
        require_role(who, "admin")
        found = page(ctx, RECORD, [], page_size, bookmark, keep=lambda r: r["custodian"] == who.msp_id)
        items = [
            {"record_id": r["id"], "version": r["version"], "status": r["status"]}
            | ({"ciphertext_sha256": r["ciphertext_sha256"]} if "ciphertext_sha256" in r else {})
            for r in found["items"]
        ]
        return {"items": items, "bookmark": found["bookmark"]}
