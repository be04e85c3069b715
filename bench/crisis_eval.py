"""Crisis screening on the labelled sets.

    python bench/crisis_eval.py [dev|dev2|dev3|masked|health|eval|cv|everyday] [--no-semantic] [--folds N]
                                [--l2 RIDGE] [--faq-weight W] [--quiet]

`eval` is the held-out set in tests/data: it prints aggregate figures only, never a message, so that
nothing is tuned on its rows. `dev` is content/crisis/labelled_dev.tsv, which is part of the exemplar
bank the semantic heads learn from, so its figures are optimistic. `dev2` is content/crisis/lookalike_dev2.tsv, a second development set of hard look-alikes
(idioms, calm past events, news, procedure questions, refills, negations) and some crises in the 14
languages, written after the first and kept out of the bank: an honest figure on new kinds of message,
with detail. Half of its look-alike families teach the net (exemplars_lookalike_dev2.yaml); `dev2` measures
the rest (and all its crises). `dev3` is content/crisis/dev3/*.tsv, a third set of new look-alike kinds with a
crisis twin for some (a real crisis of the same surface); half its kinds teach the net (see
helpline.content.dev3_taught), `dev3` measures the other half. `masked` is content/crisis/masked_dev.tsv, 84
crises only (6 in each language), told with a laugh, an emoji, beside the news or a practical question, or
understated: kept out of the bank, it measures recall and pages where people hide how bad it is. `health` is
content/crisis/health_and_work.tsv: signs of a medical emergency (blood, a stroke, a fall with no answer, a
limp child, poison, a wound ...) and of labour exploitation in the 14 languages, each beside an everyday
message of the same words ("my son threw up all night after the camp food"); kept out of the bank; the pairs of
half its kinds teach the net's lens (helpline.crisis.Lens), `health` measures the other half. `cv` is
the honest figure on the development set: each fold of the development set is screened by heads trained
without it, and
thresholds are swept on those out-of-fold scores (this is where HEAD_ANY/HEAD_HIGH come from).
`everyday` screens the FAQ and language sets of tests/data, messages of no crisis kind, and prints how
many were flagged and paged. The others print recall (crisis = high or medium in the label; a hit = any
level), recall of HIGH labels at level high (pages), false-alarm rate on `none` rows (any level; and
pages), per-language recall.
"""
from __future__ import annotations

import csv
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpline import crisis
from helpline.content import dev3_taught, load_content
from helpline.crisis import (
    PhraseResult,
    Scores,
    Screener,
    Screening,
    Thresholds,
    decide,
    semantic_text,
    train_heads,
)

GOAL_RECALL = 0.98          # overall, any level (the aim)
GOAL_PAGED = 0.90           # HIGH labels paged: the floor tests/test_evaluation.py keeps
GOAL_LANGUAGE = 0.95        # recall in every language (the aim): part of the selection rule


def load(name: str) -> list[dict]:
    path = {"dev": ROOT / "content" / "crisis" / "labelled_dev.tsv",
            "dev2": ROOT / "content" / "crisis" / "lookalike_dev2.tsv",
            "masked": ROOT / "content" / "crisis" / "masked_dev.tsv"}.get(
        name, ROOT / "tests" / "data" / "crisis_eval.tsv")
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def evaluate(screener: Screener, rows: list[dict], semantic: bool = True) -> dict:
    t = time.perf_counter()
    results = [screener.screen(r["text"], semantic=semantic) for r in rows]
    report = figures(rows, results)
    report["ms"] = (time.perf_counter() - t) * 1000 / len(rows)
    return report


def figures(rows: list[dict], results: list[Screening]) -> dict:
    per_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    crisis = hits = high = high_paged = none = false_any = false_page = 0
    misses, alarms = [], []
    for r, s in zip(rows, results):
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
    return {"recall": hits / crisis, "high_paged": high_paged / high, "false_alarm": false_any / max(none, 1),
            "false_page": false_page / max(none, 1), "per_lang": {k: v[0] / v[1] for k, v in sorted(per_lang.items())},
            "misses": misses, "alarms": alarms, "n": len(rows)}


