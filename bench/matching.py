"""Matching waiting contacts to volunteers: time per assignment with 100, 1,000 and 10,000 volunteers
and 5,000 waiting contacts (the selection logic of helpline.matching, in memory).

    python bench/matching.py
"""
from __future__ import annotations

import os
import random
import sys
import time
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from helpline.content import TOPICS  # noqa: E402
from helpline.matching import Candidate, best_volunteer, by_language, speakers  # noqa: E402
from helpline.models import Staff  # noqa: E402

LANGS = ["en", "ar", "fa", "ps", "fr", "uk", "es", "ti", "ru", "tr", "so", "ku"]


def run(n_volunteers: int, n_waiting: int, rng: random.Random) -> tuple[float, int]:
    candidates = [Candidate(Staff(id=i, email=f"v{i}@x", name=f"V{i}", role="volunteer",
                                  languages=rng.sample(LANGS, rng.randint(1, 3)), topics=rng.sample(TOPICS, 2),
                                  max_conversations=rng.randint(1, 4), trained_until=date(2099, 1, 1)),
                            rng.randint(0, 1)) for i in range(n_volunteers)]
    waiting = [(rng.choice(LANGS), rng.choice(TOPICS), rng.random() < 0.3) for _ in range(n_waiting)]
    t = time.perf_counter()
    index = by_language(candidates)
    assigned = 0
    for lang, topic, english in waiting:
        best = best_volunteer(speakers(index, lang, english), lang, topic, english)
        if best is not None:
            best.load += 1
            assigned += 1
    return (time.perf_counter() - t) / max(assigned, 1) * 1000, assigned


def main() -> int:
    rng = random.Random(7)
    base = None
    print("matching 5,000 waiting contacts in queue order; time per assignment made")
    for n in (100, 1000, 10000):
        ms, assigned = run(n, 5000, rng)
        base = base or ms
        print(f"  {n:6d} volunteers: {ms:.3f} ms per assignment, {assigned} assigned; x{ms / base:.1f} the time "
              f"for x{n // 100} the volunteers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
