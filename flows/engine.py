"""The conversation engine: pure. Given the conversation state and one inbound
message it returns the next state and a list of effects; the worker carries
the effects out (sends, hand-off, erasure). No I/O here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from flows.definitions import Flow
from helpline.content import Content
from helpline.normalise import normalise

# -- effects ----------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    key: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SayText:
    text: str


@dataclass(frozen=True)
class Menu:
    """Numbered options (SMS), buttons where the channel has them; labels are message keys or texts."""
    key: str
    options: tuple[tuple[str, str], ...]  # (kind "key" | "text", value)
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SetLanguage:
    lang: str
    confirmed: bool = True


@dataclass(frozen=True)
class RequestHuman:
    pass


@dataclass(frozen=True)
class LeaveMessage:
    text: str


@dataclass(frozen=True)
class SetTopic:
    topic: str


@dataclass(frozen=True)
class Unsubscribe:
    pass


@dataclass(frozen=True)
class Resubscribe:
    pass


@dataclass(frozen=True)
class Erase:
    pass


Effect = Any


@dataclass(frozen=True)
class Turn:
    text: str
    button: str | None = None
    has_media: bool = False
    lang: str | None = None            # the contact's language so far
    detected: str | None = None        # language of this message, when confident
    new_contact: bool = False
    expired: bool = False


@dataclass
class Step:
    state: dict
    effects: list[Effect]


COMMAND_ORDER = ("stop", "start", "delete", "menu", "help", "language", "human")


class Keywords:
    """Global words of every language; exact match of the whole message, phrases for `human`."""

    def __init__(self, content: Content) -> None:
        self.exact: dict[str, str] = {}
        self.phrases: list[tuple[re.Pattern, str]] = []
        for cmd in COMMAND_ORDER + ("yes", "no"):
            for words in content.keywords.get(cmd, {}).values():
                for w in words:
                    n = normalise(w)
                    if n and n not in self.exact:
                        self.exact[n] = cmd
                    if cmd == "human" and len(n.split()) >= 3:
                        self.phrases.append((re.compile(r"(?<!\S)" + re.escape(n) + r"(?!\S)"), cmd))

    def command(self, text: str) -> str | None:
        n = normalise(text)
        n = n[1:] if n.startswith("/") else n
        cmd = self.exact.get(n)
        if cmd in COMMAND_ORDER:
            return cmd
        if len(n) < 200:
            for rx, c in self.phrases:
                if rx.search(n):
                    return c
        return None

    def answer(self, text: str) -> str | None:
        """yes / no, by word or by the menu numbers 1 / 2."""
        n = normalise(text)
        if n in ("1",):
            return "yes"
        if n in ("2",):
            return "no"
        cmd = self.exact.get(n)
        return cmd if cmd in ("yes", "no") else None


class Engine:
    def __init__(self, flows: dict[str, Flow], content: Content,
                 faq_match: Callable[[str], Any]) -> None:
        self.flow = flows["main"]
        self.content = content
        self.keywords = Keywords(content)
        self.faq_match = faq_match

    # -- entry point
    def step(self, state: dict, turn: Turn) -> Step:
        state = dict(state or {})
        effects: list[Effect] = []
        text = (turn.text or "").strip()
        choice = turn.button or text

        command = self.keywords.command(text) if text and not turn.button else None
        if state.get("node") == "_delete_confirm":
            if self.keywords.answer(choice) == "yes":
                return Step({}, [Erase()])
            effects.append(Say("delete_cancelled"))
            back = state.get("back") or {"node": self.flow.start}  # back where they were
            if command == "stop":  # STOP works at any point: no erasure, but no more messages either
                return self._command(command, back, turn, effects)
            return Step(back, effects)

        if turn.new_contact and turn.detected is None and command is None and text and not _is_greeting(text):
            # "emta byenzlo el masari": no detector is sure of Arabizi or Finglish, but the phrasing the FAQ
            # matched confidently says the language; answer the question in it rather than ask for one
            match = self.faq_match(text)
            if match.confident and match.lang in self.content.codes:
                turn = replace(turn, detected=match.lang)
        if turn.new_contact:
            if turn.detected:  # first, so the welcome comes in their language
                effects.append(SetLanguage(turn.detected, confirmed=False))
            effects += [Say("welcome"), Say("privacy")]
            if command in (None, "start", "menu", "help") and turn.detected is None:
                return self._enter("language", {}, effects)
            if command in (None, "start", "menu", "help") and _is_greeting(text):
                return self._enter(self.flow.start, {}, effects)
        if turn.detected and turn.detected != turn.lang and not turn.new_contact and (
                command or state.get("node") != "language"):  # the language menu takes a sentence as a choice
            # they write confidently in another language: answer in it from now on, commands included
            effects.append(SetLanguage(turn.detected, confirmed=False))
        if command:
            return self._command(command, state, turn, effects)
        if turn.expired and not turn.new_contact:
            effects.append(Say("session_expired"))
            if _number(choice) is not None:  # a number meant something in the old context: show the menu
                return self._enter(self.flow.start, {}, effects)
        if turn.new_contact or turn.expired:
            state = {"node": self.flow.start}
        if turn.has_media and not text:
            effects.append(Say("media_unsupported"))
            return Step(state, effects)
        node_name = state.get("node") or self.flow.start
        if node_name not in self.flow.nodes:
            node_name = self.flow.start
        return self._consume(node_name, state.get("data", {}), turn, choice, effects)

    # -- global words
    def _command(self, command: str, state: dict, turn: Turn, effects: list[Effect]) -> Step:
        if command == "stop":
            return Step({"node": self.flow.start}, effects + [Unsubscribe(), Say("stopped")])
        if command == "start":
            effects += [Resubscribe(), Say("resumed")]
            return self._enter(self.flow.start, {}, effects)
        if command == "delete":
            return Step({"node": "_delete_confirm", "back": state}, effects + [Say("delete_confirm")])
        if command == "help":
            return Step(state or {"node": self.flow.start}, effects + [Say("help")])
        if command == "language":
            return self._enter("language", {}, effects)
        if command == "human":
            return self._enter("handoff", {}, effects)
        return self._enter(self.flow.start, {}, effects)

    # -- entering a node produces its prompt and a waiting state
    def _enter(self, name: str, data: dict, effects: list[Effect], quiet: bool = False) -> Step:
        node = self.flow.nodes[name]
        kind = node["kind"]
        if kind == "menu":
            if not quiet:
                effects.append(Menu(node["text"], tuple(("key", o["label"]) for o in node["options"])))
            return Step({"node": name}, effects)
        if kind == "message":
            effects.append(Say(node["text"]))
            if "next" in node:
                return self._enter(node["next"], {}, effects)
            return Step({"node": node.get("wait", self.flow.start)}, effects)
        if kind == "end":
            effects.append(Say(node["text"]))
            return Step({"node": node.get("next", self.flow.start)}, effects)
        if kind == "feedback":
            effects.append(Menu(node["text"], (("key", "option.yes"), ("key", "option.no"))))
            return Step({"node": name}, effects)
        if kind == "faq_topics":
            topics = self._topics()
            effects.append(Menu(node["text"], tuple(("key", f"topic.{t}") for t in topics)))
            return Step({"node": name, "data": {"level": "topics"}}, effects)
        if kind == "language":
            effects.append(Menu(node["text"], tuple(("text", self.content.native_name(c))
                                                    for c in self.content.codes)))
            return Step({"node": name}, effects)
        if kind == "handoff":
            return Step({"node": name}, effects + [RequestHuman()])
        if kind == "faq_search":  # entered without text: wait for the question
            return Step({"node": name}, effects)
        raise ValueError(f"unknown node kind {kind}")

    # -- a waiting node takes the contact's input
    def _consume(self, name: str, data: dict, turn: Turn, choice: str, effects: list[Effect]) -> Step:
        node = self.flow.nodes[name]
        kind = node["kind"]
        number = _number(choice)
        if kind == "menu":
            options = node["options"]
            if number is not None and 1 <= number <= len(options):
                return self._enter(options[number - 1]["goto"], {}, effects)
            if node.get("on_text") and choice and number is None:
                return self._consume(node["on_text"], {}, turn, choice, effects)
            effects.append(Say("not_understood"))
            return self._enter(name, {}, effects)
        if kind == "faq_search":
            return self._faq(name, node, data, turn, choice, number, effects)
        if kind == "faq_topics":
            return self._topics_step(name, node, data, choice, number, turn, effects)
        if kind == "feedback":
            answer = self.keywords.answer(choice)
            if answer == "yes":
                return self._enter(node["yes"], {}, effects)
            if answer == "no":
                if data.get("others") and data.get("search") in self.flow.nodes:
                    return self._offer(data["search"], data["others"], turn, effects)
                return self._enter(node["no"], {}, effects)
            return self._consume("faq_search", {}, turn, choice, effects)
        if kind == "language":
            codes = self.content.codes
            if number is not None and 1 <= number <= len(codes):
                effects += [SetLanguage(codes[number - 1]), Say("language_set")]
                return self._enter(node["next"], {}, effects)
            if turn.detected:
                effects.append(SetLanguage(turn.detected))
                if _is_greeting(choice):
                    return self._enter(node["next"], {}, effects)
                return self._consume(node["next"], {}, turn, choice, effects)
            effects.append(Say("not_understood"))
            return self._enter(name, {}, effects)
        if kind == "handoff":
            # waiting for a person: the worker decides (out-of-hours options, leave a message)
            return Step({"node": name, "data": data}, effects + [LeaveMessage(choice)] if choice else effects)
        return self._enter(self.flow.start, {}, effects)

    def _faq(self, name: str, node: dict, data: dict, turn: Turn, choice: str, number: int | None,
             effects: list[Effect]) -> Step:
        offered = data.get("offered") or []
        if offered and number is not None:
            if 1 <= number <= len(offered):
                return self._answer(offered[number - 1], node, turn, effects)
            if number == len(offered) + 1:
                return self._enter("handoff", {}, effects)
        if not choice or number is not None:
            effects.append(Say("not_understood"))
            return self._enter(self.flow.start, {}, effects)
        match = self.faq_match(choice)
        if match.confident:
            return self._answer(match.best.entry_id, node, turn, effects)
        if match.found:
            # the best entry is right about five times in six even when the next is close: answer it at once
            # (a round trip costs the contact credit) and keep the others for a "no, it did not help"
            others = [c.entry_id for c in match.candidates[1:3]] if node.get("choices") else []
            return self._answer(match.best.entry_id, node, turn, effects, others, name)
        effects.append(Say(node["not_found"]))
        return Step({"node": self.flow.start}, effects)

    def _answer(self, entry_id: str, node: dict, turn: Turn, effects: list[Effect],
                others: list[str] | None = None, search: str = "") -> Step:
        lang = turn.detected or turn.lang or "en"
        entry = self.content.faq_entry(entry_id, lang)
        if entry is None:
            effects.append(Say("faq_not_found"))
            return Step({"node": self.flow.start}, effects)
        effects += [SetTopic(entry.topic), SayText(entry.answer)]
        step = self._enter(node["next"], {}, effects)
        if others and self.flow.nodes[step.state["node"]]["kind"] == "feedback":
            step = Step({**step.state, "data": {"others": others, "search": search}}, step.effects)
        return step

    def _offer(self, search: str, ids: list[str], turn: Turn, effects: list[Effect]) -> Step:
        """The other likely answers as a numbered menu, and a person as the last option."""
        node = self.flow.nodes[search]
        lang = turn.detected or turn.lang or "en"
        labels = [("text", self._question(i, lang)) for i in ids] + [("key", "option.none_of_these")]
        effects.append(Menu(node["choices"], tuple(labels)))
        return Step({"node": search, "data": {"offered": ids}}, effects)

    def _question(self, entry_id: str, lang: str) -> str:
        entry = self.content.faq_entry(entry_id, lang)
        return entry.questions[0] if entry else entry_id

    def _topics(self) -> list[str]:
        return list(dict.fromkeys(e.topic for e in self.content.faq))

    def _topics_step(self, name: str, node: dict, data: dict, choice: str, number: int | None,
                     turn: Turn, effects: list[Effect]) -> Step:
        lang = turn.lang or "en"
        if data.get("level") == "questions":
            ids = data.get("ids", [])
            if number is not None and 1 <= number <= len(ids):
                return self._answer(ids[number - 1], node, turn, effects)
        else:
            topics = self._topics()
            if number is not None and 1 <= number <= len(topics):
                entries = self.content.topic_entries(topics[number - 1], lang)
                ids = [e.id for e in entries]
                effects.append(SetTopic(topics[number - 1]))
                effects.append(Menu(node.get("questions_text", node["text"]),
                                    tuple(("text", e.questions[0]) for e in entries)))
                return Step({"node": name, "data": {"level": "questions", "ids": ids}}, effects)
        if choice and number is None:
            return self._consume("faq_search", {}, turn, choice, effects)
        effects.append(Say("not_understood"))
        return self._enter(name, {}, effects)


_GREETINGS = {"hi", "hello", "hey", "salam", "salaam", "مرحبا", "سلام", "السلام عليكم", "bonjour", "salut",
              "hola", "привет", "привіт", "merhaba", "selam", "silav", "nabad", "ሰላም", "start", "hallo",
              "good morning", "good evening", "slm", "سلام عليكم", "اهلا", "hi there"}


def _is_greeting(text: str) -> bool:
    n = normalise(text).lstrip("/")
    return not n or n in {normalise(g) for g in _GREETINGS} or len(n.split()) <= 1 and len(n) <= 8


def _number(text: str) -> int | None:
    t = normalise(text)
    return int(t) if t.isdecimal() and len(t) <= 3 else None
