"""Crisis screening: phrase lists of every language on every message, a
typo-tolerant pass, and an embedding safety net.

Screening is never gated on language detection: a wrong guess must not hide a
crisis. HIGH pages a professional and stops automation; MEDIUM puts the
conversation at the front of the volunteer queue without a page.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process

from helpline.content import Content
from helpline.normalise import is_arabic_script, is_latin_or_cyrillic, normalise

HIGH_CATEGORIES = ("suicide_self_harm", "violence", "trafficking", "medical", "child_at_risk")
# an embedding score this close to a crisis exemplar, and this far ahead of the nearest look-alike
SEMANTIC_HIGH = 0.935
SEMANTIC_MEDIUM = 0.92
SEMANTIC_MARGIN = 0.01
FUZZY_CUTOFF = 88
_NEGATORS = {"not", "no", "never", "dont", "don", "doesn", "didn", "isnt", "isn", "wasnt", "wasn", "nor", "pas", "jamais", "nunca", "не", "ні",
             "ne", "nie", "nicht", "kein", "ma", "naxwazim", "نه", "لا", "ما", "مش", "no", "yok"}
# negation after the phrase (Persian, Pashto, Turkish, Somali, Kurmanji put it there)
_NEGATORS_AFTER = {"ندارم", "نيستم", "نيست", "نه", "نميخوام", "نميخواهم", "نغواړم", "yok", "değil", "degil",
                   "istemiyorum", "nadaram", "nemikham", "nistam", "naxwazim", "doonayo", "ма", "не"}
_ARABIC_CLITIC = "(?:و|ف|ب|ل|ال|وال|فال|بال|لل)?"


@dataclass(frozen=True)
class Screening:
    level: str | None       # "high" | "medium" | None
    category: str | None
    score: float
    method: str = ""        # phrase | fuzzy | semantic

    @property
    def is_crisis(self) -> bool:
        return self.level == "high"


NONE = Screening(None, None, 0.0)


def _phrase_regex(phrase: str) -> str | None:
    """Token sequence -> regex over normalised text; `word*` is a prefix, `...` up to 3 tokens."""
    parts: list[str] = []
    for raw in phrase.split():
        if raw == "...":
            parts.append(r"(?:\S+ ){0,3}")
            continue
        star = raw.endswith("*")
        tokens = normalise(raw.rstrip("*")).split()
        for j, tok in enumerate(tokens):
            body = re.escape(tok) + (r"\S*" if star and j == len(tokens) - 1 else "")
            if not parts and is_arabic_script(tok):
                body = _ARABIC_CLITIC + body
            parts.append(body + " ")
    while parts and parts[-1].startswith("(?:\\S+"):
        parts.pop()
    if not parts or all(p.startswith("(?:\\S+") for p in parts):
        return None
    return "(?<!\\S)" + "".join(parts)[:-1] + "(?!\\S)"


def _compile(phrases: list[str]) -> re.Pattern | None:
    rx = [r for r in (_phrase_regex(p) for p in phrases if isinstance(p, str) and p.strip()) if r]
    return re.compile("|".join(f"(?:{r})" for r in rx)) if rx else None


class Screener:
    def __init__(self, content: Content, semantic: bool = True) -> None:
        lists: dict[tuple[str, str], list[str]] = {}
        safe: list[str] = []
        for doc in content.crisis.values():
            for level in ("high", "medium"):
                for category, phrases in (doc.get(level) or {}).items():
                    lists.setdefault((level, category), []).extend(p for p in phrases or [] if isinstance(p, str))
            safe.extend(p for p in doc.get("safe") or [] if isinstance(p, str))
        self.patterns: list[tuple[str, str, re.Pattern]] = []
        for level in ("high", "medium"):
            for (lv, category), phrases in lists.items():
                if lv == level:
                    pattern = _compile(phrases)
                    if pattern:
                        self.patterns.append((level, category, pattern))
        self.safe = _compile(safe)
        self.high_any = _compile([p for (lv, _c), ps in lists.items() if lv == "high" for p in ps])
        self.fuzzy: dict[int, list[tuple[str, str, str]]] = {}
        for (level, category), phrases in lists.items():
            for p in phrases:
                n = normalise(p)
                if level == "high" and "*" not in p and "..." not in p and len(n) >= 8 \
                        and all(is_latin_or_cyrillic(t) for t in n.split()):
                    self.fuzzy.setdefault(len(n.split()), []).append((n, level, category))
        self.semantic_enabled = semantic
        self._exemplars = content.exemplars
        self._semantic: tuple[np.ndarray, list[str], np.ndarray] | None = None

    # -- the passes
    def quick_high(self, text: str) -> bool:
        """One regex over every language's HIGH phrases: cheap enough for the webhook, to route
        a likely crisis past the ordinary queue. The worker still screens fully."""
        norm = normalise(text[:4000])
        if self.safe:
            norm = " ".join(self.safe.sub(" ", norm).split())
        return bool(self.high_any and self.high_any.search(norm))

    def screen_phrases(self, text: str) -> Screening:
        norm = normalise(text)
        if not norm:
            return NONE
        cleared = self.safe.sub(" ", norm) if self.safe else norm
        cleared = " ".join(cleared.split())
        found: Screening = NONE
        for level, category, pattern in self.patterns:
            for m in pattern.finditer(cleared):
                before = cleared[: m.start()].split()[-3:]
                after = cleared[m.end():].split()[:2]
                negated = any(w in _NEGATORS for w in before) or any(w in _NEGATORS_AFTER for w in after)
                hit_level = "medium" if (negated and level == "high") else level
                candidate = Screening(hit_level, category, 1.0 if hit_level == "high" else 0.6, "phrase")
                if _rank(candidate) > _rank(found):
                    found = candidate
                if found.level == "high":
                    return found
        fuzzy = self._fuzzy(cleared[:3000])
        return fuzzy if _rank(fuzzy) > _rank(found) else found

    def _fuzzy(self, norm: str) -> Screening:
        tokens = norm.split()
        for n, choices in self.fuzzy.items():
            if len(tokens) < n:
                continue
            strings = [c[0] for c in choices]
            for i in range(len(tokens) - n + 1):
                window = " ".join(tokens[i:i + n])
                if not is_latin_or_cyrillic(window.replace(" ", "")):
                    continue
                hit = process.extractOne(window, strings, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
                if hit:
                    before = tokens[max(0, i - 3):i]
                    _, level, category = choices[hit[2]]
                    if any(w in _NEGATORS for w in before):
                        return Screening("medium", category, hit[1] / 100, "fuzzy")
                    return Screening(level, category, hit[1] / 100, "fuzzy")
        return NONE

    def _exemplar_rows(self) -> tuple[list[str], list[str], list[str]]:
        texts, cats = [], []
        for category, sentences in (self._exemplars.get("high") or {}).items():
            for s in sentences or []:
                texts.append(str(s))
                cats.append(category)
        return texts, cats, [str(s) for s in self._exemplars.get("lookalike") or []]

    def exemplar_texts(self) -> list[str]:
        texts, _, look = self._exemplar_rows()
        return texts + look

    def _load_semantic(self) -> tuple[np.ndarray, list[str], np.ndarray]:
        if self._semantic is None:
            from helpline import embeddings
            texts, cats, look = self._exemplar_rows()
            vecs = embeddings.embed_cached("crisis", texts + look)
            self._semantic = (vecs[: len(texts)], cats, vecs[len(texts):])
        return self._semantic

    def screen_semantic(self, text: str) -> Screening:
        if not self.semantic_enabled or not self._exemplars or not text.strip():
            return NONE
        from helpline import embeddings
        crisis_vecs, cats, look_vecs = self._load_semantic()
        if not len(crisis_vecs):
            return NONE
        v = embeddings.embed_one(text[:2000])
        sims = crisis_vecs @ v
        i = int(np.argmax(sims))
        best = float(sims[i])
        look = float(np.max(look_vecs @ v)) if len(look_vecs) else 0.0
        if best - look < SEMANTIC_MARGIN:
            return Screening(None, None, best, "semantic")
        if best >= SEMANTIC_HIGH:
            return Screening("high", cats[i], best, "semantic")
        if best >= SEMANTIC_MEDIUM:
            return Screening("medium", cats[i], best, "semantic")
        return Screening(None, None, best, "semantic")

    def screen(self, text: str, semantic: bool = True) -> Screening:
        """Phrase lists first (every language), then the embedding net if nothing high was found."""
        found = self.screen_phrases(text or "")
        if found.level == "high" or not semantic:
            return found
        net = self.screen_semantic(text or "")
        if _rank(net) > _rank(found):
            return net
        if found.level is None:
            return Screening(None, None, net.score, net.method)
        return found


def _rank(s: Screening) -> int:
    return {"high": 2, "medium": 1}.get(s.level or "", 0)


def describe(s: Screening) -> dict[str, Any]:
    return {"crisis": s.is_crisis, "level": s.level, "category": s.category, "score": round(s.score, 4)}


_shared: dict[int, tuple[Content, Screener]] = {}


def shared_screener(content: Content) -> Screener:
    """One compiled screener per loaded content in this process."""
    hit = _shared.get(id(content))
    if hit is None or hit[0] is not content:
        _shared.clear()
        hit = _shared[id(content)] = (content, Screener(content))
    return hit[1]