def families(rows: list[dict], vectors: np.ndarray, similarity: float = 0.84) -> list[int]:
    """A family id per row: the same message in other languages (at most one row per language, one label),
    found by merging the most similar pairs first. Folds keep families whole, so a row is never scored by
    heads that learnt its own translation: that is the situation of a new message, and of the held-out set."""
    n = len(rows)
    family = list(range(n))
    members = {i: {i} for i in range(n)}
    upper = np.triu_indices(n, 1)
    sims = (vectors @ vectors.T)[upper]
    for k in np.argsort(-sims):
        if sims[k] < similarity:
            break
        a, b = family[upper[0][k]], family[upper[1][k]]
        if a == b or rows[upper[0][k]]["label"] != rows[upper[1][k]]["label"] \
                or {rows[i]["lang"] for i in members[a]} & {rows[i]["lang"] for i in members[b]}:
            continue
        for i in members[b]:
            family[i] = a
        members[a] |= members.pop(b)
    return family


def out_of_fold(screener: Screener, folds: int = 10,
                seed: int = 0) -> list[tuple[dict, PhraseResult, Scores | None]]:
    """Every development row with its phrase result and the scores of heads trained without its fold
    (whole families per fold; the exemplar files and command phrases stay in every fold's bank)."""
    from helpline import embeddings
    texts, levels, cats, weights = screener.bank_once()
    vectors = screener.bank_vectors()  # through the lens (helpline.crisis.Lens), as the net reads them
    rows = screener._labelled
    first = len(texts) - len(rows)  # the development rows close the bank
    family = families(rows, embeddings.embed_cached("crisis", texts)[first:])  # translations, in e5's own space
    ids = sorted(set(family))
    random.Random(seed).shuffle(ids)
    held_out: list[list[int]] = [[] for _ in range(folds)]
    for f in sorted(ids, key=lambda f: -family.count(f)):  # biggest families first, into the smallest fold
        min(held_out, key=len).extend(i for i in range(len(rows)) if family[i] == f)
    out: list = [None] * len(rows)
    for held in held_out:
        keep = np.ones(len(texts), dtype=bool)
        keep[[first + i for i in held]] = False
        heads = train_heads(vectors[keep], [v for v, m in zip(levels, keep) if m],
                            [c for c, m in zip(cats, keep) if m], [w for w, m in zip(weights, keep) if m])
        for i in held:
            phrases = screener.phrase_result(rows[i]["text"])
            out[i] = (rows[i], phrases, screener.semantic_scores(semantic_text(phrases, rows[i]["text"]), heads))
    return out


def sweep(records: list, grid_any: list[float], grid_high: list[float], grid_floor: list[float],
          grid_page: list[float], grid_flag: list[float]) -> list[tuple[Thresholds, dict]]:
    rows = [r for r, _p, _s in records]
    return [(t, figures(rows, [decide(p, s, t) for _r, p, s in records]))
            for t in (Thresholds(a, h, f, pm, fm) for a in grid_any for h in grid_high if h >= a
                      for f in grid_floor for pm in grid_page for fm in grid_flag)]


def print_report(name: str, r: dict, detail: bool) -> None:
    print(f"  recall {r['recall']:.3f} (any level); HIGH labels paged {r['high_paged']:.3f}")
    print(f"  false alarms {r['false_alarm']:.3f} (any level); false pages {r['false_page']:.3f}")
    print("  recall per language: " + ", ".join(f"{k} {v:.2f}" for k, v in r["per_lang"].items()))
    print(f"  misses {len(r['misses'])}, false alarms {len(r['alarms'])}")
    if detail:  # never for the held-out set: it is read in aggregate only
        for lang, text in r["misses"]:
            print(f"  missed [{lang}] {text}")
        for lang, level, method, text in r["alarms"]:
            print(f"  false alarm [{lang}] {level}/{method}: {text}")


