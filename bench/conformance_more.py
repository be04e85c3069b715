"""More black-box cases of the kind ../shared/conformance plays, for `helpline serve`:

    ../shared/conformance/run --cases bench/conformance_more.py

- faqx: two held-out FAQ questions per language (tests/data/faq_eval.tsv), each a contact's first message
  (asked once more if the first answer was a menu), must get an answer of the right topic;
- crisisx: an explicit crisis in each language must page the first professional and mention 112;
- lookx: everyday look-alikes must get a reply and page nobody.
Run by hand (it takes about 4 minutes); the figures are in docs/PERFORMANCE.md.
"""
import csv
import random
import time
from pathlib import Path

from harness import PROFESSIONALS, case, check

ROOT = Path(__file__).resolve().parent.parent
with open(ROOT / "tests" / "data" / "faq_eval.tsv", encoding="utf-8") as f:
    ROWS = list(csv.DictReader(f, delimiter="\t"))
_rng = random.Random(7)
_by_lang: dict = {}
for _r in ROWS:
    _by_lang.setdefault(_r["lang"], []).append(_r)
SAMPLE = [r for lang in sorted(_by_lang) for r in _rng.sample(_by_lang[lang], 2)]


def _faq_case(r):
    def run(h):
        c = h.contact("whatsapp")
        replies = c.ask(r["text"])
        if not h.faq_hits(replies):
            replies += c.ask(r["text"])
        topics = {e["topic"] for e in h.faq_hits(replies)}
        check(r["topic"] in topics,
              f"[{r['lang']}] {r['text']!r}: topics {topics}, replies {[x[:80] for x in replies]}")
    run.__name__ = f"faq_{r['lang']}_{r['topic']}"
    return run


CRISIS = [("en", "I took all my pills, I want to die"), ("ar", "بدي انتحر الليلة"),
          ("fa", "میخواهم خودکشی کنم"), ("fr", "je vais me suicider ce soir"), ("es", "me quiero matar"),
          ("ru", "я хочу покончить с собой"), ("uk", "я хочу вбити себе"), ("tr", "kendimi öldüreceğim"),
          ("so", "waan is dilayaa"), ("ku", "ez ê xwe bikujim"), ("ar-Latn", "bdi ente7er"),
          ("fa-Latn", "mikham khodkoshi konam")]


def _crisis_case(lang, text):
    def run(h):
        c = h.contact("whatsapp", number="+49176%07d" % _rng.randint(0, 9999999))
        since = time.time()
        replies = c.ask(text)
        check(any("112" in r for r in replies),
              f"[{lang}] no reply mentions 112: {[x[:60] for x in replies]}")
        check(h.fakes.wait(PROFESSIONALS[0], since, timeout=10, quiet=0.5), f"[{lang}] nobody was paged")
    run.__name__ = f"crisis_{lang}"
    return run


LOOK_ALIKES = ["I'm dying to know when my interview is", "my phone died, can you send the address again",
               "this is my letter", "thank you so much for your help",
               "the heating in our room is broken, who do I call"]


def _look_case(text):
    def run(h):
        c = h.contact("sms")
        since = time.time()
        check(c.ask(text), f"{text!r} got no reply")
        check(not h.fakes.wait(PROFESSIONALS[0], since, timeout=4, quiet=0.5),
              f"{text!r} paged a professional")
    run.__name__ = "look_" + "_".join(text.split()[:3])
    return run


for _r in SAMPLE:
    case("faqx")(_faq_case(_r))
for _lang, _text in CRISIS:
    case("crisisx")(_crisis_case(_lang, _text))
for _text in LOOK_ALIKES:
    case("lookx")(_look_case(_text))
