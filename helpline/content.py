"""Loads and checks `content/`: messages, keywords, FAQ, emergency numbers, crisis lists.

Content is data only. Every problem is reported with its file and line, so a
translator can fix it without reading code.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import content as content_pkg
from helpline.errors import ContentError

CONTENT_DIR = Path(content_pkg.__file__).parent
TOPICS = ("asylum_procedure", "interview_preparation", "legal_aid", "appeals", "detention", "documents",
          "family_reunification", "housing", "health", "mental_health", "work", "education",
          "money_benefits", "discrimination", "safety", "travel_and_transport",
          "children_and_unaccompanied_minors", "language_classes", "community_and_groups")
MAX_FAQ_ANSWER = 700
MAX_MESSAGE = 1000
COMMANDS = ("menu", "help", "language", "human", "stop", "start", "delete", "yes", "no")


@dataclass
class FaqEntry:
    id: str
    topic: str
    lang: str
    questions: list[str]
    answer: str


@dataclass
class Content:
    languages: list[dict]
    messages: dict[str, dict[str, str]]          # lang -> key -> text
    meta: dict[str, dict[str, Any]]              # lang -> _meta
    keywords: dict[str, dict[str, list[str]]]    # command -> lang -> words
    faq: list[FaqEntry]
    emergency: dict[str, Any]
    crisis: dict[str, dict[str, Any]]            # file stem -> phrase lists
    exemplars: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    extra_questions: dict[str, list[str]] = field(default_factory=dict)  # more phrasings by entry id
    crisis_labelled: list[dict] = field(default_factory=list)  # the development set, part of the exemplar bank
    # the content language each of extra_questions' phrasings is in (ar-Latn -> ar), in the same order
    extra_question_langs: dict[str, list[str]] = field(default_factory=dict)
    crisis_dev3: list[dict] = field(default_factory=list)  # the third development set, all of it (see dev3_taught)
    # content/crisis/health_and_work.tsv: signs of an emergency or of exploitation, each beside an everyday message of
    # the same words, all of it; the pairs of half its kinds (see `twins`) teach the net what tells them apart
    crisis_health: list[dict] = field(default_factory=list)

    @property
    def codes(self) -> list[str]:
        return [lang["code"] for lang in self.languages]

    def direction(self, lang: str | None) -> str:
        return next((x["direction"] for x in self.languages if x["code"] == lang), "ltr")

    def native_name(self, lang: str) -> str:
        return next((x["native"] for x in self.languages if x["code"] == lang), lang)

    def text(self, key: str, lang: str | None, **params: Any) -> str:
        """The text in the contact's language, English when a translation is missing."""
        raw = self.messages.get(lang or "en", {}).get(key) or self.messages["en"].get(key)
        if raw is None:
            raise KeyError(f"no message {key!r} in content/messages/en.yaml")
        return string.Formatter().vformat(raw, (), _Defaulting(params))

    def emergency_for(self, region: str | None) -> dict[str, str]:
        regions = self.emergency.get("regions", {})
        entry = dict(self.emergency.get("default", {"emergency": "112"}))
        entry.update(regions.get((region or "").upper(), {}))
        return {k: str(v) for k, v in entry.items()}

    def faq_entry(self, entry_id: str, lang: str) -> FaqEntry | None:
        best = None
        for e in self.faq:
            if e.id == entry_id:
                if e.lang == lang:
                    return e
                if e.lang == "en":
                    best = e
        return best

    def topic_entries(self, topic: str, lang: str) -> list[FaqEntry]:
        ids = list(dict.fromkeys(e.id for e in self.faq if e.topic == topic))
        return [x for x in (self.faq_entry(i, lang) for i in ids) if x]


_derived: dict[tuple[str, int], tuple[Content, Any]] = {}


def derived(content: Content, name: str, build: Any) -> Any:
    """One object built from `content` per process (a compiled screener, a FAQ index), rebuilt when
    the content is reloaded."""
    hit = _derived.get((name, id(content)))
    if hit is None or hit[0] is not content:
        for key in [k for k in _derived if k[0] == name]:
            del _derived[key]
        hit = _derived[(name, id(content))] = (content, build(content))
    return hit[1]


class _Defaulting(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _load_yaml(path: Path, problems: list[str]) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        problems.append(f"{_rel(path)}{where}: invalid YAML: {getattr(e, 'problem', e)}")
    except OSError as e:
        problems.append(f"{path}: cannot read: {e.strerror}")
    return None


def _line_of(path: Path, needle: str) -> int | None:
    try:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith(needle):
                return i
    except OSError:
        pass
    return None


def _rel(path: Path) -> str:
    """The path from the content folder on, as a translator sees it: content/messages/fr.yaml."""
    parts = path.parts
    idx = max((i for i, part in enumerate(parts) if part == "content"), default=len(parts) - 2)
    return "/".join(parts[idx:])


_cache: dict[tuple, tuple[Content, list[str]]] = {}


def _signature(base: Path) -> tuple:
    files = [*base.rglob("*.yaml"), *base.rglob("*.tsv")]
    return tuple(sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files))


