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
from rapidfuzz.distance import Indel

from helpline.content import HIGH_CATEGORIES as HIGH_CATEGORIES  # what a page names; defined beside the list check
from helpline.content import MARKER_LISTS, Content, derived, twins
from helpline.normalise import fold_words, is_arabic_script, is_latin_or_cyrillic, normalise
# The semantic net: two logistic heads over e5 embeddings and a vote of the nearest bank sentences, trained
# at start-up on the exemplar bank (content/crisis/exemplars*.yaml, the command phrases, every FAQ phrasing,
# and the labelled development set content/crisis/labelled_dev.tsv). The thresholds come from `python
# bench/crisis_eval.py cv`: cross-validation on the development set by message family, fewest false alarms
# with recall >= 0.98, HIGH paged >= 0.9 and recall >= 0.95 in every language; PAGE_MARGIN from
# `bench/crisis_eval.py everyday` as well (docs/PERFORMANCE.md says why).
HEAD_ANY = 0.275     # P(crisis of any level) at or above this -> at least MEDIUM (a human looks first)
HEAD_HIGH = 0.375    # P(high) at or above this -> HIGH (page)
MEDIUM_FLOOR = 0.1   # a MEDIUM phrase in a message the net finds this far from any crisis is not flagged
L2 = 1e-2            # ridge of both heads, chosen by cross-validation (bench/crisis_eval.py cv)
# The heads' verdict stands unless the nearest sentence of the bank is not a HIGH crisis by this much
# (cosine): then the net's HIGH becomes MEDIUM (a person looks first, no page); and its MEDIUM is dropped
# when an everyday sentence is nearer than any crisis by FLAG_MARGIN
PAGE_MARGIN = 0.02
FLAG_MARGIN = 0.02
# Each probability is the mean of the logistic head's and a vote of the KNN_K nearest bank sentences,
# weighted by exp(similarity / KNN_TAU) and by their bank weight. The heads draw one line through the whole
# space; the vote reads the message's own neighbourhood, which a line cannot follow where everyday questions
# and crises sit close. Chosen by cross-validation (k 10-50, tau 0.01-0.05, share of the heads 0 / 0.5 / 0.7):
# alone the vote was worse than the heads, together better. (A small MLP in place of the heads was not.)
KNN_K = 50
KNN_TAU = 0.02
KNN_BLEND = 0.5      # share of the logistic heads in each probability
# The net reads e5 vectors through a lens that stretches, by TWIN_WEIGHT, the TWIN_DIMS directions in which a
# sign of danger differs most from the everyday message of the same words ("my son is throwing up blood" and "my
# son threw up all night after the camp food", content/crisis/health_and_work.tsv): e5-small puts such pairs side
# by side. Chosen by cross-validation with the third development set and the everyday messages in view (dims
# 16-256, weight 0.25-2; docs/PERFORMANCE.md, ninth session).
TWIN_DIMS = 128
TWIN_WEIGHT = 0.5
MIN_SEMANTIC_WORDS = 3
FAQ_WEIGHT = 0.05    # weight of each FAQ phrasing and everyday message (~4,000): bench/crisis_eval.py cv
FUZZY_CUTOFF = 88
# a negator's reach ends at a clause break or at a new subject ("i'm not ok i want to die")
_CLAUSE = re.compile(r"[,.;:!?¡¿،؛።፣፤፥…\n]+")
_SUBJECTS = frozenset({"i", "je", "j", "yo", "я", "ez", "ben", "ana", "انا", "man", "من", "aniga", "زه", "ኣነ"})
RULES = 6  # raise it when the code of the phrase pass or of `decide` changes a verdict: cached verdicts go
NEGATION_BEFORE = 3     # words before a phrase that can negate it
NEGATION_AFTER = 2      # words after it (Persian, Pashto, Turkish, Tigrinya put the negation there)
_ARABIC_CLITIC = "(?:و|ف|ب|ل|ال|وال|فال|بال|لل)?"
# a year ("in 2019"): with the `past` phrases of the lists ("last year", "two years ago"), marks a clause that tells
# of something long ago
_YEAR = re.compile(r"(?<!\S)(?:19[5-9]\d|20[0-4]\d)(?!\S)")
# a few words in quotation marks: 'what does "forced to work" mean on the form?' names a sign, it does not give one
_QUOTED = re.compile(r"[\"“”„«»‹›「」]([^\"“”„«»‹›「」\n]{1,80})[\"“”„«»‹›「」]")


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


def _words(words: Any, fused: bool | None = None, clitic: bool = False) -> re.Pattern | None:
    """Negator words of one language as one full-token regex; `*` stands for any letters. fused=True
    keeps only the endings (`*miyorum`), which also negate the phrase's own last word. clitic=True lets an
    Arabic-script word take "و", "ف", "ب" ... in front, as a phrase's first word does ("وبعد" is "and after")."""
    alts = [("" if not clitic or not is_arabic_script(w) else _ARABIC_CLITIC)
            + ".*".join(re.escape(normalise(part)) for part in w.strip().split("*"))
            for w in words or [] if isinstance(w, str) and w.strip()
            and (fused is None or w.strip().startswith("*") == fused)]
    return re.compile("|".join(f"(?:{a})" for a in alts)) if alts else None


