"""What every page of both apps shares besides sessions: times shown as `<time>` (readable UTC, turned into
the viewer's local time by static/careledger.js), and the error pages, which keep the navigation and say in
words (_messages) what happened and what to do."""

from __future__ import annotations

import datetime
import zoneinfo

from careledger.errors import ChaincodeRefusal, GatewayError, NotFoundError, UploadPendingError
from careledger.store import StoreError
from flask import Flask, current_app, has_app_context, render_template
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException

from ._messages import (
    FORM_EXPIRED_DETAILS,
    NETWORK_DOWN,
    NO_SUCH_ITEM,
    STORE_FAILED,
    UPLOAD_PENDING,
    FormExpired,
    Page,
    http_page,
    refusal_page,
)


def _moment(value: str) -> datetime.datetime | None:
    try:
        moment = datetime.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def _zone() -> datetime.tzinfo:
    """The app's TIME_ZONE (an IANA name, e.g. the hospital's Europe/Lisbon; UTC by default)."""
    name = str(current_app.config.get("TIME_ZONE", "UTC")) if has_app_context() else "UTC"
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return datetime.UTC


def when(value: str | None) -> Markup:
    """A ledger time (ISO 8601, UTC) as `<time>`: readable text in the app's time zone (TIME_ZONE) that the
    page's script shows in the viewer's local time; the exact value stays in its title."""
    moment = _moment(value or "")
    if moment is None:
        return escape(value or "")
    fraction = f".{moment.microsecond // 1000:03d}" if moment.microsecond else ""  # HTML allows 3 digits
    machine = f"{moment:%Y-%m-%dT%H:%M:%S}{fraction}Z"
    shown = moment.astimezone(_zone())  # the app's time zone until the script shows the viewer's own
    text = f"{shown.day} {shown:%b %Y}, {shown:%H:%M} {shown.tzname() or 'UTC'}"
    return Markup('<time datetime="{}" title="{}" data-local>{}</time>').format(machine, value, text)


def day(value: str | None) -> Markup:
    """The day of a ledger time (a grant's last day), as `<time>`; not converted, it is the day chosen."""
    moment = _moment(value or "")
    if moment is None:
        return escape(value or "")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        moment.date().isoformat(), value, f"{moment.day} {moment:%b %Y}"
    )


def error_page(page: Page, reason: str = "", details: str = "", status: int | None = None) -> tuple[str, int]:
    """An error page with the navigation: `reason` is shown (words for people, e.g. an access decision's),
    `details` folded away for support."""
    text = render_template("error.html", title=page.title, advice=page.advice, reason=reason, details=details)
    return text, status or page.status


def install(app: Flask) -> None:
    app.add_template_filter(when)
    app.add_template_filter(day)

    @app.errorhandler(ChaincodeRefusal)
    def ledger_refusal(exc: ChaincodeRefusal) -> tuple[str, int]:
        return error_page(refusal_page(exc), details=exc.reason)

    @app.errorhandler(GatewayError)
    def network_failure(exc: GatewayError) -> tuple[str, int]:
        return error_page(NETWORK_DOWN)

    @app.errorhandler(NotFoundError)
    def not_found(exc: NotFoundError) -> tuple[str, int]:
        return error_page(NO_SUCH_ITEM, details=str(exc))

    @app.errorhandler(StoreError)
    def store_refusal(exc: StoreError) -> tuple[str, int]:
        return error_page(STORE_FAILED, details=str(exc))

    @app.errorhandler(UploadPendingError)
    def upload_pending(exc: UploadPendingError) -> tuple[str, int]:  # registered; the outbox keeps the ciphertext
        return error_page(UPLOAD_PENDING, details=f"record {exc.record_id}")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:  # 404, 405, 413, a stale form, and 500
        details = FORM_EXPIRED_DETAILS if isinstance(exc, FormExpired) else ""
        return error_page(http_page(exc), details=details, status=exc.code)