def load_content(base: Path | None = None, strict: bool = True) -> Content:
    """Loads everything (once per process while the files are unchanged); with strict, raises
    ContentError listing every error. The result is shared: treat it as read-only."""
    base = base or CONTENT_DIR
    key = (str(base), _signature(base))
    if key not in _cache:
        _cache.clear()
        _cache[key] = _load(base)
    content, errors = _cache[key]
    if errors and strict:
        raise ContentError(errors)
    return content


def check_content(base: Path | None = None) -> tuple[list[str], list[str]]:
    """(errors, warnings) for `helpline content check`."""
    content, errors = _load(base or CONTENT_DIR)
    return errors, content.warnings


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def _load(base: Path) -> tuple[Content, list[str]]:
    errors: list[str] = []
    warnings: list[str] = []
    langs_doc = _load_yaml(base / "languages.yaml", errors) or {}
    languages = langs_doc.get("languages", []) if isinstance(langs_doc, dict) else []
    codes = [x.get("code") for x in languages if isinstance(x, dict)]

    messages: dict[str, dict[str, str]] = {}
    meta: dict[str, dict[str, Any]] = {}
    for path in sorted((base / "messages").glob("*.yaml")):
        doc = _load_yaml(path, errors)
        if doc is None:
            continue
        if not isinstance(doc, dict):
            errors.append(f"{_rel(path)}: must be a mapping of key: text")
            continue
        meta[path.stem] = doc.pop("_meta", {}) or {}
        if path.stem not in codes:
            errors.append(f"{_rel(path)}: language {path.stem!r} is not in content/languages.yaml")
        for k, v in doc.items():
            if not isinstance(v, str):
                errors.append(f"{_rel(path)}:{_line_of(path, str(k) + ':')}: {k}: must be text")
            elif len(v) > MAX_MESSAGE:
                errors.append(f"{_rel(path)}:{_line_of(path, str(k) + ':')}: {k}: {len(v)} characters, "
                              f"more than {MAX_MESSAGE}")
        messages[path.stem] = {k: v for k, v in doc.items() if isinstance(v, str)}
    reference = messages.get("en", {})
    if not reference:
        errors.append("content/messages/en.yaml: missing; English is the reference catalogue")
    for lang in codes:
        catalogue = messages.get(lang)
        path = base / "messages" / f"{lang}.yaml"
        if catalogue is None:
            warnings.append(f"{_rel(path)}: missing: every text falls back to English")
            continue
        for key in reference:
            if key not in catalogue:
                warnings.append(f"{_rel(path)}: missing translation of {key!r} (English is used)")
            elif set(_PLACEHOLDER.findall(catalogue[key])) != set(_PLACEHOLDER.findall(reference[key])):
                errors.append(f"{_rel(path)}:{_line_of(path, key + ':')}: {key}: placeholders "
                              f"{sorted(set(_PLACEHOLDER.findall(catalogue[key])))} differ from English "
                              f"{sorted(set(_PLACEHOLDER.findall(reference[key])))}")
        for key in catalogue:
            if key not in reference:
                errors.append(f"{_rel(path)}:{_line_of(path, key + ':')}: unknown key {key!r} (not in en.yaml)")
        if meta.get(lang, {}).get("needs_review"):
            warnings.append(f"{_rel(path)}: machine-drafted, needs review by a native speaker")

    keywords_doc = _load_yaml(base / "keywords.yaml", errors) or {}
    if isinstance(keywords_doc, dict):  # YAML 1.1 reads bare yes/no keys as booleans
        keywords_doc = {({True: "yes", False: "no"}.get(k, k) if isinstance(k, bool) else k): v
                        for k, v in keywords_doc.items()}
    keywords: dict[str, dict[str, list[str]]] = {}
    for cmd in COMMANDS:
        per_lang = keywords_doc.get(cmd) if isinstance(keywords_doc, dict) else None
        if not isinstance(per_lang, dict):
            errors.append(f"content/keywords.yaml: command {cmd!r} is missing")
            continue
        keywords[cmd] = {str(k): [str(w) for w in (v or [])] for k, v in per_lang.items()}
        for lang in codes:
            if lang not in per_lang:
                warnings.append(f"content/keywords.yaml: {cmd}: no words for {lang!r}")
    for cmd in (keywords_doc or {}):
        if cmd not in COMMANDS:
            errors.append(f"content/keywords.yaml:{_line_of(base / 'keywords.yaml', str(cmd) + ':')}: "
                          f"unknown command {cmd!r}")

    faq: list[FaqEntry] = []
    seen_ids: set[str] = set()
    covered: set[str] = set()
    for path in sorted((base / "faq").glob("*.yaml")):
        doc = _load_yaml(path, errors)
        if doc is None:
            continue
        topic = doc.get("topic") if isinstance(doc, dict) else None
        if topic not in TOPICS:
            errors.append(f"{_rel(path)}: topic {topic!r} is not one of the CONTRACT topics")
            continue
        for item in doc.get("entries") or []:
            eid = item.get("id") if isinstance(item, dict) else None
            if not isinstance(eid, str) or not eid.startswith(topic + "."):
                errors.append(f"{_rel(path)}: entry id {eid!r} must start with {topic + '.'!r}")
                continue
            if eid in seen_ids:
                errors.append(f"{_rel(path)}:{_line_of(path, '- id: ' + eid)}: duplicate entry id {eid}")
            seen_ids.add(eid)
            for lang in codes:
                tr = item.get(lang)
                if not isinstance(tr, dict):
                    warnings.append(f"{_rel(path)}: {eid}: missing translation {lang!r}")
                    continue
                qs, answer = tr.get("questions"), tr.get("answer")
                if not isinstance(qs, list) or not qs or not all(isinstance(q, str) for q in qs):
                    errors.append(f"{_rel(path)}: {eid}.{lang}.questions: must be a non-empty list of text")
                    continue
                if not isinstance(answer, str) or not answer.strip():
                    errors.append(f"{_rel(path)}: {eid}.{lang}.answer: must be text")
                    continue
                if len(answer) >= MAX_FAQ_ANSWER:
                    errors.append(f"{_rel(path)}: {eid}.{lang}.answer: {len(answer)} characters, "
                                  f"the limit is {MAX_FAQ_ANSWER}")
                faq.append(FaqEntry(eid, topic, lang, [q.strip() for q in qs], answer.strip()))
                covered.add(topic)
            for lang in item:
                if lang != "id" and lang not in codes:
                    errors.append(f"{_rel(path)}: {eid}: unknown language {lang!r}")
    for topic in TOPICS:
        if topic not in covered:
            warnings.append(f"content/faq/{topic}.yaml: no entries for this topic")

    extra_questions: dict[str, list[str]] = {}
    extra_question_langs: dict[str, list[str]] = {}
    extra_files = sorted((base / "faq_romanised").glob("*.yaml")) + sorted((base / "faq_extra").glob("*.yaml"))
    for path in extra_files:
        doc = _load_yaml(path, errors)
        entries = doc.get("entries") if isinstance(doc, dict) else None
        if not isinstance(entries, dict):
            errors.append(f"{_rel(path)}: needs `entries:` mapping entry ids to phrasings")
            continue
        for eid, per_script in entries.items():
            if eid not in seen_ids:
                errors.append(f"{_rel(path)}: {eid}: no such FAQ entry")
                continue
            for script, qs in (per_script or {}).items():
                if not isinstance(qs, list) or not all(isinstance(q, str) for q in qs):
                    errors.append(f"{_rel(path)}: {eid}.{script}: must be a list of text")
                    continue
                extra_questions.setdefault(eid, []).extend(q.strip() for q in qs)
                extra_question_langs.setdefault(eid, []).extend([script.split("-")[0]] * len(qs))

    emergency = _load_yaml(base / "emergency.yaml", errors) if (base / "emergency.yaml").exists() else None
    if emergency is None:
        warnings.append("content/emergency.yaml: missing; 112 is used everywhere")
        emergency = {"default": {"emergency": "112"}, "regions": {}}

    crisis: dict[str, dict[str, Any]] = {}
    exemplars: dict[str, Any] = {}
    for path in sorted((base / "crisis").glob("*.yaml")):
        doc = _load_yaml(path, errors)
        if not isinstance(doc, dict):
            continue
        if path.stem.startswith("exemplars"):  # exemplars.yaml, exemplars_more.yaml ...: one bank
            for category, sentences in (doc.get("high") or {}).items():
                exemplars.setdefault("high", {}).setdefault(category, []).extend(sentences or [])
            exemplars.setdefault("lookalike", []).extend(doc.get("lookalike") or [])
            exemplars.setdefault("lookalike", []).extend(doc.get("everyday") or [])  # weighted as the FAQ is
            exemplars.setdefault("everyday", []).extend(doc.get("everyday") or [])
            for key in ("faq_medium", "faq_skip"):
                exemplars.setdefault(key, []).extend(str(x) for x in doc.get(key) or [])
        else:
            errors.extend(_phrase_list_errors(path, doc))
            crisis[path.stem] = doc
    known = {e.id for e in faq}
    for key in ("faq_medium", "faq_skip"):
        errors.extend(f"content/crisis/exemplars*.yaml: {key}: no FAQ entry {x!r}"
                      for x in exemplars.get(key, []) if x not in known)
    labelled = _labelled_rows(base, "crisis/labelled_dev.tsv", ("lang", "label", "category", "text"), errors)
    # the third development set (content/crisis/dev3/*.tsv): the crisis twins and look-alikes of half its kinds
    # teach the net as the first set does; the other half is only measured (bench/crisis_eval.py dev3)
    dev3: list[dict] = []
    for path in sorted((base / "crisis" / "dev3").glob("*.tsv")):
        dev3 += _labelled_rows(base, path.relative_to(base).as_posix(), ("lang", "label", "category", "kind", "text"),
                               errors)
    labelled += [row for row in dev3 if dev3_taught(row["kind"])]
    health = _labelled_rows(base, "crisis/health_and_work.tsv", ("lang", "label", "category", "kind", "text"), errors)
    return Content(languages, messages, meta, keywords, faq, emergency, crisis, exemplars, warnings,
                   extra_questions, labelled, extra_question_langs, dev3, health), errors