def _typos(length: int) -> int:
    """Letters inserted or dropped (a swap is two) that still count as a typo: one in a short phrase,
    where two already make another word ("меня убивает" / "меня избивает")."""
    return 1 if length < 12 else 2 if length < 24 else 3


def _compile(phrases: list[str]) -> re.Pattern | None:
    rx = [r for r in (_phrase_regex(p) for p in phrases if isinstance(p, str) and p.strip()) if r]
    return re.compile("|".join(f"(?:{r})" for r in rx)) if rx else None


@dataclass(frozen=True)
class _Hit:
    lang: str
    level: str
    category: str
    start: int              # token span in its clause
    end: int
    cut: tuple[int, int] | None = None   # negator and phrase, when negated
    phrase: int = -1        # its number in the index


@dataclass(frozen=True)
class PhraseResult:
    found: Screening        # the strongest phrase that is not negated
    negated: Screening      # the strongest negated one ("I am not suicidal")
    remainder: str          # the message without idioms, negated phrases and their negators
    near: Screening = NONE  # a HIGH phrase a few letters off: counts when the net agrees
    idiom: bool = False     # an idiom or look-alike ("kill time", "my phone died") was cleared
    # a HIGH phrase in a clause that tells of long ago ("my cousin overdosed last year, he is fine now"), or in a
    # message that says someone's threat was a joke: found holds it as MEDIUM; it pages only when the net reads
    # a HIGH crisis too (see `decide`)
    demoted: Screening = NONE
    # when the message tells of the news ("I saw on the news a man drowned, so sad"): its other clauses, which the net
    # reads instead (see `semantic_text`); with too few words there, the net reads it all but cannot page
    news: str | None = None
    joke: bool = False      # the HIGH phrase was held as MEDIUM because the message calls the threat a joke
    # a phrase of the lists' `coercion` (someone else holds the documents, forbids the police, keeps the wages) in a
    # clause that does not tell of long ago or of the news and is not in quotation marks: the net, which reads such a
    # sign as calm, cannot drop it (see `decide`)
    coerced: bool = False


_CLITICS = ("وال", "فال", "بال", "لل", "ال", "و", "ف", "ب", "ل")


class _Index:
    """Phrases by their first word, so that a message is only tried against the few phrases that can start
    at one of its words (one alternation of every phrase took ~15 ms a message; this takes well under 1)."""

    def __init__(self) -> None:
        self.keys: list[tuple[str, str, str]] = []          # (lang, level, category) per phrase
        self.phrases: list[str] = []
        self.literal: dict[str, list[int]] = {}
        self.prefix: dict[int, dict[str, list[int]]] = {}   # length -> prefix -> phrases (`word*` first)
        self.anywhere: list[int] = []                       # phrases that open with `...`
        self._regex: dict[int, re.Pattern | None] = {}

    def add(self, key: tuple[str, str, str], phrase: str) -> int | None:
        """Indexes the phrase; its number, or None for a phrase that matches nothing."""
        raw = _folded(phrase).split()
        if not raw or not _phrase_regex(phrase):
            return None
        i = len(self.phrases)
        self.keys.append(key)
        self.phrases.append(phrase)
        if raw[0] == "...":
            self.anywhere.append(i)
            return i
        first = normalise(raw[0].rstrip("*")).split()
        if raw[0].endswith("*") and len(first) == 1:
            self.prefix.setdefault(len(first[0]), {}).setdefault(first[0], []).append(i)
        else:
            self.literal.setdefault(first[0], []).append(i)
        return i

    def regex(self, i: int) -> re.Pattern | None:
        if i not in self._regex:
            self._regex[i] = _compile([self.phrases[i]])
        return self._regex[i]

    def candidates(self, tokens: list[str]) -> list[int]:
        found: set[int] = set(self.anywhere)
        for token in set(tokens):
            forms = [token]
            if is_arabic_script(token):
                forms += [token[len(c):] for c in _CLITICS if token.startswith(c)]
            for form in forms:
                found.update(self.literal.get(form, ()))
                for length, table in self.prefix.items():
                    if len(form) >= length:
                        found.update(table.get(form[:length], ()))
        return sorted(found)

    def matches(self, text: str) -> list[tuple[tuple[str, str, str], re.Match, int]]:
        """((lang, level, category), match, phrase number) of every phrase found in a normalised text."""
        out = []
        for i in self.candidates(text.split()):
            rx = self.regex(i)
            out.extend((self.keys[i], m, i) for m in (rx.finditer(text) if rx else ()))
        return out


