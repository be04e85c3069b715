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
from helpline.content import Content, derived

FLOOR = 0.875       # below this similarity the message is not about any entry (chit-chat scores 0.82-0.87)
MARGIN = 0.01       # the best entry must lead the second by this much to be answered at once
TOP_K = 3


@dataclass(frozen=True)
class Candidate:
    entry_id: str
    topic: str
    score: float


@dataclass(frozen=True)
class FaqMatch:
    candidates: list[Candidate]
    lang: str | None = None  # the language of the best entry's nearest phrasing: an Arabizi question -> ar

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
        self.langs: list[str | None] = []
        texts: list[str] = []
        for e in content.faq:
            for q in e.questions:
                self.rows.append((e.id, e.topic))
                self.langs.append(e.lang)
                texts.append(q)
        topics = {e.id: e.topic for e in content.faq}
        for entry_id, questions in content.extra_questions.items():
            langs = content.extra_question_langs.get(entry_id) or []
            for i, q in enumerate(questions):
                self.rows.append((entry_id, topics[entry_id]))
                self.langs.append(langs[i] if i < len(langs) else None)
                texts.append(q)
        self.texts = texts
        self.entries = list(dict.fromkeys(entry_id for entry_id, _ in self.rows))
        self.topic_of = {entry_id: topic for entry_id, topic in self.rows}
        order = {entry_id: i for i, entry_id in enumerate(self.entries)}
        ids = np.array([order[entry_id] for entry_id, _ in self.rows])
        self.groups = [np.flatnonzero(ids == i) for i in range(len(self.entries))]
        self._vectors: np.ndarray | None = None
        self._recent: dict[tuple[str, int], FaqMatch] = {}

    @property
    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            self._vectors = embeddings.embed_cached("faq", self.texts)
        return self._vectors

    def match(self, text: str, top: int = 3) -> FaqMatch:
        key = (text, top)
        hit = self._recent.get(key)
        if hit is None:
            hit = self._recent[key] = self._match(text, top)
            while len(self._recent) > 256:
                self._recent.pop(next(iter(self._recent)))
        return hit

    def _match(self, text: str, top: int) -> FaqMatch:
        if not self.rows or not text.strip():
            return FaqMatch([])
        sims = self.vectors @ embeddings.embed_one(text)
        scores = np.array([_top_mean(sims[g]) for g in self.groups])
        order = np.argsort(-scores)[:top]
        best = self.groups[order[0]]
        lang = self.langs[int(best[np.argmax(sims[best])])]
        return FaqMatch([Candidate(self.entries[i], self.topic_of[self.entries[i]], float(scores[i]))
                         for i in order], lang)


def _top_mean(values: np.ndarray, k: int = TOP_K) -> float:
    """An entry's score: the mean of its k nearest phrasings (steadier than the single nearest)."""
    if len(values) <= k:
        return float(values.mean())
    return float(np.partition(values, -k)[-k:].mean())


def shared_index(content: Content) -> FaqIndex:
    """One index per loaded content in this process."""
    return derived(content, "faq", FaqIndex)
