"""Every page of the four web apps, rendered offline (scripted sessions, see app_sessions.py), passes the markup
checks of html_checks.py: viewport, skip link, landmarks, labels, `th scope`, unique ids, text alternatives.
The stylesheet's colours meet WCAG AA contrast, and the checker itself is shown to catch each mistake."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.unit import app_sessions, html_checks
from tests.unit.app_sessions import BASE

STATIC = Path(__file__).resolve().parents[2] / "apps" / "careledger_apps" / "static"
PAGES = app_sessions.pages()
# The model pages belong to the model-card work (issue 19 elsewhere): checked here for what base.html gives.
MODEL_PAGES = {"portal /models": "portal", "hospital /models": "hospital"}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_page_passes_the_markup_checks(name: str) -> None:
    status, html = PAGES[name]
    assert status < 500
    assert html_checks.problems(html) == []


def test_every_page_of_both_apps_was_checked() -> None:
    portal, hospital = app_sessions.portal()[0].client.application, app_sessions.hospital()[0].client.application
    for app, prefix in ((portal, "portal"), (hospital, "hospital")):
        html_gets = {
            r.rule
            for r in app.url_map.iter_rules()
            if "GET" in (r.methods or ()) and r.endpoint.startswith("main.") and not r.rule.startswith("/models")
        }
        html_gets -= {"/log/stream", "/export"}  # an event stream and a download, not pages
        checked = {n.split(" ", 1)[1] for n in PAGES if n.startswith(f"{prefix} /")}
        patterns = {rule: re.sub(r"<[^>]+>", "[^/]+", rule) for rule in html_gets}
        unchecked = {rule for rule, pattern in patterns.items() if not any(re.fullmatch(pattern, c) for c in checked)}
        assert unchecked == set(), f"{prefix} pages without a markup check: {unchecked}"


@pytest.mark.parametrize("name", sorted(MODEL_PAGES))
def test_the_model_pages_have_the_shared_frame(name: str) -> None:
    browser = app_sessions.portal()[0] if MODEL_PAGES[name] == "portal" else app_sessions.hospital()[0]
    html = browser.page("/models").get_data(as_text=True)
    frame = [p for p in html_checks.problems(html) if "th>" not in p and "scrolling box" not in p]
    assert frame == []


def test_error_pages_keep_the_navigation() -> None:
    for name in ("portal /nowhere", "hospital /nowhere", "portal revoke refused by the ledger"):
        html = PAGES[name][1]
        nav = html_checks.parse(html).walk()
        links = [n for n in nav if n.tag == "a" and any(a.tag == "nav" for a in n.ancestors())]
        assert len(links) >= 5, name
        assert "Sign out" in html
    signed_out = PAGES["portal not found, signed out"][1]
    assert '<a href="/login"' in signed_out


def test_times_are_shown_as_time_elements_with_utc_text() -> None:
    html = PAGES["portal /log"][1]
    shown = '<time datetime="2026-03-01T14:05:00Z" title="2026-03-01T14:05:00.000000Z" data-local>'
    assert f"{shown}1 Mar 2026, 14:05 UTC</time>" in html
    home = PAGES["portal /"][1]
    assert '<time datetime="2026-01-01T09:30:00.123Z"' in home  # three fraction digits at most, as HTML allows
    grants = PAGES["portal /grants"][1]
    assert '<time datetime="2099-12-31" title="2099-12-31T23:59:59Z">31 Dec 2099</time>' in grants
    assert "careledger.js" in grants
    script = (STATIC / "careledger.js").read_text()
    assert "time[data-local]" in script
    assert "Intl.DateTimeFormat" in script


def test_the_live_log_is_announced_politely() -> None:
    html = PAGES["portal /log"][1]
    tree = html_checks.parse(html).walk()
    polite = [n for n in tree if n.attrs.get("aria-live") == "polite"]
    assert {n.attrs.get("id") for n in polite} >= {"live-status", "live-announcements"}
    assert "live-announcements" in (STATIC / "live-log.js").read_text()


def test_every_field_with_a_problem_says_it_next_to_itself() -> None:
    for name in ("portal grant refused in words", "hospital new record problems", "hospital emergency problems"):
        tree = html_checks.parse(PAGES[name][1]).walk()
        invalid = [n for n in tree if n.attrs.get("aria-invalid") == "true"]
        assert invalid, name
        ids = {n.attrs.get("id"): n for n in tree}
        for field in invalid:
            said = [ids[i].text() for i in field.attrs["aria-describedby"].split() if i.endswith("-error")]
            assert said, field.where()
            assert all(s.strip() for s in said), field.where()


# The checker catches what it is for: each broken page gives the problem named.
GOOD = PAGES["hospital /emergency"][1]
BROKEN = [
    (GOOD.replace('<meta name="viewport" content="width=device-width, initial-scale=1">', ""), "viewport"),
    (GOOD.replace('<a class="skip-link" href="#main">Skip to main content</a>', ""), "skip link"),
    (GOOD.replace('<main id="main" tabindex="-1">', "<div>").replace("</main>", "</div>"), "<main>"),
    (GOOD.replace('<html lang="en">', "<html>"), "lang"),
    (GOOD.replace('<label for="emergency-record_id">Record id</label>', ""), "has no label"),
    (GOOD.replace('id="emergency-warning"', 'id="main"'), 'id "main" is used 2 times'),
    (GOOD.replace("</form>", "<table><tr><th>x</th></tr></table></form>"), "has no scope"),
    (GOOD.replace("</form>", '<div class="table-scroll"><img src="x.png"></div></form>'), "has no alt"),
    (GOOD.replace("</form>", '<svg role="img"><rect/></svg></form>'), "no text alternative"),
    (GOOD.replace("</form>", "<button></button></form>"), "has no text"),
    (GOOD.replace('name="record_id"', 'name="record_id" aria-describedby="nothing"'), '"nothing"'),
    (GOOD.replace('name="record_id"', 'name="record_id" aria-invalid="true"'), "without saying why"),
    (GOOD.replace('<p class="emergency"', '<p style="color: red" class="emergency"'), "inline style"),
]


@pytest.mark.parametrize(("html", "expected"), BROKEN)
def test_the_checker_finds_each_mistake(html: str, expected: str) -> None:
    assert html != GOOD
    assert any(expected in p for p in html_checks.problems(html)), html_checks.problems(html)


# Colour contrast of the stylesheet (WCAG 2.2 AA): text 4.5:1 on its background, focus outlines 3:1.
def _luminance(colour: str) -> float:
    hex_ = colour.lstrip("#")
    if len(hex_) == 3:
        hex_ = "".join(c * 2 for c in hex_)
    channels = [int(hex_[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _rules(css: str) -> list[tuple[str, dict[str, str]]]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    out = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        declarations = dict(
            (k.strip(), v.strip()) for k, _, v in (d.partition(":") for d in body.split(";")) if k.strip()
        )
        out.append((selector.strip(), declarations))
    return out


def _colour(value: str) -> str | None:
    found = re.search(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b", value)
    return found.group(0) if found else None


def test_the_stylesheet_meets_contrast() -> None:
    rules = _rules((STATIC / "careledger.css").read_text())
    body = dict(rules[0][1]) if rules[0][0] == "body" else {}
    text, page = _colour(body.get("color", "")), _colour(body.get("background", ""))
    header = next(_colour(d["background"]) for s, d in rules if s == "header")
    assert text
    assert page
    assert header
    checked = 0
    for selector, declarations in rules:
        fg = _colour(declarations.get("color", ""))
        bg = _colour(declarations.get("background", declarations.get("background-color", "")))
        in_header = all(s.strip().startswith("header") for s in selector.split(","))
        if fg or bg:
            ratio = contrast(fg or ("#ffffff" if in_header else text), bg or (header if in_header else page))
            assert ratio >= 4.5, f"{selector}: contrast {ratio:.2f}"
            checked += 1
        outline = _colour(declarations.get("outline", declarations.get("outline-color", "")))
        if outline:
            ratio = contrast(outline, header if in_header else page)
            assert ratio >= 3, f"{selector}: focus outline contrast {ratio:.2f}"
    assert checked >= 10


def test_contrast_is_computed_as_wcag_says() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") < 4.5 < contrast("#767676", "#ffffff")


def test_the_stylesheet_has_focus_styles_and_a_phone_layout() -> None:
    css = (STATIC / "careledger.css").read_text()
    assert ":focus-visible" in css
    assert "outline: 3px" in css
    assert re.search(r"@media \(max-width: *\d+em\)", css)
    assert re.search(r"\.table-scroll \{[^}]*overflow-x: auto", css)
    assert re.search(r"\.skip-link:focus \{", css)


def test_static_files_are_served() -> None:
    client = app_sessions.anonymous("portal")
    for name in ("careledger.css", "careledger.js", "live-log.js"):
        assert client.get(f"/static/{name}", base_url=BASE).status_code == 200
