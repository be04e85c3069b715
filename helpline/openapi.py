"""The OpenAPI description of the JSON API (CONTRACT 6), served at /api/openapi.json."""
from __future__ import annotations

from typing import Any

from helpline.crisis import HIGH_CATEGORIES

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}, "detail": {}}}
CONVERSATION = {"type": "object", "properties": {
    "id": {"type": "integer"}, "channel": {"type": "string"}, "language": {"type": ["string", "null"]},
    "topic": {"type": ["string", "null"]}, "status": {"type": "string", "enum": ["bot", "waiting", "active", "closed"]},
    "assigned_to": {"type": ["integer", "null"]}, "contact_alias": {"type": "string"},
    "priority": {"type": "integer"}, "last_message_at": {"type": ["string", "null"], "format": "date-time"}}}
ESCALATION = {"type": "object", "properties": {
    "id": {"type": "integer"}, "code": {"type": "string"}, "conversation_id": {"type": ["integer", "null"]},
    "category": {"type": "string"}, "status": {"type": "string", "enum": ["open", "acknowledged", "resolved"]},
    "created_at": {"type": "string"}, "acknowledged_by": {"type": ["integer", "null"]},
    "pages": {"type": "array", "items": {"type": "object"}}}}


def _op(summary: str, ok: int = 200, body: dict | None = None, schema: Any = None, params: list | None = None,
        auth: bool = True) -> dict:
    op: dict[str, Any] = {"summary": summary, "responses": {
        str(ok): {"description": "success", "content": {"application/json": {"schema": schema or {"type": "object"}}}},
        "400": {"description": "malformed", "content": {"application/json": {"schema": ERROR}}},
        "422": {"description": "invalid", "content": {"application/json": {"schema": ERROR}}}}}
    if auth:
        op["responses"].update({
            "401": {"description": "not logged in", "content": {"application/json": {"schema": ERROR}}},
            "403": {"description": "forbidden or bad CSRF token", "content": {"application/json": {"schema": ERROR}}},
            "404": {"description": "not found", "content": {"application/json": {"schema": ERROR}}},
            "409": {"description": "conflict", "content": {"application/json": {"schema": ERROR}}}})
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def _login() -> dict:
    s = {"type": "string"}
    op = _op("log in", body=_obj(["email", "password"], email=s, password=s),
             schema=_obj(["csrf_token"], csrf_token=s), auth=False)
    op["responses"].update({
        "401": {"description": "wrong email or password", "content": {"application/json": {"schema": ERROR}}},
        "429": {"description": "too many failed logins", "content": {"application/json": {"schema": ERROR}}}})
    return {**op, "security": []}


def _obj(required: list[str], **props: Any) -> dict:
    return {"type": "object", "required": required, "properties": props}


STAFF_FIELDS = {"name": {"type": "string", "minLength": 1, "maxLength": 120},
                "role": {"type": "string", "enum": ["volunteer", "professional", "supervisor"]},
                "languages": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]{2}$"}},
                "topics": {"type": "array", "items": {"type": "string"}},
                "max_conversations": {"type": "integer", "minimum": 1, "maximum": 50},
                "trained_until": {"type": "string", "format": "date", "nullable": True},
                "active": {"type": "boolean"}, "available": {"type": "boolean"}}
ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]


def spec() -> dict:
    s = {"type": "string"}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Helpline API", "version": "1"},
        "components": {"securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"}}},
        "security": [{"session": [], "csrf": []}],
        "paths": {
            "/api/login": {"post": _login()},
            "/api/logout": {"post": _op("log out")},
            "/api/me": {"get": _op("own profile"), "put": _op("choose the display name contacts see", body=_obj(
                ["display_name"], display_name={"type": "string", "minLength": 1, "maxLength": 40}))},
            "/api/conversations/{id}/flag": {"post": _op("flag the contact as abusive", body=_obj(
                ["reason"], reason={"type": "string", "minLength": 1}), params=ID)},
            "/api/conversations/{id}/block": {"post": _op("block the contact (supervisor)", body=_obj(
                ["reason", "until"], reason={"type": "string", "minLength": 1},
                until={"type": "string", "enum": ["day", "month", "forever"]}), params=ID)},
            "/api/conversations/{id}/unblock": {"post": _op("unblock the contact (supervisor)", params=ID)},
            "/api/me/availability": {"put": _op("go on or off shift",
                                                body=_obj(["available"], available={"type": "boolean"}))},
            "/api/conversations": {"get": _op("conversations", schema={"type": "array", "items": CONVERSATION},
                                              params=[{"name": "status", "in": "query", "schema": {
                                                  "type": "string", "enum": ["waiting", "active", "closed"]}}])},
            "/api/conversations/{id}": {"get": _op("one conversation with messages", params=ID)},
            "/api/conversations/{id}/messages": {"post": _op("reply", 201, body=_obj(
                ["text"], text={"type": "string", "minLength": 1, "maxLength": 4000}, private={"type": "boolean"}),
                params=ID)},
            "/api/conversations/{id}/transfer": {"post": _op("hand over or back to the queue", body=_obj(
                [], to={"type": "integer", "nullable": True}, reason=s), params=ID)},
            "/api/conversations/{id}/close": {"post": _op("wrap up", body=_obj(
                ["outcome"], outcome={"type": "string", "minLength": 1, "maxLength": 64}, notes=s,
                tags={"type": "array", "items": s}), params=ID)},
            "/api/escalations": {"get": _op("escalations", schema={"type": "array", "items": ESCALATION},
                                            params=[{"name": "status", "in": "query", "schema": {
                                                "type": "string", "enum": ["open", "acknowledged", "resolved"]}}])},
            "/api/escalations/{id}/acknowledge": {"post": _op("acknowledge", params=ID)},
            "/api/escalations/{id}/resolve": {"post": _op("resolve", body=_obj(
                ["outcome"], outcome={"type": "string", "minLength": 1}, notes=s), params=ID)},
            "/api/escalations/{id}/take": {"post": _op("take the conversation over", params=ID)},
            "/api/metrics": {"get": _op("queue and escalation metrics, volume per day and language")},
            "/api/conversations/{id}/canned": {"get": _op("canned responses in the contact's language", params=ID)},
            "/api/conversations/{id}/escalate": {"post": _op("escalate by hand: opens (or raises) the paging ladder",
                                                             201, body=_obj(["category"], category={
                                                                 "type": "string", "enum": list(HIGH_CATEGORIES)},
                                                                 reason=s), schema=ESCALATION, params=ID)},
            "/api/staff": {"get": _op("colleagues and their load (supervisors: every staff member)",
                                      schema={"type": "array", "items": {"type": "object"}}),
                           "post": _op("add a staff member (supervisor)", 201, body=_obj(
                               ["email", "name", "role", "password"], **STAFF_FIELDS, email=s,
                               password={"type": "string", "minLength": 8}))},
            "/api/staff/{id}": {"patch": _op("change a staff member (supervisor)", body=_obj(
                [], **STAFF_FIELDS, password={"type": "string", "minLength": 8}), params=ID)},
        },
    }
