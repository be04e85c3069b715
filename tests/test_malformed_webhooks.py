"""The malformed-webhook corpus (tests/data/malformed_webhooks/*.yaml), replayed on SQLite and PostgreSQL.

Every case is answered 200/201 (accepted and harmless), 400, 403, 405, 413 or 422 as the case says;
never a 500 or a stack trace; a refusal is JSON with a reason and leaves no row and no dispatch notice
behind; an accepted message is processed by the worker without a failed job. Twilio cases are signed
with the twilio library's own algorithm over the body as the server parses it, so a correctly signed
but malformed body reaches the parser.
"""
from __future__ import annotations

import base64
import itertools
import json
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.test import EnvironBuilder

from helpline.inbound import INBOUND_LIST
from helpline.models import Contact, Message
from tests.fakes import TWILIO_TOKEN, FakeProviders
from tests.support import PUBLIC, TELEGRAM_SECRET, make_app, make_config, run_jobs

CORPUS = Path(__file__).parent / "data" / "malformed_webhooks"
ALLOWED = {200, 201, 400, 403, 405, 413, 422}
CASE_KEYS = {"name", "why", "method", "path", "content_type", "form", "json", "raw", "raw_base64", "sign",
             "tamper", "secret", "setup", "expect", "stored", "repeat", "extra_fields"}
BODY_KEYS = {"form", "json", "raw", "raw_base64"}
TRACE_MARKERS = ("Traceback (most recent call last)", 'File "/', "sqlalchemy.", "psycopg.", "werkzeug.",
                 "<!doctype html", "internal_error", "Internal Server Error")


