"""`helpline chat`: talk to the helpline in the terminal as a contact would, through the same engine."""
from __future__ import annotations

import sys

from sqlalchemy import select

from helpline import migrate
from helpline.config import Config
from helpline.inbound import InboundMessage, get_contact_by_address
from helpline.models import Message
from helpline.runtime import current_runtime


def run_chat(config: Config, lang: str | None = None, number: str = "+4915100000000") -> int:
    from workers.inbound import process_contact
    from workers.run import build_worker_runtime
    config = config.with_(redis_url="")  # in-process: no queue, replies printed here
    migrate.upgrade(config.database_url)
    app, rt = build_worker_runtime(config)
    seen = 0
    print("helpline chat: write as a contact; Ctrl-D ends.", flush=True)
    with app.app_context():
        rt = current_runtime()
        for line in sys.stdin:
            text = line.rstrip("\n")
            msg = InboundMessage(channel="console", address=number, text=text, provider_id=None,
                                 profile_language=lang)
            rt.inbound.store(msg, rt.config.default_region)  # processed right here, not by a worker
            with rt.db.session() as s:
                contact = get_contact_by_address(s, "console", number)
                contact_id = contact.id if contact else None
            if contact_id is None:
                continue
            process_contact(contact_id)
            with rt.db.session() as s:
                rows = s.scalars(select(Message).where(Message.contact_id == contact_id, Message.direction == "out",
                                                       Message.id > seen).order_by(Message.id)).all()
                for m in rows:
                    seen = m.id
                    m.status = "delivered"
                    print("\n" + (m.text or "") + "\n", flush=True)
    return 0