class Screener:
    def __init__(self, content: Content, semantic: bool = True) -> None:
        # phrase lists by (language, level, category): a language may have more than one file (en, en_srl)
        self._lists: dict[tuple[str, str, str], list[str]] = {}
        self.negators: dict[str, tuple[re.Pattern | None, re.Pattern | None, re.Pattern | None]] = {}
        # words after which a negator of the language is a conjunction: Arabic "بعد ما" is "after", not "not"
        self.conjunctions: dict[str, re.Pattern | None] = {}
        # the negators of a language that are words of their own ("pas", "not", "değil"): a phrase that spells one
        # out is a sign with its own negation ("ils m'ont dit de ne pas parler à la police"), which "ne" does not
        # deny (a negator in a phrase's `...` gap is no part of it: "we2e3 3ala raso ... yrod" needs "ma 3am" there)
        self.whole_negators: dict[str, re.Pattern | None] = {}
        marked: dict[str, list[str]] = {key: [] for key in MARKER_LISTS}  # safe, past, joking ... of every language
        coercion: set[tuple[str, str]] = set()  # (lang, phrase)
        for stem, doc in content.crisis.items():
            lang = str(doc.get("lang") or stem)
            neg = doc.get("negators")
            if neg:
                self.negators[lang] = (_words(neg.get("before")), _words(neg.get("after")),
                                       _words(neg.get("after"), fused=True))
                self.conjunctions[lang] = _words(neg.get("except_after"), clitic=True)
                self.whole_negators[lang] = _words([*(neg.get("before") or []), *(neg.get("after") or [])],
                                                   fused=False)
            for level in ("high", "medium"):
                for category, phrases in (doc.get(level) or {}).items():
                    self._lists.setdefault((lang, level, category), []).extend(
                        p for p in phrases or [] if isinstance(p, str))
            for key in MARKER_LISTS:
                marked[key].extend(p for p in doc.get(key) or [] if isinstance(p, str))
            # signs of control by someone else: MEDIUM trafficking phrases that the MEDIUM floor does not drop
            mine = [p for p in doc.get("coercion") or [] if isinstance(p, str)]
            self._lists.setdefault((lang, "medium", "trafficking"), []).extend(mine)
            coercion.update((lang, p) for p in mine)
        self.index = _Index()
        self._coercion = frozenset(coercion)
        self._coercion_ids: set[int] = set()  # the index's numbers of those phrases
        self._holds_negator: dict[int, bool] = {}
        self.fuzzy: dict[int, list[tuple[str, str, str, str]]] = {}
        for (lang, level, category), phrases in self._lists.items():
            for p in phrases:
                i = self.index.add((lang, level, category), p)
                if i is not None and (lang, p) in coercion and (level, category) == ("medium", "trafficking"):
                    self._coercion_ids.add(i)
            for p in phrases if level == "high" else []:
                n = normalise(p)
                if "*" not in p and "..." not in p and len(n) >= 8 \
                        and all(is_latin_or_cyrillic(t) for t in n.split()):
                    self.fuzzy.setdefault(len(n.split()), []).append((n, lang, level, category))
        self.safe, self.past, self.joking, self.mourning, self.news = (
            _compile(marked[key]) for key in MARKER_LISTS)
        self._closed: dict[tuple[str, str, str], re.Pattern | None] = {}
        self._any_negator = re.compile("|".join(f"(?:{rx.pattern})" for trio in self.negators.values()
                                                for rx in trio[:2] if rx) or "(?!)")
        self.semantic_enabled = semantic
        self._exemplars = content.exemplars
        self._labelled = content.crisis_labelled
        self._commands = sorted({w for per_lang in content.keywords.values() for words in per_lang.values()
                                 for w in words if len(w.split()) >= 3})
        self._faq = _faq_exemplars(content)
        self._twins = twins(content.crisis_health)
        self._lens: Lens | None = None
        self._semantic: _Heads | None = None
        self._bank: tuple[list[str], list[int], list[str | None], list[float]] | None = None
        self._fingerprint: str | None = None

    # -- the passes
    def _clear(self, norm: str) -> str:
        return " ".join((self.safe.sub(" ", norm) if self.safe else norm).split())

    def quick_high(self, text: str) -> bool:
        """The exact phrase pass (negation included, no typo pass): cheap enough for the webhook, to route
        a likely crisis past the ordinary queue. The worker still screens fully."""
        result = self.phrase_result(text[:4000], typos=False)
        return result.found.level == "high" or result.demoted.level == "high"

    def screen_phrases(self, text: str) -> Screening:
        return self.phrase_result(text).found

    def phrase_result(self, text: str, typos: bool = True) -> PhraseResult:
        """Phrase lists of every language, clause by clause. A phrase with a negator of its language
        in reach ("I'm not suicidal", "intihar düşüncem yok") does not count on its own; whatever
        else the message says (the remainder) decides."""
        normalised = [normalise(part) for part in _CLAUSE.split(text or "")]
        clauses = [c for c in (self._clear(n) for n in normalised) if c]
        changed = idiom = clauses != [n for n in normalised if n]
        found, negated, demoted = NONE, NONE, NONE
        coerced = False
        quoted = [q for q in (normalise(m.group(1)) for m in _QUOTED.finditer(text or "")) if q]
        kept: list[str] = []
        now: list[str] = []  # the clauses that do not tell of long ago
        then: list[str] = []  # and those that do
        for clause in clauses:
            tokens = clause.split()
            hits = self._hits(clause)
            past = bool(_YEAR.search(clause) or (self.past and self.past.search(clause)))
            now += [] if past else [clause]
            then += [clause] if past else []
            negated_hits = [h for h in hits if h.cut]
            cuts = set()
            for h in hits:
                if h.cut:
                    cuts.update(range(*h.cut))
                    candidate = Screening(h.level, h.category, 0.0, "phrase")
                    negated = candidate if _rank(candidate) > _rank(negated) else negated
                elif not any(n.start < h.end and h.start < n.end and n.cut[0] <= h.start and h.end <= n.cut[1]
                             for n in negated_hits if n.cut):  # the same words, negated in another language
                    candidate = Screening(h.level, h.category, 1.0 if h.level == "high" else 0.6, "phrase")
                    span = " ".join(tokens[h.start:h.end])
                    coerced = coerced or (not past and h.phrase in self._coercion_ids
                                          and not any(span in q for q in quoted)
                                          and not (self.news and self.news.search(clause)))
                    if past and h.level == "high":
                        demoted = demoted if demoted.level else candidate
                        candidate = Screening("medium", h.category, 0.6, "phrase")
                    found = candidate if _rank(candidate) > _rank(found) else found
            kept.append(" ".join(t for i, t in enumerate(tokens) if i not in cuts))
            changed = changed or bool(cuts)
        whole = " ".join(clauses)
        if found.level != "high" and len(clauses) > 1:
            ends, at = [], 0
            for c in clauses[:-1]:
                at += len(c)
                ends.append(at)
                at += 1
            for (_lang, level, category), m, _i in self.index.matches(whole):  # across a comma ("💊, goodbye")
                if _rank(Screening(level, None, 0.0)) > _rank(found) \
                        and any(m.start() < e < m.end() for e in ends):
                    found = Screening(level, category, 1.0 if level == "high" else 0.6, "phrase")
        near = NONE
        if found.level != "high" and typos:
            fuzzy = self._fuzzy(" ".join(now)[:3000])  # not the clauses of long ago: those are read below
            if fuzzy.method == "fuzzy":
                found = fuzzy if _rank(fuzzy) > _rank(found) else found
            else:
                near = fuzzy
                old = self._fuzzy(" ".join(then)[:3000]) if then else NONE
                if old.method == "fuzzy" and old.level == "high":  # "j'ai toussé du sang ... en 2019": held, as exact
                    demoted = demoted if demoted.level else old
                    held = Screening("medium", old.category, 0.6, "fuzzy")
                    found = held if _rank(held) > _rank(found) else found
        joke = found.level == "high" and self._joking(whole)
        if joke or self._mourned(found, whole):
            # a HIGH phrase held as MEDIUM: a person looks, and a page only if the net reads a HIGH crisis too.
            # "my landlord says he'll kill me if I'm late with the rent, he's joking"; "my friend's dad passed
            # away back home, heart attack, she can't go to the funeral"
            demoted, found = found, Screening("medium", found.category, 0.6, found.method)
        remainder = ", ".join(k for k in kept if k) if changed else text or ""
        news = None
        if self.news and self.news.search(whole):
            news = ", ".join(c for c in clauses if not self.news.search(c))
        return PhraseResult(found, negated, remainder, near, idiom, demoted if found.level != "high" else NONE,
                            news, joke, coerced)

    def _holds_own_negator(self, lang: str, phrase: int) -> bool:
        """Whether the phrase's written words (not its `...` gap) hold a negator of its language ("pas parler à la
        police"); computed once a phrase."""
        if phrase not in self._holds_negator:
            own = self.whole_negators.get(lang)
            self._holds_negator[phrase] = bool(own) and any(
                own.fullmatch(t) for t in _folded(self.index.phrases[phrase]).split())
        return self._holds_negator[phrase]

    def _mourned(self, found: Screening, norm: str) -> bool:
        """A HIGH medical phrase in a message that mourns someone (a funeral, condolences, "passed away") tells
        what they died of: no ambulance can help. Not when a HIGH phrase of another category is there too
        ("... and I want to join him"), nor when nobody is mourned ("my mother is not breathing")."""
        return found.level == "high" and found.category == "medical" and bool(self.mourning) \
            and bool(self.mourning.search(norm)) \
            and not any(level == "high" and category != "medical"
                        for (_lang, level, category), _m, _i in self.index.matches(norm))

    def _joking(self, norm: str) -> bool:
        """Someone else's words said to be a joke ("he is joking", "il rigole", "шутит"), not negated ("он не
        шутит"). The lists name the third person only: "I want to die, jk" is no joke here."""
        for m in (self.joking.finditer(norm) if self.joking else ()):
            if not any(self._any_negator.fullmatch(t) for t in norm[:m.start()].split()[-2:]):
                return True
        return False

    def _hits(self, clause: str) -> list[_Hit]:
        tokens = clause.split()
        starts = {0: 0}
        for i, space in enumerate(re.finditer(" ", clause), 1):
            starts[space.end()] = i
        raw = [(lang, level, category, starts[m.start()], len(clause[:m.end()].split()), phrase)
               for (lang, level, category), m, phrase in self.index.matches(clause)]
        spans = {(a, b) for _l, _v, _c, a, b, _p in raw}
        hits = []
        for lang, level, category, a, b, phrase in raw:
            # a negator inside another phrase ("no aguanto más, me voy a matar") is that phrase's own
            taken = {j for x, y in spans if (x, y) != (a, b) for j in range(x, y)}
            before, after, fused = self.negators.get(lang, (None, None, None))
            cut = None
            if self._holds_own_negator(lang, phrase):
                before = after = None  # the phrase holds its own negation: "ne pas parler à la police"
            if before:
                for j in range(a - 1, max(-1, a - 1 - NEGATION_BEFORE), -1):
                    if tokens[j] in _SUBJECTS:
                        break
                    if j not in taken and before.fullmatch(tokens[j]) \
                            and not self._conjunction(lang, tokens, j):
                        cut = (j, b)
                        break
            if after and cut is None:
                for j in range(b - 1, min(len(tokens), b + NEGATION_AFTER)):
                    if (j >= b and j not in taken and after.fullmatch(tokens[j])) or (
                            j == b - 1 and fused and fused.fullmatch(tokens[j])
                            and not self._spelled_out(lang, level, category, " ".join(tokens[a:b]))):
                        cut = (a, j + 1)
                        break
            hits.append(_Hit(lang, level, category, a, b, cut, phrase))
        return hits

    def _conjunction(self, lang: str, tokens: list[str], j: int) -> bool:
        """True when the negator at tokens[j] is part of a conjunction of its language ("بعد ما اكل فستق لسانه
        انتفخ": after he ate pistachios his tongue swelled; "ba3d ma": the same in Arabizi)."""
        rx = self.conjunctions.get(lang)
        return bool(rx and j > 0 and rx.fullmatch(tokens[j - 1]))

    def _spelled_out(self, lang: str, level: str, category: str, span: str) -> bool:
        """True when a phrase of the list spells this span out to its last word ("nefes alamıyorum"):
        then a negative ending is the phrase's own, not a denial of it."""
        key = (lang, level, category)
        if key not in self._closed:
            self._closed[key] = _compile([p for p in self._lists.get(key, []) if not p.rstrip().endswith("*")])
        closed = self._closed[key]
        return bool(closed and closed.fullmatch(span))

    def _fuzzy(self, norm: str) -> Screening:
        """Typos of the longer Latin/Cyrillic HIGH phrases (method "fuzzy"), or a phrase a few more letters
        off ("near": another form of the word, or another word: "me está matando" / "me está atacando").
        A negator of the phrase's language in the window or just before it means no hit ("ez naxwazim xwe
        bikujim" is one letter from "ez dixwazim xwe bikujim")."""
        best = NONE
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
                    phrase, lang, level, category = choices[hit[2]]
                    before, after, _fused = self.negators.get(lang, (None, None, None))
                    start = max(0, i - NEGATION_BEFORE)
                    near = [(t, before) for k, t in enumerate(tokens[start:i], start)
                            if not self._conjunction(lang, tokens, k)]
                    near += [(t, before or after) for t in tokens[i:i + n] if t not in phrase.split()]
                    near += [(t, after) for t in tokens[i + n:i + n + NEGATION_AFTER]]
                    if not any(rx and rx.fullmatch(t) for t, rx in near):
                        if Indel.distance(window, phrase) <= _typos(len(phrase)):
                            return Screening(level, category, hit[1] / 100, "fuzzy")
                        best = best if best.level else Screening(level, category, hit[1] / 100, "near")
        return best

    def bank(self) -> tuple[list[str], list[int], list[str | None], list[float]]:
        """(texts, level 2/1/0, category, weight) of the exemplar bank, each text as the net will read such a
        message (`semantic_text`): "I am not suicidal, I just need a lawyer" is learnt as "i am, i just need a
        lawyer". Learnt whole, such denials taught the net that "I want to kill myself" is no crisis."""
        texts, levels, cats, weights = [], [], [], []
        for category, sentences in (self._exemplars.get("high") or {}).items():
            for s in sentences or []:
                texts.append(str(s)), levels.append(2), cats.append(category), weights.append(1.0)
        everyday = set(self._exemplars.get("everyday") or [])
        for s in self._exemplars.get("lookalike") or []:
            texts.append(str(s)), levels.append(0), cats.append(None)
            weights.append(FAQ_WEIGHT if s in everyday else 1.0)
        for phrase in self._commands:  # "I want to talk to a person" in every language is not a crisis
            texts.append(phrase), levels.append(0), cats.append(None), weights.append(1.0)
        for text, level, category in self._faq:  # the everyday questions (content/crisis/exemplars_faq.yaml)
            texts.append(text), levels.append(level), cats.append(category), weights.append(FAQ_WEIGHT)
        for row in self._labelled:
            texts.append(row["text"]), levels.append({"high": 2, "medium": 1}.get(row["label"], 0))
            cats.append(row["category"] if row["category"] != "-" else None), weights.append(1.0)
        return [self._as_read(t) for t in texts], levels, cats, weights

    def _as_read(self, text: str) -> str:
        if not any(self._any_negator.fullmatch(t) for t in normalise(text).split()):
            return text  # no negator, nothing to cut: most of the bank, and much faster
        return semantic_text(self.phrase_result(text), text)

    def exemplar_texts(self) -> list[str]:
        return self.bank()[0]

    def _load_semantic(self) -> _Heads:
        if self._semantic is None:
            _texts, levels, cats, weights = self.bank_once()
            self._semantic = train_heads(self.bank_vectors(), levels, cats, weights)
        return self._semantic

    def lens(self) -> Lens:
        """The lens the net reads through (TWIN_DIMS), from the taught pairs of health_and_work.tsv."""
        if self._lens is None:
            from helpline import embeddings
            vectors = embeddings.embed_cached("crisis-twins", self.twin_texts())
            self._lens = Lens.of(vectors[0::2], vectors[1::2])
        return self._lens

    def twin_texts(self) -> list[str]:
        """Sign, everyday message, sign, everyday message ... (what `helpline content build` embeds)."""
        return [t for pair in self._twins for t in pair]

    def bank_vectors(self) -> np.ndarray:
        """The bank's e5 vectors through the lens, one row per sentence of `bank_once()`."""
        from helpline import embeddings
        return self.lens()(embeddings.embed_cached("crisis", self.bank_once()[0]))

    def bank_once(self) -> tuple[list[str], list[int], list[str | None], list[float]]:
        """`bank()`, computed once (about 3 s): the heads and the pre-screen (helpline/prescreen.py) learn
        from it."""
        if self._bank is None:
            self._bank = self.bank()
        return self._bank

    @property
    def fingerprint(self) -> str:
        """Names this screener's verdicts: a verdict kept in Redis by another process (workers/screening.py)
        is used only by a process whose screener would say the same (same lists, bank and thresholds)."""
        if self._fingerprint is None:
            import hashlib
            words = sorted((lang, tuple(rx.pattern if rx else None
                                        for rx in (*trio, self.conjunctions.get(lang))))
                           for lang, trio in self.negators.items())  # the words, not just the languages
            h = hashlib.sha256(repr((sorted(self._lists.items()), words,
                                     [rx.pattern if rx else None for rx in (self.safe, self.past, self.joking, self.news,
                                                                              self.mourning)],
                                     sorted(self._coercion),
                                     self.semantic_enabled, Thresholds(), MIN_SEMANTIC_WORDS,
                                     FUZZY_CUTOFF, L2, KNN_K, KNN_TAU, KNN_BLEND, TWIN_DIMS, TWIN_WEIGHT,
                                     RULES)).encode())
            h.update("\x1e".join(self.bank_once()[0] + ["\x1d"] + self.twin_texts()).encode()
                     if self.semantic_enabled else b"")
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint

    def semantic_scores(self, text: str, heads: _Heads | None = None) -> Scores | None:
        """(P(any crisis), P(high), nearest crisis category) of the embedding net; None for one or two
        words ("HELP", "ok"), which carry too little meaning: the phrase lists decide those."""
        if not self.semantic_enabled or not self._exemplars or len(text.split()) < MIN_SEMANTIC_WORDS:
            return None
        from helpline import embeddings
        heads = heads or self._load_semantic()
        if not len(heads.vectors):
            return None
        v = self.lens()(embeddings.embed_one(text[:2000]))
        sims = heads.vectors @ v
        vote_any, vote_high = heads.vote(sims)
        return Scores(KNN_BLEND * heads.any.probability(v) + (1 - KNN_BLEND) * vote_any,
                      KNN_BLEND * heads.high.probability(v) + (1 - KNN_BLEND) * vote_high,
                      heads.category(v, sims), *heads.nearest(sims), heads.category(v, sims, high=True))

    def screen(self, text: str, semantic: bool = True) -> Screening:
        """Phrase lists of every language first; a HIGH phrase pages at once. Otherwise the embedding net has
        the last word on what the phrases leave open (see `decide`)."""
        phrases = self.phrase_result(text or "")
        if phrases.found.level == "high" or not semantic:
            return phrases.found
        return decide(phrases, self.semantic_scores(semantic_text(phrases, text or "")))


