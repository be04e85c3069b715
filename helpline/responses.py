"""What every answer of the web process carries: the JSON reason of an error, and the security headers.

Shared by Flask's handlers (helpline.app) and the Twilio receiver that answers outside Flask's request
handling (webhooks.fast), so both answer alike."""
from __future__ import annotations

import json
import logging

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from helpline.errors import ApiError

log = logging.getLogger(__name__)
MAX_REQUEST_BYTES = 1024 * 1024  # a request body past this is refused (413)
_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors ")


def json_response(body: dict, status: int) -> Response:
    return Response(json.dumps(body, default=str) + "\n", status=status, mimetype="application/json")


def error_response(e: Exception) -> Response:
    """A clear JSON reason, never a stack trace: an API refusal, an HTTP error, the database away (503,
    which a provider retries) or anything unexpected (500, logged with its trace)."""
    if isinstance(e, ApiError):
        return json_response({"error": e.code, "detail": e.detail}, e.status)
    if isinstance(e, HTTPException):
        code = (e.name or "error").lower().replace(" ", "_")
        return json_response({"error": code, "detail": e.description}, e.code or 500)
    if isinstance(e, (OperationalError, PoolTimeout)):
        log.warning("database unavailable: %s", type(getattr(e, "orig", None) or e).__name__)
        resp = json_response({"error": "unavailable",
                              "detail": "the database is unavailable; try again shortly"}, 503)
        resp.headers["Retry-After"] = "5"
        return resp
    log.exception("unhandled error: %s", type(e).__name__)
    return json_response({"error": "internal_error",
                          "detail": "something went wrong; it has been logged"}, 500)


class SecurityHeaders:
    """The headers every answer gets; the chat page may be framed by the origins configured for it."""

    def __init__(self, chat_embed_origins: tuple[str, ...]) -> None:
        self._csp = _CSP + "'self'"
        self._csp_chat = _CSP + " ".join(("'self'",) + chat_embed_origins)

    def apply(self, resp: Response, path: str) -> Response:
        headers = resp.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        csp = self._csp_chat if path.startswith("/chat") else self._csp
        headers.setdefault("Content-Security-Policy", csp)
        return resp
