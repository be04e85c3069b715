"""Liveness and readiness for load balancers."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from helpline.migrate import at_head
from helpline.runtime import current_runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    rt = current_runtime()
    checks: dict[str, str] = {}
    try:
        with rt.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        checks["migrations"] = "ok" if at_head(rt.db.engine) else "behind"
    except Exception as e:  # readiness reports, it does not raise
        checks["database"] = f"error: {type(e).__name__}"
    try:
        rt.redis.ping()
        checks["redis"] = "ok"
    except Exception as e:
        checks["redis"] = f"error: {type(e).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ready" if ready else "not_ready", "checks": checks}), 200 if ready else 503
