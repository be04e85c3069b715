"""Maintenance jobs: key rotation."""
from __future__ import annotations

from sqlalchemy import text

from helpline import crypto

ENCRYPTED = (("contact", "address"), ("message", "text"), ("conversation", "notes"), ("escalation", "notes"))


def rotate_encryption(rt, batch: int = 500) -> int:  # type: ignore[no-untyped-def]
    """Re-encrypts every stored value with the newest key (old keys must still be configured)."""
    done = 0
    for table, column in ENCRYPTED:
        last = 0
        while True:
            with rt.db.engine.begin() as conn:
                rows = conn.execute(text(f"SELECT id, {column} FROM {table} WHERE id > :last AND {column} IS NOT NULL "
                                         f"ORDER BY id LIMIT :n"), {"last": last, "n": batch}).all()
                for row_id, value in rows:
                    conn.execute(text(f"UPDATE {table} SET {column} = :v WHERE id = :id"),
                                 {"v": crypto.rotate(value), "id": row_id})
            if not rows:
                break
            last = rows[-1][0]
            done += len(rows)
    return done
