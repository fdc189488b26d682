"""The portal's proxy pages offline (Flask test client, scripted sessions): naming and revoking a proxy, and
acting for someone — the banner on every page, and every write sent with the patient it is for."""

from __future__ import annotations

import html

from careledger.errors import NotAuthorized

from .proxy_sessions import CHILD, PARENT, acting, proxy_portal

BANNER = "You are acting for"


def text(response: object) -> str:
    return html.unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


def test_people_who_can_act_for_me_lists_them_and_names_one() -> None:
    browser, session = proxy_portal()
    page = text(browser.page("/proxies"))
    assert "People who can act for me" in page
    assert PARENT in page
    assert 'type="date" name="until"' in page
    response = browser.send("/proxies", {"proxy": PARENT, "right": ["view", "grant"], "until": "2099-01-31"})
    assert response.status_code == 302
    assert session.calls[-1] == ("name_proxy", PARENT, ["grant", "view"], "2099-01-31T23:59:59Z")


def test_the_proxy_form_says_its_problems_in_words_and_keeps_the_input() -> None:
    browser, session = proxy_portal()
    response = browser.send("/proxies", {"proxy": "h2-parent-1", "right": "grant", "until": "2000-01-01"})
    page = text(response)
    assert response.status_code == 400
    assert "Enter their full member id" in page
    assert "must also be able to see your records" in page
    assert 'value="h2-parent-1"' in page
    assert not session.calls


def test_a_ledger_refusal_of_the_proxy_form_is_said_in_words() -> None:
    browser, session = proxy_portal()
    session.refuse = NotAuthorized("x", reason="only the patient may name a proxy")
    response = browser.send("/proxies", {"proxy": PARENT, "right": "view", "until": "2099-01-01"})
    assert response.status_code == 403
    assert "You may only name people who act for yourself." in text(response)


def test_revoking_a_proxy_asks_first() -> None:
    browser, session = proxy_portal()
    page = text(browser.page("/proxies/px-1/revoke"))
    assert "Yes, stop them" in page
    assert not session.calls
    assert browser.send("/proxies/px-1/revoke", {"confirm": "revoke"}).status_code == 302
    assert session.calls == [("revoke_proxy", PARENT)]
    assert browser.page("/proxies/px-9/revoke").status_code == 404


def test_a_proxy_chooses_whom_to_act_for_and_every_page_says_so() -> None:
    browser, _ = proxy_portal()
    assert browser.page("/acting/records").headers["Location"].endswith("/acting")  # choose first
    acting(browser)
    for path in ("/acting/records", "/acting/grants", "/acting/log"):
        response = browser.page(path)
        assert response.status_code == 200
        assert BANNER in text(response)
        assert CHILD not in path
    assert "rec-7" in text(browser.page("/acting/records"))
    assert f"by you for {CHILD}" in text(browser.page("/acting/log"))


def test_acting_sends_the_patient_with_every_act() -> None:
    browser, session = proxy_portal()
    acting(browser)
    assert "Hemoglobin" in text(browser.send("/acting/records/rec-7/read", {}))
    assert session.calls[-1] == ("open_for", CHILD, ["rec-7"])
    form = {"grantee": "h1-clinician-1@Hospital1MSP", "record": "rec-7", "purpose": "treatment", "until": "2099-01-01"}
    assert browser.send("/acting/grants", form).status_code == 302
    assert session.calls[-1][-1] == {"on_behalf_of": CHILD}
    assert "Yes, revoke access" in text(browser.page("/acting/grants/g-7/revoke"))
    assert browser.send("/acting/grants/g-7/revoke", {"confirm": "revoke"}).status_code == 302
    assert session.calls[-1] == ("revoke", "g-7")


def test_only_the_rights_held_are_offered() -> None:
    browser, _ = proxy_portal(rights=["revoke"])
    acting(browser)
    page = text(browser.page("/acting/grants"))
    assert "Give access for them" not in page
    assert "You may not see the access they have given" in page
    assert "You may not see their records." in text(browser.page("/acting/records"))


def test_nobody_acts_for_someone_who_did_not_name_them_and_stopping_ends_it() -> None:
    browser, _ = proxy_portal()
    assert browser.send("/acting", {"relation": "px-1"}).status_code == 404  # Alice's own proxy, not hers to use
    acting(browser)
    assert browser.send("/acting", {"relation": ""}).status_code == 302
    assert browser.page("/acting/log").status_code == 302


def test_the_patients_own_log_says_what_their_proxy_did_for_them() -> None:
    browser, _ = proxy_portal()
    page = text(browser.page("/log"))
    assert PARENT in page
    assert "done by your proxy, for you" in page
