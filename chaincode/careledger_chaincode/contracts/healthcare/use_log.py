"""A model version's use log (the EU AI Act's article 12 as the reference): when it ran, how often, by whom,
and who verified which result. Computed when read from two indexes: one key per batch of inferences
(RecordInferences, holding its count) and one per review (ReviewInference), so that parallel batches never
write a shared key.

GetModelUse is the summary (its size does not grow with use, only with the number of people who ran the
model); ListModelVerifications pages through every review, oldest first. Both answer auditors of the health
authority and the researcher who registered the model (oversight.require_overseer)."""

from __future__ import annotations

from typing import Any

from careledger_protocol import FAILED_PRECONDITION, INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, documents

from ...runtime import Context, transaction
from . import _schemas as schema
from ._caller import caller
from ._paging import page
from ._state import load
from .inferences import INFERENCE_BY_MODEL
from .models import SEMANTIC_VERSION, require_model
from .monitoring import REVIEW_BY_MODEL
from .oversight import require_overseer

_WHO_READS = (INVALID_ARGUMENT, NOT_AUTHORIZED, NOT_FOUND, FAILED_PRECONDITION)


class UseLogMixin:
    @transaction(
        "GetModelUse",
        read_only=True,
        arguments={"model_id": schema.ID, "version": SEMANTIC_VERSION},
        returns=documents.ModelUse,
        refusals=_WHO_READS,
    )
    def get_model_use(self, ctx: Context, model_id: str, version: str) -> dict[str, Any]:
        """A model version's use log: the first and last inference, how many, who ran it and how many results
        were reviewed (who verified each: ListModelVerifications); for auditors of the health authority and the
        researcher who registered it. The ledger keeps it for the channel's life."""
        model = require_model(ctx, model_id, version)
        require_overseer(caller(ctx), model, "a model's use log")
        times: list[str] = []
        users: dict[tuple[str, str], int] = {}
        count = 0
        for composite, raw in ctx.stub.get_state_by_partial_composite_key(INFERENCE_BY_MODEL, [model_id, version]):
            times.append(ctx.stub.split_composite_key(composite)[1][2])
            ran = load(raw)
            user = (ran["requester"], ran["requester_org"])
            ran_now = int(ran.get("inferences", 1))  # a key per inference until layout 7 (Migrate moves them)
            users[user] = users.get(user, 0) + ran_now
            count += ran_now
        reviews = ctx.stub.get_state_by_partial_composite_key(REVIEW_BY_MODEL, [model_id, version])
        latest = {v["inference_id"]: v["decision"] for v in (load(raw) for _, raw in reviews)}
        return {
            "model_id": model_id,
            "version": version,
            "status": model["status"],
            "inferences": count,
            "first_use": times[0] if times else "",
            "last_use": times[-1] if times else "",
            "reviewed": len(latest),
            "confirmed": sum(1 for d in latest.values() if d == "confirm"),
            "overridden": sum(1 for d in latest.values() if d == "override"),
            "users": [{"member_id": m, "org": o, "inferences": n} for (m, o), n in sorted(users.items())],
        }

    @transaction(
        "ListModelVerifications",
        read_only=True,
        arguments={"model_id": schema.ID, "version": SEMANTIC_VERSION, **schema.PAGE},
        returns=documents.Page[documents.Verification],
        refusals=_WHO_READS,
    )
    def list_model_verifications(
        self, ctx: Context, model_id: str, version: str, page_size: str, bookmark: str
    ) -> dict[str, Any]:
        """Who verified which result of a model version, oldest first, paginated: every review (the reasons stay
        with GetInferenceReviews' readers); for auditors of the health authority and the registering researcher."""
        model = require_model(ctx, model_id, version)
        require_overseer(caller(ctx), model, "who verified a model's results")
        return page(ctx, REVIEW_BY_MODEL, [model_id, version], page_size, bookmark)
