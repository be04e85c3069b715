"""The app factory: config read once, extensions bound, blueprints registered."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from helpline import crypto
from helpline.config import Config
from helpline.db import Database
from helpline.errors import ApiError
from helpline.runtime import Runtime

log = logging.getLogger(__name__)


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    https = config.public_base_url.startswith("https://")
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        # an NGO's site may show /chat in a frame: then the cookie must travel cross-site (HTTPS only);
        # the API still needs its X-CSRF-Token on every unsafe request
        SESSION_COOKIE_SAMESITE="None" if config.chat_embed_origins and https else "Lax",
        SESSION_COOKIE_SECURE=https,
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.session_interface = _Sessions()
    crypto.configure(config)
    runtime = Runtime(config, Database(config.database_url), web=True)
    app.extensions["helpline"] = runtime

    from helpline.api import bp as api_bp
    from helpline.api_staff import bp as api_staff_bp
    from helpline.dashboard import bp as dashboard_bp
    from helpline.health import bp as health_bp
    from webhooks import bp as webhooks_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(api_staff_bp)
    app.register_blueprint(dashboard_bp)
    _register_errors(app)

    csp = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
           "script-src 'self'; connect-src 'self'; frame-ancestors ")
    csp_chat = csp + " ".join(("'self'",) + config.chat_embed_origins)
    csp = csp + "'self'"

    @app.after_request
    def _security_headers(resp):  # type: ignore[no-untyped-def]
        headers = resp.headers  # built once above: this runs on every webhook too
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("Content-Security-Policy", csp_chat if request.path.startswith("/chat") else csp)
        return resp

    return app


class _Sessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, the serializer built once instead of at every request (each
    webhook opens a session too); the app's secret keys do not change after create_app."""

    _serializer = None

    def get_signing_serializer(self, app: Flask):  # type: ignore[no-untyped-def]
        if self._serializer is None:
            self._serializer = super().get_signing_serializer(app)
        return self._serializer


def _register_errors(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(e: ApiError):  # type: ignore[no-untyped-def]
        return jsonify({"error": e.code, "detail": e.detail}), e.status

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException):  # type: ignore[no-untyped-def]
        code = (e.name or "error").lower().replace(" ", "_")
        return jsonify({"error": code, "detail": e.description}), e.code

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def _database_away(e: Exception):  # type: ignore[no-untyped-def]
        """The database is down or overloaded: a 503 the provider retries, one log line, no stack trace."""
        log.warning("database unavailable: %s", type(getattr(e, "orig", None) or e).__name__)
        resp = jsonify({"error": "unavailable", "detail": "the database is unavailable; try again shortly"})
        resp.headers["Retry-After"] = "5"
        return resp, 503

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error: %s", type(e).__name__)
        return jsonify({"error": "internal_error", "detail": "something went wrong; it has been logged"}), 500
