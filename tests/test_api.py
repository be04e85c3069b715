"""The JSON API's access rules: sessions, CSRF, roles, rate limits, aliases only."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from helpline.models import AuditLog, Conversation, Staff
from tests.support import login, post_twilio, run_jobs, sms


def waiting_contact(app, client, number: str = "+4915100000801") -> None:  # type: ignore[no-untyped-def]
    for text in ("Hello", "1", "HUMAN"):
        post_twilio(client, sms(number, text))
        run_jobs(app)


def test_login_wrong_password_then_rate_limited(client):
    for _ in range(5):
        r = client.post("/api/login", json={"email": "amal@example.org", "password": "wrong-password"})
        assert r.status_code == 401 and r.json["error"] == "bad_credentials"
    r = client.post("/api/login", json={"email": "amal@example.org", "password": "amal-password-1"})
    assert r.status_code == 429 and r.json["error"] == "rate_limited"


def test_login_rate_limit_per_address(client):
    for i in range(20):
        client.post("/api/login", json={"email": f"nobody{i}@example.org", "password": "x"})
    r = client.post("/api/login", json={"email": "sam@example.org", "password": "sam-password-1"})
    assert r.status_code == 429


@pytest.mark.parametrize("body", [None, [], {"email": "a@b.c"}, {"email": 5, "password": "x"}])
def test_login_bad_input_is_json_error(client, body):
    r = client.post("/api/login", json=body) if body is not None else client.post("/api/login", data="x")
    assert r.status_code in (400, 422) and r.is_json and "error" in r.json


def test_unauthenticated_is_401(client):
    for path in ("/api/me", "/api/conversations", "/api/escalations", "/api/metrics"):
        r = client.get(path)
        assert r.status_code == 401 and r.json["error"] == "unauthenticated"


def test_csrf_required_on_unsafe_requests(client):
    login(client, "amal@example.org", "amal-password-1")
    r = client.put("/api/me/availability", json={"available": True})
    assert r.status_code == 403 and r.json["error"] == "csrf"
    r = client.put("/api/me/availability", json={"available": True}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403


def test_roles(client):
    h = login(client, "amal@example.org", "amal-password-1")
    assert client.get("/api/escalations").status_code == 403
    assert client.get("/api/metrics").status_code == 403
    assert client.put("/api/me/availability", json={"available": "yes"}, headers=h).status_code == 422


def test_volunteer_sees_and_acts_only_on_own_conversations(app, client):
    h = login(client, "amal@example.org", "amal-password-1")
    assert client.put("/api/me/availability", json={"available": True}, headers=h).status_code == 200
    waiting_contact(app, client)
    [mine] = client.get("/api/conversations?status=active").json
    assert mine["contact_alias"] and "4915100000801" not in str(client.get(f"/api/conversations/{mine['id']}").json)
    other = app.test_client()
    h2 = login(other, "claire@example.org", "claire-password-1")
    assert other.get("/api/conversations?status=active").json == []
    assert other.get(f"/api/conversations/{mine['id']}").status_code == 404
    r = other.post(f"/api/conversations/{mine['id']}/messages", json={"text": "hi"}, headers=h2)
    assert r.status_code == 404
    r = client.post(f"/api/conversations/{mine['id']}/messages", json={"text": "Hello, I am Amal"}, headers=h)
    assert r.status_code == 201
    r = client.post(f"/api/conversations/{mine['id']}/messages", json={"text": ""}, headers=h)
    assert r.status_code == 422
    rt = app.extensions["helpline"]
    with rt.db.session() as s:
        actions = {a.action for a in s.scalars(select(AuditLog))}
    assert {"conversation.read", "conversation.reply", "availability", "conversation.assign"} <= actions


def test_supervisor_sees_all_and_metrics(app, client):
    waiting_contact(app, client)
    login(client, "sam@example.org", "sam-password-1")
    [waiting] = client.get("/api/conversations?status=waiting").json
    assert set(waiting) >= {"id", "channel", "language", "topic", "status", "assigned_to", "contact_alias", "priority",
                            "last_message_at"}
    m = client.get("/api/metrics").json
    assert m["waiting"] == 1 and "per_language" in m and "escalations" in m
    assert client.get("/api/conversations?status=bogus").status_code == 400


def test_transfer_back_to_queue_and_close(app, client, fakes):
    h = login(client, "amal@example.org", "amal-password-1")
    client.put("/api/me/availability", json={"available": True}, headers=h)
    waiting_contact(app, client)
    [conv] = client.get("/api/conversations?status=active").json
    client.put("/api/me/availability", json={"available": False}, headers=h)  # opened? no: back to the queue
    rt = app.extensions["helpline"]
    with rt.db.session() as s:
        assert s.get(Conversation, conv["id"]).status == "waiting"
    client.put("/api/me/availability", json={"available": True}, headers=h)
    client.get(f"/api/conversations/{conv['id']}")  # opened now
    r = client.post(f"/api/conversations/{conv['id']}/close", json={"outcome": "answered", "notes": "ok"}, headers=h)
    assert r.status_code == 200 and r.json["status"] == "closed"
    assert client.post(f"/api/conversations/{conv['id']}/close", json={"outcome": "x"}, headers=h).status_code == 409
    run_jobs(app)
    assert "closed" in fakes.messages("+4915100000801")[-1].text


def test_expired_training_is_never_matched(app, client):
    h = login(client, "olena@example.org", "olena-password-1")
    client.put("/api/me/availability", json={"available": True}, headers=h)
    for text in ("Hello", "6", "HUMAN"):  # Ukrainian
        post_twilio(client, sms("+4915100000802", text))
        run_jobs(app)
    assert client.get("/api/conversations?status=active").json == []


def test_openapi_describes_every_route(client):
    spec = client.get("/api/openapi.json").json
    rules = {str(r.rule).replace("<int:conv_id>", "{id}").replace("<int:esc_id>", "{id}").replace(
        "<int:staff_id>", "{id}") for r in client.application.url_map.iter_rules() if str(r.rule).startswith("/api/")}
    assert rules - {"/api/openapi.json"} == set(spec["paths"])


def test_errors_are_json_never_html(client):
    r = client.get("/api/nowhere")
    assert r.status_code == 404 and r.is_json
    r = client.post("/healthz")
    assert r.status_code == 405 and r.is_json


def test_display_name_is_what_contacts_see(app, client, fakes):
    h = login(client, "amal@example.org", "amal-password-1")
    assert client.put("/api/me", json={"display_name": "Nour"}, headers=h).json["display_name"] == "Nour"
    assert client.put("/api/me", json={"display_name": ""}, headers=h).status_code == 422
    client.put("/api/me/availability", json={"available": True}, headers=h)
    waiting_contact(app, client, "+4915100000803")
    assert "Nour" in fakes.messages("+4915100000803")[-1].text and "Amal" not in fakes.messages("+4915100000803")[-1].text


def test_flag_then_block_then_unblock(app, client, fakes):
    h = login(client, "amal@example.org", "amal-password-1")
    client.put("/api/me/availability", json={"available": True}, headers=h)
    number = "+4915100000804"
    waiting_contact(app, client, number)
    [conv] = client.get("/api/conversations?status=active").json
    assert client.post(f"/api/conversations/{conv['id']}/flag", json={"reason": "insults"}, headers=h).status_code == 200
    assert client.post(f"/api/conversations/{conv['id']}/block", json={"reason": "x", "until": "day"},
                       headers=h).status_code == 403  # supervisors block
    sup = app.test_client()
    hs = login(sup, "sam@example.org", "sam-password-1")
    assert sup.post(f"/api/conversations/{conv['id']}/block", json={"reason": "abuse", "until": "week"},
                    headers=hs).status_code == 422
    assert sup.post(f"/api/conversations/{conv['id']}/block", json={"reason": "abuse", "until": "month"},
                    headers=hs).status_code == 200
    before = len(fakes.messages(number))
    for text in ("hello?", "HUMAN", "hello again"):
        post_twilio(client, sms(number, text))
        run_jobs(app)
    told = fakes.messages(number)[before:]
    assert len(told) == 1  # told once, politely
    post_twilio(client, sms(number, "I want to kill myself tonight"))
    run_jobs(app)
    assert "112" in fakes.messages(number)[-1].text  # a crisis always gets emergency numbers
    assert sup.post(f"/api/conversations/{conv['id']}/unblock", headers=hs).status_code == 200
