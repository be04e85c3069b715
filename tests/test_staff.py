"""The staff file: idempotent import, clear errors naming line and field, nothing half-imported."""
from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import func, select

from helpline import crypto, migrate
from helpline.config import Config
from helpline.db import Database
from helpline.errors import StaffFileError
from helpline.models import Staff
from helpline.staff import check_password, do_import_staff, parse_staff_file
from tests.support import STAFF_YAML


@pytest.fixture
def db(migrated_db):  # type: ignore[no-untyped-def]
    return migrated_db


def test_import_twice_changes_nothing(db):
    entries = parse_staff_file(STAFF_YAML)
    with db.session() as s:
        assert do_import_staff(s, entries) == {"created": 6, "updated": 0, "unchanged": 0}
    with db.session() as s:
        before = {st.email: (st.password_hash, st.languages) for st in s.scalars(select(Staff))}
        assert do_import_staff(s, parse_staff_file(STAFF_YAML)) == {"created": 0, "updated": 0, "unchanged": 6}
    with db.session() as s:
        after = {st.email: (st.password_hash, st.languages) for st in s.scalars(select(Staff))}
        assert before == after
        amal = s.scalar(select(Staff).where(Staff.email == "amal@example.org"))
        assert check_password(amal, "amal-password-1") and not check_password(amal, "wrong")
        weber = s.scalar(select(Staff).where(Staff.email == "weber@example.org"))
        haddad = s.scalar(select(Staff).where(Staff.email == "haddad@example.org"))
        assert weber.rota_position < haddad.rota_position and haddad.page_via == "telegram"


def test_changed_entry_is_updated(db):
    with db.session() as s:
        do_import_staff(s, parse_staff_file(STAFF_YAML))
    with db.session() as s:
        counts = do_import_staff(s, parse_staff_file(STAFF_YAML.replace("max_conversations: 2\n    trained_until: 2099",
                                                                        "max_conversations: 4\n    trained_until: 2099", 1)))
        assert counts["updated"] == 1


@pytest.mark.parametrize("yaml_text,line,field", [
    ("volunteers:\n  - email: a@example.org\n    name: A\n    languages: [arabic]\n", 4, "languages"),
    ("volunteers:\n  - email: a@example.org\n    name: A\n    languages: [ar]\n    max_conversations: lots\n", 5,
     "max_conversations"),
    ("volunteers:\n  - email: a@example.org\n    name: A\n    languages: [ar]\n    trained_until: soon\n", 5,
     "trained_until"),
    ("professionals:\n  - email: p@example.org\n    name: P\n    phone: \"12\"\n", 4, "phone"),
    ("professionals:\n  - email: p@example.org\n    name: P\n    phone: \"+4915112345678\"\n    page_via: pigeon\n",
     5, "page_via"),
    ("supervisors:\n  - email: not-an-email\n    name: S\n", 2, "email"),
    ("volunteers:\n  - email: a@example.org\n    name: A\n    languages: [ar]\n    topics: [cooking]\n", 5, "topics"),
    ("volunteers:\n  - email: a@example.org\n    name: A\n    languages: [ar]\n    colour: blue\n", 5, "colour"),
    ("helpers:\n  - email: a@example.org\n", 1, "helpers"),
])
def test_bad_file_names_line_and_field(yaml_text, line, field):
    from helpline.content import TOPICS
    with pytest.raises(StaffFileError) as e:
        parse_staff_file(yaml_text, set(TOPICS))
    assert e.value.line == line and e.value.field == field
    assert f"line {line}" in str(e.value)


def test_invalid_yaml_names_the_line():
    with pytest.raises(StaffFileError, match="line 3"):
        parse_staff_file("volunteers:\n  - email: a@example.org\n    name: [unclosed\n")


def test_cli_import_is_all_or_nothing(tmp_path, sqlite_url):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(STAFF_YAML)
    bad.write_text(STAFF_YAML + "  - email: broken@example.org\n    name: B\n    phone: \"nope\"\n")
    env = {"HELPLINE_DATA_DIR": str(tmp_path / "d"), "DATABASE_URL": sqlite_url, "SECRET_KEY": "s",
           "HELPLINE_ENCRYPTION_KEY": crypto.new_key(), "PATH": "/usr/bin:/bin"}

    def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "helpline.cli", *args], env=env, capture_output=True,
                              text=True, input=stdin, timeout=120)

    assert cli("db", "upgrade").returncode == 0
    r = cli("staff", "import", str(bad))
    assert r.returncode == 1 and "line" in r.stderr and "phone" in r.stderr
    assert "Traceback" not in r.stderr
    db = Database(sqlite_url)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Staff)) == 0
    assert cli("staff", "import", str(good)).returncode == 0
    assert "0 created, 0 updated, 6 unchanged" in cli("staff", "import", str(good)).stdout
    r = cli("staff", "set-password", "amal@example.org", stdin="a-new-password-2\n")
    assert r.returncode == 0, r.stderr
    assert cli("staff", "set-password", "nobody@example.org", stdin="a-new-password-2\n").returncode == 1
    with db.session() as s:
        crypto.configure(Config.from_env(env))
        amal = s.scalar(select(Staff).where(Staff.email == "amal@example.org"))
        assert check_password(amal, "a-new-password-2")
    db.dispose()
