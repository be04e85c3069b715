"""On-call windows of professionals: "mon-fri 08:00-20:00" in their own time zone."""
from __future__ import annotations

import re
from datetime import datetime, time
from zoneinfo import ZoneInfo

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WINDOW = re.compile(r"^(?P<d1>[a-z]{3})(?:-(?P<d2>[a-z]{3}))?\s+(?P<t1>\d{2}:\d{2})-(?P<t2>\d{2}:\d{2})$")


def parse_window(text: str) -> tuple[set[int], time, time]:
    m = _WINDOW.match(text.strip().lower())
    if not m or m["d1"] not in DAYS or (m["d2"] and m["d2"] not in DAYS):
        raise ValueError(f"window {text!r} must look like 'mon-fri 08:00-20:00'")
    d1 = DAYS.index(m["d1"])
    d2 = DAYS.index(m["d2"]) if m["d2"] else d1
    days = {d % 7 for d in range(d1, d2 + 1 if d2 >= d1 else d2 + 8)}
    try:
        t1, t2 = time.fromisoformat(m["t1"]), time.fromisoformat(m["t2"])
    except ValueError:
        raise ValueError(f"window {text!r} has an invalid time") from None
    return days, t1, t2


def is_on_call(oncall: dict | None, now: datetime) -> bool:
    """No windows means always on call. A window may pass midnight (22:00-06:00)."""
    if not oncall:
        return True
    local = now.astimezone(ZoneInfo(oncall.get("timezone", "UTC")))
    for w in oncall.get("windows", []):
        days, t1, t2 = parse_window(w)
        t = local.time()
        if t1 <= t2:
            if local.weekday() in days and t1 <= t < t2:
                return True
        elif (local.weekday() in days and t >= t1) or ((local.weekday() - 1) % 7 in days and t < t2):
            return True
    return False
