"""Crisis screening on the labelled sets in tests/data.

    python bench/crisis_eval.py [dev|eval] [--no-semantic]

The development set is part of the exemplar bank the semantic heads are trained on, so its figures
are optimistic; the held-out `eval` set is the honest one.
Prints recall (crisis = high or medium in the label; a hit = any level), recall of HIGH labels at
level high (pages), false-alarm rate on `none` rows (any level; and pages), per-language recall.
"""
from __future__ import annotations

import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpline.content import load_content  # noqa: E402
from helpline.crisis import Screener  # noqa: E402


def load(name: str) -> list[dict]:
    path = ROOT / "content" / "crisis" / "labelled_dev.tsv" if name == "dev" else ROOT / "tests" / "data" / "crisis_eval.tsv"
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def evaluate(screener: Screener, rows: list[dict], semantic: bool = True) -> dict:
    per_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    crisis = hits = high = high_paged = none = false_any = false_page = 0
    misses, alarms = [], []
    t = time.perf_counter()
    for r in rows:
        s = screener.screen(r["text"], semantic=semantic)
        if r["label"] in ("high", "medium"):
            crisis += 1
            hit = s.level is not None
            hits += hit
            per_lang[r["lang"]][0] += hit
            per_lang[r["lang"]][1] += 1
            if r["label"] == "high":
                high += 1
                high_paged += s.level == "high"
            if not hit:
                misses.append((r["lang"], r["text"]))
        else:
            none += 1
            false_any += s.level is not None
            false_page += s.level == "high"
            if s.level:
                alarms.append((r["lang"], s.level, s.method, r["text"]))
    return {"recall": hits / crisis, "high_paged": high_paged / high, "false_alarm": false_any / none,
            "false_page": false_page / none, "per_lang": {k: v[0] / v[1] for k, v in sorted(per_lang.items())},
            "ms": (time.perf_counter() - t) * 1000 / len(rows), "misses": misses, "alarms": alarms, "n": len(rows)}


def main() -> int:
    which = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "eval"
    semantic = "--no-semantic" not in sys.argv
    screener = Screener(load_content())
    r = evaluate(screener, load(which), semantic)
    print(f"crisis {which} set (n={r['n']}, semantic={'on' if semantic else 'off'}, {r['ms']:.1f} ms/message)")
    print(f"  recall {r['recall']:.3f} (any level); HIGH labels paged {r['high_paged']:.3f}")
    print(f"  false alarms {r['false_alarm']:.3f} (any level); false pages {r['false_page']:.3f}")
    print("  recall per language: " + ", ".join(f"{k} {v:.2f}" for k, v in r["per_lang"].items()))
    for lang, text in r["misses"]:
        print(f"  missed [{lang}] {text}")
    for lang, level, method, text in r["alarms"]:
        print(f"  false alarm [{lang}] {level}/{method}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
