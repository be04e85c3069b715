"""FAQ matching and language detection on the labelled sets in tests/data.

    python bench/faq_eval.py          # prints top-1 topic accuracy, answered/offered/refused, language accuracy
"""
from __future__ import annotations

import csv
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpline.content import load_content  # noqa: E402
from helpline.faq import FaqIndex  # noqa: E402
from helpline.language import detect_language  # noqa: E402


def rows(name: str) -> list[dict]:
    with open(ROOT / "tests" / "data" / name, encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def faq_report(index: FaqIndex) -> dict:
    data = rows("faq_eval.tsv")
    per_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    top1 = top3 = answered = answered_right = offered = refused = sure = sure_right = 0
    t = time.perf_counter()
    for r in data:
        m = index.match(r["text"])
        topics = [c.topic for c in m.candidates]
        ok = bool(topics) and topics[0] == r["topic"]
        top1 += ok
        top3 += r["topic"] in topics[:3]
        per_lang[r["lang"]][0] += ok
        per_lang[r["lang"]][1] += 1
        if m.found:  # the flow answers the best entry at once; a close call keeps the others for a "no"
            answered += 1
            answered_right += ok
            offered += not m.confident
            sure += m.confident
            sure_right += ok and m.confident
        else:
            refused += 1
    ms = (time.perf_counter() - t) * 1000 / len(data)
    return {"n": len(data), "top1": top1 / len(data), "top3": top3 / len(data), "answered": answered,
            "answered_precision": answered_right / max(answered, 1), "offered": offered, "refused": refused,
            "confident_precision": sure_right / max(sure, 1),
            "ms_per_message": ms, "per_lang": {k: v[0] / v[1] for k, v in sorted(per_lang.items())}}


def language_report(name: str | None = None) -> dict:
    """`lang_eval_b.tsv` was written after the lexicons and never looked at while tuning: the honest one."""
    if name:
        data = rows(name)
    else:
        data = [r for r in rows("lang_eval.tsv")] + [
            {"lang": r["lang"], "text": r["text"]} for r in rows("faq_eval.tsv") if "-" not in r["lang"]]
    right = Counter()
    total = Counter()
    confident_right = confident = 0
    for r in data:
        d = detect_language(r["text"])
        total[r["lang"]] += 1
        right[r["lang"]] += d.lang == r["lang"]
        if d.confident:
            confident += 1
            confident_right += d.lang == r["lang"]
    return {"n": len(data), "accuracy": sum(right.values()) / len(data),
            "confident_share": confident / len(data), "confident_precision": confident_right / max(confident, 1),
            "per_lang": {k: right[k] / total[k] for k in sorted(total)}}


def main() -> int:
    content = load_content()
    index = FaqIndex(content)
    t = time.perf_counter()
    index.vectors
    print(f"index: {len(index.texts)} phrasings, loaded in {time.perf_counter() - t:.2f} s")
    f = faq_report(index)
    print(f"FAQ top-1 topic accuracy {f['top1']:.3f}  top-3 {f['top3']:.3f}  (n={f['n']}, "
          f"{f['ms_per_message']:.1f} ms/message)")
    print(f"  answered at once {f['answered']} (right {f['answered_precision']:.3f}), of them close calls "
          f"with other answers kept for a 'no' {f['offered']}, not guessed {f['refused']}")
    print("  per language: " + ", ".join(f"{k} {v:.2f}" for k, v in f["per_lang"].items()))
    for name, label in ((None, "lang_eval + faq_eval (some errors seen while tuning)"),
                        ("lang_eval_b.tsv", "lang_eval_b (held out)")):
        lang = language_report(name)
        print(f"language accuracy {lang['accuracy']:.3f} on {label}, n={lang['n']}; confident on "
              f"{lang['confident_share']:.2f} of messages with precision {lang['confident_precision']:.3f}")
        print("  per language: " + ", ".join(f"{k} {v:.2f}" for k, v in lang["per_lang"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
