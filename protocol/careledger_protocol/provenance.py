"""How a model's training cohort is committed to: a Merkle tree over the record versions it was trained on.

A leaf names one record version exactly as the access decision that released it did (record id, version,
ciphertext SHA-256). Leaves are sorted by record id; a node hashes its two children; a lone node at the end
of a level moves up unchanged. Leaves and nodes are hashed with different prefixes (0x00, 0x01) so a node
can never pass for a leaf. The chaincode checks a registered root against the ledger's access decisions,
and anyone holding the leaves (the model's cohort file) recomputes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import NamedTuple


class CohortLeaf(NamedTuple):
    record_id: str
    version: int
    ciphertext_sha256: str

    def digest(self) -> bytes:
        text = json.dumps([self.record_id, self.version, self.ciphertext_sha256], separators=(",", ":"))
        return hashlib.sha256(b"\x00" + text.encode()).digest()


def merkle_root(leaves: Iterable[CohortLeaf]) -> str:
    """The cohort's root (hex); the leaves are put in record-id order first. An empty cohort has none."""
    level = [leaf.digest() for leaf in sorted(leaves)]
    if not level:
        raise ValueError("an empty cohort has no Merkle root")
    while len(level) > 1:
        paired = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        level = paired + level[len(paired) * 2 :]
    return level[0].hex()


def sha256_of_json(value: object) -> str:
    """The SHA-256 of a JSON value in its canonical form (sorted keys, no spaces): how schemas are hashed."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# Registered metrics are rounded to 6 decimals; a recomputation that differs by more did not reproduce them.
METRIC_TOLERANCE = 1e-6


def metric_mismatches(
    registered: Mapping[str, float],
    registered_subgroups: Mapping[str, Mapping[str, float]],
    recomputed: Mapping[str, float],
    recomputed_subgroups: Mapping[str, Mapping[str, float]],
) -> list[str]:
    """Registered metrics, overall and per subgroup, that a recomputation does not reproduce, in words."""
    found: list[str] = []
    pairs = [("", registered, recomputed)]
    pairs += [(f"subgroup {g} ", r, recomputed_subgroups.get(g, {})) for g, r in sorted(registered_subgroups.items())]
    for where, expected, got in pairs:
        for name, value in sorted(expected.items()):
            if name not in got:
                found.append(f"{where}{name} was not recomputed")
            elif abs(got[name] - value) > METRIC_TOLERANCE:
                found.append(f"{where}{name}: registered {value}, recomputed {got[name]}")
    return found