def dev3_taught(kind: str) -> bool:
    """Whether a kind of the third development set (a look-alike and its crisis twin alike) is in the bank."""
    import zlib
    return zlib.crc32(kind.removesuffix("_twin").encode()) % 2 == 0


def twins(rows: list[dict], taught: bool = True) -> list[tuple[str, str]]:
    """(sign, everyday message of the same words) of the kinds of health_and_work.tsv that teach the net: a sign
    (kind `x_twin`) followed by an everyday row of kind `x`. The other kinds (taught=False) are only measured
    (bench/crisis_eval.py health); the same split as the third development set's."""
    return [(a["text"], b["text"]) for a, b in zip(rows, rows[1:])
            if a["label"] != "none" and b["label"] == "none" and a["kind"] == b["kind"] + "_twin"
            and dev3_taught(b["kind"]) == taught]


# the keys of a phrase-list file (content/crisis/<lang>.yaml); helpline/crisis.py reads them and says what each does:
# markers of every language read as one list each, and `coercion`, MEDIUM trafficking phrases read per language
MARKER_LISTS = ("safe", "past", "joking", "mourning", "news")
PHRASE_LISTS = (*MARKER_LISTS, "coercion")
_PHRASE_LEVELS = ("high", "medium")
# what a page names (CONTRACT: escalations); a MEDIUM phrase may also be a sign of "distress"
HIGH_CATEGORIES = ("suicide_self_harm", "violence", "trafficking", "medical", "child_at_risk")
_CRISIS_CATEGORIES = (*HIGH_CATEGORIES, "distress")


