"""Language of a contact's message, restricted to the supported languages.

Scripts decide first where they can (Ge'ez is Tigrinya here; Persian and
Pashto letters inside Arabic script; Ukrainian letters inside Cyrillic), then
pycld2 (Apache-2.0, model inside the package, microseconds per message) for
Latin script, then a rule for romanised Arabic and Persian that no library
knows. Short messages are never trusted alone: callers keep the contact's
language unless the result is `confident`.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import pycld2

SUPPORTED = ("en", "ar", "fa", "ps", "fr", "uk", "es", "ti", "ru", "tr", "so", "ku")
_CLD_MAP = {"en": "en", "ar": "ar", "fa": "fa", "ps": "ps", "fr": "fr", "uk": "uk", "es": "es", "ti": "ti",
            "ru": "ru", "tr": "tr", "so": "so", "ku": "ku", "ckb": None, "prs": "fa"}
_PASHTO = set("ټډړږښګڼېۍځڅ")
_PERSIAN = set("پچژگکی")
_UKRAINIAN = set("іїєґ")
_ARABIZI_DIGITS = re.compile(r"[a-z][2356789]|[2356789][a-z]")
_ARABIZI_WORDS = {"ana", "bdi", "bade", "baddi", "3ayez", "3ayz", "mabsout", "shukran", "shokran", "habibi",
                  "inshallah", "wallah", "yalla", "ahlan", "marhaba", "keef", "kifak", "kif", "sho", "shu",
                  "eh", "leh", "mafi", "3ndi", "3andi", "fi", "ma3", "la2", "aywa", "na3am", "mish", "msh",
                  "lesh", "ya3ni", "enta", "enti", "lujoo2", "loujou2"}
_FINGLISH_WORDS = {"salam", "mikham", "mikhay", "chetor", "chetori", "khoobam", "merci", "mamnoon",
                   "kheyli", "khaili", "man", "shoma", "chera", "koja", "kojast", "chi", "mishe", "nemidoonam",
                   "bayad", "daram", "nadaram", "panahandegi", "panahjoo", "komak", "lotfan", "hast", "nist",
                   "mikonam", "konam", "befahmam", "begiram", "doost", "khodam"}
_KURMANJI_CHARS = set("êîûçş")
_KURMANJI_WORDS = {"ez", "tu", "çawa", "dixwazim", "bikujim", "alîkarî", "ji", "kurdî", "spas", "silav",
                   "xwe", "dikim", "heye", "tune", "çi", "kengî", "li", "bi", "ku", "min"}
_SOMALI_WORDS = {"waxaan", "rabaa", "sidee", "maxaan", "caawimaad", "iga", "ma", "haa", "mahadsanid", "salaan",
                 "waan", "ku", "aan", "baan", "waa", "magaalada", "guri", "shaqo", "caruur", "dhakhtar"}


@dataclass(frozen=True)
class Detection:
    lang: str | None
    confidence: float
    confident: bool
    romanised: bool = False


def _letters(text: str) -> str:
    return "".join(ch for ch in text if ch.isalpha())


def detect_language(text: str) -> Detection:
    text = unicodedata.normalize("NFKC", text or "").strip()
    letters = _letters(text)
    if not letters:
        return Detection(None, 0.0, False)
    words = re.findall(r"\w+", text.lower())
    long_enough = len(letters) >= 12 and len(words) >= 2
    scripts = _scripts(letters)
    main = max(scripts, key=scripts.get)  # type: ignore[arg-type]
    if main == "ethiopic":
        return Detection("ti", 0.95, len(letters) >= 2)
    if main == "arabic":
        chars = set(letters)
        if chars & _PASHTO:
            return Detection("ps", 0.9, True)
        if chars & _PERSIAN:
            return Detection("fa", 0.85, long_enough or len(letters) >= 5)
        cld = _cld(text)
        if cld in ("fa", "ps") and long_enough:
            return Detection(cld, 0.8, True)
        return Detection("ar", 0.8, len(letters) >= 4)
    if main == "cyrillic":
        if set(letters.lower()) & _UKRAINIAN:
            return Detection("uk", 0.9, len(letters) >= 4)
        cld = _cld(text)
        if cld == "uk":
            return Detection("uk", 0.8, long_enough)
        return Detection("ru", 0.8, len(letters) >= 6)
    # Latin script: romanised Arabic/Persian first, then small-language hints, then cld2
    lowered = set(words)
    if _ARABIZI_DIGITS.search(text.lower()) or len(lowered & _ARABIZI_WORDS) >= 2:
        return Detection("ar", 0.7, len(words) >= 2, romanised=True)
    if len(lowered & _FINGLISH_WORDS) >= 2:
        return Detection("fa", 0.7, True, romanised=True)
    if len(lowered & _KURMANJI_WORDS) >= 2 or (set(text.lower()) & _KURMANJI_CHARS and
                                               len(lowered & _KURMANJI_WORDS) >= 1):
        return Detection("ku", 0.75, len(words) >= 2)
    if len(lowered & _SOMALI_WORDS) >= 2:
        return Detection("so", 0.75, len(words) >= 2)
    reliable, _, details = _cld_details(text)
    for _name, code, percent, _score in details:
        lang = _CLD_MAP.get(code)
        if lang in SUPPORTED and percent > 0:
            return Detection(lang, percent / 100.0, bool(reliable) and long_enough)
    return Detection(None, 0.0, False)


def _scripts(letters: str) -> dict[str, int]:
    counts = {"latin": 0, "arabic": 0, "cyrillic": 0, "ethiopic": 0, "other": 0}
    for ch in letters:
        name = unicodedata.name(ch, "")
        for script in ("LATIN", "ARABIC", "CYRILLIC", "ETHIOPIC"):
            if name.startswith(script):
                counts[script.lower()] += 1
                break
        else:
            counts["other"] += 1
    return counts


def _cld_details(text: str) -> tuple[bool, int, tuple]:
    try:
        reliable, nbytes, details = pycld2.detect(text, bestEffort=True)
    except pycld2.error:
        cleaned = "".join(ch for ch in text if ch.isprintable())
        try:
            reliable, nbytes, details = pycld2.detect(cleaned, bestEffort=True)
        except pycld2.error:
            return False, 0, ()
    return reliable, nbytes, details


def _cld(text: str) -> str | None:
    _, _, details = _cld_details(text)
    for _name, code, percent, _score in details:
        if percent > 0:
            return _CLD_MAP.get(code)
    return None
