"""Server-rendered pages: landing, dashboard (volunteers, supervisors). Data comes from the JSON API."""
from __future__ import annotations

from flask import Blueprint, render_template

from helpline.content import TOPICS
from helpline.runtime import current_runtime

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def landing():  # type: ignore[no-untyped-def]
    return render_template("landing.html")


@bp.get("/dashboard")
def dashboard():  # type: ignore[no-untyped-def]
    rt = current_runtime()
    rtl = [x["code"] for x in rt.content.languages if x["direction"] == "rtl"]
    return render_template("dashboard.html", rtl=rtl, languages=rt.content.codes, topics=TOPICS)
