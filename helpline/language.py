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


# Very common words of each language (greetings, thanks, yes/no, function words): they decide short
# messages where statistical detectors guess; a detector is still used for longer Latin-script text.
LEXICON: dict[str, set[str]] = {
    "en": {"hi", "hello", "thanks", "thank", "please", "i", "need", "help", "the", "my", "is", "how", "where",
           "what", "can", "you", "yes", "ok", "okay", "do", "to", "a", "and", "have", "am", "want", "get"},
    "fr": {"je", "j", "ai", "besoin", "d", "un", "une", "merci", "oui", "salut", "bonjour", "comprends", "pas",
           "est", "c", "mon", "ma", "les", "des", "pour", "avec", "où", "comment", "beaucoup", "accord",
           "suis", "vous", "et", "le", "la", "du", "au", "quoi", "ne", "il", "elle", "ça", "bonsoir", "s'il"},
    "es": {"sí", "por", "favor", "vale", "como", "cómo", "mi", "el", "los", "las", "dónde",
           "donde", "hola", "gracias", "quiero", "necesito", "ayuda", "qué", "que", "puedo", "tengo", "estoy", "buenos", "días", "y", "con", "para", "una", "es", "muy", "bien", "del", "también"},
    "tr": {"tamam", "evet", "hayır", "hayir", "merhaba", "teşekkür", "tesekkur", "teşekkürler", "nasıl", "nasil",
           "nerede", "ben", "benim", "için", "icin", "var", "yok", "lütfen", "lutfen", "iltica", "başvuru", "ne",
           "zaman", "bir", "bu", "mi", "mı", "sağol", "sagol", "selam", "istiyorum", "yardım", "yardim", "ve"},
    "ku": {"silav", "spas", "gelek", "rojbaş", "rojbas", "baş", "bas", "min", "bibore", "kengê", "kenge", "tê", "ez", "tu", "çawa", "cawa", "heye", "nîne", "nine", "alîkarî",
           "alikari", "dixwazim", "ji", "kurdî", "erê", "ere", "na", "xêr", "xer", "çi", "ci", "kî", "ki", "dikim",
           "bike", "hûn", "hun", "ya", "yê", "wê", "vê", "e", "li", "bi"},
    "so": {"haa", "maya", "mahadsanid", "waan", "waxaan", "rabaa", "sidee", "caawimaad", "salaan", "iska", "warran",
           "nabad", "ma", "ku", "aan", "baan", "waa", "iga", "fadlan", "ii", "qof", "dhakhtar", "guri", "shaqo"},
    "fa": {"ممنون", "مرسي", "مرسی", "ممنونم", "خيلي", "خیلی", "بله", "چطوري", "چطوری", "هستم", "است", "ميخوام",
           "میخوام", "تشكر", "تشکر", "خوبي", "خوبی", "چي", "چی", "كجا", "کجا", "من", "شما", "نه", "ميشه", "میشه"},
    "ps": {"ورور", "مننه", "هو", "ښه", "زه", "ته", "څنګه", "دی", "ده", "یم", "يم", "کړم", "كړم",
           "ستړي", "مه", "شې", "خور", "څه", "کوم", "غواړم", "ولې", "چیرته", "نه"},
    "ar": {"شكرا", "شكراً", "مرحبا", "اهلا", "أهلا", "نعم", "لا", "كيف", "وين", "أين", "اين", "انا", "أنا", "بدي",
           "اريد", "أريد", "من", "في", "على", "هل", "ماذا", "شو", "الله", "يا", "السلام", "عليكم"},
    "uk": {"будь", "ласка", "дякую", "привіт", "що", "як", "так", "мені", "потрібна", "допомога", "добрий", "день",
           "де", "я", "не", "розумію", "і", "це", "можна"},
    "ru": {"спасибо", "пожалуйста", "что", "привет", "как", "да", "мне", "нужна", "помощь", "добрый", "день", "где",
           "я", "не", "понимаю", "и", "это", "можно", "здравствуйте"},
}


def lexicon_vote(words: list[str], candidates: tuple[str, ...]) -> tuple[str | None, int, int]:
    """(language, its hits, the runner-up's hits) among `candidates`."""
    scores = {lang: sum(w in LEXICON[lang] for w in words) for lang in candidates}
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    best, second = ranked[0], ranked[1] if len(ranked) > 1 else (None, 0)
    return (best[0] if best[1] else None), best[1], second[1]


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
        lang, hits, runner = lexicon_vote(words, ("ps", "fa", "ar"))
        if lang in ("ps", "fa") and hits > runner:
            return Detection(lang, 0.8, hits >= 2 or long_enough)
        if chars & _PERSIAN:
            return Detection("fa", 0.85, long_enough or len(letters) >= 5)
        cld = _cld(text)
        if cld in ("fa", "ps") and long_enough:
            return Detection(cld, 0.8, True)
        return Detection("ar", 0.8, len(letters) >= 4)
    if main == "cyrillic":
        if set(letters.lower()) & _UKRAINIAN:
            return Detection("uk", 0.9, len(letters) >= 4)
        lang, hits, runner = lexicon_vote(words, ("uk", "ru"))
        if lang == "uk" and hits > runner:
            return Detection("uk", 0.8, hits >= 2 and long_enough)
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
    tokens = re.findall(r"[\w']+", text.lower())
    tokens = [t for tok in tokens for t in tok.split("'") if t] + tokens
    lex, hits, runner = lexicon_vote(tokens, ("en", "fr", "es", "tr", "ku", "so"))
    lex_sure = lex is not None and hits > runner
    reliable, _, details = _cld_details(text)
    cld = next((_CLD_MAP.get(code) for _n, code, percent, _s in details
                if percent > 0 and _CLD_MAP.get(code) in SUPPORTED), None)
    if lex_sure and (cld is None or not reliable or len(words) <= 4 or hits >= runner + 2) and cld != lex:
        return Detection(lex, 0.7, hits >= 3 and long_enough)
    if cld is not None:
        percent = next((p for _n, code, p, _s in details if _CLD_MAP.get(code) == cld), 0)
        return Detection(cld, percent / 100.0, bool(reliable) and long_enough)
    if lex_sure:
        return Detection(lex, 0.6, False)
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
