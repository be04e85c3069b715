"""The team in the API: colleagues and their load, staff management, canned responses,
escalating by hand, transfer to a named colleague, and the metrics behind the charts."""
from __future__ import annotations

from sqlalchemy import select

from helpline.models import AuditLog, Conversation, Escalation, Staff
from tests.support import login, post_twilio, run_jobs, sms
from tests.test_api import waiting_contact


def _volunteer_with_conversation(app, client, number: str, email="amal@example.org", password="amal-password-1"):  # type: ignore[no-untyped-def]
    h = login(client, email, password)
    assert client.put("/api/me/availability", json={"available": True}, headers=h).status_code == 200
    waiting_contact(app, client, number)
    [conv] = client.get("/api/conversations?status=active").json
    return h, conv


def test_volunteers_see_colleagues_without_emails_supervisors_see_everything(app, client):
    h, conv = _volunteer_with_conversation(app, client, "+4915100000811")
    colleagues = client.get("/api/staff").json
    names = {c["display_name"] for c in colleagues}
    assert {"Amal", "Claire"} <= names and "Sam" not in names  # supervisors are not transfer targets
    assert all("email" not in c for c in colleagues)
    amal = next(c for c in colleagues if c["display_name"] == "Amal")
    assert amal["load"] == 1 and amal["available"] is True
    sup = app.test_client()
    login(sup, "sam@example.org", "sam-password-1")
    team = sup.get("/api/staff").json
    assert {t["email"] for t in team} >= {"amal@example.org", "sam@example.org", "weber@example.org"}
    olena = next(t for t in team if t["email"] == "olena@example.org")
    assert olena["trained"] is False  # training expired in the staff file


def test_supervisor_manages_staff_and_every_change_is_audited(app, client):
    hs = login(client, "sam@example.org", "sam-password-1")
    body = {"email": "Noor@Example.org", "name": "Noor", "role": "volunteer", "languages": ["ps", "fa", "ps"],
            "topics": ["housing"], "max_conversations": 2, "trained_until": "2099-01-01", "password": "noor-pass-1"}
    r = client.post("/api/staff", json=body, headers=hs)
    assert r.status_code == 201, r.json
    noor = r.json
    assert noor["email"] == "noor@example.org" and noor["languages"] == ["ps", "fa"]
    assert client.post("/api/staff", json=body, headers=hs).status_code == 409
    # the new volunteer can log in and work
    other = app.test_client()
    login(other, "noor@example.org", "noor-pass-1")
    # bad input names the field and changes nothing
    for bad in ({"max_conversations": 0}, {"languages": "ps"}, {"topics": ["gardening"]},
                {"trained_until": "next year"}, {"active": "no"}, {"password": "x"}, {"role": "admin"}):
        r = client.patch(f"/api/staff/{noor['id']}", json=bad, headers=hs)
        assert r.status_code == 422 and r.is_json and r.json["error"] == "invalid", bad
    r = client.patch(f"/api/staff/{noor['id']}", json={"max_conversations": 4, "trained_until": None}, headers=hs)
    assert r.status_code == 200 and r.json["max_conversations"] == 4 and r.json["trained_until"] is None
    r = client.patch(f"/api/staff/{noor['id']}", json={"active": False}, headers=hs)
    assert r.status_code == 200 and r.json["active"] is False
    assert other.get("/api/me").status_code == 401  # a deactivated account is logged out at once
    me = client.get("/api/me").json
    assert client.patch(f"/api/staff/{me['id']}", json={"active": False}, headers=hs).status_code == 409
    assert client.patch("/api/staff/99999", json={"name": "x"}, headers=hs).status_code == 404
    with app.extensions["helpline"].db.session() as s:
        actions = [a.action for a in s.scalars(select(AuditLog).where(AuditLog.target_type == "staff",
                                                                      AuditLog.target_id == noor["id"]))]
    assert actions.count("staff.create") == 1 and actions.count("staff.update") == 2


def test_volunteers_cannot_manage_staff(app, client):
    h = login(client, "amal@example.org", "amal-password-1")
    assert client.post("/api/staff", json={"email": "x@y.org"}, headers=h).status_code == 403
    with app.extensions["helpline"].db.session() as s:
        claire = s.scalar(select(Staff.id).where(Staff.email == "claire@example.org"))
    assert client.patch(f"/api/staff/{claire}", json={"active": False}, headers=h).status_code == 403


def test_taking_a_volunteer_off_shift_returns_unopened_conversations(app, client):
    h, conv = _volunteer_with_conversation(app, client, "+4915100000812")
    sup = app.test_client()
    hs = login(sup, "sam@example.org", "sam-password-1")
    amal = next(t for t in sup.get("/api/staff").json if t["email"] == "amal@example.org")
    assert sup.patch(f"/api/staff/{amal['id']}", json={"available": False}, headers=hs).status_code == 200
    with app.extensions["helpline"].db.session() as s:
        assert s.get(Conversation, conv["id"]).status == "waiting"


