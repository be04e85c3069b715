"""The dashboard and the web chat in a real headless Chromium (Debian's, driven by Playwright)."""
from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from helpline.models import Escalation
from tests.support import post_twilio, run_jobs, sms, wa

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                reason="Debian's chromium is not installed (make test installs it)")


@pytest.fixture
def live(app):  # type: ignore[no-untyped-def]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def log_in(page, live: str, email: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live + "/dashboard")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("#main:not([hidden])")


def until(check, app=None, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    """Waits for a condition the page reaches by itself (polling), running queued jobs meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app is not None:
            run_jobs(app)
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError("condition not reached")


def test_volunteer_answers_an_arabic_contact_right_to_left(app, client, fakes, live, browser):
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    log_in(page, live, "amal@example.org", "amal-password-1")
    page.check("#available")
    until(lambda: page.is_checked("#available"))
    time.sleep(0.5)
    number = "+4915100000901"
    post_twilio(client, wa(number, "مرحبا"))
    run_jobs(app)
    post_twilio(client, wa(number, "أريد التحدث مع شخص من فضلكم"))
    run_jobs(app)
    item = page.wait_for_selector("#conversations li", timeout=15000)
    assert "4915100000901" not in page.content()
    item.click()
    page.wait_for_selector("#transcript li")
    assert page.get_attribute("#transcript", "dir") == "rtl"
    direction = page.eval_on_selector("#transcript li", "el => getComputedStyle(el).direction")
    assert direction == "rtl"
    # a canned response in the contact's language goes into the reply box, then out to the contact
    until(lambda: page.locator("#canned option").count() > 3)
    greeting = app.extensions["helpline"].content.text("canned.greeting", "ar", name="Amal")
    page.select_option("#canned", value=greeting)
    assert page.input_value("#reply-text") == greeting
    assert page.get_attribute("#reply-text", "dir") == "rtl"
    page.screenshot(path=str(ARTIFACTS / "volunteer-conversation-ar.png"), full_page=True)
    page.click("#reply button[type=submit]")
    until(lambda: any(m.text == greeting for m in fakes.messages("whatsapp:" + number)), app)
    page.fill("#reply-text", "أهلا، أنا أمل. كيف أساعدك؟")
    page.click("#reply button[type=submit]")
    until(lambda: any("أمل" in m.text for m in fakes.messages("whatsapp:" + number)), app)
    # the escalate button starts the paging ladder
    page.click("#escalate-box summary")
    page.select_option("#escalate-category", "violence")
    page.fill("#escalate-reason", "says a man threatens her at the shelter")
    page.click("#escalate button[type=submit]")

    def escalated():  # type: ignore[no-untyped-def]
        with app.extensions["helpline"].db.session() as s:
            return s.scalar(select(Escalation.category))
    assert until(escalated) == "violence"
    page.wait_for_selector("#conv-badges .badge.crisis")
    page.screenshot(path=str(ARTIFACTS / "volunteer-escalated.png"), full_page=True)
    page.close()


def test_supervisor_acknowledges_and_resolves_an_escalation(app, client, fakes, live, browser):
    post_twilio(client, sms("+4915100000902", "I want to kill myself tonight"))
    run_jobs(app)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(page, live, "sam@example.org", "sam-password-1")
    page.wait_for_selector("#esc-count:not([hidden])", timeout=15000)
    page.click("#tabs button[data-view=escalations]")
    page.wait_for_selector("#escalations tr button.danger", timeout=15000)
    until(lambda: re.search(r"\d+ (s|min)", page.locator("#escalations .timer").first.text_content() or ""))
    page.screenshot(path=str(ARTIFACTS / "supervisor-escalations.png"), full_page=True)
    page.click("#escalations tr button.danger")  # the table is redrawn every refresh: found anew, not held

    def status() -> str:
        with app.extensions["helpline"].db.session() as s:
            return s.scalar(select(Escalation.status))
    until(lambda: status() == "acknowledged")
    page.select_option("#esc-status", "acknowledged")
    page.wait_for_selector("#escalations form.resolve input[name=outcome]")
    page.fill("#escalations form.resolve input[name=outcome]", "safety_plan")
    page.fill("#escalations form.resolve input[name=notes]", "called back, safe with a friend")
    with page.expect_response(lambda r: "/api/escalations?status=acknowledged" in r.url):
        pass  # the next refresh redraws the list: what was typed, and the focus, survive it
    page.wait_for_function("() => document.querySelectorAll('#escalations tr').length > 0")
    assert page.input_value("#escalations form.resolve input[name=outcome]") == "safety_plan"
    assert page.evaluate("document.activeElement.name") == "notes"
    page.type("#escalations form.resolve input[name=notes]", " tonight")
    page.click("#escalations form.resolve button[type=submit]")
    until(lambda: status() == "resolved")
    with app.extensions["helpline"].db.session() as s:
        assert s.scalar(select(Escalation.outcome)) == "safety_plan"
    page.close()


def test_supervisor_pages_queue_team_staff_and_metrics(app, client, fakes, live, browser):
    for number, text in (("+4915100000903", "Hello"), ("+4915100000904", "مرحبا")):
        for t in (text, "HUMAN"):
            post_twilio(client, sms(number, t))
            run_jobs(app)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, live, "sam@example.org", "sam-password-1")
    page.click("#tabs button[data-view=queue]")
    until(lambda: page.locator("#queue tr").count() == 2)
    assert "4915100000903" not in page.content()
    page.screenshot(path=str(ARTIFACTS / "supervisor-queue.png"), full_page=True)
    # staff management: add a volunteer who speaks Arabic; the waiting Arabic contact can then be served
    page.click("#tabs button[data-view=staff]")
    page.wait_for_selector("#staff tr")
    form = "#staff-new "
    page.fill(form + "input[name=name]", "Rania")
    page.fill(form + "input[name=email]", "rania@example.org")
    page.fill(form + "input[name=languages]", "ar, en")
    page.fill(form + "input[name=trained_until]", "2099-01-01")
    page.fill(form + "input[name=password]", "rania-password-1")
    page.click(form + "button[type=submit]")
    until(lambda: "rania@example.org" in (page.text_content("#staff") or ""))
    page.screenshot(path=str(ARTIFACTS / "supervisor-staff.png"), full_page=True)
    volunteer = app.test_client()
    volunteer.post("/api/login", json={"email": "rania@example.org", "password": "rania-password-1"})
    assert volunteer.get("/api/me").status_code == 200
    page.click("#tabs button[data-view=metrics]")
    page.wait_for_selector("#chart-days svg rect", timeout=20000)
    page.wait_for_selector("#chart-languages svg rect")
    assert page.locator("#chart-waits").count() == 1
    assert page.locator("#metric-cards .card-metric").count() >= 6
    page.screenshot(path=str(ARTIFACTS / "supervisor-metrics.png"), full_page=True)
    page.close()


def test_web_chat_contact_gets_answers_live(app, live, browser):
    page = browser.new_page(viewport={"width": 390, "height": 800})  # a small phone
    page.goto(live + "/chat")
    page.fill("#text", "Hello")
    page.click("#send button")
    until(lambda: page.locator("#log li").count() >= 2, app)
    assert "Welcome" in page.inner_text("#log")
    page.fill("#text", "How do I apply for asylum?")
    page.click("#send button")
    until(lambda: "BAMF" in page.inner_text("#log"), app)
    page.screenshot(path=str(ARTIFACTS / "web-chat.png"), full_page=True)
    page.close()


def test_web_chat_speaks_the_browsers_language_and_can_change_it(app, live, browser):
    """A phone set to Arabic gets the page right-to-left in Arabic, and the first answer in Arabic."""
    content = app.extensions["helpline"].content
    page = browser.new_context(locale="ar-SY", viewport={"width": 390, "height": 800}).new_page()
    page.goto(live + "/chat")
    assert page.get_attribute("html", "dir") == "rtl" and page.get_attribute("html", "lang") == "ar"
    assert page.inner_text("#send button") == content.text("webchat.send", "ar")
    assert page.inner_text("h1") == content.text("webchat.title", "ar")
    page.fill("#text", "?")
    page.click("#send button")
    until(lambda: page.locator("#log li").count() >= 2, app)
    assert content.text("welcome", "ar")[:30] in page.inner_text("#log")
    page.screenshot(path=str(ARTIFACTS / "web-chat-ar.png"), full_page=True)
    page.select_option("#lang", "uk")  # the picker reloads the page in the chosen language
    page.wait_for_url("**/chat?lang=uk")
    assert page.get_attribute("html", "dir") == "ltr"
    assert page.inner_text("#send button") == content.text("webchat.send", "uk")
    until(lambda: page.locator("#log li").count() >= 2, app)  # the conversation is still there
    page.close()


def test_web_chat_contact_and_dashboard_volunteer_talk_live(app, live, browser):
    """A contact writes in /chat, a volunteer answers in the dashboard, the contact sees it live."""
    volunteer = browser.new_page(viewport={"width": 1200, "height": 800})
    log_in(volunteer, live, "claire@example.org", "claire-password-1")
    volunteer.check("#available")
    until(lambda: volunteer.is_checked("#available"))
    contact = browser.new_context(viewport={"width": 390, "height": 800}).new_page()  # its own cookie jar
    contact.goto(live + "/chat")
    for text in ("Bonjour", "Je voudrais parler à une personne"):
        contact.fill("#text", text)
        contact.click("#send button")
        until(lambda: text in contact.inner_text("#log"), app)
    until(lambda: volunteer.locator("#conversations li").count() == 1, app)
    until(lambda: "Claire" in contact.inner_text("#log"), app)  # told who they are talking to
    volunteer.click("#conversations li")
    volunteer.wait_for_selector("#transcript li")
    volunteer.fill("#reply-text", "Bonjour, je suis Claire. Je vous écoute.")
    volunteer.click("#reply button[type=submit]")
    until(lambda: "je suis Claire" in contact.inner_text("#log"), app)
    contact.fill("#text", "Merci, j'ai une question sur mon logement")
    contact.click("#send button")
    until(lambda: "logement" in volunteer.inner_text("#transcript"), app)
    contact.screenshot(path=str(ARTIFACTS / "web-chat-with-volunteer.png"), full_page=True)
    volunteer.screenshot(path=str(ARTIFACTS / "volunteer-web-chat.png"), full_page=True)
    volunteer.close()
    contact.close()
