"""axe-core (WCAG 2.2 A and AA rules) over every page of the four web apps, in Debian's Chromium, offline: the
pages are rendered by Flask's test client with scripted sessions (app_sessions.py), saved to files beside a
copy of the static folder, and loaded from file:// (no server, no network). The same browser checks what
needs one: the layout of a 390 px wide phone, the skip link and focus outline, local times and busy buttons.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit import app_sessions

CHROMIUM = Path("/usr/bin/chromium")
STATIC = Path(__file__).resolve().parents[2] / "apps" / "careledger_apps" / "static"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every page as a file, its /static/ links pointing at a copy of the static folder beside it."""
    folder = tmp_path_factory.mktemp("pages")
    shutil.copytree(STATIC, folder / "static")
    files = {}
    for name, (_status, html) in app_sessions.pages().items():
        path = folder / (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + ".html")
        path.write_text(html.replace('"/static/', '"static/'))
        files[name] = path
    return files


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make browser)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _page(browser: Any, **options: Any) -> Any:
    context = browser.new_context(offline=True, **options)
    return context.new_page()


def test_axe_finds_no_violation_on_any_page(browser: Any, saved: dict[str, Path]) -> None:
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    page = _page(browser)
    found = {}
    for name, path in saved.items():
        page.goto(path.as_uri())
        results = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
        if results.violations_count:
            found[name] = results.generate_report()
    assert found == {}, "\n\n".join(f"== {name}\n{report}" for name, report in found.items())


def test_axe_is_not_blind(browser: Any, saved: dict[str, Path], tmp_path: Path) -> None:
    """The same run finds the mistakes it should: a field without a label, text without contrast."""
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    html = saved["hospital /emergency"].read_text()
    broken = html.replace('<label for="emergency-record_id">Record id</label>', "")
    broken = broken.replace("</form>", '</form><p class="hint" lang="en">faint</p>')
    (tmp_path / "static").symlink_to(saved["hospital /emergency"].parent / "static")
    (tmp_path / "broken.html").write_text(broken.replace('class="hint" lang="en"', 'class="faint"'))
    (tmp_path / "static-extra.css").write_text(".faint { color: #bbbbbb; }")
    page = _page(browser)
    page.goto((tmp_path / "broken.html").as_uri())
    page.add_style_tag(path=str(tmp_path / "static-extra.css"))
    results = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
    rules = {v["id"] for v in results.response["violations"]}
    assert {"label", "color-contrast"} <= rules


def test_no_page_is_wider_than_a_phone(browser: Any, saved: dict[str, Path]) -> None:
    page = _page(browser, viewport=PHONE)
    wide = {}
    for name, path in saved.items():
        page.goto(path.as_uri())
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            wide[name] = width
    assert wide == {}, f"pages that scroll sideways at {PHONE['width']} px: {wide}"


def test_a_wide_table_scrolls_inside_its_box_on_a_phone(browser: Any, saved: dict[str, Path]) -> None:
    page = _page(browser, viewport=PHONE)
    page.goto(saved["portal /log"].as_uri())
    box = page.evaluate(
        "(() => { const b = document.querySelector('.table-scroll');"
        " return [b.scrollWidth, b.clientWidth, getComputedStyle(b).overflowX]; })()"
    )
    assert box[2] == "auto"
    assert box[1] <= PHONE["width"]


def test_the_skip_link_is_the_first_tab_stop_and_shows_its_focus(browser: Any, saved: dict[str, Path]) -> None:
    page = _page(browser, viewport=PHONE)
    page.goto(saved["portal /grants"].as_uri())
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "(() => { const e = document.activeElement; const r = e.getBoundingClientRect();"
        " return [e.textContent, e.getAttribute('href'), r.top >= 0 && r.bottom > 0,"
        " getComputedStyle(e).outlineStyle]; })()"
    )
    assert focused[0] == "Skip to main content"
    assert focused[1] == "#main"
    assert focused[2], "the skip link stays off screen when focused"
    assert focused[3] != "none"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_times_are_shown_in_the_viewers_time_zone(browser: Any, saved: dict[str, Path]) -> None:
    page = _page(browser, timezone_id="Asia/Tokyo", locale="en-GB")
    page.goto(saved["portal /log"].as_uri())
    first = page.locator('time[datetime="2026-03-01T14:05:00Z"]')
    assert "23:05" in first.inner_text()  # 14:05 UTC
    assert "UTC" not in first.inner_text()
    assert first.get_attribute("title") == "2026-03-01T14:05:00.000000Z (UTC)"


def test_a_slow_action_disables_its_button_and_says_it_is_working(browser: Any, saved: dict[str, Path]) -> None:
    page = _page(browser)
    page.goto(saved["portal /records/rec-1/erase"].as_uri())
    page.evaluate("window.addEventListener('submit', (e) => e.preventDefault())")  # stay on the page
    page.click("#confirm-erase")
    assert page.evaluate("document.querySelector('#erase-confirm').validity.valueMissing")  # the box first
    assert page.locator("#confirm-erase").is_enabled()
    page.check("#erase-confirm")
    page.click("#confirm-erase")
    page.wait_for_function("document.querySelector('#confirm-erase').disabled")
    assert page.locator("#confirm-erase").inner_text() == "Erasing…"
    assert "Erasing…" in page.locator("#busy-status").inner_text()


def test_the_error_summary_takes_the_focus(browser: Any, saved: dict[str, Path]) -> None:
    page = _page(browser)
    page.goto(saved["portal grant refused in words"].as_uri())
    page.wait_for_function("document.activeElement && document.activeElement.id === 'grant-problems'")
