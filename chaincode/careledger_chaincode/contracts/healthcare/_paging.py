"""Pages of a listing: the page size and bookmark a caller passes, and one page of a composite-key range.
The stub refuses a bookmark outside the range queried (runtime OutOfRange)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...runtime import Context
from ._refusals import invalid
from ._state import key, load

MAX_PAGE = 1000
DEFAULT_PAGE = 50
MAX_BOOKMARK = 1024


def page_args(page_size: str, bookmark: str) -> tuple[int, str]:
    try:
        size = int(page_size) if page_size else DEFAULT_PAGE
    except ValueError:
        raise invalid(f"page_size must be an integer from 1 to {MAX_PAGE}") from None
    if not 1 <= size <= MAX_PAGE:
        raise invalid(f"page_size must be an integer from 1 to {MAX_PAGE}")
    if len(bookmark) > MAX_BOOKMARK:
        raise invalid("bookmark is too long: pass back the bookmark of the previous page")
    return size, bookmark


def page(
    ctx: Context,
    kind: str,
    parts: list[str],
    page_size: str,
    bookmark: str,
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    size, mark = page_args(page_size, bookmark)
    rows, next_mark = ctx.stub.get_state_by_partial_composite_key_paginated(kind, parts, size, mark)
    items = [load(v) for _, v in rows]
    if keep is not None:
        items = [i for i in items if keep(i)]
    return {"items": items, "bookmark": next_mark}


def index_page(
    ctx: Context, index: str, parts: list[str], page_size: str, bookmark: str, kind: str
) -> tuple[list[dict[str, Any]], str]:
    """One page of an index whose keys end in the ids of `kind` documents: those documents, in index order,
    and the bookmark of the next page."""
    size, mark = page_args(page_size, bookmark)
    rows, next_mark = ctx.stub.get_state_by_partial_composite_key_paginated(index, parts, size, mark)
    ids = [ctx.stub.split_composite_key(k)[1][-1] for k, _ in rows]
    return [load(d) for d in ctx.stub.get_states([key(ctx, kind, i) for i in ids]) if d], next_mark
