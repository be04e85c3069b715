"""The crisis ladder: emergency numbers at once, pages in rota order, acknowledgement stops it."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from helpline.models import AuditLog, Conversation, Escalation, Page, Staff, utcnow
from helpline.runtime import set_process_runtime
from tests.support import login, post_telegram, post_twilio, run_jobs, sms, wa
from workers.scheduler import run_round

WEBER, HADDAD_CHAT = "+4915112345678", "777001"
CRISIS = "I can't go on anymore, I want to kill myself tonight"


def escalations(app) -> list[Escalation]:  # type: ignore[no-untyped-def]
    with app.extensions["helpline"].db.session() as s:
        return list(s.scalars(select(Escalation)))


def time_passes(app) -> None:  # type: ignore[no-untyped-def]
    """The acknowledgement window ends: move next_page_at into the past, run a scheduler round."""
    rt = app.extensions["helpline"]
    with rt.db.session() as s:
        for e in s.scalars(select(Escalation).where(Escalation.status == "open")):
            e.next_page_at = utcnow() - timedelta(seconds=1)
    set_process_runtime(rt)
    with app.app_context():
        run_round(rt)
    run_jobs(app)


def test_crisis_answers_with_numbers_and_pages_the_first_professional(app, client, fakes):
    post_twilio(client, wa("+4917612345678", CRISIS))
    run_jobs(app)
    [reply] = fakes.messages("whatsapp:+4917612345678")
    assert "112" in reply.text and "0800 111 0 111" in reply.text
    [page] = fakes.messages(WEBER)
    [esc] = escalations(app)
    assert esc.code in page.text and f"ACK {esc.code}" in page.text and esc.category == "suicide_self_harm"
    assert "+4917612345678" not in page.text  # the professional sees an alias, not the number
    with app.extensions["helpline"].db.session() as s:
        conv = s.scalar(select(Conversation))
        assert conv.priority == 2 and conv.status == "waiting"


def test_region_from_the_number_chooses_the_numbers(app, client, fakes):
    post_twilio(client, sms("+447700900123", CRISIS))
    run_jobs(app)
    [reply] = fakes.messages("+447700900123")
    assert "999" in reply.text


def test_ladder_pages_next_then_supervisors_until_acknowledged(app, client, fakes):
    post_twilio(client, sms("+4915100000701", CRISIS))
    run_jobs(app)
    assert len(fakes.messages(WEBER)) == 1
    time_passes(app)
    [tg_page] = fakes.messages(HADDAD_CHAT)
    code = escalations(app)[0].code
    assert code in tg_page.text
    time_passes(app)  # the whole rota paged: now every supervisor (Sam has only the dashboard)
    time_passes(app)
    with app.extensions["helpline"].db.session() as s:
        pages = s.scalars(select(Page).order_by(Page.id)).all()
        sam = s.scalar(select(Staff).where(Staff.email == "sam@example.org"))
        assert [p.staff_id for p in pages][-2:] == [sam.id, sam.id]
        assert s.scalar(select(AuditLog).where(AuditLog.action == "escalation.no_ack")) is not None
    # Dr. Haddad acknowledges by Telegram
    update = {"update_id": 82000001, "message": {"message_id": 1, "date": 1763700000, "text": f"ack {code.lower()}",
                                                  "from": {"id": 777001, "is_bot": False, "first_name": "H"},
                                                  "chat": {"id": 777001, "type": "private"}}}
    post_telegram(client, update)
    run_jobs(app)
    [esc] = escalations(app)
    assert esc.status == "acknowledged" and esc.acknowledged_by is not None
    assert code in fakes.messages(HADDAD_CHAT)[-1].text
    before = len(fakes.messages())
    time_passes(app)
    assert len(fakes.messages()) == before  # no more pages


def test_acknowledge_by_sms_reply(app, client, fakes):
    post_twilio(client, sms("+4915100000702", CRISIS))
    run_jobs(app)
    code = escalations(app)[0].code
    post_twilio(client, sms(WEBER, f"ACK {code}"))
    run_jobs(app)
    [esc] = escalations(app)
    assert esc.status == "acknowledged"
    with app.extensions["helpline"].db.session() as s:
        assert s.get(Staff, esc.acknowledged_by).email == "weber@example.org"
    assert "acknowledged" in fakes.messages(WEBER)[-1].text.lower()


def test_wrong_code_is_told(app, client, fakes):
    post_twilio(client, sms(WEBER, "ACK ZZZZZ"))
    run_jobs(app)
    assert "ZZZZZ" in fakes.messages(WEBER)[-1].text


def test_acknowledge_and_resolve_in_the_dashboard(app, client, fakes):
    post_twilio(client, sms("+4915100000703", CRISIS))
    run_jobs(app)
    esc_id = escalations(app)[0].id
    csrf = login(client, "sam@example.org", "sam-password-1")
    [listed] = client.get("/api/escalations?status=open").json
    assert listed["id"] == esc_id and listed["pages"]
    assert client.post(f"/api/escalations/{esc_id}/acknowledge", headers=csrf).status_code == 200
    assert client.post(f"/api/escalations/{esc_id}/acknowledge", headers=csrf).status_code == 409
    r = client.post(f"/api/escalations/{esc_id}/resolve", json={"outcome": "safe", "notes": "spoke by phone"},
                    headers=csrf)
    assert r.status_code == 200 and r.json["status"] == "resolved"


def test_failed_page_moves_to_the_next_professional_at_once(app, client, fakes):
    fakes.reject_to[WEBER] = (400, {"code": 21211})
    post_twilio(client, sms("+4915100000704", CRISIS))
    run_jobs(app)
    assert fakes.messages(WEBER) == []
    assert len(fakes.messages(HADDAD_CHAT)) == 1  # without waiting for the acknowledgement window


def test_a_second_crisis_message_raises_the_open_escalation(app, client, fakes):
    post_twilio(client, sms("+4915100000705", CRISIS))
    run_jobs(app)
    post_twilio(client, sms("+4915100000705", "I have the pills in my hand now"))
    run_jobs(app)
    [esc] = escalations(app)
    assert esc.raised_count == 2
    assert len(fakes.messages(WEBER)) == 1 and len(fakes.messages(HADDAD_CHAT)) == 1  # raised: next paged now
    assert len(fakes.messages("+4915100000705")) == 1  # the emergency numbers once, not on every message


def test_screening_happens_while_a_volunteer_talks_and_after_stop(app, client, fakes):
    rt = app.extensions["helpline"]
    with rt.db.session() as s:
        s.scalar(select(Staff).where(Staff.email == "amal@example.org")).available = True
    number = "+4915100000706"
    for text in ("Hello", "1", "HUMAN"):
        post_twilio(client, sms(number, text))
        run_jobs(app)
    post_twilio(client, sms(number, CRISIS))
    run_jobs(app)
    assert "112" in fakes.messages(number)[-1].text and len(escalations(app)) == 1
    post_twilio(client, sms("+4915100000707", "Hello"))
    post_twilio(client, sms("+4915100000707", "STOP"))
    post_twilio(client, sms("+4915100000707", "they are beating me right now, help"))
    run_jobs(app)
    assert "112" in fakes.messages("+4915100000707")[-1].text


def test_off_call_professional_is_skipped(make_helpline, client, fakes):
    from tests.support import STAFF_YAML
    staff = STAFF_YAML.replace('    page_via: sms\n    languages: [de, en]',
                               '    page_via: sms\n    languages: [de, en]\n    oncall:\n      timezone: Europe/Berlin\n'
                               '      windows: ["mon-sun 00:00-00:01"]', 1)
    app = make_helpline(staff_yaml=staff)
    c = app.test_client()
    post_twilio(c, sms("+4915100000708", CRISIS))
    run_jobs(app)
    assert fakes.messages(WEBER) == [] and len(fakes.messages(HADDAD_CHAT)) == 1


@pytest.mark.parametrize("window,hour,on", [("mon-fri 08:00-20:00", 9, True), ("mon-fri 08:00-20:00", 21, False),
                                            ("sat-sun 22:00-06:00", 3, True)])
def test_oncall_windows(window, hour, on):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from helpline.oncall import is_on_call
    day = 23 if "mon" in window else 22  # 2026-11-23 is a Monday, 11-22 a Sunday
    now = datetime(2026, 11, day, hour, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert is_on_call({"timezone": "Europe/Berlin", "windows": [window]}, now) is on


def test_professional_takes_the_conversation_over(app, client, fakes):
    post_twilio(client, sms("+4915100000709", CRISIS))
    run_jobs(app)
    esc_id = escalations(app)[0].id
    csrf = login(client, "weber@example.org", "weber-password-1")
    r = client.post(f"/api/escalations/{esc_id}/take", headers=csrf)
    assert r.status_code == 200 and r.json["status"] == "active"
    conv_id = r.json["id"]
    assert client.post(f"/api/conversations/{conv_id}/messages", json={"text": "I am Dr. Weber, I am here."},
                       headers=csrf).status_code == 201
    run_jobs(app)
    assert "Dr. Weber" in fakes.messages("+4915100000709")[-1].text
