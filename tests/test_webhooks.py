"""Webhook receivers: real provider payloads (tests/fixtures), verification, exactly-once storage."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helpline.models import Contact, Message
from tests.support import PUBLIC, post_telegram, post_twilio, run_jobs

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(kind: str, name: str) -> dict:
    return json.loads((FIXTURES / kind / f"{name}.json").read_text())


def inbound(app) -> list[Message]:  # type: ignore[no-untyped-def]
    rt = app.extensions["helpline"]
    with rt.db.session() as s:
        return list(s.scalars(select(Message).where(Message.direction == "in").order_by(Message.id)))


TWILIO_VARIANTS = sorted(p.stem for p in (FIXTURES / "twilio").glob("*.json"))


@pytest.mark.parametrize("name", TWILIO_VARIANTS)
def test_twilio_variant_is_stored_once_and_answered(app, client, fakes, name):
    params = fixture("twilio", name)
    first = post_twilio(client, params)
    again = post_twilio(client, params)  # Twilio retries with the same MessageSid
    assert first.status_code == again.status_code == 200
    assert first.data.strip().endswith(b"<Response/>")
    rows = inbound(app)
    assert len(rows) == 1
    row = rows[0]
    assert row.provider_id == params["MessageSid"]
    assert row.channel == ("whatsapp" if params["From"].startswith("whatsapp:") else "sms")
    assert "\x00" not in (row.text or "") and "\x1b" not in (row.text or "")
    if int(params.get("NumMedia", 0)):
        assert row.payload["media"][0]["type"] == params["MediaContentType0"]
    if "Latitude" in params:
        assert row.payload["location"]["lat"] == params["Latitude"]
    if "ButtonPayload" in params:
        assert row.payload["button"] == params["ButtonPayload"]
    run_jobs(app)
    to = params["From"]
    sent = fakes.messages(to)
    assert sent, f"{name}: no reply"
    assert all(len(s.text) <= (4096 if to.startswith("whatsapp:") else 1600) for s in sent)


def test_long_text_is_kept_whole(app, client):
    params = fixture("twilio", "sms_long_text")
    post_twilio(client, params)
    assert len(inbound(app)[0].text) == len(params["Body"].strip())


def test_control_characters_are_removed(app, client):
    post_twilio(client, fixture("twilio", "sms_control_characters"))
    assert inbound(app)[0].text == "help me please[31m"


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl"])
def test_unsigned_or_forged_twilio_is_refused_and_not_stored(app, client, fakes, signature):
    r = post_twilio(client, fixture("twilio", "sms_text"), signature=signature)
    assert r.status_code == 403 and r.json["error"] == "bad_signature"
    assert inbound(app) == []


def test_signature_over_the_url_with_its_default_port_is_accepted(app, client):
    """Twilio may sign https://host:443/...; the quick check of the URL as configured must not refuse it."""
    from tests.support import twilio_signature
    params = fixture("twilio", "sms_text")
    r = post_twilio(client, params, signature=twilio_signature(PUBLIC + ":443/webhooks/twilio", params))
    assert r.status_code == 200 and len(inbound(app)) == 1


def test_signature_over_a_different_url_is_refused(app, client):
    params = fixture("twilio", "sms_text")
    from tests.support import twilio_signature
    r = post_twilio(client, params, signature=twilio_signature("https://evil.test/webhooks/twilio", params))
    assert r.status_code == 403


def test_the_quick_signature_is_twilios():
    """webhooks.twilio._signature computes what twilio's RequestValidator does, repeated fields too."""
    from twilio.request_validator import RequestValidator
    from werkzeug.datastructures import MultiDict

    from webhooks.twilio import _signature
    form = MultiDict([("Body", "b"), ("MediaUrl0", "z"), ("Body", "a"), ("From", "+49151"), ("Body", "a"),
                      ("Empty", ""), ("Text", "caf\u00e9 \u0645\u0631\u062d\u0628\u0627")])
    url = PUBLIC + "/webhooks/twilio?x=1"
    assert _signature(b"token", url, form).decode() == RequestValidator("token").compute_signature(url, form)


@pytest.mark.parametrize("drop", ["From", "MessageSid"])
def test_malformed_twilio_form_is_400_and_not_stored(app, client, drop):
    params = fixture("twilio", "sms_text")
    for key in ([drop, "SmsSid", "SmsMessageSid"] if drop == "MessageSid" else [drop]):
        params.pop(key, None)
    r = post_twilio(client, params)
    assert r.status_code == 400 and r.is_json
    assert inbound(app) == []


def test_twilio_json_body_is_400(app, client):
    r = client.post("/webhooks/twilio", json={"From": "+49"}, headers={"X-Twilio-Signature": "x"})
    assert r.status_code == 400 and r.json["error"] == "malformed"