def test_canned_responses_come_in_the_contacts_language_with_the_display_name(app, client):
    h = login(client, "amal@example.org", "amal-password-1")
    client.put("/api/me", json={"display_name": "Nour"}, headers=h)
    client.put("/api/me/availability", json={"available": True}, headers=h)
    for text in ("مرحبا", "2", "HUMAN"):  # Arabic, then talk to a person
        post_twilio(client, sms("+4915100000813", text))
        run_jobs(app)
    [conv] = client.get("/api/conversations?status=active").json
    assert conv["language"] == "ar"
    r = client.get(f"/api/conversations/{conv['id']}/canned").json
    assert r["language"] == "ar" and r["direction"] == "rtl"
    content = app.extensions["helpline"].content
    by_key = {c["key"]: c for c in r["responses"]}
    assert "canned.greeting" in by_key and len(by_key) >= 5
    greeting = by_key["canned.greeting"]
    assert "Nour" in greeting["text"] and "{" not in greeting["text"]
    assert greeting["text"] == content.text("canned.greeting", "ar", name="Nour")
    assert greeting["label"] == content.text("canned.greeting", "en", name="Nour")
    emergency = content.emergency_for("DE")["emergency"]  # a German number: the region's emergency number
    assert emergency in by_key["canned.emergency_reminder"]["text"] and "{" not in by_key["canned.emergency_reminder"]["text"]
    other = app.test_client()
    login(other, "claire@example.org", "claire-password-1")
    assert other.get(f"/api/conversations/{conv['id']}/canned").status_code == 404


def test_volunteer_escalates_by_hand_and_the_ladder_starts(app, client, fakes):
    h, conv = _volunteer_with_conversation(app, client, "+4915100000814")
    url = f"/api/conversations/{conv['id']}/escalate"
    assert client.post(url, json={"category": "boredom"}, headers=h).status_code == 422
    assert client.post(url, json={"category": "violence"}).status_code == 403  # no CSRF token
    r = client.post(url, json={"category": "violence", "reason": "afraid of a man at the shelter"}, headers=h)
    assert r.status_code == 201 and r.json["status"] == "open" and r.json["category"] == "violence"
    run_jobs(app)
    assert any(r.json["code"] in m.text for m in fakes.messages("+4915112345678"))  # first professional paged
    again = client.post(url, json={"category": "violence"}, headers=h)
    assert again.json["id"] == r.json["id"]  # raised again, not a second ladder
    with app.extensions["helpline"].db.session() as s:
        assert s.get(Conversation, conv["id"]).priority == 2
        assert len(s.scalars(select(Escalation)).all()) == 1
        assert s.scalar(select(AuditLog).where(AuditLog.action == "escalation.by_staff")) is not None


def test_transfer_to_a_named_colleague(app, client, fakes):
    h, conv = _volunteer_with_conversation(app, client, "+4915100000815")
    claire = next(c for c in client.get("/api/staff").json if c["display_name"] == "Claire")
    r = client.post(f"/api/conversations/{conv['id']}/transfer", json={"to": claire["id"], "reason": "French"},
                    headers=h)
    assert r.status_code == 200 and r.json["assigned_to"] == claire["id"]
    assert client.get(f"/api/conversations/{conv['id']}").status_code == 404  # no longer mine
    other = app.test_client()
    login(other, "claire@example.org", "claire-password-1")
    assert [c["id"] for c in other.get("/api/conversations?status=active").json] == [conv["id"]]


def test_metrics_give_volume_per_day_and_language_and_escalation_outcomes(app, client):
    waiting_contact(app, client, "+4915100000816")
    post_twilio(client, sms("+4915100000817", "I want to kill myself tonight"))
    run_jobs(app)
    hs = login(client, "sam@example.org", "sam-password-1")
    [esc] = client.get("/api/escalations?status=open").json
    client.post(f"/api/escalations/{esc['id']}/resolve", json={"outcome": "safe_plan"}, headers=hs)
    m = client.get("/api/metrics").json
    assert sum(d["count"] for d in m["volume_per_day"]) == 2
    assert all(len(d["day"]) == 10 and d["day"].startswith("20") for d in m["volume_per_day"])
    assert m["escalations_by_outcome"] == {"safe_plan": 1}


def test_metrics_give_median_and_90th_percentile_wait_per_day(app, client):
    from datetime import timedelta

    from helpline.models import utcnow
    for i in range(3):
        waiting_contact(app, client, f"+49151000008{20 + i}")
    now = utcnow()
    with app.extensions["helpline"].db.session() as s:
        convs = s.scalars(select(Conversation).order_by(Conversation.id)).all()
        # waits of 60, 120 and 600 s, assigned today; one more yesterday (30 s)
        for conv, wait in zip(convs, (60, 120, 600)):
            conv.queued_at, conv.assigned_at = now - timedelta(seconds=wait), now
        s.add(Conversation(contact_id=convs[0].contact_id, channel="sms", status="closed",
                           queued_at=now - timedelta(days=1, seconds=30), assigned_at=now - timedelta(days=1)))
        s.commit()
    login(client, "sam@example.org", "sam-password-1")
    days = client.get("/api/metrics").json["wait_per_day"]
    assert [d["count"] for d in days] == [1, 3]
    assert days[0]["median"] == 30 and days[1]["median"] == 120
    assert 120 < days[1]["p90"] <= 600