def _phrase_list_errors(path: Path, doc: dict) -> list[str]:
    """A key the screener does not read (a typo such as `coersion` would silently drop its phrases), a category it
    does not know, or a phrase that is not a string: content/crisis/<file>: key: what is wrong."""
    where = _rel(path)
    out = [f"{where}: unknown key {key!r}" for key in doc
           if key not in ("lang", "negators", *_PHRASE_LEVELS, *PHRASE_LISTS)]
    lists: list[tuple[str, Any]] = [(key, doc.get(key)) for key in PHRASE_LISTS if key in doc]
    for level in _PHRASE_LEVELS:
        by_category = doc.get(level) or {}
        if not isinstance(by_category, dict):
            out.append(f"{where}: {level}: must map categories to phrase lists")
            continue
        out += [f"{where}: {level}: unknown category {c!r}" for c in by_category if c not in _CRISIS_CATEGORIES]
        lists += [(f"{level}.{c}", v) for c, v in by_category.items()]
    for key, phrases in lists:
        if phrases is not None and not isinstance(phrases, list):
            out.append(f"{where}: {key}: must be a list of phrases")
            continue
        out += [f"{where}: {key}: {p!r} is not a phrase (a string)" for p in phrases or []
                if not isinstance(p, str) or not p.strip()]
    return out


def _labelled_rows(base: Path, name: str, columns: tuple[str, ...], errors: list[str]) -> list[dict]:
    """The rows of the labelled TSV file `name` under `base`; a row with an unknown label or an empty column is
    an error (content/<name>:<line>), not a row."""
    path = base / name
    if not path.exists():
        return []
    import csv
    rows = []
    with open(path, encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 2):
            if row.get("label") not in ("high", "medium", "none") or not all(row.get(c) for c in columns):
                errors.append(f"content/{name}:{i}: needs " + ", ".join(columns)
                              + " (label high|medium|none)")
                continue
            rows.append(row)
    return rows
