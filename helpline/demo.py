"""`helpline serve --demo`: a demo volunteer and supervisor on the embedded default."""
from __future__ import annotations

import secrets
from datetime import date

from helpline import crypto
from helpline.config import Config
from helpline.db import Database
from helpline.staff import StaffEntry, do_import_staff


def seed_demo(config: Config) -> list[str]:
    crypto.configure(config)
    db = Database(config.database_url)
    passwords = {"volunteer": secrets.token_urlsafe(9), "supervisor": secrets.token_urlsafe(9)}
    entries = [
        StaffEntry(role="volunteer", email="volunteer@demo.local", name="Demo Volunteer", line=0,
                   password=passwords["volunteer"], languages=["en", "ar", "fa", "fr", "uk", "es", "ru", "tr"],
                   topics=[], max_conversations=5, trained_until=date(2099, 1, 1)),
        StaffEntry(role="supervisor", email="supervisor@demo.local", name="Demo Supervisor", line=0,
                   password=passwords["supervisor"], languages=["en"]),
    ]
    with db.session() as s:
        do_import_staff(s, entries)
    db.dispose()
    return ["helpline demo: volunteer  volunteer@demo.local  password " + passwords["volunteer"],
            "helpline demo: supervisor supervisor@demo.local password " + passwords["supervisor"]]
