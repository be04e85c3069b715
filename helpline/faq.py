"""Free-text FAQ matching across languages with sentence embeddings.

Every phrasing of every entry in every language is embedded; a message is
matched to the entry of its nearest phrasings. When the best entry is not
clearly ahead of the next, callers offer the top three; below a floor they do
not guess. Lexical matching is kept only for menu numbers and exact keywords
(flows/).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpline import embeddings
from helpline.content import Content

FLOOR = 0.84        # below this similarity the message is not about any entry
MARGIN = 0.015      # the best entry must lead the second by this much to be answered at once


@dataclass(frozen=True)
class Candidate:
    entry_id: str
    topic: str
    score: float


@dataclass(frozen=True)
class FaqMatch:
    candidates: list[Candidate]

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def confident(self) -> bool:
        if not self.candidates or self.candidates[0].score < FLOOR:
            return False
        return len(self.candidates) < 2 or self.candidates[0].score - self.candidates[1].score >= MARGIN

    @property
    def found(self) -> bool:
        return bool(self.candidates) and self.candidates[0].score >= FLOOR


class FaqIndex:
    def __init__(self, content: Content) -> None:
        self.rows: list[tuple[str, str]] = []  # (entry id, topic) per embedded phrasing
        texts: list[str] = []
        for e in content.faq:
            for q in e.questions:
                self.rows.append((e.id, e.topic))
                texts.append(q)
        self.texts = texts
        self._vectors: np.ndarray | None = None

    @property
    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            self._vectors = embeddings.embed_cached("faq", self.texts)
        return self._vectors

    def match(self, text: str, top: int = 3) -> FaqMatch:
        if not self.rows or not text.strip():
            return FaqMatch([])
        sims = self.vectors @ embeddings.embed_one(text)
        best: dict[str, Candidate] = {}
        for i in np.argsort(-sims)[: 60]:
            entry_id, topic = self.rows[i]
            if entry_id not in best:
                best[entry_id] = Candidate(entry_id, topic, float(sims[i]))
        ranked = sorted(best.values(), key=lambda c: -c.score)
        return FaqMatch(ranked[:top])
