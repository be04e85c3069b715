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

from helpline.content import Content, derived
from helpline.normalise import fold_words, is_arabic_script, is_latin_or_cyrillic, normalise

HIGH_CATEGORIES = ("suicide_self_harm", "violence", "trafficking", "medical", "child_at_risk")
# an embedding score this close to a crisis exemplar, and this far ahead of the nearest look-alike
# the semantic net: two logistic heads over e5 embeddings, trained at start-up on the exemplar bank
# (content/crisis/exemplars.yaml + the labelled development set content/crisis/labelled_dev.tsv)
HEAD_ANY = 0.3      # P(crisis of any level) at or above this -> at least MEDIUM (a human looks first)
HEAD_HIGH = 0.5     # P(high) at or above this -> HIGH (page)
L2 = 1e-3
MIN_SEMANTIC_WORDS = 3
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
    for raw in _folded(phrase).split():
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


def _folded(phrase: str) -> str:
    """The phrase's tokens normalised one by one (`*` and `...` kept), then folded as a whole message is:
    normalise() joins "مي" / "ب" to the next word, so "ځان مې ووژنم" must be matched as "ځان ميووژنم"."""
    return fold_words(" ".join(raw if raw == "..." else normalise(raw.rstrip("*")) + "*" * raw.endswith("*")
                               for raw in phrase.split()))


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
        self._labelled = content.crisis_labelled
        self._commands = sorted({w for per_lang in content.keywords.values() for words in per_lang.values()
                                 for w in words if len(w.split()) >= 3})
        self._semantic: _Heads | None = None

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

    def _bank(self) -> tuple[list[str], list[int], list[str | None]]:
        """(texts, level 2/1/0, category) of the exemplar bank."""
        texts, levels, cats = [], [], []
        for category, sentences in (self._exemplars.get("high") or {}).items():
            for s in sentences or []:
                texts.append(str(s)), levels.append(2), cats.append(category)
        for s in self._exemplars.get("lookalike") or []:
            texts.append(str(s)), levels.append(0), cats.append(None)
        for phrase in self._commands:  # "I want to talk to a person" in every language is not a crisis
            texts.append(phrase), levels.append(0), cats.append(None)
        for row in self._labelled:
            texts.append(row["text"]), levels.append({"high": 2, "medium": 1}.get(row["label"], 0))
            cats.append(row["category"] if row["category"] != "-" else None)
        return texts, levels, cats

    def exemplar_texts(self) -> list[str]:
        return self._bank()[0]

    def _load_semantic(self) -> "_Heads":
        if self._semantic is None:
            from helpline import embeddings
            texts, levels, cats = self._bank()
            vecs = embeddings.embed_cached("crisis", texts)
            y = np.array(levels)
            self._semantic = _Heads(vecs, cats, _train(vecs, (y > 0).astype(float)), _train(vecs, (y == 2).astype(float)),
                                    y)
        return self._semantic

    def screen_semantic(self, text: str) -> Screening:
        if not self.semantic_enabled or not self._exemplars or len(text.split()) < MIN_SEMANTIC_WORDS:
            return NONE  # one or two words ("HELP", "ok") carry too little meaning; the phrase lists decide
        from helpline import embeddings
        heads = self._load_semantic()
        if not len(heads.vectors):
            return NONE
        v = embeddings.embed_one(text[:2000])
        p_any, p_high = heads.any.probability(v), heads.high.probability(v)
        if p_high >= HEAD_HIGH:
            return Screening("high", heads.category(v), p_high, "semantic")
        if p_any >= HEAD_ANY:
            return Screening("medium", heads.category(v), p_any, "semantic")
        return Screening(None, None, p_any, "semantic")

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


@dataclass(frozen=True)
class _Head:
    w: np.ndarray
    b: float

    def probability(self, v: np.ndarray) -> float:
        return float(1.0 / (1.0 + np.exp(-(float(v @ self.w) * _SCALE + self.b))))


_SCALE = 10.0


def _train(x: np.ndarray, y: np.ndarray, iters: int = 3000, lr: float = 0.5) -> _Head:
    """L2-regularised logistic regression by gradient descent: deterministic, numpy only, < 1 s."""
    xs = x.astype(np.float64) * _SCALE
    w, b = np.zeros(x.shape[1]), 0.0
    if not len(y) or y.min() == y.max():
        return _Head(w, -10.0 if not len(y) or y.max() == 0 else 10.0)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(xs @ w + b)))
        g = p - y
        w -= lr * (xs.T @ g / len(y) + L2 * w)
        b -= lr * float(g.mean())
    return _Head(w, b)


@dataclass(frozen=True)
class _Heads:
    vectors: np.ndarray
    cats: list
    any: _Head
    high: _Head
    levels: np.ndarray

    def category(self, v: np.ndarray) -> str:
        """The category of the nearest crisis exemplar."""
        sims = self.vectors @ v
        sims[self.levels == 0] = -2.0
        return self.cats[int(np.argmax(sims))] or "distress"


def _rank(s: Screening) -> int:
    return {"high": 2, "medium": 1}.get(s.level or "", 0)


def describe(s: Screening) -> dict[str, Any]:
    return {"crisis": s.is_crisis, "level": s.level, "category": s.category, "score": round(s.score, 4)}


def shared_screener(content: Content) -> Screener:
    """One compiled screener per loaded content in this process."""
    return derived(content, "screener", Screener)