# what a FAQ entry taught as MEDIUM is a sign of, for the category the net reports
_FAQ_CATEGORY = {"safety": "violence", "mental_health": "distress", "discrimination": "violence",
                 "children_and_unaccompanied_minors": "child_at_risk", "health": "medical"}


def _faq_exemplars(content: Content) -> list[tuple[str, int, str | None]]:
    """Every FAQ phrasing as (text, level, category): level 0 (an everyday question) unless the entry is
    listed under `faq_medium` (1) or `faq_skip` (left out) in content/crisis/exemplars_faq.yaml."""
    medium = set(content.exemplars.get("faq_medium") or [])
    skip = set(content.exemplars.get("faq_skip") or [])
    topic = {e.id: e.topic for e in content.faq}
    questions: dict[str, list[str]] = {}
    for e in content.faq:
        questions.setdefault(e.id, []).extend(e.questions)
    for entry_id, more in content.extra_questions.items():
        questions.setdefault(entry_id, []).extend(more)
    out: list[tuple[str, int, str | None]] = []
    for entry_id, texts in questions.items():
        if entry_id in skip:
            continue
        level = 1 if entry_id in medium else 0
        category = _FAQ_CATEGORY.get(topic[entry_id], "distress") if level else None
        out.extend((t, level, category) for t in dict.fromkeys(texts))
    return out


