"""The store asks the ledger again while its own peer has not committed the presented access transaction."""

from __future__ import annotations

from typing import Any

import pytest
from careledger_protocol import UNKNOWN_ACCESS
from careledger_store._verdicts import ask_until_committed

PENDING = {"granted": False, "code": UNKNOWN_ACCESS, "reason": "no committed access transaction with this id"}
GRANTED = {"granted": True, "reason": "granted"}
OTHER = {"granted": False, "reason": "that transaction was made by another requester"}


def _run(answers: list[dict[str, Any]], wait: float = 3.0) -> tuple[dict[str, Any], int, float]:
    asked, slept = 0, []

    def ask() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        return answers[min(asked, len(answers)) - 1]

    answer = ask_until_committed(ask, lambda a: a.get("code") == UNKNOWN_ACCESS, wait, slept.append)
    return answer, asked, sum(slept)


@pytest.mark.parametrize(
    ("answers", "expected", "asked"),
    [
        ([GRANTED], GRANTED, 1),  # committed already: one question, no wait
        ([OTHER], OTHER, 1),  # a refusal is final at once
        ([PENDING, PENDING, GRANTED], GRANTED, 3),  # the peer caught up
        ([PENDING, OTHER], OTHER, 2),
    ],
)
def test_asks_again_only_while_not_committed(
    answers: list[dict[str, Any]], expected: dict[str, Any], asked: int
) -> None:
    answer, times, _ = _run(answers)
    assert answer == expected
    assert times == asked


def test_gives_up_after_the_wait_with_the_ledgers_answer() -> None:
    answer, times, slept = _run([PENDING], wait=3.0)
    assert answer == PENDING
    assert 3.0 <= slept < 3.6
    assert 5 < times < 15  # backoff, not a busy loop
