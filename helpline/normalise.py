"""Text normalisation shared by crisis screening and keyword matching.

Case (Turkish dotted and dotless i alike), Unicode NFKC, Arabic diacritics and
letter variants, Persian/Arabic yeh and kaf, Ethiopic letter variants, Eastern
digits, elongations; punctuation becomes space and emoji stand as tokens of
their own.
"""
from __future__ import annotations

import re
import unicodedata

_ARABIC_MARKS = re.compile(r"[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640]")
_ARABIC_MAP = str.maketrans({
    "ی": "ي", "ى": "ي", "ئ": "ي", "ې": "ي", "ۍ": "ي", "ك": "ك", "ک": "ك", "ګ": "گ",
    "ة": "ه", "ۀ": "ه", "ە": "ه", "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ؤ": "و",
    "٠": "0", "١": "1", "٢": "2", "٣": "3", "٤": "4", "٥": "5", "٦": "6", "٧": "7", "٨": "8", "٩": "9",
    "۰": "0", "۱": "1", "۲": "2", "۳": "3", "۴": "4", "۵": "5", "۶": "6", "۷": "7", "۸": "8", "۹": "9",
    "\u200c": "", "\u200d": "", "\u200f": "", "\u200e": "",
})
# Ethiopic rows that sound alike and are written interchangeably: map to one row
_ETHIOPIC_ROWS = {0x1210: 0x1200, 0x1280: 0x1200, 0x1220: 0x1230, 0x1340: 0x1338, 0x12D0: 0x12A0}
_ELONGATION = re.compile(r"([^\W\d_])\1{2,}")
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF]")
_PERSIAN_PREFIX = re.compile(r"(?<!\S)(ن?مي|ب) +(?=[\u0600-\u06ff])")
_NON_WORD = re.compile("[^\\w\\s\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF]")


def _ethiopic(ch: str) -> str:
    cp = ord(ch)
    if 0x1200 <= cp <= 0x137F:
        row = cp & ~0x7
        if row in _ETHIOPIC_ROWS:
            return chr(_ETHIOPIC_ROWS[row] + (cp & 0x7))
    return ch


def normalise(text: str) -> str:
    """One space-separated string of tokens, ready for phrase matching."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    text = text.replace("ı", "i").replace("i\u0307", "i")  # Turkish I: "KIZIMI", "KENDİMİ" fold like "kızımı"
    text = _ARABIC_MARKS.sub("", text).translate(_ARABIC_MAP)
    if any("\u1200" <= ch <= "\u137f" for ch in text):
        text = "".join(_ethiopic(ch) for ch in text).replace("\u1361", " ").replace("\u1362", " ")
    text = _EMOJI.sub(lambda m: f" {m.group(0)} ", text)
    text = _NON_WORD.sub(" ", text)
    text = text.replace("_", " ")
    return fold_words(" ".join(text.split()))


def fold_words(text: str) -> str:
    """Elongations collapse and Persian prefixes join ("می خواهم" and "میخواهم" are one word) until
    neither changes anything, so that normalising twice equals normalising once: a join can make an
    elongation ("ب ببب") and a collapse a prefix ("میییی خواهم"). Each change shortens the text."""
    while True:
        folded = _PERSIAN_PREFIX.sub(r"\1", _ELONGATION.sub(r"\1", text))
        if folded == text:
            return text
        text = folded


def is_latin_or_cyrillic(token: str) -> bool:
    return all(("a" <= ch <= "z") or ("\u00c0" <= ch <= "\u024f") or ("\u0400" <= ch <= "\u04ff")
               or ch.isdigit() for ch in token)


def is_arabic_script(token: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in token)