def semantic_text(phrases: PhraseResult, text: str) -> str:
    """What the net reads: the message, or when its only phrases are negated ("I'm not suicidal, I just
    need a lawyer") the rest of it, so that a denial is judged on what else the message says; and of a message
    that tells of the news, its other clauses. (Cutting
    idioms out as well made the net worse on the development set: the rest of "je suis crevé après le
    travail" reads to it like a crisis.)"""
    only_negated = phrases.found.level is None and phrases.negated.level is not None
    if only_negated:
        return phrases.remainder
    if phrases.found.level is None and phrases.news and len(phrases.news.split()) >= MIN_SEMANTIC_WORDS:
        return phrases.news  # "I saw on the news ..., I have the pills ready": the net reads what is not news
    return text


@dataclass(frozen=True)
class Scores:
    any: float
    high: float
    category: str
    # cosine similarity of the nearest bank sentence that is a crisis of any level, a HIGH crisis, everyday
    nearest_crisis: float = 0.0
    nearest_high: float = 0.0
    nearest_everyday: float = -1.0
    nearest_not_high: float = -1.0
    high_category: str = ""  # the category of the nearest HIGH crisis: what a page from the net names


@dataclass(frozen=True)
class Thresholds:
    any: float = HEAD_ANY
    high: float = HEAD_HIGH
    floor: float = MEDIUM_FLOOR
    page_margin: float = PAGE_MARGIN
    flag_margin: float = FLAG_MARGIN


