"""A pre-screen that costs a fraction of a millisecond: which new messages the screening stage looks at first.

Naive Bayes log-count ratios of hashed character 3- to 5-grams, learnt at start-up from the crisis screener's
own bank (HIGH crises against everything else). It decides nothing: every message is still screened in full
(phrase lists, typo pass, e5 net) before any other step, by the screening stage or by the worker that
processes it. It only orders the screening stage's queue (workers/screening.py), so that under a backlog a
message that reads like a crisis is embedded and screened within a second, ahead of ordinary traffic.
"""
from __future__ import annotations

import numpy as np

from helpline.content import Content, derived
from helpline.normalise import normalise

BITS = 18            # 262,144 buckets, 1 MB of float32: collisions are rare enough for an ordering
GRAMS = (3, 4, 5)
MAX_CHARS = 600
ALPHA = 0.5          # additive smoothing of the document frequencies
TOP = 15             # the score is the mean of the message's 15 most crisis-like n-grams


def _buckets(text: str) -> np.ndarray:
    """The message's distinct n-grams (of the normalised text, padded with spaces), as bucket numbers.
    Python's string hash is salted per process; the weights are learnt in the same process."""
    t = f" {normalise(text[:MAX_CHARS])} "
    grams = {t[i:i + n] for n in GRAMS for i in range(len(t) - n + 1)}
    mask = (1 << BITS) - 1
    return np.fromiter((hash(g) & mask for g in grams), dtype=np.int64, count=len(grams))


class PreScreen:
    def __init__(self, texts: list[str], high: list[bool]) -> None:
        pos = np.zeros(1 << BITS, dtype=np.float32)
        neg = np.zeros(1 << BITS, dtype=np.float32)
        for text, is_high in zip(texts, high):
            (pos if is_high else neg)[_buckets(text)] += 1.0
        n_pos, n_neg = max(1, sum(high)), max(1, len(high) - sum(high))
        self.weights = (np.log((pos + ALPHA) / (n_pos + 2 * ALPHA)) -
                        np.log((neg + ALPHA) / (n_neg + 2 * ALPHA))).astype(np.float32)
        self.weights[(pos + neg) == 0] = 0.0  # an n-gram never seen says nothing

    def score(self, text: str) -> float:
        """Higher reads more like a HIGH crisis of the bank: the mean of the message's TOP most crisis-like
        n-grams, so that a crisis inside a long everyday message still stands out and a long message is not
        ranked up for its length. Comparable only within one process."""
        w = self.weights[_buckets(text or "")]
        if len(w) > TOP:
            w = np.partition(w, -TOP)[-TOP:]
        return float(w.mean()) if len(w) else 0.0


def _build(content: Content) -> PreScreen:
    from helpline.crisis import shared_screener
    texts, levels, _cats, _weights = shared_screener(content).bank_once()
    return PreScreen(texts, [level == 2 for level in levels])


def shared_prescreen(content: Content) -> PreScreen:
    return derived(content, "prescreen", _build)