def everyday(screener: Screener, semantic: bool) -> int:
    """Everyday messages nobody labelled for crisis work: the FAQ and language-detection sets of tests/data
    (questions, greetings, thanks, complaints about a cold room). Some of them do speak of threats,
    nightmares or loneliness, so a MEDIUM flag is not always wrong there; a page from the net is."""
    rows = []
    for name in ("faq_eval.tsv", "lang_eval.tsv", "lang_eval_b.tsv"):
        with open(ROOT / "tests" / "data" / name, encoding="utf-8") as f:
            rows += list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    t = time.perf_counter()
    results = [screener.screen(r["text"], semantic=semantic) for r in rows]
    flagged = sum(s.level is not None for s in results)
    paged = sum(s.level == "high" for s in results)
    print(f"everyday messages (n={len(rows)}, semantic={'on' if semantic else 'off'}, "
          f"{(time.perf_counter() - t) * 1000 / len(rows):.1f} ms/message)")
    print(f"  flagged {flagged / len(rows):.3f} (any level, {flagged}); "
          f"paged {paged / len(rows):.3f} ({paged})")
    return 0


def main() -> int:
    which = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "eval"
    semantic = "--no-semantic" not in sys.argv
    screener_content = load_content()
    screener = Screener(screener_content)
    if which == "cv":
        folds = int(sys.argv[sys.argv.index("--folds") + 1]) if "--folds" in sys.argv else 10
        if "--l2" in sys.argv:
            crisis.L2 = float(sys.argv[sys.argv.index("--l2") + 1])
        if "--faq-weight" in sys.argv:
            crisis.FAQ_WEIGHT = float(sys.argv[sys.argv.index("--faq-weight") + 1])
        records = out_of_fold(screener, folds)
        now = Thresholds()
        r = figures([x[0] for x in records], [decide(p, s, now) for _r, p, s in records])
        print(f"crisis dev set, {folds}-fold cross-validation by message family (n={r['n']}, ridge {crisis.L2}), "
              f"thresholds any {now.any} high {now.high} floor {now.floor}")
        print_report(which, r, "--quiet" not in sys.argv)
        grid = [round(x, 3) for x in np.arange(0.1, 0.96, 0.025)]
        table = sweep(records, grid, grid, [0.1], [-0.02, 0.0, 0.01, 0.02, 9.0], [0.0, 0.02, 0.05, 9.0])
        for paged in (0.0, GOAL_PAGED):
            ok = [(t, f) for t, f in table if f["recall"] >= GOAL_RECALL and f["high_paged"] >= paged
                  and (not paged or min(f["per_lang"].values()) >= GOAL_LANGUAGE)]
            print(f"  fewest false alarms with recall >= {GOAL_RECALL}"
                  + (f", paged >= {paged} and every language >= {GOAL_LANGUAGE}:" if paged else ":"))
            for t, f in sorted(ok, key=lambda x: (x[1]["false_alarm"] + x[1]["false_page"],
                                                  -x[1]["high_paged"]))[:6]:
                print(f"    any {t.any:.3f} high {t.high:.3f} floor {t.floor:.2f} margins {t.page_margin:g} "
                      f"{t.flag_margin:g}: recall {f['recall']:.3f} "
                      f"paged {f['high_paged']:.3f} false alarms {f['false_alarm']:.3f} false pages "
                      f"{f['false_page']:.3f}; lowest language {min(f['per_lang'].values()):.2f}")
        return 0
    if which == "everyday":
        return everyday(screener, semantic)
    t = time.perf_counter()
    if which == "dev3":  # the kinds of it that teach the net (helpline.content.dev3_taught) are not measured
        rows = [r for r in screener_content.crisis_dev3 if not dev3_taught(r["kind"])]
    elif which == "health":  # the kinds whose pairs teach the lens (helpline.content.twins) are not measured
        rows = [r for r in screener_content.crisis_health if not dev3_taught(r["kind"].removesuffix("_twin"))]
    else:
        rows = load(which)
    if which == "dev2":  # the families of it that teach the net (exemplars_lookalike_dev2.yaml) are not measured
        taught = set(screener._exemplars.get("lookalike") or [])
        rows = [r for r in rows if r["text"] not in taught]
    r = evaluate(screener, rows, semantic)
    print(f"crisis {which} set (n={r['n']}, semantic={'on' if semantic else 'off'}, "
          f"{(time.perf_counter() - t) * 1000 / r['n']:.1f} ms/message)")
    print_report(which, r, which != "eval")
    return 0


if __name__ == "__main__":
    sys.exit(main())