def decide(phrases: PhraseResult, net: Scores | None, t: Thresholds = Thresholds()) -> Screening:
    """The level from the phrase pass and the net's scores (pure: the benchmark calibrates `t` with it)."""
    found = phrases.found
    if net is None:
        return found
    if found.level == "high":
        return found
    if phrases.demoted.level and net.high >= t.high:  # the net reads a crisis now, whatever happened last year
        return phrases.demoted
    if phrases.near.level and net.any >= t.any:
        return Screening(phrases.near.level, phrases.near.category, net.any, "fuzzy")
    denied = found.level is None and phrases.negated.level is not None  # "I'm not suicidal, but ...": no page
    # the heads draw one line through the space; next to an everyday question they ask a person, not a page
    everyday_high = net.nearest_not_high - net.nearest_high > t.page_margin
    everyday_any = net.nearest_everyday - net.nearest_crisis > t.flag_margin
    # "I'm bored, I need to kill time": the net reads the idiom's words and asks for a person. With no phrase
    # of distress beside the idiom, the net's MEDIUM is dropped; a HIGH reading still pages. (Reading the
    # message without the idiom instead left "i want to", which the net flags too.) Here in `decide`, not in
    # `Screener.screen`, so that the cross-validation that chooses the thresholds sees the rule too.
    idiom_only = phrases.idiom and found.level is None
    # "I saw on the news that a boy drowned": with no phrase of its own, a message about the news is looked at by a
    # person, never paged by the net alone (it read news of deaths as the deaths themselves, in every language)
    news_only = phrases.news is not None and found.level is None \
        and len(phrases.news.split()) < MIN_SEMANTIC_WORDS
    if net.high >= t.high and not denied and not (everyday_high and idiom_only):
        return Screening("medium" if everyday_high or news_only else "high", net.high_category or net.category,
                         net.high, "semantic")
    if found.level is None and net.any >= t.any and not everyday_any and not idiom_only:
        return Screening("medium", net.category, net.any, "semantic")
    # "the smugglers beat us on the boat in 2021": a story, not a crisis. A threat to kill that someone calls
    # a joke stays flagged however calm the net finds it ("he said he'd kill me and laughed as if it was a
    # joke"): only a person can tell whether it was one. So does a sign of coercion ("they told us not to talk to
    # the police"), which the net, taught on crises told in the first person, reads as calm
    if found.level and net.any < t.floor and not phrases.joke and not phrases.coerced:
        return Screening(None, None, net.any, "semantic")
    return found if found.level else Screening(None, None, net.any, "semantic")


