"""After sign-in the apps go back only to a path of their own site: known open-redirect bypasses fail."""

from __future__ import annotations

from typing import Any

import pytest
from careledger_apps._common import safe_next

from tests.unit.test_apps_signin import PASSPHRASE, FakeBrowser, portal

BYPASSES = [
    # scheme-relative and absolute URLs
    "//evil.example",
    "///evil.example",
    "////evil.example",
    "https://evil.example",
    "http:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "",
    # what browsers strip (tabs, newlines anywhere; controls and spaces at the ends) or read as "/"
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/ /evil.example",
    "/\x00/evil.example",
    "\x00//evil.example",
    "/\x0b/evil.example",
    "/\x7f/evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "\\/evil.example",
    # percent-encoded versions of all that (the query string was decoded once already)
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%0D%0A/evil.example",
    "/%00/evil.example",
    "/%20/evil.example",
    "/%2F%2Fevil.example",
    "/%2f%2fevil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%5c%5cevil.example",
    "%0d%0aSet-Cookie:%20x=1",
    # unicode spaces, separators and invisible characters
    "/\u2028/evil.example",
    "/\u3000/evil.example",
    "/\u200b/evil.example",
    "/\ufeff/evil.example",
    "/\u00a0/evil.example",
    "/%E3%80%80/evil.example",
    "/\uff0f\uff0fevil.example",
    # fragments, paths with empty segments, oversized
    "/#//evil.example",
    "/.//evil.example",
    "/grants//evil.example",
    "/" + "a" * 5000,
]

SAME_SITE = ["/", "/grants", "/log", "/patients/h1-patient-1", "/grants?page=2", "/records/abc-123/open?x=1&y=2"]


@pytest.mark.parametrize("target", BYPASSES)
def test_known_bypasses_go_to_the_default(target: str) -> None:
    assert safe_next(target, "/home") == "/home"


@pytest.mark.parametrize("target", SAME_SITE)
def test_same_site_paths_are_kept(target: str) -> None:
    assert safe_next(target, "/home") == target


def test_none_goes_to_the_default() -> None:
    assert safe_next(None, "/home") == "/home"


@pytest.mark.parametrize(
    "query",
    ["/%09/evil.example", "//evil.example", "https://evil.example/steal", "/%252F%252Fevil.example", "%5C%5Cevil"],
)
def test_sign_in_never_redirects_off_site(query: str, tmp_path: Any) -> None:
    app, _ = portal(tmp_path)
    browser = FakeBrowser(app)
    response = browser.login("h1-patient-1", PASSPHRASE, query=f"next={query}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_sign_in_keeps_a_same_site_next(tmp_path: Any) -> None:
    app, _ = portal(tmp_path)
    response = FakeBrowser(app).login("h1-patient-1", PASSPHRASE, query="next=/grants%3Fpage%3D2")
    assert response.headers["Location"] == "/grants?page=2"