def load_corpus() -> list[dict]:
    """Every case of every file, with its file's defaults; a case the runner cannot honour fails here."""
    cases: list[dict] = []
    for path in sorted(CORPUS.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        names: set[str] = set()
        for case in doc["cases"]:
            case = {**doc.get("defaults", {}), **case, "file": path.stem}
            where = f"{path.name}: {case.get('name')}"
            unknown = set(case) - CASE_KEYS - {"file"}
            assert not unknown, f"{where}: unknown keys {unknown}"
            assert case["name"] not in names, f"{where}: duplicate name"
            assert len(BODY_KEYS & set(case)) <= 1, f"{where}: more than one body"
            expect = case["expect"] if isinstance(case["expect"], list) else [case["expect"]]
            assert set(expect) <= ALLOWED, f"{where}: expects {expect}, allowed are {sorted(ALLOWED)}"
            assert not case.get("stored") or set(expect) <= {200, 201}, f"{where}: only accepted cases store"
            names.add(case["name"])
            cases.append({**case, "expect": expect})
    return cases


CASES = load_corpus()


# -- building a request from a case ------------------------------------------------------------

_updates = itertools.count(810_000_000)


class Values:
    """The fresh ids one case uses, the same everywhere in the case."""

    def __init__(self, outbound_sid: str | None) -> None:
        self.sid = f"SM{uuid.uuid4().hex}"
        self.update = next(_updates)
        self.outbound_sid = outbound_sid or "SMnooutbound"

    def text(self, value: Any) -> str:
        if isinstance(value, dict) and set(value) == {"repeat", "times"}:
            return str(value["repeat"]) * int(value["times"])
        if isinstance(value, list):  # pieces
            return "".join(self.text(v) for v in value)
        return (str(value).replace("$OUTBOUND_SID", self.outbound_sid).replace("$SID", self.sid)
                .replace("$UPDATE", str(self.update)))

    def json(self, value: Any) -> Any:
        if value == "$UPDATE":
            return self.update
        if isinstance(value, dict) and set(value) == {"repeat", "times"}:
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        return self.text(value) if isinstance(value, str) else value

    def pairs(self, form: Any) -> list[tuple[str, str]]:
        items = form.items() if isinstance(form, dict) else form
        out: list[tuple[str, str]] = []
        for key, value in items:
            values = value if isinstance(value, list) else [value]
            out += [(key, self.text(v)) for v in values]
        return out


def body_of(case: dict, values: Values, pairs: list[tuple[str, str]] | None = None) -> bytes:
    if "form" in case:
        pairs = pairs if pairs is not None else values.pairs(case["form"])
        pairs = pairs + [(f"Extra{i}", "x") for i in range(case.get("extra_fields", 0))]
        return urllib.parse.urlencode(pairs).encode()
    if "json" in case:
        return json.dumps(values.json(case["json"]), ensure_ascii=False).encode()
    if "raw" in case:
        return values.text(case["raw"]).encode()
    if "raw_base64" in case:
        return base64.b64decode(case["raw_base64"])
    return b""


def twilio_signature(case: dict, path: str, body: bytes) -> str | None:
    """Signed the way Twilio signs: the URL it called, then every form field and value, sorted."""
    mode = case.get("sign", "valid")
    if mode == "none":
        return None
    if mode == "wrong":
        return base64.b64encode(b"not the signature of this request").decode()
    form = EnvironBuilder(method="POST", path=path, data=body, content_type=case.get("content_type")
                          ).get_request().form  # what the server will parse from these bytes
    url = ("https://evil.test" if mode == "other_url" else PUBLIC) + path
    return RequestValidator(TWILIO_TOKEN).compute_signature(url, form)


def request_of(case: dict, values: Values) -> dict:
    path = values.text(case["path"])
    body = body_of(case, values)
    headers: dict[str, str] = {}
    if case["file"].startswith("twilio"):
        signature = twilio_signature(case, path, body)
        if "tamper" in case:  # signed over the original, sent changed
            changed = [(k, v) for k, v in values.pairs(case["form"]) if k not in case["tamper"]]
            body = body_of(case, values, changed + values.pairs(case["tamper"]))
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
    if case["file"] == "telegram":
        secret = case.get("secret", "valid")
        if secret != "none":
            headers["X-Telegram-Bot-Api-Secret-Token"] = TELEGRAM_SECRET if secret == "valid" else "guess"
    method = case.get("method", "POST")
    request: dict = {"method": method, "path": path, "headers": headers}
    if method != "GET":
        request["data"] = body
        if case.get("content_type"):
            request["content_type"] = case["content_type"]
    return request


# -- the app the corpus runs against --------------------------------------------------------------

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def corpus_app(request, tmp_path_factory, redis_server):  # type: ignore[no-untyped-def]
    """One app per database for the whole corpus (each case counts rows before and after itself)."""
    tmp = tmp_path_factory.mktemp(f"corpus-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'helpline.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database(f"corpus_{uuid.uuid4().hex[:12]}")
    flush = redis.Redis.from_url(redis_server.url)
    flush.flushall()  # rate-limit counters of earlier tests
    flush.close()
    fakes = FakeProviders().start()
    app = None
    try:
        app = make_app(make_config(tmp, url, redis_server.url, fakes.url), staff_yaml=None)
        yield app
    finally:
        if app is not None:
            app.extensions["helpline"].close()
        fakes.stop()


def counts(app) -> tuple[int, int, int, int]:  # type: ignore[no-untyped-def]
    """(inbound messages, contacts, dispatch notices waiting, the newest message id)."""
    rt = app.extensions["helpline"]
    rt.flush_announcements()  # the webhooks' notices go to Redis from a background thread
    with rt.db.session() as s:
        inbound = s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
        contacts = s.scalar(select(func.count()).select_from(Contact))
        newest = s.scalar(select(func.max(Message.id))) or 0
    return inbound, contacts, rt.redis.llen(INBOUND_LIST), newest


def failed_jobs(app) -> int:  # type: ignore[no-untyped-def]
    from rq import Queue
    from rq.registry import FailedJobRegistry
    rt = app.extensions["helpline"]
    return sum(FailedJobRegistry(queue=Queue(q, connection=rt.redis)).count
               for q in ("crisis", "high", "default", "low"))


def prepare(app, client, case: dict) -> str | None:  # type: ignore[no-untyped-def]
    """The state a case needs first: a browser that already chats, or a message we sent."""
    if case.get("setup") == "chat":
        assert client.post("/chat/messages", json={"text": "hello"}).status_code == 201
        run_jobs(app)
    if case.get("setup") == "outbound":
        sid = f"SM{uuid.uuid4().hex}"
        with app.extensions["helpline"].db.session() as s:
            s.add(Message(direction="out", channel="sms", provider_id=sid, status="sent", text="reply"))
        return sid
    return None


@pytest.mark.parametrize("case", CASES, ids=[f"{c['file']}-{c['name']}" for c in CASES])
def test_malformed_input_is_answered_and_nothing_is_half_stored(corpus_app, case: dict) -> None:
    app = corpus_app
    client = app.test_client()
    values = Values(prepare(app, client, case))
    before, failed_before = counts(app), failed_jobs(app)
    request = request_of(case, values)
    responses = [client.open(**request) for _ in range(case.get("repeat", 1))]

    for r in responses:
        assert r.status_code in case["expect"], (r.status_code, r.get_data()[:300])
        text = r.get_data(as_text=True)
        assert not any(marker in text for marker in TRACE_MARKERS), text[:500]
        if r.status_code >= 400:
            assert r.is_json and isinstance(r.json.get("error"), str) and r.json["error"], text[:300]
            assert "detail" in r.json

    inbound, contacts, notices, _ = counts(app)
    accepted = all(r.status_code in (200, 201) for r in responses)
    stored = case.get("stored", 0) if accepted else 0
    assert inbound - before[0] == stored, "stored rows"
    assert notices - before[2] == stored, "dispatch notices"
    if not stored:
        assert contacts == before[1], "a contact without a message"
        return
    run_jobs(app)  # accepted must also mean harmless: the worker handles it like any other message
    assert failed_jobs(app) == failed_before
    rt = app.extensions["helpline"]
    with rt.db.session() as s:
        statuses = s.scalars(select(Message.status).where(Message.direction == "in",
                                                          Message.id > before[3])).all()
    assert statuses and set(statuses) == {"processed"}, "an accepted message the worker did not process"


def test_the_corpus_covers_every_receiver_and_both_outcomes() -> None:
    """A guard on the data: each receiver has refusals, acceptances and correctly signed bad bodies."""
    by_file: dict[str, list[dict]] = {}
    for c in CASES:
        by_file.setdefault(c["file"], []).append(c)
    assert set(by_file) == {"twilio", "twilio_status", "telegram", "chat"}
    for name, cases in by_file.items():
        assert any(set(c["expect"]) <= {200, 201} for c in cases), name
        assert any(400 in c["expect"] and c.get("sign", "valid") == c.get("secret", "valid") == "valid"
                   for c in cases), name
