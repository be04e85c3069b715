"""The labelled evaluation sets as regression guards (figures: bench/faq_eval.py, bench/crisis_eval.py).

The floors are the levels reached, not the goals; the goals and the gap are in docs/PERFORMANCE.md."""
from __future__ import annotations

from bench.crisis_eval import evaluate, load
from bench.faq_eval import faq_report, language_report
from helpline.content import load_content
from helpline.crisis import shared_screener
from helpline.faq import shared_index


def test_faq_topic_accuracy_held_out():
    report = faq_report(shared_index(load_content()))
    assert report["n"] >= 200
    assert report["top1"] >= 0.86, report
    assert report["confident_precision"] >= 0.95, report  # a clear lead is nearly always right
    assert report["answered_precision"] >= 0.90, report  # close calls are answered at once too (flows/)


def test_language_detection_held_out():
    report = language_report()
    assert report["accuracy"] >= 0.92, report
    assert report["confident_precision"] >= 0.97, report  # a confident switch is nearly always right


def test_crisis_screening_held_out():
    rows = load("eval")
    assert len(rows) >= 300 and len({r["lang"] for r in rows}) >= 12
    report = evaluate(shared_screener(load_content()), rows)
    assert report["recall"] >= 0.97, report["misses"]
    assert report["high_paged"] >= 0.90
    assert report["false_page"] <= 0.10, report["alarms"]
    assert all(v >= 0.8 for v in report["per_lang"].values()), report["per_lang"]


def test_signs_of_an_emergency_or_of_exploitation_are_in_the_phrase_lists():
    """content/crisis/health_and_work.tsv: the phrase lists alone find the signs (blood, a stroke, a fall with no
    answer, poison, documents handed to a driver ...) at their level in every language, and page at most one in a
    hundred of the everyday messages written beside them ("my son threw up all night after the camp food")."""
    content = load_content()
    rows = content.crisis_health  # checked and loaded as content (the lens learns from half its pairs)
    screener = shared_screener(content)
    signs = [r for r in rows if r["label"] != "none"]
    calm = [r for r in rows if r["label"] == "none"]
    assert len(signs) >= 500 and len({r["lang"] for r in signs}) >= 14 and len(calm) >= 500
    found = [r for r in signs if screener.phrase_result(r["text"]).found.level == r["label"]]
    assert len(found) / len(signs) >= 0.97, [r["text"] for r in signs if r not in found][:20]
    paged = [r["text"] for r in calm if screener.phrase_result(r["text"]).found.level == "high"]
    assert len(paged) / len(calm) <= 0.01, paged