@dataclass(frozen=True)
class Lens:
    """x -> x + weight * B B^T x, made unit length again, where the columns of B are the directions in which signs
    of danger differ most from their everyday twins (the leading eigenvectors of the differences' scatter)."""
    basis: np.ndarray  # (dimension, TWIN_DIMS), orthonormal columns; (dimension, 0) when there are no pairs
    weight: float

    @classmethod
    def of(cls, signs: np.ndarray, everyday: np.ndarray, dims: int | None = None) -> Lens:
        d = np.asarray(signs, dtype=np.float64) - np.asarray(everyday, dtype=np.float64)
        if not len(d):
            return cls(np.zeros((d.shape[1], 0)), TWIN_WEIGHT)
        _values, vectors = np.linalg.eigh(d.T @ d)  # ascending
        return cls(vectors[:, ::-1][:, :TWIN_DIMS if dims is None else dims].copy(), TWIN_WEIGHT)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        y = x + self.weight * (x @ self.basis) @ self.basis.T
        norm = np.linalg.norm(y, axis=-1, keepdims=True)
        return (y / np.where(norm > 0, norm, 1.0)).astype(np.float32)


@dataclass(frozen=True)
class _Head:
    w: np.ndarray
    b: float

    def probability(self, v: np.ndarray) -> float:
        return float(1.0 / (1.0 + np.exp(-(float(v @ self.w) * _SCALE + self.b))))


