"""Flow definitions: YAML files in this folder, checked at start-up."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from helpline.errors import ContentError

HERE = Path(__file__).parent
KINDS: dict[str, dict[str, set[str]]] = {
    # kind: {"required": fields, "optional": fields}
    "message": {"required": {"text"}, "optional": {"next", "wait"}},
    "menu": {"required": {"text", "options"}, "optional": {"on_text"}},
    "faq_search": {"required": {"next", "not_found"}, "optional": {"choices"}},
    "faq_topics": {"required": {"text", "next"}, "optional": {"questions_text"}},
    "feedback": {"required": {"text", "yes", "no"}, "optional": set()},
    "handoff": {"required": set(), "optional": {"text"}},
    "language": {"required": {"text", "next"}, "optional": set()},
    "end": {"required": {"text"}, "optional": {"next"}},
}
NODE_REFS = {"next", "wait", "on_text", "yes", "no"}


@dataclass
class Flow:
    name: str
    start: str
    nodes: dict[str, dict[str, Any]]
    lines: dict[str, int] = field(default_factory=dict)


def _located(path: Path) -> tuple[Any, dict[str, int]]:
    """Loads YAML and remembers the line of each node name."""
    text = path.read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    root = yaml.compose(text)
    lines: dict[str, int] = {}
    if isinstance(root, yaml.MappingNode):
        for k, v in root.value:
            if k.value == "nodes" and isinstance(v, yaml.MappingNode):
                for nk, _nv in v.value:
                    lines[nk.value] = nk.start_mark.line + 1
    return doc, lines


def load_flows(folder: Path = HERE, message_keys: set[str] | None = None) -> dict[str, Flow]:
    problems: list[str] = []
    flows: dict[str, Flow] = {}
    for path in sorted(folder.glob("*.yaml")):
        rel = f"flows/definitions/{path.name}"
        try:
            doc, lines = _located(path)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            problems.append(f"{rel}:{mark.line + 1 if mark else '?'}: invalid YAML: {getattr(e, 'problem', e)}")
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), dict):
            problems.append(f"{rel}:1: needs `start` and a mapping `nodes`")
            continue
        nodes = doc["nodes"]
        start = doc.get("start")
        if start not in nodes:
            problems.append(f"{rel}:1: start: {start!r} is not a node")
        for name, node in nodes.items():
            where = f"{rel}:{lines.get(name, '?')}: {name}"
            if not isinstance(node, dict) or node.get("kind") not in KINDS:
                problems.append(f"{where}: kind: must be one of {', '.join(KINDS)}")
                continue
            spec = KINDS[node["kind"]]
            for f in spec["required"] - node.keys():
                problems.append(f"{where}: {f}: required for a {node['kind']} node")
            for f in node.keys() - spec["required"] - spec["optional"] - {"kind"}:
                problems.append(f"{where}: {f}: unknown field for a {node['kind']} node")
            for f in NODE_REFS & node.keys():
                if node[f] not in nodes:
                    problems.append(f"{where}: {f}: {node[f]!r} is not a node")
            keys = [node[f] for f in ("text", "choices", "not_found", "questions_text") if f in node]
            for i, opt in enumerate(node.get("options") or []):
                if not isinstance(opt, dict) or "label" not in opt or opt.get("goto") not in nodes:
                    problems.append(f"{where}: options[{i}]: needs a label and a goto that names a node")
                else:
                    keys.append(opt["label"])
            if message_keys is not None:
                for k in keys:
                    if k not in message_keys:
                        problems.append(f"{where}: {k!r} is not a key of content/messages/en.yaml")
        flows[path.stem] = Flow(path.stem, start, nodes, lines)
    if problems:
        raise ContentError(problems)
    if "main" not in flows:
        raise ContentError(["flows/definitions/main.yaml: the main flow is missing"])
    return flows


def check_flows(content: Any) -> list[str]:
    try:
        load_flows(message_keys=set(content.messages.get("en", {})))
    except ContentError as e:
        return e.problems
    return []
