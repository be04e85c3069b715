"""The content, FAQ, crisis and chat commands as an operator runs them."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, stdin: str | None = None, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    e = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "helpline.cli", *args], input=stdin, capture_output=True, text=True,
                          env=e, timeout=300, cwd=cwd)


def test_content_check_passes_on_the_bundled_content():
    r = run("content", "check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 error(s)" in r.stdout


def test_content_check_reports_file_line_and_key(tmp_path, monkeypatch):
    from helpline.content import check_content
    base = tmp_path / "content"
    shutil.copytree(ROOT / "content", base)
    fr = base / "messages" / "fr.yaml"
    fr.write_text(fr.read_text().replace("{position}", "{place}", 1) + "\nnot_a_key: \"x\"\n")
    (base / "faq" / "housing.yaml").write_text("topic: housing\nentries: [\n")
    (base / "crisis" / "dev3" / "more.tsv").write_text("lang\tlabel\tcategory\tkind\ttext\nen\tmaybe\t-\tx\thi\n")
    so = base / "crisis" / "so.yaml"
    so.write_text(so.read_text().replace("coercion:", "coersion:", 1).replace("  trafficking:", "  traficking:", 1)
                  + "safe:\n  - 7\n")
    errors, warnings = check_content(base)
    joined = "\n".join(errors)
    assert "content/messages/fr.yaml:" in joined and "placeholders" in joined
    assert "unknown key 'not_a_key'" in joined
    assert "content/faq/housing.yaml:3: invalid YAML" in joined
    assert "content/crisis/dev3/more.tsv:2: needs lang, label, category, kind, text" in joined
    assert "content/crisis/so.yaml: unknown key 'coersion'" in joined        # its phrases would be dropped unseen
    assert "content/crisis/so.yaml: high: unknown category 'traficking'" in joined
    assert "content/crisis/so.yaml: safe: 7 is not a phrase (a string)" in joined


def test_content_export_is_the_faq_as_json():
    r = run("content", "export")
    assert r.returncode == 0
    data = json.loads(r.stdout)
    from helpline.content import TOPICS
    assert {e["topic"] for e in data} == set(TOPICS)
    assert {e["lang"] for e in data} >= {"en", "ar", "fa", "ps", "fr", "uk", "es", "ti", "ru", "tr", "so", "ku"}
    for e in data:
        assert set(e) == {"id", "topic", "lang", "questions", "answer"} and e["questions"] and len(e["answer"]) < 700


def test_faq_match_one_json_line_per_message():
    r = run("faq", "match", stdin="How do I apply for asylum?\nأين أجد محامي مجاني؟\nthank you\n")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == 3
    assert lines[0]["topic"] == "asylum_procedure" and lines[0]["lang"] == "en"
    assert lines[1]["lang"] == "ar" and lines[1]["topic"] == "legal_aid"
    assert lines[2]["faq_id"] is None and set(lines[2]) == {"lang", "faq_id", "topic", "score"}


def test_crisis_classify_one_json_line_per_message():
    r = run("crisis", "classify", stdin="I want to kill myself tonight\nmy phone died, can you call me?\n")
    assert r.returncode == 0, r.stderr
    first, second = (json.loads(x) for x in r.stdout.splitlines())
    assert first["crisis"] is True and first["level"] == "high" and first["category"] == "suicide_self_harm"
    assert second["crisis"] is False


def test_chat_talks_like_a_contact(tmp_path):
    r = run("chat", stdin="Hello\n1\nHow do I apply for asylum?\n", env={"HELPLINE_DATA_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert "Welcome" in r.stdout and "BAMF" in r.stdout
    assert "Traceback" not in r.stderr