def test_status_callbacks_move_the_row_forward_only(app, client, fakes):
    post_twilio(client, fixture("twilio", "sms_text"))
    run_jobs(app)
    rt = app.extensions["helpline"]
    with rt.db.session() as s:
        out = s.scalar(select(Message).where(Message.direction == "out"))
        sid = out.provider_id
        assert out.status == "sent" and sid.startswith("SM")
    for status in ("delivered", "sent"):  # a late "sent" must not move it back
        r = post_twilio(client, {"MessageSid": sid, "MessageStatus": status, "AccountSid": "ACxx"},
                        path="/webhooks/twilio/status")
        assert r.status_code == 200
    with rt.db.session() as s:
        assert s.get(Message, out.id).status == "delivered"
    post_twilio(client, {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "30008", "AccountSid": "ACxx"},
                path="/webhooks/twilio/status")
    with rt.db.session() as s:
        m = s.get(Message, out.id)
        assert (m.status, m.error_code) == ("failed", "30008")


# -- Telegram -------------------------------------------------------------------------------------

CHAT = "900000001"


@pytest.mark.parametrize("name,stored,replies", [
    ("text", 1, 1), ("start", 1, 1), ("start_payload", 1, 1), ("sticker", 1, 1), ("photo_caption", 1, 1),
    ("voice", 1, 1), ("location", 1, 1), ("document", 1, 1),
    ("edited_message", 0, 0), ("group_message", 0, 0), ("my_chat_member_kicked", 0, 0),
])
def test_telegram_variant(app, client, fakes, name, stored, replies):
    update = fixture("telegram", name)
    assert post_telegram(client, update).status_code == 200
    assert post_telegram(client, update).status_code == 200  # redelivered update_id
    assert len(inbound(app)) == stored
    run_jobs(app)
    assert len(fakes.messages(CHAT)) == replies


def test_telegram_callback_is_answered_and_taken_as_the_choice(app, client, fakes):
    post_telegram(client, fixture("telegram", "start"))
    run_jobs(app)
    assert post_telegram(client, fixture("telegram", "callback_query")).status_code == 200
    run_jobs(app)
    answered = [s for s in fakes.sent if s.method == "answerCallbackQuery"]
    assert answered and answered[0].params["callback_query_id"] == "4382bfdwdsb323b2d9"
    menu, answer = fakes.messages(CHAT)
    assert "inline_keyboard" in json.dumps(menu.params.get("reply_markup", {}))  # the menu came with buttons
    # the profile says French, so the main menu came in French; button 1 is "ask a question"
    assert answer.text == app.extensions["helpline"].content.text("ask_question", "fr")


def test_telegram_user_who_blocked_the_bot_is_marked_unreachable(app, client, fakes):
    post_telegram(client, fixture("telegram", "text"))
    run_jobs(app)
    post_telegram(client, fixture("telegram", "my_chat_member_kicked"))
    rt = app.extensions["helpline"]
    with rt.db.session() as s:
        assert s.scalar(select(Contact.unreachable)) is True


@pytest.mark.parametrize("secret", [None, "wrong"])
def test_telegram_secret_is_required(app, client, secret):
    r = post_telegram(client, fixture("telegram", "text"), secret=secret)
    assert r.status_code == 403 and r.json["error"] == "bad_secret"
    assert inbound(app) == []


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b'{"message": {}}', b'{"update_id": "7"}', b"\xff\xfe"])
def test_telegram_malformed_is_400(app, client, raw):
    r = post_telegram(client, None, raw=raw)
    assert r.status_code == 400 and r.is_json
    assert inbound(app) == []


def test_no_phone_number_or_text_in_the_logs(app, client, caplog):
    params = fixture("twilio", "whatsapp_text")
    with caplog.at_level("DEBUG"):
        post_twilio(client, params)
        run_jobs(app)
    logged = caplog.text
    assert "4915100000101" not in logged and params["Body"] not in logged


def test_twilio_answers_carry_the_headers_every_answer_does(app, client):
    """/webhooks/twilio is answered outside Flask's request handling (webhooks.fast): the same headers,
    the same content type, as a route's answer."""
    r = post_twilio(client, fixture("twilio", "sms_text"))
    assert r.status_code == 200 and r.content_type == "application/xml; charset=utf-8"
    page = client.get("/healthz")
    for name in ("X-Content-Type-Options", "Referrer-Policy", "Content-Security-Policy"):
        assert r.headers[name] == page.headers[name], name


def test_twilio_other_methods_are_405_json(app, client):
    r = client.get("/webhooks/twilio")
    assert r.status_code == 405 and r.json["error"] == "method_not_allowed" and r.headers["Allow"] == "POST"
    assert client.post("/webhooks/twilio/").status_code == 404  # no other path is taken for it


def test_twilio_body_past_a_megabyte_is_413_and_not_stored(app, client):
    params = dict(fixture("twilio", "sms_text"), Body="x" * (1024 * 1024))
    r = post_twilio(client, params)
    assert r.status_code == 413 and r.json["error"] == "request_entity_too_large"
    assert inbound(app) == []


def test_twilio_unexpected_error_is_500_json_and_logged(app, client, monkeypatch, caplog):
    rt = app.extensions["helpline"]

    def broken(*args):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug")

    monkeypatch.setattr(rt.inbound, "store", broken)
    r = post_twilio(client, fixture("twilio", "sms_text"))
    assert r.status_code == 500 and r.json == {"error": "internal_error",
                                               "detail": "something went wrong; it has been logged"}
    assert b"Traceback" not in r.data and "RuntimeError" in caplog.text