_SCALE = 10.0


def _train(x: np.ndarray, y: np.ndarray, weight: np.ndarray, iters: int = 50) -> _Head:
    """Weighted, L2-regularised logistic regression by Newton's method: deterministic, numpy only,
    converges in about ten steps (a second or two for a few thousand sentences)."""
    n, d = x.shape
    weight = weight / weight.sum() if len(y) else weight
    if not len(y) or y.min() == y.max():
        return _Head(np.zeros(d), -10.0 if not len(y) or y.max() == 0 else 10.0)
    xs = np.hstack([x.astype(np.float64) * _SCALE, np.ones((n, 1))])
    reg = np.full(d + 1, L2)
    reg[-1] = 1e-8  # the bias is not shrunk
    w = np.zeros(d + 1)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(xs @ w)))
        gradient = xs.T @ (weight * (p - y)) + reg * w
        hessian = (xs.T * (weight * p * (1 - p))) @ xs + np.diag(reg)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return _Head(w[:-1], float(w[-1]))


@dataclass(frozen=True)
class _Heads:
    vectors: np.ndarray
    cats: list
    any: _Head
    high: _Head
    levels: np.ndarray
    weights: np.ndarray

    def vote(self, sims: np.ndarray) -> tuple[float, float]:
        """(share of crises, share of HIGH crises) among the KNN_K nearest bank sentences, each weighted by
        its bank weight and exp(similarity / KNN_TAU): a few close neighbours outweigh many far ones. Same
        vectors, same vote (argpartition has no randomness)."""
        k = min(KNN_K, len(sims))
        if not k:
            return 0.0, 0.0
        idx = np.argpartition(-sims, k - 1)[:k]  # ~50 us for the 5,000 sentences of the bank
        w = np.exp((sims[idx] - sims[idx].max()) / KNN_TAU) * self.weights[idx]
        total = float(w.sum()) or 1.0
        return float(w[self.levels[idx] > 0].sum()) / total, float(w[self.levels[idx] == 2].sum()) / total

    def nearest(self, sims: np.ndarray) -> tuple[float, float, float, float]:
        """Similarity of the nearest crisis (any level), HIGH crisis, everyday and not-HIGH bank sentence."""
        def top(mask: np.ndarray) -> float:
            return float(sims[mask].max()) if mask.any() else -1.0
        return top(self.levels > 0), top(self.levels == 2), top(self.levels == 0), top(self.levels < 2)

    def category(self, v: np.ndarray, sims: np.ndarray | None = None, high: bool = False) -> str:
        """The category of the nearest crisis exemplar (of the nearest HIGH one with `high`: a page names a HIGH
        category, never the "distress" of a MEDIUM exemplar that happens to be nearer)."""
        sims = (self.vectors @ v) if sims is None else sims.copy()
        sims[self.levels < (2 if high else 1)] = -2.0  # the category of the nearest crisis exemplar, never of a question
        return self.cats[int(np.argmax(sims))] or "distress"


def train_heads(vectors: np.ndarray, levels: list[int], cats: list[str | None],
                weights: list[float] | None = None) -> _Heads:
    y = np.array(levels)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    return _Heads(vectors, cats, _train(vectors, (y > 0).astype(float), w),
                  _train(vectors, (y == 2).astype(float), w), y, w)


def _rank(s: Screening) -> int:
    return {"high": 2, "medium": 1}.get(s.level or "", 0)


def describe(s: Screening) -> dict[str, Any]:
    return {"crisis": s.is_crisis, "level": s.level, "category": s.category, "score": round(s.score, 4)}


def shared_screener(content: Content) -> Screener:
    """One compiled screener per loaded content in this process."""
    return derived(content, "screener", Screener)
