"""schemathesis against the app's own /api/openapi.json, as an anonymous client and as a supervisor.

Every operation gets generated requests (valid and invalid bodies, parameters, ids); every answer must
be below 500, documented in the schema (status, content type, body), and a 4xx must be JSON with a
reason. Generated ids are mapped onto rows that exist, so the handlers' own logic is reached rather than
only their 404s. Runs derandomised, a few dozen examples per operation.
"""
from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)
from sqlalchemy import select

from helpline.models import Conversation, Escalation, Staff
from helpline.openapi import spec
from tests.fakes import FakeProviders
from tests.support import login, make_app, make_config, post_twilio, run_jobs, sms

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SETTINGS = settings(max_examples=30, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api_app(request, tmp_path_factory, redis_server):  # type: ignore[no-untyped-def]
    """One app per database for every operation, with a history to act on: an open crisis escalation,
    a waiting and an active conversation. Generated requests change it as they go (closing, blocking,
    transferring), which takes later requests down other paths."""
    tmp = tmp_path_factory.mktemp(f"api-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'helpline.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database(f"api_{uuid.uuid4().hex[:12]}")
    flush = redis.Redis.from_url(redis_server.url)
    flush.flushall()
    flush.close()
    fakes = FakeProviders().start()
    app = None
    try:
        app = make_app(make_config(tmp, url, redis_server.url, fakes.url))
        client = app.test_client()
        post_twilio(client, sms("+4915100000901", "I want to kill myself tonight"))
        post_twilio(client, sms("+4915100000902", "Hello"))
        post_twilio(client, sms("+4915100000902", "HUMAN"))
        run_jobs(app)
        rt = app.extensions["helpline"]
        with rt.db.session() as s:
            amal = s.scalar(select(Staff).where(Staff.email == "amal@example.org"))
            conv = s.scalar(select(Conversation).where(Conversation.status == "waiting")
                            .order_by(Conversation.id.desc()))
            assert conv is not None and amal is not None
            conv.status, conv.assigned_to = "active", amal.id
        yield app
    finally:
        if app is not None:
            app.extensions["helpline"].close()
        fakes.stop()


def existing_ids(app) -> dict[str, list[int]]:  # type: ignore[no-untyped-def]
    rt = app.extensions["helpline"]
    with rt.db.session() as s:
        return {"conversations": list(s.scalars(select(Conversation.id))),
                "escalations": list(s.scalars(select(Escalation.id))),
                "staff": list(s.scalars(select(Staff.id)))}


def aim(case: Any, ids: dict[str, list[int]]) -> None:
    """A generated non-negative id becomes one of the rows that exist; negative and huge ids stay."""
    value = (case.path_parameters or {}).get("id")
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 10**6:
        return
    table = next(t for t in ("conversations", "escalations", "staff") if case.path.startswith(f"/api/{t}"))
    if ids[table]:
        case.path_parameters = {**case.path_parameters, "id": ids[table][value % len(ids[table])]}


def check_errors_are_json_with_a_reason(response: Any) -> None:
    assert response.status_code < 500, response.text[:300]
    if response.status_code >= 400:
        body = response.json()
        reason = body.get("error") if isinstance(body, dict) else None
        assert isinstance(reason, str) and reason, response.text[:300]
        assert "Traceback" not in response.text


# The document /api/openapi.json serves (test_the_served_schema_is_the_one_tested checks it is the same).
# Loaded at collection, not through schemathesis.pytest.from_fixture: its lazy loader reads a private
# attribute pytest 9.2 no longer has.
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(spec())))


def test_the_served_schema_is_the_one_tested(api_app) -> None:  # type: ignore[no-untyped-def]
    served = api_app.test_client().get("/api/openapi.json")
    assert served.status_code == 200 and served.json == json.loads(json.dumps(spec()))


def test_the_schema_names_every_api_route(api_app) -> None:  # type: ignore[no-untyped-def]
    """An /api route the schema leaves out would never be tested here."""
    documented = set(spec()["paths"])
    routes = {re.sub(r"<(?:[^:>]+:)?[^>]+>", "{id}", r.rule)
              for r in api_app.url_map.iter_rules() if r.rule.startswith("/api/")}
    assert routes - {"/api/openapi.json"} <= documented, routes - documented


@schema.parametrize()
@SETTINGS
def test_api_as_anonymous(case: Any, api_app: Any) -> None:  # type: ignore[no-untyped-def]
    aim(case, existing_ids(api_app))
    response = case.call_and_validate(app=api_app, checks=CHECKS)
    check_errors_are_json_with_a_reason(response)
    documented = case.method.lower() in spec()["paths"][case.path]  # not OPTIONS or TRACE, say
    if documented and case.path not in ("/api/login", "/api/logout"):  # nothing else without a session
        assert response.status_code in (400, 401, 404, 422), (case.method, case.path, response.status_code)


@pytest.fixture(scope="module")
def supervisor(api_app):  # type: ignore[no-untyped-def]
    """A logged-in supervisor: the session cookie, and the CSRF header for unsafe requests. Passed with
    every call, since schemathesis sets (and afterwards deletes) the cookies the schema's security
    scheme names on the client it is given."""
    rt = api_app.extensions["helpline"]
    for key in rt.redis.scan_iter("helpline:rl:login:*"):  # the anonymous run's failed logins
        rt.redis.delete(key)
    client = api_app.test_client()
    headers = login(client, "sam@example.org", "sam-password-1")
    return {"session": client.get_cookie("session").value}, headers


@schema.exclude(path="/api/logout").exclude(path="/api/login").parametrize()  # they would end the session
@SETTINGS
def test_api_as_supervisor(case: Any, api_app: Any, supervisor: Any) -> None:  # type: ignore[no-untyped-def]
    cookies, headers = supervisor
    aim(case, existing_ids(api_app))
    response = case.call_and_validate(app=api_app, cookies=cookies, headers=headers, checks=CHECKS)
    check_errors_are_json_with_a_reason(response)
    assert response.status_code != 401, (case.method, case.path, response.text[:200])
