"""The app factory: config read once, extensions bound, blueprints registered."""
from __future__ import annotations

import logging

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

from helpline import crypto
from helpline.config import Config
from helpline.db import Database
from helpline.responses import MAX_REQUEST_BYTES, SecurityHeaders, error_response
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
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
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
    from webhooks.fast import TwilioFastPath

    app.register_blueprint(health_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(api_staff_bp)
    app.register_blueprint(dashboard_bp)
    _register_errors(app)

    headers = SecurityHeaders(config.chat_embed_origins)

    @app.after_request
    def _security_headers(resp):  # type: ignore[no-untyped-def]
        return headers.apply(resp, request.path)

    app.wsgi_app = TwilioFastPath(app.wsgi_app, runtime, headers)  # type: ignore[method-assign]
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
    # one handler for every kind (Flask hands HTTP errors to it too): it tells them apart
    app.register_error_handler(Exception, error_response)
