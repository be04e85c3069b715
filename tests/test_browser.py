"""The dashboard and the web chat in a real headless Chromium (Debian's, driven by Playwright)."""
from __future__ import annotations

import os
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
    page.goto(live + "/dashboard")
    page.fill("#email", "amal@example.org")
    page.fill("#password", "amal-password-1")
    page.click("button[type=submit]")
    page.wait_for_selector("#main:not([hidden])")
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
    page.screenshot(path=str(ARTIFACTS / "volunteer-conversation-ar.png"), full_page=True)
    page.fill("#reply-text", "أهلا، أنا أمل. كيف أساعدك؟")
    page.click("#reply button[type=submit]")
    until(lambda: any("أمل" in m.text for m in fakes.messages("whatsapp:" + number)), app)
    page.close()


def test_supervisor_acknowledges_an_escalation(app, client, fakes, live, browser):
    post_twilio(client, sms("+4915100000902", "I want to kill myself tonight"))
    run_jobs(app)
    page = browser.new_page()
    page.goto(live + "/dashboard")
    page.fill("#email", "sam@example.org")
    page.fill("#password", "sam-password-1")
    page.click("button[type=submit]")
    button = page.wait_for_selector("#escalations li button", timeout=15000)
    page.screenshot(path=str(ARTIFACTS / "supervisor-escalations.png"), full_page=True)
    button.click()

    def acknowledged() -> bool:
        with app.extensions["helpline"].db.session() as s:
            return s.scalar(select(Escalation.status)) == "acknowledged"
    until(acknowledged)
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
